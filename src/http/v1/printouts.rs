//! `/v1/municipalities/{lgCode}/visits/{visitId}/…` printouts: every prefilled form as a PDF
//! the resident checks and signs, and the receipt (受付票). Japanese, set in the embedded
//! typeface; each print is audited as `visit.print`.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use uuid::Uuid;

use super::visits::{DraftPath, VisitPath, catalog_of, read_visit};
use crate::audit::Action;
use crate::audit::Actor;
use crate::catalog::Catalog;
use crate::http::auth::{Clerk, scopes};
use crate::http::headers::StaffHeader;
use crate::http::heavy_work::Cancel;
use crate::http::problem::{ApiError, ProblemDoc, ProblemKind};
use crate::http::state::AppState;
use crate::i18n::{Lang, Text};
use crate::print::{Booklet, Sheet};
use crate::tenancy::LgCode;
use crate::visits::confirmation::Application;
use crate::visits::model::Visit;
use crate::visits::printouts::{Context, FormPrint, form_sheet, receipt_sheet};
use crate::visits::{Determination, determine};

/// A PDF file, as the OpenAPI document describes it: a string of bytes of that media type.
pub struct PdfFile;

impl utoipa::PartialSchema for PdfFile {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .content_media_type("application/pdf")
            // Generators (openapi-python-client) type a body as a file by this format.
            .format(Some(utoipa::openapi::schema::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Binary,
            )))
            .into()
    }
}

impl utoipa::ToSchema for PdfFile {}

/// A form to print, before it borrows the form's plan.
struct Printable {
    key: String,
    procedure: Arc<crate::catalog::Procedure>,
    /// `formId@version`.
    form: String,
    document: serde_json::Value,
    prefilled: usize,
    problems: Vec<(String, String)>,
}

/// The forms of a visit: the documents confirmed, once it is; else the drafts as they stand,
/// with what their validation still finds.
fn printables(
    state: &AppState,
    catalog: &Catalog,
    visit: &Visit,
    d: &Determination,
) -> Vec<Printable> {
    if let Some(c) = &visit.household.confirmation {
        return c
            .drafts
            .iter()
            .filter_map(|f| {
                Some(Printable {
                    key: f.key.clone(),
                    procedure: catalog.procedure(&f.procedure_id)?.clone(),
                    form: f.form.clone(),
                    document: f.document.clone(),
                    prefilled: f.prefilled_fields,
                    problems: Vec::new(),
                })
            })
            .collect();
    }
    let today = crate::visits::model::japan_day(crate::clock::now());
    crate::visits::evaluate(&state.forms, catalog, &visit.household, d, today)
        .into_iter()
        .map(|draft| Printable {
            form: draft.form_ref(),
            procedure: draft.spec.procedure,
            key: draft.spec.key,
            document: draft.document,
            prefilled: draft.prefilled,
            problems: draft
                .errors
                .into_iter()
                .map(|e| (e.pointer, e.message.get(Lang::Ja).to_owned()))
                .collect(),
        })
        .collect()
}

fn form_sheets(state: &AppState, cx: &Context, forms: Vec<Printable>) -> Vec<Sheet> {
    forms
        .into_iter()
        .filter_map(|p| {
            let (id, version) = p.form.split_once('@')?;
            let form = state.forms.form(id, Some(version)).ok()?;
            Some(form_sheet(
                cx,
                &FormPrint {
                    procedure: p.procedure,
                    form_title: form.title.clone(),
                    plan: &form.plan,
                    document: p.document,
                    prefilled: p.prefilled,
                    problems: p.problems,
                },
            ))
        })
        .collect()
}

/// What to print.
pub(crate) enum Selection {
    /// Every form, then the receipt.
    All,
    Receipt,
    Form(String),
}

fn stopped() -> ApiError {
    ApiError::new(
        ProblemKind::ServiceUnavailable,
        Text::new(
            "リクエストが打ち切られたため、印刷を中止しました。",
            "The printout was stopped because its request was abandoned.",
        ),
    )
}

/// Lays out and writes the PDF of `selection`; runs on the blocking pool.
fn print_visit(
    state: &AppState,
    catalog: &Catalog,
    visit: &Visit,
    applications: &[Application],
    municipality: &str,
    selection: Selection,
    cancel: &Cancel,
) -> Result<crate::print::Printed, ApiError> {
    let id = visit.id;
    let d = determine(catalog, &visit.household);
    let cx = Context {
        catalog,
        eras: &state.forms.eras,
        municipality,
        visit,
        determination: &d,
        applications,
    };
    let (title, sheets) = match selection {
        Selection::Receipt => ("受付票", vec![receipt_sheet(&cx)]),
        Selection::All => {
            let forms = printables(state, catalog, visit, &d);
            if cancel.is_cancelled() {
                return Err(stopped());
            }
            let mut sheets = form_sheets(state, &cx, forms);
            sheets.push(receipt_sheet(&cx));
            ("届書と受付票", sheets)
        }
        Selection::Form(key) => {
            let forms: Vec<Printable> = printables(state, catalog, visit, &d)
                .into_iter()
                .filter(|p| p.key == key)
                .collect();
            if forms.is_empty() {
                return Err(ApiError::not_found(Text::new(
                    format!(
                        "来庁 {id} に届書 {key} はありません。届書の一覧(drafts)でキーを確かめてください。"
                    ),
                    format!("Visit {id} has no draft {key}. Check the key in the list of drafts."),
                )));
            }
            ("届書", form_sheets(state, &cx, forms))
        }
    };
    if cancel.is_cancelled() {
        return Err(stopped());
    }
    let booklet = Booklet {
        title: format!("{title} {municipality}"),
        // Off the paper, for finding the visit again from a saved file.
        keywords: vec![
            format!("visit:{id}"),
            format!("catalog:{}", visit.catalog_version),
        ],
        sheets,
    };
    crate::print::print_until(&state.typeface, &booklet, || !cancel.is_cancelled()).map_err(|e| {
        match e {
            crate::print::PrintError::Stopped => stopped(),
            e => ApiError::internal(e),
        }
    })
}

