//! A clerk's edit to a draft (the fields no system knows, typed at the counter): checked
//! against the draft's form — within the limits, every pointer a field of the form, and the
//! draft left in its form's shape ([`crate::forms::shape`]) — then recorded with the visit.
//! A refused edit writes nothing and names each field to fix.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde_json::{Map, Value};

use super::drafts::{DraftSpec, Edit, build};
use super::limits;
use super::model::Household;
use crate::catalog::Catalog;
use crate::forms::{Form, FormError, FormRegistry};
use crate::i18n::Text;
use crate::validation::{FieldError, push_pointer_token};

/// What the clerk sent: values to set and fields to remove, by JSON pointer.
#[derive(Debug, Clone, Default)]
pub struct DraftEdit {
    pub set: Map<String, Value>,
    pub remove: Vec<String>,
}

/// The edit's changes, each at a field of `form`, within the limits of one request: or every
/// reason it is refused, at `/set/…` or `/remove/…`.
pub fn changes_of(
    form: &Form,
    spec: &DraftSpec,
    edit: DraftEdit,
) -> Result<Vec<(String, Edit)>, Vec<FieldError>> {
    if let Some(e) = limits::too_many(
        "/set",
        edit.set.len() + edit.remove.len(),
        limits::MAX_EDITS_PER_REQUEST,
        Text::new("変更する項目", "fields to change"),
    ) {
        return Err(vec![e]);
    }
    let mut errors = Vec::new();
    for (pointer, value) in &edit.set {
        if serde_json::to_vec(value).map_or(0, |b| b.len()) > limits::MAX_EDIT_VALUE_BYTES {
            errors.push(FieldError::new(
                at("set", pointer),
                "value_too_long",
                Text::new(
                    format!(
                        "1項目の値は JSON で{}バイトまでです。",
                        limits::MAX_EDIT_VALUE_BYTES
                    ),
                    format!(
                        "One field's value is at most {} bytes of JSON.",
                        limits::MAX_EDIT_VALUE_BYTES
                    ),
                ),
            ));
        }
    }
    if edit.set.is_empty() && edit.remove.is_empty() {
        errors.push(FieldError::new(
            "/set",
            "empty_edit",
            Text::new(
                "変更する項目を set か remove に入れてください。",
                "Name at least one field in set or remove.",
            ),
        ));
    }
    let fields = edit
        .set
        .into_iter()
        .map(|(p, v)| (p, Edit::Set(v), "set"))
        .chain(edit.remove.into_iter().map(|p| (p, Edit::Remove, "remove")));
    let mut changes = Vec::new();
    for (pointer, change, part) in fields {
        if !pointer.starts_with('/') || form.plan.at(&pointer).is_none() {
            errors.push(FieldError::new(
                at(part, &pointer),
                "unknown_field",
                Text::new(
                    format!("「{pointer}」は様式 {} の項目ではありません。", form.title),
                    format!("{pointer} is not a field of {}.", spec.form_ref()),
                ),
            ));
            continue;
        }
        changes.push((pointer, change));
    }
    if errors.is_empty() {
        Ok(changes)
    } else {
        Err(errors)
    }
}

/// `/set/<pointer>` or `/remove/<pointer>`: where in the request an edit is.
fn at(part: &str, pointer: &str) -> String {
    let mut at = format!("/{part}");
    push_pointer_token(&mut at, pointer);
    at
}

/// What the clerk's edit would break in the draft's shape (its form's fields and kinds of
/// value): the errors of the normalized document with the edit that the document without it
/// does not have. A number typed where the form has text, a code not in the form's list, a
/// list item left empty by an index past the end: the edit is refused, so a draft always has
/// its form's shape and a typed client can read it. Each error is at the edit it comes from.
pub fn shape_errors(
    forms: &FormRegistry,
    form: &Form,
    catalog: &Catalog,
    household: &Household,
    spec: &DraftSpec,
    changes: &[(String, Edit)],
    today: NaiveDate,
) -> Vec<FieldError> {
    let edits = household.edits.get(&spec.key);
    let shaped = |edits: Option<&BTreeMap<String, Edit>>| {
        let draft = build(catalog, &form.plan, household, spec, edits, today);
        let document = forms.normalize(form, draft.document, None).document;
        crate::forms::validate::errors(&form.shape, &form.plan, &document)
    };
    let before = shaped(edits);
    let mut after = edits.cloned().unwrap_or_default();
    after.extend(changes.iter().cloned());
    shaped(Some(&after))
        .into_iter()
        .filter(|e| !before.contains(e))
        .map(|e| at_the_edit(e, changes))
        .collect()
}

