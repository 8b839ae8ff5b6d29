//! `Idempotency-Key` on the POST routes that create or change something (DESIGN §4): each such
//! route is wrapped with [`Idempotent::requiring`] its scope. The first successful response of
//! a key is stored (sealed, see [`crate::idempotency`]); the same key with the same request
//! replays it, with a different request is refused with 422, and while the first is still
//! running gets 409 with a `Retry-After` after which the first has certainly ended. Only
//! successful responses are kept, so a retry after a failure runs again. Routes that only
//! compute an answer (validate, normalize) are not wrapped: a key sent there is ignored.
//!
//! The caller is authorized — token, scope, municipality — before anything is read, claimed
//! or replayed, exactly as the route's handler would authorize it.

use std::future::{Ready, ready};
use std::rc::Rc;
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::{self, HeaderName};
use actix_web::http::{Method, StatusCode};
use actix_web::web::{self, Bytes, BytesMut};
use actix_web::{HttpMessage, HttpResponse};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;

use crate::auth::Scope;
use crate::http::auth::authorize;
use crate::http::extract::{body_limit, too_large};
use crate::http::problem::{ApiError, ProblemKind};
use crate::http::state::AppState;
use crate::i18n::Text;
use crate::idempotency::{Claim, IdempotencyKey, Limits, StoredResponse, fingerprint};
use crate::store::Store;

pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// Set on a replayed response.
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
/// Headers of the first response that a replay repeats.
const KEPT_HEADERS: [HeaderName; 3] = [
    header::LOCATION,
    header::CONTENT_TYPE,
    header::CACHE_CONTROL,
];
/// A claim older than the request timeout plus this cannot belong to a running request.
const ABANDON_MARGIN: Duration = Duration::from_secs(5);

/// Wraps one creating route: `#[post("/…", wrap = "Idempotent::requiring(Scope::Admin)")]`.
pub struct Idempotent {
    scope: Scope,
}

impl Idempotent {
    /// `scope` must be the scope the route's handler requires: a replay is answered without
    /// running the handler, so this is the check that stands for it.
    pub fn requiring(scope: Scope) -> Self {
        Self { scope }
    }
}

impl<S, B> Transform<S, ServiceRequest> for Idempotent
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = actix_web::Error;
    type Transform = IdempotentService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(IdempotentService {
            service: Rc::new(service),
            scope: self.scope,
        }))
    }
}

pub struct IdempotentService<S> {
    service: Rc<S>,
    scope: Scope,
}

fn problem(kind: ProblemKind, ja: &str, en: &str) -> ApiError {
    ApiError::new(kind, Text::new(ja.to_owned(), en.to_owned()))
}

/// Whole seconds, rounded up, at least 1: a retry at the announced time must not be early.
fn retry_after(wait: Duration) -> String {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
        .max(1)
        .to_string()
}

pub(crate) async fn read_body(req: &mut ServiceRequest, limit: usize) -> Result<Bytes, ApiError> {
    let mut payload = req.take_payload();
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| crate::http::extract::payload_problem(&e, limit))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

fn replay(stored: StoredResponse) -> Result<HttpResponse, ApiError> {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let location = stored
        .headers
        .iter()
        .find(|(name, _)| name == header::LOCATION.as_str())
        .map(|(_, value)| value.clone());
    if !stored.body_kept {
        let mut e = problem(
            ProblemKind::IdempotentResponseNotKept,
            "この Idempotency-Key のリクエストは完了していますが、応答が大きいため保存していません。結果は Location の URL で取得してください。",
            "The request with this Idempotency-Key was completed, but its response was too large to keep; read the result at the Location URL.",
        )
        .with_extension("originalStatus", stored.status);
        if let Some(location) = location {
            e = e.with_header(header::LOCATION, &location);
        }
        return Err(e);
    }
    let mut response = HttpResponse::build(status);
    for (name, value) in &stored.headers {
        response.insert_header((name.as_str(), value.as_str()));
    }
    response.insert_header((REPLAYED, "true"));
    Ok(response.body(stored.body))
}

/// Frees a claimed key when the request ends without completing it — including when actix
/// drops the request because the client went away, which no code after an `.await` sees.
struct ClaimGuard {
    store: Store,
    client_id: String,
    key_hash: String,
    armed: bool,
}

impl ClaimGuard {
    async fn release(mut self) {
        self.armed = false;
        if let Err(e) = self
            .store
            .release_idempotency(&self.client_id, &self.key_hash)
            .await
        {
            tracing::error!(error = %e, "could not release an idempotency key");
        }
    }

    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        // Dropped mid-request: release on the runtime, as nothing here can wait. Without a
        // runtime (the server is going down), the claim expires as abandoned instead.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let store = self.store.clone();
            let (client_id, key_hash) = (
                std::mem::take(&mut self.client_id),
                std::mem::take(&mut self.key_hash),
            );
            runtime.spawn(async move {
                let _ = store.release_idempotency(&client_id, &key_hash).await;
            });
        }
    }
}

fn limits(state: &AppState) -> Limits {
    let settings = &state.settings;
    Limits {
        retention: Duration::from_secs(settings.idempotency.retention_seconds),
        abandoned_after: Duration::from_secs(settings.http.request_timeout_seconds)
            + ABANDON_MARGIN,
        max_keys_per_client: settings.idempotency.max_keys_per_client,
        max_bytes_per_client: settings.idempotency.max_bytes_per_client,
    }
}

