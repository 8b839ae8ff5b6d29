//! Whether kenhojo data is genuine (reference §3): the CVC of EF 0004 under a configured J-LIS
//! CA key, EF 0003's signature under the CVC's key, the digests of EF 0001 and EF 0002 against
//! EF 0003, the card key of EF 0007 under the CVC's key, and — only with the card in a reader —
//! the card key's signature over a fresh nonce. Each check says what it found; a check that
//! cannot run (a file not read, an earlier check failed) says why.

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents, UnparsedPublicKey};
#[cfg(test)]
use chrono::NaiveDate;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::files::AppFiles;
use super::kenhojo::{self, BasicInfo};
use super::trust::Trust;

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
    /// `ef0001.digest`, `ef0007.signature`, `card.challenge`.
    pub id: &'static str,
    pub outcome: Outcome,
    /// What was found, in English (support staff read it with the dump's files at hand).
    pub detail: String,
}

/// What a kenhojo read proves.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub basic_info: Option<BasicInfo>,
    /// The 個人番号, when EF 0001 was read. Mask it before showing ([`mask`]).
    #[serde(skip)]
    pub my_number: Option<String>,
    /// The CA key the CVC names as its issuer (7 characters).
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
    /// Not signed: a hint.
    pub expiry_hint: Option<String>,
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

    /// The CVC (EF 0004) under a configured CA key: `cvc.caKey`, `cvc.signature`. The CVC
    /// when both pass.
    fn cvc<'a>(
        &mut self,
        ids: (&'static str, &'static str),
        ef: Option<&'a [u8]>,
        trust: &Trust,
        report: &mut Report,
    ) -> Option<kenhojo::Cvc<'a>> {
        let (ca_key, signature) = ids;
        match ef.map(kenhojo::cvc) {
            None => {
                self.push(
                    ca_key,
                    Outcome::NotChecked,
                    "EF 0004 (the CVC) is not in the dump",
                );
                None
            }
            Some(Err(e)) => {
                self.push(ca_key, Outcome::Failed, e.to_string());
                None
            }
            Some(Ok(cvc)) => {
                let ca = kenhojo::key_id_label(cvc.issuer);
                report.ca_key_id = Some(ca.clone());
                report.signer_key_id = Some(kenhojo::key_id_label(cvc.subject));
                match trust.cvc_key(&ca) {
                    None => {
                        let known: Vec<&str> = trust.cvc_ids().collect();
                        self.push(
                            ca_key,
                            Outcome::Failed,
                            format!(
                                "the CVC names CA key {ca}, which is not in the trust directory (cvc/{ca}.pem; configured: {})",
                                if known.is_empty() { "none".to_owned() } else { known.join(", ") }
                            ),
                        );
                        None
                    }
                    Some(key) => {
                        self.push(
                            ca_key,
                            Outcome::Passed,
                            format!("CA key {ca} is configured"),
                        );
                        self.result(
                            signature,
                            verify_with_der(key, cvc.body, cvc.signature),
                            &format!(
                                "the CVC of key {} is signed by CA key {ca}",
                                kenhojo::key_id_label(cvc.subject)
                            ),
                            &format!("the CVC's signature does not verify under CA key {ca}"),
                        )
                        .then_some(cvc)
                    }
                }
            }
        }
    }

    /// A file signed with the CVC's key: read, then checked, when the CVC verified.
    #[allow(clippy::too_many_arguments)]
    fn under_cvc<T>(
        &mut self,
        id: &'static str,
        parsed: Option<Result<T, kenhojo::DataError>>,
        cvc: Option<&kenhojo::Cvc<'_>>,
        file: &str,
        verify: impl Fn(&T, &kenhojo::Cvc<'_>) -> bool,
        passed: &str,
        failed: &str,
    ) -> Option<T> {
        match (parsed, cvc) {
            (None, _) => {
                self.push(
                    id,
                    Outcome::NotChecked,
                    format!("{file} is not in the dump"),
                );
                None
            }
            (Some(Err(e)), _) => {
                self.push(id, Outcome::Failed, e.to_string());
                None
            }
            (Some(Ok(_)), None) => {
                self.push(
                    id,
                    Outcome::NotChecked,
                    "the CVC did not verify, so its key cannot be trusted",
                );
                None
            }
            (Some(Ok(x)), Some(cvc)) => {
                let ok = verify(&x, cvc);
                self.result(id, ok, passed, failed).then_some(x)
            }
        }
    }

    fn result(&mut self, id: &'static str, ok: bool, passed: &str, failed: &str) -> bool {
        if ok {
            self.push(id, Outcome::Passed, passed)
        } else {
            self.push(id, Outcome::Failed, failed)
        }
    }
}

