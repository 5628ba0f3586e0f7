//! `muster init` without `--preseed`: the terminal wizard (muster-tui)
//! wired to the local agent. The wizard only asks for effects; this module
//! carries them out (mDNS browsing, the trust session, the members'
//! inventories, `POST /v1/init`) and reports back as [`World`] events.
//!
//! The choices become a preseed file's text ([`preseed_yaml`]) so that the
//! wizard and `muster init --preseed` take one road through the agent: what
//! the plan screen shows is what `--dry-run` prints, and the file is saved
//! for the next time.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context;
use muster_discovery::{BrowseOptions, PeerEvent};
use muster_disks::Disk;
use muster_proto::formation::{paths as fpaths, InitEvent, InitRequest};
use muster_proto::trust::{
    LookUp, Member, NetInterface, OpenSession, SessionOpened, SessionStatus,
};
use muster_proto::{paths, AgentInfo};
use muster_tui::state::ApplyState;
use muster_tui::{Effect, Interface, Progress, StepStatus, Theme, Wizard, World};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::agent::{AgentClient, AgentError};
use crate::args::InitArgs;

mod events;
mod preseed;

use events::{InitEvents, TrustSeen, INIT_STEP};
use preseed::{preseed_yaml, save_preseed};

/// How often the trust session is looked at while the wizard waits for
/// joiners.
const POLL: Duration = Duration::from_millis(500);

pub(crate) async fn run(socket: &Path, args: &InitArgs) -> anyhow::Result<()> {
    if args.dry_run || args.json {
        anyhow::bail!("--dry-run and --json go with --preseed FILE");
    }
    muster_tui::require_tty()?;
    let client = Arc::new(AgentClient::new(socket)?);
    let info: AgentInfo = client.get(paths::INFO).await?;
    let (world, rx) = mpsc::channel(256);
    let stop_browsing = browse(info.name.clone(), world.clone())?;
    let mut driver = Driver {
        client: Arc::clone(&client),
        local: info.name.clone(),
        world,
        outcome: Arc::default(),
        poll: None,
        init: None,
    };
    let outcome = Arc::clone(&driver.outcome);
    let result = muster_tui::run(Wizard::new(&info.name), rx, Theme::from_env(), |effect| {
        driver.handle(effect)
    })
    .await;
    driver.stop();
    let _ = stop_browsing.send(());
    let outcome = lock(&outcome).clone();
    if outcome.opened_session {
        // Nobody is left to watch who joins: the window closes with the
        // wizard.
        let _: Result<SessionStatus, _> = client.delete(paths::SESSION).await;
    }
    let wizard = result.context("the terminal failed")?;
    if let Some(text) = &outcome.preseed {
        match save_preseed(Path::new("."), text) {
            Ok(path) => println!(
                "The choices are saved in {}: `muster init --preseed {}` makes the same cluster.",
                path.display(),
                path.display()
            ),
            Err(e) => eprintln!("warning: the choices could not be saved as a preseed: {e:#}"),
        }
    }
    println!("{}", farewell(wizard.apply_state()));
    Ok(())
}

/// The last word after the wizard, by how far the apply went.
fn farewell(apply: ApplyState) -> &'static str {
    match apply {
        ApplyState::Finished => "The cluster is formed: `muster status` shows it.",
        ApplyState::NotStarted => "muster init stopped before the apply: nothing was changed.",
        // The agent carries on without its viewer.
        ApplyState::Running => {
            "musterd goes on with the apply: `muster status` shows the cluster as it forms."
        }
        ApplyState::Failed => {
            "The apply failed: fix the cause, then run muster init again (with --preseed and \
             the saved file, no questions); it resumes where it stopped."
        }
    }
}

