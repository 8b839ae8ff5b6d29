//! The second hardening pass: what a misbehaving vendor's client can send to the surfaces
//! built after the first (visits, printouts, webhooks, delivery) must cost it alone.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, problem, spawn_app, spawn_app_with};
use crate::storage_test;
use crate::visits::{VISITS, open_visit, send};

fn member(i: usize) -> Value {
    json!({
        "id": format!("m{i}"),
        "familyName": "山田",
        "givenName": format!("太郎{i}"),
        "relationship": if i == 0 { "世帯主" } else { "子" },
        "dateOfBirth": "1988-04-10",
        "sex": "1",
        "insurance": "nationalHealth"
    })
}

fn move_in(members: usize) -> Value {
    json!({
        "events": [{"kind": "moveIn", "date": "2026-12-01", "facts": {"from": "otherMunicipality", "cardSpecialMoveIn": false}}],
        "members": (0..members).map(member).collect::<Vec<_>>(),
        "applicant": {"member": "m0"}
    })
}

async fn visit_count(app: &crate::helpers::TestApp, token: &str) -> usize {
    let list: Value = send(
        app,
        Method::GET,
        &format!("{VISITS}?limit=100"),
        token,
        None,
    )
    .await
    .json()
    .await
    .expect("json");
    list["items"].as_array().expect("items").len()
}

