//! 確認・署名 and 受付後: one review of every form (WCAG 3.3.4: a filing with legal effect is
//! reviewed before it is sent), the resident's one signature on the pad (a canvas, drawn with
//! pointer events: pen, finger or mouse) or the clerk's attestation, then 送信, the
//! applications with their states, and the printouts (the server's PDFs). Each through the
//! functions the API's confirm, submit and printout routes call.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use maud::html;
use uuid::Uuid;

use super::page::{self, Failure, t};
use super::session::Signed;
use super::visit::{frame, heading, load, revision_of};
use crate::http::state::AppState;
use crate::http::v1::printouts::{Selection, print_pdf};
use crate::http::v1::visits::{confirm, drafts_of, submit};
use crate::i18n::Lang;
use crate::visits::model::Stage;

/// `GET /counter/visits/{id}/confirm`.
pub async fn review(
    state: web::Data<AppState>,
    signed: Signed,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, Failure> {
    review_page(&state, &signed, path.into_inner(), None).await
}

async fn review_page(
    state: &AppState,
    signed: &Signed,
    id: Uuid,
    error: Option<String>,
) -> Result<HttpResponse, Failure> {
    let lang = signed.lang;
    let l = load(state, signed, id).await?;
    let drafts = drafts_of(state, &l.visit, lang)
        .await
        .map_err(|e| signed.api(e))?;
    let invalid = drafts.drafts.iter().filter(|d| !d.valid).count();
    let confirmed = l.visit.stage() != Stage::Open;
    let title = heading(lang, &l, "確認・署名", "Review and sign");
    let markup = page::render(
        frame(state, signed, &l, "confirm", &title),
        html! {
            h1 tabindex="-1" data-focus-on-swap { (title) }
            @if let Some(e) = &error {
                div.dads-notification-banner data-type="error" role="alert" #error-summary tabindex="-1" {
                    h2 { (t(lang, "署名を記録できませんでした", "The signature was not recorded")) }
                    p { (e) }
                }
            }
            @if confirmed {
                div.dads-notification-banner data-type="success" {
                    h2 { (t(lang, "署名済みです", "Signed")) }
                    p { a href={ "/counter/visits/" (id) "/after" } { (t(lang, "送信と印刷へ", "Go to sending and printing")) } }
                }
            }
            h2 { (t(lang, "署名する内容", "What the resident signs")) }
            ul #review {
                @for d in &drafts.drafts {
                    li {
                        strong { (d.form_title) } " — " (d.procedure_name) " "
                        @if d.valid { span.dads-chip-label data-color="green" { (t(lang, "入力完了", "Complete")) } }
                        @else { span.dads-chip-label data-color="orange" { (t(lang, "要確認", "To check")) " " (d.errors.len()) } }
                    }
                }
            }
            @if invalid > 0 {
                div.dads-notification-banner data-type="warning" {
                    h2 { (t(lang, "まだ直すところがあります", "Some forms still need corrections")) }
                    p { a href={ "/counter/visits/" (id) "/drafts" } { (t(lang, "申請書を直す", "Correct the forms")) } }
                }
            }
            @if !confirmed {
                form method="post" action={ "/counter/visits/" (id) "/confirm" } #confirm-form data-signature-form {
                    input type="hidden" name="csrf" value=(signed.session.csrf);
                    input type="hidden" name="revision" value=(l.visit.revision);
                    input type="hidden" name="signature" value="" #signature-data;
                    fieldset {
                        legend { (t(lang, "確認の方法", "How the resident confirms")) }
                        div.choices {
                            label.dads-radio { input type="radio" name="method" value="signature" checked; span { (t(lang, "署名パッドに署名", "Signs on the pad")) } }
                            label.dads-radio { input type="radio" name="method" value="attestation"; span { (t(lang, "職員が確認(代筆・口頭確認)", "Clerk attests (written for them, or confirmed orally)")) } }
                        }
                    }
                    div.signature {
                        p #signature-help { (t(lang, "枠の中に署名してください(ペン・指・マウス)。", "Sign inside the box (pen, finger or mouse).")) }
                        canvas #signature-pad width="600" height="200" role="img"
                            aria-label=(t(lang, "署名欄", "Signature box")) aria-describedby="signature-help" {}
                        div.actions {
                            button.dads-button data-type="outline" type="button" data-signature-clear { (t(lang, "書き直す", "Clear")) }
                        }
                    }
                    div.actions {
                        button.dads-button data-type="solid-fill" type="submit" hx-disabled-elt="this" { (t(lang, "これでよい(確定する)", "Confirm")) }
                    }
                }
            }
            div.actions {
                a.dads-button data-type="outline" href={ "/counter/visits/" (id) "/drafts" } { (t(lang, "戻る", "Back")) }
            }
        },
    );
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(page::with_status(status, markup))
}