/// Checks the kenhojo files that were read. `challenge` is the card key's signature over a
/// server nonce with the nonce, when the card was in a reader.
pub fn kenhojo(files: &AppFiles, trust: &Trust, challenge: Option<(&[u8], &[u8])>) -> Report {
    let mut checks = Checks(Vec::new());
    let mut report = Report::default();

    let basic = files.get(kenhojo::EF_BASIC_INFO).map(kenhojo::basic_info);
    let basic = match basic {
        Some(Ok((info, signed))) => {
            report.basic_info = Some(info);
            Some(signed)
        }
        Some(Err(e)) => {
            checks.push("ef0002.read", Outcome::Failed, e.to_string());
            None
        }
        None => None,
    };
    if let Some(Ok(number)) = files.get(kenhojo::EF_MY_NUMBER).map(kenhojo::my_number) {
        report.my_number = Some(number);
    }

    // The CVC, under a configured CA key.
    let cvc = checks.cvc(
        ("cvc.caKey", "cvc.signature"),
        files.get(kenhojo::EF_CVC),
        trust,
        &mut report,
    );

    // EF 0003 under the CVC's key, then the digests it holds.
    let integrity = checks.under_cvc(
        "ef0003.signature",
        files.get(kenhojo::EF_INTEGRITY).map(kenhojo::integrity),
        cvc.as_ref(),
        "EF 0003",
        |i, cvc| verify_with_components(cvc.modulus, cvc.exponent, &i.signed, i.signature),
        "DF33 is the CVC key's signature over DF31 and DF32",
        "DF33 does not verify under the CVC's key",
    );
    match (&integrity, basic) {
        (Some(i), Some(signed)) => {
            checks.result(
                "ef0002.digest",
                sha256(signed) == i.basic_info_digest,
                "DF32 matches EF 0002 (the 基本4情報 are as issued)",
                "DF32 does not match EF 0002: the 基本4情報 were changed after issue",
            );
        }
        (None, _) => {
            checks.push(
                "ef0002.digest",
                Outcome::NotChecked,
                "no verified EF 0003 to compare with",
            );
        }
        (Some(_), None) => {
            checks.push(
                "ef0002.digest",
                Outcome::NotChecked,
                "EF 0002 was not read or did not parse",
            );
        }
    }
    match (&integrity, files.get(kenhojo::EF_MY_NUMBER)) {
        (Some(i), Some(ef)) => {
            checks.result(
                "ef0001.digest",
                sha256(ef) == i.my_number_digest,
                "DF31 matches EF 0001 (the 個人番号 is as issued)",
                "DF31 does not match EF 0001: the 個人番号 was changed after issue",
            );
        }
        (_, None) => {
            checks.push(
                "ef0001.digest",
                Outcome::NotChecked,
                "EF 0001 was not read (it needs the PIN or 照合番号A, and only a procedure that uses the 個人番号 reads it)",
            );
        }
        (None, Some(_)) => {
            checks.push(
                "ef0001.digest",
                Outcome::NotChecked,
                "no verified EF 0003 to compare with",
            );
        }
    }

    // The card key, certified by the issuer, then (live only) proving the card is present.
    let card_key = checks.under_cvc(
        "ef0007.signature",
        files.get(kenhojo::EF_CARD_KEY).map(kenhojo::card_key),
        cvc.as_ref(),
        "EF 0007",
        |k, cvc| verify_with_components(cvc.modulus, cvc.exponent, k.signed, k.signature),
        "DF52 certifies the card key of DF51",
        "DF52 does not verify under the CVC's key",
    );
    match (challenge, card_key) {
        (None, _) => {
            checks.push(
                "card.challenge",
                Outcome::NotChecked,
                "needs the card in a reader: only the card itself can sign a fresh nonce",
            );
        }
        (Some(_), None) => {
            checks.push(
                "card.challenge",
                Outcome::NotChecked,
                "no certified card key to check the signature with",
            );
        }
        (Some((nonce, signature)), Some(k)) => {
            checks.result(
                "card.challenge",
                verify_with_der(k.public_key, nonce, signature),
                "the card signed the server's nonce with its certified key",
                "the signature over the nonce does not verify under the card key",
            );
        }
    }
    report.checks = checks.0;
    report
}