async fn a_visit_over_its_bounds_is_refused_whole_before_any_work(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.demo_token().await;

    // 6,000 members (the probe's flood) and 31 (one over the bound): 422 at /members.
    for members in [31, 6_000] {
        let body = move_in(members);
        let r = send(&app, Method::POST, VISITS, &token, Some(&body)).await;
        let status = r.status();
        if members == 6_000 {
            // Over the route's 64 KiB body limit before it is even read.
            problem(r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
            continue;
        }
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let p = problem(r, status, "validation_failed").await;
        assert_eq!(p["errors"][0]["pointer"], "/members", "{p}");
        assert_eq!(p["errors"][0]["code"], "too_many", "{p}");
    }
    let mut events = move_in(1);
    events["events"] = Value::Array(vec![events["events"][0].clone(); 11]);
    let r = send(&app, Method::POST, VISITS, &token, Some(&events)).await;
    let p = problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(p["errors"][0]["pointer"], "/events", "{p}");
    assert_eq!(
        visit_count(&app, &token).await,
        0,
        "a refused visit was kept"
    );

    // At the bound it is a visit like any other.
    let id = open_visit(&app, &token, &move_in(30)).await;
    let path = format!("{VISITS}/{id}/answers");
    let many: Vec<Value> = (0..201)
        .map(|_| json!({"fact": "member.hasMyNumberCard", "member": "m0", "value": true}))
        .collect();
    let r = send(
        &app,
        Method::POST,
        &path,
        &token,
        Some(&json!({"answers": many})),
    )
    .await;
    let p = problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(p["errors"][0]["pointer"], "/answers", "{p}");

    // Edits: too many fields at once, and one value too long.
    let drafts: Value = send(
        &app,
        Method::GET,
        &format!("{VISITS}/{id}/drafts"),
        &token,
        None,
    )
    .await
    .json()
    .await
    .expect("json");
    let key = drafts["drafts"][0]["key"]
        .as_str()
        .expect("a draft")
        .to_owned();
    let draft = format!("{VISITS}/{id}/drafts/{key}");
    let set: serde_json::Map<String, Value> =
        (0..201).map(|i| (format!("/x{i}"), json!("a"))).collect();
    let r = send(
        &app,
        Method::PATCH,
        &draft,
        &token,
        Some(&json!({"set": set})),
    )
    .await;
    let p = problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(p["errors"][0]["code"], "too_many", "{p}");
    let long = "あ".repeat(1_000);
    let r = send(
        &app,
        Method::PATCH,
        &draft,
        &token,
        Some(&json!({"set": {"/remarks": long}})),
    )
    .await;
    let p = problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(p["errors"][0]["code"], "value_too_long", "{p}");
    assert_eq!(p["errors"][0]["pointer"], "/set/~1remarks", "{p}");
}
storage_test!(a_visit_over_its_bounds_is_refused_whole_before_any_work);

/// A client that asks for many printouts at once gets its share and 429 for the rest, while
/// another client and `/healthz` are served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn printouts_beyond_a_client_s_share_are_refused_429_and_others_are_served() {
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.http.heavy_work.per_client = 1;
        s.http.heavy_work.slots = 1;
    })
    .await;
    let token = app.demo_token().await;
    let id = open_visit(&app, &token, &move_in(30)).await;
    let path = format!("{VISITS}/{id}/printouts");
    let flood: Vec<_> = (0..6)
        .map(|_| {
            let (app_http, url, token) = (app.http.clone(), app.url(&path), token.clone());
            tokio::spawn(async move {
                app_http
                    .get(url)
                    .bearer_auth(token)
                    .header("Madoguchi-Actor", "clerk-0042")
                    .send()
                    .await
                    .expect("request")
            })
        })
        .collect();
    let health = app
        .http
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), StatusCode::OK);
    let (mut printed, mut busy) = (0, 0);
    for r in flood {
        let r = r.await.expect("joined");
        match r.status() {
            StatusCode::OK => {
                printed += 1;
                let bytes = r.bytes().await.expect("pdf");
                assert!(bytes.starts_with(b"%PDF-"));
            }
            StatusCode::TOO_MANY_REQUESTS => {
                busy += 1;
                let wait: u64 = r.headers()["retry-after"]
                    .to_str()
                    .expect("ascii")
                    .parse()
                    .expect("seconds");
                assert!(wait >= 1);
                problem(r, StatusCode::TOO_MANY_REQUESTS, "busy").await;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(printed >= 1, "no printout at all");
    assert!(busy >= 1, "six at once with a share of one: none refused");
    // Its share is free again once they are done.
    let again = send(&app, Method::GET, &path, &token, None).await;
    assert_eq!(again.status(), StatusCode::OK);
}

/// A write to a municipality the client may not act for is 403 (and audited) whatever its
/// body: malformed, not JSON, or too large.
async fn another_municipality_s_write_is_refused_before_its_body_is_read(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register_municipality("131016", "千代田区").await;
    let kitami = app.demo_token().await;
    let other = "/v1/municipalities/131016/visits";
    let bodies: [(&str, Vec<u8>); 3] = [
        ("application/json", b"{not json".to_vec()),
        ("text/plain", b"hello".to_vec()),
        ("application/json", vec![b' '; 200_000]),
    ];
    for (content_type, body) in bodies {
        for path in [
            other.to_owned(),
            format!("{other}/0190f0f0-0000-7000-8000-000000000000/answers"),
        ] {
            let r = app
                .http
                .post(app.url(&path))
                .bearer_auth(&kitami)
                .header("Madoguchi-Actor", "clerk-0042")
                .header("Content-Type", content_type)
                .body(body.clone())
                .send()
                .await
                .expect("request");
            problem(r, StatusCode::FORBIDDEN, "municipality_forbidden").await;
        }
    }
    // Chiyoda's auditor sees the attempts (counted into one event and its repeats).
    madoguchi::audit::flush_denials(&app.store, std::time::Duration::ZERO)
        .await
        .unwrap();
    let auditor = app.register_client(&["audit:read"], &["131016"]).await;
    let auditor = app.token_for(&auditor.id, &auditor.secret).await;
    let events: Value = app
        .get_json("/v1/municipalities/131016/audit-events", &auditor)
        .await;
    let attempts: u64 = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "municipality.access_denied")
        .map(|e| e["repeatCount"].as_u64().unwrap_or(1))
        .sum();
    assert!(attempts >= 6, "{attempts} of 6 attempts audited: {events}");
}
storage_test!(another_municipality_s_write_is_refused_before_its_body_is_read);

/// A client whose connection is reset after it sent a creating POST retries with the same
/// Idempotency-Key: it gets the first visit (at once or after a short wait), never a second.
async fn a_retry_after_a_reset_connection_never_creates_twice(backend: Backend) {
    use tokio::io::AsyncWriteExt;
    let app = spawn_app(backend).await;
    let token = app.demo_token().await;
    let body = serde_json::to_vec(&move_in(2)).unwrap();
    let address = app.address.trim_start_matches("http://").to_owned();
    let trials = 40;
    let mut ids = std::collections::BTreeSet::new();
    for trial in 0..trials {
        let key = uuid::Uuid::now_v7().to_string();
        let head = format!(
            "POST {VISITS} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nMadoguchi-Actor: clerk-0042\r\nIdempotency-Key: {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(&body).await.unwrap();
        // Hang up hard (RST) at a different moment each time.
        tokio::time::sleep(std::time::Duration::from_millis(trial % 10)).await;
        stream.set_zero_linger().ok();
        drop(stream);
        let id = loop {
            let r = app
                .http
                .post(app.url(VISITS))
                .bearer_auth(&token)
                .header("Madoguchi-Actor", "clerk-0042")
                .header("Idempotency-Key", &key)
                .header("Content-Type", "application/json")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            match r.status() {
                StatusCode::CREATED => {
                    let v: Value = r.json().await.unwrap();
                    break v["id"].as_str().unwrap().to_owned();
                }
                StatusCode::CONFLICT => {
                    let p = problem(r, StatusCode::CONFLICT, "idempotency_in_progress").await;
                    assert!(p["detail"].is_string());
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                other => panic!("trial {trial}: {other}"),
            }
        };
        ids.insert(id);
    }
    assert_eq!(ids.len(), trials as usize);
    assert_eq!(
        visit_count(&app, &token).await,
        trials as usize,
        "a reset and a retry created a visit twice"
    );
}
storage_test!(a_retry_after_a_reset_connection_never_creates_twice);

/// On PostgreSQL without a server key nothing could seal a 個人番号: a session to read one
/// is refused with the reason, rather than the number stored in clear.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_server_key_no_my_number_is_read() {
    let app = spawn_app(Backend::Postgres).await;
    assert!(app.server_key().is_none());
    let client = app
        .register_client(&["card", "mynumber:read", "visits"], &["012084"])
        .await;
    let token = app.token_for(&client.id, &client.secret).await;
    let r = send(
        &app,
        Method::POST,
        "/v1/municipalities/012084/card-sessions",
        &token,
        Some(
            &json!({"deviceId": "0190f0f0-0000-7000-8000-000000000000", "purpose": "readMyNumber"}),
        ),
    )
    .await;
    let p = problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let codes: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"needs_server_key"), "{p}");
}

