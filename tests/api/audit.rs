//! The audit log: what it records, what it never records, and `madoguchi audit verify`.

use std::process::Output;

use reqwest::{Method, StatusCode};
use sea_orm::ConnectionTrait;

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, madoguchi, spawn_app};
use crate::storage_test;

fn verify(app: &TestApp, extra: &[&str]) -> (Output, Value) {
    audit_command(app, &[&["verify"], extra].concat(), None)
}

/// `madoguchi audit ARGS --json` on the app's database (with a server key file, if given);
/// its exit status and JSON report.
fn audit_command(app: &TestApp, args: &[&str], key: Option<&std::path::Path>) -> (Output, Value) {
    let mut command = madoguchi();
    command
        .arg("audit")
        .args(args)
        .args(["--json", "--data-dir"]);
    command.arg(&app.settings.data_dir);
    if let Some(url) = &app.settings.database.url {
        command.env("DATABASE_URL", url);
    }
    if let Some(key) = key {
        command.env("MADOGUCHI_SECRETS__KEY_PATH", key);
    }
    let output = command.output().unwrap();
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stderr)));
    (output, report)
}

async fn changes_are_recorded_with_who_and_never_what(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.demo_token().await;
    let response = app
        .http
        .patch(app.url("/v1/municipalities/012084"))
        .bearer_auth(&token)
        .header("madoguchi-actor", "K-00123")
        .json(&json!({"contact": {"phone": "0157-99-8765"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();

    let events: Value = app
        .get_json("/v1/municipalities/012084/audit-events", &token)
        .await;
    let latest = &events["items"][0];
    assert_eq!(latest["action"], "municipality.update");
    assert_eq!(latest["outcome"], "success");
    assert_eq!(latest["actor"], "K-00123");
    assert_eq!(latest["clientId"], app.demo.client_id.to_string());
    assert_eq!(latest["requestId"], request_id);
    assert_eq!(latest["lgCode"], "012084");
    assert_eq!(latest["hash"].as_str().unwrap().len(), 64);
    assert!(
        !events.to_string().contains("0157-99-8765"),
        "request bodies never reach the audit log"
    );
    // The demo municipality's registration and its demo clerk are there too, older.
    let actions: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["municipality.update", "staff.create", "municipality.create"]
    );
}
storage_test!(changes_are_recorded_with_who_and_never_what);

async fn audit_events_page_newest_first(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.demo_token().await;
    for name in ["北見市1", "北見市2", "北見市3"] {
        app.send_json(
            Method::PATCH,
            "/v1/municipalities/012084",
            &token,
            &json!({ "name": name }),
        )
        .await;
    }
    let first: Value = app
        .get_json("/v1/municipalities/012084/audit-events?limit=2", &token)
        .await;
    let seqs = |page: &Value| -> Vec<i64> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["seq"].as_i64().unwrap())
            .collect()
    };
    let a = seqs(&first);
    assert_eq!(a.len(), 2);
    assert!(a[0] > a[1]);
    let cursor = first["nextCursor"].as_str().unwrap();
    let second: Value = app
        .get(
            &format!("/v1/municipalities/012084/audit-events?limit=2&cursor={cursor}"),
            &token,
        )
        .await
        .json()
        .await
        .unwrap();
    let b = seqs(&second);
    assert_eq!(b.len(), 2);
    assert!(b[0] < a[1]);
    // 3 updates, the demo clerk's creation and the municipality's: five in all.
    let cursor = second["nextCursor"].as_str().unwrap();
    let third: Value = app
        .get(
            &format!("/v1/municipalities/012084/audit-events?limit=2&cursor={cursor}"),
            &token,
        )
        .await
        .json()
        .await
        .unwrap();
    let c = seqs(&third);
    assert_eq!(c.len(), 1, "3 updates, the demo clerk and the creation");
    assert!(c[0] < b[1]);
    assert_eq!(third["nextCursor"], Value::Null);
}
storage_test!(audit_events_page_newest_first);

async fn verify_passes_an_intact_chain_and_names_an_altered_entry(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.demo_token().await;
    for i in 0..3 {
        app.send_json(
            Method::PATCH,
            "/v1/municipalities/012084",
            &token,
            &json!({ "name": format!("北見市{i}") }),
        )
        .await;
    }
    let (output, report) = verify(&app, &[]);
    assert!(output.status.success(), "{report}");
    assert_eq!(report["intact"], true);
    let total = app.store.audit_len().await.unwrap();
    assert_eq!(report["checked"], total);
    assert_eq!(report["headSeq"], total);

    // Someone edits who made change 3 directly in the database.
    app.store
        .connection()
        .execute_unprepared("UPDATE audit_events SET actor = 'someone-else' WHERE seq = 3")
        .await
        .unwrap();
    let (output, report) = verify(&app, &[]);
    assert_eq!(output.status.code(), Some(2), "{report}");
    assert_eq!(report["intact"], false);
    assert_eq!(report["checked"], 2);
    let broken = report["firstBroken"].as_str().unwrap();
    assert!(
        broken.starts_with("entry 3 ") && broken.contains("altered"),
        "{broken}"
    );

    // Human output names it too.
    let mut human = madoguchi();
    human
        .args(["audit", "verify", "--data-dir"])
        .arg(&app.settings.data_dir);
    if let Some(url) = &app.settings.database.url {
        human.env("DATABASE_URL", url);
    }
    let human = human.output().unwrap();
    assert_eq!(human.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&human.stdout).contains("BROKEN"));
}
storage_test!(verify_passes_an_intact_chain_and_names_an_altered_entry);

