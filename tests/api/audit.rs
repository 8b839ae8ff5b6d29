//! The audit log: what it records, what it never records, and `madoguchi audit verify`.

use std::process::Output;

use reqwest::{Method, StatusCode};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, madoguchi, spawn_app};
use crate::storage_test;

fn verify(app: &TestApp, extra: &[&str]) -> (Output, Value) {
    let mut command = madoguchi();
    command.args(["audit", "verify", "--json", "--data-dir"]);
    command.arg(&app.settings.data_dir);
    command.args(extra);
    if let Some(url) = &app.settings.database.url {
        command.env("DATABASE_URL", url);
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
    // The demo municipality's registration is there too, older.
    let actions: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["municipality.update", "municipality.create"]);
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
    assert_eq!(b.len(), 2, "3 updates and the creation");
    assert!(b[0] < a[1]);
    assert_eq!(second["nextCursor"], Value::Null);
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
