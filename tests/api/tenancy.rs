//! Scope and municipality enforcement: a client of 012084 can never read or write 131016.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, problem, spawn_app};
use crate::storage_test;

async fn a_client_acts_only_for_its_own_municipalities(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register_municipality("131016", "千代田区").await;
    let kitami = app.demo_token().await;

    let own = app.get("/v1/municipalities/012084", &kitami).await;
    assert_eq!(own.status(), StatusCode::OK);
    let own: Value = own.json().await.unwrap();
    assert_eq!(own["name"], "北見市");
    assert_eq!(own["prefecture"]["name"], "北海道");

    let read = app.get("/v1/municipalities/131016", &kitami).await;
    let body = problem(read, StatusCode::FORBIDDEN, "municipality_forbidden").await;
    assert!(body["detail"].as_str().unwrap().contains("131016"));
    let write = app
        .send_json(
            Method::PATCH,
            "/v1/municipalities/131016",
            &kitami,
            &json!({"name": "乗っ取り区"}),
        )
        .await;
    problem(write, StatusCode::FORBIDDEN, "municipality_forbidden").await;
    let audit = app
        .get("/v1/municipalities/131016/audit-events", &kitami)
        .await;
    problem(audit, StatusCode::FORBIDDEN, "municipality_forbidden").await;

    // 131016 is unchanged, and the list shows only what the client may see.
    let chiyoda = app
        .store
        .municipality(&"131016".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(chiyoda.name, "千代田区");
    let list: Value = app.get_json("/v1/municipalities", &kitami).await;
    let codes: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["lgCode"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["012084"]);

    // Chiyoda's own auditor sees the refused attempts of Kitami's client.
    let auditor = app.register_client(&["audit:read"], &["131016"]).await;
    let auditor = app.token_for(&auditor.id, &auditor.secret).await;
    let events: Value = app
        .get_json("/v1/municipalities/131016/audit-events", &auditor)
        .await;
    let denied = |events: &Value| -> Vec<Value> {
        events["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "municipality.access_denied")
            .cloned()
            .collect()
    };
    // The first refusal at once; the two repeats are counted…
    let first = denied(&events);
    assert_eq!(first.len(), 1, "{events}");
    assert!(first[0].get("repeatCount").is_none());
    // …and recorded as one event when the counting window has passed.
    madoguchi::audit::flush_denials(&app.store, std::time::Duration::ZERO)
        .await
        .unwrap();
    let events: Value = app
        .get_json("/v1/municipalities/131016/audit-events", &auditor)
        .await;
    let all = denied(&events);
    assert_eq!(all.len(), 2, "{events}");
    assert_eq!(all[0]["repeatCount"], 2);
    assert!(
        all.iter()
            .all(|e| e["clientId"] == app.demo.client_id.to_string() && e["outcome"] == "denied")
    );
}
storage_test!(a_client_acts_only_for_its_own_municipalities);

async fn each_route_demands_its_scope(backend: Backend) {
    let app = spawn_app(backend).await;
    let reader = app
        .register_client(&["municipalities:read"], &["012084"])
        .await;
    let reader = app.token_for(&reader.id, &reader.secret).await;

    assert_eq!(
        app.get("/v1/municipalities/012084", &reader).await.status(),
        StatusCode::OK
    );
    let write = app
        .send_json(
            Method::PATCH,
            "/v1/municipalities/012084",
            &reader,
            &json!({"name": "北見市"}),
        )
        .await;
    assert_eq!(
        write.headers()["www-authenticate"],
        "Bearer realm=\"madoguchi\", error=\"insufficient_scope\", scope=\"municipalities:write\""
    );
    problem(write, StatusCode::FORBIDDEN, "insufficient_scope").await;
    let audit = app
        .get("/v1/municipalities/012084/audit-events", &reader)
        .await;
    problem(audit, StatusCode::FORBIDDEN, "insufficient_scope").await;
    let admin = app.get("/v1/admin/clients", &reader).await;
    let body = problem(admin, StatusCode::FORBIDDEN, "insufficient_scope").await;
    assert!(body["detail"].as_str().unwrap().contains("admin"));
}
storage_test!(each_route_demands_its_scope);

async fn a_malformed_lg_code_says_what_is_wrong(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.demo_token().await;
    let wrong_digit = app.get("/v1/municipalities/012085", &token).await;
    let body = problem(wrong_digit, StatusCode::BAD_REQUEST, "invalid_lg_code").await;
    assert!(
        body["detail"].as_str().unwrap().contains("検査数字は4"),
        "{body}"
    );
    let english = app
        .http
        .get(app.url("/v1/municipalities/01208"))
        .bearer_auth(&token)
        .header("accept-language", "en")
        .send()
        .await
        .unwrap();
    let body = problem(english, StatusCode::BAD_REQUEST, "invalid_lg_code").await;
    assert!(
        body["detail"].as_str().unwrap().contains("6 digits"),
        "{body}"
    );

    // Unauthenticated callers learn nothing about codes: the token is checked first.
    let anonymous = app
        .http
        .get(app.url("/v1/municipalities/012085"))
        .send()
        .await
        .unwrap();
    problem(anonymous, StatusCode::UNAUTHORIZED, "missing_token").await;
}
storage_test!(a_malformed_lg_code_says_what_is_wrong);

async fn a_municipality_changes_its_counter_contact(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.demo_token().await;
    let changed = app
        .http
        .patch(app.url("/v1/municipalities/012084"))
        .bearer_auth(&token)
        .header("madoguchi-actor", "K-00123")
        .json(&json!({
            "contact": {"department": "市民課", "phone": "0157-23-7111", "email": "shimin@city.kitami.lg.jp"}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    let read: Value = app.get_json("/v1/municipalities/012084", &token).await;
    assert_eq!(read["contact"]["department"], "市民課");
    assert_eq!(read["contact"]["phone"], "0157-23-7111");
    assert_eq!(read["name"], "北見市", "absent fields stay");

    let cleared = app
        .send_json(
            Method::PATCH,
            "/v1/municipalities/012084",
            &token,
            &json!({"contact": {"email": null}}),
        )
        .await;
    let cleared: Value = cleared.json().await.unwrap();
    assert_eq!(cleared["contact"]["email"], Value::Null);
    assert_eq!(cleared["contact"]["phone"], "0157-23-7111");

    let invalid = app
        .send_json(
            Method::PATCH,
            "/v1/municipalities/012084",
            &token,
            &json!({"name": "", "nameKana": "きたみし", "contact": {"phone": "12"}}),
        )
        .await;
    let body = problem(
        invalid,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let pointers: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    assert_eq!(pointers, ["/name", "/nameKana", "/contact/phone"]);
    assert!(
        body["errors"][1]["message"]
            .as_str()
            .unwrap()
            .contains("カタカナ")
    );

    let empty = app
        .send_json(
            Method::PATCH,
            "/v1/municipalities/012084",
            &token,
            &json!({}),
        )
        .await;
    problem(empty, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;

    let bad_actor = app
        .http
        .patch(app.url("/v1/municipalities/012084"))
        .bearer_auth(&token)
        .header("madoguchi-actor", "x".repeat(65))
        .json(&json!({"name": "北見市"}))
        .send()
        .await
        .unwrap();
    problem(bad_actor, StatusCode::BAD_REQUEST, "invalid_actor").await;
}
storage_test!(a_municipality_changes_its_counter_contact);

/// Every `/v1` operation in the OpenAPI document refuses a request without a token: no
/// route was registered without the authorization extractor.
async fn every_v1_route_checks_the_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let doc: Value = app.get_public_json("/openapi.json").await;
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/v1/") {
            continue;
        }
        let concrete = path
            .replace("{lgCode}", "012084")
            .replace("{clientId}", &app.demo.client_id.to_string());
        for method in ["get", "post", "patch", "put", "delete"] {
            if item.get(method).is_none() {
                continue;
            }
            // The one route a token cannot guard: a counter PC's bridge has no token yet, and
            // its one-time enrolment code is the credential.
            if path == "/v1/devices/enrol" {
                let response = app
                    .http
                    .post(app.url(path))
                    .json(&json!({"enrolmentCode": "0000-0000-0000", "publicKey": "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEPsJ3lcHmQ6v0vFqgTJ5OkPzQYt+0ZsN9jBQfPZrGjtP8sYfQd8Xw5kLf4cJwbMRxgnpQ3QSTnJ4qB7tYh7hZ3A=="}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(
                    response.status(),
                    StatusCode::FORBIDDEN,
                    "{path} without a code"
                );
                checked += 1;
                continue;
            }
            assert!(
                item[method]["security"]
                    .as_array()
                    .is_some_and(|s| !s.is_empty()),
                "{method} {path} documents no security requirement"
            );
            let response = app
                .http
                .request(method.to_uppercase().parse().unwrap(), app.url(&concrete))
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{method} {path} answered without a token"
            );
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} operations found");
}
storage_test!(every_v1_route_checks_the_token);

/// Two replicas on one database: a change made through one shows there at once, however long
/// it caches, and on the other once the other's municipality cache
/// (`cache.municipality_seconds`) has expired.
async fn replicas_agree_after_the_cache_time(backend: Backend) {
    let first =
        crate::helpers::spawn_app_with(backend, |s| s.cache.municipality_seconds = 600).await;
    let mut second_settings = first.settings.clone();
    second_settings.cache.municipality_seconds = 1;
    let second = madoguchi::Application::build(second_settings)
        .await
        .unwrap();
    let second_url = format!("{}/v1/municipalities/012084", second.base_url());
    tokio::spawn(second.run_until_stopped());
    let token = first.demo_token().await;
    let name_at_second = || async {
        let body: Value = first
            .http
            .get(&second_url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["name"].as_str().unwrap().to_owned()
    };
    assert_eq!(name_at_second().await, "北見市");
    let cached: Value = first.get_json("/v1/municipalities/012084", &token).await;
    assert_eq!(cached["name"], "北見市");
    let changed = first
        .send_json(
            Method::PATCH,
            "/v1/municipalities/012084",
            &token,
            &json!({"name": "北見市役所"}),
        )
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    let at_first: Value = first.get_json("/v1/municipalities/012084", &token).await;
    assert_eq!(
        at_first["name"], "北見市役所",
        "the replica that changed it sees it at once"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    assert_eq!(name_at_second().await, "北見市役所");
}
storage_test!(replicas_agree_after_the_cache_time);
