//! Two whole visits in Chromium, each to its printouts: a family of four moving in (nobody in
//! the directory: the clerk types the household once in 世帯の情報, with an impossible date
//! first), and an おくやみ (the deceased taken from the directory, the survivor typed; the
//! clerk attests instead of a signature). On the way, the cases of bad input a counter meets:
//! a second tab that saves over a change made in the first, a lost session (log in again,
//! nothing lost), an edit in a form that breaks validation, a double click on 送信.
//!
//! Ignored in a plain `cargo test`: `tests/console/run` installs Chromium, chromedriver and
//! axe-core and runs it with `--ignored`.

use std::time::Duration;

use fantoccini::{Client, Locator};

use crate::console::{PASSWORD, clerk, import_sample};
use crate::console_browser::{
    answer_all, arm, axe_source, browser, check, click, click_twice, complete_forms,
    draw_signature, fill, picture, submit, take_from_directory, text,
};
use crate::helpers::{Backend, TestApp, spawn_app};

async fn log_in(c: &Client) {
    fill(c, "login", "sato").await;
    fill(c, "password", PASSWORD).await;
    submit(c, "form[action='/counter/login'] button[type=submit]").await;
}

fn value_js(id: &str) -> String {
    format!("return document.getElementById('{id}').value;")
}

