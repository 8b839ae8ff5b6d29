//! `/v1/municipalities/{lgCode}/visits`: one-stop visits — the household's life events and
//! facts, the determination of its procedures, and the questions that can still change it.
//! Everything a visit holds is personal data: every read and write is audited with the clerk.

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::auth::{Authorized, scopes};
use super::extract::ApiJson;
use super::idempotency::Idempotent;
use super::pagination::{page_params, page_type};
use super::preconditions::{self, IfMatch};
use super::problem::{ApiError, ProblemDoc, ProblemKind};
use super::state::AppState;
use crate::audit::Action;
use crate::auth::Scope;
use crate::catalog::{Handling, Holder};
use crate::i18n::{Lang, Text};
use crate::store::{StoreError, VisitChange};
use crate::validation::FieldError;
use crate::visits::determination::UsedFact;
use crate::visits::facts::key_of;
use crate::visits::input::{self, Context, NewAnswer, NewApplicant, NewEvent, NewMember};
use crate::visits::limits;
use crate::visits::model::Source;
use crate::visits::{Decision, Explainer, Outcome, Status, Visit, determine};

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
#[derive(Debug, Deserialize, ToSchema)]
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
    #[schema(schema_with = super::forms::any_json, example = json!(true))]
    pub value: Value,
}

