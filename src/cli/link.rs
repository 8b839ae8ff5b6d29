//! `madoguchi link …`: the resident directory from the 住民記録 system's files, and the
//! outbox's deliveries and their replay, at the command line (recorded in the audit log as
//! the operator).

use std::process::ExitCode;
use std::sync::Arc;

use super::{LinkCommand, jst, print_json};
use crate::audit::Actor;
use crate::config::Settings;
use crate::forms::FormRegistry;
use crate::link::import::{FileToImport, ImportError, Importer, Outcome, Phase, Progress};
use crate::link::outbox::{Delivery, DeliveryState};
use crate::residents::file::FileKind;
use crate::secrets::ServerKey;
use crate::store::Replay;
use crate::tenancy::LgCode;

/// Exit status of a file with bad rows (nothing applied).
const BAD_FILE: u8 = 2;
/// Exit status of a replay that named a delivery it could not replay.
const SOME_REFUSED: u8 = 2;

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
                relationships: crate::residents::file::relationships(&forms),
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
        LinkCommand::Watch {
            dir,
            lg_code,
            interval_ms,
        } => watch(settings, &store, &dir, &lg_code, interval_ms).await,
        LinkCommand::Deliveries {
            lg_code,
            state,
            limit,
            json,
        } => {
            let code = lg_code
                .as_deref()
                .map(|c| LgCode::parse(c).map_err(|e| format!("{c}: {e}")))
                .transpose()?;
            let state = state.as_deref().and_then(DeliveryState::parse);
            let list = store
                .deliveries(code.as_ref(), state, None, limit)
                .await
                .map_err(|e| e.to_string())?
                .items;
            if json {
                let items: Vec<_> = list.into_iter().map(delivery_json).collect();
                print_json(&items)?;
            } else {
                for d in list {
                    println!(
                        "{}  {}  {:<9}  {} {}/{}  attempts {}  next {}{}",
                        d.id,
                        jst(d.created_at),
                        d.state.as_str(),
                        d.connector.as_str(),
                        d.lg_code,
                        d.area,
                        d.attempts,
                        jst(d.next_attempt_at),
                        d.last_error
                            .map(|e| format!("\n    {e}"))
                            .unwrap_or_default()
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        LinkCommand::Replay {
            ids,
            all_dead,
            lg_code,
        } => {
            let ids = if all_dead {
                let code = lg_code
                    .as_deref()
                    .map(|c| LgCode::parse(c).map_err(|e| format!("{c}: {e}")))
                    .transpose()?;
                let mut ids = Vec::new();
                let mut after = None;
                loop {
                    let page = store
                        .deliveries(code.as_ref(), Some(DeliveryState::Dead), after, 500)
                        .await
                        .map_err(|e| e.to_string())?;
                    ids.extend(page.items.iter().map(|d| d.id));
                    match page.items.last() {
                        Some(last) if page.next_after.is_some() => after = Some(last.id),
                        _ => break,
                    }
                }
                ids
            } else if ids.is_empty() {
                return Err("name the deliveries to replay, or --all-dead".to_owned());
            } else {
                ids
            };
            let actor = Actor::cli();
            let mut refused = 0;
            for id in &ids {
                match store
                    .replay_delivery(*id, &actor)
                    .await
                    .map_err(|e| e.to_string())?
                {
                    Replay::Done(_) => println!("{id}: pending again"),
                    Replay::NotFound => {
                        refused += 1;
                        eprintln!("{id}: no such delivery");
                    }
                    Replay::NotDead(state) => {
                        refused += 1;
                        eprintln!(
                            "{id}: {} (only a dead delivery is replayed)",
                            state.as_str()
                        );
                    }
                }
            }
            println!("{} replayed", ids.len() - refused);
            Ok(if refused == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(SOME_REFUSED)
            })
        }
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

/// The files waiting in `dir`: `full-*.csv` and `diff-*.csv`, in name order.
fn waiting(dir: &std::path::Path) -> Result<Vec<(std::path::PathBuf, FileKind)>, String> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(kind) = FileKind::of_file_name(name).filter(|_| path.is_file()) else {
            continue;
        };
        files.push((path, kind));
    }
    // By what follows the prefix (a timestamp or sequence number), a full file first on a tie.
    files.sort_by_key(|(path, kind)| {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        (name[5..].to_owned(), *kind == FileKind::Diff)
    });
    Ok(files)
}

/// Moves `file` into `dir/sub/`.
fn move_into(
    file: &std::path::Path,
    dir: &std::path::Path,
    sub: &str,
) -> Result<std::path::PathBuf, String> {
    let target_dir = dir.join(sub);
    std::fs::create_dir_all(&target_dir).map_err(|e| format!("{}: {e}", target_dir.display()))?;
    let target = target_dir.join(file.file_name().unwrap_or_default());
    std::fs::rename(file, &target).map_err(|e| format!("{}: {e}", file.display()))?;
    Ok(target)
}

async fn watch(
    settings: &Settings,
    store: &crate::store::Store,
    dir: &std::path::Path,
    lg_code: &str,
    interval_ms: u64,
) -> Result<ExitCode, String> {
    let code = LgCode::parse(lg_code).map_err(|e| format!("{lg_code}: {e}"))?;
    let forms = FormRegistry::load(&settings.schemas.source()).map_err(|e| e.to_string())?;
    let server_key = ServerKey::load(settings, false).map_err(|e| e.to_string())?;
    let importer = Importer {
        store,
        eras: forms.eras.clone(),
        relationships: crate::residents::file::relationships(&forms),
        allow_my_number: settings.link.accept_my_number,
        server_key: server_key.as_ref(),
    };
    eprintln!(
        "watching {} for full-*.csv and diff-*.csv of {code}",
        dir.display()
    );
    let quiet: Arc<dyn Fn(Progress) + Send + Sync> = Arc::new(|_| {});
    // After a refused file, later differential files may depend on what it would have done:
    // they wait until a full file (or the operator, restarting the watch) settles it.
    let mut held = false;
    loop {
        for (path, kind) in waiting(dir)? {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if held && kind == FileKind::Diff {
                continue;
            }
            let file = FileToImport {
                lg_code: code.to_string(),
                kind,
                path: path.clone(),
                file_name: name.clone(),
                staff: Actor::cli().staff,
                client_id: Actor::cli().client_id,
            };
            match importer
                .import_audited(&file, &Actor::cli(), quiet.clone())
                .await
            {
                Ok(Outcome::Applied(r)) => {
                    held = false;
                    move_into(&path, dir, "done")?;
                    println!(
                        "{name}: applied, {} rows, {} added, {} changed, {} removed",
                        r.rows, r.added, r.changed, r.removed
                    );
                }
                Ok(Outcome::Unchanged(_)) => {
                    move_into(&path, dir, "done")?;
                    println!("{name}: unchanged (applied before)");
                }
                Err(ImportError::Rows { errors, more }) => {
                    held = true;
                    let target = move_into(&path, dir, "rejected")?;
                    let mut report: String = errors
                        .iter()
                        .map(|e| format!("{}\n{}\n", e.message.ja, e.message.en))
                        .collect();
                    if more > 0 {
                        report.push_str(&format!("ほか{more}件 / and {more} more\n"));
                    }
                    let report_path = target.with_file_name(format!("{name}.errors.txt"));
                    std::fs::write(&report_path, report)
                        .map_err(|e| format!("{}: {e}", report_path.display()))?;
                    println!(
                        "{name}: rejected, nothing applied ({} problems; see {}); later diff files wait for a full file or a restart",
                        errors.len() as u64 + more,
                        report_path.display()
                    );
                }
                // The database or the file system: leave the file, try again next time.
                Err(e) => eprintln!("{name}: not applied, will try again: {e}"),
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(interval_ms)).await;
    }
}

fn delivery_json(d: Delivery) -> serde_json::Value {
    serde_json::json!({
        "deliveryId": d.id,
        "applicationId": d.application_id,
        "lgCode": d.lg_code,
        "area": d.area,
        "connector": d.connector.as_str(),
        "state": d.state.as_str(),
        "attempts": d.attempts,
        "nextAttemptAt": d.next_attempt_at,
        "lastError": d.last_error,
        "createdAt": d.created_at,
        "updatedAt": d.updated_at,
        "deliveredAt": d.delivered_at,
    })
}
