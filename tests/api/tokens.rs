//! `POST /oauth/token`, `/.well-known/jwks.json`, and how `/v1` treats bad tokens.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, problem, spawn_app};
use crate::storage_test;

const KITAMI: &str = "/v1/municipalities/012084";

async fn jwks(app: &TestApp) -> JwkSet {
    serde_json::from_value(app.get_public_json("/.well-known/jwks.json").await).unwrap()
}

async fn both_client_authentication_methods_issue_verifiable_tokens(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.demo.client_id.to_string();
    let secret = app.demo.client_secret.clone();

    // client_secret_post
    let post = app.request_token(&id, &secret, None).await;
    assert_eq!(post.status(), StatusCode::OK);
    assert_eq!(post.headers()["cache-control"], "no-store");
    let post: Value = post.json().await.unwrap();
    assert_eq!(post["token_type"], "Bearer");
    assert_eq!(post["expires_in"], 300);
    assert_eq!(
        post["scope"],
        "municipalities:read municipalities:write audit:read forms visits"
    );

    // client_secret_basic
    let basic = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::OK);
    let basic: Value = basic.json().await.unwrap();

    // A vendor verifies the token with nothing but the published JWKS.
    let set = jwks(&app).await;
    for token in [&post["access_token"], &basic["access_token"]] {
        let token = token.as_str().unwrap();
        let header = jsonwebtoken::decode_header(token).unwrap();
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(header.alg, Algorithm::ES256);
        let jwk = set
            .find(header.kid.as_deref().unwrap())
            .expect("kid in JWKS");
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_audience(&["madoguchi"]);
        let claims =
            jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
                .unwrap()
                .claims;
        assert_eq!(claims["client_id"], id);
        assert_eq!(claims["sub"], id);
        assert_eq!(claims["municipalities"], json!(["012084"]));
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            300
        );
        assert!(claims["jti"].as_str().is_some());
    }
    let served = app
        .get(KITAMI, post["access_token"].as_str().unwrap())
        .await;
    assert_eq!(served.status(), StatusCode::OK);
}
storage_test!(both_client_authentication_methods_issue_verifiable_tokens);

/// A vendor's OAuth2 library (the `oauth2` crate) gets a token and understands a refusal.
async fn an_oauth2_library_talks_to_the_token_endpoint(backend: Backend) {
    use oauth2::basic::BasicClient;
    use oauth2::{ClientId, ClientSecret, Scope, TokenResponse, TokenUrl};

    let app = spawn_app(backend).await;
    let http = app.http.clone();
    let send = move |request: oauth2::HttpRequest| {
        let http = http.clone();
        async move {
            let (parts, body) = request.into_parts();
            let mut builder = http
                .request(
                    parts.method.as_str().parse().unwrap(),
                    parts.uri.to_string(),
                )
                .body(body);
            for (name, value) in &parts.headers {
                builder = builder.header(name.as_str(), value.as_bytes());
            }
            let response = builder.send().await?;
            let mut out = oauth2::http::Response::builder().status(response.status().as_u16());
            for (name, value) in response.headers() {
                out = out.header(name.as_str(), value.as_bytes());
            }
            let body = response.bytes().await?.to_vec();
            Ok::<_, reqwest::Error>(out.body(body).unwrap())
        }
    };
    let client = BasicClient::new(ClientId::new(app.demo.client_id.to_string()))
        .set_client_secret(ClientSecret::new(app.demo.client_secret.clone()))
        .set_token_uri(TokenUrl::new(app.url("/oauth/token")).unwrap());
    let token = client
        .exchange_client_credentials()
        .add_scope(Scope::new("municipalities:read".into()))
        .request_async(&send)
        .await
        .expect("token through the oauth2 crate");
    assert_eq!(token.scopes().unwrap()[0].as_str(), "municipalities:read");
    let answer = app.get(KITAMI, token.access_token().secret()).await;
    assert_eq!(answer.status(), StatusCode::OK);

    let wrong = BasicClient::new(ClientId::new(app.demo.client_id.to_string()))
        .set_client_secret(ClientSecret::new("mdgs_wrong".into()))
        .set_token_uri(TokenUrl::new(app.url("/oauth/token")).unwrap());
    match wrong
        .exchange_client_credentials()
        .request_async(&send)
        .await
    {
        Err(oauth2::RequestTokenError::ServerResponse(e)) => {
            assert_eq!(e.error().as_ref(), "invalid_client")
        }
        other => panic!("expected invalid_client, got {other:?}"),
    }
}
storage_test!(an_oauth2_library_talks_to_the_token_endpoint);

