//! A run: set the system under test up (a token, and with `admin` a sandbox municipality
//! pair and their clients), run the suite's tests in order with a time limit each, judge the
//! requirements, and write the run's directory.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::json;

use super::exchange::{Exchange, Req, Wire, WireTls};
use super::package;
use super::report::{self, Outcome, Report, TestResult};
use super::requirements::{Capability, Text};
use super::suite::{
    Abort, CoreEndpoint, Credentials, Ctx, FilesTarget, Shared, Suite, Sut, Target, TestDef,
    describe_code, token_request,
};
use crate::auth::SigningKey;
use crate::tenancy::LgCode;

/// The inputs file (`--inputs FILE`, TOML). Secrets may be here or in the environment, never
/// in arguments.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub struct Inputs {
    /// The product under test, for the report ("Vendor A gateway 3.4.1").
    pub product: Option<String>,
    /// The municipality to work in (required unless the client holds `admin`).
    pub lg_code: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// A second municipality and a client of it alone, for isolation (unless `admin`).
    pub other_lg_code: Option<String>,
    pub other_client_id: Option<String>,
    pub other_client_secret: Option<String>,
    /// A core system's client (scope `link`, the area `certificates` only), for the pull link
    /// (unless `admin`; also MADOGUCHI_CONFORMANCE_LINK_CLIENT_ID / _SECRET).
    pub link_client_id: Option<String>,
    pub link_client_secret: Option<String>,
    /// Optional capabilities offered: `webhooks`, `pull-link`, `card-sessions`.
    #[serde(default)]
    pub capabilities: Vec<Capability>,
    /// The staff id sent as Madoguchi-Actor.
    pub actor: Option<String>,
    /// Where the kit's webhook receiver listens (default `127.0.0.1:0`), and the URL the
    /// system under test is given for it (default `http://<that address>/hooks`).
    pub webhook_listen: Option<String>,
    pub webhook_url: Option<String>,
    /// `core-http`: the endpoint's OAuth2 token endpoint (client credentials; the client is
    /// client_id/client_secret or the environment), and the scope to ask for.
    pub token_url: Option<String>,
    pub scope: Option<String>,
    /// `core-http`: the procedure whose documents the kit sends (default
    /// `residentRecordCopy`, a 住民票の写し); its area and form come from the catalogue.
    pub procedure_id: Option<String>,
    /// PEM files: the CAs to trust (instead of the system's), and the kit's client
    /// certificate chain with its key (mutual TLS).
    pub ca_file: Option<PathBuf>,
    pub client_identity_file: Option<PathBuf>,
    /// `link-files`: whether the import files may carry a `myNumber` column (where they go,
    /// `link.accept_my_number` is on).
    #[serde(default)]
    pub accept_my_number: bool,
}

impl Inputs {
    pub fn read(path: &Path) -> Result<Self, String> {
        use figment::providers::{Format, Toml};
        figment::Figment::from(Toml::file_exact(path))
            .extract()
            .map_err(|e| format!("{}: {e}", path.display()))
    }
}

pub struct RunOptions {
    pub suite: &'static Suite,
    pub base_url: reqwest::Url,
    pub inputs: Inputs,
    pub out: PathBuf,
    /// Multiplies every time limit (a slow network, a loaded runner).
    pub timeout_scale: f64,
    pub key: Option<SigningKey>,
    /// Run only these tests and groups (`auth`, `delivery.repeat`); empty: all. The others are
    /// omitted, their requirements not verified: a partial run is never conformant.
    pub only: Vec<String>,
    /// `counter-app`: the requests to judge, when they do not come from a HAR file at
    /// `base_url` (a conformance session's recording).
    pub recording: Option<Vec<super::recording::Recorded>>,
}

/// The run could not start: exit status 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartError(pub String);

/// What the run reports as it goes (the CLI prints it; tests ignore it).
pub trait Progress: Send + Sync {
    fn started(&self, total: usize);
    fn test_done(&self, index: usize, total: usize, result: &TestResult);
}

