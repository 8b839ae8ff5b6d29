//! The catalogue as a document a municipality's legal staff can review: for each procedure,
//! its article, what it needs and when, the facts its rule reads, the questions it may ask and
//! the rule itself; then the procedures whose legal basis names no article.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::calendar::Count;
use super::{AppliesTo, Catalog, Handling, Procedure};

/// Whether a legal basis names an article (第…条) or a municipality's rule (条例, 規則).
fn names_an_article(basis: &str) -> bool {
    (basis.contains('第') && basis.contains('条'))
        || basis.contains("条例")
        || basis.contains("規則")
}

fn deadline(p: &Procedure) -> String {
    let Some(d) = &p.deadline else {
        return "なし".to_owned();
    };
    let count = match d.count {
        Count::NextDay => "翌日起算",
        Count::EventDay => "当日起算",
    };
    let from = d
        .from
        .as_deref()
        .map(|f| format!("、{f} が分かればその日から"))
        .unwrap_or_default();
    let note = d
        .note
        .as_ref()
        .map(|n| format!("(注: {})", n.ja))
        .unwrap_or_default();
    format!(
        "{}日({count}{from}、末日が閉庁日なら翌開庁日){note}",
        d.days
    )
}

/// A section listing the procedures `lacks` picks, each with `shown`, or なし.
fn lacking(
    out: &mut String,
    catalog: &Catalog,
    title: &str,
    lacks: impl Fn(&Procedure) -> bool,
    shown: impl Fn(&Procedure) -> String,
) {
    let _ = writeln!(out, "## {title}\n");
    let lines: Vec<String> = catalog
        .procedures
        .iter()
        .filter(|p| lacks(p))
        .map(|p| format!("- `{}`: {}", p.id, shown(p)))
        .collect();
    if lines.is_empty() {
        let _ = writeln!(out, "なし");
    } else {
        let _ = writeln!(out, "{}", lines.join("\n"));
    }
}

