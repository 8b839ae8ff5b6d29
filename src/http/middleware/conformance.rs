//! The recorder of conformance sessions: every request of a session's client is kept as the
//! `counter-app` suite reads it (its Idempotency-Key and Madoguchi-Actor, which token, a digest
//! of its body, the answer's status, problem code and Retry-After, a token issued to it), and
//! the first request of a script step that has a fault is answered with that fault instead
//! (or answered late). Requests of every other client pass untouched: when no session is open
//! the recorder costs one cache read.
//!
//! A request whose client hangs up before the answer (actix drops it) is kept with no status,
//! as the judges read "no answer".

use std::future::{Ready, ready};
use std::rc::Rc;
use std::sync::Arc;

use actix_web::HttpMessage;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header;
use actix_web::web::{self, Bytes};
use chrono::{DateTime, Utc};
use futures_util::future::LocalBoxFuture;
use sha2::{Digest, Sha256};

use super::idempotency::{IDEMPOTENCY_KEY, read_body};
use crate::conformance::contract::Contract;
use crate::conformance::recording::Recorded;
use crate::conformance::redact::token_digest;
use crate::conformance_sessions::Session;
use crate::conformance_sessions::script::Fault;
use crate::http::auth::{ACTOR_HEADER, bearer_token};
use crate::http::extract::body_limit;
use crate::http::problem::{ApiError, ProblemKind};
use crate::http::state::AppState;
use crate::i18n::Text;
use crate::store::Store;
use crate::validation::{FieldError, push_pointer_token};

const TOKEN_PATH: &str = "/oauth/token";
/// The contract's route that sends an endpoint a test message.
const WEBHOOK_TEST: &str = "/v1/municipalities/{lgCode}/webhooks/{webhookId}/test";

/// Set on a webhook test request whose message the script forges: the handler signs it with
/// a secret the receiver does not have.
#[derive(Debug, Clone, Copy)]
pub struct ForgedWebhookSignature;

/// Wraps the whole application, inside the problem renderer (a fault is an [`ApiError`] it
/// renders) and outside the request deadline (a slow answer is not the handler's time).
pub struct ConformanceRecorder;

impl<S, B> Transform<S, ServiceRequest> for ConformanceRecorder
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = actix_web::Error;
    type Transform = ConformanceRecorderService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(ConformanceRecorderService {
            service: Rc::new(service),
        }))
    }
}

pub struct ConformanceRecorderService<S> {
    service: Rc<S>,
}

/// The `client_id` claim of a JWT, read without checking it: only to find out whether the
/// caller may be a session's client (then the token is verified).
fn unverified_client_id(token: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Claims {
        client_id: String,
    }
    jsonwebtoken::dangerous::insecure_decode_claims::<Claims>(token)
        .ok()
        .map(|c| c.client_id)
}

/// The client a token request authenticates as: HTTP Basic (read as the token route reads
/// it), or `client_id` in the form (RFC 6749 §2.3.1).
fn token_request_client(req: &ServiceRequest, body: &[u8]) -> Option<String> {
    let basic = crate::http::oauth::basic_credentials(req.request())
        .ok()
        .flatten()
        .map(|(id, _)| id);
    basic.or_else(|| {
        form_urlencoded::parse(body)
            .find(|(name, _)| name == "client_id")
            .map(|(_, v)| v.into_owned())
    })
}

/// The recorded request, kept even if nobody waits for its answer.
struct Pending {
    store: Store,
    session: Arc<Session>,
    at: DateTime<Utc>,
    recorded: Option<Recorded>,
    fault: Option<String>,
}

/// What a request was answered, as the judges read it.
#[derive(Default)]
struct Answered {
    status: Option<u16>,
    code: Option<String>,
    retry_after: Option<u64>,
    issued: Option<(String, u64)>,
    webhook_taken: Option<bool>,
}

impl Pending {
    /// Kept with its answer; `Answered::default()` for none.
    async fn finish(mut self, answered: Answered) {
        let Some(mut recorded) = self.recorded.take() else {
            return;
        };
        recorded.status = answered.status;
        recorded.code = answered.code;
        recorded.retry_after = answered.retry_after;
        recorded.issued = answered.issued;
        recorded.webhook_taken = answered.webhook_taken;
        save(
            &self.store,
            self.session.id,
            self.at,
            recorded,
            self.fault.take(),
        )
        .await;
    }
}

