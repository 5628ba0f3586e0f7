//! Wire types shared by the agent (`musterd`) and the CLI (`muster`).
//!
//! Everything that crosses a socket or appears in an mDNS record is defined
//! here, so the two programs cannot drift apart.

use serde::{Deserialize, Serialize};

/// Bumped whenever a message changes incompatibly. Peers advertising another
/// version are listed as incompatible rather than talked to.
pub const PROTOCOL_VERSION: u32 = 1;

/// The version of the muster programs (the workspace version).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// DNS-SD service type the agents advertise.
pub const SERVICE_TYPE: &str = "_muster._tcp.local.";

/// Default HTTPS port of the agent's member API.
pub const DEFAULT_PORT: u16 = 9443;

/// Default locations in production.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/muster/musterd.toml";
pub const DEFAULT_STATE_DIR: &str = "/var/lib/muster";
pub const DEFAULT_SOCKET_PATH: &str = "/run/muster/musterd.sock";

/// Paths of the agent's HTTP API (served on the unix socket and over HTTPS).
pub mod paths {
    pub const INFO: &str = "/v1/info";
    pub const DISKS: &str = "/v1/disks";
}

/// Whether an agent already belongs to a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClusterState {
    Unclustered,
    Clustered,
}

impl ClusterState {
    pub fn as_str(self) -> &'static str {
        match self {
            ClusterState::Unclustered => "unclustered",
            ClusterState::Clustered => "clustered",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "unclustered" => Some(ClusterState::Unclustered),
            "clustered" => Some(ClusterState::Clustered),
            _ => None,
        }
    }
}

impl std::fmt::Display for ClusterState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an agent says about itself at `GET /v1/info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentInfo {
    pub name: String,
    pub version: String,
    pub protocol: u32,
    pub state: ClusterState,
    /// SHA-256 of the agent's certificate (DER), lowercase hex.
    pub fingerprint: String,
}

/// Body of every error response from the agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_state_round_trips_through_its_text_form() {
        for s in [ClusterState::Unclustered, ClusterState::Clustered] {
            assert_eq!(ClusterState::parse(s.as_str()), Some(s));
        }
        assert_eq!(ClusterState::parse("Clustered"), None);
    }
}
