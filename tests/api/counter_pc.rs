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
        let id = created["cardSessionId"].as_str().unwrap().to_owned();
        let mut state = "waitingForCard".to_owned();
        for _ in 0..20 {
            let response = self
                .http
                .get(self.url(&format!(
                    "/v1/municipalities/012084/card-sessions/{id}?waitSeconds=10&unlessState={state}"
                )))
                .bearer_auth(&self.token)
                .header("Madoguchi-Actor", "clerk-0042")
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            let session: Value = response.json().await.unwrap();
            state = session["state"].as_str().unwrap_or_default().to_owned();
            if state == "verified" || state == "failed" {
                return session;
            }
        }
        panic!("card session {id} did not end");
    }
}