async fn save(
    store: &Store,
    session: uuid::Uuid,
    at: DateTime<Utc>,
    r: Recorded,
    fault: Option<String>,
) {
    if let Err(e) = store
        .record_conformance_request(session, at, &r, fault.as_deref())
        .await
    {
        tracing::error!(session = %session, error = %e, "could not record a conformance session's request");
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        // Dropped before the answer: the client went away. Kept as "no answer".
        let Some(recorded) = self.recorded.take() else {
            return;
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (store, session, at, fault) = (
                self.store.clone(),
                self.session.id,
                self.at,
                self.fault.take(),
            );
            runtime.spawn(async move { save(&store, session, at, recorded, fault).await });
        }
    }
}

/// The problem a scripted fault answers with.
fn fault_problem(status: u16, code: &str, retry_after: Option<u64>, body: &[u8]) -> ApiError {
    let kind = ProblemKind::from_code(code)
        .filter(|k| k.status().as_u16() == status)
        .unwrap_or(ProblemKind::ServiceUnavailable);
    let detail = Text::new(
        "適合性試験セッションの台本による応答です(ゲートウェイの判断ではありません)。台本の指示どおりに対応してください。",
        "An answer the conformance session's script injected (not the gateway's judgement): handle it as the script says.",
    );
    let mut e = if kind == ProblemKind::ValidationFailed {
        // At the first member the request changes, as a real refusal would point.
        let mut pointer = String::new();
        if let Some(member) = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v["set"].as_object().and_then(|o| o.keys().next().cloned()))
        {
            push_pointer_token(&mut pointer, "set");
            push_pointer_token(&mut pointer, &member);
        }
        ApiError::validation(vec![FieldError::new(
            pointer,
            "conformance_injected",
            Text::new(
                "適合性試験で注入した誤りです。この項目のそばに表示し、職員が直した値を送ってください。",
                "An error the conformance session injected: show it at this field and send the value the clerk corrects.",
            ),
        )])
    } else {
        ApiError::new(kind, detail)
    };
    if let Some(seconds) = retry_after {
        e = e.with_header(header::RETRY_AFTER, &seconds.to_string());
    }
    e
}

