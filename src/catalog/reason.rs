//! Why a procedure is needed or not, told from the facts that decided it.
//!
//! A procedure file gives, for each outcome, one text or a list of texts. A text is told only
//! when every fact of the rule it names (its placeholders, and the facts listed in `when`)
//! decided the outcome: «40歳未満のため» is told when the age ruled the procedure out, not when
//! the certification did, and never with a fact that is not known. The first text that holds
//! is told; when none holds, the determination names the deciding facts and their values
//! itself (see `visits::determination::Explainer`).

use std::collections::BTreeSet;

use serde::Deserialize;

use super::facts::FactDictionary;
use super::rule::{Rule, Var};
use super::template;
use crate::i18n::Lang;

/// One way of telling why.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasonText {
    /// Facts of the rule (`member.isSubject`) that must have decided the outcome for this text
    /// to be told, beyond those it names in placeholders.
    #[serde(default)]
    pub when: Vec<String>,
    pub ja: String,
    pub en: String,
}

impl ReasonText {
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Ja => &self.ja,
            Lang::En => &self.en,
        }
    }
}

/// The texts for one outcome, in the order they are tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReasonTexts {
    pub texts: Vec<ReasonText>,
    /// For each text, the facts of the rule that must have decided for it to be told; worked
    /// out once by [`ReasonTexts::prepare`], not at every determination.
    needs: Vec<BTreeSet<String>>,
}

