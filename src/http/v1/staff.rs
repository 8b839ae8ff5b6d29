//! `/v1/admin/staff`: the staff accounts of the counter console (clerks, supervisors,
//! administrators of a municipality). Passwords are kept as argon2id hashes and never shown.

use actix_web::http::header;
use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Scope;
use crate::http::auth::{Authorized, scopes};
use crate::http::extract::ApiJson;
use crate::http::headers::IdempotencyKeyHeader;
use crate::http::middleware::idempotency::Idempotent;
use crate::http::problem::{ApiError, ProblemDoc};
use crate::http::state::AppState;
use crate::i18n::Text;
use crate::staff::StaffAccount;
use crate::staff::service::{self, NewStaff};

/// A staff account to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = NewStaffAccount, example = json!({"lgCode": "012084", "login": "sato", "name": "佐藤 花子", "role": "clerk", "password": "窓口の合言葉2026"}))]
pub struct NewStaffDto {
    /// The municipality the account belongs to.
    #[schema(example = "012084", pattern = "^[0-9]{6}$", format = "lg-code")]
    pub lg_code: String,
    /// 1–32 of a-z, 0-9 and `. _ -`, starting with a letter or digit; unique in the
    /// municipality.
    #[schema(example = "sato", pattern = "^[a-z0-9][a-z0-9._-]{0,31}$")]
    pub login: String,
    /// The name colleagues know them by; 1–64 characters.
    #[schema(
        example = "佐藤 花子",
        max_length = 64,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F\\u00AD\\u061C\\u115F\\u1160\\u180E\\u200B-\\u200F\\u2028\\u2029\\u202A-\\u202E\\u2060-\\u2064\\u2066-\\u2069\\u3164\\uFEFF\\uFFA0\\s](?:[^\\u0000-\\u001F\\u007F-\\u009F\\u00AD\\u061C\\u115F\\u1160\\u180E\\u200B-\\u200F\\u2028\\u2029\\u202A-\\u202E\\u2060-\\u2064\\u2066-\\u2069\\u3164\\uFEFF\\uFFA0]{0,62}[^\\u0000-\\u001F\\u007F-\\u009F\\u00AD\\u061C\\u115F\\u1160\\u180E\\u200B-\\u200F\\u2028\\u2029\\u202A-\\u202E\\u2060-\\u2064\\u2066-\\u2069\\u3164\\uFEFF\\uFFA0\\s])?$"
    )]
    pub name: String,
    /// clerk, supervisor or admin.
    #[schema(example = "clerk", pattern = "^(clerk|supervisor|admin)$")]
    pub role: String,
    /// 10–128 characters; absent for an account that logs in only through the
    /// municipality's identity provider.
    #[schema(min_length = 10, max_length = 128)]
    pub password: Option<String>,
}

/// A staff account (never its password).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = StaffAccount)]
pub struct StaffDto {
    pub id: Uuid,
    pub lg_code: String,
    pub login: String,
    /// `login@lgCode`: how the audit log names them.
    pub staff_id: String,
    pub name: String,
    /// clerk, supervisor or admin.
    pub role: String,
    /// Whether a password is set (otherwise only single sign-on).
    pub has_password: bool,
    pub created_at: DateTime<Utc>,
    pub disabled_at: Option<DateTime<Utc>>,
}

impl From<StaffAccount> for StaffDto {
    fn from(a: StaffAccount) -> Self {
        Self {
            id: a.id,
            lg_code: a.lg_code.to_string(),
            staff_id: a.staff_id(),
            login: a.login,
            name: a.name,
            role: a.role.as_str().to_owned(),
            has_password: a.password_hash.is_some(),
            created_at: a.created_at,
            disabled_at: a.disabled_at,
        }
    }
}

/// A municipality's staff.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = StaffList)]
pub struct StaffListDto {
    pub items: Vec<StaffDto>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StaffQuery {
    /// The municipality whose staff to list.
    #[param(example = "012084", pattern = "^[0-9]{6}$")]
    pub lg_code: String,
}

/// Create a staff account of the counter console.
#[utoipa::path(
    tag = "admin",
    params(IdempotencyKeyHeader),
    request_body(content = NewStaffDto, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = StaffDto),
        (status = 400, description = "Malformed JSON or lgCode", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope admin missing", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "The municipality is not registered", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "The login is taken in the municipality, or the same Idempotency-Key is still running", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields (all listed in errors[]), or an Idempotency-Key reused for another request", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 429, description = "Passwords are being hashed for many requests, or the client holds as many Idempotency-Keys as it may; Retry-After says when to retry", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["admin"]))
)]
#[post("/admin/staff", wrap = "Idempotent::requiring(Scope::Admin)")]
pub async fn create_staff(
    auth: Authorized<scopes::Admin>,
    state: web::Data<AppState>,
    body: ApiJson<NewStaffDto>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let code = crate::http::auth::lg_code_problem(&body.lg_code)?;
    let account = service::create(
        &state.store,
        &state.passwords,
        code,
        NewStaff {
            login: &body.login,
            name: &body.name,
            role: &body.role,
            password: body.password.as_deref(),
        },
        &auth.actor,
    )
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(StaffDto::from(account)))
}

/// The staff accounts of a municipality, by login.
#[utoipa::path(
    tag = "admin",
    params(StaffQuery),
    responses(
        (status = 200, description = "The municipality's staff", body = StaffListDto),
        (status = 400, description = "An invalid lgCode", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope admin missing", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "The municipality is not registered", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["admin"]))
)]
#[get("/admin/staff")]
pub async fn list_staff(
    _auth: Authorized<scopes::Admin>,
    state: web::Data<AppState>,
    query: web::Query<StaffQuery>,
) -> Result<HttpResponse, ApiError> {
    let code = crate::http::auth::lg_code_problem(&query.lg_code)?;
    if state.municipalities.municipality(&code).await?.is_none() {
        return Err(ApiError::not_found(Text::new(
            format!("団体 {code} は登録されていません。"),
            format!("Municipality {code} is not registered."),
        )));
    }
    let items = state.store.list_staff(code).await?;
    Ok(HttpResponse::Ok().json(StaffListDto {
        items: items.into_iter().map(StaffDto::from).collect(),
    }))
}
