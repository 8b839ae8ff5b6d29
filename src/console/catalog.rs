//! 手続きの設定 `/counter/catalog`: the procedure catalogue in force for the clerk's
//! municipality (its version, each procedure's 担当課, fee and whether it is on, the municipal
//! parameters), and for supervisors the municipality's overrides edited in place. 変更を確認する
//! shows what would change against the catalogue in force (and every problem) before anything
//! is saved; 保存する saves a new version for visits opened from then on, refused when someone
//! saved another version since the preview. Read and saved through the functions the API's
//! catalogue handlers call (`catalog_dto`, `current_overrides`, `save_overrides`): the same
//! checks and the same audit, with the supervisor as actor.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use serde_json::Value;

use super::page::{self, Failure, Frame, t};
use super::session::Signed;
use crate::catalog::overrides::{Overrides, ProcedureChange};
use crate::catalog::{Catalog, Fee};
use crate::forms::normalize::width::fold_char;
use crate::http::state::AppState;
use crate::http::v1::catalog::{catalog_dto, current_overrides, save_overrides};
use crate::i18n::Lang;
use crate::staff::Role;

fn may_edit(signed: &Signed) -> bool {
    signed.session.staff.role >= Role::Supervisor
}

fn yen(y: Option<u32>) -> String {
    y.map(|y| y.to_string()).unwrap_or_default()
}

/// What the form holds for each field (its name → the value typed), or what is in force.
type Values = BTreeMap<String, String>;

fn in_force(catalog: &Catalog) -> Values {
    let mut v = Values::new();
    for p in catalog.procedures.iter().filter(|p| !p.local) {
        if p.enabled {
            v.insert(format!("on-{}", p.id), "1".to_owned());
        }
        v.insert(format!("fee-{}", p.id), yen(p.fee.as_ref().map(|f| f.yen)));
        v.insert(format!("dept-{}", p.id), p.department.clone());
    }
    for (name, _, value) in catalog.parameters.iter() {
        v.insert(format!("param-{name}"), value.to_string());
    }
    v
}

/// A number typed in any width, with 円 or commas.
fn number(typed: &str) -> Option<i64> {
    let digits: String = typed
        .chars()
        .map(fold_char)
        .filter(|c| !matches!(c, ',' | '円' | ' '))
        .collect();
    if digits.is_empty() {
        return None;
    }
    digits.parse().ok()
}

