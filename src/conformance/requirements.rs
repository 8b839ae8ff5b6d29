//! The requirement catalogue: `schemas/conformance/requirements/<set>.json`, each file checked
//! against `requirement-set.schema.json` and against the kit's tests (every test a requirement
//! names exists, every test checks some requirement).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::forms::source::{SchemaFile, SchemaSource};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Level {
    #[serde(rename = "SHALL")]
    Shall,
    #[serde(rename = "SHOULD")]
    Should,
    #[serde(rename = "MAY")]
    May,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Shall => "SHALL",
            Self::Should => "SHOULD",
            Self::May => "MAY",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Text {
    pub ja: String,
    pub en: String,
}

/// An optional part of the contract; a system under test declares the ones it offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Capability {
    Webhooks,
    PullLink,
    CardSessions,
    /// A second municipality and a client of it alone, for isolation: provisioned by the
    /// kit when its client holds `admin`, or named in the inputs.
    SecondMunicipality,
    /// A core system's endpoint that takes OAuth2 client-credentials tokens.
    Oauth2,
    /// A core system's endpoint that requires a client certificate.
    MutualTls,
    /// A directory holding the resident directory's import files (found, not declared).
    ImportFiles,
    /// A directory holding a `file` connector's outbox (found, not declared).
    FileOutbox,
    /// A recording made by a conformance session, whose gateway injected faults (not a
    /// capture, where nobody knows which answers were the gateway's judgement).
    InjectedFaults,
}

