//! A throwaway LAN of LXD daemons for end-to-end tests: one network
//! namespace per daemon, each with its own LXD_DIR, linked by a veth pair
//! (two members) or through a bridge in a "switch" namespace (more). The
//! lab's addresses (10.231.251.0/24) exist only inside its namespaces, and
//! the host gets a blackhole route for that range while the lab exists, so
//! nothing can leave the machine. Clients talk to each daemon over its unix
//! socket from the host.
//!
//! Everything is torn down on drop, also when a test fails: daemons are
//! stopped by pid, every process left in a namespace is killed, namespaces
//! and the route are removed.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use muster_lxd::LxdClient;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::Pid;

pub const SUBNET: &str = "10.231.251.0/24";
const READY_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Member {
    /// The LXD server name the tests give it: m1, m2...
    pub name: String,
    pub namespace: String,
    pub ip: String,
    pub lxd_dir: PathBuf,
    pub client: LxdClient,
    child: Option<Child>,
    spawned_at: Instant,
    /// From spawn to the first answer on the socket.
    pub startup: Duration,
}

impl Member {
    pub fn https_address(&self) -> String {
        format!("{}:8443", self.ip)
    }
}

pub struct Lab {
    pub members: Vec<Member>,
    namespaces: Vec<String>,
    route_added: bool,
    // Dropped after teardown (field order), removing every LXD_DIR.
    _dir: tempfile::TempDir,
}

/// Fails the test, saying why it did not run, unless it can run here.
pub fn require_root_and_lxd() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "did not run: this end-to-end test needs root (it creates network namespaces \
         and runs LXD daemons); run `cargo test -p muster-lxd` as root"
    );
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("lxd").is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "did not run: this end-to-end test needs LXD (apt-get install lxd nftables)"
    );
}

