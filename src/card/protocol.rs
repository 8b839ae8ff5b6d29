//! The card protocol the gateway drives over any [`Transport`]: recognise a My Number card,
//! select applications and files, read whole EFs (in chunks, following `61xx`), ask a retry
//! counter without spending a try, present a secret, and read the kenhojo application for a
//! purpose.

use super::apdu::{Command, Response, Status, StatusWord, aid};
use super::bridge::{SecretKey, SecretKind};
use super::files::AppFiles;
use super::kenhojo::{EF_BASIC_INFO, EF_CARD_KEY, EF_CVC, EF_INTEGRITY, EF_MY_NUMBER};
use super::transport::{Secret, Transport, TransportError};
use crate::i18n::Text;

/// No EF of the card is larger (the kenkaku face images are the largest).
const MAX_FILE: usize = 128 * 1024;
/// GET RESPONSE rounds for one command.
const MAX_CHAINING: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    #[error("{0}")]
    Transport(#[from] TransportError),
    #[error("not a My Number card (the JPKI application is missing)")]
    NotMyNumberCard,
    #[error("wrong PIN, {left} tries left")]
    WrongPin { left: u8 },
    #[error("wrong 照合番号B, {left} tries left")]
    WrongMatchingNumber { left: u8 },
    #[error("the PIN is blocked")]
    Blocked,
    #[error("照合番号B is blocked")]
    MatchingNumberBlocked,
    #[error("the card refused the read: the PIN was not presented")]
    SecretRequired,
    #[error("EF {fid:04X}: the card answered {sw:04X}")]
    Unexpected { fid: u16, sw: u16 },
    #[error("EF {fid:04X} is larger than any file of the card")]
    TooLarge { fid: u16 },
}

impl CardError {
    /// What the clerk is told.
    pub fn clerk_message(&self) -> Text {
        match self {
            CardError::Transport(TransportError::CardRemoved) => Text::new(
                "読み取りの途中でカードが外されました。カードを置いたまま、もう一度お試しください。",
                "The card was removed during the read. Leave it on the reader and retry.",
            ),
            CardError::Transport(e) => Text::new(
                format!("カードリーダーとの通信に失敗しました({e})。"),
                format!("The card reader failed ({e})."),
            ),
            CardError::NotMyNumberCard => Text::new(
                "マイナンバーカードではありません。カードをご確認ください。",
                "This is not a My Number card.",
            ),
            CardError::WrongPin { left } => StatusWord(0x63C0 | u16::from(*left)).clerk_message(),
            CardError::WrongMatchingNumber { left } => Text::new(
                format!(
                    "照合番号Bが違います。券面の生年月日(和暦の年月日6桁)・有効期限の西暦年・セキュリティコードを確かめてください。あと{left}回間違えるとロックされます。"
                ),
                format!(
                    "Wrong 照合番号B: check the birth date (YYMMDD in the Japanese era), the expiry year and the security code on the card face. {left} more wrong tries block it."
                ),
            ),
            CardError::Blocked => StatusWord(0x6984).clerk_message(),
            CardError::MatchingNumberBlocked => Text::new(
                "照合番号Bがロックされています。暗証番号で読み取るか、カードを発行した市区町村の窓口で解除してください。",
                "照合番号B is blocked: read the card with the PIN, or have it unblocked at the issuing municipality.",
            ),
            CardError::SecretRequired => StatusWord(0x6982).clerk_message(),
            CardError::Unexpected { sw, .. } => StatusWord(*sw).clerk_message(),
            CardError::TooLarge { .. } => Text::new(
                "カードから想定外の大きさのデータが返りました。",
                "The card returned more data than any of its files holds.",
            ),
        }
    }
}

pub struct Card<T: Transport> {
    transport: T,
}

impl<T: Transport> Card<T> {
    pub fn new(transport: T) -> Self {
        Card { transport }
    }

    pub fn into_inner(self) -> T {
        self.transport
    }