/// A new visit.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = NewVisit, example = json!({
    "ticket": "A-012",
    "events": [{"kind": "moveIn", "date": "2026-12-01", "facts": {"from": "otherMunicipality", "cardSpecialMoveIn": false}}],
    "members": [{"id": "m1", "familyName": "山田", "givenName": "太郎", "relationship": "世帯主", "dateOfBirth": "1988-04-10", "sex": "1", "insurance": "nationalHealth"}],
    "applicant": {"member": "m1"}
}))]
pub struct NewVisitDto {
    /// 受付番号 (queue ticket).
    #[schema(max_length = 32)]
    pub ticket: Option<String>,
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

fn answers(list: Vec<AnswerDto>) -> Vec<NewAnswer> {
    list.into_iter()
        .map(|a| NewAnswer {
            fact: a.fact,
            member: a.member,
            event: a.event,
            value: a.value,
        })
        .collect()
}

fn member_input(m: NewMemberDto) -> NewMember {
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
    #[schema(schema_with = super::forms::any_json)]
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

fn visit_dto(state: &AppState, v: &Visit, lang: Lang) -> VisitDto {
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
                    .map(|d| {
                        if lang == Lang::Ja {
                            d.ja.clone()
                        } else {
                            d.en.clone()
                        }
                    })
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
    #[schema(schema_with = super::forms::any_json)]
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
    #[schema(schema_with = super::forms::any_json)]
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

fn question_id(at: &crate::catalog::FactRef, event: Option<usize>) -> String {
    match (&at.holder, event) {
        (Holder::Member(id), _) => format!("{}@{id}", key_of(at)),
        (Holder::Event, Some(i)) => format!("{}@{i}", key_of(at)),
        _ => key_of(at),
    }
}

fn holder_member(at: &crate::catalog::FactRef) -> Option<String> {
    match &at.holder {
        Holder::Member(id) => Some(id.clone()),
        _ => None,
    }
}

fn determination_dto(
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
        member: holder_member(&f.at),
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
                    member: holder_member(&q.at),
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

// ---------------------------------------------------------------- handlers

/// The catalogue the visit was opened with.
pub(super) async fn catalog_of(
    state: &AppState,
    visit: &Visit,
) -> Result<std::sync::Arc<crate::catalog::Catalog>, ApiError> {
    let version = crate::catalog::versions::Catalogs::version_of(&visit.catalog_version);
    state
        .catalogs
        .version(&visit.lg_code, version)
        .await
        .map_err(catalog_problem)
}

pub(crate) fn catalog_problem(e: crate::catalog::versions::CatalogError) -> ApiError {
    use crate::catalog::versions::CatalogError;
    match e {
        CatalogError::Store(e) => e.into(),
        CatalogError::Invalid(errors) => ApiError::validation(
            errors
                .into_iter()
                .map(|e| {
                    FieldError::new(
                        e.pointer,
                        "invalid_override",
                        Text::new(e.message.clone(), e.message),
                    )
                })
                .collect(),
        ),
        e @ CatalogError::Unusable { .. } => ApiError::internal(e),
    }
}

fn visit_not_found(id: Uuid) -> ApiError {
    ApiError::not_found(Text::new(
        format!("来庁 {id} はありません。"),
        format!("There is no visit {id}."),
    ))
}

fn store_conflict(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict => ApiError::new(
            ProblemKind::VisitChanged,
            Text::new(
                "この来庁は同時に別の端末から変更されました。読み直してから、もう一度送ってください。",
                "The visit was changed from another terminal meanwhile. Read it again and resend.",
            ),
        ),
        e => e.into(),
    }
}

/// The visit a change made, or why none was made.
fn changed(id: Uuid, change: VisitChange) -> Result<Visit, ApiError> {
    match change {
        VisitChange::Done(v) => Ok(v),
        other => Err(why_not(id, other)),
    }
}

/// Why a change was not made.
fn why_not(id: Uuid, change: VisitChange) -> ApiError {
    match change {
        VisitChange::Done(_) => ApiError::internal("a change that was made is reported as refused"),
        VisitChange::NotFound => visit_not_found(id),
        VisitChange::Closed(_) => closed(id),
        VisitChange::Refused(errors) => ApiError::validation(errors),
        VisitChange::Frozen(_) => frozen(id),
        VisitChange::Stale(v) => preconditions::stale(id, v.revision),
    }
}

fn closed(id: Uuid) -> ApiError {
    ApiError::new(
        ProblemKind::VisitClosed,
        Text::new(
            format!("来庁 {id} は終了しているため変更できません。"),
            format!("Visit {id} is closed and cannot change."),
        ),
    )
}

fn require_staff(auth: &Authorized<scopes::Visits>) -> Result<(), ApiError> {
    if auth.actor.staff.is_some() {
        return Ok(());
    }
    Err(ApiError::new(
        ProblemKind::InvalidActor,
        Text::new(
            "来庁は個人情報を扱うため、Madoguchi-Actor ヘッダーに操作する職員の職員番号を入れてください。",
            "A visit holds personal data: send the acting clerk's staff id in the Madoguchi-Actor header.",
        ),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct VisitPath {
    /// 全国地方公共団体コード.
    #[serde(rename = "lgCode")]
    #[allow(dead_code)] // Authorized reads and checks it from the path.
    #[param(rename = "lgCode", example = "012084")]
    pub lg_code: String,
    /// The visit's id.
    #[serde(rename = "visitId")]
    #[param(rename = "visitId")]
    pub visit_id: Uuid,
}

/// Open a visit: the life events, the household members known so far, the applicant.
///
/// Bounds: at most 30 members, 10 events, 200 answers and a 64 KiB body (413 above it);
/// a list over its bound is refused whole (422, code `too_many`).
#[utoipa::path(
    tag = "visits",
    params(
        ("lgCode" = String, Path, description = "全国地方公共団体コード", example = "012084"),
        ("Madoguchi-Actor" = String, Header, description = "Staff id of the clerk acting (required: a visit is personal data)", example = "clerk-0042"),
        ("Idempotency-Key" = Option<String>, Header, description = "A new UUID per request: a retry with the same key and body returns the first response"),
    ),
    request_body(content = NewVisitDto, content_type = "application/json"),
    responses(
        (status = 201, description = "The visit", body = VisitDto, headers(("ETag" = String, description = "The visit's revision (\"v12\"), for If-Match on the next change"))),
        (status = 400, description = "Malformed JSON, lgCode or Madoguchi-Actor", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 401, description = "No or invalid token", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope visits missing, or the client may not act for this municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "Municipality not registered", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "Idempotency-Key in use", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "Invalid events, members, applicant or answers, all listed in errors[]", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["visits"]))
)]
#[post(
    "/municipalities/{lgCode}/visits",
    wrap = "Idempotent::requiring(Scope::Visits)"
)]
pub async fn create_visit(
    lang: Lang,
    auth: Authorized<scopes::Visits>,
    state: web::Data<AppState>,
    body: ApiJson<NewVisitDto, { limits::VISIT_BODY_BYTES }>,
) -> Result<HttpResponse, ApiError> {
    let code = auth.municipality()?;
    require_staff(&auth)?;
    state
        .municipalities
        .municipality(&code)
        .await?
        .ok_or_else(|| super::municipalities::not_registered(&code))?;
    let body = body.0;
    let now = crate::store::now();
    let ctx = Context {
        catalog: &state.catalog,
        eras: &state.forms.eras,
        now,
    };
    let mut errors: Vec<FieldError> = Vec::new();
    if let Some(t) = &body.ticket
        && (t.is_empty()
            || t.chars().count() > 32
            || t.chars().any(crate::validation::is_hidden_or_control))
    {
        errors.push(FieldError::new(
            "/ticket",
            "invalid_ticket",
            Text::new(
                "受付番号は1〜32文字で、制御文字を含めずに入れてください。",
                "ticket: 1 to 32 characters without control characters.",
            ),
        ));
    }
    for (i, m) in body.members.iter().enumerate() {
        if m.id.is_empty()
            || m.id.len() > 32
            || !m
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            errors.push(FieldError::new(
                format!("/members/{i}/id"),
                "invalid_member_id",
                Text::new(
                    "世帯員の id は英数字・_・- の1〜32文字です(例: m1)。",
                    "A member id is 1 to 32 letters, digits, _ or - (e.g. m1).",
                ),
            ));
        }
    }
    let household = input::household(
        &ctx,
        body.events
            .into_iter()
            .map(|e| NewEvent {
                kind: e.kind,
                date: e.date,
                subjects: e.subjects,
                facts: e.facts.into_iter().collect(),
            })
            .collect(),
        body.members.into_iter().map(member_input).collect(),
        NewApplicant {
            member: body.applicant.member,
            name: body.applicant.name,
        },
        answers(body.answers),
    );
    let household = match household {
        Ok(h) if errors.is_empty() => h,
        Ok(_) => return Err(ApiError::validation(errors)),
        Err(mut e) => {
            errors.append(&mut e);
            return Err(ApiError::validation(errors));
        }
    };
    let (version, _) = state
        .catalogs
        .current(&code)
        .await
        .map_err(catalog_problem)?;
    let visit = Visit {
        id: Uuid::now_v7(),
        lg_code: code,
        status: Status::Open,
        ticket: body.ticket,
        catalog_version: state.catalogs.label(version),
        household,
        opened_at: now,
        opened_on: crate::visits::model::japan_day(now),
        closed_at: None,
        updated_at: now,
        opened_by_client: auth.actor.client_id.clone(),
        opened_by_staff: auth.actor.staff.clone(),
        revision: 1,
    };
    state.store.create_visit(&visit, &auth.actor).await?;
    state.visit_metrics.opened(&visit.lg_code);
    Ok(HttpResponse::Created()
        .insert_header((
            actix_web::http::header::LOCATION,
            format!("/v1/municipalities/{code}/visits/{}", visit.id),
        ))
        .insert_header(preconditions::etag(visit.revision))
        .json(visit_dto(&state, &visit, lang)))
}

async fn load(
    state: &AppState,
    auth: &Authorized<scopes::Visits>,
    id: Uuid,
) -> Result<Visit, ApiError> {
    load_for(state, auth, id, crate::audit::Action::VisitRead).await
}

/// The visit, read for the acting clerk and audited as `action`.
pub(super) async fn load_for(
    state: &AppState,
    auth: &Authorized<scopes::Visits>,
    id: Uuid,
    action: crate::audit::Action,
) -> Result<Visit, ApiError> {
    let code = auth.municipality()?;
    require_staff(auth)?;
    state
        .store
        .read_visit_for(&code, id, &auth.actor, action)
        .await?
        .ok_or_else(|| visit_not_found(id))
}

/// A visit, with what is known about the household and where each fact came from.
#[utoipa::path(
    tag = "visits",
    params(
        VisitPath,
        ("Madoguchi-Actor" = String, Header, description = "Staff id of the clerk acting (required)", example = "clerk-0042"),
    ),
    responses(
        (status = 200, description = "The visit", body = VisitDto, headers(("ETag" = String, description = "The visit's revision (\"v12\"), for If-Match on the next change"))),
        (status = 400, description = "Malformed lgCode, visit id or Madoguchi-Actor", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 401, description = "No or invalid token", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope visits missing, or the client may not act for this municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such visit in this municipality", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["visits"]))
)]
#[get("/municipalities/{lgCode}/visits/{visitId}")]
pub async fn get_visit(
    lang: Lang,
    auth: Authorized<scopes::Visits>,
    state: web::Data<AppState>,
    path: web::Path<VisitPath>,
) -> Result<HttpResponse, ApiError> {
    let visit = load(&state, &auth, path.visit_id).await?;
    Ok(HttpResponse::Ok()
        .insert_header(preconditions::etag(visit.revision))
        .json(visit_dto(&state, &visit, lang)))
}

/// The determination: every needed procedure with its reason, documents, 本人確認, fee,
/// deadline, form and counter or referral; the undecided ones with the questions that decide
/// them; the ones ruled out with why.
#[utoipa::path(
    tag = "visits",
    params(
        VisitPath,
        ("Madoguchi-Actor" = String, Header, description = "Staff id of the clerk acting (required)", example = "clerk-0042"),
    ),
    responses(
        (status = 200, description = "The determination", body = DeterminationDto, headers(("ETag" = String, description = "The visit's revision (\"v12\"), for If-Match on the next change"))),
        (status = 400, description = "Malformed lgCode, visit id or Madoguchi-Actor", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 401, description = "No or invalid token", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope visits missing, or the client may not act for this municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such visit in this municipality", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["visits"]))
)]
#[get("/municipalities/{lgCode}/visits/{visitId}/determination")]
pub async fn get_determination(
    lang: Lang,
    auth: Authorized<scopes::Visits>,
    state: web::Data<AppState>,
    path: web::Path<VisitPath>,
) -> Result<HttpResponse, ApiError> {
    let visit = load(&state, &auth, path.visit_id).await?;
    let catalog = catalog_of(&state, &visit).await?;
    Ok(HttpResponse::Ok()
        .insert_header(preconditions::etag(visit.revision))
        .json(determination_dto(&state, &catalog, &visit, lang)))
}

/// Record answers (all or none) and run the determination again. At most 200 answers and a
/// 64 KiB body.
#[utoipa::path(
    tag = "visits",
    params(
        VisitPath,
        ("Madoguchi-Actor" = String, Header, description = "Staff id of the clerk acting (required)", example = "clerk-0042"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the visit as this app last read it (\"v12\"): the change is made only if no one changed the visit since, else 412"),
        ("Idempotency-Key" = Option<String>, Header, description = "A new UUID per request: a retry with the same key and body returns the first response"),
    ),
    request_body(content = AnswersDto, content_type = "application/json"),
    responses(
        (status = 200, description = "The determination with the answers", body = DeterminationDto, headers(("ETag" = String, description = "The visit's revision (\"v12\"), for If-Match on the next change"))),
        (status = 400, description = "Malformed JSON, lgCode, visit id or Madoguchi-Actor", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 401, description = "No or invalid token", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope visits missing, or the client may not act for this municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such visit in this municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "The visit is closed, was changed meanwhile, or the Idempotency-Key is in use", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 412, description = "If-Match names a revision of the visit that is no longer the current one: nothing changed; the problem's etag (and ETag) is the current one", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "Unknown facts, members or values, all listed in errors[]", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["visits"]))
)]
#[post(
    "/municipalities/{lgCode}/visits/{visitId}/answers",
    wrap = "Idempotent::requiring(Scope::Visits)"
)]
pub async fn post_answers(
    lang: Lang,
    auth: Authorized<scopes::Visits>,
    state: web::Data<AppState>,
    path: web::Path<VisitPath>,
    if_match: IfMatch,
    body: ApiJson<AnswersDto, { limits::VISIT_BODY_BYTES }>,
) -> Result<HttpResponse, ApiError> {
    let code = auth.municipality()?;
    require_staff(&auth)?;
    let id = path.visit_id;
    if body.0.answers.is_empty() {
        return Err(ApiError::validation(vec![FieldError::new(
            "/answers",
            "no_answers",
            Text::new("回答を1つ以上入れてください。", "Give at least one answer."),
        )]));
    }
    let ctx = Context {
        catalog: &state.catalog,
        eras: &state.forms.eras,
        now: crate::store::now(),
    };
    let list = answers(body.0.answers);
    let change = state
        .store
        .change_visit(
            &code,
            id,
            Action::VisitUpdate,
            &auth.actor,
            if_match.revisions(),
            |visit| input::apply_answers(&ctx, &mut visit.household, list, "/answers"),
        )
        .await
        .map_err(store_conflict)?;
    determination_after(&state, lang, id, change).await
}

