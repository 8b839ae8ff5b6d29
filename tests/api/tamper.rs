//! A tampered counter PC, between the real bridge and the real gateway: the relay holds the
//! bridge's own key and certificate (the PC's owner has them), makes the bridge trust it
//! instead of the gateway (it rewrites the bridge's `ca.crt`, as the PC's owner can), and
//! passes every message on, changing the card's answers on the way as `tamper` says. The
//! gateway must refuse what a PC makes up; nothing here knows how the gateway checks.

use std::path::Path;
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use madoguchi::card::apdu::{Command, Response};
use madoguchi::card::bridge::{Down, Up};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

/// Changes a card's response to a command on its way to the gateway.
pub type Tamper = fn(&Command, &mut Response);

pub struct TamperingRelay {
    /// Where the bridge connects (`--url`).
    pub url: String,
    task: JoinHandle<()>,
}

impl Drop for TamperingRelay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Starts the relay for an enrolled bridge's directory, whose `ca.crt` it replaces by its own.
pub async fn start(bridge_dir: &Path, tamper: Tamper) -> TamperingRelay {
    // Upstream: the gateway's device port, as the bridge was told at enrolment, reached with
    // the bridge's own identity.
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bridge_dir.join("bridge.json")).unwrap()).unwrap();
    let upstream = state["bridgeUrl"].as_str().unwrap().to_owned();
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(gateway_ca(bridge_dir)).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(bridge_dir.join("device.crt"))
            .unwrap()
            .map(Result::unwrap)
            .collect();
    let key = PrivateKeyDer::from_pem_file(bridge_dir.join("device.key")).unwrap();
    let client = Arc::new(
        rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .unwrap(),
    );

    let server = impersonate_gateway(bridge_dir);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("wss://{}/v1/bridge", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (server, client, upstream) = (server.clone(), client.clone(), upstream.clone());
            tokio::spawn(async move {
                let _ = relay(stream, server, client, &upstream, tamper).await;
            });
        }
    });
    TamperingRelay { url, task }
}

/// The gateway's CA, kept aside the first time the bridge's trust is replaced.
fn gateway_ca(bridge_dir: &Path) -> std::path::PathBuf {
    let kept = bridge_dir.join("ca.crt.gateway");
    if !kept.exists() {
        std::fs::copy(bridge_dir.join("ca.crt"), &kept).unwrap();
    }
    kept
}

/// Makes the bridge trust a CA of the caller's own instead of the gateway's (its `ca.crt`,
/// the gateway's kept aside as `ca.crt.gateway`); the TLS server side of a certificate that CA
/// issued for 127.0.0.1.
pub fn impersonate_gateway(bridge_dir: &Path) -> Arc<rustls::ServerConfig> {
    gateway_ca(bridge_dir);
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let server_key = rcgen::KeyPair::generate().unwrap();
    let server_cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&server_key, &issuer)
        .unwrap();
    std::fs::write(bridge_dir.join("ca.crt"), ca_cert.pem()).unwrap();
    Arc::new(
        rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![server_cert.der().clone()],
                rustls_pki_types::PrivatePkcs8KeyDer::from(server_key.serialize_der()).into(),
            )
            .unwrap(),
    )
}

/// A malicious gateway the bridge connects to (`--url`): it runs `script` on the bridge's
/// connection.
pub struct MaliciousGateway {
    pub url: String,
    pub done: tokio::sync::oneshot::Receiver<Vec<String>>,
    task: JoinHandle<()>,
}

impl Drop for MaliciousGateway {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Bridge = tokio_tungstenite::WebSocketStream<tokio_rustls::server::TlsStream<TcpStream>>;

async fn next_up(ws: &mut Bridge) -> Up {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => {
                if let Ok(up) = serde_json::from_str::<Up>(text.as_str()) {
                    if matches!(up, Up::Reader { .. }) {
                        continue;
                    }
                    return up;
                }
            }
            Some(Ok(_)) => continue,
            other => panic!("the bridge went away: {other:?}"),
        }
    }
}

async fn send(ws: &mut Bridge, down: &Down) {
    ws.send(Message::text(serde_json::to_string(down).unwrap()))
        .await
        .unwrap();
}

