//! Tokens of a trusted external issuer, verified against its JWKS (fetched and cached).
//! Verification only: these run on SQLite.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix_web::{App, HttpResponse, HttpServer, web};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, Header};
use madoguchi::auth::SigningKey;
use madoguchi::config::ExternalIssuer;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, problem, spawn_app_with};

const ISSUER: &str = "https://idp.example.lg.jp";

struct Idp {
    key: SigningKey,
    jwks_url: String,
    fetches: Arc<AtomicUsize>,
    handle: actix_web::dev::ServerHandle,
}

/// A JWKS endpoint that counts how often it is asked.
async fn idp() -> Idp {
    let (key, _) = SigningKey::generate().unwrap();
    let set = JwkSet {
        keys: vec![key.jwk.clone()],
    };
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = fetches.clone();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        let set = set.clone();
        let counter = counter.clone();
        App::new().route(
            "/jwks",
            web::get().to(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                let set = set.clone();
                async move { HttpResponse::Ok().json(set) }
            }),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    Idp {
        key,
        jwks_url: format!("http://127.0.0.1:{port}/jwks"),
        fetches,
        handle,
    }
}

/// An RFC 9068 access token (`typ: at+jwt`) of the external issuer.
fn mint(key: &SigningKey, kid: &str, claims: &Value) -> String {
    mint_typed(key, kid, claims, Some("at+jwt"))
}

fn mint_typed(key: &SigningKey, kid: &str, claims: &Value, typ: Option<&str>) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(kid.to_owned());
    header.typ = typ.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &key.encoding).unwrap()
}

fn claims(municipalities: &[&str]) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "iss": ISSUER, "aud": "madoguchi", "sub": "vendor-b-app", "azp": "vendor-b-app",
        "exp": now + 300, "iat": now,
        "scp": ["municipalities:read", "openid"],
        "municipalities": municipalities,
    })
}

/// The test IdP serves its keys over plain http on loopback: allowed here, and only here.
fn trusted(idp: &Idp) -> ExternalIssuer {
    ExternalIssuer {
        issuer: ISSUER.to_owned(),
        jwks_url: idp.jwks_url.clone(),
        audience: None,
        municipalities_claim: "municipalities".to_owned(),
        accept_any_typ: false,
        accept_sub_as_client_id: false,
        allow_http_jwks: true,
    }
}

async fn app_trusting(idp: &Idp) -> TestApp {
    let issuer = trusted(idp);
    spawn_app_with(Backend::Sqlite, move |s| {
        s.auth.external_issuers = vec![issuer];
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_tokens_are_held_to_strict_rules_unless_the_operator_relaxes_them() {
    let idp = idp().await;
    let strict = app_trusting(&idp).await;
    let id_token_like = mint_typed(&idp.key, &idp.key.kid, &claims(&["012084"]), Some("JWT"));
    let untyped = mint_typed(&idp.key, &idp.key.kid, &claims(&["012084"]), None);
    let mut user_only = claims(&["012084"]);
    user_only.as_object_mut().unwrap().remove("azp");
    let user_only = mint(&idp.key, &idp.key.kid, &user_only);
    for token in [&id_token_like, &untyped, &user_only] {
        problem(
            strict.get("/v1/municipalities/012084", token).await,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        )
        .await;
    }

    let mut relaxed_issuer = trusted(&idp);
    relaxed_issuer.accept_any_typ = true;
    relaxed_issuer.accept_sub_as_client_id = true;
    let relaxed = spawn_app_with(Backend::Sqlite, move |s| {
        s.auth.external_issuers = vec![relaxed_issuer];
    })
    .await;
    for token in [&id_token_like, &untyped, &user_only] {
        assert_eq!(
            relaxed
                .get("/v1/municipalities/012084", token)
                .await
                .status(),
            StatusCode::OK
        );
    }

    // A JWKS fetched over plain http could be swapped on the way: refused unless allowed.
    let mut plain = madoguchi::config::Settings::default();
    let mut issuer = trusted(&idp);
    issuer.allow_http_jwks = false;
    plain.auth.external_issuers = vec![issuer];
    let err = plain.check().unwrap_err().to_string();
    assert!(
        err.contains("plain http://") && err.contains("allow_http_jwks"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_of_a_trusted_issuer_are_accepted_within_their_grants() {
    let idp = idp().await;
    let app = app_trusting(&idp).await;
    app.register_municipality("131016", "千代田区").await;
    let token = mint(&idp.key, &idp.key.kid, &claims(&["012084"]));

    let own = app.get("/v1/municipalities/012084", &token).await;
    assert_eq!(own.status(), StatusCode::OK);
    let other = app.get("/v1/municipalities/131016", &token).await;
    problem(other, StatusCode::FORBIDDEN, "municipality_forbidden").await;
    let patch = app
        .send_json(
            reqwest::Method::PATCH,
            "/v1/municipalities/012084",
            &token,
            &json!({"name": "北見市"}),
        )
        .await;
    problem(patch, StatusCode::FORBIDDEN, "insufficient_scope").await;

    // A second token of the same issuer uses the cached JWKS.
    let another = mint(&idp.key, &idp.key.kid, &claims(&["012084", "131016"]));
    assert_eq!(
        app.get("/v1/municipalities/131016", &another)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(idp.fetches.load(Ordering::SeqCst), 1, "the JWKS is cached");

    let refused_events = app
        .store
        .list_audit(&"131016".parse().unwrap(), None, 10)
        .await
        .unwrap();
    assert_eq!(
        refused_events.items[0].client_id.as_deref(),
        Some("vendor-b-app"),
        "the external client's id is what the audit log records"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_unknown_key_tokens_of_an_external_issuer_are_refused() {
    let idp = idp().await;
    let app = app_trusting(&idp).await;
    let (impostor, _) = SigningKey::generate().unwrap();

    let forged = mint(&impostor, &idp.key.kid, &claims(&["012084"]));
    problem(
        app.get("/v1/municipalities/012084", &forged).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;

    let unknown_kid = mint(&impostor, &impostor.kid, &claims(&["012084"]));
    problem(
        app.get("/v1/municipalities/012084", &unknown_kid).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    // The unknown kid made one refetch (keys may have rotated); a second does not hammer.
    let after_first = idp.fetches.load(Ordering::SeqCst);
    let again = mint(&impostor, &impostor.kid, &claims(&["012084"]));
    app.get("/v1/municipalities/012084", &again).await;
    assert_eq!(idp.fetches.load(Ordering::SeqCst), after_first);

    let mut wrong_audience = claims(&["012084"]);
    wrong_audience["aud"] = json!("another-gateway");
    let token = mint(&idp.key, &idp.key.kid, &wrong_audience);
    problem(
        app.get("/v1/municipalities/012084", &token).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_jwks_is_a_503_not_a_401() {
    let idp = idp().await;
    let app = app_trusting(&idp).await;
    idp.handle.stop(false).await;
    let token = mint(&idp.key, &idp.key.kid, &claims(&["012084"]));
    let answer = app.get("/v1/municipalities/012084", &token).await;
    assert_eq!(answer.headers()["retry-after"], "30");
    problem(
        answer,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    )
    .await;
}
