//! `madoguchi audit verify` and `madoguchi audit checkpoint`.

use std::io::Write;
use std::process::ExitCode;

use serde_json::json;

use super::{EXIT_FINDING, jst, print_json};
use crate::audit::{Anchor, ChainVerifier, CheckpointCheck, receipt};
use crate::config::Settings;
use crate::secrets::ServerKey;
use crate::startup::open_store;

/// Progress is shown every this many entries on long chains.
const PROGRESS_EVERY: u64 = 10_000;

fn server_key(settings: &Settings) -> Result<Option<ServerKey>, String> {
    ServerKey::load(settings, false).map_err(|e| e.to_string())
}

pub async fn verify(
    settings: &Settings,
    as_json: bool,
    expect_head: Option<&str>,
) -> Result<ExitCode, String> {
    let anchor = match expect_head {
        Some(text) => Some(Anchor::parse(text).ok_or_else(|| {
            format!(
                "--expect-head takes SEQ:HASH or HASH (64 hex digits), as verify prints it; got {text:?}"
            )
        })?),
        None => None,
    };
    let key = server_key(settings)?;
    let store = open_store(settings).await.map_err(|e| e.to_string())?;
    let total = store.audit_len().await.map_err(|e| e.to_string())?;
    let checkpoints = store.checkpoints().await.map_err(|e| e.to_string())?;
    let receipt_path = settings.audit_receipt_path();
    let receipt = receipt::load(&receipt_path)?;
    let mut broken = None;
    let check = match CheckpointCheck::new(checkpoints, key.as_ref(), receipt.as_ref()) {
        Ok(check) => check,
        Err(e) => {
            broken = Some(e);
            CheckpointCheck::default()
        }
    };
    let mut verifier = ChainVerifier::new(anchor, check);
    let mut after = 0;
    'walk: while broken.is_none() {
        let batch = store.audit_batch(after).await.map_err(|e| e.to_string())?;
        let Some(last) = batch.last() else {
            break;
        };
        after = last.seq;
        for record in &batch {
            if let Err(e) = verifier.check(record) {
                broken = Some(e);
                break 'walk;
            }
            if !as_json
                && total >= PROGRESS_EVERY
                && verifier.checked().is_multiple_of(PROGRESS_EVERY)
            {
                eprint!("\rchecked {} of {total} entries", verifier.checked());
                let _ = std::io::stderr().flush();
            }
        }
    }
    if !as_json && total >= PROGRESS_EVERY {
        eprintln!();
    }
    if broken.is_none() {
        broken = verifier.finish().err();
    }
    let (head_seq, head_hash) = verifier.head();
    let checkpoints = verifier.checkpoint_summary();
    let signatures = if checkpoints.signed {
        "checked with the server key"
    } else {
        "not checked: no server key (secrets.key_path)"
    };
    if as_json {
        print_json(&json!({
            "intact": broken.is_none(),
            "checked": verifier.checked(),
            "headSeq": head_seq,
            "headHash": head_hash,
            "anchor": format!("{head_seq}:{head_hash}"),
            "firstBroken": broken.as_ref().map(ToString::to_string),
            "checkpoints": {
                "compared": checkpoints.total,
                "matched": checkpoints.matched,
                "signed": checkpoints.signed,
                "unsignedIgnored": checkpoints.unsigned_ignored,
                "newestSeq": checkpoints.newest.as_ref().map(|c| c.seq),
                "newestAt": checkpoints.newest.as_ref().map(|c| c.created_at),
                "receiptPath": receipt_path,
                "receiptSeq": receipt.as_ref().map(|c| c.seq),
            },
        }))?;
    } else if let Some(e) = &broken {
        println!(
            "The audit log is BROKEN after {} intact entries: {e}",
            verifier.checked()
        );
    } else {
        let newest = checkpoints.newest.as_ref().map_or_else(
            || "none yet".to_owned(),
            |c| format!("entry {} at {}", c.seq, jst(c.created_at)),
        );
        let receipt = match &receipt {
            Some(c) => format!(
                "the receipt in {} names entry {}, found",
                receipt_path.display(),
                c.seq
            ),
            None => format!(
                "no receipt in {} yet, so deleted checkpoints would not show",
                receipt_path.display()
            ),
        };
        println!(
            "The audit log is intact: {} entries checked.\n\
             Checkpoints: {} matched (signatures {signatures}); newest: {newest}; {receipt}.\n\
             Head: entry {head_seq}, hash {head_hash}\n\
             Keep `{head_seq}:{head_hash}` somewhere else and pass it to --expect-head next time: \
             that also detects removal of the newest entries, and a rewrite of the log before them.",
            verifier.checked(),
            checkpoints.matched,
        )
    }
    Ok(if broken.is_some() {
        ExitCode::from(EXIT_FINDING)
    } else {
        ExitCode::SUCCESS
    })
}

/// Records a checkpoint of the current head now (the server also does every
/// `audit.checkpoint_seconds`).
pub async fn checkpoint(settings: &Settings, as_json: bool) -> Result<ExitCode, String> {
    let key = server_key(settings)?;
    let store = open_store(settings).await.map_err(|e| e.to_string())?;
    let receipt_path = settings.audit_receipt_path();
    let (written, receipt) = crate::audit::checkpoint(&store, key.as_ref(), &receipt_path)
        .await
        .map_err(|e| e.to_string())?;
    if let Err(e) = &receipt {
        eprintln!("{e}");
    }
    let receipt_written =
        written.as_ref().is_some_and(|c| c.signature.is_some()) && receipt.is_ok();
    if as_json {
        print_json(&json!({
            "written": written.is_some(),
            "seq": written.as_ref().map(|c| c.seq),
            "hash": written.as_ref().map(|c| c.hash.clone()),
            "signed": written.as_ref().is_some_and(|c| c.signature.is_some()),
            "receiptWritten": receipt_written,
        }))?;
    } else {
        match &written {
            Some(c) => println!(
                "Checkpoint of entry {} (hash {}) recorded{}.",
                c.seq,
                c.hash,
                if c.signature.is_some() {
                    ", signed with the server key"
                } else {
                    " WITHOUT a signature: configure secrets.key_path so that checkpoints prove something"
                }
            ),
            None => println!("The newest entry has a checkpoint already (or the log is empty)."),
        }
    }
    Ok(if receipt.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
