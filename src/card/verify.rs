//! Whether card data is genuine (reference §3, §4), and the values it may report.
//!
//! **A value is reported only if a verified signature covers the exact bytes it was parsed
//! from.** The 基本4情報 come from EF 0002 only when DF32 (in EF 0003, signed under a CVC that
//! a configured CA key signed) matches the bytes from DF22 to the end of FF20; the 個人番号 only
//! when DF31 matches the whole of EF 0001; the card face's text and images only when DF28 signs
//! them. Each file must have the issuer's exact layout ([`super::layout`]): a tag outside the
//! signed range, a repeated tag or data after the record is refused with a reason, so nothing
//! a counter PC adds can reach a reported value. Unsigned fields (the offset tables, the card
//! face's expiry date and security-code image) are never read.
//!
//! Each check says what it found. A check about data that is present but cannot be run (the
//! file that vouches for it is missing, or an earlier check failed) is a failure, not a pass:
//! only data that was not read at all is "not checked".

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents, UnparsedPublicKey};
#[cfg(test)]
use chrono::NaiveDate;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::files::AppFiles;
use super::kenhojo::{self, BasicInfo, RsaKey};
use super::trust::{CvcApplication, KeyRef, Trust};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    Passed,
    Failed,
    NotChecked,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    /// Stable id: `cvc.caKey`, `cvc.signature`, `ef0003.signature`, `ef0002.digest`,
    /// `ef0001.digest`, `ef0007.signature`, `card.challenge`, `kenkaku.cvc.caKey`,
    /// `kenkaku.cvc.signature`, `kenkaku.signature`, `kenkaku.challenge`.
    pub id: &'static str,
    pub outcome: Outcome,
    /// What was found, in English (support staff read it with the dump's files at hand).
    pub detail: String,
}

/// What a read proves. Every value in it is covered by a verified signature.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub basic_info: Option<BasicInfo>,
    /// The 個人番号, when EF 0001 was read and DF31 vouches for it. Mask it before showing
    /// ([`mask`]).
    #[serde(skip)]
    pub my_number: Option<String>,
    /// The CA key the CVC names as its issuer (its whole reference, `6000033-001`).
    pub ca_key_id: Option<String>,
    /// The key that signed the data; it starts with the issuing municipality's code.
    pub signer_key_id: Option<String>,
    /// What the kenkaku card face says in text (its images are for the clerk's screen only).
    pub card_face: Option<CardFace>,
    pub checks: Vec<Check>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CardFace {
    /// `YYYYMMDD` as on the card.
    pub date_of_birth: String,
    pub sex: String,
    /// The images, for the clerk's screen (never in a report's JSON).
    #[serde(skip)]
    pub images: FaceImages,
}

/// The card face's images as the card holds them: name and address (PNG), photo (JPEG 2000).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaceImages {
    pub name: Vec<u8>,
    pub address: Vec<u8>,
    pub photo: Vec<u8>,
}

impl Report {
    /// Every check that ran passed (and at least one ran).
    pub fn passed(&self) -> bool {
        self.checks.iter().any(|c| c.outcome == Outcome::Passed)
            && self.checks.iter().all(|c| c.outcome != Outcome::Failed)
    }

    pub fn failed(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.outcome == Outcome::Failed)
    }

    pub fn outcome(&self, id: &str) -> Option<Outcome> {
        self.checks.iter().find(|c| c.id == id).map(|c| c.outcome)
    }
}

/// `1234 **** **18`: enough for a person to recognise a card, not the number.
pub fn mask(number: &str) -> String {
    number
        .chars()
        .enumerate()
        .map(|(i, c)| if (4..10).contains(&i) { '*' } else { c })
        .collect::<String>()
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

fn sha256(data: &[u8]) -> Vec<u8> {
    Sha256::digest(data).to_vec()
}

/// RSA PKCS#1 v1.5 with SHA-256 under a SubjectPublicKeyInfo or RSAPublicKey (DER).
pub fn verify_with_der(key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key)
        .verify(message, signature)
        .is_ok()
}

/// RSA PKCS#1 v1.5 with SHA-256 under a key given as modulus and exponent.
pub fn verify_with_components(n: &[u8], e: &[u8], message: &[u8], signature: &[u8]) -> bool {
    RsaPublicKeyComponents { n, e }
        .verify(&RSA_PKCS1_2048_8192_SHA256, message, signature)
        .is_ok()
}

/// RSA PKCS#1 v1.5 with SHA-256 under a key in the card's own encoding.
pub fn verify_with_card_key(key: &RsaKey<'_>, message: &[u8], signature: &[u8]) -> bool {
    verify_with_components(key.modulus, key.exponent, message, signature)
}

/// A check's result as a value: `Ok(detail)` passed, `Err(detail)` failed.
type Found = Result<String, String>;

