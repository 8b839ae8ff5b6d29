//! Conformance sessions: the client suite, run inside the gateway. A vendor (scope
//! `conformance`) opens a session; the gateway gives it a sandbox municipality of its own with
//! synthetic residents, a client of that municipality alone, and a script of steps; it records
//! every request of that client and answers the first request of some steps with a fault
//! (409, 422, 429 and 503 with Retry-After, an answer held back). The report judges the
//! recording with the `counter-app` suite, as the kit judges a HAR capture.
//!
//! Unlike the kit (`crate::conformance`, which needs no database and reads nothing of ours)
//! this part is the gateway's: its use cases are here, its rows in `store::conformance`, its
//! routes in `http::v1::conformance`, and what records and injects in
//! `http::middleware::conformance`. It uses the kit (the recording, the contract, the runner);
//! the kit never reads it back.

pub mod index;
pub mod script;
pub mod service;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::conformance::contract::Contract;
use crate::conformance::recording::Recorded;
use crate::tenancy::LgCode;

/// The first five digits of the sandbox municipalities sessions get: in the range of 沖縄県
/// (47) that no municipality uses (its codes stop at 47382; a new one would be numbered in
/// its district's range). 47990–47999 are the kit's own, for `gateway-api` runs.
pub const SESSION_SANDBOXES: std::ops::RangeInclusive<u32> = 47400..=47989;

/// Whether `code` is a sandbox municipality (a session's or the kit's), never a real one.
pub fn is_sandbox(code: &LgCode) -> bool {
    let five: u32 = code.to_string()[..5].parse().unwrap_or(0);
    (47400..=47999).contains(&five)
}

/// The session's sandbox codes in order, each with its check digit.
pub fn sandbox_codes() -> impl Iterator<Item = LgCode> {
    SESSION_SANDBOXES.filter_map(|five| LgCode::complete(&five.to_string()).ok())
}

/// A session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: Uuid,
    /// The client that opened it.
    pub opened_by: String,
    /// The session's own client.
    pub client_id: String,
    pub lg_code: LgCode,
    pub product: Option<String>,
    pub slow_seconds: u64,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

impl Session {
    /// Whether its client's requests are still recorded and faults served.
    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        self.closed_at.is_none() && now < self.expires_at
    }
}

/// One request of a session's client as stored: the recording's row with its absolute time.
#[derive(Debug, Clone)]
pub struct StoredRequest {
    pub at: DateTime<Utc>,
    pub recorded: Recorded,
    /// The script step whose fault answered it.
    pub fault: Option<String>,
}

/// The stored requests as the judges read them: numbered from 1, timed from the first.
pub fn recording(rows: &[StoredRequest]) -> Vec<Recorded> {
    let first = rows.first().map(|r| r.at);
    rows.iter()
        .enumerate()
        .map(|(i, row)| Recorded {
            n: i as u32 + 1,
            at_ms: first.map_or(0, |f| (row.at - f).num_milliseconds().max(0) as u64),
            ..row.recorded.clone()
        })
        .collect()
}

/// How far a session has come: each step, whether a request of it was answered with
/// success, and whether its fault was served (`served`: the steps whose fault was claimed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepProgress {
    pub id: String,
    pub done: bool,
    pub fault_served: bool,
}

pub fn progress(
    script: &script::Script,
    rows: &[StoredRequest],
    served: &[String],
) -> Vec<StepProgress> {
    // Each request's operation, found once.
    let contract = Contract::shared().ok();
    let answered: Vec<(String, String, bool)> = rows
        .iter()
        .filter_map(|r| {
            let template = contract?.template_of(&r.recorded.method, &r.recorded.path)?;
            let success = r.recorded.status.is_some_and(|s| (200..300).contains(&s));
            Some((r.recorded.method.clone(), template, success))
        })
        .collect();
    script
        .steps
        .iter()
        .map(|step| StepProgress {
            id: step.id.clone(),
            done: answered.iter().any(|(method, template, success)| {
                *success && *method == step.expect.method && *template == step.expect.path
            }),
            fault_served: served.contains(&step.id),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandbox_codes_are_valid_codes_no_municipality_has() {
        let codes: Vec<LgCode> = sandbox_codes().collect();
        assert_eq!(codes.len(), 590);
        assert_eq!(codes[0].to_string()[..5], *"47400");
        assert!(codes.iter().all(is_sandbox));
        // 那覇市, 与那国町 and the kit's own.
        assert!(!is_sandbox(&LgCode::parse("472018").unwrap()));
        assert!(!is_sandbox(&LgCode::parse("473821").unwrap()));
        assert!(is_sandbox(&LgCode::complete("47990").unwrap()));
    }
}