    /// Sends a command and follows `61xx` with GET RESPONSE, joining the data.
    async fn send(&mut self, command: &Command) -> Result<Response, CardError> {
        let mut response = self.transport.transmit(command).await?;
        let mut data = std::mem::take(&mut response.data);
        for _ in 0..MAX_CHAINING {
            let Status::MoreData(n) = response.sw.status() else {
                return Ok(Response {
                    data,
                    sw: response.sw,
                });
            };
            response = self.transport.transmit(&Command::get_response(n)).await?;
            data.append(&mut response.data);
            if data.len() > MAX_FILE {
                break;
            }
        }
        Err(CardError::Unexpected {
            fid: 0,
            sw: response.sw.0,
        })
    }

    /// A My Number card answers the JPKI application (never judged by its ATR).
    pub async fn recognise(&mut self) -> Result<(), CardError> {
        let r = self.send(&Command::select_application(aid::JPKI)).await?;
        match r.sw.status() {
            Status::Ok => Ok(()),
            _ => Err(CardError::NotMyNumberCard),
        }
    }

    pub async fn select_application(&mut self, id: &[u8]) -> Result<(), CardError> {
        let r = self.send(&Command::select_application(id)).await?;
        match r.sw.status() {
            Status::Ok => Ok(()),
            Status::NotFound => Err(CardError::NotMyNumberCard),
            _ => Err(CardError::Unexpected { fid: 0, sw: r.sw.0 }),
        }
    }

    async fn select_file(&mut self, fid: u16) -> Result<(), CardError> {
        let r = self.send(&Command::select_file(fid)).await?;
        if r.sw.is_ok() {
            Ok(())
        } else {
            Err(CardError::Unexpected { fid, sw: r.sw.0 })
        }
    }

    /// A whole EF: chunks of 256 bytes until a short one or the end of the file.
    pub async fn read_file(&mut self, fid: u16) -> Result<Vec<u8>, CardError> {
        self.select_file(fid).await?;
        let mut out = Vec::new();
        loop {
            let offset = u16::try_from(out.len()).map_err(|_| CardError::TooLarge { fid })?;
            let r = self.send(&Command::read_binary(offset, 256)).await?;
            match r.sw.status() {
                Status::Ok => {
                    let short = r.data.len() < 256;
                    out.extend_from_slice(&r.data);
                    if short || r.data.is_empty() {
                        return Ok(out);
                    }
                }
                Status::EndOfFile if !out.is_empty() => return Ok(out),
                Status::SecurityNotSatisfied => return Err(CardError::SecretRequired),
                _ => return Err(CardError::Unexpected { fid, sw: r.sw.0 }),
            }
            if out.len() > MAX_FILE {
                return Err(CardError::TooLarge { fid });
            }
        }
    }

    /// Tries left for a key reference of the selected application, asked with VERIFY without
    /// data (uses no try); a blocked key (no try left) is an error, never `Ok(0)`.
    pub async fn tries_left(&mut self, key: SecretKey) -> Result<u8, CardError> {
        self.select_file(key.fid()).await?;
        let r = self.send(&Command::retry_counter()).await?;
        match r.sw.status() {
            Status::TriesLeft(0) | Status::Blocked => Err(blocked(key)),
            Status::TriesLeft(n) => Ok(n),
            // Some cards answer 9000 when the key is already verified.
            Status::Ok => Ok(u8::MAX),
            _ => Err(CardError::Unexpected {
                fid: key.fid(),
                sw: r.sw.0,
            }),
        }
    }

    /// Presents a secret to a key reference: the transport selects the key where the card is
    /// and builds the VERIFY there.
    pub async fn present(&mut self, key: SecretKey, secret: &Secret) -> Result<(), CardError> {
        let sw = self.transport.present(key, secret).await?;
        match (sw.status(), key.kind()) {
            (Status::Ok, _) => Ok(()),
            (Status::TriesLeft(0) | Status::Blocked, _) => Err(blocked(key)),
            (Status::TriesLeft(left), SecretKind::Pin) => Err(CardError::WrongPin { left }),
            (Status::TriesLeft(left), SecretKind::CardFaceNumber) => {
                Err(CardError::WrongMatchingNumber { left })
            }
            _ => Err(CardError::Unexpected {
                fid: key.fid(),
                sw: sw.0,
            }),
        }
    }