/// The overrides the form asks for: the built-in catalogue changed where the form differs from
/// it, the current overrides' documents, local procedures and closed days kept. Problems by
/// field name.
fn desired(
    base: &Catalog,
    current: &Overrides,
    form: &Values,
    lang: Lang,
) -> Result<Overrides, Vec<(String, String)>> {
    let mut errors = Vec::new();
    let mut out = current.clone();
    out.procedures.clear();
    for p in base.procedures.iter().filter(|p| !p.local) {
        let id = &p.id;
        let mut change: ProcedureChange = current.procedures.get(id).cloned().unwrap_or_default();
        let enabled = form.contains_key(&format!("on-{id}"));
        change.enabled = (enabled != p.enabled).then_some(enabled);
        let fee_field = format!("fee-{id}");
        let typed = form
            .get(&fee_field)
            .map(String::as_str)
            .unwrap_or("")
            .trim();
        let fee = if typed.is_empty() {
            Some(None)
        } else {
            match number(typed) {
                Some(y) if (1..=1_000_000).contains(&y) => Some(u32::try_from(y).ok()),
                _ => {
                    errors.push((
                        fee_field,
                        t(
                            lang,
                            "手数料は1〜1,000,000の円単位の整数で入れてください(無料なら空欄)。",
                            "A fee is a whole number of yen from 1 to 1,000,000 (empty: no fee).",
                        )
                        .to_owned(),
                    ));
                    None
                }
            }
        };
        if let Some(fee) = fee {
            let base_yen = p.fee.as_ref().map(|f| f.yen);
            change.fee = (fee != base_yen).then(|| {
                fee.map(|yen| Fee {
                    yen,
                    per: p.fee.as_ref().and_then(|f| f.per.clone()),
                })
            });
        }
        let dept_field = format!("dept-{id}");
        let dept = form.get(&dept_field).map(|d| d.trim()).unwrap_or("");
        if dept.is_empty() || dept.chars().count() > 32 {
            errors.push((
                dept_field,
                t(
                    lang,
                    "担当課を32文字までで入れてください。",
                    "Give the department, up to 32 characters.",
                )
                .to_owned(),
            ));
        } else {
            change.department = (dept != p.department).then(|| dept.to_owned());
        }
        if change != ProcedureChange::default() {
            out.procedures.insert(id.clone(), change);
        }
    }
    out.parameters.clear();
    for (name, def, _) in base.parameters.iter() {
        let field = format!("param-{name}");
        match form.get(&field).and_then(|v| number(v)) {
            Some(v) if v == def.default => {}
            Some(v) => {
                out.parameters.insert(name.to_owned(), Value::from(v));
            }
            None => errors.push((
                field,
                t(lang, "整数で入れてください。", "Give a whole number.").to_owned(),
            )),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// One line of the preview: what changes, from what, to what.
struct Change {
    what: String,
    item: &'static str,
    from: String,
    to: String,
}

fn differences(lang: Lang, now: &Catalog, next: &Catalog) -> Vec<Change> {
    let on = |b: bool| {
        t(
            lang,
            if b { "受け付ける" } else { "止める" },
            if b { "on" } else { "off" },
        )
        .to_owned()
    };
    let fee = |f: Option<&Fee>| match f {
        Some(f) => format!(
            "{}{}",
            crate::visits::printouts::yen(f.yen),
            t(lang, "円", " yen")
        ),
        None => t(lang, "なし", "none").to_owned(),
    };
    let mut out = Vec::new();
    for p in &next.procedures {
        let name = p.name.get(lang).to_owned();
        let Some(before) = now.procedures.iter().find(|q| q.id == p.id) else {
            out.push(Change {
                what: name,
                item: t(lang, "手続き", "procedure"),
                from: "—".to_owned(),
                to: t(lang, "追加", "added").to_owned(),
            });
            continue;
        };
        if before.enabled != p.enabled {
            out.push(Change {
                what: name.clone(),
                item: t(lang, "受付", "in use"),
                from: on(before.enabled),
                to: on(p.enabled),
            });
        }
        if before.fee.as_ref().map(|f| f.yen) != p.fee.as_ref().map(|f| f.yen) {
            out.push(Change {
                what: name.clone(),
                item: t(lang, "手数料", "fee"),
                from: fee(before.fee.as_ref()),
                to: fee(p.fee.as_ref()),
            });
        }
        if before.department != p.department {
            out.push(Change {
                what: name,
                item: t(lang, "担当課", "department"),
                from: before.department.clone(),
                to: p.department.clone(),
            });
        }
    }
    for (name, def, value) in next.parameters.iter() {
        let before = now.parameters.value(name).unwrap_or(def.default);
        if before != value {
            out.push(Change {
                what: def.label.get(lang).to_owned(),
                item: t(lang, "設定値", "parameter"),
                from: format!("{before}{}", def.unit.get(lang)),
                to: format!("{value}{}", def.unit.get(lang)),
            });
        }
    }
    out
}

struct View<'a> {
    form: &'a Values,
    errors: &'a [(String, String)],
    preview: Option<&'a [Change]>,
    based_on: i64,
    banner: Option<String>,
}

fn render(
    state: &AppState,
    signed: &Signed,
    catalog: &Catalog,
    version: i64,
    v: View<'_>,
) -> Markup {
    let lang = signed.lang;
    let title = t(lang, "手続きの設定", "Procedure catalogue");
    let edit = may_edit(signed);
    let dto = catalog_dto(state, version, catalog, lang);
    let error_of = |name: &str| {
        v.errors
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, m)| m.as_str())
    };
    let value = |name: &str| v.form.get(name).map(String::as_str).unwrap_or("");
    page::render(
        Frame {
            lang,
            title,
            signed: Some(signed),
            nav: None,
            side: None,
        },
        html! {
            h1 tabindex="-1" data-focus-on-swap { (title) }
            p { (t(lang, "今の版: ", "In force: ")) strong #catalog-version { (dto.catalog_version) }
                (t(lang, "。変更は保存した後に始まる来庁から使われます(受付中の来庁は元の版のまま)。", ". A change applies to visits opened after it is saved (open visits keep their version).")) }
            @if let Some(b) = &v.banner {
                div.dads-notification-banner data-type="success" role="status" { h2 { (b) } }
            }
            @if !v.errors.is_empty() {
                div.dads-notification-banner data-type="error" role="alert" #error-summary {
                    h2 { (t(lang, "直すところがあります", "Some values need fixing")) }
                    ul { @for (name, m) in v.errors { li { a href={ "#" (name) } { (m) } } } }
                }
            }
            @if let Some(changes) = v.preview {
                section #preview aria-labelledby="preview-title" {
                    h2 #preview-title { (t(lang, "保存すると変わること", "What saving changes")) }
                    @if changes.is_empty() {
                        p { (t(lang, "今の版から変わるところはありません。", "Nothing changes from the version in force.")) }
                    } @else {
                        table.dads-table__table data-size="dense" {
                            thead { tr {
                                th scope="col" { (t(lang, "手続き・設定", "Procedure or parameter")) }
                                th scope="col" { (t(lang, "項目", "Item")) }
                                th scope="col" { (t(lang, "今", "Now")) }
                                th scope="col" { (t(lang, "変更後", "After")) }
                            } }
                            tbody { @for c in changes { tr {
                                th scope="row" { (c.what) } td { (c.item) } td { del { (c.from) } } td { strong { (c.to) } }
                            } } }
                        }
                    }
                }
            }
            @if !edit {
                p { (t(lang, "設定を変えられるのは監督者と管理者です。", "Supervisors and administrators change these.")) }
            }
            form method="post" action="/counter/catalog/preview" {
                input type="hidden" name="csrf" value=(signed.session.csrf);
                input type="hidden" name="based_on" value=(v.based_on);
                div.table-scroll {
                    table.dads-table__table data-size="dense" #procedures {
                        caption { (t(lang, "手続き", "Procedures")) }
                        thead { tr {
                            th scope="col" { (t(lang, "手続き", "Procedure")) }
                            th scope="col" { (t(lang, "受け付ける", "In use")) }
                            th scope="col" { (t(lang, "手数料(円)", "Fee (yen)")) }
                            th scope="col" { (t(lang, "担当課", "Department")) }
                        } }
                        tbody {
                            @for p in dto.procedures.iter().filter(|p| !p.local) {
                                @let on = format!("on-{}", p.id);
                                @let fee = format!("fee-{}", p.id);
                                @let dept = format!("dept-{}", p.id);
                                @let row = format!("row-{}", p.id);
                                tr {
                                    th scope="row" #(row) { (p.name) }
                                    td { input #(on) type="checkbox" name=(on) value="1" checked[!value(&on).is_empty()] disabled[!edit] aria-labelledby=(row); }
                                    td {
                                        input.dads-input-text__input #(fee) name=(fee) type="text" inputmode="numeric" size="8" value=(value(&fee)) disabled[!edit]
                                            aria-label={ (p.name) " " (t(lang, "手数料(円)", "fee (yen)")) }
                                            aria-invalid=[error_of(&fee).map(|_| "true")];
                                        @if let Some(m) = error_of(&fee) { span.dads-form-control-label__error { "＊" (m) } }
                                    }
                                    td {
                                        input.dads-input-text__input #(dept) name=(dept) type="text" size="12" value=(value(&dept)) disabled[!edit]
                                            aria-label={ (p.name) " " (t(lang, "担当課", "department")) }
                                            aria-invalid=[error_of(&dept).map(|_| "true")];
                                        @if let Some(m) = error_of(&dept) { span.dads-form-control-label__error { "＊" (m) } }
                                    }
                                }
                            }
                        }
                    }
                }
                h2 #parameters-title { (t(lang, "団体ごとの設定値", "Municipal parameters")) }
                @for p in &dto.parameters {
                    @let field = format!("param-{}", p.name);
                    div.dads-form-control-label {
                        label.dads-form-control-label__label for=(field) { (p.label) "(" (p.unit) ")" }
                        span.dads-form-control-label__support #{ (field) "-support" } {
                            (p.description) " " (t(lang, "範囲", "Range")) " " (p.minimum) "〜" (p.maximum) "、" (t(lang, "既定", "default")) " " (p.default)
                        }
                        input.dads-input-text__input #(field) name=(field) type="text" inputmode="numeric" size="6" value=(value(&field)) disabled[!edit]
                            aria-describedby={ (field) "-support" } aria-invalid=[error_of(&field).map(|_| "true")];
                        @if let Some(m) = error_of(&field) { span.dads-form-control-label__error { "＊" (m) } }
                    }
                }
                @if edit {
                    div.actions {
                        button.dads-button data-type="outline" type="submit" { (t(lang, "変更を確認する", "Preview the changes")) }
                        @if v.preview.is_some_and(|c| !c.is_empty()) && v.errors.is_empty() {
                            button.dads-button data-type="solid-fill" type="submit" formaction="/counter/catalog/save" #save { (t(lang, "この内容で保存する", "Save these changes")) }
                        }
                    }
                }
            }
        },
    )
}

