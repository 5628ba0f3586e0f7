//! The preseed file as written: every key, with its type. Unknown keys are
//! errors everywhere (`deny_unknown_fields`), so a typo never passes as a
//! default. `packaging/examples/preseed.yaml` shows every key.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use muster_plan::BridgeAddress;
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::size::ByteSize;

/// The keyword for "no disk of its own: a `dir` pool on the OS disk".
pub const DIR: &str = "dir";

/// A whole preseed file. Only [`crate::parse`] makes one, after checking it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preseed {
    #[serde(default)]
    pub session: SessionSpec,
    /// The server that runs `muster init --preseed`; it must be this one.
    #[serde(default)]
    pub initiator: Option<String>,
    pub members: Vec<MemberSpec>,
    #[serde(default)]
    pub storage: StorageSpec,
    #[serde(default)]
    pub network: NetworkSpec,
}

/// The trust session joiners join.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionSpec {
    /// The session passphrase; neither this nor `passphrase_file`: one is
    /// generated and shown.
    #[serde(default)]
    pub passphrase: Option<Secret>,
    /// A file whose first line is the passphrase.
    #[serde(default)]
    pub passphrase_file: Option<PathBuf>,
    /// The joiners hold the passphrase as their enrollment passphrase and
    /// join by themselves: nobody runs `muster join`.
    #[serde(default)]
    pub enrollment: bool,
    /// How long the session accepts joiners ("10m", "1h 30m").
    #[serde(default)]
    pub timeout: Option<Timeout>,
}

/// A passphrase, kept out of debug output.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// A duration written the `humantime` way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeout(pub Duration);

impl<'de> Deserialize<'de> for Timeout {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map(Timeout).map_err(|e| {
            de::Error::custom(format!(
                "{text:?} is not a duration ({e}): write e.g. 10m or 1h"
            ))
        })
    }
}

/// One server. Found by name, or by an address of its agent; both given,
/// they must agree.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberSpec {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub address: Option<IpAddr>,
    #[serde(default)]
    pub disks: DisksSpec,
    #[serde(default)]
    pub network: MemberNetworkSpec,
}

impl MemberSpec {
    /// How messages name it before it is resolved.
    pub fn label(&self) -> Option<String> {
        self.name
            .clone()
            .or_else(|| self.address.map(|a| a.to_string()))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisksSpec {
    /// The disk of the `local` pool. Left out: the pool goes on the OS disk.
    #[serde(default)]
    pub local: Option<LocalDisk>,
    /// Disks or free partitions for Ceph.
    #[serde(default)]
    pub ceph: Option<CephDisks>,
    /// Chosen devices that may be erased (paths, as in `local` or `ceph`).
    #[serde(default)]
    pub wipe: Vec<String>,
}

/// `local: /dev/sdb`, `local: dir` or `local: {min_size: 100GiB, ...}`.
#[derive(Debug, Clone, PartialEq)]
pub enum LocalDisk {
    Dir,
    Path(String),
    Filter(DiskFilter),
}

/// `ceph: [/dev/sdc, /dev/sdd1]` or `ceph: {type: ssd, limit: 2}`.
#[derive(Debug, Clone, PartialEq)]
pub enum CephDisks {
    Paths(Vec<String>),
    Filter(DiskFilter),
}

/// Picks whole disks by what they are. Only empty disks match, and disks
/// listed under `wipe`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiskFilter {
    #[serde(default)]
    pub min_size: Option<ByteSize>,
    #[serde(default)]
    pub max_size: Option<ByteSize>,
    #[serde(default, rename = "type")]
    pub media: Option<Media>,
    /// A glob on the model, ignoring case: "Samsung SSD 8*".
    #[serde(default)]
    pub model: Option<ModelGlob>,
    /// At most this many disks (the first ones by kernel name).
    #[serde(default)]
    pub limit: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Media {
    /// Not rotational.
    Ssd,
    /// Rotational.
    Hdd,
}

/// A compiled model glob and its text.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelGlob {
    pub text: String,
    pattern: glob::Pattern,
}

impl ModelGlob {
    pub fn matches(&self, model: &str) -> bool {
        let options = glob::MatchOptions {
            case_sensitive: false,
            ..glob::MatchOptions::new()
        };
        self.pattern.matches_with(model.trim(), options)
    }
}

impl<'de> Deserialize<'de> for ModelGlob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let pattern = glob::Pattern::new(&text)
            .map_err(|e| de::Error::custom(format!("{text:?} is not a glob pattern ({e})")))?;
        Ok(ModelGlob { text, pattern })
    }
}

