use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use muster_disks::{Disk, Eligibility, Signature};

use crate::*;

const GIB: u64 = 1 << 30;

fn ip(last: u8) -> IpAddr {
    IpAddr::from([10, 0, 0, last])
}

fn disk(name: &str) -> Disk {
    Disk::blank(name, 100 * GIB)
}

fn ext4(name: &str) -> Disk {
    Disk {
        signatures: vec![Signature::Ext { version: 4 }],
        eligibility: Eligibility::Ineligible(vec!["carries an ext4 filesystem".into()]),
        ..disk(name)
    }
}

fn fresh_lxd() -> LxdObserved {
    LxdObserved {
        server_name: "none".into(),
        storage_drivers: vec!["dir".into(), "zfs".into(), "btrfs".into()],
        ..LxdObserved::default()
    }
}

/// `n` fresh servers s1..sN, each with an empty sdb for the local pool.
fn fresh(n: u8) -> (Choices, Observed) {
    let mut members = Vec::new();
    let mut observed = Observed::default();
    for i in 1..=n {
        let name = format!("s{i}");
        let mut m = MemberChoice::new(&name, ip(i));
        m.local_disk = Some(DiskRef::new("/dev/sdb"));
        members.push(m);
        observed.members.insert(
            name,
            MemberObserved {
                lxd: fresh_lxd(),
                disks: vec![disk("sda"), disk("sdb"), disk("sdc")],
                clock_skew_ms: None,
            },
        );
    }
    let choices = Choices {
        initiator: "s1".into(),
        members,
        local_driver: Driver::Zfs,
        network: InstanceNetwork::default(),
        ceph: None,
    };
    (choices, observed)
}

fn lxd_mut<'o>(observed: &'o mut Observed, name: &str) -> &'o mut LxdObserved {
    &mut observed.members.get_mut(name).unwrap().lxd
}

fn clustered(observed: &mut Observed, names: &[&str]) {
    for name in names {
        let lxd = lxd_mut(observed, name);
        lxd.server_name = (*name).into();
        lxd.clustered = true;
        lxd.https_address = Some(format!("{}:8443", ip(name[1..].parse().unwrap())));
        lxd.cluster_fingerprint = Some("f00d".into());
        lxd.cluster_members = names.iter().map(|s| s.to_string()).collect();
    }
}

fn created(observed: &mut Observed, names: &[&str], pool: &str, driver: &str) {
    for name in names {
        lxd_mut(observed, name).pools.insert(
            pool.into(),
            PoolObserved {
                driver: driver.into(),
                status: Status::Created,
            },
        );
    }
}

fn network_created(observed: &mut Observed, names: &[&str]) {
    for name in names {
        lxd_mut(observed, name).networks.insert(
            "lxdbr0".into(),
            NetworkObserved {
                kind: "bridge".into(),
                status: Status::Created,
            },
        );
    }
}

