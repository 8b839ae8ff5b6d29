//! The catalogue checked by its own examples and at its thresholds, through the API:
//! - every procedure file's `examples` (households for which it must be needed, ruled out or
//!   left to named questions) are opened as visits and their determination compared;
//! - every age threshold of every rule is crossed the day before, of and after a person
//!   reaches it, with the age computed here by the law's own counting (a calendar age on the
//!   birthday, an age by 年齢計算ニ関スル法律 on the day before it, a 学年齢 by the April 2 –
//!   April 1 grade), including a 29 February birth.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Days, Months, NaiveDate};
use serde_json::{Value, json};

use crate::helpers::{Backend, conforms, spawn_app};
use crate::storage_test;
use crate::visits::{VISITS, get_as_clerk, open_and_determine};

fn catalog_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/catalog")
}

fn procedures() -> Vec<Value> {
    let mut files: Vec<_> = std::fs::read_dir(catalog_dir().join("procedures"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap())
        .collect()
}

/// The procedure's entry for a member (or the household) and which list it is in.
fn entry<'a>(d: &'a Value, procedure: &str, member: Option<&str>) -> Option<(&'a str, &'a Value)> {
    ["needed", "undecided", "ruledOut"].iter().find_map(|list| {
        d[*list]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["procedureId"] == procedure && x["member"].as_str() == member)
            .map(|x| (*list, x))
    })
}

fn outcome_list(expected: &str) -> &'static str {
    match expected {
        "needed" => "needed",
        "notNeeded" => "ruledOut",
        _ => "undecided",
    }
}

