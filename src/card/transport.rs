//! How the gateway reaches a card: a transport relays APDUs (a virtual card in-process, a
//! local reader, the bridge on a counter PC) and presents secrets *where the card is*. The
//! gateway never holds the resident's PIN: it asks the transport to present it, and the
//! transport (the bridge) takes it from a PIN pad or its own prompt and reports only the
//! status word (reference §7).

use super::apdu::{Command, Response, StatusWord};
use super::bridge::SecretKey;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    #[error("the card was removed from the reader")]
    CardRemoved,
    #[error("the reader failed: {0}")]
    Reader(String),
    #[error("the counter PC declined: {0}")]
    Declined(String),
    #[error("no answer from the card in time")]
    TimedOut,
}

/// A secret presented to the card for a key reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secret {
    /// The resident's PIN, entered where the card is (never sent by the gateway).
    LocalPin,
    /// 照合番号B or A: digits from the card face, typed by the clerk (not a PIN).
    Digits(String),
}

/// The futures are `Send`, so a session can run on any worker of the gateway's runtime.
pub trait Transport: Send {
    /// Sends one command APDU; the response with its status word.
    fn transmit(
        &mut self,
        command: &Command,
    ) -> impl Future<Output = Result<Response, TransportError>> + Send;

    /// Presents a secret to `key`, which the transport selects itself where the card is (its
    /// application, then the key), and with a VERIFY built there; only the status word comes
    /// back. The secret goes to no other key.
    fn present(
        &mut self,
        key: SecretKey,
        secret: &Secret,
    ) -> impl Future<Output = Result<StatusWord, TransportError>> + Send;
}
