//! Ceph's answers (`ceph ... --format json`, `ceph osd new`) and the first
//! bytes of a device (its BlueStore label and the OSD that label names):
//! every parser of `muster_ceph::status` and `muster_ceph::device` gets
//! every input, and what parses is read the way the steps read it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use muster_ceph::device::{
    bluestore_label_owner, bluestore_label_uuid, classify_head, DeviceHead,
};
use muster_ceph::status::*;

fn is_sorted<T: Ord>(items: &[T]) -> bool {
    items.windows(2).all(|w| w[0] <= w[1])
}

fuzz_target!(|data: &[u8]| {
    if let Ok(status) = parse_status(data) {
        let summary = status.health.summary();
        assert!(status.health.is_ok() || summary.starts_with(&status.health.status));
    }
    if let Ok(quorum) = parse_quorum_status(data) {
        for name in quorum.mon_names() {
            let _ = quorum.in_quorum(name);
        }
    }
    if let Ok(dump) = parse_osd_dump(data) {
        let ids: Vec<u32> = dump.osds.iter().map(|o| o.osd).collect();
        assert!(dump.not_up(&ids).iter().all(|id| ids.contains(id)));
        assert!(dump.up_count() <= ids.len());
        for osd in &dump.osds {
            let found = dump
                .by_uuid(&osd.uuid)
                .expect("an OSD is found by its uuid");
            assert!(found.uuid.eq_ignore_ascii_case(&osd.uuid));
        }
    }
    if let Ok(tree) = parse_osd_tree(data) {
        let hosts = tree.hosts();
        assert!(is_sorted(&hosts));
        assert!(hosts.iter().all(|(_, osds)| is_sorted(osds)));
    }
    if let Ok(pools) = parse_pools(data) {
        for pool in &pools {
            let _ = pool.has_application("rbd");
        }
    }
    let _ = parse_fs_ls(data);
    if let Ok(map) = parse_fs_dump(data) {
        for fs in &map.filesystems {
            assert!(is_sorted(&map.active_mds(&fs.mdsmap.fs_name)));
        }
        assert!(is_sorted(&map.standby_mds()));
    }
    let _ = parse_osd_new(data);
    match classify_head(data) {
        DeviceHead::Bluestore { osd_uuid } => {
            assert_eq!(bluestore_label_uuid(data), Some(osd_uuid));
        }
        DeviceHead::Empty => assert!(data.iter().all(|b| *b == 0)),
        DeviceHead::Other => assert!(bluestore_label_uuid(data).is_none()),
    }
    // The owner is read from the binary part of a label, which only a
    // BlueStore head has: what is found there must come with that head.
    if bluestore_label_owner(data).is_some() {
        assert!(matches!(classify_head(data), DeviceHead::Bluestore { .. }));
    }
});
