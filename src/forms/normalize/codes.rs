//! Numbers and codes: postal codes, phone numbers, 全国地方公共団体コード, 個人番号 and plain
//! digit strings (account and insurance numbers).

use super::width::fold_code;
use super::{FieldOutcome, Issue};
use crate::i18n::Text;
use crate::tenancy::LgCode;

fn without_spaces(s: &str) -> String {
    fold_code(s)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// Half-width, with spaces and hyphens removed: how numbers are stored.
fn without_separators(s: &str) -> String {
    without_spaces(s).chars().filter(|c| *c != '-').collect()
}

/// Whether a value could be a 個人番号 (12 digits once widths, spaces and hyphens are
/// folded, valid check digit or not): such a value is never quoted in a message.
pub fn could_be_my_number(s: &str) -> bool {
    let s = without_separators(s);
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// A value as a message may quote it: a possible 個人番号 is replaced by a placeholder.
pub fn quotable(s: &str) -> std::borrow::Cow<'_, str> {
    if could_be_my_number(s) {
        std::borrow::Cow::Borrowed("(12桁の番号)")
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// `〒０９０－００２４` or `0900024` → `090-0024`.
pub fn postal_code(original: &str) -> Result<FieldOutcome, Issue> {
    let s = without_spaces(original.trim().trim_start_matches('〒'));
    let digits: String = s.chars().filter(|c| *c != '-').collect();
    let shape_ok = s.len() == 7 || (s.len() == 8 && s.as_bytes().get(3) == Some(&b'-'));
    if digits.len() != 7 || !digits.bytes().all(|b| b.is_ascii_digit()) || !shape_ok {
        return Err(Issue::new(
            "postal_code_invalid",
            Text::new(
                "郵便番号は7桁の数字で入力してください(例: 090-0024)。",
                "A postal code has 7 digits, like 090-0024.",
            ),
        ));
    }
    Ok(FieldOutcome::string(
        format!("{}-{}", &digits[..3], &digits[3..]),
        "postalCode.format",
    ))
}

/// Phone numbers keep the caller's grouping; widths, spaces, parentheses and `+81` are folded.
pub fn phone(original: &str) -> Result<FieldOutcome, Issue> {
    let mut s = without_spaces(original.trim());
    if let Some(rest) = s.strip_prefix("+81") {
        s = format!(
            "0{}",
            rest.trim_start_matches(['-', '(', '0']).replace(')', "-")
        );
        s = s.replacen("0(", "0", 1);
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let c = if matches!(c, '(' | ')') { '-' } else { c };
        if c == '-' && (out.is_empty() || out.ends_with('-')) {
            continue;
        }
        out.push(c);
    }
    let out = out.trim_end_matches('-').to_owned();
    let digits = out.bytes().filter(u8::is_ascii_digit).count();
    let valid = out.bytes().all(|b| b.is_ascii_digit() || b == b'-')
        && out.starts_with('0')
        && (10..=11).contains(&digits);
    if !valid {
        return Err(Issue::new(
            "phone_invalid",
            Text::new(
                "電話番号は0から始まる10桁または11桁の数字で入力してください(例: 0157-25-1234、090-1234-5678)。",
                "A phone number has 10 or 11 digits starting with 0, like 0157-25-1234 or 090-1234-5678.",
            ),
        ));
    }
    Ok(FieldOutcome::string(out, "phone.format"))
}

/// 在留カード / 特別永住者証明書 number: two letters, eight digits, two letters, as the card
/// prints it (`AB12345678CD`). Full-width characters, lower case, spaces and hyphens are what
/// a clerk types; they are folded away.
pub fn residence_card_number(original: &str) -> Result<FieldOutcome, Issue> {
    let folded: String = super::width::fold_code(original)
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let b = folded.as_bytes();
    let valid = b.len() == 12
        && b[..2].iter().all(u8::is_ascii_uppercase)
        && b[2..10].iter().all(u8::is_ascii_digit)
        && b[10..].iter().all(u8::is_ascii_uppercase);
    if !valid {
        return Err(Issue::new(
            "invalid_residence_card_number",
            Text::new(
                "在留カード等の番号は英字2文字・数字8桁・英字2文字(例: AB12345678CD)で入力してください。",
                "A residence card number is two letters, eight digits and two letters (AB12345678CD).",
            ),
        ));
    }
    Ok(FieldOutcome::string(folded, "residenceCardNumber.format"))
}

/// Six digits with a verified check digit; five digits get their check digit added (with a
/// warning, so the clerk sees the full code).
pub fn lg_code(original: &str) -> Result<FieldOutcome, Issue> {
    if could_be_my_number(original) {
        // LgCodeError's messages quote the input; this input may be a 個人番号.
        return Err(Issue::new(
            "invalid_lg_code",
            Text::new(
                "全国地方公共団体コードは6桁の数字です(入力は12桁です)。",
                "A local government code has 6 digits; the input has 12.",
            ),
        ));
    }
    let s = without_spaces(original.trim());
    let s = if s.len() == 5 && s.bytes().all(|b| b.is_ascii_digit()) {
        let full = LgCode::complete(&s).map_err(lg_problem)?;
        let code = full.as_string();
        let mut outcome = FieldOutcome::string(code.clone(), "lgCode.checkDigit");
        outcome.warnings.push(
            Issue::new(
                "lg_code_check_digit_added",
                Text::new(
                    format!("5桁の団体コードに検査数字を付けて「{code}」としました。"),
                    format!("The five-digit code was completed with its check digit: {code}."),
                ),
            )
            .with_suggestion(Some(code)),
        );
        return Ok(outcome);
    } else {
        s
    };
    let code = LgCode::parse(&s).map_err(lg_problem)?;
    Ok(FieldOutcome::string(code.as_string(), "lgCode.format"))
}

fn lg_problem(e: crate::tenancy::LgCodeError) -> Issue {
    let suggestion = match &e {
        crate::tenancy::LgCodeError::CheckDigit {
            first_five,
            expected,
            ..
        } => Some(format!("{first_five}{expected}")),
        _ => None,
    };
    Issue::new("invalid_lg_code", e.text()).with_suggestion(suggestion)
}

/// The check digit of the first eleven digits of a 個人番号 (番号法施行令 第8条): weights
/// 2–7 and 2–6 from the right, 11 − (sum mod 11), and 0 when the remainder is 0 or 1.
pub fn my_number_check_digit(first_eleven: &[u8]) -> u8 {
    let sum: u32 = first_eleven
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let n = i as u32 + 1;
            let q = if n <= 6 { n + 1 } else { n - 5 };
            u32::from(*d) * q
        })
        .sum();
    let r = sum % 11;
    if r <= 1 { 0 } else { (11 - r) as u8 }
}

/// Whether a string is a 個人番号: 12 half-width digits with a correct check digit.
pub fn is_my_number(s: &str) -> bool {
    let digits: Vec<u8> = s.bytes().map(|b| b.wrapping_sub(b'0')).collect();
    digits.len() == 12
        && digits.iter().all(|d| *d <= 9)
        && my_number_check_digit(&digits[..11]) == digits[11]
}

/// 個人番号: widths, spaces and hyphens folded, the check digit verified. Messages never
/// quote the number.
pub fn my_number(original: &str) -> Result<FieldOutcome, Issue> {
    let s = without_separators(original);
    if s.len() != 12 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Issue::new(
            "my_number_invalid_length",
            Text::new(
                "個人番号は12桁の数字です。桁数を確認してください。",
                "An individual number (My Number) has 12 digits; check the number of digits.",
            ),
        ));
    }
    if !is_my_number(&s) {
        return Err(Issue::new(
            "my_number_check_digit",
            Text::new(
                "個人番号の検査数字(12桁目)が一致しません。読み取りまたは入力の誤りがないか確認してください。",
                "The check digit (12th digit) of the individual number does not match; check for a typing or reading error.",
            ),
        ));
    }
    Ok(FieldOutcome::string(s, "myNumber.format"))
}

