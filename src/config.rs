//! Layered settings: built-in defaults → optional TOML file → `MADOGUCHI_*` environment
//! variables (nested keys joined with `__`, e.g. `MADOGUCHI_AUTH__TOKEN_TTL_SECONDS`) →
//! `DATABASE_URL` → command-line flags.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Everything the gateway can be configured with. `defaults.toml` lists every key with its
/// default and what it does; a test keeps the two in step.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Address the HTTP server listens on (`host:port`; port 0 picks a free port).
    pub bind: String,
    /// Directory for the embedded SQLite database and other local state.
    pub data_dir: PathBuf,
    /// Public base URL (scheme, host, port) under which clients reach the gateway; used as the
    /// token issuer and in printed hints. Defaults to `http(s)://{bind}`.
    pub public_url: Option<String>,
    /// Number of HTTP worker threads; 0 means one per CPU core.
    pub workers: usize,
    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT.
    pub shutdown_timeout_seconds: u64,
    pub http: HttpSettings,
    pub database: DatabaseSettings,
    pub log: LogSettings,
    pub tls: TlsSettings,
    pub auth: AuthSettings,
    pub cache: CacheSettings,
    pub demo: DemoSettings,
    pub schemas: SchemaSettings,
    pub secrets: SecretsSettings,
    pub idempotency: IdempotencySettings,
    pub audit: AuditSettings,
    pub card: CardSettings,
    pub conformance: ConformanceSettings,
    pub console: ConsoleSettings,
    pub link: LinkSettings,
}

/// The core-system link: the resident directory's files.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinkSettings {
    /// Take in a `myNumber` column of directory files (sealed with the server key, which
    /// must then be configured). Off: such a file is refused.
    pub accept_my_number: bool,
    /// Largest directory file the admin API takes, in bytes.
    pub max_import_bytes: u64,
    /// The connector of each municipality's business area (`[[link.connectors]]`). An area
    /// without one is read by its core system through the pull API.
    pub connectors: Vec<ConnectorSettings>,
    pub delivery: DeliverySettings,
    pub webhooks: WebhookSettings,
}

/// Vendors' webhook endpoints (`[link.webhooks]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookSettings {
    /// Networks webhooks may reach although they are not public (`["10.20.0.0/16"]`): for a
    /// municipality whose vendors' receivers are internal. Empty: public addresses only.
    pub allow_networks: Vec<ipnet::IpNet>,
    /// Endpoints one client may register in one municipality.
    pub max_per_client: u64,
    /// Connecting and answering, per message.
    pub timeout_seconds: u64,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            allow_networks: Vec::new(),
            max_per_client: 10,
            timeout_seconds: 10,
        }
    }
}

/// How a core system receives a business area's applications.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectorKind {
    /// One JSON file per application in an outbox directory, with a manifest per batch.
    File,
    /// A POST per application to the core system's API.
    Http,
    /// The core system reads `GET …/link/{area}/applications` itself (no delivery).
    Pull,
}

impl ConnectorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectorKind::File => "file",
            ConnectorKind::Http => "http",
            ConnectorKind::Pull => "pull",
        }
    }
}

/// One business area's connector, for one municipality or (without `lg_code`) for every one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorSettings {
    /// 全国地方公共団体コード of the municipality; absent: every municipality without a
    /// connector of its own for the area.
    #[serde(default)]
    pub lg_code: Option<String>,
    /// The business area, as the procedure catalogue names it (`residentRegistry`, …).
    pub area: String,
    pub kind: ConnectorKind,
    /// `file`: the outbox directory (files go to `{dir}/{lgCode}/{area}/`).
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// `http`: the URL each application is POSTed to.
    #[serde(default)]
    pub url: Option<String>,
    /// `http`: the OAuth2 token endpoint (client credentials); absent: no token is sent.
    #[serde(default)]
    pub token_url: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    /// A file holding the client secret (never the secret itself in the settings).
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    #[serde(default)]
    pub scope: Option<String>,
    /// `http`: PEM file of the CA certificates the core system's certificate is checked
    /// against (absent: the platform's roots).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// `http`: PEM file with the client certificate chain and its key, for mutual TLS.
    #[serde(default)]
    pub client_identity_file: Option<PathBuf>,
    /// `http`: seconds one POST may take.
    #[serde(default = "default_connector_timeout")]
    pub timeout_seconds: u64,
}

