//! The inventory itself: walks `SYSFS/block`, probes each device, and judges
//! it. The roots are options so that tests (and the lab) can point the scan
//! at trees of their own.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::byid;
use crate::device::{describe_io_error, DeviceReader, FileReader};
use crate::eligibility::{judge, Facts};
use crate::model::{Disk, DiskKind, Partition, Signature};
use crate::mountinfo::{self, Mount};
use crate::signature::{detect_signatures, HEAD_LEN};
use crate::sysfs::{self, Common, RawDisk};

/// Where to look and what to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanOptions {
    pub sysfs_root: PathBuf,
    pub dev_root: PathBuf,
    pub mountinfo: PathBuf,
    /// Loop devices are files on another disk: useless for real storage but
    /// what the lab's virtual servers have.
    pub allow_loop: bool,
    /// When non-empty, report only these devices (e.g. `/dev/loop3`), matched
    /// by kernel name or by `/dev/disk/by-id` link name.
    pub only: Vec<PathBuf>,
    pub min_size_bytes: u64,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            sysfs_root: PathBuf::from("/sys"),
            dev_root: PathBuf::from("/dev"),
            mountinfo: PathBuf::from("/proc/self/mountinfo"),
            allow_loop: false,
            only: Vec::new(),
            min_size_bytes: 1 << 30,
        }
    }
}

/// What stops an inventory. Trouble with one device never does: it shows up
/// in that device's eligibility instead.
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    #[error("cannot list block devices in {}: {source}", path.display())]
    ListDevices { path: PathBuf, source: io::Error },
    /// Without the mount table a mounted disk would look free, so this is
    /// fatal rather than guessed around.
    #[error("cannot read the mount table {}: {source}", path.display())]
    Mountinfo { path: PathBuf, source: io::Error },
}

/// The block devices of this machine, sorted by name, each with its
/// eligibility. Device nodes are only ever opened read-only.
pub fn scan(opts: &ScanOptions) -> Result<Vec<Disk>, DiskError> {
    scan_with(opts, &FileReader)
}

/// [`scan`] with the device bytes coming from `reader`.
pub fn scan_with(opts: &ScanOptions, reader: &dyn DeviceReader) -> Result<Vec<Disk>, DiskError> {
    let block_dir = opts.sysfs_root.join("block");
    let names = list_names(&block_dir)?;
    let mountinfo_text =
        fs::read_to_string(&opts.mountinfo).map_err(|source| DiskError::Mountinfo {
            path: opts.mountinfo.clone(),
            source,
        })?;
    let scanner = Scanner {
        opts,
        reader,
        mounts: mountinfo::parse(&mountinfo_text),
        by_id: byid::links(&opts.dev_root),
    };
    let mut disks: Vec<Disk> = names
        .iter()
        .filter(|name| scanner.wanted(name))
        .map(|name| sysfs::read_disk(&block_dir, name))
        .filter(|raw| scanner.reported(raw))
        .map(|raw| scanner.disk(raw))
        .collect();
    disks.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(disks)
}

fn list_names(block_dir: &Path) -> Result<Vec<String>, DiskError> {
    let error = |source| DiskError::ListDevices {
        path: block_dir.to_path_buf(),
        source,
    };
    let mut names = Vec::new();
    for entry in fs::read_dir(block_dir).map_err(error)? {
        // Kernel names are ASCII; anything else is not a block device name.
        if let Ok(name) = entry.map_err(error)?.file_name().into_string() {
            names.push(name);
        }
    }
    Ok(names)
}

struct Scanner<'a> {
    opts: &'a ScanOptions,
    reader: &'a dyn DeviceReader,
    mounts: Vec<Mount>,
    by_id: HashMap<String, Vec<String>>,
}

/// What is learned about a disk or partition beyond sysfs.
struct Probe {
    path: String,
    by_id: Vec<String>,
    mountpoints: Vec<String>,
    signatures: Vec<Signature>,
    unreadable: Option<String>,
}

