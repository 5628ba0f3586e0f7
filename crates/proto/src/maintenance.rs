//! Wire types of `muster maintenance NAME on|off`: the local CLI asks its
//! agent, which drives LXD and Ceph. Progress streams as
//! [`crate::formation::InitEvent`] lines.

use serde::{Deserialize, Serialize};

/// POST, unix socket: [`MaintenanceRequest`]; the answer is
/// newline-delimited JSON, one [`crate::formation::InitEvent`] a line.
pub const MAINTENANCE_PATH: &str = "/v1/maintenance";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceRequest {
    pub name: String,
    /// On (evacuate, noout) or off (restore, noout cleared).
    pub on: bool,
    /// Stop after printing the plan.
    #[serde(default)]
    pub dry_run: bool,
}