fn default_connector_timeout() -> u64 {
    30
}

impl ConnectorSettings {
    /// A connector for `area` of every municipality, with nothing else set: what a settings
    /// file holding only `area` and `kind` gives.
    pub fn new(area: &str, kind: ConnectorKind) -> Self {
        Self {
            lg_code: None,
            area: area.to_owned(),
            kind,
            dir: None,
            url: None,
            token_url: None,
            client_id: None,
            client_secret_file: None,
            scope: None,
            ca_file: None,
            client_identity_file: None,
            timeout_seconds: default_connector_timeout(),
        }
    }
}

/// The delivery workers every replica runs over the transactional outbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliverySettings {
    /// Run delivery workers in this process.
    pub enabled: bool,
    /// Workers in this process: while one writes a batch, another claims or records one.
    pub workers: usize,
    /// Deliveries one worker claims at a time.
    pub batch_size: u64,
    /// How often an idle worker looks for due deliveries, in milliseconds (a submission on
    /// the same replica wakes it at once).
    pub poll_interval_ms: u64,
    /// Seconds a claimed delivery is held; after that (a crashed replica) another worker
    /// takes it again.
    pub lease_seconds: u64,
    /// Attempts before a delivery is dead (the dead letter): the first try and the retries.
    pub max_attempts: u32,
    /// Wait before the first retry, in milliseconds; each later retry waits `retry_multiplier`
    /// times longer, at most `retry_max_ms`, with random jitter of up to half the wait.
    pub retry_first_ms: u64,
    pub retry_multiplier: u32,
    pub retry_max_ms: u64,
    /// Failures in a row after which a connector's circuit breaker opens.
    pub breaker_failures: u32,
    /// Milliseconds an open breaker waits before one trial delivery.
    pub breaker_open_ms: u64,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            enabled: true,
            workers: 2,
            batch_size: 500,
            poll_interval_ms: 500,
            lease_seconds: 60,
            max_attempts: 10,
            retry_first_ms: 2_000,
            retry_multiplier: 3,
            retry_max_ms: 30 * 60 * 1000,
            breaker_failures: 5,
            breaker_open_ms: 30_000,
        }
    }
}

impl Default for LinkSettings {
    fn default() -> Self {
        Self {
            accept_my_number: false,
            max_import_bytes: 512 * 1024 * 1024,
            connectors: Vec::new(),
            delivery: DeliverySettings::default(),
            webhooks: WebhookSettings::default(),
        }
    }
}

/// My Number cards at the counter: the device port counter PCs' bridges connect to, and the
/// keys cards are verified with.
/// Conformance sessions: vendors' counter apps judged by what they send (see
/// docs/conformance.md).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConformanceSettings {
    /// Hours a session records its client's requests and serves its faults; then it is
    /// closed and its client revoked.
    pub session_hours: u64,
    /// Sessions one client may have open at once (each holds a sandbox municipality).
    pub max_open_per_client: u64,
}

impl Default for ConformanceSettings {
    fn default() -> Self {
        Self {
            session_hours: 24,
            max_open_per_client: 5,
        }
    }
}

/// The counter console under `/counter` (see docs/console.md).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleSettings {
    /// Minutes without a request after which a console session is logged out (a warning with
    /// 延長する shows a minute before).
    pub idle_minutes: u64,
    /// Password checks (argon2id, ~19 MiB and ~20 ms each) run at once per replica.
    pub password_checks: usize,
    /// Milliseconds a login waits for a password check before it is refused as busy
    /// (429 with Retry-After).
    pub password_wait_ms: u64,
    /// Municipalities whose staff log in through their identity provider (OpenID Connect).
    pub sso: Vec<SsoSettings>,
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        Self {
            idle_minutes: 15,
            password_checks: 2,
            password_wait_ms: 2000,
            sso: Vec::new(),
        }
    }
}

