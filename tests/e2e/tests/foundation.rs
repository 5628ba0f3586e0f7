//! The foundation end to end, in one lab of three real servers (network
//! namespaces, loop disks, one real musterd each) and a fourth machine, the
//! client, that runs the CLI: discovery over real mDNS, disk inventory on real
//! loop devices, hostile mDNS records, SIGTERM and restart.
//!
//! The cases share one lab to keep the run short; each is a function named
//! for what it shows, run in order by the single test below.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, ChildStdout};
use std::sync::mpsc;
use std::time::Duration;

use muster_lab::{Lab, LabSpec, Signal, Target};
use serde_json::Value;

/// How long a single wait for an mDNS event may take before the case fails.
/// Discovery on the lab bridge takes well under a second; this only bounds a
/// broken run.
const EVENT_WAIT: Duration = Duration::from_secs(20);

#[test]
fn foundation_in_a_lab_of_three_servers() {
    if let Err(e) = muster_lab::require_root() {
        panic!("this test did not run: {e}");
    }
    let lab = Lab::up(LabSpec {
        servers: 3,
        disks_per_server: 2,
        ..LabSpec::default()
    })
    .expect("bring the lab up");

    peers_run_on_a_fourth_machine_finds_all_three_agents(&lab);
    each_agent_lists_its_own_loop_disks_as_eligible(&lab);
    a_disk_with_ext4_is_listed_as_not_eligible_with_the_reason(&lab);
    hostile_mdns_records_are_flagged_and_never_crash_the_browser(&lab);
    sigterm_removes_an_agent_from_a_running_peers(&lab);
    a_restarted_agent_keeps_its_identity(&lab);

    lab.down().expect("tear the lab down");
}

fn peers_run_on_a_fourth_machine_finds_all_three_agents(lab: &Lab) {
    let mut peers = Peers::start(lab, 30);
    for server in lab.servers() {
        let found = peers.wait_for(|e| e["event"] == "found" && e["name"] == server.name.as_str());
        assert_eq!(found["compat"]["verdict"], "compatible", "{found}");
        assert_eq!(found["state"], "unclustered", "{found}");
        assert_eq!(found["protocol"], 1, "{found}");
        let addresses: Vec<&str> = found["addresses"]
            .as_array()
            .expect("addresses")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(
            addresses.contains(&server.ip.to_string().as_str()),
            "{} advertised {addresses:?}, expected {}",
            server.name,
            server.ip
        );
    }
    peers.stop();
}

fn each_agent_lists_its_own_loop_disks_as_eligible(lab: &Lab) {
    for server in lab.servers() {
        let disks = disks_of(lab, server.number);
        let names: Vec<&str> = disks.iter().filter_map(|d| d["path"].as_str()).collect();
        let expected: Vec<String> = server
            .disks
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        assert_eq!(
            names, expected,
            "{} lists exactly its own disks",
            server.name
        );
        for disk in &disks {
            assert_eq!(disk["kind"], "loop", "{disk}");
            assert_eq!(disk["eligibility"]["verdict"], "eligible", "{disk}");
            assert_eq!(disk["size_bytes"], muster_lab::DEFAULT_DISK_SIZE, "{disk}");
        }
    }
}

fn a_disk_with_ext4_is_listed_as_not_eligible_with_the_reason(lab: &Lab) {
    let server = lab.server(1);
    let formatted = &server.disks[0];
    run_ok(
        lab,
        Target::Server(1),
        &["mkfs.ext4", "-q", "-F", &formatted.display().to_string()],
    );

    let disks = disks_of(lab, 1);
    let by_path = |p: &Path| {
        disks
            .iter()
            .find(|d| d["path"] == p.display().to_string().as_str())
            .unwrap_or_else(|| panic!("{} missing from {disks:?}", p.display()))
    };
    let ext4 = by_path(formatted);
    assert_eq!(ext4["eligibility"]["verdict"], "ineligible", "{ext4}");
    let reasons = ext4["eligibility"]["reasons"].to_string();
    assert!(
        reasons.contains("ext4"),
        "reasons name the filesystem: {reasons}"
    );
    let untouched = by_path(&server.disks[1]);
    assert_eq!(
        untouched["eligibility"]["verdict"], "eligible",
        "{untouched}"
    );

    // The table a person reads says the same.
    let table = run_ok(lab, Target::Server(1), &["muster", "disks"]);
    assert!(table.contains("ext4"), "table shows the reason:\n{table}");
}

