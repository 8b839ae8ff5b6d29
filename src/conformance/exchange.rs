//! The kit's side of the wire: every request it sends and the answer it gets, kept as an
//! [`Exchange`] (redacted as it is recorded) for the report's evidence, and handed back raw as a
//! [`Reply`] for the checks.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde_json::Value;

use super::redact;

/// A body as kept in evidence.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Body {
    Json(Value),
    Text(String),
    /// Neither JSON nor UTF-8 text: its size and SHA-256 only.
    Binary {
        bytes: usize,
        sha256: String,
    },
}

/// One request and its answer, redacted.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Exchange {
    /// Numbered from 1 in the order sent, over the whole run.
    pub n: u32,
    pub test: String,
    pub method: String,
    pub url: String,
    pub request_headers: Vec<(String, String)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_body: Option<Body>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    pub response_headers: Vec<(String, String)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_body: Option<Body>,
    pub sent_at: DateTime<Utc>,
    pub duration_ms: u64,
    /// Why no answer came (refused, timed out, reset).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// A request the system under test sent to the kit (a webhook), not one the kit sent.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub received: bool,
}

impl Exchange {
    /// `GET /v1/forms → 200`, for messages.
    pub fn summary(&self) -> String {
        let path = Url::parse(&self.url)
            .map(|u| match u.query() {
                Some(q) => format!("{}?{q}", u.path()),
                None => u.path().to_owned(),
            })
            .unwrap_or_else(|_| self.url.clone());
        match self.status {
            Some(status) => format!("{} {path} → {status}", self.method),
            None => format!("{} {path} → no answer", self.method),
        }
    }
}

/// What a request carries.
#[derive(Debug, Clone)]
pub enum Payload {
    None,
    Json(Value),
    Form(Vec<(String, String)>),
    Raw {
        content_type: String,
        bytes: Vec<u8>,
    },
}

/// A request the kit sends; `path` is relative to the base URL unless it is absolute.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: Method,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub payload: Payload,
}

impl Req {
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            headers: Vec::new(),
            payload: Payload::None,
        }
    }
    pub fn get(path: impl Into<String>) -> Self {
        Self::new(Method::GET, path)
    }
    pub fn post(path: impl Into<String>) -> Self {
        Self::new(Method::POST, path)
    }
    pub fn patch(path: impl Into<String>) -> Self {
        Self::new(Method::PATCH, path)
    }
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }
    pub fn bearer(self, token: &str) -> Self {
        self.header("Authorization", format!("Bearer {token}"))
    }
    pub fn json(mut self, body: Value) -> Self {
        self.payload = Payload::Json(body);
        self
    }
    pub fn form(mut self, fields: &[(&str, &str)]) -> Self {
        self.payload = Payload::Form(
            fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        );
        self
    }
    pub fn raw(mut self, content_type: &str, bytes: impl Into<Vec<u8>>) -> Self {
        self.payload = Payload::Raw {
            content_type: content_type.to_owned(),
            bytes: bytes.into(),
        };
        self
    }
}

/// An answer, raw, for the checks.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// The exchange that holds it in the evidence.
    pub exchange: u32,
}

