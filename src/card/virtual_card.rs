//! A software My Number card that behaves as the reference describes: the applications, the
//! kenhojo files with their access rules, PIN retry counters down to the lock (only a correct
//! VERIFY resets one; asking the counter spends nothing), the card-key signature, GET
//! CHALLENGE, and the status words — built from a synthetic card. Tests drive the protocol
//! against it in-process; it can also answer like a reader that chains with `61xx`.

use std::collections::{BTreeMap, BTreeSet};

use super::apdu::{Command, Response, StatusWord, aid};
use super::bridge::SecretKey;
use super::kenhojo::{
    EF_BASIC_INFO, EF_CARD_KEY, EF_INTEGRITY, EF_MY_NUMBER, KEY_MATCH_A, KEY_MATCH_B, KEY_PIN,
};
use super::kenkaku;
use super::synth::{self, EF_JPKI_AUTH_KEY, KEY_JPKI_AUTH_PIN};
use super::transport::{Secret, Transport, TransportError};

const OK: u16 = 0x9000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum App {
    Jpki,
    Kenhojo,
    Kenkaku,
}

struct Key {
    secret: Vec<u8>,
    tries: u8,
    /// What a correct VERIFY resets the counter to.
    max: u8,
}

impl Key {
    fn new(secret: &str, max: u8) -> Self {
        Key {
            secret: secret.as_bytes().to_vec(),
            tries: max,
            max,
        }
    }
}

pub struct VirtualCard {
    card: synth::Card,
    app: Option<App>,
    ef: Option<u16>,
    /// Each application's key references.
    keys: BTreeMap<(App, u16), Key>,
    /// Key references verified since the application was selected.
    verified: BTreeSet<u16>,
    /// Answer in pieces with `61xx`, as some readers do.
    pub chain_responses: bool,
    pending: Vec<u8>,
    /// Commands left before the card is pulled from the reader (`None`: never).
    pub remove_after: Option<usize>,
    /// What the resident types at the counter PC when a PIN is asked for.
    pub local_pin: String,
    /// Every command the card processed, for tests to inspect.
    pub log: Vec<Command>,
    /// The commands that came through [`Transport::transmit`] (from the gateway's side, as
    /// opposed to a secret presented where the card is).
    pub transmitted: Vec<Command>,
}

impl VirtualCard {
    /// A card with the resident's PIN and the digits of 照合番号B.
    pub fn new(card: synth::Card, pin: &str, matching_b: &str, my_number: &str) -> Self {
        // PINs lock after 3 wrong tries, the card-face numbers after 10.
        let keys = BTreeMap::from([
            ((App::Kenhojo, KEY_PIN), Key::new(pin, 3)),
            ((App::Jpki, KEY_JPKI_AUTH_PIN), Key::new(pin, 3)),
            ((App::Kenhojo, KEY_MATCH_B), Key::new(matching_b, 10)),
            ((App::Kenhojo, KEY_MATCH_A), Key::new(my_number, 10)),
            (
                (App::Kenkaku, kenkaku::KEY_MATCH_B),
                Key::new(matching_b, 10),
            ),
            (
                (App::Kenkaku, kenkaku::KEY_MATCH_A),
                Key::new(my_number, 10),
            ),
        ]);
        VirtualCard {
            card,
            app: None,
            ef: None,
            keys,
            verified: BTreeSet::new(),
            chain_responses: false,
            pending: Vec::new(),
            remove_after: None,
            local_pin: pin.to_owned(),
            log: Vec::new(),
            transmitted: Vec::new(),
        }
    }

    /// Power off, power on or reset: nothing selected, nothing verified.
    pub fn reset(&mut self) {
        self.app = None;
        self.ef = None;
        self.verified.clear();
        self.pending.clear();
    }

    /// The card's contents, to enrol another application in tests.
    pub fn card_mut(&mut self) -> &mut synth::Card {
        &mut self.card
    }

    /// Tries left of a key, by its FID (the FIDs of the three applications' keys differ).
    pub fn tries(&self, key: u16) -> Option<u8> {
        self.keys
            .iter()
            .find(|((_, fid), _)| *fid == key)
            .map(|(_, k)| k.tries)
    }

