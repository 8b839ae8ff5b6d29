//! Turning JSON Schema errors into what a clerk reads: every error at once, each with a JSON
//! pointer, the failing keyword, a stable code and a message that names the field by the
//! Japanese label its schema gives (`title`).

use jsonschema::ValidationError;
use jsonschema::error::{TypeKind, ValidationErrorKind};
use serde_json::Value;

use super::instance::FormValidator;
use super::plan::PlanNode;
use crate::i18n::Text;
use crate::validation::push_pointer_token;

/// One thing wrong with a form document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormError {
    pub pointer: String,
    pub keyword: String,
    pub code: String,
    pub message: Text,
}

/// Every error of a document, in document order, without repeats.
pub fn errors(validator: &FormValidator, plan: &PlanNode, document: &Value) -> Vec<FormError> {
    let mut out = Vec::new();
    for error in validator.iter_errors(document) {
        map_error(&error, plan, &mut out);
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|e| seen.insert((e.pointer.clone(), e.code.clone())));
    out
}

/// The field's name in each language: its title, else its property name.
struct Label {
    ja: String,
    en: String,
}

fn label(node: Option<&PlanNode>, pointer: &str) -> Label {
    let label = super::plan::Label::of(node, pointer);
    let en = label.name.unwrap_or_else(|| "document".to_owned());
    Label {
        ja: label.title.unwrap_or_else(|| en.clone()),
        en,
    }
}

fn type_name(kind: &TypeKind) -> (String, String) {
    fn one(t: jsonschema::JsonType) -> (&'static str, String) {
        let ja = match t {
            jsonschema::JsonType::String => "文字列",
            jsonschema::JsonType::Integer => "整数",
            jsonschema::JsonType::Number => "数値",
            jsonschema::JsonType::Boolean => "true/false",
            jsonschema::JsonType::Array => "配列",
            jsonschema::JsonType::Object => "オブジェクト",
            jsonschema::JsonType::Null => "null",
        };
        (ja, t.to_string())
    }
    match kind {
        TypeKind::Single(t) => {
            let (ja, en) = one(*t);
            (ja.to_owned(), en)
        }
        TypeKind::Multiple(set) => {
            let (ja, en): (Vec<_>, Vec<_>) = set.iter().map(one).unzip();
            (ja.join("・"), en.join(" or "))
        }
    }
}

