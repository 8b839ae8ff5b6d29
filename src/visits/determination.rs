//! Determination (手続判定): which procedures a visit's household needs, why, and which
//! questions can still change the answer — and only those.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::NaiveDate;
use serde_json::Value;

use super::facts::{EventFacts, key_of};
use super::model::{Household, Source};
use crate::catalog::template::{self, Fill};
use crate::catalog::{
    AppliesTo, Catalog, FactKind, FactRef, Holder, Procedure, ReasonTexts, Scope,
};
use crate::forms::EraTable;
use crate::i18n::Lang;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Needed,
    Undecided,
    NotNeeded,
}

/// A fact that decided an outcome, as it was.
#[derive(Debug, Clone, PartialEq)]
pub struct UsedFact {
    pub at: FactRef,
    pub value: Value,
    pub source: Source,
}

/// Whether this applicant may file the procedure today.
#[derive(Debug, Clone, PartialEq)]
pub struct Filing {
    /// `None` while a fact it needs is unknown.
    pub allowed: Option<bool>,
    pub facts: Vec<UsedFact>,
    pub questions: Vec<FactRef>,
}

#[derive(Debug, Clone)]
pub struct Decision {
    pub procedure: Arc<Procedure>,
    /// Index of the visit's life event it follows.
    pub event: usize,
    pub member: Option<String>,
    pub outcome: Outcome,
    /// When decided: the facts that decided it.
    pub facts: Vec<UsedFact>,
    /// Those of `facts` the rule read as its holder's own (`member.age`), not only through a
    /// quantifier over the members, as the procedure's reasons name them (`member.age`).
    pub deciding_keys: BTreeSet<String>,
    /// When undecided: the facts still to be asked.
    pub questions: Vec<FactRef>,
    pub deadline: Option<NaiveDate>,
    /// Only for a needed procedure with a filer rule.
    pub filing: Option<Filing>,
    /// The municipality turned the procedure off.
    pub disabled: bool,
}

/// One question, with the procedures its answer can decide.
#[derive(Debug, Clone)]
pub struct Question {
    pub at: FactRef,
    /// The event whose fact it is (event facts are per event).
    pub event: Option<usize>,
    /// `holder.name` in the facts dictionary.
    pub key: String,
    pub decides: Vec<String>,
    /// For an enum fact: the values still possible, when the dictionary can narrow them.
    pub options: Option<Vec<String>>,
}

#[derive(Debug, Clone)]
pub struct Determination {
    pub decisions: Vec<Decision>,
    pub questions: Vec<Question>,
}

/// Evaluates every procedure that follows one of the visit's events.
pub fn determine(catalog: &Catalog, household: &Household) -> Determination {
    let mut decisions = Vec::new();
    for (index, event) in household.events.iter().enumerate() {
        let facts = EventFacts::new(household, event);
        for procedure in catalog
            .procedures
            .iter()
            .filter(|p| p.life_events.contains(&event.kind))
        {
            let members: Vec<Option<&str>> = match procedure.applies_to {
                AppliesTo::Household => vec![None],
                AppliesTo::Member => household
                    .members
                    .iter()
                    .map(|m| Some(m.id.as_str()))
                    .collect(),
            };
            for member in members {
                decisions.push(decide(catalog, procedure, &facts, index, member));
            }
        }
    }
    let questions = questions(catalog, household, &decisions);
    Determination {
        decisions,
        questions,
    }
}

fn used(facts: &EventFacts<'_>, refs: impl IntoIterator<Item = FactRef>) -> Vec<UsedFact> {
    refs.into_iter()
        .filter_map(|at| {
            facts
                .get(&at)
                .map(|(value, source)| UsedFact { at, value, source })
        })
        .collect()
}

