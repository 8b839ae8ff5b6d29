//! The counter console over HTTP, as a browser without script uses it: the login form (its
//! double-submit token, a wrong password, the lockout with Retry-After, a new session token
//! at every login), the pages' security headers, CSRF refused, the idle logout that brings the
//! clerk back to the page afterwards, and a visit walked through its pages: opened with a
//! 和暦 date (an impossible date refused next to its field), a resident of the directory taken
//! in (shown with the source 住民記録), a question answered, the procedures listed. Every step
//! is audited with the clerk as actor. The staff accounts through the admin API.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::json;

use crate::helpers::{Backend, TestApp, spawn_app, spawn_app_with};
use crate::storage_test;

/// A browser: its cookies, and the last page's CSRF token.
pub(crate) struct Browser<'a> {
    pub(crate) app: &'a TestApp,
    cookies: BTreeMap<String, String>,
    csrf: String,
}

pub(crate) fn attr(html: &str, before: &str) -> Option<String> {
    let start = html.find(before)? + before.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_owned())
}

impl<'a> Browser<'a> {
    pub(crate) fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            cookies: BTreeMap::new(),
            csrf: String::new(),
        }
    }

    fn keep_cookies(&mut self, r: &reqwest::Response) {
        for c in r.headers().get_all(SET_COOKIE) {
            let c = c.to_str().unwrap();
            let pair = c.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || c.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    pub(crate) fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub(crate) async fn get(
        &mut self,
        path: &str,
    ) -> (StatusCode, reqwest::header::HeaderMap, String) {
        let r = self
            .app
            .http
            .get(self.app.url(path))
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep_cookies(&r);
        let (status, headers) = (r.status(), r.headers().clone());
        let body = r.text().await.unwrap();
        if let Some(csrf) = attr(&body, "data-csrf=\"").filter(|c| !c.is_empty()) {
            self.csrf = csrf;
        }
        (status, headers, body)
    }

    pub(crate) async fn post(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
    ) -> (StatusCode, reqwest::header::HeaderMap, String) {
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        let csrf = self.csrf.clone();
        if !fields.iter().any(|(k, _)| *k == "csrf") {
            form.push(("csrf", &csrf));
        }
        let r = self
            .app
            .http
            .post(self.app.url(path))
            .header(COOKIE, self.cookie_header())
            .form(&form)
            .send()
            .await
            .unwrap();
        self.keep_cookies(&r);
        let (status, headers) = (r.status(), r.headers().clone());
        let body = r.text().await.unwrap();
        (status, headers, body)
    }

    pub(crate) async fn log_in(
        &mut self,
        lg: &str,
        login: &str,
        password: &str,
    ) -> (StatusCode, reqwest::header::HeaderMap, String) {
        let (_, _, page) = self.get(&format!("/counter/login?lg={lg}")).await;
        let token = attr(&page, "name=\"login_token\" value=\"").unwrap();
        self.post(
            "/counter/login",
            &[
                ("login_token", &token),
                ("lg_code", lg),
                ("login", login),
                ("password", password),
                ("next", "/counter"),
            ],
        )
        .await
    }
}

pub(crate) fn location(h: &reqwest::header::HeaderMap) -> String {
    h.get(LOCATION).unwrap().to_str().unwrap().to_owned()
}

/// The id of the visit a new visit's 303 leads to (`/counter/visits/{id}/identify`).
pub(crate) fn visit_of(h: &reqwest::header::HeaderMap) -> String {
    location(h)
        .trim_end_matches("/identify")
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned()
}

/// The text of the label of the field `id` (its name and its source chip).
pub(crate) fn label_of<'p>(page: &'p str, id: &str) -> &'p str {
    page.split(&format!("for=\"{id}\""))
        .nth(1)
        .unwrap_or_else(|| panic!("no label for {id}"))
        .split("</label>")
        .next()
        .unwrap()
}

/// The kana of the family name of the first resident in a sample directory's CSV.
pub(crate) fn first_kana(csv: &str) -> String {
    csv.lines()
        .nth(1)
        .unwrap()
        .split(',')
        .nth(5)
        .unwrap()
        .split('\u{3000}')
        .next()
        .unwrap()
        .to_owned()
}

