//! Counter PCs: `/v1/admin/devices` (scope `admin`) registers a counter PC with a one-time
//! enrolment code, lists devices and revokes them; `/v1/devices/enrol` is where the PC's bridge
//! trades the code and its public key for a client certificate of the device CA.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Scope;
use crate::devices::authority::pem_of;
use crate::devices::{self, Device, ENROLMENT_MINUTES};
use crate::http::auth::{Authorized, scopes};
use crate::http::extract::ApiJson;
use crate::http::headers::IdempotencyKeyHeader;
use crate::http::middleware::idempotency::Idempotent;
use crate::http::pagination::page_type;
use crate::http::problem::{ApiError, ProblemDoc, ProblemKind};
use crate::http::state::AppState;
use crate::i18n::Text;
use crate::store::Enrolment;
use crate::validation::FieldErrors;

/// A counter PC to register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = NewDevice)]
pub struct NewDeviceDto {
    /// The municipality whose counter the PC stands at.
    #[schema(example = "012084", pattern = "^[0-9]{6}$", format = "lg-code")]
    pub lg_code: String,
    /// The counter's name as clerks know it; 1–64 characters.
    #[schema(
        example = "市民課 3番窓口",
        max_length = 64,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F\\u00AD\\u061C\\u115F\\u1160\\u180E\\u200B-\\u200F\\u2028\\u2029\\u202A-\\u202E\\u2060-\\u2064\\u2066-\\u2069\\u3164\\uFEFF\\uFFA0\\s](?:[^\\u0000-\\u001F\\u007F-\\u009F\\u00AD\\u061C\\u115F\\u1160\\u180E\\u200B-\\u200F\\u2028\\u2029\\u202A-\\u202E\\u2060-\\u2064\\u2066-\\u2069\\u3164\\uFEFF\\uFFA0]{0,62}[^\\u0000-\\u001F\\u007F-\\u009F\\u00AD\\u061C\\u115F\\u1160\\u180E\\u200B-\\u200F\\u2028\\u2029\\u202A-\\u202E\\u2060-\\u2064\\u2066-\\u2069\\u3164\\uFEFF\\uFFA0\\s])?$"
    )]
    pub counter_name: String,
}

/// Where a device stands.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum DeviceStateDto {
    /// Waiting for its bridge to enrol with the code.
    Pending,
    /// The code expired unused: register the PC again.
    Expired,
    Active,
    Revoked,
}

/// A counter PC.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Device)]
pub struct DeviceDto {
    pub device_id: Uuid,
    pub lg_code: String,
    pub counter_name: String,
    pub state: DeviceStateDto,
    pub created_at: DateTime<Utc>,
    /// Until when the enrolment code is good (pending devices).
    pub enrolment_expires_at: Option<DateTime<Utc>>,
    pub enrolled_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// When its bridge was last connected to the device port.
    pub last_seen_at: Option<DateTime<Utc>>,
}

impl From<Device> for DeviceDto {
    fn from(d: Device) -> Self {
        let state = match d.state(Utc::now()) {
            devices::DeviceState::Pending => DeviceStateDto::Pending,
            devices::DeviceState::Expired => DeviceStateDto::Expired,
            devices::DeviceState::Active => DeviceStateDto::Active,
            devices::DeviceState::Revoked => DeviceStateDto::Revoked,
        };
        DeviceDto {
            device_id: d.id,
            lg_code: d.lg_code.to_string(),
            counter_name: d.counter_name,
            state,
            created_at: d.created_at,
            enrolment_expires_at: d
                .enrolled_at
                .is_none()
                .then_some(d.enrolment_expires_at)
                .flatten(),
            enrolled_at: d.enrolled_at,
            revoked_at: d.revoked_at,
            last_seen_at: d.last_seen_at,
        }
    }
}

/// The registered PC with its one-time code: type it into the bridge's `enrol` command on
/// that PC within 15 minutes. It cannot be shown again.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CreatedDevice)]
pub struct CreatedDeviceDto {
    #[serde(flatten)]
    pub device: DeviceDto,
    #[schema(example = "7KQ2-M9XD-4TPA")]
    pub enrolment_code: String,
}

page_type!(DevicePage, DeviceDto, "One page of counter PCs.");

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct DevicePageParams {
    /// Only the devices of this municipality.
    #[param(example = "012084", pattern = "^[0-9]{6}$")]
    pub lg_code: Option<String>,
    /// Items per page, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
    /// `nextCursor` of the previous page: the device id the next page starts after.
    #[param(value_type = Option<String>, format = Uuid)]
    #[serde(default, deserialize_with = "crate::http::pagination::cursor")]
    pub cursor: Option<Uuid>,
}

