//! The certification package: `manifest.json` lists every file of the run with its size and
//! SHA-256; `manifest.jws` signs the manifest's exact bytes (JWS compact serialization with a
//! detached payload, RFC 7515 appendix F; ES256). `verify` proves nobody changed, added or
//! removed a file after the run, and that the verdict follows from the report.

use std::path::{Path, PathBuf};

use base64::Engine;
use rustls_pki_types::PrivatePkcs8KeyDer;
use rustls_pki_types::pem::PemObject;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::report::{self, Report, Status};
use crate::auth::SigningKey;

pub const MANIFEST: &str = "manifest.json";
pub const SIGNATURE: &str = "manifest.jws";
pub const FORMAT: &str = "madoguchi-conformance-package/1";
const JWS_TYPE: &str = "mdg-manifest+jws";
const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileEntry {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub format: String,
    pub kit: report::Kit,
    pub catalogue: report::CatalogueRef,
    pub suite: String,
    pub sut: String,
    pub verdict: report::Verdict,
    pub created_at: String,
    pub signed: bool,
    pub files: Vec<FileEntry>,
}

/// A private key in PEM (PKCS#8, P-256) for signing packages.
pub fn load_private_key(path: &Path) -> Result<SigningKey, String> {
    let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let der = PrivatePkcs8KeyDer::from_pem_slice(&pem)
        .map_err(|e| format!("{}: not a PKCS#8 private key in PEM: {e}", path.display()))?;
    SigningKey::from_pkcs8_der(der.secret_pkcs8_der())
        .map_err(|e| format!("{}: not a P-256 key: {e}", path.display()))
}

/// A new P-256 key pair: the private key (PKCS#8 PEM) and its public key (SPKI PEM).
pub fn generate_key_pair() -> Result<(String, String), String> {
    let (_, der) = SigningKey::generate().map_err(|e| e.to_string())?;
    let pair = rcgen::KeyPair::try_from(der.as_slice()).map_err(|e| e.to_string())?;
    Ok((pair.serialize_pem(), pair.public_key_pem()))
}

