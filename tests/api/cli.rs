//! The `madoguchi` binary: first and second start, operator commands, configuration errors,
//! graceful shutdown.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use tempfile::TempDir;

use crate::helpers::{Backend, basic_token, fresh_postgres_database, madoguchi, serve_process};
use crate::storage_test;

async fn database_for(backend: Backend) -> Option<String> {
    match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(fresh_postgres_database().await),
    }
}

fn credential(lines: &[String], label: &str) -> String {
    lines
        .iter()
        .find_map(|l| l.trim().strip_prefix(label).map(|v| v.trim().to_owned()))
        .unwrap_or_else(|| panic!("no {label} in {lines:#?}"))
}

/// First start prints the demo client's secret and a working curl; the second prints none
/// and the first secret still works.
async fn first_start_and_second_start(backend: Backend) {
    let dir = TempDir::new().unwrap();
    let url = database_for(backend).await;
    let http = reqwest::Client::new();

    let first = serve_process(dir.path(), url.as_deref());
    let output = first.stdout.join("\n");
    assert!(output.contains("北見市 (012084)"), "{output}");
    let id = credential(&first.stdout, "client_id:");
    let secret = credential(&first.stdout, "client_secret:");
    assert!(
        output.contains(&format!("curl -s -u '{id}:{secret}'")),
        "{output}"
    );
    assert!(output.contains(&format!("{}/v1/municipalities/012084", first.address)));

    // Do what the printed hint says.
    let token = basic_token(&http, &first.address, &id, &secret).await;
    let kitami = http
        .get(format!("{}/v1/municipalities/012084", first.address))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(kitami.status(), StatusCode::OK);
    drop(first);

    let second = serve_process(dir.path(), url.as_deref());
    let output = second.stdout.join("\n");
    assert!(output.contains("listening on"), "{output}");
    assert!(
        !output.contains("client_secret"),
        "no new secret on a second start: {output}"
    );
    let again = http
        .post(format!("{}/oauth/token", second.address))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        again.status(),
        StatusCode::OK,
        "the first secret still works"
    );
    let old_token = http
        .get(format!("{}/v1/municipalities/012084", second.address))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        old_token.status(),
        StatusCode::OK,
        "the signing key survived"
    );
}
storage_test!(first_start_and_second_start);

