//! Load benchmark: what the gateway's authentication and tenancy checks cost.
//!
//! In one run, on the same machine, it measures
//! - a bare actix-web handler that answers the same JSON as the gateway (the ceiling),
//! - the gateway's authenticated `GET /v1/municipalities/012084` (token verification, scope
//!   and municipality checks, the database read, all middleware),
//! - the token endpoint (client authentication: a SHA-256 check of the secret, a database
//!   read, and signing the token),
//!
//! each closed-loop (N connections as fast as they go: throughput) and the first two also
//! open-loop at a fixed rate (1,000 requests/s by default: latency under a steady load; each
//! request is sent on schedule whether or not earlier ones have answered, so slow answers do
//! not hide behind each other). It prints RPS and p50/p99 per target and the ratio, and writes
//! the same as Markdown to `target/load-report.md`.
//!
//! `cargo bench --bench load`. With LOAD_SERVE_ONLY=1 it only starts both servers and prints
//! their URLs and a token, for an external load generator such as wrk. Knobs (environment): LOAD_SECONDS (10), LOAD_CONNECTIONS (16),
//! LOAD_RATE (1000), LOAD_WORKERS (server workers, 2), LOAD_CACHE_SECONDS (municipality
//! cache, 5; 0 reads the database on every request), LOAD_DATABASE_URL (default: SQLite in a
//! temporary directory; a postgres:// URL of an empty database measures PostgreSQL).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use madoguchi::Application;
use madoguchi::config::Settings;
use tokio::sync::Mutex;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(Clone)]
struct Target {
    name: &'static str,
    request: Arc<dyn Fn(&reqwest::Client) -> reqwest::RequestBuilder + Send + Sync>,
}

struct Stats {
    requests: usize,
    errors: usize,
    seconds: f64,
    latencies_us: Vec<u64>,
}

impl Stats {
    fn rps(&self) -> f64 {
        self.requests as f64 / self.seconds
    }

    fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let mut sorted = self.latencies_us.clone();
        sorted.sort_unstable();
        let index = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
        sorted[index] as f64 / 1000.0
    }
}

async fn send(client: &reqwest::Client, target: &Target) -> (bool, u64) {
    let start = Instant::now();
    let ok = match (target.request)(client).send().await {
        Ok(response) => {
            let success = response.status().is_success();
            success && response.bytes().await.is_ok()
        }
        Err(_) => false,
    };
    (ok, start.elapsed().as_micros() as u64)
}

/// `connections` loops sending back to back for `seconds`.
async fn closed_loop(target: &Target, connections: usize, seconds: u64) -> Stats {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()
        .unwrap();
    // Warm up: open the connections, fill caches.
    for _ in 0..connections * 2 {
        send(&client, target).await;
    }
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let client = client.clone();
        let target = target.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            while Instant::now() < deadline {
                let (ok, us) = send(&client, &target).await;
                if ok {
                    latencies.push(us);
                } else {
                    errors += 1;
                }
            }
            (latencies, errors)
        }));
    }
    let mut stats = Stats {
        requests: 0,
        errors: 0,
        seconds: 0.0,
        latencies_us: Vec::new(),
    };
    for task in tasks {
        let (latencies, errors) = task.await.unwrap();
        stats.requests += latencies.len();
        stats.errors += errors;
        stats.latencies_us.extend(latencies);
    }
    stats.seconds = started.elapsed().as_secs_f64();
    stats
}