/// Every file under `dir`, as its path relative to `dir` (with `/`) and its full path, in path
/// order: what the manifest lists and what a package holds.
pub fn run_files(dir: &Path) -> Result<Vec<(String, PathBuf)>, String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> Result<(), String> {
        let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for entry in entries {
            let path = entry.map_err(|e| e.to_string())?.path();
            if path.is_dir() {
                walk(root, &path, out)?;
                continue;
            }
            let relative = path
                .strip_prefix(root)
                .map_err(|e| e.to_string())?
                .to_string_lossy()
                .replace('\\', "/");
            out.push((relative, path));
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    out.sort();
    Ok(out)
}

fn files_of(dir: &Path) -> Result<Vec<FileEntry>, String> {
    run_files(dir)?
        .into_iter()
        .filter(|(relative, _)| relative != MANIFEST && relative != SIGNATURE)
        .map(|(relative, path)| {
            let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(FileEntry {
                path: relative,
                size: bytes.len() as u64,
                sha256: hex::encode(Sha256::digest(&bytes)),
            })
        })
        .collect()
}

/// Writes the manifest of `dir` and, with a key, its signature.
pub fn seal(dir: &Path, report: &Report, key: Option<&SigningKey>) -> Result<(), String> {
    let manifest = Manifest {
        format: FORMAT.to_owned(),
        kit: report.kit.clone(),
        catalogue: report.catalogue.clone(),
        suite: report.suite.clone(),
        sut: report.sut.base_url.clone(),
        verdict: report.verdict,
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        signed: key.is_some(),
        files: files_of(dir)?,
    };
    let bytes = serde_json::to_vec_pretty(&manifest).map_err(|e| e.to_string())?;
    write(&dir.join(MANIFEST), &bytes)?;
    if let Some(key) = key {
        let header = json!({"alg": "ES256", "typ": JWS_TYPE, "kid": key.kid});
        let protected = B64URL.encode(header.to_string());
        let signing_input = format!("{protected}.{}", B64URL.encode(&bytes));
        let signature = jsonwebtoken::crypto::sign(
            signing_input.as_bytes(),
            &key.encoding,
            jsonwebtoken::Algorithm::ES256,
        )
        .map_err(|e| format!("signing the manifest: {e}"))?;
        write(
            &dir.join(SIGNATURE),
            format!("{protected}..{signature}\n").as_bytes(),
        )?;
    }
    Ok(())
}

fn write(path: &PathBuf, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// What `verify` found: the manifest and the report it holds.
#[derive(Debug)]
pub struct Verified {
    pub manifest: Manifest,
    pub report: Report,
}

/// Checks the signature of `dir`'s manifest with `public_key_pem` (SPKI), every file's size and
/// digest, that no file was added, and that the report's verdict follows from its own
/// results. Every problem found, one sentence each.
pub fn verify(dir: &Path, public_key_pem: &[u8]) -> Result<Verified, Vec<String>> {
    let mut problems = Vec::new();
    let manifest_bytes =
        std::fs::read(dir.join(MANIFEST)).map_err(|e| vec![format!("{MANIFEST}: {e}")])?;
    let jws = std::fs::read_to_string(dir.join(SIGNATURE)).map_err(|e| {
        vec![format!(
            "{SIGNATURE}: {e} (the run was given no key: nothing to verify)"
        )]
    })?;
    let key = jsonwebtoken::DecodingKey::from_ec_pem(public_key_pem)
        .map_err(|e| vec![format!("the public key is not a P-256 key in PEM: {e}")])?;
    let mut parts = jws.trim().split('.');
    let (protected, payload, signature) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let header: serde_json::Value = B64URL
        .decode(protected)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    if header["alg"] != "ES256" || header["typ"] != JWS_TYPE || !payload.is_empty() {
        problems.push(format!(
            "{SIGNATURE} is not a detached ES256 {JWS_TYPE} (header {header})"
        ));
    } else {
        let signing_input = format!("{protected}.{}", B64URL.encode(&manifest_bytes));
        let good = jsonwebtoken::crypto::verify(
            signature,
            signing_input.as_bytes(),
            &key,
            jsonwebtoken::Algorithm::ES256,
        )
        .unwrap_or(false);
        if !good {
            problems.push(format!(
                "the signature does not verify: {MANIFEST} was changed or signed with another key"
            ));
        }
    }
    let manifest: Manifest = serde_json::from_slice(&manifest_bytes)
        .map_err(|e| vec![format!("{MANIFEST} is not a manifest: {e}")])?;
    if manifest.format != FORMAT {
        problems.push(format!(
            "{MANIFEST}: format {} (expected {FORMAT})",
            manifest.format
        ));
    }
    match files_of(dir) {
        Ok(found) => {
            for listed in &manifest.files {
                match found.iter().find(|f| f.path == listed.path) {
                    None => problems.push(format!("{} is listed but missing", listed.path)),
                    Some(f) if f != listed => {
                        problems.push(format!("{} was changed after the run", listed.path))
                    }
                    Some(_) => {}
                }
            }
            for f in &found {
                if !manifest.files.iter().any(|l| l.path == f.path) {
                    problems.push(format!("{} was added after the run", f.path));
                }
            }
        }
        Err(e) => problems.push(e),
    }
    let report: Option<Report> = std::fs::read(dir.join("report.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let Some(report) = report else {
        problems.push("report.json is missing or unreadable".to_owned());
        return Err(problems);
    };
    // The verdict follows from the results: a requirement marked met has no failed check,
    // and the verdict is what those statuses give.
    for r in &report.requirements {
        let failed = report
            .tests
            .iter()
            .flat_map(|t| &t.checks)
            .any(|c| c.requirement == r.id && !c.passed);
        if r.status == Status::Met && failed {
            problems.push(format!("{} is marked met but a check of it failed", r.id));
        }
    }
    let recomputed = report::verdict(&report.requirements, &report.tests);
    if recomputed != report.verdict || manifest.verdict != report.verdict {
        problems.push(format!(
            "the verdict {} does not follow from the results ({})",
            report.verdict.as_str(),
            recomputed.as_str()
        ));
    }
    if problems.is_empty() {
        Ok(Verified { manifest, report })
    } else {
        Err(problems)
    }
}
