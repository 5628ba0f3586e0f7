//! The commands' effects: everything here does I/O and stays thin; what is
//! printed comes from [`crate::render`].

use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, Context};
use muster_discovery::BrowseOptions;
use muster_disks::Disk;
use tokio::signal::unix::{signal, SignalKind};
use tokio::time::Instant;

use crate::agent::AgentClient;
use crate::args::{Cli, Command, DisksArgs, PeersArgs};
use crate::render;

/// Runs one parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Peers(args) => peers(args).await,
        Command::Disks(args) => disks(&cli.socket, args).await,
    }
}

async fn peers(args: PeersArgs) -> anyhow::Result<()> {
    // Listen before browsing so that an early Ctrl-C still ends cleanly.
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot watch for Ctrl-C")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot watch for SIGTERM")?;
    let deadline = args
        .timeout
        .map(|secs| Instant::now() + Duration::from_secs(secs));
    let mut browser = muster_discovery::browse(&BrowseOptions {
        interfaces: args.interfaces,
    })
    .context("cannot browse for muster agents")?;

    let mut out = Output::stdout();
    if !args.json {
        out.line(&render::peers_header())?;
    }
    let outcome = loop {
        let event = tokio::select! {
            event = browser.recv() => event,
            _ = interrupt.recv() => break Ok(()),
            _ = terminate.recv() => break Ok(()),
            () = until(deadline) => break Ok(()),
        };
        let Some(event) = event else {
            break Err(anyhow!("the mDNS daemon stopped unexpectedly"));
        };
        let line = if args.json {
            render::peer_event_json(&event)
        } else {
            render::peer_event_line(&event)
        };
        if let Err(e) = out.line(&line) {
            break Err(e);
        }
    };
    browser.shutdown().context("cannot stop browsing")?;
    outcome
}

async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

async fn disks(socket: &Path, args: DisksArgs) -> anyhow::Result<()> {
    let client = AgentClient::new(socket)?;
    let disks: Vec<Disk> = client.get(muster_proto::paths::DISKS).await?;
    let text = if args.json {
        serde_json::to_string_pretty(&disks).context("cannot encode the disk list")?
    } else {
        render::disks_table(&disks)
    };
    Output::stdout().line(text.trim_end())
}

/// Standard output that treats a closed pipe (`muster peers | head`) as the
/// reader being done rather than as an error.
struct Output {
    closed: bool,
}

impl Output {
    fn stdout() -> Self {
        Output { closed: false }
    }

    fn line(&mut self, text: &str) -> anyhow::Result<()> {
        if self.closed {
            return Ok(());
        }
        // Stdout is line-buffered, so each event shows as it happens.
        match writeln!(io::stdout(), "{text}") {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            other => other.context("cannot write to standard output"),
        }
    }
}
