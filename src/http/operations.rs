//! Operations endpoints: liveness, readiness, Prometheus metrics, problem pages and the
//! OpenAPI document.

use actix_web::http::header::{self, ContentType};
use actix_web::{HttpResponse, get, web};
use prometheus::{Encoder, Registry, TextEncoder};
use serde::Serialize;
use utoipa::ToSchema;

use super::problem::{ApiError, ProblemDoc, ProblemKind, problem_index, problem_page};
use super::state::AppState;
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

/// Every problem type: its code, HTTP status and meaning, each linking its page. Also served
/// at `/problems/`.
#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "HTML page listing every problem type", body = String, content_type = "text/html")),
    security(())
)]
#[get("/problems")]
pub async fn problem_types() -> HttpResponse {
    problem_types_page().await
}

/// The page of [`problem_types`], for the `/problems/` alias.
pub async fn problem_types_page() -> HttpResponse {
    HttpResponse::Ok()
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
