//! What is on a device before an OSD goes there, wiping it, and the name
//! that finds it again after a reboot.

use std::fs::{self, File};
use std::io::{ErrorKind, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::error::{CephError, IoContext};

/// BlueStore writes this at the start of its block device, then the OSD's
/// uuid as text and a newline.
pub const BLUESTORE_MAGIC: &[u8] = b"bluestore block device\n";

/// How much of a device is read to judge it: what a wipe zeroes at each
/// end, where the signatures live.
pub const EDGE: usize = muster_disks::WIPE_LEN;

/// What the start of a device holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceHead {
    /// Only zeros: free to use.
    Empty,
    /// A BlueStore label with this OSD uuid (lowercase).
    Bluestore { osd_uuid: String },
    /// Something else (a partition table, a file system, old data).
    Other,
}

/// Judges the first bytes of a device (pure).
pub fn classify_head(head: &[u8]) -> DeviceHead {
    if let Some(uuid) = bluestore_label_uuid(head) {
        return DeviceHead::Bluestore { osd_uuid: uuid };
    }
    if head.iter().all(|b| *b == 0) {
        DeviceHead::Empty
    } else {
        DeviceHead::Other
    }
}

/// The OSD uuid in a BlueStore label, if `head` starts with one.
pub fn bluestore_label_uuid(head: &[u8]) -> Option<String> {
    let rest = head.strip_prefix(BLUESTORE_MAGIC)?;
    let uuid = std::str::from_utf8(rest.get(..36)?).ok()?;
    if rest.get(36) != Some(&b'\n') || !is_uuid(uuid) {
        return None;
    }
    Some(uuid.to_ascii_lowercase())
}

/// The OSD a BlueStore label says it belongs to: its `whoami` and its
/// cluster's `ceph_fsid`, from the label's key-value part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelOwner {
    pub whoami: u32,
    pub ceph_fsid: String,
}

/// Reads a BlueStore label's owner from `head` (pure). After the text
/// header comes Ceph's encoding of `bluestore_bdev_label_t`: version,
/// compat version and length, the uuid (16 bytes), size (8), birth time
/// (8), a description, then (version 2 on) a map of strings, each a
/// little-endian u32 length and its bytes.
pub fn bluestore_label_owner(head: &[u8]) -> Option<LabelOwner> {
    bluestore_label_uuid(head)?;
    let mut r = Reader(head.get(BLUESTORE_MAGIC.len() + 37..)?);
    let version = r.take(1)?[0];
    r.take(1 + 4 + 16 + 8 + 8)?;
    r.string()?;
    if version < 2 {
        return None;
    }
    let (mut whoami, mut ceph_fsid) = (None, None);
    for _ in 0..r.u32()? {
        let (key, value) = (r.string()?, r.string()?);
        match key {
            b"whoami" => whoami = std::str::from_utf8(value).ok()?.parse().ok(),
            b"ceph_fsid" => ceph_fsid = Some(String::from_utf8(value.to_vec()).ok()?),
            _ => {}
        }
    }
    Some(LabelOwner {
        whoami: whoami?,
        ceph_fsid: ceph_fsid?,
    })
}

/// Reads Ceph's little-endian encoding, refusing to run past the end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (taken, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(taken)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn string(&mut self) -> Option<&'a [u8]> {
        let len = self.u32()?;
        self.take(usize::try_from(len).ok()?)
    }
}

pub(crate) fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Refuses anything but a block device at `device` (followed through
/// links): what an OSD may be made on.
pub fn require_block_device(device: &Path) -> Result<(), CephError> {
    use std::os::unix::fs::FileTypeExt;
    let kind = fs::metadata(device).io("inspecting", device)?.file_type();
    let what = if kind.is_block_device() {
        return Ok(());
    } else if kind.is_file() {
        "a regular file"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_dir() {
        "a directory"
    } else {
        "neither a disk nor a partition"
    };
    Err(CephError::NotABlockDevice {
        device: device.to_owned(),
        what: what.to_owned(),
    })
}

/// Reads the first [`EDGE`] bytes (fewer on a smaller device).
pub fn read_head(device: &Path) -> Result<Vec<u8>, CephError> {
    let f = File::open(device).io("opening", device)?;
    let mut head = Vec::with_capacity(EDGE);
    f.take(EDGE as u64)
        .read_to_end(&mut head)
        .io("reading", device)?;
    Ok(head)
}

/// Zeroes the device's signatures ([`muster_disks::wipe`]).
pub fn wipe(device: &Path) -> Result<(), CephError> {
    Ok(muster_disks::wipe(device)?)
}

/// Where udev keeps the names of block devices that outlive a reboot
/// (the kernel's, /dev/sdb, may be another disk after one).
pub const DEV_DISK: &str = "/dev/disk";

/// The best stable name among `candidates` (a link, its canonical target)
/// for `device` (canonical): a by-id name, `wwn-` first (the disk's world
/// wide name), then by-partuuid (for partitions of disks without a by-id
/// name); the first in sorted order among equals so that every run
/// chooses the same. `None` when no candidate points at the device.
pub fn choose_stable_name<'a>(
    candidates: &'a [(PathBuf, PathBuf)],
    device: &Path,
) -> Option<&'a Path> {
    candidates
        .iter()
        .filter(|(_, target)| target == device)
        .filter_map(|(link, _)| Some((stable_rank(link)?, link)))
        .min()
        .map(|(_, link)| link.as_path())
}