/// Browses mDNS on a task until told to stop, forwarding what it sees
/// except this server's own record.
fn browse(local: String, world: mpsc::Sender<World>) -> anyhow::Result<oneshot::Sender<()>> {
    let mut browser = muster_discovery::browse(&BrowseOptions::default())
        .context("cannot browse for muster agents")?;
    let (stop, mut stopped) = oneshot::channel();
    tokio::spawn(async move {
        loop {
            let event = tokio::select! {
                event = browser.recv() => event,
                _ = &mut stopped => break,
            };
            let Some(event) = event else { break };
            let own = match &event {
                PeerEvent::Found(p) | PeerEvent::Updated(p) => p.name == local,
                PeerEvent::Gone { instance } => *instance == local,
            };
            if !own && world.send(World::Peer(event)).await.is_err() {
                break;
            }
        }
        let _ = browser.shutdown();
    });
    Ok(stop)
}

/// What the run leaves behind for after the wizard.
#[derive(Debug, Clone, Default)]
struct Outcome {
    opened_session: bool,
    /// The preseed of the last plan asked for.
    preseed: Option<String>,
}

fn lock(outcome: &Mutex<Outcome>) -> MutexGuard<'_, Outcome> {
    outcome.lock().unwrap_or_else(|e| e.into_inner())
}

/// Carries out the wizard's effects, each on a task of its own.
struct Driver {
    client: Arc<AgentClient>,
    local: String,
    world: mpsc::Sender<World>,
    outcome: Arc<Mutex<Outcome>>,
    poll: Option<JoinHandle<()>>,
    init: Option<JoinHandle<()>>,
}

impl Driver {
    fn handle(&mut self, effect: Effect) {
        match effect {
            Effect::OpenSession => self.open_session(),
            Effect::LookUpPeer(address) => self.look_up(address),
            Effect::TrustPeers(names) => {
                if let Some(poll) = self.poll.take() {
                    poll.abort();
                }
                let (client, world) = (Arc::clone(&self.client), self.world.clone());
                self.poll = Some(tokio::spawn(watch_trust(client, world, names)));
            }
            Effect::FetchDisks(name) => self.fetch_disks(name),
            Effect::FetchInterfaces(name) => self.fetch_interfaces(name),
            Effect::BuildPlan(selection) => {
                let text = preseed_yaml(&selection);
                lock(&self.outcome).preseed = Some(text.clone());
                self.init(text, true);
            }
            Effect::Apply | Effect::Retry => {
                let text = lock(&self.outcome).preseed.clone();
                match text {
                    Some(text) => self.init(text, false),
                    None => self.send(World::Progress(Progress {
                        member: self.local.clone(),
                        step: INIT_STEP.into(),
                        status: StepStatus::Failed("there is no plan to apply".into()),
                    })),
                }
            }
            Effect::Quit => {}
        }
    }

    fn stop(&mut self) {
        if let Some(poll) = self.poll.take() {
            poll.abort();
        }
        // A running init goes on in the agent regardless; only the view of
        // it ends here.
        if let Some(init) = self.init.take() {
            init.abort();
        }
    }

    fn send(&self, event: World) {
        let world = self.world.clone();
        tokio::spawn(async move {
            let _ = world.send(event).await;
        });
    }

    fn open_session(&self) {
        let (client, world, outcome) = (
            Arc::clone(&self.client),
            self.world.clone(),
            Arc::clone(&self.outcome),
        );
        tokio::spawn(async move {
            let opened: Result<SessionOpened, _> =
                client.post(paths::SESSION, &OpenSession::default()).await;
            let event = match opened {
                Ok(opened) => {
                    lock(&outcome).opened_session = true;
                    World::SessionOpened {
                        passphrase: opened.passphrase,
                        fingerprint: opened.initiator.fingerprint,
                    }
                }
                Err(e) => World::SessionFailed(e.to_string()),
            };
            let _ = world.send(event).await;
        });
    }

    /// Has the local agent ask the agent at `address` who it is; the
    /// answer is judged as a discovered peer's record is.
    fn look_up(&self, address: SocketAddr) {
        let (client, world) = (Arc::clone(&self.client), self.world.clone());
        tokio::spawn(async move {
            let asked: Result<AgentInfo, _> =
                client.post(paths::LOOK_UP, &LookUp { address }).await;
            let peer = match asked {
                Ok(info) => Ok(muster_discovery::classify_info(&info, address)),
                // The other agent's failure as the local one words it,
                // without the socket's path around it.
                Err(AgentError::Status { message, .. }) => Err(message),
                Err(e) => Err(e.to_string()),
            };
            let _ = world.send(World::LookedUp { address, peer }).await;
        });
    }

