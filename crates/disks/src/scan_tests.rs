//! The scanner over fixture trees, and once over the real machine.

use std::io;
use std::path::{Path, PathBuf};

use crate::fixture::{Fixture, GIB};
use crate::signature::testdata;
use crate::{
    scan, scan_with, DeviceReader, Disk, DiskError, DiskKind, Eligibility, ScanOptions, Signature,
};

const SATA: &str = "pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0";
const USB: &str = "pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host6/target6:0:0/6:0:0:0";
const NVME: &str = "pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0";

fn scan_ok(opts: &ScanOptions) -> Vec<Disk> {
    scan(opts).expect("scan")
}

fn only_disk(opts: &ScanOptions) -> Disk {
    let mut disks = scan_ok(opts);
    assert_eq!(disks.len(), 1, "{disks:#?}");
    disks.remove(0)
}

fn reasons(eligibility: &Eligibility) -> Vec<&str> {
    eligibility.reasons().iter().map(String::as_str).collect()
}

#[test]
fn plain_empty_disk_is_eligible_with_its_facts() {
    let fx = Fixture::new();
    fx.disk("sda", SATA, 10 * GIB)
        .attr("device/model", "  Samsung SSD 870 ")
        .attr("device/vpd_pg80", b"\0\x80\0\x08S5Y1NX0R")
        .attr("queue/rotational", "1");
    let disk = only_disk(&fx.options());
    assert_eq!(disk.name, "sda");
    assert_eq!(disk.path, fx.dev().join("sda").to_string_lossy());
    assert_eq!(disk.kind, DiskKind::Disk);
    assert_eq!(disk.size_bytes, 10 * GIB);
    assert_eq!(disk.model.as_deref(), Some("Samsung SSD 870"));
    assert_eq!(disk.serial.as_deref(), Some("S5Y1NX0R"));
    assert_eq!(disk.transport.as_deref(), Some("sata"));
    assert!(disk.rotational);
    assert!(!disk.removable && !disk.read_only);
    assert!(disk.partitions.is_empty() && disk.holders.is_empty());
    assert!(disk.mountpoints.is_empty() && disk.signatures.is_empty());
    assert_eq!(disk.eligibility, Eligibility::Eligible);
}

#[test]
fn partitioned_disk_offers_its_free_partition() {
    let fx = Fixture::new();
    fx.disk("sdb", SATA, 20 * GIB)
        .content(&testdata::gpt())
        .partition("sdb2", 2, 8 * GIB, 12 * GIB, |p| p)
        .partition("sdb1", 1, 1 << 20, 8 * GIB, |p| {
            p.content(&testdata::ext4())
        });
    let disk = only_disk(&fx.options());
    assert_eq!(disk.signatures, vec![Signature::Gpt]);
    assert_eq!(
        reasons(&disk.eligibility),
        vec!["has 2 partitions", "carries a GPT partition table"]
    );
    let [p1, p2] = &disk.partitions[..] else {
        panic!("two partitions: {:#?}", disk.partitions)
    };
    assert_eq!((p1.name.as_str(), p1.number), ("sdb1", 1));
    assert_eq!((p1.start_bytes, p1.size_bytes), (1 << 20, 8 * GIB));
    assert_eq!(p1.path, fx.dev().join("sdb1").to_string_lossy());
    assert_eq!(p1.signatures, vec![Signature::Ext { version: 4 }]);
    assert_eq!(reasons(&p1.eligibility), vec!["carries an ext4 filesystem"]);
    assert_eq!((p2.name.as_str(), p2.number), ("sdb2", 2));
    assert_eq!(p2.eligibility, Eligibility::Eligible);
}

#[test]
fn mounted_disk_and_partition() {
    let fx = Fixture::new();
    fx.disk("sdc", SATA, 10 * GIB)
        .content(&testdata::ext4())
        .mounted_at("/srv/my\\040data");
    fx.disk("sdd", SATA, 10 * GIB)
        .content(&testdata::mbr())
        .partition("sdd1", 1, 1 << 20, 9 * GIB, |p| p.mounted_at("/"));
    let disks = scan_ok(&fx.options());
    assert_eq!(disks[0].mountpoints, vec!["/srv/my data"]);
    assert_eq!(
        reasons(&disks[0].eligibility),
        vec!["mounted at /srv/my data", "carries an ext4 filesystem"]
    );
    // The disk of a mounted partition is not itself mounted.
    assert!(disks[1].mountpoints.is_empty());
    let part = &disks[1].partitions[0];
    assert_eq!(part.mountpoints, vec!["/"]);
    assert_eq!(reasons(&part.eligibility), vec!["mounted at /"]);
}

