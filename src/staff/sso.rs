//! Single sign-on: an identity the municipality's provider vouched for (its `sub`, a login,
//! a name and a role from a claim) opens a console session. The provider decides the role at
//! every login. An account is found by the provider's subject; the first login of a subject
//! takes the account an administrator made for that login without a password (`--no-password`)
//! or makes a new one; a login held by a password account or by another subject is refused,
//! so an identity at the provider can never take over an account it was not given.

use super::service::{self, LoginError};
use super::session::ConsoleSession;
use super::{Role, StaffAccount, check_login};
use crate::audit::Actor;
use crate::i18n::Lang;
use crate::store::{Store, StoreError};
use crate::tenancy::LgCode;
use crate::validation::FieldErrors;

/// Who the provider says is logging in.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The provider's `sub`: stable, never reassigned.
    pub subject: String,
    /// The console login the login claim gives (lower-cased).
    pub login: String,
    /// Their name as colleagues read it (the `name` claim, or the login).
    pub name: String,
    pub role: Role,
}

#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    /// The login is held by a password account or another of the provider's subjects.
    #[error("the login {0} belongs to another account")]
    LoginTaken(String),
    /// The login claim is not a valid console login.
    #[error("the login {0:?} is not a valid console login")]
    InvalidLogin(String),
    #[error("the account is disabled")]
    Disabled,
    #[error("no random token could be made")]
    NoRandom,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<LoginError> for SsoError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::Store(e) => SsoError::Store(e),
            _ => SsoError::NoRandom,
        }
    }
}

/// Opens a session for the provider's `identity` in the municipality `lg_code`, the account
/// found, linked or made, its name and role as the provider says now (audited as
/// `staff.create` or `staff.update`, then `console.login`).
pub async fn log_in(
    store: &Store,
    lg_code: LgCode,
    identity: Identity,
    lang: Lang,
    actor: &Actor,
) -> Result<(String, ConsoleSession), SsoError> {
    let account = match store.staff_by_subject(lg_code, &identity.subject).await? {
        Some(a) => refreshed(store, a, &identity, actor).await?,
        None => first_login(store, lg_code, &identity, actor).await?,
    };
    if !account.active() {
        return Err(SsoError::Disabled);
    }
    Ok(service::open(store, account, lang, actor).await?)
}

/// The account with the provider's name and role, written when they changed.
async fn refreshed(
    store: &Store,
    mut a: StaffAccount,
    identity: &Identity,
    actor: &Actor,
) -> Result<StaffAccount, SsoError> {
    if a.role != identity.role || a.name != identity.name {
        a.role = identity.role;
        a.name = identity.name.clone();
        store.update_staff(&a, &as_staff(actor, &a)).await?;
    }
    Ok(a)
}

fn as_staff(actor: &Actor, a: &StaffAccount) -> Actor {
    Actor {
        staff: Some(a.staff_id()),
        ..actor.clone()
    }
}

async fn first_login(
    store: &Store,
    lg_code: LgCode,
    identity: &Identity,
    actor: &Actor,
) -> Result<StaffAccount, SsoError> {
    let mut errors = FieldErrors::default();
    check_login(&mut errors, "/login", &identity.login);
    if !errors.is_empty() {
        return Err(SsoError::InvalidLogin(identity.login.clone()));
    }
    match store.staff_by_login(lg_code, &identity.login).await? {
        // Made by an administrator for single sign-on, not yet linked: this subject takes it.
        Some(mut a) if a.subject.is_none() && a.password_hash.is_none() => {
            a.subject = Some(identity.subject.clone());
            a.role = identity.role;
            a.name = identity.name.clone();
            match store.update_staff(&a, &as_staff(actor, &a)).await {
                Ok(()) => Ok(a),
                Err(StoreError::Conflict) => Err(SsoError::LoginTaken(a.login)),
                Err(e) => Err(e.into()),
            }
        }
        Some(a) => Err(SsoError::LoginTaken(a.login)),
        None => {
            let a = StaffAccount {
                id: uuid::Uuid::now_v7(),
                lg_code,
                login: identity.login.clone(),
                name: identity.name.clone(),
                role: identity.role,
                password_hash: None,
                subject: Some(identity.subject.clone()),
                created_at: crate::clock::now(),
                disabled_at: None,
            };
            match store.create_staff(&a, &as_staff(actor, &a)).await {
                Ok(()) => Ok(a),
                // Two first logins at once: the other one made it.
                Err(StoreError::Conflict) => Err(SsoError::LoginTaken(a.login)),
                Err(e) => Err(e.into()),
            }
        }
    }
}
