//! What a visit prints: each prefilled form for the resident to check and sign, and the
//! receipt (受付票) saying what was done, what is left, what to bring and where to go next.
//! Everything here is in Japanese, the language of the counter; [`crate::print`] lays it out.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde_json::Value;

use super::confirmation::{Application, ApplicationState, Signature};
use super::determination::{Decision, Determination, Explainer, Outcome};
use super::facts::EventFacts;
use super::model::Visit;
use crate::catalog::{Catalog, Handling, Procedure};
use crate::forms::era::EraTable;
use crate::forms::normalize::Kind;
use crate::forms::plan::PlanNode;
use crate::i18n::Lang;
use crate::print::{Block, Picture, PictureFormat, Sheet};

/// What every printout of a visit shares.
pub struct Context<'a> {
    pub catalog: &'a Catalog,
    pub eras: &'a EraTable,
    /// The municipality's name (北見市).
    pub municipality: &'a str,
    pub visit: &'a Visit,
    pub determination: &'a Determination,
    /// The applications of a submitted visit, as the core systems have answered them so far
    /// (none before submission).
    pub applications: &'a [Application],
}

/// One form to print: a draft, or the frozen document once the visit is confirmed.
pub struct FormPrint<'a> {
    pub procedure: Arc<Procedure>,
    pub form_title: String,
    pub plan: &'a PlanNode,
    pub document: Value,
    /// Fields filled from what the municipality already knew.
    pub prefilled: usize,
    /// What the validation of a draft still finds wrong, by JSON pointer (none once
    /// confirmed).
    pub problems: Vec<(String, String)>,
}

impl Context<'_> {
    fn day(&self, date: NaiveDate) -> String {
        self.eras
            .wareki_day(date)
            .unwrap_or_else(|| date.format("%Y年%-m月%-d日").to_string())
    }

    fn moment(&self, at: DateTime<Utc>) -> String {
        let japan = FixedOffset::east_opt(9 * 3600).map(|tz| at.with_timezone(&tz));
        match japan {
            Some(t) => format!("{} {}", self.day(t.date_naive()), t.format("%H:%M")),
            None => at.to_rfc3339(),
        }
    }

    fn explainer(&self) -> Explainer<'_> {
        Explainer {
            catalog: self.catalog,
            eras: self.eras,
            household: &self.visit.household,
            lang: Lang::Ja,
        }
    }

    fn facts(&self) -> Option<EventFacts<'_>> {
        let h = &self.visit.household;
        h.events.first().map(|e| EventFacts::new(h, e))
    }

    fn member_name(&self, id: &str) -> String {
        self.explainer().member_name(id)
    }

    fn applicant_name(&self) -> Option<String> {
        self.facts()
            .and_then(|f| f.by_key("applicant.name", None))
            .and_then(|v| v.as_str().map(str::to_owned))
    }

    fn corner(&self) -> Vec<String> {
        let v = self.visit;
        let mut corner = vec![format!("来庁日 {}", self.day(v.opened_on))];
        if let Some(ticket) = &v.ticket {
            corner.push(format!("受付番号 {ticket}"));
        }
        corner
    }

    /// What every page says at its foot. Paper a resident takes home carries no internal
    /// identifier (the visit's id, the catalogue's version, a form's schema): the clerk finds
    /// the visit by its day and ticket, and the PDF's metadata keeps the visit's id.
    fn footer(&self) -> String {
        format!("{} ワンストップ窓口", self.municipality)
    }

    fn deadline(&self, d: &Decision) -> Option<String> {
        let day = d.deadline?;
        let note = d
            .procedure
            .deadline
            .as_ref()
            .and_then(|x| x.note.as_ref())
            .map(|n| format!("({})", n.ja))
            .unwrap_or_default();
        Some(format!("期限 {}まで{note}", self.day(day)))
    }

    /// Where the applications of a procedure done at the counter stand, as the receipt says
    /// it: the least advanced of them (one member's rejection is not hidden by another's
    /// acceptance).
    fn application_state(&self, x: &Decision, members: &[&String]) -> String {
        let states: Vec<ApplicationState> = self
            .applications
            .iter()
            .filter(|a| a.procedure_id == x.procedure.id)
            .filter(|a| {
                members.is_empty() || a.member.as_ref().is_some_and(|m| members.contains(&m))
            })
            .map(|a| a.state)
            .collect();
        let said = |s: ApplicationState| match s {
            ApplicationState::Rejected => "受付できませんでした(下記)",
            ApplicationState::Submitted | ApplicationState::Delivered => "受付済み(担当課へ送付)",
            ApplicationState::Accepted => "受付済み(担当課で受理)",
            ApplicationState::Completed => "処理済み",
            ApplicationState::Referred => "担当の窓口へご案内",
        };
        let rank = |s: &ApplicationState| match s {
            ApplicationState::Rejected => 0,
            ApplicationState::Submitted | ApplicationState::Delivered => 1,
            ApplicationState::Accepted => 2,
            ApplicationState::Completed => 3,
            ApplicationState::Referred => 4,
        };
        match states.iter().min_by_key(|s| rank(s)) {
            Some(s) => said(*s).to_owned(),
            None => "受付済み".to_owned(),
        }
    }

    fn subjects(&self, members: &[&String]) -> Option<String> {
        if members.is_empty() {
            return None;
        }
        let names: Vec<String> = members
            .iter()
            .map(|m| format!("{}さん", self.member_name(m)))
            .collect();
        Some(format!("対象 {}", names.join("、")))
    }
}

