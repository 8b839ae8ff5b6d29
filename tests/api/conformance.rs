//! The conformance kit against our own server (every SHALL met, on SQLite and PostgreSQL), and
//! against broken doubles: our server behind a proxy that breaks one requirement each. Each
//! double must make exactly its named requirements fail, and nothing else: a kit that passes a
//! broken server is worse than none.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use madoguchi::conformance::report::{Report, Status, Verdict};
use madoguchi::conformance::requirements::Capability;
use madoguchi::conformance::runner::{self, Inputs, Quiet, RunOptions};
use madoguchi::conformance::{package, suite};
use serde_json::Value;
use tempfile::TempDir;

use crate::delivery::core_sim;
use crate::helpers::{Backend, TestApp, madoguchi, spawn_app_with};

/// Our server, letting webhooks reach the kit's receiver on loopback.
async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |s| {
        s.link.webhooks.allow_networks = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await
}
use crate::storage_test;

async fn run_kit(app: &TestApp, base: &str, out: &Path, key: Option<&Path>) -> Report {
    let admin = app.register_client(&["admin"], &[]).await;
    let options = RunOptions {
        suite: suite("gateway-api").unwrap(),
        base_url: reqwest::Url::parse(base).unwrap(),
        inputs: Inputs {
            client_id: Some(admin.id.clone()),
            client_secret: Some(admin.secret.clone()),
            product: Some("madoguchi (tests)".to_owned()),
            capabilities: vec![Capability::Webhooks, Capability::PullLink],
            ..Default::default()
        },
        out: out.to_path_buf(),
        timeout_scale: 1.0,
        only: Vec::new(),
        recording: None,
        key: key.map(|k| package::load_private_key(k).unwrap()),
    };
    let report = runner::run(options, &Quiet).await.expect("the run starts");
    // Canaries: the admin client's secret, tokens, and the 個人番号 of the forms' examples
    // were all on the wire; none may reach a file of the run.
    let mut leaks = Vec::new();
    let jwt = |s: &str| {
        s.split(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c)))
            .any(|w| w.starts_with("eyJ") && w.split('.').count() == 3 && w.len() > 60)
    };
    for entry in walk(out) {
        let text = std::fs::read_to_string(&entry).unwrap_or_default();
        // manifest.jws is the run's own signature (a JWS with a detached payload).
        let own_signature = entry.ends_with("manifest.jws");
        if text.contains(&admin.secret)
            || text.contains("123456789018")
            || (jwt(&text) && !own_signature)
        {
            leaks.push(entry.display().to_string());
        }
    }
    assert!(leaks.is_empty(), "secrets, tokens or 個人番号 in {leaks:?}");
    report
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn not_met(report: &Report) -> BTreeSet<String> {
    report
        .requirements
        .iter()
        .filter(|r| r.status == Status::NotMet)
        .map(|r| {
            r.id.split_once('@')
                .map_or(r.id.as_str(), |(_, id)| id)
                .to_owned()
        })
        .collect()
}

