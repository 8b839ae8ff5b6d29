//! `/v1/municipalities/{lgCode}/residents` and `/households/{householdNumber}` (scope
//! `residents`, `Madoguchi-Actor` and a `visitId` required): the clerk looks the resident up
//! in the directory the core-system link keeps current. Every lookup is audited with the clerk
//! and the visit it serves, never with what was searched for.

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::audit::{Action, Actor, AuditEntry};
use crate::forms::normalize::date;
use crate::http::auth::{Clerk, scopes};
use crate::http::headers::StaffHeader;
use crate::http::problem::{ApiError, ProblemDoc, ProblemKind};
use crate::http::state::AppState;
use crate::i18n::Text;
use crate::residents::search;
use crate::residents::{RegistryDate, Resident};
use crate::store::ResidentQuery;
use crate::tenancy::LgCode;

/// The most residents one lookup answers.
const MAX_RESULTS: u64 = 50;

/// A date as the registry wrote it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = RegistryDate)]
pub struct RegistryDateDto {
    /// As written (和暦, 「昭和55年頃」, 「年月日不詳」 …).
    #[schema(example = "昭和55年2月17日")]
    pub text: String,
    /// ISO at the date's precision (`1980`, `1980-02`, `1980-02-17`); null when unknown.
    #[schema(example = "1980-02-17")]
    pub iso: Option<String>,
    /// It names one day exactly.
    pub exact: bool,
}

fn date_dto(d: &RegistryDate) -> RegistryDateDto {
    RegistryDateDto {
        text: d.text.clone(),
        iso: d.iso.clone(),
        exact: d.exact,
    }
}

/// The address in its DS-442 parts.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = RegistryAddress)]
pub struct AddressDto {
    pub postal_code: Option<String>,
    pub prefecture: String,
    pub city: String,
    /// 町字.
    pub street_address: String,
    /// 番地以下.
    pub city_block: Option<String>,
    /// 方書.
    pub building_name_etc: Option<String>,
}

/// A resident as the registry holds them.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Resident)]
pub struct ResidentDto {
    /// 宛名番号.
    #[schema(example = "10000000006")]
    pub addressee_number: String,
    /// 世帯番号.
    pub household_number: String,
    /// 氏名 byte for byte (IVS and 外字 included).
    pub name: String,
    pub name_kana: String,
    /// 通称.
    pub alias_name: Option<String>,
    pub date_of_birth: RegistryDateDto,
    /// `1` 男, `2` 女, `9` 不明.
    pub sex: String,
    /// 世帯主との続柄.
    pub relationship: String,
    pub address: AddressDto,
    pub resident_since: Option<RegistryDateDto>,
    pub last_change_reason: Option<String>,
    pub last_change_date: Option<RegistryDateDto>,
    /// `1` 日本人, `2` 外国人住民.
    pub resident_kind: String,
    pub nationality: Option<String>,
    pub residence_status: Option<String>,
    pub residence_period_end: Option<RegistryDateDto>,
}

pub(crate) fn resident_dto(r: Resident) -> ResidentDto {
    ResidentDto {
        addressee_number: r.addressee_number,
        household_number: r.household_number,
        name: r.name,
        name_kana: r.name_kana,
        alias_name: r.alias_name,
        date_of_birth: date_dto(&r.date_of_birth),
        sex: r.sex,
        relationship: r.relationship,
        address: AddressDto {
            postal_code: r.postal_code,
            prefecture: r.prefecture,
            city: r.city,
            street_address: r.street_address,
            city_block: r.city_block,
            building_name_etc: r.building_name_etc,
        },
        resident_since: r.resident_since.as_ref().map(date_dto),
        last_change_reason: r.last_change_reason,
        last_change_date: r.last_change_date.as_ref().map(date_dto),
        resident_kind: r.resident_kind,
        nationality: r.nationality,
        residence_status: r.residence_status,
        residence_period_end: r.residence_period_end.as_ref().map(date_dto),
    }
}

/// Residents found.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ResidentList)]
pub struct ResidentListDto {
    pub items: Vec<ResidentDto>,
    /// More residents matched than are listed: narrow the search.
    pub truncated: bool,
}

