//! A visit, step by step, each step a page of its own (`/counter/visits/{id}/{step}`), so that
//! reload, Back and a second tab behave: 本人確認 (the directory searched, a resident taken
//! into a member), 確認事項 (only the open questions, yes/no in one click) and 必要な手続き
//! (the determination grouped by department). Every page reads the visit and the
//! determination through the same functions the API answers with.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use serde_json::Value;
use uuid::Uuid;

use super::card::CardForm;
use super::page::{self, Failure, Frame, t};
use super::session::Signed;
use super::today::{event_labels, stage_label};
use crate::audit::Action;
use crate::http::problem::ApiError;
use crate::http::state::AppState;
use crate::http::v1::residents::{ResidentDto, SearchParams, look_up, resident_dto};
use crate::http::v1::visits::{
    AnswerDto, DecisionDto, DeterminationDto, FactDto, VisitDto, catalog_of, changed,
    determination_dto, read_visit, record_answers, take_resident, visit_dto,
};
use crate::i18n::Lang;
use crate::store::VisitChange;
use crate::visits::Visit;

/// The steps of a visit, in the order of the counter.
const STEPS: [(&str, &str, &str); 7] = [
    ("identify", "本人確認", "Identification"),
    ("household", "世帯の情報", "Household"),
    ("questions", "確認事項", "Questions"),
    ("procedures", "必要な手続き", "Procedures"),
    ("drafts", "申請書", "Forms"),
    ("confirm", "確認・署名", "Review and sign"),
    ("after", "受付後", "After"),
];

/// The chip of a fact's source: words, never colour alone.
pub fn source_chip(lang: Lang, source: &str) -> Markup {
    let (ja, en, color) = match source {
        "registry" => ("住民記録", "Registry", "blue"),
        "card" => ("カード確認済", "Card verified", "green"),
        "answer" => ("本人の回答", "Resident's answer", "orange"),
        "preApplication" => ("事前申請", "Pre-application", "orange"),
        "clerk" => ("職員入力", "Clerk", "gray"),
        "edit" => ("職員が変更", "Changed by clerk", "gray"),
        "derived" => ("算出", "Derived", "gray"),
        _ => ("その他", "Other", "gray"),
    };
    html! { span.dads-chip-label data-color=(color) { (t(lang, ja, en)) } }
}

pub(super) fn fact<'a>(facts: &'a [FactDto], name: &str) -> Option<&'a FactDto> {
    facts.iter().find(|f| f.name == name)
}

pub(super) fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "はい".to_owned(),
        Value::Bool(false) => "いいえ".to_owned(),
        other => other.to_string(),
    }
}

/// A member's name as known so far, or "1人目".
pub(super) fn member_name(lang: Lang, v: &VisitDto, member: &str) -> String {
    v.members
        .iter()
        .find(|m| m.id == member)
        .and_then(|m| fact(&m.facts, "name").or_else(|| fact(&m.facts, "fullName")))
        .map(|f| shown(&f.value))
        .unwrap_or_else(|| ordinal(lang, member))
}

fn ordinal(lang: Lang, member: &str) -> String {
    let n = member.trim_start_matches('m');
    match lang {
        Lang::Ja => format!("{n}人目"),
        Lang::En => format!("person {n}"),
    }
}

pub(super) struct Loaded {
    pub visit: Visit,
    pub dto: VisitDto,
    pub determination: DeterminationDto,
}

pub(super) async fn load(state: &AppState, signed: &Signed, id: Uuid) -> Result<Loaded, Failure> {
    let code = signed.session.staff.lg_code;
    let visit = read_visit(state, code, &signed.actor, id, Action::VisitRead)
        .await
        .map_err(|e| signed.api(e))?;
    let catalog = catalog_of(state, &visit).await.map_err(|e| signed.api(e))?;
    let dto = visit_dto(state, &visit, signed.lang);
    let determination = determination_dto(state, &catalog, &visit, signed.lang);
    Ok(Loaded {
        visit,
        dto,
        determination,
    })
}

