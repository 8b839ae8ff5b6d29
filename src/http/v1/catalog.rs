//! `/v1/municipalities/{lgCode}/catalog`: the procedure catalogue a municipality's visits are
//! decided with, and its overrides (turn a procedure off; change documents, fee, department;
//! add local procedures). Each change is a new version; a visit keeps the version it was
//! opened with.

use actix_web::{HttpResponse, get, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::visits::catalog_problem;
use crate::catalog::overrides::Overrides;
use crate::http::auth::{Authorized, scopes};
use crate::http::extract::ApiJson;
use crate::http::headers::ActorHeader;
use crate::http::problem::{ApiError, ProblemDoc};
use crate::http::state::AppState;
use crate::i18n::{Lang, Text};

/// A text in Japanese and English.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = BilingualText)]
pub struct TextDto {
    #[schema(min_length = 1)]
    pub ja: String,
    #[schema(min_length = 1)]
    pub en: String,
}

impl From<Text> for TextDto {
    fn from(t: Text) -> Self {
        Self {
            ja: t.ja.into_owned(),
            en: t.en.into_owned(),
        }
    }
}

/// A fee in yen.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = FeeInput)]
pub struct FeeInputDto {
    #[schema(minimum = 1)]
    pub yen: u32,
    pub per: Option<TextDto>,
}

/// What a municipality changes in one built-in procedure; absent fields stay.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = ProcedureChange)]
pub struct ProcedureChangeDto {
    /// false turns the procedure off.
    pub enabled: Option<bool>,
    pub documents: Option<Vec<TextDto>>,
    /// null for no fee.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<FeeInputDto>, nullable)]
    pub fee: Option<Option<FeeInputDto>>,
    #[schema(min_length = 1, max_length = 32)]
    pub department: Option<String>,
}

/// A municipality's changes to the catalogue (each version replaces the previous one).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = CatalogOverridesInput, example = json!({
    "procedures": {"mopedRegistration": {"enabled": false}, "sealRegistrationMoveIn": {"fee": {"yen": 200}, "department": "戸籍住民課"}},
    "local": []
}))]
pub struct OverridesInputDto {
    /// Changes by built-in procedure id.
    #[serde(default)]
    pub procedures: std::collections::BTreeMap<String, ProcedureChangeDto>,
    /// The municipality's own procedures, written as the files of `catalog/procedures/`
    /// (see `schemas/catalog/procedure.schema.json`); ids start with `local.`.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub local: Vec<Value>,
    /// Days the offices are closed besides weekends, national holidays and the year end
    /// (29 December to 3 January); a deadline ending on one moves to the next open day.
    #[serde(default)]
    #[schema(example = json!(["2027-02-01"]))]
    pub closed_days: Vec<chrono::NaiveDate>,
    /// `MM-DD` days closed every year, replacing the year end (12-29 … 01-03) when the
    /// municipality's ordinance says otherwise.
    #[schema(example = json!(["12-29", "12-30", "12-31", "01-01", "01-02", "01-03"]))]
    pub closed_every_year: Option<Vec<String>>,
    /// Values of the municipal parameters (listed with their bounds by
    /// `GET …/catalog`), by name: a value outside its bounds or an unknown name is refused.
    #[serde(default)]
    #[schema(example = json!({"childMedicalSubsidy.lastSchoolYearAge": 14}))]
    pub parameters: std::collections::BTreeMap<String, i64>,
}

/// `Some(None)` for an explicit `null`, `None` when absent.
fn nullable<'de, D: serde::Deserializer<'de>, T: serde::Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

fn text(t: TextDto) -> crate::catalog::Bilingual {
    crate::catalog::Bilingual { ja: t.ja, en: t.en }
}

impl From<OverridesInputDto> for Overrides {
    fn from(dto: OverridesInputDto) -> Self {
        Overrides {
            procedures: dto
                .procedures
                .into_iter()
                .map(|(id, c)| {
                    (
                        id,
                        crate::catalog::overrides::ProcedureChange {
                            enabled: c.enabled,
                            documents: c.documents.map(|d| d.into_iter().map(text).collect()),
                            fee: c.fee.map(|f| {
                                f.map(|f| crate::catalog::Fee {
                                    yen: f.yen,
                                    per: f.per.map(text),
                                })
                            }),
                            department: c.department,
                        },
                    )
                })
                .collect(),
            local: dto.local,
            closed_days: dto.closed_days,
            closed_every_year: dto.closed_every_year,
            parameters: dto
                .parameters
                .into_iter()
                .map(|(k, v)| (k, Value::from(v)))
                .collect(),
        }
    }
}

