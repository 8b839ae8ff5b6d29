//! Abuse benchmark: what a misbehaving or hostile client can do to a running gateway, measured
//! on the real `madoguchi serve` process (so that its memory is the gateway's alone).
//!
//! 1. **Token flood.** `ABUSE_ATTACKERS` connections from 127.0.0.1 send wrong client
//!    secrets to `POST /oauth/token` for `ABUSE_SECONDS`, half for a registered client id and
//!    half for made-up ones. Meanwhile a legitimate client on 127.0.0.2 (another address)
//!    asks for a token every 100 ms. Reported: the attack's rate and answers, the legitimate
//!    client's latency and failures, and the server's resident memory (before, peak, after).
//! 2. **Token rate.** The legitimate client alone, 4 connections back to back: tokens/s.
//! 3. **Disk fill.** 60 bodies of about 1 MiB to `POST /v1/forms/residentMove/1.0/validate`,
//!    each with a fresh `Idempotency-Key`, then creating requests (`POST /v1/admin/clients`)
//!    with fresh keys until the gateway refuses one or `ABUSE_CREATES` were sent (the server
//!    runs with `idempotency.max_keys_per_client` = `ABUSE_KEY_QUOTA`, 200, so that the quota
//!    shows). Reported: how much the database file and the whole data directory (with
//!    SQLite's write-ahead log, which SQLite checkpoints back to about 4 MiB) grew.
//!
//! 4. **Member flood and printout flood.** A visit of 6,000 members (the probe's, about 1 MB)
//!    and one of 31; then one client asks for the printout of a visit at the bound (30
//!    members) on 12 connections at once for `ABUSE_SECONDS`, while `/healthz` is asked every
//!    100 ms. Reported: the answers, `/healthz`'s p50/p99/max, the server's peak memory.
//! 5. **CSV huge field.** A 210 MB directory file whose second line is one quoted field:
//!    the job's outcome, the length of its messages, the server's peak memory.
//!
//! 6. **Slow webhook receivers.** Six vendors whose receivers hold every message 30 s (past
//!    the 5 s webhook timeout) keep submitting visits, while the demo counter app's visits go
//!    to a core system through a file connector (a server of its own). Reported: the core
//!    system's delay, submission to delivery, at rest and during the run.
//! 7. **Visits filling the disk** (SQLite): 4 connections open visits at the bound for
//!    `ABUSE_SECONDS`; the rate and how fast the database file grew.
//!
//! `cargo bench --bench abuse`. Knobs (environment): ABUSE_SECONDS (10), ABUSE_ATTACKERS (16),
//! ABUSE_CREATES (300), ABUSE_KEY_QUOTA (200), ABUSE_DATABASE_URL (default: SQLite in a temporary directory; the
//! size figures then cover the database file). It prints a Markdown report and writes it to
//! `target/abuse-report.md`. Nothing here asserts a figure: the report is read.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::net::IpAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Resident memory of a process in MiB, now and at its peak (VmRSS, VmHWM).
fn memory_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn dir_size(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_size(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

fn madoguchi(data_dir: &Path, database_url: Option<&str>) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_madoguchi"));
    for (key, _) in std::env::vars() {
        if key.starts_with("MADOGUCHI_") || key == "DATABASE_URL" || key == "RUST_LOG" {
            command.env_remove(key);
        }
    }
    command.arg("--data-dir").arg(data_dir);
    command.env("MADOGUCHI_LOG__LEVEL", "error");
    if let Some(url) = database_url {
        command.env("DATABASE_URL", url);
    }
    command
}

struct Server {
    child: Child,
    address: String,
    client_id: String,
    client_secret: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `madoguchi serve` with two workers and reads the demo credentials off its banner.
fn start_server(data_dir: &Path, database_url: Option<&str>, key_quota: u64) -> Server {
    let quota = key_quota.to_string();
    start_server_with(
        data_dir,
        database_url,
        &[("MADOGUCHI_IDEMPOTENCY__MAX_KEYS_PER_CLIENT", &quota)],
        None,
    )
}

/// Starts `madoguchi serve` with two workers and `env`; the demo credentials come off its
/// banner, or are `known` (a database that has its demo client already prints none).
fn start_server_with(
    data_dir: &Path,
    database_url: Option<&str>,
    env: &[(&str, &str)],
    known: Option<(&str, &str)>,
) -> Server {
    let mut command = madoguchi(data_dir, database_url);
    command
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("MADOGUCHI_WORKERS", "2");
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start madoguchi serve");
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (mut address, mut client_id, mut client_secret) = (None, None, None);
    for line in stdout.lines() {
        let line = line.unwrap();
        let word_after = |marker: &str| {
            line.split(marker)
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .map(str::to_owned)
        };
        address = address.or_else(|| word_after("listening on "));
        client_id = client_id.or_else(|| word_after("client_id:"));
        client_secret = client_secret.or_else(|| word_after("client_secret:"));
        if line.trim_start().starts_with("curl -s -H") || (known.is_some() && address.is_some()) {
            break;
        }
    }
    if let Some((id, secret)) = known {
        client_id = client_id.or_else(|| Some(id.to_owned()));
        client_secret = client_secret.or_else(|| Some(secret.to_owned()));
    }
    Server {
        child,
        address: address.expect("the banner names the address"),
        client_id: client_id.expect("a fresh database prints the demo client"),
        client_secret: client_secret.expect("and its secret"),
    }
}

fn http_from(address: IpAddr, connections: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(address)
        .pool_max_idle_per_host(connections)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

async fn token(
    http: &reqwest::Client,
    base: &str,
    id: &str,
    secret: &str,
) -> (reqwest::StatusCode, Option<String>) {
    let response = http
        .post(format!("{base}/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
        ])
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (status, body["access_token"].as_str().map(str::to_owned))
}

fn percentile_ms(samples: &[Duration], p: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let index = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

fn main() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(run());
}

async fn run() {
    let seconds: u64 = env_or("ABUSE_SECONDS", 10);
    let attackers: usize = env_or("ABUSE_ATTACKERS", 16);
    let creates: usize = env_or("ABUSE_CREATES", 300);
    let key_quota: u64 = env_or("ABUSE_KEY_QUOTA", 200);
    let database_url = std::env::var("ABUSE_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty());
    let dir = tempfile::TempDir::new().unwrap();
    let data_dir = dir.path().join("data");

    let server = start_server(&data_dir, database_url.as_deref(), key_quota);
    let pid = server.child.id();
    let base = server.address.clone();
    let attacker_ip: IpAddr = "127.0.0.1".parse().unwrap();
    let legit_ip: IpAddr = "127.0.0.2".parse().unwrap();
    let legit = http_from(legit_ip, 4);

    // A second registered client: the attack guesses its secret.
    let victim = madoguchi(&data_dir, database_url.as_deref())
        .args([
            "clients",
            "create",
            "--name",
            "victim",
            "--scope",
            "forms",
            "--municipality",
            "012084",
            "--json",
        ])
        .output()
        .unwrap();
    let victim: Value = serde_json::from_slice(&victim.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&victim.stderr));
    });
    let victim_id = victim["clientId"].as_str().unwrap().to_owned();

    let mut report = String::new();
    writeln!(
        report,
        "# madoguchi abuse report\n\n{} cores; `madoguchi serve` with 2 workers; database {}; attack {seconds} s with {attackers} connections.\n",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        if database_url.is_some() { "postgresql" } else { "sqlite" },
    )
    .unwrap();

    // Warm up and measure the legitimate client at rest.
    let mut at_rest = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        let (status, _) = token(&legit, &base, &server.client_id, &server.client_secret).await;
        assert!(
            status.is_success(),
            "the demo client gets a token: {status}"
        );
        at_rest.push(started.elapsed());
    }
    let (rss_before, _) = memory_mib(pid);

    // 1. Token flood.
    let stop = Arc::new(AtomicBool::new(false));
    let answers: Arc<std::sync::Mutex<BTreeMap<u16, u64>>> = Arc::default();
    let attack_http = http_from(attacker_ip, attackers);
    let mut tasks = Vec::new();
    for n in 0..attackers {
        let (stop, answers, http, base) = (
            stop.clone(),
            answers.clone(),
            attack_http.clone(),
            base.clone(),
        );
        let target = if n % 2 == 0 {
            victim_id.clone()
        } else {
            uuid::Uuid::new_v4().to_string()
        };
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let (status, _) = token(&http, &base, &target, "mdgs_wrong-guess").await;
                *answers.lock().unwrap().entry(status.as_u16()).or_default() += 1;
            }
        }));
    }
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (stop, peak) = (stop.clone(), peak.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let (rss, _) = memory_mib(pid);
                peak.fetch_max((rss * 1024.0) as u64, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let started = Instant::now();
    let mut under_attack = Vec::new();
    let mut legit_failures = 0;
    while started.elapsed() < Duration::from_secs(seconds) {
        let sent = Instant::now();
        let (status, _) = token(&legit, &base, &server.client_id, &server.client_secret).await;
        if status.is_success() {
            under_attack.push(sent.elapsed());
        } else {
            legit_failures += 1;
        }
        tokio::time::sleep(Duration::from_millis(100).saturating_sub(sent.elapsed())).await;
    }
    let attack_seconds = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    sampler.await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (rss_after, hwm) = memory_mib(pid);
    let answers = answers.lock().unwrap().clone();
    let attack_total: u64 = answers.values().sum();
    writeln!(report, "## Token flood\n").unwrap();
    writeln!(
        report,
        "| measure | value |\n|---|---|\n| attack requests answered | {attack_total} ({:.0}/s) |\n| attack answers by status | {} |\n| legitimate token p50 at rest | {:.2} ms |\n| legitimate token p50 / p99 / max under attack | {:.2} / {:.2} / {:.2} ms |\n| legitimate tokens under attack: got / refused | {} / {legit_failures} |\n| server RSS before attack | {rss_before:.1} MiB |\n| server RSS peak during attack (sampled / VmHWM) | {:.1} / {hwm:.1} MiB |\n| server RSS 1 s after attack | {rss_after:.1} MiB |\n",
        attack_total as f64 / attack_seconds,
        answers
            .iter()
            .map(|(s, n)| format!("{s}: {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        percentile_ms(&at_rest, 50.0),
        percentile_ms(&under_attack, 50.0),
        percentile_ms(&under_attack, 99.0),
        percentile_ms(&under_attack, 100.0),
        under_attack.len(),
        peak.load(Ordering::Relaxed) as f64 / 1024.0,
    )
    .unwrap();

    // 2. Token rate, no attack.
    let count = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds.min(5));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (legit, base, count) = (legit.clone(), base.clone(), count.clone());
        let (id, secret) = (server.client_id.clone(), server.client_secret.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                if token(&legit, &base, &id, &secret).await.0.is_success() {
                    count.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    writeln!(
        report,
        "## Token rate\n\n{:.0} tokens/s (legitimate client alone, 4 connections).\n",
        count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
    )
    .unwrap();

    // 3. Disk fill.
    let (_, demo_token) = token(&legit, &base, &server.client_id, &server.client_secret).await;
    let demo_token = demo_token.unwrap();
    let db_file = data_dir.join("madoguchi.db");
    let file_size = |path: &Path| std::fs::metadata(path).map_or(0, |m| m.len());
    let before = dir_size(&data_dir);
    let db_before = file_size(&db_file);
    let filler = "あ".repeat(340_000); // about 1 MiB of UTF-8
    let document = json!({ "notificationType": filler }).to_string();
    let mut validate_answers: BTreeMap<u16, u64> = BTreeMap::new();
    for _ in 0..60 {
        let status = legit
            .post(format!("{base}/v1/forms/residentMove/1.0/validate"))
            .bearer_auth(&demo_token)
            .header("idempotency-key", uuid::Uuid::new_v4().to_string())
            .header("content-type", "application/json")
            .body(document.clone())
            .send()
            .await
            .unwrap()
            .status();
        *validate_answers.entry(status.as_u16()).or_default() += 1;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after_validate = dir_size(&data_dir);
    let db_after_validate = file_size(&db_file);

    let admin = madoguchi(&data_dir, database_url.as_deref())
        .args([
            "clients", "create", "--name", "ops", "--scope", "admin", "--json",
        ])
        .output()
        .unwrap();
    let admin: Value = serde_json::from_slice(&admin.stdout).unwrap();
    let (_, admin_token) = token(
        &legit,
        &base,
        admin["clientId"].as_str().unwrap(),
        admin["clientSecret"].as_str().unwrap(),
    )
    .await;
    let admin_token = admin_token.unwrap();
    let before_creates = dir_size(&data_dir);
    let db_before_creates = file_size(&db_file);
    let mut created = 0;
    let mut refused = None;
    for _ in 0..creates {
        let response = legit
            .post(format!("{base}/v1/admin/clients"))
            .bearer_auth(&admin_token)
            .header("idempotency-key", uuid::Uuid::new_v4().to_string())
            .json(&json!({"name": "filler", "scopes": ["forms"], "municipalities": ["012084"]}))
            .send()
            .await
            .unwrap();
        if response.status().is_success() {
            created += 1;
        } else {
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            refused = Some(format!("{status} {}", body["code"].as_str().unwrap_or("")));
            break;
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after_creates = dir_size(&data_dir);
    let db_after_creates = file_size(&db_file);
    let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    writeln!(
        report,
        "## Disk fill\n\n| measure | value |\n|---|---|\n| 60 × ~1 MiB validate with fresh keys: answers | {} |\n| growth from them: database file / data directory | {:.2} / {:.2} MiB |\n| creating requests with fresh keys (key quota {key_quota}): accepted | {created} of {creates} |\n| first refusal | {} |\n| growth from them: database file / data directory | {:.2} / {:.2} MiB |\n",
        validate_answers
            .iter()
            .map(|(s, n)| format!("{s}: {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        mib(db_after_validate.saturating_sub(db_before)),
        mib(after_validate.saturating_sub(before)),
        refused.as_deref().unwrap_or("none"),
        mib(db_after_creates.saturating_sub(db_before_creates)),
        mib(after_creates.saturating_sub(before_creates)),
    )
    .unwrap();
    if database_url.is_some() {
        writeln!(
            report,
            "(On PostgreSQL the data directory holds no database: the growth figures are not meaningful.)"
        )
        .unwrap();
    }

    visits_and_printouts(&mut report, &legit, &base, &server, pid, seconds).await;
    huge_csv_field(&mut report, &legit, &base, &admin_token, pid).await;
    if database_url.is_none() {
        visit_disk_fill(&mut report, &legit, &base, &server, &db_file, seconds).await;
    }
    // The slow-receiver run needs a core system's connector: a server of its own, on the same
    // database (the first one stopped, so that its worker does not take the deliveries).
    let credentials = (server.client_id.clone(), server.client_secret.clone());
    drop(server);
    slow_webhook_receivers(
        &mut report,
        database_url.as_deref(),
        (&credentials.0, &credentials.1),
        seconds,
    )
    .await;

    println!("{report}");
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    let _ = std::fs::create_dir_all(&target);
    let _ = std::fs::write(target.join("abuse-report.md"), &report);
}

fn visit_body(members: usize) -> Value {
    json!({
        "events": [{"kind": "moveIn", "date": "2026-12-01", "facts": {"from": "otherMunicipality", "cardSpecialMoveIn": false}}],
        "members": (0..members).map(|i| json!({
            "id": format!("m{i}"), "familyName": "山田", "givenName": format!("太郎{i}"),
            "relationship": if i == 0 { "世帯主" } else { "子" }, "dateOfBirth": "1988-04-10",
            "sex": "1", "insurance": "nationalHealth"
        })).collect::<Vec<_>>(),
        "applicant": {"member": "m0"}
    })
}

async fn visits_and_printouts(
    report: &mut String,
    http: &reqwest::Client,
    base: &str,
    server: &Server,
    pid: u32,
    seconds: u64,
) {
    let (_, token) = token(http, base, &server.client_id, &server.client_secret).await;
    let token = token.unwrap();
    let visits = format!("{base}/v1/municipalities/012084/visits");
    let mut flood = Vec::new();
    for members in [6_000, 31, 30] {
        let started = Instant::now();
        let r = http
            .post(&visits)
            .bearer_auth(&token)
            .header("Madoguchi-Actor", "clerk-0042")
            .json(&visit_body(members))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        flood.push((
            members,
            status,
            body["code"].as_str().unwrap_or("").to_owned(),
            started.elapsed(),
            body["id"].as_str().map(str::to_owned),
        ));
    }
    let id = flood[2].4.clone().expect("a visit at the bound opens");
    let printout = format!("{visits}/{id}/printouts");
    let stop = Arc::new(AtomicBool::new(false));
    let answers: Arc<std::sync::Mutex<BTreeMap<u16, u64>>> = Arc::default();
    let printers: Vec<_> = (0..12)
        .map(|_| {
            let (stop, answers, http, url, token) = (
                stop.clone(),
                answers.clone(),
                http.clone(),
                printout.clone(),
                token.clone(),
            );
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let status = match http
                        .get(&url)
                        .bearer_auth(&token)
                        .header("Madoguchi-Actor", "clerk-0042")
                        .send()
                        .await
                    {
                        Ok(r) => {
                            let status = r.status().as_u16();
                            let _ = r.bytes().await;
                            if status == 429 {
                                tokio::time::sleep(Duration::from_millis(200)).await;
                            }
                            status
                        }
                        Err(_) => 0,
                    };
                    *answers.lock().unwrap().entry(status).or_default() += 1;
                }
            })
        })
        .collect();
    let mut health = Vec::new();
    let until = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < until {
        let started = Instant::now();
        let ok = http
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        health.push((started.elapsed(), ok));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for p in printers {
        let _ = p.await;
    }
    let (_, peak) = memory_mib(pid);
    let samples: Vec<Duration> = health.iter().map(|(d, _)| *d).collect();
    let max = samples.iter().max().copied().unwrap_or_default();
    writeln!(
        report,
        "## Visits and printouts\n\n| measure | value |\n|---|---|\n{}| printout flood: 12 connections of one client for {seconds} s, answers | {} |\n| `/healthz` meanwhile: p50 / p99 / max (failed) | {:.1} / {:.1} / {:.1} ms ({}) |\n| server peak memory so far (VmHWM) | {peak:.0} MiB |\n",
        flood
            .iter()
            .map(|(m, s, c, d, _)| format!("| a visit of {m} members | {s} {c} in {:.1} ms |\n", d.as_secs_f64() * 1000.0))
            .collect::<String>(),
        answers.lock().unwrap().iter().map(|(s, n)| format!("{s}: {n}")).collect::<Vec<_>>().join(", "),
        percentile_ms(&samples, 50.0),
        percentile_ms(&samples, 99.0),
        max.as_secs_f64() * 1000.0,
        health.iter().filter(|(_, ok)| !ok).count(),
    )
    .unwrap();
}

async fn huge_csv_field(
    report: &mut String,
    http: &reqwest::Client,
    base: &str,
    admin_token: &str,
    pid: u32,
) {
    let header = "operation,lgCode,addresseeNumber,householdNumber,name,nameKana,aliasName,dateOfBirth,sex,relationship,postalCode,prefecture,city,streetAddress,cityBlock,buildingNameEtc,residentSince,lastChangeReason,lastChangeDate,residentKind,nationality,residenceStatus,residencePeriodEnd";
    let mut body = Vec::with_capacity(210 * 1024 * 1024 + 1024);
    body.extend_from_slice(header.as_bytes());
    body.extend_from_slice(b"\n,012084,\"");
    body.resize(body.len() + 210 * 1024 * 1024, b'a');
    body.extend_from_slice(b"\"\n");
    let size = body.len();
    let (_, peak_before) = memory_mib(pid);
    let started = Instant::now();
    let r = http
        .post(format!(
            "{base}/v1/admin/resident-imports?lgCode=012084&kind=full"
        ))
        .bearer_auth(admin_token)
        .header("Content-Type", "text/csv")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let job: Value = r.json().await.unwrap_or(Value::Null);
    let mut outcome = Value::Null;
    if let Some(id) = job["jobId"].as_str() {
        for _ in 0..600 {
            let j: Value = http
                .get(format!("{base}/v1/admin/resident-imports/{id}"))
                .bearer_auth(admin_token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap_or(Value::Null);
            if matches!(
                j["state"].as_str(),
                Some("failed" | "applied" | "unchanged" | "rejected")
            ) {
                outcome = j;
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let (_, peak) = memory_mib(pid);
    writeln!(
        report,
        "## CSV huge field\n\n| measure | value |\n|---|---|\n| upload of {:.0} MB with one field of 210 MB | {status} |\n| job outcome after {:.1} s | {} |\n| length of the job's answer | {} bytes |\n| server peak memory before / after (VmHWM) | {peak_before:.0} / {peak:.0} MiB |\n",
        size as f64 / 1e6,
        started.elapsed().as_secs_f64(),
        outcome["state"].as_str().unwrap_or("(unfinished)"),
        outcome.to_string().len(),
    )
    .unwrap();
}

/// Opens, completes, confirms and submits a certificate-request visit as a counter app does;
/// returns its id, or `None` when a step was refused.
async fn submit_visit(http: &reqwest::Client, base: &str, token: &str) -> Option<String> {
    let visits = format!("{base}/v1/municipalities/012084/visits");
    let call = |method: reqwest::Method, url: String, body: Option<Value>| {
        let mut request = http
            .request(method, url)
            .bearer_auth(token)
            .header("Madoguchi-Actor", "clerk-0042");
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send()
    };
    let opened = call(
        reqwest::Method::POST,
        visits.clone(),
        Some(json!({
            "events": [{"kind": "certificateRequest", "date": "2026-12-03", "facts": {"certificates": ["residentRecordCopy"]}}],
            "members": [{"id": "m1", "familyName": "田中", "givenName": "修", "familyNameKana": "タナカ", "givenNameKana": "オサム", "dateOfBirth": "1970-01-01", "sex": "1"}],
            "applicant": {"member": "m1"}
        })),
    )
    .await
    .ok()?;
    let id = opened.json::<Value>().await.ok()?["id"]
        .as_str()?
        .to_owned();
    let at = |p: &str| format!("{visits}/{id}/{p}");
    let steps = [
        (
            reqwest::Method::PATCH,
            at("drafts/residentRecordCopy@0"),
            Some(
                json!({"set": {"/purpose": "勤務先提出", "/identityDocument": "運転免許証", "/applicant/relation": "本人", "/applicant/contact/phone": "0157-23-7111"}}),
            ),
        ),
        (
            reqwest::Method::POST,
            at("confirm"),
            Some(json!({"method": "attestation"})),
        ),
        (reqwest::Method::POST, at("submit"), None),
    ];
    for (method, url, body) in steps {
        if !call(method, url, body).await.ok()?.status().is_success() {
            return None;
        }
    }
    Some(id)
}

/// A webhook receiver that holds every request `hold` before it answers 204; counts requests.
async fn holding_receiver(hold: Duration, calls: Arc<AtomicU64>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let calls = calls.clone();
            tokio::spawn(async move {
                let mut buffer = vec![0; 64 * 1024];
                let _ = socket.read(&mut buffer).await;
                calls.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(hold).await;
                let _ = socket
                    .write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    url
}

/// How long after its submission an application of `visit` was written to the core system's
/// outbox (its state leaves `submitted`), polled every 20 ms for at most 120 s.
async fn delivered_after(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    visit: &str,
    submitted: Instant,
) -> Option<Duration> {
    let url = format!("{base}/v1/municipalities/012084/visits/{visit}/applications");
    while submitted.elapsed() < Duration::from_secs(120) {
        if let Ok(r) = http
            .get(&url)
            .bearer_auth(token)
            .header("Madoguchi-Actor", "clerk-0042")
            .send()
            .await
            && let Ok(page) = r.json::<Value>().await
            && page["items"][0]["state"]
                .as_str()
                .is_some_and(|s| s != "submitted")
        {
            return Some(submitted.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

/// Run 6, slow webhook receivers: six vendors whose receivers hold every message past the
/// webhook timeout keep submitting visits, while the demo counter app's visits go to a core
/// system (a file connector). Reported: the core system's delay (submission to delivery) for
/// the demo app's visits at rest and during the slow vendors' run.
async fn slow_webhook_receivers(
    report: &mut String,
    database_url: Option<&str>,
    credentials: (&str, &str),
    seconds: u64,
) {
    let dir = tempfile::TempDir::new().unwrap();
    let data_dir = dir.path().join("data");
    let outbox = dir.path().join("outbox");
    let config = dir.path().join("madoguchi.toml");
    std::fs::write(
        &config,
        format!(
            "[[link.connectors]]\narea = \"certificates\"\nkind = \"file\"\ndir = {:?}\n\n[link.webhooks]\nallow_networks = [\"127.0.0.0/8\"]\ntimeout_seconds = 5\n",
            outbox.display().to_string()
        ),
    )
    .unwrap();
    let server = start_server_with(
        &data_dir,
        database_url,
        &[("MADOGUCHI_CONFIG", config.to_str().unwrap())],
        // A fresh SQLite database prints its own demo client; PostgreSQL has the first one's.
        database_url.is_some().then_some(credentials),
    );
    let base = server.address.clone();
    let http = http_from("127.0.0.1".parse().unwrap(), 16);
    let (_, demo) = token(&http, &base, &server.client_id, &server.client_secret).await;
    let demo = demo.unwrap();

    let measure = |label: &'static str, count: usize| {
        let (http, base, demo) = (http.clone(), base.clone(), demo.clone());
        async move {
            let mut delays = Vec::new();
            let mut lost = 0;
            for _ in 0..count {
                let started = Instant::now();
                match submit_visit(&http, &base, &demo).await {
                    Some(visit) => {
                        match delivered_after(&http, &base, &demo, &visit, started).await {
                            Some(d) => delays.push(d),
                            None => lost += 1,
                        }
                    }
                    None => lost += 1,
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            (label, delays, lost)
        }
    };
    let at_rest = measure("at rest", 10).await;

    // Six vendors, each with a receiver that holds every message 30 s (past the 5 s timeout).
    let held = Arc::new(AtomicU64::new(0));
    let mut vendors = Vec::new();
    for n in 0..6 {
        let created = madoguchi(&data_dir, database_url)
            .env("MADOGUCHI_CONFIG", &config)
            .args([
                "clients",
                "create",
                "--name",
                &format!("slow vendor {n}"),
                "--scope",
                "visits",
                "--municipality",
                "012084",
                "--json",
            ])
            .output()
            .unwrap();
        let created: Value = serde_json::from_slice(&created.stdout).unwrap();
        let (_, vendor) = token(
            &http,
            &base,
            created["clientId"].as_str().unwrap(),
            created["clientSecret"].as_str().unwrap(),
        )
        .await;
        let vendor = vendor.unwrap();
        let url = holding_receiver(Duration::from_secs(30), held.clone()).await;
        let r = http
            .post(format!("{base}/v1/municipalities/012084/webhooks"))
            .bearer_auth(&vendor)
            .json(&json!({"url": url}))
            .send()
            .await
            .unwrap();
        assert!(
            r.status().is_success(),
            "webhook registered: {}",
            r.status()
        );
        vendors.push(vendor);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let submitted = Arc::new(AtomicU64::new(0));
    let slow: Vec<_> = vendors
        .into_iter()
        .map(|vendor| {
            let (stop, submitted, http, base) =
                (stop.clone(), submitted.clone(), http.clone(), base.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if submit_visit(&http, &base, &vendor).await.is_some() {
                        submitted.fetch_add(1, Ordering::Relaxed);
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let count = (seconds as usize * 2).max(10);
    let under_slow = measure("six slow receivers", count).await;
    stop.store(true, Ordering::Relaxed);
    for task in slow {
        let _ = task.await;
    }

    writeln!(
        report,
        "## Slow webhook receivers\n\nSix vendors' receivers hold every message 30 s (the webhook timeout is 5 s); those vendors submitted {} visits meanwhile, and their receivers were called {} times. The demo counter app's certificate visits go to a core system through a file connector.\n\n| core-system delay (submit → delivered) | visits | p50 | p99 | max | not delivered in 120 s |\n|---|---|---|---|---|---|",
        submitted.load(Ordering::Relaxed),
        held.load(Ordering::Relaxed),
    )
    .unwrap();
    for (label, delays, lost) in [at_rest, under_slow] {
        writeln!(
            report,
            "| {label} | {} | {:.0} ms | {:.0} ms | {:.0} ms | {lost} |",
            delays.len(),
            percentile_ms(&delays, 50.0),
            percentile_ms(&delays, 99.0),
            delays
                .iter()
                .max()
                .map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        )
        .unwrap();
    }
    writeln!(report).unwrap();
}

/// Run 7, visits filling the disk: 4 connections open visits at the bound (30 members) for
/// `seconds`. Reported: visits opened, answers, and how fast the SQLite file grew.
async fn visit_disk_fill(
    report: &mut String,
    http: &reqwest::Client,
    base: &str,
    server: &Server,
    db_file: &Path,
    seconds: u64,
) {
    let (_, token) = token(http, base, &server.client_id, &server.client_secret).await;
    let token = token.unwrap();
    let before = std::fs::metadata(db_file).map_or(0, |m| m.len());
    let stop = Arc::new(AtomicBool::new(false));
    let answers: Arc<std::sync::Mutex<BTreeMap<u16, u64>>> = Arc::default();
    let body = visit_body(30);
    let size = serde_json::to_vec(&body).unwrap().len();
    let started = Instant::now();
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let (stop, answers, http, token, body) = (
                stop.clone(),
                answers.clone(),
                http.clone(),
                token.clone(),
                body.clone(),
            );
            let url = format!("{base}/v1/municipalities/012084/visits");
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let r = http
                        .post(&url)
                        .bearer_auth(&token)
                        .header("Madoguchi-Actor", "clerk-0042")
                        .json(&body)
                        .send()
                        .await
                        .unwrap();
                    *answers
                        .lock()
                        .unwrap()
                        .entry(r.status().as_u16())
                        .or_default() += 1;
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        let _ = task.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = std::fs::metadata(db_file).map_or(0, |m| m.len());
    let answers = answers.lock().unwrap().clone();
    writeln!(
        report,
        "## Visits filling the disk\n\n4 connections opening visits of 30 members ({size} bytes each) for {seconds} s: {} ({:.0}/s); the SQLite file grew {:.1} MB/s.\n",
        answers
            .iter()
            .map(|(s, n)| format!("{s}: {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        answers.values().sum::<u64>() as f64 / elapsed,
        after.saturating_sub(before) as f64 / elapsed / 1_000_000.0,
    )
    .unwrap();
}