fn profile_done(observed: &mut Observed, root_pool: &str) {
    let profile = &mut lxd_mut(observed, "s1").default_profile;
    let dev = |pairs: &[(&str, &str)]| -> DeviceConfig {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    profile.insert(
        "root".into(),
        dev(&[("type", "disk"), ("path", "/"), ("pool", root_pool)]),
    );
    profile.insert(
        "eth0".into(),
        dev(&[("type", "nic"), ("name", "eth0"), ("network", "lxdbr0")]),
    );
}

/// Steps as "member: kind", for compact comparisons.
fn summary(plan: &Plan) -> Vec<String> {
    plan.steps
        .iter()
        .map(|s| {
            let kind = format!("{:?}", s.kind);
            let name = kind.split([' ', '{']).next().unwrap().to_owned();
            let arg = match &s.kind {
                StepKind::IssueToken { joiner } | StepKind::RemoveStaleMember { joiner } => {
                    format!(" {joiner}")
                }
                StepKind::CreatePoolPending { pool, .. } | StepKind::CreatePool { pool, .. } => {
                    format!(" {pool}")
                }
                StepKind::CephCreateOsd { disk } | StepKind::WipeDisk { disk, .. } => {
                    format!(" {}", disk.path)
                }
                _ => String::new(),
            };
            format!("{}: {name}{arg}", s.member)
        })
        .collect()
}

fn errors(choices: &Choices, observed: &Observed) -> Vec<PlanError> {
    plan(choices, observed).unwrap_err().0
}

/// What follows the joins of s1..s3 on a fresh cluster.
fn cluster_wide() -> Vec<String> {
    [
        "s1: CreatePoolPending local",
        "s2: CreatePoolPending local",
        "s3: CreatePoolPending local",
        "s1: CreatePool local",
        "s1: CreateNetworkPending",
        "s2: CreateNetworkPending",
        "s3: CreateNetworkPending",
        "s1: CreateNetwork",
        "s1: UpdateDefaultProfile",
    ]
    .map(String::from)
    .to_vec()
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// The joins of `joiners`, one at a time, then [`cluster_wide`].
fn joins_then_cluster_wide(joiners: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for j in joiners {
        out.push(format!("s1: IssueToken {j}"));
        out.push(format!("{j}: JoinCluster"));
    }
    out.extend(cluster_wide());
    out
}

#[test]
fn fresh_three_servers() {
    let (choices, observed) = fresh(3);
    let plan = plan(&choices, &observed).unwrap();
    let mut want = strings(&["s1: SetHttpsAddress", "s1: BootstrapCluster"]);
    want.extend(joins_then_cluster_wide(&["s2", "s3"]));
    assert_eq!(summary(&plan), want);
    assert!(plan.warnings.is_empty());
    assert_eq!(
        plan.steps[3].kind,
        StepKind::JoinCluster {
            joiner: "s2".into(),
            cluster_address: "10.0.0.1:8443".into(),
            server_address: "10.0.0.2:8443".into(),
            pool_sources: BTreeMap::new(),
        }
    );
    assert_eq!(
        plan.render(),
        "\
Plan: 15 steps on 3 members (initiator s1)

s1 (10.0.0.1, initiator)
   1. Set LXD's core.https_address to 10.0.0.1:8443
   2. Bootstrap the LXD cluster with s1 as its first member
   3. Issue a join token for s2
   5. Issue a join token for s3
   7. Define storage pool local (zfs) on s1 on /dev/sdb
  10. Create storage pool local (zfs) on every member
  11. Define bridge network lxdbr0 on s1
  14. Create bridge network lxdbr0 on every member (ipv4.address=auto, ipv4.nat=true, ipv6.address=none)
  15. Set the default profile: root disk on pool local, eth0 on network lxdbr0

s2 (10.0.0.2)
   4. Join the LXD cluster at 10.0.0.1:8443 as s2 (10.0.0.2:8443)
   8. Define storage pool local (zfs) on s2 on /dev/sdb
  12. Define bridge network lxdbr0 on s2

s3 (10.0.0.3)
   6. Join the LXD cluster at 10.0.0.1:8443 as s3 (10.0.0.3:8443)
   9. Define storage pool local (zfs) on s3 on /dev/sdb
  13. Define bridge network lxdbr0 on s3
"
    );
}

#[test]
fn one_server_is_a_one_member_cluster() {
    let (choices, observed) = fresh(1);
    let plan = plan(&choices, &observed).unwrap();
    assert_eq!(
        summary(&plan),
        strings(&[
            "s1: SetHttpsAddress",
            "s1: BootstrapCluster",
            "s1: CreatePoolPending local",
            "s1: CreatePool local",
            "s1: CreateNetworkPending",
            "s1: CreateNetwork",
            "s1: UpdateDefaultProfile",
        ])
    );
}

#[test]
fn an_https_address_already_set_is_kept() {
    let (choices, mut observed) = fresh(1);
    lxd_mut(&mut observed, "s1").https_address = Some("10.0.0.1:8443".into());
    let plan = plan(&choices, &observed).unwrap();
    assert_eq!(summary(&plan)[0], "s1: BootstrapCluster");
    // Another address is replaced by the chosen one.
    lxd_mut(&mut observed, "s1").https_address = Some("[::]:8443".into());
    let plan = crate::plan(&choices, &observed).unwrap();
    assert_eq!(summary(&plan)[0], "s1: SetHttpsAddress");
}

#[test]
fn resume_after_bootstrap_plans_only_the_rest() {
    let (choices, mut observed) = fresh(3);
    clustered(&mut observed, &["s1"]);
    let plan = plan(&choices, &observed).unwrap();
    assert_eq!(summary(&plan), joins_then_cluster_wide(&["s2", "s3"]));
}

#[test]
fn resume_after_one_join() {
    let (choices, mut observed) = fresh(3);
    clustered(&mut observed, &["s1", "s2"]);
    let plan = plan(&choices, &observed).unwrap();
    assert_eq!(summary(&plan), joins_then_cluster_wide(&["s3"]));
}

#[test]
fn after_all_joins_only_pools_networks_and_profile() {
    let (choices, mut observed) = fresh(3);
    clustered(&mut observed, &["s1", "s2", "s3"]);
    let plan = plan(&choices, &observed).unwrap();
    assert_eq!(summary(&plan), joins_then_cluster_wide(&[]));
}

/// `local` defined (pending) with `driver` on `members`, as a stopped run
/// leaves it.
fn pending_local(observed: &mut Observed, members: &[&str], driver: &str) {
    for name in members {
        lxd_mut(observed, name).pools.insert(
            "local".into(),
            PoolObserved {
                driver: driver.into(),
                status: Status::Pending,
            },
        );
    }
}

#[test]
fn a_pool_defined_on_some_members_is_finished() {
    let (choices, mut observed) = fresh(3);
    clustered(&mut observed, &["s1", "s2", "s3"]);
    pending_local(&mut observed, &["s1", "s2"], "zfs");
    let plan = plan(&choices, &observed).unwrap();
    assert_eq!(
        summary(&plan)[..2],
        strings(&["s3: CreatePoolPending local", "s1: CreatePool local"])
    );
}

#[test]
fn pending_definitions_of_another_driver_are_deleted_then_made_as_chosen() {
    // A run that stopped after defining `local` as lvm on s1 and s2; the
    // operator now chooses dir.
    let (mut choices, mut observed) = fresh(3);
    choices.local_driver = Driver::Dir;
    for m in &mut choices.members {
        m.local_disk = None;
    }
    clustered(&mut observed, &["s1", "s2", "s3"]);
    pending_local(&mut observed, &["s1", "s2"], "lvm");
    let plan = plan(&choices, &observed).unwrap();
    assert_eq!(
        summary(&plan)[..5],
        strings(&[
            "s1: DeletePendingPool",
            "s1: CreatePoolPending local",
            "s2: CreatePoolPending local",
            "s3: CreatePoolPending local",
            "s1: CreatePool local",
        ])
    );
    assert_eq!(
        plan.steps[0].description,
        "Delete the definitions of storage pool local (lvm) an earlier run left pending: dir \
         is chosen now"
    );
    // Pending definitions do not choose the driver any more; created ones do.
    assert_eq!(
        best_local_driver(&observed, &["s1", "s2", "s3"], false),
        Driver::Dir
    );
    created(&mut observed, &["s1", "s2", "s3"], "local", "lvm");
    assert_eq!(
        best_local_driver(&observed, &["s1", "s2", "s3"], false),
        Driver::Lvm
    );
}

#[test]
fn an_errored_pool_is_created_again() {
    let (choices, mut observed) = fresh(2);
    clustered(&mut observed, &["s1", "s2"]);
    created(&mut observed, &["s1", "s2"], "local", "zfs");
    lxd_mut(&mut observed, "s2")
        .pools
        .get_mut("local")
        .unwrap()
        .status = Status::Errored;
    let plan = plan(&choices, &observed).unwrap();
    assert_eq!(summary(&plan)[0], "s1: CreatePool local");
}

#[test]
fn fully_done_is_an_empty_plan() {
    let (choices, mut observed) = fresh(3);
    let all = ["s1", "s2", "s3"];
    clustered(&mut observed, &all);
    created(&mut observed, &all, "local", "zfs");
    network_created(&mut observed, &all);
    profile_done(&mut observed, "local");
    let plan = plan(&choices, &observed).unwrap();
    assert!(plan.is_empty(), "{:?}", summary(&plan));
    assert_eq!(
        plan.render(),
        "Nothing to do: the cluster is formed as chosen.\n"
    );
}

#[test]
fn a_late_joiner_gets_existing_pools_through_its_join() {
    let (choices, mut observed) = fresh(3);
    let done = ["s1", "s2"];
    clustered(&mut observed, &done);
    created(&mut observed, &done, "local", "zfs");
    network_created(&mut observed, &done);
    profile_done(&mut observed, "local");
    let plan = plan(&choices, &observed).unwrap();
    assert_eq!(
        summary(&plan),
        strings(&["s1: IssueToken s3", "s3: JoinCluster"])
    );
    let StepKind::JoinCluster { pool_sources, .. } = &plan.steps[1].kind else {
        panic!("{:?}", plan.steps[1]);
    };
    assert_eq!(
        pool_sources,
        &BTreeMap::from([("local".to_string(), "/dev/sdb".to_string())])
    );
}

#[test]
fn a_half_done_join_is_cleaned_up_first() {
    let (choices, mut observed) = fresh(2);
    clustered(&mut observed, &["s1"]);
    lxd_mut(&mut observed, "s1")
        .cluster_members
        .push("s2".into());
    let plan = plan(&choices, &observed).unwrap();
    assert_eq!(
        summary(&plan)[..3],
        strings(&[
            "s1: RemoveStaleMember s2",
            "s1: IssueToken s2",
            "s2: JoinCluster"
        ])
    );
}

#[test]
fn a_joiner_in_another_cluster_is_an_error() {
    let (choices, mut observed) = fresh(3);
    clustered(&mut observed, &["s1"]);
    let s3 = lxd_mut(&mut observed, "s3");
    s3.server_name = "s3".into();
    s3.clustered = true;
    s3.cluster_fingerprint = Some("beef".into());
    s3.cluster_members = vec!["s3".into(), "x9".into()];
    assert_eq!(
        errors(&choices, &observed),
        vec![PlanError::ForeignCluster {
            member: "s3".into(),
            reason: "its LXD is in another cluster than s1's (members: s3, x9)".into(),
        }]
    );
    // Before the initiator bootstrapped, any clustered joiner is foreign.
    *lxd_mut(&mut observed, "s1") = fresh_lxd();
    assert_eq!(
        errors(&choices, &observed)[0].to_string(),
        "s3: its LXD is already in a cluster (members: s3, x9); \
         remove it from that cluster or leave it out"
    );
}

#[test]
fn an_initiator_in_a_cluster_with_strangers_is_an_error() {
    let (choices, mut observed) = fresh(2);
    clustered(&mut observed, &["s1"]);
    lxd_mut(&mut observed, "s1")
        .cluster_members
        .push("old7".into());
    let e = errors(&choices, &observed);
    assert_eq!(
        e,
        vec![PlanError::ForeignCluster {
            member: "s1".into(),
            reason: "its LXD is in a cluster with members that were not chosen: old7".into(),
        }]
    );
}

#[test]
fn without_fingerprints_membership_goes_by_member_lists() {
    let (_, mut observed) = fresh(2);
    clustered(&mut observed, &["s1", "s2"]);
    for m in observed.members.values_mut() {
        m.lxd.cluster_fingerprint = None;
    }
    let chosen = ["s1", "s2"];
    assert_eq!(membership(&observed, "s1", &chosen, "s2"), Membership::Ours);
    lxd_mut(&mut observed, "s1").cluster_members = vec!["s1".into()];
    assert!(matches!(
        membership(&observed, "s1", &chosen, "s2"),
        Membership::Foreign(_)
    ));
}

#[test]
fn wipes_come_first_and_are_not_repeated() {
    let (mut choices, mut observed) = fresh(2);
    observed.members.get_mut("s2").unwrap().disks[1] = ext4("sdb");
    assert_eq!(
        errors(&choices, &observed),
        vec![PlanError::DiskNotEmpty {
            member: "s2".into(),
            disk: "/dev/sdb".into(),
            reasons: "carries an ext4 filesystem".into(),
        }]
    );
    choices.members[1].wipe = vec![DiskRef::new("/dev/sdb")];
    let plan = plan(&choices, &observed).unwrap();
    assert_eq!(summary(&plan)[0], "s2: WipeDisk /dev/sdb");
    assert_eq!(
        plan.steps[0].description,
        "Wipe /dev/sdb (carries an ext4 filesystem)"
    );
    // Once the pool is created the disk carries ZFS: that is ours, not wiped.
    observed.members.get_mut("s2").unwrap().disks[1] = Disk {
        signatures: vec![Signature::ZfsMember],
        eligibility: Eligibility::Ineligible(vec!["is a ZFS pool member".into()]),
        ..disk("sdb")
    };
    let all = ["s1", "s2"];
    clustered(&mut observed, &all);
    created(&mut observed, &all, "local", "zfs");
    let plan = crate::plan(&choices, &observed).unwrap();
    assert!(!summary(&plan).iter().any(|s| s.contains("Wipe")));
}

#[test]
fn bad_disk_choices_are_all_reported() {
    let (mut choices, observed) = fresh(2);
    choices.members[0].local_disk = Some(DiskRef::new("/dev/sdz"));
    choices.members[1].ceph_disks = vec![DiskRef::new("/dev/sdb")];
    choices.members[1].wipe = vec![DiskRef::new("/dev/sdc")];
    assert_eq!(
        errors(&choices, &observed),
        vec![
            PlanError::DiskMissing {
                member: "s1".into(),
                disk: "/dev/sdz".into()
            },
            PlanError::DiskChosenTwice {
                member: "s2".into(),
                disk: "/dev/sdb".into()
            },
            PlanError::WipeNotChosen {
                member: "s2".into(),
                disk: "/dev/sdc".into()
            },
            PlanError::CephDisksWithoutCeph("s2".into()),
        ]
    );
}

#[test]
fn disks_are_found_by_their_by_id_path() {
    let (mut choices, mut observed) = fresh(1);
    let sdb = &mut observed.members.get_mut("s1").unwrap().disks[1];
    sdb.by_id = vec!["/dev/disk/by-id/ata-X".into()];
    choices.members[0].local_disk =
        Some(DiskRef::new("/dev/sdb").with_by_id("/dev/disk/by-id/ata-X"));
    let plan = plan(&choices, &observed).unwrap();
    assert_eq!(
        plan.steps[2].kind,
        StepKind::CreatePoolPending {
            pool: "local".into(),
            driver: Driver::Zfs,
            source: Some("/dev/disk/by-id/ata-X".into()),
        }
    );
}

#[test]
fn choosing_the_local_driver() {
    let (_, mut observed) = fresh(3);
    let all = ["s1", "s2", "s3"];
    assert_eq!(best_local_driver(&observed, &all, true), Driver::Zfs);
    assert_eq!(best_local_driver(&observed, &all, false), Driver::Dir);
    lxd_mut(&mut observed, "s2").storage_drivers = strings(&["dir", "btrfs", "lvm"]);
    assert_eq!(best_local_driver(&observed, &all, true), Driver::Btrfs);
    lxd_mut(&mut observed, "s3").storage_drivers = strings(&["dir"]);
    assert_eq!(best_local_driver(&observed, &all, true), Driver::Dir);
    assert_eq!(
        best_local_driver(&observed, &["s1", "s9"], true),
        Driver::Dir
    );
}

#[test]
fn driver_problems_are_errors() {
    let (mut choices, mut observed) = fresh(2);
    lxd_mut(&mut observed, "s2").storage_drivers = strings(&["dir"]);
    assert_eq!(
        errors(&choices, &observed)[0].to_string(),
        "s2: its LXD does not support the zfs storage driver (it has: dir)"
    );
    choices.local_driver = Driver::Dir;
    choices.members[1].local_disk = None;
    assert_eq!(
        errors(&choices, &observed),
        vec![PlanError::DiskWithDir {
            member: "s1".into(),
            disk: "/dev/sdb".into()
        }]
    );
    choices.members[0].local_disk = None;
    let plan = plan(&choices, &observed).unwrap();
    assert_eq!(
        plan.steps[4].description,
        "Define storage pool local (dir) on s1"
    );
}

#[test]
fn a_member_without_a_disk_gets_a_loop_file() {
    let (mut choices, observed) = fresh(2);
    choices.members[1].local_disk = None;
    let plan = plan(&choices, &observed).unwrap();
    assert_eq!(
        plan.warnings,
        strings(&["s2 has no disk for the local pool: its pool is a zfs loop file on the OS disk"])
    );
    let step = plan
        .steps
        .iter()
        .find(|s| s.member == "s2" && matches!(s.kind, StepKind::CreatePoolPending { .. }))
        .unwrap();
    assert_eq!(
        step.description,
        "Define storage pool local (zfs) on s2 in a loop file on its OS disk"
    );
}

#[test]
fn existing_objects_of_another_kind_are_errors() {
    let (choices, mut observed) = fresh(1);
    created(&mut observed, &["s1"], "local", "dir");
    lxd_mut(&mut observed, "s1").networks.insert(
        "lxdbr0".into(),
        NetworkObserved {
            kind: "macvlan".into(),
            status: Status::Created,
        },
    );
    let e: Vec<String> = errors(&choices, &observed)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        e,
        strings(&[
            "s1: storage pool local exists with driver dir, not zfs, and may hold instances: \
             muster never deletes it; choose dir, or move what is on it and delete it first \
             (`lxc storage delete local`)",
            "s1: network lxdbr0 exists with type macvlan, not bridge",
        ])
    );
}

#[test]
fn unobserved_members_and_a_wrong_initiator() {
    let (mut choices, mut observed) = fresh(2);
    observed.members.remove("s2");
    assert_eq!(
        errors(&choices, &observed),
        vec![PlanError::NotObserved("s2".into())]
    );
    choices.initiator = "s7".into();
    assert!(errors(&choices, &observed).contains(&PlanError::UnknownInitiator("s7".into())));
}

/// `n` fresh servers, each with sdc for Ceph.
fn with_ceph(n: u8) -> (Choices, Observed) {
    let (mut choices, observed) = fresh(n);
    for m in &mut choices.members {
        m.ceph_disks = vec![DiskRef::new("/dev/sdc")];
    }
    choices.ceph = Some(CephChoices::default());
    (choices, observed)
}

fn ceph_steps(plan: &Plan) -> Vec<String> {
    summary(plan)
        .into_iter()
        .filter(|s| s.contains("Ceph") || s.contains("remote"))
        .collect()
}

#[test]
fn ceph_on_three_members() {
    let (choices, observed) = with_ceph(3);
    let plan = plan(&choices, &observed).unwrap();
    assert_eq!(
        ceph_steps(&plan),
        strings(&[
            "s1: CephBootstrapMon",
            "s2: CephAddMon",
            "s3: CephAddMon",
            "s1: CephConfigure",
            "s2: CephConfigure",
            "s3: CephConfigure",
            "s1: CephAddMgr",
            "s2: CephAddMgr",
            "s3: CephAddMgr",
            "s1: CephCreateOsd /dev/sdc",
            "s2: CephCreateOsd /dev/sdc",
            "s3: CephCreateOsd /dev/sdc",
            "s1: CephCreatePool",
            "s1: CreatePoolPending remote",
            "s2: CreatePoolPending remote",
            "s3: CreatePoolPending remote",
            "s1: CreatePool remote",
        ])
    );
    assert!(plan.warnings.is_empty());
    assert!(plan.steps.iter().any(|s| s.kind
        == StepKind::CephCreatePool {
            pool: "lxd_remote".into(),
            size: 3
        }));
    // LXD 5.0 wants the Ceph pool as each member's `source`.
    assert!(plan.steps.iter().any(|s| s.member == "s2"
        && s.kind
            == StepKind::CreatePoolPending {
                pool: "remote".into(),
                driver: Driver::Ceph,
                source: Some("lxd_remote".into()),
            }));
    // The default profile's root disk goes on Ceph, last.
    assert_eq!(
        plan.steps.last().unwrap().kind,
        StepKind::UpdateDefaultProfile {
            root_pool: "remote".into(),
            network: "lxdbr0".into()
        }
    );
}

#[test]
fn ceph_monitors_on_three_or_five_members() {
    let count = |n: u8| {
        let (choices, observed) = with_ceph(n);
        let plan = plan(&choices, &observed).unwrap();
        plan.steps
            .iter()
            .filter(|s| {
                matches!(
                    s.kind,
                    StepKind::CephBootstrapMon { .. } | StepKind::CephAddMon { .. }
                )
            })
            .count()
    };
    assert_eq!([1, 2, 3, 4, 5, 6, 7].map(count), [1, 2, 3, 3, 5, 5, 5]);
}

#[test]
fn cephfs_adds_metadata_servers_a_file_system_and_a_pool() {
    let (mut choices, observed) = with_ceph(3);
    choices.ceph.as_mut().unwrap().cephfs = true;
    let plan = plan(&choices, &observed).unwrap();
    let steps = ceph_steps(&plan);
    assert_eq!(
        steps[17..],
        strings(&[
            "s1: CephAddMds",
            "s2: CephAddMds",
            "s3: CephAddMds",
            "s1: CephCreateFs",
            "s1: CreatePoolPending remote-fs",
            "s2: CreatePoolPending remote-fs",
            "s3: CreatePoolPending remote-fs",
            "s1: CreatePool remote-fs",
        ])
    );
}

#[test]
fn fewer_than_three_ceph_hosts_is_a_warning() {
    let (mut choices, observed) = with_ceph(3);
    choices.members[2].ceph_disks.clear();
    let plan = plan(&choices, &observed).unwrap();
    assert_eq!(
        plan.warnings,
        strings(&[
            "only 2 members have Ceph disks (s1, s2): Ceph keeps 2 copies of the data, \
                   and needs disks on 3 members to keep 3 copies and survive losing one"
        ])
    );
    assert!(plan.steps.iter().any(|s| s.kind
        == StepKind::CephCreatePool {
            pool: "lxd_remote".into(),
            size: 2
        }));
    for m in &mut choices.members {
        m.ceph_disks.clear();
    }
    assert_eq!(
        errors(&choices, &observed),
        vec![PlanError::CephWithoutDisks]
    );
}

#[test]
fn ceph_resumes_from_what_exists() {
    let (choices, mut observed) = with_ceph(3);
    let all = ["s1", "s2", "s3"];
    clustered(&mut observed, &all);
    created(&mut observed, &all, "local", "zfs");
    network_created(&mut observed, &all);
    let ceph = &mut observed.ceph;
    ceph.fsid = Some("6f1b".into());
    ceph.mons = ["s1", "s2"].map(String::from).into();
    ceph.mgrs = ["s1"].map(String::from).into();
    ceph.osds
        .insert("s1".into(), BTreeSet::from(["/dev/sdc".to_string()]));
    let s1_s2 = ["10.0.0.1", "10.0.0.2"]
        .map(|a| a.parse().unwrap())
        .to_vec();
    let all_mons = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
        .map(|a| a.parse().unwrap())
        .to_vec();
    for (member, mon_hosts) in [("s1", all_mons.clone()), ("s2", s1_s2)] {
        ceph.configs.insert(
            member.into(),
            CephConfigObserved {
                fsid: "6f1b".into(),
                mon_hosts,
                admin_keyring: true,
            },
        );
    }
    let plan = plan(&choices, &observed).unwrap();
    assert_eq!(
        summary(&plan),
        strings(&[
            "s3: CephAddMon",
            "s2: CephConfigure",
            "s3: CephConfigure",
            "s2: CephAddMgr",
            "s3: CephAddMgr",
            "s2: CephCreateOsd /dev/sdc",
            "s3: CephCreateOsd /dev/sdc",
            "s1: CephCreatePool",
            "s1: CreatePoolPending remote",
            "s2: CreatePoolPending remote",
            "s3: CreatePoolPending remote",
            "s1: CreatePool remote",
            "s1: UpdateDefaultProfile",
        ])
    );
}

#[test]
fn a_stopped_osd_is_started_again_and_its_disk_is_not_wiped() {
    let (mut choices, mut observed) = with_ceph(3);
    observed.ceph.fsid = Some("6f1b".into());
    let sdc = BTreeSet::from(["/dev/sdc".to_string()]);
    observed.ceph.osds.insert("s2".into(), sdc.clone());
    observed.ceph.osds.insert("s3".into(), sdc.clone());
    observed.ceph.stopped_osds.insert("s3".into(), sdc);
    // Its BlueStore label makes the disk look used, yet it is ours.
    let s3 = observed.members.get_mut("s3").unwrap();
    s3.disks[2].eligibility = Eligibility::Ineligible(vec!["is a Ceph BlueStore OSD".into()]);
    choices.members[2].wipe = vec![DiskRef::new("/dev/sdc")];
    let plan = plan(&choices, &observed).unwrap();
    let osds: Vec<String> = summary(&plan)
        .into_iter()
        .filter(|s| s.contains("Osd") || s.contains("Wipe"))
        .collect();
    assert_eq!(
        osds,
        strings(&["s1: CephCreateOsd /dev/sdc", "s3: CephCreateOsd /dev/sdc"])
    );
}

#[test]
fn a_member_of_another_ceph_cluster_is_refused() {
    let (choices, mut observed) = with_ceph(3);
    observed.ceph.fsid = Some("6f1b".into());
    observed.ceph.configs.insert(
        "s2".into(),
        CephConfigObserved {
            fsid: "0a0a".into(),
            mon_hosts: vec!["192.0.2.9".parse().unwrap()],
            admin_keyring: true,
        },
    );
    assert_eq!(
        errors(&choices, &observed),
        vec![PlanError::ForeignCeph {
            member: "s2".into(),
            fsid: "0a0a".into()
        }]
    );
}

#[test]
fn errors_are_listed_together() {
    let (mut choices, mut observed) = fresh(3);
    observed.members.remove("s3");
    lxd_mut(&mut observed, "s2").storage_drivers.clear();
    choices.members[0].local_disk = Some(DiskRef::new("/dev/nope"));
    let e = plan(&choices, &observed).unwrap_err();
    assert_eq!(
        e.to_string(),
        "s1: no disk or partition /dev/nope (it may have been removed or renamed)\n\
         s2: its LXD does not support the zfs storage driver (it has: none reported)\n\
         s3: its state could not be observed (is its agent reachable?)"
    );
}

#[test]
fn plans_are_deterministic_and_serializable() {
    let (choices, observed) = with_ceph(4);
    let a = plan(&choices, &observed).unwrap();
    let b = plan(&choices, &observed).unwrap();
    assert_eq!(a, b);
    let json = serde_json::to_string(&a).unwrap();
    let back: Plan = serde_json::from_str(&json).unwrap();
    assert_eq!(back, a);
}

/// s1 and s2 formed LXD and Ceph with pools `remote` and `remote-fs`; s3
/// comes late (a new server, or one whose LXD was reinstalled).
fn ceph_formed_on_two_of_three() -> (Choices, Observed) {
    let (mut choices, mut observed) = with_ceph(3);
    choices.ceph.as_mut().unwrap().cephfs = true;
    let done = ["s1", "s2"];
    clustered(&mut observed, &done);
    created(&mut observed, &done, "local", "zfs");
    created(&mut observed, &done, "remote", "ceph");
    created(&mut observed, &done, "remote-fs", "cephfs");
    network_created(&mut observed, &done);
    profile_done(&mut observed, "remote");
    let ceph = &mut observed.ceph;
    ceph.fsid = Some("6f1b".into());
    ceph.mons = ["s1", "s2", "s3"].map(String::from).into();
    ceph.mgrs = ceph.mons.clone();
    ceph.mdss = ceph.mons.clone();
    ceph.pools = BTreeSet::from(["lxd_remote".to_string()]);
    ceph.filesystems = BTreeSet::from(["lxd_cephfs".to_string()]);
    for m in done {
        ceph.osds
            .insert(m.into(), BTreeSet::from(["/dev/sdc".to_string()]));
    }
    (choices, observed)
}

fn configured(observed: &mut Observed, member: &str) {
    observed.ceph.configs.insert(
        member.into(),
        CephConfigObserved {
            fsid: "6f1b".into(),
            mon_hosts: (1..=3).map(ip).collect(),
            admin_keyring: true,
        },
    );
}

#[test]
fn a_late_joiner_is_a_ceph_client_before_it_joins_the_ceph_pools() {
    let (choices, mut observed) = ceph_formed_on_two_of_three();
    configured(&mut observed, "s1");
    configured(&mut observed, "s2");
    let plan = plan(&choices, &observed).unwrap();
    assert_eq!(
        summary(&plan),
        strings(&[
            "s3: CephConfigure",
            "s1: IssueToken s3",
            "s3: JoinCluster",
            "s3: CephCreateOsd /dev/sdc",
        ])
    );
    let StepKind::JoinCluster { pool_sources, .. } = &plan.steps[2].kind else {
        panic!("{:?}", plan.steps[2]);
    };
    assert_eq!(
        pool_sources,
        &BTreeMap::from([
            ("local".to_string(), "/dev/sdb".to_string()),
            ("remote".to_string(), "lxd_remote".to_string()),
            ("remote-fs".to_string(), "lxd_cephfs".to_string()),
        ])
    );

    // Already a client (only its LXD was reinstalled): the join alone.
    configured(&mut observed, "s3");
    let again = crate::plan(&choices, &observed).unwrap();
    assert_eq!(
        summary(&again),
        strings(&[
            "s1: IssueToken s3",
            "s3: JoinCluster",
            "s3: CephCreateOsd /dev/sdc",
        ])
    );
}

/// What an agent reports of its daemon, for the pre-flight checks.
fn runs(observed: &mut Observed, name: &str, daemon: &str, version: &str, extensions: usize) {
    let lxd = lxd_mut(observed, name);
    lxd.daemon = daemon.into();
    lxd.server_version = version.into();
    lxd.api_extensions = extensions;
}

fn messages(choices: &Choices, observed: &Observed) -> Vec<String> {
    match plan(choices, observed) {
        Ok(_) => Vec::new(),
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn one_daemon_one_build_everywhere_and_the_plan_names_it() {
    let (choices, mut observed) = fresh(3);
    for s in ["s1", "s2", "s3"] {
        runs(&mut observed, s, "lxd", "5.0.2", 322);
    }
    let ok = plan(&choices, &observed).unwrap();
    assert_eq!(ok.builds["s2"], "LXD 5.0.2");
    assert!(
        ok.render().contains("s2 (10.0.0.2, LXD 5.0.2)"),
        "{}",
        ok.render()
    );

    runs(&mut observed, "s3", "incus", "6.0.4", 450);
    let e = messages(&choices, &observed);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("the members run different daemons (s3: Incus; s1, s2: LXD)"),
        "{e:?}"
    );

    runs(&mut observed, "s3", "lxd", "5.0.3", 330);
    let e = messages(&choices, &observed);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].contains("s1, s2: LXD 5.0.2 with 322 API extensions; s3: LXD 5.0.3 with 330"),
        "{e:?}"
    );
    // A member that did not report (an older agent) is not judged.
    lxd_mut(&mut observed, "s3").daemon.clear();
    assert!(messages(&choices, &observed).is_empty());
}

