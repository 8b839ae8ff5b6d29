//! Single sign-on against a real OpenID Connect provider: npm's OpenID-certified
//! `oidc-provider` (installed by `tests/console/run` into `target/oidc-node`), run on loopback
//! with its own login and consent pages, which the test fills in as a clerk would. Its
//! signing keys, its ID tokens, its PKCE and code checks are the package's, not ours.
//! Ignored in a plain `cargo test` (it needs Node and the package); `tests/console/run` runs
//! it on SQLite and PostgreSQL.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::json;

use crate::console::{Browser, PASSWORD, admin_staff, attr, audit_events, clerk, location};
use crate::helpers::{Backend, Running, TestApp, spawn_app_with};
use crate::storage_test;

fn node_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/oidc-node")
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// The provider, listening once it said so.
async fn start_provider(port: u16, secret: &str, redirect: &str) -> Running {
    let dir = node_dir();
    assert!(
        dir.join("node_modules/oidc-provider").is_dir(),
        "oidc-provider is not installed in {}: run tests/console/run",
        dir.display()
    );
    // ESM imports resolve from the script's own folder: run a copy beside node_modules.
    let script = dir.join("oidc-provider.mjs");
    std::fs::copy(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/console/oidc-provider.mjs"),
        &script,
    )
    .unwrap();
    let accounts = json!({
        // Two roles through a list: the higher one counts.
        "u-1001": {"preferred_username": "Tanaka", "name": "田中 一郎", "madoguchi_role": ["窓口係", "市民課長"]},
        // The login of a password account.
        "u-1002": {"preferred_username": "sato", "name": "なりすまし", "madoguchi_role": "窓口係"},
        // No role the console knows.
        "u-1003": {"preferred_username": "guest", "name": "来庁者", "madoguchi_role": "来庁者"},
        // An account an administrator made for single sign-on, without a password.
        "u-1004": {"preferred_username": "kato", "name": "加藤 次郎", "madoguchi_role": "窓口係"},
    });
    let child = Command::new("node")
        .arg(&script)
        .env("OIDC_PORT", port.to_string())
        .env("OIDC_CLIENT_SECRET", secret)
        .env("OIDC_REDIRECT", redirect)
        .env("OIDC_ACCOUNTS", accounts.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("node runs");
    let running = Running(child);
    let discovery = format!("http://127.0.0.1:{port}/.well-known/openid-configuration");
    for _ in 0..100 {
        if reqwest::get(&discovery)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return running;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the OpenID provider did not start on {port}");
}

/// The clerk at the provider's pages: cookies of the provider kept, redirects followed by
/// hand, the login form and the consent form submitted, until the provider sends the browser
/// back to the console. Answers the callback URL.
async fn at_the_provider(start: &str, account: &str, callback_prefix: &str) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut jar: BTreeMap<String, String> = BTreeMap::new();
    let cookie_header = |jar: &BTreeMap<String, String>| {
        jar.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let keep = |jar: &mut BTreeMap<String, String>, r: &reqwest::Response| {
        for c in r.headers().get_all(SET_COOKIE) {
            let pair = c.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() {
                jar.remove(name);
            } else {
                jar.insert(name.to_owned(), value.to_owned());
            }
        }
    };
    let origin = {
        let u = reqwest::Url::parse(start).unwrap();
        format!("{}://{}", u.scheme(), u.host_str().unwrap()) + &format!(":{}", u.port().unwrap())
    };
    let absolute = |l: &str| {
        if l.starts_with("http") {
            l.to_owned()
        } else {
            format!("{origin}{l}")
        }
    };
    let mut url = start.to_owned();
    for _ in 0..20 {
        if url.starts_with(callback_prefix) {
            return url;
        }
        let r = http
            .get(&url)
            .header(COOKIE, cookie_header(&jar))
            .send()
            .await
            .unwrap();
        keep(&mut jar, &r);
        if r.status().is_redirection() {
            url = absolute(r.headers()[LOCATION].to_str().unwrap());
            continue;
        }
        assert_eq!(r.status(), StatusCode::OK, "{url}");
        let page = r.text().await.unwrap();
        let action = absolute(&attr(&page, "action=\"").expect("a form at the provider"));
        let prompt = attr(&page, "name=\"prompt\" value=\"").unwrap();
        let mut form = vec![("prompt", prompt.clone())];
        if prompt == "login" {
            form.push(("login", account.to_owned()));
            form.push(("password", "anything".to_owned()));
        }
        let r = http
            .post(&action)
            .header(COOKIE, cookie_header(&jar))
            .form(&form)
            .send()
            .await
            .unwrap();
        keep(&mut jar, &r);
        assert!(r.status().is_redirection(), "{}", r.status());
        url = absolute(r.headers()[LOCATION].to_str().unwrap());
    }
    panic!("the provider never sent the browser back");
}

struct Sso {
    _provider: Running,
    _dir: tempfile::TempDir,
    app: TestApp,
}

async fn with_provider(backend: Backend) -> Sso {
    let dir = tempfile::tempdir().unwrap();
    let secret = "console-client-secret-for-tests";
    let secret_file = dir.path().join("sso-secret");
    std::fs::write(&secret_file, format!("{secret}\n")).unwrap();
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let app = spawn_app_with(backend, move |s| {
        s.console.sso = vec![madoguchi::config::SsoSettings {
            lg_code: "012084".to_owned(),
            issuer,
            client_id: "madoguchi-console".to_owned(),
            client_secret_file: Some(secret_file),
            redirect_url: None,
            role_claim: "madoguchi_role".to_owned(),
            roles: [("窓口係", "clerk"), ("市民課長", "supervisor")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            login_claim: "preferred_username".to_owned(),
            scopes: vec!["profile".to_owned()],
            label: Some("北見市職員アカウントでログイン".to_owned()),
            allow_http: true,
        }];
    })
    .await;
    let provider = start_provider(port, secret, &app.url("/counter/sso/callback")).await;
    Sso {
        _provider: provider,
        _dir: dir,
        app,
    }
}

/// Starts at the login page's button; answers the callback's status and body.
async fn sign_in(b: &mut Browser<'_>, account: &str, next: &str) -> (StatusCode, String) {
    let (status, h, _) = b
        .get(&format!("/counter/sso/start?lg=012084&next={next}"))
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let auth = location(&h);
    let callback = at_the_provider(&auth, account, &b.app.url("/counter/sso/callback")).await;
    let path = callback.trim_start_matches(&b.app.url(""));
    let (status, _, page) = b.get(path).await;
    (status, page)
}

async fn staff_list(app: &TestApp) -> Vec<serde_json::Value> {
    let token = app.admin_token().await;
    let list: serde_json::Value = app.get_json("/v1/admin/staff?lgCode=012084", &token).await;
    list["items"].as_array().unwrap().clone()
}

/// A clerk signs in at the municipality's provider: the console's button, the provider's own
/// login and consent pages, back with a code; the ID token's role claim (a list: the higher
/// role counts) gives a supervisor, the account made at the first login and found again at the
/// next, audited. Refused: a login of a password account (no takeover), a token without a
/// known role, a callback with another state or from another browser, a code used twice. An
/// account an administrator made without a password is taken by its first sign-in.
async fn staff_sign_in_at_their_identity_provider(backend: Backend) {
    let sso = with_provider(backend).await;
    let app = &sso.app;
    clerk(app, "sato").await;
    let made = admin_staff(
        app,
        json!({"lgCode": "012084", "login": "kato", "name": "加藤", "role": "clerk"}),
    )
    .await;
    assert_eq!(made.status(), StatusCode::CREATED);

    // The login page offers the provider's button.
    let mut b = Browser::new(app);
    let (_, _, login) = b.get("/counter/login?lg=012084").await;
    assert!(login.contains("北見市職員アカウントでログイン"), "{login}");
    // The authorization request: code flow, PKCE S256, a nonce and a state.
    let (status, h, _) = b
        .get("/counter/sso/start?lg=012084&next=/counter/kpis")
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let auth = reqwest::Url::parse(&location(&h)).unwrap();
    let q: BTreeMap<String, String> = auth.query_pairs().into_owned().collect();
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["client_id"], "madoguchi-console");
    assert!(q["scope"].split(' ').any(|s| s == "openid"));
    assert!(q["nonce"].len() >= 16 && q["state"].len() >= 16);
    let sso_cookie = h
        .get_all(SET_COOKIE)
        .iter()
        .map(|c| c.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("madoguchi_sso="))
        .unwrap();
    assert!(sso_cookie.contains("HttpOnly") && sso_cookie.contains("SameSite=Lax"));

    // Back from the provider with another state: nothing opens.
    let callback =
        at_the_provider(auth.as_str(), "u-1001", &app.url("/counter/sso/callback")).await;
    let forged = callback.replace(&format!("state={}", q["state"]), "state=forged");
    let (status, _, _) = b.get(forged.trim_start_matches(&app.url(""))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // From another browser (no cookie of the request): nothing opens.
    let mut other = Browser::new(app);
    let (status, _, page) = other.get(callback.trim_start_matches(&app.url(""))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("もう一度ログイン"), "{page}");

    // Signed in: the page moves on by itself to where the clerk was going.
    let (status, page) = sign_in(&mut b, "u-1001", "/counter/kpis").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("http-equiv=\"refresh\" content=\"0;url=/counter/kpis\""),
        "{page}"
    );
    let (status, _, kpis) = b.get("/counter/kpis").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        kpis.contains("田中 一郎") && kpis.contains("監督者"),
        "{kpis}"
    );
    // Again: the same account, not a second one.
    let mut again = Browser::new(app);
    let (status, _) = sign_in(&mut again, "u-1001", "/counter").await;
    assert_eq!(status, StatusCode::OK);
    let staff = staff_list(app).await;
    let tanaka: Vec<_> = staff.iter().filter(|s| s["login"] == "tanaka").collect();
    assert_eq!(tanaka.len(), 1, "{staff:?}");
    assert_eq!(tanaka[0]["role"], "supervisor");
    assert_eq!(tanaka[0]["name"], "田中 一郎");

    // The provider's "sato" is not the console's password account "sato".
    let mut c = Browser::new(app);
    let (status, page) = sign_in(&mut c, "u-1002", "/counter").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("ログイン名「sato」"), "{page}");
    let (_, h, _) = c.get("/counter").await;
    assert!(
        location(&h).starts_with("/counter/login"),
        "no session opened"
    );
    // The password account still logs in with its password.
    let mut d = Browser::new(app);
    let (status, _, _) = d.log_in("012084", "sato", PASSWORD).await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    // No role the console knows.
    let mut e = Browser::new(app);
    let (status, page) = sign_in(&mut e, "u-1003", "/counter").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        page.contains("役割(madoguchi_role)が割り当てられていません"),
        "{page}"
    );

    // The account made for single sign-on is taken by its first sign-in, role from the claim.
    let mut f = Browser::new(app);
    let (status, _) = sign_in(&mut f, "u-1004", "/counter").await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, today) = f.get("/counter").await;
    assert!(today.contains("加藤 次郎"), "{today}");
    assert_eq!(
        staff_list(app)
            .await
            .iter()
            .filter(|s| s["login"] == "kato")
            .count(),
        1
    );

    // A code is good once: the same callback again opens nothing.
    let mut g = Browser::new(app);
    let (_, h, _) = g.get("/counter/sso/start?lg=012084&next=/counter").await;
    let callback =
        at_the_provider(&location(&h), "u-1001", &app.url("/counter/sso/callback")).await;
    let path = callback.trim_start_matches(&app.url("")).to_owned();
    let cookies = g.cookie_header();
    let (status, _, _) = g.get(&path).await;
    assert_eq!(status, StatusCode::OK);
    let replay = app
        .http
        .get(app.url(&path))
        .header(COOKIE, cookies)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), StatusCode::FORBIDDEN);

    // A municipality without a provider has no button and no start.
    let (status, _, _) = g.get("/counter/sso/start?lg=011002").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Audited: the account made by its first sign-in, linked, and each login.
    let events = audit_events(app).await;
    let has = |action: &str, actor: &str| {
        events
            .iter()
            .any(|e| e["action"] == action && e["actor"] == actor)
    };
    assert!(has("staff.create", "tanaka@012084"), "{events:?}");
    assert!(has("staff.update", "kato@012084"), "{events:?}");
    assert!(has("console.login", "tanaka@012084"), "{events:?}");
}
storage_test!(
    staff_sign_in_at_their_identity_provider,
    ignore = "needs Node and oidc-provider: tests/console/run runs it"
);

