//! Eligibility rules: JSON Logic (<https://jsonlogic.com>) read into a checked tree at start-up
//! and evaluated three-valued (Kleene logic).
//!
//! Why evaluated here and not by a JSON Logic crate: a rule must say *undecided* when a fact it
//! needs is not known yet, never read a missing fact as false, and it must name the facts that
//! decided it (for the reason) or that can still decide it (for the questions). Neither the
//! JSON Logic crates (datalogic-rs, jsonlogic-rs) nor the CEL crates (cel, rscel) evaluate with
//! unknowns or report which inputs decided a result. When every fact is known, the result here
//! is the one datalogic-rs gives; a property test compares the two on generated rules.
//!
//! Only the operators the catalogue needs are accepted; any other stops start-up naming it.
//! One extension to JSON Logic: inside `some`/`all`/`none`, a bare name (`age`) is the member
//! iterated over, as in JSON Logic, and a qualified one (`event.from`, `member.age`) still
//! reaches the event, the household or the member the procedure is decided for.

use std::collections::BTreeSet;
use std::fmt;

use serde_json::Value;

/// Whose fact a rule reads.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Holder {
    /// The life event being considered.
    Event,
    /// The household as a whole.
    Household,
    /// The person filing (届出人): a member or someone from outside the household.
    Applicant,
    /// One household member, by the visit's member id.
    Member(String),
}

/// One fact of one holder, for example member `m2`'s `age`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FactRef {
    pub holder: Holder,
    pub name: String,
}

impl FactRef {
    /// The member whose fact it is, for a member's fact.
    pub fn member(&self) -> Option<&str> {
        match &self.holder {
            Holder::Member(id) => Some(id),
            _ => None,
        }
    }
}

impl fmt::Display for FactRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.holder {
            Holder::Event => write!(f, "event.{}", self.name),
            Holder::Household => write!(f, "household.{}", self.name),
            Holder::Applicant => write!(f, "applicant.{}", self.name),
            Holder::Member(id) => write!(f, "members[{id}].{}", self.name),
        }
    }
}

/// Where a rule reads its facts; `None` means not known (yet).
pub trait FactSource {
    fn fact(&self, at: &FactRef) -> Option<Value>;
    /// The ids of the household's members, in the visit's order.
    fn member_ids(&self) -> Vec<String>;
}

/// How a `var` names a fact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Var {
    Event(String),
    Household(String),
    Applicant(String),
    /// `member.x`: the member the procedure is being decided for.
    Member(String),
    /// `x` inside `some`/`all`/`none`: the member being iterated over.
    Item(String),
}

