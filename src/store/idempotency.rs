//! Rows of `idempotency_records`.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QuerySelect, Set};

use super::entities::idempotency_record::{ActiveModel, Column, Entity};
use super::{Store, StoreError};
use crate::idempotency::{Claim, FORMAT, Limits};

const IN_PROGRESS: &str = "in_progress";
const COMPLETED: &str = "completed";

fn since(t: DateTime<Utc>, now: DateTime<Utc>) -> std::time::Duration {
    (now - t).to_std().unwrap_or_default()
}

fn until(t: DateTime<Utc>, now: DateTime<Utc>) -> std::time::Duration {
    (t - now).to_std().unwrap_or_default()
}

impl Store {
    /// What `client_id` holds now: live keys, stored bytes, and when its oldest key expires.
    async fn idempotency_usage(
        &self,
        client_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(u64, u64, Option<DateTime<Utc>>), StoreError> {
        let row: Option<(i64, i64, Option<DateTime<Utc>>)> = Entity::find()
            .select_only()
            .column_as(Expr::cust("COUNT(*)"), "keys")
            .column_as(
                Expr::cust("CAST(COALESCE(SUM(size), 0) AS BIGINT)"),
                "bytes",
            )
            .column_as(Column::ExpiresAt.min(), "oldest")
            .filter(Column::ClientId.eq(client_id))
            .filter(Column::ExpiresAt.gt(now))
            .into_tuple()
            .one(&self.db)
            .await?;
        let (keys, bytes, oldest) = row.unwrap_or((0, 0, None));
        Ok((
            u64::try_from(keys).unwrap_or_default(),
            u64::try_from(bytes).unwrap_or_default(),
            oldest,
        ))
    }

    /// Claims `key_hash` for a request with `fingerprint`, or says who has it.
    pub async fn claim_idempotency(
        &self,
        client_id: &str,
        key_hash: &str,
        fingerprint: &str,
        limits: &Limits,
    ) -> Result<Claim, StoreError> {
        let now = crate::clock::now();
        let retention = chrono::Duration::from_std(limits.retention)
            .unwrap_or_else(|_| chrono::Duration::days(1));
        for _ in 0..3 {
            if let Some(row) = Entity::find_by_id((client_id.to_owned(), key_hash.to_owned()))
                .one(&self.db)
                .await?
            {
                if row.expires_at <= now {
                    // Expired but not purged yet: the key is free.
                    Entity::delete_many()
                        .filter(Column::ClientId.eq(client_id))
                        .filter(Column::KeyHash.eq(key_hash))
                        .filter(Column::ExpiresAt.eq(row.expires_at))
                        .exec(&self.db)
                        .await?;
                    continue;
                }
                if row.state == COMPLETED {
                    return Ok(Claim::Completed {
                        fingerprint: row.fingerprint,
                        format: row.format,
                        sealed: row.sealed.unwrap_or_default(),
                    });
                }
                let age = since(row.created_at, now);
                if age < limits.abandoned_after {
                    return Ok(Claim::InProgress {
                        fingerprint: row.fingerprint,
                        age,
                    });
                }
                // Take over an abandoned claim (a crash), unless another request just did.
                let taken = Entity::update_many()
                    .col_expr(Column::Fingerprint, Expr::value(fingerprint))
                    .col_expr(Column::CreatedAt, Expr::value(now))
                    .col_expr(Column::ExpiresAt, Expr::value(now + retention))
                    .filter(Column::ClientId.eq(client_id))
                    .filter(Column::KeyHash.eq(key_hash))
                    .filter(Column::State.eq(IN_PROGRESS))
                    .filter(Column::CreatedAt.eq(row.created_at))
                    .exec(&self.db)
                    .await?;
                if taken.rows_affected == 1 {
                    return Ok(Claim::Started);
                }
                continue;
            }
            let (keys, bytes, oldest) = self.idempotency_usage(client_id, now).await?;
            if keys >= limits.max_keys_per_client || bytes >= limits.max_bytes_per_client {
                return Ok(Claim::QuotaExceeded {
                    retry_after: oldest.map_or(limits.retention, |t| until(t, now)),
                });
            }
            let inserted = ActiveModel {
                client_id: Set(client_id.to_owned()),
                key_hash: Set(key_hash.to_owned()),
                fingerprint: Set(fingerprint.to_owned()),
                state: Set(IN_PROGRESS.to_owned()),
                sealed: Set(None),
                created_at: Set(now),
                expires_at: Set(now + retention),
                size: Set(0),
                format: Set(FORMAT),
            }
            .insert(&self.db)
            .await
            .map_err(StoreError::classify);
            match inserted {
                Ok(_) => return Ok(Claim::Started),
                // Another request with the same key was faster: look again.
                Err(StoreError::Conflict) => {}
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict)
    }

    /// Stores the sealed first response of a claimed key.
    pub async fn complete_idempotency(
        &self,
        client_id: &str,
        key_hash: &str,
        sealed: Vec<u8>,
    ) -> Result<(), StoreError> {
        let size = i64::try_from(sealed.len()).unwrap_or(i64::MAX);
        Entity::update_many()
            .col_expr(Column::State, Expr::value(COMPLETED))
            .col_expr(Column::Sealed, Expr::value(sealed))
            .col_expr(Column::Size, Expr::value(size))
            .col_expr(Column::Format, Expr::value(FORMAT))
            .filter(Column::ClientId.eq(client_id))
            .filter(Column::KeyHash.eq(key_hash))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Gives a claimed key up after the request failed or was dropped, so that a retry runs
    /// again.
    pub async fn release_idempotency(
        &self,
        client_id: &str,
        key_hash: &str,
    ) -> Result<(), StoreError> {
        Entity::delete_many()
            .filter(Column::ClientId.eq(client_id))
            .filter(Column::KeyHash.eq(key_hash))
            .filter(Column::State.eq(IN_PROGRESS))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Deletes expired keys; returns how many.
    pub async fn purge_idempotency(&self) -> Result<u64, StoreError> {
        Ok(Entity::delete_many()
            .filter(Column::ExpiresAt.lte(crate::clock::now()))
            .exec(&self.db)
            .await?
            .rows_affected)
    }
}
