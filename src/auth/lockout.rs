//! Failed client authentications: after too many, further attempts wait, with a backoff that
//! doubles with every further attempt up to a maximum. A refused attempt costs no hash. Three
//! counters, so that one caller's failures hold back only what they aimed at:
//!
//! - failures naming no existing client, per address (`address_failures`): they lock that
//!   address for attempts naming no existing client only — a real client behind the same
//!   address (an ingress, a municipal NAT) is not held back by them;
//! - failures for one existing client from one address (`address_failures`);
//! - failures for one existing client from anywhere (`client_failures`).
//!
//! Someone who knows a client id could lock that client out by failing on purpose from many
//! addresses. Addresses from which a client recently authenticated are therefore exempt from
//! both limits for that client: the vendor's own servers keep getting tokens during such an
//! attack.
//!
//! The counters live in each replica's memory (bounded caches): behind N replicas an attacker
//! gets up to N times the allowance, which still bounds the work each replica does. The known
//! good addresses are also kept in the database (`client_addresses`, by the caller in
//! `authenticate.rs`), so that after a restart a client is not locked out by failures aimed at
//! it before it has authenticated again.

use std::future::ready;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use moka::future::Cache;
use uuid::Uuid;

use crate::config::LockoutSettings;

/// How long a successful (client, address) pair stays exempt.
pub const KNOWN_GOOD_FOR: Duration = Duration::from_secs(24 * 3600);
/// Entries per cache: enough for any real deployment, bounded against address floods.
const CAPACITY: u64 = 100_000;

#[derive(Debug, Clone, Copy, Default)]
struct Failures {
    count: u32,
    locked_until: Option<Instant>,
}

/// One more failure: from the threshold on, a wait of 1 s, doubling with each further
/// failure, up to `max`.
fn bumped(previous: Option<Failures>, threshold: u32, max: Duration) -> Failures {
    let mut failures = previous.unwrap_or_default();
    failures.count = failures.count.saturating_add(1);
    if failures.count >= threshold {
        let doublings = (failures.count - threshold).min(30);
        let backoff = Duration::from_secs(1u64 << doublings).min(max);
        failures.locked_until = Some(Instant::now() + backoff);
    }
    failures
}

impl Failures {
    fn remaining(&self, now: Instant) -> Option<Duration> {
        self.locked_until
            .filter(|until| *until > now)
            .map(|until| until - now)
    }
}

fn failure_cache<K>(window: Duration) -> Cache<K, Failures>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
{
    Cache::builder()
        .max_capacity(CAPACITY)
        .time_to_idle(window)
        .build()
}

pub struct Lockout {
    settings: LockoutSettings,
    addresses: Cache<IpAddr, Failures>,
    pairs: Cache<(Uuid, IpAddr), Failures>,
    clients: Cache<Uuid, Failures>,
    known_good: Cache<(Uuid, IpAddr), ()>,
}

impl Lockout {
    pub fn new(settings: &LockoutSettings) -> Self {
        let window = Duration::from_secs(settings.window_seconds);
        Self {
            settings: settings.clone(),
            addresses: failure_cache(window),
            pairs: failure_cache(window),
            clients: failure_cache(window),
            known_good: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(KNOWN_GOOD_FOR)
                .build(),
        }
    }

    /// `Err(wait)` when the attempt must be refused without checking the secret. `client` is
    /// the existing client the attempt names, if any.
    pub async fn check(&self, client: Option<Uuid>, address: IpAddr) -> Result<(), Duration> {
        let now = Instant::now();
        let counters = match client {
            Some(client) if self.known_good.contains_key(&(client, address)) => return Ok(()),
            Some(client) => [
                self.pairs.get(&(client, address)).await,
                self.clients.get(&client).await,
            ],
            None => [self.addresses.get(&address).await, None],
        };
        let wait = counters
            .into_iter()
            .flatten()
            .filter_map(|f| f.remaining(now))
            .max();
        match wait {
            Some(wait) => Err(wait),
            None => Ok(()),
        }
    }

