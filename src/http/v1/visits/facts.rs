//! Facts into a visit: the clerk's answers to the determination's questions, a member's facts
//! from a verified card reading, and a member's facts from the resident directory. Each runs
//! the determination again and answers with it.

use actix_web::{HttpResponse, post, web};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    AnswersDto, DeterminationDto, VisitPath, answers, determination_after, store_conflict,
};
use crate::auth::Scope;
use crate::http::auth::{Clerk, scopes};
use crate::http::extract::ApiJson;
use crate::http::headers::{IdempotencyKeyHeader, IfMatchHeader, StaffHeader};
use crate::http::middleware::idempotency::Idempotent;
use crate::http::preconditions::IfMatch;
use crate::http::problem::{ApiError, ProblemDoc, ProblemKind};
use crate::http::state::AppState;
use crate::i18n::{Lang, Text};
use crate::store::VisitChange;
use crate::tenancy::LgCode;
use crate::validation::FieldError;
use crate::visits::input::{self, Context};
use crate::visits::limits;
use crate::visits::model::Source;
use crate::visits::{Step, Visit};

/// Record answers (all or none) and run the determination again. At most 200 answers and a
/// 64 KiB body.
#[utoipa::path(
    tag = "visits",
    params(VisitPath, StaffHeader, IfMatchHeader, IdempotencyKeyHeader),
    request_body(content = AnswersDto, content_type = "application/json"),
    responses(
        (status = 200, description = "The determination with the answers", body = DeterminationDto, headers(("ETag" = String, description = "The visit's revision (\"v12\"), for If-Match on the next change"))),
        (status = 400, description = "Malformed JSON, lgCode, visit id or Madoguchi-Actor", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope visits missing, or the client may not act for this municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such visit in this municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "The visit is closed, was changed meanwhile, or the Idempotency-Key is in use", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 412, description = "If-Match names a revision of the visit that is no longer the current one: nothing changed; the problem's etag (and ETag) is the current one", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "Unknown facts, members or values, all listed in errors[]", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["visits"]))
)]
#[post(
    "/municipalities/{lgCode}/visits/{visitId}/answers",
    wrap = "Idempotent::requiring(Scope::Visits)"
)]
pub async fn post_answers(
    lang: Lang,
    clerk: Clerk<scopes::Visits>,
    state: web::Data<AppState>,
    path: web::Path<VisitPath>,
    if_match: IfMatch,
    body: ApiJson<AnswersDto, { limits::VISIT_BODY_BYTES }>,
) -> Result<HttpResponse, ApiError> {
    let code = clerk.municipality()?;
    let id = path.visit_id;
    let change = record_answers(
        &state,
        code,
        &clerk.actor,
        id,
        body.0.answers,
        if_match.revisions(),
    )
    .await?;
    determination_after(&state, lang, id, change).await
}

/// Records answers (all or none) into the visit: what the API's answers and the console's
/// questions do.
pub(crate) async fn record_answers(
    state: &AppState,
    code: LgCode,
    actor: &crate::audit::Actor,
    id: Uuid,
    list: Vec<super::AnswerDto>,
    expected: Option<&[i64]>,
) -> Result<VisitChange, ApiError> {
    let ctx = Context {
        catalog: &state.catalog,
        eras: &state.forms.eras,
        now: crate::clock::now(),
    };
    let list = answers(list);
    state
        .store
        .change_visit(
            &code,
            id,
            Step::Change,
            actor,
            expected,
            // Checked once the store has held If-Match against the visit (RFC 9110 §13.2.1:
            // the precondition before the content).
            |visit| {
                if list.is_empty() {
                    return Err(vec![FieldError::new(
                        "/answers",
                        "no_answers",
                        Text::new("回答を1つ以上入れてください。", "Give at least one answer."),
                    )]);
                }
                input::apply_answers(&ctx, &mut visit.household, list, "/answers")
            },
        )
        .await
        .map_err(store_conflict)
}