impl<S, B> Service<ServiceRequest> for ConformanceRecorderService<S>
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
            let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
                return Ok(service.call(req).await?.map_into_boxed_body());
            };
            if !state.conformance.any_open().await {
                return Ok(service.call(req).await?.map_into_boxed_body());
            }
            let at = crate::clock::now();
            let is_token_request = req.path() == TOKEN_PATH && req.method() == "POST";
            let limit = body_limit(req.request());
            let mut body: Option<Bytes> = None;
            let client_id = if is_token_request {
                let bytes = match read_body(&mut req, limit).await {
                    Ok(b) => b,
                    Err(e) => return Ok(req.error_response(e)),
                };
                let id = token_request_client(&req, &bytes);
                body = Some(bytes);
                id
            } else {
                bearer_token(req.request()).and_then(unverified_client_id)
            };
            let session = match &client_id {
                Some(id) => state.conformance.of_client(id).await,
                None => None,
            };
            let Some(session) = session else {
                if let Some(bytes) = body {
                    req.set_payload(Payload::from(bytes));
                }
                return Ok(service.call(req).await?.map_into_boxed_body());
            };
            let token = bearer_token(req.request()).map(str::to_owned);
            if let Some(token) = &token {
                // A forged token naming the session's client is not the client's request.
                match state.verifier.verify(token).await {
                    Ok(p) if p.client_id == session.client_id => {}
                    Err(crate::auth::TokenError::Expired) => {}
                    _ => return Ok(service.call(req).await?.map_into_boxed_body()),
                }
            }
            let body = match body {
                Some(b) => b,
                None => match read_body(&mut req, limit).await {
                    Ok(b) => b,
                    Err(e) => return Ok(req.error_response(e)),
                },
            };
            let header_of = |name: &header::HeaderName| {
                req.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let method = req.method().as_str().to_owned();
            let path = req.path().to_owned();
            let recorded = Recorded {
                n: 0,
                at_ms: 0,
                method: method.clone(),
                path: path.clone(),
                idempotency_key: header_of(&IDEMPOTENCY_KEY),
                actor: header_of(&ACTOR_HEADER).is_some_and(|a| !a.is_empty()),
                token: token.as_deref().map(token_digest),
                body_sha256: (!body.is_empty()).then(|| hex::encode(Sha256::digest(&body))),
                status: None,
                code: None,
                retry_after: None,
                issued: None,
                injected: false,
                webhook_taken: None,
            };
            let mut pending = Pending {
                store: state.store.clone(),
                session: session.clone(),
                at,
                recorded: Some(recorded),
                fault: None,
            };
            // The script's fault for this request, served once per session.
            let template = Contract::shared()
                .ok()
                .and_then(|c| c.template_of(&method, &path));
            let scripted = template
                .as_deref()
                .and_then(|t| state.conformance.script.fault_for(&method, t))
                .map(|(step, fault)| (step.id.clone(), fault.clone()));
            let mut held_back = false;
            if let Some((step, fault)) = scripted {
                let claimed = match state.store.claim_conformance_fault(session.id, &step).await {
                    Ok(claimed) => claimed,
                    Err(e) => {
                        tracing::error!(error = %e, "could not claim a conformance session's fault");
                        false
                    }
                };
                if claimed {
                    pending.fault = Some(step.clone());
                    if let Some(r) = pending.recorded.as_mut() {
                        r.injected = true;
                    }
                    match fault {
                        Fault::Problem {
                            status,
                            code,
                            retry_after,
                        } => {
                            let problem = fault_problem(status, &code, retry_after, &body);
                            let status = problem.status.as_u16();
                            let code = problem.kind.code().to_owned();
                            pending
                                .finish(Answered {
                                    status: Some(status),
                                    code: Some(code),
                                    retry_after,
                                    ..Answered::default()
                                })
                                .await;
                            return Ok(req.error_response(problem));
                        }
                        Fault::Slow { .. } => {
                            if let Some(r) = pending.recorded.as_mut() {
                                // Answered by the gateway in the end: not an injected answer.
                                r.injected = false;
                            }
                            tokio::time::sleep(std::time::Duration::from_secs(
                                session.slow_seconds,
                            ))
                            .await;
                            held_back = true;
                        }
                        Fault::Forged { .. } => {
                            req.extensions_mut().insert(ForgedWebhookSignature);
                        }
                    }
                }
            }
            req.set_payload(Payload::from(body));
            let response = service.call(req).await?.map_into_boxed_body();
            // The app sent the request again while its answer was held back: it had stopped
            // waiting, so for the app this request got no answer (actix may not notice that
            // the connection is gone until it writes).
            if held_back {
                let again = state
                    .store
                    .conformance_request_sent_again(session.id, &method, &path, at)
                    .await
                    .unwrap_or(false);
                if again {
                    pending.finish(Answered::default()).await;
                    return Ok(response);
                }
            }
            let status = response.status().as_u16();
            let code = response
                .response()
                .extensions()
                .get::<ApiError>()
                .map(|e| e.kind.code().to_owned());
            let retry_after = response
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok());
            let answered = Answered {
                status: Some(status),
                code,
                retry_after,
                ..Answered::default()
            };
            let is_webhook_test = template.as_deref() == Some(WEBHOOK_TEST);
            if !((is_token_request || is_webhook_test) && response.status().is_success()) {
                pending.finish(answered).await;
                return Ok(response);
            }
            // A token issued (kept as its digest and lifetime), or what the app's receiver did
            // with a test message: read from the body, which is passed on unchanged.
            let (req, response) = response.into_parts();
            let (head, body) = response.into_parts();
            let bytes = actix_web::body::to_bytes(body).await.unwrap_or_default();
            let json = serde_json::from_slice::<serde_json::Value>(&bytes).unwrap_or_default();
            let issued = json["access_token"]
                .as_str()
                .map(|t| (token_digest(t), json["expires_in"].as_u64().unwrap_or(0)));
            let webhook_taken = json["delivered"].as_bool().filter(|_| is_webhook_test);
            pending
                .finish(Answered {
                    issued,
                    webhook_taken,
                    ..answered
                })
                .await;
            Ok(ServiceResponse::new(
                req,
                head.set_body(BoxBody::new(bytes)),
            ))
        })
    }
}
