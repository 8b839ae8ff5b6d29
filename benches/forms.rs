//! Forms benchmark: normalize + validate per form (criterion), then validation alone side
//! by side with ajv (Node) on the same schemas and documents, printing both throughputs and
//! the ratio. Run with `cargo bench --bench forms`; the ajv side needs
//! `npm ci --prefix benches/ajv` once (the bench runs it when node_modules is missing).
//! `AJV_SECONDS` sets the time per form and round of the side-by-side run (default 1),
//! `AJV_ROUNDS` the rounds (default 3, the best counts on each side); `FORMS_SCHEMAS`
//! points both sides at an edited copy of `schemas/`.
//!
//! Targets (issue 3): validation alone at least as fast as ajv on one core; normalize +
//! validate of a typical 住民異動届 under 50 µs.

use std::hint::black_box;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use criterion::Criterion;
use madoguchi::forms::{FormRegistry, SchemaSource};
use serde_json::{Value, json};

/// A 住民異動届 as a clerk types it: 和暦, hiragana and half-width kana, full-width digits,
/// 番地 in kanji, a 5-digit lgCode. Every field needs the normalizer.
fn typed_resident_move(example: &Value) -> Value {
    let mut doc = example.clone();
    doc["notificationDate"] = json!("令和8年4月3日");
    doc["moveDate"] = json!("R8.3.28");
    doc["applicant"]["familyNameKana"] = json!("やまだ");
    doc["applicant"]["givenNameKana"] = json!("ﾀﾛｳ");
    doc["applicant"]["contact"]["phone"] = json!("０９０－１２３４－５６７８");
    doc["fromAddress"]["postalCode"] = json!("0600001");
    doc["fromAddress"]["cityBlock"] = json!("２丁目１番");
    doc["toAddress"]["postalCode"] = json!("〒０９０－００２４");
    doc["toAddress"]["cityBlock"] = json!("三丁目二番一号");
    doc["toAddress"]["lgCode"] = json!("01208");
    let births = ["昭和63年7月14日", "H2.2.3", "令和3年11月20日"];
    for (i, birth) in births.iter().enumerate() {
        doc["members"][i]["dateOfBirth"] = json!(birth);
        doc["members"][i]["familyNameKana"] = json!("ﾔﾏﾀﾞ");
    }
    doc["members"][0]["myNumber"] = json!("1234 5678 9018");
    doc
}

fn benches(c: &mut Criterion, forms: &FormRegistry) {
    let resident = forms
        .form("residentMove", None)
        .ok()
        .unwrap_or_else(|| unreachable!());
    let typed = typed_resident_move(&resident.examples()[0]);
    let check = forms.validate(resident, typed.clone(), None);
    assert!(check.valid(), "{:?}", check.errors);
    c.bench_function(
        "normalize+validate/residentMove typed (all fields need normalizing)",
        |b| b.iter(|| forms.validate(resident, black_box(typed.clone()), None)),
    );
    let mut group = c.benchmark_group("normalize+validate");
    for form in forms.forms() {
        let example = form.examples()[0].clone();
        group.bench_function(format!("{}@{}", form.id, form.version), |b| {
            b.iter(|| forms.validate(form, black_box(example.clone()), None))
        });
    }
    group.finish();
    let mut group = c.benchmark_group("validate-only");
    for form in forms.forms() {
        let example = &form.examples()[0];
        group.bench_function(format!("{}@{}", form.id, form.version), |b| {
            b.iter(|| form.validator.is_valid(black_box(example)))
        });
    }
    group.finish();
}

/// Validations per second on this thread, over about `seconds`.
fn rust_rate(validator: &madoguchi::forms::FormValidator, doc: &Value, seconds: f64) -> f64 {
    for _ in 0..2000 {
        black_box(validator.is_valid(doc));
    }
    let start = Instant::now();
    let budget = Duration::from_secs_f64(seconds);
    let mut n = 0u64;
    while start.elapsed() < budget {
        for _ in 0..1000 {
            black_box(validator.is_valid(black_box(doc)));
        }
        n += 1000;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn ajv_rates(forms: &FormRegistry, seconds: f64, rounds: u32) -> Result<Value, String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/ajv");
    if !std::path::Path::new(dir).join("node_modules/ajv").exists() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--prefix", dir])
            .status()
            .map_err(|e| format!("npm: {e}"))?;
        if !status.success() {
            return Err("npm ci failed".to_owned());
        }
    }
    let schemas: Vec<&Value> = forms
        .common()
        .iter()
        .map(|c| &c.schema)
        .chain(forms.forms().iter().map(|f| &f.schema))
        .collect();
    let cases: Vec<Value> = forms
        .forms()
        .iter()
        .map(|f| json!({"id": f.uri, "document": f.examples()[0]}))
        .collect();
    let job = json!({"schemas": schemas, "cases": cases, "seconds": seconds, "rounds": rounds});
    let mut child = Command::new("node")
        .arg(format!("{dir}/validate.mjs"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("node: {e}"))?;
    child
        .stdin
        .take()
        .ok_or("no stdin")?
        .write_all(job.to_string().as_bytes())
        .map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err("the ajv script failed".to_owned());
    }
    serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())
}

/// Reads a positive number from the environment, or `default`.
fn env_number<T: std::str::FromStr + PartialOrd + Default>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|v| *v > T::default())
        .unwrap_or(default)
}

fn compare_with_ajv(forms: &FormRegistry) {
    let seconds: f64 = env_number("AJV_SECONDS", 1.0);
    let rounds: u32 = env_number("AJV_ROUNDS", 3);
    println!(
        "\nValidation alone, one thread each, same schemas and documents (valid examples); \
         best of {rounds} rounds of {seconds} s per form on each side:"
    );
    let ajv = match ajv_rates(forms, seconds, rounds) {
        Ok(a) => a,
        Err(e) => {
            println!("ajv comparison skipped: {e}");
            return;
        }
    };
    let mut ours = vec![0.0f64; forms.forms().len()];
    for _ in 0..rounds {
        for (best, form) in ours.iter_mut().zip(forms.forms()) {
            *best = best.max(rust_rate(&form.validator, &form.examples()[0], seconds));
        }
    }
    println!(
        "{:<32} {:>14} {:>14} {:>7}",
        "form", "madoguchi /s", "ajv /s", "ratio"
    );
    let mut log_sum = 0.0;
    let mut lowest = f64::INFINITY;
    for (form, ours) in forms.forms().iter().zip(&ours) {
        let theirs = ajv[&form.uri].as_f64().unwrap_or(f64::NAN);
        let ratio = ours / theirs;
        log_sum += ratio.ln();
        lowest = lowest.min(ratio);
        println!(
            "{:<32} {:>14.0} {:>14.0} {:>7.2}",
            format!("{}@{}", form.id, form.version),
            ours,
            theirs,
            ratio
        );
    }
    println!(
        "geometric mean ratio (madoguchi / ajv): {:.2}; lowest: {:.2}",
        (log_sum / ours.len() as f64).exp(),
        lowest
    );
}

fn main() {
    // FORMS_SCHEMAS=<dir> measures an edited copy of `schemas/` (same layout) instead of
    // the built-in set, on both sides.
    let source = std::env::var_os("FORMS_SCHEMAS")
        .map(|dir| SchemaSource::Directory(dir.into()))
        .unwrap_or(SchemaSource::Embedded);
    let forms = FormRegistry::load(&source).unwrap_or_else(|e| unreachable!("{e}"));
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    benches(&mut criterion, &forms);
    criterion.final_summary();
    compare_with_ajv(&forms);
}
