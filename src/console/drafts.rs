//! 申請書: every prefilled form of the visit, each field with its value as the resident reads
//! it and its source, fixable in place. An edit goes through the same function as the API's
//! `PATCH …/drafts/{key}`; the form comes back validated, the message next to the field. With
//! htmx the draft alone is swapped (re-checked on `change`); without script the page reloads.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use maud::{Markup, html};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::page::{self, Failure, t};
use super::session::Signed;
use super::visit::{Loaded, frame, heading, load, revision_of, source_chip};
use crate::audit::Action;
use crate::http::state::AppState;
use crate::http::v1::visits::{DraftDto, DraftEditDto, drafts_of, edit_draft};
use crate::i18n::Lang;

/// The plan of a draft's form (`formId@version`), read once per form shown.
fn plan_of<'s>(state: &'s AppState, form_ref: &str) -> Option<&'s crate::forms::plan::PlanNode> {
    let (id, version) = form_ref.split_once('@').unwrap_or((form_ref, ""));
    state.forms.form(id, Some(version)).ok().map(|f| &f.plan)
}

/// The label of a form's field, as its schema titles it.
fn label(plan: Option<&crate::forms::plan::PlanNode>, pointer: &str) -> String {
    plan.map(|p| p.label_at(pointer))
        .and_then(|l| l.title.or(l.name))
        .unwrap_or_else(|| pointer.to_owned())
}

/// A field's value as the resident reads it.
fn shown(
    state: &AppState,
    plan: Option<&crate::forms::plan::PlanNode>,
    pointer: &str,
    v: &Value,
) -> String {
    match plan {
        Some(plan) => crate::visits::printouts::shown_at(&state.forms.eras, plan, pointer, v),
        None => v.to_string(),
    }
}

/// A field's codes with their labels, in code order.
fn sorted_codes(codes: &std::collections::HashMap<String, String>) -> Vec<(&String, &String)> {
    let mut sorted: Vec<(&String, &String)> = codes.iter().collect();
    sorted.sort();
    sorted
}

/// The value a text input shows for `v`.
fn editable(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// What a field's error says, when there is one: its own, or its missing group's.
fn error_at<'a>(d: &'a DraftDto, pointer: &str) -> Option<&'a str> {
    d.errors
        .iter()
        .find(|e| e.pointer == pointer)
        .or_else(|| {
            d.errors.iter().find(|e| {
                pointer.starts_with(&format!("{}/", e.pointer))
                    && d.document.pointer(&e.pointer).is_none()
            })
        })
        .map(|e| e.message.as_str())
}

