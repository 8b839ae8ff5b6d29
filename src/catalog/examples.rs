//! A procedure's own examples: households for which it must be needed, ruled out or left to
//! named questions, kept in its file (`examples`) and run by the test suite through the API,
//! so that a change to one rule shows at once which households it moves. The visit of an
//! example is written as a counter app sends it (`POST …/visits`).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::AppliesTo;

/// What the determination must say of the procedure for one member (or the household).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Expected {
    Needed,
    NotNeeded,
    Undecided,
}

impl Expected {
    pub fn as_str(self) -> &'static str {
        match self {
            Expected::Needed => "needed",
            Expected::NotNeeded => "notNeeded",
            Expected::Undecided => "undecided",
        }
    }

    /// As a report reads it.
    pub fn ja(self) -> &'static str {
        match self {
            Expected::Needed => "必要",
            Expected::NotNeeded => "不要",
            Expected::Undecided => "質問で判定",
        }
    }
}

/// `"needed"` for a household procedure, `{"m1": "needed", "m2": "notNeeded"}` for a member
/// procedure.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum ExpectedOutcomes {
    Household(Expected),
    Members(BTreeMap<String, Expected>),
}

/// One example of a procedure file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Example {
    /// What the household is and why the outcome follows (a clerk's words).
    pub title: String,
    /// The visit as `POST …/visits` takes it.
    pub visit: Value,
    pub expect: ExpectedOutcomes,
    /// Questions the procedure must be left to (`member.longTermCareCertified@m1`), when undecided.
    #[serde(default)]
    pub asks: Vec<String>,
    /// Words the reason must contain, by member id (`""` for a household procedure).
    #[serde(default)]
    pub reason: BTreeMap<String, Vec<String>>,
}

impl Example {
    /// The expected outcome for each decision key: `None` for the household, or a member id.
    pub fn outcomes(&self) -> Vec<(Option<&str>, Expected)> {
        match &self.expect {
            ExpectedOutcomes::Household(e) => vec![(None, *e)],
            ExpectedOutcomes::Members(m) => m.iter().map(|(k, e)| (Some(k.as_str()), *e)).collect(),
        }
    }

    /// Checks the example's shape against its procedure; the error names what to fix.
    pub fn check(&self, applies_to: AppliesTo, at: &str) -> Result<(), String> {
        if self.title.trim().is_empty() {
            return Err(format!("{at}/title: say what the household is"));
        }
        let members: Vec<&str> = self.visit["members"]
            .as_array()
            .map(|ms| ms.iter().filter_map(|m| m["id"].as_str()).collect())
            .unwrap_or_default();
        if self.visit["events"].as_array().is_none_or(Vec::is_empty) || members.is_empty() {
            return Err(format!(
                "{at}/visit: a visit as POST …/visits takes it, with events and members"
            ));
        }
        match (&self.expect, applies_to) {
            (ExpectedOutcomes::Household(_), AppliesTo::Household) => {}
            (ExpectedOutcomes::Members(m), AppliesTo::Member) => {
                if m.is_empty() {
                    return Err(format!(
                        "{at}/expect: give the outcome for a member at least"
                    ));
                }
                if let Some(id) = m.keys().find(|id| !members.contains(&id.as_str())) {
                    return Err(format!("{at}/expect/{id}: the visit has no member {id}"));
                }
            }
            (_, AppliesTo::Household) => {
                return Err(format!(
                    "{at}/expect: a household procedure expects one outcome (\"needed\", \"notNeeded\" or \"undecided\")"
                ));
            }
            (_, AppliesTo::Member) => {
                return Err(format!(
                    "{at}/expect: a member procedure expects an outcome by member id ({{\"m1\": \"needed\"}})"
                ));
            }
        }
        let undecided = self
            .outcomes()
            .iter()
            .any(|(_, e)| *e == Expected::Undecided);
        if !self.asks.is_empty() && !undecided {
            return Err(format!(
                "{at}/asks: only an undecided outcome is left to questions"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn example(expect: Value) -> Example {
        serde_json::from_value(json!({
            "title": "46歳が転入",
            "visit": {"events": [{"kind": "moveIn", "date": "2026-12-01"}],
                      "members": [{"id": "m1"}], "applicant": {"member": "m1"}},
            "expect": expect
        }))
        .unwrap()
    }

    #[test]
    fn an_example_must_fit_its_procedure() {
        assert!(
            example(json!("needed"))
                .check(AppliesTo::Household, "/examples/0")
                .is_ok()
        );
        assert!(
            example(json!({"m1": "notNeeded"}))
                .check(AppliesTo::Member, "/examples/0")
                .is_ok()
        );
        let e = example(json!("needed"))
            .check(AppliesTo::Member, "/examples/0")
            .unwrap_err();
        assert!(
            e.starts_with("/examples/0/expect: a member procedure"),
            "{e}"
        );
        let e = example(json!({"m9": "needed"}))
            .check(AppliesTo::Member, "/examples/1")
            .unwrap_err();
        assert_eq!(e, "/examples/1/expect/m9: the visit has no member m9");
        let mut asks = example(json!("needed"));
        asks.asks = vec!["event.from@0".into()];
        assert!(asks.check(AppliesTo::Household, "/examples/2").is_err());
    }
}
