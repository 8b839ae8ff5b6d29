//! What a counter app sent a gateway, as the `counter-app` suite judges it: each request with
//! what tells whether the app kept the contract (its Idempotency-Key and Madoguchi-Actor, which
//! token, a digest of its body) and what it was answered (the status, a problem's code,
//! Retry-After), in the order sent, timed from the first.
//!
//! Read from an HTTP Archive (HAR 1.2, what browsers' developer tools, mitmproxy and most
//! proxies save), so that a vendor can judge a capture of its own app offline. Nothing of a body
//! is kept but its SHA-256; tokens only as the digest the kit's evidence uses.

use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// One request and its answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// From 1, in the order sent.
    pub n: u32,
    /// Milliseconds after the first request was sent.
    pub at_ms: u64,
    pub method: String,
    /// The path, without the query.
    pub path: String,
    pub idempotency_key: Option<String>,
    /// Whether `Madoguchi-Actor` was sent.
    pub actor: bool,
    /// The bearer token's digest.
    pub token: Option<String>,
    /// SHA-256 of the body, when there was one.
    pub body_sha256: Option<String>,
    /// The answer's status; `None` when none came (a timeout, a reset).
    pub status: Option<u16>,
    /// The problem's `code`, when the answer was one.
    pub code: Option<String>,
    /// The answer's `Retry-After`, in seconds.
    pub retry_after: Option<u64>,
    /// For a token request answered with one: the token's digest and its lifetime.
    pub issued: Option<(String, u64)>,
    /// Answered with a fault a conformance session injected, not by the gateway's own
    /// judgement (a capture never knows this).
    pub injected: bool,
    /// For a webhook test a conformance session sent: whether the app's receiver took the
    /// message (answered 2xx).
    pub webhook_taken: Option<bool>,
}

impl Recorded {
    /// `POST /v1/…/confirm`, for messages.
    pub fn summary(&self) -> String {
        let answer = self
            .status
            .map_or("no answer".to_owned(), |s| s.to_string());
        format!("#{} {} {} → {answer}", self.n, self.method, self.path)
    }
}

// HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/), the members the judge reads.
#[derive(Deserialize)]
struct Har {
    log: HarLog,
}

#[derive(Deserialize)]
struct HarLog {
    entries: Vec<HarEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HarEntry {
    started_date_time: String,
    request: HarRequest,
    response: HarResponse,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HarRequest {
    method: String,
    url: String,
    #[serde(default)]
    headers: Vec<HarHeader>,
    post_data: Option<HarPostData>,
}

#[derive(Deserialize)]
struct HarHeader {
    name: String,
    value: String,
}

#[derive(Deserialize)]
struct HarPostData {
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize)]
struct HarResponse {
    /// 0 when no answer came (HAR's convention).
    status: i64,
    #[serde(default)]
    headers: Vec<HarHeader>,
    #[serde(default)]
    content: Option<HarContent>,
}

#[derive(Deserialize)]
struct HarContent {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    encoding: Option<String>,
}

fn header<'a>(headers: &'a [HarHeader], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str())
}

