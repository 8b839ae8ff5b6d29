//! The delivery worker every replica runs: it claims due deliveries from the outbox (the
//! database shares them out between replicas), hands them to their connectors, and records
//! what came of each: delivered, tried again after a backoff, or dead. A connector that keeps
//! failing has its circuit breaker opened: its deliveries wait, unattempted, until a trial
//! goes through.
//!
//! Delivery is at least once: a replica killed after the core system received a batch but
//! before recording it leaves the lease to run out, and another worker sends the batch again.
//! Both connectors make that harmless at the receiving end: the `file` connector writes the
//! same bytes under the same name, the `http` connector sends the same `Idempotency-Key`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use prometheus::{IntCounterVec, IntGaugeVec, Opts, Registry};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::connectors::file;
use super::connectors::http::{HttpConnector, Sent};
use super::connectors::webhook;
use super::outbox::{self, Breaker, Channel, Delivery, Gate, RetryPolicy, Routes};
use crate::config::{ConnectorKind, ConnectorSettings, DeliverySettings};
use crate::store::{Claimed, Finish, Store, StoreError};
use crate::tenancy::LgCode;
use crate::visits::confirmation::Application;

/// POSTs one worker has in flight to one core system at once.
const HTTP_CONCURRENCY: usize = 16;

/// The delivery counters and breaker gauges, in the Prometheus registry.
#[derive(Clone)]
pub struct DeliveryMetrics {
    outcomes: IntCounterVec,
    breaker_open: IntGaugeVec,
}

impl DeliveryMetrics {
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let outcomes = IntCounterVec::new(
            Opts::new(
                "deliveries_total",
                "Delivery attempts by connector and outcome (delivered, retry, dead, held)",
            )
            .namespace("madoguchi"),
            &["lg_code", "area", "outcome"],
        )?;
        registry.register(Box::new(outcomes.clone()))?;
        let breaker_open = IntGaugeVec::new(
            Opts::new(
                "delivery_breaker_open",
                "1 while this replica's circuit breaker for a connector is open",
            )
            .namespace("madoguchi"),
            &["lg_code", "area"],
        )?;
        registry.register(Box::new(breaker_open.clone()))?;
        Ok(Self {
            outcomes,
            breaker_open,
        })
    }
}

/// The running workers; dropping it stops them.
pub struct DeliveryWorker {
    handles: Vec<JoinHandle<()>>,
}

impl Drop for DeliveryWorker {
    fn drop(&mut self) {
        for handle in &self.handles {
            handle.abort();
        }
    }
}

/// Which deliveries a worker claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lane {
    /// The core systems' deliveries (file and http connectors).
    Core,
    /// Vendors' webhook messages: each endpoint's group is sent side by side with the
    /// others, so one slow receiver holds only its own messages.
    Webhooks,
}

#[derive(Clone)]
struct Worker {
    lane: Lane,
    /// The longest one webhook message may take (connecting and answering).
    webhook_timeout: Duration,
    store: Store,
    routes: Arc<Routes>,
    settings: DeliverySettings,
    policy: RetryPolicy,
    owner: String,
    http: HashMap<(String, String), Arc<HttpConnector>>,
    /// The replica's breakers, shared by its workers.
    breakers: Arc<std::sync::Mutex<HashMap<(String, String), Breaker>>>,
    metrics: DeliveryMetrics,
    /// Claims made so far (each claims as `{owner}/{round}`).
    rounds: u64,
    /// Opens webhook endpoints' sealed secrets.
    server_key: Option<crate::secrets::ServerKey>,
    webhook_client: reqwest::Client,
    egress: Arc<super::egress::Egress>,
}

impl DeliveryWorker {
    pub fn start(
        store: Store,
        routes: Arc<Routes>,
        settings: DeliverySettings,
        wake: Arc<Notify>,
        metrics: DeliveryMetrics,
        server_key: Option<crate::secrets::ServerKey>,
        webhooks: &crate::config::WebhookSettings,
    ) -> Self {
        let egress = Arc::new(super::egress::Egress::new(webhooks.allow_networks.clone()));
        let webhook_timeout = Duration::from_secs(webhooks.timeout_seconds.max(1));
        let breakers = Arc::new(std::sync::Mutex::new(HashMap::new()));
        let lanes = std::iter::repeat_n(Lane::Core, settings.workers.max(1))
            .chain(std::iter::once(Lane::Webhooks));
        let handles = lanes
            .map(|lane| {
                let owner = format!("worker-{}", Uuid::now_v7());
                tracing::info!(owner = %owner, lane = ?lane, "delivery worker started");
                let worker = Worker {
                    lane,
                    webhook_timeout,
                    store: store.clone(),
                    routes: routes.clone(),
                    policy: RetryPolicy::from_settings(&settings),
                    settings: settings.clone(),
                    owner,
                    http: HashMap::new(),
                    breakers: breakers.clone(),
                    metrics: metrics.clone(),
                    rounds: 0,
                    server_key: server_key.clone(),
                    webhook_client: egress.client(webhook_timeout),
                    egress: egress.clone(),
                };
                tokio::spawn(worker.run(wake.clone()))
            })
            .collect();
        Self { handles }
    }
}

