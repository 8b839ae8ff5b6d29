//! `/v1/municipalities/{lgCode}/visits`: one-stop visits — the household's life events and
//! facts, the determination of its procedures, the prefilled drafts, the resident's one
//! confirmation and the applications. Everything a visit holds is personal data: every read
//! and write is audited with the clerk ([`Clerk`]).
//!
//! One file per use case; each handler reads the request, calls the domain
//! ([`crate::visits`]) and the store, and answers. The bodies they share are in [`dto`].

mod close;
mod confirm;
mod drafts;
mod dto;
mod facts;
mod open;
mod read;
mod submit;

pub use close::*;
pub use confirm::*;
pub use drafts::*;
pub use dto::*;
pub use facts::*;
pub use open::*;
pub use read::*;
pub use submit::*;

use std::sync::Arc;

use actix_web::HttpResponse;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::audit::Action;
use crate::catalog::Catalog;
use crate::catalog::versions::{CatalogError, Catalogs};
use crate::http::auth::{Clerk, scopes};
use crate::http::preconditions;
use crate::http::problem::{ApiError, ProblemKind};
use crate::http::state::AppState;
use crate::i18n::{Lang, Text};
use crate::store::{StoreError, VisitChange};
use crate::tenancy::LgCode;
use crate::validation::FieldError;
use crate::visits::{Barred, Visit};

/// A visit's path.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct VisitPath {
    /// 全国地方公共団体コード.
    #[serde(rename = "lgCode")]
    #[allow(dead_code)] // Authorized reads and checks it from the path.
    #[param(rename = "lgCode", example = "012084")]
    pub lg_code: String,
    /// The visit's id.
    #[serde(rename = "visitId")]
    #[param(rename = "visitId")]
    pub visit_id: Uuid,
}

/// The catalogue the visit was opened with.
pub(crate) async fn catalog_of(state: &AppState, visit: &Visit) -> Result<Arc<Catalog>, ApiError> {
    let version = Catalogs::version_of(&visit.catalog_version);
    state
        .catalogs
        .version(&visit.lg_code, version)
        .await
        .map_err(catalog_problem)
}

pub(crate) fn catalog_problem(e: CatalogError) -> ApiError {
    match e {
        CatalogError::Store(e) => e.into(),
        CatalogError::Invalid(errors) => ApiError::validation(
            errors
                .into_iter()
                .map(|e| {
                    FieldError::new(
                        e.pointer,
                        "invalid_override",
                        Text::new(e.message.clone(), e.message),
                    )
                })
                .collect(),
        ),
        e @ CatalogError::Unusable { .. } => ApiError::internal(e),
    }
}

/// The visit, read for the acting clerk and audited as `visit.read`.
async fn load(
    state: &AppState,
    clerk: &Clerk<scopes::Visits>,
    id: Uuid,
) -> Result<Visit, ApiError> {
    load_for(state, clerk, id, Action::VisitRead).await
}

/// The visit, read for the acting clerk and audited as `action`.
pub(super) async fn load_for(
    state: &AppState,
    clerk: &Clerk<scopes::Visits>,
    id: Uuid,
    action: Action,
) -> Result<Visit, ApiError> {
    read_visit(state, clerk.municipality()?, &clerk.actor, id, action).await
}

/// The visit `id` of municipality `code`, read for `actor` and audited as `action`: what the
/// API's handlers and the console's pages read a visit with.
pub(crate) async fn read_visit(
    state: &AppState,
    code: LgCode,
    actor: &crate::audit::Actor,
    id: Uuid,
    action: Action,
) -> Result<Visit, ApiError> {
    state
        .store
        .read_visit_for(&code, id, actor, action)
        .await?
        .ok_or_else(|| visit_not_found(id))
}

fn visit_not_found(id: Uuid) -> ApiError {
    ApiError::not_found(Text::new(
        format!("来庁 {id} はありません。"),
        format!("There is no visit {id}."),
    ))
}

/// A conflict between two replicas writing the same visit.
pub(crate) fn store_conflict(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict => ApiError::new(
            ProblemKind::VisitChanged,
            Text::new(
                "この来庁は同時に別の端末から変更されました。読み直してから、もう一度送ってください。",
                "The visit was changed from another terminal meanwhile. Read it again and resend.",
            ),
        ),
        e => e.into(),
    }
}

/// The visit a change made, or why none was made.
pub(crate) fn changed(id: Uuid, change: VisitChange) -> Result<Visit, ApiError> {
    match change {
        VisitChange::Done(v) => Ok(v),
        VisitChange::NotFound => Err(visit_not_found(id)),
        VisitChange::Barred(barred) => Err(barred_problem(id, barred)),
        VisitChange::Refused(errors) => Err(ApiError::validation(errors)),
        VisitChange::Stale(v) => Err(preconditions::stale(id, v.revision)),
    }
}

/// Why the visit does not allow a step, for the clerk.
fn barred_problem(id: Uuid, barred: Barred) -> ApiError {
    let (kind, ja, en) = match barred {
        Barred::Closed => (
            ProblemKind::VisitClosed,
            format!("来庁 {id} は終了しているため変更できません。"),
            format!("Visit {id} is closed and cannot change."),
        ),
        Barred::Confirmed => (
            ProblemKind::VisitConfirmed,
            format!("来庁 {id} は住民が確認・署名済みのため、回答や下書きは変更できません。"),
            format!("Visit {id} has been confirmed and signed; answers and drafts cannot change."),
        ),
        Barred::NotConfirmed => (
            ProblemKind::VisitNotConfirmed,
            format!(
                "来庁 {id} はまだ住民が確認・署名していません。先に POST …/confirm を行ってください。"
            ),
            format!("Visit {id} has not been confirmed by the resident; POST …/confirm first."),
        ),
        Barred::Submitted => return submitted(id, None),
    };
    ApiError::new(kind, Text::new(ja, en))
}

/// The visit was submitted already, with its number of applications when known.
fn submitted(id: Uuid, applications: Option<usize>) -> ApiError {
    let (ja, en) = match applications {
        Some(n) => (format!("({n}件)"), format!(" ({n} applications)")),
        None => (String::new(), String::new()),
    };
    ApiError::new(
        ProblemKind::VisitSubmitted,
        Text::new(
            format!("来庁 {id} は既に申請済みです{ja}。GET …/applications で確認できます。"),
            format!("Visit {id} was submitted already{en}; see GET …/applications."),
        ),
    )
}

/// The answer to a change of the household's facts: the determination run again, or why
/// nothing changed.
async fn determination_after(
    state: &AppState,
    lang: Lang,
    id: Uuid,
    change: VisitChange,
) -> Result<HttpResponse, ApiError> {
    let visit = changed(id, change)?;
    let catalog = catalog_of(state, &visit).await?;
    Ok(HttpResponse::Ok()
        .insert_header(preconditions::etag(visit.revision))
        .json(determination_dto(state, &catalog, &visit, lang)))
}