/// What the bridge answers [`try_to_spend_pin_tries`]: the card-face number's own try is
/// spent (its digits were wrong), nothing reaches the PIN, and the PIN has its 3 tries.
pub const EXPECTED_WITHOUT_PIN_TRIES_SPENT: [&str; 13] = [
    "1: 9000",
    "2: 9000",
    "3: 6A82",
    "4: 63C9",
    "5: NotAllowed",
    "6: NotAllowed",
    "7: NotAllowed",
    "8: 9000",
    "9: 9000",
    "10: NotAllowed",
    "11: 9000",
    "12: 9000",
    "13: 63C3",
];

/// What a malicious gateway tries with a resident's PIN tries, as the issue found it: the PIN
/// key made current, a SELECT the card refuses (so the card keeps the PIN key current while a
/// bridge that trusted what it sent would think otherwise), then digits for a card-face number;
/// digits named for the PIN key; VERIFY with data; a READ BINARY by short EF id; the JPKI key's
/// signature without a PIN; and last the PIN key's retry counter. Each answer, in order, as
/// `kind: status word or reason`.
pub async fn try_to_spend_pin_tries(bridge_dir: &Path) -> MaliciousGateway {
    use madoguchi::card::apdu::aid;
    use madoguchi::card::bridge::{PresentSecret, SecretKey};
    let server = impersonate_gateway(bridge_dir);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("wss://{}/v1/bridge", listener.local_addr().unwrap());
    let (tx, done) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let tls = tokio_rustls::TlsAcceptor::from(server)
            .accept(stream)
            .await
            .unwrap();
        let mut ws = tokio_tungstenite::accept_async(tls).await.unwrap();
        send(
            &mut ws,
            &Down::Begin {
                session: "evil".into(),
                purpose: "readBasicInfo".into(),
                clerk: None,
            },
        )
        .await;
        let apdu = |id: u64, c: Command| Down::Apdu {
            id,
            command: hex::encode_upper(c.to_bytes()),
        };
        let sign = Command::sign(
            &madoguchi::card::protocol::sha256_digest_info(b"someone else's challenge"),
            0x80,
        );
        let raw = |bytes: &[u8]| Command::parse(bytes).unwrap();
        let script = vec![
            apdu(1, Command::select_application(aid::KENHOJO)),
            apdu(2, Command::select_file(0x0011)),
            apdu(3, Command::select_file(0x0012)),
            Down::Present {
                id: 4,
                key: SecretKey::KenhojoMatchingB,
                secret: PresentSecret::Digits {
                    digits: "0000".into(),
                },
            },
            Down::Present {
                id: 5,
                key: SecretKey::KenhojoPin,
                secret: PresentSecret::Digits {
                    digits: "0000".into(),
                },
            },
            apdu(6, Command::verify(b"0000")),
            apdu(7, raw(&[0x00, 0xB0, 0x81, 0x00, 0x00])),
            apdu(8, Command::select_application(aid::JPKI)),
            apdu(9, Command::select_file(0x0017)),
            apdu(10, sign),
            apdu(11, Command::select_application(aid::KENHOJO)),
            apdu(12, Command::select_file(0x0011)),
            apdu(13, Command::retry_counter()),
        ];
        let mut answers = Vec::new();
        for down in script {
            send(&mut ws, &down).await;
            answers.push(match next_up(&mut ws).await {
                Up::Response { id, response } => {
                    format!("{id}: {}", &response[response.len().saturating_sub(4)..])
                }
                Up::Presented { id, sw } => format!("{id}: {sw}"),
                Up::Failed { id, reason, .. } => format!("{id}: {reason:?}"),
                Up::Reader { .. } => unreachable!(),
            });
        }
        let _ = tx.send(answers);
    });
    MaliciousGateway { url, done, task }
}

