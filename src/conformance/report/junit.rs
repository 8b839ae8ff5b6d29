//! `junit.xml`: what CI tools read (Jenkins' junit-10.xsd; GitLab's reader). One `testsuite`
//! for the run; a test's name is its id and the requirements it checks, unique within it.
//! Bodies stay in the evidence files; only messages go here.

use maud::{PreEscaped, html};

use super::{Outcome, Report, TestResult};

/// Characters XML 1.0 does not allow are dropped (a control character in an answer would
/// make the whole file unreadable).
pub fn xml_text(s: &str) -> String {
    s.chars()
        .filter(|c| {
            matches!(*c, '\t' | '\n' | '\r')
                || ('\u{20}'..='\u{D7FF}').contains(c)
                || ('\u{E000}'..='\u{FFFD}').contains(c)
                || ('\u{10000}'..='\u{10FFFF}').contains(c)
        })
        .collect()
}

fn seconds(ms: u64) -> String {
    format!("{:.3}", ms as f64 / 1000.0)
}

fn failed_text(t: &TestResult) -> String {
    t.checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| {
            let evidence = c
                .exchange
                .map(|n| {
                    format!(
                        "\nevidence: exchange {n} ({})",
                        super::evidence_path(&t.id, n)
                    )
                })
                .unwrap_or_default();
            format!(
                "requirement {}\nexpected: {}\nactual: {}{evidence}",
                c.requirement, c.expected, c.actual
            )
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn name(t: &TestResult) -> String {
    let mut requirements: Vec<&str> = t.checks.iter().map(|c| c.requirement.as_str()).collect();
    requirements.sort_unstable();
    requirements.dedup();
    if requirements.is_empty() {
        t.id.clone()
    } else {
        format!("{} [{}]", t.id, requirements.join(", "))
    }
}

pub fn render(report: &Report) -> String {
    let count = |o: Outcome| report.tests.iter().filter(|t| t.outcome == o).count();
    let failures = count(Outcome::Fail);
    let errors = count(Outcome::Error);
    let skipped = count(Outcome::Omit);
    let total = report.tests.len();
    let time = seconds(report.duration_ms);
    // Zone-less UTC, as the Ant schema wants.
    let timestamp = report
        .started_at
        .trim_end_matches('Z')
        .chars()
        .take(19)
        .collect::<String>();
    let x = |s: &str| xml_text(s);
    let body = html! {
        testsuites name=(x(&format!("madoguchi conformance {}", report.kit.version))) tests=(total) failures=(failures) errors=(errors) time=(time) {
            testsuite name=(x(&report.suite)) package="madoguchi.conformance" id="0" hostname="localhost"
                timestamp=(timestamp) tests=(total) failures=(failures) errors=(errors) skipped=(skipped) time=(time) {
                properties {
                    property name="kit.version" value=(x(&report.kit.version)) {}
                    property name="catalogue.set" value=(x(&report.catalogue.set)) {}
                    property name="catalogue.version" value=(x(&report.catalogue.version)) {}
                    property name="catalogue.digest" value=(x(&report.catalogue.digest)) {}
                    property name="sut.baseUrl" value=(x(&report.sut.base_url)) {}
                    property name="verdict" value=(report.verdict.as_str()) {}
                }
                @for t in &report.tests {
                    testcase classname=(x(&format!("{}.{}", report.suite, t.group))) name=(x(&name(t))) time=(seconds(t.duration_ms)) {
                        @match t.outcome {
                            Outcome::Pass => {}
                            Outcome::Warn => {
                                system-out { (x(&format!("warning (SHOULD not met):\n{}", failed_text(t)))) }
                            }
                            Outcome::Fail => {
                                @let first = t.checks.iter().find(|c| !c.passed);
                                failure type="fail" message=(x(&first.map(|c| format!("{}: expected {}, got {}", c.requirement, c.expected, c.actual)).unwrap_or_default())) {
                                    (x(&failed_text(t)))
                                }
                            }
                            Outcome::Omit => {
                                skipped message=(x(&format!("omit: {}", t.reason.clone().unwrap_or_default()))) {}
                            }
                            Outcome::Error => {
                                error type="error" message=(x(&t.reason.clone().unwrap_or_default())) {}
                            }
                        }
                    }
                }
                system-out {}
                system-err {}
            }
        }
    };
    format!(
        "{}{}\n",
        PreEscaped("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n").0,
        body.into_string()
    )
}
