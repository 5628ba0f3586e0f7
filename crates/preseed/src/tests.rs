use std::net::IpAddr;
use std::time::Duration;

use muster_disks::{Disk, Eligibility, Partition, Signature};
use muster_plan::{BridgeAddress, CephChoices, DiskRef, Driver};

use crate::fixtures::*;
use crate::*;

const EXAMPLE: &str = include_str!("../../../packaging/examples/preseed.yaml");

fn with_fs(d: Disk) -> Disk {
    Disk {
        signatures: vec![Signature::Ext { version: 4 }],
        eligibility: Eligibility::Ineligible(vec!["carries an ext4 filesystem".into()]),
        ..d
    }
}

fn errors_of(text: &str) -> Vec<String> {
    parse(text).unwrap_err().messages()
}

fn resolve_errors(text: &str, inv: &Inventory) -> Vec<String> {
    let p = parse(text).unwrap();
    resolve(&p, inv).unwrap_err().messages()
}

fn resolved(text: &str, inv: &Inventory) -> Resolved {
    let p = parse(text).unwrap();
    resolve(&p, inv).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_example_file_parses() {
    let p = parse(EXAMPLE).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.members.len(), 3);
    assert_eq!(p.initiator.as_deref(), Some("s1"));
    let session = p.session();
    assert_eq!(
        session.passphrase,
        Some(PassphraseSource::File(
            "/etc/muster/session.passphrase".into()
        ))
    );
    assert!(session.enrollment);
    assert_eq!(session.timeout, Duration::from_secs(15 * 60));
    let LocalDisk::Filter(f) = p.members[1].disks.local.as_ref().unwrap() else {
        panic!("{:?}", p.members[1].disks.local);
    };
    assert_eq!(f.min_size, Some(ByteSize(100 * GIB)));
    assert_eq!(f.max_size, Some(ByteSize(2 << 40)));
    assert_eq!(f.media, Some(Media::Ssd));
    assert!(f.model.as_ref().unwrap().matches("samsung ssd 870 EVO"));
    assert_eq!(p.members[2].address, Some(ip("10.0.0.13")));
    assert_eq!(p.network.instances.ipv4.0, BridgeAddress::Auto);
    assert!(p.storage.ceph.as_ref().unwrap().cephfs);
}

#[test]
fn the_example_file_resolves() {
    let inv = example_inventory_with_nvme();
    let r = resolved(EXAMPLE, &inv);
    let c = &r.choices;
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    assert_eq!(c.initiator, "s1");
    assert_eq!(c.local_driver, Driver::Zfs);
    let names: Vec<&str> = c.members.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["s1", "s2", "s3"]);
    let addresses: Vec<IpAddr> = c.members.iter().map(|m| m.address).collect();
    assert_eq!(
        addresses,
        [ip("10.0.0.11"), ip("10.0.0.12"), ip("10.0.0.13")]
    );
    let ceph_addresses: Vec<Option<IpAddr>> = c.members.iter().map(|m| m.ceph_address).collect();
    assert_eq!(
        ceph_addresses,
        [
            Some(ip("10.0.0.11")),
            Some(ip("10.0.0.12")),
            Some(ip("10.0.0.13"))
        ]
    );
    let s1 = &c.members[0];
    assert_eq!(
        s1.local_disk,
        Some(DiskRef::new("/dev/sdb").with_by_id("/dev/disk/by-id/ata-Samsung_SSD_870_S1"))
    );
    assert_eq!(
        s1.ceph_disks,
        [
            DiskRef::new("/dev/sdc"),
            DiskRef::new("/dev/nvme0n1")
                .with_by_id("/dev/disk/by-id/nvme-Samsung_SSD_980_S64ANS0T123456"),
        ]
    );
    assert_eq!(s1.wipe, [DiskRef::new("/dev/sdc")]);
    let s2 = &c.members[1];
    assert_eq!(
        s2.local_disk,
        Some(DiskRef::new("/dev/sdb").with_by_id("/dev/disk/by-id/ata-Samsung_SSD_870_S2"))
    );
    assert_eq!(
        s2.ceph_disks,
        [DiskRef::new("/dev/sdc"), DiskRef::new("/dev/sdd")]
    );
    assert_eq!(c.members[2].local_disk, None);
    assert_eq!(
        c.ceph,
        Some(CephChoices {
            cephfs: true,
            public_network: Some("10.0.0.0/24".parse().unwrap()),
            cluster_network: Some("10.1.0.0/24".parse().unwrap()),
        })
    );
    // The plan takes it from here.
    let plan = muster_plan::plan(c, &inv.observed).unwrap();
    assert!(plan.render().contains("Create a Ceph OSD on /dev/sdc"));
}

