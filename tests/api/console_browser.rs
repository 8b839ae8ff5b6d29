//! The counter console in a real browser: Debian's Chromium, driven through chromedriver
//! (WebDriver) by fantoccini, with axe-core (from npm) checking every page and state for
//! accessibility (WCAG 2.0–2.2 A/AA and best practices: no serious or critical violation).
//! A clerk logs in, opens a visit with an impossible date first, takes a resident in from the
//! directory, answers a question, reads the procedures, switches to English; the pages are
//! also checked for what the Content-Security-Policy would block (inline script, style
//! attributes, event-handler attributes) and for a CSP violation reported by the browser
//! itself, for a visible focus, and at 320 CSS pixels wide (a 1280-pixel screen at 400 %).
//!
//! It needs chromium, chromedriver and axe-core, so it is ignored in a plain `cargo test`;
//! `tests/console/run` (in `.ci/run`) installs them and runs it with `--ignored`.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::helpers::Backend;

pub(crate) struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(crate) async fn browser() -> (Driver, Client) {
    let port = free_port();
    let driver =
        Command::new(std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".to_owned()))
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (apt-get install chromium-driver)");
    let driver = Driver(driver);
    let profile = tempfile::TempDir::new().unwrap();
    let caps = json!({
        "goog:chromeOptions": {
            "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned()),
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-quic", "--lang=ja", "--window-size=1280,1000",
                format!("--user-data-dir={}", profile.path().display()),
            ]
        }
    });
    let caps = match caps {
        Value::Object(m) => m,
        _ => unreachable!(),
    };
    let mut last = None;
    for _ in 0..50 {
        match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(c) => {
                std::mem::forget(profile);
                return (driver, c);
            }
            Err(e) => {
                last = Some(e);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    panic!("chromedriver did not start a session: {last:?}");
}

/// axe-core's source, installed by tests/console/run.
pub(crate) fn axe_source() -> String {
    let path = std::env::var("AXE_JS").unwrap_or_else(|_| {
        format!(
            "{}/target/console-node/node_modules/axe-core/axe.min.js",
            env!("CARGO_MANIFEST_DIR")
        )
    });
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("axe-core at {path}: {e}"))
}

/// The serious and critical violations axe finds on the page as it is now.
async fn axe(c: &Client, axe: &str, what: &str) {
    c.execute(axe, vec![]).await.unwrap();
    let found = c
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
            axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] } })
              .then(r => done(r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                  .map(v => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ')) }))))
              .catch(e => done([{ id: 'axe-error', help: String(e) }]));"#,
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(found, json!([]), "axe on {what}: {found:#}");
}

/// What the policy would block, read from the page, and the violations the browser reported
/// since the listener was put in place (`arm`).
async fn csp_clean(c: &Client, what: &str) {
    let found = c
        .execute(
            r#"const bad = [];
            for (const s of document.querySelectorAll('script')) if (!s.src) bad.push('inline script');
            for (const e of document.querySelectorAll('[style]')) bad.push('style attribute on ' + e.tagName);
            for (const e of document.querySelectorAll('*')) for (const a of e.attributes) if (a.name.startsWith('on')) bad.push(a.name + ' on ' + e.tagName);
            for (const v of (window.__cspViolations || [])) bad.push('violation: ' + v);
            return bad;"#,
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(found, json!([]), "CSP on {what}");
}

pub(crate) async fn arm(c: &Client) {
    c.execute(
        r#"window.__cspViolations = [];
        document.addEventListener('securitypolicyviolation', e => window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));"#,
        vec![],
    )
    .await
    .unwrap();
}

pub(crate) async fn check(c: &Client, axe_js: &str, what: &str) {
    csp_clean(c, what).await;
    axe(c, axe_js, what).await;
}

/// With CONSOLE_SCREENSHOTS=DIR, the page as a PNG (the README's pictures).
pub(crate) async fn picture(c: &Client, name: &str) {
    if let Ok(dir) = std::env::var("CONSOLE_SCREENSHOTS") {
        let png = c.screenshot().await.unwrap();
        std::fs::write(format!("{dir}/{name}.png"), png).unwrap();
    }
}

/// The text of the first element `css` selects, waiting for it (a click that navigates does
/// not wait for the next page).
pub(crate) async fn text(c: &Client, css: &str) -> String {
    // A page that is being replaced (a navigation, an htmx swap) can make the element found
    // stale before it is read: read it again from the page that follows.
    let mut last = None;
    for _ in 0..20 {
        let found = c
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"));
        match found.text().await {
            Ok(t) => return t,
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css} stayed stale: {last:?}");
}

/// Clicks `css` and waits until the page that follows has loaded.
pub(crate) async fn submit(c: &Client, css: &str) {
    let before = c.find(Locator::Css("html")).await.unwrap();
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    for _ in 0..100 {
        // The old document's element goes stale once the new page is there.
        if before.tag_name().await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = c
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("h1"))
        .await;
}

pub(crate) async fn fill(c: &Client, id: &str, value: &str) {
    let mut last = None;
    for _ in 0..20 {
        // Select all and delete, then type: as a clerk does. (WebDriver's Element Clear would
        // fire a change event of its own, which htmx sends as an edit.)
        let tried = match c.find(Locator::Id(id)).await {
            Ok(e) => {
                e.send_keys(&format!("\u{E009}a\u{E000}\u{E017}{value}"))
                    .await
            }
            Err(e) => Err(e),
        };
        match tried {
            Ok(()) => return,
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("#{id} could not be filled: {last:?}");
}

pub(crate) async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Every open question answered by clicking, one at a time: no for a yes/no, the first
/// option of a choice, a 和暦 date or a count where one is typed.
pub(crate) async fn answer_all(c: &Client, visit_url: &str) {
    for _ in 0..80 {
        c.goto(&format!("{visit_url}/questions")).await.unwrap();
        let Ok(first) = c.find(Locator::Css("form.question")).await else {
            break;
        };
        let ty = first
            .find(Locator::Css("input[name=type]"))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap()
            .unwrap_or_default();
        if let Ok(no) = first
            .find(Locator::Css("input[name=value][value=false]"))
            .await
        {
            no.click().await.unwrap();
        } else if let Ok(typed) = first
            .find(Locator::Css("input[type=text][name=value]"))
            .await
        {
            // A date in 和暦, as the clerk types it; a count otherwise.
            let value = if ty == "date" {
                "昭和63年4月10日"
            } else {
                "1"
            };
            typed.send_keys(value).await.unwrap();
        } else if let Ok(option) = first.find(Locator::Css("input[name=value]")).await {
            option.click().await.unwrap();
        }
        submit(c, "form.question button[type=submit]").await;
        if c.find(Locator::Css("#error-summary")).await.is_ok() {
            panic!(
                "the answer to a {ty} question was refused: {}",
                text(c, "#error-summary").await
            );
        }
    }
}

/// Each gap of the forms typed where the clerk types it, with the value of the form schema's
/// own example; htmx saves on change and swaps the form's section, the message (or none) next
/// to the field. Ends on the forms page with no field marked invalid.
pub(crate) async fn complete_forms(c: &Client, visit_url: &str) {
    let mut tries = std::collections::HashMap::new();
    for _ in 0..600 {
        let Ok(input) = c.find(Locator::Css("[aria-invalid=true]")).await else {
            break;
        };
        let form = c
            .execute(
                "const f = arguments[0].closest('form'); return [f.querySelector('[name=key]').value, f.querySelector('[name=pointer]').value];",
                vec![serde_json::to_value(&input).unwrap()],
            )
            .await
            .unwrap();
        let (key, pointer) = (form[0].as_str().unwrap(), form[1].as_str().unwrap());
        // A field typed three times that is still wrong: say what the page says of it.
        let seen = tries.entry(format!("{key} {pointer}")).or_insert(0);
        *seen += 1;
        if *seen > 3 {
            let said = c
                .execute(
                    "const e = document.getElementById(arguments[0].id + '-error'); return [arguments[0].value, e ? e.textContent : ''];",
                    vec![serde_json::to_value(&input).unwrap()],
                )
                .await
                .unwrap();
            panic!("{key} {pointer} stays wrong after typing its example: {said}");
        }
        // The example's value at the place, or at the first item of each list (the example
        // has one child where the family has two).
        let form = crate::console::drafts_form_ref("", key);
        let first_items = pointer
            .split('/')
            .map(|t| {
                if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
                    "0"
                } else {
                    t
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        let value = crate::console::example_at(&form, pointer)
            .or_else(|| crate::console::example_at(&form, &first_items))
            .unwrap_or_else(|| panic!("no example for {pointer}"));
        if input.tag_name().await.unwrap() == "select" {
            input
                .find(Locator::Css(&format!("option[value='{value}']")))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
        } else {
            // Select all, type, leave the field: leaving is the change htmx sends. An earlier
            // save's swap may have replaced the field meanwhile: then it is found again.
            if input
                .send_keys(&format!("\u{E009}a\u{E000}\u{E017}{value}\u{E004}"))
                .await
                .is_err()
            {
                continue;
            }
        }
        // The save swaps the form's section: the field goes stale when it is done.
        for _ in 0..60 {
            if input.tag_name().await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    c.goto(&format!("{visit_url}/drafts")).await.unwrap();
    let left = c
        .execute(
            "return [...document.querySelectorAll('[aria-invalid=true]')].map(i => { const f = i.closest('form'); const e = document.getElementById(i.id + '-error'); return [f.querySelector('[name=key]').value, f.querySelector('[name=pointer]').value, i.value, e ? e.textContent : '']; });",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(left, serde_json::json!([]), "the forms are complete");
}

/// One stroke drawn on the signature pad with a pen's pointer events.
pub(crate) async fn draw_signature(c: &Client) {
    let pad = c.find(Locator::Id("signature-pad")).await.unwrap();
    use fantoccini::actions::{InputSource, MOUSE_BUTTON_LEFT, MouseActions, PointerAction};
    let stroke = MouseActions::new("pen".to_owned())
        .then(PointerAction::MoveToElement {
            element: pad.clone(),
            duration: None,
            x: -200.0,
            y: 20.0,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::MoveBy {
            duration: Some(Duration::from_millis(80)),
            x: 60.0,
            y: -40.0,
        })
        .then(PointerAction::MoveBy {
            duration: Some(Duration::from_millis(80)),
            x: 60.0,
            y: 50.0,
        })
        .then(PointerAction::MoveBy {
            duration: Some(Duration::from_millis(80)),
            x: 80.0,
            y: -30.0,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    c.perform_actions(stroke).await.unwrap();
}

/// Searches the directory by kana from 本人確認 and takes the first resident found in as
/// `member`.
pub(crate) async fn take_from_directory(c: &Client, kana: &str, member: &str) {
    fill(c, "kana", kana).await;
    submit(c, "form[method=get] button[type=submit]").await;
    let form = c
        .find(Locator::Css("#results tbody tr form"))
        .await
        .unwrap();
    form.find(Locator::Css(&format!("option[value={member}]")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    form.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    text(c, ".dads-notification-banner[data-type=success]").await;
}

/// Clicks the button twice in one go, as an impatient double click does.
pub(crate) async fn click_twice(c: &Client, css: &str) {
    let button = c.find(Locator::Css(css)).await.unwrap();
    let _ = c
        .execute(
            "arguments[0].click(); arguments[0].click();",
            vec![serde_json::to_value(&button).unwrap()],
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium, chromedriver and axe-core: tests/console/run runs it"]
async fn a_clerk_works_a_visit_in_chromium() {
    // A gateway with a counter PC whose bridge has enrolled (the virtual card on its reader).
    let pc = crate::bridge::enrolled_pc(Backend::Sqlite).await;
    let app = &pc.app;
    let password = "窓口の合言葉-2026-12";
    let r = app
        .http
        .post(app.url("/v1/admin/staff"))
        .bearer_auth(app.admin_token().await)
        .json(&json!({"lgCode": "012084", "login": "sato", "name": "佐藤 花子", "role": "clerk", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::CREATED);
    let csv = crate::console::import_sample(app, 12).await;
    let kana = crate::console::first_kana(&csv);
    let axe_js = axe_source();
    let (_driver, c) = browser().await;

    // The login page.
    c.goto(&app.url("/counter/login?lg=012084")).await.unwrap();
    assert_eq!(
        c.find(Locator::Css("html"))
            .await
            .unwrap()
            .attr("lang")
            .await
            .unwrap()
            .as_deref(),
        Some("ja")
    );
    // axe can fail: an image without a text alternative is found.
    c.execute(
        "const i = document.createElement('img'); i.id = 'no-alt'; i.src = '/counter/static/x.png'; document.querySelector('main').appendChild(i);",
        vec![],
    )
    .await
    .unwrap();
    c.execute(&axe_js, vec![]).await.unwrap();
    let seen = c
        .execute_async(
            "const done = arguments[arguments.length - 1]; axe.run(document).then(r => done(r.violations.map(v => v.id)));",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        seen.as_array().unwrap().contains(&json!("image-alt")),
        "{seen}"
    );
    c.execute("document.getElementById('no-alt').remove();", vec![])
        .await
        .unwrap();
    check(&c, &axe_js, "the login page").await;
    // Keyboard: the first Tab reaches the skip link, and focus is visible.
    c.find(Locator::Css("body"))
        .await
        .unwrap()
        .send_keys("\u{E004}")
        .await
        .unwrap();
    let focus = c
        .execute(
            "const e = document.activeElement; const s = getComputedStyle(e); return [e.className, s.outlineStyle, s.outlineWidth];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(focus[0], "skip-link", "{focus}");
    assert_eq!(focus[1], "solid", "focus is visible: {focus}");
    fill(&c, "login", "sato").await;
    fill(&c, "password", password).await;
    submit(&c, "form[action='/counter/login'] button[type=submit]").await;
    assert_eq!(text(&c, "h1").await, "今日の受付");
    arm(&c).await;
    check(&c, &axe_js, "today's visits, empty").await;

    // A new visit with an impossible date: the message sits at the field, the names stay.
    click(&c, "input[name=kind][value=death]").await;
    fill(&c, "date", "令和8年2月30日").await;
    fill(&c, "member-0-family", "山田").await;
    fill(&c, "member-0-given", "一郎").await;
    fill(&c, "member-1-family", "山田").await;
    c.find(Locator::Css("#subject option[value=m2]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    submit(&c, "form[action='/counter/visits'] button[type=submit]").await;
    let error = text(&c, "#date-error").await;
    assert!(error.starts_with('＊'), "{error}");
    let date = c.find(Locator::Id("date")).await.unwrap();
    assert_eq!(
        date.attr("aria-invalid").await.unwrap().as_deref(),
        Some("true")
    );
    assert!(
        date.attr("aria-describedby")
            .await
            .unwrap()
            .unwrap()
            .contains("date-error")
    );
    assert_eq!(
        c.find(Locator::Id("member-0-given"))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("一郎")
    );
    check(&c, &axe_js, "the new-visit form with an error").await;
    fill(&c, "date", "R8.12.1").await;
    submit(&c, "form[action='/counter/visits'] button[type=submit]").await;
    assert!(text(&c, "h1").await.starts_with("本人確認"));
    check(&c, &axe_js, "identification").await;

    // The card: asked before the card is on the reader, the page follows the read by itself
    // (htmx asks every second) until it is verified, then the first person is taken from it.
    click(&c, "input[name=method][value=readBasicInfo]").await;
    submit(&c, "#card form button[type=submit]").await;
    assert_eq!(
        text(&c, "#card-state li[aria-current=step]").await,
        "カードを読み取り機に置いてください"
    );
    arm(&c).await;
    check(&c, &axe_js, "the card read, waiting for the card").await;
    let _bridge = crate::bridge::run_bridge(
        &pc.bridge_dir,
        &pc.trust,
        "1234",
        &pc.work.path().join("browser-bridge.log"),
    );
    let facts = c
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("#card-state[data-state=verified] #card-facts"))
        .await
        .unwrap();
    let facts = facts.text().await.unwrap();
    assert!(
        facts.contains("山田　花子") && facts.contains("昭和55年2月17日"),
        "{facts}"
    );
    // The visit knew the first person as 山田 一郎: the clerk is warned before taking it in.
    let warned = text(&c, "#card-name-differs").await;
    assert!(
        warned.contains("山田一郎") && warned.contains("山田　花子"),
        "{warned}"
    );
    check(&c, &axe_js, "the card read, verified").await;
    picture(&c, "console-card").await;
    submit(&c, "#card-state form button[type=submit]").await;
    text(&c, ".dads-notification-banner[data-type=success]").await;
    let household = text(&c, "#household").await;
    assert!(household.contains("カード確認済"), "{household}");
    arm(&c).await;

    // The directory: kana, results, one taken in as the second person.
    fill(&c, "kana", &kana).await;
    submit(&c, "form[method=get] button[type=submit]").await;
    check(&c, &axe_js, "identification with results").await;
    picture(&c, "console-identify").await;
    let form = c
        .find(Locator::Css("#results tbody tr form"))
        .await
        .unwrap();
    form.find(Locator::Css("option[value=m2]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    form.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    text(&c, ".dads-notification-banner[data-type=success]").await;
    let household = text(&c, "#household").await;
    assert!(
        household.contains("住民記録") && household.contains(&kana),
        "{household}"
    );

    // Questions: the first answered with one click and 回答する.
    c.goto(
        &c.current_url()
            .await
            .unwrap()
            .as_str()
            .replace("/identify?taken=1", "/questions"),
    )
    .await
    .unwrap();
    check(&c, &axe_js, "questions").await;
    let before = c
        .find_all(Locator::Css("form.question"))
        .await
        .unwrap()
        .len();
    if before > 0 {
        let first = c.find(Locator::Css("form.question")).await.unwrap();
        if let Ok(no) = first
            .find(Locator::Css("input[name=value][value=false]"))
            .await
        {
            no.click().await.unwrap();
        } else if let Ok(option) = first
            .find(Locator::Css("input[type=radio][name=value]"))
            .await
        {
            option.click().await.unwrap();
        } else {
            first
                .find(Locator::Css("input[name=value]"))
                .await
                .unwrap()
                .send_keys("1")
                .await
                .unwrap();
        }
        first
            .find(Locator::Css("button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        text(&c, "h1").await;
        let after = c
            .find_all(Locator::Css("form.question"))
            .await
            .unwrap()
            .len();
        assert!(
            after < before || text(&c, "h1").await.starts_with("確認事項"),
            "{before} → {after}"
        );
    }

    // The procedures, then the same page in English.
    c.goto(
        &c.current_url()
            .await
            .unwrap()
            .as_str()
            .replace("/questions", "/procedures"),
    )
    .await
    .unwrap();
    assert!(text(&c, "h1").await.starts_with("必要な手続き"));
    check(&c, &axe_js, "procedures").await;
    picture(&c, "console-procedures").await;
    submit(&c, "form[action='/counter/lang'] button").await;
    assert_eq!(
        c.find(Locator::Css("html"))
            .await
            .unwrap()
            .attr("lang")
            .await
            .unwrap()
            .as_deref(),
        Some("en")
    );
    assert!(text(&c, "h1").await.starts_with("Procedures"));
    check(&c, &axe_js, "procedures in English").await;

    // 320 CSS pixels wide: nothing but data tables scrolls sideways.
    c.set_window_size(360, 900).await.unwrap();
    c.goto(&app.url("/counter")).await.unwrap();
    let overflow = c
        .execute(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        overflow.as_i64().unwrap() <= 0,
        "the page scrolls sideways by {overflow} px"
    );
    check(&c, &axe_js, "today's visits at 320 px").await;
    let visits = text(&c, "#visits").await;
    assert!(visits.contains("death"), "{visits}");

    // A move within the city, to the end: forms completed, signed on the pad, sent, printed.
    c.set_window_size(1280, 1000).await.unwrap();
    c.goto(&app.url("/counter")).await.unwrap();
    // Back to Japanese.
    submit(&c, "form[action='/counter/lang'] button").await;
    click(&c, "input[name=kind][value=moveWithin]").await;
    fill(&c, "date", "令和8年12月7日").await;
    fill(&c, "member-0-family", "山田").await;
    submit(&c, "form[action='/counter/visits'] button[type=submit]").await;
    take_from_directory(&c, &kana, "m1").await;
    let visit_url = c
        .current_url()
        .await
        .unwrap()
        .as_str()
        .replace("/identify?taken=1", "");
    answer_all(&c, &visit_url).await;
    // The forms: each gap typed where the clerk types it.
    c.goto(&format!("{visit_url}/drafts")).await.unwrap();
    check(&c, &axe_js, "forms with gaps").await;
    picture(&c, "console-drafts").await;
    complete_forms(&c, &visit_url).await;
    arm(&c).await;
    check(&c, &axe_js, "complete forms").await;

    // The signature, drawn with a pointer on the pad, then これでよい clicked twice.
    c.goto(&format!("{visit_url}/confirm")).await.unwrap();
    check(&c, &axe_js, "review and sign").await;
    draw_signature(&c).await;
    picture(&c, "console-signature").await;
    click_twice(&c, "#confirm-form button[type=submit]").await;
    assert!(text(&c, "h1").await.starts_with("受付後"));
    check(&c, &axe_js, "after signing").await;
    // 送信 double-clicked: one submission.
    click_twice(&c, "form[action$='/submit'] button").await;
    let applications = text(&c, "#applications").await;
    assert!(
        applications.contains("住民異動届") || applications.contains("転居"),
        "{applications}"
    );
    check(&c, &axe_js, "the applications").await;
    picture(&c, "console-after").await;
    let id: uuid::Uuid = visit_url.rsplit('/').next().unwrap().parse().unwrap();
    let stored = app.store.applications(id).await.unwrap();
    let rows = c
        .find_all(Locator::Css("#applications tbody tr"))
        .await
        .unwrap()
        .len();
    assert_eq!(stored.len(), rows, "one submission");
    // A core system answers: the table changes on the open page, without a reload (SSE).
    app.store
        .acknowledge_application(
            &madoguchi::tenancy::LgCode::parse("012084").unwrap(),
            &stored[0].area,
            stored[0].id,
            madoguchi::visits::confirmation::Acknowledgement::Accepted,
            None,
            &madoguchi::audit::Actor::system("test-core-system"),
        )
        .await
        .unwrap();
    let mut live = String::new();
    for _ in 0..50 {
        // The live update replaces the table: `text` reads it again when it went stale.
        live = text(&c, "#applications").await;
        if live.contains("受理") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        live.contains("受理"),
        "the accepted state did not arrive: {live}"
    );
    csp_clean(&c, "the applications, updated live").await;
    // The signature the resident drew is the one stored: a PNG with ink.
    let console = madoguchi::audit::Actor {
        client_id: Some("console".to_owned()),
        staff: Some("sato@012084".to_owned()),
        request_id: None,
    };
    let visit = app
        .store
        .read_visit(
            &madoguchi::tenancy::LgCode::parse("012084").unwrap(),
            id,
            &console,
        )
        .await
        .unwrap()
        .unwrap();
    let confirmation = visit.household.confirmation.unwrap();
    match confirmation.signature {
        madoguchi::visits::confirmation::Signature::Image {
            media_type, bytes, ..
        } => {
            assert_eq!(media_type, "image/png");
            assert!(
                bytes > 500,
                "a drawn stroke, not an empty pad: {bytes} bytes"
            );
        }
        other => panic!("the pad's signature was not stored: {other:?}"),
    }
    // The PDF, downloaded with the browser's session.
    let cookie = c.get_named_cookie("madoguchi_console").await.unwrap();
    let pdf = app
        .http
        .get(format!("{visit_url}/print/all"))
        .header("Cookie", format!("madoguchi_console={}", cookie.value()))
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    let pdf = pdf.bytes().await.unwrap();
    let doc = lopdf::Document::load_mem(&pdf).unwrap();
    assert!(doc.get_pages().len() >= 2);
    // The KPI page shows that visit: submitted, with its stay in the histogram.
    c.goto(&app.url("/counter/kpis?period=month"))
        .await
        .unwrap();
    let tiles = text(&c, "#kpi-tiles").await;
    assert!(
        tiles.contains("申請済み\n1") || tiles.contains("申請済み 1"),
        "{tiles}"
    );
    check(&c, &axe_js, "the KPI dashboard").await;
    picture(&c, "console-kpis").await;
    c.close().await.unwrap();
}