pub(super) fn resident_not_found(number: &str) -> ApiError {
    ApiError::not_found(Text::new(
        format!("宛名番号 {number} の住民は住民記録にありません。"),
        format!("There is no resident {number} in the directory."),
    ))
}

/// The audit entry of a lookup: who, for which visit, how many found; never the terms.
pub(super) async fn audit_lookup(
    state: &AppState,
    actor: &Actor,
    code: LgCode,
    visit: Uuid,
    found: usize,
) -> Result<(), ApiError> {
    state
        .store
        .record_audit(AuditEntry::success(
            actor,
            Action::ResidentLookup,
            Some(code),
            format!("visit:{visit} found:{found}"),
        ))
        .await?;
    Ok(())
}

/// The visit must be this municipality's, this client's, and still open: a lookup in the
/// directory is for a resident at the counter now, not for a visit that has ended.
async fn require_visit(
    state: &AppState,
    code: &LgCode,
    visit: Uuid,
    actor: &Actor,
) -> Result<(), ApiError> {
    match state.store.read_visit(code, visit, actor).await? {
        None => Err(ApiError::not_found(Text::new(
            format!("来庁 {visit} はこの団体にありません。"),
            format!("There is no visit {visit} in this municipality."),
        ))),
        Some(v) if v.status == crate::visits::Status::Closed => Err(ApiError::new(
            ProblemKind::VisitClosed,
            Text::new(
                format!(
                    "来庁 {visit} は終了しています。住民記録の照会は、開いている来庁でだけできます。"
                ),
                format!("Visit {visit} is closed; the directory is searched for open visits only."),
            ),
        )),
        Some(_) => Ok(()),
    }
}

