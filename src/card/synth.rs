//! A synthetic card issuer of our own (reference §9): a CVC CA with a key id starting with 9
//! (`9000033`, never a J-LIS id), a data-signing key certified by it, and cards written as a
//! real one is laid out — long-form tags, non-minimal lengths, `FF` filler — so that tests,
//! the virtual card and support staff's practice dumps exercise the same code as real cards.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use chrono::NaiveDate;
use sha2::{Digest, Sha256};

use super::files::{AppFiles, Dump};
use super::kenhojo::{EF_BASIC_INFO, EF_CARD_KEY, EF_CVC, EF_INTEGRITY, EF_MY_NUMBER};
use super::tlv::{encode, tag_bytes};

/// Our synthetic CVC CA key id (kenhojo).
pub const SYNTH_CA_ID: &str = "9000033";

#[derive(Debug, thiserror::Error)]
#[error("the synthetic issuer could not {0}")]
pub struct SynthError(pub &'static str);

/// A 16-byte key id: 7 characters, `08 05 "001"`, zero padding.
pub fn key_id(label: &str) -> [u8; 16] {
    let mut id = [0u8; 16];
    for (slot, b) in id.iter_mut().zip(label.bytes().take(7)) {
        *slot = b;
    }
    id[7..12].copy_from_slice(&[0x08, 0x05, b'0', b'0', b'1']);
    id
}

/// A resident as a synthetic card holds them.
#[derive(Debug, Clone)]
pub struct Resident {
    /// 氏名 with a full-width space (山田　花子).
    pub name: String,
    pub address: String,
    pub date_of_birth: NaiveDate,
    /// `1`, `2` or `9`.
    pub sex: char,
    /// 12 digits with a valid check digit.
    pub my_number: String,
}

impl Resident {
    /// The sample resident of the README and the tests.
    pub fn sample() -> Self {
        Resident {
            name: "山田　花子".to_owned(),
            address: "北海道北見市北５条東２丁目１０番地".to_owned(),
            date_of_birth: NaiveDate::from_ymd_opt(1980, 2, 17).unwrap_or_default(),
            sex: '2',
            // The Digital Agency's published sample number (valid check digit).
            my_number: "123456789018".to_owned(),
        }
    }
}

pub struct Issuer {
    ca: RsaKeyPair,
    ca_id: [u8; 16],
    signer: RsaKeyPair,
    signer_id: [u8; 16],
}

/// A card's contents: its files and, for a synthetic card, the key only the card holds (a
/// dump recorded from a real card has no private key: it cannot answer a challenge).
pub struct Card {
    pub dump: Dump,
    pub card_key: Option<RsaKeyPair>,
    /// JPKI 利用者証明用 private key (EF 0017), once enrolled by a [`JpkiIssuer`].
    pub auth_key: Option<RsaKeyPair>,
}

impl Card {
    /// What the card answers to `80 2A 00 00` over a nonce (PKCS#1 v1.5, SHA-256).
    pub fn sign_challenge(&self, nonce: &[u8]) -> Result<Vec<u8>, SynthError> {
        let key = self
            .card_key
            .as_ref()
            .ok_or(SynthError("sign: a dump holds no card key"))?;
        sign(key, nonce)
    }

    /// What the card does with `80 2A 00 00 <DigestInfo>`: pads and signs a SHA-256
    /// DigestInfo as given. `None` for anything else.
    pub fn sign_digest_info(&self, digest_info: &[u8]) -> Option<Vec<u8>> {
        sign_digest_info_with(self.card_key.as_ref()?, digest_info)
    }
}

fn generate() -> Result<RsaKeyPair, SynthError> {
    RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| SynthError("generate an RSA key"))
}

fn sign(key: &RsaKeyPair, message: &[u8]) -> Result<Vec<u8>, SynthError> {
    let mut signature = vec![0; key.public_modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        message,
        &mut signature,
    )
    .map_err(|_| SynthError("sign"))?;
    Ok(signature)
}

/// A TLV with a non-minimal 3-byte length (`82 hi lo`), as the card writes its records.
fn padded(tag: u32, value: &[u8]) -> Vec<u8> {
    let mut out = tag_bytes(tag);
    out.push(0x82);
    out.extend((value.len() as u16).to_be_bytes());
    out.extend_from_slice(value);
    out
}

impl Issuer {
    /// A new CA and data-signing key; the signer's key id starts with `lg_code`.
    pub fn generate(lg_code: &str) -> Result<Self, SynthError> {
        Self::generate_for(SYNTH_CA_ID, lg_code)
    }