/// A prefilled form as the resident checks it and signs it.
pub fn form_sheet(cx: &Context, f: &FormPrint) -> Sheet {
    let confirmation = cx.visit.household.confirmation.as_ref();
    let banner = match confirmation {
        Some(c) => format!(
            "この届書は {} に、下の署名により内容が確認されたものです(控え)。",
            cx.moment(c.confirmed_at)
        ),
        None => format!(
            "確認用です。記入内容をご確認のうえ、誤りがなければ下の欄に署名してください。{}項目は市区町村が保有する情報などから記入済みで、手書きの必要はありません。",
            f.prefilled
        ),
    };
    let mut blocks = Vec::new();
    document_rows(cx.eras, f.plan, &f.document, 0, &mut blocks);
    if !f.problems.is_empty() {
        blocks.push(Block::Heading(
            "確認が必要な項目(職員が窓口で伺います)".to_owned(),
        ));
        blocks.extend(f.problems.iter().map(|(pointer, message)| Block::Item {
            text: match item_of(f.plan, pointer) {
                Some(place) => format!("{place}: {message}"),
                None => message.clone(),
            },
            details: Vec::new(),
        }));
    }
    let (inside, image) = match confirmation.map(|c| &c.signature) {
        Some(s @ Signature::Image { .. }) => (
            Some("署名済み: 窓口の署名パッドで署名".to_owned()),
            signature_picture(s),
        ),
        Some(Signature::Attestation { attested_by }) => (
            Some(format!(
                "署名済み: 印刷した内容への署名を職員 {attested_by} が確認"
            )),
            None,
        ),
        None => (cx.applicant_name().map(|n| format!("届出人 {n} 様")), None),
    };
    blocks.push(Block::Signature {
        label: "届出人 署名".to_owned(),
        inside,
        image,
    });
    let corner = cx.corner();
    Sheet {
        title: f.form_title.clone(),
        subtitle: Some(format!(
            "{} {} ・ {}",
            cx.municipality, f.procedure.department, f.procedure.name.ja
        )),
        corner,
        banner: Some(banner),
        blocks,
        footer: cx.footer(),
    }
}

/// The image written on the pad, as it was uploaded (checked then to decode whole).
fn signature_picture(s: &Signature) -> Option<Picture> {
    let (media_type, bytes) = s.image()?;
    let format = match media_type {
        "image/png" => PictureFormat::Png,
        "image/jpeg" => PictureFormat::Jpeg,
        _ => return None,
    };
    Some(Picture {
        format,
        bytes: Arc::new(bytes),
    })
}

/// Which entry of a list a pointer is in, as the printout heads it: `/children/1/name` →
/// 対象児童 (2). `None` outside lists.
fn item_of(plan: &PlanNode, pointer: &str) -> Option<String> {
    let mut node = plan;
    let mut place = None;
    let mut title = None;
    for token in pointer.split('/').skip(1) {
        if let Ok(i) = token.parse::<usize>() {
            place = Some(format!("{} ({})", title.clone().unwrap_or_default(), i + 1));
            node = node.items.as_deref()?;
        } else {
            node = node.properties.get(token)?;
            title = node.title.clone().or_else(|| Some(token.to_owned()));
        }
    }
    place
}