/// A first start that cannot listen (the port is taken) creates nothing, so the start that
/// follows is still the first one and shows the demo secret.
async fn a_first_start_that_cannot_listen_keeps_the_demo_for_the_next(backend: Backend) {
    let dir = TempDir::new().unwrap();
    let url = database_for(backend).await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut command = madoguchi();
    command
        .args([
            "serve",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir.path());
    if let Some(url) = &url {
        command.env("DATABASE_URL", url);
    }
    let failed = command.output().unwrap();
    assert!(!failed.status.success());
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(stderr.contains("cannot listen"), "{stderr}");
    assert!(!String::from_utf8_lossy(&failed.stdout).contains("client_secret"));
    drop(taken);

    let next = serve_process(dir.path(), url.as_deref());
    let id = credential(&next.stdout, "client_id:");
    let secret = credential(&next.stdout, "client_secret:");
    basic_token(&reqwest::Client::new(), &next.address, &id, &secret).await;
}
storage_test!(a_first_start_that_cannot_listen_keeps_the_demo_for_the_next);

fn run(dir: &TempDir, url: Option<&str>, args: &[&str]) -> std::process::Output {
    let mut command = madoguchi();
    command.args(args).arg("--data-dir").arg(dir.path());
    if let Some(url) = url {
        command.env("DATABASE_URL", url);
    }
    command.output().unwrap()
}

fn json_of(output: &std::process::Output) -> Value {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

async fn operator_commands_manage_tenants_and_clients(backend: Backend) {
    let dir = TempDir::new().unwrap();
    let url = database_for(backend).await;
    let url = url.as_deref();

    let migrated = json_of(&run(&dir, url, &["migrate", "--json"]));
    assert_eq!(
        migrated["applied"],
        serde_json::json!([
            "m20261122_000001_foundation",
            "m20261122_000002_idempotency",
            "m20261203_000003_hardening",
            "m20261203_000004_visits",
            "m20261203_000005_devices",
            "m20261203_000006_residents",
            "m20261203_000007_application_outcomes",
            "m20261203_000008_deliveries",
            "m20261203_000009_webhooks",
            "m20261206_000010_client_trust",
            "m20261206_000011_webhook_rotation",
            "m20261207_000012_conformance_sessions",
            "m20261207_000013_staff",
            "m20261207_000014_visit_counter"
        ])
    );
    let again = json_of(&run(&dir, url, &["migrate", "--json"]));
    assert_eq!(again["applied"], serde_json::json!([]));

    let created = json_of(&run(
        &dir,
        url,
        &[
            "municipalities",
            "create",
            "--lg-code",
            "131016",
            "--name",
            "千代田区",
            "--name-kana",
            "チヨダク",
            "--json",
        ],
    ));
    assert_eq!(created["lgCode"], "131016");
    assert_eq!(created["prefecture"]["name"], "東京都");

    // The municipality's catalogue overrides: a bad file stores nothing and says where.
    let bad = dir.path().join("bad-overrides.json");
    std::fs::write(
        &bad,
        r#"{"procedures": {"noSuchProcedure": {"enabled": false}}}"#,
    )
    .unwrap();
    let refused = run(
        &dir,
        url,
        &["catalog", "set-overrides", "131016", bad.to_str().unwrap()],
    );
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("/procedures/noSuchProcedure"), "{stderr}");
    let good = dir.path().join("overrides.json");
    std::fs::write(
        &good,
        r#"{"procedures": {"mopedRegistration": {"enabled": false}}}"#,
    )
    .unwrap();
    let set = json_of(&run(
        &dir,
        url,
        &[
            "catalog",
            "set-overrides",
            "131016",
            good.to_str().unwrap(),
            "--json",
        ],
    ));
    assert_eq!(set["version"], 1);
    let shown = json_of(&run(
        &dir,
        url,
        &["catalog", "show-overrides", "131016", "--json"],
    ));
    assert_eq!(shown["version"], 1);
    assert_eq!(
        shown["overrides"]["procedures"]["mopedRegistration"]["enabled"],
        false
    );
    assert!(shown["catalogVersion"].as_str().unwrap().ends_with(".1"));
    // The catalogue for legal review: the municipality's in force, and the built-in one.
    let report = run(&dir, url, &["catalog", "report", "--lg-code", "131016"]);
    assert!(report.status.success());
    let report = String::from_utf8(report.stdout).unwrap();
    let moped = report
        .split("### ")
        .find(|s| s.contains("(`mopedRegistration`)"))
        .unwrap();
    assert!(moped.contains("扱わない"), "{moped}");
    assert!(moped.contains("地方税法第445条"), "{moped}");
    let built_in = run(&dir, url, &["catalog", "report"]);
    let built_in = String::from_utf8(built_in.stdout).unwrap();
    assert!(built_in.starts_with("# 手続一覧(標準)"));
    assert!(!built_in.contains("扱わない"));

    let refused = run(
        &dir,
        url,
        &[
            "municipalities",
            "create",
            "--lg-code",
            "131017",
            "--name",
            "千代田区",
        ],
    );
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("/lgCode") && stderr.contains("検査数字は6"),
        "{stderr}"
    );

    let client = json_of(&run(
        &dir,
        url,
        &[
            "clients",
            "create",
            "--name",
            "Vendor A",
            "--scope",
            "municipalities:read",
            "--municipality",
            "131016",
            "--json",
        ],
    ));
    let id = client["clientId"].as_str().unwrap().to_owned();
    assert!(
        client["clientSecret"]
            .as_str()
            .unwrap()
            .starts_with("mdgs_")
    );

    let unknown = run(
        &dir,
        url,
        &[
            "clients",
            "create",
            "--name",
            "Vendor B",
            "--scope",
            "municipalities:read",
            "--municipality",
            "012084",
        ],
    );
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("012084"));

    let list = json_of(&run(&dir, url, &["clients", "list", "--json"]));
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(list[0].get("clientSecret").is_none());

    let revoked = json_of(&run(&dir, url, &["clients", "revoke", &id, "--json"]));
    assert!(revoked["revokedAt"].as_str().is_some());
    let human = run(&dir, url, &["clients", "list"]);
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains("REVOKED") && text.contains("+09:00"),
        "{text}"
    );

    let municipalities = json_of(&run(&dir, url, &["municipalities", "list", "--json"]));
    assert_eq!(municipalities.as_array().unwrap().len(), 1);

    // Operator actions are audited as the CLI.
    let report = json_of(&run(&dir, url, &["audit", "verify", "--json"]));
    assert_eq!(report["intact"], true);
    assert_eq!(
        report["checked"], 4,
        "municipality, catalogue override, client, revocation"
    );
}
storage_test!(operator_commands_manage_tenants_and_clients);

