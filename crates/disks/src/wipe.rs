//! Erasing a device so that it reads as blank, and the rules that forbid
//! it whatever the operator allowed.
//!
//! A wipe zeroes where signatures live (as `wipefs` and `ceph-volume zap`
//! do), not the whole device: partition tables, file systems, LVM, ZFS and
//! BlueStore all label the first or the last MiB.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use nix::errno::Errno;

use crate::eligibility::kind_reason;
use crate::model::{Disk, Partition};

/// How much is zeroed at each end of the device.
pub const WIPE_LEN: usize = 1 << 20;

/// A wipe that did not finish: the device and what failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot wipe {}: {action} failed: {source}", device.display())]
pub struct WipeError {
    pub device: PathBuf,
    pub action: &'static str,
    #[source]
    pub source: io::Error,
}

/// Zeroes the first and last [`WIPE_LEN`] bytes of `device`, flushes them,
/// and has the kernel re-read the partition table of a whole disk, so that
/// partitions that were just erased disappear.
///
/// A block device is opened exclusively: the kernel refuses that while it
/// is mounted, or held by device-mapper or RAID (for a whole disk, also
/// while one of its partitions is), a last guard behind
/// [`wipe_refusal`]. Regular files (tests) are wiped the same way.
pub fn wipe(device: &Path) -> Result<(), WipeError> {
    let fail = |action: &'static str| {
        move |source: io::Error| WipeError {
            device: device.to_path_buf(),
            action,
            source,
        }
    };
    let mut f = OpenOptions::new()
        .write(true)
        .custom_flags(nix::libc::O_EXCL)
        .open(device)
        .map_err(fail(
            "opening it exclusively (it must not be mounted or in use)",
        ))?;
    let size = f.seek(SeekFrom::End(0)).map_err(fail("finding its size"))?;
    let zeros = vec![0u8; WIPE_LEN];
    let tail = size.saturating_sub(WIPE_LEN as u64);
    for (start, action) in [(0, "zeroing its first MiB"), (tail, "zeroing its last MiB")] {
        let len = (size - start).min(WIPE_LEN as u64) as usize;
        f.seek(SeekFrom::Start(start))
            .and_then(|_| f.write_all(&zeros[..len]))
            .map_err(fail(action))?;
    }
    f.sync_all()
        .map_err(fail("flushing the zeros to the device"))?;
    reread_partition_table(&f).map_err(fail("having the kernel re-read its partition table"))
}

// BLKRRPART, _IO(0x12, 95) in <linux/fs.h>.
nix::ioctl_none!(blkrrpart, 0x12, 95);

/// How often a busy partition table is asked for again: a partition still
/// open for a moment (a `blkid` probing it) makes the kernel refuse.
const REREAD_TRIES: u32 = 10;
const REREAD_PAUSE: Duration = Duration::from_millis(100);

