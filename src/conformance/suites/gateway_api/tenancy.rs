//! Municipalities kept apart: a token acts only for its own.

use serde_json::json;

use crate::conformance::exchange::Req;
use crate::conformance::suite::{Abort, Credentials, Ctx};
use crate::tenancy::LgCode;

use super::visits::certificate_visit;

fn other(ctx: &Ctx) -> Result<(String, Credentials), Abort> {
    ctx.sut()
        .other
        .clone()
        .ok_or_else(|| Abort::Setup("no second municipality to test isolation with".to_owned()))
}

pub async fn foreign_municipality(ctx: &mut Ctx) -> Result<(), Abort> {
    let (other_lg, _) = other(ctx)?;
    let base = format!("/v1/municipalities/{other_lg}");
    let reads = [base.clone(), format!("{base}/visits")];
    for path in reads {
        let reply = ctx.authed(Req::get(path)).await?;
        ctx.expect_problem("TEN-001", &reply, 403, "municipality_forbidden");
    }
    let create = ctx
        .authed(Req::post(format!("{base}/visits")).json(certificate_visit("CK-TEN")))
        .await?;
    ctx.expect_problem("TEN-001", &create, 403, "municipality_forbidden");
    Ok(())
}

pub async fn list_own(ctx: &mut Ctx) -> Result<(), Abort> {
    let (other_lg, _) = other(ctx)?;
    let own = ctx.sut().lg_code.clone();
    let reply = ctx.authed(Req::get("/v1/municipalities?limit=100")).await?;
    let body = ctx.require_success(&reply, "the token's municipalities")?;
    let codes: Vec<String> = body["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["lgCode"].as_str().map(str::to_owned))
        .collect();
    ctx.check(
        "TEN-002",
        codes.contains(&own) && !codes.contains(&other_lg),
        format!("{own} listed, {other_lg} not"),
        format!("{codes:?}"),
        Some(&reply),
    );
    Ok(())
}

pub async fn foreign_visit_id(ctx: &mut Ctx) -> Result<(), Abort> {
    let (other_lg, other_client) = other(ctx)?;
    let other_token = ctx.token_of(&other_client, None).await?;
    let actor = ctx.sut().actor.clone();
    // A visit of the other municipality, with a name the kit's own answers must never show.
    let mut visit = certificate_visit("CK-TEN-B");
    visit["members"][0]["familyName"] = json!("別自治体");
    let created = ctx
        .send(
            Req::post(format!("/v1/municipalities/{other_lg}/visits"))
                .bearer(&other_token)
                .header("Madoguchi-Actor", actor)
                .json(visit),
        )
        .await?;
    let body = ctx.require_success(&created, "a visit of the second municipality")?;
    let id = body["id"].as_str().unwrap_or_default().to_owned();
    let reply = ctx
        .authed(Req::get(ctx.muni(&format!("/visits/{id}"))))
        .await?;
    let leaked = String::from_utf8_lossy(&reply.body).contains("別自治体");
    ctx.check(
        "TEN-003",
        reply.status.as_u16() == 404 && !leaked,
        "404, nothing of the other municipality's visit",
        format!(
            "{}{}",
            reply.status.as_u16(),
            if leaked {
                ", the visit's data in the body"
            } else {
                ""
            }
        ),
        Some(&reply),
    );
    Ok(())
}

pub async fn check_digit(ctx: &mut Ctx) -> Result<(), Abort> {
    let own = ctx.sut().lg_code.clone();
    let first_five = &own[..5];
    let right = LgCode::complete(first_five)
        .map(|c| c.to_string())
        .unwrap_or_else(|_| own.clone());
    let last = right
        .chars()
        .last()
        .and_then(|c| c.to_digit(10))
        .unwrap_or(0);
    let wrong = format!("{first_five}{}", (last + 1) % 10);
    let reply = ctx
        .authed(Req::get(format!("/v1/municipalities/{wrong}")))
        .await?;
    ctx.expect_problem("TEN-004", &reply, 400, "invalid_lg_code");
    Ok(())
}