/// A municipality's identity provider for the console's single sign-on: OpenID Connect,
/// the authorization code with PKCE (S256).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsoSettings {
    /// 全国地方公共団体コード of the municipality whose staff it signs in.
    pub lg_code: String,
    /// The provider's issuer, exactly as its ID tokens' `iss`; its metadata is read from
    /// `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    /// The console's client id at the provider.
    pub client_id: String,
    /// A file holding the client secret (never the secret itself in the settings); absent: a
    /// public client, PKCE only.
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    /// Where the provider sends the browser back, as registered there; absent:
    /// `{public_url}/counter/sso/callback` (the request's own host when `public_url` is not
    /// set).
    #[serde(default)]
    pub redirect_url: Option<String>,
    /// The ID token claim that holds the role (a string, or a list of strings: the highest
    /// role named counts).
    #[serde(default = "default_role_claim")]
    pub role_claim: String,
    /// The claim's values and the roles they give (`{"窓口係" = "clerk"}`); empty: `clerk`,
    /// `supervisor` and `admin` as themselves.
    #[serde(default)]
    pub roles: std::collections::BTreeMap<String, String>,
    /// The claim that becomes the console login (lower-cased; `a-z 0-9 . _ -`).
    #[serde(default = "default_login_claim")]
    pub login_claim: String,
    /// Scopes asked for besides `openid`.
    #[serde(default = "default_sso_scopes")]
    pub scopes: Vec<String>,
    /// The words of the login page's button; absent: 「庁内アカウントでログイン」.
    #[serde(default)]
    pub label: Option<String>,
    /// Allow a plain `http://` issuer (a provider on loopback in tests): metadata and keys
    /// fetched without TLS can be replaced on the way.
    #[serde(default)]
    pub allow_http: bool,
}

fn default_role_claim() -> String {
    "madoguchi_role".to_owned()
}

fn default_login_claim() -> String {
    "preferred_username".to_owned()
}