impl Reply {
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
    /// The JSON body, or `Null`.
    pub fn value(&self) -> Value {
        self.json().unwrap_or(Value::Null)
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// The media type without parameters, lower case.
    pub fn media_type(&self) -> String {
        self.header("content-type")
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    }
    pub fn is_problem(&self) -> bool {
        self.media_type() == "application/problem+json"
    }
    /// The problem's `code`, when the body has one.
    pub fn code(&self) -> Option<String> {
        self.json()?.get("code")?.as_str().map(str::to_owned)
    }
}

/// The transport failed: no answer to check.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{summary}: {reason}")]
pub struct TransportError {
    pub summary: String,
    pub reason: String,
}

/// An answer as it came, with the request's method and path: kept in memory only, for the
/// checks that look over the whole run.
#[derive(Debug, Clone)]
pub struct Answer {
    pub method: Method,
    pub path: String,
    pub reply: Reply,
}

/// How the kit's client reaches a system under test over TLS: the CAs it trusts (the
/// system's roots otherwise) and its own certificate, for mutual TLS. PEM bytes.
#[derive(Debug, Clone, Default)]
pub struct WireTls {
    pub ca_pem: Option<Vec<u8>>,
    /// Certificate chain and private key.
    pub identity_pem: Option<Vec<u8>>,
}

/// The kit's HTTP client and the log of every exchange of the run.
#[derive(Clone)]
pub struct Wire {
    client: reqwest::Client,
    base: Url,
    tls: WireTls,
    log: Arc<Mutex<Vec<Exchange>>>,
    answers: Arc<Mutex<Vec<Answer>>>,
    request_timeout: Duration,
}

fn http_client(tls: &WireTls) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        // A redirect is an answer to check, never to follow (it could point anywhere).
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("madoguchi-conformance/", env!("CARGO_PKG_VERSION")));
    if let Some(ca) = &tls.ca_pem {
        let certs =
            reqwest::Certificate::from_pem_bundle(ca).map_err(|e| format!("the CA file: {e}"))?;
        builder = builder.tls_certs_only(certs);
    }
    if let Some(identity) = &tls.identity_pem {
        let identity = reqwest::Identity::from_pem(identity)
            .map_err(|e| format!("the client identity file: {e}"))?;
        builder = builder.identity(identity);
    }
    builder.build().map_err(|e| e.to_string())
}

impl Wire {
    pub fn new(base: Url, request_timeout: Duration) -> Result<Self, String> {
        Self::with_tls(base, request_timeout, WireTls::default())
    }

    pub fn with_tls(base: Url, request_timeout: Duration, tls: WireTls) -> Result<Self, String> {
        Ok(Self {
            client: http_client(&tls)?,
            base,
            tls,
            log: Arc::new(Mutex::new(Vec::new())),
            answers: Arc::new(Mutex::new(Vec::new())),
            request_timeout,
        })
    }

