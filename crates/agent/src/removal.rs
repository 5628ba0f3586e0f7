//! `muster remove NAME`, run by this agent for the local CLI: observe what
//! LXD, Ceph and the trust stores know of the member, plan its removal
//! (`muster_plan::plan_removal`, which refuses every unsafe case), and
//! carry the steps out one by one with progress streamed back.
//!
//! Resuming is re-planning, as for `muster init`: a run stopped halfway is
//! finished by running the same command again, which observes anew and
//! plans only what is left.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use muster_ceph::{LocalState, PgProgress};
use muster_plan::{
    plan_removal, RemovalChoices, RemovalObserved, RemovalPlan, RemovalStep, StepKind,
};
use muster_proto::formation::{paths as fpaths, InitEvent};
use muster_proto::removal::{
    paths as rpaths, CephLeaveRequest, ForgetRequest, ForgetResponse, RemoveRequest,
};
use muster_proto::{paths, AgentInfo};
use tokio::sync::mpsc;

use crate::error::{Error, Kind};
use crate::member::{post_member, request_member};
use crate::shared::{Shared, State};
use crate::steps::{self, announce, failed, Shown};
use crate::trust_store::Role;

/// Whether the member's agent answers: a short wait, a dead one is the
/// case `--force` is for.
const REACH_TIMEOUT: Duration = Duration::from_secs(10);
/// A member leaving Ceph stops its daemons and wipes its OSDs' labels.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(240);
/// A small call to another member.
const FORGET_TIMEOUT: Duration = Duration::from_secs(30);
/// How long Ceph may take to copy the data of the OSDs taken out. Ceph
/// goes at its own pace (a disk's worth of data over the network); past
/// this the run stops, and the same command resumes the wait.
const REBALANCE_TIMEOUT: Duration = Duration::from_secs(3600);
const REBALANCE_POLL: Duration = Duration::from_secs(3);

/// `muster remove`: runs it, streaming its progress to `events`, which
/// end with `Done` or `Failed`.
pub(crate) async fn remove(state: State, req: RemoveRequest, events: mpsc::Sender<InitEvent>) {
    steps::alone(&state, "muster remove", &events, run(&state, &req, &events)).await
}

async fn run(
    state: &Shared,
    req: &RemoveRequest,
    events: &mpsc::Sender<InitEvent>,
) -> Result<String, InitEvent> {
    let target = req.name.as_str();
    crate::trust_store::check_name(target)
        .map_err(|e| failed(format!("{target:?} cannot be a member's name: {e}")))?;
    let observed = observe(state, target)
        .await
        .map_err(|e| failed(format!("{}; nothing was changed", e.message)))?;
    let choices = RemovalChoices { force: req.force };
    let plan = plan_removal(&observed, choices).map_err(|refusals| {
        failed(format!(
            "{target} cannot be removed now; nothing was changed:\n{refusals}"
        ))
    })?;
    announce(events, plan.render(), plan.steps.len()).await;
    if req.dry_run {
        return Ok("dry run: nothing was changed".into());
    }
    if plan.steps.is_empty() {
        return Ok(format!("nothing to do: {target} is not a member"));
    }
    tracing::warn!(
        member = target,
        steps = plan.steps.len(),
        force = req.force,
        "removing a member"
    );
    carry_out(state, &plan, events).await?;
    Ok(format!(
        "{target} was removed: LXD, Ceph and the trust stores no longer know it"
    ))
}

async fn carry_out(
    state: &Shared,
    plan: &RemovalPlan,
    events: &mpsc::Sender<InitEvent>,
) -> Result<(), InitEvent> {
    let target = plan.target.as_str();
    let again = format!("the same muster remove {target}");
    let show = |step: &RemovalStep| Shown {
        member: if step.on_target() {
            target.to_owned()
        } else if let RemovalStep::ForgetOn { on } | RemovalStep::CephReconfigure { on, .. } = step
        {
            on.clone()
        } else {
            state.me.name.clone()
        },
        description: step.describe(target),
    };
    for (i, step) in plan.steps.iter().enumerate() {
        let shown = show(step);
        shown.start(i + 1, events).await;
        let outcome = run_step(state, target, step, events).await;
        shown.end(i + 1, outcome, &again, events).await?;
    }
    Ok(())
}

/// What LXD, Ceph and this server's trust store know of `target`, and
/// whether its agent answers.
async fn observe(state: &Shared, target: &str) -> Result<RemovalObserved, Error> {
    let (lxd_members, instances, remote_pools) =
        crate::lxd::member_view(&state.lxd, target).await?;
    let mut ceph = crate::ceph::removal_view(&state.ceph).await?;
    let (trusted, others_trusted, controller) = {
        let trust = state.trust();
        let others: Vec<String> = trust
            .members()
            .iter()
            .map(|m| m.name.clone())
            .filter(|n| n != target)
            .collect();
        let controller = trust
            .members()
            .iter()
            .find(|m| m.role == Role::Controller)
            .map(|m| m.name.clone());
        (trust.get(target).is_some(), others, controller)
    };
    let reach_target = async {
        trusted
            && request_member::<AgentInfo>(state, target, paths::INFO, None, REACH_TIMEOUT)
                .await
                .is_ok()
    };
    let mut members = others_trusted.clone();
    members.push(state.me.name.clone());
    let read_configs = async {
        match ceph {
            Some(_) => client_configs(state, &members).await,
            None => BTreeMap::new(),
        }
    };
    let (agent_reachable, configs) = tokio::join!(reach_target, read_configs);
    if let Some(ceph) = ceph.as_mut() {
        ceph.configs = configs;
    }
    Ok(RemovalObserved {
        target: target.to_owned(),
        here: state.me.name.clone(),
        lxd_members,
        instances,
        remote_pools,
        agent_reachable,
        trusted,
        others_trusted,
        controller,
        ceph,
    })
}

