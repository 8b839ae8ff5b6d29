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

/// Longest data of a signature command the bridge relays: a DigestInfo with SHA-512 is 83
/// bytes; nothing the gateway signs is longer.
pub const MAX_SIGN_DATA: usize = 128;

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
    /// Present a secret to the selected key: the PIN (entered at the counter PC) or digits
    /// typed by the clerk (照合番号B).
    Present {
        id: u64,
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
    #[error("a signature command with {0} bytes of data (at most {MAX_SIGN_DATA})")]
    SignTooLong(usize),
    #[error("instruction {0:02X} is not on the allowlist")]
    Instruction(u8),
}

/// The EFs and key references the gateway selects (kenhojo, kenkaku, JPKI).
const KNOWN_FILES: [u16; 12] = [
    0x0001, 0x0002, 0x0003, 0x0004, 0x0006, 0x0007, 0x000A, 0x000B, 0x0011, 0x0012, 0x0015, 0x0017,
];
/// The JPKI user-authentication PIN's key reference.
const KEY_JPKI_AUTH_PIN: u16 = 0x0018;

/// Whether the bridge may send `command` to the card (reference §7): SELECT of the known
/// applications and files, READ BINARY / READ RECORD, VERIFY without data (the retry
/// counter), the signature command with a bounded length, GET CHALLENGE and GET RESPONSE.
pub fn allowed(command: &Command) -> Result<(), Refusal> {
    match command.ins {
        0xA4 => match command.p1 {
            0x04 if [aid::JPKI, aid::KENHOJO, aid::KENKAKU].contains(&command.data.as_slice()) => {
                Ok(())
            }
            0x04 => Err(Refusal::UnknownApplication),
            0x02 => {
                let fid = match command.data.as_slice() {
                    [hi, lo] => u16::from_be_bytes([*hi, *lo]),
                    _ => return Err(Refusal::UnknownFile),
                };
                if KNOWN_FILES.contains(&fid) || fid == KEY_JPKI_AUTH_PIN {
                    Ok(())
                } else {
                    Err(Refusal::UnknownFile)
                }
            }
            _ => Err(Refusal::UnknownFile),
        },
        0xB0 | 0xB2 | 0x84 | 0xC0 => Ok(()),
        0x20 if command.data.is_empty() => Ok(()),
        0x20 => Err(Refusal::VerifyWithData),
        0x2A if command.data.len() <= MAX_SIGN_DATA => Ok(()),
        0x2A => Err(Refusal::SignTooLong(command.data.len())),
        ins => Err(Refusal::Instruction(ins)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::protocol::sha256_digest_info;

    #[test]
    fn the_allowlist_passes_what_the_protocol_sends_and_nothing_else() {
        for ok in [
            Command::select_application(aid::KENHOJO),
            Command::select_file(0x0002),
            Command::select_file(0x0018),
            Command::read_binary(0, 256),
            Command::retry_counter(),
            Command::sign(&sha256_digest_info(b"nonce"), 0x80),
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
            Err(Refusal::SignTooLong(200))
        );
        // CHANGE REFERENCE DATA (a PIN change) and RESET RETRY COUNTER.
        for ins in [0x24, 0x2C] {
            let c = Command {
                cla: 0,
                ins,
                p1: 0,
                p2: 0x80,
                data: b"12345678".to_vec(),
                le: None,
            };
            assert_eq!(allowed(&c), Err(Refusal::Instruction(ins)));
        }
    }

    #[test]
    fn messages_are_tagged_json() {
        let down = Down::Present {
            id: 3,
            secret: PresentSecret::Pin,
        };
        let text = serde_json::to_string(&down).unwrap_or_default();
        assert_eq!(text, r#"{"type":"present","id":3,"secret":"pin"}"#);
        let up: Up = serde_json::from_str(r#"{"type":"presented","id":3,"sw":"63C2"}"#)
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(
            up,
            Up::Presented {
                id: 3,
                sw: "63C2".into()
            }
        );
    }
}