impl Var {
    /// The kind of holder and the fact name, as the facts dictionary lists them.
    pub fn dictionary_key(&self) -> (&'static str, &str) {
        match self {
            Var::Event(n) => ("event", n),
            Var::Household(n) => ("household", n),
            Var::Applicant(n) => ("applicant", n),
            Var::Member(n) | Var::Item(n) => ("member", n),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantifier {
    Some,
    All,
    None,
}

/// Which members a quantifier ranges over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Members {
    /// Every member of the household.
    All,
    /// Every member but the one the procedure is being decided for.
    Others,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    Literal(Value),
    Var(Var),
    And(Vec<Rule>),
    Or(Vec<Rule>),
    Not(Box<Rule>),
    Truthy(Box<Rule>),
    /// A chain: `a < b` or, with three operands, `a < b < c`.
    Compare(Cmp, Vec<Rule>),
    /// `needle in haystack` (an array, or a substring of a string).
    In(Box<Rule>, Box<Rule>),
    /// `if` / `?:`: condition, then, (condition, then)*, else.
    If(Vec<Rule>),
    Quantified(Quantifier, Members, Box<Rule>),
}

/// Why a rule cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {message}")]
pub struct RuleError {
    /// Where in the rule, as a JSON pointer.
    pub at: String,
    pub message: String,
}

fn rule_error(at: &str, message: impl Into<String>) -> RuleError {
    RuleError {
        at: if at.is_empty() {
            "/".to_owned()
        } else {
            at.to_owned()
        },
        message: message.into(),
    }
}

const OPERATORS: &str =
    "var, and, or, !, !!, ==, !=, ===, !==, <, <=, >, >=, in, if, some, all, none";

impl Rule {
    /// Reads a JSON Logic rule. `in_member` says whether `member.*` may be used (the
    /// procedure is decided per member).
    pub fn parse(value: &Value, in_member: bool) -> Result<Rule, RuleError> {
        parse(value, "", in_member, false)
    }

    /// Every variable the rule reads, in order of appearance.
    pub fn vars(&self) -> Vec<&Var> {
        let mut out = Vec::new();
        self.collect_vars(&mut out);
        out
    }

    fn collect_vars<'a>(&'a self, out: &mut Vec<&'a Var>) {
        match self {
            Rule::Literal(_) => {}
            Rule::Var(v) => out.push(v),
            Rule::And(xs) | Rule::Or(xs) | Rule::Compare(_, xs) | Rule::If(xs) => {
                xs.iter().for_each(|x| x.collect_vars(out))
            }
            Rule::Not(x) | Rule::Truthy(x) | Rule::Quantified(_, _, x) => x.collect_vars(out),
            Rule::In(a, b) => {
                a.collect_vars(out);
                b.collect_vars(out);
            }
        }
    }
}

fn parse(value: &Value, at: &str, in_member: bool, in_item: bool) -> Result<Rule, RuleError> {
    let Value::Object(map) = value else {
        if value.is_array() {
            return Err(rule_error(
                at,
                "a bare array is not a rule; arrays appear only as an operator's operands",
            ));
        }
        return Ok(Rule::Literal(value.clone()));
    };
    let mut entries = map.iter();
    let (Some((op, args)), None) = (entries.next(), entries.next()) else {
        return Err(rule_error(
            at,
            "an operation is an object with exactly one key, the operator",
        ));
    };
    let here = format!("{at}/{}", op.replace('~', "~0").replace('/', "~1"));
    let operands: Vec<&Value> = match args {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let sub = |i: usize, v: &Value| parse(v, &format!("{here}/{i}"), in_member, in_item);
    let all = || -> Result<Vec<Rule>, RuleError> {
        operands
            .iter()
            .enumerate()
            .map(|(i, v)| sub(i, v))
            .collect()
    };
    let arity = |n: std::ops::RangeInclusive<usize>| -> Result<(), RuleError> {
        if n.contains(&operands.len()) {
            Ok(())
        } else {
            Err(rule_error(
                &here,
                format!(
                    "\"{op}\" takes {} operand(s), not {}",
                    if n.start() == n.end() {
                        n.start().to_string()
                    } else {
                        format!("{} to {}", n.start(), n.end())
                    },
                    operands.len()
                ),
            ))
        }
    };
    match op.as_str() {
        "var" => {
            arity(1..=1)?;
            let Some(path) = operands[0].as_str() else {
                return Err(rule_error(&here, "\"var\" takes a fact name as a string"));
            };
            parse_var(path, &here, in_member, in_item).map(Rule::Var)
        }
        "and" | "or" => {
            if operands.is_empty() {
                return Err(rule_error(&here, format!("\"{op}\" needs operands")));
            }
            let xs = all()?;
            Ok(if op == "and" {
                Rule::And(xs)
            } else {
                Rule::Or(xs)
            })
        }
        "!" | "!!" => {
            arity(1..=1)?;
            let x = Box::new(sub(0, operands[0])?);
            Ok(if op == "!" {
                Rule::Not(x)
            } else {
                Rule::Truthy(x)
            })
        }
        "==" | "===" | "!=" | "!==" | ">" | ">=" => {
            arity(2..=2)?;
            let cmp = match op.as_str() {
                "==" | "===" => Cmp::Eq,
                "!=" | "!==" => Cmp::Ne,
                ">" => Cmp::Gt,
                _ => Cmp::Ge,
            };
            Ok(Rule::Compare(cmp, all()?))
        }
        "<" | "<=" => {
            arity(2..=3)?;
            Ok(Rule::Compare(
                if op == "<" { Cmp::Lt } else { Cmp::Le },
                all()?,
            ))
        }
        "in" => {
            arity(2..=2)?;
            Ok(Rule::In(
                Box::new(sub(0, operands[0])?),
                Box::new(sub(1, operands[1])?),
            ))
        }
        "if" | "?:" => {
            if operands.len() < 2 {
                return Err(rule_error(&here, "\"if\" needs a condition and a result"));
            }
            Ok(Rule::If(all()?))
        }
        "some" | "all" | "none" => {
            arity(2..=2)?;
            let members = match operands[0]
                .get("var")
                .and_then(Value::as_str)
                .filter(|_| operands[0].as_object().is_some_and(|m| m.len() == 1))
            {
                Some("household.members") => Members::All,
                Some("household.otherMembers") if in_member => Members::Others,
                Some("household.otherMembers") => {
                    return Err(rule_error(
                        &format!("{here}/0"),
                        "household.otherMembers is only known when the procedure is decided per member (\"appliesTo\": \"member\")",
                    ));
                }
                _ => {
                    return Err(rule_error(
                        &format!("{here}/0"),
                        format!(
                            "\"{op}\" ranges over {{\"var\": \"household.members\"}} or {{\"var\": \"household.otherMembers\"}}"
                        ),
                    ));
                }
            };
            if in_item {
                return Err(rule_error(
                    &here,
                    format!("\"{op}\" cannot be nested inside another some/all/none"),
                ));
            }
            let body = parse(operands[1], &format!("{here}/1"), in_member, true)?;
            let q = match op.as_str() {
                "some" => Quantifier::Some,
                "all" => Quantifier::All,
                _ => Quantifier::None,
            };
            Ok(Rule::Quantified(q, members, Box::new(body)))
        }
        other => Err(rule_error(
            &here,
            format!("the operator \"{other}\" is not supported; use one of: {OPERATORS}"),
        )),
    }
}

fn parse_var(path: &str, at: &str, in_member: bool, in_item: bool) -> Result<Var, RuleError> {
    let simple = |s: &str| {
        !s.is_empty()
            && s.chars().all(|c| c.is_ascii_alphanumeric())
            && s.starts_with(|c: char| c.is_ascii_lowercase())
    };
    let var = match path.split_once('.') {
        Some(("event", n)) if simple(n) => Var::Event(n.to_owned()),
        Some(("household", n)) if simple(n) => Var::Household(n.to_owned()),
        Some(("applicant", n)) if simple(n) => Var::Applicant(n.to_owned()),
        Some(("member", n)) if simple(n) => {
            if !in_member {
                return Err(rule_error(
                    at,
                    format!(
                        "\"{path}\": member.* is only known when the procedure is decided per member (\"appliesTo\": \"member\")"
                    ),
                ));
            }
            Var::Member(n.to_owned())
        }
        None if simple(path) && in_item => Var::Item(path.to_owned()),
        None if simple(path) => {
            return Err(rule_error(
                at,
                format!(
                    "\"{path}\": a bare fact name is only allowed inside some/all/none (the member iterated over); outside, write member.{path}, event.{path} or household.{path}"
                ),
            ));
        }
        _ => {
            return Err(rule_error(
                at,
                format!(
                    "\"{path}\" is not a fact name: write event.<name>, household.<name>, applicant.<name> or member.<name> (letters and digits, camelCase)"
                ),
            ));
        }
    };
    Ok(var)
}

/// A value that may not be known yet.
#[derive(Debug, Clone, PartialEq)]
pub enum Tri {
    Known(Value),
    Unknown,
}

/// What evaluating a rule gave, and the facts behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub value: Tri,
    /// When known: the facts that decided the value (for an `and` that is false, only the
    /// facts of the operand that made it false). When unknown: the unknown facts that can
    /// still change the value, and only those.
    pub facts: BTreeSet<FactRef>,
    /// Those of `facts` read by the rule's own variables (`member.x`, `event.x` …), not only
    /// through a quantifier's members: a reason may name them as the procedure's holder's.
    pub direct: BTreeSet<FactRef>,
}

impl Evaluation {
    fn known(value: Value, facts: BTreeSet<FactRef>, direct: BTreeSet<FactRef>) -> Self {
        Self {
            value: Tri::Known(value),
            facts,
            direct,
        }
    }

