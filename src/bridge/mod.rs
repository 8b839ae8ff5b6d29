//! `madoguchi-bridge`, the program on the counter PC (reference §7): it enrols once with a
//! one-time code, then connects out to the gateway's device port (WebSocket over TLS with its
//! client certificate; it opens no port of its own), reconnecting with backoff. It relays only
//! the allowlisted APDUs to the card, takes the PIN at the counter PC itself (after showing the
//! tries left) and sends only status words upstream. Its log holds sessions, purposes, APDU
//! headers and status words: never data.

#[cfg(feature = "pcsc")]
pub mod pcsc_reader;
pub mod pin_pad;
pub mod reader;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use rcgen::PublicKeyData;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde::{Deserialize, Serialize};
use tokio_tungstenite::tungstenite::Message;

use crate::card::apdu::{Command, Status, StatusWord};
use crate::card::bridge::{
    self, CardPresence, Down, FailReason, PresentSecret, SecretKey, SecretKind, Up,
};
use reader::{PinSource, Reader, ReaderFailure};

/// What enrolment leaves in the bridge's directory besides its key and certificates.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Enrolled {
    pub device_id: String,
    pub lg_code: String,
    pub counter_name: String,
    pub bridge_url: Option<String>,
}

const KEY_FILE: &str = "device.key";
const CERT_FILE: &str = "device.crt";
const CA_FILE: &str = "ca.crt";
const STATE_FILE: &str = "bridge.json";

fn write_file(path: &Path, bytes: &[u8], private: bool) -> Result<(), String> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    file.write_all(bytes)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Enrols this counter PC: makes the bridge's key, trades the code and the public key for a
/// certificate at `gateway` (the gateway's API base URL), and keeps everything in `dir`.
pub async fn enrol(
    gateway: &str,
    code: &str,
    dir: &Path,
    gateway_ca: Option<&Path>,
) -> Result<Enrolled, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let key = rcgen::KeyPair::generate().map_err(|e| format!("key generation: {e}"))?;
    let mut client = reqwest::Client::builder().timeout(Duration::from_secs(30));
    if let Some(ca) = gateway_ca {
        let pem = std::fs::read(ca).map_err(|e| format!("{}: {e}", ca.display()))?;
        let cert =
            reqwest::Certificate::from_pem(&pem).map_err(|e| format!("{}: {e}", ca.display()))?;
        client = client.add_root_certificate(cert);
    }
    let client = client.build().map_err(|e| e.to_string())?;
    let url = format!("{}/v1/devices/enrol", gateway.trim_end_matches('/'));
    let response = client
        .post(&url)
        .json(&serde_json::json!({
            "enrolmentCode": code,
            "publicKey": base64::engine::general_purpose::STANDARD
                .encode(key.subject_public_key_info()),
        }))
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let status = response.status();
    let body: serde_json::Value = response.json().await.map_err(|e| format!("{url}: {e}"))?;
    if !status.is_success() {
        return Err(format!(
            "{url}: {status}: {}",
            body["detail"].as_str().unwrap_or("no detail")
        ));
    }
    let text = |k: &str| {
        body[k]
            .as_str()
            .map(str::to_owned)
            .ok_or(format!("{url}: no {k}"))
    };
    write_file(&dir.join(KEY_FILE), key.serialize_pem().as_bytes(), true)?;
    write_file(&dir.join(CERT_FILE), text("certificate")?.as_bytes(), false)?;
    write_file(&dir.join(CA_FILE), text("caCertificate")?.as_bytes(), false)?;
    let enrolled = Enrolled {
        device_id: text("deviceId")?,
        lg_code: text("lgCode")?,
        counter_name: text("counterName")?,
        bridge_url: body["bridgeUrl"].as_str().map(str::to_owned),
    };
    let json = serde_json::to_vec_pretty(&enrolled).map_err(|e| e.to_string())?;
    write_file(&dir.join(STATE_FILE), &json, false)?;
    Ok(enrolled)
}

pub struct Options {
    /// The device port's URL, instead of the one given at enrolment.
    pub url: Option<String>,
    /// Send a VERIFY when only one try is left (the clerk has confirmed it with the resident).
    pub confirm_last_try: bool,
}

/// The bridge's identity and trust, read from its directory.
struct Identity {
    url: String,
    tls: Arc<rustls::ClientConfig>,
    enrolled: Enrolled,
}

