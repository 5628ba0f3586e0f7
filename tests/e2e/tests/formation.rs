//! Cluster formation end to end, in one lab of four real servers, each
//! with a real musterd and a real LXD in its namespace: `muster init
//! --preseed` forms a one-member cluster on s4 (after a stopped run left
//! its pool pending with another driver), rejects bad input before
//! changing anything, resumes after the initiator dies right after the
//! bootstrap and after a joiner dies between its token and its join, and
//! forms the three-member cluster s1, s2, s3: every member sees three
//! members online, the `local` pool and the network, the default profile
//! uses them, an instance record can be created on each member, and a
//! busybox container runs on each member with an address from its bridge.
//! Last, s3 dies (its agent and LXD killed): `muster remove s3` is refused
//! without --force, and with it s3 is gone from LXD and the trust stores
//! (its instance record with it); then s3 is reinstalled (a new identity,
//! a fresh LXD) and `muster add` takes it back under its name, a
//! container running on it.
//!
//! The joiners enroll zero-touch (an enrollment passphrase in their
//! musterd.toml). Crashes are agents killed from outside (SIGKILL by pid) at
//! a step boundary seen in init's progress.
//! LXD is checked directly over its unix socket with muster-lxd.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::trial::{member, step_done, step_starts, Trial};
use common::{case, path_str, Case};
use muster_lab::{Daemon, Lab, LabSpec, Signal, Target};
use muster_lxd::InstancesPost;
use muster_proto::formation::ClusterStatus;

#[test]
fn formation_in_a_lab_of_four_servers_with_lxd() {
    if let Err(e) = muster_lab::require_root() {
        panic!("this test did not run: {e}");
    }
    assert!(
        common::on_path("lxd"),
        "this test did not run: LXD is not installed (apt-get install lxd nftables)"
    );
    let lab = Lab::up(LabSpec {
        servers: 4,
        disks_per_server: 1,
        disk_size_bytes: 64 << 20,
        lxd: true,
        ..LabSpec::default()
    })
    .expect("bring the lab up");
    let t = Trial::new(&lab);
    t.enroll_all();

    let cases: [Case<Trial>; 11] = [
        case!(a_single_server_forms_a_one_member_cluster),
        case!(an_unknown_key_is_rejected_by_the_cli),
        case!(an_unknown_member_is_rejected_before_any_change),
        case!(bad_disks_and_a_member_of_another_cluster_are_rejected_before_any_change),
        case!(a_disk_gone_between_plan_and_apply_is_refused_before_any_change),
        case!(a_dry_run_prints_the_plan_and_changes_nothing),
        case!(init_resumes_after_the_initiator_and_a_joiner_die),
        case!(the_cluster_is_formed_on_every_member),
        case!(a_container_runs_on_every_member),
        case!(a_dead_member_is_removed_with_force),
        case!(a_reinstalled_server_takes_the_dead_members_place),
    ];
    common::run_cases(&t, &cases);

    lab.down().expect("tear the lab down");
}

/// The shortest path on the second daemon: Incus 6.0 (Debian's
/// incus-base from bookworm-backports) formed by the same `muster init`,
/// every member online, the pool and network made, a container on each.
#[test]
fn formation_on_incus_in_a_lab_of_three_servers() {
    if let Err(e) = muster_lab::require_root() {
        panic!("this test did not run: {e}");
    }
    assert!(
        Path::new(Daemon::Incus.program()).is_file(),
        "this test did not run: Incus is not installed (tests/setup installs it)"
    );
    let lab = Lab::up(LabSpec {
        servers: 3,
        disks_per_server: 1,
        disk_size_bytes: 64 << 20,
        lxd: true,
        daemon: Daemon::Incus,
        ..LabSpec::default()
    })
    .expect("bring the lab up");
    let t = Trial::new(&lab);
    t.enroll_all();
    let members: String = (1..=3).map(member).collect();
    let preseed = t.preseed("incus.yaml", 1, &members);
    let out = t.init_ok(1, &preseed);
    assert!(out.contains("s2 (") && out.contains("Incus 6."), "{out}");
    assert!(out.contains("the cluster is formed"), "{out}");
    the_cluster_is_formed_on_every_member(&t);
    a_container_runs_on_every_member(&t);
    let status = t.lab.exec(Target::Server(3), ["muster", "status"]).unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains("Incus 6."), "{text}");
    let again = t.init_ok(1, &preseed);
    assert!(again.contains("nothing to do"), "{again}");
    lab.down().expect("tear the lab down");
}

