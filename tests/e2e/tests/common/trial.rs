//! A lab with LXD whose agents `muster init` drives: the test's files,
//! preseed files, running `muster init` and reading LXD and the logs.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use muster_lab::{Lab, LabSpec, Signal, Target};
use muster_lxd::LxdClient;

use super::path_str;

/// `servers` servers with LXD and Ceph, `disks` sparse 4 GiB loop disks
/// each.
pub fn ceph_lab(servers: usize, disks: usize) -> Lab {
    Lab::up(LabSpec {
        servers,
        disks_per_server: disks,
        disk_size_bytes: 4 << 30,
        lxd: true,
        ceph: true,
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
        let passphrase = self.secret("session", ENROLLMENT);
        let text = format!(
            "# written by an end-to-end test (tests/e2e/tests/common/trial.rs)\n\
             session:\n  passphrase_file: {}\n  enrollment: true\n  timeout: 2m\n\
             initiator: s{initiator}\n\
             members:\n{members}\
             network:\n  cluster_interface: eth0\n  instances:\n    name: lxdbr0\n    ipv4: {}\n    ipv6: none\n",
            passphrase.display(),
            self.bridge,
        );
        let path = self.files.join(name);
        fs::write(&path, text).expect("write a preseed");
        path
    }

    pub fn init(&self, server: usize, preseed: &Path, extra: &[&str]) -> Output {
        let mut argv = vec!["muster", "init", "--preseed", path_str(preseed)];
        argv.extend_from_slice(extra);
        self.lab
            .exec(Target::Server(server), argv)
            .expect("run muster init in the lab")
    }

    pub fn init_ok(&self, server: usize, preseed: &Path) -> String {
        let out = self.init(server, preseed, &[]);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "s{server}: muster init failed:\n{stdout}\n{}\n{}",
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

    pub fn lxd(&self, server: usize) -> LxdClient {
        LxdClient::new(self.lab.server(server).lxd_socket())
            .expect("an LXD client")
            .with_request_timeout(Duration::from_secs(60))
            .with_operation_timeout(Duration::from_secs(60))
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

pub fn member(n: usize) -> String {
    format!("  - name: s{n}\n")
}
