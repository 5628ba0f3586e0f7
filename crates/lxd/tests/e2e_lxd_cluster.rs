//! End-to-end tests against real LXD daemons in lab network namespaces.
//! They need root and the `lxd` package (and `nftables` for the bridge);
//! without them they fail, saying they did not run. Timings are printed
//! (run with `--nocapture` to see them), never asserted.

mod lxdlab;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use lxdlab::{require_root_and_lxd, Lab, Member};
use muster_lxd::{
    InstancesPost, JoinInputs, JoinToken, LxdClient, LxdError, NetworksPost, OperationStatus,
    StoragePoolsPost,
};

/// The lab tests share the host's blackhole route for the lab range, and
/// the machine has two cores: one lab at a time.
static LAB_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn timing(what: &str, d: Duration) {
    eprintln!("TIMING {what}: {:.3}s", d.as_secs_f64());
}

/// Makes `m` the first member of a cluster with a `dir` pool "local".
async fn bootstrap(m: &Member) -> Duration {
    let start = Instant::now();
    m.client
        .set_https_address(&m.https_address())
        .await
        .unwrap();
    let pool = StoragePoolsPost {
        name: "local".into(),
        driver: "dir".into(),
        ..Default::default()
    };
    m.client.create_storage_pool(&pool, None).await.unwrap();
    m.client.bootstrap_cluster(&m.name).await.unwrap();
    start.elapsed()
}

/// Joins `joiner` with `token`, taking the certificate and the member keys
/// from the bootstrap member as muster's initiator would.
async fn join(boot: &Member, joiner: &Member, token: &JoinToken) -> Result<Duration, LxdError> {
    let cert = boot.client.server().await?.environment.certificate;
    // For a dir pool LXD lists "source" with an empty value, which means
    // "the default place" on the joiner too.
    let member_config = boot.client.cluster().await?.member_config;
    let server_address = joiner.https_address();
    let start = Instant::now();
    joiner
        .client
        .join_cluster(JoinInputs {
            token,
            cluster_certificate: &cert,
            server_address: &server_address,
            member_config,
            cluster_address: None,
        })
        .await?;
    Ok(start.elapsed())
}

async fn online_members(m: &Member) -> Vec<String> {
    let mut names: Vec<String> = m
        .client
        .cluster_members()
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.is_online())
        .map(|m| m.server_name)
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn e2e_needs_root_two_lxd_daemons_form_a_cluster() {
    require_root_and_lxd();
    let _serial = LAB_LOCK.lock().await;
    let test_start = Instant::now();
    let lab = Lab::start("a", 2).await;
    for m in &lab.members {
        timing(&format!("lxd startup {}", m.name), m.startup);
    }
    let (m1, m2) = (&lab.members[0], &lab.members[1]);

    // Discovery skips what is missing and takes the first socket that answers.
    let socket = m1.lxd_dir.join("unix.socket");
    let found =
        LxdClient::discover_from([PathBuf::from("/nonexistent/unix.socket"), socket.clone()])
            .await
            .unwrap();
    assert_eq!(found.socket(), socket);

    timing("bootstrap m1", bootstrap(m1).await);
    let server = m1.client.server().await.unwrap();
    assert!(server.environment.server_clustered);
    assert_eq!(server.environment.addresses, [m1.https_address()]);

    // A revoked token: its operation ends up cancelled.
    let revoked = m1.client.create_join_token("m9").await.unwrap();
    m1.client
        .cancel_operation(&revoked.operation.id)
        .await
        .unwrap();
    let op = m1.client.operation(&revoked.operation.id).await.unwrap();
    assert_eq!(op.state(), OperationStatus::Cancelled);

    let issued = m1.client.create_join_token("m2").await.unwrap();
    assert_eq!(issued.token.server_name, "m2");
    assert_eq!(issued.token.addresses, [m1.https_address()]);
    // The token as `lxc cluster add` prints it round-trips.
    assert_eq!(
        JoinToken::decode(&issued.token.encode()).unwrap(),
        issued.token
    );

    // A join with a wrong secret fails inside LXD's join operation, and the
    // error says so in LXD's words.
    let mut forged = issued.token.clone();
    forged.secret = "00".repeat(32);
    let err = join(m1, m2, &forged).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, LxdError::OperationFailed { .. }), "{msg}");
    assert!(
        msg.starts_with("LXD refused PUT /1.0/cluster: Failed to setup cluster trust"),
        "{msg}"
    );

    let joined = join(m1, m2, &issued.token).await;
    let took = joined.unwrap_or_else(|e| panic!("join failed: {e}\n{}", lab.log_tail()));
    timing("join m2", took);
    assert_eq!(online_members(m1).await, ["m1", "m2"]);
    assert_eq!(online_members(m2).await, ["m1", "m2"]);
    assert!(
        m2.client
            .server()
            .await
            .unwrap()
            .environment
            .server_clustered
    );

    // Cluster-wide configuration: a bridge defined per member, then created.
    let start = Instant::now();
    for m in &lab.members {
        let pending = NetworksPost {
            name: "lxdbr0".into(),
            kind: "bridge".into(),
            ..Default::default()
        };
        m1.client
            .create_network(&pending, Some(&m.name))
            .await
            .unwrap();
    }
    let net = m1.client.network("lxdbr0", None).await.unwrap().unwrap();
    assert_eq!(net.status, "Pending");
    let bridge = NetworksPost {
        name: "lxdbr0".into(),
        kind: "bridge".into(),
        config: BTreeMap::from([
            // An explicit subnet: "auto" would probe for a free one.
            ("ipv4.address".into(), "10.231.252.1/24".into()),
            ("ipv4.nat".into(), "false".into()),
            ("ipv6.address".into(), "none".into()),
        ]),
        description: String::new(),
    };
    m1.client.create_network(&bridge, None).await.unwrap();
    timing("bridge network on both members", start.elapsed());
    let net = m2.client.network("lxdbr0", None).await.unwrap().unwrap();
    assert_eq!(net.status, "Created");
    assert_eq!(net.locations.len(), 2);
    assert!(m1.client.network("nope", None).await.unwrap().is_none());

    // The pool made before clustering became a cluster-wide pool.
    let pools = m2.client.storage_pools().await.unwrap();
    let local = pools.iter().find(|p| p.name == "local").unwrap();
    assert_eq!(local.status, "Created");
    assert_eq!(local.locations.len(), 2);

    // Default profile: root disk on "local", a NIC on the bridge.
    let mut profile = m1.client.profile("default").await.unwrap().to_put();
    profile.devices.insert(
        "root".into(),
        BTreeMap::from([
            ("type".into(), "disk".into()),
            ("path".into(), "/".into()),
            ("pool".into(), "local".into()),
        ]),
    );
    profile.devices.insert(
        "eth0".into(),
        BTreeMap::from([
            ("type".into(), "nic".into()),
            ("name".into(), "eth0".into()),
            ("network".into(), "lxdbr0".into()),
        ]),
    );
    m1.client.update_profile("default", &profile).await.unwrap();
    let read_back = m2.client.profile("default").await.unwrap();
    assert_eq!(read_back.devices, profile.devices);

    // An instance record on m2, created through m1, never started.
    let c1 = InstancesPost::empty_container("c1");
    m1.client.create_instance(&c1, Some("m2")).await.unwrap();
    assert_eq!(m2.client.instance_names().await.unwrap(), ["c1"]);
    let err = m1
        .client
        .create_instance(&c1, Some("m2"))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("LXD refused POST /1.0/instances?target=m2: "),
        "{err}"
    );

    timing(
        "whole two-member test before teardown",
        test_start.elapsed(),
    );
}