/// The facts to ask for: an unknown derived fact is asked through the facts it comes from.
fn askable(
    catalog: &Catalog,
    facts: &EventFacts<'_>,
    unknown: impl IntoIterator<Item = FactRef>,
) -> Vec<FactRef> {
    let mut out = Vec::new();
    for at in unknown {
        let key = key_of(&at);
        match catalog.facts.lookup(&key) {
            Some(def) if def.kind == FactKind::Derived => {
                for from in &def.derived_from {
                    let source = FactRef {
                        holder: at.holder.clone(),
                        name: from.clone(),
                    };
                    if facts.get(&source).is_none() && !out.contains(&source) {
                        out.push(source);
                    }
                }
            }
            _ => {
                if !out.contains(&at) {
                    out.push(at);
                }
            }
        }
    }
    out
}

fn decide(
    catalog: &Catalog,
    procedure: &Arc<Procedure>,
    facts: &EventFacts<'_>,
    event: usize,
    member: Option<&str>,
) -> Decision {
    if !procedure.enabled {
        return Decision {
            procedure: procedure.clone(),
            event,
            member: member.map(str::to_owned),
            outcome: Outcome::NotNeeded,
            facts: Vec::new(),
            deciding_keys: BTreeSet::new(),
            questions: Vec::new(),
            deadline: None,
            filing: None,
            disabled: true,
        };
    }
    let scope = Scope { facts, member };
    let evaluation = procedure.rule.evaluate(&scope);
    let deciding_keys = match evaluation.decided() {
        Some(_) => evaluation.direct.iter().map(key_of).collect(),
        None => BTreeSet::new(),
    };
    let (outcome, used_facts, questions) = match evaluation.decided() {
        Some(true) => (Outcome::Needed, used(facts, evaluation.facts), Vec::new()),
        Some(false) => (
            Outcome::NotNeeded,
            used(facts, evaluation.facts),
            Vec::new(),
        ),
        None => (
            Outcome::Undecided,
            Vec::new(),
            askable(catalog, facts, evaluation.facts),
        ),
    };
    let filing = match (&procedure.filer, outcome) {
        (Some(filer), Outcome::Needed) => {
            let e = filer.rule.evaluate(&scope);
            Some(match e.decided() {
                Some(allowed) => Filing {
                    allowed: Some(allowed),
                    facts: used(facts, e.facts),
                    questions: Vec::new(),
                },
                None => Filing {
                    allowed: None,
                    facts: Vec::new(),
                    questions: askable(catalog, facts, e.facts),
                },
            })
        }
        _ => None,
    };
    let deadline = procedure.deadline.as_ref().and_then(|d| {
        // Counted from another date of the event when the procedure says so and it is known.
        let from = d
            .from
            .as_deref()
            .and_then(|key| facts.by_key(key, None))
            .and_then(|v| v.as_str().and_then(|s| s.parse::<chrono::NaiveDate>().ok()))
            .unwrap_or(facts.event.date);
        catalog.calendar.due(from, d.days, d.count)
    });
    Decision {
        procedure: procedure.clone(),
        event,
        member: member.map(str::to_owned),
        outcome,
        facts: used_facts,
        deciding_keys,
        questions,
        deadline,
        filing,
        disabled: false,
    }
}

fn questions(catalog: &Catalog, household: &Household, decisions: &[Decision]) -> Vec<Question> {
    let mut by_fact: BTreeMap<(Option<usize>, FactRef), Vec<String>> = BTreeMap::new();
    // The event each question is first asked for: a member's age is on that event's date.
    let mut context: BTreeMap<(Option<usize>, FactRef), usize> = BTreeMap::new();
    let mut order = Vec::new();
    for d in decisions {
        let asked = d
            .questions
            .iter()
            .chain(d.filing.iter().flat_map(|f| f.questions.iter()));
        for at in asked {
            let event = matches!(at.holder, Holder::Event).then_some(d.event);
            context.entry((event, at.clone())).or_insert(d.event);
            let entry = by_fact.entry((event, at.clone())).or_insert_with(|| {
                order.push((event, at.clone()));
                Vec::new()
            });
            if !entry.contains(&d.procedure.id) {
                entry.push(d.procedure.id.clone());
            }
        }
    }
    order
        .into_iter()
        .map(|(event, at)| {
            let decides = by_fact.remove(&(event, at.clone())).unwrap_or_default();
            let key = key_of(&at);
            let options = context
                .get(&(event, at.clone()))
                .and_then(|&e| possible_values(catalog, household, e, &at, &key));
            Question {
                key,
                at,
                event,
                decides,
                options,
            }
        })
        .collect()
}

