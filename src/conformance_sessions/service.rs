//! The use cases of conformance sessions: open one (its sandbox municipality, its client,
//! its synthetic residents), close one, judge its recording. Shared by the API and anything
//! else that drives sessions; free of HTTP.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::script::Script;
use super::{Session, recording, sandbox_codes};
use crate::audit::Actor;
use crate::auth::{ClientError, ClientSecret, Registration, SigningKey};
use crate::conformance::report::Report;
use crate::conformance::requirements::Capability;
use crate::conformance::runner::{self, Inputs, Quiet, RunOptions};
use crate::i18n::Text;
use crate::link::import::{FileToImport, ImportError, Importer};
use crate::residents::file::FileKind;
use crate::store::{Store, StoreError};
use crate::tenancy::MunicipalityError;
use crate::validation::FieldError;

/// The script every session follows today.
pub const SCRIPT: &str = "counter-app";
/// Scopes of a session's client: what a counter app needs for the script.
pub const CLIENT_SCOPES: [&str; 3] = ["forms", "visits", "residents"];
/// Bounds of `slowAnswerSeconds`.
pub const SLOW_SECONDS: std::ops::RangeInclusive<u64> = 1..=120;
/// Default: longer than the 30 s most HTTP clients wait.
pub const DEFAULT_SLOW_SECONDS: u64 = 35;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("invalid session request")]
    Invalid(Vec<FieldError>),
    #[error("every sandbox municipality is in use")]
    NoSandboxLeft,
    #[error("the client has {0} sessions open, as many as it may")]
    TooMany(u64),
    #[error("{0}")]
    Setup(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ClientError> for SessionError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Store(s) => SessionError::Store(s),
            other => SessionError::Setup(format!("the session's client: {other}")),
        }
    }
}

/// What a vendor asks for.
#[derive(Debug, Clone, Default)]
pub struct OpenRequest {
    /// The product under test, for the report.
    pub product: Option<String>,
    pub slow_seconds: Option<u64>,
}

impl OpenRequest {
    fn checked(&self) -> Result<(Option<String>, u64), SessionError> {
        let mut errors = crate::validation::FieldErrors::default();
        let product = self
            .product
            .as_deref()
            .map(|p| errors.text("/product", &Text::new("製品名", "product"), p, 128));
        let slow = self.slow_seconds.unwrap_or(DEFAULT_SLOW_SECONDS);
        if !SLOW_SECONDS.contains(&slow) {
            errors.push(FieldError::new(
                "/slowAnswerSeconds",
                "out_of_range",
                Text::new(
                    format!(
                        "slowAnswerSeconds は {}〜{} 秒で指定してください。",
                        SLOW_SECONDS.start(),
                        SLOW_SECONDS.end()
                    ),
                    format!(
                        "slowAnswerSeconds must be {} to {} seconds.",
                        SLOW_SECONDS.start(),
                        SLOW_SECONDS.end()
                    ),
                ),
            ));
        }
        errors.into_result().map_err(SessionError::Invalid)?;
        Ok((product, slow))
    }
}

/// A session just opened: the one moment its client's secret is known.
pub struct Opened {
    pub session: Session,
    pub client_secret: ClientSecret,
}

/// What opening a session needs besides the store: how to read the sandbox's directory file.
pub struct Sandbox<'a> {
    pub importer: Importer<'a>,
    pub session_hours: u64,
    /// Sessions one client may have open at once (each holds a sandbox municipality).
    pub max_open_per_client: u64,
    /// Where the synthetic directory file is written before it is imported.
    pub work_dir: &'a Path,
}

/// Opens a session for `opener`: registers the next free sandbox municipality, a client of
/// it alone, fills its directory with the script's synthetic residents, and stores the
/// session. A session that fails half-way leaves a sandbox municipality nobody uses, never a
/// half-open session.
pub async fn open(
    store: &Store,
    sandbox: &Sandbox<'_>,
    script: &Script,
    opener: &Actor,
    request: &OpenRequest,
    now: DateTime<Utc>,
) -> Result<Opened, SessionError> {
    let (product, slow_seconds) = request.checked()?;
    let opened_by = opener.client_id.clone().unwrap_or_default();
    // Sandbox municipalities are few (590): one vendor must not take them all.
    let open_now = store
        .open_conformance_sessions(Some(&opened_by), now)
        .await?;
    if open_now >= sandbox.max_open_per_client {
        return Err(SessionError::TooMany(open_now));
    }
    let id = Uuid::now_v7();
    let in_use = store
        .municipalities_in_range(
            *super::SESSION_SANDBOXES.start(),
            *super::SESSION_SANDBOXES.end(),
        )
        .await?;
    let mut municipality = None;
    for code in sandbox_codes().filter(|c| !in_use.contains(&c.to_string()[..5].to_owned())) {
        let name = format!("適合性試験サンドボックス {}", &code.to_string()[2..5]);
        match crate::tenancy::register_municipality(
            store,
            &code.to_string(),
            &name,
            Some("テキゴウセイシケンサンドボックス"),
            opener,
        )
        .await
        {
            Ok(m) => {
                municipality = Some(m);
                break;
            }
            // Another session took it a moment ago.
            Err(MunicipalityError::AlreadyExists(_)) => continue,
            Err(MunicipalityError::Store(e)) => return Err(e.into()),
            Err(e) => return Err(SessionError::Setup(format!("the sandbox: {e}"))),
        }
    }
    let municipality = municipality.ok_or(SessionError::NoSandboxLeft)?;
    let lg_code = municipality.lg_code;
    let scopes: Vec<String> = CLIENT_SCOPES.iter().map(|s| (*s).to_owned()).collect();
    let (client, client_secret) = crate::auth::register_client(
        store,
        Registration {
            name: &format!("conformance session {id}"),
            scopes: &scopes,
            municipalities: &[lg_code.to_string()],
            link_areas: None,
            known_areas: &[],
        },
        opener,
    )
    .await?;
    fill_directory(sandbox, &lg_code.to_string(), script.residents, opener).await?;
    let hours = i64::try_from(sandbox.session_hours).unwrap_or(24);
    let session = Session {
        id,
        opened_by,
        client_id: client.id.to_string(),
        lg_code,
        product,
        slow_seconds,
        created_at: now,
        expires_at: now + chrono::Duration::hours(hours),
        closed_at: None,
    };
    store.create_conformance_session(&session, opener).await?;
    tracing::info!(session = %id, lg_code = %lg_code, "conformance session opened");
    Ok(Opened {
        session,
        client_secret,
    })
}

