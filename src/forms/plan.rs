//! What a form's schema says about each field beyond validation: its Japanese label (`title`),
//! how to normalize it (`x-normalize`) and the messages to give when it is wrong
//! (`x-messages`). Collected once per form into a tree that mirrors the document.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::normalize::Kind;
use crate::validation::unescape_pointer_token;

/// A message a schema gives for one keyword failing on one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomMessage {
    pub code: String,
    pub ja: String,
    pub en: String,
}

/// One place in a form document.
#[derive(Debug, Clone, Default)]
pub struct PlanNode {
    pub title: Option<String>,
    /// The JSON type the schema gives the place (`"boolean"`, `"integer"` …), the first one
    /// met along its `$ref`s and `allOf`; none where the schema gives a list or no type.
    pub ty: Option<String>,
    pub normalize: Option<Kind>,
    pub messages: HashMap<String, CustomMessage>,
    pub properties: HashMap<String, PlanNode>,
    /// Property names in the order the schema lists them (printouts follow it).
    pub order: Vec<String>,
    /// Labels of enumerated codes (`x-enumLabels`): `moveIn` → 転入.
    pub labels: HashMap<String, String>,
    pub items: Option<Box<PlanNode>>,
    /// Properties required whatever else the document holds (`required` of the schema and
    /// of its `allOf` branches, not of `anyOf`/`oneOf`/`then`/`else`).
    pub required: std::collections::HashSet<String>,
}

impl PlanNode {
    /// The node for a JSON pointer into a document (array indices go to `items`).
    pub fn at(&self, pointer: &str) -> Option<&PlanNode> {
        let mut node = self;
        for token in pointer.split('/').skip(1) {
            let token = unescape_pointer_token(token);
            node = match node.properties.get(token.as_ref()) {
                Some(child) => child,
                None if token.bytes().all(|b| b.is_ascii_digit()) => node.items.as_deref()?,
                None => return None,
            };
        }
        Some(node)
    }
}

/// How messages name a field: by the `title` its schema gives (Japanese), and by its property
/// name (the last token of the pointer that is not an array index).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub title: Option<String>,
    pub name: Option<String>,
}

impl Label {
    /// The label of the field at `pointer`, whose plan node (if any) is `node`.
    pub fn of(node: Option<&PlanNode>, pointer: &str) -> Label {
        Label {
            title: node.and_then(|n| n.title.clone()),
            name: pointer
                .rsplit('/')
                .find(|t| !t.is_empty() && !t.bytes().all(|b| b.is_ascii_digit()))
                .map(|t| unescape_pointer_token(t).into_owned()),
        }
    }
}

impl PlanNode {
    pub fn label_at(&self, pointer: &str) -> Label {
        Label::of(self.at(pointer), pointer)
    }
}

/// The keywords of JSON Schema 2020-12. Anything else in a schema object must start with
/// `x-`: a misspelt keyword would otherwise be ignored silently.
const KEYWORDS: &[&str] = &[
    "$schema",
    "$id",
    "$ref",
    "$defs",
    "$anchor",
    "$dynamicRef",
    "$dynamicAnchor",
    "$vocabulary",
    "$comment",
    "type",
    "enum",
    "const",
    "properties",
    "required",
    "additionalProperties",
    "patternProperties",
    "propertyNames",
    "unevaluatedProperties",
    "minProperties",
    "maxProperties",
    "dependentRequired",
    "dependentSchemas",
    "items",
    "prefixItems",
    "contains",
    "minContains",
    "maxContains",
    "minItems",
    "maxItems",
    "uniqueItems",
    "unevaluatedItems",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "if",
    "then",
    "else",
    "minLength",
    "maxLength",
    "pattern",
    "format",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "title",
    "description",
    "default",
    "examples",
    "deprecated",
    "readOnly",
    "writeOnly",
    "contentEncoding",
    "contentMediaType",
    "contentSchema",
];

/// Resolves `$ref`s among the loaded schema documents (keyed by `$id`).
pub struct Planner<'a> {
    pub documents: &'a HashMap<String, Value>,
}

/// `base` + `reference` → (document URI, fragment).
pub fn resolve_reference(base: &str, reference: &str) -> (String, String) {
    let (path, fragment) = match reference.split_once('#') {
        Some((p, f)) => (p, f.to_owned()),
        None => (reference, String::new()),
    };
    if path.is_empty() {
        return (base.to_owned(), fragment);
    }
    if path.contains("://") || path.starts_with("urn:") {
        return (path.to_owned(), fragment);
    }
    let mut segments: Vec<&str> = base.split('/').collect();
    segments.pop();
    for part in path.split('/') {
        match part {
            "." | "" => {}
            ".." => {
                segments.pop();
            }
            p => segments.push(p),
        }
    }
    (segments.join("/"), fragment)
}

fn pointer_get<'v>(value: &'v Value, fragment: &str) -> Option<&'v Value> {
    if fragment.is_empty() {
        Some(value)
    } else {
        value.pointer(fragment)
    }
}