struct Checks(Vec<Check>);

impl Checks {
    fn push(&mut self, id: &'static str, outcome: Outcome, detail: impl Into<String>) -> bool {
        self.0.push(Check {
            id,
            outcome,
            detail: detail.into(),
        });
        outcome == Outcome::Passed
    }

    fn found(&mut self, id: &'static str, found: Found) -> bool {
        match found {
            Ok(detail) => self.push(id, Outcome::Passed, detail),
            Err(detail) => self.push(id, Outcome::Failed, detail),
        }
    }

    fn not_checked(&mut self, id: &'static str, detail: impl Into<String>) {
        self.push(id, Outcome::NotChecked, detail);
    }

    /// The CVC (EF 0004) under a configured CA key of this application: `caKey`, `signature`.
    /// The CVC when both pass; `Err` says why there is none, for the checks that need it.
    fn cvc<'a>(
        &mut self,
        ids: (&'static str, &'static str),
        app: CvcApplication,
        ef: Option<&'a [u8]>,
        trust: &Trust,
        report: &mut Report,
    ) -> Result<kenhojo::Cvc<'a>, String> {
        let (ca_key, signature) = ids;
        let Some(ef) = ef else {
            self.not_checked(ca_key, "EF 0004 (the CVC) was not read");
            return Err("EF 0004 (the CVC) was not read".to_owned());
        };
        let cvc = match kenhojo::cvc(0x0004, ef) {
            Ok(cvc) => cvc,
            Err(e) => {
                self.found(ca_key, Err(e.to_string()));
                return Err("EF 0004 (the CVC) is not a CVC".to_owned());
            }
        };
        let ca = KeyRef::from_slice(cvc.issuer).ok_or("no issuer key id")?;
        report.ca_key_id = Some(ca.to_string());
        report.signer_key_id = KeyRef::from_slice(cvc.subject).map(|k| k.to_string());
        let Some(key) = trust.cvc_key(app, &ca) else {
            let known: Vec<String> = trust.cvc_ids(app).map(|k| k.to_string()).collect();
            self.found(
                ca_key,
                Err(format!(
                    "the CVC names CA key {ca}, which is not in the trust directory for {} (cvc/{}/{ca}.pem; configured: {})",
                    app.dir(),
                    app.dir(),
                    if known.is_empty() { "none".to_owned() } else { known.join(", ") }
                )),
            );
            return Err(format!("CA key {ca} is not configured"));
        };
        self.found(
            ca_key,
            Ok(format!("CA key {ca} is configured for {}", app.dir())),
        );
        let subject = report.signer_key_id.clone().unwrap_or_default();
        if self.found(
            signature,
            if verify_with_der(key, cvc.body, cvc.signature) {
                Ok(format!("the CVC of key {subject} is signed by CA key {ca}"))
            } else {
                Err(format!(
                    "the CVC's signature does not verify under CA key {ca}"
                ))
            },
        ) {
            Ok(cvc)
        } else {
            Err("the CVC's signature did not verify".to_owned())
        }
    }
}

/// A file a check is about, as the check's details name it.
struct File {
    /// `EF 0003 (the integrity record)`: for the checks that need this one.
    what: &'static str,
    /// The detail when it was not read and need not have been.
    absent: &'static str,
    /// Not reading it fails the check (a live read must give the card key).
    required: bool,
}

impl File {
    fn optional(what: &'static str, absent: &'static str) -> Self {
        File {
            what,
            absent,
            required: false,
        }
    }
}

/// What a file check found: the passed detail with what the check yields, or the failed
/// detail with why later checks cannot rely on it.
type Verdict<R> = Result<(String, R), (String, String)>;

/// A failed comparison, which no later check needs.
fn mismatch(detail: &str) -> (String, String) {
    (detail.to_owned(), detail.to_owned())
}

