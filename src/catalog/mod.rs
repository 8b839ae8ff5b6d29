//! The procedure catalogue: every procedure a life event can bring, as data under
//! `schemas/catalog/` (one file per procedure, a facts dictionary and the vocabularies), read
//! and checked at start-up. A file that does not fit stops start-up with its name and the
//! problem, as the form schemas do.

pub mod calendar;
pub mod examples;
pub mod facts;
pub mod overrides;
pub mod parameters;
pub mod prefill;
pub mod reason;
pub mod report;
pub mod rule;
pub mod template;
pub mod versions;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

pub use facts::{FactDef, FactDictionary, FactKind, FactType};
pub use reason::{ReasonText, ReasonTexts, Reasons};
pub use rule::{Evaluation, FactRef, FactSource, Holder, Rule, Scope, Tri};

use crate::forms::{FormRegistry, SchemaError, SchemaSource};
use crate::i18n::{Lang, Text};

/// A text in Japanese and English, as catalogue files write it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Bilingual {
    pub ja: String,
    pub en: String,
}

impl Bilingual {
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Ja => &self.ja,
            Lang::En => &self.en,
        }
    }

    pub fn text(&self) -> Text {
        Text::new(self.ja.clone(), self.en.clone())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifeEventDef {
    pub ja: String,
    pub en: String,
    /// The event facts the clerk may record for it.
    pub attributes: Vec<String>,
}

impl LifeEventDef {
    /// Its name in `lang`.
    pub fn label(&self, lang: crate::i18n::Lang) -> &str {
        match lang {
            crate::i18n::Lang::Ja => &self.ja,
            crate::i18n::Lang::En => &self.en,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Vocabulary {
    #[serde(rename = "$comment", default)]
    _comment: Option<String>,
    pub life_events: BTreeMap<String, LifeEventDef>,
    pub areas: BTreeMap<String, Bilingual>,
    pub identity_checks: BTreeMap<String, Bilingual>,
}

impl Vocabulary {
    /// The business areas' ids, in order (for checks and for messages that list them).
    pub fn area_ids(&self) -> Vec<&str> {
        self.areas.keys().map(String::as_str).collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum AppliesTo {
    Household,
    Member,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Fee {
    pub yen: u32,
    #[serde(default)]
    pub per: Option<Bilingual>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(tag = "mode", rename_all = "camelCase", deny_unknown_fields)]
pub enum Handling {
    /// The one-stop counter completes it.
    Counter,
    /// The resident is sent to a department or another office.
    Referral { to: Bilingual, why: Bilingual },
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Deadline {
    pub days: u32,
    /// From the day after the event (the default) or from its own day.
    #[serde(default)]
    pub count: calendar::Count,
    /// An event date fact to count from instead of the event's date when it is known
    /// (`event.plannedMoveOutDate`).
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub note: Option<Bilingual>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilerFile {
    rule: Value,
    questions: Vec<String>,
    refused: Bilingual,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ProcedureFile {
    #[serde(rename = "$comment", default)]
    _comment: Option<String>,
    id: String,
    name: Bilingual,
    department: String,
    area: String,
    life_events: Vec<String>,
    applies_to: AppliesTo,
    rule: Value,
    questions: Vec<String>,
    documents: Vec<Bilingual>,
    identity_check: String,
    fee: Option<Fee>,
    form: Option<String>,
    handling: Handling,
    deadline: Option<Deadline>,
    legal_basis: Bilingual,
    reason: Reasons,
    #[serde(default)]
    filer: Option<FilerFile>,
    #[serde(default)]
    prefill: BTreeMap<String, Value>,
    #[serde(default)]
    draft_covers: DraftCovers,
    #[serde(default)]
    examples: Vec<examples::Example>,
}

/// Which members a household-wide procedure's draft lists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DraftCovers {
    /// The members the event concerns.
    #[default]
    Subjects,
    /// The members it does not concern (after a death: those who remain).
    Others,
    All,
}

/// Who may file a procedure, when not anyone.
#[derive(Debug, Clone)]
pub struct Filer {
    pub rule: Rule,
    pub source: Value,
    pub questions: Vec<String>,
    pub refused: Bilingual,
}

/// One procedure, checked.
#[derive(Debug, Clone)]
pub struct Procedure {
    pub id: String,
    pub name: Bilingual,
    pub department: String,
    pub area: String,
    pub life_events: Vec<String>,
    pub applies_to: AppliesTo,
    pub rule: Rule,
    /// The rule as written, for the catalogue API.
    pub rule_source: Value,
    pub questions: Vec<String>,
    pub documents: Vec<Bilingual>,
    pub identity_check: String,
    pub fee: Option<Fee>,
    /// `(formId, version)`.
    pub form: Option<(String, String)>,
    pub handling: Handling,
    pub deadline: Option<Deadline>,
    pub legal_basis: Bilingual,
    pub reason: Reasons,
    pub filer: Option<Filer>,
    /// `catalog/procedures/<id>.json`, for messages.
    pub path: String,
    /// The file as written, before its parameters were replaced: read again when a
    /// municipality sets one of `parameters`.
    pub source: Arc<Value>,
    /// The municipal parameters the file names.
    pub parameters: BTreeSet<String>,
    /// False when the municipality turned it off (see [`overrides`]).
    pub enabled: bool,
    /// A municipality's own procedure.
    pub local: bool,
    /// Constants of its draft, by JSON pointer into the form.
    pub prefill: BTreeMap<String, Value>,
    pub draft_covers: DraftCovers,
    /// Households for which it must be needed, ruled out or left to questions.
    pub examples: Vec<examples::Example>,
}

/// The whole catalogue: procedures, facts and vocabularies.
#[derive(Clone)]
pub struct Catalog {
    pub procedures: Vec<Arc<Procedure>>,
    /// How drafts of each form are prefilled, by `formId@version`.
    pub prefill: BTreeMap<String, prefill::PrefillMap>,
    /// The procedure schema, compiled: municipalities' local procedures are checked with it.
    validator: Arc<jsonschema::Validator>,
    pub facts: FactDictionary,
    pub vocabulary: Vocabulary,
    /// Municipal parameters and the values in force (`catalog/parameters.json`, with the
    /// municipality's values once its overrides are applied).
    pub parameters: parameters::Parameters,
    /// The days the office is open, for deadlines (`catalog/calendar.json`, with the
    /// municipality's closing days once its overrides are applied).
    pub calendar: calendar::Calendar,
    /// First 12 hex digits of the SHA-256 over every catalogue file: which built-in catalogue
    /// a visit was decided with.
    pub digest: String,
}

fn problem(file: &str, problem: impl Into<String>) -> SchemaError {
    SchemaError {
        file: file.to_owned(),
        problem: problem.into(),
    }
}

impl Catalog {
    /// Reads `catalog/` of the schema source and checks every procedure against the schema
    /// beside it, the vocabularies, the facts dictionary and the forms.
    pub fn load(source: &SchemaSource, forms: &FormRegistry) -> Result<Self, SchemaError> {
        let files = source.files().map_err(|(file, p)| problem(&file, p))?;
        let mut digest = Sha256::new();
        let mut schema = None;
        let mut vocabulary = None;
        let mut facts = None;
        let mut calendar = None;
        let mut params = None;
        let mut procedure_files = Vec::new();
        let mut prefill_files = Vec::new();
        for file in files.iter().filter(|f| f.path.starts_with("catalog/")) {
            digest.update(file.path.as_bytes());
            digest.update([0]);
            digest.update(file.text.as_bytes());
            digest.update([0]);
            let parsed = || -> Result<Value, SchemaError> {
                serde_json::from_str(&file.text)
                    .map_err(|e| problem(&file.path, format!("not valid JSON: {e}")))
            };
            match file.path.split('/').collect::<Vec<_>>().as_slice() {
                ["catalog", "procedure.schema.json"] => schema = Some(parsed()?),
                ["catalog", "vocabulary.json"] => {
                    vocabulary = Some(
                        serde_json::from_value::<Vocabulary>(parsed()?)
                            .map_err(|e| problem(&file.path, e.to_string()))?,
                    )
                }
                ["catalog", "facts.json"] => {
                    facts = Some(
                        serde_json::from_value::<FactDictionary>(parsed()?)
                            .map_err(|e| problem(&file.path, e.to_string()))?,
                    )
                }
                ["catalog", "calendar.json"] => {
                    let read = serde_json::from_value::<calendar::CalendarFile>(parsed()?)
                        .map_err(|e| problem(&file.path, e.to_string()))?;
                    calendar = Some(
                        calendar::Calendar::from_file(read).map_err(|e| problem(&file.path, e))?,
                    );
                }
                ["catalog", "parameters.json"] => {
                    let read = serde_json::from_value::<parameters::ParametersFile>(parsed()?)
                        .map_err(|e| problem(&file.path, e.to_string()))?;
                    params = Some(
                        parameters::Parameters::from_file(read)
                            .map_err(|e| problem(&file.path, e))?,
                    );
                }
                ["catalog", "prefill", name] if name.ends_with(".json") => {
                    prefill_files.push((file.path.clone(), parsed()?));
                }
                ["catalog", "procedures", name] if name.ends_with(".json") => {
                    procedure_files.push((
                        file.path.clone(),
                        name.trim_end_matches(".json").to_owned(),
                        parsed()?,
                    ));
                }
                _ => {
                    return Err(problem(
                        &file.path,
                        "unexpected file: catalog/ holds procedure.schema.json, vocabulary.json, facts.json, calendar.json, parameters.json, procedures/<id>.json and prefill/<formId>.json",
                    ));
                }
            }
        }
        let schema = schema.ok_or_else(|| {
            problem(
                "catalog/procedure.schema.json",
                "the procedure schema is missing",
            )
        })?;
        let vocabulary = vocabulary
            .ok_or_else(|| problem("catalog/vocabulary.json", "the vocabulary is missing"))?;
        let calendar =
            calendar.ok_or_else(|| problem("catalog/calendar.json", "the calendar is missing"))?;
        let params = params.ok_or_else(|| {
            problem(
                "catalog/parameters.json",
                "the municipal parameters are missing",
            )
        })?;
        let mut facts = facts
            .ok_or_else(|| problem("catalog/facts.json", "the facts dictionary is missing"))?;
        check_facts(&mut facts, &vocabulary, forms)
            .map_err(|p| problem("catalog/facts.json", p))?;
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .with_pattern_options(jsonschema::PatternOptions::regex())
            .build(&schema)
            .map_err(|e| {
                problem(
                    "catalog/procedure.schema.json",
                    format!("the schema does not compile: {e}"),
                )
            })?;
        let mut procedures = Vec::new();
        let mut ids = BTreeSet::new();
        for (path, stem, value) in procedure_files {
            let procedure = read_procedure(
                &validator,
                value,
                &path,
                &facts,
                &vocabulary,
                forms,
                &params,
            )
            .map_err(|p| problem(&path, p))?;
            if procedure.id != stem {
                return Err(problem(
                    &path,
                    format!(
                        "the file of procedure \"{}\" must be named {}.json",
                        procedure.id, procedure.id
                    ),
                ));
            }
            if !ids.insert(procedure.id.clone()) {
                return Err(problem(
                    &path,
                    format!("the id {} is used twice", procedure.id),
                ));
            }
            procedures.push(Arc::new(procedure));
        }
        let mut prefill = BTreeMap::new();
        for (path, value) in prefill_files {
            let map: prefill::PrefillMap =
                serde_json::from_value(value).map_err(|e| problem(&path, e.to_string()))?;
            let (id, version) = map.form.split_once('@').unwrap_or((&map.form, ""));
            let form = forms
                .form(id, Some(version))
                .map_err(|e| problem(&path, format!("/form: {}", e.text(id, Some(version)).en)))?;
            map.check(&form.plan, &facts)
                .map_err(|p| problem(&path, p))?;
            if prefill.insert(map.form.clone(), map).is_some() {
                return Err(problem(&path, "a second prefill map for the same form"));
            }
        }
        for p in &procedures {
            check_prefill(p, &prefill, forms).map_err(|e| problem(&p.path, e))?;
        }
        if procedures.is_empty() {
            return Err(problem("catalog/procedures", "there are no procedures"));
        }
        let digest = hex::encode(digest.finalize());
        Ok(Self {
            procedures,
            prefill,
            validator: Arc::new(validator),
            facts,
            vocabulary,
            parameters: params,
            calendar,
            digest: digest[..12].to_owned(),
        })
    }

    pub fn procedure(&self, id: &str) -> Option<&Arc<Procedure>> {
        self.procedures.iter().find(|p| p.id == id)
    }

    pub fn life_event(&self, id: &str) -> Option<&LifeEventDef> {
        self.vocabulary.life_events.get(id)
    }
}

/// A procedure on a form needs the form's prefill map, and its constants must name fields of
/// the form.
fn check_prefill(
    p: &Procedure,
    maps: &BTreeMap<String, prefill::PrefillMap>,
    forms: &FormRegistry,
) -> Result<(), String> {
    let Some((id, version)) = &p.form else {
        if p.prefill.is_empty() {
            return Ok(());
        }
        return Err("/prefill: the procedure has no form".to_owned());
    };
    let key = format!("{id}@{version}");
    if !maps.contains_key(&key) {
        return Err(format!(
            "/form: there is no prefill map for {key} (catalog/prefill/{id}.json)"
        ));
    }
    let form = forms
        .form(id, Some(version))
        .map_err(|e| format!("/form: {}", e.text(id, Some(version)).en))?;
    for pointer in p.prefill.keys() {
        if form.plan.at(pointer).is_none() {
            return Err(format!("/prefill{pointer}: {key} has no such field"));
        }
    }
    Ok(())
}

/// Checks one procedure against the procedure schema, the vocabularies, the facts and the
/// forms; the error names where in the procedure the problem is.
fn read_procedure(
    validator: &jsonschema::Validator,
    value: Value,
    path: &str,
    facts: &FactDictionary,
    vocabulary: &Vocabulary,
    forms: &FormRegistry,
    params: &parameters::Parameters,
) -> Result<Procedure, String> {
    let filled = params.substitute(&value)?;
    if let Some(e) = validator.iter_errors(&filled).next() {
        let at = e.instance_path().to_string();
        return Err(format!("{}: {e}", if at.is_empty() { "/" } else { &at }));
    }
    let file: ProcedureFile = serde_json::from_value(filled).map_err(|e| e.to_string())?;
    let mut procedure = check_procedure(file, path, facts, vocabulary, forms)?;
    procedure.parameters = parameters::Parameters::named_in(&value);
    procedure.source = Arc::new(value);
    Ok(procedure)
}

fn check_facts(
    facts: &mut FactDictionary,
    vocabulary: &Vocabulary,
    forms: &FormRegistry,
) -> Result<(), String> {
    let attributes: BTreeSet<&String> = vocabulary
        .life_events
        .values()
        .flat_map(|e| e.attributes.iter())
        .collect();
    for attribute in &attributes {
        if !facts.event.contains_key(*attribute) {
            return Err(format!(
                "vocabulary.json names the event attribute \"{attribute}\", which facts.json does not define under \"event\""
            ));
        }
    }
    for (holder, defs) in facts.holders_mut() {
        let names: BTreeSet<String> = defs.keys().cloned().collect();
        for (name, def) in defs.iter_mut() {
            let key = format!("{holder}.{name}");
            if def.kind != FactKind::Derived && def.question.is_none() && key != "event.kind" {
                return Err(format!("{key} can be unknown but has no \"question\""));
            }
            for from in &def.derived_from {
                if !names.contains(from) {
                    return Err(format!(
                        "{key} is derived from \"{from}\", which is not a {holder} fact"
                    ));
                }
            }
            if let Some(reference) = &def.enum_from {
                def.values = Some(enum_from(reference, forms).map_err(|p| format!("{key}: {p}"))?);
            }
            if let Some(kind) = &def.normalize {
                match crate::forms::normalize::Kind::parse(kind) {
                    Some(k) if def.ty == FactType::String => def.normalizer = Some(k),
                    Some(_) => return Err(format!("{key}: normalize is for string facts only")),
                    None => {
                        return Err(format!(
                            "{key}: normalize \"{kind}\" is not a kind of normalization (kana, postalCode, phone …)"
                        ));
                    }
                }
            }
            let mut possible = Vec::new();
            for (value, source) in &def.possible_when {
                if !def.r#enum.as_ref().is_some_and(|e| e.contains_key(value)) {
                    return Err(format!(
                        "{key}: possibleWhen names \"{value}\", which is not one of its enum values"
                    ));
                }
                let rule = Rule::parse(source, holder == "member").map_err(|e| {
                    format!(
                        "{key}: possibleWhen/{value}{}: {}",
                        e.at.trim_end_matches('/'),
                        e.message
                    )
                })?;
                // Over the holder's own facts only: they are the ones known when it is asked.
                for var in rule.vars() {
                    let (of, name) = var.dictionary_key();
                    if of != holder || !names.contains(name) {
                        return Err(format!(
                            "{key}: possibleWhen/{value} reads {of}.{name}; it may read only {holder} facts of facts.json"
                        ));
                    }
                }
                possible.push((value.clone(), rule));
            }
            def.possible = possible;
        }
    }
    // Question texts may name facts of their own holder (a member's name, the event kind).
    for (holder, defs) in facts.holders() {
        for (name, def) in defs {
            if let Some(q) = &def.question {
                for t in [&q.ja, &q.en] {
                    template::check(t, facts, &[holder])
                        .map_err(|p| format!("{holder}.{name}: question: {p}"))?;
                }
            }
        }
    }
    Ok(())
}

/// The `enum` at `$id#/pointer` of a common schema.
fn enum_from(reference: &str, forms: &FormRegistry) -> Result<Vec<String>, String> {
    let (uri, pointer) = reference
        .split_once('#')
        .ok_or_else(|| format!("enumFrom \"{reference}\" needs a #/pointer"))?;
    let schema = forms
        .common()
        .iter()
        .find(|c| c.uri == uri)
        .ok_or_else(|| format!("enumFrom: no common schema has the $id {uri}"))?;
    schema
        .schema
        .pointer(pointer)
        .and_then(|s| s.get("enum"))
        .and_then(Value::as_array)
        .map(|values| {
            values
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .ok_or_else(|| format!("enumFrom: {reference} is not a schema with an \"enum\""))
}

fn check_procedure(
    file: ProcedureFile,
    path: &str,
    facts: &FactDictionary,
    vocabulary: &Vocabulary,
    forms: &FormRegistry,
) -> Result<Procedure, String> {
    let _ = path;
    if !vocabulary.areas.contains_key(&file.area) {
        return Err(format!(
            "/area: \"{}\" is not an area of vocabulary.json ({})",
            file.area,
            vocabulary
                .areas
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for event in &file.life_events {
        if !vocabulary.life_events.contains_key(event) {
            return Err(format!(
                "/lifeEvents: \"{event}\" is not a life event of vocabulary.json ({})",
                vocabulary
                    .life_events
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    if !vocabulary
        .identity_checks
        .contains_key(&file.identity_check)
    {
        return Err(format!(
            "/identityCheck: \"{}\" is not a code of vocabulary.json ({})",
            file.identity_check,
            vocabulary
                .identity_checks
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let form = match &file.form {
        None => None,
        Some(reference) => {
            let (id, version) = reference.split_once('@').unwrap_or((reference, ""));
            forms
                .form(id, Some(version))
                .map_err(|e| format!("/form: {}", e.text(id, Some(version)).en))?;
            Some((id.to_owned(), version.to_owned()))
        }
    };
    let in_member = file.applies_to == AppliesTo::Member;
    let rule = Rule::parse(&file.rule, in_member)
        .map_err(|e| format!("/rule{}: {}", e.at.trim_end_matches('/'), e.message))?;
    check_rule_facts(&rule, &file.questions, facts, "/rule")?;
    let holders: &[&str] = if in_member {
        &["event", "household", "applicant", "member"]
    } else {
        &["event", "household", "applicant"]
    };
    let mut reason = file.reason;
    reason
        .needed
        .prepare(&rule, facts, holders, "/reason/needed")?;
    reason
        .not_needed
        .prepare(&rule, facts, holders, "/reason/notNeeded")?;
    if let Some(from) = file.deadline.as_ref().and_then(|d| d.from.as_deref()) {
        let is_event_date = from.starts_with("event.")
            && facts
                .lookup(from)
                .is_some_and(|def| def.ty == facts::FactType::Date);
        if !is_event_date {
            return Err(format!(
                "/deadline/from: {from} is not a date fact of the event in catalog/facts.json"
            ));
        }
    }
    for (i, example) in file.examples.iter().enumerate() {
        example.check(file.applies_to, &format!("/examples/{i}"))?;
    }
    let filer = match file.filer {
        None => None,
        Some(f) => {
            let rule = Rule::parse(&f.rule, false)
                .map_err(|e| format!("/filer/rule{}: {}", e.at.trim_end_matches('/'), e.message))?;
            check_rule_facts(&rule, &f.questions, facts, "/filer/rule")?;
            for text in [&f.refused.ja, &f.refused.en] {
                template::check(text, facts, &["event", "household", "applicant"])
                    .map_err(|p| format!("/filer/refused: {p}"))?;
            }
            Some(Filer {
                rule,
                source: f.rule,
                questions: f.questions,
                refused: f.refused,
            })
        }
    };
    Ok(Procedure {
        id: file.id,
        name: file.name,
        department: file.department,
        area: file.area,
        life_events: file.life_events,
        applies_to: file.applies_to,
        rule,
        rule_source: file.rule,
        questions: file.questions,
        documents: file.documents,
        identity_check: file.identity_check,
        fee: file.fee,
        form,
        handling: file.handling,
        deadline: file.deadline,
        legal_basis: file.legal_basis,
        reason,
        filer,
        path: path.to_owned(),
        source: Arc::new(Value::Null),
        parameters: BTreeSet::new(),
        enabled: true,
        local: false,
        prefill: file.prefill,
        draft_covers: file.draft_covers,
        examples: file.examples,
    })
}

/// Every fact a rule reads exists; every answer it reads is among its questions and every
/// question is read; literals compared with an enum fact are among its values.
fn check_rule_facts(
    rule: &Rule,
    questions: &[String],
    facts: &FactDictionary,
    at: &str,
) -> Result<(), String> {
    let mut answers_read = BTreeSet::new();
    for var in rule.vars() {
        let (holder, name) = var.dictionary_key();
        let key = format!("{holder}.{name}");
        let def = facts.get(holder, name).ok_or_else(|| {
            format!("{at}: the rule reads {key}, which catalog/facts.json does not define")
        })?;
        if def.kind == FactKind::Answer {
            if !questions.contains(&key) {
                return Err(format!(
                    "{at}: the rule reads the answer {key}; list it in \"questions\""
                ));
            }
            answers_read.insert(key);
        }
    }
    for q in questions {
        match facts.lookup(q) {
            Some(def) if def.kind == FactKind::Answer => {}
            Some(_) => {
                return Err(format!(
                    "/questions: {q} is not an answer fact (only facts of kind \"answer\" are questions)"
                ));
            }
            None => {
                return Err(format!(
                    "/questions: {q} is not a fact of catalog/facts.json"
                ));
            }
        }
        if !answers_read.contains(q) {
            return Err(format!(
                "/questions: {q} is listed but the rule never reads it"
            ));
        }
    }
    check_literals(rule, facts, at)
}

fn check_literals(rule: &Rule, facts: &FactDictionary, at: &str) -> Result<(), String> {
    use rule::Var;
    let def_of = |r: &Rule| match r {
        Rule::Var(v) => {
            let (h, n) = v.dictionary_key();
            facts.get(h, n).map(|d| (format!("{h}.{n}"), d))
        }
        _ => None,
    };
    let literal_ok = |key: &str, def: &FactDef, lit: &Value| -> Result<(), String> {
        if def.accepts(lit)
            || (def.ty == FactType::Array
                && lit.is_string()
                && def.accepts(&Value::Array(vec![lit.clone()])))
        {
            Ok(())
        } else {
            Err(format!(
                "{at}: {key} is compared with {lit}, which is not a value it can take ({})",
                def.ty.as_str()
            ))
        }
    };
    match rule {
        Rule::Compare(_, xs) => {
            for pair in xs.windows(2) {
                match (&pair[0], &pair[1]) {
                    (v @ Rule::Var(_), Rule::Literal(lit))
                    | (Rule::Literal(lit), v @ Rule::Var(_)) => {
                        if let Some((key, def)) = def_of(v) {
                            literal_ok(&key, def, lit)?;
                        }
                    }
                    _ => {}
                }
            }
            xs.iter().try_for_each(|x| check_literals(x, facts, at))
        }
        Rule::In(needle, hay) => {
            if let (Rule::Literal(lit), Some((key, def))) = (needle.as_ref(), def_of(hay)) {
                literal_ok(&key, def, lit)?;
            }
            if let (Some((key, def)), Rule::Literal(Value::Array(items))) =
                (def_of(needle), hay.as_ref())
            {
                items
                    .iter()
                    .try_for_each(|lit| literal_ok(&key, def, lit))?;
            }
            check_literals(needle, facts, at)?;
            check_literals(hay, facts, at)
        }
        Rule::And(xs) | Rule::Or(xs) | Rule::If(xs) => {
            xs.iter().try_for_each(|x| check_literals(x, facts, at))
        }
        Rule::Not(x) | Rule::Truthy(x) | Rule::Quantified(_, _, x) => check_literals(x, facts, at),
        Rule::Literal(_)
        | Rule::Var(
            Var::Event(_) | Var::Household(_) | Var::Applicant(_) | Var::Member(_) | Var::Item(_),
        ) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A yes/no question means what it says: はい answers the question asked. A question that
    /// has to tell the resident which answer to give («まだの場合は「はい」») asks the opposite
    /// of its fact, and a clerk reading it aloud gets the answer backwards.
    #[test]
    fn yes_answers_the_question_asked() {
        let facts: Value =
            serde_json::from_str(include_str!("../../schemas/catalog/facts.json")).unwrap();
        let mut checked = 0;
        for (holder, defs) in facts.as_object().unwrap() {
            let Some(defs) = defs.as_object() else {
                continue;
            };
            for (name, def) in defs {
                if def["type"] != "boolean" || def.get("question").is_none() {
                    continue;
                }
                checked += 1;
                let ja = def["question"]["ja"].as_str().unwrap();
                let en = def["question"]["en"].as_str().unwrap().to_lowercase();
                assert!(
                    !ja.contains("「はい」") && !ja.contains("「いいえ」"),
                    "{holder}.{name}: {ja}"
                );
                assert!(
                    !en.contains("answer yes") && !en.contains("answer no"),
                    "{holder}.{name}: {en}"
                );
                assert!(ja.contains('？'), "{holder}.{name} asks no question: {ja}");
            }
        }
        assert!(checked >= 20, "{checked} yes/no questions");
    }

    #[test]
    fn the_built_in_catalogue_loads_and_reaches_every_form() {
        let forms = FormRegistry::load(&SchemaSource::Embedded).unwrap();
        let catalog = Catalog::load(&SchemaSource::Embedded, &forms).unwrap();
        assert!(
            catalog.procedures.len() >= 130,
            "{}",
            catalog.procedures.len()
        );
        let areas: BTreeSet<&str> = catalog.procedures.iter().map(|p| p.area.as_str()).collect();
        assert!(areas.len() >= 24, "{areas:?}");
        for form in forms.forms() {
            assert!(
                catalog
                    .procedures
                    .iter()
                    .any(|p| p.form.as_ref().is_some_and(|(id, _)| *id == form.id)),
                "no procedure is filed on {}",
                form.id
            );
        }
        for event in catalog.vocabulary.life_events.keys() {
            assert!(
                catalog
                    .procedures
                    .iter()
                    .any(|p| p.life_events.contains(event)),
                "no procedure follows {event}"
            );
        }
    }
}
