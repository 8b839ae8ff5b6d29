//! Rows of `signing_keys`: the generated token-signing key, shared by every replica.

use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use super::entities::signing_key::{ActiveModel, Column, Entity};
use super::{Store, StoreError};
use crate::auth::{KeyError, SigningKey, open_stored, seal_for_storage};
use crate::secrets::ServerKey;

fn key_error(kid: &str, e: KeyError) -> StoreError {
    match e {
        KeyError::ServerKeyMissing | KeyError::WrongServerKey(_) => {
            StoreError::Locked(e.to_string())
        }
        e => StoreError::Corrupt(format!("signing key {kid}: {e}")),
    }
}

impl Store {
    /// The keys tokens may be signed with, oldest first. The first one signs; all verify.
    /// With a server key, a key still stored in clear is encrypted in place.
    pub async fn signing_keys(
        &self,
        server_key: Option<&ServerKey>,
    ) -> Result<Vec<SigningKey>, StoreError> {
        let rows = Entity::find()
            .filter(Column::RetiredAt.is_null())
            .order_by_asc(Column::CreatedAt)
            .order_by_asc(Column::Kid)
            .all(&self.db)
            .await?;
        let mut keys = Vec::with_capacity(rows.len());
        for row in rows {
            let (der, clear) = open_stored(&row.private_key_der, &row.kid, server_key)
                .map_err(|e| key_error(&row.kid, e))?;
            let key = SigningKey::from_pkcs8_der(&der).map_err(|e| key_error(&row.kid, e))?;
            if clear && server_key.is_some() {
                let sealed = seal_for_storage(&der, &row.kid, server_key)
                    .map_err(|e| key_error(&row.kid, e))?;
                // Only while it is still the clear key: another replica may have sealed it.
                Entity::update_many()
                    .col_expr(Column::PrivateKeyDer, Expr::value(sealed))
                    .filter(Column::Kid.eq(row.kid.clone()))
                    .filter(Column::PrivateKeyDer.eq(row.private_key_der.clone()))
                    .exec(&self.db)
                    .await?;
                tracing::info!(kid = %row.kid, "encrypted the stored token signing key with the server key");
            }
            keys.push(key);
        }
        Ok(keys)
    }

    /// The active keys, generating and storing one first when there is none. Replicas that
    /// start at the same moment may each store one; all then sign with the oldest.
    pub async fn signing_keys_or_generate(
        &self,
        server_key: Option<&ServerKey>,
    ) -> Result<Vec<SigningKey>, StoreError> {
        let keys = self.signing_keys(server_key).await?;
        if !keys.is_empty() {
            return Ok(keys);
        }
        let (key, der) = SigningKey::generate().map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let stored = seal_for_storage(&der, &key.kid, server_key)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        ActiveModel {
            kid: Set(key.kid.clone()),
            algorithm: Set("ES256".to_owned()),
            private_key_der: Set(stored),
            created_at: Set(crate::clock::now()),
            retired_at: Set(None),
        }
        .insert(&self.db)
        .await?;
        tracing::info!(
            kid = %key.kid,
            encrypted = server_key.is_some(),
            "generated a token signing key"
        );
        self.signing_keys(server_key).await
    }
}
