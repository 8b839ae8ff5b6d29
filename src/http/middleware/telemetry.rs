//! Logs: a tracing subscriber (text or JSON) and the root span of every request.

use std::io::IsTerminal;

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use tracing::Span;
use tracing_actix_web::RootSpanBuilder;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

use super::request_id::RequestId;
use crate::config::LogFormat;

/// Crates whose logs would hold what must never be logged, at whatever level `RUST_LOG` asks:
/// the WebSocket library logs every frame of the device port at trace, and those frames carry
/// 照合番号B, the card's files (the 基本4情報) and the 個人番号 in hex.
const NEVER_LOGGED: [&str; 2] = ["tungstenite", "tokio_tungstenite"];

/// Whether events of `target` may be logged at all.
pub fn may_log(target: &str) -> bool {
    !NEVER_LOGGED.iter().any(|crate_name| {
        target
            .strip_prefix(crate_name)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    })
}

/// Installs the global subscriber. `RUST_LOG` wins over `level`, except for the crates of
/// [`NEVER_LOGGED`], which no setting turns on. Logs go to stderr so that commands printing
/// for scripts (`--json`) keep stdout clean.
pub fn init(format: LogFormat, level: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let never = tracing_subscriber::filter::filter_fn(|metadata| may_log(metadata.target()));
    let registry = tracing_subscriber::registry().with(never).with(filter);
    let result = match format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_writer(std::io::stderr)
                    .map_event_format(|f| DemoteClientMistakes {
                        inner: f,
                        from: "\"level\":\"ERROR\"",
                        to: "\"level\":\"WARN\"",
                    }),
            )
            .try_init(),
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    // Colour codes only for a person at a terminal, never in a log file.
                    .with_ansi(std::io::stderr().is_terminal())
                    .with_writer(std::io::stderr)
                    .map_event_format(|f| DemoteClientMistakes {
                        inner: f,
                        from: "ERROR",
                        to: " WARN",
                    }),
            )
            .try_init(),
    };
    // A second init (tests start several servers in one process) keeps the first.
    let _ = result;
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_websocket_crates_are_never_logged_and_others_are() {
        for target in [
            "tungstenite",
            "tungstenite::protocol",
            "tokio_tungstenite::compat",
        ] {
            assert!(!super::may_log(target), "{target}");
        }
        for target in ["madoguchi::devices::port", "tungstenite_like", "actix_http"] {
            assert!(super::may_log(target), "{target}");
        }
    }
}

/// actix-http logs a request it cannot parse (a client's mistake, or an attack) as
/// `ERROR stream error: …`. An operator's ERROR means "the gateway is broken": such lines are
/// written at WARN instead, by rewriting the level in the line the inner formatter wrote
/// (tracing cannot change an event's level once it is made).
struct DemoteClientMistakes<F> {
    inner: F,
    from: &'static str,
    to: &'static str,
}

/// Reads an event's `message` field.
#[derive(Default)]
struct Message(String);

impl tracing::field::Visit for Message {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

fn is_client_mistake(event: &tracing::Event<'_>) -> bool {
    let meta = event.metadata();
    if *meta.level() != tracing::Level::ERROR || !meta.target().starts_with("actix_http::h1") {
        return false;
    }
    let mut message = Message::default();
    event.record(&mut message);
    message.0.starts_with("stream error")
}

impl<S, N, F> FormatEvent<S, N> for DemoteClientMistakes<F>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        if !is_client_mistake(event) {
            return self.inner.format_event(ctx, writer, event);
        }
        let mut line = String::new();
        self.inner
            .format_event(ctx, Writer::new(&mut line), event)?;
        writer.write_str(&line.replacen(self.from, self.to, 1))
    }
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