    /// The same wire (the same log) with a client that presents no certificate of its own.
    pub fn without_identity(&self) -> Result<Self, String> {
        let tls = WireTls {
            ca_pem: self.tls.ca_pem.clone(),
            identity_pem: None,
        };
        Ok(Self {
            client: http_client(&tls)?,
            tls,
            ..self.clone()
        })
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    pub fn url(&self, path: &str) -> Result<Url, String> {
        if path.starts_with("http://") || path.starts_with("https://") {
            Url::parse(path).map_err(|e| e.to_string())
        } else {
            let base = self.base.as_str().trim_end_matches('/');
            Url::parse(&format!("{base}{path}")).map_err(|e| e.to_string())
        }
    }

    /// Every exchange recorded so far.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Records a request the system under test sent to the kit's receiver; its number.
    pub fn record_received(&self, test: &str, received: &super::receiver::Received) -> u32 {
        let headers: Vec<(String, String)> = received
            .headers
            .iter()
            .map(|(n, v)| (n.clone(), redact::header(n, v)))
            .collect();
        let Ok(mut log) = self.log.lock() else {
            return 0;
        };
        let n = log.len() as u32 + 1;
        log.push(Exchange {
            n,
            test: test.to_owned(),
            method: "POST".to_owned(),
            url: redact::url(&received.path),
            request_headers: headers,
            request_body: Some(kept_body(&received.body)),
            status: Some(204),
            response_headers: Vec::new(),
            response_body: None,
            sent_at: Utc::now(),
            duration_ms: 0,
            error: None,
            received: true,
        });
        n
    }

    /// Every answer so far, raw (never written anywhere).
    pub fn answers(&self) -> Vec<Answer> {
        self.answers.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Sends `req` on behalf of `test`, records it, and gives the raw answer.
    pub async fn send(&self, test: &str, req: Req) -> Result<Reply, TransportError> {
        let url = self.url(&req.path).map_err(|reason| TransportError {
            summary: format!("{} {}", req.method, req.path),
            reason,
        })?;
        let mut headers = HeaderMap::new();
        for (name, value) in &req.headers {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                headers.append(n, v);
            }
        }
        let mut builder = self
            .client
            .request(req.method.clone(), url.clone())
            .timeout(self.request_timeout);
        let request_body = match &req.payload {
            Payload::None => None,
            Payload::Json(v) => {
                builder = builder.json(v);
                headers.insert(
                    reqwest::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                Some(Body::Json(redact::json(v)))
            }
            Payload::Form(fields) => {
                builder = builder.form(fields);
                headers.insert(
                    reqwest::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/x-www-form-urlencoded"),
                );
                let encoded = fields
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("&");
                Some(Body::Text(redact::form(&encoded)))
            }
            Payload::Raw {
                content_type,
                bytes,
            } => {
                if let Ok(v) = HeaderValue::from_str(content_type) {
                    headers.insert(reqwest::header::CONTENT_TYPE, v);
                }
                builder = builder.body(bytes.clone());
                Some(kept_body(bytes))
            }
        };
        builder = builder.headers(headers.clone());
        let sent_at = Utc::now();
        let started = Instant::now();
        let result = async {
            let response = builder.send().await?;
            let status = response.status();
            let response_headers = response.headers().clone();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, response_headers, body.to_vec()))
        }
        .await;
        let duration_ms = started.elapsed().as_millis() as u64;
        let mut exchange = Exchange {
            n: 0,
            test: test.to_owned(),
            method: req.method.to_string(),
            url: redact::url(url.as_str()),
            request_headers: kept_headers(&headers),
            request_body,
            status: None,
            response_headers: Vec::new(),
            response_body: None,
            sent_at,
            duration_ms,
            error: None,
            received: false,
        };
        let outcome = match result {
            Ok((status, response_headers, body)) => {
                exchange.status = Some(status.as_u16());
                exchange.response_headers = kept_headers(&response_headers);
                exchange.response_body = (!body.is_empty()).then(|| kept_body(&body));
                Ok((status, response_headers, body))
            }
            Err(e) => {
                let reason = if e.is_timeout() {
                    format!("no answer within {} s", self.request_timeout.as_secs())
                } else if e.is_connect() {
                    "the connection was refused or could not be made".to_owned()
                } else {
                    // reqwest's text names the URL, which is already in the exchange.
                    e.without_url().to_string()
                };
                exchange.error = Some(reason.clone());
                Err(reason)
            }
        };
        let summary = exchange.summary();
        let n = {
            let mut log = self.log.lock().map_err(|_| TransportError {
                summary: summary.clone(),
                reason: "the evidence log is unusable".to_owned(),
            })?;
            exchange.n = log.len() as u32 + 1;
            let n = exchange.n;
            log.push(exchange);
            n
        };
        match outcome {
            Ok((status, headers, body)) => {
                let reply = Reply {
                    status,
                    headers,
                    body,
                    exchange: n,
                };
                if let Ok(mut answers) = self.answers.lock() {
                    answers.push(Answer {
                        method: req.method.clone(),
                        path: url.path().to_owned(),
                        reply: reply.clone(),
                    });
                }
                Ok(reply)
            }
            Err(reason) => Err(TransportError { summary, reason }),
        }
    }
}

fn kept_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            let text = String::from_utf8_lossy(value.as_bytes());
            (
                name.as_str().to_owned(),
                redact::header(name.as_str(), &text),
            )
        })
        .collect()
}

fn kept_body(bytes: &[u8]) -> Body {
    if let Ok(value) = serde_json::from_slice::<Value>(bytes) {
        return Body::Json(redact::json(&value));
    }
    match std::str::from_utf8(bytes) {
        Ok(text) if text.contains("client_secret=") || text.contains("grant_type=") => {
            Body::Text(redact::form(text))
        }
        Ok(text) => Body::Text(redact::my_numbers(text)),
        Err(_) => Body::Binary {
            bytes: bytes.len(),
            sha256: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes)),
        },
    }
}