    /// Which key references unlock an EF (reference §3, §4); `None`: free.
    fn unlocked_by(app: App, fid: u16) -> Option<&'static [u16]> {
        match (app, fid) {
            (App::Kenhojo, EF_MY_NUMBER) => Some(&[KEY_PIN, KEY_MATCH_A]),
            (App::Kenhojo, EF_BASIC_INFO) => Some(&[KEY_PIN, KEY_MATCH_B]),
            (App::Kenhojo, EF_INTEGRITY | EF_CARD_KEY) => {
                Some(&[KEY_PIN, KEY_MATCH_A, KEY_MATCH_B])
            }
            (App::Kenkaku, kenkaku::EF_FACE) => Some(&[kenkaku::KEY_MATCH_A, kenkaku::KEY_MATCH_B]),
            _ => None,
        }
    }

    fn verify(&mut self, data: &[u8]) -> u16 {
        let (Some(app), Some(fid)) = (self.app, self.ef) else {
            return 0x6A82;
        };
        let Some(key) = self.keys.get_mut(&(app, fid)) else {
            // VERIFY on a file that is not a key reference.
            return 0x6981;
        };
        if key.tries == 0 {
            return 0x6984;
        }
        if data.is_empty() {
            return 0x63C0 | u16::from(key.tries);
        }
        if key.secret == data {
            key.tries = key.max;
            self.verified.insert(fid);
            OK
        } else {
            key.tries -= 1;
            if key.tries == 0 {
                0x6984
            } else {
                0x63C0 | u16::from(key.tries)
            }
        }
    }

    fn read(&self, c: &Command) -> Response {
        let Some(fid) = self.ef else {
            return Response::new(Vec::new(), 0x6986);
        };
        let files = match self.app {
            Some(App::Kenhojo) => &self.card.dump.kenhojo,
            Some(App::Kenkaku) => &self.card.dump.kenkaku,
            Some(App::Jpki) => &self.card.dump.jpki,
            None => return Response::new(Vec::new(), 0x6986),
        };
        let Some(bytes) = files.get(fid) else {
            return Response::new(Vec::new(), 0x6A82);
        };
        if let Some(keys) = self.app.and_then(|app| Self::unlocked_by(app, fid))
            && !keys.iter().any(|k| self.verified.contains(k))
        {
            return Response::new(Vec::new(), 0x6982);
        }
        let offset = usize::from(u16::from_be_bytes([c.p1, c.p2]));
        if offset >= bytes.len() {
            return Response::new(Vec::new(), 0x6B00);
        }
        let le = usize::from(c.le.unwrap_or(256));
        let end = (offset + le).min(bytes.len());
        Response::new(bytes[offset..end].to_vec(), OK)
    }

    /// Answers one command APDU as the card would.
    pub fn process(&mut self, c: &Command) -> Response {
        self.log.push(c.clone());
        let r = match (c.cla, c.ins, c.p1, c.p2) {
            (0x00, 0xA4, 0x04, 0x0C) => {
                let app = match c.data.as_slice() {
                    d if d == aid::JPKI => Some(App::Jpki),
                    d if d == aid::KENHOJO => Some(App::Kenhojo),
                    d if d == aid::KENKAKU => Some(App::Kenkaku),
                    _ => None,
                };
                match app {
                    Some(app) => {
                        // Selecting an application clears what was verified.
                        self.app = Some(app);
                        self.ef = None;
                        self.verified.clear();
                        Response::new(Vec::new(), OK)
                    }
                    None => Response::new(Vec::new(), 0x6A82),
                }
            }
            (0x00, 0xA4, 0x02, 0x0C) if c.data.len() == 2 => {
                let fid = u16::from_be_bytes([c.data[0], c.data[1]]);
                let exists = match self.app {
                    Some(app @ App::Kenhojo) => {
                        self.card.dump.kenhojo.get(fid).is_some()
                            || self.keys.contains_key(&(app, fid))
                    }
                    Some(app @ App::Kenkaku) => {
                        self.card.dump.kenkaku.get(fid).is_some()
                            || self.keys.contains_key(&(app, fid))
                    }
                    Some(app @ App::Jpki) => {
                        self.card.dump.jpki.get(fid).is_some()
                            || self.keys.contains_key(&(app, fid))
                            || (fid == EF_JPKI_AUTH_KEY && self.card.auth_key.is_some())
                    }
                    None => false,
                };
                if exists {
                    self.ef = Some(fid);
                    Response::new(Vec::new(), OK)
                } else {
                    Response::new(Vec::new(), 0x6A82)
                }
            }
            (0x00, 0xB0, _, _) => self.read(c),
            (0x00, 0x20, 0x00, 0x80) => Response::new(Vec::new(), self.verify(&c.data)),
            // The JPKI 利用者証明用 key: selected, and its PIN presented.
            (0x80, 0x2A, 0x00, 0x80) => {
                let ready = self.app == Some(App::Jpki)
                    && self.ef == Some(EF_JPKI_AUTH_KEY)
                    && self.verified.contains(&KEY_JPKI_AUTH_PIN);
                match (ready, self.card.sign_with_auth_key(&c.data)) {
                    (false, _) => Response::new(Vec::new(), 0x6982),
                    (true, Some(signature)) => Response::new(signature, OK),
                    (true, None) => Response::new(Vec::new(), 0x6A80),
                }
            }
            // A card loaded from a dump has no private key: conditions not satisfied.
            (0x80, 0x2A, 0x00, 0x00) if self.card.card_key.is_none() => {
                Response::new(Vec::new(), 0x6985)
            }
            (0x80, 0x2A, 0x00, 0x00) if self.app == Some(App::Kenhojo) => {
                match self.card.sign_digest_info(&c.data) {
                    Some(signature) => Response::new(signature, OK),
                    None => Response::new(Vec::new(), 0x6A80),
                }
            }
            // The card face's key: the same command in kenkaku.
            (0x80, 0x2A, 0x00, 0x00) if self.app == Some(App::Kenkaku) => {
                match self.card.sign_digest_info_face(&c.data) {
                    Some(signature) => Response::new(signature, OK),
                    None => Response::new(Vec::new(), 0x6985),
                }
            }
            (0x00, 0x84, 0x00, 0x00) => {
                let n = usize::from(c.le.unwrap_or(8));
                let mut random = vec![0; n];
                let _ = aws_lc_rs::rand::fill(&mut random);
                Response::new(random, OK)
            }
            (0x00, 0xC0, 0x00, 0x00) => {
                let n = usize::from(c.le.unwrap_or(256)).min(self.pending.len());
                let rest = self.pending.split_off(n);
                let chunk = std::mem::replace(&mut self.pending, rest);
                return self.chained(chunk);
            }
            (cla, _, _, _) if cla != 0x00 && cla != 0x80 => Response::new(Vec::new(), 0x6E00),
            _ => Response::new(Vec::new(), 0x6D00),
        };
        if self.chain_responses && r.sw.is_ok() && r.data.len() > 64 {
            // As a reader that returns 64 bytes at a time: the rest with GET RESPONSE.
            let mut data = r.data;
            self.pending = data.split_off(64);
            return self.chained(data);
        }
        r
    }

    fn chained(&self, data: Vec<u8>) -> Response {
        if self.pending.is_empty() {
            Response::new(data, OK)
        } else {
            let n = self.pending.len().min(256);
            Response::new(data, 0x6100 | (n % 256) as u16)
        }
    }

    fn step(&mut self) -> Result<(), TransportError> {
        match &mut self.remove_after {
            Some(0) => Err(TransportError::CardRemoved),
            Some(n) => {
                *n -= 1;
                Ok(())
            }
            None => Ok(()),
        }
    }
}

impl Transport for VirtualCard {
    async fn transmit(&mut self, command: &Command) -> Result<Response, TransportError> {
        self.step()?;
        // Through the wire format, as a reader would carry it.
        let parsed = Command::parse(&command.to_bytes())
            .map_err(|e| TransportError::Reader(e.to_string()))?;
        self.transmitted.push(parsed.clone());
        Ok(self.process(&parsed))
    }

    async fn present(
        &mut self,
        key: SecretKey,
        secret: &Secret,
    ) -> Result<StatusWord, TransportError> {
        self.step()?;
        // Where the card is, as the bridge does: select the key, then VERIFY.
        for command in key.selection() {
            let r = self.process(&command);
            if !r.sw.is_ok() {
                return Ok(r.sw);
            }
        }
        let digits = match secret {
            Secret::LocalPin => self.local_pin.clone(),
            Secret::Digits(d) => d.clone(),
        };
        Ok(self.process(&Command::verify(digits.as_bytes())).sw)
    }
}
