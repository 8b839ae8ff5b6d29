//! Append-only, hash-chained audit log: who (client, acting staff), for which municipality,
//! did what, when, under which request. Never request bodies or personal data.

mod chain;
mod checkpoint;
pub mod receipt;

pub use chain::{Anchor, AuditRecord, ChainBreak, ChainVerifier, GENESIS_HASH};
pub use checkpoint::{Checkpoint, CheckpointCheck};

use std::time::Duration;

use crate::store::{Store, StoreError};
use crate::tenancy::{Directory, LgCode};

/// What happened, named `resource.verb`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    MunicipalityCreate,
    MunicipalityUpdate,
    ClientCreate,
    ClientRevoke,
    /// A token tried to act for a municipality it was not granted.
    MunicipalityAccessDenied,
    VisitCreate,
    VisitRead,
    /// A visit's forms or receipt were printed (rendered as PDF).
    VisitPrint,
    VisitList,
    VisitUpdate,
    VisitClose,
    VisitConfirm,
    VisitSubmit,
    /// A municipality changed its procedure catalogue.
    CatalogOverride,
    /// A counter PC was registered for enrolment (a one-time code issued).
    DeviceCreate,
    /// A counter PC's bridge enrolled with its code and got its certificate.
    DeviceEnrol,
    DeviceRevoke,
    /// A counter app asked for a card to be read (who, which counter, visit, purpose).
    CardSessionCreate,
    /// That a card was read, and whether it verified; never what was read.
    CardRead,
    /// A counter app took what a card session read.
    CardSessionRead,
    /// A 住民記録 file was applied to a municipality's resident directory.
    DirectoryImport,
    /// A clerk looked residents up in the directory (the visit it serves; never the terms).
    ResidentLookup,
    /// A core system answered about an application (accepted, rejected, completed).
    ApplicationAcknowledge,
    /// An operator sent a dead delivery on its way again.
    DeliveryReplay,
    /// A vendor opened a conformance session (its sandbox municipality and client).
    ConformanceSessionOpen,
    /// A conformance session was closed: its client revoked, its recording ended.
    ConformanceSessionClose,
    /// A staff account of the console was created.
    StaffCreate,
    /// A staff account's role or name changed, or it was linked to the identity provider's
    /// subject (single sign-on).
    StaffUpdate,
    /// A member of staff logged in to the console (denied: a wrong password).
    ConsoleLogin,
    /// A console session ended: logged out, or idle for too long.
    ConsoleLogout,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::MunicipalityCreate => "municipality.create",
            Action::MunicipalityUpdate => "municipality.update",
            Action::ClientCreate => "client.create",
            Action::ClientRevoke => "client.revoke",
            Action::MunicipalityAccessDenied => "municipality.access_denied",
            Action::VisitCreate => "visit.create",
            Action::VisitRead => "visit.read",
            Action::VisitPrint => "visit.print",
            Action::VisitList => "visit.list",
            Action::VisitUpdate => "visit.update",
            Action::VisitClose => "visit.close",
            Action::VisitConfirm => "visit.confirm",
            Action::VisitSubmit => "visit.submit",
            Action::CatalogOverride => "catalog.override",
            Action::DeviceCreate => "device.create",
            Action::DeviceEnrol => "device.enrol",
            Action::DeviceRevoke => "device.revoke",
            Action::CardSessionCreate => "card_session.create",
            Action::CardRead => "card.read",
            Action::CardSessionRead => "card_session.read",
            Action::DirectoryImport => "directory.import",
            Action::ResidentLookup => "resident.lookup",
            Action::ApplicationAcknowledge => "application.acknowledge",
            Action::DeliveryReplay => "delivery.replay",
            Action::ConformanceSessionOpen => "conformance_session.open",
            Action::ConformanceSessionClose => "conformance_session.close",
            Action::StaffCreate => "staff.create",
            Action::StaffUpdate => "staff.update",
            Action::ConsoleLogin => "console.login",
            Action::ConsoleLogout => "console.logout",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Denied,
}

impl Outcome {
    pub const ALL: [Outcome; 2] = [Outcome::Success, Outcome::Denied];

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
    /// The gateway itself, acting as `what` (a connector's delivery worker).
    pub fn system(what: &str) -> Self {
        Self {
            client_id: Some(format!("system:{what}")),
            staff: None,
            request_id: None,
        }
    }

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
    /// For a record that stands for several repeated events: how many.
    pub repeat_count: Option<i64>,
}

impl AuditEntry {
    pub fn success(actor: &Actor, action: Action, lg_code: Option<LgCode>, target: String) -> Self {
        Self {
            actor: actor.clone(),
            lg_code,
            action,
            target: Some(target),
            outcome: Outcome::Success,
            repeat_count: None,
        }
    }

    /// A refused access of `actor` to municipality `code`; `repeats` for a record of the
    /// repeats that followed the first within a window.
    pub fn denial(actor: &Actor, code: LgCode, repeats: Option<i64>) -> Self {
        Self {
            actor: actor.clone(),
            lg_code: Some(code),
            action: Action::MunicipalityAccessDenied,
            target: Some(code.to_string()),
            outcome: Outcome::Denied,
            repeat_count: repeats,
        }
    }
}

/// Records that `actor` was refused access to municipality `code`, without letting a client
/// flood the chain:
/// - a code that is not registered is not recorded at all (it only shows in the log): there
///   is nothing of that municipality to protect, and any made-up code would add a row;
/// - the first refusal of a client for a municipality is appended at once;
/// - the repeats within `window` after it are counted (in the database, so nothing is lost on
///   a crash) and appended as one record with their number when the window has passed
///   ([`flush_denials`], or the next refusal after the window).
pub async fn record_denial(
    store: &Store,
    municipalities: &Directory,
    actor: &Actor,
    code: LgCode,
    window: Duration,
) -> Result<(), StoreError> {
    if municipalities.municipality(&code).await?.is_none() {
        tracing::warn!(
            client_id = actor.client_id.as_deref().unwrap_or("-"),
            lg_code = %code,
            "the refused municipality is not registered; not recorded in the audit log"
        );
        return Ok(());
    }
    store.record_denial(actor, code, window).await
}

/// Appends the counted repeats of every window that has passed; returns how many records it
/// appended. Run periodically; safe to run on every replica at once.
pub async fn flush_denials(store: &Store, window: Duration) -> Result<u64, StoreError> {
    store.flush_denials(window).await
}

/// Records a checkpoint of the chain head (signed when there is a server key) unless the head
/// has one, and copies a signed one to the receipt outside the database. A receipt that
/// cannot be written is logged as an error and returned as such: the checkpoint stays in the
/// database either way.
pub async fn checkpoint(
    store: &Store,
    key: Option<&crate::secrets::ServerKey>,
    receipt_path: &std::path::Path,
) -> Result<(Option<Checkpoint>, Result<(), String>), StoreError> {
    let Some(written) = store.write_checkpoint(key).await? else {
        return Ok((None, Ok(())));
    };
    let receipt = receipt::keep(receipt_path, &written);
    if let Err(e) = &receipt {
        tracing::error!(
            error = %e,
            "the audit checkpoint is recorded, but its receipt is not: audit verify cannot notice deleted checkpoints until it is"
        );
    }
    Ok((Some(written), receipt))
}
