//! End-to-end tests with real Ceph daemons in lab network namespaces, one
//! 4 GiB sparse loop disk per member: three members formed into a healthy
//! cluster with a CephFS file system, formed again (nothing may be duplicated), one member stopped
//! and brought back; and one member alone (a single-replica pool, a device
//! refused until a wipe is asked for, an OSD on the free partition of a
//! disk that also holds a file system). Need root and the Ceph packages;
//! without them they fail, saying they did not run. Timings and memory are
//! printed (`--nocapture`), never asserted.
//!
//! Set MUSTER_CEPH_RECORD=DIR to save the cluster's JSON answers there (the
//! fixtures in `tests/fixtures/` were recorded that way).

use std::collections::BTreeMap;
use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use muster_ceph::{
    CephCluster, CephMember, Cmd, CommandRunner, Daemon, DaemonState, HostRunner, MemberPaths,
    MemberSpec, OsdDevice, OsdSpec, ProcessSupervisor, Supervisor,
};
use muster_lab::{Lab, LabSpec, Server};

const HEALTH_TIMEOUT: Duration = Duration::from_secs(180);

/// Two cores: one Ceph lab at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn timing(what: &str, d: Duration) {
    eprintln!("TIMING {what}: {:.1}s", d.as_secs_f64());
}

fn require_root_and_ceph() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test did not run: needs root (network namespaces, loop devices, Ceph daemons); \
         run `cargo test -p muster-ceph` as root"
    );
    let found = std::env::var_os("PATH")
        .map(|p| {
            [
                "ceph-mon", "ceph-mgr", "ceph-osd", "ceph-mds", "ceph", "rados", "rbd",
            ]
            .iter()
            .all(|prog| std::env::split_paths(&p).any(|d| d.join(prog).is_file()))
        })
        .unwrap_or(false);
    assert!(
        found,
        "this test did not run: needs the Ceph packages \
         (apt-get install ceph-mon ceph-mgr ceph-osd ceph-mds ceph-common)"
    );
}

struct Node {
    runner: Arc<HostRunner>,
    supervisor: Arc<ProcessSupervisor>,
    paths: MemberPaths,
}

fn node(server: &Server) -> Node {
    let paths = MemberPaths::under(&server.dir.join("ceph"));
    Node {
        runner: Arc::new(HostRunner::in_netns(&server.netns)),
        supervisor: Arc::new(ProcessSupervisor::new(&paths, Some(server.netns.clone()))),
        paths,
    }
}

/// Every member with a mon, a mgr, an MDS and its disks as OSDs; an RBD
/// pool and a CephFS file system.
fn cluster(lab: &Lab, nodes: &[Node], fsid: &str) -> CephCluster {
    let mut c = cluster_with(lab, nodes, fsid, |s| {
        s.disks.iter().map(OsdSpec::new).collect()
    });
    c.cephfs = Some("cephfs".into());
    for m in &mut c.members {
        m.spec.mds = true;
    }
    c
}

fn cluster_with(
    lab: &Lab,
    nodes: &[Node],
    fsid: &str,
    osds: impl Fn(&Server) -> Vec<OsdSpec>,
) -> CephCluster {
    let members = lab
        .servers()
        .iter()
        .zip(nodes)
        .map(|(s, n)| {
            let spec = MemberSpec {
                osds: osds(s),
                ..MemberSpec::new(&s.name, s.ip.into(), n.paths.clone())
            };
            // s2 as production runs it: files, devices and every
            // `--mkfs` the ceph user's (its daemons run as root here, the
            // lab having no systemd to drop to ceph).
            let owner = if s.name == "s2" {
                muster_ceph::ceph_user().expect("looking up the ceph user")
            } else {
                None
            };
            CephMember::new(spec, n.runner.clone(), n.supervisor.clone()).with_owner(owner)
        })
        .collect();
    CephCluster {
        fsid: fsid.to_owned(),
        public_network: lab.subnet(),
        cluster_network: None,
        osd_memory_target: Some(939_524_096),
        mon_data_avail_warn: Some(5),
        members,
        rbd_pool: Some("rbd".into()),
        cephfs: None,
        osd_up_timeout: Duration::from_secs(90),
    }
}

fn run_in(n: &Node, program: &str, args: &[&str]) -> Result<String, String> {
    let mut argv = vec!["-c".to_owned(), n.paths.conf.display().to_string()];
    argv.extend(args.iter().map(|a| a.to_string()));
    let cmd = Cmd::new(program, argv);
    let out = n.runner.run(&cmd).map_err(|e| e.to_string())?;
    out.check(&cmd)
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .map_err(|e| e.to_string())
}

