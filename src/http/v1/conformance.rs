//! Conformance sessions (scope `conformance`): `/v1/conformance/sessions` opens one on a
//! sandbox municipality of its own, shows its script and how far the app has come, judges
//! what the app sent (`…/report`, in the kit's formats and as the signed package), and
//! closes it. `/v1/conformance/signing-key` is the public key that verifies the packages.

use std::path::{Path, PathBuf};

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Scope;
use crate::conformance::package;
use crate::conformance_sessions::script::{Fault, Script};
use crate::conformance_sessions::service::{self, OpenRequest, Sandbox, SessionError};
use crate::conformance_sessions::{self as sessions, Session};
use crate::http::auth::{Authorized, scopes};
use crate::http::extract::ApiJson;
use crate::http::headers::IdempotencyKeyHeader;
use crate::http::middleware::idempotency::Idempotent;
use crate::http::problem::{ApiError, ProblemDoc, ProblemKind};
use crate::http::state::AppState;
use crate::i18n::Text;

/// What a vendor opens a session with.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = NewConformanceSession)]
pub struct NewSessionDto {
    /// The product under test, for the report (1–128 characters).
    #[schema(example = "Vendor A counter 3.4.1", max_length = 128)]
    pub product: Option<String>,
    /// How long the answer to the scripted slow request is held back (1–120 s; default 35,
    /// longer than the 30 s most HTTP clients wait).
    #[schema(minimum = 1, maximum = 120, example = 35)]
    pub slow_answer_seconds: Option<u64>,
}

/// Where a session is.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ConformanceSessionState)]
pub enum SessionStateDto {
    /// Recording its client's requests.
    Open,
    /// Closed by the vendor: its client revoked.
    Closed,
    /// Past `expiresAt`: nothing more is recorded.
    Expired,
}

/// A request, as the contract names it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ConformanceExpectedRequest)]
pub struct ExpectDto {
    #[schema(example = "POST")]
    pub method: String,
    /// A path template of the contract.
    #[schema(example = "/v1/municipalities/{lgCode}/visits")]
    pub path: String,
}

/// What the first request of a step is answered with.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ConformanceFault)]
pub struct FaultDto {
    /// The status of the injected problem; absent for a slow answer.
    #[schema(example = 503)]
    pub status: Option<u16>,
    /// Its problem code.
    #[schema(example = "service_unavailable")]
    pub code: Option<String>,
    /// Its Retry-After, in seconds.
    #[schema(example = 2)]
    pub retry_after: Option<u64>,
    /// The real answer, held back for `slowAnswerSeconds`.
    pub slow: bool,
    /// A webhook test message signed with a secret the receiver does not have: the receiver
    /// must refuse it.
    pub forged_signature: bool,
}

impl From<&Fault> for FaultDto {
    fn from(fault: &Fault) -> Self {
        let none = Self {
            status: None,
            code: None,
            retry_after: None,
            slow: false,
            forged_signature: false,
        };
        match fault {
            Fault::Slow { .. } => Self { slow: true, ..none },
            Fault::Forged { .. } => Self {
                forged_signature: true,
                ..none
            },
            Fault::Problem {
                status,
                code,
                retry_after,
            } => Self {
                status: Some(*status),
                code: Some(code.clone()),
                retry_after: *retry_after,
                ..none
            },
        }
    }
}

/// Both languages.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ConformanceText)]
pub struct TextDto {
    pub ja: String,
    pub en: String,
}

/// One step of the script and how far the app has come with it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ConformanceStep)]
pub struct StepDto {
    #[schema(example = "open-visit")]
    pub id: String,
    pub instruction: TextDto,
    pub expect: ExpectDto,
    pub fault: Option<FaultDto>,
    /// A request of the step was answered with success.
    pub done: bool,
    /// The step's fault was served.
    pub fault_served: bool,
}

/// A conformance session.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ConformanceSession)]
pub struct SessionDto {
    pub id: Uuid,
    /// The sandbox municipality: synthetic residents only, never a real lgCode.
    #[schema(example = "474002", pattern = "^[0-9]{6}$", format = "lg-code")]
    pub lg_code: String,
    /// The session's client (scopes forms, visits, residents; the sandbox only): point the
    /// app under test at it.
    pub client_id: String,
    /// Where the client gets its tokens.
    #[schema(example = "/oauth/token")]
    pub token_url: String,
    pub product: Option<String>,
    pub slow_answer_seconds: u64,
    pub state: SessionStateDto,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Requests of the client recorded so far.
    pub requests: u64,
    /// The script's name and version.
    #[schema(example = "counter-app 1.0.0")]
    pub script: String,
    pub steps: Vec<StepDto>,
    /// The report of what was recorded so far.
    #[schema(example = "/v1/conformance/sessions/0194f7a2-…/report")]
    pub report_url: String,
}

