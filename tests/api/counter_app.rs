//! The `counter-app` suite judging two counter apps from their captured traffic (HAR 1.2): the
//! traffic goes through a proxy in front of our gateway that writes an HTTP Archive and
//! answers the first confirm with 503 and Retry-After, as a gateway under load would. An app
//! that follows the contract meets every requirement; one that sends no Idempotency-Key on a
//! creating POST, retries the confirm with a new key and sends an invalid 和暦 is named for
//! exactly those three.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use madoguchi::conformance::report::{Report, Status, Verdict};
use madoguchi::conformance::runner::{self, Inputs, Quiet, RunOptions};
use madoguchi::conformance::suite;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::helpers::{Backend, TestApp, spawn_app};
use crate::pull::certificate_request;

/// A proxy that keeps every exchange as a HAR entry and answers the first confirm itself.
struct Recorder {
    upstream: String,
    client: reqwest::Client,
    entries: Mutex<Vec<Value>>,
    confirm_refused: Mutex<bool>,
}

fn har_headers(pairs: impl Iterator<Item = (String, String)>) -> Value {
    Value::Array(
        pairs
            .map(|(name, value)| json!({"name": name, "value": value}))
            .collect(),
    )
}

async fn record(req: HttpRequest, body: web::Bytes, rec: web::Data<Arc<Recorder>>) -> HttpResponse {
    let started = chrono::Utc::now();
    let url = format!("{}{}", rec.upstream, req.uri());
    let request_headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let refuse = req.method() == actix_web::http::Method::POST
        && req.path().ends_with("/confirm")
        && !std::mem::replace(&mut *rec.confirm_refused.lock().unwrap(), true);
    let (status, response_headers, response_body) = if refuse {
        let problem = json!({"type": "about:blank", "title": "Service Unavailable", "status": 503,
                             "detail": "busy", "code": "unavailable"});
        (
            503,
            vec![
                (
                    "content-type".to_owned(),
                    "application/problem+json".to_owned(),
                ),
                ("retry-after".to_owned(), "1".to_owned()),
            ],
            problem.to_string().into_bytes(),
        )
    } else {
        let mut headers = reqwest::header::HeaderMap::new();
        for (n, v) in &request_headers {
            if n == "host" || n == "content-length" {
                continue;
            }
            headers.append(
                reqwest::header::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                reqwest::header::HeaderValue::from_str(v).unwrap(),
            );
        }
        let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes()).unwrap();
        let response = rec
            .client
            .request(method, &url)
            .headers(headers)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        (status, headers, response.bytes().await.unwrap().to_vec())
    };
    let elapsed = (chrono::Utc::now() - started).num_milliseconds();
    let media = |headers: &[(String, String)]| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let mut entry = json!({
        "startedDateTime": started.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "time": elapsed,
        "request": {
            "method": req.method().as_str(), "url": url, "httpVersion": "HTTP/1.1",
            "cookies": [], "headers": har_headers(request_headers.clone().into_iter()),
            "queryString": [], "headersSize": -1, "bodySize": body.len(),
        },
        "response": {
            "status": status, "statusText": "", "httpVersion": "HTTP/1.1", "cookies": [],
            "headers": har_headers(response_headers.clone().into_iter()),
            "content": {"size": response_body.len(), "mimeType": media(&response_headers),
                        "text": String::from_utf8_lossy(&response_body)},
            "redirectURL": "", "headersSize": -1, "bodySize": response_body.len(),
        },
        "cache": {},
        "timings": {"send": 0, "wait": elapsed, "receive": 0},
    });
    if !body.is_empty() {
        entry["request"]["postData"] = json!({"mimeType": media(&request_headers),
                                              "text": String::from_utf8_lossy(&body)});
    }
    rec.entries.lock().unwrap().push(entry);
    let mut out = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
    for (n, v) in &response_headers {
        if !matches!(
            n.as_str(),
            "content-length" | "transfer-encoding" | "connection"
        ) {
            out.append_header((n.as_str(), v.as_str()));
        }
    }
    out.body(response_body)
}

/// The recorder in front of `app`; its address and what it keeps.
async fn start_recorder(app: &TestApp) -> (String, Arc<Recorder>) {
    let recorder = Arc::new(Recorder {
        upstream: app.address.clone(),
        client: reqwest::Client::new(),
        entries: Mutex::new(Vec::new()),
        confirm_refused: Mutex::new(false),
    });
    let data = web::Data::new(recorder.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .default_service(web::to(record))
    })
    .workers(2)
    .disable_signals()
    .bind("127.0.0.1:0")
    .unwrap();
    let address = server.addrs()[0];
    tokio::spawn(server.run());
    (format!("http://{address}"), recorder)
}

/// How the app under test behaves.
#[derive(Clone, Copy, PartialEq)]
enum AppUnderTest {
    /// As the contract says.
    Careful,
    /// No key on the visit's creation, a new key on the retried confirm, an invalid 和暦 first.
    Careless,
}

