//! 番地以下 (DS-442): `１丁目２番地３号`, `一丁目二番三`, `2番地の3` → `1-2-3`.

use super::width::{fold_code, kanji_numerals_to_digits};
use super::{FieldOutcome, Issue};
use crate::i18n::Text;

/// Brings 番地以下 to half-width digits joined by hyphens. Parts that are not numbers (甲, 乙,
/// 地割 …) are kept as written, with a warning, since only the clerk can say what they mean.
pub fn city_block(original: &str) -> Result<FieldOutcome, Issue> {
    let folded = kanji_numerals_to_digits(&fold_code(original.trim()));
    let mut out = String::with_capacity(folded.len());
    let mut chars = folded.chars().peekable();
    while let Some(c) = chars.next() {
        let after_digit = out.ends_with(|p: char| p.is_ascii_digit());
        match c {
            '丁' if chars.peek() == Some(&'目') => {
                chars.next();
                out.push('-');
            }
            '番' => {
                if chars.peek() == Some(&'地') {
                    chars.next();
                }
                out.push('-');
            }
            '号' if after_digit => {}
            'の' | 'ノ' | '之' if after_digit || out.ends_with('-') => out.push('-'),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    let mut collapsed = String::with_capacity(out.len());
    for c in out.chars() {
        if c == '-' && (collapsed.is_empty() || collapsed.ends_with('-')) {
            continue;
        }
        collapsed.push(c);
    }
    let value = collapsed.trim_end_matches('-').to_owned();
    if value.is_empty() {
        return Err(Issue::new(
            "city_block_empty",
            Text::new("番地が空です。", "The block number (番地以下) is empty."),
        ));
    }
    let mut outcome = FieldOutcome::string(value.clone(), "cityBlock.ds442");
    if !value.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        outcome.warnings.push(Issue::new(
            "city_block_nonstandard",
            Text::new(
                format!("番地以下「{value}」に数字とハイフン以外が残っています。町字名や方書(建物名・部屋番号)が混ざっていないか確認してください。"),
                format!("The block number \"{value}\" holds more than digits and hyphens; check that no street name or building (方書) is mixed in."),
            ),
        ));
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_numbers_become_digits_and_hyphens() {
        for (input, expected) in [
            ("１丁目２番地３号", "1-2-3"),
            ("一丁目二番三号", "1-2-3"),
            ("三丁目二十番", "3-20"),
            ("2番地の3", "2-3"),
            ("１２３番地", "123"),
            ("1－2－3", "1-2-3"),
            ("1ー2ー3", "1-2-3"),
            ("5-1", "5-1"),
            ("十五番地", "15"),
        ] {
            let out = city_block(input).unwrap();
            assert_eq!(out.value, expected, "{input}");
            assert!(out.warnings.is_empty(), "{input}");
        }
    }

    #[test]
    fn non_numeric_parts_stay_with_a_warning() {
        let out = city_block("甲１２番地").unwrap();
        assert_eq!(out.value, "甲12");
        assert_eq!(out.warnings[0].code, "city_block_nonstandard");
        assert_eq!(city_block(" ").unwrap_err().code, "city_block_empty");
    }
}
