//! `madoguchi core-sim`: a **simulated** core system (基幹業務システム) for the demo and for tests,
//! never for production. It takes applications the three ways the gateway offers them:
//!
//! - `http`: serves the `http` connector's contract, `POST /applications` (an application's
//!   document, `Idempotency-Key` = its id), with an optional OAuth2 token endpoint
//!   (`POST /token`, client credentials) whose tokens it then requires, over https and with
//!   client certificates when asked (`--tls-cert`, `--tls-key`, `--client-ca`);
//! - `file`: reads a `file` outbox's manifests, checks each file's SHA-256, and takes the
//!   applications it has not taken yet;
//! - `pull`: reads `GET …/link/{area}/applications` after its cursor.
//!
//! Each application it takes for the first time is answered by simple rules: `--reject
//! PROCEDURE` rejects (with a reason), anything else is accepted. Over HTTP the answer is the
//! response; from a file outbox or the pull API it is sent back with `POST …/ack` when the
//! gateway's credentials are given. `--poison PROCEDURE` answers 500 every time (an application
//! the core system chokes on), `POST /sim/outage?seconds=N` makes it answer 503 for a while.
//! `GET /sim/stats` counts what it took, and how often it was sent something twice.
//!
//! Over HTTP it keeps the connector's contract as a core system must (the conformance kit's
//! `core-http` suite checks it): a document that is not `madoguchi.application/1` or whose
//! form does not validate is refused (422), errors are problem details, an answer carries the
//! simulator's record number (`receiptNumber`) and a repeat gets the first answer back.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{HttpRequest, HttpResponse, web};
use clap::Args;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

#[derive(Debug, Args)]
pub struct CoreSimArgs {
    /// Where to serve the `http` connector's contract (`host:port`; port 0 picks one; the
    /// address is printed).
    #[arg(long, default_value = "127.0.0.1:8790")]
    pub bind: String,
    /// Reject applications of this procedure (repeatable; `procedure=reason` gives the
    /// reason).
    #[arg(long, value_name = "PROCEDURE[=REASON]")]
    pub reject: Vec<String>,
    /// Answer 500 to every application of this procedure (repeatable).
    #[arg(long, value_name = "PROCEDURE")]
    pub poison: Vec<String>,
    /// Take this long over every application (a slow core system).
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub delay_ms: u64,
    /// Require a bearer token from `POST /token` (client credentials with this id and
    /// `--client-secret`).
    #[arg(long, requires = "client_secret")]
    pub client_id: Option<String>,
    #[arg(long, requires = "client_id")]
    pub client_secret: Option<String>,
    /// Read this `file` outbox (the connector's `dir`) for new manifests.
    #[arg(long, value_name = "DIR")]
    pub outbox: Option<PathBuf>,
    /// Pull this business area through the gateway's pull API (needs `--gateway`).
    #[arg(long, value_name = "AREA", requires = "gateway")]
    pub pull_area: Option<String>,
    /// The gateway's base URL, for pulling and for answering applications taken from a file
    /// outbox or by pulling (`POST …/ack`).
    #[arg(long, value_name = "URL", requires_all = ["lg_code", "gateway_client_id", "gateway_client_secret"])]
    pub gateway: Option<String>,
    /// The municipality the gateway is asked about.
    #[arg(long)]
    pub lg_code: Option<String>,
    /// A gateway client with scope `link` for the municipality.
    #[arg(long)]
    pub gateway_client_id: Option<String>,
    #[arg(long)]
    pub gateway_client_secret: Option<String>,
    /// Serve https with this PEM certificate chain (and `--tls-key`).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Require client certificates signed by these CAs (mutual TLS).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub client_ca: Option<PathBuf>,
    /// How often the outbox and the pull API are read, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub interval_ms: u64,
}