async fn in_force_now(
    state: &AppState,
    signed: &Signed,
) -> Result<(i64, std::sync::Arc<Catalog>), Failure> {
    state
        .catalogs
        .current(&signed.session.staff.lg_code)
        .await
        .map_err(|e| signed.api(crate::http::v1::visits::catalog_problem(e)))
}

/// `GET /counter/catalog`.
pub async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed: Signed,
) -> Result<HttpResponse, Failure> {
    let (version, catalog) = in_force_now(&state, &signed).await?;
    let saved = page::field(&page::query(&req), "saved").map(|v| match signed.lang {
        Lang::Ja => format!("保存しました。新しい版は {v} です。"),
        Lang::En => format!("Saved: the new version is {v}."),
    });
    let form = in_force(&catalog);
    Ok(page::ok(render(
        &state,
        &signed,
        &catalog,
        version,
        View {
            form: &form,
            errors: &[],
            preview: None,
            based_on: version,
            banner: saved,
        },
    )))
}

fn form_of(signed: &Signed) -> Values {
    let mut v = Values::new();
    for (key, value) in signed.fields.pairs() {
        v.entry(key.to_owned()).or_insert_with(|| value.to_owned());
    }
    v
}

/// Refused unless a supervisor or an administrator.
fn editor(signed: &Signed) -> Result<(), Failure> {
    if may_edit(signed) {
        return Ok(());
    }
    Err(signed.refuse(
        StatusCode::FORBIDDEN,
        t(
            signed.lang,
            "手続きの設定を変えられるのは監督者と管理者です。",
            "Only supervisors and administrators change the catalogue.",
        ),
    ))
}