/// A visit belongs to the counter app that opened it: another vendor's app in the same
/// municipality neither lists, reads, prints nor closes it; and the directory is searched only
/// for an open visit.
async fn a_visit_is_its_own_vendor_s(backend: Backend) {
    let app = spawn_app(backend).await;
    let ours = app.demo_token().await;
    let other = app
        .register_client(&["visits", "residents"], &["012084"])
        .await;
    let theirs = app.token_for(&other.id, &other.secret).await;
    let id = open_visit(&app, &ours, &move_in(1)).await;
    let visit = format!("{VISITS}/{id}");
    for (method, path) in [
        (Method::GET, visit.clone()),
        (Method::GET, format!("{visit}/drafts")),
        (Method::GET, format!("{visit}/receipt")),
        (Method::POST, format!("{visit}/close")),
    ] {
        let r = send(&app, method.clone(), &path, &theirs, None).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{method} {path}");
    }
    assert_eq!(visit_count(&app, &theirs).await, 0);
    assert_eq!(visit_count(&app, &ours).await, 1);
    // Still open for its own app; closed, the directory is no longer searched for it.
    let search = format!("/v1/municipalities/012084/residents?visitId={id}&kana=ヤマダ");
    let r = send(&app, Method::POST, &format!("{visit}/close"), &ours, None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let ours_with_directory = {
        // The opening client needs the residents scope for lookups: register one that has
        // both and open its own visit.
        let both = app
            .register_client(&["visits", "residents"], &["012084"])
            .await;
        app.token_for(&both.id, &both.secret).await
    };
    let mine = open_visit(&app, &ours_with_directory, &move_in(1)).await;
    let open_search = format!("/v1/municipalities/012084/residents?visitId={mine}&kana=ヤマダ");
    let r = send(&app, Method::GET, &open_search, &ours_with_directory, None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = send(
        &app,
        Method::POST,
        &format!("{VISITS}/{mine}/close"),
        &ours_with_directory,
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = send(&app, Method::GET, &open_search, &ours_with_directory, None).await;
    problem(r, StatusCode::CONFLICT, "visit_closed").await;
    // Another app cannot search through someone else's visit either.
    let r = send(&app, Method::GET, &search, &theirs, None).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}
storage_test!(a_visit_is_its_own_vendor_s);