fn short(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn push(
    out: &mut Vec<FormError>,
    plan: &PlanNode,
    pointer: String,
    keyword: &str,
    code: &str,
    message: impl FnOnce(&Label) -> (String, String),
) {
    let node = plan.at(&pointer);
    let custom = node.and_then(|n| n.messages.get(keyword));
    let label = label(node, &pointer);
    let (code, message) = match custom {
        Some(m) => (
            m.code.clone(),
            Text::new(
                format!("「{}」{}", label.ja, m.ja),
                format!("{}: {}", label.en, m.en),
            ),
        ),
        None => {
            let (ja, en) = message(&label);
            (code.to_owned(), Text::new(ja, en))
        }
    };
    out.push(FormError {
        pointer,
        keyword: keyword.to_owned(),
        code,
        message,
    });
}

fn map_error(error: &ValidationError<'_>, plan: &PlanNode, out: &mut Vec<FormError>) {
    let at = error.instance_path().as_str().to_owned();
    let keyword = error.kind().keyword().to_owned();
    match error.kind() {
        ValidationErrorKind::Required { property } => {
            let name = short(property);
            let mut pointer = at.clone();
            push_pointer_token(&mut pointer, &name);
            push(out, plan, pointer, &keyword, "required", |l| {
                (
                    format!("「{}」は必須です。入力してください。", l.ja),
                    format!("{} is required.", l.en),
                )
            });
        }
        ValidationErrorKind::AdditionalProperties { unexpected }
        | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
            // A property the schema declares here counts as "unevaluated" when the subschema
            // declaring it failed (2020-12 drops its annotations); that failure is reported
            // on its own, so only truly unknown names are reported here.
            let declared = plan.at(&at).map(|n| &n.properties);
            let unknown = unexpected
                .iter()
                .filter(|name| !declared.is_some_and(|d| d.contains_key(name.as_str())));
            for name in unknown {
                let mut pointer = at.clone();
                push_pointer_token(&mut pointer, name);
                push(out, plan, pointer, &keyword, "unknown_field", |_| {
                    (
                        format!("項目「{name}」はこの様式にありません。項目名を確認してください。"),
                        format!("There is no field {name} in this form; check the field name."),
                    )
                });
            }
        }
        ValidationErrorKind::Type { kind } => {
            let (ja, en) = type_name(kind);
            push(out, plan, at, &keyword, "invalid_type", |l| {
                (
                    format!("「{}」は{ja}で入力してください。", l.ja),
                    format!("{} must be of type {en}.", l.en),
                )
            });
        }
        ValidationErrorKind::Enum { options } => {
            let list = match &**options {
                Value::Array(items) => items.iter().map(short).collect::<Vec<_>>().join(", "),
                other => short(other),
            };
            push(out, plan, at, &keyword, "not_in_list", |l| {
                (
                    format!("「{}」は次のいずれかにしてください: {list}", l.ja),
                    format!("{} must be one of: {list}", l.en),
                )
            });
        }
        ValidationErrorKind::Constant { expected_value } => {
            let v = short(expected_value);
            push(out, plan, at, &keyword, "invalid_constant", |l| {
                (
                    format!("「{}」は「{v}」にしてください。", l.ja),
                    format!("{} must be {v}.", l.en),
                )
            });
        }
        ValidationErrorKind::MinLength { limit } => {
            push(out, plan, at, &keyword, "too_short", |l| {
                (
                    format!("「{}」は{limit}文字以上で入力してください。", l.ja),
                    format!("{} must be at least {limit} characters.", l.en),
                )
            });
        }
        ValidationErrorKind::MaxLength { limit } => {
            push(out, plan, at, &keyword, "too_long", |l| {
                (
                    format!("「{}」は{limit}文字以内で入力してください。", l.ja),
                    format!("{} must be at most {limit} characters.", l.en),
                )
            });
        }
        ValidationErrorKind::Pattern { .. } => {
            push(out, plan, at, &keyword, "pattern_mismatch", |l| {
                (
                    format!("「{}」の形式が正しくありません。", l.ja),
                    format!("{} is not in the expected format.", l.en),
                )
            });
        }
        ValidationErrorKind::Format { format } => {
            let (code, ja, en) = match format.as_str() {
                "date" => (
                    "invalid_date",
                    "は実在する日付を YYYY-MM-DD の形で入力してください。",
                    "must be an existing day written YYYY-MM-DD.",
                ),
                "my-number" => (
                    "invalid_my_number",
                    "が正しくありません。個人番号は検査数字を含む12桁の数字です。",
                    "is not a valid individual number (12 digits with a check digit).",
                ),
                "lg-code" => (
                    "invalid_lg_code",
                    "が正しくありません。全国地方公共団体コードは検査数字を含む6桁です。",
                    "is not a valid local government code (6 digits with a check digit).",
                ),
                "email" => (
                    "invalid_email",
                    "はメールアドレスの形式で入力してください。",
                    "must be an e-mail address.",
                ),
                _ => (
                    "invalid_format",
                    "の形式が正しくありません。",
                    "is not in the expected format.",
                ),
            };
            push(out, plan, at, &keyword, code, |l| {
                (format!("「{}」{ja}", l.ja), format!("{} {en}", l.en))
            });
        }
        ValidationErrorKind::Minimum { limit }
        | ValidationErrorKind::ExclusiveMinimum { limit } => {
            push(out, plan, at, &keyword, "too_small", |l| {
                (
                    format!("「{}」は{limit}以上にしてください。", l.ja),
                    format!("{} must be at least {limit}.", l.en),
                )
            });
        }
        ValidationErrorKind::Maximum { limit }
        | ValidationErrorKind::ExclusiveMaximum { limit } => {
            push(out, plan, at, &keyword, "too_large", |l| {
                (
                    format!("「{}」は{limit}以下にしてください。", l.ja),
                    format!("{} must be at most {limit}.", l.en),
                )
            });
        }
        ValidationErrorKind::MinItems { limit } => {
            push(out, plan, at, &keyword, "too_few_items", |l| {
                (
                    format!("「{}」を{limit}件以上入力してください。", l.ja),
                    format!("{} needs at least {limit} entries.", l.en),
                )
            });
        }
        ValidationErrorKind::MaxItems { limit } => {
            push(out, plan, at, &keyword, "too_many_items", |l| {
                (
                    format!("「{}」は{limit}件までです。", l.ja),
                    format!("{} takes at most {limit} entries.", l.en),
                )
            });
        }
        ValidationErrorKind::UniqueItems => {
            push(out, plan, at, &keyword, "duplicate_items", |l| {
                (
                    format!("「{}」に同じ内容が重複しています。", l.ja),
                    format!("{} holds duplicate entries.", l.en),
                )
            });
        }
        ValidationErrorKind::FalseSchema | ValidationErrorKind::Not { .. } => {
            push(out, plan, at, &keyword, "not_allowed", |l| {
                (
                    format!("「{}」はこの届出の種類では入力できません。", l.ja),
                    format!("{} is not allowed for this kind of notification.", l.en),
                )
            });
        }
        ValidationErrorKind::OneOfNotValid { context } | ValidationErrorKind::AnyOf { context } => {
            // A schema that says what its alternatives mean (x-messages) is heard first.
            if plan
                .at(&at)
                .is_some_and(|n| n.messages.contains_key(keyword.as_str()))
            {
                push(out, plan, at, &keyword, "no_matching_alternative", |l| {
                    (l.ja.clone(), l.en.clone())
                });
                return;
            }
            // Otherwise report the errors of the alternative the value was meant to be: one
            // of the right type ("not a valid date" helps more than "matches none of the
            // alternatives"), then one of the right shape (no unknown fields), then the one
            // closest to fitting. An error inside an address then names the inner field.
            let shape_errors =
                |branch: &&Vec<ValidationError<'_>>, shape: fn(&ValidationErrorKind) -> bool| {
                    branch
                        .iter()
                        .any(|e| shape(e.kind()) && e.instance_path().as_str() == at)
                };
            let mut candidates: Vec<&Vec<ValidationError<'_>>> = context
                .iter()
                .filter(|b| !shape_errors(b, |k| matches!(k, ValidationErrorKind::Type { .. })))
                .collect();
            if candidates.len() > 1 {
                let shaped: Vec<_> = candidates
                    .iter()
                    .copied()
                    .filter(|b| {
                        !shape_errors(b, |k| {
                            matches!(
                                k,
                                ValidationErrorKind::AdditionalProperties { .. }
                                    | ValidationErrorKind::UnevaluatedProperties { .. }
                            )
                        })
                    })
                    .collect();
                if !shaped.is_empty() {
                    candidates = shaped;
                }
            }
            if candidates.len() > 1 {
                let fewest = candidates.iter().map(|b| b.len()).min().unwrap_or(0);
                candidates.retain(|b| b.len() == fewest);
            }
            if let [branch] = candidates.as_slice() {
                for e in branch.iter() {
                    map_error(e, plan, out);
                }
            } else {
                push(out, plan, at, &keyword, "no_matching_alternative", |l| {
                    (
                        format!("「{}」の内容がどの形式にも当てはまりません。", l.ja),
                        format!("{} matches none of the accepted shapes.", l.en),
                    )
                });
            }
        }
        ValidationErrorKind::OneOfMultipleValid { .. } => {
            push(out, plan, at, &keyword, "ambiguous_alternative", |l| {
                (
                    format!(
                        "「{}」の内容が複数の形式に当てはまり、判別できません。",
                        l.ja
                    ),
                    format!("{} matches more than one accepted shape.", l.en),
                )
            });
        }
        _ => {
            push(out, plan, at, &keyword, "invalid", |l| {
                (
                    format!("「{}」の内容が正しくありません({keyword})。", l.ja),
                    format!("{} is invalid ({keyword}).", l.en),
                )
            });
        }
    }
}
