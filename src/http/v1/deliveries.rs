//! `/v1/admin/deliveries` (scope `admin`): the outbox as municipal IT sees it. Each application
//! of an area with a pushing connector (`file`, `http`) has a delivery: pending (waiting for an
//! attempt or a retry), delivered, or dead (the dead letter: every attempt failed, or the core
//! system refused it). Vendors' webhook messages ride in the same outbox (`connector`
//! `webhook`). A dead delivery is replayed once its cause is fixed.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::http::auth::{Authorized, scopes};
use crate::http::problem::{ApiError, ProblemDoc, ProblemKind};
use crate::http::state::AppState;
use crate::i18n::Text;
use crate::link::outbox::{Delivery, DeliveryState};
use crate::store::Replay;

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DeliveryState)]
pub enum StateDto {
    Pending,
    Delivered,
    Dead,
}

impl From<StateDto> for DeliveryState {
    fn from(s: StateDto) -> Self {
        match s {
            StateDto::Pending => DeliveryState::Pending,
            StateDto::Delivered => DeliveryState::Delivered,
            StateDto::Dead => DeliveryState::Dead,
        }
    }
}

impl From<DeliveryState> for StateDto {
    fn from(s: DeliveryState) -> Self {
        match s {
            DeliveryState::Pending => StateDto::Pending,
            DeliveryState::Delivered => StateDto::Delivered,
            DeliveryState::Dead => StateDto::Dead,
        }
    }
}

/// One application's way to its core system.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Delivery)]
pub struct DeliveryDto {
    pub delivery_id: Uuid,
    pub application_id: Uuid,
    #[schema(example = "012084")]
    pub lg_code: String,
    #[schema(example = "residentRegistry")]
    pub area: String,
    /// `file` or `http` (to a core system), or `webhook` (a message to a vendor's endpoint).
    #[schema(example = "file")]
    pub connector: String,
    pub state: StateDto,
    /// Attempts made so far (a replay counts from zero again).
    pub attempts: u32,
    /// When a pending delivery is tried next.
    pub next_attempt_at: DateTime<Utc>,
    /// What the last failed attempt met, in the core system's words (shortened).
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

impl From<Delivery> for DeliveryDto {
    fn from(d: Delivery) -> Self {
        Self {
            delivery_id: d.id,
            application_id: d.application_id,
            lg_code: d.lg_code,
            area: d.area,
            connector: d.connector.as_str().to_owned(),
            state: d.state.into(),
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            last_error: d.last_error,
            created_at: d.created_at,
            updated_at: d.updated_at,
            delivered_at: d.delivered_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListParams {
    /// Only this municipality's deliveries.
    #[param(example = "012084", pattern = "^[0-9]{6}$")]
    pub lg_code: Option<String>,
    /// Only deliveries in this state (`dead`: the dead letters).
    #[param(inline)]
    pub state: Option<StateDto>,
    /// Items per page, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
    /// The `nextCursor` of the previous page (a delivery id).
    #[param(value_type = Option<String>, format = Uuid)]
    #[serde(default, deserialize_with = "crate::http::pagination::cursor")]
    pub cursor: Option<Uuid>,
}

/// A page of deliveries, oldest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DeliveryPage)]
pub struct PageDto {
    pub items: Vec<DeliveryDto>,
    pub next_cursor: Option<Uuid>,
}

/// The deliveries of the outbox, oldest first.
#[utoipa::path(
    tag = "admin",
    params(ListParams),
    responses(
        (status = 200, description = "One page of deliveries", body = PageDto),
        (status = 400, description = "An invalid lgCode, state, cursor or limit", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope admin missing", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["admin"]))
)]
#[get("/admin/deliveries")]
pub async fn list_deliveries(
    _auth: Authorized<scopes::Admin>,
    state: web::Data<AppState>,
    query: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    let code = match &query.lg_code {
        Some(c) => Some(crate::http::auth::lg_code_problem(c)?),
        None => None,
    };
    let limit = crate::http::pagination::limit(query.limit)?;
    let page = state
        .store
        .deliveries(
            code.as_ref(),
            query.state.map(Into::into),
            query.cursor,
            limit,
        )
        .await?;
    let next_cursor = page
        .next_after
        .and_then(|_| page.items.last().map(|d| d.id));
    Ok(HttpResponse::Ok().json(PageDto {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}

fn not_found(id: Uuid) -> ApiError {
    ApiError::not_found(Text::new(
        format!("送信 {id} はありません。"),
        format!("There is no delivery {id}."),
    ))
}

/// One delivery.
#[utoipa::path(
    tag = "admin",
    params(("deliveryId" = Uuid, Path, description = "The delivery's id")),
    responses(
        (status = 200, description = "The delivery", body = DeliveryDto),
        (status = 400, description = "deliveryId is not a UUID", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope admin missing", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such delivery", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["admin"]))
)]
#[get("/admin/deliveries/{deliveryId}")]
pub async fn get_delivery(
    _auth: Authorized<scopes::Admin>,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let delivery = state
        .store
        .delivery(id)
        .await?
        .ok_or_else(|| not_found(id))?;
    Ok(HttpResponse::Ok().json(DeliveryDto::from(delivery)))
}

/// Sends a dead delivery on its way again, now, its attempts counted from zero (audited as
/// `delivery.replay`). Fix the cause first: the core system's answer is in `lastError`.
#[utoipa::path(
    tag = "admin",
    params(("deliveryId" = Uuid, Path, description = "The delivery's id")),
    responses(
        (status = 200, description = "Pending again", body = DeliveryDto),
        (status = 400, description = "deliveryId is not a UUID", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope admin missing", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such delivery", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "Not dead (pending or delivered)", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["admin"]))
)]
#[post("/admin/deliveries/{deliveryId}/replay")]
pub async fn replay_delivery(
    auth: Authorized<scopes::Admin>,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    match state.store.replay_delivery(id, &auth.actor).await? {
        Replay::Done(d) => {
            state.delivery_wake.notify_one();
            Ok(HttpResponse::Ok().json(DeliveryDto::from(*d)))
        }
        Replay::NotFound => Err(not_found(id)),
        Replay::NotDead(now) => Err(ApiError::new(
            ProblemKind::Conflict,
            Text::new(
                format!(
                    "送信 {id} は「{}」です。再送できるのは dead(送信不能)のものだけです。",
                    now.as_str()
                ),
                format!(
                    "Delivery {id} is {}; only a dead delivery can be replayed.",
                    now.as_str()
                ),
            ),
        )),
    }
}
