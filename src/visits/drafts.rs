//! Drafts: for each needed procedure filed on a form, the form filled from the visit's facts
//! (the catalogue's prefill maps and the procedure's constants), with the clerk's edits on top.
//! Every field says where its value came from. Drafts are computed from the facts each time,
//! so an answer given later shows at once; the clerk's edits are kept with the visit.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::determination::{Determination, Outcome};
use super::facts::{EventFacts, fact_ref};
use super::model::{Household, Source};
use crate::catalog::prefill::{Each, FieldMap, PERSON_FIELDS, Per, PersonSource};
use crate::catalog::{Catalog, DraftCovers, Procedure};
use crate::forms::plan::PlanNode;
use crate::validation::{push_pointer_token, unescape_pointer_token};

/// A clerk's change to one field of a draft.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Edit {
    Set(Value),
    Remove,
}

/// Edits by draft key, then by JSON pointer.
pub type Edits = BTreeMap<String, BTreeMap<String, Edit>>;

/// Which draft: one procedure on one event, for its members or for one member.
#[derive(Debug, Clone)]
pub struct DraftSpec {
    /// `procedureId@event` or `procedureId@event@member`.
    pub key: String,
    pub procedure: Arc<Procedure>,
    pub form_id: String,
    pub form_version: String,
    pub event: usize,
    /// For a draft per member.
    pub member: Option<String>,
    /// The members the draft covers (its `each: members`).
    pub members: Vec<String>,
}

impl DraftSpec {
    /// `formId@version`.
    pub fn form_ref(&self) -> String {
        format!("{}@{}", self.form_id, self.form_version)
    }
}

/// Where a field's value came from.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldSource {
    pub pointer: String,
    /// `clerk`, `answer`, `registry`, `card`, `derived` (from the facts), `constant` (the
    /// procedure's), `edit` (typed by the clerk into the draft), `today`.
    pub source: &'static str,
    /// The fact, when it came from one (`member.dateOfBirth` …).
    pub fact: Option<String>,
    pub member: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Draft {
    pub spec: DraftSpec,
    pub document: Value,
    pub fields: Vec<FieldSource>,
    /// Fields filled from the facts and the procedure: what the resident would otherwise
    /// have written by hand.
    pub prefilled: usize,
    /// Fields the clerk typed into the draft.
    pub typed: usize,
}

/// The drafts the determination calls for.
pub fn specs(catalog: &Catalog, household: &Household, d: &Determination) -> Vec<DraftSpec> {
    let mut out: Vec<DraftSpec> = Vec::new();
    for x in d.decisions.iter().filter(|x| x.outcome == Outcome::Needed) {
        let Some((form_id, form_version)) = &x.procedure.form else {
            continue;
        };
        let Some(map) = catalog.prefill.get(&format!("{form_id}@{form_version}")) else {
            continue;
        };
        let event = &household.events[x.event.min(household.events.len().saturating_sub(1))];
        let concerned: Vec<String> = match &x.member {
            Some(m) => vec![m.clone()],
            None => household
                .members
                .iter()
                .filter(|m| match x.procedure.draft_covers {
                    DraftCovers::Subjects => event.concerns(&m.id),
                    DraftCovers::Others => !event.concerns(&m.id),
                    DraftCovers::All => true,
                })
                .map(|m| m.id.clone())
                .collect(),
        };
        let spec = |key: String, member: Option<String>, members: Vec<String>| DraftSpec {
            key,
            procedure: x.procedure.clone(),
            form_id: form_id.clone(),
            form_version: form_version.clone(),
            event: x.event,
            member,
            members,
        };
        match map.per {
            Per::Member => {
                for m in concerned {
                    out.push(spec(
                        format!("{}@{}@{m}", x.procedure.id, x.event),
                        Some(m.clone()),
                        vec![m],
                    ));
                }
            }
            Per::Procedure => {
                let key = format!("{}@{}", x.procedure.id, x.event);
                match out.iter_mut().find(|s| s.key == key) {
                    Some(existing) => existing.members.extend(concerned),
                    None => out.push(spec(key, None, concerned)),
                }
            }
        }
    }
    out
}