impl<S, B> Service<ServiceRequest> for IdempotentService<S>
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
        let scope = self.scope;
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
            // Authorize first: a replay must be refused to whoever the handler would refuse.
            let client_id = match authorize(req.request(), scope).await {
                Ok(authorization) => authorization.principal.client_id.clone(),
                Err(e) => return Ok(req.error_response(e)),
            };
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
            let limits = limits(&state);

            // From the claim on, the request runs to its end in a task of its own, whoever
            // waits for it: a client that hangs up after sending (a reset connection) must
            // find, when it retries with the same key, the first response (or the request
            // still running), never a second change nor a key locked by a claim nobody holds.
            // The request deadline still bounds it: past it, the handler is dropped (its
            // transaction rolls back) and the key is released.
            let deadline = Duration::from_secs(state.settings.http.request_timeout_seconds);
            let task = actix_web::rt::spawn(async move {
                let claim = state
                    .store
                    .claim_idempotency(&client_id, &key_hash, &print, &limits)
                    .await;
                match claim {
                    Err(e) => return Ok(req.error_response(ApiError::from(e))),
                    Ok(Claim::Started) => {}
                    Ok(Claim::Completed { fingerprint, .. })
                    | Ok(Claim::InProgress { fingerprint, .. })
                        if fingerprint != print =>
                    {
                        let reused = problem(
                            ProblemKind::IdempotencyKeyReused,
                            "この Idempotency-Key は別の内容のリクエストで使われています。新しいキーを使ってください。",
                            "This Idempotency-Key was used with a different request; use a new key.",
                        );
                        return Ok(req.error_response(reused));
                    }
                    Ok(Claim::Completed { sealed, format, .. }) => {
                        let opened =
                            key.open(&client_id, state.server_key.as_ref(), format, &sealed);
                        return match opened {
                            Ok(stored) => match replay(stored) {
                                Ok(response) => Ok(req.into_response(response)),
                                Err(e) => Ok(req.error_response(e)),
                            },
                            Err(e) => Ok(req.error_response(ApiError::internal(e))),
                        };
                    }
                    Ok(Claim::InProgress { age, .. }) => {
                        let wait = limits.abandoned_after.saturating_sub(age);
                        let busy = problem(
                            ProblemKind::IdempotencyInProgress,
                            "同じ Idempotency-Key のリクエストを処理中です。完了してから再試行してください。",
                            "A request with this Idempotency-Key is still being processed; retry when it has finished.",
                        )
                        .with_header(header::RETRY_AFTER, &retry_after(wait));
                        return Ok(req.error_response(busy));
                    }
                    Ok(Claim::QuotaExceeded { retry_after: wait }) => {
                        let quota = ApiError::new(
                            ProblemKind::IdempotencyQuotaExceeded,
                            Text::new(
                                format!(
                                    "このクライアントが保存中の Idempotency-Key が上限({}件、{} バイト)に達しました。古いキーは{}秒後に期限切れになります。",
                                    limits.max_keys_per_client,
                                    limits.max_bytes_per_client,
                                    retry_after(wait)
                                ),
                                format!(
                                    "This client holds as many Idempotency-Keys as it may ({} keys, {} bytes); the oldest expires in {} s.",
                                    limits.max_keys_per_client,
                                    limits.max_bytes_per_client,
                                    retry_after(wait)
                                ),
                            ),
                        )
                        .with_header(header::RETRY_AFTER, &retry_after(wait));
                        return Ok(req.error_response(quota));
                    }
                }

                let guard = ClaimGuard {
                    store: state.store.clone(),
                    client_id: client_id.clone(),
                    key_hash: key_hash.clone(),
                    armed: true,
                };
                let http_req = req.request().clone();
                let response = match tokio::time::timeout(deadline, service.call(req)).await {
                    Ok(Ok(response)) => response,
                    Ok(Err(e)) => {
                        guard.release().await;
                        return Err(e);
                    }
                    Err(_) => {
                        guard.release().await;
                        let late = ApiError::new(
                            ProblemKind::ServiceUnavailable,
                            Text::new(
                                "リクエストが時間内に終わらなかったため、取り消しました。同じ Idempotency-Key で再試行してください。",
                                "The request did not finish in time and was undone; retry with the same Idempotency-Key.",
                            ),
                        )
                        .with_header(header::RETRY_AFTER, "1");
                        return Ok(ServiceResponse::from_err(late, http_req));
                    }
                };
                if !response.status().is_success() {
                    guard.release().await;
                    return Ok(response.map_into_boxed_body());
                }
                let (req, response) = response.into_parts();
                let (head, body) = response.into_parts();
                let bytes = match actix_web::body::to_bytes(body).await {
                    Ok(bytes) => bytes,
                    Err(_) => {
                        guard.release().await;
                        return Ok(ServiceResponse::new(
                            req,
                            head.set_body(BoxBody::new(Bytes::new())),
                        ));
                    }
                };
                let body_kept = bytes.len() <= state.settings.idempotency.max_response_bytes;
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
                    body: if body_kept {
                        bytes.to_vec()
                    } else {
                        Vec::new()
                    },
                    body_kept,
                };
                let saved = match key.seal(&client_id, state.server_key.as_ref(), &stored) {
                    Ok(sealed) => state
                        .store
                        .complete_idempotency(&client_id, &key_hash, sealed)
                        .await
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                match saved {
                    Ok(()) => guard.disarm(),
                    Err(e) => {
                        // The change happened; only a replay of it will not be possible.
                        tracing::error!(error = %e, "could not store an idempotent response");
                        guard.release().await;
                    }
                }
                Ok(ServiceResponse::new(
                    req,
                    head.set_body(BoxBody::new(bytes)),
                ))
            });
            match task.await {
                Ok(result) => result,
                Err(e) => Err(ApiError::internal(e).into()),
            }
        })
    }
}
