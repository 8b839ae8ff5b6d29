//! A visit: the life events a household comes with, its members and the facts known about
//! them, each with where it came from.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::tenancy::LgCode;

/// Where a fact came from. Later sources (the resident registry, the My Number card) add
/// facts with their own source; the API stays the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Source {
    /// Typed by the clerk.
    Clerk,
    /// The answer to a question of the determination.
    Answer,
    /// Read from the resident registry.
    Registry,
    /// Read from the My Number card.
    Card,
    /// Computed by the gateway from other facts.
    Derived,
}

impl Source {
    pub const ALL: [Source; 5] = [
        Source::Clerk,
        Source::Answer,
        Source::Registry,
        Source::Card,
        Source::Derived,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Clerk => "clerk",
            Source::Answer => "answer",
            Source::Registry => "registry",
            Source::Card => "card",
            Source::Derived => "derived",
        }
    }
}

/// One known fact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recorded {
    pub value: Value,
    pub source: Source,
    pub recorded_at: DateTime<Utc>,
}

pub type Facts = BTreeMap<String, Recorded>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    /// Chosen by the counter app (`m1`, `m2` …), unique within the visit.
    pub id: String,
    pub facts: Facts,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LifeEvent {
    /// A life event id of the catalogue's vocabulary (`moveIn`, `death` …).
    pub kind: String,
    pub date: NaiveDate,
    /// The members the event concerns (the deceased, the newborn, the spouses); empty means
    /// every member (a move of the whole household).
    pub subjects: Vec<String>,
    /// The event's own facts (`from`, `cardSpecialMoveIn` …).
    pub facts: Facts,
}

impl LifeEvent {
    pub fn concerns(&self, member: &str) -> bool {
        self.subjects.is_empty() || self.subjects.iter().any(|s| s == member)
    }
}

/// The person filing: a member, or someone from outside the household.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Applicant {
    pub member: Option<String>,
    pub facts: Facts,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Status {
    Open,
    Closed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(Status::Open),
            "closed" => Some(Status::Closed),
            _ => None,
        }
    }
}

/// Where a visit is in its life, as the counter sees it: derived from what it holds (the
/// stored status says only open or closed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Open,
    /// The resident confirmed the drafts; nothing changes any more.
    Confirmed,
    /// Its applications exist.
    Submitted,
    Closed,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Open => "open",
            Stage::Confirmed => "confirmed",
            Stage::Submitted => "submitted",
            Stage::Closed => "closed",
        }
    }
}

/// What the visit holds about the household, stored as one document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Household {
    pub events: Vec<LifeEvent>,
    pub members: Vec<Member>,
    pub applicant: Applicant,
    /// Facts of the household as a whole (answers such as `receivesChildAllowance`).
    pub facts: Facts,
    /// The clerk's edits of the drafts, by draft key and JSON pointer.
    #[serde(default)]
    pub edits: super::drafts::Edits,
    /// The resident's one confirmation of every draft; nothing changes after it.
    #[serde(default)]
    pub confirmation: Option<super::confirmation::Confirmation>,
    /// When the visit was submitted (its applications exist from then on).
    #[serde(default)]
    pub submitted_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl Household {
    pub fn member(&self, id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.id == id)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Visit {
    pub id: Uuid,
    pub lg_code: LgCode,
    pub status: Status,
    /// 受付番号 (queue ticket), when the counter uses one.
    pub ticket: Option<String>,
    /// The catalogue the visit was opened with.
    pub catalog_version: String,
    pub household: Household,
    pub opened_at: DateTime<Utc>,
    /// The day of the visit in Japan (+09:00), for a day's list.
    pub opened_on: NaiveDate,
    pub closed_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub opened_by_client: Option<String>,
    pub opened_by_staff: Option<String>,
    /// The counter (窓口) it was opened at, as the municipality names its counters (`3番`).
    pub counter: Option<String>,
    /// Incremented by every change, for optimistic concurrency.
    pub revision: i64,
}

impl Visit {
    /// A visit opened now by the clerk `by` with `household`, on the catalogue
    /// `catalog_version`: open, at its first revision.
    pub fn open(
        lg_code: LgCode,
        ticket: Option<String>,
        catalog_version: String,
        household: Household,
        by: &crate::audit::Actor,
        now: DateTime<Utc>,
    ) -> Self {
        Visit {
            id: Uuid::now_v7(),
            lg_code,
            status: Status::Open,
            ticket,
            catalog_version,
            household,
            opened_at: now,
            opened_on: japan_day(now),
            closed_at: None,
            updated_at: now,
            opened_by_client: by.client_id.clone(),
            opened_by_staff: by.staff.clone(),
            counter: None,
            revision: 1,
        }
    }

    pub fn stage(&self) -> Stage {
        match (
            self.status,
            self.household.submitted_at,
            &self.household.confirmation,
        ) {
            (Status::Closed, _, _) => Stage::Closed,
            (Status::Open, Some(_), _) => Stage::Submitted,
            (Status::Open, None, Some(_)) => Stage::Confirmed,
            (Status::Open, None, None) => Stage::Open,
        }
    }
}

pub use crate::clock::japan_day;