impl Checks {
    /// One file's check, the same way for every file: not read is "not checked" (a failure when
    /// the file is required); not in the issuer's layout fails; present while what vouches for
    /// it is not available fails ("cannot be checked"); otherwise `verify` decides. Returns what
    /// the check yields, or why there is nothing (for the checks that depend on this one).
    fn file<'f, T, P, R>(
        &mut self,
        id: &'static str,
        file: File,
        ef: Option<&'f [u8]>,
        parse: impl FnOnce(&'f [u8]) -> Result<T, kenhojo::DataError>,
        vouching: &Result<P, String>,
        verify: impl FnOnce(T, &P, &'f [u8]) -> Verdict<R>,
    ) -> Result<R, String> {
        let Some(ef) = ef else {
            let why = format!("{} was not read", file.what);
            if file.required {
                self.found(id, Err(why.clone()));
            } else {
                self.not_checked(id, file.absent);
            }
            return Err(why);
        };
        match (parse(ef), vouching) {
            (Err(e), _) => {
                self.found(id, Err(e.to_string()));
                Err(format!("{} is not as the issuer writes it", file.what))
            }
            (Ok(_), Err(why)) => {
                self.found(id, cannot(why));
                Err(why.clone())
            }
            (Ok(parsed), Ok(vouching)) => match verify(parsed, vouching, ef) {
                Ok((detail, value)) => {
                    self.push(id, Outcome::Passed, detail);
                    Ok(value)
                }
                Err((detail, why)) => {
                    self.push(id, Outcome::Failed, detail);
                    Err(why)
                }
            },
        }
    }
}

/// A check about data that is present: `Err(why)` when what vouches for it is not available,
/// which fails it.
fn cannot(why: &str) -> Found {
    Err(format!("cannot be checked: {why}"))
}

/// Checks the kenhojo files that were read. `challenge` is the card key's signature over a
/// server nonce with the nonce, when the card was in a reader (a live read must give it).
pub fn kenhojo(files: &AppFiles, trust: &Trust, challenge: Option<(&[u8], &[u8])>) -> Report {
    let mut checks = Checks(Vec::new());
    let mut report = Report::default();

    // The CVC, under a configured kenhojo CA key.
    let cvc = checks.cvc(
        ("cvc.caKey", "cvc.signature"),
        CvcApplication::Kenhojo,
        files.get(kenhojo::EF_CVC),
        trust,
        &mut report,
    );

    // EF 0003 under the CVC's key.
    let integrity = checks.file(
        "ef0003.signature",
        File::optional("EF 0003 (the integrity record)", "EF 0003 was not read"),
        files.get(kenhojo::EF_INTEGRITY),
        kenhojo::integrity,
        &cvc,
        |i, c, _| {
            if verify_with_components(c.modulus, c.exponent, &i.signed, i.signature) {
                Ok((
                    "DF33 is the CVC key's signature over DF31 and DF32".to_owned(),
                    i,
                ))
            } else {
                Err((
                    "DF33 does not verify under the CVC's key".to_owned(),
                    "EF 0003's signature did not verify".to_owned(),
                ))
            }
        },
    );

    // EF 0002 against DF32: the 基本4情報 only when it matches.
    if let Ok(info) = checks.file(
        "ef0002.digest",
        File::optional("EF 0002 (the 基本4情報)", "EF 0002 was not read"),
        files.get(kenhojo::EF_BASIC_INFO),
        kenhojo::basic_info,
        &integrity,
        |(info, signed), i, _| {
            if sha256(signed) == i.basic_info_digest {
                Ok(("DF32 matches EF 0002 from DF22 to the end of FF20 (the 基本4情報 are as issued)".to_owned(), info))
            } else {
                Err(mismatch("DF32 does not match EF 0002: the 基本4情報 were changed after issue"))
            }
        },
    ) {
        report.basic_info = Some(info);
    }

    // EF 0001 against DF31 (over the whole file, filler included): the 個人番号 only when it
    // matches.
    if let Ok(number) = checks.file(
        "ef0001.digest",
        File::optional(
            "EF 0001 (the 個人番号)",
            "EF 0001 was not read (it needs the PIN or 照合番号A, and only a procedure that uses the 個人番号 reads it)",
        ),
        files.get(kenhojo::EF_MY_NUMBER),
        kenhojo::my_number,
        &integrity,
        |number, i, ef| {
            if sha256(ef) == i.my_number_digest {
                Ok(("DF31 matches EF 0001 (the 個人番号 is as issued)".to_owned(), number))
            } else {
                Err(mismatch("DF31 does not match EF 0001: the 個人番号 was changed after issue"))
            }
        },
    ) {
        report.my_number = Some(number);
    }

    // The card key, certified by the issuer (a live read needs it), then (live only) proving
    // the card is present.
    let card_key = checks.file(
        "ef0007.signature",
        File {
            what: "EF 0007 (the card key)",
            absent: "EF 0007 was not read",
            required: challenge.is_some(),
        },
        files.get(kenhojo::EF_CARD_KEY),
        kenhojo::card_key,
        &cvc,
        |k, c, _| {
            if verify_with_components(c.modulus, c.exponent, k.signed, k.signature) {
                Ok(("DF52 certifies the card key of DF51".to_owned(), k.key))
            } else {
                Err((
                    "DF52 does not verify under the CVC's key".to_owned(),
                    "the card key is not certified".to_owned(),
                ))
            }
        },
    );
    challenge_check(&mut checks, "card.challenge", challenge, card_key);
    report.checks = checks.0;
    report
}

/// The card's signature over the gateway's nonce under its certified key: only with the card
/// in a reader.
fn challenge_check(
    checks: &mut Checks,
    id: &'static str,
    challenge: Option<(&[u8], &[u8])>,
    key: Result<RsaKey<'_>, String>,
) {
    match (challenge, key) {
        (None, _) => checks.not_checked(
            id,
            "needs the card in a reader: only the card itself can sign a fresh nonce",
        ),
        (Some(_), Err(why)) => {
            checks.found(id, cannot(&why));
        }
        (Some((nonce, signature)), Ok(key)) => {
            checks.found(
                id,
                if verify_with_card_key(&key, nonce, signature) {
                    Ok("the card signed the server's nonce with its certified key".to_owned())
                } else {
                    Err(
                        "the signature over the nonce does not verify under the card key"
                            .to_owned(),
                    )
                },
            );
        }
    }
}

/// Checks a kenkaku read: the CVC (a kenkaku CA key), then DF28 under its key by the
/// three-digest rule, then (live only) the card key of DF24 over the nonce. The card face's
/// text and images are reported only when DF28 verifies; its expiry date and security code are
/// not signed and are not reported.
pub fn kenkaku(files: &AppFiles, trust: &Trust, challenge: Option<(&[u8], &[u8])>) -> Report {
    use super::kenkaku::{EF_CVC, EF_FACE, face, verify_digest_info};
    let mut checks = Checks(Vec::new());
    let mut report = Report::default();
    let cvc = checks.cvc(
        ("kenkaku.cvc.caKey", "kenkaku.cvc.signature"),
        CvcApplication::Kenkaku,
        files.get(EF_CVC),
        trust,
        &mut report,
    );
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let face = checks.file(
        "kenkaku.signature",
        File::optional("EF 0002 (the card face)", "EF 0002 was not read"),
        files.get(EF_FACE),
        face,
        &cvc,
        |f, c, _| {
            if verify_digest_info(c.modulus, c.exponent, &f.digest_info, f.signature) {
                Ok(("DF28 signs the birth date, sex, card key, name and address images and the photo".to_owned(), f))
            } else {
                Err((
                    "DF28 does not match the card face: its text, images or photo were changed after issue".to_owned(),
                    "the card face's signature did not verify".to_owned(),
                ))
            }
        },
    );
    let card_key = face.map(|f| {
        report.card_face = Some(CardFace {
            date_of_birth: text(f.date_of_birth),
            sex: text(f.sex),
            images: FaceImages {
                name: f.name_image.to_vec(),
                address: f.address_image.to_vec(),
                photo: f.photo.to_vec(),
            },
        });
        f.card_key
    });
    challenge_check(&mut checks, "kenkaku.challenge", challenge, card_key);
    report.checks = checks.0;
    report
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::card::files::Dump;
    use crate::card::synth::{Issuer, Resident};
    use crate::card::tlv::{Reader, encode};
    use crate::card::trust::{CvcApplication, Trust};

    /// The J-LIS test card's files and the trust that verifies them (tests/data/card).
    pub(crate) fn real_card() -> (Dump, Trust) {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/card");
        (
            Dump::read(&root.join("jlis-test-card")).unwrap(),
            Trust::load(&root.join("jlis-test-trust")).unwrap(),
        )
    }

    fn synthetic() -> (crate::card::synth::Card, Trust) {
        let issuer = Issuer::generate("012084").unwrap();
        let resident = Resident::sample();
        let mut card = issuer.card(&resident).unwrap();
        let face = Issuer::generate_for("9000023", "012084").unwrap();
        face.enrol_kenkaku(
            &mut card,
            &resident,
            NaiveDate::from_ymd_opt(2036, 2, 17).unwrap(),
        )
        .unwrap();
        let trust = issuer
            .trusted_by(Trust::default(), CvcApplication::Kenhojo)
            .and_then(|t| face.trusted_by(t, CvcApplication::Kenkaku))
            .unwrap();
        (card, trust)
    }

    fn outcome(r: &Report, id: &str) -> Outcome {
        r.outcome(id)
            .unwrap_or_else(|| panic!("no check {id}: {:?}", r.checks))
    }

    fn detail<'a>(r: &'a Report, id: &str) -> &'a str {
        &r.checks.iter().find(|c| c.id == id).unwrap().detail
    }

    #[test]
    fn the_real_jlis_test_card_verifies_and_reads_back() {
        let (dump, trust) = real_card();
        let r = kenhojo(&dump.kenhojo, &trust, None);
        for id in [
            "cvc.caKey",
            "cvc.signature",
            "ef0003.signature",
            "ef0002.digest",
            "ef0001.digest",
            "ef0007.signature",
        ] {
            assert_eq!(outcome(&r, id), Outcome::Passed, "{id}: {:#?}", r.checks);
        }
        assert_eq!(outcome(&r, "card.challenge"), Outcome::NotChecked);
        assert!(r.passed());
        let info = r.basic_info.unwrap();
        assert_eq!(info.name, "黒桐　幹也");
        assert_eq!(info.address, "東京都清瀬市観布子南１２－７－２０２");
        assert_eq!(info.birth_date(), NaiveDate::from_ymd_opt(1980, 2, 17));
        assert_eq!(info.sex, "1");
        assert_eq!(r.my_number.as_deref(), Some("537686677188"));
        assert_eq!(r.ca_key_id.as_deref(), Some("6000033-001"));
        assert_eq!(r.signer_key_id.as_deref(), Some("1322131-000"));

        let face = kenkaku(&dump.kenkaku, &trust, None);
        assert_eq!(outcome(&face, "kenkaku.cvc.caKey"), Outcome::Passed);
        assert_eq!(
            outcome(&face, "kenkaku.signature"),
            Outcome::Passed,
            "{:#?}",
            face.checks
        );
        let f = face.card_face.unwrap();
        assert_eq!(
            (f.date_of_birth.as_str(), f.sex.as_str()),
            ("19800217", "1")
        );
        assert!(f.images.photo.starts_with(b"\x00\x00\x00\x0cjP  "));
        assert_eq!(face.ca_key_id.as_deref(), Some("6000023-001"));
    }

    /// EF 0002 of the real card with `extra` TLVs put in FF20 before DF22 (or after DF25).
    fn with_inserted(ef: &[u8], extra: &[u8], before_df22: bool) -> Vec<u8> {
        let record = Reader::new(ef).next().unwrap().unwrap();
        let children: Vec<_> = record.children().map(Result::unwrap).collect();
        let mut value = Vec::new();
        for c in &children {
            if c.tag == 0xDF22 && before_df22 {
                value.extend(extra);
            }
            value.extend(c.raw);
        }
        if !before_df22 {
            value.extend(extra);
        }
        encode(0xFF20, &value)
    }

    #[test]
    fn fields_a_tampered_pc_adds_outside_the_signed_range_are_refused_not_reported() {
        let (dump, trust) = real_card();
        let ef2 = dump.kenhojo.get(kenhojo::EF_BASIC_INFO).unwrap().to_vec();
        let forged = [
            encode(0xDF23, "東京都千代田区永田町１－７－１".as_bytes()),
            encode(0xDF24, b"20010101"),
            encode(0xDF25, b"2"),
        ]
        .concat();
        // The attack of the issue: forged DF23/DF24/DF25 before the signed DF22. DF32 still
        // matches (it starts at DF22), so only the layout can refuse it.
        let mut files = dump.kenhojo.clone();
        files.insert(kenhojo::EF_BASIC_INFO, with_inserted(&ef2, &forged, true));
        let r = kenhojo(&files, &trust, None);
        assert_eq!(outcome(&r, "ef0002.digest"), Outcome::Failed);
        assert!(
            detail(&r, "ef0002.digest").contains("DF23"),
            "{:?}",
            r.checks
        );
        assert!(r.basic_info.is_none(), "nothing unsigned is reported");
        assert!(!r.passed());

        // A repeated tag after DF25, data after the record, another record first.
        let mut files = dump.kenhojo.clone();
        files.insert(
            kenhojo::EF_BASIC_INFO,
            with_inserted(&ef2, &encode(0xDF22, "山田　太郎".as_bytes()), false),
        );
        let r = kenhojo(&files, &trust, None);
        assert!(
            detail(&r, "ef0002.digest").contains("twice"),
            "{:?}",
            r.checks
        );
        assert!(r.basic_info.is_none());
        let mut trailing = ef2.clone();
        trailing.extend(encode(0xDF23, "東京都".as_bytes()));
        let mut files = dump.kenhojo.clone();
        files.insert(kenhojo::EF_BASIC_INFO, trailing);
        let r = kenhojo(&files, &trust, None);
        assert!(
            detail(&r, "ef0002.digest").contains("follow"),
            "{:?}",
            r.checks
        );
        assert!(r.basic_info.is_none());
        let mut first = encode(0xFF20, &forged);
        first.extend(&ef2);
        let mut files = dump.kenhojo.clone();
        files.insert(kenhojo::EF_BASIC_INFO, first);
        assert!(kenhojo(&files, &trust, None).basic_info.is_none());

        // Filler after the record is what cards write: still verified.
        let mut filled = ef2.clone();
        filled.extend([0xFF; 40]);
        let mut files = dump.kenhojo.clone();
        files.insert(kenhojo::EF_BASIC_INFO, filled);
        assert!(kenhojo(&files, &trust, None).basic_info.is_some());

        // The same rule for the 個人番号 EF and the card face.
        let mut ef1 = dump.kenhojo.get(kenhojo::EF_MY_NUMBER).unwrap().to_vec();
        ef1.extend(encode(0xFF10, b"123456789018"));
        let mut files = dump.kenhojo.clone();
        files.insert(kenhojo::EF_MY_NUMBER, ef1);
        let r = kenhojo(&files, &trust, None);
        assert_eq!(outcome(&r, "ef0001.digest"), Outcome::Failed);
        assert_eq!(r.my_number, None);
        let face = dump.kenkaku.get(crate::card::kenkaku::EF_FACE).unwrap();
        let record = Reader::new(face).next().unwrap().unwrap();
        let mut value = Vec::new();
        for c in record.children().map(Result::unwrap) {
            if c.tag == 0xDF22 {
                value.extend(encode(0xDF22, b"20010101"));
            }
            value.extend(c.raw);
        }
        let mut files = dump.kenkaku.clone();
        files.insert(crate::card::kenkaku::EF_FACE, encode(0xFF20, &value));
        let r = kenkaku(&files, &trust, None);
        assert_eq!(outcome(&r, "kenkaku.signature"), Outcome::Failed);
        assert!(r.card_face.is_none());
    }

    #[test]
    fn a_changed_value_fails_its_digest_and_a_check_that_cannot_run_fails_too() {
        let (dump, trust) = real_card();
        let mut files = dump.kenhojo.clone();
        let ef2 = files.0.get_mut(&kenhojo::EF_BASIC_INFO).unwrap();
        let at = ef2.windows(3).position(|w| w == "南".as_bytes()).unwrap();
        ef2[at + 2] ^= 1;
        let r = kenhojo(&files, &trust, None);
        assert_eq!(outcome(&r, "ef0002.digest"), Outcome::Failed);
        assert!(detail(&r, "ef0002.digest").contains("changed after issue"));
        assert_eq!(outcome(&r, "ef0003.signature"), Outcome::Passed);
        assert!(r.basic_info.is_none());

        // Without EF 0003 the change cannot be found: that is a failure, not a pass.
        files.0.remove(&kenhojo::EF_INTEGRITY);
        let r = kenhojo(&files, &trust, None);
        assert_eq!(outcome(&r, "ef0002.digest"), Outcome::Failed);
        assert_eq!(outcome(&r, "ef0001.digest"), Outcome::Failed);
        assert!(detail(&r, "ef0002.digest").contains("cannot be checked"));
        assert!(!r.passed());
        assert!(r.basic_info.is_none() && r.my_number.is_none());
        // Nor without the CVC.
        let mut files = dump.kenhojo.clone();
        files.0.remove(&kenhojo::EF_CVC);
        let r = kenhojo(&files, &trust, None);
        assert!(!r.passed());
        assert_eq!(outcome(&r, "ef0003.signature"), Outcome::Failed);
        // A live read without EF 0007 cannot prove the card is there.
        let mut files = dump.kenhojo.clone();
        files.0.remove(&kenhojo::EF_CARD_KEY);
        let r = kenhojo(&files, &trust, Some((b"nonce", b"signature")));
        assert_eq!(outcome(&r, "card.challenge"), Outcome::Failed);
    }

    #[test]
    fn the_ca_key_is_matched_by_its_whole_reference_and_only_for_its_own_application() {
        let (dump, _) = real_card();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/card/jlis-test-trust/cvc");
        let pem = |app: &str, name: &str| {
            use rustls_pki_types::pem::PemObject;
            rustls_pki_types::SubjectPublicKeyInfoDer::from_pem_file(root.join(app).join(name))
                .unwrap()
                .as_ref()
                .to_vec()
        };
        let kenhojo_key = pem("kenhojo", "6000033-001.pem");
        let kenkaku_key = pem("kenkaku", "6000023-001.pem");
        let id = |s: &str| KeyRef::parse_name(s).unwrap();
        // The kenkaku CA key configured for kenhojo does not make the card face verify.
        let crossed = Trust::default()
            .with_cvc_key(
                CvcApplication::Kenhojo,
                id("6000023-001"),
                kenkaku_key.clone(),
            )
            .with_cvc_key(
                CvcApplication::Kenkaku,
                id("6000033-001"),
                kenhojo_key.clone(),
            );
        let r = kenkaku(&dump.kenkaku, &crossed, None);
        assert_eq!(outcome(&r, "kenkaku.cvc.caKey"), Outcome::Failed);
        assert!(detail(&r, "kenkaku.cvc.caKey").contains("cvc/kenkaku/6000023-001.pem"));
        assert!(r.card_face.is_none());
        let r = kenhojo(&dump.kenhojo, &crossed, None);
        assert_eq!(outcome(&r, "cvc.caKey"), Outcome::Failed);
        // The right key under another generation's reference is not the key the CVC names.
        let other_generation =
            Trust::default().with_cvc_key(CvcApplication::Kenhojo, id("6000033-002"), kenhojo_key);
        let r = kenhojo(&dump.kenhojo, &other_generation, None);
        assert_eq!(outcome(&r, "cvc.caKey"), Outcome::Failed);
        assert!(r.basic_info.is_none());
    }

    #[test]
    fn a_synthetic_card_verifies_and_answers_the_nonce_with_its_certified_key() {
        let (card, trust) = synthetic();
        let nonce = b"a fresh server nonce of 32 bytes";
        let signed = card.sign_challenge(nonce).unwrap();
        let r = kenhojo(&card.dump.kenhojo, &trust, Some((nonce, &signed)));
        assert!(
            r.checks.iter().all(|c| c.outcome == Outcome::Passed),
            "{:#?}",
            r.checks
        );
        let info = r.basic_info.unwrap();
        assert_eq!(info.name, "山田　花子");
        assert_eq!(r.my_number.as_deref(), Some("123456789018"));
        assert_eq!(r.ca_key_id.as_deref(), Some("9000033-001"));
        assert_eq!(r.signer_key_id.as_deref(), Some("0120831-000"));
        assert_eq!(mask("123456789018"), "1234 **** **18");
        // Yesterday's answer does not prove today's nonce.
        let old = card.sign_challenge(b"yesterday's nonce").unwrap();
        let r = kenhojo(&card.dump.kenhojo, &trust, Some((nonce, &old)));
        assert_eq!(outcome(&r, "card.challenge"), Outcome::Failed);
        // The CVC of another issuer: its own signature checks, but not EF 0003's.
        let other = Issuer::generate("131016").unwrap();
        let mut files = card.dump.kenhojo.clone();
        files.insert(kenhojo::EF_CVC, other.cvc().unwrap());
        let r = kenhojo(
            &files,
            &other
                .trusted_by(Trust::default(), CvcApplication::Kenhojo)
                .unwrap(),
            None,
        );
        assert_eq!(outcome(&r, "cvc.signature"), Outcome::Passed);
        assert_eq!(outcome(&r, "ef0003.signature"), Outcome::Failed);
    }

    /// A file's layout without its variable values: each TLV's tag, whether its length is in
    /// one byte or `82 hi lo`, and the length itself unless it is one of `variable`.
    fn shape(bytes: &[u8], variable: &[u32]) -> Vec<String> {
        fn walk(reader: Reader<'_>, variable: &[u32], depth: usize, out: &mut Vec<String>) {
            for tlv in reader {
                let tlv = tlv.unwrap();
                let header = tlv.raw.len() - tlv.value.len();
                let tag_len = if tlv.tag > 0xFF { 2 } else { 1 };
                let form = match header - tag_len {
                    1 => "short".to_owned(),
                    n => format!("{:02X}", tlv.raw[tag_len]) + &format!("/{n}"),
                };
                let len = if variable.contains(&tlv.tag) {
                    "*".to_owned()
                } else {
                    tlv.value.len().to_string()
                };
                out.push(format!("{depth}:{:X}:{form}:{len}", tlv.tag));
                match tlv.tag {
                    0xFF20 | 0xFF30 | 0xFF50 | 0x7F21 => {
                        walk(tlv.children(), variable, depth + 1, out)
                    }
                    0xDF51 | 0xDF24 if tlv.value.first() == Some(&0x90) => {
                        walk(tlv.children(), variable, depth + 1, out)
                    }
                    0x5F4E => walk(
                        Reader::at(&tlv.value[32..], tlv.value_offset + 32),
                        variable,
                        depth + 1,
                        out,
                    ),
                    _ => {}
                }
            }
        }
        let mut out = Vec::new();
        walk(Reader::new(bytes), variable, 0, &mut out);
        out
    }

    #[test]
    fn the_synthetic_card_writes_what_the_real_card_holds() {
        let (real, _) = real_card();
        let (synthetic, _) = synthetic();
        // Names, addresses, dates in kenhojo; images in kenkaku; the records around them.
        let kenhojo_variable = [0xFF20, 0xDF22, 0xDF23];
        let kenkaku_variable = [0xFF20, 0xDF25, 0xDF26, 0xDF27, 0xDF2A];
        for (app, fid, variable) in [
            ("kenhojo", 0x0001, &[][..]),
            ("kenhojo", 0x0002, &kenhojo_variable[..]),
            ("kenhojo", 0x0003, &[][..]),
            ("kenhojo", 0x0004, &[][..]),
            ("kenhojo", 0x0007, &[][..]),
            ("kenkaku", 0x0002, &kenkaku_variable[..]),
            ("kenkaku", 0x0004, &[][..]),
        ] {
            let real = real.app(app).unwrap().get(fid).unwrap();
            let ours = synthetic.dump.app(app).unwrap().get(fid).unwrap();
            assert_eq!(
                shape(ours, variable),
                shape(real, variable),
                "{app} EF {fid:04X}: the synthetic card differs from a real one"
            );
        }
        // The card key of EF 0007 is in the card's own encoding, not DER.
        let real7 = kenhojo::card_key(real.kenhojo.get(kenhojo::EF_CARD_KEY).unwrap()).unwrap();
        assert_eq!(real7.key.exponent, [1, 0, 1]);
        assert_eq!(real7.key.modulus.len(), 256);
    }
}

