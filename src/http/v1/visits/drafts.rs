//! The drafts of a visit: each needed procedure's form prefilled from the facts (every field
//! with its source) and the clerk's edits, normalized and validated; and the clerk's edit of
//! one draft.

use actix_web::{HttpResponse, get, patch, web};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::super::forms::{form_errors, issues};
use super::{VisitPath, catalog_of, changed, load, read_visit, store_conflict};
use crate::audit::{Action, Actor};
use crate::http::auth::{Clerk, scopes};
use crate::http::extract::ApiJson;
use crate::http::headers::{IfMatchHeader, StaffHeader};
use crate::http::preconditions::{self, IfMatch};
use crate::http::problem::{ApiError, ProblemDoc};
use crate::http::state::AppState;
use crate::i18n::{Lang, Text};
use crate::tenancy::LgCode;
use crate::visits::Visit;
use crate::visits::edit::{self, DraftEdit};
use crate::visits::evaluate::{EvaluatedDraft, evaluate, evaluate_one};
use crate::visits::{Step, determine, limits};

/// Where one field of a draft came from.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DraftField)]
pub struct DraftFieldDto {
    pub pointer: String,
    /// clerk, answer, registry, card, derived (from the visit's facts), today, constant (the
    /// procedure's), edit (typed into the draft).
    pub source: String,
    pub fact: Option<String>,
    pub member: Option<String>,
}

/// A form prefilled for one procedure, normalized and validated.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Draft)]
pub struct DraftDto {
    /// `procedureId@event` or `procedureId@event@member`.
    #[schema(example = "nhiJoinMoveIn@0")]
    pub key: String,
    /// `formId@version`.
    pub form: String,
    pub form_title: String,
    pub procedure_id: String,
    pub procedure_name: String,
    pub event: usize,
    pub member: Option<String>,
    pub members: Vec<String>,
    /// The document, normalized.
    #[schema(value_type = Object)]
    pub document: Value,
    pub fields: Vec<DraftFieldDto>,
    pub valid: bool,
    /// What the clerk still has to complete or correct.
    pub errors: Vec<crate::http::v1::forms::FormErrorDto>,
    pub warnings: Vec<crate::http::v1::forms::IssueDto>,
    /// Fields filled from the facts and the procedure: the resident does not write them by hand.
    pub prefilled_fields: usize,
    /// Fields the clerk typed into the draft.
    pub typed_fields: usize,
}

/// Every draft of the visit.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DraftList)]
pub struct DraftsDto {
    pub visit_id: Uuid,
    pub drafts: Vec<DraftDto>,
    pub prefilled_fields: usize,
    pub typed_fields: usize,
}

fn edit_set_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .max_properties(Some(limits::MAX_EDITS_PER_REQUEST))
        .additional_properties(Some(
            utoipa::openapi::schema::AdditionalProperties::FreeForm(true),
        ))
        .build()
}

