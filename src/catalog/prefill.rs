//! Prefill maps (`schemas/catalog/prefill/<formId>.json`): how a draft of a form is filled
//! from a visit's facts. Checked at start-up against the form's schema.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::FactDictionary;
use crate::forms::plan::PlanNode;

/// One draft per procedure (listing the members it covers) or one per member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Per {
    Procedure,
    Member,
}

/// Whose name, kana, date of birth and sex fill a person object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PersonSource {
    Applicant,
    Householder,
    Member,
}

/// The members an array lists, one item each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Each {
    /// The members the draft covers.
    Members,
    /// Of those, the children up to high-school age (学年齢 17 or less).
    Children,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FieldMap {
    /// `visit.today`, or a fact: `event.date`, `member.relationship`, `household.…`.
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub person: Option<PersonSource>,
    #[serde(default)]
    pub each: Option<Each>,
    /// Inside `each`: fields of each item, by property name.
    #[serde(default)]
    pub fields: BTreeMap<String, FieldMap>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrefillMap {
    #[serde(rename = "$comment", default)]
    _comment: Option<String>,
    /// `formId@version`.
    pub form: String,
    pub per: Per,
    /// By JSON pointer into the form.
    pub fields: BTreeMap<String, FieldMap>,
}

/// The properties a person object may take from the facts, in the order they are filled.
pub const PERSON_FIELDS: [&str; 7] = [
    "familyName",
    "givenName",
    "familyNameKana",
    "givenNameKana",
    "fullName",
    "dateOfBirth",
    "sex",
];

fn check_value(source: &str, facts: &FactDictionary, at: &str) -> Result<(), String> {
    if source == "visit.today" {
        return Ok(());
    }
    if facts.lookup(source).is_some()
        || source
            .strip_prefix("householder.")
            .is_some_and(|n| facts.member.contains_key(n))
    {
        return Ok(());
    }
    Err(format!(
        "{at}: \"{source}\" is neither visit.today nor a fact of catalog/facts.json"
    ))
}

fn check_field(
    field: &FieldMap,
    node: &PlanNode,
    at: &str,
    facts: &FactDictionary,
    member_known: bool,
    in_each: bool,
) -> Result<(), String> {
    match (&field.value, field.person, field.each) {
        (Some(v), None, None) => {
            if (v.starts_with("member.")) && !member_known {
                return Err(format!(
                    "{at}: {v} is only known per member (per: member, or inside each)"
                ));
            }
            check_value(v, facts, at)
        }
        (None, Some(PersonSource::Member), None) if !member_known => Err(format!(
            "{at}: person: member is only known per member (per: member, or inside each)"
        )),
        (None, Some(_), None) => Ok(()),
        (None, _, Some(_)) if !in_each => {
            let item = node
                .items
                .as_deref()
                .ok_or_else(|| format!("{at}: each needs an array in the form"))?;
            for (name, sub) in &field.fields {
                let child = item.properties.get(name).ok_or_else(|| {
                    format!("{at}/fields/{name}: the form's items have no property {name}")
                })?;
                check_field(
                    sub,
                    child,
                    &format!("{at}/fields/{name}"),
                    facts,
                    true,
                    true,
                )?;
            }
            Ok(())
        }
        _ => Err(format!(
            "{at}: give one of value, person, or each (with person and fields for its items)"
        )),
    }
}

impl PrefillMap {
    /// Checks every pointer against the form's plan and every source against the facts.
    pub fn check(&self, plan: &PlanNode, facts: &FactDictionary) -> Result<(), String> {
        for (pointer, field) in &self.fields {
            let node = plan
                .at(pointer)
                .ok_or_else(|| format!("/fields/{pointer}: {} has no such field", self.form))?;
            check_field(
                field,
                node,
                &format!("/fields{pointer}"),
                facts,
                self.per == Per::Member,
                false,
            )?;
        }
        Ok(())
    }
}
