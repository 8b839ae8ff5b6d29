//! 券面事項入力補助 (kenhojo): the files of the application and what they hold (reference §3).
//! Parsing only; [`super::verify`] decides whether the data is genuine.

use chrono::NaiveDate;
use serde::Serialize;

use super::layout::{self, LayoutError};
use super::tlv::Tlv;

/// 個人番号: `FF 10 0C` + 12 ASCII digits, then `FF FF` filler.
pub const EF_MY_NUMBER: u16 = 0x0001;
/// 基本4情報.
pub const EF_BASIC_INFO: u16 = 0x0002;
/// Two SHA-256 digests and their RSA signature.
pub const EF_INTEGRITY: u16 = 0x0003;
/// The card-verifiable certificate of the key that signed EF 0003.
pub const EF_CVC: u16 = 0x0004;
/// The card key with a signature over it.
pub const EF_CARD_KEY: u16 = 0x0007;
/// Key references.
pub const KEY_PIN: u16 = 0x0011;
pub const KEY_MATCH_A: u16 = 0x0014;
pub const KEY_MATCH_B: u16 = 0x0015;

/// 基本4情報 as the card holds them (names byte for byte).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BasicInfo {
    /// 氏名, a full-width space between family and given name.
    pub name: String,
    /// 住所, as printed on the card (full-width digits).
    pub address: String,
    /// 生年月日 as the card writes it: `YYYYMMDD` (西暦).
    pub date_of_birth: String,
    /// 性別: `1` 男, `2` 女, `9` 適用不能 (ISO 5218).
    pub sex: String,
}

impl BasicInfo {
    pub fn birth_date(&self) -> Option<NaiveDate> {
        card_date(&self.date_of_birth)
    }
}

/// A date as the card writes it (`YYYYMMDD`, 西暦), read; `None` when it is not one.
pub fn card_date(yyyymmdd: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(yyyymmdd, "%Y%m%d").ok()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataError {
    #[error("EF {file:04X}: {source}")]
    Layout { file: u16, source: LayoutError },
    #[error("EF {file:04X}: {what}")]
    Malformed { file: u16, what: String },
}

fn layout(file: u16) -> impl Fn(LayoutError) -> DataError {
    move |source| DataError::Layout { file, source }
}

fn malformed(file: u16, what: impl Into<String>) -> DataError {
    DataError::Malformed {
        file,
        what: what.into(),
    }
}

fn text(file: u16, tlv: &Tlv<'_>, what: &str) -> Result<String, DataError> {
    String::from_utf8(tlv.value.to_vec())
        .map_err(|_| malformed(file, format!("{what} is not UTF-8")))
}

/// An RSA public key as the card encodes it (CVC bodies, EF 0007's DF51, the card face's
/// DF24): `90 <e> 91 <n>`, and nothing else (a real card's DF51 is `90 03 010001 91 82 0100 …`,
/// not DER).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RsaKey<'a> {
    pub exponent: &'a [u8],
    pub modulus: &'a [u8],
}

/// The key in `value` (which starts at `base` in the file), inside `record`.
pub fn card_rsa_key(
    file: u16,
    value: &[u8],
    base: usize,
    record: u32,
) -> Result<RsaKey<'_>, DataError> {
    let read = layout::fields(
        value,
        base,
        record,
        &[layout::required(0x90), layout::required(0x91)],
    )
    .map_err(layout(file))?;
    match read.as_slice() {
        [Some(e), Some(n)] if !e.value.is_empty() && n.value.len() >= 128 => Ok(RsaKey {
            exponent: e.value,
            modulus: n.value,
        }),
        _ => Err(malformed(
            file,
            "the RSA key is not 90 <exponent> 91 <modulus of at least 1024 bits>",
        )),
    }
}

/// EF 0002: the 基本4情報, and the bytes its digest DF32 covers: from the first byte of DF22 to
/// the end of the FF20 value. The record must be exactly `FF20 { DF21 DF22 DF23 DF24 DF25 }`
/// (the DF21 offset table is outside the signed range and is not read), followed by nothing but
/// filler, so that every value returned lies in the signed range.
pub fn basic_info(ef: &[u8]) -> Result<(BasicInfo, &[u8]), DataError> {
    let file = EF_BASIC_INFO;
    let record = layout::record(ef, 0xFF20).map_err(layout(file))?;
    let [_offsets, name, address, birth, sex] =
        layout::required_fields(&record, [0xDF21, 0xDF22, 0xDF23, 0xDF24, 0xDF25])
            .map_err(layout(file))?;
    let info = BasicInfo {
        name: text(file, &name, "the name")?,
        address: text(file, &address, "the address")?,
        date_of_birth: text(file, &birth, "the date of birth")?,
        sex: text(file, &sex, "the sex")?,
    };
    if info.birth_date().is_none() || info.date_of_birth.len() != 8 {
        return Err(malformed(
            file,
            "the date of birth (DF24) is not a YYYYMMDD date",
        ));
    }
    if !["0", "1", "2", "9"].contains(&info.sex.as_str()) {
        return Err(malformed(file, "the sex (DF25) is not an ISO 5218 code"));
    }
    let end = record.value_offset + record.value.len();
    let signed = ef
        .get(name.offset..end)
        .ok_or_else(|| malformed(file, "DF22 lies outside FF20"))?;
    Ok((info, signed))
}

/// EF 0001: the 個人番号, `FF10 0C` + 12 ASCII digits, then only filler (DF31 covers the whole
/// file as read, filler included).
pub fn my_number(ef: &[u8]) -> Result<String, DataError> {
    let file = EF_MY_NUMBER;
    let tlv = layout::record(ef, 0xFF10).map_err(layout(file))?;
    if tlv.value.len() != 12 || !tlv.value.iter().all(u8::is_ascii_digit) {
        return Err(malformed(file, "the number is not 12 digits"));
    }
    Ok(String::from_utf8_lossy(tlv.value).into_owned())
}

