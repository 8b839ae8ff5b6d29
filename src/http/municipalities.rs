//! `/v1/municipalities`: the municipalities a client acts for.

use actix_web::{HttpResponse, get, patch, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use super::auth::{Authorized, scopes};
use super::extract::ApiJson;
use super::pagination::{PageParams, encode, page_type};
use super::problem::{ApiError, ProblemDoc};
use super::state::AppState;
use crate::i18n::Text;
use crate::tenancy::{self, Municipality, MunicipalityPatch};

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Prefecture)]
pub struct PrefectureDto {
    /// 都道府県コード (JIS X 0401).
    #[schema(example = "01")]
    pub code: String,
    #[schema(example = "北海道")]
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Contact)]
pub struct ContactDto {
    /// 担当課 (the counter's department).
    #[schema(example = "市民課")]
    pub department: Option<String>,
    #[schema(example = "0157-23-7111")]
    pub phone: Option<String>,
    pub email: Option<String>,
}

/// A municipality (tenant).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Municipality)]
pub struct MunicipalityDto {
    /// 全国地方公共団体コード (6 digits with check digit).
    #[schema(example = "012084")]
    pub lg_code: String,
    /// 団体名.
    #[schema(example = "北見市")]
    pub name: String,
    /// 団体名カナ (full-width katakana).
    #[schema(example = "キタミシ")]
    pub name_kana: Option<String>,
    pub prefecture: Option<PrefectureDto>,
    pub contact: ContactDto,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&Municipality> for MunicipalityDto {
    fn from(m: &Municipality) -> Self {
        Self {
            prefecture: tenancy::prefecture(&m.lg_code).map(|p| PrefectureDto {
                code: p.code.clone(),
                name: p.name.clone(),
            }),
            lg_code: m.lg_code.to_string(),
            name: m.name.clone(),
            name_kana: m.name_kana.clone(),
            contact: ContactDto {
                department: m.contact.department.clone(),
                phone: m.contact.phone.clone(),
                email: m.contact.email.clone(),
            },
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

impl From<Municipality> for MunicipalityDto {
    fn from(m: Municipality) -> Self {
        Self::from(&m)
    }
}

/// `Some(None)` for an explicit `null`, `None` for an absent field (JSON merge patch).
fn nullable<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = ContactPatch)]
pub struct ContactPatchDto {
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub department: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
}

/// A change in the style of JSON merge patch (RFC 7396): absent fields stay, `null` clears.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = MunicipalityPatch)]
pub struct MunicipalityPatchDto {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub name_kana: Option<Option<String>>,
    pub contact: Option<ContactPatchDto>,
}

page_type!(
    MunicipalityPage,
    MunicipalityDto,
    "One page of municipalities."
);

const CURSOR_KIND: &str = "municipalities";

/// The municipalities this client may act for.
#[utoipa::path(
    tag = "municipalities",
    params(PageParams),
    responses(
        (status = 200, description = "One page of municipalities", body = MunicipalityPage),
        (status = 400, description = "Bad limit or cursor", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 401, description = "No or invalid token", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope municipalities:read missing", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["municipalities:read"]))
)]
#[get("/municipalities")]
pub async fn list_municipalities(
    auth: Authorized<scopes::MunicipalitiesRead>,
    state: web::Data<AppState>,
    query: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit()?;
    let after = query.position(CURSOR_KIND)?;
    let page = state
        .store
        .list_municipalities(
            after.as_deref(),
            limit,
            Some(&auth.principal.municipalities),
        )
        .await?;
    Ok(HttpResponse::Ok().json(MunicipalityPage {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_after.map(|p| encode(CURSOR_KIND, &p)),
    }))
}

pub fn not_registered(code: &tenancy::LgCode) -> ApiError {
    ApiError::not_found(Text::new(
        format!("団体 {code} は登録されていません。"),
        format!("Municipality {code} is not registered."),
    ))
}

/// One municipality.
#[utoipa::path(
    tag = "municipalities",
    params(("lgCode" = String, Path, description = "全国地方公共団体コード", example = "012084")),
    responses(
        (status = 200, description = "The municipality", body = MunicipalityDto),
        (status = 400, description = "Malformed lgCode (check digit)", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 401, description = "No or invalid token", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope missing, or the client may not act for this municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "Not registered", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["municipalities:read"]))
)]
#[get("/municipalities/{lgCode}")]
pub async fn get_municipality(
    auth: Authorized<scopes::MunicipalitiesRead>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let code = auth.municipality()?;
    let municipality = state
        .municipalities
        .municipality(&code)
        .await?
        .ok_or_else(|| not_registered(&code))?;
    Ok(HttpResponse::Ok().json(MunicipalityDto::from(municipality.as_ref())))
}

/// Change a municipality's name or counter contact.
#[utoipa::path(
    tag = "municipalities",
    params(
        ("lgCode" = String, Path, description = "全国地方公共団体コード", example = "012084"),
        ("Madoguchi-Actor" = Option<String>, Header, description = "Staff id of the clerk acting, recorded in the audit log"),
    ),
    request_body(content = MunicipalityPatchDto, content_type = "application/json"),
    responses(
        (status = 200, description = "The changed municipality", body = MunicipalityDto),
        (status = 400, description = "Malformed JSON or lgCode", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 401, description = "No or invalid token", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope missing, or the client may not act for this municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "Not registered", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, all listed in errors[]", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["municipalities:write"]))
)]
#[patch("/municipalities/{lgCode}")]
pub async fn patch_municipality(
    auth: Authorized<scopes::MunicipalitiesWrite>,
    state: web::Data<AppState>,
    body: ApiJson<MunicipalityPatchDto>,
) -> Result<HttpResponse, ApiError> {
    let code = auth.municipality()?;
    let body = body.0;
    let contact = body.contact.unwrap_or_default();
    let patch = MunicipalityPatch {
        name: body.name,
        name_kana: body.name_kana,
        department: contact.department,
        phone: contact.phone,
        email: contact.email,
    };
    let municipality = tenancy::update_municipality(&state.store, code, patch, &auth.actor).await;
    // Whatever happened, this replica reads the record afresh next time.
    state.municipalities.forget(&code).await;
    let municipality = municipality?;
    Ok(HttpResponse::Ok().json(MunicipalityDto::from(municipality)))
}
