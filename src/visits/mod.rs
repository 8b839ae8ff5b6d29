//! The one-stop visit: a household's life events and facts ([`input`], [`model`]), the
//! procedures they need ([`determination`]), the drafts prefilled from the facts and the
//! clerk's edits ([`drafts`], [`edit`], [`evaluate`]), the resident's one confirmation and the
//! applications it becomes ([`confirmation`]), and the steps a visit allows in each stage
//! ([`lifecycle`]). Free of HTTP and SQL: the edge and the store call it.

pub mod confirmation;
pub mod derive;
pub mod determination;
pub mod drafts;
pub mod edit;
pub mod evaluate;
pub mod facts;
pub mod input;
pub mod lifecycle;
pub mod limits;
pub mod model;
pub mod printouts;
pub mod signature;

pub use determination::{Decision, Determination, Explainer, Outcome, Question, determine};
pub use evaluate::{EvaluatedDraft, evaluate};
pub use lifecycle::{Barred, Step};
pub use model::{Applicant, Household, LifeEvent, Member, Recorded, Source, Status, Visit};
