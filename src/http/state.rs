//! What every handler shares.

use std::sync::Arc;

use crate::auth::{Lockout, SigningKey, TokenIssuer, TokenVerifier};
use crate::config::Settings;
use crate::store::Store;
use crate::tenancy::Directory;

pub struct AppState {
    /// Where vendors' webhooks may make the gateway connect.
    pub egress: Arc<crate::link::egress::Egress>,
    /// Printouts and other heavy work, off the request threads and shared fairly.
    pub heavy_work: super::heavy_work::HeavyWork,
    pub settings: Arc<Settings>,
    pub store: Store,
    /// Municipality records, cached per replica.
    pub municipalities: Directory,
    pub issuer: TokenIssuer,
    pub verifier: TokenVerifier,
    /// Keys published in `/.well-known/jwks.json`.
    pub public_keys: Vec<SigningKey>,
    /// The OpenAPI document, serialized once; each response shares the buffer.
    pub openapi_json: actix_web::web::Bytes,
    /// Form schemas, era table and dialects, loaded at start-up.
    pub forms: Arc<crate::forms::FormRegistry>,
    /// The built-in procedure catalogue, loaded at start-up.
    pub catalog: Arc<crate::catalog::Catalog>,
    /// Counters of the one-stop visits, in the Prometheus registry.
    pub visit_metrics: crate::kpi::VisitMetrics,
    /// The catalogues of municipalities with their overrides, by version.
    pub catalogs: crate::catalog::versions::Catalogs,
    /// The typeface printouts are set in (embedded in the binary).
    pub typeface: std::sync::Arc<crate::print::Typeface>,
    /// Failed client authentications, per replica.
    pub lockout: Lockout,
    /// The device CA that certifies counter PCs' bridges.
    pub device_authority: Arc<crate::devices::authority::DeviceAuthority>,
    /// What an enrolled bridge is told to connect to (`wss://…/v1/bridge`), when the
    /// device port is on.
    pub device_port_url: Option<String>,
    /// Signals between card-session routes and the device port of this replica.
    pub card_signals: Arc<crate::devices::Signals>,
    /// The server key, when there is one (see [`crate::secrets`]).
    pub server_key: Option<crate::secrets::ServerKey>,
    /// Directory imports this replica runs (their progress).
    pub import_jobs: Arc<crate::link::jobs::ImportJobs>,
    /// The connectors of municipalities' business areas.
    pub routes: Arc<crate::link::outbox::Routes>,
    /// Wakes this replica's delivery worker when a submission wrote deliveries.
    pub delivery_wake: Arc<tokio::sync::Notify>,
    /// Open conformance sessions, for the recorder that wraps every request.
    pub conformance: Arc<crate::conformance_sessions::index::SessionIndex>,
    /// Staff passwords: hashed and checked off the request threads, a few at a time.
    pub passwords: Arc<crate::staff::password::Passwords>,
    /// Failed console logins, per replica.
    pub staff_lockout: Lockout,
    /// The identity providers of municipalities whose staff sign in through one.
    pub sso: Arc<crate::console::oidc::Providers>,
}
