//! Applying a directory file: read it through once to check every row (and its SHA-256),
//! then again to apply it inside one transaction. Neither pass holds the file in memory: rows
//! come from a reader thread in batches through a bounded channel. A file with any bad row
//! changes nothing; the same file applied again changes nothing either.

use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::forms::era::EraTable;
use crate::i18n::Text;
use crate::residents::file::{
    DirectoryReader, FileCheck, FileKind, Operation, ReadOptions, Row, RowError, check_file,
};
use crate::secrets::ServerKey;
use crate::store::{INSERT_BATCH, Store, StoreError};

/// At most this many problems are listed; the rest are counted.
pub const MAX_ERRORS: usize = 100;

/// A file applied to a municipality's directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportRecord {
    pub id: String,
    pub lg_code: String,
    pub kind: String,
    pub file_name: String,
    pub sha256: String,
    pub rows: u64,
    pub added: u64,
    pub changed: u64,
    pub removed: u64,
    pub staff: Option<String>,
    pub client_id: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
}

/// What an import did.
#[derive(Debug, Clone)]
pub enum Outcome {
    Applied(ImportRecord),
    /// The same bytes were applied before (that import is given): nothing changed.
    Unchanged(ImportRecord),
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Bad rows: nothing was applied.
    #[error("{} problem(s) in the file, nothing applied", errors.len() + *more as usize)]
    Rows { errors: Vec<RowError>, more: u64 },
    #[error("{0}")]
    File(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where an import is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Phase {
    Checking,
    Applying,
    Done,
}

#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    pub phase: Phase,
    pub rows_done: u64,
    /// Known once the file has been checked.
    pub rows_total: Option<u64>,
}

/// What an import needs besides the file.
pub struct Importer<'a> {
    pub store: &'a Store,
    pub eras: EraTable,
    pub relationships: Vec<String>,
    pub allow_my_number: bool,
    pub server_key: Option<&'a ServerKey>,
}

/// One file to apply.
#[derive(Debug, Clone)]
pub struct FileToImport {
    pub lg_code: String,
    pub kind: FileKind,
    pub path: PathBuf,
    /// As the operator named it (kept in the record).
    pub file_name: String,
    pub staff: Option<String>,
    pub client_id: Option<String>,
}

/// Hashes what it reads.
struct Hashing<R> {
    inner: R,
    hash: Sha256,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}

fn file_error(path: &Path, e: &std::io::Error) -> ImportError {
    ImportError::File(format!("{}: {e}", path.display()))
}

/// What the check found.
struct Checked {
    sha256: String,
    rows: u64,
}

struct Setup {
    kind: FileKind,
    lg_code: String,
    eras: EraTable,
    relationships: Vec<String>,
    allow_my_number: bool,
}

impl Setup {
    fn options(&self) -> ReadOptions<'_> {
        ReadOptions {
            kind: self.kind,
            lg_code: &self.lg_code,
            eras: &self.eras,
            relationships: &self.relationships,
            allow_my_number: self.allow_my_number,
        }
    }
}

/// Reads the whole file and lists its problems (blocking: run off the async workers).
fn check(setup: &Setup, path: &Path, progress: &dyn Fn(Progress)) -> Result<Checked, ImportError> {
    let file = std::fs::File::open(path).map_err(|e| file_error(path, &e))?;
    let mut hashing = Hashing {
        inner: BufReader::with_capacity(1 << 16, file),
        hash: Sha256::new(),
    };
    let checked = check_file(&mut hashing, setup.options(), MAX_ERRORS, &mut |rows| {
        if rows.is_multiple_of(10_000) {
            progress(Progress {
                phase: Phase::Checking,
                rows_done: rows,
                rows_total: None,
            });
        }
    });
    let FileCheck {
        rows, errors, more, ..
    } = checked;
    // Whatever follows the last row counts toward the hash too.
    std::io::copy(&mut hashing, &mut std::io::sink()).map_err(|e| file_error(path, &e))?;
    if !errors.is_empty() {
        return Err(ImportError::Rows { errors, more });
    }
    Ok(Checked {
        sha256: hex::encode(hashing.hash.finalize()),
        rows,
    })
}

