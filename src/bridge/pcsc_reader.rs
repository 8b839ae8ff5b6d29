//! A PC/SC reader (libpcsclite through the `pcsc` crate; only with `--features pcsc`, so the
//! gateway never links it). A session holds the card in exclusive mode from `begin` to
//! `end`: no other program on the PC can talk to it meanwhile, as a PC/SC transaction would
//! ensure, without tying a transaction's borrow to the reader's lifetime.

use std::ffi::CString;

use pcsc::{Card, Context, Disposition, Protocols, ReaderState, Scope, ShareMode, State};

use super::pin_pad::{FEATURE_VERIFY_PIN_DIRECT, GET_FEATURE_REQUEST, feature_code};
use super::reader::{Reader, ReaderFailure};

pub struct PcscReader {
    context: Context,
    reader: CString,
    card: Option<Card>,
    /// The control code of the reader's PIN entry (FEATURE_VERIFY_PIN_DIRECT), asked when a
    /// session takes the card; `None`: no PIN pad (or it is not used: `--no-pin-pad`).
    verify_pin: Option<u32>,
    use_pin_pad: bool,
}

fn failure(e: pcsc::Error) -> ReaderFailure {
    match e {
        pcsc::Error::RemovedCard | pcsc::Error::NoSmartcard | pcsc::Error::ResetCard => {
            ReaderFailure::CardRemoved
        }
        e => ReaderFailure::Other(format!("PC/SC: {e}")),
    }
}

impl PcscReader {
    /// The reader whose name contains `name` (any reader when `None`).
    pub fn open(name: Option<&str>) -> Result<Self, String> {
        let context = Context::establish(Scope::User)
            .map_err(|e| format!("PC/SC: {e} (is pcscd running?)"))?;
        let readers = context
            .list_readers_owned()
            .map_err(|e| format!("PC/SC: no reader: {e}"))?;
        let reader = readers
            .into_iter()
            .find(|r| name.is_none_or(|n| r.to_string_lossy().contains(n)))
            .ok_or_else(|| match name {
                Some(n) => format!("PC/SC: no reader named like {n:?}"),
                None => "PC/SC: no reader connected".to_owned(),
            })?;
        Ok(PcscReader {
            context,
            reader,
            card: None,
            verify_pin: None,
            use_pin_pad: true,
        })
    }

    /// Types the PIN at the bridge's prompt even where the reader has a PIN pad.
    pub fn without_pin_pad(mut self) -> Self {
        self.use_pin_pad = false;
        self
    }

    /// The reader's PIN-entry control code, from its Part 10 feature list.
    fn pin_pad_code(card: &Card) -> Option<u32> {
        let mut buffer = [0u8; 256];
        let features = card
            .control(pcsc::ctl_code(GET_FEATURE_REQUEST.into()), &[], &mut buffer)
            .ok()?;
        feature_code(features, FEATURE_VERIFY_PIN_DIRECT)
    }
}

impl Reader for PcscReader {
    fn name(&self) -> String {
        self.reader.to_string_lossy().into_owned()
    }

    fn card_present(&mut self) -> bool {
        let mut states = [ReaderState::new(self.reader.clone(), State::UNAWARE)];
        match self
            .context
            .get_status_change(std::time::Duration::ZERO, &mut states)
        {
            Ok(()) => states[0].event_state().contains(State::PRESENT),
            Err(_) => false,
        }
    }

    fn begin(&mut self) -> Result<(), ReaderFailure> {
        self.end();
        // Another program may still hold the card (a bridge that just ended, a middleware):
        // wait a little for it to let go.
        let mut tries = 0;
        loop {
            match self
                .context
                .connect(&self.reader, ShareMode::Exclusive, Protocols::ANY)
            {
                Ok(card) => {
                    self.verify_pin = if self.use_pin_pad {
                        Self::pin_pad_code(&card)
                    } else {
                        None
                    };
                    self.card = Some(card);
                    return Ok(());
                }
                Err(pcsc::Error::SharingViolation) if tries < 30 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                Err(e) => return Err(failure(e)),
            }
        }
    }

    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, ReaderFailure> {
        if self.card.is_none() {
            self.begin()?;
        }
        let card = self.card.as_ref().ok_or(ReaderFailure::CardRemoved)?;
        let mut buffer = [0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED];
        let result = card
            .transmit(apdu, &mut buffer)
            .map(<[u8]>::to_vec)
            .map_err(failure);
        if result == Err(ReaderFailure::CardRemoved) {
            self.card = None;
        }
        result
    }

    fn end(&mut self) {
        if let Some(card) = self.card.take() {
            // Reset, so that nothing the PIN unlocked stays unlocked for the next program.
            let _ = card.disconnect(Disposition::ResetCard);
        }
    }

    fn has_pin_pad(&mut self) -> bool {
        if self.card.is_none() && self.begin().is_err() {
            return false;
        }
        self.verify_pin.is_some()
    }

    fn verify_on_pin_pad(&mut self, structure: &[u8]) -> Result<Vec<u8>, ReaderFailure> {
        let (Some(card), Some(code)) = (self.card.as_ref(), self.verify_pin) else {
            return Err(ReaderFailure::Other("no PIN pad".to_owned()));
        };
        let mut buffer = [0u8; 258];
        let result = card
            .control(code.into(), structure, &mut buffer)
            .map(<[u8]>::to_vec)
            .map_err(failure);
        if result == Err(ReaderFailure::CardRemoved) {
            self.card = None;
        }
        result
    }
}