/// Best effort: a partition, a device that cannot be partitioned (a loop
/// device without partscan) or a regular file answers ENOTTY, EINVAL or
/// ENXIO, which only mean there is no partition table to re-read.
fn reread_partition_table(f: &File) -> io::Result<()> {
    let mut tries = 0;
    loop {
        tries += 1;
        // SAFETY: BLKRRPART takes no argument; the fd is open for the call.
        match unsafe { blkrrpart(f.as_raw_fd()) } {
            Ok(_) | Err(Errno::ENOTTY | Errno::EINVAL | Errno::ENXIO) => return Ok(()),
            Err(Errno::EBUSY) if tries < REREAD_TRIES => thread::sleep(REREAD_PAUSE),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Why the device at `path` must never be wiped, even when the operator
/// allowed wipes, judged on a fresh [`scan`](crate::scan) (`disks`).
///
/// `path` is a kernel path (`/dev/sdb`, `/dev/sdb2`, as in
/// [`Disk::path`]) or a `/dev/disk/by-id` link of a whole disk or a
/// partition. `Err` lists every reason, separated by "; ": not found;
/// mounted (for a whole disk, also any of its partitions); held by another
/// device (likewise); read-only; a kind other than a disk or loop device.
/// Signatures and partition tables are no reason: erasing them is what a
/// wipe is for.
/// A device a wipe names, as a fresh scan has it.
enum Named<'a> {
    Disk(&'a Disk),
    Partition(&'a Disk, &'a Partition),
}

/// The whole disk or partition `path` names (its kernel path or one of its
/// by-id links, matched whole).
fn named<'a>(disks: &'a [Disk], path: &str) -> Option<Named<'a>> {
    let is = |dev: &str, by_id: &[String]| dev == path || by_id.iter().any(|l| l == path);
    if let Some(disk) = disks.iter().find(|d| is(&d.path, &d.by_id)) {
        return Some(Named::Disk(disk));
    }
    disks
        .iter()
        .flat_map(|d| d.partitions.iter().map(move |p| (d, p)))
        .find(|(_, p)| is(&p.path, &p.by_id))
        .map(|(d, p)| Named::Partition(d, p))
}

pub fn wipe_refusal(disks: &[Disk], path: &str) -> Result<(), String> {
    let mut reasons = Vec::new();
    let found = named(disks, path);
    if let Some(Named::Disk(disk)) = found {
        reasons.extend(kind_reason(disk.kind).map(str::to_owned));
        if disk.read_only {
            reasons.push("read-only".to_owned());
        }
        reasons.extend(in_use("", &disk.mountpoints, &disk.holders));
        for part in &disk.partitions {
            let whose = format!("its partition {} is ", part.name);
            reasons.extend(in_use(&whose, &part.mountpoints, &part.holders));
        }
    } else if let Some(Named::Partition(disk, part)) = found {
        reasons.extend(kind_reason(disk.kind).map(str::to_owned));
        if part.read_only {
            reasons.push("read-only".to_owned());
        }
        reasons.extend(in_use("", &part.mountpoints, &part.holders));
    } else {
        reasons.push("no such disk or partition on this server".to_owned());
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(reasons.join("; "))
    }
}

/// Whether a wipe another server asks for has this server's consent: the
/// device carries nothing (no signature, no partition), or its operator
/// listed it (by any of its names) in `allowed`. Judged on a fresh scan,
/// after [`wipe_refusal`]; `Err` says what is on it and how to consent.
pub fn wipe_consent(disks: &[Disk], path: &str, allowed: &[String]) -> Result<(), String> {
    let listed = |dev: &str, by_id: &[String]| {
        allowed
            .iter()
            .any(|a| a == dev || by_id.iter().any(|l| l == a))
    };
    let (found, on_it) = match named(disks, path) {
        Some(Named::Disk(disk)) => {
            let mut on_it: Vec<String> = disk.signatures.iter().map(|s| s.describe()).collect();
            if !disk.partitions.is_empty() {
                on_it.push(format!("{} partitions", disk.partitions.len()));
            }
            (listed(&disk.path, &disk.by_id), on_it)
        }
        Some(Named::Partition(_, part)) => {
            let on_it = part.signatures.iter().map(|s| s.describe()).collect();
            (listed(&part.path, &part.by_id), on_it)
        }
        None => return Err("no such disk or partition on this server".to_owned()),
    };
    if found || on_it.is_empty() {
        return Ok(());
    }
    Err(format!(
        "it carries {} and this server's operator has not allowed it to be wiped from another \
         server: add \"{path}\" to wipe_allowed in the [disks] table of musterd.toml on this \
         server (then restart musterd), or wipe it here",
        on_it.join(", ")
    ))
}

/// "mounted at ..." and "held by ...", each when it applies, after `whose`.
fn in_use(whose: &str, mountpoints: &[String], holders: &[String]) -> Vec<String> {
    let mut reasons = Vec::new();
    if !mountpoints.is_empty() {
        reasons.push(format!("{whose}mounted at {}", mountpoints.join(", ")));
    }
    if !holders.is_empty() {
        reasons.push(format!("{whose}held by {}", holders.join(", ")));
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{Fixture, GIB};
    use crate::model::DiskKind;
    use crate::scan;
    use crate::signature::testdata;

    #[test]
    fn a_wipe_clears_both_ends_only() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("disk");
        let size = 3 * WIPE_LEN;
        std::fs::write(&f, vec![7u8; size]).unwrap();
        wipe(&f).unwrap();
        let data = std::fs::read(&f).unwrap();
        assert!(data[..WIPE_LEN].iter().all(|b| *b == 0));
        assert!(data[WIPE_LEN..2 * WIPE_LEN].iter().all(|b| *b == 7));
        assert!(data[2 * WIPE_LEN..].iter().all(|b| *b == 0));

        // Smaller than the two ends: all of it.
        std::fs::write(&f, vec![7u8; 1000]).unwrap();
        wipe(&f).unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), vec![0u8; 1000]);
    }

    #[test]
    fn a_failed_wipe_names_the_device_and_the_step() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("sdz");
        let e = wipe(&missing).unwrap_err();
        assert_eq!(e.device, missing);
        assert_eq!(
            e.to_string(),
            format!(
                "cannot wipe {}: opening it exclusively (it must not be mounted or in use) \
                 failed: No such file or directory (os error 2)",
                missing.display()
            )
        );
    }

    const SATA: &str = "pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0";

    /// sda: the system disk (sda1 mounted, sda2 an LVM PV held by dm-0);
    /// sdb: partitioned, nothing in use; sdc: blank; sdd: read-only.
    fn machine() -> (Fixture, Vec<Disk>) {
        let fx = Fixture::new();
        fx.disk("sda", SATA, 100 * GIB)
            .content(&testdata::gpt())
            .by_id("ata-SYSTEM")
            .partition("sda1", 1, 1 << 20, GIB, |p| p.mounted_at("/boot"))
            .partition("sda2", 2, 2 * GIB, 90 * GIB, |p| {
                p.holder("dm-0").by_id("ata-SYSTEM-part2")
            });
        fx.disk("sdb", SATA, 20 * GIB)
            .content(&testdata::gpt())
            .partition("sdb1", 1, 1 << 20, 8 * GIB, |p| {
                p.content(&testdata::ext4()).by_id("ata-DATA-part1")
            })
            .partition("sdb2", 2, 8 * GIB, 12 * GIB, |p| p);
        fx.disk("sdc", SATA, 20 * GIB).by_id("ata-BLANK");
        fx.disk("sdd", SATA, 20 * GIB).attr("ro", "1");
        let disks = scan(&fx.options()).unwrap();
        (fx, disks)
    }

    fn dev(fx: &Fixture, rel: &str) -> String {
        fx.dev().join(rel).to_string_lossy().into_owned()
    }

    #[test]
    fn signatures_and_partition_tables_are_what_a_wipe_is_for() {
        let (fx, disks) = machine();
        for ok in [
            "sdb",
            "sdb1",
            "sdb2",
            "disk/by-id/ata-DATA-part1",
            "sdc",
            "disk/by-id/ata-BLANK",
        ] {
            assert_eq!(wipe_refusal(&disks, &dev(&fx, ok)), Ok(()), "{ok}");
        }
    }

    #[test]
    fn another_server_may_wipe_only_what_is_blank_or_allowed_here() {
        let (fx, disks) = machine();
        let consent = |rel: &str, allowed: &[&str]| {
            let allowed: Vec<String> = allowed.iter().map(|a| dev(&fx, a)).collect();
            wipe_consent(&disks, &dev(&fx, rel), &allowed)
        };
        // Nothing on it: nothing to lose.
        assert_eq!(consent("sdc", &[]), Ok(()));
        assert_eq!(consent("sdb2", &[]), Ok(()));
        let err = consent("sdb", &[]).unwrap_err();
        assert!(
            err.starts_with("it carries GPT partition table, 2 partitions"),
            "{err}"
        );
        assert!(err.contains("wipe_allowed"), "{err}");
        assert!(consent("sdb1", &[]).unwrap_err().contains("ext4"));
        // Listed by the operator, by its kernel name or a by-id name.
        assert_eq!(consent("sdb", &["sdb"]), Ok(()));
        assert_eq!(consent("sdb1", &["disk/by-id/ata-DATA-part1"]), Ok(()));
        assert_eq!(consent("disk/by-id/ata-DATA-part1", &["sdb1"]), Ok(()));
        // Allowing the disk does not allow another one.
        assert!(consent("sdb1", &["sdb"]).is_err());
        assert!(consent("sdz", &["sdz"]).is_err());
    }

    #[test]
    fn what_is_in_use_is_refused_with_every_reason() {
        let (fx, disks) = machine();
        let refused = |rel: &str| wipe_refusal(&disks, &dev(&fx, rel)).unwrap_err();
        let whole = "its partition sda1 is mounted at /boot; its partition sda2 is held by dm-0";
        assert_eq!(refused("sda"), whole);
        assert_eq!(refused("disk/by-id/ata-SYSTEM"), whole);
        assert_eq!(refused("sda1"), "mounted at /boot");
        assert_eq!(refused("disk/by-id/ata-SYSTEM-part2"), "held by dm-0");
        assert_eq!(refused("sdd"), "read-only");
        assert_eq!(refused("sdz"), "no such disk or partition on this server");
        // A by-id name is matched whole, not by its last component.
        assert!(wipe_refusal(&disks, "/dev/disk/by-id/ata-BLANK").is_err());
    }

    #[test]
    fn only_disks_and_loop_devices_are_wiped() {
        let mounted = Disk {
            kind: DiskKind::Dm,
            mountpoints: vec!["/".into(), "/home".into()],
            holders: vec!["dm-3".into()],
            read_only: true,
            ..Disk::blank("dm-1", GIB)
        };
        let lp = Disk {
            kind: DiskKind::Loop,
            ..Disk::blank("loop3", GIB)
        };
        let disks = [mounted, lp];
        assert_eq!(
            wipe_refusal(&disks, "/dev/dm-1"),
            Err("device-mapper device; read-only; mounted at /, /home; held by dm-3".into())
        );
        assert_eq!(wipe_refusal(&disks, "/dev/loop3"), Ok(()));
    }
}