async fn verify_finds_removed_entries(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.demo_token().await;
    for i in 0..4 {
        app.send_json(
            Method::PATCH,
            "/v1/municipalities/012084",
            &token,
            &json!({ "name": format!("北見市{i}") }),
        )
        .await;
    }
    let (_, before) = verify(&app, &[]);
    let head = before["headHash"].as_str().unwrap().to_owned();
    let last = before["headSeq"].as_i64().unwrap();

    // Removing the newest entry leaves a valid shorter chain: only the anchor shows it.
    app.store
        .connection()
        .execute_unprepared(&format!("DELETE FROM audit_events WHERE seq = {last}"))
        .await
        .unwrap();
    let (output, report) = verify(&app, &[]);
    assert!(output.status.success());
    assert_eq!(report["headSeq"], last - 1);
    let (output, report) = verify(&app, &["--expect-head", &head]);
    assert_eq!(output.status.code(), Some(2));
    assert!(report["firstBroken"].as_str().unwrap().contains("removed"));

    // Removing one in the middle breaks the chain itself.
    app.store
        .connection()
        .execute_unprepared("DELETE FROM audit_events WHERE seq = 3")
        .await
        .unwrap();
    let (output, report) = verify(&app, &[]);
    assert_eq!(output.status.code(), Some(2));
    let broken = report["firstBroken"].as_str().unwrap();
    assert!(broken.contains("entries 3 to 3 are missing"), "{broken}");
}
storage_test!(verify_finds_removed_entries);

/// Concurrent changes still form one unbroken chain.
async fn concurrent_changes_keep_the_chain_intact(backend: Backend) {
    let app = spawn_app_workers(backend).await;
    let token = app.demo_token().await;
    let before = app.store.audit_len().await.unwrap();
    let bodies: Vec<Value> = (0..24)
        .map(|i| json!({ "name": format!("北見市{i}") }))
        .collect();
    let requests = bodies
        .iter()
        .map(|body| app.send_json(Method::PATCH, "/v1/municipalities/012084", &token, body));
    let responses = futures_util::future::join_all(requests).await;
    assert!(responses.iter().all(|r| r.status() == StatusCode::OK));
    assert_eq!(app.store.audit_len().await.unwrap(), before + 24);
    let (output, report) = verify(&app, &[]);
    assert!(output.status.success(), "{report}");
}
storage_test!(concurrent_changes_keep_the_chain_intact);

async fn spawn_app_workers(backend: Backend) -> TestApp {
    crate::helpers::spawn_app_with(backend, |s| {
        s.workers = 2;
        s.database.max_connections = 8;
    })
    .await
}