/// EF 0003: the digests of EF 0001 (DF31) and EF 0002 (DF32) and the signature (DF33) over
/// the two digest TLVs as they are encoded.
#[derive(Debug, Clone)]
pub struct Integrity<'a> {
    pub my_number_digest: &'a [u8],
    pub basic_info_digest: &'a [u8],
    pub signature: &'a [u8],
    /// `DF31 20 … DF32 20 …`: what DF33 signs.
    pub signed: Vec<u8>,
}

pub fn integrity(ef: &[u8]) -> Result<Integrity<'_>, DataError> {
    let file = EF_INTEGRITY;
    let record = layout::record(ef, 0xFF30).map_err(layout(file))?;
    let [df31, df32, df33] =
        layout::required_fields(&record, [0xDF31, 0xDF32, 0xDF33]).map_err(layout(file))?;
    if df31.value.len() != 32 || df32.value.len() != 32 {
        return Err(malformed(
            file,
            "DF31 and DF32 must be SHA-256 digests (32 bytes)",
        ));
    }
    let mut signed = df31.raw.to_vec();
    signed.extend_from_slice(df32.raw);
    Ok(Integrity {
        my_number_digest: df31.value,
        basic_info_digest: df32.value,
        signature: df33.value,
        signed,
    })
}

/// A card-verifiable certificate (EF 0004 of kenhojo and of kenkaku), `7F21 { 5F4E body, 5F37
/// signature }`, the body being issuer key id (16) ‖ subject key id (16) ‖ the public key
/// (`90` e, `91` n). Everything returned lies in the body the issuer signed.
#[derive(Debug, Clone)]
pub struct Cvc<'a> {
    pub issuer: &'a [u8],
    pub subject: &'a [u8],
    pub exponent: &'a [u8],
    pub modulus: &'a [u8],
    /// The 5F4E value: what the issuer signed.
    pub body: &'a [u8],
    pub signature: &'a [u8],
}

pub fn cvc(file: u16, ef: &[u8]) -> Result<Cvc<'_>, DataError> {
    let cert = layout::record(ef, 0x7F21).map_err(layout(file))?;
    let [body, signature] =
        layout::required_fields(&cert, [0x5F4E, 0x5F37]).map_err(layout(file))?;
    if body.value.len() < 32 {
        return Err(malformed(
            file,
            "the certificate body is shorter than its two key ids",
        ));
    }
    let (ids, key) = body.value.split_at(32);
    let key = card_rsa_key(file, key, body.value_offset + 32, 0x5F4E)?;
    Ok(Cvc {
        issuer: &ids[..16],
        subject: &ids[16..],
        exponent: key.exponent,
        modulus: key.modulus,
        body: body.value,
        signature: signature.value,
    })
}

/// EF 0007: the card's public key (DF51, in the card's `90`/`91` encoding) and the issuer's
/// signature over the DF51 TLV (DF52).
#[derive(Debug, Clone)]
pub struct CardKey<'a> {
    pub key: RsaKey<'a>,
    /// The DF51 TLV: what DF52 signs.
    pub signed: &'a [u8],
    pub signature: &'a [u8],
}

pub fn card_key(ef: &[u8]) -> Result<CardKey<'_>, DataError> {
    let file = EF_CARD_KEY;
    let record = layout::record(ef, 0xFF50).map_err(layout(file))?;
    let [key, signature] =
        layout::required_fields(&record, [0xDF51, 0xDF52]).map_err(layout(file))?;
    Ok(CardKey {
        key: card_rsa_key(file, key.value, key.value_offset, 0xDF51)?,
        signed: key.raw,
        signature: signature.value,
    })
}

/// 照合番号B (reference §3): the date of birth in 和暦 as YYMMDD (era dropped), the card's
/// expiry year (西暦) and the 4-digit security code on the card face. `None` when a part is
/// not what the card face shows (a code that is not 4 digits, a date before 明治).
pub fn matching_number_b(
    eras: &crate::forms::era::EraTable,
    date_of_birth: NaiveDate,
    expiry_year: i32,
    security_code: &str,
) -> Option<String> {
    use chrono::Datelike;
    let era = eras.era_of(date_of_birth)?;
    let year = date_of_birth.year() - era.start.year() + 1;
    let code_ok = security_code.len() == 4 && security_code.bytes().all(|b| b.is_ascii_digit());
    if !(1..=99).contains(&year) || !(1000..=9999).contains(&expiry_year) || !code_ok {
        return None;
    }
    Some(format!(
        "{year:02}{:02}{:02}{expiry_year}{security_code}",
        date_of_birth.month(),
        date_of_birth.day()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_number_b_is_the_wareki_birthday_the_expiry_year_and_the_code() {
        let eras =
            crate::forms::era::EraTable::parse(include_str!("../../schemas/reference/eras.json"))
                .unwrap();
        let born = NaiveDate::from_ymd_opt(1980, 2, 17).unwrap();
        assert_eq!(
            matching_number_b(&eras, born, 2036, "1234").as_deref(),
            Some("55021720361234"),
            "昭和55年2月17日"
        );
        let reiwa = NaiveDate::from_ymd_opt(2019, 5, 1).unwrap();
        assert_eq!(
            matching_number_b(&eras, reiwa, 2029, "0007").as_deref(),
            Some("01050120290007"),
            "令和元年 is 01"
        );
        assert_eq!(matching_number_b(&eras, born, 2036, "12a4"), None);
    }
}
