//! The terminal wizard of `muster init`.
//!
//! Kept in three parts, as gitui and bottom do: [`state`] is the wizard as
//! a pure state machine (keys and world events in, [`Effect`]s out),
//! [`draw`] renders it with ratatui without changing it, and
//! [`event_loop`] owns the terminal and ties the two to the caller, who
//! carries out the effects. Only the event loop touches a terminal, so
//! everything else is tested without one.
//!
//! Screens, in order: peers found over mDNS or added by address, the
//! trust session, the disks of every member, the networks, the plan, and
//! the apply's progress.

pub mod disk_info;
pub mod draw;
pub mod event_loop;
pub mod model;
pub mod net;
#[doc(hidden)]
pub mod sample;
pub mod state;
pub mod theme;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod snapshot_tests;

pub use event_loop::{is_tty, key_from, require_tty, run, NoTty};
pub use model::{
    ChosenDisk, Effect, Input, InstanceNetwork, Interface, Key, MemberSelection, PlanLine,
    Progress, Selection, StepStatus, World,
};
pub use state::{Screen, Wizard};
pub use theme::Theme;
