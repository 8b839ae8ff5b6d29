//! 都道府県 (JIS X 0401), read from `schemas/reference/prefectures.json`.

use std::sync::LazyLock;

use serde::Deserialize;

use super::LgCode;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Prefecture {
    pub code: String,
    pub name: String,
    pub name_en: String,
}

#[derive(Deserialize)]
struct PrefectureFile {
    prefectures: Vec<Prefecture>,
}

/// The table is part of the binary (JIS X 0401 has not changed since 1972); the file is
/// checked when it is first used and by the unit test below.
static PREFECTURES: LazyLock<Vec<Prefecture>> = LazyLock::new(|| {
    serde_json::from_str::<PrefectureFile>(include_str!("../../schemas/reference/prefectures.json"))
        .map(|f| f.prefectures)
        .unwrap_or_default()
});

/// The prefecture a local government code belongs to.
pub fn prefecture(code: &LgCode) -> Option<&'static Prefecture> {
    let key = code.prefecture_code();
    PREFECTURES.iter().find(|p| p.code == key)
}

/// Every prefecture's name (北海道, 青森県 …), in code order.
pub fn prefecture_names() -> impl Iterator<Item = &'static str> {
    PREFECTURES.iter().map(|p| p.name.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_holds_47_prefectures_in_code_order() {
        assert_eq!(PREFECTURES.len(), 47);
        for (i, p) in PREFECTURES.iter().enumerate() {
            assert_eq!(p.code, format!("{:02}", i + 1));
        }
        let kitami = LgCode::parse("012084").unwrap();
        assert_eq!(prefecture(&kitami).unwrap().name, "北海道");
        let chiyoda = LgCode::parse("131016").unwrap();
        assert_eq!(prefecture(&chiyoda).unwrap().name, "東京都");
    }
}