    fn unknown(facts: BTreeSet<FactRef>, direct: BTreeSet<FactRef>) -> Self {
        Self {
            value: Tri::Unknown,
            facts,
            direct,
        }
    }

    /// Adds another evaluation's facts to these.
    fn absorb(&mut self, other: Evaluation) {
        self.facts.extend(other.facts);
        self.direct.extend(other.direct);
    }

    /// `Some(true/false)` when decided (JSON Logic truthiness), `None` when undecided.
    pub fn decided(&self) -> Option<bool> {
        match &self.value {
            Tri::Known(v) => Some(truthy(v)),
            Tri::Unknown => None,
        }
    }
}

/// JSON Logic truthiness: `0`, `""`, `[]`, `null` and `false` are false.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(_) => true,
    }
}

/// The scope a rule is evaluated in.
pub struct Scope<'a> {
    pub facts: &'a dyn FactSource,
    /// The member the procedure is decided for, when it is decided per member.
    pub member: Option<&'a str>,
}

impl Rule {
    pub fn evaluate(&self, scope: &Scope<'_>) -> Evaluation {
        self.eval(scope, None)
    }

    fn eval(&self, scope: &Scope<'_>, item: Option<&str>) -> Evaluation {
        match self {
            Rule::Literal(v) => Evaluation::known(v.clone(), BTreeSet::new(), BTreeSet::new()),
            Rule::Var(var) => {
                let at = match var {
                    Var::Event(n) => FactRef {
                        holder: Holder::Event,
                        name: n.clone(),
                    },
                    Var::Household(n) => FactRef {
                        holder: Holder::Household,
                        name: n.clone(),
                    },
                    Var::Applicant(n) => FactRef {
                        holder: Holder::Applicant,
                        name: n.clone(),
                    },
                    Var::Member(n) => FactRef {
                        holder: Holder::Member(scope.member.unwrap_or_default().to_owned()),
                        name: n.clone(),
                    },
                    Var::Item(n) => FactRef {
                        holder: Holder::Member(item.unwrap_or_default().to_owned()),
                        name: n.clone(),
                    },
                };
                let direct = if matches!(var, Var::Item(_)) {
                    BTreeSet::new()
                } else {
                    BTreeSet::from([at.clone()])
                };
                match scope.facts.fact(&at) {
                    Some(v) => Evaluation::known(v, BTreeSet::from([at]), direct),
                    None => Evaluation::unknown(BTreeSet::from([at]), direct),
                }
            }
            Rule::And(xs) => junction(xs.iter().map(|x| x.eval(scope, item)), false),
            Rule::Or(xs) => junction(xs.iter().map(|x| x.eval(scope, item)), true),
            Rule::Not(x) => map_known(x.eval(scope, item), |v| Value::Bool(!truthy(&v))),
            Rule::Truthy(x) => map_known(x.eval(scope, item), |v| Value::Bool(truthy(&v))),
            Rule::Compare(cmp, xs) => {
                let evs: Vec<Evaluation> = xs.iter().map(|x| x.eval(scope, item)).collect();
                strict_all(evs, |vals| {
                    let ok = vals
                        .windows(2)
                        .all(|pair| compare(*cmp, &pair[0], &pair[1]));
                    Value::Bool(ok)
                })
            }
            Rule::In(a, b) => {
                let evs = vec![a.eval(scope, item), b.eval(scope, item)];
                strict_all(evs, |vals| {
                    Value::Bool(match (&vals[0], &vals[1]) {
                        (needle, Value::Array(hay)) => {
                            hay.iter().any(|h| compare(Cmp::Eq, needle, h))
                        }
                        (Value::String(n), Value::String(h)) => h.contains(n.as_str()),
                        _ => false,
                    })
                })
            }
            Rule::If(xs) => eval_if(xs, scope, item),
            Rule::Quantified(q, members, body) => {
                let ids: Vec<String> = scope
                    .facts
                    .member_ids()
                    .into_iter()
                    .filter(|id| *members == Members::All || Some(id.as_str()) != scope.member)
                    .collect();
                let results = ids.iter().map(|id| body.eval(scope, Some(id)));
                match q {
                    // some = or over the members, all = and, none = not some.
                    Quantifier::Some => to_bool(junction(results, true)),
                    Quantifier::All => to_bool(junction_or_true(results)),
                    Quantifier::None => map_known(to_bool(junction(results, true)), |v| {
                        Value::Bool(!truthy(&v))
                    }),
                }
            }
        }
    }
}

