//! The run loop: observe, plan, carry out the first step, again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use muster_plan::{Observed, Plan, Step, StepKind};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::error::{ApplyError, Refusal};
use crate::event::{Event, Outcome};
use crate::world::{Cause, World};

/// A plan, with what the operator should know about the choices behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub plan: Plan,
    pub warnings: Vec<String>,
}

/// Carries out what `planner` plans from the world as observed, step by
/// step, until nothing is left (or, with `dry_run`, only announces the
/// plan). Every step is planned from a fresh observation, but for the join
/// that follows a token (the token is not seen by observing, so the join
/// runs right after it, from the same plan) and the steps that cannot
/// change what the next one was planned from ([`goes_on_unobserved`]).
/// A failed observation is tried again once something was changed
/// ([`observe`]). Progress goes to `events`; the run goes on if nobody
/// listens.
pub async fn apply<W: World>(
    world: &W,
    mut planner: impl FnMut(&Observed) -> Result<Planned, Refusal>,
    dry_run: bool,
    events: &mpsc::Sender<Event>,
) -> Result<Outcome, ApplyError> {
    let mut tally: Option<Tally> = None;
    let mut last: Option<Step> = None;
    loop {
        let changed = tally.as_ref().is_some_and(|t| t.ticked > 0);
        let observed = observe(world, changed, events).await?;
        let Planned { plan, warnings } =
            planner(&observed).map_err(|refusal| ApplyError::Refused { refusal, changed })?;
        let tally = match &mut tally {
            Some(tally) => tally,
            None => {
                let _ = events
                    .send(Event::Planned {
                        plan: plan.clone(),
                        warnings,
                    })
                    .await;
                if dry_run {
                    return Ok(Outcome::DryRun);
                }
                tally.insert(Tally::new(&plan))
            }
        };
        tally.skip_what_is_gone(&plan, events).await;
        let Some(first) = plan.steps.first() else {
            return Ok(Outcome::Formed {
                members: plan.members.iter().map(|(name, _)| name.clone()).collect(),
                steps: tally.steps.len(),
                ticked: tally.ticked,
                skipped: tally.skipped,
            });
        };
        if last.as_ref() == Some(first) {
            let index = tally.index_of(first);
            return Err(ApplyError::NoEffect {
                index,
                member: first.member.clone(),
                step: first.description.clone(),
            });
        }
        carry_out(world, &plan, tally, events).await?;
        last = Some(first.clone());
    }
}

/// How many times, at most, an observation that failed once the run has
/// changed something is tried again, how long apart, and for how long in
/// all (the reads themselves may each take up to their own timeout).
const OBSERVE_RETRIES: usize = 6;
const OBSERVE_PAUSE: Duration = Duration::from_secs(5);
const OBSERVE_RETRY_FOR: Duration = Duration::from_secs(60);

/// Observes the world. Once the run has changed something, a failed read
/// is tried again, bounded: stopping there leaves a half-made cluster for
/// what is often a passing fault (a member's LXD that lost its link
/// answered "context deadline exceeded" for a while after it came back).
/// Before any change it fails at once: the operator sees that nothing was
/// changed, and a member that is really gone is not waited for.
async fn observe<W: World>(
    world: &W,
    changed: bool,
    events: &mpsc::Sender<Event>,
) -> Result<Observed, ApplyError> {
    let mut tries = 0;
    let mut first_failure: Option<Instant> = None;
    loop {
        let e = match world.observe().await {
            Ok(observed) => return Ok(observed),
            Err(e) => e,
        };
        let since = *first_failure.get_or_insert_with(Instant::now);
        if !changed || tries == OBSERVE_RETRIES || since.elapsed() >= OBSERVE_RETRY_FOR {
            return Err(ApplyError::Observe {
                member: e.member,
                cause: e.cause,
                changed,
            });
        }
        tries += 1;
        tracing::warn!(member = %e.member, error = %e.cause, tries, "cannot read a member's state; trying again");
        let message = format!(
            "{}: cannot read its state ({}); trying again in {} s ({tries} of {OBSERVE_RETRIES})",
            e.member,
            e.cause,
            OBSERVE_PAUSE.as_secs()
        );
        let _ = events.send(Event::Info(message)).await;
        tokio::time::sleep(OBSERVE_PAUSE).await;
    }
}

