//! The contract as this kit was built with it (`openapi/openapi.json`, built into the binary):
//! the codes it lists, and whether an answer has the shape it gives for its operation and
//! status.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Value, json};

static CONTRACT: &str = include_str!("../../openapi/openapi.json");

pub struct Contract {
    doc: Value,
    validators: HashMap<String, jsonschema::Validator>,
}

/// What the contract says of one answer.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The contract has no operation for this method and path (nothing to hold it to).
    NoOperation,
    Conforms,
    /// What differs, one sentence per difference.
    Differs(Vec<String>),
}

impl Contract {
    pub fn built_in() -> Result<Self, String> {
        let doc = serde_json::from_str(CONTRACT)
            .map_err(|e| format!("the built-in contract is not JSON: {e}"))?;
        Ok(Self {
            doc,
            validators: HashMap::new(),
        })
    }

    /// The built-in contract parsed once, for readers that compile no validator (the codes
    /// it lists, the operations that take an Idempotency-Key).
    pub fn shared() -> Result<&'static Contract, String> {
        static SHARED: std::sync::OnceLock<Result<Contract, String>> = std::sync::OnceLock::new();
        SHARED
            .get_or_init(Self::built_in)
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The `enum` of `components.schemas.{name}`.
    pub fn enum_of(&self, name: &str) -> BTreeSet<String> {
        self.doc["components"]["schemas"][name]["enum"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    }

    /// The path template of the contract that `path` matches, preferring the one with the
    /// most literal segments (`/v1/forms/residentMove/1.0/validate` over
    /// `/v1/forms/{formId}/{version}/validate`).
    pub fn template_of(&self, method: &str, path: &str) -> Option<String> {
        let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        let method = method.to_ascii_lowercase();
        self.doc["paths"]
            .as_object()?
            .iter()
            .filter(|(_, item)| item.get(&method).is_some())
            .filter_map(|(template, _)| {
                let parts: Vec<&str> = template.split('/').collect();
                if parts.len() != segments.len() {
                    return None;
                }
                let mut literal = 0;
                for (p, s) in parts.iter().zip(&segments) {
                    if p.starts_with('{') && p.ends_with('}') {
                        if s.is_empty() {
                            return None;
                        }
                    } else if p == s {
                        literal += 1;
                    } else {
                        return None;
                    }
                }
                Some((literal, template.clone()))
            })
            .max_by_key(|(literal, _)| *literal)
            .map(|(_, t)| t)
    }

    /// Whether the operation `method` `template` takes an `Idempotency-Key` header (the
    /// contract marks every creating POST so).
    pub fn takes_idempotency_key(&self, method: &str, template: &str) -> bool {
        let resolve = |p: &Value| -> Value {
            match p["$ref"].as_str() {
                Some(r) => self
                    .doc
                    .pointer(r.trim_start_matches('#'))
                    .cloned()
                    .unwrap_or(Value::Null),
                None => p.clone(),
            }
        };
        self.doc["paths"][template][method.to_ascii_lowercase()]["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .map(resolve)
            .any(|p| {
                p["in"] == "header"
                    && p["name"]
                        .as_str()
                        .is_some_and(|n| n.eq_ignore_ascii_case("idempotency-key"))
            })
    }

    /// Whether an answer is what the contract gives for its operation and status.
    pub fn check(
        &mut self,
        method: &str,
        path: &str,
        status: u16,
        media_type: &str,
        body: &[u8],
    ) -> Verdict {
        let Some(template) = self.template_of(method, path) else {
            return Verdict::NoOperation;
        };
        let method = method.to_ascii_lowercase();
        let responses = &self.doc["paths"][&template][&method]["responses"];
        let response = responses
            .get(status.to_string())
            .or_else(|| responses.get(format!("{}XX", status / 100)))
            .or_else(|| responses.get("default"));
        let Some(response) = response else {
            return Verdict::Differs(vec![format!(
                "{} {template}: the status {status} is not in the contract",
                method.to_uppercase()
            )]);
        };
        let content = &response["content"];
        let Some(media) = content.as_object() else {
            return Verdict::Conforms;
        };
        if media.is_empty() {
            return Verdict::Conforms;
        }
        let Some(schema) = content.get(media_type).map(|m| &m["schema"]) else {
            return Verdict::Differs(vec![format!(
                "{} {template} {status}: Content-Type {media_type:?}, the contract gives {}",
                method.to_uppercase(),
                media.keys().cloned().collect::<Vec<_>>().join(", ")
            )]);
        };
        if !media_type.ends_with("json") {
            return Verdict::Conforms;
        }
        let Ok(value) = serde_json::from_slice::<Value>(body) else {
            return Verdict::Differs(vec![format!(
                "{} {template} {status}: the body is not JSON",
                method.to_uppercase()
            )]);
        };
        let key = format!("{method} {template} {status} {media_type}");
        if !self.validators.contains_key(&key) {
            let mut root = match schema {
                Value::Object(map) => map.clone(),
                _ => serde_json::Map::new(),
            };
            root.insert("components".to_owned(), self.doc["components"].clone());
            match jsonschema::validator_for(&json!(root)) {
                Ok(v) => {
                    self.validators.insert(key.clone(), v);
                }
                Err(e) => {
                    return Verdict::Differs(vec![format!(
                        "the contract's schema for {key} does not compile: {e}"
                    )]);
                }
            }
        }
        let Some(validator) = self.validators.get(&key) else {
            return Verdict::Conforms;
        };
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .take(5)
            .map(|e| {
                format!(
                    "{} {template} {status}: at {:?}: {e}",
                    method.to_uppercase(),
                    e.instance_path().to_string()
                )
            })
            .collect();
        if errors.is_empty() {
            Verdict::Conforms
        } else {
            Verdict::Differs(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_typed_form_route_wins_over_the_generic_one() {
        let contract = Contract::built_in().unwrap();
        assert_eq!(
            contract
                .template_of("POST", "/v1/forms/residentMove/1.0/validate")
                .as_deref(),
            Some("/v1/forms/residentMove/1.0/validate")
        );
        assert_eq!(
            contract
                .template_of("GET", "/v1/municipalities/012084/visits/abc")
                .as_deref(),
            Some("/v1/municipalities/{lgCode}/visits/{visitId}")
        );
        assert_eq!(contract.template_of("GET", "/v1/nothing"), None);
    }

    #[test]
    fn a_problem_without_its_members_differs_and_a_whole_one_conforms() {
        let mut contract = Contract::built_in().unwrap();
        let path = "/v1/municipalities/012084";
        let whole = br#"{"type":"/problems/not-found","title":"t","status":404,"detail":"d","code":"not_found","instance":"/x"}"#;
        assert_eq!(
            contract.check("GET", path, 404, "application/problem+json", whole),
            Verdict::Conforms
        );
        let Verdict::Differs(why) = contract.check(
            "GET",
            path,
            404,
            "application/problem+json",
            br#"{"title":"t"}"#,
        ) else {
            panic!("a bare title passed");
        };
        assert!(why[0].contains("404"), "{why:?}");
        assert!(matches!(
            contract.check("GET", path, 404, "text/plain", b"not found"),
            Verdict::Differs(_)
        ));
    }
}