fn map_known(e: Evaluation, f: impl FnOnce(Value) -> Value) -> Evaluation {
    match e.value {
        Tri::Known(v) => Evaluation::known(f(v), e.facts, e.direct),
        Tri::Unknown => e,
    }
}

fn to_bool(e: Evaluation) -> Evaluation {
    map_known(e, |v| Value::Bool(truthy(&v)))
}

/// `and` (`stop_on` false) and `or` (`stop_on` true) under Kleene logic. A known operand of
/// the deciding truthiness decides, whatever the unknown ones would be; it reports only its
/// own facts. Without one, any unknown makes the whole unknown, reporting every unknown fact
/// (each can still change the outcome).
fn junction(items: impl Iterator<Item = Evaluation>, stop_on: bool) -> Evaluation {
    let mut known = Evaluation::known(Value::Bool(!stop_on), BTreeSet::new(), BTreeSet::new());
    let mut unknown = Evaluation::unknown(BTreeSet::new(), BTreeSet::new());
    let mut any_unknown = false;
    for e in items {
        match &e.value {
            Tri::Known(v) if truthy(v) == stop_on => return e,
            Tri::Known(v) => {
                // No operand decided: `and` of all-true gives its last value, `or` of
                // all-false too; an empty quantifier gives `or` → false.
                known.value = Tri::Known(v.clone());
                known.absorb(e);
            }
            Tri::Unknown => {
                any_unknown = true;
                unknown.absorb(e);
            }
        }
    }
    if any_unknown { unknown } else { known }
}

