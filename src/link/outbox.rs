//! The transactional outbox (DESIGN §2 step 8): which connector takes a business area's
//! applications, the deliveries written with the submission, when a failed one is tried again,
//! and the document a core system receives.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::config::{ConnectorKind, ConnectorSettings, DeliverySettings};
use crate::tenancy::LgCode;
use crate::visits::confirmation::Application;

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Waiting for its (next) attempt, or being attempted under a lease.
    Pending,
    Delivered,
    /// Every attempt failed, or the core system refused it for good: the dead letter.
    Dead,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Dead]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// How a delivery travels: a pushing connector, or a webhook message to a vendor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    File,
    Http,
    Webhook,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::File, Channel::Http, Channel::Webhook];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::File => "file",
            Channel::Http => "http",
            Channel::Webhook => "webhook",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::File, Self::Http, Self::Webhook]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// One application's way to its core system (or one message about it to a vendor).
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: Uuid,
    pub application_id: Uuid,
    pub lg_code: String,
    pub area: String,
    pub connector: Channel,
    /// A webhook message's endpoint.
    pub endpoint_id: Option<Uuid>,
    /// A webhook message's body.
    pub payload: Option<String>,
    pub state: DeliveryState,
    /// Attempts made so far.
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    /// What the last failed attempt met (the core system's words, shortened).
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// The line a delivery waits in: a resident's applications of one business area reach the
/// core system in the order they were made. The visit's member stands for the resident.
pub fn line(application: &Application) -> String {
    format!(
        "{}/{}/{}",
        application.area,
        application.visit_id,
        application.member.as_deref().unwrap_or("-")
    )
}

/// A delivery written with its application when the visit is submitted, in the same
/// transaction (the outbox): the worker pushes it from there.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDelivery {
    pub id: Uuid,
    pub application_id: Uuid,
    pub area: String,
    pub channel: Channel,
    pub line: String,
}

/// What a submission writes: the applications of the visit's confirmation, and a delivery for
/// each one whose business area has a connector that pushes (a pulled area's core system
/// reads its applications itself; a referral is delivered like any other, for the record).
pub fn submission(
    visit: &crate::visits::Visit,
    confirmation: &crate::visits::confirmation::Confirmation,
    routes: &Routes,
    now: DateTime<Utc>,
) -> (Vec<Application>, Vec<NewDelivery>) {
    let applications = crate::visits::confirmation::applications(visit.id, confirmation, now);
    let deliveries = applications
        .iter()
        .filter_map(|a| {
            let channel = match routes.pushing(&visit.lg_code, &a.area)?.kind {
                ConnectorKind::File => Channel::File,
                ConnectorKind::Http => Channel::Http,
                ConnectorKind::Pull => return None,
            };
            Some(NewDelivery {
                id: new_id(),
                application_id: a.id,
                area: a.area.clone(),
                channel,
                line: line(a),
            })
        })
        .collect();
    (applications, deliveries)
}

/// A problem in the `[[link.connectors]]` settings.
#[derive(Debug, thiserror::Error)]
#[error("link.connectors[{index}] ({area}): {problem}")]
pub struct RouteError {
    pub index: usize,
    pub area: String,
    pub problem: String,
}

/// The connectors of every municipality's business areas, as configured.
#[derive(Debug, Clone, Default)]
pub struct Routes {
    /// `(Some(lg), area)` for one municipality, `(None, area)` for every other one.
    routes: BTreeMap<(Option<LgCode>, String), ConnectorSettings>,
}