#[cfg(test)]
mod mutation_tests {
    use super::*;
    use proptest::prelude::*;

    /// One change to a file: a byte changed, bytes put in (a TLV a PC might add, or noise), or
    /// the file cut short.
    #[derive(Debug, Clone)]
    enum Change {
        Flip(usize, u8),
        Insert(usize, Vec<u8>),
        Cut(usize),
    }

    fn change() -> impl Strategy<Value = Change> {
        let tlv = prop_oneof![
            Just(0xDF22u32),
            Just(0xDF23),
            Just(0xDF24),
            Just(0xDF25),
            Just(0xFF20),
            Just(0xFF10)
        ]
        .prop_flat_map(|tag| {
            proptest::collection::vec(any::<u8>(), 0..40)
                .prop_map(move |v| crate::card::tlv::encode(tag, &v))
        });
        prop_oneof![
            (any::<usize>(), 1u8..=255).prop_map(|(at, x)| Change::Flip(at, x)),
            (any::<usize>(), tlv).prop_map(|(at, b)| Change::Insert(at, b)),
            (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..8))
                .prop_map(|(at, b)| Change::Insert(at, b)),
            any::<usize>().prop_map(Change::Cut),
        ]
    }

    fn apply(file: &[u8], changes: &[Change]) -> Vec<u8> {
        let mut out = file.to_vec();
        for c in changes {
            let n = out.len().max(1);
            match c {
                Change::Flip(at, x) => {
                    if let Some(b) = out.get_mut(at % n) {
                        *b ^= x;
                    }
                }
                Change::Insert(at, bytes) => {
                    let at = at % (out.len() + 1);
                    out.splice(at..at, bytes.iter().copied());
                }
                Change::Cut(at) => out.truncate(at % n),
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1500))]

        /// Whatever a PC does to the real card's EF 0002 and EF 0001, the report carries the
        /// card's own 基本4情報 and 個人番号 or none: never a changed one, and never a panic.
        #[test]
        fn a_changed_file_reports_the_genuine_values_or_none(
            basic in proptest::collection::vec(change(), 1..4),
            number in proptest::collection::vec(change(), 0..2),
        ) {
            let (dump, trust) = super::tests::real_card();
            let genuine = kenhojo(&dump.kenhojo, &trust, None);
            let mut files = dump.kenhojo.clone();
            let ef2 = apply(files.get(kenhojo::EF_BASIC_INFO).unwrap(), &basic);
            files.insert(kenhojo::EF_BASIC_INFO, ef2);
            let ef1 = apply(files.get(kenhojo::EF_MY_NUMBER).unwrap(), &number);
            files.insert(kenhojo::EF_MY_NUMBER, ef1);
            let r = kenhojo(&files, &trust, None);
            prop_assert!(r.basic_info.is_none() || r.basic_info == genuine.basic_info);
            prop_assert!(r.my_number.is_none() || r.my_number == genuine.my_number);
            if r.basic_info.is_none() {
                prop_assert!(!r.passed(), "{:?}", r.checks);
            }
        }
    }
}

