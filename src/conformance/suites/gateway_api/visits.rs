//! Visits end to end: the scenarios' determinations, and one visit from opening to its
//! applications.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::conformance::exchange::{Reply, Req};
use crate::conformance::specimens;
use crate::conformance::suite::{Abort, Ctx};

/// Today in Japan, `YYYY-MM-DD`: the day the gateway files a visit under.
pub fn jst_today() -> String {
    crate::clock::japan_day(chrono::Utc::now()).to_string()
}

/// A visit for a 住民票の写し (the shortest whole visit), with `ticket`.
pub fn certificate_visit(ticket: &str) -> Value {
    json!({
        "ticket": ticket,
        "events": [{"kind": "certificateRequest", "date": jst_today(),
                    "facts": {"certificates": ["residentRecordCopy"]}}],
        "members": [{"id": "m1", "familyName": "田中", "givenName": "修",
                     "familyNameKana": "タナカ", "givenNameKana": "オサム",
                     "dateOfBirth": "1970-01-01", "sex": "1"}],
        "applicant": {"member": "m1"}
    })
}

/// The draft edit that completes a 住民票の写し's request.
fn certificate_edit() -> Value {
    json!({"set": {"/purpose": "勤務先提出", "/identityDocument": "運転免許証",
        "/applicant/relation": "本人", "/applicant/contact/phone": "0157-23-7111"}})
}

