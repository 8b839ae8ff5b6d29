//! The `file` connector: each application's document as `{dir}/{lgCode}/{area}/{id}.json`,
//! and per batch a `manifest-{batchId}.json` listing the files with their SHA-256. A core
//! system reads manifests: one appears only once every file it lists is complete and on disk
//! (each file written under a temporary name, synced, renamed; the manifest last, the same
//! way). A batch delivered again after a crash writes the same bytes under the same names and
//! a new manifest.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The format name of a manifest.
pub const MANIFEST_FORMAT: &str = "madoguchi.manifest/1";

/// Threads that wait for files' fsyncs at once: the file system commits them together, where
/// one after the other each would wait for its own journal commit.
const SYNC_THREADS: usize = 8;

/// Application files and manifests: the gateway writes, the core system's group reads,
/// nobody else (they are personal data). Directories likewise.
const OUTBOX_FILE: u32 = 0o640;
const OUTBOX_DIR: u32 = 0o750;

fn create(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(OUTBOX_FILE)
        .open(path)
}

fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = create(path)?;
    file.write_all(bytes)?;
    file.sync_data()
}

fn sync_all(paths: &[PathBuf]) -> io::Result<()> {
    if paths.is_empty() {
        return Ok(());
    }
    let chunk = paths.len().div_ceil(SYNC_THREADS);
    std::thread::scope(|scope| {
        let handles: Vec<_> = paths
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    for p in part {
                        File::open(p)?.sync_data()?;
                    }
                    Ok::<_, io::Error>(())
                })
            })
            .collect();
        handles.into_iter().try_for_each(|h| {
            h.join()
                .unwrap_or_else(|_| Err(io::Error::other("sync thread failed")))
        })
    })
}

/// The directory a municipality's area is written to.
pub fn area_dir(dir: &Path, lg_code: &str, area: &str) -> PathBuf {
    dir.join(lg_code).join(area)
}

/// Writes one batch of documents (`(applicationId, bytes)`) and its manifest; returns the
/// manifest's path. Blocking: call it off the async runtime.
pub fn write_batch(
    dir: &Path,
    lg_code: &str,
    area: &str,
    documents: &[(Uuid, Vec<u8>)],
    batch: Uuid,
    now: DateTime<Utc>,
) -> io::Result<PathBuf> {
    let target = area_dir(dir, lg_code, area);
    {
        use std::os::unix::fs::DirBuilderExt;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(OUTBOX_DIR)
            .create(&target)?;
    }
    let mut temporaries = Vec::with_capacity(documents.len());
    let mut entries = Vec::with_capacity(documents.len());
    for (id, bytes) in documents {
        let name = format!("{id}.json");
        let temporary = target.join(format!(".{name}.{batch}.tmp"));
        create(&temporary)?.write_all(bytes)?;
        temporaries.push(temporary);
        entries.push(json!({
            "name": name,
            "applicationId": id,
            "bytes": bytes.len(),
            "sha256": hex::encode(Sha256::digest(bytes)),
        }));
    }
    sync_all(&temporaries)?;
    for ((id, _), temporary) in documents.iter().zip(&temporaries) {
        fs::rename(temporary, target.join(format!("{id}.json")))?;
    }
    let manifest = json!({
        "format": MANIFEST_FORMAT,
        "batchId": batch,
        "localGovernmentCode": lg_code,
        "area": area,
        "createdAt": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "files": entries,
    });
    let name = format!("manifest-{batch}.json");
    let temporary = target.join(format!(".{name}.tmp"));
    let mut bytes = serde_json::to_vec_pretty(&manifest).map_err(io::Error::other)?;
    bytes.push(b'\n');
    write_synced(&temporary, &bytes)?;
    let path = target.join(name);
    fs::rename(&temporary, &path)?;
    // The renames themselves are durable once the directory is synced.
    File::open(&target)?.sync_all()?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_its_files_and_a_manifest_with_their_checksums() {
        let dir = tempfile::tempdir().unwrap();
        let a = Uuid::now_v7();
        let b = Uuid::now_v7();
        let batch = Uuid::now_v7();
        let docs = vec![(a, b"{\"x\":1}\n".to_vec()), (b, b"{\"y\":2}\n".to_vec())];
        let manifest = write_batch(dir.path(), "131016", "tax", &docs, batch, Utc::now()).unwrap();
        assert_eq!(
            manifest,
            dir.path()
                .join("131016/tax")
                .join(format!("manifest-{batch}.json"))
        );
        let read: serde_json::Value =
            serde_json::from_slice(&fs::read(&manifest).unwrap()).unwrap();
        assert_eq!(read["format"], MANIFEST_FORMAT);
        let layouts = crate::layouts::Layouts::built_in().unwrap();
        assert_eq!(layouts.manifest_problems(&read), vec![]);
        let files = read["files"].as_array().unwrap();
        assert_eq!(files.len(), 2);
        for (entry, (id, bytes)) in files.iter().zip(&docs) {
            let on_disk =
                fs::read(dir.path().join("131016/tax").join(format!("{id}.json"))).unwrap();
            assert_eq!(&on_disk, bytes);
            assert_eq!(entry["sha256"], hex::encode(Sha256::digest(&on_disk)));
            assert_eq!(entry["bytes"], bytes.len());
        }
        // Nothing temporary is left behind.
        let names: Vec<String> = fs::read_dir(dir.path().join("131016/tax"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 3, "{names:?}");
        assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");
    }
}
