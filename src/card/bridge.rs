//! What the gateway and the counter PC's bridge say to each other (reference §7), and the
//! allowlist the bridge holds every upstream command to.
//!
//! One JSON object per WebSocket text frame. The gateway drives the card: it sends APDUs and
//! asks for a secret to be presented; the bridge relays the allowed APDUs, builds the VERIFY
//! itself (the PIN never leaves the counter PC) and answers with responses and status words.

use serde::{Deserialize, Serialize};

use super::apdu::{Command, aid};

/// The path of the gateway's bridge endpoint on its device port.
pub const PATH: &str = "/v1/bridge";

/// Gateway → bridge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Down {
    /// After the connection: who the gateway takes the bridge for.
    #[serde(rename_all = "camelCase")]
    Hello {
        device_id: String,
        counter_name: String,
    },
    /// A card session starts: the bridge shows it and reports whether a card is present.
    #[serde(rename_all = "camelCase")]
    Begin {
        session: String,
        purpose: String,
        clerk: Option<String>,
    },
    /// One command APDU (hex).
    Apdu { id: u64, command: String },
    /// Present a secret to a key reference the bridge selects itself (its application, then
    /// the key, each answered 9000): the PIN (entered at the counter PC) to a PIN key, or
    /// digits typed by the clerk (照合番号B) to a card-face number's key.
    Present {
        id: u64,
        key: SecretKey,
        #[serde(flatten)]
        secret: PresentSecret,
    },
    /// The session ended; the bridge ends its PC/SC transaction.
    End {
        session: String,
        outcome: String,
        message: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "secret", rename_all = "camelCase")]
pub enum PresentSecret {
    Pin,
    Digits { digits: String },
}

/// The key references a secret may be presented to, by name: the bridge knows where each is
/// and what it takes, so nothing from upstream decides which key a PIN reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SecretKey {
    /// 券面事項入力補助用暗証番号 (kenhojo `0011`): the resident's 4-digit PIN.
    KenhojoPin,
    /// 利用者証明用電子証明書暗証番号 (JPKI `0018`): the resident's 4-digit PIN.
    JpkiAuthPin,
    /// 照合番号B of kenhojo (`0015`): digits from the card face.
    KenhojoMatchingB,
    /// 照合番号B of kenkaku (`0012`): digits from the card face.
    KenkakuMatchingB,
}

/// What a key takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// The resident's PIN, entered at the counter PC (or its reader's PIN pad).
    Pin,
    /// Digits from the card face, typed by the clerk.
    CardFaceNumber,
}

impl SecretKey {
    /// The application the key belongs to.
    pub fn application(self) -> &'static [u8] {
        match self {
            SecretKey::KenhojoPin | SecretKey::KenhojoMatchingB => aid::KENHOJO,
            SecretKey::JpkiAuthPin => aid::JPKI,
            SecretKey::KenkakuMatchingB => aid::KENKAKU,
        }
    }

    /// The key reference's FID in that application.
    pub fn fid(self) -> u16 {
        match self {
            SecretKey::KenhojoPin => 0x0011,
            SecretKey::JpkiAuthPin => 0x0018,
            SecretKey::KenhojoMatchingB => 0x0015,
            SecretKey::KenkakuMatchingB => 0x0012,
        }
    }

    pub fn kind(self) -> SecretKind {
        match self {
            SecretKey::KenhojoPin | SecretKey::JpkiAuthPin => SecretKind::Pin,
            SecretKey::KenhojoMatchingB | SecretKey::KenkakuMatchingB => SecretKind::CardFaceNumber,
        }
    }

    /// For the bridge's log and prompt.
    pub fn label(self) -> &'static str {
        match self {
            SecretKey::KenhojoPin => "券面事項入力補助用暗証番号 (kenhojo 0011)",
            SecretKey::JpkiAuthPin => "利用者証明用電子証明書暗証番号 (JPKI 0018)",
            SecretKey::KenhojoMatchingB => "照合番号B (kenhojo 0015)",
            SecretKey::KenkakuMatchingB => "照合番号B (kenkaku 0012)",
        }
    }

    /// The commands that make the key current: SELECT of its application, then of its FID.
    pub fn selection(self) -> [Command; 2] {
        [
            Command::select_application(self.application()),
            Command::select_file(self.fid()),
        ]
    }
}