/// s4 alone, first as a run that stopped at its `local` pool having
/// defined it as lvm (killed as the pool's definition starts, then the
/// lvm definition made by hand: what the earlier run with lvm chosen left
/// on a kernel without device-mapper); the rerun with the preseed's own
/// choice (dir) deletes the pending definition and makes the pool as
/// chosen.
fn a_single_server_forms_a_one_member_cluster(t: &Trial) {
    let preseed = t.preseed("s4-alone.yaml", 4, &member(4));
    t.init_killing(4, &preseed, step_starts("Define storage pool local"), 4);
    t.lab.start_agent(4).expect("start s4's agent again");
    let lxc = |args: &[&str]| {
        t.lab
            .exec(
                Target::Server(4),
                std::iter::once("lxc").chain(args.iter().copied()),
            )
            .unwrap()
    };
    // The killed run may have got its definition in.
    lxc(&["storage", "delete", "local"]);
    let made = lxc(&["storage", "create", "local", "lvm", "--target", "s4"]);
    assert!(made.status.success(), "{made:?}");
    let pending = t.rt.block_on(t.lxd(4).storage_pool("local", None)).unwrap();
    assert!(
        pending
            .as_ref()
            .is_some_and(|p| p.driver == "lvm" && p.status == "Pending"),
        "{pending:?}"
    );
    let out = t.init_ok(4, &preseed);
    assert!(
        out.contains(
            "Delete the definitions of storage pool local (lvm) an earlier run left pending: dir \
             is chosen now"
        ),
        "{out}"
    );
    assert!(out.contains("the cluster is formed"), "{out}");
    assert!(t.clustered(4));
    let lxd = t.lxd(4);
    let members = t.rt.block_on(lxd.cluster_members()).unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].server_name, "s4");
    let pool = t.rt.block_on(lxd.storage_pool("local", None)).unwrap();
    let pool = pool.expect("pool local");
    assert_eq!(
        (pool.status.as_str(), pool.driver.as_str()),
        ("Created", "dir")
    );
    // Run again: nothing to do, and never "already initialized".
    let again = t.init_ok(4, &preseed);
    assert!(again.contains("nothing to do"), "{again}");
}

fn an_unknown_key_is_rejected_by_the_cli(t: &Trial) {
    let path = t.files.join("unknown-key.yaml");
    fs::write(&path, "members:\n  - name: s1\n    colour: blue\n").unwrap();
    let err = t.init_fails(1, &path);
    assert!(err.contains("colour"), "{err}");
    assert!(!t.clustered(1));
}

fn an_unknown_member_is_rejected_before_any_change(t: &Trial) {
    // The session this opens is also where s2, s3 and s4 enroll.
    let members = format!("{}{}{}", member(1), member(2), member(9));
    let preseed = t.preseed("unknown-member.yaml", 1, &members);
    let err = t.init_fails(1, &preseed);
    assert!(err.contains("unknown member s9"), "{err}");
    assert!(err.contains("Nothing was changed"), "{err}");
    assert!(!t.clustered(1));
}

fn bad_disks_and_a_member_of_another_cluster_are_rejected_before_any_change(t: &Trial) {
    // s4 formed its own cluster in the first case.
    let members = format!("{}{}", member(1), member(4));
    let preseed = t.preseed("foreign.yaml", 1, &members);
    let err = t.init_fails(1, &preseed);
    assert!(
        err.contains("s4 is already in another LXD cluster"),
        "{err}"
    );

    let missing = format!(
        "{}  - name: s2\n    disks:\n      local: /dev/muster-no-such-disk\n",
        member(1)
    );
    let preseed = t.preseed("missing-disk.yaml", 1, &missing);
    let err = t.init_fails(1, &preseed);
    assert!(
        err.contains("has no disk or partition /dev/muster-no-such-disk"),
        "{err}"
    );

    let disk = t.lab.server(3).disks[0].clone();
    let mkfs = t
        .lab
        .exec(
            Target::Server(3),
            ["mkfs.ext4", "-q", "-F", path_str(&disk)],
        )
        .expect("run mkfs.ext4");
    assert!(mkfs.status.success(), "mkfs.ext4: {mkfs:?}");
    let with_fs = format!(
        "{}  - name: s3\n    disks:\n      local: {}\n",
        member(1),
        disk.display()
    );
    let preseed = t.preseed("filesystem.yaml", 1, &with_fs);
    let err = t.init_fails(1, &preseed);
    assert!(err.contains("is not empty"), "{err}");
    assert!(err.contains("wipe"), "{err}");

    for server in 1..=3 {
        assert!(!t.clustered(server), "s{server} was changed");
    }
}

