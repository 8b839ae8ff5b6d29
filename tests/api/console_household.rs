//! 世帯の情報 in the console: a move-in family's facts typed once (和暦 dates, kana in
//! hiragana or half-width), refused all or none with the message at the field, shown with their
//! source, taken by the forms; a save that meets a change made in another tab keeps what was
//! typed.

use reqwest::StatusCode;

use crate::console::{Browser, PASSWORD, attr, clerk, label_of, location, visit_of};
use crate::helpers::{Backend, spawn_app};
use crate::storage_test;

/// The value of the field with this id, as the page shows it.
fn value_of(page: &str, id: &str) -> String {
    let at = page
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no field {id}"));
    let tag = &page[page[..at].rfind('<').unwrap()..];
    let tag = &tag[..tag.find('>').unwrap()];
    attr(tag, "value=\"").unwrap_or_default()
}

/// Opens a move-in of these people (family, given) from 今日の受付; the visit's id.
async fn open_move_in(b: &mut Browser<'_>, names: &[(&str, &str)]) -> String {
    b.get("/counter").await;
    let keys: Vec<(String, String)> = names
        .iter()
        .enumerate()
        .flat_map(|(n, (family, given))| {
            [
                (format!("member-{n}-family"), (*family).to_owned()),
                (format!("member-{n}-given"), (*given).to_owned()),
            ]
        })
        .collect();
    let mut fields: Vec<(&str, &str)> = vec![("kind", "moveIn"), ("date", "令和8年12月1日")];
    fields.extend(keys.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let (status, h, _) = b.post("/counter/visits", &fields).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    visit_of(&h)
}

async fn a_move_in_familys_facts_are_typed_once(backend: Backend) {
    let app = spawn_app(backend).await;
    clerk(&app, "sato").await;
    let mut b = Browser::new(&app);
    b.log_in("012084", "sato", PASSWORD).await;
    let visit = open_move_in(&mut b, &[("山田", "太郎"), ("山田", "花子")]).await;
    let path = format!("/counter/visits/{visit}/household");
    let (status, _, page) = b.get(&path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(value_of(&page, "f-m1-familyName"), "山田");
    assert_eq!(value_of(&page, "f-m2-givenName"), "花子");
    assert_eq!(value_of(&page, "f-m1-dateOfBirth"), "");
    let first = attr(&page, "name=\"revision\" value=\"").unwrap();

    // One impossible date among six good values: nothing is recorded, the message is at the
    // date, and everything typed is still in the fields.
    let typed = [
        ("m1.familyNameKana", "やまだ"),
        ("m1.givenNameKana", "ﾀﾛｳ"),
        ("m1.dateOfBirth", "昭和55年2月17日"),
        ("m1.sex", "1"),
        ("m1.relationship", "世帯主"),
        ("m2.dateOfBirth", "令和8年2月30日"),
    ];
    let mut fields = typed.to_vec();
    fields.push(("revision", &first));
    let (status, _, page) = b.post(&path, &fields).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let error = page
        .split("id=\"f-m2-dateOfBirth-error\"")
        .nth(1)
        .unwrap_or_else(|| panic!("no message at the date: {page}"));
    assert!(error[..200].contains("存在しません"), "{}", &error[..200]);
    assert!(
        page.contains("href=\"#f-m2-dateOfBirth\""),
        "the summary links the field"
    );
    assert_eq!(value_of(&page, "f-m1-familyNameKana"), "やまだ");
    assert_eq!(value_of(&page, "f-m2-dateOfBirth"), "令和8年2月30日");
    let (_, _, page) = b.get(&path).await;
    assert_eq!(value_of(&page, "f-m1-familyNameKana"), "", "all or none");

    // Corrected: recorded, the kana in full-width katakana, the date read from 和暦, each
    // with the source 職員入力.
    fields.retain(|(k, _)| *k != "m2.dateOfBirth");
    fields.push(("m2.dateOfBirth", "H2.5.3"));
    let (status, h, _) = b.post(&path, &fields).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(
        location(&h).ends_with("/household?saved=6"),
        "{}",
        location(&h)
    );
    let (_, _, page) = b.get(&location(&h)).await;
    assert!(page.contains("6項目を「職員入力」として記録しました"));
    assert_eq!(value_of(&page, "f-m1-familyNameKana"), "ヤマダ");
    assert_eq!(value_of(&page, "f-m1-givenNameKana"), "タロウ");
    assert_eq!(value_of(&page, "f-m1-dateOfBirth"), "昭和55年2月17日");
    assert_eq!(value_of(&page, "f-m2-dateOfBirth"), "平成2年5月3日");
    assert!(page.contains("(1980-02-17)"));
    let label = label_of(&page, "f-m1-dateOfBirth");
    assert!(label.contains("職員入力"), "{label}");
    // The forms take them: once the questions are answered, the 住民異動届 is prefilled with
    // the kana and the date.
    for _ in 0..80 {
        if crate::console::answer_first(&mut b, &visit).await.is_none() {
            break;
        }
    }
    let (_, _, drafts) = b.get(&format!("/counter/visits/{visit}/drafts")).await;
    assert!(
        drafts.contains("ヤマダ")
            && (drafts.contains("1980-02-17") || drafts.contains("昭和55年2月17日")),
        "the forms do not show the household's facts: {}",
        drafts
            .split("<main")
            .nth(1)
            .unwrap_or(&drafts)
            .chars()
            .take(3000)
            .collect::<String>()
    );

    // Saved again from the first page's revision (another tab changed the visit since): not
    // recorded, the latest shown, and what was typed kept.
    let (status, _, page) = b
        .post(&path, &[("m1.relationship", "妻"), ("revision", &first)])
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(page.contains("別の画面で変更されていました"), "{page}");
    assert_eq!(value_of(&page, "f-m1-relationship"), "妻");
    assert_eq!(
        value_of(&page, "f-m1-familyNameKana"),
        "ヤマダ",
        "the latest"
    );
    let (_, _, page) = b.get(&path).await;
    assert_eq!(value_of(&page, "f-m1-relationship"), "世帯主");
    let current = attr(&page, "name=\"revision\" value=\"").unwrap();

    // Kanji as kana, and a recorded value emptied: refused at their fields.
    let (status, _, page) = b
        .post(
            &path,
            &[
                ("m2.familyNameKana", "山田"),
                ("m1.dateOfBirth", ""),
                ("revision", &current),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let kana = page
        .split("id=\"f-m2-familyNameKana-error\"")
        .nth(1)
        .unwrap();
    assert!(kana[..300].contains("氏(フリガナ)"), "{}", &kana[..300]);
    assert!(page.contains("id=\"f-m1-dateOfBirth-error\""));
    assert!(page.contains("記録した値は消せません"));

    // Every change is audited with the clerk as its actor.
    let events = crate::console::audit_events(&app).await;
    assert!(
        events.iter().any(|e| e["action"] == "visit.update"
            && e["actor"] == "sato@012084"
            && e["target"].as_str().unwrap().contains(&visit)),
        "{events:?}"
    );
}
storage_test!(a_move_in_familys_facts_are_typed_once);

/// The hidden fields of the form around `at` in `page`.
fn form_around(page: &str, at: usize) -> (String, String, String) {
    let start = page[..at].rfind("<form").unwrap();
    let form = &page[start..at];
    (
        attr(form, "name=\"key\" value=\"").unwrap(),
        attr(form, "name=\"pointer\" value=\"").unwrap(),
        attr(form, "name=\"revision\" value=\"").unwrap(),
    )
}

/// A yes/no field of a form is chosen from はい/いいえ and recorded as a yes/no (not the text
/// "true"); an edit sent from a page older than the visit is not recorded and says so at the
/// field.
async fn yes_no_fields_and_stale_edits_in_the_forms(backend: Backend) {
    let app = spawn_app(backend).await;
    clerk(&app, "sato").await;
    let mut b = Browser::new(&app);
    b.log_in("012084", "sato", PASSWORD).await;
    let visit = open_move_in(&mut b, &[("山田", "太郎"), ("山田", "一郎")]).await;
    let path = format!("/counter/visits/{visit}/household");
    let (_, _, page) = b.get(&path).await;
    let revision = attr(&page, "name=\"revision\" value=\"").unwrap();
    let (status, _, _) = b
        .post(
            &path,
            &[
                ("m1.dateOfBirth", "S55.2.17"),
                ("m1.relationship", "世帯主"),
                ("m2.dateOfBirth", "H27.4.10"),
                ("m2.relationship", "子"),
                ("revision", &revision),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    for _ in 0..80 {
        if crate::console::answer_first(&mut b, &visit).await.is_none() {
            break;
        }
    }
    let drafts_path = format!("/counter/visits/{visit}/drafts");
    let (_, _, page) = b.get(&drafts_path).await;
    let at = page
        .find("<option value=\"true\"")
        .expect("a yes/no field among the forms (a child's 同居 in the child allowance claim)");
    let (key, pointer, revision) = form_around(&page, at);
    let (status, _, _) = b
        .post(
            &drafts_path,
            &[
                ("key", &key),
                ("pointer", &pointer),
                ("revision", &revision),
                ("value", "true"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{key} {pointer}");
    let (_, _, page) = b.get(&drafts_path).await;
    let at = page
        .match_indices(&format!("name=\"pointer\" value=\"{pointer}\""))
        .next()
        .unwrap()
        .0;
    let field = &page[at..];
    let field = &field[..field.find("</form>").unwrap()];
    assert!(
        field.contains("<option value=\"true\" selected"),
        "はい is chosen: {field}"
    );
    assert!(!field.contains("aria-invalid"), "{field}");

    // The same form sent again from the old page (its revision): refused at the field, with
    // the value that was not saved.
    let (status, _, page) = b
        .post(
            &drafts_path,
            &[
                ("key", &key),
                ("pointer", &pointer),
                ("revision", &revision),
                ("value", "false"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        page.contains("入力した「false」は保存していません"),
        "{page}"
    );
    let (_, _, page) = b.get(&drafts_path).await;
    let at = page
        .match_indices(&format!("name=\"pointer\" value=\"{pointer}\""))
        .next()
        .unwrap()
        .0;
    assert!(
        page[at..]
            .split("</form>")
            .next()
            .unwrap()
            .contains("<option value=\"true\" selected")
    );
}
storage_test!(yes_no_fields_and_stale_edits_in_the_forms);

/// The counter (窓口) a visit is opened at: typed once on a PC, remembered by it, recorded
/// with the visit (full-width digits folded), and a table of the KPI dashboard.
async fn visits_are_counted_by_their_counter(backend: Backend) {
    let app = spawn_app(backend).await;
    clerk(&app, "sato").await;
    let mut b = Browser::new(&app);
    b.log_in("012084", "sato", PASSWORD).await;
    b.get("/counter").await;
    let open = |counter: &'static str| {
        vec![
            ("kind", "moveWithin"),
            ("date", "令和8年12月1日"),
            ("member-0-family", "山田"),
            ("counter", counter),
        ]
    };
    // A counter name with a control character: refused at the field, nothing opened.
    let (status, _, page) = b.post("/counter/visits", &open("3\u{7}番")).await;
    assert_ne!(status, StatusCode::SEE_OTHER, "nothing opened");
    assert!(page.contains("id=\"counter-error\""), "{page}");
    let (status, h, _) = b.post("/counter/visits", &open("３番")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let remembered = h
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("madoguchi_desk="))
        .expect("the PC remembers its counter");
    assert!(remembered.contains("HttpOnly") && remembered.contains("SameSite=Strict"));
    // The next new visit on this PC starts with its counter.
    let (_, _, page) = b.get("/counter").await;
    let at = page.find("id=\"counter\"").unwrap();
    let tag = &page[page[..at].rfind('<').unwrap()..];
    assert!(
        tag[..tag.find('>').unwrap()].contains("value=\"3番\""),
        "{}",
        &tag[..200]
    );
    let (_, h, _) = b.post("/counter/visits", &open("3番")).await;
    let visit = visit_of(&h);
    let (_, _, page) = b.get(&format!("/counter/visits/{visit}/identify")).await;
    assert!(
        page.contains("<dt>窓口</dt><dd>3番</dd>"),
        "the visit shows its counter"
    );
    b.post("/counter/visits", &open("おくやみコーナー")).await;
    // The dashboard: a row per counter.
    let (_, _, page) = b.get("/counter/kpis?period=month").await;
    let table = page
        .split("id=\"kpi-counters\"")
        .nth(1)
        .expect("a table by counter")
        .split("</table>")
        .next()
        .unwrap();
    let rows: Vec<&str> = table.split("<tr>").skip(2).collect();
    assert_eq!(rows.len(), 2, "{table}");
    assert!(
        rows.iter()
            .any(|r| r.contains("3番") && r.contains("<td class=\"num\">2</td>")),
        "{table}"
    );
    assert!(
        rows.iter().any(|r| r.contains("おくやみコーナー")),
        "{table}"
    );
}
storage_test!(visits_are_counted_by_their_counter);
