//! 世帯の情報 (`/counter/visits/{id}/household`): each member's recorded facts (name, kana,
//! date of birth, sex, relationship) with their source, typed once by the clerk so that every
//! form takes them from here. A move-in family is not in the directory: this is where their
//! facts come in. Saved through the same function as the API's answers (all or none, the
//! dictionary's checks and normalization: kana to full-width katakana, 和暦 dates read by the
//! era table), with the source 職員入力.
//!
//! A value the card verified is changed only when the clerk says so for that person: the card
//! is the stronger source, and a typo must not quietly replace it. A save that meets a change
//! made meanwhile (a second tab, a second clerk) keeps what was typed and shows the latest.

use std::collections::{BTreeMap, HashMap};

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use maud::{Markup, html};
use serde_json::Value;
use uuid::Uuid;

use super::page::{self, Failure, t};
use super::session::Signed;
use super::visit::{Loaded, fact, frame, heading, load, member_name, revision_of, source_chip};
use crate::http::state::AppState;
use crate::http::v1::visits::{AnswerDto, changed, check_answers, record_answers};
use crate::i18n::Lang;
use crate::store::VisitChange;
use crate::validation::FieldError;

/// The member facts a clerk types here, in the order of the 住民異動届.
const FIELDS: [&str; 7] = [
    "familyName",
    "givenName",
    "familyNameKana",
    "givenNameKana",
    "dateOfBirth",
    "sex",
    "relationship",
];

/// The form field of one member's fact (`m2.dateOfBirth`); its HTML id is `f-m2-dateOfBirth`.
fn key(member: &str, name: &str) -> String {
    format!("{member}.{name}")
}

fn field_id(member: &str, name: &str) -> String {
    format!("f-{member}-{name}")
}

fn override_name(member: &str) -> String {
    format!("{member}.overrideCard")
}