#[test]
fn a_clock_off_by_more_than_five_seconds_is_refused() {
    let (choices, mut observed) = fresh(2);
    observed.members.get_mut("s2").unwrap().clock_skew_ms = Some(-4_000);
    assert!(messages(&choices, &observed).is_empty());
    observed.members.get_mut("s2").unwrap().clock_skew_ms = Some(-7_250);
    let e = messages(&choices, &observed);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("s2: its clock is 7.2 s behind the initiator's"),
        "{e:?}"
    );
}

#[test]
fn lvm_is_not_offered_without_device_mapper() {
    let (mut choices, mut observed) = fresh(2);
    for s in ["s1", "s2"] {
        lxd_mut(&mut observed, s).storage_drivers = vec!["dir".into(), "lvm".into()];
    }
    assert_eq!(
        best_local_driver(&observed, &["s1", "s2"], true),
        Driver::Lvm
    );
    lxd_mut(&mut observed, "s2").device_mapper = Some(false);
    assert_eq!(
        best_local_driver(&observed, &["s1", "s2"], true),
        Driver::Dir
    );
    choices.local_driver = Driver::Lvm;
    let e = messages(&choices, &observed);
    assert!(
        e.iter()
            .any(|e| e.starts_with("s2: its LXD does not support the lvm storage driver")),
        "{e:?}"
    );
}