/// A shape error at the edit it comes from: the one sharing most of its path (an edit at or
/// above the error, or one whose index past the end left the error's empty item).
fn at_the_edit(e: FormError, changes: &[(String, Edit)]) -> FieldError {
    let shared = |p: &str| {
        p.split('/')
            .zip(e.pointer.split('/'))
            .take_while(|(a, b)| a == b)
            .count()
    };
    let pointer = match changes.iter().max_by_key(|(p, _)| shared(p)) {
        Some((p, Edit::Remove)) => at("remove", p),
        Some((p, Edit::Set(_))) => at("set", p),
        None => at("set", &e.pointer),
    };
    let code = match e.keyword.as_str() {
        "enum" | "const" => "not_in_list",
        "additionalProperties" | "unevaluatedProperties" => "unknown_field",
        _ => "invalid_type",
    };
    FieldError::new(pointer, code, e.message)
}

/// Records the changes with the visit's edits of the draft `key`, within the limit of fields
/// edited by hand in one draft.
pub fn record(
    household: &mut Household,
    key: &str,
    changes: Vec<(String, Edit)>,
) -> Result<(), Vec<FieldError>> {
    let edits = household.edits.entry(key.to_owned()).or_default();
    edits.extend(changes);
    match limits::too_many(
        "/set",
        edits.len(),
        limits::MAX_EDITS_PER_DRAFT,
        Text::new(
            "1つの下書きで手で直した項目",
            "fields edited by hand in one draft",
        ),
    ) {
        Some(e) => Err(vec![e]),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(pointer: &str, keyword: &str) -> FormError {
        FormError {
            pointer: pointer.into(),
            keyword: keyword.into(),
            code: keyword.into(),
            message: Text::new("誤り", "wrong"),
        }
    }

    #[test]
    fn a_shape_error_is_named_at_the_edit_that_made_it() {
        let changes = vec![
            ("/purpose".to_owned(), Edit::Set(Value::from(3))),
            ("/members/4/name".to_owned(), Edit::Set(Value::from("山田"))),
            ("/note".to_owned(), Edit::Remove),
        ];
        let e = at_the_edit(error("/purpose", "type"), &changes);
        assert_eq!(
            (e.pointer.as_str(), e.code),
            ("/set/~1purpose", "invalid_type")
        );
        // The empty items an index past the end leaves belong to that edit.
        let e = at_the_edit(error("/members/2", "type"), &changes);
        assert_eq!(e.pointer, "/set/~1members~14~1name");
        let e = at_the_edit(error("/note", "enum"), &changes);
        assert_eq!(
            (e.pointer.as_str(), e.code),
            ("/remove/~1note", "not_in_list")
        );
        let e = at_the_edit(error("/x", "additionalProperties"), &[]);
        assert_eq!((e.pointer.as_str(), e.code), ("/set/~1x", "unknown_field"));
    }

    #[test]
    fn a_draft_holds_at_most_its_limit_of_typed_fields() {
        let mut household: Household = serde_json::from_value(serde_json::json!({
            "events": [], "members": [], "applicant": {"member": null, "facts": {}}, "facts": {}
        }))
        .unwrap();
        let changes = |from: usize, n: usize| {
            (from..from + n)
                .map(|i| (format!("/f{i}"), Edit::Set(Value::from(i))))
                .collect::<Vec<_>>()
        };
        record(
            &mut household,
            "d@0",
            changes(0, limits::MAX_EDITS_PER_DRAFT),
        )
        .unwrap();
        let refused = record(
            &mut household.clone(),
            "d@0",
            changes(limits::MAX_EDITS_PER_DRAFT, 1),
        )
        .unwrap_err();
        assert_eq!(refused[0].code, "too_many");
        // Changing a field edited already adds none.
        record(&mut household, "d@0", changes(0, 1)).unwrap();
    }
}
