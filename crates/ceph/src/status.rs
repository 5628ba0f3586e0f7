//! What the cluster says about itself, from `ceph ... --format json`,
//! parsed into the parts muster reads. Unknown fields are ignored: Ceph
//! adds fields between releases.

use std::collections::BTreeMap;

use serde::Deserialize;

/// `ceph status --format json`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Status {
    pub fsid: String,
    pub health: Health,
    #[serde(default)]
    pub quorum_names: Vec<String>,
    pub osdmap: OsdMapSummary,
    pub mgrmap: MgrMapSummary,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Health {
    /// "HEALTH_OK", "HEALTH_WARN" or "HEALTH_ERR".
    pub status: String,
    #[serde(default)]
    pub checks: BTreeMap<String, HealthCheck>,
}

impl Health {
    pub fn is_ok(&self) -> bool {
        self.status == "HEALTH_OK"
    }

    /// "NAME: message" for each check, to show why the cluster is not OK.
    pub fn summary(&self) -> String {
        if self.checks.is_empty() {
            return self.status.clone();
        }
        let checks: Vec<String> = self
            .checks
            .iter()
            .map(|(name, c)| format!("{name}: {}", c.summary.message))
            .collect();
        format!("{} ({})", self.status, checks.join("; "))
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct HealthCheck {
    pub severity: String,
    pub summary: HealthSummary,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct HealthSummary {
    pub message: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct OsdMapSummary {
    pub num_osds: u32,
    pub num_up_osds: u32,
    pub num_in_osds: u32,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct MgrMapSummary {
    pub available: bool,
    #[serde(default)]
    pub num_standbys: u32,
}

/// `ceph quorum_status --format json`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct QuorumStatus {
    pub quorum_names: Vec<String>,
    #[serde(default)]
    pub quorum_leader_name: String,
    pub monmap: MonMap,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct MonMap {
    pub fsid: String,
    pub mons: Vec<MonInfo>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct MonInfo {
    pub rank: u32,
    pub name: String,
    pub public_addrs: AddrVec,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct AddrVec {
    pub addrvec: Vec<EntityAddr>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct EntityAddr {
    /// "v2" or "v1".
    #[serde(rename = "type")]
    pub kind: String,
    /// "IP:PORT".
    pub addr: String,
}

impl MonInfo {
    /// Its address on the public network: the IP its v2 and v1 addresses
    /// share (`None` when the map gives none that parses).
    pub fn ip(&self) -> Option<std::net::IpAddr> {
        self.public_addrs
            .addrvec
            .iter()
            .find_map(|a| a.addr.parse::<std::net::SocketAddr>().ok())
            .map(|a| a.ip())
    }
}

impl QuorumStatus {
    /// The monitors in the map (in quorum or not).
    pub fn mon_names(&self) -> Vec<&str> {
        self.monmap.mons.iter().map(|m| m.name.as_str()).collect()
    }

    pub fn in_quorum(&self, name: &str) -> bool {
        self.quorum_names.iter().any(|n| n == name)
    }
}

/// `ceph osd dump --format json` (the parts about OSDs).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct OsdDump {
    pub fsid: String,
    pub osds: Vec<OsdEntry>,
    /// Flags set on CRUSH nodes (`ceph osd set-group`), by node name:
    /// `{"s3": ["noout"]}` while s3 is in maintenance.
    #[serde(default)]
    pub crush_node_flags: std::collections::BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct OsdEntry {
    pub osd: u32,
    pub uuid: String,
    /// 1 when up.
    pub up: u8,
    /// 1 when in.
    #[serde(rename = "in")]
    pub is_in: u8,
}

impl OsdDump {
    /// The OSD created with this uuid (the one in its BlueStore label).
    pub fn by_uuid(&self, uuid: &str) -> Option<&OsdEntry> {
        self.osds.iter().find(|o| o.uuid.eq_ignore_ascii_case(uuid))
    }

    pub fn up_count(&self) -> usize {
        self.osds.iter().filter(|o| o.up == 1).count()
    }

    /// Those of `ids` that are not up: down, or not in the map at all.
    pub fn not_up(&self, ids: &[u32]) -> Vec<u32> {
        ids.iter()
            .copied()
            .filter(|id| !self.osds.iter().any(|o| o.osd == *id && o.up == 1))
            .collect()
    }
}

/// `ceph osd tree --format json`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct OsdTree {
    pub nodes: Vec<TreeNode>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct TreeNode {
    pub id: i32,
    pub name: String,
    /// "root", "host", "osd"...
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub children: Vec<i32>,
    /// For OSDs: "up" or "down".
    #[serde(default)]
    pub status: Option<String>,
}

impl OsdTree {
    /// Each host bucket with the OSD ids under it, sorted by host name.
    pub fn hosts(&self) -> Vec<(String, Vec<u32>)> {
        let mut hosts: Vec<(String, Vec<u32>)> = self
            .nodes
            .iter()
            .filter(|n| n.kind == "host")
            .map(|h| {
                let mut osds: Vec<u32> = h
                    .children
                    .iter()
                    .filter_map(|c| u32::try_from(*c).ok())
                    .collect();
                osds.sort_unstable();
                (h.name.clone(), osds)
            })
            .collect();
        hosts.sort();
        hosts
    }
}

/// One entry of `ceph osd pool ls detail --format json`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct PoolDetail {
    pub pool_id: u32,
    pub pool_name: String,
    pub size: u32,
    pub min_size: u32,
    pub pg_num: u32,
    #[serde(default)]
    pub application_metadata: BTreeMap<String, serde_json::Value>,
}

impl PoolDetail {
    pub fn has_application(&self, app: &str) -> bool {
        self.application_metadata.contains_key(app)
    }
}

/// One entry of `ceph fs ls --format json`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct FsEntry {
    pub name: String,
    pub metadata_pool: String,
    #[serde(default)]
    pub data_pools: Vec<String>,
}

/// `ceph fs dump --format json`: the MDS map.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct FsMap {
    pub standbys: Vec<MdsInfo>,
    pub filesystems: Vec<Filesystem>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Filesystem {
    pub id: u32,
    pub mdsmap: MdsMap,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct MdsMap {
    pub fs_name: String,
    /// The MDSs holding a rank of this file system, by "gid_N".
    #[serde(default)]
    pub info: BTreeMap<String, MdsInfo>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct MdsInfo {
    /// The MDS's id: its member's name.
    pub name: String,
    /// -1 for a standby.
    pub rank: i32,
    /// "up:active", "up:standby", "up:replay"...
    pub state: String,
}

impl FsMap {
    /// The MDSs serving file system `fs` as "up:active", sorted.
    pub fn active_mds(&self, fs: &str) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .filesystems
            .iter()
            .filter(|f| f.mdsmap.fs_name == fs)
            .flat_map(|f| f.mdsmap.info.values())
            .filter(|i| i.state == "up:active")
            .map(|i| i.name.as_str())
            .collect();
        names.sort_unstable();
        names
    }

    /// The MDSs standing by for any file system, sorted.
    pub fn standby_mds(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.standbys.iter().map(|i| i.name.as_str()).collect();
        names.sort_unstable();
        names
    }
}

pub fn parse_status(json: &[u8]) -> Result<Status, serde_json::Error> {
    serde_json::from_slice(json)
}

pub fn parse_quorum_status(json: &[u8]) -> Result<QuorumStatus, serde_json::Error> {
    serde_json::from_slice(json)
}

pub fn parse_osd_dump(json: &[u8]) -> Result<OsdDump, serde_json::Error> {
    serde_json::from_slice(json)
}

pub fn parse_osd_tree(json: &[u8]) -> Result<OsdTree, serde_json::Error> {
    serde_json::from_slice(json)
}

pub fn parse_pools(json: &[u8]) -> Result<Vec<PoolDetail>, serde_json::Error> {
    serde_json::from_slice(json)
}

pub fn parse_fs_ls(json: &[u8]) -> Result<Vec<FsEntry>, serde_json::Error> {
    serde_json::from_slice(json)
}

pub fn parse_fs_dump(json: &[u8]) -> Result<FsMap, serde_json::Error> {
    serde_json::from_slice(json)
}

/// The id `ceph osd new` printed: a bare number, or `{"osdid": N}` with
/// `--format json`.
pub fn parse_osd_new(out: &[u8]) -> Option<u32> {
    #[derive(Deserialize)]
    struct New {
        osdid: u32,
    }
    let text = std::str::from_utf8(out).ok()?.trim();
    text.parse()
        .ok()
        .or_else(|| serde_json::from_str::<New>(text).ok().map(|n| n.osdid))
}

/// The replica count for a pool on `osds` OSDs (each on its own host), and
/// the fewest replicas that still take writes: Ceph's own default
/// `size - size/2`, so 3 → 2 and 2 → 1.
pub fn pool_sizes(osds: usize) -> (u32, u32) {
    let size = osds.clamp(1, 3) as u32;
    (size, size - size / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn sizes_follow_the_osd_count() {
        assert_eq!(pool_sizes(0), (1, 1));
        assert_eq!(pool_sizes(1), (1, 1));
        assert_eq!(pool_sizes(2), (2, 1));
        assert_eq!(pool_sizes(3), (3, 2));
        assert_eq!(pool_sizes(9), (3, 2));
    }

    #[test]
    fn osd_new_answers_either_way() {
        assert_eq!(parse_osd_new(b"2\n"), Some(2));
        assert_eq!(parse_osd_new(br#"{"osdid":5}"#), Some(5));
        assert_eq!(parse_osd_new(b"nope"), None);
    }

    #[test]
    fn healthy_status_from_a_real_cluster() {
        let s = parse_status(&fixture("pacific-16.2.15-status-health-ok.json")).unwrap();
        assert!(s.health.is_ok(), "{}", s.health.summary());
        assert_eq!(s.quorum_names, ["s1", "s2", "s3"]);
        assert_eq!(
            (
                s.osdmap.num_osds,
                s.osdmap.num_up_osds,
                s.osdmap.num_in_osds
            ),
            (3, 3, 3)
        );
        assert!(s.mgrmap.available);
        assert_eq!(s.mgrmap.num_standbys, 2);
    }

    #[test]
    fn warnings_are_summarised_with_their_checks() {
        let s = parse_status(&fixture("pacific-16.2.15-status-one-member-down.json")).unwrap();
        assert!(!s.health.is_ok());
        let summary = s.health.summary();
        assert!(summary.starts_with("HEALTH_WARN ("), "{summary}");
        assert!(summary.contains("MON_DOWN: "), "{summary}");
        assert_eq!(s.quorum_names, ["s1", "s2"]);
    }

    #[test]
    fn quorum_status_lists_mons_and_their_addresses() {
        let q = parse_quorum_status(&fixture("pacific-16.2.15-quorum-status.json")).unwrap();
        assert_eq!(q.mon_names().len(), 3);
        assert!(q.in_quorum("s1") && q.in_quorum("s3"));
        assert!(!q.in_quorum("s4"));
        let s1 = q.monmap.mons.iter().find(|m| m.name == "s1").unwrap();
        let kinds: Vec<&str> = s1
            .public_addrs
            .addrvec
            .iter()
            .map(|a| a.kind.as_str())
            .collect();
        assert_eq!(kinds, ["v2", "v1"]);
        assert!(s1.public_addrs.addrvec[0].addr.ends_with(":3300"));
        assert_eq!(s1.ip(), Some("10.231.25.11".parse().unwrap()));
        let v6 = MonInfo {
            rank: 0,
            name: "s6".into(),
            public_addrs: AddrVec {
                addrvec: vec![EntityAddr {
                    kind: "v2".into(),
                    addr: "[fd00::6]:3300".into(),
                }],
            },
        };
        assert_eq!(v6.ip(), Some("fd00::6".parse().unwrap()));
    }

    #[test]
    fn osd_dump_finds_osds_by_label_uuid() {
        let d = parse_osd_dump(&fixture("pacific-16.2.15-osd-dump.json")).unwrap();
        assert_eq!(d.osds.len(), 3);
        assert_eq!(d.up_count(), 3);
        let ids: Vec<u32> = d.osds.iter().map(|o| o.osd).collect();
        assert!(d.not_up(&ids).is_empty());
        let mut one_down = d.clone();
        one_down.osds[1].up = 0;
        assert_eq!(one_down.not_up(&[ids[1], 99, ids[0]]), [ids[1], 99]);
        let first = d.osds[0].clone();
        assert_eq!(
            d.by_uuid(&first.uuid.to_uppercase()).map(|o| o.osd),
            Some(first.osd)
        );
        assert!(d.by_uuid("00000000-0000-0000-0000-000000000000").is_none());
    }

    #[test]
    fn osd_tree_has_one_host_bucket_per_member() {
        let t = parse_osd_tree(&fixture("pacific-16.2.15-osd-tree.json")).unwrap();
        let hosts = t.hosts();
        let names: Vec<&str> = hosts.iter().map(|(h, _)| h.as_str()).collect();
        assert_eq!(names, ["s1", "s2", "s3"]);
        assert!(hosts.iter().all(|(_, osds)| osds.len() == 1));
    }

    #[test]
    fn pools_show_size_and_application() {
        let pools = parse_pools(&fixture("pacific-16.2.15-pool-ls-detail.json")).unwrap();
        let rbd = pools.iter().find(|p| p.pool_name == "rbd").unwrap();
        assert_eq!((rbd.size, rbd.min_size, rbd.pg_num), (3, 2, 32));
        assert!(rbd.has_application("rbd"));
        assert!(!rbd.has_application("cephfs"));
    }

    #[test]
    fn file_systems_and_their_mds() {
        let fs = parse_fs_ls(&fixture("pacific-16.2.15-fs-ls.json")).unwrap();
        assert_eq!(
            fs,
            [FsEntry {
                name: "cephfs".into(),
                metadata_pool: "cephfs_meta".into(),
                data_pools: vec!["cephfs_data".into()],
            }]
        );
        assert_eq!(parse_fs_ls(b"[]").unwrap(), []);

        let map = parse_fs_dump(&fixture("pacific-16.2.15-fs-dump.json")).unwrap();
        assert_eq!(map.active_mds("cephfs"), ["s2"]);
        assert_eq!(map.active_mds("other"), Vec::<&str>::new());
        assert_eq!(map.standby_mds(), ["s1", "s3"]);
        let rank0 = map.filesystems[0].mdsmap.info.values().next().unwrap();
        assert_eq!((rank0.rank, map.filesystems[0].id), (0, 1));
    }

    #[test]
    fn hostile_json_is_an_error_not_a_panic() {
        for bad in [&b""[..], b"{", b"[]", b"{\"fsid\":1}", b"\xff"] {
            assert!(parse_status(bad).is_err());
            assert!(parse_osd_dump(bad).is_err());
        }
        assert!(parse_pools(b"{}").is_err());
        assert!(parse_fs_ls(b"{}").is_err());
        assert!(parse_fs_dump(b"[]").is_err());
        assert!(parse_fs_dump(b"{}").is_err());
    }
}
