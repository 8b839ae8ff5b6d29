//! 全国地方公共団体コード (JIS X 0402): five digits and a modulus-11 check digit.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::i18n::Text;

/// A 6-digit 全国地方公共団体コード whose check digit has been verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LgCode([u8; 6]);

/// What a regular expression can say of a code: six digits whose first two are a prefecture
/// (01–47). The sixth is a check digit (a weighted sum modulo 11), which no pattern can state;
/// [`LgCode::parse`] checks it. The contract gives this pattern to every lgCode.
pub const LG_CODE_PATTERN: &str = "^(0[1-9]|[1-3][0-9]|4[0-7])[0-9]{4}$";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LgCodeError {
    #[error("a local government code has 6 digits; {0:?} has {1} characters")]
    Length(String, usize),
    #[error("a local government code holds only the digits 0-9 (half-width)")]
    NotDigits,
    #[error("{0:?} does not start with a prefecture code (01-47)")]
    Prefecture(String),
    #[error("the check digit of {code} is wrong: with {first_five} it must be {expected}")]
    CheckDigit {
        code: String,
        first_five: String,
        expected: u8,
    },
}

impl LgCodeError {
    /// The message a clerk or a vendor's developer can act on, in both languages.
    pub fn text(&self) -> Text {
        let en = self.to_string();
        let ja = match self {
            Self::Length(_, n) => {
                format!("全国地方公共団体コードは6桁の数字です(入力は{n}文字です)。")
            }
            Self::NotDigits => "全国地方公共団体コードには半角数字0〜9のみを使います。".to_owned(),
            Self::Prefecture(code) => format!(
                "全国地方公共団体コード「{code}」の上2桁が都道府県コード(01〜47)ではありません。"
            ),
            Self::CheckDigit {
                code,
                first_five,
                expected,
            } => format!(
                "全国地方公共団体コード「{code}」の検査数字(6桁目)が誤っています。上5桁が{first_five}なら検査数字は{expected}です。"
            ),
        };
        Text::new(ja, en)
    }
}

/// The check digit for five leading digits: weights 6,5,4,3,2, then (11 − sum mod 11) mod 10.
fn check_digit(first_five: &[u8]) -> u8 {
    let sum: u32 = first_five
        .iter()
        .zip([6u32, 5, 4, 3, 2])
        .map(|(d, w)| u32::from(*d) * w)
        .sum();
    ((11 - sum % 11) % 10) as u8
}

impl LgCode {
    pub fn parse(input: &str) -> Result<Self, LgCodeError> {
        let count = input.chars().count();
        if count != 6 {
            return Err(LgCodeError::Length(input.to_owned(), count));
        }
        let mut digits = [0u8; 6];
        for (slot, ch) in digits.iter_mut().zip(input.chars()) {
            *slot = ch
                .to_digit(10)
                .filter(|_| ch.is_ascii_digit())
                .ok_or(LgCodeError::NotDigits)? as u8;
        }
        let prefecture = digits[0] * 10 + digits[1];
        if !(1..=47).contains(&prefecture) {
            return Err(LgCodeError::Prefecture(input.to_owned()));
        }
        let expected = check_digit(&digits[..5]);
        if digits[5] != expected {
            return Err(LgCodeError::CheckDigit {
                code: input.to_owned(),
                first_five: input[..5].to_owned(),
                expected,
            });
        }
        Ok(Self(digits))
    }

    /// The code whose first five digits are `first_five`, with its check digit appended
    /// (the 5-digit form some older systems and forms still use).
    pub fn complete(first_five: &str) -> Result<Self, LgCodeError> {
        if first_five.len() != 5 || !first_five.bytes().all(|b| b.is_ascii_digit()) {
            return Err(LgCodeError::Length(
                first_five.to_owned(),
                first_five.chars().count(),
            ));
        }
        let digits: Vec<u8> = first_five.bytes().map(|b| b - b'0').collect();
        Self::parse(&format!("{first_five}{}", check_digit(&digits)))
    }

    /// The two-digit prefecture code (JIS X 0401), e.g. "01" for 北海道.
    pub fn prefecture_code(&self) -> String {
        format!("{}{}", self.0[0], self.0[1])
    }

    pub fn as_string(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for LgCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in self.0 {
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for LgCode {
    type Err = LgCodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for LgCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LgCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes_pass() {
        // 北見市, 千代田区, 熊本市, 大船渡市, 那覇市, 札幌市
        for code in ["012084", "131016", "431001", "032034", "472018", "011002"] {
            assert_eq!(LgCode::parse(code).unwrap().to_string(), code);
        }
    }

    #[test]
    fn remainders_zero_and_one_give_check_digits_one_and_zero() {
        assert_eq!(check_digit(&[1, 1, 0, 0, 0]), 1); // sum 11 → 11-0 = 11 → 1
        assert_eq!(check_digit(&[0, 0, 0, 0, 6]), 0); // sum 12 → 11-1 = 10 → 0
    }

    #[test]
    fn wrong_check_digit_says_the_right_one() {
        let err = LgCode::parse("012085").unwrap_err();
        assert_eq!(
            err,
            LgCodeError::CheckDigit {
                code: "012085".into(),
                first_five: "01208".into(),
                expected: 4
            }
        );
        assert!(err.text().ja.contains("検査数字は4"));
    }

    #[test]
    fn malformed_codes_are_refused() {
        assert!(matches!(
            LgCode::parse("01208"),
            Err(LgCodeError::Length(_, 5))
        ));
        assert!(matches!(
            LgCode::parse("０１２０８４"),
            Err(LgCodeError::NotDigits)
        ));
        assert!(matches!(
            LgCode::parse("01208a"),
            Err(LgCodeError::NotDigits)
        ));
        assert!(matches!(
            LgCode::parse("481234"),
            Err(LgCodeError::Prefecture(_))
        ));
        assert!(matches!(
            LgCode::parse("001236"),
            Err(LgCodeError::Prefecture(_))
        ));
    }
}
