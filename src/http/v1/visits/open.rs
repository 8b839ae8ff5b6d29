//! Opening a visit: the life events, the household members known so far, the applicant.

use super::{NewVisitDto, VisitDto, answers, catalog_problem, member_input, visit_dto};
use crate::audit::Actor;
use crate::auth::Scope;
use crate::http::auth::{Clerk, scopes};
use crate::http::extract::ApiJson;
use crate::http::headers::{IdempotencyKeyHeader, StaffHeader};
use crate::http::middleware::idempotency::Idempotent;
use crate::http::preconditions;
use crate::http::problem::{ApiError, ProblemDoc};
use crate::http::state::AppState;
use crate::i18n::Lang;
use crate::tenancy::LgCode;
use crate::visits::Visit;
use crate::visits::input::{self, Context, NewApplicant, NewEvent};
use crate::visits::limits;
use actix_web::{HttpResponse, post, web};

/// Open a visit: the life events, the household members known so far, the applicant.
///
/// Bounds: at most 30 members, 10 events, 200 answers and a 64 KiB body (413 above it);
/// a list over its bound is refused whole (422, code `too_many`).
#[utoipa::path(
    tag = "visits",
    params(
        ("lgCode" = String, Path, description = "全国地方公共団体コード", example = "012084"),
        StaffHeader,
        IdempotencyKeyHeader,
    ),
    request_body(content = NewVisitDto, content_type = "application/json"),
    responses(
        (status = 201, description = "The visit", body = VisitDto, headers(("ETag" = String, description = "The visit's revision (\"v12\"), for If-Match on the next change"))),
        (status = 400, description = "Malformed JSON, lgCode or Madoguchi-Actor", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope visits missing, or the client may not act for this municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "Municipality not registered", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "Idempotency-Key in use", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "Invalid events, members, applicant or answers, all listed in errors[]", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["visits"]))
)]
#[post(
    "/municipalities/{lgCode}/visits",
    wrap = "Idempotent::requiring(Scope::Visits)"
)]
pub async fn create_visit(
    lang: Lang,
    clerk: Clerk<scopes::Visits>,
    state: web::Data<AppState>,
    body: ApiJson<NewVisitDto, { limits::VISIT_BODY_BYTES }>,
) -> Result<HttpResponse, ApiError> {
    let code = clerk.municipality()?;
    let visit = open_visit(&state, code, body.0, &clerk.actor).await?;
    Ok(HttpResponse::Created()
        .insert_header((
            actix_web::http::header::LOCATION,
            format!("/v1/municipalities/{code}/visits/{}", visit.id),
        ))
        .insert_header(preconditions::etag(visit.revision))
        .json(visit_dto(&state, &visit, lang)))
}

/// Opens a visit of municipality `code` for `actor`: what the API's `POST …/visits` and the
/// console's 新しい受付 do.
pub(crate) async fn open_visit(
    state: &AppState,
    code: LgCode,
    body: NewVisitDto,
    actor: &Actor,
) -> Result<Visit, ApiError> {
    state
        .municipalities
        .municipality(&code)
        .await?
        .ok_or_else(|| super::super::municipalities::not_registered(&code))?;
    let now = crate::clock::now();
    let ctx = Context {
        catalog: &state.catalog,
        eras: &state.forms.eras,
        now,
    };
    let counter = body.counter.as_deref().map(input::counter_name).transpose();
    let household = input::opening(
        &ctx,
        body.ticket.as_deref(),
        body.events
            .into_iter()
            .map(|e| NewEvent {
                kind: e.kind,
                date: e.date,
                subjects: e.subjects,
                facts: e.facts.into_iter().collect(),
            })
            .collect(),
        body.members.into_iter().map(member_input).collect(),
        NewApplicant {
            member: body.applicant.member,
            name: body.applicant.name,
        },
        answers(body.answers),
    );
    let (household, counter) = match (household, counter) {
        (Ok(h), Ok(c)) => (h, c),
        (Ok(_), Err(e)) => return Err(ApiError::validation(vec![e])),
        (Err(mut errors), c) => {
            errors.extend(c.err());
            return Err(ApiError::validation(errors));
        }
    };
    let (version, _) = state
        .catalogs
        .current(&code)
        .await
        .map_err(catalog_problem)?;
    let label = state.catalogs.label(version);
    let mut visit = Visit::open(code, body.ticket, label, household, actor, now);
    visit.counter = counter;
    state.store.create_visit(&visit, actor).await?;
    state.visit_metrics.opened(&visit.lg_code);
    Ok(visit)
}
