//! Building, using and tearing down a lab.

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::net::Ipv4Addr;
use std::os::unix::fs::{symlink, DirBuilderExt};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::error::{IoContext, LabError};
use crate::plan::{self, Daemon, Layout, Target, BRIDGE, LAB_IFACE};
use crate::state::{
    self, DiskFile, EtcLink, LabState, Process, ProcessId, LAB_BASE_DIR, STATE_DIR,
};
use crate::{signals, sys};

/// What lab to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabSpec {
    pub servers: usize,
    pub disks_per_server: usize,
    /// Size of each (sparse) disk image.
    pub disk_size_bytes: u64,
    /// The lab's prefix; default "mlab" and four random hex digits.
    pub name: Option<String>,
    /// Start one musterd per server.
    pub agents: bool,
    /// How long an agent may take to accept connections on its socket.
    pub agent_ready_timeout: Duration,
    /// The agent program, run as `PROGRAM --config FILE`; default
    /// [`bin_path`]`("musterd")`.
    pub agent_bin: Option<PathBuf>,
    /// Start one LXD daemon per server, inside its namespace, with its own
    /// `LXD_DIR` (the server's `lxd_dir`); the agents are told its socket.
    /// LXD logs at warning level unless `MUSTER_LAB_LXD_DEBUG=1` is in the
    /// environment of the process that starts it (`--debug`).
    pub lxd: bool,
    /// How long `lxd waitready` may take.
    pub lxd_ready_timeout: Duration,
    /// With `lxd`: which daemon, LXD or Incus (in the same directory,
    /// [`Server::lxd_dir`], with the same socket).
    pub daemon: Daemon,
    /// Give each server a Ceph directory ([`Server::ceph_dir`]), named in
    /// its agent's config (`[ceph]`: daemons started by the agent, sizes
    /// for a small lab) and shown as /etc/ceph to everything run in its
    /// namespace with `ip netns exec` (the agent, LXD, [`Lab::exec`]).
    /// Needs /etc/ceph on the host (package ceph-common).
    pub ceph: bool,
    /// A passphrase file (root's, mode 0600) given to every server but s1
    /// as its zero-touch enrollment passphrase (`enrollment_passphrase_file`),
    /// so a `muster init` on s1 with the same passphrase needs no `muster join`.
    pub enrollment: Option<PathBuf>,
}

/// Set to `1`, LXD daemons the lab starts log at debug level (`--debug`):
/// their logs then show each step of a cluster join, at the cost of much
/// larger log files.
const LXD_DEBUG_ENV: &str = "MUSTER_LAB_LXD_DEBUG";

/// Ceph's OSDs need about 4 GiB to be useful (see DESIGN.md).
pub const DEFAULT_DISK_SIZE: u64 = 4 << 30;

impl Default for LabSpec {
    fn default() -> Self {
        LabSpec {
            servers: 3,
            disks_per_server: 1,
            disk_size_bytes: DEFAULT_DISK_SIZE,
            name: None,
            agents: true,
            agent_ready_timeout: Duration::from_secs(30),
            agent_bin: None,
            lxd: false,
            lxd_ready_timeout: Duration::from_secs(60),
            daemon: Daemon::default(),
            ceph: false,
            enrollment: None,
        }
    }
}

/// One virtual server of a lab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// From 1: server 1 is "s1".
    pub number: usize,
    /// "s1", "s2"...: also the agent's name.
    pub name: String,
    pub netns: String,
    pub ip: Ipv4Addr,
    /// Its directory in the lab directory.
    pub dir: PathBuf,
    pub config: PathBuf,
    /// The agent's unix socket (usable from the host).
    pub socket: PathBuf,
    pub state_dir: PathBuf,
    /// The agent's stdout and stderr.
    pub log: PathBuf,
    /// Its loop devices, in order.
    pub disks: Vec<PathBuf>,
    /// The sparse files behind them.
    pub disk_files: Vec<PathBuf>,
    /// Its LXD's `LXD_DIR` (used when the lab runs LXD).
    pub lxd_dir: PathBuf,
    /// Its LXD's log file.
    pub lxd_log: PathBuf,
    /// Its Ceph directory (used when the lab has Ceph): ceph.conf, keyrings
    /// and the daemons' data; /etc/ceph inside its namespace.
    pub ceph_dir: PathBuf,
}

impl Server {
    /// Its LXD's unix socket (usable from the host).
    pub fn lxd_socket(&self) -> PathBuf {
        self.lxd_dir.join("unix.socket")
    }
}

/// The lab's fourth machine, for running CLIs as an operator would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub netns: String,
    pub ip: Ipv4Addr,
}

fn lab_servers(state: &LabState, layout: &Layout) -> Vec<Server> {
    layout
        .servers
        .iter()
        .enumerate()
        .map(|(i, node)| {
            let number = i + 1;
            let dir = state.dir.join(&node.name);
            let mine: Vec<&DiskFile> = state
                .disk_files
                .iter()
                .filter(|d| d.server == number)
                .collect();
            Server {
                number,
                name: node.name.clone(),
                netns: node.netns.clone(),
                ip: node.ip,
                config: dir.join("musterd.toml"),
                socket: dir.join("musterd.sock"),
                state_dir: dir.join("state"),
                log: dir.join("musterd.log"),
                disks: mine.iter().filter_map(|d| d.device.clone()).collect(),
                disk_files: mine.iter().map(|d| d.file.clone()).collect(),
                lxd_dir: dir.join("lxd"),
                lxd_log: dir.join("lxd.log"),
                ceph_dir: dir.join("ceph"),
                dir,
            }
        })
        .collect()
}

/// The directories that hold the workspace's built binaries, in order:
/// `$MUSTER_BIN_DIR` alone if set, else the running program's directory and,
/// when that is `target/*/deps` (a test), its parent.
pub fn bin_dirs() -> Result<Vec<PathBuf>, LabError> {
    if let Some(dir) = std::env::var_os("MUSTER_BIN_DIR") {
        return Ok(vec![PathBuf::from(dir)]);
    }
    let exe = std::env::current_exe().ctx(|| "finding the running program".into())?;
    let dir = exe.parent().unwrap_or(Path::new("/"));
    let mut dirs = vec![dir.to_path_buf()];
    if dir.file_name().is_some_and(|n| n == "deps") {
        dirs.extend(dir.parent().map(Path::to_path_buf));
    }
    Ok(dirs)
}

/// Where a built binary of the workspace is (see [`bin_dirs`]).
pub fn bin_path(name: &str) -> Result<PathBuf, LabError> {
    let mut candidates: Vec<PathBuf> = bin_dirs()?.iter().map(|d| d.join(name)).collect();
    match candidates.iter().position(|p| p.is_file()) {
        Some(i) => Ok(candidates.swap_remove(i)),
        None => Err(LabError::BinaryMissing {
            name: name.into(),
            path: candidates.pop().expect("one directory at least"),
        }),
    }
}

/// Fails unless the process runs as root, which the lab needs.
pub fn require_root() -> Result<(), LabError> {
    if sys::is_root() {
        return Ok(());
    }
    Err(LabError::NotRoot(format!(
        "it creates network namespaces, a host route and loop devices, and this process runs as uid {}; run it as root (for tests: `sudo -E cargo test`)",
        nix::unistd::geteuid()
    )))
}