fn invalid(ja: String, en: String) -> ApiError {
    ApiError::new(ProblemKind::InvalidRequest, Text::new(ja, en))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SearchParams {
    /// The visit the lookup serves (required: it is audited with it).
    #[param(example = "01938a6e-7c1f-7cc3-9a5e-3b2f0c4d5e6f")]
    pub visit_id: Uuid,
    /// The kana's beginning, folded as the registry searches (ヂ/ジ, ヅ/ズ, small kana, long
    /// vowels, spaces; hiragana and half-width kana too).
    #[param(example = "やまだはなこ")]
    pub kana: Option<String>,
    /// Part of the name (spaces ignored; the characters as the registry holds them).
    pub name: Option<String>,
    /// The date of birth: ISO, 和暦 or the registry's approximate forms.
    #[param(example = "昭和55年2月17日")]
    pub date_of_birth: Option<String>,
    /// Part of the address (spaces ignored, digits and hyphens folded).
    pub address: Option<String>,
}

/// Look residents up by kana, name, date of birth and address; every criterion given must
/// match. At most 50 are answered, in kana order.
#[utoipa::path(
    tag = "residents",
    params(
        ("lgCode" = String, Path, description = "全国地方公共団体コード", example = "012084"),
        SearchParams,
        StaffHeader,
    ),
    responses(
        (status = 200, description = "The residents found", body = ResidentListDto),
        (status = 400, description = "No criterion, an unreadable one, a malformed lgCode, visitId or Madoguchi-Actor", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope residents missing, or another municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such visit in this municipality", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["residents"]))
)]
#[get("/municipalities/{lgCode}/residents")]
pub async fn search_residents(
    auth: Clerk<scopes::Residents>,
    state: web::Data<AppState>,
    query: web::Query<SearchParams>,
) -> Result<HttpResponse, ApiError> {
    let code = auth.municipality()?;
    let (found, truncated) = look_up(&state, code, &auth.actor, query.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(ResidentListDto {
            items: found.into_iter().map(resident_dto).collect(),
            truncated,
        }))
}

/// The lookup both the API and the console make: the criteria read (kana folded, a 和暦 or
/// 西暦 date of birth), the visit checked, at most [`MAX_RESULTS`] found (and whether more
/// matched), audited for the visit.
pub(crate) async fn look_up(
    state: &AppState,
    code: LgCode,
    actor: &Actor,
    q: SearchParams,
) -> Result<(Vec<Resident>, bool), ApiError> {
    let kana = match q.kana.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(k) => Some(
            search::kana_key(k)
                .filter(|k| !k.is_empty())
                .ok_or_else(|| {
                    invalid(
                        "kana にはカタカナかひらがなを入れてください。".to_owned(),
                        "kana must be katakana or hiragana.".to_owned(),
                    )
                })?,
        ),
        None => None,
    };
    let date_of_birth = match q
        .date_of_birth
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(d) => {
            let read = date::read(&state.forms.eras, d)
                .and_then(|r| date::check(&state.forms.eras, d, &r).map(|_| r))
                .map_err(|issue| {
                    invalid(issue.message.ja.to_string(), issue.message.en.to_string())
                })?;
            Some(read.iso().ok_or_else(|| {
                invalid(
                    "生年月日が「不詳」では検索できません。".to_owned(),
                    "an unknown date cannot be searched for.".to_owned(),
                )
            })?)
        }
        None => None,
    };
    let query = ResidentQuery {
        kana,
        name: q
            .name
            .as_deref()
            .map(search::name_key)
            .filter(|s| !s.is_empty()),
        date_of_birth,
        address: q
            .address
            .as_deref()
            .map(|a| search::address_key(&[a]))
            .filter(|s| !s.is_empty()),
    };
    if query.kana.is_none()
        && query.name.is_none()
        && query.date_of_birth.is_none()
        && query.address.is_none()
    {
        return Err(invalid(
            "kana・name・dateOfBirth・address のどれかで検索してください。".to_owned(),
            "Search by at least one of kana, name, dateOfBirth, address.".to_owned(),
        ));
    }
    require_visit(state, &code, q.visit_id, actor).await?;
    let mut found = state
        .store
        .search_residents(&code.to_string(), &query, MAX_RESULTS + 1)
        .await?;
    let truncated = found.len() as u64 > MAX_RESULTS;
    found.truncate(MAX_RESULTS as usize);
    audit_lookup(state, actor, code, q.visit_id, found.len()).await?;
    Ok((found, truncated))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VisitParam {
    /// The visit the lookup serves (required: it is audited with it).
    #[param(example = "01938a6e-7c1f-7cc3-9a5e-3b2f0c4d5e6f")]
    pub visit_id: Uuid,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct HouseholdPath {
    /// 全国地方公共団体コード.
    #[serde(rename = "lgCode")]
    #[allow(dead_code)] // Authorized reads and checks it from the path.
    #[param(rename = "lgCode", example = "012084")]
    pub lg_code: String,
    /// 世帯番号.
    #[serde(rename = "householdNumber")]
    #[param(rename = "householdNumber", example = "10000000")]
    pub household_number: String,
}

/// The members of a household, householder first.
#[utoipa::path(
    tag = "residents",
    params(
        HouseholdPath,
        VisitParam,
        StaffHeader,
    ),
    responses(
        (status = 200, description = "The household's members", body = ResidentListDto),
        (status = 400, description = "Malformed lgCode, visitId or Madoguchi-Actor", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope residents missing, or another municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such visit, or no such household in the directory", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["residents"]))
)]
#[get("/municipalities/{lgCode}/households/{householdNumber}")]
pub async fn get_household(
    auth: Clerk<scopes::Residents>,
    state: web::Data<AppState>,
    path: web::Path<HouseholdPath>,
    query: web::Query<VisitParam>,
) -> Result<HttpResponse, ApiError> {
    let code = auth.municipality()?;
    require_visit(&state, &code, query.visit_id, &auth.actor).await?;
    let mut members = state
        .store
        .household(&code.to_string(), &path.household_number)
        .await?;
    if members.is_empty() {
        return Err(ApiError::not_found(Text::new(
            format!(
                "世帯番号 {} の世帯は住民記録にありません。",
                path.household_number
            ),
            format!(
                "There is no household {} in the directory.",
                path.household_number
            ),
        )));
    }
    members.sort_by_key(|m| m.relationship != "世帯主");
    audit_lookup(&state, &auth.actor, code, query.visit_id, members.len()).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(ResidentListDto {
            items: members.into_iter().map(resident_dto).collect(),
            truncated: false,
        }))
}