/// Stores `data` as `object` in the pool "rbd", from member `n`.
fn rados_put(n: &Node, object: &str, data: &[u8]) -> Result<String, String> {
    let file = n.paths.work_dir.join(format!("put-{object}"));
    std::fs::write(&file, data).map_err(|e| e.to_string())?;
    run_in(
        n,
        "rados",
        &["-p", "rbd", "put", object, &file.display().to_string()],
    )
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn log_tails(nodes: &[Node]) -> String {
    let mut out = String::new();
    for n in nodes {
        let Ok(entries) = std::fs::read_dir(&n.paths.log_dir) else {
            continue;
        };
        for e in entries.flatten() {
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(15).collect();
            out.push_str(&format!("--- {} ---\n", e.path().display()));
            for l in tail.into_iter().rev() {
                out.push_str(l);
                out.push('\n');
            }
        }
    }
    out
}

fn record_fixtures(dir: &Path, c: &CephCluster, device: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let m = &c.members[0];
    for (name, args) in [
        ("status-health-ok", &["status"][..]),
        ("quorum-status", &["quorum_status"]),
        ("osd-dump", &["osd", "dump"]),
        ("osd-tree", &["osd", "tree"]),
        ("pool-ls-detail", &["osd", "pool", "ls", "detail"]),
        ("fs-ls", &["fs", "ls"]),
        ("fs-dump", &["fs", "dump"]),
    ] {
        let mut argv = args.to_vec();
        argv.extend(["--format", "json-pretty"]);
        let out = m.ceph(&argv).unwrap();
        std::fs::write(
            dir.join(format!("pacific-16.2.15-{name}.json")),
            &out.stdout,
        )
        .unwrap();
    }
    let head = muster_ceph::device::read_head(device).unwrap();
    std::fs::write(
        dir.join("pacific-16.2.15-bluestore-label.bin"),
        &head[..4096],
    )
    .unwrap();
}

/// A lab without agents, whose servers are the members; held alone.
struct Setup {
    _serial: MutexGuard<'static, ()>,
    lab: Lab,
    nodes: Vec<Node>,
    fsid: String,
}

fn setup(servers: usize, disks_per_server: usize) -> Setup {
    require_root_and_ceph();
    let serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let lab = Lab::up(LabSpec {
        servers,
        disks_per_server,
        agents: false,
        ..LabSpec::default()
    })
    .expect("lab");
    let nodes = lab.servers().iter().map(node).collect();
    Setup {
        _serial: serial,
        lab,
        nodes,
        fsid: muster_ceph::new_uuid().unwrap(),
    }
}

fn fail_with(nodes: &[Node], what: &str, e: &dyn Display) -> ! {
    panic!("{what}: {e}\n{}", log_tails(nodes))
}

#[test]
fn e2e_needs_root_three_members_form_a_healthy_cluster() {
    let Setup {
        _serial,
        lab,
        nodes,
        fsid,
    } = setup(3, 1);
    let c = cluster(&lab, &nodes, &fsid);
    let fail = |what: &str, e: &dyn Display| -> ! { fail_with(&nodes, what, e) };

    let start = Instant::now();
    let report = c.form().unwrap_or_else(|e| fail("forming the cluster", &e));
    timing("form (mons, mgrs, OSDs up, pool)", start.elapsed());
    assert_eq!(report.osds.len(), 3);
    let status = c
        .wait_healthy(HEALTH_TIMEOUT)
        .unwrap_or_else(|e| fail("waiting for HEALTH_OK", &e));
    let to_ok = start.elapsed();
    timing("from nothing to HEALTH_OK", to_ok);
    assert_eq!(status.fsid, fsid);
    assert_eq!(status.quorum_names, ["s1", "s2", "s3"]);
    assert_eq!((status.osdmap.num_osds, status.osdmap.num_up_osds), (3, 3));
    assert!(status.mgrmap.available);

    let first = &c.members[0];
    let hosts = first.osd_tree().unwrap().hosts();
    let names: Vec<&str> = hosts.iter().map(|(h, _)| h.as_str()).collect();
    assert_eq!(names, ["s1", "s2", "s3"], "one CRUSH host per member");
    let rbd = first
        .pools()
        .unwrap()
        .into_iter()
        .find(|p| p.pool_name == "rbd")
        .expect("rbd pool");
    assert_eq!((rbd.size, rbd.min_size), (3, 2));
    assert!(rbd.has_application("rbd"));
    let fs = first.filesystems().unwrap();
    assert_eq!(fs.len(), 1);
    assert_eq!(
        (fs[0].metadata_pool.as_str(), &fs[0].data_pools[..]),
        ("cephfs_meta", &["cephfs_data".to_owned()][..])
    );
    // HEALTH_OK has an MDS serving the file system already; checked
    // again here, bounded, as that is what it is for.
    let start = Instant::now();
    muster_ceph::wait_for("an active MDS", Duration::from_secs(60), || {
        let map = first.fs_dump().map_err(|e| e.to_string())?;
        let (active, standby) = (map.active_mds("cephfs"), map.standby_mds());
        (active.len() == 1 && standby.len() == 2)
            .then_some(())
            .ok_or(format!("active {active:?}, standby {standby:?}"))
    })
    .unwrap_or_else(|e| fail("an active MDS", &e));
    timing("an active MDS after HEALTH_OK", start.elapsed());

    // Written on one member, read back on another.
    rados_put(&nodes[0], "greeting", b"hello from s1\n").unwrap();
    let back = nodes[1].paths.work_dir.join("obj-out");
    run_in(
        &nodes[1],
        "rados",
        &["-p", "rbd", "get", "greeting", &back.display().to_string()],
    )
    .unwrap();
    assert_eq!(std::fs::read(&back).unwrap(), b"hello from s1\n");

    // Each OSD found by musterd's record of its device, not its link.
    for (m, s) in c.members.iter().zip(lab.servers()) {
        let found = m.local_osds().unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(matches!(found[0].1, OsdDevice::Recorded(_)), "{found:?}");
        assert_eq!(
            found[0].1.device(),
            Some(std::fs::canonicalize(&s.disks[0]).unwrap())
        );
    }

    // Memory, per kind of daemon.
    let mut rss: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for (n, s) in nodes.iter().zip(lab.servers()) {
        let osd_ids: Vec<u32> = c
            .members
            .iter()
            .find(|m| m.name() == s.name)
            .unwrap()
            .local_osds()
            .unwrap()
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        let mut daemons = vec![
            Daemon::mon(&s.name),
            Daemon::mgr(&s.name),
            Daemon::mds(&s.name),
        ];
        daemons.extend(osd_ids.into_iter().map(Daemon::osd));
        for d in daemons {
            let pid = n
                .supervisor
                .pid(&d)
                .unwrap_or_else(|| panic!("{d} not running"));
            rss.entry(d.kind.as_str()).or_default().extend(rss_kib(pid));
        }
    }
    for (kind, v) in &rss {
        let mib: Vec<u64> = v.iter().map(|k| k / 1024).collect();
        eprintln!("RSS {kind}: {mib:?} MiB");
    }

    if let Some(dir) = std::env::var_os("MUSTER_CEPH_RECORD") {
        record_fixtures(&PathBuf::from(dir), &c, &lab.servers()[0].disks[0]);
    }

    // The whole sequence again, with fresh supervisors (as after a restart
    // of muster): nothing is done twice.
    let nodes2: Vec<Node> = lab.servers().iter().map(node).collect();
    let again = cluster(&lab, &nodes2, &fsid);
    let start = Instant::now();
    let report = again
        .form()
        .unwrap_or_else(|e| fail("forming the cluster again", &e));
    timing("second form (nothing to do)", start.elapsed());
    assert_eq!(report.changed(), Vec::<String>::new());
    let dump = first.osd_dump().unwrap();
    assert_eq!(dump.osds.len(), 3, "no second OSD on a device");
    assert_eq!(first.quorum_status().unwrap().mon_names().len(), 3);
    drop(again);
    // An OSD's device asked for again is the same OSD.
    let same = first.ensure_osd(&first.spec.osds[0]).unwrap();
    assert_eq!(same.outcome, muster_ceph::Outcome::AlreadyDone);

    // One member down: the other two keep a quorum and take writes.
    let start = Instant::now();
    c.members[2]
        .stop_daemons()
        .unwrap_or_else(|e| fail("stopping s3", &e));
    assert!(!nodes[2].supervisor.is_running(&Daemon::mon("s3")).unwrap());
    timing("stopping s3's daemons", start.elapsed());
    let start = Instant::now();
    muster_ceph::wait_for("quorum of s1 and s2", Duration::from_secs(60), || {
        let q = first.quorum_status().map_err(|e| e.to_string())?;
        (q.quorum_names == ["s1", "s2"])
            .then_some(())
            .ok_or(format!("{:?}", q.quorum_names))
    })
    .unwrap_or_else(|e| fail("quorum without s3", &e));
    rados_put(&nodes[0], "after", b"s3 is down\n")
        .unwrap_or_else(|e| fail("writing with s3 down", &e));
    run_in(&nodes[1], "rados", &["-p", "rbd", "stat", "after"])
        .unwrap_or_else(|e| fail("reading with s3 down", &e));
    timing("quorum and a write with s3 down", start.elapsed());
    if let Some(dir) = std::env::var_os("MUSTER_CEPH_RECORD") {
        let out = first.ceph(&["status", "--format", "json-pretty"]).unwrap();
        std::fs::write(
            PathBuf::from(dir).join("pacific-16.2.15-status-one-member-down.json"),
            &out.stdout,
        )
        .unwrap();
    }

    // Forming again brings s3 back: its daemons are started, nothing made.
    let start = Instant::now();
    let report = c
        .form()
        .unwrap_or_else(|e| fail("forming again with s3 down", &e));
    let changed = report.changed();
    assert!(
        !changed.is_empty() && changed.iter().all(|s| s.starts_with("s3: ")),
        "{changed:?}"
    );
    assert_eq!(first.osd_dump().unwrap().osds.len(), 3);
    c.wait_healthy(HEALTH_TIMEOUT)
        .unwrap_or_else(|e| fail("HEALTH_OK after s3 came back", &e));
    timing("s3 back to HEALTH_OK", start.elapsed());

    // All members at once, as a power cut would not wait either.
    let start = Instant::now();
    let killed: Vec<Vec<Daemon>> = std::thread::scope(|scope| {
        let stops: Vec<_> = nodes
            .iter()
            .map(|n| scope.spawn(|| n.supervisor.stop_all(Duration::from_secs(5))))
            .collect();
        stops.into_iter().map(|t| t.join().unwrap()).collect()
    });
    timing("stopping every daemon", start.elapsed());
    eprintln!("needed SIGKILL after 5 s: {killed:?}");
    drop(c);
    drop(nodes);
    drop(lab);
    timing("teardown", start.elapsed());
}

/// A program on the host (partitioning and formatting lab disks): its
/// stdout; its failure is the test's.
fn host(program: &str, args: &[&str]) -> String {
    muster_lab::run_host(program, args).unwrap_or_else(|e| panic!("{e}"))
}

/// Partitions `disk` with GPT: a 256 MiB ext4 partition and a free one
/// taking the rest, as a server's disk shared with a file system is.
/// Returns both partitions.
fn ext4_and_free_partition(disk: &Path) -> (PathBuf, PathBuf) {
    let d = disk.to_str().unwrap();
    host("sgdisk", &["-n", "1:0:+256M", "-n", "2:0:0", d]);
    // Some kernels parse no partition table themselves (built without
    // them); partx adds the partitions it reads either way. Loop devices
    // take partitions because the lab attaches them with --partscan.
    host("partx", &["-u", d]);
    let (p1, p2) = (
        PathBuf::from(format!("{d}p1")),
        PathBuf::from(format!("{d}p2")),
    );
    muster_ceph::wait_for(
        "the partitions' device nodes",
        Duration::from_secs(10),
        || {
            (p1.exists() && p2.exists())
                .then_some(())
                .ok_or_else(|| format!("{} or {} missing", p1.display(), p2.display()))
        },
    )
    .unwrap();
    host("mkfs.ext4", &["-q", p1.to_str().unwrap()]);
    (p1, p2)
}

fn is_ext4(partition: &Path) -> bool {
    let blkid = host(
        "blkid",
        &["-o", "value", "-s", "TYPE", partition.to_str().unwrap()],
    );
    let head = muster_ceph::device::read_head(partition).unwrap();
    let ours = muster_disks::detect_signatures(&head);
    blkid.trim() == "ext4" && ours == [muster_disks::Signature::Ext { version: 4 }]
}

/// One member with three disks: a single-replica pool, a device with
/// something on it refused until a wipe is asked for, and the free
/// partition of a disk whose other partition holds a file system.
#[test]
fn e2e_needs_root_one_member_one_replica_and_a_wipe() {
    let Setup {
        _serial,
        lab,
        nodes,
        fsid,
    } = setup(1, 3);
    let server = &lab.servers()[0];
    let (disk1, disk2) = (server.disks[0].clone(), server.disks[1].clone());
    let fail = |what: &str, e: &dyn Display| -> ! { fail_with(&nodes, what, e) };

    let start = Instant::now();
    let c = cluster_with(&lab, &nodes, &fsid, |_| vec![OsdSpec::new(&disk1)]);
    c.form().unwrap_or_else(|e| fail("forming", &e));
    timing("one member formed", start.elapsed());
    let m = &c.members[0];
    let rbd = m
        .pools()
        .unwrap()
        .into_iter()
        .find(|p| p.pool_name == "rbd")
        .unwrap();
    assert_eq!((rbd.size, rbd.min_size), (1, 1));
    rados_put(&nodes[0], "x", b"one replica\n").unwrap_or_else(|e| fail("writing", &e));
    eprintln!(
        "one member health: {}",
        m.status().unwrap().health.summary()
    );

    // Something on the second disk: refused, untouched.
    std::fs::write(&disk2, b"\x53\xef not blank").unwrap();
    let e = m.ensure_osd(&OsdSpec::new(&disk2)).unwrap_err();
    assert!(e.to_string().contains("not blank"), "{e}");
    assert!(muster_ceph::device::read_head(&disk2)
        .unwrap()
        .starts_with(b"\x53\xef"));
    assert_eq!(m.osd_dump().unwrap().osds.len(), 1);

    // With the wipe: an OSD; asked again (wipe or not): the same OSD.
    let wipe = OsdSpec {
        wipe: true,
        ..OsdSpec::new(&disk2)
    };
    let made = m
        .ensure_osd(&wipe)
        .unwrap_or_else(|e| fail("wiped OSD", &e));
    assert_eq!(made.outcome, muster_ceph::Outcome::Done);
    let again = m.ensure_osd(&wipe).unwrap();
    assert_eq!(
        (again.id, again.outcome),
        (made.id, muster_ceph::Outcome::AlreadyDone)
    );
    assert_eq!(m.osd_dump().unwrap().osds.len(), 2);
    let label = muster_ceph::device::read_head(&disk2).unwrap();
    let uuid = muster_ceph::device::bluestore_label_uuid(&label).expect("a BlueStore label");
    assert_eq!(
        m.osd_dump().unwrap().by_uuid(&uuid).map(|o| o.osd),
        Some(made.id)
    );

    // A free partition next to a file system: an OSD there, once, and
    // the file system untouched.
    let part_start = Instant::now();
    let (ext4, free) = ext4_and_free_partition(&server.disks[2]);
    assert!(is_ext4(&ext4));
    let on_part = m
        .ensure_osd(&OsdSpec::new(&free))
        .unwrap_or_else(|e| fail("an OSD on a free partition", &e));
    assert_eq!(on_part.outcome, muster_ceph::Outcome::Done);
    assert_eq!(on_part.device, free);
    m.wait_osds_up(&[on_part.id], Duration::from_secs(90))
        .unwrap_or_else(|e| fail("the partition's OSD coming up", &e));
    let again = m.ensure_osd(&OsdSpec::new(&free)).unwrap();
    assert_eq!(
        (again.id, again.outcome),
        (on_part.id, muster_ceph::Outcome::AlreadyDone)
    );
    assert_eq!(m.osd_dump().unwrap().osds.len(), 3, "no second OSD");
    assert!(is_ext4(&ext4), "the file system next to the OSD is intact");
    let disk_head = muster_ceph::device::read_head(&server.disks[2]).unwrap();
    assert_eq!(
        muster_disks::detect_signatures(&disk_head),
        [muster_disks::Signature::Gpt]
    );
    timing("OSD on a free partition", part_start.elapsed());

    // What the member finds of itself, without asking the cluster.
    let local = m.local_state().unwrap();
    assert_eq!(local.conf.map(|c| c.fsid), Some(fsid.clone()));
    assert!(local.admin_keyring);
    assert_eq!(
        (local.mon, local.mgr),
        (DaemonState::Running, DaemonState::Running)
    );
    let osds: Vec<(u32, PathBuf, bool)> = local
        .osds
        .into_iter()
        .map(|o| (o.id, o.device, o.running))
        .collect();
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap();
    assert_eq!(
        osds,
        [
            (0, canonical(&disk1), true),
            (made.id, canonical(&disk2), true),
            (on_part.id, free.clone(), true),
        ]
    );
    timing("whole one-member test", start.elapsed());
}