#[test]
fn a_missing_by_id_path_is_named() {
    let e = resolve_errors(EXAMPLE, &inventory());
    assert_eq!(
        e,
        ["members[0].disks.ceph[1] (s1): s1 has no disk or partition \
          /dev/disk/by-id/nvme-Samsung_SSD_980_S64ANS0T123456 (its disks: /dev/sda, /dev/sdb, /dev/sdc, /dev/sdd)"]
    );
}

const MINIMAL: &str = "members:\n  - name: s1\n";

#[test]
fn a_minimal_file() {
    let p = parse(MINIMAL).unwrap();
    let session = p.session();
    assert_eq!(session.passphrase, None);
    assert!(!session.enrollment);
    assert_eq!(session.timeout, Duration::from_secs(600));
    assert_eq!(p.network.instances.name, "lxdbr0");
    assert_eq!(p.network.instances.ipv6.0, BridgeAddress::None);
    let mut inv = inventory();
    inv.members.truncate(1);
    let r = resolved(MINIMAL, &inv);
    assert_eq!(r.choices.local_driver, Driver::Dir);
    // The local server's only IPv4 address carries cluster traffic.
    assert_eq!(r.choices.members[0].address, ip("10.0.0.11"));
}

#[test]
fn unknown_keys_name_the_key_the_member_and_the_line() {
    let text = "\
members:
  - name: s1
  - name: s2
    disks:
      lokal: /dev/sdb
";
    assert_eq!(
        errors_of(text),
        ["line 5: members[1].disks.lokal (s2): unknown key `lokal`, expected one of `local`, `ceph`, `wipe`"]
    );
    assert_eq!(
        errors_of("members: []\nsesion: {}\n"),
        ["line 2: sesion: unknown key `sesion`, expected one of `session`, `initiator`, `members`, `storage`, `network`"]
    );
}

#[test]
fn type_errors_in_several_places_are_all_reported() {
    let text = "\
members:
  - name: s1
    disks:
      local: 5
  - name: s2
    colour: blue
  - name: s3
    disks:
      ceph: {min_size: lots}
network:
  instances:
    ipv4: dhcp
session:
  timeout: soon
";
    assert_eq!(
        errors_of(text),
        [
            "line 4: members[0].disks.local (s1): invalid type: integer `5`, expected a device path, `dir`, or a disk filter",
            "members[1].colour (s2): unknown key `colour`, expected one of `name`, `address`, `disks`, `network`",
            "members[2].disks.ceph.min_size (s3): \"lots\" is not a size: write a number and a unit, such as 500GB, 4GiB or 1.5T",
            "network.instances.ipv4: \"dhcp\" is not `auto`, `none` or an address with a prefix such as 10.10.0.1/24",
            "session.timeout: \"soon\" is not a duration (expected number at 0): write e.g. 10m or 1h",
        ]
    );
}

#[test]
fn paths_reach_into_lists_and_filters() {
    assert_eq!(
        errors_of("members:\n  - name: s1\n    disks:\n      ceph: [/dev/sdc, 5]\n"),
        ["members[0].disks.ceph[1] (s1): \"5\" is not a device path (/dev/...)"]
    );
    assert_eq!(
        errors_of("members:\n  - name: s1\n    disks:\n      local: {model: '[a'}\n"),
        [
            "line 4: members[0].disks.local.model (s1): \"[a\" is not a glob pattern \
          (Pattern syntax error near position 0: invalid range pattern)"
        ]
    );
    assert_eq!(
        errors_of("members:\n  - address: 10.0.0.300\n"),
        ["line 2: members[0].address (10.0.0.300): invalid IP address syntax"]
    );
}