/// A session just opened: its client's secret is shown now only.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CreatedConformanceSession)]
pub struct CreatedSessionDto {
    #[serde(flatten)]
    pub session: SessionDto,
    pub client_secret: String,
}

/// The key that signs session reports' packages.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ConformanceSigningKey)]
pub struct SigningKeyDto {
    /// The `kid` in each package's `manifest.jws`.
    pub kid: String,
    /// SPKI in PEM: `madoguchi conformance verify-report DIR --key FILE` takes it.
    pub public_key_pem: String,
}

/// Which form of the report.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ConformanceReportFormat)]
pub enum ReportFormatDto {
    /// `report.json`.
    #[default]
    Json,
    /// `junit.xml`.
    Junit,
    /// `report.html`, self-contained.
    Html,
    /// The whole run as a POSIX tar: reports, evidence, events, `manifest.json` and its
    /// signature `manifest.jws`.
    Package,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReportParams {
    /// `json` (default), `junit`, `html` or `package`.
    #[param(inline)]
    pub format: Option<ReportFormatDto>,
}

fn text(t: &crate::conformance::requirements::Text) -> TextDto {
    TextDto {
        ja: t.ja.clone(),
        en: t.en.clone(),
    }
}

fn session_dto(
    session: &Session,
    script: &Script,
    rows: &[sessions::StoredRequest],
    served: &[String],
) -> SessionDto {
    let now = crate::clock::now();
    let progress = sessions::progress(script, rows, served);
    SessionDto {
        id: session.id,
        lg_code: session.lg_code.to_string(),
        client_id: session.client_id.clone(),
        token_url: "/oauth/token".to_owned(),
        product: session.product.clone(),
        slow_answer_seconds: session.slow_seconds,
        state: if session.closed_at.is_some() {
            SessionStateDto::Closed
        } else if session.is_open(now) {
            SessionStateDto::Open
        } else {
            SessionStateDto::Expired
        },
        created_at: session.created_at,
        expires_at: session.expires_at,
        closed_at: session.closed_at,
        requests: rows.len() as u64,
        script: format!("{} {}", script.script, script.version),
        steps: script
            .steps
            .iter()
            .zip(progress)
            .map(|(step, p)| StepDto {
                id: step.id.clone(),
                instruction: text(&step.instruction),
                expect: ExpectDto {
                    method: step.expect.method.clone(),
                    path: step.expect.path.clone(),
                },
                fault: step.fault.as_ref().map(FaultDto::from),
                done: p.done,
                fault_served: p.fault_served,
            })
            .collect(),
        report_url: format!("/v1/conformance/sessions/{}/report", session.id),
    }
}

impl From<SessionError> for ApiError {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::Invalid(errors) => ApiError::validation(errors),
            SessionError::NoSandboxLeft => ApiError::new(
                ProblemKind::Conflict,
                Text::new(
                    "空いているサンドボックスの団体がありません。運用者に連絡してください。",
                    "Every sandbox municipality is in use; ask the operator.",
                ),
            ),
            SessionError::TooMany(n) => ApiError::new(
                ProblemKind::Conflict,
                Text::new(
                    format!(
                        "このクライアントは適合性試験セッションを{n}件開いています。終わったセッションを閉じてから開いてください(POST …/close)。"
                    ),
                    format!(
                        "This client has {n} conformance sessions open, as many as it may; close one it has finished with (POST …/close) first."
                    ),
                ),
            ),
            SessionError::Setup(s) => ApiError::internal(s),
            SessionError::Store(s) => s.into(),
        }
    }
}

fn no_session(id: &str) -> ApiError {
    ApiError::not_found(Text::new(
        format!("適合性試験セッション {id} はありません(開いたクライアントだけが見られます)。"),
        format!("There is no conformance session {id} (only the client that opened it sees it)."),
    ))
}