/// Prints nothing.
pub struct Quiet;
impl Progress for Quiet {
    fn started(&self, _: usize) {}
    fn test_done(&self, _: usize, _: usize, _: &TestResult) {}
}

const TEST_TIME_LIMIT: Duration = Duration::from_secs(120);
const REQUEST_TIME_LIMIT: Duration = Duration::from_secs(30);
/// The sandbox municipalities the kit registers when its client holds `admin`: first five
/// digits in the range of 沖縄県 that no municipality uses.
const SANDBOX: [&str; 2] = ["47990", "47991"];

pub async fn run(options: RunOptions, progress: &dyn Progress) -> Result<Report, StartError> {
    let catalogue =
        super::checked_catalogue().map_err(|e| StartError(format!("the kit's catalogue: {e}")))?;
    let set = catalogue
        .set(options.suite.set)
        .ok_or_else(|| StartError(format!("the catalogue has no set {}", options.suite.set)))?
        .clone();
    std::fs::create_dir_all(&options.out)
        .map_err(|e| StartError(format!("{}: {e}", options.out.display())))?;
    if std::fs::read_dir(&options.out)
        .map(|mut d| d.next().is_some())
        .unwrap_or(false)
    {
        return Err(StartError(format!(
            "{} is not empty: give each run a directory of its own",
            options.out.display()
        )));
    }
    let unknown: Vec<&String> = options
        .only
        .iter()
        .filter(|o| {
            !options
                .suite
                .tests
                .iter()
                .any(|t| t.id == *o || t.group() == *o)
        })
        .collect();
    if !unknown.is_empty() {
        let groups: BTreeSet<&str> = options.suite.tests.iter().map(|t| t.group()).collect();
        return Err(StartError(format!(
            "--only {unknown:?}: the suite {} has no such test or group (groups: {})",
            options.suite.name,
            groups.into_iter().collect::<Vec<_>>().join(", ")
        )));
    }
    let selected = |test: &TestDef| {
        options.only.is_empty()
            || options
                .only
                .iter()
                .any(|o| *o == test.id || o == test.group())
    };
    let scaled = |d: Duration| d.mul_f64(options.timeout_scale.clamp(0.1, 10.0));
    let read = |path: &Option<PathBuf>| -> Result<Option<Vec<u8>>, StartError> {
        path.as_ref()
            .map(|p| std::fs::read(p).map_err(|e| StartError(format!("{}: {e}", p.display()))))
            .transpose()
    };
    let tls = WireTls {
        ca_pem: read(&options.inputs.ca_file)?,
        identity_pem: read(&options.inputs.client_identity_file)?,
    };
    let wire = Wire::with_tls(options.base_url.clone(), scaled(REQUEST_TIME_LIMIT), tls)
        .map_err(StartError)?;
    let started_at = chrono::Utc::now();
    let clock = Instant::now();
    let sut = match options.suite.target {
        Target::Gateway => set_up(&wire, &options.inputs).await?,
        Target::CoreHttp => set_up_core(&wire, &options.inputs).await?,
        Target::Files => set_up_files(&options.base_url, &options.inputs)?,
        Target::Recording => set_up_recording(&options.inputs),
    };
    let recording = match (options.suite.target, &options.recording) {
        (Target::Recording, Some(given)) => given.clone(),
        (Target::Recording, None) => read_recording(&options.base_url)?,
        _ => Vec::new(),
    };
    let capabilities = sut.capabilities.clone();
    let lg_code = sut.lg_code.clone();
    let receiver = if capabilities.contains(&Capability::Webhooks) {
        let listen = options
            .inputs
            .webhook_listen
            .as_deref()
            .unwrap_or("127.0.0.1:0");
        Some(
            super::receiver::Receiver::start(listen, options.inputs.webhook_url.clone())
                .await
                .map_err(StartError)?,
        )
    } else {
        None
    };
    let mut shared = Shared::new(wire.clone(), sut, receiver);
    shared.recording = recording;
    let shared = Arc::new(shared);

    let mut order: Vec<_> = options.suite.tests.iter().filter(|t| !t.last).collect();
    order.extend(options.suite.tests.iter().filter(|t| t.last));
    progress.started(order.len());
    // Opened once the run has started: a run that cannot start leaves its directory empty.
    let mut events = Events::open(&options.out)?;
    events.write(json!({
        "event": "started",
        "suite": options.suite.name,
        "tests": order.len(),
        "at": started_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    }));
    let level_of = |id: &str| {
        set.requirements
            .iter()
            .find(|r| r.id == id)
            .map(|r| r.level)
    };
    let mut results = Vec::new();
    for (i, test) in order.iter().enumerate() {
        let title = Text {
            ja: test.title_ja.to_owned(),
            en: test.title_en.to_owned(),
        };
        let missing: Vec<&str> = test
            .needs
            .iter()
            .filter(|c| !capabilities.contains(c))
            .map(|c| c.as_str())
            .collect();
        let clock = Instant::now();
        let (outcome, reason, checks) = if !selected(test) {
            (
                Outcome::Omit,
                Some("not selected (--only)".to_owned()),
                Vec::new(),
            )
        } else if !missing.is_empty() {
            (
                Outcome::Omit,
                Some(format!(
                    "the system under test does not offer {}",
                    missing.join(", ")
                )),
                Vec::new(),
            )
        } else {
            let mut ctx = Ctx::new(test.id, options.suite.set, shared.clone());
            let limit = scaled(TEST_TIME_LIMIT);
            let ran = tokio::time::timeout(limit, (test.run)(&mut ctx)).await;
            let listed = |requirement: &str| set.tests_of(requirement).iter().any(|t| t == test.id);
            let misplaced: Vec<String> = ctx
                .checks
                .iter()
                .filter(|c| !listed(&c.requirement))
                .map(|c| c.requirement.clone())
                .collect();
            match ran {
                Err(_) => (
                    Outcome::Error,
                    Some(format!(
                        "timeout: not finished within {} s",
                        limit.as_secs()
                    )),
                    ctx.checks,
                ),
                Ok(Err(e)) => (Outcome::Error, Some(abort_reason(&e)), ctx.checks),
                Ok(Ok(())) if !misplaced.is_empty() => (
                    Outcome::Error,
                    Some(format!(
                        "kit fault: the test checked {} without being listed for it",
                        misplaced.join(", ")
                    )),
                    ctx.checks,
                ),
                Ok(Ok(())) if ctx.checks.is_empty() => (
                    Outcome::Error,
                    Some("kit fault: the test made no check".to_owned()),
                    ctx.checks,
                ),
                Ok(Ok(())) => (report::outcome_of(&ctx.checks, level_of), None, ctx.checks),
            }
        };
        let result = TestResult {
            id: test.id.to_owned(),
            group: test.group().to_owned(),
            title,
            outcome,
            // A reason may quote what an answer said: redacted like the exchanges.
            reason: reason.map(|r| super::redact::my_numbers(&r)),
            duration_ms: clock.elapsed().as_millis() as u64,
            checks,
            evidence: Vec::new(),
        };
        progress.test_done(i + 1, order.len(), &result);
        events.write(json!({
            "event": "test",
            "index": i + 1,
            "of": order.len(),
            "id": result.id,
            "outcome": result.outcome,
            "reason": result.reason,
            "durationMs": result.duration_ms,
            "failed": result.checks.iter().filter(|c| !c.passed).map(|c| &c.requirement).collect::<Vec<_>>(),
        }));
        results.push(result);
    }
    let exchanges = wire.exchanges();
    for result in &mut results {
        result.evidence = exchanges
            .iter()
            .filter(|e| e.test == result.id)
            .map(evidence_path)
            .collect();
    }
    let requirements = report::judge_requirements(&set, &results, &capabilities);
    let verdict = report::verdict(&requirements, &results);
    events.write(json!({"event": "finished", "verdict": verdict}));
    let counts = report::counts(&requirements, &results);
    let report = Report {
        format: report::FORMAT.to_owned(),
        kit: report::Kit {
            name: "madoguchi conformance".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        },
        catalogue: report::CatalogueRef {
            set: set.set.clone(),
            version: set.version.clone(),
            digest: catalogue.digest.clone(),
        },
        suite: options.suite.name.to_owned(),
        sut: report::SutRef {
            base_url: options.base_url.to_string(),
            product: options.inputs.product.clone(),
            lg_code,
            capabilities: capabilities.into_iter().collect(),
        },
        started_at: started_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        finished_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        duration_ms: clock.elapsed().as_millis() as u64,
        verdict,
        only: options.only.clone(),
        counts,
        requirements,
        tests: results,
    };
    write_run(&options.out, &report, &exchanges, options.key.as_ref()).map_err(|e| {
        StartError(format!(
            "writing the run into {}: {e}",
            options.out.display()
        ))
    })?;
    Ok(report)
}

