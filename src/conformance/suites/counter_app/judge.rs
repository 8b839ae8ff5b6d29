//! The judges: each reads the whole recording and checks one or two requirements.

use super::{quoted, recording};
use crate::conformance::contract::Contract;
use crate::conformance::recording::Recorded;
use crate::conformance::suite::{Abort, Ctx};

/// Routes where a clerk works with a resident's data: a visit and what hangs off it, the
/// resident directory, card sessions.
fn touches_personal_data(path: &str) -> bool {
    path.starts_with("/v1/municipalities/")
        && ["/visits", "/residents", "/households", "/card-sessions"]
            .iter()
            .any(|p| path.contains(p))
}

/// An answer that asks for the same request again: none at all, 408, 409 while the first is
/// still in flight, 425, 429, 5xx.
fn asks_for_a_retry(r: &Recorded) -> bool {
    match r.status {
        None => true,
        Some(s) => {
            matches!(s, 408 | 425 | 429)
                || s >= 500
                || (s == 409 && r.code.as_deref() == Some("idempotency_in_progress"))
        }
    }
}

/// The next request after `i` to the same method and path.
fn next_same(all: &[Recorded], i: usize) -> Option<&Recorded> {
    let r = &all[i];
    all[i + 1..]
        .iter()
        .find(|n| n.method == r.method && n.path == r.path)
}

/// Whether the contract's operation for a POST takes an Idempotency-Key (the contract marks
/// every creating POST so).
fn creating_posts(all: &[Recorded]) -> Result<Vec<&Recorded>, Abort> {
    let contract = Contract::shared().map_err(Abort::Setup)?;
    Ok(all
        .iter()
        .filter(|r| r.method == "POST")
        .filter(|r| {
            contract
                .template_of("POST", &r.path)
                .is_some_and(|t| contract.takes_idempotency_key("post", &t))
        })
        .collect())
}

pub async fn actor(ctx: &mut Ctx) -> Result<(), Abort> {
    let shared = ctx.shared.clone();
    let all = recording(&shared)?;
    let judged: Vec<&Recorded> = all
        .iter()
        .filter(|r| touches_personal_data(&r.path))
        .collect();
    if judged.is_empty() {
        return Err(Abort::Setup(
            "no request of the recording touches personal data".to_owned(),
        ));
    }
    let missing: Vec<String> = judged
        .iter()
        .filter(|r| !r.actor)
        .map(|r| r.summary())
        .collect();
    let n = judged.len();
    ctx.check_at(
        "ACT-001",
        missing.is_empty(),
        format!("Madoguchi-Actor on each of the {n} requests that touch personal data"),
        format!("without it: {}", quoted(&missing)),
        None,
    );
    Ok(())
}

pub async fn keys(ctx: &mut Ctx) -> Result<(), Abort> {
    let shared = ctx.shared.clone();
    let all = recording(&shared)?;
    let posts = creating_posts(all)?;
    if posts.is_empty() {
        return Err(Abort::Setup(
            "the recording holds no creating POST".to_owned(),
        ));
    }
    let missing: Vec<String> = posts
        .iter()
        .filter(|r| r.idempotency_key.is_none())
        .map(|r| r.summary())
        .collect();
    ctx.check_at(
        "IDEM-001",
        missing.is_empty(),
        format!(
            "Idempotency-Key on each of the {} creating POSTs",
            posts.len()
        ),
        format!("without it: {}", quoted(&missing)),
        None,
    );
    // One key, one request: the same key on another path or body is a mistake the gateway
    // answers 422 (or, worse, replays the first answer for the wrong request).
    let mut reused = Vec::new();
    for (i, a) in posts.iter().enumerate() {
        let Some(key) = &a.idempotency_key else {
            continue;
        };
        if let Some(b) = posts[i + 1..].iter().find(|b| {
            b.idempotency_key.as_ref() == Some(key)
                && (b.path != a.path || b.body_sha256 != a.body_sha256)
        }) {
            reused.push(format!("{} and {}", a.summary(), b.summary()));
        }
    }
    ctx.check_at(
        "IDEM-003",
        reused.is_empty(),
        "a new key for each new request",
        format!("one key, two requests: {}", quoted(&reused)),
        None,
    );
    Ok(())
}

