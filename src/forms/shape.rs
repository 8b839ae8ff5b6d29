//! The shape of a form: what a draft of it may hold while the clerk is still completing it.
//!
//! A draft (a form prefilled for one procedure) is a document of its form that may lack
//! required fields and may hold a value the form's rules refuse (a kana in hiragana, a day that
//! does not exist): those are the draft's errors, which the clerk corrects. What a draft never
//! holds is a field the form does not have, or a value of the wrong kind (a number where the
//! form has text, a code not in its list). The shape is the form's schema with only those
//! rules: the same fields, types, codes and nesting, without `required`, the conditional rules
//! (`if`/`then`/`else`, `not`, `dependent*`) and the limits on values (`pattern`, `format`,
//! lengths, ranges, counts).
//!
//! The gateway checks an edit against the shape (so a draft keeps it) and the contract
//! publishes each form's shape as the type of a draft's `document`.

use serde_json::{Map, Value};

/// Keywords the shape drops: what a draft may still break while it is being completed.
const DROPPED: &[&str] = &[
    "required",
    "dependentRequired",
    "dependentSchemas",
    "if",
    "then",
    "else",
    "not",
    "pattern",
    "format",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "uniqueItems",
    "contains",
    "minContains",
    "maxContains",
    "minProperties",
    "maxProperties",
    "examples",
    "default",
    // The order a form's dates must come in, checked beside the schema.
    "x-dateOrder",
];

/// Keywords whose value is a map of names to schemas.
const SCHEMA_MAPS: &[&str] = &["properties", "patternProperties", "$defs"];

/// Keywords whose value is one schema.
const SCHEMA_VALUES: &[&str] = &[
    "items",
    "additionalProperties",
    "unevaluatedProperties",
    "unevaluatedItems",
    "propertyNames",
];

/// The shape of `schema` (a JSON Schema 2020-12 document or sub-schema).
///
/// Inside `oneOf`/`anyOf`, a branch keeps its own `required`: it is what tells the branches
/// apart (an address abroad is the one with a `country`), so that a draft still fits exactly
/// one branch of a `oneOf` (which stays a `oneOf`: openapi-generator's Rust client makes an
/// enum of a `oneOf` but an empty struct of an `anyOf`). The branches that say what they
/// require come first, so that a generated client that tries them in order picks the one
/// that fits.
pub fn draft_shape(schema: &Value) -> Value {
    shape(schema, false)
}

fn shape(schema: &Value, keep_required: bool) -> Value {
    let Value::Object(map) = schema else {
        // `true` / `false` schemas stay as they are.
        return schema.clone();
    };
    let mut out = Map::new();
    for (key, value) in map {
        let key = key.as_str();
        if DROPPED.contains(&key) && !(key == "required" && keep_required) {
            continue;
        }
        if SCHEMA_MAPS.contains(&key)
            && let Value::Object(children) = value
        {
            let shaped = children
                .iter()
                .map(|(name, child)| (name.clone(), shape(child, false)))
                .collect();
            out.insert(key.to_owned(), Value::Object(shaped));
            continue;
        }
        if SCHEMA_VALUES.contains(&key) {
            out.insert(key.to_owned(), shape(value, false));
            continue;
        }
        match (key, value) {
            ("prefixItems", Value::Array(items)) => {
                let items = items.iter().map(|i| shape(i, false)).collect();
                out.insert(key.to_owned(), Value::Array(items));
            }
            ("allOf", Value::Array(branches)) => {
                // A branch that held only rules the shape drops (an `if`/`then`, a
                // `required`) says nothing any more.
                let kept: Vec<Value> = branches
                    .iter()
                    .map(|b| shape(b, false))
                    .filter(|b| b.as_object().is_none_or(|m| !m.is_empty()))
                    .collect();
                if !kept.is_empty() {
                    out.insert(key.to_owned(), Value::Array(kept));
                }
            }
            ("oneOf" | "anyOf", Value::Array(branches)) => {
                let mut kept: Vec<Value> = branches.iter().map(|b| shape(b, true)).collect();
                // A branch of only `required` (one of these two numbers) says nothing either.
                let says_nothing = |m: &Map<String, Value>| {
                    m.is_empty() || (m.len() == 1 && m.contains_key("required"))
                };
                kept.retain(|b| b.as_object().is_none_or(|m| !says_nothing(m)));
                kept.sort_by_key(|b| b.get("required").is_none());
                if !kept.is_empty() {
                    out.insert(key.to_owned(), Value::Array(kept));
                }
            }
            _ => {
                out.insert(key.to_owned(), value.clone());
            }
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_draft_may_lack_fields_and_break_limits_but_not_change_kind() {
        let schema = json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["name", "kind"],
            "properties": {
                "name": {"type": "string", "pattern": "^[ァ-ヶー]+$", "maxLength": 20},
                "kind": {"enum": ["a", "b"]},
                "born": {"type": "string", "format": "date"},
                "required": {"type": "boolean"},
                "members": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "required": ["age"],
                    "properties": {"age": {"type": "integer", "minimum": 0}}
                }}
            },
            "allOf": [{"if": {"properties": {"kind": {"const": "a"}}}, "then": {"required": ["born"]}}]
        });
        let shape = draft_shape(&schema);
        let validator = jsonschema::validator_for(&shape).unwrap();
        // What a draft may be: incomplete, a kana still in hiragana, a day that does not exist.
        assert!(validator.is_valid(&json!({})));
        assert!(validator.is_valid(&json!({"name": "やまだ", "kind": "a", "born": "2026-02-30"})));
        assert!(validator.is_valid(&json!({"members": [{}], "required": true})));
        // What it may not: another kind of value, a code not in the list, a field not in the form.
        assert!(!validator.is_valid(&json!({"name": 3})));
        assert!(!validator.is_valid(&json!({"kind": "c"})));
        assert!(!validator.is_valid(&json!({"nickname": "タロ"})));
        assert!(!validator.is_valid(&json!({"members": [{"age": "ten"}]})));
        // A property named like a keyword is a property, not a keyword.
        assert_eq!(shape["properties"]["required"], json!({"type": "boolean"}));
        assert!(shape.get("allOf").is_none());
    }

    #[test]
    fn branches_keep_what_tells_them_apart() {
        let schema = json!({"oneOf": [
            {"$ref": "#/$defs/address"},
            {"type": "object", "additionalProperties": false, "required": ["country"],
             "properties": {"country": {"type": "string", "minLength": 1}, "text": {"type": "string"}}}
        ]});
        let shape = draft_shape(&schema);
        let branches = shape["oneOf"].as_array().unwrap();
        assert_eq!(branches[0]["required"], json!(["country"]));
        assert_eq!(branches[1], json!({"$ref": "#/$defs/address"}));
        // A choice of required fields alone is no shape at all.
        let either = json!({"type": "object", "allOf": [{"anyOf": [{"required": ["a"]}, {"required": ["b"]}]}]});
        assert_eq!(draft_shape(&either), json!({"type": "object"}));
    }
}