#[test]
fn lvm_physical_volume_is_held_and_its_volume_is_listed() {
    let fx = Fixture::new();
    fx.disk("sde", SATA, 10 * GIB)
        .content(&testdata::lvm_pv(1))
        .holder("dm-0");
    fx.disk("dm-0", "virtual", 5 * GIB)
        .attr("dm/name", "vg0-data")
        .content(&testdata::ext4());
    let disks = scan_ok(&fx.options());
    let names: Vec<&str> = disks.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, vec!["dm-0", "sde"]);
    assert_eq!(disks[0].kind, DiskKind::Dm);
    assert_eq!(
        reasons(&disks[0].eligibility),
        vec!["device-mapper device", "carries an ext4 filesystem"]
    );
    assert_eq!(disks[1].holders, vec!["dm-0"]);
    assert_eq!(
        reasons(&disks[1].eligibility),
        vec!["held by dm-0", "is an LVM physical volume"]
    );
}

#[test]
fn read_only_disk() {
    let fx = Fixture::new();
    fx.disk("sdf", SATA, 10 * GIB).attr("ro", "1");
    let disk = only_disk(&fx.options());
    assert!(disk.read_only);
    assert_eq!(reasons(&disk.eligibility), vec!["read-only"]);
}

#[test]
fn removable_usb_stick_and_its_partition() {
    let fx = Fixture::new();
    fx.disk("sdg", USB, 32 * GIB)
        .attr("removable", "1")
        .content(&testdata::mbr())
        .partition("sdg1", 1, 1 << 20, 31 * GIB, |p| p);
    let disk = only_disk(&fx.options());
    assert_eq!(disk.transport.as_deref(), Some("usb"));
    assert!(disk.removable);
    assert_eq!(
        reasons(&disk.eligibility),
        vec![
            "removable",
            "has 1 partition",
            "carries an MBR partition table"
        ]
    );
    assert_eq!(reasons(&disk.partitions[0].eligibility), vec!["removable"]);
}

#[test]
fn cdroms_are_listed_but_never_read() {
    let fx = Fixture::new();
    // No device node: reading it would add "could not read".
    fx.disk("sr0", SATA, 700 << 20).no_node();
    fx.disk("sdh", SATA, 4 * GIB)
        .attr("device/type", "5")
        .no_node();
    let disks = scan_ok(&fx.options());
    assert_eq!(disks.len(), 2);
    for disk in disks {
        assert_eq!(disk.kind, DiskKind::Cdrom, "{}", disk.name);
        assert_eq!(reasons(&disk.eligibility)[0], "cdrom");
        assert!(!reasons(&disk.eligibility)
            .iter()
            .any(|r| r.starts_with("could not read")));
    }
}

fn loops_and_zram(fx: &Fixture) {
    fx.disk("loop0", "virtual", 4 * GIB)
        .attr("loop/backing_file", "/var/tmp/lab/s1-disk0.img");
    fx.disk("loop1", "virtual", 4 * GIB)
        .attr("loop/backing_file", "/var/tmp/lab/s1-disk1.img")
        .by_id("lab-s1-disk1");
    // Unattached: no backing file, size 0.
    fx.disk("loop2", "virtual", 0);
    fx.disk("zram0", "virtual", 8 * GIB);
    fx.disk("ram0", "virtual", 16 << 20);
    fx.disk("sda", SATA, 10 * GIB);
}

fn names(disks: &[Disk]) -> Vec<&str> {
    disks.iter().map(|d| d.name.as_str()).collect()
}

