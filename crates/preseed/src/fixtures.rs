//! A fixed inventory of three servers, for the unit tests and for the
//! fuzz targets under `tests/fuzz` (feature `fixtures`), which resolve and
//! plan whatever preseed text they are given against it.

use std::net::IpAddr;

use muster_disks::{Disk, Eligibility, Partition, Signature};
use muster_plan::{LxdObserved, MemberObserved, PoolObserved, Status};
use muster_proto::trust::NetInterface;

use crate::{Inventory, KnownMember};

pub const GIB: u64 = 1 << 30;

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

pub fn disk(name: &str, gib: u64) -> Disk {
    Disk::blank(name, gib * GIB)
}

/// The OS disk: partitioned, its root partition mounted.
pub fn os_disk() -> Disk {
    let root = Partition {
        name: "sda2".into(),
        path: "/dev/sda2".into(),
        by_id: Vec::new(),
        number: 2,
        start_bytes: 1 << 20,
        size_bytes: 30 * GIB,
        read_only: false,
        holders: Vec::new(),
        mountpoints: vec!["/".into()],
        signatures: vec![Signature::Ext { version: 4 }],
        eligibility: Eligibility::Ineligible(vec![
            "mounted at /".into(),
            "carries an ext4 filesystem".into(),
        ]),
    };
    let free = Partition {
        name: "sda3".into(),
        path: "/dev/sda3".into(),
        number: 3,
        mountpoints: Vec::new(),
        signatures: Vec::new(),
        eligibility: Eligibility::Eligible,
        ..root.clone()
    };
    Disk {
        partitions: vec![root, free],
        signatures: vec![Signature::Gpt],
        eligibility: Eligibility::Ineligible(vec![
            "has 2 partitions".into(),
            "carries a GPT partition table".into(),
        ]),
        ..disk("sda", 64)
    }
}

pub fn iface(name: &str, addresses: &[&str]) -> NetInterface {
    NetInterface {
        name: name.into(),
        addresses: addresses.iter().map(|a| a.to_string()).collect(),
        mac: None,
        mtu: Some(1500),
        up: true,
    }
}

pub fn lxd() -> LxdObserved {
    LxdObserved {
        server_name: "none".into(),
        storage_drivers: vec!["dir".into(), "zfs".into()],
        ..LxdObserved::default()
    }
}

/// Three servers s1..s3 at 10.0.0.11..13, each with an OS disk and empty
/// sdb (200 GiB), sdc (4 TiB, rotational) and sdd (4 TiB, rotational).
pub fn inventory() -> Inventory {
    let mut inv = Inventory {
        local: "s1".into(),
        ..Inventory::default()
    };
    for i in 1..=3 {
        let name = format!("s{i}");
        let addr = format!("10.0.0.1{i}");
        inv.members.push(KnownMember {
            name: name.clone(),
            addresses: if i == 1 { vec![] } else { vec![ip(&addr)] },
            interfaces: vec![
                iface("lo", &["127.0.0.1/8", "::1/128"]),
                iface("enp5s0", &[&format!("{addr}/24"), "fe80::1/64"]),
                iface("enp6s0", &[&format!("10.1.0.1{i}/24")]),
            ]
            .into_iter()
            // s1 has one IPv4 address, enough to tell which carries
            // cluster traffic without being told.
            .filter(|f| i != 1 || f.name != "enp6s0")
            .collect(),
        });
        let sdb = Disk {
            model: Some("Samsung SSD 870 EVO".into()),
            by_id: vec![format!("/dev/disk/by-id/ata-Samsung_SSD_870_S{i}")],
            ..disk("sdb", 200)
        };
        let hdd = |name: &str| Disk {
            rotational: true,
            model: Some("ST4000NM".into()),
            ..disk(name, 4096)
        };
        inv.observed.members.insert(
            name,
            MemberObserved {
                lxd: lxd(),
                disks: vec![os_disk(), sdb, hdd("sdc"), hdd("sdd")],
                clock_skew_ms: None,
            },
        );
    }
    inv
}

pub fn example_inventory_with_nvme() -> Inventory {
    let mut inv = inventory();
    let s1 = inv.observed.members.get_mut("s1").unwrap();
    s1.disks.push(Disk {
        by_id: vec!["/dev/disk/by-id/nvme-Samsung_SSD_980_S64ANS0T123456".into()],
        ..disk("nvme0n1", 1000)
    });
    inv
}

/// [`inventory`] after a run that stopped half way: s1 and s2 form an LXD
/// cluster, each with its `local` pool made on a ZFS sdb; s3 is gone.
pub fn resumed_inventory() -> Inventory {
    let mut inv = inventory();
    for (name, m) in inv.observed.members.iter_mut() {
        m.lxd.pools.insert(
            "local".into(),
            PoolObserved {
                driver: "zfs".into(),
                status: Status::Created,
            },
        );
        m.disks[1].signatures = vec![Signature::ZfsMember];
        m.disks[1].eligibility = Eligibility::Ineligible(vec!["is a ZFS pool member".into()]);
        m.lxd.clustered = true;
        m.lxd.server_name = name.clone();
        m.lxd.cluster_fingerprint = Some("f".into());
        m.lxd.cluster_members = vec!["s1".into(), "s2".into()];
    }
    inv.members.truncate(2);
    inv
}