async fn relay(
    stream: TcpStream,
    server: Arc<rustls::ServerConfig>,
    client: Arc<rustls::ClientConfig>,
    upstream: &str,
    tamper: Tamper,
) -> Result<(), String> {
    let e = |e: &dyn std::fmt::Display| e.to_string();
    let bridge_tls = tokio_rustls::TlsAcceptor::from(server)
        .accept(stream)
        .await
        .map_err(|x| e(&x))?;
    let bridge = tokio_tungstenite::accept_async(bridge_tls)
        .await
        .map_err(|x| e(&x))?;
    let url = reqwest::Url::parse(upstream).map_err(|x| e(&x))?;
    let host = url.host_str().unwrap_or_default().to_owned();
    let tcp = TcpStream::connect((host.as_str(), url.port().unwrap_or(443)))
        .await
        .map_err(|x| e(&x))?;
    let name = ServerName::try_from(host.trim_matches(['[', ']']).to_owned()).map_err(|x| e(&x))?;
    let gateway_tls = tokio_rustls::TlsConnector::from(client)
        .connect(name, tcp)
        .await
        .map_err(|x| e(&x))?;
    let (gateway, _) = tokio_tungstenite::client_async(upstream, gateway_tls)
        .await
        .map_err(|x| e(&x))?;
    let (mut to_bridge, mut from_bridge) = bridge.split();
    let (mut to_gateway, mut from_gateway) = gateway.split();
    let commands = Arc::new(std::sync::Mutex::new(std::collections::HashMap::<
        u64,
        Command,
    >::new()));
    let seen = commands.clone();
    let down = async move {
        while let Some(Ok(message)) = from_gateway.next().await {
            if let Message::Text(text) = &message
                && let Ok(Down::Apdu { id, command }) = serde_json::from_str(text.as_str())
                && let Ok(command) = Command::parse(&hex::decode(command).unwrap_or_default())
            {
                seen.lock().unwrap().insert(id, command);
            }
            if to_bridge.send(message).await.is_err() {
                break;
            }
        }
    };
    let up = async move {
        while let Some(Ok(mut message)) = from_bridge.next().await {
            if let Message::Text(text) = &message
                && let Ok(Up::Response { id, response }) = serde_json::from_str(text.as_str())
                && let Some(command) = commands.lock().unwrap().remove(&id)
                && let Ok(mut parsed) = Response::parse(&hex::decode(&response).unwrap_or_default())
            {
                tamper(&command, &mut parsed);
                let changed = Up::Response {
                    id,
                    response: hex::encode_upper(parsed.to_bytes()),
                };
                message = Message::text(serde_json::to_string(&changed).unwrap());
            }
            if to_gateway.send(message).await.is_err() {
                break;
            }
        }
    };
    tokio::select! {
        () = down => {}
        () = up => {}
    }
    Ok(())
}

/// Changes nothing: the relay itself is not what makes a read fail.
pub fn pass_through(_: &Command, _: &mut Response) {}

/// The first READ BINARY of kenhojo EF 0002 (the whole file: it is shorter than one chunk),
/// recognised by its record: `FF20` whose offset table has four entries.
fn basic_info_read(command: &Command, response: &Response) -> bool {
    use madoguchi::card::tlv::Reader;
    command.ins == 0xB0
        && command.p1 == 0
        && command.p2 == 0
        && response.sw.is_ok()
        && Reader::new(&response.data)
            .next()
            .and_then(Result::ok)
            .is_some_and(|r| {
                r.tag == 0xFF20
                    && r.children()
                        .next()
                        .and_then(Result::ok)
                        .is_some_and(|t| t.tag == 0xDF21 && t.value.len() == 8)
            })
}

/// What the issue found: a made-up 住所, 生年月日 and 性別 put before the signed DF22 of the
/// 基本4情報, the FF20 length mended. DF32 (from DF22 to the end) still matches.
pub fn forge_before_df22(command: &Command, response: &mut Response) {
    use madoguchi::card::tlv::{Reader, encode};
    if !basic_info_read(command, response) {
        return;
    }
    let Some(Ok(record)) = Reader::new(&response.data).next() else {
        return;
    };
    let mut value = Vec::new();
    for child in record.children().flatten() {
        if child.tag == 0xDF22 {
            value.extend(encode(0xDF23, "東京都千代田区永田町１－７－１".as_bytes()));
            value.extend(encode(0xDF24, b"20010101"));
            value.extend(encode(0xDF25, b"1"));
        }
        value.extend(child.raw);
    }
    response.data = encode(0xFF20, &value);
}

/// Another made-up 住所 after the signed record, in the same file.
pub fn append_after_record(command: &Command, response: &mut Response) {
    use madoguchi::card::tlv::{Reader, encode};
    if !basic_info_read(command, response) {
        return;
    }
    let Some(Ok(record)) = Reader::new(&response.data).next() else {
        return;
    };
    let mut data = record.raw.to_vec();
    data.extend(encode(0xDF23, "東京都千代田区永田町１－７－１".as_bytes()));
    response.data = data;
}