/// The requests of a HAR file, in the order sent.
pub fn from_har(bytes: &[u8]) -> Result<Vec<Recorded>, String> {
    let har: Har =
        serde_json::from_slice(bytes).map_err(|e| format!("not an HTTP Archive (HAR 1.2): {e}"))?;
    let mut entries: Vec<(chrono::DateTime<chrono::FixedOffset>, HarEntry)> = Vec::new();
    for (i, e) in har.log.entries.into_iter().enumerate() {
        let at = chrono::DateTime::parse_from_rfc3339(&e.started_date_time).map_err(|err| {
            format!(
                "entry {i}: startedDateTime {:?}: {err}",
                e.started_date_time
            )
        })?;
        entries.push((at, e));
    }
    // Stable: entries sent in the same millisecond keep the file's order.
    entries.sort_by_key(|(at, _)| *at);
    let first = entries.first().map(|(at, _)| *at);
    let mut out = Vec::with_capacity(entries.len());
    for (i, (at, e)) in entries.into_iter().enumerate() {
        let url =
            reqwest::Url::parse(&e.request.url).map_err(|err| format!("entry {i}: url: {err}"))?;
        let body = e
            .request
            .post_data
            .and_then(|p| p.text)
            .filter(|t| !t.is_empty());
        let token = header(&e.request.headers, "authorization")
            .and_then(|a| a.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| super::redact::token_digest(t.trim()));
        let status = u16::try_from(e.response.status).ok().filter(|s| *s > 0);
        let answer: Option<Value> = e.response.content.and_then(|c| {
            let text = c.text?;
            if c.encoding.as_deref() == Some("base64") {
                use base64::Engine;
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .ok()?;
                serde_json::from_slice(&raw).ok()
            } else {
                serde_json::from_str(&text).ok()
            }
        });
        let code = answer
            .as_ref()
            .and_then(|a| a["code"].as_str())
            .map(str::to_owned);
        let issued = answer.as_ref().and_then(|a| {
            let token = a["access_token"].as_str()?;
            Some((
                super::redact::token_digest(token),
                a["expires_in"].as_u64().unwrap_or(0),
            ))
        });
        out.push(Recorded {
            n: i as u32 + 1,
            at_ms: first.map_or(0, |f| (at - f).num_milliseconds().max(0) as u64),
            method: e.request.method.to_ascii_uppercase(),
            path: url.path().to_owned(),
            idempotency_key: header(&e.request.headers, "idempotency-key").map(str::to_owned),
            actor: header(&e.request.headers, "madoguchi-actor").is_some_and(|a| !a.is_empty()),
            token,
            body_sha256: body.map(|b| hex::encode(Sha256::digest(b.as_bytes()))),
            status,
            code,
            retry_after: header(&e.response.headers, "retry-after")
                .and_then(|r| r.trim().parse().ok()),
            issued,
            injected: false,
            webhook_taken: None,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_har_file_becomes_the_requests_in_the_order_sent() {
        let har = serde_json::json!({"log": {"version": "1.2", "creator": {"name": "x", "version": "1"}, "entries": [
            {"startedDateTime": "2026-12-07T09:00:01.500+09:00", "time": 12,
             "request": {"method": "post", "url": "https://gw.example/v1/municipalities/012084/visits?x=1",
                         "headers": [{"name": "idempotency-key", "value": "k-0000000000000001"},
                                     {"name": "Authorization", "value": "Bearer abc.def.ghi"},
                                     {"name": "Madoguchi-Actor", "value": "S-1"}],
                         "postData": {"mimeType": "application/json", "text": "{}"}},
             "response": {"status": 503, "headers": [{"name": "Retry-After", "value": "3"}],
                          "content": {"mimeType": "application/problem+json", "text": "{\"code\":\"unavailable\"}"}}},
            {"startedDateTime": "2026-12-07T00:00:00.000Z", "time": 5,
             "request": {"method": "POST", "url": "https://gw.example/oauth/token", "headers": []},
             "response": {"status": 200, "headers": [],
                          "content": {"mimeType": "application/json", "encoding": "base64",
                                      "text": "eyJhY2Nlc3NfdG9rZW4iOiJhYmMuZGVmLmdoaSIsImV4cGlyZXNfaW4iOjMwMH0="}}},
            {"startedDateTime": "2026-12-07T00:00:05Z", "time": 0,
             "request": {"method": "GET", "url": "https://gw.example/v1/forms", "headers": []},
             "response": {"status": 0, "headers": []}}
        ]}});
        let got = from_har(har.to_string().as_bytes()).unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].path, "/oauth/token");
        let token = super::super::redact::token_digest("abc.def.ghi");
        assert_eq!(got[0].issued, Some((token.clone(), 300)));
        assert_eq!(got[1].method, "POST");
        assert_eq!(got[1].path, "/v1/municipalities/012084/visits");
        assert_eq!(got[1].at_ms, 1500);
        assert_eq!(
            got[1].idempotency_key.as_deref(),
            Some("k-0000000000000001")
        );
        assert!(got[1].actor);
        assert_eq!(got[1].token, Some(token));
        assert_eq!(got[1].status, Some(503));
        assert_eq!(got[1].code.as_deref(), Some("unavailable"));
        assert_eq!(got[1].retry_after, Some(3));
        assert!(got[1].body_sha256.is_some());
        assert_eq!(got[2].status, None);
        assert!(from_har(b"{}").is_err());
    }
}