/// `POST /counter/visits/{id}/confirm`: the signature (a PNG data URL from the pad) or the
/// clerk's attestation.
pub async fn sign(
    state: web::Data<AppState>,
    signed: Signed,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, Failure> {
    let id = path.into_inner();
    let lang = signed.lang;
    let method = signed.fields.get("method").unwrap_or("signature");
    let image = match method {
        "signature" => match signed
            .fields
            .get("signature")
            .and_then(|d| d.strip_prefix("data:image/png;base64,"))
        {
            Some(data) => Some(("image/png".to_owned(), data.to_owned())),
            None => {
                let message = t(
                    lang,
                    "署名パッドに署名してから「これでよい」を押してください。署名できないときは「職員が確認」を選んでください。",
                    "Sign on the pad before confirming, or choose that the clerk attests.",
                );
                return review_page(&state, &signed, id, Some(message.to_owned())).await;
            }
        },
        _ => None,
    };
    let expected = revision_of(&signed);
    match confirm(
        &state,
        signed.session.staff.lg_code,
        &signed.actor,
        id,
        method,
        image,
        expected.as_deref(),
    )
    .await
    {
        Ok(_) => Ok(page::see_other(&format!("/counter/visits/{id}/after"))),
        Err(e) if !e.errors.is_empty() => {
            let message = page::field_messages(&e, lang);
            review_page(&state, &signed, id, Some(message)).await
        }
        Err(e) => Err(signed.api(e)),
    }
}

fn state_label(lang: Lang, state: &str) -> (&'static str, &'static str) {
    match state {
        "submitted" => (t(lang, "送付待ち", "Waiting"), "gray"),
        "delivered" => (t(lang, "送付済", "Delivered"), "blue"),
        "accepted" => (t(lang, "受理", "Accepted"), "green"),
        "completed" => (t(lang, "完了", "Completed"), "green"),
        "rejected" => (t(lang, "差戻し", "Rejected"), "orange"),
        "referred" => (t(lang, "他の窓口へ案内", "Referred"), "gray"),
        _ => (t(lang, "その他", "Other"), "gray"),
    }
}

/// `GET /counter/visits/{id}/after`: 送信 once signed, then each application's state; the
/// printouts.
pub async fn after(
    state: web::Data<AppState>,
    signed: Signed,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, Failure> {
    let id = path.into_inner();
    let lang = signed.lang;
    let l = load(&state, &signed, id).await?;
    let stage = l.visit.stage();
    let applications = state
        .store
        .applications(id)
        .await
        .map_err(|e| signed.api(e.into()))?;
    let title = heading(lang, &l, "受付後", "After");
    let markup = page::render(
        frame(&state, &signed, &l, "after", &title),
        html! {
            h1 tabindex="-1" data-focus-on-swap { (title) }
            @match stage {
                Stage::Open => {
                    p { (t(lang, "まだ署名されていません。", "Not signed yet.")) " "
                        a href={ "/counter/visits/" (id) "/confirm" } { (t(lang, "確認・署名へ", "Go to review and sign")) } }
                }
                Stage::Confirmed => {
                    form method="post" action={ "/counter/visits/" (id) "/submit" } {
                        input type="hidden" name="csrf" value=(signed.session.csrf);
                        p { (t(lang, "署名済みです。送信すると、各課のシステムに申請が届きます。", "Signed. Sending delivers each application to its department's system.")) }
                        div.actions {
                            button.dads-button data-type="solid-fill" type="submit" hx-disabled-elt="this" { (t(lang, "送信する", "Send")) }
                        }
                    }
                }
                _ => {
                    // Kept live: the gateway sends the table again whenever a state changes.
                    div hx-ext="sse" sse-connect={ "/counter/visits/" (id) "/events" } sse-swap="applications" hx-swap="innerHTML" {
                        (applications_table(&state, lang, &applications))
                    }
                }
            }
            h2 { (t(lang, "印刷", "Print")) }
            ul {
                li { a href={ "/counter/visits/" (id) "/print/all" } { (t(lang, "届書と受付票(PDF)", "Forms and the receipt (PDF)")) } }
                li { a href={ "/counter/visits/" (id) "/print/receipt" } { (t(lang, "受付票(PDF)", "The receipt (PDF)")) } }
            }
            div.actions {
                a.dads-button data-type="outline" href="/counter" { (t(lang, "今日の受付に戻る", "Back to today's visits")) }
            }
        },
    );
    Ok(page::ok(markup))
}

/// The applications of a visit with their states: on 受付後 and in its live updates.
pub(super) fn applications_table(
    state: &AppState,
    lang: Lang,
    applications: &[crate::visits::confirmation::Application],
) -> maud::Markup {
    let name = |procedure: &str| {
        state
            .catalog
            .procedure(procedure)
            .map(|p| p.name.get(lang).to_owned())
            .unwrap_or_else(|| procedure.to_owned())
    };
    html! {
        div.table-scroll {
            table.dads-table__table data-size="dense" #applications {
                caption { (t(lang, "申請の状態", "The applications")) }
                thead { tr {
                    th scope="col" { (t(lang, "手続き", "Procedure")) }
                    th scope="col" { (t(lang, "状態", "State")) }
                    th scope="col" { (t(lang, "理由", "Reason")) }
                } }
                tbody {
                    @for a in applications {
                        @let (label, color) = state_label(lang, a.state.as_str());
                        tr {
                            th scope="row" { (name(&a.procedure_id)) }
                            td { span.dads-chip-label data-color=(color) { (label) } }
                            td { (a.reason.as_deref().unwrap_or("—")) }
                        }
                    }
                }
            }
        }
    }
}

/// `POST /counter/visits/{id}/submit`: once; a second 送信 (a double click, another tab) shows
/// the applications made by the first.
pub async fn send(
    state: web::Data<AppState>,
    signed: Signed,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, Failure> {
    let id = path.into_inner();
    match submit(&state, signed.session.staff.lg_code, &signed.actor, id).await {
        Ok(_) => Ok(page::see_other(&format!("/counter/visits/{id}/after"))),
        Err(e) if e.kind == crate::http::problem::ProblemKind::VisitSubmitted => {
            Ok(page::see_other(&format!("/counter/visits/{id}/after")))
        }
        Err(e) => Err(signed.api(e)),
    }
}

/// `GET /counter/visits/{id}/print/{what}`: `all` (every form, then the 受付票) or `receipt`.
pub async fn print(
    state: web::Data<AppState>,
    signed: Signed,
    path: web::Path<(Uuid, String)>,
) -> Result<HttpResponse, Failure> {
    let (id, what) = path.into_inner();
    let selection = match what.as_str() {
        "all" => Selection::All,
        "receipt" => Selection::Receipt,
        _ => {
            return Err(signed.refuse(
                StatusCode::NOT_FOUND,
                t(
                    signed.lang,
                    "その印刷物はありません。",
                    "There is no such printout.",
                ),
            ));
        }
    };
    print_pdf(
        &state,
        signed.session.staff.lg_code,
        &signed.actor,
        id,
        selection,
    )
    .await
    .map_err(|e| signed.api(e))
}
