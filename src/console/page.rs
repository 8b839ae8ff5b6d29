//! The frame every console page shares (header with the municipality, the clerk, the language
//! switch and logout; a skip link; the idle-logout dialog), and how a page that cannot be
//! shown is answered: an HTML page with the reason in the clerk's language, never JSON.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use maud::{DOCTYPE, Markup, html};

use super::assets;
use super::session::Signed;
use crate::http::problem::ApiError;
use crate::i18n::Lang;

/// Picks the text of the page's language.
pub fn t(lang: Lang, ja: &'static str, en: &'static str) -> &'static str {
    match lang {
        Lang::Ja => ja,
        Lang::En => en,
    }
}

pub fn lang_code(lang: Lang) -> &'static str {
    match lang {
        Lang::Ja => "ja",
        Lang::En => "en",
    }
}

/// The page around `main`.
pub struct Frame<'a> {
    pub lang: Lang,
    /// The `<title>` and, by default, the `<h1>`.
    pub title: &'a str,
    pub signed: Option<&'a Signed>,
    /// Step navigation (visit pages).
    pub nav: Option<Markup>,
    /// The visit summary at the side.
    pub side: Option<Markup>,
}

pub fn render(frame: Frame<'_>, main: Markup) -> Markup {
    let lang = frame.lang;
    let (idle, csrf) = frame
        .signed
        .map(|s| (s.idle_seconds, s.session.csrf.as_str()))
        .unwrap_or((0, ""));
    let headers = format!(r#"{{"X-CSRF-Token": "{csrf}"}}"#);
    html! {
        (DOCTYPE)
        html lang=(lang_code(lang)) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="htmx-config" content=r#"{"allowEval":false,"allowScriptTags":false,"includeIndicatorStyles":false,"selfRequestsOnly":true,"historyCacheSize":0}"#;
                title { (frame.title) " — " (t(lang, "窓口", "Counter")) " | madoguchi" }
                link rel="stylesheet" href=(assets::url("dads-tokens-1.1.9.css"));
                link rel="stylesheet" href=(assets::url("console.css"));
                script src=(assets::url("htmx-2.0.11.min.js")) defer {}
                script src=(assets::url("htmx-ext-sse-2.2.4.min.js")) defer {}
                script type="module" src=(assets::url("console.js")) {}
            }
            body data-idle-seconds=(idle) data-csrf=(csrf) hx-headers=(headers) {
                a.skip-link href="#main" { (t(lang, "本文へ移動", "Skip to main content")) }
                (header(lang, frame.signed))
                div.console-body {
                    @if let Some(nav) = frame.nav { (nav) }
                    main #main .console-main tabindex="-1" { (main) }
                    @if let Some(side) = frame.side {
                        aside.console-side aria-label=(t(lang, "来庁の概要", "Visit summary")) { (side) }
                    }
                }
                div role="status" aria-live="polite" #announce .visually-hidden {}
                @if frame.signed.is_some() {
                    (idle_dialog(lang))
                }
            }
        }
    }
}

fn header(lang: Lang, signed: Option<&Signed>) -> Markup {
    let other = match lang {
        Lang::Ja => ("en", "English", "en"),
        Lang::En => ("ja", "日本語", "ja"),
    };
    html! {
        header.console-header {
            div.console-header__title {
                a href="/counter" { "madoguchi " (t(lang, "窓口", "counter")) }
            }
            @if let Some(s) = signed {
                nav aria-label=(t(lang, "メニュー", "Menu")) {
                    ul {
                        li { a href="/counter" { (t(lang, "今日の受付", "Today")) } }
                        li { a href="/counter/kpis" { (t(lang, "指標", "KPIs")) } }
                        li { a href="/counter/catalog" { (t(lang, "手続きの設定", "Catalogue")) } }
                    }
                }
                span.console-header__who {
                    (s.municipality_name) " ・ " (s.session.staff.name)
                    " (" (s.session.staff.role.label().get(lang)) ")"
                }
                form method="post" action="/counter/lang" {
                    input type="hidden" name="csrf" value=(s.session.csrf);
                    input type="hidden" name="lang" value=(other.0);
                    button.dads-button data-type="text" data-size="sm" type="submit" lang=(other.2) { (other.1) }
                }
                form method="post" action="/counter/logout" {
                    input type="hidden" name="csrf" value=(s.session.csrf);
                    button.dads-button data-type="outline" data-size="sm" type="submit" { (t(lang, "ログアウト", "Log out")) }
                }
            } @else {
                a href={ "/counter/login?lang=" (other.0) } lang=(other.2) { (other.1) }
            }
        }
    }
}

