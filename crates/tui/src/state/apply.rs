//! The plan under review and its apply's progress.

use super::{moved, ApplyState, Level, MemberProgress, PlanState, Screen, StepRow, Wizard};
use crate::model::{Effect, Key, PlanLine, Progress, StepStatus};

impl Wizard {
    pub fn plan(&self) -> &PlanState {
        &self.plan
    }

    pub(super) fn on_plan_key(&mut self, key: Key) -> Vec<Effect> {
        let len = match &self.plan {
            PlanState::Ready(lines) => lines.len(),
            _ => 0,
        };
        if let Some(cursor) = moved(self.plan_cursor, len, key) {
            self.plan_cursor = cursor;
            return Vec::new();
        }
        match (key, &self.plan) {
            (Key::Enter, PlanState::Ready(lines)) => {
                self.progress = group_plan(lines);
                self.progress_cursor = 0;
                self.apply = ApplyState::Running;
                self.screen = Screen::Progress;
                self.dirty = true;
                vec![Effect::Apply]
            }
            (Key::Enter | Key::Char('r'), PlanState::Failed(_)) => {
                self.screen = Screen::Networks;
                self.leave_networks()
            }
            (Key::Enter, _) => {
                self.say(Level::Info, "The plan is still being made.");
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    pub fn progress(&self) -> &[MemberProgress] {
        &self.progress
    }

    /// Number of step rows, over all members.
    pub(super) fn step_count(&self) -> usize {
        self.progress.iter().map(|m| m.steps.len()).sum()
    }

    pub(super) fn on_progress_key(&mut self, key: Key) -> Vec<Effect> {
        if let Some(cursor) = moved(self.progress_cursor, self.step_count(), key) {
            self.progress_cursor = cursor;
            return Vec::new();
        }
        match (key, self.apply) {
            (Key::Char('r'), ApplyState::Failed) => {
                for step in self.progress.iter_mut().flat_map(|m| m.steps.iter_mut()) {
                    if matches!(step.status, Some(StepStatus::Failed(_))) {
                        step.status = None;
                    }
                }
                self.apply = ApplyState::Running;
                vec![Effect::Retry]
            }
            (Key::Char('r'), _) => {
                self.say(Level::Info, "Nothing failed: there is nothing to retry.");
                Vec::new()
            }
            (Key::Enter, ApplyState::Finished) => vec![Effect::Quit],
            _ => Vec::new(),
        }
    }

    pub(super) fn on_progress(&mut self, progress: Progress) {
        let member = match self
            .progress
            .iter()
            .position(|m| m.member == progress.member)
        {
            Some(i) => i,
            None => {
                self.progress.push(MemberProgress {
                    member: progress.member.clone(),
                    steps: Vec::new(),
                });
                self.progress.len() - 1
            }
        };
        let steps = &mut self.progress[member].steps;
        let step = match steps.iter().position(|s| s.step == progress.step) {
            Some(i) => i,
            None => {
                steps.push(StepRow {
                    step: progress.step.clone(),
                    status: None,
                });
                steps.len() - 1
            }
        };
        let failed = matches!(progress.status, StepStatus::Failed(_));
        steps[step].status = Some(progress.status);
        if failed {
            self.apply = ApplyState::Failed;
            // Show the failure where it happened.
            self.progress_cursor = self.progress[..member]
                .iter()
                .map(|m| m.steps.len())
                .sum::<usize>()
                + step;
        } else if self.apply == ApplyState::Failed {
            self.apply = ApplyState::Running;
        }
    }
}

/// The plan's lines grouped by member, in the order members first appear,
/// each step not started.
fn group_plan(lines: &[PlanLine]) -> Vec<MemberProgress> {
    let mut grouped: Vec<MemberProgress> = Vec::new();
    for line in lines {
        let row = StepRow {
            step: line.step.clone(),
            status: None,
        };
        match grouped.iter_mut().find(|m| m.member == line.member) {
            Some(m) => m.steps.push(row),
            None => grouped.push(MemberProgress {
                member: line.member.clone(),
                steps: vec![row],
            }),
        }
    }
    grouped
}