#[test]
fn loop_devices_only_when_allowed_and_attached() {
    let fx = Fixture::new();
    loops_and_zram(&fx);
    assert_eq!(names(&scan_ok(&fx.options())), vec!["sda"]);
    let opts = ScanOptions {
        allow_loop: true,
        ..fx.options()
    };
    let disks = scan_ok(&opts);
    assert_eq!(names(&disks), vec!["loop0", "loop1", "sda"]);
    assert_eq!(disks[0].kind, DiskKind::Loop);
    assert_eq!(disks[0].transport.as_deref(), Some("loop"));
    assert_eq!(disks[0].eligibility, Eligibility::Eligible);
}

#[test]
fn only_filter_by_kernel_name_or_by_id_name() {
    let fx = Fixture::new();
    loops_and_zram(&fx);
    let only = |paths: &[&str]| ScanOptions {
        allow_loop: true,
        only: paths.iter().map(PathBuf::from).collect(),
        ..fx.options()
    };
    assert_eq!(names(&scan_ok(&only(&["/dev/loop0"]))), vec!["loop0"]);
    assert_eq!(
        names(&scan_ok(&only(&[
            "/dev/disk/by-id/lab-s1-disk1",
            "/dev/sda"
        ]))),
        vec!["loop1", "sda"]
    );
    // `only` narrows; it does not let unattached or virtual devices in.
    assert!(scan_ok(&only(&["/dev/loop2", "/dev/zram0", "/dev/sdx"])).is_empty());
}

#[test]
fn by_id_links_resolve_inside_the_dev_root() {
    let fx = Fixture::new();
    fx.disk("sda", SATA, 10 * GIB)
        .by_id("wwn-0x5002538e40a1b2c3")
        .by_id("ata-Samsung_SSD_870_S5Y1NX0R")
        .partition("sda1", 1, 1 << 20, 2 * GIB, |p| {
            p.by_id("ata-Samsung_SSD_870_S5Y1NX0R-part1")
        });
    // Absolute targets point at the real /dev, not at this tree: ignored.
    std::os::unix::fs::symlink("/dev/sda", fx.dev().join("disk/by-id/elsewhere")).unwrap();
    let disk = only_disk(&fx.options());
    let by_id = fx.dev().join("disk/by-id");
    let link = |name: &str| by_id.join(name).to_string_lossy().into_owned();
    assert_eq!(
        disk.by_id,
        vec![
            link("ata-Samsung_SSD_870_S5Y1NX0R"),
            link("wwn-0x5002538e40a1b2c3")
        ]
    );
    assert_eq!(
        disk.partitions[0].by_id,
        vec![link("ata-Samsung_SSD_870_S5Y1NX0R-part1")]
    );
}

#[test]
fn too_small_disk_and_partition() {
    let fx = Fixture::new();
    fx.disk("sda", SATA, 512 << 20)
        .partition("sda1", 1, 1 << 20, 100 << 20, |p| p);
    let disk = only_disk(&fx.options());
    assert_eq!(
        reasons(&disk.eligibility),
        vec![
            "too small (512.0 MiB, needs at least 1.0 GiB)",
            "has 1 partition"
        ]
    );
    assert_eq!(
        reasons(&disk.partitions[0].eligibility),
        vec!["too small (100.0 MiB, needs at least 1.0 GiB)"]
    );
    let smaller_min = ScanOptions {
        min_size_bytes: 64 << 20,
        ..fx.options()
    };
    let disk = only_disk(&smaller_min);
    assert_eq!(disk.partitions[0].eligibility, Eligibility::Eligible);
}

#[test]
fn nvme_namespace_and_partition_names() {
    let fx = Fixture::new();
    fx.disk("nvme0n1", NVME, 100 * GIB)
        .attr("device/model", "INTEL SSDPEKNW010T8")
        .attr("device/serial", "BTNH0123456789  ")
        .attr("wwid", "eui.0025388b91b2c3d4")
        .partition("nvme0n1p1", 1, 1 << 20, 50 * GIB, |p| p);
    let disk = only_disk(&fx.options());
    assert_eq!(disk.transport.as_deref(), Some("nvme"));
    assert_eq!(disk.serial.as_deref(), Some("BTNH0123456789"));
    assert_eq!(disk.partitions[0].name, "nvme0n1p1");
    assert_eq!(
        disk.partitions[0].path,
        fx.dev().join("nvme0n1p1").to_string_lossy()
    );
    assert_eq!(disk.partitions[0].eligibility, Eligibility::Eligible);
}

