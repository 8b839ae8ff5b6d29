//! `/v1/admin`: registering municipalities and clients (scope `admin`).

use actix_web::http::header;
use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::municipalities::{MunicipalityDto, MunicipalityPage, MunicipalityPageParams};
use crate::auth::{self, Client, ClientError, Scope};
use crate::http::auth::{Authorized, scopes};
use crate::http::extract::ApiJson;
use crate::http::headers::IdempotencyKeyHeader;
use crate::http::middleware::idempotency::Idempotent;
use crate::http::pagination::{page_params, page_type, six_digits};
use crate::http::problem::{ApiError, ProblemDoc, ProblemKind};
use crate::http::state::AppState;
use crate::i18n::Text;
use crate::tenancy;

/// A municipality to register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = NewMunicipality)]
pub struct NewMunicipalityDto {
    /// 全国地方公共団体コード: 6 digits, the last a check digit.
    #[schema(example = "131016", pattern = "^[0-9]{6}$", format = "lg-code")]
    pub lg_code: String,
    /// 1–64 characters; no control, line-breaking, bidirectional or zero-width characters.
    #[schema(
        example = "千代田区",
        max_length = 64,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F\\u00AD\\u061C\\u115F\\u1160\\u180E\\u200B-\\u200F\\u2028\\u2029\\u202A-\\u202E\\u2060-\\u2064\\u2066-\\u2069\\u3164\\uFEFF\\uFFA0\\s](?:[^\\u0000-\\u001F\\u007F-\\u009F\\u00AD\\u061C\\u115F\\u1160\\u180E\\u200B-\\u200F\\u2028\\u2029\\u202A-\\u202E\\u2060-\\u2064\\u2066-\\u2069\\u3164\\uFEFF\\uFFA0]{0,62}[^\\u0000-\\u001F\\u007F-\\u009F\\u00AD\\u061C\\u115F\\u1160\\u180E\\u200B-\\u200F\\u2028\\u2029\\u202A-\\u202E\\u2060-\\u2064\\u2066-\\u2069\\u3164\\uFEFF\\uFFA0\\s])?$"
    )]
    pub name: String,
    /// Full-width katakana (and full-width spaces), up to 64 characters.
    #[schema(
        example = "チヨダク",
        max_length = 64,
        pattern = "^$|^[\\u30A1-\\u30FC](?:[\\u30A1-\\u30FC\\u3000]{0,62}[\\u30A1-\\u30FC])?$"
    )]
    pub name_kana: Option<String>,
}

/// A client to register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = NewClient)]
pub struct NewClientDto {
    /// Who the client is: the vendor and its application; 1–100 characters.
    #[schema(
        example = "Vendor A counter app (Kitami)",
        max_length = 100,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F\\u00AD\\u061C\\u115F\\u1160\\u180E\\u200B-\\u200F\\u2028\\u2029\\u202A-\\u202E\\u2060-\\u2064\\u2066-\\u2069\\u3164\\uFEFF\\uFFA0\\s](?:[^\\u0000-\\u001F\\u007F-\\u009F\\u00AD\\u061C\\u115F\\u1160\\u180E\\u200B-\\u200F\\u2028\\u2029\\u202A-\\u202E\\u2060-\\u2064\\u2066-\\u2069\\u3164\\uFEFF\\uFFA0]{0,98}[^\\u0000-\\u001F\\u007F-\\u009F\\u00AD\\u061C\\u115F\\u1160\\u180E\\u200B-\\u200F\\u2028\\u2029\\u202A-\\u202E\\u2060-\\u2064\\u2066-\\u2069\\u3164\\uFEFF\\uFFA0\\s])?$"
    )]
    pub name: String,
    #[schema(example = json!(["municipalities:read"]), min_items = 1, value_type = Vec<ScopeName>)]
    pub scopes: Vec<String>,
    /// lgCodes of the registered municipalities the client may act for (at least one unless
    /// the only scope is `admin`).
    #[schema(example = json!(["012084"]), value_type = Vec<LgCodeText>)]
    #[serde(default)]
    pub municipalities: Vec<String>,
    /// With scope `link`: the business areas (業務) the core system may pull and answer, at
    /// least one, e.g. `["nationalHealthInsurance"]`. Leave it out for every area. (No
    /// example here: the request's example has scope `municipalities:read`, not `link`.)
    #[schema(min_items = 1)]
    pub link_areas: Option<Vec<String>>,
}

