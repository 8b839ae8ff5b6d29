//! `madoguchi-bridge`: the program on a counter PC that relays its card reader to the gateway
//! (see `madoguchi::bridge`). Built with `--features pcsc` it reads a PC/SC reader; without,
//! it offers only the virtual card (practice and tests).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use madoguchi::bridge::{self, Options, reader};

#[derive(Debug, Parser)]
#[command(
    name = "madoguchi-bridge",
    version,
    about = "窓口端末のカードリーダーをゲートウェイにつなぐ / the counter PC's card-reader bridge"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Enrol this counter PC with the one-time code an administrator got from
    /// `POST /v1/admin/devices`: makes the bridge's key and fetches its certificate.
    Enrol {
        /// The gateway's API base URL (https://… in production).
        #[arg(long, value_name = "URL")]
        gateway: String,
        /// The one-time enrolment code (XXXX-XXXX-XXXX).
        #[arg(long)]
        code: String,
        /// Where the bridge keeps its key, certificates and settings.
        #[arg(long, value_name = "DIR", default_value = "./bridge")]
        dir: PathBuf,
        /// A CA certificate (PEM) to trust for the gateway's HTTPS, besides the system's.
        #[arg(long, value_name = "PEM")]
        gateway_ca: Option<PathBuf>,
    },
    /// Connect to the gateway and serve card sessions until stopped.
    Run(RunArgs),
}

#[derive(Debug, Args)]
struct RunArgs {
    #[arg(long, value_name = "DIR", default_value = "./bridge")]
    dir: PathBuf,
    /// The device port's URL, instead of the one the gateway gave at enrolment.
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// The PC/SC reader whose name contains this (the first reader when empty).
    #[cfg(feature = "pcsc")]
    #[arg(long, value_name = "NAME", conflicts_with = "virtual_card")]
    reader: Option<String>,
    /// Play a virtual card instead of a reader: the sample resident's synthetic card, or the
    /// card recorded in --dump.
    #[arg(long)]
    virtual_card: bool,
    /// With --virtual-card: the card recorded in this dump.
    #[arg(long, value_name = "DIR")]
    dump: Option<PathBuf>,
    /// With --virtual-card: write the synthetic card's CA keys here (the gateway's trust
    /// directory in a practice setup).
    #[arg(long, value_name = "DIR")]
    virtual_trust_dir: Option<PathBuf>,
    /// With --virtual-card: the card's PIN.
    #[arg(long, default_value = "1234")]
    card_pin: String,
    /// Take the resident's PIN from this environment variable instead of asking at the
    /// terminal (tests and demonstrations only).
    #[arg(long, value_name = "VAR")]
    pin_from_env: Option<String>,
    /// Send a PIN even when only one try is left (the clerk has confirmed it with the resident).
    #[arg(long)]
    confirm_last_try: bool,
    /// Ask the PIN at the bridge's prompt even where the reader has its own PIN pad.
    #[arg(long)]
    no_pin_pad: bool,
    /// With --virtual-card: give the virtual reader a PIN pad on which the resident types PIN
    /// (practice and tests of PIN-pad readers).
    #[arg(long, value_name = "PIN")]
    virtual_pin_pad: Option<String>,
}

async fn run(args: RunArgs) -> Result<(), String> {
    let options = Options {
        url: args.url.clone(),
        confirm_last_try: args.confirm_last_try,
    };
    let pin: Box<dyn Fn() -> Result<PinChoice, String>> = Box::new(|| match &args.pin_from_env {
        Some(var) => std::env::var(var)
            .map(|p| PinChoice::Fixed(reader::FixedPin(p)))
            .map_err(|_| format!("{var} is not set")),
        None => Ok(PinChoice::Prompt(reader::PromptPin)),
    });
    if args.virtual_card {
        let (card, who) = madoguchi::cli::card::practice_card(
            args.dump.as_deref(),
            args.virtual_trust_dir.as_deref(),
            &args.card_pin,
            None,
        )?;
        eprintln!("madoguchi-bridge: virtual card: {who}");
        let reader = reader::VirtualReader {
            card,
            present: true,
            pin_pad: args.virtual_pin_pad.clone(),
        };
        return match pin()? {
            PinChoice::Fixed(p) => bridge::run(&args.dir, reader, p, options).await,
            PinChoice::Prompt(p) => bridge::run(&args.dir, reader, p, options).await,
        };
    }
    #[cfg(feature = "pcsc")]
    {
        let mut reader = bridge::pcsc_reader::PcscReader::open(args.reader.as_deref())?;
        if args.no_pin_pad {
            reader = reader.without_pin_pad();
        }
        match pin()? {
            PinChoice::Fixed(p) => bridge::run(&args.dir, reader, p, options).await,
            PinChoice::Prompt(p) => bridge::run(&args.dir, reader, p, options).await,
        }
    }
    #[cfg(not(feature = "pcsc"))]
    Err("this madoguchi-bridge is built without PC/SC: use --virtual-card, or build with `cargo build --release --features pcsc --bin madoguchi-bridge`".to_owned())
}

enum PinChoice {
    Fixed(reader::FixedPin),
    Prompt(reader::PromptPin),
}

#[tokio::main]
async fn main() -> ExitCode {
    // One TLS provider for the process, as the gateway's binary does.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Enrol {
            gateway,
            code,
            dir,
            gateway_ca,
        } => bridge::enrol(&gateway, &code, &dir, gateway_ca.as_deref())
            .await
            .map(|e| {
                println!(
                    "enrolled as {} ({}) of {}; the device port is {}",
                    e.counter_name,
                    e.device_id,
                    e.lg_code,
                    e.bridge_url
                        .as_deref()
                        .unwrap_or("not given: pass --url to run")
                );
            }),
        Command::Run(args) => run(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("madoguchi-bridge: {e}");
            ExitCode::FAILURE
        }
    }
}
