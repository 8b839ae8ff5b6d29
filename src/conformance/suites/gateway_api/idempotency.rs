//! Idempotency-Key on a creating POST: a replay answers the same and creates nothing more; a
//! key reused for another body is refused; concurrent requests with one key create one thing.

use futures_util::future::join_all;
use uuid::Uuid;

use crate::conformance::exchange::Req;
use crate::conformance::suite::{Abort, Ctx, describe_code};

use super::visits::certificate_visit;

fn new_key() -> String {
    format!("conformance-{}", Uuid::new_v4())
}

pub async fn replay(ctx: &mut Ctx) -> Result<(), Abort> {
    let key = new_key();
    let body = certificate_visit("CK-IDEM-1");
    let first = ctx
        .authed(
            Req::post(ctx.muni("/visits"))
                .header("Idempotency-Key", key.clone())
                .json(body.clone()),
        )
        .await?;
    let created = ctx.require_success(&first, "the first request")?;
    let again = ctx
        .authed(
            Req::post(ctx.muni("/visits"))
                .header("Idempotency-Key", key)
                .json(body),
        )
        .await?;
    let replayed = again
        .header("idempotent-replayed")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let same = again.status == first.status && again.value() == created;
    ctx.check(
        "IDEM-001",
        same && replayed,
        format!(
            "{} again, the same body, Idempotent-Replayed: true",
            first.status.as_u16()
        ),
        format!(
            "{}{}{}",
            again.status.as_u16(),
            if same {
                ", the same body"
            } else {
                ", another body"
            },
            if replayed {
                ""
            } else {
                ", no Idempotent-Replayed: true"
            }
        ),
        Some(&again),
    );
    Ok(())
}

pub async fn other_body(ctx: &mut Ctx) -> Result<(), Abort> {
    let key = new_key();
    let first = ctx
        .authed(
            Req::post(ctx.muni("/visits"))
                .header("Idempotency-Key", key.clone())
                .json(certificate_visit("CK-IDEM-2")),
        )
        .await?;
    ctx.require_success(&first, "the first request")?;
    let reused = ctx
        .authed(
            Req::post(ctx.muni("/visits"))
                .header("Idempotency-Key", key)
                .json(certificate_visit("CK-IDEM-3")),
        )
        .await?;
    ctx.expect_problem("IDEM-002", &reused, 422, "idempotency_key_reused");
    Ok(())
}

pub async fn concurrent(ctx: &mut Ctx) -> Result<(), Abort> {
    let key = new_key();
    let token = ctx.token().await?;
    let actor = ctx.sut().actor.clone();
    let body = certificate_visit("CK-IDEM-4");
    let requests = (0..6).map(|_| {
        ctx.send(
            Req::post(ctx.muni("/visits"))
                .bearer(&token)
                .header("Madoguchi-Actor", actor.clone())
                .header("Idempotency-Key", key.clone())
                .json(body.clone()),
        )
    });
    let replies: Vec<_> = join_all(requests)
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let mut ids = std::collections::BTreeSet::new();
    let mut wrong = Vec::new();
    for reply in &replies {
        match reply.status.as_u16() {
            200 | 201 => {
                ids.insert(reply.value()["id"].as_str().unwrap_or_default().to_owned());
            }
            409 if reply.code().as_deref() == Some("idempotency_in_progress")
                && reply.header("retry-after").is_some() => {}
            status => wrong.push(format!("{status} {}", describe_code(reply))),
        }
    }
    let evidence = replies
        .iter()
        .find(|r| !matches!(r.status.as_u16(), 200 | 201))
        .or(replies.first());
    ctx.check(
        "IDEM-003",
        ids.len() == 1 && wrong.is_empty(),
        "one visit; the others 409 idempotency_in_progress with Retry-After, or a replay",
        format!("{} distinct visits; other answers {wrong:?}", ids.len()),
        evidence,
    );
    Ok(())
}
