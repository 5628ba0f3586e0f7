//! What is really there, as read from every member just before planning.
//! Resuming is re-observing and re-planning: whatever is found done here is
//! left out of the plan.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use muster_disks::Disk;
use serde::{Deserialize, Serialize};

use crate::choices::{DiskRef, Driver, LOCAL_POOL};

/// Where an LXD storage pool or network is on one member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    /// Defined for the member, not created yet.
    Pending,
    Created,
    /// A create failed there; creating again retries it.
    Errored,
}

impl Status {
    /// From LXD's `status` field; anything unknown counts as not working.
    pub fn from_lxd(status: &str) -> Status {
        match status {
            "Created" => Status::Created,
            "Pending" => Status::Pending,
            _ => Status::Errored,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolObserved {
    /// LXD's driver name.
    pub driver: String,
    pub status: Status,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkObserved {
    /// LXD's network type ("bridge", "ovn"...). Managed networks only.
    pub kind: String,
    pub status: Status,
}

/// A device of a profile: its keys (`type`, `path`, `pool`, `network`...).
pub type DeviceConfig = BTreeMap<String, String>;

/// One member's LXD. `Default` is a freshly installed, standalone LXD.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LxdObserved {
    /// `environment.server_name` of `GET /1.0`.
    pub server_name: String,
    /// `environment.server_clustered`.
    pub clustered: bool,
    /// `config["core.https_address"]`, when set.
    pub https_address: Option<String>,
    /// When clustered: the fingerprint of the cluster certificate
    /// (`environment.certificate`), the same on every member of one cluster.
    pub cluster_fingerprint: Option<String>,
    /// When clustered: the `server_name`s of the cluster's members.
    pub cluster_members: Vec<String>,
    /// Names from `environment.storage_supported_drivers`.
    pub storage_drivers: Vec<String>,
    /// Storage pools as this member has them.
    pub pools: BTreeMap<String, PoolObserved>,
    /// Managed networks as this member has them.
    pub networks: BTreeMap<String, NetworkObserved>,
    /// The devices of the `default` profile.
    pub default_profile: BTreeMap<String, DeviceConfig>,
    /// `environment.server`: "lxd" or "incus" ("" when not reported).
    pub daemon: String,
    /// `environment.server_version`.
    pub server_version: String,
    /// How many API extensions it lists: with the version, what a joiner's
    /// build must match (LXD and Incus refuse a join otherwise).
    pub api_extensions: usize,
    /// Whether the server's kernel has device-mapper, without which LXD's
    /// lvm driver (thin pools) fails; `None` when not reported.
    pub device_mapper: Option<bool>,
    /// The member's clock when it was observed, milliseconds since the
    /// epoch.
    pub clock_unix_ms: Option<u64>,
    /// Those of [`crate::TOOLS`] found on the agent's PATH, which its
    /// Ceph steps run (a host fact reported with LXD's, as device-mapper
    /// is); `None` when not reported.
    pub programs: Option<Vec<String>>,
}

impl LxdObserved {
    pub fn supports(&self, driver: Driver) -> bool {
        if driver == Driver::Lvm && self.device_mapper == Some(false) {
            return false;
        }
        driver == Driver::Dir || self.storage_drivers.iter().any(|d| d == driver.as_str())
    }

    /// "LXD" or "Incus", when reported.
    pub fn daemon_name(&self) -> Option<&'static str> {
        match self.daemon.as_str() {
            "lxd" => Some("LXD"),
            "incus" => Some("Incus"),
            _ => None,
        }
    }

    /// "LXD 5.0.2", "Incus 6.0.4": what the plan and status show.
    pub fn build(&self) -> Option<String> {
        Some(format!("{} {}", self.daemon_name()?, self.server_version))
    }
}

/// One member as observed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MemberObserved {
    pub lxd: LxdObserved,
    /// Its agent's disk inventory.
    pub disks: Vec<Disk>,
    /// How far its clock is ahead of the initiator's (negative: behind),
    /// as the initiator saw when its answer arrived.
    pub clock_skew_ms: Option<i64>,
}

impl MemberObserved {
    /// Eligibility reasons of the whole disk or partition at `path` (by
    /// kernel or by-id path); `None` when there is no such device.
    pub fn device_reasons(&self, path: &str) -> Option<&[String]> {
        for disk in &self.disks {
            if disk.path == path || disk.by_id.iter().any(|p| p == path) {
                return Some(disk.eligibility.reasons());
            }
            for part in &disk.partitions {
                if part.path == path || part.by_id.iter().any(|p| p == path) {
                    return Some(part.eligibility.reasons());
                }
            }
        }
        None
    }
}

/// The Ceph cluster as observed (all empty before it exists).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CephObserved {
    /// Set once the first monitor was created.
    pub fsid: Option<String>,
    /// Members running a monitor, a manager, a metadata server.
    pub mons: BTreeSet<String>,
    pub mgrs: BTreeSet<String>,
    pub mdss: BTreeSet<String>,
    /// Per member, the devices (kernel or by-id paths) that are OSDs.
    pub osds: BTreeMap<String, BTreeSet<String>>,
    /// Per member, those of its OSDs whose daemon is not running.
    pub stopped_osds: BTreeMap<String, BTreeSet<String>>,
    /// Per member, its Ceph config as written (members without one are
    /// left out).
    pub configs: BTreeMap<String, CephConfigObserved>,
    /// Ceph pools.
    pub pools: BTreeSet<String>,
    /// CephFS file systems.
    pub filesystems: BTreeSet<String>,
}

