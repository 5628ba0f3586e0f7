//! Wire types of cluster formation: `muster init` (the local CLI asks its
//! agent, which drives every member), the member side of an LXD join, and
//! `muster status`.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{redacted, Redacted};

/// Paths of cluster formation.
pub mod paths {
    /// GET, unix socket and HTTPS (members only): this server's LXD as
    /// observed (`muster_plan::LxdObserved`).
    pub const LXD: &str = "/v1/lxd";
    /// POST, HTTPS (members only): join this server's LXD to the cluster
    /// of the token ([`super::LxdJoinRequest`] -> [`super::LxdJoinResponse`]).
    pub const LXD_JOIN: &str = "/v1/lxd/join";
    /// POST, unix socket: run `muster init` ([`super::InitRequest`]); the
    /// answer is newline-delimited JSON, one [`super::InitEvent`] a line.
    pub const INIT: &str = "/v1/init";
    /// POST, unix socket: run `muster add` ([`super::InitRequest`] whose
    /// preseed lists only the new members, and optionally their session),
    /// on the server that formed the cluster; answered as `INIT` is.
    pub const ADD: &str = "/v1/add";
    /// GET, unix socket: the cluster as this server's LXD sees it
    /// ([`super::ClusterStatus`]).
    pub const STATUS: &str = "/v1/status";
    /// GET, unix socket and HTTPS (members only): this server's part in
    /// Ceph as its own files and daemons show it (`muster_ceph::LocalState`),
    /// readable when the cluster is down.
    pub const CEPH: &str = "/v1/ceph";
    /// POST, HTTPS (members only): carry out one Ceph step of the
    /// initiator's plan on this server.
    pub const CEPH_STEP: &str = "/v1/ceph/step";
    /// POST, HTTPS (members only): erase a chosen disk the operator allowed
    /// to be wiped ([`super::WipeRequest`]).
    pub const WIPE: &str = "/v1/disks/wipe";
}

/// A member-specific config value a joiner gives LXD (`member_config` of
/// `PUT /1.0/cluster`), e.g. a storage pool's `source`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberConfigEntry {
    pub entity: String,
    pub name: String,
    pub key: String,
    pub value: String,
}

/// What the initiator sends a joiner's agent so it joins its LXD.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LxdJoinRequest {
    /// The join token LXD issued for this member (base64, as LXD makes it).
    pub token: String,
    /// PEM of the cluster certificate; must match the token's fingerprint.
    pub cluster_certificate: String,
    /// The initiator's `IP:8443`.
    pub cluster_address: String,
    /// This member's own `IP:8443`.
    pub server_address: String,
    #[serde(default)]
    pub member_config: Vec<MemberConfigEntry>,
}

impl fmt::Debug for LxdJoinRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let LxdJoinRequest {
            token: _,
            cluster_certificate,
            cluster_address,
            server_address,
            member_config,
        } = self;
        f.debug_struct("LxdJoinRequest")
            .field("token", &Redacted)
            .field("cluster_certificate", cluster_certificate)
            .field("cluster_address", cluster_address)
            .field("server_address", server_address)
            .field("member_config", member_config)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LxdJoinResponse {
    /// False when the member was already in this cluster (nothing done).
    pub joined: bool,
    pub server_name: String,
}

/// A wipe the initiator's plan asks of a member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WipeRequest {
    /// The device as the plan names it (kernel or by-id path).
    pub device: String,
}

/// `muster init --preseed FILE [--dry-run]`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitRequest {
    /// The preseed file's text (the CLI reads it; the agent parses it).
    pub preseed: String,
    /// The session passphrase when the preseed names a file: the CLI
    /// reads it, so the file need only be readable by the operator.
    #[serde(default)]
    pub passphrase: Option<String>,
    /// Stop after printing the plan.
    #[serde(default)]
    pub dry_run: bool,
}

impl fmt::Debug for InitRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let InitRequest {
            preseed: _,
            passphrase,
            dry_run,
        } = self;
        // The preseed may hold the session passphrase (`session.passphrase`).
        f.debug_struct("InitRequest")
            .field("preseed", &Redacted)
            .field("passphrase", &redacted(passphrase))
            .field("dry_run", dry_run)
            .finish()
    }
}

/// One line of `muster init`'s progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum InitEvent {
    /// Something the operator should see ("waiting for s2 to join...").
    Info { message: String },
    /// The plan, rendered for reading.
    Plan {
        text: String,
        steps: usize,
        /// What each member runs ("LXD 5.0.2", "Incus 6.0.4"), by name.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        builds: BTreeMap<String, String>,
    },
    /// A step starts. `index` is its number in the plan this run
    /// announced (from 1; steps planned later follow on).
    Step {
        index: usize,
        member: String,
        description: String,
    },
    /// The step just announced is done.
    StepDone { index: usize },
    /// A step of the announced plan was found done when its turn came (an
    /// earlier step did it): nothing was run for it. With `StepDone`, every
    /// announced step ends in one of these, or the run fails at it.
    StepSkipped {
        index: usize,
        member: String,
        description: String,
    },
    /// The end: the cluster is formed (or, with `--dry-run`, planned).
    Done { message: String },
    /// The end: nothing more is done. `member` when the run stopped at one
    /// (its step failed, or its state could not be read between steps),
    /// `step` when a step failed.
    Failed {
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        member: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<String>,
    },
}

/// `muster status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterStatus {
    /// This server's name.
    pub server: String,
    /// What it runs: "LXD 5.0.2", "Incus 6.0.4" (every member runs the
    /// same build: muster checks before a join).
    #[serde(default)]
    pub daemon: String,
    pub clustered: bool,
    pub members: Vec<MemberStatus>,
    pub storage_pools: Vec<ObjectStatus>,
    pub networks: Vec<ObjectStatus>,
    /// `None` when this server has no part in a Ceph cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ceph: Option<CephStatus>,
}

/// Ceph as this server's `ceph` tool sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CephStatus {
    /// "HEALTH_OK", "HEALTH_WARN", "HEALTH_ERR"; or why it could not be read.
    pub health: String,
    /// The health checks that fail, as Ceph words them.
    pub checks: Vec<String>,
    /// Every monitor, and those in quorum.
    pub mons: Vec<String>,
    pub quorum: Vec<String>,
    /// OSDs by member (CRUSH host).
    pub hosts: Vec<CephHostStatus>,
    /// What the operator should know (e.g. too few members with OSDs).
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CephHostStatus {
    pub name: String,
    pub osds: Vec<CephOsdStatus>,
    /// Ceph keeps its OSDs in while they are down (`muster maintenance`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub noout: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CephOsdStatus {
    pub id: u32,
    pub up: bool,
    #[serde(rename = "in")]
    pub is_in: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberStatus {
    pub name: String,
    /// LXD's cluster address, `https://IP:8443`.
    pub url: String,
    /// "Online", "Offline"...
    pub status: String,
    pub message: String,
    pub roles: Vec<String>,
}

/// A storage pool or managed network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectStatus {
    pub name: String,
    /// The pool's driver or the network's type.
    pub kind: String,
    /// "Created", "Pending", "Errored".
    pub status: String,
    pub locations: Vec<String>,
}
