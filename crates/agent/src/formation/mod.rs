//! `muster init`, run by the initiator's agent for the local CLI: trust,
//! then the plan carried out by `muster_apply` over the members as this
//! agent reaches them ([`members`]), with progress streamed back.
//!
//! Resuming is re-planning: before every step every member is observed
//! again and the plan computed anew from what is really there
//! (`muster_plan`), so a run after a failure does what is left, and a run
//! on a formed cluster does nothing.

mod members;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use muster_apply::{Event, Outcome, Planned, Refusal};
use muster_plan::{Choices, Observed};
use muster_preseed::{Inventory, KnownMember, PassphraseSource, Preseed};
use muster_proto::formation::{InitEvent, InitRequest};
use muster_proto::paths;
use muster_proto::trust::{NetInterface, OpenSession};
use tokio::sync::mpsc;

use crate::cluster_state::{self, ClusterMember, ClusterState};
use crate::error::{Error, Kind};
use crate::member::request_member;
use crate::shared::{Shared, State};
use members::Members;

/// A member that has not joined the trust session after this long and was
/// never seen on the LAN is taken to be unknown.
const UNSEEN_GRACE: Duration = Duration::from_secs(10);
/// Reading a member's LXD and disks.
const OBSERVE_TIMEOUT: Duration = Duration::from_secs(60);
/// Asking a member whether it trusts this server: a TLS handshake.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// `muster init`: runs it, streaming its progress to `events`, which end
/// with `Done` or `Failed`. One run at a time.
pub(crate) async fn init(state: State, req: InitRequest, events: mpsc::Sender<InitEvent>) {
    guarded(&state, "muster init", events, async |progress| {
        run(&state, &req, progress).await
    })
    .await
}

/// `muster add`: the preseed this server formed the cluster with, its
/// members and the request's (new members and their session), carried
/// out as `init` is.
pub(crate) async fn add(state: State, req: InitRequest, events: mpsc::Sender<InitEvent>) {
    let add = async |progress: &Progress| {
        let kept = cluster_state::load_preseed(&state.state_dir)
            .map_err(|e| {
                Failure::input(format!(
                    "cannot read the preseed kept in {}: {e}",
                    state.state_dir.display()
                ))
            })?
            .ok_or_else(|| {
                Failure::input(
                    "this server has not formed a cluster with `muster init` (it keeps the \
                     cluster's preseed): run `muster add` on the server that did. A cluster \
                     formed before muster kept it grows by running `muster init` again with \
                     the new members added to its preseed. Nothing was changed.",
                )
            })?;
        let preseed = muster_preseed::merge::add_members(&kept, &req.preseed).map_err(|e| {
            Failure::input(format!(
                "the file of new members is not valid, nothing was changed:\n{e}"
            ))
        })?;
        let merged = InitRequest {
            preseed,
            ..req.clone()
        };
        run(&state, &merged, progress).await
    };
    guarded(&state, "muster add", events, add).await
}

/// Runs `run` unless init or add is already running, streaming its
/// progress and its end to `events`.
async fn guarded(
    state: &State,
    what: &str,
    events: mpsc::Sender<InitEvent>,
    run: impl AsyncFnOnce(&Progress) -> Result<String, Failure>,
) {
    let progress = Progress(events);
    let end = match state.init_running.try_lock() {
        Ok(_running) => match run(&progress).await {
            Ok(message) => InitEvent::Done { message },
            Err(failure) => failure.into_event(),
        },
        Err(_) => Failure::input(format!("{what} is already running on this server")).into_event(),
    };
    if let InitEvent::Failed { message, .. } = &end {
        tracing::warn!(%message, "{what} failed");
    }
    progress.send(end).await;
}

struct Progress(mpsc::Sender<InitEvent>);

impl Progress {
    async fn send(&self, event: InitEvent) {
        // The CLI may have gone away; the run goes on regardless.
        let _ = self.0.send(event).await;
    }

    /// An executor's event as the CLI reads it.
    async fn event(&self, event: Event) {
        match event {
            Event::Planned { plan, warnings } => {
                for warning in warnings {
                    self.info(format!("warning: {warning}")).await;
                }
                self.send(InitEvent::Plan {
                    text: plan.render(),
                    steps: plan.steps.len(),
                    builds: plan.builds.clone(),
                })
                .await;
            }
            Event::Info(message) => self.info(message).await,
            Event::Started { index, step } => {
                self.send(InitEvent::Step {
                    index,
                    member: step.member,
                    description: step.description,
                })
                .await
            }
            Event::Ticked { index } => self.send(InitEvent::StepDone { index }).await,
            Event::Skipped { index, step } => {
                self.send(InitEvent::StepSkipped {
                    index,
                    member: step.member,
                    description: step.description,
                })
                .await
            }
        }
    }

