//! One confirmation for the whole visit (the resident signs once), then submission: each
//! needed procedure becomes an application with its own state.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::determination::{Decision, Determination, Outcome};
use super::evaluate::EvaluatedDraft;
use super::facts::question_id;
use crate::catalog::Handling;
use crate::i18n::{Lang, Text};
use crate::validation::{FieldError, push_pointer_token};

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

/// The resident's one confirmation of what the clerk showed: every needed procedure this
/// applicant may file today, with its draft frozen as evaluated. Refused, with every reason at
/// once, while a question is open or a draft has errors (each draft named with its first
/// error, for the clerk to open).
pub fn confirm(
    d: &Determination,
    drafts: Vec<EvaluatedDraft<'_>>,
    signature: Signature,
    staff: Option<String>,
    now: DateTime<Utc>,
) -> Result<Confirmation, Vec<FieldError>> {
    let mut errors = Vec::new();
    let open: Vec<String> = d
        .questions
        .iter()
        .map(|q| question_id(&q.at, q.event))
        .collect();
    if !open.is_empty() {
        errors.push(FieldError::new(
            "/",
            "questions_open",
            Text::new(
                format!("まだ回答していない質問があります: {}", open.join(", ")),
                format!("Questions are still open: {}", open.join(", ")),
            ),
        ));
    }
    for draft in drafts.iter().filter(|x| !x.valid()) {
        let first = |lang| {
            draft
                .errors
                .first()
                .map(|e| format!("{} {}", e.pointer, e.message.get(lang)))
                .unwrap_or_default()
        };
        let mut at = "/drafts".to_owned();
        push_pointer_token(&mut at, &draft.spec.key);
        errors.push(FieldError::new(
            at,
            "draft_invalid",
            Text::new(
                format!(
                    "下書き「{}」({})に{}件の誤りがあります。最初: {}",
                    draft.spec.key,
                    draft.form.title,
                    draft.errors.len(),
                    first(Lang::Ja)
                ),
                format!(
                    "Draft {} ({}) has {} error(s). First: {}",
                    draft.spec.key,
                    draft.form_ref(),
                    draft.errors.len(),
                    first(Lang::En)
                ),
            ),
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let key_of = |x: &Decision| {
        drafts
            .iter()
            .find(|dr| {
                dr.spec.procedure.id == x.procedure.id
                    && dr.spec.event == x.event
                    && (dr.spec.member.is_none() || dr.spec.member == x.member)
            })
            .map(|dr| dr.spec.key.clone())
    };
    let procedures = d
        .decisions
        .iter()
        .filter(|x| x.outcome == Outcome::Needed)
        // One this applicant may not file today stays on the receipt as left to do.
        .filter(|x| x.filing.as_ref().is_none_or(|f| f.allowed == Some(true)))
        .map(|x| ConfirmedProcedure {
            procedure_id: x.procedure.id.clone(),
            area: x.procedure.area.clone(),
            event: x.event,
            member: x.member.clone(),
            referral: matches!(x.procedure.handling, Handling::Referral { .. }),
            draft: key_of(x),
        })
        .collect();
    Ok(Confirmation {
        confirmed_at: now,
        confirmed_by: staff,
        signature,
        procedures,
        drafts: drafts
            .into_iter()
            .map(|dr| FrozenDraft {
                form: dr.form_ref(),
                key: dr.spec.key,
                procedure_id: dr.spec.procedure.id.clone(),
                member: dr.spec.member,
                document: dr.document,
                prefilled_fields: dr.prefilled,
                typed_fields: dr.typed,
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    mod confirming {
        use chrono::TimeZone;
        use serde_json::json;

        use super::super::*;
        use crate::catalog::Catalog;
        use crate::forms::{FormRegistry, SchemaSource};
        use crate::visits::edit;
        use crate::visits::input::{self, Context, NewApplicant, NewEvent, NewMember};
        use crate::visits::{determine, evaluate};

        /// A certificate request at the counter, as `POST …/visits` opens it.
        fn certificate_request(
            forms: &FormRegistry,
            catalog: &Catalog,
        ) -> crate::visits::Household {
            let now = Utc.with_ymd_and_hms(2026, 12, 3, 1, 0, 0).unwrap();
            let ctx = Context {
                catalog,
                eras: &forms.eras,
                now,
            };
            let facts = |list: &[(&str, &str)]| {
                list.iter()
                    .map(|(k, v)| (k.to_string(), json!(v)))
                    .collect::<Vec<_>>()
            };
            input::household(
                &ctx,
                vec![NewEvent {
                    kind: "certificateRequest".into(),
                    date: "2026-12-03".into(),
                    subjects: Vec::new(),
                    facts: vec![("certificates".into(), json!(["residentRecordCopy"]))],
                }],
                vec![NewMember {
                    id: "m1".into(),
                    facts: facts(&[
                        ("familyName", "田中"),
                        ("givenName", "修"),
                        ("familyNameKana", "タナカ"),
                        ("givenNameKana", "オサム"),
                        ("dateOfBirth", "1970-01-01"),
                        ("sex", "1"),
                    ]),
                }],
                NewApplicant {
                    member: Some("m1".into()),
                    name: None,
                },
                Vec::new(),
            )
            .unwrap()
        }

        #[test]
        fn a_draft_with_errors_is_named_and_a_complete_visit_freezes_its_drafts() {
            let forms = FormRegistry::load(&SchemaSource::Embedded).unwrap();
            let catalog = Catalog::load(&SchemaSource::Embedded, &forms).unwrap();
            let mut household = certificate_request(&forms, &catalog);
            let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
            let now = Utc.with_ymd_and_hms(2026, 12, 3, 2, 0, 0).unwrap();
            let attested = || Signature::Attestation {
                attested_by: "clerk-0042".into(),
            };

            let d = determine(&catalog, &household);
            let drafts = evaluate(&forms, &catalog, &household, &d, today);
            let refused = confirm(&d, drafts, attested(), None, now).unwrap_err();
            assert_eq!(refused.len(), 1, "{refused:?}");
            assert_eq!(refused[0].pointer, "/drafts/residentRecordCopy@0");
            assert_eq!(refused[0].code, "draft_invalid");
            // The first error, in each language.
            assert!(
                refused[0].message.ja.contains("証明書交付請求書"),
                "{:?}",
                refused[0]
            );
            assert!(
                refused[0].message.en.contains("certificateIssuance@1.0"),
                "{:?}",
                refused[0]
            );

            // The clerk completes what no system knows.
            let changes = [
                ("/purpose", json!("勤務先提出")),
                ("/identityDocument", json!("運転免許証")),
                ("/applicant/relation", json!("本人")),
                ("/applicant/contact/phone", json!("0157-23-7111")),
            ]
            .into_iter()
            .map(|(p, v)| (p.to_owned(), crate::visits::drafts::Edit::Set(v)))
            .collect();
            edit::record(&mut household, "residentRecordCopy@0", changes).unwrap();
            let d = determine(&catalog, &household);
            let drafts = evaluate(&forms, &catalog, &household, &d, today);
            let c = confirm(&d, drafts, attested(), Some("clerk-0042".into()), now).unwrap();
            assert_eq!(c.confirmed_at, now);
            assert_eq!(c.confirmed_by.as_deref(), Some("clerk-0042"));
            let procedures: Vec<(&str, Option<&str>)> = c
                .procedures
                .iter()
                .map(|p| (p.procedure_id.as_str(), p.draft.as_deref()))
                .collect();
            assert_eq!(
                procedures,
                [("residentRecordCopy", Some("residentRecordCopy@0"))]
            );
            assert_eq!(c.drafts.len(), 1);
            assert_eq!(c.drafts[0].form, "certificateIssuance@1.0");
            assert_eq!(c.drafts[0].document["purpose"], "勤務先提出");
            assert_eq!(c.typed_fields(), 4);
            assert!(c.prefilled_fields() > 0);
        }
    }

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
