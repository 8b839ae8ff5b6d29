//! The resident's one confirmation of every draft: a signature image, or the clerk's
//! attestation that the resident signed the printed summary. After it, answers and drafts are
//! frozen.

use actix_web::{HttpResponse, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{VisitPath, barred_problem, catalog_of, changed, read_visit, store_conflict};
use crate::audit::{Action, Actor};
use crate::auth::Scope;
use crate::http::auth::{Clerk, scopes};
use crate::http::extract::ApiJson;
use crate::http::headers::{IdempotencyKeyHeader, IfMatchHeader, StaffHeader};
use crate::http::middleware::idempotency::Idempotent;
use crate::http::preconditions::{self, IfMatch};
use crate::http::problem::{ApiError, ProblemDoc};
use crate::http::state::AppState;
use crate::i18n::Text;
use crate::store::{StoreError, VisitChange};
use crate::tenancy::LgCode;
use crate::validation::FieldError;
use crate::visits::confirmation::{self, Signature};
use crate::visits::{Step, Visit, determine, evaluate};

/// A signature written on the counter's pad.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = SignatureImage)]
pub struct SignatureImageDto {
    /// image/png or image/jpeg.
    #[schema(example = "image/png")]
    pub media_type: String,
    /// The image, base64 (at most 256 KiB decoded).
    pub data: String,
}

/// The resident's one confirmation of every draft.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = Confirm, example = json!({"method": "attestation"}))]
pub struct ConfirmDto {
    /// `signature` (with `signature`) or `attestation` (the clerk attests that the resident
    /// signed the printed summary).
    #[schema(example = "attestation")]
    pub method: String,
    pub signature: Option<SignatureImageDto>,
}

/// What was confirmed.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Confirmation)]
pub struct ConfirmationDto {
    pub visit_id: Uuid,
    pub confirmed_at: DateTime<Utc>,
    pub method: String,
    /// SHA-256 of the signature image.
    pub signature_sha256: Option<String>,
    /// The procedures confirmed (needed, and fileable by this applicant).
    pub procedures: Vec<String>,
    /// The drafts frozen with it.
    pub drafts: Vec<String>,
    pub prefilled_fields: usize,
    pub typed_fields: usize,
}

pub(crate) fn confirmation_dto(visit: &Visit) -> Option<ConfirmationDto> {
    let c = visit.household.confirmation.as_ref()?;
    let (method, sha) = match &c.signature {
        crate::visits::confirmation::Signature::Image { sha256, .. } => {
            ("signature", Some(sha256.clone()))
        }
        crate::visits::confirmation::Signature::Attestation { .. } => ("attestation", None),
    };
    Some(ConfirmationDto {
        visit_id: visit.id,
        confirmed_at: c.confirmed_at,
        method: method.to_owned(),
        signature_sha256: sha,
        procedures: c
            .procedures
            .iter()
            .map(|p| match &p.member {
                Some(m) => format!("{}@{m}", p.procedure_id),
                None => p.procedure_id.clone(),
            })
            .collect(),
        drafts: c.drafts.iter().map(|d| d.key.clone()).collect(),
        prefilled_fields: c.prefilled_fields(),
        typed_fields: c.typed_fields(),
    })
}

/// The resident confirms every draft at once: a signature image, or the clerk's attestation
/// that the resident signed the printed summary. Refused while a question is open or a draft
/// has errors; after it, answers and drafts are frozen.
#[utoipa::path(
    tag = "visits",
    params(VisitPath, StaffHeader, IfMatchHeader, IdempotencyKeyHeader),
    request_body(content = ConfirmDto, content_type = "application/json"),
    responses(
        (status = 200, description = "The confirmation", body = ConfirmationDto, headers(("ETag" = String, description = "The visit's revision (\"v12\"), for If-Match on the next change"))),
        (status = 400, description = "Malformed JSON, lgCode, visit id or Madoguchi-Actor", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope visits missing, or the client may not act for this municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such visit in this municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "Closed, confirmed already, changed meanwhile, or Idempotency-Key in use", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 412, description = "If-Match names a revision of the visit that is no longer the current one: nothing changed; the problem's etag (and ETag) is the current one", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "A bad signature, open questions, or drafts with errors, all listed in errors[]", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["visits"]))
)]
#[post(
    "/municipalities/{lgCode}/visits/{visitId}/confirm",
    wrap = "Idempotent::requiring(Scope::Visits)"
)]
pub async fn confirm_visit(
    clerk: Clerk<scopes::Visits>,
    state: web::Data<AppState>,
    path: web::Path<VisitPath>,
    body: ApiJson<ConfirmDto>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let ConfirmDto { method, signature } = body.0;
    let v = confirm(
        &state,
        clerk.municipality()?,
        &clerk.actor,
        path.visit_id,
        &method,
        signature.map(|i| (i.media_type, i.data)),
        if_match.revisions(),
    )
    .await?;
    let dto = confirmation_dto(&v)
        .ok_or_else(|| ApiError::internal("the confirmation was not stored"))?;
    Ok(HttpResponse::Ok()
        .insert_header(preconditions::etag(v.revision))
        .json(dto))
}

