//! What every part of a running agent reaches: its identity, trust store,
//! session, view of the LAN and advertisement, and the local services it
//! drives.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use muster_discovery::Advertiser;
use muster_identity::Identity;
use muster_proto::AgentInfo;
use muster_trust::PeerIdentity;

use crate::config::DisksConfig;
use crate::guess_budget::GuessBudget;
use crate::seen::Seen;
use crate::session::Sessions;
use crate::trust_store::{Member, TrustStore, TrustStoreError};

pub(crate) type State = Arc<Shared>;

pub(crate) struct Shared {
    pub info: AgentInfo,
    pub identity: Identity,
    /// This server as the handshake names it.
    pub me: PeerIdentity,
    /// The port of our HTTPS API, which joiners tell initiators.
    pub https_port: u16,
    pub disks: DisksConfig,
    /// Its pin set is the one the TLS verifiers read.
    pub trust: Mutex<TrustStore>,
    pub sessions: Sessions,
    pub seen: Seen,
    /// Set once advertising has started; taken at shutdown.
    pub advertiser: Mutex<Option<Advertiser>>,
    /// One handshake at a time as a joiner (`muster join` and zero-touch).
    pub joining: tokio::sync::Mutex<()>,
    /// The confirmations this server may still send to initiators, when it
    /// holds an enrollment passphrase: they bound `muster join` too.
    pub guesses: Option<Mutex<GuessBudget>>,
    /// Where the identity, trust store and cluster state live.
    pub state_dir: std::path::PathBuf,
    /// This server's LXD.
    pub lxd: crate::lxd::LxdLocal,
    /// One `muster init` or `muster remove` at a time: both change the
    /// cluster from what they observed.
    pub init_running: tokio::sync::Mutex<()>,
    /// This server's part in Ceph.
    pub ceph: crate::ceph::CephLocal,
}

impl Shared {
    pub fn trust(&self) -> MutexGuard<'_, TrustStore> {
        // The store is only changed after its file is written: a panic in
        // between leaves it consistent with the disk.
        self.trust.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores and pins a member the handshake just proved, logging any
    /// member it replaces (a renamed server, or with `replace_name` a
    /// reinstalled one).
    pub fn trust_member(&self, member: Member, replace_name: bool) -> Result<(), TrustStoreError> {
        let (name, fingerprint) = (member.name.clone(), member.fingerprint.short());
        let address = member.addresses.first().copied();
        for old in self.trust().add(member, replace_name)? {
            tracing::warn!(
                name = %old.name,
                fingerprint = %old.fingerprint.short(),
                replaced_by = %name,
                "a trusted member was replaced by a server that proved the passphrase"
            );
        }
        tracing::info!(%name, %fingerprint, address = ?address, "now trusted");
        Ok(())
    }

    /// Announces over mDNS whether a session is open now. Idempotent: call
    /// it after anything that may have opened or ended one.
    pub fn sync_advertisement(&self) {
        let open = self.sessions.is_open(Instant::now());
        let advertiser = self.advertiser.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(advertiser) = advertiser.as_ref() {
            if let Err(e) = advertiser.set_session_open(open) {
                tracing::warn!(error = %e, open, "cannot update the mDNS advertisement");
            }
        }
    }
}