/// A reader thread sending the file's rows in batches, and at the end the file's hash (to
/// catch a file changed between the passes).
enum Batch {
    Rows(Vec<Row>),
    End(Result<String, ImportError>),
}

fn read_batches(setup: Setup, path: PathBuf, tx: tokio::sync::mpsc::Sender<Batch>) {
    let send_end = |result| {
        let _ = tx.blocking_send(Batch::End(result));
    };
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) => return send_end(Err(file_error(&path, &e))),
    };
    let mut hashing = Hashing {
        inner: BufReader::with_capacity(1 << 16, file),
        hash: Sha256::new(),
    };
    {
        let mut reader = match DirectoryReader::new(&mut hashing, setup.options()) {
            Ok(r) => r,
            Err(errors) => return send_end(Err(ImportError::Rows { errors, more: 0 })),
        };
        let mut batch = Vec::with_capacity(INSERT_BATCH);
        while let Some(row) = reader.next_row() {
            match row {
                Ok(row) => batch.push(row),
                Err(errors) => return send_end(Err(ImportError::Rows { errors, more: 0 })),
            }
            if batch.len() == INSERT_BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(INSERT_BATCH));
                if tx.blocking_send(Batch::Rows(full)).is_err() {
                    return;
                }
            }
        }
        if !batch.is_empty() && tx.blocking_send(Batch::Rows(batch)).is_err() {
            return;
        }
    }
    match std::io::copy(&mut hashing, &mut std::io::sink()) {
        Ok(_) => send_end(Ok(hex::encode(hashing.hash.finalize()))),
        Err(e) => send_end(Err(file_error(&path, &e))),
    }
}

fn conflict(line: u64, number: &str, ja: &str, en: &str) -> ImportError {
    ImportError::Rows {
        errors: vec![RowError {
            line,
            column: Some("addresseeNumber".to_owned()),
            message: Text::new(
                format!("{line}行目 宛名番号(addresseeNumber): {number} {ja}"),
                format!("line {line}, addresseeNumber: {number} {en}"),
            ),
        }],
        more: 0,
    }
}