async fn gateway_api_suite_passes_against_our_server(backend: Backend) {
    let app = spawn_app(backend).await;
    let dir = TempDir::new().unwrap();
    let keys = TempDir::new().unwrap();
    let key = keys.path().join("run.pem");
    let status = madoguchi()
        .args(["conformance", "keygen", "--out"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(status.success());
    let out = dir.path().join("run");
    let report = run_kit(&app, &app.address, &out, Some(&key)).await;
    let unmet: Vec<String> = report
        .requirements
        .iter()
        .filter(|r| !matches!(r.status, Status::Met | Status::NotTested))
        .map(|r| {
            format!(
                "{} {:?} {}",
                r.id,
                r.status,
                r.why.clone().unwrap_or_default()
            )
        })
        .collect();
    let failed: Vec<String> = report
        .tests
        .iter()
        .flat_map(|t| {
            t.checks.iter().filter(|c| !c.passed).map(move |c| {
                format!(
                    "{} {}: expected {}, got {}",
                    t.id, c.requirement, c.expected, c.actual
                )
            })
        })
        .collect();
    assert!(
        unmet.is_empty() && failed.is_empty(),
        "{unmet:#?}\n{failed:#?}"
    );
    assert_eq!(report.verdict, Verdict::Conformant);
    let shall = &report.counts.requirements["SHALL"];
    assert!(shall.met >= 40, "{shall:?}");

    // The three forms of the report agree with it.
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert_eq!(junit.matches("<testcase ").count(), report.tests.len());
    assert!(
        junit.contains(r#"failures="0" errors="0""#),
        "{}",
        &junit[..400]
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("適合 conformant") && !html.contains("<script"));

    // The package verifies with the public key, and fails on one changed byte.
    let public = keys.path().join("run.pem.pub");
    let verify = |dir: &Path| {
        madoguchi()
            .args(["conformance", "verify-report"])
            .arg(dir)
            .arg("--key")
            .arg(&public)
            .output()
            .unwrap()
    };
    let ok = verify(&out);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let evidence = walk(&out.join("evidence")).into_iter().next().unwrap();
    let mut bytes = std::fs::read(&evidence).unwrap();
    bytes[10] ^= 1;
    std::fs::write(&evidence, bytes).unwrap();
    let broken = verify(&out);
    assert_eq!(broken.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&broken.stderr);
    assert!(stderr.contains("was changed after the run"), "{stderr}");
}
storage_test!(gateway_api_suite_passes_against_our_server);

/// One fault a double has.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Fault {
    /// Errors answered as application/json, not application/problem+json.
    ErrorsNotProblemJson,
    /// Idempotency-Key dropped on its way in.
    IgnoresIdempotencyKey,
    /// A 403 for another municipality's route retried with a token that may act for every
    /// municipality: the tenancy check is missing.
    LeaksAcrossMunicipalities,
    /// The last item of every page of a cursor list (`limit`, `cursor`) that has a next page
    /// left out.
    SkipsAnItemPerPage,
    /// A webhook endpoint registered with one secret and signed with another.
    WrongWebhookSecret,
    /// A core endpoint that records every POST as a new record: each answer, a repeat's too,
    /// carries a new record number.
    RecordsARepeatTwice,
    /// A core endpoint that takes any document: its refusals (400, 422) become 200 accepted.
    TakesAnyDocument,
}

struct Proxy {
    upstream: String,
    fault: Fault,
    client: reqwest::Client,
    /// A token that may act for both of the kit's municipalities (the leak).
    master: tokio::sync::Mutex<Option<String>>,
    app_store: Option<madoguchi::store::Store>,
    /// Records made (RecordsARepeatTwice).
    records: std::sync::atomic::AtomicU64,
}

async fn forward(req: HttpRequest, body: web::Bytes, proxy: web::Data<Arc<Proxy>>) -> HttpResponse {
    let url = format!("{}{}", proxy.upstream, req.uri());
    let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes()).unwrap();
    let mut headers = reqwest::header::HeaderMap::new();
    for (name, value) in req.headers() {
        let n = name.as_str();
        if n == "host" || n == "content-length" {
            continue;
        }
        if proxy.fault == Fault::IgnoresIdempotencyKey && n == "idempotency-key" {
            continue;
        }
        headers.append(
            reqwest::header::HeaderName::from_bytes(n.as_bytes()).unwrap(),
            reqwest::header::HeaderValue::from_bytes(value.as_bytes()).unwrap(),
        );
    }
    let send = |headers: reqwest::header::HeaderMap| {
        proxy
            .client
            .request(method.clone(), &url)
            .headers(headers)
            .body(body.clone())
            .send()
    };
    let mut response = send(headers.clone()).await.unwrap();
    if proxy.fault == Fault::LeaksAcrossMunicipalities && response.status().as_u16() == 403 {
        let text = response.text().await.unwrap();
        if text.contains("municipality_forbidden") {
            let token = master_token(&proxy).await;
            headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
        }
        response = send(headers).await.unwrap();
    }
    let status = response.status().as_u16();
    let mut out = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
    for (name, value) in response.headers() {
        let n = name.as_str();
        if matches!(n, "content-length" | "transfer-encoding" | "connection") {
            continue;
        }
        if proxy.fault == Fault::ErrorsNotProblemJson && n == "content-type" && status >= 400 {
            out.insert_header(("content-type", "application/json"));
            continue;
        }
        out.append_header((n, value.as_bytes()));
    }
    let mut bytes = response.bytes().await.unwrap().to_vec();
    let delivery = method == reqwest::Method::POST && url.ends_with("/applications");
    if proxy.fault == Fault::RecordsARepeatTwice
        && delivery
        && status == 200
        && let Ok(mut answer) = serde_json::from_slice::<Value>(&bytes)
    {
        let n = proxy
            .records
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        answer["receiptNumber"] = Value::from(format!("DBL-{:06}", n + 1));
        bytes = serde_json::to_vec(&answer).unwrap();
    }
    if proxy.fault == Fault::TakesAnyDocument && delivery && matches!(status, 400 | 422) {
        return HttpResponse::Ok().json(serde_json::json!({"outcome": "accepted"}));
    }
    if proxy.fault == Fault::WrongWebhookSecret
        && method == reqwest::Method::POST
        && url.ends_with("/webhooks")
        && let Ok(mut registered) = serde_json::from_slice::<Value>(&bytes)
        && registered["secret"].is_string()
    {
        registered["secret"] = Value::from("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        bytes = serde_json::to_vec(&registered).unwrap();
    }
    if proxy.fault == Fault::SkipsAnItemPerPage
        && method == reqwest::Method::GET
        && !url.contains("/link/")
        && let Ok(mut page) = serde_json::from_slice::<Value>(&bytes)
        && page["nextCursor"].is_string()
        && let Some(items) = page["items"].as_array_mut()
    {
        items.pop();
        bytes = serde_json::to_vec(&page).unwrap();
    }
    out.body(bytes)
}

/// A client of every municipality the kit registered (479900, 479918), as an operator would
/// have made by mistake.
async fn master_token(proxy: &Proxy) -> String {
    let mut held = proxy.master.lock().await;
    if let Some(t) = held.as_ref() {
        return t.clone();
    }
    let (client, secret) = madoguchi::auth::register_client(
        proxy.app_store.as_ref().unwrap(),
        madoguchi::auth::Registration {
            name: "leak",
            scopes: &[
                "forms".into(),
                "visits".into(),
                "municipalities:read".into(),
            ],
            municipalities: &["479900".into(), "479918".into()],
            ..Default::default()
        },
        &madoguchi::audit::Actor::cli(),
    )
    .await
    .unwrap();
    let response: Value = proxy
        .client
        .post(format!("{}/oauth/token", proxy.upstream))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &client.id.to_string()),
            ("client_secret", secret.expose()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = response["access_token"].as_str().unwrap().to_owned();
    *held = Some(token.clone());
    token
}

async fn start_double(app: &TestApp, fault: Fault) -> String {
    start_proxy(app.address.clone(), Some(app.store.clone()), fault).await
}

/// A proxy with `fault` in front of `upstream`; its address.
async fn start_proxy(
    upstream: String,
    app_store: Option<madoguchi::store::Store>,
    fault: Fault,
) -> String {
    let proxy = Arc::new(Proxy {
        upstream,
        fault,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        master: tokio::sync::Mutex::new(None),
        app_store,
        records: std::sync::atomic::AtomicU64::new(0),
    });
    let data = web::Data::new(proxy);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(1 << 20))
            .default_service(web::to(forward))
    })
    .workers(2)
    .disable_signals()
    .bind("127.0.0.1:0")
    .unwrap();
    let address = server.addrs()[0];
    tokio::spawn(server.run());
    format!("http://{address}")
}

