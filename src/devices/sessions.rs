//! Card sessions: a counter app asks for a card to be read at a counter PC; the device-port
//! connection of that PC's bridge takes the session and drives it over the bridge
//! ([`BridgeLink`], a [`Transport`]): it waits for the card, shows the PIN step, runs the
//! purpose's protocol and checks ([`crate::card::session::run`]) and stores the outcome.
//! The session's record is in the database, so any replica answers the counter app while the
//! replica holding the bridge's connection drives it.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use tokio::time::Instant;
use uuid::Uuid;

use crate::card::apdu::{Command, Response, StatusWord};
use crate::card::bridge::{CardPresence, Down, FailReason, PresentSecret, SecretKey, Up};
use crate::card::jpki::CrlDirectory;
use crate::card::session::{self, Failure, FailureCode, Purpose, SessionResult, State, Verifier};
use crate::card::transport::{Secret, Transport, TransportError};
use crate::card::trust::Trust;
use crate::secrets::ServerKey;
use crate::store::{Store, StoreError};
use crate::tenancy::LgCode;

/// A card session as stored.
#[derive(Debug, Clone)]
pub struct CardSession {
    pub id: Uuid,
    pub lg_code: LgCode,
    pub device_id: Uuid,
    pub purpose: Purpose,
    pub state: State,
    pub visit_id: Option<Uuid>,
    /// 照合番号B typed by the clerk, until the session ends.
    pub matching_b: Option<String>,
    /// Once final: what the card proved, or why not. `None` in a final state: the result has
    /// been forgotten (it is kept only for a while).
    pub outcome: Option<SessionResult>,
    pub client_id: Option<String>,
    pub staff: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl CardSession {
    /// The session as a reader may see it `keep` after it ended: a verified result is
    /// forgotten then, to the second, whether or not the purge (every minute) has run yet.
    pub fn within(mut self, keep: chrono::Duration, now: DateTime<Utc>) -> Self {
        if matches!(self.outcome, Some(Ok(_))) && now >= self.updated_at + keep {
            self.outcome = None;
        }
        self
    }

    /// The state a reader sees: a session past its time that nobody finished has failed.
    pub fn effective_state(&self, now: DateTime<Utc>) -> State {
        if !self.state.is_final() && now >= self.expires_at {
            State::Failed
        } else {
            self.state
        }
    }
}

/// Time to answer one APDU.
const APDU_TIMEOUT: Duration = Duration::from_secs(15);

/// The card on the other side of a bridge connection, for one session.
pub struct BridgeLink<'a> {
    pub down: &'a mpsc::Sender<Down>,
    pub up: &'a mut mpsc::Receiver<Up>,
    pub store: &'a Store,
    pub signals: &'a super::Signals,
    pub session: Uuid,
    /// The session's end: waiting for a PIN never outlasts it.
    pub deadline: Instant,
    next_id: u64,
    card_present: bool,
}

impl<'a> BridgeLink<'a> {
    pub fn new(
        down: &'a mpsc::Sender<Down>,
        up: &'a mut mpsc::Receiver<Up>,
        store: &'a Store,
        signals: &'a super::Signals,
        session: Uuid,
        deadline: Instant,
    ) -> Self {
        BridgeLink {
            down,
            up,
            store,
            signals,
            session,
            deadline,
            next_id: 0,
            card_present: false,
        }
    }

    async fn send(&mut self, message: Down) -> Result<(), TransportError> {
        self.down
            .send(message)
            .await
            .map_err(|_| TransportError::Reader("the bridge disconnected".to_owned()))
    }

    /// The next message from the bridge, until `until`.
    async fn receive(&mut self, until: Instant) -> Result<Up, TransportError> {
        match tokio::time::timeout_at(until, self.up.recv()).await {
            Ok(Some(Up::Reader {
                card: CardPresence::Absent,
                ..
            })) if self.card_present => {
                self.card_present = false;
                Err(TransportError::CardRemoved)
            }
            Ok(Some(message)) => {
                if let Up::Reader { card, .. } = &message {
                    self.card_present = *card == CardPresence::Present;
                }
                Ok(message)
            }
            Ok(None) => Err(TransportError::Reader("the bridge disconnected".to_owned())),
            Err(_) => Err(TransportError::TimedOut),
        }
    }

