//! Logging in and out, the language switch, and the idle timer's 延長する.
//!
//! A login is a form post with a double-submit token (a cookie set with the form and the same
//! value in a hidden field): a page of another site cannot log a clerk in as someone else.
//! Every login makes a new session token (session fixation: a token known before the login
//! never opens a session), and the cookie of an earlier session is closed with it.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use maud::html;

use super::page::{self, Failure, Frame, t};
use super::session::{self, Signed, anonymous, lang_of, safe_next};
use crate::http::middleware::client_address::client_address;
use crate::http::state::AppState;
use crate::i18n::Lang;
use crate::staff::service::{self, Credentials, LoginError};
use crate::tenancy::LgCode;

const LOGIN_COOKIE: &str = "madoguchi_login";

struct LoginForm<'a> {
    lang: Lang,
    lg_code: &'a str,
    login: &'a str,
    next: &'a str,
    /// A banner above the form: (kind, heading, text).
    banner: Option<(&'static str, &'static str, String)>,
    token: &'a str,
}

fn login_page(state: &AppState, f: LoginForm<'_>) -> HttpResponse {
    let lang = f.lang;
    let title = t(lang, "ログイン", "Log in");
    let sso = LgCode::parse(f.lg_code)
        .ok()
        .and_then(|lg| state.sso.label(lg).map(|label| (lg, label)));
    let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let body = page::render(
        Frame {
            lang,
            title,
            signed: None,
            nav: None,
            side: None,
        },
        html! {
            div.login {
                h1 { (title) }
                @if let Some((kind, heading, text)) = &f.banner {
                    div.dads-notification-banner data-type=(kind) role="alert" tabindex="-1" data-focus-on-swap {
                        h2 { (heading) }
                        p { (text) }
                    }
                }
                form method="post" action="/counter/login" {
                    input type="hidden" name="login_token" value=(f.token);
                    input type="hidden" name="next" value=(f.next);
                    input type="hidden" name="lang" value=(page::lang_code(lang));
                    div.dads-form-control-label {
                        label.dads-form-control-label__label for="lg_code" {
                            (t(lang, "団体コード", "Municipality code"))
                            span.dads-form-control-label__requirement data-required="true" { (t(lang, "※必須", "Required")) }
                        }
                        span.dads-form-control-label__support #lg_code-support { (t(lang, "6桁の全国地方公共団体コード(例: 012084)", "The 6-digit local government code (e.g. 012084)")) }
                        input.dads-input-text__input #lg_code name="lg_code" type="text" inputmode="numeric" autocomplete="organization" required value=(f.lg_code) aria-describedby="lg_code-support";
                    }
                    div.dads-form-control-label {
                        label.dads-form-control-label__label for="login" {
                            (t(lang, "ログイン名", "Login"))
                            span.dads-form-control-label__requirement data-required="true" { (t(lang, "※必須", "Required")) }
                        }
                        input.dads-input-text__input #login name="login" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required value=(f.login);
                    }
                    div.dads-form-control-label {
                        label.dads-form-control-label__label for="password" {
                            (t(lang, "パスワード", "Password"))
                            span.dads-form-control-label__requirement data-required="true" { (t(lang, "※必須", "Required")) }
                        }
                        input.dads-input-text__input #password name="password" type="password" autocomplete="current-password" required;
                    }
                    div.actions {
                        button.dads-button data-type="solid-fill" type="submit" { (t(lang, "ログイン", "Log in")) }
                    }
                }
                @if let Some((lg, label)) = &sso {
                    section.sso aria-labelledby="sso-title" {
                        h2 #sso-title { (t(lang, "庁内アカウント", "Your municipality's account")) }
                        p { (t(lang, "庁内の認証サーバーでログインします。役割は認証サーバーの設定で決まります。", "Log in at the municipality's identity provider; it decides your role.")) }
                        a.dads-button data-type="outline" #sso-login
                            href={ "/counter/sso/start?lg=" (lg) "&next=" (encode(f.next)) "&lang=" (page::lang_code(lang)) } { (label) }
                    }
                }
            }
        },
    );
    let status = match &f.banner {
        Some(("error", _, _)) => StatusCode::UNAUTHORIZED,
        _ => StatusCode::OK,
    };
    let secure = session::secure_attribute(state);
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::SET_COOKIE,
            format!(
                "{LOGIN_COOKIE}={}; Path=/counter/login; HttpOnly; SameSite=Strict; Max-Age=3600{secure}",
                f.token
            ),
        ))
        .body(body.into_string())
}

/// `GET /counter/login`.
pub async fn form(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let q = page::query(&req);
    let lang = lang_of(page::field(&q, "lang"));
    let next = safe_next(page::field(&q, "next"));
    let banner = page::field(&q, "timeout").map(|_| {
        (
            "info-1",
            t(lang, "ログアウトしました", "You were logged out"),
            t(
                lang,
                "しばらく操作がなかったため、自動でログアウトしました。入力した内容は保存されています。もう一度ログインすると、元の画面に戻ります。",
                "Nothing happened for a while, so you were logged out. What you entered is saved: log in again to go back to the page.",
            )
            .to_owned(),
        )
    });
    let Some(token) = crate::staff::session::random_token() else {
        return HttpResponse::InternalServerError().finish();
    };
    login_page(
        &state,
        LoginForm {
            lang,
            lg_code: page::field(&q, "lg").unwrap_or(""),
            login: "",
            next: &next,
            banner,
            token: &token,
        },
    )
}

