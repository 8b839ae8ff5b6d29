//! Municipal parameters: the values each municipality sets by its own ordinance or rules (the
//! age limit of 子ども医療費助成, the minimum age of 印鑑登録, a local deadline), declared in
//! `catalog/parameters.json` with their bounds and changed by a municipality's overrides.
//!
//! A procedure file names a parameter where its value belongs: `{"param": "name"}` stands for
//! the value anywhere in the file (a rule's operand, `deadline.days`), and `{param:name}`
//! inside a text is replaced by it. The file is read with the values in force, so the checks
//! that run on every procedure run on the value a municipality chose.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Bilingual;

/// One parameter as `catalog/parameters.json` declares it (whole numbers only: ages, days).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ParameterDef {
    pub label: Bilingual,
    /// What it means, who sets it and by what rule.
    pub description: Bilingual,
    /// The unit a person reads after the value (歳, 日).
    pub unit: Bilingual,
    pub default: i64,
    pub minimum: i64,
    pub maximum: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParametersFile {
    #[serde(rename = "$comment", default)]
    _comment: Option<String>,
    parameters: BTreeMap<String, ParameterDef>,
}

/// The parameters and the values in force.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parameters {
    defs: BTreeMap<String, ParameterDef>,
    values: BTreeMap<String, i64>,
}

impl Parameters {
    /// The declared parameters at their defaults; an error names a bad declaration.
    pub fn from_file(file: ParametersFile) -> Result<Self, String> {
        for (name, def) in &file.parameters {
            if !is_name(name) {
                return Err(format!(
                    "/parameters/{name}: a name is area.camelCase (childMedicalSubsidy.lastSchoolYearAge)"
                ));
            }
            if !(def.minimum <= def.default && def.default <= def.maximum) {
                return Err(format!(
                    "/parameters/{name}: the default {} is not within {} to {}",
                    def.default, def.minimum, def.maximum
                ));
            }
        }
        let values = file
            .parameters
            .iter()
            .map(|(n, d)| (n.clone(), d.default))
            .collect();
        Ok(Self {
            defs: file.parameters,
            values,
        })
    }

