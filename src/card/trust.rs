//! The trust directory an operator configures (no production key is built in):
//!
//! - `cvc/kenhojo/` and `cvc/kenkaku/`: the RSA public keys (`BEGIN PUBLIC KEY` PEM) of the
//!   J-LIS CVC CAs, one directory per application, so that a kenkaku CA key can never vouch
//!   for kenhojo data nor the other way round. Each file is named by the CA key's whole 16-byte
//!   reference: `6000033-001.pem` for the usual shape (7 characters, `08 05`, 3 characters,
//!   four zero bytes), or the 32 hex digits of any other reference.
//! - `jpki/`: the J-LIS root certificates of the 利用者証明用 certificate (PEM or DER), every
//!   generation in force and the expired ones still needed.
//! - `jpki-policies.txt` (optional): certificate policy OIDs accepted besides the production
//!   利用者証明用 policy, one per line (`#` starts a comment): the J-LIS test hierarchy's, in a
//!   test setup only.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rustls_pki_types::SubjectPublicKeyInfoDer;
use rustls_pki_types::pem::PemObject;

/// The certificate policy of J-LIS's production 利用者証明用 certificates
/// (`jpki-cp-auth-class30`; the test hierarchy's cards carry `1.2.392.200149.8.5.1.0.30`).
pub const PRODUCTION_AUTH_POLICY: &str = "1.2.392.200149.8.5.1.3.30";

/// A CVC CA key's reference, all 16 bytes (reference §3: `6000033`, `08 05 "001"`, padding).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyRef(pub [u8; 16]);

impl KeyRef {
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; 16]>::try_from(bytes).ok().map(KeyRef)
    }

    /// `LLLLLLL-GGG`: the 7-character label, `08 05`, the 3-character generation, four zeros.
    pub fn standard(label: &str, generation: &str) -> Option<Self> {
        let graphic = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_graphic());
        if !graphic(label, 7) || !graphic(generation, 3) {
            return None;
        }
        let mut id = [0u8; 16];
        id[..7].copy_from_slice(label.as_bytes());
        id[7..9].copy_from_slice(&[0x08, 0x05]);
        id[9..12].copy_from_slice(generation.as_bytes());
        Some(KeyRef(id))
    }

    /// A trust file's name without `.pem`: `6000033-001` or 32 hex digits.
    pub fn parse_name(stem: &str) -> Option<Self> {
        if let Some((label, generation)) = stem.split_once('-') {
            return Self::standard(label, generation);
        }
        if stem.len() == 32 {
            return hex::decode(stem).ok().and_then(|b| Self::from_slice(&b));
        }
        None
    }
}

impl std::fmt::Display for KeyRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let label = String::from_utf8_lossy(&self.0[..7]);
        let generation = String::from_utf8_lossy(&self.0[9..12]);
        match Self::standard(&label, &generation) {
            Some(same) if same == *self => write!(f, "{label}-{generation}"),
            _ => f.write_str(&hex::encode_upper(self.0)),
        }
    }
}

/// Which application's data a CVC CA key may vouch for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CvcApplication {
    /// 券面事項入力補助 (J-LIS CA `…33`).
    Kenhojo,
    /// 券面事項確認 (J-LIS CA `…23`).
    Kenkaku,
}

