//! The command line: `serve` (the default) and the operator commands. Commands whose output
//! a script would read take `--json`; human output shows times in +09:00.

mod admin;
mod audit;
pub mod card;
mod catalog;
mod conformance;
mod core_sim;
mod forms;
mod link;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{LogFormat, Settings};
use crate::http::middleware::telemetry;

#[derive(Debug, Parser)]
#[command(
    name = "madoguchi",
    version,
    about = "書かないワンストップ窓口 gateway: vendors' counter apps ⇄ municipal core systems"
)]
pub struct Cli {
    /// TOML configuration file (also MADOGUCHI_CONFIG).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory of the embedded SQLite database (also MADOGUCHI_DATA_DIR).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Write logs as JSON lines (also MADOGUCHI_LOG__FORMAT=json).
    #[arg(long, global = true)]
    pub log_json: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway (the default command).
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate {
        #[arg(long)]
        json: bool,
    },
    /// Print the OpenAPI document.
    Openapi,
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// OAuth2 clients of vendors' applications.
    #[command(subcommand)]
    Clients(ClientsCommand),
    /// Municipalities (tenants).
    #[command(subcommand)]
    Municipalities(MunicipalitiesCommand),
    /// Staff accounts of the counter console (clerks, supervisors, administrators).
    #[command(subcommand)]
    Staff(StaffCommand),
    /// Standard form schemas, offline (no database): list them, check documents.
    #[command(subcommand)]
    Forms(FormsCommand),
    /// A municipality's changes to the procedure catalogue.
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// My Number card data, offline (no database, no reader): check a card dump.
    #[command(subcommand)]
    Card(CardCommand),
    /// The core-system link: the resident directory from the 住民記録 system's files, and the
    /// outbox of applications to core systems.
    #[command(subcommand)]
    Link(LinkCommand),
    /// A simulated core system for the demo and tests (not for production): takes
    /// applications from the http connector, a file outbox or the pull API, and answers them
    /// by simple rules.
    CoreSim(Box<core_sim::CoreSimArgs>),
    /// The conformance kit, offline (no database, no gateway of its own): the requirement
    /// catalogue, a suite run against a system under test, a run's signed report verified.
    #[command(subcommand)]
    Conformance(conformance::ConformanceCommand),
    /// A virtual My Number card in a PC/SC reader through vsmartcard-vpcd: connecting inserts
    /// it, ending the command (or vpcd closing) removes it.
    VirtualCard(VirtualCardArgs),
}