fn identity(dir: &Path, url: Option<&str>) -> Result<Identity, String> {
    let read = |name: &str| -> Result<PathBuf, String> {
        let p = dir.join(name);
        if p.exists() {
            Ok(p)
        } else {
            Err(format!(
                "{} is missing: enrol first (madoguchi-bridge enrol)",
                p.display()
            ))
        }
    };
    let state = std::fs::read(read(STATE_FILE)?).map_err(|e| e.to_string())?;
    let enrolled: Enrolled =
        serde_json::from_slice(&state).map_err(|e| format!("{STATE_FILE}: {e}"))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(read(CA_FILE)?).map_err(|e| e.to_string())? {
        roots
            .add(cert.map_err(|e| e.to_string())?)
            .map_err(|e| format!("{CA_FILE}: {e}"))?;
    }
    let chain = CertificateDer::pem_file_iter(read(CERT_FILE)?)
        .map_err(|e| e.to_string())?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{CERT_FILE}: {e}"))?;
    let key =
        PrivateKeyDer::from_pem_file(read(KEY_FILE)?).map_err(|e| format!("{KEY_FILE}: {e}"))?;
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_client_auth_cert(chain, key)
    .map_err(|e| format!("the bridge's certificate and key: {e}"))?;
    let url = url
        .map(str::to_owned)
        .or_else(|| enrolled.bridge_url.clone())
        .ok_or("the gateway gave no device port URL at enrolment: pass --url")?;
    Ok(Identity {
        url,
        tls: Arc::new(tls),
        enrolled,
    })
}

/// Runs the bridge until the process ends: connect, serve, and after a lost connection
/// connect again after 1, 2, 4 … 30 seconds (with jitter).
pub async fn run<R: Reader, P: PinSource>(
    dir: &Path,
    reader: R,
    pin: P,
    options: Options,
) -> Result<(), String> {
    let id = identity(dir, options.url.as_deref())?;
    let mut counter = Relay::new(reader, pin, options.confirm_last_try);
    eprintln!(
        "madoguchi-bridge: {} ({}), reader {}",
        id.enrolled.counter_name,
        id.enrolled.device_id,
        counter.reader.name()
    );
    let mut backoff = Duration::from_secs(1);
    loop {
        match connect_and_serve(&id, &mut counter).await {
            Ok(()) => {
                eprintln!("madoguchi-bridge: the gateway closed the connection");
                backoff = Duration::from_secs(1);
            }
            Err(e) => eprintln!("madoguchi-bridge: {e}"),
        }
        let mut jitter = [0u8; 1];
        let _ = aws_lc_rs::rand::fill(&mut jitter);
        let wait = backoff + Duration::from_millis(u64::from(jitter[0]) * 4);
        eprintln!(
            "madoguchi-bridge: connecting again in {:.1} s",
            wait.as_secs_f32()
        );
        tokio::time::sleep(wait).await;
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

async fn connect_and_serve<R: Reader, P: PinSource>(
    id: &Identity,
    counter: &mut Relay<R, P>,
) -> Result<(), String> {
    let url = reqwest::Url::parse(&id.url).map_err(|e| format!("{}: {e}", id.url))?;
    let host = url
        .host_str()
        .ok_or(format!("{}: no host", id.url))?
        .to_owned();
    let port = url.port().unwrap_or(443);
    let stream = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| format!("{}: {e}", id.url))?;
    let name = ServerName::try_from(host.trim_matches(['[', ']']).to_owned())
        .map_err(|e| format!("{host}: {e}"))?;
    let tls = tokio_rustls::TlsConnector::from(id.tls.clone())
        .connect(name, stream)
        .await
        .map_err(|e| format!("TLS to {}: {e}", id.url))?;
    let (ws, _) = tokio_tungstenite::client_async(id.url.as_str(), tls)
        .await
        .map_err(|e| format!("WebSocket to {}: {e}", id.url))?;
    eprintln!("madoguchi-bridge: connected to {}", id.url);
    let (mut sink, mut source) = ws.split();
    let mut present = blocking(|| counter.reader.card_present());
    let reader_name = counter.reader.name();
    let report = |present: bool| Up::Reader {
        reader: reader_name.clone(),
        card: if present {
            CardPresence::Present
        } else {
            CardPresence::Absent
        },
    };
    send(&mut sink, &report(present)).await?;
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            message = source.next() => {
                let message = match message {
                    None | Some(Ok(Message::Close(_))) => return Ok(()),
                    Some(Err(e)) => return Err(format!("connection: {e}")),
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(_)) => continue,
                };
                let down: Down = match serde_json::from_str(message.as_str()) {
                    Ok(d) => d,
                    Err(e) => {
                        eprintln!("madoguchi-bridge: unreadable message from the gateway ignored: {e}");
                        continue;
                    }
                };
                if let Down::Begin { .. } = &down {
                    // The gateway learns at once whether a card is there.
                    present = blocking(|| counter.reader.card_present());
                    send(&mut sink, &report(present)).await?;
                }
                if let Some(up) = counter.handle(down) {
                    send(&mut sink, &up).await?;
                }
            }
            _ = tick.tick() => {
                let now = blocking(|| counter.reader.card_present());
                if now != present {
                    present = now;
                    eprintln!("madoguchi-bridge: card {}", if now { "inserted" } else { "removed" });
                    send(&mut sink, &report(present)).await?;
                }
            }
        }
    }
}

