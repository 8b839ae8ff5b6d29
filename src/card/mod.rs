//! The My Number card at the counter (reference: `mynumber-card.md`): APDUs and status words,
//! a lenient BER-TLV reader, the kenhojo application's data, the checks that prove it genuine
//! against the operator's trust directory, card dumps, and a synthetic issuer for tests and
//! practice. Free of HTTP and SQL; the 個人番号 is never logged.

pub mod apdu;
pub mod bridge;
pub mod files;
pub mod jpki;
pub mod kenhojo;
pub mod kenkaku;
pub mod layout;
pub mod protocol;
pub mod session;
pub mod standard;
pub mod synth;
pub mod tlv;
pub mod transport;
pub mod trust;
pub mod verify;
pub mod virtual_card;
pub mod vpcd;