/// The configs `muster remove` writes are those `muster init` plans for
/// the members left: a rerun of init after the removal does not rewrite
/// them.
#[test]
fn configs_rewritten_by_a_removal_are_done_for_init() {
    let mons = ["s1", "s2", "s3"];
    let removal = RemovalObserved {
        target: "s3".into(),
        here: "s1".into(),
        lxd_members: BTreeMap::from([("s1".into(), "Online".into())]),
        trusted: true,
        agent_reachable: true,
        ceph: Some(CephRemovalObserved {
            mons: mons.map(String::from).into(),
            quorum: mons.map(String::from).into(),
            mon_addrs: (1..=3).map(|i| (format!("s{i}"), ip(i))).collect(),
            configs: ["s1", "s2"]
                .map(|m| (m.to_string(), Some((1..=3).map(ip).collect())))
                .into(),
            ..CephRemovalObserved::default()
        }),
        ..RemovalObserved::default()
    };
    let removal = plan_removal(&removal, RemovalChoices::default()).unwrap();
    let (mut choices, mut observed) = ceph_formed_on_two_of_three();
    choices.members.truncate(2);
    choices.ceph.as_mut().unwrap().cephfs = false;
    observed.members.remove("s3");
    observed.ceph.mons.remove("s3");
    for step in &removal.steps {
        if let RemovalStep::CephReconfigure { on, mon_hosts } = step {
            observed.ceph.configs.insert(
                on.clone(),
                CephConfigObserved {
                    fsid: "6f1b".into(),
                    mon_hosts: mon_hosts.clone(),
                    admin_keyring: true,
                },
            );
        }
    }
    assert_eq!(observed.ceph.configs.len(), 2, "{removal:?}");
    let plan = plan(&choices, &observed).unwrap();
    assert_eq!(ceph_steps(&plan), Vec::<String>::new(), "{plan:?}");
}

