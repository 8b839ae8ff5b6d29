//! Every failure is an RFC 9457 problem, in Japanese by default and in English on request.

use reqwest::StatusCode;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::helpers::{Backend, problem, spawn_app, spawn_app_with};
use crate::storage_test;

const KITAMI: &str = "/v1/municipalities/012084";

async fn malformed_json_names_line_and_column(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.demo_token().await;
    let response = app
        .http
        .patch(app.url(KITAMI))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\n  \"name\": \"北見市\",\n  \"nameKana\" \"キタミシ\"\n}")
        .send()
        .await
        .unwrap();
    let body = problem(response, StatusCode::BAD_REQUEST, "malformed_json").await;
    assert_eq!(body["line"], 3);
    assert!(body["detail"].as_str().unwrap().contains("3行"), "{body}");
    assert_eq!(body["title"], "JSON の構文が正しくありません");

    let english = app
        .http
        .patch(app.url(KITAMI))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .header("accept-language", "en-US,en;q=0.9,ja;q=0.8")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    let body = problem(english, StatusCode::BAD_REQUEST, "malformed_json").await;
    assert_eq!(body["title"], "Malformed JSON");
    assert!(body["detail"].as_str().unwrap().contains("line 1"));

    let not_utf8 = app
        .http
        .patch(app.url(KITAMI))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(vec![b'{', b'"', 0xff, 0xfe, b'"', b':', b'1', b'}'])
        .send()
        .await
        .unwrap();
    problem(not_utf8, StatusCode::BAD_REQUEST, "malformed_json").await;

    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let deep = app
        .http
        .patch(app.url(KITAMI))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(deep)
        .send()
        .await
        .unwrap();
    // Refused at the first bracket (the body must be an object); the nesting limit itself is
    // covered where a field takes arbitrary JSON (extract.rs unit tests).
    let body = problem(deep, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(body["errors"][0]["code"], "invalid_type");

    let unknown_field = app
        .send_json(
            reqwest::Method::PATCH,
            KITAMI,
            &token,
            &json!({"nmae": "北見"}),
        )
        .await;
    let body = problem(
        unknown_field,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["code"], "unknown_field");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("nmae")
    );
}
storage_test!(malformed_json_names_line_and_column);

