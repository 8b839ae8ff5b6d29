//! Vendors' webhook endpoints, and their messages put in the outbox in the transaction that
//! changes an application's state.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
};
use uuid::Uuid;

use super::entities::webhook_endpoint::{self as endpoint, ActiveModel, Column, Entity};
use super::entities::{delivery, visit};
use super::{Store, StoreError};
use crate::link::outbox::{Channel, DeliveryState};
use crate::link::webhooks::{self, Endpoint};
use crate::secrets::{self, Purpose, ServerKey};
use crate::visits::confirmation::Application;

fn to_domain(row: endpoint::Model) -> Result<Endpoint, StoreError> {
    Ok(Endpoint {
        id: Uuid::parse_str(&row.id)
            .map_err(|e| StoreError::Corrupt(format!("webhook_endpoints.id {}: {e}", row.id)))?,
        lg_code: row.lg_code,
        client_id: row.client_id,
        url: row.url,
        created_at: row.created_at,
    })
}

/// A secret as stored: sealed with the server key when there is one (bound to the endpoint).
fn seal(id: &str, secret: &str, key: Option<&ServerKey>) -> Result<(Vec<u8>, bool), StoreError> {
    match key {
        Some(key) => Ok((
            secrets::seal(
                &key.subkey(Purpose::WebhookSecret),
                id.as_bytes(),
                secret.as_bytes(),
            )
            .map_err(|_| StoreError::Corrupt("cannot seal a webhook secret".to_owned()))?,
            true,
        )),
        None => Ok((secret.as_bytes().to_vec(), false)),
    }
}

fn open(
    id: &str,
    stored: Vec<u8>,
    sealed: bool,
    key: Option<&ServerKey>,
) -> Result<String, StoreError> {
    let secret = if sealed {
        let key = key.ok_or_else(|| {
            StoreError::Locked("webhook secrets are sealed; the server key is missing".into())
        })?;
        secrets::open(&key.subkey(Purpose::WebhookSecret), id.as_bytes(), &stored)
            .map_err(|_| StoreError::Locked("webhook secret sealed with another key".into()))?
    } else {
        stored
    };
    String::from_utf8(secret)
        .map_err(|_| StoreError::Corrupt("a webhook secret that is not text".to_owned()))
}

/// A client's live endpoint, by id.
fn live_of(lg_code: &str, client_id: &str, id: Uuid) -> sea_orm::Select<Entity> {
    Entity::find_by_id(id.to_string())
        .filter(Column::LgCode.eq(lg_code))
        .filter(Column::ClientId.eq(client_id))
        .filter(Column::RevokedAt.is_null())
}

/// Where to send an endpoint's messages and the secrets to sign them with: the current one,
/// then the one a rotation replaced while the overlap lasts.
#[derive(Debug, Clone)]
pub struct WebhookTarget {
    pub url: String,
    pub secrets: Vec<String>,
}

/// The URL and signing secrets of an endpoint's row: the current secret, then the one a
/// rotation replaced while the overlap lasts.
fn target(row: endpoint::Model, key: Option<&ServerKey>) -> Result<WebhookTarget, StoreError> {
    let mut secrets = vec![open(&row.id, row.secret, row.sealed, key)?];
    if let (Some(previous), Some(until)) = (row.previous_secret, row.previous_until)
        && until > crate::clock::now()
    {
        let sealed = row.previous_sealed.unwrap_or(row.sealed);
        secrets.push(open(&row.id, previous, sealed, key)?);
    }
    Ok(WebhookTarget {
        url: row.url,
        secrets,
    })
}

impl Store {
    /// Registers a client's endpoint; its secret is sealed with the server key when there is
    /// one.
    pub async fn create_webhook(
        &self,
        lg_code: &str,
        client_id: &str,
        url: &str,
        secret: &str,
        key: Option<&ServerKey>,
    ) -> Result<Endpoint, StoreError> {
        let id = Uuid::now_v7();
        let (stored, sealed) = seal(&id.to_string(), secret, key)?;
        let row = ActiveModel {
            id: Set(id.to_string()),
            lg_code: Set(lg_code.to_owned()),
            client_id: Set(client_id.to_owned()),
            url: Set(url.to_owned()),
            secret: Set(stored),
            sealed: Set(sealed),
            created_at: Set(crate::clock::now()),
            revoked_at: Set(None),
            previous_secret: Set(None),
            previous_sealed: Set(None),
            previous_until: Set(None),
        };
        let row = Entity::insert(row)
            .exec_with_returning(&self.db)
            .await
            .map_err(StoreError::classify)?;
        to_domain(row)
    }

