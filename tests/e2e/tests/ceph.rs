//! Ceph formed by `muster init --preseed`, end to end, in one lab of four
//! servers, each with a real musterd, a real LXD and Debian's Ceph in its
//! namespace, and two 4 GiB sparse loop disks; s1, s2 and s3 form the
//! cluster, s4 comes later:
//!
//! - s2's agent without Ceph's programs on its PATH: `muster init` is
//!   refused before anything changes, naming s2, each program, its
//!   package and the step that needs it;
//! - a Ceph disk carrying ext4 without the wipe flag is refused before
//!   anything changes;
//! - s2's agent killed once its monitor is made, before any OSD; the rerun
//!   completes with one OSD per chosen disk (the ext4 disk, now with the
//!   wipe flag, wiped and used);
//! - HEALTH_OK, every OSD up and in, an object written with `rados` on s1
//!   read back on s3, LXD's pool `remote` (driver ceph) created on every
//!   member and the default profile's root disk on it, `muster status`
//!   showing Ceph, a further run with nothing to do;
//! - s3's records of its OSDs' devices deleted: its agent, started again,
//!   writes them back from the OSDs' block links and labels (OSDs made by
//!   builds that kept no record);
//! - s3's link pulled for 20 s as the rerun makes its OSDs run again (its
//!   daemons ended with its agent): the run waits and completes, or fails
//!   naming s3; the same command then completes, 4 OSDs, HEALTH_OK;
//! - s3's LXD reinstalled (its state gone, the cluster still listing it):
//!   the rerun removes the stale member and joins s3 again, with the pool
//!   `remote` made on it through its join;
//! - `muster add` refuses s3 (a member already), then adds s4 to the
//!   formed cluster: made a Ceph client before it joins
//!   LXD (which makes the pool `remote` on it as it joins), then able to
//!   read the cluster's objects;
//! - s3's monitor and OSDs stopped: s1 and s2 keep a quorum and take a
//!   write, and `muster status` says so;
//! - `muster remove` refused, nothing changed: the server itself, a
//!   stranger, on a server that is not the members' controller, s3 while
//!   the pools' 3 copies need its OSDs;
//! - s4 given an OSD (s3's daemons started again by the same rerun), then
//!   `muster remove s3`: its data copied to the others first, then gone from
//!   `lxc cluster list`, `ceph osd tree`, `ceph mon dump`, `ceph auth ls` and
//!   every trust store (its own LXD standalone, its Ceph files gone), its
//!   monitor's address from every other member's `ceph.conf`, HEALTH_OK, the objects written before read on s4; removing it again is
//!   refused as a stranger's;
//! - `muster maintenance s4 on`: noout on its CRUSH host, LXD evacuates it
//!   (its container on `local` no longer runs there), `muster status`
//!   shows both; on again has nothing to do; off restores it (the
//!   container runs on it again)
//!   and clears noout; off when not in maintenance is refused;
//! - the pools lowered to 2 copies (as the refusal above advises), s4 dies
//!   (its agent, LXD and Ceph daemons killed): `muster remove s4` is refused
//!   without --force; with it s4 is gone from LXD, Ceph and the trust
//!   stores, and the data is whole on s1 and s2.
//!
//! A second lab of three servers forms Incus and Ceph the same way: the
//! `remote` pool's Ceph driver on Incus.
//!
//! Not here, because this machine cannot: creating a volume on `remote`
//! (LXD maps RBD images with the kernel's rbd module, which the kernels of
//! this machine and of CI lack). LXD's placeholder image in the pool shows that LXD
//! itself reached Ceph.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use common::trial::{judge_link_fault, step_done, step_starts, Trial};
use common::{case, path_str, Case};
use muster_lab::{Daemon, Signal, Target};
use muster_proto::formation::{CephStatus, ClusterStatus};

#[test]
fn ceph_formed_by_muster_init_in_a_lab_of_four_servers() {
    if let Err(e) = muster_lab::require_root() {
        panic!("this test did not run: {e}");
    }
    for tool in ["lxd", "ceph-mon", "ceph-osd", "rados"] {
        assert!(
            common::on_path(tool),
            "this test did not run: {tool} is not installed (apt-get install lxd nftables \
             ceph-mon ceph-mgr ceph-osd ceph-common)"
        );
    }
    let lab = common::trial::ceph_lab(4, 2, Daemon::Lxd);
    let t = Trial::new(&lab);
    t.enroll_all();
    let cases: [Case<Trial>; 15] = [
        case!(a_member_without_the_ceph_programs_is_refused_before_any_change),
        case!(a_ceph_disk_with_a_filesystem_and_no_wipe_is_refused),
        case!(a_wipe_without_the_members_consent_is_refused),
        case!(init_resumes_after_a_member_dies_between_its_monitor_and_its_osd),
        case!(ceph_is_healthy_and_lxd_has_a_remote_pool),
        case!(a_container_runs_on_every_member),
        case!(an_agent_records_the_devices_of_osds_without_a_record_when_it_starts),
        case!(a_link_lost_while_an_osd_is_made_is_waited_for_or_named),
        case!(a_member_whose_lxd_was_reinstalled_joins_again),
        case!(a_fourth_server_is_added_as_a_ceph_client_then_lxd),
        case!(the_cluster_stays_writable_without_one_member),
        case!(a_removal_that_is_not_safe_is_refused),
        case!(a_member_is_removed_from_lxd_ceph_and_trust),
        case!(a_member_in_maintenance_keeps_its_osds_in_and_comes_back),
        case!(a_dead_member_is_removed_with_force),
    ];
    common::run_cases(&t, &cases);
    lab.down().expect("tear the lab down");
}