async fn send<S>(sink: &mut S, up: &Up) -> Result<(), String>
where
    S: futures_util::Sink<Message> + Unpin,
    S::Error: std::fmt::Display,
{
    let text = serde_json::to_string(up).map_err(|e| e.to_string())?;
    sink.send(Message::text(text))
        .await
        .map_err(|e| format!("connection: {e}"))
}

/// Runs a blocking reader call without holding up the runtime's other work.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

/// The status word that ends a response APDU (`None`: the reader gave less than two bytes).
fn status_word(response: &[u8]) -> Option<StatusWord> {
    match response {
        [.., a, b] => Some(StatusWord(u16::from_be_bytes([*a, *b]))),
        _ => None,
    }
}

/// The status word in hex, for the log and for `presented` (empty when there is none).
fn status_hex(response: &[u8]) -> String {
    status_word(response)
        .map(|sw| format!("{:04X}", sw.0))
        .unwrap_or_default()
}

/// How long a PIN-pad reader waits for the resident's first key, and between keys.
const PIN_PAD_SECONDS: u8 = 30;

/// What the bridge knows of the card, learnt only from the card's answers: a SELECT moves the
/// card only when the card says 9000, and after any other answer the selection is unknown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct CardState {
    /// The application selected (its AID is one of the allowlist's three).
    application: Option<&'static [u8]>,
    /// The EF or key reference selected in it.
    file: Option<u16>,
    /// The JPKI PIN was verified and no signature was made since: one signature per PIN entry.
    jpki_signature_allowed: bool,
}

impl CardState {
    /// Learns from a command and the card's status word.
    fn learn(&mut self, command: &Command, sw: Option<StatusWord>) {
        let ok = sw.is_some_and(StatusWord::is_ok);
        match (command.ins, command.p1) {
            (0xA4, 0x04) => {
                self.application = if ok {
                    [
                        crate::card::apdu::aid::JPKI,
                        crate::card::apdu::aid::KENHOJO,
                        crate::card::apdu::aid::KENKAKU,
                    ]
                    .into_iter()
                    .find(|a| *a == command.data.as_slice())
                } else {
                    None
                };
                self.file = None;
                self.jpki_signature_allowed = false;
            }
            (0xA4, _) => {
                self.file = match command.data.as_slice() {
                    [hi, lo] if ok => Some(u16::from_be_bytes([*hi, *lo])),
                    _ => None,
                };
            }
            (0x2A, _) => self.jpki_signature_allowed = false,
            _ => {}
        }
    }
}

/// The counter PC's side of a session: the reader, the PIN, the allowlist. It answers each
/// message of the gateway (reader calls block: run it on a multi-threaded runtime).
pub struct Relay<R, P> {
    reader: R,
    pin: P,
    confirm_last_try: bool,
    card: CardState,
}

impl<R: Reader, P: PinSource> Relay<R, P> {
    pub fn new(reader: R, pin: P, confirm_last_try: bool) -> Self {
        Relay {
            reader,
            pin,
            confirm_last_try,
            card: CardState::default(),
        }
    }

    /// The reader, for tests that look at the card.
    pub fn reader(&self) -> &R {
        &self.reader
    }

    pub fn reader_mut(&mut self) -> &mut R {
        &mut self.reader
    }

