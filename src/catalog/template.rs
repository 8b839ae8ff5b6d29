//! Reason and question templates: text with `{holder.fact}` placeholders, checked against the
//! facts dictionary at start-up and filled from a visit's facts.

use serde_json::Value;

use super::facts::{FactDictionary, FactType};
use crate::forms::EraTable;
use crate::i18n::Lang;

/// The placeholders of a template, in order; an error names an unclosed or empty one.
pub fn placeholders(template: &str) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("an unclosed {{ in \"{template}\""))?;
        let key = &after[..end];
        if key.is_empty() || key.contains('{') {
            return Err(format!("an empty or nested placeholder in \"{template}\""));
        }
        out.push(key);
        rest = &after[end + 1..];
    }
    Ok(out)
}

/// Checks that every placeholder names a fact of a holder the template may use.
pub fn check(template: &str, facts: &FactDictionary, holders: &[&str]) -> Result<(), String> {
    for key in placeholders(template)? {
        let (holder, _) = key.split_once('.').unwrap_or(("", key));
        if !holders.contains(&holder) {
            return Err(format!(
                "the placeholder {{{key}}} is not available here (use facts of: {})",
                holders.join(", ")
            ));
        }
        if facts.lookup(key).is_none() {
            return Err(format!(
                "the placeholder {{{key}}} names no fact of catalog/facts.json"
            ));
        }
    }
    Ok(())
}

/// What a template needs to be filled.
pub struct Fill<'a> {
    pub facts: &'a FactDictionary,
    pub eras: &'a EraTable,
    pub lang: Lang,
    /// The value of a fact (`holder.name`), `None` when unknown.
    pub value: &'a dyn Fn(&str) -> Option<Value>,
    /// The label of a life event id.
    pub event_label: &'a dyn Fn(&str, Lang) -> Option<String>,
}

pub fn render(template: &str, fill: &Fill<'_>) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        out.push_str(&show(&after[..end], fill));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The template filled, or `None` when a fact it names is not known: a reason never tells
/// an unknown.
pub fn render_known(template: &str, fill: &Fill<'_>) -> Option<String> {
    let known = placeholders(template)
        .ok()?
        .into_iter()
        .all(|key| (fill.value)(key).is_some_and(|v| !v.is_null()));
    known.then(|| render(template, fill))
}

/// One fact as a person reads it: enum values by their label, dates in 和暦 in Japanese.
pub fn show(key: &str, fill: &Fill<'_>) -> String {
    let unknown = || match fill.lang {
        Lang::Ja => "(未確認)".to_owned(),
        Lang::En => "(not known)".to_owned(),
    };
    let Some(value) = (fill.value)(key) else {
        return unknown();
    };
    if key == "event.kind"
        && let Some(label) = value
            .as_str()
            .and_then(|k| (fill.event_label)(k, fill.lang))
    {
        return label;
    }
    let def = fill.facts.lookup(key);
    let label_of = |s: &str| {
        def.and_then(|d| d.value_label(s))
            .map(|l| l.get(fill.lang).to_owned())
            .unwrap_or_else(|| s.to_owned())
    };
    match &value {
        Value::String(s) if def.is_some_and(|d| d.ty == FactType::Date) => match fill.lang {
            Lang::Ja => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| fill.eras.wareki_day(d))
                .unwrap_or_else(|| s.clone()),
            Lang::En => s.clone(),
        },
        Value::String(s) => label_of(s),
        Value::Bool(b) => match (fill.lang, b) {
            (Lang::Ja, true) => "はい".to_owned(),
            (Lang::Ja, false) => "いいえ".to_owned(),
            (Lang::En, true) => "yes".to_owned(),
            (Lang::En, false) => "no".to_owned(),
        },
        Value::Array(items) => {
            let sep = if fill.lang == Lang::Ja { "、" } else { ", " };
            items
                .iter()
                .map(|i| i.as_str().map(label_of).unwrap_or_else(|| i.to_string()))
                .collect::<Vec<_>>()
                .join(sep)
        }
        Value::Null => unknown(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_found_and_bad_ones_named() {
        assert_eq!(
            placeholders("{member.name}さん({member.age}歳)").unwrap(),
            vec!["member.name", "member.age"]
        );
        assert!(placeholders("{member.name").is_err());
        assert!(placeholders("{}").is_err());
    }
}