/// The session `raw`, if the caller opened it (or holds `admin`).
async fn session_of(
    state: &AppState,
    auth: &Authorized<scopes::Conformance>,
    raw: &str,
) -> Result<Session, ApiError> {
    let id = Uuid::parse_str(raw).map_err(|_| no_session(raw))?;
    let session = state
        .store
        .conformance_session(id)
        .await?
        .ok_or_else(|| no_session(raw))?;
    if session.opened_by != auth.principal.client_id && !auth.principal.has_scope(Scope::Admin) {
        return Err(no_session(raw));
    }
    Ok(session)
}

/// Open a conformance session: a sandbox municipality of its own with synthetic residents, a
/// client of that municipality alone (its secret is shown now only), and the script of steps
/// the app under test follows. Every request of that client is recorded; the first request
/// of some steps is answered with a fault (409, 422, 429 and 503 with Retry-After, a slow
/// answer) the app must handle as the contract says.
#[utoipa::path(
    tag = "conformance",
    params(IdempotencyKeyHeader),
    request_body(content = NewSessionDto, content_type = "application/json"),
    responses(
        (status = 201, description = "Opened; clientSecret is shown only now", body = CreatedSessionDto,
            headers(("Location" = String, description = "URL of the session"))),
        (status = 403, description = "Scope conformance missing", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "The client has as many sessions open as it may (conformance.max_open_per_client), every sandbox municipality is in use, or a request with the same Idempotency-Key is still running", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields (all listed in errors[]), or an Idempotency-Key reused for another request", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 429, description = "The client holds as many Idempotency-Keys as it may; Retry-After says when the oldest expires", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["conformance"]))
)]
#[post(
    "/conformance/sessions",
    wrap = "Idempotent::requiring(Scope::Conformance)"
)]
pub async fn open_session(
    auth: Authorized<scopes::Conformance>,
    state: web::Data<AppState>,
    body: ApiJson<NewSessionDto>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let work_dir = std::env::temp_dir().join("madoguchi-conformance");
    let sandbox = Sandbox {
        importer: crate::link::import::Importer {
            store: &state.store,
            eras: state.forms.eras.clone(),
            relationships: crate::residents::file::relationships(&state.forms),
            allow_my_number: false,
            server_key: state.server_key.as_ref(),
        },
        session_hours: state.settings.conformance.session_hours,
        max_open_per_client: state.settings.conformance.max_open_per_client,
        work_dir: &work_dir,
    };
    let request = OpenRequest {
        product: body.product,
        slow_seconds: body.slow_answer_seconds,
    };
    let opened = service::open(
        &state.store,
        &sandbox,
        &state.conformance.script,
        &auth.actor,
        &request,
        crate::clock::now(),
    )
    .await?;
    state.conformance.forget(&opened.session.client_id).await;
    let session = session_dto(&opened.session, &state.conformance.script, &[], &[]);
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/v1/conformance/sessions/{}", session.id),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(CreatedSessionDto {
            session,
            client_secret: opened.client_secret.expose().to_owned(),
        }))
}

/// A session: its script and, for each step, whether the app has done it and whether its
/// fault was served.
#[utoipa::path(
    tag = "conformance",
    params(("sessionId" = Uuid, Path, description = "The session's id")),
    responses(
        (status = 200, description = "The session", body = SessionDto),
        (status = 403, description = "Scope conformance missing", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such session, or another client's", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["conformance"]))
)]
#[get("/conformance/sessions/{sessionId}")]
pub async fn get_session(
    auth: Authorized<scopes::Conformance>,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let session = session_of(&state, &auth, &path).await?;
    Ok(HttpResponse::Ok().json(progress_of(&state, &session).await?))
}

/// Close a session: its client is revoked and nothing more is recorded. Its report stays.
#[utoipa::path(
    tag = "conformance",
    params(("sessionId" = Uuid, Path, description = "The session's id"), IdempotencyKeyHeader),
    responses(
        (status = 200, description = "The closed session", body = SessionDto),
        (status = 403, description = "Scope conformance missing", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such session, or another client's", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "A request with the same Idempotency-Key is still running", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "An Idempotency-Key reused for another request", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 429, description = "The client holds as many Idempotency-Keys as it may; Retry-After says when the oldest expires", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["conformance"]))
)]
#[post(
    "/conformance/sessions/{sessionId}/close",
    wrap = "Idempotent::requiring(Scope::Conformance)"
)]
pub async fn close_session(
    auth: Authorized<scopes::Conformance>,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let session = session_of(&state, &auth, &path).await?;
    service::close(&state.store, &session, &auth.actor).await?;
    state.conformance.forget(&session.client_id).await;
    let session = state
        .store
        .conformance_session(session.id)
        .await?
        .ok_or_else(|| no_session(&path))?;
    Ok(HttpResponse::Ok().json(progress_of(&state, &session).await?))
}