    /// The card key's signature over a DigestInfo (kenhojo, or kenkaku's card-face key; no
    /// PIN).
    pub async fn sign_with_card_key(&mut self, digest_info: &[u8]) -> Result<Vec<u8>, CardError> {
        let r = self.send(&Command::sign(digest_info, 0x00)).await?;
        if r.sw.is_ok() {
            Ok(r.data)
        } else {
            Err(CardError::Unexpected {
                fid: EF_CARD_KEY,
                sw: r.sw.0,
            })
        }
    }
}

fn blocked(key: SecretKey) -> CardError {
    match key.kind() {
        SecretKind::Pin => CardError::Blocked,
        SecretKind::CardFaceNumber => CardError::MatchingNumberBlocked,
    }
}

/// JPKI authentication: the 利用者証明用 certificate (without the card's padding) and the
/// card's signature over the nonce with its key, after the resident's PIN at the counter PC.
pub async fn authenticate<T: Transport>(
    card: &mut Card<T>,
    nonce: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), CardError> {
    use super::synth::{EF_JPKI_AUTH_CERT, EF_JPKI_AUTH_KEY};
    card.recognise().await?;
    let raw = card.read_file(EF_JPKI_AUTH_CERT).await?;
    // The certificate is followed by padding: its length is in its DER header.
    let certificate = super::jpki::without_padding(&raw).to_vec();
    let key = SecretKey::JpkiAuthPin;
    // Shown to the resident before the PIN; a blocked key ends the read here.
    card.tries_left(key).await?;
    card.present(key, &Secret::LocalPin).await?;
    card.select_file(EF_JPKI_AUTH_KEY).await?;
    let r = card
        .send(&Command::sign(&sha256_digest_info(nonce), 0x80))
        .await?;
    if !r.sw.is_ok() {
        return Err(CardError::Unexpected {
            fid: EF_JPKI_AUTH_KEY,
            sw: r.sw.0,
        });
    }
    Ok((certificate, r.data))
}

/// What a card-face read returns: the files, and the card face key's signature over the nonce.
#[derive(Debug, Clone)]
pub struct KenkakuRead {
    pub files: AppFiles,
    pub challenge: Vec<u8>,
}

/// Reads the kenkaku card face with 照合番号B: EF 0002 (text, images, photo, signature) and
/// its CVC, and has the card sign `nonce` with the card face's key (DF24), so that a recorded
/// face cannot be replayed.
pub async fn read_kenkaku<T: Transport>(
    card: &mut Card<T>,
    matching_b: &str,
    nonce: &[u8],
) -> Result<KenkakuRead, CardError> {
    use super::kenkaku::{EF_CVC, EF_FACE};
    card.recognise().await?;
    card.select_application(aid::KENKAKU).await?;
    let key = SecretKey::KenkakuMatchingB;
    card.tries_left(key).await?;
    card.present(key, &Secret::Digits(matching_b.to_owned()))
        .await?;
    let mut files = AppFiles::default();
    for fid in [EF_FACE, EF_CVC] {
        let bytes = card.read_file(fid).await?;
        files.insert(fid, bytes);
    }
    let challenge = card.sign_with_card_key(&sha256_digest_info(nonce)).await?;
    Ok(KenkakuRead { files, challenge })
}

/// How the kenhojo data is unlocked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// The resident's 4-digit PIN, at the counter PC.
    Pin,
    /// 照合番号B from the card face (no PIN; never the 個人番号).
    MatchingNumberB(String),
}

/// What a kenhojo read returns: the files, and the card's signature over the nonce.
#[derive(Debug, Clone)]
pub struct KenhojoRead {
    pub files: AppFiles,
    pub challenge: Vec<u8>,
}

/// The DER prefix of a SHA-256 DigestInfo (RFC 8017 §9.2).
pub const SHA256_DIGEST_INFO_PREFIX: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// The DigestInfo the card signs for a message.
pub fn sha256_digest_info(message: &[u8]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut out = SHA256_DIGEST_INFO_PREFIX.to_vec();
    out.extend(Sha256::digest(message));
    out
}

