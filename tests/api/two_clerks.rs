//! Two clerks on one visit: every answer about the visit carries its ETag, and a change sent
//! with If-Match is made only to the revision the sender read. The second clerk's stale write
//! is refused with 412 and the current ETag; nothing of the first clerk's change is lost.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, problem, spawn_app};
use crate::pull::certificate_request;
use crate::storage_test;
use crate::visits::{VISITS, send_as};

fn etag(r: &reqwest::Response) -> String {
    r.headers()
        .get("etag")
        .expect("an ETag")
        .to_str()
        .unwrap()
        .to_owned()
}

async fn a_stale_write_is_refused_and_the_first_clerks_change_kept(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.demo_token().await;
    let opened = send_as(
        &app,
        &token,
        "clerk-A",
        Method::POST,
        VISITS,
        None,
        Some(&certificate_request("田中", "タナカ", "D-1")),
    )
    .await;
    assert_eq!(opened.status(), StatusCode::CREATED);
    let first = etag(&opened);
    let id = opened.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let at = |p: &str| format!("{VISITS}/{id}{p}");
    let draft = at("/drafts/residentRecordCopy@0");

    // Both clerks read the visit: the same ETag on the visit, its determination and drafts.
    for path in [at(""), at("/determination"), at("/drafts")] {
        let r = send_as(&app, &token, "clerk-B", Method::GET, &path, None, None).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(etag(&r), first, "{path}");
    }

    // A writes first.
    let a = send_as(
        &app,
        &token,
        "clerk-A",
        Method::PATCH,
        &draft,
        Some(&first),
        Some(&json!({"set": {"/purpose": "勤務先提出"}})),
    )
    .await;
    assert_eq!(a.status(), StatusCode::OK);
    let second = etag(&a);
    assert_ne!(second, first, "a change moves the ETag on");

    // B, still on what it read, is refused: 412 with the current ETag, nothing written.
    let b = send_as(
        &app,
        &token,
        "clerk-B",
        Method::PATCH,
        &draft,
        Some(&first),
        Some(&json!({"set": {"/purpose": "金融機関"}})),
    )
    .await;
    assert_eq!(etag(&b), second, "the 412 names the current ETag");
    let p = problem(b, StatusCode::PRECONDITION_FAILED, "precondition_failed").await;
    assert_eq!(p["etag"], second.as_str());
    let drafts: Value = send_as(
        &app,
        &token,
        "clerk-B",
        Method::GET,
        &at("/drafts"),
        None,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        drafts["drafts"][0]["document"]["purpose"], "勤務先提出",
        "A's entry"
    );
    // Every field's source is one the contract names (`edit` for A's entry among them).
    let doc = app.get_public_json("/openapi.json").await;
    let named = &doc["components"]["schemas"]["DraftField"]["properties"]["source"]["enum"];
    let fields = drafts["drafts"][0]["fields"].as_array().unwrap();
    assert!(fields.iter().any(|f| f["source"] == "edit"), "{fields:?}");
    for f in fields {
        assert!(
            named.as_array().unwrap().contains(&f["source"]),
            "{} is not in the contract's {named}",
            f["source"]
        );
    }

    // Answers, a confirmation and closing on a stale ETag are refused the same way.
    let stale_answers = send_as(
        &app,
        &token,
        "clerk-B",
        Method::POST,
        &at("/answers"),
        Some(&first),
        Some(&json!({"answers": [{"fact": "event.certificates", "value": ["residentRecordCopy", "taxCertificate"]}]})),
    )
    .await;
    problem(
        stale_answers,
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
    )
    .await;
    // The precondition before the content (RFC 9110 §13.2.1): no answers at all on a stale
    // ETag is 412 too, not the 422 it would be on the current one.
    let stale_empty = send_as(
        &app,
        &token,
        "clerk-B",
        Method::POST,
        &at("/answers"),
        Some(&first),
        Some(&json!({"answers": []})),
    )
    .await;
    problem(
        stale_empty,
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
    )
    .await;
    let no_answers = send_as(
        &app,
        &token,
        "clerk-B",
        Method::POST,
        &at("/answers"),
        None,
        Some(&json!({"answers": []})),
    )
    .await;
    let p = problem(
        no_answers,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(p["errors"][0]["code"], "no_answers", "{p}");
    let stale_close = send_as(
        &app,
        &token,
        "clerk-B",
        Method::POST,
        &at("/close"),
        Some(&first),
        None,
    )
    .await;
    problem(
        stale_close,
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
    )
    .await;
    // A weak tag never matches (If-Match compares strongly); a malformed header is a 400.
    let weak = format!("W/{second}");
    let r = send_as(
        &app,
        &token,
        "clerk-B",
        Method::PATCH,
        &draft,
        Some(&weak),
        Some(&json!({"set": {"/identityDocument": "運転免許証"}})),
    )
    .await;
    problem(r, StatusCode::PRECONDITION_FAILED, "precondition_failed").await;
    let r = send_as(
        &app,
        &token,
        "clerk-B",
        Method::PATCH,
        &draft,
        Some("v2"),
        Some(&json!({"set": {"/identityDocument": "運転免許証"}})),
    )
    .await;
    problem(r, StatusCode::BAD_REQUEST, "invalid_request").await;

    // B reads again and sends with the current ETag: made.
    let fill = json!({"set": {"/identityDocument": "運転免許証", "/applicant/relation": "本人", "/applicant/contact/phone": "0157-23-7111"}});
    let r = send_as(
        &app,
        &token,
        "clerk-B",
        Method::PATCH,
        &draft,
        Some(&second),
        Some(&fill),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let third = etag(&r);
    // The resident signs what B's app shows; A's app, a step behind, cannot confirm.
    let sign = json!({"method": "attestation"});
    let r = send_as(
        &app,
        &token,
        "clerk-A",
        Method::POST,
        &at("/confirm"),
        Some(&second),
        Some(&sign),
    )
    .await;
    problem(r, StatusCode::PRECONDITION_FAILED, "precondition_failed").await;
    let r = send_as(
        &app,
        &token,
        "clerk-B",
        Method::POST,
        &at("/confirm"),
        Some(&third),
        Some(&sign),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    // `*` asks only that the visit exists; no If-Match at all keeps working as before.
    let fourth = etag(&send_as(&app, &token, "clerk-B", Method::GET, &at(""), None, None).await);
    assert_ne!(fourth, third);
    let r = send_as(
        &app,
        &token,
        "clerk-A",
        Method::POST,
        &at("/close"),
        Some("*"),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let closed: Value = r.json().await.unwrap();
    assert_eq!(closed["status"], "closed");
}
storage_test!(a_stale_write_is_refused_and_the_first_clerks_change_kept);