/// The session with what its client has done so far.
async fn progress_of(state: &AppState, session: &Session) -> Result<SessionDto, ApiError> {
    let rows = state.store.conformance_requests(session.id).await?;
    let served = state.store.served_conformance_faults(session.id).await?;
    Ok(session_dto(
        session,
        &state.conformance.script,
        &rows,
        &served,
    ))
}

/// Removes the run's directory when the answer has been read from it.
struct RunDir(PathBuf);

impl Drop for RunDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The run's files as a POSIX tar, in path order.
fn tar_of(dir: &Path) -> Result<Vec<u8>, String> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.mode(tar::HeaderMode::Deterministic);
    for (name, path) in package::run_files(dir)? {
        builder
            .append_path_with_name(&path, &name)
            .map_err(|e| format!("{name}: {e}"))?;
    }
    builder.into_inner().map_err(|e| e.to_string())
}

/// The report of what the session's client sent so far, judged by the `counter-app` suite:
/// the same formats as `madoguchi conformance run`, and the whole run as a package signed
/// with the key `/v1/conformance/signing-key` publishes.
#[utoipa::path(
    tag = "conformance",
    params(("sessionId" = Uuid, Path, description = "The session's id"), ReportParams),
    responses(
        (status = 200, description = "The report: JSON (default), JUnit XML, HTML, or the package as a tar",
            content(
                ("application/json"),
                ("application/xml"),
                ("text/html"),
                ("application/x-tar"),
            )),
        (status = 403, description = "Scope conformance missing", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such session, or another client's", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["conformance"]))
)]
#[get("/conformance/sessions/{sessionId}/report")]
pub async fn get_report(
    auth: Authorized<scopes::Conformance>,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<ReportParams>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let session = session_of(&state, &auth, &path).await?;
    let (key, _) = state
        .store
        .conformance_key(state.server_key.as_ref())
        .await?;
    let base = state.settings.public_url.clone().unwrap_or_else(|| {
        let info = req.connection_info();
        format!("{}://{}", info.scheme(), info.host())
    });
    let sut = reqwest::Url::parse(&format!(
        "{}/v1/conformance/sessions/{}",
        base.trim_end_matches('/'),
        session.id
    ))
    .map_err(ApiError::internal)?;
    let dir = RunDir(
        std::env::temp_dir()
            .join("madoguchi-conformance")
            .join(format!("report-{}", Uuid::new_v4())),
    );
    service::judge(
        &state.store,
        &session,
        &state.conformance.script,
        Some(key),
        sut,
        &dir.0,
    )
    .await?;
    let read = |name: &str| std::fs::read(dir.0.join(name)).map_err(ApiError::internal);
    let response = match query.format.unwrap_or_default() {
        ReportFormatDto::Json => HttpResponse::Ok()
            .content_type("application/json")
            .body(read("report.json")?),
        ReportFormatDto::Junit => HttpResponse::Ok()
            .content_type("application/xml; charset=utf-8")
            .body(read("junit.xml")?),
        ReportFormatDto::Html => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(read("report.html")?),
        ReportFormatDto::Package => HttpResponse::Ok()
            .content_type("application/x-tar")
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"conformance-{}.tar\"", session.id),
            ))
            .body(tar_of(&dir.0).map_err(ApiError::internal)?),
    };
    Ok(response)
}

/// The public key that verifies every session package's `manifest.jws`.
#[utoipa::path(
    tag = "conformance",
    responses(
        (status = 200, description = "The key", body = SigningKeyDto),
        (status = 403, description = "Scope conformance missing", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["conformance"]))
)]
#[get("/conformance/signing-key")]
pub async fn signing_key(
    _auth: Authorized<scopes::Conformance>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (key, pkcs8) = state
        .store
        .conformance_key(state.server_key.as_ref())
        .await?;
    let pair = rcgen::KeyPair::try_from(pkcs8.as_slice()).map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(SigningKeyDto {
        kid: key.kid.clone(),
        public_key_pem: pair.public_key_pem(),
    }))
}