    /// A client's live endpoints for a municipality, oldest first.
    pub async fn webhooks(
        &self,
        lg_code: &str,
        client_id: &str,
    ) -> Result<Vec<Endpoint>, StoreError> {
        Entity::find()
            .filter(Column::LgCode.eq(lg_code))
            .filter(Column::ClientId.eq(client_id))
            .filter(Column::RevokedAt.is_null())
            .order_by_asc(Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(to_domain)
            .collect()
    }

    /// Removes a client's endpoint; false when it has no such live endpoint. Messages still
    /// waiting for it go to the dead letter.
    pub async fn revoke_webhook(
        &self,
        lg_code: &str,
        client_id: &str,
        id: Uuid,
    ) -> Result<bool, StoreError> {
        let done = Entity::update_many()
            .col_expr(
                Column::RevokedAt,
                sea_orm::sea_query::Expr::value(crate::clock::now()),
            )
            .filter(Column::Id.eq(id.to_string()))
            .filter(Column::LgCode.eq(lg_code))
            .filter(Column::ClientId.eq(client_id))
            .filter(Column::RevokedAt.is_null())
            .exec(&self.db)
            .await?;
        Ok(done.rows_affected == 1)
    }

    /// A client's live endpoint.
    pub async fn webhook(
        &self,
        lg_code: &str,
        client_id: &str,
        id: Uuid,
    ) -> Result<Option<Endpoint>, StoreError> {
        live_of(lg_code, client_id, id)
            .one(&self.db)
            .await?
            .map(to_domain)
            .transpose()
    }

    /// Gives a client's live endpoint a new secret; the one it replaces keeps signing (beside
    /// the new one) until `overlap_until`. A rotation during an overlap drops the oldest
    /// secret. `None` when the client has no such endpoint.
    pub async fn rotate_webhook_secret(
        &self,
        lg_code: &str,
        client_id: &str,
        id: Uuid,
        secret: &str,
        overlap_until: DateTime<Utc>,
        key: Option<&ServerKey>,
    ) -> Result<Option<Endpoint>, StoreError> {
        let txn = self.begin_write().await?;
        let Some(row) = live_of(lg_code, client_id, id).one(&txn).await? else {
            return Ok(None);
        };
        let (stored, sealed) = seal(&row.id, secret, key)?;
        let mut active: ActiveModel = row.clone().into();
        active.previous_secret = Set(Some(row.secret.clone()));
        active.previous_sealed = Set(Some(row.sealed));
        active.previous_until = Set(Some(overlap_until));
        active.secret = Set(stored);
        active.sealed = Set(sealed);
        let row = sea_orm::ActiveModelTrait::update(active, &txn).await?;
        txn.commit().await?;
        to_domain(row).map(Some)
    }

    /// A live endpoint's URL and the secrets to sign with, for sending to it.
    pub async fn webhook_target(
        &self,
        id: Uuid,
        key: Option<&ServerKey>,
    ) -> Result<Option<WebhookTarget>, StoreError> {
        Entity::find_by_id(id.to_string())
            .filter(Column::RevokedAt.is_null())
            .one(&self.db)
            .await?
            .map(|row| target(row, key))
            .transpose()
    }

    /// [`Store::webhook_target`] of a client's own live endpoint.
    pub async fn own_webhook_target(
        &self,
        lg_code: &str,
        client_id: &str,
        id: Uuid,
        key: Option<&ServerKey>,
    ) -> Result<Option<WebhookTarget>, StoreError> {
        live_of(lg_code, client_id, id)
            .one(&self.db)
            .await?
            .map(|row| target(row, key))
            .transpose()
    }

    /// Puts a message for each application's new state in the outbox, to every live endpoint
    /// of the client that opened its visit, inside the transaction that changed the state.
    pub(super) async fn enqueue_application_events(
        &self,
        txn: &DatabaseTransaction,
        lg_code: &str,
        applications: &[Application],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if applications.is_empty() {
            return Ok(());
        }
        let endpoints = Entity::find()
            .filter(Column::LgCode.eq(lg_code))
            .filter(Column::RevokedAt.is_null())
            .all(txn)
            .await?;
        if endpoints.is_empty() {
            return Ok(());
        }
        let mut visit_ids: Vec<String> = applications
            .iter()
            .map(|a| a.visit_id.to_string())
            .collect();
        visit_ids.sort();
        visit_ids.dedup();
        let openers: std::collections::HashMap<String, Option<String>> = visit::Entity::find()
            .filter(visit::Column::Id.is_in(visit_ids))
            .all(txn)
            .await?
            .into_iter()
            .map(|v| (v.id, v.opened_by_client))
            .collect();
        let mut rows = Vec::new();
        for a in applications {
            let Some(Some(client)) = openers.get(&a.visit_id.to_string()) else {
                continue;
            };
            let payload = webhooks::application_event(lg_code, a, now).to_string();
            for e in endpoints.iter().filter(|e| &e.client_id == client) {
                let endpoint = Uuid::parse_str(&e.id).map_err(|err| {
                    StoreError::Corrupt(format!("webhook_endpoints.id {}: {err}", e.id))
                })?;
                rows.push(delivery::ActiveModel {
                    id: Set(Uuid::now_v7().to_string()),
                    application_id: Set(a.id.to_string()),
                    lg_code: Set(lg_code.to_owned()),
                    area: Set(a.area.clone()),
                    connector: Set(Channel::Webhook.as_str().to_owned()),
                    line: Set(webhooks::line(endpoint, a.id)),
                    state: Set(DeliveryState::Pending.as_str().to_owned()),
                    attempts: Set(0),
                    next_attempt_at: Set(now),
                    lease_owner: Set(None),
                    lease_until: Set(None),
                    last_error: Set(None),
                    created_at: Set(now),
                    updated_at: Set(now),
                    delivered_at: Set(None),
                    endpoint_id: Set(Some(e.id.clone())),
                    payload: Set(Some(payload.clone())),
                });
            }
        }
        if !rows.is_empty() {
            delivery::Entity::insert_many(rows).exec(txn).await?;
        }
        Ok(())
    }
}