impl Scanner<'_> {
    fn wanted(&self, name: &str) -> bool {
        if self.opts.only.is_empty() {
            return true;
        }
        let links = self.by_id.get(name).map(Vec::as_slice).unwrap_or_default();
        self.opts.only.iter().any(|only| {
            let Some(wanted) = only.file_name() else {
                return false;
            };
            wanted == name
                || links
                    .iter()
                    .any(|link| Path::new(link).file_name() == Some(wanted))
        })
    }

    /// Virtual devices (zram, ram disks) are never storage; loop devices only
    /// when allowed and backed by a file; hidden ones are paths to a device
    /// listed under another name.
    fn reported(&self, raw: &RawDisk) -> bool {
        match raw.kind {
            _ if raw.hidden => false,
            DiskKind::Virtual => false,
            DiskKind::Loop => {
                self.opts.allow_loop
                    && raw.loop_attached
                    && raw.common.size_bytes.is_some_and(|size| size > 0)
            }
            _ => true,
        }
    }

    fn probe(&self, name: &str, common: &Common, kind: DiskKind) -> Probe {
        let path = self.opts.dev_root.join(name);
        let mountpoints = self.mountpoints(name, common.dev.as_deref());
        // An empty tray is slow to open and says nothing; a zero-size device
        // has nothing to read.
        let skip_read = kind == DiskKind::Cdrom || common.size_bytes == Some(0);
        let (signatures, unreadable) = if skip_read {
            (Vec::new(), None)
        } else {
            match self.reader.read_head(&path, HEAD_LEN) {
                Ok(head) => (detect_signatures(&head), None),
                Err(err) => (Vec::new(), Some(describe_io_error(&err))),
            }
        };
        Probe {
            path: path.to_string_lossy().into_owned(),
            by_id: self.by_id.get(name).cloned().unwrap_or_default(),
            mountpoints,
            signatures,
            unreadable,
        }
    }

    fn mountpoints(&self, name: &str, dev: Option<&str>) -> Vec<String> {
        let mut points: Vec<String> = self
            .mounts
            .iter()
            .filter(|mount| mount.is_of(name, dev))
            .map(|mount| mount.mountpoint.clone())
            .collect();
        points.sort();
        points.dedup();
        points
    }

    fn disk(&self, raw: RawDisk) -> Disk {
        let probe = self.probe(&raw.name, &raw.common, raw.kind);
        let partitions: Vec<Partition> = raw
            .partitions
            .iter()
            .map(|part| self.partition(&raw, part))
            .collect();
        let eligibility = judge(
            &Facts {
                kind: raw.kind,
                size_bytes: raw.common.size_bytes,
                read_only: raw.common.read_only,
                removable: raw.removable,
                partitions: partitions.len(),
                holders: &raw.common.holders,
                mountpoints: &probe.mountpoints,
                signatures: &probe.signatures,
                unreadable: probe.unreadable.as_deref(),
            },
            self.opts.min_size_bytes,
        );
        Disk {
            name: raw.name,
            path: probe.path,
            by_id: probe.by_id,
            kind: raw.kind,
            size_bytes: raw.common.size_bytes.unwrap_or(0),
            model: raw.model,
            serial: raw.serial,
            transport: raw.transport,
            rotational: raw.rotational,
            removable: raw.removable,
            read_only: raw.common.read_only,
            partitions,
            holders: raw.common.holders,
            mountpoints: probe.mountpoints,
            signatures: probe.signatures,
            eligibility,
        }
    }

    /// A partition inherits what makes its disk unusable as a whole device
    /// (removable, read-only, its kind) but not the disk's partition table.
    fn partition(&self, disk: &RawDisk, part: &sysfs::RawPartition) -> Partition {
        let probe = self.probe(&part.name, &part.common, disk.kind);
        let read_only = part.common.read_only || disk.common.read_only;
        let eligibility = judge(
            &Facts {
                kind: disk.kind,
                size_bytes: part.common.size_bytes,
                read_only,
                removable: disk.removable,
                partitions: 0,
                holders: &part.common.holders,
                mountpoints: &probe.mountpoints,
                signatures: &probe.signatures,
                unreadable: probe.unreadable.as_deref(),
            },
            self.opts.min_size_bytes,
        );
        Partition {
            name: part.name.clone(),
            path: probe.path,
            by_id: probe.by_id,
            number: part.number,
            start_bytes: part.start_bytes.unwrap_or(0),
            size_bytes: part.common.size_bytes.unwrap_or(0),
            read_only,
            holders: part.common.holders.clone(),
            mountpoints: probe.mountpoints,
            signatures: probe.signatures,
            eligibility,
        }
    }
}