/// The sandbox's directory: the synthetic residents `link sample` writes (no real person).
async fn fill_directory(
    sandbox: &Sandbox<'_>,
    lg_code: &str,
    residents: u64,
    actor: &Actor,
) -> Result<(), SessionError> {
    let setup =
        |e: &dyn std::fmt::Display| SessionError::Setup(format!("the sandbox's residents: {e}"));
    std::fs::create_dir_all(sandbox.work_dir).map_err(|e| setup(&e))?;
    let path = sandbox
        .work_dir
        .join(format!("sandbox-{lg_code}-{}.csv", Uuid::new_v4()));
    let mut bytes = Vec::new();
    crate::link::sample::write_full(&mut bytes, lg_code, residents).map_err(|e| setup(&e))?;
    std::fs::write(&path, bytes).map_err(|e| setup(&e))?;
    let file = FileToImport {
        lg_code: lg_code.to_owned(),
        kind: FileKind::Full,
        path: path.clone(),
        file_name: "conformance-sandbox.csv".to_owned(),
        staff: None,
        client_id: actor.client_id.clone(),
    };
    let outcome = sandbox
        .importer
        .import_audited(&file, actor, Arc::new(|_| {}))
        .await;
    let _ = std::fs::remove_file(&path);
    match outcome {
        Ok(_) => Ok(()),
        Err(ImportError::Store(e)) => Err(e.into()),
        Err(e) => Err(setup(&e)),
    }
}

/// Closes the session: its client is revoked (its tokens refused from now on) and its
/// recording ends. `false` when it was closed already.
pub async fn close(store: &Store, session: &Session, actor: &Actor) -> Result<bool, SessionError> {
    if !store.close_conformance_session(session, actor).await? {
        return Ok(false);
    }
    if let Ok(id) = Uuid::parse_str(&session.client_id) {
        crate::auth::revoke_client(store, id, actor).await?;
    }
    tracing::info!(session = %session.id, "conformance session closed");
    Ok(true)
}

/// Closes the sessions past their time (the maintenance job): their clients revoked. How
/// many were closed.
pub async fn close_expired(store: &Store, now: DateTime<Utc>) -> Result<u64, StoreError> {
    let actor = Actor::system("conformance-sessions");
    let mut closed = 0;
    for session in store.expired_conformance_sessions(now).await? {
        match close(store, &session, &actor).await {
            Ok(true) => closed += 1,
            Ok(false) => {}
            Err(SessionError::Store(e)) => return Err(e),
            Err(e) => {
                tracing::warn!(session = %session.id, error = %e, "could not close an expired conformance session")
            }
        }
    }
    Ok(closed)
}

/// Judges the session's recording so far with its script's suite and writes the run (the
/// reports, events and signed manifest) into `out`, which must be empty.
pub async fn judge(
    store: &Store,
    session: &Session,
    script: &Script,
    key: Option<SigningKey>,
    sut_url: reqwest::Url,
    out: &Path,
) -> Result<Report, SessionError> {
    let suite = crate::conformance::suite(&script.suite)
        .ok_or_else(|| SessionError::Setup(format!("no suite {}", script.suite)))?;
    let rows = store.conformance_requests(session.id).await?;
    let inputs = Inputs {
        product: session.product.clone(),
        lg_code: Some(session.lg_code.to_string()),
        capabilities: vec![Capability::InjectedFaults],
        ..Inputs::default()
    };
    let options = RunOptions {
        suite,
        base_url: sut_url,
        inputs,
        out: out.to_owned(),
        timeout_scale: 1.0,
        key,
        only: Vec::new(),
        recording: Some(recording(&rows)),
    };
    runner::run(options, &Quiet)
        .await
        .map_err(|e| SessionError::Setup(e.to_string()))
}
