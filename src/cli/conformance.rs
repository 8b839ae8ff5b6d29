//! `madoguchi conformance …`: the kit, offline (no database, no gateway of its own). It talks
//! to nothing but the system under test; every requirement, specimen and schema is built in.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use crate::conformance::report::{self, Outcome, TestResult};
use crate::conformance::requirements::Catalogue;
use crate::conformance::runner::{self, Inputs, Progress, RunOptions};
use crate::conformance::{package, suites};

/// Exit status when the run could not start (usage, unreachable, bad credentials).
const EXIT_START: u8 = 2;

#[derive(Debug, Subcommand)]
pub enum ConformanceCommand {
    /// The requirement catalogue: every requirement with its level, source and tests, and how
    /// many SHALLs have a test. Exit 2 if the catalogue and the kit's tests disagree.
    Requirements {
        #[arg(long)]
        json: bool,
    },
    /// Run a suite against a system under test and write DIR: report.json, junit.xml,
    /// report.html, evidence/ and manifest.json (signed into manifest.jws with --key). Exit 0
    /// when every SHALL is met, 1 when one is not, 2 when the run could not start, 3 when it
    /// is incomplete (errors, timeouts). The client comes from MADOGUCHI_CONFORMANCE_CLIENT_ID
    /// and MADOGUCHI_CONFORMANCE_CLIENT_SECRET or the inputs file, never from arguments.
    Run {
        /// `gateway-api` (a gateway), `core-http` (a core system's endpoint for the http
        /// connector), `link-files` (import files and a file outbox, in `--dir`) or
        /// `counter-app` (a counter app's captured traffic, `--har`).
        #[arg(long)]
        suite: String,
        /// Where the system under test answers: a gateway's base URL
        /// (`https://gw.example.lg.jp`), or a core system's endpoint itself
        /// (`https://kokuho.example.lg.jp/api/applications`).
        #[arg(
            long,
            value_name = "URL",
            required_unless_present_any = ["dir", "har"],
            conflicts_with_all = ["dir", "har"]
        )]
        base_url: Option<String>,
        /// The directory `link-files` checks: import files (`full-*.csv`, `diff-*.csv`) at
        /// its top, or a file outbox (`{lgCode}/{area}/…`).
        #[arg(long, value_name = "DIR", conflicts_with = "har")]
        dir: Option<PathBuf>,
        /// The capture `counter-app` judges: a counter app's traffic with a gateway, as an
        /// HTTP Archive (HAR 1.2, what browsers' developer tools and proxies save).
        #[arg(long, value_name = "FILE")]
        har: Option<PathBuf>,
        /// An empty directory for this run.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// TOML: product, lg_code, client_id/client_secret, other_lg_code,
        /// other_client_id/other_client_secret, capabilities, actor; for core-http also
        /// token_url, scope, procedure_id, ca_file, client_identity_file; for link-files
        /// lg_code and accept_my_number.
        #[arg(long, value_name = "FILE")]
        inputs: Option<PathBuf>,
        /// Private key (PKCS#8 PEM, P-256) to sign the manifest with.
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
        /// Multiplies every time limit (a slow network or runner).
        #[arg(long, default_value_t = 1.0)]
        timeout_scale: f64,
        /// Run only these tests or groups (`--only auth,delivery.repeat`), to work on a
        /// failure; the rest are omitted and the verdict is at best incomplete (exit 3).
        #[arg(long, value_name = "TEST|GROUP", value_delimiter = ',')]
        only: Vec<String>,
    },
    /// Prove a run's directory is as the run wrote it: the manifest's signature with the
    /// public key, every file's digest, no file added or removed, the verdict following from
    /// the results. Exit 0 when it holds, 1 naming what does not.
    VerifyReport {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        /// The public key (SPKI PEM) of the key the run was signed with.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
    },
    /// Make a key pair for signing runs: FILE (private, 0600) and FILE.pub.
    Keygen {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

pub async fn run(command: ConformanceCommand) -> ExitCode {
    match command {
        ConformanceCommand::Requirements { json } => requirements(json),
        ConformanceCommand::Run {
            suite,
            base_url,
            dir,
            har,
            out,
            inputs,
            key,
            timeout_scale,
            only,
        } => {
            let target = match (base_url, dir, har) {
                (Some(url), _, _) => Where::Url(url),
                (None, Some(dir), _) => Where::Dir(dir),
                (None, None, Some(har)) => Where::Har(har),
                (None, None, None) => {
                    return start_failure(
                        "give --base-url, --dir for link-files or --har for counter-app",
                    );
                }
            };
            run_suite(suite, target, out, inputs, key, timeout_scale, only).await
        }
        ConformanceCommand::VerifyReport { dir, key } => verify(dir, key),
        ConformanceCommand::Keygen { out } => keygen(out),
    }
}

fn start_failure(message: &str) -> ExitCode {
    eprintln!("madoguchi conformance: {message}");
    ExitCode::from(EXIT_START)
}

fn requirements(json: bool) -> ExitCode {
    let catalogue = match Catalogue::built_in() {
        Ok(c) => c,
        Err(e) => return start_failure(&e.to_string()),
    };
    let problems = crate::conformance::catalogue_problems(&catalogue);
    if json {
        let value = serde_json::json!({
            "digest": catalogue.digest,
            "sets": catalogue.sets,
            "problems": problems,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
    } else {
        for set in &catalogue.sets {
            println!(
                "{} {} — {} / {}",
                set.set, set.version, set.title.ja, set.title.en
            );
            let mut shall = (0, 0);
            for r in &set.requirements {
                let tested = if r.tests.is_empty() {
                    format!(
                        "not tested: {}",
                        r.not_tested
                            .as_ref()
                            .map(|n| n.reason.as_str())
                            .unwrap_or("")
                    )
                } else {
                    r.tests.join(", ")
                };
                if r.level == crate::conformance::requirements::Level::Shall {
                    shall.0 += 1;
                    if !r.tests.is_empty() {
                        shall.1 += 1;
                    }
                }
                let cap = r
                    .capability
                    .map(|c| format!(" [{}]", c.as_str()))
                    .unwrap_or_default();
                println!("  {:<24} {:<6}{cap} {}", r.id, r.level.as_str(), r.text.en);
                println!("  {:<24}        {}", "", r.text.ja);
                println!("  {:<24}        source: {} · {tested}", "", r.source);
            }
            println!("{} of {} SHALL requirements have a test.", shall.1, shall.0);
        }
        println!("catalogue {}", catalogue.digest);
        for p in &problems {
            eprintln!("problem: {p}");
        }
    }
    if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_START)
    }
}

/// One line per test on stderr, as it finishes.
struct Lines;

impl Progress for Lines {
    fn started(&self, total: usize) {
        eprintln!("{total} tests");
    }
    fn test_done(&self, index: usize, total: usize, result: &TestResult) {
        let width = total.to_string().len();
        let failed = result.checks.iter().filter(|c| !c.passed).count();
        let detail = match (result.outcome, &result.reason) {
            (Outcome::Fail | Outcome::Warn, _) => format!(
                " — {failed} of {} checks failed: {}",
                result.checks.len(),
                result
                    .checks
                    .iter()
                    .filter(|c| !c.passed)
                    .map(|c| c.requirement.as_str())
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            (_, Some(reason)) => format!(" — {reason}"),
            _ => String::new(),
        };
        eprintln!(
            "[{index:>width$}/{total}] {:<5} {} ({:.1} s){detail}",
            result.outcome.as_str(),
            result.id,
            result.duration_ms as f64 / 1000.0
        );
        let _ = std::io::stderr().flush();
    }
}

/// What a run is pointed at.
enum Where {
    Url(String),
    Dir(PathBuf),
    Har(PathBuf),
}

async fn run_suite(
    suite: String,
    target: Where,
    out: PathBuf,
    inputs: Option<PathBuf>,
    key: Option<PathBuf>,
    timeout_scale: f64,
    only: Vec<String>,
) -> ExitCode {
    let Some(suite) = crate::conformance::suite(&suite) else {
        let names: Vec<&str> = suites().iter().map(|s| s.name).collect();
        return start_failure(&format!(
            "no suite {suite:?}; the suites are {}",
            names.join(", ")
        ));
    };
    use crate::conformance::suite::Target;
    let takes = match suite.target {
        Target::Files => "--dir",
        Target::Recording => "--har",
        Target::Gateway | Target::CoreHttp => "--base-url",
    };
    let given = match &target {
        Where::Url(_) => "--base-url",
        Where::Dir(_) => "--dir",
        Where::Har(_) => "--har",
    };
    if takes != given {
        return start_failure(&format!("the suite {} takes {takes}", suite.name));
    }
    let base_url = match target {
        Where::Har(file) => {
            match std::fs::canonicalize(&file)
                .ok()
                .and_then(|f| reqwest::Url::from_file_path(f).ok())
            {
                Some(u) => u,
                None => return start_failure(&format!("--har {}: no such file", file.display())),
            }
        }
        Where::Dir(dir) => {
            match std::fs::canonicalize(&dir)
                .ok()
                .and_then(|d| reqwest::Url::from_directory_path(d).ok())
            {
                Some(u) => u,
                None => {
                    return start_failure(&format!("--dir {}: no such directory", dir.display()));
                }
            }
        }
        Where::Url(base_url) => match reqwest::Url::parse(&base_url) {
            Ok(u)
                if matches!(u.scheme(), "http" | "https")
                    && u.username().is_empty()
                    && u.password().is_none() =>
            {
                u
            }
            Ok(_) => {
                return start_failure(
                    "--base-url is an http or https URL without credentials in it",
                );
            }
            Err(e) => return start_failure(&format!("--base-url {base_url:?}: {e}")),
        },
    };
    let inputs = match inputs {
        Some(path) => match Inputs::read(&path) {
            Ok(i) => i,
            Err(e) => return start_failure(&e),
        },
        None => Inputs::default(),
    };
    let key = match key.map(|k| package::load_private_key(&k)).transpose() {
        Ok(k) => k,
        Err(e) => return start_failure(&e),
    };
    eprintln!(
        "madoguchi conformance {}: suite {} against {base_url}",
        env!("CARGO_PKG_VERSION"),
        suite.name
    );
    let options = RunOptions {
        suite,
        base_url,
        inputs,
        out: out.clone(),
        timeout_scale,
        key,
        only,
        recording: None,
    };
    match runner::run(options, &Lines).await {
        Ok(report) => {
            eprintln!("{}", report::summary_line(&report));
            eprintln!("report: {}", out.join("report.html").display());
            ExitCode::from(report.verdict.exit_code())
        }
        Err(e) => start_failure(&e.to_string()),
    }
}

fn verify(dir: PathBuf, key: PathBuf) -> ExitCode {
    let pem = match std::fs::read(&key) {
        Ok(p) => p,
        Err(e) => return start_failure(&format!("{}: {e}", key.display())),
    };
    match package::verify(&dir, &pem) {
        Ok(v) => {
            println!(
                "verified: {} files unchanged, signed; suite {}, verdict {} ({})",
                v.manifest.files.len(),
                v.report.suite,
                v.report.verdict.as_str(),
                report::summary_line(&v.report)
            );
            ExitCode::SUCCESS
        }
        Err(problems) => {
            for p in problems {
                eprintln!("madoguchi conformance: {p}");
            }
            ExitCode::FAILURE
        }
    }
}

fn keygen(out: PathBuf) -> ExitCode {
    let (private, public) = match package::generate_key_pair() {
        Ok(k) => k,
        Err(e) => return start_failure(&e),
    };
    let public_path = PathBuf::from(format!("{}.pub", out.display()));
    let written = crate::datadir::create_private(&out)
        .and_then(|mut f| f.write_all(private.as_bytes()))
        .and_then(|()| std::fs::write(&public_path, public));
    match written {
        Ok(()) => {
            println!(
                "private key: {} · public key: {}",
                out.display(),
                public_path.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => start_failure(&format!("{}: {e}", out.display())),
    }
}
