//! A `file` connector's outbox: manifests, the files they list, the documents in them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{quoted, shown, target};
use crate::conformance::suite::{Abort, Ctx};
use crate::layouts::Layouts;

/// The manifests of an area's directory, by name.
fn manifest_paths(area: &Path) -> Result<Vec<PathBuf>, Abort> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(area)
        .map_err(|e| Abort::Setup(format!("{}: {e}", area.display())))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("manifest-") && n.ends_with(".json"))
        })
        .collect();
    found.sort();
    Ok(found)
}

/// `{lgCode}/{area}` of an area's directory.
fn dir_names(area: &Path) -> (String, String) {
    let name = |p: Option<&Path>| {
        p.and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    (name(area.parent()), name(Some(area)))
}

fn read_json(path: &Path) -> Result<Value, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| format!("not JSON: {e}"))
}

pub async fn manifests(ctx: &mut Ctx) -> Result<(), Abort> {
    let files = target(ctx)?;
    let layouts = Layouts::built_in().map_err(Abort::Setup)?;
    for area in &files.areas {
        let (lg_code, area_name) = dir_names(area);
        for manifest in manifest_paths(area)? {
            let name = shown(&files.dir, &manifest);
            let mut layout = Vec::new();
            let mut listed = Vec::new();
            match read_json(&manifest) {
                Err(e) => layout.push(format!("{name}: {e}")),
                Ok(m) => {
                    layout.extend(
                        layouts
                            .manifest_problems(&m)
                            .iter()
                            .map(|p| format!("{name}: {p}")),
                    );
                    if m["localGovernmentCode"] != lg_code.as_str()
                        || m["area"] != area_name.as_str()
                    {
                        layout.push(format!(
                            "{name}: localGovernmentCode {} and area {} are not its directory's ({lg_code}/{area_name})",
                            m["localGovernmentCode"], m["area"]
                        ));
                    }
                    let file_name = manifest
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    if m["batchId"].as_str().map(|b| format!("manifest-{b}.json"))
                        != Some(file_name)
                    {
                        layout.push(format!("{name}: its name is not manifest-{{batchId}}.json"));
                    }
                    for (i, entry) in m["files"].as_array().into_iter().flatten().enumerate() {
                        let listed_name = entry["name"].as_str().unwrap_or_default();
                        let at = format!("{name} /files/{i} ({listed_name})");
                        if listed_name.is_empty()
                            || listed_name.contains('/')
                            || listed_name.contains("..")
                        {
                            listed.push(format!("{at}: not a file name of the directory"));
                            continue;
                        }
                        match std::fs::read(area.join(listed_name)) {
                            Err(e) => listed.push(format!("{at}: {e}")),
                            Ok(bytes) => {
                                if entry["bytes"].as_u64() != Some(bytes.len() as u64) {
                                    listed.push(format!(
                                        "{at}: {} bytes on disk, {} listed",
                                        bytes.len(),
                                        entry["bytes"]
                                    ));
                                }
                                let digest = hex::encode(Sha256::digest(&bytes));
                                if entry["sha256"].as_str() != Some(digest.as_str()) {
                                    listed.push(format!(
                                        "{at}: SHA-256 {digest} on disk, {} listed",
                                        entry["sha256"]
                                    ));
                                }
                            }
                        }
                    }
                }
            }
            ctx.check_at(
                "OUT-001",
                layout.is_empty(),
                format!("{name}: madoguchi.manifest/1 for {lg_code}/{area_name}"),
                quoted(&layout),
                None,
            );
            ctx.check_at(
                "OUT-002",
                listed.is_empty(),
                format!("{name}: every file listed, with its bytes and SHA-256"),
                quoted(&listed),
                None,
            );
        }
    }
    Ok(())
}

pub async fn documents(ctx: &mut Ctx) -> Result<(), Abort> {
    let files = target(ctx)?;
    let layouts = Layouts::built_in().map_err(Abort::Setup)?;
    let forms = crate::conformance::specimens::forms().map_err(Abort::Setup)?;
    for area in &files.areas {
        let (lg_code, area_name) = dir_names(area);
        for manifest in manifest_paths(area)? {
            let Ok(m) = read_json(&manifest) else {
                // OUT-001 says why.
                continue;
            };
            let mut problems = Vec::new();
            let mut count = 0;
            for entry in m["files"].as_array().into_iter().flatten() {
                let listed_name = entry["name"].as_str().unwrap_or_default();
                if listed_name.is_empty() || listed_name.contains('/') || listed_name.contains("..")
                {
                    continue;
                }
                let path = area.join(listed_name);
                if !path.is_file() {
                    // OUT-002 says so.
                    continue;
                }
                count += 1;
                let name = shown(&files.dir, &path);
                let doc = match read_json(&path) {
                    Ok(d) => d,
                    Err(e) => {
                        problems.push(format!("{name}: {e}"));
                        continue;
                    }
                };
                problems.extend(
                    layouts
                        .application_problems(&doc, forms)
                        .iter()
                        .map(|p| format!("{name} {p}")),
                );
                let id = doc["applicationId"].as_str().unwrap_or_default();
                if format!("{id}.json") != listed_name
                    || entry["applicationId"].as_str() != Some(id)
                {
                    problems.push(format!(
                        "{name}: applicationId {id:?} is not its file's name and its manifest entry's"
                    ));
                }
                if doc["localGovernmentCode"] != lg_code.as_str()
                    || doc["area"] != area_name.as_str()
                {
                    problems.push(format!(
                        "{name}: localGovernmentCode {} and area {} are not its directory's ({lg_code}/{area_name})",
                        doc["localGovernmentCode"], doc["area"]
                    ));
                }
            }
            let name = shown(&files.dir, &manifest);
            ctx.check_at(
                "OUT-003",
                problems.is_empty(),
                format!("{name}: each document listed is madoguchi.application/1, its form valid"),
                format!("{count} documents: {}", quoted(&problems)),
                None,
            );
        }
    }
    Ok(())
}

pub async fn at_rest(ctx: &mut Ctx) -> Result<(), Abort> {
    let files = target(ctx)?;
    for area in &files.areas {
        let mut listed = BTreeSet::new();
        for manifest in manifest_paths(area)? {
            if let Ok(m) = read_json(&manifest) {
                for entry in m["files"].as_array().into_iter().flatten() {
                    if let Some(n) = entry["name"].as_str() {
                        listed.insert(n.to_owned());
                    }
                }
            }
        }
        let mut left = Vec::new();
        let mut names: Vec<String> = std::fs::read_dir(area)
            .map_err(|e| Abort::Setup(format!("{}: {e}", area.display())))?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for n in names {
            if n.starts_with("manifest-") {
                continue;
            }
            if n.starts_with('.') && n.ends_with(".tmp") {
                left.push(format!(
                    "{}: a temporary file",
                    shown(&files.dir, &area.join(&n))
                ));
            } else if n.ends_with(".json") && !listed.contains(&n) {
                left.push(format!(
                    "{}: listed by no manifest",
                    shown(&files.dir, &area.join(&n))
                ));
            }
        }
        ctx.check_at(
            "OUT-004",
            left.is_empty(),
            format!(
                "{}: every file listed by a manifest, nothing temporary",
                shown(&files.dir, area)
            ),
            quoted(&left),
            None,
        );
    }
    Ok(())
}
