//! Logs: a tracing subscriber (text or JSON) and the root span of every request.

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use tracing::Span;
use tracing_actix_web::RootSpanBuilder;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use super::request_id::RequestId;
use crate::config::LogFormat;

/// Installs the global subscriber. `RUST_LOG` wins over `level`. Logs go to stderr so that
/// commands printing for scripts (`--json`) keep stdout clean.
pub fn init(format: LogFormat, level: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let result = match format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Text => registry
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
            .try_init(),
    };
    // A second init (tests start several servers in one process) keeps the first.
    let _ = result;
}

/// One span per request with the request id, method, route template and status. The path
/// itself is left out: route templates are enough and paths may one day carry identifiers
/// that do not belong in logs.
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default();
        // The route is recorded at the end: before routing, finding it would mean matching
        // the path against every route.
        tracing::info_span!(
            "request",
            request_id = %request_id,
            method = %request.method(),
            route = tracing::field::Empty,
            status = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(
        span: Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        match outcome {
            Ok(response) => {
                let route = response.request().match_pattern();
                span.record("route", route.as_deref().unwrap_or("unmatched"));
                span.record("status", response.status().as_u16());
            }
            Err(error) => {
                span.record("status", error.as_response_error().status_code().as_u16());
            }
        }
    }
}
