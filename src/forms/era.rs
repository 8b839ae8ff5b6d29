//! The era table (元号), read from `schemas/reference/eras.json`: data, so that a new era
//! needs an edited file and no release.

use chrono::{Datelike, NaiveDate};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct EraFile {
    #[serde(rename = "$comment", default)]
    _comment: Option<String>,
    eras: Vec<EraRow>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct EraRow {
    name: String,
    latin: String,
    #[serde(default)]
    abbreviations: Vec<String>,
    start: NaiveDate,
    #[serde(default)]
    gregorian_from: Option<NaiveDate>,
    /// The era's last day, when it is not the day before the next era starts (it may be that
    /// day itself: the changeover day then has two spellings).
    #[serde(default)]
    last_day: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Era {
    pub name: String,
    pub latin: String,
    pub abbreviations: Vec<String>,
    pub start: NaiveDate,
    /// The era's last day: the day before the next era starts, or that day itself where both
    /// eras name it; `None` for the current era.
    pub end: Option<NaiveDate>,
    /// Dates before this day are in the lunisolar calendar (明治5年 and earlier).
    pub gregorian_from: Option<NaiveDate>,
}

impl Era {
    /// The Gregorian year of this era's year `n` (元年 is 1).
    pub fn gregorian_year(&self, n: u32) -> i32 {
        self.start.year() + n as i32 - 1
    }
}

/// Every era in order, oldest first.
#[derive(Debug, Clone)]
pub struct EraTable {
    eras: Vec<Era>,
}

impl EraTable {
    /// Reads and checks the table: eras in order of their start, names unique.
    pub fn parse(json: &str) -> Result<Self, String> {
        let file: EraFile = serde_json::from_str(json).map_err(|e| e.to_string())?;
        if file.eras.is_empty() {
            return Err("the era table lists no era".to_owned());
        }
        let mut eras: Vec<Era> = Vec::with_capacity(file.eras.len());
        let mut last_days: Vec<Option<NaiveDate>> = Vec::with_capacity(file.eras.len());
        for row in file.eras {
            if let (Some(prev), Some(prev_last)) = (eras.last_mut(), last_days.last()) {
                if row.start <= prev.start {
                    return Err(format!(
                        "era {} starts on {} which is not after {} ({})",
                        row.name, row.start, prev.name, prev.start
                    ));
                }
                prev.end = match prev_last {
                    None => row.start.pred_opt(),
                    Some(last) if *last == row.start || Some(*last) == row.start.pred_opt() => {
                        Some(*last)
                    }
                    Some(last) => {
                        return Err(format!(
                            "lastDay of {} is {last}: it must be {} (the day {} starts) or the day before",
                            prev.name, row.start, row.name
                        ));
                    }
                };
            }
            if row.name.trim().is_empty() {
                return Err("an era has an empty name".to_owned());
            }
            last_days.push(row.last_day);
            eras.push(Era {
                name: row.name,
                latin: row.latin,
                abbreviations: row.abbreviations,
                start: row.start,
                end: None,
                gregorian_from: row.gregorian_from,
            });
        }
        let mut names: Vec<&str> = eras
            .iter()
            .flat_map(|e| {
                std::iter::once(e.name.as_str()).chain(e.abbreviations.iter().map(String::as_str))
            })
            .collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0].eq_ignore_ascii_case(w[1])) {
            return Err(format!(
                "the era name or abbreviation {} is listed twice",
                w[0]
            ));
        }
        Ok(Self { eras })
    }

    pub fn eras(&self) -> &[Era] {
        &self.eras
    }

    /// The era a written prefix names, with the length in bytes of the matched prefix: the
    /// longest name or abbreviation wins; Latin letters match in either case.
    pub fn match_prefix(&self, s: &str) -> Option<(&Era, usize)> {
        let mut best: Option<(&Era, usize)> = None;
        for era in &self.eras {
            for name in std::iter::once(&era.name).chain(era.abbreviations.iter()) {
                let len = name.len();
                let matches = s
                    .get(..len)
                    .is_some_and(|head| head.eq_ignore_ascii_case(name));
                if matches && best.is_none_or(|(_, l)| len > l) {
                    best = Some((era, len));
                }
            }
        }
        best
    }

    /// The era a day belongs to, if it is not before the first era.
    pub fn era_of(&self, date: NaiveDate) -> Option<&Era> {
        self.eras.iter().rev().find(|e| e.start <= date)
    }

    /// The era in force during some part of a Gregorian year (the latest one).
    pub fn era_of_year(&self, year: i32) -> Option<&Era> {
        self.eras.iter().rev().find(|e| e.start.year() <= year)
    }

    /// `令和元年5月1日`: the proper 和暦 spelling of a day.
    pub fn wareki_day(&self, date: NaiveDate) -> Option<String> {
        let era = self.era_of(date)?;
        Some(format!(
            "{}{}年{}月{}日",
            era.name,
            era_year_text(date.year() - era.start.year() + 1),
            date.month(),
            date.day()
        ))
    }

    /// `令和2年` or `令和2年3月`: the proper spelling of a year or a month.
    pub fn wareki_partial(&self, year: i32, month: Option<u32>) -> Option<String> {
        let era = match month {
            Some(m) => {
                let last = last_day_of_month(year, m)?;
                self.era_of(last)?
            }
            None => self.era_of_year(year)?,
        };
        let mut out = format!(
            "{}{}年",
            era.name,
            era_year_text(year - era.start.year() + 1)
        );
        if let Some(m) = month {
            out.push_str(&format!("{m}月"));
        }
        Some(out)
    }
}

