//! The facts dictionary (`schemas/catalog/facts.json`): every fact a rule or a reason may
//! name, its type, where it comes from and how to ask for it.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::Bilingual;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FactType {
    Boolean,
    Integer,
    String,
    Date,
    Array,
}

impl FactType {
    pub const ALL: [FactType; 5] = [
        FactType::Boolean,
        FactType::Integer,
        FactType::String,
        FactType::Date,
        FactType::Array,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FactType::Boolean => "boolean",
            FactType::Integer => "integer",
            FactType::String => "string",
            FactType::Date => "date",
            FactType::Array => "array",
        }
    }
}

/// Where a fact comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FactKind {
    /// Typed by the clerk (later also read from the registry or the card).
    Recorded,
    /// Answered to a question.
    Answer,
    /// Computed by the gateway.
    Derived,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FactDef {
    #[serde(rename = "type")]
    pub ty: FactType,
    pub kind: FactKind,
    pub label: Bilingual,
    #[serde(default)]
    pub question: Option<Bilingual>,
    /// Allowed values with their labels.
    #[serde(default)]
    pub r#enum: Option<BTreeMap<String, Bilingual>>,
    /// Allowed values taken from an `enum` in a common schema (`$id#pointer`).
    #[serde(default)]
    pub enum_from: Option<String>,
    #[serde(default)]
    pub derived_from: Vec<String>,
    /// Values of `enum_from`, filled at load.
    #[serde(skip)]
    pub values: Option<Vec<String>>,
    /// For an `enum`: when a value is possible at all (JSON Logic over the same holder's
    /// facts, e.g. 後期高齢者医療 from 65). A question offers only the values whose rule is not
    /// known to be false.
    #[serde(default)]
    pub possible_when: BTreeMap<String, Value>,
    /// `possible_when`, parsed at load.
    #[serde(skip)]
    pub possible: Vec<(String, super::rule::Rule)>,
    /// How a typed value is brought to its standard form before it is recorded, by the rules
    /// the forms use (`"kana"`: hiragana and half-width to full-width katakana).
    #[serde(default)]
    pub normalize: Option<String>,
    /// `normalize`, parsed at load.
    #[serde(skip)]
    pub normalizer: Option<crate::forms::normalize::Kind>,
}

impl FactDef {
    /// Whether `value` is one this fact can take.
    pub fn accepts(&self, value: &Value) -> bool {
        let allowed = |s: &str| {
            self.r#enum.as_ref().is_none_or(|e| e.contains_key(s))
                && self
                    .values
                    .as_ref()
                    .is_none_or(|v| v.iter().any(|x| x == s))
        };
        match (self.ty, value) {
            (FactType::Boolean, Value::Bool(_)) => true,
            (FactType::Integer, Value::Number(n)) => n.is_i64(),
            (FactType::String, Value::String(s)) => allowed(s),
            (FactType::Date, Value::String(s)) => {
                chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
            }
            (FactType::Array, Value::Array(items)) => {
                items.iter().all(|i| i.as_str().is_some_and(&allowed))
            }
            _ => false,
        }
    }

    /// The JSON Schema of what a clerk may send for this fact (an answer, a fact of a new
    /// visit's event or member): exactly what `accepts` and the visit's input take. A date is
    /// ISO or 和暦, read by the era table, so only a string here; a text without a list of
    /// values is 1 to 64 characters.
    pub fn input_schema(&self) -> Value {
        let values: Option<Vec<&str>> = self
            .r#enum
            .as_ref()
            .map(|e| e.keys().map(String::as_str).collect())
            .or_else(|| {
                self.values
                    .as_ref()
                    .map(|v| v.iter().map(String::as_str).collect())
            });
        let text = match &values {
            Some(v) => serde_json::json!({"type": "string", "enum": v}),
            None => serde_json::json!({"type": "string", "minLength": 1, "maxLength": 64}),
        };
        let mut schema = match self.ty {
            FactType::Boolean => serde_json::json!({"type": "boolean"}),
            FactType::Integer => serde_json::json!({"type": "integer"}),
            FactType::Date => serde_json::json!({"type": "string", "minLength": 1}),
            FactType::String => text,
            FactType::Array => serde_json::json!({
                "type": "array",
                "items": match &values {
                    Some(v) => serde_json::json!({"type": "string", "enum": v}),
                    None => serde_json::json!({"type": "string"}),
                },
            }),
        };
        schema["description"] = Value::String(format!("{} / {}", self.label.ja, self.label.en));
        schema
    }

    /// The label of an enum value, or the value itself.
    pub fn value_label(&self, value: &str) -> Option<&Bilingual> {
        self.r#enum.as_ref().and_then(|e| e.get(value))
    }
}

/// Facts by holder (`event`, `member`, `household`, `applicant`) and name.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FactDictionary {
    #[serde(rename = "$comment", default)]
    _comment: Option<String>,
    pub event: BTreeMap<String, FactDef>,
    pub member: BTreeMap<String, FactDef>,
    pub household: BTreeMap<String, FactDef>,
    pub applicant: BTreeMap<String, FactDef>,
}

impl FactDictionary {
    pub fn get(&self, holder: &str, name: &str) -> Option<&FactDef> {
        match holder {
            "event" => self.event.get(name),
            "member" => self.member.get(name),
            "household" => self.household.get(name),
            "applicant" => self.applicant.get(name),
            _ => None,
        }
    }

    /// `holder.name` → its definition.
    pub fn lookup(&self, key: &str) -> Option<&FactDef> {
        let (holder, name) = key.split_once('.')?;
        self.get(holder, name)
    }

    pub(super) fn holders_mut(
        &mut self,
    ) -> impl Iterator<Item = (&'static str, &mut BTreeMap<String, FactDef>)> {
        [
            ("event", &mut self.event),
            ("member", &mut self.member),
            ("household", &mut self.household),
            ("applicant", &mut self.applicant),
        ]
        .into_iter()
    }

    pub fn holders(&self) -> impl Iterator<Item = (&'static str, &BTreeMap<String, FactDef>)> {
        [
            ("event", &self.event),
            ("member", &self.member),
            ("household", &self.household),
            ("applicant", &self.applicant),
        ]
        .into_iter()
    }
}