/// `all` over members: true over none (JSON Logic's `all` of an empty array is false, but no
/// rule in the catalogue quantifies over an empty household: a visit has one member or more).
fn junction_or_true(items: impl Iterator<Item = Evaluation>) -> Evaluation {
    junction(items, false)
}

/// Evaluates an operator that needs all its operands known.
fn strict_all(evs: Vec<Evaluation>, f: impl FnOnce(&[Value]) -> Value) -> Evaluation {
    let mut known = Evaluation::known(Value::Null, BTreeSet::new(), BTreeSet::new());
    let mut values = Vec::with_capacity(evs.len());
    let mut unknown = Evaluation::unknown(BTreeSet::new(), BTreeSet::new());
    let mut any_unknown = false;
    for mut e in evs {
        match std::mem::replace(&mut e.value, Tri::Unknown) {
            Tri::Known(v) => {
                values.push(v);
                known.absorb(e);
            }
            Tri::Unknown => {
                any_unknown = true;
                unknown.absorb(e);
            }
        }
    }
    if any_unknown {
        unknown
    } else {
        known.value = Tri::Known(f(&values));
        known
    }
}

fn eval_if(xs: &[Rule], scope: &Scope<'_>, item: Option<&str>) -> Evaluation {
    // The conditions passed on the way, whose facts decided which branch is taken.
    let mut passed = Evaluation::known(Value::Null, BTreeSet::new(), BTreeSet::new());
    let mut i = 0;
    while i + 1 < xs.len() {
        let cond = xs[i].eval(scope, item);
        match cond.value {
            Tri::Known(ref v) => {
                let taken = truthy(v);
                passed.absorb(cond);
                if taken {
                    let mut r = xs[i + 1].eval(scope, item);
                    if matches!(r.value, Tri::Known(_)) {
                        r.absorb(passed);
                    }
                    return r;
                }
                i += 2;
            }
            Tri::Unknown => {
                // Both ways are possible: known only if every remaining branch agrees.
                let then = xs[i + 1].eval(scope, item);
                let rest = eval_if(&xs[i + 2..], scope, item);
                return match (&then.value, &rest.value) {
                    (Tri::Known(a), Tri::Known(b)) if truthy(a) == truthy(b) => {
                        let mut r = Evaluation::known(
                            Value::Bool(truthy(a)),
                            BTreeSet::new(),
                            BTreeSet::new(),
                        );
                        r.absorb(then);
                        r.absorb(rest);
                        r.absorb(passed);
                        r
                    }
                    _ => {
                        let mut r = cond;
                        if then.value == Tri::Unknown {
                            r.absorb(then);
                        }
                        if rest.value == Tri::Unknown {
                            r.absorb(rest);
                        }
                        r
                    }
                };
            }
        }
    }
    match xs.get(i) {
        Some(otherwise) if i + 1 == xs.len() => {
            let mut r = otherwise.eval(scope, item);
            if matches!(r.value, Tri::Known(_)) {
                r.absorb(passed);
            }
            r
        }
        _ => passed,
    }
}