/// A counter app's visit for a 住民票の写し, through `base`.
async fn counter_app(app: &TestApp, base: &str, how: AppUnderTest) {
    let http = reqwest::Client::new();
    let token: Value = http
        .post(format!("{base}/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &app.demo.client_id.to_string()),
            ("client_secret", &app.demo.client_secret),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_owned();
    let visits = format!("{base}/v1/municipalities/012084/visits");
    let send = |method: reqwest::Method, url: String, body: Option<Value>, key: Option<String>| {
        let mut r = http
            .request(method, url)
            .bearer_auth(&token)
            .header("Madoguchi-Actor", "S-0042");
        if let Some(k) = key {
            r = r.header("Idempotency-Key", k);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send()
    };
    let key = || Some(uuid::Uuid::new_v4().to_string());
    let mut visit = certificate_request("田中", "タナカ", "P-1");
    if how == AppUnderTest::Careless {
        let mut wrong = visit.clone();
        wrong["members"][0]["dateOfBirth"] = json!("昭和45年13月1日");
        let r = send(reqwest::Method::POST, visits.clone(), Some(wrong), None)
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 422, "{}", r.text().await.unwrap());
        visit["ticket"] = json!("P-2");
    }
    let r = send(
        reqwest::Method::POST,
        visits.clone(),
        Some(visit),
        if how == AppUnderTest::Careful {
            key()
        } else {
            None
        },
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let edit = json!({"set": {"/purpose": "勤務先提出", "/identityDocument": "運転免許証", "/applicant/relation": "本人", "/applicant/contact/phone": "0157-23-7111"}});
    let r = send(
        reqwest::Method::PATCH,
        format!("{visits}/{id}/drafts/residentRecordCopy@0"),
        Some(edit),
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let confirm_key = key();
    let sign = json!({"method": "attestation"});
    let r = send(
        reqwest::Method::POST,
        format!("{visits}/{id}/confirm"),
        Some(sign.clone()),
        confirm_key.clone(),
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 503);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(wait * 1000 + 100)).await;
    let again = if how == AppUnderTest::Careful {
        confirm_key
    } else {
        key()
    };
    let r = send(
        reqwest::Method::POST,
        format!("{visits}/{id}/confirm"),
        Some(sign),
        again,
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = send(
        reqwest::Method::POST,
        format!("{visits}/{id}/submit"),
        None,
        key(),
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 201);
}

async fn judge(app: &TestApp, how: AppUnderTest) -> Report {
    let (base, recorder) = start_recorder(app).await;
    counter_app(app, &base, how).await;
    let dir = TempDir::new().unwrap();
    let har = dir.path().join("counter-app.har");
    let entries = recorder.entries.lock().unwrap().clone();
    std::fs::write(
        &har,
        json!({"log": {"version": "1.2", "creator": {"name": "madoguchi tests", "version": "1"},
                       "entries": entries}})
        .to_string(),
    )
    .unwrap();
    let options = RunOptions {
        suite: suite("counter-app").unwrap(),
        base_url: reqwest::Url::from_file_path(&har).unwrap(),
        inputs: Inputs::default(),
        out: dir.path().join("run"),
        timeout_scale: 1.0,
        key: None,
        only: Vec::new(),
        recording: None,
    };
    runner::run(options, &Quiet).await.expect("the run starts")
}

fn ids(report: &Report, status: Status) -> BTreeSet<String> {
    report
        .requirements
        .iter()
        .filter(|r| r.status == status)
        .map(|r| r.id.trim_start_matches("counter-app@").to_owned())
        .collect()
}

async fn a_counter_app_is_judged_by_its_captured_traffic(backend: Backend) {
    let app = spawn_app(backend).await;
    let careful = judge(&app, AppUnderTest::Careful).await;
    let tested: BTreeSet<String> = [
        "ACT-001",
        "IDEM-001",
        "IDEM-002",
        "IDEM-003",
        "TOKEN-001",
        "RETRY-001",
        "DOC-001",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    assert_eq!(ids(&careful, Status::Met), tested, "{:#?}", careful.tests);
    assert_eq!(careful.verdict, Verdict::Conformant);

    let careless = judge(&app, AppUnderTest::Careless).await;
    let broken: BTreeSet<String> = ["IDEM-001", "IDEM-002", "DOC-001"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    assert_eq!(
        ids(&careless, Status::NotMet),
        broken,
        "{:#?}",
        careless.tests
    );
    assert_eq!(careless.verdict, Verdict::NotConformant);
    // The finding names the request.
    let retried = careless
        .tests
        .iter()
        .flat_map(|t| &t.checks)
        .find(|c| c.requirement == "counter-app@IDEM-002")
        .unwrap();
    assert!(
        retried.actual.contains("/confirm") && retried.actual.contains("another key"),
        "{}",
        retried.actual
    );
}
crate::storage_test!(a_counter_app_is_judged_by_its_captured_traffic);