/// Reads the kenhojo application: recognise the card, ask the tries left (shown to the
/// resident before a PIN), unlock, read EF 0002 (and EF 0001 only when `with_my_number`), the
/// integrity record, the CVC and the card key, and have the card sign `nonce`.
pub async fn read_kenhojo<T: Transport>(
    card: &mut Card<T>,
    access: &Access,
    with_my_number: bool,
    nonce: &[u8],
) -> Result<KenhojoRead, CardError> {
    card.recognise().await?;
    card.select_application(aid::KENHOJO).await?;
    let (key, secret) = match access {
        Access::Pin => (SecretKey::KenhojoPin, Secret::LocalPin),
        Access::MatchingNumberB(digits) => {
            (SecretKey::KenhojoMatchingB, Secret::Digits(digits.clone()))
        }
    };
    card.tries_left(key).await?;
    card.present(key, &secret).await?;
    let mut files = AppFiles::default();
    let mut wanted = vec![EF_BASIC_INFO, EF_INTEGRITY, EF_CVC, EF_CARD_KEY];
    if with_my_number {
        wanted.insert(0, EF_MY_NUMBER);
    }
    for fid in wanted {
        let bytes = card.read_file(fid).await?;
        files.insert(fid, bytes);
    }
    let challenge = card.sign_with_card_key(&sha256_digest_info(nonce)).await?;
    Ok(KenhojoRead { files, challenge })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::card::apdu::StatusWord;
    use crate::card::kenhojo::KEY_PIN;
    use crate::card::synth::{Issuer, Resident};
    use crate::card::trust::{CvcApplication, Trust};
    use crate::card::verify::{self, Outcome};
    use crate::card::virtual_card::VirtualCard;

    /// 昭和55年2月17日, a card expiring in 2036, security code 1234.
    pub(crate) const MATCHING_B: &str = "55021720361234";

    /// The sample resident's card (PIN 1234) with its card face, and the trust that verifies
    /// both.
    pub(crate) fn setup() -> (VirtualCard, Trust) {
        let issuer = Issuer::generate("012084").unwrap();
        let resident = Resident::sample();
        let mut card = issuer.card(&resident).unwrap();
        let face_issuer = Issuer::generate_for("9000023", "012084").unwrap();
        let expiry = chrono::NaiveDate::from_ymd_opt(2036, 2, 17).unwrap();
        face_issuer
            .enrol_kenkaku(&mut card, &resident, expiry)
            .unwrap();
        let trust = issuer
            .trusted_by(Trust::default(), CvcApplication::Kenhojo)
            .and_then(|t| face_issuer.trusted_by(t, CvcApplication::Kenkaku))
            .unwrap();
        (
            VirtualCard::new(card, "1234", MATCHING_B, &resident.my_number),
            trust,
        )
    }

    const NONCE: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[tokio::test]
    async fn a_pin_read_with_the_number_verifies_end_to_end() {
        let (vc, trust) = setup();
        let mut card = Card::new(vc);
        let read = read_kenhojo(&mut card, &Access::Pin, true, NONCE)
            .await
            .unwrap();
        let r = verify::kenhojo(&read.files, &trust, Some((NONCE, &read.challenge)));
        assert!(
            r.checks.iter().all(|c| c.outcome == Outcome::Passed),
            "{:#?}",
            r.checks
        );
        assert_eq!(r.basic_info.unwrap().name, "山田　花子");
        assert_eq!(r.my_number.as_deref(), Some("123456789018"));
        let vc = card.into_inner();
        assert_eq!(vc.tries(KEY_PIN), Some(3), "a correct PIN leaves all tries");
        // The PIN was presented where the card is: nothing the gateway sent carried it.
        assert!(vc.log.iter().any(|c| c.ins == 0x20 && !c.data.is_empty()));
        assert!(
            !vc.transmitted
                .iter()
                .any(|c| c.ins == 0x20 && !c.data.is_empty()),
            "no VERIFY with data from the gateway"
        );
    }

    #[tokio::test]
    async fn matching_number_b_reads_the_four_items_but_never_the_number() {
        let (vc, trust) = setup();
        let mut card = Card::new(vc);
        let access = Access::MatchingNumberB(MATCHING_B.to_owned());
        let read = read_kenhojo(&mut card, &access, false, NONCE)
            .await
            .unwrap();
        assert!(read.files.get(EF_MY_NUMBER).is_none());
        let r = verify::kenhojo(&read.files, &trust, Some((NONCE, &read.challenge)));
        assert!(r.passed());
        assert!(r.my_number.is_none());
        // With 照合番号B the card refuses EF 0001.
        let mut card = Card::new(card.into_inner());
        let refused = read_kenhojo(&mut card, &access, true, NONCE).await;
        assert_eq!(refused.unwrap_err(), CardError::SecretRequired);
    }

    #[tokio::test]
    async fn wrong_pins_count_down_to_the_lock_and_asking_spends_nothing() {
        let (mut vc, _) = setup();
        vc.local_pin = "9999".to_owned();
        let mut card = Card::new(vc);
        card.select_application(aid::KENHOJO).await.unwrap();
        for _ in 0..3 {
            assert_eq!(card.tries_left(SecretKey::KenhojoPin).await.unwrap(), 3);
        }
        let mut errors = Vec::new();
        for _ in 0..3 {
            errors.push(
                read_kenhojo(&mut card, &Access::Pin, false, NONCE)
                    .await
                    .unwrap_err(),
            );
        }
        assert_eq!(
            errors,
            vec![
                CardError::WrongPin { left: 2 },
                CardError::WrongPin { left: 1 },
                CardError::Blocked
            ]
        );
        assert!(errors[1].clerk_message().ja.contains("あと1回"));
        // Blocked for good: the right PIN no longer helps, and no try is made.
        let mut vc = card.into_inner();
        vc.local_pin = "1234".to_owned();
        let mut card = Card::new(vc);
        assert_eq!(
            read_kenhojo(&mut card, &Access::Pin, false, NONCE)
                .await
                .unwrap_err(),
            CardError::Blocked
        );
        assert!(CardError::Blocked.clerk_message().ja.contains("ロック"));
        assert_eq!(card.into_inner().tries(KEY_PIN), Some(0));
    }

    #[tokio::test]
    async fn the_card_face_reads_with_matching_number_b_verifies_and_signs_the_nonce() {
        let (vc, trust) = setup();
        let mut card = Card::new(vc);
        let wrong = read_kenkaku(&mut card, "00000000000000", NONCE)
            .await
            .unwrap_err();
        assert_eq!(wrong, CardError::WrongMatchingNumber { left: 9 });
        // Told as a wrong card-face number, not as a wrong PIN.
        assert!(wrong.clerk_message().ja.contains("照合番号B"), "{wrong:?}");
        assert!(!wrong.clerk_message().ja.contains("暗証番号"));
        let read = read_kenkaku(&mut card, MATCHING_B, NONCE).await.unwrap();
        let r = verify::kenkaku(&read.files, &trust, Some((NONCE, &read.challenge)));
        assert!(r.passed(), "{:#?}", r.checks);
        assert_eq!(r.outcome("kenkaku.challenge"), Some(Outcome::Passed));
        assert_eq!(r.card_face.unwrap().sex, "2");
        // A recorded face does not answer today's nonce.
        let r = verify::kenkaku(
            &read.files,
            &trust,
            Some((b"another nonce", &read.challenge)),
        );
        assert_eq!(r.outcome("kenkaku.challenge"), Some(Outcome::Failed));
    }

    #[tokio::test]
    async fn a_read_before_the_pin_is_refused_with_6982() {
        let (vc, _) = setup();
        let mut card = Card::new(vc);
        card.recognise().await.unwrap();
        card.select_application(aid::KENHOJO).await.unwrap();
        assert_eq!(
            card.read_file(EF_BASIC_INFO).await.unwrap_err(),
            CardError::SecretRequired
        );
        // Free files read without it.
        assert!(
            card.read_file(EF_CVC)
                .await
                .unwrap()
                .starts_with(&[0x7F, 0x21])
        );
    }

    #[tokio::test]
    async fn a_reader_that_chains_with_61xx_gives_the_same_files() {
        let (mut vc, trust) = setup();
        vc.chain_responses = true;
        let mut card = Card::new(vc);
        let read = read_kenhojo(&mut card, &Access::Pin, true, NONCE)
            .await
            .unwrap();
        let r = verify::kenhojo(&read.files, &trust, Some((NONCE, &read.challenge)));
        assert!(r.passed(), "{:#?}", r.checks);
        let vc = card.into_inner();
        assert!(
            vc.log.iter().any(|c| c.ins == 0xC0),
            "GET RESPONSE was used"
        );
    }

    #[tokio::test]
    async fn a_card_removed_mid_read_is_said_so() {
        let (mut vc, _) = setup();
        vc.remove_after = Some(9);
        let mut card = Card::new(vc);
        let err = read_kenhojo(&mut card, &Access::Pin, true, NONCE)
            .await
            .unwrap_err();
        assert_eq!(err, CardError::Transport(TransportError::CardRemoved));
        assert!(err.clerk_message().ja.contains("外されました"));
    }

    /// Answers 6A82 to everything: a card without the JPKI application.
    struct OtherCard;

    impl Transport for OtherCard {
        async fn transmit(&mut self, _: &Command) -> Result<Response, TransportError> {
            Ok(Response::new(Vec::new(), 0x6A82))
        }
        async fn present(
            &mut self,
            _: SecretKey,
            _: &Secret,
        ) -> Result<StatusWord, TransportError> {
            Ok(StatusWord(0x6A82))
        }
    }

    #[tokio::test]
    async fn another_card_is_not_taken_for_a_my_number_card() {
        let mut card = Card::new(OtherCard);
        assert_eq!(
            read_kenhojo(&mut card, &Access::Pin, false, NONCE)
                .await
                .unwrap_err(),
            CardError::NotMyNumberCard
        );
    }
}