    /// Waits until the bridge reports a card in its reader.
    pub async fn wait_for_card(&mut self) -> Result<(), TransportError> {
        while !self.card_present {
            match self.receive(self.deadline).await? {
                Up::Reader { .. } => {}
                // Only the kind: a response carries the card's data.
                other => tracing::debug!(kind = other.kind(), "bridge message outside a command"),
            }
        }
        Ok(())
    }

    /// The answer to request `id`, skipping reader reports.
    async fn answer(&mut self, id: u64, until: Instant) -> Result<Up, TransportError> {
        loop {
            match self.receive(until).await? {
                Up::Reader { .. } => continue,
                Up::Failed {
                    id: got,
                    reason,
                    message,
                } if got == id => {
                    return Err(match reason {
                        FailReason::CardRemoved => TransportError::CardRemoved,
                        FailReason::Declined => TransportError::Declined(message),
                        FailReason::Reader | FailReason::NotAllowed => {
                            TransportError::Reader(message)
                        }
                    });
                }
                message @ (Up::Response { id: got, .. } | Up::Presented { id: got, .. })
                    if got == id =>
                {
                    return Ok(message);
                }
                other => tracing::debug!(kind = other.kind(), "stale bridge message ignored"),
            }
        }
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

fn bad_hex(e: impl std::fmt::Display) -> TransportError {
    TransportError::Reader(format!("the bridge sent unreadable data: {e}"))
}

impl Transport for BridgeLink<'_> {
    async fn transmit(&mut self, command: &Command) -> Result<Response, TransportError> {
        let id = self.id();
        let until = (Instant::now() + APDU_TIMEOUT).min(self.deadline);
        self.send(Down::Apdu {
            id,
            command: hex::encode_upper(command.to_bytes()),
        })
        .await?;
        match self.answer(id, until).await? {
            Up::Response { response, .. } => {
                let bytes = hex::decode(response).map_err(bad_hex)?;
                Response::parse(&bytes).map_err(bad_hex)
            }
            _ => Err(bad_hex("a status word where a response was due")),
        }
    }

    async fn present(
        &mut self,
        key: SecretKey,
        secret: &Secret,
    ) -> Result<StatusWord, TransportError> {
        let id = self.id();
        let secret = match secret {
            Secret::LocalPin => {
                // The resident types the PIN at the counter PC now.
                if let Err(e) = self
                    .store
                    .set_card_session_state(self.session, State::WaitingForPin)
                    .await
                {
                    tracing::warn!(error = %e, "card session state not stored");
                }
                self.signals.changed.notify_waiters();
                PresentSecret::Pin
            }
            Secret::Digits(digits) => PresentSecret::Digits {
                digits: digits.clone(),
            },
        };
        let was_pin = secret == PresentSecret::Pin;
        self.send(Down::Present { id, key, secret }).await?;
        let answer = self.answer(id, self.deadline).await;
        if was_pin
            && let Err(e) = self
                .store
                .set_card_session_state(self.session, State::Reading)
                .await
        {
            tracing::warn!(error = %e, "card session state not stored");
        }
        self.signals.changed.notify_waiters();
        match answer? {
            Up::Presented { sw, .. } => {
                let bytes = hex::decode(&sw).map_err(bad_hex)?;
                match bytes.as_slice() {
                    [a, b] => Ok(StatusWord(u16::from_be_bytes([*a, *b]))),
                    _ => Err(bad_hex("a status word of the wrong length")),
                }
            }
            _ => Err(bad_hex("a response where a status word was due")),
        }
    }
}

/// What drives sessions besides the connection.
pub struct Driver {
    pub store: Store,
    pub signals: std::sync::Arc<super::Signals>,
    pub server_key: Option<ServerKey>,
    pub trust_dir: Option<PathBuf>,
}

impl Driver {
    /// Runs one session taken from the store over the bridge connection, and stores how it
    /// ended. Errors are the store's; the card's problems end the session as `failed`.
    ///
    /// A connection that turns out to be gone before the card was touched (a bridge that
    /// restarted: the gateway had not noticed its old connection closing) gives the session
    /// back instead, and the answer is `WaitingForCard`: the device's live connection takes it.
    pub async fn drive(
        &self,
        session: &CardSession,
        down: &mpsc::Sender<Down>,
        up: &mut mpsc::Receiver<Up>,
    ) -> Result<State, StoreError> {
        let remaining = (session.expires_at - Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO);
        let deadline = Instant::now() + remaining;
        let outcome = self.read(session, down, up, deadline).await;
        if outcome
            .as_ref()
            .is_err_and(|f| f.code == FailureCode::ReaderError)
            // Either half of the connection may be the first to show it closed: the reader
            // ends at the socket's end while the writer lives until its next write.
            && (down.is_closed() || up.is_closed())
            && self.store.release_card_session(session.id).await?
        {
            tracing::info!(
                session = %session.id,
                device = %session.device_id,
                "the bridge connection was gone before the card was read; the session waits for the device's next connection"
            );
            self.signals.asked.notify_waiters();
            return Ok(State::WaitingForCard);
        }
        let state = if outcome.is_ok() {
            State::Verified
        } else {
            State::Failed
        };
        let message = match &outcome {
            Ok(_) => "verified".to_owned(),
            Err(f) => f.message().ja.into_owned(),
        };
        self.store
            .finish_card_session(session, &outcome, self.server_key.as_ref())
            .await?;
        self.signals.changed.notify_waiters();
        tracing::info!(
            session = %session.id,
            device = %session.device_id,
            purpose = session.purpose.as_str(),
            failure = ?outcome.as_ref().err().map(|f| f.code),
            "card session ended"
        );
        let _ = down
            .send(Down::End {
                session: session.id.to_string(),
                outcome: state.as_str().to_owned(),
                message,
            })
            .await;
        Ok(state)
    }