/// A 住民票の写し's visit opened, completed, confirmed and submitted; its id.
pub async fn submitted_certificate_visit(ctx: &mut Ctx, ticket: &str) -> Result<String, Abort> {
    let opened = ctx
        .authed(Req::post(ctx.muni("/visits")).json(certificate_visit(ticket)))
        .await?;
    let id = ctx.require_success(&opened, "opening a visit")?["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let path = ctx.muni(&format!("/visits/{id}"));
    for (req, what) in [
        (
            Req::patch(format!("{path}/drafts/residentRecordCopy@0")).json(certificate_edit()),
            "completing the draft",
        ),
        (
            Req::post(format!("{path}/confirm")).json(json!({"method": "attestation"})),
            "confirming",
        ),
        (Req::post(format!("{path}/submit")), "submitting"),
    ] {
        let reply = ctx.authed(req).await?;
        ctx.require_success(&reply, what)?;
    }
    Ok(id)
}

fn label(decision: &Value) -> String {
    let id = decision["procedureId"].as_str().unwrap_or_default();
    match decision["member"].as_str() {
        Some(m) => format!("{id}@{m}"),
        None => id.to_owned(),
    }
}

fn labels(d: &Value, key: &str) -> BTreeSet<String> {
    d[key].as_array().into_iter().flatten().map(label).collect()
}

fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

/// The `procedureId` of each of `items`.
fn procedure_ids(page: &Value) -> BTreeSet<String> {
    page["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["procedureId"].as_str().map(str::to_owned))
        .collect()
}

fn show(set: &BTreeSet<String>) -> String {
    set.iter().cloned().collect::<Vec<_>>().join(", ")
}

fn judge(ctx: &mut Ctx, at: &str, d: &Value, expect: &Value, reply: &Reply) {
    let needed = labels(d, "needed");
    let expected = strings(&expect["needed"]);
    ctx.check(
        "VISIT-001",
        needed == expected,
        format!("{at}: needed {}", show(&expected)),
        format!(
            "missing {}; not expected {}",
            show(&expected.difference(&needed).cloned().collect()),
            show(&needed.difference(&expected).cloned().collect())
        ),
        Some(reply),
    );
    let ruled_out = labels(d, "ruledOut");
    let expected_out = strings(&expect["ruledOut"]);
    if !expected_out.is_empty() {
        let not_out: BTreeSet<String> = expected_out.difference(&ruled_out).cloned().collect();
        ctx.check(
            "VISIT-001",
            not_out.is_empty(),
            format!("{at}: ruled out {}", show(&expected_out)),
            format!("not ruled out: {}", show(&not_out)),
            Some(reply),
        );
    }
    let questions: BTreeSet<String> = d["questions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|q| q["id"].as_str().map(str::to_owned))
        .collect();
    let expected_q = strings(&expect["questions"]);
    ctx.check(
        "VISIT-002",
        questions == expected_q,
        format!("{at}: {} questions as the scenario gives", expected_q.len()),
        format!(
            "missing {}; not expected {}",
            show(&expected_q.difference(&questions).cloned().collect()),
            show(&questions.difference(&expected_q).cloned().collect())
        ),
        Some(reply),
    );
}

pub async fn scenarios(ctx: &mut Ctx) -> Result<(), Abort> {
    for scenario in specimens::scenarios().map_err(Abort::Setup)? {
        let created = ctx
            .authed(Req::post(ctx.muni("/visits")).json(scenario.visit.clone()))
            .await?;
        let visit = ctx.require_success(&created, &format!("opening «{}»", scenario.name))?;
        let id = visit["id"].as_str().unwrap_or_default().to_owned();
        for (i, step) in scenario.steps.iter().enumerate() {
            let reply = match step.get("answer") {
                None => {
                    ctx.authed(Req::get(ctx.muni(&format!("/visits/{id}/determination"))))
                        .await?
                }
                Some(answers) => {
                    ctx.authed(
                        Req::post(ctx.muni(&format!("/visits/{id}/answers")))
                            .json(json!({"answers": answers})),
                    )
                    .await?
                }
            };
            let d = ctx.require_success(&reply, &format!("«{}» step {i}", scenario.name))?;
            if let Some(expect) = step.get("expect") {
                judge(
                    ctx,
                    &format!("{} step {i}", scenario.file),
                    &d,
                    expect,
                    &reply,
                );
            }
        }
    }
    Ok(())
}

pub async fn full_flow(ctx: &mut Ctx) -> Result<(), Abort> {
    let opened = ctx
        .authed(Req::post(ctx.muni("/visits")).json(certificate_visit("CK-FLOW")))
        .await?;
    let visit = opened.value();
    let id = visit["id"].as_str().unwrap_or_default().to_owned();
    ctx.check(
        "VISIT-003",
        opened.status.as_u16() == 201 && !id.is_empty() && visit["status"] == "open",
        "201 with the visit, status open",
        format!("{} status {}", opened.status.as_u16(), visit["status"]),
        Some(&opened),
    );
    if id.is_empty() {
        return Err(Abort::Setup("no visit to go on with".to_owned()));
    }
    let path = ctx.muni(&format!("/visits/{id}"));
    let read = ctx.authed(Req::get(path.clone())).await?;
    ctx.check(
        "VISIT-003",
        read.status.as_u16() == 200 && read.value()["id"] == id.as_str(),
        "200 with the same visit",
        format!("{} id {}", read.status.as_u16(), read.value()["id"]),
        Some(&read),
    );
    let token = ctx.token().await?;
    let anonymous = ctx.send(Req::get(path.clone()).bearer(&token)).await?;
    ctx.expect_problem("VISIT-006", &anonymous, 400, "invalid_actor");

    let etag = read.header("etag").unwrap_or("*").to_owned();
    let draft = format!("{path}/drafts/residentRecordCopy@0");
    let edit = json!({"set": {"/purpose": "勤務先提出", "/identityDocument": "運転免許証",
        "/applicant/relation": "本人", "/applicant/contact/phone": "0157-23-7111"}});
    let edited = ctx
        .authed(
            Req::patch(draft.clone())
                .header("If-Match", etag.clone())
                .json(edit),
        )
        .await?;
    let draft_body = ctx.require_success(&edited, "the draft edit")?;
    let stale = ctx
        .authed(
            Req::patch(draft.clone())
                .header("If-Match", etag.clone())
                .json(json!({"set": {"/purpose": "上書きされてはならない"}})),
        )
        .await?;
    ctx.expect_problem("VISIT-005", &stale, 412, "precondition_failed");
    let after = ctx.authed(Req::get(format!("{path}/drafts"))).await?;
    let kept = !String::from_utf8_lossy(&after.body).contains("上書きされてはならない");
    ctx.check(
        "VISIT-005",
        after.status.is_success() && kept,
        "the drafts unchanged by the refused edit",
        if kept {
            "unchanged"
        } else {
            "the refused value is in the draft"
        }
        .to_owned(),
        Some(&after),
    );

    let valid = draft_body["valid"] == true;
    let confirmed = ctx
        .authed(Req::post(format!("{path}/confirm")).json(json!({"method": "attestation"})))
        .await?;
    let submitted = ctx.authed(Req::post(format!("{path}/submit"))).await?;
    let procedures = procedure_ids(&submitted.value());
    ctx.check(
        "VISIT-004",
        valid
            && confirmed.status.is_success()
            && submitted.status.as_u16() == 201
            && procedures.contains("residentRecordCopy"),
        "the edited draft valid; confirm 2xx; submit 201 with residentRecordCopy",
        format!(
            "draft valid {valid}; confirm {}; submit {} with {}",
            confirmed.status.as_u16(),
            submitted.status.as_u16(),
            show(&procedures)
        ),
        Some(&submitted),
    );
    let listed = ctx.authed(Req::get(format!("{path}/applications"))).await?;
    let listed_procedures = procedure_ids(&listed.value());
    ctx.check(
        "VISIT-004",
        listed.status.as_u16() == 200 && listed_procedures.contains("residentRecordCopy"),
        "the visit's applications list residentRecordCopy",
        format!(
            "{} with {}",
            listed.status.as_u16(),
            show(&listed_procedures)
        ),
        Some(&listed),
    );
    Ok(())
}
