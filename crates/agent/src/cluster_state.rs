//! What the initiator learnt while forming the cluster, kept durably in
//! `STATE_DIR/cluster.json` beside the trust store (which holds the
//! members' certificates): the cluster's members with their LXD addresses
//! and agent fingerprints, and whether formation finished. Written
//! atomically (temporary file, fsync, rename, fsync of the directory).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Kind};

pub(crate) const FILE: &str = "cluster.json";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ClusterState {
    /// The member that formed the cluster.
    pub initiator: String,
    pub members: Vec<ClusterMember>,
    /// Every step of `muster init` is done.
    pub formed: bool,
    /// Seconds since the epoch of the last change.
    pub updated_unix: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ClusterMember {
    pub name: String,
    /// Its LXD cluster address, `IP:8443`.
    pub lxd_address: String,
    /// Its agent's certificate fingerprint (SHA-256, hex).
    pub fingerprint: String,
    /// Its LXD is in the cluster.
    pub joined: bool,
}

/// The preseed the cluster was formed with, without its session (see
/// `muster_preseed::merge`): what `muster add` adds members to.
const PRESEED: &str = "preseed.yaml";

pub(crate) fn save_preseed(state_dir: &Path, text: &str) -> std::io::Result<()> {
    muster_durable_file::write(&state_dir.join(PRESEED), text.as_bytes(), 0o600)
}

/// `None` when this server has formed no cluster (or one before muster
/// kept its preseed).
pub(crate) fn load_preseed(state_dir: &Path) -> std::io::Result<Option<String>> {
    match std::fs::read_to_string(state_dir.join(PRESEED)) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// `muster remove`: the removed member leaves the kept preseed, so that a
/// server of that name can be added again.
pub(crate) fn forget_in_preseed(state_dir: &Path, name: &str) -> Result<(), Error> {
    let internal =
        |e: String| Error::new(Kind::Internal, format!("the kept preseed {PRESEED}: {e}"));
    let Some(kept) = load_preseed(state_dir).map_err(|e| internal(e.to_string()))? else {
        return Ok(());
    };
    let left =
        muster_preseed::merge::remove_member(&kept, name).map_err(|e| internal(e.to_string()))?;
    save_preseed(state_dir, &left).map_err(|e| internal(e.to_string()))
}

pub(crate) fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(FILE)
}

pub(crate) fn save(state_dir: &Path, state: &ClusterState) -> std::io::Result<()> {
    let mut state = state.clone();
    state.updated_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let text = serde_json::to_vec_pretty(&state).map_err(std::io::Error::other)?;
    muster_durable_file::write(&path(state_dir), &text, 0o600)
}

#[cfg(test)]
pub(crate) fn load(state_dir: &Path) -> std::io::Result<Option<ClusterState>> {
    match std::fs::read(path(state_dir)) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(std::io::Error::other),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_round_trips_through_its_file() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap(), None);
        let state = ClusterState {
            initiator: "s1".into(),
            members: vec![ClusterMember {
                name: "s1".into(),
                lxd_address: "10.0.0.1:8443".into(),
                fingerprint: "ab".repeat(32),
                joined: true,
            }],
            formed: true,
            updated_unix: 0,
        };
        save(dir.path(), &state).unwrap();
        let back = load(dir.path()).unwrap().unwrap();
        assert_eq!(back.members, state.members);
        assert!(back.formed);
        assert!(back.updated_unix > 0);
    }

    #[test]
    fn a_removed_member_leaves_the_kept_preseed() {
        let dir = tempfile::tempdir().unwrap();
        // No cluster formed here: nothing to forget.
        forget_in_preseed(dir.path(), "s2").unwrap();
        assert_eq!(load_preseed(dir.path()).unwrap(), None);
        save_preseed(dir.path(), "members:\n- name: s1\n- name: s2\n").unwrap();
        forget_in_preseed(dir.path(), "s2").unwrap();
        let kept = load_preseed(dir.path()).unwrap().unwrap();
        assert!(kept.contains("s1") && !kept.contains("s2"), "{kept}");
    }
}
