//! Optimistic concurrency for a visit that two clerks may have open at once (RFC 9110 §13):
//! every answer about a visit carries its `ETag` (the visit's revision), and a change sent with
//! `If-Match` is made only to that revision. A change made over another clerk's change that
//! the sender has not seen is answered 412 with the current `ETag`, never written.
//!
//! The ETag names the visit's revision, which every change of the visit (answers, a card, an
//! edit of a draft, the confirmation, closing) moves on; the visit, its determination and its
//! drafts share it. It is strong: If-Match compares strongly, so a weak tag never matches.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::header::{self, EntityTag};
use actix_web::{FromRequest, HttpRequest};

use super::problem::{ApiError, ProblemKind};
use crate::i18n::Text;

/// The visit's ETag at `revision`.
pub fn etag(revision: i64) -> header::ETag {
    header::ETag(EntityTag::new_strong(format!("v{revision}")))
}

/// The revisions a change may apply to, from the request's `If-Match`.
#[derive(Debug, Default)]
pub struct IfMatch(Option<Vec<i64>>);

impl IfMatch {
    /// `None` when any revision will do (no `If-Match`, or `*`): the visit must only exist.
    /// A tag that is not one of this gateway's is no revision and matches nothing.
    pub fn revisions(&self) -> Option<&[i64]> {
        self.0.as_deref()
    }

    /// Whether a change may be made to `revision`.
    pub fn allows(&self, revision: i64) -> bool {
        self.revisions().is_none_or(|r| r.contains(&revision))
    }
}

/// The revision an entity tag names: a strong `"v12"` of this gateway's.
fn revision_of(weak: bool, tag: &str) -> Option<i64> {
    if weak {
        return None;
    }
    tag.strip_prefix('v')?.parse().ok()
}

/// The entity tags of one `If-Match` line (RFC 9110 §8.8.3): `W/`-prefixed or not, quoted,
/// any visible ASCII but `"` inside (a comma too), separated by commas and optional spaces or
/// tabs; empty list elements are skipped. Hand-written because actix's parser splits at every
/// comma, even one inside quotes, and skips members it cannot read.
fn entity_tags(line: &str) -> Option<Vec<(bool, &str)>> {
    const OWS: [char; 2] = [' ', '\t'];
    let mut rest = line.trim_matches(OWS);
    let mut out = Vec::new();
    while !rest.is_empty() {
        let weak = rest.starts_with("W/");
        if weak {
            rest = &rest[2..];
        }
        rest = rest.strip_prefix('"')?;
        let end = rest.find('"')?;
        let tag = &rest[..end];
        if !tag.bytes().all(|b| b == b'!' || (b'#'..=b'~').contains(&b)) {
            return None;
        }
        out.push((weak, tag));
        rest = rest[end + 1..].trim_start_matches(OWS);
        if rest.is_empty() {
            break;
        }
        rest = rest
            .strip_prefix(',')?
            .trim_start_matches(|c| c == ',' || OWS.contains(&c));
    }
    (!out.is_empty()).then_some(out)
}

impl FromRequest for IfMatch {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(parse(req).ok_or_else(malformed))
    }
}

/// Every `If-Match` line, each entity tag of each. actix's typed header skips a member it
/// cannot read, which would turn a typo into a 412; a malformed header is the caller's error.
fn parse(req: &HttpRequest) -> Option<IfMatch> {
    if !req.headers().contains_key(header::IF_MATCH) {
        return Some(IfMatch(None));
    }
    let mut revisions = Vec::new();
    for line in req.headers().get_all(header::IF_MATCH) {
        let line = line.to_str().ok()?.trim();
        if line == "*" {
            return Some(IfMatch(None));
        }
        for (weak, tag) in entity_tags(line)? {
            revisions.extend(revision_of(weak, tag));
        }
    }
    Some(IfMatch(Some(revisions)))
}

fn malformed() -> ApiError {
    ApiError::new(
        ProblemKind::InvalidRequest,
        Text::new(
            "If-Match ヘッダーが正しくありません。来庁の応答の ETag(\"v12\" のような引用符付きの値)をそのまま入れてください。",
            "The If-Match header is malformed: send the ETag of the visit's last response (a quoted value like \"v12\") unchanged.",
        ),
    )
}

/// The answer to a change sent with an If-Match the visit no longer has: 412 with the
/// current ETag (header and `etag` member), for the clerk's app to read the visit again.
pub fn stale(id: uuid::Uuid, current: i64) -> ApiError {
    let tag = etag(current).0.to_string();
    ApiError::new(
        ProblemKind::PreconditionFailed,
        Text::new(
            format!(
                "来庁 {id} は、この端末が読んだ後に別の端末で変更されています。来庁を読み直し、変更を確かめてから、もう一度送ってください。"
            ),
            format!(
                "Visit {id} was changed from another terminal since this one read it. Read it again, check the change, then resend."
            ),
        ),
    )
    .with_header(header::ETAG, &tag)
    .with_extension("etag", tag)
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn if_match(value: &str) -> Result<IfMatch, ApiError> {
        let req = TestRequest::default()
            .insert_header((header::IF_MATCH, value))
            .to_http_request();
        IfMatch::from_request(&req, &mut Payload::None).into_inner()
    }

    #[test]
    fn if_match_names_revisions_and_compares_strongly() {
        assert!(if_match("\"v3\"").unwrap().allows(3));
        assert!(!if_match("\"v3\"").unwrap().allows(4));
        assert!(if_match("\"v2\", \"v3\"").unwrap().allows(3));
        assert!(if_match("*").unwrap().allows(9));
        // A weak tag, or one not of this gateway, matches no revision.
        assert!(!if_match("W/\"v3\"").unwrap().allows(3));
        assert!(!if_match("\"3\"").unwrap().allows(3));
        assert!(if_match("v3").is_err(), "unquoted");
        assert!(if_match("\"v3\", v4").is_err(), "one member unquoted");
        // A comma inside quotes is part of a tag; tabs and empty elements are allowed.
        assert!(
            if_match("\"p\"\t,\",\" \t,W/\"C*{\", \"v3\"")
                .unwrap()
                .allows(3)
        );
        assert!(if_match("\"a\",, \"v3\"").unwrap().allows(3));
        assert!(!if_match("\",\"").unwrap().allows(3));
        assert!(if_match("\"v3\" \"v4\"").is_err(), "no comma between");
        assert!(if_match("\"v\"3\"").is_err());
        assert_eq!(etag(3).0.to_string(), "\"v3\"");
    }
}
