//! Rows of `card_sessions`. What a session read, and the 照合番号B it was read with, are sealed
//! with the server key (when there is one); the 照合番号B is cleared when the session ends.
//! Each session is audited when it is asked for and when the card has been read — *that* it
//! was read, never what.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use uuid::Uuid;

use super::entities::card_session::{ActiveModel, Column, Entity, Model};
use super::{Store, StoreError};
use crate::audit::{Action, Actor, AuditEntry, Outcome};
use crate::card::session::{Failure, FailureCode, Purpose, SessionResult, State, Verified};
use crate::devices::sessions::CardSession;
use crate::secrets::{self, Purpose as KeyPurpose, ServerKey};
use crate::tenancy::LgCode;

const SEALED: &[u8] = b"MDGS1";

fn seal(server_key: Option<&ServerKey>, id: &str, plain: &[u8]) -> Result<Vec<u8>, StoreError> {
    let Some(key) = server_key else {
        return Ok(plain.to_vec());
    };
    let sealed = secrets::seal(&key.subkey(KeyPurpose::CardSession), id.as_bytes(), plain)
        .map_err(|_| StoreError::Corrupt("cannot seal a card session".to_owned()))?;
    Ok([SEALED, sealed.as_slice()].concat())
}

fn open(server_key: Option<&ServerKey>, id: &str, stored: &[u8]) -> Result<Vec<u8>, StoreError> {
    let Some(sealed) = stored.strip_prefix(SEALED) else {
        return Ok(stored.to_vec());
    };
    let key = server_key.ok_or_else(|| {
        StoreError::Locked("card session sealed with a server key that is not configured".into())
    })?;
    secrets::open(&key.subkey(KeyPurpose::CardSession), id.as_bytes(), sealed)
        .map_err(|_| StoreError::Locked("card session sealed with another server key".into()))
}

/// What a session is for, in the audit target: identifiers only, never what was read.
fn audit_target(s: &CardSession) -> String {
    let mut target = format!(
        "card-session:{} device:{} purpose:{}",
        s.id,
        s.device_id,
        s.purpose.as_str()
    );
    if let Some(visit) = s.visit_id {
        target.push_str(&format!(" visit:{visit}"));
    }
    target
}

fn to_domain(row: Model, server_key: Option<&ServerKey>) -> Result<CardSession, StoreError> {
    let corrupt = |what: &str, e: &dyn std::fmt::Display| {
        StoreError::Corrupt(format!("card_sessions.{what} of {}: {e}", row.id))
    };
    let state = State::parse(&row.state).ok_or_else(|| corrupt("state", &row.state))?;
    let outcome: Option<SessionResult> = match (&row.result, &row.failure) {
        (Some(sealed), _) => {
            let plain = open(server_key, &row.id, sealed)?;
            let verified: Verified =
                serde_json::from_slice(&plain).map_err(|e| corrupt("result", &e))?;
            Some(Ok(verified))
        }
        (None, Some(text)) => {
            let failure: Failure =
                serde_json::from_str(text).map_err(|e| corrupt("failure", &e))?;
            Some(Err(failure))
        }
        (None, None) => None,
    };
    let matching_b = match &row.secret {
        Some(sealed) => Some(
            String::from_utf8(open(server_key, &row.id, sealed)?)
                .map_err(|e| corrupt("secret", &e))?,
        ),
        None => None,
    };
    Ok(CardSession {
        id: Uuid::parse_str(&row.id).map_err(|e| corrupt("id", &e))?,
        lg_code: LgCode::parse(&row.lg_code).map_err(|e| corrupt("lg_code", &e))?,
        device_id: Uuid::parse_str(&row.device_id).map_err(|e| corrupt("device_id", &e))?,
        purpose: Purpose::parse(&row.purpose).ok_or_else(|| corrupt("purpose", &row.purpose))?,
        state,
        visit_id: row
            .visit_id
            .as_deref()
            .map(Uuid::parse_str)
            .transpose()
            .map_err(|e| corrupt("visit_id", &e))?,
        matching_b,
        outcome,
        client_id: row.client_id,
        staff: row.staff,
        created_at: row.created_at,
        updated_at: row.updated_at,
        expires_at: row.expires_at,
    })
}

impl Store {
    /// Stores a new session (waiting for the card) and audits that it was asked for.
    pub async fn create_card_session(
        &self,
        session: &CardSession,
        actor: &Actor,
        server_key: Option<&ServerKey>,
    ) -> Result<(), StoreError> {
        let txn = self.begin_write().await?;
        let id = session.id.to_string();
        let secret = session
            .matching_b
            .as_deref()
            .map(|d| seal(server_key, &id, d.as_bytes()))
            .transpose()?;
        ActiveModel {
            id: Set(id),
            lg_code: Set(session.lg_code.to_string()),
            device_id: Set(session.device_id.to_string()),
            purpose: Set(session.purpose.as_str().to_owned()),
            state: Set(session.state.as_str().to_owned()),
            visit_id: Set(session.visit_id.map(|v| v.to_string())),
            secret: Set(secret),
            result: Set(None),
            failure: Set(None),
            driver: Set(None),
            client_id: Set(session.client_id.clone()),
            staff: Set(session.staff.clone()),
            created_at: Set(session.created_at),
            updated_at: Set(session.updated_at),
            expires_at: Set(session.expires_at),
        }
        .insert(&txn)
        .await
        .map_err(StoreError::classify)?;
        self.commit_audited(
            txn,
            AuditEntry::success(
                actor,
                Action::CardSessionCreate,
                Some(session.lg_code),
                audit_target(session),
            ),
        )
        .await?;
        Ok(())
    }