/// Checks a kenkaku read: the CVC (CA `…23`), then DF28 under its key by the three-digest
/// rule. The expiry date and the security code are not signed: reported as unverified hints.
pub fn kenkaku(files: &AppFiles, trust: &Trust) -> Report {
    use super::kenkaku::{EF_CVC, EF_FACE, face, verify_digest_info};
    let mut checks = Checks(Vec::new());
    let mut report = Report::default();
    let cvc = checks.cvc(
        ("kenkaku.cvc.caKey", "kenkaku.cvc.signature"),
        files.get(EF_CVC),
        trust,
        &mut report,
    );
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    match (files.get(EF_FACE).map(face), cvc) {
        (None, _) => {
            checks.push(
                "kenkaku.signature",
                Outcome::NotChecked,
                "EF 0002 is not in the dump",
            );
        }
        (Some(Err(e)), _) => {
            checks.push("kenkaku.signature", Outcome::Failed, e.to_string());
        }
        (Some(Ok(f)), cvc) => {
            report.card_face = Some(CardFace {
                date_of_birth: text(f.date_of_birth),
                sex: text(f.sex),
                expiry_hint: f.expiry.map(text),
                images: FaceImages {
                    name: f.name_image.to_vec(),
                    address: f.address_image.to_vec(),
                    photo: f.photo.to_vec(),
                },
            });
            match cvc {
                None => {
                    checks.push(
                        "kenkaku.signature",
                        Outcome::NotChecked,
                        "the CVC did not verify, so its key cannot be trusted",
                    );
                }
                Some(cvc) => {
                    checks.result(
                        "kenkaku.signature",
                        verify_digest_info(cvc.modulus, cvc.exponent, &f.digest_info, f.signature),
                        "DF28 signs the birth date, sex, card key, name and address images and the photo",
                        "DF28 does not match the card face: its text, images or photo were changed after issue",
                    );
                }
            }
            checks.push(
                "kenkaku.expiry",
                Outcome::NotChecked,
                "the expiry date (DF29) and the security code (DF2A) are not signed: hints only",
            );
        }
    }
    report.checks = checks.0;
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::synth::{Issuer, Resident};
    use rustls_pki_types::SubjectPublicKeyInfoDer;
    use rustls_pki_types::pem::PemObject;

    fn trust_for(issuer: &Issuer) -> Trust {
        let pem = issuer.ca_public_pem().unwrap();
        let der = SubjectPublicKeyInfoDer::from_pem_slice(pem.as_bytes()).unwrap();
        Trust::default().with_cvc_key("9000033", der.as_ref().to_vec())
    }

    fn outcome(r: &Report, id: &str) -> Outcome {
        r.checks
            .iter()
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("no check {id}: {:?}", r.checks))
            .outcome
    }

    #[test]
    fn a_synthetic_card_verifies_and_its_data_reads_back() {
        let issuer = Issuer::generate("012084").unwrap();
        let card = issuer.card(&Resident::sample()).unwrap();
        let nonce = b"a fresh server nonce of 32 bytes";
        let signed = card.sign_challenge(nonce).unwrap();
        let r = kenhojo(
            &card.dump.kenhojo,
            &trust_for(&issuer),
            Some((nonce, &signed)),
        );
        assert!(r.passed(), "{:#?}", r.checks);
        assert!(r.checks.iter().all(|c| c.outcome == Outcome::Passed));
        let info = r.basic_info.unwrap();
        assert_eq!(info.name, "山田　花子");
        assert_eq!(info.birth_date(), NaiveDate::from_ymd_opt(1980, 2, 17));
        assert_eq!(info.sex, "2");
        assert_eq!(r.my_number.as_deref(), Some("123456789018"));
        assert_eq!(r.ca_key_id.as_deref(), Some("9000033"));
        assert!(r.signer_key_id.unwrap().starts_with("012084"));
        assert_eq!(mask("123456789018"), "1234 **** **18");
    }

    #[test]
    fn tampering_a_swapped_cvc_an_unknown_ca_or_a_replayed_nonce_each_fail_by_name() {
        let issuer = Issuer::generate("012084").unwrap();
        let card = issuer.card(&Resident::sample()).unwrap();
        let trust = trust_for(&issuer);

        // The address moved one block: 北５条 → 北６条 (one byte of UTF-8).
        let mut files = card.dump.kenhojo.clone();
        let ef2 = files.0.get_mut(&kenhojo::EF_BASIC_INFO).unwrap();
        let five = "５".as_bytes();
        let at = ef2.windows(3).position(|w| w == five).unwrap();
        ef2[at + 2] += 1;
        let r = kenhojo(&files, &trust, None);
        assert!(!r.passed());
        assert_eq!(outcome(&r, "ef0002.digest"), Outcome::Failed);
        assert!(
            r.failed()
                .any(|c| c.detail.contains("DF32 does not match EF 0002"))
        );
        assert_eq!(outcome(&r, "ef0003.signature"), Outcome::Passed);

        // The CVC of another issuer: its own signature checks, but not EF 0003's.
        let other = Issuer::generate("131016").unwrap();
        let mut files = card.dump.kenhojo.clone();
        files.insert(kenhojo::EF_CVC, other.cvc().unwrap());
        let r = kenhojo(&files, &trust_for(&other), None);
        assert_eq!(outcome(&r, "cvc.signature"), Outcome::Passed);
        assert_eq!(outcome(&r, "ef0003.signature"), Outcome::Failed);

        // A CA key nobody configured.
        let r = kenhojo(&card.dump.kenhojo, &Trust::default(), None);
        assert_eq!(outcome(&r, "cvc.caKey"), Outcome::Failed);
        assert!(r.failed().any(|c| c.detail.contains("cvc/9000033.pem")));
        assert_eq!(outcome(&r, "ef0003.signature"), Outcome::NotChecked);

        // The card's answer to another nonce does not prove this one.
        let old = card.sign_challenge(b"yesterday's nonce").unwrap();
        let r = kenhojo(&card.dump.kenhojo, &trust, Some((b"today's nonce", &old)));
        assert_eq!(outcome(&r, "card.challenge"), Outcome::Failed);

        // Without EF 0001 (no PIN) and without the card, those two are not checked.
        let mut files = card.dump.kenhojo.clone();
        files.0.remove(&kenhojo::EF_MY_NUMBER);
        let r = kenhojo(&files, &trust, None);
        assert!(r.passed());
        assert_eq!(outcome(&r, "ef0001.digest"), Outcome::NotChecked);
        assert_eq!(outcome(&r, "card.challenge"), Outcome::NotChecked);
        assert!(r.my_number.is_none());
    }
}

