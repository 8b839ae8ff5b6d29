//! `Idempotency-Key` on POST requests under `/v1`: the first response of a key is stored
//! (sealed, see [`crate::idempotency`]); the same key with the same request replays it, with a
//! different request is refused with 422, and while the first is still running gets 409.
//! Only successful responses are kept, so a retry after a failure runs again.

use std::future::{Ready, ready};
use std::rc::Rc;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderName};
use actix_web::web::{self, Bytes, BytesMut};
use actix_web::{HttpMessage, HttpResponse};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;

use super::auth::bearer_token;
use super::extract::{body_limit, too_large};
use super::problem::{ApiError, ProblemKind};
use super::state::AppState;
use crate::i18n::Text;
use crate::idempotency::{Claim, IdempotencyKey, StoredResponse, fingerprint};

pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// Set on a replayed response.
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
/// Headers of the first response that a replay repeats.
const KEPT_HEADERS: [HeaderName; 3] = [
    header::LOCATION,
    header::CONTENT_TYPE,
    header::CACHE_CONTROL,
];

pub struct Idempotency;

impl<S, B> Transform<S, ServiceRequest> for Idempotency
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = actix_web::Error;
    type Transform = IdempotencyService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(IdempotencyService {
            service: Rc::new(service),
        }))
    }
}

pub struct IdempotencyService<S> {
    service: Rc<S>,
}

fn problem(kind: ProblemKind, ja: &str, en: &str) -> ApiError {
    ApiError::new(kind, Text::new(ja.to_owned(), en.to_owned()))
}

async fn read_body(req: &mut ServiceRequest, limit: usize) -> Result<Bytes, ApiError> {
    let mut payload = req.take_payload();
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| super::extract::payload_problem(&e, limit))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

fn replay(stored: StoredResponse) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(stored.status)
        .unwrap_or(actix_web::http::StatusCode::OK);
    let mut response = HttpResponse::build(status);
    for (name, value) in &stored.headers {
        response.insert_header((name.as_str(), value.as_str()));
    }
    response.insert_header((REPLAYED, "true"));
    response.body(stored.body)
}

impl<S, B> Service<ServiceRequest> for IdempotencyService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, mut req: ServiceRequest) -> Self::Future {
        let service = self.service.clone();
        Box::pin(async move {
            let raw = match req.headers().get(&IDEMPOTENCY_KEY) {
                Some(raw) if req.method() == Method::POST => raw.clone(),
                _ => return Ok(service.call(req).await?.map_into_boxed_body()),
            };
            let key = match IdempotencyKey::parse(raw.to_str().unwrap_or_default()) {
                Ok(key) => key,
                Err(text) => {
                    let invalid = ApiError::new(ProblemKind::InvalidIdempotencyKey, text);
                    return Ok(req.error_response(invalid));
                }
            };
            let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
                return Ok(req.error_response(ApiError::internal("AppState is not registered")));
            };
            // The key belongs to the calling client. Without a valid token the handler
            // refuses the request anyway, and nothing is stored.
            let principal = match bearer_token(req.request()) {
                Some(token) => state.verifier.verify(token).await.ok(),
                None => None,
            };
            let Some(principal) = principal else {
                return Ok(service.call(req).await?.map_into_boxed_body());
            };
            let client_id = principal.client_id.clone();
            let limit = body_limit(req.request());
            let body = match read_body(&mut req, limit).await {
                Ok(body) => body,
                Err(e) => return Ok(req.error_response(e)),
            };
            let path = req
                .uri()
                .path_and_query()
                .map_or_else(|| req.path().to_owned(), |p| p.as_str().to_owned());
            let print = fingerprint(req.method().as_str(), &path, &body);
            req.set_payload(actix_web::dev::Payload::from(body));
            let key_hash = key.lookup_hash(&client_id);

            let claim = state
                .store
                .claim_idempotency(&client_id, &key_hash, &print)
                .await;
            match claim {
                Err(e) => return Ok(req.error_response(ApiError::from(e))),
                Ok(Claim::Started) => {}
                Ok(Claim::Completed { fingerprint, .. })
                | Ok(Claim::InProgress { fingerprint })
                    if fingerprint != print =>
                {
                    let reused = problem(
                        ProblemKind::IdempotencyKeyReused,
                        "この Idempotency-Key は別の内容のリクエストで使われています。新しいキーを使ってください。",
                        "This Idempotency-Key was used with a different request; use a new key.",
                    );
                    return Ok(req.error_response(reused));
                }
                Ok(Claim::Completed { sealed, .. }) => {
                    return match key.open(&client_id, &sealed) {
                        Ok(stored) => Ok(req.into_response(replay(stored))),
                        Err(e) => Ok(req.error_response(ApiError::internal(e))),
                    };
                }
                Ok(Claim::InProgress { .. }) => {
                    let busy = problem(
                        ProblemKind::IdempotencyInProgress,
                        "同じ Idempotency-Key のリクエストを処理中です。完了してから再試行してください。",
                        "A request with this Idempotency-Key is still being processed; retry when it has finished.",
                    )
                    .with_header(header::RETRY_AFTER, "1");
                    return Ok(req.error_response(busy));
                }
            }

            let response = match service.call(req).await {
                Ok(response) => response,
                Err(e) => {
                    let _ = state.store.release_idempotency(&client_id, &key_hash).await;
                    return Err(e);
                }
            };
            if !response.status().is_success() {
                if let Err(e) = state.store.release_idempotency(&client_id, &key_hash).await {
                    tracing::error!(error = %e, "could not release an idempotency key");
                }
                return Ok(response.map_into_boxed_body());
            }
            let (req, response) = response.into_parts();
            let (head, body) = response.into_parts();
            let bytes = match actix_web::body::to_bytes(body).await {
                Ok(bytes) => bytes,
                Err(_) => {
                    let _ = state.store.release_idempotency(&client_id, &key_hash).await;
                    return Ok(ServiceResponse::new(
                        req,
                        head.set_body(BoxBody::new(Bytes::new())),
                    ));
                }
            };
            let stored = StoredResponse {
                status: head.status().as_u16(),
                headers: KEPT_HEADERS
                    .iter()
                    .filter_map(|name| {
                        head.headers()
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .map(|v| (name.as_str().to_owned(), v.to_owned()))
                    })
                    .collect(),
                body: bytes.to_vec(),
            };
            let saved = match key.seal(&client_id, &stored) {
                Ok(sealed) => state
                    .store
                    .complete_idempotency(&client_id, &key_hash, sealed)
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            if let Err(e) = saved {
                // The change happened; only a replay of it will not be possible.
                tracing::error!(error = %e, "could not store an idempotent response");
                let _ = state.store.release_idempotency(&client_id, &key_hash).await;
            }
            Ok(ServiceResponse::new(
                req,
                head.set_body(BoxBody::new(bytes)),
            ))
        })
    }
}