/// What the simulator has taken and answered.
#[derive(Default)]
struct Sim {
    /// Answers by application id (an application sent again gets its first answer).
    answers: HashMap<String, Value>,
    /// Ids in the order taken.
    order: Vec<String>,
    /// Applications sent again after being taken.
    duplicates: u64,
    accepted: u64,
    rejected: u64,
    poisoned: u64,
    outage_refusals: u64,
    down_until: Option<Instant>,
    tokens: HashSet<String>,
    /// Files of the outbox taken (and checked), and files whose checksum did not match.
    files: u64,
    bad_files: u64,
}

struct Rules {
    delay: std::time::Duration,
    reject: HashMap<String, String>,
    poison: HashSet<String>,
    client: Option<(String, String)>,
    /// What a document must be to be taken.
    layouts: &'static crate::layouts::Layouts,
    forms: crate::forms::FormRegistry,
}

type Shared = web::Data<(Mutex<Sim>, Rules)>;

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, Sim> {
    shared.0.lock().unwrap_or_else(|p| p.into_inner())
}

/// The answer to an application taken for the first time (None: poison, no answer).
fn decide(rules: &Rules, sim: &mut Sim, id: &str, procedure: &str) -> Option<Value> {
    if let Some(previous) = sim.answers.get(id) {
        sim.duplicates += 1;
        return Some(previous.clone());
    }
    if rules.poison.contains(procedure) {
        sim.poisoned += 1;
        return None;
    }
    // The core system's own record number (受付番号): a repeat gets the first one back.
    let receipt = format!("SIM-{:06}", sim.order.len() + 1);
    let answer = match rules.reject.get(procedure) {
        Some(reason) => {
            sim.rejected += 1;
            json!({"outcome": "rejected", "reason": reason, "receiptNumber": receipt})
        }
        None => {
            sim.accepted += 1;
            json!({"outcome": "accepted", "receiptNumber": receipt})
        }
    };
    sim.answers.insert(id.to_owned(), answer.clone());
    sim.order.push(id.to_owned());
    Some(answer)
}

/// An error as RFC 9457 problem details, the shape the `http` connector's contract agrees on
/// (docs/link.md): `type`, `title`, `status`, `detail`, and a stable `code`.
fn problem(status: actix_web::http::StatusCode, code: &str, detail: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("application/problem+json")
        .json(json!({
            "type": "about:blank",
            "title": status.canonical_reason().unwrap_or("Error"),
            "status": status.as_u16(),
            "detail": detail,
            "code": code,
        }))
}

async fn take_application(req: HttpRequest, body: web::Bytes, shared: Shared) -> HttpResponse {
    use actix_web::http::StatusCode;
    let rules = &shared.1;
    if !rules.delay.is_zero() {
        tokio::time::sleep(rules.delay).await;
    }
    {
        let mut sim = lock(&shared);
        if sim.down_until.is_some_and(|t| Instant::now() < t) {
            sim.outage_refusals += 1;
            let mut down = problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "outage",
                "simulated outage",
            );
            down.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                actix_web::http::header::HeaderValue::from_static("5"),
            );
            return down;
        }
        if rules.client.is_some() {
            let token = req
                .headers()
                .get("Authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "));
            if !token.is_some_and(|t| sim.tokens.contains(t)) {
                let mut refused = problem(
                    StatusCode::UNAUTHORIZED,
                    "invalid_token",
                    "a bearer token from POST /token is required",
                );
                refused.headers_mut().insert(
                    actix_web::http::header::WWW_AUTHENTICATE,
                    actix_web::http::header::HeaderValue::from_static("Bearer"),
                );
                return refused;
            }
        }
    }
    let Ok(document) = serde_json::from_slice::<Value>(&body) else {
        return problem(StatusCode::BAD_REQUEST, "not_json", "the body is not JSON");
    };
    // What a core system must refuse for good: a document that is not the layout, or whose
    // form does not validate (docs/link.md).
    let problems = rules.layouts.application_problems(&document, &rules.forms);
    if !problems.is_empty() {
        let listed: Vec<String> = problems.iter().take(20).map(|p| p.to_string()).collect();
        return problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_document",
            &format!(
                "not a valid madoguchi.application/1 document: {}",
                listed.join("; ")
            ),
        );
    }
    let id = document["applicationId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let key = req
        .headers()
        .get("Idempotency-Key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if key != id {
        return problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_mismatch",
            "Idempotency-Key must be the document's applicationId",
        );
    }
    let procedure = document["procedureId"].as_str().unwrap_or_default();
    let mut sim = lock(&shared);
    match decide(rules, &mut sim, &id, procedure) {
        Some(answer) => HttpResponse::Ok().json(answer),
        None => problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "simulated_failure",
            "simulated failure on this procedure",
        ),
    }
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: String,
    client_id: Option<String>,
    client_secret: Option<String>,
}