impl Capability {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webhooks => "webhooks",
            Self::PullLink => "pull-link",
            Self::CardSessions => "card-sessions",
            Self::SecondMunicipality => "second-municipality",
            Self::Oauth2 => "oauth2",
            Self::MutualTls => "mutual-tls",
            Self::ImportFiles => "import-files",
            Self::FileOutbox => "file-outbox",
            Self::InjectedFaults => "injected-faults",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotTested {
    pub reason: String,
    pub details: Text,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Requirement {
    pub id: String,
    pub level: Level,
    pub text: Text,
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capability: Option<Capability>,
    pub since: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tests: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_tested: Option<NotTested>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequirementSet {
    pub set: String,
    pub version: String,
    pub actor: String,
    pub title: Text,
    pub requirements: Vec<Requirement>,
}

/// Every requirement set, and the digest that names this catalogue in a report.
#[derive(Debug, Clone)]
pub struct Catalogue {
    pub sets: Vec<RequirementSet>,
    /// `sha256:` and the hex SHA-256 over every file of `conformance/requirements/`, in
    /// path order.
    pub digest: String,
}

#[derive(Debug, thiserror::Error)]
#[error("{file}: {problem}")]
pub struct CatalogueError {
    pub file: String,
    pub problem: String,
}

fn problem(file: &str, problem: impl Into<String>) -> CatalogueError {
    CatalogueError {
        file: file.to_owned(),
        problem: problem.into(),
    }
}

impl Catalogue {
    /// The catalogue built into this binary: a certifier's kit never reads another.
    pub fn built_in() -> Result<Self, CatalogueError> {
        let files = SchemaSource::Embedded
            .files()
            .map_err(|(file, p)| problem(&file, p))?;
        Self::from_files(&files)
    }

    pub fn from_files(files: &[SchemaFile]) -> Result<Self, CatalogueError> {
        const SCHEMA: &str = "conformance/requirement-set.schema.json";
        let schema_file = files
            .iter()
            .find(|f| f.path == SCHEMA)
            .ok_or_else(|| problem(SCHEMA, "the requirement-set schema is missing"))?;
        let schema: serde_json::Value = serde_json::from_str(&schema_file.text)
            .map_err(|e| problem(SCHEMA, format!("not valid JSON: {e}")))?;
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .map_err(|e| problem(SCHEMA, e.to_string()))?;
        let mut digest = Sha256::new();
        let mut sets = Vec::new();
        for file in files
            .iter()
            .filter(|f| f.path.starts_with("conformance/requirements/"))
        {
            digest.update(file.path.as_bytes());
            digest.update([0]);
            digest.update(file.text.as_bytes());
            digest.update([0]);
            let value: serde_json::Value = serde_json::from_str(&file.text)
                .map_err(|e| problem(&file.path, format!("not valid JSON: {e}")))?;
            if let Some(error) = validator.iter_errors(&value).next() {
                return Err(problem(
                    &file.path,
                    format!("{error} at {}", error.instance_path()),
                ));
            }
            let set: RequirementSet =
                serde_json::from_value(value).map_err(|e| problem(&file.path, e.to_string()))?;
            let expected = format!("conformance/requirements/{}.json", set.set);
            if file.path != expected {
                return Err(problem(
                    &file.path,
                    format!("the set {} belongs in {expected}", set.set),
                ));
            }
            let mut seen = BTreeSet::new();
            for r in &set.requirements {
                if !r.id.starts_with(&format!("{}@", set.set)) {
                    return Err(problem(
                        &file.path,
                        format!("{}: an id of this set starts with {}@", r.id, set.set),
                    ));
                }
                if !seen.insert(r.id.as_str()) {
                    return Err(problem(&file.path, format!("{} is listed twice", r.id)));
                }
            }
            sets.push(set);
        }
        if sets.is_empty() {
            return Err(problem(
                "conformance/requirements/",
                "no requirement set is there",
            ));
        }
        Ok(Self {
            sets,
            digest: format!("sha256:{}", hex::encode(digest.finalize())),
        })
    }

    pub fn set(&self, name: &str) -> Option<&RequirementSet> {
        self.sets.iter().find(|s| s.set == name)
    }

    /// Every requirement by id.
    pub fn by_id(&self) -> BTreeMap<&str, &Requirement> {
        self.sets
            .iter()
            .flat_map(|s| &s.requirements)
            .map(|r| (r.id.as_str(), r))
            .collect()
    }
}

impl RequirementSet {
    /// Checks the set against the tests a suite has: every test named exists, no retired
    /// requirement is tested, and every test checks at least one requirement. Each problem
    /// is one sentence.
    pub fn check_against(&self, test_ids: &[&str]) -> Vec<String> {
        let known: BTreeSet<&str> = test_ids.iter().copied().collect();
        let mut named = BTreeSet::new();
        let mut problems = Vec::new();
        for r in &self.requirements {
            for t in &r.tests {
                named.insert(t.as_str());
                if !known.contains(t.as_str()) {
                    problems.push(format!(
                        "{} names the test {t}, which the suite does not have",
                        r.id
                    ));
                }
                if let Some(retired) = &r.retired {
                    problems.push(format!(
                        "{} was retired in {retired} but still names the test {t}",
                        r.id
                    ));
                }
            }
        }
        for t in known.difference(&named) {
            problems.push(format!(
                "the test {t} checks no requirement of {}",
                self.set
            ));
        }
        problems
    }

    /// The tests that check `requirement`.
    pub fn tests_of(&self, requirement: &str) -> &[String] {
        self.requirements
            .iter()
            .find(|r| r.id == requirement)
            .map(|r| r.tests.as_slice())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files_with(set: &str) -> Vec<SchemaFile> {
        let mut files: Vec<SchemaFile> = SchemaSource::Embedded
            .files()
            .unwrap()
            .into_iter()
            .filter(|f| !f.path.starts_with("conformance/requirements/"))
            .collect();
        files.push(SchemaFile {
            path: "conformance/requirements/demo.json".to_owned(),
            text: set.to_owned(),
        });
        files
    }

    #[test]
    fn the_built_in_catalogue_loads() {
        let catalogue = Catalogue::built_in().unwrap();
        let set = catalogue.set("gateway-api").unwrap();
        assert!(set.requirements.len() >= 40);
        assert!(catalogue.digest.starts_with("sha256:"));
    }

    #[test]
    fn a_requirement_with_neither_test_nor_reason_is_refused() {
        let text = r#"{"set":"demo","version":"1.0.0","actor":"gateway","title":{"ja":"例","en":"Demo"},
          "requirements":[{"id":"demo@AUTH-001","level":"SHALL","text":{"ja":"何か","en":"Something"},
          "source":"RFC 6749","since":"1.0.0"}]}"#;
        let e = Catalogue::from_files(&files_with(text)).unwrap_err();
        assert_eq!(e.file, "conformance/requirements/demo.json");
    }

    #[test]
    fn an_id_of_another_set_and_a_repeated_id_are_refused() {
        let r = |id: &str| {
            format!(
                r#"{{"id":"{id}","level":"SHOULD","text":{{"ja":"何か","en":"Something"}},"source":"RFC 6749","since":"1.0.0","tests":["a.b"]}}"#
            )
        };
        let set = |items: String| {
            format!(
                r#"{{"set":"demo","version":"1.0.0","actor":"gateway","title":{{"ja":"例","en":"Demo"}},"requirements":[{items}]}}"#
            )
        };
        let e = Catalogue::from_files(&files_with(&set(r("other@AUTH-001")))).unwrap_err();
        assert!(e.problem.contains("starts with demo@"), "{e}");
        let twice = format!("{},{}", r("demo@AUTH-001"), r("demo@AUTH-001"));
        let e = Catalogue::from_files(&files_with(&set(twice))).unwrap_err();
        assert!(e.problem.contains("listed twice"), "{e}");
        let ok = Catalogue::from_files(&files_with(&set(r("demo@AUTH-001")))).unwrap();
        let demo = ok.set("demo").unwrap();
        assert_eq!(demo.check_against(&["a.b"]), Vec::<String>::new());
        let problems = demo.check_against(&["a.c"]);
        assert_eq!(problems.len(), 2, "{problems:?}");
    }
}