/// The rows of a form document, in the order of its schema.
fn document_rows(eras: &EraTable, node: &PlanNode, value: &Value, depth: u8, out: &mut Vec<Block>) {
    let Value::Object(map) = value else {
        return;
    };
    // The schema's order first, then anything else the document holds.
    let mut names: Vec<&String> = node
        .order
        .iter()
        .filter(|n| map.contains_key(n.as_str()))
        .chain(map.keys().filter(|k| !node.order.contains(k)))
        .collect();
    // At the top, the form's own entries before its parts (届出人, 対象者 …), so that no
    // entry reads as part of the section above it.
    if depth == 0 {
        names.sort_by_key(|n| map.get(n.as_str()).is_some_and(is_group));
    }
    for name in names {
        let Some(v) = map.get(name) else { continue };
        let child = node.properties.get(name);
        let title = child
            .and_then(|c| c.title.clone())
            .unwrap_or_else(|| name.clone());
        field_rows(eras, child, &title, v, depth, out);
    }
}

/// Printed as a section of rows rather than one row.
fn is_group(v: &Value) -> bool {
    match v {
        Value::Object(_) => true,
        Value::Array(items) => items.iter().any(Value::is_object),
        _ => false,
    }
}

fn field_rows(
    eras: &EraTable,
    node: Option<&PlanNode>,
    title: &str,
    v: &Value,
    depth: u8,
    out: &mut Vec<Block>,
) {
    let empty = PlanNode::default();
    let plan = node.unwrap_or(&empty);
    let group = |title: String, out: &mut Vec<Block>| {
        if depth == 0 {
            out.push(Block::Heading(title));
            0
        } else {
            out.push(Block::Row {
                label: title,
                value: String::new(),
                depth,
            });
            depth + 1
        }
    };
    match v {
        Value::Object(_) if plan.normalize == Some(Kind::RegistryDate) => out.push(Block::Row {
            label: title.to_owned(),
            value: v
                .get("text")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            depth,
        }),
        Value::Object(_) => {
            let inner = group(title.to_owned(), out);
            document_rows(eras, plan, v, inner, out);
        }
        Value::Array(items) if items.iter().any(Value::is_object) => {
            let item_plan = plan.items.as_deref().unwrap_or(&empty);
            for (i, item) in items.iter().enumerate() {
                let inner = group(format!("{title} ({})", i + 1), out);
                document_rows(eras, item_plan, item, inner, out);
            }
        }
        Value::Array(items) => {
            let item_plan = plan.items.as_deref();
            let shown: Vec<String> = items.iter().map(|i| show(eras, item_plan, i)).collect();
            out.push(Block::Row {
                label: title.to_owned(),
                value: shown.join("、"),
                depth,
            });
        }
        scalar => out.push(Block::Row {
            label: title.to_owned(),
            value: show(eras, node, scalar),
            depth,
        }),
    }
}

/// The value of a form's field at `pointer` as the resident reads it (see [`show`]): what the
/// console shows beside each field of a draft.
pub fn shown_at(eras: &EraTable, plan: &PlanNode, pointer: &str, v: &Value) -> String {
    show(eras, plan.at(pointer), v)
}

/// A value as the resident reads it: codes by their label, days in 和暦, a 個人番号 in
/// groups of four, yes or no.
fn show(eras: &EraTable, node: Option<&PlanNode>, v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(true) => "はい".to_owned(),
        Value::Bool(false) => "いいえ".to_owned(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => {
            if let Some(label) = node.and_then(|n| n.labels.get(s)) {
                return label.clone();
            }
            match node.and_then(|n| n.normalize) {
                Some(Kind::Date | Kind::RegistryDate) => s
                    .parse::<NaiveDate>()
                    .ok()
                    .and_then(|d| eras.wareki_day(d))
                    .unwrap_or_else(|| s.clone()),
                Some(Kind::MyNumber) if s.len() == 12 && s.is_ascii() => {
                    format!("{} {} {}", &s[..4], &s[4..8], &s[8..])
                }
                _ => s.clone(),
            }
        }
        other => other.to_string(),
    }
}