#[test]
fn yaml_syntax_errors() {
    let e = errors_of("members:\n  - name: s1\n  bad: : :\n");
    assert_eq!(e.len(), 1);
    assert!(e[0].starts_with("not valid YAML: "), "{e:?}");
    assert!(e[0].contains("line 3"), "{e:?}");
    assert_eq!(errors_of(""), ["line 1: missing key `members`"]);
    assert_eq!(
        errors_of("- a\n- b\n"),
        ["line 1: invalid type: sequence, expected struct Preseed"]
    );
}

#[test]
fn the_file_against_itself() {
    let text = "\
initiator: s9
session:
  passphrase: word
  passphrase_file: /etc/p
members:
  - name: s1
    address: 10.0.0.1
    disks:
      local: /dev/sdb
      ceph: [/dev/sdc, /dev/sdb, sdd, /dev/sdc]
      wipe: [/dev/sde, /dev/sdc, /dev/sdc]
  - name: s1
    address: 10.0.0.1
    disks:
      local: {limit: 2, min_size: 2TiB, max_size: 1TiB}
    network:
      cluster_interface: eth0
      cluster_address: 10.0.0.2
  - disks:
      local: dir
  - name: bad name
storage:
  ceph: {}
network:
  cluster_interface: a-very-long-interface-name
  cluster_subnet: 10.0.0.0/24
  instances:
    ipv6: 10.9.0.1/24
";
    let members_without_ceph =
        text.replace("      ceph: [/dev/sdc, /dev/sdb, sdd, /dev/sdc]\n", "");
    assert_eq!(
        errors_of(text),
        [
            "session: give passphrase or passphrase_file, not both",
            "network: give cluster_interface or cluster_subnet, not both",
            "network.cluster_interface: \"a-very-long-interface-name\" is not an interface name (at most 15 characters, no '/', ':' or spaces)",
            "network.instances.ipv6: 10.9.0.1/24 is not an IPv6 address",
            "members[0].disks.ceph[1] (s1): /dev/sdb is already chosen as members[0].disks.local",
            "members[0].disks.ceph[2] (s1): \"sdd\" is not a device path (/dev/...)",
            "members[0].disks.ceph[3] (s1): /dev/sdc is already chosen as members[0].disks.ceph[0]",
            "members[0].disks.wipe[0] (s1): /dev/sde is not chosen (disks.local or disks.ceph): muster only wipes chosen disks",
            "members[0].disks.wipe[2] (s1): /dev/sdc is listed twice",
            "members[1].name (s1): s1 is already members[0]",
            "members[1].address (s1): 10.0.0.1 is already the address of members[0]",
            "members[1].disks.local.max_size (s1): max_size (1.0 TiB) is below min_size (2.0 TiB)",
            "members[1].disks.local.limit (s1): the local pool uses one disk: leave limit out",
            "members[1].network (s1): give cluster_interface or cluster_address, not both",
            "members[2]: give the member's name, or its address",
            "members[3].name (bad name): \"bad name\" is not a server name (letters, digits, '-', '_', '.')",
            "initiator: s9 is not the name of one of the members",
            "members[2].disks.local: `dir` makes the local pool a dir pool on every member, but s1, s1 give a disk for it; leave local out instead to put this member's pool on its OS disk",
        ]
    );
    assert!(errors_of(&members_without_ceph)
        .contains(&"storage.ceph: Ceph settings are given but no member lists Ceph disks (members[N].disks.ceph)".to_string()));
}

