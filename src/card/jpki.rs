//! JPKI authentication (reference §5): the card's 利用者証明用 signature over the server's
//! nonce, and the certificate it was made with: its chain to a *configured* J-LIS root, its
//! validity, key usage, certificate policy and revocation (a pluggable source: files of CRLs
//! here; J-LIS publishes revocation data to registered verifiers through its own route).
//!
//! The path is checked here, on certificates parsed by x509-parser, rather than by
//! rustls-webpki: J-LIS marks certificatePolicies **critical** in every 利用者証明用
//! certificate, and webpki refuses any critical extension it does not process
//! (`UnsupportedCriticalExtension`), with no way to teach it one. A JPKI path is one level (the
//! end entity directly under a self-signed root of one of J-LIS's generations), so the part of
//! RFC 5280 it needs is small and checked in full:
//!
//! - the end entity is a v3 certificate signed with RSA PKCS#1 v1.5 and SHA-256/384/512 by a
//!   configured root with its issuer's exact name; the three generations of roots share one
//!   name, so the root is the one whose **key** verifies the signature;
//! - that root is a CA (basicConstraints cA, keyUsage keyCertSign when it says);
//! - every critical extension of the end entity is one processed here (keyUsage,
//!   certificatePolicies, basicConstraints, extKeyUsage); any other fails the chain;
//! - keyUsage has digitalSignature; extKeyUsage, when present, allows clientAuth; the end entity
//!   is not a CA;
//! - certificatePolicies holds a policy the trust directory accepts (the production 利用者証明用
//!   policy, and what `jpki-policies.txt` adds);
//! - the end entity is valid at the time of the check;
//! - with CRLs configured, one from the same issuer, signed by the same root key and not past
//!   its nextUpdate, does not list the serial.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use rustls_pki_types::CertificateRevocationListDer;
use rustls_pki_types::pem::PemObject;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::ParsedExtension;
use x509_parser::oid_registry::{
    OID_PKCS1_SHA256WITHRSA, OID_PKCS1_SHA384WITHRSA, OID_PKCS1_SHA512WITHRSA,
    OID_X509_EXT_BASIC_CONSTRAINTS, OID_X509_EXT_CERTIFICATE_POLICIES,
    OID_X509_EXT_EXTENDED_KEY_USAGE, OID_X509_EXT_KEY_USAGE,
};
use x509_parser::revocation_list::CertificateRevocationList;
use x509_parser::time::ASN1Time;
use x509_parser::x509::X509Version;

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

/// The certificate as the card holds it, without the padding that follows it in EF 000A (its
/// length is in its DER header).
pub fn without_padding(raw: &[u8]) -> &[u8] {
    match Reader::new(raw).next() {
        Some(Ok(tlv)) if tlv.tag == 0x30 => tlv.raw,
        _ => raw,
    }
}

/// The certificate's serial number in hex.
pub fn serial_hex(cert: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert).ok()?;
    Some(hex::encode_upper(cert.raw_serial()))
}

fn check(id: &'static str, outcome: Outcome, detail: impl Into<String>) -> Check {
    Check {
        id,
        outcome,
        detail: detail.into(),
    }
}

fn passed(id: &'static str, detail: impl Into<String>) -> Check {
    check(id, Outcome::Passed, detail)
}

fn failed(id: &'static str, detail: impl Into<String>) -> Check {
    check(id, Outcome::Failed, detail)
}

/// The extensions this verifier processes: a critical one of any other kind fails the chain.
fn processed(oid: &x509_parser::der_parser::oid::Oid<'_>) -> bool {
    [
        &OID_X509_EXT_KEY_USAGE,
        &OID_X509_EXT_CERTIFICATE_POLICIES,
        &OID_X509_EXT_BASIC_CONSTRAINTS,
        &OID_X509_EXT_EXTENDED_KEY_USAGE,
    ]
    .contains(&oid)
}

