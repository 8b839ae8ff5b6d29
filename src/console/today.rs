//! 今日の受付: the day's visits with their state and time at the counter, and the form that
//! opens a new one (the life event, its date in 和暦 or 西暦, how many people it concerns).

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use maud::{Markup, html};

use super::page::{self, Failure, Frame, t};
use super::session::{Fields, Signed};
use crate::http::state::AppState;
use crate::http::v1::visits::{NewApplicantDto, NewLifeEventDto, NewMemberDto, NewVisitDto};
use crate::i18n::Lang;
use crate::visits::Visit;
use crate::visits::model::Stage;

/// Visits listed on the page (a counter sees far fewer in a day).
const LIST_LIMIT: u64 = 200;
/// Members a visit can be opened with from the console.
const MAX_MEMBERS: usize = 6;

pub fn stage_label(lang: Lang, stage: Stage) -> (&'static str, &'static str) {
    match stage {
        Stage::Open => (t(lang, "受付中", "Open"), "blue"),
        Stage::Confirmed => (t(lang, "署名済", "Signed"), "orange"),
        Stage::Submitted => (t(lang, "申請済", "Submitted"), "green"),
        Stage::Closed => (t(lang, "終了", "Closed"), "gray"),
    }
}

/// What the clerk typed into the new-visit form, kept when it comes back with errors.
#[derive(Default)]
struct Draft<'a> {
    kind: Option<&'a str>,
    date: &'a str,
    /// 氏 and 名 of each row of the form (empty rows are no one).
    names: Vec<(&'a str, &'a str)>,
    subject: Option<&'a str>,
    ticket: &'a str,
    /// 窓口: as typed, or as this PC remembers it.
    counter: String,
}

/// `GET /counter`.
pub async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed: Signed,
) -> Result<HttpResponse, Failure> {
    let draft = Draft {
        counter: super::session::desk_of(&req).unwrap_or_default(),
        ..Draft::default()
    };
    render(&state, &signed, draft, &[]).await
}

async fn render(
    state: &AppState,
    signed: &Signed,
    draft: Draft<'_>,
    errors: &[(String, String)],
) -> Result<HttpResponse, Failure> {
    let lang = signed.lang;
    let code = signed.session.staff.lg_code;
    let now = crate::clock::now();
    let day = crate::clock::japan_day(now);
    let visits = state
        .store
        .list_visits(&code, day, None, LIST_LIMIT, &signed.actor)
        .await
        .map_err(|e| signed.api(e.into()))?
        .items;
    let title = t(lang, "今日の受付", "Today's visits");
    let markup = page::render(
        Frame {
            lang,
            title,
            signed: Some(signed),
            nav: None,
            side: None,
        },
        html! {
            h1 tabindex="-1" data-focus-on-swap { (title) }
            p { (day_label(state, lang, day)) }
            (visit_table(state, lang, &visits, now))
            (new_visit_form(state, signed, &draft, errors))
        },
    );
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(page::with_status(status, markup))
}

fn day_label(state: &AppState, lang: Lang, day: chrono::NaiveDate) -> String {
    match lang {
        Lang::Ja => format!(
            "{}({})",
            state.forms.eras.wareki_day(day).unwrap_or_default(),
            day.format("%Y年%-m月%-d日")
        ),
        Lang::En => day.format("%-d %B %Y").to_string(),
    }
}

