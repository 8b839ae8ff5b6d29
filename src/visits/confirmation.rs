//! One confirmation for the whole visit (the resident signs once), then submission: each
//! needed procedure becomes an application with its own state.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// How the resident confirmed every draft at once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "method")]
pub enum Signature {
    /// A signature written on the counter's pad, as an image.
    Image {
        media_type: String,
        /// Base64 of the image as sent.
        data: String,
        sha256: String,
        bytes: usize,
    },
    /// The clerk attests that the resident signed the printed summary.
    Attestation { attested_by: String },
}

/// A draft as it was confirmed: frozen from then on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FrozenDraft {
    pub key: String,
    pub procedure_id: String,
    pub form: String,
    pub member: Option<String>,
    pub document: Value,
    pub prefilled_fields: usize,
    pub typed_fields: usize,
}

/// A needed procedure at confirmation, with or without a form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfirmedProcedure {
    pub procedure_id: String,
    pub area: String,
    pub event: usize,
    pub member: Option<String>,
    pub referral: bool,
    /// The draft it is filed with, when it has a form.
    pub draft: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Confirmation {
    pub confirmed_at: DateTime<Utc>,
    pub confirmed_by: Option<String>,
    pub signature: Signature,
    pub procedures: Vec<ConfirmedProcedure>,
    pub drafts: Vec<FrozenDraft>,
}

impl Confirmation {
    pub fn prefilled_fields(&self) -> usize {
        self.drafts.iter().map(|d| d.prefilled_fields).sum()
    }

    pub fn typed_fields(&self) -> usize {
        self.drafts.iter().map(|d| d.typed_fields).sum()
    }
}

/// The state of an application as the core system's link moves it along.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ApplicationState {
    Submitted,
    Delivered,
    Accepted,
    Rejected,
    Completed,
    /// Handled by another office or department; the resident was referred there.
    Referred,
}

impl ApplicationState {
    pub const ALL: [ApplicationState; 6] = [
        Self::Submitted,
        Self::Delivered,
        Self::Accepted,
        Self::Rejected,
        Self::Completed,
        Self::Referred,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ApplicationState::Submitted => "submitted",
            ApplicationState::Delivered => "delivered",
            ApplicationState::Accepted => "accepted",
            ApplicationState::Rejected => "rejected",
            ApplicationState::Completed => "completed",
            ApplicationState::Referred => "referred",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// What a core system answers about an application it received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acknowledgement {
    Accepted,
    Rejected,
    Completed,
}

impl Acknowledgement {
    pub fn state(self) -> ApplicationState {
        match self {
            Acknowledgement::Accepted => ApplicationState::Accepted,
            Acknowledgement::Rejected => ApplicationState::Rejected,
            Acknowledgement::Completed => ApplicationState::Completed,
        }
    }
}

impl ApplicationState {
    /// The state after a core system's answer; `None` when the application is past that
    /// (an answer repeated gives the same state: the core system may retry).
    pub fn after(self, ack: Acknowledgement) -> Option<ApplicationState> {
        use ApplicationState as S;
        let next = ack.state();
        match (self, next) {
            (a, b) if a == b => Some(b),
            (S::Submitted | S::Delivered, _) => Some(next),
            (S::Accepted, S::Completed) => Some(next),
            _ => None,
        }
    }
}

/// One procedure of a submitted visit.
#[derive(Debug, Clone, PartialEq)]
pub struct Application {
    pub id: Uuid,
    pub visit_id: Uuid,
    pub procedure_id: String,
    pub area: String,
    pub member: Option<String>,
    /// `formId@version`, when filed on a form.
    pub form: Option<String>,
    pub document: Option<Value>,
    pub state: ApplicationState,
    /// Why the core system rejected it (its words), when it did.
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The applications a confirmation turns into.
pub fn applications(visit_id: Uuid, c: &Confirmation, now: DateTime<Utc>) -> Vec<Application> {
    c.procedures
        .iter()
        .map(|p| {
            let draft = p
                .draft
                .as_ref()
                .and_then(|k| c.drafts.iter().find(|d| &d.key == k));
            Application {
                id: Uuid::now_v7(),
                visit_id,
                procedure_id: p.procedure_id.clone(),
                area: p.area.clone(),
                member: p.member.clone(),
                form: draft.map(|d| d.form.clone()),
                document: draft.map(|d| d.document.clone()),
                state: if p.referral {
                    ApplicationState::Referred
                } else {
                    ApplicationState::Submitted
                },
                reason: None,
                created_at: now,
                updated_at: now,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_core_system_moves_an_application_forward_and_may_repeat_itself() {
        use Acknowledgement as A;
        use ApplicationState as S;
        assert_eq!(S::Submitted.after(A::Accepted), Some(S::Accepted));
        assert_eq!(S::Submitted.after(A::Rejected), Some(S::Rejected));
        assert_eq!(S::Accepted.after(A::Completed), Some(S::Completed));
        assert_eq!(S::Accepted.after(A::Accepted), Some(S::Accepted));
        assert_eq!(S::Completed.after(A::Rejected), None);
        assert_eq!(S::Rejected.after(A::Accepted), None);
        assert_eq!(S::Referred.after(A::Accepted), None);
    }

    #[test]
    fn a_referral_becomes_a_referred_application_and_a_form_carries_its_document() {
        let now = Utc::now();
        let c = Confirmation {
            confirmed_at: now,
            confirmed_by: Some("clerk".into()),
            signature: Signature::Attestation {
                attested_by: "clerk".into(),
            },
            procedures: vec![
                ConfirmedProcedure {
                    procedure_id: "pensionSurvivorsReferral".into(),
                    area: "nationalPension".into(),
                    event: 0,
                    member: Some("m1".into()),
                    referral: true,
                    draft: None,
                },
                ConfirmedProcedure {
                    procedure_id: "ltcLeaveDeath".into(),
                    area: "longTermCareInsurance".into(),
                    event: 0,
                    member: Some("m1".into()),
                    referral: false,
                    draft: Some("ltcLeaveDeath@0@m1".into()),
                },
            ],
            drafts: vec![FrozenDraft {
                key: "ltcLeaveDeath@0@m1".into(),
                procedure_id: "ltcLeaveDeath".into(),
                form: "longTermCareInsurance@1.0".into(),
                member: Some("m1".into()),
                document: json!({"event": "loss"}),
                prefilled_fields: 9,
                typed_fields: 2,
            }],
        };
        let apps = applications(Uuid::now_v7(), &c, now);
        assert_eq!(apps[0].state, ApplicationState::Referred);
        assert_eq!(apps[0].form, None);
        assert_eq!(apps[1].state, ApplicationState::Submitted);
        assert_eq!(apps[1].document, Some(json!({"event": "loss"})));
        assert_eq!(apps[1].form.as_deref(), Some("longTermCareInsurance@1.0"));
        assert_ne!(apps[0].id, apps[1].id);
        assert_eq!((c.prefilled_fields(), c.typed_fields()), (9, 2));
    }
}
