//! The TXT record schema of `_muster._tcp.local.`. Nothing secret goes here:
//! anyone on the LAN reads it, and nothing read from it is trusted.

/// Protocol version (`muster_proto::PROTOCOL_VERSION`), decimal.
pub const PROTOCOL: &str = "proto";
/// Program version, e.g. `0.1.0`.
pub const VERSION: &str = "version";
/// The server's name (also the DNS-SD instance name).
pub const NAME: &str = "name";
/// `unclustered` or `clustered` (`muster_proto::ClusterState`).
pub const STATE: &str = "state";
/// `open` while the server has a trust session open (joiners look for it);
/// absent otherwise.
pub const SESSION: &str = "session";
/// The value of [`SESSION`] that means open.
pub const SESSION_OPEN: &str = "open";
/// How many times the agent changed its record since it started. Ignored
/// by browsers; it keeps every new record different from the older ones
/// (see `Advertiser`).
pub const REVISION: &str = "rev";
