//! A lab with LXD whose agents `muster init` drives: the test's files,
//! preseed files, running `muster init` and reading LXD and the logs.

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use muster_lab::{Daemon, Lab, LabSpec, Signal, Target};
use muster_lxd::LxdClient;
use muster_proto::formation::InitEvent;

use super::path_str;

/// `servers` servers with `daemon` (LXD or Incus) and Ceph, `disks`
/// sparse 4 GiB loop disks each.
pub fn ceph_lab(servers: usize, disks: usize, daemon: Daemon) -> Lab {
    Lab::up(LabSpec {
        servers,
        disks_per_server: disks,
        disk_size_bytes: 4 << 30,
        lxd: true,
        ceph: true,
        daemon,
        ..LabSpec::default()
    })
    .expect("bring the lab up")
}

/// The passphrase of the joiners' zero-touch enrollment and the session.
pub const ENROLLMENT: &str = "formation enrollment passphrase for the lab";

pub struct Trial<'a> {
    pub lab: &'a Lab,
    pub files: PathBuf,
    pub rt: tokio::runtime::Runtime,
    /// The instance network's subnet: inside the lab, not its LAN.
    bridge: String,
}

impl<'a> Trial<'a> {
    pub fn new(lab: &'a Lab) -> Trial<'a> {
        let files = lab.dir().join("formation-test");
        fs::create_dir_all(&files).expect("create the test's directory");
        let lan: u8 = lab.subnet().split('.').nth(2).unwrap().parse().unwrap();
        let k = if lan == 247 { 248 } else { 247 };
        Trial {
            lab,
            files,
            rt: tokio::runtime::Runtime::new().expect("a tokio runtime"),
            bridge: format!("10.231.{k}.1/24"),
        }
    }

    /// The instance network's gateway address and prefix ("10.231.247.1/24").
    pub fn bridge(&self) -> &str {
        &self.bridge
    }

    /// What every address on the instance network starts with.
    pub fn bridge_prefix(&self) -> String {
        let host = self.bridge.rsplit_once('.').map_or("", |(net, _)| net);
        format!("{host}.")
    }

    /// [`super::containers_run_on`] on `servers` of this trial's cluster.
    pub fn containers_run_on(&self, servers: &[usize], pool: &str) {
        super::containers_run_on(self.lab, servers, pool, &self.bridge_prefix());
    }

    pub fn secret(&self, name: &str, text: &str) -> PathBuf {
        super::secret(&self.files, name, text)
    }

    /// Enrolls every server but s1 zero-touch.
    pub fn enroll_all(&self) {
        for server in 2..=self.lab.servers().len() {
            self.enroll(server);
        }
    }

    /// Gives a server the enrollment passphrase and restarts its agent.
    pub fn enroll(&self, server: usize) {
        let file = self.secret("enrollment", ENROLLMENT);
        super::enroll_with(self.lab, server, &file);
        self.lab
            .stop_agent(server, Signal::SIGTERM)
            .expect("stop the agent");
        self.lab.start_agent(server).expect("start the agent");
    }

    /// A preseed file for `members`, s1 first unless `initiator` says.
    pub fn preseed(&self, name: &str, initiator: usize, members: &str) -> PathBuf {
        let text = format!(
            "# written by an end-to-end test (tests/e2e/tests/common/trial.rs)\n\
             {}\
             initiator: s{initiator}\n\
             members:\n{members}\
             network:\n  cluster_interface: eth0\n  instances:\n    name: lxdbr0\n    ipv4: {}\n    ipv6: none\n",
            self.session(),
            self.bridge,
        );
        self.write_file(name, &text)
    }

    /// A file of new members for `muster add`, with the trial's session.
    pub fn addition(&self, name: &str, members: &str) -> PathBuf {
        let text = format!("{}members:\n{members}", self.session());
        self.write_file(name, &text)
    }

    fn session(&self) -> String {
        let passphrase = self.secret("session", ENROLLMENT);
        format!(
            "session:\n  passphrase_file: {}\n  enrollment: true\n  timeout: 2m\n",
            passphrase.display()
        )
    }

    fn write_file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.files.join(name);
        fs::write(&path, text).expect("write a preseed");
        path
    }