/// What [`record_answers`] would refuse in these answers, checked against a copy of the
/// visit's household (nothing recorded): for a page that shows every problem at once.
pub(crate) fn check_answers(
    state: &AppState,
    visit: &Visit,
    list: Vec<super::AnswerDto>,
) -> Vec<FieldError> {
    let ctx = Context {
        catalog: &state.catalog,
        eras: &state.forms.eras,
        now: crate::clock::now(),
    };
    let mut household = visit.household.clone();
    input::apply_answers(&ctx, &mut household, answers(list), "/answers")
        .err()
        .unwrap_or_default()
}

/// A verified card session to take a member's facts from.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = CardAttachment, example = json!({"cardSessionId": "01938a6e-7c1f-7cc3-9a5e-3b2f0c4d5e70", "member": "m1"}))]
pub struct CardAttachmentDto {
    pub card_session_id: Uuid,
    /// The member whose card it is.
    #[schema(example = "m1")]
    pub member: String,
}

/// Take a member's facts from a verified card session (name, date of birth, sex, holding a
/// My Number card), with the source `card`, and run the determination again. The 個人番号
/// never becomes a fact of the visit.
#[utoipa::path(
    tag = "visits",
    params(VisitPath, StaffHeader, IfMatchHeader, IdempotencyKeyHeader),
    request_body(content = CardAttachmentDto, content_type = "application/json"),
    responses(
        (status = 200, description = "The determination with the card's facts", body = DeterminationDto, headers(("ETag" = String, description = "The visit's revision (\"v12\"), for If-Match on the next change"))),
        (status = 400, description = "Malformed JSON, lgCode, visit id or Madoguchi-Actor", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope visits or card missing, or the client may not act for this municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such visit or card session in this municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "The session has not verified (or its result is no longer kept), it served another visit, the visit is closed or was changed meanwhile", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 412, description = "If-Match names a revision of the visit that is no longer the current one: nothing changed; the problem's etag (and ETag) is the current one", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "Unknown member", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["visits", "card"]))
)]
#[post(
    "/municipalities/{lgCode}/visits/{visitId}/card",
    wrap = "Idempotent::requiring(Scope::Visits)"
)]
pub async fn attach_card(
    lang: Lang,
    clerk: Clerk<scopes::Visits>,
    state: web::Data<AppState>,
    path: web::Path<VisitPath>,
    body: ApiJson<CardAttachmentDto>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let code = clerk.municipality()?;
    if !clerk.principal.has_scope(Scope::Card) {
        return Err(crate::http::auth::insufficient_scope(Scope::Card));
    }
    let id = path.visit_id;
    let body = body.0;
    let change = take_card(
        &state,
        code,
        &clerk.actor,
        id,
        body.card_session_id,
        &body.member,
        if_match.revisions(),
    )
    .await?;
    determination_after(&state, lang, id, change).await
}

/// Takes the facts of the verified card session `session_id` into the member `member` of the
/// visit `id`, with the source `card`.
pub(crate) async fn take_card(
    state: &AppState,
    code: LgCode,
    actor: &crate::audit::Actor,
    id: Uuid,
    session_id: Uuid,
    member: &str,
    expected: Option<&[i64]>,
) -> Result<VisitChange, ApiError> {
    let facts = card_facts(state, code, session_id, id).await?;
    record_facts(
        state,
        code,
        actor,
        id,
        member,
        facts,
        Source::Card,
        expected,
    )
    .await
}

/// The facts of the card session `session_id` for the visit `visit`: a session of this
/// municipality that verified, whose result is still kept, and that served no other visit.
async fn card_facts(
    state: &AppState,
    code: LgCode,
    session_id: Uuid,
    visit: Uuid,
) -> Result<Vec<(String, Value)>, ApiError> {
    let session = super::super::card_sessions::session_of(state, code, session_id).await?;
    match (&session.outcome, session.visit_id) {
        (_, Some(other)) if other != visit => Err(ApiError::new(
            ProblemKind::Conflict,
            Text::new(
                format!("このカード読取りは別の来庁({other})のためのものです。"),
                format!("This card session served another visit ({other})."),
            ),
        )),
        (Some(Ok(verified)), _) => Ok(input::card_facts(verified)),
        _ => Err(ApiError::new(
            ProblemKind::Conflict,
            Text::new(
                "このカード読取りは本人確認が済んでいないか、結果の保存期間を過ぎています。",
                "This card session has not verified, or its result is no longer kept.",
            ),
        )),
    }
}