/// Each double fails exactly the requirements it breaks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_broken_double_fails_exactly_its_requirements() {
    let expectations: Vec<(Fault, &[&str])> = vec![
        (Fault::ErrorsNotProblemJson, &["PROB-001", "CONTRACT-001"]),
        (
            Fault::IgnoresIdempotencyKey,
            &["IDEM-001", "IDEM-002", "IDEM-003"],
        ),
        (Fault::LeaksAcrossMunicipalities, &["TEN-001"]),
        (Fault::SkipsAnItemPerPage, &["PAGE-001", "PAGE-002"]),
        (Fault::WrongWebhookSecret, &["HOOK-001", "HOOK-002"]),
    ];
    let mut wrong = Vec::new();
    for (fault, expected) in expectations {
        let app = spawn_app(Backend::Sqlite).await;
        let base = start_double(&app, fault).await;
        let dir = TempDir::new().unwrap();
        let report = run_kit(&app, &base, &dir.path().join("run"), None).await;
        wrong.extend(unless_exactly(fault, expected, &report));
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// Nothing when a double's run is not conformant with exactly `expected` not met; otherwise
/// what went wrong.
fn unless_exactly(fault: Fault, expected: &[&str], report: &Report) -> Option<String> {
    let expected: BTreeSet<String> = expected.iter().map(|s| (*s).to_owned()).collect();
    let got = not_met(report);
    (got != expected || report.verdict != Verdict::NotConformant).then(|| {
        format!(
            "{fault:?}: expected {expected:?}, not met {got:?}, verdict {:?}",
            report.verdict
        )
    })
}

/// Every requirement of the run met, or the list of those that were not.
fn assert_every_requirement_met(report: &Report) {
    let not_all: Vec<String> = report
        .requirements
        .iter()
        .filter(|r| r.status != Status::Met)
        .map(|r| {
            format!(
                "{} {:?} {}",
                r.id,
                r.status,
                r.why.clone().unwrap_or_default()
            )
        })
        .collect();
    assert!(not_all.is_empty(), "{not_all:#?}");
}

/// The `core-http` suite against `base` (the endpoint), as a core system's client `kit`.
async fn run_core_kit(base: &str, token_url: &str, extra: Inputs, out: &Path) -> Report {
    let options = RunOptions {
        suite: suite("core-http").unwrap(),
        base_url: reqwest::Url::parse(base).unwrap(),
        inputs: Inputs {
            client_id: Some("kit".to_owned()),
            client_secret: Some("core-s3cret".to_owned()),
            token_url: Some(token_url.to_owned()),
            product: Some("madoguchi core-sim (tests)".to_owned()),
            ..extra
        },
        out: out.to_path_buf(),
        timeout_scale: 1.0,
        only: Vec::new(),
        recording: None,
        key: None,
    };
    runner::run(options, &Quiet).await.expect("the run starts")
}

/// The simulator keeps the `http` connector's contract, over mutual TLS with OAuth2: every
/// requirement of `core-http` is met, the client certificate's included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_http_suite_passes_against_the_simulator_over_mutual_tls() {
    let pki = crate::tls::core_system_pki();
    let path = |name: &str| pki.path().join(name);
    let sim = crate::delivery::core_sim_over_tls(
        pki.path(),
        &["--client-id", "kit", "--client-secret", "core-s3cret"],
    );
    let port = sim.url.rsplit(':').next().unwrap().to_owned();
    let dir = TempDir::new().unwrap();
    let report = run_core_kit(
        &format!("https://localhost:{port}/applications"),
        &format!("https://localhost:{port}/token"),
        Inputs {
            ca_file: Some(path("ca.pem")),
            client_identity_file: Some(path("client.pem")),
            ..Default::default()
        },
        &dir.path().join("run"),
    )
    .await;
    assert_every_requirement_met(&report);
    assert_eq!(report.verdict, Verdict::Conformant);
    assert_eq!(report.requirements.len(), 11);
    // The client certificate was judged, not skipped.
    let tls = report
        .tests
        .iter()
        .find(|t| t.id == "tls.client-certificate")
        .unwrap();
    assert_eq!(tls.checks.len(), 1, "{tls:?}");
    assert!(tls.checks[0].actual.contains("refused"), "{tls:?}");
    // The kit's client secret reached no file.
    for entry in walk(&dir.path().join("run")) {
        let text = std::fs::read_to_string(&entry).unwrap_or_default();
        assert!(!text.contains("core-s3cret"), "{}", entry.display());
    }
}