/// The 受付票: what was done at the counter, where to go next and what to bring there, what
/// is still undecided.
pub fn receipt_sheet(cx: &Context) -> Sheet {
    let h = &cx.visit.household;
    let d = cx.determination;
    let ex = cx.explainer();
    let submitted = h.submitted_at.is_some();
    let returned = cx
        .applications
        .iter()
        .any(|a| a.state == ApplicationState::Rejected);
    let banner = if returned {
        "お受けした手続のうち、担当課で受け付けられなかったものがあります(下の「受付できなかった手続」)。窓口の職員にお尋ねください。"
    } else if submitted {
        "本日の手続をお受けしました。この票は、このあと行っていただく窓口とお持ちいただくものの控えです。"
    } else if h.confirmation.is_some() {
        "署名をいただきました。手続の受付を処理しています。"
    } else {
        "受付中です。まだ署名をいただいていないため、内容は変わることがあります。"
    };
    let mut blocks = vec![Block::Heading("ご来庁の内容".to_owned())];
    for e in &h.events {
        let label = cx
            .catalog
            .life_event(&e.kind)
            .map(|l| l.ja.clone())
            .unwrap_or_else(|| e.kind.clone());
        blocks.push(Block::Row {
            label: "届出".to_owned(),
            value: format!("{label}({})", cx.day(e.date)),
            depth: 0,
        });
    }
    if !h.members.is_empty() {
        let names: Vec<String> = h
            .members
            .iter()
            .map(|m| format!("{}さん", cx.member_name(&m.id)))
            .collect();
        blocks.push(Block::Row {
            label: "世帯の方".to_owned(),
            value: names.join("、"),
            depth: 0,
        });
    }
    if let Some(name) = cx.applicant_name() {
        blocks.push(Block::Row {
            label: "届出人".to_owned(),
            value: format!("{name}さん"),
            depth: 0,
        });
    }

    let needed: Vec<&Decision> = d
        .decisions
        .iter()
        .filter(|x| x.outcome == Outcome::Needed && !x.disabled)
        .collect();
    let (counter, referred): (Vec<&Decision>, Vec<&Decision>) = needed
        .iter()
        .partition(|x| matches!(x.procedure.handling, Handling::Counter));

    blocks.push(Block::Heading(if submitted {
        "本日この窓口で受け付けた手続".to_owned()
    } else {
        "この窓口で受け付ける手続".to_owned()
    }));
    if counter.is_empty() {
        blocks.push(Block::Text("ありません。".to_owned()));
    }
    let counter = by_procedure(&counter);
    let referred = by_procedure(&referred);
    for (x, members) in &counter {
        let state = if submitted {
            cx.application_state(x, members)
        } else {
            "署名後に受付".to_owned()
        };
        let mut details = vec![format!("{} ・ {state}", x.procedure.department)];
        details.extend(cx.subjects(members));
        if let Some(fee) = &x.procedure.fee {
            details.push(format!("手数料 {}円{}", yen(fee.yen), per(fee)));
        }
        if !submitted {
            details.extend(cx.deadline(x));
        }
        blocks.push(Block::Item {
            text: x.procedure.name.ja.clone(),
            details,
        });
    }

    let rejected: Vec<&Application> = cx
        .applications
        .iter()
        .filter(|a| a.state == ApplicationState::Rejected)
        .collect();
    if !rejected.is_empty() {
        blocks.push(Block::Heading(
            "受付できなかった手続(窓口の職員にお尋ねください)".to_owned(),
        ));
        for a in rejected {
            let name = cx
                .catalog
                .procedure(&a.procedure_id)
                .map(|p| p.name.ja.clone())
                .unwrap_or_else(|| "手続".to_owned());
            let mut details = Vec::new();
            details.extend(a.member.as_ref().and_then(|m| cx.subjects(&[m])));
            details.push(match &a.reason {
                Some(reason) => format!("担当課からの理由: {reason}"),
                None => "担当課から理由は届いていません。".to_owned(),
            });
            blocks.push(Block::Item {
                text: name,
                details,
            });
        }
    }

    blocks.push(Block::Heading("このあと行っていただく窓口".to_owned()));
    if referred.is_empty() {
        blocks.push(Block::Text(
            "ありません。本日の手続はこの窓口で終わります。".to_owned(),
        ));
    }
    for (x, members) in &referred {
        let Handling::Referral { to, why } = &x.procedure.handling else {
            continue;
        };
        let mut details = vec![why.ja.clone()];
        details.extend(cx.subjects(members));
        details.extend(cx.deadline(x));
        if !x.procedure.documents.is_empty() {
            let docs: Vec<&str> = x
                .procedure
                .documents
                .iter()
                .map(|t| t.ja.as_str())
                .collect();
            details.push(format!("お持ちいただくもの: {}", docs.join("、")));
        }
        blocks.push(Block::Item {
            text: format!("{} ― {}", to.ja, x.procedure.name.ja),
            details,
        });
    }

    let undecided: Vec<&Decision> = d
        .decisions
        .iter()
        .filter(|x| x.outcome == Outcome::Undecided && !x.disabled)
        .collect();
    if !undecided.is_empty() {
        blocks.push(Block::Heading(
            "まだ決まっていない手続(窓口でお尋ねします)".to_owned(),
        ));
        for x in undecided {
            let mut details = vec![ex.reason(x)];
            details.extend(cx.subjects(&x.member.iter().collect::<Vec<_>>()));
            blocks.push(Block::Item {
                text: x.procedure.name.ja.clone(),
                details,
            });
        }
    }

    // What to bring: each document once, with the procedures that need it; for procedures
    // done today only while the visit has not been submitted.
    let mut bring: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut order: Vec<&str> = Vec::new();
    let bringing = referred
        .iter()
        .chain(counter.iter().filter(|_| !submitted))
        .map(|(x, _)| x);
    for x in bringing {
        for doc in &x.procedure.documents {
            let list = bring.entry(doc.ja.as_str()).or_insert_with(|| {
                order.push(doc.ja.as_str());
                Vec::new()
            });
            if !list.contains(&x.procedure.name.ja.as_str()) {
                list.push(x.procedure.name.ja.as_str());
            }
        }
    }
    blocks.push(Block::Heading("お持ちいただくもの".to_owned()));
    if order.is_empty() {
        blocks.push(Block::Text("ありません。".to_owned()));
    }
    for doc in order {
        let procedures = bring.get(doc).cloned().unwrap_or_default();
        blocks.push(Block::Item {
            text: doc.to_owned(),
            details: vec![format!("{}のため", procedures.join("、"))],
        });
    }

    let fees: u32 = counter
        .iter()
        .filter_map(|(x, members)| {
            Some(x.procedure.fee.as_ref()?.yen * members.len().max(1) as u32)
        })
        .sum();
    let varies = counter
        .iter()
        .any(|(x, _)| x.procedure.fee.as_ref().is_some_and(|f| f.per.is_some()));
    if fees > 0 {
        blocks.push(Block::Heading("手数料".to_owned()));
        blocks.push(Block::Row {
            label: "この窓口の手数料(合計)".to_owned(),
            value: if varies {
                format!("{}円(通数などにより変わります)", yen(fees))
            } else {
                format!("{}円", yen(fees))
            },
            depth: 0,
        });
    }

    if let Some(c) = &h.confirmation {
        blocks.push(Block::Text(format!(
            "この来庁で {} 件の届書を作成し、{} 項目を市区町村が保有する情報などから記入しました(手書き不要)。署名 {}。",
            c.drafts.len(),
            c.prefilled_fields(),
            cx.moment(c.confirmed_at)
        )));
    }

    Sheet {
        title: "受付票".to_owned(),
        subtitle: Some(format!("{} ワンストップ窓口", cx.municipality)),
        corner: cx.corner(),
        banner: Some(banner.to_owned()),
        blocks,
        footer: cx.footer(),
    }
}

/// A procedure needed for several members once, with those members (in the order decided).
fn by_procedure<'d>(decisions: &[&'d Decision]) -> Vec<(&'d Decision, Vec<&'d String>)> {
    let mut out: Vec<(&Decision, Vec<&String>)> = Vec::new();
    for x in decisions {
        let member = x.member.as_ref();
        match out
            .iter_mut()
            .find(|(y, _)| y.procedure.id == x.procedure.id && y.event == x.event)
        {
            Some((_, members)) => members.extend(member),
            None => out.push((x, member.into_iter().collect())),
        }
    }
    out
}

/// `1,500`: yen with thousands grouped (integers only, never floating point).
pub fn yen(n: u32) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn per(fee: &crate::catalog::Fee) -> String {
    fee.per
        .as_ref()
        .map(|p| format!("({})", p.ja))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yen_amounts_group_thousands() {
        assert_eq!(yen(300), "300");
        assert_eq!(yen(1500), "1,500");
        assert_eq!(yen(1234567), "1,234,567");
    }
}
