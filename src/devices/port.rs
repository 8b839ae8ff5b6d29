//! The device port: counter PCs' bridges connect here, over TLS with the client certificate
//! they got at enrolment, and speak the bridge protocol ([`crate::card::bridge`]) over a
//! WebSocket at [`PATH`]. A certificate the gateway did not issue fails the handshake; one
//! of a revoked device is closed at once, and a live connection is closed within seconds of
//! the revocation. Each connection takes the card sessions asked for its device and drives
//! them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use uuid::Uuid;

use super::certificate_fingerprint;
use super::sessions::Driver;
use crate::card::bridge::{Down, PATH, Up};
use crate::store::StoreError;

/// How often a connection looks for sessions of its device.
const POLL: Duration = Duration::from_millis(250);
/// How often a connection checks that its device is still enrolled and records it is seen.
const RECHECK: Duration = Duration::from_secs(5);
/// Time for the TLS and WebSocket handshakes.
const HANDSHAKE: Duration = Duration::from_secs(10);
/// Largest message a bridge may send (a response APDU in hex is far smaller).
const MAX_MESSAGE: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum PortError {
    #[error("cannot listen on {bind}: {source}")]
    Bind {
        bind: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Tls(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The running device port; stops when dropped.
pub struct DevicePort {
    pub local_addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for DevicePort {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl DevicePort {
    pub async fn start(
        bind: &str,
        config: rustls::ServerConfig,
        driver: Driver,
    ) -> Result<Self, PortError> {
        let listener = TcpListener::bind(bind)
            .await
            .map_err(|source| PortError::Bind {
                bind: bind.to_owned(),
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| PortError::Bind {
            bind: bind.to_owned(),
            source,
        })?;
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let driver = Arc::new(driver);
        tracing::info!(%local_addr, "device port for counter PC bridges listening");
        let task = tokio::spawn(async move {
            loop {
                let (stream, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::warn!(error = %e, "device port accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let acceptor = acceptor.clone();
                let driver = driver.clone();
                tokio::spawn(async move {
                    if let Err(e) = connection(acceptor, stream, &driver).await {
                        tracing::warn!(%peer, error = %e, "bridge connection ended");
                    }
                });
            }
        });
        Ok(DevicePort { local_addr, task })
    }
}

/// The WebSocket upgrade is for [`PATH`] only.
// The callback's types are tungstenite's; its error is an HTTP response, large by nature.
#[allow(clippy::result_large_err)]
fn check_path(request: &Request, response: Response) -> Result<Response, ErrorResponse> {
    if request.uri().path() == PATH {
        Ok(response)
    } else {
        let mut refusal = ErrorResponse::new(Some(format!("the bridge endpoint is {PATH}")));
        *refusal.status_mut() = tokio_tungstenite::tungstenite::http::StatusCode::NOT_FOUND;
        Err(refusal)
    }
}

async fn connection(
    acceptor: TlsAcceptor,
    stream: TcpStream,
    driver: &Driver,
) -> Result<(), String> {
    let tls = tokio::time::timeout(HANDSHAKE, acceptor.accept(stream))
        .await
        .map_err(|_| "TLS handshake timed out".to_owned())?
        .map_err(|e| format!("TLS handshake: {e}"))?;
    let fingerprint = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|cert| certificate_fingerprint(cert.as_ref()))
        .ok_or("no client certificate")?;
    let device = driver
        .store
        .device_by_certificate(&fingerprint)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("a certificate of a revoked or unknown device")?;
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE));
    let ws = tokio::time::timeout(
        HANDSHAKE,
        tokio_tungstenite::accept_hdr_async_with_config(tls, check_path, Some(config)),
    )
    .await
    .map_err(|_| "WebSocket handshake timed out".to_owned())?
    .map_err(|e| format!("WebSocket handshake: {e}"))?;
    tracing::info!(device = %device.id, lg_code = %device.lg_code, "bridge connected");
    let (mut sink, mut source) = ws.split();
    let (down_tx, mut down_rx) = mpsc::channel::<Down>(16);
    let (up_tx, mut up_rx) = mpsc::channel::<Up>(16);
    let writer = tokio::spawn(async move {
        while let Some(message) = down_rx.recv().await {
            let Ok(text) = serde_json::to_string(&message) else {
                continue;
            };
            if sink.send(Message::text(text)).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let reader = tokio::spawn(async move {
        while let Some(Ok(message)) = source.next().await {
            match message {
                Message::Text(text) => match serde_json::from_str::<Up>(text.as_str()) {
                    Ok(up) => {
                        if up_tx.send(up).await.is_err() {
                            break;
                        }
                    }
                    // Where, not what: serde's message may quote the message's data.
                    Err(e) => tracing::warn!(
                        category = ?e.classify(),
                        column = e.column(),
                        "unreadable bridge message ignored"
                    ),
                },
                Message::Close(_) => break,
                _ => {}
            }
        }
    });
    let result = serve(
        driver,
        device.id,
        &fingerprint,
        &down_tx,
        &mut up_rx,
        &device,
    )
    .await;
    drop(down_tx);
    let _ = writer.await;
    reader.abort();
    tracing::info!(device = %device.id, "bridge disconnected");
    result
}

async fn serve(
    driver: &Driver,
    device_id: Uuid,
    fingerprint: &str,
    down: &mpsc::Sender<Down>,
    up: &mut mpsc::Receiver<Up>,
    device: &super::Device,
) -> Result<(), String> {
    let name = format!("connection:{}", Uuid::now_v7());
    down.send(Down::Hello {
        device_id: device_id.to_string(),
        counter_name: device.counter_name.clone(),
    })
    .await
    .map_err(|_| "the bridge left")?;
    let mut checked: Option<tokio::time::Instant> = None;
    loop {
        if checked.is_none_or(|t| t.elapsed() >= RECHECK) {
            let still = driver
                .store
                .device_by_certificate(fingerprint)
                .await
                .map_err(|e| e.to_string())?;
            if still.is_none() {
                return Err("the device was revoked".to_owned());
            }
            driver
                .store
                .device_seen(device_id)
                .await
                .map_err(|e| e.to_string())?;
            checked = Some(tokio::time::Instant::now());
        }
        let asked = driver.signals.asked.notified();
        tokio::pin!(asked);
        asked.as_mut().enable();
        let taken = driver
            .store
            .take_card_session(
                device_id,
                &name,
                chrono::Utc::now(),
                driver.server_key.as_ref(),
            )
            .await
            .map_err(|e| e.to_string())?;
        if let Some(session) = taken {
            let state = driver
                .drive(&session, down, up)
                .await
                .map_err(|e| e.to_string())?;
            if state == crate::card::session::State::WaitingForCard {
                return Err("the bridge left before the card was read".to_owned());
            }
            continue;
        }
        tokio::select! {
            message = up.recv() => match message {
                // Reader reports between sessions: nothing waits for them.
                Some(_) => {}
                None => return Ok(()),
            },
            () = tokio::time::sleep(POLL) => {}
            () = asked => {}
        }
    }
}
