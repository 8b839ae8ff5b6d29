//! Dates as clerks write them (DS-441, JIS X 0301): 和暦 in every common form, 西暦, and the
//! approximate or unknown dates the resident registry allows.
//!
//! Hand-written: no maintained crate reads 和暦 with era overflow, 元年, kanji numerals and
//! the registry's approximate dates, and the era table must stay data.

use chrono::{Datelike, NaiveDate};
use serde_json::{Value, json};

use super::width::{fold_code, kanji_numerals_to_digits};
use super::{FieldOutcome, Issue};
use crate::forms::era::{Era, EraTable, last_day_of_month};
use crate::i18n::Text;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    Day,
    Month,
    Year,
    None,
}

impl Precision {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Month => "month",
            Self::Year => "year",
            Self::None => "none",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qualifier {
    Exact,
    About,
    Spring,
    Summer,
    Autumn,
    Winter,
    Early,
    Middle,
    Late,
    Unknown,
}

impl Qualifier {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exact => "exact",
            Self::About => "about",
            Self::Spring => "spring",
            Self::Summer => "summer",
            Self::Autumn => "autumn",
            Self::Winter => "winter",
            Self::Early => "early",
            Self::Middle => "middle",
            Self::Late => "late",
            Self::Unknown => "unknown",
        }
    }
}

/// A date as read, before it is checked against the calendar and the eras.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadDate {
    pub era_index: Option<usize>,
    /// The Gregorian year.
    pub year: Option<i32>,
    pub month: Option<u32>,
    pub day: Option<u32>,
    pub qualifier: Qualifier,
}

impl ReadDate {
    pub fn precision(&self) -> Precision {
        match (self.year, self.month, self.day) {
            (Some(_), Some(_), Some(_)) => Precision::Day,
            (Some(_), Some(_), None) => Precision::Month,
            (Some(_), None, _) => Precision::Year,
            _ => Precision::None,
        }
    }

    /// ISO 8601 at the date's precision: `2020`, `2020-03` or `2020-03-01`.
    pub fn iso(&self) -> Option<String> {
        let y = self.year?;
        Some(match (self.month, self.day) {
            (Some(m), Some(d)) => format!("{y:04}-{m:02}-{d:02}"),
            (Some(m), None) => format!("{y:04}-{m:02}"),
            _ => format!("{y:04}"),
        })
    }

    /// The first and the last day the date can mean.
    fn range(&self) -> Option<(NaiveDate, NaiveDate)> {
        let y = self.year?;
        match (self.month, self.day) {
            (Some(m), Some(d)) => NaiveDate::from_ymd_opt(y, m, d).map(|day| (day, day)),
            (Some(m), None) => Some((NaiveDate::from_ymd_opt(y, m, 1)?, last_day_of_month(y, m)?)),
            _ => Some((
                NaiveDate::from_ymd_opt(y, 1, 1)?,
                NaiveDate::from_ymd_opt(y, 12, 31)?,
            )),
        }
    }
}

fn unreadable(original: &str) -> Issue {
    Issue::new(
        "date_unreadable",
        Text::new(
            format!(
                "「{original}」を日付として読めません。「令和6年3月1日」「R6.3.1」「2024-03-01」のように入力してください。"
            ),
            format!(
                "\"{original}\" cannot be read as a date. Write it like 令和6年3月1日, R6.3.1 or 2024-03-01."
            ),
        ),
    )
}

/// Leading ASCII digits and the rest.
fn digits(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s.split_at(end)
}

fn number(d: &str) -> Option<u32> {
    if d.is_empty() || d.len() > 4 {
        None
    } else {
        d.parse().ok()
    }
}