/// A municipality's overrides and the catalogue version they make.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CatalogOverrides)]
pub struct OverridesDto {
    pub lg_code: String,
    /// 0 when the municipality has never changed the catalogue.
    pub version: i64,
    /// What visits opened now record as their `catalogVersion`.
    pub catalog_version: String,
    pub created_at: Option<DateTime<Utc>>,
    /// `procedures` (changes by built-in id: enabled, documents, fee, department) and
    /// `local` (the municipality's own procedures, ids starting with `local.`).
    #[schema(value_type = Object)]
    pub overrides: Value,
}

/// One procedure of the effective catalogue.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CatalogProcedure)]
pub struct ProcedureDto {
    pub id: String,
    pub name: String,
    pub department: String,
    pub area: String,
    pub life_events: Vec<String>,
    /// `member` when decided for each household member.
    pub applies_to: String,
    pub enabled: bool,
    pub local: bool,
    /// `formId@version`, or null.
    pub form: Option<String>,
    pub fee_yen: Option<u32>,
    pub documents: Vec<String>,
    pub legal_basis: String,
}

/// A municipal parameter: a value the municipality sets by its own ordinance or rules.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CatalogParameter)]
pub struct ParameterDto {
    /// Set it in the overrides' `parameters` by this name.
    pub name: String,
    pub label: String,
    pub description: String,
    pub unit: String,
    /// The value in force for this municipality.
    pub value: i64,
    pub default: i64,
    pub minimum: i64,
    pub maximum: i64,
    /// The procedures whose rules, deadlines or texts use it.
    pub procedures: Vec<String>,
}

/// The catalogue visits opened now are decided with.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Catalog)]
pub struct CatalogDto {
    pub catalog_version: String,
    pub procedures: Vec<ProcedureDto>,
    pub parameters: Vec<ParameterDto>,
}

async fn current_dto(
    state: &AppState,
    code: &crate::tenancy::LgCode,
) -> Result<OverridesDto, ApiError> {
    let stored = state.store.catalog_overrides(code, None).await?;
    let (version, overrides, created_at) = match stored {
        None => (
            0,
            serde_json::to_value(Overrides::default()).unwrap_or(Value::Null),
            None,
        ),
        Some(s) => (
            s.version,
            serde_json::from_str(&s.document).map_err(ApiError::internal)?,
            Some(s.created_at),
        ),
    };
    Ok(OverridesDto {
        lg_code: code.to_string(),
        version,
        catalog_version: state.catalogs.label(version),
        created_at,
        overrides,
    })
}

/// The municipality's current overrides.
#[utoipa::path(
    tag = "catalog",
    params(("lgCode" = String, Path, description = "全国地方公共団体コード", example = "012084")),
    responses(
        (status = 200, description = "The current overrides (version 0: none)", body = OverridesDto),
        (status = 400, description = "Malformed lgCode", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope admin missing, or the client may not act for this municipality", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["admin"]))
)]
#[get("/municipalities/{lgCode}/catalog/overrides")]
pub async fn get_overrides(
    auth: Authorized<scopes::Admin>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let code = auth.municipality()?;
    Ok(HttpResponse::Ok().json(current_dto(&state, &code).await?))
}

/// Replace the municipality's overrides: a new catalogue version for visits opened from now
/// on (open visits keep theirs). The same overrides again change nothing.
#[utoipa::path(
    tag = "catalog",
    params(
        ("lgCode" = String, Path, description = "全国地方公共団体コード", example = "012084"),
        ActorHeader,
    ),
    request_body(content = OverridesInputDto, content_type = "application/json"),
    responses(
        (status = 200, description = "The overrides now in force", body = OverridesDto),
        (status = 400, description = "Malformed JSON or lgCode", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope admin missing, or the client may not act for this municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "Municipality not registered", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "Changed by someone else at the same moment; send again", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "Unknown procedures, bad values or local procedures that do not fit the catalogue, all listed in errors[]", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["admin"]))
)]
#[put("/municipalities/{lgCode}/catalog/overrides")]
pub async fn put_overrides(
    auth: Authorized<scopes::Admin>,
    state: web::Data<AppState>,
    body: ApiJson<OverridesInputDto>,
) -> Result<HttpResponse, ApiError> {
    let code = auth.municipality()?;
    save_overrides(&state, &code, Overrides::from(body.0), &auth.actor).await?;
    Ok(HttpResponse::Ok().json(current_dto(&state, &code).await?))
}