/// Waits until exactly `want` are online as seen from `m`; member status
/// settles within a heartbeat.
async fn wait_online(m: &Member, want: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let online = online_members(m).await;
        if online == want {
            return;
        }
        assert!(Instant::now() < deadline, "members online: {online:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Three members, joined one at a time, as muster does: see
/// `experiment_parallel_joins` for why.
#[tokio::test]
async fn e2e_needs_root_three_lxd_daemons_join_one_at_a_time() {
    require_root_and_lxd();
    let _serial = LAB_LOCK.lock().await;
    let lab = Lab::start("b", 3).await;
    for m in &lab.members {
        timing(&format!("lxd startup {}", m.name), m.startup);
    }
    let boot = &lab.members[0];
    timing("bootstrap m1", bootstrap(boot).await);
    for m in &lab.members[1..] {
        let issued = boot.client.create_join_token(&m.name).await.unwrap();
        let took = join(boot, m, &issued.token)
            .await
            .unwrap_or_else(|e| panic!("join {}: {e}\n{}", m.name, lab.log_tail()));
        timing(&format!("join {}", m.name), took);
    }
    wait_online(boot, &["m1", "m2", "m3"]).await;
}

/// Two joins at once into a one-member cluster. Not part of the normal run:
/// on LXD 5.0.2 both usually succeed, but now and then (more often under
/// CPU load) one of them hangs for good while adding itself to the raft
/// cluster: its join operation stays "Running", and the joiner then answers
/// "This server is already clustered" without being a member. Hence muster
/// joins members one at a time. (Measured again once the client stopped
/// keeping idle connections, which had made single joins stall for 90 s:
/// still 3 hangs in 6 tries under load.) Run with
/// `cargo test -p muster-lxd -- --ignored --nocapture` to see what happens.
#[tokio::test]
#[ignore = "experiment: LXD 5.0 parallel joins sometimes hang; see the doc comment"]
async fn experiment_parallel_joins() {
    require_root_and_lxd();
    let _serial = LAB_LOCK.lock().await;
    let lab = Lab::start("c", 3).await;
    let boot = &lab.members[0];
    timing("bootstrap m1", bootstrap(boot).await);

    let t2 = boot.client.create_join_token("m2").await.unwrap();
    let t3 = boot.client.create_join_token("m3").await.unwrap();
    let start = Instant::now();
    let (r2, r3) = tokio::join!(
        join(boot, &lab.members[1], &t2.token),
        join(boot, &lab.members[2], &t3.token)
    );
    timing("two joins in parallel (both finished)", start.elapsed());
    let mut joined = vec!["m1"];
    for (m, r) in [(&lab.members[1], &r2), (&lab.members[2], &r3)] {
        match r {
            Ok(d) => {
                timing(&format!("parallel join {}", m.name), *d);
                joined.push(&m.name);
            }
            Err(e) => eprintln!(
                "PARALLEL JOIN of {} failed: {e}\n{}",
                m.name,
                lab.log_tail()
            ),
        }
    }
    eprintln!(
        "PARALLEL JOINS: {}",
        if joined.len() == 3 {
            "both succeeded"
        } else {
            "at least one failed"
        }
    );
    // Whatever happened to the other, the members that joined are online.
    wait_online(boot, &joined).await;
}