#[cfg(test)]
mod jpki_tests {
    use std::time::SystemTime;

    use super::*;
    use crate::card::jpki::tests::outcome;
    use crate::card::jpki::{self, NoRevocation, Revocation};
    use crate::card::kenhojo::KEY_PIN;
    use crate::card::synth::{Issuer, JpkiIssuer, KEY_JPKI_AUTH_PIN, Resident, SYNTH_AUTH_POLICY};
    use crate::card::trust::Trust;
    use crate::card::verify::Outcome;
    use crate::card::virtual_card::VirtualCard;

    const ROOT: &str = "JPKI-TEST-SYNTH Root 9";
    const NONCE: &[u8] = b"a single-use nonce of 32 bytes..";

    struct Crls(Vec<Vec<u8>>);

    impl Revocation for Crls {
        fn crls(&self) -> Result<Vec<Vec<u8>>, String> {
            Ok(self.0.clone())
        }
    }

    fn card(jpki: &JpkiIssuer, serial: u64, valid: (i32, i32)) -> VirtualCard {
        let resident = Resident::sample();
        let mut card = Issuer::generate("012084").unwrap().card(&resident).unwrap();
        jpki.enrol(&mut card, serial, valid).unwrap();
        VirtualCard::new(card, "1234", "55021720361234", &resident.my_number)
    }

