//! A municipality's changes to the catalogue: turn a procedure off, change its documents, fee
//! or department, add a local procedure with its own rule. Stored in the database as numbered
//! versions; a visit keeps the version it was opened with.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::{Bilingual, Catalog, Fee};
use crate::forms::FormRegistry;

/// `Some(None)` for an explicit `null` (no fee), `None` when absent (unchanged).
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// What a municipality changes in one built-in procedure; absent fields stay.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProcedureChange {
    /// `false` turns the procedure off: determinations rule it out, saying so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub documents: Option<Vec<Bilingual>>,
    /// `null` for no fee.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub fee: Option<Option<Fee>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
}

/// A municipality's whole set of changes (each version replaces the previous one).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Overrides {
    /// Changes by built-in procedure id.
    #[serde(default)]
    pub procedures: BTreeMap<String, ProcedureChange>,
    /// The municipality's own procedures, written as the files of `catalog/procedures/`;
    /// their ids start with `local.`.
    #[serde(default)]
    pub local: Vec<Value>,
    /// Days the municipality's offices are closed besides weekends, national holidays and
    /// the year end (a local holiday, a system change-over): deadlines ending on them move to
    /// the next open day.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub closed_days: Vec<chrono::NaiveDate>,
    /// `MM-DD` days closed every year, replacing the catalogue's year end (12-29 … 01-03)
    /// when the municipality's ordinance says otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_every_year: Option<Vec<String>>,
    /// Values of municipal parameters (`catalog/parameters.json`) by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, Value>,
}

/// One problem of an override document: where (a JSON pointer) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverrideError {
    pub pointer: String,
    pub message: String,
}

fn error(pointer: String, message: impl Into<String>) -> OverrideError {
    OverrideError {
        pointer,
        message: message.into(),
    }
}

fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

impl Catalog {
    /// The catalogue with a municipality's overrides applied, or every problem found.
    pub fn with_overrides(
        &self,
        overrides: &Overrides,
        forms: &FormRegistry,
    ) -> Result<Catalog, Vec<OverrideError>> {
        let mut errors = Vec::new();
        let mut out = self.clone();
        if !overrides.parameters.is_empty() {
            match self.parameters.with_values(&overrides.parameters) {
                Ok(params) => out.parameters = params,
                Err(problems) => {
                    errors.extend(problems.into_iter().map(|(p, m)| error(p, m)));
                }
            }
            // Procedures naming a parameter are read again with the municipality's values.
            let changed: BTreeSet<&String> = overrides.parameters.keys().collect();
            for slot in out.procedures.iter_mut() {
                if !slot.parameters.iter().any(|p| changed.contains(p)) {
                    continue;
                }
                match super::read_procedure(
                    &self.validator,
                    (*slot.source).clone(),
                    &slot.path,
                    &self.facts,
                    &self.vocabulary,
                    forms,
                    &out.parameters,
                ) {
                    Ok(p) => *slot = Arc::new(p),
                    Err(message) => errors.push(error(
                        "/parameters".to_owned(),
                        format!("{} cannot be read with these values: {message}", slot.id),
                    )),
                }
            }
        }
        for (id, change) in &overrides.procedures {
            let at = format!("/procedures/{}", escape(id));
            let Some(slot) = out.procedures.iter_mut().find(|p| &p.id == id) else {
                errors.push(error(at, format!("there is no built-in procedure {id}")));
                continue;
            };
            let mut p = (**slot).clone();
            if let Some(enabled) = change.enabled {
                p.enabled = enabled;
            }
            if let Some(documents) = &change.documents {
                if documents
                    .iter()
                    .any(|d| d.ja.trim().is_empty() || d.en.trim().is_empty())
                {
                    errors.push(error(
                        format!("{at}/documents"),
                        "each document needs a Japanese and an English text",
                    ));
                }
                p.documents = documents.clone();
            }
            if let Some(fee) = &change.fee {
                if fee.as_ref().is_some_and(|f| f.yen == 0) {
                    errors.push(error(
                        format!("{at}/fee/yen"),
                        "a fee is at least 1 yen; null means no fee",
                    ));
                }
                p.fee = fee.clone();
            }
            if let Some(department) = &change.department {
                let n = department.chars().count();
                if n == 0
                    || n > 32
                    || department
                        .chars()
                        .any(crate::validation::is_hidden_or_control)
                {
                    errors.push(error(
                        format!("{at}/department"),
                        "a department is 1 to 32 characters without control characters",
                    ));
                }
                p.department = department.clone();
            }
            *slot = Arc::new(p);
        }
        for (i, value) in overrides.local.iter().enumerate() {
            let at = format!("/local/{i}");
            let id = value.get("id").and_then(Value::as_str).unwrap_or_default();
            if !id.starts_with("local.") {
                errors.push(error(
                    format!("{at}/id"),
                    "a local procedure's id starts with \"local.\" (e.g. local.garbageBags)",
                ));
                continue;
            }
            if out.procedures.iter().any(|p| p.id == id) {
                errors.push(error(
                    format!("{at}/id"),
                    format!("the id {id} is used twice"),
                ));
                continue;
            }
            match super::read_procedure(
                &self.validator,
                value.clone(),
                &at,
                &self.facts,
                &self.vocabulary,
                forms,
                &out.parameters,
            ) {
                Ok(mut p) => {
                    p.local = true;
                    match super::check_prefill(&p, &self.prefill, forms) {
                        Ok(()) => out.procedures.push(Arc::new(p)),
                        Err(message) => errors.push(error(at, message)),
                    }
                }
                Err(message) => errors.push(error(at, message)),
            }
        }
        let every_year = overrides.closed_every_year.as_ref().map(|days| {
            days.iter()
                .enumerate()
                .filter_map(|(i, text)| match super::calendar::month_day(text) {
                    Some(day) => Some(day),
                    None => {
                        errors.push(error(
                            format!("/closedEveryYear/{i}"),
                            format!("{text:?} is not a day of the year as MM-DD (12-29)"),
                        ));
                        None
                    }
                })
                .collect::<std::collections::BTreeSet<_>>()
        });
        let days = overrides.closed_days.iter().copied().collect();
        out.calendar = out.calendar.with_closing(every_year.as_ref(), &days);
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }
}
