//! Rows of conformance sessions: the session, the requests of its client, the faults it
//! served (each claimed once, across replicas), and the key that signs session reports.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use uuid::Uuid;

use super::entities::conformance_fault as fault;
use super::entities::conformance_key as key;
use super::entities::conformance_request as request;
use super::entities::conformance_session as session;
use super::entities::municipality;
use super::{Store, StoreError};
use crate::audit::{Action, Actor, AuditEntry};
use crate::auth::{SigningKey, open_stored, seal_for_storage};
use crate::conformance::recording::Recorded;
use crate::conformance_sessions::{Session, StoredRequest};
use crate::secrets::ServerKey;
use crate::tenancy::LgCode;

const KEY_ID: &str = "conformance-reports";

fn to_domain(row: session::Model) -> Result<Session, StoreError> {
    let corrupt = |what: &str, e: &dyn std::fmt::Display| {
        StoreError::Corrupt(format!("conformance_sessions.{what} of {}: {e}", row.id))
    };
    Ok(Session {
        id: Uuid::parse_str(&row.id).map_err(|e| corrupt("id", &e))?,
        opened_by: row.opened_by,
        client_id: row.client_id,
        lg_code: LgCode::parse(&row.lg_code).map_err(|e| corrupt("lg_code", &e))?,
        product: row.product,
        slow_seconds: u64::try_from(row.slow_seconds).unwrap_or(0),
        created_at: row.created_at,
        expires_at: row.expires_at,
        closed_at: row.closed_at,
    })
}

