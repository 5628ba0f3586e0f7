//! Figures for Ceph formed by `muster init`, printed, never asserted: the
//! wall time of `muster init --preseed` forming LXD and Ceph on 3 lab
//! servers with one 4 GiB loop disk each, and on 5 with two each, split by
//! kind of step (LXD, monitors, client configs, managers, OSDs, pools,
//! LXD's `remote` pool), and the resident memory of each kind of Ceph
//! daemon and the peak of each musterd afterwards.
//!
//! Run as root, after `cargo build --release --workspace --bins`:
//! `cargo bench -p muster-e2e --bench ceph`.

#[path = "../tests/common/mod.rs"]
mod common;
mod timing;

use std::collections::BTreeMap;
use std::fs;

use common::trial::Trial;
use muster_lab::{Daemon, Lab};
use timing::{agents_peak_kib, mib, status_kib, trust_then_timed_init};

fn main() {
    if let Err(e) = muster_lab::require_root() {
        eprintln!("benchmark did not run: {e}");
        std::process::exit(1);
    }
    for (servers, disks) in [(3, 1), (5, 2)] {
        bench(servers, disks);
    }
}

fn bench(servers: usize, disks: usize) {
    let lab = common::trial::ceph_lab(servers, disks, Daemon::Lxd);
    let t = Trial::new(&lab);
    t.enroll_all();
    let members: String = (1..=servers)
        .map(|n| {
            let chosen: Vec<String> = lab
                .server(n)
                .disks
                .iter()
                .map(|d| d.display().to_string())
                .collect();
            format!(
                "  - name: s{n}\n    disks:\n      ceph: [{}]\n",
                chosen.join(", ")
            )
        })
        .collect();
    let preseed = t.preseed("bench.yaml", 1, &members);
    let (trust, timing) = trust_then_timed_init(&t, &preseed, kind);
    println!(
        "muster init with Ceph on {servers} servers ({disks} disk{} each): {:.1} s (trust and \
         plan before it: {:.1} s)",
        if disks == 1 { "" } else { "s" },
        timing.total.as_secs_f64(),
        trust.as_secs_f64()
    );
    timing.print();
    for (kind, rss) in daemon_memory(&lab) {
        println!("  resident memory of {kind}: {}", mib(&rss));
    }
    println!(
        "  peak resident memory of musterd: {}",
        mib(&agents_peak_kib(&lab))
    );
    lab.down().expect("tear the lab down");
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
            let pid = fs::read_to_string(entry.path()).ok();
            if let Some(rss) = pid
                .and_then(|p| p.trim().parse().ok())
                .and_then(|p| status_kib(p, "VmRSS"))
            {
                out.entry(kind).or_default().push(rss);
            }
        }
    }
    out
}
