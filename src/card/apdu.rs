//! ISO 7816-4 command and response APDUs as the My Number card uses them (short form, no
//! secure messaging), its applications, and what its status words mean to a clerk.

use crate::i18n::Text;

/// Application identifiers (reference §1).
pub mod aid {
    /// 公的個人認証 (JPKI).
    pub const JPKI: &[u8] = &[0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01];
    /// 券面事項入力補助 (基本4情報 as text, 個人番号).
    pub const KENHOJO: &[u8] = &[0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x08];
    /// 券面事項確認 (card face images, photo).
    pub const KENKAKU: &[u8] = &[0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x02];
}

/// A command APDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub cla: u8,
    pub ins: u8,
    pub p1: u8,
    pub p2: u8,
    pub data: Vec<u8>,
    /// Bytes expected back (1–256; 256 is sent as `00`).
    pub le: Option<u16>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ApduError {
    #[error("an APDU needs at least 4 bytes")]
    TooShort,
    #[error("the APDU's Lc does not match its length")]
    BadLength,
    #[error("a response needs its 2-byte status word")]
    NoStatus,
}

impl Command {
    fn new(cla: u8, ins: u8, p1: u8, p2: u8, data: Vec<u8>, le: Option<u16>) -> Self {
        Command {
            cla,
            ins,
            p1,
            p2,
            data,
            le,
        }
    }

    /// SELECT an application by AID, no FCI back.
    pub fn select_application(aid: &[u8]) -> Self {
        Self::new(0x00, 0xA4, 0x04, 0x0C, aid.to_vec(), None)
    }

    /// SELECT an EF of the current application.
    pub fn select_file(fid: u16) -> Self {
        Self::new(0x00, 0xA4, 0x02, 0x0C, fid.to_be_bytes().to_vec(), None)
    }

    /// READ BINARY of up to `le` bytes (at most 256) from `offset`.
    pub fn read_binary(offset: u16, le: u16) -> Self {
        let [hi, lo] = offset.to_be_bytes();
        Self::new(0x00, 0xB0, hi, lo, Vec::new(), Some(le.clamp(1, 256)))
    }

    /// VERIFY with a PIN (or 照合番号) for the selected key reference.
    pub fn verify(secret: &[u8]) -> Self {
        Self::new(0x00, 0x20, 0x00, 0x80, secret.to_vec(), None)
    }

    /// VERIFY with no data: asks the retry counter and uses no try.
    pub fn retry_counter() -> Self {
        Self::new(0x00, 0x20, 0x00, 0x80, Vec::new(), None)
    }

    /// The card's signature over a DigestInfo: `p2` `80` with the JPKI key (PIN first), `00`
    /// with the kenhojo card key (no PIN).
    pub fn sign(digest_info: &[u8], p2: u8) -> Self {
        Self::new(0x80, 0x2A, 0x00, p2, digest_info.to_vec(), Some(256))
    }

    pub fn get_challenge(len: u16) -> Self {
        Self::new(0x00, 0x84, 0x00, 0x00, Vec::new(), Some(len))
    }

    pub fn get_response(len: u8) -> Self {
        let le = if len == 0 { 256 } else { u16::from(len) };
        Self::new(0x00, 0xC0, 0x00, 0x00, Vec::new(), Some(le))
    }

    /// The bytes on the wire (short APDU).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![self.cla, self.ins, self.p1, self.p2];
        if !self.data.is_empty() {
            out.push(self.data.len() as u8);
            out.extend_from_slice(&self.data);
        }
        if let Some(le) = self.le {
            out.push(if le >= 256 { 0 } else { le as u8 });
        }
        out
    }

    /// Reads a short APDU (cases 1–4).
    pub fn parse(bytes: &[u8]) -> Result<Self, ApduError> {
        let [cla, ins, p1, p2, rest @ ..] = bytes else {
            return Err(ApduError::TooShort);
        };
        let le_of = |b: u8| if b == 0 { 256 } else { u16::from(b) };
        let (data, le) = match rest {
            [] => (Vec::new(), None),
            [le] => (Vec::new(), Some(le_of(*le))),
            [lc, tail @ ..] => {
                let lc = usize::from(*lc);
                if lc == 0 {
                    return Err(ApduError::BadLength);
                }
                match tail.len() {
                    n if n == lc => (tail.to_vec(), None),
                    n if n == lc + 1 => (tail[..lc].to_vec(), Some(le_of(tail[lc]))),
                    _ => return Err(ApduError::BadLength),
                }
            }
        };
        Ok(Self::new(*cla, *ins, *p1, *p2, data, le))
    }
}

/// A response APDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub data: Vec<u8>,
    pub sw: StatusWord,
}

impl Response {
    pub fn new(data: Vec<u8>, sw: u16) -> Self {
        Response {
            data,
            sw: StatusWord(sw),
        }
    }

    pub fn parse(bytes: &[u8]) -> Result<Self, ApduError> {
        let [data @ .., sw1, sw2] = bytes else {
            return Err(ApduError::NoStatus);
        };
        Ok(Response::new(
            data.to_vec(),
            u16::from_be_bytes([*sw1, *sw2]),
        ))
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.data.clone();
        out.extend(self.sw.0.to_be_bytes());
        out
    }
}

/// A status word (`SW1 SW2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusWord(pub u16);

