//! Tokens: both client authentication methods, the token's shape and lifetime, scopes, and
//! tokens that must be refused (forged, unsigned, edited, malleated).

use base64::Engine;
use serde_json::{Value, json};

use crate::conformance::exchange::{Reply, Req};
use crate::conformance::suite::{Abort, Ctx, basic_credentials, token_request};

const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The header and claims of a JWT, when it is one.
pub fn decode_jwt(token: &str) -> Option<(Value, Value)> {
    let mut parts = token.split('.');
    let mut part =
        || -> Option<Value> { serde_json::from_slice(&B64URL.decode(parts.next()?).ok()?).ok() };
    Some((part()?, part()?))
}

fn encode_part(value: &Value) -> String {
    B64URL.encode(value.to_string())
}

async fn token_by_basic(ctx: &mut Ctx, secret: &str) -> Result<Reply, Abort> {
    let id = ctx.client()?.id;
    ctx.send(
        Req::post("/oauth/token")
            .header("Authorization", basic_credentials(&id, secret))
            .form(&[("grant_type", "client_credentials")]),
    )
    .await
}

pub async fn client_secret_basic(ctx: &mut Ctx) -> Result<(), Abort> {
    let secret = ctx.client()?.secret;
    let reply = token_by_basic(ctx, &secret).await?;
    let body = reply.value();
    let token = body["access_token"].as_str().unwrap_or_default().to_owned();
    let ok = reply.status.as_u16() == 200
        && !token.is_empty()
        && body["token_type"]
            .as_str()
            .is_some_and(|t| t.eq_ignore_ascii_case("bearer"))
        && body["expires_in"].as_u64().is_some_and(|e| e > 0);
    ctx.check(
        "AUTH-001",
        ok,
        "200 with access_token, token_type Bearer, expires_in > 0",
        format!(
            "{} token_type={} expires_in={}",
            reply.status.as_u16(),
            body["token_type"],
            body["expires_in"]
        ),
        Some(&reply),
    );
    let Some((header, claims)) = decode_jwt(&token) else {
        ctx.check("AUTH-010", false, "a JWT", "not a JWT", Some(&reply));
        return Ok(());
    };
    let typ = header["typ"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let missing: Vec<&str> = ["iss", "exp", "aud", "sub", "client_id", "iat", "jti"]
        .into_iter()
        .filter(|c| claims.get(*c).is_none_or(Value::is_null))
        .collect();
    ctx.check(
        "AUTH-010",
        (typ == "at+jwt" || typ == "application/at+jwt") && missing.is_empty(),
        "typ at+jwt; iss, exp, aud, sub, client_id, iat, jti (RFC 9068 §2.2)",
        format!("typ {typ:?}; missing {missing:?}"),
        Some(&reply),
    );
    let expires_in = body["expires_in"].as_i64().unwrap_or(-1);
    let lifetime = claims["exp"].as_i64().unwrap_or(0) - claims["iat"].as_i64().unwrap_or(0);
    ctx.check(
        "AUTH-011",
        (1..=3600).contains(&expires_in) && (lifetime - expires_in).abs() <= 5,
        "expires_in ≤ 3600 and exp − iat = expires_in ± 5 s",
        format!("expires_in {expires_in}, exp − iat {lifetime}"),
        Some(&reply),
    );
    Ok(())
}

pub async fn client_secret_post(ctx: &mut Ctx) -> Result<(), Abort> {
    let client = ctx.client()?;
    let reply = ctx.send(token_request(&client, None)).await?;
    let body = reply.value();
    ctx.check(
        "AUTH-002",
        reply.status.as_u16() == 200
            && body["access_token"].as_str().is_some_and(|t| !t.is_empty()),
        "200 with access_token",
        format!(
            "{} {}",
            reply.status.as_u16(),
            if body["access_token"].is_string() {
                "with access_token"
            } else {
                "without access_token"
            }
        ),
        Some(&reply),
    );
    Ok(())
}

pub async fn wrong_secret(ctx: &mut Ctx) -> Result<(), Abort> {
    // A good authentication first: an address that authenticated is not locked out by the
    // failure that follows (and the kit's next runs are not either).
    ctx.token().await?;
    let reply = token_by_basic(ctx, "not-the-secret-of-this-client").await?;
    let error = reply.value()["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    ctx.check(
        "AUTH-003",
        reply.status.as_u16() == 401 && error == "invalid_client",
        "401 error=invalid_client",
        format!("{} error={error:?}", reply.status.as_u16()),
        Some(&reply),
    );
    ctx.expect_problem_shape(&reply);
    Ok(())
}

pub async fn unsupported_grant(ctx: &mut Ctx) -> Result<(), Abort> {
    let secret = ctx.client()?.secret;
    let id = ctx.client()?.id;
    let reply = ctx
        .send(
            Req::post("/oauth/token")
                .header("Authorization", basic_credentials(&id, &secret))
                .form(&[
                    ("grant_type", "password"),
                    ("username", "u"),
                    ("password", "p"),
                ]),
        )
        .await?;
    let error = reply.value()["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    ctx.check(
        "AUTH-004",
        reply.status.as_u16() == 400 && error == "unsupported_grant_type",
        "400 error=unsupported_grant_type",
        format!("{} error={error:?}", reply.status.as_u16()),
        Some(&reply),
    );
    Ok(())
}

pub async fn scope_narrowing(ctx: &mut Ctx) -> Result<(), Abort> {
    let client = ctx.client()?;
    let reply = ctx.send(token_request(&client, Some("forms"))).await?;
    let body = ctx.require_success(&reply, "a token for the scope forms")?;
    let token = body["access_token"].as_str().unwrap_or_default().to_owned();
    let claimed = decode_jwt(&token)
        .map(|(_, c)| c["scope"].as_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    ctx.check(
        "AUTH-005",
        body["scope"] == "forms" && claimed == "forms",
        "scope forms in the answer and in the token",
        format!("answer {}, token {claimed:?}", body["scope"]),
        Some(&reply),
    );
    let actor = ctx.sut().actor.clone();
    let outside = ctx
        .send(
            Req::get(ctx.muni("/visits"))
                .bearer(&token)
                .header("Madoguchi-Actor", actor),
        )
        .await?;
    ctx.expect_problem("AUTH-005", &outside, 403, "insufficient_scope");
    let inside = ctx.send(Req::get("/v1/forms").bearer(&token)).await?;
    ctx.check(
        "AUTH-005",
        inside.status.as_u16() == 200,
        "200 for a route of the scope",
        inside.status.as_u16().to_string(),
        Some(&inside),
    );
    Ok(())
}

pub async fn missing_token(ctx: &mut Ctx) -> Result<(), Abort> {
    let reply = ctx.send(Req::get("/v1/forms")).await?;
    let challenge = reply
        .header("www-authenticate")
        .unwrap_or_default()
        .to_owned();
    ctx.check(
        "AUTH-006",
        reply.status.as_u16() == 401 && challenge.to_ascii_lowercase().starts_with("bearer"),
        "401 with WWW-Authenticate: Bearer",
        format!("{} WWW-Authenticate {challenge:?}", reply.status.as_u16()),
        Some(&reply),
    );
    ctx.expect_problem_shape(&reply);
    Ok(())
}

/// Sends `token` where a good token gets 200, and checks it is refused with 401.
async fn refused(ctx: &mut Ctx, requirement: &str, token: &str, what: &str) -> Result<(), Abort> {
    let reply = ctx.send(Req::get("/v1/forms").bearer(token)).await?;
    ctx.check(
        requirement,
        reply.status.as_u16() == 401,
        format!("401 for {what}"),
        reply.status.as_u16().to_string(),
        Some(&reply),
    );
    Ok(())
}

async fn real_token(ctx: &mut Ctx) -> Result<(String, Value, Value), Abort> {
    let token = ctx.token().await?;
    let (header, claims) = decode_jwt(&token)
        .ok_or_else(|| Abort::Setup("the access token is not a JWT".to_owned()))?;
    Ok((token, header, claims))
}

pub async fn forged_token(ctx: &mut Ctx) -> Result<(), Abort> {
    let (_, header, claims) = real_token(ctx).await?;
    let (key, _) = crate::auth::SigningKey::generate()
        .map_err(|e| Abort::Setup(format!("the kit's own key: {e}")))?;
    let signing_input = format!("{}.{}", encode_part(&header), encode_part(&claims));
    let alg = jsonwebtoken::Algorithm::ES256;
    let signature = jsonwebtoken::crypto::sign(signing_input.as_bytes(), &key.encoding, alg)
        .map_err(|e| Abort::Setup(format!("signing the forged token: {e}")))?;
    refused(
        ctx,
        "AUTH-007",
        &format!("{signing_input}.{signature}"),
        "the same header and claims signed by another key",
    )
    .await
}

pub async fn alg_none(ctx: &mut Ctx) -> Result<(), Abort> {
    let (_, mut header, claims) = real_token(ctx).await?;
    header["alg"] = json!("none");
    let token = format!("{}.{}.", encode_part(&header), encode_part(&claims));
    refused(ctx, "AUTH-008", &token, "alg none and no signature").await
}

pub async fn tampered_claims(ctx: &mut Ctx) -> Result<(), Abort> {
    let (token, _, mut claims) = real_token(ctx).await?;
    let mut parts = token.split('.');
    let (header_part, _, signature) = (
        parts.next().unwrap_or_default(),
        parts.next(),
        parts.next().unwrap_or_default(),
    );
    claims["exp"] = json!(claims["exp"].as_i64().unwrap_or(0) + 86_400);
    let scope = claims["scope"].as_str().unwrap_or_default();
    claims["scope"] = json!(format!("{scope} admin").trim().to_owned());
    let edited = format!("{header_part}.{}.{signature}", encode_part(&claims));
    refused(
        ctx,
        "AUTH-009",
        &edited,
        "claims edited (exp + 1 day, scope + admin)",
    )
    .await
}

pub async fn signature_malleability(ctx: &mut Ctx) -> Result<(), Abort> {
    let (token, header, _) = real_token(ctx).await?;
    if header["alg"] != "ES256" {
        ctx.check(
            "AUTH-014",
            true,
            "not applicable unless ES256",
            format!("alg {}", header["alg"]),
            None,
        );
        return Ok(());
    }
    let Some(mirrored) = crate::auth::es256::mirrored(&token) else {
        return Err(Abort::Setup(
            "the ES256 signature is not 64 bytes".to_owned(),
        ));
    };
    refused(
        ctx,
        "AUTH-014",
        &mirrored,
        "the signature with s replaced by n − s",
    )
    .await
}

pub async fn jwks(ctx: &mut Ctx) -> Result<(), Abort> {
    let (token, header, _) = real_token(ctx).await?;
    let reply = ctx.send(Req::get("/.well-known/jwks.json")).await?;
    let body = reply.value();
    let kid = header["kid"].as_str().unwrap_or_default().to_owned();
    let key = body["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|k| k["kid"].as_str() == Some(kid.as_str()))
        .cloned();
    let verified = key.as_ref().is_some_and(|k| {
        let Ok(jwk) = serde_json::from_value::<jsonwebtoken::jwk::Jwk>(k.clone()) else {
            return false;
        };
        let Ok(decoding) = jsonwebtoken::DecodingKey::from_jwk(&jwk) else {
            return false;
        };
        let Ok(alg) = serde_json::from_value::<jsonwebtoken::Algorithm>(header["alg"].clone())
        else {
            return false;
        };
        let mut validation = jsonwebtoken::Validation::new(alg);
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        jsonwebtoken::decode::<Value>(&token, &decoding, &validation).is_ok()
    });
    ctx.check(
        "AUTH-012",
        reply.status.as_u16() == 200 && verified,
        format!("the key {kid} listed, and the token verifying with it"),
        match (&key, verified) {
            (None, _) => format!("{} without the key {kid}", reply.status.as_u16()),
            (Some(_), false) => "the key listed, the token not verifying with it".to_owned(),
            (Some(_), true) => "listed and verifying".to_owned(),
        },
        Some(&reply),
    );
    Ok(())
}
