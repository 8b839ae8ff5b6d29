//! The real gateway process (`madoguchi serve`, SQLite, its log in a file) with its device
//! port, a counter client and one counter PC whose bridge is enrolled: what the tests that look
//! at the gateway from outside (its log, PC/SC) share.

use std::path::Path;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{ServeProcess, basic_token, madoguchi, serve_process_env};

pub struct GatewayWithPc {
    pub server: ServeProcess,
    pub http: reqwest::Client,
    /// A client with `admin`, `card`, `mynumber:read` and `visits` for 012084.
    pub token: String,
    pub device_id: String,
}

/// Starts the gateway in `work/data` with `RUST_LOG=rust_log`, its log in `log`, the trust
/// directory `trust`; registers a PC and enrols `bridge` (a madoguchi-bridge binary) in
/// `bridge_dir`.
pub async fn start(
    work: &Path,
    trust: &Path,
    log: &Path,
    rust_log: &str,
    bridge: &Path,
    bridge_dir: &Path,
) -> GatewayWithPc {
    let data = work.join("data");
    let server = serve_process_env(
        &data,
        None,
        &[],
        Some(log),
        &[
            ("RUST_LOG", rust_log),
            ("MADOGUCHI_CARD__DEVICE_PORT", "127.0.0.1:0"),
            ("MADOGUCHI_CARD__TRUST_DIR", trust.to_str().unwrap()),
            ("MADOGUCHI_CARD__SESSION_SECONDS", "30"),
        ],
    );
    let created = madoguchi()
        .args([
            "clients",
            "create",
            "--name",
            "counter",
            "--municipality",
            "012084",
        ])
        .args([
            "--scope",
            "admin",
            "--scope",
            "card",
            "--scope",
            "mynumber:read",
        ])
        .args(["--scope", "visits", "--json", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let client: Value = serde_json::from_slice(&created.stdout).unwrap();
    let http = reqwest::Client::new();
    let token = basic_token(
        &http,
        &server.address,
        client["clientId"].as_str().unwrap(),
        client["clientSecret"].as_str().unwrap(),
    )
    .await;
    let device: Value = http
        .post(format!("{}/v1/admin/devices", server.address))
        .bearer_auth(&token)
        .json(&json!({"lgCode": "012084", "counterName": "市民課 1番窓口"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let enrolled = std::process::Command::new(bridge)
        .env_remove("RUST_LOG")
        .args(["enrol", "--gateway", &server.address, "--code"])
        .arg(device["enrolmentCode"].as_str().unwrap())
        .arg("--dir")
        .arg(bridge_dir)
        .output()
        .unwrap();
    assert!(
        enrolled.status.success(),
        "{}",
        String::from_utf8_lossy(&enrolled.stderr)
    );
    GatewayWithPc {
        server,
        http,
        token,
        device_id: device["deviceId"].as_str().unwrap().to_owned(),
    }
}

impl GatewayWithPc {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.address)
    }

    /// Asks for a card session and follows it to its end.
    pub async fn read(&self, body: Value) -> Value {
        let created: Value = self
            .http
            .post(self.url("/v1/municipalities/012084/card-sessions"))
            .bearer_auth(&self.token)
            .header("Madoguchi-Actor", "clerk-0042")
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = created["cardSessionId"].as_str().unwrap();
        follow_session(&self.http, &self.server.address, &self.token, id)
            .await
            .0
    }
}

/// Follows a card session of 012084 with long polls until it ends; returns it and the states
/// it passed.
pub async fn follow_session(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    id: &str,
) -> (Value, Vec<String>) {
    let mut seen = vec!["waitingForCard".to_owned()];
    for _ in 0..20 {
        let last = seen.last().cloned().unwrap_or_default();
        let response = http
            .get(format!(
                "{base}/v1/municipalities/012084/card-sessions/{id}?waitSeconds=10&unlessState={last}"
            ))
            .bearer_auth(token)
            .header("Madoguchi-Actor", "clerk-0042")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let session: Value = response.json().await.unwrap();
        let state = session["state"].as_str().unwrap().to_owned();
        if state != last {
            seen.push(state.clone());
        }
        if state == "verified" || state == "failed" {
            return (session, seen);
        }
    }
    panic!("card session {id} did not end: {seen:?}");
}

/// Opens a visit of the sample resident (the virtual card's), who asks for a certificate.
pub async fn open_sample_visit(http: &reqwest::Client, base: &str, token: &str) -> Value {
    http.post(format!("{base}/v1/municipalities/012084/visits"))
        .bearer_auth(token)
        .header("Madoguchi-Actor", "clerk-0042")
        .json(&json!({
            "events": [{"kind": "certificateRequest", "date": "2026-12-03", "facts": {"certificates": ["residentRecordCopy"]}}],
            "members": [{"id": "m1", "familyName": "山田", "givenName": "花子", "familyNameKana": "ヤマダ", "givenNameKana": "ハナコ", "dateOfBirth": "1980-02-17", "sex": "2"}],
            "applicant": {"member": "m1"}
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}
