//! Health, readiness, metrics, request ids, the OpenAPI contract and Swagger UI.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Backend, madoguchi, spawn_app, spawn_app_with};
use crate::storage_test;

async fn health_and_readiness(backend: Backend) {
    let app = spawn_app(backend).await;
    let health = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let ready: Value = app.get_public_json("/readyz").await;
    let expected = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgresql",
    };
    assert_eq!(
        ready,
        serde_json::json!({"status": "ok", "database": expected})
    );
}
storage_test!(health_and_readiness);

/// A replica whose database is behind the code is alive but not ready.
async fn pending_migrations_make_the_gateway_unready(backend: Backend) {
    use sea_orm::ConnectionTrait;
    let app = spawn_app(backend).await;
    app.store
        .connection()
        .execute_unprepared("DELETE FROM seaql_migrations")
        .await
        .unwrap();
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.headers()["retry-after"], "5");
    let body = crate::helpers::problem(
        ready,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    )
    .await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("m20261122_000001_foundation")
    );
    let alive = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(alive.status(), StatusCode::OK);
}
storage_test!(pending_migrations_make_the_gateway_unready);

async fn metrics_count_requests_by_route_and_status(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.demo_token().await;
    for _ in 0..3 {
        app.get("/v1/municipalities/012084", &token).await;
    }
    app.get("/v1/municipalities/131016", &token).await;
    let text = app.get_public_text("/metrics").await;
    let line = |needle: &str| {
        text.lines()
            .find(|l| l.starts_with(needle))
            .unwrap_or_else(|| panic!("no {needle} in\n{text}"))
            .to_owned()
    };
    let ok = line(
        "madoguchi_http_requests_total{endpoint=\"/v1/municipalities/{lgCode}\",method=\"GET\",status=\"200\"}",
    );
    assert!(ok.ends_with(" 3"), "{ok}");
    let denied = line(
        "madoguchi_http_requests_total{endpoint=\"/v1/municipalities/{lgCode}\",method=\"GET\",status=\"403\"}",
    );
    assert!(denied.ends_with(" 1"), "{denied}");
    line(
        "madoguchi_http_requests_duration_seconds_bucket{endpoint=\"/v1/municipalities/{lgCode}\",method=\"GET\",status=\"200\",le=\"0.005\"}",
    );
    line(
        "madoguchi_http_requests_duration_seconds_count{endpoint=\"/oauth/token\",method=\"POST\",status=\"200\"}",
    );
    assert!(
        !text.contains("/v1/municipalities/012084"),
        "label values are route templates, not paths"
    );
}
storage_test!(metrics_count_requests_by_route_and_status);

async fn every_response_carries_a_request_id(backend: Backend) {
    let app = spawn_app(backend).await;
    let generated = app.http.get(app.url("/healthz")).send().await.unwrap();
    let id = generated.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");

    let given = app
        .http
        .get(app.url("/nowhere"))
        .header("x-request-id", "lb-7f3a:0001")
        .send()
        .await
        .unwrap();
    assert_eq!(given.headers()["x-request-id"], "lb-7f3a:0001");
    let body: Value = given.json().await.unwrap();
    assert_eq!(body["requestId"], "lb-7f3a:0001");

    let unsafe_id = app
        .http
        .get(app.url("/healthz"))
        .header("x-request-id", "a b<script>")
        .send()
        .await
        .unwrap();
    let replaced = unsafe_id.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(replaced).is_ok(), "{replaced}");
}
storage_test!(every_response_carries_a_request_id);

/// `openapi/openapi.json` is the contract vendors generate clients from: it must be what the
/// code serves. Regenerate with `cargo run -- openapi > openapi/openapi.json`.
#[test]
fn the_committed_openapi_document_is_current() {
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))
            .expect("openapi/openapi.json exists");
    let current = crate::helpers::built_in_contract();
    assert!(
        committed == current,
        "openapi/openapi.json is stale: run `cargo run -- openapi > openapi/openapi.json` and commit it"
    );
    let printed = madoguchi().arg("openapi").output().unwrap();
    assert!(printed.status.success());
    assert_eq!(String::from_utf8(printed.stdout).unwrap(), current);
}