/// A 全国地方公共団体コード: six digits, the last a check digit.
#[derive(ToSchema)]
#[schema(value_type = String, pattern = "^[0-9]{6}$", format = "lg-code", example = "012084")]
#[allow(dead_code)] // a schema only: requests carry lgCodes as strings
pub struct LgCodeText(String);

/// A scope a client may hold: the domain's list (`auth::Scope::ALL`), so that the document
/// cannot miss one the server accepts. Written by hand because a derived schema would be a
/// second copy of the list.
pub struct ScopeName;

impl utoipa::PartialSchema for ScopeName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("A scope a client may hold."))
            .enum_values(Some(crate::auth::Scope::ALL.iter().map(|s| s.as_str())))
            .into()
    }
}

impl utoipa::ToSchema for ScopeName {}

/// A registered client. Its secret is shown only once, when it is created.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Client)]
pub struct ClientDto {
    pub client_id: Uuid,
    pub name: String,
    pub scopes: Vec<String>,
    pub municipalities: Vec<String>,
    /// The business areas scope `link` is limited to; absent for every area.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_areas: Option<Vec<String>>,
    pub created_at: DateTime<Utc>,
    /// Set once the client is revoked: it gets no new tokens.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<Client> for ClientDto {
    fn from(c: Client) -> Self {
        Self {
            client_id: c.id,
            name: c.name,
            scopes: c.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
            municipalities: c.municipalities.iter().map(ToString::to_string).collect(),
            link_areas: c.link_areas,
            created_at: c.created_at,
            revoked_at: c.revoked_at,
        }
    }
}

/// The new client with its secret: store the secret now, it cannot be shown again.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CreatedClient)]
pub struct CreatedClientDto {
    #[serde(flatten)]
    pub client: ClientDto,
    pub client_secret: String,
}

page_type!(ClientPage, ClientDto, "One page of clients.");

page_params!(
    ClientPageParams,
    Uuid,
    "`nextCursor` of the previous page: the client id the next page starts after.",
    value_type = Option<String>, format = Uuid
);

/// Register a municipality.
#[utoipa::path(
    tag = "admin",
    params(IdempotencyKeyHeader),
    request_body(content = NewMunicipalityDto, content_type = "application/json"),
    responses(
        (status = 201, description = "Registered", body = MunicipalityDto,
            headers(("Location" = String, description = "URL of the municipality"))),
        (status = 403, description = "Scope admin missing", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "Registered already, a request with the same Idempotency-Key is still running, or its completed response was too large to keep", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields (all listed in errors[]), or an Idempotency-Key reused for another request", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 429, description = "The client holds as many Idempotency-Keys as it may; Retry-After says when the oldest expires", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["admin"]))
)]
#[post("/admin/municipalities", wrap = "Idempotent::requiring(Scope::Admin)")]
pub async fn create_municipality(
    auth: Authorized<scopes::Admin>,
    state: web::Data<AppState>,
    body: ApiJson<NewMunicipalityDto>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let municipality = tenancy::register_municipality(
        &state.store,
        &body.lg_code,
        &body.name,
        body.name_kana.as_deref(),
        &auth.actor,
    )
    .await?;
    let location = format!("/v1/municipalities/{}", municipality.lg_code);
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .json(MunicipalityDto::from(municipality)))
}

/// Every registered municipality.
#[utoipa::path(
    tag = "admin",
    params(MunicipalityPageParams),
    responses(
        (status = 200, description = "One page of municipalities", body = MunicipalityPage),
        (status = 403, description = "Scope admin missing", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["admin"]))
)]
#[get("/admin/municipalities")]
pub async fn list_all_municipalities(
    _auth: Authorized<scopes::Admin>,
    state: web::Data<AppState>,
    query: web::Query<MunicipalityPageParams>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit()?;
    let after = six_digits(query.cursor.as_deref())?;
    let page = state.store.list_municipalities(after, limit, None).await?;
    Ok(HttpResponse::Ok().json(MunicipalityPage {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_after,
    }))
}