async fn every_procedure_example_holds(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.demo_token().await;
    let mut failures = Vec::new();
    let mut checked = 0;
    // Every draft of every example is what the contract says a draft is: the variant of its
    // form, its document of the form's draft shape.
    let drafts_schema = app.contract_schema("#/components/schemas/DraftList").await;
    let mut forms_drafted = BTreeSet::new();
    for p in procedures() {
        let id = p["id"].as_str().unwrap();
        for (i, example) in p["examples"].as_array().into_iter().flatten().enumerate() {
            let title = example["title"].as_str().unwrap();
            let at = format!("{id} example {i} «{title}»");
            let d = match open_and_determine(&app, &token, &example["visit"]).await {
                Ok(d) => d,
                Err(e) => {
                    failures.push(format!("{at}: the visit was refused: {e}"));
                    continue;
                }
            };
            let path = format!("{VISITS}/{}/drafts", d["visitId"].as_str().unwrap());
            let drafts = get_as_clerk(&app, &token, &path).await;
            if let Err(e) = conforms(&drafts_schema, &drafts) {
                failures.push(format!(
                    "{at}: the drafts are not what the contract says: {e}"
                ));
            }
            for draft in drafts["drafts"].as_array().into_iter().flatten() {
                forms_drafted.insert(draft["form"].as_str().unwrap().to_owned());
            }
            let outcomes: Vec<(Option<String>, String)> = match &example["expect"] {
                Value::String(s) => vec![(None, s.clone())],
                Value::Object(m) => m
                    .iter()
                    .map(|(k, v)| (Some(k.clone()), v.as_str().unwrap().to_owned()))
                    .collect(),
                other => panic!("{at}: expect {other}"),
            };
            for (member, expected) in outcomes {
                checked += 1;
                let who = member.clone().unwrap_or_default();
                let Some((list, x)) = entry(&d, id, member.as_deref()) else {
                    failures.push(format!("{at}: {id}@{who} is not in the determination"));
                    continue;
                };
                if list != outcome_list(&expected) {
                    failures.push(format!(
                        "{at}: {id}@{who} is {list}, expected {expected}: {}",
                        x["reason"]
                    ));
                    continue;
                }
                let reason = x["reason"].as_str().unwrap_or_default();
                for word in example["reason"][&who].as_array().into_iter().flatten() {
                    if !reason.contains(word.as_str().unwrap()) {
                        failures.push(format!(
                            "{at}: the reason of {id}@{who} lacks {word}: {reason}"
                        ));
                    }
                }
                if expected == "undecided" {
                    let asked: Vec<String> = x["questions"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|q| q.as_str().unwrap().to_owned())
                        .collect();
                    for q in example["asks"].as_array().into_iter().flatten() {
                        if !asked.iter().any(|a| a == q.as_str().unwrap()) {
                            failures.push(format!(
                                "{at}: {id}@{who} does not ask {q} (asks {asked:?})"
                            ));
                        }
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} outcomes differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked >= 100, "only {checked} example outcomes");
    let forms = crate::helpers::built_in_forms();
    let all: BTreeSet<String> = forms
        .forms()
        .iter()
        .map(|f| format!("{}@{}", f.id, f.version))
        .collect();
    assert_eq!(forms_drafted, all, "forms never drafted by an example");
    eprintln!("{checked} example outcomes checked");
}
storage_test!(every_procedure_example_holds);

// ------------------------------------------------------------------ thresholds

const AGE_FACTS: [&str; 3] = ["age", "ageByLaw", "schoolYearAge"];

/// One comparison of an age fact with whole numbers, as a rule writes it.
#[derive(Debug, Clone)]
struct Comparison {
    fact: String,
    op: String,
    /// The operands: `None` for the fact, a number for a literal.
    operands: Vec<Option<i64>>,
    /// Under an `or`: another operand may still make the procedure needed, so a failed
    /// comparison leaves it undecided rather than ruled out.
    in_or: bool,
}

impl Comparison {
    fn holds(&self, age: i64) -> bool {
        let vals: Vec<i64> = self.operands.iter().map(|o| o.unwrap_or(age)).collect();
        vals.windows(2).all(|w| match self.op.as_str() {
            "<" => w[0] < w[1],
            "<=" => w[0] <= w[1],
            ">" => w[0] > w[1],
            ">=" => w[0] >= w[1],
            "==" | "===" => w[0] == w[1],
            "!=" | "!==" => w[0] != w[1],
            op => panic!("operator {op}"),
        })
    }

    /// The ages at which the comparison changes: it differs at T − 1 and T.
    fn thresholds(&self) -> Vec<i64> {
        (0..=120)
            .filter(|t| self.holds(t - 1) != self.holds(*t))
            .collect()
    }
}

fn parameters() -> BTreeMap<String, i64> {
    let file: Value = serde_json::from_str(
        &std::fs::read_to_string(catalog_dir().join("parameters.json")).unwrap(),
    )
    .unwrap();
    file["parameters"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v["default"].as_i64().unwrap()))
        .collect()
}

fn comparisons(
    rule: &Value,
    params: &BTreeMap<String, i64>,
    in_or: bool,
    out: &mut Vec<Comparison>,
) {
    let Value::Object(map) = rule else {
        if let Value::Array(items) = rule {
            items
                .iter()
                .for_each(|r| comparisons(r, params, in_or, out));
        }
        return;
    };
    for (op, args) in map {
        if ["<", "<=", ">", ">=", "==", "!=", "===", "!=="].contains(&op.as_str())
            && let Some(items) = args.as_array()
        {
            let fact = items.iter().find_map(|x| {
                let name = x["var"].as_str()?;
                let bare = name.strip_prefix("member.").unwrap_or(name);
                AGE_FACTS.contains(&bare).then(|| bare.to_owned())
            });
            let operands: Option<Vec<Option<i64>>> = items
                .iter()
                .map(|x| {
                    if x.get("var").is_some() {
                        Some(None)
                    } else if let Some(name) = x["param"].as_str() {
                        params.get(name).copied().map(Some)
                    } else {
                        x.as_i64().map(Some)
                    }
                })
                .collect();
            if let (Some(fact), Some(operands)) = (fact, operands) {
                out.push(Comparison {
                    fact,
                    op: op.clone(),
                    operands,
                    in_or,
                });
                continue;
            }
        }
        comparisons(args, params, in_or || op == "or", out);
    }
}

fn years_before(d: NaiveDate, years: i64) -> NaiveDate {
    d.checked_sub_months(Months::new(12 * years as u32))
        .unwrap()
}

/// The birth dates and event dates that put a person the day before, on and the day after the
/// day the law makes them reach `t`, with the age they then have, counted here.
fn crossings(fact: &str, t: i64) -> Vec<(String, NaiveDate, NaiveDate, i64)> {
    let e = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    let day = Days::new(1);
    let mut out = Vec::new();
    match fact {
        // A calendar age is reached on the birthday; an age by law at the end of the day
        // before it, so on that day it is already reached.
        "age" | "ageByLaw" => {
            let shift = u64::from(fact == "ageByLaw");
            for (label, reach, age) in [
                ("the day before", e + day, t - 1),
                ("the day", e, t),
                ("the day after", e - day, t),
            ] {
                let birth = years_before(reach + Days::new(shift), t);
                out.push((
                    format!("{label} reaching {t} (born {birth})"),
                    birth,
                    e,
                    age,
                ));
            }
            // Born on 29 February: by law the age is reached at the end of 28 February in a
            // year without one; the calendar age on 1 March.
            if t % 4 != 0 {
                let year = (2026 - t as i32..)
                    .find(|y| {
                        NaiveDate::from_ymd_opt(*y, 2, 29).is_some()
                            && NaiveDate::from_ymd_opt(*y + t as i32, 2, 29).is_none()
                    })
                    .unwrap();
                let birth = NaiveDate::from_ymd_opt(year, 2, 29).unwrap();
                let y = year + t as i32;
                let reach = if fact == "ageByLaw" {
                    NaiveDate::from_ymd_opt(y, 2, 28).unwrap()
                } else {
                    NaiveDate::from_ymd_opt(y, 3, 1).unwrap()
                };
                for (label, on, age) in [
                    ("the day before", reach - day, t - 1),
                    ("the day", reach, t),
                    ("the day after", reach + day, t),
                ] {
                    out.push((
                        format!("born 29 February {year}, {label} reaching {t} ({on})"),
                        birth,
                        on,
                        age,
                    ));
                }
            }
        }
        // A grade runs from those born on 2 April to those born on 1 April (who reach their
        // age at the end of 31 March): 学年齢 is the age reached by 1 April of the school year.
        "schoolYearAge" => {
            let y = e.year() - t as i32;
            for (label, birth, age) in [
                (
                    "born 2 April",
                    NaiveDate::from_ymd_opt(y, 4, 2).unwrap(),
                    t - 1,
                ),
                ("born 1 April", NaiveDate::from_ymd_opt(y, 4, 1).unwrap(), t),
                (
                    "born 31 March",
                    NaiveDate::from_ymd_opt(y, 3, 31).unwrap(),
                    t,
                ),
            ] {
                out.push((
                    format!("{label} {y} (school-year age {age})"),
                    birth,
                    e,
                    age,
                ));
            }
        }
        other => panic!("{other}"),
    }
    out
}

/// A visit with the person (m1) and, for rules about the others of an event, a subject m2.
fn visit(kind: &str, on: NaiveDate, birth: NaiveDate, m1_is_subject: bool) -> Value {
    let mut members = vec![
        json!({"id": "m1", "familyName": "境", "givenName": "界", "relationship": "世帯主", "dateOfBirth": birth.to_string()}),
    ];
    let subjects = if m1_is_subject {
        json!(["m1"])
    } else {
        members.push(json!({"id": "m2", "familyName": "境", "givenName": "二", "relationship": "妻", "dateOfBirth": "1960-06-15"}));
        json!(["m2"])
    };
    json!({
        "events": [{"kind": kind, "date": on.to_string(), "subjects": subjects}],
        "members": members,
        "applicant": {"name": "窓口 太郎"}
    })
}

/// The age fact a decision names, with its value.
fn decided_by(x: &Value, fact: &str) -> Option<i64> {
    x["decidedBy"]
        .as_array()?
        .iter()
        .find(|f| f["fact"] == format!("member.{fact}") && f["member"] == "m1")
        .and_then(|f| f["value"].as_i64())
}

async fn every_age_threshold_falls_on_the_day_the_law_counts(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.demo_token().await;
    let params = parameters();
    let mut failures = Vec::new();
    let mut crossed = 0;
    for p in procedures() {
        let id = p["id"].as_str().unwrap();
        let kind = p["lifeEvents"][0].as_str().unwrap();
        let member = (p["appliesTo"] == "member").then_some(());
        let mut found = Vec::new();
        comparisons(&p["rule"], &params, false, &mut found);
        for c in &found {
            for t in c.thresholds() {
                for (label, birth, on, age) in crossings(&c.fact, t) {
                    let at = format!("{id}: {} {} at {label}", c.fact, c.op);
                    let holds = c.holds(age);
                    // The person as the event's subject, then as another member of it: the
                    // comparison must be reached in one of them.
                    let mut reached = false;
                    for subject in [true, false] {
                        let d = match open_and_determine(
                            &app,
                            &token,
                            &visit(kind, on, birth, subject),
                        )
                        .await
                        {
                            Ok(d) => d,
                            Err(e) => {
                                failures.push(format!("{at}: refused: {e}"));
                                break;
                            }
                        };
                        // For a member procedure, the person's own decision, or the subject's
                        // when the rule reads the person as one of the others (a child of a
                        // divorcing parent).
                        let candidates: Vec<Option<&str>> = match member {
                            None => vec![None],
                            Some(_) => vec![Some("m1"), Some("m2")],
                        };
                        let Some((list, x)) = candidates
                            .iter()
                            .filter_map(|m| entry(&d, id, *m))
                            .max_by_key(|(list, x)| {
                                (
                                    decided_by(x, &c.fact).is_some(),
                                    *list != "ruledOut",
                                    x["member"] != "m2",
                                )
                            })
                        else {
                            continue;
                        };
                        let by_age = decided_by(x, &c.fact);
                        if let Some(v) = by_age
                            && v != age
                        {
                            failures.push(format!("{at}: {} is {v}, the law counts {age}", c.fact));
                        }
                        let ruled_out_by_age = list == "ruledOut" && by_age.is_some();
                        if holds && ruled_out_by_age {
                            failures.push(format!(
                                "{at}: ruled out at {age}, which the rule accepts: {}",
                                x["reason"]
                            ));
                        }
                        reached = match (holds, c.in_or) {
                            (true, _) => list != "ruledOut" || by_age.is_some(),
                            (false, false) => ruled_out_by_age,
                            // Under an `or` the failed comparison must not make it needed.
                            (false, true) => {
                                if list == "needed" && by_age.is_some() {
                                    failures.push(format!(
                                        "{at}: needed at {age}, which the comparison refuses"
                                    ));
                                }
                                list != "ruledOut" || by_age.is_some()
                            }
                        };
                        if reached {
                            break;
                        }
                    }
                    if !reached {
                        failures.push(format!(
                            "{at}: no visit reached the comparison at {age} ({})",
                            if holds {
                                "always ruled out by another fact"
                            } else {
                                "never ruled out by the age"
                            }
                        ));
                    }
                    crossed += 1;
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {crossed} crossings:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(crossed >= 60, "only {crossed} crossings");
    eprintln!("{crossed} crossings of age thresholds checked");
}
storage_test!(every_age_threshold_falls_on_the_day_the_law_counts);