/// What may follow a date: `頃`, a season, a part of a month, or `不詳`.
fn qualifier(rest: &str, precision: Precision) -> Option<Qualifier> {
    let q = match rest {
        "" => Qualifier::Exact,
        "頃" | "ごろ" | "ころ" | "位" | "くらい" => Qualifier::About,
        "春" | "春頃" if precision == Precision::Year => Qualifier::Spring,
        "夏" | "夏頃" if precision == Precision::Year => Qualifier::Summer,
        "秋" | "秋頃" if precision == Precision::Year => Qualifier::Autumn,
        "冬" | "冬頃" if precision == Precision::Year => Qualifier::Winter,
        "上旬" | "初旬" | "初め" | "はじめ" if precision == Precision::Month => {
            Qualifier::Early
        }
        "中旬" | "半ば" if precision == Precision::Month => Qualifier::Middle,
        "下旬" | "末" | "終わり" if precision == Precision::Month => Qualifier::Late,
        "不詳" | "不明" | "月日不詳" | "月不詳" | "日不詳" | "月日不明" | "日不明"
            if precision != Precision::Day =>
        {
            Qualifier::Unknown
        }
        _ => return None,
    };
    Some(q)
}

/// Reads the written form of a date without judging it.
pub fn read(table: &EraTable, original: &str) -> Result<ReadDate, Issue> {
    let folded: String = kanji_numerals_to_digits(&fold_code(original))
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let s = folded.as_str();
    let fail = || unreadable(original);

    if matches!(s, "年月日不詳" | "年月日不明" | "不詳" | "不明") {
        return Ok(ReadDate {
            era_index: None,
            year: None,
            month: None,
            day: None,
            qualifier: Qualifier::Unknown,
        });
    }

    let (era, mut rest) = if let Some(r) = s.strip_prefix("西暦") {
        (None, r)
    } else if let Some((era, len)) = table.match_prefix(s) {
        let index = table.eras().iter().position(|e| std::ptr::eq(e, era));
        (index.map(|i| (i, era)), &s[len..])
    } else {
        (None, s)
    };

    // Compact forms: 20240301, and R060301 after an era.
    let (run, after) = digits(rest);
    let compact = match (era, run.len()) {
        (None, 8) => Some((&run[..4], &run[4..6], &run[6..])),
        (Some(_), 6) => Some((&run[..2], &run[2..4], &run[4..])),
        _ => None,
    };
    let mut parts: Vec<u32> = Vec::with_capacity(3);
    if let Some((y, m, d)) = compact.filter(|_| qualifier(after, Precision::Day).is_some()) {
        parts = vec![
            number(y).ok_or_else(fail)?,
            number(m).ok_or_else(fail)?,
            number(d).ok_or_else(fail)?,
        ];
        rest = after;
    } else {
        // year, then month, then day, each closed by 年/月/日 or by one separator style.
        let mut separator: Option<char> = None;
        for (index, unit) in ['年', '月', '日'].into_iter().enumerate() {
            let value = if index == 0 && era.is_some() && rest.starts_with('元') {
                rest = &rest['元'.len_utf8()..];
                1
            } else {
                let (run, after) = digits(rest);
                match number(run) {
                    Some(v) => {
                        rest = after;
                        v
                    }
                    None => break,
                }
            };
            parts.push(value);
            if let Some(r) = rest.strip_prefix(unit) {
                rest = r;
                if separator.is_some() {
                    return Err(fail());
                }
                continue;
            }
            let next = rest.chars().next();
            match (next, separator) {
                (Some(c @ ('.' | '/' | '-')), None) if index < 2 => {
                    separator = Some(c);
                    rest = &rest[1..];
                }
                (Some(c), Some(sep)) if c == sep && index < 2 => rest = &rest[1..],
                _ => break,
            }
        }
    }

    let year = match (era, parts.first()) {
        (Some((_, era)), Some(&n)) => {
            if n == 0 {
                return Err(Issue::new(
                    "date_era_year_zero",
                    Text::new(
                        format!("「{original}」: 和暦の年は元年(1年)から数えます。"),
                        format!("\"{original}\": era years start at 1 (元年)."),
                    ),
                ));
            }
            Some(era.gregorian_year(n))
        }
        (None, Some(&n)) if run_is_gregorian(n) => Some(n as i32),
        (None, Some(_)) => {
            return Err(Issue::new(
                "date_year_ambiguous",
                Text::new(
                    format!(
                        "「{original}」の年が読めません。西暦は4桁で、和暦は元号を付けて入力してください。"
                    ),
                    format!(
                        "The year of \"{original}\" is ambiguous: write a Western year with 4 digits, or put the era before a Japanese year."
                    ),
                ),
            ));
        }
        (_, None) => return Err(fail()),
    };
    let read = ReadDate {
        era_index: era.map(|(i, _)| i),
        year,
        month: parts.get(1).copied(),
        day: parts.get(2).copied(),
        qualifier: Qualifier::Exact,
    };
    let q = qualifier(rest, read.precision()).ok_or_else(fail)?;
    Ok(ReadDate {
        qualifier: q,
        ..read
    })
}