/// Multicast (mDNS) goes out of the lab interface of namespace `ns`: the
/// lab has no default route.
fn multicast_route(ns: &str) -> Result<(), LabError> {
    sys::ip([
        "-n",
        ns,
        "route",
        "replace",
        "224.0.0.0/4",
        "dev",
        LAB_IFACE,
    ])
    .map(drop)
}

/// Runs `f` on a thread that has entered the network namespace `netns`.
/// Sockets made by `f` stay in that namespace after it returns.
pub fn run_in_netns<T, F>(netns: &str, f: F) -> Result<T, LabError>
where
    T: Send,
    F: FnOnce() -> T + Send,
{
    thread::scope(|scope| {
        let worker = scope.spawn(|| {
            sys::enter_netns(netns)?;
            Ok(f())
        });
        worker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// `ip netns exec NETNS ARGV...`, with the workspace's binaries first in
/// PATH and MUSTER_SOCKET set to the server's agent socket when there is
/// one, so `muster` talks to that server's agent.
fn netns_command<I, S>(netns: &str, socket: Option<&Path>, argv: I) -> Result<Command, LabError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut argv = argv.into_iter().peekable();
    if argv.peek().is_none() {
        return Err(LabError::Spec("no command given to run in the lab".into()));
    }
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", netns]).args(argv);
    // The workspace's programs (muster, musterd) run by name.
    if let Ok(dirs) = bin_dirs() {
        let path = std::env::var_os("PATH").unwrap_or_default();
        if let Ok(joined) =
            std::env::join_paths(dirs.into_iter().chain(std::env::split_paths(&path)))
        {
            cmd.env("PATH", joined);
        }
    }
    if let Some(socket) = socket {
        cmd.env("MUSTER_SOCKET", socket);
    }
    Ok(cmd)
}

fn server_of(servers: &[Server], target: Target) -> Result<Option<&Server>, LabError> {
    match target {
        Target::Client => Ok(None),
        Target::Server(n) => {
            servers
                .get(n.wrapping_sub(1))
                .map(Some)
                .ok_or(LabError::NoSuchServer {
                    index: n,
                    count: servers.len(),
                })
        }
    }
}

/// Builds the command that runs `argv` on `target` of a recorded lab.
fn target_command<I, S>(
    servers: &[Server],
    client: &Client,
    target: Target,
    argv: I,
) -> Result<Command, LabError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    match server_of(servers, target)? {
        Some(s) => {
            let mut cmd = netns_command(&s.netns, Some(&s.socket), argv)?;
            // `lxc` (or `incus`) there talks to that server's daemon.
            cmd.env("LXD_DIR", &s.lxd_dir).env("INCUS_DIR", &s.lxd_dir);
            Ok(cmd)
        }
        None => netns_command(&client.netns, None, argv),
    }
}

/// The part of a lab that the signal thread may tear down too.
pub(crate) struct Shared {
    inner: Mutex<Inner>,
}

struct Inner {
    state: LabState,
    /// The running agents, by server (index 0 is s1).
    agents: Vec<Option<Child>>,
    /// The LXD daemons (`ip netns exec` processes), reaped at teardown.
    lxd: Vec<Child>,
    /// Torn down completely: nothing more to do.
    finished: bool,
    /// Left running on purpose: dropping the `Lab` does not tear it down.
    detached: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere must not stop the teardown.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a resource, then creates it, under the lock: a teardown
    /// running meanwhile (on a signal) either sees the record or runs first
    /// and makes `create` fail.
    fn create<T>(
        &self,
        record: impl FnOnce(&mut LabState),
        create: impl FnOnce() -> Result<T, LabError>,
    ) -> Result<T, LabError> {
        let mut inner = self.lock();
        if inner.finished {
            return Err(LabError::TornDown(inner.state.prefix.clone()));
        }
        record(&mut inner.state);
        inner.state.save(Path::new(STATE_DIR))?;
        create()
    }

    fn update(&self, change: impl FnOnce(&mut LabState)) -> Result<(), LabError> {
        let mut inner = self.lock();
        change(&mut inner.state);
        inner.state.save(Path::new(STATE_DIR))
    }

    /// Tears the lab down unless it was left running on purpose; the
    /// problems, if any, are in the error.
    pub(crate) fn teardown(&self) -> Result<(), LabError> {
        let mut inner = self.lock();
        if inner.finished || inner.detached {
            return Ok(());
        }
        let Inner {
            state, agents, lxd, ..
        } = &mut *inner;
        let result = teardown(state, agents);
        for child in lxd.iter_mut() {
            sys::wait_child(child, Duration::from_millis(200));
        }
        inner.finished = result.is_ok();
        result
    }
}

/// A lab: a switch namespace with a bridge, one namespace per server and one
/// for the client, loop disks, and optionally one musterd per server. Torn
/// down by [`Lab::down`], when dropped (a panicking test included), and on
/// SIGINT, SIGTERM or SIGHUP.
pub struct Lab {
    layout: Layout,
    dir: PathBuf,
    servers: Vec<Server>,
    client: Client,
    agent_bin: Option<PathBuf>,
    agent_ready_timeout: Duration,
    shared: Arc<Shared>,
}

impl Lab {
    /// Builds a lab. On failure, whatever was built is torn down again.
    pub fn up(spec: LabSpec) -> Result<Lab, LabError> {
        require_root()?;
        check_spec(&spec)?;
        if spec.ceph {
            require_bind_target(Path::new(HOST_ETC_CEPH))?;
        }
        let agent_bin = match (&spec.agent_bin, spec.agents) {
            (_, false) => None,
            (Some(bin), true) => Some(bin.clone()),
            (None, true) => Some(bin_path("musterd")?),
        };

        let mut state = reserve(&spec)?;
        let dir = state.dir.clone();
        let layout = Layout::new(&state.prefix, state.subnet, spec.servers);
        state.servers = spec.servers;
        state.disks_per_server = spec.disks_per_server;
        state.disk_size_bytes = spec.disk_size_bytes;
        state.agents = spec.agents;
        state.lxd = spec.lxd;
        state.daemon = spec.daemon;
        state.ceph = spec.ceph;
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                agents: (0..spec.servers).map(|_| None).collect(),
                lxd: Vec::new(),
                state,
                finished: false,
                detached: false,
            }),
        });
        signals::register(&shared);

        let mut lab = Lab {
            dir,
            client: Client {
                netns: layout.client.netns.clone(),
                ip: layout.client.ip,
            },
            layout,
            servers: Vec::new(),
            agent_bin,
            agent_ready_timeout: spec.agent_ready_timeout,
            shared,
        };
        match lab.build(&spec) {
            Ok(()) => Ok(lab),
            Err(e) => {
                if let Err(teardown) = lab.down() {
                    eprintln!("muster-lab: {teardown}");
                }
                Err(e)
            }
        }
    }

    fn build(&mut self, spec: &LabSpec) -> Result<(), LabError> {
        fs::create_dir_all(&self.dir).ctx(|| format!("creating {}", self.dir.display()))?;
        self.add_blackhole()?;
        self.add_network()?;
        self.add_disks(spec)?;
        self.servers = lab_servers(&self.shared.lock().state, &self.layout);
        if spec.ceph {
            self.add_ceph()?;
        }
        if spec.lxd {
            self.start_every_lxd(spec.lxd_ready_timeout)?;
        }
        if spec.agents {
            for server in &self.servers {
                // The agent keeps its private key there.
                fs::DirBuilder::new()
                    .mode(0o700)
                    .create(&server.state_dir)
                    .ctx(|| format!("creating {}", server.state_dir.display()))?;
                let text = plan::agent_config_toml(
                    &server.name,
                    &server.state_dir,
                    &server.socket,
                    &server.disks,
                    spec.disk_size_bytes,
                    plan::AgentExtras {
                        lxd_socket: spec.lxd.then(|| server.lxd_socket()).as_deref(),
                        ceph_root: spec.ceph.then_some(server.ceph_dir.as_path()),
                        enrollment: spec.enrollment.as_deref().filter(|_| server.number > 1),
                    },
                );
                fs::write(&server.config, text)
                    .ctx(|| format!("writing {}", server.config.display()))?;
            }
            // Started together, waited for together: they boot in parallel.
            for number in 1..=self.servers.len() {
                self.spawn_agent(number, None)?;
            }
            for number in 1..=self.servers.len() {
                self.wait_agent_ready(number)?;
            }
        }
        Ok(())
    }

    /// Comes first, before any lab address exists: from then on nothing the
    /// host sends to the lab subnet can leave through its default route.
    fn add_blackhole(&self) -> Result<(), LabError> {
        let cidr = self.layout.cidr();
        let added = self.shared.create(
            |s| s.route = Some(cidr.clone()),
            || sys::ip(["route", "add", "blackhole", &cidr]),
        );
        if added.is_err() {
            // Not ours (it may belong to someone else): never delete it.
            self.shared.update(|s| s.route = None)?;
        }
        added.map(drop)
    }

    fn add_namespace(&self, ns: &str) -> Result<(), LabError> {
        let added = self.shared.create(
            |s| s.namespaces.push(ns.to_string()),
            || sys::ip(["netns", "add", ns]),
        );
        if added.is_err() {
            self.shared.update(|s| s.namespaces.retain(|n| n != ns))?;
        }
        added?;
        // No IPv6 in the lab: a link-local address "fe80::...%eth0" handed to
        // the host would leave through the host's own eth0. IPv4 lab
        // addresses are all covered by the blackhole.
        run_in_netns(ns, || -> Result<(), LabError> {
            for key in ["all", "default"] {
                let path = format!("/proc/sys/net/ipv6/conf/{key}/disable_ipv6");
                fs::write(&path, "1").ctx(|| format!("writing {path} in {ns}"))?;
            }
            Ok(())
        })??;
        sys::ip(["-n", ns, "link", "set", "lo", "up"])?;
        Ok(())
    }

    fn add_network(&self) -> Result<(), LabError> {
        let sw = self.layout.switch_netns.as_str();
        self.add_namespace(sw)?;
        sys::ip([
            "-n",
            sw,
            "link",
            "add",
            BRIDGE,
            "type",
            "bridge",
            "mcast_snooping",
            "0",
        ])?;
        sys::ip(["-n", sw, "link", "set", BRIDGE, "up"])?;
        for node in self.layout.machines() {
            let ns = node.netns.as_str();
            let port = node.switch_port.as_str();
            self.add_namespace(ns)?;
            // Made inside the machine's namespace with its peer placed
            // straight into the switch's: no lab interface ever exists in
            // the host namespace.
            sys::ip([
                "-n", ns, "link", "add", LAB_IFACE, "type", "veth", "peer", "name", port, "netns",
                sw,
            ])?;
            sys::ip(["-n", sw, "link", "set", port, "master", BRIDGE, "up"])?;
            sys::ip([
                "-n",
                ns,
                "addr",
                "add",
                &format!("{}/24", node.ip),
                "dev",
                LAB_IFACE,
            ])?;
            sys::ip(["-n", ns, "link", "set", LAB_IFACE, "up"])?;
            multicast_route(ns)?;
        }
        Ok(())
    }

    fn add_disks(&self, spec: &LabSpec) -> Result<(), LabError> {
        for server in 1..=spec.servers {
            let dir = self.dir.join(format!("s{server}"));
            fs::create_dir_all(&dir).ctx(|| format!("creating {}", dir.display()))?;
            for disk in 1..=spec.disks_per_server {
                let file = dir.join(format!("disk{disk}.img"));
                let device = self.shared.create(
                    |s| {
                        s.disk_files.push(DiskFile {
                            server,
                            file: file.clone(),
                            device: None,
                        })
                    },
                    || {
                        File::create(&file)
                            .and_then(|f| f.set_len(spec.disk_size_bytes))
                            .ctx(|| format!("creating disk image {}", file.display()))?;
                        // --partscan: tests that partition a lab disk see its
                        // partitions appear as loopNpM.
                        sys::run(
                            Command::new("losetup")
                                .args(["--show", "--find", "--partscan"])
                                .arg(&file),
                        )
                    },
                )?;
                let device = PathBuf::from(device.trim());
                self.shared.update(|s| {
                    if let Some(d) = s.disk_files.iter_mut().find(|d| d.file == file) {
                        d.device = Some(device);
                    }
                })?;
            }
        }
        Ok(())
    }

    /// Gives each server its Ceph directory and has `ip netns exec` show it
    /// as /etc/ceph in the server's namespace: before anything (the agent,
    /// LXD) starts there, since the bind is made when a command starts.
    fn add_ceph(&self) -> Result<(), LabError> {
        for server in &self.servers {
            let target = &server.ceph_dir;
            fs::create_dir(target).ctx(|| format!("creating {}", target.display()))?;
            let link = plan::etc_netns_link(&server.netns, plan::CEPH_ETC_ENTRY);
            let dir = link.parent().expect("an /etc/netns entry has a directory");
            let made_dir = !dir.exists();
            self.shared.create(
                |s| {
                    s.etc_links.push(EtcLink {
                        link: link.clone(),
                        target: target.clone(),
                        made_dir,
                    })
                },
                || {
                    fs::create_dir_all(dir).ctx(|| format!("creating {}", dir.display()))?;
                    symlink(target, &link)
                        .ctx(|| format!("linking {} to {}", link.display(), target.display()))
                },
            )?;
        }
        Ok(())
    }

    /// Starts every server's LXD (side by side), then waits for each.
    fn start_every_lxd(&self, ready_timeout: Duration) -> Result<(), LabError> {
        for i in 0..self.servers.len() {
            self.spawn_lxd(i)?;
        }
        for server in &self.servers {
            wait_lxd(self.daemon(), server, ready_timeout)?;
        }
        Ok(())
    }

    /// The daemon the lab's servers run (LXD unless it was made with Incus).
    pub fn daemon(&self) -> Daemon {
        self.shared.lock().state.daemon
    }

    /// Starts the LXD of the server at `index`, recorded as its LXD; with
    /// `--debug` when [`LXD_DEBUG_ENV`] is `1`.
    fn spawn_lxd(&self, index: usize) -> Result<(), LabError> {
        let server = &self.servers[index];
        // There already when an LXD killed is started again on its state.
        fs::DirBuilder::new()
            .mode(0o711)
            .recursive(true)
            .create(&server.lxd_dir)
            .ctx(|| format!("creating {}", server.lxd_dir.display()))?;
        let out = File::create(server.lxd_dir.with_extension("out"))
            .ctx(|| format!("creating {}", server.lxd_dir.display()))?;
        let err = out
            .try_clone()
            .ctx(|| format!("creating {}", server.lxd_dir.display()))?;
        let daemon = self.daemon();
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &server.netns, "env"])
            .arg(format!("{}={}", daemon.dir_env(), server.lxd_dir.display()))
            .args([daemon.program(), "--group", "root", "--logfile"])
            .arg(&server.lxd_log);
        if std::env::var_os(LXD_DEBUG_ENV).is_some_and(|v| v == "1") {
            cmd.arg("--debug");
        }
        cmd.stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        let mut inner = self.shared.lock();
        if inner.finished {
            return Err(LabError::TornDown(self.layout.prefix.clone()));
        }
        let child = spawn_recorded(&mut inner, &mut cmd, format!("lxd of {}", server.name))?;
        if let Some(slot) = inner.lxd.get_mut(index) {
            *slot = child;
        } else {
            inner.lxd.push(child);
        }
        inner.state.save(Path::new(STATE_DIR))
    }

    /// What reinstalling LXD on server `number` leaves: its LXD stopped,
    /// its state and the bridge it made gone, a fresh LXD running. Its
    /// cluster still lists it as a member, now one that cannot answer.
    pub fn reinstall_lxd(&self, number: usize) -> Result<(), LabError> {
        self.kill_lxd(number, true)?;
        let server = &self.servers[self.server_index(number)?];
        fs::remove_dir_all(&server.lxd_dir)
            .ctx(|| format!("removing {}", server.lxd_dir.display()))?;
        self.start_lxd(number)
    }

    /// Starts server `number`'s LXD (after [`Lab::kill_lxd`]) on the state
    /// it has, and waits (up to 60 s) until it is ready.
    pub fn start_lxd(&self, number: usize) -> Result<(), LabError> {
        let i = self.server_index(number)?;
        self.spawn_lxd(i)?;
        wait_lxd(self.daemon(), &self.servers[i], Duration::from_secs(60))
    }

    /// Ends server `number`'s LXD and its helpers (dnsmasq, forkdns) and
    /// removes the links it made: asked to shut down first when `gently`,
    /// else killed outright, as a machine that died. Its state stays.
    pub fn kill_lxd(&self, number: usize, gently: bool) -> Result<(), LabError> {
        let i = self.server_index(number)?;
        let server = &self.servers[i];
        let failed = |detail: String| LabError::Command {
            command: format!("stopping the LXD of {}", server.name),
            detail,
        };
        let daemon = self.daemon();
        if gently {
            // A daemon that does not stop in time is ended below all the same.
            let _ = sys::run(&mut lxd_shutdown(daemon, &server.lxd_dir));
        }
        let what = format!("lxd of {}", server.name);
        let ids: Vec<ProcessId> = {
            let inner = self.shared.lock();
            inner
                .state
                .processes
                .iter()
                .filter(|p| p.what == what)
                .map(|p| p.id)
                .collect()
        };
        if !gently {
            for id in &ids {
                let _ = sys::signal(*id, Signal::SIGKILL);
            }
        }
        if let Some(left) = sys::terminate(&ids, Duration::from_secs(5)).first() {
            return Err(failed(format!("process {} survived SIGKILL", left.pid)));
        }
        if let Some(child) = self.shared.lock().lxd.get_mut(i) {
            sys::wait_child(child, Duration::from_secs(3));
        }
        // Its helpers carry its LXD_DIR in their environment: only those of
        // this LXD are ended.
        let marker = format!("{}={}", daemon.dir_env(), server.lxd_dir.display());
        let helpers: Vec<ProcessId> = sys::netns_pids(&server.netns)?
            .into_iter()
            .filter(|pid| sys::environ_has(*pid, &marker))
            .filter_map(sys::process_id)
            .collect();
        if let Some(left) = sys::terminate(&helpers, Duration::from_secs(5)).first() {
            return Err(failed(format!("process {} survived SIGKILL", left.pid)));
        }
        let links = sys::ip(["-n", &server.netns, "-o", "link", "show"])?;
        for link in plan::link_names(&links) {
            if link.starts_with("lxd") {
                sys::ip(["-n", &server.netns, "link", "delete", &link])?;
            }
        }
        Ok(())
    }

    fn server_index(&self, number: usize) -> Result<usize, LabError> {
        if (1..=self.servers.len()).contains(&number) {
            Ok(number - 1)
        } else {
            Err(LabError::NoSuchServer {
                index: number,
                count: self.servers.len(),
            })
        }
    }

    /// `path`: the agent's PATH instead of the lab's.
    fn spawn_agent(&self, number: usize, path: Option<&OsStr>) -> Result<(), LabError> {
        let i = self.server_index(number)?;
        let server = &self.servers[i];
        let Some(bin) = &self.agent_bin else {
            return Err(LabError::Spec(
                "this lab was built without agents (LabSpec::agents is false)".into(),
            ));
        };
        let mut inner = self.shared.lock();
        if inner.finished {
            return Err(LabError::TornDown(self.layout.prefix.clone()));
        }
        if let Some(child) = &mut inner.agents[i] {
            if matches!(child.try_wait(), Ok(None)) {
                return Err(LabError::AgentRunning(server.name.clone()));
            }
        }
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&server.log)
            .ctx(|| format!("opening {}", server.log.display()))?;
        let log2 = log
            .try_clone()
            .ctx(|| format!("opening {}", server.log.display()))?;
        let mut cmd = netns_command(
            &server.netns,
            None,
            [
                bin.as_os_str(),
                "--config".as_ref(),
                server.config.as_os_str(),
            ],
        )?;
        if let Some(path) = path {
            cmd.env("PATH", path);
        }
        // Its own process group: a Ctrl-C in the terminal reaches the lab's
        // owner, which stops the agents in order, not the agents directly.
        cmd.stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .process_group(0);
        let child = spawn_recorded(&mut inner, &mut cmd, format!("musterd of {}", server.name))?;
        inner.agents[i] = Some(child);
        inner.state.save(Path::new(STATE_DIR))
    }

    fn wait_agent_ready(&self, number: usize) -> Result<(), LabError> {
        let server = &self.servers[self.server_index(number)?];
        let deadline = Instant::now() + self.agent_ready_timeout;
        let not_ready = |reason: String| LabError::AgentNotReady {
            server: server.name.clone(),
            reason,
            log: server.log.clone(),
            tail: sys::tail(&server.log, 30),
        };
        loop {
            let exited = match &mut self.shared.lock().agents[number - 1] {
                Some(child) => child.try_wait().ok().flatten(),
                None => return Err(LabError::AgentNotRunning(server.name.clone())),
            };
            if let Some(status) = exited {
                return Err(not_ready(format!("it exited ({status})")));
            }
            if UnixStream::connect(&server.socket).is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(not_ready(format!(
                    "nothing accepted connections on {} within {:?}",
                    server.socket.display(),
                    self.agent_ready_timeout
                )));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts server `number`'s agent again (after [`Lab::stop_agent`]) and
    /// waits until its socket accepts connections. Its config file is not
    /// rewritten: a test may change it in between.
    pub fn start_agent(&self, number: usize) -> Result<(), LabError> {
        self.spawn_agent(number, None)?;
        self.wait_agent_ready(number)
    }

    /// [`Lab::start_agent`] with `path` as the agent's PATH (it must still
    /// find `ip`, which starts it in its namespace): a server lacking the
    /// programs the others have, since the lab's servers share the host's.
    pub fn start_agent_with_path(&self, number: usize, path: &str) -> Result<(), LabError> {
        self.spawn_agent(number, Some(OsStr::new(path)))?;
        self.wait_agent_ready(number)
    }

    /// Sends `signal` to server `number`'s agent and waits (up to 20 s) for
    /// it to exit; its exit status. An agent that already exited gives its
    /// status without a signal.
    pub fn stop_agent(&self, number: usize, signal: Signal) -> Result<ExitStatus, LabError> {
        let i = self.server_index(number)?;
        let name = self.servers[i].name.clone();
        let Some(mut child) = self.shared.lock().agents[i].take() else {
            return Err(LabError::AgentNotRunning(name));
        };
        let give_back = |child: Child| self.shared.lock().agents[i] = Some(child);
        if let Ok(None) = child.try_wait() {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            if let Err(e) = nix::sys::signal::kill(pid, signal) {
                give_back(child);
                return Err(LabError::io(
                    format!("sending {signal} to the agent of {name}"),
                    e.into(),
                ));
            }
        }
        let status = sys::wait_child(&mut child, Duration::from_secs(20));
        let Some(status) = status else {
            give_back(child);
            return Err(LabError::Command {
                command: format!("{signal} to the agent of {name}"),
                detail: "it did not exit within 20 s".into(),
            });
        };
        let what = format!("musterd of {name}");
        self.shared
            .update(|s| s.processes.retain(|p| p.what != what))?;
        Ok(status)
    }

    /// Takes server `number`'s lab link down (`up` false) or up again: its
    /// cable pulled or plugged back. Only that server's own end of its veth
    /// pair, inside its namespace, is touched. Up again, the multicast route
    /// the kernel dropped with the link is put back, as [`Lab::up`] made it.
    pub fn set_link(&self, number: usize, up: bool) -> Result<(), LabError> {
        let i = self.server_index(number)?;
        let ns = self.servers[i].netns.as_str();
        let state = if up { "up" } else { "down" };
        sys::ip(["-n", ns, "link", "set", LAB_IFACE, state])?;
        if up {
            multicast_route(ns)?;
        }
        Ok(())
    }

    /// The pid of server `number`'s agent while it runs.
    pub fn agent_pid(&self, number: usize) -> Option<u32> {
        let i = self.server_index(number).ok()?;
        let mut inner = self.shared.lock();
        let child = inner.agents[i].as_mut()?;
        matches!(child.try_wait(), Ok(None)).then(|| child.id())
    }

    pub fn prefix(&self) -> &str {
        &self.layout.prefix
    }

    /// The lab's directory (disk images, configs, logs, agents' state).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The lab subnet, "10.231.K.0/24".
    pub fn subnet(&self) -> String {
        self.layout.cidr()
    }

    pub fn switch_netns(&self) -> &str {
        &self.layout.switch_netns
    }

    pub fn state_file(&self) -> PathBuf {
        LabState::path_in(Path::new(STATE_DIR), self.prefix())
    }

    pub fn servers(&self) -> &[Server] {
        &self.servers
    }

    /// Server `number`, from 1.
    ///
    /// # Panics
    /// When the lab has no such server, like indexing a slice.
    pub fn server(&self, number: usize) -> &Server {
        match self.server_index(number) {
            Ok(i) => &self.servers[i],
            Err(e) => panic!("{e}"),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn netns(&self, target: Target) -> Result<&str, LabError> {
        Ok(match server_of(&self.servers, target)? {
            Some(s) => &s.netns,
            None => &self.client.netns,
        })
    }

    /// A command that runs `argv` on `target` (`ip netns exec`), with
    /// MUSTER_SOCKET set to the agent socket when the target is a server.
    pub fn command<I, S>(&self, target: Target, argv: I) -> Result<Command, LabError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        target_command(&self.servers, &self.client, target, argv)
    }

    /// Runs `argv` on `target` to completion (stdin empty, output captured).
    pub fn exec<I, S>(&self, target: Target, argv: I) -> Result<Output, LabError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.command(target, argv)?;
        cmd.stdin(Stdio::null())
            .output()
            .ctx(|| format!("running `{}`", sys::describe(&cmd)))
    }

    /// Starts `argv` on `target` (stdin empty, stdout and stderr piped). The
    /// teardown ends it if it still runs then.
    pub fn spawn<I, S>(&self, target: Target, argv: I) -> Result<Child, LabError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.command(target, argv)?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .ctx(|| format!("starting `{}`", sys::describe(&cmd)))
    }

    /// Runs `f` on a thread inside `target`'s network namespace (see
    /// [`run_in_netns`]).
    pub fn in_netns<T, F>(&self, target: Target, f: F) -> Result<T, LabError>
    where
        T: Send,
        F: FnOnce() -> T + Send,
    {
        run_in_netns(self.netns(target)?, f)
    }

    /// Tears the lab down: every process it started and every process left
    /// in its namespaces (SIGTERM, then SIGKILL), the namespaces, its
    /// /etc/netns links, the loop devices, the files, and last the blackhole
    /// route. Idempotent: after an error, calling it again retries what is
    /// left.
    pub fn down(&self) -> Result<(), LabError> {
        let result = self.shared.teardown();
        if result.is_ok() {
            signals::unregister(&self.shared);
        }
        result
    }

    /// Leaves the lab running after this `Lab` is gone; `muster-lab down
    /// --name PREFIX` tears it down later. Its prefix.
    pub fn detach(self) -> Result<String, LabError> {
        self.shared.update(|s| s.owner = None)?;
        self.shared.lock().detached = true;
        signals::unregister(&self.shared);
        Ok(self.prefix().to_string())
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Err(e) = self.down() {
            eprintln!("muster-lab: {e}");
        }
    }
}

