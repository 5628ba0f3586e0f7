//! The trust commands: `session open|status|close`, `join`, `members`. The
//! local agent does the work; this asks it and shows the answer.

use std::fs;
use std::io::{self, IsTerminal};
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use muster_proto::paths;
use muster_proto::trust::{
    Initiator, JoinRequest, Joined, Member, OpenSession, SessionOpened, SessionPhase, SessionStatus,
};
use tokio::signal::unix::{signal, SignalKind};

use crate::agent::AgentClient;
use crate::args::{JoinArgs, MembersArgs, MembersCommand, SessionCommand, SessionOpenArgs};
use crate::output::Output;
use crate::render_trust as render;

pub async fn session(socket: &Path, command: SessionCommand) -> anyhow::Result<()> {
    let client = AgentClient::new(socket)?;
    let mut out = Output::stdout();
    match command {
        SessionCommand::Open(args) => {
            let opened = open(&client, &args).await?;
            if args.json {
                out.line(&serde_json::to_string(&opened)?)?;
            } else {
                out.line(render::session_opened(&opened).trim_end())?;
            }
            if args.watch {
                watch(&client, &mut out).await?;
            }
            Ok(())
        }
        SessionCommand::Status(args) => {
            let status: SessionStatus = client.get(paths::SESSION).await?;
            if args.json {
                out.line(&serde_json::to_string(&status)?)
            } else {
                out.line(render::session_status(&status).trim_end())
            }
        }
        SessionCommand::Close => {
            let status: SessionStatus = client.delete(paths::SESSION).await?;
            out.line(render::session_status(&status).trim_end())
        }
    }
}

/// How often `session open --watch` looks at the session.
const WATCH_INTERVAL: Duration = Duration::from_millis(500);

/// Prints what happens to the session until it ends, or Ctrl-C.
async fn watch(client: &AgentClient, out: &mut Output) -> anyhow::Result<()> {
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot watch for Ctrl-C")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot watch for SIGTERM")?;
    let mut before: SessionStatus = client.get(paths::SESSION).await?;
    while before.phase == SessionPhase::Open {
        tokio::select! {
            () = tokio::time::sleep(WATCH_INTERVAL) => {}
            _ = interrupt.recv() => return Ok(()),
            _ = terminate.recv() => return Ok(()),
        }
        let now: SessionStatus = client.get(paths::SESSION).await?;
        for line in render::session_changes(&before, &now) {
            out.line(&line)?;
        }
        before = now;
    }
    Ok(())
}

async fn open(client: &AgentClient, args: &SessionOpenArgs) -> anyhow::Result<SessionOpened> {
    let passphrase = match &args.passphrase_file {
        Some(path) => Some(read_passphrase_file(path)?),
        None => None,
    };
    let request = OpenSession {
        passphrase,
        timeout_secs: Some(args.timeout.as_secs()),
        max_failures: args.max_failures,
        replace: args.replace.clone(),
    };
    Ok(client.post(paths::SESSION, &request).await?)
}

pub async fn join(socket: &Path, args: JoinArgs) -> anyhow::Result<()> {
    let client = AgentClient::new(socket)?;
    let initiator = if args.initiators.is_empty() {
        let found = find_initiator(&client, args.discover_timeout.as_secs()).await?;
        eprintln!(
            "Found {} with an open trust session at {}.",
            muster_discovery::printable(&found.name),
            found.endpoints.join(", ")
        );
        found.endpoints
    } else {
        args.initiators.clone()
    };
    let passphrase = match &args.passphrase_file {
        Some(path) => read_passphrase_file(path)?,
        None => ask_passphrase()?,
    };
    let joined: Joined = client
        .post(
            paths::JOIN,
            &JoinRequest {
                initiator,
                passphrase,
            },
        )
        .await?;
    let mut out = Output::stdout();
    if args.json {
        out.line(&serde_json::to_string(&joined)?)
    } else {
        out.line(render::joined(&joined).trim_end())
    }
}

/// The one server announcing an open session, as the local agent sees the
/// LAN.
async fn find_initiator(client: &AgentClient, wait_secs: u64) -> anyhow::Result<Initiator> {
    let path = format!("{}?wait_secs={wait_secs}", paths::INITIATORS);
    let mut found: Vec<Initiator> = client.get(&path).await?;
    match found.len() {
        0 => bail!(
            "no server with an open trust session was found over mDNS within {wait_secs} s: open \
             one on the initiator (`muster session open`), or give its address with --initiator"
        ),
        1 => Ok(found.remove(0)),
        _ => {
            let names: Vec<String> = found
                .iter()
                .map(|i| {
                    format!(
                        "{} ({})",
                        muster_discovery::printable(&i.name),
                        i.endpoints.join(", ")
                    )
                })
                .collect();
            bail!(
                "several servers have a trust session open: {}; choose one with --initiator ADDRESS",
                names.join("; ")
            )
        }
    }
}

/// The first line of `path`, which must not be empty.
pub fn read_passphrase_file(path: &Path) -> anyhow::Result<String> {
    let text = fs::read_to_string(path)
        .with_context(|| format!("cannot read the passphrase file {}", path.display()))?;
    let line = text.lines().next().unwrap_or_default().trim().to_owned();
    if line.is_empty() {
        bail!("the passphrase file {} is empty", path.display());
    }
    Ok(line)
}

/// Asks on the terminal without echo.
fn ask_passphrase() -> anyhow::Result<String> {
    if !io::stdin().is_terminal() {
        bail!("no terminal to ask the passphrase on: give it with --passphrase-file FILE");
    }
    let typed = rpassword::prompt_password("Passphrase (shown on the initiator): ")
        .context("cannot read the passphrase from the terminal")?;
    if typed.trim().is_empty() {
        bail!("no passphrase typed");
    }
    Ok(typed)
}

pub async fn members(socket: &Path, args: MembersArgs) -> anyhow::Result<()> {
    let client = AgentClient::new(socket)?;
    if let Some(MembersCommand::Forget { name }) = &args.command {
        let forgotten: Member = client.delete(&paths::trusted_member(name)).await?;
        return Output::stdout().line(&render::forgotten(&forgotten));
    }
    let members: Vec<Member> = client.get(paths::MEMBERS).await?;
    let mut out = Output::stdout();
    if args.json {
        out.line(&serde_json::to_string_pretty(&members)?)
    } else {
        out.line(render::members_table(&members).trim_end())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_passphrase_file_gives_its_first_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p");
        fs::write(&path, "  apple tree river stone cloud \nsecond line\n").unwrap();
        assert_eq!(
            read_passphrase_file(&path).unwrap(),
            "apple tree river stone cloud"
        );
        fs::write(&path, "\n").unwrap();
        let err = read_passphrase_file(&path).unwrap_err().to_string();
        assert!(err.ends_with("is empty"), "{err}");
        let err = read_passphrase_file(&dir.path().join("absent"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("cannot read the passphrase file"), "{err}");
    }
}
