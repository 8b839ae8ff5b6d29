//! Rows of `audit_events`: appending to the chain, listing, and reading it back in order.

use std::time::Duration;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Set, Statement,
};
use uuid::Uuid;

use super::entities::audit_event::{ActiveModel, Column, Entity, Model};
use super::entities::{audit_checkpoint, audit_denial};
use super::{Store, StoreError};
use crate::audit::{Actor, AuditEntry, AuditRecord, Checkpoint, GENESIS_HASH};
use crate::secrets::ServerKey;
use crate::tenancy::LgCode;

/// Key of the PostgreSQL advisory lock that serializes appends to the chain ("mdgaudit").
const CHAIN_LOCK: i64 = 0x6d64_6761_7564_6974;
/// Rows read per query when walking the whole chain.
const VERIFY_BATCH: u64 = 1000;

fn to_record(row: Model) -> AuditRecord {
    AuditRecord {
        seq: row.seq,
        id: row.id,
        occurred_at: row.occurred_at,
        request_id: row.request_id,
        client_id: row.client_id,
        actor: row.actor,
        lg_code: row.lg_code,
        action: row.action,
        target: row.target,
        outcome: row.outcome,
        prev_hash: row.prev_hash,
        hash: row.hash,
        repeat_count: row.repeat_count,
    }
}

fn to_checkpoint(row: audit_checkpoint::Model) -> Checkpoint {
    Checkpoint {
        seq: row.seq,
        hash: row.hash,
        created_at: row.created_at,
        prev_seq: row.prev_seq,
        signature: row.signature,
    }
}

/// Newest-first page of one municipality's audit events.
#[derive(Debug, Clone)]
pub struct AuditPage {
    pub items: Vec<AuditRecord>,
    /// `seq` to continue before.
    pub next_before: Option<i64>,
}