/// Sets `value` at `pointer`, creating objects (and arrays for index tokens) on the way.
pub fn set_pointer(doc: &mut Value, pointer: &str, value: Value) {
    let tokens: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|t| unescape_pointer_token(t).into_owned())
        .collect();
    let mut node = doc;
    for (i, token) in tokens.iter().enumerate() {
        let last = i + 1 == tokens.len();
        let next_is_index = tokens
            .get(i + 1)
            .is_some_and(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()));
        let fresh = || {
            if next_is_index {
                Value::Array(Vec::new())
            } else {
                Value::Object(Map::new())
            }
        };
        match node {
            Value::Array(items) => {
                let Ok(index) = token.parse::<usize>() else {
                    return;
                };
                while items.len() <= index {
                    items.push(Value::Null);
                }
                if last {
                    items[index] = value;
                    return;
                }
                if !items[index].is_object() && !items[index].is_array() {
                    items[index] = fresh();
                }
                node = &mut items[index];
            }
            Value::Object(map) => {
                if last {
                    map.insert(token.clone(), value);
                    return;
                }
                let entry = map.entry(token.clone()).or_insert_with(fresh);
                if !entry.is_object() && !entry.is_array() {
                    *entry = fresh();
                }
                node = entry;
            }
            other => {
                *other = Value::Object(Map::new());
                if let Value::Object(map) = other {
                    if last {
                        map.insert(token.clone(), value);
                        return;
                    }
                    node = map.entry(token.clone()).or_insert_with(fresh);
                } else {
                    return;
                }
            }
        }
    }
}

/// Removes the value at `pointer`, if any.
pub fn remove_pointer(doc: &mut Value, pointer: &str) {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return;
    };
    let last = unescape_pointer_token(last).into_owned();
    match doc.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.shift_remove(&last);
        }
        Some(Value::Array(items)) => {
            if let Ok(i) = last.parse::<usize>()
                && i < items.len()
            {
                items.remove(i);
            }
        }
        _ => {}
    }
}

struct Filler<'a> {
    facts: EventFacts<'a>,
    household: &'a Household,
    today: NaiveDate,
    document: Value,
    fields: Vec<FieldSource>,
}

fn source_name(s: Source) -> &'static str {
    s.as_str()
}

/// A field filled with the day of the visit.
const TODAY: &str = "today";
/// A field filled with a value the procedure fixes.
const CONSTANT: &str = "constant";
/// A field the clerk typed into the draft.
const EDIT: &str = "edit";

/// Every value `FieldSource::source` takes: the facts' sources, and what a draft adds.
pub fn field_sources() -> Vec<&'static str> {
    Source::ALL
        .iter()
        .map(|s| s.as_str())
        .chain([CONSTANT, EDIT, TODAY])
        .collect()
}

impl Filler<'_> {
    fn put(
        &mut self,
        pointer: String,
        value: Value,
        source: &'static str,
        fact: Option<String>,
        member: Option<&str>,
    ) {
        set_pointer(&mut self.document, &pointer, value);
        self.fields.retain(|f| f.pointer != pointer);
        self.fields.push(FieldSource {
            pointer,
            source,
            fact,
            member: member.map(str::to_owned),
        });
    }

    /// A fact (`event.date`, `member.relationship` …) for `member`, or today.
    fn value(&self, source: &str, member: Option<&str>) -> Option<(Value, &'static str)> {
        if source == "visit.today" {
            return Some((Value::String(self.today.to_string()), TODAY));
        }
        if let Some(name) = source.strip_prefix("householder.") {
            let h = self.householder()?;
            return self
                .facts
                .get(&fact_ref(&format!("member.{name}"), Some(&h))?)
                .map(|(v, s)| (v, source_name(s)));
        }
        let at = fact_ref(source, member)?;
        self.facts.get(&at).map(|(v, s)| (v, source_name(s)))
    }

    fn householder(&self) -> Option<String> {
        self.household
            .members
            .iter()
            .find(|m| {
                m.facts
                    .get("relationship")
                    .is_some_and(|r| r.value == Value::String("世帯主".to_owned()))
            })
            .map(|m| m.id.clone())
    }

    /// Fills a person object at `pointer` with the name, kana, date of birth and sex the
    /// form's node takes.
    fn person(&mut self, pointer: &str, node: &PlanNode, who: PersonSource, member: Option<&str>) {
        let id = match who {
            PersonSource::Member => member.map(str::to_owned),
            PersonSource::Householder => self.householder(),
            PersonSource::Applicant => self.household.applicant.member.clone(),
        };
        match id {
            Some(id) => {
                for field in PERSON_FIELDS {
                    if !node.properties.contains_key(field) {
                        continue;
                    }
                    if let Some((value, source)) = self.value(&format!("member.{field}"), Some(&id))
                    {
                        let mut at = pointer.to_owned();
                        push_pointer_token(&mut at, field);
                        self.put(
                            at,
                            value,
                            source,
                            Some(format!("member.{field}")),
                            Some(&id),
                        );
                    }
                }
            }
            None if who == PersonSource::Applicant => {
                // Someone from outside the household: only the name the clerk recorded, as
                // written (it is not split into family and given name).
                if node.properties.contains_key("fullName")
                    && let Some(r) = self.household.applicant.facts.get("name")
                {
                    let mut at = pointer.to_owned();
                    push_pointer_token(&mut at, "fullName");
                    self.put(
                        at,
                        r.value.clone(),
                        source_name(r.source),
                        Some("applicant.name".into()),
                        None,
                    );
                }
            }
            None => {}
        }
    }

    fn field(
        &mut self,
        pointer: &str,
        map: &FieldMap,
        node: &PlanNode,
        spec: &DraftSpec,
        member: Option<&str>,
    ) {
        if let Some(source) = &map.value {
            if let Some((value, from)) = self.value(source, member) {
                let fact = (source != "visit.today").then(|| source.clone());
                self.put(pointer.to_owned(), value, from, fact, member);
            }
            return;
        }
        if let Some(each) = map.each {
            let Some(item) = node.items.as_deref() else {
                return;
            };
            let members: Vec<String> = spec
                .members
                .iter()
                .filter(|m| {
                    each == Each::Members
                        || self
                            .facts
                            .by_key("member.schoolYearAge", Some(m))
                            .and_then(|v| v.as_i64())
                            .is_some_and(|a| a <= 17)
                })
                .cloned()
                .collect();
            for (i, m) in members.iter().enumerate() {
                let at = format!("{pointer}/{i}");
                if let Some(who) = map.person {
                    self.person(&at, item, who, Some(m));
                }
                for (name, sub) in &map.fields {
                    if let Some(child) = item.properties.get(name) {
                        let mut p = at.clone();
                        push_pointer_token(&mut p, name);
                        self.field(&p, sub, child, spec, Some(m));
                    }
                }
            }
            return;
        }
        if let Some(who) = map.person {
            self.person(pointer, node, who, member);
        }
    }
}

