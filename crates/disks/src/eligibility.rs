//! Whether muster may use a device without wiping it: a pure judgement over
//! facts the scanner collected, so every rule is testable without a disk.
//!
//! Every reason that applies is listed, not just the first: the operator
//! decides what to wipe or change from this list, and fixing one reason only
//! to be shown the next would waste their time.

use crate::model::{DiskKind, Eligibility, Signature};

/// What the rules look at, for a whole disk or a partition.
#[derive(Debug, Clone)]
pub(crate) struct Facts<'a> {
    /// For a partition, the kind of its disk.
    pub kind: DiskKind,
    /// `None` when sysfs did not say.
    pub size_bytes: Option<u64>,
    pub read_only: bool,
    /// For a partition, whether its disk is removable.
    pub removable: bool,
    pub partitions: usize,
    pub holders: &'a [String],
    pub mountpoints: &'a [String],
    pub signatures: &'a [Signature],
    /// Why the device's first bytes could not be read, if they could not:
    /// then nothing is known about what is on it.
    pub unreadable: Option<&'a str>,
}

pub(crate) fn judge(facts: &Facts<'_>, min_size_bytes: u64) -> Eligibility {
    let mut reasons: Vec<String> = kind_reason(facts.kind)
        .map(str::to_owned)
        .into_iter()
        .collect();
    if facts.read_only {
        reasons.push("read-only".to_string());
    }
    if facts.removable {
        reasons.push("removable".to_string());
    }
    match facts.size_bytes {
        None => reasons.push("size unknown".to_string()),
        Some(size) if size < min_size_bytes => reasons.push(format!(
            "too small ({}, needs at least {})",
            human_size(size),
            human_size(min_size_bytes)
        )),
        Some(_) => {}
    }
    match facts.partitions {
        0 => {}
        1 => reasons.push("has 1 partition".to_string()),
        n => reasons.push(format!("has {n} partitions")),
    }
    if !facts.holders.is_empty() {
        reasons.push(format!("held by {}", facts.holders.join(", ")));
    }
    if !facts.mountpoints.is_empty() {
        reasons.push(format!("mounted at {}", facts.mountpoints.join(", ")));
    }
    reasons.extend(facts.signatures.iter().map(carries));
    if let Some(why) = facts.unreadable {
        reasons.push(format!("could not read ({why})"));
    }
    if reasons.is_empty() {
        Eligibility::Eligible
    } else {
        Eligibility::Ineligible(reasons)
    }
}

/// Why a device of this kind is not storage muster uses (or wipes).
pub(crate) fn kind_reason(kind: DiskKind) -> Option<&'static str> {
    match kind {
        DiskKind::Disk | DiskKind::Loop => None,
        DiskKind::Cdrom => Some("cdrom"),
        DiskKind::Dm => Some("device-mapper device"),
        DiskKind::Md => Some("software RAID device"),
        DiskKind::Virtual => Some("virtual device"),
    }
}

/// A sentence fragment for a signature, with the article English wants.
fn carries(signature: &Signature) -> String {
    let what = signature.describe();
    match signature {
        Signature::LvmPv | Signature::ZfsMember | Signature::CephBluestore => {
            format!("is {} {what}", article(&what))
        }
        Signature::Swap => format!("carries {what}"),
        _ => format!("carries {} {what}", article(&what)),
    }
}

/// "an" before a vowel sound; the initialisms used here (LVM, MBR, xfs) are
/// spelled out letter by letter, so their first letter's name decides.
fn article(word: &str) -> &'static str {
    match word.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u' | 'x' | 'E' | 'L' | 'M' | 'S') => "an",
        _ => "a",
    }
}

/// Sizes in binary units with one decimal, as `lsblk` does: `4.0 GiB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut unit = 0;
    let mut scale: u128 = 1;
    // Pick the unit where the rounded value stays below 1024.0, so that
    // 1 GiB minus a byte prints as 1.0 GiB, not 1024.0 MiB.
    while unit + 1 < UNITS.len() && tenths(bytes, scale) >= 10 * 1024 {
        unit += 1;
        scale *= 1024;
    }
    let t = tenths(bytes, scale);
    format!("{}.{} {}", t / 10, t % 10, UNITS[unit])
}

