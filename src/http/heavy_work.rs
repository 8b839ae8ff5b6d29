//! Heavy work (printouts) off the threads that answer requests, and shared fairly.
//!
//! A printout lays out and writes a PDF: tens of milliseconds for a household, seconds for
//! a visit at its bounds under load. Run on actix's worker threads it held `/healthz` and
//! every other request behind it. Here it runs on tokio's blocking pool, and:
//!
//! - each client may have `per_client` pieces of heavy work admitted at once (running or
//!   waiting); beyond that it is answered 429 `busy` with `Retry-After` at once;
//! - at most `slots` run at once (the machine's cores); admitted work waits for a slot up to
//!   `wait_seconds`, and at most `queue` pieces wait in all; beyond either, 429 `busy`;
//! - work whose request went away (the client hung up, the request deadline passed) is never
//!   started, and work already running stops at its next step ([`Cancel`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_web::http::header;
use tokio::sync::Semaphore;

use super::problem::{ApiError, ProblemKind};
use crate::config::HeavyWorkSettings;
use crate::i18n::Text;

/// Set when the request that asked for the work is gone; the work checks it between steps.
#[derive(Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Cancels when dropped: the request's future holds it while the work runs.
struct CancelOnDrop(Cancel);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.0.store(true, Ordering::Relaxed);
    }
}

pub struct HeavyWork {
    slots: Arc<Semaphore>,
    admitted: Arc<Mutex<Admitted>>,
    settings: HeavyWorkSettings,
}

#[derive(Default)]
struct Admitted {
    by_client: HashMap<String, usize>,
    waiting: usize,
}

/// One admitted piece of work; gives its place back when dropped.
struct Admission {
    admitted: Arc<Mutex<Admitted>>,
    client: String,
    waiting: bool,
}

impl Admission {
    fn started(&mut self) {
        if std::mem::take(&mut self.waiting) {
            let mut a = self.admitted.lock().unwrap_or_else(|p| p.into_inner());
            a.waiting = a.waiting.saturating_sub(1);
        }
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        let mut a = self.admitted.lock().unwrap_or_else(|p| p.into_inner());
        if self.waiting {
            a.waiting = a.waiting.saturating_sub(1);
        }
        if let Some(n) = a.by_client.get_mut(&self.client) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                a.by_client.remove(&self.client);
            }
        }
    }
}

fn busy(seconds: u64, ja: String, en: String) -> ApiError {
    ApiError::new(ProblemKind::Busy, Text::new(ja, en))
        .with_header(header::RETRY_AFTER, &seconds.max(1).to_string())
}

impl HeavyWork {
    pub fn new(settings: &HeavyWorkSettings) -> Self {
        let slots = match settings.slots {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        Self {
            slots: Arc::new(Semaphore::new(slots)),
            admitted: Arc::default(),
            settings: HeavyWorkSettings {
                slots,
                ..settings.clone()
            },
        }
    }

    fn admit(&self, client: &str) -> Result<Admission, ApiError> {
        let mut a = self.admitted.lock().unwrap_or_else(|p| p.into_inner());
        let mine = a.by_client.get(client).copied().unwrap_or(0);
        let limit = self.settings.per_client;
        if mine >= limit {
            return Err(busy(
                1,
                format!(
                    "このクライアントの印刷などの重い処理はすでに{limit}件受け付けています。終わってから再試行してください。"
                ),
                format!(
                    "This client already has {limit} pieces of heavy work (printouts) under way; retry when one has finished."
                ),
            ));
        }
        let must_wait = self.slots.available_permits() == 0;
        if must_wait && a.waiting >= self.settings.queue {
            return Err(busy(
                self.settings.wait_seconds,
                "ゲートウェイ全体で重い処理の待ちがいっぱいです。しばらくしてから再試行してください。"
                    .to_owned(),
                "The gateway's queue of heavy work is full; retry shortly.".to_owned(),
            ));
        }
        *a.by_client.entry(client.to_owned()).or_default() += 1;
        if must_wait {
            a.waiting += 1;
        }
        Ok(Admission {
            admitted: self.admitted.clone(),
            client: client.to_owned(),
            waiting: must_wait,
        })
    }

    /// Runs `work` on the blocking pool for `client` under the limits above. `work` should
    /// check its [`Cancel`] between steps and give up (with any error) once it is set.
    pub async fn run<T, F>(&self, client: &str, work: F) -> Result<T, ApiError>
    where
        F: FnOnce(&Cancel) -> T + Send + 'static,
        T: Send + 'static,
    {
        let mut admission = self.admit(client)?;
        let wait = Duration::from_secs(self.settings.wait_seconds);
        let permit = tokio::time::timeout(wait, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| {
                busy(
                    self.settings.wait_seconds,
                    format!(
                        "重い処理の順番が{}秒以内に来ませんでした。しばらくしてから再試行してください。",
                        self.settings.wait_seconds
                    ),
                    format!(
                        "No slot for heavy work came free within {} s; retry shortly.",
                        self.settings.wait_seconds
                    ),
                )
            })?
            .map_err(ApiError::internal)?;
        admission.started();
        let cancel = Cancel::default();
        let guard = CancelOnDrop(cancel.clone());
        let done = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work(&cancel)
        })
        .await
        .map_err(ApiError::internal);
        drop(guard);
        drop(admission);
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(per_client: usize, slots: usize, queue: usize) -> HeavyWork {
        HeavyWork::new(&HeavyWorkSettings {
            per_client,
            slots,
            queue,
            wait_seconds: 1,
        })
    }

    #[tokio::test]
    async fn a_client_over_its_share_is_refused_at_once_while_another_client_is_served() {
        let gate = Arc::new(gate(1, 2, 4));
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let first = {
            let gate = gate.clone();
            tokio::spawn(async move {
                gate.run("a", move |_| {
                    hold.recv().ok();
                })
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        let second = gate.run("a", |_| ()).await.expect_err("over a's share");
        assert_eq!(second.kind, ProblemKind::Busy);
        gate.run("b", |_| ()).await.expect("b is served");
        release.send(()).ok();
        first.await.expect("joined").expect("first ran");
        gate.run("a", |_| ())
            .await
            .expect("a's place is free again");
    }

    #[tokio::test]
    async fn work_whose_request_is_gone_is_told_to_stop() {
        let gate = Arc::new(gate(2, 1, 4));
        let (saw_cancel, seen) = std::sync::mpsc::channel::<bool>();
        let running = {
            let gate = gate.clone();
            tokio::spawn(async move {
                gate.run("a", move |cancel| {
                    let start = std::time::Instant::now();
                    while !cancel.is_cancelled() && start.elapsed() < Duration::from_secs(5) {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    saw_cancel.send(cancel.is_cancelled()).ok();
                })
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        running.abort();
        let cancelled =
            tokio::task::spawn_blocking(move || seen.recv_timeout(Duration::from_secs(3)))
                .await
                .expect("joined")
                .expect("the work ended");
        assert!(cancelled, "the work ran on after its request was dropped");
    }
}
