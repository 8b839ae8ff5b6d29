//! Webhooks as the Standard Webhooks specification describes them: a vendor registers an
//! endpoint and gets a secret (`whsec_` and base64); each message carries `webhook-id`,
//! `webhook-timestamp` (Unix seconds) and `webhook-signature` (`v1,` and the base64
//! HMAC-SHA256 of `{id}.{timestamp}.{body}` under the secret's decoded bytes). Messages ride in
//! the outbox: the same workers, retries and dead letter as the connectors.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::visits::confirmation::Application;

/// The event type of an application's new state.
pub const APPLICATION_UPDATED: &str = "application.updated";
/// The event type of a test message a vendor asks for.
pub const WEBHOOK_TEST: &str = "webhook.test";

/// How long the secret a rotation replaced keeps signing beside the new one.
pub const ROTATION_OVERLAP: chrono::Duration = chrono::Duration::hours(24);

/// The prefix of a secret, as the specification writes it.
const SECRET_PREFIX: &str = "whsec_";

/// A vendor's endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    pub id: Uuid,
    pub lg_code: String,
    pub client_id: String,
    pub url: String,
    pub created_at: DateTime<Utc>,
}

/// A new secret: 32 random bytes.
pub fn new_secret() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| "no randomness".to_owned())?;
    Ok(format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes)))
}

/// The `webhook-signature` header's value for one message signed with each secret (the
/// current one, and during a rotation's overlap the one it replaced), space-separated as
/// Standard Webhooks writes several signatures.
pub fn sign_all(
    secrets: &[String],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, String> {
    let signatures: Result<Vec<String>, String> = secrets
        .iter()
        .map(|s| sign(s, id, timestamp, body))
        .collect();
    Ok(signatures?.join(" "))
}

/// The `webhook-signature` of one message under one secret.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Result<String, String> {
    let key = STANDARD
        .decode(secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret))
        .map_err(|e| format!("webhook secret: {e}"))?;
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &key);
    let mut signed = Vec::with_capacity(body.len() + 40);
    signed.extend_from_slice(id.as_bytes());
    signed.push(b'.');
    signed.extend_from_slice(timestamp.to_string().as_bytes());
    signed.push(b'.');
    signed.extend_from_slice(body);
    let tag = aws_lc_rs::hmac::sign(&key, &signed);
    Ok(format!("v1,{}", STANDARD.encode(tag.as_ref())))
}

/// The message telling a vendor an application's state (and a rejection's reason).
pub fn application_event(lg_code: &str, application: &Application, at: DateTime<Utc>) -> Value {
    json!({
        "type": APPLICATION_UPDATED,
        "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": {
            "applicationId": application.id,
            "visitId": application.visit_id,
            "localGovernmentCode": lg_code,
            "procedureId": application.procedure_id,
            "area": application.area,
            "member": application.member,
            "state": application.state.as_str(),
            "reason": application.reason,
        }
    })
}

/// A test message: what a vendor's receiver gets when it asks for one, to check that it
/// verifies the signature and answers 2xx.
pub fn test_event(lg_code: &str, endpoint: Uuid, at: DateTime<Utc>) -> Value {
    json!({
        "type": WEBHOOK_TEST,
        "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": {
            "webhookId": endpoint,
            "localGovernmentCode": lg_code,
        }
    })
}

/// Where an endpoint's messages wait in line: one application's events in order.
pub fn line(endpoint: Uuid, application: Uuid) -> String {
    format!("webhook/{endpoint}/{application}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_matches_the_specification_s_example() {
        // The example of the Standard Webhooks specification (spec/standard-webhooks.md).
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let timestamp = 1_614_265_330;
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(secret, id, timestamp, body).unwrap(),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn a_new_secret_has_the_prefix_and_32_bytes() {
        let s = new_secret().unwrap();
        assert!(s.starts_with("whsec_"));
        assert_eq!(STANDARD.decode(&s[6..]).unwrap().len(), 32);
        assert_ne!(s, new_secret().unwrap());
    }
}
