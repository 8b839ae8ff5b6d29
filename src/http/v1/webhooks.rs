//! `/v1/municipalities/{lgCode}/webhooks` (scope `visits`): a vendor's counter app registers
//! where it learns of its applications' states. Each endpoint belongs to the client that
//! registered it and receives the messages about the visits that client opened, signed as
//! Standard Webhooks describes (`webhook-id`, `webhook-timestamp`, `webhook-signature`).

use actix_web::{HttpMessage, HttpRequest, HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Scope;
use crate::http::auth::{Authorized, scopes};
use crate::http::extract::ApiJson;
use crate::http::headers::IdempotencyKeyHeader;
use crate::http::middleware::idempotency::Idempotent;
use crate::http::problem::{ApiError, ProblemDoc, ProblemKind};
use crate::http::state::AppState;
use crate::i18n::Text;
use crate::link::egress::EgressError;
use crate::link::webhooks::{self, Endpoint};
use crate::validation::FieldError;

/// A new endpoint.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = NewWebhook, example = json!({"url": "https://counter.example.jp/hooks/madoguchi"}))]
pub struct NewWebhookDto {
    /// Where messages are POSTed (http or https).
    pub url: String,
}

/// An endpoint.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Webhook)]
pub struct WebhookDto {
    pub webhook_id: Uuid,
    pub url: String,
    pub created_at: DateTime<Utc>,
    /// The signing secret (`whsec_…`): in the answer to the registration and to a rotation
    /// only. Verify each message's `webhook-signature` with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// After a rotation: until when the replaced secret still signs each message too (the
    /// `webhook-signature` then holds two signatures; either one verifying is enough).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_secret_valid_until: Option<DateTime<Utc>>,
}

fn dto(e: Endpoint, secret: Option<String>) -> WebhookDto {
    WebhookDto {
        webhook_id: e.id,
        url: e.url,
        created_at: e.created_at,
        secret,
        previous_secret_valid_until: None,
    }
}

fn no_such_webhook(id: Uuid) -> ApiError {
    ApiError::new(
        ProblemKind::NotFound,
        Text::new(
            format!("webhook {id} はありません。"),
            format!("There is no webhook {id}."),
        ),
    )
}

/// The client's endpoints.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WebhookList)]
pub struct ListDto {
    pub items: Vec<WebhookDto>,
}

const MAX_URL: usize = 2048;

/// Register an endpoint. Each change of state of an application of a visit this client opened
/// (`delivered`, `accepted`, `rejected`, `completed`) is POSTed to it as
/// `{"type": "application.updated", "timestamp", "data": {applicationId, visitId, state, reason, …}}`,
/// tried again with backoff until it answers 2xx (then the dead letter, see
/// `GET /v1/admin/deliveries`). The secret is shown once.
///
/// The receiver must be on the public internet (or in a network the operators allow): the
/// host is resolved now and again at each delivery, a message to an address that is not
/// public is never sent, and redirects are not followed.
#[utoipa::path(
    tag = "visits",
    params(
        ("lgCode" = String, Path, description = "全国地方公共団体コード", example = "012084"),
        IdempotencyKeyHeader,
    ),
    request_body(content = NewWebhookDto, content_type = "application/json"),
    responses(
        (status = 201, description = "The endpoint, with its secret", body = WebhookDto),
        (status = 400, description = "Malformed JSON or lgCode", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope visits missing, or another municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "Municipality not registered", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "Idempotency-Key in use", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "Not an http(s) URL; a host that is or resolves to an address that is not public — loopback, private, link-local, metadata — outside `link.webhooks.allow_networks` (`forbidden_address`); or the client's endpoints at their limit (`too_many`, 10 by default)", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["visits"]))
)]
#[post(
    "/municipalities/{lgCode}/webhooks",
    wrap = "Idempotent::requiring(Scope::Visits)"
)]
pub async fn create_webhook(
    auth: Authorized<scopes::Visits>,
    state: web::Data<AppState>,
    body: ApiJson<NewWebhookDto>,
) -> Result<HttpResponse, ApiError> {
    let code = auth.municipality()?;
    state
        .municipalities
        .municipality(&code)
        .await?
        .ok_or_else(|| super::municipalities::not_registered(&code))?;
    let url = body.0.url.trim().to_owned();
    let parsed = reqwest::Url::parse(&url).ok();
    if url.len() > MAX_URL
        || !parsed
            .as_ref()
            .is_some_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
    {
        return Err(ApiError::validation(vec![FieldError::new(
            "/url",
            "invalid_url",
            Text::new(
                format!("url には http(s) の URL を {MAX_URL} 文字以内で入れてください。"),
                format!("url must be an http(s) URL of at most {MAX_URL} characters."),
            ),
        )]));
    }
    if let Some(u) = &parsed
        && (!u.username().is_empty() || u.password().is_some())
    {
        return Err(ApiError::validation(vec![FieldError::new(
            "/url",
            "invalid_url",
            Text::new(
                "url に利用者名やパスワードを入れないでください。受信側の確認には署名(webhook-signature)を使います。",
                "url may not carry a user name or password; receivers check the webhook-signature.",
            ),
        )]));
    }
    // A name that does not resolve yet is taken: every delivery resolves it again and sends
    // only to the addresses the rule lets through.
    if let Some(u) = &parsed
        && let Err(EgressError::Refused {
            address, reason, ..
        }) = state.egress.check_url(u).await
    {
        return Err(ApiError::validation(vec![FieldError::new(
            "/url",
            "forbidden_address",
            Text::new(
                format!(
                    "url の宛先 {address} は公開されていないアドレス({reason})のため登録できません。庁内の受信先が必要な場合は、運用担当が link.webhooks.allow_networks に登録します。"
                ),
                format!(
                    "url reaches {address}, a {reason} address. Receivers must be on the public internet, or in a network the operators allow (link.webhooks.allow_networks)."
                ),
            ),
        )]));
    }
    let client = auth.actor.client_id.clone().unwrap_or_default();
    let max = state.settings.link.webhooks.max_per_client;
    let held = state
        .store
        .webhooks(&code.to_string(), &client)
        .await?
        .len() as u64;
    if held >= max {
        return Err(ApiError::validation(vec![FieldError::new(
            "",
            "too_many",
            Text::new(
                format!(
                    "このクライアントが登録できる webhook は{max}件までです。使わないものを削除してください。"
                ),
                format!(
                    "A client may register at most {max} webhooks here; remove one it no longer uses."
                ),
            ),
        )]));
    }
    let secret = webhooks::new_secret().map_err(ApiError::internal)?;
    let endpoint = state
        .store
        .create_webhook(
            &code.to_string(),
            &client,
            &url,
            &secret,
            state.server_key.as_ref(),
        )
        .await?;
    Ok(HttpResponse::Created().json(dto(endpoint, Some(secret))))
}

