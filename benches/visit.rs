//! Visit benchmark: determination of a six-member household against the whole procedure
//! catalogue, with every reason and question rendered (what `GET …/determination` computes),
//! with no answer yet (the most questions) and with every answer given. Criterion gives the
//! mean; a timed loop of single calls then prints p50, p99 and the maximum, on one thread.
//! Run with `cargo bench --bench visit`. Target (issue 10): p99 under 1 ms on one core.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use madoguchi::catalog::Catalog;
use madoguchi::forms::{FormRegistry, SchemaSource};
use madoguchi::i18n::Lang;
use madoguchi::print::{Booklet, Typeface, print};
use madoguchi::visits::input::{self, Context, NewAnswer, NewApplicant, NewEvent, NewMember};
use madoguchi::visits::{Explainer, Household, Visit, determine, drafts, evaluate, printouts};
use serde_json::{Value, json};

fn member(
    id: &str,
    family: &str,
    given: &str,
    rel: &str,
    birth: &str,
    insurance: &str,
) -> NewMember {
    NewMember {
        id: id.to_owned(),
        facts: vec![
            ("familyName".into(), json!(family)),
            ("givenName".into(), json!(given)),
            ("relationship".into(), json!(rel)),
            ("dateOfBirth".into(), json!(birth)),
            ("insurance".into(), json!(insurance)),
        ],
    }
}

fn household(ctx: &Context<'_>, answered: bool) -> Household {
    let members = vec![
        member("m1", "山田", "一郎", "世帯主", "1981-05-01", "employee"),
        member("m2", "山田", "恵子", "妻", "1983-08-12", "employee"),
        member("m3", "山田", "茂", "父", "1948-02-20", "lateStage"),
        member("m4", "山田", "幸子", "母", "1952-11-03", "nationalHealth"),
        member("m5", "山田", "翔太", "子", "2011-06-30", "employee"),
        member("m6", "山田", "結菜", "子", "2016-01-15", "employee"),
    ];
    let mut answers = Vec::new();
    if answered {
        let each = |fact: &'static str, value: Value| {
            (1..=6).map(move |i| NewAnswer {
                fact: fact.to_owned(),
                member: Some(format!("m{i}")),
                event: None,
                value: value.clone(),
            })
        };
        answers.extend(each("member.hasMyNumberCard", json!(true)));
        answers.extend(each("member.hasDisabilityCertificate", json!(false)));
        answers.extend(each("member.wantsSealRegistration", json!(false)));
        answers.extend(each("member.longTermCareCertified", json!(false)));
        answers.extend(each("member.wantsLateStageByDisability", json!(false)));
        for (fact, value) in [
            ("household.claimantIsPublicServant", json!(false)),
            ("household.ownsMoped", json!(false)),
            ("household.needsWaterService", json!(true)),
        ] {
            answers.push(NewAnswer {
                fact: fact.to_owned(),
                member: None,
                event: None,
                value,
            });
        }
    }
    input::household(
        ctx,
        vec![NewEvent {
            kind: "moveIn".into(),
            date: "2026-12-01".into(),
            subjects: Vec::new(),
            facts: vec![
                ("from".into(), json!("otherMunicipality")),
                ("cardSpecialMoveIn".into(), json!(false)),
            ],
        }],
        members,
        NewApplicant {
            member: Some("m1".into()),
            name: None,
        },
        answers,
    )
    .unwrap_or_else(|e| unreachable!("{e:?}"))
}

/// What the API computes for one determination: decide, then render every reason and
/// question in one language.
fn determination(catalog: &Catalog, forms: &FormRegistry, h: &Household) -> usize {
    let d = determine(catalog, h);
    let ex = Explainer {
        catalog,
        eras: &forms.eras,
        household: h,
        lang: Lang::Ja,
    };
    let mut bytes = 0;
    for decision in &d.decisions {
        bytes += ex.reason(decision).len();
        bytes += ex.refusal(decision).map_or(0, |r| r.len());
    }
    for q in &d.questions {
        bytes += ex.question(q).len();
    }
    bytes
}

/// Determination, then every draft prefilled (what `GET …/drafts` builds before the forms
/// engine); with `validate`, each draft also normalized and validated.
fn with_drafts(catalog: &Catalog, forms: &FormRegistry, h: &Household, validate: bool) -> usize {
    let mut n = determination(catalog, forms, h);
    let d = determine(catalog, h);
    let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 3).unwrap_or_default();
    if validate {
        // What the route calls: every draft built, normalized and validated.
        for draft in evaluate(forms, catalog, h, &d, today) {
            n += draft.prefilled + draft.errors.len();
        }
        return n;
    }
    for spec in drafts::specs(catalog, h, &d) {
        let Ok(form) = forms.form(&spec.form_id, Some(&spec.form_version)) else {
            continue;
        };
        n += drafts::build(catalog, &form.plan, h, &spec, None, today).prefilled;
    }
    n
}

