//! What the agent says, as wizard events: the trust session as it is
//! polled, and the lines of `POST /v1/init`'s answer. Pure.

use std::collections::{BTreeMap, BTreeSet};

use muster_proto::formation::InitEvent;
use muster_proto::trust::{Member, SessionPhase, SessionStatus};
use muster_tui::{PlanLine, Progress, StepStatus, World};

/// Look-ups of the agent that may fail in a row before the wizard hears of
/// it: one slow answer is no news.
pub(super) const UNREACHABLE_AFTER: u32 = 3;

/// What the trust watch has reported so far.
#[derive(Debug, Default)]
pub(super) struct TrustSeen {
    pub(super) trusted: BTreeSet<String>,
    /// The session's failed attempts already reported; `None` until the
    /// session is seen open (an earlier session's are not news).
    failures: Option<u32>,
    /// The session ended and the wizard was told.
    ended: bool,
    errors_in_a_row: u32,
}

impl TrustSeen {
    /// What changed since the last look, as wizard events. Pure.
    pub(super) fn news(
        &mut self,
        status: &SessionStatus,
        members: &[Member],
        chosen: &[String],
    ) -> Vec<World> {
        self.errors_in_a_row = 0;
        let mut events = Vec::new();
        let trusted = status
            .joined
            .iter()
            .map(|p| (&p.name, &p.fingerprint))
            .chain(members.iter().map(|m| (&m.name, &m.fingerprint)));
        for (name, fingerprint) in trusted {
            if self.trusted.insert(name.clone()) {
                events.push(World::PeerTrusted {
                    name: name.clone(),
                    fingerprint: fingerprint.clone(),
                });
            }
        }
        match status.phase {
            SessionPhase::Open => {
                self.ended = false;
                let before = *self.failures.get_or_insert(0);
                let new = status.failed_attempts.saturating_sub(before) as usize;
                // Most recent first in the status; oldest first to the wizard.
                for f in status.failures.iter().take(new).rev() {
                    events.push(World::FailedAttempt {
                        address: f.address.clone(),
                        claimed_name: f.claimed_name.clone(),
                    });
                }
                self.failures = Some(status.failed_attempts);
            }
            SessionPhase::Expired | SessionPhase::Ended | SessionPhase::Closed
                if self.failures.is_some() && !self.ended =>
            {
                self.failures = None;
                let waiting = chosen.iter().any(|n| !self.trusted.contains(n));
                if waiting {
                    self.ended = true;
                    events.push(World::SessionFailed(format!(
                        "the trust session is {}: r opens a new one",
                        match status.phase {
                            SessionPhase::Expired => "expired",
                            SessionPhase::Ended => "ended by too many wrong passphrases",
                            _ => "closed",
                        }
                    )));
                }
            }
            _ => {}
        }
        events
    }

    pub(super) fn unreachable(&mut self, message: String) -> Vec<World> {
        self.errors_in_a_row += 1;
        if self.errors_in_a_row == UNREACHABLE_AFTER {
            vec![World::SessionFailed(message)]
        } else {
            Vec::new()
        }
    }
}

/// The step a failure is shown under when the agent names none.
pub(super) const INIT_STEP: &str = "muster init";

/// Turns `POST /v1/init`'s events into wizard events: the plan of a dry
/// run, the steps of an apply. Pure.
#[derive(Debug)]
pub(super) struct InitEvents {
    local: String,
    dry_run: bool,
    /// Step index (of this run) to member and description.
    steps: BTreeMap<usize, (String, String)>,
    /// Steps started and not done: several run at once where members
    /// make their Ceph daemons side by side.
    running: BTreeSet<usize>,
    planned: bool,
    ended: bool,
}

impl InitEvents {
    pub(super) fn new(local: &str, dry_run: bool) -> InitEvents {
        InitEvents {
            local: local.to_owned(),
            dry_run,
            steps: BTreeMap::new(),
            running: BTreeSet::new(),
            planned: false,
            ended: false,
        }
    }

    pub(super) fn on(&mut self, event: InitEvent) -> Vec<World> {
        if self.ended {
            return Vec::new();
        }
        match event {
            InitEvent::Info { .. } => Vec::new(),
            InitEvent::Plan { text, builds, .. } if self.dry_run => {
                self.planned = true;
                vec![World::Builds(builds), World::PlanReady(plan_lines(&text))]
            }
            InitEvent::Plan { .. } => Vec::new(),
            InitEvent::Step {
                index,
                member,
                description,
            } => {
                self.running.insert(index);
                self.steps
                    .insert(index, (member.clone(), description.clone()));
                vec![progress(member, description, StepStatus::Running)]
            }
            InitEvent::StepDone { index } => {
                self.running.remove(&index);
                match self.steps.get(&index) {
                    Some((member, step)) => {
                        vec![progress(member.clone(), step.clone(), StepStatus::Done)]
                    }
                    None => Vec::new(),
                }
            }
            InitEvent::StepSkipped {
                member,
                description,
                ..
            } => vec![progress(member, description, StepStatus::Skipped)],
            InitEvent::Done { .. } => {
                self.ended = true;
                if self.dry_run {
                    // A dry run always sends its plan first; in case not.
                    if self.planned {
                        Vec::new()
                    } else {
                        vec![World::PlanReady(Vec::new())]
                    }
                } else {
                    vec![World::ApplyFinished]
                }
            }
            InitEvent::Failed {
                message,
                member,
                step,
            } => {
                self.ended = true;
                self.failed(message, member.zip(step))
            }
        }
    }

    /// The answer ended, cleanly (`None`) or not: if no end was reported,
    /// this is the end, a failure.
    pub(super) fn end(&mut self, error: Option<String>) -> Vec<World> {
        if self.ended {
            return Vec::new();
        }
        self.ended = true;
        let message = match error {
            Some(e) => format!("{e}; run muster init again to resume"),
            None => "musterd stopped answering before init finished (did it exit? see its log)"
                .to_owned(),
        };
        self.failed(message, None)
    }

    fn failed(&self, message: String, at: Option<(String, String)>) -> Vec<World> {
        if self.dry_run {
            return vec![World::PlanFailed(message)];
        }
        let (member, step) = at
            .or_else(|| {
                let first = self.running.first()?;
                self.steps.get(first).cloned()
            })
            .unwrap_or_else(|| (self.local.clone(), INIT_STEP.to_owned()));
        vec![progress(member, step, StepStatus::Failed(message))]
    }
}

pub(super) fn progress(member: String, step: String, status: StepStatus) -> World {
    World::Progress(Progress {
        member,
        step,
        status,
    })
}

/// The steps of a plan as `muster_plan::Plan::render` writes it: members
/// as headings (`s1 (10.0.0.1, initiator)`), under each its steps numbered
/// in the order they run (`  3. Join ...`). In that order. Pure.
pub(super) fn plan_lines(text: &str) -> Vec<PlanLine> {
    let mut steps: Vec<(usize, PlanLine)> = Vec::new();
    let mut member: Option<&str> = None;
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if !line.starts_with(char::is_whitespace) {
            member = line
                .split_once(" (")
                .filter(|(_, rest)| rest.ends_with(')'))
                .map(|(name, _)| name);
            continue;
        }
        let (Some(member), Some((number, step))) = (member, line.trim().split_once(". ")) else {
            continue;
        };
        if let Ok(number) = number.parse::<usize>() {
            steps.push((number, PlanLine::new(member, step)));
        }
    }
    steps.sort_by_key(|(n, _)| *n);
    steps.into_iter().map(|(_, line)| line).collect()
}
