//! Counter PCs (devices): the bridge on a counter PC is enrolled with a one-time code an
//! administrator issues, gets a client certificate from the gateway's own device CA, and
//! connects out to the gateway's device port over WebSocket and TLS with that certificate.
//! Free of HTTP and SQL; the device port itself is in [`port`].

pub mod authority;
pub mod port;
pub mod sessions;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::tenancy::LgCode;

/// In-process signals between the API and the device port, so that a session asked for on
/// the replica that holds the bridge starts at once and a waiting GET answers at once. Other
/// replicas learn the same through the database, within a poll.
#[derive(Debug, Default)]
pub struct Signals {
    /// A card session was asked for.
    pub asked: tokio::sync::Notify,
    /// A card session changed state.
    pub changed: tokio::sync::Notify,
}

/// How long an enrolment code is good for.
pub const ENROLMENT_MINUTES: i64 = 15;

/// Crockford's base 32: no I, L, O or U, so a code read aloud or typed is not mistaken.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub id: Uuid,
    pub lg_code: LgCode,
    pub counter_name: String,
    pub created_at: DateTime<Utc>,
    pub enrolled_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// Until this time the enrolment code is good (while not enrolled).
    pub enrolment_expires_at: Option<DateTime<Utc>>,
    /// When its bridge was last connected.
    pub last_seen_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceState {
    /// Waiting for its bridge to enrol with the code.
    Pending,
    /// The code expired unused.
    Expired,
    Active,
    Revoked,
}

impl DeviceState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceState::Pending => "pending",
            DeviceState::Expired => "expired",
            DeviceState::Active => "active",
            DeviceState::Revoked => "revoked",
        }
    }
}

impl Device {
    pub fn state(&self, now: DateTime<Utc>) -> DeviceState {
        if self.revoked_at.is_some() {
            DeviceState::Revoked
        } else if self.enrolled_at.is_some() {
            DeviceState::Active
        } else if self.enrolment_expires_at.is_some_and(|t| t > now) {
            DeviceState::Pending
        } else {
            DeviceState::Expired
        }
    }
}

/// A one-time code (`XXXX-XXXX-XXXX`, 60 random bits) and the hash stored for it.
pub fn enrolment_code() -> Result<(String, String), aws_lc_rs::error::Unspecified> {
    let mut random = [0u8; 12];
    aws_lc_rs::rand::fill(&mut random)?;
    // 256 is a multiple of 32: the low five bits of a random byte are uniform.
    let chars: Vec<u8> = random
        .iter()
        .map(|b| ALPHABET[usize::from(b & 31)])
        .collect();
    let code = chars
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-");
    let hash = code_hash(&code);
    Ok((code, hash))
}

/// The stored form of a code as typed: case, hyphens and spaces do not matter, and the
/// letters Crockford reads as digits (O, I, L) are read so.
pub fn code_hash(typed: &str) -> String {
    let canonical: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '\u{3000}'))
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        })
        .collect();
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

/// SHA-256 (hex) of a certificate, the device's identity on the device port.
pub fn certificate_fingerprint(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_read_forgivingly() {
        let (code, hash) = enrolment_code().unwrap();
        assert_eq!(code.len(), 14);
        assert_eq!(code_hash(&code.to_lowercase().replace('-', " ")), hash);
        assert_eq!(code_hash("0I1L-abcd"), code_hash("O111ABCD"));
        assert_ne!(enrolment_code().unwrap().1, hash);
    }
}