/// What a status word means (reference §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    /// `61xx`: more bytes to fetch with GET RESPONSE (`00` = 256).
    MoreData(u8),
    /// `63Cx`: wrong PIN, or the retry counter when asked; x tries left.
    TriesLeft(u8),
    /// `6983` / `6984`: the PIN is blocked.
    Blocked,
    /// `6982`: the PIN was not presented.
    SecurityNotSatisfied,
    /// `6A82`: no such file or application.
    NotFound,
    /// `6B00` or `6282`: read past the end of the file.
    EndOfFile,
    WrongLength,
    WrongParameters,
    NotSupported,
    Other(u16),
}

impl StatusWord {
    pub const OK: StatusWord = StatusWord(0x9000);

    pub fn status(self) -> Status {
        let [sw1, sw2] = self.0.to_be_bytes();
        match (sw1, sw2) {
            (0x90, 0x00) => Status::Ok,
            (0x61, n) => Status::MoreData(n),
            (0x63, n) if n & 0xF0 == 0xC0 => Status::TriesLeft(n & 0x0F),
            (0x69, 0x83 | 0x84) => Status::Blocked,
            (0x69, 0x82) => Status::SecurityNotSatisfied,
            (0x6A, 0x82) => Status::NotFound,
            (0x6B, 0x00) | (0x62, 0x82) => Status::EndOfFile,
            (0x67, 0x00) => Status::WrongLength,
            (0x6A, 0x86) => Status::WrongParameters,
            (0x6D | 0x6E, 0x00) | (0x68, 0x81) => Status::NotSupported,
            _ => Status::Other(self.0),
        }
    }

    pub fn is_ok(self) -> bool {
        self.0 == 0x9000
    }

    /// What the clerk is told when a step ends with this status.
    pub fn clerk_message(self) -> Text {
        match self.status() {
            Status::Ok => Text::new("正常に終了しました。", "Done."),
            Status::TriesLeft(0) | Status::Blocked => Text::new(
                "暗証番号がロックされています。カードを発行した市区町村の窓口で暗証番号の再設定が必要です。",
                "The PIN is blocked. It can only be reset at the counter of the issuing municipality.",
            ),
            Status::TriesLeft(n) => Text::new(
                format!("暗証番号が違います。あと{n}回間違えるとロックされます。"),
                format!("Wrong PIN. {n} more wrong tries block it."),
            ),
            Status::SecurityNotSatisfied => Text::new(
                "暗証番号の確認が済んでいないため読み取れません。",
                "The PIN has not been verified, so the card refuses the read.",
            ),
            Status::NotFound => Text::new(
                "マイナンバーカードではないか、必要な情報がカードにありません。",
                "Not a My Number card, or the card lacks the data.",
            ),
            Status::MoreData(_)
            | Status::EndOfFile
            | Status::WrongLength
            | Status::WrongParameters
            | Status::NotSupported
            | Status::Other(_) => Text::new(
                format!(
                    "カードが想定外の応答をしました(SW {:04X})。カードを置き直してもう一度お試しください。",
                    self.0
                ),
                format!(
                    "The card answered unexpectedly (SW {:04X}). Place it again and retry.",
                    self.0
                ),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_encode_as_the_reference_writes_them() {
        assert_eq!(
            Command::select_application(aid::KENHOJO).to_bytes(),
            [
                0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04,
                0x08
            ]
        );
        assert_eq!(
            Command::select_file(0x0002).to_bytes(),
            [0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x02]
        );
        assert_eq!(
            Command::read_binary(0x0100, 256).to_bytes(),
            [0x00, 0xB0, 0x01, 0x00, 0x00]
        );
        assert_eq!(
            Command::retry_counter().to_bytes(),
            [0x00, 0x20, 0x00, 0x80]
        );
        assert_eq!(
            Command::verify(b"1234").to_bytes(),
            [0x00, 0x20, 0x00, 0x80, 0x04, b'1', b'2', b'3', b'4']
        );
        let sign = Command::sign(&[1, 2, 3], 0x00).to_bytes();
        assert_eq!(sign, [0x80, 0x2A, 0x00, 0x00, 0x03, 1, 2, 3, 0x00]);
        for c in [
            Command::select_application(aid::JPKI),
            Command::read_binary(5, 17),
            Command::retry_counter(),
            Command::verify(b"1234"),
            Command::sign(&[9; 51], 0x80),
            Command::get_response(0),
        ] {
            assert_eq!(Command::parse(&c.to_bytes()), Ok(c));
        }
        assert_eq!(
            Command::parse(&[0, 0x20, 0, 0x80, 5, 1]),
            Err(ApduError::BadLength)
        );
    }

    #[test]
    fn status_words_mean_what_the_clerk_reads() {
        assert_eq!(StatusWord(0x63C2).status(), Status::TriesLeft(2));
        assert!(
            StatusWord(0x63C2)
                .clerk_message()
                .get(crate::i18n::Lang::Ja)
                .contains("あと2回")
        );
        assert_eq!(StatusWord(0x6984).status(), Status::Blocked);
        assert_eq!(
            StatusWord(0x63C0).clerk_message(),
            StatusWord(0x6984).clerk_message()
        );
        assert_eq!(StatusWord(0x6982).status(), Status::SecurityNotSatisfied);
        assert_eq!(StatusWord(0x6110).status(), Status::MoreData(0x10));
        assert_eq!(StatusWord(0x6282).status(), Status::EndOfFile);
        assert_eq!(
            Response::parse(&[1, 2, 0x90, 0x00]),
            Ok(Response::new(vec![1, 2], 0x9000))
        );
        assert_eq!(Response::parse(&[0x90]), Err(ApduError::NoStatus));
    }
}
