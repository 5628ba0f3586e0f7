//! Carrying out a plan of `muster init`: the heart of muster, kept apart
//! from HTTP, LXD and Ceph so that it can be tested in memory.
//!
//! Resuming is re-planning: before a step every member is observed again
//! and the plan computed anew from what is really there (the caller's
//! [`Planner`], over `muster_plan`), so a run after a failure does what is
//! left and a run on a formed cluster does nothing. What a step changes is
//! behind [`World`]: the initiator's LXD, the other members' agents, each
//! member's part in Ceph, a wipe.
//!
//! Progress streams as [`Event`]s, and every step the plan announced ends
//! ticked, skipped (found done by then) or failed.

mod error;
mod event;
mod run;
mod world;

#[cfg(test)]
mod tests;

pub use error::{ApplyError, Refusal};
pub use event::{Event, Outcome};
pub use run::{apply, Planned};
pub use world::{Cause, Issued, ObserveError, World};
