//! The outbox and its connectors: a submitted application written to a file outbox with its
//! manifest; POSTed to a core system (the simulator, `madoguchi core-sim`) with an OAuth2
//! token, its answer flowing back; a poison application in the dead letter while the others
//! go through, and its replay; a core system down for a while, the breaker holding the work;
//! the gateway killed with SIGKILL mid-way and every application delivered once restarted;
//! three gateways on one PostgreSQL delivering nothing twice; a vendor told of each state by
//! signed webhooks, retried while its receiver fails.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use madoguchi::config::{ConnectorKind, ConnectorSettings, Settings};
use madoguchi::store::entities::{application, delivery, visit};
use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, EntityTrait, Statement};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tempfile::TempDir;
use uuid::Uuid;

use crate::helpers::{
    Backend, Running, fresh_postgres_database, madoguchi, serve_process_with, spawn_app_with,
};
use crate::pull::{applications, submitted_visit};
use crate::storage_test;
use crate::visits::send;

const AREA: &str = "certificates";

fn connector(kind: ConnectorKind) -> ConnectorSettings {
    ConnectorSettings {
        lg_code: Some("012084".to_owned()),
        timeout_seconds: 5,
        ..ConnectorSettings::new(AREA, kind)
    }
}

/// Fast retries and polling for tests.
fn quick(settings: &mut Settings) {
    let d = &mut settings.link.delivery;
    d.poll_interval_ms = 50;
    d.retry_first_ms = 50;
    d.retry_multiplier = 2;
    d.retry_max_ms = 200;
}

/// Quick retries, and one connector for the certificates area as `adjust` makes it.
pub(crate) fn one_connector(
    kind: ConnectorKind,
    adjust: impl FnOnce(&mut ConnectorSettings),
) -> impl FnOnce(&mut Settings) {
    move |s| {
        quick(s);
        let mut c = connector(kind);
        adjust(&mut c);
        s.link.connectors = vec![c];
    }
}

/// Waits up to a minute for `check` to give a value.
pub(crate) async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A running `madoguchi core-sim` and its address.
pub(crate) struct CoreSim {
    _process: Running,
    pub(crate) url: String,
}

