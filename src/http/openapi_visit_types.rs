//! The visit typed end to end in the contract, so that a vendor's generated client reads and
//! writes it without a cast:
//! - a draft's `document` is its form's draft shape ([`crate::forms::shape`]), published as
//!   `formDraft.<id>.<version>` (and `formDraft.common.<name>` for the common schemas whose
//!   shape differs); `Draft` is a union discriminated by `form`;
//! - an answer is a union discriminated by `fact`, one variant per fact that can be answered,
//!   its `value` typed from the facts dictionary;
//! - a recorded fact's `value` is one of the kinds of value facts have.
//!
//! The unions are plain `oneOf`s whose variants carry their `form` or `fact` as a `const`,
//! without an OpenAPI `discriminator`: given one, openapi-generator's Rust client tags its enum
//! with the property and also keeps it in each variant, so it writes `fact` twice and cannot
//! read a draft back; every generator tried (openapi-typescript, openapi-python-client,
//! openapi-generator's rust) tells the variants apart by the `const` alone.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::catalog::Catalog;
use crate::catalog::facts::FactKind;
use crate::forms::FormRegistry;
use crate::forms::shape::draft_shape;

use super::openapi::each_schema_mut;

const PREFIX: &str = "#/components/schemas/";

/// Adds the types to `doc`'s components. `forms_and_common` names the components made from
/// the schema files (`form.*`, `common.*`).
pub(super) fn add(
    doc: &mut Value,
    forms_and_common: &BTreeSet<String>,
    forms: &FormRegistry,
    catalog: &Catalog,
) {
    let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let shapes = draft_shapes(schemas, forms_and_common);
    schemas.extend(shapes);
    typed_drafts(schemas, forms);
    typed_answers(schemas, catalog);
    fact_values(schemas);
}

/// The component a draft of `component` (`form.x.1.0`, `common.address`) has.
fn shape_name(component: &str) -> String {
    match component.strip_prefix("form.") {
        Some(form) => format!("formDraft.{form}"),
        None => format!("formDraft.{component}"),
    }
}

/// The components a schema refers to (by name, without a pointer into them).
fn references(schema: &mut Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    each_schema_mut(schema, &mut |map| {
        if let Some(target) = map
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix(PREFIX))
        {
            out.insert(target.split('/').next().unwrap_or(target).to_owned());
        }
    });
    out
}

/// Points the references to components in `to_shape` at their shapes.
fn retarget(schema: &mut Value, to_shape: &BTreeSet<String>) {
    each_schema_mut(schema, &mut |map| {
        if let Some(Value::String(reference)) = map.get_mut("$ref")
            && let Some(target) = reference.strip_prefix(PREFIX)
        {
            let (name, rest) = target.split_once('/').unwrap_or((target, ""));
            if to_shape.contains(name) {
                let rest = if rest.is_empty() {
                    String::new()
                } else {
                    format!("/{rest}")
                };
                *reference = format!("{PREFIX}{}{rest}", shape_name(name));
            }
        }
    });
}

/// The draft shape of every form, and of each common schema whose shape is not the schema
/// itself (a list of codes is its own shape, and drafts refer to it as it is).
fn draft_shapes(schemas: &Map<String, Value>, names: &BTreeSet<String>) -> Map<String, Value> {
    let mut shaped: BTreeMap<&String, Value> = names
        .iter()
        .filter_map(|n| schemas.get(n).map(|s| (n, draft_shape(s))))
        .collect();
    let refs: BTreeMap<&String, BTreeSet<String>> = shaped
        .iter_mut()
        .map(|(n, shape)| (*n, references(shape)))
        .collect();
    let mut differ: BTreeSet<String> = shaped
        .iter()
        .filter(|(n, shape)| n.starts_with("form.") || schemas.get(**n) != Some(*shape))
        .map(|(n, _)| (*n).clone())
        .collect();
    // A shape that refers to a schema whose shape differs differs too.
    loop {
        let more: Vec<String> = refs
            .iter()
            .filter(|(n, to)| !differ.contains(**n) && to.iter().any(|r| differ.contains(r)))
            .map(|(n, _)| (*n).clone())
            .collect();
        if more.is_empty() {
            break;
        }
        differ.extend(more);
    }
    let mut out = Map::new();
    for (name, mut shape) in shaped {
        if !differ.contains(name) {
            continue;
        }
        retarget(&mut shape, &differ);
        if let Some(map) = shape.as_object_mut() {
            let what = map
                .get("x-label")
                .and_then(Value::as_str)
                .unwrap_or(name.as_str())
                .to_owned();
            map.insert(
                "description".into(),
                Value::String(format!(
                    "A draft of {what} (`{name}`) as the gateway keeps it while the clerk completes it: the same fields and kinds of value, any of them still missing or breaking a rule of the form (the draft's `errors` say which)."
                )),
            );
        }
        out.insert(shape_name(name), shape);
    }
    out
}

