//! The one-stop visit, as the counter works: scenarios kept as data under
//! `schemas/conformance/scenarios/visits/` (open the visit, check the procedures, the questions — and that no
//! needless one is asked — the reasons, then answer and check again), and bad input.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, problem, spawn_app};
use crate::storage_test;

pub const VISITS: &str = "/v1/municipalities/012084/visits";

/// A request as the counter app sends it: the demo clerk acting.
pub async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> reqwest::Response {
    send_as(app, token, "clerk-0042", method, path, None, body).await
}

/// GET `path` as the clerk; the JSON answer.
pub async fn get_as_clerk(app: &TestApp, token: &str, path: &str) -> Value {
    send(app, Method::GET, path, token, None)
        .await
        .json()
        .await
        .unwrap()
}

/// A request of the clerk `staff`, with `If-Match` when given.
pub async fn send_as(
    app: &TestApp,
    token: &str,
    staff: &str,
    method: Method,
    path: &str,
    if_match: Option<&str>,
    body: Option<&Value>,
) -> reqwest::Response {
    let mut request = app
        .http
        .request(method, app.url(path))
        .bearer_auth(token)
        .header("Madoguchi-Actor", staff);
    if let Some(tag) = if_match {
        request = request.header("If-Match", tag);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    request.send().await.expect("request")
}

/// Opens a visit; its id.
pub async fn open_visit(app: &TestApp, token: &str, body: &Value) -> String {
    let r = send(app, Method::POST, VISITS, token, Some(body)).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let visit: Value = r.json().await.unwrap();
    visit["id"].as_str().unwrap().to_owned()
}

/// `procedureId` or `procedureId@member`.
fn label(decision: &Value) -> String {
    match decision["member"].as_str() {
        Some(m) => format!("{}@{m}", decision["procedureId"].as_str().unwrap()),
        None => decision["procedureId"].as_str().unwrap().to_owned(),
    }
}

fn find<'a>(determination: &'a Value, key: &str) -> &'a Value {
    ["needed", "undecided", "ruledOut"]
        .iter()
        .flat_map(|k| determination[*k].as_array().unwrap())
        .find(|d| label(d) == key)
        .unwrap_or_else(|| panic!("{key} is not in the determination"))
}

fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

/// The JSON pointers a problem's `errors` name.
fn error_pointers(problem: &Value) -> BTreeSet<String> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap().to_owned())
        .collect()
}

