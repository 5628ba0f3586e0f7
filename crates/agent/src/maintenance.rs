//! `muster maintenance NAME on|off`, run by this agent for the local CLI:
//! LXD evacuates the member (or restores it) and Ceph keeps its OSDs in
//! while it is down, as `muster_plan::plan_maintenance` says. Only this
//! server's LXD and Ceph admin key are used: any member holding both can
//! run it, and the member itself is not called.

use muster_plan::{plan_maintenance, MaintenanceObserved, MaintenancePlan, MaintenanceStep};
use muster_proto::formation::InitEvent;
use muster_proto::maintenance::MaintenanceRequest;
use tokio::sync::mpsc;

use crate::error::Error;
use crate::shared::{Shared, State};
use crate::steps::{self, announce, failed, Shown};

pub(crate) async fn maintenance(
    state: State,
    req: MaintenanceRequest,
    events: mpsc::Sender<InitEvent>,
) {
    steps::alone(
        &state,
        "muster maintenance",
        &events,
        run(&state, &req, &events),
    )
    .await
}

async fn run(
    state: &Shared,
    req: &MaintenanceRequest,
    events: &mpsc::Sender<InitEvent>,
) -> Result<String, InitEvent> {
    let target = req.name.as_str();
    let observed = observe(state, target)
        .await
        .map_err(|e| failed(format!("{}; nothing was changed", e.message)))?;
    let plan = plan_maintenance(&observed, req.on)
        .map_err(|e| failed(format!("{e}; nothing was changed")))?;
    announce(events, plan.render(), plan.steps.len()).await;
    let state_word = if req.on { "in" } else { "out of" };
    if req.dry_run {
        return Ok("dry run: nothing was changed".into());
    }
    if plan.steps.is_empty() {
        return Ok(format!(
            "nothing to do: {target} is {state_word} maintenance"
        ));
    }
    tracing::warn!(member = target, on = req.on, "maintenance");
    carry_out(state, &plan, events).await?;
    Ok(format!("{target} is {state_word} maintenance"))
}

async fn carry_out(
    state: &Shared,
    plan: &MaintenancePlan,
    events: &mpsc::Sender<InitEvent>,
) -> Result<(), InitEvent> {
    let target = plan.target.as_str();
    let again = format!(
        "the same muster maintenance {target} {}",
        if plan.on { "on" } else { "off" }
    );
    let show = |step: &MaintenanceStep| Shown {
        member: state.me.name.clone(),
        description: step.describe(target),
    };
    for (i, step) in plan.steps.iter().enumerate() {
        let shown = show(step);
        shown.start(i + 1, events).await;
        let outcome = run_step(state, target, step).await;
        shown.end(i + 1, outcome, &again, events).await?;
    }
    Ok(())
}

async fn observe(state: &Shared, target: &str) -> Result<MaintenanceObserved, Error> {
    let (lxd_members, instances, _) = crate::lxd::member_view(&state.lxd, target).await?;
    let ceph = crate::ceph::maintenance_view(&state.ceph, target).await?;
    Ok(MaintenanceObserved {
        target: target.to_owned(),
        lxd_members,
        instances,
        ceph,
    })
}

async fn run_step(state: &Shared, target: &str, step: &MaintenanceStep) -> Result<(), Error> {
    let noout = |on: bool| {
        let host = target.to_owned();
        crate::ceph::on_member(&state.ceph, move |m| m.set_host_noout(&host, on))
    };
    match step {
        MaintenanceStep::CephNoout => noout(true).await,
        MaintenanceStep::Evacuate { .. } => crate::lxd::evacuate(&state.lxd, target).await,
        MaintenanceStep::Restore => crate::lxd::restore(&state.lxd, target).await,
        MaintenanceStep::CephClearNoout => noout(false).await,
    }
}