async fn token(req: HttpRequest, form: web::Form<TokenForm>, shared: Shared) -> HttpResponse {
    let Some((id, secret)) = &shared.1.client else {
        return HttpResponse::NotFound().finish();
    };
    // client_secret_basic or client_secret_post.
    let basic = req
        .headers()
        .get("Authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.decode(b).ok()
        })
        .and_then(|b| String::from_utf8(b).ok());
    let (given_id, given_secret) = match basic.as_deref().and_then(|b| b.split_once(':')) {
        Some((i, s)) => (
            percent_encoding::percent_decode_str(i)
                .decode_utf8_lossy()
                .into_owned(),
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned(),
        ),
        None => (
            form.client_id.clone().unwrap_or_default(),
            form.client_secret.clone().unwrap_or_default(),
        ),
    };
    if form.grant_type != "client_credentials" || &given_id != id || &given_secret != secret {
        return HttpResponse::BadRequest().json(json!({"error": "invalid_client"}));
    }
    let token = uuid::Uuid::now_v7().simple().to_string();
    lock(&shared).tokens.insert(token.clone());
    HttpResponse::Ok()
        .json(json!({"access_token": token, "token_type": "Bearer", "expires_in": 300}))
}

#[derive(Deserialize)]
struct Outage {
    seconds: u64,
}

async fn outage(query: web::Query<Outage>, shared: Shared) -> HttpResponse {
    lock(&shared).down_until = Some(Instant::now() + Duration::from_secs(query.seconds));
    HttpResponse::NoContent().finish()
}

async fn stats(shared: Shared) -> HttpResponse {
    let sim = lock(&shared);
    HttpResponse::Ok().json(json!({
        "received": sim.order.len(),
        "duplicates": sim.duplicates,
        "accepted": sim.accepted,
        "rejected": sim.rejected,
        "poisoned": sim.poisoned,
        "outageRefusals": sim.outage_refusals,
        "files": sim.files,
        "badFiles": sim.bad_files,
        "order": sim.order,
    }))
}

/// The gateway, as the simulator answers it.
struct Gateway {
    http: reqwest::Client,
    url: String,
    lg_code: String,
    client_id: String,
    client_secret: String,
}

