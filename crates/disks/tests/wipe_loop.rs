//! Wiping a real disk (a loop device): a partition is wiped alone, a disk
//! with a mounted partition is refused (by [`wipe_refusal`] and by the
//! kernel), and a wiped disk loses its partitions. Needs root (a loop
//! device, a mount); without it the test fails saying it did not run.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use muster_disks::{
    detect_signatures, scan, wipe, wipe_refusal, DeviceReader, Disk, FileReader, ScanOptions,
    Signature, HEAD_LEN,
};

fn run(program: &str, args: &[&str]) -> String {
    let out = muster_lab::run_host(program, args).unwrap_or_else(|e| panic!("{e}"));
    out.trim().to_owned()
}

/// A loop disk on a file in a temporary directory, detached (and its
/// partition unmounted) however the test ends.
struct LoopDisk {
    dev: PathBuf,
    mounted: Option<PathBuf>,
    dir: tempfile::TempDir,
}

impl LoopDisk {
    fn new(size: u64) -> LoopDisk {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("disk.img");
        File::create(&img).unwrap().set_len(size).unwrap();
        let img = img.to_str().unwrap();
        let dev = run("losetup", &["--show", "--find", "--partscan", img]);
        LoopDisk {
            dev: dev.into(),
            mounted: None,
            dir,
        }
    }

    fn path(&self) -> &str {
        self.dev.to_str().unwrap()
    }

    fn partition(&self, n: u32) -> PathBuf {
        format!("{}p{n}", self.path()).into()
    }

    fn name(&self) -> &str {
        self.dev.file_name().unwrap().to_str().unwrap()
    }

    fn scan(&self) -> Vec<Disk> {
        scan(&ScanOptions {
            allow_loop: true,
            only: vec![self.dev.clone()],
            min_size_bytes: 1,
            ..ScanOptions::default()
        })
        .unwrap()
    }

    fn unmount(&mut self) {
        if let Some(at) = self.mounted.take() {
            run("umount", &[at.to_str().unwrap()]);
        }
    }
}

impl Drop for LoopDisk {
    fn drop(&mut self) {
        if let Some(at) = self.mounted.take() {
            let _ = Command::new("umount").arg(at).status();
        }
        let _ = Command::new("losetup").arg("-d").arg(&self.dev).status();
    }
}

fn head(path: &Path) -> Vec<u8> {
    FileReader.read_head(path, HEAD_LEN).unwrap()
}

#[test]
fn wiping_a_loop_disk_needs_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test did not run: needs root (a loop device and a mount); \
         run `cargo test -p muster-disks` as root"
    );
    let mut disk = LoopDisk::new(64 << 20);
    run("sgdisk", &["-n", "1:0:+16M", "-n", "2:0:0", disk.path()]);
    // Some kernels parse no partition table themselves (built without
    // them); partx adds what it reads either way.
    run("partx", &["-u", disk.path()]);
    let (p1, p2) = (disk.partition(1), disk.partition(2));
    assert!(p1.exists() && p2.exists(), "partitions of {}", disk.path());
    run("mkfs.ext4", &["-q", p1.to_str().unwrap()]);
    run("mkfs.ext4", &["-q", p2.to_str().unwrap()]);
    let at = disk.dir.path().join("mnt");
    std::fs::create_dir(&at).unwrap();
    run("mount", &[p1.to_str().unwrap(), at.to_str().unwrap()]);
    disk.mounted = Some(at.clone());

    // The free partition alone: wiped, its neighbour and the table kept.
    let disks = disk.scan();
    assert_eq!(wipe_refusal(&disks, p2.to_str().unwrap()), Ok(()));
    wipe(&p2).unwrap();
    assert_eq!(detect_signatures(&head(&p2)), []);
    assert_eq!(
        detect_signatures(&head(&p1)),
        [Signature::Ext { version: 4 }]
    );
    assert!(p1.exists() && p2.exists());

    // The disk under a mounted partition: refused by the rules, and by
    // the kernel if they were skipped.
    let why = wipe_refusal(&disks, disk.path()).unwrap_err();
    let p1_name = format!("{}p1", disk.name());
    assert_eq!(
        why,
        format!("its partition {p1_name} is mounted at {}", at.display())
    );
    let e = wipe(&disk.dev).unwrap_err();
    assert_eq!(e.source.raw_os_error(), Some(nix::libc::EBUSY), "{e}");
    assert_eq!(detect_signatures(&head(&disk.dev)), [Signature::Gpt]);

    // Unmounted: wiped, and its partitions are gone.
    disk.unmount();
    let disks = disk.scan();
    assert_eq!(wipe_refusal(&disks, disk.path()), Ok(()));
    wipe(&disk.dev).unwrap();
    assert!(head(&disk.dev).iter().all(|b| *b == 0));
    assert!(!p1.exists() && !p2.exists(), "partitions left after a wipe");
    let after = disk.scan();
    assert!(after[0].partitions.is_empty(), "{after:#?}");
    assert!(after[0].eligibility.is_eligible(), "{after:#?}");
}