    pub fn init(&self, server: usize, preseed: &Path, extra: &[&str]) -> Output {
        self.muster(server, "init", preseed, extra)
    }

    /// `muster COMMAND --preseed FILE EXTRA...` on `server`.
    pub fn muster(&self, server: usize, command: &str, file: &Path, extra: &[&str]) -> Output {
        let mut argv = vec!["muster", command, "--preseed", path_str(file)];
        argv.extend_from_slice(extra);
        self.lab
            .exec(Target::Server(server), argv)
            .expect("run muster in the lab")
    }

    pub fn init_ok(&self, server: usize, preseed: &Path) -> String {
        self.muster_ok(server, "init", preseed)
    }

    /// `muster COMMAND --preseed FILE` succeeds on `server`; its output.
    pub fn muster_ok(&self, server: usize, command: &str, file: &Path) -> String {
        let out = self.muster(server, command, file, &[]);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "s{server}: muster {command} failed:\n{stdout}\n{}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.logs()
        );
        stdout
    }

    /// `muster init` fails; its standard error.
    pub fn init_fails(&self, server: usize, preseed: &Path) -> String {
        let out = self.init(server, preseed, &[]);
        assert!(
            !out.status.success(),
            "s{server}: muster init succeeded but should not have:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// Runs `muster init --json` on `server` and, at `moment` in its
    /// progress, kills server `victim`'s agent by its pid (SIGKILL: no
    /// cleanup, as a crash) from outside; init must then fail. Its standard
    /// error. The victim is left stopped.
    pub fn init_killing(
        &self,
        server: usize,
        preseed: &Path,
        moment: Moment,
        victim: usize,
    ) -> String {
        let run = self.init_with_kill(server, preseed, moment, victim);
        let killed = run
            .acted
            .unwrap_or_else(|| panic!("the moment never came; {}", run.said));
        assert_eq!(
            killed.signal(),
            Some(9),
            "s{victim}'s agent was not killed; {}",
            run.said
        );
        assert!(!run.succeeded, "init succeeded; {}", run.said);
        run.stderr
    }

    /// Runs `muster init --json` on `server` and, at `moment` in its
    /// progress, kills server `victim`'s agent by its pid (SIGKILL) from
    /// outside. What happened, unjudged; the victim is left stopped.
    pub fn init_with_kill(
        &self,
        server: usize,
        preseed: &Path,
        moment: Moment,
        victim: usize,
    ) -> KilledRun {
        self.init_acting(server, preseed, moment, || {
            self.lab
                .stop_agent(victim, Signal::SIGKILL)
                .expect("kill the agent")
        })
    }

    /// Waits (bounded) until the LXD of every clustered server of 1..=`servers` answers for its
    /// cluster and sees every member it lists online.
    pub fn healed(&self, servers: usize) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let mut unwell = Vec::new();
            for n in 1..=servers {
                let lxd = self.lxd(n);
                let clustered = self
                    .rt
                    .block_on(lxd.server())
                    .map(|s| s.environment.server_clustered);
                match clustered {
                    Ok(false) => {}
                    Ok(true) => match self.rt.block_on(lxd.cluster_members()) {
                        Ok(members) if members.iter().all(|m| m.is_online()) => {}
                        Ok(members) => unwell.push(format!("s{n} sees {members:?}")),
                        Err(e) => unwell.push(format!("s{n}: {e}")),
                    },
                    Err(e) => unwell.push(format!("s{n}: {e}")),
                }
            }
            if unwell.is_empty() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("LXD did not heal: {}", unwell.join("; ")));
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Runs `muster init --json` on `server` and, at `moment` in its
    /// progress (and once `wait` returns), takes server `victim`'s lab link
    /// down, and up again [`LINK_OUT`] later while the run goes on. The
    /// run, unjudged ([`judge_link_fault`]), once the link is up again.
    pub fn init_with_link_out(
        &self,
        server: usize,
        preseed: &Path,
        moment: Moment,
        victim: usize,
        wait: impl FnOnce(),
    ) -> Result<Run<()>, String> {
        let lab = self.lab;
        // The scope ends only once the link is up again, whatever the run did.
        std::thread::scope(|scope| {
            let mut run = self.init_acting(server, preseed, moment, || {
                wait();
                lab.set_link(victim, false).map(|()| {
                    scope.spawn(move || {
                        std::thread::sleep(LINK_OUT);
                        lab.set_link(victim, true)
                    })
                })
            });
            let back_up = match run.acted.take() {
                None => return Err(format!("the moment never came; {}", run.said)),
                Some(Err(e)) => return Err(format!("take s{victim}'s link down: {e}")),
                Some(Ok(up)) => up.join().expect("the link's thread"),
            };
            back_up.map_err(|e| format!("bring s{victim}'s link up: {e}"))?;
            Ok(Run {
                acted: Some(()),
                succeeded: run.succeeded,
                hung: run.hung,
                events: run.events,
                stderr: run.stderr,
                said: run.said,
            })
        })
    }

    /// Runs `muster init --json` on `server` and, at `moment` in its
    /// progress, does `act` once. What happened, unjudged. An init still
    /// running after [`INIT_LIMIT`] is killed (by its pid) and counts as
    /// failed, its output saying so: a hang must end the test, not stall it.
    pub fn init_acting<R>(
        &self,
        server: usize,
        preseed: &Path,
        mut moment: Moment,
        act: impl FnOnce() -> R,
    ) -> Run<R> {
        let argv = ["muster", "init", "--preseed", path_str(preseed), "--json"];
        let mut child = self
            .lab
            .spawn(Target::Server(server), argv)
            .expect("start muster init in the lab");
        let (finished, watch) = std::sync::mpsc::channel::<()>();
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let watchdog = std::thread::spawn(move || {
            let hung = watch.recv_timeout(INIT_LIMIT).is_err();
            if hung {
                // Our own child, by its pid; it is reaped below.
                let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
            }
            hung
        });
        let mut stderr = child.stderr.take().expect("init's standard error");
        let errors = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let stdout = child.stdout.take().expect("init's standard output");
        let mut lines = Vec::new();
        let mut events = Vec::new();
        let mut act = Some(act);
        let mut acted = None;
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("read init's output");
            let event: Option<InitEvent> = serde_json::from_str(&line).ok();
            if acted.is_none() && event.as_ref().is_some_and(&mut moment) {
                acted = act.take().map(|act| act());
            }
            events.extend(event);
            lines.push(line);
        }
        let status = child.wait().expect("wait for muster init");
        let _ = finished.send(());
        let hung = watchdog.join().expect("the watchdog");
        let stderr = errors.join().expect("read init's standard error");
        let said = format!(
            "init said{}:\n{}\n{stderr}\n{}",
            if hung {
                format!(" (killed: still running after {INIT_LIMIT:?})")
            } else {
                String::new()
            },
            lines.join("\n"),
            self.logs()
        );
        Run {
            acted,
            succeeded: status.success() && !hung,
            hung,
            events,
            stderr,
            said,
        }
    }

    pub fn lxd(&self, server: usize) -> LxdClient {
        LxdClient::new(self.lab.server(server).lxd_socket())
            .expect("an LXD client")
            .with_request_timeout(Duration::from_secs(60))
            .with_operation_timeout(Duration::from_secs(60))
    }

    /// The members `server`'s LXD lists, sorted.
    pub fn lxd_members(&self, server: usize) -> Vec<String> {
        let members = self.rt.block_on(self.lxd(server).cluster_members());
        let mut names: Vec<String> = members
            .expect("GET /1.0/cluster/members")
            .into_iter()
            .map(|m| m.server_name)
            .collect();
        names.sort();
        names
    }

    pub fn clustered(&self, server: usize) -> bool {
        let lxd = self.lxd(server);
        self.rt
            .block_on(lxd.server())
            .expect("GET /1.0")
            .environment
            .server_clustered
    }

    /// The tails of the agents' and LXDs' logs, for failure messages.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for s in self.lab.servers() {
            for log in [&s.log, &s.lxd_log] {
                let text = fs::read_to_string(log).unwrap_or_default();
                let lines: Vec<&str> = text.lines().rev().take(15).collect();
                out.push_str(&format!("--- {} ---\n", log.display()));
                for l in lines.into_iter().rev() {
                    out.push_str(l);
                    out.push('\n');
                }
            }
        }
        out
    }
}

