use std::process::ExitCode;

use clap::Parser;
use muster_cli::Cli;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    muster_cli::install_crypto_provider();
    // Quiet by default: mdns-sd reports every interface it cannot use.
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn,mdns_sd=error"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();

    let cli = Cli::parse();
    let outcome = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| runtime.block_on(muster_cli::run(cli)));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
