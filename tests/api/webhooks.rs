//! A vendor's webhook endpoint, beyond the messages themselves: a test message on demand,
//! signed as every message is, and a secret rotation during which each message carries both
//! signatures. Each body is checked against the contract's `webhooks` section.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::delivery::{allow_loopback, eventually, expected_signature, webhook_receiver};
use crate::helpers::{Backend, TestApp, problem, spawn_app_with};
use crate::pull::{applications, submitted_visit};
use crate::storage_test;
use crate::visits::send;

const HOOKS: &str = "/v1/municipalities/012084/webhooks";

/// Whether `value` is what the contract's `webhooks` section says the event `name` carries.
pub(crate) async fn conforms(app: &TestApp, name: &str, value: &Value) -> Result<(), String> {
    let doc = app.get_public_json("/openapi.json").await;
    let schema_ref = doc["webhooks"][name]["post"]["requestBody"]["content"]["application/json"]
        ["schema"]["$ref"]
        .as_str()
        .ok_or(format!("no event {name} in the contract"))?
        .to_owned();
    app.conforms_to(&schema_ref, value).await
}

/// Registers an endpoint at `url`; the answer (with its secret).
async fn register(app: &TestApp, token: &str, url: &str) -> Value {
    let r = send(app, Method::POST, HOOKS, token, Some(&json!({"url": url}))).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json().await.unwrap()
}

/// POSTs nothing to `path`; the JSON answer.
async fn post_json(app: &TestApp, token: &str, path: &str) -> Value {
    send(app, Method::POST, path, token, None)
        .await
        .json()
        .await
        .unwrap()
}

/// The signatures of a `webhook-signature` header.
fn signatures(header: &str) -> Vec<&str> {
    header.split(' ').collect()
}