fn count(events: &[madoguchi::audit::AuditRecord], action: &str) -> usize {
    events.iter().filter(|e| e.action == action).count()
}

async fn events_of(app: &TestApp, code: &str) -> Vec<madoguchi::audit::AuditRecord> {
    app.store
        .list_audit(&code.parse().unwrap(), None, 100_000)
        .await
        .unwrap()
        .items
}

/// Changes and refused accesses at once, from 8 connections: every answer a client saw has
/// its event — no change answered 500 for want of a place in the chain, no refusal went
/// unrecorded.
async fn every_answer_has_its_event_under_load(backend: Backend) {
    let app = spawn_app_workers(backend).await;
    app.register_municipality("131016", "千代田区").await;
    let token = app.demo_token().await;
    let updates_before = count(&events_of(&app, "012084").await, "municipality.update");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(4);
    let tasks: Vec<_> = (0..8)
        .map(|n| {
            let (http, token, base) = (app.http.clone(), token.clone(), app.address.clone());
            tokio::spawn(async move {
                let mut statuses = Vec::new();
                let mut i = 0;
                while std::time::Instant::now() < deadline {
                    i += 1;
                    let answer = if n % 2 == 0 {
                        http.patch(format!("{base}/v1/municipalities/012084"))
                            .bearer_auth(&token)
                            .json(&json!({ "name": format!("北見市{n}-{i}") }))
                            .send()
                            .await
                    } else {
                        http.get(format!("{base}/v1/municipalities/131016"))
                            .bearer_auth(&token)
                            .send()
                            .await
                    };
                    statuses.push(answer.unwrap().status());
                }
                statuses
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.extend(task.await.unwrap());
    }
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::FORBIDDEN)
        .count();
    assert_eq!(ok + refused, statuses.len(), "{statuses:?}");
    assert!(ok > 10 && refused > 10, "{ok} changes, {refused} refusals");

    madoguchi::audit::flush_denials(&app.store, std::time::Duration::ZERO)
        .await
        .unwrap();
    let updates = count(&events_of(&app, "012084").await, "municipality.update");
    assert_eq!(
        updates - updates_before,
        ok,
        "every change answered 200 has its event"
    );
    let recorded: i64 = events_of(&app, "131016")
        .await
        .iter()
        .filter(|e| e.action == "municipality.access_denied")
        .map(|e| e.repeat_count.unwrap_or(1))
        .sum();
    assert_eq!(
        recorded as usize, refused,
        "every refusal is recorded or counted"
    );
    let (output, report) = verify(&app, &[]);
    assert!(output.status.success(), "{report}");
}
storage_test!(every_answer_has_its_event_under_load);

/// Refusals for made-up municipality codes leave no trace in the chain, and repeats of a real
/// one become one counted event.
async fn refusals_do_not_flood_the_chain(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register_municipality("131016", "千代田区").await;
    let token = app.demo_token().await;
    let before = app.store.audit_len().await.unwrap();
    for n in 0..30 {
        let code = madoguchi::tenancy::LgCode::complete(&format!("472{n:02}")).unwrap();
        let answer = app.get(&format!("/v1/municipalities/{code}"), &token).await;
        assert_eq!(answer.status(), StatusCode::FORBIDDEN);
    }
    assert_eq!(
        app.store.audit_len().await.unwrap(),
        before,
        "unregistered codes"
    );
    for _ in 0..10 {
        let answer = app.get("/v1/municipalities/131016", &token).await;
        assert_eq!(answer.status(), StatusCode::FORBIDDEN);
    }
    assert_eq!(
        app.store.audit_len().await.unwrap(),
        before + 1,
        "the first at once"
    );
    madoguchi::audit::flush_denials(&app.store, std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(app.store.audit_len().await.unwrap(), before + 2);
    let events = events_of(&app, "131016").await;
    assert_eq!(events[0].repeat_count, Some(9), "the nine repeats, counted");
    assert_eq!(events[1].repeat_count, None);
    let (output, report) = verify(&app, &[]);
    assert!(output.status.success(), "{report}");
}
storage_test!(refusals_do_not_flood_the_chain);

/// Someone with write access to the database alters an entry and recomputes every later hash:
/// the chain alone verifies, a signed checkpoint does not; nor does a forged checkpoint.
async fn a_rewritten_log_shows_against_a_signed_checkpoint(backend: Backend) {
    use madoguchi::store::entities::audit_event;
    use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};

    let keys = tempfile::TempDir::new().unwrap();
    let key_file = keys.path().join("server.key");
    std::fs::write(&key_file, "12".repeat(32)).unwrap();
    let configured = key_file.clone();
    let app = crate::helpers::spawn_app_with(backend, move |s| {
        s.secrets.key_path = Some(configured);
    })
    .await;
    let token = app.demo_token().await;
    for i in 0..3 {
        let body = json!({ "name": format!("北見市{i}") });
        app.send_json(Method::PATCH, "/v1/municipalities/012084", &token, &body)
            .await;
    }
    let command = |args: &[&str]| audit_command(&app, args, Some(&key_file));
    let (_, checkpoint) = command(&["checkpoint"]);
    assert_eq!(checkpoint["written"], true);
    assert_eq!(checkpoint["signed"], true);
    let checkpoint_seq = checkpoint["seq"].as_i64().unwrap();
    for i in 3..5 {
        let body = json!({ "name": format!("北見市{i}") });
        app.send_json(Method::PATCH, "/v1/municipalities/012084", &token, &body)
            .await;
    }
    let (output, report) = command(&["verify"]);
    assert!(output.status.success(), "{report}");
    assert_eq!(report["checkpoints"]["matched"], 1);
    assert_eq!(report["checkpoints"]["signed"], true);

    // Rewrite entry 2 and every hash after it.
    let db = app.store.connection();
    let mut records = app.store.audit_batch(0).await.unwrap();
    records[1].actor = Some("someone-else".to_owned());
    for i in 1..records.len() {
        records[i].prev_hash = records[i - 1].hash.clone();
        records[i].hash = records[i].compute_hash();
        let row = audit_event::Entity::find_by_id(records[i].seq)
            .one(db)
            .await
            .unwrap()
            .unwrap();
        let mut row = row.into_active_model();
        row.actor = Set(records[i].actor.clone());
        row.prev_hash = Set(records[i].prev_hash.clone());
        row.hash = Set(records[i].hash.clone());
        row.update(db).await.unwrap();
    }
    let (output, report) = command(&["verify"]);
    assert_eq!(output.status.code(), Some(2), "{report}");
    let broken = report["firstBroken"].as_str().unwrap();
    assert!(
        broken.contains(&format!("rewritten at or before entry {checkpoint_seq}")),
        "{broken}"
    );

    // Making the checkpoint agree needs the server key.
    let new_hash = &records[(checkpoint_seq - 1) as usize].hash;
    db.execute_unprepared(&format!(
        "UPDATE audit_checkpoints SET hash = '{new_hash}' WHERE seq = {checkpoint_seq}"
    ))
    .await
    .unwrap();
    let (output, report) = command(&["verify"]);
    assert_eq!(output.status.code(), Some(2), "{report}");
    assert!(
        report["firstBroken"].as_str().unwrap().contains("forged"),
        "{report}"
    );

    // Deleting every checkpoint leaves the rewritten chain with nothing to compare in the
    // database, but the receipt outside it names the checkpoint that must be there.
    assert_eq!(checkpoint["receiptWritten"], true);
    db.execute_unprepared("DELETE FROM audit_checkpoints")
        .await
        .unwrap();
    let (output, report) = command(&["verify"]);
    assert_eq!(output.status.code(), Some(2), "{report}");
    let broken = report["firstBroken"].as_str().unwrap();
    assert!(
        broken.contains(&format!("checkpoint of entry {checkpoint_seq}"))
            && broken.contains("deleted"),
        "{broken}"
    );
}
storage_test!(a_rewritten_log_shows_against_a_signed_checkpoint);
