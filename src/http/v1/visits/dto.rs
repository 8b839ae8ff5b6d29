//! The visit's request and answer bodies, shared by its use cases: what the clerk sends to
//! open a visit or answer a question, the visit as the counter shows it, and the
//! determination with its reasons and open questions.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::catalog::Handling;
use crate::http::state::AppState;
use crate::i18n::Lang;
use crate::visits::determination::UsedFact;
use crate::visits::facts::{key_of, question_id};
use crate::visits::input::{NewAnswer, NewMember};
use crate::visits::model::Source;
use crate::visits::{Decision, Explainer, Outcome, Visit, determine};

// ---------------------------------------------------------------- input

/// A life event the household comes with.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = NewLifeEvent)]
pub struct NewLifeEventDto {
    /// A life event of the catalogue: moveIn, moveOut, moveWithin, householdChange, birth,
    /// death, marriage, divorce, certificateRequest.
    #[schema(example = "moveIn")]
    pub kind: String,
    /// The day it happened (or will): ISO or 和暦 (`令和8年12月1日`).
    #[schema(example = "2026-12-01")]
    pub date: String,
    /// The members it concerns (the deceased, the newborn, the spouses); empty or absent for
    /// the whole household.
    #[serde(default)]
    #[schema(max_items = 30)]
    pub subjects: Vec<String>,
    /// Facts of the event the clerk knows already (`from`, `cardSpecialMoveIn` …).
    #[serde(default)]
    #[schema(value_type = Object, example = json!({"from": "otherMunicipality"}))]
    pub facts: Map<String, Value>,
}

/// A household member as the clerk records it. Names are kept byte for byte.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = NewMember)]
pub struct NewMemberDto {
    /// Chosen by the counter app, unique within the visit.
    #[schema(example = "m1", pattern = "^[A-Za-z0-9_-]{1,32}$")]
    pub id: String,
    #[schema(example = "山田")]
    pub family_name: Option<String>,
    #[schema(example = "太郎")]
    pub given_name: Option<String>,
    /// Full-width katakana (hiragana and half-width kana are converted in the drafts).
    #[schema(example = "ヤマダ")]
    pub family_name_kana: Option<String>,
    #[schema(example = "タロウ")]
    pub given_name_kana: Option<String>,
    /// For a foreign resident without a family/given split.
    pub full_name: Option<String>,
    /// 世帯主との続柄.
    #[schema(example = "世帯主")]
    pub relationship: Option<String>,
    /// ISO or 和暦.
    #[schema(example = "1988-04-10")]
    pub date_of_birth: Option<String>,
    /// 1 男, 2 女, 9 不明.
    #[schema(example = "1")]
    pub sex: Option<String>,
    #[schema(example = "JP")]
    pub nationality: Option<String>,
    /// employee, nationalHealth, lateStage, publicAssistance, none.
    #[schema(example = "nationalHealth")]
    pub insurance: Option<String>,
}

/// The person filing: a member, or someone from outside the household by name.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = NewApplicant)]
pub struct NewApplicantDto {
    #[schema(example = "m1")]
    pub member: Option<String>,
    pub name: Option<String>,
}

/// An answer to a question of the determination (or a correction of a recorded fact).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = Answer)]
pub struct AnswerDto {
    /// The question's `fact`.
    #[schema(example = "member.hasMyNumberCard")]
    pub fact: String,
    /// For a member fact: the member's id.
    #[schema(example = "m1")]
    pub member: Option<String>,
    /// For an event fact: the event's index (default 0).
    pub event: Option<usize>,
    #[schema(schema_with = crate::http::v1::forms::any_json, example = json!(true))]
    pub value: Value,
}

