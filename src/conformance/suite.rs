//! Suites, their tests, and what a test has in hand while it runs ([`Ctx`]): the wire, the
//! system under test's setting, and the checks it has made, each against one requirement.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::exchange::{Reply, Req, TransportError, Wire};
use super::requirements::Capability;

/// Why a test could not finish: an outcome of `error`, never a pass or a fail.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Abort {
    #[error("{0}")]
    Transport(#[from] TransportError),
    /// What the test needed first did not work (a token, a visit to work on).
    #[error("{0}")]
    Setup(String),
}

pub type TestFn = for<'a> fn(&'a mut Ctx) -> BoxFuture<'a, Result<(), Abort>>;

/// One test of a suite.
pub struct TestDef {
    /// `group.name`, stable: reports and certificates cite it.
    pub id: &'static str,
    pub title_ja: &'static str,
    pub title_en: &'static str,
    /// Capabilities the system under test must declare; otherwise the test is omitted.
    pub needs: &'static [Capability],
    /// Runs after every other test (it reads what they exchanged).
    pub last: bool,
    pub run: TestFn,
}

impl TestDef {
    pub fn group(&self) -> &'static str {
        self.id.split('.').next().unwrap_or(self.id)
    }
}

/// What a suite tests, which decides how a run sets it up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// An implementation of the gateway's contract (a token first; with `admin` a sandbox).
    Gateway,
    /// A core system's endpoint for the `http` connector.
    CoreHttp,
    /// A directory of the link's files (`--dir`): import files, a file outbox.
    Files,
    /// A counter app's recorded traffic (`--har FILE`), judged without the network.
    Recording,
}

pub struct Suite {
    pub name: &'static str,
    /// The requirement set the suite checks.
    pub set: &'static str,
    pub target: Target,
    pub title_ja: &'static str,
    pub title_en: &'static str,
    pub tests: &'static [TestDef],
}

impl Suite {
    pub fn test_ids(&self) -> Vec<&'static str> {
        self.tests.iter().map(|t| t.id).collect()
    }
}

/// Credentials of one client of the system under test. Never printed, never written.
#[derive(Clone)]
pub struct Credentials {
    pub id: String,
    pub secret: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("id", &self.id)
            .field("secret", &"[REDACTED]")
            .finish()
    }
}

/// The system under test as the run sees it once set up.
#[derive(Debug, Clone)]
pub struct Sut {
    /// The municipality the kit works in (for a core system: the one its documents name), and
    /// the client the kit presents: of a gateway, one that may act for the municipality with
    /// the scopes `forms`, `visits` and `municipalities:read`; of a core system, its OAuth2
    /// client, when it takes tokens.
    pub lg_code: String,
    pub client: Option<Credentials>,
    /// A second municipality and a client of it alone (tenancy).
    pub other: Option<(String, Credentials)>,
    /// A core system's client of the municipality (scope `link`, limited to the area
    /// `certificates`), for the pull link.
    pub link_client: Option<Credentials>,
    pub capabilities: BTreeSet<Capability>,
    /// The staff id sent as `Madoguchi-Actor`.
    pub actor: String,
    /// A core system's endpoint (`core-http`).
    pub core: Option<CoreEndpoint>,
    /// A directory of the link's files (`link-files`).
    pub files: Option<FilesTarget>,
}

/// A directory of the link's files and what it holds.
#[derive(Debug, Clone)]
pub struct FilesTarget {
    pub dir: std::path::PathBuf,
    /// Import files at the directory's top.
    pub csv: Vec<std::path::PathBuf>,
    /// An outbox's `{lgCode}/{area}` directories.
    pub areas: Vec<std::path::PathBuf>,
    /// The municipality the import files are for.
    pub lg_code: Option<String>,
    /// Whether the import files may carry 個人番号 (`link.accept_my_number` where they go).
    pub accept_my_number: bool,
}

impl Sut {
    /// A system under test with nothing but its municipality (when it has one): no client,
    /// no capability, nothing to reach. Set-ups fill in what their suite needs.
    pub fn bare(lg_code: String) -> Self {
        Self {
            lg_code,
            client: None,
            other: None,
            link_client: None,
            capabilities: BTreeSet::new(),
            actor: String::new(),
            core: None,
            files: None,
        }
    }
}

/// A core system's receiving endpoint as the `http` connector reaches it.
#[derive(Debug, Clone)]
pub struct CoreEndpoint {
    /// Its OAuth2 token endpoint (client credentials), when it takes tokens.
    pub token_url: Option<String>,
    /// The scope the connector asks for, if any.
    pub scope: Option<String>,
    /// The procedure the kit files (from the built-in catalogue), its area and form.
    pub procedure_id: String,
    pub area: String,
    pub form: String,
}

