//! The checkpoint receipt: a copy of the newest signed checkpoint, kept in a file outside the
//! database (`audit.receipt_path`, by default `audit-checkpoint.json` in the data directory).
//!
//! Signed checkpoints show a rewrite of the log, but only while they are there: someone with
//! write access to the database could delete every checkpoint row, rewrite the log, and the
//! verifier would find nothing to compare. The receipt tells the verifier what to expect:
//! the checkpoint it names (signed, so it cannot be made up without the server key) must still
//! be in the database, and every later signed checkpoint follows it.

use std::io::{self, Write};
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Checkpoint;

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ReceiptFile {
    seq: i64,
    hash: String,
    created_at: DateTime<Utc>,
    prev_seq: i64,
    signature: String,
}

/// Reads the receipt; `None` when there is no file yet.
pub fn load(path: &Path) -> Result<Option<Checkpoint>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(format!(
                "cannot read the checkpoint receipt {}: {e}",
                path.display()
            ));
        }
    };
    let file: ReceiptFile = serde_json::from_str(&text).map_err(|e| {
        format!(
            "the checkpoint receipt {} is not one this gateway wrote: {e}",
            path.display()
        )
    })?;
    Ok(Some(Checkpoint {
        seq: file.seq,
        hash: file.hash,
        created_at: file.created_at,
        prev_seq: file.prev_seq,
        signature: Some(file.signature),
    }))
}

/// Keeps a signed checkpoint as the receipt, unless the receipt already names a newer one
/// (replicas sharing the file write in any order). Unsigned checkpoints prove nothing and are
/// not kept. The file is replaced atomically and readable by the owner only.
pub fn keep(path: &Path, checkpoint: &Checkpoint) -> Result<(), String> {
    let Some(signature) = &checkpoint.signature else {
        return Ok(());
    };
    if let Ok(Some(current)) = load(path)
        && current.seq >= checkpoint.seq
    {
        return Ok(());
    }
    let file = ReceiptFile {
        seq: checkpoint.seq,
        hash: checkpoint.hash.clone(),
        created_at: checkpoint.created_at,
        prev_seq: checkpoint.prev_seq,
        signature: signature.clone(),
    };
    let write = || -> io::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::datadir::prepare(dir)?;
        }
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".{}.tmp", std::process::id()));
        let temporary = Path::new(&name);
        let _ = std::fs::remove_file(temporary);
        let mut out = crate::datadir::create_private(temporary)?;
        out.write_all(&serde_json::to_vec_pretty(&file).map_err(io::Error::other)?)?;
        out.sync_all()?;
        std::fs::rename(temporary, path)
    };
    write().map_err(|e| {
        format!(
            "cannot write the checkpoint receipt {}: {e}",
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::{KEY_LEN, ServerKey};

    #[test]
    fn the_newest_signed_checkpoint_is_kept_and_read_back() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("audit").join("receipt.json");
        let key = ServerKey::from_bytes([3; KEY_LEN]);
        assert_eq!(load(&path).unwrap(), None);

        let unsigned = Checkpoint::new(4, "a".repeat(64), Utc::now(), 0, None);
        keep(&path, &unsigned).unwrap();
        assert_eq!(load(&path).unwrap(), None, "an unsigned one is not kept");

        let second = Checkpoint::new(9, "b".repeat(64), Utc::now(), 4, Some(&key));
        keep(&path, &second).unwrap();
        let first = Checkpoint::new(4, "a".repeat(64), Utc::now(), 0, Some(&key));
        keep(&path, &first).unwrap();
        assert_eq!(
            load(&path).unwrap(),
            Some(second),
            "an older one does not replace it"
        );

        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");

        std::fs::write(&path, "{}").unwrap();
        assert!(
            load(&path)
                .unwrap_err()
                .contains("not one this gateway wrote")
        );
    }
}