/// JSON Logic comparison of two known values: numbers with numbers, strings with strings,
/// booleans with booleans; `null` equals only `null`. Mixed types are unequal and unordered
/// (the catalogue never compares across types; start-up checks literals against the facts'
/// types).
fn compare(cmp: Cmp, a: &Value, b: &Value) -> bool {
    use std::cmp::Ordering;
    let ord: Option<Ordering> = match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .zip(y.as_f64())
            .and_then(|(x, y)| x.partial_cmp(&y)),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        _ => None,
    };
    match (cmp, ord) {
        (Cmp::Eq, o) => o == Some(Ordering::Equal),
        (Cmp::Ne, o) => o != Some(Ordering::Equal),
        (_, None) => false,
        (Cmp::Lt, Some(o)) => o == Ordering::Less,
        (Cmp::Le, Some(o)) => o != Ordering::Greater,
        (Cmp::Gt, Some(o)) => o == Ordering::Greater,
        (Cmp::Ge, Some(o)) => o != Ordering::Less,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    /// Facts by display key (`members[m1].age`, `event.from` …); absent means unknown.
    struct Facts(BTreeMap<String, Value>, Vec<String>);

    impl FactSource for Facts {
        fn fact(&self, at: &FactRef) -> Option<Value> {
            self.0.get(&at.to_string()).cloned()
        }
        fn member_ids(&self) -> Vec<String> {
            self.1.clone()
        }
    }

    fn facts(pairs: &[(&str, Value)]) -> Facts {
        Facts(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
            vec!["m1".into(), "m2".into()],
        )
    }

    fn eval(rule: Value, f: &Facts) -> Evaluation {
        Rule::parse(&rule, true).unwrap().evaluate(&Scope {
            facts: f,
            member: Some("m1"),
        })
    }

    fn keys(e: &Evaluation) -> Vec<String> {
        e.facts.iter().map(ToString::to_string).collect()
    }

    /// A fact read through a quantifier over the members is not the procedure's holder's own
    /// deciding fact, even for the member the procedure is decided for.
    #[test]
    fn facts_read_through_a_quantifier_are_not_direct() {
        let f = facts(&[
            ("members[m1].isSubject", json!(false)),
            ("members[m2].isSubject", json!(false)),
            ("members[m1].insurance", json!("employee")),
        ]);
        let e = eval(
            json!({"and": [
                {"==": [{"var": "member.insurance"}, "employee"]},
                {"some": [{"var": "household.members"}, {"var": "isSubject"}]}
            ]}),
            &f,
        );
        assert_eq!(e.decided(), Some(false));
        assert_eq!(keys(&e), ["members[m1].isSubject", "members[m2].isSubject"]);
        assert!(e.direct.is_empty(), "{:?}", e.direct);
        let e = eval(json!({"==": [{"var": "member.insurance"}, "employee"]}), &f);
        assert_eq!(e.direct, e.facts);
    }

    #[test]
    fn a_missing_fact_is_undecided_and_asked_for() {
        let f = facts(&[]);
        let e = eval(json!({">=": [{"var": "member.age"}, 75]}), &f);
        assert_eq!(e.decided(), None);
        assert_eq!(keys(&e), ["members[m1].age"]);
    }

    #[test]
    fn a_known_false_operand_decides_and_without_asking_the_rest() {
        let f = facts(&[("members[m1].age", json!(40))]);
        let rule = json!({"and": [{"var": "member.hasDisabilityCertificate"}, {">=": [{"var": "member.age"}, 65]}]});
        let e = eval(rule, &f);
        assert_eq!(e.decided(), Some(false));
        assert_eq!(keys(&e), ["members[m1].age"], "only the deciding fact");
    }

    #[test]
    fn undecided_operands_are_all_reported_until_one_decides() {
        let f = facts(&[("members[m1].age", json!(70))]);
        let rule = json!({"and": [{">=": [{"var": "member.age"}, 65]}, {"var": "member.hasDisabilityCertificate"}, {"var": "member.wantsLateStageByDisability"}]});
        let e = eval(rule, &f);
        assert_eq!(e.decided(), None);
        assert_eq!(
            keys(&e),
            [
                "members[m1].hasDisabilityCertificate",
                "members[m1].wantsLateStageByDisability"
            ]
        );
    }

    #[test]
    fn or_is_decided_by_one_true_operand() {
        let f = facts(&[("members[m1].insurance", json!("none"))]);
        let rule = json!({"or": [{"var": "member.hasProxyLetter"}, {"==": [{"var": "member.insurance"}, "none"]}]});
        let e = eval(rule, &f);
        assert_eq!(e.decided(), Some(true));
        assert_eq!(keys(&e), ["members[m1].insurance"]);
    }

    #[test]
    fn quantifiers_range_over_members_and_others() {
        let f = facts(&[
            ("members[m1].insurance", json!("employee")),
            ("members[m2].insurance", json!("nationalHealth")),
        ]);
        let some_nhi = json!({"some": [{"var": "household.members"}, {"==": [{"var": "insurance"}, "nationalHealth"]}]});
        let e = eval(some_nhi, &f);
        assert_eq!(e.decided(), Some(true));
        assert_eq!(keys(&e), ["members[m2].insurance"]);
        let others_employee = json!({"all": [{"var": "household.otherMembers"}, {"==": [{"var": "insurance"}, "employee"]}]});
        assert_eq!(eval(others_employee, &f).decided(), Some(false));
        let none_unknown =
            json!({"none": [{"var": "household.members"}, {"var": "hasSealRegistration"}]});
        let e = eval(none_unknown, &f);
        assert_eq!(e.decided(), None);
        assert_eq!(
            keys(&e),
            [
                "members[m1].hasSealRegistration",
                "members[m2].hasSealRegistration"
            ]
        );
    }

    #[test]
    fn if_with_an_unknown_condition_is_known_when_both_ways_agree() {
        let f = facts(&[]);
        let e = eval(json!({"if": [{"var": "event.from"}, true, true]}), &f);
        assert_eq!(e.decided(), Some(true));
        let e = eval(json!({"if": [{"var": "event.from"}, true, false]}), &f);
        assert_eq!(e.decided(), None);
        assert_eq!(keys(&e), ["event.from"]);
    }

    #[test]
    fn between_and_in() {
        let f = facts(&[
            ("members[m1].age", json!(20)),
            ("event.certificates", json!(["residentRecordCopy"])),
        ]);
        assert_eq!(
            eval(json!({"<=": [20, {"var": "member.age"}, 59]}), &f).decided(),
            Some(true)
        );
        assert_eq!(
            eval(json!({"<": [20, {"var": "member.age"}, 59]}), &f).decided(),
            Some(false)
        );
        assert_eq!(
            eval(
                json!({"in": ["residentRecordCopy", {"var": "event.certificates"}]}),
                &f
            )
            .decided(),
            Some(true)
        );
    }

    #[test]
    fn bad_rules_are_refused_with_where_and_why() {
        let err = |v: Value, member: bool| Rule::parse(&v, member).unwrap_err();
        let e = err(json!({"and": [true, {"regex": ["a", "b"]}]}), true);
        assert_eq!(e.at, "/and/1/regex");
        assert!(e.message.contains("not supported"), "{}", e.message);
        let e = err(json!({"var": "member.age"}), false);
        assert!(e.message.contains("appliesTo"), "{}", e.message);
        let e = err(json!({"var": "age"}), true);
        assert!(e.message.contains("only allowed inside"), "{}", e.message);
        let e = err(json!({">=": [1]}), true);
        assert!(e.message.contains("takes 2 operand"), "{}", e.message);
        let e = err(
            json!({"some": [{"var": "household.members"}, {"some": [{"var": "household.members"}, true]}]}),
            true,
        );
        assert!(e.message.contains("nested"), "{}", e.message);
    }
}