pub(super) fn draft_section(
    state: &AppState,
    signed: &Signed,
    l: &Loaded,
    n: usize,
    d: &DraftDto,
) -> Markup {
    let lang = signed.lang;
    let id = l.visit.id;
    let section = format!("draft-{n}");
    // Every field with a source, then each field still wrong that has none; a missing group
    // (an address) as the fields it requires.
    let mut rows: Vec<(String, Option<String>)> = d
        .fields
        .iter()
        .map(|f| (f.pointer.clone(), Some(f.source.clone())))
        .collect();
    let plan = plan_of(state, &d.form);
    for e in &d.errors {
        let node = plan.and_then(|p| p.at(&e.pointer));
        let parts: Vec<String> = match node {
            Some(n) if !n.properties.is_empty() && d.document.pointer(&e.pointer).is_none() => {
                // Its required fields; where it requires one of several (a phone or an
                // e-mail address), each of them.
                let required: Vec<&String> = n
                    .order
                    .iter()
                    .filter(|k| n.required.contains(k.as_str()))
                    .collect();
                let keys = if required.is_empty() {
                    n.order.iter().collect()
                } else {
                    required
                };
                keys.into_iter()
                    .map(|k| format!("{}/{k}", e.pointer))
                    .collect()
            }
            _ => vec![e.pointer.clone()],
        };
        for p in parts {
            if !rows.iter().any(|(r, _)| *r == p) {
                rows.push((p, None));
            }
        }
    }
    html! {
        section.draft #(section) aria-labelledby={ (section) "-title" } {
            h2 #{ (section) "-title" } tabindex="-1" { (d.form_title) }
            p {
                (d.procedure_name) " "
                @if d.valid {
                    span.dads-chip-label data-color="green" { (t(lang, "入力完了", "Complete")) }
                } @else {
                    span.dads-chip-label data-color="orange" { (t(lang, "要確認", "To check")) " " (d.errors.len()) }
                }
            }
            div.table-scroll {
                table.dads-table__table data-size="dense" {
                    caption.visually-hidden { (d.form_title) }
                    thead { tr {
                        th scope="col" { (t(lang, "項目", "Field")) }
                        th scope="col" { (t(lang, "値", "Value")) }
                        th scope="col" { (t(lang, "出どころ", "Source")) }
                        th scope="col" { (t(lang, "編集", "Edit")) }
                    } }
                    tbody {
                        @for (i, (pointer, source)) in rows.iter().enumerate() {
                            @let value = d.document.pointer(pointer);
                            @let field = format!("{section}-f{i}");
                            @let error = error_at(d, pointer);
                            @let title = label(plan, pointer);
                            tr {
                                th scope="row" #{ (field) "-label" } { (title) }
                                td { @if let Some(v) = value { (shown(state, plan, pointer, v)) } @else { "—" } }
                                td { @if let Some(s) = source { (source_chip(lang, s)) } @else { "—" } }
                                td {
                                    form method="post" action={ "/counter/visits/" (id) "/drafts" }
                                        hx-post={ "/counter/visits/" (id) "/drafts" }
                                        hx-trigger="change, submit"
                                        hx-target={ "#" (section) }
                                        hx-select={ "#" (section) }
                                        hx-swap="outerHTML" {
                                        input type="hidden" name="csrf" value=(signed.session.csrf);
                                        input type="hidden" name="key" value=(d.key);
                                        input type="hidden" name="pointer" value=(pointer);
                                        input type="hidden" name="revision" value=(l.visit.revision);
                                        label.visually-hidden for=(field) { (title) }
                                        @let codes = plan.and_then(|p| p.at(pointer)).map(|n| &n.labels).filter(|l| !l.is_empty());
                                        @let boolean = plan.and_then(|p| p.at(pointer)).and_then(|n| n.ty.as_deref()) == Some("boolean");
                                        @if boolean {
                                            @let current = editable(value);
                                            select.dads-select #(field) name="value"
                                                aria-invalid=[error.map(|_| "true")]
                                                aria-describedby=[error.map(|_| format!("{field}-error"))] {
                                                option value="" selected[current.is_empty()] { (t(lang, "選んでください", "Choose")) }
                                                option value="true" selected[current == "true"] { (t(lang, "はい", "Yes")) }
                                                option value="false" selected[current == "false"] { (t(lang, "いいえ", "No")) }
                                            }
                                        } @else if let Some(codes) = codes {
                                            @let current = editable(value);
                                            @let sorted = sorted_codes(codes);
                                            select.dads-select #(field) name="value"
                                                aria-invalid=[error.map(|_| "true")]
                                                aria-describedby=[error.map(|_| format!("{field}-error"))] {
                                                option value="" selected[current.is_empty()] { (t(lang, "選んでください", "Choose")) }
                                                @for (code, text) in sorted {
                                                    option value=(code) selected[current == *code] { (text) }
                                                }
                                            }
                                        } @else {
                                            input.dads-input-text__input #(field) name="value" type="text" autocomplete="off"
                                                value=(editable(value))
                                                aria-invalid=[error.map(|_| "true")]
                                                aria-describedby=[error.map(|_| format!("{field}-error"))];
                                        }
                                        @if let Some(e) = error {
                                            span.dads-form-control-label__error #{ (field) "-error" } { "＊" (e) }
                                        }
                                        button.dads-button data-type="text" data-size="sm" type="submit" aria-describedby={ (field) "-label" } { (t(lang, "保存", "Save")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn drafts_page(
    state: &AppState,
    signed: &Signed,
    l: &Loaded,
    drafts: &[DraftDto],
    prefilled: usize,
    typed: usize,
) -> Markup {
    let lang = signed.lang;
    let id = l.visit.id;
    let title = heading(lang, l, "申請書", "Forms");
    page::render(
        frame(state, signed, l, "drafts", &title),
        html! {
            h1 tabindex="-1" data-focus-on-swap { (title) }
            p #field-count {
                (match lang {
                    Lang::Ja => format!("自動入力 {prefilled}項目・手入力 {typed}項目"),
                    Lang::En => format!("{prefilled} fields filled in for the resident, {typed} typed"),
                })
            }
            p.echo { (t(lang, "出どころ: 住民記録・カード確認済・本人の回答・職員入力・算出。値を直すと、その場で確かめます。",
                "Sources: registry, card verified, resident's answer, clerk, derived. A corrected value is checked at once.")) }
            @if drafts.is_empty() {
                p { (t(lang, "申請書はまだありません。必要な手続きが決まると作られます。", "No forms yet: they are made once procedures are decided.")) }
            }
            @for (n, d) in drafts.iter().enumerate() {
                (draft_section(state, signed, l, n, d))
            }
            div.actions {
                a.dads-button data-type="outline" href={ "/counter/visits/" (id) "/procedures" } { (t(lang, "戻る", "Back")) }
                a.dads-button data-type="solid-fill" href={ "/counter/visits/" (id) "/confirm" } { (t(lang, "次へ(確認・署名)", "Next: review and sign")) }
            }
        },
    )
}

/// `GET /counter/visits/{id}/drafts`.
pub async fn page(
    state: web::Data<AppState>,
    signed: Signed,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, Failure> {
    let l = load(&state, &signed, path.into_inner()).await?;
    let drafts = drafts_of(&state, &l.visit, signed.lang)
        .await
        .map_err(|e| signed.api(e))?;
    Ok(page::ok(drafts_page(
        &state,
        &signed,
        &l,
        &drafts.drafts,
        drafts.prefilled_fields,
        drafts.typed_fields,
    )))
}

/// The value typed, as the form's field takes it: a number or yes/no where the schema's type
/// (`ty`) or the current value is one, text otherwise. A number that does not read stays
/// text, for the form's check to name.
fn typed_value(current: Option<&Value>, ty: Option<&str>, raw: &str) -> Value {
    let number =
        matches!(ty, Some("integer" | "number")) || matches!(current, Some(Value::Number(_)));
    let boolean = ty == Some("boolean") || matches!(current, Some(Value::Bool(_)));
    if number && let Ok(n) = serde_json::from_str::<serde_json::Number>(raw) {
        return Value::Number(n);
    }
    if boolean && (raw == "true" || raw == "false") {
        return Value::Bool(raw == "true");
    }
    Value::String(raw.to_owned())
}

/// `POST /counter/visits/{id}/drafts`: one field set (or removed when emptied).
pub async fn edit(
    state: web::Data<AppState>,
    signed: Signed,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, Failure> {
    let id = path.into_inner();
    let lang = signed.lang;
    let f = &signed.fields;
    let (Some(key), Some(pointer)) = (f.get("key"), f.get("pointer")) else {
        return Err(signed.refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            t(
                lang,
                "直す項目が分かりません。画面を読み込み直してください。",
                "Which field to change is missing. Reload the page.",
            ),
        ));
    };
    let code = signed.session.staff.lg_code;
    let visit =
        crate::http::v1::visits::read_visit(&state, code, &signed.actor, id, Action::VisitRead)
            .await
            .map_err(|e| signed.api(e))?;
    let draft = drafts_of(&state, &visit, lang)
        .await
        .map_err(|e| signed.api(e))?
        .drafts
        .into_iter()
        .find(|d| d.key == key);
    let current = draft
        .as_ref()
        .and_then(|d| d.document.pointer(pointer).cloned());
    let ty = draft
        .as_ref()
        .and_then(|d| plan_of(&state, &d.form))
        .and_then(|p| p.at(pointer))
        .and_then(|n| n.ty.clone());
    let raw = f.get("value");
    let mut set = Map::new();
    let mut remove = Vec::new();
    match raw {
        Some(raw) => {
            set.insert(
                pointer.to_owned(),
                typed_value(current.as_ref(), ty.as_deref(), raw),
            );
        }
        None => remove.push(pointer.to_owned()),
    }
    let expected = revision_of(&signed);
    match edit_draft(
        &state,
        code,
        &signed.actor,
        id,
        key,
        DraftEditDto { set, remove },
        expected.as_deref(),
        lang,
    )
    .await
    {
        Ok(_) => Ok(page::see_other(&format!("/counter/visits/{id}/drafts"))),
        // Refused before it was recorded (a value of the wrong kind): the page again with the
        // message at the field.
        Err(e) if !e.errors.is_empty() => {
            let said: Vec<(&str, String)> = e
                .errors
                .iter()
                .map(|fe| (fe.code, fe.message.get(lang).to_owned()))
                .collect();
            refused(
                &state,
                &signed,
                id,
                key,
                pointer,
                said,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        // Made on a page older than the visit (another tab, another clerk): the latest forms,
        // and at the field what was typed and not saved.
        Err(e) if e.status == StatusCode::PRECONDITION_FAILED => {
            let typed = raw.unwrap_or("");
            let said = match lang {
                Lang::Ja => format!(
                    "別の画面でこの来庁が変更されていたため、入力した「{typed}」は保存していません。最新の内容を確かめて、もう一度入力してください。"
                ),
                Lang::En => format!(
                    "This visit was changed in another tab or by another clerk, so \"{typed}\" was not saved. Check the latest and type it again."
                ),
            };
            refused(
                &state,
                &signed,
                id,
                key,
                pointer,
                vec![("visit_changed", said)],
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(e) => Err(signed.api(e)),
    }
}

/// The forms page again, with `said` at the field the edit was for.
async fn refused(
    state: &AppState,
    signed: &Signed,
    id: Uuid,
    key: &str,
    pointer: &str,
    said: Vec<(&str, String)>,
    status: StatusCode,
) -> Result<HttpResponse, Failure> {
    let l = load(state, signed, id).await?;
    let mut drafts = drafts_of(state, &l.visit, signed.lang)
        .await
        .map_err(|e| signed.api(e))?;
    for d in drafts.drafts.iter_mut().filter(|d| d.key == key) {
        d.errors.retain(|x| x.pointer != pointer);
        for (code, message) in &said {
            d.errors.push(crate::http::v1::forms::FormErrorDto {
                pointer: pointer.to_owned(),
                keyword: "edit".to_owned(),
                code: (*code).to_owned(),
                message: message.clone(),
            });
        }
    }
    Ok(page::with_status(
        status,
        drafts_page(
            state,
            signed,
            &l,
            &drafts.drafts,
            drafts.prefilled_fields,
            drafts.typed_fields,
        ),
    ))
}