#[test]
fn session_rules() {
    let e = errors_of("session: {enrollment: true, timeout: 0s}\nmembers: [{name: s1}]\n");
    assert_eq!(
        e,
        [
            "session.enrollment: enrolled joiners already hold the passphrase: give it too (passphrase or passphrase_file)",
            "session.timeout: a session lasts from 1s to 24h, not 0s",
        ]
    );
    // What the agent would refuse when it opens the session is refused
    // here, with the key.
    let e = errors_of("session: {passphrase: 'a b c', timeout: 25h}\nmembers: [{name: s1}]\n");
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(
        e[0].starts_with("session.passphrase: this passphrase is too weak"),
        "{e:?}"
    );
    assert_eq!(
        e[1],
        "session.timeout: a session lasts from 1s to 24h, not 90000s"
    );
    let strong = "correct horse battery staple muster";
    let p = parse(&format!(
        "session: {{passphrase: '{strong}', enrollment: true, timeout: 24h}}\nmembers: [{{name: s1}}]\n"
    ))
    .unwrap();
    assert_eq!(
        p.session().passphrase,
        Some(PassphraseSource::Inline(Secret(strong.into())))
    );
    assert_eq!(format!("{:?}", p.session.passphrase), "Some(Secret(..))");
}

#[test]
fn unknown_members_are_errors() {
    let text = "\
members:
  - name: s1
  - name: s7
  - address: 10.0.0.99
  - name: s2
    address: 10.0.0.13
  - address: 10.0.0.12
";
    assert_eq!(
        resolve_errors(text, &inventory()),
        [
            "members[1].name (s7): no trusted server is named s7 (known: s1, s2, s3); has it joined the session?",
            "members[2].address (10.0.0.99): no trusted server has the address 10.0.0.99 (known: s1, s2, s3)",
            "members[3].address (s2): s2 does not have the address 10.0.0.13",
            "members[4] (10.0.0.12): s2 is already members[3]",
        ]
    );
}

#[test]
fn the_initiator_is_this_server() {
    let mut inv = inventory();
    inv.local = "s2".into();
    assert_eq!(
        resolve_errors("initiator: s1\nmembers: [{name: s1}, {name: s2}]\n", &inv),
        ["initiator: s1 is not this server (s2): run `muster init` on s1"]
    );
    assert_eq!(
        resolve_errors("members: [{name: s1}]\n", &inv),
        ["members: this server (s2) is not among the members; it must be, as the initiator"]
    );
}

#[test]
fn a_member_in_another_cluster_is_an_error() {
    let mut inv = inventory();
    let s3 = &mut inv.observed.members.get_mut("s3").unwrap().lxd;
    s3.clustered = true;
    s3.server_name = "s3".into();
    s3.cluster_members = vec!["s3".into(), "old1".into()];
    assert_eq!(
        resolve_errors("members: [{name: s1}, {name: s2}, {name: s3}]\n", &inv),
        ["members[2] (s3): s3 is already in another LXD cluster: its LXD is already in a cluster (members: s3, old1)"]
    );
}

#[test]
fn disks_that_do_not_exist_or_are_not_empty() {
    let mut inv = inventory();
    let s2 = inv.observed.members.get_mut("s2").unwrap();
    s2.disks[2] = with_fs(s2.disks[2].clone());
    let text = "\
members:
  - name: s1
    disks:
      local: /dev/sdx
      ceph: [/dev/sda, /dev/sda2, /dev/sda3]
  - name: s2
    disks:
      ceph: [/dev/sdc]
";
    assert_eq!(
        resolve_errors(text, &inv),
        [
            "members[0].disks.local (s1): s1 has no disk or partition /dev/sdx (its disks: /dev/sda, /dev/sdb, /dev/sdc, /dev/sdd)",
            "members[0].disks.ceph[0] (s1): /dev/sda on s1 cannot be used: has 2 partitions, carries a GPT partition table, sda2 is mounted at /",
            "members[0].disks.ceph[1] (s1): /dev/sda2 on s1 cannot be used: mounted at /, carries an ext4 filesystem",
            "members[1].disks.ceph[0] (s2): /dev/sdc on s2 is not empty (carries an ext4 filesystem); list it under members[1].disks.wipe to erase it",
        ]
    );
    // A free partition is fine, and so is a disk with a filesystem once
    // its wipe is allowed.
    let text = "\
members:
  - name: s1
    disks:
      ceph: [/dev/sda3]
  - name: s2
    disks:
      ceph: [/dev/sdc]
      wipe: [/dev/sdc]
";
    let r = resolved(text, &inv);
    assert_eq!(r.choices.members[0].ceph_disks, [DiskRef::new("/dev/sda3")]);
    assert_eq!(r.choices.members[1].wipe, [DiskRef::new("/dev/sdc")]);
}

