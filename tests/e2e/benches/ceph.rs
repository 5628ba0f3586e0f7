//! Figures for Ceph formed by `muster init`, printed, never asserted: the
//! wall time of `muster init --preseed` forming LXD and Ceph on three lab
//! servers with one 4 GiB loop disk each, split by kind of step (LXD,
//! monitors, client configs, managers, OSDs, pools, LXD's `remote` pool),
//! and the resident memory of each kind of Ceph daemon afterwards.
//!
//! Run as root, after `cargo build --release --workspace --bins`:
//! `cargo bench -p muster-e2e --bench ceph`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::path_str;
use common::trial::Trial;
use muster_lab::{Daemon, Lab, Target};
use muster_proto::formation::InitEvent;

fn main() {
    if let Err(e) = muster_lab::require_root() {
        eprintln!("benchmark did not run: {e}");
        std::process::exit(1);
    }
    let lab = common::trial::ceph_lab(3, 1, Daemon::Lxd);
    let t = Trial::new(&lab);
    t.enroll_all();
    let members: String = (1..=3)
        .map(|n| {
            let disk = lab.server(n).disks[0].display().to_string();
            format!("  - name: s{n}\n    disks:\n      ceph: [{disk}]\n")
        })
        .collect();
    let preseed = t.preseed("bench.yaml", 1, &members);
    // Trust first, timed apart: the figure is about forming.
    let started = Instant::now();
    let dry = t.init(1, &preseed, &["--dry-run"]);
    assert!(dry.status.success(), "{dry:?}");
    let trust = started.elapsed();

    let timing = timed_init(&t, &preseed);
    println!(
        "muster init with Ceph on 3 servers (1 disk each): {:.1} s (trust and plan before it: \
         {:.1} s)",
        timing.total.as_secs_f64(),
        trust.as_secs_f64()
    );
    println!(
        "  no step running (observing and planning): {:.1} s",
        timing.idle.as_secs_f64()
    );
    println!("  {:<34} {:>8} {:>8}", "kind of step", "steps", "span");
    for (kind, (busy, span)) in &timing.kinds {
        println!(
            "  {kind:<34} {:>6.1} s {:>6.1} s",
            busy.as_secs_f64(),
            span.as_secs_f64()
        );
    }
    for (kind, rss) in daemon_memory(&lab) {
        println!(
            "  resident memory of {kind}: {}",
            rss.iter()
                .map(|kib| format!("{} MiB", kib / 1024))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    lab.down().expect("tear the lab down");
}

/// Where a run's time went.
struct Timing {
    total: Duration,
    /// Time with no step running: observing, planning, reporting.
    idle: Duration,
    /// By kind of step: the steps' own times added up, and the span from
    /// the first one's start to the last one's end (shorter than the sum
    /// where steps overlap).
    kinds: BTreeMap<&'static str, (Duration, Duration)>,
}

/// Runs `muster init` and times its steps from its progress, which may
/// have several steps running at once.
fn timed_init(t: &Trial, preseed: &std::path::Path) -> Timing {
    let mut cmd = t
        .lab
        .command(
            Target::Server(1),
            ["muster", "init", "--json", "--preseed", path_str(preseed)],
        )
        .expect("a command in the lab");
    let started = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .expect("start muster init");
    let mut running: BTreeMap<usize, (&'static str, Instant)> = BTreeMap::new();
    let mut spans: BTreeMap<&'static str, (Duration, Instant, Instant)> = BTreeMap::new();
    let mut idle = Duration::ZERO;
    let mut idle_since = Some(started);
    let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    for line in lines.map_while(Result::ok) {
        let Ok(event) = serde_json::from_str::<InitEvent>(&line) else {
            continue;
        };
        let now = Instant::now();
        match event {
            InitEvent::Step {
                index, description, ..
            } => {
                if let Some(since) = idle_since.take() {
                    idle += now - since;
                }
                running.insert(index, (kind(&description), now));
            }
            InitEvent::StepDone { index } => {
                if let Some((kind, since)) = running.remove(&index) {
                    let span = spans.entry(kind).or_insert((Duration::ZERO, since, now));
                    span.0 += now - since;
                    span.1 = span.1.min(since);
                    span.2 = now;
                }
                if running.is_empty() {
                    idle_since = Some(now);
                }
            }
            InitEvent::Failed { message, .. } => panic!("muster init failed: {message}"),
            _ => {}
        }
    }
    let status = child.wait().expect("wait for muster init");
    assert!(status.success(), "muster init: {status}");
    let total = started.elapsed();
    if let Some(since) = idle_since {
        idle += Instant::now() - since;
    }
    let kinds = spans
        .into_iter()
        .map(|(kind, (busy, first, last))| (kind, (busy, last - first)))
        .collect();
    Timing { total, idle, kinds }
}

fn kind(description: &str) -> &'static str {
    let has = |s: &str| description.contains(s);
    if has("Ceph monitor") || has("Create the Ceph cluster") {
        "Ceph monitors"
    } else if has("Ceph client") {
        "Ceph client configs"
    } else if has("Ceph manager") {
        "Ceph managers"
    } else if has("Ceph OSD") {
        "Ceph OSDs"
    } else if has("Ceph pool") {
        "Ceph pools"
    } else if has("pool remote") {
        "LXD pool remote"
    } else {
        "LXD cluster, local pool, network"
    }
}

/// VmRSS (KiB) of each running Ceph daemon, by kind, from their pid files.
fn daemon_memory(lab: &Lab) -> BTreeMap<String, Vec<u64>> {
    let mut out: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for server in lab.servers() {
        let run = server.ceph_dir.join("run");
        let Ok(entries) = fs::read_dir(&run) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(daemon) = name.strip_suffix(".pid") else {
                continue;
            };
            let kind = daemon.split('.').next().unwrap_or(daemon).to_owned();
            let Ok(pid) = fs::read_to_string(entry.path()) else {
                continue;
            };
            let status =
                fs::read_to_string(format!("/proc/{}/status", pid.trim())).unwrap_or_default();
            let rss = status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok());
            if let Some(rss) = rss {
                out.entry(kind).or_default().push(rss);
            }
        }
    }
    out
}
