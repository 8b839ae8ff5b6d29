//! The one-stop visit: a household's life events and facts, the procedures they need
//! (determination), and — in later steps — prefilled drafts, one signature and applications.

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