/// The endpoints this client registered for the municipality (without their secrets).
#[utoipa::path(
    tag = "visits",
    params(("lgCode" = String, Path, description = "全国地方公共団体コード", example = "012084")),
    responses(
        (status = 200, description = "The endpoints", body = ListDto),
        (status = 400, description = "Malformed lgCode", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope visits missing, or another municipality", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["visits"]))
)]
#[get("/municipalities/{lgCode}/webhooks")]
pub async fn list_webhooks(
    auth: Authorized<scopes::Visits>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let code = auth.municipality()?;
    let client = auth.actor.client_id.clone().unwrap_or_default();
    let items = state
        .store
        .webhooks(&code.to_string(), &client)
        .await?
        .into_iter()
        .map(|e| dto(e, None))
        .collect();
    Ok(HttpResponse::Ok().json(ListDto { items }))
}

/// Remove an endpoint: no message goes to it from now on (those waiting go to the dead
/// letter).
#[utoipa::path(
    tag = "visits",
    params(
        ("lgCode" = String, Path, description = "全国地方公共団体コード", example = "012084"),
        ("webhookId" = Uuid, Path, description = "The endpoint's id"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "Malformed lgCode or webhookId", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope visits missing, or another municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "This client has no such endpoint", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["visits"]))
)]
#[delete("/municipalities/{lgCode}/webhooks/{webhookId}")]
pub async fn delete_webhook(
    auth: Authorized<scopes::Visits>,
    state: web::Data<AppState>,
    path: web::Path<(String, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let code = auth.municipality()?;
    let id = path.into_inner().1;
    let client = auth.actor.client_id.clone().unwrap_or_default();
    if state
        .store
        .revoke_webhook(&code.to_string(), &client, id)
        .await?
    {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(no_such_webhook(id))
    }
}

/// Give an endpoint a new secret (shown once, in this answer). For 24 hours the secret it
/// replaces signs each message too — `webhook-signature` holds both signatures, as Standard
/// Webhooks allows — so the receiver can switch to the new one without losing a message.
#[utoipa::path(
    tag = "visits",
    params(
        ("lgCode" = String, Path, description = "全国地方公共団体コード", example = "012084"),
        ("webhookId" = Uuid, Path, description = "The endpoint's id"),
        IdempotencyKeyHeader,
    ),
    responses(
        (status = 200, description = "The endpoint with its new secret and until when the old one still signs", body = WebhookDto),
        (status = 400, description = "Malformed lgCode or webhookId", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope visits missing, or another municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "This client has no such endpoint", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "Idempotency-Key in use", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "The Idempotency-Key was used for another request (idempotency_key_reused)", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["visits"]))
)]
#[post(
    "/municipalities/{lgCode}/webhooks/{webhookId}/rotate-secret",
    wrap = "Idempotent::requiring(Scope::Visits)"
)]
pub async fn rotate_webhook_secret(
    auth: Authorized<scopes::Visits>,
    state: web::Data<AppState>,
    path: web::Path<(String, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let code = auth.municipality()?;
    let id = path.into_inner().1;
    let client = auth.actor.client_id.clone().unwrap_or_default();
    let secret = webhooks::new_secret().map_err(ApiError::internal)?;
    let until = crate::clock::now() + webhooks::ROTATION_OVERLAP;
    let endpoint = state
        .store
        .rotate_webhook_secret(
            &code.to_string(),
            &client,
            id,
            &secret,
            until,
            state.server_key.as_ref(),
        )
        .await?
        .ok_or_else(|| no_such_webhook(id))?;
    tracing::info!(webhook = %id, "webhook secret rotated");
    let mut answer = dto(endpoint, Some(secret));
    answer.previous_secret_valid_until = Some(until);
    Ok(HttpResponse::Ok().json(answer))
}

/// What became of a test message.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WebhookTestResult)]
pub struct TestResultDto {
    /// The message's `webhook-id`.
    pub message_id: Uuid,
    /// The receiver answered 2xx.
    pub delivered: bool,
    /// Why not, when it did not (its HTTP status, a timeout, an address that is not public).
    pub error: Option<String>,
}

/// Send a signed test message (`webhook.test`) to the endpoint now, and say whether it
/// answered 2xx: a vendor checks its receiver verifies `webhook-signature` before a resident's
/// application depends on it. It is sent once (not retried, not in the outbox), signed as
/// every message is (with both secrets during a rotation's overlap).
#[utoipa::path(
    tag = "visits",
    params(
        ("lgCode" = String, Path, description = "全国地方公共団体コード", example = "012084"),
        ("webhookId" = Uuid, Path, description = "The endpoint's id"),
    ),
    responses(
        (status = 200, description = "Sent: whether the receiver took it", body = TestResultDto),
        (status = 400, description = "Malformed lgCode or webhookId", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope visits missing, or another municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "This client has no such endpoint", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["visits"]))
)]
#[post("/municipalities/{lgCode}/webhooks/{webhookId}/test")]
pub async fn test_webhook(
    auth: Authorized<scopes::Visits>,
    state: web::Data<AppState>,
    path: web::Path<(String, Uuid)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let code = auth.municipality()?;
    let id = path.into_inner().1;
    let client = auth.actor.client_id.clone().unwrap_or_default();
    let target = state
        .store
        .own_webhook_target(&code.to_string(), &client, id, state.server_key.as_ref())
        .await?
        .ok_or_else(|| no_such_webhook(id))?;
    let message_id = Uuid::now_v7();
    let payload = webhooks::test_event(&code.to_string(), id, crate::clock::now()).to_string();
    let timeout =
        std::time::Duration::from_secs(state.settings.link.webhooks.timeout_seconds.max(1));
    let http = state.egress.client(timeout);
    // A conformance session's script may forge this one: signed with a secret nobody has,
    // which the app's receiver must refuse.
    let forged = req
        .extensions()
        .get::<crate::http::middleware::conformance::ForgedWebhookSignature>()
        .is_some();
    let secrets = if forged {
        vec![webhooks::new_secret().map_err(ApiError::internal)?]
    } else {
        target.secrets.clone()
    };
    let sent = crate::link::connectors::webhook::send(
        &http,
        &state.egress,
        &target.url,
        &secrets,
        &message_id.to_string(),
        &payload,
    )
    .await;
    use crate::link::connectors::http::Sent;
    let (delivered, error) = match sent {
        Sent::Delivered(_) => (true, None),
        Sent::Failed(e) | Sent::Refused(e) => (false, Some(e)),
    };
    tracing::info!(webhook = %id, delivered, "webhook test message sent");
    Ok(HttpResponse::Ok().json(TestResultDto {
        message_id,
        delivered,
        error,
    }))
}