/// A token the kit holds, until shortly before it expires.
#[derive(Clone)]
struct HeldToken {
    token: String,
    until: Instant,
}

/// What the tests of one run share.
pub struct Shared {
    pub wire: Wire,
    pub sut: Sut,
    /// The kit's webhook receiver, when the system under test offers webhooks.
    pub receiver: Option<super::receiver::Receiver>,
    /// What a counter app sent, for the suites that judge a recording.
    pub recording: Vec<super::recording::Recorded>,
    tokens: Mutex<HashMap<(String, String), HeldToken>>,
}

impl Shared {
    pub fn new(wire: Wire, sut: Sut, receiver: Option<super::receiver::Receiver>) -> Self {
        Self {
            wire,
            sut,
            receiver,
            recording: Vec::new(),
            tokens: Mutex::new(HashMap::new()),
        }
    }
}

/// One check: a requirement, met or not, with what was expected and what came back.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    pub requirement: String,
    pub passed: bool,
    pub expected: String,
    pub actual: String,
    /// The exchange that shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange: Option<u32>,
}

/// What a test has in hand.
pub struct Ctx {
    pub test: &'static str,
    /// The requirement set the test's checks belong to.
    pub set: &'static str,
    pub shared: Arc<Shared>,
    pub checks: Vec<Check>,
}

impl Ctx {
    pub fn new(test: &'static str, set: &'static str, shared: Arc<Shared>) -> Self {
        Self {
            test,
            set,
            shared,
            checks: Vec::new(),
        }
    }

    pub fn sut(&self) -> &Sut {
        &self.shared.sut
    }

    /// `/v1/municipalities/{lgCode}` of the kit's municipality, and `rest` after it.
    pub fn muni(&self, rest: &str) -> String {
        format!("/v1/municipalities/{}{rest}", self.sut().lg_code)
    }

    pub async fn send(&self, req: Req) -> Result<Reply, Abort> {
        Ok(self.shared.wire.send(self.test, req).await?)
    }

    /// Records a check of `requirement` (a short id such as `AUTH-001`).
    pub fn check(
        &mut self,
        requirement: &str,
        passed: bool,
        expected: impl Into<String>,
        actual: impl Into<String>,
        reply: Option<&Reply>,
    ) -> bool {
        self.check_at(
            requirement,
            passed,
            expected,
            actual,
            reply.map(|r| r.exchange),
        )
    }

    /// [`Ctx::check`], shown by the exchange numbered `exchange`.
    pub fn check_at(
        &mut self,
        requirement: &str,
        passed: bool,
        expected: impl Into<String>,
        actual: impl Into<String>,
        exchange: Option<u32>,
    ) -> bool {
        // What a check quotes reaches the report: redacted like the exchanges.
        self.checks.push(Check {
            requirement: format!("{}@{requirement}", self.set),
            passed,
            expected: super::redact::my_numbers(&expected.into()),
            actual: super::redact::my_numbers(&actual.into()),
            exchange,
        });
        passed
    }

    /// Checks an error answer: `status` and `code` against `requirement`, and the problem's
    /// shape against PROB-001.
    pub fn expect_problem(&mut self, requirement: &str, reply: &Reply, status: u16, code: &str) {
        let got_code = reply.code().unwrap_or_default();
        self.check(
            requirement,
            reply.status.as_u16() == status && got_code == code,
            format!("{status} {code}"),
            format!("{} {}", reply.status.as_u16(), describe_code(reply)),
            Some(reply),
        );
        if reply.status.as_u16() >= 400 {
            self.expect_problem_shape(reply);
        }
    }

    /// PROB-001: media type and members of an RFC 9457 problem.
    pub fn expect_problem_shape(&mut self, reply: &Reply) {
        let body = reply.value();
        let shape = ProblemShape::of(
            reply,
            [
                ("type", body["type"].is_string()),
                (
                    "title",
                    body["title"].as_str().is_some_and(|t| !t.is_empty()),
                ),
                ("status", body["status"].is_u64()),
                (
                    "detail",
                    body["detail"].as_str().is_some_and(|t| !t.is_empty()),
                ),
                ("code", body["code"].as_str().is_some_and(|t| !t.is_empty())),
            ],
        );
        let actual = shape.describe("", "application/problem+json with every member");
        self.check(
            "PROB-001",
            shape.met(),
            "application/problem+json with type, title, status, detail, code",
            actual,
            Some(reply),
        );
    }