/// The catalogue as Markdown, areas in the vocabulary's order.
pub fn markdown(catalog: &Catalog, title: &str) -> String {
    let mut out = String::new();
    let areas = &catalog.vocabulary.areas;
    let _ = writeln!(
        out,
        "# {title}\n\n手続 {} 件、業務 {} 分野。各手続の根拠条文、期限、規則が読む事実と質問、規則そのもの。\n",
        catalog.procedures.len(),
        catalog
            .procedures
            .iter()
            .map(|p| p.area.as_str())
            .collect::<BTreeSet<_>>()
            .len()
    );
    for (area, label) in areas {
        let mut in_area: Vec<&Procedure> = catalog
            .procedures
            .iter()
            .filter(|p| &p.area == area)
            .map(|p| p.as_ref())
            .collect();
        if in_area.is_empty() {
            continue;
        }
        in_area.sort_by(|a, b| a.id.cmp(&b.id));
        let _ = writeln!(out, "## {} ({area})\n", label.ja);
        for p in in_area {
            let events: Vec<String> = p
                .life_events
                .iter()
                .map(|e| {
                    catalog
                        .vocabulary
                        .life_events
                        .get(e)
                        .map_or_else(|| e.clone(), |d| d.ja.clone())
                })
                .collect();
            let read: BTreeSet<String> = p
                .rule
                .vars()
                .into_iter()
                .map(|v| {
                    let (holder, name) = v.dictionary_key();
                    format!("{holder}.{name}")
                })
                .collect();
            let _ = writeln!(out, "### {} (`{}`)\n", p.name.ja, p.id);
            if !p.enabled {
                let _ = writeln!(out, "- **この団体では扱わない(無効)**");
            }
            if p.local {
                let _ = writeln!(out, "- この団体独自の手続");
            }
            let _ = writeln!(out, "- 根拠: {}", p.legal_basis.ja);
            let _ = writeln!(out, "- 担当: {}", p.department);
            let _ = writeln!(out, "- 届出事由: {}", events.join("、"));
            let _ = writeln!(
                out,
                "- 判定の単位: {}",
                match p.applies_to {
                    AppliesTo::Household => "世帯",
                    AppliesTo::Member => "世帯員ごと",
                }
            );
            match &p.handling {
                Handling::Counter => {
                    let _ = writeln!(out, "- 取扱い: この窓口");
                }
                Handling::Referral { to, .. } => {
                    let _ = writeln!(out, "- 取扱い: 案内({})", to.ja);
                }
            }
            let _ = writeln!(out, "- 期限: {}", deadline(p));
            let _ = writeln!(
                out,
                "- 様式: {}",
                p.form
                    .as_ref()
                    .map_or_else(|| "なし".to_owned(), |(f, v)| format!("{f}@{v}"))
            );
            let _ = writeln!(
                out,
                "- 規則が読む事実: {}",
                read.iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join("、")
            );
            let _ = writeln!(
                out,
                "- 質問: {}",
                if p.questions.is_empty() {
                    "なし".to_owned()
                } else {
                    p.questions
                        .iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join("、")
                }
            );
            if !p.documents.is_empty() {
                let _ = writeln!(
                    out,
                    "- 持ち物: {}",
                    p.documents
                        .iter()
                        .map(|d| d.ja.as_str())
                        .collect::<Vec<_>>()
                        .join(" / ")
                );
            }
            let _ = writeln!(
                out,
                "- 規則: `{}`",
                serde_json::to_string(&p.rule_source).unwrap_or_default()
            );
            for e in &p.examples {
                let outcomes: Vec<String> = e
                    .outcomes()
                    .iter()
                    .map(|(m, x)| match m {
                        Some(m) => format!("{m}: {}", x.ja()),
                        None => x.ja().to_owned(),
                    })
                    .collect();
                let _ = writeln!(out, "- 例: {} → {}", e.title, outcomes.join("、"));
            }
            let _ = writeln!(out);
        }
    }
    let _ = writeln!(out, "## 団体が定める値\n");
    let _ = writeln!(
        out,
        "| 名前 | 内容 | この団体の値 | 既定値 | 設定できる範囲 | 使う手続 |\n|---|---|---|---|---|---|"
    );
    for (name, def, value) in catalog.parameters.iter() {
        let users: Vec<String> = catalog
            .procedures
            .iter()
            .filter(|p| p.parameters.contains(name))
            .map(|p| format!("`{}`", p.id))
            .collect();
        let _ = writeln!(
            out,
            "| `{name}` | {} | {value}{unit} | {}{unit} | {}〜{}{unit} | {} |",
            def.label.ja,
            def.default,
            def.minimum,
            def.maximum,
            users.join("、"),
            unit = def.unit.ja
        );
    }
    let _ = writeln!(out);
    lacking(
        &mut out,
        catalog,
        "根拠条文の記載がない手続",
        |p| !names_an_article(&p.legal_basis.ja),
        |p| p.legal_basis.ja.clone(),
    );
    let _ = writeln!(out);
    lacking(
        &mut out,
        catalog,
        "例のない手続",
        |p| p.examples.is_empty(),
        |p| p.name.ja.clone(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forms::{FormRegistry, SchemaSource};

    #[test]
    fn every_procedure_is_reported_with_its_article_and_the_facts_it_reads() {
        let forms = FormRegistry::load(&SchemaSource::Embedded).unwrap();
        let catalog = Catalog::load(&SchemaSource::Embedded, &forms).unwrap();
        let report = markdown(&catalog, "手続一覧");
        for p in &catalog.procedures {
            assert!(report.contains(&format!("(`{}`)", p.id)), "{}", p.id);
        }
        let move_in = report
            .split("### ")
            .find(|s| s.contains("(`moveInNotification`)"))
            .unwrap();
        assert!(move_in.contains("住民基本台帳法第22条"), "{move_in}");
        assert!(move_in.contains("`event.from`"), "{move_in}");
        assert!(move_in.contains("14日(翌日起算"), "{move_in}");
        let birth = report
            .split("### ")
            .find(|s| s.contains("(`birthRegistration`)"))
            .unwrap();
        assert!(birth.contains("当日起算"), "{birth}");
        let ltc = report
            .split("### ")
            .find(|s| s.contains("(`ltcCertificationTransfer`)"))
            .unwrap();
        assert!(
            ltc.contains("- 例: 38歳は介護保険の被保険者ではない → m1: 不要"),
            "{ltc}"
        );
        assert!(report.contains("## 例のない手続\n\nなし"), "{report}");
        assert!(report.contains("## 根拠条文の記載がない手続"));
        assert!(
            report.contains("| `sealRegistration.minimumAge` | 印鑑登録ができる年齢 | 15歳 | 15歳 | 15〜20歳 | `sealRegistrationMoveIn` |"),
            "{report}"
        );
        assert!(names_an_article("住民基本台帳法第22条"));
        assert!(names_an_article("市子ども医療費助成条例"));
        assert!(!names_an_article("民法"));
    }
}
