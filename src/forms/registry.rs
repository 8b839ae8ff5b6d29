//! The schema registry: every form schema, the common schemas they share, the era table and
//! the vendor dialects, loaded and checked once at start-up. A file that does not parse, a
//! schema that does not compile, a `$ref` that does not resolve or an example that does not
//! validate stops start-up with the file's name and the problem. Nothing is fetched.

use std::collections::{BTreeMap, HashMap};

use jsonschema::{Draft, Resource};
use serde_json::Value;

use super::dialect::Dialect;
use super::era::EraTable;
use super::instance::{FormJson, FormValidator};
use super::normalize::{self, Located, Report};
use super::plan::{PlanNode, Planner};
use super::source::{SchemaFile, SchemaSource};
use super::validate::{self, FormError};
use crate::tenancy::LgCode;

/// A schema file that cannot be used, and why.
#[derive(Debug, Clone, thiserror::Error)]
#[error("schemas/{file}: {problem}")]
pub struct SchemaError {
    pub file: String,
    pub problem: String,
}

fn problem(file: &str, problem: impl Into<String>) -> SchemaError {
    SchemaError {
        file: file.to_owned(),
        problem: problem.into(),
    }
}

/// One version of one standard form.
pub struct Form {
    pub id: String,
    pub version: String,
    pub title: String,
    pub description: Option<String>,
    /// The schema's `$id`.
    pub uri: String,
    pub schema: Value,
    pub plan: PlanNode,
    pub validator: FormValidator,
    /// What a draft of the form may hold ([`super::shape`]): its fields and kinds of value.
    pub shape: FormValidator,
    /// Path below the schema root, for messages.
    pub path: String,
    /// The order its dates must come in (`x-dateOrder`).
    pub date_order: Vec<super::crosscheck::DateOrder>,
}

impl Form {
    pub fn examples(&self) -> &[Value] {
        self.schema
            .get("examples")
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice)
    }
}

/// A common schema (person, address …) the forms refer to.
pub struct CommonSchema {
    pub path: String,
    pub uri: String,
    pub schema: Value,
}

/// What normalizing (and validating) one document gave.
#[derive(Debug, Clone)]
pub struct Processed {
    pub document: Value,
    pub report: Report,
    pub errors: Vec<FormError>,
}

