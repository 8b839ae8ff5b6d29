//! Closing a visit: the resident has left, and its stay time is recorded.

use actix_web::{HttpResponse, post, web};

use super::{VisitDto, VisitPath, changed, store_conflict, visit_dto};
use crate::auth::Scope;
use crate::http::auth::{Clerk, scopes};
use crate::http::headers::{IdempotencyKeyHeader, IfMatchHeader, StaffHeader};
use crate::http::middleware::idempotency::Idempotent;
use crate::http::preconditions::{self, IfMatch};
use crate::http::problem::{ApiError, ProblemDoc};
use crate::http::state::AppState;
use crate::i18n::Lang;
use crate::visits::{Status, Step};

/// Close the visit: the resident has left. Its stay time is recorded.
#[utoipa::path(
    tag = "visits",
    params(VisitPath, StaffHeader, IfMatchHeader, IdempotencyKeyHeader),
    responses(
        (status = 200, description = "The closed visit", body = VisitDto, headers(("ETag" = String, description = "The visit's revision (\"v12\"), for If-Match on the next change"))),
        (status = 400, description = "Malformed lgCode, visit id or Madoguchi-Actor", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope visits missing, or the client may not act for this municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such visit in this municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "Already closed, changed meanwhile, or Idempotency-Key in use", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 412, description = "If-Match names a revision of the visit that is no longer the current one: nothing changed; the problem's etag (and ETag) is the current one", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "The Idempotency-Key was used for another request", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["visits"]))
)]
#[post(
    "/municipalities/{lgCode}/visits/{visitId}/close",
    wrap = "Idempotent::requiring(Scope::Visits)"
)]
pub async fn close_visit(
    lang: Lang,
    clerk: Clerk<scopes::Visits>,
    state: web::Data<AppState>,
    path: web::Path<VisitPath>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let code = clerk.municipality()?;
    let id = path.visit_id;
    let now = crate::clock::now();
    let change = state
        .store
        .change_visit(
            &code,
            id,
            Step::Close,
            &clerk.actor,
            if_match.revisions(),
            |visit| {
                visit.status = Status::Closed;
                visit.closed_at = Some(now);
                Ok(())
            },
        )
        .await
        .map_err(store_conflict)?;
    let visit = changed(id, change)?;
    state.visit_metrics.closed(&visit);
    Ok(HttpResponse::Ok()
        .insert_header(preconditions::etag(visit.revision))
        .json(visit_dto(&state, &visit, lang)))
}