fn era_year_text(n: i32) -> String {
    if n == 1 {
        "元".to_owned()
    } else {
        n.to_string()
    }
}

pub fn last_day_of_month(year: i32, month: u32) -> Option<NaiveDate> {
    let (y, m) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)?.pred_opt()
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn table() -> EraTable {
        EraTable::parse(include_str!("../../schemas/reference/eras.json")).unwrap()
    }

    #[test]
    fn the_shipped_table_reads_and_chains() {
        let t = table();
        let heisei = &t.eras()[3];
        assert_eq!(heisei.name, "平成");
        assert_eq!(heisei.end, NaiveDate::from_ymd_opt(2019, 4, 30));
        assert_eq!(t.eras()[4].end, None);
        assert_eq!(heisei.gregorian_year(31), 2019);
    }

    #[test]
    fn prefixes_match_names_and_abbreviations() {
        let t = table();
        assert_eq!(
            t.match_prefix("令和6年")
                .map(|(e, n)| (e.latin.as_str(), n)),
            Some(("Reiwa", 6))
        );
        assert_eq!(
            t.match_prefix("r6.3.1").map(|(e, _)| e.latin.as_str()),
            Some("Reiwa")
        );
        assert_eq!(
            t.match_prefix("㍻1").map(|(e, _)| e.latin.as_str()),
            Some("Heisei")
        );
        assert!(t.match_prefix("2024").is_none());
    }

    #[test]
    fn wareki_spelling() {
        let t = table();
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(t.wareki_day(d(2019, 5, 1)).unwrap(), "令和元年5月1日");
        assert_eq!(t.wareki_day(d(2019, 4, 30)).unwrap(), "平成31年4月30日");
        assert_eq!(t.wareki_day(d(1989, 1, 7)).unwrap(), "昭和64年1月7日");
        assert_eq!(t.wareki_partial(2020, None).unwrap(), "令和2年");
        assert_eq!(t.wareki_partial(2019, Some(4)).unwrap(), "平成31年4月");
    }

    #[test]
    fn bad_tables_are_refused() {
        assert!(EraTable::parse(r#"{"eras":[]}"#).is_err());
        let unordered = r#"{"eras":[{"name":"B","latin":"B","start":"2000-01-01"},{"name":"A","latin":"A","start":"1990-01-01"}]}"#;
        assert!(
            EraTable::parse(unordered)
                .unwrap_err()
                .contains("not after")
        );
        let twice = r#"{"eras":[{"name":"A","latin":"A","abbreviations":["X"],"start":"1990-01-01"},{"name":"B","latin":"B","abbreviations":["x"],"start":"2000-01-01"}]}"#;
        assert!(EraTable::parse(twice).unwrap_err().contains("twice"));
    }
}
