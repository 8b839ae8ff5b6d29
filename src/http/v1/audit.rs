//! `/v1/municipalities/{lgCode}/audit-events`: a municipality's audit log, newest first.

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::audit::AuditRecord;
use crate::http::auth::{Authorized, scopes};
use crate::http::pagination::{page_params, page_type};
use crate::http::problem::{ApiError, ProblemDoc};
use crate::http::state::AppState;

/// One audit event. It never holds request bodies or personal data.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AuditEvent)]
pub struct AuditEventDto {
    pub id: Uuid,
    /// Position in the gateway-wide hash chain.
    pub seq: i64,
    pub occurred_at: DateTime<Utc>,
    /// `X-Request-Id` of the request that caused it.
    pub request_id: Option<String>,
    /// OAuth2 client id (or `cli` for operator commands).
    pub client_id: Option<String>,
    /// Staff id from `Madoguchi-Actor`.
    pub actor: Option<String>,
    pub lg_code: Option<String>,
    #[schema(example = "municipality.update")]
    pub action: String,
    pub target: Option<String>,
    #[schema(example = "success")]
    pub outcome: String,
    /// For a record of repeated refused accesses: how many followed the first one (which has
    /// a record of its own) within the counting window (`audit.denial_window_seconds`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeat_count: Option<i64>,
    /// SHA-256 chain hash of this event.
    pub hash: String,
}

impl From<AuditRecord> for AuditEventDto {
    fn from(r: AuditRecord) -> Self {
        Self {
            id: r.id,
            seq: r.seq,
            occurred_at: r.occurred_at,
            request_id: r.request_id,
            client_id: r.client_id,
            actor: r.actor,
            lg_code: r.lg_code,
            action: r.action,
            target: r.target,
            outcome: r.outcome,
            repeat_count: r.repeat_count,
            hash: r.hash,
        }
    }
}

fn invalid_seq() -> ApiError {
    ApiError::new(
        crate::http::problem::ProblemKind::InvalidCursor,
        crate::i18n::Text::new(
            "cursor には直前の応答の nextCursor(1以上の整数)をそのまま渡してください。",
            "cursor takes the nextCursor of the previous response (an integer of 1 or more) unchanged.",
        ),
    )
}

page_type!(
    AuditEventPage,
    AuditEventDto,
    "One page of audit events, newest first."
);

page_params!(
    AuditPageParams,
    i64,
    "`nextCursor` of the previous page: the `seq` the next page starts before.",
    minimum = 1, value_type = Option<i64>
);

/// The municipality's audit events, newest first.
#[utoipa::path(
    tag = "audit",
    params(
        ("lgCode" = String, Path, description = "全国地方公共団体コード", example = "012084"),
        AuditPageParams,
    ),
    responses(
        (status = 200, description = "One page of events", body = AuditEventPage),
        (status = 400, description = "Malformed lgCode, limit or cursor", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope missing, or the client may not act for this municipality", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["audit:read"]))
)]
#[get("/municipalities/{lgCode}/audit-events")]
pub async fn list_audit_events(
    auth: Authorized<scopes::AuditRead>,
    state: web::Data<AppState>,
    query: web::Query<AuditPageParams>,
) -> Result<HttpResponse, ApiError> {
    let code = auth.municipality()?;
    let limit = query.limit()?;
    let before = match query.cursor {
        Some(seq) if seq < 1 => return Err(invalid_seq()),
        seq => seq,
    };
    let page = state.store.list_audit(&code, before, limit).await?;
    Ok(HttpResponse::Ok().json(AuditEventPage {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_before.map(|seq| seq.to_string()),
    }))
}