/// Carries out the plan's first step, and the join its token is for, or
/// the steps that go on from it unobserved ([`goes_on_unobserved`]); or,
/// when the plan starts with steps that each touch only their own member's
/// Ceph, all of those, each member's in order and members side by side.
async fn carry_out<W: World>(
    world: &W,
    plan: &Plan,
    tally: &mut Tally,
    events: &mpsc::Sender<Event>,
) -> Result<(), ApplyError> {
    let beside: Vec<&Step> = plan
        .steps
        .iter()
        .take_while(|s| runs_beside_others(&s.kind))
        .collect();
    if beside.len() > 1 {
        return side_by_side(world, &beside, tally, events).await;
    }
    let mut steps = plan.steps.iter();
    let mut token: Option<(String, W::Token)> = None;
    while let Some(step) = steps.next() {
        let index = tally.start(step);
        let held = match &step.kind {
            StepKind::JoinCluster { joiner, .. } => {
                token.take().filter(|(j, _)| j == joiner).map(|(_, t)| t)
            }
            _ => None,
        };
        if let Some(issued) = run_one(world, step, index, held.as_ref(), events).await? {
            if let StepKind::IssueToken { joiner } = &step.kind {
                token = Some((joiner.clone(), issued));
            }
        }
        tally.ticked += 1;
        let Some(next) = steps.as_slice().first() else {
            break;
        };
        // Only a token is held for the next step; anything else is seen by
        // observing again, unless this step cannot have changed what the
        // next one was planned from.
        let joins_next = matches!(
            (&token, &next.kind),
            (Some((holder, _)), StepKind::JoinCluster { joiner, .. }) if holder == joiner
        );
        if !joins_next && !goes_on_unobserved(&step.kind, &next.kind) {
            break;
        }
    }
    Ok(())
}

/// Whether `next` may follow `done` from the observation both were planned
/// from: the definitions of one pool or network on one member after
/// another, each touching only its own member's entry, which that
/// observation saw missing. Observing the whole cluster again between them
/// was most of a formation's time between steps.
fn goes_on_unobserved(done: &StepKind, next: &StepKind) -> bool {
    match (done, next) {
        (
            StepKind::CreatePoolPending { pool: a, .. },
            StepKind::CreatePoolPending { pool: b, .. },
        ) => a == b,
        (
            StepKind::CreateNetworkPending { network: a },
            StepKind::CreateNetworkPending { network: b },
        ) => a == b,
        _ => false,
    }
}

/// Steps that may run while other members run theirs: once the monitors
/// are made, a member's client config, manager and OSDs touch only that
/// member (an OSD's id comes from the monitors, which hand out each id
/// once). OSDs made one after another were most of a formation's time.
fn runs_beside_others(kind: &StepKind) -> bool {
    matches!(
        kind,
        StepKind::CephConfigure { .. } | StepKind::CephAddMgr | StepKind::CephCreateOsd { .. }
    )
}

/// Runs `steps` a chain per member: a member's steps in plan order, the
/// chains at the same time. After a failure no chain starts another step;
/// those under way end first, so that nothing is left half made by us, and
/// the failure reported is the first in plan order.
async fn side_by_side<W: World>(
    world: &W,
    steps: &[&Step],
    tally: &mut Tally,
    events: &mpsc::Sender<Event>,
) -> Result<(), ApplyError> {
    let mut chains: Vec<Vec<(usize, &Step)>> = Vec::new();
    for step in steps {
        let index = tally.start(step);
        match chains.iter_mut().find(|c| c[0].1.member == step.member) {
            Some(chain) => chain.push((index, step)),
            None => chains.push(vec![(index, step)]),
        }
    }
    let stopped = AtomicBool::new(false);
    let stopped = &stopped;
    let ends = futures_util::future::join_all(chains.into_iter().map(|chain| async move {
        let mut done = 0;
        for (index, step) in chain {
            if stopped.load(Ordering::SeqCst) {
                break;
            }
            if let Err(e) = run_one(world, step, index, None, events).await {
                stopped.store(true, Ordering::SeqCst);
                return (done, Some((index, e)));
            }
            done += 1;
        }
        (done, None)
    }))
    .await;
    tally.ticked += ends.iter().map(|(done, _)| done).sum::<usize>();
    match ends
        .into_iter()
        .filter_map(|(_, e)| e)
        .min_by_key(|(i, _)| *i)
    {
        Some((_, e)) => Err(e),
        None => Ok(()),
    }
}

