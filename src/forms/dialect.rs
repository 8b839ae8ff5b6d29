//! Vendor dialects: a mapping file (`schemas/dialects/<name>.json`) that turns a vendor's
//! legacy field layout into a standard form document. Rules rename fields, split a full name,
//! join or split address parts, translate codes through tables, set constants and map lists
//! element by element. Every input field no rule reads is reported, so nothing is dropped
//! silently.

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;
use serde_json::{Map, Value};

use super::normalize::{Change, Issue, Located, Report};
use super::registry::Form;
use crate::i18n::Text;
use crate::tenancy::prefecture_names;
use crate::validation::{push_pointer_token, unescape_pointer_token};

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DialectFile {
    #[serde(rename = "$comment", default)]
    _comment: Option<String>,
    title: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    tables: BTreeMap<String, BTreeMap<String, Value>>,
    forms: BTreeMap<String, FormMapping>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FormMapping {
    rules: Vec<Rule>,
}

/// Where each part of a split address goes.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AddressTargets {
    prefecture: String,
    city: String,
    street_address: String,
    city_block: String,
    #[serde(default)]
    building_name_etc: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase", deny_unknown_fields)]
enum Rule {
    /// Copy one field to another place.
    Rename { from: String, to: String },
    /// `山田 太郎` → family name and given name, split at the first space.
    SplitName { from: String, to: [String; 2] },
    /// Join text fields with a separator.
    Join {
        from: Vec<String>,
        to: String,
        #[serde(default)]
        separator: String,
    },
    /// One address line → 都道府県 | 市区町村 | 町字 | 番地以下 | 方書.
    SplitAddress { from: String, to: AddressTargets },
    /// Translate a code through a table (named in `tables`, or given inline).
    Map {
        from: String,
        to: String,
        table: TableRef,
    },
    /// Put a constant.
    Set { to: String, value: Value },
    /// Map a list element by element; the inner rules' pointers are relative to an element.
    Each {
        from: String,
        to: String,
        rules: Vec<Rule>,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum TableRef {
    Named(String),
    Inline(BTreeMap<String, Value>),
}

/// A loaded dialect.
#[derive(Debug, Clone)]
pub struct Dialect {
    pub name: String,
    pub title: String,
    pub description: Option<String>,
    tables: BTreeMap<String, BTreeMap<String, Value>>,
    forms: BTreeMap<(String, String), Vec<Rule>>,
}

fn check_pointer(p: &str) -> Result<(), String> {
    if p.is_empty() || p.starts_with('/') {
        Ok(())
    } else {
        Err(format!(
            "\"{p}\" is not a JSON pointer (it must start with /)"
        ))
    }
}

fn check_rules(
    rules: &[Rule],
    tables: &BTreeMap<String, BTreeMap<String, Value>>,
) -> Result<(), String> {
    for rule in rules {
        match rule {
            Rule::Rename { from, to } => {
                [from, to].into_iter().try_for_each(|p| check_pointer(p))?
            }
            Rule::SplitName { from, to } => {
                check_pointer(from)?;
                to.iter().try_for_each(|p| check_pointer(p))?;
            }
            Rule::Join { from, to, .. } => {
                from.iter().try_for_each(|p| check_pointer(p))?;
                check_pointer(to)?;
            }
            Rule::SplitAddress { from, to } => {
                check_pointer(from)?;
                for p in [&to.prefecture, &to.city, &to.street_address, &to.city_block] {
                    check_pointer(p)?;
                }
            }
            Rule::Map { from, to, table } => {
                check_pointer(from)?;
                check_pointer(to)?;
                if let TableRef::Named(name) = table
                    && !tables.contains_key(name)
                {
                    return Err(format!(
                        "the code table \"{name}\" is not defined in tables"
                    ));
                }
            }
            Rule::Set { to, .. } => check_pointer(to)?,
            Rule::Each { from, to, rules } => {
                check_pointer(from)?;
                check_pointer(to)?;
                check_rules(rules, tables)?;
            }
        }
    }
    Ok(())
}

impl Dialect {
    pub fn parse(name: &str, text: &str) -> Result<Self, String> {
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err("a dialect's file name may hold only letters, digits, - and _".to_owned());
        }
        let file: DialectFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let mut forms = BTreeMap::new();
        for (target, mapping) in file.forms {
            let (id, version) = target
                .split_once('@')
                .ok_or_else(|| format!("the form key \"{target}\" must be <formId>@<version>"))?;
            check_rules(&mapping.rules, &file.tables).map_err(|e| format!("{target}: {e}"))?;
            forms.insert((id.to_owned(), version.to_owned()), mapping.rules);
        }
        Ok(Self {
            name: name.to_owned(),
            title: file.title,
            description: file.description,
            tables: file.tables,
            forms,
        })
    }

    /// The forms this dialect maps to, as (id, version).
    pub fn targets(&self) -> impl Iterator<Item = (&str, &str)> {
        self.forms.keys().map(|(i, v)| (i.as_str(), v.as_str()))
    }

    pub fn supports(&self, form: &Form) -> bool {
        self.forms
            .contains_key(&(form.id.clone(), form.version.clone()))
    }

    /// Translates a vendor document to the standard layout. A form the dialect does not
    /// cover passes through unchanged with an error.
    pub fn translate(&self, form: &Form, input: Value) -> (Value, Report) {
        let mut report = Report::default();
        let Some(rules) = self.forms.get(&(form.id.clone(), form.version.clone())) else {
            report.errors.push(Located {
                pointer: String::new(),
                issue: Issue::new(
                    "dialect_form_unsupported",
                    Text::new(
                        format!(
                            "方言「{}」は様式 {}@{} に対応していません。",
                            self.name, form.id, form.version
                        ),
                        format!(
                            "The dialect {} does not map form {}@{}.",
                            self.name, form.id, form.version
                        ),
                    ),
                ),
            });
            return (input, report);
        };
        let mut output = Value::Object(Map::new());
        let mut read = HashSet::new();
        let mut ctx = Ctx {
            dialect: self,
            form,
            report: &mut report,
            read: &mut read,
        };
        ctx.apply(rules, &input, "", &mut output, "");
        let mut unread = Vec::new();
        unmapped(&input, &mut String::new(), &read, &mut unread);
        for pointer in unread {
            report.warnings.push(Located {
                issue: Issue::new(
                    "dialect_unmapped_field",
                    Text::new(
                        format!("入力の項目「{pointer}」は方言「{}」の対応表にないため、標準様式に含めませんでした。", self.name),
                        format!("The input field {pointer} is not in the dialect {}'s mapping and was left out of the standard form.", self.name),
                    ),
                ),
                pointer,
            });
        }
        (output, report)
    }
}

/// Every leaf of the input that no rule read (nor any of its ancestors).
fn unmapped(value: &Value, at: &mut String, read: &HashSet<String>, out: &mut Vec<String>) {
    if read.contains(at.as_str()) {
        return;
    }
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let len = at.len();
                push_pointer_token(at, k);
                unmapped(v, at, read, out);
                at.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let len = at.len();
                at.push_str(&format!("/{i}"));
                unmapped(v, at, read, out);
                at.truncate(len);
            }
        }
        Value::Null => {}
        _ => out.push(at.clone()),
    }
}

