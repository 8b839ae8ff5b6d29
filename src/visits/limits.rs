//! What one visit may hold and one request may carry. A counter serves one household at a
//! time: these bounds are far above any real household (the largest 世帯 a municipality
//! registers has a dozen members) and far below what lets one client stall the gateway — a
//! visit's printout, drafts and determination cost grows with its members and events.
//! They are part of the contract (the OpenAPI document states each as `maxItems`,
//! `maxProperties` or in the route's description), and a request over one is refused whole,
//! before any work, with the pointer of what is too long.

use crate::i18n::Text;
use crate::validation::FieldError;

/// Household members in one visit.
pub const MAX_MEMBERS: usize = 30;
/// Life events in one visit.
pub const MAX_EVENTS: usize = 10;
/// Members one event names (`subjects`).
pub const MAX_SUBJECTS: usize = MAX_MEMBERS;
/// Answers in one request (opening a visit or answering questions).
pub const MAX_ANSWERS: usize = 200;
/// Fields one draft edit sets or removes.
pub const MAX_EDITS_PER_REQUEST: usize = 200;
/// Fields edited by hand in one draft, all edits together.
pub const MAX_EDITS_PER_DRAFT: usize = 400;
/// The JSON of one edited value, in bytes.
pub const MAX_EDIT_VALUE_BYTES: usize = 2_048;
/// A request body that opens a visit, answers questions or edits a draft, in bytes.
pub const VISIT_BODY_BYTES: usize = 64 * 1024;

/// `Some(error)` when `count` items at `pointer` are more than `max`.
pub fn too_many(pointer: &str, count: usize, max: usize, what: Text) -> Option<FieldError> {
    (count > max).then(|| {
        FieldError::new(
            pointer.to_owned(),
            "too_many",
            Text::new(
                format!(
                    "{}は1回に{max}件までです({count}件あります)。分けて送ってください。",
                    what.ja
                ),
                format!(
                    "At most {max} {} at a time ({count} given); send them in parts.",
                    what.en
                ),
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_at_the_bound_passes_and_one_more_is_refused_with_its_pointer() {
        let what = || Text::new("世帯員", "members");
        assert!(too_many("/members", MAX_MEMBERS, MAX_MEMBERS, what()).is_none());
        let e = too_many("/members", MAX_MEMBERS + 1, MAX_MEMBERS, what()).expect("refused");
        assert_eq!(e.pointer, "/members");
        assert_eq!(e.code, "too_many");
        assert!(e.message.ja.contains("30件まで"), "{}", e.message.ja);
    }
}
