//! The steps a plan is made of.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::choices::{DiskRef, Driver};

/// One thing to do. `member` is the member it changes; which API carries it
/// out is said on each [`StepKind`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub member: String,
    pub kind: StepKind,
    /// For the operator, e.g. "Wipe /dev/sdc (carries an ext4 filesystem)".
    pub description: String,
}

impl Step {
    pub(crate) fn new(member: &str, kind: StepKind) -> Step {
        let description = kind.describe(member);
        Step {
            member: member.to_owned(),
            kind,
            description,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "step")]
pub enum StepKind {
    /// The member's agent erases the signatures and partition table of a
    /// chosen disk the operator allowed to be wiped. `found` is what is on it.
    WipeDisk {
        disk: DiskRef,
        found: Vec<String>,
    },
    /// The initiator's LXD: `PATCH /1.0` `core.https_address`.
    SetHttpsAddress {
        address: String,
    },
    /// The initiator's LXD: `PUT /1.0/cluster` (enabled, server_name).
    BootstrapCluster,
    /// The initiator's LXD: force-remove a member record left by a join
    /// that failed half-way (the cluster lists it, its LXD is standalone).
    RemoveStaleMember {
        joiner: String,
    },
    /// The initiator's LXD: `POST /1.0/cluster/members` for the joiner.
    IssueToken {
        joiner: String,
    },
    /// The joiner's agent (the token delivered over mutual TLS) joins its
    /// LXD: `PUT /1.0/cluster`. `pool_sources` fills the `source` member
    /// config key of pools the cluster already has; other keys LXD asks for
    /// stay empty.
    JoinCluster {
        joiner: String,
        /// The initiator's `IP:8443`.
        cluster_address: String,
        /// The joiner's own `IP:8443`.
        server_address: String,
        pool_sources: BTreeMap<String, String>,
    },
    /// Any member's LXD: `DELETE /1.0/storage-pools/POOL` of a pool that
    /// was only defined (pending, never created: nothing uses it) with
    /// another driver than the one chosen now, left by a run that stopped.
    DeletePendingPool {
        pool: String,
        /// The driver of the definitions, and the one chosen now.
        was: String,
        now: Driver,
    },
    /// Any member's LXD: `POST /1.0/storage-pools?target=MEMBER`.
    CreatePoolPending {
        pool: String,
        driver: Driver,
        /// `None`: LXD's default (a directory, or a loop file).
        source: Option<String>,
    },
    /// Any member's LXD: `POST /1.0/storage-pools` without a target, which
    /// creates the pool on every member it was defined on.
    CreatePool {
        pool: String,
        driver: Driver,
        config: BTreeMap<String, String>,
    },
    /// Any member's LXD: `POST /1.0/networks?target=MEMBER`.
    CreateNetworkPending {
        network: String,
    },
    /// Any member's LXD: `POST /1.0/networks` (type bridge) without a target.
    CreateNetwork {
        network: String,
        config: BTreeMap<String, String>,
    },
    /// The member's agent creates the first monitor (and the cluster's fsid).
    CephBootstrapMon {
        address: IpAddr,
        public_network: Option<IpNet>,
        cluster_network: Option<IpNet>,
    },
    CephAddMon {
        address: IpAddr,
    },
    /// The member's agent writes its Ceph config listing every monitor and
    /// installs the admin key: its daemons, LXD's Ceph driver and the
    /// `ceph` tool on it then reach the cluster even when a monitor is down.
    CephConfigure {
        mon_hosts: Vec<IpAddr>,
    },
    CephAddMgr,
    CephAddMds,
    CephCreateOsd {
        disk: DiskRef,
    },
    /// A replicated RBD pool.
    CephCreatePool {
        pool: String,
        size: u32,
    },
    CephCreateFs {
        fs: String,
    },
    /// Any member's LXD: `PUT /1.0/profiles/default` with a root disk on
    /// `root_pool` and `eth0` on `network` (other devices kept).
    UpdateDefaultProfile {
        root_pool: String,
        network: String,
    },
}

impl StepKind {
    fn describe(&self, member: &str) -> String {
        match self {
            StepKind::WipeDisk { disk, found } if found.is_empty() => format!("Wipe {disk}"),
            StepKind::WipeDisk { disk, found } => {
                format!("Wipe {disk} ({})", found.join(", "))
            }
            StepKind::SetHttpsAddress { address } => {
                format!("Set LXD's core.https_address to {address}")
            }
            StepKind::BootstrapCluster => {
                format!("Bootstrap the LXD cluster with {member} as its first member")
            }
            StepKind::RemoveStaleMember { joiner } => format!(
                "Remove {joiner} from the cluster's member list (left by a failed join or a reinstall)"
            ),
            StepKind::IssueToken { joiner } => format!("Issue a join token for {joiner}"),
            StepKind::JoinCluster {
                cluster_address,
                server_address,
                pool_sources,
                ..
            } => {
                let mut s = format!(
                    "Join the LXD cluster at {cluster_address} as {member} ({server_address})"
                );
                if !pool_sources.is_empty() {
                    let pools: Vec<String> = pool_sources
                        .iter()
                        .map(|(pool, source)| format!("pool {pool} on {}", or_default(source)))
                        .collect();
                    s.push_str(&format!(", with {}", pools.join(", ")));
                }
                s
            }
            StepKind::DeletePendingPool { pool, was, now } => format!(
                "Delete the definitions of storage pool {pool} ({was}) an earlier run left \
                 pending: {now} is chosen now"
            ),
            StepKind::CreatePoolPending {
                pool,
                driver,
                source,
            } => match source {
                Some(source) => {
                    format!("Define storage pool {pool} ({driver}) on {member} on {source}")
                }
                None if driver.uses_block_device() => format!(
                    "Define storage pool {pool} ({driver}) on {member} in a loop file on its OS disk"
                ),
                None => format!("Define storage pool {pool} ({driver}) on {member}"),
            },
            StepKind::CreatePool { pool, driver, .. } => {
                format!("Create storage pool {pool} ({driver}) on every member")
            }
            StepKind::CreateNetworkPending { network } => {
                format!("Define bridge network {network} on {member}")
            }
            StepKind::CreateNetwork { network, config } => {
                let settings: Vec<String> = config.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!(
                    "Create bridge network {network} on every member ({})",
                    settings.join(", ")
                )
            }
            StepKind::CephBootstrapMon { address, .. } => {
                format!("Create the Ceph cluster: first monitor on {member} ({address})")
            }
            StepKind::CephAddMon { address } => {
                format!("Add a Ceph monitor on {member} ({address})")
            }
            StepKind::CephConfigure { mon_hosts } => {
                let hosts: Vec<String> = mon_hosts.iter().map(IpAddr::to_string).collect();
                format!(
                    "Configure {member} as a Ceph client (monitors {})",
                    hosts.join(", ")
                )
            }
            StepKind::CephAddMgr => format!("Add a Ceph manager on {member}"),
            StepKind::CephAddMds => format!("Add a Ceph metadata server on {member}"),
            StepKind::CephCreateOsd { disk } => format!("Create a Ceph OSD on {disk}"),
            StepKind::CephCreatePool { pool, size } => {
                format!("Create Ceph pool {pool} ({size} copies)")
            }
            StepKind::CephCreateFs { fs } => format!("Create CephFS file system {fs}"),
            StepKind::UpdateDefaultProfile { root_pool, network } => format!(
                "Set the default profile: root disk on pool {root_pool}, eth0 on network {network}"
            ),
        }
    }
}

fn or_default(source: &str) -> &str {
    if source.is_empty() {
        "its default location"
    } else {
        source
    }
}