/// A new visit.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = NewVisit, example = json!({
    "ticket": "A-012",
    "counter": "3番",
    "events": [{"kind": "moveIn", "date": "2026-12-01", "facts": {"from": "otherMunicipality", "cardSpecialMoveIn": false}}],
    "members": [{"id": "m1", "familyName": "山田", "givenName": "太郎", "relationship": "世帯主", "dateOfBirth": "1988-04-10", "sex": "1", "insurance": "nationalHealth"}],
    "applicant": {"member": "m1"}
}))]
pub struct NewVisitDto {
    /// 受付番号 (queue ticket).
    #[schema(max_length = 32)]
    pub ticket: Option<String>,
    /// The counter (窓口) the visit is opened at, as the municipality names it; the KPIs show
    /// stay times by counter.
    #[schema(min_length = 1, max_length = 16, example = "3番")]
    pub counter: Option<String>,
    #[schema(min_items = 1, max_items = 10)]
    pub events: Vec<NewLifeEventDto>,
    #[schema(min_items = 1, max_items = 30)]
    pub members: Vec<NewMemberDto>,
    pub applicant: NewApplicantDto,
    /// Answers known already.
    #[serde(default)]
    #[schema(max_items = 200)]
    pub answers: Vec<AnswerDto>,
}

/// Answers to record; the determination is run again.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = AnswerBatch, example = json!({"answers": [{"fact": "member.hasMyNumberCard", "member": "m1", "value": true}]}))]
pub struct AnswersDto {
    #[schema(min_items = 1, max_items = 200)]
    pub answers: Vec<AnswerDto>,
}

pub(super) fn answers(list: Vec<AnswerDto>) -> Vec<NewAnswer> {
    list.into_iter()
        .map(|a| NewAnswer {
            fact: a.fact,
            member: a.member,
            event: a.event,
            value: a.value,
        })
        .collect()
}

pub(crate) fn member_input(m: NewMemberDto) -> NewMember {
    let mut facts = Vec::new();
    for (name, v) in [
        ("familyName", m.family_name),
        ("givenName", m.given_name),
        ("familyNameKana", m.family_name_kana),
        ("givenNameKana", m.given_name_kana),
        ("fullName", m.full_name),
        ("relationship", m.relationship),
        ("dateOfBirth", m.date_of_birth),
        ("sex", m.sex),
        ("nationality", m.nationality),
        ("insurance", m.insurance),
    ] {
        if let Some(v) = v {
            facts.push((name.to_owned(), Value::String(v)));
        }
    }
    NewMember { id: m.id, facts }
}

// ---------------------------------------------------------------- output

/// A fact, its value and where it came from.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Fact)]
pub struct FactDto {
    #[schema(example = "dateOfBirth")]
    pub name: String,
    #[schema(schema_with = crate::http::v1::forms::any_json)]
    pub value: Value,
    /// clerk, answer, registry, card or derived.
    #[schema(example = "clerk")]
    pub source: String,
    pub recorded_at: Option<DateTime<Utc>>,
}

fn fact_dtos(facts: &crate::visits::model::Facts) -> Vec<FactDto> {
    facts
        .iter()
        .map(|(name, r)| FactDto {
            name: name.clone(),
            value: r.value.clone(),
            source: r.source.as_str().to_owned(),
            recorded_at: Some(r.recorded_at),
        })
        .collect()
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = LifeEvent)]
pub struct LifeEventDto {
    pub index: usize,
    #[schema(example = "moveIn")]
    pub kind: String,
    #[schema(example = "転入")]
    pub label: String,
    pub date: NaiveDate,
    pub subjects: Vec<String>,
    pub facts: Vec<FactDto>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Member)]
pub struct MemberDto {
    pub id: String,
    /// As recorded, plus what the gateway derives (name, age at the first event) marked
    /// `derived`.
    pub facts: Vec<FactDto>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Applicant)]
pub struct ApplicantDto {
    pub member: Option<String>,
    pub facts: Vec<FactDto>,
}

/// Where a visit is in its life.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = VisitStatus)]
pub enum VisitStatusDto {
    Open,
    Confirmed,
    Submitted,
    Closed,
}

impl From<crate::visits::model::Stage> for VisitStatusDto {
    fn from(s: crate::visits::model::Stage) -> Self {
        use crate::visits::model::Stage;
        match s {
            Stage::Open => Self::Open,
            Stage::Confirmed => Self::Confirmed,
            Stage::Submitted => Self::Submitted,
            Stage::Closed => Self::Closed,
        }
    }
}

