//! The conformance kit: the Digital Agency's (and every vendor's) tests of an implementation
//! of madoguchi's contract, run from the command line against a base URL, needing no database
//! and nothing of the gateway's own.
//!
//! - `requirements`: the requirement catalogue, data under `schemas/conformance/requirements/`.
//! - `specimens`: form specimens, normalization cases and visit scenarios, also data.
//! - `suite` and `suites/`: the tests, each check made against one requirement.
//! - `exchange` and `redact`: every request and answer, redacted as recorded.
//! - `contract`: the contract built in, to hold every answer to.
//! - `runner`: a run from set-up to the written directory; `report/` its three forms;
//!   `package`: the signed manifest and its verification.

pub mod contract;
pub mod exchange;
pub mod package;
pub mod receiver;
pub mod recording;
pub mod redact;
pub mod report;
pub mod requirements;
pub mod runner;
pub mod specimens;
pub mod suite;
pub mod suites;

use suite::Suite;

/// Every suite by name.
pub fn suites() -> [&'static Suite; 4] {
    [
        &suites::gateway_api::SUITE,
        &suites::core_http::SUITE,
        &suites::link_files::SUITE,
        &suites::counter_app::SUITE,
    ]
}

pub fn suite(name: &str) -> Option<&'static Suite> {
    suites().into_iter().find(|s| s.name == name)
}

/// The built-in requirement catalogue, checked against its schema and against the kit's tests
/// (start-up and every run check it, as start-up checks the procedure catalogue).
pub fn checked_catalogue() -> Result<requirements::Catalogue, String> {
    let catalogue = requirements::Catalogue::built_in().map_err(|e| e.to_string())?;
    let problems = catalogue_problems(&catalogue);
    if problems.is_empty() {
        Ok(catalogue)
    } else {
        Err(problems.join("; "))
    }
}

/// Where the catalogue and the kit's suites disagree, one sentence each.
pub fn catalogue_problems(catalogue: &requirements::Catalogue) -> Vec<String> {
    let mut problems = Vec::new();
    for suite in suites() {
        match catalogue.set(suite.set) {
            Some(set) => problems.extend(set.check_against(&suite.test_ids())),
            None => problems.push(format!(
                "the suite {} has no requirement set {}",
                suite.name, suite.set
            )),
        }
    }
    problems
}
