//! Who is using the console: the [`Signed`] extractor finds the session the cookie names
//! (through [`crate::staff::service::find`], which closes one idle too long), checks the CSRF
//! token of every request that changes something, marks the session used, and names the
//! clerk as the actor of everything the page then does (client `console`, staff
//! `login@lgCode`).
//!
//! The cookie is `HttpOnly; SameSite=Strict; Path=/`, and with TLS `Secure` under the
//! `__Host-` prefix. CSRF: a random token per session, sent back in the `csrf` field of every
//! form or the `X-CSRF-Token` header of htmx requests, compared in constant time; and a
//! request whose `Origin` is another site's is refused whatever it carries.

use actix_web::dev::Payload;
use actix_web::http::{Method, StatusCode, header};
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

use super::page::{Failure, t};
use crate::audit::Actor;
use crate::http::middleware::request_id::RequestId;
use crate::http::state::AppState;
use crate::i18n::Lang;
use crate::staff::service::{self, Found};
use crate::staff::session::ConsoleSession;

/// The client id the audit log names for what the console does.
pub const CONSOLE_CLIENT: &str = "console";

/// The cookie's name: `__Host-` only where the browser will send it (TLS).
pub fn cookie_name(state: &AppState) -> &'static str {
    if state.settings.tls_enabled() {
        "__Host-madoguchi_console"
    } else {
        "madoguchi_console"
    }
}

/// `; Secure` for a cookie where the console is served over TLS, else nothing.
pub fn secure_attribute(state: &AppState) -> &'static str {
    if state.settings.tls_enabled() {
        "; Secure"
    } else {
        ""
    }
}

/// Japanese first: English only when asked for (`en`), whatever the browser's own language
/// (a municipal PC's browser is often set to English).
pub fn lang_of(asked: Option<&str>) -> Lang {
    match asked {
        Some("en") => Lang::En,
        _ => Lang::Ja,
    }
}

/// The `Set-Cookie` value that carries a session token (or clears it, with an empty token).
pub fn cookie(state: &AppState, token: &str) -> String {
    let secure = secure_attribute(state);
    let age = if token.is_empty() { "; Max-Age=0" } else { "" };
    format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Strict{secure}{age}",
        cookie_name(state)
    )
}

/// The cookie that keeps, on a counter PC, the counter (窓口) its visits are opened at: the
/// PC stays at its counter whoever logs in.
pub const DESK_COOKIE: &str = "madoguchi_desk";

/// The counter this PC's browser was last told it is at.
pub fn desk_of(req: &HttpRequest) -> Option<String> {
    let raw = req.cookie(DESK_COOKIE)?;
    let name = percent_encoding::percent_decode_str(raw.value())
        .decode_utf8()
        .ok()?
        .into_owned();
    crate::visits::input::counter_name(&name).ok()
}

/// The `Set-Cookie` value that remembers `counter` on this PC for a year.
pub fn desk_cookie(state: &AppState, counter: &str) -> String {
    format!(
        "{DESK_COOKIE}={}; Path=/counter; HttpOnly; SameSite=Strict; Max-Age=31536000{}",
        percent_encoding::utf8_percent_encode(counter, percent_encoding::NON_ALPHANUMERIC),
        secure_attribute(state)
    )
}

/// The actor of a request before anyone is logged in.
pub fn anonymous(req: &HttpRequest) -> Actor {
    Actor {
        client_id: Some(CONSOLE_CLIENT.to_owned()),
        staff: None,
        request_id: req.extensions().get::<RequestId>().map(|r| r.0.clone()),
    }
}

/// A logged-in member of staff.
pub struct Signed {
    pub session: ConsoleSession,
    /// What a POST sent (read here, to check its CSRF token).
    pub fields: Fields,
    /// The clerk, as the audit log names them.
    pub actor: Actor,
    pub lang: Lang,
    pub idle_seconds: u64,
    pub municipality_name: String,
}

impl Signed {
    /// A refusal shown in the clerk's language.
    pub fn refuse(&self, status: StatusCode, message: &str) -> Failure {
        Failure::page(status, self.lang, Some(self), message)
    }

    pub fn api(&self, e: crate::http::problem::ApiError) -> Failure {
        Failure::api(e, self.lang, Some(self))
    }
}

fn is_htmx(req: &HttpRequest) -> bool {
    req.headers().contains_key("HX-Request")
}

/// The page to come back to after logging in: this one, or for a POST the page it came from.
fn next_of(req: &HttpRequest) -> String {
    if req.method() == Method::GET {
        return req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| "/counter".to_owned());
    }
    "/counter".to_owned()
}