async fn the_token_endpoint_refuses_what_it_must(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.demo.client_id.to_string();
    let secret = app.demo.client_secret.clone();

    let wrong_secret = app.request_token(&id, "mdgs_not-the-secret", None).await;
    assert_eq!(
        wrong_secret.headers()["www-authenticate"],
        "Basic realm=\"madoguchi\""
    );
    let body = problem(wrong_secret, StatusCode::UNAUTHORIZED, "invalid_client").await;
    assert_eq!(
        body["error"], "invalid_client",
        "RFC 6749 member for OAuth libraries"
    );

    let unknown = app
        .request_token(&uuid::Uuid::now_v7().to_string(), &secret, None)
        .await;
    problem(unknown, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let not_uuid = app.request_token("vendor-a", &secret, None).await;
    problem(not_uuid, StatusCode::UNAUTHORIZED, "invalid_client").await;

    let no_grant = app
        .http
        .post(app.url("/oauth/token"))
        .form(&[
            ("client_id", id.as_str()),
            ("client_secret", secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    problem(no_grant, StatusCode::BAD_REQUEST, "invalid_request").await;

    let password = app
        .http
        .post(app.url("/oauth/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", "x"),
            ("password", "y"),
        ])
        .send()
        .await
        .unwrap();
    let body = problem(password, StatusCode::BAD_REQUEST, "unsupported_grant_type").await;
    assert_eq!(body["error"], "unsupported_grant_type");

    let both = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id.as_str()),
            ("client_secret", secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    problem(both, StatusCode::BAD_REQUEST, "invalid_request").await;

    let not_granted = app.request_token(&id, &secret, Some("admin")).await;
    let body = problem(not_granted, StatusCode::BAD_REQUEST, "invalid_scope").await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("municipalities:read")
    );
    let unknown_scope = app.request_token(&id, &secret, Some("forms:write")).await;
    problem(unknown_scope, StatusCode::BAD_REQUEST, "invalid_scope").await;

    let narrower = app
        .request_token(&id, &secret, Some("municipalities:read"))
        .await;
    let narrower: Value = narrower.json().await.unwrap();
    assert_eq!(narrower["scope"], "municipalities:read");
    let token = narrower["access_token"].as_str().unwrap();
    let patch = app
        .send_json(
            reqwest::Method::PATCH,
            KITAMI,
            token,
            &json!({"name": "北見市"}),
        )
        .await;
    problem(patch, StatusCode::FORBIDDEN, "insufficient_scope").await;

    let json_body = app
        .http
        .post(app.url("/oauth/token"))
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    problem(
        json_body,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;

    let malformed_basic = app
        .http
        .post(app.url("/oauth/token"))
        .header("authorization", "Basic !!!")
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    problem(malformed_basic, StatusCode::UNAUTHORIZED, "invalid_client").await;
}
storage_test!(the_token_endpoint_refuses_what_it_must);

async fn a_revoked_client_gets_no_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app
        .register_client(&["municipalities:read"], &["012084"])
        .await;
    app.token_for(&client.id, &client.secret).await;
    madoguchi::auth::revoke_client(
        &app.store,
        client.id.parse().unwrap(),
        &madoguchi::audit::Actor::cli(),
    )
    .await
    .unwrap();
    let refused = app.request_token(&client.id, &client.secret, None).await;
    problem(refused, StatusCode::UNAUTHORIZED, "invalid_client").await;
}
storage_test!(a_revoked_client_gets_no_token);

/// Signs `claims` with the gateway's own key, as an attacker with a stolen token could not.
async fn sign_with_gateway_key(app: &TestApp, header: Header, claims: &Value) -> String {
    let key = app
        .store
        .signing_keys(app.server_key().as_ref())
        .await
        .unwrap()
        .remove(0);
    let mut header = header;
    header.kid = Some(key.kid.clone());
    // As the gateway signs: with the low s (see `auth::es256`).
    madoguchi::auth::es256::with_low_s(
        &jsonwebtoken::encode(&header, claims, &key.encoding).unwrap(),
    )
}

fn access_header() -> Header {
    let mut header = Header::new(Algorithm::ES256);
    header.typ = Some("at+jwt".into());
    header
}

async fn bad_tokens_get_401_with_a_bearer_challenge(backend: Backend) {
    let app = spawn_app(backend).await;

    let missing = app.http.get(app.url(KITAMI)).send().await.unwrap();
    assert_eq!(
        missing.headers()["www-authenticate"],
        "Bearer realm=\"madoguchi\""
    );
    problem(missing, StatusCode::UNAUTHORIZED, "missing_token").await;

    let basic_instead = app
        .http
        .get(app.url(KITAMI))
        .basic_auth("a", Some("b"))
        .send()
        .await
        .unwrap();
    problem(basic_instead, StatusCode::UNAUTHORIZED, "missing_token").await;

    let garbage = app.get(KITAMI, "not-a-jwt").await;
    let challenge = garbage.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.starts_with("Bearer realm=\"madoguchi\", error=\"invalid_token\""));
    problem(garbage, StatusCode::UNAUTHORIZED, "invalid_token").await;

    // Tampered: the payload claims another municipality, the signature is the original one.
    let token = app.demo_token().await;
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    claims["municipalities"] = json!(["012084", "131016"]);
    parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
    let tampered = app.get(KITAMI, &parts.join(".")).await;
    let body = problem(tampered, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert!(body["detail"].as_str().unwrap().contains("署名"), "{body}");

    // The mirror of the signature (r, n − s) verifies mathematically; it is refused.
    let token = app.demo_token().await;
    assert_eq!(app.get(KITAMI, &token).await.status(), StatusCode::OK);
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let mut signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
    // P-256's order, from SEC 2 (2.4.2).
    let order =
        hex::decode("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551").unwrap();
    let mut borrow = 0i16;
    for i in (32..64).rev() {
        let d = i16::from(order[i - 32]) - i16::from(signature[i]) - borrow;
        borrow = i16::from(d < 0);
        signature[i] = (d + 256 * borrow) as u8;
    }
    let mirrored = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(&signature));
    let mirrored = app.get(KITAMI, &mirrored).await;
    problem(mirrored, StatusCode::UNAUTHORIZED, "invalid_token").await;

    let now = chrono::Utc::now().timestamp();
    let claims = |exp: i64, iss: &str, aud: &str| {
        json!({
            "iss": iss, "sub": "x", "aud": aud, "exp": exp, "iat": now - 600, "nbf": now - 600,
            "jti": "j", "client_id": app.demo.client_id.to_string(),
            "scope": "municipalities:read", "municipalities": ["012084"],
        })
    };
    let issuer = app.settings.issuer();

    let expired = sign_with_gateway_key(
        &app,
        access_header(),
        &claims(now - 120, &issuer, "madoguchi"),
    )
    .await;
    let expired = app.get(KITAMI, &expired).await;
    let challenge = expired.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.contains("expired"), "{challenge}");
    let body = problem(expired, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert!(body["detail"].as_str().unwrap().contains("有効期限"));

    let other_audience = sign_with_gateway_key(
        &app,
        access_header(),
        &claims(now + 60, &issuer, "someone-else"),
    )
    .await;
    problem(
        app.get(KITAMI, &other_audience).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;

    let other_issuer = sign_with_gateway_key(
        &app,
        access_header(),
        &claims(now + 60, "https://evil.example", "madoguchi"),
    )
    .await;
    problem(
        app.get(KITAMI, &other_issuer).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;

    let id_token_type = sign_with_gateway_key(
        &app,
        Header::new(Algorithm::ES256),
        &claims(now + 60, &issuer, "madoguchi"),
    )
    .await;
    problem(
        app.get(KITAMI, &id_token_type).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;

    // The same claims correctly signed pass: the refusals above are for the stated reasons.
    let good = sign_with_gateway_key(
        &app,
        access_header(),
        &claims(now + 60, &issuer, "madoguchi"),
    )
    .await;
    assert_eq!(app.get(KITAMI, &good).await.status(), StatusCode::OK);

    // A token signed by a key of its own, claiming the gateway's kid.
    let (foreign, _) = madoguchi::auth::SigningKey::generate().unwrap();
    let mut header = access_header();
    header.kid = Some(
        app.store
            .signing_keys(app.server_key().as_ref())
            .await
            .unwrap()[0]
            .kid
            .clone(),
    );
    let forged = jsonwebtoken::encode(
        &header,
        &claims(now + 60, &issuer, "madoguchi"),
        &foreign.encoding,
    )
    .unwrap();
    problem(
        app.get(KITAMI, &forged).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;

    // HS256 with the public key as secret (algorithm confusion) is refused.
    let jwks_text = app.get_public_text("/.well-known/jwks.json").await;
    let mut hs = Header::new(Algorithm::HS256);
    hs.typ = Some("at+jwt".into());
    let confused = jsonwebtoken::encode(
        &hs,
        &claims(now + 60, &issuer, "madoguchi"),
        &jsonwebtoken::EncodingKey::from_secret(jwks_text.as_bytes()),
    )
    .unwrap();
    problem(
        app.get(KITAMI, &confused).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
}
storage_test!(bad_tokens_get_401_with_a_bearer_challenge);

async fn the_jwks_publishes_only_public_keys(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let keys = body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kty"], "EC");
    assert_eq!(keys[0]["crv"], "P-256");
    assert_eq!(keys[0]["use"], "sig");
    assert!(keys[0].get("d").is_none());
}
storage_test!(the_jwks_publishes_only_public_keys);

/// The key generated on first start is kept: a restart (or another replica on the same
/// database) verifies tokens issued before it, and a second start makes no new demo client.
async fn the_signing_key_survives_a_restart(backend: Backend) {
    let first = spawn_app(backend).await;
    let token = first.demo_token().await;
    let kid_before = jwks(&first).await.keys[0].common.key_id.clone();

    let second = madoguchi::Application::build(first.settings.clone())
        .await
        .unwrap();
    assert!(
        second.demo_credentials().is_none(),
        "a second start prints no new secret"
    );
    let address = second.base_url().to_owned();
    tokio::spawn(second.run_until_stopped());
    let set: JwkSet = first
        .http
        .get(format!("{address}/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(set.keys.len(), 1);
    assert_eq!(set.keys[0].common.key_id, kid_before);
    let answer = first
        .http
        .get(format!("{address}{KITAMI}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
}
storage_test!(the_signing_key_survives_a_restart);

/// With `auth.signing_key_path` (a Kubernetes Secret, say) that key signs, and nothing is
/// generated into the database.
async fn a_configured_signing_key_is_used(backend: Backend) {
    use base64::engine::general_purpose::STANDARD;
    let (key, der) = madoguchi::auth::SigningKey::generate().unwrap();
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    );
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("signing-key.pem");
    std::fs::write(&path, pem).unwrap();

    let app = crate::helpers::spawn_app_with(backend, |s| {
        s.auth.signing_key_path = Some(path.clone());
    })
    .await;
    let set = jwks(&app).await;
    assert_eq!(set.keys.len(), 1);
    assert_eq!(set.keys[0].common.key_id.as_deref(), Some(key.kid.as_str()));
    let token = app.demo_token().await;
    assert_eq!(
        jsonwebtoken::decode_header(&token).unwrap().kid.as_deref(),
        Some(key.kid.as_str())
    );
    assert_eq!(app.get(KITAMI, &token).await.status(), StatusCode::OK);
    assert!(
        app.store
            .signing_keys(app.server_key().as_ref())
            .await
            .unwrap()
            .is_empty(),
        "no key was generated into the database"
    );

    std::fs::write(&path, "not a key").unwrap();
    let mut broken = app.settings.clone();
    broken.auth.signing_key_path = Some(path.clone());
    let err = match madoguchi::Application::build(broken).await {
        Ok(_) => panic!("a broken key file must stop start-up"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("signing-key.pem"), "{err}");
}
storage_test!(a_configured_signing_key_is_used);
