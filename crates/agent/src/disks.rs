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
