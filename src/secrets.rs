//! The server key: a secret of the gateway's own that the database never holds, so that a copy
//! of the database (a backup, a dump, a replica) is not enough to sign tokens, to read stored
//! responses or to forge audit checkpoints.
//!
//! From the one key, HKDF derives an independent subkey per purpose; AES-256-GCM seals data
//! with a subkey.

use std::io::Write;
use std::path::{Path, PathBuf};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::config::Settings;

/// Length of the server key and of every subkey.
pub const KEY_LEN: usize = 32;
/// The file created in `data_dir` when the embedded SQLite database is used and no key file
/// is configured.
pub const DEFAULT_KEY_FILE: &str = "server.key";

/// What a subkey is for. Each purpose gets its own key, so that one use cannot be turned
/// against another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Encrypting the token-signing key stored in the database.
    SigningKeyWrap,
    /// Sealing stored idempotent responses (mixed with the Idempotency-Key).
    Idempotency,
    /// Signing audit checkpoints (HMAC-SHA-256).
    AuditCheckpoint,
    /// Sealing what a card session read and the 照合番号B it was read with.
    CardSession,
    /// Sealing a resident's 個人番号 in the directory (only when the operator lets it in).
    ResidentMyNumber,
    /// Sealing the signing secrets of vendors' webhook endpoints.
    WebhookSecret,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::SigningKeyWrap => b"madoguchi signing-key wrap v1",
            Purpose::Idempotency => b"madoguchi idempotency v1",
            Purpose::AuditCheckpoint => b"madoguchi audit checkpoint v1",
            Purpose::CardSession => b"madoguchi card session v1",
            Purpose::ResidentMyNumber => b"madoguchi resident my number v1",
            Purpose::WebhookSecret => b"madoguchi webhook secret v1",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("cannot read the server key file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot create the server key file {path}: {source}")]
    Create {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "the server key file {0} must hold 32 random bytes, base64 or hex (create one with `openssl rand -base64 32`)"
    )]
    Malformed(String),
}

/// The server key. Its bytes never leave this type; only derived subkeys do.
#[derive(Clone)]
pub struct ServerKey {
    key: [u8; KEY_LEN],
    /// Where it came from, for messages (never the key itself).
    pub source: PathBuf,
}

impl std::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerKey")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

fn decode_key(text: &str) -> Option<[u8; KEY_LEN]> {
    let text = text.trim();
    let bytes = if text.len() == 2 * KEY_LEN && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(text).ok()?
    } else {
        STANDARD.decode(text).ok()?
    };
    bytes.try_into().ok()
}

impl ServerKey {
    /// The configured key file; else, for the embedded SQLite database, `server.key` in the
    /// data directory — created when `create` is set (the server on its first start), absent
    /// otherwise (an operator command must not make up a key that signs nothing old); else
    /// none.
    pub fn load(settings: &Settings, create: bool) -> Result<Option<Self>, SecretsError> {
        if let Some(path) = &settings.secrets.key_path {
            return Self::read(path).map(Some);
        }
        if !settings.uses_embedded_sqlite() {
            return Ok(None);
        }
        let path = settings.data_dir.join(DEFAULT_KEY_FILE);
        if !path.exists() {
            if !create {
                return Ok(None);
            }
            crate::datadir::prepare(&settings.data_dir).map_err(|source| SecretsError::Create {
                path: path.display().to_string(),
                source,
            })?;
            Self::create(&path)?;
        }
        Self::read(&path).map(Some)
    }

