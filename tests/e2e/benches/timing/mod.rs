//! Where a `muster init` run's time goes, read from its `--json` progress:
//! the time with no step running, and per kind of step the steps' own
//! times added up and their span (shorter than the sum where steps
//! overlap). Shared by the formation and Ceph benches.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use muster_lab::{Lab, Target};
use muster_proto::formation::InitEvent;

use crate::common::path_str;
use crate::common::trial::Trial;

/// Where a run's time went.
pub struct Timing {
    pub total: Duration,
    /// Time with no step running: observing, planning, reporting.
    pub idle: Duration,
    /// By kind of step: (the steps' times added up, first start to last end).
    pub kinds: BTreeMap<&'static str, (Duration, Duration)>,
    /// Steps carried out.
    pub steps: usize,
}

impl Timing {
    pub fn print(&self) {
        println!(
            "  no step running (observing and planning): {:.2} s, {} steps",
            self.idle.as_secs_f64(),
            self.steps
        );
        println!("  {:<34} {:>8} {:>8}", "kind of step", "steps", "span");
        for (kind, (busy, span)) in &self.kinds {
            println!(
                "  {kind:<34} {:>6.2} s {:>6.2} s",
                busy.as_secs_f64(),
                span.as_secs_f64()
            );
        }
    }
}

/// Establishes trust and plans first with a `--dry-run` (timed apart: the
/// figures are about forming), then times the real run as [`timed_init`].
pub fn trust_then_timed_init(
    t: &Trial,
    preseed: &Path,
    kind: fn(&str) -> &'static str,
) -> (Duration, Timing) {
    let started = Instant::now();
    let dry = t.init(1, preseed, &["--dry-run"]);
    assert!(dry.status.success(), "{dry:?}");
    let trust = started.elapsed();
    (trust, timed_init(t, preseed, kind))
}

/// Runs `muster init --json --preseed PRESEED` on s1 and times its steps,
/// sorting each by `kind` of its description.
pub fn timed_init(t: &Trial, preseed: &Path, kind: fn(&str) -> &'static str) -> Timing {
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
    let mut steps = 0;
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
                    steps += 1;
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
    Timing {
        total,
        idle,
        kinds,
        steps,
    }
}

/// A `/proc/PID/status` field in KiB ("VmRSS", "VmHWM").
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The peak resident memory (KiB) of each server's musterd so far.
pub fn agents_peak_kib(lab: &Lab) -> Vec<u64> {
    (1..=lab.servers().len())
        .filter_map(|n| status_kib(lab.agent_pid(n)?, "VmHWM"))
        .collect()
}

pub fn mib(kib: &[u64]) -> String {
    kib.iter()
        .map(|k| format!("{:.1}", *k as f64 / 1024.0))
        .collect::<Vec<_>>()
        .join(", ")
        + " MiB"
}
