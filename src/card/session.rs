//! A card session at the counter: what a counter app asks the card for (a purpose), the states
//! it goes through, and what it ends with — the verified 基本4情報 in standard form with the
//! evidence, or a failure a clerk can act on. [`run`] drives the protocol and the checks over
//! any [`Transport`]; where the transport is (a bridge, a virtual card) is not its concern.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::jpki::{self, Revocation};
use super::protocol::{self, Access, Card, CardError};
use super::transport::{Transport, TransportError};
use super::trust::Trust;
use super::verify::{self, Check, Outcome, Report};
use crate::i18n::Text;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Purpose {
    /// 基本4情報 with the resident's 4-digit PIN (entered at the counter PC).
    ReadBasicInfo,
    /// 基本4情報 with 照合番号B from the card face (typed by the clerk; no PIN).
    ReadBasicInfoByCardFace,
    /// The card face (kenkaku) with 照合番号B, checked with the three-digest rule.
    ReadCardFace,
    /// JPKI 利用者証明用 authentication with the PIN: the person holds a valid card.
    Authenticate,
    /// 基本4情報 and the 個人番号 with the PIN, for a procedure that needs the number.
    ReadMyNumber,
}

impl Purpose {
    pub const ALL: [Purpose; 5] = [
        Purpose::ReadBasicInfo,
        Purpose::ReadBasicInfoByCardFace,
        Purpose::ReadCardFace,
        Purpose::Authenticate,
        Purpose::ReadMyNumber,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::ReadBasicInfo => "readBasicInfo",
            Purpose::ReadBasicInfoByCardFace => "readBasicInfoByCardFace",
            Purpose::ReadCardFace => "readCardFace",
            Purpose::Authenticate => "authenticate",
            Purpose::ReadMyNumber => "readMyNumber",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// 照合番号B from the card face is needed.
    pub fn needs_matching_number(self) -> bool {
        matches!(
            self,
            Purpose::ReadBasicInfoByCardFace | Purpose::ReadCardFace
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum State {
    /// The session waits for the counter PC's bridge and a card on its reader.
    WaitingForCard,
    /// The resident is asked for the PIN at the counter PC.
    WaitingForPin,
    Reading,
    Verified,
    Failed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::WaitingForCard => "waitingForCard",
            State::WaitingForPin => "waitingForPin",
            State::Reading => "reading",
            State::Verified => "verified",
            State::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            State::WaitingForCard,
            State::WaitingForPin,
            State::Reading,
            State::Verified,
            State::Failed,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }

    pub fn is_final(self) -> bool {
        matches!(self, State::Verified | State::Failed)
    }
}

/// Why a session failed; each has a message a clerk can act on ([`Failure::message`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FailureCode {
    WrongPin,
    /// 照合番号B typed by the clerk does not match the card.
    WrongMatchingNumber,
    PinBlocked,
    /// 照合番号B is blocked (too many wrong numbers).
    MatchingNumberBlocked,
    CardRemoved,
    NotMyNumberCard,
    SignatureInvalid,
    Expired,
    Revoked,
    ReaderError,
    /// The counter PC declined: PIN entry cancelled, or one try left and not confirmed.
    Declined,
    /// No card was read before the session's time ran out.
    TimedOut,
    /// The gateway has no trust directory: nothing a card signed can be checked.
    NotConfigured,
    /// The card answered something the protocol does not expect.
    CardError,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    pub code: FailureCode,
    /// With `wrongPin` and `wrongMatchingNumber`: tries left before the key locks.
    pub tries_left: Option<u8>,
    /// The check that failed, with `signatureInvalid`, `expired` or `revoked`.
    pub check: Option<String>,
}

impl Failure {
    pub fn new(code: FailureCode) -> Self {
        Failure {
            code,
            tries_left: None,
            check: None,
        }
    }

    pub fn message(&self) -> Text {
        match self.code {
            FailureCode::WrongPin => {
                let n = self.tries_left.unwrap_or(0);
                Text::new(
                    format!("暗証番号が違います。あと{n}回間違えるとロックされます。"),
                    format!("Wrong PIN. {n} more wrong tries block it."),
                )
            }
            FailureCode::WrongMatchingNumber => CardError::WrongMatchingNumber {
                left: self.tries_left.unwrap_or(0),
            }
            .clerk_message(),
            FailureCode::PinBlocked => super::apdu::StatusWord(0x6984).clerk_message(),
            FailureCode::MatchingNumberBlocked => CardError::MatchingNumberBlocked.clerk_message(),
            FailureCode::CardRemoved => {
                CardError::Transport(TransportError::CardRemoved).clerk_message()
            }
            FailureCode::NotMyNumberCard => CardError::NotMyNumberCard.clerk_message(),
            FailureCode::SignatureInvalid => Text::new(
                format!(
                    "カードの情報の署名を確認できませんでした({})。券面と本人を目視で確認し、カードの発行元に照会してください。",
                    self.check.as_deref().unwrap_or("-")
                ),
                format!(
                    "The card's data failed a signature check ({}). Check the card and the person by eye and ask the issuer.",
                    self.check.as_deref().unwrap_or("-")
                ),
            ),
            FailureCode::Expired => Text::new(
                "カードの電子証明書の有効期限が切れています。市区町村の窓口で更新の手続をご案内ください。",
                "The card's certificate has expired; the resident can renew it at the municipality's counter.",
            ),
            FailureCode::Revoked => Text::new(
                "カードの電子証明書は失効しています。このカードで本人確認はできません。",
                "The card's certificate is revoked; it cannot identify the person.",
            ),
            FailureCode::ReaderError => Text::new(
                "カードリーダーとの通信に失敗しました。リーダーの接続を確認してもう一度お試しください。",
                "The card reader failed. Check its connection and retry.",
            ),
            FailureCode::Declined => Text::new(
                "窓口端末で暗証番号の入力が取り消されました。",
                "PIN entry was cancelled at the counter PC.",
            ),
            FailureCode::TimedOut => Text::new(
                "時間内にカードを読み取れませんでした。カードをリーダーに置き、もう一度始めてください。",
                "No card was read in time. Place the card on the reader and start again.",
            ),
            FailureCode::NotConfigured => Text::new(
                "カードの検証に必要な鍵が設定されていません。システム管理者に連絡してください(card.trust_dir)。",
                "The keys that verify cards are not configured (card.trust_dir); call the administrator.",
            ),
            FailureCode::CardError => Text::new(
                "カードが想定外の応答をしました。カードを置き直してもう一度お試しください。",
                "The card answered unexpectedly. Place it again and retry.",
            ),
        }
    }
}

impl From<CardError> for Failure {
    fn from(e: CardError) -> Self {
        match e {
            CardError::WrongPin { left } => Failure {
                tries_left: Some(left),
                ..Failure::new(FailureCode::WrongPin)
            },
            CardError::WrongMatchingNumber { left } => Failure {
                tries_left: Some(left),
                ..Failure::new(FailureCode::WrongMatchingNumber)
            },
            CardError::Blocked => Failure::new(FailureCode::PinBlocked),
            CardError::MatchingNumberBlocked => Failure::new(FailureCode::MatchingNumberBlocked),
            CardError::Transport(TransportError::CardRemoved) => {
                Failure::new(FailureCode::CardRemoved)
            }
            CardError::Transport(TransportError::Declined(_)) => {
                Failure::new(FailureCode::Declined)
            }
            CardError::Transport(TransportError::Reader(_)) => {
                Failure::new(FailureCode::ReaderError)
            }
            CardError::Transport(TransportError::TimedOut) => Failure::new(FailureCode::TimedOut),
            CardError::NotMyNumberCard => Failure::new(FailureCode::NotMyNumberCard),
            CardError::SecretRequired
            | CardError::Unexpected { .. }
            | CardError::TooLarge { .. } => Failure::new(FailureCode::CardError),
        }
    }
}

/// What a verified session proves.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Verified {
    /// 基本4情報 as the card holds them (kenhojo purposes).
    pub basic_info: Option<StoredBasicInfo>,
    /// The 個人番号: `readMyNumber` only.
    pub my_number: Option<String>,
    /// The card face's date of birth (ISO) and sex (`readCardFace`).
    pub card_face: Option<FaceFacts>,
    /// Every check that ran.
    pub checks: Vec<StoredCheck>,
    /// The J-LIS CA key the card's CVC names.
    pub ca_key_id: Option<String>,
    /// The municipality that issued the card (from the signer's key id), when it says.
    pub issuing_lg_code: Option<String>,
    /// The card signed the gateway's fresh nonce.
    pub challenge_passed: bool,
    /// `authenticate`: the 利用者証明用 certificate's serial number (hex).
    pub certificate_serial: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredBasicInfo {
    pub name: String,
    pub address: String,
    /// `YYYYMMDD` as on the card.
    pub date_of_birth: String,
    pub sex: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaceFacts {
    pub date_of_birth: String,
    pub sex: String,
    /// The card face's images, kept (sealed) as long as the result, for the clerk's screen.
    #[serde(default)]
    pub images: Option<StoredImages>,
}

/// The card face's images, base64 in the sealed result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredImages {
    #[serde(with = "base64_bytes")]
    pub name: Vec<u8>,
    #[serde(with = "base64_bytes")]
    pub address: Vec<u8>,
    #[serde(with = "base64_bytes")]
    pub photo: Vec<u8>,
}

/// Which card-face image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaceImage {
    Name,
    Address,
    Photo,
}

impl FaceImage {
    pub fn as_str(self) -> &'static str {
        match self {
            FaceImage::Name => "name",
            FaceImage::Address => "address",
            FaceImage::Photo => "photo",
        }
    }
}

