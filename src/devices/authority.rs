//! The gateway's device CA: it certifies each enrolled counter PC's key (client
//! certificates) and the device port's own server certificate. A bridge trusts exactly this
//! CA for the device port, so no public CA and no name on the internet is involved (the
//! counter network has no internet).

use std::sync::Arc;

use chrono::Datelike;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PublicKeyData, SanType, SignatureAlgorithm,
};
use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum AuthorityError {
    #[error("the public key is not an ECDSA P-256 SubjectPublicKeyInfo (DER)")]
    UnsupportedKey,
    #[error("certificate: {0}")]
    Certificate(String),
    #[error("TLS: {0}")]
    Tls(String),
}

fn cert_error(e: rcgen::Error) -> AuthorityError {
    AuthorityError::Certificate(e.to_string())
}

/// The SubjectPublicKeyInfo of every ECDSA P-256 key up to its 65-byte point (RFC 5480).
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01, 0x06, 0x08, 0x2A,
    0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// A bridge's public key, sent at enrolment (the bridge keeps its private key).
struct DevicePublicKey(Vec<u8>);

impl DevicePublicKey {
    fn from_spki(spki: &[u8]) -> Result<Self, AuthorityError> {
        match spki.strip_prefix(&P256_SPKI_PREFIX[..]) {
            Some(point) if point.len() == 65 && point[0] == 0x04 => Ok(Self(point.to_vec())),
            _ => Err(AuthorityError::UnsupportedKey),
        }
    }
}

impl PublicKeyData for DevicePublicKey {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &rcgen::PKCS_ECDSA_P256_SHA256
    }
}

/// The CA's name and usages; the same on every start, so a stored certificate and its key
/// make the same issuer again.
fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::OrganizationName, "madoguchi");
    params
        .distinguished_name
        .push(DnType::CommonName, "madoguchi counter device CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params
}

/// Valid from January of `before` years ago to January `after` years on.
fn set_validity(params: &mut CertificateParams, before: i32, after: i32) {
    let year = chrono::Utc::now().year();
    params.not_before = rcgen::date_time_ymd(year - before, 1, 1);
    params.not_after = rcgen::date_time_ymd(year + after, 1, 1);
}

pub struct DeviceAuthority {
    certificate: Vec<u8>,
    issuer: Issuer<'static, KeyPair>,
}

impl DeviceAuthority {
    /// A new CA; returns it with its key (PKCS#8) to store.
    pub fn generate() -> Result<(Self, Vec<u8>), AuthorityError> {
        let key = KeyPair::generate().map_err(cert_error)?;
        let pkcs8 = key.serialize_der();
        let mut params = ca_params();
        set_validity(&mut params, 1, 30);
        let certificate = params.self_signed(&key).map_err(cert_error)?;
        Ok((
            DeviceAuthority {
                certificate: certificate.der().to_vec(),
                issuer: Issuer::new(ca_params(), key),
            },
            pkcs8,
        ))
    }

    /// The CA as stored.
    pub fn from_parts(certificate: Vec<u8>, pkcs8: &[u8]) -> Result<Self, AuthorityError> {
        let key = KeyPair::try_from(pkcs8).map_err(cert_error)?;
        Ok(DeviceAuthority {
            certificate,
            issuer: Issuer::new(ca_params(), key),
        })
    }

    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate
    }

    pub fn certificate_pem(&self) -> String {
        pem_of("CERTIFICATE", &self.certificate)
    }

    /// A client certificate for an enrolled device's key: CN is the device id.
    pub fn issue_device(&self, device: Uuid, spki: &[u8]) -> Result<Vec<u8>, AuthorityError> {
        let public = DevicePublicKey::from_spki(spki)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, device.to_string());
        params.subject_alt_names = vec![SanType::URI(
            format!("urn:uuid:{device}")
                .try_into()
                .map_err(cert_error)?,
        )];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        set_validity(&mut params, 0, 5);
        let cert = params
            .signed_by(&public, &self.issuer)
            .map_err(cert_error)?;
        Ok(cert.der().to_vec())
    }

    /// The device port's TLS: a server certificate for `names` issued now, and client
    /// certificates required under this CA.
    pub fn server_config(&self, names: &[String]) -> Result<rustls::ServerConfig, AuthorityError> {
        let key = KeyPair::generate().map_err(cert_error)?;
        let mut params = CertificateParams::new(names.to_vec()).map_err(cert_error)?;
        params
            .distinguished_name
            .push(DnType::CommonName, "madoguchi device port");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        set_validity(&mut params, 1, 2);
        let cert = params.signed_by(&key, &self.issuer).map_err(cert_error)?;
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from(self.certificate.clone()))
            .map_err(|e| AuthorityError::Tls(e.to_string()))?;
        // The provider named here, not the process default: the device port does not depend
        // on what else the process installed.
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| AuthorityError::Tls(e.to_string()))?;
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| AuthorityError::Tls(e.to_string()))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                vec![
                    cert.der().clone(),
                    CertificateDer::from(self.certificate.clone()),
                ],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .map_err(|e| AuthorityError::Tls(e.to_string()))
    }
}

/// PEM text of DER bytes.
pub fn pem_of(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_key_is_certified_and_other_keys_are_refused() {
        let (ca, pkcs8) = DeviceAuthority::generate().unwrap();
        let again = DeviceAuthority::from_parts(ca.certificate_der().to_vec(), &pkcs8).unwrap();
        let device = KeyPair::generate().unwrap();
        let id = Uuid::now_v7();
        let der = again
            .issue_device(id, &device.subject_public_key_info())
            .unwrap();
        // The stored CA verifies what the reloaded CA issued.
        let ca_der = CertificateDer::from(ca.certificate_der().to_vec());
        let anchor = webpki::anchor_from_trusted_cert(&ca_der).unwrap();
        let cert_der = CertificateDer::from(der);
        let cert = webpki::EndEntityCert::try_from(&cert_der).unwrap();
        cert.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &[anchor],
            &[],
            rustls_pki_types::UnixTime::now(),
            webpki::KeyUsage::client_auth(),
            None,
            None,
        )
        .unwrap();
        let rsa = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        assert!(matches!(
            ca.issue_device(id, &rsa.subject_public_key_info()),
            Err(AuthorityError::UnsupportedKey)
        ));
        assert!(ca.server_config(&["localhost".into()]).is_ok());
    }
}