async fn value(c: &Client, id: &str) -> String {
    c.execute(&value_js(id), vec![])
        .await
        .unwrap()
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn choose(c: &Client, id: &str, option: &str) {
    click(c, &format!("#{id} option[value='{option}']")).await;
}

/// The id of the forms page's field for `pointer` in the form `key`.
async fn draft_field(c: &Client, key: &str, pointer: &str) -> String {
    let id = c
        .execute(
            "const f = [...document.querySelectorAll('form')].find(f => f.querySelector('input[name=key]')?.value === arguments[0] && f.querySelector('input[name=pointer]')?.value === arguments[1]); return f ? f.querySelector('[name=value]').id : null;",
            vec![key.into(), pointer.into()],
        )
        .await
        .unwrap();
    id.as_str()
        .unwrap_or_else(|| panic!("no field {key} {pointer}"))
        .to_owned()
}

/// Opens a visit from 今日の受付: the event, its date and the people's names.
async fn open_visit(c: &Client, app: &TestApp, kind: &str, date: &str, names: &[(&str, &str)]) {
    c.goto(&app.url("/counter")).await.unwrap();
    click(c, &format!("input[name=kind][value={kind}]")).await;
    fill(c, "date", date).await;
    for (n, (family, given)) in names.iter().enumerate() {
        fill(c, &format!("member-{n}-family"), family).await;
        if !given.is_empty() {
            fill(c, &format!("member-{n}-given"), given).await;
        }
    }
}

async fn visit_url(c: &Client) -> String {
    let url = c.current_url().await.unwrap();
    let path = url.path();
    let id = path
        .trim_start_matches("/counter/visits/")
        .split('/')
        .next()
        .unwrap();
    format!("{}://{}/counter/visits/{id}", url.scheme(), url.authority())
}

/// Signs (pad or attestation), sends with a double click, and checks one submission and the
/// PDF of every form.
async fn sign_send_print(c: &Client, app: &TestApp, visit_url: &str, attest: bool) -> usize {
    c.goto(&format!("{visit_url}/drafts")).await.unwrap();
    let forms = c
        .find_all(Locator::Css("section.draft"))
        .await
        .unwrap()
        .len();
    c.goto(&format!("{visit_url}/confirm")).await.unwrap();
    if attest {
        click(c, "input[name=method][value=attestation]").await;
    } else {
        draw_signature(c).await;
    }
    click_twice(c, "#confirm-form button[type=submit]").await;
    assert!(text(c, "h1").await.starts_with("受付後"));
    click_twice(c, "form[action$='/submit'] button").await;
    text(c, "#applications").await;
    let id: uuid::Uuid = visit_url.rsplit('/').next().unwrap().parse().unwrap();
    let stored = app.store.applications(id).await.unwrap();
    let rows = c
        .find_all(Locator::Css("#applications tbody tr"))
        .await
        .unwrap()
        .len();
    assert!(!stored.is_empty());
    assert_eq!(stored.len(), rows, "one submission");
    let cookie = c.get_named_cookie("madoguchi_console").await.unwrap();
    let pdf = app
        .http
        .get(format!("{visit_url}/print/all"))
        .header("Cookie", format!("madoguchi_console={}", cookie.value()))
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    let doc = lopdf::Document::load_mem(&pdf.bytes().await.unwrap()).unwrap();
    assert!(
        doc.get_pages().len() > forms,
        "at least a page per form and the 受付票: {} pages, {forms} forms",
        doc.get_pages().len()
    );
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium, chromedriver and axe-core: tests/console/run runs it"]
async fn a_family_moves_in_and_a_death_is_handled_in_chromium() {
    let app = spawn_app(Backend::Sqlite).await;
    clerk(&app, "sato").await;
    let csv = import_sample(&app, 12).await;
    // The first resident of the sample directory: the deceased of the おくやみ.
    let kana = crate::console::first_kana(&csv);
    let axe_js = axe_source();
    let (_driver, c) = browser().await;
    c.goto(&app.url("/counter/login?lg=012084")).await.unwrap();
    log_in(&c).await;
    assert_eq!(text(&c, "h1").await, "今日の受付");

    // A family of four moves in from another city.
    open_visit(
        &c,
        &app,
        "moveIn",
        "令和8年12月1日",
        &[
            ("山田", "太郎"),
            ("山田", "花子"),
            ("山田", "一郎"),
            ("山田", "桜"),
        ],
    )
    .await;
    submit(&c, "form[action='/counter/visits'] button[type=submit]").await;
    assert!(text(&c, "h1").await.starts_with("本人確認"));
    let visit = visit_url(&c).await;
    // Nobody is in the directory: the household is typed once.
    click(&c, "a[href$='/household']").await;
    assert!(text(&c, "h1").await.starts_with("世帯の情報"));
    check(&c, &axe_js, "the household, empty").await;
    let people = [
        ("m1", "やまだ", "たろう", "S55.2.17", "1", "世帯主"),
        ("m2", "ﾔﾏﾀﾞ", "ﾊﾅｺ", "1982/7/3", "2", "妻"),
        ("m3", "やまだ", "いちろう", "平成27年4月10日", "1", "子"),
        ("m4", "やまだ", "さくら", "R2.2.30", "2", "子"),
    ];
    for (m, family, given, born, sex, relationship) in people {
        fill(&c, &format!("f-{m}-familyNameKana"), family).await;
        fill(&c, &format!("f-{m}-givenNameKana"), given).await;
        fill(&c, &format!("f-{m}-dateOfBirth"), born).await;
        choose(&c, &format!("f-{m}-sex"), sex).await;
        fill(&c, &format!("f-{m}-relationship"), relationship).await;
    }
    submit(&c, "#household-form button[type=submit]").await;
    // R2.2.30 does not exist: the message at the date, a link to it in the summary, and every
    // value typed still there.
    let said = text(&c, "#f-m4-dateOfBirth-error").await;
    assert!(said.contains("存在しません"), "{said}");
    c.find(Locator::Css("#error-summary a[href='#f-m4-dateOfBirth']"))
        .await
        .expect("the summary links the date");
    assert_eq!(value(&c, "f-m2-familyNameKana").await, "ﾔﾏﾀﾞ");
    assert_eq!(value(&c, "f-m3-dateOfBirth").await, "平成27年4月10日");
    check(&c, &axe_js, "the household with an error").await;
    fill(&c, "f-m4-dateOfBirth", "R2.9.1").await;
    submit(&c, "#household-form button[type=submit]").await;
    let saved = text(&c, "#household-banner").await;
    assert!(saved.contains("20項目"), "{saved}");
    assert_eq!(value(&c, "f-m2-familyNameKana").await, "ヤマダ");
    assert_eq!(value(&c, "f-m1-dateOfBirth").await, "昭和55年2月17日");
    assert_eq!(value(&c, "f-m4-dateOfBirth").await, "令和2年9月1日");
    check(&c, &axe_js, "the household, saved").await;
    picture(&c, "console-household").await;

    // A second tab on the same page saves after the first tab changed the visit: nothing is
    // recorded over the change, what the second tab typed is kept, and a second save records it.
    let first_tab = c.window().await.unwrap();
    let second = c.new_window(true).await.unwrap();
    c.switch_to_window(second.handle.clone()).await.unwrap();
    c.goto(&format!("{visit}/household")).await.unwrap();
    c.switch_to_window(first_tab.clone()).await.unwrap();
    fill(&c, "f-m1-givenNameKana", "タロー").await;
    submit(&c, "#household-form button[type=submit]").await;
    assert!(text(&c, "#household-banner").await.contains("1項目"));
    c.switch_to_window(second.handle.clone()).await.unwrap();
    fill(&c, "f-m1-givenNameKana", "たろう").await;
    submit(&c, "#household-form button[type=submit]").await;
    let banner = text(&c, "#household-banner").await;
    assert!(banner.contains("別の画面で変更されていました"), "{banner}");
    assert_eq!(value(&c, "f-m1-givenNameKana").await, "たろう");
    check(&c, &axe_js, "the household changed in another tab").await;
    submit(&c, "#household-form button[type=submit]").await;
    assert!(text(&c, "#household-banner").await.contains("保存しました"));
    assert_eq!(value(&c, "f-m1-givenNameKana").await, "タロウ");
    c.close_window().await.unwrap();
    c.switch_to_window(first_tab).await.unwrap();

    // The session is lost (the cookie gone): the next page asks to log in and comes back to
    // it, with everything recorded still there.
    c.delete_cookie("madoguchi_console").await.unwrap();
    c.goto(&format!("{visit}/household")).await.unwrap();
    assert!(c.current_url().await.unwrap().path().ends_with("/login"));
    fill(&c, "lg_code", "012084").await;
    log_in(&c).await;
    assert!(text(&c, "h1").await.starts_with("世帯の情報"));
    assert_eq!(value(&c, "f-m3-familyNameKana").await, "ヤマダ");

    // Questions, then the procedures a family moving in needs.
    answer_all(&c, &visit).await;
    c.goto(&format!("{visit}/procedures")).await.unwrap();
    let count = text(&c, "#needed-count").await;
    let needed: usize = count
        .trim_start_matches("必要な手続きは")
        .trim_end_matches("件です。")
        .parse()
        .unwrap_or_else(|_| panic!("{count}"));
    assert!(needed >= 3, "{count}");
    check(&c, &axe_js, "the family's procedures").await;

    // The forms: prefilled from the household; one edit that breaks validation shows its
    // message at the field, then the right value.
    c.goto(&format!("{visit}/drafts")).await.unwrap();
    let pointer = c
        .execute(
            "const p = [...document.querySelectorAll('input[name=pointer]')].find(i => i.value.endsWith('/dateOfBirth') && i.closest('form').querySelector('input[name=value]')); return p ? [p.closest('form').querySelector('input[name=key]').value, p.value] : null;",
            vec![],
        )
        .await
        .unwrap();
    let (key, pointer) = (
        pointer[0]
            .as_str()
            .expect("a form with a date of birth")
            .to_owned(),
        pointer[1].as_str().unwrap().to_owned(),
    );
    let prefilled = value(&c, &draft_field(&c, &key, &pointer).await).await;
    assert!(!prefilled.is_empty(), "the date of birth is prefilled");
    let field = draft_field(&c, &key, &pointer).await;
    fill(&c, &field, "令和8年2月30日\u{E004}").await;
    // The section is swapped: the field is found again by its form and pointer.
    let mut error = String::new();
    for _ in 0..50 {
        let field = draft_field(&c, &key, &pointer).await;
        if let Ok(e) = c.find(Locator::Css(&format!("#{field}-error"))).await {
            error = e.text().await.unwrap_or_default();
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        error.contains("存在しません"),
        "no message at the broken date: {error:?}"
    );
    check(&c, &axe_js, "a form with a broken field").await;
    let field = draft_field(&c, &key, &pointer).await;
    fill(&c, &field, &format!("{prefilled}\u{E004}")).await;
    let mut fixed = false;
    for _ in 0..50 {
        let field = draft_field(&c, &key, &pointer).await;
        if c.find(Locator::Css(&format!("#{field}-error")))
            .await
            .is_err()
            && value(&c, &field).await == prefilled
        {
            fixed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(fixed, "the message went with the fix");
    c.goto(&format!("{visit}/drafts")).await.unwrap();
    complete_forms(&c, &visit).await;
    arm(&c).await;
    check(&c, &axe_js, "the family's forms, complete").await;
    let moved_in = sign_send_print(&c, &app, &visit, false).await;
    assert!(moved_in >= 3, "{moved_in} applications");

    // おくやみ: the deceased from the directory, the survivor who comes typed in 世帯の情報.
    open_visit(
        &c,
        &app,
        "death",
        "令和8年12月5日",
        &[("山田", "一郎"), ("山田", "")],
    )
    .await;
    click(&c, "#subject option[value=m2]").await;
    submit(&c, "form[action='/counter/visits'] button[type=submit]").await;
    let death = visit_url(&c).await;
    take_from_directory(&c, &kana, "m2").await;
    c.goto(&format!("{death}/household")).await.unwrap();
    fill(&c, "f-m1-familyNameKana", "やまだ").await;
    fill(&c, "f-m1-givenNameKana", "いちろう").await;
    fill(&c, "f-m1-dateOfBirth", "昭和50年5月5日").await;
    choose(&c, "f-m1-sex", "1").await;
    fill(&c, "f-m1-relationship", "子").await;
    submit(&c, "#household-form button[type=submit]").await;
    assert!(text(&c, "#household-banner").await.contains("保存しました"));
    let registry = c
        .execute(
            "return document.querySelector(\"label[for='f-m2-familyNameKana']\").textContent;",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        registry.as_str().unwrap().contains("住民記録"),
        "{registry}: {}",
        text(&c, "#household-form").await
    );
    answer_all(&c, &death).await;
    c.goto(&format!("{death}/procedures")).await.unwrap();
    let procedures = text(&c, "main").await;
    assert!(procedures.contains("死亡"), "{procedures}");
    check(&c, &axe_js, "the おくやみ procedures").await;
    c.goto(&format!("{death}/drafts")).await.unwrap();
    complete_forms(&c, &death).await;
    let after_death = sign_send_print(&c, &app, &death, true).await;
    assert!(after_death >= 2, "{after_death} applications");

    // Both visits on the KPI page.
    c.goto(&app.url("/counter/kpis?period=month"))
        .await
        .unwrap();
    let tiles = text(&c, "#kpi-tiles").await;
    assert!(
        tiles.contains("申請済み\n2") || tiles.contains("申請済み 2"),
        "{tiles}"
    );
    c.close().await.unwrap();
}

/// The idle warning, with the idle time set to one minute (the warning comes a minute before
/// the end, so at once): a modal dialog whose heading takes the focus, checked by axe while
/// open; 延長する asks the server for more time (the session goes on) and the warning comes
/// back a minute before the new end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium, chromedriver and axe-core: tests/console/run runs it"]
async fn the_idle_warning_offers_more_time_in_chromium() {
    let app = crate::helpers::spawn_app_with(Backend::Sqlite, |s| s.console.idle_minutes = 1).await;
    clerk(&app, "sato").await;
    let axe_js = axe_source();
    let (_driver, c) = browser().await;
    c.goto(&app.url("/counter/login?lg=012084")).await.unwrap();
    log_in(&c).await;
    let dialog = c
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#idle-dialog[open]"))
        .await
        .expect("the warning opens");
    let focused = c
        .execute("return document.activeElement.id;", vec![])
        .await
        .unwrap();
    assert_eq!(focused, "idle-title");
    assert!(
        dialog
            .text()
            .await
            .unwrap()
            .contains("まもなく自動でログアウトします")
    );
    check(&c, &axe_js, "the idle warning").await;
    click(&c, "#idle-dialog [data-extend]").await;
    let mut closed = false;
    for _ in 0..50 {
        let open = c
            .execute(
                "return document.getElementById('idle-dialog').open;",
                vec![],
            )
            .await
            .unwrap();
        if open == false {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        closed,
        "延長する closes the warning once the server has extended the session"
    );
    // The warning is armed again for the new end, on the same page.
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#idle-dialog[open]"))
        .await
        .expect("the warning comes back");
    // Still logged in.
    c.goto(&app.url("/counter")).await.unwrap();
    assert_eq!(text(&c, "h1").await, "今日の受付");
    c.close().await.unwrap();
}
