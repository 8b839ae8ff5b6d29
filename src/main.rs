//! `madoguchi`: the gateway and its operator commands. Everything lives in the library; this
//! only installs the TLS crypto provider and hands over to the CLI.

use std::process::ExitCode;

use clap::Parser;

#[actix_web::main]
async fn main() -> ExitCode {
    // Several crates link rustls with different providers; pick aws-lc-rs before any TLS use.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    madoguchi::cli::run(madoguchi::cli::Cli::parse()).await
}