/// `POST /counter/login`.
pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let f: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let lang = lang_of(page::field(&f, "lang"));
    let next = safe_next(page::field(&f, "next"));
    let lg_raw = page::field(&f, "lg_code").unwrap_or("");
    let login = page::field(&f, "login").unwrap_or("");
    let password = f
        .iter()
        .find(|(k, _)| k == "password")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    let Some(fresh) = crate::staff::session::random_token() else {
        return HttpResponse::InternalServerError().finish();
    };
    let again = |banner: (&'static str, &'static str, String)| {
        login_page(
            &state,
            LoginForm {
                lang,
                lg_code: lg_raw,
                login,
                next: &next,
                banner: Some(banner),
                token: &fresh,
            },
        )
    };
    let sent = page::field(&f, "login_token").unwrap_or("");
    let expected = req.cookie(LOGIN_COOKIE).map(|c| c.value().to_owned());
    if sent.is_empty() || expected.as_deref() != Some(sent) {
        return again((
            "error",
            t(lang, "もう一度ログインしてください", "Please log in again"),
            t(
                lang,
                "ログイン画面が古くなっています。もう一度入力してください。",
                "The login page had expired. Please enter your details again.",
            )
            .to_owned(),
        ));
    }
    let refused = || {
        (
            "error",
            t(lang, "ログインできませんでした", "Could not log in"),
            t(
                lang,
                "団体コード、ログイン名またはパスワードが違います。確かめて、もう一度入力してください。",
                "The municipality code, login or password is wrong. Check them and try again.",
            )
            .to_owned(),
        )
    };
    let Ok(lg_code) = LgCode::parse(lg_raw) else {
        return again(refused());
    };
    let actor = anonymous(&req);
    let credentials = Credentials {
        lg_code,
        login,
        password,
        address: client_address(&req, &state.settings.http.trusted_proxies),
        lang,
    };
    let result = service::log_in(
        &state.store,
        &state.passwords,
        &state.staff_lockout,
        credentials,
        &actor,
    )
    .await;
    let wait = |d: std::time::Duration, ja: &str, en: &str| {
        let seconds = d.as_secs().max(1);
        let mut r = again((
            "error",
            t(lang, "しばらく待ってください", "Please wait"),
            match lang {
                Lang::Ja => format!("{ja}{seconds}秒たってから、もう一度ログインしてください。"),
                Lang::En => format!("{en} Try again in {seconds} seconds."),
            },
        ));
        *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        r.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
        r
    };
    match result {
        Ok((token, _)) => {
            close_previous(&req, &state).await;
            HttpResponse::SeeOther()
                .insert_header((header::LOCATION, next))
                .append_header((header::SET_COOKIE, session::cookie(&state, &token)))
                .append_header((
                    header::SET_COOKIE,
                    format!("{LOGIN_COOKIE}=; Path=/counter/login; Max-Age=0"),
                ))
                .finish()
        }
        Err(LoginError::Refused) => again(refused()),
        Err(LoginError::Locked(d)) => wait(
            d,
            "ログインの失敗が続いたため、一時的に受け付けていません。",
            "Too many failed logins.",
        ),
        Err(LoginError::Busy(d)) => wait(
            d,
            "ただいまログインが集中しています。",
            "Many logins are being checked right now.",
        ),
        Err(LoginError::NoRandom) | Err(LoginError::Store(_)) => {
            tracing::error!("a console login failed inside the gateway");
            Failure::page(
                StatusCode::SERVICE_UNAVAILABLE,
                lang,
                None,
                t(
                    lang,
                    "ただいまログインできません。しばらくしてから、もう一度お試しください。",
                    "Logging in is not possible right now. Try again later.",
                ),
            )
            .into_response()
        }
    }
}

/// The session the browser held before this login, closed (session fixation).
pub(super) async fn close_previous(req: &HttpRequest, state: &AppState) {
    let Some(old) = req.cookie(session::cookie_name(state)) else {
        return;
    };
    let digest = crate::staff::session::digest(old.value());
    if let Ok(Some(s)) = state.store.console_session(&digest).await {
        let _ = state
            .store
            .close_console_session(&s, &anonymous(req), false)
            .await;
    }
}

/// `POST /counter/logout`.
pub async fn logout(state: web::Data<AppState>, signed: Signed) -> Result<HttpResponse, Failure> {
    service::log_out(&state.store, &signed.session, &signed.actor)
        .await
        .map_err(|e| signed.api(e.into()))?;
    Ok(HttpResponse::SeeOther()
        .insert_header((
            header::LOCATION,
            format!(
                "/counter/login?lang={}&lg={}",
                page::lang_code(signed.lang),
                signed.session.staff.lg_code
            ),
        ))
        .insert_header((header::SET_COOKIE, session::cookie(&state, "")))
        .finish())
}

/// `POST /counter/lang`: the session's language, then the page the clerk was on.
pub async fn switch_language(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed: Signed,
) -> Result<HttpResponse, Failure> {
    let lang = match signed.fields.get("lang") {
        Some("en") => Lang::En,
        _ => Lang::Ja,
    };
    state
        .store
        .touch_console_session(&signed.session.digest, crate::clock::now(), lang)
        .await
        .map_err(|e| signed.api(e.into()))?;
    let back = req
        .headers()
        .get(header::REFERER)
        .and_then(|r| r.to_str().ok())
        .and_then(|r| r.split_once("://").map(|(_, rest)| rest))
        .and_then(|rest| rest.find('/').map(|i| &rest[i..]))
        .map(|p| safe_next(Some(p)))
        .unwrap_or_else(|| "/counter".to_owned());
    Ok(page::see_other(&back))
}

/// `POST /counter/keepalive`: the idle timer's 延長する (the extractor marks the session used).
pub async fn keepalive(_signed: Signed) -> HttpResponse {
    HttpResponse::NoContent().finish()
}

impl Failure {
    fn into_response(self) -> HttpResponse {
        actix_web::ResponseError::error_response(&self)
    }
}
