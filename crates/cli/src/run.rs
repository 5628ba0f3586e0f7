//! The commands' effects: everything here does I/O and stays thin; what is
//! printed comes from [`crate::render`].

use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, Context};
use muster_discovery::BrowseOptions;
use muster_disks::Disk;
use muster_proto::paths;
use muster_proto::trust::NetInterface;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::signal::unix::{signal, SignalKind};
use tokio::time::Instant;

use crate::agent::AgentClient;
use crate::args::{Cli, Command, DisksArgs, InterfacesArgs, PeersArgs};
use crate::output::Output;
use crate::{render, render_trust, trust};

/// Runs one parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Peers(args) => peers(args).await,
        Command::Disks(args) => disks(&cli.socket, args).await,
        Command::Interfaces(args) => interfaces(&cli.socket, args).await,
        Command::Session(command) => trust::session(&cli.socket, command).await,
        Command::Join(args) => trust::join(&cli.socket, args).await,
        Command::Members(args) => trust::members(&cli.socket, args).await,
        Command::Init(args) if args.preseed.as_os_str().is_empty() => {
            crate::init_tui::run(&cli.socket, &args).await
        }
        Command::Init(args) => crate::formation::init(&cli.socket, args).await,
        Command::Add(args) => crate::formation::add(&cli.socket, args).await,
        Command::Status(args) => crate::formation::status(&cli.socket, args.json).await,
        Command::Remove(args) => crate::removal::remove(&cli.socket, args).await,
        Command::Maintenance(args) => crate::removal::maintenance(&cli.socket, args).await,
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

/// The local agent's own path for `what`, or the one through which it asks
/// the trusted member `peer`.
fn local_or_member(what: &str, peer: Option<&str>) -> String {
    match peer {
        Some(name) => paths::member(name, what),
        None => what.to_owned(),
    }
}

async fn disks(socket: &Path, args: DisksArgs) -> anyhow::Result<()> {
    let path = local_or_member(paths::DISKS, args.peer.as_deref());
    show_list::<Disk>(socket, &path, args.json, render::disks_table).await
}

async fn interfaces(socket: &Path, args: InterfacesArgs) -> anyhow::Result<()> {
    let path = local_or_member(paths::INTERFACES, args.peer.as_deref());
    show_list::<NetInterface>(socket, &path, args.json, render_trust::interfaces_table).await
}

/// Asks the agent for a list and prints it as a table, or as JSON.
async fn show_list<T: DeserializeOwned + Serialize>(
    socket: &Path,
    path: &str,
    json: bool,
    table: fn(&[T]) -> String,
) -> anyhow::Result<()> {
    let client = AgentClient::new(socket)?;
    let items: Vec<T> = client.get(path).await?;
    let text = if json {
        serde_json::to_string_pretty(&items).context("cannot encode the answer as JSON")?
    } else {
        table(&items)
    };
    Output::stdout().line(text.trim_end())
}