impl Importer<'_> {
    fn setup(&self, file: &FileToImport) -> Setup {
        Setup {
            kind: file.kind,
            lg_code: file.lg_code.clone(),
            eras: self.eras.clone(),
            relationships: self.relationships.clone(),
            allow_my_number: self.allow_my_number,
        }
    }

    /// Checks the file, then applies it in one transaction. `progress` is called as rows go
    /// by (from another thread while checking).
    pub async fn import(
        &self,
        file: &FileToImport,
        progress: std::sync::Arc<dyn Fn(Progress) + Send + Sync>,
    ) -> Result<Outcome, ImportError> {
        let started_at = crate::clock::now();
        if self.allow_my_number && self.server_key.is_none() {
            return Err(ImportError::File(
                "個人番号を取り込むにはサーバー鍵(server key)が必要です / a server key is needed to take in 個人番号".to_owned(),
            ));
        }
        let checked = {
            let setup = self.setup(file);
            let path = file.path.clone();
            let progress = progress.clone();
            tokio::task::spawn_blocking(move || check(&setup, &path, progress.as_ref()))
                .await
                .map_err(|e| ImportError::File(format!("the file check stopped: {e}")))??
        };
        progress(Progress {
            phase: Phase::Applying,
            rows_done: 0,
            rows_total: Some(checked.rows),
        });
        if let Some(before) = self
            .store
            .directory_file_applied(&file.lg_code, &checked.sha256)
            .await?
        {
            return Ok(Outcome::Unchanged(before));
        }
        let id = uuid::Uuid::now_v7().to_string();
        let mut writer = self
            .store
            .begin_directory(&file.lg_code, &id, self.server_key)
            .await?;
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let setup = self.setup(file);
        let path = file.path.clone();
        let reader = std::thread::spawn(move || read_batches(setup, path, tx));
        let (mut added, mut changed, mut removed, mut done) = (0u64, 0u64, 0u64, 0u64);
        if file.kind == FileKind::Full {
            writer.clear().await?;
        }
        let sha256 = loop {
            let Some(batch) = rx.recv().await else {
                return Err(ImportError::File("the file reader stopped".to_owned()));
            };
            let rows = match batch {
                Batch::End(result) => break result?,
                Batch::Rows(rows) => rows,
            };
            done += rows.len() as u64;
            if file.kind == FileKind::Full {
                let residents: Vec<_> = rows
                    .into_iter()
                    .filter_map(|r| match r {
                        Row::Put { resident, .. } => Some(*resident),
                        Row::Remove { .. } => None,
                    })
                    .collect();
                added += residents.len() as u64;
                writer.insert_many(&residents).await?;
            } else {
                for row in rows {
                    match row {
                        Row::Put {
                            line,
                            operation: Operation::Add,
                            resident,
                        } => {
                            if !writer.add(&resident).await? {
                                return Err(conflict(
                                    line,
                                    &resident.addressee_number,
                                    "は追加(A)ですが、すでに住民記録にあります。",
                                    "is added (A) but is in the directory already.",
                                ));
                            }
                            added += 1;
                        }
                        Row::Put { line, resident, .. } => {
                            if !writer.change(&resident).await? {
                                return Err(conflict(
                                    line,
                                    &resident.addressee_number,
                                    "は修正(U)ですが、住民記録にありません。",
                                    "is changed (U) but is not in the directory.",
                                ));
                            }
                            changed += 1;
                        }
                        Row::Remove {
                            line,
                            addressee_number,
                        } => {
                            if !writer.remove(&addressee_number).await? {
                                return Err(conflict(
                                    line,
                                    &addressee_number,
                                    "は削除(D)ですが、住民記録にありません。",
                                    "is removed (D) but is not in the directory.",
                                ));
                            }
                            removed += 1;
                        }
                    }
                }
            }
            progress(Progress {
                phase: Phase::Applying,
                rows_done: done,
                rows_total: Some(checked.rows),
            });
        };
        let _ = reader.join();
        if sha256 != checked.sha256 {
            return Err(ImportError::File(
                "ファイルが取込みの途中で変わりました。書き終えてから取り込んでください / the file changed while it was imported".to_owned(),
            ));
        }
        let record = ImportRecord {
            id,
            lg_code: file.lg_code.clone(),
            kind: file.kind.as_str().to_owned(),
            file_name: file.file_name.clone(),
            sha256,
            rows: checked.rows,
            added,
            changed,
            removed,
            staff: file.staff.clone(),
            client_id: file.client_id.clone(),
            started_at,
            finished_at: crate::clock::now(),
        };
        writer.finish(&record).await?;
        progress(Progress {
            phase: Phase::Done,
            rows_done: done,
            rows_total: Some(checked.rows),
        });
        Ok(Outcome::Applied(record))
    }
}

impl Importer<'_> {
    /// [`Importer::import`], and the audit entry of an applied file (what file, how many rows;
    /// never a resident's data).
    pub async fn import_audited(
        &self,
        file: &FileToImport,
        actor: &crate::audit::Actor,
        progress: std::sync::Arc<dyn Fn(Progress) + Send + Sync>,
    ) -> Result<Outcome, ImportError> {
        let outcome = self.import(file, progress).await?;
        if let Outcome::Applied(record) = &outcome {
            let lg = crate::tenancy::LgCode::parse(&record.lg_code).ok();
            self.store
                .record_audit(crate::audit::AuditEntry::success(
                    actor,
                    crate::audit::Action::DirectoryImport,
                    lg,
                    format!(
                        "directory-import:{} kind:{} rows:{} added:{} changed:{} removed:{}",
                        record.id,
                        record.kind,
                        record.rows,
                        record.added,
                        record.changed,
                        record.removed
                    ),
                ))
                .await?;
        }
        Ok(outcome)
    }
}
