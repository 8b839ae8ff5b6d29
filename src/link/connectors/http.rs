//! The `http` connector: each application's document POSTed to the core system's URL with an
//! `Idempotency-Key` (the application id, the same on every attempt), a bearer token from the
//! core system's authorization server (OAuth2 client credentials, renewed when it expires or
//! is refused), and optionally a client certificate (mutual TLS).
//!
//! The core system may answer at once: a body `{"outcome": "accepted" | "rejected" |
//! "completed", "reason": "…"}` moves the application on as an acknowledgement through the
//! pull API would.

use std::time::{Duration, Instant};

use oauth2::basic::BasicClient;
use oauth2::{ClientId, ClientSecret, Scope, TokenResponse, TokenUrl};
use serde::Deserialize;
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::config::ConnectorSettings;
use crate::visits::confirmation::Acknowledgement;

/// What one POST came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Sent {
    /// The core system has it; perhaps with its answer.
    Delivered(Option<(Acknowledgement, Option<String>)>),
    /// Worth trying again (network, timeout, 408, 429, 5xx, a refused token).
    Failed(String),
    /// Refused for good (another 4xx): trying again would not help.
    Refused(String),
}

#[derive(Debug, Deserialize)]
struct Answer {
    outcome: Option<String>,
    reason: Option<String>,
}

struct OAuth {
    token_url: String,
    client_id: String,
    client_secret: String,
    scope: Option<String>,
}

/// A core system's endpoint, with its token.
pub struct HttpConnector {
    client: reqwest::Client,
    url: String,
    oauth: Option<OAuth>,
    token: Mutex<Option<(String, Instant)>>,
}

/// How much of a core system's error body is kept with the delivery.
const ERROR_CHARS: usize = 300;

/// At most `ERROR_CHARS` characters, control and hidden characters (a NUL that PostgreSQL
/// refuses, bidirectional overrides) as spaces: what a core system says is stored and shown.
fn shorten(text: &str) -> String {
    let mut s: String = text
        .chars()
        .take(ERROR_CHARS)
        .map(|c| {
            if crate::validation::is_hidden_or_control(c) {
                ' '
            } else {
                c
            }
        })
        .collect();
    if text.chars().count() > ERROR_CHARS {
        s.push('…');
    }
    s
}

impl HttpConnector {
    /// Reads the settings' files (CA, client identity, client secret).
    pub fn new(settings: &ConnectorSettings) -> Result<Self, String> {
        let url = settings
            .url
            .clone()
            .ok_or_else(|| "an http connector needs `url`".to_owned())?;
        let read = |path: &std::path::Path| {
            std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
        };
        let mut builder = reqwest::Client::builder()
            .timeout(Duration::from_secs(settings.timeout_seconds.max(1)))
            .connect_timeout(Duration::from_secs(settings.timeout_seconds.clamp(1, 10)));
        if let Some(ca) = &settings.ca_file {
            let certs = reqwest::Certificate::from_pem_bundle(&read(ca)?)
                .map_err(|e| format!("{}: {e}", ca.display()))?;
            builder = builder.tls_certs_only(certs);
        }
        if let Some(identity) = &settings.client_identity_file {
            let identity = reqwest::Identity::from_pem(&read(identity)?)
                .map_err(|e| format!("{}: {e}", identity.display()))?;
            builder = builder.identity(identity);
        }
        let client = builder.build().map_err(|e| e.to_string())?;
        let oauth = match (
            &settings.token_url,
            &settings.client_id,
            &settings.client_secret_file,
        ) {
            (Some(token_url), Some(client_id), Some(secret)) => Some(OAuth {
                token_url: token_url.clone(),
                client_id: client_id.clone(),
                client_secret: String::from_utf8(read(secret)?)
                    .map_err(|_| format!("{}: not UTF-8", secret.display()))?
                    .trim()
                    .to_owned(),
                scope: settings.scope.clone(),
            }),
            _ => None,
        };
        Ok(Self {
            client,
            url,
            oauth,
            token: Mutex::new(None),
        })
    }