struct Ctx<'a> {
    dialect: &'a Dialect,
    form: &'a Form,
    report: &'a mut Report,
    read: &'a mut HashSet<String>,
}

/// Sets `value` at `pointer` in `root`, creating objects on the way.
fn put(root: &mut Value, pointer: &str, value: Value) {
    let mut node = root;
    let tokens: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|t| unescape_pointer_token(t).into_owned())
        .collect();
    for (i, token) in tokens.iter().enumerate() {
        if !node.is_object() {
            *node = Value::Object(Map::new());
        }
        let Value::Object(map) = node else { return };
        if i + 1 == tokens.len() {
            map.insert(token.clone(), value);
            return;
        }
        node = map
            .entry(token.clone())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    *node = value;
}

fn is_space(c: char) -> bool {
    c == ' ' || c == '\u{3000}'
}

impl Ctx<'_> {
    fn get<'v>(&mut self, input: &'v Value, base: &str, pointer: &str) -> Option<&'v Value> {
        let value = input.pointer(pointer).filter(|v| !v.is_null());
        if value.is_some() {
            self.read.insert(format!("{base}{pointer}"));
        }
        value
    }

    fn write(
        &mut self,
        output: &mut Value,
        out_base: &str,
        to: &str,
        value: Value,
        from: Option<Value>,
        rule: &'static str,
    ) {
        let pointer = format!("{out_base}{to}");
        let secret = self
            .form
            .plan
            .at(&pointer)
            .and_then(|n| n.normalize)
            .is_some_and(|k| k.is_secret());
        self.report.changes.push(Change {
            pointer: pointer.clone(),
            from: if secret { None } else { from },
            to: if secret { None } else { Some(value.clone()) },
            rule,
        });
        put(output, to, value);
    }

    fn issue(&mut self, pointer: String, code: &'static str, ja: String, en: String) {
        self.report.errors.push(Located {
            pointer,
            issue: Issue::new(code, Text::new(ja, en)),
        });
    }

    fn apply(
        &mut self,
        rules: &[Rule],
        input: &Value,
        in_base: &str,
        output: &mut Value,
        out_base: &str,
    ) {
        for rule in rules {
            match rule {
                Rule::Rename { from, to } => {
                    if let Some(v) = self.get(input, in_base, from) {
                        self.write(
                            output,
                            out_base,
                            to,
                            v.clone(),
                            Some(v.clone()),
                            "dialect.rename",
                        );
                    }
                }
                Rule::Set { to, value } => {
                    self.write(output, out_base, to, value.clone(), None, "dialect.set");
                }
                Rule::SplitName { from, to } => {
                    let Some(v) = self.get(input, in_base, from).cloned() else {
                        continue;
                    };
                    let Some(full) = v.as_str() else { continue };
                    let full = full.trim_matches(is_space);
                    match full.split_once(is_space) {
                        Some((family, given)) => {
                            let given = given.trim_start_matches(is_space);
                            self.write(
                                output,
                                out_base,
                                &to[0],
                                family.into(),
                                Some(v.clone()),
                                "dialect.splitName",
                            );
                            self.write(
                                output,
                                out_base,
                                &to[1],
                                given.into(),
                                Some(v.clone()),
                                "dialect.splitName",
                            );
                        }
                        None => {
                            self.write(
                                output,
                                out_base,
                                &to[0],
                                full.into(),
                                Some(v.clone()),
                                "dialect.splitName",
                            );
                            self.report.warnings.push(Located {
                                pointer: format!("{out_base}{}", to[1]),
                                issue: Issue::new(
                                    "dialect_name_not_split",
                                    Text::new(
                                        "氏名に空白がないため氏と名を分けられませんでした。全体を氏に入れたので、名を確認してください。",
                                        "The full name has no space, so family and given name could not be split; all of it went to the family name. Check the given name.",
                                    ),
                                ),
                            });
                        }
                    }
                }
                Rule::Join {
                    from,
                    to,
                    separator,
                } => {
                    let parts: Vec<String> = from
                        .iter()
                        .filter_map(|p| {
                            self.get(input, in_base, p)
                                .and_then(Value::as_str)
                                .map(str::to_owned)
                        })
                        .filter(|s| !s.is_empty())
                        .collect();
                    if !parts.is_empty() {
                        let joined = parts.join(separator);
                        self.write(output, out_base, to, joined.into(), None, "dialect.join");
                    }
                }
                Rule::SplitAddress { from, to } => {
                    let Some(v) = self.get(input, in_base, from).cloned() else {
                        continue;
                    };
                    let Some(line) = v.as_str() else { continue };
                    match split_address(line) {
                        Some(parts) => {
                            let targets = [
                                (Some(&to.prefecture), parts.prefecture),
                                (Some(&to.city), parts.city),
                                (Some(&to.street_address), parts.street_address),
                                (Some(&to.city_block), parts.city_block),
                                (to.building_name_etc.as_ref(), parts.building),
                            ];
                            for (target, part) in targets {
                                if let (Some(target), Some(part)) = (target, part) {
                                    self.write(output, out_base, target, part.into(), Some(v.clone()), "dialect.splitAddress");
                                }
                            }
                        }
                        None => self.issue(
                            format!("{out_base}{}", to.prefecture),
                            "dialect_address_unsplittable",
                            "住所を都道府県・市区町村・町字・番地に分けられませんでした。都道府県名から入力してください。".to_owned(),
                            "The address could not be split into prefecture, city, street and block; it must start with the prefecture.".to_owned(),
                        ),
                    }
                }
                Rule::Map { from, to, table } => {
                    let Some(v) = self.get(input, in_base, from).cloned() else {
                        continue;
                    };
                    let key = match &v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    let table = match table {
                        TableRef::Named(name) => self.dialect.tables.get(name),
                        TableRef::Inline(t) => Some(t),
                    };
                    match table.and_then(|t| t.get(&key)) {
                        Some(mapped) => self.write(
                            output,
                            out_base,
                            to,
                            mapped.clone(),
                            Some(v.clone()),
                            "dialect.map",
                        ),
                        None => {
                            let known = table
                                .map(|t| t.keys().cloned().collect::<Vec<_>>().join(", "))
                                .unwrap_or_default();
                            let key = super::normalize::codes::quotable(&key);
                            self.issue(
                                format!("{out_base}{to}"),
                                "dialect_unknown_code",
                                format!("入力の項目「{in_base}{from}」のコード「{key}」は対応表にありません(使えるコード: {known})。"),
                                format!("The code \"{key}\" of input field {in_base}{from} is not in the table (known codes: {known})."),
                            );
                        }
                    }
                }
                Rule::Each { from, to, rules } => {
                    let Some(Value::Array(items)) = input.pointer(from) else {
                        continue;
                    };
                    let mut out_items = Vec::with_capacity(items.len());
                    for (i, item) in items.iter().enumerate() {
                        let mut element = Value::Object(Map::new());
                        let item_in = format!("{in_base}{from}/{i}");
                        let item_out = format!("{out_base}{to}/{i}");
                        self.apply(rules, item, &item_in, &mut element, &item_out);
                        out_items.push(element);
                    }
                    put(output, to, Value::Array(out_items));
                }
            }
        }
    }
}