/// Waits until the server's LXD answers (`lxd waitready`), at most `timeout`.
fn wait_lxd(daemon: Daemon, server: &Server, timeout: Duration) -> Result<(), LabError> {
    let secs = timeout.as_secs().max(1).to_string();
    let (program, args) = daemon.waitready().split_first().expect("a command");
    let mut cmd = Command::new(program);
    cmd.args(args)
        .args(["--timeout", &secs])
        .env(daemon.dir_env(), &server.lxd_dir);
    sys::run(&mut cmd).map(drop).map_err(|e| LabError::Command {
        command: format!("lxd waitready for {}", server.name),
        detail: format!("{e}\n{}", sys::tail(&server.lxd_log, 30)),
    })
}

/// Starts `cmd` and records it as `what` (replacing an earlier record of
/// that name) for the teardown; the caller saves the state.
fn spawn_recorded(inner: &mut Inner, cmd: &mut Command, what: String) -> Result<Child, LabError> {
    let child = cmd
        .spawn()
        .ctx(|| format!("starting `{}`", sys::describe(cmd)))?;
    // An unreaped child keeps its /proc entry, so this cannot miss.
    let id = sys::process_id(child.id()).unwrap_or(ProcessId {
        pid: child.id(),
        start_time: 0,
    });
    inner.state.processes.retain(|p| p.what != what);
    inner.state.processes.push(Process { id, what });
    Ok(child)
}