/// A visit and what is known about the household.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Visit)]
pub struct VisitDto {
    pub id: Uuid,
    pub lg_code: String,
    /// open → confirmed (the resident signed) → submitted (its applications exist) → closed.
    pub status: VisitStatusDto,
    pub ticket: Option<String>,
    /// The counter (窓口) it was opened at.
    pub counter: Option<String>,
    /// The catalogue the visit was opened with.
    pub catalog_version: String,
    pub opened_at: DateTime<Utc>,
    /// The day of the visit in Japan.
    pub opened_on: NaiveDate,
    /// When the resident confirmed the drafts.
    pub confirmed_at: Option<DateTime<Utc>>,
    /// When the applications were made.
    pub submitted_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Stay time in seconds, once closed.
    pub stay_seconds: Option<i64>,
    pub revision: i64,
    pub events: Vec<LifeEventDto>,
    pub members: Vec<MemberDto>,
    pub applicant: ApplicantDto,
    pub household_facts: Vec<FactDto>,
}

pub(crate) fn visit_dto(state: &AppState, v: &Visit, lang: Lang) -> VisitDto {
    let h = &v.household;
    let first = h
        .events
        .first()
        .map(|e| crate::visits::facts::EventFacts::new(h, e));
    VisitDto {
        id: v.id,
        lg_code: v.lg_code.to_string(),
        status: v.stage().into(),
        confirmed_at: h.confirmation.as_ref().map(|c| c.confirmed_at),
        submitted_at: h.submitted_at,
        ticket: v.ticket.clone(),
        counter: v.counter.clone(),
        catalog_version: v.catalog_version.clone(),
        opened_at: v.opened_at,
        opened_on: v.opened_on,
        closed_at: v.closed_at,
        stay_seconds: v.closed_at.map(|c| (c - v.opened_at).num_seconds()),
        revision: v.revision,
        events: h
            .events
            .iter()
            .enumerate()
            .map(|(index, e)| LifeEventDto {
                index,
                kind: e.kind.clone(),
                label: state
                    .catalog
                    .life_event(&e.kind)
                    .map(|d| d.label(lang).to_owned())
                    .unwrap_or_default(),
                date: e.date,
                subjects: e.subjects.clone(),
                facts: fact_dtos(&e.facts),
            })
            .collect(),
        members: h
            .members
            .iter()
            .map(|m| {
                let mut facts = fact_dtos(&m.facts);
                for name in ["name", "age"] {
                    if let Some(value) = first
                        .as_ref()
                        .and_then(|f| f.by_key(&format!("member.{name}"), Some(&m.id)))
                    {
                        facts.push(FactDto {
                            name: name.to_owned(),
                            value,
                            source: Source::Derived.as_str().to_owned(),
                            recorded_at: None,
                        });
                    }
                }
                MemberDto {
                    id: m.id.clone(),
                    facts,
                }
            })
            .collect(),
        applicant: ApplicantDto {
            member: h.applicant.member.clone(),
            facts: fact_dtos(&h.applicant.facts),
        },
        household_facts: fact_dtos(&h.facts),
    }
}

/// A fact that decided an outcome.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DecidingFact)]
pub struct DecidingFactDto {
    /// `member.age`, `event.from` …
    pub fact: String,
    pub member: Option<String>,
    /// The fact's label, with the member's name.
    pub label: String,
    #[schema(schema_with = crate::http::v1::forms::any_json)]
    pub value: Value,
    /// The value as a person reads it (enum labels, 和暦 dates in Japanese).
    pub shown: String,
    pub source: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Labelled)]
pub struct LabelledDto {
    pub code: String,
    pub label: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ProcedureFee)]
pub struct FeeDto {
    pub yen: u32,
    pub per: Option<String>,
}

/// Where the procedure is done: at this counter, or by referral (with where and why).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ProcedureHandling)]
pub struct HandlingDto {
    /// counter or referral.
    pub mode: String,
    pub to: Option<String>,
    pub why: Option<String>,
}

