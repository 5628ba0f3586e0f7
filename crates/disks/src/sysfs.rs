//! What sysfs says about one block device (`SYSFS/block/NAME`).
//!
//! sysfs differs between kernels, drivers and containers, so nothing here
//! fails: a missing or unparsable attribute is simply unknown. Only listing
//! `block/` itself can fail, and that is the scanner's business.

use std::fs;
use std::path::{Path, PathBuf};

use crate::model::DiskKind;

/// An attribute's value, trimmed; `None` when absent, unreadable or empty.
pub(crate) fn attr(dir: &Path, name: &str) -> Option<String> {
    let raw = fs::read(dir.join(name)).ok()?;
    let text = String::from_utf8_lossy(&raw);
    let trimmed = text.trim_matches(|c: char| c.is_whitespace() || c == '\0');
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}

fn number(dir: &Path, name: &str) -> Option<u64> {
    attr(dir, name)?.parse().ok()
}

/// sysfs booleans are `0`/`1`; anything else is taken as "no".
fn flag(dir: &Path, name: &str) -> bool {
    number(dir, name) == Some(1)
}

/// sysfs counts sizes and offsets in 512-byte sectors whatever the device's
/// real sector size.
fn bytes_from_sectors(dir: &Path, name: &str) -> Option<u64> {
    number(dir, name)?.checked_mul(512)
}

/// Names of the entries of a directory, sorted; empty when it cannot be read.
pub(crate) fn entry_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

/// Facts common to a disk and a partition.
#[derive(Debug, Clone, Default)]
pub(crate) struct Common {
    pub size_bytes: Option<u64>,
    pub read_only: bool,
    /// `major:minor`, to find its mounts.
    pub dev: Option<String>,
    pub holders: Vec<String>,
}