fn nav(lang: Lang, id: Uuid, current: &str, d: &DeterminationDto) -> Markup {
    let total = STEPS.len();
    let at = STEPS.iter().position(|s| s.0 == current).unwrap_or(0) + 1;
    html! {
        nav.dads-step-navigation data-orientation="vertical" aria-label=(t(lang, "受付の手順", "Steps of the visit")) {
            p.visually-hidden { (match lang { Lang::Ja => format!("全{total}手順中の{at}番目"), Lang::En => format!("Step {at} of {total}") }) }
            ol {
                @for (step, ja, en) in STEPS {
                    @let state = if step == current { "editing" } else if step == "questions" && d.questions.is_empty() { "completed" } else { "reached" };
                    li data-state=(state) aria-current=[(step == current).then_some("step")] {
                        a href={ "/counter/visits/" (id) "/" (step) } { (t(lang, ja, en)) }
                        @if step == "questions" && !d.questions.is_empty() {
                            " (" (d.questions.len()) ")"
                        }
                    }
                }
            }
        }
    }
}

fn side(state: &AppState, lang: Lang, l: &Loaded) -> Markup {
    let (label, color) = stage_label(lang, l.visit.stage());
    html! {
        h2 { (t(lang, "来庁の概要", "Visit summary")) }
        dl.dads-description-list {
            div { dt { (t(lang, "受付番号", "Ticket")) } dd { (l.visit.ticket.as_deref().unwrap_or("—")) } }
            div { dt { (t(lang, "窓口", "Counter")) } dd { (l.visit.counter.as_deref().unwrap_or("—")) } }
            div { dt { (t(lang, "できごと", "Life events")) } dd { (event_labels(state, lang, &l.visit)) } }
            div { dt { (t(lang, "日付", "Date")) } dd {
                @for e in &l.dto.events { (state.forms.eras.wareki_day(e.date).unwrap_or_default()) "(" (e.date) ") " }
            } }
            div { dt { (t(lang, "状態", "State")) } dd { span.dads-chip-label data-color=(color) { (label) } } }
            div { dt { (t(lang, "世帯", "Household")) } dd {
                @for m in &l.dto.members { (member_name(lang, &l.dto, &m.id)) br; }
            } }
            div { dt { (t(lang, "必要な手続き", "Procedures")) } dd { (l.determination.needed.len()) (t(lang, "件", "")) } }
        }
    }
}

pub(super) fn frame<'a>(
    state: &AppState,
    signed: &'a Signed,
    l: &Loaded,
    step: &str,
    title: &'a str,
) -> Frame<'a> {
    Frame {
        lang: signed.lang,
        title,
        signed: Some(signed),
        nav: Some(nav(signed.lang, l.visit.id, step, &l.determination)),
        side: Some(side(state, signed.lang, l)),
    }
}

pub(super) fn heading(lang: Lang, l: &Loaded, step_ja: &str, step_en: &str) -> String {
    let ticket = l
        .visit
        .ticket
        .clone()
        .unwrap_or_else(|| l.visit.id.to_string()[..8].to_owned());
    match lang {
        Lang::Ja => format!("{step_ja} — 受付番号 {ticket}"),
        Lang::En => format!("{step_en} — visit {ticket}"),
    }
}

/// `GET /counter/visits/{id}`: the first step.
pub async fn start(path: web::Path<Uuid>) -> HttpResponse {
    page::see_other(&format!("/counter/visits/{}/identify", path.into_inner()))
}

