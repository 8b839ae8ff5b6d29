//! Cursor pagination: `limit` and an opaque `cursor` in, `items` and `nextCursor` out.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use utoipa::IntoParams;

use super::problem::{ApiError, ProblemKind};
use crate::i18n::Text;

pub const DEFAULT_LIMIT: u64 = 20;
pub const MAX_LIMIT: u64 = 100;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page, 1–100 (default 20).
    pub limit: Option<u64>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageParams {
    pub fn limit(&self) -> Result<u64, ApiError> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(n) => Err(ApiError::new(
                ProblemKind::InvalidRequest,
                Text::new(
                    format!("limit は1〜{MAX_LIMIT}で指定してください(指定値: {n})。"),
                    format!("limit must be between 1 and {MAX_LIMIT} (got {n})."),
                ),
            )),
        }
    }

    /// The position the cursor holds, for a list of `kind`.
    pub fn position(&self, kind: &str) -> Result<Option<String>, ApiError> {
        self.cursor
            .as_deref()
            .map(|c| decode(kind, c).ok_or_else(invalid_cursor))
            .transpose()
    }

    /// The position parsed as `T` (a `seq`, a UUID …).
    pub fn position_as<T: std::str::FromStr>(&self, kind: &str) -> Result<Option<T>, ApiError> {
        self.position(kind)?
            .map(|p| p.parse::<T>().map_err(|_| invalid_cursor()))
            .transpose()
    }
}

fn invalid_cursor() -> ApiError {
    ApiError::new(
        ProblemKind::InvalidCursor,
        Text::new(
            "cursor が正しくありません。直前の応答の nextCursor をそのまま渡してください。",
            "The cursor is not valid. Pass the nextCursor of the previous response unchanged.",
        ),
    )
}

/// Cursors name the list they belong to, so that one list's cursor fails on another.
pub fn encode(kind: &str, position: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{kind}:{position}"))
}

fn decode(kind: &str, cursor: &str) -> Option<String> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (k, position) = text.split_once(':')?;
    (k == kind && !position.is_empty()).then(|| position.to_owned())
}

/// Declares the page type of one list: `items` and `nextCursor`. A macro rather than a
/// generic struct so that each list has its own named schema in the OpenAPI document.
macro_rules! page_type {
    ($name:ident, $item:ty, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, serde::Serialize, utoipa::ToSchema)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            pub items: Vec<$item>,
            /// Pass as `cursor` for the next page; null on the last page.
            pub next_cursor: Option<String>,
        }
    };
}
pub(crate) use page_type;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_do_not_cross_lists() {
        let c = encode("municipalities", "012084");
        let params = PageParams {
            limit: None,
            cursor: Some(c),
        };
        assert_eq!(
            params.position("municipalities").unwrap().as_deref(),
            Some("012084")
        );
        assert!(params.position("clients").is_err());
        let garbage = PageParams {
            limit: Some(0),
            cursor: Some("!!".into()),
        };
        assert!(garbage.position("clients").is_err());
        assert!(garbage.limit().is_err());
    }
}
