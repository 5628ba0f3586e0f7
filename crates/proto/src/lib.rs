//! Wire types shared by the agent (`musterd`) and the CLI (`muster`).
//!
//! Everything that crosses a socket or appears in an mDNS record is defined
//! here, so the two programs cannot drift apart.

use serde::{Deserialize, Serialize};

/// Bumped whenever a message changes incompatibly. Peers advertising another
/// version are listed as incompatible rather than talked to.
pub const PROTOCOL_VERSION: u32 = protocol_version!();

/// The protocol version as a literal, so that `concat!` can use it.
macro_rules! protocol_version {
    () => {
        1
    };
}
use protocol_version;

/// What `--version` prints after the program's name: "0.1.0 (protocol 1)".
pub const VERSION_LINE: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (protocol ",
    protocol_version!(),
    ")"
);

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

pub mod formation;
pub mod maintenance;
pub mod removal;
pub mod trust;

/// Paths of the agent's HTTP API (served on the unix socket and over HTTPS).
pub mod paths {
    pub const INFO: &str = "/v1/info";
    pub const DISKS: &str = "/v1/disks";
    /// Network interfaces (`Vec<trust::NetInterface>`).
    pub const INTERFACES: &str = "/v1/interfaces";

    // Unix socket only: the local operator's requests.
    /// POST opens a trust session, GET shows it, DELETE closes it.
    pub const SESSION: &str = "/v1/session";
    /// GET: servers advertising an open trust session (`?wait_secs=N`).
    pub const INITIATORS: &str = "/v1/initiators";
    /// POST (`trust::LookUp`): ask the agent at an address who it is, as
    /// mDNS would have told (its `/v1/info`, unauthenticated).
    pub const LOOK_UP: &str = "/v1/look-up";
    /// POST: join an initiator's trust session.
    pub const JOIN: &str = "/v1/join";
    /// GET: the trusted members.
    pub const MEMBERS: &str = "/v1/members";
    /// DELETE `/v1/members/NAME`: stop trusting NAME.
    pub fn trusted_member(name: &str) -> String {
        format!("{MEMBERS}/{name}")
    }

    // HTTPS without a client certificate: the PAKE (`muster-trust`'s
    // messages as bodies). Everything else over HTTPS needs a pinned one.
    pub const PAIR_SESSION: &str = "/v1/pair/session";
    pub const PAIR_HELLO: &str = "/v1/pair/hello";
    pub const PAIR_FINISH: &str = "/v1/pair/finish";

    /// `/v1/members/NAME/disks` and the like: the local agent makes the
    /// call to member NAME over pinned mutual TLS and relays the answer.
    pub fn member(name: &str, what: &str) -> String {
        format!("{MEMBERS}/{name}/{}", what.trim_start_matches("/v1/"))
    }
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

/// Stands for a secret (a passphrase, a key, a token) in `Debug` output,
/// which ends up in logs and panic messages: whether there is one, never
/// what it is.
pub(crate) struct Redacted;

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// [`Redacted`] for a secret that may be absent.
pub(crate) fn redacted<T>(secret: &Option<T>) -> Option<Redacted> {
    secret.as_ref().map(|_| Redacted)
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

    #[test]
    fn secrets_stay_out_of_debug_output() {
        const SECRET: &str = "violet harbour lantern";
        let shown = [
            format!(
                "{:?}",
                trust::OpenSession {
                    passphrase: Some(SECRET.into()),
                    ..Default::default()
                }
            ),
            format!(
                "{:?}",
                trust::JoinRequest {
                    initiator: vec!["10.0.0.1".into()],
                    passphrase: SECRET.into(),
                }
            ),
            format!(
                "{:?}",
                trust::SessionOpened {
                    initiator: trust::PeerSummary {
                        name: "s1".into(),
                        fingerprint: "ab".into(),
                        short_fingerprint: "ab".into(),
                    },
                    passphrase: SECRET.into(),
                    expires_in_secs: 600,
                    max_failures: 20,
                }
            ),
            format!(
                "{:?}",
                formation::LxdJoinRequest {
                    token: SECRET.into(),
                    cluster_certificate: "PEM".into(),
                    cluster_address: "10.0.0.1:8443".into(),
                    server_address: "10.0.0.2:8443".into(),
                    member_config: Vec::new(),
                }
            ),
            format!(
                "{:?}",
                formation::InitRequest {
                    preseed: format!("session:\n  passphrase: {SECRET}\n"),
                    passphrase: Some(SECRET.into()),
                    dry_run: true,
                }
            ),
        ];
        for text in shown {
            assert!(!text.contains(SECRET), "{text}");
            assert!(text.contains("<redacted>"), "{text}");
        }
    }
}
