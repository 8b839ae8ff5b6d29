//! A real server per test on 127.0.0.1:0, with its own SQLite file or its own PostgreSQL
//! database, called over HTTP.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use madoguchi::audit::Actor;
use madoguchi::config::Settings;
use madoguchi::store::Store;
use madoguchi::{Application, DemoCredentials, auth, tenancy};
use reqwest::{Response, StatusCode};
use sea_orm::{ConnectionTrait, Database};
use serde_json::Value;
use tempfile::TempDir;
use uuid::Uuid;

/// Where the PostgreSQL half of the suite creates its databases.
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs a test body once on SQLite and once on PostgreSQL: `storage_test!(name);` for an
/// `async fn name(backend: Backend)` gives the tests `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! storage_test {
    ($name:ident, ignore = $why:literal) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[ignore = $why]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[ignore = $why]
            async fn postgres() {
                super::$name($crate::helpers::Backend::Postgres).await
            }
        }
    };
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::helpers::Backend::Postgres).await
            }
        }
    };
}

pub fn install_crypto() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    });
}

/// Databases of runs more than an hour old are dropped, so that aborted runs do not pile up.
async fn drop_stale_databases(admin: &sea_orm::DatabaseConnection) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let Ok(rows) = admin
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT datname FROM pg_database WHERE datname LIKE 'mdg_t_%'".to_owned(),
        ))
        .await
    else {
        return;
    };
    for row in rows {
        let Ok(name) = row.try_get::<String>("", "datname") else {
            continue;
        };
        let created: u64 = name
            .split('_')
            .nth(2)
            .and_then(|s| s.parse().ok())
            .unwrap_or(now);
        if now.saturating_sub(created) > 3600 {
            let _ = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\""))
                .await;
        }
    }
}

/// A fresh, empty PostgreSQL database; its URL.
pub async fn fresh_postgres_database() -> String {
    let admin_url = postgres_admin_url();
    let admin = Database::connect(&admin_url).await.unwrap_or_else(|e| {
        panic!(
            "PostgreSQL is not reachable at {admin_url} ({e}). The suite needs it: start it \
             (see README) or point TEST_POSTGRES_URL at one."
        )
    });
    static CLEANUP: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    CLEANUP.get_or_init(|| drop_stale_databases(&admin)).await;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let name = format!("mdg_t_{now}_{}", Uuid::new_v4().simple());
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .expect("create test database");
    admin.close().await.ok();
    let (base, _) = admin_url.rsplit_once('/').expect("database URL has a path");
    format!("{base}/{name}")
}

/// Settings for a test server: port 0, one worker, its own data directory and database.
pub async fn test_settings(backend: Backend, dir: &Path) -> Settings {
    let mut settings = Settings {
        bind: "127.0.0.1:0".to_owned(),
        workers: 1,
        data_dir: dir.to_path_buf(),
        shutdown_timeout_seconds: 1,
        ..Default::default()
    };
    if backend == Backend::Postgres {
        settings.database.url = Some(fresh_postgres_database().await);
    }
    settings
}

pub struct TestApp {
    pub address: String,
    pub http: reqwest::Client,
    pub settings: Settings,
    pub demo: DemoCredentials,
    pub store: Store,
    /// Where counter PCs' bridges connect, when the settings turn the device port on.
    pub device_port: Option<std::net::SocketAddr>,
    pub handle: actix_web::dev::ServerHandle,
    _dir: Option<TempDir>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        // Best effort: the server's threads end with the test process anyway.
        std::mem::drop(handle.stop(false));
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// Spawns a server after `configure` has adjusted the settings.
pub async fn spawn_app_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> TestApp {
    install_crypto();
    let dir = TempDir::new().expect("temp dir");
    let mut settings = test_settings(backend, dir.path()).await;
    configure(&mut settings);
    start(settings, Some(dir)).await
}

pub async fn start(settings: Settings, dir: Option<TempDir>) -> TestApp {
    start_with(settings, dir, None).await
}

/// Starts a server again on a database that has its demo client already (`demo`, from the
/// first start).
pub async fn restart(settings: Settings, demo: DemoCredentials) -> TestApp {
    start_with(settings, None, Some(demo)).await
}

async fn start_with(
    settings: Settings,
    dir: Option<TempDir>,
    known_demo: Option<DemoCredentials>,
) -> TestApp {
    let app = Application::build(settings.clone())
        .await
        .expect("the application builds");
    let address = app.base_url().to_owned();
    let demo = app
        .demo_credentials()
        .cloned()
        .or(known_demo)
        .expect("a fresh database gets the demo client");
    let handle = app.handle();
    let device_port = app.device_port_addr();
    tokio::spawn(app.run_until_stopped());
    let store = madoguchi::startup::open_store(&settings)
        .await
        .expect("open the test database");
    TestApp {
        address,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("http client"),
        settings,
        demo,
        store,
        device_port,
        handle,
        _dir: dir,
    }
}

/// A client registered directly, as an operator would with the CLI.
pub struct TestClient {
    pub id: String,
    pub secret: String,
}

impl TestApp {
    /// The server key the gateway uses, if any (on SQLite, the one it created in its data
    /// directory).
    pub fn server_key(&self) -> Option<madoguchi::secrets::ServerKey> {
        madoguchi::secrets::ServerKey::load(&self.settings, false).expect("server key")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn register_municipality(&self, lg_code: &str, name: &str) {
        tenancy::register_municipality(&self.store, lg_code, name, None, &Actor::cli())
            .await
            .expect("register municipality");
    }

    pub async fn register_client(&self, scopes: &[&str], municipalities: &[&str]) -> TestClient {
        let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
        let municipalities: Vec<String> = municipalities.iter().map(|s| s.to_string()).collect();
        let (client, secret) = auth::register_client(
            &self.store,
            auth::Registration {
                name: "test client",
                scopes: &scopes,
                municipalities: &municipalities,
                ..Default::default()
            },
            &Actor::cli(),
        )
        .await
        .expect("register client");
        TestClient {
            id: client.id.to_string(),
            secret: secret.expose().to_owned(),
        }
    }

    /// `POST /oauth/token` with client_secret_post.
    pub async fn request_token(&self, id: &str, secret: &str, scope: Option<&str>) -> Response {
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
        ];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        self.http
            .post(self.url("/oauth/token"))
            .form(&form)
            .send()
            .await
            .expect("token request")
    }