    async fn read(
        &self,
        session: &CardSession,
        down: &mpsc::Sender<Down>,
        up: &mut mpsc::Receiver<Up>,
        deadline: Instant,
    ) -> SessionResult {
        let Some(trust_dir) = &self.trust_dir else {
            return Err(Failure::new(FailureCode::NotConfigured));
        };
        let trust = Trust::load(trust_dir).map_err(|e| {
            tracing::error!(error = %e, "the card trust directory cannot be read");
            Failure::new(FailureCode::NotConfigured)
        })?;
        let mut nonce = [0u8; 32];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| Failure::new(FailureCode::ReaderError))?;
        let revocation = CrlDirectory(trust_dir.join("jpki-crl"));
        let verifier = Verifier {
            trust: &trust,
            revocation: &revocation,
            now: std::time::SystemTime::now(),
            nonce,
        };
        let mut link = BridgeLink::new(down, up, &self.store, &self.signals, session.id, deadline);
        link.send(Down::Begin {
            session: session.id.to_string(),
            purpose: session.purpose.as_str().to_owned(),
            clerk: session.staff.clone(),
        })
        .await
        .map_err(|_| Failure::new(FailureCode::ReaderError))?;
        link.wait_for_card()
            .await
            .map_err(|e| Failure::from(crate::card::protocol::CardError::from(e)))?;
        if let Err(e) = self
            .store
            .set_card_session_state(session.id, State::Reading)
            .await
        {
            tracing::warn!(error = %e, "card session state not stored");
        }
        self.signals.changed.notify_waiters();
        session::run(
            session.purpose,
            session.matching_b.as_deref(),
            link,
            &verifier,
        )
        .await
    }
}

#[cfg(test)]
mod within_tests {
    use super::*;
    use crate::card::session::Verified;

    #[test]
    fn a_verified_result_is_forgotten_at_its_time_not_at_the_next_purge() {
        let ended = Utc::now();
        let session = CardSession {
            id: Uuid::now_v7(),
            lg_code: LgCode::parse("012084").expect("code"),
            device_id: Uuid::now_v7(),
            purpose: Purpose::ReadBasicInfo,
            state: State::Verified,
            visit_id: None,
            matching_b: None,
            outcome: Some(Ok(Verified::default())),
            client_id: None,
            staff: None,
            created_at: ended,
            updated_at: ended,
            expires_at: ended,
        };
        let keep = chrono::Duration::minutes(10);
        let just_before = ended + keep - chrono::Duration::seconds(1);
        assert!(session.clone().within(keep, just_before).outcome.is_some());
        assert!(session.clone().within(keep, ended + keep).outcome.is_none());
    }
}