/// The parts of an address line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressParts {
    pub prefecture: Option<String>,
    pub city: Option<String>,
    pub street_address: Option<String>,
    pub city_block: Option<String>,
    pub building: Option<String>,
}

fn is_block_char(c: char) -> bool {
    c.is_ascii_digit() || ('０'..='９').contains(&c) || super::normalize::width::is_kanji_numeral(c)
}

/// Whether `s` is all 番地以下: numbers joined by 丁目, 番(地), 号, の or hyphens.
fn is_block(s: &str) -> bool {
    let mut chars = s.chars().peekable();
    let mut groups = 0;
    while chars.peek().is_some() {
        let mut digits = 0;
        while chars.peek().is_some_and(|c| is_block_char(*c)) {
            chars.next();
            digits += 1;
        }
        if digits == 0 {
            return false;
        }
        groups += 1;
        let rest: String = chars.clone().collect();
        for sep in ["丁目", "番地", "番", "号", "の", "-", "－", "ー", "‐"] {
            if rest.starts_with(sep) {
                for _ in 0..sep.chars().count() {
                    chars.next();
                }
                break;
            }
        }
    }
    groups > 0
}

/// The byte offset just past the first of `marks` among the first `within` characters of
/// `text`.
fn past_mark(text: &str, within: usize, marks: &[char]) -> Option<usize> {
    text.char_indices()
        .take(within)
        .find(|(_, c)| marks.contains(c))
        .map(|(i, c)| i + c.len_utf8())
}