fn run(cmd: &mut Command) -> Result<String, String> {
    let shown = format!("{cmd:?}");
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{shown}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{shown} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn ip(args: &[&str]) -> Result<String, String> {
    run(Command::new("ip").args(args))
}

fn in_ns(ns: &str, args: &[&str]) -> Result<String, String> {
    run(Command::new("ip").args(["netns", "exec", ns]).args(args))
}

impl Lab {
    /// Starts `n` LXD daemons named m1..mn at 10.231.251.1..n. `tag` keeps
    /// namespace names apart between tests.
    pub async fn start(tag: &str, n: usize) -> Lab {
        assert!((2..=9).contains(&n));
        // Orphans (LXD's dnsmasq) get reparented to this process, which
        // reaps them at teardown instead of leaving zombies behind.
        let _ = nix::sys::prctl::set_child_subreaper(true);
        let dir = tempfile::Builder::new()
            .prefix("muster-lxd-e2e-")
            .tempdir()
            .expect("temporary directory");
        let mut lab = Lab {
            members: Vec::new(),
            namespaces: Vec::new(),
            route_added: false,
            _dir: dir,
        };
        // On failure the partly built lab is dropped, which tears it down.
        if let Err(e) = lab.build(tag, n).await {
            panic!("cannot set up the LXD lab: {e}");
        }
        lab
    }

    async fn build(&mut self, tag: &str, n: usize) -> Result<(), String> {
        // "File exists" means someone already blackholes the range; leave
        // their route alone.
        self.route_added = ip(&["route", "add", "blackhole", SUBNET]).is_ok();
        let prefix = format!("mlxd{}{tag}", std::process::id());
        let names: Vec<String> = (1..=n).map(|i| format!("{prefix}{i}")).collect();
        for ns in &names {
            ip(&["netns", "add", ns])?;
            self.namespaces.push(ns.clone());
            in_ns(ns, &["ip", "link", "set", "lo", "up"])?;
        }
        if n == 2 {
            // The pair is created directly inside the namespaces: it never
            // exists in the host's.
            ip(&[
                "link", "add", "eth0", "netns", &names[0], "type", "veth", "peer", "name", "eth0",
                "netns", &names[1],
            ])?;
        } else {
            let sw = format!("{prefix}sw");
            ip(&["netns", "add", &sw])?;
            self.namespaces.push(sw.clone());
            in_ns(&sw, &["ip", "link", "add", "br0", "type", "bridge"])?;
            in_ns(&sw, &["ip", "link", "set", "br0", "up"])?;
            for (i, ns) in names.iter().enumerate() {
                let port = format!("p{}", i + 1);
                ip(&[
                    "link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", &port,
                    "netns", &sw,
                ])?;
                in_ns(&sw, &["ip", "link", "set", &port, "master", "br0", "up"])?;
            }
        }
        for (i, ns) in names.iter().enumerate() {
            let addr = format!("10.231.251.{}/24", i + 1);
            in_ns(ns, &["ip", "addr", "add", &addr, "dev", "eth0"])?;
            in_ns(ns, &["ip", "link", "set", "eth0", "up"])?;
        }
        for (i, ns) in names.iter().enumerate() {
            let member = self.spawn_lxd(i + 1, ns)?;
            self.members.push(member);
        }
        // The daemons start side by side; wait for each to answer.
        for m in &mut self.members {
            loop {
                if m.client.server().await.is_ok() {
                    m.startup = m.spawned_at.elapsed();
                    break;
                }
                if let Some(child) = m.child.as_mut() {
                    if let Ok(Some(status)) = child.try_wait() {
                        return Err(format!(
                            "LXD in {} exited ({status}); see {}",
                            m.namespace,
                            m.lxd_dir.with_extension("log").display()
                        ));
                    }
                }
                if m.spawned_at.elapsed() > READY_TIMEOUT {
                    return Err(format!("LXD in {} did not answer in time", m.namespace));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(())
    }

    fn spawn_lxd(&mut self, i: usize, ns: &str) -> Result<Member, String> {
        let lxd_dir = self._dir.path().join(format!("m{i}"));
        std::fs::create_dir(&lxd_dir).map_err(|e| e.to_string())?;
        let log = lxd_dir.with_extension("log");
        let out = File::create(lxd_dir.with_extension("out")).map_err(|e| e.to_string())?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new("ip")
            .args(["netns", "exec", ns, "env"])
            .arg(format!("LXD_DIR={}", lxd_dir.display()))
            .args(["lxd", "--verbose", "--group", "root", "--logfile"])
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start lxd: {e}"))?;
        let spawned_at = Instant::now();
        let client = LxdClient::new(lxd_dir.join("unix.socket"))
            .map_err(|e| e.to_string())?
            .with_request_timeout(Duration::from_secs(20))
            .with_operation_timeout(Duration::from_secs(20));
        Ok(Member {
            name: format!("m{i}"),
            namespace: ns.to_owned(),
            ip: format!("10.231.251.{i}"),
            lxd_dir,
            client,
            child: Some(child),
            spawned_at,
            startup: Duration::ZERO,
        })
    }

    pub fn log_tail(&self) -> String {
        let mut out = String::new();
        for m in &self.members {
            let text = std::fs::read_to_string(m.lxd_dir.with_extension("log")).unwrap_or_default();
            let tail: Vec<_> = text.lines().rev().take(40).collect();
            out.push_str(&format!("--- {} ({}) log tail ---\n", m.name, m.namespace));
            for l in tail.into_iter().rev() {
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    }

    fn stop_member(m: &mut Member) {
        let Some(mut child) = m.child.take() else {
            return;
        };
        if let Ok(None) = child.try_wait() {
            // A clean shutdown first; LXD waits for its own operations.
            let _ = Command::new("timeout")
                .args(["15", "lxd", "shutdown", "--timeout", "10"])
                .env("LXD_DIR", &m.lxd_dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let pid = Pid::from_raw(child.id() as i32);
        for signal in [None, Some(Signal::SIGTERM), Some(Signal::SIGKILL)] {
            if let Some(signal) = signal {
                let _ = kill(pid, signal);
            }
            if wait_exit(&mut child, Duration::from_secs(5)) {
                return;
            }
        }
    }

    fn kill_namespace_processes(ns: &str) {
        for _ in 0..20 {
            let pids: Vec<i32> = ip(&["netns", "pids", ns])
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect();
            if pids.is_empty() {
                return;
            }
            for p in pids {
                let pid = Pid::from_raw(p);
                let _ = kill(pid, Signal::SIGKILL);
                // Reaps it when it was reparented to this process.
                let _ = waitpid(pid, Some(WaitPidFlag::WNOHANG));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn wait_exit(child: &mut Child, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(_)) = child.try_wait() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

impl Drop for Lab {
    fn drop(&mut self) {
        let start = Instant::now();
        // Joiners first, the bootstrap member (database leader) last.
        for m in self.members.iter_mut().rev() {
            Lab::stop_member(m);
        }
        for ns in &self.namespaces {
            Lab::kill_namespace_processes(ns);
            if let Err(e) = ip(&["netns", "del", ns]) {
                eprintln!("lab teardown: {e}");
            }
        }
        if self.route_added {
            if let Err(e) = ip(&["route", "del", "blackhole", SUBNET]) {
                eprintln!("lab teardown: {e}");
            }
        }
        eprintln!("lab teardown took {:.2?}", start.elapsed());
    }
}