/// A chosen disk detached after the plan was shown (a disk pulled, a
/// device gone): the run looks again before the first step and refuses,
/// naming the disk, with nothing changed on any member.
fn a_disk_gone_between_plan_and_apply_is_refused_before_any_change(t: &Trial) {
    let s2 = t.lab.server(2);
    let (disk, file) = (s2.disks[0].clone(), s2.disk_files[0].clone());
    let members = format!(
        "{}  - name: s2\n    disks:\n      local: {}\n",
        member(1),
        disk.display()
    );
    let preseed = t.preseed("pulled-disk.yaml", 1, &members);
    let plan = t.init(1, &preseed, &["--dry-run"]);
    assert!(plan.status.success(), "the plan: {plan:?}");

    let losetup = |args: &[&str]| {
        let out = std::process::Command::new("losetup")
            .args(args)
            .output()
            .expect("run losetup");
        assert!(out.status.success(), "losetup {args:?}: {out:?}");
    };
    losetup(&["--detach", path_str(&disk)]);
    let err = t.init_fails(1, &preseed);
    // Attached again where it was, for the cases after this one.
    losetup(&[path_str(&disk), path_str(&file)]);
    println!("with s2's disk detached after the plan: {}", err.trim());
    assert!(err.contains("s2"), "{err}");
    assert!(err.contains(path_str(&disk)), "{err}");
    for server in 1..=2 {
        assert!(!t.clustered(server), "s{server} was changed");
    }
}

fn main_preseed(t: &Trial) -> PathBuf {
    let members = format!("{}{}{}", member(1), member(2), member(3));
    t.preseed("cluster.yaml", 1, &members)
}

