//! Character widths and numerals: what a clerk types with an IME (full-width digits, hyphen
//! look-alikes, kanji numerals) brought to the half-width ASCII the standard stores.
//!
//! Written by hand rather than with a Unicode normalization crate on purpose: NFKC would also
//! rewrite characters of names and kana (half-width katakana, compatibility ideographs), and
//! the rules here must touch digits, Latin letters and separators only.

/// Every character a clerk may type for a hyphen or a minus between digits: full-width
/// hyphen-minus, the katakana prolonged sound mark (in numbers it is a typing slip),
/// the half-width one, hyphen, non-breaking hyphen, figure dash, en and em dash, horizontal
/// bar and minus sign.
pub const HYPHENS: [char; 11] = ['－', 'ー', 'ｰ', '‐', '‑', '‒', '–', '—', '―', '−', '-'];

/// Full-width ASCII (U+FF01–U+FF5E) to ASCII and the ideographic space to a space; every
/// other character is returned unchanged.
pub fn fold_char(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

/// [`fold_char`] over a string, plus every hyphen look-alike to `-`.
pub fn fold_code(s: &str) -> String {
    s.chars()
        .map(|c| {
            if HYPHENS.contains(&c) {
                '-'
            } else {
                fold_char(c)
            }
        })
        .collect()
}

fn kanji_digit(c: char) -> Option<u32> {
    Some(match c {
        '〇' | '零' => 0,
        '一' | '壱' => 1,
        '二' | '弐' => 2,
        '三' | '参' => 3,
        '四' => 4,
        '五' => 5,
        '六' => 6,
        '七' => 7,
        '八' => 8,
        '九' => 9,
        _ => return None,
    })
}

fn kanji_unit(c: char) -> Option<u32> {
    Some(match c {
        '十' | '拾' => 10,
        '百' => 100,
        '千' => 1000,
        _ => return None,
    })
}

pub fn is_kanji_numeral(c: char) -> bool {
    kanji_digit(c).is_some() || kanji_unit(c).is_some()
}

/// The value of one run of kanji numerals: positional (二〇二四) or with units (千九百八十九,
/// 三十一, 十).
fn kanji_run_value(run: &[char]) -> u32 {
    if !run.iter().any(|c| kanji_unit(*c).is_some()) {
        return run
            .iter()
            .filter_map(|c| kanji_digit(*c))
            .fold(0, |acc, d| acc.saturating_mul(10).saturating_add(d));
    }
    let (mut total, mut pending) = (0u32, None::<u32>);
    for c in run {
        if let Some(d) = kanji_digit(*c) {
            pending = Some(pending.unwrap_or(0).saturating_mul(10).saturating_add(d));
        } else if let Some(unit) = kanji_unit(*c) {
            total = total.saturating_add(pending.unwrap_or(1).saturating_mul(unit));
            pending = None;
        }
    }
    total.saturating_add(pending.unwrap_or(0))
}

/// Replaces every run of kanji numerals with its value in ASCII digits (`三丁目二十番` →
/// `3丁目20番`).
pub fn kanji_numerals_to_digits(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut run: Vec<char> = Vec::new();
    for c in s.chars() {
        if is_kanji_numeral(c) {
            run.push(c);
            continue;
        }
        if !run.is_empty() {
            out.push_str(&kanji_run_value(&run).to_string());
            run.clear();
        }
        out.push(c);
    }
    if !run.is_empty() {
        out.push_str(&kanji_run_value(&run).to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_ascii_and_hyphens_fold() {
        assert_eq!(fold_code("０９０－１２３４ー５６７８"), "090-1234-5678");
        assert_eq!(fold_code("ＡＢＣ　１"), "ABC 1");
        assert_eq!(fold_code("１‐２―３−４"), "1-2-3-4");
        assert_eq!(fold_code("山田"), "山田");
    }

    #[test]
    fn kanji_numerals_read_both_ways() {
        for (input, expected) in [
            ("十", "10"),
            ("三十一", "31"),
            ("二十", "20"),
            ("十二", "12"),
            ("千九百八十九", "1989"),
            ("二〇二四", "2024"),
            ("百二", "102"),
            ("三丁目二十番地五号", "3丁目20番地5号"),
            ("壱弐参", "123"),
        ] {
            assert_eq!(kanji_numerals_to_digits(input), expected, "{input}");
        }
    }
}