    fn read(path: &Path) -> Result<Self, SecretsError> {
        let text = std::fs::read_to_string(path).map_err(|source| SecretsError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let key =
            decode_key(&text).ok_or_else(|| SecretsError::Malformed(path.display().to_string()))?;
        if crate::datadir::readable_by_others(path) {
            tracing::warn!(
                path = %path.display(),
                "the server key file can be read by other users: chmod 600 it"
            );
        }
        Ok(Self {
            key,
            source: path.to_path_buf(),
        })
    }

    /// Writes a fresh key, readable by the owner only. Never overwrites a file: two processes
    /// starting at once keep the first one's key.
    fn create(path: &Path) -> Result<(), SecretsError> {
        let error = |source| SecretsError::Create {
            path: path.display().to_string(),
            source,
        };
        let mut key = [0u8; KEY_LEN];
        aws_lc_rs::rand::fill(&mut key)
            .map_err(|_| error(std::io::Error::other("no random numbers")))?;
        match crate::datadir::create_private(path) {
            Ok(mut file) => {
                writeln!(file, "{}", STANDARD.encode(key)).map_err(error)?;
                file.sync_all().map_err(error)?;
                tracing::info!(path = %path.display(), "created the server key");
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(error(e)),
        }
    }

    /// A key from raw bytes (tests, benchmarks).
    #[doc(hidden)]
    pub fn from_bytes(key: [u8; KEY_LEN]) -> Self {
        Self {
            key,
            source: PathBuf::from("(in memory)"),
        }
    }

    /// The subkey for one purpose.
    pub fn subkey(&self, purpose: Purpose) -> [u8; KEY_LEN] {
        derive(&self.key, b"madoguchi-server-key", purpose.label())
    }
}

/// HKDF-SHA-256 of `ikm` with `salt`, expanded for `info` to 32 bytes.
pub fn derive(ikm: &[u8], salt: &[u8], info: &[u8]) -> [u8; KEY_LEN] {
    let prk = Salt::new(HKDF_SHA256, salt).extract(ikm);
    let mut out = [0u8; KEY_LEN];
    let info = [info];
    // HKDF_SHA256 as the output "key type" asks for exactly 32 bytes, which HKDF can always
    // give (up to 255 × 32); neither step can fail.
    if let Ok(okm) = prk.expand(&info, HKDF_SHA256) {
        let _ = okm.fill(&mut out);
    }
    out
}

#[derive(Debug, thiserror::Error)]
#[error("the data could not be sealed or opened (wrong key, or altered)")]
pub struct SealError;

fn cipher(key: &[u8; KEY_LEN]) -> Result<LessSafeKey, SealError> {
    UnboundKey::new(&AES_256_GCM, key)
        .map(LessSafeKey::new)
        .map_err(|_| SealError)
}

/// AES-256-GCM with a random nonce: nonce ‖ ciphertext ‖ tag. `aad` is authenticated, not
/// stored: the same must be given to [`open`].
pub fn seal(key: &[u8; KEY_LEN], aad: &[u8], plain: &[u8]) -> Result<Vec<u8>, SealError> {
    let mut nonce = [0u8; NONCE_LEN];
    aws_lc_rs::rand::fill(&mut nonce).map_err(|_| SealError)?;
    let mut body = plain.to_vec();
    cipher(key)?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut body,
        )
        .map_err(|_| SealError)?;
    let mut out = Vec::with_capacity(NONCE_LEN + body.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&body);
    Ok(out)
}

/// Opens what [`seal`] produced.
pub fn open(key: &[u8; KEY_LEN], aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, SealError> {
    if sealed.len() < NONCE_LEN {
        return Err(SealError);
    }
    let (nonce, rest) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError)?;
    let mut buffer = rest.to_vec();
    let plain = cipher(key)?
        .open_in_place(nonce, Aad::from(aad), &mut buffer)
        .map_err(|_| SealError)?;
    let len = plain.len();
    buffer.truncate(len);
    Ok(buffer)
}

/// HMAC-SHA-256, hex.
pub fn mac(key: &[u8; KEY_LEN], message: &[u8]) -> String {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
    hex::encode(aws_lc_rs::hmac::sign(&key, message).as_ref())
}

/// Checks an HMAC made by [`mac`], in constant time.
pub fn mac_matches(key: &[u8; KEY_LEN], message: &[u8], expected_hex: &str) -> bool {
    let Ok(expected) = hex::decode(expected_hex) else {
        return false;
    };
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
    aws_lc_rs::hmac::verify(&key, message, &expected).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_read_as_base64_or_hex() {
        let raw = [7u8; KEY_LEN];
        assert_eq!(decode_key(&STANDARD.encode(raw)), Some(raw));
        assert_eq!(decode_key(&format!("{}\n", hex::encode(raw))), Some(raw));
        assert_eq!(decode_key("c2hvcnQ="), None, "too short");
        assert_eq!(decode_key("not a key at all"), None);
    }

    #[test]
    fn purposes_get_different_subkeys() {
        let key = ServerKey::from_bytes([1u8; KEY_LEN]);
        let a = key.subkey(Purpose::Idempotency);
        let b = key.subkey(Purpose::SigningKeyWrap);
        assert_ne!(a, b);
        assert_ne!(a, [1u8; KEY_LEN]);
        assert_eq!(
            a,
            ServerKey::from_bytes([1u8; KEY_LEN]).subkey(Purpose::Idempotency)
        );
        assert!(!format!("{key:?}").contains("[1"));
    }

    #[test]
    fn sealed_data_opens_only_with_its_key_and_aad() {
        let key = [3u8; KEY_LEN];
        let sealed = seal(&key, b"kid-1", b"private key").unwrap();
        assert!(!sealed.windows(11).any(|w| w == b"private key"));
        assert_eq!(open(&key, b"kid-1", &sealed).unwrap(), b"private key");
        assert!(open(&key, b"kid-2", &sealed).is_err());
        assert!(open(&[4u8; KEY_LEN], b"kid-1", &sealed).is_err());
        assert!(open(&key, b"kid-1", &sealed[..5]).is_err());
    }

    #[test]
    fn macs_verify_only_for_their_message() {
        let key = [5u8; KEY_LEN];
        let tag = mac(&key, b"seq 10");
        assert!(mac_matches(&key, b"seq 10", &tag));
        assert!(!mac_matches(&key, b"seq 11", &tag));
        assert!(!mac_matches(&[6u8; KEY_LEN], b"seq 10", &tag));
        assert!(!mac_matches(&key, b"seq 10", "zz"));
    }
}
