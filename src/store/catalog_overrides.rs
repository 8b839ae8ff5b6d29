//! Rows of `catalog_overrides`: each change of a municipality's catalogue is a new version;
//! old versions stay, so a visit decides with the version it was opened with.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use super::entities::catalog_override::{ActiveModel, Column, Entity};
use super::{Store, StoreError};
use crate::audit::{Action, Actor, AuditEntry};
use crate::tenancy::LgCode;

/// One stored version of a municipality's overrides.
#[derive(Debug, Clone)]
pub struct StoredOverrides {
    pub version: i64,
    /// The override document as JSON text.
    pub document: String,
    pub created_at: DateTime<Utc>,
}

impl Store {
    /// Stores `document` as the municipality's next version and records who did it; the new
    /// version number. Two writers at once: one gets `Conflict` (the primary key).
    pub async fn save_catalog_overrides(
        &self,
        lg_code: &LgCode,
        document: String,
        actor: &Actor,
    ) -> Result<StoredOverrides, StoreError> {
        let txn = self.begin_write().await?;
        let latest = Entity::find()
            .filter(Column::LgCode.eq(lg_code.to_string()))
            .order_by_desc(Column::Version)
            .one(&txn)
            .await?
            .map_or(0, |r| r.version);
        let now = crate::clock::now();
        let version = latest + 1;
        ActiveModel {
            lg_code: Set(lg_code.to_string()),
            version: Set(version),
            document: Set(document.clone()),
            created_at: Set(now),
            client_id: Set(actor.client_id.clone()),
            staff: Set(actor.staff.clone()),
        }
        .insert(&txn)
        .await
        .map_err(StoreError::classify)?;
        self.commit_audited(
            txn,
            AuditEntry::success(
                actor,
                Action::CatalogOverride,
                Some(*lg_code),
                format!("catalog.{version}"),
            ),
        )
        .await?;
        Ok(StoredOverrides {
            version,
            document,
            created_at: now,
        })
    }

    /// A version of the municipality's overrides, or the newest when `version` is `None`.
    pub async fn catalog_overrides(
        &self,
        lg_code: &LgCode,
        version: Option<i64>,
    ) -> Result<Option<StoredOverrides>, StoreError> {
        let mut query = Entity::find().filter(Column::LgCode.eq(lg_code.to_string()));
        if let Some(v) = version {
            query = query.filter(Column::Version.eq(v));
        }
        Ok(query
            .order_by_desc(Column::Version)
            .one(&self.db)
            .await?
            .map(|r| StoredOverrides {
                version: r.version,
                document: r.document,
                created_at: r.created_at,
            }))
    }
}