/// When every fact is known, the result is the one of datalogic-rs, a JSON Logic engine.
#[cfg(test)]
mod reference {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;

    struct Known {
        data: Value,
    }

    impl FactSource for Known {
        fn fact(&self, at: &FactRef) -> Option<Value> {
            let holder = match &at.holder {
                Holder::Event => self.data.get("event"),
                Holder::Household => self.data.get("household"),
                Holder::Applicant => self.data.get("applicant"),
                Holder::Member(id) => self.data["household"]["members"]
                    .as_array()
                    .and_then(|ms| ms.iter().find(|m| m["id"] == json!(id))),
            };
            holder.and_then(|h| h.get(&at.name)).cloned()
        }
        fn member_ids(&self) -> Vec<String> {
            vec!["m1".into(), "m2".into()]
        }
    }

    fn member() -> impl Strategy<Value = Value> {
        (0..100i64, any::<bool>(), prop::sample::select(vec!["employee", "nationalHealth", "none"]))
            .prop_map(|(age, seal, ins)| json!({"age": age, "hasSealRegistration": seal, "insurance": ins}))
    }

    /// A leaf reading a fact through `prefix` (`member.` or `` inside a quantifier).
    fn leaf(prefix: &'static str) -> impl Strategy<Value = Value> {
        let age = format!("{prefix}age");
        let seal = format!("{prefix}hasSealRegistration");
        let ins = format!("{prefix}insurance");
        prop_oneof![
            (
                prop::sample::select(vec![">=", "<", "<=", ">", "==", "!="]),
                0..100i64
            )
                .prop_map(move |(op, n)| json!({op: [{"var": age}, n]})),
            Just(json!({"var": seal})),
            prop::sample::select(vec!["employee", "nationalHealth", "none"])
                .prop_map(move |v| json!({"==": [{"var": ins}, v]})),
            // Inside a quantifier JSON Logic only sees the item; reaching the event from
            // there is this catalogue's extension, so the comparison leaves it out.
            prop::sample::select(vec!["otherMunicipality", "abroad"]).prop_map(move |v| {
                if prefix.is_empty() {
                    Value::Bool(v == "abroad")
                } else {
                    json!({"==": [{"var": "event.from"}, v]})
                }
            }),
            any::<bool>().prop_map(Value::Bool),
        ]
    }

