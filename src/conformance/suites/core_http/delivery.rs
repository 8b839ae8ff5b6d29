//! What the endpoint does with documents: takes a valid one, answers a repeat the same,
//! refuses for good what does not validate.

use serde_json::{Value, json};
use uuid::Uuid;

use super::{application, delivery, expect_problem_details, refused_for_good};
use crate::conformance::exchange::Req;
use crate::conformance::specimens;
use crate::conformance::suite::{Abort, Ctx, describe_code};
use crate::forms::FormRegistry;

fn forms() -> Result<&'static FormRegistry, Abort> {
    specimens::forms().map_err(Abort::Setup)
}

/// The first example of the kit's form: a valid document in the standard form.
pub(super) fn valid_document(ctx: &Ctx) -> Result<Value, Abort> {
    let core = super::endpoint(ctx)?;
    let (id, version) = core.form.split_once('@').unwrap_or((&core.form, ""));
    let form = forms()?
        .form(id, Some(version))
        .map_err(|_| Abort::Setup(format!("the kit has no form {}", core.form)))?;
    form.examples()
        .first()
        .cloned()
        .ok_or_else(|| Abort::Setup(format!("{} has no example", core.form)))
}

/// DOC-002: what a 2xx body says, when it says anything, is an answer the connector reads.
fn check_answer(ctx: &mut Ctx, reply: &crate::conformance::exchange::Reply) {
    let body = reply.json();
    let outcome = body.as_ref().and_then(|b| b.get("outcome"));
    let (passed, actual) = match outcome {
        None => (
            true,
            "no outcome: the application stays delivered".to_owned(),
        ),
        Some(Value::String(o)) if o == "accepted" || o == "completed" => (true, o.clone()),
        Some(Value::String(o)) if o == "rejected" => {
            let reason = body
                .as_ref()
                .and_then(|b| b["reason"].as_str())
                .unwrap_or("");
            (
                !reason.trim().is_empty(),
                if reason.trim().is_empty() {
                    "rejected without a reason".to_owned()
                } else {
                    "rejected with a reason".to_owned()
                },
            )
        }
        Some(other) => (false, format!("outcome {other}")),
    };
    ctx.check(
        "DOC-002",
        passed,
        "no outcome, or accepted, completed, or rejected with a reason",
        actual,
        Some(reply),
    );
}

pub async fn accepts(ctx: &mut Ctx) -> Result<(), Abort> {
    let doc = application(ctx, valid_document(ctx)?)?;
    let req = delivery(ctx, &doc).await?;
    let reply = ctx.send(req).await?;
    let ok = reply.status.is_success();
    ctx.check(
        "DOC-001",
        ok,
        "2xx for a valid madoguchi.application/1 document",
        format!("{} {}", reply.status.as_u16(), describe_code(&reply)),
        Some(&reply),
    );
    if ok {
        check_answer(ctx, &reply);
    }
    Ok(())
}

pub async fn repeat(ctx: &mut Ctx) -> Result<(), Abort> {
    let doc = application(ctx, valid_document(ctx)?)?;
    let req = delivery(ctx, &doc).await?;
    let first = ctx.send(req.clone()).await?;
    ctx.require_success(&first, "the first delivery of a valid document")?;
    // The connector sends the same bytes again after a timeout or a crash: twice more.
    for _ in 0..2 {
        let req = delivery(ctx, &doc).await?;
        let again = ctx.send(req).await?;
        let same_status = again.status == first.status;
        let same_body = match (first.json(), again.json()) {
            (Some(a), Some(b)) => a == b,
            _ => first.body == again.body,
        };
        ctx.check(
            "IDEM-001",
            same_status && same_body,
            format!(
                "the first answer again: {} {}",
                first.status.as_u16(),
                String::from_utf8_lossy(&first.body).trim()
            ),
            format!(
                "{} {}",
                again.status.as_u16(),
                String::from_utf8_lossy(&again.body).trim()
            ),
            Some(&again),
        );
    }
    Ok(())
}

pub async fn invalid_form(ctx: &mut Ctx) -> Result<(), Abort> {
    let core = super::endpoint(ctx)?;
    let example = valid_document(ctx)?;
    let file = specimens::form_specimens()
        .map_err(Abort::Setup)?
        .into_iter()
        .find(|f| f.form == core.form)
        .ok_or_else(|| Abort::Setup(format!("the kit has no specimens of {}", core.form)))?;
    // A few, each breaking a different rule.
    for specimen in file.specimens.iter().take(3) {
        let mut document = example.clone();
        specimens::apply_patch(&mut document, &specimen.patch).map_err(Abort::Setup)?;
        let doc = application(ctx, document)?;
        let req = delivery(ctx, &doc).await?;
        let reply = ctx.send(req).await?;
        ctx.check(
            "VAL-001",
            refused_for_good(&reply),
            format!("400 or 422 for the specimen {}", specimen.name),
            format!("{} {}", reply.status.as_u16(), describe_code(&reply)),
            Some(&reply),
        );
        if reply.status.as_u16() >= 400 {
            expect_problem_details(ctx, &reply);
        }
    }
    Ok(())
}

pub async fn not_the_layout(ctx: &mut Ctx) -> Result<(), Abort> {
    let valid = application(ctx, valid_document(ctx)?)?;
    let mut other_format = valid.clone();
    other_format["applicationId"] = json!(Uuid::now_v7());
    other_format["format"] = json!("madoguchi.application/9");
    let mut without_id = valid.clone();
    if let Some(members) = without_id.as_object_mut() {
        members.remove("applicationId");
    }
    let mut cases: Vec<(&str, Req)> = Vec::new();
    for (what, doc) in [
        ("another format", &other_format),
        ("no applicationId", &without_id),
    ] {
        let mut req = delivery(ctx, doc).await?;
        if doc.get("applicationId").is_none() {
            req = req.header("Idempotency-Key", Uuid::now_v7().to_string());
        }
        cases.push((what, req));
    }
    let mut not_json = delivery(ctx, &valid).await?;
    not_json.payload = crate::conformance::exchange::Payload::Raw {
        content_type: "application/json".to_owned(),
        bytes: b"{\"format\": \"madoguchi.application/1\", ".to_vec(),
    };
    cases.push(("a body that is not JSON", not_json));
    for (what, req) in cases {
        let reply = ctx.send(req).await?;
        ctx.check(
            "VAL-002",
            refused_for_good(&reply),
            format!("400 or 422 for {what}"),
            format!("{} {}", reply.status.as_u16(), describe_code(&reply)),
            Some(&reply),
        );
        if reply.status.as_u16() >= 400 {
            expect_problem_details(ctx, &reply);
        }
    }
    Ok(())
}