/// What a Ceph lab's servers see their own Ceph directory as.
const HOST_ETC_CEPH: &str = "/etc/ceph";

/// `ip netns exec` binds `/etc/netns/NS/ENTRY` over `/etc/ENTRY` only if
/// that exists: otherwise it warns, and the command sees no ENTRY at all.
fn require_bind_target(etc_entry: &Path) -> Result<(), LabError> {
    if etc_entry.is_dir() {
        Ok(())
    } else {
        Err(LabError::NoEtcCeph {
            path: etc_entry.to_path_buf(),
        })
    }
}

fn check_spec(spec: &LabSpec) -> Result<(), LabError> {
    if !(1..=plan::MAX_SERVERS).contains(&spec.servers) {
        return Err(LabError::Spec(format!(
            "a lab has 1 to {} servers, not {}",
            plan::MAX_SERVERS,
            spec.servers
        )));
    }
    if spec.disks_per_server > 16 {
        return Err(LabError::Spec(format!(
            "{} disks per server is more than the 16 a lab allows",
            spec.disks_per_server
        )));
    }
    if spec.disk_size_bytes < 1 << 20 || spec.disk_size_bytes % 512 != 0 {
        return Err(LabError::Spec(format!(
            "disk size {} bytes: it must be at least 1 MiB and a multiple of 512",
            spec.disk_size_bytes
        )));
    }
    if let Some(name) = &spec.name {
        plan::validate_prefix(name).map_err(LabError::Spec)?;
    }
    Ok(())
}