impl Planner<'_> {
    pub fn plan(&self, uri: &str, schema: &Value) -> Result<PlanNode, String> {
        let mut root = PlanNode::default();
        let mut stack = Vec::new();
        self.walk(uri, schema, &mut root, "", &mut stack, false)?;
        Ok(root)
    }

    fn walk(
        &self,
        base: &str,
        schema: &Value,
        node: &mut PlanNode,
        at: &str,
        stack: &mut Vec<String>,
        conditional: bool,
    ) -> Result<(), String> {
        let Value::Object(map) = schema else {
            return Ok(());
        };
        if stack.len() > 64 {
            return Err(format!("$ref chain deeper than 64 at {at}"));
        }
        for key in map.keys() {
            if !key.starts_with("x-") && !KEYWORDS.contains(&key.as_str()) {
                return Err(format!(
                    "unknown keyword \"{key}\" at {}; custom annotations must start with x-",
                    if at.is_empty() { "the root" } else { at }
                ));
            }
        }
        let base = map
            .get("$id")
            .and_then(Value::as_str)
            .map(|id| resolve_reference(base, id).0)
            .unwrap_or_else(|| base.to_owned());
        if node.title.is_none() {
            node.title = map.get("title").and_then(Value::as_str).map(str::to_owned);
        }
        if node.ty.is_none() {
            node.ty = map.get("type").and_then(Value::as_str).map(str::to_owned);
        }
        if let Some(kind) = map.get("x-normalize") {
            let parsed = kind.as_str().and_then(Kind::parse).ok_or_else(|| {
                format!(
                    "x-normalize at {at} is {kind}; use one of {}",
                    Kind::ALL.map(Kind::as_str).join(", ")
                )
            })?;
            node.normalize.get_or_insert(parsed);
        }
        if let Some(labels) = map.get("x-enumLabels") {
            read_labels(labels, map.get("enum"), node, at)?;
        }
        if let Some(messages) = map.get("x-messages") {
            read_messages(messages, node, at)?;
        }
        if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
            let (doc, fragment) = resolve_reference(&base, reference);
            let key = format!("{doc}#{fragment}");
            if !stack.contains(&key) {
                let target = self
                    .documents
                    .get(&doc)
                    .and_then(|d| pointer_get(d, &fragment))
                    .ok_or_else(|| {
                        format!("$ref \"{reference}\" at {at} does not resolve to a loaded schema")
                    })?;
                stack.push(key);
                self.walk(&doc, target, node, at, stack, conditional)?;
                stack.pop();
            }
        }
        if let Some(Value::Object(properties)) = map.get("properties") {
            for (name, sub) in properties {
                if !node.order.contains(name) {
                    node.order.push(name.clone());
                }
                let child = node.properties.entry(name.clone()).or_default();
                self.walk(
                    &base,
                    sub,
                    child,
                    &format!("{at}/properties/{name}"),
                    stack,
                    false,
                )?;
            }
        }
        if let Some(items) = map.get("items") {
            let child = node.items.get_or_insert_with(Default::default);
            self.walk(&base, items, child, &format!("{at}/items"), stack, false)?;
        }
        for combinator in ["allOf", "anyOf", "oneOf"] {
            if let Some(Value::Array(branches)) = map.get(combinator) {
                for (i, branch) in branches.iter().enumerate() {
                    self.walk(
                        &base,
                        branch,
                        node,
                        &format!("{at}/{combinator}/{i}"),
                        stack,
                        conditional || combinator != "allOf",
                    )?;
                }
            }
        }
        for keyword in ["then", "else"] {
            if let Some(branch) = map.get(keyword) {
                self.walk(&base, branch, node, &format!("{at}/{keyword}"), stack, true)?;
            }
        }
        if !conditional && let Some(Value::Array(required)) = map.get("required") {
            node.required
                .extend(required.iter().filter_map(Value::as_str).map(str::to_owned));
        }
        Ok(())
    }
}

fn read_labels(
    labels: &Value,
    values: Option<&Value>,
    node: &mut PlanNode,
    at: &str,
) -> Result<(), String> {
    let Value::Object(labels) = labels else {
        return Err(format!(
            "x-enumLabels at {at} must map each enum value to its label"
        ));
    };
    let Some(Value::Array(values)) = values else {
        return Err(format!("x-enumLabels at {at} needs an enum beside it"));
    };
    for (code, label) in labels {
        if !values.iter().any(|v| v.as_str() == Some(code)) {
            return Err(format!(
                "x-enumLabels at {at} labels \"{code}\", which is not one of the enum values"
            ));
        }
        let Some(label) = label.as_str() else {
            return Err(format!(
                "x-enumLabels at {at}: the label of \"{code}\" must be a string"
            ));
        };
        node.labels.insert(code.clone(), label.to_owned());
    }
    Ok(())
}

fn read_messages(messages: &Value, node: &mut PlanNode, at: &str) -> Result<(), String> {
    let bad = || format!("x-messages at {at} must map keywords to {{code, ja, en}}");
    let Value::Object(messages) = messages else {
        return Err(bad());
    };
    for (keyword, message) in messages {
        let text =
            |m: &Map<String, Value>, k: &str| m.get(k).and_then(Value::as_str).map(str::to_owned);
        let Value::Object(m) = message else {
            return Err(bad());
        };
        let (Some(code), Some(ja), Some(en)) = (text(m, "code"), text(m, "ja"), text(m, "en"))
        else {
            return Err(bad());
        };
        node.messages
            .entry(keyword.clone())
            .or_insert(CustomMessage { code, ja, en });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_resolve_against_the_base() {
        let base = "https://madoguchi.example/schemas/forms/residentMove/1.0.schema.json";
        assert_eq!(
            resolve_reference(base, "../../common/person.schema.json#/$defs/kana"),
            (
                "https://madoguchi.example/schemas/common/person.schema.json".to_owned(),
                "/$defs/kana".to_owned()
            )
        );
        assert_eq!(
            resolve_reference(base, "#/$defs/x"),
            (base.to_owned(), "/$defs/x".to_owned())
        );
    }
}