#[test]
fn overlapping_devices_and_aliases() {
    let mut inv = inventory();
    let s1 = inv.observed.members.get_mut("s1").unwrap();
    s1.disks[1].partitions.push(Partition {
        name: "sdb1".into(),
        path: "/dev/sdb1".into(),
        by_id: Vec::new(),
        number: 1,
        start_bytes: 1 << 20,
        size_bytes: 10 * GIB,
        read_only: false,
        holders: Vec::new(),
        mountpoints: Vec::new(),
        signatures: Vec::new(),
        eligibility: Eligibility::Eligible,
    });
    let text = "\
members:
  - name: s1
    disks:
      local: /dev/disk/by-id/ata-Samsung_SSD_870_S1
      ceph: [/dev/sdb, /dev/sdb1]
      wipe: [/dev/sdb, /dev/sdd]
";
    assert_eq!(
        resolve_errors(text, &inv),
        [
            "members[0].disks.ceph[0] (s1): /dev/sdb is chosen twice on s1",
            "members[0].disks.ceph[1] (s1): /dev/sdb1 shares blocks with /dev/sdb, also chosen on s1",
            "members[0].disks.wipe[1] (s1): /dev/sdd is not chosen on s1 (disks.local or disks.ceph): muster only wipes chosen disks",
        ]
    );
}

#[test]
fn filters_resolve_deterministically() {
    let text = "\
members:
  - name: s1
    disks:
      local: {type: hdd}
      ceph: {type: hdd}
  - name: s2
    disks:
      ceph: {min_size: 1TiB, limit: 1}
  - name: s3
    disks:
      local: {model: 'samsung*'}
      ceph: {model: 'nope*'}
";
    let e = resolve_errors(text, &inventory());
    assert_eq!(
        e,
        ["members[2].disks.ceph (s3): no empty disk on s3 matches (model \"nope*\") (its disks: \
          /dev/sda 64.0 GiB ssd (has 2 partitions, carries a GPT partition table); \
          /dev/sdb 200.0 GiB ssd \"Samsung SSD 870 EVO\" (chosen already); \
          /dev/sdc 4.0 TiB hdd \"ST4000NM\"; /dev/sdd 4.0 TiB hdd \"ST4000NM\")"]
    );
    let r = resolved(&text.replace("nope*", "st4000*"), &inventory());
    let m = &r.choices.members;
    assert_eq!(m[0].local_disk.as_ref().unwrap().path, "/dev/sdc");
    assert_eq!(m[0].ceph_disks, [DiskRef::new("/dev/sdd")]);
    assert_eq!(m[1].ceph_disks, [DiskRef::new("/dev/sdc")]);
    assert_eq!(m[2].local_disk.as_ref().unwrap().path, "/dev/sdb");
    assert_eq!(
        m[2].ceph_disks,
        [DiskRef::new("/dev/sdc"), DiskRef::new("/dev/sdd")]
    );
    // An ineligible disk is taken by a filter only when its wipe is allowed.
    let mut inv = inventory();
    let s1 = inv.observed.members.get_mut("s1").unwrap();
    s1.disks[2] = with_fs(s1.disks[2].clone());
    let one = "members:\n  - name: s1\n    disks:\n      ceph: {type: hdd}\n";
    let r = resolved(one, &inv);
    assert_eq!(r.choices.members[0].ceph_disks, [DiskRef::new("/dev/sdd")]);
    let wiped = one.to_owned() + "      wipe: [/dev/sdc]\n";
    let r = resolved(&wiped, &inv);
    assert_eq!(
        r.choices.members[0].ceph_disks,
        [DiskRef::new("/dev/sdc"), DiskRef::new("/dev/sdd")]
    );
}

