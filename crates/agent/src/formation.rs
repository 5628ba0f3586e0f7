//! `muster init`, run by the initiator's agent for the local CLI
//! (`POST /v1/init` on the unix socket): trust, observation, plan, apply,
//! with progress streamed back as newline-delimited JSON.
//!
//! Resuming is re-planning: before every step every member is observed
//! again and the plan computed anew from what is really there
//! (`muster_plan`), so a run after a failure does what is left, and a run
//! on a formed cluster does nothing.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use muster_apply::{Cause, Event, Issued, ObserveError, Outcome, Planned, Refusal, World};
use muster_ceph::LocalState;
use muster_disks::Disk;
use muster_lxd::{JoinToken, LxdClient, NetworksPost, StoragePoolsPost};
use muster_plan::{Choices, DiskRef, LxdObserved, MemberObserved, Observed, Step, StepKind};
use muster_preseed::{Inventory, KnownMember, PassphraseSource, Preseed};
use muster_proto::formation::{
    paths as fpaths, InitEvent, InitRequest, LxdJoinRequest, LxdJoinResponse, WipeRequest,
};
use muster_proto::paths;
use muster_proto::trust::{NetInterface, OpenSession};
use tokio::sync::mpsc;

use crate::api::{ApiError, JsonBody};
use crate::cluster_state::{self, ClusterMember, ClusterState};
use crate::lxd::{fill_member_config, lxd_error, observe};
use crate::member_api::{post_member, request_member};
use crate::shared::{Shared, State as AppState};

/// A member that has not joined the trust session after this long and was
/// never seen on the LAN is taken to be unknown.
const UNSEEN_GRACE: Duration = Duration::from_secs(10);
/// A join, with LXD's database replicating to the new member.
const JOIN_TIMEOUT: Duration = Duration::from_secs(200);
/// How long to wait for the cluster to be at rest before a join.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Reading a member's LXD and disks.
const OBSERVE_TIMEOUT: Duration = Duration::from_secs(60);

/// `POST /v1/init`: the answer streams [`InitEvent`]s, one JSON a line,
/// and ends with `Done` or `Failed`.
pub(crate) async fn init(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<InitRequest>,
) -> Response {
    let (tx, rx) = mpsc::channel::<InitEvent>(64);
    tokio::spawn(async move {
        let progress = Progress(tx);
        let end = match state.init_running.try_lock() {
            Ok(_running) => match run(&state, &req, &progress).await {
                Ok(message) => InitEvent::Done { message },
                Err(failure) => failure.into_event(),
            },
            Err(_) => Failure::input("muster init is already running on this server").into_event(),
        };
        if let InitEvent::Failed { message, .. } = &end {
            tracing::warn!(%message, "muster init failed");
        }
        progress.send(end).await;
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        let event = rx.recv().await?;
        let mut line = serde_json::to_vec(&event).unwrap_or_default();
        line.push(b'\n');
        Some((Ok::<_, Infallible>(Bytes::from(line)), rx))
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(stream),
    )
        .into_response()
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

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Failure {
        Failure::input(e.message())
    }
}

async fn run(state: &AppState, req: &InitRequest, progress: &Progress) -> Result<String, Failure> {
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
            "this server ({me}) is not among the preseed's members (by name): the initiator is a              member too. Nothing was changed."
        )));
    }
    establish_trust(state, &preseed, req, progress).await?;
    let mut inventory = known_members(state, &preseed).await?;
    let names: Vec<String> = inventory.members.iter().map(|k| k.name.clone()).collect();

    let world = Members {
        state,
        names: &names,
    };
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
            member: e.step().map(|(member, _)| member.to_owned()),
            step: e.step().map(|(_, step)| step.to_owned()),
        }),
    }
}