/// The monitors each member's Ceph config names, every member read at
/// once: `None` for one that did not answer, nothing for one with no
/// config (not a Ceph client).
async fn client_configs(
    state: &Shared,
    members: &[String],
) -> BTreeMap<String, Option<BTreeSet<IpAddr>>> {
    let reads = members.iter().map(|name| async move {
        let read = if *name == state.me.name {
            crate::ceph::local_state(&state.ceph).await
        } else {
            request_member::<LocalState>(state, name, fpaths::CEPH, None, REACH_TIMEOUT).await
        };
        if let Err(error) = &read {
            tracing::info!(member = %name, %error, "cannot read a member's Ceph config");
        }
        (name, read)
    });
    futures_util::future::join_all(reads)
        .await
        .into_iter()
        .filter_map(|(name, read)| match read {
            Ok(LocalState { conf: None, .. }) => None,
            Ok(LocalState {
                conf: Some(conf), ..
            }) => Some((name.clone(), Some(conf.mon_hosts.into_iter().collect()))),
            Err(_) => Some((name.clone(), None)),
        })
        .collect()
}

async fn run_step(
    state: &Shared,
    target: &str,
    step: &RemovalStep,
    events: &mpsc::Sender<InitEvent>,
) -> Result<(), Error> {
    let ceph = &state.ceph;
    match step {
        RemovalStep::Evacuate { .. } => crate::lxd::evacuate(&state.lxd, target).await,
        RemovalStep::CephOsdsOut { ids } => {
            let ids = ids.clone();
            crate::ceph::on_member(ceph, move |m| m.osds_out(&ids)).await
        }
        RemovalStep::CephWaitRebalanced { ids } => wait_rebalanced(state, ids, events).await,
        RemovalStep::CephStopDaemons => {
            let request = CephLeaveRequest {
                name: target.to_owned(),
            };
            post_member::<()>(state, target, rpaths::CEPH_LEAVE, &request, LEAVE_TIMEOUT).await
        }
        RemovalStep::CephPurgeOsds { ids, host } => {
            let (ids, host) = (ids.clone(), host.then(|| target.to_owned()));
            crate::ceph::on_member(ceph, move |m| m.purge_osds(&ids, host.as_deref())).await
        }
        RemovalStep::CephRemoveMon => {
            let name = target.to_owned();
            crate::ceph::on_member(ceph, move |m| m.remove_mon(&name)).await
        }
        RemovalStep::CephRemoveMgr => {
            let name = target.to_owned();
            crate::ceph::on_member(ceph, move |m| m.remove_mgr(&name)).await
        }
        RemovalStep::CephReconfigure { on, mon_hosts } => {
            let kind = StepKind::CephConfigure {
                mon_hosts: mon_hosts.clone(),
            };
            crate::member::ceph_step(state, on, &kind).await
        }
        RemovalStep::LxdRemove { force } => {
            crate::lxd::remove_member(&state.lxd, target, *force).await
        }
        RemovalStep::Release => forget_on(state, target, &state.me.name).await,
        RemovalStep::ForgetOn { on } => forget_on(state, on, target).await,
        RemovalStep::ForgetHere => {
            // Before the trust goes, which is what a rerun plans from.
            crate::cluster_state::forget_in_preseed(&state.state_dir, target)?;
            match crate::trust::forget(state, target) {
                Err(e) if e.kind == Kind::NotFound => Ok(()),
                other => other.map(drop),
            }
        }
    }
}

/// Member `on` stops trusting `name`.
async fn forget_on(state: &Shared, on: &str, name: &str) -> Result<(), Error> {
    let request = ForgetRequest {
        name: name.to_owned(),
    };
    let answer: ForgetResponse =
        post_member(state, on, rpaths::TRUST_FORGET, &request, FORGET_TIMEOUT).await?;
    tracing::info!(
        on,
        name,
        forgotten = answer.forgotten,
        "a member forgot a removed member"
    );
    Ok(())
}

/// Waits until Ceph says the data of `ids` has its copies elsewhere,
/// telling the operator how far the placement groups are when that
/// changes.
async fn wait_rebalanced(
    state: &Shared,
    ids: &[u32],
    events: &mpsc::Sender<InitEvent>,
) -> Result<(), Error> {
    let start = Instant::now();
    let mut last: Option<PgProgress> = None;
    loop {
        let asked = ids.to_vec();
        let (safe, progress) =
            crate::ceph::on_member(&state.ceph, move |m| m.safe_to_destroy(&asked)).await?;
        if safe {
            return Ok(());
        }
        if last != Some(progress) {
            last = Some(progress);
            let message = format!(
                "Ceph is copying data: {} of {} placement groups clean",
                progress.clean, progress.total
            );
            let _ = events.send(InitEvent::Info { message }).await;
        }
        if start.elapsed() > REBALANCE_TIMEOUT {
            return Err(Error::new(
                Kind::Timeout,
                format!(
                    "Ceph has not finished copying the data after {} minutes (`ceph -s` shows \
                     the recovery)",
                    REBALANCE_TIMEOUT.as_secs() / 60
                ),
            ));
        }
        tokio::time::sleep(REBALANCE_POLL).await;
    }
}
