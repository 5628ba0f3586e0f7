//! Why a run stopped. Each names the member and the step concerned, and
//! says whether anything was changed.

use crate::world::Cause;

/// The caller's planner could not make a plan from what was observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// What could not be done, e.g. "the preseed does not fit the members".
    pub reason: String,
    /// Why, for the operator.
    pub detail: String,
}

const RESUME: &str = "What to do: fix the cause, then run the same `muster init` again; it \
                      resumes where this run stopped.";

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("{}{}:\n{}", .refusal.reason, nothing_changed(*.changed), .refusal.detail)]
    Refused { refusal: Refusal, changed: bool },
    #[error("{member}: cannot read its state: {}{}", chain(.cause), resume(*.changed))]
    Observe {
        member: String,
        cause: Cause,
        changed: bool,
    },
    #[error("{member}: {step} failed: {}\n{RESUME}", chain(.cause))]
    Step {
        index: usize,
        member: String,
        step: String,
        cause: Cause,
    },
    #[error(
        "{step} on {member} did not take effect (the member's state is the same after it); see \
         the agents' and LXD's logs, then run muster init again"
    )]
    NoEffect {
        index: usize,
        member: String,
        step: String,
    },
}

impl ApplyError {
    /// The member the run stopped at: the one whose step failed, or whose
    /// state could not be read between steps.
    pub fn member(&self) -> Option<&str> {
        match self {
            ApplyError::Step { member, .. }
            | ApplyError::NoEffect { member, .. }
            | ApplyError::Observe { member, .. } => Some(member),
            ApplyError::Refused { .. } => None,
        }
    }

    /// The member and the step's description, when a step failed.
    pub fn step(&self) -> Option<(&str, &str)> {
        match self {
            ApplyError::Step { member, step, .. } | ApplyError::NoEffect { member, step, .. } => {
                Some((member, step))
            }
            ApplyError::Refused { .. } | ApplyError::Observe { .. } => None,
        }
    }
}

/// The cause with its own causes, on one line: the world's errors are
/// read by the operator, who needs all of it.
fn chain(cause: &Cause) -> String {
    let mut out = cause.to_string();
    let mut source = cause.source();
    while let Some(inner) = source {
        out.push_str(&format!(": {inner}"));
        source = inner.source();
    }
    out
}

fn nothing_changed(changed: bool) -> &'static str {
    if changed {
        ""
    } else {
        ", nothing was changed"
    }
}

fn resume(changed: bool) -> String {
    if changed {
        format!("\n{RESUME}")
    } else {
        ". Nothing was changed.".to_owned()
    }
}