/// How long a `muster init` in a test may run: above the longest wait of
/// its own (a join's 200 s) with the observations around it.
pub const INIT_LIMIT: Duration = Duration::from_secs(420);

/// A `muster init` during which the test acted once.
pub struct Run<R> {
    /// What the act gave, when the moment came.
    pub acted: Option<R>,
    pub succeeded: bool,
    /// Whether it was killed for running past [`INIT_LIMIT`].
    pub hung: bool,
    /// Its progress, as `--json` printed it.
    pub events: Vec<InitEvent>,
    pub stderr: String,
    /// Everything init printed, and the logs' tails: for failure messages.
    pub said: String,
}

/// A `muster init` whose agent was killed on the way: the victim's exit
/// status, when the moment came.
pub type KilledRun = Run<std::process::ExitStatus>;

/// How long a pulled link stays out: LXD's offline threshold (20 s by
/// default), so the cluster may see the member gone.
pub const LINK_OUT: Duration = Duration::from_secs(20);

/// A run whose member lost its link: it completed, or failed naming the
/// member: at the step it stopped (its `Failed` event names both, and the
/// message too), or reading the member's state between steps, where no
/// step runs (the event names the member alone). What it did, in a line.
pub fn judge_link_fault<R>(run: &Run<R>, victim: usize) -> Result<String, String> {
    if run.hung {
        return Err(format!("muster init hung; {}", run.said));
    }
    if run.succeeded {
        return Ok("waited and completed".to_owned());
    }
    let name = format!("s{victim}");
    let failed = run.events.iter().find_map(|e| match e {
        InitEvent::Failed {
            message,
            member,
            step,
        } => Some((message, member.as_deref(), step.as_deref())),
        _ => None,
    });
    let named = match failed {
        Some((message, Some(member), Some(step))) => {
            member == name && message.starts_with(&format!("{name}: {step} failed"))
        }
        Some((message, Some(member), None)) => {
            member == name && message.starts_with(&format!("{name}: cannot read"))
        }
        _ => false,
    };
    match failed {
        Some((message, ..)) if named => Ok(format!("failed: {}", message.replace('\n', " | "))),
        _ => Err(format!("init failed without naming {name}; {}", run.said)),
    }
}

pub fn member(n: usize) -> String {
    format!("  - name: s{n}\n")
}

/// Whether an event of `muster init --json` is the moment to act, with
/// what it needs to remember from the events before.
pub type Moment = Box<dyn FnMut(&InitEvent) -> bool>;

/// The moment the step whose description starts with `prefix` starts.
pub fn step_starts(prefix: &str) -> Moment {
    let prefix = prefix.to_owned();
    Box::new(
        move |event| matches!(event, InitEvent::Step { description, .. } if description.starts_with(&prefix)),
    )
}

/// The moment the step whose description starts with `prefix` is done.
pub fn step_done(prefix: &str) -> Moment {
    let prefix = prefix.to_owned();
    let mut started = None;
    Box::new(move |event| match event {
        InitEvent::Step {
            index, description, ..
        } if description.starts_with(&prefix) => {
            started = Some(*index);
            false
        }
        InitEvent::StepDone { index } => started == Some(*index),
        _ => false,
    })
}
