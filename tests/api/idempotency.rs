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

/// `validate` and `normalize` create nothing: a key sent there is ignored, and nothing of
/// their (large) answers is stored.
async fn computing_routes_store_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.demo_token().await;
    let key = uuid::Uuid::new_v4().to_string();
    let body = json!({ "notificationType": "あ".repeat(50_000) });
    for _ in 0..2 {
        let answer = post(
            &app,
            &token,
            "/v1/forms/residentMove/1.0/validate",
            &key,
            &body,
        )
        .await;
        assert_eq!(answer.status(), StatusCode::OK);
        assert!(answer.headers().get("idempotent-replayed").is_none());
    }
    let answer = post(
        &app,
        &token,
        "/v1/normalize/postalCode",
        &key,
        &json!({"value": "０６０－０００１"}),
    )
    .await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(stored_rows(&app).await.len(), 0);
}
storage_test!(computing_routes_store_nothing);

async fn stored_rows(app: &TestApp) -> Vec<madoguchi::store::entities::idempotency_record::Model> {
    use madoguchi::store::entities::idempotency_record;
    use sea_orm::EntityTrait;
    idempotency_record::Entity::find()
        .all(app.store.connection())
        .await
        .unwrap()
}

fn new_client_body(name: &str) -> Value {
    json!({"name": name, "scopes": ["forms"], "municipalities": ["012084"]})
}

/// `POST /v1/admin/clients` with a new Idempotency-Key.
async fn create_with_fresh_key(app: &TestApp, token: &str, name: &str) -> reqwest::Response {
    post(
        app,
        token,
        "/v1/admin/clients",
        &uuid::Uuid::new_v4().to_string(),
        &new_client_body(name),
    )
    .await
}

/// Each client may hold only so many keys and bytes; the rest wait for the oldest to expire.
async fn a_client_holds_only_its_quota_of_keys(backend: Backend) {
    let app = crate::helpers::spawn_app_with(backend, |s| {
        s.idempotency.max_keys_per_client = 2;
    })
    .await;
    let admin = app.admin_token().await;
    for n in 0..2 {
        let created = create_with_fresh_key(&app, &admin, &format!("Vendor {n}")).await;
        assert_eq!(created.status(), StatusCode::CREATED);
    }
    let refused = create_with_fresh_key(&app, &admin, "Vendor 3").await;
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        retry_after > 86_000 && retry_after <= 86_400,
        "{retry_after}"
    );
    problem(
        refused,
        StatusCode::TOO_MANY_REQUESTS,
        "idempotency_quota_exceeded",
    )
    .await;
    // Without a key the request is served as always; another client has its own quota.
    let plain = app
        .send_json(
            reqwest::Method::POST,
            "/v1/admin/clients",
            &admin,
            &new_client_body("Vendor 3"),
        )
        .await;
    assert_eq!(plain.status(), StatusCode::CREATED);
    let other = app.admin_token().await;
    let theirs = create_with_fresh_key(&app, &other, "Vendor 4").await;
    assert_eq!(theirs.status(), StatusCode::CREATED);

    // Stored responses are their bytes (sealed), not a JSON array of numbers.
    let rows = stored_rows(&app).await;
    assert_eq!(rows.len(), 3);
    for row in rows {
        let sealed = row.sealed.unwrap();
        assert_eq!(row.size as usize, sealed.len());
        assert!(
            sealed.len() < 1024,
            "{} bytes for a small response",
            sealed.len()
        );
    }

    // A byte quota holds too.
    let app = crate::helpers::spawn_app_with(backend, |s| {
        s.idempotency.max_bytes_per_client = 100;
    })
    .await;
    let admin = app.admin_token().await;
    let first = create_with_fresh_key(&app, &admin, "A").await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let second = create_with_fresh_key(&app, &admin, "B").await;
    problem(
        second,
        StatusCode::TOO_MANY_REQUESTS,
        "idempotency_quota_exceeded",
    )
    .await;
}
storage_test!(a_client_holds_only_its_quota_of_keys);