#[test]
fn configuration_mistakes_are_named() {
    let dir = TempDir::new().unwrap();
    let typo = madoguchi()
        .args(["clients", "list", "--data-dir"])
        .arg(dir.path())
        .env("MADOGUCHI_BODY_LIMIT", "5")
        .output()
        .unwrap();
    assert_eq!(typo.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&typo.stderr).contains("body_limit"));

    let half_tls = madoguchi()
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("MADOGUCHI_TLS__CERT_PATH", "/nonexistent/cert.pem")
        .output()
        .unwrap();
    assert_eq!(half_tls.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&half_tls.stderr).contains("tls.key_path"));

    let missing_file = madoguchi()
        .args(["--config", "/nonexistent/madoguchi.toml", "clients", "list"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&missing_file.stderr).contains("does not exist"));
}

async fn serve_refuses_a_database_behind_when_told_not_to_migrate(backend: Backend) {
    let dir = TempDir::new().unwrap();
    let url = database_for(backend).await;
    let mut command = madoguchi();
    command
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("MADOGUCHI_DATABASE__MIGRATE_ON_START", "false");
    if let Some(url) = &url {
        command.env("DATABASE_URL", url);
    }
    let output = command.output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("madoguchi migrate"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
storage_test!(serve_refuses_a_database_behind_when_told_not_to_migrate);

#[tokio::test]
async fn sigterm_stops_the_server_gracefully() {
    let dir = TempDir::new().unwrap();
    let mut server = serve_process(dir.path(), None);
    let pid = server.child.id().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert!(status.success(), "exit status after SIGTERM: {status}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still running 20 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `--log-json` writes one JSON object per line. An internal error is logged with the
/// request id; what callers send (here a value that could be a name or a My Number) is not.
#[tokio::test]
async fn logs_are_json_carry_the_request_id_and_never_the_input() {
    let dir = TempDir::new().unwrap();
    let log = dir.path().join("stderr.log");
    let server = crate::helpers::serve_process_with(
        &dir.path().join("data"),
        None,
        &["--log-json"],
        Some(&log),
    );
    let id = credential(&server.stdout, "client_id:");
    let secret = credential(&server.stdout, "client_secret:");
    let http = reqwest::Client::new();
    let token = basic_token(&http, &server.address, &id, &secret).await;

    let refused = http
        .patch(format!("{}/v1/municipalities/012084", server.address))
        .bearer_auth(&token)
        .json(&serde_json::json!({"name": 123456789012u64}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = refused.text().await.unwrap();
    assert!(
        body.contains("123456789012"),
        "the caller is told what was wrong"
    );

    // Break the database under the running server to cause an internal error.
    let db = sea_orm::Database::connect(format!(
        "sqlite://{}",
        dir.path().join("data/madoguchi.db").display()
    ))
    .await
    .unwrap();
    use sea_orm::ConnectionTrait;
    db.execute_unprepared("DROP TABLE client_municipalities")
        .await
        .unwrap();
    for table in ["console_sessions", "staff_accounts"] {
        db.execute_unprepared(&format!("DROP TABLE {table}"))
            .await
            .unwrap();
    }
    db.execute_unprepared("DROP TABLE municipalities")
        .await
        .unwrap();
    let failed = http
        .get(format!("{}/v1/municipalities/012084", server.address))
        .bearer_auth(&token)
        .header("x-request-id", "trace-500")
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), StatusCode::INTERNAL_SERVER_ERROR);
    drop(server);

    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let internal = lines
        .iter()
        .find(|l| l["fields"]["message"] == "internal error")
        .unwrap_or_else(|| panic!("no internal error logged:\n{text}"));
    assert_eq!(internal["level"], "ERROR");
    assert_eq!(internal["fields"]["request_id"], "trace-500");
    assert!(
        !text.contains("123456789012"),
        "input reached the log:\n{text}"
    );
    assert!(!text.contains(&secret), "the client secret reached the log");
    assert!(!text.contains(&token), "the token reached the log");
}

/// A server whose stdout nobody reads (the pipe closed before it starts, as when the process
/// that started it went away) still starts and serves: the banner that cannot be written is a
/// warning in the log, not the end of the process. (The banner once ended a test's server at
/// random: `println!` panics on a broken pipe.)
#[tokio::test]
async fn a_server_with_its_stdout_closed_serves_anyway() {
    let dir = TempDir::new().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = dir.path().join("serve.log");
    let mut child = madoguchi()
        .args([
            "serve",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir.path().join("data"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let healthy = loop {
        if let Ok(r) = http
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
        {
            break r.status();
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "the server ended ({status}): {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "the server never answered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(healthy, StatusCode::OK);
    // Still there a moment later, and it said why there was no banner.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "the server is still running"
    );
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("banner could not be written"), "{logged}");
    let _ = child.kill();
    let _ = child.wait();
}