/// The `remote` pool's Ceph driver on the second daemon: Incus 6.0 and
/// Ceph formed by the same `muster init` on three servers with one Ceph
/// disk each, checked from Ceph's and Incus's own view.
#[test]
fn ceph_on_incus_formed_by_muster_init_in_a_lab_of_three_servers() {
    if let Err(e) = muster_lab::require_root() {
        panic!("this test did not run: {e}");
    }
    for tool in [Daemon::Incus.program(), "ceph-mon", "ceph-osd", "rados"] {
        assert!(
            common::on_path(tool) || Path::new(tool).is_file(),
            "this test did not run: {tool} is not installed (tests/setup installs it)"
        );
    }
    let lab = common::trial::ceph_lab(3, 1, Daemon::Incus);
    let t = Trial::new(&lab);
    t.enroll_all();
    let members: String = (1..=3)
        .map(|s| {
            let d = disk(&t, s, 0);
            format!(
                "  - name: s{s}\n    disks:\n      ceph:\n          - {}\n",
                d.display()
            )
        })
        .collect();
    let preseed = t.preseed("ceph-incus.yaml", 1, &members);
    let out = t.init_ok(1, &preseed);
    assert!(out.contains("Incus 6."), "{out}");
    assert!(out.contains("the cluster is formed"), "{out}");
    wait_healthy(&t);
    osds_up_and_in(&t, 3);
    the_pool_remote_is_on_every_member(&t, 3);
    t.containers_run_on(&[1, 2, 3], "local");
    let ceph = ceph_status(&t, 3);
    assert_eq!(ceph.quorum.len(), 3, "{ceph:?}");
    let again = t.init_ok(1, &preseed);
    assert!(again.contains("nothing to do"), "{again}");
    lab.down().expect("tear the lab down");
}

/// `/dev/loopN` of disk `index` of server `server`.
fn disk(t: &Trial, server: usize, index: usize) -> PathBuf {
    t.lab.server(server).disks[index].clone()
}

/// s1 and s2 give their first disk, s3 both (its second carries ext4).
fn members(t: &Trial, wipe: bool) -> String {
    let mut text = String::new();
    for server in 1..=3 {
        let mut ceph = vec![disk(t, server, 0)];
        if server == 3 {
            ceph.push(disk(t, server, 1));
        }
        let list: Vec<String> = ceph
            .iter()
            .map(|d| format!("\n          - {}", d.display()))
            .collect();
        text.push_str(&format!(
            "  - name: s{server}\n    disks:\n      ceph:{}\n",
            list.concat()
        ));
        if server == 3 && wipe {
            text.push_str(&format!(
                "      wipe:\n          - {}\n",
                disk(t, 3, 1).display()
            ));
        }
    }
    text
}

/// The server's Ceph config (its musterd.toml's `[ceph] root`).
fn conf(t: &Trial, server: usize) -> PathBuf {
    t.lab.server(server).ceph_dir.join("ceph.conf")
}

fn run(t: &Trial, server: usize, argv: &[&str]) -> Output {
    t.lab
        .exec(Target::Server(server), argv.iter().copied())
        .unwrap_or_else(|e| panic!("s{server}: {argv:?}: {e}"))
}

