//! `/v1/municipalities/{lgCode}/kpis`: the counter's day in numbers. No personal data.

use actix_web::{HttpResponse, get, web};
use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

use super::visits::DayParam;
use crate::http::auth::{Authorized, scopes};
use crate::http::problem::{ApiError, ProblemDoc};
use crate::http::state::AppState;

/// A municipality's day at the one-stop counter.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Kpis)]
pub struct KpisDto {
    pub lg_code: String,
    /// The day in Japan.
    pub date: NaiveDate,
    /// Visits opened that day.
    pub visits: usize,
    pub closed: usize,
    pub confirmed: usize,
    pub submitted: usize,
    /// Stay time (opened → closed) of the closed visits, in seconds.
    pub mean_stay_seconds: Option<f64>,
    pub median_stay_seconds: Option<i64>,
    /// Procedures per confirmed visit.
    pub procedures_per_visit: Option<f64>,
    /// Forms prefilled and confirmed.
    pub forms_prefilled: usize,
    /// Fields of the confirmed forms filled from the facts: handwriting the residents did not do.
    pub fields_prefilled: usize,
    /// Fields the clerks typed into the drafts.
    pub fields_typed: usize,
    /// fieldsPrefilled ÷ (fieldsPrefilled + fieldsTyped).
    pub prefilled_share: Option<f64>,
}

/// The day's KPIs: stay time, procedures per visit, forms and fields prefilled against typed.
#[utoipa::path(
    tag = "visits",
    params(
        ("lgCode" = String, Path, description = "全国地方公共団体コード", example = "012084"),
        DayParam,
    ),
    responses(
        (status = 200, description = "The day's KPIs", body = KpisDto),
        (status = 400, description = "Malformed lgCode or date", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope municipalities:read missing, or the client may not act for this municipality", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["municipalities:read"]))
)]
#[get("/municipalities/{lgCode}/kpis")]
pub async fn get_kpis(
    auth: Authorized<scopes::MunicipalitiesRead>,
    state: web::Data<AppState>,
    query: web::Query<DayParam>,
) -> Result<HttpResponse, ApiError> {
    let code = auth.municipality()?;
    let day = query
        .date
        .unwrap_or_else(|| crate::visits::model::japan_day(crate::clock::now()));
    let visits = state.store.visits_on(&code, day).await?;
    let k = crate::kpi::day(day, &visits);
    Ok(HttpResponse::Ok().json(KpisDto {
        lg_code: code.to_string(),
        date: k.day,
        visits: k.visits,
        closed: k.closed,
        confirmed: k.confirmed,
        submitted: k.submitted,
        mean_stay_seconds: k.mean_stay_seconds,
        median_stay_seconds: k.median_stay_seconds,
        procedures_per_visit: k.procedures_per_visit,
        forms_prefilled: k.forms_prefilled,
        fields_prefilled: k.fields_prefilled,
        fields_typed: k.fields_typed,
        prefilled_share: k.prefilled_share(),
    }))
}
