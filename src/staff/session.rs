//! A console session: who is logged in, the CSRF token of their forms, their language, and
//! when they last did something (for the idle logout). The cookie holds a random token; the
//! database keeps only its SHA-256, so that a copy of the database opens no session.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::StaffAccount;
use crate::i18n::Lang;

#[derive(Debug, Clone)]
pub struct ConsoleSession {
    /// SHA-256 (hex) of the cookie's token.
    pub digest: String,
    pub staff: StaffAccount,
    /// Sent with every form and htmx request; compared with what the session holds.
    pub csrf: String,
    pub lang: Lang,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

impl ConsoleSession {
    /// Whether the session has been idle for `idle` or more at `now`.
    pub fn idle_at(&self, now: DateTime<Utc>, idle: chrono::Duration) -> bool {
        now - self.last_seen_at >= idle
    }
}

/// 256 random bits from the operating system's CSPRNG, URL-safe base64 without padding;
/// none when the CSPRNG fails.
pub fn random_token() -> Option<String> {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).ok()?;
    Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// What the database keeps of a cookie's token.
pub fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_differ_and_their_digests_do_not_show_them() {
        let (a, b) = (random_token().unwrap(), random_token().unwrap());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(digest(&a).len(), 64);
        assert!(!digest(&a).contains(&a));
        assert_eq!(digest(&a), digest(&a));
    }
}