impl StoredImages {
    pub fn get(&self, which: FaceImage) -> &[u8] {
        match which {
            FaceImage::Name => &self.name,
            FaceImage::Address => &self.address,
            FaceImage::Photo => &self.photo,
        }
    }
}

/// Bytes as standard base64 in JSON (a JSON array of numbers would be four times larger).
mod base64_bytes {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredCheck {
    pub id: String,
    pub outcome: Outcome,
    pub detail: String,
}

impl From<&Check> for StoredCheck {
    fn from(c: &Check) -> Self {
        StoredCheck {
            id: c.id.to_owned(),
            outcome: c.outcome,
            detail: c.detail.clone(),
        }
    }
}

/// The card's answer to a session, or why there is none.
pub type SessionResult = Result<Verified, Failure>;

/// The first failed check, as the failure it is.
fn failed_check(checks: &[Check]) -> Option<Failure> {
    let c = checks.iter().find(|c| c.outcome == Outcome::Failed)?;
    let code = match c.id {
        "jpki.validity" => FailureCode::Expired,
        "jpki.revocation" => FailureCode::Revoked,
        _ => FailureCode::SignatureInvalid,
    };
    Some(Failure {
        check: Some(c.id.to_owned()),
        ..Failure::new(code)
    })
}

fn from_report(report: &Report, with_number: bool) -> Verified {
    Verified {
        basic_info: report.basic_info.as_ref().map(|b| StoredBasicInfo {
            name: b.name.clone(),
            address: b.address.clone(),
            date_of_birth: b.date_of_birth.clone(),
            sex: b.sex.clone(),
        }),
        my_number: if with_number {
            report.my_number.clone()
        } else {
            None
        },
        card_face: report.card_face.as_ref().map(|f| FaceFacts {
            date_of_birth: f.date_of_birth.clone(),
            sex: f.sex.clone(),
            images: Some(StoredImages {
                name: f.images.name.clone(),
                address: f.images.address.clone(),
                photo: f.images.photo.clone(),
            }),
        }),
        checks: report.checks.iter().map(StoredCheck::from).collect(),
        ca_key_id: report.ca_key_id.clone(),
        issuing_lg_code: issuing_lg_code(report.signer_key_id.as_deref()),
        challenge_passed: report.checks.iter().any(|c| {
            (c.id == "card.challenge" || c.id == "kenkaku.challenge")
                && c.outcome == Outcome::Passed
        }),
        certificate_serial: None,
    }
}

/// The issuing municipality from the data-signing key's label: J-LIS names the key after the
/// 5-digit 団体コード (`1322131` for 清瀬市, 13221), to which the check digit is added.
fn issuing_lg_code(signer: Option<&str>) -> Option<String> {
    let first_five = signer?.get(..5)?;
    crate::tenancy::LgCode::complete(first_five)
        .ok()
        .map(|c| c.to_string())
}

/// A live read is verified only if no check failed and the checks that vouch for what it
/// reports (and for the card's presence) passed.
fn all_passed(report: &Report, needed: &[&str]) -> Result<(), Failure> {
    if let Some(f) = failed_check(&report.checks) {
        return Err(f);
    }
    match needed
        .iter()
        .find(|id| report.outcome(id) != Some(Outcome::Passed))
    {
        Some(id) => Err(Failure {
            check: Some((*id).to_owned()),
            ..Failure::new(FailureCode::SignatureInvalid)
        }),
        None => Ok(()),
    }
}

/// What a session needs besides the card.
pub struct Verifier<'a> {
    pub trust: &'a Trust,
    pub revocation: &'a (dyn Revocation + Sync),
    pub now: SystemTime,
    /// A fresh random nonce of the gateway's, never used twice.
    pub nonce: [u8; 32],
}

