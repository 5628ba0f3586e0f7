//! Text output, as pure functions of the data so it can be tested as is.
//!
//! Everything that came from the network or from a device (names, models,
//! reasons) goes through [`printable`] first: a hostile mDNS record or USB
//! device string must not drive the terminal.

use muster_discovery::{printable, Compat, Peer, PeerEvent};
use muster_disks::{human_size, Disk, DiskKind, Eligibility};

/// Fixed widths: peer lines are printed one by one as events arrive, so
/// columns cannot be sized from the data.
const PEER_COLUMNS: [usize; 5] = [8, 16, 10, 12, 24];

/// The header printed once before peer lines.
pub fn peers_header() -> String {
    peer_line([
        "EVENT",
        "NAME",
        "VERSION",
        "STATE",
        "ADDRESSES",
        "COMPATIBILITY",
    ])
}

/// One line for one event, matching [`peers_header`].
pub fn peer_event_line(event: &PeerEvent) -> String {
    match event {
        PeerEvent::Found(peer) => peer_fields("found", peer),
        PeerEvent::Updated(peer) => peer_fields("updated", peer),
        PeerEvent::Gone { instance } => {
            let instance = printable(instance);
            peer_line(["gone", &instance, "", "", "", ""])
        }
    }
}

fn peer_fields(event: &str, peer: &Peer) -> String {
    let version = peer.version.as_deref().unwrap_or("-");
    let state = peer.state.map_or("-", |s| s.as_str());
    let addresses = if peer.addresses.is_empty() {
        "-".to_string()
    } else {
        let list: Vec<String> = peer.addresses.iter().map(|a| a.to_string()).collect();
        format!("{} port {}", list.join(","), peer.port)
    };
    let compat = match &peer.compat {
        Compat::Compatible => "compatible".to_string(),
        Compat::Incompatible(reason) => format!("incompatible: {}", printable(reason)),
    };
    peer_line([event, &peer.name, version, state, &addresses, &compat])
}

fn peer_line(cells: [&str; 6]) -> String {
    let mut line = String::new();
    for (cell, width) in cells.iter().zip(PEER_COLUMNS) {
        line.push_str(&format!("{cell:<width$} "));
    }
    line.push_str(cells[5]);
    line.trim_end().to_string()
}

/// One JSON object for one event (`{"event":"found",...}`).
pub fn peer_event_json(event: &PeerEvent) -> String {
    // A struct of strings, numbers and addresses always serializes.
    serde_json::to_string(event).unwrap_or_default()
}

/// The table of `muster disks`: a row per disk, its partitions indented
/// under it.
pub fn disks_table(disks: &[Disk]) -> String {
    if disks.is_empty() {
        return "no disks found\n".to_string();
    }
    let mut rows: Vec<[String; 6]> = vec![[
        "NAME".into(),
        "SIZE".into(),
        "TYPE".into(),
        "MODEL".into(),
        "PATH".into(),
        "STATUS".into(),
    ]];
    for disk in disks {
        rows.push([
            printable(&disk.name),
            human_size(disk.size_bytes),
            disk_type(disk),
            disk.model.as_deref().map_or("-".into(), printable),
            stable_path(&disk.by_id, &disk.path),
            status(&disk.eligibility),
        ]);
        for part in &disk.partitions {
            rows.push([
                format!("  {}", printable(&part.name)),
                human_size(part.size_bytes),
                "part".into(),
                "-".into(),
                stable_path(&part.by_id, &part.path),
                status(&part.eligibility),
            ]);
        }
    }
    table(&rows)
}

fn disk_type(disk: &Disk) -> String {
    let kind = match disk.kind {
        DiskKind::Disk => "disk",
        DiskKind::Loop => "loop",
        DiskKind::Cdrom => "cdrom",
        DiskKind::Dm => "dm",
        DiskKind::Md => "md",
        DiskKind::Virtual => "virtual",
    };
    match disk.transport.as_deref() {
        Some(t) if !t.is_empty() && t != kind => format!("{kind}/{}", printable(t)),
        _ => kind.to_string(),
    }
}

/// by-id paths survive reboots and renumbering; prefer them.
fn stable_path(by_id: &[String], path: &str) -> String {
    printable(by_id.first().map_or(path, String::as_str))
}

fn status(eligibility: &Eligibility) -> String {
    match eligibility {
        Eligibility::Eligible => "eligible".into(),
        Eligibility::Ineligible(reasons) if reasons.is_empty() => "not eligible".into(),
        Eligibility::Ineligible(reasons) => {
            let reasons: Vec<String> = reasons.iter().map(|r| printable(r)).collect();
            format!("not eligible: {}", reasons.join("; "))
        }
    }
}