    /// Counts a failure from `address`, for `client` when it names an existing one.
    pub async fn record_failure(&self, client: Option<Uuid>, address: IpAddr) {
        let settings = &self.settings;
        let Some(client) = client else {
            let count = self
                .bump(&self.addresses, address, settings.address_failures)
                .await;
            if count == settings.address_failures {
                tracing::warn!(
                    address = %address,
                    failures = count,
                    "client authentication with unknown client ids keeps failing from one address: such attempts from it now wait"
                );
            }
            return;
        };
        let count = self
            .bump(&self.pairs, (client, address), settings.address_failures)
            .await;
        if count == settings.address_failures {
            tracing::warn!(
                client_id = %client,
                address = %address,
                failures = count,
                "authentication of one client keeps failing from one address: its attempts from there now wait"
            );
        }
        let count = self
            .bump(&self.clients, client, settings.client_failures)
            .await;
        if count == settings.client_failures {
            tracing::warn!(
                client_id = %client,
                failures = count,
                "authentication of one client keeps failing: attempts from addresses it has not used now wait"
            );
        }
    }

    /// One more failure for `key`; returns how many there are now.
    async fn bump<K>(&self, cache: &Cache<K, Failures>, key: K, threshold: u32) -> u32
    where
        K: std::hash::Hash + Eq + Send + Sync + Clone + 'static,
    {
        let max = Duration::from_secs(self.settings.max_seconds);
        cache
            .entry(key)
            .and_upsert_with(|e| ready(bumped(e.map(|e| e.into_value()), threshold, max)))
            .await
            .into_value()
            .count
    }

    /// Remembers that `client` authenticated from `address`; `true` when this replica did not
    /// know it yet (the caller then records it in the database too).
    pub async fn record_success(&self, client: Uuid, address: IpAddr) -> bool {
        self.known_good
            .entry((client, address))
            .or_insert(())
            .await
            .is_fresh()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> LockoutSettings {
        LockoutSettings {
            address_failures: 3,
            client_failures: 5,
            max_seconds: 4,
            window_seconds: 60,
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[tokio::test]
    async fn an_address_waits_after_its_failures_with_a_growing_backoff() {
        let lockout = Lockout::new(&settings());
        let attacker = ip("192.0.2.1");
        for _ in 0..2 {
            lockout.record_failure(None, attacker).await;
            assert!(lockout.check(None, attacker).await.is_ok());
        }
        lockout.record_failure(None, attacker).await;
        let first = lockout.check(None, attacker).await.unwrap_err();
        assert!(first <= Duration::from_secs(1) && first > Duration::ZERO);
        lockout.record_failure(None, attacker).await;
        let second = lockout.check(None, attacker).await.unwrap_err();
        assert!(second > Duration::from_secs(1), "{second:?}");
        for _ in 0..10 {
            lockout.record_failure(None, attacker).await;
        }
        let capped = lockout.check(None, attacker).await.unwrap_err();
        assert!(capped <= Duration::from_secs(4), "{capped:?}");
        assert!(lockout.check(None, ip("192.0.2.2")).await.is_ok());
    }

    /// The probe: failures from a shared address (the ingress) locked out clients new to it.
    #[tokio::test]
    async fn someone_else_s_failures_from_a_shared_address_hold_back_no_real_client() {
        let lockout = Lockout::new(&settings());
        let ingress = ip("10.0.0.1");
        let (victim, newcomer) = (Uuid::now_v7(), Uuid::now_v7());
        for _ in 0..12 {
            lockout.record_failure(None, ingress).await;
        }
        assert!(lockout.check(None, ingress).await.is_err());
        assert!(lockout.check(Some(newcomer), ingress).await.is_ok());
        // Failures for one client hold back that client there, and nobody else.
        for _ in 0..3 {
            lockout.record_failure(Some(victim), ingress).await;
        }
        assert!(lockout.check(Some(victim), ingress).await.is_err());
        assert!(lockout.check(Some(newcomer), ingress).await.is_ok());
    }

    #[tokio::test]
    async fn a_locked_client_still_authenticates_from_where_it_did_before() {
        let lockout = Lockout::new(&settings());
        let client = Uuid::now_v7();
        let home = ip("198.51.100.7");
        lockout.record_success(client, home).await;
        for n in 0..5 {
            lockout
                .record_failure(Some(client), ip(&format!("203.0.113.{n}")))
                .await;
        }
        assert!(
            lockout
                .check(Some(client), ip("203.0.113.99"))
                .await
                .is_err()
        );
        assert!(lockout.check(Some(client), home).await.is_ok());
        assert!(
            lockout
                .check(Some(Uuid::now_v7()), ip("203.0.113.99"))
                .await
                .is_ok()
        );
    }
}