/// Core endpoints that break one requirement each: the simulator behind a proxy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_broken_core_double_fails_exactly_its_requirements() {
    let sim = core_sim(&["--client-id", "kit", "--client-secret", "core-s3cret"]);
    let expectations: Vec<(Fault, &[&str])> = vec![
        (Fault::RecordsARepeatTwice, &["IDEM-001"]),
        (Fault::TakesAnyDocument, &["VAL-001", "VAL-002"]),
        (Fault::ErrorsNotProblemJson, &["ERR-001"]),
    ];
    let mut wrong = Vec::new();
    for (fault, expected) in expectations {
        let base = start_proxy(sim.url.clone(), None, fault).await;
        let dir = TempDir::new().unwrap();
        let report = run_core_kit(
            &format!("{base}/applications"),
            &format!("{base}/token"),
            Inputs::default(),
            &dir.path().join("run"),
        )
        .await;
        wrong.extend(unless_exactly(fault, expected, &report));
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// The `link-files` suite over `dir`, for the municipality 012084.
async fn run_files_kit(dir: &Path, out: &Path) -> Report {
    let options = RunOptions {
        suite: suite("link-files").unwrap(),
        base_url: reqwest::Url::from_directory_path(dir).unwrap(),
        inputs: Inputs {
            lg_code: Some("012084".to_owned()),
            ..Default::default()
        },
        out: out.to_path_buf(),
        timeout_scale: 1.0,
        only: Vec::new(),
        recording: None,
        key: None,
    };
    runner::run(options, &Quiet).await.expect("the run starts")
}

/// Import files as the generator writes them and a differential file written by hand from
/// docs/link.md, beside the outbox our gateway's file connector wrote: every requirement met.
/// The same files broken in four ways: exactly those four requirements not met.
async fn link_files_suite_judges_import_files_and_an_outbox(backend: Backend) {
    use madoguchi::config::ConnectorKind;
    let files = TempDir::new().unwrap();
    let dir = files.path().to_path_buf();
    let sample = madoguchi()
        .args(["link", "sample"])
        .arg(dir.join("full-20261207-0100.csv"))
        .args(["--residents", "200", "--lg-code", "012084"])
        .output()
        .unwrap();
    assert!(sample.status.success(), "{sample:?}");
    // 追加, 修正 and 削除 as the layout's table has them: a 宛名番号 of 11 digits whose last is
    // the check digit (weights 2…7 from the right), 和暦 dates, a removal with its number only.
    std::fs::write(
        dir.join("diff-20261207-0110.csv"),
        "operation,lgCode,addresseeNumber,householdNumber,name,nameKana,aliasName,dateOfBirth,sex,relationship,postalCode,prefecture,city,streetAddress,cityBlock,buildingNameEtc,residentSince,lastChangeReason,lastChangeDate,residentKind,nationality,residenceStatus,residencePeriodEnd\n\
A,012084,20000000001,20000000,北見　一郎,キタミ　イチロウ,,平成2年5月1日,1,世帯主,090-0024,北海道,北見市,北1条東,2-3,,令和8年12月1日,転入,令和8年12月1日,1,,,\n\
U,012084,10000000006,10000000,山田　花子,ヤマダ　ハナコ,,昭和25年頃,2,世帯主,090-0024,北海道,北見市,北2条東,1-1,,令和2年4月1日,転居,令和8年12月2日,1,,,\n\
D,012084,10000000014,,,,,,,,,,,,,,,,,,,,\n",
    )
    .unwrap();
    let outbox = dir.clone();
    let app = spawn_app_with(
        backend,
        crate::delivery::one_connector(ConnectorKind::File, |c| c.dir = Some(outbox)),
    )
    .await;
    let token = app.demo_token().await;
    crate::pull::submitted_visit(&app, &token).await;
    let area = dir.join("012084").join("certificates");
    crate::delivery::eventually("a manifest in the outbox", || async {
        std::fs::read_dir(&area)
            .ok()?
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("manifest-"))
            .then_some(())
    })
    .await;

    let runs = TempDir::new().unwrap();
    let report = run_files_kit(&dir, &runs.path().join("good")).await;
    assert_every_requirement_met(&report);
    assert_eq!(report.verdict, Verdict::Conformant);

    // Broken: a check digit wrong and a resident twice in the full file; a document's bytes
    // changed after its manifest was written; a temporary file left behind.
    let full = dir.join("full-20261207-0100.csv");
    let text = std::fs::read_to_string(&full).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines[1] = lines[1].replacen(",10000000006,", ",10000000007,", 1);
    let again = lines[5].clone();
    lines.push(again);
    std::fs::write(&full, lines.join("\n") + "\n").unwrap();
    let document = std::fs::read_dir(&area)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            !p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("manifest-")
        })
        .unwrap();
    let bytes = std::fs::read_to_string(&document).unwrap();
    let changed = bytes.replacen("\"submittedAt\":\"20", "\"submittedAt\":\"21", 1);
    assert_ne!(bytes, changed);
    std::fs::write(&document, changed).unwrap();
    std::fs::write(area.join(".leftover.json.tmp"), "{").unwrap();
    let report = run_files_kit(&dir, &runs.path().join("broken")).await;
    let expected: BTreeSet<String> = ["IMP-002", "IMP-003", "OUT-002", "OUT-004"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    assert_eq!(not_met(&report), expected);
    assert_eq!(report.verdict, Verdict::NotConformant);
    // Each problem by file and line.
    let rows = report
        .tests
        .iter()
        .flat_map(|t| &t.checks)
        .find(|c| c.requirement == "link-files@IMP-002" && !c.passed)
        .unwrap();
    assert!(
        rows.actual
            .contains("full-20261207-0100.csv: 2行目 宛名番号"),
        "{}",
        rows.actual
    );
}
storage_test!(link_files_suite_judges_import_files_and_an_outbox);