/// Whether anything of a lab named `prefix` exists already.
fn prefix_in_use(prefix: &str) -> bool {
    let sw = Layout::new(prefix, 1, 0).switch_netns;
    LabState::path_in(Path::new(STATE_DIR), prefix).exists()
        || sys::netns_exists(&sw)
        || Path::new(LAB_BASE_DIR).join(prefix).exists()
}

/// Chooses the prefix and subnet and writes the first state file, holding
/// the lock so two labs starting at once cannot choose the same.
fn reserve(spec: &LabSpec) -> Result<LabState, LabError> {
    let state_dir = Path::new(STATE_DIR);
    let _lock = state::lock(state_dir)?;
    let prefix = match &spec.name {
        Some(name) if prefix_in_use(name) => {
            return Err(LabError::Spec(format!(
                "a lab named {name} exists already (`muster-lab down --name {name}` removes it)"
            )))
        }
        Some(name) => name.clone(),
        None => (0..1000)
            .map(|_| plan::generated_prefix(sys::random_u16()))
            .find(|p| !prefix_in_use(p))
            .ok_or_else(|| LabError::Spec("no free lab name found".into()))?,
    };
    let mut used = Vec::new();
    for path in state::state_files(state_dir)? {
        if let Ok(other) = LabState::load(&path) {
            used.push(other.subnet);
        }
    }
    let routes = sys::host_route_destinations()?;
    let subnet = plan::choose_subnet(&prefix, |k| {
        used.contains(&k) || routes.iter().any(|r| plan::route_overlaps_subnet(r, k))
    })
    .ok_or_else(|| LabError::Spec("every lab subnet 10.231.K.0/24 is in use".into()))?;
    let mut state = LabState::new(&prefix, subnet, Path::new(LAB_BASE_DIR).join(&prefix));
    state.owner = sys::process_id(std::process::id());
    state.save(state_dir)?;
    Ok(state)
}

