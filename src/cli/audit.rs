//! `madoguchi audit verify`.

use std::io::Write;
use std::process::ExitCode;

use serde_json::json;

use super::{EXIT_FINDING, print_json};
use crate::audit::ChainVerifier;
use crate::config::Settings;
use crate::startup::open_store;

/// Progress is shown every this many entries on long chains.
const PROGRESS_EVERY: u64 = 10_000;

pub async fn verify(
    settings: &Settings,
    as_json: bool,
    expect_head: Option<&str>,
) -> Result<ExitCode, String> {
    let store = open_store(settings).await.map_err(|e| e.to_string())?;
    let total = store.audit_len().await.map_err(|e| e.to_string())?;
    let mut verifier = ChainVerifier::default();
    let mut after = 0;
    let mut broken = None;
    'walk: loop {
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
            if !as_json && total >= PROGRESS_EVERY && verifier.checked() % PROGRESS_EVERY == 0 {
                eprint!("\rchecked {} of {total} entries", verifier.checked());
                let _ = std::io::stderr().flush();
            }
        }
    }
    if !as_json && total >= PROGRESS_EVERY {
        eprintln!();
    }
    if broken.is_none()
        && let Some(expected) = expect_head
    {
        broken = verifier.expect_head(expected).err();
    }
    let (head_seq, head_hash) = verifier.head();
    if as_json {
        print_json(&json!({
            "intact": broken.is_none(),
            "checked": verifier.checked(),
            "headSeq": head_seq,
            "headHash": head_hash,
            "firstBroken": broken.as_ref().map(ToString::to_string),
        }))?;
    } else if let Some(e) = &broken {
        println!(
            "The audit log is BROKEN after {} intact entries: {e}",
            verifier.checked()
        );
    } else {
        println!(
            "The audit log is intact: {} entries checked.\nHead: entry {head_seq}, hash {head_hash}\nKeep the head hash elsewhere and pass it to --expect-head next time to also detect removal of the newest entries.",
            verifier.checked()
        );
    }
    Ok(if broken.is_some() {
        ExitCode::from(EXIT_FINDING)
    } else {
        ExitCode::SUCCESS
    })
}
