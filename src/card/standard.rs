//! The card's 基本4情報 in the gateway's standard form: the name byte for byte (split into
//! family and given name only where the card puts a full-width space between them), the date
//! of birth in ISO, the sex code, and the address split per DS-442 where it can be: the
//! prefecture from the JIS X 0401 table, the municipality, the 町字 and the 番地以下 read by the
//! forms engine's rules. The card's own text is always kept beside the parts.

use chrono::NaiveDate;
use serde::Serialize;

use super::session::StoredBasicInfo;
use crate::forms::normalize::address;
use crate::tenancy::prefecture_names;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BasicInfo {
    /// 氏名 exactly as on the card.
    pub name: String,
    pub family_name: Option<String>,
    pub given_name: Option<String>,
    /// ISO 8601.
    pub date_of_birth: Option<NaiveDate>,
    /// `1` 男, `2` 女, `9` 適用不能.
    pub sex: String,
    pub address: Address,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    /// 住所 exactly as on the card.
    pub text: String,
    pub prefecture: Option<String>,
    pub city: Option<String>,
    pub street_address: Option<String>,
    /// 番地以下 in standard form (`2-10`).
    pub city_block: Option<String>,
    pub building_name_etc: Option<String>,
}

/// `municipality_names`: names the address may continue with after the prefecture (the
/// municipality the counter belongs to, say), tried before the general rule.
pub fn basic_info(card: &StoredBasicInfo, municipality_names: &[&str]) -> BasicInfo {
    let (family_name, given_name) = match card.name.split_once('\u{3000}') {
        Some((f, g)) if !f.is_empty() && !g.is_empty() && !g.contains('\u{3000}') => {
            (Some(f.to_owned()), Some(g.to_owned()))
        }
        _ => (None, None),
    };
    BasicInfo {
        name: card.name.clone(),
        family_name,
        given_name,
        date_of_birth: super::kenhojo::card_date(&card.date_of_birth),
        sex: card.sex.clone(),
        address: split_address(&card.address, municipality_names),
    }
}

/// The end of a municipality's name in `rest` by the general rule: the shortest prefix ending
/// in 市, 区, 町 or 村 (after a 郡 when there is one), with the ward of a designated city.
fn city_end(rest: &str) -> Option<usize> {
    let after_county = rest
        .char_indices()
        .find(|&(i, c)| c == '郡' && i > 0)
        .map(|(i, c)| i + c.len_utf8())
        .unwrap_or(0);
    let tail = &rest[after_county..];
    let (i, c) = tail
        .char_indices()
        .skip(1)
        .find(|&(_, c)| matches!(c, '市' | '区' | '町' | '村'))?;
    let mut end = after_county + i + c.len_utf8();
    // 政令指定都市: 札幌市中央区.
    if c == '市' {
        let next = &rest[end..];
        if let Some((j, w)) = next
            .char_indices()
            .skip(1)
            .take(4)
            .find(|&(_, w)| w == '区')
        {
            end += j + w.len_utf8();
        }
    }
    Some(end)
}

fn is_digit(c: char) -> bool {
    c.is_ascii_digit() || ('０'..='９').contains(&c)
}

/// Where the 番地以下 begins: the first run of digits followed by 丁目, 番, 号, a hyphen, の
/// or the end (so the 条 of 北５条東 stays in the 町字).
fn block_start(rest: &str) -> Option<usize> {
    let mut previous_digit = false;
    for (i, c) in rest.char_indices() {
        let starts = is_digit(c) && !previous_digit;
        previous_digit = is_digit(c);
        if !starts {
            continue;
        }
        let after = rest[i..].trim_start_matches(is_digit);
        if after.is_empty()
            || ["丁目", "番", "号", "-", "－", "‐", "の", "\u{3000}", " "]
                .iter()
                .any(|m| after.starts_with(m))
        {
            return Some(i);
        }
    }
    None
}

pub fn split_address(text: &str, municipality_names: &[&str]) -> Address {
    let mut out = Address {
        text: text.to_owned(),
        ..Address::default()
    };
    let Some(prefecture) = prefecture_names().find(|p| text.starts_with(p)) else {
        return out;
    };
    let rest = &text[prefecture.len()..];
    let city_len = municipality_names
        .iter()
        .find(|m| !m.is_empty() && rest.starts_with(**m))
        .map(|m| m.len())
        .or_else(|| city_end(rest));
    let Some(city_len) = city_len else {
        return out;
    };
    out.prefecture = Some(prefecture.to_owned());
    out.city = Some(rest[..city_len].to_owned());
    let rest = &rest[city_len..];
    let block_at = block_start(rest);
    match block_at.and_then(|i| Some((i, address::read(&rest[i..])?))) {
        Some((i, block)) => {
            out.street_address = Some(rest[..i].to_owned()).filter(|s| !s.is_empty());
            out.city_block = Some(block.block);
            out.building_name_etc = block.building;
        }
        None => out.street_address = Some(rest.to_owned()).filter(|s| !s.is_empty()),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_card_in_standard_form() {
        let card = StoredBasicInfo {
            name: "山田　花子".into(),
            address: "北海道北見市北５条東２丁目１０番地".into(),
            date_of_birth: "19800217".into(),
            sex: "2".into(),
        };
        let info = basic_info(&card, &[]);
        assert_eq!(info.family_name.as_deref(), Some("山田"));
        assert_eq!(info.given_name.as_deref(), Some("花子"));
        assert_eq!(info.date_of_birth, NaiveDate::from_ymd_opt(1980, 2, 17));
        let a = info.address;
        assert_eq!(a.prefecture.as_deref(), Some("北海道"));
        assert_eq!(a.city.as_deref(), Some("北見市"));
        assert_eq!(a.street_address.as_deref(), Some("北５条東"));
        assert_eq!(a.city_block.as_deref(), Some("2-10"));
        assert_eq!(a.text, "北海道北見市北５条東２丁目１０番地");
    }

    #[test]
    fn addresses_split_where_they_can() {
        let a = split_address(
            "北海道札幌市中央区北一条西２丁目１番地　札幌ビル３０１",
            &[],
        );
        assert_eq!(a.city.as_deref(), Some("札幌市中央区"));
        assert_eq!(a.street_address.as_deref(), Some("北一条西"));
        assert_eq!(a.city_block.as_deref(), Some("2-1"));
        assert_eq!(a.building_name_etc.as_deref(), Some("札幌ビル３０１"));
        let a = split_address("千葉県市川市八幡１丁目１番１号", &[]);
        assert_eq!(a.city.as_deref(), Some("市川市"));
        let a = split_address("東京都西多摩郡奥多摩町氷川２１５番地６", &[]);
        assert_eq!(a.city.as_deref(), Some("西多摩郡奥多摩町"));
        assert_eq!(a.city_block.as_deref(), Some("215-6"));
        // A name given by the municipality wins over the rule (四日市市, not 四日市).
        let a = split_address("三重県四日市市諏訪町１番５号", &["四日市市"]);
        assert_eq!(a.city.as_deref(), Some("四日市市"));
        // Not an address the rules know: only the text.
        let a = split_address("ＵＮＫＮＯＷＮ", &[]);
        assert_eq!(a.prefecture, None);
        assert_eq!(a.text, "ＵＮＫＮＯＷＮ");
    }
}