#[test]
fn without_a_block_driver_the_local_pool_is_dir() {
    let mut inv = inventory();
    inv.observed
        .members
        .get_mut("s2")
        .unwrap()
        .lxd
        .storage_drivers = vec!["dir".into()];
    let text = "\
members:
  - name: s1
    disks: {local: /dev/sdb}
  - name: s2
    disks: {local: /dev/sdb, wipe: [/dev/sdb]}
";
    let r = resolved(text, &inv);
    assert_eq!(r.choices.local_driver, Driver::Dir);
    assert!(r
        .choices
        .members
        .iter()
        .all(|m| m.local_disk.is_none() && m.wipe.is_empty()));
    assert_eq!(
        r.warnings,
        ["no block storage driver (zfs, lvm, btrfs) is available on every member: the local pool \
          is a dir pool on each OS disk, and /dev/sdb on s1, /dev/sdb on s2 are left untouched"]
    );
}

#[test]
fn cluster_addresses() {
    let mut inv = inventory();
    inv.members[0]
        .interfaces
        .push(iface("enp6s0", &["10.1.0.11/24"]));
    let addresses = |text: &str| -> Vec<IpAddr> {
        resolved(text, &inv)
            .choices
            .members
            .iter()
            .map(|m| m.address)
            .collect()
    };
    let two = "members: [{name: s1}, {name: s2, network: {cluster_interface: enp6s0}}]\n";
    assert_eq!(
        addresses(&format!("{two}network: {{cluster_subnet: 10.0.0.0/24}}\n")),
        [ip("10.0.0.11"), ip("10.1.0.12")]
    );
    assert_eq!(
        addresses(&format!("{two}network: {{cluster_interface: enp5s0}}\n")),
        [ip("10.0.0.11"), ip("10.1.0.12")]
    );
    // Without settings: a joiner's agent address; this server has two IPv4
    // addresses, so the file must say which.
    assert_eq!(
        resolve_errors(two, &inv),
        ["members[0] (s1): which address of s1 carries cluster traffic? Give network.cluster_subnet, \
          network.cluster_interface or this member's address (it has: 10.0.0.11/24 on enp5s0, 10.1.0.11/24 on enp6s0)"]
    );
    assert_eq!(
        addresses("members: [{name: s1, address: 10.1.0.11}, {name: s2}]\n"),
        [ip("10.1.0.11"), ip("10.0.0.12")]
    );
    assert_eq!(
        resolve_errors(
            "members: [{name: s1}, {name: s2}]\nnetwork: {cluster_subnet: 192.168.0.0/16}\n",
            &inv
        ),
        [
            "network.cluster_subnet (s1): s1 has no address in 192.168.0.0/16 (it has: 10.0.0.11/24 on enp5s0, 10.1.0.11/24 on enp6s0)",
            "network.cluster_subnet (s2): s2 has no address in 192.168.0.0/16 (it has: 10.0.0.12/24 on enp5s0, 10.1.0.12/24 on enp6s0)",
        ]
    );
    assert_eq!(
        resolve_errors("members: [{name: s1, network: {cluster_interface: eth9}}]\n", &inv),
        ["members[0].network.cluster_interface (s1): s1 has no interface eth9 (it has: lo, enp5s0, enp6s0)"]
    );
    assert_eq!(
        resolve_errors(
            "members: [{name: s1, network: {cluster_address: 10.0.0.99}}]\n",
            &inv
        ),
        [
            "members[0].network.cluster_address (s1): s1 does not have the address 10.0.0.99 \
          (it has: 10.0.0.11/24 on enp5s0, 10.1.0.11/24 on enp6s0)"
        ]
    );
}