#[derive(Debug, Args)]
pub struct VirtualCardArgs {
    /// vpcd's address (pcscd with vsmartcard-vpcd listens on port 35963).
    #[arg(long, value_name = "HOST:PORT")]
    pub vpcd: String,
    /// Play the card recorded in this dump (no card key: it cannot answer a challenge)
    /// instead of a synthetic one.
    #[arg(long, value_name = "DIR")]
    pub dump: Option<PathBuf>,
    /// For a synthetic card: write its CA keys and root here (cvc/kenhojo/9000033-001.pem …) so that the gateway can
    /// verify it.
    #[arg(long, value_name = "DIR")]
    pub trust_dir: Option<PathBuf>,
    /// The card's 4-digit PIN.
    #[arg(long, default_value = "1234")]
    pub pin: String,
    /// 照合番号B of a dump's card (a synthetic card's follows from its resident).
    #[arg(long, value_name = "DIGITS")]
    pub matching_b: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum CardCommand {
    /// Check a card dump against a trust directory: exit 0 when every check that the dump
    /// allows passes, 2 naming the one that fails. Prints the 基本4情報 found.
    Verify {
        /// The dump: kenhojo/, kenkaku/, jpki/ with one file per EF (0002.bin …).
        #[arg(value_name = "DUMP_DIR")]
        dump: PathBuf,
        /// cvc/kenhojo/, cvc/kenkaku/ (J-LIS CVC CA keys by whole reference), jpki/ (root
        /// certificates), jpki-policies.txt, jpki-crl/.
        #[arg(long, value_name = "DIR")]
        trust_dir: PathBuf,
        #[arg(long)]
        json: bool,
        /// Print the 個人番号 in full instead of masked (it is 特定個人情報: only when needed).
        #[arg(long)]
        show_my_number: bool,
        /// Judge the JPKI certificate's validity and revocation as of this day (YYYY-MM-DD, the
        /// day the dump was recorded) instead of today.
        #[arg(long, value_name = "DATE")]
        at: Option<chrono::NaiveDate>,
    },
    /// Write a practice dump of a synthetic card (our own test CA 9000033, never a J-LIS key)
    /// and the trust directory that verifies it.
    MakeTestDump {
        #[arg(value_name = "DUMP_DIR")]
        dump: PathBuf,
        #[arg(long, value_name = "DIR")]
        trust_dir: PathBuf,
        /// The municipality the synthetic issuer stands for.
        #[arg(long, default_value = "012084")]
        lg_code: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum LinkCommand {
    /// Apply a full (全件) or differential (差分) 住民記録 file to a municipality's directory:
    /// every row is checked first, and a file with a bad row changes nothing (exit 2, each
    /// problem with its line). The same file applied again changes nothing.
    Import {
        /// The UTF-8 CSV file (the layout is in docs/link.md).
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// The municipality's lgCode.
        #[arg(long)]
        lg_code: String,
        /// `full` replaces the directory; `diff` applies A/U/D rows in order.
        #[arg(long, value_parser = ["full", "diff"])]
        kind: String,
        #[arg(long)]
        json: bool,
    },
    /// Write a synthetic full file (made-up residents, no real person) for practice and
    /// load tests.
    Sample {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        #[arg(long, default_value = "012084")]
        lg_code: String,
        #[arg(long, default_value_t = 1000)]
        residents: u64,
    },
    /// Watch a directory for 住民記録 files and apply each as it arrives, in the order of what
    /// follows the prefix (`full-20261203-0100.csv`, `diff-20261203-0110.csv`; a full file
    /// first on a tie): `full-*` replaces the directory, `diff-*` changes it. Write a file under another
    /// name (`*.tmp`) and rename it into place when complete. Applied files (and files applied
    /// before) move to `done/`, refused ones to `rejected/` with `<name>.errors.txt`.
    Watch {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        #[arg(long)]
        lg_code: String,
        /// How often to look, in milliseconds.
        #[arg(long, default_value_t = 2000)]
        interval_ms: u64,
    },
    /// The outbox: applications on their way to core systems (pending, delivered, dead).
    Deliveries {
        /// Only this municipality's.
        #[arg(long)]
        lg_code: Option<String>,
        /// Only those in this state (`dead`: the dead letters).
        #[arg(long, value_parser = ["pending", "delivered", "dead"])]
        state: Option<String>,
        /// At most this many, oldest first.
        #[arg(long, default_value_t = 100)]
        limit: u64,
        #[arg(long)]
        json: bool,
    },
    /// Send dead deliveries on their way again (each audited as delivery.replay): the ones
    /// named, or with --all-dead every dead one (of --lg-code's municipality).
    Replay {
        #[arg(value_name = "DELIVERY_ID")]
        ids: Vec<uuid::Uuid>,
        #[arg(long, conflicts_with = "ids")]
        all_dead: bool,
        #[arg(long, requires = "all_dead")]
        lg_code: Option<String>,
    },
    /// The municipality's directory size and the files applied, newest first.
    Imports {
        lg_code: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Print the municipality's current overrides and their version.
    ShowOverrides {
        /// The municipality's lgCode.
        lg_code: String,
        #[arg(long)]
        json: bool,
    },
    /// Replace the municipality's overrides with a JSON file (a new catalogue version for
    /// visits opened from now on); every problem is printed and nothing is stored.
    SetOverrides {
        lg_code: String,
        /// The overrides: {"procedures": {…}, "local": […]}.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Print the catalogue as Markdown for legal review: each procedure's article, deadline,
    /// facts, questions and rule, then the procedures whose legal basis names no article.
    /// Without --lg-code, the built-in catalogue (no database needed).
    Report {
        /// The catalogue in force for this municipality (its overrides applied).
        #[arg(long)]
        lg_code: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum FormsCommand {
    /// List the forms, their versions and the dialects.
    List {
        #[arg(long)]
        json: bool,
        /// Use this schema directory instead of the built-in schemas.
        #[arg(long, value_name = "DIR")]
        schemas: Option<PathBuf>,
    },
    /// Normalize and validate form documents; exit 1 when any is invalid.
    Check {
        /// The form, as <id> (newest version) or <id>@<version>.
        #[arg(long, value_name = "ID[@VERSION]")]
        form: String,
        /// JSON documents to check.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// The documents are in this vendor dialect's layout.
        #[arg(long, value_name = "NAME")]
        dialect: Option<String>,
        /// Print a JSON report.
        #[arg(long)]
        json: bool,
        /// Language of messages: ja (default) or en.
        #[arg(long, value_name = "LANG")]
        lang: Option<String>,
        /// Use this schema directory instead of the built-in schemas.
        #[arg(long, value_name = "DIR")]
        schemas: Option<PathBuf>,
    },
}

#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    /// Address to listen on, host:port (also MADOGUCHI_BIND; default 127.0.0.1:8080).
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain and its checkpoints: exit 0 when intact, 2 naming the first
    /// broken entry.
    Verify {
        #[arg(long)]
        json: bool,
        /// An entry recorded earlier, as a previous verify printed it (SEQ:HASH, or the hash
        /// alone): also detects removal of the newest entries and a rewrite of the log.
        #[arg(long, value_name = "SEQ:HASH")]
        expect_head: Option<String>,
    },
    /// Record a checkpoint of the newest entry now, signed with the server key.
    Checkpoint {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Register a client; its secret is printed once.
    Create {
        /// Who the client is (vendor and application).
        #[arg(long)]
        name: String,
        /// A scope it may use; repeat for several.
        #[arg(long = "scope", required = true, value_parser = scope_names())]
        scopes: Vec<String>,
        /// lgCode of a municipality it acts for; repeat for several.
        #[arg(long = "municipality")]
        municipalities: Vec<String>,
        /// With scope link: a business area the core system may pull and answer; repeat for
        /// several. Without it, every area.
        #[arg(long = "link-area")]
        link_areas: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// List clients.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a client: its secret gets no more tokens.
    Revoke {
        client_id: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum StaffCommand {
    /// Create a staff account. The password is asked for at the terminal (not echoed), or
    /// read from the first line of standard input with --password-stdin.
    Create {
        /// The municipality's lgCode.
        #[arg(long)]
        lg_code: String,
        /// 1–32 of a-z, 0-9 and . _ -; unique in the municipality.
        #[arg(long)]
        login: String,
        /// The name colleagues know them by.
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = ["clerk", "supervisor", "admin"], default_value = "clerk")]
        role: String,
        /// Read the password from standard input (its first line).
        #[arg(long)]
        password_stdin: bool,
        /// No password: the account logs in only through the municipality's identity
        /// provider.
        #[arg(long, conflicts_with = "password_stdin")]
        no_password: bool,
        #[arg(long)]
        json: bool,
    },
    /// List a municipality's staff accounts.
    List {
        #[arg(long)]
        lg_code: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum MunicipalitiesCommand {
    /// Register a municipality.
    Create {
        /// 全国地方公共団体コード (6 digits, with check digit).
        #[arg(long)]
        lg_code: String,
        #[arg(long)]
        name: String,
        /// Name in full-width katakana.
        #[arg(long)]
        name_kana: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List municipalities.
    List {
        #[arg(long)]
        json: bool,
    },
}

/// Every scope, as `clients create --help` lists it (from the one list of scopes, so the help
/// never leaves one out).
fn scope_names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(
        crate::auth::Scope::ALL
            .iter()
            .map(|s| clap::builder::PossibleValue::new(s.as_str()).help(s.description())),
    )
}

/// Exit status of a failed command whose failure is a finding (a broken audit chain).
pub const EXIT_FINDING: u8 = 2;

fn settings(cli: &Cli, serve: Option<&ServeArgs>) -> Result<Settings, String> {
    let mut settings = Settings::load(cli.config.as_deref()).map_err(|e| e.to_string())?;
    if let Some(dir) = &cli.data_dir {
        settings.data_dir.clone_from(dir);
    }
    if let Some(bind) = serve.and_then(|s| s.bind.as_ref()) {
        settings.bind.clone_from(bind);
    }
    if cli.log_json {
        settings.log.format = LogFormat::Json;
    }
    settings.check().map_err(|e| e.to_string())?;
    Ok(settings)
}

/// Runs the command line; the return value is the process's exit status.
pub async fn run(cli: Cli) -> ExitCode {
    if let Some(Command::Forms(command)) = cli.command {
        return forms::run(command).unwrap_or_else(|e| fail(&e));
    }
    if let Some(Command::Conformance(command)) = cli.command {
        return conformance::run(command).await;
    }
    if let Some(Command::CoreSim(args)) = cli.command {
        return core_sim::run(*args).await.unwrap_or_else(|e| fail(&e));
    }
    if let Some(Command::VirtualCard(args)) = cli.command {
        return card::virtual_card(args).await.unwrap_or_else(|e| fail(&e));
    }
    if let Some(Command::Card(command)) = cli.command {
        return card::run(command).unwrap_or_else(|e| fail(&e));
    }
    if let Some(Command::Openapi) = cli.command {
        let forms = match crate::forms::FormRegistry::load(&crate::forms::SchemaSource::Embedded) {
            Ok(f) => f,
            Err(e) => return fail(&e.to_string()),
        };
        let catalog =
            match crate::catalog::Catalog::load(&crate::forms::SchemaSource::Embedded, &forms) {
                Ok(c) => c,
                Err(e) => return fail(&e.to_string()),
            };
        return match crate::http::openapi::document_json(&forms, &catalog) {
            Ok(json) => {
                print!("{json}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e.to_string()),
        };
    }
    let default_serve = ServeArgs::default();
    let serve_args = match &cli.command {
        None => Some(&default_serve),
        Some(Command::Serve(args)) => Some(args),
        _ => None,
    };
    let settings = match settings(&cli, serve_args) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    // Operator commands log warnings only, so that their own output stays readable.
    let level = if serve_args.is_some() {
        settings.log.level.clone()
    } else {
        "warn".to_owned()
    };
    telemetry::init(settings.log.format, &level);
    let result = match cli.command {
        None | Some(Command::Serve(_)) => serve::run(settings).await,
        Some(Command::Migrate { json }) => admin::migrate(&settings, json).await,
        Some(Command::Openapi)
        | Some(Command::Forms(_))
        | Some(Command::Card(_))
        | Some(Command::VirtualCard(_))
        | Some(Command::Conformance(_))
        | Some(Command::CoreSim(_)) => Ok(ExitCode::SUCCESS),
        Some(Command::Audit(AuditCommand::Verify { json, expect_head })) => {
            audit::verify(&settings, json, expect_head.as_deref()).await
        }
        Some(Command::Audit(AuditCommand::Checkpoint { json })) => {
            audit::checkpoint(&settings, json).await
        }
        Some(Command::Clients(command)) => admin::clients(&settings, command).await,
        Some(Command::Municipalities(command)) => admin::municipalities(&settings, command).await,
        Some(Command::Staff(command)) => admin::staff(&settings, command).await,
        Some(Command::Catalog(command)) => catalog::run(&settings, command).await,
        Some(Command::Link(command)) => link::run(&settings, command).await,
    };
    result.unwrap_or_else(|e| fail(&e))
}

fn fail(message: &str) -> ExitCode {
    eprintln!("madoguchi: {message}");
    ExitCode::FAILURE
}

/// A time as a person in Japan reads it.
fn jst(t: chrono::DateTime<chrono::Utc>) -> String {
    chrono::FixedOffset::east_opt(9 * 3600).map_or_else(
        || t.to_rfc3339(),
        |jst| {
            t.with_timezone(&jst)
                .format("%Y-%m-%d %H:%M:%S%:z")
                .to_string()
        },
    )
}

fn print_json(value: &impl serde::Serialize) -> Result<(), String> {
    let json = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    println!("{json}");
    Ok(())
}