/// Everything `GET …/printouts` does after reading the visit: determination, every draft
/// prefilled and validated, each laid out as a form sheet, the receipt, and the PDF written
/// with the typeface subset embedded. Returns the PDF's size.
fn printouts(
    catalog: &Catalog,
    forms: &FormRegistry,
    face: &Typeface,
    visit: &Visit,
) -> (usize, usize) {
    let h = &visit.household;
    let d = determine(catalog, h);
    let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 3).unwrap_or_default();
    let cx = printouts::Context {
        catalog,
        eras: &forms.eras,
        municipality: "北見市",
        visit,
        determination: &d,
        applications: &[],
    };
    let mut sheets = Vec::new();
    for draft in evaluate(forms, catalog, h, &d, today) {
        sheets.push(printouts::form_sheet(
            &cx,
            &printouts::FormPrint {
                procedure: draft.spec.procedure.clone(),
                form_title: draft.form.title.clone(),
                plan: &draft.form.plan,
                document: draft.document,
                prefilled: draft.prefilled,
                problems: draft
                    .errors
                    .iter()
                    .map(|e| (e.pointer.clone(), e.keyword.clone()))
                    .collect(),
            },
        ));
    }
    sheets.push(printouts::receipt_sheet(&cx));
    let booklet = Booklet {
        title: "届書と受付票".to_owned(),
        keywords: Vec::new(),
        sheets,
    };
    match print(face, &booklet) {
        Ok(printed) => (printed.pdf.len(), printed.pages),
        Err(e) => unreachable!("{e}"),
    }
}

/// One measured computation over a household.
type Run<'a> = dyn Fn(&Household) -> usize + 'a;

fn main() {
    let forms = FormRegistry::load(&SchemaSource::Embedded).unwrap_or_else(|e| unreachable!("{e}"));
    let catalog =
        Catalog::load(&SchemaSource::Embedded, &forms).unwrap_or_else(|e| unreachable!("{e}"));
    let ctx = Context {
        catalog: &catalog,
        eras: &forms.eras,
        now: chrono::Utc::now(),
    };
    let cases = [
        (
            "six members, move-in, nothing answered",
            household(&ctx, false),
        ),
        (
            "six members, move-in, everything answered",
            household(&ctx, true),
        ),
    ];
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    for (name, h) in &cases {
        let d = determine(&catalog, h);
        println!(
            "{name}: {} decisions ({} needed), {} questions, {} procedures in the catalogue",
            d.decisions.len(),
            d.decisions
                .iter()
                .filter(|x| x.outcome == madoguchi::visits::Outcome::Needed)
                .count(),
            d.questions.len(),
            catalog.procedures.len()
        );
        criterion.bench_function(&format!("determination/{name}"), |b| {
            b.iter(|| determination(&catalog, &forms, black_box(h)))
        });
        criterion.bench_function(&format!("determination+prefill/{name}"), |b| {
            b.iter(|| with_drafts(&catalog, &forms, black_box(h), false))
        });
        criterion.bench_function(&format!("determination+prefill+validate/{name}"), |b| {
            b.iter(|| with_drafts(&catalog, &forms, black_box(h), true))
        });
    }
    // Printing: the answered household, as a visit.
    let face = Typeface::embedded().unwrap_or_else(|| unreachable!("the embedded typeface"));
    let now = chrono::Utc::now();
    let visit = Visit {
        id: uuid::Uuid::now_v7(),
        lg_code: "012084".parse().unwrap_or_else(|_| unreachable!("lgCode")),
        status: madoguchi::visits::Status::Open,
        ticket: Some("A-001".to_owned()),
        catalog_version: catalog.digest.clone(),
        household: cases[1].1.clone(),
        opened_at: now,
        opened_on: madoguchi::visits::model::japan_day(now),
        closed_at: None,
        updated_at: now,
        opened_by_client: None,
        opened_by_staff: None,
        counter: None,
        revision: 0,
    };
    let (bytes, pages) = printouts(&catalog, &forms, &face, &visit);
    println!("printouts, six members, everything answered: {pages} pages, {bytes} bytes of PDF");
    criterion.bench_function("printouts/six members, everything answered", |b| {
        b.iter(|| printouts(&catalog, &forms, &face, black_box(&visit)))
    });
    criterion.final_summary();
    let mut times: Vec<Duration> = (0..300)
        .map(|_| {
            let start = Instant::now();
            black_box(printouts(&catalog, &forms, &face, black_box(&visit)));
            start.elapsed()
        })
        .collect();
    times.sort();
    println!(
        "printouts, six members, everything answered: p50 {:?}, p99 {:?}, max {:?} over {} single calls",
        times[times.len() / 2],
        times[times.len() * 99 / 100],
        times[times.len() - 1],
        times.len()
    );
    let runs: [(&str, &Run); 3] = [
        ("determination", &|h| determination(&catalog, &forms, h)),
        ("determination + prefill", &|h| {
            with_drafts(&catalog, &forms, h, false)
        }),
        ("determination + prefill + validate", &|h| {
            with_drafts(&catalog, &forms, h, true)
        }),
    ];
    for ((name, h), (what, run)) in cases.iter().flat_map(|c| runs.iter().map(move |r| (c, r))) {
        let name = format!("{what}, {name}");
        let mut times: Vec<Duration> = (0..10_000)
            .map(|_| {
                let start = Instant::now();
                black_box(run(black_box(h)));
                start.elapsed()
            })
            .collect();
        times.sort();
        let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
        println!(
            "{name}: p50 {:?}, p99 {:?}, max {:?} over {} single calls (target p99 < 1 ms)",
            at(0.50),
            at(0.99),
            times[times.len() - 1],
            times.len()
        );
    }
}
