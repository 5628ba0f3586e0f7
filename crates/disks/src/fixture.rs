//! Fake sysfs, dev and mountinfo trees in a temporary directory, laid out the
//! way the kernel lays them out, so the scanner runs unchanged and unprivileged.

use std::cell::Cell;
use std::fs;
use std::io::Write;
use std::os::unix::fs::symlink;
use std::path::PathBuf;

use tempfile::TempDir;

use crate::scan::ScanOptions;

pub(crate) const GIB: u64 = 1 << 30;

pub(crate) struct Fixture {
    dir: TempDir,
    next_minor: Cell<u32>,
}

impl Fixture {
    pub fn new() -> Fixture {
        let fx = Fixture {
            dir: tempfile::tempdir().unwrap(),
            next_minor: Cell::new(0),
        };
        fs::create_dir_all(fx.sys().join("block")).unwrap();
        fs::create_dir_all(fx.dev().join("disk/by-id")).unwrap();
        fs::write(fx.mountinfo(), "22 27 0:21 / /proc rw - proc proc rw\n").unwrap();
        fx
    }

    pub fn sys(&self) -> PathBuf {
        self.dir.path().join("sys")
    }

    pub fn dev(&self) -> PathBuf {
        self.dir.path().join("dev")
    }

    pub fn mountinfo(&self) -> PathBuf {
        self.dir.path().join("mountinfo")
    }

    pub fn options(&self) -> ScanOptions {
        ScanOptions {
            sysfs_root: self.sys(),
            dev_root: self.dev(),
            mountinfo: self.mountinfo(),
            ..ScanOptions::default()
        }
    }

    /// A whole disk at `sys/devices/DEVPATH/block/NAME`, linked from
    /// `sys/block/NAME` as the kernel does (`DEVPATH` "virtual" for loop,
    /// dm, zram...), with zeroed contents so it starts out eligible.
    pub fn disk(&self, name: &str, devpath: &str, size_bytes: u64) -> Node<'_> {
        let rel = format!("devices/{devpath}/block/{name}");
        symlink(format!("../{rel}"), self.sys().join("block").join(name)).unwrap();
        let node = Node::new(self, name, self.sys().join(&rel), size_bytes)
            .attr("removable", "0")
            .attr("queue/rotational", "0");
        if devpath != "virtual" {
            symlink("../..", node.dir.join("device")).unwrap();
        }
        node
    }

    fn next_dev(&self) -> String {
        let minor = self.next_minor.get();
        self.next_minor.set(minor + 1);
        format!("259:{minor}")
    }
}

/// A disk or partition being built; each method writes at once.
pub(crate) struct Node<'f> {
    fx: &'f Fixture,
    name: String,
    dir: PathBuf,
    dev: String,
}

impl<'f> Node<'f> {
    fn new(fx: &'f Fixture, name: &str, dir: PathBuf, size_bytes: u64) -> Node<'f> {
        fs::create_dir_all(dir.join("holders")).unwrap();
        Node {
            fx,
            name: name.to_string(),
            dir,
            dev: fx.next_dev(),
        }
        .attr("size", (size_bytes / 512).to_string())
        .attr("ro", "0")
        .attr_dev()
        .content(&[0; 4096])
    }

    fn attr_dev(self) -> Self {
        let dev = self.dev.clone();
        self.attr("dev", dev)
    }

    /// Writes the sysfs attribute `rel` (a path below the device's folder),
    /// ending in a newline as the kernel's text attributes do.
    pub fn attr(self, rel: &str, value: impl AsRef<[u8]>) -> Self {
        let path = self.dir.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, [value.as_ref(), b"\n"].concat()).unwrap();
        self
    }

    /// Removes a sysfs attribute or folder, for devices that lack it.
    pub fn without(self, rel: &str) -> Self {
        let path = self.dir.join(rel);
        if path.is_dir() {
            fs::remove_dir_all(path).unwrap();
        } else {
            fs::remove_file(path).unwrap();
        }
        self
    }

    pub fn holder(self, holder: &str) -> Self {
        fs::create_dir_all(self.dir.join("holders").join(holder)).unwrap();
        self
    }

    /// The device node's contents: a regular file the scanner reads as the
    /// device's first bytes.
    pub fn content(self, bytes: &[u8]) -> Self {
        fs::write(self.fx.dev().join(&self.name), bytes).unwrap();
        self
    }

    pub fn no_node(self) -> Self {
        fs::remove_file(self.fx.dev().join(&self.name)).unwrap();
        self
    }

    /// A `disk/by-id` link written the way udev writes it.
    pub fn by_id(self, link: &str) -> Self {
        let path = self.fx.dev().join("disk/by-id").join(link);
        symlink(format!("../../{}", self.name), path).unwrap();
        self
    }

    pub fn mounted_at(self, mountpoint: &str) -> Self {
        let mut file = fs::OpenOptions::new()
            .append(true)
            .open(self.fx.mountinfo())
            .unwrap();
        writeln!(
            file,
            "40 29 {} / {mountpoint} rw,relatime shared:9 - ext4 /dev/{} rw",
            self.dev, self.name
        )
        .unwrap();
        self
    }

    /// Adds partition `name` (sizes in bytes), shaped further by `build`.
    pub fn partition(
        self,
        name: &str,
        number: u32,
        start_bytes: u64,
        size_bytes: u64,
        build: impl FnOnce(Node<'f>) -> Node<'f>,
    ) -> Self {
        let part = Node::new(self.fx, name, self.dir.join(name), size_bytes)
            .attr("partition", number.to_string())
            .attr("start", (start_bytes / 512).to_string());
        build(part);
        self
    }
}