/// Counts the values (leaves) under a JSON value.
fn leaves(v: &Value) -> usize {
    match v {
        Value::Object(m) => m.values().map(leaves).sum(),
        Value::Array(a) if a.iter().all(|x| !x.is_object() && !x.is_array()) && !a.is_empty() => 1,
        Value::Array(a) => a.iter().map(leaves).sum(),
        _ => 1,
    }
}

/// The draft of `spec`: prefilled, with the procedure's constants and the clerk's edits.
pub fn build(
    catalog: &Catalog,
    plan: &PlanNode,
    household: &Household,
    spec: &DraftSpec,
    edits: Option<&BTreeMap<String, Edit>>,
    today: NaiveDate,
) -> Draft {
    let event = &household.events[spec.event.min(household.events.len().saturating_sub(1))];
    let mut filler = Filler {
        facts: EventFacts::new(household, event),
        household,
        today,
        document: Value::Object(Map::new()),
        fields: Vec::new(),
    };
    if let Some(map) = catalog.prefill.get(&spec.form_ref()) {
        for (pointer, field) in &map.fields {
            if let Some(node) = plan.at(pointer) {
                filler.field(pointer, field, node, spec, spec.member.as_deref());
            }
        }
    }
    for (pointer, value) in &spec.procedure.prefill {
        filler.put(pointer.clone(), value.clone(), CONSTANT, None, None);
    }
    let prefilled: usize = filler
        .fields
        .iter()
        .map(|f| filler.document.pointer(&f.pointer).map_or(0, leaves))
        .sum();
    let mut typed = 0;
    let mut overwritten = 0;
    for (pointer, edit) in edits.into_iter().flatten() {
        if let Some(f) = filler.fields.iter().find(|f| f.pointer == *pointer) {
            overwritten += filler.document.pointer(&f.pointer).map_or(0, leaves);
        }
        filler.fields.retain(|f| f.pointer != *pointer);
        match edit {
            Edit::Set(value) => {
                typed += leaves(value);
                filler.put(pointer.clone(), value.clone(), EDIT, None, None);
            }
            Edit::Remove => remove_pointer(&mut filler.document, pointer),
        }
    }
    Draft {
        spec: spec.clone(),
        document: filler.document,
        fields: filler.fields,
        prefilled: prefilled.saturating_sub(overwritten),
        typed,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn pointers_create_what_is_missing() {
        let mut doc = json!({});
        set_pointer(&mut doc, "/members/0/familyName", json!("山田"));
        set_pointer(&mut doc, "/members/1/familyName", json!("佐藤"));
        set_pointer(&mut doc, "/applicant/contact/phone", json!("0157-23-7111"));
        assert_eq!(
            doc,
            json!({"members": [{"familyName": "山田"}, {"familyName": "佐藤"}], "applicant": {"contact": {"phone": "0157-23-7111"}}})
        );
        remove_pointer(&mut doc, "/members/0");
        assert_eq!(doc["members"], json!([{"familyName": "佐藤"}]));
        assert_eq!(leaves(&doc), 2);
    }
}