/// `events.jsonl` in the run's directory: one JSON line as the run starts, after each test
/// and at the end, written as they happen, for a CI job to follow. A line that cannot be
/// written is left out: the report, written last, says everything again.
struct Events(std::fs::File);

impl Events {
    fn open(out: &Path) -> Result<Self, StartError> {
        let path = out.join("events.jsonl");
        std::fs::File::create(&path)
            .map(Events)
            .map_err(|e| StartError(format!("{}: {e}", path.display())))
    }

    fn write(&mut self, event: serde_json::Value) {
        use std::io::Write;
        let _ = writeln!(self.0, "{event}").and_then(|()| self.0.flush());
    }
}

fn abort_reason(e: &Abort) -> String {
    match e {
        Abort::Transport(t) => format!("transport: {t}"),
        Abort::Setup(s) => format!("could not go on: {s}"),
    }
}

fn evidence_path(e: &Exchange) -> String {
    report::evidence_path(&e.test, e.n)
}

/// Writes the evidence, the three reports and the manifest (signed when a key is given).
pub fn write_run(
    out: &Path,
    report: &Report,
    exchanges: &[Exchange],
    key: Option<&SigningKey>,
) -> Result<(), String> {
    let write = |rel: &str, bytes: &[u8]| -> Result<(), String> {
        let path = out.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))
    };
    for e in exchanges {
        let bytes = serde_json::to_vec_pretty(e).map_err(|e| e.to_string())?;
        write(&evidence_path(e), &bytes)?;
    }
    write(
        "report.json",
        &serde_json::to_vec_pretty(report).map_err(|e| e.to_string())?,
    )?;
    write("junit.xml", report::junit::render(report).as_bytes())?;
    write(
        "report.html",
        report::html::render(report, exchanges).as_bytes(),
    )?;
    package::seal(out, report, key)
}