/// Takes facts from the card or the registry into a member of the visit.
#[allow(clippy::too_many_arguments)]
async fn record_facts(
    state: &AppState,
    code: LgCode,
    actor: &crate::audit::Actor,
    id: Uuid,
    member: &str,
    facts: Vec<(String, Value)>,
    source: Source,
    expected: Option<&[i64]>,
) -> Result<VisitChange, ApiError> {
    let ctx = Context {
        catalog: &state.catalog,
        eras: &state.forms.eras,
        now: crate::clock::now(),
    };
    state
        .store
        .change_visit(
            &code,
            id,
            Step::Change,
            actor,
            expected,
            |visit: &mut Visit| {
                input::apply_facts(&ctx, &mut visit.household, member, facts, source)
            },
        )
        .await
        .map_err(store_conflict)
}

/// A resident of the directory to take a member's facts from.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = ResidentAttachment, example = json!({"addresseeNumber": "10000000006", "member": "m1"}))]
pub struct ResidentAttachmentDto {
    /// 宛名番号, as a lookup gave it.
    #[schema(example = "10000000006")]
    pub addressee_number: String,
    /// The member who is this resident.
    #[schema(example = "m1")]
    pub member: String,
}

/// Take a member's facts from the resident directory (name, kana, date of birth when the
/// registry knows the day, sex, 続柄, nationality) with the source `registry`, and run the
/// determination again: the drafts are prefilled from them. Audited as a lookup for the visit.
#[utoipa::path(
    tag = "visits",
    params(VisitPath, StaffHeader, IfMatchHeader, IdempotencyKeyHeader),
    request_body(content = ResidentAttachmentDto, content_type = "application/json"),
    responses(
        (status = 200, description = "The determination with the registry's facts", body = DeterminationDto, headers(("ETag" = String, description = "The visit's revision (\"v12\"), for If-Match on the next change"))),
        (status = 400, description = "Malformed JSON, lgCode, visit id or Madoguchi-Actor", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope visits or residents missing, or the client may not act for this municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such visit, or no such resident in the municipality's directory", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "The visit is closed or was changed meanwhile, or the same Idempotency-Key is still running", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 412, description = "If-Match names a revision of the visit that is no longer the current one: nothing changed; the problem's etag (and ETag) is the current one", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "Unknown member, or an Idempotency-Key reused", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["visits", "residents"]))
)]
#[post(
    "/municipalities/{lgCode}/visits/{visitId}/residents",
    wrap = "Idempotent::requiring(Scope::Visits)"
)]
pub async fn attach_resident(
    lang: Lang,
    clerk: Clerk<scopes::Visits>,
    state: web::Data<AppState>,
    path: web::Path<VisitPath>,
    body: ApiJson<ResidentAttachmentDto>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let code = clerk.municipality()?;
    if !clerk.principal.has_scope(Scope::Residents) {
        return Err(crate::http::auth::insufficient_scope(Scope::Residents));
    }
    let id = path.visit_id;
    let body = body.0;
    let change = take_resident(
        &state,
        code,
        &clerk.actor,
        id,
        &body.addressee_number,
        &body.member,
        if_match.revisions(),
    )
    .await?;
    determination_after(&state, lang, id, change).await
}

/// Takes a resident of the directory into a member of the visit (audited as a lookup for
/// it): what the API's `…/residents` and the console's 取り込む do.
pub(crate) async fn take_resident(
    state: &AppState,
    code: LgCode,
    actor: &crate::audit::Actor,
    id: Uuid,
    addressee_number: &str,
    member: &str,
    expected: Option<&[i64]>,
) -> Result<VisitChange, ApiError> {
    let resident = state
        .store
        .resident(&code.to_string(), addressee_number)
        .await?
        .ok_or_else(|| super::super::residents::resident_not_found(addressee_number))?;
    let facts = input::registry_facts(&resident);
    let change = record_facts(
        state,
        code,
        actor,
        id,
        member,
        facts,
        Source::Registry,
        expected,
    )
    .await?;
    if matches!(change, VisitChange::Done(_)) {
        super::super::residents::audit_lookup(state, actor, code, id, 1).await?;
    }
    Ok(change)
}
