//! Building the application: database, migrations, keys, demo data, then the HTTP server.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{App, HttpResponse, HttpServer, web};
use actix_web_prom::PrometheusMetricsBuilder;
use prometheus::Registry;
use tracing_actix_web::TracingLogger;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;
use uuid::Uuid;

use crate::audit::Actor;
use crate::auth::{self, SigningKey, TokenIssuer, TokenVerifier};
use crate::config::Settings;
use crate::http::extract::{BodyLimit, form_error, json_error, path_error, query_error};
use crate::http::middleware::deadline::RequestDeadline;
use crate::http::middleware::fallback::{RouteTable, not_found_or_not_allowed};
use crate::http::middleware::methods::UnknownMethods;
use crate::http::middleware::request_id::RequestIdMiddleware;
use crate::http::middleware::telemetry::RequestSpan;
use crate::http::problem::ProblemRenderer;
use crate::http::state::AppState;
use crate::http::{self, openapi};
use crate::secrets::ServerKey;
use crate::store::{Store, StoreError};
use crate::tenancy::{self, LgCode, MunicipalityError};

/// Why the gateway could not start. Each message names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot open the database: {0}")]
    Database(#[from] StoreError),
    #[error(
        "the database schema is behind ({0}); run `madoguchi migrate` or set database.migrate_on_start = true"
    )]
    MigrationsPending(String),
    #[error("cannot use the token signing key: {0}")]
    SigningKey(String),
    #[error("cannot set up TLS: {0}")]
    Tls(#[from] crate::tls::TlsError),
    #[error("cannot listen on {bind}: {source}")]
    Bind {
        bind: String,
        source: std::io::Error,
    },
    #[error("cannot load the form schemas: {0}")]
    Schemas(#[from] crate::forms::SchemaError),
    #[error("cannot use the server key: {0}")]
    ServerKey(#[from] crate::secrets::SecretsError),
    #[error("cannot create the demo data: {0}")]
    Demo(String),
    #[error("cannot start: {0}")]
    Other(String),
}

/// Printed once, on the first start of an empty database.
#[derive(Debug, Clone)]
pub struct DemoCredentials {
    pub client_id: Uuid,
    pub client_secret: String,
    pub lg_code: LgCode,
    /// The demo clerk of the console (a supervisor), and their password.
    pub staff_login: String,
    pub staff_password: String,
}

pub const DEMO_LG_CODE: &str = "012084";

/// Opens the database named by the settings. For the embedded SQLite database, the data
/// directory is created 0700 and the database files are kept 0600: whoever reads them reads
/// every client grant and audit event, and without a server key the token-signing key.
pub async fn open_store(settings: &Settings) -> Result<Store, StartupError> {
    let url = settings.database_url();
    if settings.uses_embedded_sqlite() {
        let data_dir_error = |source| StartupError::DataDir {
            path: settings.data_dir.display().to_string(),
            source,
        };
        crate::datadir::prepare(&settings.data_dir).map_err(data_dir_error)?;
        crate::datadir::restrict_sqlite_files(&settings.embedded_sqlite_path())
            .map_err(data_dir_error)?;
    }
    Ok(Store::connect(&url, settings.database.max_connections).await?)
}

async fn seed_demo(store: &Store) -> Result<Option<DemoCredentials>, StartupError> {
    if store.has_clients().await? {
        return Ok(None);
    }
    let lg_code = LgCode::parse(DEMO_LG_CODE).map_err(|e| StartupError::Demo(e.to_string()))?;
    let actor = Actor {
        client_id: Some("bootstrap".to_owned()),
        staff: None,
        request_id: None,
    };
    match tenancy::register_municipality(store, DEMO_LG_CODE, "北見市", Some("キタミシ"), &actor)
        .await
    {
        Ok(_) | Err(MunicipalityError::AlreadyExists(_)) => {}
        Err(e) => return Err(StartupError::Demo(e.to_string())),
    }
    let scopes = [
        "municipalities:read",
        "municipalities:write",
        "audit:read",
        "forms",
        "visits",
    ]
    .map(String::from);
    let (client, secret) = auth::register_client(
        store,
        auth::Registration {
            name: "demo counter app (北見市)",
            scopes: &scopes,
            municipalities: &[lg_code.to_string()],
            ..Default::default()
        },
        &actor,
    )
    .await
    .map_err(|e| StartupError::Demo(e.to_string()))?;
    let staff_password = crate::staff::session::random_token()
        .map(|t| t[..16].to_owned())
        .ok_or_else(|| StartupError::Demo("no random password".to_owned()))?;
    let passwords = crate::staff::password::Passwords::new(1, Duration::from_secs(30));
    let staff = crate::staff::service::create(
        store,
        &passwords,
        lg_code,
        crate::staff::service::NewStaff {
            login: "demo",
            name: "窓口 太郎",
            role: "supervisor",
            password: Some(&staff_password),
        },
        &actor,
    )
    .await
    .map_err(|e| StartupError::Demo(e.to_string()))?;
    tracing::info!(client_id = %client.id, "created the demo municipality, client and console clerk");
    Ok(Some(DemoCredentials {
        client_id: client.id,
        client_secret: secret.expose().to_owned(),
        lg_code,
        staff_login: staff.login,
        staff_password,
    }))
}

async fn signing_keys(
    settings: &Settings,
    store: &Store,
    server_key: Option<&ServerKey>,
) -> Result<Vec<SigningKey>, StartupError> {
    match &settings.auth.signing_key_path {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| {
                StartupError::SigningKey(format!("cannot read {}: {e}", path.display()))
            })?;
            let key = SigningKey::from_pem(&pem)
                .map_err(|e| StartupError::SigningKey(format!("{}: {e}", path.display())))?;
            Ok(vec![key])
        }
        None => store
            .signing_keys_or_generate(server_key)
            .await
            .map_err(|e| match e {
                StoreError::Locked(message) => StartupError::SigningKey(message),
                e => StartupError::Database(e),
            }),
    }
}