/// The answer to a change of the household's facts: the determination run again, or why
/// nothing changed.
async fn determination_after(
    state: &AppState,
    lang: Lang,
    id: Uuid,
    change: VisitChange,
) -> Result<HttpResponse, ApiError> {
    let visit = changed(id, change)?;
    let catalog = catalog_of(state, &visit).await?;
    Ok(HttpResponse::Ok()
        .insert_header(preconditions::etag(visit.revision))
        .json(determination_dto(state, &catalog, &visit, lang)))
}

/// A verified card session to take a member's facts from.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = CardAttachment, example = json!({"cardSessionId": "01938a6e-7c1f-7cc3-9a5e-3b2f0c4d5e70", "member": "m1"}))]
pub struct CardAttachmentDto {
    pub card_session_id: Uuid,
    /// The member whose card it is.
    #[schema(example = "m1")]
    pub member: String,
}

/// Take a member's facts from a verified card session (name, date of birth, sex, holding a
/// My Number card), with the source `card`, and run the determination again. The 個人番号
/// never becomes a fact of the visit.
#[utoipa::path(
    tag = "visits",
    params(
        VisitPath,
        ("Madoguchi-Actor" = String, Header, description = "Staff id of the clerk acting (required)", example = "clerk-0042"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the visit as this app last read it (\"v12\"): the change is made only if no one changed the visit since, else 412"),
        ("Idempotency-Key" = Option<String>, Header, description = "A new UUID per request: a retry with the same key and body returns the first response"),
    ),
    request_body(content = CardAttachmentDto, content_type = "application/json"),
    responses(
        (status = 200, description = "The determination with the card's facts", body = DeterminationDto, headers(("ETag" = String, description = "The visit's revision (\"v12\"), for If-Match on the next change"))),
        (status = 400, description = "Malformed JSON, lgCode, visit id or Madoguchi-Actor", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 401, description = "No or invalid token", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope visits or card missing, or the client may not act for this municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such visit or card session in this municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "The session has not verified (or its result is no longer kept), it served another visit, the visit is closed or was changed meanwhile", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 412, description = "If-Match names a revision of the visit that is no longer the current one: nothing changed; the problem's etag (and ETag) is the current one", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "Unknown member", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["visits", "card"]))
)]
#[post(
    "/municipalities/{lgCode}/visits/{visitId}/card",
    wrap = "Idempotent::requiring(Scope::Visits)"
)]
pub async fn attach_card(
    lang: Lang,
    auth: Authorized<scopes::Visits>,
    state: web::Data<AppState>,
    path: web::Path<VisitPath>,
    body: ApiJson<CardAttachmentDto>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let code = auth.municipality()?;
    require_staff(&auth)?;
    if !auth.principal.has_scope(Scope::Card) {
        return Err(super::auth::insufficient_scope(Scope::Card));
    }
    let id = path.visit_id;
    let body = body.0;
    let session = state
        .store
        .card_session(
            body.card_session_id,
            state.server_key.as_ref(),
            state.settings.card.result_keep(),
        )
        .await?
        .filter(|s| s.lg_code == code)
        .ok_or_else(|| {
            ApiError::not_found(Text::new(
                format!(
                    "カード読取り {} はこの団体にありません。",
                    body.card_session_id
                ),
                format!(
                    "There is no card session {} in this municipality.",
                    body.card_session_id
                ),
            ))
        })?;
    let verified = match (&session.outcome, session.visit_id) {
        (_, Some(other)) if other != id => {
            return Err(ApiError::new(
                ProblemKind::Conflict,
                Text::new(
                    format!("このカード読取りは別の来庁({other})のためのものです。"),
                    format!("This card session served another visit ({other})."),
                ),
            ));
        }
        (Some(Ok(v)), _) => v,
        _ => {
            return Err(ApiError::new(
                ProblemKind::Conflict,
                Text::new(
                    "このカード読取りは本人確認が済んでいないか、結果の保存期間を過ぎています。",
                    "This card session has not verified, or its result is no longer kept.",
                ),
            ));
        }
    };
    let facts = input::card_facts(verified);
    let change = record_facts(
        &state,
        &auth,
        id,
        &body.member,
        facts,
        Source::Card,
        if_match.revisions(),
    )
    .await?;
    determination_after(&state, lang, id, change).await
}

/// Takes facts from the card or the registry into a member of the visit.
async fn record_facts(
    state: &AppState,
    auth: &Authorized<scopes::Visits>,
    id: Uuid,
    member: &str,
    facts: Vec<(String, Value)>,
    source: Source,
    expected: Option<&[i64]>,
) -> Result<VisitChange, ApiError> {
    let code = auth.municipality()?;
    let ctx = Context {
        catalog: &state.catalog,
        eras: &state.forms.eras,
        now: crate::store::now(),
    };
    state
        .store
        .change_visit(
            &code,
            id,
            Action::VisitUpdate,
            &auth.actor,
            expected,
            |visit| input::apply_facts(&ctx, &mut visit.household, member, facts, source),
        )
        .await
        .map_err(store_conflict)
}

