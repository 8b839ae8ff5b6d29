//! Webhook messages to vendors' endpoints, signed as Standard Webhooks describes
//! ([`crate::link::webhooks::sign`]). Any answer but a 2xx is tried again.

use super::http::Sent;

/// POSTs one message.
pub async fn send(
    client: &reqwest::Client,
    url: &str,
    secret: &str,
    message_id: &str,
    payload: &str,
) -> Sent {
    let timestamp = chrono::Utc::now().timestamp();
    let signature =
        match crate::link::webhooks::sign(secret, message_id, timestamp, payload.as_bytes()) {
            Ok(s) => s,
            Err(e) => return Sent::Refused(e),
        };
    let response = client
        .post(url)
        .header("Content-Type", "application/json")
        .header("webhook-id", message_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(payload.to_owned())
        .send()
        .await;
    match response {
        Ok(r) if r.status().is_success() => Sent::Delivered(None),
        Ok(r) => Sent::Failed(format!(
            "HTTP {} from the webhook endpoint",
            r.status().as_u16()
        )),
        Err(e) => Sent::Failed(format!("webhook endpoint: {e}")),
    }
}