    fn failed(id: u64, reason: FailReason, message: impl Into<String>) -> Up {
        Up::Failed {
            id,
            reason,
            message: message.into(),
        }
    }

    fn reader_failed(&mut self, id: u64, e: ReaderFailure) -> Up {
        self.card = CardState::default();
        match e {
            ReaderFailure::CardRemoved => {
                Self::failed(id, FailReason::CardRemoved, "the card was removed")
            }
            ReaderFailure::Other(m) => Self::failed(id, FailReason::Reader, m),
        }
    }

    /// Sends one command the bridge built or allowed; learns the card's state from the answer.
    fn transmit(&mut self, command: &Command) -> Result<Vec<u8>, ReaderFailure> {
        let bytes = command.to_bytes();
        let result = blocking(|| self.reader.transmit(&bytes));
        let sw = result.as_deref().ok().and_then(status_word);
        self.card.learn(command, sw);
        result
    }

    /// The answer to one message of the gateway (`None` when it needs none).
    pub fn handle(&mut self, down: Down) -> Option<Up> {
        match down {
            Down::Hello {
                device_id,
                counter_name,
            } => {
                eprintln!(
                    "madoguchi-bridge: the gateway knows this PC as {counter_name} ({device_id})"
                );
                None
            }
            Down::Begin {
                session,
                purpose,
                clerk,
            } => {
                eprintln!(
                    "madoguchi-bridge: session {session}: {purpose} for clerk {}",
                    clerk.as_deref().unwrap_or("-")
                );
                self.card = CardState::default();
                let started = std::time::Instant::now();
                let begun = blocking(|| self.reader.begin());
                eprintln!(
                    "madoguchi-bridge: session {session}: card taken in {} ms",
                    started.elapsed().as_millis()
                );
                if let Err(e) = begun {
                    eprintln!("madoguchi-bridge: session {session}: {e}");
                }
                None
            }
            Down::End {
                session,
                outcome,
                message,
            } => {
                blocking(|| self.reader.end());
                self.card = CardState::default();
                eprintln!("madoguchi-bridge: session {session}: {outcome}: {message}");
                None
            }
            Down::Apdu { id, command } => Some(self.apdu(id, &command)),
            Down::Present { id, key, secret } => Some(self.present(id, key, secret)),
        }
    }

    fn apdu(&mut self, id: u64, hex_command: &str) -> Up {
        let command = match hex::decode(hex_command)
            .map_err(|e| e.to_string())
            .and_then(|b| Command::parse(&b).map_err(|e| e.to_string()))
        {
            Ok(c) => c,
            Err(e) => {
                return Self::failed(id, FailReason::NotAllowed, format!("unreadable APDU: {e}"));
            }
        };
        let header = format!(
            "{:02X} {:02X} {:02X} {:02X}",
            command.cla, command.ins, command.p1, command.p2
        );
        if let Err(refusal) = bridge::allowed(&command) {
            eprintln!("madoguchi-bridge: refused {header}: {refusal}");
            return Self::failed(id, FailReason::NotAllowed, refusal.to_string());
        }
        // The JPKI key signs once per PIN the resident typed, never more.
        if (command.ins, command.p2) == (0x2A, 0x80) && !self.card.jpki_signature_allowed {
            eprintln!("madoguchi-bridge: refused {header}: no PIN was entered for this signature");
            return Self::failed(
                id,
                FailReason::NotAllowed,
                "the JPKI key signs once after each PIN entry",
            );
        }
        let started = std::time::Instant::now();
        match self.transmit(&command) {
            Ok(response) => {
                let sw = status_hex(&response);
                eprintln!(
                    "madoguchi-bridge: {header} → {sw} ({} ms)",
                    started.elapsed().as_millis()
                );
                Up::Response {
                    id,
                    response: hex::encode_upper(response),
                }
            }
            Err(e) => self.reader_failed(id, e),
        }
    }

    /// Makes `key` current itself (its application, then the key), each step answered 9000 by
    /// the card; the status word of the first step that is not.
    fn select_key(&mut self, key: SecretKey) -> Result<Option<StatusWord>, ReaderFailure> {
        for command in key.selection() {
            let response = self.transmit(&command)?;
            let sw = status_word(&response).unwrap_or(StatusWord(0));
            if !sw.is_ok() {
                return Ok(Some(sw));
            }
        }
        Ok(None)
    }