async fn the_served_document_and_swagger_ui(backend: Backend) {
    let app = spawn_app(backend).await;
    let served: Value = app.get_public_json("/openapi.json").await;
    let current: Value = serde_json::from_str(&crate::helpers::built_in_contract()).unwrap();
    assert_eq!(served, current);
    assert!(served["openapi"].as_str().unwrap().starts_with("3."));
    assert!(served["components"]["securitySchemes"]["oauth2"]["flows"]["clientCredentials"]
        ["scopes"]["admin"]
        .is_string());

    let redirect = app.http.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(redirect.status(), StatusCode::PERMANENT_REDIRECT);
    let ui = app.http.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(ui.status(), StatusCode::OK);
    let html = ui.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    let init = app.get_public_text("/docs/swagger-initializer.js").await;
    assert!(init.contains("/openapi.json"), "{init}");
    assert!(
        !html.contains("unpkg.com") && !html.contains("cdn."),
        "no CDN on closed networks"
    );
}
storage_test!(the_served_document_and_swagger_ui);

/// Every `$ref` resolves, and each list has its own page schema (a generic page type once
/// made every list look like a list of clients).
#[test]
fn the_openapi_document_is_self_contained() {
    fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    out.push(r);
                }
                map.values().for_each(|v| refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let doc: Value = serde_json::from_str(&crate::helpers::built_in_contract()).unwrap();
    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(!found.is_empty());
    for r in found {
        assert!(r.starts_with("#/components/"), "{r} is not local");
        assert!(
            doc.pointer(r.trim_start_matches('#')).is_some(),
            "{r} does not resolve"
        );
    }
    let item_of = |path: &str| {
        let page =
            doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
                ["$ref"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_owned();
        doc["components"]["schemas"][&page]["properties"]["items"]["items"]["$ref"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        item_of("/v1/municipalities"),
        "#/components/schemas/Municipality"
    );
    assert_eq!(item_of("/v1/admin/clients"), "#/components/schemas/Client");
    assert_eq!(
        item_of("/v1/municipalities/{lgCode}/audit-events"),
        "#/components/schemas/AuditEvent"
    );
}

/// A value built from the document's examples alone: an object's properties from their own
/// examples (following `$ref`s), or the schema's `example` / first of `examples`.
fn example_value(doc: &Value, schema: &Value) -> Option<Value> {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let target = doc.pointer(reference.trim_start_matches('#'))?;
        return example_value(doc, target);
    }
    if let Some(example) = schema
        .get("example")
        .or_else(|| schema.pointer("/examples/0"))
    {
        return Some(example.clone());
    }
    let properties = schema.get("properties")?.as_object()?;
    let mut object = serde_json::Map::new();
    for (name, property) in properties {
        if let Some(value) = example_value(doc, property) {
            object.insert(name.clone(), value);
        }
    }
    Some(Value::Object(object))
}

/// Every operation of the document, called with its documented examples only, answers its
/// documented success: no example leads a vendor (or Swagger UI's "Try it out") astray.
/// Only what no example can hold is filled in: credentials, a client id to look up, and a new
/// Idempotency-Key per request (as the document asks).
async fn every_documented_example_works(backend: Backend) {
    // Certificates go to a core system that is never there, and die at the first attempt:
    // a dead delivery to replay.
    let app = spawn_app_with(backend, |s| {
        s.link.delivery.poll_interval_ms = 50;
        s.link.delivery.max_attempts = 1;
        s.link.webhooks.allow_networks = vec!["127.0.0.0/8".parse().unwrap()];
        s.link.connectors = vec![madoguchi::config::ConnectorSettings {
            url: Some("http://127.0.0.1:9/applications".to_owned()),
            timeout_seconds: 1,
            ..madoguchi::config::ConnectorSettings::new(
                "certificates",
                madoguchi::config::ConnectorKind::Http,
            )
        }];
    })
    .await;
    let everything = app
        .register_client(
            &[
                "admin",
                "forms",
                "municipalities:read",
                "municipalities:write",
                "audit:read",
                "visits",
                "card",
                "mynumber:read",
                "residents",
                "link",
                "conformance",
            ],
            &["012084"],
        )
        .await;
    let token = app.token_for(&everything.id, &everything.secret).await;
    // A counter PC enrolled (card sessions need one), and one waiting with its code (for the
    // enrolment route, whose example code cannot be a live one).
    let register_pc = || async {
        let created: Value = app
            .http
            .post(app.url("/v1/admin/devices"))
            .bearer_auth(&token)
            .json(&serde_json::json!({"lgCode": "012084", "counterName": "窓口"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (
            created["deviceId"].as_str().unwrap().to_owned(),
            created["enrolmentCode"].as_str().unwrap().to_owned(),
        )
    };
    let enrol_body = |code: &str| {
        use base64::Engine;
        use rcgen::PublicKeyData;
        let key = rcgen::KeyPair::generate().unwrap();
        serde_json::json!({
            "enrolmentCode": code,
            "publicKey": base64::engine::general_purpose::STANDARD.encode(key.subject_public_key_info()),
        })
    };
    let (known_device, code) = register_pc().await;
    let enrolled = app
        .http
        .post(app.url("/v1/devices/enrol"))
        .json(&enrol_body(&code))
        .send()
        .await
        .unwrap();
    assert_eq!(enrolled.status(), StatusCode::CREATED);
    let (_, waiting_code) = register_pc().await;
    let known_card_session: Value = app
        .http
        .post(app.url("/v1/municipalities/012084/card-sessions"))
        .bearer_auth(&token)
        .header("Madoguchi-Actor", "clerk-0042")
        .json(&serde_json::json!({"deviceId": known_device, "purpose": "readBasicInfo"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let known_card_session = known_card_session["cardSessionId"]
        .as_str()
        .unwrap()
        .to_owned();
    // Verified as a bridge would leave it (no bridge runs here), for the route that takes a
    // verified session's facts into a visit.
    let waiting = app
        .store
        .card_session(
            known_card_session.parse().unwrap(),
            app.server_key().as_ref(),
            app.settings.card.result_keep(),
        )
        .await
        .unwrap()
        .unwrap();
    let verified = madoguchi::card::session::Verified {
        basic_info: Some(madoguchi::card::session::StoredBasicInfo {
            name: "山田　花子".into(),
            address: "北海道北見市北５条東２丁目１０番地".into(),
            date_of_birth: "19800217".into(),
            sex: "2".into(),
        }),
        // The card face's images too, for the route that serves them.
        card_face: Some(madoguchi::card::session::FaceFacts {
            date_of_birth: "19800217".into(),
            sex: "2".into(),
            images: Some(madoguchi::card::session::StoredImages {
                name: b"\x89PNG\r\n\x1a\nname".to_vec(),
                address: b"\x89PNG\r\n\x1a\naddress".to_vec(),
                photo: b"\x00\x00\x00\x0cjP  photo".to_vec(),
            }),
        }),
        challenge_passed: true,
        ..Default::default()
    };
    app.store
        .finish_card_session(&waiting, &Ok(verified), app.server_key().as_ref())
        .await
        .unwrap();
    let known_client = app.demo.client_id.to_string();
    // A resident directory for the lookups' examples (household 10000000, 山田　花子 …), and
    // the job that loaded it.
    let known_job = {
        let mut csv = Vec::new();
        madoguchi::link::sample::write_full(&mut csv, "012084", 12).unwrap();
        let sent = app
            .http
            .post(app.url("/v1/admin/resident-imports?lgCode=012084&kind=full"))
            .bearer_auth(&token)
            .header("Content-Type", "text/csv")
            .body(csv)
            .send()
            .await
            .unwrap();
        assert_eq!(sent.status(), StatusCode::ACCEPTED);
        let job: Value = sent.json().await.unwrap();
        let id = job["jobId"].as_str().unwrap().to_owned();
        for _ in 0..100 {
            let now = app
                .get_json(&format!("/v1/admin/resident-imports/{id}"), &token)
                .await;
            if now["state"] != "running" {
                assert_eq!(now["state"], "applied", "{now}");
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        id
    };
    // A visit to look up, opened from the documented example of a new visit.
    let doc: Value = app.get_public_json("/openapi.json").await;
    let new_visit = doc
        .pointer("/components/schemas/NewVisit/example")
        .cloned()
        .expect("NewVisit has an example");
    let known_visit: Value = app
        .http
        .post(app.url("/v1/municipalities/012084/visits"))
        .bearer_auth(&token)
        .header("Madoguchi-Actor", "clerk-0042")
        .json(&new_visit)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let known_visit = known_visit["id"].as_str().unwrap().to_owned();
    // A visit ready to be confirmed and submitted (no question open, its one draft complete):
    // a state no example of the confirm and submit routes can hold.
    let ready: Value = app
        .http
        .post(app.url("/v1/municipalities/012084/visits"))
        .bearer_auth(&token)
        .header("Madoguchi-Actor", "clerk-0042")
        .json(&serde_json::json!({
            "events": [{"kind": "certificateRequest", "date": "2026-12-03", "facts": {"certificates": ["residentRecordCopy"]}}],
            "members": [{"id": "m1", "familyName": "田中", "givenName": "修", "familyNameKana": "タナカ", "givenNameKana": "オサム", "dateOfBirth": "1970-01-01", "sex": "1"}],
            "applicant": {"member": "m1"}
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ready_visit = ready["id"].as_str().unwrap().to_owned();
    let completed = app
        .http
        .patch(app.url(&format!("/v1/municipalities/012084/visits/{ready_visit}/drafts/residentRecordCopy@0")))
        .bearer_auth(&token)
        .header("Madoguchi-Actor", "clerk-0042")
        .json(&serde_json::json!({"set": {"/purpose": "勤務先提出", "/identityDocument": "運転免許証", "/applicant/relation": "本人", "/applicant/contact/phone": "0157-23-7111"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(completed.status(), StatusCode::OK);
    // An application submitted already, for the core system's answer.
    let known_application = {
        let send = |method: reqwest::Method, path: String, body: Option<Value>| {
            let mut request = app
                .http
                .request(method, app.url(&path))
                .bearer_auth(&token)
                .header("Madoguchi-Actor", "clerk-0042");
            if let Some(body) = body {
                request = request.json(&body);
            }
            request.send()
        };
        let visits = "/v1/municipalities/012084/visits";
        let visit: Value = send(
            reqwest::Method::POST,
            visits.to_owned(),
            Some(serde_json::json!({
                "events": [{"kind": "certificateRequest", "date": "2026-12-03", "facts": {"certificates": ["residentRecordCopy"]}}],
                "members": [{"id": "m1", "familyName": "田中", "givenName": "修", "familyNameKana": "タナカ", "givenNameKana": "オサム", "dateOfBirth": "1970-01-01", "sex": "1"}],
                "applicant": {"member": "m1"}
            })),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        let id = visit["id"].as_str().unwrap();
        send(
            reqwest::Method::PATCH,
            format!("{visits}/{id}/drafts/residentRecordCopy@0"),
            Some(serde_json::json!({"set": {"/purpose": "勤務先提出", "/identityDocument": "運転免許証", "/applicant/relation": "本人", "/applicant/contact/phone": "0157-23-7111"}})),
        )
        .await
        .unwrap();
        send(
            reqwest::Method::POST,
            format!("{visits}/{id}/confirm"),
            Some(serde_json::json!({"method": "attestation"})),
        )
        .await
        .unwrap();
        let submitted: Value = send(reqwest::Method::POST, format!("{visits}/{id}/submit"), None)
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        submitted["items"][0]["id"].as_str().unwrap().to_owned()
    };
    let known_delivery = loop {
        let dead: Value = app
            .get_json("/v1/admin/deliveries?state=dead", &token)
            .await;
        if let Some(id) = dead["items"][0]["deliveryId"].as_str() {
            break id.to_owned();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let known_webhook: Value = app
        .http
        .post(app.url("/v1/municipalities/012084/webhooks"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"url": "http://127.0.0.1:9/hooks"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let known_webhook = known_webhook["webhookId"].as_str().unwrap().to_owned();
    // One message of that endpoint, gone to the dead letter, for the resend example.
    let known_message = uuid::Uuid::now_v7().to_string();
    {
        use madoguchi::store::entities::delivery;
        use sea_orm::{ActiveValue::Set, EntityTrait};
        let now = chrono::Utc::now();
        delivery::Entity::insert(delivery::ActiveModel {
            id: Set(known_message.clone()),
            application_id: Set(known_application.clone()),
            lg_code: Set("012084".to_owned()),
            area: Set("certificates".to_owned()),
            connector: Set("webhook".to_owned()),
            line: Set(format!("webhook/{known_webhook}/{known_application}")),
            state: Set("dead".to_owned()),
            attempts: Set(8),
            next_attempt_at: Set(now),
            lease_owner: Set(None),
            lease_until: Set(None),
            last_error: Set(Some("HTTP 500 from the webhook endpoint".to_owned())),
            created_at: Set(now),
            updated_at: Set(now),
            delivered_at: Set(None),
            endpoint_id: Set(Some(known_webhook.clone())),
            payload: Set(Some(
                serde_json::json!({"type": "application.updated", "data": {}}).to_string(),
            )),
        })
        .exec(app.store.connection())
        .await
        .unwrap();
    }
    // A conformance session (its sandbox municipality and client).
    let known_session = {
        let opened: Value = app
            .http
            .post(app.url("/v1/conformance/sessions"))
            .bearer_auth(&token)
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        opened["id"].as_str().unwrap().to_owned()
    };
    let mut calls = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            calls.push((path.clone(), method.clone(), operation.clone()));
        }
    }
    // Revoking and removing last: the client or endpoint looked up must still be there for
    // the rest.
    calls.sort_by_key(|(path, method, _)| {
        (
            path.ends_with("/revoke") || path.ends_with("/close") || method == "delete",
            path.ends_with("/submit"),
        )
    });
    let mut checked = 0;
    for (path, method, operation) in calls {
        let mut url = path.clone();
        let mut query = Vec::new();
        let mut headers = Vec::new();
        for param in operation["parameters"].as_array().into_iter().flatten() {
            let param = match param.get("$ref").and_then(Value::as_str) {
                Some(r) => doc.pointer(r.trim_start_matches('#')).unwrap().clone(),
                None => param.clone(),
            };
            let name = param["name"].as_str().unwrap();
            let example = param
                .get("example")
                .and_then(Value::as_str)
                .map(str::to_owned);
            match (param["in"].as_str().unwrap(), name) {
                ("path", "clientId") => url = url.replace("{clientId}", &known_client),
                ("path", "deviceId") => url = url.replace("{deviceId}", &known_device),
                ("path", "jobId") => url = url.replace("{jobId}", &known_job),
                ("path", "deliveryId") => url = url.replace("{deliveryId}", &known_delivery),
                ("path", "webhookId") => url = url.replace("{webhookId}", &known_webhook),
                ("path", "messageId") => url = url.replace("{messageId}", &known_message),
                ("path", "applicationId") => {
                    url = url.replace("{applicationId}", &known_application)
                }
                ("query", "visitId") => query.push((name.to_owned(), known_visit.clone())),
                ("path", "cardSessionId") => {
                    url = url.replace("{cardSessionId}", &known_card_session)
                }
                ("path", "visitId") if path.ends_with("/confirm") || path.ends_with("/submit") => {
                    url = url.replace("{visitId}", &ready_visit)
                }
                ("path", "visitId") => url = url.replace("{visitId}", &known_visit),
                ("path", "sessionId") => url = url.replace("{sessionId}", &known_session),
                ("path", _) => {
                    let value = example.unwrap_or_else(|| panic!("{path}: no example for {name}"));
                    url = url.replace(&format!("{{{name}}}"), &value);
                }
                ("header", "Idempotency-Key") => {
                    headers.push((name.to_owned(), uuid::Uuid::new_v4().to_string()))
                }
                ("header", _) => headers.extend(example.map(|e| (name.to_owned(), e))),
                ("query", _) => query.extend(example.map(|e| (name.to_owned(), e))),
                _ => {}
            }
        }
        let mut request = app
            .http
            .request(method.to_uppercase().parse().unwrap(), app.url(&url))
            .query(&query);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let security = operation["security"].to_string();
        if security.contains("oauth2") {
            request = request.bearer_auth(&token);
        } else if security.contains("basic") {
            request = request.basic_auth(app.demo.client_id, Some(&app.demo.client_secret));
        }
        let content = &operation["requestBody"]["content"];
        if let Some(json) = content.get("application/json") {
            let body = json
                .get("example")
                .cloned()
                .or_else(|| example_value(&doc, &json["schema"]))
                .unwrap_or_else(|| panic!("{method} {path}: no example body"));
            // What no example can hold: a live enrolment code, an enrolled counter PC.
            let body = match (path.as_str(), method.as_str()) {
                ("/v1/devices/enrol", _) => enrol_body(&waiting_code),
                (p, "post") if p.ends_with("/card") => {
                    let mut body = body;
                    body["cardSessionId"] = Value::String(known_card_session.clone());
                    body
                }
                (p, "post") if p.ends_with("/card-sessions") => {
                    let mut body = body;
                    body["deviceId"] = Value::String(known_device.clone());
                    body
                }
                _ => body,
            };
            request = request.json(&body);
        } else if let Some(csv) = content.get("text/csv") {
            let body = csv["schema"]["examples"][0]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path}: no example file"));
            request = request
                .header("Content-Type", "text/csv")
                .body(body.to_owned());
        } else if let Some(form) = content.get("application/x-www-form-urlencoded") {
            let body = example_value(&doc, &form["schema"]).unwrap();
            let fields: Vec<(String, String)> = body
                .as_object()
                .unwrap()
                .iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                .collect();
            request = request.form(&fields);
        }
        let expected: u16 = operation["responses"]
            .as_object()
            .unwrap()
            .keys()
            .filter_map(|s| s.parse().ok())
            .filter(|s| (200..300).contains(s))
            .min()
            .unwrap();
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_eq!(status, expected, "{method} {url}: {text}");
        if path.ends_with("/validate") && !path.contains('{') {
            let result: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(
                result["valid"], true,
                "{path}: its example is not valid: {text}"
            );
        }
        checked += 1;
    }
    assert!(checked > 40, "only {checked} operations");
}
storage_test!(every_documented_example_works);