/// Bridge → gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Up {
    /// The reader and whether a card is in it; sent on connect, on `Begin` and on change.
    Reader { reader: String, card: CardPresence },
    /// The response APDU (hex) to command `id`.
    Response { id: u64, response: String },
    /// The status word (hex) of the VERIFY the bridge built for `Present` `id`.
    Presented { id: u64, sw: String },
    /// Command `id` was not carried out.
    Failed {
        id: u64,
        reason: FailReason,
        message: String,
    },
}

impl Up {
    /// The message's kind and id, for logs: never its data (a response carries the card's).
    pub fn kind(&self) -> String {
        match self {
            Up::Reader { card, .. } => format!("reader ({card:?})"),
            Up::Response { id, .. } => format!("response {id}"),
            Up::Presented { id, .. } => format!("presented {id}"),
            Up::Failed { id, reason, .. } => format!("failed {id} ({reason:?})"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CardPresence {
    Present,
    Absent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FailReason {
    /// The card left the reader.
    CardRemoved,
    /// The reader or PC/SC failed.
    Reader,
    /// Not on the allowlist.
    NotAllowed,
    /// The counter declined (the PIN entry was cancelled, or one try was left and the clerk
    /// did not confirm).
    Declined,
}

/// Why the bridge refuses a command from upstream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("VERIFY with data is built by the bridge only; the PIN never comes from upstream")]
    VerifyWithData,
    #[error("SELECT of an application that is not a My Number card's")]
    UnknownApplication,
    #[error("SELECT of a file that is not one the gateway reads")]
    UnknownFile,
    #[error("a signature command whose data is not a SHA-256 DigestInfo ({0} bytes)")]
    SignData(usize),
    #[error("{0:02X} {1:02X} {2:02X} {3:02X} is not a header the gateway sends")]
    Header(u8, u8, u8, u8),
    #[error("the command's length fields are not the ones its instruction takes")]
    Length,
    #[error("instruction {0:02X} is not on the allowlist")]
    Instruction(u8),
}

/// The EFs and key references the gateway selects (kenhojo, kenkaku, JPKI).
const KNOWN_FILES: [u16; 13] = [
    0x0001, 0x0002, 0x0003, 0x0004, 0x0006, 0x0007, 0x000A, 0x000B, 0x0011, 0x0012, 0x0015, 0x0017,
    0x0018,
];

/// Whether the bridge may send `command` to the card (reference §7), every byte of its header
/// and its lengths checked: SELECT (`00 A4 04 0C` of the three applications, `00 A4 02 0C` of
/// the known files, no Le), READ BINARY (`00 B0` with an offset, never a short EF id: P1 bit 8
/// clear, an Le and no data), VERIFY without data (exactly `00 20 00 80`: the retry counter),
/// the signature command (`80 2A 00 80` with the JPKI key, `80 2A 00 00` with a card key) over a
/// SHA-256 DigestInfo with Le, GET CHALLENGE (`00 84 00 00` + Le) and GET RESPONSE
/// (`00 C0 00 00` + Le). Nothing else: no READ RECORD, no VERIFY with data, no PIN change.
pub fn allowed(command: &Command) -> Result<(), Refusal> {
    let header = (command.cla, command.ins, command.p1, command.p2);
    let wrong_header = || Refusal::Header(command.cla, command.ins, command.p1, command.p2);
    let no_le_no_data = command.data.is_empty() && command.le.is_none();
    let le_only = command.data.is_empty() && command.le.is_some();
    match header {
        (0x00, 0xA4, 0x04, 0x0C) => {
            if command.le.is_some() {
                return Err(Refusal::Length);
            }
            if [aid::JPKI, aid::KENHOJO, aid::KENKAKU].contains(&command.data.as_slice()) {
                Ok(())
            } else {
                Err(Refusal::UnknownApplication)
            }
        }
        (0x00, 0xA4, 0x02, 0x0C) => match (command.data.as_slice(), command.le) {
            ([hi, lo], None) if KNOWN_FILES.contains(&u16::from_be_bytes([*hi, *lo])) => Ok(()),
            (_, Some(_)) => Err(Refusal::Length),
            _ => Err(Refusal::UnknownFile),
        },
        (0x00, 0xB0, p1, _) if p1 & 0x80 == 0 => le_only.then_some(()).ok_or(Refusal::Length),
        (0x00, 0x20, 0x00, 0x80) => {
            if no_le_no_data {
                Ok(())
            } else if !command.data.is_empty() {
                Err(Refusal::VerifyWithData)
            } else {
                Err(Refusal::Length)
            }
        }
        (0x80, 0x2A, 0x00, 0x80 | 0x00) => {
            let digest_info = command.data.len() == SHA256_DIGEST_INFO_LEN
                && command
                    .data
                    .starts_with(&super::protocol::SHA256_DIGEST_INFO_PREFIX);
            if !digest_info {
                Err(Refusal::SignData(command.data.len()))
            } else if command.le != Some(256) {
                Err(Refusal::Length)
            } else {
                Ok(())
            }
        }
        (0x00, 0x84, 0x00, 0x00) | (0x00, 0xC0, 0x00, 0x00) => {
            le_only.then_some(()).ok_or(Refusal::Length)
        }
        (_, 0xA4 | 0xB0 | 0x20 | 0x2A | 0x84 | 0xC0, _, _) => Err(wrong_header()),
        (_, ins, _, _) => Err(Refusal::Instruction(ins)),
    }
}

/// A SHA-256 DigestInfo: the 19-byte prefix and the 32-byte digest.
const SHA256_DIGEST_INFO_LEN: usize = 51;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::protocol::sha256_digest_info;

    fn command(cla: u8, ins: u8, p1: u8, p2: u8, data: &[u8], le: Option<u16>) -> Command {
        Command {
            cla,
            ins,
            p1,
            p2,
            data: data.to_vec(),
            le,
        }
    }

    #[test]
    fn the_allowlist_passes_what_the_protocol_sends_and_nothing_else() {
        for ok in [
            Command::select_application(aid::KENHOJO),
            Command::select_file(0x0002),
            Command::select_file(0x0018),
            Command::read_binary(0, 256),
            Command::read_binary(0x7F00, 256),
            Command::retry_counter(),
            Command::sign(&sha256_digest_info(b"nonce"), 0x80),
            Command::sign(&sha256_digest_info(b"nonce"), 0x00),
            Command::get_challenge(8),
            Command::get_response(16),
        ] {
            assert_eq!(allowed(&ok), Ok(()), "{ok:?}");
        }
        assert_eq!(
            allowed(&Command::verify(b"1234")),
            Err(Refusal::VerifyWithData)
        );
        assert_eq!(
            allowed(&Command::select_application(&[0xA0, 0, 0, 0, 3])),
            Err(Refusal::UnknownApplication)
        );
        assert_eq!(
            allowed(&Command::select_file(0x2F00)),
            Err(Refusal::UnknownFile)
        );
        assert_eq!(
            allowed(&Command::sign(&[0; 200], 0x80)),
            Err(Refusal::SignData(200))
        );
        // CHANGE REFERENCE DATA (a PIN change), RESET RETRY COUNTER, READ RECORD.
        for ins in [0x24, 0x2C, 0xB2] {
            assert_eq!(
                allowed(&command(0, ins, 0, 0x80, b"12345678", None)),
                Err(Refusal::Instruction(ins))
            );
        }
    }

    #[test]
    fn every_byte_of_the_header_and_the_lengths_are_checked() {
        let digest_info = sha256_digest_info(b"nonce");
        for refused in [
            // READ BINARY with a short EF id (P1 bit 8): it would select EF 1 (the 個人番号)
            // without passing the SELECT allowlist.
            command(0x00, 0xB0, 0x81, 0x00, &[], Some(256)),
            // Other classes: a logical channel, secure messaging, proprietary.
            command(0x01, 0xB0, 0x00, 0x00, &[], Some(256)),
            command(0x0C, 0xA4, 0x02, 0x0C, &[0x00, 0x02], None),
            command(0x80, 0xB0, 0x00, 0x00, &[], Some(256)),
            // The signature instruction with other P1/P2, or without Le, or not a DigestInfo.
            command(0x80, 0x2A, 0x9E, 0x9A, &digest_info, Some(256)),
            command(0x80, 0x2A, 0x00, 0x81, &digest_info, Some(256)),
            command(0x80, 0x2A, 0x00, 0x80, &digest_info, None),
            command(0x80, 0x2A, 0x00, 0x80, &[0x30; 51], Some(256)),
            command(0x00, 0x2A, 0x00, 0x80, &digest_info, Some(256)),
            // VERIFY of another reference, or with an Le (a case-2 APDU some cards read as
            // an empty PIN).
            command(0x00, 0x20, 0x00, 0x81, &[], None),
            command(0x00, 0x20, 0x00, 0x80, &[], Some(256)),
            command(0x00, 0x20, 0x01, 0x80, &[], None),
            // SELECT by path, with FCI, with an Le; READ BINARY with data.
            command(0x00, 0xA4, 0x08, 0x0C, &[0x00, 0x02], None),
            command(0x00, 0xA4, 0x02, 0x00, &[0x00, 0x02], None),
            command(0x00, 0xA4, 0x02, 0x0C, &[0x00, 0x02], Some(256)),
            command(0x00, 0xB0, 0x00, 0x00, &[1], Some(256)),
            command(0x00, 0xB0, 0x00, 0x00, &[], None),
            command(0x00, 0x84, 0x00, 0x01, &[], Some(8)),
            command(0x00, 0xC0, 0x01, 0x00, &[], Some(8)),
        ] {
            assert!(allowed(&refused).is_err(), "{refused:?} passed");
        }
    }

    #[test]
    fn each_secret_key_is_in_its_own_application_and_takes_one_kind_of_secret() {
        assert_eq!(
            SecretKey::KenhojoPin.selection()[1],
            Command::select_file(0x0011)
        );
        assert_eq!(
            SecretKey::JpkiAuthPin.selection()[0],
            Command::select_application(aid::JPKI)
        );
        assert_eq!(SecretKey::KenkakuMatchingB.fid(), 0x0012);
        assert_eq!(
            SecretKey::KenhojoMatchingB.kind(),
            SecretKind::CardFaceNumber
        );
        assert_eq!(SecretKey::JpkiAuthPin.kind(), SecretKind::Pin);
    }

    #[test]
    fn messages_are_tagged_json() {
        let down = Down::Present {
            id: 3,
            key: SecretKey::KenhojoPin,
            secret: PresentSecret::Pin,
        };
        let text = serde_json::to_string(&down).unwrap_or_default();
        assert_eq!(
            text,
            r#"{"type":"present","id":3,"key":"kenhojoPin","secret":"pin"}"#
        );
        let up: Up = serde_json::from_str(r#"{"type":"presented","id":3,"sw":"63C2"}"#)
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(
            up,
            Up::Presented {
                id: 3,
                sw: "63C2".into()
            }
        );
        // A response's data never reaches a log line through its kind.
        let response = Up::Response {
            id: 4,
            response: "FF2065DF22".into(),
        };
        assert_eq!(response.kind(), "response 4");
    }
}
