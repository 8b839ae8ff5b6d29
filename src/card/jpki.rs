//! JPKI authentication (reference §5): the card's 利用者証明用 signature over the server's
//! nonce, the certificate's chain to a *configured* J-LIS root (chosen by key: roots of three
//! generations share one name, and the path builder tries each), its validity and key usage,
//! and revocation through a pluggable source (files of CRLs here; J-LIS publishes revocation
//! data to registered verifiers through its own route).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, UnixTime};
use webpki::{
    CertRevocationList, EndEntityCert, KeyUsage, OwnedCertRevocationList, RevocationOptionsBuilder,
    UnknownStatusPolicy,
};

use super::tlv::Reader;
use super::trust::Trust;
use super::verify::{Check, Outcome};

/// Where revocation data comes from.
pub trait Revocation {
    /// The CRLs in force (DER). None configured: revocation is not checked, and says so.
    fn crls(&self) -> Result<Vec<Vec<u8>>, String>;
}

/// No revocation data.
pub struct NoRevocation;

impl Revocation for NoRevocation {
    fn crls(&self) -> Result<Vec<Vec<u8>>, String> {
        Ok(Vec::new())
    }
}

/// CRL files in a directory (`.crl`, `.der` or PEM `X509 CRL`), read at each check so a new
/// file takes effect at once.
pub struct CrlDirectory(pub PathBuf);

impl Revocation for CrlDirectory {
    fn crls(&self) -> Result<Vec<Vec<u8>>, String> {
        let dir: &Path = &self.0;
        if !dir.exists() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for entry in entries {
            let path = entry.map_err(|e| e.to_string())?.path();
            if !path.is_file() {
                continue;
            }
            let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            if bytes.starts_with(b"-----BEGIN") {
                let der = CertificateRevocationListDer::from_pem_slice(&bytes)
                    .map_err(|e| format!("{}: not a PEM CRL: {e}", path.display()))?;
                out.push(der.as_ref().to_vec());
            } else {
                out.push(bytes);
            }
        }
        Ok(out)
    }
}

/// id-kp-clientAuth (1.3.6.1.5.5.7.3.2): required only if the certificate names purposes.
const CLIENT_AUTH: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02];
/// id-ce-keyUsage (2.5.29.15).
const KEY_USAGE: &[u8] = &[0x55, 0x1D, 0x0F];

/// Whether the certificate's KeyUsage allows digitalSignature (`None`: no KeyUsage or not
/// readable). Read with the lenient TLV reader: DER is BER.
fn digital_signature(cert: &[u8]) -> Option<bool> {
    let certificate = Reader::new(cert).next()?.ok()?;
    let tbs = certificate.children().next()?.ok()?;
    let extensions = tbs.children().find(0xA3).ok()??;
    let list = extensions.children().next()?.ok()?;
    for extension in list.children() {
        let extension = extension.ok()?;
        let mut parts = extension.children();
        let oid = parts.next()?.ok()?;
        if oid.value != KEY_USAGE {
            continue;
        }
        let value = parts.find(0x04).ok()??;
        let bits = Reader::new(value.value).next()?.ok()?;
        return Some(bits.value.get(1).is_some_and(|b| b & 0x80 != 0));
    }
    None
}

/// The certificate's serial number in hex (read with the lenient TLV reader).
pub fn serial_hex(cert: &[u8]) -> Option<String> {
    let certificate = Reader::new(cert).next()?.ok()?;
    let tbs = certificate.children().next()?.ok()?;
    let mut fields = tbs.children();
    let mut first = fields.next()?.ok()?;
    if first.tag == 0xA0 {
        first = fields.next()?.ok()?;
    }
    (first.tag == 0x02).then(|| hex::encode_upper(first.value))
}

fn check(id: &'static str, outcome: Outcome, detail: impl Into<String>) -> Check {
    Check {
        id,
        outcome,
        detail: detail.into(),
    }
}