impl Gateway {
    async fn token(&self) -> Result<String, String> {
        let r = self
            .http
            .post(format!("{}/oauth/token", self.url))
            .basic_auth(&self.client_id, Some(&self.client_secret))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials&scope=link")
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let v: Value = r.json().await.map_err(|e| e.to_string())?;
        v["access_token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("no token from the gateway: {v}"))
    }

    async fn ack(&self, token: &str, area: &str, id: &str, answer: &Value) -> Result<(), String> {
        // The pull API's answer is the outcome and its reason; the record number stays here.
        let mut ack = serde_json::Map::new();
        for member in ["outcome", "reason"] {
            if let Some(v) = answer.get(member) {
                ack.insert(member.to_owned(), v.clone());
            }
        }
        let answer = &Value::Object(ack);
        let r = self
            .http
            .post(format!(
                "{}/v1/municipalities/{}/link/{area}/applications/{id}/ack",
                self.url, self.lg_code
            ))
            .bearer_auth(token)
            .json(answer)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        // 409: the application is past this answer already (answered before a restart).
        if r.status().is_success() || r.status().as_u16() == 409 {
            Ok(())
        } else {
            Err(format!("ack {id}: HTTP {}", r.status()))
        }
    }
}

/// New manifests of the outbox: their files checked and taken, then answered.
fn read_outbox(dir: &Path, done: &mut HashSet<PathBuf>) -> Vec<(String, Value)> {
    let mut found = Vec::new();
    let Ok(municipalities) = std::fs::read_dir(dir) else {
        return found;
    };
    for lg in municipalities.flatten() {
        let Ok(areas) = std::fs::read_dir(lg.path()) else {
            continue;
        };
        for area in areas.flatten() {
            let Ok(files) = std::fs::read_dir(area.path()) else {
                continue;
            };
            let mut manifests: Vec<PathBuf> = files
                .flatten()
                .map(|f| f.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("manifest-") && n.ends_with(".json"))
                })
                .filter(|p| !done.contains(p))
                .collect();
            manifests.sort();
            for manifest in manifests {
                let Ok(bytes) = std::fs::read(&manifest) else {
                    continue;
                };
                let Ok(m) = serde_json::from_slice::<Value>(&bytes) else {
                    continue;
                };
                for f in m["files"].as_array().into_iter().flatten() {
                    let name = f["name"].as_str().unwrap_or_default();
                    let path = area.path().join(name);
                    let Ok(content) = std::fs::read(&path) else {
                        found.push((String::new(), json!({"badFile": name})));
                        continue;
                    };
                    if hex::encode(Sha256::digest(&content)) != f["sha256"].as_str().unwrap_or("") {
                        found.push((String::new(), json!({"badFile": name})));
                        continue;
                    }
                    if let Ok(doc) = serde_json::from_slice::<Value>(&content) {
                        found.push((m["area"].as_str().unwrap_or_default().to_owned(), doc));
                    }
                }
                done.insert(manifest);
            }
        }
    }
    found
}

/// One page of the pull API after `cursor`: the applications taken, with their answers.
async fn pull(
    gateway: &Gateway,
    token: &str,
    area: &str,
    cursor: &mut Option<String>,
    shared: &Shared,
) -> Vec<(String, String, Value)> {
    let mut url = format!(
        "{}/v1/municipalities/{}/link/{area}/applications?limit=100",
        gateway.url, gateway.lg_code
    );
    if let Some(c) = cursor.as_deref() {
        url.push_str(&format!("&after={c}"));
    }
    let Ok(r) = gateway.http.get(url).bearer_auth(token).send().await else {
        return Vec::new();
    };
    let Ok(page) = r.json::<Value>().await else {
        return Vec::new();
    };
    let mut taken = Vec::new();
    let mut sim = lock(shared);
    for a in page["items"].as_array().into_iter().flatten() {
        // Only what is still waiting for an answer (not answered before a restart).
        if !(a["state"] == "submitted" || a["state"] == "delivered") {
            continue;
        }
        let id = a["applicationId"].as_str().unwrap_or_default().to_owned();
        let procedure = a["procedureId"].as_str().unwrap_or_default();
        if let Some(answer) = decide(&shared.1, &mut sim, &id, procedure) {
            taken.push((area.to_owned(), id, answer));
        }
    }
    if let Some(next) = page["nextCursor"].as_str() {
        *cursor = Some(next.to_owned());
    }
    taken
}

