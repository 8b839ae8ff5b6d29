//! Search keys of the resident directory, derived from the names and never replacing them
//! (DESIGN §5): kana folded as the registry's search does (ヂ/ジ, ヅ/ズ, small kana, long
//! vowels, spaces), names and addresses without spaces and with digits and hyphens folded.

use crate::forms::normalize::{kana, width};

/// Small kana as the large ones, ヂ/ヅ as ジ/ズ.
fn fold_kana(c: char) -> Option<char> {
    Some(match c {
        'ァ' => 'ア',
        'ィ' => 'イ',
        'ゥ' => 'ウ',
        'ェ' => 'エ',
        'ォ' => 'オ',
        'ッ' => 'ツ',
        'ャ' => 'ヤ',
        'ュ' => 'ユ',
        'ョ' => 'ヨ',
        'ヮ' => 'ワ',
        'ヵ' => 'カ',
        'ヶ' => 'ケ',
        'ヂ' => 'ジ',
        'ヅ' => 'ズ',
        'ー' | '\u{3000}' | '・' => return None,
        c if c.is_whitespace() => return None,
        c => c,
    })
}

/// The vowel a long-vowel mark after `c` stands for, as the registry reads it: ア段 ア,
/// イ段 イ, ウ段 ウ, エ段 イ (ケーコ = ケイコ), オ段 ウ (ヨーコ = ヨウコ).
fn long_vowel(c: char) -> Option<char> {
    const ROWS: [(&str, char); 5] = [
        ("アカガサザタダナハバパマヤャラワァ", 'ア'),
        ("イキギシジチヂニヒビピミリィ", 'イ'),
        ("ウクグスズツヅヌフブプムユュルゥヴ", 'ウ'),
        ("エケゲセゼテデネヘベペメレェ", 'イ'),
        ("オコゴソゾトドノホボポモヨョロヲォ", 'ウ'),
    ];
    ROWS.iter()
        .find(|(row, _)| row.contains(c))
        .map(|(_, v)| *v)
}

/// The kana search key: hiragana and half-width kana as full-width katakana, then folded.
/// `None` for text that is not kana.
pub fn kana_key(text: &str) -> Option<String> {
    let outcome = kana::normalize(text).ok()?;
    let katakana = outcome.value.as_str()?.to_owned();
    let mut out = String::with_capacity(katakana.len());
    let mut previous = None;
    for c in katakana.chars() {
        let c = if c == 'ー' {
            previous.and_then(long_vowel).unwrap_or('ー')
        } else {
            c
        };
        previous = Some(c);
        out.extend(fold_kana(c));
    }
    Some(out)
}

/// The name search key: the name without spaces (its characters untouched).
pub fn name_key(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

/// The address search key: without spaces, full-width digits and hyphen look-alikes folded.
pub fn address_key(parts: &[&str]) -> String {
    parts
        .iter()
        .flat_map(|p| p.chars())
        .filter(|c| !c.is_whitespace())
        .map(|c| {
            if width::HYPHENS.contains(&c) && c != 'ー' {
                '-'
            } else {
                width::fold_char(c)
            }
        })
        .collect()
}

/// A LIKE pattern matching `text` literally (escape character `\`).
pub fn like_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kana_folds_as_the_registry_searches() {
        for (a, b) in [
            ("ハナヂ", "はなじ"),
            ("ミカヅキ", "ミカズキ"),
            ("キョウコ", "キヨウコ"),
            ("ユウコ", "ユーコ"),
            ("ヨウコ", "ヨーコ"),
            ("ケイコ", "ケーコ"),
            ("ヤマダ　ハナコ", "やまだはなこ"),
            ("ｻﾄｳ ﾀﾛｳ", "サトウタロウ"),
            ("ジョン・スミス", "ジヨンスミス"),
            ("ハットリ", "ハツトリ"),
        ] {
            assert_eq!(kana_key(a), kana_key(b), "{a} / {b}");
            assert!(kana_key(a).is_some());
        }
        assert_ne!(kana_key("ハナコ"), kana_key("ハナゴ"));
        assert_eq!(kana_key("山田"), None);
    }

    #[test]
    fn names_keep_their_characters_and_lose_only_spaces() {
        // 𠮷 (plane 2) and 葛󠄀 (an IVS) are kept as they are.
        assert_eq!(name_key("𠮷田　葛\u{E0100}子"), "𠮷田葛\u{E0100}子");
        assert_eq!(name_key("山田 花子"), "山田花子");
    }

    #[test]
    fn addresses_fold_digits_and_hyphens() {
        assert_eq!(
            address_key(&["北見市", "北５条東", "２－１０"]),
            "北見市北5条東2-10"
        );
        assert_eq!(like_literal("50%_\\"), "50\\%\\_\\\\");
    }
}