impl Store {
    /// The first five digits of the registered municipalities between `from` and `to`
    /// (first five, inclusive).
    pub async fn municipalities_in_range(
        &self,
        from: u32,
        to: u32,
    ) -> Result<Vec<String>, StoreError> {
        let rows: Vec<String> = municipality::Entity::find()
            .select_only()
            .column(municipality::Column::LgCode)
            .filter(municipality::Column::LgCode.gte(format!("{from}0")))
            .filter(municipality::Column::LgCode.lte(format!("{to}9")))
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|c| c[..5].to_owned()).collect())
    }

    pub async fn create_conformance_session(
        &self,
        s: &Session,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let txn = self.begin_write().await?;
        session::ActiveModel {
            id: Set(s.id.to_string()),
            opened_by: Set(s.opened_by.clone()),
            client_id: Set(s.client_id.clone()),
            lg_code: Set(s.lg_code.to_string()),
            product: Set(s.product.clone()),
            slow_seconds: Set(i64::try_from(s.slow_seconds).unwrap_or(i64::MAX)),
            created_at: Set(s.created_at),
            expires_at: Set(s.expires_at),
            closed_at: Set(None),
        }
        .insert(&txn)
        .await
        .map_err(StoreError::classify)?;
        self.commit_audited(
            txn,
            AuditEntry::success(
                actor,
                Action::ConformanceSessionOpen,
                Some(s.lg_code),
                format!("conformance-session:{}", s.id),
            ),
        )
        .await?;
        Ok(())
    }

    pub async fn conformance_session(&self, id: Uuid) -> Result<Option<Session>, StoreError> {
        session::Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await?
            .map(to_domain)
            .transpose()
    }

    /// The session whose client is `client_id`, open or not.
    pub async fn conformance_session_of_client(
        &self,
        client_id: &str,
    ) -> Result<Option<Session>, StoreError> {
        session::Entity::find()
            .filter(session::Column::ClientId.eq(client_id))
            .one(&self.db)
            .await?
            .map(to_domain)
            .transpose()
    }

    /// How many sessions are open at `now`: all of them (none: the recorder has nothing to
    /// look for), or those `opened_by` opened.
    pub async fn open_conformance_sessions(
        &self,
        opened_by: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        use sea_orm::PaginatorTrait;
        let mut open = session::Entity::find()
            .filter(session::Column::ClosedAt.is_null())
            .filter(session::Column::ExpiresAt.gt(now));
        if let Some(client) = opened_by {
            open = open.filter(session::Column::OpenedBy.eq(client));
        }
        Ok(open.count(&self.db).await?)
    }

    /// Sessions past their time and not closed yet (their clients still hold secrets).
    pub async fn expired_conformance_sessions(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>, StoreError> {
        session::Entity::find()
            .filter(session::Column::ClosedAt.is_null())
            .filter(session::Column::ExpiresAt.lte(now))
            .limit(100)
            .all(&self.db)
            .await?
            .into_iter()
            .map(to_domain)
            .collect()
    }

    /// Marks the session closed (once) and records who did it; `false` when it was already.
    pub async fn close_conformance_session(
        &self,
        s: &Session,
        actor: &Actor,
    ) -> Result<bool, StoreError> {
        let txn = self.begin_write().await?;
        let changed = session::Entity::update_many()
            .col_expr(session::Column::ClosedAt, Expr::value(crate::clock::now()))
            .filter(session::Column::Id.eq(s.id.to_string()))
            .filter(session::Column::ClosedAt.is_null())
            .exec(&txn)
            .await?
            .rows_affected;
        if changed == 0 {
            return Ok(false);
        }
        self.commit_audited(
            txn,
            AuditEntry::success(
                actor,
                Action::ConformanceSessionClose,
                Some(s.lg_code),
                format!("conformance-session:{}", s.id),
            ),
        )
        .await?;
        Ok(true)
    }

    /// Claims the fault of `step` for the session: `true` for the one request that serves
    /// it, `false` once it has been served (on any replica).
    pub async fn claim_conformance_fault(
        &self,
        session_id: Uuid,
        step: &str,
    ) -> Result<bool, StoreError> {
        let inserted = fault::ActiveModel {
            session_id: Set(session_id.to_string()),
            step: Set(step.to_owned()),
            served_at: Set(crate::clock::now()),
        }
        .insert(&self.db)
        .await
        .map_err(StoreError::classify);
        match inserted {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The steps whose fault the session has served.
    pub async fn served_conformance_faults(
        &self,
        session_id: Uuid,
    ) -> Result<Vec<String>, StoreError> {
        Ok(fault::Entity::find()
            .filter(fault::Column::SessionId.eq(session_id.to_string()))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|f| f.step)
            .collect())
    }

    /// Whether the session's client sent `method` `path` again after `since`.
    pub async fn conformance_request_sent_again(
        &self,
        session_id: Uuid,
        method: &str,
        path: &str,
        since: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        use sea_orm::PaginatorTrait;
        Ok(request::Entity::find()
            .filter(request::Column::SessionId.eq(session_id.to_string()))
            .filter(request::Column::Method.eq(method))
            .filter(request::Column::Path.eq(path))
            .filter(request::Column::AtMs.gt(since.timestamp_millis()))
            .count(&self.db)
            .await?
            > 0)
    }

    pub async fn record_conformance_request(
        &self,
        session_id: Uuid,
        at: DateTime<Utc>,
        r: &Recorded,
        fault: Option<&str>,
    ) -> Result<(), StoreError> {
        let int = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        request::ActiveModel {
            id: Set(Uuid::now_v7().to_string()),
            session_id: Set(session_id.to_string()),
            at_ms: Set(at.timestamp_millis()),
            method: Set(r.method.clone()),
            path: Set(r.path.clone()),
            idempotency_key: Set(r.idempotency_key.clone()),
            actor: Set(r.actor),
            token_digest: Set(r.token.clone()),
            body_sha256: Set(r.body_sha256.clone()),
            status: Set(r.status.map(i32::from)),
            code: Set(r.code.clone()),
            retry_after: Set(r.retry_after.map(int)),
            issued_digest: Set(r.issued.as_ref().map(|(d, _)| d.clone())),
            issued_lifetime: Set(r.issued.as_ref().map(|(_, l)| int(*l))),
            fault: Set(fault.map(str::to_owned)),
            webhook_taken: Set(r.webhook_taken),
        }
        .into_active_model()
        .insert(&self.db)
        .await?;
        Ok(())
    }

    /// The session's requests in the order they arrived.
    pub async fn conformance_requests(
        &self,
        session_id: Uuid,
    ) -> Result<Vec<StoredRequest>, StoreError> {
        let rows = request::Entity::find()
            .filter(request::Column::SessionId.eq(session_id.to_string()))
            .order_by_asc(request::Column::AtMs)
            .order_by_asc(request::Column::Id)
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let at = DateTime::<Utc>::from_timestamp_millis(row.at_ms).unwrap_or_default();
                let recorded = Recorded {
                    n: 0,
                    at_ms: 0,
                    method: row.method,
                    path: row.path,
                    idempotency_key: row.idempotency_key,
                    actor: row.actor,
                    token: row.token_digest,
                    body_sha256: row.body_sha256,
                    status: row.status.and_then(|s| u16::try_from(s).ok()),
                    code: row.code,
                    retry_after: row.retry_after.and_then(|s| u64::try_from(s).ok()),
                    issued: row.issued_digest.map(|d| {
                        (
                            d,
                            row.issued_lifetime
                                .and_then(|l| u64::try_from(l).ok())
                                .unwrap_or(0),
                        )
                    }),
                    injected: row.fault.is_some(),
                    webhook_taken: row.webhook_taken,
                };
                StoredRequest {
                    at,
                    recorded,
                    fault: row.fault,
                }
            })
            .collect())
    }

    /// The key that signs session reports, generated and stored on first use (sealed with
    /// the server key when there is one). Replicas that start at once may each try to store
    /// one; the first stored wins and all use it.
    pub async fn conformance_key(
        &self,
        server_key: Option<&ServerKey>,
    ) -> Result<(SigningKey, Vec<u8>), StoreError> {
        let corrupt =
            |e: &dyn std::fmt::Display| StoreError::Corrupt(format!("conformance key: {e}"));
        for _ in 0..2 {
            if let Some(row) = key::Entity::find_by_id(KEY_ID).one(&self.db).await? {
                let (pkcs8, _) = open_stored(&row.private_key_der, KEY_ID, server_key)
                    .map_err(|e| StoreError::Locked(format!("conformance key: {e}")))?;
                let signing = SigningKey::from_pkcs8_der(&pkcs8).map_err(|e| corrupt(&e))?;
                return Ok((signing, pkcs8));
            }
            let (_, pkcs8) = SigningKey::generate().map_err(|e| corrupt(&e))?;
            let sealed = seal_for_storage(&pkcs8, KEY_ID, server_key).map_err(|e| corrupt(&e))?;
            let inserted = key::ActiveModel {
                id: Set(KEY_ID.to_owned()),
                private_key_der: Set(sealed),
                created_at: Set(crate::clock::now()),
            }
            .insert(&self.db)
            .await
            .map_err(StoreError::classify);
            match inserted {
                Ok(_) => tracing::info!(
                    encrypted = server_key.is_some(),
                    "generated the key that signs conformance session reports"
                ),
                Err(StoreError::Conflict) => {}
                Err(e) => return Err(e),
            }
        }
        Err(corrupt(&"the stored key could not be read back"))
    }
}