/// Left-aligned columns sized to their widest cell; the last column is not
/// padded so lines carry no trailing blanks.
pub(crate) fn table<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0; N];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == N {
                line.push_str(cell);
            } else {
                let width = widths[i];
                line.push_str(&format!("{cell:<width$}  "));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use muster_disks::{Partition, Signature};
    use muster_proto::ClusterState;

    fn peer(name: &str, compat: Compat) -> Peer {
        Peer {
            instance: name.into(),
            name: name.into(),
            addresses: vec!["10.231.250.2".parse().unwrap(), "fd00::2".parse().unwrap()],
            port: 9443,
            version: Some("0.1.0".into()),
            protocol: Some(1),
            state: Some(ClusterState::Unclustered),
            session_open: false,
            compat,
        }
    }

    #[test]
    fn peer_lines_line_up_with_the_header() {
        let found = PeerEvent::Found(peer("s1", Compat::Compatible));
        let updated = PeerEvent::Updated(Peer {
            state: None,
            version: None,
            addresses: vec![],
            ..peer("s2", Compat::Incompatible("no usable address".into()))
        });
        let gone = PeerEvent::Gone {
            instance: "s3".into(),
        };
        let out = [
            peers_header(),
            peer_event_line(&found),
            peer_event_line(&updated),
            peer_event_line(&gone),
        ]
        .join("\n");
        assert_eq!(
            out,
            "\
EVENT    NAME             VERSION    STATE        ADDRESSES                COMPATIBILITY
found    s1               0.1.0      unclustered  10.231.250.2,fd00::2 port 9443 compatible
updated  s2               -          -            -                        incompatible: no usable address
gone     s3"
        );
    }

    #[test]
    fn hostile_instance_names_are_escaped() {
        let gone = PeerEvent::Gone {
            instance: "x\u{1b}[2J".into(),
        };
        assert_eq!(peer_event_line(&gone), "gone     x\\u{1b}[2J");
    }

    #[test]
    fn peer_json_has_the_event_field() {
        let line = peer_event_json(&PeerEvent::Found(peer("s1", Compat::Compatible)));
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["event"], "found");
        assert_eq!(value["name"], "s1");
        assert_eq!(value["compat"]["verdict"], "compatible");
        assert!(!line.contains('\n'));
    }

    fn partition(name: &str, eligibility: Eligibility) -> Partition {
        Partition {
            name: name.into(),
            path: format!("/dev/{name}"),
            by_id: vec![],
            number: 1,
            start_bytes: 1 << 20,
            size_bytes: 512 << 20,
            read_only: false,
            holders: vec![],
            mountpoints: vec!["/boot".into()],
            signatures: vec![Signature::Ext { version: 4 }],
            eligibility,
        }
    }

    fn disk(name: &str, kind: DiskKind, eligibility: Eligibility) -> Disk {
        Disk {
            kind,
            eligibility,
            ..Disk::blank(name, 4 << 30)
        }
    }

    #[test]
    fn disks_table_with_partitions_indented() {
        let mut sda = disk(
            "sda",
            DiskKind::Disk,
            Eligibility::Ineligible(vec!["has a GPT partition table".into()]),
        );
        sda.size_bytes = 500_107_862_016;
        sda.model = Some("Samsung SSD 870".into());
        sda.transport = Some("sata".into());
        sda.by_id = vec!["/dev/disk/by-id/ata-Samsung_SSD_870_S1".into()];
        sda.partitions = vec![partition(
            "sda1",
            Eligibility::Ineligible(vec![
                "mounted at /boot".into(),
                "has an ext4 filesystem".into(),
            ]),
        )];
        let mut loop3 = disk("loop3", DiskKind::Loop, Eligibility::Eligible);
        loop3.transport = Some("loop".into());
        let disks = [sda, loop3];
        assert_eq!(
            disks_table(&disks),
            "\
NAME    SIZE       TYPE       MODEL            PATH                                    STATUS
sda     465.8 GiB  disk/sata  Samsung SSD 870  /dev/disk/by-id/ata-Samsung_SSD_870_S1  not eligible: has a GPT partition table
  sda1  512.0 MiB  part       -                /dev/sda1                               not eligible: mounted at /boot; has an ext4 filesystem
loop3   4.0 GiB    loop       -                /dev/loop3                              eligible
"
        );
    }

    #[test]
    fn no_disks() {
        assert_eq!(disks_table(&[]), "no disks found\n");
    }

    #[test]
    fn device_strings_are_escaped() {
        let mut d = disk("sdb", DiskKind::Disk, Eligibility::Ineligible(vec![]));
        d.model = Some("evil\u{1b}]0;title\u{7}".into());
        let table = disks_table(&[d]);
        assert!(!table.contains('\u{1b}'), "{table}");
        assert!(table.contains("evil\\u{1b}]0;title\\u{7}"));
        assert!(table.contains("not eligible\n"));
    }
}