pub async fn retries(ctx: &mut Ctx) -> Result<(), Abort> {
    let shared = ctx.shared.clone();
    let all = recording(&shared)?;
    let creating: std::collections::HashSet<u32> =
        creating_posts(all)?.iter().map(|p| p.n).collect();
    let mut judged = 0;
    let mut wrong = Vec::new();
    for (i, r) in all.iter().enumerate() {
        if !creating.contains(&r.n) || !asks_for_a_retry(r) {
            continue;
        }
        let Some(again) = next_same(all, i) else {
            // Given up: nothing to judge here.
            continue;
        };
        judged += 1;
        if again.idempotency_key.is_none() || again.idempotency_key != r.idempotency_key {
            wrong.push(format!(
                "{} retried as {} with another key",
                r.summary(),
                again.summary()
            ));
        } else if again.body_sha256 != r.body_sha256 {
            wrong.push(format!(
                "{} retried as {} with another body",
                r.summary(),
                again.summary()
            ));
        }
    }
    if judged == 0 {
        return Err(Abort::Setup(
            "the recording holds no retry of a creating POST (after no answer, 408, 409 in flight, 425, 429 or 5xx)".to_owned(),
        ));
    }
    ctx.check_at(
        "IDEM-002",
        wrong.is_empty(),
        format!("each of the {judged} retries with the first request's key and body"),
        quoted(&wrong),
        None,
    );
    Ok(())
}

pub async fn tokens(ctx: &mut Ctx) -> Result<(), Abort> {
    let shared = ctx.shared.clone();
    let all = recording(&shared)?;
    let issued: Vec<&Recorded> = all.iter().filter(|r| r.issued.is_some()).collect();
    if issued.is_empty() {
        return Err(Abort::Setup(
            "the recording holds no token the app was given (POST /oauth/token)".to_owned(),
        ));
    }
    let mut early = Vec::new();
    for pair in issued.windows(2) {
        let (before, next) = (pair[0], pair[1]);
        let Some((token, lifetime)) = &before.issued else {
            continue;
        };
        // A token refused (401) may be replaced at once.
        let refused = all.iter().any(|r| {
            r.n > before.n
                && r.n < next.n
                && r.status == Some(401)
                && r.token.as_ref() == Some(token)
        });
        let left_ms = (lifetime * 1000).saturating_sub(next.at_ms - before.at_ms);
        // Near expiry: the last minute, or the last fifth of a short life.
        let near = (60_000).min(lifetime * 1000 / 5);
        if !refused && left_ms > near {
            early.push(format!(
                "{}: a new token while the one of #{} had {} s left",
                next.summary(),
                before.n,
                left_ms / 1000
            ));
        }
    }
    ctx.check_at(
        "TOKEN-001",
        early.is_empty(),
        format!(
            "each of the {} tokens used until near its expiry (or its refusal)",
            issued.len()
        ),
        quoted(&early),
        None,
    );
    Ok(())
}

pub async fn retry_after(ctx: &mut Ctx) -> Result<(), Abort> {
    let shared = ctx.shared.clone();
    let all = recording(&shared)?;
    let mut judged = 0;
    let mut early = Vec::new();
    for (i, r) in all.iter().enumerate() {
        let Some(wait) = r
            .retry_after
            .filter(|_| matches!(r.status, Some(429 | 503)))
        else {
            continue;
        };
        let Some(again) = next_same(all, i) else {
            continue;
        };
        judged += 1;
        let waited = again.at_ms.saturating_sub(r.at_ms);
        // A capture's clock rounds: a tenth of a second early is still waiting.
        if waited + 100 < wait * 1000 {
            early.push(format!(
                "{} said Retry-After: {wait}; {} came {:.1} s later",
                r.summary(),
                again.summary(),
                waited as f64 / 1000.0
            ));
        }
    }
    if judged == 0 {
        return Err(Abort::Setup(
            "the recording holds no request sent again after a 429 or 503 with Retry-After"
                .to_owned(),
        ));
    }
    ctx.check_at(
        "RETRY-001",
        early.is_empty(),
        format!("each of the {judged} requests sent again no sooner than Retry-After"),
        quoted(&early),
        None,
    );
    Ok(())
}