fn tenths(bytes: u64, scale: u128) -> u128 {
    (u128::from(bytes) * 10 + scale / 2) / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    fn empty_disk() -> Facts<'static> {
        Facts {
            kind: DiskKind::Disk,
            size_bytes: Some(4 * GIB),
            read_only: false,
            removable: false,
            partitions: 0,
            holders: &[],
            mountpoints: &[],
            signatures: &[],
            unreadable: None,
        }
    }

    fn reasons(facts: &Facts<'_>) -> Vec<String> {
        judge(facts, GIB).reasons().to_vec()
    }

    #[test]
    fn an_empty_disk_or_loop_is_eligible() {
        assert_eq!(judge(&empty_disk(), GIB), Eligibility::Eligible);
        let lp = Facts {
            kind: DiskKind::Loop,
            ..empty_disk()
        };
        assert_eq!(judge(&lp, GIB), Eligibility::Eligible);
        let exactly_min = Facts {
            size_bytes: Some(GIB),
            ..empty_disk()
        };
        assert_eq!(judge(&exactly_min, GIB), Eligibility::Eligible);
    }

    #[test]
    fn kinds_that_are_not_plain_disks() {
        for (kind, reason) in [
            (DiskKind::Cdrom, "cdrom"),
            (DiskKind::Dm, "device-mapper device"),
            (DiskKind::Md, "software RAID device"),
            (DiskKind::Virtual, "virtual device"),
        ] {
            let facts = Facts {
                kind,
                ..empty_disk()
            };
            assert_eq!(reasons(&facts), vec![reason]);
        }
    }

    #[test]
    fn every_reason_is_listed() {
        let holders = ["dm-0".to_string(), "md127".to_string()];
        let mounts = ["/".to_string(), "/srv".to_string()];
        let signatures = [Signature::Gpt, Signature::Ext { version: 4 }];
        let facts = Facts {
            kind: DiskKind::Disk,
            size_bytes: Some(512 << 20),
            read_only: true,
            removable: true,
            partitions: 3,
            holders: &holders,
            mountpoints: &mounts,
            signatures: &signatures,
            unreadable: Some("permission denied"),
        };
        assert_eq!(
            reasons(&facts),
            vec![
                "read-only",
                "removable",
                "too small (512.0 MiB, needs at least 1.0 GiB)",
                "has 3 partitions",
                "held by dm-0, md127",
                "mounted at /, /srv",
                "carries a GPT partition table",
                "carries an ext4 filesystem",
                "could not read (permission denied)",
            ]
        );
    }

    #[test]
    fn one_partition_is_singular() {
        let facts = Facts {
            partitions: 1,
            ..empty_disk()
        };
        assert_eq!(reasons(&facts), vec!["has 1 partition"]);
    }

    #[test]
    fn unknown_size_is_not_taken_as_big_enough() {
        let facts = Facts {
            size_bytes: None,
            ..empty_disk()
        };
        assert_eq!(reasons(&facts), vec!["size unknown"]);
    }

    #[test]
    fn signature_phrases() {
        let all = [
            (Signature::Ext { version: 2 }, "carries an ext2 filesystem"),
            (Signature::Xfs, "carries an xfs filesystem"),
            (Signature::Btrfs, "carries a btrfs filesystem"),
            (Signature::Swap, "carries swap space"),
            (Signature::LvmPv, "is an LVM physical volume"),
            (Signature::ZfsMember, "is a ZFS pool member"),
            (Signature::CephBluestore, "is a Ceph BlueStore OSD"),
            (Signature::Gpt, "carries a GPT partition table"),
            (Signature::Mbr, "carries an MBR partition table"),
        ];
        for (signature, phrase) in all {
            assert_eq!(carries(&signature), phrase);
        }
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1024), "1.0 KiB");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(GIB), "1.0 GiB");
        assert_eq!(human_size(GIB - 1), "1.0 GiB");
        assert_eq!(human_size(4 * GIB + GIB / 4), "4.3 GiB");
        assert_eq!(human_size(3 << 40), "3.0 TiB");
        assert_eq!(human_size(u64::MAX), "16.0 EiB");
    }
}
