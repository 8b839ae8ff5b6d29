//! Append-only, hash-chained audit log: who (client, acting staff), for which municipality,
//! did what, when, under which request. Never request bodies or personal data.

mod chain;

pub use chain::{AuditRecord, ChainBreak, ChainVerifier, GENESIS_HASH};

use crate::tenancy::LgCode;

/// What happened, named `resource.verb`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    MunicipalityCreate,
    MunicipalityUpdate,
    ClientCreate,
    ClientRevoke,
    /// A token tried to act for a municipality it was not granted.
    MunicipalityAccessDenied,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::MunicipalityCreate => "municipality.create",
            Action::MunicipalityUpdate => "municipality.update",
            Action::ClientCreate => "client.create",
            Action::ClientRevoke => "client.revoke",
            Action::MunicipalityAccessDenied => "municipality.access_denied",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Denied,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Denied => "denied",
        }
    }
}

/// Who acts: the calling client, the clerk it acts for, the request that carried it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actor {
    /// OAuth2 client id, or `cli` for operator commands.
    pub client_id: Option<String>,
    /// Staff id from `Madoguchi-Actor`, or the operating-system user for CLI commands.
    pub staff: Option<String>,
    pub request_id: Option<String>,
}

impl Actor {
    /// An operator at the command line.
    pub fn cli() -> Self {
        Self {
            client_id: Some("cli".to_owned()),
            staff: std::env::var("USER").ok().filter(|u| !u.is_empty()),
            request_id: None,
        }
    }
}

/// One event to append.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub actor: Actor,
    pub lg_code: Option<LgCode>,
    pub action: Action,
    /// Identifier of the resource acted on (a client id, an lgCode …), never personal data.
    pub target: Option<String>,
    pub outcome: Outcome,
}

impl AuditEntry {
    pub fn success(actor: &Actor, action: Action, lg_code: Option<LgCode>, target: String) -> Self {
        Self {
            actor: actor.clone(),
            lg_code,
            action,
            target: Some(target),
            outcome: Outcome::Success,
        }
    }
}