/// A token for the kit's client, and what it may do; then the municipalities and clients
/// the suite works with.
async fn set_up(wire: &Wire, inputs: &Inputs) -> Result<Sut, StartError> {
    let client = credentials(
        inputs.client_id.clone(),
        inputs.client_secret.clone(),
        "MADOGUCHI_CONFORMANCE_CLIENT_ID",
        "MADOGUCHI_CONFORMANCE_CLIENT_SECRET",
    )
    .ok_or_else(|| {
        StartError(
            "no client to test with: set MADOGUCHI_CONFORMANCE_CLIENT_ID and MADOGUCHI_CONFORMANCE_CLIENT_SECRET (or client_id and client_secret in --inputs)".to_owned(),
        )
    })?;
    let reply = wire
        .send("setup", token_request(&client, None))
        .await
        .map_err(|e| {
            StartError(format!(
                "the system under test at {} cannot be reached: {}",
                wire.base(),
                e.reason
            ))
        })?;
    if !reply.status.is_success() {
        return Err(StartError(format!(
            "the system under test refused the kit's client {}: {} {}",
            client.id,
            reply.status.as_u16(),
            describe_code(&reply)
        )));
    }
    let body = reply.value();
    let token = body["access_token"].as_str().unwrap_or_default().to_owned();
    let scopes: BTreeSet<&str> = body["scope"]
        .as_str()
        .unwrap_or_default()
        .split(' ')
        .collect();
    let mut capabilities: BTreeSet<Capability> = inputs
        .capabilities
        .iter()
        .copied()
        .filter(|c| *c != Capability::SecondMunicipality)
        .collect();
    let actor = inputs
        .actor
        .clone()
        .unwrap_or_else(|| "conformance-kit".to_owned());
    if scopes.contains("admin") {
        let own = match &inputs.lg_code {
            Some(code) => code.clone(),
            None => sandbox(0)?,
        };
        let other = sandbox(1)?;
        let mut clients = Vec::new();
        for (code, name, client_scopes) in [
            (
                own.clone(),
                "適合性検査 甲町",
                json!(["forms", "visits", "municipalities:read"]),
            ),
            (
                other.clone(),
                "適合性検査 乙町",
                json!(["visits", "municipalities:read"]),
            ),
        ] {
            let made = wire
                .send(
                    "setup",
                    Req::post("/v1/admin/municipalities")
                        .bearer(&token)
                        .json(json!({"lgCode": code, "name": name})),
                )
                .await
                .map_err(|e| StartError(e.to_string()))?;
            if !made.status.is_success() && made.status.as_u16() != 409 {
                return Err(StartError(format!(
                    "registering the sandbox municipality {code}: {} {}",
                    made.status.as_u16(),
                    describe_code(&made)
                )));
            }
            clients.push(
                register_client(
                    wire,
                    &token,
                    json!({
                        "name": format!("conformance kit ({code})"),
                        "scopes": client_scopes,
                        "municipalities": [code],
                    }),
                )
                .await?,
            );
        }
        let mut clients = clients.into_iter();
        let (Some(own_client), Some(other_client)) = (clients.next(), clients.next()) else {
            return Err(StartError("the sandbox clients were not made".to_owned()));
        };
        capabilities.insert(Capability::SecondMunicipality);
        let link_client = if capabilities.contains(&Capability::PullLink) {
            Some(
                register_client(
                    wire,
                    &token,
                    json!({"name": format!("conformance kit core system ({own})"), "scopes": ["link"],
                           "municipalities": [own], "linkAreas": ["certificates"]}),
                )
                .await?,
            )
        } else {
            None
        };
        return Ok(Sut {
            lg_code: own,
            client: Some(own_client),
            other: Some((other, other_client)),
            link_client,
            capabilities,
            actor,
            core: None,
            files: None,
        });
    }
    let lg_code = inputs.lg_code.clone().ok_or_else(|| {
        StartError(
            "the kit's client does not hold admin, so the inputs must name lg_code (the municipality it may act for)".to_owned(),
        )
    })?;
    let other = match (
        &inputs.other_lg_code,
        credentials(
            inputs.other_client_id.clone(),
            inputs.other_client_secret.clone(),
            "MADOGUCHI_CONFORMANCE_OTHER_CLIENT_ID",
            "MADOGUCHI_CONFORMANCE_OTHER_CLIENT_SECRET",
        ),
    ) {
        (Some(code), Some(creds)) => {
            capabilities.insert(Capability::SecondMunicipality);
            Some((code.clone(), creds))
        }
        _ => None,
    };
    let link_client = credentials(
        inputs.link_client_id.clone(),
        inputs.link_client_secret.clone(),
        "MADOGUCHI_CONFORMANCE_LINK_CLIENT_ID",
        "MADOGUCHI_CONFORMANCE_LINK_CLIENT_SECRET",
    );
    if link_client.is_none() {
        capabilities.remove(&Capability::PullLink);
    }
    Ok(Sut {
        lg_code,
        client: Some(client),
        other,
        link_client,
        capabilities,
        actor,
        core: None,
        files: None,
    })
}

