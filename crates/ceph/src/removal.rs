//! Taking a member out of the cluster: what the member does itself
//! ([`CephMember::leave`]) and what any member with the admin key does from
//! the cluster's side, also for a dead member (the `remove_*` and `purge_*`
//! methods, each safe to run again).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::net::IpAddr;
use std::path::Path;

use serde::Deserialize;

use crate::error::{CephError, IoContext};
use crate::member::CephMember;
use crate::supervisor::Daemon;

/// What the monitors know of the cluster's members, for planning a
/// removal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Membership {
    pub mons: BTreeSet<String>,
    /// Each monitor's address on the public network, by name.
    pub mon_addrs: BTreeMap<String, IpAddr>,
    pub quorum: BTreeSet<String>,
    /// Managers with a key (`mgr.NAME` in `ceph auth ls`).
    pub mgrs: BTreeSet<String>,
    /// Each OSD: (id, host, in, kb, kb_used).
    pub osds: Vec<OsdUsage>,
    pub crush_hosts: BTreeSet<String>,
    /// Replicated pools: name and copies.
    pub pools: BTreeMap<String, u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OsdUsage {
    pub id: u32,
    pub host: String,
    pub is_in: bool,
    pub kb: u64,
    pub kb_used: u64,
}

#[derive(Deserialize)]
struct OsdDf {
    nodes: Vec<OsdDfNode>,
}

#[derive(Deserialize)]
struct OsdDfNode {
    id: u32,
    #[serde(default)]
    kb: u64,
    #[serde(default)]
    kb_used: u64,
    #[serde(default)]
    reweight: f64,
}

#[derive(Deserialize)]
struct AuthList {
    auth_dump: Vec<AuthEntry>,
}

#[derive(Deserialize)]
struct AuthEntry {
    entity: String,
}

#[derive(Deserialize)]
struct PgStat {
    #[serde(default)]
    num_pgs: u64,
    #[serde(default)]
    num_pg_by_state: Vec<PgState>,
}

#[derive(Deserialize)]
struct PgState {
    name: String,
    num: u64,
}

/// Placement groups in all and those `active+clean`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgProgress {
    pub total: u64,
    pub clean: u64,
}

fn parse_osd_df(json: &[u8]) -> Result<OsdDf, serde_json::Error> {
    serde_json::from_slice(json)
}

fn parse_auth(json: &[u8]) -> Result<AuthList, serde_json::Error> {
    serde_json::from_slice(json)
}

fn parse_pg_stat(json: &[u8]) -> Result<PgStat, serde_json::Error> {
    serde_json::from_slice(json)
}

impl CephMember {
    /// The cluster's members as its monitors know them.
    pub fn membership(&self) -> Result<Membership, CephError> {
        let quorum = self.quorum_status()?;
        let tree = self.osd_tree()?;
        let df = self.ceph_json(&["osd", "df"], parse_osd_df)?;
        let auth = self.ceph_json(&["auth", "ls"], parse_auth)?;
        let host_of: BTreeMap<u32, String> = tree
            .hosts()
            .into_iter()
            .flat_map(|(host, ids)| ids.into_iter().map(move |id| (id, host.clone())))
            .collect();
        Ok(Membership {
            mons: quorum.monmap.mons.iter().map(|m| m.name.clone()).collect(),
            mon_addrs: quorum
                .monmap
                .mons
                .iter()
                .filter_map(|m| Some((m.name.clone(), m.ip()?)))
                .collect(),
            quorum: quorum.quorum_names.into_iter().collect(),
            mgrs: auth
                .auth_dump
                .iter()
                .filter_map(|a| a.entity.strip_prefix("mgr."))
                .map(str::to_owned)
                .collect(),
            osds: df
                .nodes
                .iter()
                .map(|n| OsdUsage {
                    id: n.id,
                    host: host_of.get(&n.id).cloned().unwrap_or_default(),
                    is_in: n.reweight > 0.0,
                    kb: n.kb,
                    kb_used: n.kb_used,
                })
                .collect(),
            crush_hosts: tree.hosts().into_iter().map(|(h, _)| h).collect(),
            pools: self
                .pools()?
                .into_iter()
                .map(|p| (p.pool_name, p.size))
                .collect(),
        })
    }

    /// `ceph osd out`.
    pub fn osds_out(&self, ids: &[u32]) -> Result<(), CephError> {
        let ids: Vec<String> = ids.iter().map(u32::to_string).collect();
        let mut args = vec!["osd", "out"];
        args.extend(ids.iter().map(String::as_str));
        self.ceph(&args).map(drop)
    }

    /// Whether Ceph says the OSDs' data has its copies elsewhere
    /// (`ceph osd safe-to-destroy`), and how far the placement groups are.
    pub fn safe_to_destroy(&self, ids: &[u32]) -> Result<(bool, PgProgress), CephError> {
        let ids: Vec<String> = ids.iter().map(u32::to_string).collect();
        let mut args = vec!["osd", "safe-to-destroy"];
        args.extend(ids.iter().map(String::as_str));
        // It answers non-zero while it is not safe: that is not a failure.
        let safe = self.ceph(&args).is_ok();
        let stat = self.ceph_json(&["pg", "stat"], parse_pg_stat)?;
        let clean = stat
            .num_pg_by_state
            .iter()
            .filter(|s| s.name == "active+clean")
            .map(|s| s.num)
            .sum();
        Ok((
            safe,
            PgProgress {
                total: stat.num_pgs,
                clean,
            },
        ))
    }

