//! What a run reports as it goes, and how it ends.

use muster_plan::{Plan, Step};

/// One piece of progress. `index` is the step's number in the plan first
/// announced (steps planned later are numbered after those).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The plan made from the first observation: what this run will do.
    Planned { plan: Plan, warnings: Vec<String> },
    /// Something the operator should see.
    Info(String),
    /// A step starts.
    Started { index: usize, step: Step },
    /// The step just started is done.
    Ticked { index: usize },
    /// A step announced earlier was found done when its turn came (an
    /// earlier step did it too): nothing was run for it.
    Skipped { index: usize, step: Step },
}

/// How a run ended well.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A dry run: the plan was announced, nothing was changed.
    DryRun,
    /// Every step is done. `steps` is how many were announced or planned
    /// in all: `ticked + skipped` of them.
    Formed {
        members: Vec<String>,
        steps: usize,
        ticked: usize,
        skipped: usize,
    },
}