/// Digit strings such as account, insurance and pension numbers: widths folded, spaces and
/// hyphens removed. The schema says how many digits the field has.
pub fn digits(original: &str) -> Result<FieldOutcome, Issue> {
    Ok(FieldOutcome::string(
        without_separators(original),
        "digits.halfWidth",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(f: fn(&str) -> Result<FieldOutcome, Issue>, s: &str) -> String {
        f(s).unwrap().value.as_str().unwrap().to_owned()
    }

    #[test]
    fn postal_codes() {
        assert_eq!(ok(postal_code, "〒０９０－００２４"), "090-0024");
        assert_eq!(ok(postal_code, "0900024"), "090-0024");
        assert_eq!(ok(postal_code, "090ー0024"), "090-0024");
        for bad in ["090-002", "09000245", "0900-024", "abc-defg", ""] {
            assert_eq!(
                postal_code(bad).unwrap_err().code,
                "postal_code_invalid",
                "{bad}"
            );
        }
    }

    #[test]
    fn phones() {
        assert_eq!(ok(phone, "０１５７－２５－１２３４"), "0157-25-1234");
        assert_eq!(ok(phone, "(0157)25-1234"), "0157-25-1234");
        assert_eq!(ok(phone, "09012345678"), "09012345678");
        assert_eq!(ok(phone, "+81 90 1234 5678"), "09012345678");
        assert_eq!(ok(phone, "+81-90-1234-5678"), "090-1234-5678");
        for bad in ["12345", "0157-25-12", "090-1234-56789", "03-1234-abcd"] {
            assert_eq!(phone(bad).unwrap_err().code, "phone_invalid", "{bad}");
        }
    }

    #[test]
    fn lg_codes() {
        assert_eq!(ok(lg_code, "０１２０８４"), "012084");
        let five = lg_code("01208").unwrap();
        assert_eq!(five.value, "012084");
        assert_eq!(five.warnings[0].code, "lg_code_check_digit_added");
        let wrong = lg_code("012085").unwrap_err();
        assert_eq!(wrong.code, "invalid_lg_code");
        assert_eq!(wrong.suggestion.as_deref(), Some("012084"));
    }

    #[test]
    fn my_numbers() {
        let first: Vec<u8> = "12345678901".bytes().map(|b| b - b'0').collect();
        let check = my_number_check_digit(&first);
        let valid = format!("12345678901{check}");
        assert!(is_my_number(&valid));
        assert_eq!(
            ok(my_number, &format!("１２３４-５６７８-９０１{check}")),
            valid
        );
        let wrong = format!("12345678901{}", (check + 1) % 10);
        let err = my_number(&wrong).unwrap_err();
        assert_eq!(err.code, "my_number_check_digit");
        assert!(!err.message.ja.contains("1234"), "never quotes the number");
        assert_eq!(
            my_number("1234").unwrap_err().code,
            "my_number_invalid_length"
        );
    }

    #[test]
    fn residence_card_numbers_are_folded_to_the_printed_form() {
        for input in [
            "AB12345678CD",
            "ab12345678cd",
            "ＡＢ１２３４５６７８ＣＤ",
            "AB 1234 5678 CD",
            "AB-12345678-CD",
        ] {
            let out = residence_card_number(input).unwrap();
            assert_eq!(out.value, "AB12345678CD", "{input}");
        }
        for bad in [
            "A12345678CD",
            "AB1234567CD",
            "1212345678CD",
            "AB12345678C1",
            "",
        ] {
            assert_eq!(
                residence_card_number(bad).unwrap_err().code,
                "invalid_residence_card_number",
                "{bad}"
            );
        }
    }

    #[test]
    fn a_possible_my_number_is_never_quoted() {
        for typed in [
            "123456789018",
            "1234 5678 9019",
            "１２３４－５６７８－９０１８",
        ] {
            let err = lg_code(typed).unwrap_err();
            assert_eq!(err.code, "invalid_lg_code");
            for text in [&err.message.ja, &err.message.en] {
                assert!(
                    !text.contains("5678") && !text.contains("５６７８"),
                    "{text}"
                );
            }
        }
        assert_eq!(quotable("090-1234-5678"), "090-1234-5678");
        assert_eq!(quotable("1234-5678-9018"), "(12桁の番号)");
    }

    #[test]
    fn published_my_number_check_digit() {
        // The worked example of the 総務省 specification: 12345678901 has check digit 8.
        let first: Vec<u8> = "12345678901".bytes().map(|b| b - b'0').collect();
        assert_eq!(my_number_check_digit(&first), 8);
    }
}
