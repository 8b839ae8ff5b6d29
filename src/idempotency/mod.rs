//! Idempotency keys (`Idempotency-Key`, draft-ietf-httpapi-idempotency-key-header): a client
//! that retries a creating request with the same key and body gets the first response again,
//! and the change happens once.
//!
//! The stored response is encrypted with a key derived from the idempotency key (which the
//! gateway keeps only as a hash) and from the server key (which the database never holds):
//! neither a copy of the database nor a guessed idempotency key alone opens it.

use crate::i18n::Text;
use crate::secrets::{self, KEY_LEN, Purpose, SealError, ServerKey};
use sha2::{Digest, Sha256};

/// The storage format written now (see the `format` column).
pub const FORMAT: i16 = 2;

/// A validated `Idempotency-Key` value.
#[derive(Clone)]
pub struct IdempotencyKey(String);

impl std::fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdempotencyKey(***)")
    }
}

impl IdempotencyKey {
    /// 16 to 255 visible ASCII characters (the OpenAPI document declares exactly this). A key
    /// that can be guessed weakens only the protection of stored responses without a server
    /// key; with one, the key alone opens nothing. A new UUID per request is best.
    pub fn parse(value: &str) -> Result<Self, Text> {
        let value = value.trim().trim_matches('"');
        let ok = (16..=255).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            Ok(Self(value.to_owned()))
        } else {
            Err(Text::new(
                "Idempotency-Key には16〜255文字の英数字・記号(リクエストごとに新しい UUID を推奨)を指定してください。",
                "Idempotency-Key must be 16 to 255 visible ASCII characters; use a new UUID per request.",
            ))
        }
    }

    /// What the store keeps instead of the key: SHA-256 over the client and the key.
    pub fn lookup_hash(&self, client_id: &str) -> String {
        let mut h = Sha256::new();
        h.update(b"madoguchi-idempotency-lookup-v1\0");
        h.update(client_id.as_bytes());
        h.update(b"\0");
        h.update(self.0.as_bytes());
        hex::encode(h.finalize())
    }

    /// The response key of `format`: format 1 from the idempotency key and client alone (rows
    /// written before the server key was mixed in; they expire within a day), format 2 also
    /// from the server key when there is one.
    fn response_key(
        &self,
        client_id: &str,
        server_key: Option<&ServerKey>,
        format: i16,
    ) -> [u8; KEY_LEN] {
        if format == 1 {
            return secrets::derive(
                self.0.as_bytes(),
                client_id.as_bytes(),
                b"madoguchi-idempotency-response-v1",
            );
        }
        let salt = server_key.map_or([0u8; KEY_LEN], |k| k.subkey(Purpose::Idempotency));
        let mut ikm = Vec::with_capacity(self.0.len() + 1 + client_id.len());
        ikm.extend_from_slice(self.0.as_bytes());
        ikm.push(0);
        ikm.extend_from_slice(client_id.as_bytes());
        secrets::derive(&ikm, &salt, b"madoguchi-idempotency-response-v2")
    }

    /// Encrypts a response for storage in the current [`FORMAT`].
    pub fn seal(
        &self,
        client_id: &str,
        server_key: Option<&ServerKey>,
        response: &StoredResponse,
    ) -> Result<Vec<u8>, SealError> {
        let key = self.response_key(client_id, server_key, FORMAT);
        secrets::seal(&key, client_id.as_bytes(), &response.encode())
    }

    pub fn open(
        &self,
        client_id: &str,
        server_key: Option<&ServerKey>,
        format: i16,
        sealed: &[u8],
    ) -> Result<StoredResponse, SealError> {
        let key = self.response_key(client_id, server_key, format);
        let plain = secrets::open(&key, client_id.as_bytes(), sealed)?;
        if format == 1 {
            return serde_json::from_slice::<LegacyResponse>(&plain)
                .map(|r| StoredResponse {
                    status: r.status,
                    headers: r.headers,
                    body: r.body,
                    body_kept: true,
                })
                .map_err(|_| SealError);
        }
        StoredResponse::decode(&plain).ok_or(SealError)
    }
}

/// SHA-256 of what makes two requests "the same": method, path and query, body.
pub fn fingerprint(method: &str, path_and_query: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(method.as_bytes());
    h.update(b"\0");
    h.update(path_and_query.as_bytes());
    h.update(b"\0");
    h.update(body);
    hex::encode(h.finalize())
}

/// A response as replayed: status, the headers that matter, the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// False when the body was larger than the gateway keeps: a retry is told where the
    /// result is instead of getting it again.
    pub body_kept: bool,
}

