//! Conformance sessions: a vendor opens one, points a counter app at the session's client,
//! the gateway records what the app sends and answers the script's faults, and the report
//! judges it. An app that follows the script meets every requirement it can be judged on;
//! one that sends no Idempotency-Key on the visit's creation, retries with another key and
//! sends an invalid 和暦 is named for exactly those three. The package is verified with the
//! key the gateway publishes, and fails once edited.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use madoguchi::conformance::{package, receiver};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::delivery::allow_loopback;
use crate::helpers::{Backend, TestApp, spawn_app_with};
use crate::pull::certificate_request;

/// A counter app under test.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Conduct {
    /// As the script and the contract say.
    Careful,
    /// No key on the visit's creation, another key (or none) on a retry, an invalid 和暦.
    Careless,
}

struct CounterApp {
    http: reqwest::Client,
    base: String,
    visits: String,
    token: String,
    conduct: Conduct,
}

/// An answer the app acts on: status and body.
struct Answer {
    status: u16,
    body: Value,
}

impl CounterApp {
    async fn start(app: &TestApp, session: &Value, conduct: Conduct) -> Self {
        let http = reqwest::Client::new();
        let token: Value = http
            .post(app.url("/oauth/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", session["clientId"].as_str().unwrap()),
                ("client_secret", session["clientSecret"].as_str().unwrap()),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let lg = session["lgCode"].as_str().unwrap();
        Self {
            http,
            base: app.address.clone(),
            visits: format!("/v1/municipalities/{lg}/visits"),
            token: token["access_token"].as_str().unwrap().to_owned(),
            conduct,
        }
    }

    /// Sends once; `None` when no answer came in `timeout`.
    async fn send_once(
        &self,
        method: &Method,
        path: &str,
        body: Option<&Value>,
        key: Option<&str>,
        timeout: Duration,
    ) -> Option<(Answer, Option<u64>)> {
        let mut r = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("Madoguchi-Actor", "S-0042")
            .timeout(timeout);
        if let Some(k) = key {
            r = r.header("Idempotency-Key", k);
        }
        if let Some(b) = body {
            r = r.json(b);
        }
        match r.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let wait = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok());
                let body = response.json().await.unwrap_or(Value::Null);
                Some((Answer { status, body }, wait))
            }
            Err(e) if e.is_timeout() => None,
            Err(e) => panic!("{method} {path}: {e}"),
        }
    }

    /// Sends, and sends again as the app's conduct says after no answer, 409 in progress,
    /// 429 or 503 (waiting Retry-After).
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        creating: bool,
        timeout: Duration,
    ) -> Answer {
        let new_key = || creating.then(|| uuid::Uuid::new_v4().to_string());
        let mut key = new_key();
        for _ in 0..5 {
            let sent = self
                .send_once(&method, path, body.as_ref(), key.as_deref(), timeout)
                .await;
            let wait = match sent {
                None => 0,
                Some((answer, wait)) => {
                    let again = matches!(answer.status, 429 | 503)
                        || (answer.status == 409
                            && answer.body["code"] == "idempotency_in_progress");
                    if !again {
                        return answer;
                    }
                    wait.unwrap_or(1)
                }
            };
            tokio::time::sleep(Duration::from_secs(wait)).await;
            if self.conduct == Conduct::Careless {
                key = new_key();
            }
        }
        panic!("{path}: no answer after five attempts");
    }

    /// The script, step by step.
    async fn follow_the_script(&self) {
        let quick = Duration::from_secs(30);
        let visit = certificate_request("佐藤", "サトウ", "P-1");
        let id = match self.conduct {
            Conduct::Careful => {
                let r = self
                    .call(Method::POST, &self.visits, Some(visit), true, quick)
                    .await;
                assert_eq!(r.status, 201, "{}", r.body);
                r.body["id"].as_str().unwrap().to_owned()
            }
            Conduct::Careless => {
                // No key; after the 503 the clerk's mistyped 和暦, then the right date.
                let r = self
                    .send_once(&Method::POST, &self.visits, Some(&visit), None, quick)
                    .await
                    .unwrap();
                assert_eq!(r.0.status, 503, "{}", r.0.body);
                tokio::time::sleep(Duration::from_secs(r.1.unwrap())).await;
                let mut wrong = visit.clone();
                wrong["members"][0]["dateOfBirth"] = json!("昭和45年13月1日");
                let r = self
                    .send_once(&Method::POST, &self.visits, Some(&wrong), None, quick)
                    .await
                    .unwrap();
                assert_eq!(r.0.status, 422, "{}", r.0.body);
                let r = self
                    .send_once(&Method::POST, &self.visits, Some(&visit), None, quick)
                    .await
                    .unwrap();
                assert_eq!(r.0.status, 201, "{}", r.0.body);
                r.0.body["id"].as_str().unwrap().to_owned()
            }
        };
        let at = |p: &str| format!("{}/{id}/{p}", self.visits);
        let lg = self.visits.split('/').nth(3).unwrap().to_owned();
        let found = self
            .call(
                Method::GET,
                &format!("/v1/municipalities/{lg}/residents?visitId={id}&kana=サトウ"),
                None,
                false,
                quick,
            )
            .await;
        assert_eq!(found.status, 200, "{}", found.body);
        assert!(
            !found.body["items"].as_array().unwrap().is_empty(),
            "the sandbox's synthetic directory holds サトウ: {}",
            found.body
        );
        let drafts = self
            .call(Method::GET, &at("drafts"), None, false, quick)
            .await;
        assert_eq!(drafts.status, 200, "{}", drafts.body);
        let draft = at("drafts/residentRecordCopy@0");
        let mut edit = json!({"set": {"/purpose": "勤務先提出", "/identityDocument": "運転免許証", "/applicant/relation": "本人", "/applicant/contact/phone": "0157-23-7111"}});
        let refused = self
            .call(Method::PATCH, &draft, Some(edit.clone()), false, quick)
            .await;
        assert_eq!(refused.status, 422, "{}", refused.body);
        assert_eq!(refused.body["errors"][0]["pointer"], "/set/~1purpose");
        // The clerk corrects what the error points at.
        edit["set"]["/purpose"] = json!("金融機関");
        let edited = self
            .call(Method::PATCH, &draft, Some(edit), false, quick)
            .await;
        assert_eq!(edited.status, 200, "{}", edited.body);
        // The confirm's answer is held back longer than the app waits.
        let confirmed = self
            .call(
                Method::POST,
                &at("confirm"),
                Some(json!({"method": "attestation"})),
                true,
                Duration::from_secs(2),
            )
            .await;
        assert!(
            confirmed.status == 200 || confirmed.status == 409,
            "{} {}",
            confirmed.status,
            confirmed.body
        );
        let submitted = self
            .call(Method::POST, &at("submit"), None, true, quick)
            .await;
        assert_eq!(submitted.status, 201, "{}", submitted.body);
        let applications = self
            .call(Method::GET, &at("applications"), None, false, quick)
            .await;
        assert_eq!(applications.status, 200, "{}", applications.body);
        self.test_the_receiver(&Receiver::start(Receiving::Verifying).await)
            .await;
    }

    /// The script's webhook step: the receiver registered, then two test messages (the
    /// first forged by the session).
    async fn test_the_receiver(&self, receiver: &Receiver) {
        let hooks = self.visits.replace("/visits", "/webhooks");
        let quick = Duration::from_secs(30);
        let registered = self
            .call(
                Method::POST,
                &hooks,
                Some(json!({"url": receiver.url})),
                true,
                quick,
            )
            .await;
        assert_eq!(registered.status, 201, "{}", registered.body);
        *receiver.secret.lock().unwrap() = registered.body["secret"].as_str().map(str::to_owned);
        let test = format!(
            "{hooks}/{}/test",
            registered.body["webhookId"].as_str().unwrap()
        );
        for _ in 0..2 {
            let sent = self.call(Method::POST, &test, None, false, quick).await;
            assert_eq!(sent.status, 200, "{}", sent.body);
        }
    }
}