    /// The same under another CA key id (`9000023` for kenkaku).
    pub fn generate_for(ca_label: &str, lg_code: &str) -> Result<Self, SynthError> {
        Ok(Issuer {
            ca: generate()?,
            ca_id: key_id(ca_label),
            signer: generate()?,
            signer_id: key_id(&format!("{lg_code}S")),
        })
    }

    /// Gives a card its kenkaku application, signed by this issuer (use a `9000023` one):
    /// EF 0002, the card face with the three-digest signature, and EF 0004, the CVC.
    pub fn enrol_kenkaku(
        &self,
        card: &mut Card,
        resident: &Resident,
        expiry: NaiveDate,
    ) -> Result<(), SynthError> {
        use super::kenkaku::{EF_CVC as KENKAKU_CVC, EF_FACE, sign_digest_info, three_digests};
        // Stand-ins for the images: their format's magic bytes and what they show.
        let png = |what: &str| [b"\x89PNG\r\n\x1a\n".as_slice(), what.as_bytes()].concat();
        let card_public = card
            .card_key
            .as_ref()
            .map(|k| k.public_key().as_ref().to_vec())
            .unwrap_or_default();
        let signed = [
            encode(
                0xDF22,
                resident
                    .date_of_birth
                    .format("%Y%m%d")
                    .to_string()
                    .as_bytes(),
            ),
            encode(0xDF23, resident.sex.to_string().as_bytes()),
            encode(0xDF24, &card_public),
            encode(0xDF25, &png(&resident.name)),
            encode(0xDF26, &png(&resident.address)),
            encode(
                0xDF27,
                &[b"\x00\x00\x00\x0cjP  ".as_slice(), b"photo"].concat(),
            ),
        ];
        let digest_info = three_digests([
            &[signed[0].as_slice(), &signed[1], &signed[2]],
            &[signed[3].as_slice(), &signed[4]],
            &[signed[5].as_slice()],
        ]);
        let (n, d) = private_parts(&self.signer)?;
        let signature =
            sign_digest_info(&n, &d, &digest_info).ok_or(SynthError("sign the card face"))?;
        let mut value = encode(0xDF21, &[0; 8]);
        value.extend(signed.concat());
        value.extend(encode(0xDF28, &signature));
        value.extend(encode(
            0xDF29,
            expiry.format("%Y%m%d").to_string().as_bytes(),
        ));
        value.extend(encode(0xDF2A, &png("security code")));
        let mut face = padded(0xFF20, &value);
        face.extend([0xFF; 8]);
        card.dump.kenkaku.insert(EF_FACE, face);
        card.dump.kenkaku.insert(KENKAKU_CVC, self.cvc()?);
        Ok(())
    }

    /// The CA's public key as the trust directory holds it (`cvc/9000033.pem`).
    pub fn ca_public_pem(&self) -> Result<String, SynthError> {
        let der = self
            .ca
            .public_key()
            .as_der()
            .map_err(|_| SynthError("encode the CA key"))?;
        Ok(pem("PUBLIC KEY", der.as_ref()))
    }

    /// EF 0004: the CVC of the data-signing key, signed by the CA.
    pub fn cvc(&self) -> Result<Vec<u8>, SynthError> {
        let key = self.signer.public_key();
        let mut body = self.ca_id.to_vec();
        body.extend_from_slice(&self.signer_id);
        body.extend(encode(
            0x90,
            key.exponent().big_endian_without_leading_zero(),
        ));
        body.extend(encode(
            0x91,
            key.modulus().big_endian_without_leading_zero(),
        ));
        let signature = sign(&self.ca, &body)?;
        let mut inner = padded(0x5F4E, &body);
        inner.extend(encode(0x5F37, &signature));
        Ok(padded(0x7F21, &inner))
    }

