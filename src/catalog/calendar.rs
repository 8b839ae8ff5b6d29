//! The days a municipal office is open, and the last day of a deadline counted the way the law
//! counts it.
//!
//! - A period of days starts the day after the event (民法第140条, 初日不算入: moved in on
//!   1 December, 14 days → 15 December), unless the law counts the event's own day (戸籍法第43条
//!   第1項: born 20 November, 14 days → 3 December). Each procedure says which (`count`).
//! - A deadline that falls on a day the office is closed moves to the next open day (地方自治法
//!   第4条の2第4項, 行政機関の休日に関する法律第2条). Closed are Saturdays, Sundays, the national
//!   holidays of `catalog/calendar.json` (data: a holiday decided later needs no release), the
//!   year-end days every municipality closes (12月29日から1月3日), and a municipality's own
//!   closing days from its catalogue overrides.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate, Weekday};
use serde::Deserialize;

use super::Bilingual;

/// From which day a deadline's days are counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Count {
    /// From the day after the event (民法第140条): the general rule.
    #[default]
    NextDay,
    /// From the event's own day (戸籍法第43条第1項: 届出期間は届出事件発生の日から起算する).
    EventDay,
}

/// `catalog/calendar.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CalendarFile {
    #[serde(rename = "$comment", default)]
    _comment: Option<String>,
    /// `MM-DD` days closed every year besides weekends and holidays (the year end).
    pub closed_every_year: Vec<String>,
    pub holidays: BTreeMap<NaiveDate, Bilingual>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Calendar {
    holidays: BTreeMap<NaiveDate, Bilingual>,
    closed_every_year: BTreeSet<(u32, u32)>,
    closed_days: BTreeSet<NaiveDate>,
}

/// `MM-DD` → (month, day), checked against a leap year so that `02-29` is allowed.
pub fn month_day(text: &str) -> Option<(u32, u32)> {
    let (m, d) = text.split_once('-')?;
    if m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (m, d) = (m.parse().ok()?, d.parse().ok()?);
    NaiveDate::from_ymd_opt(2024, m, d).map(|_| (m, d))
}

impl Calendar {
    pub fn from_file(file: CalendarFile) -> Result<Self, String> {
        let closed_every_year = file
            .closed_every_year
            .iter()
            .map(|t| month_day(t).ok_or_else(|| format!("closedEveryYear: {t:?} is not MM-DD")))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            holidays: file.holidays,
            closed_every_year,
            closed_days: BTreeSet::new(),
        })
    }

    /// This calendar with a municipality's closing days: `every_year` replaces the year-end
    /// days when given; `days` are added.
    pub fn with_closing(
        &self,
        every_year: Option<&BTreeSet<(u32, u32)>>,
        days: &BTreeSet<NaiveDate>,
    ) -> Self {
        let mut out = self.clone();
        if let Some(every_year) = every_year {
            out.closed_every_year = every_year.clone();
        }
        out.closed_days.extend(days.iter().copied());
        out
    }

    /// The national holiday on `day`, if it is one.
    pub fn holiday(&self, day: NaiveDate) -> Option<&Bilingual> {
        self.holidays.get(&day)
    }

    pub fn is_open(&self, day: NaiveDate) -> bool {
        !matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
            && !self.holidays.contains_key(&day)
            && !self.closed_every_year.contains(&(day.month(), day.day()))
            && !self.closed_days.contains(&day)
    }

    /// `day` when the office is open then, else the next day it is.
    pub fn next_open_day(&self, day: NaiveDate) -> NaiveDate {
        day.iter_days()
            .take(366)
            .find(|d| self.is_open(*d))
            .unwrap_or(day)
    }

    /// The last day of a deadline of `days` days after `event`, counted as `count` says and
    /// moved past closed days.
    pub fn due(&self, event: NaiveDate, days: u32, count: Count) -> Option<NaiveDate> {
        let span = match count {
            Count::NextDay => days,
            Count::EventDay => days.checked_sub(1)?,
        };
        let last = event.checked_add_days(chrono::Days::new(u64::from(span)))?;
        Some(self.next_open_day(last))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn embedded() -> Calendar {
        let text = include_str!("../../schemas/catalog/calendar.json");
        Calendar::from_file(serde_json::from_str(text).unwrap()).unwrap()
    }

    #[test]
    fn a_birth_counts_its_own_day_and_a_move_the_next() {
        let calendar = embedded();
        // 戸籍法第43条: born Friday 20 November 2026 → 3 December (a Thursday).
        assert_eq!(
            calendar.due(d("2026-11-20"), 14, Count::EventDay),
            Some(d("2026-12-03"))
        );
        // 民法第140条: moved in Tuesday 1 December 2026 → Tuesday 15 December.
        assert_eq!(
            calendar.due(d("2026-12-01"), 14, Count::NextDay),
            Some(d("2026-12-15"))
        );
    }

    #[test]
    fn a_deadline_on_a_closed_day_moves_to_the_next_open_day() {
        let calendar = embedded();
        // Moved in 7 December 2026, 14 days → Monday 21 December: open.
        assert_eq!(
            calendar.due(d("2026-12-07"), 14, Count::NextDay),
            Some(d("2026-12-21"))
        );
        // Moved in 15 December → 29 December, closed until 3 January (a Sunday): 4 January.
        assert_eq!(
            calendar.due(d("2026-12-15"), 14, Count::NextDay),
            Some(d("2027-01-04"))
        );
        // Born 10 September 2026 → 23 September (秋分の日), after 21–22 September
        // (敬老の日, 国民の休日): the next open day is Thursday 24 September.
        assert_eq!(
            calendar.due(d("2026-09-10"), 14, Count::EventDay),
            Some(d("2026-09-24"))
        );
        // Golden Week 2026: 2 May (Saturday) → 3–6 May are holidays (6 May 振替休日) → 7 May.
        assert_eq!(
            calendar.due(d("2026-04-18"), 14, Count::NextDay),
            Some(d("2026-05-07"))
        );
        assert_eq!(
            calendar.holiday(d("2026-05-06")).unwrap().en,
            "Holiday in lieu"
        );
        assert_eq!(
            calendar.holiday(d("2026-09-22")).unwrap().en,
            "Citizen's Holiday"
        );
    }

    #[test]
    fn a_municipality_adds_its_own_closing_days() {
        let calendar = embedded();
        let extra: BTreeSet<NaiveDate> = [d("2026-12-28")].into();
        let closing = calendar.with_closing(None, &extra);
        assert_eq!(
            closing.due(d("2026-12-14"), 14, Count::NextDay),
            Some(d("2027-01-04"))
        );
        assert_eq!(
            calendar.due(d("2026-12-14"), 14, Count::NextDay),
            Some(d("2026-12-28"))
        );
        assert_eq!(month_day("02-29"), Some((2, 29)));
        assert_eq!(month_day("13-01"), None);
    }
}
