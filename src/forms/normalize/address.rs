//! 番地以下 (DS-442): `１丁目２番地３号`, `一丁目二番三`, `2番地の3` → `1-2-3`, with what follows
//! the block — a 方書 (building, room), as in `3丁目2番1号 101号室` — kept apart, never merged
//! into the numbers. Parts that are not numbers but belong to the block stay as written:
//! 地番 prefixes (甲, 乙 … イ, ロ …), 地割, and the whole-block words 番外地 and 無番地.

use super::codes::quotable;
use super::width::{HYPHENS, fold_char, is_kanji_numeral, kanji_numerals_to_digits};
use super::{FieldOutcome, Issue};
use crate::i18n::Text;

/// A 番地以下 as read: the block in standard form and, when text follows it, that text as it
/// was written (a 方書, by all signs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CityBlock {
    pub block: String,
    pub building: Option<String>,
}

/// Words that are a whole 番地以下 (or part of one) on their own.
const BLOCK_WORDS: [&str; 3] = ["番外地", "無番地", "地割"];
/// 地番 prefixes: 十干 and イロハ, written before the number (`甲12`, `イ3-4`).
const PREFIXES: &str = "甲乙丙丁戊己庚辛壬癸イロハニホヘトチリヌルヲ";

fn digit(c: char) -> Option<char> {
    let c = fold_char(c);
    c.is_ascii_digit().then_some(c)
}

fn is_space(c: char) -> bool {
    c.is_whitespace() || c == '\u{3000}'
}

/// Reads a 番地以下. `None` when it does not start with a block at all (no number, no
/// 番外地): then only the clerk can say what it is.
pub fn read(original: &str) -> Option<CityBlock> {
    let text = original.trim_matches(is_space);
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut out = String::new();
    let mut last_was_number = false;
    let mut i = 0;
    // Byte offset where the block ends and the rest (if any) begins.
    let mut end = text.len();
    while let Some(&(at, c)) = chars.get(i) {
        let rest = &text[at..];
        if is_space(c) {
            end = at;
            break;
        }
        if let Some(word) = BLOCK_WORDS.iter().find(|w| rest.starts_with(**w)) {
            out.push_str(word);
            last_was_number = false;
            i += word.chars().count();
            continue;
        }
        if let Some(d) = digit(c) {
            out.push(d);
            last_was_number = true;
            i += 1;
            continue;
        }
        if is_kanji_numeral(c) {
            let run: String = chars[i..]
                .iter()
                .map(|(_, c)| *c)
                .take_while(|c| is_kanji_numeral(*c))
                .collect();
            out.push_str(&kanji_numerals_to_digits(&run));
            last_was_number = true;
            i += run.chars().count();
            continue;
        }
        let separator = if rest.starts_with("丁目") || rest.starts_with("番地") {
            Some(2)
        } else if matches!(c, '番' | 'の' | 'ノ' | '之') || HYPHENS.contains(&c) {
            Some(1)
        } else {
            None
        };
        if let Some(len) = separator
            && (last_was_number || out.ends_with('-') || out.ends_with("地割"))
        {
            out.push('-');
            last_was_number = false;
            i += len;
            continue;
        }
        if c == '号' && last_was_number {
            // 号 closes the block: whatever follows is not part of it.
            i += 1;
            end = chars.get(i).map_or(text.len(), |(at, _)| *at);
            break;
        }
        let next_is_digit = chars
            .get(i + 1)
            .is_some_and(|(_, n)| digit(*n).is_some() || is_kanji_numeral(*n));
        if PREFIXES.contains(c) && next_is_digit && !last_was_number {
            out.push(c);
            i += 1;
            continue;
        }
        end = at;
        break;
    }
    let block = collapse_hyphens(&out);
    let has_number = block.chars().any(|c| c.is_ascii_digit());
    if !has_number && !BLOCK_WORDS[..2].iter().any(|w| block.contains(w)) {
        return None;
    }
    let building = text[end..].trim_matches(is_space);
    Some(CityBlock {
        block,
        building: (!building.is_empty()).then(|| building.to_owned()),
    })
}

fn collapse_hyphens(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '-' && (out.is_empty() || out.ends_with('-')) {
            continue;
        }
        out.push(c);
    }
    out.trim_end_matches('-').to_owned()
}

