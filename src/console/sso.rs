//! Single sign-on pages: `GET /counter/sso/start?lg=…&next=…` sends the browser to the
//! municipality's identity provider; `GET /counter/sso/callback` takes the code back, and a
//! session opens for the identity the provider vouched for (see [`crate::staff::sso`]).
//!
//! What the callback must match (state, nonce, PKCE verifier, the page to return to) waits in
//! a cookie of the browser that started: `HttpOnly`, `SameSite=Lax` (the provider's redirect
//! is a top-level navigation from another site, which a `Strict` cookie would not follow),
//! ten minutes. The state is compared in constant time; a callback without the cookie, or
//! with another state, opens nothing. The console's own session cookie is `SameSite=Strict`;
//! RFC 6265bis counts a whole redirect chain another site started as cross-site, and browsers
//! differ in how they apply it (Chromium 156 sends the cookie after such a redirect), so after
//! the callback the page moves the browser on itself (a refresh), a same-site navigation in
//! every browser.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use maud::html;
use serde::{Deserialize, Serialize};

use super::page::{self, Failure, Frame, t};
use super::session::{self, anonymous, lang_of, safe_next};
use crate::http::state::AppState;
use crate::i18n::Lang;
use crate::staff::sso::{self as staff_sso, SsoError};
use crate::tenancy::LgCode;

/// What the callback must match, kept by the browser.
#[derive(Serialize, Deserialize)]
struct Pending {
    lg: String,
    state: String,
    nonce: String,
    verifier: String,
    next: String,
    lang: String,
    redirect: String,
}

fn cookie_name(state: &AppState) -> &'static str {
    if state.settings.tls_enabled() {
        "__Host-madoguchi_sso"
    } else {
        "madoguchi_sso"
    }
}

fn cookie(state: &AppState, value: &str, max_age: u32) -> String {
    format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
        cookie_name(state),
        session::secure_attribute(state)
    )
}

/// Where the provider sends the browser back: the settings' URL, else the public URL, else
/// this request's own scheme and host.
fn redirect_url(req: &HttpRequest, state: &AppState, lg: LgCode) -> String {
    if let Some(url) = state.sso.redirect_url(lg) {
        return url;
    }
    let base = match &state.settings.public_url {
        Some(url) if !url.is_empty() => url.trim_end_matches('/').to_owned(),
        _ => {
            let info = req.connection_info();
            format!("{}://{}", info.scheme(), info.host())
        }
    };
    format!("{base}/counter/sso/callback")
}

fn refused(lang: Lang, status: StatusCode, message: &str) -> Failure {
    Failure::page(status, lang, None, message)
}

/// `GET /counter/sso/start`.
pub async fn start(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, Failure> {
    let q = page::query(&req);
    let lang = lang_of(page::field(&q, "lang"));
    let next = safe_next(page::field(&q, "next"));
    let lg = page::field(&q, "lg").and_then(|l| LgCode::parse(l).ok());
    let Some(lg) = lg.filter(|lg| state.sso.label(*lg).is_some()) else {
        return Err(refused(
            lang,
            StatusCode::NOT_FOUND,
            t(
                lang,
                "この団体には庁内アカウントでのログイン(シングルサインオン)が設定されていません。パスワードでログインしてください。",
                "This municipality has no single sign-on: log in with a password.",
            ),
        ));
    };
    let redirect = redirect_url(&req, &state, lg);
    let begun = state.sso.begin(lg, &redirect).await.map_err(|e| {
        tracing::warn!(lg_code = %lg, error = %e, "single sign-on could not start");
        refused(lang, StatusCode::BAD_GATEWAY, e.message().get(lang))
    })?;
    let pending = Pending {
        lg: lg.to_string(),
        state: begun.state,
        nonce: begun.nonce,
        verifier: begun.verifier,
        next,
        lang: page::lang_code(lang).to_owned(),
        redirect,
    };
    let value = serde_json::to_vec(&pending)
        .map(|json| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json))
        .map_err(|_| refused(lang, StatusCode::INTERNAL_SERVER_ERROR, "SSO"))?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, begun.url))
        .insert_header((header::SET_COOKIE, cookie(&state, &value, 600)))
        .finish())
}

fn pending_of(req: &HttpRequest, state: &AppState) -> Option<Pending> {
    let c = req.cookie(cookie_name(state))?;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(c.value())
        .ok()?;
    serde_json::from_slice(&json).ok()
}

