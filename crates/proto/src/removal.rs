//! Wire types of `muster remove`: the local CLI asks its agent, which
//! drives LXD, Ceph and the other members' trust stores. Progress streams
//! as [`crate::formation::InitEvent`] lines, as `muster init`'s does.

use serde::{Deserialize, Serialize};

/// Paths of removal.
pub mod paths {
    /// POST, unix socket: remove a member ([`super::RemoveRequest`]); the
    /// answer is newline-delimited JSON, one
    /// [`crate::formation::InitEvent`] a line.
    pub const REMOVE: &str = "/v1/remove";
    /// POST, HTTPS (this server's controller only): stop this server's
    /// Ceph daemons for good and remove their data, its OSDs' labels and
    /// its Ceph config: it leaves the Ceph cluster
    /// ([`super::CephLeaveRequest`]).
    pub const CEPH_LEAVE: &str = "/v1/ceph/leave";
    /// POST, HTTPS (this server's controller only): stop trusting a member
    /// ([`super::ForgetRequest`]); the controller may name itself, which
    /// releases this server.
    pub const TRUST_FORGET: &str = "/v1/trust/forget";
}

/// `muster remove NAME`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoveRequest {
    pub name: String,
    /// The member is dead: do from the cluster's side what cannot be done
    /// on it, and delete its instances that cannot move.
    #[serde(default)]
    pub force: bool,
    /// Stop after printing the plan.
    #[serde(default)]
    pub dry_run: bool,
}

/// A controller asks a member to leave Ceph: `name` must be that
/// member's, so that a call that reached another server does nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CephLeaveRequest {
    pub name: String,
}

/// A controller asks a member to forget `name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForgetRequest {
    pub name: String,
}

/// What a forget found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForgetResponse {
    /// False when the name was not trusted (already forgotten).
    pub forgotten: bool,
}
