//! Reading visits: one visit, its determination, and a day's visits.

use actix_web::{HttpResponse, get, web};
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::{
    DeterminationDto, VisitDto, VisitPath, catalog_of, determination_dto, load, visit_dto,
};
use crate::http::auth::{Clerk, scopes};
use crate::http::headers::StaffHeader;
use crate::http::pagination::{page_params, page_type};
use crate::http::preconditions;
use crate::http::problem::{ApiError, ProblemDoc};
use crate::http::state::AppState;
use crate::i18n::Lang;

/// A visit, with what is known about the household and where each fact came from.
#[utoipa::path(
    tag = "visits",
    params(VisitPath, StaffHeader),
    responses(
        (status = 200, description = "The visit", body = VisitDto, headers(("ETag" = String, description = "The visit's revision (\"v12\"), for If-Match on the next change"))),
        (status = 400, description = "Malformed lgCode, visit id or Madoguchi-Actor", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope visits missing, or the client may not act for this municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such visit in this municipality", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["visits"]))
)]
#[get("/municipalities/{lgCode}/visits/{visitId}")]
pub async fn get_visit(
    lang: Lang,
    clerk: Clerk<scopes::Visits>,
    state: web::Data<AppState>,
    path: web::Path<VisitPath>,
) -> Result<HttpResponse, ApiError> {
    let visit = load(&state, &clerk, path.visit_id).await?;
    Ok(HttpResponse::Ok()
        .insert_header(preconditions::etag(visit.revision))
        .json(visit_dto(&state, &visit, lang)))
}

/// The determination: every needed procedure with its reason, documents, 本人確認, fee,
/// deadline, form and counter or referral; the undecided ones with the questions that decide
/// them; the ones ruled out with why.
#[utoipa::path(
    tag = "visits",
    params(VisitPath, StaffHeader),
    responses(
        (status = 200, description = "The determination", body = DeterminationDto, headers(("ETag" = String, description = "The visit's revision (\"v12\"), for If-Match on the next change"))),
        (status = 400, description = "Malformed lgCode, visit id or Madoguchi-Actor", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope visits missing, or the client may not act for this municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such visit in this municipality", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["visits"]))
)]
#[get("/municipalities/{lgCode}/visits/{visitId}/determination")]
pub async fn get_determination(
    lang: Lang,
    clerk: Clerk<scopes::Visits>,
    state: web::Data<AppState>,
    path: web::Path<VisitPath>,
) -> Result<HttpResponse, ApiError> {
    let visit = load(&state, &clerk, path.visit_id).await?;
    let catalog = catalog_of(&state, &visit).await?;
    Ok(HttpResponse::Ok()
        .insert_header(preconditions::etag(visit.revision))
        .json(determination_dto(&state, &catalog, &visit, lang)))
}

page_type!(
    VisitPage,
    VisitDto,
    "One page of a day's visits, oldest first."
);

page_params!(
    VisitPageParams,
    Uuid,
    "`nextCursor` of the previous page: the visit id the next page starts after.",
    value_type = Option<String>, format = Uuid
);

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DayParam {
    /// The day in Japan (YYYY-MM-DD); today when absent.
    #[param(value_type = Option<String>, format = Date)]
    pub date: Option<NaiveDate>,
}

/// A day's visits of the municipality.
#[utoipa::path(
    tag = "visits",
    params(
        ("lgCode" = String, Path, description = "全国地方公共団体コード", example = "012084"),
        StaffHeader,
        DayParam,
        VisitPageParams,
    ),
    responses(
        (status = 200, description = "One page of visits", body = VisitPage),
        (status = 400, description = "Malformed lgCode, date, limit, cursor or Madoguchi-Actor", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope visits missing, or the client may not act for this municipality", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["visits"]))
)]
#[get("/municipalities/{lgCode}/visits")]
pub async fn list_visits(
    lang: Lang,
    clerk: Clerk<scopes::Visits>,
    state: web::Data<AppState>,
    day: web::Query<DayParam>,
    page: web::Query<VisitPageParams>,
) -> Result<HttpResponse, ApiError> {
    let code = clerk.municipality()?;
    let limit = page.limit()?;
    let day = day
        .date
        .unwrap_or_else(|| crate::visits::model::japan_day(crate::clock::now()));
    let result = state
        .store
        .list_visits(&code, day, page.cursor, limit, &clerk.actor)
        .await?;
    Ok(HttpResponse::Ok().json(VisitPage {
        items: result
            .items
            .iter()
            .map(|v| visit_dto(&state, v, lang))
            .collect(),
        next_cursor: result.next_after,
    }))
}
