//! Webhook messages to vendors' endpoints, signed as Standard Webhooks describes
//! ([`crate::link::webhooks::sign`]). Any answer but a 2xx is tried again; a redirect is
//! not followed. The client must come from [`crate::link::egress::Egress::client`], which
//! checks every address a name resolves to; a literal address is checked here.

use super::http::Sent;
use crate::link::egress::Egress;

/// POSTs one message.
pub async fn send(
    client: &reqwest::Client,
    egress: &Egress,
    url: &str,
    secrets: &[String],
    message_id: &str,
    payload: &str,
) -> Sent {
    if let Some(ip) = reqwest::Url::parse(url)
        .ok()
        .as_ref()
        .and_then(crate::link::egress::literal_address)
        && let Err(e) = egress.check(&ip.to_string(), ip)
    {
        return Sent::Refused(format!("webhook endpoint: {e}"));
    }
    let timestamp = chrono::Utc::now().timestamp();
    let signature =
        match crate::link::webhooks::sign_all(secrets, message_id, timestamp, payload.as_bytes()) {
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
        Ok(r) if r.status().is_redirection() => Sent::Failed(format!(
            "HTTP {} from the webhook endpoint: redirects are not followed; register the final URL",
            r.status().as_u16()
        )),
        Ok(r) => Sent::Failed(format!(
            "HTTP {} from the webhook endpoint",
            r.status().as_u16()
        )),
        Err(e) => Sent::Failed(format!("webhook endpoint: {e}")),
    }
}
