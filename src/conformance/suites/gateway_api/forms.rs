//! The standard forms: every example validates, every invalid specimen gets exactly its
//! errors, values as typed are normalized.

use serde_json::Value;

use crate::conformance::exchange::Req;
use crate::conformance::specimens::{self, Expected};
use crate::conformance::suite::{Abort, Ctx};
use crate::forms::FormRegistry;

fn registry() -> Result<&'static FormRegistry, Abort> {
    specimens::forms().map_err(Abort::Setup)
}

/// The first example of `formId@version`.
fn first_example(forms: &FormRegistry, form_ref: &str) -> Result<Value, Abort> {
    let (id, version) = form_ref.split_once('@').unwrap_or((form_ref, ""));
    let form = forms
        .form(id, Some(version))
        .map_err(|_| Abort::Setup(format!("the kit has no form {form_ref}")))?;
    form.examples()
        .first()
        .cloned()
        .ok_or_else(|| Abort::Setup(format!("{form_ref} has no example")))
}

async fn validate(
    ctx: &mut Ctx,
    form_ref: &str,
    doc: Value,
) -> Result<(crate::conformance::exchange::Reply, Value), Abort> {
    let route = form_ref.replace('@', "/");
    let reply = ctx
        .authed(Req::post(format!("/v1/forms/{route}/validate")).json(doc))
        .await?;
    let body = ctx.require_success(&reply, &format!("validate {form_ref}"))?;
    Ok((reply, body))
}

pub async fn examples_valid(ctx: &mut Ctx) -> Result<(), Abort> {
    let forms = registry()?;
    let list: Vec<(String, Vec<Value>)> = forms
        .forms()
        .iter()
        .map(|f| (format!("{}@{}", f.id, f.version), f.examples().to_vec()))
        .collect();
    for (form_ref, examples) in list {
        for (i, example) in examples.into_iter().enumerate() {
            let (reply, body) = validate(ctx, &form_ref, example.clone()).await?;
            let same = body["document"] == example;
            ctx.check(
                "FORM-001",
                body["valid"] == true && same,
                format!("{form_ref} example {i}: valid, document unchanged"),
                format!(
                    "valid {}{}; errors {}",
                    body["valid"],
                    if same { "" } else { ", document changed" },
                    body["errors"]
                ),
                Some(&reply),
            );
        }
    }
    Ok(())
}

pub async fn specimens_invalid(ctx: &mut Ctx) -> Result<(), Abort> {
    let forms = registry()?;
    let all = specimens::form_specimens().map_err(Abort::Setup)?;
    for file in all {
        let example = first_example(forms, &file.form)?;
        for specimen in file.specimens {
            let mut doc = example.clone();
            specimens::apply_patch(&mut doc, &specimen.patch)
                .map_err(|e| Abort::Setup(format!("{} {}: {e}", file.form, specimen.name)))?;
            let (reply, body) = validate(ctx, &file.form, doc).await?;
            let errors = body["errors"].as_array().cloned().unwrap_or_default();
            let mut got: Vec<Expected> = errors
                .iter()
                .map(|e| Expected {
                    pointer: e["pointer"].as_str().unwrap_or_default().to_owned(),
                    code: e["code"].as_str().unwrap_or_default().to_owned(),
                })
                .collect();
            let mut expected = specimen.expect.clone();
            got.sort();
            expected.sort();
            let show = |list: &[Expected]| {
                list.iter()
                    .map(|e| format!("{} {}", e.pointer, e.code))
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            ctx.check(
                "FORM-002",
                body["valid"] == false && got == expected,
                format!(
                    "{} «{}»: valid false; {}",
                    file.form,
                    specimen.name,
                    show(&expected)
                ),
                format!("valid {}; {}", body["valid"], show(&got)),
                Some(&reply),
            );
            let without_message = errors
                .iter()
                .filter(|e| e["message"].as_str().is_none_or(|m| m.trim().is_empty()))
                .count();
            ctx.check(
                "FORM-003",
                !errors.is_empty() && without_message == 0,
                format!(
                    "{} «{}»: a message on every error",
                    file.form, specimen.name
                ),
                format!("{without_message} of {} without a message", errors.len()),
                Some(&reply),
            );
        }
    }
    Ok(())
}

pub async fn normalization(ctx: &mut Ctx) -> Result<(), Abort> {
    let forms = registry()?;
    for case in specimens::normalization_cases().map_err(Abort::Setup)? {
        let mut doc = first_example(forms, &case.form)?;
        for (pointer, value) in &case.set {
            specimens::set_at(&mut doc, pointer, value.clone())
                .map_err(|e| Abort::Setup(format!("{}: {e}", case.name)))?;
        }
        let (reply, body) = validate(ctx, &case.form, doc).await?;
        for (pointer, expected) in &case.expect {
            let got = body["document"]
                .pointer(pointer)
                .cloned()
                .unwrap_or(Value::Null);
            ctx.check(
                "FORM-004",
                &got == expected,
                format!("«{}» {pointer} = {expected}", case.name),
                format!("{pointer} = {got}"),
                Some(&reply),
            );
        }
    }
    Ok(())
}
