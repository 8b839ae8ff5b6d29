//! Drafts evaluated: each needed procedure's form built from the visit's facts and the
//! clerk's edits ([`super::drafts::build`]), then normalized and validated against its form.
//! What the counter shows, what the printouts print and what the resident confirms are all
//! read from here.

use chrono::NaiveDate;
use serde_json::Value;

use super::determination::Determination;
use super::drafts::{self, DraftSpec, FieldSource};
use super::model::Household;
use crate::catalog::Catalog;
use crate::forms::normalize::Located;
use crate::forms::{Form, FormError, FormRegistry};

/// A draft normalized and validated against its form.
#[derive(Clone)]
pub struct EvaluatedDraft<'f> {
    pub spec: DraftSpec,
    pub form: &'f Form,
    /// The document, normalized.
    pub document: Value,
    /// Where each field came from.
    pub fields: Vec<FieldSource>,
    /// What the clerk still has to complete or correct: the normalizer's (a value it could not
    /// read, keyword `x-normalize`) and the schema's.
    pub errors: Vec<FormError>,
    /// What the normalizer changed or doubts, for the clerk to look at.
    pub warnings: Vec<Located>,
    /// Fields filled from the facts and the procedure.
    pub prefilled: usize,
    /// Fields the clerk typed.
    pub typed: usize,
}

impl EvaluatedDraft<'_> {
    pub fn valid(&self) -> bool {
        self.errors.is_empty()
    }

    /// `formId@version`.
    pub fn form_ref(&self) -> String {
        self.spec.form_ref()
    }
}

/// Every draft the determination calls for, evaluated on `today` (in Japan). A procedure
/// whose form is not loaded has no draft.
pub fn evaluate<'f>(
    forms: &'f FormRegistry,
    catalog: &Catalog,
    household: &Household,
    d: &Determination,
    today: NaiveDate,
) -> Vec<EvaluatedDraft<'f>> {
    drafts::specs(catalog, household, d)
        .into_iter()
        .filter_map(|spec| evaluate_one(forms, catalog, household, spec, today))
        .collect()
}

/// The draft of `spec`, evaluated on `today`; none when its form is not loaded.
pub fn evaluate_one<'f>(
    forms: &'f FormRegistry,
    catalog: &Catalog,
    household: &Household,
    spec: DraftSpec,
    today: NaiveDate,
) -> Option<EvaluatedDraft<'f>> {
    let form = forms.form(&spec.form_id, Some(&spec.form_version)).ok()?;
    let draft = drafts::build(
        catalog,
        &form.plan,
        household,
        &spec,
        household.edits.get(&spec.key),
        today,
    );
    let processed = forms.validate(form, draft.document, None);
    Some(EvaluatedDraft {
        spec,
        form,
        document: processed.document,
        fields: draft.fields,
        errors: processed.errors,
        warnings: processed.report.warnings,
        prefilled: draft.prefilled,
        typed: draft.typed,
    })
}
