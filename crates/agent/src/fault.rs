//! Test-only fault injection: `MUSTER_FAULT=NAME` in musterd's environment
//! makes the agent exit (status 86, no cleanup, as if killed) at the named
//! point, so that tests can show that `muster init` resumes. Unset, which
//! is always the case in production, nothing happens.
//!
//! Points: `before-join` (a joiner, after the initiator issued its token and
//! before its LXD joins), `after-bootstrap` (the initiator, right after its
//! LXD bootstrapped the cluster), `after-ceph-mon` (a member, once its Ceph
//! monitor was made and started, before it answers the initiator).

use crate::shared::Shared;

/// The exit status of an agent stopped by a fault.
pub const EXIT_STATUS: i32 = 86;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    BeforeJoin,
    AfterBootstrap,
    AfterCephMon,
}

impl Fault {
    fn name(self) -> &'static str {
        match self {
            Fault::BeforeJoin => "before-join",
            Fault::AfterBootstrap => "after-bootstrap",
            Fault::AfterCephMon => "after-ceph-mon",
        }
    }
}

/// The fault named in the environment, read once at start.
pub(crate) fn from_env() -> Option<String> {
    std::env::var("MUSTER_FAULT").ok().filter(|v| !v.is_empty())
}

/// Exits the process when `fault` is the configured one.
pub(crate) fn hit(state: &Shared, fault: Fault) {
    if state.fault.as_deref() == Some(fault.name()) {
        tracing::warn!(fault = fault.name(), "MUSTER_FAULT: exiting on purpose");
        eprintln!("musterd: MUSTER_FAULT={}: exiting on purpose", fault.name());
        std::process::exit(EXIT_STATUS);
    }
}