/// The teardown proper, for a lab of this process or from a state file. Each
/// step goes on when one before failed; the problems come back in the error.
fn teardown(state: &mut LabState, agents: &mut [Option<Child>]) -> Result<(), LabError> {
    let mut problems = Vec::new();

    if state.lxd {
        shutdown_lxd(state);
    }
    let ids: Vec<ProcessId> = state.processes.iter().map(|p| p.id).collect();
    for left in sys::terminate(&ids, Duration::from_secs(5)) {
        problems.push(format!("process {} survived SIGKILL", left.pid));
    }
    // A multi-threaded program shows as a zombie while its other threads
    // still exit, before it can be reaped: give it a moment.
    for slot in agents.iter_mut() {
        if let Some(mut child) = slot.take() {
            sys::wait_child(&mut child, Duration::from_secs(3));
        }
    }
    state.processes.clear();

    // Only what is named after the lab: a damaged or edited state file must
    // not make the teardown delete anything else.
    let own_dir = state.dir.parent() == Some(Path::new(LAB_BASE_DIR))
        && state
            .dir
            .file_name()
            .is_some_and(|n| n == state.prefix.as_str());
    let ns_prefix = format!("{}-", state.prefix);
    let (namespaces, foreign): (Vec<&String>, Vec<&String>) = state
        .namespaces
        .iter()
        .partition(|ns| ns.starts_with(&ns_prefix));
    for ns in foreign {
        problems.push(format!(
            "not deleting namespace {ns}: it is not named after the lab"
        ));
    }
    let namespaces: Vec<&String> = namespaces
        .into_iter()
        .filter(|ns| sys::netns_exists(ns))
        .collect();

    sweep(&namespaces, &mut problems);
    let mut namespaces_left = false;
    for ns in namespaces {
        if let Err(e) = sys::ip(["netns", "delete", ns]) {
            problems.push(e.to_string());
            namespaces_left = true;
        }
    }
    let mut links = std::mem::take(&mut state.etc_links);
    links.retain(|link| match remove_etc_link(state, own_dir, link) {
        Ok(()) => false,
        Err(e) => {
            problems.push(e);
            true
        }
    });
    state.etc_links = links;

    for disk in &state.disk_files {
        if !(own_dir && disk.file.starts_with(&state.dir)) {
            problems.push(format!(
                "not detaching the disk image {}: it is not in the lab directory",
                disk.file.display()
            ));
            continue;
        }
        // A recorded device is checked against its file (the number may have
        // been reused); without one (a crash right after `losetup`), the
        // devices attached to the file are looked up.
        let mut devices: Vec<PathBuf> = match &disk.device {
            Some(dev) => vec![dev.clone()],
            None if disk.file.exists() => match sys::loops_of(&disk.file) {
                Ok(found) => found,
                Err(e) => {
                    problems.push(e.to_string());
                    Vec::new()
                }
            },
            None => Vec::new(),
        };
        devices.retain(|dev| sys::loop_backed_by(dev, &disk.file));
        for dev in devices {
            if let Err(e) = sys::detach_loop(&dev, &disk.file) {
                problems.push(e.to_string());
            }
        }
    }

    if own_dir {
        match fs::remove_dir_all(&state.dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                problems.push(format!("removing {}: {e}", state.dir.display()))
            }
            _ => {}
        }
    }

    // Last, and only once no lab namespace (and so no lab address) is left.
    if let Some(cidr) = state.route.clone() {
        if cidr != plan::subnet_cidr(state.subnet) {
            problems.push(format!(
                "not deleting the route {cidr}: it is not the lab subnet"
            ));
        } else if namespaces_left {
            problems.push(format!(
                "kept the blackhole route {cidr}: lab namespaces remain"
            ));
        } else {
            match sys::blackhole_exists(&cidr) {
                Ok(true) => {
                    if let Err(e) = sys::ip(["route", "del", "blackhole", &cidr]) {
                        problems.push(e.to_string());
                    }
                }
                Ok(false) => {}
                Err(e) => problems.push(e.to_string()),
            }
        }
    }

    let state_dir = Path::new(STATE_DIR);
    if problems.is_empty() {
        state.remove(state_dir)?;
        Ok(())
    } else {
        if let Err(e) = state.save(state_dir) {
            problems.push(format!("could not update the state file: {e}"));
        }
        Err(LabError::Teardown {
            prefix: state.prefix.clone(),
            problems,
        })
    }
}

