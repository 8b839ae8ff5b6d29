//! The facts a rule sees for one life event of a visit: what was recorded, with its source,
//! and what the gateway derives from it.

use serde_json::{Value, json};

use super::derive;
use super::model::{Household, LifeEvent, Source};
use crate::catalog::{FactRef, FactSource, Holder};

/// The facts of a visit as seen from one of its events.
pub struct EventFacts<'a> {
    pub household: &'a Household,
    pub event: &'a LifeEvent,
}

impl<'a> EventFacts<'a> {
    pub fn new(household: &'a Household, event: &'a LifeEvent) -> Self {
        Self { household, event }
    }

    /// A fact's value and where it came from; `None` when not known.
    pub fn get(&self, at: &FactRef) -> Option<(Value, Source)> {
        let recorded = |facts: &super::model::Facts, name: &str| {
            facts.get(name).map(|r| (r.value.clone(), r.source))
        };
        let derived = |v: Option<Value>| v.map(|v| (v, Source::Derived));
        match &at.holder {
            Holder::Event => match at.name.as_str() {
                "date" => Some((json!(self.event.date.to_string()), Source::Clerk)),
                "kind" => Some((json!(self.event.kind), Source::Clerk)),
                name => recorded(&self.event.facts, name),
            },
            Holder::Household => match at.name.as_str() {
                "size" => derived(Some(json!(self.household.members.len()))),
                "survivorsAged15Plus" => derived(self.survivors_aged_15_plus().map(Value::from)),
                name => recorded(&self.household.facts, name),
            },
            Holder::Applicant => {
                let applicant = &self.household.applicant;
                match (at.name.as_str(), &applicant.member) {
                    ("isHouseholdMember", m) => derived(Some(json!(m.is_some()))),
                    ("name", Some(id)) => self.get(&FactRef {
                        holder: Holder::Member(id.clone()),
                        name: "name".to_owned(),
                    }),
                    (name, _) => recorded(&applicant.facts, name),
                }
            }
            Holder::Member(id) => {
                let member = self.household.member(id)?;
                let own = |name: &str| member.facts.get(name).map(|r| &r.value);
                match at.name.as_str() {
                    "name" => derived(
                        derive::display_name(own("familyName"), own("givenName"), own("fullName"))
                            .map(Value::from),
                    ),
                    "age" => derived(
                        self.birth(id)
                            .and_then(|b| derive::age_on(b, self.event.date))
                            .map(Value::from),
                    ),
                    "ageByLaw" => derived(
                        self.birth(id)
                            .and_then(|b| derive::age_by_law(b, self.event.date))
                            .map(Value::from),
                    ),
                    "parentsInsurance" => derived(self.parents_insurance(id)),
                    "schoolYearAge" => derived(
                        self.birth(id)
                            .and_then(|b| derive::school_year_age(b, self.event.date))
                            .map(Value::from),
                    ),
                    "isSubject" => derived(Some(json!(self.event.concerns(id)))),
                    name => recorded(&member.facts, name),
                }
            }
        }
    }

    fn birth(&self, member: &str) -> Option<chrono::NaiveDate> {
        self.household
            .member(member)?
            .facts
            .get("dateOfBirth")?
            .value
            .as_str()
            .and_then(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
    }

    /// Members the event does not concern who are 15 or older on its date; unknown while the
    /// birth date of one of them is. An event of the whole household leaves nobody behind.
    fn survivors_aged_15_plus(&self) -> Option<i64> {
        if self.event.subjects.is_empty() {
            return Some(0);
        }
        let mut n = 0;
        for m in &self.household.members {
            if self.event.subjects.contains(&m.id) {
                continue;
            }
            let birth = self.birth(&m.id)?;
            if derive::age_on(birth, self.event.date).is_some_and(|a| a >= 15) {
                n += 1;
            }
        }
        Some(n)
    }

    /// The health insurances of a member's parents in the household, when the relationships
    /// tell who they are and each parent's insurance is known: a newborn follows the insured
    /// person who supports it (健康保険法第3条第7項). Unknown when a 子の子 has several 子 who
    /// could be its parent.
    fn parents_insurance(&self, child: &str) -> Option<Value> {
        let text = |m: &super::model::Member, name: &str| {
            m.facts
                .get(name)
                .and_then(|r| r.value.as_str().map(str::to_owned))
        };
        let me = self.household.member(child)?;
        let relationship = text(me, "relationship")?;
        let candidates = derive::parent_relationships(&relationship)?;
        let parents: Vec<&super::model::Member> = self
            .household
            .members
            .iter()
            .filter(|m| m.id != child)
            .filter(|m| text(m, "relationship").is_some_and(|r| candidates.contains(&r.as_str())))
            .collect();
        let children_of_householder = parents
            .iter()
            .filter(|m| text(m, "relationship").as_deref() == Some("子"))
            .count();
        if parents.is_empty() || children_of_householder > 1 {
            return None;
        }
        let mut insurances = parents
            .iter()
            .map(|m| text(m, "insurance"))
            .collect::<Option<Vec<String>>>()?;
        insurances.sort();
        insurances.dedup();
        Some(json!(insurances))
    }

    /// A fact by its catalogue key (`member.age`, `event.from` …) for `member`.
    pub fn by_key(&self, key: &str, member: Option<&str>) -> Option<Value> {
        self.get(&fact_ref(key, member)?).map(|(v, _)| v)
    }
}

/// `member.age` for member `m1` → the fact reference.
pub fn fact_ref(key: &str, member: Option<&str>) -> Option<FactRef> {
    let (holder, name) = key.split_once('.')?;
    let holder = match holder {
        "event" => Holder::Event,
        "household" => Holder::Household,
        "applicant" => Holder::Applicant,
        "member" => Holder::Member(member?.to_owned()),
        _ => return None,
    };
    Some(FactRef {
        holder,
        name: name.to_owned(),
    })
}

/// The catalogue key of a fact reference (`members[m1].age` → `member.age`).
pub fn key_of(at: &FactRef) -> String {
    let holder = match at.holder {
        Holder::Event => "event",
        Holder::Household => "household",
        Holder::Applicant => "applicant",
        Holder::Member(_) => "member",
    };
    format!("{holder}.{}", at.name)
}

/// How the counter names an open question: its fact key, with the member or the event it is
/// asked about (`member.age@m1`, `event.from@0`).
pub fn question_id(at: &FactRef, event: Option<usize>) -> String {
    match (&at.holder, event) {
        (Holder::Member(id), _) => format!("{}@{id}", key_of(at)),
        (Holder::Event, Some(i)) => format!("{}@{i}", key_of(at)),
        _ => key_of(at),
    }
}

impl FactSource for EventFacts<'_> {
    fn fact(&self, at: &FactRef) -> Option<Value> {
        self.get(at).map(|(v, _)| v)
    }

    fn member_ids(&self) -> Vec<String> {
        self.household
            .members
            .iter()
            .map(|m| m.id.clone())
            .collect()
    }
}