impl Routes {
    /// Checks the settings: a known area, a valid code, what the kind needs, no area twice.
    pub fn new(
        connectors: &[ConnectorSettings],
        areas: &BTreeSet<&str>,
    ) -> Result<Self, RouteError> {
        let mut routes = BTreeMap::new();
        for (index, c) in connectors.iter().enumerate() {
            let problem = |problem: String| RouteError {
                index,
                area: c.area.clone(),
                problem,
            };
            if !areas.contains(c.area.as_str()) {
                return Err(problem(format!(
                    "unknown business area; the catalogue's areas are {}",
                    areas.iter().copied().collect::<Vec<_>>().join(", ")
                )));
            }
            let lg = match &c.lg_code {
                Some(code) => Some(LgCode::parse(code).map_err(|e| problem(e.to_string()))?),
                None => None,
            };
            match c.kind {
                ConnectorKind::File if c.dir.is_none() => {
                    return Err(problem("a file connector needs `dir`".to_owned()));
                }
                ConnectorKind::Http => {
                    let Some(url) = &c.url else {
                        return Err(problem("an http connector needs `url`".to_owned()));
                    };
                    if !(url.starts_with("https://") || url.starts_with("http://")) {
                        return Err(problem(format!("`url` {url:?} is not an http(s) URL")));
                    }
                    if c.token_url.is_some()
                        && (c.client_id.is_none() || c.client_secret_file.is_none())
                    {
                        return Err(problem(
                            "`token_url` needs `client_id` and `client_secret_file`".to_owned(),
                        ));
                    }
                }
                _ => {}
            }
            if routes.insert((lg, c.area.clone()), c.clone()).is_some() {
                return Err(problem(
                    "the area has a connector already (for the same municipality)".to_owned(),
                ));
            }
        }
        Ok(Self { routes })
    }

    /// The connector of a municipality's area: its own, else the one for every municipality.
    pub fn connector(&self, lg_code: &LgCode, area: &str) -> Option<&ConnectorSettings> {
        self.routes
            .get(&(Some(*lg_code), area.to_owned()))
            .or_else(|| self.routes.get(&(None, area.to_owned())))
    }

    /// The connector that pushes a municipality's area, if it is not pulled.
    pub fn pushing(&self, lg_code: &LgCode, area: &str) -> Option<&ConnectorSettings> {
        self.connector(lg_code, area)
            .filter(|c| c.kind != ConnectorKind::Pull)
    }
}

/// When a failed delivery is tried again: exponential backoff with jitter, and the dead
/// letter after the last attempt.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub first: Duration,
    pub multiplier: u32,
    pub max: Duration,
}

impl RetryPolicy {
    pub fn from_settings(s: &DeliverySettings) -> Self {
        Self {
            max_attempts: s.max_attempts.max(1),
            first: Duration::from_millis(s.retry_first_ms),
            multiplier: s.retry_multiplier.max(1),
            max: Duration::from_millis(s.retry_max_ms),
        }
    }

    /// The wait before the next attempt after `attempts` failed ones, before jitter; `None`
    /// when that was the last attempt.
    pub fn backoff(&self, attempts: u32) -> Option<Duration> {
        if attempts >= self.max_attempts {
            return None;
        }
        let factor = self
            .multiplier
            .checked_pow(attempts.saturating_sub(1))
            .unwrap_or(u32::MAX);
        Some(self.first.saturating_mul(factor).min(self.max))
    }

    /// The wait with jitter: between half the backoff and the whole of it, so that deliveries
    /// that failed together do not come back together. `unit` is a random number in [0, 1).
    pub fn wait(&self, attempts: u32, unit: f64) -> Option<Duration> {
        self.backoff(attempts)
            .map(|d| d.mul_f64(0.5) + d.mul_f64(0.5 * unit.clamp(0.0, 1.0)))
    }
}

/// The format name a core system can tell the document's layout by.
pub const DOCUMENT_FORMAT: &str = "madoguchi.application/1";

/// The document a core system receives for one application (both connectors, the same bytes):
/// the layout docs/link.md documents.
pub fn document(lg_code: &str, application: &Application) -> Value {
    json!({
        "format": DOCUMENT_FORMAT,
        "applicationId": application.id,
        "visitId": application.visit_id,
        "localGovernmentCode": lg_code,
        "area": application.area,
        "procedureId": application.procedure_id,
        "member": application.member,
        "form": application.form,
        "document": application.document,
        "submittedAt": application.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    })
}

