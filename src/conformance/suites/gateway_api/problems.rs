//! Errors as RFC 9457 problems: their shape, their type pages, their languages and codes.

use std::collections::BTreeSet;

use crate::conformance::contract::Contract;
use crate::conformance::exchange::{Reply, Req};
use crate::conformance::suite::{Abort, Ctx};

/// Whether `text` holds hiragana, katakana or kanji.
fn has_japanese(text: &str) -> bool {
    text.chars().any(|c| {
        matches!(c, '\u{3040}'..='\u{30ff}' | '\u{4e00}'..='\u{9fff}' | '\u{3400}'..='\u{4dbf}')
    })
}

/// PROB-002: the problem's `status` is the HTTP status.
fn status_member(ctx: &mut Ctx, reply: &Reply) {
    let body = reply.value();
    ctx.check(
        "PROB-002",
        body["status"].as_u64() == Some(u64::from(reply.status.as_u16())),
        format!("status member {}", reply.status.as_u16()),
        format!("status member {}", body["status"]),
        Some(reply),
    );
}

pub async fn unknown_route(ctx: &mut Ctx) -> Result<(), Abort> {
    let token = ctx.token().await?;
    let reply = ctx
        .send(Req::get("/v1/no-such-resource-of-the-contract").bearer(&token))
        .await?;
    ctx.check(
        "PROB-001",
        reply.status.as_u16() == 404,
        "404",
        reply.status.as_u16().to_string(),
        Some(&reply),
    );
    ctx.expect_problem_shape(&reply);
    let body = reply.value();
    status_member(ctx, &reply);
    ctx.check(
        "PROB-005",
        reply.header("x-request-id").is_some_and(|v| !v.is_empty()),
        "X-Request-Id",
        reply.header("x-request-id").unwrap_or("(none)").to_owned(),
        Some(&reply),
    );
    let Some(kind) = body["type"].as_str().filter(|t| *t != "about:blank") else {
        ctx.check(
            "PROB-003",
            false,
            "a type URI",
            format!("{}", body["type"]),
            Some(&reply),
        );
        return Ok(());
    };
    let kind = kind.to_owned();
    let page = ctx.send(Req::get(kind.clone())).await?;
    ctx.check(
        "PROB-003",
        page.status.as_u16() == 200 && !page.body.is_empty(),
        format!("GET {kind} → 200 with a page"),
        format!("GET {kind} → {}", page.status.as_u16()),
        Some(&page),
    );
    Ok(())
}

pub async fn malformed_json(ctx: &mut Ctx) -> Result<(), Abort> {
    let reply = ctx
        .authed(Req::post(ctx.muni("/visits")).raw("application/json", b"{\"events\": [".to_vec()))
        .await?;
    ctx.expect_problem("PROB-004", &reply, 400, "malformed_json");
    status_member(ctx, &reply);
    Ok(())
}

pub async fn languages(ctx: &mut Ctx) -> Result<(), Abort> {
    let token = ctx.token().await?;
    let path = "/v1/forms/noSuchForm/1.0/schema";
    let ja = ctx.send(Req::get(path).bearer(&token)).await?;
    let en = ctx
        .send(
            Req::get(path)
                .bearer(&token)
                .header("Accept-Language", "en"),
        )
        .await?;
    let (ja_body, en_body) = (ja.value(), en.value());
    let text = |b: &serde_json::Value| {
        format!(
            "{} {}",
            b["title"].as_str().unwrap_or_default(),
            b["detail"].as_str().unwrap_or_default()
        )
    };
    ctx.check(
        "PROB-006",
        has_japanese(&text(&ja_body)),
        "Japanese title and detail by default",
        text(&ja_body),
        Some(&ja),
    );
    ctx.check(
        "PROB-006",
        !text(&en_body).trim().is_empty() && !has_japanese(&text(&en_body)),
        "English title and detail with Accept-Language: en",
        text(&en_body),
        Some(&en),
    );
    ctx.check(
        "PROB-007",
        ja.status == en.status && ja.code().is_some() && ja.code() == en.code(),
        "the same status and code in both languages",
        format!(
            "{} {:?} / {} {:?}",
            ja.status.as_u16(),
            ja.code(),
            en.status.as_u16(),
            en.code()
        ),
        Some(&en),
    );
    Ok(())
}

/// Run last: every answer of the run carried X-Request-Id, and every code it carried is one
/// the contract lists.
pub async fn codes(ctx: &mut Ctx) -> Result<(), Abort> {
    let contract = Contract::shared().map_err(Abort::Setup)?;
    let problem_codes = contract.enum_of("ProblemCode");
    let field_codes = contract.enum_of("FieldCode");
    let answers = ctx.shared.wire.answers();
    let mut unknown = BTreeSet::new();
    let mut first_unknown = None;
    let mut without_id = Vec::new();
    for answer in answers.iter().map(|a| &a.reply) {
        if answer.headers.get("x-request-id").is_none() {
            without_id.push(answer.exchange);
        }
        if answer.media_type() != "application/problem+json" {
            continue;
        }
        let body = answer.value();
        let code = body["code"].as_str().unwrap_or_default();
        if !problem_codes.contains(code) {
            unknown.insert(format!("code {code:?}"));
            first_unknown.get_or_insert(answer.exchange);
        }
        for e in body["errors"].as_array().into_iter().flatten() {
            let field = e["code"].as_str().unwrap_or_default();
            if !field_codes.contains(field) {
                unknown.insert(format!("errors[].code {field:?}"));
                first_unknown.get_or_insert(answer.exchange);
            }
        }
    }
    ctx.check(
        "PROB-007",
        unknown.is_empty(),
        format!("every code of {} answers in the contract", answers.len()),
        if unknown.is_empty() {
            "all listed".to_owned()
        } else {
            format!(
                "not in the contract: {}",
                unknown.into_iter().collect::<Vec<_>>().join(", ")
            )
        },
        None,
    );
    if let Some(n) = first_unknown
        && let Some(last) = ctx.checks.last_mut()
    {
        last.exchange = Some(n);
    }
    ctx.check(
        "PROB-005",
        without_id.is_empty(),
        format!("X-Request-Id on all {} answers", answers.len()),
        if without_id.is_empty() {
            "on all".to_owned()
        } else {
            format!("missing on exchanges {without_id:?}")
        },
        None,
    );
    Ok(())
}
