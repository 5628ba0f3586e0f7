//! Tests of the lab itself. They need root: run as another user, each one
//! fails saying it did not run, rather than passing without testing.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use muster_lab::{require_root, Lab, LabError, LabRecord, LabSpec, Server, Signal, Target};

fn need_root() {
    if let Err(e) = require_root() {
        panic!("this test did not run: {e}");
    }
}

/// A lab name unique to this test process, starting with "mlab" so that
/// tests/run notices a lab left behind.
fn lab_name(tag: char) -> String {
    format!("mlab{:04x}{tag}", std::process::id() & 0xffff)
}

fn small_lab(name: &str, servers: usize) -> LabSpec {
    LabSpec {
        servers,
        disks_per_server: 1,
        disk_size_bytes: 64 << 20,
        name: Some(name.to_string()),
        agents: false,
        ..LabSpec::default()
    }
}

/// What a lab had, to check afterwards that none of it is left.
struct Footprint {
    prefix: String,
    subnet: String,
    disks: Vec<(PathBuf, PathBuf)>,
}

impl Footprint {
    fn new(prefix: &str, subnet: String, servers: &[Server]) -> Footprint {
        Footprint {
            prefix: prefix.to_string(),
            subnet,
            disks: servers
                .iter()
                .flat_map(|s| s.disks.iter().cloned().zip(s.disk_files.iter().cloned()))
                .collect(),
        }
    }

    fn of(lab: &Lab) -> Footprint {
        Footprint::new(lab.prefix(), lab.subnet(), lab.servers())
    }

    /// The footprint of a lab made by the command, from its state file.
    fn recorded(name: &str) -> Footprint {
        let record = LabRecord::load(name).unwrap();
        Footprint::new(name, record.subnet(), &record.servers)
    }

    /// Entries of `dir` named after the lab's namespaces.
    fn named_after_namespaces(&self, dir: &str) -> Vec<String> {
        let ours = format!("{}-", self.prefix);
        fs::read_dir(dir)
            .map(|d| {
                d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .filter(|n| n.starts_with(&ours))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn namespaces(&self) -> Vec<String> {
        self.named_after_namespaces("/run/netns")
    }

    fn blackhole(&self) -> bool {
        let out = Command::new("ip")
            .args(["-4", "route", "show", "exact", &self.subnet])
            .output()
            .unwrap();
        !String::from_utf8_lossy(&out.stdout).trim().is_empty()
    }

    fn assert_gone(&self) {
        assert_eq!(self.namespaces(), Vec::<String>::new(), "namespaces left");
        assert_eq!(
            self.named_after_namespaces("/etc/netns"),
            Vec::<String>::new(),
            "/etc/netns entries left"
        );
        for (device, file) in &self.disks {
            let name = device.file_name().unwrap().to_str().unwrap();
            let backing = fs::read_to_string(format!("/sys/block/{name}/loop/backing_file"));
            assert!(
                !backing.is_ok_and(|b| b.trim().starts_with(file.to_str().unwrap())),
                "{} still attached to {}",
                device.display(),
                file.display()
            );
        }
        assert!(!self.blackhole(), "blackhole route {} left", self.subnet);
        let dir = Path::new("/var/tmp/muster-lab").join(&self.prefix);
        assert!(!dir.exists(), "{} left", dir.display());
        let state = Path::new("/run/muster-lab").join(format!("{}.json", self.prefix));
        assert!(!state.exists(), "{} left", state.display());
    }
}

#[test]
fn lab_network_disks_and_teardown() {
    need_root();
    let lab = Lab::up(small_lab(&lab_name('n'), 2)).unwrap();
    let footprint = Footprint::of(&lab);
    assert_eq!(footprint.namespaces().len(), 4, "switch, client, s1, s2");
    assert!(footprint.blackhole());
    assert!(lab.state_file().exists());

    // From the host, a lab address is unreachable at once, by the route.
    let s1 = lab.server(1).ip;
    let err = TcpStream::connect_timeout(&SocketAddr::from((s1, 9443)), Duration::from_secs(5))
        .expect_err("the host reached a lab address");
    assert_eq!(
        err.raw_os_error(),
        Some(nix::errno::Errno::EINVAL as i32),
        "{err}"
    );

    // Inside the lab, machines reach each other: s1 and the client to s2.
    let listener = lab
        .in_netns(Target::Server(2), || TcpListener::bind("0.0.0.0:0"))
        .unwrap()
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let s2 = SocketAddr::from((lab.server(2).ip, port));
    for from in [Target::Server(1), Target::Client] {
        let mut conn = lab
            .in_netns(from, || {
                TcpStream::connect_timeout(&s2, Duration::from_secs(5))
            })
            .unwrap()
            .unwrap();
        let (mut accepted, peer) = listener.accept().unwrap();
        let expected = match from {
            Target::Server(n) => lab.server(n).ip,
            Target::Client => lab.client().ip,
        };
        assert_eq!(peer.ip(), expected);
        conn.write_all(b"hello").unwrap();
        let mut buf = [0; 5];
        accepted.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"hello");
    }

    // Commands run in the server's namespace: its address, no IPv6, no way out.
    let out = lab
        .exec(Target::Server(1), ["ip", "-brief", "addr", "show", "eth0"])
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("{s1}/24")));
    let out = lab.exec(Target::Client, ["ip", "-6", "addr"]).unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "");
    let out = lab
        .exec(Target::Server(2), ["ip", "route", "get", "192.0.2.1"])
        .unwrap();
    assert!(!out.status.success(), "a lab server has a route out");
    assert!(lab.exec(Target::Server(3), ["true"]).is_err());

    // One loop disk per server, backed by its sparse file.
    for server in lab.servers() {
        assert_eq!(server.disks.len(), 1);
        let name = server.disks[0].file_name().unwrap().to_str().unwrap();
        let backing = fs::read_to_string(format!("/sys/block/{name}/loop/backing_file")).unwrap();
        assert_eq!(Path::new(backing.trim()), server.disk_files[0]);
        let sectors: u64 = fs::read_to_string(format!("/sys/block/{name}/size"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(sectors * 512, 64 << 20);
    }

    lab.down().unwrap();
    footprint.assert_gone();
    lab.down().unwrap();
}

#[test]
fn a_panicking_test_leaves_no_lab_behind() {
    need_root();
    let mut footprint = None;
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let lab = Lab::up(small_lab(&lab_name('p'), 1)).unwrap();
        footprint = Some(Footprint::of(&lab));
        panic!("a test failing with a lab up");
    }));
    assert!(result.is_err());
    footprint.expect("the lab came up").assert_gone();
}

