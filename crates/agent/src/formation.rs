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
use muster_ceph::LocalState;
use muster_disks::Disk;
use muster_lxd::{JoinToken, LxdClient, NetworksPost, StoragePoolsPost};
use muster_plan::{Choices, LxdObserved, MemberObserved, Observed, Plan, Step, StepKind};
use muster_preseed::{Inventory, KnownMember, PassphraseSource, Preseed};
use muster_proto::formation::{
    paths as fpaths, InitEvent, InitRequest, LxdJoinRequest, LxdJoinResponse, WipeRequest,
};
use muster_proto::paths;
use muster_proto::trust::{NetInterface, OpenSession};
use tokio::sync::mpsc;

use crate::api::{ApiError, JsonBody};
use crate::cluster_state::{self, ClusterMember, ClusterState};
use crate::fault::{self, Fault};
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

    let mut executed = 0usize;
    let mut last: Option<Step> = None;
    loop {
        inventory.observed = observe_all(state, &names).await?;
        let resolved = muster_preseed::resolve(&preseed, &inventory).map_err(|e| {
            Failure::input(if executed == 0 {
                format!("the preseed does not fit the members, nothing was changed:\n{e}")
            } else {
                format!("the preseed does not fit the members:\n{e}")
            })
        })?;
        let choices = resolved.choices;
        let observed = &inventory.observed;
        let names: Vec<String> = choices.members.iter().map(|m| m.name.clone()).collect();
        let plan = muster_plan::plan(&choices, observed).map_err(|e| {
            Failure::input(if executed == 0 {
                format!(
                    "the cluster cannot be formed as the preseed asks, nothing was changed:\n{e}"
                )
            } else {
                format!("the cluster cannot be formed as the preseed asks:\n{e}")
            })
        })?;
        if executed == 0 {
            for warning in &resolved.warnings {
                progress.info(format!("warning: {warning}")).await;
            }
            progress
                .send(InitEvent::Plan {
                    text: plan.render(),
                    steps: plan.steps.len(),
                })
                .await;
            if req.dry_run {
                return Ok("dry run: nothing was changed".into());
            }
        }
        save_state(state, &choices, observed, plan.is_empty());
        let Some(step) = plan.steps.first().cloned() else {
            return Ok(if executed == 0 {
                format!(
                    "nothing to do: the cluster of {} is formed",
                    names.join(", ")
                )
            } else {
                format!(
                    "the cluster is formed: {} ({executed} step{} done)",
                    names.join(", "),
                    if executed == 1 { "" } else { "s" }
                )
            });
        };
        if last.as_ref() == Some(&step) {
            return Err(Failure {
                message: format!(
                    "{} on {} did not take effect (the member's state is the same after it); see \
                     the agents' and LXD's logs, then run muster init again",
                    step.description, step.member
                ),
                member: Some(step.member.clone()),
                step: Some(step.description.clone()),
            });
        }
        executed += 1;
        progress
            .send(InitEvent::Step {
                index: executed,
                member: step.member.clone(),
                description: step.description.clone(),
            })
            .await;
        apply(state, &plan, &step, progress)
            .await
            .map_err(|message| Failure {
                message: format!(
                    "{}: {} failed: {message}\nWhat to do: fix the cause, then run the same \
                     `muster init` again; it resumes where this run stopped.",
                    step.member, step.description
                ),
                member: Some(step.member.clone()),
                step: Some(step.description.clone()),
            })?;
        progress.send(InitEvent::StepDone { index: executed }).await;
        last = Some(step);
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

/// Every member's LXD, disks and part in Ceph, read now.
async fn observe_all(state: &Shared, names: &[String]) -> Result<Observed, Failure> {
    let mut observed = Observed::default();
    let mut ceph_states = Vec::new();
    for name in names {
        let member = if *name == state.me.name {
            let client = state.lxd().await?;
            let lxd = observe(&client)
                .await
                .map_err(|e| Failure::from(lxd_error(name, &e)))?;
            let options = state.disks.scan_options();
            let disks = tokio::task::spawn_blocking(move || muster_disks::scan(&options))
                .await
                .map_err(|e| Failure::input(format!("the disk scan did not finish: {e}")))?
                .map_err(|e| Failure::input(format!("{name}: cannot scan the disks: {e}")))?;
            ceph_states.push((name.clone(), crate::ceph::local_state(state).await?));
            MemberObserved { lxd, disks }
        } else {
            let lxd: LxdObserved =
                request_member(state, name, fpaths::LXD, None, OBSERVE_TIMEOUT).await?;
            let disks: Vec<Disk> =
                request_member(state, name, paths::DISKS, None, OBSERVE_TIMEOUT).await?;
            let ceph: LocalState =
                request_member(state, name, fpaths::CEPH, None, OBSERVE_TIMEOUT).await?;
            ceph_states.push((name.clone(), ceph));
            MemberObserved { lxd, disks }
        };
        observed.members.insert(name.clone(), member);
    }
    crate::ceph::observe(state, &ceph_states, &mut observed).await;
    Ok(observed)
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

/// Carries out one step. An issued token is delivered at once: the join
/// that follows it in the plan is part of the same step.
async fn apply(
    state: &Shared,
    plan: &Plan,
    step: &Step,
    progress: &Progress,
) -> Result<(), String> {
    let me = &state.me.name;
    let lxd = state.lxd().await.map_err(|e| e.message().to_owned())?;
    let lxd_err = |e: muster_lxd::LxdError| crate::server::ErrorChain(&e).to_string();
    match &step.kind {
        StepKind::SetHttpsAddress { address } => {
            lxd.set_https_address(address).await.map_err(lxd_err)
        }
        StepKind::BootstrapCluster => {
            lxd.bootstrap_cluster(me).await.map_err(lxd_err)?;
            fault::hit(state, Fault::AfterBootstrap);
            Ok(())
        }
        StepKind::IssueToken { joiner } => {
            settle(&lxd, None).await;
            // A token issued by an earlier run and never used is used now:
            // LXD would otherwise cancel it for the new one, and a join right
            // after such a cancel was seen to hang LXD 5.0 for good.
            let issued = match lxd.pending_join_token(joiner).await.map_err(lxd_err)? {
                Some(issued) => {
                    progress
                        .info(format!("{joiner}: using the join token issued earlier"))
                        .await;
                    issued
                }
                None => lxd.create_join_token(joiner).await.map_err(lxd_err)?,
            };
            let join = plan.steps.iter().find_map(|s| match &s.kind {
                StepKind::JoinCluster {
                    joiner: j,
                    cluster_address,
                    server_address,
                    pool_sources,
                } if j == joiner => Some((cluster_address, server_address, pool_sources)),
                _ => None,
            });
            let Some((cluster_address, server_address, pool_sources)) = join else {
                return Ok(());
            };
            progress
                .info(format!("{joiner}: joining the LXD cluster"))
                .await;
            join_member(
                state,
                &lxd,
                joiner,
                &issued.token,
                cluster_address,
                server_address,
                pool_sources,
            )
            .await
        }
        StepKind::JoinCluster { joiner, .. } => Err(format!(
            "{joiner} has no join token: the plan joins members only after issuing one"
        )),
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
            lxd.create_storage_pool(&post, Some(&step.member))
                .await
                .map_err(lxd_err)
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
            lxd.create_storage_pool(&post, None).await.map_err(lxd_err)
        }
        StepKind::CreateNetworkPending { network } => {
            let post = NetworksPost {
                name: network.clone(),
                kind: "bridge".into(),
                ..NetworksPost::default()
            };
            lxd.create_network(&post, Some(&step.member))
                .await
                .map_err(lxd_err)
        }
        StepKind::CreateNetwork { network, config } => {
            let post = NetworksPost {
                name: network.clone(),
                kind: "bridge".into(),
                config: config.clone(),
                description: String::new(),
            };
            lxd.create_network(&post, None).await.map_err(lxd_err)
        }
        StepKind::UpdateDefaultProfile { root_pool, network } => {
            let mut profile = lxd.profile("default").await.map_err(lxd_err)?.to_put();
            profile.set_root_disk(root_pool);
            profile.set_eth0(network);
            lxd.update_profile("default", &profile)
                .await
                .map_err(lxd_err)
        }
        StepKind::RemoveStaleMember { joiner } => {
            // It cannot come online: it is there to be removed.
            settle(&lxd, Some(joiner)).await;
            lxd.force_remove_member(joiner).await.map_err(lxd_err)
        }
        StepKind::WipeDisk { disk, .. } => {
            let device = disk.source();
            if step.member == *me {
                crate::disks::wipe_device(state, device)
                    .await
                    .map_err(|e| e.message().to_owned())
            } else {
                let req = WipeRequest {
                    device: device.to_owned(),
                };
                post_member::<()>(state, &step.member, fpaths::WIPE, &req, OBSERVE_TIMEOUT)
                    .await
                    .map_err(|e| e.message().to_owned())
            }
        }
        StepKind::CephBootstrapMon { .. }
        | StepKind::CephAddMon { .. }
        | StepKind::CephConfigure { .. }
        | StepKind::CephAddMgr
        | StepKind::CephAddMds
        | StepKind::CephCreateOsd { .. }
        | StepKind::CephCreatePool { .. }
        | StepKind::CephCreateFs { .. } => {
            crate::ceph::apply(state, &step.member, &step.kind).await
        }
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

/// Delivers the token to the joiner's agent, which joins its LXD.
async fn join_member(
    state: &Shared,
    lxd: &LxdClient,
    joiner: &str,
    token: &JoinToken,
    cluster_address: &str,
    server_address: &str,
    pool_sources: &BTreeMap<String, String>,
) -> Result<(), String> {
    let lxd_err = |e: muster_lxd::LxdError| crate::server::ErrorChain(&e).to_string();
    let certificate = lxd.server().await.map_err(lxd_err)?.environment.certificate;
    let keys = lxd.cluster().await.map_err(lxd_err)?.member_config;
    let req = LxdJoinRequest {
        token: token.encode(),
        cluster_certificate: certificate,
        cluster_address: cluster_address.to_owned(),
        server_address: server_address.to_owned(),
        member_config: fill_member_config(keys, pool_sources),
    };
    let answer: LxdJoinResponse = post_member(state, joiner, fpaths::LXD_JOIN, &req, JOIN_TIMEOUT)
        .await
        .map_err(|e| e.message().to_owned())?;
    tracing::info!(
        member = joiner,
        joined = answer.joined,
        "member's LXD in the cluster"
    );
    Ok(())
}
