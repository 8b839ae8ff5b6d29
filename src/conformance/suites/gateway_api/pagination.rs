//! Cursor pagination: no gaps, no repeats, stable when items are added during a walk.

use std::collections::BTreeSet;

use crate::conformance::exchange::Req;
use crate::conformance::suite::{Abort, Ctx};

use super::visits::{certificate_visit, jst_today};

const PAGE: usize = 2;

pub async fn walk(ctx: &mut Ctx) -> Result<(), Abort> {
    let mut created = Vec::new();
    for i in 0..5 {
        let reply = ctx
            .authed(Req::post(ctx.muni("/visits")).json(certificate_visit(&format!("CK-PAGE-{i}"))))
            .await?;
        let body = ctx.require_success(&reply, "a visit to list")?;
        created.push(body["id"].as_str().unwrap_or_default().to_owned());
    }
    let today = jst_today();
    let mut seen: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut added_during = None;
    let mut oversized = Vec::new();
    let mut last = None;
    for page in 0..1000 {
        let mut path = ctx.muni(&format!("/visits?date={today}&limit={PAGE}"));
        if let Some(c) = &cursor {
            path.push_str(&format!(
                "&cursor={}",
                percent_encoding::utf8_percent_encode(c, percent_encoding::NON_ALPHANUMERIC)
            ));
        }
        let reply = ctx.authed(Req::get(path)).await?;
        let body = ctx.require_success(&reply, "a page of visits")?;
        let items: Vec<String> = body["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v["id"].as_str().map(str::to_owned))
            .collect();
        if items.len() > PAGE {
            oversized.push(reply.exchange);
        }
        seen.extend(items);
        last = Some(reply.clone());
        // After the first page, a visit is added: the walk must stay whole.
        if page == 0 {
            let add = ctx
                .authed(Req::post(ctx.muni("/visits")).json(certificate_visit("CK-PAGE-ADD")))
                .await?;
            let body = ctx.require_success(&add, "a visit added during the walk")?;
            added_during = body["id"].as_str().map(str::to_owned);
        }
        match body["nextCursor"].as_str() {
            Some(next) if !next.is_empty() => cursor = Some(next.to_owned()),
            _ => break,
        }
    }
    let unique: BTreeSet<&String> = seen.iter().collect();
    let repeats = seen.len() - unique.len();
    let missing: Vec<&String> = created.iter().filter(|id| !unique.contains(id)).collect();
    let last_null = last.as_ref().is_some_and(|r| {
        r.value()["nextCursor"].is_null() || r.value().get("nextCursor").is_none()
    });
    ctx.check(
        "PAGE-001",
        repeats == 0 && missing.is_empty() && oversized.is_empty() && last_null,
        format!("pages of ≤ {PAGE}; the {} visits created before, each once; null nextCursor at the end", created.len()),
        format!(
            "{} items, {repeats} repeated, {} of ours missing, pages over the limit {oversized:?}, last nextCursor {}",
            seen.len(),
            missing.len(),
            if last_null { "null" } else { "not null" }
        ),
        last.as_ref(),
    );
    let added_seen = added_during
        .as_ref()
        .map(|id| seen.iter().filter(|s| *s == id).count())
        .unwrap_or(0);
    ctx.check(
        "PAGE-002",
        repeats == 0 && missing.is_empty() && added_seen <= 1,
        "with a visit added after the first page: nothing before it skipped or repeated",
        format!(
            "{repeats} repeated, {} missing, the added one seen {added_seen} times",
            missing.len()
        ),
        last.as_ref(),
    );
    Ok(())
}

pub async fn bad_input(ctx: &mut Ctx) -> Result<(), Abort> {
    let reply = ctx
        .authed(Req::get(ctx.muni("/visits?cursor=%E2%9C%97not-a-cursor")))
        .await?;
    ctx.expect_problem("PAGE-003", &reply, 400, "invalid_cursor");
    for limit in ["0", "101"] {
        let reply = ctx
            .authed(Req::get(ctx.muni(&format!("/visits?limit={limit}"))))
            .await?;
        ctx.check(
            "PAGE-003",
            reply.status.as_u16() == 400,
            format!("400 for limit={limit}"),
            reply.status.as_u16().to_string(),
            Some(&reply),
        );
        ctx.expect_problem_shape(&reply);
    }
    Ok(())
}