/// Most rounds of [`sweep`]: a later round catches what forked while the
/// round before ended its parent.
const SWEEP_ROUNDS: usize = 3;

/// Ends whatever still runs in the lab's namespaces, by pid, all at once
/// (SIGTERM, then SIGKILL): dnsmasq left by LXD, CLIs left by tests, Ceph
/// daemons started by an agent (re-parented once it is gone; an OSD holds
/// its loop device open until it ends). Bounded: each round takes at most
/// 3 s of grace and 3 s after SIGKILL.
fn sweep(namespaces: &[&String], problems: &mut Vec<String>) {
    let mut stuck: Vec<ProcessId> = Vec::new();
    for round in 0..SWEEP_ROUNDS {
        let mut ids = Vec::new();
        for ns in namespaces {
            match sys::netns_pids(ns) {
                Ok(pids) => ids.extend(pids.into_iter().filter_map(sys::process_id)),
                Err(e) if round == 0 => {
                    problems.push(format!("listing the processes in {ns}: {e}"))
                }
                Err(_) => {}
            }
        }
        ids.retain(|id| !stuck.contains(id));
        if ids.is_empty() {
            break;
        }
        stuck.extend(sys::terminate(&ids, Duration::from_secs(3)));
    }
    for left in stuck {
        problems.push(format!("process {} in the lab survived SIGKILL", left.pid));
    }
}

/// Removes a link the lab put in /etc/netns, then its directory if the lab
/// made it and nothing else is in it. Only a link named after the lab and
/// pointing into the lab directory, whatever the state file says; a link
/// that since points elsewhere is someone else's and stays.
fn remove_etc_link(state: &LabState, own_dir: bool, link: &EtcLink) -> Result<(), String> {
    use std::io::ErrorKind::{DirectoryNotEmpty, InvalidInput, NotFound};
    let path = &link.link;
    if !(own_dir
        && link.target.starts_with(&state.dir)
        && plan::is_lab_etc_netns_link(&state.prefix, path))
    {
        return Err(format!(
            "not removing {}: it is not a link of the lab",
            path.display()
        ));
    }
    match fs::read_link(path) {
        Ok(target) if target == link.target => {
            fs::remove_file(path).map_err(|e| format!("removing {}: {e}", path.display()))?
        }
        // Points elsewhere now, or (InvalidInput) is no symbolic link.
        Ok(_) => {}
        Err(e) if matches!(e.kind(), NotFound | InvalidInput) => {}
        Err(e) => return Err(format!("reading {}: {e}", path.display())),
    }
    let Some(dir) = path.parent().filter(|_| link.made_dir) else {
        return Ok(());
    };
    match fs::remove_dir(dir) {
        Err(e) if !matches!(e.kind(), NotFound | DirectoryNotEmpty) => {
            Err(format!("removing {}: {e}", dir.display()))
        }
        _ => Ok(()),
    }
}

/// `lxd shutdown` for the LXD at `lxd_dir`, bounded: 15 s for its
/// instances, 20 s in all.
fn lxd_shutdown(daemon: Daemon, lxd_dir: &Path) -> Command {
    let mut cmd = Command::new("timeout");
    cmd.arg("20")
        .args(daemon.shutdown())
        .args(["--timeout", "15"])
        .env(daemon.dir_env(), lxd_dir);
    cmd
}

/// Asks every server's LXD to shut down, all at once and bounded: its
/// processes are then ended by pid, and what it leaves in the namespace
/// (dnsmasq) with the namespace's other processes.
fn shutdown_lxd(state: &LabState) {
    let running: Vec<Child> = (1..=state.servers)
        .filter_map(|n| {
            let lxd_dir = state.dir.join(format!("s{n}")).join("lxd");
            if !lxd_dir.join("unix.socket").exists() {
                return None;
            }
            lxd_shutdown(state.daemon, &lxd_dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .ok()
        })
        .collect();
    for mut child in running {
        sys::wait_child(&mut child, Duration::from_secs(25));
    }
}

/// A lab as its state file records it, for `muster-lab status/exec/down`.
#[derive(Debug, Clone)]
pub struct LabRecord {
    pub path: PathBuf,
    pub state: LabState,
    pub servers: Vec<Server>,
    pub client: Client,
    pub switch_netns: String,
}

/// Whether a recorded lab's owner still runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// Left running by `muster-lab up`.
    Detached,
    Running(u32),
    /// Its owner ended without tearing it down.
    Dead(u32),
}

impl LabRecord {
    fn from_state(path: PathBuf, state: LabState) -> LabRecord {
        let layout = Layout::new(&state.prefix, state.subnet, state.servers);
        LabRecord {
            path,
            servers: lab_servers(&state, &layout),
            client: Client {
                netns: layout.client.netns.clone(),
                ip: layout.client.ip,
            },
            switch_netns: layout.switch_netns,
            state,
        }
    }

    /// Every recorded lab, with the state files that could not be read.
    pub fn all() -> Result<(Vec<LabRecord>, Vec<LabError>), LabError> {
        let mut labs = Vec::new();
        let mut bad = Vec::new();
        for path in state::state_files(Path::new(STATE_DIR))? {
            match LabState::load(&path) {
                Ok(state) => labs.push(LabRecord::from_state(path, state)),
                Err(e) => bad.push(e),
            }
        }
        Ok((labs, bad))
    }

