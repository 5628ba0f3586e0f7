//! The steps on one member, each looking at the real state first so that a
//! rerun after a failure finishes the job instead of failing or doing it
//! twice.

use std::fs;
use std::net::IpAddr;
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::Mode;
use nix::unistd::{fchown, fchownat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};

use crate::command::{handed_path, Cmd, CmdOutput, CommandRunner};
use crate::conf::{render_conf, CephConf, MemberPaths};
use crate::device::{self, DeviceHead};
use crate::error::{CephError, IoContext};
use crate::status::{self, FsEntry, FsMap, OsdDump, OsdTree, PoolDetail, QuorumStatus, Status};
use crate::supervisor::{Daemon, Supervisor};

/// The oldest mon release the new cluster accepts: Debian 12's Ceph.
pub const MIN_MON_RELEASE: &str = "pacific";

/// Written into a daemon's data directory once its `--mkfs` succeeded: a
/// directory without it is a leftover of an interrupted step.
pub(crate) const MKFS_DONE: &str = "muster-mkfs-done";

/// How an OSD's data is protected at rest. Only `None` exists today; the
/// field is here so that dm-crypt can come without changing callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Encryption {
    #[default]
    None,
}

/// A device to turn into an OSD: a whole raw disk or a free partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsdSpec {
    pub device: PathBuf,
    /// Zero the device's signatures first when it carries something (never
    /// done without this flag).
    pub wipe: bool,
    pub encryption: Encryption,
}

impl OsdSpec {
    pub fn new(device: impl Into<PathBuf>) -> OsdSpec {
        OsdSpec {
            device: device.into(),
            wipe: false,
            encryption: Encryption::None,
        }
    }
}

/// One member of the Ceph cluster: its name (mon id, mgr id, CRUSH host),
/// its address on the public network, where its files go and its OSDs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSpec {
    pub name: String,
    pub addr: IpAddr,
    pub paths: MemberPaths,
    /// Runs a monitor (the first member must; three or five in all is
    /// plenty, as MicroCeph does).
    pub mon: bool,
    /// Runs a manager (about 300 MB each: one active, the others standby).
    pub mgr: bool,
    /// Runs a CephFS metadata server (one active per file system, the
    /// others standby) when the cluster has a file system.
    pub mds: bool,
    pub osds: Vec<OsdSpec>,
}

impl MemberSpec {
    /// A member with a mon and a mgr, no MDS and no OSD yet.
    pub fn new(name: impl Into<String>, addr: IpAddr, paths: MemberPaths) -> MemberSpec {
        MemberSpec {
            name: name.into(),
            addr,
            paths,
            mon: true,
            mgr: true,
            mds: false,
            osds: Vec::new(),
        }
    }
}

/// Whether a step changed anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    AlreadyDone,
}

impl Outcome {
    pub fn or(self, other: Outcome) -> Outcome {
        if self == Outcome::Done || other == Outcome::Done {
            Outcome::Done
        } else {
            Outcome::AlreadyDone
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsdOutcome {
    pub id: u32,
    pub device: PathBuf,
    pub outcome: Outcome,
}

/// Where a finished OSD's device is known from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum OsdDevice {
    /// musterd's record, root's own: the stable name it linked `block` to
    /// ([`device::stable_name`]).
    Recorded(PathBuf),
    /// No record (made by an earlier build): the canonical block device
    /// under /dev that the `block` link points at, and whose BlueStore
    /// label names this OSD of this cluster.
    Linked(PathBuf),
    /// Neither: the `block` link's own text, never followed (empty
    /// without a link).
    Unknown(PathBuf),
}

impl OsdDevice {
    /// The device, canonical; `None` when unknown or gone.
    pub fn device(&self) -> Option<PathBuf> {
        match self {
            OsdDevice::Recorded(name) => fs::canonicalize(name).ok(),
            OsdDevice::Linked(device) => Some(device.clone()),
            OsdDevice::Unknown(_) => None,
        }
    }

    /// What to show: the device, else the name found.
    pub fn shown(&self) -> PathBuf {
        self.device().unwrap_or_else(|| match self {
            OsdDevice::Recorded(name) | OsdDevice::Linked(name) | OsdDevice::Unknown(name) => {
                name.clone()
            }
        })
    }
}

/// Drives one member: runs Ceph's tools through `runner` (in the lab,
/// inside the member's network namespace) and its daemons through
/// `supervisor`.
pub struct CephMember {
    pub spec: MemberSpec,
    runner: Arc<dyn CommandRunner>,
    supervisor: Arc<dyn Supervisor>,
    /// Bound on each wait (a mon joining quorum, a daemon coming up).
    pub wait_timeout: Duration,
    /// Who owns the daemons' files and OSD devices: (uid, gid). The
    /// packages' units run the daemons as `ceph` ([`ceph_user`]); `None`
    /// leaves them to whoever runs this (the lab runs daemons as root).
    pub owner: Option<(u32, u32)>,
    /// Only the unit tests' members (their devices are files) skip the
    /// block device check of [`CephMember::ensure_osd`].
    pub(crate) files_as_devices: bool,
}

/// The `ceph` user and group the packages create, when they exist.
pub fn ceph_user() -> Result<Option<(u32, u32)>, CephError> {
    let user = nix::unistd::User::from_name("ceph")
        .map_err(|e| CephError::Invalid(format!("cannot look up the user ceph: {e}")))?;
    Ok(user.map(|u| (u.uid.as_raw(), u.gid.as_raw())))
}

/// `[v2:IP:3300,v1:IP:6789]`, a mon's address vector.
pub fn mon_addrvec(ip: IpAddr) -> String {
    let host = match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    };
    format!("[v2:{host}:3300,v1:{host}:6789]")
}

/// A fresh random uuid from the kernel.
pub fn new_uuid() -> Result<String, CephError> {
    let path = "/proc/sys/kernel/random/uuid";
    let s = fs::read_to_string(path).io("reading", path)?;
    Ok(s.trim().to_owned())
}

/// Writes a file whole or not at all, refusing a symbolic link there
/// ([`muster_durable_file`]).
fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), CephError> {
    muster_durable_file::write(path, bytes, mode).io("writing", path)
}

/// A daemon's data directory, opened once for root's writes in it. Its
/// parent belongs to the daemons' user, who can swap the directory for a
/// link at any time: everything root does in it goes through this handle,
/// and a link there is refused.
fn data_dir(path: &Path) -> Result<muster_durable_file::Dir, CephError> {
    muster_durable_file::Dir::open(path).io("opening", path)
}

fn write_in(
    dir: &muster_durable_file::Dir,
    path: &Path,
    name: &str,
    bytes: &[u8],
    mode: u32,
) -> Result<(), CephError> {
    dir.write(name.as_ref(), bytes, mode)
        .io("writing", path.join(name))
}

