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
use super::tlv::tag_bytes;
use super::trust::{CvcApplication, KeyRef, Trust};

/// Our synthetic CVC CA key id (kenhojo).
pub const SYNTH_CA_ID: &str = "9000033";

#[derive(Debug, thiserror::Error)]
#[error("the synthetic issuer could not {0}")]
pub struct SynthError(pub &'static str);

/// A 16-byte key id as J-LIS writes them: 7 characters, `08 05`, a 3-character generation,
/// zero padding (a CA key `6000033 08 05 "001"`, a data-signing key `1322131 08 05 "000"`).
pub fn key_id(label: &str, generation: &str) -> [u8; 16] {
    let mut id = [0u8; 16];
    for (slot, b) in id.iter_mut().zip(label.bytes().take(7)) {
        *slot = b;
    }
    id[7..9].copy_from_slice(&[0x08, 0x05]);
    for (slot, b) in id[9..12].iter_mut().zip(generation.bytes()) {
        *slot = b;
    }
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
    /// The sample resident of the guides (docs/card.md) and the tests.
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
    /// The kenhojo card key (EF 0007's DF51).
    pub card_key: Option<RsaKeyPair>,
    /// The kenkaku card key (the card face's DF24), once enrolled.
    pub face_key: Option<RsaKeyPair>,
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

    /// What the card does with `80 2A 00 00 <DigestInfo>` in kenhojo: pads and signs a SHA-256
    /// DigestInfo as given. `None` for anything else.
    pub fn sign_digest_info(&self, digest_info: &[u8]) -> Option<Vec<u8>> {
        sign_digest_info_with(self.card_key.as_ref()?, digest_info)
    }

    /// The same in kenkaku, with the card face's key.
    pub fn sign_digest_info_face(&self, digest_info: &[u8]) -> Option<Vec<u8>> {
        sign_digest_info_with(self.face_key.as_ref()?, digest_info)
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

/// A TLV as the card writes it: a length under 128 in one byte, anything longer as `82 hi lo`
/// (also from 128 to 255, where DER would write `81 xx`: the card face's DF25 of 169 bytes is
/// `DF25 82 00 A9`).
pub fn card_tlv(tag: u32, value: &[u8]) -> Vec<u8> {
    let mut out = tag_bytes(tag);
    if value.len() < 0x80 {
        out.push(value.len() as u8);
    } else {
        out.push(0x82);
        out.extend((value.len() as u16).to_be_bytes());
    }
    out.extend_from_slice(value);
    out
}

/// An RSA public key in the card's encoding: `90 <e> 91 <n>` (not DER).
pub fn card_rsa_key(key: &RsaKeyPair) -> Vec<u8> {
    let public = key.public_key();
    let mut out = card_tlv(0x90, public.exponent().big_endian_without_leading_zero());
    out.extend(card_tlv(
        0x91,
        public.modulus().big_endian_without_leading_zero(),
    ));
    out
}

/// An offset table (DF21): where each TLV starts, counted from the start of the file, for a
/// record whose value begins at `value_start` with the table itself.
fn offset_table(value_start: usize, fields: &[Vec<u8>]) -> Vec<u8> {
    let table_len = card_tlv(0xDF21, &vec![0; 2 * fields.len()]).len();
    let mut at = value_start + table_len;
    let mut offsets = Vec::new();
    for f in fields {
        offsets.extend((at as u16).to_be_bytes());
        at += f.len();
    }
    card_tlv(0xDF21, &offsets)
}

/// A record `tag { DF21 offsets, fields… }` at the start of a file.
fn record_with_offsets(tag: u32, fields: &[Vec<u8>]) -> Vec<u8> {
    // The header's length depends on the value's: try the short form first.
    let body_len = |table: &[u8]| table.len() + fields.iter().map(Vec::len).sum::<usize>();
    let short = offset_table(tag_bytes(tag).len() + 1, fields);
    let header = if body_len(&short) < 0x80 { 1 } else { 3 };
    let table = offset_table(tag_bytes(tag).len() + header, fields);
    let mut value = table;
    value.extend(fields.concat());
    card_tlv(tag, &value)
}

impl Issuer {
    /// A new CA and data-signing key; the signer's key id starts with `lg_code`.
    pub fn generate(lg_code: &str) -> Result<Self, SynthError> {
        Self::generate_for(SYNTH_CA_ID, lg_code)
    }

    /// The same under another CA key id (`9000023` for kenkaku).
    pub fn generate_for(ca_label: &str, lg_code: &str) -> Result<Self, SynthError> {
        // The data-signing key is named after the issuing municipality's 5-digit code, as
        // J-LIS names it (`1322131` for 清瀬市, 13221).
        let lg5 = lg_code.get(..5).unwrap_or(lg_code);
        Ok(Issuer {
            ca: generate()?,
            ca_id: key_id(ca_label, "001"),
            signer: generate()?,
            signer_id: key_id(&format!("{lg5}31"), "000"),
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
        // Stand-ins for the images: their format's magic bytes, what they show, and padding to
        // the size of a real card's (name 169, address 340, photo 1,854 bytes), so their TLVs
        // are written as a real card writes them.
        let image = |magic: &[u8], what: &[u8], size: usize| {
            let mut bytes = [magic, what].concat();
            bytes.resize(size.max(bytes.len()), 0);
            bytes
        };
        let png = |what: &str, size: usize| image(b"\x89PNG\r\n\x1a\n", what.as_bytes(), size);
        let face_key = generate()?;
        let signed = [
            card_tlv(
                0xDF22,
                resident
                    .date_of_birth
                    .format("%Y%m%d")
                    .to_string()
                    .as_bytes(),
            ),
            card_tlv(0xDF23, resident.sex.to_string().as_bytes()),
            card_tlv(0xDF24, &card_rsa_key(&face_key)),
            card_tlv(0xDF25, &png(&resident.name, 169)),
            card_tlv(0xDF26, &png(&resident.address, 340)),
            card_tlv(
                0xDF27,
                &image(b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"photo", 1854),
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
        let mut fields = signed.to_vec();
        fields.push(card_tlv(0xDF28, &signature));
        fields.push(card_tlv(
            0xDF29,
            expiry.format("%Y%m%d").to_string().as_bytes(),
        ));
        fields.push(card_tlv(0xDF2A, &png("security code", 106)));
        let mut face = record_with_offsets(0xFF20, &fields);
        face.extend([0xFF; 8]);
        card.dump.kenkaku.insert(EF_FACE, face);
        card.dump.kenkaku.insert(KENKAKU_CVC, self.cvc()?);
        card.face_key = Some(face_key);
        Ok(())
    }

    /// The CA key's whole reference (`9000033-001`).
    pub fn ca_ref(&self) -> KeyRef {
        KeyRef(self.ca_id)
    }

    /// The CA's public key (SubjectPublicKeyInfo DER).
    pub fn ca_public_der(&self) -> Result<Vec<u8>, SynthError> {
        Ok(self
            .ca
            .public_key()
            .as_der()
            .map_err(|_| SynthError("encode the CA key"))?
            .as_ref()
            .to_vec())
    }

    /// `trust` with this issuer's CA key added for `app`'s data.
    pub fn trusted_by(&self, trust: Trust, app: CvcApplication) -> Result<Trust, SynthError> {
        Ok(trust.with_cvc_key(app, self.ca_ref(), self.ca_public_der()?))
    }

    /// The CA's public key as the trust directory holds it (`cvc/kenhojo/9000033-001.pem`).
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
        let mut body = self.ca_id.to_vec();
        body.extend_from_slice(&self.signer_id);
        body.extend(card_rsa_key(&self.signer));
        let signature = sign(&self.ca, &body)?;
        let mut inner = card_tlv(0x5F4E, &body);
        inner.extend(card_tlv(0x5F37, &signature));
        Ok(card_tlv(0x7F21, &inner))
    }

    /// A card for a resident: kenhojo EF 0001, 0002, 0003, 0004 and 0007, and its card key.
    pub fn card(&self, resident: &Resident) -> Result<Card, SynthError> {
        let card_key = generate()?;
        let mut kenhojo = AppFiles::default();

        // EF 0001: FF10 0C + 12 digits, FF FF filler.
        let mut ef1 = card_tlv(0xFF10, resident.my_number.as_bytes());
        ef1.extend([0xFF, 0xFF]);

        // EF 0002: FF20 { DF21 offsets, DF22 name, DF23 address, DF24 birth, DF25 sex }, filler.
        let fields = [
            card_tlv(0xDF22, resident.name.as_bytes()),
            card_tlv(0xDF23, resident.address.as_bytes()),
            card_tlv(
                0xDF24,
                resident
                    .date_of_birth
                    .format("%Y%m%d")
                    .to_string()
                    .as_bytes(),
            ),
            card_tlv(0xDF25, resident.sex.to_string().as_bytes()),
        ];
        let mut ef2 = record_with_offsets(0xFF20, &fields);
        let signed_basic = fields.concat();
        ef2.extend([0xFF; 16]);

        // EF 0003: the digests and the signer's signature over their TLVs.
        let df31 = card_tlv(0xDF31, &Sha256::digest(&ef1));
        let df32 = card_tlv(0xDF32, &Sha256::digest(&signed_basic));
        let signature = sign(&self.signer, &[df31.as_slice(), df32.as_slice()].concat())?;
        let ef3 = card_tlv(0xFF30, &[df31, df32, card_tlv(0xDF33, &signature)].concat());

        // EF 0007: the card key in the card's encoding, certified by the signer.
        let df51 = card_tlv(0xDF51, &card_rsa_key(&card_key));
        let df52 = card_tlv(0xDF52, &sign(&self.signer, &df51)?);
        let ef7 = card_tlv(0xFF50, &[df51, df52].concat());

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
            face_key: None,
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

/// The 利用者証明用 certificate policy our synthetic certificates carry: the J-LIS test
/// hierarchy's (a synthetic card is a test card; a production trust directory refuses it unless
/// `jpki-policies.txt` lists it).
pub const SYNTH_AUTH_POLICY: &str = "1.2.392.200149.8.5.1.0.30";

/// The DER of an OID given in dotted form (encoded by asn1-rs, which x509-parser brings).
fn oid_der(dotted: &str) -> Result<Vec<u8>, SynthError> {
    use std::str::FromStr;
    let oid = x509_parser::der_parser::oid::Oid::from_str(dotted)
        .map_err(|_| SynthError("encode a certificate policy OID"))?;
    Ok(super::tlv::encode(0x06, oid.as_bytes()))
}

/// The extensions J-LIS writes in a 利用者証明用 certificate that rcgen has no field for:
/// certificatePolicies, **critical**, with the CPS qualifier (as on a real card:
/// `30 3D 30 3B 06 0B <policy> 30 2C 30 2A 06 08 <id-qt-cps> 16 1E "http://www.jpki.go.jp/cps.html"`),
/// and the OCSP responder (authorityInfoAccess).
fn jpki_extensions(policy: &str) -> Result<Vec<rcgen::CustomExtension>, SynthError> {
    use super::tlv::encode;
    let cps = [
        oid_der("1.3.6.1.5.5.7.2.1")?,
        encode(0x16, b"http://www.jpki.go.jp/cps.html"),
    ]
    .concat();
    let qualifiers = encode(0x30, &encode(0x30, &cps));
    let information = encode(0x30, &[oid_der(policy)?, qualifiers].concat());
    let mut policies =
        rcgen::CustomExtension::from_oid_content(&[2, 5, 29, 32], encode(0x30, &information));
    policies.set_criticality(true);
    let ocsp = encode(
        0x30,
        &encode(
            0x30,
            &[
                oid_der("1.3.6.1.5.5.7.48.1")?,
                encode(0x86, b"http://ocsp.jpki-test-synth.invalid"),
            ]
            .concat(),
        ),
    );
    let access = rcgen::CustomExtension::from_oid_content(&[1, 3, 6, 1, 5, 5, 7, 1, 1], ocsp);
    Ok(vec![policies, access])
}

/// A synthetic JPKI root of our own (`O=JPKI-TEST-SYNTH`), issuing 利用者証明用 certificates
/// laid out as J-LIS lays them out (see [`JpkiIssuer::auth_certificate`]).
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

    /// A 利用者証明用 certificate for `key`, with the extensions of a real one: no personal
    /// attributes, keyUsage digitalSignature (critical), extKeyUsage clientAuth,
    /// certificatePolicies [`SYNTH_AUTH_POLICY`] (critical), authorityInfoAccess, authority and
    /// subject key identifiers; valid between the two years.
    pub fn auth_certificate(
        &self,
        key: &RsaKeyPair,
        serial: u64,
        valid: (i32, i32),
    ) -> Result<Vec<u8>, SynthError> {
        self.auth_certificate_with(key, serial, valid, SYNTH_AUTH_POLICY, Vec::new())
    }

    /// The same with another policy and further extensions (tests of what a verifier refuses).
    pub fn auth_certificate_with(
        &self,
        key: &RsaKeyPair,
        serial: u64,
        valid: (i32, i32),
        policy: &str,
        extra: Vec<rcgen::CustomExtension>,
    ) -> Result<Vec<u8>, SynthError> {
        use rcgen::{ExtendedKeyUsagePurpose, KeyUsagePurpose, SerialNumber};
        let mut params = synth_params(&format!("JPKI-TEST-SYNTH user {serial}"));
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        params.custom_extensions = jpki_extensions(policy)?;
        params.custom_extensions.extend(extra);
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