/// A resident of the directory to take a member's facts from.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = ResidentAttachment, example = json!({"addresseeNumber": "10000000006", "member": "m1"}))]
pub struct ResidentAttachmentDto {
    /// 宛名番号, as a lookup gave it.
    #[schema(example = "10000000006")]
    pub addressee_number: String,
    /// The member who is this resident.
    #[schema(example = "m1")]
    pub member: String,
}

/// Take a member's facts from the resident directory (name, kana, date of birth when the
/// registry knows the day, sex, 続柄, nationality) with the source `registry`, and run the
/// determination again: the drafts are prefilled from them. Audited as a lookup for the visit.
#[utoipa::path(
    tag = "visits",
    params(
        VisitPath,
        ("Madoguchi-Actor" = String, Header, description = "Staff id of the clerk acting (required)", example = "clerk-0042"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the visit as this app last read it (\"v12\"): the change is made only if no one changed the visit since, else 412"),
        ("Idempotency-Key" = Option<String>, Header, description = "A new UUID per request: a retry with the same key and body returns the first response"),
    ),
    request_body(content = ResidentAttachmentDto, content_type = "application/json"),
    responses(
        (status = 200, description = "The determination with the registry's facts", body = DeterminationDto, headers(("ETag" = String, description = "The visit's revision (\"v12\"), for If-Match on the next change"))),
        (status = 400, description = "Malformed JSON, lgCode, visit id or Madoguchi-Actor", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 401, description = "No or invalid token", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope visits or residents missing, or the client may not act for this municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such visit, or no such resident in the municipality's directory", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "The visit is closed or was changed meanwhile, or the same Idempotency-Key is still running", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 412, description = "If-Match names a revision of the visit that is no longer the current one: nothing changed; the problem's etag (and ETag) is the current one", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "Unknown member, or an Idempotency-Key reused", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["visits", "residents"]))
)]
#[post(
    "/municipalities/{lgCode}/visits/{visitId}/residents",
    wrap = "Idempotent::requiring(Scope::Visits)"
)]
pub async fn attach_resident(
    lang: Lang,
    auth: Authorized<scopes::Visits>,
    state: web::Data<AppState>,
    path: web::Path<VisitPath>,
    body: ApiJson<ResidentAttachmentDto>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let code = auth.municipality()?;
    require_staff(&auth)?;
    if !auth.principal.has_scope(Scope::Residents) {
        return Err(super::auth::insufficient_scope(Scope::Residents));
    }
    let id = path.visit_id;
    let body = body.0;
    let resident = state
        .store
        .resident(&code.to_string(), &body.addressee_number)
        .await?
        .ok_or_else(|| super::residents::resident_not_found(&body.addressee_number))?;
    let facts = input::registry_facts(&resident);
    let change = record_facts(
        &state,
        &auth,
        id,
        &body.member,
        facts,
        Source::Registry,
        if_match.revisions(),
    )
    .await?;
    if matches!(change, VisitChange::Done(_)) {
        super::residents::audit_lookup(&state, &auth.actor, code, id, 1).await?;
    }
    determination_after(&state, lang, id, change).await
}

/// Close the visit: the resident has left. Its stay time is recorded.
#[utoipa::path(
    tag = "visits",
    params(
        VisitPath,
        ("Madoguchi-Actor" = String, Header, description = "Staff id of the clerk acting (required)", example = "clerk-0042"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the visit as this app last read it (\"v12\"): the change is made only if no one changed the visit since, else 412"),
        ("Idempotency-Key" = Option<String>, Header, description = "A new UUID per request: a retry with the same key returns the first response"),
    ),
    responses(
        (status = 200, description = "The closed visit", body = VisitDto, headers(("ETag" = String, description = "The visit's revision (\"v12\"), for If-Match on the next change"))),
        (status = 400, description = "Malformed lgCode, visit id or Madoguchi-Actor", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 401, description = "No or invalid token", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope visits missing, or the client may not act for this municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such visit in this municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "Already closed, changed meanwhile, or Idempotency-Key in use", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 412, description = "If-Match names a revision of the visit that is no longer the current one: nothing changed; the problem's etag (and ETag) is the current one", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "The Idempotency-Key was used for another request", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["visits"]))
)]
#[post(
    "/municipalities/{lgCode}/visits/{visitId}/close",
    wrap = "Idempotent::requiring(Scope::Visits)"
)]
pub async fn close_visit(
    lang: Lang,
    auth: Authorized<scopes::Visits>,
    state: web::Data<AppState>,
    path: web::Path<VisitPath>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let code = auth.municipality()?;
    require_staff(&auth)?;
    let id = path.visit_id;
    let now = crate::store::now();
    match state
        .store
        .change_visit(
            &code,
            id,
            Action::VisitClose,
            &auth.actor,
            if_match.revisions(),
            |visit| {
                visit.status = Status::Closed;
                visit.closed_at = Some(now);
                Ok(())
            },
        )
        .await
        .map_err(store_conflict)?
    {
        VisitChange::Done(visit) => {
            state.visit_metrics.closed(&visit);
            Ok(HttpResponse::Ok()
                .insert_header(preconditions::etag(visit.revision))
                .json(visit_dto(&state, &visit, lang)))
        }
        other => Err(why_not(id, other)),
    }
}

page_type!(
    VisitPage,
    VisitDto,
    "One page of a day's visits, oldest first."
);

page_params!(
    VisitPageParams,
    Uuid,
    "`nextCursor` of the previous page: the visit id the next page starts after.",
    value_type = Option<String>, format = Uuid
);

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DayParam {
    /// The day in Japan (YYYY-MM-DD); today when absent.
    #[param(value_type = Option<String>, format = Date)]
    pub date: Option<NaiveDate>,
}

/// A day's visits of the municipality.
#[utoipa::path(
    tag = "visits",
    params(
        ("lgCode" = String, Path, description = "全国地方公共団体コード", example = "012084"),
        ("Madoguchi-Actor" = String, Header, description = "Staff id of the clerk acting (required)", example = "clerk-0042"),
        DayParam,
        VisitPageParams,
    ),
    responses(
        (status = 200, description = "One page of visits", body = VisitPage),
        (status = 400, description = "Malformed lgCode, date, limit, cursor or Madoguchi-Actor", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 401, description = "No or invalid token", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope visits missing, or the client may not act for this municipality", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["visits"]))
)]
#[get("/municipalities/{lgCode}/visits")]
pub async fn list_visits(
    lang: Lang,
    auth: Authorized<scopes::Visits>,
    state: web::Data<AppState>,
    day: web::Query<DayParam>,
    page: web::Query<VisitPageParams>,
) -> Result<HttpResponse, ApiError> {
    let code = auth.municipality()?;
    require_staff(&auth)?;
    let limit = page.limit()?;
    let day = day
        .date
        .unwrap_or_else(|| crate::visits::model::japan_day(crate::store::now()));
    let result = state
        .store
        .list_visits(&code, day, page.cursor, limit, &auth.actor)
        .await?;
    Ok(HttpResponse::Ok().json(VisitPage {
        items: result
            .items
            .iter()
            .map(|v| visit_dto(&state, v, lang))
            .collect(),
        next_cursor: result.next_after,
    }))
}