/// The same sign-in in Chromium: the login page's button, the provider's pages filled in and
/// clicked, and the console open afterwards with the session (its cookie is
/// `SameSite=Strict`; the callback's page moves on by itself). The login page with the
/// button passes axe-core, and so do the supervisor's 手続きの設定 and its preview.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium, chromedriver, Node and oidc-provider: tests/console/run runs it"]
async fn a_clerk_signs_in_at_the_provider_in_chromium() {
    use crate::console_browser::click;
    use fantoccini::Locator;
    let sso = with_provider(Backend::Sqlite).await;
    let app = &sso.app;
    let axe_js = crate::console_browser::axe_source();
    let (_driver, c) = crate::console_browser::browser().await;
    c.goto(&app.url("/counter/login?lg=012084")).await.unwrap();
    crate::console_browser::arm(&c).await;
    crate::console_browser::check(&c, &axe_js, "the login page with single sign-on").await;
    click(&c, "#sso-login").await;
    // The provider's login page, then its consent page.
    for (css, value) in [
        ("input[name=login]", "u-1001"),
        ("input[name=password]", "anything"),
    ] {
        c.wait()
            .for_element(Locator::Css(css))
            .await
            .unwrap()
            .send_keys(value)
            .await
            .unwrap();
    }
    click(&c, "button[type=submit]").await;
    c.wait()
        .for_element(Locator::Css("input[name=prompt][value=consent]"))
        .await
        .unwrap();
    click(&c, "button[type=submit]").await;
    // Back in the console, with the session: today's visits, the clerk named in the header.
    for _ in 0..100 {
        if c.current_url().await.unwrap().path() == "/counter" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(crate::console_browser::text(&c, "h1").await, "今日の受付");
    let header = crate::console_browser::text(&c, "header").await;
    assert!(
        header.contains("田中 一郎") && header.contains("監督者"),
        "{header}"
    );

    // A supervisor's page: 手続きの設定, a procedure turned off and the change previewed.
    c.goto(&app.url("/counter/catalog")).await.unwrap();
    crate::console_browser::arm(&c).await;
    crate::console_browser::check(&c, &axe_js, "the catalogue, editable").await;
    click(&c, "#on-mopedRegistration").await;
    click(
        &c,
        "form[action='/counter/catalog/preview'] button[type=submit]",
    )
    .await;
    let preview = crate::console_browser::text(&c, "#preview").await;
    assert!(preview.contains("止める"), "{preview}");
    crate::console_browser::arm(&c).await;
    crate::console_browser::check(&c, &axe_js, "the catalogue's preview").await;
}