/// The document's bytes: compact JSON and a newline.
pub fn document_bytes(lg_code: &str, application: &Application) -> Vec<u8> {
    let mut bytes = serde_json::to_vec(&document(lg_code, application)).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// A connector's circuit breaker (per replica, shared by its workers): after `threshold` failures in a row it opens,
/// and deliveries to that core system wait until `open_for` has passed; then one trial
/// delivery decides whether it closes or opens again.
#[derive(Debug, Clone)]
pub struct Breaker {
    threshold: u32,
    open_for: Duration,
    failures: u32,
    open_until: Option<std::time::Instant>,
}

/// What the breaker lets through now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    Closed,
    /// Open, but its wait is over: one delivery may try.
    Trial,
    Open,
}

impl Breaker {
    pub fn new(threshold: u32, open_for: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            open_for,
            failures: 0,
            open_until: None,
        }
    }

    pub fn gate(&self, now: std::time::Instant) -> Gate {
        match self.open_until {
            None => Gate::Closed,
            Some(until) if now >= until => Gate::Trial,
            Some(_) => Gate::Open,
        }
    }

    pub fn is_open(&self) -> bool {
        self.open_until.is_some()
    }

    /// When an open breaker lets a trial through.
    pub fn open_until(&self) -> Option<std::time::Instant> {
        self.open_until
    }

    /// A delivery went through; true when this closed the breaker.
    pub fn success(&mut self) -> bool {
        self.failures = 0;
        self.open_until.take().is_some()
    }

    /// A delivery failed; true when this opened the breaker (not when a trial reopened it).
    pub fn failure(&mut self, now: std::time::Instant) -> bool {
        self.failures = self.failures.saturating_add(1);
        let was_open = self.open_until.is_some();
        if was_open || self.failures >= self.threshold {
            self.open_until = Some(now + self.open_for);
        }
        !was_open && self.open_until.is_some()
    }
}