    /// VERIFY built here, for the key the gateway named and only that key, after the bridge
    /// itself selected it: the resident's PIN to a PIN key, the clerk's digits to a card-face
    /// number's key. Nothing from upstream reaches a VERIFY of a PIN key.
    fn present(&mut self, id: u64, key: SecretKey, secret: PresentSecret) -> Up {
        let digits = match (&secret, key.kind()) {
            (PresentSecret::Digits { digits }, SecretKind::CardFaceNumber) => {
                if digits.is_empty()
                    || digits.len() > 16
                    || !digits.bytes().all(|b| b.is_ascii_digit())
                {
                    return Self::failed(id, FailReason::NotAllowed, "not a card-face number");
                }
                Some(digits.clone())
            }
            (PresentSecret::Pin, SecretKind::Pin) => None,
            (PresentSecret::Digits { .. }, SecretKind::Pin) => {
                eprintln!(
                    "madoguchi-bridge: refused digits from the gateway for {}",
                    key.label()
                );
                return Self::failed(
                    id,
                    FailReason::NotAllowed,
                    "digits from upstream are never presented to a PIN",
                );
            }
            (PresentSecret::Pin, SecretKind::CardFaceNumber) => {
                eprintln!(
                    "madoguchi-bridge: refused to ask the PIN for {}",
                    key.label()
                );
                return Self::failed(
                    id,
                    FailReason::NotAllowed,
                    "the resident's PIN goes only to a PIN key",
                );
            }
        };
        match self.select_key(key) {
            Ok(None) => {}
            Ok(Some(sw)) => {
                eprintln!(
                    "madoguchi-bridge: {} could not be selected ({:04X}): nothing presented",
                    key.label(),
                    sw.0
                );
                return Self::failed(
                    id,
                    FailReason::Reader,
                    format!("the card did not select {} ({:04X})", key.label(), sw.0),
                );
            }
            Err(e) => return self.reader_failed(id, e),
        }
        let tries = match self.transmit(&Command::retry_counter()) {
            Ok(r) => r,
            Err(e) => return self.reader_failed(id, e),
        };
        let Some(sw) = status_word(&tries) else {
            return Self::failed(id, FailReason::Reader, "no status word");
        };
        let left = match sw.status() {
            Status::TriesLeft(n) => n,
            Status::Blocked => {
                eprintln!("madoguchi-bridge: {} is blocked", key.label());
                return Up::Presented {
                    id,
                    sw: format!("{:04X}", sw.0),
                };
            }
            _ => {
                return Self::failed(
                    id,
                    FailReason::Reader,
                    format!("the card did not tell the tries left ({:04X})", sw.0),
                );
            }
        };
        eprintln!(
            "madoguchi-bridge: {} 残り{left}回 / {left} tries left",
            key.label()
        );
        if left <= 1 && !self.confirm_last_try {
            eprintln!(
                "madoguchi-bridge: one try left: not sent without the clerk's confirmation (--confirm-last-try)"
            );
            return Self::failed(
                id,
                FailReason::Declined,
                "one try left and the clerk has not confirmed",
            );
        }
        let response = match digits {
            Some(digits) => self.transmit(&Command::verify(digits.as_bytes())),
            None if blocking(|| self.reader.has_pin_pad()) => {
                // The resident types on the reader: the PIN never reaches the PC.
                eprintln!(
                    "madoguchi-bridge: カードリーダーのキーで暗証番号を入力してください / type the PIN on the reader's keypad"
                );
                let structure = pin_pad::verify_structure(0x80, PIN_PAD_SECONDS);
                blocking(|| self.reader.verify_on_pin_pad(&structure))
            }
            None => match blocking(|| self.pin.pin(left)) {
                Some(pin) => self.transmit(&Command::verify(pin.as_bytes())),
                None => return Self::failed(id, FailReason::Declined, "PIN entry cancelled"),
            },
        };
        match response {
            Ok(response) => {
                let up = Self::presented(id, &response);
                if key == SecretKey::JpkiAuthPin
                    && matches!(&up, Up::Presented { sw, .. } if sw == "9000")
                {
                    self.card.jpki_signature_allowed = true;
                }
                up
            }
            Err(e) => self.reader_failed(id, e),
        }
    }