impl<'de> Deserialize<'de> for ReasonTexts {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(ReasonText),
            Many(Vec<ReasonText>),
        }
        let texts = match OneOrMany::deserialize(d)? {
            OneOrMany::One(t) => vec![t],
            OneOrMany::Many(ts) => ts,
        };
        Ok(ReasonTexts {
            texts,
            needs: Vec::new(),
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Reasons {
    pub needed: ReasonTexts,
    pub not_needed: ReasonTexts,
}

/// The facts a rule reads of the procedure's own holders (`member.age`, `event.from`), as
/// templates name them; a quantifier's per-member facts are not among them.
fn rule_keys(rule: &Rule) -> BTreeSet<String> {
    rule.vars()
        .into_iter()
        .filter(|v| !matches!(v, Var::Item(_)))
        .map(|v| {
            let (holder, name) = v.dictionary_key();
            format!("{holder}.{name}")
        })
        .collect()
}

impl ReasonTexts {
    /// The facts of the rule that must have decided for each text to be told.
    fn conditions(&self, rule: &Rule) -> Vec<BTreeSet<String>> {
        let read = rule_keys(rule);
        self.texts
            .iter()
            .map(|t| {
                let mut need: BTreeSet<String> = t.when.iter().cloned().collect();
                for text in [&t.ja, &t.en] {
                    for key in template::placeholders(text).unwrap_or_default() {
                        if read.contains(key) {
                            need.insert(key.to_owned());
                        }
                    }
                }
                need
            })
            .collect()
    }

    /// The texts that may be told when `deciding` (template keys) decided the outcome, in
    /// order; none before [`ReasonTexts::prepare`].
    pub fn candidates<'a>(
        &'a self,
        deciding: &'a BTreeSet<String>,
    ) -> impl Iterator<Item = &'a ReasonText> {
        self.texts
            .iter()
            .zip(&self.needs)
            .filter(move |(_, need)| need.is_subset(deciding))
            .map(|(t, _)| t)
    }

    /// Checks placeholders and `when` against the facts and the rule, and works out which facts
    /// each text needs; `at` is the JSON pointer of the list for messages.
    pub fn prepare(
        &mut self,
        rule: &Rule,
        facts: &FactDictionary,
        holders: &[&str],
        at: &str,
    ) -> Result<(), String> {
        if self.texts.is_empty() {
            return Err(format!("{at}: give at least one text"));
        }
        let read = rule_keys(rule);
        let conditions = self.conditions(rule);
        for (i, (t, need)) in self.texts.iter().zip(&conditions).enumerate() {
            let here = if self.texts.len() == 1 {
                at.to_owned()
            } else {
                format!("{at}/{i}")
            };
            for text in [&t.ja, &t.en] {
                template::check(text, facts, holders).map_err(|p| format!("{here}: {p}"))?;
            }
            for key in &t.when {
                if !read.contains(key) {
                    return Err(format!(
                        "{here}/when: {key} is not a fact the rule reads (it reads: {})",
                        read.iter().cloned().collect::<Vec<_>>().join(", ")
                    ));
                }
            }
            if need.is_empty() && i + 1 < self.texts.len() {
                return Err(format!(
                    "{here}: a text that names no fact of the rule is always told, so the texts \
                     after it never are; put it last"
                ));
            }
        }
        self.needs = conditions;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::catalog::Catalog;
    use crate::forms::{FormRegistry, SchemaSource};

    fn texts(v: serde_json::Value) -> ReasonTexts {
        serde_json::from_value(v).unwrap()
    }

    fn rule(v: serde_json::Value) -> Rule {
        Rule::parse(&v, true).unwrap()
    }

    fn keys(ks: &[&str]) -> BTreeSet<String> {
        ks.iter().map(|k| (*k).to_owned()).collect()
    }

    #[test]
    fn a_text_is_told_only_when_the_facts_it_names_decided() {
        let r = rule(json!({"and": [
            {"var": "member.isSubject"},
            {">=": [{"var": "member.ageByLaw"}, 40]},
            {"var": "member.longTermCareCertified"}
        ]}));
        let mut t = texts(json!([
            {"when": ["member.isSubject"], "ja": "対象者ではない", "en": "not concerned"},
            {"ja": "{member.ageByLaw}歳", "en": "aged {member.ageByLaw}"},
            {"when": ["member.longTermCareCertified"], "ja": "認定なし", "en": "not certified"}
        ]));
        let forms = FormRegistry::load(&SchemaSource::Embedded).unwrap();
        let catalog = Catalog::load(&SchemaSource::Embedded, &forms).unwrap();
        t.prepare(
            &r,
            &catalog.facts,
            &["event", "household", "applicant", "member"],
            "/t",
        )
        .unwrap();
        let told = |deciding: &[&str]| {
            let deciding = keys(deciding);
            t.candidates(&deciding)
                .map(|x| x.ja.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(told(&["member.ageByLaw"]), ["{member.ageByLaw}歳"]);
        assert_eq!(told(&["member.longTermCareCertified"]), ["認定なし"]);
        assert_eq!(told(&["member.isSubject"]), ["対象者ではない"]);
        assert!(told(&[]).is_empty());
    }

    #[test]
    fn the_catalogue_refuses_a_when_the_rule_does_not_read_and_an_unreachable_text() {
        let forms = FormRegistry::load(&SchemaSource::Embedded).unwrap();
        let catalog = Catalog::load(&SchemaSource::Embedded, &forms).unwrap();
        let r =
            rule(json!({"and": [{"var": "member.isSubject"}, {"var": "member.hasMyNumberCard"}]}));
        let holders = ["event", "household", "applicant", "member"];
        let check = |t: serde_json::Value| {
            texts(t).prepare(&r, &catalog.facts, &holders, "/reason/notNeeded")
        };
        assert!(check(json!({"ja": "不要", "en": "no"})).is_ok());
        let e = check(json!([{"when": ["member.age"], "ja": "a", "en": "a"}])).unwrap_err();
        assert!(
            e.contains("/reason/notNeeded/when: member.age is not a fact the rule reads"),
            "{e}"
        );
        let e = check(json!([
            {"ja": "不要", "en": "no"},
            {"ja": "{member.hasMyNumberCard}", "en": "{member.hasMyNumberCard}"}
        ]))
        .unwrap_err();
        assert!(
            e.starts_with("/reason/notNeeded/0: a text that names no fact"),
            "{e}"
        );
        assert!(check(json!([])).is_err());
    }
}