impl Common {
    fn read(dir: &Path) -> Common {
        Common {
            size_bytes: bytes_from_sectors(dir, "size"),
            read_only: flag(dir, "ro"),
            dev: attr(dir, "dev"),
            holders: entry_names(&dir.join("holders")),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct RawPartition {
    pub name: String,
    pub number: u32,
    pub start_bytes: Option<u64>,
    pub common: Common,
}

#[derive(Debug, Clone)]
pub(crate) struct RawDisk {
    pub name: String,
    pub kind: DiskKind,
    pub common: Common,
    pub model: Option<String>,
    pub serial: Option<String>,
    pub transport: Option<String>,
    pub rotational: bool,
    pub removable: bool,
    /// The kernel hides some devices (multipath paths of NVMe namespaces).
    pub hidden: bool,
    /// For a loop device, whether a file is attached.
    pub loop_attached: bool,
    pub partitions: Vec<RawPartition>,
}

/// Reads `SYSFS/block/NAME` and its partitions.
pub(crate) fn read_disk(block_dir: &Path, name: &str) -> RawDisk {
    let dir = block_dir.join(name);
    let device_path = sysfs_device_path(&dir);
    RawDisk {
        name: name.to_string(),
        kind: kind(name, &device_path, &KindMarkers::read(&dir)),
        common: Common::read(&dir),
        model: attr(&dir, "device/model"),
        serial: serial(&dir),
        transport: transport(name, &device_path),
        rotational: flag(&dir, "queue/rotational"),
        removable: flag(&dir, "removable"),
        hidden: flag(&dir, "hidden"),
        loop_attached: attr(&dir, "loop/backing_file").is_some(),
        partitions: partitions(&dir),
    }
}

/// Where the device sits in the device tree, as written in the links sysfs
/// makes (`block/NAME` and its `device`). Only the link text is used, never
/// a resolved path, so a fixture tree works the same as the real `/sys`.
fn sysfs_device_path(dir: &Path) -> String {
    [dir.to_path_buf(), dir.join("device")]
        .iter()
        .filter_map(|link| fs::read_link(link).ok())
        .map(|target| target.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The serial where the driver exposes one simply: NVMe and some SCSI
/// drivers in `device/serial`, virtio-blk in `serial`, SCSI in the unit
/// serial VPD page, and the world-wide id as the last resort.
fn serial(dir: &Path) -> Option<String> {
    attr(dir, "device/serial")
        .or_else(|| attr(dir, "serial"))
        .or_else(|| {
            let page = fs::read(dir.join("device/vpd_pg80")).ok()?;
            vpd_pg80_serial(&page)
        })
        .or_else(|| attr(dir, "wwid"))
        .or_else(|| attr(dir, "device/wwid"))
}

/// The unit serial number page: a 4-byte header whose last byte is the
/// length, then the serial in ASCII (often space-padded).
pub(crate) fn vpd_pg80_serial(page: &[u8]) -> Option<String> {
    let len = usize::from(*page.get(3)?);
    let body = page.get(4..4 + len).unwrap_or(page.get(4..)?);
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim_matches(|c: char| c.is_whitespace() || c == '\0');
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}

fn partitions(dir: &Path) -> Vec<RawPartition> {
    let mut parts: Vec<RawPartition> = entry_names(dir)
        .into_iter()
        .filter_map(|name| {
            let part_dir: PathBuf = dir.join(&name);
            let number = attr(&part_dir, "partition")?.parse().ok()?;
            Some(RawPartition {
                number,
                start_bytes: bytes_from_sectors(&part_dir, "start"),
                common: Common::read(&part_dir),
                name,
            })
        })
        .collect();
    parts.sort_by_key(|p| p.number);
    parts
}

/// The sysfs entries that mark a device's kind.
#[derive(Debug, Clone, Default)]
pub(crate) struct KindMarkers {
    pub loop_dir: bool,
    pub dm_dir: bool,
    pub md_dir: bool,
    /// SCSI peripheral device type (`device/type`): 0 disk, 5 CD/DVD.
    pub scsi_type: Option<u64>,
}

impl KindMarkers {
    fn read(dir: &Path) -> KindMarkers {
        KindMarkers {
            loop_dir: dir.join("loop").is_dir(),
            dm_dir: dir.join("dm").is_dir(),
            md_dir: dir.join("md").is_dir(),
            scsi_type: number(dir, "device/type"),
        }
    }
}

/// The kind of a device from its name, its place in the device tree and
/// the entries that mark it.
pub(crate) fn kind(name: &str, device_path: &str, markers: &KindMarkers) -> DiskKind {
    const VIRTUAL: [&str; 4] = ["zram", "ram", "nbd", "drbd"];
    if markers.loop_dir || name.starts_with("loop") {
        DiskKind::Loop
    } else if markers.dm_dir {
        DiskKind::Dm
    } else if markers.md_dir {
        DiskKind::Md
    } else if name.starts_with("sr") || markers.scsi_type == Some(5) {
        DiskKind::Cdrom
    } else if VIRTUAL.iter().any(|prefix| name.starts_with(prefix))
        || device_path.contains("/virtual/")
    {
        DiskKind::Virtual
    } else {
        DiskKind::Disk
    }
}

/// The bus, from the device's place in the device tree; the first match in
/// this order wins because a USB or virtio disk also shows SCSI hosts.
pub(crate) fn transport(name: &str, device_path: &str) -> Option<String> {
    let has = |part: &str| device_path.split('/').any(|c| c.starts_with(part));
    let found = if name.starts_with("loop") {
        "loop"
    } else if has("usb") {
        "usb"
    } else if name.starts_with("nvme") || has("nvme") {
        "nvme"
    } else if has("virtio") {
        "virtio"
    } else if has("ata") {
        "sata"
    } else if has("end_device-") || has("sas_") || has("expander-") {
        "sas"
    } else if has("host") && has("target") {
        "scsi"
    } else if has("mmc") {
        "mmc"
    } else {
        return None;
    };
    Some(found.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transports_from_real_device_paths() {
        let cases = [
            ("sda", "../devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda", Some("sata")),
            ("sdb", "../devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host6/target6:0:0/6:0:0:0/block/sdb", Some("usb")),
            ("nvme0n1", "../devices/pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0/nvme0n1", Some("nvme")),
            ("vda", "../devices/pci0000:00/0000:00:02.0/virtio1/block/vda", Some("virtio")),
            ("sdc", "../devices/pci0000:00/0000:00:04.0/virtio2/host0/target0:0:0/0:0:0:0/block/sdc", Some("virtio")),
            ("sdd", "../devices/pci0000:00/0000:00:01.0/0000:01:00.0/host0/port-0:0/end_device-0:0/target0:0:0/0:0:0:0/block/sdd", Some("sas")),
            ("sde", "../devices/platform/host2/target2:0:0/2:0:0:0/block/sde", Some("scsi")),
            ("mmcblk0", "../devices/platform/soc/mmc_host/mmc0/mmc0:0001/block/mmcblk0", Some("mmc")),
            ("loop0", "../devices/virtual/block/loop0", Some("loop")),
            ("zram0", "../devices/virtual/block/zram0", None),
            ("sdz", "", None),
        ];
        for (name, path, expected) in cases {
            assert_eq!(transport(name, path).as_deref(), expected, "{name}");
        }
    }

    #[test]
    fn kinds() {
        let none = KindMarkers::default();
        let kind_of = |name, markers: KindMarkers| kind(name, "", &markers);
        assert_eq!(kind_of("sda", none.clone()), DiskKind::Disk);
        assert_eq!(kind_of("loop7", none.clone()), DiskKind::Loop);
        let dm = KindMarkers {
            dm_dir: true,
            ..none.clone()
        };
        assert_eq!(kind_of("dm-0", dm), DiskKind::Dm);
        let md = KindMarkers {
            md_dir: true,
            ..none.clone()
        };
        assert_eq!(kind_of("md127", md), DiskKind::Md);
        assert_eq!(kind_of("sr0", none.clone()), DiskKind::Cdrom);
        let scsi_cdrom = KindMarkers {
            scsi_type: Some(5),
            ..none.clone()
        };
        assert_eq!(kind_of("sdb", scsi_cdrom), DiskKind::Cdrom);
        assert_eq!(kind_of("zram0", none.clone()), DiskKind::Virtual);
        assert_eq!(kind_of("nbd3", none.clone()), DiskKind::Virtual);
        assert_eq!(
            kind("pmem0", "../devices/virtual/block/pmem0", &none),
            DiskKind::Virtual
        );
    }

    #[test]
    fn vpd_serials() {
        assert_eq!(
            vpd_pg80_serial(b"\x00\x80\x00\x0a  ZA1B2C3D").as_deref(),
            Some("ZA1B2C3D")
        );
        // Length past the end: take what is there.
        assert_eq!(
            vpd_pg80_serial(b"\x00\x80\x00\xffXY").as_deref(),
            Some("XY")
        );
        assert_eq!(vpd_pg80_serial(b"\x00\x80"), None);
        assert_eq!(vpd_pg80_serial(b"\x00\x80\x00\x04    "), None);
    }
}
