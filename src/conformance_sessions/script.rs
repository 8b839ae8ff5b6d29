//! The script of a conformance session (data: `schemas/conformance/sessions/`): the steps a
//! counter app follows, the request each is seen in, and the fault the gateway answers the
//! first such request with.

use serde::{Deserialize, Serialize};

use crate::conformance::requirements::Text;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Script {
    pub script: String,
    pub version: String,
    /// The suite that judges the recording.
    pub suite: String,
    /// Synthetic residents in the sandbox's directory.
    pub residents: u64,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    pub id: String,
    pub instruction: Text,
    pub expect: Expect,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<Fault>,
}

/// A request, as the contract names it: a method and a path template.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Expect {
    pub method: String,
    pub path: String,
}

/// What the first request of a step is answered with.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(untagged, rename_all = "camelCase")]
pub enum Fault {
    /// The real answer, held back for the session's `slowAnswerSeconds`.
    Slow { slow: bool },
    /// A webhook test message signed with a secret the receiver does not have.
    Forged {
        #[serde(rename = "forgedSignature")]
        forged_signature: bool,
    },
    /// A problem with this status and code, and `Retry-After` when given.
    Problem {
        status: u16,
        code: String,
        #[serde(
            default,
            rename = "retryAfter",
            skip_serializing_if = "Option::is_none"
        )]
        retry_after: Option<u64>,
    },
}

const SCHEMA: &str = "conformance/session-script.schema.json";

impl Script {
    /// The built-in script `name`, checked against its schema.
    pub fn built_in(name: &str) -> Result<Self, String> {
        let files = crate::conformance::specimens::files_under("conformance/")?;
        let text_of = |path: &str| {
            files
                .iter()
                .find(|(p, _)| p == path)
                .map(|(_, t)| t.clone())
                .ok_or_else(|| format!("{path} is missing"))
        };
        let schema: serde_json::Value = serde_json::from_str(&text_of(SCHEMA)?)
            .map_err(|e| format!("{SCHEMA}: not valid JSON: {e}"))?;
        let validator = jsonschema::validator_for(&schema).map_err(|e| format!("{SCHEMA}: {e}"))?;
        let path = format!("conformance/sessions/{name}.json");
        let value: serde_json::Value = serde_json::from_str(&text_of(&path)?)
            .map_err(|e| format!("{path}: not valid JSON: {e}"))?;
        if let Some(e) = validator.iter_errors(&value).next() {
            return Err(format!("{path}: {} at {}", e, e.instance_path()));
        }
        let script: Script = serde_json::from_value(value).map_err(|e| format!("{path}: {e}"))?;
        let mut ids = std::collections::HashSet::new();
        if let Some(twice) = script.steps.iter().find(|s| !ids.insert(&s.id)) {
            return Err(format!("{path}: the step {} is there twice", twice.id));
        }
        let contract = crate::conformance::contract::Contract::shared()?;
        for step in &script.steps {
            let e = &step.expect;
            if contract.template_of(&e.method, &e.path).as_deref() != Some(e.path.as_str()) {
                return Err(format!(
                    "{path}: the step {} expects {} {}, which the contract does not have",
                    step.id, e.method, e.path
                ));
            }
        }
        Ok(script)
    }

    /// The step whose fault answers `method` on the contract's `template`, if any.
    pub fn fault_for(&self, method: &str, template: &str) -> Option<(&Step, &Fault)> {
        self.steps.iter().find_map(|s| {
            let fault = s.fault.as_ref()?;
            (s.expect.method == method && s.expect.path == template).then_some((s, fault))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_counter_app_script_reads_and_names_requests_of_the_contract() {
        let script = Script::built_in("counter-app").unwrap();
        assert_eq!(script.suite, "counter-app");
        let (step, fault) = script
            .fault_for("POST", "/v1/municipalities/{lgCode}/visits")
            .unwrap();
        assert_eq!(step.id, "open-visit");
        assert_eq!(
            fault,
            &Fault::Problem {
                status: 503,
                code: "service_unavailable".to_owned(),
                retry_after: Some(2)
            }
        );
        let confirm = "/v1/municipalities/{lgCode}/visits/{visitId}/confirm";
        assert_eq!(
            script.fault_for("POST", confirm).unwrap().1,
            &Fault::Slow { slow: true }
        );
        assert!(
            script
                .fault_for("GET", "/v1/municipalities/{lgCode}/visits")
                .is_none()
        );
        // Every code a fault answers with is one the gateway itself uses.
        for step in &script.steps {
            if let Some(Fault::Problem { code, .. }) = &step.fault {
                assert!(
                    crate::http::problem::ProblemKind::from_code(code).is_some(),
                    "{code}"
                );
            }
        }
    }
}
