//! Submission: each confirmed procedure becomes an application, delivered to its core system
//! through the outbox; and the applications of a visit with their states.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{VisitPath, barred_problem, load, store_conflict, submitted, visit_not_found};
use crate::audit::Actor;
use crate::auth::Scope;
use crate::http::auth::{Clerk, scopes};
use crate::http::headers::{IdempotencyKeyHeader, StaffHeader};
use crate::http::middleware::idempotency::Idempotent;
use crate::http::problem::{ApiError, ProblemDoc};
use crate::http::state::AppState;
use crate::store::Submission;
use crate::tenancy::LgCode;
use crate::visits::confirmation::Application;

/// One application of a submitted visit.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Application)]
pub struct ApplicationDto {
    pub id: Uuid,
    pub visit_id: Uuid,
    pub procedure_id: String,
    pub area: String,
    pub member: Option<String>,
    /// `formId@version`, when filed on a form.
    pub form: Option<String>,
    /// The confirmed form document.
    #[schema(schema_with = crate::http::v1::forms::any_json)]
    pub document: Option<Value>,
    /// submitted, delivered, accepted, rejected, completed or referred.
    #[schema(example = "submitted")]
    pub state: String,
    /// Rejected: the core system's reason, for the clerk to tell the resident.
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The applications of a visit.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Applications)]
pub struct ApplicationsDto {
    pub visit_id: Uuid,
    pub items: Vec<ApplicationDto>,
}

pub(crate) fn applications_dto(visit: Uuid, list: Vec<Application>) -> ApplicationsDto {
    ApplicationsDto {
        visit_id: visit,
        items: list
            .into_iter()
            .map(|a| ApplicationDto {
                id: a.id,
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
            })
            .collect(),
    }
}

/// Submit the confirmed visit: each confirmed procedure becomes an application (`submitted`,
/// or `referred` for a referral), in one transaction with the visit and its audit event.
#[utoipa::path(
    tag = "visits",
    params(VisitPath, StaffHeader, IdempotencyKeyHeader),
    responses(
        (status = 201, description = "The applications", body = ApplicationsDto),
        (status = 400, description = "Malformed lgCode, visit id or Madoguchi-Actor", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope visits missing, or the client may not act for this municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such visit in this municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "Not confirmed yet, submitted already, closed, changed meanwhile, or Idempotency-Key in use", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "The Idempotency-Key was used for another request", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["visits"]))
)]
#[post(
    "/municipalities/{lgCode}/visits/{visitId}/submit",
    wrap = "Idempotent::requiring(Scope::Visits)"
)]
pub async fn submit_visit(
    clerk: Clerk<scopes::Visits>,
    state: web::Data<AppState>,
    path: web::Path<VisitPath>,
) -> Result<HttpResponse, ApiError> {
    let id = path.visit_id;
    let list = submit(&state, clerk.municipality()?, &clerk.actor, id).await?;
    Ok(HttpResponse::Created().json(applications_dto(id, list)))
}

/// Submits the confirmed visit: each procedure becomes an application in the outbox. What the
/// API's `POST …/submit` and the console's 送信 do; a second submission is refused.
pub(crate) async fn submit(
    state: &AppState,
    code: LgCode,
    actor: &Actor,
    id: Uuid,
) -> Result<Vec<Application>, ApiError> {
    let now = crate::clock::now();
    let submission = state
        .store
        .submit_visit(&code, id, actor, now, |visit, confirmation| {
            crate::link::outbox::submission(visit, confirmation, &state.routes, now)
        })
        .await
        .map_err(store_conflict)?;
    match submission {
        Submission::Done(list) => {
            state.delivery_wake.notify_one();
            Ok(list)
        }
        Submission::NotFound => Err(visit_not_found(id)),
        Submission::Barred(barred) => Err(barred_problem(id, barred)),
        Submission::AlreadySubmitted(list) => Err(submitted(id, Some(list.len()))),
    }
}

/// The applications of a submitted visit, with their states.
#[utoipa::path(
    tag = "visits",
    params(VisitPath, StaffHeader),
    responses(
        (status = 200, description = "The applications (none before submission)", body = ApplicationsDto),
        (status = 400, description = "Malformed lgCode, visit id or Madoguchi-Actor", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope visits missing, or the client may not act for this municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such visit in this municipality", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["visits"]))
)]
#[get("/municipalities/{lgCode}/visits/{visitId}/applications")]
pub async fn list_applications(
    clerk: Clerk<scopes::Visits>,
    state: web::Data<AppState>,
    path: web::Path<VisitPath>,
) -> Result<HttpResponse, ApiError> {
    let visit = load(&state, &clerk, path.visit_id).await?;
    let list = state.store.applications(visit.id).await?;
    Ok(HttpResponse::Ok().json(applications_dto(visit.id, list)))
}