async fn printout(
    state: &web::Data<AppState>,
    auth: &Clerk<scopes::Visits>,
    id: Uuid,
    selection: Selection,
) -> Result<HttpResponse, ApiError> {
    print_pdf(state, auth.municipality()?, &auth.actor, id, selection).await
}

/// A visit's forms, receipt or one form as a PDF (audited as `visit.print`): what the API's
/// printout routes and the console's 印刷 answer.
pub(crate) async fn print_pdf(
    state: &web::Data<AppState>,
    code: LgCode,
    actor: &Actor,
    id: Uuid,
    selection: Selection,
) -> Result<HttpResponse, ApiError> {
    let visit = read_visit(state, code, actor, id, Action::VisitPrint).await?;
    let catalog = catalog_of(state, &visit).await?;
    // Where each application stands, for the receipt of a submitted visit.
    let applications = if visit.household.submitted_at.is_some() {
        state.store.applications(visit.id).await?
    } else {
        Vec::new()
    };
    let municipality = state
        .municipalities
        .municipality(&code)
        .await?
        .map(|m| m.name.clone())
        .unwrap_or_else(|| code.to_string());
    let client = actor.client_id.clone().unwrap_or_default();
    let file = match &selection {
        Selection::All => "printouts",
        Selection::Receipt => "receipt",
        Selection::Form(_) => "form",
    };
    let owned = state.clone();
    // The determination, the drafts and the PDF on the blocking pool, within the client's
    // share of heavy work; abandoned at the next step once the request is gone.
    let printed = state
        .heavy_work
        .run(&client, move |cancel| {
            print_visit(
                &owned,
                &catalog,
                &visit,
                &applications,
                &municipality,
                selection,
                cancel,
            )
        })
        .await??;
    if !printed.missing.is_empty() {
        // Which characters, not whose: the count only.
        tracing::info!(
            visit = %id,
            characters = printed.missing.len(),
            "printed characters the typeface lacks as 〓"
        );
    }
    Ok(HttpResponse::Ok()
        .content_type("application/pdf")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("inline; filename=\"{file}-{id}.pdf\""),
        ))
        // Personal data: never kept by a cache on the way.
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(printed.pdf))
}

/// Every form of the visit and the receipt, as one PDF to print at the counter: the drafts
/// as they stand (with a note of what still needs checking) until the resident confirms,
/// then the confirmed documents.
#[utoipa::path(
    tag = "visits",
    params(
        VisitPath,
        StaffHeader,
    ),
    responses(
        (status = 200, description = "PDF (A4, Japanese, typeface embedded): each form, then the receipt", body = inline(PdfFile), content_type = "application/pdf"),
        (status = 400, description = "Malformed lgCode, visit id or Madoguchi-Actor", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope visits missing, or the client may not act for this municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such visit in this municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 429, description = "busy: this client already has 2 printouts under way, or the gateway's queue of heavy work is full; retry after Retry-After", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["visits"]))
)]
#[get("/municipalities/{lgCode}/visits/{visitId}/printouts")]
pub async fn get_printouts(
    auth: Clerk<scopes::Visits>,
    state: web::Data<AppState>,
    path: web::Path<VisitPath>,
) -> Result<HttpResponse, ApiError> {
    printout(&state, &auth, path.visit_id, Selection::All).await
}

/// The receipt (受付票): the procedures done at the counter, where to go next and why, what
/// to bring, what is still undecided, fees.
#[utoipa::path(
    tag = "visits",
    params(
        VisitPath,
        StaffHeader,
    ),
    responses(
        (status = 200, description = "PDF (A4, Japanese, typeface embedded)", body = inline(PdfFile), content_type = "application/pdf"),
        (status = 400, description = "Malformed lgCode, visit id or Madoguchi-Actor", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope visits missing, or the client may not act for this municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such visit in this municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 429, description = "busy: this client already has 2 printouts under way, or the gateway's queue of heavy work is full; retry after Retry-After", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["visits"]))
)]
#[get("/municipalities/{lgCode}/visits/{visitId}/receipt")]
pub async fn get_receipt(
    auth: Clerk<scopes::Visits>,
    state: web::Data<AppState>,
    path: web::Path<VisitPath>,
) -> Result<HttpResponse, ApiError> {
    printout(&state, &auth, path.visit_id, Selection::Receipt).await
}

/// One form as a PDF: the draft with its fields in the form's order, codes by their names,
/// days in 和暦, and the box the resident signs in.
#[utoipa::path(
    tag = "visits",
    params(
        DraftPath,
        StaffHeader,
    ),
    responses(
        (status = 200, description = "PDF (A4, Japanese, typeface embedded)", body = inline(PdfFile), content_type = "application/pdf"),
        (status = 400, description = "Malformed lgCode, visit id or Madoguchi-Actor", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope visits missing, or the client may not act for this municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such visit or draft", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 429, description = "busy: this client already has 2 printouts under way, or the gateway's queue of heavy work is full; retry after Retry-After", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["visits"]))
)]
#[get("/municipalities/{lgCode}/visits/{visitId}/drafts/{draftKey}/pdf")]
pub async fn get_draft_pdf(
    auth: Clerk<scopes::Visits>,
    state: web::Data<AppState>,
    path: web::Path<DraftPath>,
) -> Result<HttpResponse, ApiError> {
    printout(
        &state,
        &auth,
        path.visit_id,
        Selection::Form(path.draft_key.clone()),
    )
    .await
}
