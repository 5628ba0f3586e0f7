//! Starting, stopping and checking Ceph daemons: in production the
//! packages' systemd units, in the lab processes this program spawns itself
//! (there is no systemd there). The driver only sees [`Supervisor`].

use std::collections::HashMap;
use std::fmt;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::command::{Cmd, CommandRunner, HostRunner};
use crate::conf::MemberPaths;
use crate::error::{CephError, IoContext};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DaemonKind {
    Mon,
    Mgr,
    Osd,
    Mds,
}

impl DaemonKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DaemonKind::Mon => "mon",
            DaemonKind::Mgr => "mgr",
            DaemonKind::Osd => "osd",
            DaemonKind::Mds => "mds",
        }
    }

    /// The program, which is also its process name.
    pub fn program(self) -> &'static str {
        match self {
            DaemonKind::Mon => "ceph-mon",
            DaemonKind::Mgr => "ceph-mgr",
            DaemonKind::Osd => "ceph-osd",
            DaemonKind::Mds => "ceph-mds",
        }
    }
}

/// One daemon: a mon, mgr or mds is named after its member, an OSD by
/// number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Daemon {
    pub kind: DaemonKind,
    pub id: String,
}

impl Daemon {
    pub fn mon(id: &str) -> Daemon {
        Daemon {
            kind: DaemonKind::Mon,
            id: id.to_owned(),
        }
    }

    pub fn mgr(id: &str) -> Daemon {
        Daemon {
            kind: DaemonKind::Mgr,
            id: id.to_owned(),
        }
    }

    pub fn mds(id: &str) -> Daemon {
        Daemon {
            kind: DaemonKind::Mds,
            id: id.to_owned(),
        }
    }

    pub fn osd(id: u32) -> Daemon {
        Daemon {
            kind: DaemonKind::Osd,
            id: id.to_string(),
        }
    }

    /// Ceph's name for it: "mon.s1", "osd.0".
    pub fn name(&self) -> String {
        format!("{}.{}", self.kind.as_str(), self.id)
    }

    /// The systemd unit the Debian/Ubuntu packages ship for it.
    pub fn unit(&self) -> String {
        format!("ceph-{}@{}.service", self.kind.as_str(), self.id)
    }
}

impl fmt::Display for Daemon {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// Starts, stops and checks the Ceph daemons of one member. `start` of a
/// running daemon and `stop` of a stopped one do nothing.
pub trait Supervisor: Send + Sync {
    fn start(&self, daemon: &Daemon) -> Result<(), CephError>;
    fn stop(&self, daemon: &Daemon) -> Result<(), CephError>;
    fn is_running(&self, daemon: &Daemon) -> Result<bool, CephError>;
    /// Stops the daemon for good: its member leaves the cluster.
    fn retire(&self, daemon: &Daemon) -> Result<(), CephError> {
        self.stop(daemon)
    }
}

/// Production: the packages' units (`ceph-mon@ID` and so on), enabled so
/// that they come back after a reboot. muster's package adds a drop-in to
/// `ceph-osd@` that gives the OSD's device (as recorded by
/// [`crate::CephMember::ensure_osd`], not as its `block` link says) to `ceph`
/// before each start:
/// nothing else does for a raw device (ceph-volume would, for its own LVM
/// volumes), and after a reboot it is `root:disk` again.
pub struct SystemdSupervisor {
    runner: Arc<dyn CommandRunner>,
}

impl SystemdSupervisor {
    pub fn new(runner: Arc<dyn CommandRunner>) -> SystemdSupervisor {
        SystemdSupervisor { runner }
    }

    fn systemctl(&self, args: &[&str], daemon: &Daemon) -> Result<(), CephError> {
        let mut argv: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        argv.push(daemon.unit());
        let cmd = Cmd::new("systemctl", argv);
        self.runner.run(&cmd)?.check(&cmd).map(drop)
    }
}

impl Supervisor for SystemdSupervisor {
    fn start(&self, daemon: &Daemon) -> Result<(), CephError> {
        self.systemctl(&["enable", "--now"], daemon)
    }

    fn stop(&self, daemon: &Daemon) -> Result<(), CephError> {
        self.systemctl(&["stop"], daemon)
    }

    /// Also disabled, so that it does not come back at boot.
    fn retire(&self, daemon: &Daemon) -> Result<(), CephError> {
        self.systemctl(&["disable", "--now"], daemon)
    }