    /// A card for a resident: kenhojo EF 0001, 0002, 0003, 0004 and 0007, and its card key.
    pub fn card(&self, resident: &Resident) -> Result<Card, SynthError> {
        let card_key = generate()?;
        let mut kenhojo = AppFiles::default();

        // EF 0001: FF10 0C + 12 digits, FF FF filler.
        let mut ef1 = encode(0xFF10, resident.my_number.as_bytes());
        ef1.extend([0xFF, 0xFF]);

        // EF 0002: FF20 { DF21 offsets, DF22 name, DF23 address, DF24 birth, DF25 sex }, filler.
        let fields = [
            encode(0xDF22, resident.name.as_bytes()),
            encode(0xDF23, resident.address.as_bytes()),
            encode(
                0xDF24,
                resident
                    .date_of_birth
                    .format("%Y%m%d")
                    .to_string()
                    .as_bytes(),
            ),
            encode(0xDF25, resident.sex.to_string().as_bytes()),
        ];
        let header = 5; // FF 20 82 hi lo
        let table = 3 + 2 * fields.len(); // DF 21 08 + four 2-byte offsets
        let mut offsets = Vec::new();
        let mut at = header + table;
        for f in &fields {
            offsets.extend((at as u16).to_be_bytes());
            at += f.len();
        }
        let mut value = encode(0xDF21, &offsets);
        value.extend(fields.concat());
        let mut ef2 = padded(0xFF20, &value);
        let signed_basic = ef2[header + table..].to_vec();
        ef2.extend([0xFF; 16]);

        // EF 0003: the digests and the signer's signature over their TLVs.
        let df31 = encode(0xDF31, &Sha256::digest(&ef1));
        let df32 = encode(0xDF32, &Sha256::digest(&signed_basic));
        let signature = sign(&self.signer, &[df31.as_slice(), df32.as_slice()].concat())?;
        let ef3 = padded(0xFF30, &[df31, df32, encode(0xDF33, &signature)].concat());

        // EF 0007: the card key, certified by the signer.
        let card_public = card_key
            .public_key()
            .as_der()
            .map_err(|_| SynthError("encode the card key"))?;
        let df51 = encode(0xDF51, card_public.as_ref());
        let df52 = encode(0xDF52, &sign(&self.signer, &df51)?);
        let ef7 = padded(0xFF50, &[df51, df52].concat());

        kenhojo.insert(EF_MY_NUMBER, ef1);
        kenhojo.insert(EF_BASIC_INFO, ef2);
        kenhojo.insert(EF_INTEGRITY, ef3);
        kenhojo.insert(EF_CVC, self.cvc()?);
        kenhojo.insert(EF_CARD_KEY, ef7);
        Ok(Card {
            dump: Dump {
                kenhojo,
                ..Dump::default()
            },
            card_key: Some(card_key),
            auth_key: None,
        })
    }
}

/// `n` and `d` of an RSA key, read from its PKCS#8 export (PrivateKeyInfo → RSAPrivateKey):
/// the synthetic issuer's own key, for the one signature no RSA API makes.
fn private_parts(key: &RsaKeyPair) -> Result<(Vec<u8>, Vec<u8>), SynthError> {
    use super::tlv::Reader;
    let bad = || SynthError("read its own RSA key");
    let pkcs8: aws_lc_rs::encoding::Pkcs8V1Der = key.as_der().map_err(|_| bad())?;
    let info = Reader::new(pkcs8.as_ref())
        .next()
        .and_then(Result::ok)
        .ok_or_else(bad)?;
    let octets = info.children().find(0x04).ok().flatten().ok_or_else(bad)?;
    let rsa = Reader::new(octets.value)
        .next()
        .and_then(Result::ok)
        .ok_or_else(bad)?;
    let ints: Vec<&[u8]> = rsa
        .children()
        .take(4)
        .filter_map(Result::ok)
        .map(|t| t.value)
        .collect();
    match ints.as_slice() {
        [_version, n, _e, d] => Ok((n.to_vec(), d.to_vec())),
        _ => Err(bad()),
    }
}

/// PEM armour (RFC 7468). By hand: four lines, and the PEM crates this project has only read.
fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// JPKI files (reference §5).
pub const EF_JPKI_AUTH_CERT: u16 = 0x000A;
pub const EF_JPKI_AUTH_CA: u16 = 0x000B;
pub const EF_JPKI_TOKEN: u16 = 0x0006;
pub const EF_JPKI_AUTH_KEY: u16 = 0x0017;
pub const KEY_JPKI_AUTH_PIN: u16 = 0x0018;

/// A synthetic JPKI root of our own (`O=JPKI-TEST-SYNTH`), issuing 利用者証明用 certificates.
pub struct JpkiIssuer {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    root: Vec<u8>,
}

fn rcgen_key(key: &RsaKeyPair) -> Result<rcgen::KeyPair, SynthError> {
    use aws_lc_rs::encoding::AsDer;
    let pkcs8: aws_lc_rs::encoding::Pkcs8V1Der =
        key.as_der().map_err(|_| SynthError("export an RSA key"))?;
    rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
        &rustls_pki_types::PrivatePkcs8KeyDer::from(pkcs8.as_ref()),
        &rcgen::PKCS_RSA_SHA256,
    )
    .map_err(|_| SynthError("import an RSA key"))
}