    async fn info(&self, message: impl Into<String>) {
        let message = message.into();
        tracing::info!(%message, "init");
        self.send(InitEvent::Info { message }).await;
    }
}

/// Why a run stopped.
#[derive(Debug)]
struct Failure {
    message: String,
    member: Option<String>,
    step: Option<String>,
}

impl Failure {
    fn input(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            member: None,
            step: None,
        }
    }

    fn into_event(self) -> InitEvent {
        InitEvent::Failed {
            message: self.message,
            member: self.member,
            step: self.step,
        }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::input(e.message)
    }
}

async fn run(state: &State, req: &InitRequest, progress: &Progress) -> Result<String, Failure> {
    let preseed = muster_preseed::parse(&req.preseed).map_err(|e| {
        Failure::input(format!(
            "the preseed file is not valid, nothing was changed:\n{e}"
        ))
    })?;
    let me = state.me.name.clone();
    if let Some(initiator) = &preseed.initiator {
        if *initiator != me {
            return Err(Failure::input(format!(
                "the preseed names {initiator} as the initiator, but this server is {me}: run \
                 `muster init` on {initiator}, or change `initiator`"
            )));
        }
    }
    if !preseed
        .members
        .iter()
        .any(|m| m.name.as_deref() == Some(me.as_str()))
    {
        return Err(Failure::input(format!(
            "this server ({me}) is not among the preseed's members (by name): the initiator \
             is a member too. Nothing was changed."
        )));
    }
    establish_trust(state, &preseed, req, progress).await?;
    let mut inventory = known_members(state, &preseed).await?;
    let names: Vec<String> = inventory.members.iter().map(|k| k.name.clone()).collect();

    let world = Members::new(state, &names);
    let planner = |observed: &Observed| {
        inventory.observed = observed.clone();
        let resolved = muster_preseed::resolve(&preseed, &inventory).map_err(|e| Refusal {
            reason: "the preseed does not fit the members".into(),
            detail: e.to_string(),
        })?;
        let plan = muster_plan::plan(&resolved.choices, observed).map_err(|e| Refusal {
            reason: "the cluster cannot be formed as the preseed asks".into(),
            detail: e.to_string(),
        })?;
        save_state(state, &resolved.choices, observed, plan.is_empty());
        Ok(Planned {
            plan,
            warnings: resolved.warnings.iter().map(ToString::to_string).collect(),
        })
    };
    let (events, mut heard) = mpsc::channel(64);
    let applied = async move {
        let applied = muster_apply::apply(&world, planner, req.dry_run, &events).await;
        drop(events);
        applied
    };
    let forwarded = async {
        while let Some(event) = heard.recv().await {
            progress.event(event).await;
        }
    };
    let (applied, ()) = tokio::join!(applied, forwarded);
    if let Ok(Outcome::Formed { .. }) = applied {
        keep_preseed(state, &req.preseed);
    }
    match applied {
        Ok(Outcome::DryRun) => Ok("dry run: nothing was changed".into()),
        Ok(Outcome::Formed {
            members, steps: 0, ..
        }) => Ok(format!(
            "nothing to do: the cluster of {} is formed",
            members.join(", ")
        )),
        Ok(Outcome::Formed {
            members,
            ticked,
            skipped,
            ..
        }) => {
            let skipped = match skipped {
                0 => String::new(),
                n => format!(", {n} found done already"),
            };
            Ok(format!(
                "the cluster is formed: {} ({ticked} step{} done{skipped})",
                members.join(", "),
                if ticked == 1 { "" } else { "s" }
            ))
        }
        Err(e) => Err(Failure {
            message: e.to_string(),
            member: e.member().map(str::to_owned),
            step: e.step().map(|(_, step)| step.to_owned()),
        }),
    }
}

