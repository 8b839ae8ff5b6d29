//! The state gates of a visit: which step a visit in its present stage allows. The store
//! checks them inside the transaction that makes the step (so that two replicas cannot both
//! pass them), and a handler checks them first where a refused step would waste work (the
//! confirmation evaluates every draft).

use super::model::{Status, Visit};
use crate::audit::Action;

/// A step in a visit's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Answers, facts from the card or the registry, a clerk's edits to a draft.
    Change,
    /// The resident confirms every draft at once.
    Confirm,
    /// The resident has left.
    Close,
    /// The confirmed drafts become applications.
    Submit,
}

impl Step {
    /// How the audit log names the step.
    pub fn audited_as(self) -> Action {
        match self {
            Step::Change => Action::VisitUpdate,
            Step::Confirm => Action::VisitConfirm,
            Step::Close => Action::VisitClose,
            Step::Submit => Action::VisitSubmit,
        }
    }
}

/// Why a visit does not allow a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Barred {
    /// Closed: nothing changes any more.
    Closed,
    /// Confirmed by the resident: answers and drafts are frozen.
    Confirmed,
    /// Not confirmed yet: there is nothing to submit.
    NotConfirmed,
    /// Submitted already: its applications exist.
    Submitted,
}

impl Visit {
    /// Whether the visit allows `step` now.
    pub fn check(&self, step: Step) -> Result<(), Barred> {
        let closed = self.status == Status::Closed;
        let confirmed = self.household.confirmation.is_some();
        match step {
            Step::Submit if self.household.submitted_at.is_some() => Err(Barred::Submitted),
            _ if closed => Err(Barred::Closed),
            Step::Change | Step::Confirm if confirmed => Err(Barred::Confirmed),
            Step::Submit if !confirmed => Err(Barred::NotConfirmed),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::visits::confirmation::{Confirmation, Signature};

    fn visit() -> Visit {
        let at = chrono::DateTime::parse_from_rfc3339("2026-04-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let household: crate::visits::Household = serde_json::from_value(serde_json::json!({
            "events": [], "members": [], "applicant": {"member": null, "facts": {}}, "facts": {}
        }))
        .unwrap();
        Visit {
            id: uuid::Uuid::now_v7(),
            lg_code: crate::tenancy::LgCode::parse("012084").unwrap(),
            status: Status::Open,
            ticket: None,
            catalog_version: "builtin".into(),
            household,
            opened_at: at,
            opened_on: at.date_naive(),
            closed_at: None,
            updated_at: at,
            opened_by_client: None,
            opened_by_staff: None,
            counter: None,
            revision: 1,
        }
    }

    fn confirmed(mut v: Visit) -> Visit {
        v.household.confirmation = Some(Confirmation {
            confirmed_at: v.opened_at,
            confirmed_by: Some("clerk-0042".into()),
            signature: Signature::Attestation {
                attested_by: "clerk-0042".into(),
            },
            procedures: Vec::new(),
            drafts: Vec::new(),
        });
        v
    }

    #[test]
    fn an_open_visit_changes_and_confirms_but_has_nothing_to_submit() {
        let v = visit();
        assert_eq!(v.check(Step::Change), Ok(()));
        assert_eq!(v.check(Step::Confirm), Ok(()));
        assert_eq!(v.check(Step::Close), Ok(()));
        assert_eq!(v.check(Step::Submit), Err(Barred::NotConfirmed));
    }

    #[test]
    fn a_confirmed_visit_is_frozen_but_submits_and_closes() {
        let v = confirmed(visit());
        assert_eq!(v.check(Step::Change), Err(Barred::Confirmed));
        assert_eq!(v.check(Step::Confirm), Err(Barred::Confirmed));
        assert_eq!(v.check(Step::Submit), Ok(()));
        assert_eq!(v.check(Step::Close), Ok(()));
    }

    #[test]
    fn a_closed_visit_allows_nothing_and_a_submitted_one_says_so_first() {
        let mut v = confirmed(visit());
        v.status = Status::Closed;
        for step in [Step::Change, Step::Confirm, Step::Close] {
            assert_eq!(v.check(step), Err(Barred::Closed), "{step:?}");
        }
        assert_eq!(v.check(Step::Submit), Err(Barred::Closed));
        v.household.submitted_at = Some(v.opened_at);
        assert_eq!(v.check(Step::Submit), Err(Barred::Submitted));
    }
}
