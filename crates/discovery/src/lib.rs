//! Discovery over mDNS / DNS-SD: the agent advertises itself, the CLI browses.
//!
//! Nothing learned here is trusted: records are judged ([`record`]) and shown
//! with a verdict, and trust comes later from the passphrase session.

pub mod advertise;
pub mod browse;
pub mod error;
#[cfg(test)]
mod fixtures;
mod interfaces;
pub mod record;
pub mod txt;

pub use advertise::{Advertisement, Advertiser};
pub use browse::{browse, BrowseOptions, Browser, PeerEvent, PeerTable, DUPLICATE_NAME};
pub use error::DiscoveryError;
pub use record::{
    classify, classify_info, printable, printable_up_to, Compat, Peer, RawService, TxtEntry,
};
