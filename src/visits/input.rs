//! What a counter app sends to open a visit or to answer questions, checked against the
//! catalogue's vocabulary and facts dictionary. Every problem is reported at once, with a
//! JSON pointer and a message a clerk can act on.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use super::limits::{MAX_ANSWERS, MAX_EVENTS, MAX_MEMBERS, MAX_SUBJECTS, too_many};
use super::model::{Applicant, Facts, Household, LifeEvent, Member, Recorded, Source};
use crate::catalog::{Catalog, FactKind, FactType};
use crate::forms::EraTable;
use crate::forms::normalize::date;
use crate::i18n::Text;
use crate::validation::{FieldError, is_hidden_or_control};

pub struct NewEvent {
    pub kind: String,
    pub date: String,
    pub subjects: Vec<String>,
    pub facts: Vec<(String, Value)>,
}

pub struct NewMember {
    pub id: String,
    /// Recorded facts by name (`familyName`, `dateOfBirth`, `insurance` …).
    pub facts: Vec<(String, Value)>,
}

pub struct NewApplicant {
    pub member: Option<String>,
    pub name: Option<String>,
}

/// An answer (or a correction of a recorded fact) for one holder.
pub struct NewAnswer {
    /// `member.hasMyNumberCard`, `event.from`, `household.ownsMoped` …
    pub fact: String,
    pub member: Option<String>,
    pub event: Option<usize>,
    pub value: Value,
}

pub struct Context<'a> {
    pub catalog: &'a Catalog,
    pub eras: &'a EraTable,
    pub now: DateTime<Utc>,
}

fn err(pointer: String, code: &'static str, ja: String, en: String) -> FieldError {
    FieldError::new(pointer, code, Text::new(ja, en))
}

/// Reads an exact date: ISO or 和暦 in any common writing (`令和8年12月1日`, `R8.12.1`).
pub fn exact_date(eras: &EraTable, text: &str) -> Result<NaiveDate, Text> {
    let read = date::read(eras, text).map_err(|i| i.message)?;
    date::check(eras, text, &read).map_err(|i| i.message)?;
    match (read.year, read.month, read.day) {
        (Some(y), Some(m), Some(d)) => NaiveDate::from_ymd_opt(y, m, d).ok_or_else(|| {
            Text::new(
                format!("「{text}」は存在しない日付です。"),
                format!("\"{text}\" is not a day of the calendar."),
            )
        }),
        _ => Err(Text::new(
            format!("「{text}」: 年月日まで入れてください(例: 2026-12-01、令和8年12月1日)。"),
            format!("\"{text}\": give the year, month and day (e.g. 2026-12-01)."),
        )),
    }
}

/// Checks one fact's value against the dictionary; a date is read (和暦 too) and stored ISO.
fn fact_value(
    ctx: &Context<'_>,
    key: &str,
    value: &Value,
    pointer: &str,
) -> Result<Value, FieldError> {
    let Some(def) = ctx.catalog.facts.lookup(key) else {
        return Err(err(
            pointer.to_owned(),
            "unknown_fact",
            format!(
                "「{key}」という事項はありません(catalog/facts.json にある事項を指定してください)。"
            ),
            format!("There is no fact {key} (see catalog/facts.json)."),
        ));
    };
    if def.ty == FactType::Date {
        let Some(text) = value.as_str() else {
            return Err(err(
                pointer.to_owned(),
                "invalid_date",
                format!("{}は日付の文字列で入れてください。", def.label.ja),
                format!("{} must be a date string.", def.label.en),
            ));
        };
        return exact_date(ctx.eras, text)
            .map(|d| Value::String(d.to_string()))
            .map_err(|m| FieldError::new(pointer.to_owned(), "invalid_date", m));
    }
    if let Value::String(s) = value
        && (s.is_empty() || s.chars().any(is_hidden_or_control) || s.chars().count() > 64)
    {
        return Err(err(
            pointer.to_owned(),
            "invalid_text",
            format!(
                "{}は1〜64文字で、制御文字・ゼロ幅文字を含めずに入れてください。",
                def.label.ja
            ),
            format!(
                "{}: 1 to 64 characters without control or zero-width characters.",
                def.label.en
            ),
        ));
    }
    if let (Some(kind), Value::String(s)) = (def.normalizer, value) {
        return crate::forms::normalize::field(kind, s, ctx.eras)
            .map(|outcome| outcome.value)
            .map_err(|issue| {
                FieldError::new(
                    pointer.to_owned(),
                    issue.code,
                    Text::new(
                        format!("{}: {}", def.label.ja, issue.message.ja),
                        format!("{}: {}", def.label.en, issue.message.en),
                    ),
                )
            });
    }
    if def.accepts(value) {
        return Ok(value.clone());
    }
    let allowed: Vec<String> = def
        .r#enum
        .as_ref()
        .map(|e| e.iter().map(|(k, l)| format!("{k}({})", l.ja)).collect())
        .or_else(|| def.values.clone())
        .unwrap_or_default();
    let kind = match def.ty {
        FactType::Boolean => ("true か false", "true or false"),
        FactType::Integer => ("整数", "an integer"),
        FactType::Array => ("値の配列", "an array of values"),
        _ => ("文字列", "a string"),
    };
    Err(err(
        pointer.to_owned(),
        "invalid_fact_value",
        if allowed.is_empty() {
            format!("{}は{}で入れてください。", def.label.ja, kind.0)
        } else {
            format!("{}は次のいずれかです: {}", def.label.ja, allowed.join("、"))
        },
        if allowed.is_empty() {
            format!("{} must be {}.", def.label.en, kind.1)
        } else {
            format!("{} must be one of: {}", def.label.en, allowed.join(", "))
        },
    ))
}

