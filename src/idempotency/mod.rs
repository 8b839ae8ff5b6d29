//! Idempotency keys (`Idempotency-Key`, draft-ietf-httpapi-idempotency-key-header): a client
//! that retries a creating request with the same key and body gets the first response again,
//! and the change happens once.
//!
//! The stored response is encrypted with a key derived from the idempotency key itself, which
//! the gateway keeps only as a hash: whoever reads the table cannot read the responses (which
//! hold client secrets now and personal data later), and the client that sent the key can.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::i18n::Text;

/// How long a completed request can be replayed.
pub const RETENTION_HOURS: i64 = 24;
/// A request still marked in progress after this long was abandoned (a crash): its key may be
/// used again.
pub const ABANDONED_AFTER_SECONDS: i64 = 300;

/// A validated `Idempotency-Key` value.
#[derive(Clone)]
pub struct IdempotencyKey(String);

impl std::fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdempotencyKey(***)")
    }
}

impl IdempotencyKey {
    /// 16 to 255 visible ASCII characters: long enough that the key cannot be guessed (it
    /// protects the stored response), as a UUID is.
    pub fn parse(value: &str) -> Result<Self, Text> {
        let value = value.trim().trim_matches('"');
        let ok = (16..=255).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            Ok(Self(value.to_owned()))
        } else {
            Err(Text::new(
                "Idempotency-Key には16〜255文字の英数字・記号(UUID を推奨)を指定してください。",
                "Idempotency-Key must be 16 to 255 visible ASCII characters; use a UUID.",
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

    fn cipher(&self, client_id: &str) -> Result<LessSafeKey, SealError> {
        let prk = Salt::new(HKDF_SHA256, client_id.as_bytes()).extract(self.0.as_bytes());
        let info = [b"madoguchi-idempotency-response-v1".as_slice()];
        let okm = prk.expand(&info, &AES_256_GCM).map_err(|_| SealError)?;
        let mut key = [0u8; 32];
        okm.fill(&mut key).map_err(|_| SealError)?;
        UnboundKey::new(&AES_256_GCM, &key)
            .map(LessSafeKey::new)
            .map_err(|_| SealError)
    }

    /// Encrypts a response for storage: nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, client_id: &str, response: &StoredResponse) -> Result<Vec<u8>, SealError> {
        let mut plain = serde_json::to_vec(response).map_err(|_| SealError)?;
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| SealError)?;
        self.cipher(client_id)?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(client_id.as_bytes()),
                &mut plain,
            )
            .map_err(|_| SealError)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&plain);
        Ok(out)
    }

    pub fn open(&self, client_id: &str, sealed: &[u8]) -> Result<StoredResponse, SealError> {
        if sealed.len() < NONCE_LEN {
            return Err(SealError);
        }
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError)?;
        let mut buffer = rest.to_vec();
        let plain = self
            .cipher(client_id)?
            .open_in_place(nonce, Aad::from(client_id.as_bytes()), &mut buffer)
            .map_err(|_| SealError)?;
        serde_json::from_slice(plain).map_err(|_| SealError)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("a stored idempotent response could not be sealed or opened")]
pub struct SealError;

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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Where a key stands when a request arrives with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// First use (or the earlier attempt failed or was abandoned): go ahead.
    Started,
    /// Another request with this key is being processed.
    InProgress { fingerprint: String },
    /// Done before: replay it if the request is the same.
    Completed {
        fingerprint: String,
        sealed: Vec<u8>,
    },
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
    }

    #[test]
    fn a_sealed_response_opens_only_with_its_key_and_client() {
        let response = StoredResponse {
            status: 201,
            headers: vec![("location".into(), "/v1/x".into())],
            body: br#"{"clientSecret":"mdgs_secret"}"#.to_vec(),
        };
        let sealed = key().seal("client-a", &response).unwrap();
        assert!(!String::from_utf8_lossy(&sealed).contains("mdgs_secret"));
        assert_eq!(key().open("client-a", &sealed).unwrap(), response);
        assert!(key().open("client-b", &sealed).is_err());
        let other = IdempotencyKey::parse("00000000-0000-4000-8000-000000000000").unwrap();
        assert!(other.open("client-a", &sealed).is_err());
        assert_ne!(key().lookup_hash("client-a"), key().lookup_hash("client-b"));
    }
}