/// One message sent (or to be sent) to an endpoint.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WebhookMessage)]
pub struct MessageDto {
    /// Its `webhook-id`.
    pub message_id: Uuid,
    /// The event type (`application.updated`).
    pub r#type: String,
    pub state: super::deliveries::StateDto,
    pub attempts: u32,
    /// What the last failed attempt met.
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// The body as sent (the event).
    #[schema(schema_with = super::forms::any_json)]
    pub payload: serde_json::Value,
}

impl From<crate::link::outbox::Delivery> for MessageDto {
    fn from(d: crate::link::outbox::Delivery) -> Self {
        let payload: serde_json::Value = d
            .payload
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok())
            .unwrap_or_default();
        Self {
            message_id: d.id,
            r#type: payload["type"].as_str().unwrap_or_default().to_owned(),
            state: d.state.into(),
            attempts: d.attempts,
            last_error: d.last_error,
            created_at: d.created_at,
            delivered_at: d.delivered_at,
            payload,
        }
    }
}

crate::http::pagination::page_type!(
    WebhookMessagePage,
    MessageDto,
    "A page of an endpoint's messages, newest first."
);

crate::http::pagination::page_params!(
    WebhookMessageParams,
    Uuid,
    "`nextCursor` of the previous page: the messages older than that one.",
    value_type = Option<String>, format = Uuid
);