    /// A session as a reader may see it: a verified result is forgotten `result_keep` after
    /// the session ended (to the second, whether or not the purge has run yet).
    pub async fn card_session(
        &self,
        id: Uuid,
        server_key: Option<&ServerKey>,
        result_keep: chrono::Duration,
    ) -> Result<Option<CardSession>, StoreError> {
        let now = crate::clock::now();
        Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await?
            .map(|row| to_domain(row, server_key).map(|s| s.within(result_keep, now)))
            .transpose()
    }

    /// Takes the oldest session waiting for this device that no connection drives yet;
    /// `driver` names the connection. Two connections never take the same session.
    pub async fn take_card_session(
        &self,
        device: Uuid,
        driver: &str,
        now: DateTime<Utc>,
        server_key: Option<&ServerKey>,
    ) -> Result<Option<CardSession>, StoreError> {
        let candidates = Entity::find()
            .filter(Column::DeviceId.eq(device.to_string()))
            .filter(Column::State.eq(State::WaitingForCard.as_str()))
            .filter(Column::Driver.is_null())
            .filter(Column::ExpiresAt.gt(now))
            .order_by_asc(Column::Id)
            .all(&self.db)
            .await?;
        for row in candidates {
            let taken = Entity::update_many()
                .col_expr(Column::Driver, Expr::value(driver))
                .filter(Column::Id.eq(row.id.clone()))
                .filter(Column::Driver.is_null())
                .exec(&self.db)
                .await?;
            if taken.rows_affected == 1 {
                return to_domain(row, server_key).map(Some);
            }
        }
        Ok(None)
    }

    /// Gives a session back to be taken by the device's next connection: only while it still
    /// waits for the card (nothing of the card was read). Returns whether it was given back.
    pub async fn release_card_session(&self, id: Uuid) -> Result<bool, StoreError> {
        let done = Entity::update_many()
            .col_expr(Column::Driver, Expr::value(Option::<String>::None))
            .col_expr(Column::UpdatedAt, Expr::value(crate::clock::now()))
            .filter(Column::Id.eq(id.to_string()))
            .filter(Column::State.eq(State::WaitingForCard.as_str()))
            .exec(&self.db)
            .await?;
        Ok(done.rows_affected == 1)
    }

    /// Moves a session that is not final to `state`.
    pub async fn set_card_session_state(&self, id: Uuid, state: State) -> Result<(), StoreError> {
        Entity::update_many()
            .col_expr(Column::State, Expr::value(state.as_str()))
            .col_expr(Column::UpdatedAt, Expr::value(crate::clock::now()))
            .filter(Column::Id.eq(id.to_string()))
            .filter(Column::State.is_not_in([State::Verified.as_str(), State::Failed.as_str()]))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Ends a session with what the card proved or why it could not, clears the 照合番号B,
    /// and audits that the card was read. Returns false when the session had ended already.
    pub async fn finish_card_session(
        &self,
        session: &CardSession,
        outcome: &SessionResult,
        server_key: Option<&ServerKey>,
    ) -> Result<bool, StoreError> {
        let txn = self.begin_write().await?;
        let id = session.id.to_string();
        let (state, result, failure) = match outcome {
            Ok(verified) => {
                // Never a 個人番号 unsealed: without a server key it is not kept at all (and
                // such a session cannot be asked for; this is the last guard).
                let unsealed;
                let verified = if server_key.is_none() && verified.my_number.is_some() {
                    unsealed = Verified {
                        my_number: None,
                        ..verified.clone()
                    };
                    &unsealed
                } else {
                    verified
                };
                let plain = serde_json::to_vec(verified)
                    .map_err(|e| StoreError::Corrupt(format!("card session result: {e}")))?;
                (State::Verified, Some(seal(server_key, &id, &plain)?), None)
            }
            Err(failure) => {
                let text = serde_json::to_string(failure)
                    .map_err(|e| StoreError::Corrupt(format!("card session failure: {e}")))?;
                (State::Failed, None, Some(text))
            }
        };
        let done = Entity::update_many()
            .col_expr(Column::State, Expr::value(state.as_str()))
            .col_expr(Column::Result, Expr::value(result))
            .col_expr(Column::Failure, Expr::value(failure))
            .col_expr(Column::Secret, Expr::value(Option::<Vec<u8>>::None))
            .col_expr(Column::UpdatedAt, Expr::value(crate::clock::now()))
            .filter(Column::Id.eq(id))
            .filter(Column::State.is_not_in([State::Verified.as_str(), State::Failed.as_str()]))
            .exec(&txn)
            .await?;
        if done.rows_affected != 1 {
            return Ok(false);
        }
        let actor = Actor {
            client_id: session.client_id.clone(),
            staff: session.staff.clone(),
            request_id: None,
        };
        let mut entry = AuditEntry::success(
            &actor,
            Action::CardRead,
            Some(session.lg_code),
            audit_target(session),
        );
        if let Err(f) = outcome
            && f.code != FailureCode::TimedOut
        {
            entry.outcome = Outcome::Denied;
        }
        self.commit_audited(txn, entry).await?;
        Ok(true)
    }

    /// Forgets what verified sessions read once they are older than `before` (the result is
    /// for the counter app to take, not to keep).
    pub async fn purge_card_results(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let done = Entity::update_many()
            .col_expr(Column::Result, Expr::value(Option::<Vec<u8>>::None))
            .col_expr(Column::Secret, Expr::value(Option::<Vec<u8>>::None))
            .filter(Column::UpdatedAt.lt(before))
            .filter(
                sea_orm::Condition::any()
                    .add(Column::Result.is_not_null())
                    .add(Column::Secret.is_not_null()),
            )
            .exec(&self.db)
            .await?;
        Ok(done.rows_affected)
    }
}