#[test]
fn hidden_devices_are_skipped() {
    let fx = Fixture::new();
    fx.disk("nvme0c0n1", NVME, 100 * GIB).attr("hidden", "1");
    assert!(scan_ok(&fx.options()).is_empty());
}

/// Hands out an error for one device and the real bytes for the others.
struct Denying<'a>(&'a str);

impl DeviceReader for Denying<'_> {
    fn read_head(&self, path: &Path, len: usize) -> io::Result<Vec<u8>> {
        if path.file_name().is_some_and(|n| n == self.0) {
            Err(io::Error::from(io::ErrorKind::PermissionDenied))
        } else {
            crate::FileReader.read_head(path, len)
        }
    }
}

#[test]
fn unreadable_device_is_not_fatal_and_not_called_empty() {
    let fx = Fixture::new();
    fx.disk("sda", SATA, 10 * GIB);
    fx.disk("sdb", SATA, 10 * GIB);
    let disks = scan_with(&fx.options(), &Denying("sdb")).unwrap();
    assert_eq!(disks[0].eligibility, Eligibility::Eligible);
    assert_eq!(
        reasons(&disks[1].eligibility),
        vec!["could not read (permission denied)"]
    );
}

#[test]
fn odd_sysfs_content_is_unknown_not_a_panic() {
    let fx = Fixture::new();
    fx.disk("sda", SATA, 10 * GIB)
        .attr("size", "lots")
        .attr("ro", "maybe")
        .attr("queue/rotational", "")
        .without("removable")
        .without("dev")
        .without("holders")
        .partition("sda1", 1, 0, GIB, |p| p.attr("start", "-5"));
    // Numbers that do not fit once turned into bytes.
    fx.disk("sdb", SATA, GIB).attr("size", u64::MAX.to_string());
    fx.disk("sdc", SATA, GIB)
        .partition("sdc9", 9, 0, GIB, |p| p.attr("partition", "x"));
    let disks = scan_ok(&fx.options());
    assert_eq!(disks[0].size_bytes, 0);
    assert!(!disks[0].read_only);
    assert_eq!(
        reasons(&disks[0].eligibility),
        vec!["size unknown", "has 1 partition"]
    );
    assert_eq!(disks[0].partitions[0].start_bytes, 0);
    assert_eq!(reasons(&disks[1].eligibility), vec!["size unknown"]);
    // A folder whose `partition` is garbage is not taken for a partition.
    assert!(disks[2].partitions.is_empty());
}

#[test]
fn errors_name_the_path() {
    let fx = Fixture::new();
    let no_sysfs = ScanOptions {
        sysfs_root: fx.sys().join("missing"),
        ..fx.options()
    };
    let err = scan(&no_sysfs).unwrap_err();
    assert!(matches!(err, DiskError::ListDevices { .. }));
    assert!(err.to_string().contains("missing/block"), "{err}");

    let no_mountinfo = ScanOptions {
        mountinfo: fx.mountinfo().with_extension("gone"),
        ..fx.options()
    };
    let err = scan(&no_mountinfo).unwrap_err();
    assert!(matches!(err, DiskError::Mountinfo { .. }));
    assert!(err.to_string().contains("mountinfo.gone"), "{err}");
}

#[test]
fn disks_survive_the_wire() {
    let fx = Fixture::new();
    fx.disk("sda", SATA, 10 * GIB)
        .content(&testdata::gpt())
        .partition("sda1", 1, 1 << 20, 2 * GIB, |p| p);
    let disks = scan_ok(&fx.options());
    let json = serde_json::to_string(&disks).unwrap();
    let back: Vec<Disk> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, disks);
}

/// The real machine: whatever disks it has, the scan must succeed, and it
/// must never report the kinds it promises to leave out.
#[test]
fn real_machine_scan_succeeds() {
    for allow_loop in [false, true] {
        let opts = ScanOptions {
            allow_loop,
            ..ScanOptions::default()
        };
        let disks = scan(&opts).expect("scanning this machine");
        assert!(disks.windows(2).all(|w| w[0].name < w[1].name));
        assert!(disks.iter().all(|d| d.kind != DiskKind::Virtual));
        if !allow_loop {
            assert!(disks.iter().all(|d| d.kind != DiskKind::Loop));
        }
    }
}
