//! Cursor pagination: `limit` and `cursor` in, `items` and `nextCursor` out. A cursor is the
//! position of the last item of the previous page in that list's own terms — an lgCode, a
//! client id, an audit `seq` — and each list declares exactly what its cursor is, so that
//! every cursor the document allows is one the gateway accepts. Pass `nextCursor` back
//! unchanged; a made-up cursor of the right form is simply a position in the list.

use super::problem::{ApiError, ProblemKind};
use crate::i18n::Text;

pub const DEFAULT_LIMIT: u64 = 20;
pub const MAX_LIMIT: u64 = 100;

/// The page size asked for, or the default.
pub fn limit(limit: Option<u64>) -> Result<u64, ApiError> {
    limit_within(limit, DEFAULT_LIMIT, MAX_LIMIT)
}

/// The page size asked for, or `default`, for a list whose pages hold up to `max` (the pull
/// feed's are larger).
pub fn limit_within(limit: Option<u64>, default: u64, max: u64) -> Result<u64, ApiError> {
    match limit {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::new(
            ProblemKind::InvalidRequest,
            Text::new(
                format!("limit は1〜{max}で指定してください(指定値: {n})。"),
                format!("limit must be between 1 and {max} (got {n})."),
            ),
        )),
    }
}

/// A cursor that must be six digits (an lgCode position).
pub fn six_digits(cursor: Option<&str>) -> Result<Option<&str>, ApiError> {
    match cursor {
        Some(c) if !(c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit())) => Err(ApiError::new(
            ProblemKind::InvalidCursor,
            Text::new(
                "cursor には直前の応答の nextCursor(6桁の数字)をそのまま渡してください。",
                "cursor takes the nextCursor of the previous response (six digits) unchanged.",
            ),
        )),
        c => Ok(c),
    }
}

/// What a cursor's parse error says first, for [`crate::http::extract::query_error`] to
/// answer `invalid_cursor` rather than a generic `invalid_request`.
pub const CURSOR_ERROR: &str = "the cursor is not one this list gives";

/// Deserializes a `cursor` query parameter of the list's own type; a malformed one fails
/// with [`CURSOR_ERROR`].
pub fn cursor<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr,
{
    use serde::Deserialize;
    match Option::<String>::deserialize(deserializer)? {
        None => Ok(None),
        Some(raw) => raw
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(CURSOR_ERROR)),
    }
}

/// The problem for a cursor the list did not give.
pub fn invalid_cursor() -> ApiError {
    ApiError::new(
        ProblemKind::InvalidCursor,
        Text::new(
            "cursor には直前の応答の nextCursor をそのまま渡してください。",
            "cursor takes the nextCursor of the previous response unchanged.",
        ),
    )
}

/// Declares the query parameters of one list: `limit`, and a `cursor` of the list's own type
/// with its schema. A macro so that each list documents its own cursor.
macro_rules! page_params {
    ($name:ident, $cursor:ty, $cursor_doc:literal, $($schema:tt)*) => {
        #[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
        #[into_params(parameter_in = Query)]
        pub struct $name {
            /// Items per page, 1–100 (default 20).
            #[param(minimum = 1, maximum = 100)]
            pub limit: Option<u64>,
            #[doc = $cursor_doc]
            #[param($($schema)*)]
            #[serde(default, deserialize_with = "crate::http::pagination::cursor")]
            pub cursor: Option<$cursor>,
        }

        impl $name {
            pub fn limit(&self) -> Result<u64, $crate::http::problem::ApiError> {
                $crate::http::pagination::limit(self.limit)
            }
        }
    };
}
pub(crate) use page_params;

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
    fn limits_outside_one_to_a_hundred_are_refused() {
        assert_eq!(limit(None).unwrap(), DEFAULT_LIMIT);
        assert_eq!(limit(Some(100)).unwrap(), 100);
        assert!(limit(Some(0)).is_err());
        assert!(limit(Some(101)).is_err());
    }
}
