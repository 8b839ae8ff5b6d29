//! `/v1/municipalities`: the municipalities a client acts for.

use actix_web::{HttpResponse, get, patch, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use crate::http::auth::{Authorized, scopes};
use crate::http::extract::{ApiJson, present_object};
use crate::http::headers::ActorHeader;
use crate::http::pagination::{page_params, page_type, six_digits};
use crate::http::problem::{ApiError, ProblemDoc};
use crate::http::state::AppState;
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

/// A field that can be changed but not cleared: absent leaves it, `null` is refused.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// The counter contact to change; at least one field. An empty string or `null` clears one.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = ContactPatch, min_properties = 1)]
pub struct ContactPatchDto {
    /// 担当課, up to 64 characters.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 64, pattern = "^$|^[^\\u0000-\\u001F\\u007F-\\u009F\\u00AD\\u061C\\u115F\\u1160\\u180E\\u200B-\\u200F\\u2028\\u2029\\u202A-\\u202E\\u2060-\\u2064\\u2066-\\u2069\\u3164\\uFEFF\\uFFA0\\s](?:[^\\u0000-\\u001F\\u007F-\\u009F\\u00AD\\u061C\\u115F\\u1160\\u180E\\u200B-\\u200F\\u2028\\u2029\\u202A-\\u202E\\u2060-\\u2064\\u2066-\\u2069\\u3164\\uFEFF\\uFFA0]{0,62}[^\\u0000-\\u001F\\u007F-\\u009F\\u00AD\\u061C\\u115F\\u1160\\u180E\\u200B-\\u200F\\u2028\\u2029\\u202A-\\u202E\\u2060-\\u2064\\u2066-\\u2069\\u3164\\uFEFF\\uFFA0\\s])?$", example = "市民課")]
    pub department: Option<Option<String>>,
    /// Half-width digits and hyphens, 10 or 11 digits from the area code.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, pattern = "^$|^-*(?:[0-9]-*){10,11}$", example = "0157-23-7111")]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 254, pattern = "^$|^[^\\s@\\u0000-\\u001F\\u007F-\\u009F\\u00AD\\u061C\\u115F\\u1160\\u180E\\u200B-\\u200F\\u2028\\u2029\\u202A-\\u202E\\u2060-\\u2064\\u2066-\\u2069\\u3164\\uFEFF\\uFFA0]+@[^\\s@.\\u0000-\\u001F\\u007F-\\u009F\\u00AD\\u061C\\u115F\\u1160\\u180E\\u200B-\\u200F\\u2028\\u2029\\u202A-\\u202E\\u2060-\\u2064\\u2066-\\u2069\\u3164\\uFEFF\\uFFA0][^\\s@\\u0000-\\u001F\\u007F-\\u009F\\u00AD\\u061C\\u115F\\u1160\\u180E\\u200B-\\u200F\\u2028\\u2029\\u202A-\\u202E\\u2060-\\u2064\\u2066-\\u2069\\u3164\\uFEFF\\uFFA0]*\\.[^\\s@\\u0000-\\u001F\\u007F-\\u009F\\u00AD\\u061C\\u115F\\u1160\\u180E\\u200B-\\u200F\\u2028\\u2029\\u202A-\\u202E\\u2060-\\u2064\\u2066-\\u2069\\u3164\\uFEFF\\uFFA0]+$", example = "shimin@city.kitami.lg.jp")]
    pub email: Option<Option<String>>,
}

impl ContactPatchDto {
    fn is_empty(&self) -> bool {
        self.department.is_none() && self.phone.is_none() && self.email.is_none()
    }
}

/// A change in the style of JSON merge patch (RFC 7396): absent fields stay, `null` clears
/// (where a field can be cleared). At least one field.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = MunicipalityPatch, min_properties = 1)]
pub struct MunicipalityPatchDto {
    /// 団体名, 1–64 characters; cannot be cleared.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, max_length = 64, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F\\u00AD\\u061C\\u115F\\u1160\\u180E\\u200B-\\u200F\\u2028\\u2029\\u202A-\\u202E\\u2060-\\u2064\\u2066-\\u2069\\u3164\\uFEFF\\uFFA0\\s](?:[^\\u0000-\\u001F\\u007F-\\u009F\\u00AD\\u061C\\u115F\\u1160\\u180E\\u200B-\\u200F\\u2028\\u2029\\u202A-\\u202E\\u2060-\\u2064\\u2066-\\u2069\\u3164\\uFEFF\\uFFA0]{0,62}[^\\u0000-\\u001F\\u007F-\\u009F\\u00AD\\u061C\\u115F\\u1160\\u180E\\u200B-\\u200F\\u2028\\u2029\\u202A-\\u202E\\u2060-\\u2064\\u2066-\\u2069\\u3164\\uFEFF\\uFFA0\\s])?$", example = "北見市")]
    pub name: Option<String>,
    /// Full-width katakana; an empty string or `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 64, pattern = "^$|^[\\u30A1-\\u30FC](?:[\\u30A1-\\u30FC\\u3000]{0,62}[\\u30A1-\\u30FC])?$", example = "キタミシ")]
    pub name_kana: Option<Option<String>>,
    #[serde(default, deserialize_with = "present_object")]
    #[schema(value_type = ContactPatchDto)]
    pub contact: Option<ContactPatchDto>,
}

page_type!(
    MunicipalityPage,
    MunicipalityDto,
    "One page of municipalities."
);

page_params!(
    MunicipalityPageParams,
    String,
    "`nextCursor` of the previous page: the lgCode the next page starts after.",
    pattern = r"^[0-9]{6}$",
    example = "012084"
);

/// The municipalities this client may act for.
#[utoipa::path(
    tag = "municipalities",
    params(MunicipalityPageParams),
    responses(
        (status = 200, description = "One page of municipalities", body = MunicipalityPage),
        (status = 400, description = "Bad limit or cursor", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope municipalities:read missing", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["municipalities:read"]))
)]
#[get("/municipalities")]
pub async fn list_municipalities(
    auth: Authorized<scopes::MunicipalitiesRead>,
    state: web::Data<AppState>,
    query: web::Query<MunicipalityPageParams>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit()?;
    let after = six_digits(query.cursor.as_deref())?;
    let page = state
        .store
        .list_municipalities(after, limit, Some(&auth.principal.municipalities))
        .await?;
    Ok(HttpResponse::Ok().json(MunicipalityPage {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_after,
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
        (status = 403, description = "Scope missing, or the client may not act for this municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "Not registered", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["municipalities:read"]))
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
        ActorHeader,
    ),
    request_body(content = MunicipalityPatchDto, content_type = "application/json"),
    responses(
        (status = 200, description = "The changed municipality", body = MunicipalityDto),
        (status = 400, description = "Malformed JSON or lgCode", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope missing, or the client may not act for this municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "Not registered", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, all listed in errors[]", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["municipalities:write"]))
)]
#[patch("/municipalities/{lgCode}")]
pub async fn patch_municipality(
    auth: Authorized<scopes::MunicipalitiesWrite>,
    state: web::Data<AppState>,
    body: ApiJson<MunicipalityPatchDto>,
) -> Result<HttpResponse, ApiError> {
    let code = auth.municipality()?;
    let body = body.0;
    if body.contact.as_ref().is_some_and(ContactPatchDto::is_empty) {
        return Err(ApiError::validation(vec![
            crate::validation::FieldError::new(
                "/contact",
                "empty_patch",
                Text::new(
                    "contact には変更する項目を1つ以上指定してください(department, phone, email)。",
                    "contact must name at least one field to change (department, phone, email).",
                ),
            ),
        ]));
    }
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