/// Makes sure every other member is trusted: opens the session with the
/// preseed's passphrase and waits for them (zero-touch agents join by
/// themselves, others by `muster join`).
async fn establish_trust(
    state: &AppState,
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
    let waiting = missing(state);
    if waiting.is_empty() {
        return Ok(());
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
    };
    let opened_here = match crate::session::open_now(state, &open) {
        Ok(_) => true,
        Err(e) if e.message().contains("already open") => {
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
        let left = missing(state);
        if left.is_empty() {
            break Ok(());
        }
        let now = Instant::now();
        let unseen: Vec<&String> = left
            .iter()
            .filter(|n| n.parse::<IpAddr>().is_err() && state.seen.endpoints_of(n).is_empty())
            .collect();
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
    let trusted: Vec<(String, Vec<IpAddr>)> = state
        .trust()
        .members()
        .iter()
        .map(|t| (t.name.clone(), t.addresses.iter().map(|a| a.ip()).collect()))
        .collect();
    for (name, addresses) in trusted {
        let named = preseed.members.iter().any(|m| {
            m.name.as_deref() == Some(name.as_str())
                || (m.name.is_none() && m.address.is_some_and(|a| addresses.contains(&a)))
        });
        if !named || name == me {
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

/// The members as this initiator reaches them: its own LXD, disks and Ceph
/// directly, the others' through their agents over pinned mutual TLS.
struct Members<'a> {
    state: &'a Shared,
    names: &'a [String],
}

impl Members<'_> {
    /// One member's LXD, disks and part in Ceph, read now.
    async fn observe_member(&self, name: &str) -> Result<(MemberObserved, LocalState), Cause> {
        let state = self.state;
        if name != state.me.name {
            let lxd: LxdObserved =
                request_member(state, name, fpaths::LXD, None, OBSERVE_TIMEOUT).await?;
            let disks: Vec<Disk> =
                request_member(state, name, paths::DISKS, None, OBSERVE_TIMEOUT).await?;
            let ceph: LocalState =
                request_member(state, name, fpaths::CEPH, None, OBSERVE_TIMEOUT).await?;
            return Ok((MemberObserved { lxd, disks }, ceph));
        }
        let client = state.lxd().await?;
        let lxd = observe(&client).await.map_err(|e| lxd_error(name, &e))?;
        let options = state.disks.scan_options();
        let disks = tokio::task::spawn_blocking(move || muster_disks::scan(&options))
            .await
            .map_err(|e| format!("the disk scan did not finish: {e}"))?
            .map_err(|e| format!("cannot scan the disks: {e}"))?;
        let ceph = crate::ceph::local_state(state).await?;
        Ok((MemberObserved { lxd, disks }, ceph))
    }
}

impl World for Members<'_> {
    type Token = JoinToken;

    async fn observe(&self) -> Result<Observed, ObserveError> {
        let mut observed = Observed::default();
        let mut ceph_states = Vec::new();
        for name in self.names {
            let (member, ceph) = self
                .observe_member(name)
                .await
                .map_err(|cause| ObserveError {
                    member: name.clone(),
                    cause,
                })?;
            observed.members.insert(name.clone(), member);
            ceph_states.push((name.clone(), ceph));
        }
        crate::ceph::observe(self.state, &ceph_states, &mut observed).await;
        Ok(observed)
    }

    async fn lxd(&self, step: &Step) -> Result<(), Cause> {
        let state = self.state;
        let lxd = state.lxd().await?;
        match &step.kind {
            StepKind::SetHttpsAddress { address } => lxd.set_https_address(address).await?,
            StepKind::BootstrapCluster => lxd.bootstrap_cluster(&state.me.name).await?,
            StepKind::CreatePoolPending {
                pool,
                driver,
                source,
            } => {
                let mut config = BTreeMap::new();
                if let Some(source) = source {
                    config.insert("source".to_owned(), source.clone());
                }
                let post = StoragePoolsPost {
                    name: pool.clone(),
                    driver: driver.as_str().to_owned(),
                    config,
                    description: String::new(),
                };
                lxd.create_storage_pool(&post, Some(&step.member)).await?
            }
            StepKind::CreatePool {
                pool,
                driver,
                config,
            } => {
                let post = StoragePoolsPost {
                    name: pool.clone(),
                    driver: driver.as_str().to_owned(),
                    config: config.clone(),
                    description: String::new(),
                };
                lxd.create_storage_pool(&post, None).await?
            }
            StepKind::CreateNetworkPending { network } => {
                let post = NetworksPost {
                    name: network.clone(),
                    kind: "bridge".into(),
                    ..NetworksPost::default()
                };
                lxd.create_network(&post, Some(&step.member)).await?
            }
            StepKind::CreateNetwork { network, config } => {
                let post = NetworksPost {
                    name: network.clone(),
                    kind: "bridge".into(),
                    config: config.clone(),
                    description: String::new(),
                };
                lxd.create_network(&post, None).await?
            }
            StepKind::UpdateDefaultProfile { root_pool, network } => {
                let mut profile = lxd.profile("default").await?.to_put();
                profile.set_root_disk(root_pool);
                profile.set_eth0(network);
                lxd.update_profile("default", &profile).await?
            }
            StepKind::RemoveStaleMember { joiner } => {
                // It cannot come online: it is there to be removed.
                settle(&lxd, Some(joiner)).await;
                lxd.force_remove_member(joiner).await?
            }
            other => {
                return Err(format!("not a step of the initiator's LXD: {other:?}").into());
            }
        }
        Ok(())
    }

    async fn issue_token(&self, joiner: &str) -> Result<Issued<JoinToken>, Cause> {
        let lxd = self.state.lxd().await?;
        settle(&lxd, None).await;
        // A token issued by an earlier run and never used is used now.
        Ok(match lxd.pending_join_token(joiner).await? {
            Some(issued) => Issued {
                token: issued.token,
                earlier: true,
            },
            None => Issued {
                token: lxd.create_join_token(joiner).await?.token,
                earlier: false,
            },
        })
    }

    /// Delivers the token to the joiner's agent, which joins its LXD.
    async fn join(&self, step: &Step, token: &JoinToken) -> Result<(), Cause> {
        let StepKind::JoinCluster {
            joiner,
            cluster_address,
            server_address,
            pool_sources,
        } = &step.kind
        else {
            return Err(format!("not a join: {:?}", step.kind).into());
        };
        let state = self.state;
        let lxd = state.lxd().await?;
        let certificate = lxd.server().await?.environment.certificate;
        let keys = lxd.cluster().await?.member_config;
        let req = LxdJoinRequest {
            token: token.encode(),
            cluster_certificate: certificate,
            cluster_address: cluster_address.clone(),
            server_address: server_address.clone(),
            member_config: fill_member_config(keys, pool_sources),
        };
        let answer: LxdJoinResponse =
            post_member(state, joiner, fpaths::LXD_JOIN, &req, JOIN_TIMEOUT).await?;
        tracing::info!(
            member = joiner,
            joined = answer.joined,
            "member's LXD in the cluster"
        );
        Ok(())
    }

    async fn ceph(&self, step: &Step) -> Result<(), Cause> {
        crate::ceph::apply(self.state, &step.member, &step.kind)
            .await
            .map_err(Cause::from)
    }

    async fn wipe(&self, member: &str, disk: &DiskRef) -> Result<(), Cause> {
        let state = self.state;
        let device = disk.source();
        if member == state.me.name {
            crate::disks::wipe_device(state, device).await?;
        } else {
            let req = WipeRequest {
                device: device.to_owned(),
            };
            post_member::<()>(state, member, fpaths::WIPE, &req, OBSERVE_TIMEOUT).await?;
        }
        Ok(())
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

/// Waits (bounded) until the cluster is at rest, `except` left out of the
/// count: the next join is better not started before.
async fn settle(lxd: &LxdClient, except: Option<&str>) {
    match lxd.wait_settled(except, SETTLE_TIMEOUT).await {
        Ok(unsettled) if unsettled.is_empty() => {}
        Ok(unsettled) => tracing::info!(
            unsettled = unsettled.join(", "),
            "the cluster did not settle in time; going on"
        ),
        Err(e) => {
            tracing::info!(error = %crate::server::ErrorChain(&e), "cannot list the cluster members")
        }
    }
}