    pub fn load(prefix: &str) -> Result<LabRecord, LabError> {
        plan::validate_prefix(prefix).map_err(LabError::Spec)?;
        let path = LabState::path_in(Path::new(STATE_DIR), prefix);
        if !path.exists() {
            return Err(LabError::NoSuchLab(prefix.to_string()));
        }
        let state = LabState::load(&path)?;
        Ok(LabRecord::from_state(path, state))
    }

    pub fn prefix(&self) -> &str {
        &self.state.prefix
    }

    pub fn subnet(&self) -> String {
        plan::subnet_cidr(self.state.subnet)
    }

    pub fn owner(&self) -> Owner {
        match self.state.owner {
            None => Owner::Detached,
            Some(id) if sys::running(id) => Owner::Running(id.pid),
            Some(id) => Owner::Dead(id.pid),
        }
    }

    /// Pid of server `number`'s agent if it runs.
    pub fn agent_pid(&self, number: usize) -> Option<u32> {
        let what = format!("musterd of s{number}");
        self.state
            .processes
            .iter()
            .find(|p| p.what == what && sys::running(p.id))
            .map(|p| p.id.pid)
    }

    pub fn command<I, S>(&self, target: Target, argv: I) -> Result<Command, LabError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        target_command(&self.servers, &self.client, target, argv)
    }

    /// Tears the recorded lab down. A lab whose owner still runs is left
    /// alone unless `force`: that process tears it down itself.
    pub fn down(mut self, force: bool) -> Result<(), LabError> {
        require_root()?;
        if let Owner::Running(pid) = self.owner() {
            if !force && pid != std::process::id() {
                return Err(LabError::Spec(format!(
                    "lab {} belongs to the running process {pid}, which tears it down when it ends (--force to tear it down anyway)",
                    self.prefix()
                )));
            }
        }
        teardown(&mut self.state, &mut [])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lab_can_be_shared_between_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<Lab>();
        shareable::<LabRecord>();
    }

    #[test]
    fn lab_servers_follow_the_record() {
        let mut state = LabState::new("mlab0001", 9, PathBuf::from("/var/tmp/muster-lab/mlab0001"));
        state.servers = 2;
        for (server, dev) in [(1, "/dev/loop5"), (2, "/dev/loop2"), (1, "/dev/loop9")] {
            state.disk_files.push(DiskFile {
                server,
                file: PathBuf::from(format!("/var/tmp/muster-lab/mlab0001/s{server}/{dev}.img")),
                device: Some(dev.into()),
            });
        }
        state.disk_files[1].device = None;
        let record = LabRecord::from_state(PathBuf::from("/run/muster-lab/mlab0001.json"), state);
        let s1 = &record.servers[0];
        assert_eq!(s1.name, "s1");
        assert_eq!(s1.netns, "mlab0001-s1");
        assert_eq!(s1.ip, Ipv4Addr::new(10, 231, 9, 11));
        assert_eq!(
            s1.disks,
            [PathBuf::from("/dev/loop5"), PathBuf::from("/dev/loop9")]
        );
        assert_eq!(
            s1.socket,
            Path::new("/var/tmp/muster-lab/mlab0001/s1/musterd.sock")
        );
        assert_eq!(
            s1.config,
            Path::new("/var/tmp/muster-lab/mlab0001/s1/musterd.toml")
        );
        assert_eq!(
            s1.state_dir,
            Path::new("/var/tmp/muster-lab/mlab0001/s1/state")
        );
        assert_eq!(
            s1.log,
            Path::new("/var/tmp/muster-lab/mlab0001/s1/musterd.log")
        );
        // A disk whose device was never recorded has its file but no device.
        assert_eq!(record.servers[1].disks, Vec::<PathBuf>::new());
        assert_eq!(record.servers[1].disk_files.len(), 1);
        assert_eq!(record.client.netns, "mlab0001-cl");
        assert_eq!(record.switch_netns, "mlab0001-sw");

        let cmd = record
            .command(Target::Server(2), ["muster", "disks"])
            .unwrap();
        assert_eq!(
            sys::describe(&cmd),
            "ip netns exec mlab0001-s2 muster disks"
        );
        let socket = cmd
            .get_envs()
            .find(|(k, _)| *k == "MUSTER_SOCKET")
            .and_then(|(_, v)| v);
        assert_eq!(
            socket,
            Some(OsStr::new("/var/tmp/muster-lab/mlab0001/s2/musterd.sock"))
        );
        let cmd = record.command(Target::Client, ["true"]).unwrap();
        assert!(cmd.get_envs().all(|(k, _)| k != "MUSTER_SOCKET"));
        assert!(matches!(
            record.command(Target::Server(3), ["true"]),
            Err(LabError::NoSuchServer { index: 3, count: 2 })
        ));
        assert!(record
            .command(Target::Client, Vec::<String>::new())
            .is_err());
    }

    #[test]
    fn a_ceph_lab_needs_the_directory_it_binds_over() {
        let dir = tempfile::tempdir().unwrap();
        assert!(require_bind_target(dir.path()).is_ok());
        let missing = dir.path().join("ceph");
        let err = require_bind_target(&missing).unwrap_err().to_string();
        assert!(err.contains(&missing.display().to_string()), "{err}");
        assert!(err.contains("install ceph-common"), "{err}");
        fs::write(&missing, "").unwrap();
        assert!(require_bind_target(&missing).is_err());
    }

    #[test]
    fn only_the_labs_own_etc_links_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, "").unwrap();
        let state = LabState::new("mlab0001", 9, PathBuf::from("/var/tmp/muster-lab/mlab0001"));
        let ours = EtcLink {
            link: plan::etc_netns_link("mlab0001-s1", plan::CEPH_ETC_ENTRY),
            target: state.dir.join("s1/ceph"),
            made_dir: true,
        };
        for bad in [
            EtcLink {
                link: victim.clone(),
                ..ours.clone()
            },
            EtcLink {
                link: plan::etc_netns_link("mlab0002-s1", plan::CEPH_ETC_ENTRY),
                ..ours.clone()
            },
            EtcLink {
                target: PathBuf::from("/etc/ceph"),
                ..ours.clone()
            },
        ] {
            let err = remove_etc_link(&state, true, &bad).unwrap_err();
            assert!(err.contains("not a link of the lab"), "{err}");
        }
        let err = remove_etc_link(&state, false, &ours).unwrap_err();
        assert!(err.contains("not a link of the lab"), "{err}");
        assert!(victim.exists());
    }

    #[test]
    fn specs_are_checked_before_anything_is_made() {
        let ok = LabSpec::default();
        assert!(check_spec(&ok).is_ok());
        for bad in [
            LabSpec {
                servers: 0,
                ..ok.clone()
            },
            LabSpec {
                servers: 100,
                ..ok.clone()
            },
            LabSpec {
                disks_per_server: 17,
                ..ok.clone()
            },
            LabSpec {
                disk_size_bytes: 1000,
                ..ok.clone()
            },
            LabSpec {
                disk_size_bytes: (4 << 30) + 1,
                ..ok.clone()
            },
            LabSpec {
                name: Some("Bad Name".into()),
                ..ok.clone()
            },
        ] {
            assert!(
                matches!(check_spec(&bad), Err(LabError::Spec(_))),
                "{bad:?}"
            );
        }
    }
}