/// The id of a new delivery.
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(area: &str, lg: Option<&str>, kind: ConnectorKind) -> ConnectorSettings {
        ConnectorSettings {
            lg_code: lg.map(str::to_owned),
            dir: Some("/tmp/outbox".into()),
            url: Some("https://core.example/applications".to_owned()),
            timeout_seconds: 30,
            ..ConnectorSettings::new(area, kind)
        }
    }

    #[test]
    fn a_municipality_s_own_connector_wins_over_the_shared_one() {
        let areas: BTreeSet<&str> = ["residentRegistry", "tax"].into_iter().collect();
        let routes = Routes::new(
            &[
                settings("residentRegistry", None, ConnectorKind::File),
                settings("residentRegistry", Some("131016"), ConnectorKind::Http),
                settings("tax", Some("131016"), ConnectorKind::Pull),
            ],
            &areas,
        )
        .unwrap();
        let chiyoda = LgCode::parse("131016").unwrap();
        let kitami = LgCode::parse("012084").unwrap();
        assert_eq!(
            routes.pushing(&chiyoda, "residentRegistry").unwrap().kind,
            ConnectorKind::Http
        );
        assert_eq!(
            routes.pushing(&kitami, "residentRegistry").unwrap().kind,
            ConnectorKind::File
        );
        assert!(routes.pushing(&chiyoda, "tax").is_none());
        assert!(routes.connector(&chiyoda, "tax").is_some());
        assert!(routes.pushing(&kitami, "tax").is_none());
    }

    #[test]
    fn bad_connector_settings_say_what_is_wrong() {
        let areas: BTreeSet<&str> = ["residentRegistry"].into_iter().collect();
        let unknown =
            Routes::new(&[settings("juki", None, ConnectorKind::File)], &areas).unwrap_err();
        assert!(
            unknown.to_string().contains("unknown business area"),
            "{unknown}"
        );
        let mut no_dir = settings("residentRegistry", None, ConnectorKind::File);
        no_dir.dir = None;
        assert!(
            Routes::new(&[no_dir], &areas)
                .unwrap_err()
                .to_string()
                .contains("needs `dir`")
        );
        let twice = Routes::new(
            &[
                settings("residentRegistry", None, ConnectorKind::File),
                settings("residentRegistry", None, ConnectorKind::Http),
            ],
            &areas,
        )
        .unwrap_err();
        assert_eq!(twice.index, 1);
        let bad_code = Routes::new(
            &[settings(
                "residentRegistry",
                Some("131017"),
                ConnectorKind::File,
            )],
            &areas,
        )
        .unwrap_err();
        assert_eq!(bad_code.index, 0);
    }

    #[test]
    fn backoff_grows_to_its_cap_and_ends_in_the_dead_letter() {
        let policy = RetryPolicy {
            max_attempts: 5,
            first: Duration::from_secs(2),
            multiplier: 3,
            max: Duration::from_secs(30),
        };
        let waits: Vec<_> = (1..=5).map(|n| policy.backoff(n)).collect();
        assert_eq!(
            waits,
            vec![
                Some(Duration::from_secs(2)),
                Some(Duration::from_secs(6)),
                Some(Duration::from_secs(18)),
                Some(Duration::from_secs(30)),
                None
            ]
        );
        assert_eq!(policy.wait(2, 0.0), Some(Duration::from_secs(3)));
        let w = policy.wait(2, 0.999_999).unwrap();
        assert!(
            w > Duration::from_millis(5_999) && w <= Duration::from_secs(6),
            "{w:?}"
        );
        // A huge attempt count does not overflow.
        let long = RetryPolicy {
            max_attempts: u32::MAX,
            ..policy
        };
        assert_eq!(long.backoff(1_000), Some(Duration::from_secs(30)));
    }

    #[test]
    fn the_breaker_opens_after_failures_in_a_row_and_closes_after_a_trial() {
        let start = std::time::Instant::now();
        let mut b = Breaker::new(3, Duration::from_secs(10));
        assert!(!b.failure(start));
        assert!(!b.failure(start));
        assert!(!b.success(), "closed: nothing to close");
        assert!(!b.failure(start));
        assert!(!b.failure(start));
        assert!(b.failure(start), "the third failure in a row opens it");
        assert_eq!(b.gate(start), Gate::Open);
        let later = start + Duration::from_secs(10);
        assert_eq!(b.gate(later), Gate::Trial);
        assert!(
            !b.failure(later),
            "a failed trial reopens, it does not open anew"
        );
        assert_eq!(b.gate(later), Gate::Open);
        let after = later + Duration::from_secs(10);
        assert_eq!(b.gate(after), Gate::Trial);
        assert!(b.success());
        assert_eq!(b.gate(after), Gate::Closed);
    }

    #[test]
    fn the_document_is_the_documented_layout() {
        use crate::forms::{FormRegistry, SchemaSource};
        let forms = FormRegistry::load(&SchemaSource::Embedded).unwrap();
        let form = forms.form("sealRegistration", Some("1.0")).unwrap();
        let now = chrono::Utc::now();
        let mut application = Application {
            id: Uuid::now_v7(),
            visit_id: Uuid::now_v7(),
            procedure_id: "sealRegistrationMoveIn".to_owned(),
            area: "sealRegistration".to_owned(),
            member: Some("m1".to_owned()),
            form: Some("sealRegistration@1.0".to_owned()),
            document: Some(form.examples()[0].clone()),
            state: crate::visits::confirmation::ApplicationState::Submitted,
            reason: None,
            created_at: now,
            updated_at: now,
        };
        let layouts = crate::layouts::Layouts::built_in().unwrap();
        let bytes = document_bytes("131016", &application);
        let doc: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(layouts.application_problems(&doc, &forms), vec![]);
        application.form = None;
        application.document = None;
        application.member = None;
        let doc = document("131016", &application);
        assert_eq!(layouts.application_problems(&doc, &forms), vec![]);
    }
}