pub(crate) async fn admin_staff(app: &TestApp, body: serde_json::Value) -> reqwest::Response {
    let token = app.admin_token().await;
    app.http
        .post(app.url("/v1/admin/staff"))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

pub(crate) const PASSWORD: &str = "窓口の合言葉-2026-12";

pub(crate) async fn clerk(app: &TestApp, login: &str) {
    let r = admin_staff(
        app,
        json!({"lgCode": "012084", "login": login, "name": "佐藤 花子", "role": "clerk", "password": PASSWORD}),
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
}

async fn staff_accounts_are_made_by_an_admin(backend: Backend) {
    let app = spawn_app(backend).await;
    let r = admin_staff(
        &app,
        json!({"lgCode": "012084", "login": "sato", "name": "佐藤 花子", "role": "clerk", "password": PASSWORD}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: serde_json::Value = r.json().await.unwrap();
    assert_eq!(created["staffId"], "sato@012084");
    assert_eq!(created["hasPassword"], true);
    assert!(created.get("password").is_none() && created.get("passwordHash").is_none());
    // The same login again: 409; bad fields: 422 with each named.
    let again = admin_staff(
        &app,
        json!({"lgCode": "012084", "login": "sato", "name": "佐藤 次郎", "role": "clerk", "password": PASSWORD}),
    )
    .await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let bad = admin_staff(
        &app,
        json!({"lgCode": "012084", "login": "Sato San", "name": "", "role": "root", "password": "short"}),
    )
    .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let bad: serde_json::Value = bad.json().await.unwrap();
    let pointers: Vec<&str> = bad["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    for p in ["/login", "/name", "/role", "/password"] {
        assert!(pointers.contains(&p), "{p} in {pointers:?}");
    }
    let token = app.admin_token().await;
    let list = app.get_json("/v1/admin/staff?lgCode=012084", &token).await;
    let logins: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["login"].as_str().unwrap())
        .collect();
    assert!(
        logins.contains(&"sato") && logins.contains(&"demo"),
        "{logins:?}"
    );
    // Another municipality's staff is not created for an unknown code.
    let unknown = admin_staff(
        &app,
        json!({"lgCode": "131016", "login": "x", "name": "x", "role": "clerk", "password": PASSWORD}),
    )
    .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}
storage_test!(staff_accounts_are_made_by_an_admin);

async fn a_clerk_logs_in_and_out(backend: Backend) {
    let app = spawn_app(backend).await;
    clerk(&app, "sato").await;
    let mut b = Browser::new(&app);
    // Not logged in: every page sends the browser to the login page, which comes back here.
    let (status, h, _) = b
        .get("/counter/visits/01938a6e-7c1f-7cc3-9a5e-3b2f0c4d5e6f/questions")
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(
        location(&h).starts_with("/counter/login?next=%2Fcounter%2Fvisits%2F"),
        "{}",
        location(&h)
    );
    // The login page: strict policy, no framing, no inline script.
    let (status, h, page) = b.get("/counter/login?lg=012084").await;
    assert_eq!(status, StatusCode::OK);
    let csp = h["content-security-policy"].to_str().unwrap();
    for part in [
        "default-src 'self'",
        "script-src 'self'",
        "frame-ancestors 'none'",
        "style-src 'self'",
    ] {
        assert!(csp.contains(part), "{csp}");
    }
    assert!(!page.contains("<script>") && !page.contains(" style=") && !page.contains("onclick"));
    assert!(page.contains("autocomplete=\"current-password\""));
    // A wrong password: 401, the same page again, nothing said about which part was wrong.
    let (status, _, page) = b.log_in("012084", "sato", "not the password").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(page.contains("団体コード、ログイン名またはパスワードが違います"));
    let (status, _, _) = b.log_in("012084", "nobody", "not the password").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Without the login form's token (another site's form): refused.
    let (status, _, _) = b
        .post(
            "/counter/login",
            &[
                ("lg_code", "012084"),
                ("login", "sato"),
                ("password", PASSWORD),
                ("login_token", "forged"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A session cookie planted before the login is not the one after it.
    b.cookies.insert(
        "madoguchi_console".to_owned(),
        "planted-by-someone".to_owned(),
    );
    let (status, h, _) = b.log_in("012084", "sato", PASSWORD).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location(&h), "/counter");
    let cookie = h
        .get_all(SET_COOKIE)
        .iter()
        .map(|c| c.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("madoguchi_console="))
        .unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert_ne!(b.cookies["madoguchi_console"], "planted-by-someone");
    let first = b.cookies["madoguchi_console"].clone();
    let (status, _, page) = b.get("/counter").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("今日の受付") && page.contains("佐藤 花子"));
    // A POST without the session's CSRF token is refused, whatever cookie it carries.
    let (status, _, page) = b
        .post(
            "/counter/visits",
            &[("csrf", "guessed"), ("kind", "moveIn")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("画面を読み込み直して"));
    // Log in again in the same browser: a new token; the old one opens nothing.
    let (status, _, _) = b.log_in("012084", "sato", PASSWORD).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_ne!(b.cookies["madoguchi_console"], first);
    let mut stale = Browser::new(&app);
    stale.cookies.insert("madoguchi_console".to_owned(), first);
    let (status, _, _) = stale.get("/counter").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    // English on request, kept by the session.
    let (_, _, _) = b.get("/counter").await;
    let (status, _, _) = b.post("/counter/lang", &[("lang", "en")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, page) = b.get("/counter").await;
    assert!(
        page.contains("<html lang=\"en\">") && page.contains("Today's visits"),
        "{page}"
    );
    // Logged out: the cookie is cleared and the session is gone.
    let token = b.cookies["madoguchi_console"].clone();
    let (status, h, _) = b.post("/counter/logout", &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location(&h).starts_with("/counter/login"));
    let mut after = Browser::new(&app);
    after.cookies.insert("madoguchi_console".to_owned(), token);
    assert_eq!(after.get("/counter").await.0, StatusCode::SEE_OTHER);
    // The audit log names the clerk.
    let events = audit_events(&app).await;
    let logins: Vec<_> = events
        .iter()
        .filter(|e| e["action"] == "console.login")
        .collect();
    assert!(
        logins
            .iter()
            .any(|e| e["outcome"] == "denied" && e["actor"] == "sato@012084"),
        "{logins:?}"
    );
    assert!(logins.iter().any(|e| e["outcome"] == "success"
        && e["actor"] == "sato@012084"
        && e["clientId"] == "console"));
    assert!(events.iter().any(|e| e["action"] == "console.logout"));
}
storage_test!(a_clerk_logs_in_and_out);

async fn failed_logins_lock_with_retry_after(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.auth.lockout.address_failures = 3;
        s.auth.lockout.client_failures = 3;
    })
    .await;
    clerk(&app, "sato").await;
    let mut b = Browser::new(&app);
    for _ in 0..3 {
        assert_eq!(
            b.log_in("012084", "sato", "wrong password!").await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    let (status, h, page) = b.log_in("012084", "sato", PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{page}");
    let wait: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(wait >= 1);
    assert!(page.contains("秒たってから"));
}
storage_test!(failed_logins_lock_with_retry_after);

async fn an_idle_session_is_logged_out_and_the_clerk_comes_back(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.console.idle_minutes = 0).await;
    clerk(&app, "sato").await;
    let mut b = Browser::new(&app);
    assert_eq!(
        b.log_in("012084", "sato", PASSWORD).await.0,
        StatusCode::SEE_OTHER
    );
    // With no idle time allowed, the next page finds the session idle.
    let (status, h, _) = b.get("/counter?x=1").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let to = location(&h);
    assert!(
        to.contains("timeout=1") && to.contains("next=%2Fcounter%3Fx%3D1"),
        "{to}"
    );
    let (_, _, page) = b.get(&to).await;
    assert!(page.contains("自動でログアウトしました"));
    assert!(
        page.contains("name=\"next\" value=\"/counter?x=1\""),
        "{page}"
    );
    let events = audit_events(&app).await;
    assert!(events.iter().any(
        |e| e["action"] == "console.logout" && e["target"].as_str().unwrap().ends_with(":idle")
    ));
}
storage_test!(an_idle_session_is_logged_out_and_the_clerk_comes_back);

async fn a_visit_is_walked_through_its_pages(backend: Backend) {
    let app = spawn_app(backend).await;
    clerk(&app, "sato").await;
    // The directory, as municipal IT sends it.
    let csv = import_sample(&app, 12).await;
    // A resident of the file: its kana column, read as the file writes it.
    let mut rows = csv.lines();
    let header: Vec<&str> = rows.next().unwrap().split(',').collect();
    let first: Vec<&str> = rows.next().unwrap().split(',').collect();
    let col = |name: &str| first[header.iter().position(|h| *h == name).unwrap()];
    let kana = col("nameKana");
    let name = col("name");

    let mut b = Browser::new(&app);
    b.log_in("012084", "sato", PASSWORD).await;
    b.get("/counter").await;
    // An impossible date: refused, said next to the field, the names kept.
    let (status, _, page) = b
        .post(
            "/counter/visits",
            &[
                ("kind", "death"),
                ("date", "令和8年2月30日"),
                ("member-0-family", "山田"),
                ("member-0-given", "花子"),
                ("member-1-family", "山田"),
                ("subject", "m2"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("id=\"date-error\""), "{page}");
    assert!(page.contains("aria-invalid=\"true\""));
    assert!(page.contains("value=\"花子\""));
    // In 和暦, a day that exists.
    let (status, h, _) = b
        .post(
            "/counter/visits",
            &[
                ("kind", "death"),
                ("date", "R8.12.1"),
                ("member-0-family", "山田"),
                ("member-0-given", "花子"),
                ("member-1-family", "山田"),
                ("subject", "m2"),
                ("ticket", "A-12"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let identify = location(&h);
    assert!(identify.ends_with("/identify"));
    let visit = visit_of(&h);
    let (_, _, today) = b.get("/counter").await;
    assert!(today.contains("A-12") && today.contains("死亡"), "{today}");
    // Search by kana in hiragana (folded), take the resident in as the second person.
    let hiragana: String = kana
        .chars()
        .map(|c| match c {
            'ァ'..='ヶ' => char::from_u32(c as u32 - 0x60).unwrap(),
            c => c,
        })
        .collect();
    let (status, _, page) = b
        .get(&format!("{identify}?kana={}", percent(&hiragana)))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(name), "{name} in the results");
    let addressee = attr(&page, "name=\"addressee\" value=\"").unwrap();
    let revision = attr(&page, "name=\"revision\" value=\"").unwrap();
    let (status, h, _) = b
        .post(
            &format!("/counter/visits/{visit}/residents"),
            &[
                ("addressee", &addressee),
                ("member", "m2"),
                ("revision", &revision),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, page) = b.get(&location(&h)).await;
    let family = name.split('\u{3000}').next().unwrap();
    let household =
        &page[page.find("id=\"household\"").unwrap()..page.find("id=\"search-title\"").unwrap()];
    assert!(
        household.contains(family) && household.contains("住民記録"),
        "{household}"
    );
    // The same form sent again with the old revision: refused, nothing changed twice.
    let (status, _, _) = b
        .post(
            &format!("/counter/visits/{visit}/residents"),
            &[
                ("addressee", &addressee),
                ("member", "m2"),
                ("revision", &revision),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    // Questions: answer the first yes/no one; it is gone afterwards.
    let (_, _, page) = b.get(&format!("/counter/visits/{visit}/questions")).await;
    let question = attr(&page, "name=\"question\" value=\"").expect("an open question");
    let fact = attr(&page, "name=\"fact\" value=\"").unwrap();
    let ty = attr(&page, "name=\"type\" value=\"").unwrap();
    let revision = attr(&page, "name=\"revision\" value=\"").unwrap();
    let member = attr(
        &page[page.find(&question).unwrap()..],
        "name=\"member\" value=\"",
    );
    let value = if ty == "boolean" {
        "false".to_owned()
    } else {
        attr(&page, "name=\"value\" value=\"").unwrap()
    };
    let mut fields = vec![
        ("question", question.as_str()),
        ("fact", fact.as_str()),
        ("type", ty.as_str()),
        ("revision", revision.as_str()),
        ("value", value.as_str()),
    ];
    if let Some(m) = &member {
        fields.push(("member", m));
    }
    let (status, _, _) = b
        .post(&format!("/counter/visits/{visit}/answers"), &fields)
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, after) = b.get(&format!("/counter/visits/{visit}/questions")).await;
    assert!(
        !after.contains(&format!("value=\"{question}\"")),
        "{question} still asked"
    );
    // The procedures: grouped by department, each with its reason.
    let (status, _, page) = b.get(&format!("/counter/visits/{visit}/procedures")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("必要な手続きは"));
    // Each needed procedure has its reason; while questions are open, the page says so.
    assert!(
        page.contains("<dt>理由</dt>") || page.contains("まだ決まっていない手続きがあります"),
        "{page}"
    );
    // Everything the clerk did is audited with the clerk.
    let events = audit_events(&app).await;
    for action in [
        "visit.create",
        "resident.lookup",
        "visit.update",
        "visit.read",
    ] {
        assert!(
            events.iter().any(|e| e["action"] == action
                && e["actor"] == "sato@012084"
                && e["clientId"] == "console"),
            "{action} by the clerk"
        );
    }
}
storage_test!(a_visit_is_walked_through_its_pages);

fn percent(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

async fn assets_are_served_by_the_gateway(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut b = Browser::new(&app);
    let (_, _, page) = b.get("/counter/login").await;
    for needle in [
        "htmx-2.0.11.min.js",
        "console.css",
        "console.js",
        "dads-tokens-1.1.9.css",
    ] {
        let url = attr(&page, "/counter/static/")
            .map(|v| v.split('/').next().unwrap().to_owned())
            .unwrap();
        let r = app
            .http
            .get(app.url(&format!("/counter/static/{url}/{needle}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{needle}");
        assert!(
            r.headers()["cache-control"]
                .to_str()
                .unwrap()
                .contains("immutable")
        );
        assert!(!r.bytes().await.unwrap().is_empty());
        assert!(page.contains(needle), "{needle} linked");
    }
    // Every src and href of the page is on this site.
    for part in page
        .split("src=\"")
        .skip(1)
        .chain(page.split("href=\"").skip(1))
    {
        assert!(
            part.starts_with('/') || part.starts_with('#'),
            "{}",
            &part[..40.min(part.len())]
        );
    }
}
storage_test!(assets_are_served_by_the_gateway);

/// Every audit event of the demo municipality, page after page.
pub(crate) async fn audit_events(app: &TestApp) -> Vec<serde_json::Value> {
    let token = app.demo_token().await;
    let mut all = Vec::new();
    let mut path = "/v1/municipalities/012084/audit-events?limit=100".to_owned();
    loop {
        let page = app.get_json(&path, &token).await;
        all.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["nextCursor"].as_str() {
            Some(c) => {
                path = format!("/v1/municipalities/012084/audit-events?limit=100&cursor={c}")
            }
            None => return all,
        }
    }
}

/// Answers the questions page's first question the way a clerk would: no for yes/no, the
/// first option, a date in 和暦, a count of one. `None` when nothing is left to ask.
pub(crate) async fn answer_first(b: &mut Browser<'_>, visit: &str) -> Option<String> {
    let (_, _, page) = b.get(&format!("/counter/visits/{visit}/questions")).await;
    let start = page.find("<form class=\"question\"")?;
    let form = &page[start..start + page[start..].find("</form>").unwrap()];
    let field = |name: &str| attr(form, &format!("name=\"{name}\" value=\""));
    let question = field("question").unwrap();
    let ty = field("type").unwrap();
    // The family of the conformance kit's scenario 1 (schemas/conformance/scenarios/visits):
    // parents born 1988 and 1990, children 2018 and 2026, all in 国保, from another city.
    let member = field("member");
    let options: Vec<String> = form
        .split("name=\"value\" value=\"")
        .skip(1)
        .map(|r| r[..r.find('"').unwrap()].to_owned())
        .collect();
    let value = match ty.as_str() {
        "boolean" => "false".to_owned(),
        "date" => match member.as_deref() {
            Some("m1") => "S63.4.10",
            Some("m2") => "平成2年6月15日",
            Some("m3") => "2018/9/1",
            Some("m4") => "令和8年5月20日",
            _ => "2026-11-25",
        }
        .to_owned(),
        "integer" => "1".to_owned(),
        _ => ["otherMunicipality", "nationalHealth", "1"]
            .iter()
            .find(|p| options.iter().any(|o| o == *p))
            .map(|p| (*p).to_owned())
            .or_else(|| options.first().cloned())
            .unwrap_or_else(|| "1".to_owned()),
    };
    let mut fields = vec![
        ("question".to_owned(), question.clone()),
        ("fact".to_owned(), field("fact").unwrap()),
        ("type".to_owned(), ty),
        ("revision".to_owned(), field("revision").unwrap()),
        ("value".to_owned(), value),
    ];
    for extra in ["member", "event"] {
        if let Some(v) = field(extra).filter(|v| !v.is_empty()) {
            fields.push((extra.to_owned(), v));
        }
    }
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (status, _, body) = b
        .post(&format!("/counter/visits/{visit}/answers"), &pairs)
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{question}: {body}");
    Some(question)
}

async fn a_move_in_is_decided_and_its_forms_checked(backend: Backend) {
    let app = spawn_app(backend).await;
    clerk(&app, "sato").await;
    let mut b = Browser::new(&app);
    b.log_in("012084", "sato", PASSWORD).await;
    b.get("/counter").await;
    let (status, h, _) = b
        .post(
            "/counter/visits",
            &[
                ("kind", "moveIn"),
                ("date", "令和8年12月1日"),
                ("member-0-family", "山田"),
                ("member-0-given", "太郎"),
                ("member-1-family", "山田"),
                ("member-1-given", "花子"),
                ("member-2-family", "山田"),
                ("member-2-given", "一郎"),
                ("member-3-family", "山田"),
                ("member-3-given", "桜"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let visit = visit_of(&h);
    // Every open question answered, one at a time, until the procedures are decided.
    let mut asked = Vec::new();
    while let Some(q) = answer_first(&mut b, &visit).await {
        assert!(!asked.contains(&q), "{q} asked again after its answer");
        asked.push(q);
        assert!(asked.len() < 80, "the questions do not end: {asked:?}");
    }
    let (_, _, page) = b.get(&format!("/counter/visits/{visit}/procedures")).await;
    let needed: usize = page
        .split("必要な手続きは")
        .nth(1)
        .and_then(|r| r.split('件').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(
        needed >= 3,
        "a family of four moving in needs several procedures: {needed}"
    );
    assert!(page.contains("<dt>理由</dt>"));
    // The forms: each field with its source; one edit that breaks validation, then a fix.
    let (_, _, page) = b.get(&format!("/counter/visits/{visit}/drafts")).await;
    assert!(
        page.contains("自動入力") && page.contains("class=\"draft\""),
        "{page}"
    );
    let section = &page[page.find("class=\"draft\"").unwrap()..];
    let key = attr(section, "name=\"key\" value=\"").unwrap();
    let revision = attr(section, "name=\"revision\" value=\"").unwrap();
    // The first field whose current value is text.
    let pointer = attr(section, "name=\"pointer\" value=\"").unwrap();
    let (status, _, after) = b
        .post(
            &format!("/counter/visits/{visit}/drafts"),
            &[
                ("key", &key),
                ("pointer", &pointer),
                ("revision", &revision),
                ("value", "\u{202E}evil"),
            ],
        )
        .await;
    assert!(
        status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::SEE_OTHER,
        "{status}"
    );
    let (_, _, page) = b.get(&format!("/counter/visits/{visit}/drafts")).await;
    let _ = after;
    assert!(page.contains("自動入力"));
    // Forms with gaps cannot be signed: the page names each form and its first gap.
    let (_, _, page) = b.get(&format!("/counter/visits/{visit}/confirm")).await;
    assert!(page.contains("id=\"signature-pad\"") && page.contains("id=\"review\""));
    let revision = attr(&page, "name=\"revision\" value=\"").unwrap();
    let (status, _, page) = b
        .post(
            &format!("/counter/visits/{visit}/confirm"),
            &[("method", "attestation"), ("revision", &revision)],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.contains("住民異動届") && page.contains("誤りがあります"),
        "{page}"
    );
}
storage_test!(a_move_in_is_decided_and_its_forms_checked);

/// A move within the city for a resident of the directory: identified, the questions
/// answered, the forms prefilled from the registry and completed by the clerk field by field
/// (with the values of each form schema's own example), signed by the clerk's attestation,
/// sent once (a second 送信 makes nothing), printed.
async fn a_move_within_is_completed_signed_sent_and_printed(backend: Backend) {
    let app = spawn_app(backend).await;
    clerk(&app, "sato").await;
    let csv = import_sample(&app, 5).await;
    let first: Vec<&str> = csv.lines().nth(1).unwrap().split(',').collect();
    let (addressee, kana) = (first[2], first[5]);
    let mut b = Browser::new(&app);
    b.log_in("012084", "sato", PASSWORD).await;
    let visit = open_move_within(&mut b).await;
    let (_, _, page) = b
        .get(&format!(
            "/counter/visits/{visit}/identify?kana={}",
            percent(kana)
        ))
        .await;
    let revision = attr(&page, "name=\"revision\" value=\"").unwrap();
    let (status, _, _) = b
        .post(
            &format!("/counter/visits/{visit}/residents"),
            &[
                ("addressee", addressee),
                ("member", "m1"),
                ("revision", &revision),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    while answer_first(&mut b, &visit).await.is_some() {}
    // The clerk completes what no system holds (the new address, a phone number), one field
    // at a time, each re-checked as it is saved.
    let mut filled = 0;
    loop {
        let (_, _, page) = b.get(&format!("/counter/visits/{visit}/drafts")).await;
        let Some(at) = page.find("aria-invalid=\"true\"") else {
            break;
        };
        let form_start = page[..at].rfind("<form").unwrap();
        let form = &page[form_start..form_start + page[form_start..].find("</form>").unwrap()];
        let field = |name: &str| attr(form, &format!("name=\"{name}\" value=\"")).unwrap();
        let pointer = field("pointer");
        let last = pointer.rsplit('/').next().unwrap().to_owned();
        // The value the form's own schema gives as its example at this place, else the
        // first code of a list.
        let key = field("key");
        let section_start = page[..form_start].rfind("class=\"draft\"").unwrap();
        let form_ref = drafts_form_ref(&page[section_start..form_start], &key);
        let example = example_at(&form_ref, &pointer);
        let value = match example {
            Some(v) => v,
            None if form.contains("<select") => {
                let after = &form[form.find("<option value=\"\"").unwrap() + 1..];
                attr(&after[after.find("<option").unwrap()..], "value=\"").unwrap()
            }
            None => panic!("no example for {pointer} in {form_ref}"),
        };
        let _ = last;
        let (status, _, body) = b
            .post(
                &format!("/counter/visits/{visit}/drafts"),
                &[
                    ("key", &field("key")),
                    ("pointer", &pointer),
                    ("revision", &field("revision")),
                    ("value", &value),
                ],
            )
            .await;
        assert!(
            status == StatusCode::SEE_OTHER || status == StatusCode::UNPROCESSABLE_ENTITY,
            "{pointer}: {status} {body}"
        );
        filled += 1;
        assert!(
            filled < 40,
            "the forms do not become complete: last {pointer} = {value}"
        );
    }
    let (_, _, page) = b.get(&format!("/counter/visits/{visit}/drafts")).await;
    assert!(
        page.contains("入力完了") && !page.contains("要確認"),
        "{page}"
    );
    assert!(page.contains("手入力") && filled > 0);
    assert!(
        page.contains("住民記録"),
        "values taken from the registry show it"
    );
    // Confirm by the clerk's attestation, then send; a second 送信 makes nothing new.
    let (_, _, page) = b.get(&format!("/counter/visits/{visit}/confirm")).await;
    let revision = attr(&page, "name=\"revision\" value=\"").unwrap();
    // Without a drawing, the signature method is refused with what to do.
    let (status, _, page) = b
        .post(
            &format!("/counter/visits/{visit}/confirm"),
            &[
                ("method", "signature"),
                ("signature", ""),
                ("revision", &revision),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("署名パッドに署名してから"));
    let (status, _, body) = b
        .post(
            &format!("/counter/visits/{visit}/confirm"),
            &[("method", "attestation"), ("revision", &revision)],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let (_, _, page) = b.get(&format!("/counter/visits/{visit}/after")).await;
    assert!(page.contains("送信する"));
    let (status, _, _) = b
        .post(&format!("/counter/visits/{visit}/submit"), &[])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _, _) = b
        .post(&format!("/counter/visits/{visit}/submit"), &[])
        .await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "a second 送信 shows the first one's applications"
    );
    let (_, _, page) = b.get(&format!("/counter/visits/{visit}/after")).await;
    let table = &page[page.find("id=\"applications\"").expect("the applications")..];
    let rows = table.matches("<tr><th scope=\"row\">").count();
    assert!(rows >= 1);
    // Visits belong to the client that opened them (here `console`): counted in the store.
    let stored = app
        .store
        .applications(visit.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(stored.len(), rows, "one submission, not two");
    // The printouts, from the server: a PDF with every form and the 受付票.
    let r = app
        .http
        .get(app.url(&format!("/counter/visits/{visit}/print/all")))
        .header(COOKIE, b.cookie_header())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    let pdf = r.bytes().await.unwrap();
    let doc = lopdf::Document::load_mem(&pdf).unwrap();
    assert!(doc.get_pages().len() >= 2, "every form and the 受付票");
    // The states live: the events stream sends the table, then again when a core system
    // answers (here: the first application rejected with a reason).
    let mut events = app
        .http
        .get(app.url(&format!("/counter/visits/{visit}/events")))
        .header(COOKIE, b.cookie_header())
        .send()
        .await
        .unwrap();
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    let first = String::from_utf8(events.chunk().await.unwrap().unwrap().to_vec()).unwrap();
    assert!(first.starts_with("event: applications\ndata: "), "{first}");
    assert!(first.contains("id=\"applications\""));
    let rejected = &stored[0];
    let ack = app
        .store
        .acknowledge_application(
            &madoguchi::tenancy::LgCode::parse("012084").unwrap(),
            &rejected.area,
            rejected.id,
            madoguchi::visits::confirmation::Acknowledgement::Rejected,
            Some("添付書類が不足しています".to_owned()),
            &madoguchi::audit::Actor::system("test-core-system"),
        )
        .await
        .unwrap();
    let _ = ack;
    let next = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            let chunk = events.chunk().await.unwrap().unwrap();
            let text = String::from_utf8(chunk.to_vec()).unwrap();
            if text.starts_with("event: applications") {
                return text;
            }
        }
    })
    .await
    .expect("an event after the answer");
    assert!(
        next.contains("差戻し") && next.contains("添付書類が不足しています"),
        "{next}"
    );
    drop(events);
    // The KPIs count the visit: one submitted, its stay, its fields; the CSV has today's row.
    let (status, _, page) = b.get("/counter/kpis?period=month").await;
    assert_eq!(status, StatusCode::OK);
    let tiles =
        &page[page.find("id=\"kpi-tiles\"").unwrap()..page.find("id=\"stay-histogram\"").unwrap()];
    assert!(tiles.contains("<dt>申請済み</dt><dd>1</dd>"), "{tiles}");
    assert!(page.contains("role=\"img\"") && page.contains("<title id=\"stay-chart-title\">"));
    assert!(page.contains("滞在時間の中央値は"));
    let csv = app
        .http
        .get(app.url("/counter/kpis.csv?period=day"))
        .header(COOKIE, b.cookie_header())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let text = std::str::from_utf8(&csv[3..]).unwrap();
    assert!(csv.starts_with(&[0xEF, 0xBB, 0xBF]), "a BOM for Excel");
    let today = (chrono::Utc::now() + chrono::Duration::hours(9)).date_naive();
    assert!(
        text.starts_with("date,visits,medianStayMinutes,p90StayMinutes"),
        "{text}"
    );
    // By business area and by clerk: one submitted visit, too few to show its stay time.
    let areas = &page[page.find("id=\"kpi-areas\"").unwrap()..];
    let areas = &areas[..areas.find("</table>").unwrap()];
    assert!(areas.contains("住民記録"), "{areas}");
    assert!(
        !areas.contains("分</td>"),
        "a single visit's stay is not shown: {areas}"
    );
    let clerks = &page[page.find("id=\"kpi-clerks\"").unwrap()..];
    let clerks = &clerks[..clerks.find("</table>").unwrap()];
    assert!(clerks.contains("佐藤 花子"), "{clerks}");
    assert!(text.contains(&format!("{today},1,")), "{text}");
    let events = audit_events(&app).await;
    for action in ["visit.confirm", "visit.submit", "visit.print"] {
        assert!(
            events
                .iter()
                .any(|e| e["action"] == action && e["actor"] == "sato@012084"),
            "{action} by the clerk"
        );
    }
}
storage_test!(a_move_within_is_completed_signed_sent_and_printed);

/// The form (`id@version`) of a draft, as its procedure's catalogue file names it.
pub(crate) fn drafts_form_ref(_section: &str, key: &str) -> String {
    let procedure = key.split('@').next().unwrap();
    let path = format!(
        "{}/schemas/catalog/procedures/{procedure}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    json["form"].as_str().unwrap().to_owned()
}

/// The example document of a form's schema, at `pointer`, as a clerk would type it.
pub(crate) fn example_at(form_ref: &str, pointer: &str) -> Option<String> {
    let (id, version) = form_ref.split_once('@').unwrap();
    let path = format!(
        "{}/schemas/forms/{id}/{version}.schema.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    match schema["examples"][0].pointer(pointer)? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `link sample`'s synthetic directory of `residents` for 北見市, imported through the admin
/// API as municipal IT sends it, once the job has ended; the file as sent.
pub(crate) async fn import_sample(app: &TestApp, residents: u64) -> String {
    let mut csv = Vec::new();
    madoguchi::link::sample::write_full(&mut csv, "012084", residents).unwrap();
    let csv = String::from_utf8(csv).unwrap();
    let admin = app.admin_token().await;
    let sent = app
        .http
        .post(app.url("/v1/admin/resident-imports?lgCode=012084&kind=full"))
        .bearer_auth(&admin)
        .header("Content-Type", "text/csv; charset=utf-8")
        .body(csv.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), StatusCode::ACCEPTED);
    let job = sent.headers()["location"].to_str().unwrap().to_owned();
    for _ in 0..200 {
        if app.get_json(&job, &admin).await["state"] != "running" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    csv
}

/// Opens a move within for one person named 山田; returns the visit's id.
async fn open_move_within(b: &mut Browser<'_>) -> String {
    b.get("/counter").await;
    let (status, h, _) = b
        .post(
            "/counter/visits",
            &[
                ("kind", "moveWithin"),
                ("date", "R8.12.7"),
                ("member-0-family", "山田"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    visit_of(&h)
}

/// Follows the card page's state fragment (as htmx does every second) until the read ends.
async fn card_outcome(b: &mut Browser<'_>, page: &str) -> String {
    for _ in 0..60 {
        let (status, _, fragment) = b.get(&format!("{page}/state?member=m1")).await;
        assert_eq!(status, StatusCode::OK, "{fragment}");
        if fragment.contains("data-state=\"verified\"")
            || fragment.contains("data-state=\"failed\"")
        {
            return fragment;
        }
        // Still reading: it asks htmx to come back.
        assert!(fragment.contains("hx-trigger=\"every 1s\""), "{fragment}");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    panic!("the card read did not end");
}

/// Asks for a card read from 本人確認; returns the card page's path.
async fn ask_card(
    b: &mut Browser<'_>,
    visit: &str,
    device: &str,
    method: &str,
    matching: &str,
) -> String {
    let (status, h, page) = b
        .post(
            &format!("/counter/visits/{visit}/card"),
            &[
                ("device", device),
                ("method", method),
                ("matching", matching),
                ("member", "m1"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    location(&h).split('?').next().unwrap().to_owned()
}

/// 本人確認 with the card: the real bridge enrolled as a counter PC and playing the virtual
/// card, the clerk asks for a read from the visit's page, the page follows the reader's steps,
/// shows the verified 基本4情報 in 和暦, and 取り込む records them with the source カード確認済.
/// 照合番号B typed in full-width digits reads the card face, whose images the clerk's page
/// serves; a mistyped one is said as such with the tries left; bad choices are refused next to
/// their fields; a read of another visit is not shown here.
async fn a_card_read_at_the_counter_pc_is_taken_into_the_visit(backend: Backend) {
    let pc = crate::bridge::enrolled_pc(backend).await;
    let app = &pc.app;
    clerk(app, "sato").await;
    let mut b = Browser::new(app);
    b.log_in("012084", "sato", PASSWORD).await;
    let visit = open_move_within(&mut b).await;
    let (_, _, identify) = b.get(&format!("/counter/visits/{visit}/identify")).await;
    assert!(identify.contains("マイナンバーカードで確認"), "{identify}");
    assert!(
        identify.contains(&format!("<option value=\"{}\"", pc.device_id)),
        "the enrolled counter PC is offered: {identify}"
    );

    // Bad choices, refused next to their fields, nothing asked of the PC.
    let (status, _, page) = b
        .post(
            &format!("/counter/visits/{visit}/card"),
            &[
                ("device", &pc.device_id),
                ("method", "readCardFace"),
                ("matching", "12345"),
                ("member", "m1"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("id=\"card-matching-error\""), "{page}");
    assert!(page.contains("照合番号Bを14桁"), "{page}");
    assert!(page.contains("value=\"12345\""), "what was typed is kept");
    let (status, _, page) = b
        .post(
            &format!("/counter/visits/{visit}/card"),
            &[
                ("device", "not-a-pc"),
                ("method", "readMyNumber"),
                ("member", "m9"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.contains("id=\"card-device-error\"") && page.contains("id=\"card-method-error\""),
        "{page}"
    );

    // Asked before the bridge runs: the page says to put the card on the reader.
    let card = ask_card(&mut b, &visit, &pc.device_id, "readBasicInfo", "").await;
    let (status, _, page) = b.get(&format!("{card}?member=m1")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("data-state=\"waitingForCard\""), "{page}");
    assert!(
        page.contains("<li aria-current=\"step\"><strong>カードを読み取り機に置いてください"),
        "{page}"
    );

    // The resident's card on the reader, the PIN typed there.
    let _bridge = crate::bridge::run_bridge(
        &pc.bridge_dir,
        &pc.trust,
        "1234",
        &pc.work.path().join("console.log"),
    );
    let verified = card_outcome(&mut b, &card).await;
    assert!(verified.contains("data-state=\"verified\""), "{verified}");
    assert!(verified.contains("山田　花子"), "{verified}");
    assert!(
        verified.contains("昭和55年2月17日(1980-02-17)"),
        "{verified}"
    );
    assert!(
        verified.contains("北海道北見市北５条東２丁目１０番地"),
        "{verified}"
    );
    assert!(verified.contains("<td>女</td>"), "{verified}");
    // The visit knows only the family name 山田, which the card's name starts with: no warning.
    assert!(!verified.contains("card-name-differs"), "{verified}");
    let revision = attr(&verified, "name=\"revision\" value=\"").unwrap();
    let (status, h, _) = b
        .post(
            &format!("{card}/take"),
            &[("member", "m1"), ("revision", &revision)],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, identify) = b.get(&location(&h)).await;
    assert!(identify.contains("カードから取り込みました"), "{identify}");
    let household = &identify[identify.find("id=\"household\"").unwrap()..];
    let household = &household[..household.find("</table>").unwrap()];
    assert!(household.contains("花子"), "{household}");
    assert!(household.contains("1980-02-17"), "{household}");
    assert!(household.contains("カード確認済"), "{household}");
    // 世帯の情報: a value the card verified is not changed by a typo; the clerk who has checked
    // with the resident says so for that person, and the value becomes 職員入力.
    let household_path = format!("/counter/visits/{visit}/household");
    let (_, _, page) = b.get(&household_path).await;
    let revision = attr(&page, "name=\"revision\" value=\"").unwrap();
    assert!(page.contains("name=\"m1.overrideCard\""), "{page}");
    let (status, _, page) = b
        .post(
            &household_path,
            &[
                ("m1.dateOfBirth", "昭和55年2月18日"),
                ("revision", &revision),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let said = page.split("id=\"f-m1-dateOfBirth-error\"").nth(1).unwrap();
    assert!(
        said[..400].contains("カードで確認した値です"),
        "{}",
        &said[..400]
    );
    let (status, _, _) = b
        .post(
            &household_path,
            &[
                ("m1.dateOfBirth", "昭和55年2月18日"),
                ("m1.overrideCard", "1"),
                ("revision", &revision),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, page) = b.get(&household_path).await;
    let label = label_of(&page, "f-m1-dateOfBirth");
    assert!(label.contains("職員入力"), "{label}");
    assert!(page.contains("(1980-02-18)"));

    // 照合番号B as typed on a Japanese keyboard: the card face, and its images for the clerk.
    let face = ask_card(
        &mut b,
        &visit,
        &pc.device_id,
        "readCardFace",
        "５５０２１７ ２０３６ １２３４",
    )
    .await;
    let shown = card_outcome(&mut b, &face).await;
    assert!(shown.contains("data-state=\"verified\""), "{shown}");
    assert!(shown.contains("昭和55年2月17日"), "{shown}");
    let name_image = app
        .http
        .get(app.url(&format!("{face}/images/name")))
        .header(COOKIE, b.cookie_header())
        .send()
        .await
        .unwrap();
    assert_eq!(name_image.status(), StatusCode::OK);
    assert_eq!(name_image.headers()["content-type"], "image/png");
    assert_eq!(name_image.headers()["cache-control"], "no-store");
    assert!(name_image.bytes().await.unwrap().starts_with(b"\x89PNG"));
    // A mistyped one: said as 照合番号B, with the tries left.
    let wrong = ask_card(
        &mut b,
        &visit,
        &pc.device_id,
        "readCardFace",
        "55021720369999",
    )
    .await;
    let failed = card_outcome(&mut b, &wrong).await;
    assert!(failed.contains("data-state=\"failed\""), "{failed}");
    assert!(
        failed.contains("照合番号B") && failed.contains("あと9回"),
        "{failed}"
    );

    // A read asked for another visit is not shown from this one.
    let other = open_move_within(&mut b).await;
    let (status, _, _) = b
        .get(&format!(
            "/counter/visits/{other}/card/{}",
            face.rsplit('/').next().unwrap()
        ))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The reads are audited with the clerk as actor.
    let events = audit_events(app).await;
    let reads: Vec<_> = events
        .iter()
        .filter(|e| e["action"] == "card_session.read")
        .collect();
    assert!(!reads.is_empty(), "{events:?}");
    assert!(
        reads.iter().all(|e| e["actor"] == "sato@012084"),
        "{reads:?}"
    );
}
storage_test!(a_card_read_at_the_counter_pc_is_taken_into_the_visit);

/// The fields a form on `page` sends as it stands: text inputs with their values, checkboxes
/// only when checked (what a browser submits); disabled inputs are not sent.
fn form_fields(page: &str, form_start: &str) -> Vec<(String, String)> {
    let start = page.find(form_start).unwrap();
    let form = &page[start..start + page[start..].find("</form>").unwrap()];
    let mut out = Vec::new();
    for tag in form.split("<input").skip(1) {
        let tag = &tag[..tag.find('>').unwrap()];
        let Some(name) = attr(tag, "name=\"") else {
            continue;
        };
        if tag.contains(" disabled") {
            continue;
        }
        if tag.contains("type=\"checkbox\"") && !tag.contains(" checked") {
            continue;
        }
        let value = attr(tag, "value=\"").unwrap_or_default();
        out.push((name, value.replace("&amp;", "&")));
    }
    out
}

async fn post_owned(
    b: &mut Browser<'_>,
    path: &str,
    fields: Vec<(String, String)>,
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let refs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    b.post(path, &refs).await
}

fn set(fields: &mut Vec<(String, String)>, name: &str, value: Option<&str>) {
    fields.retain(|(n, _)| n != name);
    if let Some(v) = value {
        fields.push((name.to_owned(), v.to_owned()));
    }
}

/// 手続きの設定: a clerk reads the catalogue in force and cannot change it; a supervisor turns
/// a procedure off, gives a fee typed in full-width digits, sets a municipal parameter, sees
/// what would change (nothing saved by the preview), is refused a fee that is not a number and
/// a parameter out of its bounds at their fields, saves a new version (the API reads it, the
/// audit names the supervisor), and a save based on an older version is refused.
async fn a_supervisor_previews_and_saves_catalogue_overrides(backend: Backend) {
    let app = spawn_app(backend).await;
    clerk(&app, "sato").await;
    let r = admin_staff(
        &app,
        json!({"lgCode": "012084", "login": "suzuki", "name": "鈴木 課長", "role": "supervisor", "password": PASSWORD}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let admin = app.register_client(&["admin"], &["012084"]).await;
    let token = app.token_for(&admin.id, &admin.secret).await;

    // A clerk: read only.
    let mut c = Browser::new(&app);
    c.log_in("012084", "sato", PASSWORD).await;
    let (status, _, page) = c.get("/counter/catalog").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("原動機付自転車"),
        "the procedures are listed: {page}"
    );
    assert!(page.contains("name=\"on-mopedRegistration\"") && page.contains("disabled"));
    assert!(!page.contains("変更を確認する"));
    let (status, _, _) = c
        .post("/counter/catalog/preview", &[("based_on", "0")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // A supervisor changes three things.
    let mut s = Browser::new(&app);
    s.log_in("012084", "suzuki", PASSWORD).await;
    let (_, _, page) = s.get("/counter/catalog").await;
    let mut fields = form_fields(
        &page,
        "<form method=\"post\" action=\"/counter/catalog/preview\"",
    );
    assert!(
        fields.iter().any(|(n, _)| n == "on-mopedRegistration"),
        "{fields:?}"
    );
    set(&mut fields, "on-mopedRegistration", None);
    set(&mut fields, "fee-sealRegistrationMoveIn", Some("２００円"));
    set(
        &mut fields,
        "param-childMedicalSubsidy.lastSchoolYearAge",
        Some("14"),
    );
    let (status, _, preview) = post_owned(&mut s, "/counter/catalog/preview", fields.clone()).await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    let table = &preview[preview.find("id=\"preview\"").unwrap()..];
    let table = &table[..table.find("</section>").unwrap()];
    assert!(
        table.contains("受け付ける") && table.contains("止める"),
        "{table}"
    );
    assert!(table.contains("200円"), "{table}");
    assert!(
        table.contains("<del>17歳</del>") && table.contains("<strong>14歳</strong>"),
        "{table}"
    );
    assert!(
        preview.contains("id=\"save\""),
        "the save button once previewed"
    );
    // The preview saved nothing.
    let overrides = app
        .get_json("/v1/municipalities/012084/catalog/overrides", &token)
        .await;
    assert_eq!(overrides["version"], 0, "{overrides}");

    // A fee that is no number, a parameter out of its bounds: refused at their fields.
    let mut bad = fields.clone();
    set(&mut bad, "fee-sealRegistrationMoveIn", Some("二百円"));
    let (status, _, page) = post_owned(&mut s, "/counter/catalog/preview", bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.contains("href=\"#fee-sealRegistrationMoveIn\""),
        "{page}"
    );
    assert!(!page.contains("id=\"save\""));
    let mut bad = fields.clone();
    set(
        &mut bad,
        "param-childMedicalSubsidy.lastSchoolYearAge",
        Some("99"),
    );
    let (status, _, page) = post_owned(&mut s, "/counter/catalog/preview", bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.contains("childMedicalSubsidy.lastSchoolYearAge"),
        "{page}"
    );

    // Saved: a new version the API reads, audited with the supervisor.
    let (status, h, _) = post_owned(&mut s, "/counter/catalog/save", fields.clone()).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, page) = s.get(&location(&h)).await;
    assert!(page.contains("保存しました"), "{page}");
    let overrides = app
        .get_json("/v1/municipalities/012084/catalog/overrides", &token)
        .await;
    assert_eq!(overrides["version"], 1, "{overrides}");
    let o = &overrides["overrides"];
    assert_eq!(
        o["procedures"]["mopedRegistration"]["enabled"], false,
        "{o}"
    );
    assert_eq!(
        o["procedures"]["sealRegistrationMoveIn"]["fee"]["yen"], 200,
        "{o}"
    );
    assert_eq!(
        o["parameters"]["childMedicalSubsidy.lastSchoolYearAge"], 14,
        "{o}"
    );
    assert_eq!(
        o["procedures"].as_object().unwrap().len(),
        2,
        "nothing else overridden: {o}"
    );
    let events = audit_events(&app).await;
    assert!(
        events
            .iter()
            .any(|e| e["action"] == "catalog.override" && e["actor"] == "suzuki@012084"),
        "{events:?}"
    );
    // The form was based on version 0: saving it again is refused.
    let (status, _, page) = post_owned(&mut s, "/counter/catalog/save", fields.clone()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{page}");
}
storage_test!(a_supervisor_previews_and_saves_catalogue_overrides);