    /// VERIFY's status word, the only thing of it that goes upstream.
    fn presented(id: u64, response: &[u8]) -> Up {
        let sw = status_hex(response);
        eprintln!("madoguchi-bridge: VERIFY → {sw}");
        Up::Presented { id, sw }
    }
}

#[cfg(test)]
mod tests {
    use super::reader::{FixedPin, VirtualReader};
    use super::*;
    use crate::card::apdu::aid;
    use crate::card::protocol::tests::{MATCHING_B, setup};

    fn relay(pin: &str) -> Relay<VirtualReader, FixedPin> {
        let (card, _) = setup();
        Relay::new(
            VirtualReader {
                card,
                present: true,
                pin_pad: None,
            },
            FixedPin(pin.to_owned()),
            false,
        )
    }

    fn apdu(relay: &mut Relay<VirtualReader, FixedPin>, id: u64, c: &Command) -> Up {
        relay
            .handle(Down::Apdu {
                id,
                command: hex::encode_upper(c.to_bytes()),
            })
            .unwrap()
    }

    fn present(
        relay: &mut Relay<VirtualReader, FixedPin>,
        id: u64,
        key: SecretKey,
        secret: PresentSecret,
    ) -> Up {
        relay.handle(Down::Present { id, key, secret }).unwrap()
    }

    fn ok_sw(id: u64, sw: &str) -> Up {
        Up::Presented { id, sw: sw.into() }
    }

    fn digits(d: &str) -> PresentSecret {
        PresentSecret::Digits { digits: d.into() }
    }

    fn refused(up: &Up, reason: FailReason) -> bool {
        matches!(up, Up::Failed { reason: r, .. } if *r == reason)
    }