impl Processed {
    pub fn valid(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Why a form could not be found, with what exists.
#[derive(Debug, Clone)]
pub enum Lookup {
    UnknownForm { known: Vec<String> },
    UnknownVersion { versions: Vec<String> },
}

impl Lookup {
    /// What is missing and what exists, for a person.
    pub fn text(&self, id: &str, version: Option<&str>) -> crate::i18n::Text {
        match self {
            Lookup::UnknownForm { known } => crate::i18n::Text::new(
                format!("様式「{id}」はありません。ある様式: {}", known.join(", ")),
                format!("There is no form {id}. Forms: {}", known.join(", ")),
            ),
            Lookup::UnknownVersion { versions } => {
                let v = version.unwrap_or_default();
                crate::i18n::Text::new(
                    format!(
                        "様式「{id}」に版「{v}」はありません。ある版: {}",
                        versions.join(", ")
                    ),
                    format!(
                        "Form {id} has no version {v}. Versions: {}",
                        versions.join(", ")
                    ),
                )
            }
        }
    }
}

/// Why a dialect cannot be used for a form, with what exists.
#[derive(Debug, Clone)]
pub enum DialectLookup {
    UnknownDialect { known: Vec<String> },
    UnsupportedForm { targets: Vec<String> },
}

impl DialectLookup {
    pub fn text(&self, name: &str, form: &Form) -> crate::i18n::Text {
        match self {
            DialectLookup::UnknownDialect { known } => crate::i18n::Text::new(
                format!("方言「{name}」はありません。ある方言: {}", known.join(", ")),
                format!("There is no dialect {name}. Dialects: {}", known.join(", ")),
            ),
            DialectLookup::UnsupportedForm { targets } => crate::i18n::Text::new(
                format!(
                    "方言「{name}」は様式 {}@{} に対応していません。対応する様式: {}",
                    form.id,
                    form.version,
                    targets.join(", ")
                ),
                format!(
                    "The dialect {name} does not map form {}@{}. It maps: {}",
                    form.id,
                    form.version,
                    targets.join(", ")
                ),
            ),
        }
    }
}

pub struct FormRegistry {
    pub eras: EraTable,
    forms: Vec<Form>,
    common: Vec<CommonSchema>,
    dialects: BTreeMap<String, Dialect>,
    /// English names of the forms' Japanese codes (`reference/enum-names.json`), for the
    /// contract's `x-enum-varnames`: 兄 → `ElderBrother`.
    pub enum_names: BTreeMap<String, String>,
    pub source: String,
}

/// `reference/enum-names.json`: `{"names": {"兄": "ElderBrother", …}}`, each name an
/// UpperCamelCase identifier (Rust's style for enum variants; openapi-python-client upper-cases
/// it to `ELDER_BROTHER`).
fn parse_enum_names(text: &str) -> Result<BTreeMap<String, String>, String> {
    #[derive(serde::Deserialize)]
    struct File {
        names: BTreeMap<String, String>,
    }
    let file: File = serde_json::from_str(text).map_err(|e| e.to_string())?;
    for (code, name) in &file.names {
        let mut chars = name.chars();
        // `Self` is the one UpperCamelCase word Rust reserves.
        let ok = chars.next().is_some_and(|c| c.is_ascii_uppercase())
            && chars.all(|c| c.is_ascii_alphanumeric())
            && name != "Self";
        if !ok {
            return Err(format!(
                "the name of {code} is {name}: a name is UpperCamelCase (ElderBrother): a capital, then letters and digits, and not Self (a Rust keyword)"
            ));
        }
    }
    Ok(file.names)
}

/// Orders versions by their numeric parts: 1.10 after 1.9.
pub fn version_key(version: &str) -> Vec<u64> {
    version.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

fn parse_json(file: &SchemaFile) -> Result<Value, SchemaError> {
    serde_json::from_str(&file.text)
        .map_err(|e| problem(&file.path, format!("not valid JSON: {e}")))
}

fn schema_id(file: &SchemaFile, value: &Value) -> Result<String, SchemaError> {
    if value.get("$schema").and_then(Value::as_str)
        != Some("https://json-schema.org/draft/2020-12/schema")
    {
        return Err(problem(
            &file.path,
            "\"$schema\" must be \"https://json-schema.org/draft/2020-12/schema\"",
        ));
    }
    value
        .get("$id")
        .and_then(Value::as_str)
        .filter(|id| id.contains("://"))
        .map(str::to_owned)
        .ok_or_else(|| problem(&file.path, "the schema needs an absolute \"$id\""))
}

/// Every property must carry a Japanese `title`: error messages name fields by it.
fn check_titles(node: &PlanNode, at: &str) -> Result<(), String> {
    for (name, child) in &node.properties {
        let here = format!("{at}/{name}");
        if child.title.is_none() {
            return Err(format!(
                "the property {here} has no \"title\" (its Japanese label)"
            ));
        }
        check_titles(child, &here)?;
    }
    if let Some(items) = &node.items {
        check_titles(items, &format!("{at}/*"))?;
    }
    Ok(())
}

impl FormRegistry {
    pub fn load(source: &SchemaSource) -> Result<Self, SchemaError> {
        let files = source.files().map_err(|(file, p)| problem(&file, p))?;
        let mut eras = None;
        let mut enum_names = BTreeMap::new();
        let mut documents: HashMap<String, Value> = HashMap::new();
        let mut common = Vec::new();
        let mut form_files = Vec::new();
        let mut dialect_files = Vec::new();
        for file in &files {
            let parts: Vec<&str> = file.path.split('/').collect();
            match parts.as_slice() {
                ["reference", "eras.json"] => {
                    eras = Some(EraTable::parse(&file.text).map_err(|p| problem(&file.path, p))?);
                }
                ["reference", "enum-names.json"] => {
                    enum_names =
                        parse_enum_names(&file.text).map_err(|p| problem(&file.path, p))?;
                }
                ["reference", _] => {}
                // The procedure catalogue, read by `crate::catalog`.
                ["catalog", ..] => {}
                // The documented error codes, read by `crate::field_codes`.
                ["problems", "field-codes.json"] => {}
                // The conformance kit's requirements, specimens and scenarios, read by
                // `crate::conformance`.
                ["conformance", ..] => {}
                // The layouts of what reaches a core system, read by `crate::layouts`.
                ["link", ..] => {}
                ["common", name] if name.ends_with(".schema.json") => {
                    let value = parse_json(file)?;
                    let uri = schema_id(file, &value)?;
                    if documents.insert(uri.clone(), value.clone()).is_some() {
                        return Err(problem(&file.path, format!("the $id {uri} is used twice")));
                    }
                    common.push(CommonSchema {
                        path: file.path.clone(),
                        uri,
                        schema: value,
                    });
                }
                ["forms", id, name] => {
                    let Some(version) = name.strip_suffix(".schema.json") else {
                        return Err(problem(
                            &file.path,
                            "a form schema is named <version>.schema.json",
                        ));
                    };
                    let value = parse_json(file)?;
                    let uri = schema_id(file, &value)?;
                    if documents.insert(uri.clone(), value.clone()).is_some() {
                        return Err(problem(&file.path, format!("the $id {uri} is used twice")));
                    }
                    form_files.push((
                        file.path.clone(),
                        id.to_string(),
                        version.to_owned(),
                        uri,
                        value,
                    ));
                }
                ["dialects", name] => {
                    let name = name.trim_end_matches(".json").to_owned();
                    dialect_files.push((file.path.clone(), name, file.text.clone()));
                }
                _ => {
                    return Err(problem(
                        &file.path,
                        "unexpected file: schemas hold reference/, catalog/, conformance/, link/, problems/field-codes.json, common/<name>.schema.json, forms/<id>/<version>.schema.json and dialects/<name>.json",
                    ));
                }
            }
        }
        let eras =
            eras.ok_or_else(|| problem("reference/eras.json", "the era table is missing"))?;

        let registry = jsonschema::Registry::new()
            .extend(
                documents
                    .iter()
                    .map(|(uri, value)| (uri.clone(), Resource::from_contents(value.clone()))),
            )
            .and_then(|b| b.prepare())
            .map_err(|e| problem("common", format!("the schemas do not form a registry: {e}")))?;
        // The same documents as shapes, under the same `$id`s, so that a form's shape refers
        // to the shapes of the common schemas.
        let shapes = jsonschema::Registry::new()
            .extend(documents.iter().map(|(uri, value)| {
                (
                    uri.clone(),
                    Resource::from_contents(super::shape::draft_shape(value)),
                )
            }))
            .and_then(|b| b.prepare())
            .map_err(|e| problem("common", format!("the shapes do not form a registry: {e}")))?;
        let planner = Planner {
            documents: &documents,
        };
        for c in &common {
            planner
                .plan(&c.uri, &c.schema)
                .map_err(|p| problem(&c.path, p))?;
        }

        let mut forms = Vec::new();
        for (path, id, version, uri, schema) in form_files {
            let title = schema
                .get("title")
                .and_then(Value::as_str)
                .ok_or_else(|| problem(&path, "the form needs a Japanese \"title\""))?
                .to_owned();
            let plan = planner.plan(&uri, &schema).map_err(|p| problem(&path, p))?;
            check_titles(&plan, "").map_err(|p| problem(&path, p))?;
            let validator = jsonschema::options_for::<FormJson>()
                .with_draft(Draft::Draft202012)
                .with_registry(&registry)
                .should_validate_formats(true)
                // The `regex` engine matches in linear time, so no pattern in an edited
                // schema can make validation backtrack; it has no look-around, which no
                // form needs, and it skips fancy-regex's wrapper on every match.
                .with_pattern_options(jsonschema::PatternOptions::regex())
                .with_format("my-number", normalize::codes::is_my_number)
                .with_format("lg-code", |s: &str| LgCode::parse(s).is_ok())
                .build(&schema)
                .map_err(|e| problem(&path, format!("the schema does not compile: {e}")))?;
            let shape = jsonschema::options_for::<FormJson>()
                .with_draft(Draft::Draft202012)
                .with_registry(&shapes)
                .build(&super::shape::draft_shape(&schema))
                .map_err(|e| problem(&path, format!("the form's shape does not compile: {e}")))?;
            let date_order =
                super::crosscheck::date_order(&schema).map_err(|p| problem(&path, p))?;
            let form = Form {
                date_order,
                id,
                version,
                title,
                description: schema
                    .get("description")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                uri,
                schema,
                plan,
                validator,
                shape,
                path,
            };
            if form.examples().is_empty() {
                return Err(problem(
                    &form.path,
                    "the form needs at least one entry in \"examples\"",
                ));
            }
            for (i, example) in form.examples().iter().enumerate() {
                if let Some(e) = validate::errors(&form.validator, &form.plan, example).first() {
                    return Err(problem(
                        &form.path,
                        format!(
                            "examples[{i}] is not valid: {} ({})",
                            e.pointer, e.message.en
                        ),
                    ));
                }
                // A valid document is a draft that is complete: if it does not fit the
                // shape, the shape (not the example) is wrong.
                if let Some(e) = form.shape.iter_errors(example).next() {
                    return Err(problem(
                        &form.path,
                        format!(
                            "examples[{i}] does not fit the form's draft shape at {}: {e}",
                            e.instance_path()
                        ),
                    ));
                }
            }
            forms.push(form);
        }
        forms.sort_by(|a, b| {
            a.id.cmp(&b.id)
                .then_with(|| version_key(&a.version).cmp(&version_key(&b.version)))
        });

        let mut dialects = BTreeMap::new();
        for (path, name, text) in dialect_files {
            let dialect = Dialect::parse(&name, &text).map_err(|p| problem(&path, p))?;
            for target in dialect.targets() {
                let (id, version) = target;
                if !forms.iter().any(|f| f.id == id && f.version == version) {
                    return Err(problem(
                        &path,
                        format!("the dialect maps to {id}@{version}, which is not a loaded form"),
                    ));
                }
            }
            dialects.insert(name, dialect);
        }

        Ok(Self {
            eras,
            forms,
            common,
            dialects,
            enum_names,
            source: source.describe(),
        })
    }

    pub fn forms(&self) -> &[Form] {
        &self.forms
    }

    pub fn common(&self) -> &[CommonSchema] {
        &self.common
    }

    pub fn dialects(&self) -> impl Iterator<Item = &Dialect> {
        self.dialects.values()
    }

    pub fn dialect(&self, name: &str) -> Option<&Dialect> {
        self.dialects.get(name)
    }

    /// The dialect of this name, if it maps this form.
    pub fn dialect_for(&self, name: &str, form: &Form) -> Result<&Dialect, DialectLookup> {
        let dialect = self
            .dialect(name)
            .ok_or_else(|| DialectLookup::UnknownDialect {
                known: self.dialects.keys().cloned().collect(),
            })?;
        if !dialect.supports(form) {
            return Err(DialectLookup::UnsupportedForm {
                targets: dialect.targets().map(|(i, v)| format!("{i}@{v}")).collect(),
            });
        }
        Ok(dialect)
    }

    /// The distinct form ids, in order.
    pub fn form_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.forms.iter().map(|f| f.id.clone()).collect();
        ids.dedup();
        ids
    }

    /// Every version of a form, oldest first.
    pub fn versions(&self, id: &str) -> Result<Vec<&Form>, Lookup> {
        let versions: Vec<&Form> = self.forms.iter().filter(|f| f.id == id).collect();
        if versions.is_empty() {
            return Err(Lookup::UnknownForm {
                known: self.form_ids(),
            });
        }
        Ok(versions)
    }

    /// One version of a form; `None` for the newest.
    /// The form's schema as one self-contained document (a JSON Schema 2020-12 compound
    /// document): every common schema it reaches is embedded in `$defs` under its own `$id`,
    /// so that its `$ref`s resolve inside the document — a vendor's validator compiles it
    /// offline, with nothing else loaded.
    pub fn bundle(&self, form: &Form) -> Value {
        let mut embedded: Vec<&CommonSchema> = Vec::new();
        let mut queue: Vec<(String, &Value)> = vec![(form.uri.clone(), &form.schema)];
        while let Some((base, schema)) = queue.pop() {
            let mut targets = Vec::new();
            collect_ref_documents(schema, &base, &mut targets);
            for target in targets {
                if target == form.uri || embedded.iter().any(|c| c.uri == target) {
                    continue;
                }
                if let Some(common) = self.common.iter().find(|c| c.uri == target) {
                    embedded.push(common);
                    queue.push((common.uri.clone(), &common.schema));
                }
            }
        }
        let mut bundle = form.schema.clone();
        if let Some(root) = bundle.as_object_mut() {
            let defs = root
                .entry("$defs")
                .or_insert_with(|| Value::Object(serde_json::Map::new()));
            if let Some(defs) = defs.as_object_mut() {
                embedded.sort_by(|a, b| a.uri.cmp(&b.uri));
                for common in embedded {
                    defs.insert(common.uri.clone(), common.schema.clone());
                }
            }
        }
        bundle
    }

    pub fn form(&self, id: &str, version: Option<&str>) -> Result<&Form, Lookup> {
        let versions = self.versions(id)?;
        match version {
            None => versions.last().copied().ok_or(Lookup::UnknownForm {
                known: self.form_ids(),
            }),
            Some(v) => versions
                .iter()
                .find(|f| f.version == v)
                .copied()
                .ok_or_else(|| Lookup::UnknownVersion {
                    versions: versions.iter().map(|f| f.version.clone()).collect(),
                }),
        }
    }

    /// Normalizes a document for a form, after translating it from a dialect if one is given.
    pub fn normalize(&self, form: &Form, document: Value, dialect: Option<&Dialect>) -> Processed {
        let (mut document, mut report) = match dialect {
            Some(d) => d.translate(form, document),
            None => (document, Report::default()),
        };
        let normalized = normalize::document::normalize(&form.plan, &mut document, &self.eras);
        report.changes.extend(normalized.changes);
        report.warnings.extend(normalized.warnings);
        report.errors.extend(normalized.errors);
        Processed {
            document,
            report,
            errors: Vec::new(),
        }
    }

    /// Normalizes, then validates: every error at once. A field the normalizer could not read
    /// is reported once, with the normalizer's message (it says more than the schema's).
    pub fn validate(&self, form: &Form, document: Value, dialect: Option<&Dialect>) -> Processed {
        let mut processed = self.normalize(form, document, dialect);
        let mut errors: Vec<FormError> = processed
            .report
            .errors
            .iter()
            .map(|Located { pointer, issue }| FormError {
                pointer: pointer.clone(),
                keyword: "x-normalize".to_owned(),
                code: issue.code.to_owned(),
                message: with_label(form, pointer, &issue.message),
            })
            .collect();
        for e in validate::errors(&form.validator, &form.plan, &processed.document) {
            if !errors
                .iter()
                .any(|n| n.keyword == "x-normalize" && n.pointer == e.pointer)
            {
                errors.push(e);
            }
        }
        errors.extend(super::crosscheck::check(
            &form.plan,
            &form.date_order,
            &processed.document,
        ));
        processed.errors = errors;
        processed
    }
}

impl Form {
    /// A normalizer's message, prefixed with the label of the field it concerns.
    pub fn label_message(&self, pointer: &str, message: &crate::i18n::Text) -> crate::i18n::Text {
        with_label(self, pointer, message)
    }
}

fn with_label(form: &Form, pointer: &str, message: &crate::i18n::Text) -> crate::i18n::Text {
    let label = form.plan.label_at(pointer);
    crate::i18n::Text::new(
        match label.title {
            Some(ja) => format!("「{ja}」: {}", message.ja),
            None => message.ja.to_string(),
        },
        match label.name {
            Some(en) => format!("{en}: {}", message.en),
            None => message.en.to_string(),
        },
    )
}

/// The documents (absolute URIs) the `$ref`s of `schema` point into.
fn collect_ref_documents(schema: &Value, base: &str, out: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                let (document, _) = super::plan::resolve_reference(base, reference);
                if !out.contains(&document) {
                    out.push(document);
                }
            }
            for (key, child) in map {
                if !matches!(key.as_str(), "examples" | "enum" | "const" | "default") {
                    collect_ref_documents(child, base, out);
                }
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|i| collect_ref_documents(i, base, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A code's English name must be a type name in the languages vendors generate.
    #[test]
    fn english_code_names_are_upper_camel_case_and_not_self() {
        assert!(parse_enum_names(r#"{"names": {"兄": "ElderBrother"}}"#).is_ok());
        for bad in [
            "Self",
            "ELDER_BROTHER",
            "elderBrother",
            "Elder Brother",
            "1st",
        ] {
            let text = format!(r#"{{"names": {{"兄": "{bad}"}}}}"#);
            assert!(parse_enum_names(&text).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_built_in_schemas_load_and_their_examples_validate() {
        let registry =
            FormRegistry::load(&SchemaSource::Embedded).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            registry.forms().len(),
            12,
            "one version of each of the twelve forms"
        );
        for form in registry.forms() {
            for example in form.examples() {
                let processed = registry.validate(form, example.clone(), None);
                assert!(processed.valid(), "{}: {:?}", form.id, processed.errors);
                assert!(
                    processed.report.changes.is_empty(),
                    "{}: examples are already normal",
                    form.id
                );
            }
        }
    }

    /// Printouts show a code by its label (`moveIn` → 転入): every enumeration of ASCII codes
    /// in the forms and the schemas they share has a label for each value (the narrower
    /// enumerations inside `if` only test a value).
    #[test]
    fn every_code_a_form_can_hold_has_a_japanese_label() {
        fn walk(file: &str, at: &str, v: &Value, missing: &mut Vec<String>) {
            match v {
                Value::Object(map) => {
                    if let Some(Value::Array(values)) = map.get("enum") {
                        let labels = map.get("x-enumLabels").and_then(Value::as_object);
                        // Codes written in Japanese (続柄 …) are their own label.
                        for code in values
                            .iter()
                            .filter_map(Value::as_str)
                            .filter(|c| c.is_ascii())
                        {
                            if !labels.is_some_and(|l| l.contains_key(code)) {
                                missing.push(format!("{file}{at}: {code}"));
                            }
                        }
                    }
                    for (k, sub) in map {
                        if k != "if" && k != "examples" {
                            walk(file, &format!("{at}/{k}"), sub, missing);
                        }
                    }
                }
                Value::Array(items) => {
                    for (i, sub) in items.iter().enumerate() {
                        walk(file, &format!("{at}/{i}"), sub, missing);
                    }
                }
                _ => {}
            }
        }
        let mut missing = Vec::new();
        for file in SchemaSource::Embedded.files().unwrap() {
            if file.path.starts_with("forms/") || file.path.starts_with("common/") {
                let v: Value = serde_json::from_str(&file.text).unwrap();
                walk(&file.path, "", &v, &mut missing);
            }
        }
        assert!(missing.is_empty(), "codes without a label: {missing:#?}");
    }
}
