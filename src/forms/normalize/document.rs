//! Normalizing a whole form document along its plan.

use serde_json::Value;

use super::{Issue, field};
use crate::forms::era::EraTable;
use crate::forms::plan::PlanNode;
use crate::validation::push_pointer_token;

/// One value the normalizer changed. For a 個人番号 `from` and `to` are withheld.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub pointer: String,
    pub from: Option<Value>,
    pub to: Option<Value>,
    pub rule: &'static str,
}

/// A warning or error tied to a place in the document.
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    pub pointer: String,
    pub issue: Issue,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    pub changes: Vec<Change>,
    pub warnings: Vec<Located>,
    pub errors: Vec<Located>,
}

/// Normalizes every field the plan names, in place, and reports what it did.
pub fn normalize(plan: &PlanNode, document: &mut Value, eras: &EraTable) -> Report {
    let mut report = Report::default();
    let mut pointer = String::new();
    walk(plan, document, &mut pointer, eras, &mut report);
    report
}

fn walk(
    node: &PlanNode,
    value: &mut Value,
    pointer: &mut String,
    eras: &EraTable,
    report: &mut Report,
) {
    if let (Some(kind), Value::String(text)) = (node.normalize, &*value) {
        match field(kind, text, eras) {
            Ok(outcome) => {
                for issue in outcome.warnings {
                    report.warnings.push(Located {
                        pointer: pointer.clone(),
                        issue,
                    });
                }
                if outcome.value != *value {
                    let from = std::mem::replace(value, outcome.value);
                    let (from, to) = if kind.is_secret() {
                        (None, None)
                    } else {
                        (Some(from), Some(value.clone()))
                    };
                    report.changes.push(Change {
                        pointer: pointer.clone(),
                        from,
                        to,
                        rule: outcome.rule,
                    });
                }
            }
            Err(issue) => report.errors.push(Located {
                pointer: pointer.clone(),
                issue,
            }),
        }
        return;
    }
    match value {
        Value::Object(map) if !node.properties.is_empty() => {
            for (key, child) in map.iter_mut() {
                if let Some(child_plan) = node.properties.get(key.as_str()) {
                    let len = pointer.len();
                    push_pointer_token(pointer, key);
                    walk(child_plan, child, pointer, eras, report);
                    pointer.truncate(len);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_plan) = node.items.as_deref() {
                for (index, item) in items.iter_mut().enumerate() {
                    let len = pointer.len();
                    push_pointer_token(pointer, &index.to_string());
                    walk(item_plan, item, pointer, eras, report);
                    pointer.truncate(len);
                }
            }
        }
        _ => {}
    }
}