fn a_dry_run_prints_the_plan_and_changes_nothing(t: &Trial) {
    let out = t.init(1, &main_preseed(t), &["--dry-run"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for wanted in [
        "Plan: ",
        "Set LXD's core.https_address to",
        "Bootstrap the LXD cluster with s1",
        "Join the LXD cluster at",
        "Create storage pool local (dir) on every member",
        "Create bridge network lxdbr0 on every member",
        "Set the default profile",
        "dry run: nothing was changed",
    ] {
        assert!(stdout.contains(wanted), "no {wanted:?} in:\n{stdout}");
    }
    assert!(!t.clustered(1));
}

fn init_resumes_after_the_initiator_and_a_joiner_die(t: &Trial) {
    let preseed = main_preseed(t);
    let lab = t.lab;

    // The initiator's agent dies right after the bootstrap: its next steps
    // start only after every member is observed again, which takes longer
    // than the kill.
    let err = t.init_killing(1, &preseed, step_done("Bootstrap the LXD cluster"), 1);
    assert!(err.contains("run the same muster init again"), "{err}");
    assert!(t.clustered(1), "s1's LXD did not bootstrap");
    lab.start_agent(1).unwrap();

    // A joiner's agent dies after its token was issued, before it joins:
    // killed as the token is asked of LXD, it is gone when the join is
    // delivered.
    let err = t.init_killing(1, &preseed, step_starts("Issue a join token for s2"), 2);
    assert!(err.contains("s2"), "{err}");
    assert!(err.contains("muster init` again"), "{err}");
    assert!(!t.clustered(2));
    lab.start_agent(2).unwrap();

    // Resumed: no step is repeated, nothing says "already initialized".
    let out = t.init_ok(1, &preseed);
    assert!(!out.contains("Bootstrap"), "{out}");
    assert!(out.contains("Issue a join token for s2"), "{out}");
    // The token the failed run issued is used, not replaced.
    assert!(
        out.contains("s2: using the join token issued earlier"),
        "{out}"
    );
    assert!(out.contains("the cluster is formed"), "{out}");
    let again = t.init_ok(1, &preseed);
    assert!(again.contains("nothing to do"), "{again}");

    let state = fs::read_to_string(lab.server(1).state_dir.join("cluster.json"))
        .expect("s1 keeps cluster.json");
    let state: serde_json::Value = serde_json::from_str(&state).unwrap();
    assert_eq!(state["formed"], true, "{state}");
    assert_eq!(state["members"].as_array().unwrap().len(), 3, "{state}");
}

/// The cluster carries workloads, not only LXD's records of them.
fn a_container_runs_on_every_member(t: &Trial) {
    t.containers_run_on(&[1, 2, 3], "local");
}

/// Waits until `server`'s LXD sees exactly `want` online.
fn sees_online(t: &Trial, server: usize, want: &[&str]) {
    let lxd = t.lxd(server);
    // Heartbeats mark a new member online within seconds.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let members = t.rt.block_on(lxd.cluster_members()).unwrap();
        let mut online: Vec<String> = members
            .iter()
            .filter(|m| m.is_online())
            .map(|m| m.server_name.clone())
            .collect();
        online.sort();
        if online == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "s{server} sees online: {online:?}\n{}",
            t.logs()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn the_cluster_is_formed_on_every_member(t: &Trial) {
    let want = ["s1", "s2", "s3"];
    for server in 1..=3 {
        let lxd = t.lxd(server);
        sees_online(t, server, &want);
        let pool = t.rt.block_on(lxd.storage_pool("local", None)).unwrap();
        let pool = pool.expect("pool local");
        assert_eq!(pool.status, "Created");
        assert_eq!(pool.driver, "dir");
        let mut at = pool.locations.clone();
        at.sort();
        assert_eq!(at, want, "pool local is on {at:?}");
        let net = t.rt.block_on(lxd.network("lxdbr0", None)).unwrap();
        let net = net.expect("network lxdbr0");
        assert_eq!(net.status, "Created");
        assert_eq!(net.kind, "bridge");
        let profile = t.rt.block_on(lxd.profile("default")).unwrap();
        assert_eq!(profile.devices["root"]["pool"], "local");
        assert_eq!(profile.devices["eth0"]["network"], "lxdbr0");
    }
    let s1 = t.lxd(1);
    for target in want {
        let record = InstancesPost::empty_container(&format!("c-{target}"));
        t.rt.block_on(s1.create_instance(&record, Some(target)))
            .unwrap_or_else(|e| panic!("an instance record on {target}: {e}"));
    }
    let on_s3 = t.rt.block_on(t.lxd(3).instance_names()).unwrap();
    assert!(on_s3.contains(&"c-s3".to_owned()), "{on_s3:?}");

    let out = t
        .lab
        .exec(Target::Server(2), ["muster", "status", "--json"])
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let status: ClusterStatus = serde_json::from_slice(&out.stdout).unwrap();
    assert!(status.clustered);
    let mut online: Vec<&str> = status
        .members
        .iter()
        .filter(|m| m.status == "Online")
        .map(|m| m.name.as_str())
        .collect();
    online.sort();
    assert_eq!(online, want);
    assert!(status.storage_pools.iter().any(|p| p.name == "local"));
    assert!(status.networks.iter().any(|n| n.name == "lxdbr0"));
}

fn a_dead_member_is_removed_with_force(t: &Trial) {
    t.lab
        .stop_agent(3, Signal::SIGKILL)
        .expect("kill s3's agent");
    t.lab.kill_lxd(3, false).expect("kill s3's LXD");
    let refused = t
        .lab
        .exec(Target::Server(1), ["muster", "remove", "s3", "--dry-run"])
        .unwrap();
    let text = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{text}");
    assert!(
        text.contains("s3 does not answer") && text.contains("--force"),
        "{text}"
    );
    let out = t
        .lab
        .exec(
            Target::Server(1),
            ["muster", "remove", "s3", "--force", "--yes"],
        )
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}\n{}", t.logs());
    assert!(text.contains("from the cluster's side (force)"), "{text}");
    assert!(text.contains("muster members forget s1"), "{text}");
    for server in [1, 2] {
        let names = t.lxd_members(server);
        assert_eq!(names, ["s1", "s2"], "s{server}");
        let trusted = t
            .lab
            .exec(Target::Server(server), ["muster", "members", "--json"])
            .unwrap();
        let trusted = String::from_utf8_lossy(&trusted.stdout);
        assert!(!trusted.contains("\"s3\""), "s{server}: {trusted}");
    }
}

fn a_reinstalled_server_takes_the_dead_members_place(t: &Trial) {
    // A fresh install: a new identity (so a new certificate) and LXD.
    let state = &t.lab.server(3).state_dir;
    for entry in fs::read_dir(state).expect("s3's state directory") {
        let path = entry.unwrap().path();
        if path.is_dir() {
            fs::remove_dir_all(&path).unwrap();
        } else {
            fs::remove_file(&path).unwrap();
        }
    }
    t.lab.reinstall_lxd(3).expect("reinstall s3's LXD");
    t.lab.start_agent(3).expect("start s3's agent");
    // The dead s3 was removed; the new one is added under its name.
    let out = t.muster_ok(1, "add", &t.addition("s3-again.yaml", &member(3)));
    assert!(out.contains("the cluster is formed"), "{out}");
    // The kept preseed now matches the original one.
    let again = t.init_ok(1, &main_preseed(t));
    assert!(again.contains("nothing to do"), "{again}");
    for server in 1..=3 {
        sees_online(t, server, &["s1", "s2", "s3"]);
    }
    let names = t.rt.block_on(t.lxd(1).instance_names()).unwrap();
    assert!(!names.contains(&"c-s3".to_owned()), "{names:?}");
    t.containers_run_on(&[3], "local");
}