/// The clerk's changes to a draft: values to set and fields to remove, by JSON pointer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = DraftEdit, example = json!({"set": {"/qualificationConfirmationDelivery": "窓口"}}))]
pub struct DraftEditDto {
    /// Fields to set, by JSON pointer; each value at most 2,048 bytes of JSON, at most 200
    /// fields in `set` and `remove` together, and at most 400 fields edited in one draft.
    #[serde(default)]
    #[schema(schema_with = edit_set_schema)]
    pub set: Map<String, Value>,
    #[serde(default)]
    #[schema(max_items = 200)]
    pub remove: Vec<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct DraftPath {
    /// 全国地方公共団体コード.
    #[serde(rename = "lgCode")]
    #[param(rename = "lgCode", example = "012084")]
    #[allow(dead_code)] // Authorized reads and checks it from the path.
    pub lg_code: String,
    #[serde(rename = "visitId")]
    #[param(rename = "visitId")]
    pub visit_id: Uuid,
    /// The draft's key.
    #[serde(rename = "draftKey")]
    #[param(rename = "draftKey", example = "nhiJoinMoveIn@0")]
    pub draft_key: String,
}

/// A draft as the counter shows it.
pub(crate) fn draft_dto(ev: EvaluatedDraft<'_>, lang: Lang) -> DraftDto {
    let errors = form_errors(&ev.errors, lang);
    DraftDto {
        form: ev.form_ref(),
        form_title: ev.form.title.clone(),
        procedure_id: ev.spec.procedure.id.clone(),
        procedure_name: ev.spec.procedure.name.get(lang).to_owned(),
        event: ev.spec.event,
        member: ev.spec.member,
        members: ev.spec.members,
        key: ev.spec.key,
        valid: errors.is_empty(),
        document: ev.document,
        fields: ev
            .fields
            .into_iter()
            .map(|f| DraftFieldDto {
                pointer: f.pointer,
                source: f.source.to_owned(),
                fact: f.fact,
                member: f.member,
            })
            .collect(),
        errors,
        warnings: issues(ev.form, &ev.warnings, lang),
        prefilled_fields: ev.prefilled,
        typed_fields: ev.typed,
    }
}

/// The drafts: each needed procedure filed on a form, prefilled from the facts (every field
/// with its source), with the clerk's edits, normalized and validated.
#[utoipa::path(
    tag = "visits",
    params(VisitPath, StaffHeader),
    responses(
        (status = 200, description = "The drafts", body = DraftsDto, headers(("ETag" = String, description = "The visit's revision (\"v12\"), for If-Match on the next change"))),
        (status = 400, description = "Malformed lgCode, visit id or Madoguchi-Actor", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope visits missing, or the client may not act for this municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such visit in this municipality", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["visits"]))
)]
#[get("/municipalities/{lgCode}/visits/{visitId}/drafts")]
pub async fn get_drafts(
    lang: Lang,
    clerk: Clerk<scopes::Visits>,
    state: web::Data<AppState>,
    path: web::Path<VisitPath>,
) -> Result<HttpResponse, ApiError> {
    let visit = load(&state, &clerk, path.visit_id).await?;
    let drafts = drafts_of(&state, &visit, lang).await?;
    Ok(HttpResponse::Ok()
        .insert_header(preconditions::etag(visit.revision))
        .json(drafts))
}

/// Every draft of `visit`, evaluated today: what the API's `GET …/drafts` answers and the
/// console's 申請書 page shows.
pub(crate) async fn drafts_of(
    state: &AppState,
    visit: &Visit,
    lang: Lang,
) -> Result<DraftsDto, ApiError> {
    let catalog = catalog_of(state, visit).await?;
    let d = determine(&catalog, &visit.household);
    let today = crate::visits::model::japan_day(crate::clock::now());
    let drafts: Vec<DraftDto> = evaluate(&state.forms, &catalog, &visit.household, &d, today)
        .into_iter()
        .map(|ev| draft_dto(ev, lang))
        .collect();
    Ok(DraftsDto {
        visit_id: visit.id,
        prefilled_fields: drafts.iter().map(|d| d.prefilled_fields).sum(),
        typed_fields: drafts.iter().map(|d| d.typed_fields).sum(),
        drafts,
    })
}

/// Change fields of a draft (the clerk completes what no system knows); the draft comes back
/// normalized and validated. At most 200 fields per edit, 400 edited fields per draft, 2,048
/// bytes per value and a 64 KiB body.
#[utoipa::path(
    tag = "visits",
    params(DraftPath, StaffHeader, IfMatchHeader),
    request_body(content = DraftEditDto, content_type = "application/json"),
    responses(
        (status = 200, description = "The draft with the change", body = DraftDto, headers(("ETag" = String, description = "The visit's revision (\"v12\"), for If-Match on the next change"))),
        (status = 400, description = "Malformed JSON, lgCode, visit id or Madoguchi-Actor", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope visits missing, or the client may not act for this municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such visit or draft", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "The visit is closed or was changed meanwhile", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 412, description = "If-Match names a revision of the visit that is no longer the current one: nothing changed; the problem's etag (and ETag) is the current one", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "A pointer that is not a field of the form, a value of another kind than the form's (a number for text, a code not in its list), or no change", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["visits"]))
)]
#[patch("/municipalities/{lgCode}/visits/{visitId}/drafts/{draftKey}")]
pub async fn patch_draft(
    lang: Lang,
    clerk: Clerk<scopes::Visits>,
    state: web::Data<AppState>,
    path: web::Path<DraftPath>,
    body: ApiJson<DraftEditDto, { limits::VISIT_BODY_BYTES }>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let code = clerk.municipality()?;
    let (visit, draft) = edit_draft(
        &state,
        code,
        &clerk.actor,
        path.visit_id,
        &path.draft_key,
        body.0,
        if_match.revisions(),
        lang,
    )
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(preconditions::etag(visit.revision))
        .json(draft))
}

/// The clerk's change of one draft, checked against the form and recorded: what the API's
/// `PATCH …/drafts/{key}` and the console's inline edit do. Answers the visit and the draft
/// re-evaluated.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn edit_draft(
    state: &AppState,
    code: LgCode,
    actor: &Actor,
    id: Uuid,
    draft_key: &str,
    body: DraftEditDto,
    expected: Option<&[i64]>,
    lang: Lang,
) -> Result<(Visit, DraftDto), ApiError> {
    let visit = read_visit(state, code, actor, id, Action::VisitRead).await?;
    // RFC 9110 §13.2.1: the precondition before the request's content is looked at (the
    // store checks it again as it writes).
    if !expected.is_none_or(|r| r.contains(&visit.revision)) {
        return Err(preconditions::stale(visit.id, visit.revision));
    }
    let catalog = catalog_of(state, &visit).await?;
    let d = determine(&catalog, &visit.household);
    let spec = crate::visits::drafts::specs(&catalog, &visit.household, &d)
        .into_iter()
        .find(|s| s.key == draft_key)
        .ok_or_else(|| no_draft(draft_key))?;
    let form = state
        .forms
        .form(&spec.form_id, Some(&spec.form_version))
        .map_err(|_| ApiError::internal("a procedure's form is not loaded"))?;
    let DraftEditDto { set, remove } = body;
    let changes =
        edit::changes_of(form, &spec, DraftEdit { set, remove }).map_err(ApiError::validation)?;
    let today = crate::visits::model::japan_day(crate::clock::now());
    let errors = edit::shape_errors(
        &state.forms,
        form,
        &catalog,
        &visit.household,
        &spec,
        &changes,
        today,
    );
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let key = spec.key.clone();
    let edited = state
        .store
        .change_visit(&code, id, Step::Change, actor, expected, |v| {
            edit::record(&mut v.household, &key, changes)
        })
        .await
        .map_err(store_conflict)?;
    let visit = changed(id, edited)?;
    // Edits change no fact, so the draft's spec read before the edit still holds.
    let draft = evaluate_one(&state.forms, &catalog, &visit.household, spec, today)
        .ok_or_else(|| ApiError::internal("the edited draft vanished"))?;
    Ok((visit, draft_dto(draft, lang)))
}

fn no_draft(key: &str) -> ApiError {
    ApiError::not_found(Text::new(
        format!("この来庁に下書き「{key}」はありません。GET …/drafts の key を指定してください。"),
        format!("The visit has no draft {key}; use a key from GET …/drafts."),
    ))
}