    /// Each parameter with its declaration and the value in force.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ParameterDef, i64)> {
        self.defs.iter().map(|(n, d)| {
            (
                n.as_str(),
                d,
                self.values.get(n).copied().unwrap_or(d.default),
            )
        })
    }

    pub fn value(&self, name: &str) -> Option<i64> {
        self.values.get(name).copied()
    }

    /// These parameters with a municipality's values; every problem as (JSON pointer under
    /// the overrides, message).
    pub fn with_values(
        &self,
        changes: &BTreeMap<String, Value>,
    ) -> Result<Parameters, Vec<(String, String)>> {
        let mut out = self.clone();
        let mut errors = Vec::new();
        for (name, value) in changes {
            let at = format!("/parameters/{}", name.replace('~', "~0").replace('/', "~1"));
            let Some(def) = self.defs.get(name) else {
                errors.push((
                    at,
                    format!(
                        "there is no parameter {name} (there are: {})",
                        self.defs.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                ));
                continue;
            };
            match value.as_i64() {
                Some(v) if (def.minimum..=def.maximum).contains(&v) => {
                    out.values.insert(name.clone(), v);
                }
                _ => errors.push((
                    at,
                    format!(
                        "{} is a whole number from {} to {} ({})",
                        def.label.en, def.minimum, def.maximum, def.unit.en
                    ),
                )),
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    /// The parameters a procedure file names.
    pub fn named_in(value: &Value) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        collect(value, &mut out);
        out
    }

    /// The procedure file with every parameter replaced by its value; an error names the first
    /// unknown parameter and where it is.
    pub fn substitute(&self, value: &Value) -> Result<Value, String> {
        self.replace(value, "")
    }

    fn replace(&self, value: &Value, at: &str) -> Result<Value, String> {
        Ok(match value {
            Value::Object(map) => {
                if let Some(name) = param_ref(value) {
                    let v = self.value(name).ok_or_else(|| {
                        format!("{at}: there is no parameter {name} in catalog/parameters.json")
                    })?;
                    return Ok(Value::from(v));
                }
                let mut out = serde_json::Map::with_capacity(map.len());
                for (k, v) in map {
                    let here = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                    out.insert(k.clone(), self.replace(v, &here)?);
                }
                Value::Object(out)
            }
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| self.replace(v, &format!("{at}/{i}")))
                    .collect::<Result<_, _>>()?,
            ),
            Value::String(s) if s.contains("{param:") => Value::String(self.fill_text(s, at)?),
            other => other.clone(),
        })
    }

    fn fill_text(&self, text: &str, at: &str) -> Result<String, String> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("{param:") {
            out.push_str(&rest[..start]);
            let after = &rest[start + "{param:".len()..];
            let end = after
                .find('}')
                .ok_or_else(|| format!("{at}: an unclosed {{param: in \"{text}\""))?;
            let name = &after[..end];
            let v = self.value(name).ok_or_else(|| {
                format!("{at}: there is no parameter {name} in catalog/parameters.json")
            })?;
            out.push_str(&v.to_string());
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

fn is_name(name: &str) -> bool {
    let mut parts = name.split('.');
    let ok = |p: Option<&str>| {
        p.is_some_and(|p| {
            p.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                && p.chars().all(|c| c.is_ascii_alphanumeric())
        })
    };
    ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
}

/// `{"param": "name"}`: an object with that one key.
fn param_ref(value: &Value) -> Option<&str> {
    let map = value.as_object()?;
    match (map.len(), map.get("param")) {
        (1, Some(Value::String(name))) => Some(name),
        _ => None,
    }
}

fn collect(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => match param_ref(value) {
            Some(name) => {
                out.insert(name.to_owned());
            }
            None => map.values().for_each(|v| collect(v, out)),
        },
        Value::Array(items) => items.iter().for_each(|v| collect(v, out)),
        Value::String(s) => {
            let mut rest = s.as_str();
            while let Some(start) = rest.find("{param:") {
                let after = &rest[start + "{param:".len()..];
                let Some(end) = after.find('}') else { break };
                out.insert(after[..end].to_owned());
                rest = &after[end + 1..];
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn params() -> Parameters {
        let file: ParametersFile = serde_json::from_value(json!({"parameters": {
            "seal.minimumAge": {
                "label": {"ja": "印鑑登録できる年齢", "en": "minimum age"},
                "description": {"ja": "印鑑条例", "en": "seal ordinance"},
                "unit": {"ja": "歳", "en": "years"},
                "default": 15, "minimum": 15, "maximum": 20
            }
        }}))
        .unwrap();
        Parameters::from_file(file).unwrap()
    }

    #[test]
    fn a_file_is_read_with_the_values_in_force() {
        let p = params();
        let file = json!({
            "rule": {">=": [{"var": "member.age"}, {"param": "seal.minimumAge"}]},
            "text": "{param:seal.minimumAge}歳未満"
        });
        assert_eq!(
            Parameters::named_in(&file),
            BTreeSet::from(["seal.minimumAge".to_owned()])
        );
        assert_eq!(
            p.substitute(&file).unwrap(),
            json!({"rule": {">=": [{"var": "member.age"}, 15]}, "text": "15歳未満"})
        );
        let local = p
            .with_values(&BTreeMap::from([("seal.minimumAge".to_owned(), json!(18))]))
            .unwrap();
        assert_eq!(local.substitute(&file).unwrap()["text"], "18歳未満");
        let e = p
            .substitute(&json!({"deadline": {"days": {"param": "nope.days"}}}))
            .unwrap_err();
        assert_eq!(
            e,
            "/deadline/days: there is no parameter nope.days in catalog/parameters.json"
        );
    }

    #[test]
    fn a_value_out_of_bounds_or_an_unknown_name_is_refused_by_pointer() {
        let p = params();
        let errors = p
            .with_values(&BTreeMap::from([
                ("seal.minimumAge".to_owned(), json!(12)),
                ("seal.other".to_owned(), json!(1)),
            ]))
            .unwrap_err();
        let pointers: Vec<&str> = errors.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            pointers,
            ["/parameters/seal.minimumAge", "/parameters/seal.other"]
        );
        assert!(errors[0].1.contains("from 15 to 20"), "{errors:?}");
        assert!(
            p.with_values(&BTreeMap::from([(
                "seal.minimumAge".to_owned(),
                json!("16")
            )]))
            .is_err()
        );
    }
}