async fn wrong_content_type_route_and_method(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.demo_token().await;
    let text = app
        .http
        .patch(app.url(KITAMI))
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body("name=北見")
        .send()
        .await
        .unwrap();
    problem(
        text,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;

    let unknown = app.get("/v1/visits", &token).await;
    let body = problem(unknown, StatusCode::NOT_FOUND, "route_not_found").await;
    assert_eq!(body["instance"], "/v1/visits");

    let method = app
        .http
        .delete(app.url(KITAMI))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(method.headers()["allow"], "GET, PATCH");
    problem(method, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;

    let bad_query = app.get("/v1/municipalities?limit=many", &token).await;
    problem(bad_query, StatusCode::BAD_REQUEST, "invalid_request").await;
    let zero = app.get("/v1/municipalities?limit=0", &token).await;
    problem(zero, StatusCode::BAD_REQUEST, "invalid_request").await;
    let garbage_cursor = app.get("/v1/municipalities?cursor=%%%", &token).await;
    assert_eq!(garbage_cursor.status(), StatusCode::BAD_REQUEST);
}
storage_test!(wrong_content_type_route_and_method);

async fn a_body_over_the_limit_gets_413(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.http.body_limit_bytes = 1024).await;
    let token = app.demo_token().await;
    let big = json!({"name": "北".repeat(2000)});
    let response = app
        .send_json(reqwest::Method::PATCH, KITAMI, &token, &big)
        .await;
    let body = problem(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    assert!(body["detail"].as_str().unwrap().contains("1024"));

    let form = app
        .http
        .post(app.url("/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", &"x".repeat(4096)),
        ])
        .send()
        .await
        .unwrap();
    problem(form, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
}
storage_test!(a_body_over_the_limit_gets_413);

/// The default limit is 1 MiB.
async fn the_default_body_limit_is_one_mebibyte(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.demo_token().await;
    let just_over = json!({"name": "a".repeat(1024 * 1024)});
    let response = app
        .send_json(reqwest::Method::PATCH, KITAMI, &token, &just_over)
        .await;
    problem(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    let under = json!({"name": "a".repeat(1000 * 1000)});
    let response = app
        .send_json(reqwest::Method::PATCH, KITAMI, &token, &under)
        .await;
    // Accepted by the size check; refused by the field check.
    let body = problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["code"], "too_long");
}
storage_test!(the_default_body_limit_is_one_mebibyte);

/// An internal failure tells the caller nothing of the cause, but gives the request id.
async fn internal_errors_are_opaque(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.demo_token().await;
    app.store
        .connection()
        .execute_unprepared("DROP TABLE client_municipalities")
        .await
        .unwrap();
    app.store
        .connection()
        .execute_unprepared("DROP TABLE deliveries")
        .await
        .unwrap();
    app.store
        .connection()
        .execute_unprepared("DROP TABLE webhook_endpoints")
        .await
        .unwrap();
    app.store
        .connection()
        .execute_unprepared("DROP TABLE applications")
        .await
        .unwrap();
    app.store
        .connection()
        .execute_unprepared("DROP TABLE visits")
        .await
        .unwrap();
    app.store
        .connection()
        .execute_unprepared("DROP TABLE catalog_overrides")
        .await
        .unwrap();
    for table in [
        "card_sessions",
        "devices",
        "residents",
        "directory_imports",
        "conformance_faults",
        "conformance_requests",
        "conformance_sessions",
        "console_sessions",
        "staff_accounts",
    ] {
        app.store
            .connection()
            .execute_unprepared(&format!("DROP TABLE {table}"))
            .await
            .unwrap();
    }
    app.store
        .connection()
        .execute_unprepared("DROP TABLE municipalities")
        .await
        .unwrap();
    let response = app
        .http
        .get(app.url(KITAMI))
        .bearer_auth(&token)
        .header("x-request-id", "trace-4711")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-4711");
    let body = problem(
        response,
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
    )
    .await;
    assert_eq!(body["requestId"], "trace-4711");
    let text = format!("{} {}", body["title"], body["detail"]).to_lowercase();
    for leak in [
        "municipalities",
        "sql",
        "table",
        "relation",
        "sqlite",
        "postgres",
    ] {
        assert!(!text.contains(leak), "{leak} leaked into {body}");
    }
}
storage_test!(internal_errors_are_opaque);

async fn problem_types_are_readable_pages(backend: Backend) {
    let app = spawn_app(backend).await;
    let page = app
        .http
        .get(app.url("/problems/validation-failed"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("入力内容に誤りがあります") && html.contains("Validation failed"));

    let unknown = app
        .http
        .get(app.url("/problems/no-such-problem"))
        .send()
        .await
        .unwrap();
    problem(unknown, StatusCode::NOT_FOUND, "not_found").await;

    // The type of a real problem resolves to its page.
    let missing: Value = app
        .http
        .get(app.url(KITAMI))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let page = app
        .http
        .get(app.url(missing["type"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);

    // The index lists every problem type, each linking its page.
    let index = app.get_public_text("/problems/").await;
    let links: Vec<&str> = index
        .split("<a href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    assert_eq!(
        links.len(),
        madoguchi::http::problem::ProblemKind::ALL.len()
    );
    for link in links {
        let page = app.http.get(app.url(link)).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK, "{link}");
    }
    assert!(index.contains("too_many_failed_attempts") && index.contains("429"));
    assert_eq!(
        app.get_public_text("/problems").await,
        index,
        "as documented"
    );
    assert!(index.contains("unknown_fact"), "field codes are listed too");

    // The same as JSON, for programs: every problem type and every field code with its
    // meaning. A real error's code is found there.
    let json: Value = app
        .http
        .get(app.url("/problems"))
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let types = json["problemTypes"].as_array().unwrap();
    assert_eq!(
        types.len(),
        madoguchi::http::problem::ProblemKind::ALL.len()
    );
    let closed = types.iter().find(|t| t["code"] == "visit_closed").unwrap();
    assert_eq!(closed["status"], 409);
    assert_eq!(closed["type"], "/problems/visit-closed");
    assert!(closed["about"]["ja"].as_str().unwrap().contains("終了"));
    let token = app.demo_token().await;
    let r = crate::visits::send(
        &app,
        reqwest::Method::POST,
        crate::visits::VISITS,
        &token,
        Some(&json!({
            "events": [{"kind": "moveIn", "date": "2026-12-01", "facts": {"noSuchFact": true}}],
            "members": [{"id": "m1", "familyName": "山田", "givenName": "花子", "familyNameKana": "ヤマダ", "givenNameKana": "ハナコ", "dateOfBirth": "1990-01-01", "sex": "2"}],
            "applicant": {"member": "m1"}
        })),
    )
    .await;
    let p = problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let code = p["errors"][0]["code"].as_str().unwrap();
    let field = json["fieldCodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == code)
        .unwrap_or_else(|| panic!("{code} is documented"));
    assert_eq!(field["kinds"], json!(["request"]), "{p}");
    assert!(!field["meaning"]["ja"].as_str().unwrap().is_empty());
    // A browser still gets the page.
    let html = app
        .http
        .get(app.url("/problems"))
        .header(
            "Accept",
            "text/html,application/xhtml+xml,application/json;q=0.9",
        )
        .send()
        .await
        .unwrap();
    assert!(
        html.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
}
storage_test!(problem_types_are_readable_pages);