    fn is_running(&self, daemon: &Daemon) -> Result<bool, CephError> {
        let cmd = Cmd::new("systemctl", ["is-active", "--quiet", &daemon.unit()]);
        // Any other state (inactive, failed, activating, unknown) is "not
        // running" for the driver's purpose.
        Ok(self.runner.run(&cmd)?.success())
    }
}

/// The lab: runs `ceph-mon -f -i ID -c CONF` (and so on) as child
/// processes, inside a network namespace when given one, and stops them by
/// pid. Daemons it did not start itself are found by their pid file
/// (`pid file` in the member's config), so a new supervisor sees what an
/// earlier one started.
pub struct ProcessSupervisor {
    conf: PathBuf,
    run_dir: PathBuf,
    log_dir: PathBuf,
    netns: Option<String>,
    children: Mutex<HashMap<Daemon, Child>>,
    /// How long SIGTERM may take before SIGKILL.
    pub stop_timeout: Duration,
}

impl ProcessSupervisor {
    pub fn new(paths: &MemberPaths, netns: Option<String>) -> ProcessSupervisor {
        ProcessSupervisor {
            conf: paths.conf.clone(),
            run_dir: paths.run_dir.clone(),
            log_dir: paths.log_dir.clone(),
            netns,
            children: Mutex::new(HashMap::new()),
            stop_timeout: Duration::from_secs(15),
        }
    }

    /// Where a daemon's stdout and stderr go.
    pub fn output_log(&self, daemon: &Daemon) -> PathBuf {
        self.log_dir.join(format!("{}.out", daemon.name()))
    }

    fn pid_file(&self, daemon: &Daemon) -> PathBuf {
        self.run_dir.join(format!("ceph-{}.pid", daemon.name()))
    }

    /// The daemon's pid, from a child of ours or its pid file.
    pub fn pid(&self, daemon: &Daemon) -> Option<u32> {
        let mut children = self.children.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(child) = children.get_mut(daemon) {
            if let Ok(None) = child.try_wait() {
                return Some(child.id());
            }
            children.remove(daemon);
        }
        drop(children);
        let pid: u32 = fs::read_to_string(self.pid_file(daemon))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        is_daemon_process(pid, daemon).then_some(pid)
    }
}

/// A pid file can outlive its process and the pid be reused: check that
/// the process is that daemon.
fn is_daemon_process(pid: u32, daemon: &Daemon) -> bool {
    let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    let program_matches = args
        .first()
        .and_then(|a| Path::new(std::str::from_utf8(a).ok()?).file_name())
        .is_some_and(|n| n == daemon.kind.program());
    program_matches
        && args
            .windows(2)
            .any(|w| w[0] == b"-i" && w[1] == daemon.id.as_bytes())
        && !is_zombie(pid)
}

fn is_zombie(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let state = s.rsplit_once(')')?.1.split_whitespace().next()?.to_owned();
            Some(state == "Z")
        })
        .unwrap_or(true)
}

impl Supervisor for ProcessSupervisor {
    fn start(&self, daemon: &Daemon) -> Result<(), CephError> {
        if self.pid(daemon).is_some() {
            return Ok(());
        }
        fs::create_dir_all(&self.log_dir).io("creating", &self.log_dir)?;
        let log = self.output_log(daemon);
        let out = File::options()
            .create(true)
            .append(true)
            .open(&log)
            .io("opening", &log)?;
        let err = out.try_clone().io("opening", &log)?;
        let args: Vec<String> = vec![
            "-f".into(),
            "--cluster".into(),
            "ceph".into(),
            "-i".into(),
            daemon.id.clone(),
            "-c".into(),
            self.conf.display().to_string(),
        ];
        let program = daemon.kind.program();
        let mut child = HostRunner::command(self.netns.as_deref(), program, &args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|source| CephError::Spawn {
                command: Cmd::new(program, args.clone()).to_string(),
                source,
            })?;
        // A bad config or a missing keyring ends the daemon at once.
        thread::sleep(Duration::from_millis(300));
        if let Ok(Some(status)) = child.try_wait() {
            return Err(CephError::DaemonExited {
                daemon: daemon.name(),
                status: status.to_string(),
                log,
            });
        }
        self.children
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(daemon.clone(), child);
        Ok(())
    }

    fn stop(&self, daemon: &Daemon) -> Result<(), CephError> {
        let child = self
            .children
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(daemon);
        let Some(pid) = child.as_ref().map(Child::id).or_else(|| self.pid(daemon)) else {
            return Ok(());
        };
        let mut child = child;
        let mut gone = || match child.as_mut() {
            Some(c) => !matches!(c.try_wait(), Ok(None)),
            None => !is_daemon_process(pid, daemon),
        };
        for (signal, limit) in [
            (Signal::SIGTERM, self.stop_timeout),
            (Signal::SIGKILL, Duration::from_secs(5)),
        ] {
            if gone() {
                return Ok(());
            }
            let _ = kill(Pid::from_raw(pid as i32), signal);
            let start = Instant::now();
            while start.elapsed() < limit {
                if gone() {
                    return Ok(());
                }
                thread::sleep(Duration::from_millis(50));
            }
        }
        Err(CephError::Invalid(format!(
            "{daemon} (pid {pid}) survived SIGKILL"
        )))
    }

    fn is_running(&self, daemon: &Daemon) -> Result<bool, CephError> {
        Ok(self.pid(daemon).is_some())
    }
}