/// Writes an executable shell script.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// The stand-in agent of `agents_start_stop_and_fail`: this test program
/// started again, running only this function, which listens on the socket
/// named in the config it is given.
#[test]
#[ignore = "helper: the stand-in agent that agents_start_stop_and_fail starts, not a test"]
fn fake_agent() {
    let Some(config) = std::env::var_os("MUSTER_LAB_FAKE_AGENT") else {
        return;
    };
    let config: toml::Value = toml::from_str(&fs::read_to_string(config).unwrap()).unwrap();
    let socket = config["socket"].as_str().unwrap();
    println!("fake agent {} on {socket}", config["name"]);
    let _ = fs::remove_file(socket);
    for conn in UnixListener::bind(socket).unwrap().incoming() {
        drop(conn);
    }
}

/// A `musterd` in `dir` that runs [`fake_agent`].
fn fake_agent_script(dir: &Path) -> PathBuf {
    let me = std::env::current_exe().unwrap();
    script(
        dir,
        "musterd",
        &format!(
            "[ \"$1\" = --config ] || exit 64\nMUSTER_LAB_FAKE_AGENT=\"$2\" exec '{}' --exact fake_agent --include-ignored --nocapture --test-threads=1",
            me.display()
        ),
    )
}

#[test]
fn agents_start_stop_and_fail() {
    need_root();
    let bin = tempfile::tempdir().unwrap();
    let agent = fake_agent_script(bin.path());
    let lab = Lab::up(LabSpec {
        agents: true,
        agent_bin: Some(agent),
        ..small_lab(&lab_name('a'), 2)
    })
    .unwrap();
    let footprint = Footprint::of(&lab);
    let s2 = lab.server(2);
    let config = fs::read_to_string(&s2.config).unwrap();
    assert!(config.contains("name = \"s2\""), "{config}");
    assert!(config.contains(s2.disks[0].to_str().unwrap()), "{config}");
    UnixStream::connect(&s2.socket).unwrap();

    let first = lab.agent_pid(2).unwrap();
    let status = lab.stop_agent(2, Signal::SIGTERM).unwrap();
    assert_eq!(status.signal(), Some(15));
    assert_eq!(lab.agent_pid(2), None);
    assert!(matches!(
        lab.stop_agent(2, Signal::SIGTERM),
        Err(LabError::AgentNotRunning(_))
    ));
    lab.start_agent(2).unwrap();
    let second = lab.agent_pid(2).unwrap();
    assert_ne!(first, second);
    assert!(matches!(lab.start_agent(2), Err(LabError::AgentRunning(_))));
    assert!(fs::read_to_string(&s2.log).unwrap().contains("fake agent"));

    let agents = [lab.agent_pid(1).unwrap(), second];
    lab.down().unwrap();
    footprint.assert_gone();
    for pid in agents {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "agent {pid} survived: {:?} {:?}",
            fs::read_to_string(format!("/proc/{pid}/stat")),
            fs::read_to_string(format!("/proc/{pid}/status")).map(|s| s
                .lines()
                .take(8)
                .collect::<Vec<_>>()
                .join("|"))
        );
    }

    // An agent that dies at start: the error shows its log, nothing is left.
    let broken = script(bin.path(), "broken", "echo 'agent: bad config' >&2\nexit 3");
    let name = lab_name('b');
    let err = Lab::up(LabSpec {
        agents: true,
        agent_bin: Some(broken),
        ..small_lab(&name, 1)
    })
    .err()
    .expect("a lab whose agent dies came up");
    let text = err.to_string();
    assert!(
        text.contains("exit status: 3") && text.contains("agent: bad config"),
        "{text}"
    );
    Footprint {
        prefix: name,
        subnet: footprint.subnet,
        disks: Vec::new(),
    }
    .assert_gone();
}