/// The resident's one confirmation of every draft (`method` signature with the image as
/// (media type, base64), or attestation), recorded for `actor`: what the API's
/// `POST …/confirm` and the console's 確認・署名 do.
pub(crate) async fn confirm(
    state: &AppState,
    code: LgCode,
    actor: &Actor,
    id: Uuid,
    method: &str,
    image: Option<(String, String)>,
    expected: Option<&[i64]>,
) -> Result<Visit, ApiError> {
    let visit = read_visit(state, code, actor, id, Action::VisitRead).await?;
    // Checked before the drafts are evaluated, and again by the store as it writes.
    visit
        .check(Step::Confirm)
        .map_err(|b| barred_problem(visit.id, b))?;
    // The resident signs what this clerk's app showed: not a visit changed since.
    if !expected.is_none_or(|r| r.contains(&visit.revision)) {
        return Err(preconditions::stale(visit.id, visit.revision));
    }
    let staff = actor.staff.as_deref();
    let signature =
        Signature::chosen(method, image, staff).map_err(|e| ApiError::validation(vec![e]))?;
    let catalog = catalog_of(state, &visit).await?;
    let d = determine(&catalog, &visit.household);
    let now = crate::clock::now();
    let drafts = evaluate(
        &state.forms,
        &catalog,
        &visit.household,
        &d,
        crate::visits::model::japan_day(now),
    );
    let confirmation = confirmation::confirm(&d, drafts, signature, actor.staff.clone(), now)
        .map_err(ApiError::validation)?;
    let v = record(state, code, actor, &visit, expected, confirmation).await?;
    state.visit_metrics.confirmed(&v);
    Ok(v)
}

/// Records the confirmation on the visit the resident was shown (revision `visit.revision`):
/// a visit changed since, by a clerk who sent no If-Match, is a conflict to read again.
async fn record(
    state: &AppState,
    code: LgCode,
    actor: &Actor,
    visit: &Visit,
    expected: Option<&[i64]>,
    confirmation: confirmation::Confirmation,
) -> Result<Visit, ApiError> {
    let seen = visit.revision;
    let change = state
        .store
        .change_visit(&code, visit.id, Step::Confirm, actor, expected, move |v| {
            if v.revision != seen {
                return Err(vec![FieldError::new(
                    "/",
                    "visit_changed",
                    Text::new(
                        "来庁が同時に変更されました。",
                        "The visit changed meanwhile.",
                    ),
                )]);
            }
            v.household.confirmation = Some(confirmation);
            Ok(())
        })
        .await
        .map_err(store_conflict)?;
    match change {
        VisitChange::Refused(_) => Err(store_conflict(StoreError::Conflict)),
        other => changed(visit.id, other),
    }
}
