//! Preseed files: `muster init --preseed FILE`, unattended. The format is
//! YAML (`packaging/examples/preseed.yaml` shows and explains every key),
//! checked in two stages before anything is touched, each reporting every
//! error it finds with its key path (`members[2].disks.local`), the member,
//! and the line where the parser gives one:
//!
//! 1. [`parse`] / [`load`]: the file alone. Syntax, types, unknown keys,
//!    then what it says against itself (a member twice, a disk chosen twice,
//!    a wipe of a disk not chosen, conflicting settings).
//! 2. [`resolve`]: the file against the [`Inventory`] (members' disks,
//!    interfaces, LXD state): unknown members, missing disks, disks holding
//!    data without a wipe, members in another LXD cluster, filters that match
//!    nothing. Its result is the plan's [`muster_plan::Choices`].
//!
//! Input beyond the [`bounds`] (size, alias expansion) is refused before
//! it is parsed.
//!
//! Pure apart from [`load`] and [`read`] reading the file.

pub mod bounds;
mod error;
pub mod merge;
mod parse;
mod resolve;
mod schema;
mod size;

#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;
#[cfg(test)]
mod tests;

pub use bounds::{read, InputError};
pub use error::{PreseedError, PreseedErrors};
pub use parse::{check_passphrase, load, parse, PassphraseSource, Session};
pub use resolve::{resolve, Inventory, KnownMember, Resolved};
pub use schema::*;
pub use size::{parse_size, ByteSize};