/// Format 1 stored responses: JSON, the body as an array of numbers.
#[derive(serde::Deserialize)]
struct LegacyResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl StoredResponse {
    /// `status (u16) ‖ flags (u8) ‖ header count (u8) ‖ (name len (u8) ‖ name ‖ value len
    /// (u16) ‖ value)* ‖ body`, big-endian. The body is stored as the bytes it is: a general
    /// serializer would add a dependency for three headers, and JSON would triple the size.
    pub fn encode(&self) -> Vec<u8> {
        let headers: Vec<_> = self
            .headers
            .iter()
            .filter(|(n, v)| n.len() <= usize::from(u8::MAX) && v.len() <= usize::from(u16::MAX))
            .take(usize::from(u8::MAX))
            .collect();
        let mut out = Vec::with_capacity(4 + self.body.len() + 64);
        out.extend_from_slice(&self.status.to_be_bytes());
        out.push(u8::from(self.body_kept));
        out.push(headers.len() as u8);
        for (name, value) in headers {
            out.push(name.len() as u8);
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&(value.len() as u16).to_be_bytes());
            out.extend_from_slice(value.as_bytes());
        }
        out.extend_from_slice(&self.body);
        out
    }

    pub fn decode(bytes: &[u8]) -> Option<Self> {
        fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
            if bytes.len() < n {
                return None;
            }
            let (head, rest) = bytes.split_at(n);
            *bytes = rest;
            Some(head)
        }
        let mut rest = bytes;
        let status = u16::from_be_bytes(take(&mut rest, 2)?.try_into().ok()?);
        let body_kept = take(&mut rest, 1)?[0] & 1 == 1;
        let count = take(&mut rest, 1)?[0];
        let mut headers = Vec::with_capacity(usize::from(count));
        for _ in 0..count {
            let len = usize::from(take(&mut rest, 1)?[0]);
            let name = String::from_utf8(take(&mut rest, len)?.to_vec()).ok()?;
            let len = usize::from(u16::from_be_bytes(take(&mut rest, 2)?.try_into().ok()?));
            let value = String::from_utf8(take(&mut rest, len)?.to_vec()).ok()?;
            headers.push((name, value));
        }
        Some(Self {
            status,
            headers,
            body: rest.to_vec(),
            body_kept,
        })
    }
}

/// Where a key stands when a request arrives with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// First use (or the earlier attempt failed or was abandoned): go ahead.
    Started,
    /// Another request with this key is being processed; it started this long ago.
    InProgress {
        fingerprint: String,
        age: std::time::Duration,
    },
    /// Done before: replay it if the request is the same.
    Completed {
        fingerprint: String,
        format: i16,
        sealed: Vec<u8>,
    },
    /// The client holds as many keys (or stored bytes) as it may; the oldest expires after
    /// this long.
    QuotaExceeded { retry_after: std::time::Duration },
}

/// How much the store keeps, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub retention: std::time::Duration,
    /// A claim older than this cannot belong to a running request (every request ends within
    /// the request timeout): its key is free again.
    pub abandoned_after: std::time::Duration,
    pub max_keys_per_client: u64,
    pub max_bytes_per_client: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> IdempotencyKey {
        IdempotencyKey::parse("4b7c9a1e-3f7d-4c55-9d0e-6a2b1f0c8e11").unwrap()
    }

    #[test]
    fn short_or_odd_keys_are_refused() {
        assert!(IdempotencyKey::parse("1").is_err());
        assert!(IdempotencyKey::parse("has spaces in the key").is_err());
        assert!(IdempotencyKey::parse(&"k".repeat(256)).is_err());
        assert!(IdempotencyKey::parse("\"4b7c9a1e-3f7d-4c55-9d0e-6a2b1f0c8e11\"").is_ok());
        assert!(IdempotencyKey::parse("01JEXAMPLE7Q3M4N5P6R8S9TVW").is_ok());
    }

    fn response() -> StoredResponse {
        StoredResponse {
            status: 201,
            headers: vec![
                ("location".into(), "/v1/x".into()),
                ("content-type".into(), "application/json".into()),
            ],
            body: br#"{"clientSecret":"mdgs_secret"}"#.to_vec(),
            body_kept: true,
        }
    }

    #[test]
    fn a_response_is_stored_as_its_bytes() {
        let r = response();
        let encoded = r.encode();
        assert!(encoded.len() < r.body.len() + 64);
        assert_eq!(StoredResponse::decode(&encoded), Some(r));
        assert_eq!(StoredResponse::decode(&[0, 201, 1]), None);
    }

    #[test]
    fn a_sealed_response_opens_only_with_its_key_client_and_server_key() {
        let server = ServerKey::from_bytes([7; KEY_LEN]);
        let sealed = key().seal("client-a", Some(&server), &response()).unwrap();
        assert!(!String::from_utf8_lossy(&sealed).contains("mdgs_secret"));
        assert_eq!(
            key()
                .open("client-a", Some(&server), FORMAT, &sealed)
                .unwrap(),
            response()
        );
        assert!(
            key()
                .open("client-b", Some(&server), FORMAT, &sealed)
                .is_err()
        );
        assert!(
            key().open("client-a", None, FORMAT, &sealed).is_err(),
            "the idempotency key alone does not open it"
        );
        let other_server = ServerKey::from_bytes([8; KEY_LEN]);
        assert!(
            key()
                .open("client-a", Some(&other_server), FORMAT, &sealed)
                .is_err()
        );
        let other = IdempotencyKey::parse("9f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f").unwrap();
        assert!(
            other
                .open("client-a", Some(&server), FORMAT, &sealed)
                .is_err()
        );
        assert_ne!(key().lookup_hash("client-a"), key().lookup_hash("client-b"));
    }

    #[test]
    fn format_1_responses_still_open() {
        let legacy_key = key().response_key("client-a", None, 1);
        let plain = serde_json::json!({
            "status": 201,
            "headers": [["location", "/v1/x"]],
            "body": b"{}".to_vec(),
        })
        .to_string();
        let sealed = secrets::seal(&legacy_key, b"client-a", plain.as_bytes()).unwrap();
        let opened = key().open("client-a", None, 1, &sealed).unwrap();
        assert_eq!(opened.status, 201);
        assert_eq!(opened.body, b"{}");
        assert!(opened.body_kept);
    }
}