impl CvcApplication {
    pub fn dir(self) -> &'static str {
        match self {
            CvcApplication::Kenhojo => "kenhojo",
            CvcApplication::Kenkaku => "kenkaku",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Trust {
    /// SubjectPublicKeyInfo (DER) by whole key reference, per application.
    kenhojo: BTreeMap<KeyRef, Vec<u8>>,
    kenkaku: BTreeMap<KeyRef, Vec<u8>>,
    /// Root certificates (DER), for JPKI.
    pub jpki_roots: Vec<Vec<u8>>,
    /// Policy OIDs accepted besides [`PRODUCTION_AUTH_POLICY`].
    extra_policies: Vec<String>,
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

/// A dotted OID: digits and dots, at least two arcs.
fn is_oid(s: &str) -> bool {
    let arcs: Vec<&str> = s.split('.').collect();
    arcs.len() >= 2
        && arcs
            .iter()
            .all(|a| !a.is_empty() && a.bytes().all(|b| b.is_ascii_digit()))
}

impl Trust {
    /// Reads a trust directory. A file that cannot be read, or that is not where and what this
    /// layout says, stops with the file's name and what to do.
    pub fn load(dir: &Path) -> Result<Self, TrustError> {
        if !dir.is_dir() {
            return Err(problem(dir, "not a directory"));
        }
        let mut trust = Trust::default();
        if let Some(path) = entries(&dir.join("cvc"))?.first() {
            return Err(problem(
                path,
                "CVC CA keys go in cvc/kenhojo/ or cvc/kenkaku/ (the application whose data they sign), named by the whole key reference, e.g. cvc/kenhojo/6000033-001.pem",
            ));
        }
        for app in [CvcApplication::Kenhojo, CvcApplication::Kenkaku] {
            for path in entries(&dir.join("cvc").join(app.dir()))? {
                let id = path
                    .extension()
                    .filter(|e| *e == "pem")
                    .and(path.file_stem())
                    .and_then(|s| s.to_str())
                    .and_then(KeyRef::parse_name)
                    .ok_or_else(|| {
                        problem(
                            &path,
                            "name it by the CA key's whole reference: 6000033-001.pem (label, generation) or its 32 hex digits .pem",
                        )
                    })?;
                let key = SubjectPublicKeyInfoDer::from_pem_file(&path).map_err(|e| {
                    problem(
                        &path,
                        format!("not a PEM public key (BEGIN PUBLIC KEY): {e}"),
                    )
                })?;
                trust = trust.with_cvc_key(app, id, key.as_ref().to_vec());
            }
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
        let policies = dir.join("jpki-policies.txt");
        if policies.is_file() {
            let text = std::fs::read_to_string(&policies)
                .map_err(|e| problem(&policies, e.to_string()))?;
            for (n, line) in text.lines().enumerate() {
                let oid = line.split('#').next().unwrap_or_default().trim();
                if oid.is_empty() {
                    continue;
                }
                if !is_oid(oid) {
                    return Err(problem(
                        &policies,
                        format!(
                            "line {}: {oid:?} is not a dotted OID (1.2.392.200149.8.5.1.0.30)",
                            n + 1
                        ),
                    ));
                }
                trust.extra_policies.push(oid.to_owned());
            }
        }
        Ok(trust)
    }

    /// Adds a CVC CA key (SubjectPublicKeyInfo DER) for one application's data.
    pub fn with_cvc_key(mut self, app: CvcApplication, id: KeyRef, spki: Vec<u8>) -> Self {
        match app {
            CvcApplication::Kenhojo => self.kenhojo.insert(id, spki),
            CvcApplication::Kenkaku => self.kenkaku.insert(id, spki),
        };
        self
    }

    /// Adds a JPKI root certificate (DER).
    pub fn with_jpki_root(mut self, der: Vec<u8>) -> Self {
        self.jpki_roots.push(der);
        self
    }

    /// Accepts a certificate policy besides the production one.
    pub fn with_jpki_policy(mut self, oid: &str) -> Self {
        self.extra_policies.push(oid.to_owned());
        self
    }

    /// The CVC CA key of this application with exactly this reference.
    pub fn cvc_key(&self, app: CvcApplication, id: &KeyRef) -> Option<&[u8]> {
        match app {
            CvcApplication::Kenhojo => self.kenhojo.get(id),
            CvcApplication::Kenkaku => self.kenkaku.get(id),
        }
        .map(Vec::as_slice)
    }

    pub fn cvc_ids(&self, app: CvcApplication) -> impl Iterator<Item = &KeyRef> {
        match app {
            CvcApplication::Kenhojo => self.kenhojo.keys(),
            CvcApplication::Kenkaku => self.kenkaku.keys(),
        }
    }

    /// The 利用者証明用 certificate policies a certificate may carry.
    pub fn jpki_policies(&self) -> impl Iterator<Item = &str> {
        std::iter::once(PRODUCTION_AUTH_POLICY)
            .chain(self.extra_policies.iter().map(String::as_str))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_references_are_whole_and_read_from_file_names() {
        let real = [
            0x36, 0x30, 0x30, 0x30, 0x30, 0x33, 0x33, 0x08, 0x05, 0x30, 0x30, 0x31, 0, 0, 0, 0,
        ];
        let id = KeyRef::parse_name("6000033-001").unwrap();
        assert_eq!(id.0, real);
        assert_eq!(id.to_string(), "6000033-001");
        // Another generation, or other padding, is another key.
        assert_ne!(KeyRef::parse_name("6000033-002"), Some(id));
        let mut odd = real;
        odd[15] = 0xA8;
        let odd = KeyRef(odd);
        assert_eq!(odd.to_string(), hex::encode_upper(odd.0));
        assert_eq!(KeyRef::parse_name(&odd.to_string()), Some(odd));
        for bad in ["6000033", "600003-001", "6000033-01", "zz"] {
            assert_eq!(KeyRef::parse_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_key_left_in_cvc_itself_or_a_bad_policy_stops_the_load_with_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("cvc")).unwrap();
        std::fs::write(dir.path().join("cvc/6000033.pem"), "x").unwrap();
        let e = Trust::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("cvc/kenhojo/6000033-001.pem"), "{e}");

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("jpki-policies.txt"),
            "# test\n1.2.3\nnot an oid\n",
        )
        .unwrap();
        let e = Trust::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("line 3"), "{e}");

        let trust = Trust::load(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/card/jlis-test-trust"
        )))
        .unwrap();
        let id = KeyRef::parse_name("6000033-001").unwrap();
        assert!(trust.cvc_key(CvcApplication::Kenhojo, &id).is_some());
        assert!(trust.cvc_key(CvcApplication::Kenkaku, &id).is_none());
        assert_eq!(trust.jpki_roots.len(), 2);
        assert!(
            trust
                .jpki_policies()
                .any(|p| p == "1.2.392.200149.8.5.1.0.30")
        );
    }
}
