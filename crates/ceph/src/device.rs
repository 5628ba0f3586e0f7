//! What is on a device before an OSD goes there, and wiping it.

use std::fs::File;
use std::io::Read;
use std::path::Path;

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

pub(crate) fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
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

#[cfg(test)]
mod tests {
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
    fn a_real_label_is_recognised() {
        let path = format!(
            "{}/tests/fixtures/pacific-16.2.15-bluestore-label.bin",
            env!("CARGO_MANIFEST_DIR")
        );
        let head = std::fs::read(path).unwrap();
        assert!(matches!(classify_head(&head), DeviceHead::Bluestore { .. }));
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
}
