//! `/v1/admin`: registering municipalities and clients through the API.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, problem, spawn_app};
use crate::storage_test;

async fn an_operator_registers_a_municipality(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_token().await;
    let created = app
        .send_json(
            Method::POST,
            "/v1/admin/municipalities",
            &admin,
            &json!({"lgCode": "131016", "name": "千代田区", "nameKana": "チヨダク"}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(created.headers()["location"], "/v1/municipalities/131016");
    let body: Value = created.json().await.unwrap();
    assert_eq!(body["prefecture"], json!({"code": "13", "name": "東京都"}));

    let again = app
        .send_json(
            Method::POST,
            "/v1/admin/municipalities",
            &admin,
            &json!({"lgCode": "131016", "name": "千代田区"}),
        )
        .await;
    problem(again, StatusCode::CONFLICT, "conflict").await;

    let invalid = app
        .send_json(
            Method::POST,
            "/v1/admin/municipalities",
            &admin,
            &json!({"lgCode": "131017", "name": " ", "nameKana": "ﾁﾖﾀﾞｸ"}),
        )
        .await;
    let body = problem(
        invalid,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let errors: Vec<(&str, &str)> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["pointer"].as_str().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        errors,
        [
            ("/lgCode", "invalid_lg_code"),
            ("/name", "surrounding_space"),
            ("/nameKana", "not_katakana")
        ]
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("検査数字は6")
    );

    let missing_field = app
        .send_json(
            Method::POST,
            "/v1/admin/municipalities",
            &admin,
            &json!({"lgCode": "131016"}),
        )
        .await;
    let body = problem(
        missing_field,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["pointer"], "/name");
    assert_eq!(body["errors"][0]["code"], "required");

    let list: Value = app
        .get_json("/v1/admin/municipalities?limit=1", &admin)
        .await;
    assert_eq!(list["items"][0]["lgCode"], "012084");
    let cursor = list["nextCursor"].as_str().unwrap();
    let rest: Value = app
        .get(
            &format!("/v1/admin/municipalities?limit=1&cursor={cursor}"),
            &admin,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rest["items"][0]["lgCode"], "131016");
    assert_eq!(rest["nextCursor"], Value::Null);
}
storage_test!(an_operator_registers_a_municipality);

async fn an_operator_registers_lists_and_revokes_clients(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_token().await;
    let created = app
        .send_json(
            Method::POST,
            "/v1/admin/clients",
            &admin,
            &json!({"name": "Vendor A (北見市)", "scopes": ["municipalities:read"], "municipalities": ["012084"]}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(created.headers()["cache-control"], "no-store");
    let created: Value = created.json().await.unwrap();
    let id = created["clientId"].as_str().unwrap().to_owned();
    let secret = created["clientSecret"].as_str().unwrap().to_owned();
    assert_eq!(created["scopes"], json!(["municipalities:read"]));
    assert_eq!(created["revokedAt"], Value::Null);

    // The secret works, and it is stored only as a hash.
    let token = app.token_for(&id, &secret).await;
    assert_eq!(
        app.get("/v1/municipalities/012084", &token).await.status(),
        StatusCode::OK
    );
    let (_, hash) = app
        .store
        .client_with_secret(id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(hash.starts_with("sha256$") && !hash.contains(&secret));

    let fetched: Value = app
        .get_json(&format!("/v1/admin/clients/{id}"), &admin)
        .await;
    assert_eq!(fetched["name"], "Vendor A (北見市)");
    assert!(
        fetched.get("clientSecret").is_none(),
        "the secret is shown only once"
    );

    // demo client, admin client, Vendor A: three clients over pages of two.
    let first: Value = app.get_json("/v1/admin/clients?limit=2", &admin).await;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let cursor = first["nextCursor"].as_str().unwrap();
    let second: Value = app
        .get(
            &format!("/v1/admin/clients?limit=2&cursor={cursor}"),
            &admin,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(second["items"][0]["clientId"], id);
    assert_eq!(second["nextCursor"], Value::Null);
    let cross = app
        .get(
            &format!("/v1/municipalities?cursor={cursor}"),
            &app.demo_token().await,
        )
        .await;
    problem(cross, StatusCode::BAD_REQUEST, "invalid_cursor").await;

    let revoked = app
        .send_json(
            Method::POST,
            &format!("/v1/admin/clients/{id}/revoke"),
            &admin,
            &json!({}),
        )
        .await;
    assert_eq!(revoked.status(), StatusCode::OK);
    let revoked: Value = revoked.json().await.unwrap();
    assert!(revoked["revokedAt"].as_str().is_some());
    problem(
        app.request_token(&id, &secret, None).await,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
    )
    .await;

    let unknown = app
        .get(
            &format!("/v1/admin/clients/{}", uuid::Uuid::now_v7()),
            &admin,
        )
        .await;
    problem(unknown, StatusCode::NOT_FOUND, "not_found").await;
    let not_uuid = app.get("/v1/admin/clients/vendor-a", &admin).await;
    problem(not_uuid, StatusCode::BAD_REQUEST, "invalid_request").await;
}
storage_test!(an_operator_registers_lists_and_revokes_clients);

async fn a_client_for_an_unregistered_municipality_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_token().await;
    let refused = app
        .send_json(
            Method::POST,
            "/v1/admin/clients",
            &admin,
            &json!({"name": "Vendor B", "scopes": ["municipalities:read", "visits:write"], "municipalities": ["012084", "131016"]}),
        )
        .await;
    let body = problem(
        refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["pointer"], "/scopes/1");
    assert_eq!(body["errors"][0]["code"], "unknown_scope");

    let refused = app
        .send_json(
            Method::POST,
            "/v1/admin/clients",
            &admin,
            &json!({"name": "Vendor B", "scopes": ["municipalities:read"], "municipalities": ["012084", "131016"]}),
        )
        .await;
    let body = problem(
        refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["pointer"], "/municipalities/1");
    assert_eq!(body["errors"][0]["code"], "unknown_municipality");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("131016")
    );
    let clients = app.store.list_clients(None, 100).await.unwrap();
    assert_eq!(clients.items.len(), 2, "nothing was stored");
}
storage_test!(a_client_for_an_unregistered_municipality_is_refused);