impl<'de> Deserialize<'de> for LocalDisk {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LocalDisk;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a device path, `dir`, or a disk filter")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<LocalDisk, E> {
                Ok(if v == DIR {
                    LocalDisk::Dir
                } else {
                    LocalDisk::Path(v.to_owned())
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<LocalDisk, A::Error> {
                DiskFilter::deserialize(MapAccessDeserializer::new(map)).map(LocalDisk::Filter)
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for CephDisks {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CephDisks;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of device paths, or a disk filter")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<CephDisks, A::Error> {
                Vec::deserialize(SeqAccessDeserializer::new(seq)).map(CephDisks::Paths)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<CephDisks, A::Error> {
                DiskFilter::deserialize(MapAccessDeserializer::new(map)).map(CephDisks::Filter)
            }
        }
        d.deserialize_any(V)
    }
}

/// Cluster-wide storage settings.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSpec {
    #[serde(default)]
    pub ceph: Option<CephSpec>,
    #[serde(default)]
    pub local: LocalStorageSpec,
}

/// `storage.local`: the `local` pool, one per member, one driver for all.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalStorageSpec {
    /// Left out: the best of zfs, lvm and btrfs that works on every member
    /// (dir when none does, or when no member gives a disk).
    #[serde(default)]
    pub driver: Option<LocalDriver>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LocalDriver {
    Zfs,
    Lvm,
    Btrfs,
    Dir,
}

impl LocalDriver {
    pub fn driver(self) -> muster_plan::Driver {
        match self {
            LocalDriver::Zfs => muster_plan::Driver::Zfs,
            LocalDriver::Lvm => muster_plan::Driver::Lvm,
            LocalDriver::Btrfs => muster_plan::Driver::Btrfs,
            LocalDriver::Dir => muster_plan::Driver::Dir,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CephSpec {
    #[serde(default)]
    pub cephfs: bool,
    #[serde(default)]
    pub public_network: Option<IpNet>,
    #[serde(default)]
    pub cluster_network: Option<IpNet>,
}

/// Cluster-wide network settings.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// Each member's address for LXD cluster traffic is its (first) address
    /// on this interface...
    #[serde(default)]
    pub cluster_interface: Option<String>,
    /// ...or its address in this subnet. Neither: the member's `address`,
    /// else the address its agent was reached at.
    #[serde(default)]
    pub cluster_subnet: Option<IpNet>,
    #[serde(default)]
    pub instances: InstancesSpec,
}

/// Overrides for one member.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberNetworkSpec {
    #[serde(default)]
    pub cluster_interface: Option<String>,
    #[serde(default)]
    pub cluster_address: Option<IpAddr>,
}

/// The bridge instances get, on every member.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstancesSpec {
    #[serde(default = "default_network_name")]
    pub name: String,
    #[serde(default = "auto")]
    pub ipv4: AddressSetting,
    #[serde(default = "none")]
    pub ipv6: AddressSetting,
}

impl Default for InstancesSpec {
    fn default() -> Self {
        InstancesSpec {
            name: default_network_name(),
            ipv4: auto(),
            ipv6: none(),
        }
    }
}

fn default_network_name() -> String {
    muster_plan::DEFAULT_NETWORK.to_owned()
}

fn auto() -> AddressSetting {
    AddressSetting(BridgeAddress::Auto)
}

fn none() -> AddressSetting {
    AddressSetting(BridgeAddress::None)
}

/// `auto`, `none` or the bridge's address with its prefix (`10.10.0.1/24`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressSetting(pub BridgeAddress);

impl<'de> Deserialize<'de> for AddressSetting {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let setting = match text.as_str() {
            "auto" => BridgeAddress::Auto,
            "none" => BridgeAddress::None,
            cidr => BridgeAddress::Cidr(cidr.parse().map_err(|_| {
                de::Error::custom(format!(
                    "{text:?} is not `auto`, `none` or an address with a prefix such as 10.10.0.1/24"
                ))
            })?),
        };
        Ok(AddressSetting(setting))
    }
}