/// Whether this applicant may file it today.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Filing)]
pub struct FilingDto {
    /// null while a question about the applicant is open.
    pub allowed: Option<bool>,
    /// Why not, when not.
    pub reason: Option<String>,
}

/// One procedure for one event (and one member, when decided per member).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ProcedureDecision)]
pub struct DecisionDto {
    #[schema(example = "nhiJoinMoveIn")]
    pub procedure_id: String,
    pub name: String,
    /// 担当課.
    pub department: String,
    pub area: LabelledDto,
    /// Index of the visit's life event.
    pub event: usize,
    pub member: Option<String>,
    /// The reason in plain language, naming the facts that decided it; for an undecided
    /// procedure, what is still missing.
    pub reason: String,
    pub decided_by: Vec<DecidingFactDto>,
    /// For an undecided procedure: the ids of the questions that decide it.
    pub questions: Vec<String>,
    pub documents: Vec<String>,
    /// 本人確認 (code of the 行政手続等の棚卸調査).
    pub identity_check: LabelledDto,
    pub fee: Option<FeeDto>,
    pub deadline: Option<NaiveDate>,
    pub deadline_note: Option<String>,
    /// `formId@version`, or null for a checklist or a referral.
    pub form: Option<String>,
    pub handling: HandlingDto,
    pub legal_basis: String,
    pub filing: Option<FilingDto>,
}

/// An option of a question.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = QuestionOption)]
pub struct OptionDto {
    #[schema(schema_with = crate::http::v1::forms::any_json)]
    pub value: Value,
    pub label: String,
}

/// A question whose answer can still change the outcome of a procedure.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Question)]
pub struct QuestionDto {
    /// Stable within the visit: `fact`, `@member` or `@event`.
    #[schema(example = "member.hasMyNumberCard@m1")]
    pub id: String,
    /// Send as `fact` in the answer.
    pub fact: String,
    pub member: Option<String>,
    pub event: Option<usize>,
    pub text: String,
    /// boolean, integer, string, date or array.
    #[serde(rename = "type")]
    pub ty: String,
    pub options: Vec<OptionDto>,
    /// The procedures the answer can decide.
    pub decides: Vec<String>,
}

/// What the household needs, what is not needed and why, and what to ask.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Determination)]
pub struct DeterminationDto {
    pub visit_id: Uuid,
    pub catalog_version: String,
    pub needed: Vec<DecisionDto>,
    pub undecided: Vec<DecisionDto>,
    pub ruled_out: Vec<DecisionDto>,
    pub questions: Vec<QuestionDto>,
}