/// `--only` runs a part of a suite, to work on one failure: the rest omitted, the verdict at
/// best incomplete (exit 3); `events.jsonl` tells the run as it goes and is sealed with the
/// rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_run_is_never_conformant_and_tells_its_events() {
    let sim = core_sim(&["--client-id", "kit", "--client-secret", "core-s3cret"]);
    let dir = TempDir::new().unwrap();
    let inputs = dir.path().join("core.toml");
    std::fs::write(&inputs, format!("token_url = \"{}/token\"\n", sim.url)).unwrap();
    let key = dir.path().join("key.pem");
    assert!(
        madoguchi()
            .args(["conformance", "keygen", "--out"])
            .arg(&key)
            .status()
            .unwrap()
            .success()
    );
    let out = dir.path().join("run");
    let run = madoguchi()
        .args(["conformance", "run", "--suite", "core-http", "--base-url"])
        .arg(format!("{}/applications", sim.url))
        .arg("--inputs")
        .arg(&inputs)
        .args(["--only", "delivery.repeat,auth", "--key"])
        .arg(&key)
        .arg("--out")
        .arg(&out)
        .env("MADOGUCHI_CONFORMANCE_CLIENT_ID", "kit")
        .env("MADOGUCHI_CONFORMANCE_CLIENT_SECRET", "core-s3cret")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(3), "{stderr}");
    let report: Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["verdict"], "incomplete");
    assert_eq!(
        report["only"],
        serde_json::json!(["delivery.repeat", "auth"])
    );
    // `member` of the entry of `list` whose id is `id`.
    let of = |list: &str, id: &str, member: &str| {
        report[list]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == id)
            .unwrap()[member]
            .clone()
    };
    assert_eq!(of("tests", "delivery.repeat", "outcome"), "pass");
    assert_eq!(of("tests", "auth.token", "outcome"), "pass");
    assert_eq!(of("tests", "delivery.accepts", "outcome"), "omit");
    assert_eq!(of("requirements", "core-http@IDEM-001", "status"), "met");
    assert_eq!(
        of("requirements", "core-http@DOC-001", "status"),
        "not_verified"
    );
    // One line as it started, one per test, one at the end.
    let events: Vec<Value> = std::fs::read_to_string(out.join("events.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 10, "{events:?}");
    assert_eq!(events[0]["event"], "started");
    assert_eq!(events[9]["event"], "finished");
    assert_eq!(events[9]["verdict"], "incomplete");
    // Sealed with the rest.
    let verified = madoguchi()
        .args(["conformance", "verify-report"])
        .arg(&out)
        .arg("--key")
        .arg(dir.path().join("key.pem.pub"))
        .output()
        .unwrap();
    assert!(verified.status.success(), "{verified:?}");
    // An unknown test or group cannot start.
    let wrong = madoguchi()
        .args(["conformance", "run", "--suite", "core-http", "--base-url"])
        .arg(format!("{}/applications", sim.url))
        .args(["--only", "nope", "--out"])
        .arg(dir.path().join("wrong"))
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("no such test or group"));
}