/// Splits `北海道北見市北5条東2丁目3番地 コーポ北見101` into its parts. Cities are found by
/// their suffix (市, 区, 町, 村, with 郡 and the wards of designated cities), 番地以下 as the
/// longest tail of numbers, 方書 after the first space that follows it.
pub fn split_address(line: &str) -> Option<AddressParts> {
    let line = line.trim_matches(is_space);
    let (main, building) = match line.char_indices().find(|(_, c)| is_space(*c)) {
        Some((i, c)) => (
            &line[..i],
            Some(line[i + c.len_utf8()..].trim_matches(is_space).to_owned()),
        ),
        None => (line, None),
    };
    let prefecture = prefecture_names().find(|p| main.starts_with(p))?;
    let rest = &main[prefecture.len()..];
    let mut city_end = None;
    // A name has at least two characters: the first is never its suffix.
    for (i, c) in rest.char_indices().skip(1) {
        let end = i + c.len_utf8();
        let after = &rest[end..];
        // 余市郡, 高市郡: a 市 (or 町, 村, 区) right before 郡 belongs to the district's name.
        if matches!(c, '市' | '町' | '村' | '区') && after.starts_with('郡') {
            continue;
        }
        match c {
            '市' => {
                // 四日市市, 廿日市市: a 市 followed by 市 belongs to the name.
                if after.starts_with('市') {
                    continue;
                }
                // 札幌市中央区: a designated city's ward follows within a few characters.
                city_end = Some(end + past_mark(after, 5, &['区']).unwrap_or(0));
                break;
            }
            '郡' => {
                city_end = past_mark(after, usize::MAX, &['町', '村']).map(|j| end + j);
                break;
            }
            '町' | '村' => {
                // 大町市, 十日町市, 東村山市, 羽村市: outside a 郡 (every town and village
                // but a few on Tokyo's islands is in one), a 市 close behind ends the name.
                city_end = Some(end + past_mark(after, 3, &['市']).unwrap_or(0));
                break;
            }
            '区' => {
                city_end = Some(end);
                break;
            }
            _ => {}
        }
    }
    let city_end = city_end?;
    let city = &rest[..city_end];
    let tail = &rest[city_end..];
    let block_start = tail
        .char_indices()
        .map(|(i, _)| i)
        .find(|&i| is_block(&tail[i..]));
    let (street, block) = match block_start {
        Some(i) => (&tail[..i], Some(tail[i..].to_owned())),
        None => (tail, None),
    };
    Some(AddressParts {
        prefecture: Some(prefecture.to_owned()),
        city: Some(city.to_owned()),
        street_address: (!street.is_empty()).then(|| street.to_owned()),
        city_block: block,
        building: building.filter(|b| !b.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(line: &str) -> (String, String, String, String, String) {
        let p = split_address(line).unwrap();
        (
            p.prefecture.unwrap_or_default(),
            p.city.unwrap_or_default(),
            p.street_address.unwrap_or_default(),
            p.city_block.unwrap_or_default(),
            p.building.unwrap_or_default(),
        )
    }

    #[test]
    fn addresses_split_into_ds442_parts() {
        assert_eq!(
            parts("北海道北見市北5条東2丁目3番地　コーポ北見101"),
            (
                "北海道".into(),
                "北見市".into(),
                "北5条東".into(),
                "2丁目3番地".into(),
                "コーポ北見101".into()
            )
        );
        assert_eq!(
            parts("北海道札幌市中央区北1条西2丁目1"),
            (
                "北海道".into(),
                "札幌市中央区".into(),
                "北1条西".into(),
                "2丁目1".into(),
                "".into()
            )
        );
        assert_eq!(
            parts("三重県四日市市諏訪町1-5"),
            (
                "三重県".into(),
                "四日市市".into(),
                "諏訪町".into(),
                "1-5".into(),
                "".into()
            )
        );
        assert_eq!(
            parts("東京都千代田区霞が関二丁目一番二号"),
            (
                "東京都".into(),
                "千代田区".into(),
                "霞が関".into(),
                "二丁目一番二号".into(),
                "".into()
            )
        );
        assert_eq!(
            parts("北海道網走郡美幌町字美禽253番地"),
            (
                "北海道".into(),
                "網走郡美幌町".into(),
                "字美禽".into(),
                "253番地".into(),
                "".into()
            )
        );
        // Names holding 市, 町 or 村 before their end.
        for (line, city, street, block) in [
            ("長野県大町市大町1234", "大町市", "大町", "1234"),
            ("新潟県十日町市本町1-1", "十日町市", "本町", "1-1"),
            ("東京都東村山市本町1-2-3", "東村山市", "本町", "1-2-3"),
            ("東京都羽村市緑ヶ丘5-2-1", "羽村市", "緑ヶ丘", "5-2-1"),
            ("長崎県大村市玖島1-25", "大村市", "玖島", "1-25"),
            ("東京都町田市森野2-2-22", "町田市", "森野", "2-2-22"),
            ("千葉県市川市八幡1-1-1", "市川市", "八幡", "1-1-1"),
            (
                "北海道余市郡余市町黒川町19-1",
                "余市郡余市町",
                "黒川町",
                "19-1",
            ),
            (
                "奈良県高市郡高取町観覚寺990-1",
                "高市郡高取町",
                "観覚寺",
                "990-1",
            ),
            ("東京都大島町元町1-1-14", "大島町", "元町", "1-1-14"),
            (
                "長野県北佐久郡軽井沢町大字軽井沢1323",
                "北佐久郡軽井沢町",
                "大字軽井沢",
                "1323",
            ),
        ] {
            let (_, c, s, b, _) = parts(line);
            assert_eq!(
                (c.as_str(), s.as_str(), b.as_str()),
                (city, street, block),
                "{line}"
            );
        }
        assert!(split_address("北見市北5条東2丁目").is_none());
    }
}