async fn a_vendor_tests_its_receiver_and_rotates_its_secret(backend: Backend) {
    let app = spawn_app_with(backend, allow_loopback).await;
    let token = app.demo_token().await;
    let (url, received) = webhook_receiver(0).await;
    let created = register(&app, &token, &url).await;
    let id = created["webhookId"].as_str().unwrap().to_owned();
    let first_secret = created["secret"].as_str().unwrap().to_owned();
    let at = |p: &str| format!("{HOOKS}/{id}/{p}");

    // A test message, now: signed with the secret, as the contract describes it.
    let result = post_json(&app, &token, &at("test")).await;
    assert_eq!(result["delivered"], true, "{result}");
    let (headers, body) = received.lock().unwrap().requests[0].clone();
    assert_eq!(headers["webhook-id"], result["messageId"].as_str().unwrap());
    assert_eq!(
        headers["webhook-signature"],
        expected_signature(
            &first_secret,
            &headers["webhook-id"],
            &headers["webhook-timestamp"],
            &body
        )
    );
    let event: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(event["type"], "webhook.test");
    assert_eq!(event["data"]["webhookId"], id.as_str());
    conforms(&app, "webhook.test", &event).await.unwrap();

    // A rotation: the new secret once; both sign until the overlap ends.
    let rotated = send(&app, Method::POST, &at("rotate-secret"), &token, None).await;
    assert_eq!(rotated.status(), StatusCode::OK);
    let rotated: Value = rotated.json().await.unwrap();
    let second_secret = rotated["secret"].as_str().unwrap().to_owned();
    assert!(second_secret.starts_with("whsec_"));
    assert_ne!(second_secret, first_secret);
    let until =
        chrono::DateTime::parse_from_rfc3339(rotated["previousSecretValidUntil"].as_str().unwrap())
            .unwrap();
    let hours =
        (until.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_minutes() as f64 / 60.0;
    assert!((23.5..=24.0).contains(&hours), "{hours} hours of overlap");
    let list = app.get_json(HOOKS, &token).await;
    assert!(list["items"][0].get("secret").is_none(), "never listed");

    let result = post_json(&app, &token, &at("test")).await;
    assert_eq!(result["delivered"], true);
    let (headers, body) = received.lock().unwrap().requests[1].clone();
    let (msg, ts) = (&headers["webhook-id"], &headers["webhook-timestamp"]);
    assert_eq!(
        signatures(&headers["webhook-signature"]),
        [
            expected_signature(&second_secret, msg, ts, &body).as_str(),
            expected_signature(&first_secret, msg, ts, &body).as_str(),
        ],
        "the new secret's signature, then the old one's"
    );

    // Another client cannot test or rotate this endpoint; an unknown one is 404.
    let other = app.register_client(&["visits"], &["012084"]).await;
    let other = app.token_for(&other.id, &other.secret).await;
    for path in [at("test"), at("rotate-secret")] {
        let r = send(&app, Method::POST, &path, &other, None).await;
        problem(r, StatusCode::NOT_FOUND, "not_found").await;
    }
    let r = send(
        &app,
        Method::POST,
        &format!("{HOOKS}/{}/test", uuid::Uuid::now_v7()),
        &token,
        None,
    )
    .await;
    problem(r, StatusCode::NOT_FOUND, "not_found").await;

    // A receiver that fails: the answer says so, and why.
    let (failing_url, _) = webhook_receiver(usize::MAX).await;
    let failing = register(&app, &token, &failing_url).await;
    let r = post_json(
        &app,
        &token,
        &format!("{HOOKS}/{}/test", failing["webhookId"].as_str().unwrap()),
    )
    .await;
    assert_eq!(r["delivered"], false);
    assert!(r["error"].as_str().unwrap().contains("HTTP 500"), "{r}");
}
storage_test!(a_vendor_tests_its_receiver_and_rotates_its_secret);

/// A vendor sees what was sent to its endpoint and has one message sent again: the same
/// `webhook-id`, the same body.
async fn a_vendor_lists_its_messages_and_has_one_sent_again(backend: Backend) {
    let app = spawn_app_with(backend, allow_loopback).await;
    let token = app.demo_token().await;
    let (url, received) = webhook_receiver(0).await;
    let created = register(&app, &token, &url).await;
    let id = created["webhookId"].as_str().unwrap().to_owned();
    let at = |p: &str| format!("{HOOKS}/{id}/{p}");

    // The core system accepts the application: one application.updated message.
    let visit = submitted_visit(&app, &token).await;
    let listed = applications(&app, &token, &visit).await;
    let application = &listed["items"][0];
    let core = app.register_client(&["link"], &["012084"]).await;
    let core = app.token_for(&core.id, &core.secret).await;
    let r = app
        .http
        .post(app.url(&format!(
            "/v1/municipalities/012084/link/{}/applications/{}/ack",
            application["area"].as_str().unwrap(),
            application["id"].as_str().unwrap()
        )))
        .bearer_auth(&core)
        .json(&json!({"outcome": "accepted"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let first = eventually("the message received", || async {
        received.lock().unwrap().requests.first().cloned()
    })
    .await;

    let page = eventually("the message listed as delivered", || async {
        let page = app.get_json(&at("messages"), &token).await;
        (page["items"][0]["state"] == "delivered").then_some(page)
    })
    .await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{page}");
    let message = &items[0];
    assert_eq!(message["messageId"], first.0["webhook-id"].as_str());
    assert_eq!(message["type"], "application.updated");
    assert_eq!(message["payload"]["data"]["state"], "accepted");
    assert_eq!(message["attempts"], 1);
    assert!(page.get("nextCursor").is_none_or(Value::is_null));

    // Sent again: the same id and body reach the receiver once more.
    let message_id = message["messageId"].as_str().unwrap();
    let r = send(
        &app,
        Method::POST,
        &at(&format!("messages/{message_id}/resend")),
        &token,
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let again = eventually("the message received again", || async {
        received.lock().unwrap().requests.get(1).cloned()
    })
    .await;
    assert_eq!(again.0["webhook-id"], first.0["webhook-id"]);
    assert_eq!(again.1, first.1);
    assert_eq!(
        again.0["webhook-signature"],
        expected_signature(
            created["secret"].as_str().unwrap(),
            &again.0["webhook-id"],
            &again.0["webhook-timestamp"],
            &again.1
        )
    );

    // Not another client's endpoint, not a message of another endpoint, not a bad limit.
    let other = app.register_client(&["visits"], &["012084"]).await;
    let other = app.token_for(&other.id, &other.secret).await;
    let r = send(&app, Method::GET, &at("messages"), &other, None).await;
    problem(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = send(
        &app,
        Method::POST,
        &at(&format!("messages/{}/resend", uuid::Uuid::now_v7())),
        &token,
        None,
    )
    .await;
    problem(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = send(
        &app,
        Method::GET,
        &format!("{}?limit=0", at("messages")),
        &token,
        None,
    )
    .await;
    problem(r, StatusCode::BAD_REQUEST, "invalid_request").await;
}
storage_test!(a_vendor_lists_its_messages_and_has_one_sent_again);
