//! The inventory's data model: what the agent reports about each block device.
//! Serialized as-is on the wire (`GET /v1/disks`).

use serde::{Deserialize, Serialize};

/// What kind of block device this is, from sysfs (`/sys/block/NAME`, its
/// `device/type`, `loop/`, `dm/`, `md/` entries and name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DiskKind {
    Disk,
    Loop,
    Cdrom,
    /// device-mapper (LVM logical volumes, dm-crypt, multipath).
    Dm,
    /// Linux software RAID.
    Md,
    /// zram, ram disks, nbd and anything else that is not a real disk.
    Virtual,
}

/// Something found on a device that says it is in use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Signature {
    Ext { version: u8 },
    Xfs,
    Btrfs,
    Swap,
    LvmPv,
    ZfsMember,
    CephBluestore,
    Gpt,
    Mbr,
}

impl Signature {
    /// Words an operator recognises, as used in eligibility reasons.
    pub fn describe(&self) -> String {
        match self {
            Signature::Ext { version } => format!("ext{version} filesystem"),
            Signature::Xfs => "xfs filesystem".into(),
            Signature::Btrfs => "btrfs filesystem".into(),
            Signature::Swap => "swap space".into(),
            Signature::LvmPv => "LVM physical volume".into(),
            Signature::ZfsMember => "ZFS pool member".into(),
            Signature::CephBluestore => "Ceph BlueStore OSD".into(),
            Signature::Gpt => "GPT partition table".into(),
            Signature::Mbr => "MBR partition table".into(),
        }
    }
}

/// Whether muster may use a device (whole disk or partition) without wiping,
/// and if not, every reason why not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "verdict", content = "reasons")]
pub enum Eligibility {
    Eligible,
    Ineligible(Vec<String>),
}

impl Eligibility {
    pub fn is_eligible(&self) -> bool {
        matches!(self, Eligibility::Eligible)
    }

    pub fn reasons(&self) -> &[String] {
        match self {
            Eligibility::Eligible => &[],
            Eligibility::Ineligible(reasons) => reasons,
        }
    }
}

/// A partition of a [`Disk`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partition {
    /// Kernel name, e.g. `sda2`, `nvme0n1p1`, `loop3p1`.
    pub name: String,
    /// `/dev/NAME` under the configured dev root.
    pub path: String,
    /// Stable paths in `/dev/disk/by-id` that point at it, sorted.
    pub by_id: Vec<String>,
    pub number: u32,
    pub start_bytes: u64,
    pub size_bytes: u64,
    pub read_only: bool,
    pub holders: Vec<String>,
    pub mountpoints: Vec<String>,
    pub signatures: Vec<Signature>,
    pub eligibility: Eligibility,
}

/// A whole block device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disk {
    /// Kernel name, e.g. `sda`, `nvme0n1`, `loop3`.
    pub name: String,
    /// `/dev/NAME` under the configured dev root.
    pub path: String,
    /// Stable paths in `/dev/disk/by-id` that point at it, sorted.
    pub by_id: Vec<String>,
    pub kind: DiskKind,
    pub size_bytes: u64,
    pub model: Option<String>,
    pub serial: Option<String>,
    /// Bus as the kernel reports it where it can be told: sata, sas, nvme,
    /// usb, virtio, loop...
    pub transport: Option<String>,
    pub rotational: bool,
    pub removable: bool,
    pub read_only: bool,
    pub partitions: Vec<Partition>,
    /// Devices stacked on this one (`holders/`: dm, md, bcache).
    pub holders: Vec<String>,
    pub mountpoints: Vec<String>,
    pub signatures: Vec<Signature>,
    pub eligibility: Eligibility,
}

impl Disk {
    /// An empty, eligible whole disk as a fresh server's spare disk looks:
    /// the starting point for describing one (samples, fixtures), changed
    /// with struct-update syntax.
    pub fn blank(name: &str, size_bytes: u64) -> Disk {
        Disk {
            name: name.into(),
            path: format!("/dev/{name}"),
            by_id: Vec::new(),
            kind: DiskKind::Disk,
            size_bytes,
            model: None,
            serial: None,
            transport: None,
            rotational: false,
            removable: false,
            read_only: false,
            partitions: Vec::new(),
            holders: Vec::new(),
            mountpoints: Vec::new(),
            signatures: Vec::new(),
            eligibility: Eligibility::Eligible,
        }
    }
}