/// Makes sure every other member is trusted: opens the session with the
/// preseed's passphrase and waits for them (zero-touch agents join by
/// themselves, others by `muster join`).
async fn establish_trust(
    state: &State,
    preseed: &Preseed,
    req: &InitRequest,
    progress: &Progress,
) -> Result<(), Failure> {
    // Members given by name, or by address only (found by where their
    // agent was reached once they are trusted).
    let missing = |state: &Shared| -> Vec<String> {
        let trust = state.trust();
        preseed
            .members
            .iter()
            .filter_map(|m| match (&m.name, m.address) {
                (Some(name), _) if *name == state.me.name || trust.get(name).is_some() => None,
                (Some(name), _) => Some(name.clone()),
                (None, Some(ip)) => {
                    let known = trust
                        .members()
                        .iter()
                        .any(|t| t.addresses.iter().any(|a| a.ip() == ip));
                    (!known).then(|| ip.to_string())
                }
                (None, None) => None,
            })
            .collect()
    };
    // Pinned here is half of trust: a member whose join broke after this
    // server stored it (before it got the Welcome) refuses this server. It
    // joins again like a new one, and the same certificate is no conflict.
    let mut distrusting = distrusting(state, preseed).await;
    let mut waiting = missing(state);
    waiting.extend(distrusting.iter().cloned());
    if waiting.is_empty() {
        return Ok(());
    }
    if !distrusting.is_empty() {
        progress
            .info(format!(
                "{} {} this server but not the other way round (a join that did not finish): \
                 waiting for {} to join again",
                distrusting.join(", "),
                if distrusting.len() == 1 {
                    "is trusted by"
                } else {
                    "are trusted by"
                },
                if distrusting.len() == 1 { "it" } else { "them" }
            ))
            .await;
    }
    let session = preseed.session();
    let passphrase = match (&req.passphrase, &session.passphrase) {
        (Some(p), _) => p.clone(),
        (None, Some(PassphraseSource::Inline(secret))) => secret.0.clone(),
        (None, Some(PassphraseSource::File(path))) => {
            return Err(Failure::input(format!(
                "the passphrase file {} was not read (the CLI reads it)",
                path.display()
            )))
        }
        (None, None) => {
            return Err(Failure::input(format!(
                "{} {} not trusted yet and the preseed gives no session passphrase: add \
                 session.passphrase (or passphrase_file), or run `muster session open` here and \
                 `muster join` there first",
                waiting.join(", "),
                if waiting.len() == 1 { "is" } else { "are" }
            )))
        }
    };
    let open = OpenSession {
        passphrase: Some(passphrase),
        timeout_secs: Some(session.timeout.as_secs().max(1)),
        max_failures: None,
        replace: Vec::new(),
    };
    let opened_here = match crate::trust::initiator::open(state, &open) {
        Ok(_) => true,
        Err(e) if e.kind == Kind::Conflict => {
            progress
                .info("a trust session is already open on this server; using it")
                .await;
            false
        }
        Err(e) => return Err(e.into()),
    };
    progress
        .info(format!(
            "trust session open; waiting for {} to join",
            waiting.join(", ")
        ))
        .await;
    let start = Instant::now();
    let deadline = start + session.timeout;
    let result = loop {
        let mut still = Vec::new();
        for name in distrusting {
            // Until it joins this session, asking again tells nothing new.
            if !state.sessions.has_joined(&name) || refuses_us(state, &name).await {
                still.push(name);
            }
        }
        distrusting = still;
        let unpinned = missing(state);
        if unpinned.is_empty() && distrusting.is_empty() {
            break Ok(());
        }
        let now = Instant::now();
        // A member that refused this server was reached: it is known.
        let unseen: Vec<&String> = unpinned
            .iter()
            .filter(|n| n.parse::<IpAddr>().is_err() && state.seen.endpoints_of(n).is_empty())
            .collect();
        let left: Vec<String> = unpinned.iter().chain(&distrusting).cloned().collect();
        if now >= start + UNSEEN_GRACE && !unseen.is_empty() {
            break Err(Failure::input(format!(
                "unknown member{} {}: no agent of that name is on the LAN (`muster peers` lists \
                 them); fix the name in the preseed or start its agent. Nothing was changed.",
                if unseen.len() == 1 { "" } else { "s" },
                unseen
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if now >= deadline {
            break Err(Failure::input(format!(
                "{} did not join the trust session within {}s: check the passphrase on {} \
                 (enrollment file, or run `muster join` there). Nothing was changed.",
                left.join(", "),
                session.timeout.as_secs(),
                if left.len() == 1 { "it" } else { "them" }
            )));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    if opened_here && state.sessions.close(Instant::now()) {
        state.sync_advertisement();
    }
    if result.is_ok() {
        progress.info("every member is trusted").await;
    }
    result
}

/// Whether the preseed names the trusted member `name`, whose addresses
/// are `addresses` (by name, or by address for a member given only so).
fn names_member(preseed: &Preseed, name: &str, addresses: &[IpAddr]) -> bool {
    preseed.members.iter().any(|m| {
        m.name.as_deref() == Some(name)
            || (m.name.is_none() && m.address.is_some_and(|a| addresses.contains(&a)))
    })
}

/// The trusted members of the preseed that refuse this server's
/// certificate.
async fn distrusting(state: &Shared, preseed: &Preseed) -> Vec<String> {
    let named: Vec<String> = trusted(state)
        .into_iter()
        .filter(|(name, addresses)| {
            *name != state.me.name && names_member(preseed, name, addresses)
        })
        .map(|(name, _)| name)
        .collect();
    // All at once: a member that is down costs its timeout once, not once
    // per member before it.
    let refusals = futures_util::future::join_all(named.iter().map(|n| refuses_us(state, n))).await;
    named
        .into_iter()
        .zip(refusals)
        .filter_map(|(name, refuses)| refuses.then_some(name))
        .collect()
}

/// Whether member `name` refuses this server's certificate. Any other
/// failure is not an answer to that, and the calls that follow report it.
async fn refuses_us(state: &Shared, name: &str) -> bool {
    let probe =
        request_member::<muster_proto::AgentInfo>(state, name, paths::INFO, None, PROBE_TIMEOUT)
            .await;
    matches!(probe, Err(e) if e.kind == Kind::Refused)
}

/// The trusted members, with the addresses of their agents.
fn trusted(state: &Shared) -> Vec<(String, Vec<IpAddr>)> {
    state
        .trust()
        .members()
        .iter()
        .map(|t| (t.name.clone(), t.addresses.iter().map(|a| a.ip()).collect()))
        .collect()
}

/// This server and the trusted members the preseed names (by name or by
/// address), with their interfaces, for the preseed's resolution.
async fn known_members(state: &Shared, preseed: &Preseed) -> Result<Inventory, Failure> {
    let me = state.me.name.clone();
    let local = crate::interfaces::list(std::path::Path::new("/sys/class/net"))
        .map_err(|e| Failure::input(format!("{me}: cannot list the network interfaces: {e}")))?;
    let mut members = vec![KnownMember {
        name: me.clone(),
        addresses: Vec::new(),
        interfaces: local,
    }];
    for (name, addresses) in trusted(state) {
        if !names_member(preseed, &name, &addresses) || name == me {
            continue;
        }
        let interfaces: Vec<NetInterface> =
            request_member(state, &name, paths::INTERFACES, None, OBSERVE_TIMEOUT).await?;
        members.push(KnownMember {
            name,
            addresses,
            interfaces,
        });
    }
    Ok(Inventory {
        local: me,
        members,
        observed: Observed::default(),
    })
}

/// Kept for `muster add`, with the members the copy kept before has and
/// `text` does not name; a failure to keep it does not undo the cluster,
/// and leaves the copy kept before as it was.
fn keep_preseed(state: &Shared, text: &str) {
    let kept = cluster_state::load_preseed(&state.state_dir)
        .map_err(|e| e.to_string())
        .and_then(|before| {
            muster_preseed::merge::to_keep(text, before.as_deref()).map_err(|e| e.to_string())
        })
        .and_then(|kept| {
            cluster_state::save_preseed(&state.state_dir, &kept).map_err(|e| e.to_string())
        });
    if let Err(error) = kept {
        tracing::warn!(%error, "cannot keep the cluster's preseed: muster add will refuse");
    }
}

/// Records what this run learnt: the members, their LXD addresses and
/// agents' fingerprints, who is in the cluster, whether it is formed.
fn save_state(state: &Shared, choices: &Choices, observed: &Observed, formed: bool) {
    let names: Vec<&str> = choices.members.iter().map(|m| m.name.as_str()).collect();
    let members = choices
        .ordered()
        .into_iter()
        .map(|m| {
            let fingerprint = if m.name == state.me.name {
                state.info.fingerprint.clone()
            } else {
                state
                    .trust()
                    .get(&m.name)
                    .map(|t| t.fingerprint.to_string())
                    .unwrap_or_default()
            };
            let joined = observed
                .members
                .get(&m.name)
                .is_some_and(|o| o.lxd.clustered)
                && muster_plan::membership(observed, &choices.initiator, &names, &m.name)
                    == muster_plan::Membership::Ours;
            ClusterMember {
                name: m.name.clone(),
                lxd_address: m.lxd_address(),
                fingerprint,
                joined,
            }
        })
        .collect();
    let record = ClusterState {
        initiator: choices.initiator.clone(),
        members,
        formed,
        updated_unix: 0,
    };
    if let Err(e) = cluster_state::save(&state.state_dir, &record) {
        tracing::warn!(error = %e, path = %cluster_state::path(&state.state_dir).display(), "cannot record the cluster state");
    }
}