fn run_is_gregorian(n: u32) -> bool {
    (1000..=9999).contains(&n)
}

fn ja_date(d: NaiveDate) -> String {
    format!("{}年{}月{}日", d.year(), d.month(), d.day())
}

/// Checks a read date against the calendar and its era: an error for a day that does not
/// exist or precedes its era, a warning (with the proper spelling) past the era's end.
pub fn check(table: &EraTable, original: &str, date: &ReadDate) -> Result<Vec<Issue>, Issue> {
    let mut warnings = Vec::new();
    if let Some(m) = date.month
        && !(1..=12).contains(&m)
    {
        return Err(Issue::new(
            "date_invalid_month",
            Text::new(
                format!("「{original}」: {m}月はありません。月は1〜12です。"),
                format!("\"{original}\": there is no month {m}; months run from 1 to 12."),
            ),
        ));
    }
    let Some((first, last)) = date.range() else {
        if date.year.is_none() {
            return Ok(warnings);
        }
        let (y, m, d) = (
            date.year.unwrap_or(0),
            date.month.unwrap_or(0),
            date.day.unwrap_or(0),
        );
        let days = last_day_of_month(y, m).map_or(31, |l| l.day());
        return Err(Issue::new(
            "date_nonexistent_day",
            Text::new(
                format!("「{original}」: {y}年{m}月{d}日は存在しません({m}月は{days}日までです)。"),
                format!(
                    "\"{original}\": {y}-{m:02}-{d:02} does not exist (month {m} has {days} days)."
                ),
            ),
        ));
    };
    let Some(era) = date.era_index.and_then(|i| table.eras().get(i)) else {
        return Ok(warnings);
    };
    let proper = |table: &EraTable| match date.precision() {
        Precision::Day => table.wareki_day(first),
        Precision::Month => table.wareki_partial(first.year(), date.month),
        _ => table.wareki_partial(first.year(), None),
    };
    if last < era.start {
        let suggestion = proper(table);
        let hint = suggestion
            .as_deref()
            .map(|s| format!("この日は「{s}」と書きます。"))
            .unwrap_or_default();
        let hint_en = suggestion
            .as_deref()
            .map(|s| format!(" That day is written {s}."))
            .unwrap_or_default();
        return Err(Issue::new(
            "date_before_era",
            Text::new(
                format!(
                    "「{original}」は{}の始まり({})より前です。{hint}",
                    era.name,
                    ja_date(era.start)
                ),
                format!(
                    "\"{original}\" is before the {} era began on {}.{hint_en}",
                    era.latin, era.start
                ),
            ),
        )
        .with_suggestion(suggestion));
    }
    if let Some(from) = era.gregorian_from
        && first < from
    {
        return Err(lunisolar(original, era, from));
    }
    if let Some(end) = era.end
        && first > end
    {
        let suggestion = proper(table);
        let s = suggestion.clone().unwrap_or_default();
        warnings.push(
            Issue::new(
                "date_era_overflow",
                Text::new(
                    format!(
                        "「{original}」は{}の終わり({})より後の日付です。日付はそのまま読みましたが、正しくは「{s}」です。",
                        era.name,
                        ja_date(end)
                    ),
                    format!(
                        "\"{original}\" is after the {} era ended on {end}. The date was read as written; properly it is {s}.",
                        era.latin
                    ),
                ),
            )
            .with_suggestion(suggestion),
        );
    }
    Ok(warnings)
}