/// Runs one step, reporting its start and end. A join needs `token`; a
/// token step hands back what it issued.
async fn run_one<W: World>(
    world: &W,
    step: &Step,
    index: usize,
    token: Option<&W::Token>,
    events: &mpsc::Sender<Event>,
) -> Result<Option<W::Token>, ApplyError> {
    let _ = events
        .send(Event::Started {
            index,
            step: step.clone(),
        })
        .await;
    let failed = |cause: Cause| ApplyError::Step {
        index,
        member: step.member.clone(),
        step: step.description.clone(),
        cause,
    };
    let mut issued_now = None;
    match (&step.kind, token) {
        (StepKind::IssueToken { joiner }, _) => {
            let issued = world.issue_token(joiner).await.map_err(failed)?;
            if issued.earlier {
                let message = format!("{joiner}: using the join token issued earlier");
                let _ = events.send(Event::Info(message)).await;
            }
            issued_now = Some(issued.token);
        }
        (StepKind::JoinCluster { .. }, Some(token)) => {
            world.join(step, token).await.map_err(failed)?
        }
        (StepKind::JoinCluster { joiner, .. }, None) => {
            return Err(failed(
                format!(
                    "{joiner} has no join token: the plan joins members only after issuing one"
                )
                .into(),
            ))
        }
        (StepKind::WipeDisk { disk, .. }, _) => {
            world.wipe(&step.member, disk).await.map_err(failed)?
        }
        (kind, _) if is_ceph(kind) => world.ceph(step).await.map_err(failed)?,
        _ => world.lxd(step).await.map_err(failed)?,
    }
    tracing::debug!(index, member = %step.member, step = %step.description, "step done");
    let _ = events.send(Event::Ticked { index }).await;
    Ok(issued_now)
}

fn is_ceph(kind: &StepKind) -> bool {
    matches!(
        kind,
        StepKind::CephBootstrapMon { .. }
            | StepKind::CephAddMon { .. }
            | StepKind::CephConfigure { .. }
            | StepKind::CephAddMgr
            | StepKind::CephAddMds
            | StepKind::CephCreateOsd { .. }
            | StepKind::CephCreatePool { .. }
            | StepKind::CephCreateFs { .. }
    )
}

/// Where each step stands. Steps are told apart as the operator sees them,
/// by member and description.
struct Tally {
    /// Every step announced or planned since, in index order (index - 1).
    steps: Vec<(Step, Standing)>,
    ticked: usize,
    skipped: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    Waiting,
    Started,
    Skipped,
}

impl Tally {
    fn new(plan: &Plan) -> Tally {
        Tally {
            steps: plan
                .steps
                .iter()
                .map(|s| (s.clone(), Standing::Waiting))
                .collect(),
            ticked: 0,
            skipped: 0,
        }
    }

    fn position(&self, step: &Step, standing: Standing) -> Option<usize> {
        self.steps.iter().position(|(s, st)| {
            *st == standing && s.member == step.member && s.description == step.description
        })
    }

    /// The index of a step about to start: its own if it was announced,
    /// else the next one.
    fn start(&mut self, step: &Step) -> usize {
        let i = match self.position(step, Standing::Waiting) {
            Some(i) => i,
            None => {
                self.steps.push((step.clone(), Standing::Waiting));
                self.steps.len() - 1
            }
        };
        self.steps[i].1 = Standing::Started;
        i + 1
    }

    /// The index of a step that is planned again.
    fn index_of(&self, step: &Step) -> usize {
        self.position(step, Standing::Started)
            .or_else(|| self.position(step, Standing::Waiting))
            .map_or(self.steps.len() + 1, |i| i + 1)
    }

    /// Reports the waiting steps that `plan` no longer holds as skipped.
    async fn skip_what_is_gone(&mut self, plan: &Plan, events: &mpsc::Sender<Event>) {
        for (i, (step, standing)) in self.steps.iter_mut().enumerate() {
            let planned = plan
                .steps
                .iter()
                .any(|s| s.member == step.member && s.description == step.description);
            if *standing == Standing::Waiting && !planned {
                *standing = Standing::Skipped;
                self.skipped += 1;
                tracing::info!(member = %step.member, step = %step.description, "found done already");
                let _ = events
                    .send(Event::Skipped {
                        index: i + 1,
                        step: step.clone(),
                    })
                    .await;
            }
        }
    }
}