/// The procedure a `core-http` run files when the inputs name none: a 住民票の写し.
const CORE_PROCEDURE: &str = "residentRecordCopy";

/// A core system's endpoint: its procedure (area and form from the built-in catalogue), its
/// token endpoint and client when it takes tokens, and that it answers at all.
async fn set_up_core(wire: &Wire, inputs: &Inputs) -> Result<Sut, StartError> {
    let forms = super::specimens::forms().map_err(StartError)?;
    let catalog = crate::catalog::Catalog::load(&crate::forms::SchemaSource::Embedded, forms)
        .map_err(|e| StartError(format!("the kit's catalogue: {e}")))?;
    let procedure_id = inputs
        .procedure_id
        .clone()
        .unwrap_or_else(|| CORE_PROCEDURE.to_owned());
    let procedure = catalog.procedure(&procedure_id).ok_or_else(|| {
        StartError(format!(
            "procedure_id {procedure_id} is not in the catalogue (madoguchi catalog list shows them)"
        ))
    })?;
    let form = procedure
        .form
        .as_ref()
        .map(|(id, version)| format!("{id}@{version}"))
        .ok_or_else(|| {
            StartError(format!(
                "the procedure {procedure_id} is filed on no form: name one that is (procedure_id)"
            ))
        })?;
    let client = credentials(
        inputs.client_id.clone(),
        inputs.client_secret.clone(),
        "MADOGUCHI_CONFORMANCE_CLIENT_ID",
        "MADOGUCHI_CONFORMANCE_CLIENT_SECRET",
    );
    let mut capabilities: BTreeSet<Capability> = BTreeSet::new();
    match (&inputs.token_url, &client) {
        (Some(token_url), Some(client)) => {
            capabilities.insert(Capability::Oauth2);
            // The kit's client must get a token, or nothing else can be judged.
            let req =
                super::suites::core_http::token_request(token_url, inputs.scope.as_deref(), client);
            let reply = wire.send("setup", req).await.map_err(|e| {
                StartError(format!(
                    "the core system's token endpoint {token_url} cannot be reached: {}",
                    e.reason
                ))
            })?;
            if !(reply.status.is_success() && reply.value()["access_token"].is_string()) {
                return Err(StartError(format!(
                    "the core system's token endpoint refused the kit's client {}: {} {}",
                    client.id,
                    reply.status.as_u16(),
                    reply.value()["error"].as_str().unwrap_or("")
                )));
            }
        }
        (Some(_), None) => {
            return Err(StartError(
                "token_url is given but no client: set MADOGUCHI_CONFORMANCE_CLIENT_ID and MADOGUCHI_CONFORMANCE_CLIENT_SECRET (or client_id and client_secret in --inputs)".to_owned(),
            ));
        }
        (None, Some(_)) => {
            return Err(StartError(
                "a client is given but no token_url: name the endpoint's token endpoint in --inputs".to_owned(),
            ));
        }
        (None, None) => {}
    }
    if inputs.client_identity_file.is_some() {
        capabilities.insert(Capability::MutualTls);
    }
    // Any answer shows the endpoint is there (a GET may well be 405).
    wire.send("setup", Req::get("")).await.map_err(|e| {
        StartError(format!(
            "the core system at {} cannot be reached: {}",
            wire.base(),
            e.reason
        ))
    })?;
    let lg_code = match &inputs.lg_code {
        Some(code) => code.clone(),
        None => sandbox(0)?,
    };
    Ok(Sut {
        client,
        capabilities,
        actor: inputs
            .actor
            .clone()
            .unwrap_or_else(|| "conformance-kit".to_owned()),
        core: Some(CoreEndpoint {
            token_url: inputs.token_url.clone(),
            scope: inputs.scope.clone(),
            procedure_id,
            area: procedure.area.clone(),
            form,
        }),
        ..Sut::bare(lg_code)
    })
}