/// A bridge's enrolment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = DeviceEnrolment)]
pub struct EnrolmentDto {
    /// The one-time code an administrator was given (hyphens, spaces and case do not matter).
    #[schema(example = "7KQ2-M9XD-4TPA", max_length = 40)]
    pub enrolment_code: String,
    /// The bridge's ECDSA P-256 public key: SubjectPublicKeyInfo, DER, base64 (91 bytes: the
    /// fixed P-256 header and the uncompressed point).
    #[schema(
        example = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEPsJ3lcHmQ6v0vFqgTJ5OkPzQYt+0ZsN9jBQfPZrGjtP8sYfQd8Xw5kLf4cJwbMRxgnpQ3QSTnJ4qB7tYh7hZ3A==",
        pattern = "^MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE[A-Za-z0-9+/]{85}[AQgw]==$"
    )]
    pub public_key: String,
}

/// What an enrolled bridge needs: its certificate, the CA the device port's certificate is
/// issued by, and where to connect.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = EnrolledDevice)]
pub struct EnrolledDto {
    pub device_id: Uuid,
    pub lg_code: String,
    pub counter_name: String,
    /// The device's client certificate (PEM).
    pub certificate: String,
    /// The device CA's certificate (PEM): the only CA the bridge trusts for the device port.
    pub ca_certificate: String,
    /// The device port (`wss://host:port/v1/bridge`); null when the gateway runs without one.
    pub bridge_url: Option<String>,
}

fn device_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| {
        ApiError::new(
            ProblemKind::InvalidRequest,
            Text::new(
                format!("deviceId「{raw}」は UUID ではありません。"),
                format!("deviceId {raw:?} is not a UUID."),
            ),
        )
    })
}

fn no_device(id: Uuid) -> ApiError {
    ApiError::not_found(Text::new(
        format!("窓口端末 {id} は登録されていません。"),
        format!("There is no counter PC {id}."),
    ))
}

/// Register a counter PC. The response holds its one-time enrolment code, once.
#[utoipa::path(
    tag = "admin",
    params(IdempotencyKeyHeader),
    request_body(content = NewDeviceDto, content_type = "application/json"),
    responses(
        (status = 201, description = "Registered; enrolmentCode is shown only now and is good for 15 minutes", body = CreatedDeviceDto,
            headers(("Location" = String, description = "URL of the device"))),
        (status = 403, description = "Scope admin missing", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "The municipality is not registered", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "A request with the same Idempotency-Key is still running, or its completed response was too large to keep", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields (all listed in errors[]), or an Idempotency-Key reused for another request", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 429, description = "The client holds as many Idempotency-Keys as it may; Retry-After says when the oldest expires", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["admin"]))
)]
#[post("/admin/devices", wrap = "Idempotent::requiring(Scope::Admin)")]
pub async fn create_device(
    auth: Authorized<scopes::Admin>,
    state: web::Data<AppState>,
    body: ApiJson<NewDeviceDto>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let mut errors = FieldErrors::default();
    let counter = errors.text(
        "/counterName",
        &Text::new("窓口名", "counterName"),
        &body.counter_name,
        64,
    );
    let code = crate::http::auth::lg_code_problem(&body.lg_code)?;
    errors.into_result().map_err(ApiError::validation)?;
    if state.municipalities.municipality(&code).await?.is_none() {
        return Err(ApiError::not_found(Text::new(
            format!("団体 {code} は登録されていません。"),
            format!("Municipality {code} is not registered."),
        )));
    }
    let (enrolment_code, hash) = devices::enrolment_code()
        .map_err(|_| ApiError::internal("the system random generator failed"))?;
    let expires = Utc::now() + chrono::Duration::minutes(ENROLMENT_MINUTES);
    let device = state
        .store
        .create_device(&code, &counter, &hash, expires, &auth.actor)
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/v1/admin/devices/{}", device.id)))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(CreatedDeviceDto {
            device: device.into(),
            enrolment_code,
        }))
}

/// Every counter PC, revoked ones included.
#[utoipa::path(
    tag = "admin",
    params(DevicePageParams),
    responses(
        (status = 200, description = "One page of counter PCs", body = DevicePage),
        (status = 400, description = "An invalid lgCode, limit or cursor", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope admin missing", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["admin"]))
)]
#[get("/admin/devices")]
pub async fn list_devices(
    _auth: Authorized<scopes::Admin>,
    state: web::Data<AppState>,
    query: web::Query<DevicePageParams>,
) -> Result<HttpResponse, ApiError> {
    let limit = crate::http::pagination::limit(query.limit)?;
    let code = query
        .lg_code
        .as_deref()
        .map(crate::http::auth::lg_code_problem)
        .transpose()?;
    let page = state
        .store
        .list_devices(code.as_ref(), limit, query.cursor)
        .await?;
    Ok(HttpResponse::Ok().json(DevicePage {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_after,
    }))
}