    pub async fn token_for(&self, id: &str, secret: &str) -> String {
        let response = self.request_token(id, secret, None).await;
        assert_eq!(response.status(), StatusCode::OK, "token request failed");
        let body: Value = response.json().await.expect("token JSON");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// A token of the demo client (北見市, read/write/audit).
    pub async fn demo_token(&self) -> String {
        let (id, secret) = (
            self.demo.client_id.to_string(),
            self.demo.client_secret.clone(),
        );
        self.token_for(&id, &secret).await
    }

    /// A token of a freshly registered admin client.
    pub async fn admin_token(&self) -> String {
        let admin = self.register_client(&["admin"], &[]).await;
        self.token_for(&admin.id, &admin.secret).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET")
    }

    /// GET that must succeed; its JSON body.
    pub async fn get_json(&self, path: &str, token: &str) -> Value {
        let response = self.get(path, token).await;
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        response.json().await.expect("JSON body")
    }

    /// A validator for the served contract's schema `schema_ref` (`#/components/schemas/Draft`).
    pub async fn contract_schema(&self, schema_ref: &str) -> jsonschema::Validator {
        let doc = self.get_public_json("/openapi.json").await;
        let root = serde_json::json!({"$ref": schema_ref, "components": doc["components"]});
        jsonschema::validator_for(&root).unwrap_or_else(|e| panic!("{schema_ref}: {e}"))
    }

    /// Whether `value` is what the served contract's schema `schema_ref` says: every error,
    /// or nothing.
    pub async fn conforms_to(&self, schema_ref: &str, value: &Value) -> Result<(), String> {
        conforms(&self.contract_schema(schema_ref).await, value)
    }

    /// GET without a token that must succeed; its JSON body.
    pub async fn get_public_json(&self, path: &str) -> Value {
        let response = self.http.get(self.url(path)).send().await.expect("GET");
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        response.json().await.expect("JSON body")
    }

    /// GET without a token; the body as text, whatever the status.
    pub async fn get_public_text(&self, path: &str) -> String {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("GET")
            .text()
            .await
            .expect("text body")
    }

    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: &Value,
    ) -> Response {
        self.http
            .request(method, self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("request")
    }
}

/// Asserts a problem+json answer and returns its body.
/// Whether `value` passes `validator`: every error with where it is, or nothing.
pub fn conforms(validator: &jsonschema::Validator, value: &Value) -> Result<(), String> {
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

pub async fn problem(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status, "status");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.expect("problem JSON");
    assert_eq!(body["code"], code, "problem code in {body}");
    assert_eq!(body["status"], status.as_u16());
    assert_eq!(
        body["type"],
        format!("/problems/{}", code.replace('_', "-")),
        "type"
    );
    assert!(body["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(body["detail"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(body["requestId"].as_str().is_some());
    // Every field code a test meets is one the gateway documents (/problems, the contract).
    for e in body["errors"].as_array().into_iter().flatten() {
        let field = e["code"].as_str().unwrap_or_default();
        assert!(
            madoguchi::field_codes::all().contains_key(field),
            "errors[].code {field:?} is not in schemas/problems/field-codes.json: {body}"
        );
    }
    body
}

/// The `madoguchi` binary, with an environment that holds nothing of the caller's
/// `MADOGUCHI_*` settings.
pub fn madoguchi() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_madoguchi"));
    for (key, _) in std::env::vars() {
        if key.starts_with("MADOGUCHI_") || key == "DATABASE_URL" {
            command.env_remove(key);
        }
    }
    command.env_remove("RUST_LOG");
    command.env("MADOGUCHI_LOG__LEVEL", "warn");
    command
}

/// A token from a running `serve` process, with HTTP Basic as its printed hint does.
pub async fn basic_token(http: &reqwest::Client, address: &str, id: &str, secret: &str) -> String {
    let body: Value = http
        .post(format!("{address}/oauth/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token request")
        .json()
        .await
        .expect("token JSON");
    body["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

/// A `madoguchi serve` process; killed when dropped.
pub struct ServeProcess {
    pub child: Child,
    pub stdout: Vec<String>,
    pub address: String,
    /// Where its stderr goes (the caller's file, or one of ours).
    log: Option<std::path::PathBuf>,
    own_log: bool,
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        // A test failing beside a server: how the server ended, and what it logged.
        if std::thread::panicking() {
            let status = self.child.try_wait();
            eprintln!("madoguchi serve at {}: {status:?}", self.address);
            if let Some(log) = self
                .log
                .as_ref()
                .and_then(|l| std::fs::read_to_string(l).ok())
            {
                // A panic's message and the start of its backtrace, else the last lines.
                let lines: Vec<&str> = log.lines().collect();
                let from = lines
                    .iter()
                    .position(|l| l.contains("panicked at"))
                    .unwrap_or(lines.len().saturating_sub(20));
                for line in lines.iter().skip(from).take(20) {
                    eprintln!("  serve: {line}");
                }
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(log) = self.log.as_ref().filter(|_| self.own_log) {
            let _ = std::fs::remove_file(log);
        }
    }
}

/// Starts `madoguchi serve` on port 0 and reads its stdout up to the blank line after the
/// banner (or the banner alone on later starts).
pub fn serve_process(data_dir: &Path, database_url: Option<&str>) -> ServeProcess {
    serve_process_with(data_dir, database_url, &[], None)
}

/// As [`serve_process`], with extra arguments and stderr (the logs) written to a file.
pub fn serve_process_with(
    data_dir: &Path,
    database_url: Option<&str>,
    extra_args: &[&str],
    log_file: Option<&Path>,
) -> ServeProcess {
    serve_process_env(data_dir, database_url, extra_args, log_file, &[])
}

/// As [`serve_process_with`], with environment variables (settings, `RUST_LOG`).
pub fn serve_process_env(
    data_dir: &Path,
    database_url: Option<&str>,
    extra_args: &[&str],
    log_file: Option<&Path>,
    envs: &[(&str, &str)],
) -> ServeProcess {
    use std::io::{BufRead, BufReader};
    let mut command = madoguchi();
    command.envs(envs.iter().copied());
    // Without a file of the caller's, the logs go beside the data directory, to be shown if
    // the test fails.
    let log = Some(log_file.map(Path::to_path_buf).unwrap_or_else(|| {
        std::env::temp_dir().join(format!("madoguchi-serve-{}.log", uuid::Uuid::now_v7()))
    }));
    command
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(extra_args)
        .stdout(Stdio::piped())
        .stderr(match &log {
            Some(path) => Stdio::from(std::fs::File::create(path).expect("log file")),
            None => Stdio::null(),
        });
    if let Some(url) = database_url {
        command.env("DATABASE_URL", url);
    }
    let mut child = command.spawn().expect("spawn madoguchi serve");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    // Drains stdout for as long as the server runs: a pipe closed early would make the
    // server's later writes fail.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    let mut address = String::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(500)) {
            Ok(line) => {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    address = rest.split_whitespace().next().unwrap_or("").to_owned();
                }
                let done = line.trim_start().starts_with("curl -s -H");
                lines.push(line);
                if done {
                    break;
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if !address.is_empty() {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    assert!(!address.is_empty(), "serve printed no address: {lines:?}");
    ServeProcess {
        child,
        stdout: lines,
        address,
        log,
        own_log: log_file.is_none(),
    }
}

/// The schemas built into the binary, as the server loads them by default.
pub fn built_in_forms() -> madoguchi::forms::FormRegistry {
    madoguchi::forms::FormRegistry::load(&madoguchi::forms::SchemaSource::Embedded)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The contract as `madoguchi openapi` prints it: built-in forms and catalogue.
pub fn built_in_contract() -> String {
    let forms = built_in_forms();
    let catalog =
        madoguchi::catalog::Catalog::load(&madoguchi::forms::SchemaSource::Embedded, &forms)
            .unwrap_or_else(|e| panic!("{e}"));
    madoguchi::http::openapi::document_json(&forms, &catalog).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs a command to its end off the async runtime. A test that blocks its runtime on a child
/// process while that child talks to an in-process gateway stalls the gateway's background
/// tasks on that runtime: a delivery worker caught inside its claim transaction then holds
/// SQLite's write lock until the child gives up, and the child's request fails with a 500
/// after the 10 s busy timeout (what made the PC/SC test fail one run in ten).
pub async fn output(mut command: Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || command.output().expect("run the command"))
        .await
        .expect("the command's thread")
}

/// A child process killed when the test ends, however it ends.
pub struct Running(pub std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