pub struct Application {
    server: Server,
    maintenance: crate::maintenance::Maintenance,
    delivery: Option<crate::link::delivery::DeliveryWorker>,
    device_port: Option<crate::devices::port::DevicePort>,
    local_addr: SocketAddr,
    base_url: String,
    demo: Option<DemoCredentials>,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let settings = Arc::new(settings);
        // Schemas first: a broken schema file should stop start-up before anything else.
        let forms = Arc::new(crate::forms::FormRegistry::load(
            &settings.schemas.source(),
        )?);
        tracing::info!(
            forms = forms.forms().len(),
            dialects = forms.dialects().count(),
            source = %forms.source,
            "form schemas loaded"
        );
        let catalog = Arc::new(crate::catalog::Catalog::load(
            &settings.schemas.source(),
            &forms,
        )?);
        tracing::info!(
            procedures = catalog.procedures.len(),
            version = %catalog.digest,
            "procedure catalogue loaded"
        );
        let requirements = crate::conformance::checked_catalogue()
            .map_err(|e| StartupError::Other(format!("the conformance requirements: {e}")))?;
        tracing::info!(
            sets = requirements.sets.len(),
            digest = %requirements.digest,
            "conformance requirements loaded"
        );
        let store = open_store(&settings).await?;
        if settings.database.migrate_on_start {
            let applied = store.migrate().await?;
            if !applied.is_empty() {
                tracing::info!(migrations = ?applied, backend = store.backend(), "applied migrations");
            }
        } else {
            let pending = store.pending_migrations().await?;
            if !pending.is_empty() {
                return Err(StartupError::MigrationsPending(pending.join(", ")));
            }
        }
        let server_key = ServerKey::load(&settings, true)?;
        if server_key.is_none() {
            tracing::warn!(
                "no server key (secrets.key_path): the generated token-signing key and stored idempotent responses are protected only by the database's access control, and audit checkpoints are not signed"
            );
            if settings.card.device_port.is_some() {
                tracing::warn!(
                    "no server key (secrets.key_path): card sessions cannot read a 個人番号 (readMyNumber is refused), as it is never stored unsealed"
                );
            }
        }
        let keys = signing_keys(&settings, &store, server_key.as_ref()).await?;
        let device_authority =
            std::sync::Arc::new(store.device_authority(server_key.as_ref()).await.map_err(
                |e| match e {
                    StoreError::Locked(message) => StartupError::Other(message),
                    e => StartupError::Database(e),
                },
            )?);
        let card_signals = Arc::new(crate::devices::Signals::default());
        let device_port = match &settings.card.device_port {
            Some(bind) => {
                let config = device_authority
                    .server_config(&settings.card.device_port_names)
                    .map_err(|e| StartupError::Other(format!("device port: {e}")))?;
                let driver = crate::devices::sessions::Driver {
                    store: store.clone(),
                    signals: card_signals.clone(),
                    server_key: server_key.clone(),
                    trust_dir: settings.card.trust_dir.clone(),
                };
                match &settings.card.trust_dir {
                    None => tracing::warn!(
                        "no card trust directory (card.trust_dir): card sessions will fail until one is configured"
                    ),
                    // Read again at every session, so it can be mended without a restart; a
                    // directory that is there but wrong is said now, not at the first card.
                    Some(dir) if dir.exists() => {
                        if let Err(e) = crate::card::trust::Trust::load(dir) {
                            tracing::error!(
                                error = %e,
                                "the card trust directory cannot be used: card sessions will fail until it is mended"
                            );
                        }
                    }
                    Some(_) => {}
                }
                Some(
                    crate::devices::port::DevicePort::start(bind, config, driver)
                        .await
                        .map_err(|e| StartupError::Other(e.to_string()))?,
                )
            }
            None => None,
        };
        let device_port_url = settings.card.device_port_url.clone().or_else(|| {
            device_port.as_ref().map(|p| {
                let host = settings
                    .card
                    .device_port_names
                    .first()
                    .cloned()
                    .unwrap_or_else(|| p.local_addr.ip().to_string());
                format!(
                    "wss://{host}:{}{}",
                    p.local_addr.port(),
                    crate::card::bridge::PATH
                )
            })
        });
        let signing = keys
            .first()
            .cloned()
            .ok_or_else(|| StartupError::SigningKey("no signing key".to_owned()))?;
        let listener = TcpListener::bind(&settings.bind).map_err(|source| StartupError::Bind {
            bind: settings.bind.clone(),
            source,
        })?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| StartupError::Other(e.to_string()))?;
        let scheme = if settings.tls_enabled() {
            "https"
        } else {
            "http"
        };
        let base_url = format!("{scheme}://{local_addr}");

        let issuer = settings.issuer();
        let verifier = TokenVerifier::new(
            issuer.clone(),
            settings.auth.audience.clone(),
            keys.clone(),
            &settings.auth.external_issuers,
            Duration::from_secs(settings.auth.jwks_cache_seconds),
        )
        .map_err(|e| StartupError::Other(e.to_string()))?;
        let doc = openapi::document();
        let route_table = web::Data::new(RouteTable::from_openapi(&doc));
        let openapi_json = web::Bytes::from(
            serde_json::to_vec(&openapi::with_form_schemas(&doc, &forms, &catalog))
                .map_err(|e| StartupError::Other(e.to_string()))?,
        );
        let maintenance =
            crate::maintenance::Maintenance::start(&store, &settings, server_key.clone());
        let demo_store = store.clone();
        let registry = Registry::new();
        let visit_metrics = crate::kpi::VisitMetrics::register(&registry)
            .map_err(|e| StartupError::Other(e.to_string()))?;
        let areas: std::collections::BTreeSet<&str> =
            catalog.vocabulary.area_ids().into_iter().collect();
        let routes = Arc::new(
            crate::link::outbox::Routes::new(&settings.link.connectors, &areas)
                .map_err(|e| StartupError::Other(e.to_string()))?,
        );
        let delivery_wake = Arc::new(tokio::sync::Notify::new());
        let delivery = if settings.link.delivery.enabled {
            let metrics = crate::link::delivery::DeliveryMetrics::register(&registry)
                .map_err(|e| StartupError::Other(e.to_string()))?;
            Some(crate::link::delivery::DeliveryWorker::start(
                store.clone(),
                routes.clone(),
                settings.link.delivery.clone(),
                delivery_wake.clone(),
                metrics,
                server_key.clone(),
                &settings.link.webhooks,
            ))
        } else {
            None
        };
        let typeface = crate::print::Typeface::embedded().ok_or_else(|| {
            StartupError::Other("the typeface embedded for printouts cannot be read".to_owned())
        })?;
        // The session script is data: checked here, as the catalogue is.
        let session_script = crate::conformance_sessions::script::Script::built_in(
            crate::conformance_sessions::service::SCRIPT,
        )
        .map_err(|e| StartupError::Other(format!("the conformance session script: {e}")))?;
        let conformance = Arc::new(crate::conformance_sessions::index::SessionIndex::new(
            store.clone(),
            session_script,
        ));
        let state = web::Data::new(AppState {
            conformance,
            egress: Arc::new(crate::link::egress::Egress::new(
                settings.link.webhooks.allow_networks.clone(),
            )),
            heavy_work: crate::http::heavy_work::HeavyWork::new(&settings.http.heavy_work),
            typeface: std::sync::Arc::new(typeface),
            visit_metrics,
            issuer: TokenIssuer::new(
                issuer,
                settings.auth.audience.clone(),
                Duration::from_secs(settings.auth.token_ttl_seconds),
                signing,
            ),
            verifier,
            public_keys: keys,
            openapi_json,
            municipalities: crate::tenancy::Directory::new(
                store.clone(),
                Duration::from_secs(settings.cache.municipality_seconds),
            ),
            catalogs: crate::catalog::versions::Catalogs::new(
                catalog.clone(),
                forms.clone(),
                store.clone(),
            ),
            store,
            forms,
            catalog,
            lockout: crate::auth::Lockout::new(&settings.auth.lockout),
            staff_lockout: crate::auth::Lockout::new(&settings.auth.lockout),
            sso: Arc::new(
                crate::console::oidc::Providers::new(&settings.console.sso)
                    .map_err(StartupError::Other)?,
            ),
            passwords: Arc::new(crate::staff::password::Passwords::new(
                settings.console.password_checks,
                Duration::from_millis(settings.console.password_wait_ms),
            )),
            server_key,
            device_authority,
            device_port_url,
            card_signals,
            import_jobs: Arc::default(),
            routes,
            delivery_wake,
            settings: settings.clone(),
        });

        let prometheus = PrometheusMetricsBuilder::new("madoguchi")
            .registry(registry.clone())
            .mask_unmatched_patterns("unmatched")
            .buckets(&[
                0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ])
            .build()
            .map_err(|e| StartupError::Other(e.to_string()))?;
        let registry = web::Data::new(registry);
        let limit = settings.http.body_limit_bytes;
        let request_timeout = Duration::from_secs(settings.http.request_timeout_seconds);

        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(registry.clone())
                .app_data(route_table.clone())
                .app_data(web::PayloadConfig::new(limit))
                .app_data(BodyLimit(limit))
                .app_data(
                    web::FormConfig::default()
                        .limit(limit)
                        .error_handler(form_error),
                )
                .app_data(
                    web::JsonConfig::default()
                        .limit(limit)
                        .error_handler(json_error),
                )
                .app_data(web::PathConfig::default().error_handler(path_error))
                .app_data(web::QueryConfig::default().error_handler(query_error))
                .into_utoipa_app()
                .configure(http::routes)
                .into_app()
                .service(
                    SwaggerUi::new("/docs/{_:.*}").config(
                        utoipa_swagger_ui::Config::from("/openapi.json")
                            // Never the public validator.swagger.io: municipal networks are
                            // closed, and the document is checked in CI anyway.
                            .validator_url("none")
                            .try_it_out_enabled(true)
                            .display_request_duration(true),
                    ),
                )
                // `/problems/` as the pages under it would suggest; documented as `/problems`
                // (a trailing slash in a documented path is an error to Redocly).
                .route(
                    "/problems/",
                    web::get().to(crate::http::operations::problem_types_page),
                )
                .route(
                    "/docs",
                    web::get().to(|| async {
                        HttpResponse::PermanentRedirect()
                            .insert_header(("Location", "/docs/"))
                            .finish()
                    }),
                )
                .configure(crate::console::configure)
                .default_service(web::to(not_found_or_not_allowed))
                .wrap(RequestDeadline(request_timeout))
                .wrap(crate::http::middleware::conformance::ConformanceRecorder)
                .wrap(ProblemRenderer)
                .wrap(TracingLogger::<RequestSpan>::new())
                .wrap(prometheus.clone())
                .wrap(UnknownMethods)
                .wrap(RequestIdMiddleware)
        })
        .shutdown_timeout(settings.shutdown_timeout_seconds)
        // Signals are the binary's business (see `cli::serve`), not the library's.
        .disable_signals();
        let server = if settings.workers > 0 {
            server.workers(settings.workers)
        } else {
            server
        };
        let server = match crate::tls::server_config(&settings.tls)? {
            Some(tls) => server.listen_rustls_0_23(listener, tls),
            None => server.listen(listener),
        }
        .map_err(|source| StartupError::Bind {
            bind: settings.bind.clone(),
            source,
        })?;
        // The demo client is made only once the address is ours and TLS is set up: a start
        // that cannot serve must not use up the one moment its secret is shown.
        let demo = if settings.demo.enabled {
            seed_demo(&demo_store).await?
        } else {
            None
        };
        let server = server.run();

        Ok(Self {
            server,
            maintenance,
            delivery,
            device_port,
            local_addr,
            base_url,
            demo,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn port(&self) -> u16 {
        self.local_addr.port()
    }

    /// `http(s)://ip:port` the server actually listens on.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Where counter PCs' bridges connect, when the device port is on.
    pub fn device_port_addr(&self) -> Option<SocketAddr> {
        self.device_port.as_ref().map(|p| p.local_addr)
    }

    pub fn demo_credentials(&self) -> Option<&DemoCredentials> {
        self.demo.as_ref()
    }

    /// A handle to stop the server (tests, embedding).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped through [`Application::handle`]; a graceful stop lets in-flight
    /// requests finish within `shutdown_timeout_seconds`.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        drop(self.maintenance);
        drop(self.delivery);
        drop(self.device_port);
        result
    }
}
