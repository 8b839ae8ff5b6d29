//! The outbox's rows: deliveries written with the submission, claimed by the workers of any
//! replica under a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite has one writer at a
//! time), and finished as delivered, retried later or dead.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, LockBehavior, LockType, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::entities::application as app;
use super::entities::delivery::{self, ActiveModel, Column, Entity};
use super::visits::application;
use super::{Page, Store, StoreError};
use crate::audit::{Action, Actor, AuditEntry};
use crate::link::outbox::{Channel, Delivery, DeliveryState, NewDelivery};
use crate::tenancy::LgCode;
use crate::visits::confirmation::{Acknowledgement, Application, ApplicationState};

/// What became of one claimed delivery.
#[derive(Debug, Clone)]
pub enum Finish {
    /// Delivered; with the core system's answer when it gave one at once.
    Delivered(Option<(Acknowledgement, Option<String>)>),
    /// Failed; tried again at `at`.
    Retry { at: DateTime<Utc>, error: String },
    /// Failed for the last time, or refused for good: the dead letter.
    Dead { error: String },
    /// Not attempted (the connector's breaker is open): given back for `at`, no attempt
    /// counted.
    Release { at: DateTime<Utc> },
}

/// What came of a replay.
#[derive(Debug)]
pub enum Replay {
    NotFound,
    /// Only a dead delivery is replayed; this one is in that state.
    NotDead(DeliveryState),
    Done(Box<Delivery>),
}

/// The webhook messages of one endpoint.
fn messages_of(endpoint: Uuid) -> sea_orm::Select<Entity> {
    Entity::find()
        .filter(Column::EndpointId.eq(endpoint.to_string()))
        .filter(Column::Connector.eq(Channel::Webhook.as_str()))
}

/// What came of a vendor's request to send a webhook message again.
#[derive(Debug)]
pub enum Resend {
    NotFound,
    /// It is on its way already (waiting for an attempt or a retry).
    Pending,
    Done(Box<Delivery>),
}

/// The rows of a submission's deliveries, each due at once.
pub(super) fn delivery_rows(
    lg_code: &LgCode,
    deliveries: &[NewDelivery],
    now: DateTime<Utc>,
) -> Vec<ActiveModel> {
    deliveries
        .iter()
        .map(|d| ActiveModel {
            id: Set(d.id.to_string()),
            application_id: Set(d.application_id.to_string()),
            lg_code: Set(lg_code.to_string()),
            area: Set(d.area.clone()),
            connector: Set(d.channel.as_str().to_owned()),
            line: Set(d.line.clone()),
            state: Set(DeliveryState::Pending.as_str().to_owned()),
            attempts: Set(0),
            next_attempt_at: Set(now),
            lease_owner: Set(None),
            lease_until: Set(None),
            last_error: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            delivered_at: Set(None),
            endpoint_id: Set(None),
            payload: Set(None),
        })
        .collect()
}

fn to_domain(row: delivery::Model) -> Result<Delivery, StoreError> {
    let corrupt = |what: &str, e: &dyn std::fmt::Display| {
        StoreError::Corrupt(format!("deliveries.{what} of {}: {e}", row.id))
    };
    Ok(Delivery {
        id: Uuid::parse_str(&row.id).map_err(|e| corrupt("id", &e))?,
        application_id: Uuid::parse_str(&row.application_id)
            .map_err(|e| corrupt("application_id", &e))?,
        connector: Channel::parse(&row.connector)
            .ok_or_else(|| corrupt("connector", &row.connector))?,
        endpoint_id: row
            .endpoint_id
            .as_deref()
            .map(Uuid::parse_str)
            .transpose()
            .map_err(|e| corrupt("endpoint_id", &e))?,
        payload: row.payload,
        state: DeliveryState::parse(&row.state).ok_or_else(|| corrupt("state", &row.state))?,
        attempts: u32::try_from(row.attempts).map_err(|e| corrupt("attempts", &e))?,
        lg_code: row.lg_code,
        area: row.area,
        next_attempt_at: row.next_attempt_at,
        last_error: row.last_error,
        created_at: row.created_at,
        updated_at: row.updated_at,
        delivered_at: row.delivered_at,
    })
}

/// Claimed work: a delivery and the application it carries.
pub type Claimed = (Delivery, Application);

const PENDING: &str = "pending";

/// The applications of the pending deliveries leased as `owner` (of the pushing connectors
/// only, with `pushed`).
fn leased_by(owner: &str, pushed: bool) -> sea_orm::sea_query::SelectStatement {
    let mut select = Query::select();
    select
        .column(Column::ApplicationId)
        .from(Entity)
        .and_where(Expr::col(Column::LeaseOwner).eq(owner))
        .and_where(Expr::col(Column::State).eq(PENDING));
    if pushed {
        select.and_where(Expr::col(Column::Connector).ne(Channel::Webhook.as_str()));
    }
    select
}