impl ProcessSupervisor {
    /// Stops every daemon this supervisor started, as fast as it can (the
    /// lab's teardown, a power cut): OSDs and the MDS first (an OSD asks a
    /// mon to mark it down before it exits, and waits for that up to `osd
    /// mon shutdown timeout`, 5 s; an MDS tells the mons it leaves, which
    /// takes about 3 s), then the mgr and mon: each group gets SIGTERM at
    /// once, and what still runs after `grace` gets SIGKILL. Returns the
    /// daemons that needed it.
    pub fn stop_all(&self, grace: Duration) -> Vec<Daemon> {
        let mut children = self.children.lock().unwrap_or_else(|p| p.into_inner());
        let mut killed = Vec::new();
        for group in [
            &[DaemonKind::Osd, DaemonKind::Mds][..],
            &[DaemonKind::Mgr, DaemonKind::Mon],
        ] {
            let mut members: Vec<(&Daemon, &mut Child)> = children
                .iter_mut()
                .filter(|(d, _)| group.contains(&d.kind))
                .collect();
            for (_, child) in &members {
                let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
            }
            let start = Instant::now();
            while start.elapsed() < grace
                && members
                    .iter_mut()
                    .any(|(_, c)| matches!(c.try_wait(), Ok(None)))
            {
                thread::sleep(Duration::from_millis(50));
            }
            for (daemon, child) in members {
                if let Ok(None) = child.try_wait() {
                    let _ = child.kill();
                    let _ = child.wait();
                    killed.push(daemon.clone());
                }
            }
        }
        children.clear();
        killed.sort();
        killed
    }
}

impl Drop for ProcessSupervisor {
    /// Daemons do not outlive the supervisor that started them (only its
    /// own children: daemons found by pid file are left alone).
    fn drop(&mut self) {
        self.stop_all(self.stop_timeout.min(Duration::from_secs(5)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::recording::Recorder;
    use crate::command::CmdOutput;

    #[test]
    fn systemd_runs_the_packages_units() {
        let rec = Arc::new(Recorder::default());
        let s = SystemdSupervisor::new(rec.clone());
        s.start(&Daemon::mon("s1")).unwrap();
        s.start(&Daemon::mgr("s1")).unwrap();
        s.start(&Daemon::osd(7)).unwrap();
        s.stop(&Daemon::osd(7)).unwrap();
        s.start(&Daemon::mds("s1")).unwrap();
        s.stop(&Daemon::mds("s1")).unwrap();
        rec.answers.lock().unwrap().extend([
            CmdOutput {
                code: Some(0),
                ..Default::default()
            },
            CmdOutput {
                code: Some(3),
                ..Default::default()
            },
        ]);
        assert!(s.is_running(&Daemon::mon("s1")).unwrap());
        assert!(!s.is_running(&Daemon::mgr("s1")).unwrap());
        assert_eq!(
            rec.lines(),
            [
                "systemctl enable --now ceph-mon@s1.service",
                "systemctl enable --now ceph-mgr@s1.service",
                "systemctl enable --now ceph-osd@7.service",
                "systemctl stop ceph-osd@7.service",
                "systemctl enable --now ceph-mds@s1.service",
                "systemctl stop ceph-mds@s1.service",
                "systemctl is-active --quiet ceph-mon@s1.service",
                "systemctl is-active --quiet ceph-mgr@s1.service",
            ]
        );
    }

    #[test]
    fn a_failing_systemctl_is_an_error_with_its_words() {
        let rec = Arc::new(Recorder::default());
        rec.answers.lock().unwrap().push(CmdOutput {
            code: Some(5),
            stdout: vec![],
            stderr: b"Unit ceph-mon@s1.service not found.".to_vec(),
        });
        let e = SystemdSupervisor::new(rec)
            .start(&Daemon::mon("s1"))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "`systemctl enable --now ceph-mon@s1.service` failed (exit code 5): Unit ceph-mon@s1.service not found."
        );
    }

    #[test]
    fn the_process_supervisor_knows_nothing_runs_without_a_pid_file() {
        let dir = std::env::temp_dir().join(format!("muster-ceph-sup-{}", std::process::id()));
        let paths = MemberPaths::under(&dir);
        let s = ProcessSupervisor::new(&paths, None);
        assert!(!s.is_running(&Daemon::mon("s1")).unwrap());
        s.stop(&Daemon::mon("s1")).unwrap();
        // A stale pid file naming a process that is not the daemon.
        fs::create_dir_all(&paths.run_dir).unwrap();
        fs::write(
            paths.run_dir.join("ceph-mon.s1.pid"),
            std::process::id().to_string(),
        )
        .unwrap();
        assert!(!s.is_running(&Daemon::mon("s1")).unwrap());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn daemons_have_ceph_names_and_units() {
        assert_eq!(Daemon::osd(3).name(), "osd.3");
        assert_eq!(Daemon::mgr("a").unit(), "ceph-mgr@a.service");
        assert_eq!(Daemon::mds("a").name(), "mds.a");
        assert_eq!(Daemon::mds("a").kind.program(), "ceph-mds");
    }
}
