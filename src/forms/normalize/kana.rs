//! Kana fields: full-width katakana, one full-width space between family and given name.

use super::{FieldOutcome, Issue};
use crate::i18n::Text;

/// Half-width katakana and punctuation U+FF61–U+FF9F, in order, as full-width characters.
const HALF_WIDTH: &str = "。「」、・ヲァィゥェォャュョッーアイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワン゛゜";

fn from_half_width(c: char) -> Option<char> {
    let index = (c as u32).checked_sub(0xFF61)? as usize;
    HALF_WIDTH.chars().nth(index)
}

fn is_voicing(c: char) -> bool {
    matches!(c, '\u{FF9E}' | '\u{309B}' | '\u{3099}')
}

fn is_semi_voicing(c: char) -> bool {
    matches!(c, '\u{FF9F}' | '\u{309C}' | '\u{309A}')
}

/// カ + ゛ → ガ, ハ + ゜ → パ, ウ + ゛ → ヴ, ワ + ゛ → ヷ.
fn compose(base: char, mark: char) -> Option<char> {
    let b = base as u32;
    if is_voicing(mark) {
        return match base {
            'ウ' => Some('ヴ'),
            'ワ' | 'ヰ' | 'ヱ' | 'ヲ' => char::from_u32(b - 'ワ' as u32 + 0x30F7),
            _ if "カキクケコサシスセソタチツテトハヒフヘホ".contains(base) => {
                char::from_u32(b + 1)
            }
            _ => None,
        };
    }
    if is_semi_voicing(mark) && "ハヒフヘホ".contains(base) {
        return char::from_u32(b + 2);
    }
    None
}

fn is_katakana(c: char) -> bool {
    matches!(c, 'ァ'..='ヺ' | 'ー' | 'ヽ' | 'ヾ' | '・')
}

fn is_dash(c: char) -> bool {
    matches!(
        c,
        '-' | '－' | '‐' | '‑' | '‒' | '–' | '—' | '―' | '−' | '～' | '〜'
    )
}

/// Converts hiragana and half-width katakana to full-width katakana and folds the spaces;
/// refuses a field holding anything else (kanji, Latin letters, digits).
pub fn normalize(original: &str) -> Result<FieldOutcome, Issue> {
    let mut out: Vec<char> = Vec::with_capacity(original.len() / 3 + 1);
    let mut space = false;
    for c in original.trim().chars() {
        if c.is_whitespace() {
            space = true;
            continue;
        }
        if space {
            if !out.is_empty() {
                out.push('\u{3000}');
            }
            space = false;
        }
        let c = match c {
            'ぁ'..='ゖ' => char::from_u32(c as u32 + 0x60).unwrap_or(c),
            'ゝ' => 'ヽ',
            'ゞ' => 'ヾ',
            '\u{FF61}'..='\u{FF9F}' => from_half_width(c).unwrap_or(c),
            _ => c,
        };
        if (is_voicing(c) || is_semi_voicing(c))
            && let Some(composed) = out.last().and_then(|b| compose(*b, c))
        {
            out.pop();
            out.push(composed);
            continue;
        }
        if is_dash(c) && out.last().is_some_and(|p| is_katakana(*p) && *p != '・') {
            out.push('ー');
            continue;
        }
        out.push(c);
    }
    if let Some(bad) = out.iter().find(|c| !is_katakana(**c) && **c != '\u{3000}') {
        return Err(Issue::new(
            "kana_invalid_character",
            Text::new(
                format!(
                    "フリガナに使えない文字「{bad}」があります。カタカナまたはひらがなで入力してください。"
                ),
                format!(
                    "The kana field holds \"{bad}\", which is not kana. Use katakana or hiragana."
                ),
            ),
        ));
    }
    if out.is_empty() {
        return Err(Issue::new(
            "kana_empty",
            Text::new("フリガナが空です。", "The kana field is empty."),
        ));
    }
    Ok(FieldOutcome::string(
        out.into_iter().collect(),
        "kana.katakana",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kana(s: &str) -> String {
        normalize(s).unwrap().value.as_str().unwrap().to_owned()
    }

    #[test]
    fn hiragana_and_half_width_become_katakana() {
        for (input, expected) in [
            ("やまだ たろう", "ヤマダ　タロウ"),
            ("ﾔﾏﾀﾞ ﾀﾛｳ", "ヤマダ　タロウ"),
            ("ｶﾞｷﾞｸﾞｹﾞｺﾞ", "ガギグゲゴ"),
            ("ﾊﾟﾋﾟﾌﾟﾍﾟﾎﾟ ﾊﾞﾋﾞﾌﾞﾍﾞﾎﾞ", "パピプペポ　バビブベボ"),
            ("ｳﾞｧｲｵﾚｯﾄ", "ヴァイオレット"),
            ("ﾂﾞﾂ", "ヅツ"),
            ("  すずき　　いちろう  ", "スズキ　イチロウ"),
            ("ｽｽﾞｷ-ｲﾁﾛｰ", "スズキーイチロー"),
            ("さとう\tはなこ", "サトウ　ハナコ"),
            ("いすゞ", "イスヾ"),
            ("ヤマダ　タロウ", "ヤマダ　タロウ"),
            ("ジョン・スミス", "ジョン・スミス"),
        ] {
            assert_eq!(kana(input), expected, "{input}");
        }
    }

    #[test]
    fn other_scripts_are_refused() {
        assert_eq!(
            normalize("山田").unwrap_err().code,
            "kana_invalid_character"
        );
        assert_eq!(
            normalize("yamada").unwrap_err().code,
            "kana_invalid_character"
        );
        assert_eq!(normalize("   ").unwrap_err().code, "kana_empty");
    }

    #[test]
    fn unchanged_input_reports_no_change() {
        let out = normalize("ヤマダ").unwrap();
        assert_eq!(out.value, "ヤマダ");
    }
}