/// The building text a 番地以下 holds, as an error: only a document with a 方書 field can take
/// it, so a value alone is left as it was.
pub fn building_inside(read: &CityBlock, building: &str) -> Issue {
    let building = quotable(building);
    Issue::new(
        "city_block_has_building",
        Text::new(
            format!(
                "番地以下に方書「{building}」が含まれています。番地以下は「{}」、方書は方書欄(buildingNameEtc)に分けて入力してください。",
                read.block
            ),
            format!(
                "The block number holds a building part \"{building}\": give the block as \"{}\" and the building in buildingNameEtc.",
                read.block
            ),
        ),
    )
    .with_suggestion(Some(read.block.clone()))
}

/// Brings 番地以下 to half-width digits joined by hyphens. A value that holds a 方書 after the
/// block is refused (with the block as the suggestion): on its own, the value has nowhere to
/// put it. A document's address splits it into `buildingNameEtc` instead (see
/// [`super::document`]).
pub fn city_block(original: &str) -> Result<FieldOutcome, Issue> {
    if original.trim_matches(is_space).is_empty() {
        return Err(Issue::new(
            "city_block_empty",
            Text::new("番地が空です。", "The block number (番地以下) is empty."),
        ));
    }
    let Some(read) = read(original) else {
        let mut outcome = FieldOutcome::string(original.to_owned(), "cityBlock.ds442");
        let quoted = quotable(original);
        outcome.warnings.push(Issue::new(
            "city_block_nonstandard",
            Text::new(
                format!("番地以下「{quoted}」を番号として読めません。町字名や方書(建物名・部屋番号)が混ざっていないか確認してください。"),
                format!("The block number \"{quoted}\" cannot be read as a number; check that no street name or building (方書) is mixed in."),
            ),
        ));
        return Ok(outcome);
    };
    if let Some(building) = &read.building {
        return Err(building_inside(&read, building));
    }
    Ok(FieldOutcome::string(read.block, "cityBlock.ds442"))
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
            ("3-2-1-101", "3-2-1-101"),
        ] {
            let out = city_block(input).unwrap();
            assert_eq!(out.value, expected, "{input}");
            assert!(out.warnings.is_empty(), "{input}");
        }
    }

    #[test]
    fn lot_prefixes_and_whole_block_words_survive() {
        for (input, expected) in [
            ("番外地", "番外地"),
            ("無番地", "無番地"),
            ("甲１２番地", "甲12"),
            ("乙3番地の4", "乙3-4"),
            ("イ１２番地の３", "イ12-3"),
            ("１地割２３番地", "1地割23"),
            ("丁12", "丁12"),
        ] {
            let out = city_block(input).unwrap();
            assert_eq!(out.value, expected, "{input}");
            assert!(out.warnings.is_empty(), "{input}: {:?}", out.warnings);
        }
    }

    #[test]
    fn a_building_after_the_block_is_kept_apart_never_merged() {
        for (input, block, building) in [
            ("3丁目2番1号 101号室", "3-2-1", "101号室"),
            ("1丁目2番地3号 札幌ハイツ305", "1-2-3", "札幌ハイツ305"),
            ("1丁目2番地3号札幌ハイツ305", "1-2-3", "札幌ハイツ305"),
            ("2-1　コーポ北見　２０３", "2-1", "コーポ北見　２０３"),
            ("12番地の3 第一ビル", "12-3", "第一ビル"),
        ] {
            let read = read(input).unwrap();
            assert_eq!(read.block, block, "{input}");
            assert_eq!(read.building.as_deref(), Some(building), "{input}");
            let err = city_block(input).unwrap_err();
            assert_eq!(err.code, "city_block_has_building", "{input}");
            assert_eq!(err.suggestion.as_deref(), Some(block));
        }
    }

    #[test]
    fn what_is_not_a_block_stays_as_written_with_a_warning() {
        let out = city_block("字中島").unwrap();
        assert_eq!(out.value, "字中島");
        assert_eq!(out.warnings[0].code, "city_block_nonstandard");
        assert_eq!(city_block(" ").unwrap_err().code, "city_block_empty");
    }
}