    async fn authenticate_with(vc: VirtualCard) -> (Vec<u8>, Vec<u8>) {
        let mut card = Card::new(vc);
        authenticate(&mut card, NONCE).await.unwrap()
    }

    #[tokio::test]
    async fn a_jpki_signature_verifies_to_the_configured_root_chosen_by_key() {
        let jpki = JpkiIssuer::generate(ROOT).unwrap();
        // Another root with the very same name, configured first: the path is found by key.
        let namesake = JpkiIssuer::generate(ROOT).unwrap();
        let trust = Trust::default()
            .with_jpki_policy(SYNTH_AUTH_POLICY)
            .with_jpki_root(namesake.root_der().to_vec())
            .with_jpki_root(jpki.root_der().to_vec());
        let (cert, signature) = authenticate_with(card(&jpki, 7, (2025, 2035))).await;
        let now = SystemTime::now();
        let checks = jpki::verify(&cert, Some((NONCE, &signature)), &trust, &NoRevocation, now);
        for id in [
            "jpki.signature",
            "jpki.keyUsage",
            "jpki.chain",
            "jpki.validity",
        ] {
            assert_eq!(outcome(&checks, id), Outcome::Passed, "{checks:#?}");
        }
        assert_eq!(outcome(&checks, "jpki.revocation"), Outcome::NotChecked);
        let crl = Crls(vec![jpki.crl(&[99]).unwrap()]);
        let checks = jpki::verify(&cert, Some((NONCE, &signature)), &trust, &crl, now);
        assert_eq!(outcome(&checks, "jpki.revocation"), Outcome::Passed);

        // A replayed signature over another nonce.
        let checks = jpki::verify(
            &cert,
            Some((b"another nonce", &signature)),
            &trust,
            &NoRevocation,
            now,
        );
        assert_eq!(outcome(&checks, "jpki.signature"), Outcome::Failed);
        // Only the namesake configured: the card's root is not trusted.
        let only_namesake = Trust::default()
            .with_jpki_policy(SYNTH_AUTH_POLICY)
            .with_jpki_root(namesake.root_der().to_vec());
        let checks = jpki::verify(
            &cert,
            Some((NONCE, &signature)),
            &only_namesake,
            &NoRevocation,
            now,
        );
        assert_eq!(outcome(&checks, "jpki.chain"), Outcome::Failed);
    }