/// `POST /v1/admin/clients` with `body`; the new client's credentials.
async fn register_client(
    wire: &Wire,
    admin_token: &str,
    body: serde_json::Value,
) -> Result<Credentials, StartError> {
    let registered = wire
        .send(
            "setup",
            Req::post("/v1/admin/clients")
                .bearer(admin_token)
                .json(body.clone()),
        )
        .await
        .map_err(|e| StartError(e.to_string()))?;
    let answer = registered.value();
    match (answer["clientId"].as_str(), answer["clientSecret"].as_str()) {
        (Some(id), Some(secret)) if registered.status.is_success() => Ok(Credentials {
            id: id.to_owned(),
            secret: secret.to_owned(),
        }),
        _ => Err(StartError(format!(
            "registering the kit's client {}: {} {}",
            body["name"],
            registered.status.as_u16(),
            describe_code(&registered)
        ))),
    }
}

fn sandbox(i: usize) -> Result<String, StartError> {
    LgCode::complete(SANDBOX[i])
        .map(|c| c.to_string())
        .map_err(|e| StartError(format!("sandbox lgCode: {e:?}")))
}

fn credentials(
    id: Option<String>,
    secret: Option<String>,
    id_env: &str,
    secret_env: &str,
) -> Option<Credentials> {
    let id = std::env::var(id_env).ok().or(id)?;
    let secret = std::env::var(secret_env).ok().or(secret)?;
    Some(Credentials { id, secret })
}

