//! What the operator chose, resolved to concrete members, disks and
//! addresses: the wizard and preseed files both end here.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// The port LXD's HTTPS API (and cluster traffic) listens on.
pub const LXD_PORT: u16 = 8443;

/// LXD storage pool on each member's own disk.
pub const LOCAL_POOL: &str = "local";
/// LXD storage pool on Ceph RBD.
pub const REMOTE_POOL: &str = "remote";
/// LXD storage pool on CephFS.
pub const REMOTE_FS_POOL: &str = "remote-fs";
/// The Ceph RBD pool behind [`REMOTE_POOL`].
pub const CEPH_RBD_POOL: &str = "lxd_remote";
/// The CephFS file system behind [`REMOTE_FS_POOL`].
pub const CEPH_FS: &str = "lxd_cephfs";
/// Name of the instance network unless the operator names another.
pub const DEFAULT_NETWORK: &str = "lxdbr0";

/// An LXD storage driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Driver {
    Zfs,
    Lvm,
    Btrfs,
    Dir,
    Ceph,
    #[serde(rename = "cephfs")]
    CephFs,
}

impl Driver {
    /// Local block drivers, best first.
    pub const LOCAL_PREFERENCE: [Driver; 3] = [Driver::Zfs, Driver::Lvm, Driver::Btrfs];

    /// LXD's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Driver::Zfs => "zfs",
            Driver::Lvm => "lvm",
            Driver::Btrfs => "btrfs",
            Driver::Dir => "dir",
            Driver::Ceph => "ceph",
            Driver::CephFs => "cephfs",
        }
    }

    /// From LXD's name.
    pub fn from_lxd(name: &str) -> Option<Driver> {
        [
            Driver::Zfs,
            Driver::Lvm,
            Driver::Btrfs,
            Driver::Dir,
            Driver::Ceph,
            Driver::CephFs,
        ]
        .into_iter()
        .find(|d| d.as_str() == name)
    }

    /// Whether a pool of this driver takes a block device as its source.
    pub fn uses_block_device(self) -> bool {
        matches!(self, Driver::Zfs | Driver::Lvm | Driver::Btrfs)
    }
}

impl fmt::Display for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A chosen whole disk or partition of one member.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DiskRef {
    /// The kernel's path, `/dev/NAME`: how the member's inventory names it.
    pub path: String,
    /// A `/dev/disk/by-id` path, when the device has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_id: Option<String>,
}

impl DiskRef {
    pub fn new(path: impl Into<String>) -> DiskRef {
        DiskRef {
            path: path.into(),
            by_id: None,
        }
    }

    pub fn with_by_id(mut self, by_id: impl Into<String>) -> DiskRef {
        self.by_id = Some(by_id.into());
        self
    }

    /// The path handed to LXD or Ceph: the by-id one where there is one,
    /// since kernel names can change across reboots and a pool's source
    /// must keep naming the same disk.
    pub fn source(&self) -> &str {
        self.by_id.as_deref().unwrap_or(&self.path)
    }

    /// Whether `path` names this device, by either path.
    pub fn is(&self, path: &str) -> bool {
        self.path == path || self.by_id.as_deref() == Some(path)
    }
}

impl fmt::Display for DiskRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.by_id {
            Some(by_id) => write!(f, "{} ({by_id})", self.path),
            None => f.write_str(&self.path),
        }
    }
}

/// One member and what it contributes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberChoice {
    /// The member's name: its agent's name, and its LXD `server_name`.
    pub name: String,
    /// Its address for LXD cluster traffic (`IP:8443`).
    pub address: IpAddr,
    /// Its disk for the `local` pool; `None` puts the pool on the OS disk
    /// (a `dir` pool, or a loop file with a block driver).
    #[serde(default)]
    pub local_disk: Option<DiskRef>,
    /// Disks and free partitions to become Ceph OSDs.
    #[serde(default)]
    pub ceph_disks: Vec<DiskRef>,
    /// Chosen disks the operator allowed to be erased first.
    #[serde(default)]
    pub wipe: Vec<DiskRef>,
    /// Its address for Ceph's public network; `None`: [`Self::address`].
    #[serde(default)]
    pub ceph_address: Option<IpAddr>,
}