/// Reads what the purpose needs and checks it. `matching_b` is 照合番号B for the purposes
/// that take it.
pub async fn run<T: Transport>(
    purpose: Purpose,
    matching_b: Option<&str>,
    transport: T,
    v: &Verifier<'_>,
) -> SessionResult {
    let mut card = Card::new(transport);
    let digits = || matching_b.map(str::to_owned).unwrap_or_default();
    match purpose {
        Purpose::ReadBasicInfo | Purpose::ReadMyNumber | Purpose::ReadBasicInfoByCardFace => {
            let access = if purpose == Purpose::ReadBasicInfoByCardFace {
                Access::MatchingNumberB(digits())
            } else {
                Access::Pin
            };
            let with_number = purpose == Purpose::ReadMyNumber;
            let read = protocol::read_kenhojo(&mut card, &access, with_number, &v.nonce).await?;
            let report = verify::kenhojo(&read.files, v.trust, Some((&v.nonce, &read.challenge)));
            let mut needed = vec!["ef0002.digest", "card.challenge"];
            if with_number {
                needed.push("ef0001.digest");
            }
            all_passed(&report, &needed)?;
            Ok(from_report(&report, with_number))
        }
        Purpose::ReadCardFace => {
            let read = protocol::read_kenkaku(&mut card, &digits(), &v.nonce).await?;
            let report = verify::kenkaku(&read.files, v.trust, Some((&v.nonce, &read.challenge)));
            all_passed(&report, &["kenkaku.signature", "kenkaku.challenge"])?;
            Ok(from_report(&report, false))
        }
        Purpose::Authenticate => {
            let (certificate, signature) = protocol::authenticate(&mut card, &v.nonce).await?;
            let checks = jpki::verify(
                &certificate,
                Some((&v.nonce, &signature)),
                v.trust,
                v.revocation,
                v.now,
            );
            if let Some(f) = failed_check(&checks) {
                return Err(f);
            }
            Ok(Verified {
                checks: checks.iter().map(StoredCheck::from).collect(),
                challenge_passed: true,
                certificate_serial: jpki::serial_hex(&certificate),
                ..Verified::default()
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::jpki::NoRevocation;
    use crate::card::protocol::tests::{MATCHING_B, setup};

    fn verifier(trust: &Trust) -> Verifier<'_> {
        Verifier {
            trust,
            revocation: &NoRevocation,
            now: SystemTime::now(),
            nonce: [7; 32],
        }
    }

    #[tokio::test]
    async fn read_basic_info_verifies_and_keeps_the_number_out() {
        let (card, trust) = setup();
        let v = run(Purpose::ReadBasicInfo, None, card, &verifier(&trust))
            .await
            .unwrap();
        assert_eq!(v.basic_info.unwrap().name, "山田　花子");
        assert_eq!(v.my_number, None);
        assert!(v.challenge_passed);
        assert_eq!(v.ca_key_id.as_deref(), Some("9000033-001"));
        assert_eq!(v.issuing_lg_code.as_deref(), Some("012084"));
    }

    #[tokio::test]
    async fn read_my_number_returns_it_and_a_wrong_pin_says_the_tries_left() {
        let (card, trust) = setup();
        let v = run(Purpose::ReadMyNumber, None, card, &verifier(&trust))
            .await
            .unwrap();
        assert_eq!(v.my_number.as_deref(), Some("123456789018"));

        let (mut card, trust) = setup();
        card.local_pin = "9999".into();
        let f = run(Purpose::ReadBasicInfo, None, card, &verifier(&trust))
            .await
            .unwrap_err();
        assert_eq!(f.code, FailureCode::WrongPin);
        assert_eq!(f.tries_left, Some(2));
        assert!(f.message().ja.contains("あと2回"));
    }

    #[tokio::test]
    async fn an_unknown_ca_key_fails_naming_the_check() {
        let (card, _) = setup();
        let trust = Trust::default();
        let f = run(
            Purpose::ReadBasicInfoByCardFace,
            Some(MATCHING_B),
            card,
            &verifier(&trust),
        )
        .await
        .unwrap_err();
        assert_eq!(f.code, FailureCode::SignatureInvalid);
        assert_eq!(f.check.as_deref(), Some("cvc.caKey"));
    }
}