#[cfg(test)]
mod kenkaku_tests {
    use super::*;
    use crate::card::kenkaku::EF_FACE;
    use crate::card::tlv::Reader;

    #[test]
    fn the_card_face_verifies_by_the_three_digest_rule_and_its_unsigned_fields_are_not_reported() {
        let (dump, trust) = super::tests::real_card();
        // The photo changed (its last byte).
        let mut files = dump.kenkaku.clone();
        let ef = files.0.get_mut(&EF_FACE).unwrap();
        let photo = Reader::new(ef)
            .next()
            .unwrap()
            .unwrap()
            .children()
            .find(0xDF27)
            .unwrap()
            .unwrap();
        let last = photo.value_offset + photo.value.len() - 1;
        ef[last] ^= 1;
        let r = kenkaku(&files, &trust, None);
        assert!(!r.passed());
        assert!(r.failed().any(|c| c.id == "kenkaku.signature"));
        assert!(r.card_face.is_none());
        // The unsigned expiry date can change without the signature noticing, so it is not
        // read, and no report carries it.
        let mut files = dump.kenkaku.clone();
        let ef = files.0.get_mut(&EF_FACE).unwrap();
        let at = ef.windows(8).position(|w| w == b"20350217").unwrap();
        ef[at + 3] = b'9';
        let r = kenkaku(&files, &trust, None);
        assert!(r.passed(), "{:#?}", r.checks);
        let json = serde_json::to_string(&r).unwrap();
        assert!(!json.contains("2039") && !json.contains("2035"), "{json}");
    }
}
