//! One misbehaving client must not hurt the others: stalled bodies, made-up methods, hidden
//! characters, noisy logs, stale caches, and what a local user can read on disk.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, problem, serve_process_with, spawn_app, spawn_app_with};
use crate::storage_test;

/// Sends raw bytes and reads the answer until the server closes or `wait` passes.
fn raw(app_address: &str, bytes: &[u8], wait: Duration) -> String {
    let address = app_address.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(wait)).unwrap();
    stream.write_all(bytes).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_is_answered_408_and_blocks_nobody() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.http.request_timeout_seconds = 1).await;
    let address = app.address.clone();
    let started = Instant::now();
    let stalled = tokio::task::spawn_blocking(move || {
        raw(
            &address,
            b"POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 200\r\n\r\ngrant_type=client_cre",
            Duration::from_secs(20),
        )
    });
    // Meanwhile the gateway serves others.
    assert_eq!(
        app.http
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let answer = stalled.await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":\"request_timeout\""), "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the stalled request was held {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_methods_do_not_grow_the_metrics() {
    let app = spawn_app(Backend::Sqlite).await;
    for n in 0..40 {
        let method = Method::from_bytes(format!("BREW{n}X").as_bytes()).unwrap();
        let answer = app
            .http
            .request(method, app.url(&format!("/no/such/path/{n}")))
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_client_error());
    }
    let answer = app
        .http
        .request(Method::from_bytes(b"PURGE").unwrap(), app.url("/healthz"))
        .send()
        .await
        .unwrap();
    problem(answer, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    let metrics = app.get_public_text("/metrics").await;
    assert!(!metrics.contains("BREW"), "a made-up method became a label");
    assert!(!metrics.contains("PURGE"));
    assert!(
        !metrics.contains("/no/such"),
        "an unmatched path became a label"
    );
    assert!(metrics.contains("method=\"OTHER\""));
    let series = metrics
        .lines()
        .filter(|l| l.starts_with("madoguchi_http_requests_total"))
        .count();
    assert!(series <= 4, "{series} series:\n{metrics}");
}

async fn hidden_characters_and_doubled_actors_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.demo_token().await;
    let patch = |actors: Vec<&'static str>, body: Value| {
        let mut request = app
            .http
            .patch(app.url("/v1/municipalities/012084"))
            .bearer_auth(&token)
            .json(&body);
        for actor in actors {
            request = request.header("madoguchi-actor", actor);
        }
        request.send()
    };
    for actor in ["K-001\u{202E}", "K\u{200B}001", "K-001\u{2028}x"] {
        let answer = patch(vec![actor], json!({"name": "北見市"})).await.unwrap();
        problem(answer, StatusCode::BAD_REQUEST, "invalid_actor").await;
    }
    let doubled = patch(vec!["K-001", "K-002"], json!({"name": "北見市"}))
        .await
        .unwrap();
    problem(doubled, StatusCode::BAD_REQUEST, "invalid_actor").await;

    let hidden = patch(vec!["K-001"], json!({"name": "北見\u{202E}市"}))
        .await
        .unwrap();
    let body = problem(
        hidden,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["pointer"], "/name");
    assert_eq!(body["errors"][0]["code"], "control_character");
    // A name with an Ideographic Variation Sequence is fine.
    let ivs = patch(vec!["K-001"], json!({"name": "葛\u{E0100}飾区"}))
        .await
        .unwrap();
    assert_eq!(ivs.status(), StatusCode::OK);
}
storage_test!(hidden_characters_and_doubled_actors_are_refused);