fn muster_lab(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_muster-lab"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn command_line_up_exec_status_down() {
    need_root();
    let name = lab_name('c');
    let up = stdout(&muster_lab(&[
        "up",
        "--servers",
        "1",
        "--disks",
        "1",
        "--disk-size",
        "16M",
        "--no-agents",
        "--name",
        &name,
    ]));
    assert!(up.contains(&format!("{name}-s1")), "{up}");
    let addr = stdout(&muster_lab(&[
        "exec", "--name", &name, "s1", "--", "ip", "-brief", "addr", "show", "eth0",
    ]));
    assert!(addr.contains(".11/24"), "{addr}");
    let status = stdout(&muster_lab(&["status"]));
    assert!(
        status.contains(&name) && status.contains("left running"),
        "{status}"
    );
    let bad = muster_lab(&["exec", "--name", &name, "7", "--", "true"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).starts_with("error: no server 7"));

    let record = Footprint::recorded(&name);
    stdout(&muster_lab(&["down", "--name", &name]));
    record.assert_gone();
}

#[test]
fn a_foreground_lab_goes_on_sigterm() {
    need_root();
    let name = lab_name('f');
    let mut child = Command::new(env!("CARGO_BIN_EXE_muster-lab"))
        .args([
            "up",
            "--servers",
            "1",
            "--disk-size",
            "16M",
            "--no-agents",
            "--foreground",
            "--name",
            &name,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = lines.any(|l| l.is_ok_and(|l| l.contains("Ctrl-C")));
    let record = ready.then(|| Footprint::recorded(&name));
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        Signal::SIGTERM,
    );
    let status = child.wait().unwrap();
    let record = record.expect("the lab did not come up");
    assert_eq!(status.code(), Some(143));
    record.assert_gone();
}

/// The state letter of a process, `None` once it is gone.
fn process_state(pid: u32) -> Option<char> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    muster_lab::plan::parse_stat_state(&stat)
}

#[test]
fn a_ceph_lab_shows_each_server_its_ceph_dir_as_etc_ceph() {
    need_root();
    assert!(
        Path::new("/etc/ceph").is_dir(),
        "this test did not run: the host has no /etc/ceph (apt-get install ceph-common)"
    );
    let bin = tempfile::tempdir().unwrap();
    let name = lab_name('e');
    let lab = Lab::up(LabSpec {
        agents: true,
        agent_bin: Some(fake_agent_script(bin.path())),
        ceph: true,
        ..small_lab(&name, 1)
    })
    .unwrap();
    let footprint = Footprint::of(&lab);
    let s1 = lab.server(1);
    assert_eq!(s1.ceph_dir, s1.dir.join("ceph"));
    let config = fs::read_to_string(&s1.config).unwrap();
    let section = format!(
        "\n[ceph]\nroot = \"{}\"\ndaemons = \"agent\"\nmon_data_avail_warn = 5\nosd_memory_target = 939524096\n",
        s1.ceph_dir.display()
    );
    assert!(config.contains(&section), "{config}");

    // What the lab runs in s1 (commands, the agent) finds s1's Ceph
    // directory as /etc/ceph; the host keeps its own.
    let conf = "[global]\nfsid = written-by-the-lab-test\n";
    fs::write(s1.ceph_dir.join("ceph.conf"), conf).unwrap();
    let out = lab
        .exec(Target::Server(1), ["cat", "/etc/ceph/ceph.conf"])
        .unwrap();
    assert_eq!(stdout(&out), conf);
    let agent = lab.agent_pid(1).unwrap();
    let seen = fs::read_to_string(format!("/proc/{agent}/root/etc/ceph/ceph.conf"));
    assert_eq!(seen.unwrap(), conf, "the agent's /etc/ceph");
    assert_ne!(
        fs::read_to_string("/etc/ceph/ceph.conf").ok().as_deref(),
        Some(conf)
    );

    // Like an OSD whose agent is gone: re-parented, holding its loop disk
    // open and slow to stop (it ignores SIGTERM).
    let disk = s1.disks[0].to_str().unwrap();
    let out = lab
        .exec(
            Target::Server(1),
            [
                "sh",
                "-c",
                "trap '' TERM; sleep 600 <\"$0\" >/dev/null 2>&1 & echo $!",
                disk,
            ],
        )
        .unwrap();
    let daemon: u32 = stdout(&out).trim().parse().unwrap();
    assert_eq!(
        fs::read_link(format!("/proc/{daemon}/fd/0")).unwrap(),
        Path::new(disk)
    );

    // Torn down from its state file, as `muster-lab down` does after the
    // lab's process died.
    lab.detach().unwrap();
    stdout(&muster_lab(&["down", "--name", &name]));
    footprint.assert_gone();
    assert!(
        matches!(process_state(daemon), None | Some('Z')),
        "the stand-in daemon {daemon} survived"
    );
}