/// How the app's webhook receiver treats what it gets.
#[derive(Clone, Copy, PartialEq)]
enum Receiving {
    /// Checks `webhook-signature` with its secret (401 when it does not verify).
    Verifying,
    /// Takes everything.
    Trusting,
}

/// The app's webhook receiver on loopback.
struct Receiver {
    url: String,
    secret: Arc<Mutex<Option<String>>>,
}

impl Receiver {
    async fn start(how: Receiving) -> Self {
        use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
        let secret: Arc<Mutex<Option<String>>> = Arc::default();
        let known = secret.clone();
        let server = HttpServer::new(move || {
            let known = known.clone();
            App::new().route(
                "/hooks",
                web::post().to(move |req: HttpRequest, body: web::Bytes| {
                    let known = known.clone();
                    async move {
                        let header = |n: &str| {
                            req.headers()
                                .get(n)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or_default()
                                .to_owned()
                        };
                        let secret = known.lock().unwrap().clone().unwrap_or_default();
                        let verifies = receiver::signature_verifies(
                            &secret,
                            &header("webhook-id"),
                            &header("webhook-timestamp"),
                            &body,
                            &header("webhook-signature"),
                        );
                        if how == Receiving::Verifying && !verifies {
                            HttpResponse::Unauthorized().finish()
                        } else {
                            HttpResponse::NoContent().finish()
                        }
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
        Self {
            url: format!("http://{address}/hooks"),
            secret,
        }
    }
}

fn ids(report: &Value, status: &str) -> BTreeSet<String> {
    report["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == status)
        .map(|r| {
            r["id"]
                .as_str()
                .unwrap()
                .trim_start_matches("counter-app@")
                .to_owned()
        })
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

async fn open_session(app: &TestApp, vendor: &str) -> Value {
    let r = app
        .http
        .post(app.url("/v1/conformance/sessions"))
        .bearer_auth(vendor)
        .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
        .json(&json!({"product": "テスト窓口アプリ 1.0", "slowAnswerSeconds": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json().await.unwrap()
}

async fn report(app: &TestApp, vendor: &str, session: &Value, format: &str) -> reqwest::Response {
    let id = session["id"].as_str().unwrap();
    let r = app
        .get(
            &format!("/v1/conformance/sessions/{id}/report?format={format}"),
            vendor,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{format}");
    r
}

/// The session once `n` requests are recorded: the one forbidden above and the script's.
async fn recorded(app: &TestApp, vendor: &str, id: &str, n: u64) -> Value {
    for _ in 0..100 {
        let seen: Value = app
            .get(&format!("/v1/conformance/sessions/{id}"), vendor)
            .await
            .json()
            .await
            .unwrap();
        if seen["requests"].as_u64().unwrap() >= n {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{n} requests were not recorded in 10 s");
}

async fn a_counter_app_is_judged_in_a_conformance_session(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        allow_loopback(s);
        s.conformance.max_open_per_client = 3;
    })
    .await;
    let vendor = app.register_client(&["conformance"], &[]).await;
    let vendor = app.token_for(&vendor.id, &vendor.secret).await;
    // Without the scope, no session.
    let r = app
        .http
        .post(app.url("/v1/conformance/sessions"))
        .bearer_auth(app.demo_token().await)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = app
        .http
        .post(app.url("/v1/conformance/sessions"))
        .bearer_auth(&vendor)
        .json(&json!({"slowAnswerSeconds": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let session = open_session(&app, &vendor).await;
    let lg = session["lgCode"].as_str().unwrap();
    assert!(lg.starts_with("474"), "a sandbox code: {lg}");
    assert_eq!(session["state"], "open");
    assert_eq!(session["steps"].as_array().unwrap().len(), 9);
    assert_eq!(session["steps"][1]["fault"]["status"], 503);

    // The session's client acts for its sandbox alone.
    let careful = CounterApp::start(&app, &session, Conduct::Careful).await;
    let (other_town, _) = careful
        .send_once(
            &Method::GET,
            "/v1/municipalities/012084/visits",
            None,
            None,
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    assert_eq!(other_town.status, 403, "{}", other_town.body);
    careful.follow_the_script().await;

    let id = session["id"].as_str().unwrap();
    // The held-back confirm is recorded when its answer is released (at most 5 s on).
    let seen = recorded(&app, &vendor, id, 17).await;
    let undone: Vec<&Value> = seen["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["done"] != true || (s["fault"].is_object() && s["faultServed"] != true))
        .collect();
    assert!(undone.is_empty(), "{undone:?}");

    let judged: Value = report(&app, &vendor, &session, "json")
        .await
        .json()
        .await
        .unwrap();
    let tested = set(&[
        "ACT-001",
        "IDEM-001",
        "IDEM-002",
        "IDEM-003",
        "TOKEN-001",
        "RETRY-001",
        "DOC-001",
        "ERR-002",
        "HOOK-001",
    ]);
    assert_eq!(ids(&judged, "met"), tested, "{:#}", judged["tests"]);
    assert_eq!(judged["verdict"], "conformant");
    assert_eq!(judged["sut"]["lgCode"], lg);

    // The package, verified with the key the gateway publishes; an edit breaks it.
    let tar = report(&app, &vendor, &session, "package")
        .await
        .bytes()
        .await
        .unwrap();
    let dir = TempDir::new().unwrap();
    tar::Archive::new(tar.as_ref()).unpack(dir.path()).unwrap();
    let key: Value = app
        .get("/v1/conformance/signing-key", &vendor)
        .await
        .json()
        .await
        .unwrap();
    let pem = key["publicKeyPem"].as_str().unwrap().as_bytes().to_vec();
    let verified = package::verify(dir.path(), &pem).expect("the package verifies");
    assert!(verified.manifest.signed);
    let path = dir.path().join("report.json");
    let edited = std::fs::read_to_string(&path)
        .unwrap()
        .replace("\"met\"", "\"not_met\"");
    std::fs::write(&path, edited).unwrap();
    assert!(package::verify(dir.path(), &pem).is_err());
    let junit = report(&app, &vendor, &session, "junit")
        .await
        .text()
        .await
        .unwrap();
    assert!(junit.contains("<testsuites"), "{junit}");
    let html = report(&app, &vendor, &session, "html").await;
    assert!(
        html.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );

    // Another vendor sees nothing of it.
    let other = app.register_client(&["conformance"], &[]).await;
    let other = app.token_for(&other.id, &other.secret).await;
    let r = app
        .get(&format!("/v1/conformance/sessions/{id}"), &other)
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // A careless app, in a session (and a sandbox) of its own.
    let second = open_session(&app, &vendor).await;
    assert_ne!(second["lgCode"], session["lgCode"]);
    let careless = CounterApp::start(&app, &second, Conduct::Careless).await;
    careless.follow_the_script().await;
    // Token, three visit attempts, and the rest of the script as above.
    recorded(&app, &vendor, second["id"].as_str().unwrap(), 17).await;
    let judged: Value = report(&app, &vendor, &second, "json")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        ids(&judged, "not_met"),
        set(&["IDEM-001", "IDEM-002", "DOC-001"]),
        "{:#}",
        judged["tests"]
    );
    assert_eq!(judged["verdict"], "not_conformant");
    // Both retries are named: after the 503 (no key at all) and after the confirm's answer
    // was held back longer than the app waited (another key).
    let retries = judged["tests"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["checks"].as_array().unwrap())
        .find(|c| c["requirement"] == "counter-app@IDEM-002")
        .unwrap()["actual"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        retries.contains("/confirm → no answer") && retries.contains("/visits → 503"),
        "{retries}"
    );

    // A receiver that takes a forged message is named for it.
    let third = open_session(&app, &vendor).await;
    let trusting = CounterApp::start(&app, &third, Conduct::Careful).await;
    trusting
        .test_the_receiver(&Receiver::start(Receiving::Trusting).await)
        .await;
    let judged: Value = report(&app, &vendor, &third, "json")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        ids(&judged, "not_met"),
        set(&["HOOK-001"]),
        "{:#}",
        judged["tests"]
    );

    // Three open: as many as this client may.
    let r = app
        .http
        .post(app.url("/v1/conformance/sessions"))
        .bearer_auth(&vendor)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(
        r.text().await.unwrap().contains("close"),
        "the answer says what to do"
    );

    // Closed: the session's client gets no more tokens; the report stays.
    let second_id = second["id"].as_str().unwrap();
    let r = app
        .http
        .post(app.url(&format!("/v1/conformance/sessions/{second_id}/close")))
        .bearer_auth(&vendor)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["state"], "closed");
    let r = app
        .request_token(
            second["clientId"].as_str().unwrap(),
            second["clientSecret"].as_str().unwrap(),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    report(&app, &vendor, &second, "json").await;
    // One closed: another may be opened.
    open_session(&app, &vendor).await;
}
crate::storage_test!(a_counter_app_is_judged_in_a_conformance_session);

async fn a_session_past_its_time_is_closed_and_its_client_revoked(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.conformance.session_hours = 0).await;
    let vendor = app.register_client(&["conformance"], &[]).await;
    let vendor = app.token_for(&vendor.id, &vendor.secret).await;
    let session = open_session(&app, &vendor).await;
    assert_eq!(session["state"], "expired");
    // What the maintenance job does every five minutes.
    let closed =
        madoguchi::conformance_sessions::service::close_expired(&app.store, chrono::Utc::now())
            .await
            .unwrap();
    assert_eq!(closed, 1);
    let id = session["id"].as_str().unwrap();
    let seen: Value = app
        .get(&format!("/v1/conformance/sessions/{id}"), &vendor)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(seen["state"], "closed");
    let r = app
        .request_token(
            session["clientId"].as_str().unwrap(),
            session["clientSecret"].as_str().unwrap(),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}
crate::storage_test!(a_session_past_its_time_is_closed_and_its_client_revoked);
