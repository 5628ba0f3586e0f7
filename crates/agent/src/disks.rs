//! This server's disks: scanned for the inventory, and erased on the
//! initiator's word. The initiator's plan only asks for disks the operator
//! chose and allowed to be wiped; this side looks again, just before, and
//! refuses a device that is mounted or in use whatever the plan says.

use std::path::PathBuf;

use muster_disks::Disk;

use crate::config::DisksConfig;
use crate::error::{Error, Kind};

/// The disks as they are now. `name` is this server's, for messages.
pub(crate) async fn scan(name: &str, config: &DisksConfig) -> Result<Vec<Disk>, Error> {
    let options = config.scan_options();
    // Reading sysfs and the devices' first bytes blocks.
    match tokio::task::spawn_blocking(move || muster_disks::scan(&options)).await {
        Ok(Ok(disks)) => Ok(disks),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "disk scan failed");
            Err(Error::new(
                Kind::Internal,
                format!("{name}: cannot scan the disks: {e}"),
            ))
        }
        Err(e) => {
            tracing::error!(error = %e, "disk scan did not finish");
            Err(Error::new(
                Kind::Internal,
                "the disk scan did not finish; see musterd's log",
            ))
        }
    }
}

/// Refuses to make an OSD of `device` unless a fresh scan lists it as a
/// disk or partition of this server that a wipe would not refuse (not
/// mounted, held, read-only, nor a device of a refused kind). A path that
/// is no device of the scan (a regular file, `/dev/null`, a link to
/// either) is refused here; the Ceph crate refuses anything but a block
/// device again.
pub(crate) async fn check_osd_device(
    name: &str,
    config: &DisksConfig,
    device: &str,
) -> Result<(), Error> {
    let disks = scan(name, config).await?;
    osd_refusal(&disks, device).map_err(|why| {
        Error::new(
            Kind::Conflict,
            format!("{name}: {device} cannot be an OSD: {why}"),
        )
    })
}

/// Why `device` cannot be an OSD, judged on `disks` (a fresh scan): the
/// wipe's rules, since making an OSD overwrites it. Pure.
pub(crate) fn osd_refusal(disks: &[Disk], device: &str) -> Result<(), String> {
    muster_disks::wipe_refusal(disks, device)
}

/// Who asks for a wipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WipeAsker {
    /// This server's own operator, through its `muster init`.
    Operator,
    /// This server's controller, over the member API: a disk carrying data
    /// also needs this server's consent (`[disks] wipe_allowed`).
    Controller,
}

/// Rescans, checks `device` may be wiped, and wipes it.
pub(crate) async fn wipe_device(
    name: &str,
    config: &DisksConfig,
    device: &str,
    asker: WipeAsker,
) -> Result<(), Error> {
    let options = config.scan_options();
    let allowed = config.wipe_allowed.clone();
    let path = device.to_owned();
    let me = name.to_owned();
    let done = tokio::task::spawn_blocking(move || {
        let disks = muster_disks::scan(&options)
            .map_err(|e| Error::new(Kind::Internal, format!("{me}: cannot scan the disks: {e}")))?;
        let not_wiped = |why: String| Error::new(Kind::Conflict, format!("{me}: {path} is not wiped: {why}"));
        muster_disks::wipe_refusal(&disks, &path).map_err(not_wiped)?;
        if asker == WipeAsker::Controller {
            muster_disks::wipe_consent(&disks, &path, &allowed).map_err(not_wiped)?;
        }
        tracing::warn!(device = %path, asker = ?asker, "wiping on the initiator's plan (the operator allowed it)");
        muster_disks::wipe(&PathBuf::from(&path))
            .map_err(|e| Error::new(Kind::Internal, format!("{me}: {e}")))
    })
    .await;
    match done {
        Ok(result) => result,
        Err(e) => Err(Error::new(
            Kind::Internal,
            format!("{name}: the wipe did not finish: {e}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use muster_disks::{Disk, Eligibility, Partition};

    use super::osd_refusal;

    fn partition(name: &str, number: u32, mountpoints: &[&str]) -> Partition {
        Partition {
            name: name.into(),
            path: format!("/dev/{name}"),
            by_id: Vec::new(),
            number,
            start_bytes: u64::from(number) << 30,
            size_bytes: 1 << 30,
            read_only: false,
            holders: Vec::new(),
            mountpoints: mountpoints.iter().map(|m| m.to_string()).collect(),
            signatures: Vec::new(),
            eligibility: Eligibility::Eligible,
        }
    }

    fn scanned() -> Vec<Disk> {
        let sdb = Disk {
            by_id: vec!["/dev/disk/by-id/ata-DISK_B".into()],
            ..Disk::blank("sdb", 100 << 30)
        };
        let sdc = Disk {
            mountpoints: vec!["/srv".into()],
            ..Disk::blank("sdc", 100 << 30)
        };
        let mut sdd = Disk::blank("sdd", 100 << 30);
        sdd.partitions = vec![partition("sdd1", 1, &["/"]), partition("sdd2", 2, &[])];
        vec![sdb, sdc, sdd]
    }

    #[test]
    fn an_osd_goes_only_on_a_free_disk_or_partition_of_the_scan() {
        let disks = scanned();
        for ok in ["/dev/sdb", "/dev/disk/by-id/ata-DISK_B", "/dev/sdd2"] {
            assert_eq!(osd_refusal(&disks, ok), Ok(()), "{ok}");
        }
        let refused = |device: &str| osd_refusal(&disks, device).unwrap_err();
        // Not a device the scan lists: a file, /dev/null, a link elsewhere.
        for stranger in [
            "/var/lib/x.img",
            "/dev/null",
            "/tmp/link-to-sdb",
            "/dev/./sdb",
        ] {
            assert_eq!(
                refused(stranger),
                "no such disk or partition on this server",
                "{stranger}"
            );
        }
        assert_eq!(refused("/dev/sdc"), "mounted at /srv");
        assert_eq!(refused("/dev/sdd1"), "mounted at /");
        assert!(refused("/dev/sdd").contains("its partition sdd1 is mounted at /"));
    }

    #[tokio::test]
    async fn a_path_the_scan_does_not_list_is_refused_before_ceph_sees_it() {
        // The real scan, limited to a device this machine lacks: it lists
        // nothing, so reads no device and needs no root.
        let config = crate::config::DisksConfig {
            only: vec!["/dev/muster-no-such-disk".into()],
            ..Default::default()
        };
        for device in ["/etc/passwd", "/dev/null"] {
            let e = super::check_osd_device("s1", &config, device)
                .await
                .unwrap_err();
            assert_eq!(
                e.message,
                format!("s1: {device} cannot be an OSD: no such disk or partition on this server")
            );
        }
    }
}
