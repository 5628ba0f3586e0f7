//! Made-up peers, disks and interfaces, as discovery and the inventory
//! report them: for the wizard's tests and snapshots, and for the demo
//! (`cargo run -p muster-tui --example demo`). Not for real use.

use std::net::IpAddr;

use muster_discovery::{Compat, Peer};
use muster_disks::{Disk, Eligibility, Partition, Signature};

use crate::model::Interface;

pub fn peer(name: &str, last_octet: u8) -> Peer {
    Peer {
        instance: name.into(),
        name: name.into(),
        addresses: vec![IpAddr::from([10, 0, 0, last_octet])],
        port: 9443,
        version: Some("0.1.0".into()),
        protocol: Some(1),
        state: None,
        session_open: false,
        compat: Compat::Compatible,
    }
}

pub fn incompatible(name: &str, last_octet: u8, why: &str) -> Peer {
    Peer {
        version: Some("0.0.9".into()),
        protocol: Some(0),
        compat: Compat::Incompatible(why.into()),
        ..peer(name, last_octet)
    }
}

pub fn disk(name: &str, size_gib: u64) -> Disk {
    Disk {
        by_id: vec![format!("/dev/disk/by-id/ata-QEMU_HARDDISK_QM000{name}")],
        model: Some("QEMU HARDDISK".into()),
        serial: Some(format!("QM000{name}")),
        transport: Some("sata".into()),
        ..Disk::blank(name, size_gib << 30)
    }
}

pub fn partition(disk: &str, n: u32, size_gib: u64) -> Partition {
    Partition {
        name: format!("{disk}{n}"),
        path: format!("/dev/{disk}{n}"),
        by_id: vec![],
        number: n,
        start_bytes: 1 << 20,
        size_bytes: size_gib << 30,
        read_only: false,
        holders: vec![],
        mountpoints: vec![],
        signatures: vec![],
        eligibility: Eligibility::Eligible,
    }
}

/// A disk with an ext4 filesystem straight on it, as muster-disks reports
/// it.
pub fn ext4_disk(name: &str, size_gib: u64) -> Disk {
    Disk {
        signatures: vec![Signature::Ext { version: 4 }],
        eligibility: Eligibility::Ineligible(vec!["carries an ext4 filesystem".into()]),
        ..disk(name, size_gib)
    }
}

/// The OS disk: partitioned, its root partition mounted.
pub fn os_disk(name: &str, size_gib: u64) -> Disk {
    let mut root = partition(name, 1, size_gib - 1);
    root.signatures = vec![Signature::Ext { version: 4 }];
    root.mountpoints = vec!["/".into()];
    Disk {
        partitions: vec![root],
        signatures: vec![Signature::Gpt],
        eligibility: Eligibility::Ineligible(vec![
            "has 1 partition".into(),
            "carries a GPT partition table".into(),
        ]),
        ..disk(name, size_gib)
    }
}

pub fn interfaces(last_octet: u8) -> Vec<Interface> {
    vec![
        Interface {
            name: "lo".into(),
            addresses: vec!["127.0.0.1/8".into()],
            up: true,
        },
        Interface {
            name: "eth0".into(),
            addresses: vec![format!("10.0.0.{last_octet}/24"), "fe80::1/64".into()],
            up: true,
        },
        Interface {
            name: "eth1".into(),
            addresses: vec![format!("192.168.50.{last_octet}/24")],
            up: true,
        },
    ]
}