fn run_ok(t: &Trial, server: usize, argv: &[&str]) -> String {
    let out = run(t, server, argv);
    assert!(
        out.status.success(),
        "s{server}: {argv:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `ceph ARGS --format json` on `server`.
fn ceph_json(t: &Trial, server: usize, args: &[&str]) -> serde_json::Value {
    let conf = conf(t, server);
    let mut argv = vec!["ceph", "-c", path_str(&conf), "--connect-timeout", "20"];
    argv.extend_from_slice(args);
    argv.extend_from_slice(&["--format", "json"]);
    serde_json::from_str(&run_ok(t, server, &argv)).expect("ceph answers JSON")
}

fn status(t: &Trial, server: usize) -> ClusterStatus {
    let out = run_ok(t, server, &["muster", "status", "--json"]);
    serde_json::from_str(&out).expect("muster status --json")
}

fn ceph_status(t: &Trial, server: usize) -> CephStatus {
    status(t, server)
        .ceph
        .unwrap_or_else(|| panic!("s{server}: muster status shows no Ceph"))
}

/// Nothing of Ceph exists yet, and no server is clustered.
fn nothing_changed(t: &Trial) {
    for server in 1..=3 {
        assert!(!conf(t, server).exists(), "s{server} got a Ceph config");
        assert!(!t.clustered(server), "s{server} was changed");
    }
}

/// The lab's servers share the host's programs: s2's agent started with
/// a PATH that has `ip` (which starts it in its namespace) but none of
/// Ceph's stands for a server without the Ceph packages. Afterwards it is
/// started again as the lab starts it.
fn a_member_without_the_ceph_programs_is_refused_before_any_change(t: &Trial) {
    let lab = t.lab;
    lab.stop_agent(2, Signal::SIGTERM).expect("stop s2's agent");
    lab.start_agent_with_path(2, "/usr/sbin")
        .expect("start s2's agent without Ceph's programs");
    let preseed = t.preseed("ceph-no-tools.yaml", 1, &members(t, false));
    let err = t.init_fails(1, &preseed);
    for (program, package) in [
        ("ceph-mon", "ceph-mon"),
        ("ceph-mgr", "ceph-mgr"),
        ("ceph-osd", "ceph-osd"),
        ("rbd", "ceph-common"),
    ] {
        assert!(
            err.contains(&format!("s2: {program} is not installed")),
            "{program}: {err}"
        );
        assert!(err.contains(&format!("apt-get install {package}")), "{err}");
    }
    assert!(err.contains("Add a Ceph monitor on s2"), "{err}");
    assert!(
        !err.contains("s1: ceph") && !err.contains("s3: ceph"),
        "{err}"
    );
    nothing_changed(t);
    lab.stop_agent(2, Signal::SIGTERM).expect("stop s2's agent");
    lab.start_agent(2).expect("start s2's agent");
}

fn a_ceph_disk_with_a_filesystem_and_no_wipe_is_refused(t: &Trial) {
    let d = disk(t, 3, 1);
    run_ok(t, 3, &["mkfs.ext4", "-q", "-F", path_str(&d)]);
    let preseed = t.preseed("ceph-no-wipe.yaml", 1, &members(t, false));
    let err = t.init_fails(1, &preseed);
    assert!(
        err.contains(&format!("{} on s3 is not empty", d.display())),
        "{err}"
    );
    assert!(err.contains("ext4"), "{err}");
    nothing_changed(t);
    let blkid = run_ok(t, 3, &["blkid", "-o", "value", "-s", "TYPE", path_str(&d)]);
    assert_eq!(blkid.trim(), "ext4", "the refused disk was touched");
}

/// The preseed on s1 lists s3's ext4 disk under `wipe`, but s3's own
/// operator has not consented: s3 refuses, nothing is wiped. Then s3
/// consents (`wipe_allowed` in its musterd.toml) for the cases after.
fn a_wipe_without_the_members_consent_is_refused(t: &Trial) {
    let preseed = t.preseed("ceph-wipe-unconsented.yaml", 1, &members(t, true));
    let err = t.init_fails(1, &preseed);
    assert!(err.contains("wipe_allowed"), "{err}");
    assert!(err.contains("s3"), "{err}");
    let d = disk(t, 3, 1);
    let blkid = run(t, 3, &["blkid", "-p", path_str(&d)]);
    assert!(
        String::from_utf8_lossy(&blkid.stdout).contains("ext4"),
        "{} was touched: {blkid:?}",
        d.display()
    );
    common::allow_wipe(t.lab, 3, &d);
    t.lab
        .stop_agent(3, Signal::SIGTERM)
        .expect("stop s3's agent");
    t.lab.start_agent(3).expect("start s3's agent");
}

fn init_resumes_after_a_member_dies_between_its_monitor_and_its_osd(t: &Trial) {
    let lab = t.lab;
    let preseed = t.preseed("ceph.yaml", 1, &members(t, true));
    // s2 dies once its monitor is made. The next step is planned from a
    // fresh look at every member, s2 included, and OSDs come after every
    // monitor and manager: no OSD can be made before the run stops.
    let err = t.init_killing(1, &preseed, step_done("Add a Ceph monitor on s2"), 2);
    assert!(err.contains("s2"), "{err}");
    assert!(err.contains("muster init` again"), "{err}");
    let osds = ceph_json(t, 1, &["osd", "ls"]);
    assert_eq!(
        osds,
        serde_json::json!([]),
        "an OSD was made before s2 died"
    );
    // Wipes come first in a plan: the ext4 disk allowed to be wiped is.
    let d = disk(t, 3, 1);
    let blkid = run(t, 3, &["blkid", "-p", path_str(&d)]);
    assert!(
        !blkid.status.success(),
        "{} still carries: {}",
        d.display(),
        String::from_utf8_lossy(&blkid.stdout)
    );
    lab.start_agent(2).unwrap();

    let out = t.init_ok(1, &preseed);
    assert!(!out.contains("Create the Ceph cluster"), "{out}");
    assert!(!out.contains("Wipe"), "{out}");
    assert!(out.contains("the cluster is formed"), "{out}");
    let osds = ceph_json(t, 1, &["osd", "ls"]);
    assert_eq!(
        osds.as_array().map(Vec::len),
        Some(4),
        "one OSD per chosen disk: {osds}"
    );
}

/// Containers on `local`: this machine's kernel has no rbd module, so LXD
/// cannot map an image on `remote` (the VM lab runs those).
fn a_container_runs_on_every_member(t: &Trial) {
    t.containers_run_on(&[1, 2, 3], "local");
}

/// Placement groups peer within a minute of the pool's creation.
fn wait_healthy(t: &Trial) {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let health = ceph_json(t, 1, &["health"]);
        if health["status"] == "HEALTH_OK" {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not healthy: {health}\n{}",
            t.logs()
        );
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// Ceph's own view: `count` OSDs, every one up and in.
fn osds_up_and_in(t: &Trial, count: usize) {
    let dump = ceph_json(t, 2, &["osd", "dump"]);
    let osds = dump["osds"].as_array().expect("osds");
    assert_eq!(osds.len(), count, "{dump}");
    assert!(osds.iter().all(|o| o["up"] == 1 && o["in"] == 1), "{dump}");
}

/// The daemon's own view on s1..s`servers`: the pool `remote` (driver
/// ceph) created on every one of them, and the default profile's root disk
/// on it.
fn the_pool_remote_is_on_every_member(t: &Trial, servers: usize) {
    let names: Vec<String> = (1..=servers).map(|s| format!("s{s}")).collect();
    for server in 1..=servers {
        let lxd = t.lxd(server);
        let pool = t.rt.block_on(lxd.storage_pool("remote", None)).unwrap();
        let pool = pool.unwrap_or_else(|| panic!("s{server}: no pool remote"));
        assert_eq!(pool.driver, "ceph");
        assert_eq!(pool.status, "Created");
        let mut at = pool.locations.clone();
        at.sort();
        assert_eq!(at, names, "pool remote is on {at:?}");
        let profile = t.rt.block_on(lxd.profile("default")).unwrap();
        assert_eq!(profile.devices["root"]["pool"], "remote");
    }
}

fn ceph_is_healthy_and_lxd_has_a_remote_pool(t: &Trial) {
    wait_healthy(t);
    osds_up_and_in(t, 4);
    let pools = ceph_json(t, 1, &["osd", "pool", "ls", "detail"]);
    let rbd = pools
        .as_array()
        .and_then(|p| p.iter().find(|p| p["pool_name"] == "lxd_remote"))
        .unwrap_or_else(|| panic!("no pool lxd_remote: {pools}"));
    assert_eq!(rbd["size"], 3, "{rbd}");

    let object = t.files.join("object");
    fs::write(&object, "written on s1, read on s3\n").unwrap();
    let back = t.files.join("object.back");
    let (c1, c3) = (conf(t, 1), conf(t, 3));
    rados(t, 1, &c1, &["put", "hello", path_str(&object)]);
    rados(t, 3, &c3, &["get", "hello", path_str(&back)]);
    assert_eq!(fs::read(&back).unwrap(), fs::read(&object).unwrap());

    the_pool_remote_is_on_every_member(t, 3);
    let images = run_ok(
        t,
        2,
        &["rbd", "-c", path_str(&conf(t, 2)), "ls", "lxd_remote"],
    );
    assert!(
        images.lines().any(|l| l == "lxd_lxd_remote"),
        "LXD's placeholder image is not in the pool: {images:?}"
    );

    let ceph = ceph_status(t, 2);
    assert_eq!(ceph.health, "HEALTH_OK", "{ceph:?}");
    assert_eq!(ceph.quorum.len(), 3, "{ceph:?}");
    let per_host: Vec<(String, usize)> = ceph
        .hosts
        .iter()
        .map(|h| {
            (
                h.name.clone(),
                h.osds.iter().filter(|o| o.up && o.is_in).count(),
            )
        })
        .collect();
    assert_eq!(
        per_host,
        [("s1".into(), 1), ("s2".into(), 1), ("s3".into(), 2)]
    );
    assert!(ceph.warnings.is_empty(), "{ceph:?}");

    let again = t.init_ok(1, &t.files.join("ceph.yaml"));
    assert!(again.contains("nothing to do"), "{again}");
}

fn an_agent_records_the_devices_of_osds_without_a_record_when_it_starts(t: &Trial) {
    let work = t.lab.server(3).ceph_dir.join("muster");
    let records: Vec<(PathBuf, String)> = fs::read_dir(&work)
        .unwrap_or_else(|e| panic!("{}: {e}", work.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            let name = path.file_name().unwrap().to_string_lossy();
            name.starts_with("osd-") && name.ends_with(".device")
        })
        .map(|path| {
            let text = fs::read_to_string(&path).unwrap();
            (path, text)
        })
        .collect();
    assert_eq!(records.len(), 2, "s3's OSD device records: {records:?}");
    t.lab
        .stop_agent(3, Signal::SIGTERM)
        .expect("stop s3's agent");
    for (path, _) in &records {
        fs::remove_file(path).unwrap();
    }
    t.lab.start_agent(3).expect("start s3's agent");
    // Written by a task the agent starts beside serving: wait for it.
    let deadline = Instant::now() + Duration::from_secs(30);
    for (path, text) in &records {
        while !path.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
        }
        assert_eq!(
            fs::read_to_string(path).ok().as_ref(),
            Some(text),
            "{} after s3's agent started",
            path.display()
        );
    }
}

/// The case before stopped s3's agent, and with it (the lab's agents run
/// them) its Ceph daemons: the rerun makes its OSDs run again, and s3's
/// link is pulled for 20 s as the first of them starts.
fn a_link_lost_while_an_osd_is_made_is_waited_for_or_named(t: &Trial) {
    let preseed = t.files.join("ceph.yaml");
    let run = t
        .init_with_link_out(1, &preseed, step_starts("Create a Ceph OSD"), 3, || {})
        .unwrap_or_else(|e| panic!("{e}"));
    let first = judge_link_fault(&run, 3).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("s3's link down as its OSD is made: {first}");
    t.healed(3).unwrap_or_else(|e| panic!("{e}"));
    let out = t.init_ok(1, &preseed);
    assert!(out.contains("the cluster is formed"), "{out}");
    wait_healthy(t);
    osds_up_and_in(t, 4);
}

fn rados(t: &Trial, server: usize, conf: &Path, args: &[&str]) {
    let mut argv = vec!["rados", "-c", path_str(conf), "-p", "lxd_remote"];
    argv.extend_from_slice(args);
    run_ok(t, server, &argv);
}

fn a_member_whose_lxd_was_reinstalled_joins_again(t: &Trial) {
    t.lab.reinstall_lxd(3).expect("reinstall s3's LXD");
    assert!(!t.clustered(3));
    let out = t.init_ok(1, &t.files.join("ceph.yaml"));
    assert!(
        out.contains("Remove s3 from the cluster's member list"),
        "{out}"
    );
    assert!(out.contains("the cluster is formed"), "{out}");
    // Ceph was not touched: s3's daemons kept running throughout.
    for step in ["Create a Ceph", "Add a Ceph", "as a Ceph client"] {
        assert!(!out.contains(step), "{out}");
    }
    assert!(t.clustered(3));
    let lxd = t.lxd(3);
    let members = t.rt.block_on(lxd.cluster_members()).unwrap();
    let mut online: Vec<&str> = members
        .iter()
        .filter(|m| m.is_online())
        .map(|m| m.server_name.as_str())
        .collect();
    online.sort();
    assert_eq!(online, ["s1", "s2", "s3"], "{members:?}");
    for pool in ["remote", "local"] {
        let found = t.rt.block_on(lxd.storage_pool(pool, Some("s3"))).unwrap();
        let found = found.unwrap_or_else(|| panic!("s3: no pool {pool}"));
        assert_eq!(found.status, "Created", "s3: pool {pool}: {found:?}");
    }
    let again = t.init_ok(1, &t.files.join("ceph.yaml"));
    assert!(again.contains("nothing to do"), "{again}");
}

fn a_fourth_server_is_added_as_a_ceph_client_then_lxd(t: &Trial) {
    // Refused before anything changes: a member the cluster has.
    let known = t.addition("s3-twice.yaml", "  - name: s3\n");
    let refused = t.muster(1, "add", &known, &[]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && err.contains("s3 is already a member"),
        "{err}"
    );
    let out = t.muster_ok(1, "add", &t.addition("s4.yaml", "  - name: s4\n"));
    let configure = out
        .find("Configure s4 as a Ceph client")
        .unwrap_or_else(|| panic!("s4 was not made a Ceph client:\n{out}"));
    let join = out
        .find("as s4 (")
        .unwrap_or_else(|| panic!("s4 did not join:\n{out}"));
    assert!(
        configure < join,
        "s4 joined before it was a Ceph client:\n{out}"
    );
    assert!(out.contains("the cluster is formed"), "{out}");
    let lxd = t.lxd(4);
    let pool =
        t.rt.block_on(lxd.storage_pool("remote", Some("s4")))
            .unwrap();
    let pool = pool.unwrap_or_else(|| panic!("s4: no pool remote"));
    assert_eq!(pool.status, "Created", "s4: pool remote: {pool:?}");
    let back = t.files.join("object.s4");
    rados(t, 4, &conf(t, 4), &["get", "hello", path_str(&back)]);
    assert_eq!(
        fs::read(&back).unwrap(),
        fs::read(t.files.join("object")).unwrap()
    );
    // The kept preseed now lists s4: init with the whole cluster agrees.
    let members = format!("{}  - name: s4\n", members(t, true));
    let again = t.init_ok(1, &t.preseed("ceph-and-s4.yaml", 1, &members));
    assert!(again.contains("nothing to do"), "{again}");
}

/// SIGKILLs `server`'s Ceph daemons of `kinds` ("mon", "osd", "mgr"), by
/// the pid files their config names: how many.
fn kill_ceph_daemons(t: &Trial, server: usize, kinds: &[&str]) -> usize {
    let run_dir = conf(t, server).with_file_name("run");
    let mut stopped = 0;
    for entry in fs::read_dir(&run_dir).expect("the Ceph run directory") {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let kind = name
            .strip_prefix("ceph-")
            .and_then(|n| n.split('.').next())
            .unwrap_or_default();
        if !kinds.contains(&kind) || !name.ends_with(".pid") {
            continue;
        }
        let pid: i32 = fs::read_to_string(&path).unwrap().trim().parse().unwrap();
        match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL) {
            Ok(()) => stopped += 1,
            // A pid file left by a daemon that ended already.
            Err(nix::errno::Errno::ESRCH) => {}
            Err(e) => panic!("kill {name} ({pid}): {e}"),
        }
    }
    stopped
}

fn the_cluster_stays_writable_without_one_member(t: &Trial) {
    let stopped = kill_ceph_daemons(t, 3, &["mon", "osd"]);
    assert_eq!(stopped, 3, "s3 should run a mon and two OSDs");
    let object = t.files.join("object");
    let c1 = conf(t, 1);
    // The monitors notice the lost one within seconds; the write waits.
    rados(t, 1, &c1, &["put", "after-loss", path_str(&object)]);
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let ceph = ceph_status(t, 1);
        if ceph.quorum.len() == 2 && ceph.health != "HEALTH_OK" {
            assert_eq!(ceph.mons.len(), 3, "{ceph:?}");
            break;
        }
        assert!(Instant::now() < deadline, "{ceph:?}");
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// `muster remove ARGS --dry-run` on `server`, which must be refused:
/// what it printed.
fn remove_refused(t: &Trial, server: usize, args: &[&str]) -> String {
    let mut argv = vec!["muster", "remove", "--dry-run"];
    argv.extend_from_slice(args);
    let out = run(t, server, &argv);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !out.status.success(),
        "s{server}: {argv:?} was not refused:\n{text}"
    );
    assert!(text.contains("nothing was changed"), "{text}");
    text
}

fn a_removal_that_is_not_safe_is_refused(t: &Trial) {
    let own = remove_refused(t, 1, &["s1"]);
    assert!(
        own.contains("s1 is the server running muster remove"),
        "{own}"
    );
    let stranger = remove_refused(t, 1, &["s9"]);
    assert!(stranger.contains("s9 is not a member"), "{stranger}");
    let not_controller = remove_refused(t, 2, &["s3"]);
    assert!(
        not_controller.contains("run muster remove on s1"),
        "{not_controller}"
    );
    let copies = remove_refused(t, 1, &["s3", "--force"]);
    assert!(
        copies.contains("keeps 3 copies on different members, but only 2 members would hold OSDs"),
        "{copies}"
    );
    // Nothing was changed: LXD and Ceph still list s3.
    let members = t.rt.block_on(t.lxd(1).cluster_members()).unwrap();
    assert!(members.iter().any(|m| m.server_name == "s3"));
    let tree = ceph_json(t, 1, &["osd", "tree"]);
    assert!(crush_hosts(&tree).contains(&"s3".to_string()), "{tree}");
}

/// The host buckets of `ceph osd tree`.
fn crush_hosts(tree: &serde_json::Value) -> Vec<String> {
    tree["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter(|n| n["type"] == "host")
        .map(|n| n["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The monitor addresses `server`'s ceph.conf names in `mon host`.
fn mon_hosts(t: &Trial, server: usize) -> Vec<String> {
    let text = fs::read_to_string(conf(t, server)).expect("the member's ceph.conf");
    let line = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("mon host"))
        .unwrap_or_else(|| panic!("s{server}: no mon host in:\n{text}"));
    line.trim_start_matches([' ', '='])
        .split([',', ' '])
        .filter(|h| !h.is_empty())
        .map(str::to_owned)
        .collect()
}

fn a_member_is_removed_from_lxd_ceph_and_trust(t: &Trial) {
    let members = format!(
        "{}  - name: s4\n    disks:\n      ceph:\n          - {}\n",
        members(t, true),
        disk(t, 4, 0).display()
    );
    let preseed = t.preseed("ceph-s4-osd.yaml", 1, &members);
    t.init_ok(1, &preseed);
    wait_healthy(t);
    osds_up_and_in(t, 5);
    let s3 = t.lab.server(3).ip.to_string();
    assert!(mon_hosts(t, 4).contains(&s3), "s4 names no monitor of s3");

    let out = run_ok(t, 1, &["muster", "remove", "s3", "--yes"]);
    for step in [
        "Take osd.",
        "Wait until Ceph has copied the data",
        "Remove s3 from the LXD cluster",
        "Stop s3's Ceph daemons",
        "Remove s3's Ceph monitor",
        "Point s1's Ceph config at the monitors left",
        "Point s4's Ceph config at the monitors left",
        "s3 forgets this server",
        "Forget s3 here",
        "s3 was removed",
    ] {
        assert!(out.contains(step), "no {step:?} in:\n{out}");
    }

    // LXD's view, from the others and from s3.
    let left = t.lxd_members(1);
    assert_eq!(left, ["s1", "s2", "s4"]);
    assert!(!t.clustered(3), "s3's LXD still thinks it is clustered");
    // Ceph's view.
    let tree = ceph_json(t, 1, &["osd", "tree"]);
    assert!(!crush_hosts(&tree).contains(&"s3".to_string()), "{tree}");
    osds_up_and_in(t, 3);
    let mons = ceph_json(t, 1, &["mon", "dump"]);
    let mons: Vec<&str> = mons["mons"]
        .as_array()
        .expect("mons")
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    assert!(!mons.contains(&"s3"), "{mons:?}");
    let auth = ceph_json(t, 1, &["auth", "ls"]);
    assert!(!auth.to_string().contains("\"mgr.s3\""), "{auth}");
    assert!(!conf(t, 3).exists(), "s3 kept its Ceph config");
    for server in [1, 2, 4] {
        let named = mon_hosts(t, server);
        assert!(
            !named.contains(&s3),
            "s{server} still names s3's monitor: {named:?}"
        );
    }
    // Every trust store.
    for server in [1, 2, 4] {
        let trusted = run_ok(t, server, &["muster", "members", "--json"]);
        assert!(
            !trusted.contains("\"s3\""),
            "s{server} still trusts s3: {trusted}"
        );
    }
    let own = run_ok(t, 3, &["muster", "members", "--json"]);
    assert!(!own.contains("\"s1\""), "s3 still trusts s1: {own}");
    // The data is whole without s3.
    wait_healthy(t);
    for object in ["hello", "after-loss"] {
        let back = t.files.join(format!("{object}.after-removal"));
        rados(t, 4, &conf(t, 4), &["get", object, path_str(&back)]);
        assert_eq!(
            fs::read(&back).unwrap(),
            fs::read(t.files.join("object")).unwrap()
        );
    }
    let again = remove_refused(t, 1, &["s3"]);
    assert!(again.contains("s3 is not a member"), "{again}");
}

/// `lxc ARGS` on s1.
fn lxc(t: &Trial, args: &[&str]) -> String {
    let mut argv = vec!["lxc"];
    argv.extend_from_slice(args);
    run_ok(t, 1, &argv)
}

/// The container's status and the member it is on.
fn container_state(t: &Trial, name: &str) -> (String, String) {
    let list: serde_json::Value =
        serde_json::from_str(&lxc(t, &["list", name, "--format", "json"])).unwrap();
    let field = |key: &str| list[0][key].as_str().unwrap_or_default().to_owned();
    (field("status"), field("location"))
}

fn member_status(t: &Trial, name: &str) -> String {
    let members = t.rt.block_on(t.lxd(1).cluster_members()).unwrap();
    members
        .into_iter()
        .find(|m| m.server_name == name)
        .map(|m| m.status)
        .unwrap_or_default()
}

fn noout_on(t: &Trial, host: &str) -> bool {
    let dump = ceph_json(t, 1, &["osd", "dump"]);
    dump["crush_node_flags"][host]
        .as_array()
        .is_some_and(|f| f.iter().any(|f| f == "noout"))
}

fn a_member_in_maintenance_keeps_its_osds_in_and_comes_back(t: &Trial) {
    let alias = muster_lab::image::IMAGE_ALIAS;
    let name = "maint-s4";
    lxc(
        t,
        &[
            "launch",
            "-q",
            alias,
            name,
            "--target",
            "s4",
            "--storage",
            "local",
        ],
    );
    let off = run(t, 1, &["muster", "maintenance", "s4", "off"]);
    let text = String::from_utf8_lossy(&off.stderr);
    assert!(!off.status.success(), "{text}");
    assert!(text.contains("s4 is not in maintenance"), "{text}");

    let out = run_ok(t, 1, &["muster", "maintenance", "s4", "on"]);
    assert!(
        out.contains("Keep s4's OSDs in Ceph while it is down"),
        "{out}"
    );
    assert!(
        out.contains(&format!("Evacuate s4: LXD moves {name}")),
        "{out}"
    );
    assert_eq!(member_status(t, "s4"), "Evacuated");
    // LXD 5.0 copies it to another member (or stops it, as the
    // instance's cluster.evacuate says): it runs on s4 no more.
    let during = container_state(t, name);
    assert!(
        during.0 != "Running" || during.1 != "s4",
        "{name} still runs on s4: {during:?}"
    );
    assert!(noout_on(t, "s4"));
    let shown = status(t, 2);
    let host = shown
        .ceph
        .as_ref()
        .unwrap()
        .hosts
        .iter()
        .find(|h| h.name == "s4");
    assert!(host.is_some_and(|h| h.noout), "{shown:?}");
    assert!(
        shown
            .members
            .iter()
            .any(|m| m.name == "s4" && m.status == "Evacuated"),
        "{shown:?}"
    );
    let again = run_ok(t, 1, &["muster", "maintenance", "s4", "on"]);
    assert!(
        again.contains("nothing to do: s4 is in maintenance"),
        "{again}"
    );

    let out = run_ok(t, 2, &["muster", "maintenance", "s4", "off"]);
    assert!(out.contains("Restore s4"), "{out}");
    assert_eq!(member_status(t, "s4"), "Online");
    assert!(!noout_on(t, "s4"));
    let deadline = Instant::now() + Duration::from_secs(60);
    while container_state(t, name) != ("Running".to_owned(), "s4".to_owned()) {
        assert!(
            Instant::now() < deadline,
            "{name} is not running on s4 again: {:?}",
            container_state(t, name)
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    lxc(t, &["delete", "--force", name]);
}

fn a_dead_member_is_removed_with_force(t: &Trial) {
    let c1 = conf(t, 1);
    // New pools too, else Ceph warns that 2 OSDs are fewer than its default.
    run_ok(
        t,
        1,
        &[
            "ceph",
            "-c",
            path_str(&c1),
            "config",
            "set",
            "global",
            "osd_pool_default_size",
            "2",
        ],
    );
    let pools = ceph_json(t, 1, &["osd", "pool", "ls"]);
    for pool in pools.as_array().expect("pools") {
        let pool = pool.as_str().unwrap();
        for (key, value) in [("size", "2"), ("min_size", "1")] {
            run_ok(
                t,
                1,
                &[
                    "ceph",
                    "-c",
                    path_str(&c1),
                    "osd",
                    "pool",
                    "set",
                    pool,
                    key,
                    value,
                ],
            );
        }
    }
    wait_healthy(t);
    assert!(
        kill_ceph_daemons(t, 4, &["osd", "mgr"]) >= 1,
        "s4 ran no OSD"
    );
    t.lab
        .stop_agent(4, Signal::SIGKILL)
        .expect("kill s4's agent");
    t.lab.kill_lxd(4, false).expect("kill s4's LXD");

    let refused = remove_refused(t, 1, &["s4"]);
    assert!(refused.contains("s4 does not answer"), "{refused}");
    let out = run_ok(t, 1, &["muster", "remove", "s4", "--force", "--yes"]);
    assert!(out.contains("from the cluster's side (force)"), "{out}");
    assert!(!out.contains("Stop s4's Ceph daemons"), "{out}");
    let left = t.lxd_members(1);
    assert_eq!(left, ["s1", "s2"]);
    let tree = ceph_json(t, 1, &["osd", "tree"]);
    let mut hosts = crush_hosts(&tree);
    hosts.sort();
    assert_eq!(hosts, ["s1", "s2"], "{tree}");
    osds_up_and_in(t, 2);
    for server in [1, 2] {
        let trusted = run_ok(t, server, &["muster", "members", "--json"]);
        assert!(
            !trusted.contains("\"s4\""),
            "s{server} still trusts s4: {trusted}"
        );
    }
    wait_healthy(t);
    let back = t.files.join("hello.after-force");
    rados(t, 2, &conf(t, 2), &["get", "hello", path_str(&back)]);
    assert_eq!(
        fs::read(&back).unwrap(),
        fs::read(t.files.join("object")).unwrap()
    );
}
