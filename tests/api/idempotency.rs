//! `Idempotency-Key` on creating POSTs: a retry returns the first response and acts once.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, problem, spawn_app};
use crate::storage_test;

async fn post(
    app: &TestApp,
    token: &str,
    path: &str,
    key: &str,
    body: &Value,
) -> reqwest::Response {
    app.http
        .post(app.url(path))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn a_retry_returns_the_first_response_and_acts_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_token().await;
    let key = uuid::Uuid::new_v4().to_string();
    let body = json!({"lgCode": "131016", "name": "千代田区"});

    let first = post(&app, &admin, "/v1/admin/municipalities", &key, &body).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first_body = first.text().await.unwrap();

    let again = post(&app, &admin, "/v1/admin/municipalities", &key, &body).await;
    assert_eq!(
        again.status(),
        StatusCode::CREATED,
        "not 409: the retry is recognised"
    );
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.headers()["location"], "/v1/municipalities/131016");
    assert_eq!(again.text().await.unwrap(), first_body);

    let created = app
        .store
        .list_audit(&"131016".parse().unwrap(), None, 10)
        .await
        .unwrap()
        .items
        .iter()
        .filter(|e| e.action == "municipality.create")
        .count();
    assert_eq!(created, 1, "the municipality was registered once");

    let other_body = post(
        &app,
        &admin,
        "/v1/admin/municipalities",
        &key,
        &json!({"lgCode": "131016", "name": "千代田区役所"}),
    )
    .await;
    problem(
        other_body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    )
    .await;

    // Keys are per client: another admin's identical key is its own.
    let other_admin = app.admin_token().await;
    let theirs = post(
        &app,
        &other_admin,
        "/v1/admin/municipalities",
        &key,
        &json!({"lgCode": "011002", "name": "札幌市"}),
    )
    .await;
    assert_eq!(theirs.status(), StatusCode::CREATED);
}
storage_test!(a_retry_returns_the_first_response_and_acts_once);

/// The replayed client creation carries the same secret, yet the database holds neither the
/// secret nor the idempotency key in clear.
async fn a_replayed_client_secret_is_stored_sealed(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_token().await;
    let key = uuid::Uuid::new_v4().to_string();
    let body = json!({"name": "Vendor A", "scopes": ["municipalities:read"], "municipalities": ["012084"]});
    let first: Value = post(&app, &admin, "/v1/admin/clients", &key, &body)
        .await
        .json()
        .await
        .unwrap();
    let again = post(&app, &admin, "/v1/admin/clients", &key, &body).await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again, first);
    let secret = first["clientSecret"].as_str().unwrap();
    app.token_for(first["clientId"].as_str().unwrap(), secret)
        .await;
    assert_eq!(
        app.store.list_clients(None, 100).await.unwrap().items.len(),
        3
    );

    use madoguchi::store::entities::idempotency_record;
    use sea_orm::EntityTrait;
    let rows = idempotency_record::Entity::find()
        .all(app.store.connection())
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    let admin_id =
        jsonwebtoken::dangerous::insecure_decode_claims::<Value>(&admin).unwrap()["client_id"]
            .as_str()
            .unwrap()
            .to_owned();
    assert_eq!(row.client_id, admin_id);
    assert_eq!(row.state, "completed");
    let sealed = row.sealed.as_deref().unwrap();
    assert!(sealed.len() > secret.len());
    assert!(
        !sealed.windows(secret.len()).any(|w| w == secret.as_bytes()),
        "the secret is stored in clear"
    );
    assert!(
        !sealed.windows(16).any(|w| w == &key.as_bytes()[..16]),
        "the idempotency key is stored in clear"
    );
    for field in [&row.key_hash, &row.fingerprint, &row.client_id] {
        assert!(
            !field.contains(&key),
            "the idempotency key is stored in clear"
        );
    }
}
storage_test!(a_replayed_client_secret_is_stored_sealed);

async fn a_failed_request_leaves_the_key_free(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_token().await;
    let key = uuid::Uuid::new_v4().to_string();
    let wrong = post(
        &app,
        &admin,
        "/v1/admin/municipalities",
        &key,
        &json!({"lgCode": "131017", "name": "千代田区"}),
    )
    .await;
    problem(wrong, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let corrected = post(
        &app,
        &admin,
        "/v1/admin/municipalities",
        &key,
        &json!({"lgCode": "131016", "name": "千代田区"}),
    )
    .await;
    assert_eq!(corrected.status(), StatusCode::CREATED);

    let short = post(&app, &admin, "/v1/admin/municipalities", "1", &json!({})).await;
    problem(short, StatusCode::BAD_REQUEST, "invalid_idempotency_key").await;

    // Without a token the key changes nothing: the request is refused as usual.
    let anonymous = app
        .http
        .post(app.url("/v1/admin/municipalities"))
        .header("idempotency-key", uuid::Uuid::new_v4().to_string())
        .json(&json!({"lgCode": "011002", "name": "札幌市"}))
        .send()
        .await
        .unwrap();
    problem(anonymous, StatusCode::UNAUTHORIZED, "missing_token").await;
}
storage_test!(a_failed_request_leaves_the_key_free);
