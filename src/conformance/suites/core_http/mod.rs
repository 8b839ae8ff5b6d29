//! `core-http`: a core system's receiving endpoint for the gateway's `http` connector
//! (docs/link.md): it takes the standard application document, answers a repeat the same,
//! refuses what does not validate for good, answers errors as problem details, and takes
//! OAuth2 client-credentials tokens (and client certificates) where it is configured to.
//!
//! The base URL is the endpoint itself (`https://kokuho.example.lg.jp/api/applications`); the
//! kit sends what the connector sends, built from the forms' own examples and specimens.

mod auth;
mod delivery;

pub use auth::token_request;

use serde_json::{Value, json};
use uuid::Uuid;

use crate::conformance::exchange::{Reply, Req};
use crate::conformance::requirements::Capability;
use crate::conformance::suite::{Abort, CoreEndpoint, Ctx, ProblemShape, Suite, Target};

const OAUTH2: Capability = Capability::Oauth2;
const MUTUAL_TLS: Capability = Capability::MutualTls;

pub static SUITE: Suite = Suite {
    name: "core-http",
    set: "core-http",
    target: Target::CoreHttp,
    title_ja: "基幹システムの受信エンドポイントの適合性",
    title_en: "Conformance of a core system's receiving endpoint",
    tests: &[
        test!(
            "auth.token",
            "クライアントクレデンシャルでトークン",
            "A token by client credentials",
            auth::token,
            needs = [OAUTH2],
            last = false
        ),
        test!(
            "auth.wrong-secret",
            "誤ったシークレットの拒否",
            "A wrong secret refused",
            auth::wrong_secret,
            needs = [OAUTH2],
            last = false
        ),
        test!(
            "auth.refused",
            "トークンのない文書と知らないトークンの拒否",
            "A document without a token or with a foreign one refused",
            auth::refused,
            needs = [OAUTH2],
            last = false
        ),
        test!(
            "tls.client-certificate",
            "クライアント証明書のない接続の拒否",
            "A connection without a client certificate refused",
            auth::client_certificate,
            needs = [MUTUAL_TLS],
            last = false
        ),
        test!(
            "delivery.accepts",
            "標準の申請文書の受付",
            "The standard application document taken",
            delivery::accepts
        ),
        test!(
            "delivery.repeat",
            "同じ Idempotency-Key の再送",
            "A repeat with the same Idempotency-Key",
            delivery::repeat
        ),
        test!(
            "delivery.invalid-form",
            "様式の検証に通らない文書の拒否",
            "A document whose form does not validate refused",
            delivery::invalid_form
        ),
        test!(
            "delivery.not-the-layout",
            "配置に合わない文書の拒否",
            "A document not in the layout refused",
            delivery::not_the_layout
        ),
    ],
};

/// The endpoint as the run set it up.
fn endpoint(ctx: &Ctx) -> Result<CoreEndpoint, Abort> {
    ctx.sut()
        .core
        .clone()
        .ok_or_else(|| Abort::Setup("the run has no core endpoint".to_owned()))
}

/// An application document as the connector sends it, for the kit's procedure, with a new
/// application id and `document` as its form document.
fn application(ctx: &Ctx, document: Value) -> Result<Value, Abort> {
    let core = endpoint(ctx)?;
    Ok(json!({
        "format": "madoguchi.application/1",
        "applicationId": Uuid::now_v7(),
        "visitId": Uuid::now_v7(),
        "localGovernmentCode": ctx.sut().lg_code,
        "area": core.area,
        "procedureId": core.procedure_id,
        "member": "m1",
        "form": core.form,
        "document": document,
        "submittedAt": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    }))
}

/// The request the connector makes for `doc`: POST with `Idempotency-Key` = its id, and a
/// bearer token when the endpoint takes them.
async fn delivery(ctx: &mut Ctx, doc: &Value) -> Result<Req, Abort> {
    let key = doc["applicationId"].as_str().unwrap_or_default().to_owned();
    let mut req = Req::post("")
        .header("Idempotency-Key", key)
        .json(doc.clone());
    if ctx.sut().capabilities.contains(&OAUTH2) {
        let token = auth::core_token(ctx).await?;
        req = req.bearer(&token);
    }
    Ok(req)
}

/// ERR-001: an error as RFC 9457 problem details, its `status` the answer's.
fn expect_problem_details(ctx: &mut Ctx, reply: &Reply) {
    let body = reply.value();
    let shape = ProblemShape::of(
        reply,
        [
            ("type", body["type"].is_string()),
            ("title", !body["title"].as_str().is_none_or(str::is_empty)),
            (
                "status (the answer's)",
                body["status"].as_u64() == Some(u64::from(reply.status.as_u16())),
            ),
        ],
    );
    let status = reply.status.as_u16();
    ctx.check(
        "ERR-001",
        shape.met(),
        "application/problem+json with type, title and status",
        shape.describe(&format!("{status} "), "application/problem+json"),
        Some(reply),
    );
}

/// A refusal for good, as the connector reads it: 400 or 422 (not 2xx; not 5xx, 408, 425 or
/// 429, which it tries again and again).
fn refused_for_good(reply: &Reply) -> bool {
    matches!(reply.status.as_u16(), 400 | 422)
}