/// Every member reports `programs` found on its PATH.
fn with_programs(observed: &mut Observed, programs: &[&str]) {
    for member in observed.members.values_mut() {
        member.lxd.programs = Some(strings(programs));
    }
}

fn all_tools() -> Vec<&'static str> {
    TOOLS.iter().map(|t| t.program).collect()
}

#[test]
fn a_member_without_ceph_daemons_is_refused_naming_program_package_and_step() {
    let (choices, mut observed) = with_ceph(3);
    with_programs(&mut observed, &all_tools());
    let without = |skip: &[&str]| -> Vec<String> {
        all_tools()
            .into_iter()
            .filter(|p| !skip.contains(p))
            .map(String::from)
            .collect()
    };
    lxd_mut(&mut observed, "s2").programs = Some(without(&["ceph-mon", "ceph-osd", "monmaptool"]));
    let e = errors(&choices, &observed);
    assert_eq!(
        e,
        vec![
            PlanError::ToolMissing {
                member: "s2".into(),
                program: "ceph-mon".into(),
                package: "ceph-mon".into(),
                step: "Add a Ceph monitor on s2 (10.0.0.2)".into(),
            },
            PlanError::ToolMissing {
                member: "s2".into(),
                program: "ceph-osd".into(),
                package: "ceph-osd".into(),
                step: "Create a Ceph OSD on /dev/sdc".into(),
            },
        ],
        "monmaptool is only the first monitor's"
    );
    assert_eq!(
        e[1].to_string(),
        "s2: ceph-osd is not installed (not on musterd's PATH) and the step \"Create a Ceph OSD \
         on /dev/sdc\" needs it: install the Debian package ceph-osd on s2 (`apt-get install \
         ceph-osd`) and run muster init again"
    );
}

