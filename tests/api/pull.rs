//! The pull link: a core system reads the applications of its business area after its cursor
//! and answers them; the counter app sees the answer (and a rejection's reason) in the visit.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, problem, spawn_app};
use crate::storage_test;
use crate::visits::{VISITS, open_visit, send};

/// A visit for a 住民票の写し for 修 born 1970 (`family` his family name, `ticket` its ticket).
pub(crate) fn certificate_request(family: &str, kana: &str, ticket: &str) -> Value {
    json!({
        "ticket": ticket,
        "events": [{"kind": "certificateRequest", "date": "2026-12-03", "facts": {"certificates": ["residentRecordCopy"]}}],
        "members": [{"id": "m1", "familyName": family, "givenName": "修", "familyNameKana": kana, "givenNameKana": "オサム", "dateOfBirth": "1970-01-01", "sex": "1"}],
        "applicant": {"member": "m1"}
    })
}

/// Fills in what the clerk asks for a certificate (purpose, identity document, relation,
/// phone) in the visit's one draft.
pub(crate) async fn fill_certificate(app: &TestApp, token: &str, visit: &str) {
    let edit = json!({"set": {"/purpose": "勤務先提出", "/identityDocument": "運転免許証", "/applicant/relation": "本人", "/applicant/contact/phone": "0157-23-7111"}});
    let r = send(
        app,
        Method::PATCH,
        &format!("{VISITS}/{visit}/drafts/residentRecordCopy@0"),
        token,
        Some(&edit),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
}

/// A visit confirmed and submitted with one application (a 住民票の写し); its id.
pub(crate) async fn submitted_visit(app: &TestApp, token: &str) -> String {
    let id = open_visit(app, token, &certificate_request("田中", "タナカ", "P-1")).await;
    let at = |p: &str| format!("{VISITS}/{id}/{p}");
    fill_certificate(app, token, &id).await;
    let r = send(
        app,
        Method::POST,
        &at("confirm"),
        token,
        Some(&json!({"method": "attestation"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let r = send(app, Method::POST, &at("submit"), token, None).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    id
}

pub(crate) async fn applications(app: &TestApp, token: &str, visit: &str) -> Value {
    send(
        app,
        Method::GET,
        &format!("{VISITS}/{visit}/applications"),
        token,
        None,
    )
    .await
    .json()
    .await
    .unwrap()
}

async fn a_core_system_pulls_and_answers(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.demo_token().await;
    let first = submitted_visit(&app, &token).await;
    let second = submitted_visit(&app, &token).await;
    let listed = applications(&app, &token, &first).await;
    let area = listed["items"][0]["area"].as_str().unwrap().to_owned();

    let core = app.register_client(&["link"], &["012084"]).await;
    let core = app.token_for(&core.id, &core.secret).await;
    let base = format!("/v1/municipalities/012084/link/{area}/applications");
    // One at a time, in order, with the confirmed document.
    let page = app.get_json(&format!("{base}?limit=1"), &core).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["more"], true);
    let a = page["items"][0].clone();
    assert_eq!(a["visitId"], first.as_str());
    assert_eq!(a["state"], "submitted");
    assert_eq!(a["document"]["purpose"], "勤務先提出");
    let cursor = page["nextCursor"].as_str().unwrap();
    let page = app.get_json(&format!("{base}?after={cursor}"), &core).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["visitId"], second.as_str());
    assert_eq!(page["more"], false);
    let last = page["nextCursor"].as_str().unwrap().to_owned();
    // Nothing new: the cursor stays.
    let empty = app.get_json(&format!("{base}?after={last}"), &core).await;
    assert_eq!(empty["items"], json!([]));
    assert_eq!(empty["nextCursor"], last.as_str());
    let unknown = app
        .get("/v1/municipalities/012084/link/nothing/applications", &core)
        .await;
    problem(unknown, StatusCode::NOT_FOUND, "not_found").await;

    // Answers.
    let ack = |id: &str, body: Value| {
        let url = app.url(&format!("{base}/{id}/ack"));
        let core = core.clone();
        let http = app.http.clone();
        async move {
            http.post(url)
                .bearer_auth(core)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let a_id = a["applicationId"].as_str().unwrap();
    let b_id = page["items"][0]["applicationId"].as_str().unwrap();
    let accepted = ack(a_id, json!({"outcome": "accepted"})).await;
    assert_eq!(accepted.status(), StatusCode::OK);
    let again = ack(a_id, json!({"outcome": "accepted"})).await;
    assert_eq!(again.status(), StatusCode::OK, "a repeated answer is fine");
    let done: Value = ack(a_id, json!({"outcome": "completed"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(done["state"], "completed");
    let late = ack(a_id, json!({"outcome": "rejected", "reason": "x"})).await;
    problem(late, StatusCode::CONFLICT, "conflict").await;
    let no_reason = ack(b_id, json!({"outcome": "rejected"})).await;
    let p = problem(
        no_reason,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(p["errors"][0]["pointer"], "/reason");
    // A reason is shown to a clerk: bounded, and without control characters (a NUL was a 500
    // on PostgreSQL, 900,000 characters were stored).
    for reason in [
        "期限切れ\u{0000}".to_owned(),
        "a\u{202E}b".to_owned(),
        "理".repeat(300_000),
    ] {
        let bad = ack(b_id, json!({"outcome": "rejected", "reason": reason})).await;
        let p = problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(p["errors"][0]["code"], "invalid_reason", "{p}");
    }
    let rejected = ack(
        b_id,
        json!({"outcome": "rejected", "reason": "本人確認書類の有効期限切れ"}),
    )
    .await;
    assert_eq!(rejected.status(), StatusCode::OK);

    // The counter app sees it.
    let first_apps = applications(&app, &token, &first).await;
    assert_eq!(first_apps["items"][0]["state"], "completed");
    let second_apps = applications(&app, &token, &second).await;
    assert_eq!(second_apps["items"][0]["state"], "rejected");
    assert_eq!(
        second_apps["items"][0]["reason"],
        "本人確認書類の有効期限切れ"
    );
    // Another municipality's core system sees none of it.
    app.register_municipality("131016", "千代田区").await;
    let other = app.register_client(&["link"], &["131016"]).await;
    let other = app.token_for(&other.id, &other.secret).await;
    let refused = app.get(&base, &other).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    // The answers are audited.
    let audit = app
        .get_json("/v1/municipalities/012084/audit-events?limit=100", &token)
        .await;
    let answers = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "application.acknowledge")
        .count();
    assert_eq!(
        answers, 3,
        "accepted, completed, rejected; the repeat changed nothing"
    );
}
storage_test!(a_core_system_pulls_and_answers);

/// A core system's client registered for some business areas reaches only those.
async fn a_core_system_reaches_only_its_areas(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.demo_token().await;
    let visit = submitted_visit(&app, &token).await;
    let listed = applications(&app, &token, &visit).await;
    let area = listed["items"][0]["area"].as_str().unwrap().to_owned();
    let application = listed["items"][0]["id"].as_str().unwrap().to_owned();
    let elsewhere = if area == "nationalHealthInsurance" {
        "residentRegistry"
    } else {
        "nationalHealthInsurance"
    };
    let admin = app.admin_token().await;
    let create = |body: Value| {
        let (app, admin) = (&app, admin.clone());
        async move {
            app.send_json(Method::POST, "/v1/admin/clients", &admin, &body)
                .await
        }
    };
    let ours = create(json!({"name": "core A", "scopes": ["link"], "municipalities": ["012084"], "linkAreas": [area]})).await;
    assert_eq!(ours.status(), StatusCode::CREATED);
    let ours: Value = ours.json().await.unwrap();
    assert_eq!(ours["linkAreas"], json!([area]));
    let theirs = create(json!({"name": "core B", "scopes": ["link"], "municipalities": ["012084"], "linkAreas": [elsewhere]})).await;
    let theirs: Value = theirs.json().await.unwrap();
    for (body, pointer, code) in [
        (
            json!({"name": "x", "scopes": ["link"], "municipalities": ["012084"], "linkAreas": ["taxes"]}),
            "/linkAreas/0",
            "unknown_area",
        ),
        (
            json!({"name": "x", "scopes": ["forms"], "municipalities": ["012084"], "linkAreas": [area]}),
            "/linkAreas",
            "link_areas_without_link",
        ),
    ] {
        let p = problem(
            create(body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(
            (
                p["errors"][0]["pointer"].as_str(),
                p["errors"][0]["code"].as_str()
            ),
            (Some(pointer), Some(code)),
            "{p}"
        );
    }

    let base = format!("/v1/municipalities/012084/link/{area}/applications");
    let ours = app
        .token_for(
            ours["clientId"].as_str().unwrap(),
            ours["clientSecret"].as_str().unwrap(),
        )
        .await;
    let page = app.get_json(&base, &ours).await;
    assert_eq!(page["items"][0]["applicationId"], application.as_str());
    let theirs = app
        .token_for(
            theirs["clientId"].as_str().unwrap(),
            theirs["clientSecret"].as_str().unwrap(),
        )
        .await;
    let p = problem(
        app.get(&base, &theirs).await,
        StatusCode::FORBIDDEN,
        "area_forbidden",
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains(elsewhere), "{p}");
    let ack = app
        .send_json(
            Method::POST,
            &format!("{base}/{application}/ack"),
            &theirs,
            &json!({"outcome": "accepted"}),
        )
        .await;
    problem(ack, StatusCode::FORBIDDEN, "area_forbidden").await;
    // Its own area it reaches.
    let own = app
        .get(
            &format!("/v1/municipalities/012084/link/{elsewhere}/applications"),
            &theirs,
        )
        .await;
    assert_eq!(own.status(), StatusCode::OK);
}
storage_test!(a_core_system_reaches_only_its_areas);