/// `GET /counter/sso/callback`.
pub async fn callback(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Failure> {
    let q = page::query(&req);
    let Some(pending) = pending_of(&req, &state) else {
        return Err(refused(
            Lang::Ja,
            StatusCode::BAD_REQUEST,
            "ログインの途中の情報がありません(10分を過ぎたか、別のブラウザで始めました)。もう一度ログインしてください。 / The login was not started in this browser, or more than 10 minutes ago: log in again.",
        ));
    };
    let lang = lang_of(Some(pending.lang.as_str()));
    let again = t(lang, "もう一度ログインしてください。", "Log in again.");
    let state_matches = page::field(&q, "state").is_some_and(|s| {
        aws_lc_rs::constant_time::verify_slices_are_equal(s.as_bytes(), pending.state.as_bytes())
            .is_ok()
    });
    if !state_matches {
        return Err(refused(
            lang,
            StatusCode::BAD_REQUEST,
            &format!(
                "{} {again}",
                t(
                    lang,
                    "ログインの応答がこのブラウザで始めたものと一致しません。",
                    "The answer does not match the login this browser started.",
                )
            ),
        ));
    }
    if let Some(error) = page::field(&q, "error") {
        tracing::info!(error, "the identity provider refused a console login");
        return Err(refused(
            lang,
            StatusCode::FORBIDDEN,
            &format!(
                "{} ({error}) {again}",
                t(
                    lang,
                    "認証サーバーがログインを受け付けませんでした。",
                    "The identity provider did not let the login through.",
                )
            ),
        ));
    }
    let (Some(code), Ok(lg)) = (page::field(&q, "code"), LgCode::parse(&pending.lg)) else {
        return Err(refused(lang, StatusCode::BAD_REQUEST, again));
    };
    let identity = state
        .sso
        .finish(
            lg,
            &pending.redirect,
            code,
            &pending.verifier,
            &pending.nonce,
        )
        .await
        .map_err(|e| {
            tracing::warn!(lg_code = %lg, error = %e, "a single sign-on was refused");
            refused(lang, StatusCode::FORBIDDEN, e.message().get(lang))
        })?;
    let actor = anonymous(&req);
    let (token, _) = staff_sso::log_in(&state.store, lg, identity, lang, &actor)
        .await
        .map_err(|e| {
            let message = match &e {
                SsoError::LoginTaken(login) => match lang {
                    Lang::Ja => format!("ログイン名「{login}」は、パスワードでログインするアカウントか別の庁内アカウントが使っています。管理者に連絡してください。"),
                    Lang::En => format!("The login {login:?} belongs to a password account or another identity: ask an administrator."),
                },
                SsoError::InvalidLogin(login) => match lang {
                    Lang::Ja => format!("認証サーバーのログイン名「{login}」は窓口システムでは使えません(半角英小文字・数字・. _ - で32文字まで)。管理者に連絡してください。"),
                    Lang::En => format!("The provider's login {login:?} is not a valid console login (a-z 0-9 . _ -, up to 32): ask an administrator."),
                },
                SsoError::Disabled => t(lang, "このアカウントは使えなくなっています。管理者に連絡してください。", "This account is disabled: ask an administrator.").to_owned(),
                SsoError::NoRandom | SsoError::Store(_) => {
                    tracing::error!(error = %e, "a single sign-on failed inside the gateway");
                    t(lang, "ただいまログインできません。しばらくしてから、もう一度お試しください。", "Logging in is not possible right now. Try again later.").to_owned()
                }
            };
            refused(lang, StatusCode::FORBIDDEN, &message)
        })?;
    super::login::close_previous(&req, &state).await;
    let next = safe_next(Some(pending.next.as_str()));
    let title = t(lang, "ログインしました", "Logged in");
    // A page that moves on by itself: the session cookie (SameSite=Strict) goes with a
    // navigation the console's own page starts, whatever the browser makes of the provider's
    // redirect chain.
    let body = page::render(
        Frame {
            lang,
            title,
            signed: None,
            nav: None,
            side: None,
        },
        html! {
            meta http-equiv="refresh" content={ "0;url=" (next) };
            h1 { (title) }
            p { a #continue href=(next) { (t(lang, "窓口の画面へ進む", "Go to the console")) } }
        },
    );
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .append_header((header::SET_COOKIE, session::cookie(&state, &token)))
        .append_header((header::SET_COOKIE, cookie(&state, "", 0)))
        .body(body.into_string()))
}
