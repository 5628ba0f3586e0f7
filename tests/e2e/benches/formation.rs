//! Figures for cluster formation, printed, never asserted: the wall time of
//! `muster init --preseed` forming an LXD cluster of N lab servers (N = 3
//! and 5; trust is established first by a `--dry-run`, timed apart), beside
//! the floor: the same LXD calls made directly with muster-lxd on a fresh
//! lab of the same size (with the same wait for the cluster to settle
//! before each join), and the ratio.
//!
//! Run as root: `cargo bench -p muster-e2e --bench formation`.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use muster_lab::{Lab, LabSpec, Signal, Target};
use muster_lxd::{JoinInputs, LxdClient, NetworksPost, ProfilePut, StoragePoolsPost};

const PASSPHRASE: &str = "formation benchmark enrollment passphrase";

fn main() {
    if let Err(e) = muster_lab::require_root() {
        eprintln!("benchmark did not run: {e}");
        std::process::exit(1);
    }
    for servers in [3, 5] {
        let (trust, init) = with_muster(servers);
        let floor = direct(servers);
        println!(
            "formation of {servers} servers: muster init {:.2} s (before it, the --dry-run that \
             establishes trust and plans: {:.2} s), the same LXD calls made directly {:.2} s, \
             ratio {:.2}",
            init.as_secs_f64(),
            trust.as_secs_f64(),
            floor.as_secs_f64(),
            init.as_secs_f64() / floor.as_secs_f64()
        );
    }
}

fn lab(servers: usize) -> Lab {
    Lab::up(LabSpec {
        servers,
        disks_per_server: 0,
        lxd: true,
        ..LabSpec::default()
    })
    .expect("bring the lab up")
}

fn bridge(lab: &Lab) -> String {
    let lan: u8 = lab.subnet().split('.').nth(2).unwrap().parse().unwrap();
    format!("10.231.{}.1/24", if lan == 247 { 248 } else { 247 })
}

fn secret(path: &Path) {
    fs::write(path, format!("{PASSPHRASE}\n")).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).unwrap();
}

/// (dry run with trust, real run) of `muster init`.
fn with_muster(servers: usize) -> (Duration, Duration) {
    let lab = lab(servers);
    let file = lab.dir().join("enrollment");
    secret(&file);
    for n in 2..=servers {
        let config = &lab.server(n).config;
        let text = fs::read_to_string(config).unwrap();
        let text = format!(
            "enrollment_passphrase_file = \"{}\"\n{text}",
            file.display()
        );
        fs::write(config, text).unwrap();
        lab.stop_agent(n, Signal::SIGTERM).unwrap();
        lab.start_agent(n).unwrap();
    }
    let members: String = (1..=servers).map(|n| format!("  - name: s{n}\n")).collect();
    let preseed: PathBuf = lab.dir().join("preseed.yaml");
    fs::write(
        &preseed,
        format!(
            "session:\n  passphrase_file: {}\n  enrollment: true\n  timeout: 2m\n\
             members:\n{members}\
             network:\n  cluster_interface: eth0\n  instances:\n    ipv4: {}\n",
            file.display(),
            bridge(&lab)
        ),
    )
    .unwrap();
    let run = |extra: &[&str]| {
        let mut argv = vec!["muster", "init", "--preseed", preseed.to_str().unwrap()];
        argv.extend_from_slice(extra);
        let start = Instant::now();
        let out = lab.exec(Target::Server(1), argv).unwrap();
        assert!(
            out.status.success(),
            "muster init failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        start.elapsed()
    };
    let trust = run(&["--dry-run"]);
    let init = run(&[]);
    lab.down().unwrap();
    (trust, init)
}

/// The same LXD calls muster makes, straight from here.
fn direct(servers: usize) -> Duration {
    let lab = lab(servers);
    let rt = tokio::runtime::Runtime::new().unwrap();
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
    let bridge = bridge(&lab);
    let start = Instant::now();
    rt.block_on(async {
        let boot = &clients[0];
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
        let pool = StoragePoolsPost {
            name: "local".into(),
            driver: "dir".into(),
            ..StoragePoolsPost::default()
        };
        for name in &names {
            boot.create_storage_pool(&pool, Some(name)).await.unwrap();
        }
        boot.create_storage_pool(&pool, None).await.unwrap();
        let pending = NetworksPost {
            name: "lxdbr0".into(),
            kind: "bridge".into(),
            ..NetworksPost::default()
        };
        for name in &names {
            boot.create_network(&pending, Some(name)).await.unwrap();
        }
        let network = NetworksPost {
            config: BTreeMap::from([
                ("ipv4.address".into(), bridge.clone()),
                ("ipv4.nat".into(), "true".into()),
                ("ipv6.address".into(), "none".into()),
            ]),
            ..pending
        };
        boot.create_network(&network, None).await.unwrap();
        let mut profile: ProfilePut = boot.profile("default").await.unwrap().to_put();
        profile.set_root_disk("local");
        profile.set_eth0("lxdbr0");
        boot.update_profile("default", &profile).await.unwrap();
    });
    let took = start.elapsed();
    lab.down().unwrap();
    took
}