/// `madoguchi conformance run --suite SUITE` against a port nothing listens on, into `out`.
fn run_nowhere(suite: &str, out: &Path) -> std::process::Command {
    let mut command = madoguchi();
    command
        .args(["conformance", "run", "--suite", suite])
        .args(["--base-url", "http://127.0.0.1:9", "--out"])
        .arg(out);
    command
}

/// The CLI's exit statuses when a run cannot start: 2 with a sentence that says why.
#[test]
fn a_run_that_cannot_start_exits_2_and_says_why() {
    let dir = TempDir::new().unwrap();
    let no_client = run_nowhere("gateway-api", &dir.path().join("a"))
        .output()
        .unwrap();
    assert_eq!(no_client.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_client.stderr).contains("MADOGUCHI_CONFORMANCE_CLIENT_ID"));
    let unreachable = run_nowhere("gateway-api", &dir.path().join("b"))
        .env("MADOGUCHI_CONFORMANCE_CLIENT_ID", "x")
        .env("MADOGUCHI_CONFORMANCE_CLIENT_SECRET", "y")
        .output()
        .unwrap();
    assert_eq!(unreachable.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&unreachable.stderr);
    assert!(stderr.contains("cannot be reached"), "{stderr}");
    // A core endpoint: unreachable, or a token endpoint without a client.
    let core = run_nowhere("core-http", &dir.path().join("d"))
        .output()
        .unwrap();
    assert_eq!(core.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&core.stderr);
    assert!(
        stderr.contains("core system") && stderr.contains("cannot be reached"),
        "{stderr}"
    );
    let inputs = dir.path().join("core.toml");
    std::fs::write(&inputs, "token_url = \"http://127.0.0.1:9/token\"\n").unwrap();
    let no_client = run_nowhere("core-http", &dir.path().join("e"))
        .arg("--inputs")
        .arg(&inputs)
        .output()
        .unwrap();
    assert_eq!(no_client.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&no_client.stderr);
    assert!(
        stderr.contains("token_url is given but no client"),
        "{stderr}"
    );
    // link-files reads a directory, not a URL; an empty one holds nothing to check.
    let files = run_nowhere("link-files", &dir.path().join("f"))
        .output()
        .unwrap();
    assert_eq!(files.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&files.stderr).contains("takes --dir"));
    let empty = TempDir::new().unwrap();
    let nothing = madoguchi()
        .args(["conformance", "run", "--suite", "link-files", "--dir"])
        .arg(empty.path())
        .arg("--out")
        .arg(dir.path().join("g"))
        .output()
        .unwrap();
    assert_eq!(nothing.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&nothing.stderr);
    assert!(stderr.contains("holds neither import files"), "{stderr}");
    // counter-app judges a capture: a URL or a file that is not HAR cannot start.
    let app = run_nowhere("counter-app", &dir.path().join("h"))
        .output()
        .unwrap();
    assert_eq!(app.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&app.stderr).contains("takes --har"));
    let not_har = dir.path().join("capture.har");
    std::fs::write(&not_har, "{\"log\": {}}").unwrap();
    let bad = madoguchi()
        .args(["conformance", "run", "--suite", "counter-app", "--har"])
        .arg(&not_har)
        .arg("--out")
        .arg(dir.path().join("i"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("not an HTTP Archive"), "{stderr}");
    let unknown = run_nowhere("nope", &dir.path().join("c")).output().unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    let listed = madoguchi()
        .args(["conformance", "requirements", "--json"])
        .output()
        .unwrap();
    assert!(listed.status.success());
    let catalogue: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(catalogue["problems"], serde_json::json!([]));
    let sizes: std::collections::BTreeMap<String, usize> = catalogue["sets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["set"].as_str().unwrap().to_owned(),
                s["requirements"].as_array().unwrap().len(),
            )
        })
        .collect();
    assert!(sizes["gateway-api"] >= 40, "{sizes:?}");
    assert!(sizes["core-http"] >= 10, "{sizes:?}");
}
