//! The kit's inputs as files under `schemas/conformance/` (built into the binary): invalid form
//! specimens with the errors they must get, normalization cases, and visit scenarios with the
//! procedures and questions they must bring.

use serde::Deserialize;
use serde_json::Value;

use crate::forms::source::SchemaSource;

#[derive(Debug, Clone, Deserialize)]
pub struct FormSpecimens {
    /// `formId@version`.
    pub form: String,
    pub specimens: Vec<FormSpecimen>,
}

/// An invalid document: the form's first example changed by `patch` (RFC 6902 `add`,
/// `replace`, `remove`), and the `(pointer, code)` pairs its validation must give, no more.
#[derive(Debug, Clone, Deserialize)]
pub struct FormSpecimen {
    pub name: String,
    pub patch: Vec<Value>,
    pub expect: Vec<Expected>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Expected {
    pub pointer: String,
    pub code: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct NormalizationCases {
    pub cases: Vec<NormalizationCase>,
}

/// Values as typed, set at pointers of the form's first example, and what each must become.
#[derive(Debug, Clone, Deserialize)]
pub struct NormalizationCase {
    pub name: String,
    pub form: String,
    pub set: serde_json::Map<String, Value>,
    pub expect: serde_json::Map<String, Value>,
}

/// A visit scenario: the visit to open and, at its first step, what must be found.
#[derive(Debug, Clone, Deserialize)]
pub struct Scenario {
    pub name: String,
    pub visit: Value,
    pub steps: Vec<Value>,
    /// The file it came from (`1-move-in-family-of-four.json`).
    #[serde(skip)]
    pub file: String,
}

pub(crate) fn files_under(prefix: &str) -> Result<Vec<(String, String)>, String> {
    Ok(SchemaSource::Embedded
        .files()
        .map_err(|(file, p)| format!("{file}: {p}"))?
        .into_iter()
        .filter(|f| f.path.starts_with(prefix))
        .map(|f| (f.path, f.text))
        .collect())
}

/// The standard forms built into the kit, loaded once per process for every suite that reads
/// them (examples, specimens, documents, import files, the catalogue).
pub fn forms() -> Result<&'static crate::forms::FormRegistry, String> {
    static FORMS: std::sync::OnceLock<Result<crate::forms::FormRegistry, String>> =
        std::sync::OnceLock::new();
    FORMS
        .get_or_init(|| {
            crate::forms::FormRegistry::load(&SchemaSource::Embedded)
                .map_err(|e| format!("the kit's own forms: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

pub fn form_specimens() -> Result<Vec<FormSpecimens>, String> {
    files_under("conformance/specimens/forms/")?
        .into_iter()
        .map(|(path, text)| serde_json::from_str(&text).map_err(|e| format!("{path}: {e}")))
        .collect()
}

pub fn normalization_cases() -> Result<Vec<NormalizationCase>, String> {
    let path = "conformance/specimens/normalization.json";
    let (_, text) = files_under(path)?
        .into_iter()
        .next()
        .ok_or_else(|| format!("{path} is missing"))?;
    serde_json::from_str::<NormalizationCases>(&text)
        .map(|c| c.cases)
        .map_err(|e| format!("{path}: {e}"))
}

/// The scenarios in file-name order.
pub fn scenarios() -> Result<Vec<Scenario>, String> {
    files_under("conformance/scenarios/visits/")?
        .into_iter()
        .map(|(path, text)| {
            let mut s: Scenario =
                serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
            s.file = path.rsplit('/').next().unwrap_or_default().to_owned();
            Ok(s)
        })
        .collect()
}

/// Applies RFC 6902 `add`, `replace` and `remove` operations (what the specimens use).
pub fn apply_patch(doc: &mut Value, patch: &[Value]) -> Result<(), String> {
    for op in patch {
        let path = op["path"].as_str().ok_or("an operation without path")?;
        let (parent, key) = path
            .rsplit_once('/')
            .ok_or_else(|| format!("{path} is not a JSON pointer"))?;
        let target = doc
            .pointer_mut(parent)
            .ok_or_else(|| format!("nothing at {parent}"))?;
        let name = op["op"].as_str().unwrap_or_default();
        match (name, target) {
            ("remove", Value::Object(map)) => {
                map.remove(key)
                    .ok_or_else(|| format!("nothing at {path}"))?;
            }
            ("remove", Value::Array(items)) => {
                let i: usize = key.parse().map_err(|_| format!("{path}: not an index"))?;
                if i >= items.len() {
                    return Err(format!("nothing at {path}"));
                }
                items.remove(i);
            }
            ("add" | "replace", Value::Object(map)) => {
                map.insert(key.to_owned(), op["value"].clone());
            }
            ("add", Value::Array(items)) if key == "-" => items.push(op["value"].clone()),
            ("add" | "replace", Value::Array(items)) => {
                let i: usize = key.parse().map_err(|_| format!("{path}: not an index"))?;
                let len = items.len();
                match name {
                    "replace" if i < len => items[i] = op["value"].clone(),
                    "add" if i <= len => items.insert(i, op["value"].clone()),
                    _ => return Err(format!("nothing at {path}")),
                }
            }
            (other, _) => return Err(format!("cannot {other} at {path}")),
        }
    }
    Ok(())
}

/// Sets `value` at `pointer`, which must exist up to its parent.
pub fn set_at(doc: &mut Value, pointer: &str, value: Value) -> Result<(), String> {
    apply_patch(
        doc,
        &[serde_json::json!({"op": "add", "path": pointer, "value": value})],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_built_in_specimens_and_scenarios_read() {
        let forms = form_specimens().unwrap();
        assert_eq!(forms.len(), 12);
        assert!(forms.iter().all(|f| f.specimens.len() >= 3));
        assert!(!normalization_cases().unwrap().is_empty());
        let scenarios = scenarios().unwrap();
        assert!(scenarios.len() >= 10);
        assert!(scenarios.iter().all(|s| s.steps[0].get("expect").is_some()));
    }

    #[test]
    fn patches_replace_remove_and_add_and_refuse_what_is_not_there() {
        let mut doc = json!({"a": {"b": 1}, "list": [1, 2, 3]});
        apply_patch(
            &mut doc,
            &[
                json!({"op": "replace", "path": "/a/b", "value": 2}),
                json!({"op": "remove", "path": "/list/0"}),
                json!({"op": "add", "path": "/list/-", "value": 4}),
            ],
        )
        .unwrap();
        assert_eq!(doc, json!({"a": {"b": 2}, "list": [2, 3, 4]}));
        assert!(apply_patch(&mut doc, &[json!({"op": "remove", "path": "/x/y"})]).is_err());
        assert!(
            apply_patch(
                &mut doc,
                &[json!({"op": "replace", "path": "/list/9", "value": 1})]
            )
            .is_err()
        );
    }
}
