//! The token endpoint under wrong secrets: cheap checks, and callers who keep failing wait.

use std::net::IpAddr;

use reqwest::StatusCode;
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};
use serde_json::Value;

use crate::helpers::{Backend, TestApp, problem, spawn_app_with};
use crate::storage_test;

/// A token request sent from `address` (a loopback address of its own).
async fn token_from(app: &TestApp, address: &str, id: &str, secret: &str) -> reqwest::Response {
    let http = reqwest::Client::builder()
        .local_address(address.parse::<IpAddr>().unwrap())
        .build()
        .unwrap();
    http.post(app.url("/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
        ])
        .send()
        .await
        .unwrap()
}

async fn callers_who_keep_failing_wait_and_others_do_not(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.auth.lockout.address_failures = 3;
        s.auth.lockout.client_failures = 8;
        s.auth.lockout.max_seconds = 120;
    })
    .await;
    let victim = app.register_client(&["forms"], &["012084"]).await;
    // The victim's own server got a token before the attack.
    let home = token_from(&app, "127.0.0.8", &victim.id, &victim.secret).await;
    assert_eq!(home.status(), StatusCode::OK);

    // One attacking address: three wrong secrets are refused as usual…
    for _ in 0..3 {
        let refused = token_from(&app, "127.0.0.3", &victim.id, "mdgs_guess").await;
        problem(refused, StatusCode::UNAUTHORIZED, "invalid_client").await;
    }
    // …then the address must wait; trying on makes the wait grow (1 s, 2 s, 4 s …).
    until_refused_twice(&app, |_| "127.0.0.3".to_owned(), &victim).await;
    // The victim from there waits…
    let demo = (
        app.demo.client_id.to_string(),
        app.demo.client_secret.clone(),
    );
    let waiting = token_from(&app, "127.0.0.3", &victim.id, &victim.secret).await;
    let retry_after: u64 = waiting.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=120).contains(&retry_after), "{retry_after}");
    let body = problem(
        waiting,
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_failed_attempts",
    )
    .await;
    assert_eq!(
        body["error"], "temporarily_unavailable",
        "an RFC 6749 error"
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("retry")
    );

    // …but another client behind the same address (an ingress, a municipal NAT) is not held
    // back by failures that were not its own; nor is another address.
    let neighbour = token_from(&app, "127.0.0.3", &demo.0, &demo.1).await;
    assert_eq!(neighbour.status(), StatusCode::OK);
    // Unknown client ids from one address lock that address for unknown ids only.
    for _ in 0..3 {
        let unknown = uuid::Uuid::now_v7().to_string();
        token_from(&app, "127.0.0.4", &unknown, "mdgs_guess").await;
    }
    let spraying = token_from(&app, "127.0.0.4", &uuid::Uuid::now_v7().to_string(), "x").await;
    problem(
        spraying,
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_failed_attempts",
    )
    .await;
    let served = token_from(&app, "127.0.0.4", &demo.0, &demo.1).await;
    assert_eq!(served.status(), StatusCode::OK);
    let elsewhere = token_from(&app, "127.0.0.2", &demo.0, &demo.1).await;
    assert_eq!(elsewhere.status(), StatusCode::OK);

    // Failures for the victim from ever new addresses lock the victim for new addresses…
    until_refused_twice(&app, |n| format!("127.0.1.{n}"), &victim).await;
    let new_place = token_from(&app, "127.0.0.9", &victim.id, &victim.secret).await;
    problem(
        new_place,
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_failed_attempts",
    )
    .await;
    // …but not for the address its server authenticated from before.
    let home = token_from(&app, "127.0.0.8", &victim.id, &victim.secret).await;
    assert_eq!(
        home.status(),
        StatusCode::OK,
        "the attack cannot lock it out"
    );
}

/// Sends wrong secrets for `victim` (the n-th from `address(n)`) until two in a row are
/// refused with 429: the wait has then grown to at least 4 s, whatever the machine's speed.
async fn until_refused_twice(
    app: &TestApp,
    address: impl Fn(usize) -> String,
    victim: &crate::helpers::TestClient,
) {
    let mut in_a_row = 0;
    for n in 0..20 {
        let answer = token_from(app, &address(n), &victim.id, "mdgs_guess").await;
        match answer.status() {
            StatusCode::TOO_MANY_REQUESTS => in_a_row += 1,
            StatusCode::UNAUTHORIZED => in_a_row = 0,
            other => panic!("unexpected {other}"),
        }
        if in_a_row == 2 {
            return;
        }
    }
    panic!("wrong secrets were never refused with 429");
}
storage_test!(callers_who_keep_failing_wait_and_others_do_not);

/// After a restart the replica's memory is empty, but the database knows where the client
/// authenticated from: an attack right after a restart does not lock out its home address.
async fn a_restart_does_not_forget_where_a_client_is_at_home(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.auth.lockout.address_failures = 3;
        s.auth.lockout.client_failures = 8;
        s.auth.lockout.max_seconds = 120;
    })
    .await;
    let victim = app.register_client(&["forms"], &["012084"]).await;
    let home = token_from(&app, "127.0.0.8", &victim.id, &victim.secret).await;
    assert_eq!(home.status(), StatusCode::OK);

    let (settings, demo) = (app.settings.clone(), app.demo.clone());
    app.handle.stop(false).await;
    let restarted = crate::helpers::restart(settings, demo).await;
    until_refused_twice(&restarted, |n| format!("127.0.2.{n}"), &victim).await;
    let new_place = token_from(&restarted, "127.0.0.9", &victim.id, &victim.secret).await;
    problem(
        new_place,
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_failed_attempts",
    )
    .await;
    let home = token_from(&restarted, "127.0.0.8", &victim.id, &victim.secret).await;
    assert_eq!(
        home.status(),
        StatusCode::OK,
        "the home address is remembered across the restart"
    );
}
storage_test!(a_restart_does_not_forget_where_a_client_is_at_home);

/// Secrets stored by earlier releases as argon2id hashes keep working, and are replaced by the
/// fast hash on first use.
async fn a_legacy_argon2_secret_hash_is_replaced_on_first_use(backend: Backend) {
    use argon2::password_hash::PasswordHasher;
    use madoguchi::store::entities::client;

    let app = spawn_app_with(backend, |_| {}).await;
    let old = app.register_client(&["forms"], &["012084"]).await;
    let legacy = argon2::Argon2::default()
        .hash_password(old.secret.as_bytes())
        .unwrap()
        .to_string();
    let id: uuid::Uuid = old.id.parse().unwrap();
    let row = client::Entity::find_by_id(id)
        .one(app.store.connection())
        .await
        .unwrap()
        .unwrap();
    let mut row = row.into_active_model();
    row.secret_hash = Set(legacy.clone());
    row.update(app.store.connection()).await.unwrap();

    let first = app.request_token(&old.id, &old.secret, None).await;
    assert_eq!(first.status(), StatusCode::OK);
    let (_, stored) = app.store.client_with_secret(id).await.unwrap().unwrap();
    assert!(stored.starts_with("sha256$"), "{stored}");
    assert_ne!(stored, legacy);
    let body: Value = app
        .request_token(&old.id, &old.secret, None)
        .await
        .json()
        .await
        .unwrap();
    assert!(body["access_token"].is_string());
    let wrong = app.request_token(&old.id, "mdgs_wrong", None).await;
    problem(wrong, StatusCode::UNAUTHORIZED, "invalid_client").await;
}
storage_test!(a_legacy_argon2_secret_hash_is_replaced_on_first_use);
