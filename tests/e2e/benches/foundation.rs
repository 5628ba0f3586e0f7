//! Figures for the foundation, printed, never asserted:
//! - time from the start of browsing until `muster peers` has listed all N
//!   agents, for N = 3 and N = 16 lab servers;
//! - one idle musterd's resident memory and CPU time over an idle period.
//!
//! Run as root: `cargo bench -p muster-e2e --bench foundation`.
//! `MUSTER_BENCH_IDLE_SECS` shortens the idle period (default 60).

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use muster_lab::{Lab, LabSpec, Target};
use serde_json::Value;

fn main() {
    if let Err(e) = muster_lab::require_root() {
        eprintln!("benchmark did not run: {e}");
        std::process::exit(1);
    }
    for servers in [3, 16] {
        discovery(servers);
    }
    idle(idle_secs());
}

fn discovery(servers: usize) {
    let lab = Lab::up(LabSpec {
        servers,
        disks_per_server: 0,
        ..LabSpec::default()
    })
    .expect("bring the lab up");
    // Right after their start the agents have just multicast their
    // announcements, and a responder multicasts a record at most once a
    // second (RFC 6762 §6): answers to a browse then wait for that window.
    // On a LAN the agents run long before anyone browses: that is the
    // second figure.
    browse_all(&lab, servers, "right after the agents started");
    std::thread::sleep(Duration::from_secs(3));
    browse_all(&lab, servers, "agents running for 3 s, as on a LAN");
    lab.down().expect("tear down");
}

/// Runs `muster peers` on the client machine and prints how long after
/// its start every agent was listed.
fn browse_all(lab: &Lab, servers: usize, when: &str) {
    let start = Instant::now();
    let mut peers = lab
        .spawn(
            Target::Client,
            ["muster", "peers", "--json", "--timeout", "60"],
        )
        .expect("start muster peers");
    let stdout = peers.stdout.take().expect("stdout");
    let mut found = HashSet::new();
    let mut all_at = None;
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        let event: Value = serde_json::from_str(&line).expect("JSON line");
        if event["event"] == "found" && event["compat"]["verdict"] == "compatible" {
            found.insert(event["name"].as_str().unwrap_or_default().to_string());
        }
        if found.len() == servers {
            all_at = Some(start.elapsed());
            break;
        }
    }
    let _ = peers.kill();
    let _ = peers.wait();
    match all_at {
        Some(t) => println!(
            "discovery ({when}): all {servers} agents listed after {:.0} ms",
            ms(t)
        ),
        None => println!(
            "discovery ({when}): only {} of {servers} agents listed in 60 s",
            found.len()
        ),
    }
}

fn idle(secs: u64) {
    let lab = Lab::up(LabSpec {
        servers: 1,
        disks_per_server: 1,
        ..LabSpec::default()
    })
    .expect("bring the lab up");
    let pid = lab.agent_pid(1).expect("agent pid");
    // Let start-up work (identity, first announcements) settle first.
    std::thread::sleep(Duration::from_secs(3));
    let cpu_before = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(secs));
    let cpu_after = cpu_ticks(pid);
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    let cpu = (cpu_after - cpu_before) as f64 / hz;
    println!(
        "musterd idle: RSS {} KiB; CPU {:.2} s over {secs} s ({:.3} %)",
        rss_kib(pid),
        cpu,
        100.0 * cpu / secs as f64
    );
    lab.down().expect("tear down");
}

fn idle_secs() -> u64 {
    std::env::var("MUSTER_BENCH_IDLE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// utime + stime from /proc/PID/stat (fields 14 and 15, after the comm).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read stat");
    let after_comm = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime")
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmRSS")
}