/// A recorded value as the field shows it, and as the clerk would type it back unchanged: a
/// date in 和暦, anything else as recorded.
fn editable(state: &AppState, name: &str, value: &Value) -> String {
    match value {
        Value::String(s) if name == "dateOfBirth" => {
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| state.forms.eras.wareki_day(d))
                .unwrap_or_else(|| s.clone())
        }
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// What the clerk typed (kept when the save is refused) and what was wrong with it.
#[derive(Default)]
struct Typed {
    values: HashMap<String, String>,
    /// By form key, in the page's order of members and fields (a key sorts by member id).
    errors: BTreeMap<String, String>,
    /// A banner above the form: (kind, heading, text).
    banner: Option<(&'static str, String, String)>,
}

/// `GET /counter/visits/{id}/household`.
pub async fn page(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    signed: Signed,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, Failure> {
    let l = load(&state, &signed, path.into_inner()).await?;
    let lang = signed.lang;
    let pairs = page::query(&req);
    let mut typed = Typed::default();
    if let Some(n) = page::field(&pairs, "saved").and_then(|n| n.parse::<usize>().ok()) {
        typed.banner = Some((
            "success",
            t(lang, "保存しました", "Saved").to_owned(),
            match lang {
                Lang::Ja => format!(
                    "{n}項目を「職員入力」として記録しました。申請書はこの値で作り直されます。"
                ),
                Lang::En => {
                    format!("{n} facts recorded with the source Clerk; the forms take them now.")
                }
            },
        ));
    }
    Ok(page::ok(household_page(&state, &signed, &l, &typed)))
}

fn household_page(state: &AppState, signed: &Signed, l: &Loaded, typed: &Typed) -> Markup {
    let lang = signed.lang;
    let id = l.visit.id;
    let title = heading(lang, l, "世帯の情報", "Household");
    let label = |name: &str| {
        state
            .catalog
            .facts
            .lookup(&format!("member.{name}"))
            .map(|d| d.label.get(lang).to_owned())
            .unwrap_or_else(|| name.to_owned())
    };
    page::render(
        frame(state, signed, l, "household", &title),
        html! {
            h1 tabindex="-1" data-focus-on-swap { (title) }
            @if let Some((kind, head, text)) = &typed.banner {
                div.dads-notification-banner data-type=(kind) role=(if *kind == "success" { "status" } else { "alert" }) #household-banner {
                    h2 { (head) }
                    p { (text) }
                }
            }
            @if !typed.errors.is_empty() {
                div.dads-notification-banner data-type="error" role="alert" #error-summary {
                    h2 { (t(lang, "保存できませんでした", "Not saved")) }
                    p { (match lang { Lang::Ja => format!("{}項目を直してください。どれも保存していません。", typed.errors.len()), Lang::En => format!("Correct {} fields; nothing was saved.", typed.errors.len()) }) }
                    ul {
                        @for (k, e) in &typed.errors {
                            @if let Some((member, name)) = k.split_once('.') {
                                li { a href={ "#" (field_id(member, name)) } { (member_name(lang, &l.dto, member)) " " (label(name)) ": " (e) } }
                            } @else {
                                li { (e) }
                            }
                        }
                    }
                }
            }
            p { (t(lang, "一度入れた値は、すべての申請書に使われます。ラベルの横に今の値の出どころを示します。日付は和暦でも西暦でも入れられます。フリガナはひらがなでも入れられます(カタカナで記録します)。",
                "A value typed once is used by every form. Each label shows where the current value came from. Dates in 和暦 or Gregorian; kana in hiragana too (recorded in katakana).")) }
            form method="post" action={ "/counter/visits/" (id) "/household" } #household-form novalidate {
                input type="hidden" name="csrf" value=(signed.session.csrf);
                input type="hidden" name="revision" value=(l.visit.revision);
                @for m in &l.dto.members {
                    @let card_held = FIELDS.iter().any(|n| fact(&m.facts, n).is_some_and(|f| f.source == "card"));
                    fieldset.member #{ "member-" (m.id) } {
                        legend { (member_name(lang, &l.dto, &m.id)) }
                        @for name in FIELDS {
                            @let k = key(&m.id, name);
                            @let fid = field_id(&m.id, name);
                            @let current = fact(&m.facts, name);
                            @let shown = typed.values.get(&k).cloned().or_else(|| current.map(|f| editable(state, name, &f.value))).unwrap_or_default();
                            @let error = typed.errors.get(&k);
                            div.dads-form-control-label {
                                label.dads-form-control-label__label for=(fid) {
                                    (label(name)) " "
                                    @if let Some(f) = current { (source_chip(lang, &f.source)) }
                                }
                                @if name == "dateOfBirth" {
                                    span.dads-form-control-label__support #{ (fid) "-support" } {
                                        (t(lang, "例: 昭和55年2月17日、S55.2.17、1980-02-17", "e.g. 昭和55年2月17日, S55.2.17, 1980-02-17"))
                                        @if let Some(Value::String(iso)) = current.map(|f| &f.value) { " (" (iso) ")" }
                                    }
                                }
                                @if name == "relationship" {
                                    span.dads-form-control-label__support #{ (fid) "-support" } { (t(lang, "世帯主から見た続柄(例: 世帯主、妻、子、父)", "As seen from the householder (e.g. 世帯主, 妻, 子, 父)")) }
                                }
                                @let described = {
                                    let mut d = Vec::new();
                                    if name == "dateOfBirth" || name == "relationship" { d.push(format!("{fid}-support")); }
                                    if error.is_some() { d.push(format!("{fid}-error")); }
                                    (!d.is_empty()).then(|| d.join(" "))
                                };
                                @if name == "sex" {
                                    @let options = state.catalog.facts.lookup("member.sex").and_then(|d| d.r#enum.clone()).unwrap_or_default();
                                    select.dads-select #(fid) name=(k)
                                        aria-invalid=[error.map(|_| "true")]
                                        aria-describedby=[described.as_deref()] {
                                        option value="" selected[shown.is_empty()] { (t(lang, "選んでください", "Choose")) }
                                        @for (code, text) in &options {
                                            option value=(code) selected[shown == *code] { (text.get(lang)) }
                                        }
                                    }
                                } @else {
                                    input.dads-input-text__input #(fid) name=(k) type="text" autocomplete="off" value=(shown)
                                        aria-invalid=[error.map(|_| "true")]
                                        aria-describedby=[described.as_deref()];
                                }
                                @if let Some(e) = error {
                                    span.dads-form-control-label__error #{ (fid) "-error" } { "＊" (e) }
                                }
                            }
                        }
                        @if card_held {
                            label.dads-checkbox {
                                input type="checkbox" name=(override_name(&m.id)) value="1";
                                span { (t(lang, "カードで確認した値を、本人に確かめたうえで変更する", "Change a value the card verified, having checked it with the resident")) }
                            }
                        }
                    }
                }
                div.actions {
                    button.dads-button data-type="solid-fill" type="submit" { (t(lang, "保存する", "Save")) }
                }
            }
            div.actions {
                a.dads-button data-type="outline" href={ "/counter/visits/" (id) "/identify" } { (t(lang, "戻る", "Back")) }
                a.dads-button data-type="solid-fill" href={ "/counter/visits/" (id) "/questions" } { (t(lang, "次へ(確認事項)", "Next: questions")) }
            }
        },
    )
}