/// Register a client. The response holds its secret, once.
#[utoipa::path(
    tag = "admin",
    params(IdempotencyKeyHeader),
    request_body(content = NewClientDto, content_type = "application/json"),
    responses(
        (status = 201, description = "Registered; clientSecret is shown only now", body = CreatedClientDto,
            headers(("Location" = String, description = "URL of the client"))),
        (status = 403, description = "Scope admin missing", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "A request with the same Idempotency-Key is still running, or its completed response was too large to keep", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields (all listed in errors[]), or an Idempotency-Key reused for another request", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 429, description = "The client holds as many Idempotency-Keys as it may; Retry-After says when the oldest expires", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["admin"]))
)]
#[post("/admin/clients", wrap = "Idempotent::requiring(Scope::Admin)")]
pub async fn create_client(
    auth: Authorized<scopes::Admin>,
    state: web::Data<AppState>,
    body: ApiJson<NewClientDto>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let known_areas = state.catalog.vocabulary.area_ids();
    let (client, secret) = auth::register_client(
        &state.store,
        auth::Registration {
            name: &body.name,
            scopes: &body.scopes,
            municipalities: &body.municipalities,
            link_areas: body.link_areas.as_deref(),
            known_areas: &known_areas,
        },
        &auth.actor,
    )
    .await?;
    let location = format!("/v1/admin/clients/{}", client.id);
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(CreatedClientDto {
            client: client.into(),
            client_secret: secret.expose().to_owned(),
        }))
}

/// Every registered client, revoked ones included.
#[utoipa::path(
    tag = "admin",
    params(ClientPageParams),
    responses(
        (status = 200, description = "One page of clients", body = ClientPage),
        (status = 403, description = "Scope admin missing", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["admin"]))
)]
#[get("/admin/clients")]
pub async fn list_clients(
    _auth: Authorized<scopes::Admin>,
    state: web::Data<AppState>,
    query: web::Query<ClientPageParams>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit()?;
    let after = query.cursor;
    let page = state.store.list_clients(after, limit).await?;
    Ok(HttpResponse::Ok().json(ClientPage {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_after,
    }))
}

fn client_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| {
        ApiError::new(
            ProblemKind::InvalidRequest,
            Text::new(
                format!("clientId「{raw}」は UUID ではありません。"),
                format!("clientId {raw:?} is not a UUID."),
            ),
        )
    })
}

/// One client.
#[utoipa::path(
    tag = "admin",
    params(("clientId" = Uuid, Path, description = "The client's id")),
    responses(
        (status = 200, description = "The client", body = ClientDto),
        (status = 403, description = "Scope admin missing", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such client", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["admin"]))
)]
#[get("/admin/clients/{clientId}")]
pub async fn get_client(
    _auth: Authorized<scopes::Admin>,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = client_id(&path)?;
    let client = state
        .store
        .client(id)
        .await?
        .ok_or(ClientError::NotFound(id))?;
    Ok(HttpResponse::Ok().json(ClientDto::from(client)))
}

/// Revoke a client: its secret gets no more tokens. Tokens already issued stay valid until
/// they expire (at most `auth.token_ttl_seconds`).
#[utoipa::path(
    tag = "admin",
    params(
        ("clientId" = Uuid, Path, description = "The client's id"),
        IdempotencyKeyHeader,
    ),
    responses(
        (status = 200, description = "The revoked client", body = ClientDto),
        (status = 403, description = "Scope admin missing", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such client", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "A request with the same Idempotency-Key is still running", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "An Idempotency-Key reused for another request", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 429, description = "The client holds as many Idempotency-Keys as it may; Retry-After says when the oldest expires", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["admin"]))
)]
#[post(
    "/admin/clients/{clientId}/revoke",
    wrap = "Idempotent::requiring(Scope::Admin)"
)]
pub async fn revoke_client(
    auth: Authorized<scopes::Admin>,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = client_id(&path)?;
    let client = auth::revoke_client(&state.store, id, &auth.actor).await?;
    Ok(HttpResponse::Ok().json(ClientDto::from(client)))
}
