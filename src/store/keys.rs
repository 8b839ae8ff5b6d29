//! Rows of `signing_keys`: the generated token-signing key, shared by every replica.

use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use super::entities::signing_key::{ActiveModel, Column, Entity};
use super::{Store, StoreError};
use crate::auth::SigningKey;

impl Store {
    /// The keys tokens may be signed with, oldest first. The first one signs; all verify.
    pub async fn signing_keys(&self) -> Result<Vec<SigningKey>, StoreError> {
        Entity::find()
            .filter(Column::RetiredAt.is_null())
            .order_by_asc(Column::CreatedAt)
            .order_by_asc(Column::Kid)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| {
                SigningKey::from_pkcs8_der(&row.private_key_der)
                    .map_err(|e| StoreError::Corrupt(format!("signing key {}: {e}", row.kid)))
            })
            .collect()
    }

    /// The active keys, generating and storing one first when there is none. Replicas that
    /// start at the same moment may each store one; all then sign with the oldest.
    pub async fn signing_keys_or_generate(&self) -> Result<Vec<SigningKey>, StoreError> {
        let keys = self.signing_keys().await?;
        if !keys.is_empty() {
            return Ok(keys);
        }
        let (key, der) = SigningKey::generate().map_err(|e| StoreError::Corrupt(e.to_string()))?;
        ActiveModel {
            kid: Set(key.kid.clone()),
            algorithm: Set("ES256".to_owned()),
            private_key_der: Set(der),
            created_at: Set(super::now()),
            retired_at: Set(None),
        }
        .insert(&self.db)
        .await?;
        tracing::info!(kid = %key.kid, "generated a token signing key");
        self.signing_keys().await
    }
}