pub(crate) fn determination_dto(
    state: &AppState,
    catalog: &crate::catalog::Catalog,
    visit: &Visit,
    lang: Lang,
) -> DeterminationDto {
    let d = determine(catalog, &visit.household);
    let ex = Explainer {
        catalog,
        eras: &state.forms.eras,
        household: &visit.household,
        lang,
    };
    let deciding = |f: &UsedFact, event: usize| DecidingFactDto {
        fact: key_of(&f.at),
        member: f.at.member().map(str::to_owned),
        label: ex.fact_label(&f.at),
        value: f.value.clone(),
        shown: ex.show(f, event),
        source: f.source.as_str().to_owned(),
    };
    let dto = |x: &Decision| {
        let p = &x.procedure;
        DecisionDto {
            procedure_id: p.id.clone(),
            name: p.name.get(lang).to_owned(),
            department: p.department.clone(),
            area: LabelledDto {
                code: p.area.clone(),
                label: catalog
                    .vocabulary
                    .areas
                    .get(&p.area)
                    .map(|a| a.get(lang).to_owned())
                    .unwrap_or_default(),
            },
            event: x.event,
            member: x.member.clone(),
            reason: ex.reason(x),
            decided_by: x.facts.iter().map(|f| deciding(f, x.event)).collect(),
            questions: x
                .questions
                .iter()
                .map(|q| question_id(q, Some(x.event)))
                .collect(),
            documents: p.documents.iter().map(|t| t.get(lang).to_owned()).collect(),
            identity_check: LabelledDto {
                code: p.identity_check.clone(),
                label: catalog
                    .vocabulary
                    .identity_checks
                    .get(&p.identity_check)
                    .map(|a| a.get(lang).to_owned())
                    .unwrap_or_default(),
            },
            fee: p.fee.as_ref().map(|f| FeeDto {
                yen: f.yen,
                per: f.per.as_ref().map(|t| t.get(lang).to_owned()),
            }),
            deadline: x.deadline,
            deadline_note: p
                .deadline
                .as_ref()
                .and_then(|d| d.note.as_ref())
                .map(|t| t.get(lang).to_owned()),
            form: p.form.as_ref().map(|(id, v)| format!("{id}@{v}")),
            handling: match &p.handling {
                Handling::Counter => HandlingDto {
                    mode: "counter".into(),
                    to: None,
                    why: None,
                },
                Handling::Referral { to, why } => HandlingDto {
                    mode: "referral".into(),
                    to: Some(to.get(lang).to_owned()),
                    why: Some(why.get(lang).to_owned()),
                },
            },
            legal_basis: p.legal_basis.get(lang).to_owned(),
            filing: x.filing.as_ref().map(|f| FilingDto {
                allowed: f.allowed,
                reason: ex.refusal(x),
            }),
        }
    };
    let pick = |o: Outcome| -> Vec<DecisionDto> {
        d.decisions
            .iter()
            .filter(|x| x.outcome == o)
            .map(dto)
            .collect()
    };
    DeterminationDto {
        visit_id: visit.id,
        catalog_version: visit.catalog_version.clone(),
        needed: pick(Outcome::Needed),
        undecided: pick(Outcome::Undecided),
        ruled_out: pick(Outcome::NotNeeded),
        questions: d
            .questions
            .iter()
            .map(|q| {
                let def = catalog.facts.lookup(&q.key);
                QuestionDto {
                    id: question_id(&q.at, q.event),
                    fact: q.key.clone(),
                    member: q.at.member().map(str::to_owned),
                    event: q.event,
                    text: ex.question(q),
                    ty: def.map(|d| d.ty.as_str()).unwrap_or("string").to_owned(),
                    options: def
                        .and_then(|d| d.r#enum.as_ref())
                        .map(|e| {
                            e.iter()
                                .filter(|(k, _)| q.options.as_ref().is_none_or(|o| o.contains(*k)))
                                .map(|(k, l)| OptionDto {
                                    value: Value::String(k.clone()),
                                    label: l.get(lang).to_owned(),
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    decides: q.decides.clone(),
                }
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use crate::visits::limits;

    /// The contract states the same bounds the gateway enforces.
    #[test]
    fn the_contract_states_the_visit_bounds_the_gateway_enforces() {
        let doc = serde_json::to_value(crate::http::openapi::document()).expect("json");
        let schemas = &doc["components"]["schemas"];
        let max = |schema: &str, field: &str, key: &str| {
            schemas[schema]["properties"][field][key]
                .as_u64()
                .unwrap_or_else(|| panic!("{schema}.{field} has no {key}"))
        };
        let as_u64 = |n: usize| n as u64;
        assert_eq!(
            max("NewVisit", "members", "maxItems"),
            as_u64(limits::MAX_MEMBERS)
        );
        assert_eq!(
            max("NewVisit", "events", "maxItems"),
            as_u64(limits::MAX_EVENTS)
        );
        assert_eq!(
            max("NewVisit", "answers", "maxItems"),
            as_u64(limits::MAX_ANSWERS)
        );
        assert_eq!(
            max("AnswerBatch", "answers", "maxItems"),
            as_u64(limits::MAX_ANSWERS)
        );
        assert_eq!(
            max("NewLifeEvent", "subjects", "maxItems"),
            as_u64(limits::MAX_SUBJECTS)
        );
        assert_eq!(
            max("DraftEdit", "set", "maxProperties"),
            as_u64(limits::MAX_EDITS_PER_REQUEST)
        );
        assert_eq!(
            max("DraftEdit", "remove", "maxItems"),
            as_u64(limits::MAX_EDITS_PER_REQUEST)
        );
    }
}
