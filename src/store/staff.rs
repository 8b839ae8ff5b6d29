//! Rows of staff accounts and console sessions.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use uuid::Uuid;

use super::entities::console_session as session;
use super::entities::staff_account as account;
use super::{Store, StoreError};
use crate::audit::{Action, Actor, AuditEntry, Outcome};
use crate::i18n::Lang;
use crate::staff::session::ConsoleSession;
use crate::staff::{Role, StaffAccount};
use crate::tenancy::LgCode;

fn to_domain(row: account::Model) -> Result<StaffAccount, StoreError> {
    let corrupt = |what: &str, e: &dyn std::fmt::Display| {
        StoreError::Corrupt(format!("staff_accounts.{what} of {}: {e}", row.id))
    };
    Ok(StaffAccount {
        id: Uuid::parse_str(&row.id).map_err(|e| corrupt("id", &e))?,
        lg_code: LgCode::parse(&row.lg_code).map_err(|e| corrupt("lg_code", &e))?,
        role: Role::parse(&row.role).ok_or_else(|| corrupt("role", &row.role))?,
        login: row.login,
        name: row.name,
        password_hash: row.password_hash,
        subject: row.subject,
        created_at: row.created_at,
        disabled_at: row.disabled_at,
    })
}

fn lang_of(s: &str) -> Lang {
    if s == "en" { Lang::En } else { Lang::Ja }
}

fn lang_str(l: Lang) -> &'static str {
    match l {
        Lang::Ja => "ja",
        Lang::En => "en",
    }
}

impl Store {
    /// Registers a staff account, audited as `staff.create`. `Conflict` when the login is
    /// taken in the municipality, `MissingReference` when the municipality is not registered.
    pub async fn create_staff(&self, a: &StaffAccount, actor: &Actor) -> Result<(), StoreError> {
        let txn = self.begin_write().await?;
        account::ActiveModel {
            id: Set(a.id.to_string()),
            lg_code: Set(a.lg_code.to_string()),
            login: Set(a.login.clone()),
            name: Set(a.name.clone()),
            role: Set(a.role.as_str().to_owned()),
            password_hash: Set(a.password_hash.clone()),
            subject: Set(a.subject.clone()),
            created_at: Set(a.created_at),
            disabled_at: Set(a.disabled_at),
        }
        .insert(&txn)
        .await
        .map_err(StoreError::classify)?;
        self.commit_audited(
            txn,
            AuditEntry::success(
                actor,
                Action::StaffCreate,
                Some(a.lg_code),
                format!("staff:{}", a.staff_id()),
            ),
        )
        .await?;
        Ok(())
    }

    pub async fn staff_by_login(
        &self,
        lg_code: LgCode,
        login: &str,
    ) -> Result<Option<StaffAccount>, StoreError> {
        account::Entity::find()
            .filter(account::Column::LgCode.eq(lg_code.to_string()))
            .filter(account::Column::Login.eq(login))
            .one(&self.db)
            .await?
            .map(to_domain)
            .transpose()
    }

    /// The account the municipality's identity provider knows as `subject`.
    pub async fn staff_by_subject(
        &self,
        lg_code: LgCode,
        subject: &str,
    ) -> Result<Option<StaffAccount>, StoreError> {
        account::Entity::find()
            .filter(account::Column::LgCode.eq(lg_code.to_string()))
            .filter(account::Column::Subject.eq(subject))
            .one(&self.db)
            .await?
            .map(to_domain)
            .transpose()
    }

    /// Writes an account's name, role and identity-provider subject as `a` has them, audited
    /// as `staff.update`. `Conflict` when another account holds the subject.
    pub async fn update_staff(&self, a: &StaffAccount, actor: &Actor) -> Result<(), StoreError> {
        let txn = self.begin_write().await?;
        account::ActiveModel {
            id: Set(a.id.to_string()),
            name: Set(a.name.clone()),
            role: Set(a.role.as_str().to_owned()),
            subject: Set(a.subject.clone()),
            ..Default::default()
        }
        .update(&txn)
        .await
        .map_err(StoreError::classify)?;
        self.commit_audited(
            txn,
            AuditEntry::success(
                actor,
                Action::StaffUpdate,
                Some(a.lg_code),
                format!("staff:{}", a.staff_id()),
            ),
        )
        .await?;
        Ok(())
    }