impl Store {
    /// Makes `txn` the only one appending to the chain until it ends. On PostgreSQL a
    /// transaction-scoped advisory lock: appends queue instead of racing for the next `seq`
    /// and giving up. On SQLite every writing transaction holds the database's write lock
    /// already ([`Store::begin_write`]).
    async fn lock_chain(&self, txn: &DatabaseTransaction) -> Result<(), StoreError> {
        if txn.get_database_backend() == DbBackend::Postgres {
            txn.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_advisory_xact_lock($1)",
                [CHAIN_LOCK.into()],
            ))
            .await?;
        }
        Ok(())
    }

    /// Appends `entry` to the audit chain and commits: the last step of every write that is
    /// audited, so that the change and its audit event are kept together or not at all.
    pub(super) async fn commit_audited(
        &self,
        txn: DatabaseTransaction,
        entry: AuditEntry,
    ) -> Result<AuditRecord, StoreError> {
        let record = self.append_audit(&txn, entry).await?;
        txn.commit().await?;
        Ok(record)
    }

    /// Appends `entry` to the chain inside `txn`, so that the event lands exactly when the
    /// change it records does.
    pub(super) async fn append_audit(
        &self,
        txn: &DatabaseTransaction,
        entry: AuditEntry,
    ) -> Result<AuditRecord, StoreError> {
        self.lock_chain(txn).await?;
        let head = Entity::find().order_by_desc(Column::Seq).one(txn).await?;
        let (seq, prev_hash) = head
            .map(|h| (h.seq + 1, h.hash))
            .unwrap_or((1, GENESIS_HASH.to_owned()));
        let mut record = AuditRecord {
            seq,
            id: Uuid::now_v7(),
            occurred_at: crate::clock::now(),
            request_id: entry.actor.request_id.clone(),
            client_id: entry.actor.client_id.clone(),
            actor: entry.actor.staff.clone(),
            lg_code: entry.lg_code.map(|c| c.to_string()),
            action: entry.action.as_str().to_owned(),
            target: entry.target.clone(),
            outcome: entry.outcome.as_str().to_owned(),
            prev_hash,
            hash: String::new(),
            repeat_count: entry.repeat_count,
        };
        record.hash = record.compute_hash();
        ActiveModel {
            seq: Set(record.seq),
            id: Set(record.id),
            occurred_at: Set(record.occurred_at),
            request_id: Set(record.request_id.clone()),
            client_id: Set(record.client_id.clone()),
            actor: Set(record.actor.clone()),
            lg_code: Set(record.lg_code.clone()),
            action: Set(record.action.clone()),
            target: Set(record.target.clone()),
            outcome: Set(record.outcome.clone()),
            prev_hash: Set(record.prev_hash.clone()),
            hash: Set(record.hash.clone()),
            repeat_count: Set(record.repeat_count),
        }
        .insert(txn)
        .await?;
        Ok(record)
    }

    /// See [`crate::audit::record_denial`].
    pub async fn record_denial(
        &self,
        actor: &Actor,
        code: LgCode,
        window: Duration,
    ) -> Result<(), StoreError> {
        let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
        let client_id = actor.client_id.clone().unwrap_or_else(|| "-".to_owned());
        let txn = self.begin_write().await?;
        // The chain lock first: every transaction that touches `audit_denials` holds it, so
        // two refusals cannot both count themselves first.
        self.lock_chain(&txn).await?;
        let now = crate::clock::now();
        let row = audit_denial::Entity::find_by_id((client_id.clone(), code.to_string()))
            .one(&txn)
            .await?;
        match row {
            Some(row) if row.first_at + window > now => {
                let repeats = row.repeats + 1;
                let mut active = row.into_active_model();
                active.repeats = Set(repeats);
                active.last_at = Set(now);
                active.update(&txn).await?;
            }
            Some(row) => {
                if row.repeats > 0 {
                    let counted = Actor {
                        client_id: Some(client_id.clone()),
                        ..Actor::default()
                    };
                    self.append_audit(&txn, AuditEntry::denial(&counted, code, Some(row.repeats)))
                        .await?;
                }
                let mut active = row.into_active_model();
                active.first_at = Set(now);
                active.last_at = Set(now);
                active.repeats = Set(0);
                active.update(&txn).await?;
                self.append_audit(&txn, AuditEntry::denial(actor, code, None))
                    .await?;
            }
            None => {
                audit_denial::ActiveModel {
                    client_id: Set(client_id.clone()),
                    lg_code: Set(code.to_string()),
                    first_at: Set(now),
                    last_at: Set(now),
                    repeats: Set(0),
                }
                .insert(&txn)
                .await?;
                self.append_audit(&txn, AuditEntry::denial(actor, code, None))
                    .await?;
            }
        }
        txn.commit().await?;
        Ok(())
    }

    /// See [`crate::audit::flush_denials`].
    pub async fn flush_denials(&self, window: Duration) -> Result<u64, StoreError> {
        let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
        let txn = self.begin_write().await?;
        self.lock_chain(&txn).await?;
        let closed = audit_denial::Entity::find()
            .filter(audit_denial::Column::FirstAt.lte(crate::clock::now() - window))
            .order_by_asc(audit_denial::Column::FirstAt)
            .all(&txn)
            .await?;
        let mut appended = 0;
        for row in closed {
            if row.repeats > 0 {
                let code = LgCode::parse(&row.lg_code)
                    .map_err(|e| StoreError::Corrupt(format!("audit_denials.lg_code: {e}")))?;
                let counted = Actor {
                    client_id: Some(row.client_id.clone()),
                    ..Actor::default()
                };
                self.append_audit(&txn, AuditEntry::denial(&counted, code, Some(row.repeats)))
                    .await?;
                appended += 1;
            }
            audit_denial::Entity::delete_by_id((row.client_id, row.lg_code))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(appended)
    }

    /// Records a checkpoint of the current head, signed when there is a server key, unless
    /// the head has one already. Returns the new checkpoint.
    pub async fn write_checkpoint(
        &self,
        key: Option<&ServerKey>,
    ) -> Result<Option<Checkpoint>, StoreError> {
        let txn = self.begin_write().await?;
        self.lock_chain(&txn).await?;
        let Some(head) = Entity::find().order_by_desc(Column::Seq).one(&txn).await? else {
            return Ok(None);
        };
        let mut previous =
            audit_checkpoint::Entity::find().order_by_desc(audit_checkpoint::Column::Seq);
        if key.is_some() {
            previous = previous.filter(audit_checkpoint::Column::Signature.is_not_null());
        }
        let prev_seq = previous.one(&txn).await?.map_or(0, |c| c.seq);
        if prev_seq >= head.seq
            || audit_checkpoint::Entity::find_by_id(head.seq)
                .one(&txn)
                .await?
                .is_some()
        {
            return Ok(None);
        }
        let checkpoint = Checkpoint::new(head.seq, head.hash, crate::clock::now(), prev_seq, key);
        audit_checkpoint::ActiveModel {
            seq: Set(checkpoint.seq),
            hash: Set(checkpoint.hash.clone()),
            created_at: Set(checkpoint.created_at),
            prev_seq: Set(checkpoint.prev_seq),
            signature: Set(checkpoint.signature.clone()),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(Some(checkpoint))
    }

    /// Every checkpoint, oldest first.
    pub async fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError> {
        Ok(audit_checkpoint::Entity::find()
            .order_by_asc(audit_checkpoint::Column::Seq)
            .all(&self.db)
            .await?
            .into_iter()
            .map(to_checkpoint)
            .collect())
    }

    /// Records an event that comes with no other change (a denied access).
    pub async fn record_audit(&self, entry: AuditEntry) -> Result<AuditRecord, StoreError> {
        let txn = self.begin_write().await?;
        let record = self.commit_audited(txn, entry).await?;
        Ok(record)
    }

    /// A municipality's events, newest first, before `before` (a `seq`).
    pub async fn list_audit(
        &self,
        lg_code: &LgCode,
        before: Option<i64>,
        limit: u64,
    ) -> Result<AuditPage, StoreError> {
        let mut query = Entity::find()
            .filter(Column::LgCode.eq(lg_code.to_string()))
            .order_by_desc(Column::Seq);
        if let Some(before) = before {
            query = query.filter(Column::Seq.lt(before));
        }
        let (rows, last) = super::split_page(query.limit(limit + 1).all(&self.db).await?, limit);
        let next_before = last.map(|i| rows[i].seq);
        Ok(AuditPage {
            items: rows.into_iter().map(to_record).collect(),
            next_before,
        })
    }

    /// Number of events in the log.
    pub async fn audit_len(&self) -> Result<u64, StoreError> {
        use sea_orm::PaginatorTrait;
        Ok(Entity::find().count(&self.db).await?)
    }

    /// Events with `seq` greater than `after`, oldest first, a batch at a time.
    pub async fn audit_batch(&self, after: i64) -> Result<Vec<AuditRecord>, StoreError> {
        Ok(Entity::find()
            .filter(Column::Seq.gt(after))
            .order_by_asc(Column::Seq)
            .limit(VERIFY_BATCH)
            .all(&self.db)
            .await?
            .into_iter()
            .map(to_record)
            .collect())
    }
}