fn lunisolar(original: &str, era: &Era, from: NaiveDate) -> Issue {
    Issue::new(
        "date_lunisolar",
        Text::new(
            format!(
                "「{original}」は太陽暦の採用({})より前の{}の日付で、旧暦のため西暦に変換できません。",
                ja_date(from),
                era.name
            ),
            format!(
                "\"{original}\" is a {} date before the Gregorian calendar was adopted on {from}; lunisolar dates cannot be converted.",
                era.latin
            ),
        ),
    )
}

/// The JSON form of a registry date: an ISO string when the day is known exactly, otherwise an
/// object keeping precision, qualifier and what was written.
pub fn to_value(date: &ReadDate, original: &str) -> Value {
    if date.precision() == Precision::Day && date.qualifier == Qualifier::Exact {
        return Value::String(date.iso().unwrap_or_default());
    }
    json!({
        "value": date.iso(),
        "precision": date.precision().as_str(),
        "qualifier": date.qualifier.as_str(),
        "text": original,
    })
}

/// Normalizes one date as typed. `approximate` says whether the field accepts the
/// registry's approximate and unknown dates or needs an exact day.
pub fn normalize(
    table: &EraTable,
    original: &str,
    approximate: bool,
) -> Result<FieldOutcome, Issue> {
    let trimmed = original.trim();
    if super::codes::could_be_my_number(trimmed) {
        // Date messages quote the input; this input may be a 個人番号.
        return Err(unreadable(&super::codes::quotable(trimmed)));
    }
    let date = read(table, trimmed)?;
    let warnings = check(table, trimmed, &date)?;
    let exact = date.precision() == Precision::Day && date.qualifier == Qualifier::Exact;
    if !exact && !approximate {
        return Err(Issue::new(
            "date_not_exact",
            Text::new(
                format!(
                    "「{trimmed}」は日まで特定された日付ではありません。この項目には年月日を入力してください。"
                ),
                format!("\"{trimmed}\" is not an exact day; this field needs year, month and day."),
            ),
        ));
    }
    let rule = if !exact {
        "date.approximate"
    } else if date.era_index.is_some() {
        "date.wareki"
    } else {
        "date.gregorian"
    };
    Ok(FieldOutcome {
        value: to_value(&date, trimmed),
        rule,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> EraTable {
        EraTable::parse(include_str!("../../../schemas/reference/eras.json")).unwrap()
    }

    fn exact(input: &str) -> String {
        let out = normalize(&table(), input, false).unwrap_or_else(|e| panic!("{input}: {e:?}"));
        out.value.as_str().unwrap().to_owned()
    }

    fn error(input: &str) -> &'static str {
        normalize(&table(), input, true).unwrap_err().code
    }

    #[test]
    fn every_common_written_form() {
        for (input, expected) in [
            ("令和6年3月1日", "2024-03-01"),
            ("令和元年5月1日", "2019-05-01"),
            ("令和元年12月31日", "2019-12-31"),
            ("R6.3.1", "2024-03-01"),
            ("r6.3.1", "2024-03-01"),
            ("R06.03.01", "2024-03-01"),
            ("令06.03.01", "2024-03-01"),
            ("令和６年３月１日", "2024-03-01"),
            ("Ｒ６．３．１", "2024-03-01"),
            ("令和六年三月一日", "2024-03-01"),
            ("平成三十一年四月三十日", "2019-04-30"),
            ("R060301", "2024-03-01"),
            ("H1.1.8", "1989-01-08"),
            ("平成元年1月8日", "1989-01-08"),
            ("㍻元年1月8日", "1989-01-08"),
            ("昭和64年1月7日", "1989-01-07"),
            ("昭和元年12月25日", "1926-12-25"),
            ("S63/12/31", "1988-12-31"),
            ("大正15年12月24日", "1926-12-24"),
            ("大正元年7月30日", "1912-07-30"),
            ("明治45年7月29日", "1912-07-29"),
            ("明治6年1月1日", "1873-01-01"),
            ("2024-03-01", "2024-03-01"),
            ("2024/3/1", "2024-03-01"),
            ("2024.03.01", "2024-03-01"),
            ("2024年3月1日", "2024-03-01"),
            ("西暦2024年3月1日", "2024-03-01"),
            ("二〇二四年三月一日", "2024-03-01"),
            ("20240301", "2024-03-01"),
            ("２０２４－０３－０１", "2024-03-01"),
            (" 令和 6年 3月 1日 ", "2024-03-01"),
            ("2024-02-29", "2024-02-29"),
        ] {
            assert_eq!(exact(input), expected, "{input}");
        }
    }

    #[test]
    fn every_era_boundary() {
        let t = table();
        for pair in t.eras().windows(2) {
            let (old, new) = (&pair[0], &pair[1]);
            let end = old.end.unwrap();
            let last_year = end.year() - old.start.year() + 1;
            // The last day of the old era, written in the old era: no warning.
            let last = format!(
                "{}{}年{}月{}日",
                old.name,
                last_year,
                end.month(),
                end.day()
            );
            let out = normalize(&t, &last, false).unwrap();
            assert_eq!(out.value, end.to_string(), "{last}");
            assert!(out.warnings.is_empty(), "{last}");
            // The first day of the new era, written as 元年.
            let first = format!(
                "{}元年{}月{}日",
                new.name,
                new.start.month(),
                new.start.day()
            );
            assert_eq!(exact(&first), new.start.to_string(), "{first}");
            if end == new.start {
                // 明治→大正, 大正→昭和: the changeover day belongs to both; no warning either way.
                let both = format!("{}元年{}月{}日", new.name, end.month(), end.day());
                let out = normalize(&t, &both, false).unwrap();
                assert_eq!(out.value, end.to_string(), "{both}");
                assert!(out.warnings.is_empty(), "{both}");
                let after = end.succ_opt().unwrap();
                let over = format!(
                    "{}{}年{}月{}日",
                    old.name,
                    last_year + i32::from(after.year() != end.year()),
                    after.month(),
                    after.day()
                );
                let out = normalize(&t, &over, false).unwrap();
                assert_eq!(out.warnings[0].code, "date_era_overflow", "{over}");
                continue;
            }
            // The new era's first day written in the old era: read, with a warning.
            let over = format!(
                "{}{}年{}月{}日",
                old.name,
                last_year,
                new.start.month(),
                new.start.day()
            );
            let out = normalize(&t, &over, false).unwrap();
            assert_eq!(out.value, new.start.to_string(), "{over}");
            assert_eq!(out.warnings[0].code, "date_era_overflow", "{over}");
            assert_eq!(out.warnings[0].suggestion.as_deref(), Some(first.as_str()));
            // The old era's last day written in the new era: an error naming the proper form.
            let before = format!("{}元年{}月{}日", new.name, end.month(), end.day());
            let err = normalize(&t, &before, false).unwrap_err();
            assert_eq!(err.code, "date_before_era", "{before}");
            assert_eq!(err.suggestion.as_deref(), Some(last.as_str()));
        }
    }

    #[test]
    fn the_changeover_days_of_meiji_and_taisho_have_two_proper_spellings() {
        for (old, new, iso) in [
            ("明治45年7月30日", "大正元年7月30日", "1912-07-30"),
            ("大正15年12月25日", "昭和元年12月25日", "1926-12-25"),
        ] {
            for written in [old, new] {
                let out = normalize(&table(), written, false).unwrap();
                assert_eq!(out.value, iso, "{written}");
                assert!(out.warnings.is_empty(), "{written}: {:?}", out.warnings);
            }
        }
        // The day after is 大正 / 昭和 only.
        let out = normalize(&table(), "明治45年7月31日", false).unwrap();
        assert_eq!(out.warnings[0].code, "date_era_overflow");
        // 昭和64年1月7日 and 平成元年1月8日 do not overlap.
        let out = normalize(&table(), "昭和64年1月8日", false).unwrap();
        assert_eq!(out.warnings[0].code, "date_era_overflow");
    }

    #[test]
    fn a_my_number_typed_as_a_date_is_not_quoted() {
        let err = normalize(&table(), "1234 5678 9018", true).unwrap_err();
        assert_eq!(err.code, "date_unreadable");
        assert!(!err.message.ja.contains("5678") && !err.message.en.contains("5678"));
    }

    #[test]
    fn the_issue_examples() {
        let t = table();
        let out = normalize(&t, "平成31年5月1日", false).unwrap();
        assert_eq!(out.value, "2019-05-01");
        assert_eq!(
            out.warnings[0].suggestion.as_deref(),
            Some("令和元年5月1日")
        );
        let out = normalize(&t, "昭和64年1月8日", false).unwrap();
        assert_eq!(out.value, "1989-01-08");
        assert_eq!(
            out.warnings[0].suggestion.as_deref(),
            Some("平成元年1月8日")
        );
        let err = normalize(&t, "令和元年4月30日", false).unwrap_err();
        assert_eq!(err.code, "date_before_era");
        assert!(
            err.message.ja.contains("平成31年4月30日"),
            "{}",
            err.message.ja
        );
    }

    #[test]
    fn impossible_and_unreadable_dates_are_errors_that_say_why() {
        assert_eq!(error("令和6年2月30日"), "date_nonexistent_day");
        assert_eq!(error("2023-02-29"), "date_nonexistent_day");
        assert_eq!(error("令和6年13月1日"), "date_invalid_month");
        assert_eq!(error("令和0年1月1日"), "date_era_year_zero");
        assert_eq!(error("明治5年12月2日"), "date_lunisolar");
        assert_eq!(error("24/3/1"), "date_year_ambiguous");
        assert_eq!(error("きのう"), "date_unreadable");
        assert_eq!(error("令和6年3月1日ごろ過ぎ"), "date_unreadable");
        assert_eq!(error(""), "date_unreadable");
        let message = normalize(&table(), "令和6年2月30日", true)
            .unwrap_err()
            .message;
        assert!(message.ja.contains("29日まで"), "{}", message.ja);
    }

    #[test]
    fn approximate_and_unknown_dates_keep_precision_qualifier_and_text() {
        let t = table();
        for (input, value, precision, qualifier) in [
            ("令和2年頃", Some("2020"), "year", "about"),
            ("令和2年春", Some("2020"), "year", "spring"),
            ("令和2年3月", Some("2020-03"), "month", "exact"),
            ("令和2年3月上旬", Some("2020-03"), "month", "early"),
            ("令和2年3月下旬", Some("2020-03"), "month", "late"),
            ("令和2年月日不詳", Some("2020"), "year", "unknown"),
            ("令和2年3月日不詳", Some("2020-03"), "month", "unknown"),
            ("年月日不詳", None, "none", "unknown"),
            ("昭和20年頃", Some("1945"), "year", "about"),
            ("令和2年3月1日頃", Some("2020-03-01"), "day", "about"),
        ] {
            let out = normalize(&t, input, true).unwrap_or_else(|e| panic!("{input}: {e:?}"));
            assert_eq!(out.rule, "date.approximate");
            assert_eq!(out.value["value"], json!(value), "{input}");
            assert_eq!(out.value["precision"], precision, "{input}");
            assert_eq!(out.value["qualifier"], qualifier, "{input}");
            assert_eq!(out.value["text"], input, "{input}");
        }
        assert_eq!(
            normalize(&t, "令和2年頃", false).unwrap_err().code,
            "date_not_exact"
        );
        // A year past its era reads, with the proper spelling.
        let out = normalize(&t, "平成32年頃", true).unwrap();
        assert_eq!(out.value["value"], "2020");
        assert_eq!(out.warnings[0].suggestion.as_deref(), Some("令和2年"));
    }
}
