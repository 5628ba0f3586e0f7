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
