//! A counter PC end to end without hardware: an administrator registers the PC, the real
//! `madoguchi-bridge` enrols with the one-time code and connects to the device port over TLS
//! with its certificate, playing the virtual card; a counter app's card sessions end
//! `verified` with the sample resident's 基本4情報, or `failed` with what the clerk can do.

use std::path::Path;
use std::process::{Command, Stdio};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::counter_pc::{follow_session, open_sample_visit};
use crate::helpers::{Backend, Running, TestApp, output, problem, spawn_app_with};
use crate::storage_test;

/// The bridge binary, with nothing of the caller's environment that could change it.
fn bridge() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_madoguchi-bridge"));
    command.env_remove("RUST_LOG");
    command
}

/// Runs the bridge; what it logs goes to `log` (or to the terminal with SHOW_BRIDGE set).
pub(crate) fn run_bridge(dir: &Path, trust: &Path, pin: &str, log: &Path) -> Running {
    run_bridge_with(dir, trust, pin, log, &[])
}

fn run_bridge_with(dir: &Path, trust: &Path, pin: &str, log: &Path, extra: &[&str]) -> Running {
    let child = bridge()
        .args([
            "run",
            "--virtual-card",
            "--pin-from-env",
            "TEST_RESIDENT_PIN",
        ])
        .args(extra)
        .arg("--dir")
        .arg(dir)
        .arg("--virtual-trust-dir")
        .arg(trust)
        .env("TEST_RESIDENT_PIN", pin)
        .stdout(Stdio::null())
        .stderr(if std::env::var_os("SHOW_BRIDGE").is_some() {
            Stdio::inherit()
        } else {
            Stdio::from(std::fs::File::create(log).unwrap())
        })
        .spawn()
        .unwrap();
    Running(child)
}

async fn admin_token(app: &TestApp) -> String {
    let admin = app.register_client(&["admin"], &[]).await;
    app.token_for(&admin.id, &admin.secret).await
}