    /// The agent's own path for this server, or the one that relays to the
    /// member over mutual TLS.
    fn path_of(&self, member: &str, what: &str) -> String {
        if member == self.local {
            what.to_owned()
        } else {
            paths::member(member, what)
        }
    }

    fn fetch_disks(&self, peer: String) {
        let (client, world) = (Arc::clone(&self.client), self.world.clone());
        let path = self.path_of(&peer, paths::DISKS);
        tokio::spawn(async move {
            let event = match client.get::<Vec<Disk>>(&path).await {
                Ok(disks) => World::DisksOf { peer, disks },
                Err(e) => World::DisksFailed {
                    peer,
                    message: e.to_string(),
                },
            };
            let _ = world.send(event).await;
        });
    }

    fn fetch_interfaces(&self, peer: String) {
        let (client, world) = (Arc::clone(&self.client), self.world.clone());
        let path = self.path_of(&peer, paths::INTERFACES);
        tokio::spawn(async move {
            let event = match client.get::<Vec<NetInterface>>(&path).await {
                Ok(list) => World::InterfacesOf {
                    peer,
                    interfaces: list.into_iter().map(interface).collect(),
                },
                Err(e) => World::InterfacesFailed {
                    peer,
                    message: e.to_string(),
                },
            };
            let _ = world.send(event).await;
        });
    }

    fn init(&mut self, preseed: String, dry_run: bool) {
        if let Some(init) = self.init.take() {
            init.abort();
        }
        let (client, world) = (Arc::clone(&self.client), self.world.clone());
        let mut events = InitEvents::new(&self.local, dry_run);
        self.init = Some(tokio::spawn(async move {
            let request = InitRequest {
                preseed,
                passphrase: None,
                dry_run,
            };
            let ended = stream_init(&client, &request, &mut events, &world).await;
            let last = match ended {
                Ok(()) => events.end(None),
                Err(e) => events.end(Some(format!("{e:#}"))),
            };
            for event in last {
                let _ = world.send(event).await;
            }
        }));
    }
}

fn interface(i: NetInterface) -> Interface {
    Interface {
        name: i.name,
        addresses: i.addresses,
        up: i.up,
    }
}

/// Sends the wizard what each line of `POST /v1/init`'s answer means,
/// until the answer ends.
async fn stream_init(
    client: &AgentClient,
    request: &InitRequest,
    events: &mut InitEvents,
    world: &mpsc::Sender<World>,
) -> anyhow::Result<()> {
    let mut response = client.post_stream(fpaths::INIT, request).await?;
    let mut pending: Vec<u8> = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .context("the connection to musterd broke")?
    {
        pending.extend_from_slice(&chunk);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let event: InitEvent =
                serde_json::from_slice(&line).context("unexpected progress line from musterd")?;
            for event in events.on(event) {
                let _ = world.send(event).await;
            }
        }
    }
    Ok(())
}

/// Reports who joins the trust session (and who was trusted before) until
/// every chosen peer is trusted.
async fn watch_trust(client: Arc<AgentClient>, world: mpsc::Sender<World>, chosen: Vec<String>) {
    let mut seen = TrustSeen::default();
    loop {
        let status: Result<SessionStatus, _> = client.get(paths::SESSION).await;
        let members: Result<Vec<Member>, _> = client.get(paths::MEMBERS).await;
        let events = match (status, members) {
            (Ok(status), Ok(members)) => seen.news(&status, &members, &chosen),
            (Err(e), _) | (_, Err(e)) => seen.unreachable(e.to_string()),
        };
        for event in events {
            if world.send(event).await.is_err() {
                return;
            }
        }
        // Choosing more peers later sends TrustPeers again, which starts
        // a new watch.
        if chosen.iter().all(|n| seen.trusted.contains(n)) {
            return;
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests;