/// Logs written to a file carry no colour codes, and a request that is not HTTP is a client's
/// mistake: WARN, not ERROR.
#[test]
fn a_log_file_is_plain_and_client_mistakes_are_warnings() {
    let dir = tempfile::TempDir::new().unwrap();
    let log = dir.path().join("serve.log");
    let server = serve_process_with(&dir.path().join("data"), None, &[], Some(&log));
    let answer = raw(
        &server.address,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nNot A Header Line\r\n\r\n",
        Duration::from_secs(5),
    );
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap();
        if text.contains("stream error") || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        !text.contains('\u{1b}'),
        "colour codes in a log file:\n{text}"
    );
    let line = text
        .lines()
        .find(|l| l.contains("stream error"))
        .unwrap_or_else(|| panic!("the bad request was not logged:\n{text}"));
    assert!(line.contains(" WARN "), "{line}");
    assert!(!text.contains("ERROR"), "{text}");
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Only the gateway's own user can read the database, the server key and the data directory;
/// the token-signing key in the database is encrypted with the server key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_directory_is_private_and_the_signing_key_sealed() {
    crate::helpers::install_crypto();
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().join("data");
    // An older release left a world-readable database behind.
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
    let db = data.join("madoguchi.db");
    std::fs::write(&db, b"").unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut settings = crate::helpers::test_settings(Backend::Sqlite, &data).await;
    settings.data_dir = data.clone();
    let app = crate::helpers::start(settings.clone(), None).await;
    let token = app.demo_token().await;
    assert_eq!(
        app.get("/v1/municipalities/012084", &token).await.status(),
        StatusCode::OK
    );
    for file in [
        "madoguchi.db",
        "madoguchi.db-wal",
        "madoguchi.db-shm",
        "server.key",
    ] {
        let path = data.join(file);
        assert!(path.exists(), "{file}");
        assert_eq!(mode(&path), 0o600, "{file}");
    }
    sealed_signing_key(&app).await;

    // A fresh data directory is created private.
    let fresh = dir.path().join("fresh").join("data");
    let mut settings = crate::helpers::test_settings(Backend::Sqlite, &fresh).await;
    settings.data_dir = fresh.clone();
    let _second = crate::helpers::start(settings, None).await;
    assert_eq!(mode(&fresh), 0o700);
    assert_eq!(mode(&fresh.join("madoguchi.db")), 0o600);
}

/// The stored signing key is not a key without the server key.
async fn sealed_signing_key(app: &TestApp) {
    use madoguchi::store::entities::signing_key;
    use sea_orm::EntityTrait;
    let rows = signing_key::Entity::find()
        .all(app.store.connection())
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let stored = &rows[0].private_key_der;
    assert!(
        madoguchi::auth::SigningKey::from_pkcs8_der(stored).is_err(),
        "the signing key is stored in clear"
    );
    let keys = app
        .store
        .signing_keys(app.server_key().as_ref())
        .await
        .unwrap();
    assert_eq!(keys[0].kid, rows[0].kid);
}

/// On PostgreSQL without a server key the signing key is stored in clear (and a warning says
/// so); configuring a key encrypts it in place; starting without that key then fails with a
/// message that says what to do, and with another key fails too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_key_seals_the_stored_signing_key_on_postgres() {
    let app = spawn_app(Backend::Postgres).await;
    let token = app.demo_token().await;
    assert!(app.server_key().is_none());
    let kid = app.store.signing_keys(None).await.unwrap()[0].kid.clone();
    let (settings, demo) = (app.settings.clone(), app.demo.clone());
    drop(app);

    let dir = tempfile::TempDir::new().unwrap();
    let key_file = dir.path().join("server.key");
    std::fs::write(&key_file, "cd".repeat(32)).unwrap();
    let mut keyed = settings.clone();
    keyed.data_dir = dir.path().join("data");
    keyed.secrets.key_path = Some(key_file);
    let restarted = crate::helpers::restart(keyed, demo).await;
    assert_eq!(
        restarted
            .get("/v1/municipalities/012084", &token)
            .await
            .status(),
        StatusCode::OK,
        "tokens signed before still verify: the same key, now sealed"
    );
    sealed_signing_key(&restarted).await;
    let keys = restarted
        .store
        .signing_keys(restarted.server_key().as_ref())
        .await
        .unwrap();
    assert_eq!(keys[0].kid, kid);
    drop(restarted);

    let err = match madoguchi::Application::build(settings.clone()).await {
        Ok(_) => panic!("the sealed key cannot be used without the server key"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("secrets.key_path"), "{err}");
    let other = dir.path().join("other.key");
    std::fs::write(&other, "ef".repeat(32)).unwrap();
    let mut wrong = settings;
    wrong.secrets.key_path = Some(other);
    let err = match madoguchi::Application::build(wrong).await {
        Ok(_) => panic!("another server key cannot open it"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("another key"), "{err}");
}