/// Gives the tree under `dir` to `uid:gid` through descriptors, never by
/// path and never through a link: the daemons' user can rename and swap
/// what is in it while this runs, and root must not chown what a swapped
/// name points to.
fn give_tree(dir: &impl AsFd, uid: Uid, gid: Gid) -> std::io::Result<()> {
    fchown(dir, Some(uid), Some(gid))?;
    let mut listing = nix::dir::Dir::from_fd(dir.as_fd().try_clone_to_owned()?)?;
    let names: Vec<_> = listing
        .iter()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_owned())
        .filter(|n| n.as_bytes() != b"." && n.as_bytes() != b"..")
        .collect();
    for name in names {
        fchownat(
            dir,
            name.as_c_str(),
            Some(uid),
            Some(gid),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )?;
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        match openat(dir, name.as_c_str(), flags, Mode::empty()) {
            Ok(sub) => give_tree(&sub, uid, gid)?,
            // Not a directory (or a link): its owner was set above.
            Err(Errno::ENOTDIR | Errno::ELOOP | Errno::ENOENT) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// A daemon's key, in its data directory.
const KEYRING: &str = "keyring";

fn has_key(data: &Path) -> bool {
    data.join(KEYRING).exists()
}

fn create_dir(path: &Path) -> Result<(), CephError> {
    fs::create_dir_all(path).io("creating", path)
}

/// Polls `probe` until it gives a value; its `Err` is the latest state,
/// shown if time runs out.
pub fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut probe: impl FnMut() -> Result<T, String>,
) -> Result<T, CephError> {
    let start = Instant::now();
    loop {
        match probe() {
            Ok(v) => return Ok(v),
            Err(last) if start.elapsed() >= timeout => {
                return Err(CephError::WaitTimeout {
                    what: what.to_owned(),
                    waited: timeout,
                    last,
                })
            }
            Err(_) => thread::sleep(Duration::from_millis(500)),
        }
    }
}

impl CephMember {
    pub fn new(
        spec: MemberSpec,
        runner: Arc<dyn CommandRunner>,
        supervisor: Arc<dyn Supervisor>,
    ) -> CephMember {
        CephMember {
            spec,
            runner,
            supervisor,
            wait_timeout: Duration::from_secs(90),
            owner: None,
            files_as_devices: false,
        }
    }

    pub fn with_owner(mut self, owner: Option<(u32, u32)>) -> CephMember {
        self.owner = owner;
        self
    }

    /// Gives the data directory `path` and everything in it to the owner
    /// ([`give_tree`]).
    fn give(&self, path: &Path) -> Result<(), CephError> {
        let Some((uid, gid)) = self.owner else {
            return Ok(());
        };
        give_tree(&data_dir(path)?, Uid::from_raw(uid), Gid::from_raw(gid))
            .io("changing the owner of", path)
    }

    /// `--setuser UID --setgroup GID` for a daemon's `--mkfs`: it drops
    /// root before it writes, as ceph-volume runs it. Nothing without an
    /// owner: the daemons then run as whoever runs this.
    fn as_owner(&self) -> Vec<String> {
        match self.owner {
            Some((uid, gid)) => vec![
                "--setuser".into(),
                uid.to_string(),
                "--setgroup".into(),
                gid.to_string(),
            ],
            None => Vec::new(),
        }
    }

    /// Gives an OSD's device (a canonical path under /dev, which only root
    /// changes) to the owner.
    fn give_device(&self, device: &Path) -> Result<(), CephError> {
        let Some((uid, gid)) = self.owner else {
            return Ok(());
        };
        std::os::unix::fs::lchown(device, Some(uid), Some(gid)).io("changing the owner of", device)
    }

    /// Scratch space for keys and maps in the making: root's own (never
    /// the daemons' user, who could otherwise plant a link where root is
    /// about to write), 0700.
    fn ensure_work_dir(&self) -> Result<(), CephError> {
        let dir = &self.spec.paths.work_dir;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .io("creating", dir)?;
        let meta = fs::symlink_metadata(dir).io("inspecting", dir)?;
        if !meta.is_dir() || meta.uid() != nix::unistd::geteuid().as_raw() {
            return Err(CephError::Invalid(format!(
                "{} must be a directory owned by the user musterd runs as (it holds keys in the making); \
                 remove it and run again",
                dir.display()
            )));
        }
        if meta.mode() & 0o077 != 0 {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).io("restricting", dir)?;
        }
        Ok(())
    }

    /// Names the device of `osd.ID` in root's own directory, for the
    /// packaged ceph-osd@ drop-in: after a reboot it gives that device, and
    /// only that one, to ceph (the OSD's `block` link is ceph's, so it
    /// cannot be trusted to say which device that is).
    pub(crate) fn device_record(&self, id: u32) -> PathBuf {
        self.spec.paths.work_dir.join(format!("osd-{id}.device"))
    }

    fn record_device(&self, id: u32, stable_name: &Path) -> Result<(), CephError> {
        let text = format!("{}\n", stable_name.display());
        let record = self.device_record(id);
        if fs::read_to_string(&record).ok().as_deref() == Some(text.as_str()) {
            return Ok(());
        }
        write_atomic(&record, text.as_bytes(), 0o600)
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    pub fn paths(&self) -> &MemberPaths {
        &self.spec.paths
    }

    pub fn supervisor(&self) -> &dyn Supervisor {
        &*self.supervisor
    }

    fn run(&self, cmd: Cmd) -> Result<CmdOutput, CephError> {
        self.runner.run(&cmd)?.check(&cmd)
    }

    fn conf_arg(&self) -> String {
        self.spec.paths.conf.display().to_string()
    }

    /// `ceph -c CONF ARGS`, as client.admin.
    pub fn ceph(&self, args: &[&str]) -> Result<CmdOutput, CephError> {
        let mut argv = vec![
            "-c".to_owned(),
            self.conf_arg(),
            "--connect-timeout".into(),
            "15".into(),
        ];
        argv.extend(args.iter().map(|a| a.to_string()));
        self.run(Cmd::new("ceph", argv))
    }

    /// `ceph ARGS --format json`, parsed.
    pub fn ceph_json<T>(
        &self,
        args: &[&str],
        parse: fn(&[u8]) -> Result<T, serde_json::Error>,
    ) -> Result<T, CephError> {
        let mut argv = args.to_vec();
        argv.extend(["--format", "json"]);
        let out = self.ceph(&argv)?;
        parse(&out.stdout).map_err(|e| CephError::Protocol {
            command: format!("ceph {}", argv.join(" ")),
            detail: e.to_string(),
        })
    }

    pub fn status(&self) -> Result<Status, CephError> {
        self.ceph_json(&["status"], status::parse_status)
    }

    pub fn quorum_status(&self) -> Result<QuorumStatus, CephError> {
        self.ceph_json(&["quorum_status"], status::parse_quorum_status)
    }

    pub fn osd_dump(&self) -> Result<OsdDump, CephError> {
        self.ceph_json(&["osd", "dump"], status::parse_osd_dump)
    }

    /// Waits, at most `timeout`, until every OSD of `ids` is up.
    pub fn wait_osds_up(&self, ids: &[u32], timeout: Duration) -> Result<(), CephError> {
        let what = match ids {
            [id] => format!("osd.{id} up"),
            _ => "every OSD up".to_owned(),
        };
        wait_for(&what, timeout, || {
            let not_up = self.osd_dump().map_err(|e| e.to_string())?.not_up(ids);
            if not_up.is_empty() {
                Ok(())
            } else {
                Err(format!("down or not in the OSD map yet: {not_up:?}"))
            }
        })
    }

    pub fn osd_tree(&self) -> Result<OsdTree, CephError> {
        self.ceph_json(&["osd", "tree"], status::parse_osd_tree)
    }

    pub fn pools(&self) -> Result<Vec<PoolDetail>, CephError> {
        self.ceph_json(&["osd", "pool", "ls", "detail"], status::parse_pools)
    }

    /// Writes the member's config (and makes its directories) unless it
    /// already says exactly this.
    pub fn write_config(&self, conf: &CephConf) -> Result<Outcome, CephError> {
        let p = &self.spec.paths;
        for dir in [
            &p.run_dir,
            &p.log_dir,
            &p.crash_dir,
            &p.mon_root,
            &p.mgr_root,
            &p.osd_root,
            &p.mds_root,
        ] {
            create_dir(dir)?;
            if let Some((uid, gid)) = self.owner {
                std::os::unix::fs::lchown(dir, Some(uid), Some(gid))
                    .io("changing the owner of", dir)?;
            }
        }
        self.ensure_work_dir()?;
        if let Some(parent) = p.conf.parent() {
            create_dir(parent)?;
        }
        let text = render_conf(conf)?;
        if fs::read_to_string(&p.conf).ok().as_deref() == Some(text.as_str()) {
            return Ok(Outcome::AlreadyDone);
        }
        write_atomic(&p.conf, text.as_bytes(), 0o644)?;
        Ok(Outcome::Done)
    }

    /// The mon's store was made (by an earlier run, perhaps).
    pub fn mon_initialized(&self) -> bool {
        self.spec
            .paths
            .mon_data(&self.spec.name)
            .join(MKFS_DONE)
            .exists()
    }

    /// The mgr's key was fetched into its data directory.
    pub fn mgr_initialized(&self) -> bool {
        has_key(&self.spec.paths.mgr_data(&self.spec.name))
    }

    /// Makes the first monitor of a new cluster with id `fsid`, and the
    /// cluster's admin key; starts it and waits for it to form a quorum.
    pub fn bootstrap_mon(&self, fsid: &str) -> Result<Outcome, CephError> {
        let mut outcome = Outcome::AlreadyDone;
        if !self.mon_initialized() {
            let p = &self.spec.paths;
            if !p.admin_keyring.exists() {
                // Made in root's scratch directory, then written in place
                // whole (a rename cannot cross filesystems: musterd's unit
                // makes /etc/ceph a mount of its own).
                let tmp = p.work_dir.join("admin.keyring");
                let _ = fs::remove_file(&tmp);
                self.run(Cmd::new(
                    "ceph-authtool",
                    [
                        "--create-keyring",
                        &tmp.display().to_string(),
                        "--gen-key",
                        "-n",
                        "client.admin",
                        "--cap",
                        "mon",
                        "allow *",
                        "--cap",
                        "osd",
                        "allow *",
                        "--cap",
                        "mds",
                        "allow *",
                        "--cap",
                        "mgr",
                        "allow *",
                    ],
                ))?;
                let key = fs::read(&tmp).io("reading", &tmp)?;
                write_atomic(&p.admin_keyring, &key, 0o600)?;
                let _ = fs::remove_file(&tmp);
            }
            let keyring = p.work_dir.join("mon.keyring");
            let kr = keyring.display().to_string();
            let _ = fs::remove_file(&keyring);
            self.run(Cmd::new(
                "ceph-authtool",
                [
                    "--create-keyring",
                    &kr,
                    "--gen-key",
                    "-n",
                    "mon.",
                    "--cap",
                    "mon",
                    "allow *",
                ],
            ))?;
            self.run(Cmd::new(
                "ceph-authtool",
                [
                    &kr,
                    "--import-keyring",
                    &p.admin_keyring.display().to_string(),
                ],
            ))?;
            let monmap = p.work_dir.join("monmap");
            let _ = fs::remove_file(&monmap);
            self.run(Cmd::new(
                "monmaptool",
                [
                    "--create",
                    "--clobber",
                    "--fsid",
                    fsid,
                    "--addv",
                    &self.spec.name,
                    &mon_addrvec(self.spec.addr),
                    "--set-min-mon-release",
                    MIN_MON_RELEASE,
                    "--enable-all-features",
                    &monmap.display().to_string(),
                ],
            ))?;
            self.mkfs_mon(&monmap, &keyring)?;
            outcome = Outcome::Done;
        }
        self.start_mon_and_wait(outcome)
    }

    /// The admin keyring, to hand to the other members.
    pub fn admin_keyring(&self) -> Result<Vec<u8>, CephError> {
        let path = &self.spec.paths.admin_keyring;
        fs::read(path).io("reading", path)
    }

    pub fn install_admin_keyring(&self, keyring: &[u8]) -> Result<Outcome, CephError> {
        let path = &self.spec.paths.admin_keyring;
        if fs::read(path).ok().as_deref() == Some(keyring) {
            return Ok(Outcome::AlreadyDone);
        }
        write_atomic(path, keyring, 0o600)?;
        Ok(Outcome::Done)
    }

    /// The config and the admin keyring: all a member needs to be a Ceph
    /// client (LXD's storage driver, for one) without a daemon of its own.
    pub fn ensure_configured(
        &self,
        conf: &CephConf,
        admin_keyring: &[u8],
    ) -> Result<Outcome, CephError> {
        let written = self.write_config(conf)?;
        Ok(written.or(self.install_admin_keyring(admin_keyring)?))
    }

    /// Adds this member's monitor to a running cluster (the admin keyring
    /// must be installed): it joins the quorum by itself once started.
    pub fn join_mon(&self) -> Result<Outcome, CephError> {
        let mut outcome = Outcome::AlreadyDone;
        if !self.mon_initialized() {
            let work = &self.spec.paths.work_dir;
            let monmap = work.join("monmap");
            let keyring = work.join("mon.keyring");
            self.ceph(&["mon", "getmap", "-o", &monmap.display().to_string()])?;
            self.ceph(&["auth", "get", "mon.", "-o", &keyring.display().to_string()])?;
            self.mkfs_mon(&monmap, &keyring)?;
            outcome = Outcome::Done;
        }
        self.start_mon_and_wait(outcome)
    }

    fn mkfs_mon(&self, monmap: &Path, keyring: &Path) -> Result<(), CephError> {
        let data = self.spec.paths.mon_data(&self.spec.name);
        // A store without the mark is from an interrupted mkfs.
        if data.exists() {
            fs::remove_dir_all(&data).io("removing the unfinished", &data)?;
        }
        create_dir(&data)?;
        // The owner writes the store: root writes nothing under a
        // directory the owner could swap.
        self.give(&data)?;
        // Handed open: as the owner, ceph-mon cannot reach root's 0700
        // scratch directory, and a copy the owner may read would have to
        // sit somewhere the owner controls.
        let map = fs::read(monmap).io("reading", monmap)?;
        let key = fs::read(keyring).io("reading", keyring)?;
        let mut args = vec![
            "--mkfs".to_owned(),
            "-c".into(),
            self.conf_arg(),
            "-i".into(),
            self.spec.name.clone(),
            "--monmap".into(),
            handed_path(0),
            "--keyring".into(),
            handed_path(1),
        ];
        args.extend(self.as_owner());
        args.extend(["--log-to-stderr=true", "--err-to-stderr=true"].map(String::from));
        // Inside the member's namespace: mkfs checks `public network`
        // against the local addresses, and only says why on stderr.
        self.run(Cmd::new("ceph-mon", args).hand(map).hand(key))?;
        write_in(&data_dir(&data)?, &data, MKFS_DONE, b"", 0o644)?;
        self.give(&data)?;
        // The mon. secret now lives in the store only.
        let _ = fs::remove_file(keyring);
        let _ = fs::remove_file(monmap);
        Ok(())
    }

    fn start_mon_and_wait(&self, mut outcome: Outcome) -> Result<Outcome, CephError> {
        let mon = Daemon::mon(&self.spec.name);
        if !self.supervisor.is_running(&mon)? {
            self.supervisor.start(&mon)?;
            outcome = Outcome::Done;
        }
        let name = self.spec.name.clone();
        wait_for(
            &format!("mon.{name} in quorum"),
            self.wait_timeout,
            || match self.quorum_status() {
                Ok(q) if q.in_quorum(&name) => Ok(()),
                Ok(q) => Err(format!("quorum is {:?}", q.quorum_names)),
                Err(e) => Err(e.to_string()),
            },
        )?;
        Ok(outcome)
    }

    /// The mgr's key and daemon.
    pub fn ensure_mgr(&self) -> Result<Outcome, CephError> {
        let name = &self.spec.name;
        self.ensure_keyed_daemon(
            &Daemon::mgr(name),
            &self.spec.paths.mgr_data(name),
            &[
                "mon",
                "allow profile mgr",
                "osd",
                "allow *",
                "mds",
                "allow *",
            ],
        )
    }

    /// The MDS's key and daemon: a standby until a file system needs it
    /// ([`CephMember::ensure_fs`]).
    pub fn ensure_mds(&self) -> Result<Outcome, CephError> {
        let name = &self.spec.name;
        self.ensure_keyed_daemon(
            &Daemon::mds(name),
            &self.spec.paths.mds_data(name),
            &[
                "mon",
                "allow profile mds",
                "osd",
                "allow rwx",
                "mds",
                "allow",
                "mgr",
                "allow profile mds",
            ],
        )
    }

    /// A daemon whose data directory holds only its key (a mgr, an MDS):
    /// the key with `caps` fetched there unless it is, the daemon started
    /// unless it runs.
    fn ensure_keyed_daemon(
        &self,
        daemon: &Daemon,
        data: &Path,
        caps: &[&str],
    ) -> Result<Outcome, CephError> {
        let mut outcome = Outcome::AlreadyDone;
        if !has_key(data) {
            create_dir(data)?;
            let entity = daemon.name();
            // get-or-create: an existing key (from an interrupted run) is
            // returned as it is. On stdout, not `-o`: the ceph tool would
            // follow a link the daemons' user put in the directory.
            let mut args = vec!["auth", "get-or-create", &entity];
            args.extend_from_slice(caps);
            let keyring = self.ceph(&args)?.stdout;
            write_in(&data_dir(data)?, data, KEYRING, &keyring, 0o600)?;
            self.give(data)?;
            outcome = Outcome::Done;
        }
        if !self.supervisor.is_running(daemon)? {
            self.supervisor.start(daemon)?;
            outcome = Outcome::Done;
        }
        Ok(outcome)
    }

    /// The finished OSDs of this member, by id, and where each one's
    /// device is known from ([`OsdDevice`]).
    pub fn local_osds(&self) -> Result<Vec<(u32, OsdDevice)>, CephError> {
        let root = &self.spec.paths.osd_root;
        let mut found = Vec::new();
        let entries = match fs::read_dir(root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(found),
            Err(e) => return Err(e).io("listing", root),
        };
        // Read once, and only for an OSD without a record.
        let mut fsid = None;
        for entry in entries {
            let entry = entry.io("listing", root)?;
            let name = entry.file_name();
            let Some(id) = name
                .to_str()
                .and_then(|n| n.strip_prefix("ceph-"))
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let dir = entry.path();
            if !dir.join(MKFS_DONE).exists() {
                continue;
            }
            let record = self.device_record(id);
            let device = match fs::read_to_string(&record) {
                Ok(text) => OsdDevice::Recorded(PathBuf::from(text.trim_end_matches('\n'))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    if fsid.is_none() {
                        fsid = Some(self.read_conf()?.map(|c| c.fsid));
                    }
                    self.linked_device(&dir, id, fsid.as_ref().and_then(Option::as_deref))
                }
                Err(e) => return Err(e).io("reading", &record),
            };
            found.push((id, device));
        }
        found.sort();
        Ok(found)
    }

    /// The device `osd.ID`'s `block` link points at, for an OSD without a
    /// record: the link is the daemons' user's, so it counts only when it
    /// leads to a block device under /dev (root's names) whose BlueStore
    /// label names this OSD of the cluster `fsid`.
    fn linked_device(&self, data: &Path, id: u32, fsid: Option<&str>) -> OsdDevice {
        let Ok(text) = fs::read_link(data.join("block")) else {
            return OsdDevice::Unknown(PathBuf::new());
        };
        let names_this_osd = |device: &Path| {
            let under_dev = self.files_as_devices
                || (device.starts_with("/dev") && device::require_block_device(device).is_ok());
            under_dev
                && device::read_head(device)
                    .ok()
                    .and_then(|head| device::bluestore_label_owner(&head))
                    .is_some_and(|o| o.whoami == id && Some(o.ceph_fsid.as_str()) == fsid)
        };
        match fs::canonicalize(data.join(&text)) {
            Ok(device) if names_this_osd(&device) => OsdDevice::Linked(device),
            _ => OsdDevice::Unknown(text),
        }
    }

    /// Records the devices of OSDs made by builds that kept no record
    /// ([`CephMember::device_record`]), where their `block` link shows the
    /// device ([`OsdDevice::Linked`]): (id, the stable name recorded, or
    /// `None` where the link shows none).
    pub fn record_old_osds(&self) -> Result<Vec<(u32, Option<PathBuf>)>, CephError> {
        let mut done = Vec::new();
        for (id, found) in self.local_osds()? {
            match found {
                OsdDevice::Recorded(_) => {}
                OsdDevice::Linked(device) => {
                    let name = device::stable_name(Path::new(device::DEV_DISK), &device)?;
                    self.record_device(id, &name)?;
                    done.push((id, Some(name)));
                }
                OsdDevice::Unknown(_) => done.push((id, None)),
            }
        }
        Ok(done)
    }

    fn pending_record(&self, device: &Path) -> PathBuf {
        let key = device.display().to_string().replace('/', "_");
        self.spec.paths.work_dir.join(format!("osd{key}.pending"))
    }

    /// Makes `osd` an OSD of the cluster and starts it, unless it already
    /// is one: an OSD data directory of this member pointing at the device,
    /// or a BlueStore label naming an OSD of the cluster, means it is.
    /// Anything but a block device is refused first, before it is read,
    /// wiped or given to the daemons' owner.
    pub fn ensure_osd(&self, osd: &OsdSpec) -> Result<OsdOutcome, CephError> {
        match osd.encryption {
            Encryption::None => {}
        }
        let device = fs::canonicalize(&osd.device).io("resolving", &osd.device)?;
        if !self.files_as_devices {
            device::require_block_device(&device)?;
        }
        for (id, found) in self.local_osds()? {
            if found.device().as_deref() == Some(device.as_path()) {
                // OSDs made before the record existed get it here.
                self.record_device(
                    id,
                    &device::stable_name(Path::new(device::DEV_DISK), &device)?,
                )?;
                let outcome = self.start_osd(id)?;
                return Ok(OsdOutcome {
                    id,
                    device,
                    outcome,
                });
            }
        }
        let record = self.pending_record(&device);
        let pending: Option<(String, String)> = fs::read_to_string(&record).ok().and_then(|s| {
            let (uuid, secret) = s.trim().split_once(' ')?;
            Some((uuid.to_owned(), secret.to_owned()))
        });
        match device::classify_head(&device::read_head(&device)?) {
            DeviceHead::Empty => {}
            DeviceHead::Bluestore { osd_uuid }
                if pending.as_ref().is_some_and(|(u, _)| *u == osd_uuid) =>
            {
                // Our own interrupted mkfs: resume it.
            }
            DeviceHead::Bluestore { osd_uuid } => {
                if let Some(o) = self.osd_dump()?.by_uuid(&osd_uuid) {
                    return Err(CephError::OsdDirMissing {
                        device,
                        id: o.osd,
                        dir: self.spec.paths.osd_data(o.osd),
                    });
                }
                if !osd.wipe {
                    return Err(CephError::DeviceInUse {
                        device,
                        reason: format!(
                            "it carries the BlueStore label of OSD {osd_uuid}, which is not in this cluster"
                        ),
                    });
                }
                device::wipe(&device)?;
            }
            DeviceHead::Other if osd.wipe => device::wipe(&device)?,
            DeviceHead::Other => {
                return Err(CephError::DeviceInUse {
                    device,
                    reason:
                        "its first MiB is not blank (a partition table, a file system or old data)"
                            .into(),
                })
            }
        }
        let (uuid, secret) = match pending {
            Some(p) => p,
            None => {
                let uuid = new_uuid()?;
                let out = self.run(Cmd::new("ceph-authtool", ["--gen-print-key"]))?;
                let secret = String::from_utf8_lossy(&out.stdout).trim().to_owned();
                write_atomic(&record, format!("{uuid} {secret}\n").as_bytes(), 0o600)?;
                (uuid, secret)
            }
        };
        // The same uuid and secret again give the same id: a rerun after a
        // failure here does not make a second OSD.
        let secret_json = serde_json::json!({ "cephx_secret": secret }).to_string();
        let mut argv: Vec<String> = vec!["-c".into(), self.conf_arg()];
        argv.extend(["osd", "new", &uuid, "-i", "-"].map(String::from));
        let out = self.run(Cmd::new("ceph", argv).stdin(secret_json))?;
        let id = status::parse_osd_new(&out.stdout).ok_or_else(|| CephError::Protocol {
            command: format!("ceph osd new {uuid}"),
            detail: format!(
                "expected the new OSD's id, got {:?}",
                String::from_utf8_lossy(&out.stdout)
            ),
        })?;
        let data = self.spec.paths.osd_data(id);
        create_dir(&data)?;
        let dir = data_dir(&data)?;
        let block = data.join("block");
        match unlinkat(&dir, "block", UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => {}
            Err(e) => return Err(std::io::Error::from(e)).io("replacing", &block),
        }
        // ceph-osd opens `block` at every start: it must still name this
        // device after a reboot.
        let name = device::stable_name(Path::new(device::DEV_DISK), &device)?;
        symlinkat(&name, &dir, "block")
            .map_err(std::io::Error::from)
            .io("linking", &block)?;
        self.record_device(id, &name)?;
        write_in(
            &dir,
            &data,
            KEYRING,
            format!("[osd.{id}]\n\tkey = {secret}\n").as_bytes(),
            0o600,
        )?;
        // mkfs and the daemon run as the owner: both open the device, and
        // mkfs writes the data directory (its keyring read there too).
        self.give_device(&device)?;
        self.give(&data)?;
        let mut args: Vec<String> = [
            "-c",
            &self.conf_arg(),
            "-i",
            &id.to_string(),
            "--mkfs",
            "--osd-uuid",
            &uuid,
            "--osd-objectstore",
            "bluestore",
        ]
        .map(String::from)
        .into();
        args.extend(self.as_owner());
        args.extend(["--log-to-stderr=true", "--err-to-stderr=true"].map(String::from));
        self.run(Cmd::new("ceph-osd", args))?;
        write_in(&dir, &data, MKFS_DONE, b"", 0o644)?;
        self.give(&data)?;
        let _ = fs::remove_file(&record);
        self.start_osd(id)?;
        Ok(OsdOutcome {
            id,
            device,
            outcome: Outcome::Done,
        })
    }

    fn start_osd(&self, id: u32) -> Result<Outcome, CephError> {
        let d = Daemon::osd(id);
        if self.supervisor.is_running(&d)? {
            return Ok(Outcome::AlreadyDone);
        }
        self.supervisor.start(&d)?;
        Ok(Outcome::Done)
    }

    /// An RBD pool replicated on `min(3, osds)` OSDs, and the fewest
    /// replicas that take writes set to match.
    pub fn ensure_pool(&self, name: &str, osds: usize) -> Result<Outcome, CephError> {
        let (pool, mut outcome) = self.ensure_replicated_pool(name, osds)?;
        if !pool.has_application("rbd") {
            self.run(Cmd::new(
                "rbd",
                ["-c", &self.conf_arg(), "pool", "init", name],
            ))?;
            outcome = Outcome::Done;
        }
        Ok(outcome)
    }

    /// The pool `name`, made unless it exists, its replicas set for `osds`
    /// OSDs ([`status::pool_sizes`]).
    fn ensure_replicated_pool(
        &self,
        name: &str,
        osds: usize,
    ) -> Result<(PoolDetail, Outcome), CephError> {
        if osds == 0 {
            return Err(CephError::Invalid(format!(
                "cannot create the pool {name}: the cluster has no OSD"
            )));
        }
        let (size, min_size) = status::pool_sizes(osds);
        let mut outcome = Outcome::AlreadyDone;
        let mut pool = self.pools()?.into_iter().find(|p| p.pool_name == name);
        if pool.is_none() {
            self.ceph(&["osd", "pool", "create", name, "32", "32", "replicated"])?;
            outcome = Outcome::Done;
            pool = self.pools()?.into_iter().find(|p| p.pool_name == name);
        }
        let pool = pool.ok_or_else(|| CephError::Protocol {
            command: "ceph osd pool ls detail".into(),
            detail: format!("the pool {name} was created but is not listed"),
        })?;
        if pool.size != size {
            if size == 1 {
                // Ceph refuses a single replica unless told twice; health
                // then warns (POOL_NO_REDUNDANCY), which is the truth.
                self.ceph(&["config", "set", "global", "mon_allow_pool_size_one", "true"])?;
                self.ceph(&[
                    "osd",
                    "pool",
                    "set",
                    name,
                    "size",
                    "1",
                    "--yes-i-really-mean-it",
                ])?;
            } else {
                self.ceph(&["osd", "pool", "set", name, "size", &size.to_string()])?;
            }
            outcome = Outcome::Done;
        }
        if pool.min_size != min_size {
            self.ceph(&[
                "osd",
                "pool",
                "set",
                name,
                "min_size",
                &min_size.to_string(),
            ])?;
            outcome = Outcome::Done;
        }
        Ok((pool, outcome))
    }

    /// The file systems of the cluster.
    pub fn filesystems(&self) -> Result<Vec<FsEntry>, CephError> {
        self.ceph_json(&["fs", "ls"], status::parse_fs_ls)
    }

    /// The MDS map: which MDS serves which file system, which stand by.
    pub fn fs_dump(&self) -> Result<FsMap, CephError> {
        self.ceph_json(&["fs", "dump"], status::parse_fs_dump)
    }

    /// The CephFS file system `name` on the pools `NAME_meta` and
    /// `NAME_data` (replicated as [`CephMember::ensure_pool`] does, for
    /// `osds` OSDs). An MDS ([`CephMember::ensure_mds`]) serves it.
    pub fn ensure_fs(&self, name: &str, osds: usize) -> Result<Outcome, CephError> {
        let (meta, data) = (format!("{name}_meta"), format!("{name}_data"));
        let (_, made_meta) = self.ensure_replicated_pool(&meta, osds)?;
        let (_, made_data) = self.ensure_replicated_pool(&data, osds)?;
        let mut outcome = made_meta.or(made_data);
        if !self.filesystems()?.iter().any(|f| f.name == name) {
            self.ceph(&["fs", "new", name, &meta, &data])?;
            outcome = Outcome::Done;
        }
        Ok(outcome)
    }

    /// Stops this member's daemons: the MDS (while the OSDs still take
    /// its journal; it tells the mons it leaves, so a standby takes over at
    /// once), the OSDs, the mgr (failed over first, which otherwise takes
    /// about 30 s), then the mon.
    pub fn stop_daemons(&self) -> Result<(), CephError> {
        let name = &self.spec.name;
        // Asked first: without the MDS package, systemd has no such unit
        // to stop.
        let mds = Daemon::mds(name);
        if self.supervisor.is_running(&mds)? {
            self.supervisor.stop(&mds)?;
        }
        for (id, _) in self.local_osds()? {
            self.supervisor.stop(&Daemon::osd(id))?;
        }
        let mgr = Daemon::mgr(name);
        if self.supervisor.is_running(&mgr)? {
            let _ = self.ceph(&["mgr", "fail", name]);
            self.supervisor.stop(&mgr)?;
        }
        self.supervisor.stop(&Daemon::mon(name))
    }

    /// [`CephMember::ensure_osd`] for each of the member's devices.
    pub fn ensure_osds(&self) -> Result<Vec<OsdOutcome>, CephError> {
        self.spec.osds.iter().map(|o| self.ensure_osd(o)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{answer, fixture, recorded, Fixture};
    use std::os::unix::fs::symlink;

    fn disk(f: &Fixture, content: &[u8]) -> PathBuf {
        let path = f.dir.join("disk");
        let mut data = content.to_vec();
        data.resize(4 << 20, 0);
        fs::write(&path, data).unwrap();
        path
    }

    #[test]
    fn an_osd_is_made_once_per_device() {
        let mut f = fixture("osd-once");
        // Our own ids: exercises the ownership step without needing root.
        f.member.owner = Some((
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        ));
        let dev = disk(&f, b"");
        answer(&f.rec, b"AQBsecret==\n");
        answer(&f.rec, b"4\n");
        let made = f.member.ensure_osd(&OsdSpec::new(&dev)).unwrap();
        assert_eq!((made.id, made.outcome), (4, Outcome::Done));
        let lines = f.rec.lines();
        assert_eq!(lines.len(), 3, "{lines:#?}");
        assert_eq!(lines[0], "ceph-authtool --gen-print-key");
        let conf = f.member.paths().conf.display().to_string();
        assert!(
            lines[1].starts_with(&format!("ceph -c {conf} osd new "))
                && lines[1].ends_with(" -i -"),
            "{}",
            lines[1]
        );
        let stdin = f.rec.commands.lock().unwrap()[1].stdin.clone().unwrap();
        assert_eq!(stdin, br#"{"cephx_secret":"AQBsecret=="}"#);
        assert!(
            lines[2].contains(" -i 4 --mkfs --osd-uuid "),
            "{}",
            lines[2]
        );
        assert!(
            lines[2].contains(" --osd-objectstore bluestore"),
            "{}",
            lines[2]
        );
        let data = f.member.paths().osd_data(4);
        assert_eq!(
            fs::read_link(data.join("block")).unwrap(),
            fs::canonicalize(&dev).unwrap()
        );
        assert_eq!(
            fs::read_to_string(data.join("keyring")).unwrap(),
            "[osd.4]\n\tkey = AQBsecret==\n"
        );
        assert_eq!(*f.sup.log.lock().unwrap(), ["start osd.4"]);
        assert_eq!(
            fs::read_to_string(f.member.device_record(4)).unwrap(),
            format!("{}\n", fs::read_link(data.join("block")).unwrap().display())
        );

        // Again: recognised by its data directory, nothing runs.
        let again = f.member.ensure_osd(&OsdSpec::new(&dev)).unwrap();
        assert_eq!((again.id, again.outcome), (4, Outcome::AlreadyDone));
        assert_eq!(f.rec.lines().len(), 3);
        assert_eq!(f.member.local_osds().unwrap().len(), 1);
    }

    /// A finished `osd.ID` whose `block` links to `target`, no record.
    fn finished_osd(f: &Fixture, id: u32, target: &Path) {
        let data = f.member.paths().osd_data(id);
        fs::create_dir_all(&data).unwrap();
        fs::write(data.join(MKFS_DONE), "").unwrap();
        symlink(target, data.join("block")).unwrap();
    }

    fn with_fsid(f: &Fixture, fsid: &str) {
        let conf = CephConf {
            fsid: fsid.into(),
            host: "s1".into(),
            mon_hosts: vec!["10.0.0.1".parse().unwrap()],
            public_network: "10.0.0.0/24".into(),
            cluster_network: None,
            paths: f.member.paths().clone(),
            osd_memory_target: None,
            mon_data_avail_warn: None,
        };
        f.member.write_config(&conf).unwrap();
    }

    #[test]
    fn the_record_names_an_osds_device_not_its_link() {
        let f = fixture("osd-record");
        with_fsid(&f, "F");
        let (recorded, elsewhere) = (f.dir.join("recorded"), f.dir.join("elsewhere"));
        for d in [&recorded, &elsewhere] {
            fs::write(d, crate::testkit::bluestore_label(UUID, 1, "F")).unwrap();
        }
        // The link was changed (by the daemons' user): the record wins.
        finished_osd(&f, 1, &elsewhere);
        fs::write(
            f.member.device_record(1),
            format!("{}\n", recorded.display()),
        )
        .unwrap();
        let found = f.member.local_osds().unwrap();
        assert_eq!(
            found,
            [(1, OsdDevice::Recorded(recorded.clone()))],
            "{found:?}"
        );
        assert_eq!(
            found[0].1.device(),
            Some(fs::canonicalize(&recorded).unwrap())
        );
        // Nothing to record.
        assert_eq!(f.member.record_old_osds().unwrap(), []);
        // Gone: shown by its recorded name.
        fs::remove_file(&recorded).unwrap();
        let found = f.member.local_osds().unwrap();
        assert_eq!((found[0].1.device(), found[0].1.shown()), (None, recorded));
    }

    const UUID: &str = "0a0b0c0d-1111-2222-3333-444455556666";

    #[test]
    fn an_osd_without_a_record_is_found_by_its_label_then_recorded() {
        let f = fixture("osd-old");
        with_fsid(&f, "F");
        let disk_with = |name: &str, id: u32, fsid: &str| {
            let path = f.dir.join(name);
            fs::write(&path, crate::testkit::bluestore_label(UUID, id, fsid)).unwrap();
            path
        };
        finished_osd(&f, 0, &disk_with("own", 0, "F"));
        finished_osd(&f, 1, &disk_with("another-osds", 2, "F"));
        finished_osd(&f, 2, &disk_with("another-clusters", 2, "G"));
        finished_osd(&f, 3, &f.dir.join("gone"));
        let own = fs::canonicalize(f.dir.join("own")).unwrap();
        let found = f.member.local_osds().unwrap();
        assert_eq!(
            found,
            [
                (0, OsdDevice::Linked(own.clone())),
                (1, OsdDevice::Unknown(f.dir.join("another-osds"))),
                (2, OsdDevice::Unknown(f.dir.join("another-clusters"))),
                (3, OsdDevice::Unknown(f.dir.join("gone"))),
            ]
        );

        // A file has no /dev/disk name: recorded as itself.
        assert_eq!(
            f.member.record_old_osds().unwrap(),
            [(0, Some(own.clone())), (1, None), (2, None), (3, None)]
        );
        assert_eq!(
            fs::read_to_string(f.member.device_record(0)).unwrap(),
            format!("{}\n", own.display())
        );
        for id in 1..=3 {
            assert!(!f.member.device_record(id).exists(), "osd.{id}");
        }
        assert_eq!(
            f.member.local_osds().unwrap()[0],
            (0, OsdDevice::Recorded(own))
        );
    }

    #[test]
    fn an_old_osds_link_counts_only_to_a_block_device_under_dev() {
        let mut f = fixture("osd-old-link");
        f.member.files_as_devices = false;
        with_fsid(&f, "F");
        let labelled = f.dir.join("labelled-file");
        fs::write(&labelled, crate::testkit::bluestore_label(UUID, 0, "F")).unwrap();
        finished_osd(&f, 0, &labelled);
        finished_osd(&f, 1, Path::new("/dev/null"));
        assert_eq!(
            f.member.local_osds().unwrap(),
            [
                (0, OsdDevice::Unknown(labelled)),
                (1, OsdDevice::Unknown("/dev/null".into())),
            ]
        );
        assert_eq!(f.member.record_old_osds().unwrap(), [(0, None), (1, None)]);
    }

    #[test]
    fn root_follows_no_link_the_daemons_user_plants() {
        let f = fixture("no-follow");
        let p = f.member.paths().clone();
        let victim = f.dir.join("victim");
        fs::write(&victim, b"precious").unwrap();
        fs::set_permissions(&victim, fs::Permissions::from_mode(0o644)).unwrap();

        // A link at a key's place, in a directory the daemons' user owns.
        let data = p.mgr_data("s1");
        fs::create_dir_all(&data).unwrap();
        symlink(&victim, data.join(KEYRING)).unwrap();
        symlink(&victim, data.join(".keyring.muster-tmp")).unwrap();
        answer(&f.rec, b"[mgr.s1]\n\tkey = AQBmgr==\n");
        // has_key follows the link and sees a key: the dangling case is
        // what a planted link looks like to the next step.
        fs::remove_file(data.join(KEYRING)).unwrap();
        symlink(f.dir.join("nothing"), data.join(KEYRING)).unwrap();
        let e = f.member.ensure_mgr().unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");

        // A data directory swapped for a link.
        let mds = p.mds_data("s1");
        let elsewhere = f.dir.join("elsewhere");
        fs::create_dir_all(&elsewhere).unwrap();
        fs::create_dir_all(&p.mds_root).unwrap();
        symlink(&elsewhere, &mds).unwrap();
        answer(&f.rec, b"[mds.s1]\n\tkey = AQBmds==\n");
        let e = f.member.ensure_mds().unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert_eq!(fs::read_dir(&elsewhere).unwrap().count(), 0);

        // The admin keyring is never written through a link.
        symlink(&victim, &p.admin_keyring).unwrap();
        let e = f
            .member
            .install_admin_keyring(b"[client.admin]\n")
            .unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        assert_eq!(
            fs::metadata(&victim).unwrap().permissions().mode() & 0o777,
            0o644
        );
    }

    #[test]
    fn giving_a_tree_changes_links_never_what_they_point_to() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("not root: giving files to another user cannot be tried here");
            return;
        }
        let mut f = fixture("give");
        let other = 54321;
        f.member.owner = Some((other, other));
        let data = f.dir.join("data");
        fs::create_dir_all(data.join("sub")).unwrap();
        fs::write(data.join("sub/file"), b"").unwrap();
        let outside = f.dir.join("outside");
        fs::create_dir_all(&outside).unwrap();
        fs::write(outside.join("file"), b"").unwrap();
        symlink(&outside, data.join("link")).unwrap();
        f.member.give(&data).unwrap();
        let uid = |p: &Path| fs::symlink_metadata(p).unwrap().uid();
        for given in [&data, &data.join("sub/file"), &data.join("link")] {
            assert_eq!(uid(given), other, "{}", given.display());
        }
        assert_eq!(uid(&outside), 0);
        assert_eq!(uid(&outside.join("file")), 0);
        // A link as the tree itself is refused.
        let e = f.member.give(&data.join("link")).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert_eq!(uid(&outside), 0);
    }

    #[test]
    fn the_work_directory_is_roots_own() {
        let f = fixture("work-dir");
        let work = &f.member.paths().work_dir;
        fs::create_dir_all(work).unwrap();
        fs::set_permissions(work, fs::Permissions::from_mode(0o755)).unwrap();
        f.member.ensure_work_dir().unwrap();
        assert_eq!(
            fs::metadata(work).unwrap().permissions().mode() & 0o777,
            0o700
        );
        fs::remove_dir(work).unwrap();
        symlink(&f.dir, work).unwrap();
        let e = f.member.ensure_work_dir().unwrap_err();
        assert!(e.to_string().contains("must be a directory"), "{e}");
    }

    #[test]
    fn a_device_with_something_on_it_needs_a_wipe() {
        let f = fixture("osd-wipe");
        let dev = disk(&f, b"\x53\xefsomething");
        let e = f.member.ensure_osd(&OsdSpec::new(&dev)).unwrap_err();
        assert!(matches!(e, CephError::DeviceInUse { .. }), "{e}");
        assert!(e.to_string().contains("not blank"), "{e}");
        assert!(f.rec.lines().is_empty(), "nothing runs");

        answer(&f.rec, b"AQBsecret==\n");
        answer(&f.rec, b"0\n");
        let wiped = OsdSpec {
            wipe: true,
            ..OsdSpec::new(&dev)
        };
        assert_eq!(f.member.ensure_osd(&wiped).unwrap().id, 0);
        assert!(fs::read(&dev).unwrap().iter().all(|b| *b == 0));
    }

    #[test]
    fn an_osd_is_never_made_on_what_is_not_a_block_device() {
        let mut f = fixture("osd-not-block");
        // As the agent's member is: devices checked, given to an owner.
        f.member.files_as_devices = false;
        f.member.owner = Some((
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        ));
        let file = disk(&f, b"\x53\xefsomething");
        let to_file = f.dir.join("by-id-file");
        let to_null = f.dir.join("by-id-null");
        symlink(&file, &to_file).unwrap();
        symlink("/dev/null", &to_null).unwrap();
        let cases: [(&Path, &str); 5] = [
            (&file, "a regular file"),
            (&to_file, "a regular file"),
            (Path::new("/dev/null"), "a character device"),
            (&to_null, "a character device"),
            (&f.dir, "a directory"),
        ];
        for (given, what) in cases {
            // Even with a wipe asked for: nothing reads, wipes or chowns it.
            let spec = OsdSpec {
                wipe: true,
                ..OsdSpec::new(given)
            };
            match f.member.ensure_osd(&spec).unwrap_err() {
                CephError::NotABlockDevice {
                    device,
                    what: found,
                } => {
                    assert_eq!(device, fs::canonicalize(given).unwrap());
                    assert_eq!(found, what, "{}", given.display());
                }
                e => panic!("{}: {e}", given.display()),
            }
        }
        assert!(f.rec.lines().is_empty(), "nothing runs");
        assert!(fs::read(&file).unwrap().starts_with(b"\x53\xefsomething"));
        assert_eq!(fs::read_dir(&f.member.paths().work_dir).unwrap().count(), 0);
        let e = f.member.ensure_osd(&OsdSpec::new(&file)).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("is not a block device (a regular file): an OSD needs a disk or a partition of this server"),
            "{e}"
        );
    }

    #[test]
    fn a_block_device_passes_the_check() {
        // Only looked at (stat), never opened: any block node in /dev.
        let Some(block) = fs::read_dir("/dev").unwrap().flatten().find(|e| {
            use std::os::unix::fs::FileTypeExt;
            e.file_type().is_ok_and(|t| t.is_block_device())
        }) else {
            eprintln!("no block device in /dev here: the positive case did not run");
            return;
        };
        device::require_block_device(&block.path()).unwrap();
    }

    fn label(uuid: &str) -> Vec<u8> {
        let mut v = device::BLUESTORE_MAGIC.to_vec();
        v.extend_from_slice(format!("{uuid}\n").as_bytes());
        v
    }

    #[test]
    fn a_device_holding_an_osd_of_the_cluster_is_never_reused() {
        let f = fixture("osd-label");
        let dump = recorded("pacific-16.2.15-osd-dump.json");
        let known = status::parse_osd_dump(&dump).unwrap().osds[1].clone();
        let dev = disk(&f, &label(&known.uuid));
        answer(&f.rec, &dump);
        let wipe = OsdSpec {
            wipe: true,
            ..OsdSpec::new(&dev)
        };
        match f.member.ensure_osd(&wipe).unwrap_err() {
            CephError::OsdDirMissing { id, .. } => assert_eq!(id, known.osd),
            e => panic!("{e}"),
        }
        assert_eq!(f.rec.lines().len(), 1, "only the osd dump");
        assert!(fs::read(&dev).unwrap().starts_with(device::BLUESTORE_MAGIC));

        // A label of some other cluster's OSD: only with a wipe.
        let foreign = disk(&f, &label("11111111-2222-3333-4444-555555555555"));
        answer(&f.rec, &dump);
        let e = f.member.ensure_osd(&OsdSpec::new(&foreign)).unwrap_err();
        assert!(e.to_string().contains("not in this cluster"), "{e}");
    }

    #[test]
    fn an_interrupted_osd_creation_resumes_with_the_same_uuid() {
        let f = fixture("osd-resume");
        let uuid = "0a0b0c0d-1111-2222-3333-444455556666";
        let dev = disk(&f, &label(uuid));
        let canon = fs::canonicalize(&dev).unwrap();
        fs::write(
            f.member.pending_record(&canon),
            format!("{uuid} AQBold==\n"),
        )
        .unwrap();
        answer(&f.rec, b"7\n");
        let made = f.member.ensure_osd(&OsdSpec::new(&dev)).unwrap();
        assert_eq!(made.id, 7);
        let lines = f.rec.lines();
        assert!(
            lines[0].contains(&format!(" osd new {uuid} ")),
            "{lines:#?}"
        );
        assert!(
            lines[1].contains(&format!("--osd-uuid {uuid}")),
            "{lines:#?}"
        );
        assert!(!f.member.pending_record(&canon).exists());
    }

    /// What monmaptool and ceph-authtool write, where they are told to.
    fn write_as_ceph_tools_do(cmd: &Cmd) {
        let out = match cmd.program.as_str() {
            "monmaptool" => cmd.args.last(),
            "ceph-authtool" if cmd.args[0] == "--create-keyring" => cmd.args.get(1),
            _ => None,
        };
        if let Some(out) = out {
            fs::write(out, format!("made by {}\n", cmd.program)).unwrap();
        }
    }

    #[test]
    fn mkfs_runs_as_the_owner_in_a_directory_given_to_it_first() {
        let mut f = fixture("mkfs-owner");
        // Root gives to anyone; another user only to itself.
        let (uid, gid) = if nix::unistd::geteuid().is_root() {
            (54321, 54321)
        } else {
            (
                nix::unistd::geteuid().as_raw(),
                nix::unistd::getegid().as_raw(),
            )
        };
        f.member.owner = Some((uid, gid));
        let p = f.member.paths().clone();
        fs::write(&p.admin_keyring, "[client.admin]\n").unwrap();
        let owners = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (mon, osd, seen) = (p.mon_data("s1"), p.osd_data(4), owners.clone());
        *f.rec.effect.lock().unwrap() = Some(Box::new(move |cmd: &Cmd| {
            write_as_ceph_tools_do(cmd);
            if cmd.args.iter().any(|a| a == "--mkfs") {
                let data = if cmd.program == "ceph-mon" {
                    &mon
                } else {
                    &osd
                };
                let owner = fs::metadata(data).unwrap().uid();
                seen.lock().unwrap().push((cmd.program.clone(), owner));
            }
        }));
        for _ in 0..4 {
            answer(&f.rec, b"");
        }
        answer(&f.rec, &recorded("pacific-16.2.15-quorum-status.json"));
        f.member.bootstrap_mon("FSID").unwrap();
        answer(&f.rec, b"AQBsecret==\n");
        answer(&f.rec, b"4\n");
        f.member.ensure_osd(&OsdSpec::new(disk(&f, b""))).unwrap();

        assert_eq!(
            *owners.lock().unwrap(),
            [("ceph-mon".to_owned(), uid), ("ceph-osd".to_owned(), uid)]
        );
        let as_owner = format!(" --setuser {uid} --setgroup {gid} ");
        let mkfs: Vec<String> = f
            .rec
            .lines()
            .into_iter()
            .filter(|l| l.contains("--mkfs"))
            .collect();
        assert_eq!(mkfs.len(), 2);
        for line in &mkfs {
            assert!(line.contains(&as_owner), "{line}");
        }
    }

    #[test]
    fn the_first_mon_is_made_then_only_started() {
        let f = fixture("mon");
        let p = f.member.paths().clone();
        // The admin key exists (an earlier, interrupted run made it).
        fs::write(&p.admin_keyring, "[client.admin]\n").unwrap();
        answer(&f.rec, b"");
        answer(&f.rec, b"");
        answer(&f.rec, b"");
        answer(&f.rec, b"");
        answer(&f.rec, &recorded("pacific-16.2.15-quorum-status.json"));
        *f.rec.effect.lock().unwrap() = Some(Box::new(write_as_ceph_tools_do));
        assert_eq!(f.member.bootstrap_mon("FSID").unwrap(), Outcome::Done);
        let work = p.work_dir.display().to_string();
        let conf = p.conf.display().to_string();
        assert_eq!(
            f.rec.lines()[..4],
            [
                format!("ceph-authtool --create-keyring {work}/mon.keyring --gen-key -n mon. --cap mon 'allow *'"),
                format!("ceph-authtool {work}/mon.keyring --import-keyring {}", p.admin_keyring.display()),
                format!("monmaptool --create --clobber --fsid FSID --addv s1 [v2:10.0.0.1:3300,v1:10.0.0.1:6789] --set-min-mon-release pacific --enable-all-features {work}/monmap"),
                format!("ceph-mon --mkfs -c {conf} -i s1 --monmap /proc/self/fd/3 --keyring /proc/self/fd/4 --log-to-stderr=true --err-to-stderr=true"),
            ]
        );
        // The map and the key in root's scratch directory, handed over
        // open, then removed.
        let mkfs = f.rec.commands.lock().unwrap()[3].clone();
        assert_eq!(
            mkfs.handed,
            [&b"made by monmaptool\n"[..], b"made by ceph-authtool\n"]
        );
        assert!(!p.work_dir.join("mon.keyring").exists());
        assert!(!p.work_dir.join("monmap").exists());
        assert!(f.rec.lines()[4].ends_with("quorum_status --format json"));
        assert!(f.member.mon_initialized());
        assert_eq!(*f.sup.log.lock().unwrap(), ["start mon.s1"]);

        answer(&f.rec, &recorded("pacific-16.2.15-quorum-status.json"));
        assert_eq!(
            f.member.bootstrap_mon("FSID").unwrap(),
            Outcome::AlreadyDone
        );
        assert_eq!(f.rec.lines().len(), 6, "only a quorum check");
    }

    #[test]
    fn the_pool_is_sized_for_the_osds() {
        let f = fixture("pool");
        let pools = recorded("pacific-16.2.15-pool-ls-detail.json");
        answer(&f.rec, &pools);
        assert_eq!(
            f.member.ensure_pool("rbd", 3).unwrap(),
            Outcome::AlreadyDone
        );
        answer(&f.rec, &pools);
        assert_eq!(f.member.ensure_pool("rbd", 2).unwrap(), Outcome::Done);
        let lines = f.rec.lines();
        assert!(lines[2].ends_with("osd pool set rbd size 2"), "{lines:#?}");
        assert!(
            lines[3].ends_with("osd pool set rbd min_size 1"),
            "{lines:#?}"
        );
        assert_eq!(lines.len(), 4);

        // Absent: created, then initialised for RBD.
        answer(&f.rec, b"[]");
        answer(&f.rec, b"");
        answer(
            &f.rec,
            br#"[{"pool_id":2,"pool_name":"vm","size":3,"min_size":2,"pg_num":32,"application_metadata":{}}]"#,
        );
        assert_eq!(f.member.ensure_pool("vm", 5).unwrap(), Outcome::Done);
        let lines = f.rec.lines();
        assert!(
            lines[5].ends_with("osd pool create vm 32 32 replicated"),
            "{lines:#?}"
        );
        assert!(
            lines[7].starts_with("rbd -c ") && lines[7].ends_with(" pool init vm"),
            "{lines:#?}"
        );
        assert!(f.member.ensure_pool("vm", 0).is_err());

        // One OSD: one replica, which Ceph must be told to allow.
        answer(&f.rec, &pools);
        f.member.ensure_pool("rbd", 1).unwrap();
        let lines = f.rec.lines();
        assert!(
            lines[9].ends_with("config set global mon_allow_pool_size_one true"),
            "{lines:#?}"
        );
        assert!(
            lines[10].ends_with("osd pool set rbd size 1 --yes-i-really-mean-it"),
            "{lines:#?}"
        );
        assert!(
            lines[11].ends_with("osd pool set rbd min_size 1"),
            "{lines:#?}"
        );
    }

    #[test]
    fn an_mds_gets_its_key_then_is_only_started() {
        let f = fixture("mds");
        let data = f.member.paths().mds_data("s1");
        assert!(!has_key(&data));
        // What `ceph auth get-or-create` prints.
        answer(&f.rec, b"[mds.s1]\n\tkey = AQBmds==\n");
        assert_eq!(f.member.ensure_mds().unwrap(), Outcome::Done);
        let conf = f.member.paths().conf.display().to_string();
        assert_eq!(
            f.rec.lines(),
            [format!(
                "ceph -c {conf} --connect-timeout 15 auth get-or-create mds.s1 \
                 mon 'allow profile mds' osd 'allow rwx' mds allow mgr 'allow profile mds'"
            )]
        );
        let keyring = data.join(KEYRING);
        assert_eq!(fs::read(&keyring).unwrap(), b"[mds.s1]\n\tkey = AQBmds==\n");
        let mode = fs::metadata(&keyring).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(has_key(&data));
        assert_eq!(*f.sup.log.lock().unwrap(), ["start mds.s1"]);

        assert_eq!(f.member.ensure_mds().unwrap(), Outcome::AlreadyDone);
        f.sup.stop(&Daemon::mds("s1")).unwrap();
        assert_eq!(f.member.ensure_mds().unwrap(), Outcome::Done);
        assert_eq!(f.rec.lines().len(), 1, "the key is fetched once");
        assert_eq!(
            *f.sup.log.lock().unwrap(),
            ["start mds.s1", "stop mds.s1", "start mds.s1"]
        );
    }

    #[test]
    fn a_file_system_gets_its_pools_once() {
        let f = fixture("fs");
        let pool = |name: &str, id: u32| {
            format!(
                r#"{{"pool_id":{id},"pool_name":"{name}","size":3,"min_size":2,"pg_num":32,"application_metadata":{{}}}}"#
            )
        };
        let (meta, data) = (pool("cephfs_meta", 3), pool("cephfs_data", 4));
        let both = format!("[{meta},{data}]");
        answer(&f.rec, b"[]");
        answer(&f.rec, b"");
        answer(&f.rec, format!("[{meta}]").as_bytes());
        answer(&f.rec, both.as_bytes());
        answer(&f.rec, b"[]");
        assert_eq!(f.member.ensure_fs("cephfs", 3).unwrap(), Outcome::Done);
        let lines = f.rec.lines();
        let tails = [
            "osd pool ls detail --format json",
            "osd pool create cephfs_meta 32 32 replicated",
            "osd pool ls detail --format json",
            "osd pool ls detail --format json",
            "fs ls --format json",
            "fs new cephfs cephfs_meta cephfs_data",
        ];
        assert_eq!(lines.len(), tails.len(), "{lines:#?}");
        for (line, tail) in lines.iter().zip(tails) {
            assert!(line.ends_with(tail), "{line} should end with {tail}");
        }

        answer(&f.rec, both.as_bytes());
        answer(&f.rec, both.as_bytes());
        answer(&f.rec, &recorded("pacific-16.2.15-fs-ls.json"));
        assert_eq!(
            f.member.ensure_fs("cephfs", 3).unwrap(),
            Outcome::AlreadyDone
        );
        assert_eq!(f.rec.lines().len(), tails.len() + 3);
        assert!(f.member.ensure_fs("cephfs", 0).is_err());
    }
}
