//! `report.html`: one self-contained, printable page (inline CSS, no script, nothing fetched).
//! The summary first (verdict, requirements by level, tests by outcome), then each requirement
//! with its checks and, for each check that failed, the exchange that shows it.

use std::collections::BTreeMap;

use maud::{DOCTYPE, Markup, html};

use super::{Outcome, Report, RequirementResult, Status, TestResult};
use crate::conformance::exchange::Exchange;

const STYLE: &str = "
body{font-family:'BIZ UDPGothic','Yu Gothic','Meiryo','Noto Sans JP','IPAPGothic',sans-serif;margin:2rem auto;max-width:72rem;color:#1a1a1c;line-height:1.6;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.25rem}h2{font-size:1.25rem;border-bottom:2px solid #ddd;margin-top:2rem}
.verdict{display:inline-block;padding:.4rem 1rem;border-radius:.4rem;font-weight:bold;font-size:1.2rem;color:#fff}
.conformant{background:#197a4b}.not_conformant{background:#c42f2f}.incomplete{background:#a15c00}
table{border-collapse:collapse;margin:.5rem 0;width:100%}th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f2f2f2}.num{text-align:right}
.met,.pass{color:#197a4b}.not_met,.fail{color:#c42f2f;font-weight:bold}.not_verified,.error,.warn{color:#a15c00;font-weight:bold}
.not_applicable,.not_tested,.omit{color:#555}
.req{border:1px solid #ddd;border-radius:.4rem;padding:.5rem 1rem;margin:.75rem 0;break-inside:avoid}
.req h3{font-size:1rem;margin:.25rem 0}.en{color:#444}.source{color:#555;font-size:.9rem}
.actual{white-space:pre-wrap}
pre{background:#f7f7f7;padding:.5rem;overflow-x:auto;white-space:pre-wrap;word-break:break-all;font-size:.8rem}
.note{background:#fff8e1;border-left:4px solid #a15c00;padding:.5rem 1rem}
";

fn status_label(s: Status) -> (&'static str, &'static str) {
    match s {
        Status::Met => ("met", "適合"),
        Status::NotMet => ("not_met", "不適合"),
        Status::NotVerified => ("not_verified", "未確認"),
        Status::NotApplicable => ("not_applicable", "対象外"),
        Status::NotTested => ("not_tested", "検査なし"),
    }
}

fn verdict_label(report: &Report) -> &'static str {
    match report.verdict {
        super::Verdict::Conformant => "適合 conformant",
        super::Verdict::NotConformant => "不適合 not conformant",
        super::Verdict::Incomplete => "未完了 incomplete",
    }
}

fn exchange_block(exchange: Option<&Exchange>, file: Option<&String>) -> Markup {
    html! {
        @if let Some(e) = exchange {
            details {
                summary { "証跡 evidence: " (e.summary()) @if let Some(f) = file { " — " code { (f) } } }
                pre { (serde_json::to_string_pretty(e).unwrap_or_default()) }
            }
        }
    }
}

fn requirement_block(
    r: &RequirementResult,
    tests: &[TestResult],
    exchanges: &BTreeMap<u32, &Exchange>,
) -> Markup {
    let (class, ja) = status_label(r.status);
    let checks: Vec<(&TestResult, &crate::conformance::suite::Check)> = tests
        .iter()
        .flat_map(|t| t.checks.iter().map(move |c| (t, c)))
        .filter(|(_, c)| c.requirement == r.id)
        .collect();
    let failed: Vec<_> = checks.iter().filter(|(_, c)| !c.passed).collect();
    html! {
        div.req id=(r.id) {
            h3 { span class=(class) { (ja) " " (class) } " · " (r.level.as_str()) " · " code { (r.id) } }
            p { (r.text.ja) br; span.en { (r.text.en) } }
            p.source { "出典 source: " (r.source) " · 検査 tests: " (r.tests.join(", ")) " · " (checks.len()) " checks" }
            @if let Some(why) = &r.why { p.source { (why) } }
            @for (t, c) in &failed {
                div {
                    p { strong { (t.id) } ": 期待 expected: " (c.expected) br; "結果 actual: " strong.actual { (c.actual) } }
                    @let file = c.exchange.map(|n| super::evidence_path(&t.id, n));
                    (exchange_block(c.exchange.and_then(|n| exchanges.get(&n).copied()), file.as_ref()))
                }
            }
        }
    }
}

pub fn render(report: &Report, exchanges: &[Exchange]) -> String {
    let by_n: BTreeMap<u32, &Exchange> = exchanges.iter().map(|e| (e.n, e)).collect();
    let levels = ["SHALL", "SHOULD", "MAY"];
    let outcomes = [
        Outcome::Pass,
        Outcome::Warn,
        Outcome::Fail,
        Outcome::Error,
        Outcome::Omit,
    ];
    let mut ordered: Vec<&RequirementResult> = report.requirements.iter().collect();
    // What needs attention first: not met, not verified, then the rest in catalogue order.
    ordered.sort_by_key(|r| match r.status {
        Status::NotMet => 0,
        Status::NotVerified => 1,
        _ => 2,
    });
    let page = html! {
        (DOCTYPE)
        html lang="ja" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "適合性検査報告 " (report.suite) " — " (report.verdict.as_str()) }
                style { (STYLE) }
            }
            body {
                header {
                    h1 { "適合性検査報告 Conformance report" }
                    p { "スイート suite " code { (report.suite) } " · 対象 system under test " code { (report.sut.base_url) }
                        @if let Some(p) = &report.sut.product { " (" (p) ")" } }
                    p id="verdict" { span class={"verdict " (report.verdict.as_str())} { (verdict_label(report)) } }
                    p.note { "この報告は、署名を検証した証跡パッケージ(manifest.json と manifest.jws)の中にあるときだけ証拠になります。 "
                        "This report is evidence only inside a package whose signature verifies (madoguchi conformance verify-report)." }
                }
                section id="summary" {
                    h2 { "概要 Summary" }
                    table {
                        thead { tr { th { "水準 level" } th.num { "計 total" } th.num { "適合 met" } th.num { "不適合 not met" } th.num { "未確認 not verified" } th.num { "対象外 not applicable" } th.num { "検査なし not tested" } } }
                        tbody {
                            @for level in levels {
                                @if let Some(c) = report.counts.requirements.get(level) {
                                    tr { th { (level) } td.num { (c.total) } td.num.met { (c.met) }
                                        td.num class=(if c.not_met > 0 { "not_met" } else { "" }) { (c.not_met) }
                                        td.num class=(if c.not_verified > 0 { "not_verified" } else { "" }) { (c.not_verified) }
                                        td.num { (c.not_applicable) } td.num { (c.not_tested) } }
                                }
                            }
                        }
                    }
                    table {
                        thead { tr { th { "検査 tests" } @for o in outcomes { th.num { (o.as_str()) } } } }
                        tbody { tr { td { (report.tests.len()) } @for o in outcomes {
                            @let n = report.counts.tests.get(o.as_str()).copied().unwrap_or(0);
                            td.num class=(if n > 0 { o.as_str() } else { "" }) { (n) } } } }
                    }
                    p { "検査キット kit " (report.kit.name) " " (report.kit.version) " · 要件集 catalogue " (report.catalogue.set) " " (report.catalogue.version) " " code { (report.catalogue.digest) } }
                    p { "開始 started " (report.started_at) " · 所要 " (format!("{:.1}", report.duration_ms as f64 / 1000.0)) " s · 自治体 lgCode " (if report.sut.lg_code.is_empty() { "—" } else { &report.sut.lg_code })
                        " · 機能 capabilities: " (if report.sut.capabilities.is_empty() { "—".to_owned() } else { report.sut.capabilities.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ") }) }
                }
                section id="requirements" {
                    h2 { "要件 Requirements" }
                    @for r in ordered { (requirement_block(r, &report.tests, &by_n)) }
                }
                section id="tests" {
                    h2 { "検査 Tests" }
                    table {
                        thead { tr { th { "id" } th { "題 title" } th { "結果 outcome" } th.num { "checks" } th.num { "ms" } th { "理由 reason" } } }
                        tbody {
                            @for t in &report.tests {
                                tr { td { code { (t.id) } } td { (t.title.ja) br; span.en { (t.title.en) } } td class=(t.outcome.as_str()) { (t.outcome.as_str()) }
                                    td.num { (t.checks.len()) } td.num { (t.duration_ms) } td { (t.reason.clone().unwrap_or_default()) } }
                            }
                        }
                    }
                }
            }
        }
    };
    page.into_string()
}