impl Store {
    /// A write transaction of the delivery workers. On PostgreSQL its commit does not wait
    /// for the WAL to reach the disk (`synchronous_commit = off`, for this transaction only):
    /// what a database crash could take back is a lease (the delivery is claimed again) or a
    /// delivery's record with what came of it (it is sent again, and the core system, seeing
    /// the same Idempotency-Key, answers again), which at-least-once delivery to idempotent
    /// receivers already allows. Submissions, and answers through the pull API, are committed
    /// as everything else is.
    async fn begin_outbox(&self) -> Result<sea_orm::DatabaseTransaction, StoreError> {
        let txn = self.begin_write().await?;
        if txn.get_database_backend() == DbBackend::Postgres {
            txn.execute_unprepared("SET LOCAL synchronous_commit = off")
                .await?;
        }
        Ok(txn)
    }

    /// Claims up to `limit` due deliveries for `owner` (a token new for each claim) until
    /// `now + lease`: those not held by a live lease, and only the first pending one of each
    /// line, so a resident's applications of one area go in order. Oldest first.
    ///
    /// The rows are chosen, leased and read back by statements that name the owner rather
    /// than hundreds of ids (a list of ids as parameters cost some 50 ms a statement).
    ///
    /// `webhooks` chooses the lane: vendors' webhook messages, or the core systems'
    /// deliveries. Each lane has its own workers, so a slow vendor never holds a core
    /// system's delivery behind it.
    pub async fn claim_deliveries(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: u64,
        webhooks: bool,
    ) -> Result<Vec<Claimed>, StoreError> {
        let txn = self.begin_outbox().await?;
        let earlier = Alias::new("earlier");
        let waiting_before = Query::select()
            .expr(Expr::val(1))
            .from_as(Entity, earlier.clone())
            .and_where(Expr::col((earlier.clone(), Column::Line)).equals((Entity, Column::Line)))
            .and_where(Expr::col((earlier.clone(), Column::Id)).lt(Expr::col((Entity, Column::Id))))
            .and_where(Expr::col((earlier, Column::State)).eq(PENDING))
            .to_owned();
        let mut due = Query::select();
        due.column(Column::Id)
            .from(Entity)
            .and_where(Expr::col(Column::State).eq(PENDING))
            .and_where(Expr::col(Column::NextAttemptAt).lte(now))
            .cond_where(
                Condition::any()
                    .add(Expr::col(Column::LeaseUntil).is_null())
                    .add(Expr::col(Column::LeaseUntil).lt(now)),
            )
            .and_where(Expr::exists(waiting_before).not())
            .and_where(if webhooks {
                // Nothing more of an endpoint while some of its messages are in flight.
                let busy = Alias::new("busy");
                let in_flight = Query::select()
                    .expr(Expr::val(1))
                    .from_as(Entity, busy.clone())
                    .and_where(
                        Expr::col((busy.clone(), Column::EndpointId))
                            .equals((Entity, Column::EndpointId)),
                    )
                    .and_where(Expr::col((busy.clone(), Column::State)).eq(PENDING))
                    .and_where(Expr::col((busy, Column::LeaseUntil)).gte(now))
                    .to_owned();
                Expr::col(Column::Connector)
                    .eq(Channel::Webhook.as_str())
                    .and(Expr::exists(in_flight).not())
            } else {
                Expr::col(Column::Connector).ne(Channel::Webhook.as_str())
            })
            .order_by(Column::Id, sea_orm::Order::Asc)
            .limit(limit);
        if txn.get_database_backend() == DbBackend::Postgres {
            // Other replicas' workers skip what this one is claiming instead of waiting.
            due.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        let mut rows = Entity::update_many()
            .col_expr(Column::LeaseOwner, Expr::value(owner))
            .col_expr(Column::LeaseUntil, Expr::value(now + lease))
            .filter(Column::Id.in_subquery(due))
            .exec_with_returning(&txn)
            .await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        rows.sort_by(|a, b| a.id.cmp(&b.id));
        let apps: std::collections::HashMap<String, app::Model> = app::Entity::find()
            .filter(app::Column::Id.in_subquery(leased_by(owner, false)))
            .all(&txn)
            .await?
            .into_iter()
            .map(|a| (a.id.clone(), a))
            .collect();
        txn.commit().await?;
        rows.into_iter()
            .map(|row| {
                // Several deliveries may carry one application (one per webhook endpoint of
                // the client, besides the core system's): each gets its own copy.
                let a = apps.get(&row.application_id).cloned().ok_or_else(|| {
                    StoreError::Corrupt(format!("delivery {} has no application", row.id))
                })?;
                Ok((to_domain(row)?, application(a)?))
            })
            .collect()
    }

    /// Moves the deliveries of webhook `endpoint` leased as `owner` to the lease `new_owner`,
    /// so they are finished apart from the rest of the claim.
    pub async fn relabel_lease(
        &self,
        owner: &str,
        endpoint: Uuid,
        new_owner: &str,
    ) -> Result<(), StoreError> {
        let txn = self.begin_outbox().await?;
        Entity::update_many()
            .col_expr(Column::LeaseOwner, Expr::value(new_owner))
            .filter(Column::LeaseOwner.eq(owner))
            .filter(Column::EndpointId.eq(endpoint.to_string()))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Records what became of the deliveries claimed as `owner` (every one of them must have
    /// its outcome), in one transaction with the core systems' answers. A delivery whose
    /// lease another worker has taken meanwhile is left to that worker. A delivered
    /// application moves from `submitted` to `delivered` (not back from a core system's
    /// answer), then on by the answer given with it.
    pub async fn finish_deliveries(
        &self,
        owner: &str,
        outcomes: &[(Delivery, Finish)],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let txn = self.begin_outbox().await?;
        // The few that were not delivered first, one by one: what is left leased is delivered.
        for (d, finish) in outcomes {
            let update = Entity::update_many()
                .col_expr(Column::UpdatedAt, Expr::value(now))
                .col_expr(Column::LeaseOwner, Expr::value(Option::<String>::None))
                .col_expr(
                    Column::LeaseUntil,
                    Expr::value(Option::<DateTime<Utc>>::None),
                )
                .filter(Column::Id.eq(d.id.to_string()))
                .filter(Column::LeaseOwner.eq(owner))
                .filter(Column::State.eq(PENDING));
            let update = match finish {
                Finish::Delivered(_) => continue,
                Finish::Retry { at, error } => update
                    .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
                    .col_expr(Column::NextAttemptAt, Expr::value(*at))
                    .col_expr(Column::LastError, Expr::value(error.clone())),
                Finish::Dead { error } => update
                    .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
                    .col_expr(Column::State, Expr::value(DeliveryState::Dead.as_str()))
                    .col_expr(Column::LastError, Expr::value(error.clone())),
                Finish::Release { at } => update.col_expr(Column::NextAttemptAt, Expr::value(*at)),
            };
            update.exec(&txn).await?;
        }
        // The applications the delivered ones move to `delivered` (a webhook message moves
        // none), with a message for the vendors who want one.
        let moved = app::Entity::update_many()
            .col_expr(
                app::Column::State,
                Expr::value(ApplicationState::Delivered.as_str()),
            )
            .col_expr(app::Column::UpdatedAt, Expr::value(now))
            .filter(app::Column::State.eq(ApplicationState::Submitted.as_str()))
            .filter(app::Column::Id.in_subquery(leased_by(owner, true)))
            .exec_with_returning(&txn)
            .await?;
        let mut by_municipality: std::collections::BTreeMap<String, Vec<Application>> =
            std::collections::BTreeMap::new();
        for row in moved {
            let lg = row.lg_code.clone();
            by_municipality
                .entry(lg)
                .or_default()
                .push(application(row)?);
        }
        for (lg, apps) in by_municipality {
            self.enqueue_application_events(&txn, &lg, &apps, now)
                .await?;
        }
        Entity::update_many()
            .col_expr(
                Column::State,
                Expr::value(DeliveryState::Delivered.as_str()),
            )
            .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
            .col_expr(Column::DeliveredAt, Expr::value(now))
            .col_expr(Column::UpdatedAt, Expr::value(now))
            .col_expr(Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(
                Column::LeaseUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(Column::LeaseOwner.eq(owner))
            .filter(Column::State.eq(PENDING))
            .exec(&txn)
            .await?;
        for (d, finish) in outcomes {
            let Finish::Delivered(Some((ack, reason))) = finish else {
                continue;
            };
            // The answer is recorded with the delivery: a crash cannot keep one without the
            // other.
            let lg_code = LgCode::parse(&d.lg_code)
                .map_err(|e| StoreError::Corrupt(format!("deliveries.lg_code of {}: {e}", d.id)))?;
            let actor = Actor::system(&format!("connector:{}/{}", d.lg_code, d.area));
            self.acknowledge_in(
                &txn,
                &lg_code,
                &d.area,
                d.application_id,
                *ack,
                reason.clone(),
                &actor,
            )
            .await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// A page of deliveries for the operator, oldest first after `after`: of one municipality
    /// or all, in one state or any.
    pub async fn deliveries(
        &self,
        lg_code: Option<&LgCode>,
        state: Option<DeliveryState>,
        after: Option<Uuid>,
        limit: u64,
    ) -> Result<Page<Delivery>, StoreError> {
        let mut query = Entity::find();
        if let Some(lg) = lg_code {
            query = query.filter(Column::LgCode.eq(lg.to_string()));
        }
        if let Some(state) = state {
            query = query.filter(Column::State.eq(state.as_str()));
        }
        if let Some(after) = after {
            query = query.filter(Column::Id.gt(after.to_string()));
        }
        let rows = query
            .order_by_asc(Column::Id)
            .limit(limit + 1)
            .all(&self.db)
            .await?;
        Page::of(rows, limit, |r| r.id.clone(), to_domain)
    }

    pub async fn delivery(&self, id: Uuid) -> Result<Option<Delivery>, StoreError> {
        Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await?
            .map(to_domain)
            .transpose()
    }

    /// The deliveries of one application (one per submission; a replay reuses it).
    pub async fn application_deliveries(
        &self,
        application_id: Uuid,
    ) -> Result<Vec<Delivery>, StoreError> {
        Entity::find()
            .filter(Column::ApplicationId.eq(application_id.to_string()))
            .order_by_asc(Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(to_domain)
            .collect()
    }

    /// Sends a dead delivery on its way again, now, with its attempts counted from zero,
    /// audited.
    pub async fn replay_delivery(&self, id: Uuid, actor: &Actor) -> Result<Replay, StoreError> {
        let txn = self.begin_write().await?;
        let Some(row) = Entity::find_by_id(id.to_string()).one(&txn).await? else {
            return Ok(Replay::NotFound);
        };
        let current = to_domain(row)?;
        if current.state != DeliveryState::Dead {
            return Ok(Replay::NotDead(current.state));
        }
        let target = format!(
            "delivery:{id} application:{} area:{}",
            current.application_id, current.area
        );
        let pending = self.send_again(&txn, current, actor, target).await?;
        txn.commit().await?;
        Ok(Replay::Done(Box::new(pending)))
    }

    /// Puts a delivery back in line, now, with its attempts counted from zero (only if it is
    /// still in the state read), and audits it as a replay of `target`; the caller commits.
    async fn send_again(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        current: Delivery,
        actor: &Actor,
        target: String,
    ) -> Result<Delivery, StoreError> {
        let now = crate::clock::now();
        Entity::update_many()
            .col_expr(Column::State, Expr::value(PENDING))
            .col_expr(Column::Attempts, Expr::value(0))
            .col_expr(Column::NextAttemptAt, Expr::value(now))
            .col_expr(Column::UpdatedAt, Expr::value(now))
            .filter(Column::Id.eq(current.id.to_string()))
            .filter(Column::State.eq(current.state.as_str()))
            .exec(txn)
            .await?;
        let lg_code = LgCode::parse(&current.lg_code).map_err(|e| {
            StoreError::Corrupt(format!("deliveries.lg_code of {}: {e}", current.id))
        })?;
        self.append_audit(
            txn,
            AuditEntry::success(actor, Action::DeliveryReplay, Some(lg_code), target),
        )
        .await?;
        Ok(Delivery {
            state: DeliveryState::Pending,
            attempts: 0,
            next_attempt_at: now,
            updated_at: now,
            ..current
        })
    }

    /// An endpoint's webhook messages, newest first, before `before`.
    pub async fn webhook_messages(
        &self,
        endpoint: Uuid,
        before: Option<Uuid>,
        limit: u64,
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut query = messages_of(endpoint);
        if let Some(before) = before {
            query = query.filter(Column::Id.lt(before.to_string()));
        }
        query
            .order_by_desc(Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(to_domain)
            .collect()
    }

    /// Sends one of an endpoint's messages again, now, whether it was delivered (the vendor
    /// lost it) or dead, with its attempts counted from zero and the same `webhook-id`;
    /// audited as a replay.
    pub async fn resend_webhook_message(
        &self,
        endpoint: Uuid,
        message: Uuid,
        actor: &Actor,
    ) -> Result<Resend, StoreError> {
        let txn = self.begin_write().await?;
        let Some(row) = messages_of(endpoint)
            .filter(Column::Id.eq(message.to_string()))
            .one(&txn)
            .await?
        else {
            return Ok(Resend::NotFound);
        };
        let current = to_domain(row)?;
        if current.state == DeliveryState::Pending {
            return Ok(Resend::Pending);
        }
        let target = format!("delivery:{message} webhook:{endpoint}");
        let pending = self.send_again(&txn, current, actor, target).await?;
        txn.commit().await?;
        Ok(Resend::Done(Box::new(pending)))
    }
}