    /// `ceph osd purge` each OSD, then the CRUSH host bucket `host` (empty
    /// by then) when given.
    pub fn purge_osds(&self, ids: &[u32], host: Option<&str>) -> Result<(), CephError> {
        for id in ids {
            self.ceph(&["osd", "purge", &id.to_string(), "--yes-i-really-mean-it"])?;
        }
        if let Some(host) = host {
            self.ceph(&["osd", "crush", "rm", host])?;
        }
        Ok(())
    }

    /// `ceph mon remove NAME`, unless the monitor map no longer has it.
    pub fn remove_mon(&self, name: &str) -> Result<(), CephError> {
        let quorum = self.quorum_status()?;
        if !quorum.monmap.mons.iter().any(|m| m.name == name) {
            return Ok(());
        }
        self.ceph(&["mon", "remove", name]).map(drop)
    }

    /// Fails the manager over if it is active, then deletes its key.
    pub fn remove_mgr(&self, name: &str) -> Result<(), CephError> {
        // Not active or not known: nothing to fail over.
        let _ = self.ceph(&["mgr", "fail", name]);
        let auth = self.ceph_json(&["auth", "ls"], parse_auth)?;
        let entity = format!("mgr.{name}");
        if auth.auth_dump.iter().any(|a| a.entity == entity) {
            self.ceph(&["auth", "del", &entity])?;
        }
        Ok(())
    }

    /// This member leaves: every Ceph daemon it runs is stopped for good,
    /// its data and its Ceph config and keys are removed, and the devices
    /// of its OSDs are wiped (muster made them OSDs; left labelled, they
    /// would read as OSDs of this cluster). Run after its OSDs were
    /// drained; safe to run again.
    pub fn leave(&self) -> Result<(), CephError> {
        let p = &self.spec.paths;
        let name = self.spec.name.clone();
        for (id, found) in self.local_osds()? {
            self.supervisor().retire(&Daemon::osd(id))?;
            let data = p.osd_data(id);
            if let Some(device) = found.device().filter(|d| own_device(&data, d)) {
                crate::device::wipe(&device)?;
            }
            remove_dir(&data)?;
            let _ = fs::remove_file(self.device_record(id));
        }
        for (daemon, dir) in [
            (Daemon::mds(&name), p.mds_data(&name)),
            (Daemon::mgr(&name), p.mgr_data(&name)),
            (Daemon::mon(&name), p.mon_data(&name)),
        ] {
            if dir.exists() {
                self.supervisor().retire(&daemon)?;
                remove_dir(&dir)?;
            }
        }
        for file in [&p.admin_keyring, &p.conf] {
            match fs::remove_file(file) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e).io("removing", file.as_path())
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Whether `device` is a block device carrying the BlueStore label of the
/// OSD whose data directory is `data`: root wipes nothing the `ceph` user
/// could not already write (the OSD's own device).
fn own_device(data: &Path, device: &Path) -> bool {
    let labelled = || {
        let uuid = fs::read_to_string(data.join("fsid")).ok()?;
        let head = crate::device::read_head(device).ok()?;
        Some(labelled_for(&head, &uuid))
    };
    crate::device::require_block_device(device).is_ok() && labelled() == Some(true)
}

/// Whether `head` starts with the BlueStore label of the OSD `uuid`. Pure.
fn labelled_for(head: &[u8], uuid: &str) -> bool {
    crate::device::bluestore_label_uuid(head)
        .is_some_and(|label| label.eq_ignore_ascii_case(uuid.trim()))
}

fn remove_dir(dir: &Path) -> Result<(), CephError> {
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e).io("removing", dir),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_device_with_the_osds_own_label_is_wiped() {
        let label = fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/pacific-16.2.15-bluestore-label.bin"
        ))
        .unwrap();
        let uuid = crate::device::bluestore_label_uuid(&label).unwrap();
        assert!(labelled_for(&label, &format!("{uuid}\n")));
        assert!(labelled_for(&label, &uuid.to_uppercase()));
        assert!(!labelled_for(
            &label,
            "00000000-0000-0000-0000-000000000000"
        ));
        assert!(!labelled_for(b"\x7fELF", &uuid));
        assert!(!labelled_for(&[], &uuid));
    }

    #[test]
    fn what_is_not_a_block_device_is_not_wiped() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, b"precious").unwrap();
        assert!(!own_device(dir.path(), &victim));
        assert!(!own_device(dir.path(), Path::new("/dev/null")));
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
    }

    #[test]
    fn pacifics_answers_parse() {
        let df = br#"{"nodes":[{"id":2,"device_class":"hdd","name":"osd.2","type":"osd","type_id":0,"crush_weight":0.0039,"depth":2,"pool_weights":{},"reweight":0,"kb":4190208,"kb_used":28180,"kb_used_data":292,"status":"up"}],"stray":[],"summary":{}}"#;
        let df = parse_osd_df(df).unwrap();
        assert_eq!(df.nodes[0].id, 2);
        assert_eq!(df.nodes[0].reweight, 0.0);
        assert_eq!(df.nodes[0].kb, 4190208);
        let pg = br#"{"pg_ready":true,"num_pg_by_state":[{"name":"active+clean","num":30},{"name":"active+undersized+degraded","num":3}],"num_pgs":33,"num_bytes":1,"total_bytes":2,"total_avail_bytes":1,"total_used_bytes":1,"total_used_raw_bytes":1}"#;
        let pg = parse_pg_stat(pg).unwrap();
        assert_eq!(pg.num_pgs, 33);
        assert_eq!(pg.num_pg_by_state[0].num, 30);
        let auth = br#"{"auth_dump":[{"entity":"mgr.s1","key":"x","caps":{}},{"entity":"osd.0","key":"y","caps":{}}]}"#;
        assert_eq!(parse_auth(auth).unwrap().auth_dump.len(), 2);
    }
}
