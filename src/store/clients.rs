//! Rows of `clients` and `client_municipalities`.

use std::collections::HashMap;
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use super::entities::client::{ActiveModel, Column, Entity, Model};
use super::entities::{client_address, client_municipality, municipality};
use super::{Page, Store, StoreError};
use crate::audit::{Action, Actor, AuditEntry};
use crate::auth::{Client, NewClient, ScopeSet};
use crate::tenancy::LgCode;

fn to_domain(row: Model, municipalities: Vec<LgCode>) -> Client {
    Client {
        id: row.id,
        name: row.name,
        scopes: ScopeSet::parse_lenient(&row.scopes),
        municipalities,
        link_areas: row
            .link_areas
            .map(|areas| areas.split_whitespace().map(str::to_owned).collect()),
        created_at: row.created_at,
        revoked_at: row.revoked_at,
    }
}

/// The municipalities granted to each of `ids`.
async fn grants(
    conn: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<LgCode>>, StoreError> {
    let rows = client_municipality::Entity::find()
        .filter(client_municipality::Column::ClientId.is_in(ids.iter().copied()))
        .order_by_asc(client_municipality::Column::LgCode)
        .all(conn)
        .await?;
    let mut map: HashMap<Uuid, Vec<LgCode>> = HashMap::new();
    for row in rows {
        let code = LgCode::parse(&row.lg_code)
            .map_err(|e| StoreError::Corrupt(format!("client_municipalities.lg_code: {e}")))?;
        map.entry(row.client_id).or_default().push(code);
    }
    Ok(map)
}

impl Store {
    /// Registers a client with its hashed secret and grants. `UnknownMunicipalities` names
    /// every granted municipality that is not registered.
    pub async fn create_client(
        &self,
        new: &NewClient,
        secret_hash: &str,
        actor: &Actor,
    ) -> Result<Client, StoreError> {
        let txn = self.begin_write().await?;
        let codes: Vec<String> = new.municipalities.iter().map(LgCode::to_string).collect();
        let known: Vec<String> = municipality::Entity::find()
            .filter(municipality::Column::LgCode.is_in(codes.clone()))
            .all(&txn)
            .await?
            .into_iter()
            .map(|m| m.lg_code)
            .collect();
        let unknown: Vec<LgCode> = new
            .municipalities
            .iter()
            .filter(|c| !known.contains(&c.to_string()))
            .copied()
            .collect();
        if !unknown.is_empty() {
            return Err(StoreError::UnknownMunicipalities(unknown));
        }
        let id = Uuid::now_v7();
        let row = ActiveModel {
            id: Set(id),
            name: Set(new.name.clone()),
            secret_hash: Set(secret_hash.to_owned()),
            scopes: Set(new.scopes.to_string()),
            link_areas: Set(new.link_areas.as_ref().map(|areas| areas.join(" "))),
            created_at: Set(crate::clock::now()),
            revoked_at: Set(None),
        }
        .insert(&txn)
        .await
        .map_err(StoreError::classify)?;
        if !codes.is_empty() {
            client_municipality::Entity::insert_many(codes.into_iter().map(|lg_code| {
                client_municipality::ActiveModel {
                    client_id: Set(id),
                    lg_code: Set(lg_code),
                }
            }))
            .exec(&txn)
            .await
            .map_err(StoreError::classify)?;
        }
        self.commit_audited(
            txn,
            AuditEntry::success(actor, Action::ClientCreate, None, id.to_string()),
        )
        .await?;
        Ok(to_domain(row, new.municipalities.clone()))
    }

    /// A client and its stored secret hash.
    pub async fn client_with_secret(
        &self,
        id: Uuid,
    ) -> Result<Option<(Client, String)>, StoreError> {
        let Some(row) = Entity::find_by_id(id).one(&self.db).await? else {
            return Ok(None);
        };
        let mut grants = grants(&self.db, &[id]).await?;
        let hash = row.secret_hash.clone();
        Ok(Some((
            to_domain(row, grants.remove(&id).unwrap_or_default()),
            hash,
        )))
    }

    /// Replaces a client's secret hash, unless it changed meanwhile.
    pub async fn replace_secret_hash(
        &self,
        id: Uuid,
        old: &str,
        new: &str,
    ) -> Result<(), StoreError> {
        Entity::update_many()
            .col_expr(Column::SecretHash, sea_orm::sea_query::Expr::value(new))
            .filter(Column::Id.eq(id))
            .filter(Column::SecretHash.eq(old))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    pub async fn client(&self, id: Uuid) -> Result<Option<Client>, StoreError> {
        Ok(self.client_with_secret(id).await?.map(|(c, _)| c))
    }

    /// Clients in id (creation) order, after `after`.
    pub async fn list_clients(
        &self,
        after: Option<Uuid>,
        limit: u64,
    ) -> Result<Page<Client>, StoreError> {
        let mut query = Entity::find().order_by_asc(Column::Id);
        if let Some(after) = after {
            query = query.filter(Column::Id.gt(after));
        }
        let (rows, last) = super::split_page(query.limit(limit + 1).all(&self.db).await?, limit);
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let mut grants = grants(&self.db, &ids).await?;
        let next_after = last.map(|i| rows[i].id.to_string());
        Ok(Page {
            items: rows
                .into_iter()
                .map(|row| {
                    let codes = grants.remove(&row.id).unwrap_or_default();
                    to_domain(row, codes)
                })
                .collect(),
            next_after,
        })
    }

    /// Revokes a client: its secret no longer gets tokens. Revoking twice changes nothing.
    pub async fn revoke_client(
        &self,
        id: Uuid,
        actor: &Actor,
    ) -> Result<Option<Client>, StoreError> {
        let txn = self.begin_write().await?;
        let Some(row) = Entity::find_by_id(id).one(&txn).await? else {
            return Ok(None);
        };
        let row = if row.revoked_at.is_none() {
            let mut active = row.into_active_model();
            active.revoked_at = Set(Some(crate::clock::now()));
            let row = active.update(&txn).await?;
            self.append_audit(
                &txn,
                AuditEntry::success(actor, Action::ClientRevoke, None, id.to_string()),
            )
            .await?;
            row
        } else {
            row
        };
        let mut grants = grants(&txn, &[id]).await?;
        txn.commit().await?;
        Ok(Some(to_domain(row, grants.remove(&id).unwrap_or_default())))
    }

    /// When `client` last authenticated from `address`, if it ever did (and the row has not
    /// been purged).
    pub async fn last_success_from(
        &self,
        client: Uuid,
        address: IpAddr,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(
            client_address::Entity::find_by_id((client, address.to_string()))
                .one(&self.db)
                .await?
                .map(|row| row.last_success_at),
        )
    }

    /// Records that `client` authenticated from `address` now.
    pub async fn record_success_from(
        &self,
        client: Uuid,
        address: IpAddr,
    ) -> Result<(), StoreError> {
        let row = client_address::ActiveModel {
            client_id: Set(client),
            address: Set(address.to_string()),
            last_success_at: Set(crate::clock::now()),
        };
        client_address::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([
                    client_address::Column::ClientId,
                    client_address::Column::Address,
                ])
                .update_column(client_address::Column::LastSuccessAt)
                .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await?;
        Ok(())
    }

    /// Forgets successful authentications older than `before`; returns how many.
    pub async fn purge_client_addresses(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let done = client_address::Entity::delete_many()
            .filter(client_address::Column::LastSuccessAt.lt(before))
            .exec(&self.db)
            .await?;
        Ok(done.rows_affected)
    }

    /// Whether any client was ever registered (revoked ones count).
    pub async fn has_clients(&self) -> Result<bool, StoreError> {
        Ok(Entity::find().one(&self.db).await?.is_some())
    }
}
