//! Staff passwords are chosen by people, so they are kept with a slow, memory-hard hash
//! (argon2id, the crate's defaults: 19 MiB, 2 passes). A check costs ~20 ms of a core, so every
//! hash and check runs off the request threads and at most `permits` at a time per replica: a
//! login flood waits for a permit (up to `wait`), and beyond that is refused as busy rather
//! than exhausting memory and cores (the hardening issue's lesson).

use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use tokio::sync::Semaphore;

/// The hasher is busy: try again after the duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy(pub Duration);

pub struct Passwords {
    permits: Semaphore,
    wait: Duration,
}

/// A PHC string no password matches, checked for unknown logins so that timing does not tell
/// which logins exist.
const NO_PASSWORD: &str = "$argon2id$v=19$m=19456,t=2,p=1$bm8tc3VjaC1hY2NvdW50$0000000000000000000000000000000000000000000";

impl Passwords {
    pub fn new(permits: usize, wait: Duration) -> Self {
        Self {
            permits: Semaphore::new(permits.max(1)),
            wait,
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let busy = Busy(Duration::from_secs(1));
        let permit = tokio::time::timeout(self.wait, self.permits.acquire())
            .await
            .map_err(|_| busy)?
            .map_err(|_| busy)?;
        let result = tokio::task::spawn_blocking(work).await.map_err(|_| busy);
        drop(permit);
        result
    }

    /// The PHC string to store for `password`.
    pub async fn hash(&self, password: &str) -> Result<String, Busy> {
        let password = password.to_owned();
        self.run(move || {
            let hashed: Result<PasswordHash, _> =
                Argon2::default().hash_password(password.as_bytes());
            hashed.map(|h| h.to_string())
        })
        .await?
        .map_err(|_| Busy(Duration::from_secs(1)))
    }

    /// Whether `password` matches `stored`; with no stored hash the same work is done against
    /// one nothing matches.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<bool, Busy> {
        let password = password.to_owned();
        let known = stored.is_some();
        let stored = stored.unwrap_or(NO_PASSWORD).to_owned();
        let matched = self
            .run(move || {
                PasswordHash::new(&stored).is_ok_and(|parsed| {
                    Argon2::default()
                        .verify_password(password.as_bytes(), &parsed)
                        .is_ok()
                })
            })
            .await?;
        Ok(known && matched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_password_verifies_and_another_does_not() {
        let p = Passwords::new(1, Duration::from_secs(5));
        let stored = p.hash("窓口のパスワード2026").await.unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(
            p.verify("窓口のパスワード2026", Some(&stored))
                .await
                .unwrap()
        );
        assert!(
            !p.verify("窓口のパスワード2025", Some(&stored))
                .await
                .unwrap()
        );
        assert!(!p.verify("anything", None).await.unwrap());
    }

    #[test]
    fn the_hash_for_unknown_logins_is_read_so_its_check_costs_the_same() {
        assert!(PasswordHash::new(NO_PASSWORD).is_ok());
    }

    #[tokio::test]
    async fn a_flood_beyond_the_permits_is_refused_as_busy() {
        let p = std::sync::Arc::new(Passwords::new(1, Duration::from_millis(1)));
        let stored = p.hash("correct horse battery").await.unwrap();
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let p = p.clone();
                let stored = stored.clone();
                tokio::spawn(async move { p.verify("wrong password!", Some(&stored)).await })
            })
            .collect();
        let mut busy = 0;
        for t in tasks {
            if t.await.unwrap().is_err() {
                busy += 1;
            }
        }
        assert!(busy > 0, "eight checks at once with one permit and no wait");
    }
}