/// A directory of the link's files (`file://` URL): what it holds decides what is checked.
fn set_up_files(url: &reqwest::Url, inputs: &Inputs) -> Result<Sut, StartError> {
    let dir = url
        .to_file_path()
        .map_err(|_| StartError(format!("{url} is not a directory")))?;
    if !dir.is_dir() {
        return Err(StartError(format!("{} is not a directory", dir.display())));
    }
    let found = super::suites::link_files::find(&dir)
        .map_err(|e| StartError(format!("{}: {e}", dir.display())))?;
    let mut capabilities = BTreeSet::new();
    if !found.csv.is_empty() {
        capabilities.insert(Capability::ImportFiles);
        if inputs.lg_code.is_none() {
            return Err(StartError(
                "the directory holds import files: name lg_code (the municipality they are for) in --inputs".to_owned(),
            ));
        }
    }
    if !found.areas.is_empty() {
        capabilities.insert(Capability::FileOutbox);
    }
    if capabilities.is_empty() {
        return Err(StartError(format!(
            "{} holds neither import files (*.csv at its top) nor a file outbox ({{lgCode}}/{{area}}/manifest-*.json)",
            dir.display()
        )));
    }
    Ok(Sut {
        capabilities,
        files: Some(FilesTarget {
            dir,
            csv: found.csv,
            areas: found.areas,
            lg_code: inputs.lg_code.clone(),
            accept_my_number: inputs.accept_my_number,
        }),
        ..Sut::bare(inputs.lg_code.clone().unwrap_or_default())
    })
}

/// A counter app's recording: nothing to set up but what the report names.
fn set_up_recording(inputs: &Inputs) -> Sut {
    let mut sut = Sut::bare(inputs.lg_code.clone().unwrap_or_default());
    sut.capabilities = inputs.capabilities.iter().copied().collect();
    sut
}

/// The requests of a HAR file (`file://` URL).
fn read_recording(url: &reqwest::Url) -> Result<Vec<super::recording::Recorded>, StartError> {
    let path = url
        .to_file_path()
        .map_err(|_| StartError(format!("{url} is not a file")))?;
    let bytes = std::fs::read(&path).map_err(|e| StartError(format!("{}: {e}", path.display())))?;
    let recording = super::recording::from_har(&bytes)
        .map_err(|e| StartError(format!("{}: {e}", path.display())))?;
    if recording.is_empty() {
        return Err(StartError(format!(
            "{}: the capture holds no request",
            path.display()
        )));
    }
    Ok(recording)
}
