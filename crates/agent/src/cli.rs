//! The `musterd` command line and the process around the agent: logging,
//! the runtime, exit codes and error output.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{CommandFactory, Parser};
use nix::sys::stat::{umask, Mode};

use crate::config::Config;
use crate::{logging, server};

/// The muster agent: advertises this server on the LAN and carries out its
/// part of forming the cluster. Runs as a systemd service (musterd.service).
#[derive(Debug, Parser)]
#[command(name = "musterd", version = muster_proto::VERSION_LINE)]
pub struct Args {
    /// Configuration file. Without this option /etc/muster/musterd.toml is
    /// read if it exists, and every default applies if it does not.
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
}

/// The clap command, for generating man pages and completions.
pub fn command() -> clap::Command {
    Args::command()
}

/// Everything `musterd` does after parsing its arguments. Failures print
/// `error: ...` with their causes and give exit code 1.
pub fn main(args: Args) -> ExitCode {
    // What the agent writes is private unless it says otherwise (the
    // socket is opened up to its group explicitly).
    umask(Mode::from_bits_truncate(0o077));
    logging::init();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&e);
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let config = Config::load(args.config.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(server::run(config));
    // A disk scan stuck in the kernel must not hold the exit forever.
    runtime.shutdown_timeout(Duration::from_secs(2));
    result
}

/// Prints an error and its causes, one per line; never a backtrace.
pub fn report(error: &anyhow::Error) {
    eprintln!("error: {error}");
    for cause in error.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
}