/// `POST /counter/visits/{id}/household`: every changed field, recorded all or none.
pub async fn save(
    state: web::Data<AppState>,
    signed: Signed,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, Failure> {
    let id = path.into_inner();
    let lang = signed.lang;
    let l = load(&state, &signed, id).await?;
    let mut typed = Typed::default();
    // (form key, answer) of each field whose text differs from what the page showed.
    let mut changes: Vec<(String, AnswerDto)> = Vec::new();
    for m in &l.dto.members {
        let may_override = signed.fields.get(&override_name(&m.id)).is_some();
        for name in FIELDS {
            let k = key(&m.id, name);
            // Present but empty is a field the clerk cleared; absent is a field not sent.
            let Some(raw) = signed.fields.pairs().find(|(n, _)| *n == k).map(|(_, v)| v) else {
                continue;
            };
            typed.values.insert(k.clone(), raw.to_owned());
            let current = fact(&m.facts, name);
            let before = current
                .map(|f| editable(&state, name, &f.value))
                .unwrap_or_default();
            if raw == before {
                continue;
            }
            if raw.is_empty() {
                typed.errors.insert(
                    k,
                    t(
                        lang,
                        "記録した値は消せません。分からない場合は元の値のままにしてください。",
                        "A recorded value cannot be removed: leave it as it was.",
                    )
                    .to_owned(),
                );
                continue;
            }
            if current.is_some_and(|f| f.source == "card") && !may_override {
                typed.errors.insert(
                    k,
                    t(
                        lang,
                        "カードで確認した値です。本人に確かめて変える場合は、下の「カードで確認した値を…変更する」にチェックを入れてください。",
                        "The card verified this value. To change it after checking with the resident, tick the box below.",
                    )
                    .to_owned(),
                );
                continue;
            }
            changes.push((
                k,
                AnswerDto {
                    fact: format!("member.{name}"),
                    member: Some(m.id.clone()),
                    event: None,
                    value: Value::String(raw.to_owned()),
                },
            ));
        }
    }
    if !typed.errors.is_empty() {
        // The dictionary's checks of the other changes too, so that every problem shows at once.
        let (keys, answers): (Vec<String>, Vec<AnswerDto>) = changes.into_iter().unzip();
        if !answers.is_empty() {
            let errors = check_answers(&state, &l.visit, answers);
            at_fields(&mut typed, &keys, &errors, lang);
        }
        return Ok(refused(&state, &signed, &l, typed));
    }
    if changes.is_empty() {
        return Ok(page::see_other(&format!(
            "/counter/visits/{id}/household?saved=0"
        )));
    }
    let expected = revision_of(&signed);
    let (keys, answers): (Vec<String>, Vec<AnswerDto>) = changes.into_iter().unzip();
    let count = answers.len();
    let change = record_answers(
        &state,
        signed.session.staff.lg_code,
        &signed.actor,
        id,
        answers,
        expected.as_deref(),
    )
    .await
    .map_err(|e| signed.api(e))?;
    if let VisitChange::Stale(_) = change {
        // Changed meanwhile: show the latest with what was typed still in the fields.
        let latest = load(&state, &signed, id).await?;
        typed.banner = Some((
            "warning",
            t(lang, "別の画面で変更されていました", "Changed elsewhere meanwhile").to_owned(),
            t(
                lang,
                "この来庁は別の画面(別のタブや別の職員)で変更されていました。入力した値は残してあります。出どころと値を確かめて、もう一度保存してください。",
                "This visit was changed in another tab or by another clerk. What you typed is kept: check it against the sources and save again.",
            )
            .to_owned(),
        ));
        return Ok(page::with_status(
            StatusCode::CONFLICT,
            household_page(&state, &signed, &latest, &typed),
        ));
    }
    match changed(id, change) {
        Ok(_) => Ok(page::see_other(&format!(
            "/counter/visits/{id}/household?saved={count}"
        ))),
        Err(e) if !e.errors.is_empty() => {
            at_fields(&mut typed, &keys, &e.errors, lang);
            Ok(refused(&state, &signed, &l, typed))
        }
        Err(e) => Err(signed.api(e)),
    }
}

/// Each refusal of the answers at the field it came from (`/answers/{i}/…`, in the order the
/// answers were sent); one the page cannot place goes to the summary only.
fn at_fields(typed: &mut Typed, keys: &[String], errors: &[FieldError], lang: Lang) {
    for fe in errors {
        let at = fe
            .pointer
            .strip_prefix("/answers/")
            .and_then(|rest| rest.split('/').next())
            .and_then(|i| i.parse::<usize>().ok())
            .and_then(|i| keys.get(i))
            .cloned()
            .unwrap_or_default();
        typed.errors.insert(at, fe.message.get(lang).to_owned());
    }
}

fn refused(state: &AppState, signed: &Signed, l: &Loaded, typed: Typed) -> HttpResponse {
    page::with_status(
        StatusCode::UNPROCESSABLE_ENTITY,
        household_page(state, signed, l, &typed),
    )
}
