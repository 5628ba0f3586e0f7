//! The programs steps run on their member, and the pre-flight that finds
//! them missing before anything changes: a member without `ceph-osd` would
//! otherwise fail half way, after the monitors were made.

use std::collections::BTreeSet;

use crate::observed::Observed;
use crate::plan::PlanError;
use crate::step::{Step, StepKind};

/// A program and the Debian package that has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tool {
    pub program: &'static str,
    pub package: &'static str,
}

const fn tool(program: &'static str, package: &'static str) -> Tool {
    Tool { program, package }
}

const CEPH: Tool = tool("ceph", "ceph-common");
const CEPH_AUTHTOOL: Tool = tool("ceph-authtool", "ceph-common");
const RBD: Tool = tool("rbd", "ceph-common");
const MONMAPTOOL: Tool = tool("monmaptool", "ceph-base");
const CEPH_MON: Tool = tool("ceph-mon", "ceph-mon");
const CEPH_MGR: Tool = tool("ceph-mgr", "ceph-mgr");
const CEPH_OSD: Tool = tool("ceph-osd", "ceph-osd");
const CEPH_MDS: Tool = tool("ceph-mds", "ceph-mds");

/// Every program a step may need: what an agent looks for on its PATH
/// ([`crate::LxdObserved::programs`]).
pub const TOOLS: [Tool; 8] = [
    CEPH,
    CEPH_AUTHTOOL,
    RBD,
    MONMAPTOOL,
    CEPH_MON,
    CEPH_MGR,
    CEPH_OSD,
    CEPH_MDS,
];

impl StepKind {
    /// The programs carrying out this step runs on its member (those of
    /// crates/ceph; wipes and LXD calls run none of muster's). Local
    /// storage drivers' tools are LXD's own: a member's LXD lists only the
    /// drivers it can load ([`crate::PlanError::DriverUnavailable`]).
    pub fn tools(&self) -> &'static [Tool] {
        match self {
            StepKind::CephBootstrapMon { .. } => &[CEPH_AUTHTOOL, MONMAPTOOL, CEPH_MON, CEPH],
            StepKind::CephAddMon { .. } => &[CEPH, CEPH_MON],
            // A Ceph client: LXD's Ceph driver, and muster's observation,
            // run these there.
            StepKind::CephConfigure { .. } => &[CEPH, RBD],
            StepKind::CephAddMgr => &[CEPH, CEPH_MGR],
            StepKind::CephAddMds => &[CEPH, CEPH_MDS],
            StepKind::CephCreateOsd { .. } => &[CEPH_AUTHTOOL, CEPH, CEPH_OSD],
            StepKind::CephCreatePool { .. } => &[CEPH, RBD],
            StepKind::CephCreateFs { .. } => &[CEPH],
            _ => &[],
        }
    }
}

/// One refusal per member and missing program, naming the first step that
/// needs it. Members that did not report their programs (an older agent)
/// are not checked.
pub(crate) fn missing_tools(steps: &[Step], observed: &Observed) -> Vec<PlanError> {
    let mut errors = Vec::new();
    let mut named = BTreeSet::new();
    for step in steps {
        let Some(found) = observed
            .members
            .get(&step.member)
            .and_then(|m| m.lxd.programs.as_ref())
        else {
            continue;
        };
        for tool in step.kind.tools() {
            if found.iter().any(|p| p == tool.program)
                || !named.insert((&step.member, tool.program))
            {
                continue;
            }
            errors.push(PlanError::ToolMissing {
                member: step.member.clone(),
                program: tool.program.to_owned(),
                package: tool.package.to_owned(),
                step: step.description.clone(),
            });
        }
    }
    errors
}