impl MemberChoice {
    pub fn new(name: impl Into<String>, address: IpAddr) -> MemberChoice {
        MemberChoice {
            name: name.into(),
            address,
            local_disk: None,
            ceph_disks: Vec::new(),
            wipe: Vec::new(),
            ceph_address: None,
        }
    }

    /// `IP:8443`, brackets around IPv6.
    pub fn lxd_address(&self) -> String {
        SocketAddr::new(self.address, LXD_PORT).to_string()
    }

    pub fn ceph_address(&self) -> IpAddr {
        self.ceph_address.unwrap_or(self.address)
    }

    pub fn wipes(&self, disk: &DiskRef) -> bool {
        self.wipe.iter().any(|w| w.path == disk.path)
    }
}

/// An address setting of the instance network: `ipv4.address` or
/// `ipv6.address` of an LXD bridge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BridgeAddress {
    /// LXD picks an unused private subnet.
    Auto,
    /// No addresses of this family.
    None,
    /// The bridge's own address with the prefix, e.g. `10.10.0.1/24`.
    Cidr(IpNet),
}

impl BridgeAddress {
    /// The value of LXD's `ipv4.address` / `ipv6.address`.
    pub fn lxd_value(&self) -> String {
        match self {
            BridgeAddress::Auto => "auto".into(),
            BridgeAddress::None => "none".into(),
            BridgeAddress::Cidr(net) => net.to_string(),
        }
    }
}

/// The network instances get: a bridge on each member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceNetwork {
    pub name: String,
    pub ipv4: BridgeAddress,
    pub ipv6: BridgeAddress,
}

impl Default for InstanceNetwork {
    fn default() -> Self {
        InstanceNetwork {
            name: DEFAULT_NETWORK.into(),
            ipv4: BridgeAddress::Auto,
            ipv6: BridgeAddress::None,
        }
    }
}

/// Ceph, when any member contributes disks to it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CephChoices {
    /// Also a CephFS file system and its LXD pool.
    pub cephfs: bool,
    /// Where clients and mons talk; `None`: the members' cluster addresses.
    pub public_network: Option<IpNet>,
    /// Where OSDs replicate; `None`: the public network.
    pub cluster_network: Option<IpNet>,
}

/// Everything `muster init` was asked to build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choices {
    /// The member that bootstraps the cluster and drives the rest.
    pub initiator: String,
    /// Every member, the initiator included.
    pub members: Vec<MemberChoice>,
    /// The driver of the `local` pool, one for the whole cluster (see
    /// [`crate::best_local_driver`]).
    pub local_driver: Driver,
    pub network: InstanceNetwork,
    /// `None`: no Ceph (and no member may have Ceph disks).
    pub ceph: Option<CephChoices>,
}

impl Choices {
    pub fn member(&self, name: &str) -> Option<&MemberChoice> {
        self.members.iter().find(|m| m.name == name)
    }

    /// The members in the order the plan treats them: the initiator first,
    /// then the others as given.
    pub fn ordered(&self) -> Vec<&MemberChoice> {
        let mut out: Vec<&MemberChoice> = self
            .members
            .iter()
            .filter(|m| m.name == self.initiator)
            .collect();
        out.extend(self.members.iter().filter(|m| m.name != self.initiator));
        out
    }

    /// Names of the members with at least one Ceph disk.
    pub fn ceph_hosts(&self) -> Vec<&str> {
        self.ordered()
            .into_iter()
            .filter(|m| !m.ceph_disks.is_empty())
            .map(|m| m.name.as_str())
            .collect()
    }
}