fn visit_table(
    state: &AppState,
    lang: Lang,
    visits: &[Visit],
    now: chrono::DateTime<Utc>,
) -> Markup {
    html! {
        @if visits.is_empty() {
            p #no-visits { (t(lang, "今日の受付はまだありません。", "No visits yet today.")) }
        } @else {
            div.table-scroll {
                table.dads-table__table data-size="dense" #visits {
                    caption { (t(lang, "今日の受付一覧", "Today's visits")) }
                    thead {
                        tr {
                            th scope="col" { (t(lang, "受付番号", "Ticket")) }
                            th scope="col" { (t(lang, "受付時刻", "Opened")) }
                            th scope="col" { (t(lang, "できごと", "Life events")) }
                            th scope="col" { (t(lang, "状態", "State")) }
                            th scope="col" { (t(lang, "経過(分)", "Minutes")) }
                        }
                    }
                    tbody {
                        @for v in visits {
                            @let (label, color) = stage_label(lang, v.stage());
                            @let until = v.closed_at.unwrap_or(now);
                            tr {
                                th scope="row" {
                                    a href={ "/counter/visits/" (v.id) } {
                                        @if let Some(ticket) = &v.ticket { (ticket) } @else { (t(lang, "番号なし", "no ticket")) " " (v.id.to_string()[..8]) }
                                    }
                                }
                                td { (crate::clock::japan_time(v.opened_at)) }
                                td { (event_labels(state, lang, v)) }
                                td { span.dads-chip-label data-color=(color) { (label) } }
                                td.num { ((until - v.opened_at).num_minutes().max(0)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub fn event_labels(state: &AppState, lang: Lang, v: &Visit) -> String {
    v.household
        .events
        .iter()
        .map(|e| {
            state
                .catalog
                .life_event(&e.kind)
                .map(|d| d.label(lang).to_owned())
                .unwrap_or_else(|| e.kind.clone())
        })
        .collect::<Vec<_>>()
        .join("・")
}

fn error_for<'a>(errors: &'a [(String, String)], field: &str) -> Option<&'a str> {
    errors
        .iter()
        .find(|(f, _)| f == field)
        .map(|(_, m)| m.as_str())
}

fn new_visit_form(
    state: &AppState,
    signed: &Signed,
    draft: &Draft<'_>,
    errors: &[(String, String)],
) -> Markup {
    let lang = signed.lang;
    let date_error = error_for(errors, "date");
    let kind_error = error_for(errors, "kind");
    let ticket_error = error_for(errors, "ticket");
    let counter_error = error_for(errors, "counter");
    html! {
        h2 #new-visit-title { (t(lang, "新しい受付", "New visit")) }
        @if !errors.is_empty() {
            div.dads-notification-banner data-type="error" role="alert" tabindex="-1" data-focus-on-swap #error-summary {
                h2 { (t(lang, "入力内容を確かめてください", "Please check what you entered")) }
                ul {
                    @for (field, message) in errors {
                        li { a href={ "#" (field) } { (message) } }
                    }
                }
            }
        }
        form method="post" action="/counter/visits" aria-labelledby="new-visit-title" {
            input type="hidden" name="csrf" value=(signed.session.csrf);
            fieldset #kind aria-describedby=[kind_error.map(|_| "kind-error")] {
                legend { (t(lang, "できごと", "Life event")) span.dads-form-control-label__requirement data-required="true" { (t(lang, "※必須", "Required")) } }
                div.choices {
                    @for (id, def) in &state.catalog.vocabulary.life_events {
                        label.dads-radio data-size="md" {
                            input type="radio" name="kind" value=(id) checked[draft.kind == Some(id.as_str())] required;
                            span { (def.label(lang)) }
                        }
                    }
                }
                @if let Some(e) = kind_error { span.dads-form-control-label__error #kind-error { "＊" (e) } }
            }
            div.dads-form-control-label {
                label.dads-form-control-label__label for="date" {
                    (t(lang, "できごとの日", "Date of the event"))
                    span.dads-form-control-label__requirement data-required="true" { (t(lang, "※必須", "Required")) }
                }
                span.dads-form-control-label__support #date-support {
                    (t(lang, "和暦でも西暦でも入力できます(例: R8.12.1、令和8年12月1日、2026/12/1)。", "In 和暦 or Gregorian (e.g. R8.12.1, 令和8年12月1日, 2026/12/1)."))
                }
                input.dads-input-text__input #date name="date" type="text" inputmode="text" autocomplete="off" required value=(draft.date)
                    aria-invalid=[date_error.map(|_| "true")]
                    aria-describedby={ "date-support" @if date_error.is_some() { " date-error" } };
                @if let Some(e) = date_error { span.dads-form-control-label__error #date-error { "＊" (e) } }
            }
            fieldset #people {
                legend { (t(lang, "来庁した世帯の人(1人目が申請者)", "The household's people (the first is the applicant)")) }
                p.echo #people-support { (t(lang, "氏名は後で住民記録やカードから取り込めます。ここでは呼び名だけでも構いません。", "Names can be taken from the registry or the card later; a name to call them by is enough here.")) }
                div.table-scroll {
                    table.dads-table__table data-size="dense" {
                        thead { tr {
                            th scope="col" { (t(lang, "人", "Person")) }
                            th scope="col" { (t(lang, "氏", "Family name")) }
                            th scope="col" { (t(lang, "名", "Given name")) }
                        } }
                        tbody {
                            @for n in 0..MAX_MEMBERS {
                                @let (family, given) = draft.names.get(n).copied().unwrap_or(("", ""));
                                @let fid = format!("member-{n}-family");
                                @let gid = format!("member-{n}-given");
                                @let ferr = error_for(errors, &fid);
                                tr {
                                    th scope="row" #{ "person-" (n) } { (n + 1) (t(lang, "人目", ". person")) }
                                    td {
                                        label.visually-hidden for=(fid) { (n + 1) (t(lang, "人目の氏", ". person: family name")) }
                                        input.dads-input-text__input #(fid) name=(fid) type="text" autocomplete="off" value=(family)
                                            required[n == 0]
                                            aria-invalid=[ferr.map(|_| "true")]
                                            aria-describedby=[ferr.map(|_| format!("{fid}-error"))];
                                        @if let Some(e) = ferr { span.dads-form-control-label__error #{ (fid) "-error" } { "＊" (e) } }
                                    }
                                    td {
                                        label.visually-hidden for=(gid) { (n + 1) (t(lang, "人目の名", ". person: given name")) }
                                        input.dads-input-text__input #(gid) name=(gid) type="text" autocomplete="off" value=(given);
                                    }
                                }
                            }
                        }
                    }
                }
            }
            div.dads-form-control-label {
                label.dads-form-control-label__label for="subject" { (t(lang, "できごとの当事者", "Whom the event concerns")) }
                span.dads-form-control-label__support #subject-support {
                    (t(lang, "死亡・出生などは当事者を選んでください。1人目が申請者です。", "For a death or a birth, choose the person. The first person is the applicant."))
                }
                select.dads-select #subject name="subject" aria-describedby="subject-support" {
                    option value="" selected[draft.subject.is_none()] { (t(lang, "世帯全員", "The whole household")) }
                    @for n in 1..=MAX_MEMBERS {
                        @let id = format!("m{n}");
                        option value=(id) selected[draft.subject == Some(id.as_str())] { (n) (t(lang, "人目", ". person")) }
                    }
                }
            }
            div.dads-form-control-label {
                label.dads-form-control-label__label for="ticket" {
                    (t(lang, "受付番号", "Ticket number"))
                    span.dads-form-control-label__requirement { (t(lang, "※任意", "Optional")) }
                }
                input.dads-input-text__input #ticket name="ticket" type="text" autocomplete="off" value=(draft.ticket)
                    aria-invalid=[ticket_error.map(|_| "true")]
                    aria-describedby=[ticket_error.map(|_| "ticket-error")];
                @if let Some(e) = ticket_error { span.dads-form-control-label__error #ticket-error { "＊" (e) } }
            }
            div.dads-form-control-label {
                label.dads-form-control-label__label for="counter" {
                    (t(lang, "窓口", "Counter"))
                    span.dads-form-control-label__requirement { (t(lang, "※任意", "Optional")) }
                }
                span.dads-form-control-label__support #counter-support { (t(lang, "この端末の窓口(例: 3番)。この端末が覚え、指標で窓口ごとに集計します。", "This PC's counter (e.g. 3番), remembered by this PC; the KPIs count by counter.")) }
                input.dads-input-text__input #counter name="counter" type="text" autocomplete="off" value=(draft.counter)
                    aria-invalid=[counter_error.map(|_| "true")]
                    aria-describedby={ "counter-support" @if counter_error.is_some() { " counter-error" } };
                @if let Some(e) = counter_error { span.dads-form-control-label__error #counter-error { "＊" (e) } }
            }
            div.actions {
                button.dads-button data-type="solid-fill" type="submit" { (t(lang, "受付を始める", "Open the visit")) }
            }
        }
    }
}

/// The form's field a problem of the opening points at.
fn field_of(pointer: &str) -> String {
    if pointer.starts_with("/events/0/date") {
        "date".to_owned()
    } else if pointer.starts_with("/ticket") {
        "ticket".to_owned()
    } else if pointer.starts_with("/counter") {
        "counter".to_owned()
    } else if let Some(rest) = pointer.strip_prefix("/members/") {
        let n = rest.split('/').next().unwrap_or("0");
        format!("member-{n}-family")
    } else {
        "kind".to_owned()
    }
}

/// `POST /counter/visits`.
pub async fn open(state: web::Data<AppState>, signed: Signed) -> Result<HttpResponse, Failure> {
    let f: &Fields = &signed.fields;
    let rows: Vec<(&str, &str)> = (0..MAX_MEMBERS)
        .map(|n| {
            (
                f.get(&format!("member-{n}-family")).unwrap_or(""),
                f.get(&format!("member-{n}-given")).unwrap_or(""),
            )
        })
        .collect();
    // The rows filled in, in order; the first row is the applicant even when empty.
    let people: Vec<(&str, &str)> = rows
        .iter()
        .enumerate()
        .filter(|(i, (family, given))| *i == 0 || !family.is_empty() || !given.is_empty())
        .map(|(_, r)| *r)
        .collect();
    let members = people.len();
    let subject = f.get("subject").filter(|s| {
        s.strip_prefix('m')
            .and_then(|n| n.parse::<usize>().ok())
            .is_some_and(|n| (1..=members).contains(&n))
    });
    let draft = Draft {
        kind: f.get("kind"),
        date: f.get("date").unwrap_or(""),
        names: rows.clone(),
        subject,
        ticket: f.get("ticket").unwrap_or(""),
        counter: f.get("counter").unwrap_or("").to_owned(),
    };
    let lang = signed.lang;
    let Some(kind) = draft.kind else {
        let errors = vec![(
            "kind".to_owned(),
            t(lang, "できごとを選んでください。", "Choose the life event.").to_owned(),
        )];
        return render(&state, &signed, draft, &errors).await;
    };
    let body = NewVisitDto {
        ticket: (!draft.ticket.is_empty()).then(|| draft.ticket.to_owned()),
        counter: (!draft.counter.is_empty()).then(|| draft.counter.clone()),
        events: vec![NewLifeEventDto {
            kind: kind.to_owned(),
            date: draft.date.to_owned(),
            subjects: subject.map(|s| vec![s.to_owned()]).unwrap_or_default(),
            facts: Default::default(),
        }],
        members: people
            .iter()
            .enumerate()
            .map(|(i, (family, given))| NewMemberDto {
                id: format!("m{}", i + 1),
                family_name: Some((*family).to_owned()),
                given_name: (!given.is_empty()).then(|| (*given).to_owned()),
                ..Default::default()
            })
            .collect(),
        applicant: NewApplicantDto {
            member: Some("m1".to_owned()),
            name: None,
        },
        answers: Vec::new(),
    };
    let code = signed.session.staff.lg_code;
    match crate::http::v1::visits::open_visit(&state, code, body, &signed.actor).await {
        Ok(visit) => {
            let mut r = HttpResponse::SeeOther();
            r.insert_header((
                header::LOCATION,
                format!("/counter/visits/{}/identify", visit.id),
            ));
            // The PC remembers its counter for the next visit.
            if let Some(counter) = &visit.counter {
                r.append_header((
                    header::SET_COOKIE,
                    super::session::desk_cookie(&state, counter),
                ));
            }
            Ok(r.finish())
        }
        Err(e) if !e.errors.is_empty() => {
            let errors: Vec<(String, String)> = e
                .errors
                .iter()
                .map(|fe| (field_of(&fe.pointer), fe.message.get(lang).to_owned()))
                .collect();
            render(&state, &signed, draft, &errors).await
        }
        Err(e) => Err(signed.api(e)),
    }
}
