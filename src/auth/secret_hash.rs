//! How client secrets are stored and checked.
//!
//! A client secret is 256 random bits made by the gateway, not a password a person chose: no
//! dictionary or brute force can find it, so a slow password hash protects nothing and only
//! hands every anonymous caller a way to burn CPU and memory (argon2id: ~19 MiB and ~20 ms per
//! check). The database keeps `sha256$<hex>` instead, compared in constant time.
//!
//! Secrets stored by earlier releases as argon2id PHC strings still verify, one at a time,
//! and are replaced by the SHA-256 form on their first successful use.

use argon2::Argon2;
use argon2::password_hash::PasswordVerifier;
use argon2::password_hash::phc::PasswordHash;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

const SHA256_PREFIX: &str = "sha256$";

/// argon2 checks of legacy hashes run one at a time per replica, so that a flood of them
/// costs one core and ~19 MiB at most.
static LEGACY_CHECKS: Semaphore = Semaphore::const_new(1);

/// The stored form of a secret.
pub fn hash(secret: &str) -> String {
    format!(
        "{SHA256_PREFIX}{}",
        hex::encode(Sha256::digest(secret.as_bytes()))
    )
}

/// The result of checking a presented secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    Match {
        /// The hash to store instead of a legacy one.
        rehash: Option<String>,
    },
    Mismatch,
}

fn sha256_matches(presented: &str, stored_hex: &str) -> bool {
    let presented = Sha256::digest(presented.as_bytes());
    let Ok(stored) = hex::decode(stored_hex) else {
        return false;
    };
    aws_lc_rs::constant_time::verify_slices_are_equal(&presented, &stored).is_ok()
}

fn argon2_matches(presented: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(presented.as_bytes(), &parsed)
            .is_ok()
    })
}

/// Checks `presented` against a stored hash. `None` (an unknown client) does the same work
/// against a hash no secret matches, so that timing does not tell which client ids exist.
pub async fn check(presented: &str, stored: Option<&str>) -> Check {
    let Some(stored) = stored else {
        let _ = sha256_matches(presented, &"0".repeat(64));
        return Check::Mismatch;
    };
    if let Some(digest) = stored.strip_prefix(SHA256_PREFIX) {
        return if sha256_matches(presented, digest) {
            Check::Match { rehash: None }
        } else {
            Check::Mismatch
        };
    }
    if !stored.starts_with("$argon2") {
        return Check::Mismatch;
    }
    let Ok(_permit) = LEGACY_CHECKS.acquire().await else {
        return Check::Mismatch;
    };
    let (presented_owned, phc) = (presented.to_owned(), stored.to_owned());
    let matched = tokio::task::spawn_blocking(move || argon2_matches(&presented_owned, &phc))
        .await
        .unwrap_or(false);
    if matched {
        Check::Match {
            rehash: Some(hash(presented)),
        }
    } else {
        Check::Mismatch
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::PasswordHasher;

    #[tokio::test]
    async fn a_secret_matches_only_its_own_hash() {
        let stored = hash("mdgs_right");
        assert!(stored.starts_with("sha256$"));
        assert_eq!(stored.len(), 7 + 64);
        assert_eq!(
            check("mdgs_right", Some(&stored)).await,
            Check::Match { rehash: None }
        );
        assert_eq!(check("mdgs_wrong", Some(&stored)).await, Check::Mismatch);
        assert_eq!(check("mdgs_right", None).await, Check::Mismatch);
        assert_eq!(
            check("mdgs_right", Some("sha256$zz")).await,
            Check::Mismatch
        );
        assert_eq!(check("mdgs_right", Some("plain")).await, Check::Mismatch);
    }

    #[tokio::test]
    async fn a_legacy_argon2_hash_still_matches_and_asks_to_be_replaced() {
        let legacy = Argon2::default()
            .hash_password(b"mdgs_old")
            .unwrap()
            .to_string();
        assert_eq!(
            check("mdgs_old", Some(&legacy)).await,
            Check::Match {
                rehash: Some(hash("mdgs_old"))
            }
        );
        assert_eq!(check("mdgs_new", Some(&legacy)).await, Check::Mismatch);
    }
}