#[test]
fn a_resumed_run_accepts_what_muster_put_on_the_disks() {
    let inv = resumed_inventory();
    let text = "\
members:
  - name: s1
    disks: {local: /dev/sdb}
  - name: s2
    disks: {local: {type: ssd}}
network: {cluster_subnet: 10.0.0.0/24}
";
    let r = resolved(text, &inv);
    let local: Vec<&str> = r
        .choices
        .members
        .iter()
        .map(|m| m.local_disk.as_ref().unwrap().path.as_str())
        .collect();
    assert_eq!(local, ["/dev/sdb", "/dev/sdb"]);
    let plan = muster_plan::plan(&r.choices, &inv.observed).unwrap();
    assert!(
        plan.steps.iter().all(|s| !s.description.contains("Wipe")),
        "{}",
        plan.render()
    );
}

#[test]
fn load_reads_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("preseed.yaml");
    std::fs::write(&path, EXAMPLE).unwrap();
    assert!(load(&path).is_ok());
    let missing = dir.path().join("nope.yaml");
    let e = load(&missing).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!(
            "cannot read the preseed file {}: ",
            missing.display()
        )),
        "{e}"
    );
}

#[test]
fn storage_local_driver_chooses_the_driver_where_it_works() {
    let mut inv = inventory();
    let text = |driver: &str, disks: &str| {
        format!(
            "storage:\n  local:\n    driver: {driver}\nmembers:\n  - name: s1\n{disks}  - name: s2\n"
        )
    };
    let r = resolved(&text("dir", ""), &inv);
    assert_eq!(r.choices.local_driver, Driver::Dir);
    for m in inv.observed.members.values_mut() {
        m.lxd.storage_drivers = vec!["dir".into(), "lvm".into()];
    }
    let disk = "    disks: {local: /dev/sdb}\n";
    assert_eq!(
        resolved(&text("lvm", disk), &inv).choices.local_driver,
        Driver::Lvm
    );
    inv.observed
        .members
        .get_mut("s2")
        .unwrap()
        .lxd
        .device_mapper = Some(false);
    assert_eq!(
        resolve_errors(&text("lvm", disk), &inv),
        [
            "storage.local.driver (s2): lvm does not work on s2: its kernel has no device-mapper, \
          which LXD's lvm driver needs"
        ]
    );
    assert_eq!(
        resolve_errors(&text("zfs", disk), &inv),
        [
            "storage.local.driver (s1): zfs does not work on s1: its LXD offers lvm, dir only",
            "storage.local.driver (s2): zfs does not work on s2: its LXD offers dir only"
        ]
    );
    let e = resolve_errors(&text("dir", disk), &inv);
    assert!(
        e.len() == 1 && e[0].contains("dir keeps the pool in a directory"),
        "{e:?}"
    );
    assert!(errors_of(&text("ceph", ""))[0].contains("storage.local.driver"));
}

#[test]
fn storage_local_driver_never_contradicts_a_created_pool() {
    let mut inv = inventory();
    for m in inv.observed.members.values_mut() {
        m.lxd.pools.insert(
            "local".into(),
            muster_plan::PoolObserved {
                driver: "zfs".into(),
                status: muster_plan::Status::Created,
            },
        );
    }
    let text = "storage:\n  local:\n    driver: dir\nmembers:\n  - name: s1\n";
    let e = resolve_errors(text, &inv);
    assert!(
        e.len() == 1 && e[0].contains("the pool local exists already with driver zfs"),
        "{e:?}"
    );
    // Pending definitions (a stopped run's) do not bind: the plan replaces
    // them.
    for m in inv.observed.members.values_mut() {
        m.lxd.pools.get_mut("local").unwrap().status = muster_plan::Status::Pending;
    }
    assert_eq!(resolved(text, &inv).choices.local_driver, Driver::Dir);
}

