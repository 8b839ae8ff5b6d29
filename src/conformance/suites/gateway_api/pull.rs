//! The pull link: a core system reads its area's applications after a cursor, answers them,
//! and reaches no other area than its own.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::conformance::exchange::{Reply, Req};
use crate::conformance::suite::{Abort, Credentials, Ctx};

use super::visits::submitted_certificate_visit;

const AREA: &str = "certificates";

fn link_client(ctx: &Ctx) -> Result<Credentials, Abort> {
    ctx.sut()
        .link_client
        .clone()
        .ok_or_else(|| Abort::Setup("no core-system client (scope link) to pull with".to_owned()))
}

async fn page(ctx: &mut Ctx, token: &str, after: Option<&str>) -> Result<(Reply, Value), Abort> {
    let mut path = ctx.muni(&format!("/link/{AREA}/applications?limit=100"));
    if let Some(after) = after {
        path.push_str(&format!("&after={after}"));
    }
    let reply = ctx.send(Req::get(path).bearer(token)).await?;
    let body = ctx.require_success(&reply, "a page of the pull feed")?;
    Ok((reply, body))
}

/// Reads the feed to its end; the cursor there.
async fn cursor_at_end(ctx: &mut Ctx, token: &str) -> Result<Option<String>, Abort> {
    let mut after: Option<String> = None;
    for _ in 0..10_000 {
        let (_, body) = page(ctx, token, after.as_deref()).await?;
        if let Some(next) = body["nextCursor"].as_str() {
            after = Some(next.to_owned());
        }
        if body["more"] != true {
            return Ok(after);
        }
    }
    Err(Abort::Setup(
        "the pull feed did not end within 10,000 pages".to_owned(),
    ))
}

fn ids(body: &Value, key: &str) -> BTreeSet<String> {
    body["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i[key].as_str().map(str::to_owned))
        .collect()
}

pub async fn feed(ctx: &mut Ctx) -> Result<(), Abort> {
    let client = link_client(ctx)?;
    let token = ctx.token_of(&client, None).await?;
    let before = cursor_at_end(ctx, &token).await?;
    let visit = submitted_certificate_visit(ctx, "CK-PULL").await?;
    let (reply, body) = page(ctx, &token, before.as_deref()).await?;
    let ours: Vec<Value> = body["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["visitId"] == visit.as_str())
        .cloned()
        .collect();
    let with_document = ours.iter().all(|i| i["document"].is_object());
    ctx.check(
        "PULL-001",
        ours.len() == 1 && with_document,
        "the new visit's one application after the cursor, with its document",
        format!(
            "{} of its applications; documents {}",
            ours.len(),
            if with_document { "present" } else { "missing" }
        ),
        Some(&reply),
    );
    let next = body["nextCursor"].as_str().map(str::to_owned);
    let (again, quiet) = page(ctx, &token, next.as_deref()).await?;
    ctx.check(
        "PULL-001",
        ids(&quiet, "applicationId").is_empty() && quiet["nextCursor"].as_str() == next.as_deref(),
        "nothing new after the cursor, and the same cursor back",
        format!(
            "{} items, nextCursor {}",
            ids(&quiet, "applicationId").len(),
            quiet["nextCursor"]
        ),
        Some(&again),
    );
    let Some(application) = ours
        .first()
        .and_then(|i| i["applicationId"].as_str())
        .map(str::to_owned)
    else {
        return Err(Abort::Setup("no application to answer".to_owned()));
    };
    let ack = |ctx: &Ctx, body: Value| {
        Req::post(ctx.muni(&format!("/link/{AREA}/applications/{application}/ack")))
            .bearer(&token)
            .json(body)
    };
    let no_reason = ctx.send(ack(ctx, json!({"outcome": "rejected"}))).await?;
    ctx.check(
        "PULL-002",
        no_reason.status.as_u16() == 422,
        "422 for rejected without a reason",
        no_reason.status.as_u16().to_string(),
        Some(&no_reason),
    );
    let accepted = ctx.send(ack(ctx, json!({"outcome": "accepted"}))).await?;
    let repeated = ctx.send(ack(ctx, json!({"outcome": "accepted"}))).await?;
    let seen = ctx
        .authed(Req::get(ctx.muni(&format!("/visits/{visit}/applications"))))
        .await?;
    let states: Vec<String> = seen.value()["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["id"] == application.as_str())
        .filter_map(|i| i["state"].as_str().map(str::to_owned))
        .collect();
    ctx.check(
        "PULL-002",
        accepted.status.is_success() && repeated.status.is_success() && states == ["accepted"],
        "accepted answered 2xx, again 2xx, and the counter sees accepted",
        format!(
            "{} then {}; the counter sees {states:?}",
            accepted.status.as_u16(),
            repeated.status.as_u16()
        ),
        Some(&seen),
    );
    let other = ctx
        .send(Req::get(ctx.muni("/link/nationalHealthInsurance/applications")).bearer(&token))
        .await?;
    ctx.expect_problem("PULL-003", &other, 403, "area_forbidden");
    Ok(())
}
