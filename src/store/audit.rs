//! Rows of `audit_events`: appending to the chain, listing, and reading it back in order.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionTrait,
};
use uuid::Uuid;

use super::entities::audit_event::{ActiveModel, Column, Entity, Model};
use super::{Store, StoreError};
use crate::audit::{AuditEntry, AuditRecord, GENESIS_HASH};
use crate::tenancy::LgCode;

/// Replicas appending at the same moment race for the next `seq`; the loser retries.
const APPEND_ATTEMPTS: usize = 16;
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
    /// Appends `entry` to the chain inside `txn`, so that the event lands exactly when the
    /// change it records does.
    pub(super) async fn append_audit(
        &self,
        txn: &DatabaseTransaction,
        entry: AuditEntry,
    ) -> Result<AuditRecord, StoreError> {
        for _ in 0..APPEND_ATTEMPTS {
            let savepoint = txn.begin().await?;
            let head = Entity::find()
                .order_by_desc(Column::Seq)
                .one(&savepoint)
                .await?;
            let (seq, prev_hash) = head
                .map(|h| (h.seq + 1, h.hash))
                .unwrap_or((1, GENESIS_HASH.to_owned()));
            let mut record = AuditRecord {
                seq,
                id: Uuid::now_v7(),
                occurred_at: super::now(),
                request_id: entry.actor.request_id.clone(),
                client_id: entry.actor.client_id.clone(),
                actor: entry.actor.staff.clone(),
                lg_code: entry.lg_code.map(|c| c.to_string()),
                action: entry.action.as_str().to_owned(),
                target: entry.target.clone(),
                outcome: entry.outcome.as_str().to_owned(),
                prev_hash,
                hash: String::new(),
            };
            record.hash = record.compute_hash();
            let row = ActiveModel {
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
            };
            match row.insert(&savepoint).await.map_err(StoreError::classify) {
                Ok(_) => {
                    savepoint.commit().await?;
                    return Ok(record);
                }
                Err(StoreError::Conflict) => savepoint.rollback().await?,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Database(sea_orm::DbErr::Custom(
            "could not append to the audit log: too many concurrent appends".to_owned(),
        )))
    }

    /// Records an event that comes with no other change (a denied access).
    pub async fn record_audit(&self, entry: AuditEntry) -> Result<AuditRecord, StoreError> {
        let txn = self.begin_write().await?;
        let record = self.append_audit(&txn, entry).await?;
        txn.commit().await?;
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
