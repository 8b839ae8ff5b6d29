//! Facts the gateway computes: a member's name and age, the school-year age, whether the
//! event concerns them, the household's size, whether the applicant is a member.

use chrono::{Datelike, NaiveDate};
use serde_json::Value;

/// Completed years from `birth` to `on`; a birthday on 29 February counts on 1 March in a
/// common year (the day after 28 February, as 年齢計算ニ関スル法律 and the Civil Code count).
pub fn age_on(birth: NaiveDate, on: NaiveDate) -> Option<i64> {
    if on < birth {
        return None;
    }
    let mut years = on.year() - birth.year();
    if (on.month(), on.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    Some(i64::from(years))
}

/// The age by 年齢計算ニ関スル法律 and 民法第143条, as the insurance and pension laws apply it:
/// a person reaches an age at the end of the day before the birthday, so on that day they
/// are already of it (介護保険 65 and 40, 国民年金 20 and 60 begin on the day before the
/// birthday). Someone born on 29 February reaches it at the end of 28 February.
pub fn age_by_law(birth: NaiveDate, on: NaiveDate) -> Option<i64> {
    age_on(birth, on.succ_opt()?)
}

/// Who a member's parents can be, by their relationships to the householder (住民票の続柄):
/// a 子 is the householder's and their spouse's, a 子の子 a 子's and that 子's spouse's, a 弟 or
/// 妹 the householder's 父's and 母's, a 兄の子 the 兄's and the 兄の妻's … `None` when the
/// relationship does not tell (縁故者, 同居人 …).
///
/// Written here rather than in the catalogue: it follows from the standard 続柄 of the
/// relationship schema, which no municipality changes.
pub fn parent_relationships(child: &str) -> Option<&'static [&'static str]> {
    Some(match child {
        "子" => &["世帯主", "妻", "夫", "妻(未届)", "夫(未届)"],
        "妻の子" => &["妻", "妻(未届)"],
        "夫の子" => &["夫", "夫(未届)"],
        "子の子" => &["子", "子の妻", "子の夫"],
        "弟" | "妹" | "兄" | "姉" => &["父", "母"],
        "兄の子" => &["兄", "兄の妻"],
        "姉の子" => &["姉", "姉の夫"],
        "弟の子" => &["弟", "弟の妻"],
        "妹の子" => &["妹", "妹の夫"],
        _ => return None,
    })
}

/// The age by which a child is placed in a school year (学年齢): the ordinary age on 1 April
/// of the school year of `on`. A child enters primary school at the first 1 April after the
/// day before the 6th birthday (学校教育法第17条, 年齢計算ニ関スル法律), so children born from
/// 2 April to 1 April of the next year share a year: 6 is the first year of primary school,
/// 12 of junior high, 15 of high school, 17 its last year.
pub fn school_year_age(birth: NaiveDate, on: NaiveDate) -> Option<i64> {
    let year = if on.month() >= 4 {
        on.year()
    } else {
        on.year() - 1
    };
    let april_1 = NaiveDate::from_ymd_opt(year, 4, 1)?;
    if april_1 < birth {
        return Some(-1);
    }
    age_on(birth, april_1)
}

/// A member's name for reasons and questions: family and given name, or the full name.
pub fn display_name(
    family: Option<&Value>,
    given: Option<&Value>,
    full: Option<&Value>,
) -> Option<String> {
    match (
        family.and_then(Value::as_str),
        given.and_then(Value::as_str),
    ) {
        (Some(f), Some(g)) => Some(format!("{f}{g}")),
        (Some(f), None) => Some(f.to_owned()),
        _ => full.and_then(Value::as_str).map(str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn ages_count_completed_years() {
        assert_eq!(age_on(d("1950-12-02"), d("2025-12-01")), Some(74));
        assert_eq!(age_on(d("1950-12-01"), d("2025-12-01")), Some(75));
        assert_eq!(age_on(d("2004-02-29"), d("2024-02-28")), Some(19));
        assert_eq!(age_on(d("2004-02-29"), d("2023-03-01")), Some(19));
        assert_eq!(age_on(d("2026-12-02"), d("2026-12-01")), None);
    }

    #[test]
    fn an_age_by_law_is_reached_the_day_before_the_birthday() {
        // 65th birthday on 2 December 2026: 65 by law from 1 December, 64 by the calendar.
        let birth = d("1961-12-02");
        assert_eq!(age_by_law(birth, d("2026-11-30")), Some(64));
        assert_eq!(age_by_law(birth, d("2026-12-01")), Some(65));
        assert_eq!(age_on(birth, d("2026-12-01")), Some(64));
        assert_eq!(age_by_law(birth, d("2026-12-02")), Some(65));
        // Born 29 February: reaches the age at the end of 28 February, in common and leap
        // years alike.
        let leap = d("2004-02-29");
        assert_eq!(age_by_law(leap, d("2024-02-27")), Some(19));
        assert_eq!(age_by_law(leap, d("2024-02-28")), Some(20));
        assert_eq!(age_by_law(leap, d("2023-02-27")), Some(18));
        assert_eq!(age_by_law(leap, d("2023-02-28")), Some(19));
        // The day before birth is no age at all.
        assert_eq!(age_by_law(leap, d("2004-02-27")), None);
        assert_eq!(age_by_law(leap, d("2004-02-28")), Some(0));
    }

    #[test]
    fn school_years_run_from_2_april_to_1_april() {
        // Born 2 April 2019 and 1 April 2020: both start primary school in April 2026.
        assert_eq!(school_year_age(d("2019-04-02"), d("2026-12-01")), Some(6));
        assert_eq!(school_year_age(d("2019-04-01"), d("2026-12-01")), Some(7));
        assert_eq!(school_year_age(d("2020-04-01"), d("2026-04-10")), Some(6));
        assert_eq!(school_year_age(d("2020-04-02"), d("2026-04-10")), Some(5));
        // In March the school year is still the one that began the April before.
        assert_eq!(school_year_age(d("2020-04-01"), d("2027-03-31")), Some(6));
        // The last year of high school: 17 (child allowance runs to its end).
        assert_eq!(school_year_age(d("2008-04-02"), d("2026-12-01")), Some(17));
        assert_eq!(school_year_age(d("2008-04-01"), d("2026-12-01")), Some(18));
        assert_eq!(school_year_age(d("2009-04-01"), d("2026-12-01")), Some(17));
    }
}
