//! The documented layouts of what reaches a core system: the application document
//! (`madoguchi.application/1`) and the file connector's manifest (`madoguchi.manifest/1`), as
//! JSON Schemas under `schemas/link/`. The gateway writes them (`link::outbox`,
//! `link::connectors::file`), the core-system simulator and the conformance kit read and check
//! them: one description for all three.

use std::sync::OnceLock;

use serde_json::Value;

use crate::forms::{FormRegistry, SchemaSource};

/// One way a file or a document departs from its layout: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutProblem {
    /// JSON Pointer into the document (`""` for the whole).
    pub pointer: String,
    /// A stable code: `layout` for the envelope, or the form's own code for its document
    /// (`required`, `era_out_of_range` …).
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for LayoutProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        };
        write!(f, "{at}: {} ({})", self.message, self.code)
    }
}

pub struct Layouts {
    application: jsonschema::Validator,
    manifest: jsonschema::Validator,
}

const APPLICATION: &str = "link/application.schema.json";
const MANIFEST: &str = "link/manifest.schema.json";

impl Layouts {
    /// The layouts built into this binary, compiled once.
    pub fn built_in() -> Result<&'static Layouts, String> {
        static LAYOUTS: OnceLock<Result<Layouts, String>> = OnceLock::new();
        LAYOUTS
            .get_or_init(Self::load)
            .as_ref()
            .map_err(Clone::clone)
    }

    fn load() -> Result<Layouts, String> {
        let files = SchemaSource::Embedded
            .files()
            .map_err(|(file, p)| format!("{file}: {p}"))?;
        let compile = |path: &str| -> Result<jsonschema::Validator, String> {
            let file = files
                .iter()
                .find(|f| f.path == path)
                .ok_or_else(|| format!("{path} is missing"))?;
            let schema: Value =
                serde_json::from_str(&file.text).map_err(|e| format!("{path}: {e}"))?;
            jsonschema::options()
                .with_draft(jsonschema::Draft::Draft202012)
                .should_validate_formats(true)
                .build(&schema)
                .map_err(|e| format!("{path}: {e}"))
        };
        Ok(Layouts {
            application: compile(APPLICATION)?,
            manifest: compile(MANIFEST)?,
        })
    }

    /// How an application document departs from `madoguchi.application/1`, its form document
    /// included (checked against the form's schema in `forms`).
    pub fn application_problems(
        &self,
        document: &Value,
        forms: &FormRegistry,
    ) -> Vec<LayoutProblem> {
        let mut problems = schema_problems(&self.application, document);
        if !problems.is_empty() {
            return problems;
        }
        let (Some(form_ref), Some(inner)) = (document["form"].as_str(), document.get("document"))
        else {
            return problems;
        };
        let (id, version) = form_ref.split_once('@').unwrap_or((form_ref, ""));
        let Ok(form) = forms.form(id, Some(version)) else {
            problems.push(LayoutProblem {
                pointer: "/form".to_owned(),
                code: "unknown_form".to_owned(),
                message: format!("no standard form {form_ref}"),
            });
            return problems;
        };
        let processed = forms.validate(form, inner.clone(), None);
        problems.extend(processed.errors.into_iter().map(|e| LayoutProblem {
            pointer: format!("/document{}", e.pointer),
            code: e.code,
            message: e.message.ja.into_owned(),
        }));
        problems
    }

    /// How a manifest departs from `madoguchi.manifest/1`.
    pub fn manifest_problems(&self, manifest: &Value) -> Vec<LayoutProblem> {
        schema_problems(&self.manifest, manifest)
    }
}

fn schema_problems(validator: &jsonschema::Validator, value: &Value) -> Vec<LayoutProblem> {
    validator
        .iter_errors(value)
        .map(|e| LayoutProblem {
            pointer: e.instance_path().to_string(),
            code: "layout".to_owned(),
            message: e.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn forms() -> FormRegistry {
        FormRegistry::load(&SchemaSource::Embedded).unwrap()
    }

    fn example_application(forms: &FormRegistry) -> Value {
        let form = forms.form("certificateIssuance", Some("1.0")).unwrap();
        json!({
            "format": "madoguchi.application/1",
            "applicationId": "0193a1b2-0000-7000-8000-000000000001",
            "visitId": "0193a1b2-0000-7000-8000-000000000002",
            "localGovernmentCode": "131016",
            "area": "certificates",
            "procedureId": "residentRecordCopy",
            "member": "m1",
            "form": "certificateIssuance@1.0",
            "document": form.examples()[0].clone(),
            "submittedAt": "2026-12-07T01:02:03.456Z",
        })
    }

    #[test]
    fn a_document_as_documented_has_no_problem() {
        let forms = forms();
        let layouts = Layouts::built_in().unwrap();
        let doc = example_application(&forms);
        assert_eq!(layouts.application_problems(&doc, &forms), vec![]);
        let mut without_form = doc.clone();
        without_form["form"] = Value::Null;
        without_form["document"] = Value::Null;
        assert_eq!(layouts.application_problems(&without_form, &forms), vec![]);
    }

    #[test]
    fn the_envelope_and_the_form_document_are_both_checked() {
        let forms = forms();
        let layouts = Layouts::built_in().unwrap();
        let mut doc = example_application(&forms);
        doc["format"] = json!("madoguchi.application/2");
        doc["applicationId"] = json!("not-a-uuid");
        let problems = layouts.application_problems(&doc, &forms);
        let pointers: Vec<&str> = problems.iter().map(|p| p.pointer.as_str()).collect();
        assert!(pointers.contains(&"/format"), "{problems:?}");
        assert!(pointers.contains(&"/applicationId"), "{problems:?}");

        let mut doc = example_application(&forms);
        doc["document"]
            .as_object_mut()
            .unwrap()
            .retain(|k, _| k == "formId");
        let problems = layouts.application_problems(&doc, &forms);
        assert!(!problems.is_empty());
        assert!(
            problems
                .iter()
                .all(|p| p.pointer.starts_with("/document") && p.code != "layout"),
            "{problems:?}"
        );

        let mut doc = example_application(&forms);
        doc["form"] = json!("noSuchForm@1.0");
        assert_eq!(
            layouts.application_problems(&doc, &forms)[0].code,
            "unknown_form"
        );
        // A form without its document is not the layout.
        let mut doc = example_application(&forms);
        doc["document"] = Value::Null;
        assert_eq!(layouts.application_problems(&doc, &forms)[0].code, "layout");
    }
}
