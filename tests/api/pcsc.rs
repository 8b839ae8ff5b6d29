//! The card through real PC/SC: Debian's pcscd with vsmartcard-vpcd's virtual reader, the
//! virtual card plugged in over vpcd, the real gateway and the real bridge built with
//! `--features pcsc`. It needs what `.ci/run` sets up (pcscd running in a network namespace of
//! its own, so vpcd's port is on no network), so it is ignored in a plain `cargo test`; CI
//! runs it with `--ignored` and `MADOGUCHI_TEST_PCSC_BRIDGE` naming the PC/SC bridge.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, Running, madoguchi, spawn_app_with};

fn run_bridge(bridge: &Path, dir: &Path, pin: &str) -> Running {
    let child = Command::new(bridge)
        .args([
            "run",
            "--reader",
            "Virtual PCD",
            "--pin-from-env",
            "TEST_RESIDENT_PIN",
        ])
        .arg("--dir")
        .arg(dir)
        .env("TEST_RESIDENT_PIN", pin)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    Running(child)
}

#[tokio::test]
#[ignore = "needs pcscd with vsmartcard-vpcd and the PC/SC bridge: .ci/run runs it"]
async fn a_card_in_a_pcsc_reader_is_read_through_pcscd_and_the_bridge() {
    let bridge = std::env::var_os("MADOGUCHI_TEST_PCSC_BRIDGE")
        .expect("MADOGUCHI_TEST_PCSC_BRIDGE names madoguchi-bridge built with --features pcsc");
    let bridge = Path::new(&bridge).to_path_buf();
    let work = tempfile::tempdir().unwrap();
    let trust = work.path().join("trust");
    let bridge_dir = work.path().join("bridge");

    // The resident's card goes into vpcd's reader; its CA keys into the gateway's trust.
    let _card = Running(
        madoguchi()
            .args(["virtual-card", "--vpcd", "127.0.0.1:35963", "--trust-dir"])
            .arg(&trust)
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    for _ in 0..100 {
        if trust.join("cvc").exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let trust_dir = trust.clone();
    let app = spawn_app_with(Backend::Sqlite, move |s| {
        s.card.device_port = Some("127.0.0.1:0".to_owned());
        s.card.trust_dir = Some(trust_dir);
        s.card.session_seconds = 30;
    })
    .await;
    let admin = app.register_client(&["admin"], &[]).await;
    let admin = app.token_for(&admin.id, &admin.secret).await;
    let created: Value = app
        .http
        .post(app.url("/v1/admin/devices"))
        .bearer_auth(&admin)
        .json(&json!({"lgCode": "012084", "counterName": "市民課 1番窓口"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let device_id = created["deviceId"].as_str().unwrap().to_owned();
    let enrolled = Command::new(&bridge)
        .args(["enrol", "--gateway", &app.address, "--code"])
        .arg(created["enrolmentCode"].as_str().unwrap())
        .arg("--dir")
        .arg(&bridge_dir)
        .output()
        .unwrap();
    assert!(
        enrolled.status.success(),
        "{}",
        String::from_utf8_lossy(&enrolled.stderr)
    );
    let card = app.register_client(&["card"], &["012084"]).await;
    let token = app.token_for(&card.id, &card.secret).await;
    let read = |purpose: &'static str| {
        let (app, token, device_id) = (&app, token.clone(), device_id.clone());
        async move {
            let started = Instant::now();
            let created: Value = app
                .http
                .post(app.url("/v1/municipalities/012084/card-sessions"))
                .bearer_auth(&token)
                .header("Madoguchi-Actor", "clerk-0042")
                .json(&json!({"deviceId": device_id, "purpose": purpose}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let id = created["cardSessionId"].as_str().unwrap().to_owned();
            for _ in 0..10 {
                let response = app
                    .http
                    .get(app.url(&format!(
                        "/v1/municipalities/012084/card-sessions/{id}?waitSeconds=10"
                    )))
                    .bearer_auth(&token)
                    .header("Madoguchi-Actor", "clerk-0042")
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), StatusCode::OK);
                let session: Value = response.json().await.unwrap();
                if session["state"] == "verified" || session["state"] == "failed" {
                    return (session, started.elapsed());
                }
            }
            panic!("card session {id} did not end");
        }
    };

    let _bridge = run_bridge(&bridge, &bridge_dir, "1234");
    let (session, first) = read("readBasicInfo").await;
    assert_eq!(session["state"], "verified", "{session}");
    let info = &session["result"]["basicInfo"];
    assert_eq!(info["name"], "山田　花子");
    assert_eq!(info["dateOfBirth"], "1980-02-17");
    assert_eq!(info["sex"], "2");
    assert_eq!(info["address"]["city"], "北見市");
    assert_eq!(session["result"]["evidence"]["challengePassed"], true);
    // The wall time of kenhojo reads through gateway, bridge, pcscd and vpcd, for the record
    // (a figure for the report; not asserted).
    let mut times = vec![first];
    for _ in 0..9 {
        let (session, took) = read("readBasicInfo").await;
        assert_eq!(session["state"], "verified", "{session}");
        times.push(took);
    }
    times.sort();
    println!(
        "kenhojo read through bridge and vpcd (POST to verified, 10 reads): min {:?}, median {:?}, max {:?}",
        times[0], times[5], times[9]
    );

    drop(_bridge);
    let _bridge = run_bridge(&bridge, &bridge_dir, "9999");
    let (wrong, _) = read("readBasicInfo").await;
    assert_eq!(wrong["state"], "failed", "{wrong}");
    assert_eq!(wrong["failure"]["code"], "wrongPin");
    assert_eq!(wrong["failure"]["triesLeft"], 2);
}