    /// A municipality's staff, by login.
    pub async fn list_staff(&self, lg_code: LgCode) -> Result<Vec<StaffAccount>, StoreError> {
        account::Entity::find()
            .filter(account::Column::LgCode.eq(lg_code.to_string()))
            .order_by_asc(account::Column::Login)
            .all(&self.db)
            .await?
            .into_iter()
            .map(to_domain)
            .collect()
    }

    /// Opens a console session for `staff`, audited as `console.login`.
    pub async fn open_console_session(
        &self,
        digest: &str,
        staff: &StaffAccount,
        csrf: &str,
        lang: Lang,
        now: DateTime<Utc>,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let txn = self.begin_write().await?;
        session::ActiveModel {
            id: Set(digest.to_owned()),
            staff_id: Set(staff.id.to_string()),
            csrf: Set(csrf.to_owned()),
            lang: Set(lang_str(lang).to_owned()),
            created_at: Set(now),
            last_seen_at: Set(now),
        }
        .insert(&txn)
        .await
        .map_err(StoreError::classify)?;
        self.commit_audited(
            txn,
            AuditEntry::success(
                actor,
                Action::ConsoleLogin,
                Some(staff.lg_code),
                format!("staff:{}", staff.staff_id()),
            ),
        )
        .await?;
        Ok(())
    }

    /// A refused login of an existing account (a wrong password), audited as `console.login`
    /// denied.
    pub async fn console_login_refused(
        &self,
        staff: &StaffAccount,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        self.record_audit(AuditEntry {
            actor: actor.clone(),
            lg_code: Some(staff.lg_code),
            action: Action::ConsoleLogin,
            target: Some(format!("staff:{}", staff.staff_id())),
            outcome: Outcome::Denied,
            repeat_count: None,
        })
        .await?;
        Ok(())
    }

    /// The session whose token has `digest`, with its account.
    pub async fn console_session(
        &self,
        digest: &str,
    ) -> Result<Option<ConsoleSession>, StoreError> {
        let Some(row) = session::Entity::find_by_id(digest.to_owned())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let Some(staff) = account::Entity::find_by_id(row.staff_id.clone())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(ConsoleSession {
            digest: row.id,
            staff: to_domain(staff)?,
            csrf: row.csrf,
            lang: lang_of(&row.lang),
            created_at: row.created_at,
            last_seen_at: row.last_seen_at,
        }))
    }

    /// Marks the session used at `now` (and its language).
    pub async fn touch_console_session(
        &self,
        digest: &str,
        now: DateTime<Utc>,
        lang: Lang,
    ) -> Result<(), StoreError> {
        session::Entity::update_many()
            .col_expr(session::Column::LastSeenAt, now.into())
            .col_expr(session::Column::Lang, lang_str(lang).into())
            .filter(session::Column::Id.eq(digest))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Ends a session, audited as `console.logout` (`idle` when the idle logout ended it).
    pub async fn close_console_session(
        &self,
        s: &ConsoleSession,
        actor: &Actor,
        idle: bool,
    ) -> Result<(), StoreError> {
        let txn = self.begin_write().await?;
        let gone = session::Entity::delete_by_id(s.digest.clone())
            .exec(&txn)
            .await?
            .rows_affected;
        if gone == 0 {
            return Ok(());
        }
        let what = if idle { "idle" } else { "logout" };
        self.commit_audited(
            txn,
            AuditEntry::success(
                actor,
                Action::ConsoleLogout,
                Some(s.staff.lg_code),
                format!("staff:{}:{what}", s.staff.staff_id()),
            ),
        )
        .await?;
        Ok(())
    }

    /// Removes sessions idle since before `before`; how many.
    pub async fn delete_idle_console_sessions(
        &self,
        before: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        Ok(session::Entity::delete_many()
            .filter(session::Column::LastSeenAt.lt(before))
            .exec(&self.db)
            .await?
            .rows_affected)
    }
}