    fn combine(inner: impl Strategy<Value = Value> + Clone) -> impl Strategy<Value = Value> {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..4).prop_map(|xs| json!({"and": xs})),
            prop::collection::vec(inner.clone(), 1..4).prop_map(|xs| json!({"or": xs})),
            inner.clone().prop_map(|x| json!({"!": x})),
            inner.clone().prop_map(|x| json!({"!!": x})),
            (inner.clone(), inner.clone(), inner).prop_map(|(c, a, b)| json!({"if": [c, a, b]})),
        ]
    }

    fn rule() -> impl Strategy<Value = Value> {
        let item = leaf("").prop_recursive(2, 8, 3, combine);
        let quantified = (
            prop::sample::select(vec!["some", "all", "none"]),
            prop::sample::select(vec!["household.members", "household.otherMembers"]),
            item,
        )
            .prop_map(|(q, src, body)| json!({q: [{"var": src}, body]}));
        prop_oneof![leaf("member."), quantified].prop_recursive(3, 16, 3, combine)
    }

    proptest! {
        #[test]
        fn agrees_with_datalogic_when_everything_is_known(
            rule in rule(),
            m1 in member(),
            m2 in member(),
            from in prop::sample::select(vec!["otherMunicipality", "abroad"]),
        ) {
            let mut m1 = m1;
            let mut m2 = m2;
            m1["id"] = json!("m1");
            m2["id"] = json!("m2");
            let data = json!({
                "event": {"from": from},
                "member": m1.clone(),
                "household": {"members": [m1, m2.clone()], "otherMembers": [m2]},
            });
            let parsed = Rule::parse(&rule, true).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let ours = parsed.evaluate(&Scope { facts: &Known { data: data.clone() }, member: Some("m1") });
            let reference = datalogic_rs::eval_str(rule.to_string().as_str(), data.to_string().as_str())
                .map_err(|e| TestCaseError::fail(format!("{e}")))?;
            let reference: Value = serde_json::from_str(&reference).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(ours.decided(), Some(truthy(&reference)), "rule {} data {}", rule, data);
        }
    }
}