// ---------------------------------------------------------------- drafts

/// Where one field of a draft came from.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DraftField)]
pub struct DraftFieldDto {
    pub pointer: String,
    /// clerk, answer, registry, card, derived (from the visit's facts), today, constant (the
    /// procedure's), edit (typed into the draft).
    pub source: String,
    pub fact: Option<String>,
    pub member: Option<String>,
}

/// A form prefilled for one procedure, normalized and validated.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Draft)]
pub struct DraftDto {
    /// `procedureId@event` or `procedureId@event@member`.
    #[schema(example = "nhiJoinMoveIn@0")]
    pub key: String,
    /// `formId@version`.
    pub form: String,
    pub form_title: String,
    pub procedure_id: String,
    pub procedure_name: String,
    pub event: usize,
    pub member: Option<String>,
    pub members: Vec<String>,
    /// The document, normalized.
    #[schema(value_type = Object)]
    pub document: Value,
    pub fields: Vec<DraftFieldDto>,
    pub valid: bool,
    /// What the clerk still has to complete or correct.
    pub errors: Vec<super::forms::FormErrorDto>,
    pub warnings: Vec<super::forms::IssueDto>,
    /// Fields filled from the facts and the procedure: the resident does not write them by hand.
    pub prefilled_fields: usize,
    /// Fields the clerk typed into the draft.
    pub typed_fields: usize,
}

/// Every draft of the visit.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DraftList)]
pub struct DraftsDto {
    pub visit_id: Uuid,
    pub drafts: Vec<DraftDto>,
    pub prefilled_fields: usize,
    pub typed_fields: usize,
}

fn edit_set_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .max_properties(Some(limits::MAX_EDITS_PER_REQUEST))
        .additional_properties(Some(
            utoipa::openapi::schema::AdditionalProperties::FreeForm(true),
        ))
        .build()
}

