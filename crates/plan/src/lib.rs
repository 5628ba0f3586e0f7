//! The plan of `muster init`: from the operator's choices (members, disks,
//! networks) and the observed state of every member, the ordered steps
//! that form the cluster. Pure: no I/O, so every case is a unit test.
//!
//! Resuming is re-planning: each step's "already done" test is made here
//! against [`Observed`], so a plan computed after a failure holds only what
//! is left, and a plan for a finished cluster is empty.

mod choices;
mod maintenance;
mod observed;
mod plan;
mod removal;
mod render;
mod step;
mod tools;

#[cfg(test)]
mod tests;

pub use choices::{
    BridgeAddress, CephChoices, Choices, DiskRef, Driver, InstanceNetwork, MemberChoice, CEPH_FS,
    CEPH_RBD_POOL, DEFAULT_NETWORK, LOCAL_POOL, LXD_PORT, REMOTE_FS_POOL, REMOTE_POOL,
};
pub use maintenance::{
    plan_maintenance, CephMaintenanceObserved, MaintenanceObserved, MaintenancePlan,
    MaintenanceRefusal, MaintenanceStep,
};
pub use observed::{
    best_local_driver, membership, CephConfigObserved, CephObserved, DeviceConfig, LxdObserved,
    MemberObserved, Membership, NetworkObserved, Observed, PoolObserved, Status,
};
pub use plan::{plan, Plan, PlanError, PlanErrors};
pub use removal::{
    plan_removal, CephRemovalObserved, InstanceObserved, OsdObserved, RemovalChoices,
    RemovalObserved, RemovalPlan, RemovalRefusal, RemovalRefusals, RemovalStep, CEPH_FULL_RATIO,
};
pub use step::{Step, StepKind};
pub use tools::{Tool, TOOLS};