/// Ten levels of ten aliases each: 10^10 values from about 1 KB.
pub(crate) fn billion_laughs() -> String {
    let mut text = String::from("a0: &a0 [lol]\n");
    for i in 1..=10 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    text.push_str("members: [{name: s1}]\n");
    text
}

#[test]
fn a_billion_laughs_is_refused() {
    let text = billion_laughs();
    let e = errors_of(&text);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].contains("anchors and aliases"), "{e:?}");
    assert!(e[0].contains(&bounds::MAX_EXPANDED.to_string()), "{e:?}");
}

#[test]
fn one_long_string_repeated_by_aliases_is_refused() {
    // Few values, but each alias repeats 20 KB of text.
    let long = "x".repeat(20_000);
    let text = format!(
        "session: {{passphrase: &p {long}}}\nx: [*p, *p, *p, *p]\nmembers: [{{name: s1}}]\n"
    );
    assert!(text.len() < bounds::MAX_BYTES);
    let e = errors_of(&text);
    assert!(e[0].contains("anchors and aliases"), "{e:?}");
}

#[test]
fn a_few_small_aliases_pass_the_bound() {
    // Refused as an unknown key, not for its aliases: the bound lets a
    // small repetition through.
    let text = format!("{MINIMAL}x: &x [a, b, c]\ny: [*x, *x, *x]\n");
    let e = errors_of(&text);
    assert!(e.iter().all(|e| !e.contains("aliases")), "{e:?}");
    assert!(e.iter().any(|e| e.contains("unknown key `x`")), "{e:?}");
}

#[test]
fn a_file_without_aliases_expands_to_less_than_its_size() {
    // What makes MAX_EXPANDED safe for any file within MAX_BYTES.
    for text in [EXAMPLE, MINIMAL] {
        let size = bounds::expanded_size(text, usize::MAX).unwrap();
        assert!(size < text.len(), "{size} >= {}", text.len());
    }
    // The densest YAML there is: a value per two bytes.
    let dense = format!("[{}]", vec!["0"; 10_000].join(","));
    assert!(bounds::expanded_size(&dense, usize::MAX).unwrap() <= dense.len());
    let empties = "-\n".repeat(10_000);
    assert!(bounds::expanded_size(&empties, usize::MAX).unwrap() <= empties.len());
}

#[test]
fn text_larger_than_the_cap_is_refused_before_parsing() {
    // Not YAML at all: refused for its size, not its syntax.
    let text = "{".repeat(bounds::MAX_BYTES + 1);
    let e = errors_of(&text);
    assert_eq!(
        e,
        [format!(
            "the preseed is {} bytes, more than the 32 KiB a preseed file may be: list fewer \
             members, or choose disks with filters instead of listing them",
            bounds::MAX_BYTES + 1
        )]
    );
}

#[test]
fn read_refuses_a_file_larger_than_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.yaml");
    std::fs::write(
        &path,
        format!("{MINIMAL}#{}\n", "x".repeat(bounds::MAX_BYTES)),
    )
    .unwrap();
    let size = std::fs::metadata(&path).unwrap().len();
    let e = read(&path).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!(
            "the preseed file {} is {size} bytes, more than the 32 KiB",
            path.display()
        )),
        "{e}"
    );
    assert_eq!(load(&path).unwrap_err().messages(), [e]);
    // At the cap exactly, it is read.
    std::fs::write(&path, format!("{MINIMAL}#{}\n", "x".repeat(100))).unwrap();
    assert!(read(&path).is_ok());
}

#[test]
fn read_stops_after_the_cap() {
    // An endless file: read whole, this would never end.
    let e = read(std::path::Path::new("/dev/zero"))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("the preseed file /dev/zero is larger, more than the 32 KiB"),
        "{e}"
    );
}

#[test]
fn read_refuses_a_file_that_is_not_text() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("binary.yaml");
    std::fs::write(&path, [0xff, 0xfe, 0x00]).unwrap();
    assert_eq!(
        read(&path).unwrap_err().to_string(),
        format!("{} is not UTF-8 text", path.display())
    );
}