#[test]
fn a_ceph_client_without_disks_needs_the_ceph_tools_but_no_daemon() {
    // s4 has no disk and, with three monitors wanted, no daemon.
    let (mut choices, mut observed) = with_ceph(4);
    choices.members[3].ceph_disks.clear();
    with_programs(&mut observed, &all_tools());
    lxd_mut(&mut observed, "s4").programs = Some(strings(&["ceph", "rbd"]));
    assert!(plan(&choices, &observed).is_ok());
    lxd_mut(&mut observed, "s4").programs = Some(strings(&["ceph"]));
    let e = errors(&choices, &observed);
    assert_eq!(e.len(), 1, "{e:?}");
    let PlanError::ToolMissing {
        member,
        program,
        package,
        step,
    } = &e[0]
    else {
        panic!("{e:?}");
    };
    assert_eq!(
        (member.as_str(), program.as_str(), package.as_str()),
        ("s4", "rbd", "ceph-common")
    );
    assert!(step.starts_with("Configure s4 as a Ceph client"), "{step}");
}

#[test]
fn no_tool_is_needed_without_ceph_nor_checked_when_not_reported() {
    let (choices, mut observed) = fresh(3);
    with_programs(&mut observed, &[]);
    assert!(plan(&choices, &observed).is_ok());
    let (choices, observed) = with_ceph(3);
    assert!(
        plan(&choices, &observed).is_ok(),
        "an older agent reports none"
    );
    // s1 and s2 have their part in Ceph already: only s3 needs tools.
    let (choices, mut observed) = ceph_formed_on_two_of_three();
    configured(&mut observed, "s1");
    configured(&mut observed, "s2");
    with_programs(&mut observed, &[]);
    let e = errors(&choices, &observed);
    assert!(!e.is_empty());
    assert!(
        e.iter()
            .all(|e| matches!(e, PlanError::ToolMissing { member, .. } if member == "s3")),
        "{e:?}"
    );
}

#[test]
fn every_program_a_step_runs_is_one_an_agent_looks_for() {
    let (mut choices, observed) = with_ceph(5);
    choices.ceph.as_mut().unwrap().cephfs = true;
    let plan = plan(&choices, &observed).unwrap();
    let mut used = BTreeSet::new();
    for step in &plan.steps {
        for tool in step.kind.tools() {
            assert!(TOOLS.contains(tool), "{tool:?} of {:?}", step.kind);
            used.insert(tool.program);
        }
    }
    assert_eq!(used.len(), TOOLS.len(), "a tool no step needs: {used:?}");
}