/// One counter PC.
#[utoipa::path(
    tag = "admin",
    params(("deviceId" = Uuid, Path, description = "The device's id")),
    responses(
        (status = 200, description = "The device", body = DeviceDto),
        (status = 400, description = "deviceId is not a UUID", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope admin missing", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such device", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["admin"]))
)]
#[get("/admin/devices/{deviceId}")]
pub async fn get_device(
    _auth: Authorized<scopes::Admin>,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = device_id(&path)?;
    let device = state.store.device(id).await?.ok_or_else(|| no_device(id))?;
    Ok(HttpResponse::Ok().json(DeviceDto::from(device)))
}

/// Revoke a counter PC: its certificate is refused from now on, and a connected bridge is
/// closed within seconds. Card sessions for it fail.
#[utoipa::path(
    tag = "admin",
    params(
        ("deviceId" = Uuid, Path, description = "The device's id"),
        IdempotencyKeyHeader,
    ),
    responses(
        (status = 200, description = "The revoked device", body = DeviceDto),
        (status = 400, description = "deviceId is not a UUID", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope admin missing", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such device", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "A request with the same Idempotency-Key is still running", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "An Idempotency-Key reused for another request", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 429, description = "The client holds as many Idempotency-Keys as it may; Retry-After says when the oldest expires", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["admin"]))
)]
#[post(
    "/admin/devices/{deviceId}/revoke",
    wrap = "Idempotent::requiring(Scope::Admin)"
)]
pub async fn revoke_device(
    auth: Authorized<scopes::Admin>,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = device_id(&path)?;
    let device = state
        .store
        .revoke_device(id, &auth.actor)
        .await?
        .ok_or_else(|| no_device(id))?;
    Ok(HttpResponse::Ok().json(DeviceDto::from(device)))
}

fn rejected() -> ApiError {
    ApiError::new(
        ProblemKind::EnrolmentCodeRejected,
        Text::new(
            "登録コードが違うか、使用済みか、期限切れです。管理者に新しいコードを発行してもらってください。",
            "The enrolment code is wrong, used or expired. Ask an administrator for a new one.",
        ),
    )
}

/// Enrol a counter PC's bridge: the one-time code and the bridge's public key buy a client
/// certificate for the device port. No token: the code is the credential, good once and for
/// 15 minutes; wrong codes count towards the caller's address lockout.
#[utoipa::path(
    tag = "devices",
    request_body(content = EnrolmentDto, content_type = "application/json"),
    responses(
        (status = 201, description = "Enrolled: the device's certificate and where to connect", body = EnrolledDto),
        (status = 403, description = "The code is wrong, used or expired", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "The public key is not an ECDSA P-256 SubjectPublicKeyInfo in base64", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong codes from this address; Retry-After says when to try again", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(())
)]
#[post("/devices/enrol")]
pub async fn enrol_device(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: ApiJson<EnrolmentDto>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let address = crate::http::middleware::client_address::client_address(
        &req,
        &state.settings.http.trusted_proxies,
    );
    if let Err(wait) = state.lockout.check(None, address).await {
        return Err(ApiError::new(
            ProblemKind::TooManyFailedAttempts,
            Text::new(
                format!(
                    "誤った登録コードが続いたため、{}秒後にお試しください。",
                    wait.as_secs()
                ),
                format!("Too many wrong codes; retry in {} seconds.", wait.as_secs()),
            ),
        )
        .with_header(header::RETRY_AFTER, &wait.as_secs().max(1).to_string()));
    }
    let bad_key = || {
        ApiError::validation(vec![crate::validation::FieldError::new(
            "/publicKey",
            "unsupported_key",
            Text::new(
                "publicKey は ECDSA P-256 の SubjectPublicKeyInfo(DER)を base64 にしたものにしてください。",
                "publicKey must be an ECDSA P-256 SubjectPublicKeyInfo (DER) in base64.",
            ),
        )])
    };
    let spki = base64::engine::general_purpose::STANDARD
        .decode(body.public_key.trim())
        .map_err(|_| bad_key())?;
    let hash = devices::code_hash(&body.enrolment_code);
    let Some(device) = state.store.device_for_code(&hash, Utc::now()).await? else {
        state.lockout.record_failure(None, address).await;
        return Err(rejected());
    };
    let certificate = state
        .device_authority
        .issue_device(device.id, &spki)
        .map_err(|_| bad_key())?;
    let fingerprint = devices::certificate_fingerprint(&certificate);
    let device = match state
        .store
        .complete_enrolment(&device, &hash, &fingerprint)
        .await?
    {
        Enrolment::Done(device) => device,
        Enrolment::UnknownCode => return Err(rejected()),
    };
    tracing::info!(device = %device.id, lg_code = %device.lg_code, "counter PC enrolled");
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(EnrolledDto {
            device_id: device.id,
            lg_code: device.lg_code.to_string(),
            counter_name: device.counter_name,
            certificate: pem_of("CERTIFICATE", &certificate),
            ca_certificate: state.device_authority.certificate_pem(),
            bridge_url: state.device_port_url.clone(),
        }))
}
