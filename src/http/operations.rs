//! Operations endpoints: liveness, readiness, Prometheus metrics, problem pages and the
//! OpenAPI document.

use actix_web::http::header::{self, ContentType};
use actix_web::{HttpRequest, HttpResponse, get, web};
use prometheus::{Encoder, Registry, TextEncoder};
use serde::Serialize;
use utoipa::ToSchema;

use super::problem::{ApiError, ProblemDoc, ProblemKind, problem_index, problem_page};
use super::state::AppState;
use super::v1::catalog::TextDto;
use crate::i18n::Text;

#[derive(Serialize, ToSchema)]
#[schema(as = Health)]
pub struct HealthDto {
    #[schema(example = "ok")]
    pub status: String,
}

#[derive(Serialize, ToSchema)]
#[schema(as = Readiness)]
pub struct ReadinessDto {
    #[schema(example = "ok")]
    pub status: String,
    /// `sqlite` or `postgresql`.
    pub database: String,
}

/// The process is alive.
#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "The process is alive", body = HealthDto)),
    security(())
)]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(HealthDto {
        status: "ok".to_owned(),
    })
}

/// The gateway can serve: its database answers and its schema is current.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "The database answers and no migration is pending", body = ReadinessDto),
        (status = 503, description = "Database unreachable or migrations pending", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(())
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let unavailable = |ja: String, en: String| {
        ApiError::new(ProblemKind::ServiceUnavailable, Text::new(ja, en))
            .with_header(header::RETRY_AFTER, "5")
    };
    if let Err(e) = state.store.ping().await {
        tracing::warn!(error = %e, "readiness: the database does not answer");
        return Err(unavailable(
            "データベースに接続できません。".to_owned(),
            "The database does not answer.".to_owned(),
        ));
    }
    let pending = state.store.pending_migrations().await?;
    if !pending.is_empty() {
        return Err(unavailable(
            format!("未適用のマイグレーションがあります: {}", pending.join(", ")),
            format!("Migrations are pending: {}", pending.join(", ")),
        ));
    }
    Ok(HttpResponse::Ok().json(ReadinessDto {
        status: "ok".to_owned(),
        database: state.store.backend().to_owned(),
    }))
}

/// Prometheus metrics: request counts and latency histograms by route, method and status.
#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain; version=0.0.4")),
    security(())
)]
#[get("/metrics")]
pub async fn metrics(registry: web::Data<Registry>) -> Result<HttpResponse, ApiError> {
    let mut buffer = Vec::new();
    TextEncoder::new()
        .encode(&registry.gather(), &mut buffer)
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(buffer))
}

/// One problem type: a problem's `code` and what it means.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProblemTypeDto {
    #[schema(value_type = String, example = "visit_closed")]
    pub code: &'static str,
    /// The problem's `type`: its readable page.
    #[schema(example = "/problems/visit-closed")]
    pub r#type: String,
    pub status: u16,
    pub title: TextDto,
    /// What it means and what to do.
    pub about: TextDto,
}

/// One code of `errors[]` (or a normalization's warning or note) and what to fix.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FieldCodeDto {
    #[schema(example = "unknown_fact")]
    pub code: String,
    /// Where it is answered.
    pub kinds: Vec<FieldCodeKind>,
    pub meaning: TextDto,
}

/// Where a field code is answered.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum FieldCodeKind {
    /// A field of a request body (422 `validation_failed`).
    Request,
    /// A field of a standard form (validation, a visit's draft).
    Form,
    /// A value that cannot be brought to its standard form (422 `normalization_failed`).
    Normalize,
    /// A change normalization made that a person should check; never an error.
    Note,
}

impl From<crate::field_codes::CodeKind> for FieldCodeKind {
    fn from(k: crate::field_codes::CodeKind) -> Self {
        use crate::field_codes::CodeKind;
        match k {
            CodeKind::Request => Self::Request,
            CodeKind::Form => Self::Form,
            CodeKind::Normalize => Self::Normalize,
            CodeKind::Note => Self::Note,
        }
    }
}

/// Every problem type and every field code, as `/problems` lists them.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ProblemCatalogue)]
pub struct ProblemCatalogueDto {
    pub problem_types: Vec<ProblemTypeDto>,
    pub field_codes: Vec<FieldCodeDto>,
}

fn problem_catalogue() -> ProblemCatalogueDto {
    ProblemCatalogueDto {
        problem_types: ProblemKind::ALL
            .iter()
            .map(|k| ProblemTypeDto {
                code: k.code(),
                r#type: k.type_uri(),
                status: k.status().as_u16(),
                title: k.title().into(),
                about: k.about().into(),
            })
            .collect(),
        field_codes: crate::field_codes::all()
            .iter()
            .map(|(code, c)| FieldCodeDto {
                code: code.clone(),
                kinds: c.kinds.iter().map(|k| (*k).into()).collect(),
                meaning: c.meaning().into(),
            })
            .collect(),
    }
}

/// Whether the caller asked for JSON before HTML (`Accept`, by quality then order).
fn wants_json(req: &HttpRequest) -> bool {
    use actix_web::http::header::Header;
    let Ok(accept) = header::Accept::parse(req) else {
        return false;
    };
    for mime in accept.ranked() {
        match (
            mime.type_().as_str(),
            mime.subtype().as_str(),
            mime.suffix(),
        ) {
            ("application", "json", _) => return true,
            ("application", _, Some(suffix)) if suffix.as_str() == "json" => return true,
            ("text", "html", _) | ("text", "*", _) | ("*", "*", _) => return false,
            _ => {}
        }
    }
    false
}

/// Every problem type (its code, HTTP status and meaning, linking its page) and every code an
/// entry of `errors[]` can carry, with what to fix. HTML, or JSON with `Accept:
/// application/json`. Also served at `/problems/`.
#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "Every problem type and field code: an HTML page, or JSON when Accept prefers application/json", content(
        (String = "text/html"),
        (ProblemCatalogueDto = "application/json"),
    ))),
    security(())
)]
#[get("/problems")]
pub async fn problem_types(req: HttpRequest) -> HttpResponse {
    problem_types_page(req).await
}

/// The page of [`problem_types`], for the `/problems/` alias.
pub async fn problem_types_page(req: HttpRequest) -> HttpResponse {
    if wants_json(&req) {
        return HttpResponse::Ok()
            .insert_header((header::VARY, "Accept"))
            .json(problem_catalogue());
    }
    HttpResponse::Ok()
        .insert_header((header::VARY, "Accept"))
        .content_type(ContentType::html())
        .body(problem_index())
}

/// A readable page about one problem type (the `type` of a problem points here).
#[utoipa::path(
    tag = "operations",
    params(("problemType" = String, Path, description = "The problem type: a problem's `type` without `/problems/`", example = "validation-failed")),
    responses(
        (status = 200, description = "HTML page", body = String, content_type = "text/html"),
        (status = 404, description = "No such problem type", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(())
)]
#[get("/problems/{problemType}")]
pub async fn problem_type(path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let kind = ProblemKind::from_slug(&path).ok_or_else(|| {
        ApiError::not_found(Text::new(
            format!("問題の種類「{path}」はありません。"),
            format!("There is no problem type {path:?}."),
        ))
    })?;
    Ok(HttpResponse::Ok()
        .content_type(ContentType::html())
        .body(problem_page(kind)))
}

/// This document.
#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "OpenAPI 3.1 document", body = Object, content_type = "application/json")),
    security(())
)]
#[get("/openapi.json")]
pub async fn openapi_json(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(state.openapi_json.clone())
}