    #[tokio::test]
    async fn revoked_and_expired_certificates_are_named() {
        let jpki = JpkiIssuer::generate(ROOT).unwrap();
        let trust = Trust::default()
            .with_jpki_policy(SYNTH_AUTH_POLICY)
            .with_jpki_root(jpki.root_der().to_vec());
        let now = SystemTime::now();

        let (cert, signature) = authenticate_with(card(&jpki, 8, (2025, 2035))).await;
        let crl = Crls(vec![jpki.crl(&[8]).unwrap()]);
        let checks = jpki::verify(&cert, Some((NONCE, &signature)), &trust, &crl, now);
        assert_eq!(outcome(&checks, "jpki.revocation"), Outcome::Failed);

        let (cert, signature) = authenticate_with(card(&jpki, 9, (2020, 2021))).await;
        let checks = jpki::verify(&cert, Some((NONCE, &signature)), &trust, &NoRevocation, now);
        assert_eq!(outcome(&checks, "jpki.validity"), Outcome::Failed);
        assert_eq!(outcome(&checks, "jpki.signature"), Outcome::Passed);
    }

    #[tokio::test]
    async fn the_jpki_pin_counts_its_own_tries() {
        let jpki = JpkiIssuer::generate(ROOT).unwrap();
        let mut vc = card(&jpki, 10, (2025, 2035));
        vc.local_pin = "0000".to_owned();
        let mut card = Card::new(vc);
        assert_eq!(
            authenticate(&mut card, NONCE).await.unwrap_err(),
            CardError::WrongPin { left: 2 }
        );
        let vc = card.into_inner();
        assert_eq!(vc.tries(KEY_JPKI_AUTH_PIN), Some(2));
        assert_eq!(
            vc.tries(KEY_PIN),
            Some(3),
            "the kenhojo PIN is another counter"
        );
        // Signing before the PIN is refused by the card.
        let mut card = Card::new(vc);
        card.recognise().await.unwrap();
        card.select_file(crate::card::synth::EF_JPKI_AUTH_KEY)
            .await
            .unwrap();
        let r = card
            .send(&Command::sign(&sha256_digest_info(NONCE), 0x80))
            .await
            .unwrap();
        assert_eq!(r.sw, StatusWord(0x6982));
    }
}