    /// A token of `client`, reused until 30 s before it expires (as a well-behaved client
    /// does), for the scopes it was registered with or `scope`.
    pub async fn token_of(
        &mut self,
        client: &Credentials,
        scope: Option<&str>,
    ) -> Result<String, Abort> {
        let key = (client.id.clone(), scope.unwrap_or("").to_owned());
        if let Some(token) = self.held_token(&key) {
            return Ok(token);
        }
        let reply = self.send(token_request(client, scope)).await?;
        let body = reply.value();
        let (Some(token), true) = (body["access_token"].as_str(), reply.status.is_success()) else {
            return Err(Abort::Setup(format!(
                "the client {} got no token: {} {}",
                client.id,
                reply.status.as_u16(),
                describe_code(&reply)
            )));
        };
        self.hold_token(key, token, body["expires_in"].as_u64());
        Ok(token.to_owned())
    }

    /// A token held under `key` (client id, scope) that has not run out.
    pub fn held_token(&self, key: &(String, String)) -> Option<String> {
        let tokens = self.shared.tokens.lock().ok()?;
        let held = tokens.get(key)?;
        (held.until > Instant::now()).then(|| held.token.clone())
    }

    /// Holds `token` until 30 s before it expires (`expires_in` seconds; 60 when not said).
    pub fn hold_token(&self, key: (String, String), token: &str, expires_in: Option<u64>) {
        let lifetime = expires_in.unwrap_or(60);
        let until = Instant::now() + Duration::from_secs(lifetime.saturating_sub(30).max(1));
        if let Ok(mut tokens) = self.shared.tokens.lock() {
            tokens.insert(
                key,
                HeldToken {
                    token: token.to_owned(),
                    until,
                },
            );
        }
    }

    /// The kit's own client.
    pub fn client(&self) -> Result<Credentials, Abort> {
        self.sut().client.clone().ok_or_else(|| {
            Abort::Setup("the kit has no client of the system under test".to_owned())
        })
    }

    /// A token of the kit's own client.
    pub async fn token(&mut self) -> Result<String, Abort> {
        let client = self.client()?;
        self.token_of(&client, None).await
    }

    /// A request with the kit's token and `Madoguchi-Actor`.
    pub async fn authed(&mut self, req: Req) -> Result<Reply, Abort> {
        let token = self.token().await?;
        let actor = self.sut().actor.clone();
        self.send(req.bearer(&token).header("Madoguchi-Actor", actor))
            .await
    }

    /// An answer that must have succeeded (what the test goes on to check needs it).
    pub fn require_success(&self, reply: &Reply, what: &str) -> Result<Value, Abort> {
        if reply.status.is_success() {
            Ok(reply.value())
        } else {
            Err(Abort::Setup(format!(
                "{what}: {} {} (exchange {})",
                reply.status.as_u16(),
                describe_code(reply),
                reply.exchange
            )))
        }
    }
}

/// How an error answer holds up as an RFC 9457 problem: its media type, and which of the
/// members a suite requires are missing.
pub struct ProblemShape {
    pub media: String,
    pub missing: Vec<&'static str>,
}

impl ProblemShape {
    /// `members`: each required member with whether the body has it as it must.
    pub fn of<const N: usize>(reply: &Reply, members: [(&'static str, bool); N]) -> Self {
        Self {
            media: reply.media_type(),
            missing: members
                .into_iter()
                .filter(|(_, ok)| !ok)
                .map(|(m, _)| m)
                .collect(),
        }
    }

    pub fn met(&self) -> bool {
        self.media == "application/problem+json" && self.missing.is_empty()
    }

    /// What came back, for a check: `prefix` first, `whole` when nothing is wrong.
    pub fn describe(&self, prefix: &str, whole: &str) -> String {
        if self.media != "application/problem+json" {
            let media = if self.media.is_empty() {
                "(none)"
            } else {
                &self.media
            };
            format!("{prefix}Content-Type {media}")
        } else if !self.missing.is_empty() {
            format!("{prefix}without {}", self.missing.join(", "))
        } else {
            format!("{prefix}{whole}")
        }
    }
}

/// client_secret_basic's header value (RFC 6749 §2.3.1: id and secret form-urlencoded before
/// they are joined and encoded).
pub fn basic_credentials(id: &str, secret: &str) -> String {
    use base64::Engine;
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", enc(id), enc(secret)))
    )
}

/// `POST /oauth/token` for `client` with client_secret_post, for `scope` or all its scopes.
pub fn token_request(client: &Credentials, scope: Option<&str>) -> Req {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_id", client.id.as_str()),
        ("client_secret", client.secret.as_str()),
    ];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    Req::post("/oauth/token").form(&form)
}

/// `code` of a problem, or the media type when the body is none.
pub fn describe_code(reply: &Reply) -> String {
    match reply.code() {
        Some(code) => code,
        None => {
            let media = reply.media_type();
            if media.is_empty() {
                "(no body)".to_owned()
            } else {
                format!("({media})")
            }
        }
    }
}