/// id-kp-clientAuth.
fn client_auth_allowed(cert: &X509Certificate<'_>) -> Result<(), String> {
    match cert.extended_key_usage() {
        Ok(None) => Ok(()),
        Ok(Some(eku)) if eku.value.any || eku.value.client_auth => Ok(()),
        Ok(Some(_)) => Err("its extended key usage does not allow client authentication".into()),
        Err(e) => Err(format!("its extended key usage cannot be read ({e})")),
    }
}

fn key_usage_check(cert: &X509Certificate<'_>) -> Check {
    const ID: &str = "jpki.keyUsage";
    let usage = match cert.key_usage() {
        Ok(Some(ku)) if ku.value.digital_signature() => Ok(()),
        Ok(Some(_)) => Err("the certificate's key usage does not allow digital signatures".into()),
        Ok(None) => Err("the certificate has no key usage".to_owned()),
        Err(e) => Err(format!("the certificate's key usage cannot be read ({e})")),
    };
    match usage.and_then(|()| client_auth_allowed(cert)) {
        Ok(()) => passed(ID, "digitalSignature"),
        Err(e) => failed(ID, e),
    }
}

fn policy_check(cert: &X509Certificate<'_>, trust: &Trust) -> Check {
    const ID: &str = "jpki.policy";
    let accepted: Vec<&str> = trust.jpki_policies().collect();
    let Some(extension) = cert
        .get_extension_unique(&OID_X509_EXT_CERTIFICATE_POLICIES)
        .ok()
        .flatten()
    else {
        return failed(
            ID,
            "the certificate has no certificate policies (J-LIS writes its 利用者証明用 policy in every one)",
        );
    };
    let ParsedExtension::CertificatePolicies(policies) = extension.parsed_extension() else {
        return failed(ID, "the certificate policies cannot be read");
    };
    let found: Vec<String> = policies
        .iter()
        .map(|p| p.policy_id.to_id_string())
        .collect();
    match found.iter().find(|p| accepted.contains(&p.as_str())) {
        Some(p) => passed(ID, format!("policy {p}")),
        None => failed(
            ID,
            format!(
                "the certificate's policies ({}) are none of those accepted ({}); a J-LIS test card carries 1.2.392.200149.8.5.1.0.30, which only a test setup accepts (jpki-policies.txt)",
                found.join(", "),
                accepted.join(", ")
            ),
        ),
    }
}

/// The structural part of the chain: everything but the issuer's signature.
fn end_entity_shape(cert: &X509Certificate<'_>) -> Result<(), String> {
    if cert.version() != X509Version::V3 {
        return Err("it is not an X.509 v3 certificate".into());
    }
    let algorithm = &cert.signature_algorithm.algorithm;
    if ![
        &OID_PKCS1_SHA256WITHRSA,
        &OID_PKCS1_SHA384WITHRSA,
        &OID_PKCS1_SHA512WITHRSA,
    ]
    .contains(&algorithm)
        || cert.tbs_certificate.signature.algorithm != *algorithm
    {
        return Err(format!(
            "it is signed with {}, not RSA PKCS#1 v1.5 with SHA-2",
            algorithm.to_id_string()
        ));
    }
    if let Some(unknown) = cert
        .extensions()
        .iter()
        .find(|e| e.critical && !processed(&e.oid))
    {
        return Err(format!(
            "it has a critical extension this verifier does not process ({})",
            unknown.oid.to_id_string()
        ));
    }
    if cert.is_ca() {
        return Err("it is a CA certificate, not an end entity's".into());
    }
    Ok(())
}

/// A root that may issue: a CA, and keyCertSign when it states its usage.
fn can_issue(root: &X509Certificate<'_>) -> bool {
    root.is_ca()
        && match root.key_usage() {
            Ok(Some(ku)) => ku.value.key_cert_sign(),
            Ok(None) => true,
            Err(_) => false,
        }
}

fn asn1_time(now: SystemTime) -> Option<ASN1Time> {
    let seconds = now.duration_since(SystemTime::UNIX_EPOCH).ok()?.as_secs();
    ASN1Time::from_timestamp(i64::try_from(seconds).ok()?).ok()
}

