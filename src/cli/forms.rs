//! `madoguchi forms …`: the form schemas offline, for vendors' CI: no database, no server.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::{Value, json};

use super::{FormsCommand, print_json};
use crate::forms::{FormRegistry, SchemaSource};
use crate::i18n::Lang;

fn registry(schemas: Option<&Path>) -> Result<FormRegistry, String> {
    let source = match schemas {
        Some(dir) => SchemaSource::Directory(dir.to_path_buf()),
        None => SchemaSource::Embedded,
    };
    FormRegistry::load(&source).map_err(|e| e.to_string())
}

pub fn run(command: FormsCommand) -> Result<ExitCode, String> {
    match command {
        FormsCommand::List { json, schemas } => {
            let forms = registry(schemas.as_deref())?;
            if json {
                let items: Vec<Value> = forms
                    .forms()
                    .iter()
                    .map(|f| json!({"id": f.id, "version": f.version, "title": f.title}))
                    .collect();
                print_json(&items)?;
            } else {
                for f in forms.forms() {
                    println!("{}@{}\t{}", f.id, f.version, f.title);
                }
                for d in forms.dialects() {
                    println!("dialect {}\t{}", d.name, d.title);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        FormsCommand::Check {
            form,
            files,
            dialect,
            json,
            lang,
            schemas,
        } => check(
            &form,
            &files,
            dialect.as_deref(),
            json,
            lang.as_deref(),
            schemas.as_deref(),
        ),
    }
}

fn check(
    form: &str,
    files: &[PathBuf],
    dialect: Option<&str>,
    json: bool,
    lang: Option<&str>,
    schemas: Option<&Path>,
) -> Result<ExitCode, String> {
    let lang = match lang {
        None | Some("ja") => Lang::Ja,
        Some("en") => Lang::En,
        Some(other) => return Err(format!("--lang takes ja or en, not {other}")),
    };
    let forms = registry(schemas)?;
    let (id, version) = match form.split_once('@') {
        Some((id, v)) => (id, Some(v)),
        None => (form, None),
    };
    let target = forms
        .form(id, version)
        .map_err(|l| l.text(id, version).en.into_owned())?;
    let dialect = match dialect {
        None => None,
        Some(name) => Some(
            forms
                .dialect_for(name, target)
                .map_err(|l| l.text(name, target).en.into_owned())?,
        ),
    };
    let mut all_valid = true;
    let mut reports = Vec::new();
    for file in files {
        let shown = file.display().to_string();
        let parsed = std::fs::read(file)
            .map_err(|e| format!("cannot read: {e}"))
            .and_then(|bytes| {
                serde_json::from_slice::<Value>(&bytes).map_err(|e| format!("not valid JSON: {e}"))
            });
        let document = match parsed {
            Ok(d) => d,
            Err(e) => {
                all_valid = false;
                if json {
                    reports.push(json!({"file": shown, "valid": false, "error": e}));
                } else {
                    println!("{shown}: {e}");
                }
                continue;
            }
        };
        let processed = forms.validate(target, document, dialect);
        all_valid &= processed.valid();
        if json {
            reports.push(json!({
                "file": shown,
                "valid": processed.valid(),
                "errors": processed.errors.iter().map(|e| json!({
                    "pointer": e.pointer, "keyword": e.keyword, "code": e.code, "message": e.message.get(lang),
                })).collect::<Vec<_>>(),
                "warnings": processed.report.warnings.iter().map(|w| json!({
                    "pointer": w.pointer, "code": w.issue.code, "message": w.issue.message.get(lang),
                    "suggestion": w.issue.suggestion,
                })).collect::<Vec<_>>(),
            }));
            continue;
        }
        if processed.valid() {
            println!("{shown}: OK ({}@{})", target.id, target.version);
        } else {
            println!("{shown}: {} error(s)", processed.errors.len());
        }
        for e in &processed.errors {
            println!(
                "  error   {} [{}] {}",
                display_pointer(&e.pointer),
                e.code,
                e.message.get(lang)
            );
        }
        for w in &processed.report.warnings {
            println!(
                "  warning {} [{}] {}",
                display_pointer(&w.pointer),
                w.issue.code,
                target.label_message(&w.pointer, &w.issue.message).get(lang)
            );
        }
    }
    if json {
        print_json(&reports)?;
    }
    Ok(if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn display_pointer(pointer: &str) -> &str {
    if pointer.is_empty() { "/" } else { pointer }
}
