//! Disk inventory: the block devices of this server, what is on them, and
//! whether muster may use them.

mod model;

pub use model::{Disk, DiskKind, Eligibility, Partition, Signature};