pub async fn documents(ctx: &mut Ctx) -> Result<(), Abort> {
    let shared = ctx.shared.clone();
    let all = recording(&shared)?;
    // Checking a document is what /validate and /normalize are for: their 422s are answers.
    let writes: Vec<&Recorded> = all
        .iter()
        .filter(|r| matches!(r.method.as_str(), "POST" | "PATCH" | "PUT"))
        .filter(|r| r.path.starts_with("/v1/municipalities/"))
        .collect();
    if writes.is_empty() {
        return Err(Abort::Setup(
            "the recording holds no write to a municipality".to_owned(),
        ));
    }
    let refused: Vec<String> = writes
        .iter()
        .filter(|r| {
            !r.injected && r.status == Some(422) && r.code.as_deref() == Some("validation_failed")
        })
        .map(|r| r.summary())
        .collect();
    ctx.check_at(
        "DOC-001",
        refused.is_empty(),
        format!(
            "none of the {} writes refused as invalid (validation_failed)",
            writes.len()
        ),
        quoted(&refused),
        None,
    );
    Ok(())
}

pub async fn unprocessable(ctx: &mut Ctx) -> Result<(), Abort> {
    let shared = ctx.shared.clone();
    let all = recording(&shared)?;
    let mut judged = 0;
    let mut repeated = Vec::new();
    for (i, r) in all.iter().enumerate() {
        if r.status != Some(422) || r.method == "GET" {
            continue;
        }
        let Some(again) = next_same(all, i) else {
            continue;
        };
        judged += 1;
        if again.body_sha256 == r.body_sha256 {
            repeated.push(format!(
                "{} was refused with 422 and sent again unchanged as {}",
                r.summary(),
                again.summary()
            ));
        }
    }
    if judged == 0 {
        return Err(Abort::Setup(
            "the recording holds no request sent again after a 422".to_owned(),
        ));
    }
    ctx.check_at(
        "ERR-002",
        repeated.is_empty(),
        format!("each of the {judged} requests after a 422 changed (the error was acted on)"),
        quoted(&repeated),
        None,
    );
    Ok(())
}

pub async fn webhooks(ctx: &mut Ctx) -> Result<(), Abort> {
    let shared = ctx.shared.clone();
    let all = recording(&shared)?;
    let sent: Vec<&Recorded> = all.iter().filter(|r| r.webhook_taken.is_some()).collect();
    let forged: Vec<&&Recorded> = sent.iter().filter(|r| r.injected).collect();
    let genuine: Vec<&&Recorded> = sent.iter().filter(|r| !r.injected).collect();
    if forged.is_empty() || genuine.is_empty() {
        return Err(Abort::Setup(format!(
            "the recording holds {} forged and {} genuine webhook test messages; the script's webhook step sends one of each",
            forged.len(),
            genuine.len()
        )));
    }
    let mut wrong = Vec::new();
    for r in &forged {
        if r.webhook_taken == Some(true) {
            wrong.push(format!(
                "{}: the receiver took a message signed with a wrong secret",
                r.summary()
            ));
        }
    }
    // A receiver that refuses everything would refuse the forged one too: it must take a
    // genuine one for its refusal to mean it verified.
    if genuine.iter().all(|r| r.webhook_taken != Some(true)) {
        wrong.push(format!(
            "{}: the receiver refused a correctly signed message too",
            genuine[0].summary()
        ));
    }
    ctx.check_at(
        "HOOK-001",
        wrong.is_empty(),
        format!(
            "the {} forged test message(s) refused and a genuine one taken",
            forged.len()
        ),
        quoted(&wrong),
        None,
    );
    Ok(())
}