/// The checks of one authentication: `jpki.signature` (over the nonce; not checked without
/// one, as for a dump), `jpki.keyUsage`, `jpki.policy`, `jpki.chain`, `jpki.validity`,
/// `jpki.revocation`.
pub fn verify(
    certificate: &[u8],
    challenge: Option<(&[u8], &[u8])>,
    trust: &Trust,
    revocation: &dyn Revocation,
    now: SystemTime,
) -> Vec<Check> {
    let mut checks = Vec::new();
    let cert = match x509_parser::parse_x509_certificate(certificate) {
        Ok(([], cert)) => cert,
        Ok(_) => {
            checks.push(failed(
                "jpki.chain",
                "EF 000A holds data after its certificate",
            ));
            return checks;
        }
        Err(e) => {
            checks.push(failed(
                "jpki.chain",
                format!("EF 000A is not a certificate: {e}"),
            ));
            return checks;
        }
    };
    let key = &cert.public_key().subject_public_key.data;
    checks.push(match challenge {
        Some((nonce, signature)) => {
            if UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key.as_ref())
                .verify(nonce, signature)
                .is_ok()
            {
                passed(
                    "jpki.signature",
                    "the card signed the server's nonce with the certified key",
                )
            } else {
                failed(
                    "jpki.signature",
                    "the signature over the nonce does not verify under the certificate's key",
                )
            }
        }
        None => check(
            "jpki.signature",
            Outcome::NotChecked,
            "needs the card in a reader: only the card itself can sign a fresh nonce",
        ),
    });
    checks.push(key_usage_check(&cert));
    checks.push(policy_check(&cert, trust));

    // The issuer: a configured root with the issuer's exact name whose key signed it.
    let roots: Vec<X509Certificate<'_>> = trust
        .jpki_roots
        .iter()
        .filter_map(|r| x509_parser::parse_x509_certificate(r).ok().map(|(_, c)| c))
        .collect();
    let issuer = end_entity_shape(&cert).and_then(|()| {
        if roots.is_empty() {
            return Err("no JPKI root is configured (trust directory jpki/)".to_owned());
        }
        let named: Vec<&X509Certificate<'_>> = roots
            .iter()
            .filter(|r| r.subject().as_raw() == cert.issuer().as_raw())
            .collect();
        if named.is_empty() {
            return Err(format!(
                "no configured JPKI root is named {} (its issuer)",
                cert.issuer()
            ));
        }
        named
            .into_iter()
            .find(|r| cert.verify_signature(Some(r.public_key())).is_ok())
            .ok_or_else(|| {
                "configured roots carry its issuer's name, but none of their keys signed it"
                    .to_owned()
            })
            .and_then(|r| {
                if can_issue(r) {
                    Ok(r)
                } else {
                    Err("the root that signed it is not a CA".to_owned())
                }
            })
    });
    let root = match issuer {
        Ok(root) => {
            checks.push(passed(
                "jpki.chain",
                format!(
                    "the certificate chains to the configured JPKI root {} (serial {})",
                    root.subject(),
                    root.raw_serial_as_string()
                ),
            ));
            Some(root)
        }
        Err(e) => {
            checks.push(failed(
                "jpki.chain",
                format!("the certificate does not chain to a configured JPKI root: {e}"),
            ));
            None
        }
    };
    let time = asn1_time(now);
    checks.push(match time {
        Some(t) if cert.validity().is_valid_at(t) => passed("jpki.validity", "valid now"),
        _ => failed(
            "jpki.validity",
            format!(
                "the certificate is not valid now (valid from {} to {})",
                cert.validity().not_before,
                cert.validity().not_after
            ),
        ),
    });
    checks.push(revocation_check(&cert, root, revocation, time));
    checks
}

