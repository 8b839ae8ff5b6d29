//! Background work of every replica: purging expired idempotency keys, recording counted
//! repeats of refused accesses, checkpointing the audit chain, and closing conformance
//! sessions past their time. Each job is safe to run on every replica at once (the database
//! serializes them), so no replica is special.

use std::future::Future;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::config::Settings;
use crate::secrets::ServerKey;
use crate::store::Store;

/// The running jobs; dropping it stops them.
pub struct Maintenance {
    jobs: Vec<JoinHandle<()>>,
}

impl Drop for Maintenance {
    fn drop(&mut self) {
        for job in &self.jobs {
            job.abort();
        }
    }
}

/// Runs `job` every `period` (the first time after one period). A failure is logged and the
/// job runs again next time.
fn every<F, Fut>(name: &'static str, period: Duration, job: F) -> JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = Result<u64, crate::store::StoreError>> + Send,
{
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match job().await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(job = name, count = n, "maintenance"),
                Err(e) => {
                    tracing::warn!(job = name, error = %e, "maintenance job failed; it runs again later")
                }
            }
        }
    })
}

impl Maintenance {
    pub fn start(store: &Store, settings: &Settings, key: Option<ServerKey>) -> Self {
        let mut jobs = Vec::new();
        let purge = Duration::from_secs(settings.idempotency.purge_interval_seconds);
        let s = store.clone();
        jobs.push(every("idempotency purge", purge, move || {
            let s = s.clone();
            async move { s.purge_idempotency().await }
        }));

        let window = Duration::from_secs(settings.audit.denial_window_seconds);
        let s = store.clone();
        jobs.push(every(
            "audit denial counts",
            (window / 2).max(Duration::from_secs(1)),
            move || {
                let s = s.clone();
                async move { crate::audit::flush_denials(&s, window).await }
            },
        ));

        let keep = settings.card.result_keep();
        let s = store.clone();
        jobs.push(every(
            "card session results purge",
            Duration::from_secs(60),
            move || {
                let s = s.clone();
                async move { s.purge_card_results(chrono::Utc::now() - keep).await }
            },
        ));

        let s = store.clone();
        jobs.push(every(
            "client address purge",
            Duration::from_secs(3600),
            move || {
                let s = s.clone();
                async move {
                    let before = chrono::Utc::now() - crate::auth::KNOWN_GOOD_FOR;
                    s.purge_client_addresses(before).await
                }
            },
        ));

        let s = store.clone();
        jobs.push(every(
            "expired conformance sessions",
            Duration::from_secs(300),
            move || {
                let s = s.clone();
                async move {
                    crate::conformance_sessions::service::close_expired(&s, chrono::Utc::now())
                        .await
                }
            },
        ));

        if settings.audit.checkpoint_seconds > 0 {
            let period = Duration::from_secs(settings.audit.checkpoint_seconds);
            let s = store.clone();
            let receipt = settings.audit_receipt_path();
            jobs.push(every("audit checkpoint", period, move || {
                let (s, key, receipt) = (s.clone(), key.clone(), receipt.clone());
                async move {
                    let (written, _) = crate::audit::checkpoint(&s, key.as_ref(), &receipt).await?;
                    Ok(u64::from(written.is_some()))
                }
            }));
        }
        Self { jobs }
    }
}
