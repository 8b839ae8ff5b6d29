//! `madoguchi link import` and `link imports`: the resident directory from the 住民記録
//! system's files, at the command line (recorded in the audit log as the operator).

use std::process::ExitCode;
use std::sync::Arc;

use super::{LinkCommand, jst, print_json};
use crate::audit::Actor;
use crate::config::Settings;
use crate::forms::FormRegistry;
use crate::link::directory::FileKind;
use crate::link::import::{self, FileToImport, ImportError, Importer, Outcome, Phase, Progress};
use crate::secrets::ServerKey;
use crate::tenancy::LgCode;

/// Exit status of a file with bad rows (nothing applied).
const BAD_FILE: u8 = 2;

pub async fn run(settings: &Settings, command: LinkCommand) -> Result<ExitCode, String> {
    if let LinkCommand::Sample {
        file,
        lg_code,
        residents,
    } = &command
    {
        let out = std::fs::File::create(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let mut out = std::io::BufWriter::new(out);
        crate::link::sample::write_full(&mut out, lg_code, *residents)
            .and_then(|()| std::io::Write::flush(&mut out))
            .map_err(|e| format!("{}: {e}", file.display()))?;
        println!("{residents} residents written to {}", file.display());
        return Ok(ExitCode::SUCCESS);
    }
    let store = super::admin::store(settings).await?;
    match command {
        LinkCommand::Import {
            file,
            lg_code,
            kind,
            json,
        } => {
            let code = LgCode::parse(&lg_code).map_err(|e| format!("{lg_code}: {e}"))?;
            if store
                .municipality(&code)
                .await
                .map_err(|e| e.to_string())?
                .is_none()
            {
                return Err(format!(
                    "municipality {code} is not registered (madoguchi municipalities create …)"
                ));
            }
            let kind =
                FileKind::parse(&kind).ok_or_else(|| format!("--kind {kind}: full or diff"))?;
            let forms =
                FormRegistry::load(&settings.schemas.source()).map_err(|e| e.to_string())?;
            let server_key = ServerKey::load(settings, false).map_err(|e| e.to_string())?;
            let importer = Importer {
                store: &store,
                eras: forms.eras.clone(),
                relationships: import::relationships(&forms),
                allow_my_number: settings.link.accept_my_number,
                server_key: server_key.as_ref(),
            };
            let to_import = FileToImport {
                lg_code: code.to_string(),
                kind,
                file_name: file
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                path: file,
                staff: Actor::cli().staff,
                client_id: Actor::cli().client_id,
            };
            let progress: Arc<dyn Fn(Progress) + Send + Sync> =
                Arc::new(|p: Progress| match (p.phase, p.rows_total) {
                    (Phase::Checking, _) => {
                        eprintln!("確認中 / checking: {} rows", p.rows_done)
                    }
                    (Phase::Applying, Some(total)) if total > 0 => eprintln!(
                        "取込み中 / applying: {}/{} rows ({}%)",
                        p.rows_done,
                        total,
                        p.rows_done * 100 / total
                    ),
                    _ => {}
                });
            match importer
                .import_audited(&to_import, &Actor::cli(), progress)
                .await
            {
                Ok(outcome) => {
                    let (record, unchanged) = match &outcome {
                        Outcome::Applied(r) => (r, false),
                        Outcome::Unchanged(r) => (r, true),
                    };
                    if json {
                        print_json(&serde_json::json!({
                            "unchanged": unchanged,
                            "import": record,
                        }))?;
                    } else if unchanged {
                        println!(
                            "unchanged: the same file was applied at {} (import {})",
                            jst(record.finished_at),
                            record.id
                        );
                    } else {
                        println!(
                            "applied {} file {}: {} rows, {} added, {} changed, {} removed (import {})",
                            record.kind,
                            record.file_name,
                            record.rows,
                            record.added,
                            record.changed,
                            record.removed,
                            record.id
                        );
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(ImportError::Rows { errors, more }) => {
                    if json {
                        print_json(&serde_json::json!({
                            "applied": false,
                            "errors": errors.iter().map(|e| serde_json::json!({
                                "line": e.line, "column": e.column, "message": e.message.ja, "messageEn": e.message.en,
                            })).collect::<Vec<_>>(),
                            "moreErrors": more,
                        }))?;
                    } else {
                        for e in &errors {
                            eprintln!("{}", e.message.ja);
                        }
                        if more > 0 {
                            eprintln!("ほか{more}件 / and {more} more");
                        }
                        eprintln!("何も取り込んでいません / nothing was applied");
                    }
                    Ok(ExitCode::from(BAD_FILE))
                }
                Err(e) => Err(e.to_string()),
            }
        }
        LinkCommand::Sample { .. } => Ok(ExitCode::SUCCESS),
        LinkCommand::Imports { lg_code, json } => {
            let code = LgCode::parse(&lg_code).map_err(|e| format!("{lg_code}: {e}"))?;
            let imports = store
                .directory_imports(&code.to_string(), 50)
                .await
                .map_err(|e| e.to_string())?;
            let size = store
                .directory_size(&code.to_string())
                .await
                .map_err(|e| e.to_string())?;
            if json {
                print_json(&serde_json::json!({"residents": size, "imports": imports}))?;
            } else {
                println!("{code}: {size} residents");
                for r in imports {
                    println!(
                        "{}  {:<4}  {:>8} rows  +{} ~{} -{}  {}  {}",
                        jst(r.finished_at),
                        r.kind,
                        r.rows,
                        r.added,
                        r.changed,
                        r.removed,
                        r.file_name,
                        r.id
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
