//! The one-stop visit, as the counter works: scenarios kept as data under
//! `tests/data/visits/` (open the visit, check the procedures, the questions — and that no
//! needless one is asked — the reasons, then answer and check again), and bad input.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, problem, spawn_app};
use crate::storage_test;

const VISITS: &str = "/v1/municipalities/012084/visits";

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> reqwest::Response {
    let mut request = app
        .http
        .request(method, app.url(path))
        .bearer_auth(token)
        .header("Madoguchi-Actor", "clerk-0042");
    if let Some(body) = body {
        request = request.json(body);
    }
    request.send().await.expect("request")
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

async fn scenarios_run_as_the_counter_does(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.demo_token().await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/visits");
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
