//! The staff use cases: create an account, log in (password checked under the hasher's
//! permits, failures locked out with backoff), find the session a cookie names (closing it
//! when idle too long), log out.

use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::password::{Busy, Passwords};
use super::session::{self, ConsoleSession};
use super::{Role, StaffAccount, check_login, check_password};
use crate::audit::Actor;
use crate::auth::Lockout;
use crate::i18n::{Lang, Text};
use crate::store::{Store, StoreError};
use crate::tenancy::LgCode;
use crate::validation::{FieldError, FieldErrors};

/// A staff account to create.
pub struct NewStaff<'a> {
    pub login: &'a str,
    pub name: &'a str,
    pub role: &'a str,
    /// None: the account logs in only through the municipality's identity provider.
    pub password: Option<&'a str>,
}

#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    #[error("the account is not valid")]
    Invalid(Vec<FieldError>),
    #[error("the login {0} is taken in this municipality")]
    Taken(String),
    #[error("the municipality is not registered")]
    UnknownMunicipality,
    #[error("the password hasher is busy")]
    Busy(Duration),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks and registers an account (audited as `staff.create`).
pub async fn create(
    store: &Store,
    passwords: &Passwords,
    lg_code: LgCode,
    new: NewStaff<'_>,
    actor: &Actor,
) -> Result<StaffAccount, StaffError> {
    let mut errors = FieldErrors::default();
    check_login(&mut errors, "/login", new.login);
    let name = errors.text("/name", &Text::new("氏名", "name"), new.name, 64);
    let role = Role::parse(new.role);
    if role.is_none() {
        errors.push(FieldError::new(
            "/role",
            "invalid_role",
            Text::new(
                "役割は clerk・supervisor・admin のどれかにしてください。",
                "role is one of clerk, supervisor, admin.",
            ),
        ));
    }
    if let Some(p) = new.password {
        check_password(&mut errors, "/password", p);
    }
    errors.into_result().map_err(StaffError::Invalid)?;
    let password_hash = match new.password {
        Some(p) => Some(
            passwords
                .hash(p)
                .await
                .map_err(|Busy(d)| StaffError::Busy(d))?,
        ),
        None => None,
    };
    let account = StaffAccount {
        id: Uuid::now_v7(),
        lg_code,
        login: new.login.to_owned(),
        name,
        role: role.unwrap_or(Role::Clerk),
        password_hash,
        subject: None,
        created_at: crate::clock::now(),
        disabled_at: None,
    };
    match store.create_staff(&account, actor).await {
        Ok(()) => Ok(account),
        Err(StoreError::Conflict) => Err(StaffError::Taken(account.login)),
        Err(StoreError::MissingReference) => Err(StaffError::UnknownMunicipality),
        Err(e) => Err(e.into()),
    }
}

/// Why a login did not open a session.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown login, wrong password or a disabled account: the caller is not told which.
    #[error("login refused")]
    Refused,
    /// Too many failures: wait.
    #[error("locked for {0:?}")]
    Locked(Duration),
    #[error("the password hasher is busy")]
    Busy(Duration),
    #[error("no random token could be made")]
    NoRandom,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A login attempt at the console.
pub struct Credentials<'a> {
    pub lg_code: LgCode,
    pub login: &'a str,
    pub password: &'a str,
    pub address: IpAddr,
    pub lang: Lang,
}

/// Checks the password and opens a new session (a new token every time: a session id known
/// before the login is never the one after it). Answers the cookie's token and the session.
pub async fn log_in(
    store: &Store,
    passwords: &Passwords,
    lockout: &Lockout,
    c: Credentials<'_>,
    actor: &Actor,
) -> Result<(String, ConsoleSession), LoginError> {
    let account = store.staff_by_login(c.lg_code, c.login).await?;
    let id = account.as_ref().map(|a| a.id);
    lockout
        .check(id, c.address)
        .await
        .map_err(LoginError::Locked)?;
    let stored = account.as_ref().and_then(|a| a.password_hash.as_deref());
    let matched = passwords
        .verify(c.password, stored)
        .await
        .map_err(|Busy(d)| LoginError::Busy(d))?;
    let account = match account {
        Some(a) if matched && a.active() => a,
        other => {
            lockout.record_failure(id, c.address).await;
            if let Some(a) = other {
                let actor = Actor {
                    staff: Some(a.staff_id()),
                    ..actor.clone()
                };
                store.console_login_refused(&a, &actor).await?;
            }
            return Err(LoginError::Refused);
        }
    };
    lockout.record_success(account.id, c.address).await;
    open(store, account, c.lang, actor).await
}

/// Opens a session for an account already authenticated (a password or the identity
/// provider).
pub async fn open(
    store: &Store,
    account: StaffAccount,
    lang: Lang,
    actor: &Actor,
) -> Result<(String, ConsoleSession), LoginError> {
    let token = session::random_token().ok_or(LoginError::NoRandom)?;
    let csrf = session::random_token().ok_or(LoginError::NoRandom)?;
    let digest = session::digest(&token);
    let now = crate::clock::now();
    let actor = Actor {
        staff: Some(account.staff_id()),
        ..actor.clone()
    };
    store
        .open_console_session(&digest, &account, &csrf, lang, now, &actor)
        .await?;
    Ok((
        token,
        ConsoleSession {
            digest,
            staff: account,
            csrf,
            lang,
            created_at: now,
            last_seen_at: now,
        },
    ))
}

/// What a cookie's token opens.
pub enum Found {
    Active(Box<ConsoleSession>),
    /// It was idle too long and is now closed (audited).
    TimedOut,
    /// No such session (logged out, or never was), or its account is disabled.
    None,
}

/// The session `token` names at `now`; one idle for `idle` or more is closed.
pub async fn find(
    store: &Store,
    token: &str,
    idle: chrono::Duration,
    now: DateTime<Utc>,
    actor: &Actor,
) -> Result<Found, StoreError> {
    let Some(s) = store.console_session(&session::digest(token)).await? else {
        return Ok(Found::None);
    };
    let actor = Actor {
        staff: Some(s.staff.staff_id()),
        ..actor.clone()
    };
    if s.idle_at(now, idle) {
        store.close_console_session(&s, &actor, true).await?;
        return Ok(Found::TimedOut);
    }
    if !s.staff.active() {
        store.close_console_session(&s, &actor, false).await?;
        return Ok(Found::None);
    }
    Ok(Found::Active(Box::new(s)))
}

/// Ends the session (audited).
pub async fn log_out(store: &Store, s: &ConsoleSession, actor: &Actor) -> Result<(), StoreError> {
    store.close_console_session(s, actor, false).await
}
