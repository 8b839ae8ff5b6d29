//! `/v1/municipalities/{lgCode}/link/{area}/applications` (scope `link`): the pull principle of
//! the Digital Agency's linkage rules. A core system reads the applications of its business area
//! after the cursor it keeps, and answers each: accepted, rejected (with its reason) or
//! completed. The vendor's counter app sees the answer in the visit's applications.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::http::auth::{Authorized, scopes};
use crate::http::extract::ApiJson;
use crate::http::problem::{ApiError, ProblemDoc, ProblemKind};
use crate::http::state::AppState;
use crate::i18n::Text;
use crate::store::Acknowledged;
use crate::validation::FieldError;
use crate::visits::confirmation::{Acknowledgement, Application};

const DEFAULT_LIMIT: u64 = 100;
const MAX_LIMIT: u64 = 1000;
/// The longest reason a core system may give for its answer.
const MAX_REASON_CHARS: usize = 1_000;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct AreaPath {
    /// 全国地方公共団体コード.
    #[serde(rename = "lgCode")]
    #[allow(dead_code)] // Authorized reads and checks it from the path.
    #[param(rename = "lgCode", example = "012084")]
    pub lg_code: String,
    /// The business area (業務), as the catalogue names it.
    #[param(example = "certificates")]
    pub area: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PullParams {
    /// The cursor from the last page (`nextCursor`): applications made after it. Without it,
    /// from the first.
    #[param(value_type = Option<String>, format = Uuid)]
    pub after: Option<Uuid>,
    /// 1–1000 (100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u64>,
}

/// An application as its core system reads it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = LinkApplication)]
pub struct LinkApplicationDto {
    pub application_id: Uuid,
    pub visit_id: Uuid,
    pub procedure_id: String,
    pub area: String,
    /// The household member it concerns.
    pub member: Option<String>,
    /// `formId@version`, when filed on a form.
    pub form: Option<String>,
    /// The confirmed form document, in the standard form.
    #[schema(schema_with = super::forms::any_json)]
    pub document: Option<Value>,
    /// submitted, accepted, rejected, completed or referred.
    pub state: String,
    /// Why it was rejected.
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn dto(a: Application) -> LinkApplicationDto {
    LinkApplicationDto {
        application_id: a.id,
        visit_id: a.visit_id,
        procedure_id: a.procedure_id,
        area: a.area,
        member: a.member,
        form: a.form,
        document: a.document,
        state: a.state.as_str().to_owned(),
        reason: a.reason,
        created_at: a.created_at,
        updated_at: a.updated_at,
    }
}

/// One page of applications.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = LinkApplicationPage)]
pub struct PageDto {
    pub items: Vec<LinkApplicationDto>,
    /// Where to continue: send it as `after` next time (keep it; with no new applications it
    /// stays what you sent).
    pub next_cursor: Option<Uuid>,
    /// More applications follow now.
    pub more: bool,
}

/// The area must be one of the catalogue's, and one the client's `link` reaches.
fn linkable_area(
    state: &AppState,
    auth: &Authorized<scopes::Link>,
    area: &str,
) -> Result<(), ApiError> {
    if state.catalog.vocabulary.areas.contains_key(area) {
        if auth.principal.may_link(area) {
            return Ok(());
        }
        let allowed = auth
            .principal
            .link_areas
            .as_deref()
            .unwrap_or_default()
            .join(", ");
        tracing::warn!(
            client_id = %auth.principal.client_id,
            area,
            "a core system's client asked for a business area outside its linkAreas"
        );
        return Err(ApiError::new(
            ProblemKind::AreaForbidden,
            Text::new(
                format!("このクライアントは業務「{area}」を扱えません(許可: {allowed})。"),
                format!("This client may not link business area {area:?} (allowed: {allowed})."),
            ),
        ));
    }
    let known = state.catalog.vocabulary.area_ids();
    Err(ApiError::not_found(Text::new(
        format!("業務「{area}」はありません({})。", known.join(", ")),
        format!("There is no business area {area:?} ({}).", known.join(", ")),
    )))
}

/// The applications of a business area, oldest first, after a cursor (the pull principle).
#[utoipa::path(
    tag = "link",
    params(AreaPath, PullParams),
    responses(
        (status = 200, description = "One page of applications", body = PageDto),
        (status = 400, description = "Malformed lgCode, cursor or limit", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope link missing, another municipality, or a business area outside the client's linkAreas", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such business area", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["link"]))
)]
#[get("/municipalities/{lgCode}/link/{area}/applications")]
pub async fn pull_applications(
    auth: Authorized<scopes::Link>,
    state: web::Data<AppState>,
    path: web::Path<AreaPath>,
    query: web::Query<PullParams>,
) -> Result<HttpResponse, ApiError> {
    let code = auth.municipality()?;
    linkable_area(&state, &auth, &path.area)?;
    let limit = crate::http::pagination::limit_within(query.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
    let page = state
        .store
        .area_applications(&code, &path.area, query.after, limit)
        .await?;
    // The feed's cursor is kept when nothing new came: the core system asks again with it.
    let next_cursor = page.items.last().map(|a| a.id).or(query.after);
    Ok(HttpResponse::Ok().json(PageDto {
        more: page.next_after.is_some(),
        items: page.items.into_iter().map(dto).collect(),
        next_cursor,
    }))
}

/// What the core system says.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = LinkOutcome)]
pub enum OutcomeDto {
    /// Taken in: the core system will process it.
    Accepted,
    /// Not taken: say why in `reason` (the counter shows it to the clerk).
    Rejected,
    /// Done.
    Completed,
}

/// A core system's answer about an application.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = LinkAcknowledgement, example = json!({"outcome": "rejected", "reason": "転入届が未処理のため、国保資格を取得できません。"}))]
pub struct AckDto {
    pub outcome: OutcomeDto,
    /// Required for rejected: the reason in the core system's words (at most 1,000
    /// characters; no control or hidden characters but line breaks).
    #[schema(max_length = 1000)]
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ApplicationPath {
    /// 全国地方公共団体コード.
    #[serde(rename = "lgCode")]
    #[allow(dead_code)] // Authorized reads and checks it from the path.
    #[param(rename = "lgCode", example = "012084")]
    pub lg_code: String,
    /// The business area (業務).
    #[param(example = "certificates")]
    pub area: String,
    /// The application's id.
    #[serde(rename = "applicationId")]
    #[param(rename = "applicationId")]
    pub application_id: Uuid,
}

/// Answer an application: accepted, rejected with a reason, or completed. Repeating an answer
/// changes nothing; an application past it (completed, rejected) is 409.
#[utoipa::path(
    tag = "link",
    params(ApplicationPath),
    request_body(content = AckDto, content_type = "application/json"),
    responses(
        (status = 200, description = "The application as it is now", body = LinkApplicationDto),
        (status = 400, description = "Malformed JSON, lgCode or id", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope link missing, another municipality, or a business area outside the client's linkAreas", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such business area, or no such application in it", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "The application is past that answer", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "A rejection without a reason, or a reason over 1,000 characters or with control characters", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["link"]))
)]
#[post("/municipalities/{lgCode}/link/{area}/applications/{applicationId}/ack")]
pub async fn acknowledge(
    auth: Authorized<scopes::Link>,
    state: web::Data<AppState>,
    path: web::Path<ApplicationPath>,
    body: ApiJson<AckDto>,
) -> Result<HttpResponse, ApiError> {
    let code = auth.municipality()?;
    linkable_area(&state, &auth, &path.area)?;
    let body = body.0;
    let ack = match body.outcome {
        OutcomeDto::Accepted => Acknowledgement::Accepted,
        OutcomeDto::Rejected => Acknowledgement::Rejected,
        OutcomeDto::Completed => Acknowledgement::Completed,
    };
    let reason = body
        .reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    if let Some(r) = &reason
        && (r.chars().count() > MAX_REASON_CHARS
            || r.chars()
                .any(|c| c != '\n' && crate::validation::is_hidden_or_control(c)))
    {
        return Err(ApiError::validation(vec![FieldError::new(
            "/reason",
            "invalid_reason",
            Text::new(
                format!(
                    "理由は{MAX_REASON_CHARS}文字以内で、改行のほかの制御文字・見えない文字を含めずに入れてください。"
                ),
                format!(
                    "reason: at most {MAX_REASON_CHARS} characters, without control or hidden characters other than line breaks."
                ),
            ),
        )]));
    }
    if ack == Acknowledgement::Rejected && reason.is_none() {
        return Err(ApiError::validation(vec![FieldError::new(
            "/reason",
            "required",
            Text::new(
                "却下するときは理由(reason)を入れてください。窓口で職員が住民に伝えます。",
                "A rejection needs its reason: the clerk tells the resident.",
            ),
        )]));
    }
    let id = path.application_id;
    match state
        .store
        .acknowledge_application(&code, &path.area, id, ack, reason, &auth.actor)
        .await?
    {
        Acknowledged::Done(a) => Ok(HttpResponse::Ok().json(dto(*a))),
        Acknowledged::NotFound => Err(ApiError::not_found(Text::new(
            format!("申請 {id} はこの団体のこの業務にありません。"),
            format!("There is no application {id} of this area in this municipality."),
        ))),
        Acknowledged::Past(now) => Err(ApiError::new(
            ProblemKind::Conflict,
            Text::new(
                format!("申請 {id} は既に「{}」です。", now.as_str()),
                format!("Application {id} is {} already.", now.as_str()),
            ),
        )),
    }
}
