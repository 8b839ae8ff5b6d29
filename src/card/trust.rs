//! The trust directory an operator configures: `cvc/<keyId>.pem`, the RSA public keys of the
//! J-LIS CVC CA named by their 7-character key id (`6000033.pem`), and `jpki/`, the J-LIS root
//! certificates (PEM or DER). No production key is built in.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rustls_pki_types::SubjectPublicKeyInfoDer;
use rustls_pki_types::pem::PemObject;

#[derive(Debug, Clone, Default)]
pub struct Trust {
    /// SubjectPublicKeyInfo (DER) by 7-character key id.
    cvc: BTreeMap<String, Vec<u8>>,
    /// Root certificates (DER), for JPKI.
    pub jpki_roots: Vec<Vec<u8>>,
}

#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("{path}: {problem}")]
    File { path: PathBuf, problem: String },
}

fn problem(path: &Path, problem: impl Into<String>) -> TrustError {
    TrustError::File {
        path: path.to_owned(),
        problem: problem.into(),
    }
}

fn entries(dir: &Path) -> Result<Vec<PathBuf>, TrustError> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| problem(dir, e.to_string()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    Ok(paths)
}

impl Trust {
    /// Reads a trust directory. A file that cannot be read, or a CVC key whose name is not a
    /// 7-character key id, stops with the file's name.
    pub fn load(dir: &Path) -> Result<Self, TrustError> {
        if !dir.is_dir() {
            return Err(problem(dir, "not a directory"));
        }
        let mut trust = Trust::default();
        for path in entries(&dir.join("cvc"))? {
            if path.extension().and_then(|e| e.to_str()) != Some("pem") {
                continue;
            }
            let id = path
                .file_stem()
                .and_then(|s| s.to_str())
                .filter(|s| s.len() == 7 && s.bytes().all(|b| b.is_ascii_alphanumeric()))
                .ok_or_else(|| {
                    problem(
                        &path,
                        "name it by the CA's 7-character key id, e.g. 6000033.pem",
                    )
                })?
                .to_owned();
            let key = SubjectPublicKeyInfoDer::from_pem_file(&path).map_err(|e| {
                problem(
                    &path,
                    format!("not a PEM public key (BEGIN PUBLIC KEY): {e}"),
                )
            })?;
            trust.cvc.insert(id, key.as_ref().to_vec());
        }
        for path in entries(&dir.join("jpki"))? {
            let bytes = std::fs::read(&path).map_err(|e| problem(&path, e.to_string()))?;
            let der = if bytes.starts_with(b"-----BEGIN") {
                rustls_pki_types::CertificateDer::from_pem_slice(&bytes)
                    .map_err(|e| problem(&path, format!("not a PEM certificate: {e}")))?
                    .as_ref()
                    .to_vec()
            } else {
                bytes
            };
            trust.jpki_roots.push(der);
        }
        Ok(trust)
    }

    /// Adds a CVC CA key (SubjectPublicKeyInfo DER).
    pub fn with_cvc_key(mut self, id: &str, spki: Vec<u8>) -> Self {
        self.cvc.insert(id.to_owned(), spki);
        self
    }

    /// Adds a JPKI root certificate (DER).
    pub fn with_jpki_root(mut self, der: Vec<u8>) -> Self {
        self.jpki_roots.push(der);
        self
    }

    /// The CVC CA key with this 7-character id.
    pub fn cvc_key(&self, id: &str) -> Option<&[u8]> {
        self.cvc.get(id).map(Vec::as_slice)
    }

    pub fn cvc_ids(&self) -> impl Iterator<Item = &str> {
        self.cvc.keys().map(String::as_str)
    }
}