/// Where a login may send the browser: a console page of this site, nothing else.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if (n == "/counter" || n.starts_with("/counter/") || n.starts_with("/counter?"))
                && !n.contains("//")
                && !n.contains('\\')
                && !n.starts_with("/counter/login")
                && !n.chars().any(|c| c.is_control()) =>
        {
            n.to_owned()
        }
        _ => "/counter".to_owned(),
    }
}

/// Whether the request comes from another site (its `Origin` names another host).
fn cross_site(req: &HttpRequest) -> bool {
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        return false;
    };
    let Ok(origin) = origin.to_str() else {
        return true;
    };
    let host = req.connection_info().host().to_owned();
    let origin_host = origin
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or(origin);
    origin == "null" || origin_host != host
}

/// The fields of a form the console posted (`application/x-www-form-urlencoded`).
#[derive(Debug, Default)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    fn parse(bytes: &[u8]) -> Self {
        Self(form_urlencoded::parse(bytes).into_owned().collect())
    }

    /// The first value of `name`, trimmed; none when absent or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        super::page::field(&self.0, name)
    }

    /// Every field as sent, trimmed, the first of a repeated name first.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.trim()))
    }

    /// Every value of `name` (a group of checkboxes).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

impl FromRequest for Signed {
    type Error = Failure;
    type Future = LocalBoxFuture<'static, Result<Self, Failure>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let lang = Lang::Ja;
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| {
                    Failure::page(StatusCode::INTERNAL_SERVER_ERROR, lang, None, "AppState")
                })?
                .clone();
            let htmx = is_htmx(&req);
            let Some(token) = req
                .cookie(cookie_name(&state))
                .map(|c| c.value().to_owned())
            else {
                return Err(Failure::login(&next_of(&req), false, htmx));
            };
            let idle = chrono::Duration::minutes(state.settings.console.idle_minutes as i64);
            let now = crate::clock::now();
            let found = service::find(&state.store, &token, idle, now, &anonymous(&req))
                .await
                .map_err(|e| Failure::api(crate::http::problem::ApiError::from(e), lang, None))?;
            let session = match found {
                Found::Active(s) => *s,
                Found::TimedOut => return Err(Failure::login(&next_of(&req), true, htmx)),
                Found::None => return Err(Failure::login(&next_of(&req), false, htmx)),
            };
            let lang = session.lang;
            let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD);
            let mut fields = Fields::default();
            if unsafe_method {
                let bytes = web::Bytes::from_request(&req, &mut payload)
                    .await
                    .unwrap_or_default();
                fields = Fields::parse(&bytes);
                let sent = req
                    .headers()
                    .get("X-CSRF-Token")
                    .and_then(|h| h.to_str().ok())
                    .or_else(|| fields.get("csrf"));
                let matches = sent.is_some_and(|s| {
                    aws_lc_rs::constant_time::verify_slices_are_equal(
                        s.as_bytes(),
                        session.csrf.as_bytes(),
                    )
                    .is_ok()
                });
                if !matches || cross_site(&req) {
                    tracing::warn!(
                        path = req.path(),
                        "console request without its session's CSRF token refused"
                    );
                    return Err(Failure::page(
                        StatusCode::FORBIDDEN,
                        lang,
                        None,
                        t(
                            lang,
                            "この画面は古いか、別のサイトから送られました。画面を読み込み直してから、もう一度操作してください。",
                            "This page is out of date or was sent from another site. Reload the page and try again.",
                        ),
                    ));
                }
            }
            state
                .store
                .touch_console_session(&session.digest, now, lang)
                .await
                .map_err(|e| Failure::api(e.into(), lang, None))?;
            let municipality_name = state
                .municipalities
                .municipality(&session.staff.lg_code)
                .await
                .ok()
                .flatten()
                .map(|m| m.name.clone())
                .unwrap_or_else(|| session.staff.lg_code.to_string());
            let actor = Actor {
                client_id: Some(CONSOLE_CLIENT.to_owned()),
                staff: Some(session.staff.staff_id()),
                request_id: req.extensions().get::<RequestId>().map(|r| r.0.clone()),
            };
            Ok(Signed {
                fields,
                actor,
                lang,
                idle_seconds: state.settings.console.idle_minutes * 60,
                municipality_name,
                session,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_sends_the_browser_only_to_console_pages() {
        assert_eq!(safe_next(Some("/counter/visits/1")), "/counter/visits/1");
        assert_eq!(
            safe_next(Some("/counter?day=2026-12-07")),
            "/counter?day=2026-12-07"
        );
        for bad in [
            "https://evil.example/",
            "//evil.example/counter",
            "/counter//evil",
            "/counterfeit",
            "/counter/login?next=/x",
            "/counter/\\evil",
            "/v1/municipalities",
        ] {
            assert_eq!(safe_next(Some(bad)), "/counter", "{bad}");
        }
        assert_eq!(safe_next(None), "/counter");
    }
}