fn record(value: Value, source: Source, now: DateTime<Utc>) -> Recorded {
    Recorded {
        value,
        source,
        recorded_at: now,
    }
}

/// A counter's name (窓口: `3番`, `おくやみコーナー`) as recorded: full-width letters and digits
/// folded to half-width (`３番` and `3番` are one counter), trimmed; 1 to 16 characters without
/// control or zero-width characters.
pub fn counter_name(typed: &str) -> Result<String, FieldError> {
    let name: String = typed
        .chars()
        .map(crate::forms::normalize::width::fold_char)
        .collect::<String>()
        .trim()
        .to_owned();
    if name.is_empty()
        || name.chars().count() > 16
        || name.chars().any(crate::validation::is_hidden_or_control)
    {
        return Err(FieldError::new(
            "/counter",
            "invalid_counter",
            Text::new(
                "窓口名は1〜16文字で、制御文字を含めずに入れてください(例: 3番)。",
                "counter: 1 to 16 characters without control characters (e.g. 3番).",
            ),
        ));
    }
    Ok(name)
}

/// The household of a visit being opened with `ticket` (受付番号), or every problem found:
/// the ticket and the member ids first, then what [`household`] finds.
pub fn opening(
    ctx: &Context<'_>,
    ticket: Option<&str>,
    events: Vec<NewEvent>,
    members: Vec<NewMember>,
    applicant: NewApplicant,
    answers: Vec<NewAnswer>,
) -> Result<Household, Vec<FieldError>> {
    let mut errors: Vec<FieldError> = Vec::new();
    if let Some(t) = ticket
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
    for (i, m) in members.iter().enumerate() {
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
    match household(ctx, events, members, applicant, answers) {
        Ok(h) if errors.is_empty() => Ok(h),
        Ok(_) => Err(errors),
        Err(mut e) => {
            errors.append(&mut e);
            Err(errors)
        }
    }
}

/// The household of a new visit, or every problem found.
pub fn household(
    ctx: &Context<'_>,
    events: Vec<NewEvent>,
    members: Vec<NewMember>,
    applicant: NewApplicant,
    answers: Vec<NewAnswer>,
) -> Result<Household, Vec<FieldError>> {
    // Bounds first: a visit over them is refused before any of it is read.
    let bounds: Vec<FieldError> = [
        too_many(
            "/members",
            members.len(),
            MAX_MEMBERS,
            Text::new("世帯員", "members"),
        ),
        too_many(
            "/events",
            events.len(),
            MAX_EVENTS,
            Text::new("ライフイベント", "life events"),
        ),
        too_many(
            "/answers",
            answers.len(),
            MAX_ANSWERS,
            Text::new("回答", "answers"),
        ),
    ]
    .into_iter()
    .flatten()
    .chain(events.iter().enumerate().filter_map(|(i, e)| {
        too_many(
            &format!("/events/{i}/subjects"),
            e.subjects.len(),
            MAX_SUBJECTS,
            Text::new("対象の世帯員", "subjects"),
        )
    }))
    .collect();
    if !bounds.is_empty() {
        return Err(bounds);
    }
    let mut errors = Vec::new();
    let mut out_members = Vec::new();
    let mut ids = BTreeSet::new();
    if members.is_empty() {
        errors.push(err(
            "/members".into(),
            "no_members",
            "世帯員を1人以上入れてください。".into(),
            "Give at least one household member.".into(),
        ));
    }
    for (i, m) in members.into_iter().enumerate() {
        let at = format!("/members/{i}");
        if !ids.insert(m.id.clone()) {
            errors.push(err(
                format!("{at}/id"),
                "duplicate_member",
                format!("世帯員の id「{}」が重複しています。", m.id),
                format!("The member id {} is used twice.", m.id),
            ));
        }
        let mut facts = Facts::new();
        for (name, value) in m.facts {
            match fact_value(
                ctx,
                &format!("member.{name}"),
                &value,
                &format!("{at}/{name}"),
            ) {
                Ok(v) => {
                    facts.insert(name, record(v, Source::Clerk, ctx.now));
                }
                Err(e) => errors.push(e),
            }
        }
        if !["familyName", "fullName"]
            .iter()
            .any(|n| facts.contains_key(*n))
        {
            errors.push(err(
                format!("{at}/familyName"),
                "name_missing",
                "世帯員の氏(外国人住民は fullName)を入れてください。".into(),
                "Give the member's family name (fullName for a foreign resident).".into(),
            ));
        }
        out_members.push(Member { id: m.id, facts });
    }
    let mut out_events = Vec::new();
    if events.is_empty() {
        errors.push(err(
            "/events".into(),
            "no_events",
            "ライフイベントを1つ以上入れてください。".into(),
            "Give at least one life event.".into(),
        ));
    }
    for (i, e) in events.into_iter().enumerate() {
        let at = format!("/events/{i}");
        let Some(def) = ctx.catalog.life_event(&e.kind) else {
            let known: Vec<String> = ctx
                .catalog
                .vocabulary
                .life_events
                .iter()
                .map(|(k, d)| format!("{k}({})", d.ja))
                .collect();
            errors.push(err(
                format!("{at}/kind"),
                "unknown_life_event",
                format!(
                    "ライフイベント「{}」はありません。ある値: {}",
                    e.kind,
                    known.join("、")
                ),
                format!(
                    "There is no life event {}. Known: {}",
                    e.kind,
                    known.join(", ")
                ),
            ));
            continue;
        };
        let date = match exact_date(ctx.eras, &e.date) {
            Ok(d) => Some(d),
            Err(m) => {
                errors.push(FieldError::new(format!("{at}/date"), "invalid_date", m));
                None
            }
        };
        for (j, s) in e.subjects.iter().enumerate() {
            if !ids.contains(s) {
                errors.push(err(
                    format!("{at}/subjects/{j}"),
                    "unknown_member",
                    format!("世帯員「{s}」はいません。members の id を指定してください。"),
                    format!("There is no member {s}; use an id from members."),
                ));
            }
        }
        if matches!(e.kind.as_str(), "death" | "birth") && e.subjects.len() != 1 {
            errors.push(err(
                format!("{at}/subjects"),
                "subject_required",
                format!(
                    "{}には本人(亡くなった方・生まれた子)の世帯員 id を1つ指定してください。",
                    def.ja
                ),
                format!("A {} names exactly one member it concerns.", def.en),
            ));
        }
        let mut facts = Facts::new();
        for (name, value) in e.facts {
            let pointer = format!("{at}/facts/{name}");
            if !def.attributes.contains(&name) {
                errors.push(err(
                    pointer,
                    "unknown_event_fact",
                    format!(
                        "{}に「{name}」はありません。指定できる事項: {}",
                        def.ja,
                        def.attributes.join(", ")
                    ),
                    format!(
                        "A {} has no {name}. It takes: {}",
                        def.en,
                        def.attributes.join(", ")
                    ),
                ));
                continue;
            }
            match fact_value(ctx, &format!("event.{name}"), &value, &pointer) {
                Ok(v) => {
                    facts.insert(name, record(v, Source::Clerk, ctx.now));
                }
                Err(e) => errors.push(e),
            }
        }
        if let Some(date) = date {
            out_events.push(LifeEvent {
                kind: e.kind,
                date,
                subjects: e.subjects,
                facts,
            });
        }
    }
    let mut out_applicant = Applicant {
        member: None,
        facts: Facts::new(),
    };
    match (applicant.member, applicant.name) {
        (Some(m), _) if !ids.contains(&m) => errors.push(err(
            "/applicant/member".into(),
            "unknown_member",
            format!("世帯員「{m}」はいません。members の id を指定してください。"),
            format!("There is no member {m}; use an id from members."),
        )),
        (Some(m), _) => out_applicant.member = Some(m),
        (None, Some(name)) => match fact_value(ctx, "applicant.name", &Value::String(name), "/applicant/name") {
            Ok(v) => {
                out_applicant.facts.insert("name".into(), record(v, Source::Clerk, ctx.now));
            }
            Err(e) => errors.push(e),
        },
        (None, None) => errors.push(err(
            "/applicant".into(),
            "applicant_missing",
            "届出人を、世帯員の id(member)か、世帯外の方の氏名(name)で入れてください。".into(),
            "Name the applicant: a member id (member) or the name of someone outside the household (name).".into(),
        )),
    }
    let mut household = Household {
        events: out_events,
        members: out_members,
        applicant: out_applicant,
        facts: Facts::new(),
        edits: Default::default(),
        confirmation: None,
        submitted_at: None,
    };
    if let Err(mut e) = apply_answers(ctx, &mut household, answers, "/answers") {
        errors.append(&mut e);
    }
    if errors.is_empty() {
        Ok(household)
    } else {
        Err(errors)
    }
}

/// Records answers (and corrections of recorded facts); all or none.
pub fn apply_answers(
    ctx: &Context<'_>,
    household: &mut Household,
    answers: Vec<NewAnswer>,
    base: &str,
) -> Result<(), Vec<FieldError>> {
    if let Some(e) = too_many(
        base,
        answers.len(),
        MAX_ANSWERS,
        Text::new("回答", "answers"),
    ) {
        return Err(vec![e]);
    }
    let mut errors = Vec::new();
    let mut changes = Vec::new();
    for (i, a) in answers.into_iter().enumerate() {
        let at = format!("{base}/{i}");
        let Some((holder, name)) = a.fact.split_once('.') else {
            errors.push(err(
                format!("{at}/fact"),
                "unknown_fact",
                format!(
                    "「{}」は事項名ではありません(例: member.hasMyNumberCard)。",
                    a.fact
                ),
                format!(
                    "{} is not a fact name (e.g. member.hasMyNumberCard).",
                    a.fact
                ),
            ));
            continue;
        };
        match ctx.catalog.facts.lookup(&a.fact) {
            None => {
                errors.push(err(
                    format!("{at}/fact"),
                    "unknown_fact",
                    format!("「{}」という事項はありません。", a.fact),
                    format!("There is no fact {}.", a.fact),
                ));
                continue;
            }
            Some(def) if def.kind == FactKind::Derived => {
                errors.push(err(
                    format!("{at}/fact"),
                    "derived_fact",
                    format!(
                        "「{}」はゲートウェイが計算する事項のため、入力できません。",
                        def.label.ja
                    ),
                    format!(
                        "{} is computed by the gateway and cannot be entered.",
                        def.label.en
                    ),
                ));
                continue;
            }
            Some(_) => {}
        }
        let value = match fact_value(ctx, &a.fact, &a.value, &format!("{at}/value")) {
            Ok(v) => v,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let source = match ctx.catalog.facts.lookup(&a.fact).map(|d| d.kind) {
            Some(FactKind::Answer) => Source::Answer,
            _ => Source::Clerk,
        };
        match holder {
            "member" => match a.member.as_deref() {
                Some(m) if household.member(m).is_some() => {
                    changes.push((Target::Member(m.to_owned()), name.to_owned(), value, source))
                }
                Some(m) => errors.push(err(
                    format!("{at}/member"),
                    "unknown_member",
                    format!("世帯員「{m}」はいません。"),
                    format!("There is no member {m}."),
                )),
                None => errors.push(err(
                    format!("{at}/member"),
                    "member_required",
                    "世帯員の事項には member(世帯員の id)を指定してください。".into(),
                    "A member fact needs member (the member's id).".into(),
                )),
            },
            "event" => {
                let index = a.event.unwrap_or(0);
                match household.events.get(index) {
                    Some(e)
                        if ctx
                            .catalog
                            .life_event(&e.kind)
                            .is_some_and(|d| d.attributes.iter().any(|x| x == name)) =>
                    {
                        changes.push((Target::Event(index), name.to_owned(), value, source))
                    }
                    Some(e) => errors.push(err(
                        format!("{at}/fact"),
                        "unknown_event_fact",
                        format!("このライフイベント({})に「{name}」はありません。", e.kind),
                        format!("The life event {} has no {name}.", e.kind),
                    )),
                    None => errors.push(err(
                        format!("{at}/event"),
                        "unknown_event",
                        format!("ライフイベントの番号 {index} はありません。"),
                        format!("There is no life event {index}."),
                    )),
                }
            }
            "household" => changes.push((Target::Household, name.to_owned(), value, source)),
            _ => changes.push((Target::Applicant, name.to_owned(), value, source)),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    for (target, name, value, source) in changes {
        let facts = match target {
            Target::Member(id) => match household.members.iter_mut().find(|m| m.id == id) {
                Some(m) => &mut m.facts,
                None => continue,
            },
            Target::Event(i) => match household.events.get_mut(i) {
                Some(e) => &mut e.facts,
                None => continue,
            },
            Target::Household => &mut household.facts,
            Target::Applicant => &mut household.applicant.facts,
        };
        facts.insert(name, record(value, source, ctx.now));
    }
    Ok(())
}

enum Target {
    Member(String),
    Event(usize),
    Household,
    Applicant,
}

/// What a verified card session tells about a member, as facts: the name (family and given
/// when the card separates them, else the full name), date of birth and sex, and that the
/// member has a My Number card. The 個人番号 is never a fact of the visit.
pub fn card_facts(verified: &crate::card::session::Verified) -> Vec<(String, Value)> {
    let mut facts = vec![("hasMyNumberCard".to_owned(), Value::Bool(true))];
    let iso = |yyyymmdd: &str| {
        crate::card::kenhojo::card_date(yyyymmdd).map(|d| Value::String(d.to_string()))
    };
    if let Some(b) = &verified.basic_info {
        let standard = crate::card::standard::basic_info(b, &[]);
        match (standard.family_name, standard.given_name) {
            (Some(family), Some(given)) => {
                facts.push(("familyName".to_owned(), Value::String(family)));
                facts.push(("givenName".to_owned(), Value::String(given)));
            }
            _ => facts.push(("fullName".to_owned(), Value::String(standard.name))),
        }
        facts.extend(iso(&b.date_of_birth).map(|d| ("dateOfBirth".to_owned(), d)));
        facts.push(("sex".to_owned(), Value::String(b.sex.clone())));
    } else if let Some(f) = &verified.card_face {
        facts.extend(iso(&f.date_of_birth).map(|d| ("dateOfBirth".to_owned(), d)));
        facts.push(("sex".to_owned(), Value::String(f.sex.clone())));
    }
    facts
}

/// A resident's facts as the directory holds them: the name split at its full-width space,
/// the kana, the date of birth (when the registry knows the day), sex, 続柄, nationality.
pub fn registry_facts(r: &crate::residents::Resident) -> Vec<(String, Value)> {
    let mut facts = Vec::new();
    let split = |s: &str| {
        s.split_once('\u{3000}')
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
    };
    match split(&r.name) {
        Some((family, given)) => {
            facts.push(("familyName".to_owned(), Value::String(family)));
            facts.push(("givenName".to_owned(), Value::String(given)));
        }
        None => facts.push(("fullName".to_owned(), Value::String(r.name.clone()))),
    }
    if let Some((family, given)) = split(&r.name_kana) {
        facts.push(("familyNameKana".to_owned(), Value::String(family)));
        facts.push(("givenNameKana".to_owned(), Value::String(given)));
    }
    if let Some(day) = r.date_of_birth.day() {
        facts.push(("dateOfBirth".to_owned(), Value::String(day.to_string())));
    }
    facts.push(("sex".to_owned(), Value::String(r.sex.clone())));
    facts.push((
        "relationship".to_owned(),
        Value::String(r.relationship.clone()),
    ));
    if let Some(n) = &r.nationality {
        facts.push(("nationality".to_owned(), Value::String(n.clone())));
    }
    facts
}

/// Records facts from a source outside the clerk (the card, which is signed; the registry)
/// for a member, over what was typed. Each value is checked against the dictionary.
pub fn apply_facts(
    ctx: &Context<'_>,
    household: &mut Household,
    member: &str,
    facts: Vec<(String, Value)>,
    source: Source,
) -> Result<(), Vec<FieldError>> {
    let mut checked = Vec::new();
    let mut errors = Vec::new();
    for (name, value) in facts {
        match fact_value(ctx, &format!("member.{name}"), &value, "/member") {
            Ok(v) => checked.push((name, v)),
            Err(e) => errors.push(e),
        }
    }
    let Some(m) = household.members.iter_mut().find(|m| m.id == member) else {
        errors.push(err(
            "/member".to_owned(),
            "unknown_member",
            format!("世帯員「{member}」はいません。"),
            format!("There is no member {member}."),
        ));
        return Err(errors);
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    for (name, value) in checked {
        m.facts.insert(name, record(value, source, ctx.now));
    }
    Ok(())
}