/// Opens a visit and reads its determination; the problem when the visit is refused.
pub async fn open_and_determine(
    app: &TestApp,
    token: &str,
    visit: &Value,
) -> Result<Value, String> {
    let r = send(app, Method::POST, VISITS, token, Some(visit)).await;
    if r.status() != StatusCode::CREATED {
        return Err(format!("{}: {}", r.status(), r.text().await.unwrap()));
    }
    let v: Value = r.json().await.unwrap();
    let id = v["id"].as_str().unwrap();
    let r = send(
        app,
        Method::GET,
        &format!("{VISITS}/{id}/determination"),
        token,
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    Ok(r.json().await.unwrap())
}

fn check(name: &str, step: usize, d: &Value, expect: &Value) {
    let at = format!("{name}, step {step}");
    let needed: BTreeSet<String> = d["needed"].as_array().unwrap().iter().map(label).collect();
    assert_eq!(
        needed,
        strings(&expect["needed"]),
        "{at}: needed procedures"
    );
    let questions: BTreeSet<String> = d["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        questions,
        strings(&expect["questions"]),
        "{at}: questions asked"
    );
    for q in d["questions"].as_array().unwrap() {
        assert!(!q["text"].as_str().unwrap().is_empty(), "{at}: {q}");
        assert!(!q["decides"].as_array().unwrap().is_empty(), "{at}: {q}");
    }
    // Every undecided procedure names the questions that decide it, and they are asked.
    for u in d["undecided"].as_array().unwrap() {
        let qs = strings(&u["questions"]);
        assert!(
            !qs.is_empty() && qs.is_subset(&questions),
            "{at}: {}",
            label(u)
        );
    }
    let ruled_out: BTreeSet<String> = d["ruledOut"]
        .as_array()
        .unwrap()
        .iter()
        .map(label)
        .collect();
    for key in strings(&expect["ruledOut"]) {
        assert!(ruled_out.contains(&key), "{at}: {key} should be ruled out");
        assert!(!find(d, &key)["reason"].as_str().unwrap().is_empty());
    }
    if let Some(reasons) = expect["reasons"].as_object() {
        for (key, parts) in reasons {
            let reason = find(d, key)["reason"].as_str().unwrap();
            for part in parts.as_array().unwrap() {
                assert!(
                    reason.contains(part.as_str().unwrap()),
                    "{at}: reason of {key}: {reason}"
                );
            }
        }
    }
    // What a reason must not say: a fact that did not decide the outcome.
    if let Some(reasons) = expect["reasonsNot"].as_object() {
        for (key, parts) in reasons {
            let reason = find(d, key)["reason"].as_str().unwrap();
            for part in parts.as_array().unwrap() {
                assert!(
                    !reason.contains(part.as_str().unwrap()),
                    "{at}: reason of {key}: {reason}"
                );
            }
        }
    }
    // A decided procedure's reason tells the facts that decided it, never one not known.
    for x in ["needed", "ruledOut"]
        .iter()
        .flat_map(|k| d[*k].as_array().unwrap())
    {
        let reason = x["reason"].as_str().unwrap();
        if std::env::var("SHOW_REASONS").is_ok() {
            println!("REASON {}: {reason}", label(x));
        }
        assert!(
            !reason.contains("未確認") && !reason.contains("not known"),
            "{at}: reason of {}: {reason}",
            label(x)
        );
    }
    // A question offers only the answers still possible.
    if let Some(options) = expect["options"].as_object() {
        for (id, values) in options {
            let q = d["questions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|q| q["id"] == id.as_str())
                .unwrap_or_else(|| panic!("{at}: no question {id}"));
            let offered: BTreeSet<String> = q["options"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["value"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(offered, strings(values), "{at}: options of {id}");
        }
    }
    if let Some(deadlines) = expect["deadlines"].as_object() {
        for (key, date) in deadlines {
            assert_eq!(&find(d, key)["deadline"], date, "{at}: deadline of {key}");
        }
    }
    if let Some(blocked) = expect["blocked"].as_object() {
        for (key, parts) in blocked {
            let filing = &find(d, key)["filing"];
            assert_eq!(filing["allowed"], false, "{at}: {key} {filing}");
            for part in parts.as_array().unwrap() {
                assert!(
                    filing["reason"]
                        .as_str()
                        .unwrap()
                        .contains(part.as_str().unwrap()),
                    "{at}: {filing}"
                );
            }
        }
    }
    for key in strings(&expect["referrals"]) {
        assert_eq!(find(d, &key)["handling"]["mode"], "referral", "{at}: {key}");
    }
    // A needed procedure says what to bring, how identity is checked and why.
    for n in d["needed"].as_array().unwrap() {
        assert!(!n["decidedBy"].as_array().unwrap().is_empty() || n["reason"].as_str().is_some());
        assert!(
            n["identityCheck"]["label"]
                .as_str()
                .is_some_and(|l| !l.is_empty())
        );
        assert!(!n["legalBasis"].as_str().unwrap().is_empty());
    }
}

/// The drafts a scenario expects: their keys, and per draft the values of some fields and
/// where they came from.
fn check_drafts(name: &str, drafts: &Value, expected: &Value) {
    let keys: BTreeSet<String> = drafts["drafts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(keys, strings(&expected["keys"]), "{name}: drafts");
    let prefilled = drafts["prefilledFields"].as_u64().unwrap();
    assert!(
        prefilled >= expected["prefilledAtLeast"].as_u64().unwrap(),
        "{name}: {prefilled} fields prefilled"
    );
    if let Some(typed) = expected.get("typed") {
        assert_eq!(
            &drafts["typedFields"], typed,
            "{name}: fields typed into the drafts"
        );
    }
    // Every draft is checked by the forms engine: what is missing comes back as errors
    // with a message, and every filled field says where it came from.
    for d in drafts["drafts"].as_array().unwrap() {
        assert_eq!(
            d["valid"],
            d["errors"].as_array().unwrap().is_empty(),
            "{name}: {}",
            d["key"]
        );
        assert!(
            d["errors"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| !e["message"].as_str().unwrap().is_empty())
        );
        assert!(
            d["fields"]
                .as_array()
                .unwrap()
                .iter()
                .all(|f| f["source"].as_str().is_some_and(|s| !s.is_empty()))
        );
    }
    for (key, want) in expected["fields"].as_object().into_iter().flatten() {
        let draft = drafts["drafts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["key"] == key.as_str())
            .unwrap_or_else(|| panic!("{name}: no draft {key}"));
        for (pointer, value) in want.as_object().unwrap() {
            assert_eq!(
                draft["document"].pointer(pointer),
                Some(value),
                "{name}: {key}{pointer}"
            );
        }
    }
    for (key, want) in expected["sources"].as_object().into_iter().flatten() {
        let draft = drafts["drafts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["key"] == key.as_str())
            .unwrap();
        for (pointer, source) in want.as_object().unwrap() {
            let field = draft["fields"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["pointer"] == pointer.as_str())
                .unwrap_or_else(|| panic!("{name}: {key}{pointer} has no source"));
            assert_eq!(&field["source"], source, "{name}: {key}{pointer}");
        }
    }
}

async fn scenarios_run_as_the_counter_does(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.demo_token().await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas/conformance/scenarios/visits");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 4);
    for file in files {
        let scenario: Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let name = scenario["name"].as_str().unwrap();
        let created = send(&app, Method::POST, VISITS, &token, Some(&scenario["visit"])).await;
        assert_eq!(
            created.status(),
            StatusCode::CREATED,
            "{name}: {}",
            created.text().await.unwrap()
        );
        let visit: Value = created.json().await.unwrap();
        let id = visit["id"].as_str().unwrap();
        let path = format!("{VISITS}/{id}/determination");
        for (i, step) in scenario["steps"].as_array().unwrap().iter().enumerate() {
            let d: Value = match step.get("answer") {
                None => {
                    let r = send(&app, Method::GET, &path, &token, None).await;
                    assert_eq!(r.status(), StatusCode::OK, "{name}");
                    r.json().await.unwrap()
                }
                Some(answers) => {
                    let r = send(
                        &app,
                        Method::POST,
                        &format!("{VISITS}/{id}/answers"),
                        &token,
                        Some(&json!({"answers": answers})),
                    )
                    .await;
                    assert_eq!(
                        r.status(),
                        StatusCode::OK,
                        "{name}: {}",
                        r.text().await.unwrap()
                    );
                    r.json().await.unwrap()
                }
            };
            check(name, i, &d, &step["expect"]);
        }
        for edit in scenario["draftEdits"].as_array().into_iter().flatten() {
            let key = edit["key"].as_str().unwrap();
            let r = send(
                &app,
                Method::PATCH,
                &format!("{VISITS}/{id}/drafts/{key}"),
                &token,
                Some(&json!({"set": edit["set"]})),
            )
            .await;
            assert_eq!(
                r.status(),
                StatusCode::OK,
                "{name}: {}",
                r.text().await.unwrap()
            );
            let draft: Value = r.json().await.unwrap();
            assert!(
                draft["typedFields"].as_u64().unwrap() >= 1,
                "{name}: {draft}"
            );
        }
        if let Some(expected) = scenario.get("drafts") {
            let r = send(
                &app,
                Method::GET,
                &format!("{VISITS}/{id}/drafts"),
                &token,
                None,
            )
            .await;
            assert_eq!(r.status(), StatusCode::OK, "{name}");
            let drafts: Value = r.json().await.unwrap();
            if std::env::var("SHOW_DRAFTS").is_ok() {
                println!("{}", serde_json::to_string_pretty(&drafts).unwrap());
            }
            check_drafts(name, &drafts, expected);
        }
        // The answers are kept with their source.
        let read: Value = send(&app, Method::GET, &format!("{VISITS}/{id}"), &token, None)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(read["catalogVersion"], visit["catalogVersion"]);
        let sources: BTreeSet<String> = read["members"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|m| {
                m["facts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f["source"].as_str().unwrap().to_owned())
            })
            .collect();
        assert!(
            sources.contains("clerk") && sources.contains("derived"),
            "{name}: {sources:?}"
        );
    }
}
storage_test!(scenarios_run_as_the_counter_does);

async fn a_visit_is_listed_closed_and_audited(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.demo_token().await;
    let body = json!({
        "ticket": "B-7",
        "counter": "３番 ",
        "events": [{"kind": "certificateRequest", "date": "2026-12-03", "facts": {"certificates": ["residentRecordCopy"]}}],
        "members": [{"id": "m1", "familyName": "田中", "givenName": "修", "dateOfBirth": "1970-01-01"}],
        "applicant": {"member": "m1"}
    });
    let visit: Value = send(&app, Method::POST, VISITS, &token, Some(&body))
        .await
        .json()
        .await
        .unwrap();
    let id = visit["id"].as_str().unwrap();
    // The counter as typed with an IME is one counter: half-width, trimmed.
    assert_eq!(visit["counter"], "3番", "{visit}");
    let read = get_as_clerk(&app, &token, &format!("{VISITS}/{id}")).await;
    assert_eq!(read["counter"], "3番");
    let d: Value = send(
        &app,
        Method::GET,
        &format!("{VISITS}/{id}/determination"),
        &token,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    let copy = find(&d, "residentRecordCopy");
    assert_eq!(copy["fee"]["yen"], 300);
    assert_eq!(copy["form"], "certificateIssuance@1.0");
    let seal = find(&d, "sealCertificate");
    assert!(seal["reason"].as_str().unwrap().contains("住民票の写し"));
    assert!(
        d["ruledOut"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["procedureId"] == "sealCertificate")
    );

    let day = visit["openedOn"].as_str().unwrap();
    let list: Value = send(
        &app,
        Method::GET,
        &format!("{VISITS}?date={day}"),
        &token,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["id"] == visit["id"])
    );
    let other_day: Value = send(
        &app,
        Method::GET,
        &format!("{VISITS}?date=2001-01-01"),
        &token,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(other_day["items"], json!([]));

    // The certificate request's draft: prefilled, then completed by the clerk.
    let drafts: Value = send(
        &app,
        Method::GET,
        &format!("{VISITS}/{id}/drafts"),
        &token,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    let draft = &drafts["drafts"][0];
    assert_eq!(draft["key"], "residentRecordCopy@0");
    assert_eq!(
        draft["document"]["lines"],
        json!([{"certificate": "residentRecordCopy", "copies": 1}])
    );
    assert_eq!(draft["document"]["applicant"]["familyName"], "田中");
    assert!(
        draft["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["pointer"] == "/purpose")
    );
    let path = format!("{VISITS}/{id}/drafts/residentRecordCopy@0");
    let bad = send(
        &app,
        Method::PATCH,
        &path,
        &token,
        Some(&json!({"set": {"/noSuchField": 1}})),
    )
    .await;
    let p = problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(p["errors"][0]["pointer"], "/set/~1noSuchField");
    // A value of another kind than the form's is refused at the edit that typed it, so a
    // draft always has its form's shape: text for a number, a purpose not in the form's list,
    // an index past the end of the list (which would leave empty lines before it).
    let wrong_kind = send(
        &app,
        Method::PATCH,
        &path,
        &token,
        Some(&json!({"set": {
            "/lines/0/copies": "たくさん",
            "/purpose": "なんとなく",
            "/lines/3/copies": 1,
        }})),
    )
    .await;
    let p = problem(
        wrong_kind,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let errors: Vec<(&str, &str)> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["pointer"].as_str().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    assert!(
        errors.contains(&("/set/~1lines~10~1copies", "invalid_type")),
        "{p}"
    );
    assert!(errors.contains(&("/set/~1purpose", "not_in_list")), "{p}");
    assert!(
        errors.contains(&("/set/~1lines~13~1copies", "invalid_type")),
        "{p}"
    );
    let purpose = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["pointer"] == "/set/~1purpose")
        .unwrap();
    assert!(
        purpose["message"].as_str().unwrap().contains("使用目的"),
        "{purpose}"
    );
    let unchanged = get_as_clerk(&app, &token, &format!("{VISITS}/{id}/drafts")).await;
    assert_eq!(unchanged["drafts"][0]["document"], draft["document"]);
    let unknown = send(
        &app,
        Method::PATCH,
        &format!("{VISITS}/{id}/drafts/sealCertificate@0"),
        &token,
        Some(&json!({"set": {"/purpose": "その他"}})),
    )
    .await;
    problem(unknown, StatusCode::NOT_FOUND, "not_found").await;
    let edited = send(
        &app,
        Method::PATCH,
        &path,
        &token,
        Some(&json!({"set": {"/purpose": "勤務先提出", "/identityDocument": "運転免許証"}})),
    )
    .await;
    assert_eq!(edited.status(), StatusCode::OK);
    let edited: Value = edited.json().await.unwrap();
    assert_eq!(edited["typedFields"], 2);
    assert!(
        !edited["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["pointer"] == "/purpose"),
        "{edited}"
    );
    let purpose = edited["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["pointer"] == "/purpose")
        .unwrap();
    assert_eq!(purpose["source"], "edit");
    // A value the normalizer cannot read is an error of the draft, said once (the draft
    // repeated every such error with its normalizer message until issue 24).
    let unreadable = send(
        &app,
        Method::PATCH,
        &path,
        &token,
        Some(&json!({"set": {"/requestDate": "令和99年13月40日"}})),
    )
    .await;
    assert_eq!(unreadable.status(), StatusCode::OK);
    let unreadable: Value = unreadable.json().await.unwrap();
    let at_date: Vec<&Value> = unreadable["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["pointer"] == "/requestDate")
        .collect();
    assert_eq!(at_date.len(), 1, "{unreadable}");
    assert_eq!(at_date[0]["keyword"], "x-normalize", "{unreadable}");
    assert!(
        at_date[0]["message"]
            .as_str()
            .unwrap()
            .contains("請求年月日"),
        "{unreadable}"
    );

    let closed = send(
        &app,
        Method::POST,
        &format!("{VISITS}/{id}/close"),
        &token,
        None,
    )
    .await;
    assert_eq!(closed.status(), StatusCode::OK);
    let closed: Value = closed.json().await.unwrap();
    assert_eq!(closed["status"], "closed");
    assert!(closed["staySeconds"].as_i64().unwrap() >= 0);
    let again = send(
        &app,
        Method::POST,
        &format!("{VISITS}/{id}/close"),
        &token,
        None,
    )
    .await;
    problem(again, StatusCode::CONFLICT, "visit_closed").await;
    let late = send(
        &app,
        Method::POST,
        &format!("{VISITS}/{id}/answers"),
        &token,
        Some(&json!({"answers": [{"fact": "household.ownsMoped", "value": true}]})),
    )
    .await;
    problem(late, StatusCode::CONFLICT, "visit_closed").await;
    let late_edit = send(
        &app,
        Method::PATCH,
        &path,
        &token,
        Some(&json!({"set": {"/purpose": "その他"}})),
    )
    .await;
    problem(late_edit, StatusCode::CONFLICT, "visit_closed").await;

    // Every read and write is in the audit log with the clerk.
    let auditor = app.register_client(&["audit:read"], &["012084"]).await;
    let auditor = app.token_for(&auditor.id, &auditor.secret).await;
    let events: Value = app
        .get_json("/v1/municipalities/012084/audit-events?limit=100", &auditor)
        .await;
    let mine: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["target"] == visit["id"] || e["action"] == "visit.list")
        .map(|e| {
            assert_eq!(e["actor"], "clerk-0042");
            e["action"].as_str().unwrap()
        })
        .collect();
    for action in ["visit.create", "visit.read", "visit.list", "visit.close"] {
        assert!(mine.contains(&action), "{action} missing from {mine:?}");
    }
}
storage_test!(a_visit_is_listed_closed_and_audited);

async fn bad_input_is_a_clear_problem_and_writes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.demo_token().await;
    let member = json!({"id": "m1", "familyName": "山田", "dateOfBirth": "1980-01-01"});
    let cases = [
        (
            json!({"events": [{"kind": "wedding", "date": "2026-12-01"}], "members": [member], "applicant": {"member": "m1"}}),
            "/events/0/kind",
            "unknown_life_event",
        ),
        (
            json!({"events": [{"kind": "moveIn", "date": "令和8年2月30日"}], "members": [member], "applicant": {"member": "m1"}}),
            "/events/0/date",
            "invalid_date",
        ),
        (
            json!({"events": [{"kind": "death", "date": "2026-12-01", "subjects": ["m9"]}], "members": [member], "applicant": {"member": "m1"}}),
            "/events/0/subjects/0",
            "unknown_member",
        ),
        (
            json!({"events": [{"kind": "moveIn", "date": "2026-12-01"}], "members": [member], "applicant": {"member": "m2"}}),
            "/applicant/member",
            "unknown_member",
        ),
        (
            json!({"events": [{"kind": "moveIn", "date": "2026-12-01", "facts": {"from": "mars"}}], "members": [member], "applicant": {"member": "m1"}}),
            "/events/0/facts/from",
            "invalid_fact_value",
        ),
        (
            json!({"events": [{"kind": "moveIn", "date": "2026-12-01"}], "members": [member], "applicant": {"member": "m1"},
                "answers": [{"fact": "member.age", "member": "m1", "value": 3}]}),
            "/answers/0/fact",
            "derived_fact",
        ),
        (
            json!({"counter": "窓口\u{0007}", "events": [{"kind": "moveIn", "date": "2026-12-01"}], "members": [member], "applicant": {"member": "m1"}}),
            "/counter",
            "invalid_counter",
        ),
        (
            json!({"counter": "とても長い窓口の名前で十七文字あります", "events": [{"kind": "moveIn", "date": "2026-12-01"}], "members": [member], "applicant": {"member": "m1"}}),
            "/counter",
            "invalid_counter",
        ),
    ];
    for (body, pointer, code) in cases {
        let r = send(&app, Method::POST, VISITS, &token, Some(&body)).await;
        let p = problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let errors = p["errors"].as_array().unwrap();
        assert!(
            errors
                .iter()
                .any(|e| e["pointer"] == pointer && e["code"] == code),
            "{pointer} {code}: {errors:?}"
        );
        assert!(
            errors
                .iter()
                .all(|e| !e["message"].as_str().unwrap().is_empty())
        );
    }
    let listed: Value = send(&app, Method::GET, VISITS, &token, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"], json!([]), "nothing was written");

    // Without the acting clerk nothing is read or written.
    let body = json!({"events": [{"kind": "moveIn", "date": "2026-12-01"}], "members": [member], "applicant": {"member": "m1"}});
    let r = app.send_json(Method::POST, VISITS, &token, &body).await;
    problem(r, StatusCode::BAD_REQUEST, "invalid_actor").await;

    // A bad answer changes nothing, not even the revision.
    let visit: Value = send(&app, Method::POST, VISITS, &token, Some(&body))
        .await
        .json()
        .await
        .unwrap();
    let id = visit["id"].as_str().unwrap();
    let r = send(&app, Method::POST, &format!("{VISITS}/{id}/answers"), &token,
        Some(&json!({"answers": [{"fact": "member.hasMyNumberCard", "member": "m1", "value": true}, {"fact": "member.hasMyNumberCard", "member": "m7", "value": true}]}))).await;
    let p = problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(p["errors"][0]["pointer"], "/answers/1/member");
    let read: Value = send(&app, Method::GET, &format!("{VISITS}/{id}"), &token, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["revision"], visit["revision"]);

    // Another municipality's client gets 403, and the attempt is audited.
    app.register_municipality("131016", "千代田区").await;
    let chiyoda = app.register_client(&["visits"], &["131016"]).await;
    let chiyoda = app.token_for(&chiyoda.id, &chiyoda.secret).await;
    let r = send(&app, Method::GET, &format!("{VISITS}/{id}"), &chiyoda, None).await;
    problem(r, StatusCode::FORBIDDEN, "municipality_forbidden").await;
    let unknown = send(
        &app,
        Method::GET,
        &format!("{VISITS}/{}", uuid::Uuid::now_v7()),
        &token,
        None,
    )
    .await;
    problem(unknown, StatusCode::NOT_FOUND, "not_found").await;
}
storage_test!(bad_input_is_a_clear_problem_and_writes_nothing);

/// A municipality turns a procedure off, changes a fee and a department and adds its own
/// procedure: visits opened afterwards see it, a visit opened before keeps its catalogue.
async fn municipality_overrides_make_a_new_catalogue_version(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.demo_token().await;
    let admin = app
        .register_client(&["admin", "audit:read"], &["012084"])
        .await;
    let admin = app.token_for(&admin.id, &admin.secret).await;
    let body = json!({
        "events": [{"kind": "moveIn", "date": "2026-12-01", "facts": {"from": "otherMunicipality", "cardSpecialMoveIn": false}}],
        "members": [{"id": "m1", "familyName": "木村", "givenName": "拓", "dateOfBirth": "1985-05-05", "insurance": "employee"}],
        "applicant": {"member": "m1"},
        "answers": [{"fact": "member.wantsSealRegistration", "member": "m1", "value": true}]
    });
    let before: Value = send(&app, Method::POST, VISITS, &token, Some(&body))
        .await
        .json()
        .await
        .unwrap();
    assert!(before["catalogVersion"].as_str().unwrap().ends_with(".0"));

    let overrides_path = "/v1/municipalities/012084/catalog/overrides";
    let bad = json!({
        "procedures": {"noSuchProcedure": {"enabled": false}, "sealRegistrationMoveIn": {"fee": {"yen": 0}}},
        "local": [{"id": "garbage", "rule": true}],
        "closedEveryYear": ["12-29", "12-32"]
    });
    let r = app
        .send_json(Method::PUT, overrides_path, &admin, &bad)
        .await;
    let p = problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let pointers = error_pointers(&p);
    assert_eq!(
        pointers,
        BTreeSet::from([
            "/procedures/noSuchProcedure".to_owned(),
            "/procedures/sealRegistrationMoveIn/fee/yen".to_owned(),
            "/local/0/id".to_owned(),
            "/closedEveryYear/1".to_owned()
        ]),
        "{p}"
    );
    let current: Value = app.get_json(overrides_path, &admin).await;
    assert_eq!(current["version"], 0, "nothing was stored");

    let local = json!({
        "id": "local.garbageGuide", "name": {"ja": "ごみ分別の案内とごみ袋の交付", "en": "Waste sorting guide and bags"},
        "department": "環境課", "area": "residentRegistry", "lifeEvents": ["moveIn"], "appliesTo": "household",
        "rule": true, "questions": [], "documents": [], "identityCheck": "none", "fee": null, "form": null,
        "handling": {"mode": "counter"}, "deadline": null, "legalBasis": {"ja": "市廃棄物条例", "en": "municipal waste ordinance"},
        "reason": {"needed": {"ja": "転入した世帯にごみ分別の案内を渡します。", "en": "Households moving in get the waste guide."},
                   "notNeeded": {"ja": "不要です。", "en": "Not needed."}}
    });
    let good = json!({
        "procedures": {"mopedRegistration": {"enabled": false}, "sealRegistrationMoveIn": {"fee": {"yen": 200}, "department": "戸籍住民課"}},
        "local": [local],
        // A day the offices close (a system change-over): a deadline ending on it moves on.
        "closedDays": ["2026-12-15"]
    });
    let saved = app
        .send_json(Method::PUT, overrides_path, &admin, &good)
        .await;
    assert_eq!(saved.status(), StatusCode::OK);
    let saved: Value = saved.json().await.unwrap();
    assert_eq!(saved["version"], 1);
    // The same overrides again make no new version.
    let again: Value = app
        .send_json(Method::PUT, overrides_path, &admin, &good)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["version"], 1);

    let after: Value = send(&app, Method::POST, VISITS, &token, Some(&body))
        .await
        .json()
        .await
        .unwrap();
    assert!(after["catalogVersion"].as_str().unwrap().ends_with(".1"));
    let d: Value = send(
        &app,
        Method::GET,
        &format!("{VISITS}/{}/determination", after["id"].as_str().unwrap()),
        &token,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    let moped = find(&d, "mopedRegistration");
    assert!(
        moped["reason"].as_str().unwrap().contains("扱っていません"),
        "{moped}"
    );
    assert!(
        d["ruledOut"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["procedureId"] == "mopedRegistration")
    );
    assert!(
        !d["questions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|q| q["fact"] == "household.ownsMoped"),
        "no question for a procedure that is off"
    );
    let seal = find(&d, "sealRegistrationMoveIn@m1");
    assert_eq!(seal["fee"]["yen"], 200);
    assert_eq!(seal["department"], "戸籍住民課");
    assert_eq!(find(&d, "local.garbageGuide")["department"], "環境課");
    assert_eq!(find(&d, "moveInNotification")["deadline"], "2026-12-16");

    // The visit opened before keeps its catalogue: the moped question is still asked there.
    let old: Value = send(
        &app,
        Method::GET,
        &format!("{VISITS}/{}/determination", before["id"].as_str().unwrap()),
        &token,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert!(
        old["questions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|q| q["fact"] == "household.ownsMoped")
    );
    assert!(
        old["needed"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["procedureId"] != "local.garbageGuide")
    );
    assert_eq!(find(&old, "sealRegistrationMoveIn@m1")["fee"], Value::Null);
    assert_eq!(find(&old, "moveInNotification")["deadline"], "2026-12-15");

    let catalog: Value = app
        .get_json("/v1/municipalities/012084/catalog", &token)
        .await;
    assert!(
        catalog["procedures"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == "mopedRegistration" && p["enabled"] == false)
    );
    let events: Value = app
        .get_json("/v1/municipalities/012084/audit-events?limit=100", &admin)
        .await;
    assert!(
        events["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "catalog.override" && e["target"] == "catalog.1")
    );
}
storage_test!(municipality_overrides_make_a_new_catalogue_version);

/// A municipality sets the values its own ordinances decide (子ども医療費助成's age limit and
/// application days, 印鑑登録's minimum age): rules, deadlines and reasons follow them; a value
/// outside its bounds or an unknown name is refused by pointer.
async fn municipal_parameters_change_rules_deadlines_and_reasons(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.demo_token().await;
    let admin = app.register_client(&["admin", "visits"], &["012084"]).await;
    let admin = app.token_for(&admin.id, &admin.secret).await;
    let catalog = "/v1/municipalities/012084/catalog";
    let parameter = |c: &Value, name: &str| -> Value {
        c["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no parameter {name}"))
    };
    let before: Value = app.get_json(catalog, &admin).await;
    let age = parameter(&before, "childMedicalSubsidy.lastSchoolYearAge");
    assert_eq!(
        (age["value"].as_i64(), age["default"].as_i64()),
        (Some(17), Some(17))
    );
    assert!(
        strings(&age["procedures"]).contains("childMedicalSubsidyApplication"),
        "{age}"
    );

    // A parent and a child of school-year age 15, who is 16 and wants a seal registered.
    let teen = json!({
        "events": [{"kind": "moveIn", "date": "2026-12-01", "facts": {"from": "otherMunicipality", "cardSpecialMoveIn": false}}],
        "members": [
            {"id": "m1", "familyName": "森", "givenName": "誠", "relationship": "世帯主", "dateOfBirth": "1980-03-03", "insurance": "nationalHealth"},
            {"id": "m2", "familyName": "森", "givenName": "葵", "relationship": "子", "dateOfBirth": "2010-08-01", "insurance": "nationalHealth"}
        ],
        "applicant": {"member": "m1"},
        "answers": [{"fact": "member.wantsSealRegistration", "member": "m2", "value": true}]
    });
    let d = open_and_determine(&app, &token, &teen).await.unwrap();
    let application = find(&d, "childMedicalSubsidyApplication");
    // 30 days after 1 December end on 31 December, closed: the next open day.
    assert_eq!(application["deadline"], "2027-01-04", "{application}");
    assert!(
        d["needed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| label(x) == "sealRegistrationMoveIn@m2"),
        "{d}"
    );

    let overrides = "/v1/municipalities/012084/catalog/overrides";
    let bad = json!({"parameters": {"childMedicalSubsidy.lastSchoolYearAge": 30, "childMedicalSubsidy.noSuch": 1}});
    let r = app.send_json(Method::PUT, overrides, &admin, &bad).await;
    let p = problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let pointers = error_pointers(&p);
    assert_eq!(
        pointers,
        BTreeSet::from([
            "/parameters/childMedicalSubsidy.lastSchoolYearAge".to_owned(),
            "/parameters/childMedicalSubsidy.noSuch".to_owned()
        ]),
        "{p}"
    );
    let good = json!({"parameters": {
        "childMedicalSubsidy.lastSchoolYearAge": 14,
        "childMedicalSubsidy.applicationDays": 20,
        "sealRegistration.minimumAge": 18
    }});
    let r = app.send_json(Method::PUT, overrides, &admin, &good).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let after: Value = app.get_json(catalog, &admin).await;
    assert_eq!(
        parameter(&after, "childMedicalSubsidy.lastSchoolYearAge")["value"],
        14
    );
    assert_eq!(parameter(&after, "mopedRegistration.days")["value"], 15);

    let d = open_and_determine(&app, &token, &teen).await.unwrap();
    let application = find(&d, "childMedicalSubsidyApplication");
    assert!(
        d["ruledOut"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["procedureId"] == "childMedicalSubsidyApplication"),
        "{application}"
    );
    assert!(
        application["reason"]
            .as_str()
            .unwrap()
            .contains("学年齢14歳まで"),
        "{application}"
    );
    let seal = find(&d, "sealRegistrationMoveIn@m2");
    assert!(
        seal["reason"].as_str().unwrap().contains("18歳未満"),
        "{seal}"
    );

    let younger = json!({
        "events": [{"kind": "moveIn", "date": "2026-12-01", "facts": {"from": "otherMunicipality", "cardSpecialMoveIn": false}}],
        "members": [
            {"id": "m1", "familyName": "森", "givenName": "誠", "relationship": "世帯主", "dateOfBirth": "1980-03-03", "insurance": "nationalHealth"},
            {"id": "m2", "familyName": "森", "givenName": "陸", "relationship": "子", "dateOfBirth": "2017-05-05", "insurance": "nationalHealth"}
        ],
        "applicant": {"member": "m1"}
    });
    let d = open_and_determine(&app, &token, &younger).await.unwrap();
    let application = find(&d, "childMedicalSubsidyApplication");
    assert_eq!(application["deadline"], "2026-12-21", "{application}");
}
storage_test!(municipal_parameters_change_rules_deadlines_and_reasons);

/// One confirmation covers every draft, then one submission makes the applications; before,
/// after and twice are each a clear problem, and nothing is half-written.
async fn confirm_once_and_submit_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.demo_token().await;
    let body = json!({
        "events": [{"kind": "certificateRequest", "date": "2026-12-03", "facts": {"certificates": ["residentRecordCopy"]}}],
        "members": [{"id": "m1", "familyName": "田中", "givenName": "修", "familyNameKana": "タナカ", "givenNameKana": "オサム", "dateOfBirth": "1970-01-01", "sex": "1"}],
        "applicant": {"member": "m1"}
    });
    let visit: Value = send(&app, Method::POST, VISITS, &token, Some(&body))
        .await
        .json()
        .await
        .unwrap();
    let id = visit["id"].as_str().unwrap();
    let at = |p: &str| format!("{VISITS}/{id}/{p}");
    // Where the visit is in its life, as a second clerk reading it sees.
    let stage = || async {
        let v: Value = send(&app, Method::GET, &format!("{VISITS}/{id}"), &token, None)
            .await
            .json()
            .await
            .unwrap();
        (
            v["status"].as_str().unwrap().to_owned(),
            v["confirmedAt"].is_string(),
            v["submittedAt"].is_string(),
            v["closedAt"].is_string(),
        )
    };
    assert_eq!(stage().await, ("open".to_owned(), false, false, false));

    let early = send(&app, Method::POST, &at("submit"), &token, None).await;
    problem(early, StatusCode::CONFLICT, "visit_not_confirmed").await;
    let attest = json!({"method": "attestation"});
    let incomplete = send(&app, Method::POST, &at("confirm"), &token, Some(&attest)).await;
    let p = problem(
        incomplete,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(
        p["errors"][0]["pointer"], "/drafts/residentRecordCopy@0",
        "{p}"
    );
    assert_eq!(p["errors"][0]["code"], "draft_invalid");

    // The clerk completes what no system knows.
    let edit = json!({"set": {"/purpose": "勤務先提出", "/identityDocument": "運転免許証", "/applicant/relation": "本人", "/applicant/contact/phone": "0157-23-7111"}});
    let draft: Value = send(
        &app,
        Method::PATCH,
        &at("drafts/residentRecordCopy@0"),
        &token,
        Some(&edit),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(draft["valid"], true, "{}", draft["errors"]);

    let bad_image = json!({"method": "signature", "signature": {"mediaType": "image/png", "data": "bm90IGEgcG5n"}});
    let r = send(&app, Method::POST, &at("confirm"), &token, Some(&bad_image)).await;
    let p = problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(p["errors"][0]["pointer"], "/signature/mediaType");
    // Only the first bytes of a PNG: the image is decoded, so it is refused.
    let magic_only = json!({"method": "signature", "signature": {"mediaType": "image/png", "data": "iVBORw0KGgpub3QgYW4gaW1hZ2U="}});
    let r = send(
        &app,
        Method::POST,
        &at("confirm"),
        &token,
        Some(&magic_only),
    )
    .await;
    let p = problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(p["errors"][0]["pointer"], "/signature/data");
    assert_eq!(p["errors"][0]["code"], "invalid_signature_image");
    // A 1×1 PNG as a signature pad would send it.
    let png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
    let signed = send(
        &app,
        Method::POST,
        &at("confirm"),
        &token,
        Some(&json!({"method": "signature", "signature": {"mediaType": "image/png", "data": png}})),
    )
    .await;
    assert_eq!(signed.status(), StatusCode::OK);
    let signed: Value = signed.json().await.unwrap();
    assert_eq!(signed["method"], "signature");
    assert_eq!(signed["signatureSha256"].as_str().unwrap().len(), 64);
    assert_eq!(signed["drafts"], json!(["residentRecordCopy@0"]));
    assert!(signed["prefilledFields"].as_u64().unwrap() >= 8, "{signed}");
    assert_eq!(signed["typedFields"], 4);
    assert_eq!(stage().await, ("confirmed".to_owned(), true, false, false));

    // Frozen: no answer, no edit, no second confirmation.
    let again = send(&app, Method::POST, &at("confirm"), &token, Some(&attest)).await;
    problem(again, StatusCode::CONFLICT, "visit_confirmed").await;
    let edit = send(
        &app,
        Method::PATCH,
        &at("drafts/residentRecordCopy@0"),
        &token,
        Some(&json!({"set": {"/purpose": "その他"}})),
    )
    .await;
    problem(edit, StatusCode::CONFLICT, "visit_confirmed").await;
    let answer = send(&app, Method::POST, &at("answers"), &token,
        Some(&json!({"answers": [{"fact": "event.certificates", "value": ["residentRecordCopy", "taxCertificate"]}]}))).await;
    problem(answer, StatusCode::CONFLICT, "visit_confirmed").await;

    let none: Value = send(&app, Method::GET, &at("applications"), &token, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none["items"], json!([]));
    let submitted = send(&app, Method::POST, &at("submit"), &token, None).await;
    assert_eq!(submitted.status(), StatusCode::CREATED);
    assert_eq!(stage().await, ("submitted".to_owned(), true, true, false));
    let submitted: Value = submitted.json().await.unwrap();
    let items = submitted["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["procedureId"], "residentRecordCopy");
    assert_eq!(items[0]["state"], "submitted");
    assert_eq!(items[0]["form"], "certificateIssuance@1.0");
    assert_eq!(items[0]["document"]["purpose"], "勤務先提出");
    let twice = send(&app, Method::POST, &at("submit"), &token, None).await;
    problem(twice, StatusCode::CONFLICT, "visit_submitted").await;
    let listed: Value = send(&app, Method::GET, &at("applications"), &token, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed["items"].as_array().unwrap().len(),
        1,
        "the second submit wrote nothing"
    );
    assert_eq!(listed["items"][0]["id"], items[0]["id"]);

    // The day's KPIs and the metrics count what the resident did not write by hand.
    let closed = send(&app, Method::POST, &at("close"), &token, None).await;
    assert_eq!(closed.status(), StatusCode::OK);
    assert_eq!(stage().await, ("closed".to_owned(), true, true, true));
    let day = visit["openedOn"].as_str().unwrap();
    let kpis: Value = app
        .get_json(
            &format!("/v1/municipalities/012084/kpis?date={day}"),
            &token,
        )
        .await;
    assert_eq!(kpis["visits"], 1);
    assert_eq!(kpis["closed"], 1);
    assert_eq!(kpis["confirmed"], 1);
    assert_eq!(kpis["submitted"], 1);
    assert_eq!(kpis["formsPrefilled"], 1);
    assert_eq!(kpis["proceduresPerVisit"], 1.0);
    assert_eq!(kpis["fieldsPrefilled"], signed["prefilledFields"]);
    assert_eq!(kpis["fieldsTyped"], 4);
    assert!(kpis["meanStaySeconds"].as_f64().unwrap() >= 0.0);
    let share = kpis["prefilledShare"].as_f64().unwrap();
    assert!(share > 0.5 && share < 1.0, "{kpis}");
    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let prefilled = format!(
        "madoguchi_visit_fields_prefilled_total{{lg_code=\"012084\"}} {}",
        signed["prefilledFields"]
    );
    assert!(metrics.contains(&prefilled), "{prefilled} not in metrics");
    assert!(metrics.contains("madoguchi_visits_closed_total{lg_code=\"012084\"} 1"));
    assert!(!metrics.contains("田中"), "no personal data in metrics");

    let auditor = app.register_client(&["audit:read"], &["012084"]).await;
    let auditor = app.token_for(&auditor.id, &auditor.secret).await;
    let events: Value = app
        .get_json("/v1/municipalities/012084/audit-events?limit=100", &auditor)
        .await;
    let actions: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["target"] == visit["id"])
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions.iter().filter(|a| **a == "visit.submit").count(), 1);
    assert_eq!(actions.iter().filter(|a| **a == "visit.confirm").count(), 1);
}
storage_test!(confirm_once_and_submit_once);