    /// A valid token, fetched when there is none or it is about to expire.
    async fn token(&self) -> Result<Option<String>, String> {
        let Some(oauth) = &self.oauth else {
            return Ok(None);
        };
        let mut cached = self.token.lock().await;
        if let Some((token, until)) = cached.as_ref()
            && Instant::now() < *until
        {
            return Ok(Some(token.clone()));
        }
        let client = BasicClient::new(ClientId::new(oauth.client_id.clone()))
            .set_client_secret(ClientSecret::new(oauth.client_secret.clone()))
            .set_token_uri(TokenUrl::new(oauth.token_url.clone()).map_err(|e| e.to_string())?);
        let mut request = client.exchange_client_credentials();
        if let Some(scope) = &oauth.scope {
            for s in scope.split_whitespace() {
                request = request.add_scope(Scope::new(s.to_owned()));
            }
        }
        let http = self.client.clone();
        let send = move |request: oauth2::HttpRequest| {
            let http = http.clone();
            async move { exchange(&http, request).await }
        };
        let token = request
            .request_async(&send)
            .await
            .map_err(|e| format!("token from {}: {e}", oauth.token_url))?;
        // Renewed a little before it runs out.
        let life = token
            .expires_in()
            .unwrap_or(Duration::from_secs(300))
            .saturating_sub(Duration::from_secs(10));
        let secret = token.access_token().secret().clone();
        *cached = Some((secret.clone(), Instant::now() + life));
        Ok(Some(secret))
    }

    /// POSTs one application's document.
    pub async fn send(&self, application_id: Uuid, body: Vec<u8>) -> Sent {
        let token = match self.token().await {
            Ok(t) => t,
            Err(e) => return Sent::Failed(e),
        };
        let mut request = self
            .client
            .post(&self.url)
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", application_id.to_string())
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => return Sent::Failed(format!("{}: {e}", self.url)),
        };
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if status.is_success() {
            let answer = serde_json::from_str::<Answer>(&text).ok().and_then(|a| {
                let ack = match a.outcome.as_deref()? {
                    "accepted" => Acknowledgement::Accepted,
                    "rejected" => Acknowledgement::Rejected,
                    "completed" => Acknowledgement::Completed,
                    _ => return None,
                };
                Some((ack, a.reason.map(|r| shorten(&r))))
            });
            return Sent::Delivered(answer);
        }
        let error = format!("HTTP {}: {}", status.as_u16(), shorten(text.trim()));
        if status.as_u16() == 401 {
            // The token may have been revoked: the next attempt fetches a new one.
            *self.token.lock().await = None;
            return Sent::Failed(error);
        }
        if status.is_server_error() || matches!(status.as_u16(), 408 | 425 | 429) {
            Sent::Failed(error)
        } else {
            Sent::Refused(error)
        }
    }
}

/// The oauth2 crate's requests sent with our reqwest client (oauth2's own reqwest feature is
/// built on an older reqwest).
pub(crate) async fn exchange(
    http: &reqwest::Client,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, reqwest::Error> {
    let (parts, body) = request.into_parts();
    let method = reqwest::Method::from_bytes(parts.method.as_str().as_bytes())
        .unwrap_or(reqwest::Method::POST);
    let mut builder = http.request(method, parts.uri.to_string()).body(body);
    for (name, value) in &parts.headers {
        builder = builder.header(name.as_str(), value.as_bytes());
    }
    let response = builder.send().await?;
    let mut out = oauth2::http::Response::builder().status(response.status().as_u16());
    for (name, value) in response.headers() {
        out = out.header(name.as_str(), value.as_bytes());
    }
    let body = response.bytes().await?.to_vec();
    // Only a status and headers taken from a valid response go in: building cannot fail.
    Ok(out
        .body(body)
        .unwrap_or_else(|_| oauth2::http::Response::new(Vec::new())))
}
