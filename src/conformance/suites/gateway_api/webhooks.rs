//! Webhooks signed as Standard Webhooks specifies, received by the kit's own receiver; and a
//! rotated secret's overlap (both signatures for a while).

use std::time::Duration;

use serde_json::json;

use crate::conformance::exchange::Req;
use crate::conformance::receiver::{Received, signature_verifies};
use crate::conformance::suite::{Abort, Ctx};

const WAIT: Duration = Duration::from_secs(15);
/// Standard Webhooks' suggested tolerance for `webhook-timestamp`.
const TOLERANCE_SECONDS: i64 = 300;

/// Sends a test message to `webhook` and waits for it at the receiver.
async fn test_message(ctx: &mut Ctx, webhook: &str) -> Result<(Option<Received>, u32), Abort> {
    let receiver = ctx
        .shared
        .receiver
        .as_ref()
        .ok_or_else(|| Abort::Setup("the kit's webhook receiver is not running".to_owned()))?;
    receiver.drain().await;
    let sent = ctx
        .authed(Req::post(ctx.muni(&format!("/webhooks/{webhook}/test"))))
        .await?;
    ctx.require_success(&sent, "a test message")?;
    let received = match &ctx.shared.receiver {
        Some(r) => r.next(WAIT).await,
        None => None,
    };
    let n = match &received {
        Some(message) => ctx.shared.wire.record_received(ctx.test, message),
        None => sent.exchange,
    };
    Ok((received, n))
}

fn describe(message: &Received) -> String {
    format!(
        "webhook-id {:?}, webhook-timestamp {:?}, webhook-signature {}",
        message.header("webhook-id").unwrap_or("(none)"),
        message.header("webhook-timestamp").unwrap_or("(none)"),
        if message.header("webhook-signature").is_some() {
            "present"
        } else {
            "(none)"
        }
    )
}

/// Whether `message` is signed with `secret`, and its timestamp is near now.
fn signed_with(message: &Received, secret: &str) -> bool {
    let (Some(id), Some(timestamp), Some(signature)) = (
        message.header("webhook-id"),
        message.header("webhook-timestamp"),
        message.header("webhook-signature"),
    ) else {
        return false;
    };
    let fresh = timestamp
        .parse::<i64>()
        .is_ok_and(|t| (chrono::Utc::now().timestamp() - t).abs() <= TOLERANCE_SECONDS);
    fresh && signature_verifies(secret, id, timestamp, &message.body, signature)
}

pub async fn signed(ctx: &mut Ctx) -> Result<(), Abort> {
    let url = ctx
        .shared
        .receiver
        .as_ref()
        .map(|r| r.url.clone())
        .ok_or_else(|| Abort::Setup("the kit's webhook receiver is not running".to_owned()))?;
    let made = ctx
        .authed(Req::post(ctx.muni("/webhooks")).json(json!({"url": url})))
        .await?;
    let body = ctx.require_success(&made, "registering the kit's receiver")?;
    let id = body["webhookId"].as_str().unwrap_or_default().to_owned();
    let secret = body["secret"].as_str().unwrap_or_default().to_owned();
    let result = async {
        let (received, n) = test_message(ctx, &id).await?;
        let Some(message) = received else {
            ctx.check_at("HOOK-001", false, "a signed test message at the kit's receiver", format!("nothing within {} s", WAIT.as_secs()), Some(n));
            return Ok(());
        };
        let event: serde_json::Value = serde_json::from_slice(&message.body).unwrap_or_default();
        ctx.check_at(
            "HOOK-001",
            signed_with(&message, &secret) && event["type"] == "webhook.test",
            "webhook-id, a fresh webhook-timestamp, a v1 signature verifying with the secret; type webhook.test",
            format!("{}; verifies: {}; type {}", describe(&message), signed_with(&message, &secret), event["type"]),
            Some(n),
        );
        let rotated = ctx
            .authed(Req::post(ctx.muni(&format!("/webhooks/{id}/rotate-secret"))))
            .await?;
        let new_secret = ctx.require_success(&rotated, "rotating the secret")?["secret"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let (received, n) = test_message(ctx, &id).await?;
        let (with_new, with_old) = received
            .as_ref()
            .map(|m| (signed_with(m, &new_secret), signed_with(m, &secret)))
            .unwrap_or((false, false));
        ctx.check_at(
            "HOOK-002",
            with_new && with_old,
            "after a rotation, signatures verifying with the new secret and with the old one",
            format!("new secret verifies: {with_new}; old secret verifies: {with_old}"),
            Some(n),
        );
        Ok(())
    }
    .await;
    // The endpoint goes, whatever happened (a client may have only a few).
    let _ = ctx
        .authed(Req::new(
            reqwest::Method::DELETE,
            ctx.muni(&format!("/webhooks/{id}")),
        ))
        .await;
    result
}
