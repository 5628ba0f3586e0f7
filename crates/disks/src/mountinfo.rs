//! Reading `/proc/self/mountinfo` (see proc(5)) to learn which block devices
//! are mounted where.

/// One mount, reduced to what ties it to a block device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mount {
    /// `major:minor` of the mounted device, field 3.
    pub dev: String,
    /// Field 5, with the kernel's octal escapes undone.
    pub mountpoint: String,
    /// The mount source after the ` - ` separator (e.g. `/dev/sda2`).
    pub source: String,
}

impl Mount {
    /// Whether this mount is of the block device `name` numbered `dev`.
    ///
    /// The numbers are the primary match; the source is a fallback because
    /// btrfs reports an anonymous device number (`0:NN`) for its mounts.
    pub fn is_of(&self, name: &str, dev: Option<&str>) -> bool {
        dev.is_some_and(|dev| dev == self.dev) || self.source.strip_prefix("/dev/") == Some(name)
    }
}

/// Every well-formed line of `text`; malformed lines are skipped rather than
/// failing the whole inventory over one odd entry.
pub(crate) fn parse(text: &str) -> Vec<Mount> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Mount> {
    let (before, after) = line.split_once(" - ")?;
    let fields: Vec<&str> = before.split(' ').collect();
    let dev = fields.get(2)?;
    let mountpoint = fields.get(4)?;
    let source = after.split(' ').nth(1)?;
    Some(Mount {
        dev: dev.to_string(),
        mountpoint: unescape(mountpoint),
        source: unescape(source),
    })
}

/// The kernel writes space, tab, newline and backslash in paths as `\ooo`.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|_| bytes[i] == b'\\')
            .and_then(|digits| std::str::from_utf8(digits).ok())
            .and_then(|digits| u8::from_str_radix(digits, 8).ok());
        match octal {
            Some(byte) => {
                out.push(byte);
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
29 1 8:2 / / rw,relatime shared:1 - ext4 /dev/sda2 rw,errors=remount-ro
30 29 8:1 / /boot/efi rw,relatime shared:2 - vfat /dev/sda1 rw
31 29 0:35 /@home /home rw shared:3 - btrfs /dev/nvme0n1p2 rw,subvol=/@home
32 29 259:5 / /mnt/my\\040disk rw master:7 - xfs /dev/sdb rw
garbage
33 29 8:3 / - ext4
";

    #[test]
    fn parses_fields_and_skips_garbage() {
        let mounts = parse(SAMPLE);
        assert_eq!(mounts.len(), 5);
        assert_eq!(
            mounts[1],
            Mount {
                dev: "8:2".into(),
                mountpoint: "/".into(),
                source: "/dev/sda2".into()
            }
        );
        assert_eq!(mounts[4].mountpoint, "/mnt/my disk");
    }

    #[test]
    fn matches_by_numbers_or_by_source() {
        let mounts = parse(SAMPLE);
        assert!(mounts[1].is_of("sda2", Some("8:2")));
        assert!(!mounts[1].is_of("sda1", Some("8:1")));
        // btrfs: anonymous numbers, matched by source.
        assert!(mounts[3].is_of("nvme0n1p2", Some("259:2")));
        assert!(mounts[3].is_of("nvme0n1p2", None));
        assert!(!mounts[0].is_of("proc", Some("8:0")));
    }

    #[test]
    fn unescapes_octal_and_leaves_odd_backslashes() {
        assert_eq!(unescape("a\\040b\\011c\\134d"), "a b\tc\\d");
        assert_eq!(unescape("end\\04"), "end\\04");
        assert_eq!(unescape("\\999"), "\\999");
    }
}