/// The values of an enum fact still possible for its holder, when the dictionary says when
/// each is possible (`possibleWhen`): a value whose rule is known to be false is left out.
fn possible_values(
    catalog: &Catalog,
    household: &Household,
    event: usize,
    at: &FactRef,
    key: &str,
) -> Option<Vec<String>> {
    let def = catalog.facts.lookup(key)?;
    let values = def.r#enum.as_ref()?;
    if def.possible.is_empty() {
        return None;
    }
    let facts = EventFacts::new(household, household.events.get(event)?);
    let member = at.member();
    let scope = Scope {
        facts: &facts,
        member,
    };
    Some(
        values
            .keys()
            .filter(|value| {
                def.possible
                    .iter()
                    .find(|(v, _)| v == *value)
                    .is_none_or(|(_, rule)| rule.evaluate(&scope).decided() != Some(false))
            })
            .cloned()
            .collect(),
    )
}

/// Fills reasons and questions in one language.
pub struct Explainer<'a> {
    pub catalog: &'a Catalog,
    pub eras: &'a EraTable,
    pub household: &'a Household,
    pub lang: Lang,
}

impl Explainer<'_> {
    /// Fills a template from the facts of a visit's event; `None` when the event is not there
    /// or `known_only` and a fact it names is unknown.
    fn fill(
        &self,
        template: &str,
        event: usize,
        member: Option<&str>,
        known_only: bool,
    ) -> Option<String> {
        let ev = self.household.events.get(event)?;
        let facts = EventFacts::new(self.household, ev);
        let value = |key: &str| facts.by_key(key, member);
        let event_label = |kind: &str, lang: Lang| {
            self.catalog.life_event(kind).map(|e| {
                if lang == Lang::Ja {
                    e.ja.clone()
                } else {
                    e.en.clone()
                }
            })
        };
        let fill = Fill {
            facts: &self.catalog.facts,
            eras: self.eras,
            lang: self.lang,
            value: &value,
            event_label: &event_label,
        };
        if known_only {
            template::render_known(template, &fill)
        } else {
            Some(template::render(template, &fill))
        }
    }

    fn render(&self, template: &str, event: usize, member: Option<&str>) -> String {
        self.fill(template, event, member, false)
            .unwrap_or_else(|| template.to_owned())
    }

    /// Why a decided procedure is needed or not: the first of the procedure's texts whose
    /// facts all decided it and are known; else the deciding facts with their values.
    fn decided_reason(&self, d: &Decision, texts: &ReasonTexts) -> String {
        let member = d.member.as_deref();
        let told = texts
            .candidates(&d.deciding_keys)
            .find_map(|t| self.fill(t.get(self.lang), d.event, member, true));
        told.unwrap_or_else(|| self.deciding_facts_reason(d))
    }

    /// 「不要と判定しました(判定の根拠: 山田太郎さんの年齢 38)」: the deciding facts as they are.
    fn deciding_facts_reason(&self, d: &Decision) -> String {
        let facts: Vec<String> = d
            .facts
            .iter()
            .map(|f| {
                let key = key_of(&f.at);
                let value = |_: &str| Some(f.value.clone());
                let no_label = |_: &str, _: Lang| None;
                let shown = template::show(
                    &key,
                    &Fill {
                        facts: &self.catalog.facts,
                        eras: self.eras,
                        lang: self.lang,
                        value: &value,
                        event_label: &no_label,
                    },
                );
                match self.lang {
                    Lang::Ja => format!("{}「{shown}」", self.fact_label(&f.at)),
                    Lang::En => format!("{} “{shown}”", self.fact_label(&f.at)),
                }
            })
            .collect();
        let needed = d.outcome == Outcome::Needed;
        match (self.lang, facts.is_empty(), needed) {
            (Lang::Ja, true, true) => "必要です。".to_owned(),
            (Lang::Ja, true, false) => "不要です。".to_owned(),
            (Lang::Ja, false, true) => {
                format!("必要と判定しました(判定の根拠: {})。", facts.join("、"))
            }
            (Lang::Ja, false, false) => {
                format!("不要と判定しました(判定の根拠: {})。", facts.join("、"))
            }
            (Lang::En, true, true) => "Needed.".to_owned(),
            (Lang::En, true, false) => "Not needed.".to_owned(),
            (Lang::En, false, true) => format!("Needed, decided by: {}.", facts.join("; ")),
            (Lang::En, false, false) => format!("Not needed, decided by: {}.", facts.join("; ")),
        }
    }

    /// Why the procedure is needed or not; for an undecided one, what is missing.
    pub fn reason(&self, d: &Decision) -> String {
        if d.disabled {
            return match self.lang {
                Lang::Ja => "この団体ではこの手続を扱っていません(団体の設定で無効になっています)。担当課にご確認ください。".to_owned(),
                Lang::En => "This municipality does not offer this procedure (turned off in its settings). Ask the department.".to_owned(),
            };
        }
        match d.outcome {
            Outcome::Needed => self.decided_reason(d, &d.procedure.reason.needed),
            Outcome::NotNeeded => self.decided_reason(d, &d.procedure.reason.not_needed),
            Outcome::Undecided => {
                let labels: Vec<String> = d.questions.iter().map(|q| self.fact_label(q)).collect();
                match self.lang {
                    Lang::Ja => format!("次の事項が分かると判定できます: {}", labels.join("、")),
                    Lang::En => format!("Decided once these are known: {}", labels.join(", ")),
                }
            }
        }
    }

    /// Why this applicant cannot file it today.
    pub fn refusal(&self, d: &Decision) -> Option<String> {
        let filer = d.procedure.filer.as_ref()?;
        match d.filing.as_ref()?.allowed {
            Some(false) => Some(self.render(filer.refused.get(self.lang), d.event, None)),
            _ => None,
        }
    }

    /// A member's name as the facts give it (山田花子), or their id when none is known.
    pub fn member_name(&self, id: &str) -> String {
        self.household
            .events
            .first()
            .map(|e| EventFacts::new(self.household, e))
            .and_then(|f| f.by_key("member.name", Some(id)))
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| id.to_owned())
    }

    /// A fact's label, with the member's name: 「山田花子さんの生年月日」.
    pub fn fact_label(&self, at: &FactRef) -> String {
        let label = self
            .catalog
            .facts
            .lookup(&key_of(at))
            .map(|d| d.label.get(self.lang).to_owned())
            .unwrap_or_else(|| at.name.clone());
        match &at.holder {
            Holder::Member(id) => {
                let name = self.member_name(id);
                match self.lang {
                    Lang::Ja => format!("{name}さんの{label}"),
                    Lang::En => format!("{name}: {label}"),
                }
            }
            _ => label,
        }
    }

    /// The question to ask for a fact.
    pub fn question(&self, q: &Question) -> String {
        let member = q.at.member();
        let Some(text) = self
            .catalog
            .facts
            .lookup(&q.key)
            .and_then(|d| d.question.as_ref())
        else {
            return self.fact_label(&q.at);
        };
        self.render(text.get(self.lang), q.event.unwrap_or(0), member)
    }

    /// A fact's value as a person reads it.
    pub fn show(&self, f: &UsedFact, event: usize) -> String {
        let member = f.at.member();
        let key = key_of(&f.at);
        self.render(&format!("{{{key}}}"), event, member)
    }
}