/// `POST /counter/catalog/preview`: what would change, nothing saved.
pub async fn preview(state: web::Data<AppState>, signed: Signed) -> Result<HttpResponse, Failure> {
    editor(&signed)?;
    let lang = signed.lang;
    let code = signed.session.staff.lg_code;
    let (version, now) = in_force_now(&state, &signed).await?;
    let (_, current, _) = current_overrides(&state, &code)
        .await
        .map_err(|e| signed.api(e))?;
    let form = form_of(&signed);
    let based_on = signed
        .fields
        .get("based_on")
        .and_then(|b| b.parse().ok())
        .unwrap_or(version);
    let (changes, errors) = match desired(&state.catalog, &current, &form, lang) {
        Ok(next) => match state.catalog.with_overrides(&next, &state.forms) {
            Ok(next) => (differences(lang, &now, &next), Vec::new()),
            Err(problems) => (
                Vec::new(),
                problems
                    .into_iter()
                    .map(|p| {
                        (
                            "procedures".to_owned(),
                            format!("{}: {}", p.pointer, p.message),
                        )
                    })
                    .collect(),
            ),
        },
        Err(errors) => (Vec::new(), errors),
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let r = page::with_status(
        status,
        render(
            &state,
            &signed,
            &now,
            version,
            View {
                form: &form,
                errors: &errors,
                preview: Some(&changes),
                based_on,
                banner: None,
            },
        ),
    );
    Ok(r)
}

/// `POST /counter/catalog/save`: a new version, unless another was saved since the preview.
pub async fn save(state: web::Data<AppState>, signed: Signed) -> Result<HttpResponse, Failure> {
    editor(&signed)?;
    let lang = signed.lang;
    let code = signed.session.staff.lg_code;
    let (version, _) = in_force_now(&state, &signed).await?;
    let based_on = signed
        .fields
        .get("based_on")
        .and_then(|b| b.parse::<i64>().ok());
    if based_on != Some(version) {
        return Err(signed.refuse(
            StatusCode::CONFLICT,
            t(
                lang,
                "確認した後に、別の人が手続きの設定を保存しました。画面を開き直して、もう一度変更を確認してください。",
                "Someone saved the catalogue after your preview. Open the page again and preview your changes again.",
            ),
        ));
    }
    let (_, current, _) = current_overrides(&state, &code)
        .await
        .map_err(|e| signed.api(e))?;
    let next = desired(&state.catalog, &current, &form_of(&signed), lang).map_err(|errors| {
        let message = errors
            .into_iter()
            .map(|(_, m)| m)
            .collect::<Vec<_>>()
            .join(" ");
        signed.refuse(StatusCode::UNPROCESSABLE_ENTITY, &message)
    })?;
    let saved = save_overrides(&state, &code, next, &signed.actor)
        .await
        .map_err(|e| signed.api(e))?;
    Ok(page::see_other(&format!(
        "/counter/catalog?saved={}",
        state.catalogs.label(saved)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fee_is_read_as_a_clerk_types_it() {
        assert_eq!(number("３００円"), Some(300));
        assert_eq!(number("1,200"), Some(1200));
        assert_eq!(number(""), None);
        assert_eq!(number("三百"), None);
    }
}