/// The checks of one authentication: `jpki.signature` (over the nonce; not checked without
/// one, as for a dump), `jpki.chain`, `jpki.validity`, `jpki.keyUsage`, `jpki.revocation`.
pub fn verify(
    certificate: &[u8],
    challenge: Option<(&[u8], &[u8])>,
    trust: &Trust,
    revocation: &dyn Revocation,
    now: SystemTime,
) -> Vec<Check> {
    let mut checks = Vec::new();
    let der = CertificateDer::from(certificate);
    let cert = match EndEntityCert::try_from(&der) {
        Ok(c) => c,
        Err(e) => {
            checks.push(check(
                "jpki.chain",
                Outcome::Failed,
                format!("EF 000A is not a certificate: {e:?}"),
            ));
            return checks;
        }
    };
    let alg = webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA256;
    checks.push(
        match challenge.map(|(nonce, sig)| cert.verify_signature(alg, nonce, sig)) {
            Some(Ok(())) => check(
                "jpki.signature",
                Outcome::Passed,
                "the card signed the server's nonce with the certified key",
            ),
            Some(Err(_)) => check(
                "jpki.signature",
                Outcome::Failed,
                "the signature over the nonce does not verify under the certificate's key",
            ),
            None => check(
                "jpki.signature",
                Outcome::NotChecked,
                "needs the card in a reader: only the card itself can sign a fresh nonce",
            ),
        },
    );
    checks.push(match digital_signature(certificate) {
        Some(true) => check("jpki.keyUsage", Outcome::Passed, "digitalSignature"),
        Some(false) => check(
            "jpki.keyUsage",
            Outcome::Failed,
            "the certificate's key usage does not allow digital signatures",
        ),
        None => check(
            "jpki.keyUsage",
            Outcome::Failed,
            "the certificate has no readable key usage",
        ),
    });

    let roots: Vec<CertificateDer<'_>> = trust
        .jpki_roots
        .iter()
        .map(|r| CertificateDer::from(r.as_slice()))
        .collect();
    let anchors: Vec<_> = roots
        .iter()
        .filter_map(|r| webpki::anchor_from_trusted_cert(r).ok())
        .collect();
    if anchors.is_empty() {
        checks.push(check(
            "jpki.chain",
            Outcome::Failed,
            "no JPKI root is configured (trust directory jpki/)",
        ));
        return checks;
    }
    let crls = match revocation.crls() {
        Ok(c) => c,
        Err(e) => {
            checks.push(check(
                "jpki.revocation",
                Outcome::Failed,
                format!("the revocation data cannot be read: {e}"),
            ));
            return checks;
        }
    };
    let parsed: Vec<CertRevocationList<'_>> = crls
        .iter()
        .filter_map(|c| OwnedCertRevocationList::from_der(c).ok())
        .map(CertRevocationList::from)
        .collect();
    let refs: Vec<&CertRevocationList<'_>> = parsed.iter().collect();
    let options = RevocationOptionsBuilder::new(&refs)
        .ok()
        .map(|b| b.with_status_policy(UnknownStatusPolicy::Deny).build());
    let time = UnixTime::since_unix_epoch(
        now.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default(),
    );
    let result = cert.verify_for_usage(
        &[alg],
        &anchors,
        &[],
        time,
        KeyUsage::required_if_present(CLIENT_AUTH),
        options,
        None,
    );
    let revocation_checked = !refs.is_empty();
    match result {
        Ok(_) => {
            checks.push(check(
                "jpki.chain",
                Outcome::Passed,
                "the certificate chains to a configured JPKI root",
            ));
            checks.push(check("jpki.validity", Outcome::Passed, "valid now"));
            checks.push(if revocation_checked {
                check("jpki.revocation", Outcome::Passed, "not revoked")
            } else {
                check(
                    "jpki.revocation",
                    Outcome::NotChecked,
                    "no revocation data is configured",
                )
            });
        }
        Err(webpki::Error::CertExpired { .. }) | Err(webpki::Error::CertNotValidYet { .. }) => {
            checks.push(check(
                "jpki.validity",
                Outcome::Failed,
                "the certificate is not valid now (expired or not yet valid)",
            ))
        }
        Err(webpki::Error::CertRevoked) => checks.push(check(
            "jpki.revocation",
            Outcome::Failed,
            "the certificate is revoked",
        )),
        Err(webpki::Error::UnknownRevocationStatus) => checks.push(check(
            "jpki.revocation",
            Outcome::Failed,
            "no configured CRL covers the certificate's issuer",
        )),
        Err(e) => checks.push(check(
            "jpki.chain",
            Outcome::Failed,
            format!("the certificate does not chain to a configured JPKI root ({e:?})"),
        )),
    }
    checks
}
