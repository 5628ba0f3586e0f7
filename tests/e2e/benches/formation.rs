//! Figures for cluster formation, printed, never asserted: the wall time of
//! `muster init --preseed` forming an LXD cluster of N lab servers (N = 3
//! and 5; trust is established first by a `--dry-run`, timed apart), then
//! an Incus cluster the same way (Debian's incus-base, skipped with a note
//! when it is not installed), split
//! by kind of step with the time no step runs, and the peak resident
//! memory of each musterd; beside it two floors, each the same LXD calls
//! made directly with muster-lxd on a fresh lab of the same size (with the
//! same wait for the cluster to settle before each join): in muster's
//! order (the cluster first, then the pool, network and profile on every
//! member), and in the order of LXD's "How to form a cluster" preseed (the
//! pool, network and profile on the first server, which every joiner then
//! inherits through its join); and the ratios.
//!
//! Run as root, after `cargo build --release --workspace --bins`:
//! `cargo bench -p muster-e2e --bench formation`.

#[path = "../tests/common/mod.rs"]
mod common;
mod timing;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::trial::Trial;
use muster_lab::{Daemon, Lab, LabSpec};
use muster_lxd::{JoinInputs, LxdClient, NetworksPost, ProfilePut, StoragePoolsPost};
use timing::{agents_peak_kib, mib, trust_then_timed_init};

fn main() {
    if let Err(e) = muster_lab::require_root() {
        eprintln!("benchmark did not run: {e}");
        std::process::exit(1);
    }
    for daemon in [Daemon::Lxd, Daemon::Incus] {
        if !common::on_path(daemon.program()) {
            println!("{daemon:?} is not installed (tests/setup installs it): not measured");
            continue;
        }
        for servers in [3, 5] {
            figures(daemon, servers);
        }
    }
}

/// muster, both floors and the ratios, for `servers` servers of `daemon`.
fn figures(daemon: Daemon, servers: usize) {
    let muster = with_muster(daemon, servers).as_secs_f64();
    let after = direct(daemon, servers, Order::ObjectsAfterJoins);
    let first = direct(daemon, servers, Order::ObjectsFirst);
    println!(
        "  the same {} calls made directly: in muster's order {:.2} s, the objects first \
             {:.2} s",
        name(daemon),
        after.as_secs_f64(),
        first.as_secs_f64(),
    );
    println!(
        "  ratio to muster: {:.2} (muster's order), {:.2} (the objects first)",
        muster / after.as_secs_f64(),
        muster / first.as_secs_f64(),
    );
}

fn name(daemon: Daemon) -> &'static str {
    match daemon {
        Daemon::Lxd => "LXD",
        Daemon::Incus => "Incus",
    }
}

fn lab(daemon: Daemon, servers: usize) -> Lab {
    Lab::up(LabSpec {
        servers,
        disks_per_server: 0,
        lxd: true,
        daemon,
        ..LabSpec::default()
    })
    .expect("bring the lab up")
}

/// Forms the cluster with `muster init`, prints where its time went, and
/// hands back its wall time.
fn with_muster(daemon: Daemon, servers: usize) -> Duration {
    let lab = lab(daemon, servers);
    let t = Trial::new(&lab);
    t.enroll_all();
    let members: String = (1..=servers).map(|n| format!("  - name: s{n}\n")).collect();
    let preseed = t.preseed("preseed.yaml", 1, &members);
    let (trust, timing) = trust_then_timed_init(&t, &preseed, kind);
    println!(
        "formation of {servers} servers with {}: muster init {:.2} s (before it, the --dry-run \
         that establishes trust and plans: {:.2} s)",
        name(daemon),
        timing.total.as_secs_f64(),
        trust.as_secs_f64(),
    );
    timing.print();
    let peaks = agents_peak_kib(&lab);
    println!(
        "  peak resident memory of musterd (s1 first): {}",
        mib(&peaks)
    );
    lab.down().unwrap();
    timing.total
}

fn kind(description: &str) -> &'static str {
    let has = |s: &str| description.contains(s);
    if has("default profile") {
        "default profile"
    } else if has("join token") || has("Join the LXD cluster") {
        "tokens and joins"
    } else if has("core.https_address") || has("Bootstrap") {
        "address and bootstrap"
    } else if has("storage pool") {
        "local pool"
    } else if has("bridge network") {
        "instance network"
    } else {
        "other"
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Order {
    /// Muster's: the cluster, then each object defined on every member and
    /// created.
    ObjectsAfterJoins,
    /// The LXD document's preseed: the objects on the first server alone,
    /// then the cluster, which each joiner's join brings them to.
    ObjectsFirst,
}

/// The LXD (or Incus) calls muster makes, straight from here, in `order`.
fn direct(daemon: Daemon, servers: usize, order: Order) -> Duration {
    let lab = lab(daemon, servers);
    let t = Trial::new(&lab);
    let clients: Vec<LxdClient> = lab
        .servers()
        .iter()
        .map(|s| {
            LxdClient::new(s.lxd_socket())
                .unwrap()
                .with_request_timeout(Duration::from_secs(120))
                .with_operation_timeout(Duration::from_secs(120))
        })
        .collect();
    let names: Vec<String> = lab.servers().iter().map(|s| s.name.clone()).collect();
    let address = |i: usize| format!("{}:8443", lab.servers()[i].ip);
    let pool = StoragePoolsPost {
        name: "local".into(),
        driver: "dir".into(),
        ..StoragePoolsPost::default()
    };
    let pending = NetworksPost {
        name: "lxdbr0".into(),
        kind: "bridge".into(),
        ..NetworksPost::default()
    };
    let network = NetworksPost {
        config: BTreeMap::from([
            ("ipv4.address".into(), t.bridge().to_owned()),
            ("ipv4.nat".into(), "true".into()),
            ("ipv6.address".into(), "none".into()),
        ]),
        ..pending.clone()
    };
    let boot = &clients[0];
    let profile = || async {
        let mut profile: ProfilePut = boot.profile("default").await.unwrap().to_put();
        profile.set_root_disk("local");
        profile.set_eth0("lxdbr0");
        boot.update_profile("default", &profile).await.unwrap();
    };
    let start = Instant::now();
    t.rt.block_on(async {
        if order == Order::ObjectsFirst {
            boot.create_storage_pool(&pool, None).await.unwrap();
            boot.create_network(&network, None).await.unwrap();
            profile().await;
        }
        boot.set_https_address(&address(0)).await.unwrap();
        boot.bootstrap_cluster(&names[0]).await.unwrap();
        let certificate = boot.server().await.unwrap().environment.certificate;
        for i in 1..servers {
            // As muster does: a join started while LXD hands out database
            // roles after the last one was seen to hang.
            boot.wait_settled(None, Duration::from_secs(30))
                .await
                .unwrap();
            let issued = boot.create_join_token(&names[i]).await.unwrap();
            let member_config = boot.cluster().await.unwrap().member_config;
            clients[i]
                .join_cluster(JoinInputs {
                    token: &issued.token,
                    cluster_certificate: &certificate,
                    server_address: &address(i),
                    member_config,
                    cluster_address: Some(&address(0)),
                })
                .await
                .unwrap();
        }
        if order == Order::ObjectsAfterJoins {
            for name in &names {
                boot.create_storage_pool(&pool, Some(name)).await.unwrap();
            }
            boot.create_storage_pool(&pool, None).await.unwrap();
            for name in &names {
                boot.create_network(&pending, Some(name)).await.unwrap();
            }
            boot.create_network(&network, None).await.unwrap();
            profile().await;
        }
    });
    let took = start.elapsed();
    lab.down().unwrap();
    took
}
