//! Wire types of trust (sessions, joining, members) and of the inventory
//! that members read from each other (network interfaces).
//!
//! Fingerprints travel as `muster_trust::Fingerprint`'s text form (64
//! lowercase hex digits); the agent checks them on the way in.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{redacted, Redacted};

/// Header a joiner sets on its `Finish`: the port of its own HTTPS API, so
/// that the initiator can call it back (the TCP source port is ephemeral).
pub const LISTEN_PORT_HEADER: &str = "muster-port";

/// Default lifetime of a trust session.
pub const DEFAULT_SESSION_SECS: u64 = 10 * 60;
/// Bounds on a trust session's lifetime, for the agent and for the
/// preseed's validation alike.
pub const MIN_SESSION_SECS: u64 = 1;
pub const MAX_SESSION_SECS: u64 = 24 * 60 * 60;

/// `POST /v1/session` on the unix socket. Every field is optional.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenSession {
    /// A passphrase chosen by the operator; `None` generates one.
    #[serde(default)]
    pub passphrase: Option<String>,
    /// How long the session accepts joiners [default: 600].
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    /// Wrong passphrases, from all addresses, after which the session ends
    /// [default: 20].
    #[serde(default)]
    pub max_failures: Option<u32>,
    /// Trusted names a joiner with another certificate may take over in
    /// this session (a reinstalled server); otherwise such a joiner is
    /// refused.
    #[serde(default)]
    pub replace: Vec<String>,
}

impl fmt::Debug for OpenSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Destructured: a new field must be placed here, redacted or not.
        let OpenSession {
            passphrase,
            timeout_secs,
            max_failures,
            replace,
        } = self;
        f.debug_struct("OpenSession")
            .field("passphrase", &redacted(passphrase))
            .field("timeout_secs", timeout_secs)
            .field("max_failures", max_failures)
            .field("replace", replace)
            .finish()
    }
}

/// A server as the trust session knows it: name and certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerSummary {
    pub name: String,
    pub fingerprint: String,
    /// The first 16 hex digits in groups of four, for eyes.
    pub short_fingerprint: String,
}

/// The answer to opening a session: what the operator shows joiners.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionOpened {
    pub initiator: PeerSummary,
    pub passphrase: String,
    pub expires_in_secs: u64,
    pub max_failures: u32,
}

impl fmt::Debug for SessionOpened {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let SessionOpened {
            initiator,
            passphrase: _,
            expires_in_secs,
            max_failures,
        } = self;
        f.debug_struct("SessionOpened")
            .field("initiator", initiator)
            .field("passphrase", &Redacted)
            .field("expires_in_secs", expires_in_secs)
            .field("max_failures", max_failures)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionPhase {
    /// No session was opened since the agent started.
    None,
    Open,
    Expired,
    /// Ended by the bound on wrong passphrases (or on handshakes).
    Ended,
    /// Closed by the operator.
    Closed,
}

impl SessionPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionPhase::None => "none",
            SessionPhase::Open => "open",
            SessionPhase::Expired => "expired",
            SessionPhase::Ended => "ended",
            SessionPhase::Closed => "closed",
        }
    }
}

/// One wrong passphrase seen by the initiator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedAttempt {
    /// The address the attempt came from.
    pub address: String,
    /// The name the joiner claimed (unauthenticated).
    pub claimed_name: Option<String>,
    pub secs_ago: u64,
}

/// `GET /v1/session`: the current session, or the last one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionStatus {
    pub phase: SessionPhase,
    pub initiator: PeerSummary,
    /// Zero unless open.
    pub expires_in_secs: u64,
    /// Joiners accepted in this session, in order.
    pub joined: Vec<PeerSummary>,
    /// Wrong passphrases counted against the session.
    pub failed_attempts: u32,
    pub max_failures: u32,
    pub failures: Vec<FailedAttempt>,
    /// Names a joiner with a new certificate may take over in this session.
    #[serde(default)]
    pub replace: Vec<String>,
}

/// A server with an open session, as seen over mDNS (unauthenticated).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Initiator {
    pub name: String,
    /// `ADDRESS:PORT` forms, best first.
    pub endpoints: Vec<String>,
}

/// `POST /v1/look-up` on the unix socket; the answer is the
/// [`AgentInfo`](crate::AgentInfo) that address serves, unauthenticated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookUp {
    /// Where the other agent's HTTPS API listens.
    pub address: std::net::SocketAddr,
}

/// `POST /v1/join` on the unix socket.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    /// Where the initiator's agent listens: `ADDRESS[:PORT]`, tried in
    /// order until one answers.
    pub initiator: Vec<String>,
    pub passphrase: String,
}

impl fmt::Debug for JoinRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let JoinRequest {
            initiator,
            passphrase: _,
        } = self;
        f.debug_struct("JoinRequest")
            .field("initiator", initiator)
            .field("passphrase", &Redacted)
            .finish()
    }
}

/// The answer to a successful join.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Joined {
    /// The initiator, authenticated by the handshake.
    pub initiator: PeerSummary,
    /// Where it was reached.
    pub endpoint: String,
    /// This server, as the initiator now knows it.
    pub me: PeerSummary,
}

/// A trusted member, as the trust store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub name: String,
    pub fingerprint: String,
    /// `ADDRESS:PORT` of its HTTPS API, most recently working first.
    pub addresses: Vec<String>,
    /// When it was trusted, seconds since the Unix epoch.
    pub added_unix: u64,
    /// This server joined its session: it may make this server change
    /// things. Otherwise it joined this server's, and may only read.
    #[serde(default)]
    pub controller: bool,
}

/// One network interface of a server (`GET /v1/interfaces`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetInterface {
    pub name: String,
    /// `ADDRESS/PREFIX` forms, IPv4 first.
    pub addresses: Vec<String>,
    /// Lowercase colon-separated hex; `None` for interfaces without one
    /// (loopback has all zeros, which is reported as is).
    pub mac: Option<String>,
    pub mtu: Option<u32>,
    /// Administratively up (IFF_UP).
    pub up: bool,
}
