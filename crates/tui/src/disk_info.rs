//! What the wizard makes of a disk: free, usable after a wipe (and what the
//! wipe destroys), or not usable at all, and short labels for the table.

use muster_disks::{human_size, Disk, DiskKind, Eligibility};

/// Whether a disk can be chosen, and at what cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Usability {
    /// Nothing on it.
    Free,
    /// Data on it that a wipe would destroy, described for the operator.
    NeedsWipe(Vec<String>),
    /// Something a wipe cannot fix (mounted, held, read-only, too small...).
    Blocked(Vec<String>),
}

/// Reasons from muster-disks' eligibility that a wipe cures: they start with
/// these words there ("has 2 partitions", "carries an ext4 filesystem",
/// "is an LVM physical volume"). Every other reason blocks the disk.
const DATA_REASON_PREFIXES: [&str; 4] = ["has ", "carries ", "is a ", "is an "];

pub fn usability(disk: &Disk) -> Usability {
    let reasons = match &disk.eligibility {
        Eligibility::Eligible => return Usability::Free,
        Eligibility::Ineligible(reasons) => reasons,
    };
    let mut blockers: Vec<String> = reasons
        .iter()
        .filter(|r| !DATA_REASON_PREFIXES.iter().any(|p| r.starts_with(p)))
        .cloned()
        .collect();
    // The disk's own reasons only count its partitions: a mounted or held
    // partition blocks the whole disk just the same.
    for part in &disk.partitions {
        if !part.mountpoints.is_empty() {
            blockers.push(format!(
                "{} mounted at {}",
                part.name,
                part.mountpoints.join(", ")
            ));
        }
        if !part.holders.is_empty() {
            blockers.push(format!("{} held by {}", part.name, part.holders.join(", ")));
        }
    }
    let contents = contents(disk);
    if !blockers.is_empty() {
        Usability::Blocked(blockers)
    } else if contents.is_empty() {
        // Ineligible for a reason this module does not know: do not offer
        // a wipe that might not cure it.
        Usability::Blocked(reasons.clone())
    } else {
        Usability::NeedsWipe(contents)
    }
}

/// What is on a disk, one item per signature and per partition.
pub fn contents(disk: &Disk) -> Vec<String> {
    let mut items: Vec<String> = disk.signatures.iter().map(|s| s.describe()).collect();
    for part in &disk.partitions {
        let what = if part.signatures.is_empty() {
            "no known filesystem".to_string()
        } else {
            part.signatures
                .iter()
                .map(|s| s.describe())
                .collect::<Vec<_>>()
                .join(", ")
        };
        items.push(format!(
            "partition {} ({}, {what})",
            part.name,
            human_size(part.size_bytes)
        ));
    }
    items
}

/// `ssd`, `hdd`, `nvme`, `loop`..., with the bus where it adds something;
/// at most 8 characters, the width of its column.
pub fn kind_label(disk: &Disk) -> String {
    let medium = if disk.rotational { "hdd" } else { "ssd" };
    match disk.kind {
        DiskKind::Loop => "loop".into(),
        DiskKind::Cdrom => "cdrom".into(),
        DiskKind::Dm => "dm".into(),
        DiskKind::Md => "raid".into(),
        DiskKind::Virtual => "virtual".into(),
        DiskKind::Disk => match disk.transport.as_deref() {
            Some("nvme") => "nvme".into(),
            // A virtual disk's rotational flag says nothing about the medium.
            Some("virtio") => "virtio".into(),
            Some(bus @ ("usb" | "sas")) => format!("{bus} {medium}"),
            _ => medium.into(),
        },
    }
}

/// The stable name of a disk where it has one.
pub fn stable_path(disk: &Disk) -> &str {
    disk.by_id
        .first()
        .map_or(disk.path.as_str(), String::as_str)
}

#[cfg(test)]
mod tests {
    use muster_disks::Signature;

    use super::*;
    use crate::fixtures::{disk, ext4_disk, os_disk, partition};

    #[test]
    fn eligible_disks_are_free() {
        assert_eq!(usability(&disk("sdb", 10)), Usability::Free);
    }

    #[test]
    fn data_needs_a_wipe_that_names_it() {
        assert_eq!(
            usability(&ext4_disk("sdb", 10)),
            Usability::NeedsWipe(vec!["ext4 filesystem".into()])
        );
        let mut d = disk("sdc", 10);
        d.signatures = vec![Signature::Gpt];
        let mut p = partition("sdc", 1, 9);
        p.signatures = vec![Signature::Xfs];
        d.partitions = vec![p, partition("sdc", 2, 1)];
        d.eligibility = Eligibility::Ineligible(vec![
            "has 2 partitions".into(),
            "carries a GPT partition table".into(),
        ]);
        assert_eq!(
            usability(&d),
            Usability::NeedsWipe(vec![
                "GPT partition table".into(),
                "partition sdc1 (9.0 GiB, xfs filesystem)".into(),
                "partition sdc2 (1.0 GiB, no known filesystem)".into(),
            ])
        );
    }

    #[test]
    fn mounted_partitions_and_other_reasons_block() {
        assert_eq!(
            usability(&os_disk("sda", 20)),
            Usability::Blocked(vec!["sda1 mounted at /".into()])
        );
        let mut d = ext4_disk("sdd", 1);
        d.eligibility = Eligibility::Ineligible(vec![
            "read-only".into(),
            "carries an ext4 filesystem".into(),
        ]);
        assert_eq!(usability(&d), Usability::Blocked(vec!["read-only".into()]));
    }

    #[test]
    fn unknown_reasons_without_data_block() {
        let mut d = disk("sde", 10);
        d.eligibility = Eligibility::Ineligible(vec!["has a mystery".into()]);
        assert_eq!(
            usability(&d),
            Usability::Blocked(vec!["has a mystery".into()])
        );
    }

    #[test]
    fn kind_labels() {
        let mut d = disk("nvme0n1", 10);
        assert_eq!(kind_label(&d), "ssd");
        d.rotational = true;
        d.transport = Some("usb".into());
        assert_eq!(kind_label(&d), "usb hdd");
        d.transport = Some("nvme".into());
        assert_eq!(kind_label(&d), "nvme");
        d.transport = Some("virtio".into());
        assert_eq!(kind_label(&d), "virtio");
        d.kind = DiskKind::Loop;
        assert_eq!(kind_label(&d), "loop");
    }
}