/// One request every 1/rate seconds for `seconds`, each on its own task.
async fn open_loop(target: &Target, rate: u64, seconds: u64) -> Stats {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();
    for _ in 0..64 {
        send(&client, target).await;
    }
    let total = rate * seconds;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let results = Arc::new(Mutex::new(Vec::with_capacity(total as usize)));
    let started = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        tokio::time::sleep_until(started + interval * i as u32).await;
        let client = client.clone();
        let target = target.clone();
        let results = results.clone();
        tasks.push(tokio::spawn(async move {
            let outcome = send(&client, &target).await;
            results.lock().await.push(outcome);
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let seconds = started.elapsed().as_secs_f64();
    let results = results.lock().await;
    Stats {
        requests: results.iter().filter(|(ok, _)| *ok).count(),
        errors: results.iter().filter(|(ok, _)| !*ok).count(),
        seconds,
        latencies_us: results
            .iter()
            .filter(|(ok, _)| *ok)
            .map(|(_, us)| *us)
            .collect(),
    }
}

fn row(report: &mut String, name: &str, mode: &str, s: &Stats) {
    let line = format!(
        "| {name} | {mode} | {:.0} | {:.3} | {:.3} | {} |",
        s.rps(),
        s.percentile_ms(50.0),
        s.percentile_ms(99.0),
        s.errors
    );
    println!("{line}");
    writeln!(report, "{line}").unwrap();
}

fn main() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let seconds: u64 = env_or("LOAD_SECONDS", 10);
    let connections: usize = env_or("LOAD_CONNECTIONS", 16);
    let rate: u64 = env_or("LOAD_RATE", 1000);
    let workers: usize = env_or("LOAD_WORKERS", 2);
    let cache_seconds: u64 = env_or("LOAD_CACHE_SECONDS", 5);

    // The load generator gets one thread; the servers get `workers` each.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let dir = tempfile::TempDir::new().unwrap();
        let mut settings = Settings {
            bind: "127.0.0.1:0".to_owned(),
            data_dir: dir.path().to_path_buf(),
            workers,
            ..Default::default()
        };
        settings.database.url = std::env::var("LOAD_DATABASE_URL").ok();
        settings.cache.municipality_seconds = cache_seconds;
        let backend = if settings.database.url.is_some() {
            "postgresql"
        } else {
            "sqlite"
        };
        let app = Application::build(settings).await.unwrap();
        let base = app.base_url().to_owned();
        let demo = app.demo_credentials().cloned().expect("empty database");
        tokio::spawn(app.run_until_stopped());

        let http = reqwest::Client::new();
        let token: serde_json::Value = http
            .post(format!("{base}/oauth/token"))
            .basic_auth(demo.client_id, Some(&demo.client_secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = token["access_token"].as_str().unwrap().to_owned();
        let path = "/v1/municipalities/012084";
        let body = http
            .get(format!("{base}{path}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();

        // The ceiling: the same answer from a handler that does nothing.
        let bare_body = web::Bytes::from(body.to_vec());
        let bare = HttpServer::new(move || {
            let bare_body = bare_body.clone();
            App::new().route(
                path,
                web::get().to(move || {
                    let bare_body = bare_body.clone();
                    async move {
                        HttpResponse::Ok()
                            .content_type("application/json")
                            .body(bare_body)
                    }
                }),
            )
        })
        .workers(workers)
        .disable_signals()
        .bind("127.0.0.1:0")
        .unwrap();
        let bare_addr = bare.addrs()[0];
        tokio::spawn(bare.run());

        let bare_url = format!("http://{bare_addr}{path}");
        let auth_url = format!("{base}{path}");
        let (bare_target_url, auth_target_url, auth_token) =
            (bare_url.clone(), auth_url.clone(), token.clone());
        let token_url = format!("{base}/oauth/token");
        let (id, secret) = (demo.client_id.to_string(), demo.client_secret.clone());
        let bare_target = Target {
            name: "bare actix-web handler",
            request: Arc::new(move |c| c.get(&bare_url)),
        };
        let auth_target = Target {
            name: "authenticated GET /v1/municipalities/{lgCode}",
            request: Arc::new(move |c| c.get(&auth_url).bearer_auth(&token)),
        };
        let health_url = format!("{base}/healthz");
        let health_target = Target {
            name: "GET /healthz (gateway middleware, no auth, no database)",
            request: Arc::new(move |c| c.get(&health_url)),
        };
        let token_target = Target {
            name: "POST /oauth/token",
            request: Arc::new(move |c| {
                c.post(&token_url)
                    .basic_auth(&id, Some(&secret))
                    .form(&[("grant_type", "client_credentials")])
            }),
        };

        if std::env::var_os("LOAD_SERVE_ONLY").is_some() {
            // For an external load generator (wrk): print what it needs and keep serving.
            println!("bare:          {}", bare_target_url);
            println!("authenticated: {}", auth_target_url);
            println!("token:         {}", auth_token);
            println!("serving until interrupted");
            tokio::signal::ctrl_c().await.ok();
            return;
        }

        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        let mut report = String::new();
        writeln!(
            report,
            "# madoguchi load report\n\n{cores} cores; {workers} server workers per server; \
             load generator on 1 thread in the same process; database {backend}; \
             municipality cache {cache_seconds} s; \
             {seconds} s per run; closed loop with {connections} connections; open loop at \
             {rate} requests/s.\n"
        )
        .unwrap();
        let header =
            "| target | mode | RPS | p50 ms | p99 ms | errors |\n|---|---|---|---|---|---|";
        println!("{header}");
        writeln!(report, "{header}").unwrap();

        let bare_closed = closed_loop(&bare_target, connections, seconds).await;
        row(&mut report, bare_target.name, "closed", &bare_closed);
        let health_closed = closed_loop(&health_target, connections, seconds).await;
        row(&mut report, health_target.name, "closed", &health_closed);
        let auth_closed = closed_loop(&auth_target, connections, seconds).await;
        row(&mut report, auth_target.name, "closed", &auth_closed);
        let bare_open = open_loop(&bare_target, rate, seconds).await;
        row(
            &mut report,
            bare_target.name,
            &format!("{rate}/s"),
            &bare_open,
        );
        let auth_open = open_loop(&auth_target, rate, seconds).await;
        row(
            &mut report,
            auth_target.name,
            &format!("{rate}/s"),
            &auth_open,
        );
        let token_closed = closed_loop(&token_target, 4, seconds).await;
        row(
            &mut report,
            token_target.name,
            "closed (4 conn.)",
            &token_closed,
        );

        let ratio = auth_closed.rps() / bare_closed.rps();
        let p99 = auth_open.percentile_ms(99.0);
        let summary = format!(
            "\nAuthenticated/bare throughput: {ratio:.2} (target ≥ 0.50: {}).\n\
             Authenticated p99 at {rate}/s: {p99:.3} ms (target < 2 ms: {}).",
            if ratio >= 0.5 { "met" } else { "NOT met" },
            if p99 < 2.0 { "met" } else { "NOT met" },
        );
        println!("{summary}");
        report.push_str(&summary);
        report.push('\n');
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/load-report.md");
        std::fs::write(&path, report).unwrap();
        println!("report written to {}", path.display());
    });
}