fn idle_dialog(lang: Lang) -> Markup {
    html! {
        dialog #idle-dialog aria-labelledby="idle-title" {
            h2 #idle-title tabindex="-1" { (t(lang, "まもなく自動でログアウトします", "You will be logged out soon")) }
            p { (t(lang, "操作がないため、1分後にログアウトします。続けるときは「延長する」を押してください。入力済みの内容は保存されています。",
                "Nothing has happened for a while: you will be logged out in one minute. Press Extend to go on. What you entered is saved.")) }
            div.actions {
                button.dads-button data-type="solid-fill" type="button" data-extend { (t(lang, "延長する", "Extend")) }
                form method="post" action="/counter/logout" {
                    button.dads-button data-type="outline" type="submit" formnovalidate { (t(lang, "ログアウト", "Log out")) }
                }
            }
        }
    }
}

/// A page as the answer, never stored by a cache (it holds personal data).
pub fn ok(markup: Markup) -> HttpResponse {
    with_status(StatusCode::OK, markup)
}

/// A page with another status than 200: a form refused (422), met a change (409) …
pub fn with_status(status: StatusCode, markup: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(markup.into_string())
}

/// After a POST: the page to show next (303 See Other; htmx follows it too).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// A page that cannot be shown: status and the page that says why.
#[derive(Debug)]
pub struct Failure {
    status: StatusCode,
    body: String,
    location: Option<String>,
    htmx: bool,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "console page refused ({})", self.status)
    }
}

impl ResponseError for Failure {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        if let Some(location) = &self.location {
            if self.htmx {
                // htmx replaces the whole page with the login page.
                return HttpResponse::Ok()
                    .insert_header(("HX-Redirect", location.as_str()))
                    .finish();
            }
            return see_other(location);
        }
        HttpResponse::build(self.status)
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(self.body.clone())
    }
}

impl Failure {
    /// To the login page, coming back to `next` afterwards.
    pub fn login(next: &str, timed_out: bool, htmx: bool) -> Self {
        let mut location = format!(
            "/counter/login?next={}",
            percent_encoding::utf8_percent_encode(next, percent_encoding::NON_ALPHANUMERIC)
        );
        if timed_out {
            location.push_str("&timeout=1");
        }
        Self {
            status: StatusCode::SEE_OTHER,
            body: String::new(),
            location: Some(location),
            htmx,
        }
    }

    /// A page with a heading and one message.
    pub fn page(status: StatusCode, lang: Lang, signed: Option<&Signed>, message: &str) -> Self {
        let title = t(lang, "この操作はできませんでした", "This could not be done");
        let body = render(
            Frame {
                lang,
                title,
                signed,
                nav: None,
                side: None,
            },
            html! {
                h1 { (title) }
                div.dads-notification-banner data-type="error" role="alert" {
                    h2 { (t(lang, "エラー", "Error")) }
                    p { (message) }
                }
                p { a href="/counter" { (t(lang, "今日の受付に戻る", "Back to today's visits")) } }
            },
        )
        .into_string();
        Self {
            status,
            body,
            location: None,
            htmx: false,
        }
    }

    /// The API's refusal, shown to the clerk in their language.
    pub fn api(e: ApiError, lang: Lang, signed: Option<&Signed>) -> Self {
        if e.status.is_server_error() {
            tracing::error!(error = %e, cause = e.internal.as_deref().unwrap_or("-"), "console page failed");
        }
        let message = format!("{} {}", e.detail.get(lang), field_messages(&e, lang));
        Self::page(e.status, lang, signed, message.trim_end())
    }
}

/// The pairs of a query string or form body.
pub fn query(req: &actix_web::HttpRequest) -> Vec<(String, String)> {
    form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect()
}

/// The first value of `name` among `pairs`, trimmed; none when absent or empty.
pub fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// What each field of a refusal says, in `lang`, one after another.
pub fn field_messages(e: &ApiError, lang: Lang) -> String {
    e.errors
        .iter()
        .map(|fe| fe.message.get(lang))
        .collect::<Vec<_>>()
        .join(" ")
}