/// `GET /counter/visits/{id}/identify`: the household as known, and the directory search.
pub async fn identify(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed: Signed,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, Failure> {
    let id = path.into_inner();
    let l = load(&state, &signed, id).await?;
    identify_page(&req, &state, &signed, &l, &CardForm::default()).await
}

/// 本人確認 with the card section as `card` left it.
pub(super) async fn identify_page(
    req: &HttpRequest,
    state: &AppState,
    signed: &Signed,
    l: &Loaded,
    card: &CardForm,
) -> Result<HttpResponse, Failure> {
    let id = l.visit.id;
    let lang = signed.lang;
    let card_section = super::card::section(state, signed, l, card).await?;
    let pairs = page::query(req);
    let kana = page::field(&pairs, "kana").unwrap_or("");
    let dob = page::field(&pairs, "dob").unwrap_or("");
    let searched = !kana.is_empty() || !dob.is_empty();
    let mut search_error = None;
    let mut found: Vec<ResidentDto> = Vec::new();
    let mut truncated = false;
    if searched {
        let params = SearchParams {
            visit_id: id,
            kana: (!kana.is_empty()).then(|| kana.to_owned()),
            name: None,
            date_of_birth: (!dob.is_empty()).then(|| dob.to_owned()),
            address: None,
        };
        match look_up(state, signed.session.staff.lg_code, &signed.actor, params).await {
            Ok((residents, more)) => {
                found = residents.into_iter().map(resident_dto).collect();
                truncated = more;
            }
            Err(e) if e.status == StatusCode::BAD_REQUEST => {
                search_error = Some(e.detail.get(lang).to_owned());
            }
            Err(e) => return Err(signed.api(e)),
        }
    }
    let title = heading(lang, l, "本人確認", "Identification");
    let taken = page::field(&pairs, "taken").is_some();
    let from_card = page::field(&pairs, "card").is_some();
    let markup = page::render(
        frame(state, signed, l, "identify", &title),
        html! {
            h1 tabindex="-1" data-focus-on-swap { (title) }
            @if taken {
                div.dads-notification-banner data-type="success" role="status" {
                    h2 { (t(lang, "住民記録から取り込みました", "Taken from the registry")) }
                    p { (t(lang, "氏名・フリガナ・生年月日などは「住民記録」として記録しました。", "Name, kana, date of birth and the rest are recorded with the source Registry.")) }
                }
            }
            @if from_card {
                div.dads-notification-banner data-type="success" role="status" {
                    h2 { (t(lang, "カードから取り込みました", "Taken from the card")) }
                    p { (t(lang, "カードで確かめた氏名・生年月日・性別は「カード確認済」として記録しました。フリガナはカードにないため、住民記録か本人に確かめてください。", "The name, date of birth and sex the card verified are recorded with the source Card verified. The card has no kana: take it from the registry or ask the resident.")) }
                }
            }
            (household_table(lang, &l.dto))
            (card_section)
            h2 #search-title { (t(lang, "住民記録を検索", "Search the registry")) }
            form method="get" action={ "/counter/visits/" (id) "/identify" } aria-labelledby="search-title" {
                div.dads-form-control-label {
                    label.dads-form-control-label__label for="kana" { (t(lang, "フリガナ(カタカナ・ひらがな)", "Kana (katakana or hiragana)")) }
                    span.dads-form-control-label__support #kana-support { (t(lang, "先頭から。濁点・小さい字・長音は区別しません(例: ヤマダ)。", "From the start; voicing, small kana and long vowels are folded (e.g. ヤマダ).")) }
                    input.dads-input-text__input #kana name="kana" type="text" autocomplete="off" value=(kana) aria-describedby="kana-support";
                }
                div.dads-form-control-label {
                    label.dads-form-control-label__label for="dob" { (t(lang, "生年月日", "Date of birth")) }
                    span.dads-form-control-label__support #dob-support { (t(lang, "和暦でも西暦でも(例: S55.2.17、昭和55年2月17日、1980/2/17)。", "和暦 or Gregorian (e.g. S55.2.17, 昭和55年2月17日, 1980/2/17).")) }
                    input.dads-input-text__input #dob name="dob" type="text" autocomplete="off" value=(dob)
                        aria-invalid=[search_error.as_ref().map(|_| "true")]
                        aria-describedby={ "dob-support" @if search_error.is_some() { " search-error" } };
                    @if let Some(e) = &search_error { span.dads-form-control-label__error #search-error { "＊" (e) } }
                }
                div.actions {
                    button.dads-button data-type="solid-fill" type="submit" { (t(lang, "検索する", "Search")) }
                }
            }
            @if searched && search_error.is_none() {
                (results(lang, signed, l, &found, truncated))
            }
            div.actions {
                a.dads-button data-type="solid-fill" href={ "/counter/visits/" (id) "/household" } { (t(lang, "次へ(世帯の情報)", "Next: household")) }
            }
        },
    );
    Ok(page::ok(markup))
}

fn household_table(lang: Lang, v: &VisitDto) -> Markup {
    let rows = [
        ("familyName", "氏", "Family name"),
        ("givenName", "名", "Given name"),
        ("familyNameKana", "フリガナ(氏)", "Kana (family)"),
        ("givenNameKana", "フリガナ(名)", "Kana (given)"),
        ("dateOfBirth", "生年月日", "Date of birth"),
        ("relationship", "続柄", "Relationship"),
    ];
    html! {
        div.table-scroll {
            table.dads-table__table data-size="dense" #household {
                caption { (t(lang, "世帯の人と、分かっていること(出どころ付き)", "The household and what is known (with its source)")) }
                thead {
                    tr {
                        th scope="col" { (t(lang, "人", "Person")) }
                        @for (_, ja, en) in rows { th scope="col" { (t(lang, ja, en)) } }
                    }
                }
                tbody {
                    @for m in &v.members {
                        tr {
                            th scope="row" { (ordinal(lang, &m.id)) }
                            @for (name, _, _) in rows {
                                td {
                                    @if let Some(f) = fact(&m.facts, name) {
                                        (shown(&f.value)) " " (source_chip(lang, &f.source))
                                    } @else { "—" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn results(
    lang: Lang,
    signed: &Signed,
    l: &Loaded,
    found: &[ResidentDto],
    truncated: bool,
) -> Markup {
    let id = l.visit.id;
    html! {
        h2 #results-title { (t(lang, "検索結果", "Results")) " (" (found.len()) (t(lang, "件", "")) ")" }
        @if truncated {
            p { (t(lang, "一致する人が多すぎます。条件を足して絞り込んでください。", "Too many matched: narrow the search.")) }
        }
        @if found.is_empty() {
            p { (t(lang, "一致する住民はいません。", "No resident matched.")) }
        } @else {
            div.table-scroll {
                table.dads-table__table data-size="dense" #results aria-labelledby="results-title" {
                    thead {
                        tr {
                            th scope="col" { (t(lang, "氏名", "Name")) }
                            th scope="col" { (t(lang, "フリガナ", "Kana")) }
                            th scope="col" { (t(lang, "生年月日", "Date of birth")) }
                            th scope="col" { (t(lang, "続柄", "Relationship")) }
                            th scope="col" { (t(lang, "住所", "Address")) }
                            th scope="col" { (t(lang, "取り込む", "Take in")) }
                        }
                    }
                    tbody {
                        @for r in found {
                            @let row = format!("r-{}", r.addressee_number);
                            tr {
                                th scope="row" #(row) { (r.name) }
                                td { (r.name_kana) }
                                td { (r.date_of_birth.text) }
                                td { (r.relationship) }
                                td.address { (r.address.city) (r.address.street_address) (r.address.city_block.as_deref().unwrap_or("")) }
                                td {
                                    form method="post" action={ "/counter/visits/" (id) "/residents" } {
                                        input type="hidden" name="csrf" value=(signed.session.csrf);
                                        input type="hidden" name="addressee" value=(r.addressee_number);
                                        input type="hidden" name="revision" value=(l.visit.revision);
                                        label for={ "member-" (r.addressee_number) } { (t(lang, "誰として", "As")) }
                                        " "
                                        select.dads-select #{ "member-" (r.addressee_number) } name="member" {
                                            @for m in &l.dto.members {
                                                option value=(m.id) { (member_name(lang, &l.dto, &m.id)) }
                                            }
                                        }
                                        button.dads-button data-type="outline" data-size="sm" type="submit" aria-describedby=(row) { (t(lang, "取り込む", "Take in")) }
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

pub(super) fn revision_of(signed: &Signed) -> Option<Vec<i64>> {
    signed
        .fields
        .get("revision")
        .and_then(|r| r.parse::<i64>().ok())
        .map(|r| vec![r])
}

/// `POST /counter/visits/{id}/residents`.
pub async fn take(
    state: web::Data<AppState>,
    signed: Signed,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, Failure> {
    let id = path.into_inner();
    let lang = signed.lang;
    let (Some(addressee), Some(member)) =
        (signed.fields.get("addressee"), signed.fields.get("member"))
    else {
        return Err(signed.refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            t(
                lang,
                "取り込む人と、世帯の誰として取り込むかを選んでください。",
                "Choose the resident and whom to take them in as.",
            ),
        ));
    };
    let expected = revision_of(&signed);
    let change = take_resident(
        &state,
        signed.session.staff.lg_code,
        &signed.actor,
        id,
        addressee,
        member,
        expected.as_deref(),
    )
    .await;
    back_to_identify(&signed, id, change, "taken")
}

/// After a member's facts were taken in: 本人確認 again, its banner named by `note`.
pub(super) fn back_to_identify(
    signed: &Signed,
    id: Uuid,
    change: Result<VisitChange, ApiError>,
    note: &str,
) -> Result<HttpResponse, Failure> {
    let change = change.map_err(|e| signed.api(e))?;
    changed(id, change).map_err(|e| signed.api(e))?;
    Ok(page::see_other(&format!(
        "/counter/visits/{id}/identify?{note}=1"
    )))
}

/// `GET /counter/visits/{id}/questions`: the questions whose answers can still change the
/// outcome, each with the procedures it decides.
pub async fn questions(
    state: web::Data<AppState>,
    signed: Signed,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, Failure> {
    let id = path.into_inner();
    let l = load(&state, &signed, id).await?;
    questions_page(&state, &signed, &l, None)
}

fn questions_page(
    state: &AppState,
    signed: &Signed,
    l: &Loaded,
    error: Option<(&str, String)>,
) -> Result<HttpResponse, Failure> {
    let lang = signed.lang;
    let id = l.visit.id;
    let title = heading(lang, l, "確認事項", "Questions");
    let names = |ids: &[String]| -> String {
        ids.iter()
            .filter_map(|p| {
                l.determination
                    .undecided
                    .iter()
                    .chain(&l.determination.needed)
                    .find(|d| &d.procedure_id == p)
                    .map(|d| d.name.clone())
            })
            .collect::<Vec<_>>()
            .join("、")
    };
    let markup = page::render(
        frame(state, signed, l, "questions", &title),
        html! {
            h1 tabindex="-1" data-focus-on-swap { (title) }
            @if let Some((_, message)) = &error {
                div.dads-notification-banner data-type="error" role="alert" #error-summary {
                    h2 { (t(lang, "回答を記録できませんでした", "The answer was not recorded")) }
                    p { (message) }
                }
            }
            @if l.determination.questions.is_empty() {
                p #no-questions { (t(lang, "確認することはありません。必要な手続きが決まりました。", "Nothing to ask: the procedures are decided.")) }
            } @else {
                p { (t(lang, "答えによって必要な手続きが変わる質問だけを表示しています。", "Only the questions whose answers change the procedures are shown.")) }
                @for (i, qn) in l.determination.questions.iter().enumerate() {
                    @let qid = format!("q{i}");
                    @let failed = error.as_ref().is_some_and(|(q, _)| *q == qn.id);
                    form.question method="post" action={ "/counter/visits/" (id) "/answers" } {
                        input type="hidden" name="csrf" value=(signed.session.csrf);
                        input type="hidden" name="revision" value=(l.visit.revision);
                        input type="hidden" name="question" value=(qn.id);
                        input type="hidden" name="fact" value=(qn.fact);
                        @if let Some(m) = &qn.member { input type="hidden" name="member" value=(m); }
                        @if let Some(e) = qn.event { input type="hidden" name="event" value=(e); }
                        input type="hidden" name="type" value=(qn.ty);
                        fieldset #(qid) aria-describedby={ (qid) "-decides" } {
                            legend { (qn.text) }
                            p.echo #{ (qid) "-decides" } { (t(lang, "関係する手続き: ", "Decides: ")) (names(&qn.decides)) }
                            @if qn.ty == "boolean" {
                                div.choices {
                                    label.dads-radio { input type="radio" name="value" value="true" required; span { (t(lang, "はい", "Yes")) } }
                                    label.dads-radio { input type="radio" name="value" value="false" required; span { (t(lang, "いいえ", "No")) } }
                                }
                            } @else if qn.ty == "array" && !qn.options.is_empty() {
                                div.choices {
                                    @for o in &qn.options {
                                        label.dads-checkbox { input type="checkbox" name="value" value=(shown_raw(&o.value)); span { (o.label) } }
                                    }
                                }
                            } @else if !qn.options.is_empty() {
                                div.choices {
                                    @for o in &qn.options {
                                        label.dads-radio { input type="radio" name="value" value=(shown_raw(&o.value)) required; span { (o.label) } }
                                    }
                                }
                            } @else {
                                label for={ (qid) "-value" } { (t(lang, "回答", "Answer")) }
                                input.dads-input-text__input #{ (qid) "-value" } name="value" type="text" required
                                    aria-invalid=[failed.then_some("true")];
                            }
                            @if failed {
                                @if let Some((_, m)) = &error { span.dads-form-control-label__error { "＊" (m) } }
                            }
                        }
                        button.dads-button data-type="outline" data-size="sm" type="submit" { (t(lang, "回答する", "Answer")) }
                    }
                }
            }
            div.actions {
                a.dads-button data-type="outline" href={ "/counter/visits/" (id) "/household" } { (t(lang, "戻る", "Back")) }
                a.dads-button data-type="solid-fill" href={ "/counter/visits/" (id) "/procedures" } { (t(lang, "次へ(必要な手続き)", "Next: procedures")) }
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

/// A value as a form sends it back.
fn shown_raw(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `POST /counter/visits/{id}/answers`: one answer.
pub async fn answer(
    state: web::Data<AppState>,
    signed: Signed,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, Failure> {
    let id = path.into_inner();
    let f = &signed.fields;
    let (Some(fact), Some(raw)) = (f.get("fact"), f.get("value")) else {
        let l = load(&state, &signed, id).await?;
        let q = f.get("question").unwrap_or("").to_owned();
        return questions_page(
            &state,
            &signed,
            &l,
            Some((
                &q,
                t(
                    signed.lang,
                    "答えを選ぶか入力してください。",
                    "Choose or enter an answer.",
                )
                .to_owned(),
            )),
        );
    };
    // Booleans and numbers as JSON, anything else as the text the clerk chose or typed.
    let value = match f.get("type") {
        Some("boolean") | Some("integer") => {
            serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_owned()))
        }
        Some("array") => Value::Array(
            f.all("value")
                .into_iter()
                .map(|v| Value::String(v.to_owned()))
                .collect(),
        ),
        _ => Value::String(raw.to_owned()),
    };
    let answer = AnswerDto {
        fact: fact.to_owned(),
        member: f.get("member").map(str::to_owned),
        event: f.get("event").and_then(|e| e.parse().ok()),
        value,
    };
    let expected = revision_of(&signed);
    let change = record_answers(
        &state,
        signed.session.staff.lg_code,
        &signed.actor,
        id,
        vec![answer],
        expected.as_deref(),
    )
    .await
    .map_err(|e| signed.api(e))?;
    match changed(id, change) {
        Ok(_) => Ok(page::see_other(&format!("/counter/visits/{id}/questions"))),
        Err(e) if !e.errors.is_empty() => {
            let l = load(&state, &signed, id).await?;
            let q = f.get("question").unwrap_or("").to_owned();
            let message = page::field_messages(&e, signed.lang);
            questions_page(&state, &signed, &l, Some((&q, message)))
        }
        Err(e) => Err(signed.api(e)),
    }
}

/// `GET /counter/visits/{id}/procedures`: the determination grouped by department.
pub async fn procedures(
    state: web::Data<AppState>,
    signed: Signed,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, Failure> {
    let id = path.into_inner();
    let lang = signed.lang;
    let l = load(&state, &signed, id).await?;
    let title = heading(lang, &l, "必要な手続き", "Procedures");
    let mut departments: Vec<(&str, Vec<&DecisionDto>)> = Vec::new();
    for d in &l.determination.needed {
        match departments
            .iter_mut()
            .find(|(name, _)| *name == d.department)
        {
            Some((_, list)) => list.push(d),
            None => departments.push((&d.department, vec![d])),
        }
    }
    let blocked: Vec<&DecisionDto> = l
        .determination
        .needed
        .iter()
        .filter(|d| {
            d.handling.mode == "referral"
                || d.filing.as_ref().is_some_and(|f| f.allowed == Some(false))
        })
        .collect();
    let markup = page::render(
        frame(&state, &signed, &l, "procedures", &title),
        html! {
            h1 tabindex="-1" data-focus-on-swap { (title) }
            @if !blocked.is_empty() {
                div.dads-notification-banner data-type="warning" #referrals {
                    h2 { (t(lang, "この窓口では受け付けない手続きがあります", "Some procedures are not done at this counter")) }
                    ul {
                        @for d in &blocked {
                            li {
                                strong { (d.name) } ": "
                                @if let Some(f) = d.filing.as_ref().filter(|f| f.allowed == Some(false)) {
                                    (f.reason.as_deref().unwrap_or(""))
                                } @else {
                                    (d.handling.to.as_deref().unwrap_or("")) " " (d.handling.why.as_deref().unwrap_or(""))
                                }
                            }
                        }
                    }
                }
            }
            @if !l.determination.questions.is_empty() {
                div.dads-notification-banner data-type="info-1" {
                    h2 { (t(lang, "まだ決まっていない手続きがあります", "Some procedures are not decided yet")) }
                    p { a href={ "/counter/visits/" (id) "/questions" } { (t(lang, "確認事項に答える", "Answer the questions")) } " (" (l.determination.questions.len()) ")" }
                }
            }
            p #needed-count { (match lang { Lang::Ja => format!("必要な手続きは{}件です。", l.determination.needed.len()), Lang::En => format!("{} procedures are needed.", l.determination.needed.len()) }) }
            @for (department, list) in &departments {
                section aria-labelledby={ "dept-" (department) } {
                    h2 #{ "dept-" (department) } { (department) }
                    @for d in list {
                        article.procedure {
                            h3 { (d.name) @if let Some(m) = &d.member { " — " (member_name(lang, &l.dto, m)) } }
                            dl {
                                div { dt { (t(lang, "理由", "Why")) } dd { (d.reason) } }
                                @if !d.documents.is_empty() {
                                    div { dt { (t(lang, "持ち物", "Bring")) } dd { (d.documents.join("、")) } }
                                }
                                div { dt { (t(lang, "期限", "Deadline")) } dd {
                                    @if let Some(day) = d.deadline { (state.forms.eras.wareki_day(day).unwrap_or_default()) "(" (day) ")" } @else { "—" }
                                    @if let Some(n) = &d.deadline_note { " " (n) }
                                } }
                                div { dt { (t(lang, "手数料", "Fee")) } dd {
                                    @if let Some(fee) = &d.fee { (crate::visits::printouts::yen(fee.yen)) "円" @if let Some(per) = &fee.per { " / " (per) } } @else { (t(lang, "無料", "Free")) }
                                } }
                                div { dt { (t(lang, "根拠", "Legal basis")) } dd { (d.legal_basis) } }
                            }
                        }
                    }
                }
            }
            @if !l.determination.ruled_out.is_empty() {
                details {
                    summary { (t(lang, "不要と判断した手続き", "Procedures ruled out")) " (" (l.determination.ruled_out.len()) ")" }
                    ul {
                        @for d in &l.determination.ruled_out { li { (d.name) ": " (d.reason) } }
                    }
                }
            }
            div.actions {
                a.dads-button data-type="outline" href={ "/counter/visits/" (id) "/questions" } { (t(lang, "戻る", "Back")) }
                a.dads-button data-type="solid-fill" href={ "/counter/visits/" (id) "/drafts" } { (t(lang, "次へ(申請書)", "Next: forms")) }
            }
        },
    );
    Ok(page::ok(markup))
}