/// Reads the outbox and pulls, answering through the gateway; runs until the process ends.
async fn poll(args: &CoreSimArgs, shared: Shared) {
    let gateway = match (
        &args.gateway,
        &args.lg_code,
        &args.gateway_client_id,
        &args.gateway_client_secret,
    ) {
        (Some(url), Some(lg), Some(id), Some(secret)) => Some(Gateway {
            http: reqwest::Client::new(),
            url: url.trim_end_matches('/').to_owned(),
            lg_code: lg.clone(),
            client_id: id.clone(),
            client_secret: secret.clone(),
        }),
        _ => None,
    };
    let mut manifests = HashSet::new();
    let mut cursor: Option<String> = None;
    let mut pending: Vec<(String, String, Value)> = Vec::new();
    loop {
        if let Some(dir) = &args.outbox {
            for (area, doc) in read_outbox(dir, &mut manifests) {
                let mut sim = lock(&shared);
                if doc.get("badFile").is_some() {
                    sim.bad_files += 1;
                    continue;
                }
                sim.files += 1;
                let id = doc["applicationId"].as_str().unwrap_or_default().to_owned();
                let procedure = doc["procedureId"].as_str().unwrap_or_default();
                if let Some(answer) = decide(&shared.1, &mut sim, &id, procedure) {
                    pending.push((area, id, answer));
                }
            }
        }
        if let Some(gateway) = &gateway {
            match gateway.token().await {
                Ok(token) => {
                    if let Some(area) = &args.pull_area {
                        pending.extend(pull(gateway, &token, area, &mut cursor, &shared).await);
                    }
                    let mut left = Vec::new();
                    for (area, id, answer) in pending.drain(..) {
                        if let Err(e) = gateway.ack(&token, &area, &id, &answer).await {
                            eprintln!("core-sim: {e}; tried again later");
                            left.push((area, id, answer));
                        }
                    }
                    pending = left;
                }
                Err(e) => eprintln!("core-sim: gateway token: {e}"),
            }
        } else {
            pending.clear();
        }
        tokio::time::sleep(Duration::from_millis(args.interval_ms.max(50))).await;
    }
}

pub async fn run(args: CoreSimArgs) -> Result<ExitCode, String> {
    let reject = args
        .reject
        .iter()
        .map(|r| match r.split_once('=') {
            Some((p, reason)) => (p.to_owned(), reason.to_owned()),
            None => (
                r.clone(),
                "基幹システム(模擬)の規則により受理しません。".to_owned(),
            ),
        })
        .collect();
    let rules = Rules {
        delay: std::time::Duration::from_millis(args.delay_ms),
        reject,
        poison: args.poison.iter().cloned().collect(),
        client: args.client_id.clone().zip(args.client_secret.clone()),
        layouts: crate::layouts::Layouts::built_in()?,
        forms: crate::forms::FormRegistry::load(&crate::forms::SchemaSource::Embedded)
            .map_err(|e| e.to_string())?,
    };
    let shared: Shared = web::Data::new((Mutex::new(Sim::default()), rules));
    let for_server = shared.clone();
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(for_server.clone())
            .app_data(web::PayloadConfig::new(16 * 1024 * 1024))
            .route("/applications", web::post().to(take_application))
            .route("/token", web::post().to(token))
            .route("/sim/outage", web::post().to(outage))
            .route("/sim/stats", web::get().to(stats))
    })
    .workers(2)
    .disable_signals();
    let tls = crate::tls::server_config(&crate::config::TlsSettings {
        cert_path: args.tls_cert.clone(),
        key_path: args.tls_key.clone(),
        client_ca_path: args.client_ca.clone(),
        client_auth: if args.client_ca.is_some() {
            crate::config::ClientAuth::Required
        } else {
            crate::config::ClientAuth::None
        },
    })
    .map_err(|e| e.to_string())?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let server = match tls {
        Some(tls) => server.bind_rustls_0_23(&args.bind, tls),
        None => server.bind(&args.bind),
    }
    .map_err(|e| format!("{}: {e}", args.bind))?;
    let address = server
        .addrs()
        .first()
        .copied()
        .ok_or_else(|| "no address bound".to_owned())?;
    println!(
        "core-sim (a simulated core system, not for production) listening on {scheme}://{address}"
    );
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let server = server.run();
    let handle = server.handle();
    let args = Arc::new(args);
    let poller = {
        let args = args.clone();
        let shared = shared.clone();
        tokio::spawn(async move { poll(&args, shared).await })
    };
    tokio::select! {
        r = server => r.map_err(|e| e.to_string())?,
        _ = tokio::signal::ctrl_c() => handle.stop(true).await,
    }
    poller.abort();
    Ok(ExitCode::SUCCESS)
}