/// A member's Ceph config file and key, as far as the plan cares.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CephConfigObserved {
    pub fsid: String,
    pub mon_hosts: Vec<IpAddr>,
    /// The admin key is installed.
    pub admin_keyring: bool,
}

/// Every member's state. Members not listed could not be observed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Observed {
    pub members: BTreeMap<String, MemberObserved>,
    pub ceph: CephObserved,
}

impl Observed {
    /// The `local` pool as `member` has it.
    pub fn local_pool(&self, member: &str) -> Option<&PoolObserved> {
        self.members.get(member)?.lxd.pools.get(LOCAL_POOL)
    }

    /// Whether `member`'s `local` pool is created: its disk then carries
    /// the pool (a ZFS, LVM or btrfs signature) and is never wiped again.
    pub fn local_pool_created(&self, member: &str) -> bool {
        self.local_pool(member)
            .is_some_and(|p| p.status == Status::Created)
    }

    /// Whether `disk` is one of the OSDs of `member`.
    pub fn is_osd(&self, member: &str, disk: &DiskRef) -> bool {
        listed(&self.ceph.osds, member, disk)
    }

    /// Whether `disk` is an OSD of `member` that is up and running.
    pub fn is_running_osd(&self, member: &str, disk: &DiskRef) -> bool {
        self.is_osd(member, disk) && !listed(&self.ceph.stopped_osds, member, disk)
    }
}

fn listed(devices: &BTreeMap<String, BTreeSet<String>>, member: &str, disk: &DiskRef) -> bool {
    devices
        .get(member)
        .is_some_and(|paths| paths.iter().any(|p| disk.is(p)))
}

/// How a member's LXD stands with respect to the cluster being formed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Membership {
    /// Not clustered: ready to bootstrap or join.
    Standalone,
    /// Already a member of the cluster being formed (a resumed run).
    Ours,
    /// In some other cluster: muster must not touch it.
    Foreign(String),
}

/// Where `member`'s LXD stands, given the chosen initiator and members.
/// The cluster being formed is the initiator's: a member is in it when its
/// cluster certificate is the initiator's (or, where a fingerprint is
/// missing, when the two list each other as members).
pub fn membership(
    observed: &Observed,
    initiator: &str,
    chosen: &[&str],
    member: &str,
) -> Membership {
    let Some(lxd) = observed.members.get(member).map(|m| &m.lxd) else {
        return Membership::Standalone;
    };
    if !lxd.clustered {
        return Membership::Standalone;
    }
    if lxd.server_name != member {
        return Membership::Foreign(format!(
            "its LXD is a cluster member named {:?}, not {member:?}",
            lxd.server_name
        ));
    }
    if member == initiator {
        let strangers: Vec<&str> = lxd
            .cluster_members
            .iter()
            .map(String::as_str)
            .filter(|m| !chosen.contains(m))
            .collect();
        if strangers.is_empty() {
            return Membership::Ours;
        }
        return Membership::Foreign(format!(
            "its LXD is in a cluster with members that were not chosen: {}",
            strangers.join(", ")
        ));
    }
    let others = || lxd.cluster_members.join(", ");
    let Some(init) = observed
        .members
        .get(initiator)
        .map(|m| &m.lxd)
        .filter(|l| l.clustered)
    else {
        return Membership::Foreign(format!(
            "its LXD is already in a cluster (members: {})",
            others()
        ));
    };
    let same = match (&lxd.cluster_fingerprint, &init.cluster_fingerprint) {
        (Some(a), Some(b)) => a == b,
        _ => {
            init.cluster_members.iter().any(|m| m == member)
                && lxd.cluster_members.iter().any(|m| m == initiator)
        }
    };
    if same {
        Membership::Ours
    } else {
        Membership::Foreign(format!(
            "its LXD is in another cluster than {initiator}'s (members: {})",
            others()
        ))
    }
}

/// The driver of the `local` pool. A pool that already exists keeps its
/// driver (a resumed run). Otherwise, since one pool spans the cluster with
/// one driver: the best of zfs, lvm and btrfs that every chosen member's LXD
/// supports (a member without a disk of its own gets a loop file of that
/// driver); `dir` when there is none, or when no member has a disk for it.
pub fn best_local_driver(observed: &Observed, members: &[&str], any_disk: bool) -> Driver {
    // Only a created pool binds the choice: definitions a stopped run left
    // pending are replaced when they differ.
    let existing = members
        .iter()
        .filter_map(|m| observed.local_pool(m))
        .filter(|p| p.status == Status::Created)
        .find_map(|p| Driver::from_lxd(&p.driver));
    if let Some(driver) = existing {
        return driver;
    }
    if !any_disk {
        return Driver::Dir;
    }
    Driver::LOCAL_PREFERENCE
        .into_iter()
        .find(|&d| {
            members
                .iter()
                .all(|m| observed.members.get(*m).is_some_and(|o| o.lxd.supports(d)))
        })
        .unwrap_or(Driver::Dir)
}