/// The clerk's changes to a draft: values to set and fields to remove, by JSON pointer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = DraftEdit, example = json!({"set": {"/qualificationConfirmationDelivery": "窓口"}}))]
pub struct DraftEditDto {
    /// Fields to set, by JSON pointer; each value at most 2,048 bytes of JSON, at most 200
    /// fields in `set` and `remove` together, and at most 400 fields edited in one draft.
    #[serde(default)]
    #[schema(schema_with = edit_set_schema)]
    pub set: Map<String, Value>,
    #[serde(default)]
    #[schema(max_items = 200)]
    pub remove: Vec<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct DraftPath {
    /// 全国地方公共団体コード.
    #[serde(rename = "lgCode")]
    #[param(rename = "lgCode", example = "012084")]
    #[allow(dead_code)] // Authorized reads and checks it from the path.
    pub lg_code: String,
    #[serde(rename = "visitId")]
    #[param(rename = "visitId")]
    pub visit_id: Uuid,
    /// The draft's key.
    #[serde(rename = "draftKey")]
    #[param(rename = "draftKey", example = "nhiJoinMoveIn@0")]
    pub draft_key: String,
}

/// The edits of a PATCH that would leave the draft outside its form's shape (a number where
/// the form has text, a code not in its list), each at the edit that caused it.
fn shape_errors(
    state: &AppState,
    catalog: &crate::catalog::Catalog,
    visit: &Visit,
    spec: &crate::visits::drafts::DraftSpec,
    form: &crate::forms::Form,
    changes: &[(String, Option<Value>)],
) -> Vec<FieldError> {
    use crate::visits::drafts::Edit;
    let proposed: Vec<(String, Edit)> = changes
        .iter()
        .map(|(p, v)| (p.clone(), v.clone().map_or(Edit::Remove, Edit::Set)))
        .collect();
    let edits = visit
        .household
        .edits
        .get(&spec.key)
        .cloned()
        .unwrap_or_default();
    let today = crate::visits::model::japan_day(crate::store::now());
    crate::visits::drafts::shape_errors_of_edit(
        &state.forms,
        form,
        catalog,
        &visit.household,
        spec,
        &edits,
        &proposed,
        today,
    )
    .into_iter()
    .map(|e| {
        // The edit the error comes from: the one sharing most of its path (an edit at or
        // above the error, or one whose index past the end left the error's empty item).
        let shared = |p: &str| {
            p.split('/')
                .zip(e.pointer.split('/'))
                .take_while(|(a, b)| a == b)
                .count()
        };
        let edit = proposed.iter().max_by_key(|(p, _)| shared(p));
        let (part, pointer) = match edit {
            Some((p, Edit::Remove)) => ("remove", p.as_str()),
            Some((p, Edit::Set(_))) => ("set", p.as_str()),
            None => ("set", e.pointer.as_str()),
        };
        let mut at = format!("/{part}");
        crate::validation::push_pointer_token(&mut at, pointer);
        let code = match e.keyword.as_str() {
            "enum" | "const" => "not_in_list",
            "additionalProperties" | "unevaluatedProperties" => "unknown_field",
            _ => "invalid_type",
        };
        FieldError::new(at, code, e.message)
    })
    .collect()
}

pub(super) fn drafts_of(
    state: &AppState,
    catalog: &crate::catalog::Catalog,
    visit: &Visit,
    d: &crate::visits::Determination,
    lang: Lang,
) -> Vec<DraftDto> {
    let today = crate::visits::model::japan_day(crate::store::now());
    crate::visits::drafts::specs(catalog, &visit.household, d)
        .into_iter()
        .filter_map(|spec| {
            let form = state
                .forms
                .form(&spec.form_id, Some(&spec.form_version))
                .ok()?;
            let draft = crate::visits::drafts::build(
                catalog,
                &form.plan,
                &visit.household,
                &spec,
                visit.household.edits.get(&spec.key),
                today,
            );
            let processed = state.forms.validate(form, draft.document, None);
            let mut errors = super::forms::form_errors(&processed.errors, lang);
            errors.extend(
                super::forms::issues(form, &processed.report.errors, lang)
                    .into_iter()
                    .map(|i| super::forms::FormErrorDto {
                        pointer: i.pointer,
                        keyword: "x-normalize".to_owned(),
                        code: i.code,
                        message: i.message,
                    }),
            );
            Some(DraftDto {
                key: spec.key.clone(),
                form: format!("{}@{}", spec.form_id, spec.form_version),
                form_title: form.title.clone(),
                procedure_id: spec.procedure.id.clone(),
                procedure_name: spec.procedure.name.get(lang).to_owned(),
                event: spec.event,
                member: spec.member.clone(),
                members: spec.members.clone(),
                valid: errors.is_empty(),
                document: processed.document,
                fields: draft
                    .fields
                    .into_iter()
                    .map(|f| DraftFieldDto {
                        pointer: f.pointer,
                        source: f.source.to_owned(),
                        fact: f.fact,
                        member: f.member,
                    })
                    .collect(),
                errors,
                warnings: super::forms::issues(form, &processed.report.warnings, lang),
                prefilled_fields: draft.prefilled,
                typed_fields: draft.typed,
            })
        })
        .collect()
}

/// The drafts: each needed procedure filed on a form, prefilled from the facts (every field
/// with its source), with the clerk's edits, normalized and validated.
#[utoipa::path(
    tag = "visits",
    params(
        VisitPath,
        ("Madoguchi-Actor" = String, Header, description = "Staff id of the clerk acting (required)", example = "clerk-0042"),
    ),
    responses(
        (status = 200, description = "The drafts", body = DraftsDto, headers(("ETag" = String, description = "The visit's revision (\"v12\"), for If-Match on the next change"))),
        (status = 400, description = "Malformed lgCode, visit id or Madoguchi-Actor", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 401, description = "No or invalid token", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope visits missing, or the client may not act for this municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such visit in this municipality", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["visits"]))
)]
#[get("/municipalities/{lgCode}/visits/{visitId}/drafts")]
pub async fn get_drafts(
    lang: Lang,
    auth: Authorized<scopes::Visits>,
    state: web::Data<AppState>,
    path: web::Path<VisitPath>,
) -> Result<HttpResponse, ApiError> {
    let visit = load(&state, &auth, path.visit_id).await?;
    let catalog = catalog_of(&state, &visit).await?;
    let d = determine(&catalog, &visit.household);
    let drafts = drafts_of(&state, &catalog, &visit, &d, lang);
    Ok(HttpResponse::Ok()
        .insert_header(preconditions::etag(visit.revision))
        .json(DraftsDto {
            visit_id: visit.id,
            prefilled_fields: drafts.iter().map(|d| d.prefilled_fields).sum(),
            typed_fields: drafts.iter().map(|d| d.typed_fields).sum(),
            drafts,
        }))
}

/// Change fields of a draft (the clerk completes what no system knows); the draft comes back
/// normalized and validated. At most 200 fields per edit, 400 edited fields per draft, 2,048
/// bytes per value and a 64 KiB body.
#[utoipa::path(
    tag = "visits",
    params(
        DraftPath,
        ("Madoguchi-Actor" = String, Header, description = "Staff id of the clerk acting (required)", example = "clerk-0042"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the visit as this app last read it (\"v12\"): the change is made only if no one changed the visit since, else 412"),
    ),
    request_body(content = DraftEditDto, content_type = "application/json"),
    responses(
        (status = 200, description = "The draft with the change", body = DraftDto, headers(("ETag" = String, description = "The visit's revision (\"v12\"), for If-Match on the next change"))),
        (status = 400, description = "Malformed JSON, lgCode, visit id or Madoguchi-Actor", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 401, description = "No or invalid token", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope visits missing, or the client may not act for this municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such visit or draft", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "The visit is closed or was changed meanwhile", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 412, description = "If-Match names a revision of the visit that is no longer the current one: nothing changed; the problem's etag (and ETag) is the current one", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "A pointer that is not a field of the form, a value of another kind than the form's (a number for text, a code not in its list), or no change", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["visits"]))
)]
#[patch("/municipalities/{lgCode}/visits/{visitId}/drafts/{draftKey}")]
pub async fn patch_draft(
    lang: Lang,
    auth: Authorized<scopes::Visits>,
    state: web::Data<AppState>,
    path: web::Path<DraftPath>,
    body: ApiJson<DraftEditDto, { limits::VISIT_BODY_BYTES }>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let code = auth.municipality()?;
    let visit = load(&state, &auth, path.visit_id).await?;
    let catalog = catalog_of(&state, &visit).await?;
    let d = determine(&catalog, &visit.household);
    let spec = crate::visits::drafts::specs(&catalog, &visit.household, &d)
        .into_iter()
        .find(|s| s.key == path.draft_key)
        .ok_or_else(|| {
            ApiError::not_found(Text::new(
                format!(
                    "この来庁に下書き「{}」はありません。GET …/drafts の key を指定してください。",
                    path.draft_key
                ),
                format!(
                    "The visit has no draft {}; use a key from GET …/drafts.",
                    path.draft_key
                ),
            ))
        })?;
    let form = state
        .forms
        .form(&spec.form_id, Some(&spec.form_version))
        .map_err(|_| ApiError::internal("a procedure's form is not loaded"))?;
    let body = body.0;
    let mut errors = Vec::new();
    if let Some(e) = limits::too_many(
        "/set",
        body.set.len() + body.remove.len(),
        limits::MAX_EDITS_PER_REQUEST,
        Text::new("変更する項目", "fields to change"),
    ) {
        return Err(ApiError::validation(vec![e]));
    }
    for (pointer, value) in &body.set {
        if serde_json::to_vec(value).map_or(0, |b| b.len()) > limits::MAX_EDIT_VALUE_BYTES {
            let mut at = "/set".to_owned();
            crate::validation::push_pointer_token(&mut at, pointer);
            errors.push(FieldError::new(
                at,
                "value_too_long",
                Text::new(
                    format!(
                        "1項目の値は JSON で{}バイトまでです。",
                        limits::MAX_EDIT_VALUE_BYTES
                    ),
                    format!(
                        "One field's value is at most {} bytes of JSON.",
                        limits::MAX_EDIT_VALUE_BYTES
                    ),
                ),
            ));
        }
    }
    if body.set.is_empty() && body.remove.is_empty() {
        errors.push(FieldError::new(
            "/set",
            "empty_edit",
            Text::new(
                "変更する項目を set か remove に入れてください。",
                "Name at least one field in set or remove.",
            ),
        ));
    }
    let fields = body
        .set
        .iter()
        .map(|(p, v)| (p.clone(), Some(v.clone()), "set"))
        .chain(body.remove.iter().map(|p| (p.clone(), None, "remove")));
    let mut changes = Vec::new();
    for (pointer, value, part) in fields {
        if !pointer.starts_with('/') || form.plan.at(&pointer).is_none() {
            let mut at = format!("/{part}");
            crate::validation::push_pointer_token(&mut at, &pointer);
            errors.push(FieldError::new(
                at,
                "unknown_field",
                Text::new(
                    format!("「{pointer}」は様式 {} の項目ではありません。", form.title),
                    format!(
                        "{pointer} is not a field of {}@{}.",
                        spec.form_id, spec.form_version
                    ),
                ),
            ));
            continue;
        }
        changes.push((pointer, value));
    }
    if errors.is_empty() {
        errors.extend(shape_errors(
            &state, &catalog, &visit, &spec, form, &changes,
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let key = spec.key.clone();
    let edited = state
        .store
        .change_visit(
            &code,
            path.visit_id,
            Action::VisitUpdate,
            &auth.actor,
            if_match.revisions(),
            |v| {
                let edits = v.household.edits.entry(key).or_default();
                for (pointer, value) in changes {
                    edits.insert(
                        pointer,
                        value.map_or(
                            crate::visits::drafts::Edit::Remove,
                            crate::visits::drafts::Edit::Set,
                        ),
                    );
                }
                match limits::too_many(
                    "/set",
                    edits.len(),
                    limits::MAX_EDITS_PER_DRAFT,
                    Text::new(
                        "1つの下書きで手で直した項目",
                        "fields edited by hand in one draft",
                    ),
                ) {
                    Some(e) => Err(vec![e]),
                    None => Ok(()),
                }
            },
        )
        .await
        .map_err(store_conflict)?;
    let visit = changed(path.visit_id, edited)?;
    // Edits change no fact, so the determination read before the edit still holds.
    drafts_of(&state, &catalog, &visit, &d, lang)
        .into_iter()
        .find(|d| d.key == spec.key)
        .map(|d| {
            HttpResponse::Ok()
                .insert_header(preconditions::etag(visit.revision))
                .json(d)
        })
        .ok_or_else(|| ApiError::internal("the edited draft vanished"))
}

// ---------------------------------------------------------------- confirm, submit

fn frozen(id: Uuid) -> ApiError {
    ApiError::new(
        ProblemKind::VisitConfirmed,
        Text::new(
            format!("来庁 {id} は住民が確認・署名済みのため、回答や下書きは変更できません。"),
            format!("Visit {id} has been confirmed and signed; answers and drafts cannot change."),
        ),
    )
}

/// A signature written on the counter's pad.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = SignatureImage)]
pub struct SignatureImageDto {
    /// image/png or image/jpeg.
    #[schema(example = "image/png")]
    pub media_type: String,
    /// The image, base64 (at most 256 KiB decoded).
    pub data: String,
}

/// The resident's one confirmation of every draft.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = Confirm, example = json!({"method": "attestation"}))]
pub struct ConfirmDto {
    /// `signature` (with `signature`) or `attestation` (the clerk attests that the resident
    /// signed the printed summary).
    #[schema(example = "attestation")]
    pub method: String,
    pub signature: Option<SignatureImageDto>,
}

/// What was confirmed.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Confirmation)]
pub struct ConfirmationDto {
    pub visit_id: Uuid,
    pub confirmed_at: DateTime<Utc>,
    pub method: String,
    /// SHA-256 of the signature image.
    pub signature_sha256: Option<String>,
    /// The procedures confirmed (needed, and fileable by this applicant).
    pub procedures: Vec<String>,
    /// The drafts frozen with it.
    pub drafts: Vec<String>,
    pub prefilled_fields: usize,
    pub typed_fields: usize,
}

fn confirmation_dto(visit: &Visit) -> Option<ConfirmationDto> {
    let c = visit.household.confirmation.as_ref()?;
    let (method, sha) = match &c.signature {
        crate::visits::confirmation::Signature::Image { sha256, .. } => {
            ("signature", Some(sha256.clone()))
        }
        crate::visits::confirmation::Signature::Attestation { .. } => ("attestation", None),
    };
    Some(ConfirmationDto {
        visit_id: visit.id,
        confirmed_at: c.confirmed_at,
        method: method.to_owned(),
        signature_sha256: sha,
        procedures: c
            .procedures
            .iter()
            .map(|p| match &p.member {
                Some(m) => format!("{}@{m}", p.procedure_id),
                None => p.procedure_id.clone(),
            })
            .collect(),
        drafts: c.drafts.iter().map(|d| d.key.clone()).collect(),
        prefilled_fields: c.prefilled_fields(),
        typed_fields: c.typed_fields(),
    })
}

fn signature(
    body: ConfirmDto,
    staff: Option<&str>,
) -> Result<crate::visits::confirmation::Signature, FieldError> {
    use crate::visits::confirmation::Signature;
    match (body.method.as_str(), body.signature) {
        ("attestation", None) => Ok(Signature::Attestation {
            attested_by: staff.unwrap_or_default().to_owned(),
        }),
        ("signature", Some(image)) => Signature::from_upload(&image.media_type, image.data),
        _ => Err(FieldError::new(
            "/method",
            "invalid_confirmation",
            Text::new(
                "method は signature(署名画像を signature に)か attestation(署名した控えの確認、signature なし)です。",
                "method is signature (with the image in signature) or attestation (no signature).",
            ),
        )),
    }
}

/// The resident confirms every draft at once: a signature image, or the clerk's attestation
/// that the resident signed the printed summary. Refused while a question is open or a draft
/// has errors; after it, answers and drafts are frozen.
#[utoipa::path(
    tag = "visits",
    params(
        VisitPath,
        ("Madoguchi-Actor" = String, Header, description = "Staff id of the clerk acting (required)", example = "clerk-0042"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the visit as this app last read it (\"v12\"): the change is made only if no one changed the visit since, else 412"),
        ("Idempotency-Key" = Option<String>, Header, description = "A new UUID per request: a retry with the same key and body returns the first response"),
    ),
    request_body(content = ConfirmDto, content_type = "application/json"),
    responses(
        (status = 200, description = "The confirmation", body = ConfirmationDto, headers(("ETag" = String, description = "The visit's revision (\"v12\"), for If-Match on the next change"))),
        (status = 400, description = "Malformed JSON, lgCode, visit id or Madoguchi-Actor", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 401, description = "No or invalid token", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope visits missing, or the client may not act for this municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such visit in this municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "Closed, confirmed already, changed meanwhile, or Idempotency-Key in use", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 412, description = "If-Match names a revision of the visit that is no longer the current one: nothing changed; the problem's etag (and ETag) is the current one", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "A bad signature, open questions, or drafts with errors, all listed in errors[]", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["visits"]))
)]
#[post(
    "/municipalities/{lgCode}/visits/{visitId}/confirm",
    wrap = "Idempotent::requiring(Scope::Visits)"
)]
pub async fn confirm_visit(
    lang: Lang,
    auth: Authorized<scopes::Visits>,
    state: web::Data<AppState>,
    path: web::Path<VisitPath>,
    body: ApiJson<ConfirmDto>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let code = auth.municipality()?;
    let visit = load(&state, &auth, path.visit_id).await?;
    if visit.status == Status::Closed {
        return Err(closed(visit.id));
    }
    if visit.household.confirmation.is_some() {
        return Err(frozen(visit.id));
    }
    // The resident signs what this clerk's app showed: not a visit changed since.
    if !if_match.allows(visit.revision) {
        return Err(preconditions::stale(visit.id, visit.revision));
    }
    let signature = signature(body.0, auth.actor.staff.as_deref())
        .map_err(|e| ApiError::validation(vec![e]))?;
    let catalog = catalog_of(&state, &visit).await?;
    let d = determine(&catalog, &visit.household);
    let mut errors = Vec::new();
    let open: Vec<String> = d
        .questions
        .iter()
        .map(|q| question_id(&q.at, q.event))
        .collect();
    if !open.is_empty() {
        errors.push(FieldError::new(
            "/",
            "questions_open",
            Text::new(
                format!("まだ回答していない質問があります: {}", open.join(", ")),
                format!("Questions are still open: {}", open.join(", ")),
            ),
        ));
    }
    let drafts = drafts_of(&state, &catalog, &visit, &d, lang);
    for draft in drafts.iter().filter(|x| !x.valid) {
        let first = draft
            .errors
            .first()
            .map(|e| format!("{} {}", e.pointer, e.message))
            .unwrap_or_default();
        let mut at = "/drafts".to_owned();
        crate::validation::push_pointer_token(&mut at, &draft.key);
        errors.push(FieldError::new(
            at,
            "draft_invalid",
            Text::new(
                format!(
                    "下書き「{}」({})に{}件の誤りがあります。最初: {first}",
                    draft.key,
                    draft.form_title,
                    draft.errors.len()
                ),
                format!(
                    "Draft {} ({}) has {} error(s). First: {first}",
                    draft.key,
                    draft.form,
                    draft.errors.len()
                ),
            ),
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let now = crate::store::now();
    let keys_of = |x: &Decision| {
        drafts
            .iter()
            .find(|dr| {
                dr.procedure_id == x.procedure.id
                    && dr.event == x.event
                    && (dr.member.is_none() || dr.member == x.member)
            })
            .map(|dr| dr.key.clone())
    };
    use crate::visits::confirmation::{Confirmation, ConfirmedProcedure, FrozenDraft};
    let confirmation = Confirmation {
        confirmed_at: now,
        confirmed_by: auth.actor.staff.clone(),
        signature,
        procedures: d
            .decisions
            .iter()
            .filter(|x| x.outcome == Outcome::Needed)
            // One this applicant may not file today stays on the receipt as left to do.
            .filter(|x| x.filing.as_ref().is_none_or(|f| f.allowed == Some(true)))
            .map(|x| ConfirmedProcedure {
                procedure_id: x.procedure.id.clone(),
                area: x.procedure.area.clone(),
                event: x.event,
                member: x.member.clone(),
                referral: matches!(x.procedure.handling, Handling::Referral { .. }),
                draft: keys_of(x),
            })
            .collect(),
        drafts: drafts
            .into_iter()
            .map(|dr| FrozenDraft {
                key: dr.key,
                procedure_id: dr.procedure_id,
                form: dr.form,
                member: dr.member,
                document: dr.document,
                prefilled_fields: dr.prefilled_fields,
                typed_fields: dr.typed_fields,
            })
            .collect(),
    };
    let seen = visit.revision;
    let change = state
        .store
        .change_visit(
            &code,
            visit.id,
            Action::VisitConfirm,
            &auth.actor,
            if_match.revisions(),
            move |v| {
                if v.revision != seen || v.household.confirmation.is_some() {
                    return Err(vec![FieldError::new(
                        "/",
                        "visit_changed",
                        Text::new(
                            "来庁が同時に変更されました。",
                            "The visit changed meanwhile.",
                        ),
                    )]);
                }
                v.household.confirmation = Some(confirmation);
                Ok(())
            },
        )
        .await
        .map_err(store_conflict)?;
    match change {
        VisitChange::Done(v) => {
            state.visit_metrics.confirmed(&v);
            confirmation_dto(&v)
                .map(|c| {
                    HttpResponse::Ok()
                        .insert_header(preconditions::etag(v.revision))
                        .json(c)
                })
                .ok_or_else(|| ApiError::internal("the confirmation was not stored"))
        }
        // Changed between the read and the write, by a clerk who sent no If-Match.
        VisitChange::Refused(_) => Err(store_conflict(StoreError::Conflict)),
        other => Err(why_not(path.visit_id, other)),
    }
}

/// One application of a submitted visit.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Application)]
pub struct ApplicationDto {
    pub id: Uuid,
    pub visit_id: Uuid,
    pub procedure_id: String,
    pub area: String,
    pub member: Option<String>,
    /// `formId@version`, when filed on a form.
    pub form: Option<String>,
    /// The confirmed form document.
    #[schema(schema_with = super::forms::any_json)]
    pub document: Option<Value>,
    /// submitted, delivered, accepted, rejected, completed or referred.
    #[schema(example = "submitted")]
    pub state: String,
    /// Rejected: the core system's reason, for the clerk to tell the resident.
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The applications of a visit.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Applications)]
pub struct ApplicationsDto {
    pub visit_id: Uuid,
    pub items: Vec<ApplicationDto>,
}

fn applications_dto(
    visit: Uuid,
    list: Vec<crate::visits::confirmation::Application>,
) -> ApplicationsDto {
    ApplicationsDto {
        visit_id: visit,
        items: list
            .into_iter()
            .map(|a| ApplicationDto {
                id: a.id,
                visit_id: a.visit_id,
                procedure_id: a.procedure_id,
                area: a.area,
                member: a.member,
                form: a.form,
                document: a.document,
                state: a.state.as_str().to_owned(),
                reason: a.reason,
                created_at: a.created_at,
                updated_at: a.updated_at,
            })
            .collect(),
    }
}

/// Submit the confirmed visit: each confirmed procedure becomes an application (`submitted`,
/// or `referred` for a referral), in one transaction with the visit and its audit event.
#[utoipa::path(
    tag = "visits",
    params(
        VisitPath,
        ("Madoguchi-Actor" = String, Header, description = "Staff id of the clerk acting (required)", example = "clerk-0042"),
        ("Idempotency-Key" = Option<String>, Header, description = "A new UUID per request: a retry with the same key returns the first response"),
    ),
    responses(
        (status = 201, description = "The applications", body = ApplicationsDto),
        (status = 400, description = "Malformed lgCode, visit id or Madoguchi-Actor", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 401, description = "No or invalid token", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope visits missing, or the client may not act for this municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such visit in this municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "Not confirmed yet, submitted already, closed, changed meanwhile, or Idempotency-Key in use", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "The Idempotency-Key was used for another request", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["visits"]))
)]
#[post(
    "/municipalities/{lgCode}/visits/{visitId}/submit",
    wrap = "Idempotent::requiring(Scope::Visits)"
)]
pub async fn submit_visit(
    auth: Authorized<scopes::Visits>,
    state: web::Data<AppState>,
    path: web::Path<VisitPath>,
) -> Result<HttpResponse, ApiError> {
    let code = auth.municipality()?;
    require_staff(&auth)?;
    let id = path.visit_id;
    match state
        .store
        .submit_visit(&code, id, &auth.actor, crate::store::now(), &state.routes)
        .await
        .map_err(store_conflict)?
    {
        crate::store::Submission::Done(list) => {
            state.delivery_wake.notify_one();
            Ok(HttpResponse::Created().json(applications_dto(id, list)))
        }
        crate::store::Submission::NotFound => Err(visit_not_found(id)),
        crate::store::Submission::Closed => Err(closed(id)),
        crate::store::Submission::NotConfirmed => Err(ApiError::new(
            ProblemKind::VisitNotConfirmed,
            Text::new(
                format!(
                    "来庁 {id} はまだ住民が確認・署名していません。先に POST …/confirm を行ってください。"
                ),
                format!("Visit {id} has not been confirmed by the resident; POST …/confirm first."),
            ),
        )),
        crate::store::Submission::AlreadySubmitted(list) => Err(ApiError::new(
            ProblemKind::VisitSubmitted,
            Text::new(
                format!(
                    "来庁 {id} は既に申請済みです({}件)。GET …/applications で確認できます。",
                    list.len()
                ),
                format!(
                    "Visit {id} was submitted already ({} applications); see GET …/applications.",
                    list.len()
                ),
            ),
        )),
    }
}

/// The applications of a submitted visit, with their states.
#[utoipa::path(
    tag = "visits",
    params(
        VisitPath,
        ("Madoguchi-Actor" = String, Header, description = "Staff id of the clerk acting (required)", example = "clerk-0042"),
    ),
    responses(
        (status = 200, description = "The applications (none before submission)", body = ApplicationsDto),
        (status = 400, description = "Malformed lgCode, visit id or Madoguchi-Actor", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 401, description = "No or invalid token", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope visits missing, or the client may not act for this municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such visit in this municipality", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["visits"]))
)]
#[get("/municipalities/{lgCode}/visits/{visitId}/applications")]
pub async fn list_applications(
    auth: Authorized<scopes::Visits>,
    state: web::Data<AppState>,
    path: web::Path<VisitPath>,
) -> Result<HttpResponse, ApiError> {
    let visit = load(&state, &auth, path.visit_id).await?;
    let list = state.store.applications(visit.id).await?;
    Ok(HttpResponse::Ok().json(applications_dto(visit.id, list)))
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