#[cfg(test)]
mod kenkaku_tests {
    use super::*;
    use crate::card::kenkaku::EF_FACE;
    use crate::card::synth::{Issuer, Resident};
    use rustls_pki_types::SubjectPublicKeyInfoDer;
    use rustls_pki_types::pem::PemObject;

    #[test]
    fn the_card_face_verifies_by_the_three_digest_rule_and_a_changed_photo_is_caught() {
        let resident = Resident::sample();
        let mut card = Issuer::generate("012084").unwrap().card(&resident).unwrap();
        let face_issuer = Issuer::generate_for("9000023", "012084").unwrap();
        let expiry = chrono::NaiveDate::from_ymd_opt(2036, 2, 17).unwrap();
        face_issuer
            .enrol_kenkaku(&mut card, &resident, expiry)
            .unwrap();
        let pem = face_issuer.ca_public_pem().unwrap();
        let der = SubjectPublicKeyInfoDer::from_pem_slice(pem.as_bytes()).unwrap();
        let trust = Trust::default().with_cvc_key("9000023", der.as_ref().to_vec());

        let r = kenkaku(&card.dump.kenkaku, &trust);
        assert!(r.passed(), "{:#?}", r.checks);
        let face = r.card_face.unwrap();
        assert_eq!(face.date_of_birth, "19800217");
        assert_eq!(face.expiry_hint.as_deref(), Some("20360217"));
        assert!(
            r.checks
                .iter()
                .any(|c| c.id == "kenkaku.expiry" && c.outcome == Outcome::NotChecked)
        );

        // The photo's last byte changed.
        let mut files = card.dump.kenkaku.clone();
        let ef = files.0.get_mut(&EF_FACE).unwrap();
        let at = ef.windows(5).position(|w| w == b"photo").unwrap();
        ef[at] = b'P';
        let r = kenkaku(&files, &trust);
        assert!(!r.passed());
        assert!(r.failed().any(|c| c.id == "kenkaku.signature"));
        // The unsigned expiry date can change without the signature noticing: only a hint.
        let mut files = card.dump.kenkaku.clone();
        let ef = files.0.get_mut(&EF_FACE).unwrap();
        let at = ef.windows(8).position(|w| w == b"20360217").unwrap();
        ef[at + 3] = b'9';
        assert!(kenkaku(&files, &trust).passed());
    }
}