/// The endpoint, if this client has it live.
async fn own_endpoint(
    state: &AppState,
    auth: &Authorized<scopes::Visits>,
    id: Uuid,
) -> Result<(), ApiError> {
    let code = auth.municipality()?;
    let client = auth.actor.client_id.clone().unwrap_or_default();
    state
        .store
        .webhook(&code.to_string(), &client, id)
        .await?
        .map(|_| ())
        .ok_or_else(|| no_such_webhook(id))
}

/// The messages of an endpoint, newest first, with their state (pending, delivered, dead),
/// attempts and last error: what the vendor's receiver got or missed.
#[utoipa::path(
    tag = "visits",
    params(
        ("lgCode" = String, Path, description = "全国地方公共団体コード", example = "012084"),
        ("webhookId" = Uuid, Path, description = "The endpoint's id"),
        WebhookMessageParams,
    ),
    responses(
        (status = 200, description = "One page of messages, newest first", body = WebhookMessagePage),
        (status = 400, description = "Malformed lgCode, webhookId, limit or cursor", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope visits missing, or another municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "This client has no such endpoint", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["visits"]))
)]
#[get("/municipalities/{lgCode}/webhooks/{webhookId}/messages")]
pub async fn list_webhook_messages(
    auth: Authorized<scopes::Visits>,
    state: web::Data<AppState>,
    path: web::Path<(String, Uuid)>,
    query: web::Query<WebhookMessageParams>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner().1;
    own_endpoint(&state, &auth, id).await?;
    let limit = query.limit()?;
    let mut items = state
        .store
        .webhook_messages(id, query.cursor, limit + 1)
        .await?;
    let more = items.len() as u64 > limit;
    items.truncate(limit as usize);
    let next_cursor = more
        .then(|| items.last().map(|d| d.id.to_string()))
        .flatten();
    Ok(HttpResponse::Ok().json(WebhookMessagePage {
        items: items.into_iter().map(MessageDto::from).collect(),
        next_cursor,
    }))
}

/// Send one of the endpoint's messages again, now (the same `webhook-id`, so a receiver that
/// has it can drop the repeat), whether it was delivered or went to the dead letter. Audited
/// as `delivery.replay`.
#[utoipa::path(
    tag = "visits",
    params(
        ("lgCode" = String, Path, description = "全国地方公共団体コード", example = "012084"),
        ("webhookId" = Uuid, Path, description = "The endpoint's id"),
        ("messageId" = Uuid, Path, description = "The message's webhook-id"),
    ),
    responses(
        (status = 202, description = "On its way again", body = MessageDto),
        (status = 400, description = "Malformed lgCode, webhookId or messageId", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope visits missing, or another municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "This client has no such endpoint, or it no such message", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "The message is on its way already", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["visits"]))
)]
#[post("/municipalities/{lgCode}/webhooks/{webhookId}/messages/{messageId}/resend")]
pub async fn resend_webhook_message(
    auth: Authorized<scopes::Visits>,
    state: web::Data<AppState>,
    path: web::Path<(String, Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (_, id, message) = path.into_inner();
    own_endpoint(&state, &auth, id).await?;
    match state
        .store
        .resend_webhook_message(id, message, &auth.actor)
        .await?
    {
        crate::store::Resend::Done(d) => {
            state.delivery_wake.notify_one();
            Ok(HttpResponse::Accepted().json(MessageDto::from(*d)))
        }
        crate::store::Resend::Pending => Err(ApiError::new(
            ProblemKind::Conflict,
            Text::new(
                format!(
                    "メッセージ {message} は送信待ちです。届くのを待つか、届かなかった後で再送してください。"
                ),
                format!(
                    "Message {message} is on its way already; wait for it, or resend it once it has failed."
                ),
            ),
        )),
        crate::store::Resend::NotFound => Err(ApiError::not_found(Text::new(
            format!("webhook {id} にメッセージ {message} はありません。"),
            format!("Webhook {id} has no message {message}."),
        ))),
    }
}