impl Worker {
    async fn run(mut self, wake: Arc<Notify>) {
        let idle = Duration::from_millis(self.settings.poll_interval_ms.max(10));
        loop {
            match self.round().await {
                Ok(0) => {
                    tokio::select! {
                        _ = wake.notified() => {}
                        _ = tokio::time::sleep(idle) => {}
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "delivery round failed; trying again shortly");
                    tokio::time::sleep(idle).await;
                }
            }
        }
    }

    /// Claims one batch and delivers it; the number claimed.
    async fn round(&mut self) -> Result<usize, StoreError> {
        let now = crate::clock::now();
        let lease = chrono::Duration::seconds(
            i64::try_from(self.settings.lease_seconds.max(1)).unwrap_or(60),
        );
        let started = Instant::now();
        // The lease counts from the claim; measured from before it, the worker stops early
        // rather than late.
        let lease_ends = started + lease.to_std().unwrap_or_default();
        // A token of its own for each claim: finishing names what this claim leased.
        self.rounds = self.rounds.wrapping_add(1);
        let owner = format!("{}/{}", self.owner, self.rounds);
        let claimed = self
            .store
            .claim_deliveries(
                &owner,
                now,
                lease,
                self.settings.batch_size.max(1),
                self.lane == Lane::Webhooks,
            )
            .await?;
        let claimed_after = started.elapsed();
        let count = claimed.len();
        if count == 0 {
            return Ok(0);
        }
        // Grouped by connector, in the order claimed.
        let mut groups: Vec<((String, String), Vec<Claimed>)> = Vec::new();
        for c in claimed {
            let key = match (c.0.connector, c.0.endpoint_id) {
                (Channel::Webhook, Some(endpoint)) => {
                    (c.0.lg_code.clone(), format!("webhook:{endpoint}"))
                }
                _ => (c.0.lg_code.clone(), c.0.area.clone()),
            };
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, list)) => list.push(c),
                None => groups.push((key, vec![c])),
            }
        }
        if self.lane == Lane::Webhooks {
            self.send_webhooks_apart(&owner, groups, lease_ends).await?;
            return Ok(count);
        }
        let mut outcomes = Vec::with_capacity(count);
        for (key, group) in groups {
            self.deliver_group(&key, group, &mut outcomes, lease_ends)
                .await;
        }
        let delivered_after = started.elapsed();
        self.store
            .finish_deliveries(&owner, &outcomes, crate::clock::now())
            .await?;
        tracing::debug!(
            claimed = count,
            claim_ms = claimed_after.as_millis(),
            deliver_ms = (delivered_after - claimed_after).as_millis(),
            record_ms = (started.elapsed() - delivered_after).as_millis(),
            "delivery round"
        );
        self.count(&outcomes);
        Ok(count)
    }

    /// Each endpoint's messages of a claim under a lease of their own, sent by a task of
    /// their own that records what came of them: the next claim does not wait for a slow
    /// receiver, and takes nothing more of an endpoint while its messages are in flight.
    async fn send_webhooks_apart(
        &self,
        owner: &str,
        groups: Vec<((String, String), Vec<Claimed>)>,
        lease_ends: Instant,
    ) -> Result<(), StoreError> {
        for (i, (key, group)) in groups.into_iter().enumerate() {
            let Some(endpoint) = group.first().and_then(|(d, _)| d.endpoint_id) else {
                continue;
            };
            let own = format!("{owner}/{i}");
            self.store.relabel_lease(owner, endpoint, &own).await?;
            let worker = self.clone();
            tokio::spawn(async move {
                let mut outcomes = Vec::with_capacity(group.len());
                worker
                    .deliver_webhook_group(&key, group, &mut outcomes, lease_ends)
                    .await;
                match worker
                    .store
                    .finish_deliveries(&own, &outcomes, crate::clock::now())
                    .await
                {
                    Ok(()) => worker.count(&outcomes),
                    Err(e) => {
                        tracing::warn!(error = %e, "could not record webhook messages sent; their lease runs out and they are sent again")
                    }
                }
            });
        }
        Ok(())
    }

    fn count(&self, outcomes: &[(Delivery, Finish)]) {
        for (delivery, finish) in outcomes {
            let outcome = match finish {
                Finish::Delivered(_) => "delivered",
                Finish::Retry { .. } => "retry",
                Finish::Dead { .. } => {
                    tracing::warn!(delivery = %delivery.id, lg_code = %delivery.lg_code, area = %delivery.area, "delivery dead after its last attempt; replay it once the cause is fixed");
                    "dead"
                }
                Finish::Release { .. } => "held",
            };
            self.metrics
                .outcomes
                .with_label_values(&[&delivery.lg_code, &delivery.area, outcome])
                .inc();
        }
    }

    fn failed(
        &self,
        delivery: &Delivery,
        error: String,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Finish {
        let attempts = delivery.attempts.saturating_add(1);
        match self.policy.wait(attempts, rand::random::<f64>()) {
            Some(wait) => Finish::Retry {
                at: now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1)),
                error,
            },
            None => Finish::Dead { error },
        }
    }

    /// `f` on the connector's breaker (made on first use).
    fn breaker<T>(&self, key: &(String, String), f: impl FnOnce(&mut Breaker) -> T) -> T {
        let (failures, open_ms) = (
            self.settings.breaker_failures,
            self.settings.breaker_open_ms,
        );
        let mut breakers = self.breakers.lock().unwrap_or_else(|p| p.into_inner());
        f(breakers
            .entry(key.clone())
            .or_insert_with(|| Breaker::new(failures, Duration::from_millis(open_ms))))
    }

    fn note_breaker(&self, key: &(String, String), success: bool) {
        let now = Instant::now();
        let (changed, open) = self.breaker(key, |breaker| {
            let changed = if success {
                breaker.success()
            } else {
                breaker.failure(now)
            };
            (changed, breaker.is_open())
        });
        if changed {
            if open {
                tracing::warn!(lg_code = %key.0, area = %key.1, "circuit breaker opened: the core system keeps failing; its deliveries wait");
            } else {
                tracing::info!(lg_code = %key.0, area = %key.1, "circuit breaker closed: the core system answers again");
            }
        }
        self.metrics
            .breaker_open
            .with_label_values(&[&key.0, &key.1])
            .set(i64::from(open));
    }

    /// What of `group` the connector's breaker lets through now; the rest is released.
    fn through_breaker(
        &self,
        key: &(String, String),
        mut group: Vec<Claimed>,
        outcomes: &mut Vec<(Delivery, Finish)>,
    ) -> Option<Vec<Claimed>> {
        let now = crate::clock::now();
        let instant = Instant::now();
        match self.breaker(key, |b| b.gate(instant)) {
            Gate::Closed => {}
            Gate::Open => {
                let until = self.breaker(key, |b| b.open_until()).unwrap_or(instant);
                let at = now
                    + chrono::Duration::from_std(until.saturating_duration_since(instant))
                        .unwrap_or_default();
                outcomes.extend(group.into_iter().map(|(d, _)| (d, Finish::Release { at })));
                return None;
            }
            Gate::Trial => {
                // One delivery tries; the rest wait for its outcome.
                let rest = group.split_off(1);
                outcomes.extend(
                    rest.into_iter()
                        .map(|(d, _)| (d, Finish::Release { at: now })),
                );
            }
        }
        Some(group)
    }

    /// One webhook endpoint's messages of a round (the webhook lane).
    async fn deliver_webhook_group(
        &self,
        key: &(String, String),
        group: Vec<Claimed>,
        outcomes: &mut Vec<(Delivery, Finish)>,
        lease_ends: Instant,
    ) {
        let endpoint = group.first().and_then(|(d, _)| d.endpoint_id);
        let Some(endpoint) = endpoint else {
            outcomes.extend(group.into_iter().map(|(d, _)| {
                let error = "a webhook message without its endpoint".to_owned();
                (d, Finish::Dead { error })
            }));
            return;
        };
        if let Some(group) = self.through_breaker(key, group, outcomes) {
            self.deliver_webhooks(key, endpoint, group, outcomes, lease_ends)
                .await;
        }
    }

    /// One core system's deliveries of a round (the core lane: it claims no webhook message).
    async fn deliver_group(
        &mut self,
        key: &(String, String),
        group: Vec<Claimed>,
        outcomes: &mut Vec<(Delivery, Finish)>,
        lease_ends: Instant,
    ) {
        let connector = LgCode::parse(&key.0)
            .ok()
            .and_then(|lg| self.routes.pushing(&lg, &key.1).cloned());
        let Some(c) = connector else {
            for (d, _) in group {
                outcomes.push((
                    d,
                    Finish::Dead {
                        error: "この業務分野にはもう送信先(connector)が設定されていません。設定してから再送してください。 / The area has no pushing connector any more; configure one, then replay.".to_owned(),
                    },
                ));
            }
            return;
        };
        let Some(group) = self.through_breaker(key, group, outcomes) else {
            return;
        };
        match c.kind {
            ConnectorKind::File => self.deliver_files(key, &c, group, outcomes).await,
            ConnectorKind::Http => {
                self.deliver_http(key, &c, group, outcomes, lease_ends)
                    .await
            }
            kind => outcomes.extend(group.into_iter().map(|(d, _)| {
                let error = format!("connector kind {} pushes nothing", kind.as_str());
                (d, Finish::Dead { error })
            })),
        }
    }

    async fn deliver_files(
        &mut self,
        key: &(String, String),
        connector: &ConnectorSettings,
        group: Vec<Claimed>,
        outcomes: &mut Vec<(Delivery, Finish)>,
    ) {
        let Some(dir) = connector.dir.clone() else {
            outcomes.extend(group.into_iter().map(|(d, _)| {
                let error = "the file connector has no dir".to_owned();
                (d, Finish::Dead { error })
            }));
            return;
        };
        let documents: Vec<(Uuid, Vec<u8>)> = group
            .iter()
            .map(|(_, a): &(Delivery, Application)| (a.id, outbox::document_bytes(&key.0, a)))
            .collect();
        let (lg, area) = key.clone();
        let written = tokio::task::spawn_blocking(move || {
            file::write_batch(
                &dir,
                &lg,
                &area,
                &documents,
                Uuid::now_v7(),
                crate::clock::now(),
            )
        })
        .await;
        let now = crate::clock::now();
        match written {
            Ok(Ok(_)) => {
                self.note_breaker(key, true);
                outcomes.extend(group.into_iter().map(|(d, _)| (d, Finish::Delivered(None))));
            }
            Ok(Err(e)) => {
                self.note_breaker(key, false);
                tracing::warn!(lg_code = %key.0, area = %key.1, error = %e, "file connector could not write a batch");
                for (d, _) in group {
                    let finish = self.failed(&d, format!("file outbox: {e}"), now);
                    outcomes.push((d, finish));
                }
            }
            Err(e) => {
                for (d, _) in group {
                    let finish = self.failed(&d, format!("file outbox: {e}"), now);
                    outcomes.push((d, finish));
                }
            }
        }
    }

    async fn deliver_http(
        &mut self,
        key: &(String, String),
        connector: &ConnectorSettings,
        group: Vec<Claimed>,
        outcomes: &mut Vec<(Delivery, Finish)>,
        lease_ends: Instant,
    ) {
        let client = match self.http.get(key) {
            Some(c) => c.clone(),
            None => match HttpConnector::new(connector) {
                Ok(c) => {
                    let c = Arc::new(c);
                    self.http.insert(key.clone(), c.clone());
                    c
                }
                Err(e) => {
                    let now = crate::clock::now();
                    for (d, _) in group {
                        let finish = self.failed(&d, format!("http connector: {e}"), now);
                        outcomes.push((d, finish));
                    }
                    return;
                }
            },
        };
        let lg = key.0.clone();
        let lease = (lease_ends, Duration::from_secs(connector.timeout_seconds));
        self.send_in_chunks(key, group, outcomes, lease, |(d, a)| {
            let client = client.clone();
            let body = outbox::document_bytes(&lg, &a);
            async move {
                let sent = client.send(a.id, body).await;
                (d, sent)
            }
        })
        .await;
    }

    async fn deliver_webhooks(
        &self,
        key: &(String, String),
        endpoint: Uuid,
        group: Vec<Claimed>,
        outcomes: &mut Vec<(Delivery, Finish)>,
        lease_ends: Instant,
    ) {
        let now = crate::clock::now();
        let target = match self
            .store
            .webhook_target(endpoint, self.server_key.as_ref())
            .await
        {
            Ok(Some(target)) => target,
            Ok(None) => {
                outcomes.extend(group.into_iter().map(|(d, _)| {
                    (
                        d,
                        Finish::Dead {
                            error: "the webhook endpoint was removed".to_owned(),
                        },
                    )
                }));
                return;
            }
            Err(e) => {
                for (d, _) in group {
                    let finish = self.failed(&d, format!("webhook endpoint: {e}"), now);
                    outcomes.push((d, finish));
                }
                return;
            }
        };
        let client = self.webhook_client.clone();
        let egress = self.egress.clone();
        let lease = (lease_ends, self.webhook_timeout);
        self.send_in_chunks(key, group, outcomes, lease, |(d, _)| {
            let client = client.clone();
            let egress = egress.clone();
            let target = target.clone();
            async move {
                let payload = d.payload.clone().unwrap_or_default();
                let id = d.id.to_string();
                let sent = webhook::send(
                    &client,
                    &egress,
                    &target.url,
                    &target.secrets,
                    &id,
                    &payload,
                )
                .await;
                (d, sent)
            }
        })
        .await;
    }

    /// Sends a group a chunk at a time, so that a breaker opened by one chunk holds the rest.
    ///
    /// `lease` is when the claim's lease ends and the longest one message may take: a chunk
    /// is started only if it ends before the lease does. The rest is released at once, to be
    /// claimed again: sent after its lease ran out, a message could be claimed and sent by
    /// another worker at the same time (a slow receiver with hundreds of messages would
    /// otherwise get many of them twice).
    async fn send_in_chunks<F, Fut>(
        &self,
        key: &(String, String),
        group: Vec<Claimed>,
        outcomes: &mut Vec<(Delivery, Finish)>,
        lease: (Instant, Duration),
        send: F,
    ) where
        F: Fn(Claimed) -> Fut,
        Fut: std::future::Future<Output = (Delivery, Sent)>,
    {
        let mut group = group.into_iter();
        // The first chunk passed the group's gate (closed, or the one trial).
        let mut first = true;
        loop {
            let chunk: Vec<Claimed> = group.by_ref().take(HTTP_CONCURRENCY).collect();
            if chunk.is_empty() {
                break;
            }
            // The rest of the group is given back, now or once the breaker may close.
            let (lease_ends, per_message) = lease;
            let release_at = if Instant::now() + per_message >= lease_ends {
                tracing::debug!(
                    area = %key.1,
                    left = chunk.len() + group.len(),
                    "the claim's lease would run out before the next messages are answered: released to be claimed again"
                );
                Some(crate::clock::now())
            } else if !std::mem::take(&mut first) && self.breaker(key, |b| b.is_open()) {
                Some(
                    crate::clock::now()
                        + chrono::Duration::milliseconds(
                            i64::try_from(self.settings.breaker_open_ms).unwrap_or(i64::MAX),
                        ),
                )
            } else {
                None
            };
            if let Some(at) = release_at {
                outcomes.extend(
                    chunk
                        .into_iter()
                        .chain(group.by_ref())
                        .map(|(d, _)| (d, Finish::Release { at })),
                );
                break;
            }
            let sent: Vec<(Delivery, Sent)> = futures_util::stream::iter(chunk)
                .map(&send)
                .buffered(HTTP_CONCURRENCY)
                .collect()
                .await;
            self.record_sent(key, sent, outcomes);
        }
    }

    fn record_sent(
        &self,
        key: &(String, String),
        sent: Vec<(Delivery, Sent)>,
        outcomes: &mut Vec<(Delivery, Finish)>,
    ) {
        let now = crate::clock::now();
        for (d, s) in sent {
            match s {
                Sent::Delivered(answer) => {
                    self.note_breaker(key, true);
                    outcomes.push((d, Finish::Delivered(answer)));
                }
                Sent::Failed(error) => {
                    self.note_breaker(key, false);
                    let finish = self.failed(&d, error, now);
                    outcomes.push((d, finish));
                }
                Sent::Refused(error) => {
                    // The core system is up; it refuses this one application.
                    self.note_breaker(key, true);
                    outcomes.push((d, Finish::Dead { error }));
                }
            }
        }
    }
}
