//! What the bridge reads cards with: a reader at the counter PC (PC/SC with the `pcsc`
//! feature, see [`super::pcsc_reader`]) or the virtual card for practice and tests; and where
//! the resident's PIN comes from.

use crate::card::apdu::Command;
use crate::card::virtual_card::VirtualCard;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReaderFailure {
    #[error("the card was removed")]
    CardRemoved,
    #[error("{0}")]
    Other(String),
}

/// A card reader. Calls block (PC/SC is synchronous); the bridge makes them off its
/// runtime's worker threads.
pub trait Reader: Send + 'static {
    fn name(&self) -> String;
    /// Whether a card is in the reader now.
    fn card_present(&mut self) -> bool;
    /// Takes the card for one session (no other program can use it meanwhile).
    fn begin(&mut self) -> Result<(), ReaderFailure>;
    /// One command APDU; the response APDU with its status word.
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, ReaderFailure>;
    /// Releases the card (resetting it, so nothing stays unlocked).
    fn end(&mut self);
    /// Whether the reader has its own PIN pad ([`super::pin_pad`]), asked during a session.
    fn has_pin_pad(&mut self) -> bool {
        false
    }
    /// VERIFY with the PIN the resident types on the reader's pad, from a
    /// `PIN_VERIFY_STRUCTURE`; the response APDU.
    fn verify_on_pin_pad(&mut self, _structure: &[u8]) -> Result<Vec<u8>, ReaderFailure> {
        Err(ReaderFailure::Other(
            "this reader has no PIN pad".to_owned(),
        ))
    }
}

/// The virtual card in a virtual reader: for practice at a PC without a reader, and tests.
pub struct VirtualReader {
    pub card: VirtualCard,
    /// Whether the card lies on the reader.
    pub present: bool,
    /// A PIN pad on the virtual reader, and the PIN its resident types there.
    pub pin_pad: Option<String>,
}

impl Reader for VirtualReader {
    fn name(&self) -> String {
        "madoguchi virtual reader".to_owned()
    }

    fn card_present(&mut self) -> bool {
        self.present
    }

    fn begin(&mut self) -> Result<(), ReaderFailure> {
        if self.present {
            self.card.reset();
            Ok(())
        } else {
            Err(ReaderFailure::CardRemoved)
        }
    }

    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, ReaderFailure> {
        if !self.present {
            return Err(ReaderFailure::CardRemoved);
        }
        let command = Command::parse(apdu).map_err(|e| ReaderFailure::Other(e.to_string()))?;
        Ok(self.card.process(&command).to_bytes())
    }

    fn end(&mut self) {
        self.card.reset();
    }

    fn has_pin_pad(&mut self) -> bool {
        self.pin_pad.is_some()
    }

    fn verify_on_pin_pad(&mut self, structure: &[u8]) -> Result<Vec<u8>, ReaderFailure> {
        let pin = self
            .pin_pad
            .as_deref()
            .ok_or_else(|| ReaderFailure::Other("no PIN pad".to_owned()))?;
        let apdu = super::pin_pad::complete(structure, pin)
            .ok_or_else(|| ReaderFailure::Other("PIN pad: structure not understood".to_owned()))?;
        self.transmit(&apdu)
    }
}

/// Where the resident's PIN comes from at the counter PC.
pub trait PinSource: Send + 'static {
    /// Asks for the PIN, telling how many tries are left; `None`: entry cancelled.
    fn pin(&mut self, tries_left: u8) -> Option<String>;
}

/// A PIN given in advance (tests and demonstrations only: a real counter asks the resident).
pub struct FixedPin(pub String);

impl PinSource for FixedPin {
    fn pin(&mut self, _: u8) -> Option<String> {
        Some(self.0.clone())
    }
}

/// The bridge's own prompt on its terminal: the resident types the PIN at the counter PC, and
/// the terminal does not show it (echo off while it is typed, through `rpassword`). An empty
/// line cancels.
pub struct PromptPin;

impl PinSource for PromptPin {
    fn pin(&mut self, tries_left: u8) -> Option<String> {
        let prompt = format!(
            "暗証番号(数字4桁)を入力して Enter を押してください(画面には表示されません)。残り{tries_left}回 / PIN ({tries_left} tries left; not shown as you type): "
        );
        let pin = rpassword::prompt_password(prompt).ok()?;
        let pin = pin.trim().to_owned();
        (!pin.is_empty()).then_some(pin)
    }
}