    /// The VERIFYs with data the card received, and the key each went to.
    fn verifies(r: &Relay<VirtualReader, FixedPin>) -> Vec<(u16, Vec<u8>)> {
        let mut current = None;
        let mut out = Vec::new();
        for c in &r.reader.card.log {
            match (c.ins, c.p1) {
                (0xA4, 0x02) => current = Some(u16::from_be_bytes([c.data[0], c.data[1]])),
                (0xA4, 0x04) => current = None,
                (0x20, _) if !c.data.is_empty() => out.push((current.unwrap_or(0), c.data.clone())),
                _ => {}
            }
        }
        out
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn upstream_gets_status_words_never_a_pin_and_cannot_send_one() {
        let mut r = relay("1234");
        apdu(&mut r, 1, &Command::select_application(aid::KENHOJO));
        // VERIFY with data from upstream is refused and never reaches the card.
        let up = apdu(&mut r, 2, &Command::verify(b"1234"));
        assert!(refused(&up, FailReason::NotAllowed));
        assert!(verifies(&r).is_empty());
        // The PIN is presented by the bridge: only the status word goes up.
        let up = present(&mut r, 3, SecretKey::KenhojoPin, PresentSecret::Pin);
        assert_eq!(up, ok_sw(3, "9000"));
        // Digits typed by the clerk never go to a PIN key.
        let up = present(&mut r, 4, SecretKey::KenhojoPin, digits("1234"));
        assert!(refused(&up, FailReason::NotAllowed));
        assert_eq!(verifies(&r), vec![(0x0011, b"1234".to_vec())]);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_select_the_card_refused_leaves_no_pin_key_for_upstream_digits() {
        // The attack of the issue: the PIN key is made current, then a SELECT the card refuses
        // (so the card keeps the PIN key current), then digits for a card-face number.
        let mut r = relay("1234");
        apdu(&mut r, 1, &Command::select_application(aid::KENHOJO));
        apdu(&mut r, 2, &Command::select_file(0x0011));
        let up = apdu(&mut r, 3, &Command::select_file(0x0012));
        assert!(
            matches!(&up, Up::Response { response, .. } if response.ends_with("6A82")),
            "{up:?}"
        );
        let up = present(&mut r, 4, SecretKey::KenhojoMatchingB, digits("0000"));
        assert!(
            matches!(up, Up::Presented { ref sw, .. } if sw == "63C9"),
            "{up:?}"
        );
        // The digits reached 照合番号B (0015), selected by the bridge itself, not the PIN.
        assert_eq!(r.reader.card.tries(0x0011), Some(3), "no PIN try was spent");
        assert_eq!(verifies(&r), vec![(0x0015, b"0000".to_vec())]);
        // The right PIN after that: still three tries, and it verifies.
        let up = present(&mut r, 5, SecretKey::KenhojoPin, PresentSecret::Pin);
        assert_eq!(up, ok_sw(5, "9000"));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn the_pin_goes_only_to_the_pin_key_it_was_asked_for() {
        let mut r = relay("1234");
        // 照合番号B selected by upstream, then the PIN asked for: it goes to 0011.
        apdu(&mut r, 1, &Command::select_application(aid::KENHOJO));
        apdu(&mut r, 2, &Command::select_file(0x0015));
        let up = present(&mut r, 3, SecretKey::KenhojoPin, PresentSecret::Pin);
        assert_eq!(up, ok_sw(3, "9000"));
        assert_eq!(verifies(&r), vec![(0x0011, b"1234".to_vec())]);
        assert_eq!(r.reader.card.tries(0x0015), Some(10));
        // The PIN is never asked for a card-face number's key.
        let up = present(&mut r, 4, SecretKey::KenhojoMatchingB, PresentSecret::Pin);
        assert!(refused(&up, FailReason::NotAllowed));
        // And a card-face number goes to the kenkaku key when that is the one named.
        let up = present(&mut r, 5, SecretKey::KenkakuMatchingB, digits(MATCHING_B));
        assert_eq!(up, ok_sw(5, "9000"));
        assert_eq!(verifies(&r).last().map(|v| v.0), Some(0x0012));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn the_last_try_is_not_spent_without_the_clerk_and_a_removed_card_is_reported() {
        let mut r = relay("9999");
        apdu(&mut r, 1, &Command::select_application(aid::KENHOJO));
        for (id, sw) in [(3, "63C2"), (4, "63C1")] {
            let up = present(&mut r, id, SecretKey::KenhojoPin, PresentSecret::Pin);
            assert_eq!(up, Up::Presented { id, sw: sw.into() });
        }
        let last = present(&mut r, 5, SecretKey::KenhojoPin, PresentSecret::Pin);
        assert!(refused(&last, FailReason::Declined));
        assert_eq!(r.reader.card.tries(0x0011), Some(1));
        r.reader.present = false;
        let gone = apdu(&mut r, 6, &Command::read_binary(0, 256));
        assert!(refused(&gone, FailReason::CardRemoved));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn the_jpki_key_signs_once_per_pin_entry() {
        use crate::card::protocol::sha256_digest_info;
        let jpki = crate::card::synth::JpkiIssuer::generate("JPKI-TEST-SYNTH Root 9").unwrap();
        let mut r = relay("1234");
        jpki.enrol(r.reader.card.card_mut(), 1, (2025, 2035))
            .unwrap();
        let sign = Command::sign(&sha256_digest_info(b"nonce"), 0x80);
        apdu(&mut r, 1, &Command::select_application(aid::JPKI));
        let up = present(&mut r, 2, SecretKey::JpkiAuthPin, PresentSecret::Pin);
        assert_eq!(up, ok_sw(2, "9000"));
        apdu(&mut r, 3, &Command::select_file(0x0017));
        let up = apdu(&mut r, 4, &sign);
        assert!(
            matches!(&up, Up::Response { response, .. } if response.ends_with("9000")),
            "{up:?}"
        );
        // A second signature on the same PIN entry: refused before the card.
        let up = apdu(&mut r, 5, &sign);
        assert!(refused(&up, FailReason::NotAllowed));
        assert_eq!(
            r.reader.card.log.iter().filter(|c| c.ins == 0x2A).count(),
            1
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_reader_with_a_pin_pad_takes_the_pin_there_and_the_bridge_asks_none() {
        // The bridge's own PIN source would give a wrong PIN: it must not be asked.
        let mut r = relay("9999");
        r.reader.pin_pad = Some("1234".to_owned());
        apdu(&mut r, 1, &Command::select_application(aid::KENHOJO));
        let up = present(&mut r, 3, SecretKey::KenhojoPin, PresentSecret::Pin);
        assert_eq!(up, ok_sw(3, "9000"));
        assert_eq!(r.reader.card.tries(0x0011), Some(3));
        // A wrong PIN typed on the pad costs a try, and only the status word goes up.
        r.reader.pin_pad = Some("0000".to_owned());
        let up = present(&mut r, 4, SecretKey::KenhojoPin, PresentSecret::Pin);
        assert_eq!(up, ok_sw(4, "63C2"));
    }
}
