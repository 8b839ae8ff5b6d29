//! Tokens and certificates: the endpoint takes what the connector presents and nothing else.

use super::{application, delivery, endpoint, expect_problem_details};
use crate::conformance::exchange::{Reply, Req};
use crate::conformance::suite::{Abort, Credentials, Ctx, basic_credentials, describe_code};

/// The token request the connector makes: client credentials with client_secret_basic (the
/// id and secret form-encoded first, RFC 6749 §2.3.1), the configured scope if any.
pub fn token_request(token_url: &str, scope: Option<&str>, client: &Credentials) -> Req {
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(scope) = scope.filter(|s| !s.is_empty()) {
        form.push(("scope", scope));
    }
    Req::post(token_url)
        .header(
            "Authorization",
            basic_credentials(&client.id, &client.secret),
        )
        .form(&form)
}

/// [`token_request`] for the run's endpoint.
fn endpoint_token_request(ctx: &Ctx, client: &Credentials) -> Result<Req, Abort> {
    let core = endpoint(ctx)?;
    let token_url = core
        .token_url
        .ok_or_else(|| Abort::Setup("no token_url for the endpoint".to_owned()))?;
    Ok(token_request(&token_url, core.scope.as_deref(), client))
}

async fn fetch_token(ctx: &mut Ctx) -> Result<(Reply, Option<String>), Abort> {
    let client = ctx.client()?;
    let reply = ctx.send(endpoint_token_request(ctx, &client)?).await?;
    let body = reply.value();
    let token = body["access_token"]
        .as_str()
        .filter(|_| reply.status.is_success())
        .map(str::to_owned);
    if let Some(token) = &token {
        ctx.hold_token(
            (client.id.clone(), "core".to_owned()),
            token,
            body["expires_in"].as_u64(),
        );
    }
    Ok((reply, token))
}

/// A token of the core system, reused until shortly before it expires, as the connector does.
pub async fn core_token(ctx: &mut Ctx) -> Result<String, Abort> {
    let client = ctx.client()?;
    if let Some(token) = ctx.held_token(&(client.id.clone(), "core".to_owned())) {
        return Ok(token);
    }
    match fetch_token(ctx).await? {
        (_, Some(token)) => Ok(token),
        (reply, None) => Err(Abort::Setup(format!(
            "the core system's token endpoint gave no token: {} {}",
            reply.status.as_u16(),
            describe_code(&reply)
        ))),
    }
}

pub async fn token(ctx: &mut Ctx) -> Result<(), Abort> {
    let (reply, token) = fetch_token(ctx).await?;
    let body = reply.value();
    let bearer = body["token_type"]
        .as_str()
        .is_some_and(|t| t.eq_ignore_ascii_case("bearer"));
    let lifetime = body["expires_in"].as_u64().filter(|s| *s > 0);
    ctx.check(
        "AUTH-001",
        token.is_some() && bearer && lifetime.is_some(),
        "200 JSON with access_token, token_type Bearer and a positive expires_in",
        format!(
            "{}; access_token {}, token_type {}, expires_in {}",
            reply.status.as_u16(),
            if token.is_some() { "given" } else { "missing" },
            body["token_type"],
            body["expires_in"]
        ),
        Some(&reply),
    );
    Ok(())
}

pub async fn wrong_secret(ctx: &mut Ctx) -> Result<(), Abort> {
    let mut client = ctx.client()?;
    client.secret.push_str("-not-the-secret");
    let reply = ctx.send(endpoint_token_request(ctx, &client)?).await?;
    let error = reply.value()["error"].as_str().unwrap_or("").to_owned();
    ctx.check(
        "AUTH-003",
        matches!(reply.status.as_u16(), 400 | 401) && error == "invalid_client",
        "400 or 401 with error invalid_client",
        format!(
            "{} error {}",
            reply.status.as_u16(),
            if error.is_empty() { "(none)" } else { &error }
        ),
        Some(&reply),
    );
    Ok(())
}

pub async fn refused(ctx: &mut Ctx) -> Result<(), Abort> {
    let cases = [
        ("no token", None),
        (
            "a token the endpoint never issued",
            Some(format!("kit-{}", uuid::Uuid::now_v7().simple())),
        ),
    ];
    for (what, token) in cases {
        let doc = application(ctx, super::delivery::valid_document(ctx)?)?;
        let key = doc["applicationId"].as_str().unwrap_or_default().to_owned();
        let mut req = Req::post("").header("Idempotency-Key", key).json(doc);
        if let Some(token) = &token {
            req = req.bearer(token);
        }
        let reply = ctx.send(req).await?;
        ctx.check(
            "AUTH-002",
            reply.status.as_u16() == 401,
            format!("401 for {what}"),
            format!("{} {}", reply.status.as_u16(), describe_code(&reply)),
            Some(&reply),
        );
        if reply.status.as_u16() >= 400 {
            expect_problem_details(ctx, &reply);
        }
        if reply.status.as_u16() == 401 {
            let challenge = reply.header("www-authenticate").unwrap_or("");
            ctx.check(
                "AUTH-004",
                challenge
                    .split_whitespace()
                    .next()
                    .is_some_and(|s| s.trim_end_matches(',').eq_ignore_ascii_case("bearer")),
                "WWW-Authenticate: Bearer …",
                if challenge.is_empty() {
                    "no WWW-Authenticate".to_owned()
                } else {
                    format!("WWW-Authenticate: {challenge}")
                },
                Some(&reply),
            );
        }
    }
    Ok(())
}

pub async fn client_certificate(ctx: &mut Ctx) -> Result<(), Abort> {
    let doc = application(ctx, super::delivery::valid_document(ctx)?)?;
    let req = delivery(ctx, &doc).await?;
    let bare = ctx.shared.wire.without_identity().map_err(Abort::Setup)?;
    let sent = bare.send(ctx.test, req.clone()).await;
    // The same request with the certificate must get an answer: the refusal above is then
    // the certificate's doing, not a server that is down.
    let with_certificate = ctx.send(req).await?;
    let last = ctx
        .shared
        .wire
        .exchanges()
        .iter()
        .rev()
        .find(|e| e.test == ctx.test)
        .map(|e| e.n);
    match sent {
        Err(e) => {
            ctx.check_at(
                "TLS-001",
                true,
                "no answer, or 401 or 403, without a client certificate",
                format!(
                    "refused: {}; with the certificate: {}",
                    e.reason,
                    with_certificate.status.as_u16()
                ),
                last,
            );
        }
        Ok(reply) => {
            ctx.check(
                "TLS-001",
                matches!(reply.status.as_u16(), 401 | 403),
                "no answer, or 401 or 403, without a client certificate",
                format!("{} {}", reply.status.as_u16(), describe_code(&reply)),
                Some(&reply),
            );
        }
    }
    Ok(())
}