/// Crafted records sent by `mdns-forge` from server 3's namespace; each must
/// show up as incompatible with its reason while the real agents stay usable.
fn hostile_mdns_records_are_flagged_and_never_crash_the_browser(lab: &Lab) {
    // A TXT string holds at most 255 bytes, "name=" included.
    let long_name = "x".repeat(250);
    let s3 = lab.server(3).ip.to_string();
    let forged: Vec<(&str, Vec<String>, &str)> = vec![
        ("notxt", vec!["--no-txt".into()], "no muster TXT record"),
        (
            "future",
            vec!["--txt".into(), "proto=7".into()],
            "speaks protocol 7",
        ),
        (
            "longname",
            vec!["--txt".into(), format!("name={long_name}")],
            "invalid server name",
        ),
        (
            "bogus",
            vec![
                "--addr".into(),
                "127.0.0.1".into(),
                "--addr".into(),
                "0.0.0.0".into(),
                "--addr".into(),
                "224.0.0.1".into(),
            ],
            "no usable address",
        ),
        (
            "s2 (2)",
            vec!["--txt".into(), "name=s2".into()],
            "name claimed by two agents",
        ),
    ];
    let mut forges: Vec<Child> = forged
        .iter()
        .map(|(instance, extra, _)| {
            let mut argv: Vec<String> =
                vec!["mdns-forge".into(), "--instance".into(), (*instance).into()];
            if !extra.iter().any(|a| a == "--addr") {
                argv.extend(["--addr".into(), s3.clone()]);
            }
            argv.extend(extra.iter().cloned());
            let mut child = lab
                .spawn(Target::Server(3), &argv)
                .expect("start mdns-forge");
            let mut ready = String::new();
            BufReader::new(child.stdout.take().expect("forge stdout"))
                .read_line(&mut ready)
                .expect("read forge output");
            if ready.trim() != "ready" {
                let mut stderr = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut stderr);
                }
                panic!("mdns-forge {instance} did not start: {stderr}");
            }
            child
        })
        .collect();

    let mut peers = Peers::start(lab, 30);
    for (instance, _, reason) in &forged {
        let seen = peers
            .wait_for(|e| e["instance"] == *instance && e["compat"]["verdict"] == "incompatible");
        let said = seen["compat"]["reason"].as_str().unwrap_or_default();
        assert!(
            said.contains(reason),
            "{instance}: expected reason {reason:?}, got {seen}"
        );
    }
    // The genuine s2 is shown as a duplicate too (two agents claim the name),
    // and s1 and s3 stay compatible.
    let latest = peers.latest_by_instance();
    assert_eq!(
        latest["s1"]["compat"]["verdict"], "compatible",
        "{:?}",
        latest["s1"]
    );
    assert_eq!(
        latest["s3"]["compat"]["verdict"], "compatible",
        "{:?}",
        latest["s3"]
    );
    assert_eq!(
        latest["s2"]["compat"]["reason"], "name claimed by two agents",
        "{:?}",
        latest["s2"]
    );

    for forge in &mut forges {
        terminate(forge);
    }
    // Once the impostor says goodbye, the real s2 is compatible again.
    peers.wait_for(|e| e["instance"] == "s2" && e["compat"]["verdict"] == "compatible");
    let status = peers.stop();
    assert!(
        status,
        "muster peers exited with an error after hostile records"
    );
}

fn sigterm_removes_an_agent_from_a_running_peers(lab: &Lab) {
    let mut peers = Peers::start(lab, 60);
    for server in lab.servers() {
        peers.wait_for(|e| e["event"] == "found" && e["name"] == server.name.as_str());
    }
    let status = lab.stop_agent(2, Signal::SIGTERM).expect("stop s2");
    assert!(status.success(), "musterd exits 0 on SIGTERM, got {status}");
    assert!(
        !lab.server(2).socket.exists(),
        "musterd removes its socket on exit"
    );

    peers.wait_for(|e| e["event"] == "gone" && e["instance"] == "s2");
    let latest = peers.latest_by_instance();
    assert_eq!(latest["s1"]["event"], "found", "s1 is still listed");
    assert_eq!(latest["s3"]["event"], "found", "s3 is still listed");
    peers.stop();
}