fn revocation_check(
    cert: &X509Certificate<'_>,
    root: Option<&X509Certificate<'_>>,
    revocation: &dyn Revocation,
    now: Option<ASN1Time>,
) -> Check {
    const ID: &str = "jpki.revocation";
    let crls = match revocation.crls() {
        Ok(c) => c,
        Err(e) => return failed(ID, format!("the revocation data cannot be read: {e}")),
    };
    if crls.is_empty() {
        return check(ID, Outcome::NotChecked, "no revocation data is configured");
    }
    let Some(root) = root else {
        return failed(
            ID,
            "cannot be checked: the certificate's issuer is not a configured root",
        );
    };
    let parsed: Vec<CertificateRevocationList<'_>> = crls
        .iter()
        .filter_map(|c| x509_parser::parse_x509_crl(c).ok().map(|(_, crl)| crl))
        .collect();
    let from_issuer: Vec<&CertificateRevocationList<'_>> = parsed
        .iter()
        .filter(|crl| crl.issuer().as_raw() == cert.issuer().as_raw())
        .filter(|crl| crl.verify_signature(root.public_key()).is_ok())
        .collect();
    if from_issuer.is_empty() {
        return failed(ID, "no configured CRL covers the certificate's issuer");
    }
    let current: Vec<&&CertificateRevocationList<'_>> = from_issuer
        .iter()
        .filter(|crl| match (crl.next_update(), now) {
            (Some(next), Some(now)) => next > now && crl.last_update() <= now,
            (None, Some(now)) => crl.last_update() <= now,
            (_, None) => false,
        })
        .collect();
    if current.is_empty() {
        return failed(
            ID,
            "the issuer's CRLs are out of date (past their nextUpdate): fetch the current one",
        );
    }
    if current.iter().any(|crl| {
        crl.iter_revoked_certificates()
            .any(|r| r.raw_serial() == cert.raw_serial())
    }) {
        return failed(ID, "the certificate is revoked");
    }
    passed(ID, "not revoked")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::card::synth::{JpkiIssuer, SYNTH_AUTH_POLICY};
    use std::time::{Duration, UNIX_EPOCH};

    fn data(path: &str) -> Vec<u8> {
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
    }

    /// 2027-06-01, inside the real test card's certificate (2025-10-27 to 2030-02-17).
    fn june_2027() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_811_808_000)
    }

    /// The outcome of check `id` (a test fails when there is none).
    pub(crate) fn outcome(checks: &[Check], id: &str) -> Outcome {
        checks
            .iter()
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("no {id} in {checks:#?}"))
            .outcome
    }

    fn detail<'a>(checks: &'a [Check], id: &str) -> &'a str {
        &checks.iter().find(|c| c.id == id).unwrap().detail
    }

    #[test]
    fn a_real_jpki_certificate_with_critical_policies_chains_to_its_configured_root() {
        let raw = data("tests/data/card/jlis-test-card/jpki/000A.der");
        let cert = without_padding(&raw);
        let trust = Trust::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/card/jlis-test-trust"),
        )
        .unwrap();
        let checks = verify(cert, None, &trust, &NoRevocation, june_2027());
        for id in [
            "jpki.keyUsage",
            "jpki.policy",
            "jpki.chain",
            "jpki.validity",
        ] {
            assert_eq!(outcome(&checks, id), Outcome::Passed, "{id}: {checks:#?}");
        }
        assert!(detail(&checks, "jpki.policy").contains("1.2.392.200149.8.5.1.0.30"));
        assert_eq!(outcome(&checks, "jpki.signature"), Outcome::NotChecked);
        assert_eq!(serial_hex(cert).as_deref(), Some("227B13"));

        // What the verifier before this one did with it: rustls-webpki cannot process the
        // critical certificatePolicies and refuses the certificate whatever the root.
        let der = rustls_pki_types::CertificateDer::from(cert);
        let refused = webpki::EndEntityCert::try_from(&der).map(|_| ());
        assert!(
            matches!(refused, Err(webpki::Error::UnsupportedCriticalExtension)),
            "{refused:?}"
        );

        // The same root name with the other generation's key only: not the issuer.
        let older = Trust::default()
            .with_jpki_root(data(
                "tests/data/card/jlis-test-trust/jpki/authca-test-2019.der",
            ))
            .with_jpki_policy("1.2.392.200149.8.5.1.0.30");
        let checks = verify(cert, None, &older, &NoRevocation, june_2027());
        assert_eq!(outcome(&checks, "jpki.chain"), Outcome::Failed);
        assert!(detail(&checks, "jpki.chain").contains("none of their keys signed it"));

        // A production trust directory: J-LIS's published roots and the production policy. A
        // test card is refused twice over.
        let mut production = Trust::default();
        for n in 1..=3 {
            production =
                production.with_jpki_root(data(&format!("deploy/card-trust/jpki/authca0{n}.der")));
        }
        let checks = verify(cert, None, &production, &NoRevocation, june_2027());
        assert_eq!(outcome(&checks, "jpki.policy"), Outcome::Failed);
        assert_eq!(outcome(&checks, "jpki.chain"), Outcome::Failed);
        assert!(detail(&checks, "jpki.chain").contains("no configured JPKI root is named"));
        // Out of its validity.
        let checks = verify(
            cert,
            None,
            &trust,
            &NoRevocation,
            UNIX_EPOCH + Duration::from_secs(1_900_000_000),
        );
        assert_eq!(outcome(&checks, "jpki.validity"), Outcome::Failed);
    }

    #[test]
    fn the_synthetic_certificate_carries_what_a_real_one_does_and_unknown_critical_extensions_fail()
    {
        let real = data("tests/data/card/jlis-test-card/jpki/000A.der");
        let issuer = JpkiIssuer::generate("JPKI-TEST-SYNTH Root 9").unwrap();
        let key = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let ours = issuer.auth_certificate(&key, 7, (2025, 2035)).unwrap();
        let profile = |der: &[u8]| {
            let (_, c) = x509_parser::parse_x509_certificate(der).unwrap();
            let mut critical: Vec<String> = c
                .extensions()
                .iter()
                .filter(|e| e.critical)
                .map(|e| e.oid.to_id_string())
                .collect();
            critical.sort();
            let ku = c.key_usage().unwrap().unwrap().value.flags;
            let eku = c.extended_key_usage().unwrap().unwrap().value.client_auth;
            let policies = match c
                .get_extension_unique(&OID_X509_EXT_CERTIFICATE_POLICIES)
                .unwrap()
                .unwrap()
                .parsed_extension()
            {
                ParsedExtension::CertificatePolicies(p) => p
                    .iter()
                    .map(|p| p.policy_id.to_id_string())
                    .collect::<Vec<_>>(),
                _ => Vec::new(),
            };
            (critical, ku, eku, policies, c.is_ca())
        };
        assert_eq!(profile(&ours), profile(without_padding(&real)));

        let trust = Trust::default()
            .with_jpki_root(issuer.root_der().to_vec())
            .with_jpki_policy(SYNTH_AUTH_POLICY);
        let checks = verify(&ours, None, &trust, &NoRevocation, SystemTime::now());
        assert_eq!(
            outcome(&checks, "jpki.chain"),
            Outcome::Passed,
            "{checks:#?}"
        );
        // A critical extension nobody processes here: refused, as RFC 5280 requires.
        let mut odd = rcgen::CustomExtension::from_oid_content(&[1, 2, 3, 4], vec![0x05, 0x00]);
        odd.set_criticality(true);
        let strange = issuer
            .auth_certificate_with(&key, 8, (2025, 2035), SYNTH_AUTH_POLICY, vec![odd])
            .unwrap();
        let checks = verify(&strange, None, &trust, &NoRevocation, SystemTime::now());
        assert_eq!(outcome(&checks, "jpki.chain"), Outcome::Failed);
        assert!(detail(&checks, "jpki.chain").contains("1.2.3.4"));
        // Another policy than those accepted.
        let other = issuer
            .auth_certificate_with(&key, 9, (2025, 2035), "1.2.392.200149.8.5.1.1.20", vec![])
            .unwrap();
        let checks = verify(&other, None, &trust, &NoRevocation, SystemTime::now());
        assert_eq!(outcome(&checks, "jpki.policy"), Outcome::Failed);
    }
}