fn default_sso_scopes() -> Vec<String> {
    vec!["profile".to_owned()]
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CardSettings {
    /// Where the device port listens (`host:port`; port 0 picks one). Empty: no device port,
    /// and card sessions wait for a bridge that cannot connect.
    pub device_port: Option<String>,
    /// Host names and addresses the device port's certificate is issued for: what the
    /// bridges' URL names.
    pub device_port_names: Vec<String>,
    /// The URL bridges are told to connect to at enrolment (`wss://host:port/v1/bridge`).
    /// Defaults to the device port's address.
    pub device_port_url: Option<String>,
    /// The trust directory: `cvc/kenhojo/` and `cvc/kenkaku/` (J-LIS CVC CA keys named by
    /// their whole reference), `jpki/` (JPKI roots), `jpki-policies.txt` and `jpki-crl/`
    /// (CRLs). Empty: no card can be verified.
    pub trust_dir: Option<PathBuf>,
    /// Seconds a card session waits for the card and the PIN.
    pub session_seconds: u64,
    /// Minutes what a verified session read is kept for the counter app to take.
    pub result_minutes: u64,
}

impl CardSettings {
    /// How long a verified session's result is kept.
    pub fn result_keep(&self) -> chrono::Duration {
        chrono::Duration::minutes(i64::try_from(self.result_minutes).unwrap_or(i64::MAX / 60_000))
    }
}

impl Default for CardSettings {
    fn default() -> Self {
        Self {
            device_port: None,
            device_port_names: vec!["localhost".to_owned(), "127.0.0.1".to_owned()],
            device_port_url: None,
            trust_dir: None,
            session_seconds: 120,
            result_minutes: 10,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    /// Largest request body accepted, in bytes (413 above it).
    pub body_limit_bytes: usize,
    /// The whole request, body included, must arrive and be answered within this many
    /// seconds: a body that stalls gets 408, a request that takes longer 503.
    pub request_timeout_seconds: u64,
    /// Addresses (or networks, `10.0.0.0/8`) of reverse proxies in front of the gateway. For a
    /// connection from one of them, the client's address is the rightmost `X-Forwarded-For`
    /// entry that is not itself a trusted proxy. Empty: the connection's address is the
    /// client's (a forwarded header is ignored).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Printouts and other heavy work: how much runs and waits at once.
    pub heavy_work: HeavyWorkSettings,
}

/// Limits on heavy work (printouts); see `http::heavy_work`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HeavyWorkSettings {
    /// Pieces of heavy work one client may have running or waiting at once (429 beyond).
    pub per_client: usize,
    /// Pieces running at once for the whole replica; 0: the machine's cores.
    pub slots: usize,
    /// Pieces waiting for a slot, all clients together (429 beyond).
    pub queue: usize,
    /// Longest wait for a slot before 429.
    pub wait_seconds: u64,
}

impl Default for HeavyWorkSettings {
    fn default() -> Self {
        Self {
            per_client: 2,
            slots: 0,
            queue: 16,
            wait_seconds: 10,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// `sqlite://…` or `postgres://…`. Empty: SQLite file `madoguchi.db` in `data_dir`.
    /// The `DATABASE_URL` environment variable sets it too.
    pub url: Option<String>,
    pub max_connections: u32,
    /// Run pending migrations when `serve` starts. Turn off where a migration Job runs them.
    pub migrate_on_start: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    pub format: LogFormat,
    /// A tracing filter (`info`, `madoguchi=debug,info` …). `RUST_LOG` overrides it.
    pub level: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuth {
    /// No client certificates are asked for.
    None,
    /// A client certificate is verified when presented; connections without one are accepted.
    Optional,
    /// Every connection must present a certificate signed by `client_ca_path`.
    Required,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsSettings {
    /// PEM certificate chain; with `key_path` it turns TLS on.
    pub cert_path: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key_path: Option<PathBuf>,
    /// PEM bundle of the CAs that sign client certificates (mTLS).
    pub client_ca_path: Option<PathBuf>,
    pub client_auth: ClientAuth,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// `iss` of the tokens this gateway issues. Defaults to `public_url`.
    pub issuer: Option<String>,
    /// `aud` of issued tokens and the audience every accepted token must carry.
    pub audience: String,
    /// Lifetime of issued access tokens, in seconds.
    pub token_ttl_seconds: u64,
    /// PEM (PKCS#8) ECDSA P-256 private key used to sign tokens. Empty: a key is generated
    /// on first start and kept in the database, shared by every replica.
    pub signing_key_path: Option<PathBuf>,
    /// Seconds an external issuer's JWKS is cached.
    pub jwks_cache_seconds: u64,
    /// Other authorization servers whose tokens are accepted.
    pub external_issuers: Vec<ExternalIssuer>,
    /// Failed client authentications at `/oauth/token` before a caller must wait.
    pub lockout: LockoutSettings,
}

/// Wrong client secrets at `/oauth/token`: after `address_failures` failures from one address,
/// or `client_failures` for one client (from addresses where that client has not
/// authenticated recently), further attempts are refused with 429 and `Retry-After` for
/// 1 s, then 2 s, 4 s … up to `max_seconds`, before any secret is checked. Failures are
/// forgotten `window_seconds` after the last one. Per replica.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LockoutSettings {
    pub address_failures: u32,
    pub client_failures: u32,
    pub max_seconds: u64,
    pub window_seconds: u64,
}

impl Default for LockoutSettings {
    fn default() -> Self {
        Self {
            address_failures: 10,
            client_failures: 50,
            max_seconds: 300,
            window_seconds: 600,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalIssuer {
    /// Exact `iss` value of the issuer's tokens.
    pub issuer: String,
    /// Where its public keys are published.
    pub jwks_url: String,
    /// Audience its tokens must carry; defaults to `auth.audience`.
    #[serde(default)]
    pub audience: Option<String>,
    /// Claim holding the granted municipalities (array of lgCodes).
    #[serde(default = "default_municipalities_claim")]
    pub municipalities_claim: String,
    /// Also accept tokens whose header `typ` is `JWT` or absent (RFC 9068 access tokens say
    /// `at+jwt`; an ID token or another JWT of the issuer must not pass as one).
    #[serde(default)]
    pub accept_any_typ: bool,
    /// Also take the client id from `sub` when the token has neither `client_id` nor `azp`
    /// (`sub` may name a user rather than the calling application).
    #[serde(default)]
    pub accept_sub_as_client_id: bool,
    /// Allow a `http://` JWKS URL (keys fetched without TLS can be replaced on the way).
    #[serde(default)]
    pub allow_http_jwks: bool,
}

fn default_municipalities_claim() -> String {
    "municipalities".to_owned()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheSettings {
    /// Seconds a replica keeps a municipality record; a change made through another replica
    /// shows after at most this long. 0 turns the cache off.
    pub municipality_seconds: u64,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            municipality_seconds: 5,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchemaSettings {
    /// A directory laid out like `schemas/` (reference/eras.json, common/, forms/,
    /// dialects/) to use instead of the schemas built into the binary: how an operator adds
    /// an era, a form version or a dialect without a release. Checked at start-up.
    pub dir: Option<PathBuf>,
}

impl SchemaSettings {
    pub fn source(&self) -> crate::forms::SchemaSource {
        match &self.dir {
            Some(dir) => crate::forms::SchemaSource::Directory(dir.clone()),
            None => crate::forms::SchemaSource::Embedded,
        }
    }
}

/// The server's own secret key, which the database never holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecretsSettings {
    /// A file holding 32 random bytes, base64 or hex (`openssl rand -base64 32`). The stored
    /// token-signing key is encrypted with it, stored idempotent responses are sealed with it,
    /// and audit checkpoints are signed with it. Every replica needs the same file. Empty:
    /// with the embedded SQLite database, `server.key` in `data_dir` (created on first start);
    /// with a database URL, none (docs/operations.md says what that leaves open).
    pub key_path: Option<PathBuf>,
}

/// `Idempotency-Key` on creating requests: what the gateway keeps, and how much.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdempotencySettings {
    /// How long a completed request can be replayed, in seconds.
    pub retention_seconds: u64,
    /// A response larger than this is not kept: a retry is told the request was done and
    /// where its result is, instead of getting the response again.
    pub max_response_bytes: usize,
    /// Keys one client may hold at a time; beyond it, requests with a new key get 429.
    pub max_keys_per_client: u64,
    /// Bytes of stored responses one client may hold at a time; beyond it, 429.
    pub max_bytes_per_client: u64,
    /// Seconds between purges of expired keys.
    pub purge_interval_seconds: u64,
}

impl Default for IdempotencySettings {
    fn default() -> Self {
        Self {
            retention_seconds: 86_400,
            max_response_bytes: 64 * 1024,
            max_keys_per_client: 10_000,
            max_bytes_per_client: 32 * 1024 * 1024,
            purge_interval_seconds: 60,
        }
    }
}

/// The audit log's protection against floods and rewrites.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditSettings {
    /// Refused accesses of one client to one municipality are recorded once when the first
    /// happens, then counted; the count of the repeats is recorded when this many seconds
    /// have passed since the first.
    pub denial_window_seconds: u64,
    /// Seconds between checkpoints of the chain head (signed with the server key). 0: only
    /// `madoguchi audit checkpoint` writes them.
    pub checkpoint_seconds: u64,
    /// A file outside the database where the newest signed checkpoint is copied, so that
    /// `audit verify` notices when checkpoints are deleted. Empty: `audit-checkpoint.json` in
    /// `data_dir`. Keep it where the database's writers cannot reach (a volume of its own).
    pub receipt_path: Option<PathBuf>,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self {
            denial_window_seconds: 60,
            checkpoint_seconds: 300,
            receipt_path: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DemoSettings {
    /// On the first start of an empty database, create the demo municipality (北見市, 012084)
    /// and a demo client whose secret is printed once.
    pub enabled: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".to_owned(),
            data_dir: PathBuf::from("./data"),
            public_url: None,
            workers: 0,
            shutdown_timeout_seconds: 30,
            http: HttpSettings::default(),
            database: DatabaseSettings::default(),
            log: LogSettings::default(),
            tls: TlsSettings::default(),
            auth: AuthSettings::default(),
            cache: CacheSettings::default(),
            demo: DemoSettings::default(),
            schemas: SchemaSettings::default(),
            secrets: SecretsSettings::default(),
            idempotency: IdempotencySettings::default(),
            audit: AuditSettings::default(),
            card: CardSettings::default(),
            conformance: ConformanceSettings::default(),
            console: ConsoleSettings::default(),
            link: LinkSettings::default(),
        }
    }
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            body_limit_bytes: 1024 * 1024,
            request_timeout_seconds: 30,
            trusted_proxies: Vec::new(),
            heavy_work: HeavyWorkSettings::default(),
        }
    }
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: None,
            max_connections: 10,
            migrate_on_start: true,
        }
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: "info".to_owned(),
        }
    }
}

impl Default for TlsSettings {
    fn default() -> Self {
        Self {
            cert_path: None,
            key_path: None,
            client_ca_path: None,
            client_auth: ClientAuth::None,
        }
    }
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            issuer: None,
            audience: "madoguchi".to_owned(),
            token_ttl_seconds: 300,
            signing_key_path: None,
            jwks_cache_seconds: 600,
            external_issuers: Vec::new(),
            lockout: LockoutSettings::default(),
        }
    }
}