/// Certificate parameters with our test subject: `C=JP, O=JPKI-TEST-SYNTH, CN=<name>`.
fn synth_params(common_name: &str) -> rcgen::CertificateParams {
    use rcgen::DnType;
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CountryName, "JP");
    params
        .distinguished_name
        .push(DnType::OrganizationName, "JPKI-TEST-SYNTH");
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params
}

impl JpkiIssuer {
    /// A root certificate valid from 2025 to 2045.
    pub fn generate(name: &str) -> Result<Self, SynthError> {
        use rcgen::{BasicConstraints, IsCa, KeyUsagePurpose};
        let key = rcgen_key(&generate()?)?;
        let mut params = synth_params(name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = rcgen::date_time_ymd(2025, 1, 1);
        params.not_after = rcgen::date_time_ymd(2045, 1, 1);
        let root = params
            .self_signed(&key)
            .map_err(|_| SynthError("sign the JPKI root"))?
            .der()
            .to_vec();
        Ok(JpkiIssuer {
            issuer: rcgen::Issuer::new(params, key),
            root,
        })
    }

    /// The root certificate (DER): what an operator puts in `jpki/`.
    pub fn root_der(&self) -> &[u8] {
        &self.root
    }

    /// A 利用者証明用 certificate for `key`: no personal attributes, digitalSignature only,
    /// valid between the two years.
    pub fn auth_certificate(
        &self,
        key: &RsaKeyPair,
        serial: u64,
        valid: (i32, i32),
    ) -> Result<Vec<u8>, SynthError> {
        use rcgen::{KeyUsagePurpose, SerialNumber};
        let mut params = synth_params(&format!("JPKI-TEST-SYNTH user {serial}"));
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.serial_number = Some(SerialNumber::from(serial));
        params.not_before = rcgen::date_time_ymd(valid.0, 1, 1);
        params.not_after = rcgen::date_time_ymd(valid.1, 1, 1);
        let public = rcgen_key(key)?;
        Ok(params
            .signed_by(&public, &self.issuer)
            .map_err(|_| SynthError("sign a JPKI certificate"))?
            .der()
            .to_vec())
    }

    /// A CRL revoking the given serials.
    pub fn crl(&self, revoked: &[u64]) -> Result<Vec<u8>, SynthError> {
        use rcgen::{
            CertificateRevocationListParams, KeyIdMethod, RevokedCertParams, SerialNumber,
        };
        let params = CertificateRevocationListParams {
            this_update: rcgen::date_time_ymd(2026, 1, 1),
            next_update: rcgen::date_time_ymd(2040, 1, 1),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|s| RevokedCertParams {
                    serial_number: SerialNumber::from(*s),
                    revocation_time: rcgen::date_time_ymd(2026, 6, 1),
                    reason_code: None,
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        Ok(params
            .signed_by(&self.issuer)
            .map_err(|_| SynthError("sign a CRL"))?
            .der()
            .to_vec())
    }

    /// Gives a card its JPKI application: a new 利用者証明用 key, its certificate (followed by
    /// padding, as on the card), the CA certificate and the token label.
    pub fn enrol(&self, card: &mut Card, serial: u64, valid: (i32, i32)) -> Result<(), SynthError> {
        let key = generate()?;
        let mut cert = self.auth_certificate(&key, serial, valid)?;
        cert.extend([0u8; 32]);
        let mut label = b"JPKIAPICCTOKEN2".to_vec();
        label.resize(32, b' ');
        card.dump.jpki.insert(EF_JPKI_AUTH_CERT, cert);
        card.dump.jpki.insert(EF_JPKI_AUTH_CA, self.root.clone());
        card.dump.jpki.insert(EF_JPKI_TOKEN, label);
        card.auth_key = Some(key);
        Ok(())
    }
}

impl Card {
    /// What the card answers to `80 2A 00 80 <DigestInfo>` with the JPKI key (PIN presented).
    pub fn sign_with_auth_key(&self, digest_info: &[u8]) -> Option<Vec<u8>> {
        sign_digest_info_with(self.auth_key.as_ref()?, digest_info)
    }
}

fn sign_digest_info_with(key: &RsaKeyPair, digest_info: &[u8]) -> Option<Vec<u8>> {
    let hash = digest_info.strip_prefix(&super::protocol::SHA256_DIGEST_INFO_PREFIX[..])?;
    let digest =
        aws_lc_rs::digest::Digest::import_less_safe(hash, &aws_lc_rs::digest::SHA256).ok()?;
    let mut signature = vec![0; key.public_modulus_len()];
    key.sign_digest(&RSA_PKCS1_SHA256, &digest, &mut signature)
        .ok()?;
    Some(signature)
}
