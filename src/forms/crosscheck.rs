//! Checks across fields, which JSON Schema cannot state: an address's 都道府県 must be the
//! prefecture of its 全国地方公共団体コード, and dates must come in the order a form declares
//! (`x-dateOrder` at the schema root, e.g. no one born after the day of notification). Each
//! finding is reported at every field involved.

use chrono::NaiveDate;
use serde_json::Value;

use super::plan::{Label, PlanNode};
use super::validate::FormError;
use crate::i18n::Text;
use crate::tenancy::LgCode;
use crate::validation::push_pointer_token;

/// `{"earlier": "dateOfBirth", "notAfter": "/notificationDate"}`: every property named
/// `earlier`, anywhere in the document, may not be after the date at `notAfter`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DateOrder {
    pub earlier: String,
    pub not_after: String,
}

/// The date order rules of a form schema (`x-dateOrder`), checked when the form is loaded.
pub fn date_order(schema: &Value) -> Result<Vec<DateOrder>, String> {
    match schema.get("x-dateOrder") {
        None => Ok(Vec::new()),
        Some(rules) => serde_json::from_value(rules.clone())
            .map_err(|e| format!("x-dateOrder must be a list of {{earlier, notAfter}}: {e}")),
    }
}

fn label(plan: &PlanNode, pointer: &str) -> (String, String) {
    let label = Label::of(plan.at(pointer), pointer);
    let en = label.name.unwrap_or_else(|| pointer.to_owned());
    (label.title.unwrap_or_else(|| en.clone()), en)
}

/// Every object of the document, with its pointer.
fn objects<'v>(
    value: &'v Value,
    pointer: &mut String,
    out: &mut Vec<(String, &'v serde_json::Map<String, Value>)>,
) {
    match value {
        Value::Object(map) => {
            out.push((pointer.clone(), map));
            for (key, child) in map {
                let len = pointer.len();
                push_pointer_token(pointer, key);
                objects(child, pointer, out);
                pointer.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let len = pointer.len();
                push_pointer_token(pointer, &i.to_string());
                objects(child, pointer, out);
                pointer.truncate(len);
            }
        }
        _ => {}
    }
}

/// The first day a date value can be: an exact `YYYY-MM-DD`, or an approximate registry
/// date's `value` (`YYYY`, `YYYY-MM`).
fn earliest_day(value: &Value) -> Option<NaiveDate> {
    let text = match value {
        Value::String(s) => s.as_str(),
        Value::Object(map) => map.get("value")?.as_str()?,
        _ => return None,
    };
    let mut parts = text.split('-');
    let year: i32 = parts.next()?.parse().ok()?;
    let month: u32 = parts.next().map_or(Some(1), |m| m.parse().ok())?;
    let day: u32 = parts.next().map_or(Some(1), |d| d.parse().ok())?;
    NaiveDate::from_ymd_opt(year, month, day)
}

fn error(pointer: String, code: &str, message: Text) -> FormError {
    FormError {
        pointer,
        keyword: "x-crossCheck".to_owned(),
        code: code.to_owned(),
        message,
    }
}

pub fn check(plan: &PlanNode, rules: &[DateOrder], document: &Value) -> Vec<FormError> {
    let mut found = Vec::new();
    let mut all = Vec::new();
    objects(document, &mut String::new(), &mut all);
    for (at, map) in &all {
        let (Some(Value::String(code)), Some(Value::String(prefecture))) =
            (map.get("lgCode"), map.get("prefecture"))
        else {
            continue;
        };
        let Some(expected) = LgCode::parse(code)
            .ok()
            .and_then(|c| crate::tenancy::prefecture(&c))
        else {
            continue;
        };
        if &expected.name == prefecture {
            continue;
        }
        let (code_at, prefecture_at) = (format!("{at}/lgCode"), format!("{at}/prefecture"));
        let (pref_ja, pref_en) = label(plan, &prefecture_at);
        let (code_ja, code_en) = label(plan, &code_at);
        let text = Text::new(
            format!(
                "「{pref_ja}」の「{prefecture}」は「{code_ja}」{code}({})と合いません。どちらかを直してください。",
                expected.name
            ),
            format!(
                "{pref_en} \"{prefecture}\" does not match {code_en} {code}, which is in {}; correct one of them.",
                expected.name
            ),
        );
        found.push(error(prefecture_at, "prefecture_mismatch", text.clone()));
        found.push(error(code_at, "prefecture_mismatch", text));
    }
    for rule in rules {
        let Some(limit) = document.pointer(&rule.not_after).and_then(earliest_day) else {
            continue;
        };
        for (at, map) in &all {
            let Some(day) = map.get(&rule.earlier).and_then(earliest_day) else {
                continue;
            };
            if day <= limit {
                continue;
            }
            let mut earlier_at = at.clone();
            push_pointer_token(&mut earlier_at, &rule.earlier);
            let (e_ja, e_en) = label(plan, &earlier_at);
            let (l_ja, l_en) = label(plan, &rule.not_after);
            let text = Text::new(
                format!(
                    "「{e_ja}」({day})が「{l_ja}」({limit})より後になっています。日付を確認してください。"
                ),
                format!("{e_en} ({day}) is after {l_en} ({limit}); check the dates."),
            );
            found.push(error(earlier_at, "date_order", text.clone()));
            found.push(error(rule.not_after.clone(), "date_order", text));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approximate_dates_count_from_their_first_possible_day() {
        assert_eq!(
            earliest_day(&Value::from("2020-03-04")),
            NaiveDate::from_ymd_opt(2020, 3, 4)
        );
        let about = serde_json::json!({"value": "2020-03", "precision": "month"});
        assert_eq!(earliest_day(&about), NaiveDate::from_ymd_opt(2020, 3, 1));
        assert_eq!(earliest_day(&serde_json::json!({"value": null})), None);
        assert_eq!(earliest_day(&Value::from("令和2年")), None);
    }
}