/// A response larger than the gateway keeps is not stored: a retry learns that the request
/// was done and where its result is, and the request is not done twice.
async fn a_large_response_is_not_kept_and_its_retry_says_so(backend: Backend) {
    let app = crate::helpers::spawn_app_with(backend, |s| {
        s.idempotency.max_response_bytes = 16;
    })
    .await;
    let admin = app.admin_token().await;
    let key = uuid::Uuid::new_v4().to_string();
    let body = json!({"lgCode": "131016", "name": "千代田区"});
    let first = post(&app, &admin, "/v1/admin/municipalities", &key, &body).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    assert_eq!(
        first["name"], "千代田区",
        "the first caller gets the whole answer"
    );

    let again = post(&app, &admin, "/v1/admin/municipalities", &key, &body).await;
    assert_eq!(again.headers()["location"], "/v1/municipalities/131016");
    let problem_body = problem(again, StatusCode::CONFLICT, "idempotent_response_not_kept").await;
    assert_eq!(problem_body["originalStatus"], 201);
    let rows = stored_rows(&app).await;
    assert_eq!(rows.len(), 1);
    assert!(rows[0].size < 200, "only the status and headers are kept");
}
storage_test!(a_large_response_is_not_kept_and_its_retry_says_so);

/// Expired keys are purged in the background, not only when the same key comes back.
async fn expired_keys_are_purged(backend: Backend) {
    let app = crate::helpers::spawn_app_with(backend, |s| {
        s.idempotency.retention_seconds = 1;
        s.idempotency.purge_interval_seconds = 1;
    })
    .await;
    let admin = app.admin_token().await;
    let created = create_with_fresh_key(&app, &admin, "A").await;
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(stored_rows(&app).await.len(), 1);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !stored_rows(&app).await.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the expired key was never purged"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
storage_test!(expired_keys_are_purged);

/// A replay answers only a caller the route itself would answer: the same client with a token
/// narrowed to another scope gets 403, not the stored response (which holds a secret).
async fn a_replay_is_authorized_first(backend: Backend) {
    let app = spawn_app(backend).await;
    let both = app.register_client(&["admin", "forms"], &["012084"]).await;
    let admin_token: Value = app
        .request_token(&both.id, &both.secret, Some("admin"))
        .await
        .json()
        .await
        .unwrap();
    let forms_token: Value = app
        .request_token(&both.id, &both.secret, Some("forms"))
        .await
        .json()
        .await
        .unwrap();
    let key = uuid::Uuid::new_v4().to_string();
    let body = new_client_body("Vendor A");
    let created = post(
        &app,
        admin_token["access_token"].as_str().unwrap(),
        "/v1/admin/clients",
        &key,
        &body,
    )
    .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let replay = post(
        &app,
        forms_token["access_token"].as_str().unwrap(),
        "/v1/admin/clients",
        &key,
        &body,
    )
    .await;
    let refused = problem(replay, StatusCode::FORBIDDEN, "insufficient_scope").await;
    assert!(!refused.to_string().contains("mdgs_"));
    let anonymous = app
        .http
        .post(app.url("/v1/admin/clients"))
        .header("idempotency-key", &key)
        .json(&body)
        .send()
        .await
        .unwrap();
    problem(anonymous, StatusCode::UNAUTHORIZED, "missing_token").await;
}
storage_test!(a_replay_is_authorized_first);

/// A stored response needs the server key as well as the Idempotency-Key: a copy of the
/// database and the key — even a guessable one — do not open it.
async fn a_stored_response_needs_the_server_key(backend: Backend) {
    let dir = tempfile::TempDir::new().unwrap();
    let key_file = dir.path().join("server.key");
    std::fs::write(&key_file, format!("{}\n", "ab".repeat(32))).unwrap();
    let app = crate::helpers::spawn_app_with(backend, move |s| {
        s.secrets.key_path = Some(key_file);
    })
    .await;
    let admin = app.admin_token().await;
    // 24 × z: as guessable as a key gets.
    let key = "z".repeat(24);
    let created = post(
        &app,
        &admin,
        "/v1/admin/clients",
        &key,
        &new_client_body("A"),
    )
    .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let row = stored_rows(&app).await.remove(0);
    let idempotency_key = madoguchi::idempotency::IdempotencyKey::parse(&key).unwrap();
    let sealed = row.sealed.unwrap();
    assert!(
        idempotency_key
            .open(&row.client_id, None, row.format, &sealed)
            .is_err(),
        "the database and the Idempotency-Key alone open it"
    );
    let opened = idempotency_key
        .open(
            &row.client_id,
            app.server_key().as_ref(),
            row.format,
            &sealed,
        )
        .unwrap();
    assert_eq!(opened.status, 201);
    drop(dir);
}
storage_test!(a_stored_response_needs_the_server_key);

/// A key whose first request is still running answers 409 with a `Retry-After` after which
/// that request has certainly ended (the request timeout bounds it); a claim older than that
/// was left by a crash and is taken over.
async fn an_in_progress_key_gives_a_true_retry_after(backend: Backend) {
    use madoguchi::store::entities::idempotency_record;
    use sea_orm::{ActiveModelTrait, Set};
    let app = crate::helpers::spawn_app_with(backend, |s| {
        s.http.request_timeout_seconds = 20;
    })
    .await;
    let admin = app.admin_token().await;
    let client_id =
        jsonwebtoken::dangerous::insecure_decode_claims::<Value>(&admin).unwrap()["client_id"]
            .as_str()
            .unwrap()
            .to_owned();
    let claim = |key: &str, body: &Value, age_seconds: i64| {
        let now = chrono::Utc::now();
        idempotency_record::ActiveModel {
            client_id: Set(client_id.clone()),
            key_hash: Set(madoguchi::idempotency::IdempotencyKey::parse(key)
                .unwrap()
                .lookup_hash(&client_id)),
            fingerprint: Set(madoguchi::idempotency::fingerprint(
                "POST",
                "/v1/admin/municipalities",
                &serde_json::to_vec(body).unwrap(),
            )),
            state: Set("in_progress".to_owned()),
            sealed: Set(None),
            created_at: Set(now - chrono::Duration::seconds(age_seconds)),
            expires_at: Set(now + chrono::Duration::hours(1)),
            size: Set(0),
            format: Set(2),
        }
    };

    let running = uuid::Uuid::new_v4().to_string();
    let body = json!({"lgCode": "131016", "name": "千代田区"});
    claim(&running, &body, 5)
        .insert(app.store.connection())
        .await
        .unwrap();
    let busy = post(&app, &admin, "/v1/admin/municipalities", &running, &body).await;
    let wait: u64 = busy.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // 20 s timeout + 5 s margin − 5 s already running.
    assert!((19..=21).contains(&wait), "Retry-After {wait}");
    problem(busy, StatusCode::CONFLICT, "idempotency_in_progress").await;

    let crashed = uuid::Uuid::new_v4().to_string();
    let body = json!({"lgCode": "011002", "name": "札幌市"});
    claim(&crashed, &body, 26)
        .insert(app.store.connection())
        .await
        .unwrap();
    let retry = post(&app, &admin, "/v1/admin/municipalities", &crashed, &body).await;
    assert_eq!(
        retry.status(),
        StatusCode::CREATED,
        "an abandoned claim is taken over"
    );
}
storage_test!(an_in_progress_key_gives_a_true_retry_after);

/// A client that goes away mid-request does not leave its key locked: the retry runs (or
/// replays), and the change happens once. PostgreSQL only: to hold a request after its key
/// is claimed, the test locks the audit table; SQLite has one write lock for everything, so
/// the claim itself would wait and nothing would be claimed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_request_leaves_its_key_free() {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let app = spawn_app(Backend::Postgres).await;
    let admin = app.admin_token().await;
    let key = uuid::Uuid::new_v4().to_string();
    let body = json!({"lgCode": "131016", "name": "千代田区"});

    let blocker = app.store.connection().begin().await.unwrap();
    blocker
        .execute_unprepared("LOCK TABLE audit_events IN EXCLUSIVE MODE")
        .await
        .unwrap();
    // The client sends its request, waits, then resets the connection (RST), as a counter PC
    // losing its network does.
    let payload = serde_json::to_vec(&body).unwrap();
    let head = format!(
        "POST /v1/admin/municipalities HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer {admin}\r\nIdempotency-Key: {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        payload.len()
    );
    let mut connection = tokio::net::TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut connection, &[head.as_bytes(), &payload].concat())
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    assert_eq!(stored_rows(&app).await.len(), 1, "its key is claimed");
    // SO_LINGER 0 makes the close a reset; it cannot block here, as nothing is left to send.
    #[allow(deprecated)]
    connection
        .set_linger(Some(std::time::Duration::ZERO))
        .unwrap();
    drop(connection);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    blocker.rollback().await.unwrap();

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let retry = post(&app, &admin, "/v1/admin/municipalities", &key, &body).await;
        match retry.status() {
            StatusCode::CREATED => break,
            StatusCode::CONFLICT => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the key stayed locked after its client went away"
                );
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            other => panic!("unexpected {other}: {}", retry.text().await.unwrap()),
        }
    }
    let created = app
        .store
        .list_audit(&"131016".parse().unwrap(), None, 10)
        .await
        .unwrap()
        .items
        .iter()
        .filter(|e| e.action == "municipality.create")
        .count();
    assert_eq!(created, 1, "registered once");
}
