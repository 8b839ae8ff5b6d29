//! Normalizing a whole form document along its plan.

use serde_json::Value;

use super::{Issue, Kind, address, field};
use crate::forms::era::EraTable;
use crate::forms::plan::PlanNode;
use crate::i18n::Text;
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
            remove_empty_optionals(node, map, pointer, report);
            let block_done = split_building(node, map, pointer, report);
            for (key, child) in map.iter_mut() {
                if block_done && key == CITY_BLOCK {
                    continue;
                }
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

/// An optional field sent as `""` means "not given": it is removed, and the removal reported,
/// rather than failing the field's own rules. (A value of spaces is a value: it is kept, and
/// its rules judge it — names are never altered.)
fn remove_empty_optionals(
    node: &PlanNode,
    map: &mut serde_json::Map<String, Value>,
    pointer: &str,
    report: &mut Report,
) {
    let empty: Vec<String> = map
        .iter()
        .filter(|(key, value)| {
            value.as_str().is_some_and(str::is_empty)
                && node.properties.contains_key(key.as_str())
                && !node.required.contains(key.as_str())
        })
        .map(|(key, _)| key.clone())
        .collect();
    for key in empty {
        let from = map.remove(&key);
        report.changes.push(Change {
            pointer: child_pointer(pointer, &key),
            from,
            to: None,
            rule: "emptyOptional.removed",
        });
    }
}

const CITY_BLOCK: &str = "cityBlock";
const BUILDING: &str = "buildingNameEtc";

fn child_pointer(pointer: &str, key: &str) -> String {
    let mut p = pointer.to_owned();
    push_pointer_token(&mut p, key);
    p
}

/// In an address whose schema has both `cityBlock` and `buildingNameEtc`, a 方書 written after
/// the block (`3丁目2番1号 101号室`) moves to `buildingNameEtc` when that is empty; when it holds
/// something already, nothing is moved and `cityBlock` stays as written, with a warning (the
/// schema then refuses it, so the clerk decides). Returns whether `cityBlock` was dealt with.
fn split_building(
    node: &PlanNode,
    map: &mut serde_json::Map<String, Value>,
    pointer: &str,
    report: &mut Report,
) -> bool {
    let splits = node
        .properties
        .get(CITY_BLOCK)
        .is_some_and(|p| p.normalize == Some(Kind::CityBlock))
        && node.properties.contains_key(BUILDING);
    if !splits {
        return false;
    }
    let Some(Value::String(original)) = map.get(CITY_BLOCK) else {
        return false;
    };
    let Some(read) = address::read(original) else {
        return false;
    };
    let Some(building) = read.building.clone() else {
        return false;
    };
    let original = original.clone();
    let block_pointer = child_pointer(pointer, CITY_BLOCK);
    let building_pointer = child_pointer(pointer, BUILDING);
    let existing = map.get(BUILDING).cloned();
    let free = match &existing {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.trim().is_empty(),
        Some(_) => false,
    };
    let quoted = super::codes::quotable(&building).into_owned();
    if !free {
        report.warnings.push(Located {
            pointer: block_pointer,
            issue: Issue::new(
                "city_block_building_kept",
                Text::new(
                    format!(
                        "番地以下に方書「{quoted}」が含まれていますが、方書欄に別の値があるため分けずにそのままにしました。番地以下は「{}」として、方書を確認してください。",
                        read.block
                    ),
                    format!(
                        "The block number holds a building part \"{quoted}\", but buildingNameEtc holds something else, so nothing was moved: give the block as \"{}\" and check the building.",
                        read.block
                    ),
                ),
            )
            .with_suggestion(Some(read.block.clone())),
        });
        return true;
    }
    map.insert(CITY_BLOCK.to_owned(), Value::String(read.block.clone()));
    map.insert(BUILDING.to_owned(), Value::String(building.clone()));
    report.changes.push(Change {
        pointer: block_pointer,
        from: Some(Value::String(original)),
        to: Some(Value::String(read.block)),
        rule: "cityBlock.ds442",
    });
    report.changes.push(Change {
        pointer: building_pointer.clone(),
        from: existing,
        to: Some(Value::String(building)),
        rule: "cityBlock.buildingSplit",
    });
    report.warnings.push(Located {
        pointer: building_pointer,
        issue: Issue::new(
            "city_block_building_split",
            Text::new(
                format!("番地以下の後ろにあった「{quoted}」を方書として方書欄に分けました。確認してください。"),
                format!("\"{quoted}\", written after the block number, was moved to buildingNameEtc as the building; check it."),
            ),
        ),
    });
    true
}