/// The municipality's overrides in force and their version (0 and none: never changed).
pub(crate) async fn current_overrides(
    state: &AppState,
    code: &crate::tenancy::LgCode,
) -> Result<(i64, Overrides, Option<DateTime<Utc>>), ApiError> {
    match state.store.catalog_overrides(code, None).await? {
        None => Ok((0, Overrides::default(), None)),
        Some(s) => Ok((
            s.version,
            serde_json::from_str(&s.document).map_err(ApiError::internal)?,
            Some(s.created_at),
        )),
    }
}

/// Saves `overrides` as the municipality's next catalogue version for `actor` (audited),
/// unless they are the ones in force; answers the version in force afterwards.
pub(crate) async fn save_overrides(
    state: &AppState,
    code: &crate::tenancy::LgCode,
    overrides: Overrides,
    actor: &crate::audit::Actor,
) -> Result<i64, ApiError> {
    state
        .municipalities
        .municipality(code)
        .await?
        .ok_or_else(|| super::municipalities::not_registered(code))?;
    let current = state.store.catalog_overrides(code, None).await?;
    let unchanged = current
        .as_ref()
        .and_then(|c| serde_json::from_str::<Overrides>(&c.document).ok())
        .is_some_and(|c| c == overrides)
        || (current.is_none() && overrides == Overrides::default());
    if unchanged {
        return Ok(current.map_or(0, |c| c.version));
    }
    let (version, _) = state
        .catalogs
        .save(code, &overrides, actor)
        .await
        .map_err(|e| match e {
            crate::catalog::versions::CatalogError::Store(crate::store::StoreError::Conflict) => {
                ApiError::new(
                    crate::http::problem::ProblemKind::Conflict,
                    Text::new(
                        "同時に別の変更が保存されました。読み直してから、もう一度送ってください。",
                        "Another change was saved at the same moment. Read again and resend.",
                    ),
                )
            }
            e => catalog_problem(e),
        })?;
    Ok(version)
}

/// The procedure catalogue visits of this municipality opened now are decided with.
#[utoipa::path(
    tag = "catalog",
    params(("lgCode" = String, Path, description = "全国地方公共団体コード", example = "012084")),
    responses(
        (status = 200, description = "The effective catalogue", body = CatalogDto),
        (status = 400, description = "Malformed lgCode", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope visits missing, or the client may not act for this municipality", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["visits"]))
)]
#[get("/municipalities/{lgCode}/catalog")]
pub async fn get_catalog(
    lang: Lang,
    auth: Authorized<scopes::Visits>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let code = auth.municipality()?;
    let (version, catalog) = state
        .catalogs
        .current(&code)
        .await
        .map_err(catalog_problem)?;
    Ok(HttpResponse::Ok().json(catalog_dto(&state, version, &catalog, lang)))
}

/// The catalogue `version` as the API shows it.
pub(crate) fn catalog_dto(
    state: &AppState,
    version: i64,
    catalog: &crate::catalog::Catalog,
    lang: Lang,
) -> CatalogDto {
    CatalogDto {
        catalog_version: state.catalogs.label(version),
        procedures: catalog
            .procedures
            .iter()
            .map(|p| ProcedureDto {
                id: p.id.clone(),
                name: p.name.get(lang).to_owned(),
                department: p.department.clone(),
                area: p.area.clone(),
                life_events: p.life_events.clone(),
                applies_to: match p.applies_to {
                    crate::catalog::AppliesTo::Household => "household".into(),
                    crate::catalog::AppliesTo::Member => "member".into(),
                },
                enabled: p.enabled,
                local: p.local,
                form: p.form.as_ref().map(|(id, v)| format!("{id}@{v}")),
                fee_yen: p.fee.as_ref().map(|f| f.yen),
                documents: p.documents.iter().map(|d| d.get(lang).to_owned()).collect(),
                legal_basis: p.legal_basis.get(lang).to_owned(),
            })
            .collect(),
        parameters: catalog
            .parameters
            .iter()
            .map(|(name, def, value)| ParameterDto {
                name: name.to_owned(),
                label: def.label.get(lang).to_owned(),
                description: def.description.get(lang).to_owned(),
                unit: def.unit.get(lang).to_owned(),
                value,
                default: def.default,
                minimum: def.minimum,
                maximum: def.maximum,
                procedures: catalog
                    .procedures
                    .iter()
                    .filter(|p| p.parameters.contains(name))
                    .map(|p| p.id.clone())
                    .collect(),
            })
            .collect(),
    }
}