/// Registers a counter PC; returns its id and one-time code.
async fn register_pc(app: &TestApp, token: &str) -> (String, String) {
    let created = app
        .http
        .post(app.url("/v1/admin/devices"))
        .bearer_auth(token)
        .json(&json!({"lgCode": "012084", "counterName": "市民課 3番窓口"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["state"], "pending");
    (
        created["deviceId"].as_str().unwrap().to_owned(),
        created["enrolmentCode"].as_str().unwrap().to_owned(),
    )
}

/// A gateway with its device port, and a counter PC whose bridge is enrolled (not running).
pub(crate) struct EnrolledPc {
    pub work: tempfile::TempDir,
    pub trust: std::path::PathBuf,
    pub bridge_dir: std::path::PathBuf,
    pub app: TestApp,
    pub device_id: String,
}

/// The device port on, trusting `trust`. A 個人番号 is kept only sealed: on PostgreSQL the
/// operators configure the server key (SQLite makes its own in the data directory).
fn card_port(
    backend: Backend,
    work: &Path,
    trust: &Path,
) -> impl FnOnce(&mut madoguchi::config::Settings) {
    let key_file = work.join("server.key");
    std::fs::write(&key_file, "ab".repeat(32)).unwrap();
    let trust = trust.to_path_buf();
    move |s| {
        s.card.device_port = Some("127.0.0.1:0".to_owned());
        s.card.trust_dir = Some(trust);
        s.card.session_seconds = 30;
        if backend == Backend::Postgres {
            s.secrets.key_path = Some(key_file);
        }
    }
}

pub(crate) async fn enrolled_pc(backend: Backend) -> EnrolledPc {
    let work = tempfile::tempdir().unwrap();
    let trust = work.path().join("trust");
    let bridge_dir = work.path().join("bridge");
    let app = spawn_app_with(backend, card_port(backend, work.path(), &trust)).await;
    let admin = admin_token(&app).await;
    let (device_id, code) = register_pc(&app, &admin).await;
    let mut enrol = bridge();
    enrol
        .args(["enrol", "--gateway", &app.address, "--code", &code, "--dir"])
        .arg(&bridge_dir);
    let enrolled = output(enrol).await;
    assert!(enrolled.status.success());
    EnrolledPc {
        work,
        trust,
        bridge_dir,
        app,
        device_id,
    }
}

struct Counter<'a> {
    app: &'a TestApp,
    token: String,
}

impl Counter<'_> {
    async fn ask(&self, body: Value) -> reqwest::Response {
        self.app
            .http
            .post(self.app.url("/v1/municipalities/012084/card-sessions"))
            .bearer_auth(&self.token)
            .header("Madoguchi-Actor", "clerk-0042")
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Follows a session with long polls until it ends; returns it and the states it passed.
    async fn follow(&self, id: &str) -> (Value, Vec<String>) {
        follow_session(&self.app.http, &self.app.address, &self.token, id).await
    }

    async fn read(&self, body: Value) -> (Value, Vec<String>) {
        let created = self.ask(body).await;
        let status = created.status();
        let created: Value = created.json().await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert_eq!(created["state"], "waitingForCard");
        self.follow(created["cardSessionId"].as_str().unwrap())
            .await
    }
}

async fn counter_pc_reads_cards_through_the_bridge(backend: Backend) {
    let work = tempfile::tempdir().unwrap();
    let trust = work.path().join("trust");
    let bridge_dir = work.path().join("bridge");
    let app = spawn_app_with(backend, card_port(backend, work.path(), &trust)).await;
    assert!(app.device_port.is_some());
    let admin = admin_token(&app).await;

    // Enrolment: a wrong code is refused, the right one once.
    let (device_id, code) = register_pc(&app, &admin).await;
    // Off the runtime that hosts the gateway (see helpers::output).
    let mut wrong = bridge();
    wrong
        .args([
            "enrol",
            "--gateway",
            &app.address,
            "--code",
            "0000-0000-0000",
            "--dir",
        ])
        .arg(&bridge_dir);
    let wrong = output(wrong).await;
    assert!(!wrong.status.success());
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("403"),
        "{}",
        String::from_utf8_lossy(&wrong.stderr)
    );
    let mut enrol = bridge();
    enrol
        .args([
            "enrol",
            "--gateway",
            &app.address,
            "--code",
            &code.to_lowercase(),
            "--dir",
        ])
        .arg(&bridge_dir);
    let enrolled = output(enrol).await;
    assert!(
        enrolled.status.success(),
        "{}",
        String::from_utf8_lossy(&enrolled.stderr)
    );
    assert!(String::from_utf8_lossy(&enrolled.stdout).contains(&device_id));
    let again = app
        .http
        .post(app.url("/v1/devices/enrol"))
        .json(&json!({"enrolmentCode": code, "publicKey": "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEPsJ3lcHmQ6v0vFqgTJ5OkPzQYt+0ZsN9jBQfPZrGjtP8sYfQd8Xw5kLf4cJwbMRxgnpQ3QSTnJ4qB7tYh7hZ3A=="}))
        .send()
        .await
        .unwrap();
    problem(again, StatusCode::FORBIDDEN, "enrolment_code_rejected").await;
    let device = app
        .get_json(&format!("/v1/admin/devices/{device_id}"), &admin)
        .await;
    assert_eq!(device["state"], "active", "{device}");

    let card = app.register_client(&["card", "visits"], &["012084"]).await;
    let counter = Counter {
        app: &app,
        token: app.token_for(&card.id, &card.secret).await,
    };

    // The bridge is not connected yet: the session waits for it and the card.
    let early = counter
        .ask(json!({"deviceId": device_id, "purpose": "readBasicInfo"}))
        .await;
    assert_eq!(early.status(), StatusCode::CREATED);
    let early: Value = early.json().await.unwrap();
    let early_id = early["cardSessionId"].as_str().unwrap().to_owned();

    // The bridge connects, takes the waiting session, and the resident types the PIN.
    let running = run_bridge(&bridge_dir, &trust, "1234", &work.path().join("first.log"));
    let (session, states) = counter.follow(&early_id).await;
    assert_eq!(session["state"], "verified", "{session}");
    assert!(states.contains(&"verified".to_owned()), "{states:?}");
    let info = &session["result"]["basicInfo"];
    assert_eq!(info["name"], "山田　花子");
    assert_eq!(info["familyName"], "山田");
    assert_eq!(info["givenName"], "花子");
    assert_eq!(info["dateOfBirth"], "1980-02-17");
    assert_eq!(info["sex"], "2");
    assert_eq!(
        info["address"]["text"],
        "北海道北見市北５条東２丁目１０番地"
    );
    assert_eq!(info["address"]["prefecture"], "北海道");
    assert_eq!(info["address"]["city"], "北見市");
    assert_eq!(info["address"]["streetAddress"], "北５条東");
    assert_eq!(info["address"]["cityBlock"], "2-10");
    assert_eq!(session["result"]["myNumber"], Value::Null);
    let evidence = &session["result"]["evidence"];
    assert_eq!(evidence["challengePassed"], true);
    assert_eq!(evidence["caKeyId"], "9000033-001");
    assert_eq!(evidence["issuingLgCode"], "012084");
    for check in evidence["checks"].as_array().unwrap() {
        assert_ne!(check["outcome"], "failed", "{check}");
    }

    // 照合番号B instead of the PIN, and the card face.
    let (by_face, _) = counter
        .read(json!({"deviceId": device_id, "purpose": "readBasicInfoByCardFace", "matchingNumberB": "55021720361234"}))
        .await;
    assert_eq!(by_face["state"], "verified", "{by_face}");
    assert_eq!(by_face["result"]["basicInfo"]["name"], "山田　花子");
    let (face, _) = counter
        .read(json!({"deviceId": device_id, "purpose": "readCardFace", "matchingNumberB": "55021720361234"}))
        .await;
    assert_eq!(face["state"], "verified", "{face}");
    assert_eq!(face["result"]["cardFace"]["dateOfBirth"], "1980-02-17");
    // The card face answered the gateway's nonce with its signed key: not a recorded face.
    assert_eq!(
        face["result"]["evidence"]["challengePassed"], true,
        "{face}"
    );
    // Its expiry date is not signed, so it is not reported.
    assert!(
        face["result"]["cardFace"].get("expiryHint").is_none(),
        "{face}"
    );
    // A mistyped 照合番号B is told as such, not as a wrong PIN.
    let (mistyped, _) = counter
        .read(json!({"deviceId": device_id, "purpose": "readCardFace", "matchingNumberB": "55021720369999"}))
        .await;
    assert_eq!(mistyped["state"], "failed", "{mistyped}");
    assert_eq!(mistyped["failure"]["code"], "wrongMatchingNumber");
    assert_eq!(mistyped["failure"]["triesLeft"], 9);
    let said = mistyped["failure"]["message"].as_str().unwrap();
    assert!(
        said.contains("照合番号B") && !said.contains("暗証番号"),
        "{said}"
    );
    // The card face's signed images, for the clerk to compare with the resident.
    let images = &face["result"]["cardFace"]["images"];
    let image = |which: &str| {
        let url = images[which]
            .as_str()
            .unwrap_or_else(|| panic!("{face}"))
            .to_owned();
        let counter = &counter;
        async move {
            let got = counter
                .app
                .http
                .get(counter.app.url(&url))
                .bearer_auth(&counter.token)
                .header("Madoguchi-Actor", "clerk-0042")
                .send()
                .await
                .unwrap();
            assert_eq!(got.status(), StatusCode::OK, "{url}");
            assert_eq!(got.headers()["cache-control"], "no-store");
            let kind = got.headers()["content-type"].to_str().unwrap().to_owned();
            (kind, got.bytes().await.unwrap().to_vec())
        }
    };
    let (kind, name) = image("name").await;
    assert_eq!(kind, "image/png");
    assert!(name.starts_with(b"\x89PNG"));
    // The synthetic card's name image carries the name it shows.
    assert!(String::from_utf8_lossy(&name).contains("山田　花子"));
    let (kind, address) = image("address").await;
    assert_eq!(kind, "image/png");
    assert!(String::from_utf8_lossy(&address).contains("北５条東"));
    let (kind, photo) = image("photo").await;
    assert_eq!(kind, "image/jp2");
    assert_eq!(&photo[4..8], b"jP  ");
    // A read without the card face has no images.
    let by_face_id = by_face["cardSessionId"].as_str().unwrap();
    let none = app
        .http
        .get(app.url(&format!(
            "/v1/municipalities/012084/card-sessions/{by_face_id}/images/photo"
        )))
        .bearer_auth(&counter.token)
        .header("Madoguchi-Actor", "clerk-0042")
        .send()
        .await
        .unwrap();
    let none = problem(none, StatusCode::NOT_FOUND, "not_found").await;
    assert!(none["detail"].as_str().unwrap().contains("券面"), "{none}");
    // JPKI authentication: the 利用者証明用 certificate chained to the configured root, the
    // card's signature over the gateway's nonce.
    let (auth, _) = counter
        .read(json!({"deviceId": device_id, "purpose": "authenticate"}))
        .await;
    assert_eq!(auth["state"], "verified", "{auth}");
    assert_eq!(auth["result"]["evidence"]["challengePassed"], true);
    assert!(
        auth["result"]["evidence"]["certificateSerial"].is_string(),
        "{auth}"
    );
    assert_eq!(auth["result"]["basicInfo"], Value::Null);
    let jpki_checks: Vec<&str> = auth["result"]["evidence"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["outcome"] == "passed")
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    for id in [
        "jpki.signature",
        "jpki.chain",
        "jpki.validity",
        "jpki.keyUsage",
        "jpki.policy",
    ] {
        assert!(jpki_checks.contains(&id), "{id} in {auth}");
    }
    let missing = counter
        .ask(json!({"deviceId": device_id, "purpose": "readCardFace"}))
        .await;
    let missing = problem(
        missing,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(missing["errors"][0]["pointer"], "/matchingNumberB");

    // The 個人番号 only with mynumber:read and a visit.
    let refused = counter
        .ask(json!({"deviceId": device_id, "purpose": "readMyNumber"}))
        .await;
    problem(refused, StatusCode::FORBIDDEN, "insufficient_scope").await;
    let number_client = app
        .register_client(&["card", "mynumber:read", "visits"], &["012084"])
        .await;
    let numbers = Counter {
        app: &app,
        token: app
            .token_for(&number_client.id, &number_client.secret)
            .await,
    };
    let no_visit = numbers
        .ask(json!({"deviceId": device_id, "purpose": "readMyNumber"}))
        .await;
    problem(
        no_visit,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let visit = open_sample_visit(&app.http, &app.address, &numbers.token).await;
    let visit_id = visit["id"].as_str().unwrap();
    let (with_number, _) = numbers
        .read(json!({"deviceId": device_id, "purpose": "readMyNumber", "visitId": visit_id}))
        .await;
    assert_eq!(with_number["result"]["myNumber"], "123456789018");
    // The verified card fills the member's facts, with the source `card`; never the number.
    let attached = app
        .http
        .post(app.url(&format!("/v1/municipalities/012084/visits/{visit_id}/card")))
        .bearer_auth(&numbers.token)
        .header("Madoguchi-Actor", "clerk-0042")
        .json(&json!({"cardSessionId": with_number["cardSessionId"], "member": "m1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        attached.status(),
        StatusCode::OK,
        "{}",
        attached.text().await.unwrap()
    );
    let read: Value = app
        .http
        .get(app.url(&format!("/v1/municipalities/012084/visits/{visit_id}")))
        .bearer_auth(&numbers.token)
        .header("Madoguchi-Actor", "clerk-0042")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let facts = read["members"][0]["facts"].as_array().unwrap();
    for (name, value) in [
        ("familyName", json!("山田")),
        ("givenName", json!("花子")),
        ("dateOfBirth", json!("1980-02-17")),
        ("sex", json!("2")),
        ("hasMyNumberCard", json!(true)),
    ] {
        let fact = facts.iter().find(|f| f["name"] == name).unwrap();
        assert_eq!(fact["value"], value, "{name}");
        assert_eq!(fact["source"], "card", "{name}");
    }
    assert!(!read.to_string().contains("123456789018"));
    // A session of another visit is not taken for this one.
    let elsewhere = app
        .http
        .post(app.url(&format!("/v1/municipalities/012084/visits/{visit_id}/card")))
        .bearer_auth(&numbers.token)
        .header("Madoguchi-Actor", "clerk-0042")
        .json(&json!({"cardSessionId": early_id, "member": "m9"}))
        .send()
        .await
        .unwrap();
    let elsewhere = problem(
        elsewhere,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(elsewhere["errors"][0]["code"], "unknown_member");

    // Another client without the scope sees the session but not the number.
    let id = with_number["cardSessionId"].as_str().unwrap();
    let (seen_by_other, _) = counter.follow(id).await;
    assert_eq!(seen_by_other["result"]["myNumber"], Value::Null);

    // A wrong PIN: the session fails with the tries left, in words for the clerk.
    drop(running);
    let log = work.path().join("second.log");
    let _running = run_bridge(&bridge_dir, &trust, "9999", &log);
    let (wrong, _) = counter
        .read(json!({"deviceId": device_id, "purpose": "readBasicInfo"}))
        .await;
    assert_eq!(wrong["state"], "failed", "{wrong}");
    assert_eq!(wrong["failure"]["code"], "wrongPin");
    assert_eq!(wrong["failure"]["triesLeft"], 2);
    assert!(
        wrong["failure"]["message"]
            .as_str()
            .unwrap()
            .contains("あと2回"),
        "{wrong}"
    );

    // The audit says that cards were read, by whom, at which counter, for what; never what.
    let audit = app
        .get_json(
            "/v1/municipalities/012084/audit-events?limit=100",
            &app.demo_token().await,
        )
        .await;
    let text = audit.to_string();
    assert!(!text.contains("123456789018"));
    assert!(!text.contains("山田"));
    let reads: Vec<&Value> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "card.read")
        .collect();
    assert!(reads.len() >= 5, "{reads:?}");
    for read in &reads {
        let target = read["target"].as_str().unwrap();
        assert!(target.contains(&format!("device:{device_id}")), "{target}");
        assert_eq!(read["actor"], "clerk-0042");
    }
    assert!(reads.iter().any(|r| {
        r["target"]
            .as_str()
            .unwrap()
            .contains(&format!("purpose:readMyNumber visit:{visit_id}"))
    }));
    assert!(reads.iter().any(|r| r["outcome"] == "denied"));

    // Revoked: the PC can no longer be asked to read.
    let revoked = app
        .http
        .post(app.url(&format!("/v1/admin/devices/{device_id}/revoke")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    let refused = counter
        .ask(json!({"deviceId": device_id, "purpose": "readBasicInfo"}))
        .await;
    problem(refused, StatusCode::CONFLICT, "device_not_active").await;
    // The connected bridge is let go within the device port's recheck (5 s), and its
    // certificate no longer opens a connection.
    if std::env::var_os("SHOW_BRIDGE").is_none() {
        let mut closed = false;
        for _ in 0..100 {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.contains("the gateway closed the connection") {
                closed = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(
            closed,
            "{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }
    let listed = app
        .get_json("/v1/admin/devices?lgCode=012084", &admin)
        .await;
    assert_eq!(listed["items"][0]["state"], "revoked");
}
storage_test!(counter_pc_reads_cards_through_the_bridge);

/// The gateway's log at the most verbose level a setting allows: every crate at trace, the
/// device port busy with card reads. 照合番号B, the 基本4情報 and the 個人番号 appear in it in
/// no form (text or the hex the bridge protocol carries them in).
#[tokio::test]
async fn no_log_level_shows_what_the_card_holds() {
    let work = tempfile::tempdir().unwrap();
    let trust = work.path().join("trust");
    let bridge_dir = work.path().join("bridge");
    let log = work.path().join("gateway.log");
    let gateway = crate::counter_pc::start(
        work.path(),
        &trust,
        &log,
        "trace",
        Path::new(env!("CARGO_BIN_EXE_madoguchi-bridge")),
        &bridge_dir,
    )
    .await;
    let _bridge = run_bridge(&bridge_dir, &trust, "1234", &work.path().join("bridge.log"));
    let visit = open_sample_visit(&gateway.http, &gateway.server.address, &gateway.token).await;
    let device_id = gateway.device_id.clone();
    for body in [
        json!({"deviceId": device_id, "purpose": "readBasicInfoByCardFace", "matchingNumberB": "55021720361234"}),
        json!({"deviceId": device_id, "purpose": "readMyNumber", "visitId": visit["id"]}),
        json!({"deviceId": device_id, "purpose": "readCardFace", "matchingNumberB": "55021720361234"}),
    ] {
        let session = gateway.read(body.clone()).await;
        assert_eq!(session["state"], "verified", "{body}: {session}");
    }
    drop(gateway);
    let text = std::fs::read_to_string(&log).unwrap();
    // Trace was on, and the device port was logged: the test can see what it looks for.
    assert!(text.contains("TRACE"), "not a trace log");
    assert!(
        text.contains("bridge connected"),
        "{}",
        &text[..text.len().min(2000)]
    );
    let hex = |s: &str| hex::encode_upper(s.as_bytes());
    for secret in [
        "55021720361234",
        "123456789018",
        "山田",
        "花子",
        "北見市北５条東",
        "19800217",
    ] {
        for form in [secret.to_owned(), hex(secret), hex(secret).to_lowercase()] {
            assert!(!text.contains(&form), "{secret} is in the log as {form}");
        }
    }
}

/// The bridge's own PIN prompt, on a real terminal (a pty from `script`): the resident's
/// keys are read with echo off, so the PIN is nowhere on the screen, and it still opens the
/// card.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pin_typed_at_the_bridge_prompt_is_not_shown() {
    use std::io::{Read, Write};
    let EnrolledPc {
        work: _work,
        trust,
        bridge_dir,
        app,
        device_id,
    } = enrolled_pc(Backend::Sqlite).await;
    // A PIN no id, time or status word in the bridge's output can contain by chance.
    let pin = "9q7z";
    let command = format!(
        "{} run --virtual-card --card-pin {pin} --dir {} --virtual-trust-dir {}",
        env!("CARGO_BIN_EXE_madoguchi-bridge"),
        bridge_dir.display(),
        trust.display()
    );
    let mut terminal = Running(
        Command::new("script")
            .args(["-q", "-f", "-e", "-c", &command, "/dev/null"])
            .env_remove("RUST_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("script (util-linux) runs the bridge on a pty"),
    );
    let mut keys = terminal.0.stdin.take().unwrap();
    let mut screen = terminal.0.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = screen.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let card = app.register_client(&["card"], &["012084"]).await;
    let counter = Counter {
        app: &app,
        token: app.token_for(&card.id, &card.secret).await,
    };
    let created: Value = counter
        .ask(json!({"deviceId": device_id, "purpose": "readBasicInfo"}))
        .await
        .json()
        .await
        .unwrap();
    let id = created["cardSessionId"].as_str().unwrap().to_owned();
    let mut shown = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !String::from_utf8_lossy(&shown).contains("暗証番号(数字4桁)") {
        assert!(
            std::time::Instant::now() < deadline,
            "no PIN prompt: {}",
            String::from_utf8_lossy(&shown)
        );
        // A blocking wait, off the runtime that serves the gateway.
        let next =
            tokio::task::block_in_place(|| rx.recv_timeout(std::time::Duration::from_millis(200)));
        if let Ok(bytes) = next {
            shown.extend(bytes);
        }
    }
    // The prompt is written just before the terminal's echo is switched off; a person's first
    // key comes far later than that, keys sent within microseconds (a loaded CI machine) may
    // not. Type as a person would.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    keys.write_all(format!("{pin}\r").as_bytes()).unwrap();
    keys.flush().unwrap();
    let (session, _) = counter.follow(&id).await;
    assert_eq!(session["state"], "verified", "{session}");
    while let Ok(bytes) =
        tokio::task::block_in_place(|| rx.recv_timeout(std::time::Duration::from_millis(500)))
    {
        shown.extend(bytes);
    }
    let screen = String::from_utf8_lossy(&shown);
    assert!(screen.contains("VERIFY → 9000"), "{screen}");
    assert!(!screen.contains(pin), "the PIN is on the screen: {screen}");
    drop(terminal);
}

/// A tampered counter PC between the bridge and the gateway: what it makes up in the card's
/// answers (a 住所, 生年月日 and 性別 before the signed DF22, another 住所 after the record)
/// ends the session `failed` with the check that caught it, and no 基本4情報; the same relay
/// changing nothing lets the read through, so it is the gateway's checks that refuse.
async fn a_tampered_pc_cannot_make_up_a_resident(backend: Backend) {
    use crate::tamper;
    let EnrolledPc {
        work,
        trust,
        bridge_dir,
        app,
        device_id,
    } = enrolled_pc(backend).await;
    let card = app.register_client(&["card"], &["012084"]).await;
    let counter = Counter {
        app: &app,
        token: app.token_for(&card.id, &card.secret).await,
    };
    let body = json!({"deviceId": device_id, "purpose": "readBasicInfoByCardFace", "matchingNumberB": "55021720361234"});
    for (n, (tamper, caught)) in [
        (tamper::pass_through as tamper::Tamper, None),
        (tamper::forge_before_df22, Some("ef0002.digest")),
        (tamper::append_after_record, Some("ef0002.digest")),
    ]
    .into_iter()
    .enumerate()
    {
        let relay = tamper::start(&bridge_dir, tamper).await;
        let log = work.path().join(format!("bridge-{n}.log"));
        let running = run_bridge_with(&bridge_dir, &trust, "1234", &log, &["--url", &relay.url]);
        let (session, _) = counter.read(body.clone()).await;
        match caught {
            None => {
                assert_eq!(session["state"], "verified", "{session}");
                assert_eq!(session["result"]["basicInfo"]["name"], "山田　花子");
            }
            Some(check) => {
                assert_eq!(session["state"], "failed", "{session}");
                assert_eq!(session["failure"]["code"], "signatureInvalid", "{session}");
                assert_eq!(session["failure"]["check"], check, "{session}");
                assert_eq!(session["result"], Value::Null);
                assert!(!session.to_string().contains("永田町"), "{session}");
            }
        }
        drop(running);
        drop(relay);
    }
}
storage_test!(a_tampered_pc_cannot_make_up_a_resident);

/// A malicious gateway driving the real bridge (the virtual card): a SELECT the card refuses
/// does not leave the PIN key open to upstream digits, digits named for the PIN key, VERIFY
/// with data, READ BINARY by short EF id and the JPKI key's signature without a PIN are
/// refused, and the PIN's retry counter is still 3 at the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malicious_gateway_cannot_spend_the_residents_pin_tries() {
    let EnrolledPc {
        work,
        trust,
        bridge_dir,
        ..
    } = enrolled_pc(Backend::Sqlite).await;
    let mut gateway = crate::tamper::try_to_spend_pin_tries(&bridge_dir).await;
    let log = work.path().join("bridge.log");
    let _bridge = run_bridge_with(&bridge_dir, &trust, "1234", &log, &["--url", &gateway.url]);
    let answers = tokio::time::timeout(std::time::Duration::from_secs(60), &mut gateway.done)
        .await
        .expect("the script ran")
        .unwrap();
    assert_eq!(
        answers,
        crate::tamper::EXPECTED_WITHOUT_PIN_TRIES_SPENT,
        "{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
}
