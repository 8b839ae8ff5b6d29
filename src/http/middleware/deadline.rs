//! The whole-request deadline (`http.request_timeout_seconds`). actix-web bounds only the
//! arrival of the request head; a client that sends the head and then trickles or withholds
//! the body would hold a request forever — without logging in, as `/oauth/token` reads its
//! body before any check.
//!
//! - The body must have arrived by the deadline: reading it fails then, and the request is
//!   answered 408 (`request_timeout`) by whatever was reading it.
//! - The answer must be ready shortly after: otherwise the request is dropped (a transaction
//!   in progress rolls back, an idempotency claim is released) and answered 503.

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::HttpMessage;
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::web::Bytes;
use futures_util::Stream;
use futures_util::future::LocalBoxFuture;
use tokio::time::{Instant, Sleep};

use super::request_id::RequestId;
use crate::http::problem::{ApiError, ProblemKind, negotiate_lang};
use crate::i18n::Text;

/// Time the handler still gets after a body that arrived just before the deadline, so that
/// a late body is answered 408 by its reader rather than 503 here.
const ANSWER_GRACE: Duration = Duration::from_secs(1);

pub struct RequestDeadline(pub Duration);

impl<S, B> Transform<S, ServiceRequest> for RequestDeadline
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Transform = RequestDeadlineService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequestDeadlineService {
            service: Rc::new(service),
            limit: self.0,
        }))
    }
}

pub struct RequestDeadlineService<S> {
    service: Rc<S>,
    limit: Duration,
}

/// The request body, failing once the deadline has passed.
struct Deadlined {
    inner: Payload,
    deadline: Pin<Box<Sleep>>,
    limit: Duration,
}

impl Stream for Deadlined {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Poll::Ready(item) = Pin::new(&mut self.inner).poll_next(cx) {
            return Poll::Ready(item);
        }
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!(
                    "the request body did not arrive within {} s",
                    self.limit.as_secs()
                ),
            ))))),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Whether a body-reading failure is this deadline passing.
pub fn is_body_timeout(err: &PayloadError) -> bool {
    matches!(err, PayloadError::Io(e) if e.kind() == std::io::ErrorKind::TimedOut)
}

/// The 408 problem for a body that did not arrive in time.
pub fn body_timeout() -> ApiError {
    ApiError::new(
        ProblemKind::RequestTimeout,
        Text::new(
            "リクエスト本文が時間内に届きませんでした。本文をまとめて送り直してください。",
            "The request body did not arrive in time; send the whole body again.",
        ),
    )
}

fn has_body(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|n| n > 0)
}

impl<S, B> Service<ServiceRequest> for RequestDeadlineService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, mut req: ServiceRequest) -> Self::Future {
        let deadline = Instant::now() + self.limit;
        if has_body(&req) {
            let inner = req.take_payload();
            let watched = Deadlined {
                inner,
                deadline: Box::pin(tokio::time::sleep_until(deadline)),
                limit: self.limit,
            };
            req.set_payload(Payload::from(
                Box::pin(watched) as Pin<Box<dyn Stream<Item = _>>>
            ));
        }
        // What the answer needs, taken now: the request itself belongs to the call below.
        let lang = negotiate_lang(req.request());
        let path = req.path().to_owned();
        let request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone());
        let limit = self.limit;
        let call = self.service.call(req);
        Box::pin(async move {
            match tokio::time::timeout_at(deadline + ANSWER_GRACE, call).await {
                Ok(result) => result,
                Err(_) => {
                    tracing::warn!(
                        request_id = request_id.as_deref().unwrap_or("-"),
                        seconds = limit.as_secs(),
                        "request dropped: not answered within the request timeout"
                    );
                    let seconds = limit.as_secs();
                    let error = ApiError::new(
                        ProblemKind::ServiceUnavailable,
                        Text::new(
                            format!(
                                "{seconds}秒以内に処理を終えられませんでした。しばらくしてから再試行してください。"
                            ),
                            format!("The gateway could not answer within {seconds} s; retry later."),
                        ),
                    )
                    .with_header(header::RETRY_AFTER, "1");
                    // The request went with the dropped call, so no middleware can render
                    // this answer: it leaves complete, as an error response.
                    let response = error.standalone_response(lang, &path, request_id.as_deref());
                    Err(
                        actix_web::error::InternalError::from_response("request timeout", response)
                            .into(),
                    )
                }
            }
        })
    }
}