impl Default for DemoSettings {
    fn default() -> Self {
        Self { enabled: true }
    }
}

/// Why the settings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Settings {
    /// Loads defaults, then the TOML file when given (or named by `MADOGUCHI_CONFIG`), then
    /// `MADOGUCHI_*` variables and `DATABASE_URL`.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        let file = file
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("MADOGUCHI_CONFIG").map(PathBuf::from));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::MissingFile(path));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        figment = figment.merge(Env::prefixed("MADOGUCHI_").ignore(&["CONFIG"]).split("__"));
        if let Ok(url) = std::env::var("DATABASE_URL")
            && !url.is_empty()
        {
            figment = figment.merge(("database.url", url));
        }
        let settings: Settings = figment
            .extract()
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        settings.check()?;
        Ok(settings)
    }

    /// Cross-field checks that serde cannot express.
    pub fn check(&self) -> Result<(), ConfigError> {
        let invalid = |m: &str| Err(ConfigError::Invalid(m.to_owned()));
        match (&self.tls.cert_path, &self.tls.key_path) {
            (Some(_), None) => return invalid("tls.cert_path is set but tls.key_path is not"),
            (None, Some(_)) => return invalid("tls.key_path is set but tls.cert_path is not"),
            _ => {}
        }
        if self.tls.client_auth != ClientAuth::None && self.tls.client_ca_path.is_none() {
            return invalid(
                "tls.client_auth needs tls.client_ca_path (the CA bundle that signs client certificates)",
            );
        }
        if self.tls.client_auth != ClientAuth::None && self.tls.cert_path.is_none() {
            return invalid("tls.client_auth needs TLS itself: set tls.cert_path and tls.key_path");
        }
        if self.http.body_limit_bytes == 0 {
            return invalid("http.body_limit_bytes must be greater than 0");
        }
        if self.http.heavy_work.per_client == 0 || self.http.heavy_work.wait_seconds == 0 {
            return invalid(
                "http.heavy_work.per_client and http.heavy_work.wait_seconds must be greater than 0",
            );
        }
        if self.auth.token_ttl_seconds == 0 || self.auth.token_ttl_seconds > 86_400 {
            return invalid("auth.token_ttl_seconds must be between 1 and 86400");
        }
        if self.database.max_connections == 0 {
            return invalid("database.max_connections must be greater than 0");
        }
        for issuer in &self.auth.external_issuers {
            let https = issuer.jwks_url.starts_with("https://");
            let http = issuer.jwks_url.starts_with("http://");
            if http && !issuer.allow_http_jwks {
                return Err(ConfigError::Invalid(format!(
                    "auth.external_issuers: jwks_url of {} is plain http://; use https://, or set allow_http_jwks = true for that issuer",
                    issuer.issuer
                )));
            }
            if !https && !http {
                return Err(ConfigError::Invalid(format!(
                    "auth.external_issuers: jwks_url of {} must be an https:// URL",
                    issuer.issuer
                )));
            }
        }
        let mut sso_codes = std::collections::BTreeSet::new();
        for p in &self.console.sso {
            let fail = |m: String| Err(ConfigError::Invalid(format!("console.sso: {m}")));
            if crate::tenancy::LgCode::parse(&p.lg_code).is_err() {
                return fail(format!("lg_code {:?} is not a 6-digit code", p.lg_code));
            }
            if !sso_codes.insert(p.lg_code.as_str()) {
                return fail(format!("{} has two identity providers", p.lg_code));
            }
            let http = p.issuer.starts_with("http://");
            if !(p.issuer.starts_with("https://") || http && p.allow_http) {
                return fail(format!(
                    "issuer {} must be an https:// URL (or set allow_http = true for that provider)",
                    p.issuer
                ));
            }
            if p.client_id.is_empty() {
                return fail(format!("{}: client_id is empty", p.lg_code));
            }
            for (value, role) in &p.roles {
                if crate::staff::Role::parse(role).is_none() {
                    return fail(format!(
                        "{}: roles.{value} = {role:?} is not clerk, supervisor or admin",
                        p.lg_code
                    ));
                }
            }
        }
        if self.http.request_timeout_seconds == 0 {
            return invalid("http.request_timeout_seconds must be greater than 0");
        }
        let lockout = &self.auth.lockout;
        if lockout.address_failures == 0 || lockout.client_failures == 0 {
            return invalid(
                "auth.lockout.address_failures and client_failures must be greater than 0",
            );
        }
        if lockout.max_seconds == 0 || lockout.window_seconds == 0 {
            return invalid("auth.lockout.max_seconds and window_seconds must be greater than 0");
        }
        let idempotency = &self.idempotency;
        if idempotency.retention_seconds == 0 || idempotency.purge_interval_seconds == 0 {
            return invalid(
                "idempotency.retention_seconds and purge_interval_seconds must be greater than 0",
            );
        }
        if idempotency.max_keys_per_client == 0 || idempotency.max_bytes_per_client == 0 {
            return invalid(
                "idempotency.max_keys_per_client and max_bytes_per_client must be greater than 0",
            );
        }
        if self.audit.denial_window_seconds == 0 {
            return invalid("audit.denial_window_seconds must be greater than 0");
        }
        // A claimed message must be answered within its lease, or another worker may send it
        // again while it is in flight.
        let lease = self.link.delivery.lease_seconds;
        if self.link.webhooks.timeout_seconds >= lease {
            return Err(ConfigError::Invalid(format!(
                "link.webhooks.timeout_seconds ({}) must be less than link.delivery.lease_seconds ({lease})",
                self.link.webhooks.timeout_seconds
            )));
        }
        for c in &self.link.connectors {
            if c.kind == ConnectorKind::Http && c.timeout_seconds >= lease {
                return Err(ConfigError::Invalid(format!(
                    "link.connectors: the timeout_seconds ({}) of the {} connector must be less than link.delivery.lease_seconds ({lease})",
                    c.timeout_seconds, c.area
                )));
            }
        }
        Ok(())
    }

    pub fn tls_enabled(&self) -> bool {
        self.tls.cert_path.is_some()
    }

    /// Where the newest signed audit checkpoint is copied outside the database.
    pub fn audit_receipt_path(&self) -> PathBuf {
        self.audit
            .receipt_path
            .clone()
            .unwrap_or_else(|| self.data_dir.join("audit-checkpoint.json"))
    }

    /// Whether no database URL is configured, so the SQLite file under `data_dir` is used.
    pub fn uses_embedded_sqlite(&self) -> bool {
        self.database.url.as_deref().is_none_or(str::is_empty)
    }

    /// The SQLite file used when no database URL is configured.
    pub fn embedded_sqlite_path(&self) -> PathBuf {
        self.data_dir.join("madoguchi.db")
    }

    /// The database URL in effect: the configured one, or the SQLite file under `data_dir`.
    pub fn database_url(&self) -> String {
        match &self.database.url {
            Some(url) if !url.is_empty() => url.clone(),
            _ => format!(
                "sqlite://{}?mode=rwc",
                self.embedded_sqlite_path().display()
            ),
        }
    }

    /// The public base URL without a trailing slash.
    pub fn public_base_url(&self) -> String {
        match &self.public_url {
            Some(url) if !url.is_empty() => url.trim_end_matches('/').to_owned(),
            _ => {
                let scheme = if self.tls_enabled() { "https" } else { "http" };
                format!("{scheme}://{}", self.bind)
            }
        }
    }

    /// `iss` of issued tokens.
    pub fn issuer(&self) -> String {
        match &self.auth.issuer {
            Some(issuer) if !issuer.is_empty() => issuer.clone(),
            _ => self.public_base_url(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pass_their_own_checks() {
        let settings = Settings::default();
        settings.check().unwrap();
        assert_eq!(settings.http.body_limit_bytes, 1_048_576);
        assert!(settings.database_url().starts_with("sqlite://"));
        assert_eq!(settings.issuer(), "http://127.0.0.1:8080");
    }

    /// `defaults.toml` is the configuration reference: it holds every setting (one that is
    /// unset by default commented out, with an example), and read as the gateway reads a
    /// settings file it gives exactly the built-in defaults. A setting added to the code and
    /// not to the file, or a default changed in one only, fails here.
    #[test]
    fn defaults_toml_is_the_built_in_defaults() {
        let text = include_str!("../defaults.toml");
        let read: Settings = Figment::new()
            .merge(Toml::string(text))
            .extract()
            .expect("defaults.toml reads as settings, without the built-in defaults under it");
        let json = |s: &Settings| serde_json::to_value(s).unwrap();
        assert_eq!(json(&read), json(&Settings::default()));

        // Every setting is written (or shown commented out) in its own table.
        fn keys(v: &serde_json::Value, table: &str, out: &mut Vec<(String, String)>) {
            for (k, v) in v.as_object().unwrap() {
                match v {
                    serde_json::Value::Object(_) => {
                        let t = if table.is_empty() {
                            k.clone()
                        } else {
                            format!("{table}.{k}")
                        };
                        keys(v, &t, out);
                    }
                    _ => out.push((table.to_owned(), k.clone())),
                }
            }
        }
        let mut all = Vec::new();
        keys(&json(&Settings::default()), "", &mut all);
        let mut table = String::new();
        let mut written = std::collections::BTreeSet::new();
        for line in text.lines() {
            if let Some(t) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']'))
                && !t.starts_with('[')
            {
                table = t.to_owned();
            } else if let Some((key, _)) = line.trim_start_matches("# ").split_once(" = ") {
                written.insert((table.clone(), key.trim().to_owned()));
            }
        }
        let missing: Vec<String> = all
            .iter()
            .filter(|k| !written.contains(*k))
            .map(|(t, k)| format!("[{t}] {k}"))
            .collect();
        assert!(missing.is_empty(), "not in defaults.toml: {missing:?}");
        assert!(all.len() >= 60, "{} settings", all.len());
    }

    /// The settings shipped for Kubernetes are read as the gateway reads them: a misspelt or
    /// removed setting there would stop every replica at start.
    #[test]
    fn the_shipped_kubernetes_settings_load() {
        let manifest = include_str!("../deploy/kubernetes/configmap.yaml");
        let toml: String = manifest
            .split_once("madoguchi.toml: |\n")
            .expect("the embedded file")
            .1
            .lines()
            .map(|l| l.strip_prefix("    ").unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n");
        let settings: Settings = Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::string(&toml))
            .extract()
            .unwrap_or_else(|e| panic!("{e}"));
        settings.check().expect("checks");
        assert_eq!(settings.card.device_port.as_deref(), Some("0.0.0.0:8443"));
        assert!(!settings.http.trusted_proxies.is_empty());
    }

    #[test]
    fn a_message_must_be_answered_within_its_lease() {
        let mut settings = Settings::default();
        settings.link.delivery.lease_seconds = 10;
        settings.link.webhooks.timeout_seconds = 10;
        let err = settings.check().unwrap_err().to_string();
        assert!(err.contains("link.webhooks.timeout_seconds"), "{err}");
        settings.link.webhooks.timeout_seconds = 9;
        settings.check().unwrap();
        settings.link.connectors = vec![ConnectorSettings {
            url: Some("https://core.example.lg.jp/applications".to_owned()),
            timeout_seconds: 30,
            ..ConnectorSettings::new("certificates", ConnectorKind::Http)
        }];
        let err = settings.check().unwrap_err().to_string();
        assert!(err.contains("certificates connector"), "{err}");
    }

    #[test]
    fn tls_needs_both_halves() {
        let mut settings = Settings::default();
        settings.tls.cert_path = Some("cert.pem".into());
        let err = settings.check().unwrap_err().to_string();
        assert!(err.contains("tls.key_path"), "{err}");
    }
}
