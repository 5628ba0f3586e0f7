//! Disk inventory: the block devices of this server, what is on them, and
//! whether muster may use them.
//!
//! I/O stays at the edges (sysfs attributes, the mount table, by-id links and
//! the devices' first bytes); recognising signatures and judging eligibility
//! are pure functions over what was read.

mod byid;
mod device;
mod eligibility;
mod model;
mod mountinfo;
mod scan;
mod signature;
mod sysfs;
mod wipe;

#[cfg(test)]
mod fixture;
#[cfg(test)]
mod scan_tests;

pub use device::{DeviceReader, FileReader};
pub use eligibility::human_size;
pub use model::{Disk, DiskKind, Eligibility, Partition, Signature};
pub use scan::{scan, scan_with, DiskError, ScanOptions};
pub use signature::{detect_signatures, HEAD_LEN};
pub use wipe::{wipe, wipe_consent, wipe_refusal, WipeError, WIPE_LEN};
