//! The card through real PC/SC: Debian's pcscd with vsmartcard-vpcd's virtual reader, the
//! virtual card plugged in over vpcd, the real gateway (`madoguchi serve`, its log kept and
//! printed when the test fails) and the real bridge built with `--features pcsc`. It needs
//! what `.ci/run` sets up (pcscd running in a network namespace of its own, so vpcd's port is
//! on no network), so it is ignored in a plain `cargo test`; CI runs it with `--ignored` and
//! `MADOGUCHI_TEST_PCSC_BRIDGE` naming the PC/SC bridge.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{Running, madoguchi};
use crate::tamper;

fn run_bridge(bridge: &Path, dir: &Path, pin: &str, url: Option<&str>) -> Running {
    let mut command = Command::new(bridge);
    command
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
        .stderr(Stdio::inherit());
    if let Some(url) = url {
        command.args(["--url", url]);
    }
    Running(command.spawn().unwrap())
}

/// Prints the gateway's log when the test fails (a 500 says nothing without it).
struct ShowLogOnFailure(PathBuf);

impl Drop for ShowLogOnFailure {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.0).unwrap_or_default();
            eprintln!("---- the gateway's log ({}) ----\n{log}", self.0.display());
        }
    }
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
    let log = work.path().join("gateway.log");
    let _show = ShowLogOnFailure(log.clone());

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
    let gateway = crate::counter_pc::start(
        work.path(),
        &trust,
        &log,
        "info,madoguchi=debug",
        &bridge,
        &bridge_dir,
    )
    .await;
    let device_id = gateway.device_id.clone();
    let read = |body: Value| {
        let gateway = &gateway;
        async move {
            let started = Instant::now();
            (gateway.read(body).await, started.elapsed())
        }
    };
    let basic = json!({"deviceId": device_id, "purpose": "readBasicInfo"});

    let running = run_bridge(&bridge, &bridge_dir, "1234", None);
    let (session, first) = read(basic.clone()).await;
    assert_eq!(session["state"], "verified", "{session}");
    let info = &session["result"]["basicInfo"];
    assert_eq!(info["name"], "山田　花子");
    assert_eq!(info["dateOfBirth"], "1980-02-17");
    assert_eq!(info["sex"], "2");
    assert_eq!(info["address"]["city"], "北見市");
    assert_eq!(session["result"]["evidence"]["challengePassed"], true);
    // The card face answers the nonce with its own key through the same reader.
    let (face, _) = read(json!({"deviceId": device_id, "purpose": "readCardFace", "matchingNumberB": "55021720361234"})).await;
    assert_eq!(face["state"], "verified", "{face}");
    assert_eq!(face["result"]["evidence"]["challengePassed"], true);
    // The wall time of kenhojo reads through gateway, bridge, pcscd and vpcd, for the record
    // (a figure for the report; not asserted).
    let mut times = vec![first];
    for _ in 0..9 {
        let (session, took) = read(basic.clone()).await;
        assert_eq!(session["state"], "verified", "{session}");
        times.push(took);
    }
    times.sort();
    println!(
        "kenhojo read through bridge and vpcd (POST to verified, 10 reads): min {:?}, median {:?}, max {:?}",
        times[0], times[5], times[9]
    );
    drop(running);

    // A tampered PC between the PC/SC bridge and the gateway: made-up fields before the
    // signed range, or after the record, are refused by name; nothing of them is reported.
    for forge in [
        tamper::forge_before_df22 as tamper::Tamper,
        tamper::append_after_record,
    ] {
        let relay = tamper::start(&bridge_dir, forge).await;
        let _tampered = run_bridge(&bridge, &bridge_dir, "1234", Some(&relay.url));
        let (session, _) = read(basic.clone()).await;
        assert_eq!(session["state"], "failed", "{session}");
        assert_eq!(session["failure"]["code"], "signatureInvalid");
        assert_eq!(session["failure"]["check"], "ef0002.digest");
        assert!(!session.to_string().contains("永田町"), "{session}");
    }
    // A malicious gateway driving the PC/SC bridge cannot spend the resident's PIN tries.
    let mut evil = tamper::try_to_spend_pin_tries(&bridge_dir).await;
    let _driven = run_bridge(&bridge, &bridge_dir, "1234", Some(&evil.url));
    let answers = tokio::time::timeout(Duration::from_secs(60), &mut evil.done)
        .await
        .expect("the malicious gateway's script ran")
        .unwrap();
    assert_eq!(answers, tamper::EXPECTED_WITHOUT_PIN_TRIES_SPENT);
    drop(_driven);
    // The bridge's own trust is the tampered PC's now; put the gateway's back.
    std::fs::copy(bridge_dir.join("ca.crt.gateway"), bridge_dir.join("ca.crt")).unwrap();

    let _bridge = run_bridge(&bridge, &bridge_dir, "9999", None);
    let (wrong, _) = read(basic.clone()).await;
    assert_eq!(wrong["state"], "failed", "{wrong}");
    assert_eq!(wrong["failure"]["code"], "wrongPin");
    assert_eq!(wrong["failure"]["triesLeft"], 2);
}