pub(crate) fn core_sim(args: &[&str]) -> CoreSim {
    let mut child = madoguchi()
        .args(["core-sim", "--bind", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split("listening on ")
        .nth(1)
        .unwrap_or_else(|| panic!("core-sim printed {line:?}"))
        .trim()
        .to_owned();
    CoreSim {
        _process: Running(child),
        url,
    }
}

/// `core_sim` serving https with the PKI of `crate::tls::core_system_pki` in `pki`, client
/// certificates required.
pub(crate) fn core_sim_over_tls(pki: &Path, args: &[&str]) -> CoreSim {
    let p = |name: &str| pki.join(name).to_str().unwrap().to_owned();
    let (cert, key, ca) = (p("server.pem"), p("server.key"), p("ca.pem"));
    let mut all = vec!["--tls-cert", &cert, "--tls-key", &key, "--client-ca", &ca];
    all.extend_from_slice(args);
    core_sim(&all)
}

async fn sim_stats(sim: &CoreSim) -> Value {
    reqwest::get(format!("{}/sim/stats", sim.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Waits until the visit's (one) application is in `state`; the visit's applications then.
async fn visit_application_in(
    app: &crate::helpers::TestApp,
    token: &str,
    visit: &str,
    state: &str,
    what: &str,
) -> Value {
    eventually(what, || async {
        let listed = applications(app, token, visit).await;
        (listed["items"][0]["state"] == state).then_some(listed)
    })
    .await
}

/// The municipality's audit events of one action.
async fn audit_events(app: &crate::helpers::TestApp, token: &str, action: &str) -> Vec<Value> {
    let page = app
        .get_json("/v1/municipalities/012084/audit-events?limit=100", token)
        .await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == action)
        .cloned()
        .collect()
}

async fn a_submitted_application_reaches_the_file_outbox(backend: Backend) {
    let outbox = TempDir::new().unwrap();
    let dir = outbox.path().to_path_buf();
    let app = spawn_app_with(
        backend,
        one_connector(ConnectorKind::File, |c| c.dir = Some(dir)),
    )
    .await;
    let token = app.demo_token().await;
    let visit = submitted_visit(&app, &token).await;
    let listed = visit_application_in(
        &app,
        &token,
        &visit,
        "delivered",
        "the application delivered",
    )
    .await;
    let id = listed["items"][0]["id"].as_str().unwrap().to_owned();

    // The document, by the documented layout, under the municipality and area.
    let area_dir = outbox.path().join("012084").join(AREA);
    let bytes = std::fs::read(area_dir.join(format!("{id}.json"))).unwrap();
    let doc: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(doc["format"], "madoguchi.application/1");
    assert_eq!(doc["applicationId"], id.as_str());
    assert_eq!(doc["visitId"], visit.as_str());
    assert_eq!(doc["localGovernmentCode"], "012084");
    assert_eq!(doc["procedureId"], "residentRecordCopy");
    assert_eq!(doc["document"]["purpose"], "勤務先提出");
    // Its manifest, with the file's checksum; nothing temporary left.
    let names: Vec<String> = std::fs::read_dir(&area_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    // Personal data: the core system's group may read it, nobody else.
    {
        use std::os::unix::fs::PermissionsExt;
        for path in names
            .iter()
            .map(|n| area_dir.join(n))
            .chain([area_dir.clone()])
        {
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o007, 0, "{} is {mode:o}", path.display());
        }
    }
    let manifest = names.iter().find(|n| n.starts_with("manifest-")).unwrap();
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(area_dir.join(manifest)).unwrap()).unwrap();
    assert_eq!(manifest["format"], "madoguchi.manifest/1");
    assert_eq!(manifest["files"][0]["applicationId"], id.as_str());
    assert_eq!(
        manifest["files"][0]["sha256"],
        hex::encode(Sha256::digest(&bytes))
    );

    // The operator's view.
    let admin = app.admin_token().await;
    let page = app
        .get_json("/v1/admin/deliveries?lgCode=012084", &admin)
        .await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{page}");
    let d = &items[0];
    assert_eq!(d["applicationId"], id.as_str());
    assert_eq!(d["connector"], "file");
    assert_eq!(d["state"], "delivered");
    assert_eq!(d["attempts"], 1);
    assert!(d["deliveredAt"].is_string());
    let delivery_id = d["deliveryId"].as_str().unwrap();
    let one = app
        .get_json(&format!("/v1/admin/deliveries/{delivery_id}"), &admin)
        .await;
    assert_eq!(one["state"], "delivered");
    let replay = app
        .http
        .post(app.url(&format!("/v1/admin/deliveries/{delivery_id}/replay")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), StatusCode::CONFLICT);
    let dead = app
        .get_json("/v1/admin/deliveries?state=dead", &admin)
        .await;
    assert_eq!(dead["items"].as_array().unwrap().len(), 0);
    // The pull API still shows it, now delivered.
    let core = app.register_client(&["link"], &["012084"]).await;
    let core = app.token_for(&core.id, &core.secret).await;
    let pulled = app
        .get_json(
            &format!("/v1/municipalities/012084/link/{AREA}/applications"),
            &core,
        )
        .await;
    assert_eq!(pulled["items"][0]["state"], "delivered");
}
storage_test!(a_submitted_application_reaches_the_file_outbox);

async fn the_http_connector_takes_a_token_and_brings_the_answer_back(backend: Backend) {
    let sim = core_sim(&["--client-id", "madoguchi", "--client-secret", "s3cret-core"]);
    let secrets = TempDir::new().unwrap();
    let secret_file = secrets.path().join("core-secret");
    std::fs::write(&secret_file, "s3cret-core\n").unwrap();
    let url = sim.url.clone();
    let app = spawn_app_with(
        backend,
        one_connector(ConnectorKind::Http, |c| {
            c.url = Some(format!("{url}/applications"));
            c.token_url = Some(format!("{url}/token"));
            c.client_id = Some("madoguchi".to_owned());
            c.client_secret_file = Some(secret_file.clone());
        }),
    )
    .await;
    let token = app.demo_token().await;
    let visit = submitted_visit(&app, &token).await;
    // The simulator accepts it; the counter sees the answer.
    visit_application_in(&app, &token, &visit, "accepted", "the application accepted").await;
    let stats = sim_stats(&sim).await;
    assert_eq!(stats["received"], 1, "{stats}");
    assert_eq!(stats["accepted"], 1);
    assert_eq!(stats["duplicates"], 0);
    // The answer is audited as the connector's.
    let events = audit_events(&app, &token, "application.acknowledge").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        events[0]["clientId"],
        "system:connector:012084/certificates"
    );
}
storage_test!(the_http_connector_takes_a_token_and_brings_the_answer_back);

/// Applications of one visit, `n` of them, each with a pending delivery through `connector`,
/// written straight into the database (what a submission writes, without making `n`
/// visits through the API); procedure `sealCertificate` for the indexes in `poison`.
async fn seed_outbox(db: &DatabaseConnection, n: usize, connector: &str, poison: &[usize]) {
    let now = chrono::Utc::now();
    let visit_id = Uuid::now_v7().to_string();
    visit::Entity::insert(visit::ActiveModel {
        id: sea_orm::Set(visit_id.clone()),
        lg_code: sea_orm::Set("012084".to_owned()),
        status: sea_orm::Set("open".to_owned()),
        ticket: sea_orm::Set(None),
        catalog_version: sea_orm::Set("seed".to_owned()),
        household: sea_orm::Set("{}".to_owned()),
        opened_at: sea_orm::Set(now),
        opened_on: sea_orm::Set(now.date_naive().to_string()),
        closed_at: sea_orm::Set(None),
        updated_at: sea_orm::Set(now),
        opened_by_client: sea_orm::Set(None),
        opened_by_staff: sea_orm::Set(None),
        counter: sea_orm::Set(None),
        revision: sea_orm::Set(0),
    })
    .exec(db)
    .await
    .unwrap();
    let ids: Vec<String> = (0..n).map(|_| Uuid::now_v7().to_string()).collect();
    for chunk in ids.chunks(200).enumerate() {
        let (c, chunk) = chunk;
        let apps = chunk.iter().enumerate().map(|(j, id)| {
            let i = c * 200 + j;
            application::ActiveModel {
                id: sea_orm::Set(id.clone()),
                visit_id: sea_orm::Set(visit_id.clone()),
                lg_code: sea_orm::Set("012084".to_owned()),
                procedure_id: sea_orm::Set(
                    if poison.contains(&i) {
                        "sealCertificate"
                    } else {
                        "residentRecordCopy"
                    }
                    .to_owned(),
                ),
                area: sea_orm::Set(AREA.to_owned()),
                member: sea_orm::Set(Some(format!("m{i}"))),
                // Certificates filed on no form, as the documented layout has them: no
                // form, no document (the simulator refuses anything else).
                form: sea_orm::Set(None),
                document: sea_orm::Set(None),
                state: sea_orm::Set("submitted".to_owned()),
                reason: sea_orm::Set(None),
                created_at: sea_orm::Set(now),
                updated_at: sea_orm::Set(now),
            }
        });
        application::Entity::insert_many(apps)
            .exec(db)
            .await
            .unwrap();
        let deliveries = chunk.iter().enumerate().map(|(j, id)| {
            let i = c * 200 + j;
            delivery::ActiveModel {
                id: sea_orm::Set(Uuid::now_v7().to_string()),
                application_id: sea_orm::Set(id.clone()),
                lg_code: sea_orm::Set("012084".to_owned()),
                area: sea_orm::Set(AREA.to_owned()),
                connector: sea_orm::Set(connector.to_owned()),
                line: sea_orm::Set(format!("{AREA}/{visit_id}/m{i}")),
                state: sea_orm::Set("pending".to_owned()),
                attempts: sea_orm::Set(0),
                next_attempt_at: sea_orm::Set(now),
                lease_owner: sea_orm::Set(None),
                lease_until: sea_orm::Set(None),
                last_error: sea_orm::Set(None),
                created_at: sea_orm::Set(now),
                updated_at: sea_orm::Set(now),
                delivered_at: sea_orm::Set(None),
                endpoint_id: sea_orm::Set(None),
                payload: sea_orm::Set(None),
            }
        });
        delivery::Entity::insert_many(deliveries)
            .exec(db)
            .await
            .unwrap();
    }
}

/// Deliveries by state, and applications by state.
async fn counts(db: &DatabaseConnection) -> (Value, Value) {
    let count = |table: &str| {
        Statement::from_string(
            db.get_database_backend(),
            format!("SELECT state, COUNT(*) AS n FROM {table} GROUP BY state"),
        )
    };
    let mut out = Vec::new();
    for table in ["deliveries", "applications"] {
        let mut map = serde_json::Map::new();
        for row in db.query_all_raw(count(table)).await.unwrap() {
            let state: String = row.try_get("", "state").unwrap();
            let n: i64 = row.try_get("", "n").unwrap();
            map.insert(state, json!(n));
        }
        out.push(Value::Object(map));
    }
    (out[0].clone(), out[1].clone())
}

async fn a_poison_application_goes_to_the_dead_letter(backend: Backend) {
    let sim = core_sim(&["--poison", "sealCertificate"]);
    let url = sim.url.clone();
    let app = spawn_app_with(backend, |s| {
        one_connector(ConnectorKind::Http, |c| {
            c.url = Some(format!("{url}/applications"))
        })(s);
        s.link.delivery.max_attempts = 3;
        s.link.delivery.breaker_failures = 1000;
    })
    .await;
    let db = app.store.connection();
    seed_outbox(db, 20, "http", &[7]).await;
    let (deliveries, apps) = eventually("19 accepted and 1 dead", || async {
        let (d, a) = counts(db).await;
        (d["delivered"] == 19 && d["dead"] == 1).then_some((d, a))
    })
    .await;
    assert_eq!(apps["accepted"], 19, "{apps}");
    assert_eq!(apps["submitted"], 1, "{apps}");
    let admin = app.admin_token().await;
    let dead = app
        .get_json("/v1/admin/deliveries?lgCode=012084&state=dead", &admin)
        .await;
    let dead = &dead["items"][0];
    assert_eq!(dead["attempts"], 3, "{dead}");
    assert!(
        dead["lastError"].as_str().unwrap().starts_with("HTTP 500"),
        "{dead}"
    );
    assert_eq!(deliveries["pending"], Value::Null);
    let stats = sim_stats(&sim).await;
    assert_eq!(stats["poisoned"], 3, "{stats}");
    assert_eq!(stats["accepted"], 19);

    // Replayed (audited), it is tried three more times and is dead again.
    let id = dead["deliveryId"].as_str().unwrap();
    let replayed = app
        .http
        .post(app.url(&format!("/v1/admin/deliveries/{id}/replay")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status(), StatusCode::OK);
    let replayed: Value = replayed.json().await.unwrap();
    assert_eq!(replayed["state"], "pending");
    assert_eq!(replayed["attempts"], 0);
    eventually("the replay tried three times", || async {
        let s = sim_stats(&sim).await;
        (s["poisoned"] == 6).then_some(())
    })
    .await;
    eventually("dead again", || async {
        let d = app
            .get_json(&format!("/v1/admin/deliveries/{id}"), &admin)
            .await;
        (d["state"] == "dead").then_some(())
    })
    .await;
    let token = app.demo_token().await;
    let replays = audit_events(&app, &token, "delivery.replay").await;
    assert_eq!(replays.len(), 1, "{replays:?}");
    assert!(replays[0]["target"].as_str().unwrap().contains(id));
    let unknown = send(
        &app,
        Method::POST,
        &format!("/v1/admin/deliveries/{}/replay", Uuid::now_v7()),
        &admin,
        None,
    )
    .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}
storage_test!(a_poison_application_goes_to_the_dead_letter);

/// The sum of a server's metric lines that start with `name` and contain `label`.
async fn metric_at(address: &str, name: &str, label: &str) -> f64 {
    let text = reqwest::get(format!("{address}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| l.starts_with(name) && l.contains(label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn metric(app: &crate::helpers::TestApp, name: &str) -> f64 {
    metric_at(&app.address, name, "").await
}

async fn a_core_system_down_for_a_while_gets_everything_once_back(backend: Backend) {
    let sim = core_sim(&[]);
    let url = sim.url.clone();
    let app = spawn_app_with(backend, |s| {
        one_connector(ConnectorKind::Http, |c| {
            c.url = Some(format!("{url}/applications"))
        })(s);
        s.link.delivery.max_attempts = 100;
        s.link.delivery.breaker_failures = 3;
        s.link.delivery.breaker_open_ms = 300;
    })
    .await;
    let down = reqwest::Client::new()
        .post(format!("{}/sim/outage?seconds=2", sim.url))
        .send()
        .await
        .unwrap();
    assert_eq!(down.status(), StatusCode::NO_CONTENT);
    seed_outbox(app.store.connection(), 50, "http", &[]).await;
    eventually("the breaker open", || async {
        (metric(&app, "madoguchi_delivery_breaker_open").await == 1.0).then_some(())
    })
    .await;
    eventually("all 50 delivered", || async {
        let (d, _) = counts(app.store.connection()).await;
        (d["delivered"] == 50).then_some(())
    })
    .await;
    let stats = sim_stats(&sim).await;
    assert_eq!(stats["accepted"], 50, "{stats}");
    assert_eq!(stats["duplicates"], 0, "{stats}");
    // Without the breaker each of the 50 would have failed at least once; with it, the first
    // chunk failed, then one trial at a time.
    let refusals = stats["outageRefusals"].as_u64().unwrap();
    assert!((3..50).contains(&refusals), "{stats}");
    assert!(
        metric(
            &app,
            "madoguchi_deliveries_total{area=\"certificates\",lg_code=\"012084\",outcome=\"held\"}"
        )
        .await
            > 0.0
    );
    assert_eq!(metric(&app, "madoguchi_delivery_breaker_open").await, 0.0);
}
storage_test!(a_core_system_down_for_a_while_gets_everything_once_back);

/// A config file for `serve` with an http connector to `sim`.
fn config_file(dir: &Path, sim: &CoreSim, lease_seconds: u64) -> std::path::PathBuf {
    let path = dir.join("madoguchi.toml");
    std::fs::write(
        &path,
        format!(
            r#"
[link.delivery]
poll_interval_ms = 50
lease_seconds = {lease_seconds}
batch_size = 50
retry_first_ms = 50
retry_max_ms = 500

[link.webhooks]
timeout_seconds = {}

[[link.connectors]]
area = "{AREA}"
kind = "http"
url = "{}/applications"
timeout_seconds = {}
"#,
            (lease_seconds - 1).min(10),
            sim.url,
            (lease_seconds - 1).min(30)
        ),
    )
    .unwrap();
    path
}

async fn database(backend: Backend, dir: &Path) -> String {
    match backend {
        Backend::Sqlite => format!("sqlite://{}/madoguchi.db?mode=rwc", dir.display()),
        Backend::Postgres => fresh_postgres_database().await,
    }
}

async fn a_killed_gateway_delivers_everything_once_restarted(backend: Backend) {
    let dir = TempDir::new().unwrap();
    let sim = core_sim(&[]);
    let config = config_file(dir.path(), &sim, 2);
    let url = database(backend, dir.path()).await;
    let args = ["--config", config.to_str().unwrap()];
    let mut gateway = serve_process_with(dir.path(), Some(&url), &args, None);
    let db = Database::connect(&url).await.unwrap();
    seed_outbox(&db, 1000, "http", &[]).await;
    eventually("deliveries under way", || async {
        let s = sim_stats(&sim).await;
        (s["received"].as_u64().unwrap() >= 100).then_some(())
    })
    .await;
    // SIGKILL: no chance to finish a batch or give its leases back.
    gateway.child.kill().unwrap();
    gateway.child.wait().unwrap();
    let at_kill = sim_stats(&sim).await["received"].as_u64().unwrap();
    assert!(at_kill < 1000, "the kill came too late to test anything");
    let (before, _) = counts(&db).await;
    assert!(before["pending"].as_i64().unwrap_or(0) > 0, "{before}");
    drop(gateway);

    let _restarted = serve_process_with(dir.path(), Some(&url), &args, None);
    eventually("all 1000 delivered", || async {
        let (d, _) = counts(&db).await;
        (d["delivered"] == 1000).then_some(())
    })
    .await;
    let (_, apps) = counts(&db).await;
    assert_eq!(apps["accepted"], 1000, "{apps}");
    let stats = sim_stats(&sim).await;
    // Each application taken once; what the killed gateway had sent but not recorded came
    // again with the same Idempotency-Key, and the core system recognised it.
    assert_eq!(stats["received"], 1000, "{}", stats["received"]);
    assert_eq!(stats["accepted"], 1000);
    let duplicates = stats["duplicates"].as_u64().unwrap();
    assert!(
        duplicates <= 100,
        "at most the batches in flight sent again (2 workers of 50): {duplicates}"
    );
    eprintln!("killed after {at_kill} received; {duplicates} sent again after the restart");

    // The command line lists them.
    let listed = madoguchi()
        .args([
            "link",
            "deliveries",
            "--state",
            "delivered",
            "--limit",
            "2000",
            "--json",
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1000);
}
storage_test!(a_killed_gateway_delivers_everything_once_restarted);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_gateways_on_one_postgres_deliver_nothing_twice() {
    let dir = TempDir::new().unwrap();
    let sim = core_sim(&[]);
    let config = config_file(dir.path(), &sim, 60);
    let url = database(Backend::Postgres, dir.path()).await;
    let args = ["--config", config.to_str().unwrap()];
    let first = serve_process_with(dir.path(), Some(&url), &args, None);
    let dirs: Vec<TempDir> = (0..2).map(|_| TempDir::new().unwrap()).collect();
    let others: Vec<_> = dirs
        .iter()
        .map(|d| serve_process_with(d.path(), Some(&url), &args, None))
        .collect();
    let db = Database::connect(&url).await.unwrap();
    seed_outbox(&db, 1000, "http", &[]).await;
    eventually("all 1000 delivered", || async {
        let (d, _) = counts(&db).await;
        (d["delivered"] == 1000).then_some(())
    })
    .await;
    let stats = sim_stats(&sim).await;
    assert_eq!(stats["received"], 1000, "{}", stats["received"]);
    assert_eq!(stats["duplicates"], 0, "nothing sent twice");
    // Each delivery recorded as delivered by exactly one replica.
    let mut shares = Vec::new();
    for process in std::iter::once(&first).chain(&others) {
        shares.push(
            metric_at(
                &process.address,
                "madoguchi_deliveries_total",
                "outcome=\"delivered\"",
            )
            .await,
        );
    }
    assert_eq!(shares.iter().sum::<f64>(), 1000.0, "{shares:?}");
    eprintln!("deliveries per replica: {shares:?}");
    drop(others);
    drop(first);
}

/// A simulator that answers through the gateway's pull API (a client with scope `link`).
async fn answering_core_sim(app: &crate::helpers::TestApp, args: &[&str]) -> CoreSim {
    let core = app.register_client(&["link"], &["012084"]).await;
    let mut all = args.to_vec();
    all.extend([
        "--gateway",
        &app.address,
        "--lg-code",
        "012084",
        "--gateway-client-id",
        &core.id,
        "--gateway-client-secret",
        &core.secret,
        "--interval-ms",
        "100",
    ]);
    core_sim(&all)
}

async fn the_simulator_answers_from_a_file_outbox_and_by_pulling(backend: Backend) {
    // A file outbox the simulator reads, answering through the pull API's ack.
    let outbox = TempDir::new().unwrap();
    let dir = outbox.path().to_path_buf();
    let app = spawn_app_with(
        backend,
        one_connector(ConnectorKind::File, |c| c.dir = Some(dir)),
    )
    .await;
    let sim = answering_core_sim(&app, &["--outbox", outbox.path().to_str().unwrap()]).await;
    let token = app.demo_token().await;
    let visit = submitted_visit(&app, &token).await;
    visit_application_in(
        &app,
        &token,
        &visit,
        "accepted",
        "accepted from the file outbox",
    )
    .await;
    let stats = sim_stats(&sim).await;
    assert_eq!(stats["files"], 1, "{stats}");
    assert_eq!(stats["badFiles"], 0, "{stats}");
    drop(sim);

    // No connector: the simulator pulls, and rejects by its rule, with the reason.
    let app = spawn_app_with(backend, quick).await;
    let _sim = answering_core_sim(
        &app,
        &[
            "--pull-area",
            AREA,
            "--reject",
            "residentRecordCopy=本人確認書類の写しが不鮮明です。",
        ],
    )
    .await;
    let token = app.demo_token().await;
    let visit = submitted_visit(&app, &token).await;
    let listed =
        visit_application_in(&app, &token, &visit, "rejected", "rejected by pulling").await;
    assert_eq!(
        listed["items"][0]["reason"],
        "本人確認書類の写しが不鮮明です。"
    );
    // Nothing was pushed: the area has no connector.
    let admin = app.admin_token().await;
    let deliveries = app.get_json("/v1/admin/deliveries", &admin).await;
    assert_eq!(deliveries["items"].as_array().unwrap().len(), 0);
}
storage_test!(the_simulator_answers_from_a_file_outbox_and_by_pulling);

/// A vendor's webhook receiver: records each request; answers 500 to the first `fail_first`.
#[derive(Default)]
pub(crate) struct Received {
    pub(crate) requests: Vec<(std::collections::BTreeMap<String, String>, String)>,
    pub(crate) calls: usize,
}

pub(crate) async fn webhook_receiver(
    fail_first: usize,
) -> (String, std::sync::Arc<std::sync::Mutex<Received>>) {
    use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Received::default()));
    let shared = seen.clone();
    let server = HttpServer::new(move || {
        let shared = shared.clone();
        App::new().route(
            "/hooks",
            web::post().to(move |req: HttpRequest, body: web::Bytes| {
                let shared = shared.clone();
                async move {
                    let mut r = shared.lock().unwrap();
                    r.calls += 1;
                    if r.calls <= fail_first {
                        return HttpResponse::InternalServerError().finish();
                    }
                    let headers = req
                        .headers()
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
                        .collect();
                    r.requests
                        .push((headers, String::from_utf8(body.to_vec()).unwrap()));
                    HttpResponse::NoContent().finish()
                }
            }),
        )
    })
    .workers(1)
    .disable_signals()
    .bind("127.0.0.1:0")
    .unwrap();
    let address = server.addrs()[0];
    tokio::spawn(server.run());
    (format!("http://{address}/hooks"), seen)
}

/// The Standard Webhooks signature, computed here from the specification.
pub(crate) fn expected_signature(secret: &str, id: &str, timestamp: &str, body: &str) -> String {
    use base64::Engine;
    let engine = base64::engine::general_purpose::STANDARD;
    let key = engine
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &key);
    let tag = aws_lc_rs::hmac::sign(&key, format!("{id}.{timestamp}.{body}").as_bytes());
    format!("v1,{}", engine.encode(tag.as_ref()))
}

/// The test receivers listen on loopback, which only an allow-list lets webhooks reach.
pub(crate) fn allow_loopback(s: &mut Settings) {
    s.link.webhooks.allow_networks =
        vec!["127.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()];
}

async fn a_vendor_learns_its_applications_states_by_signed_webhooks(backend: Backend) {
    let sim = core_sim(&[]);
    let url = sim.url.clone();
    let app = spawn_app_with(backend, |s| {
        one_connector(ConnectorKind::Http, |c| {
            c.url = Some(format!("{url}/applications"))
        })(s);
        allow_loopback(s);
    })
    .await;
    let token = app.demo_token().await;
    // The receiver is down for its first two calls.
    let (hook_url, received) = webhook_receiver(2).await;
    let created = send(
        &app,
        Method::POST,
        "/v1/municipalities/012084/webhooks",
        &token,
        Some(&json!({"url": hook_url})),
    )
    .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    // Another vendor's endpoint hears nothing of this client's visits.
    let other = app.register_client(&["visits"], &["012084"]).await;
    let other = app.token_for(&other.id, &other.secret).await;
    let (other_url, other_received) = webhook_receiver(0).await;
    let r = send(
        &app,
        Method::POST,
        "/v1/municipalities/012084/webhooks",
        &other,
        Some(&json!({"url": other_url})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let bad = send(
        &app,
        Method::POST,
        "/v1/municipalities/012084/webhooks",
        &token,
        Some(&json!({"url": "ftp://example.jp/x"})),
    )
    .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let visit = submitted_visit(&app, &token).await;
    let messages = eventually("two messages received", || async {
        let r = received.lock().unwrap();
        (r.requests.len() >= 2).then(|| r.requests.clone())
    })
    .await;
    assert_eq!(received.lock().unwrap().calls, 4, "two refused, two taken");
    let states: Vec<String> = messages
        .iter()
        .map(|(_, body)| {
            let v: Value = serde_json::from_str(body).unwrap();
            assert_eq!(v["type"], "application.updated");
            assert_eq!(v["data"]["visitId"], visit.as_str());
            v["data"]["state"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(states, ["delivered", "accepted"], "in order");
    for (_, body) in &messages {
        let event: Value = serde_json::from_str(body).unwrap();
        crate::webhooks::conforms(&app, "application.updated", &event)
            .await
            .unwrap_or_else(|e| panic!("the contract's application.updated: {e}"));
    }
    let now = chrono::Utc::now().timestamp();
    for (headers, body) in &messages {
        let id = &headers["webhook-id"];
        let timestamp = &headers["webhook-timestamp"];
        assert!((now - timestamp.parse::<i64>().unwrap()).abs() < 300);
        assert_eq!(
            headers["webhook-signature"],
            expected_signature(&secret, id, timestamp, body)
        );
    }
    assert_ne!(messages[0].0["webhook-id"], messages[1].0["webhook-id"]);
    assert_eq!(other_received.lock().unwrap().calls, 0);

    // Listed without the secret; removed once.
    let list = app
        .get_json("/v1/municipalities/012084/webhooks", &token)
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert!(list["items"][0].get("secret").is_none());
    let id = created["webhookId"].as_str().unwrap();
    let path = format!("/v1/municipalities/012084/webhooks/{id}");
    assert_eq!(
        send(&app, Method::DELETE, &path, &token, None)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        send(&app, Method::DELETE, &path, &token, None)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}
storage_test!(a_vendor_learns_its_applications_states_by_signed_webhooks);

/// A receiver that answers every message with a redirect to `to`.
async fn redirecting_receiver(to: String) -> (String, std::sync::Arc<std::sync::Mutex<usize>>) {
    use actix_web::{App, HttpResponse, HttpServer, web};
    let calls = std::sync::Arc::new(std::sync::Mutex::new(0));
    let shared = calls.clone();
    let server = HttpServer::new(move || {
        let (shared, to) = (shared.clone(), to.clone());
        App::new().default_service(web::to(move || {
            let (shared, to) = (shared.clone(), to.clone());
            async move {
                *shared.lock().unwrap() += 1;
                HttpResponse::TemporaryRedirect()
                    .insert_header(("Location", to))
                    .finish()
            }
        }))
    })
    .workers(1)
    .disable_signals()
    .bind("127.0.0.1:0")
    .unwrap();
    let address = server.addrs()[0];
    tokio::spawn(server.run());
    (format!("http://{address}/hooks"), calls)
}

/// The deliveries of webhook messages, once each has had its attempts.
async fn dead_webhook_errors(app: &crate::helpers::TestApp, at_least: usize) -> Vec<String> {
    let admin = app.admin_token().await;
    eventually("the webhook messages dead", || async {
        let dead: Value = app
            .get_json("/v1/admin/deliveries?state=dead", &admin)
            .await;
        let errors: Vec<String> = dead["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["connector"] == "webhook")
            .map(|d| d["lastError"].as_str().unwrap_or_default().to_owned())
            .collect();
        (errors.len() >= at_least).then_some(errors)
    })
    .await
}

/// A vendor's webhook is no way into the gateway's network: internal addresses and names
/// that resolve to them are refused at registration, a name that resolves inside at delivery
/// time is not dialled, and a redirect to an internal system is not followed.
async fn webhooks_reach_no_internal_address(backend: Backend) {
    // Stands for a core system on the gateway's network.
    let (internal_url, internal) = webhook_receiver(0).await;
    let port = internal_url
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let sim = core_sim(&[]);
    let sim_url = sim.url.clone();
    let connector = move |s: &mut Settings| {
        one_connector(ConnectorKind::Http, |c| {
            c.url = Some(format!("{sim_url}/applications"))
        })(s);
        s.link.delivery.max_attempts = 2;
    };
    let app = spawn_app_with(backend, connector.clone()).await;
    let token = app.demo_token().await;
    for url in [
        internal_url.clone(),
        format!("http://localhost:{port}/hooks"),
        "http://0.0.0.0/".to_owned(),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://10.1.2.3/hooks".to_owned(),
        "http://[fd00::1]/hooks".to_owned(),
        "http://[::ffff:127.0.0.1]/hooks".to_owned(),
        "http://[::1]:8080/hooks".to_owned(),
    ] {
        let r = send(
            &app,
            Method::POST,
            "/v1/municipalities/012084/webhooks",
            &token,
            Some(&json!({"url": url})),
        )
        .await;
        let p =
            crate::helpers::problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(p["errors"][0]["code"], "forbidden_address", "{url}: {p}");
    }

    // The operators allow loopback (their receivers are internal); a vendor registers a
    // receiver that redirects to the internal system, and a name for the internal system.
    let (settings, demo) = (app.settings.clone(), app.demo.clone());
    app.handle.stop(false).await;
    let mut allowing = settings.clone();
    allowing.link.webhooks.allow_networks = vec!["127.0.0.0/8".parse().unwrap()];
    let allowed = crate::helpers::restart(allowing, demo.clone()).await;
    let (redirector, redirected) = redirecting_receiver(internal_url.clone()).await;
    for url in [redirector, format!("http://localhost:{port}/hooks")] {
        let r = send(
            &allowed,
            Method::POST,
            "/v1/municipalities/012084/webhooks",
            &token,
            Some(&json!({"url": url})),
        )
        .await;
        assert_eq!(r.status(), StatusCode::CREATED, "{url}");
    }
    let visit = submitted_visit(&allowed, &token).await;
    let errors = dead_webhook_errors(&allowed, 2).await;
    assert!(
        *redirected.lock().unwrap() >= 1,
        "the redirecting receiver was called"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("redirects are not followed")),
        "{errors:?}"
    );
    let reached = internal.lock().unwrap().calls;
    assert!(
        reached >= 1,
        "allowed, the internal receiver by name is reached"
    );
    let reached_before = reached;

    // The allow-list is taken away: the same name is resolved again at delivery and not
    // dialled, and the redirect still leads nowhere.
    allowed.handle.stop(false).await;
    let strict = crate::helpers::restart(settings, demo).await;
    let second = submitted_visit(&strict, &token).await;
    assert_ne!(second, visit);
    let errors = dead_webhook_errors(&strict, 4).await;
    assert!(
        errors.iter().any(|e| e.contains("loopback")),
        "the name was not refused at delivery: {errors:?}"
    );
    assert_eq!(
        internal.lock().unwrap().calls,
        reached_before,
        "the internal system was reached without the allow-list"
    );
    drop(app);
}
storage_test!(webhooks_reach_no_internal_address);

/// A receiver that holds every message until `release` says so; the calls it has taken.
async fn holding_receiver() -> (
    String,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
    tokio::sync::watch::Sender<bool>,
) {
    use actix_web::{App, HttpResponse, HttpServer, web};
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (release, released) = tokio::sync::watch::channel(false);
    let shared = calls.clone();
    let server = HttpServer::new(move || {
        let (shared, released) = (shared.clone(), released.clone());
        App::new().default_service(web::to(move || {
            let (shared, mut released) = (shared.clone(), released.clone());
            async move {
                shared.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let _ = released.wait_for(|r| *r).await;
                HttpResponse::NoContent().finish()
            }
        }))
    })
    .workers(1)
    .disable_signals()
    .bind("127.0.0.1:0")
    .unwrap();
    let address = server.addrs()[0];
    tokio::spawn(server.run());
    (format!("http://{address}/hooks"), calls, release)
}

/// A vendor whose receiver hangs slows only itself: the core system gets its application,
/// the same vendor's second endpoint and another vendor's endpoint get their messages.
async fn a_slow_webhook_receiver_slows_only_itself(backend: Backend) {
    let sim = core_sim(&[]);
    let url = sim.url.clone();
    let app = spawn_app_with(backend, |s| {
        one_connector(ConnectorKind::Http, |c| {
            c.url = Some(format!("{url}/applications"))
        })(s);
        allow_loopback(s);
        // Longer than the test waits: a receiver that held the others back would fail it.
        s.link.webhooks.timeout_seconds = 120;
        s.link.delivery.lease_seconds = 300;
    })
    .await;
    let token = app.demo_token().await;
    let (slow, slow_calls, release) = holding_receiver().await;
    let (second, second_seen) = webhook_receiver(0).await;
    let other = app.register_client(&["visits"], &["012084"]).await;
    let other = app.token_for(&other.id, &other.secret).await;
    let (others, others_seen) = webhook_receiver(0).await;
    for (token, url) in [(&token, &slow), (&token, &second), (&other, &others)] {
        let r = send(
            &app,
            Method::POST,
            "/v1/municipalities/012084/webhooks",
            token,
            Some(&json!({"url": url})),
        )
        .await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    submitted_visit(&app, &token).await;
    submitted_visit(&app, &other).await;
    // The slow receiver holds its first message…
    eventually("the slow receiver called", || async {
        (slow_calls.load(std::sync::atomic::Ordering::SeqCst) >= 1).then_some(())
    })
    .await;
    // …while the core system takes both visits' applications and the other endpoints hear
    // of it (the same vendor's second endpoint too).
    let states = |seen: &std::sync::Arc<std::sync::Mutex<Received>>| -> Vec<String> {
        seen.lock()
            .unwrap()
            .requests
            .iter()
            .map(|(_, body)| {
                let v: Value = serde_json::from_str(body).unwrap();
                v["data"]["state"].as_str().unwrap().to_owned()
            })
            .collect()
    };
    eventually(
        "the second endpoint and the other vendor informed",
        || async {
            let (a, b) = (states(&second_seen), states(&others_seen));
            (a.contains(&"accepted".to_owned()) && b.contains(&"accepted".to_owned())).then_some(())
        },
    )
    .await;
    // Once it answers, it gets every message its sibling endpoint got.
    release.send(true).unwrap();
    let expected = second_seen.lock().unwrap().requests.len();
    eventually("the slow receiver's messages through", || async {
        (slow_calls.load(std::sync::atomic::Ordering::SeqCst) >= expected).then_some(())
    })
    .await;
}
storage_test!(a_slow_webhook_receiver_slows_only_itself);

/// A slow core system with more applications than one lease lets the worker send: what it
/// cannot send in time goes back to be claimed again, and nothing is sent twice (before, the
/// other worker claimed the rest, in flight or not, when the lease ran out).
async fn a_slow_core_system_gets_each_application_once(backend: Backend) {
    let sim = core_sim(&["--delay-ms", "300"]);
    let url = sim.url.clone();
    let app = spawn_app_with(backend, |s| {
        one_connector(ConnectorKind::Http, |c| {
            c.url = Some(format!("{url}/applications"));
            c.timeout_seconds = 1;
        })(s);
        s.link.delivery.lease_seconds = 2;
        s.link.delivery.batch_size = 200;
        s.link.delivery.breaker_failures = 1000;
    })
    .await;
    seed_outbox(app.store.connection(), 200, "http", &[]).await;
    eventually("all 200 delivered", || async {
        let (d, _) = counts(app.store.connection()).await;
        (d["delivered"] == 200).then_some(())
    })
    .await;
    let stats = sim_stats(&sim).await;
    assert_eq!(stats["accepted"], 200, "{stats}");
    assert_eq!(stats["duplicates"], 0, "{stats}");
}
storage_test!(a_slow_core_system_gets_each_application_once);

async fn the_http_connector_presents_its_client_certificate(backend: Backend) {
    let pki = crate::tls::core_system_pki();
    let path = |name: &str| pki.path().join(name);
    let sim = core_sim_over_tls(pki.path(), &[]);
    let port = sim.url.rsplit(':').next().unwrap().to_owned();
    let https = format!("https://localhost:{port}/applications");
    let configure = |identity: bool| {
        let (https, ca, client) = (https.clone(), path("ca.pem"), path("client.pem"));
        move |s: &mut Settings| {
            one_connector(ConnectorKind::Http, |c| {
                c.url = Some(https);
                c.ca_file = Some(ca);
                c.client_identity_file = identity.then_some(client);
            })(s);
            s.link.delivery.max_attempts = 2;
        }
    };
    // With the client certificate: through, and accepted.
    let app = spawn_app_with(backend, configure(true)).await;
    let token = app.demo_token().await;
    let visit = submitted_visit(&app, &token).await;
    visit_application_in(&app, &token, &visit, "accepted", "accepted over mutual TLS").await;
    // Without it the core system refuses the connection: retried, then the dead letter.
    let app = spawn_app_with(backend, configure(false)).await;
    let token = app.demo_token().await;
    submitted_visit(&app, &token).await;
    let admin = app.admin_token().await;
    let dead = eventually("dead without a client certificate", || async {
        let page = app
            .get_json("/v1/admin/deliveries?state=dead", &admin)
            .await;
        page["items"].as_array().unwrap().first().cloned()
    })
    .await;
    assert_eq!(dead["attempts"], 2, "{dead}");
    assert!(
        dead["lastError"].as_str().unwrap().contains("localhost"),
        "{dead}"
    );
    let client = reqwest::Client::builder()
        .tls_certs_only([
            reqwest::Certificate::from_pem(&std::fs::read(path("ca.pem")).unwrap()).unwrap(),
        ])
        .identity(reqwest::Identity::from_pem(&std::fs::read(path("client.pem")).unwrap()).unwrap())
        .build()
        .unwrap();
    let stats: Value = client
        .get(format!("https://localhost:{port}/sim/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["received"], 1, "only the one with the certificate");
}
storage_test!(the_http_connector_presents_its_client_certificate);