/// Lower is better; `None` for names that are no stable name (by-path
/// changes with the slot, by-uuid with the contents).
fn stable_rank(link: &Path) -> Option<u8> {
    let dir = link.parent()?.file_name()?;
    let name = link.file_name()?.as_bytes();
    match dir.as_bytes() {
        b"by-id" if name.starts_with(b"wwn-") => Some(0),
        b"by-id" => Some(1),
        b"by-partuuid" => Some(2),
        _ => None,
    }
}

/// The name to link an OSD's `block` to: [`choose_stable_name`] among
/// udev's links under `root` ([`DEV_DISK`]), or the canonical `device`
/// itself where there is none (loop devices, containers without udev).
pub fn stable_name(root: &Path, device: &Path) -> Result<PathBuf, CephError> {
    let mut candidates = Vec::new();
    for dir in ["by-id", "by-partuuid"].map(|d| root.join(d)) {
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(e).io("listing", &dir),
        };
        for entry in entries {
            let link = entry.io("listing", &dir)?.path();
            // A link to a device that is gone is no candidate.
            if let Ok(target) = fs::canonicalize(&link) {
                candidates.push((link, target));
            }
        }
    }
    Ok(choose_stable_name(&candidates, device)
        .unwrap_or(device)
        .to_owned())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    const UUID: &str = "5f0c0d5e-96a3-4b8e-8b1a-0c3e7c0d6a11";

    fn label(uuid: &str) -> Vec<u8> {
        let mut v = BLUESTORE_MAGIC.to_vec();
        v.extend_from_slice(uuid.as_bytes());
        v.push(b'\n');
        v.extend_from_slice(&[1, 2, 3, 0, 0]);
        v
    }

    #[test]
    fn a_bluestore_label_gives_its_osd_uuid() {
        assert_eq!(
            classify_head(&label(&UUID.to_uppercase())),
            DeviceHead::Bluestore {
                osd_uuid: UUID.into()
            }
        );
    }

    #[test]
    fn a_real_label_is_recognised_and_names_its_osd_and_cluster() {
        let path = format!(
            "{}/tests/fixtures/pacific-16.2.15-bluestore-label.bin",
            env!("CARGO_MANIFEST_DIR")
        );
        let head = std::fs::read(path).unwrap();
        assert!(matches!(classify_head(&head), DeviceHead::Bluestore { .. }));
        // Which OSD of which cluster it is, from its key-value part.
        assert_eq!(
            bluestore_label_owner(&head),
            Some(LabelOwner {
                whoami: 0,
                ceph_fsid: "4134c467-fe75-4ad0-97f3-ed27a9130e5a".into()
            })
        );
        // As the unit tests make them.
        let made = crate::testkit::bluestore_label(UUID, 7, "F");
        assert_eq!(
            bluestore_label_owner(&made),
            Some(LabelOwner {
                whoami: 7,
                ceph_fsid: "F".into()
            })
        );
        // Cut anywhere, it names nobody; so does a label without a map.
        for end in [60, 70, 100, 150, 300, 0x248] {
            assert_eq!(bluestore_label_owner(&head[..end]), None, "cut at {end}");
        }
        let mut v1 = head.clone();
        v1[60] = 1;
        assert_eq!(bluestore_label_owner(&v1), None);
        assert_eq!(bluestore_label_owner(&label(UUID)), None);
    }

    #[test]
    fn anything_else_is_other_and_zeros_are_empty() {
        assert_eq!(classify_head(&[0; 4096]), DeviceHead::Empty);
        assert_eq!(classify_head(&[]), DeviceHead::Empty);
        let mut ext4 = vec![0u8; 2048];
        ext4[1080] = 0x53;
        ext4[1081] = 0xef;
        assert_eq!(classify_head(&ext4), DeviceHead::Other);
        // Truncated or damaged labels are not labels.
        assert_eq!(classify_head(&label(UUID)[..40]), DeviceHead::Other);
        assert_eq!(
            classify_head(&label("5f0c0d5e-96a3-4b8e-8b1a_0c3e7c0d6a11")),
            DeviceHead::Other
        );
    }

    #[test]
    fn a_wiped_device_reads_as_empty() {
        let dir = std::env::temp_dir().join(format!("muster-ceph-wipe-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("disk");
        std::fs::write(&f, label(UUID).repeat(1 << 16)).unwrap();
        wipe(&f).unwrap();
        assert_eq!(classify_head(&read_head(&f).unwrap()), DeviceHead::Empty);
        std::fs::remove_dir_all(&dir).unwrap();
        let e = wipe(&f).unwrap_err();
        assert!(matches!(e, CephError::Wipe(_)), "{e}");
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(PathBuf, PathBuf)> {
        list.iter()
            .map(|(l, t)| (PathBuf::from(l), PathBuf::from(t)))
            .collect()
    }

    #[test]
    fn the_stable_name_prefers_wwn_then_by_id_then_by_partuuid() {
        let c = pairs(&[
            ("/dev/disk/by-path/pci-0000:00:1f.2-ata-2", "/dev/sdb"),
            ("/dev/disk/by-partuuid/0a1b2c3d-01", "/dev/sdb1"),
            ("/dev/disk/by-id/scsi-SATA_DISK_B", "/dev/sdb"),
            ("/dev/disk/by-id/wwn-0x5000c500a1b2c3d4", "/dev/sdb"),
            ("/dev/disk/by-id/ata-DISK_B", "/dev/sdb"),
            ("/dev/disk/by-id/ata-DISK_B-part1", "/dev/sdb1"),
            ("/dev/disk/by-id/wwn-0x5000c500a1b2c3d4-part1", "/dev/sdb1"),
            ("/dev/disk/by-id/nvme-DISK_N-part2", "/dev/nvme0n1p2"),
            ("/dev/disk/by-id/ata-DISK_N-part2", "/dev/nvme0n1p2"),
            ("/dev/disk/by-partuuid/5e6f7a8b-02", "/dev/nvme0n1p2"),
            ("/dev/disk/by-partuuid/9c8d7e6f-03", "/dev/vda3"),
            ("/dev/disk/by-uuid/1234-abcd", "/dev/vda3"),
            ("/dev/disk/by-path/virtio-pci-0000:00:05.0", "/dev/vda"),
        ]);
        let choose = |dev: &str| choose_stable_name(&c, Path::new(dev)).map(Path::to_owned);
        let name = |s: &str| Some(PathBuf::from(s));
        assert_eq!(
            choose("/dev/sdb"),
            name("/dev/disk/by-id/wwn-0x5000c500a1b2c3d4")
        );
        assert_eq!(
            choose("/dev/sdb1"),
            name("/dev/disk/by-id/wwn-0x5000c500a1b2c3d4-part1")
        );
        // No wwn: the first by-id name in sorted order.
        assert_eq!(
            choose("/dev/nvme0n1p2"),
            name("/dev/disk/by-id/ata-DISK_N-part2")
        );
        assert_eq!(
            choose("/dev/vda3"),
            name("/dev/disk/by-partuuid/9c8d7e6f-03")
        );
        // Only names that change with the slot or the contents: none.
        assert_eq!(choose("/dev/vda"), None);
        assert_eq!(choose("/dev/loop0"), None);
    }

    #[test]
    fn stable_names_are_read_from_udevs_links() {
        let dir = std::env::temp_dir().join(format!("muster-ceph-names-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (root, devs) = (dir.join("disk"), dir.join("dev"));
        for d in [root.join("by-id"), root.join("by-partuuid"), devs.clone()] {
            std::fs::create_dir_all(d).unwrap();
        }
        let dev = |name: &str| {
            let path = devs.join(name);
            std::fs::write(&path, b"").unwrap();
            std::fs::canonicalize(path).unwrap()
        };
        let (sdb, sdb1, sdc1, loop0) = (dev("sdb"), dev("sdb1"), dev("sdc1"), dev("loop0"));
        // Relative, as udev makes them.
        let link = |sub: &str, name: &str, target: &str| {
            symlink(format!("../../dev/{target}"), root.join(sub).join(name)).unwrap();
        };
        link("by-id", "ata-DISK_B", "sdb");
        link("by-id", "wwn-0x5000c500a1b2c3d4", "sdb");
        link("by-id", "ata-DISK_B-part1", "sdb1");
        link("by-partuuid", "0a1b2c3d-01", "sdb1");
        link("by-partuuid", "5e6f7a8b-01", "sdc1");
        link("by-id", "ata-GONE", "sdz");

        let name = |dev: &Path| stable_name(&root, dev).unwrap();
        assert_eq!(name(&sdb), root.join("by-id/wwn-0x5000c500a1b2c3d4"));
        assert_eq!(name(&sdb1), root.join("by-id/ata-DISK_B-part1"));
        assert_eq!(name(&sdc1), root.join("by-partuuid/5e6f7a8b-01"));
        assert_eq!(name(&loop0), loop0);
        // What finds an OSD's device again: the link resolves to it.
        assert_eq!(std::fs::canonicalize(name(&sdb)).unwrap(), sdb);
        // Without udev there is no /dev/disk.
        assert_eq!(stable_name(&dir.join("none"), &sdb).unwrap(), sdb);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
