//! The report of a run: what each test found, what each requirement came to, the verdict; and
//! its three forms (`report.json`, `junit.xml`, `report.html`).

pub mod html;
pub mod junit;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::requirements::{Capability, Level, RequirementSet, Text};
use super::suite::Check;

pub const FORMAT: &str = "madoguchi-conformance-report/1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pass,
    /// Only SHOULD requirements were not met.
    Warn,
    Fail,
    /// Not applicable: the system under test does not offer what the test needs.
    Omit,
    /// The test could not finish (transport, timeout, what it needed first did not work).
    Error,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Warn => "warn",
            Self::Fail => "fail",
            Self::Omit => "omit",
            Self::Error => "error",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Met,
    NotMet,
    /// Applicable, but no test could check it this run (errors).
    NotVerified,
    NotApplicable,
    /// The catalogue says why no test checks it.
    NotTested,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Conformant,
    NotConformant,
    Incomplete,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Conformant => "conformant",
            Self::NotConformant => "not_conformant",
            Self::Incomplete => "incomplete",
        }
    }
    /// The kit's exit status for it.
    pub fn exit_code(self) -> u8 {
        match self {
            Self::Conformant => 0,
            Self::NotConformant => 1,
            Self::Incomplete => 3,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestResult {
    pub id: String,
    pub group: String,
    pub title: Text,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub duration_ms: u64,
    pub checks: Vec<Check>,
    /// Evidence files of its exchanges, relative to the run's directory.
    pub evidence: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequirementResult {
    pub id: String,
    pub level: Level,
    pub text: Text,
    pub source: String,
    pub status: Status,
    pub tests: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LevelCounts {
    pub total: usize,
    pub met: usize,
    pub not_met: usize,
    pub not_verified: usize,
    pub not_applicable: usize,
    pub not_tested: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub format: String,
    pub kit: Kit,
    pub catalogue: CatalogueRef,
    pub suite: String,
    pub sut: SutRef,
    pub started_at: String,
    pub finished_at: String,
    pub duration_ms: u64,
    pub verdict: Verdict,
    /// The tests and groups a partial run was limited to (`--only`): its verdict is never
    /// `conformant`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub only: Vec<String>,
    pub counts: Counts,
    pub requirements: Vec<RequirementResult>,
    pub tests: Vec<TestResult>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Kit {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CatalogueRef {
    pub set: String,
    pub version: String,
    pub digest: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SutRef {
    pub base_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    pub lg_code: String,
    pub capabilities: Vec<Capability>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub tests: BTreeMap<String, usize>,
    /// By level: SHALL, SHOULD, MAY.
    pub requirements: BTreeMap<String, LevelCounts>,
}

/// Where the exchange numbered `n` of `test` is kept, relative to the run's directory.
pub fn evidence_path(test: &str, n: u32) -> String {
    format!("evidence/{test}/{n:04}.json")
}

/// What each requirement came to, from the tests' checks.
pub fn judge_requirements(
    set: &RequirementSet,
    tests: &[TestResult],
    capabilities: &BTreeSet<Capability>,
) -> Vec<RequirementResult> {
    set.requirements
        .iter()
        .filter(|r| r.retired.is_none())
        .map(|r| {
            let checks: Vec<&Check> = tests
                .iter()
                .flat_map(|t| &t.checks)
                .filter(|c| c.requirement == r.id)
                .collect();
            let its_tests: Vec<&TestResult> =
                tests.iter().filter(|t| r.tests.contains(&t.id)).collect();
            let (status, why) = if let Some(nt) = &r.not_tested {
                (
                    Status::NotTested,
                    Some(format!("{}: {}", nt.reason, nt.details.en)),
                )
            } else if r.capability.is_some_and(|c| !capabilities.contains(&c)) {
                let cap = r.capability.map(Capability::as_str).unwrap_or_default();
                (
                    Status::NotApplicable,
                    Some(format!("the system under test does not offer {cap}")),
                )
            } else if checks.iter().any(|c| !c.passed) {
                (Status::NotMet, None)
            } else if let Some(t) = its_tests.iter().find(|t| t.outcome == Outcome::Error) {
                (
                    Status::NotVerified,
                    Some(format!(
                        "{} ended in error: {}",
                        t.id,
                        t.reason.clone().unwrap_or_default()
                    )),
                )
            } else if checks.is_empty()
                && let Some(t) = its_tests.iter().find(|t| t.outcome == Outcome::Omit)
            {
                (
                    Status::NotVerified,
                    Some(format!(
                        "{} was not run: {}",
                        t.id,
                        t.reason.clone().unwrap_or_default()
                    )),
                )
            } else if checks.is_empty() {
                (Status::NotVerified, Some("no check was made".to_owned()))
            } else {
                (Status::Met, None)
            };
            RequirementResult {
                id: r.id.clone(),
                level: r.level,
                text: r.text.clone(),
                source: r.source.clone(),
                status,
                tests: r.tests.clone(),
                why,
            }
        })
        .collect()
}

/// The verdict: not conformant when a SHALL (or a declared MAY) is not met; incomplete when
/// one could not be verified or a test ended in error; conformant otherwise.
pub fn verdict(requirements: &[RequirementResult], tests: &[TestResult]) -> Verdict {
    let binding = |r: &&RequirementResult| r.level != Level::Should;
    if requirements
        .iter()
        .filter(binding)
        .any(|r| r.status == Status::NotMet)
    {
        Verdict::NotConformant
    } else if requirements
        .iter()
        .filter(binding)
        .any(|r| r.status == Status::NotVerified)
        || tests.iter().any(|t| t.outcome == Outcome::Error)
    {
        Verdict::Incomplete
    } else {
        Verdict::Conformant
    }
}

pub fn counts(requirements: &[RequirementResult], tests: &[TestResult]) -> Counts {
    let mut by_outcome = BTreeMap::new();
    for t in tests {
        *by_outcome.entry(t.outcome.as_str().to_owned()).or_insert(0) += 1;
    }
    let mut by_level: BTreeMap<String, LevelCounts> = BTreeMap::new();
    for r in requirements {
        let c = by_level.entry(r.level.as_str().to_owned()).or_default();
        c.total += 1;
        match r.status {
            Status::Met => c.met += 1,
            Status::NotMet => c.not_met += 1,
            Status::NotVerified => c.not_verified += 1,
            Status::NotApplicable => c.not_applicable += 1,
            Status::NotTested => c.not_tested += 1,
        }
    }
    Counts {
        tests: by_outcome,
        requirements: by_level,
    }
}

/// Outcome of a test from its checks, given each requirement's level.
pub fn outcome_of(checks: &[Check], level_of: impl Fn(&str) -> Option<Level>) -> Outcome {
    let failed: Vec<Option<Level>> = checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| level_of(&c.requirement))
        .collect();
    if failed.iter().any(|l| *l != Some(Level::Should)) {
        Outcome::Fail
    } else if !failed.is_empty() {
        Outcome::Warn
    } else {
        Outcome::Pass
    }
}

/// The report's summary line: `conformant — SHALL 31/31 met …`.
pub fn summary_line(report: &Report) -> String {
    let shall = report
        .counts
        .requirements
        .get("SHALL")
        .cloned()
        .unwrap_or_default();
    let should = report
        .counts
        .requirements
        .get("SHOULD")
        .cloned()
        .unwrap_or_default();
    format!(
        "{} — SHALL: {} met, {} not met, {} not verified, {} not applicable, {} not tested (of {}); SHOULD: {} met, {} not met (of {})",
        report.verdict.as_str(),
        shall.met,
        shall.not_met,
        shall.not_verified,
        shall.not_applicable,
        shall.not_tested,
        shall.total,
        should.met,
        should.not_met,
        should.total
    )
}
