//! Rows of `idempotency_records`.

use chrono::Duration;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};

use super::entities::idempotency_record::{ActiveModel, Column, Entity};
use super::{Store, StoreError};
use crate::idempotency::{ABANDONED_AFTER_SECONDS, Claim, RETENTION_HOURS};

const IN_PROGRESS: &str = "in_progress";
const COMPLETED: &str = "completed";

impl Store {
    /// Claims `key_hash` for a request with `fingerprint`, or says who has it.
    pub async fn claim_idempotency(
        &self,
        client_id: &str,
        key_hash: &str,
        fingerprint: &str,
    ) -> Result<Claim, StoreError> {
        let now = super::now();
        Entity::delete_many()
            .filter(Column::ExpiresAt.lt(now))
            .exec(&self.db)
            .await?;
        for _ in 0..3 {
            let inserted = ActiveModel {
                client_id: Set(client_id.to_owned()),
                key_hash: Set(key_hash.to_owned()),
                fingerprint: Set(fingerprint.to_owned()),
                state: Set(IN_PROGRESS.to_owned()),
                sealed: Set(None),
                created_at: Set(now),
                expires_at: Set(now + Duration::hours(RETENTION_HOURS)),
            }
            .insert(&self.db)
            .await
            .map_err(StoreError::classify);
            match inserted {
                Ok(_) => return Ok(Claim::Started),
                Err(StoreError::Conflict) => {}
                Err(e) => return Err(e),
            }
            let Some(row) = Entity::find_by_id((client_id.to_owned(), key_hash.to_owned()))
                .one(&self.db)
                .await?
            else {
                continue; // released meanwhile: try again
            };
            if row.state == COMPLETED {
                return Ok(Claim::Completed {
                    fingerprint: row.fingerprint,
                    sealed: row.sealed.unwrap_or_default(),
                });
            }
            let abandoned = row.created_at < now - Duration::seconds(ABANDONED_AFTER_SECONDS);
            if !abandoned {
                return Ok(Claim::InProgress {
                    fingerprint: row.fingerprint,
                });
            }
            // Take over an abandoned claim, unless another request just did.
            let taken = Entity::update_many()
                .col_expr(Column::Fingerprint, Expr::value(fingerprint))
                .col_expr(Column::CreatedAt, Expr::value(now))
                .filter(Column::ClientId.eq(client_id))
                .filter(Column::KeyHash.eq(key_hash))
                .filter(Column::State.eq(IN_PROGRESS))
                .filter(Column::CreatedAt.eq(row.created_at))
                .exec(&self.db)
                .await?;
            if taken.rows_affected == 1 {
                return Ok(Claim::Started);
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
        Entity::update_many()
            .col_expr(Column::State, Expr::value(COMPLETED))
            .col_expr(Column::Sealed, Expr::value(sealed))
            .filter(Column::ClientId.eq(client_id))
            .filter(Column::KeyHash.eq(key_hash))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Gives a claimed key up after the request failed, so that a retry runs again.
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
}
