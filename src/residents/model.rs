//! A resident as the municipality's 住民記録 system holds them, and the 宛名番号 that
//! names them. Read from the directory files ([`crate::residents::file`]), kept by the store,
//! looked up by the clerk and taken into a visit ([`crate::visits::input::registry_facts`]).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// A date as the registry wrote it, with its ISO reading at its precision (`1980`,
/// `1980-02`, `1980-02-17`; none for 年月日不詳).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryDate {
    pub text: String,
    pub iso: Option<String>,
    /// Whether the date names one day exactly.
    pub exact: bool,
}

impl RegistryDate {
    pub fn day(&self) -> Option<NaiveDate> {
        if !self.exact {
            return None;
        }
        NaiveDate::parse_from_str(self.iso.as_deref()?, "%Y-%m-%d").ok()
    }
}

/// One resident as the registry holds them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resident {
    pub addressee_number: String,
    pub household_number: String,
    /// 氏名 byte for byte (IVS and 外字 included).
    pub name: String,
    /// Full-width katakana.
    pub name_kana: String,
    pub alias_name: Option<String>,
    pub date_of_birth: RegistryDate,
    pub sex: String,
    pub relationship: String,
    pub postal_code: Option<String>,
    pub prefecture: String,
    pub city: String,
    pub street_address: String,
    pub city_block: Option<String>,
    pub building_name_etc: Option<String>,
    pub resident_since: Option<RegistryDate>,
    pub last_change_reason: Option<String>,
    pub last_change_date: Option<RegistryDate>,
    /// `1` 日本人, `2` 外国人住民.
    pub resident_kind: String,
    pub nationality: Option<String>,
    pub residence_status: Option<String>,
    pub residence_period_end: Option<RegistryDate>,
    /// Only when the operator enabled the column; stored sealed, never logged.
    #[serde(skip)]
    pub my_number: Option<String>,
}

/// The check digit of a 宛名番号 body: modulus 11 with weights 2, 3 … 7 from the right,
/// repeating; a remainder of 0 or 1 gives 0.
pub fn addressee_check_digit(body: &str) -> Option<u8> {
    let mut sum = 0u32;
    for (i, c) in body.chars().rev().enumerate() {
        let d = c.to_digit(10)?;
        let weight = u32::try_from(i % 6).unwrap_or(0) + 2;
        sum += d * weight;
    }
    let r = sum % 11;
    Some(if r <= 1 {
        0
    } else {
        u8::try_from(11 - r).unwrap_or(0)
    })
}

/// Whether `number` is 2–15 digits whose last is the check digit of the rest.
pub fn is_addressee_number(number: &str) -> bool {
    (2..=15).contains(&number.len())
        && number.bytes().all(|b| b.is_ascii_digit())
        && number.split_at(number.len() - 1).1.parse::<u8>().ok()
            == addressee_check_digit(&number[..number.len() - 1])
}