/// `Draft` becomes one variant per form, told apart by `form` (`residentMove@1.0`), whose
/// `document` is the form's draft shape.
fn typed_drafts(schemas: &mut Map<String, Value>, forms: &FormRegistry) {
    let Some(base) = schemas.get("Draft").cloned() else {
        return;
    };
    let mut variants = Vec::new();
    for form in forms.forms() {
        let key = format!("{}@{}", form.id, form.version);
        let name = format!("Draft.{}.{}", form.id, form.version);
        let mut variant = base.clone();
        variant["description"] = Value::String(format!(
            "A draft of {} ({key}), prefilled for one procedure, normalized and validated.",
            form.title
        ));
        variant["properties"]["form"] = json!({
            "type": "string",
            "const": key,
            "description": "`formId@version`: which form the document is a draft of.",
        });
        variant["properties"]["document"] = json!({
            "$ref": format!("{PREFIX}formDraft.{}.{}", form.id, form.version),
            "description": "The document, normalized: the form's fields, some perhaps still missing or wrong (see `errors`).",
        });
        variants.push(json!({ "$ref": format!("{PREFIX}{name}") }));
        schemas.insert(name, variant);
    }
    schemas.insert(
        "Draft".into(),
        json!({
            "description": "A form prefilled for one procedure, normalized and validated: one variant per form, told apart by `form`.",
            "oneOf": variants,
        }),
    );
}

/// `Answer` becomes one variant per fact that can be answered (not the derived ones), told
/// apart by `fact`: a member's fact names the member, an event's fact may name the event.
fn typed_answers(schemas: &mut Map<String, Value>, catalog: &Catalog) {
    let Some(base) = schemas.get("Answer").cloned() else {
        return;
    };
    let mut variants = Vec::new();
    for (holder, facts) in catalog.facts.holders() {
        for (name, def) in facts {
            if def.kind == FactKind::Derived {
                continue;
            }
            let fact = format!("{holder}.{name}");
            let component = format!("Answer.{fact}");
            let mut properties = Map::new();
            properties.insert(
                "fact".into(),
                json!({ "type": "string", "const": fact, "description": format!("{} / {}", def.label.ja, def.label.en) }),
            );
            let mut required = vec!["fact", "value"];
            match holder {
                "member" => {
                    properties.insert("member".into(), base["properties"]["member"].clone());
                    properties["member"]["type"] = json!("string");
                    required.push("member");
                }
                "event" => {
                    properties.insert("event".into(), base["properties"]["event"].clone());
                }
                _ => {}
            }
            properties.insert("value".into(), def.input_schema());
            variants.push(json!({ "$ref": format!("{PREFIX}{component}") }));
            schemas.insert(
                component,
                json!({
                    "type": "object",
                    "description": format!("An answer about {} ({fact}).", def.label.en),
                    "required": required,
                    "properties": properties,
                    "additionalProperties": false,
                }),
            );
        }
    }
    schemas.insert(
        "Answer".into(),
        json!({
            "description": base.get("description").cloned().unwrap_or(Value::Null),
            "oneOf": variants,
        }),
    );
}

/// A recorded fact's value, and a deciding fact's: one of the kinds of value facts have.
fn fact_values(schemas: &mut Map<String, Value>) {
    schemas.insert(
        "FactValue".into(),
        json!({
            "description": "A fact's value: true/false, a number, text (a code of the fact's list, or a date as YYYY-MM-DD) or a list of codes.",
            // `oneOf` (the kinds exclude each other): openapi-generator's Rust client makes an
            // untagged enum of it, but an empty struct of an `anyOf` or a `type` list, and then
            // cannot read a fact.
            "oneOf": [
                { "type": "boolean" },
                { "type": "integer" },
                { "type": "string" },
                { "type": "array", "items": { "type": "string" } },
                { "type": "null" }
            ]
        }),
    );
    for schema in ["Fact", "DecidingFact"] {
        if let Some(value) = schemas
            .get_mut(schema)
            .and_then(|s| s.pointer_mut("/properties/value"))
        {
            *value = json!({ "$ref": format!("{PREFIX}FactValue") });
        }
    }
}