fn a_restarted_agent_keeps_its_identity(lab: &Lab) {
    let before = agent_info(&lab.server(1).socket)["fingerprint"].clone();
    assert_eq!(
        before.as_str().map(str::len),
        Some(64),
        "fingerprint is SHA-256 hex: {before}"
    );

    // s2 was stopped by the previous case; restart it too.
    let s2_before = read_cert(lab, 2);
    lab.start_agent(2).expect("restart s2");
    assert_eq!(read_cert(lab, 2), s2_before, "s2 kept its certificate file");

    let status = lab.stop_agent(1, Signal::SIGTERM).expect("stop s1");
    assert!(status.success(), "{status}");
    lab.start_agent(1).expect("restart s1");
    let after = agent_info(&lab.server(1).socket)["fingerprint"].clone();
    assert_eq!(before, after, "a restarted agent keeps its certificate");

    let s2_fingerprint = agent_info(&lab.server(2).socket)["fingerprint"].clone();
    assert_ne!(after, s2_fingerprint, "each server has its own identity");
}

/// A running `muster peers --json` on the client machine, read line by line
/// on a thread so every wait is bounded.
struct Peers {
    child: Child,
    lines: mpsc::Receiver<Value>,
    seen: Vec<Value>,
}

impl Peers {
    fn start(lab: &Lab, timeout_secs: u32) -> Peers {
        let mut child = lab
            .spawn(
                Target::Client,
                [
                    "muster",
                    "peers",
                    "--json",
                    "--timeout",
                    &timeout_secs.to_string(),
                ],
            )
            .expect("start muster peers");
        let stdout: ChildStdout = child.stdout.take().expect("peers stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("muster peers printed non-JSON {line:?}: {e}"));
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        Peers {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    fn wait_for(&mut self, wanted: impl Fn(&Value) -> bool) -> Value {
        if let Some(hit) = self.seen.iter().find(|e| wanted(e)) {
            return hit.clone();
        }
        loop {
            match self.lines.recv_timeout(EVENT_WAIT) {
                Ok(event) => {
                    self.seen.push(event.clone());
                    if wanted(&event) {
                        return event;
                    }
                }
                Err(_) => panic!("the awaited peer event never came; saw {:#?}", self.seen),
            }
        }
    }

    /// The last event seen for every instance, after draining what is queued.
    fn latest_by_instance(&mut self) -> BTreeMap<String, Value> {
        while let Ok(event) = self.lines.recv_timeout(Duration::from_millis(300)) {
            self.seen.push(event);
        }
        self.seen
            .iter()
            .filter_map(|e| Some((e["instance"].as_str()?.to_string(), e.clone())))
            .collect()
    }

    /// Ctrl-C, as a person would; true when it exits 0.
    fn stop(mut self) -> bool {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, Signal::SIGINT);
        let mut stderr = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut stderr);
        }
        let status = self.child.wait().expect("wait for muster peers");
        assert!(
            stderr.is_empty() || !stderr.contains("panicked"),
            "{stderr}"
        );
        status.success()
    }
}

fn terminate(child: &mut Child) {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let _ = nix::sys::signal::kill(pid, Signal::SIGTERM);
    let _ = child.wait();
}

fn run_ok(lab: &Lab, target: Target, argv: &[&str]) -> String {
    let out = lab.exec(target, argv).expect("run in the lab");
    assert!(
        out.status.success(),
        "{argv:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn disks_of(lab: &Lab, server: usize) -> Vec<Value> {
    let json = run_ok(lab, Target::Server(server), &["muster", "disks", "--json"]);
    serde_json::from_str(&json).expect("disks JSON")
}

fn read_cert(lab: &Lab, server: usize) -> String {
    let path = lab.server(server).state_dir.join("identity/cert.pem");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `GET /v1/info` on an agent's unix socket (a local file: no network).
fn agent_info(socket: &Path) -> Value {
    let mut stream = UnixStream::connect(socket).expect("connect to musterd");
    stream.set_read_timeout(Some(EVENT_WAIT)).expect("timeout");
    stream
        .write_all(b"GET /v1/info HTTP/1.0\r\nHost: musterd\r\n\r\n")
        .expect("send request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read response");
    let body = response.split("\r\n\r\n").nth(1).expect("HTTP body");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("info is JSON ({e}): {response}"))
}
