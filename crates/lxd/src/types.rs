//! The parts of LXD's API objects that cluster formation reads and writes.
//! Unknown fields are ignored and missing or null ones default, so the same
//! types read LXD 5.0 and newer servers.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use crate::token::JoinToken;

/// LXD writes `null` for some empty lists and maps (`used_by`, `metadata`).
fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

pub type Config = BTreeMap<String, String>;
pub type Devices = BTreeMap<String, BTreeMap<String, String>>;

/// `GET /1.0`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Server {
    #[serde(deserialize_with = "null_default")]
    pub api_extensions: Vec<String>,
    pub api_status: String,
    pub api_version: String,
    /// "trusted" over the unix socket.
    pub auth: String,
    /// Server configuration; values are strings on every LXD seen so far, but
    /// the API types them as "any".
    #[serde(deserialize_with = "null_default")]
    pub config: BTreeMap<String, serde_json::Value>,
    pub environment: ServerEnvironment,
}

/// Which daemon answers: LXD, or its fork Incus (same `/1.0` API shape).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Daemon {
    Lxd,
    Incus,
}

impl Daemon {
    /// As the daemon names itself, and as muster shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            Daemon::Lxd => "lxd",
            Daemon::Incus => "incus",
        }
    }
}

impl std::fmt::Display for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Daemon::Lxd => "LXD",
            Daemon::Incus => "Incus",
        })
    }
}

impl Server {
    pub fn has_extension(&self, name: &str) -> bool {
        self.api_extensions.iter().any(|e| e == name)
    }

    /// `environment.server`: "incus" for Incus; LXD says "lxd".
    pub fn daemon(&self) -> Daemon {
        if self.environment.server.eq_ignore_ascii_case("incus") {
            Daemon::Incus
        } else {
            Daemon::Lxd
        }
    }

    /// A configuration value, when it is a string.
    pub fn config_str(&self, key: &str) -> Option<&str> {
        self.config.get(key).and_then(|v| v.as_str())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ServerEnvironment {
    /// Addresses the HTTPS API listens on (empty until core.https_address is set).
    #[serde(deserialize_with = "null_default")]
    pub addresses: Vec<String>,
    /// PEM of the certificate LXD presents: once clustered, the cluster
    /// certificate, which is what a joiner must be given.
    pub certificate: String,
    pub certificate_fingerprint: String,
    pub server: String,
    pub server_name: String,
    pub server_clustered: bool,
    pub server_version: String,
    pub server_pid: i64,
    pub storage: String,
    pub firewall: String,
    /// The storage drivers this server can use (their tools are installed).
    #[serde(deserialize_with = "null_default")]
    pub storage_supported_drivers: Vec<StorageDriverInfo>,
}

/// One entry of `environment.storage_supported_drivers` (LXD capitalises
/// these keys).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct StorageDriverInfo {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Version")]
    pub version: String,
    #[serde(rename = "Remote")]
    pub remote: bool,
}

/// A member configuration key a joiner must provide (`GET /1.0/cluster` on
/// a member lists them with empty values), e.g. a storage pool's `source`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MemberConfigKey {
    /// "storage-pool" or "network".
    pub entity: String,
    pub name: String,
    pub key: String,
    pub value: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// `GET /1.0/cluster`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Cluster {
    pub server_name: String,
    pub enabled: bool,
    #[serde(deserialize_with = "null_default")]
    pub member_config: Vec<MemberConfigKey>,
}

/// `PUT /1.0/cluster`: bootstrap (name and enabled only) or join. Build a
/// join with [`crate::join_request`], which picks the token field by API
/// extension.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ClusterPut {
    pub server_name: String,
    pub enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_certificate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_address: Option<String>,
    /// LXD before `explicit_trust_token`: the whole join token goes here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_password: Option<String>,
    /// LXD with `explicit_trust_token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_token: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub member_config: Vec<MemberConfigKey>,
}

impl ClusterPut {
    /// Turns a standalone server into the first member of a new cluster.
    pub fn bootstrap(server_name: &str) -> ClusterPut {
        ClusterPut {
            server_name: server_name.to_owned(),
            enabled: true,
            ..ClusterPut::default()
        }
    }
}

/// `GET /1.0/cluster/members?recursion=1`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ClusterMember {
    pub server_name: String,
    pub url: String,
    pub database: bool,
    /// "Online", "Offline", "Evacuated", "Blocked"...
    pub status: String,
    pub message: String,
    #[serde(deserialize_with = "null_default")]
    pub roles: Vec<String>,
    pub architecture: String,
    pub failure_domain: String,
    pub description: String,
    #[serde(deserialize_with = "null_default")]
    pub config: Config,
    #[serde(deserialize_with = "null_default")]
    pub groups: Vec<String>,
}

impl ClusterMember {
    pub fn is_online(&self) -> bool {
        self.status == "Online"
    }
}

/// LXD's default voters (3) and stand-bys (2): up to this many members,
/// every one gets a database role.
const MAX_DATABASE_MEMBERS: usize = 5;

/// What keeps a cluster from being at rest, one entry per member: every
/// member (but `except`) should be online and, in a cluster small enough for
/// every member to get one, hold its database role. LXD 5.0 hands out
/// database roles just after a join, and a join started meanwhile was seen
/// to hang. Empty when the cluster is at rest.
pub fn cluster_unsettled(members: &[ClusterMember], except: Option<&str>) -> Vec<String> {
    let counted: Vec<&ClusterMember> = members
        .iter()
        .filter(|m| Some(m.server_name.as_str()) != except)
        .collect();
    let roles_for_all = counted.len() <= MAX_DATABASE_MEMBERS;
    counted
        .iter()
        .filter_map(|m| {
            if !m.is_online() {
                Some(format!("{} is {}", m.server_name, m.status))
            } else if roles_for_all && !m.roles.iter().any(|r| r.starts_with("database")) {
                Some(format!("{} has no database role yet", m.server_name))
            } else {
                None
            }
        })
        .collect()
}

/// Where an operation is. LXD's status codes: 1xx running, 200 success,
/// 400 failure, 401 cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationStatus {
    Running,
    Success,
    Failure,
    Cancelled,
}

/// `GET /1.0/operations/ID`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Operation {
    pub id: String,
    /// "task", "token" or "websocket".
    pub class: String,
    pub description: String,
    pub created_at: String,
    pub updated_at: String,
    pub status: String,
    pub status_code: u16,
    #[serde(deserialize_with = "null_default")]
    pub resources: BTreeMap<String, serde_json::Value>,
    pub metadata: serde_json::Value,
    pub may_cancel: bool,
    /// LXD's error message when the operation failed.
    pub err: String,
    /// The member running the operation.
    pub location: String,
}

impl Operation {
    pub fn state(&self) -> OperationStatus {
        match self.status_code {
            200 => OperationStatus::Success,
            401 => OperationStatus::Cancelled,
            // Any other final code (4xx, 5xx) is a failure.
            c if c >= 200 => OperationStatus::Failure,
            // Seen before the operation reports a code: go by the name.
            _ if self.status == "Success" => OperationStatus::Success,
            _ if self.status == "Failure" => OperationStatus::Failure,
            _ if self.status == "Cancelled" => OperationStatus::Cancelled,
            _ => OperationStatus::Running,
        }
    }
}

/// The answer to `POST /1.0/cluster/members`: the token and the operation
/// that holds it (cancel it to revoke the token).
#[derive(Debug, Clone, PartialEq)]
pub struct JoinTokenOperation {
    pub operation: Operation,
    pub token: JoinToken,
}

/// `GET /1.0/storage-pools?recursion=1`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct StoragePool {
    pub name: String,
    pub driver: String,
    pub description: String,
    #[serde(deserialize_with = "null_default")]
    pub config: Config,
    /// "Pending" (defined on some members, not created), "Created", "Errored".
    pub status: String,
    #[serde(deserialize_with = "null_default")]
    pub locations: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub used_by: Vec<String>,
}

/// `POST /1.0/storage-pools`. In a cluster: once per member with
/// `?target=MEMBER` and that member's config (e.g. `source`), then once
/// without a target and with the cluster-wide config, which creates it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StoragePoolsPost {
    pub name: String,
    pub driver: String,
    pub config: Config,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// `GET /1.0/networks?recursion=1` (which also lists unmanaged interfaces).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Network {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub managed: bool,
    pub description: String,
    #[serde(deserialize_with = "null_default")]
    pub config: Config,
    /// "Pending", "Created", "Errored" for managed networks.
    pub status: String,
    #[serde(deserialize_with = "null_default")]
    pub locations: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub used_by: Vec<String>,
}

/// `POST /1.0/networks`, with the same per-member-then-create pattern as
/// storage pools.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NetworksPost {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub config: Config,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// `GET /1.0/profiles/NAME`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Profile {
    pub name: String,
    pub description: String,
    #[serde(deserialize_with = "null_default")]
    pub config: Config,
    #[serde(deserialize_with = "null_default")]
    pub devices: Devices,
    #[serde(deserialize_with = "null_default")]
    pub used_by: Vec<String>,
}

impl Profile {
    /// The writable part, to modify and `PUT` back.
    pub fn to_put(&self) -> ProfilePut {
        ProfilePut {
            description: self.description.clone(),
            config: self.config.clone(),
            devices: self.devices.clone(),
        }
    }
}

/// `PUT /1.0/profiles/NAME` (replaces config and devices entirely).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProfilePut {
    pub description: String,
    pub config: Config,
    pub devices: Devices,
}

impl ProfilePut {
    /// Sets the `root` disk device: instances' root file system on `pool`.
    pub fn set_root_disk(&mut self, pool: &str) {
        self.devices.insert(
            "root".into(),
            BTreeMap::from([
                ("type".into(), "disk".into()),
                ("path".into(), "/".into()),
                ("pool".into(), pool.into()),
            ]),
        );
    }

    /// Sets the `eth0` NIC device on managed network `network`.
    pub fn set_eth0(&mut self, network: &str) {
        self.devices.insert(
            "eth0".into(),
            BTreeMap::from([
                ("type".into(), "nic".into()),
                ("name".into(), "eth0".into()),
                ("network".into(), network.into()),
            ]),
        );
    }
}

/// One instance of `GET /1.0/instances?recursion=1`, what removing a
/// member needs of it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Instance {
    pub name: String,
    pub project: String,
    /// The member it is on.
    pub location: String,
    pub status: String,
    #[serde(deserialize_with = "null_default")]
    pub expanded_devices: Devices,
}

impl Instance {
    /// The storage pool of its root disk, when it has one.
    pub fn root_pool(&self) -> Option<&str> {
        self.expanded_devices
            .values()
            .find(|d| {
                d.get("type").is_some_and(|t| t == "disk")
                    && d.get("path").is_some_and(|p| p == "/")
            })
            .and_then(|d| d.get("pool"))
            .map(String::as_str)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceSource {
    /// "none": an empty instance, no image needed.
    #[serde(rename = "type")]
    pub kind: String,
}

/// `POST /1.0/instances`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstancesPost {
    pub name: String,
    /// "container" or "virtual-machine".
    #[serde(rename = "type")]
    pub kind: String,
    pub source: InstanceSource,
    /// None: LXD applies the default profile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profiles: Option<Vec<String>>,
    pub config: Config,
    pub devices: Devices,
}

impl InstancesPost {
    /// A container record with no root file system content and not started:
    /// needs no image, so nothing is fetched from anywhere.
    pub fn empty_container(name: &str) -> InstancesPost {
        InstancesPost {
            name: name.to_owned(),
            kind: "container".to_owned(),
            source: InstanceSource {
                kind: "none".to_owned(),
            },
            profiles: None,
            config: Config::new(),
            devices: Devices::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::metadata;

    #[test]
    fn a_cluster_settles_when_every_member_is_online_with_a_database_role() {
        let member = |name: &str, status: &str, roles: &[&str]| ClusterMember {
            server_name: name.into(),
            status: status.into(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            ..ClusterMember::default()
        };
        let voter = |name: &str| member(name, "Online", &["database"]);
        let mut members = vec![voter("s1"), voter("s2"), member("s3", "Online", &[])];
        // s3 just joined: its role is still being handed out.
        assert_eq!(
            cluster_unsettled(&members, None),
            ["s3 has no database role yet"]
        );
        members[2].roles = vec!["database-standby".into()];
        assert!(cluster_unsettled(&members, None).is_empty());
        members[2].status = "Offline".into();
        assert_eq!(cluster_unsettled(&members, None), ["s3 is Offline"]);
        // A stale member about to be removed does not count.
        assert!(cluster_unsettled(&members, Some("s3")).is_empty());
        // Past five members, some never get a role.
        let many: Vec<ClusterMember> = (1..=6)
            .map(|n| {
                member(
                    &format!("s{n}"),
                    "Online",
                    if n <= 3 { &["database"] } else { &[] },
                )
            })
            .collect();
        assert!(cluster_unsettled(&many, None).is_empty());
    }

    #[test]
    fn server_standalone() {
        let s: Server =
            serde_json::from_value(metadata("lxd-5.0.2-server-standalone.json")).unwrap();
        assert!(s.has_extension("clustering_join"));
        assert!(s.has_extension("clustering_join_token"));
        assert!(!s.has_extension("explicit_trust_token"));
        assert_eq!(s.auth, "trusted");
        assert_eq!(s.environment.server_version, "5.0.2");
        assert!(!s.environment.server_clustered);
        assert!(s.environment.addresses.is_empty());
        assert!(s.config.is_empty());
        assert!(s
            .environment
            .certificate
            .starts_with("-----BEGIN CERTIFICATE-----"));
        let drivers: Vec<&str> = s
            .environment
            .storage_supported_drivers
            .iter()
            .map(|d| d.name.as_str())
            .collect();
        assert_eq!(drivers, ["dir"]);
    }

    #[test]
    fn profile_devices_for_root_and_eth0() {
        let mut p = ProfilePut::default();
        p.set_root_disk("local");
        p.set_eth0("lxdbr0");
        assert_eq!(p.devices["root"]["pool"], "local");
        assert_eq!(p.devices["root"]["path"], "/");
        assert_eq!(p.devices["eth0"]["network"], "lxdbr0");
        assert_eq!(p.devices["eth0"]["type"], "nic");
    }

    #[test]
    fn server_bootstrapped() {
        let s: Server =
            serde_json::from_value(metadata("lxd-5.0.2-server-bootstrapped.json")).unwrap();
        assert!(s.environment.server_clustered);
        assert_eq!(s.environment.server_name, "m1");
        assert_eq!(s.environment.addresses, ["10.231.251.1:8443"]);
        assert_eq!(
            s.config_str("core.https_address"),
            Some("10.231.251.1:8443")
        );
        assert_eq!(
            s.config_str("cluster.https_address"),
            Some("10.231.251.1:8443")
        );
    }

    #[test]
    fn server_newer_lxd() {
        let s: Server = serde_json::from_value(metadata("lxd-6-server-hand-written.json")).unwrap();
        assert!(s.has_extension("explicit_trust_token"));
        assert_eq!(s.environment.server_version, "6.1");
        // A config value that is not a string is kept, not an error.
        assert_eq!(s.config_str("core.https_address"), Some("10.0.0.1:8443"));
        assert_eq!(s.config_str("user.number"), None);
    }

    #[test]
    fn cluster_info() {
        let c: Cluster =
            serde_json::from_value(metadata("lxd-5.0.2-cluster-standalone.json")).unwrap();
        assert!(!c.enabled);
        assert!(c.member_config.is_empty());
        let c: Cluster =
            serde_json::from_value(metadata("lxd-5.0.2-cluster-bootstrapped.json")).unwrap();
        assert!(c.enabled);
        assert_eq!(c.server_name, "m1");
        assert_eq!(
            c.member_config,
            [MemberConfigKey {
                entity: "storage-pool".into(),
                name: "local".into(),
                key: "source".into(),
                value: String::new(),
                description: "\"source\" property for storage pool \"local\"".into(),
            }]
        );
    }

    #[test]
    fn members() {
        let m: Vec<ClusterMember> =
            serde_json::from_value(metadata("lxd-5.0.2-cluster-members-recursion1.json")).unwrap();
        let names: Vec<_> = m.iter().map(|m| m.server_name.as_str()).collect();
        assert_eq!(names, ["m1", "m2"]);
        assert!(m.iter().all(ClusterMember::is_online));
        assert_eq!(m[1].url, "https://10.231.251.2:8443");
        assert_eq!(m[0].roles, ["database-leader", "database"]);
    }

    #[test]
    fn operations() {
        let op: Operation =
            serde_json::from_value(metadata("lxd-5.0.2-cluster-bootstrap-async.json")).unwrap();
        assert_eq!(op.state(), OperationStatus::Running);
        assert_eq!(op.class, "task");
        let op: Operation =
            serde_json::from_value(metadata("lxd-5.0.2-operation-wait-success.json")).unwrap();
        assert_eq!(op.state(), OperationStatus::Success);
        let op: Operation =
            serde_json::from_value(metadata("lxd-5.0.2-operation-wait-failure.json")).unwrap();
        assert_eq!(op.state(), OperationStatus::Failure);
        assert!(op.err.contains("No matching cluster join operation found"));
        let op: Operation =
            serde_json::from_value(metadata("lxd-5.0.2-operation-wait-cancelled.json")).unwrap();
        assert_eq!(op.state(), OperationStatus::Cancelled);
        let op: Operation =
            serde_json::from_value(metadata("lxd-5.0.2-cluster-members-post-token.json")).unwrap();
        assert_eq!(op.class, "token");
        assert_eq!(op.location, "m1");
        let op: Operation =
            serde_json::from_value(metadata("lxd-5.0.2-instances-post-async.json")).unwrap();
        assert_eq!(op.resources["instances"][0], "/1.0/instances/c1");
    }

    #[test]
    fn storage_pools_pending_and_created() {
        let p: Vec<StoragePool> =
            serde_json::from_value(metadata("lxd-5.0.2-storage-pools-pending.json")).unwrap();
        assert_eq!(p[0].name, "local");
        assert_eq!(p[0].status, "Created");
        assert_eq!(p[1].status, "Pending");
        assert!(p[1].used_by.is_empty());
        let p: StoragePool =
            serde_json::from_value(metadata("lxd-5.0.2-storage-pool-errored.json")).unwrap();
        assert_eq!(p.status, "Errored");
    }

    #[test]
    fn networks() {
        let n: Vec<Network> =
            serde_json::from_value(metadata("lxd-5.0.2-networks-unmanaged.json")).unwrap();
        assert!(n.iter().all(|n| !n.managed));
        let n: Network =
            serde_json::from_value(metadata("lxd-5.0.2-network-pending.json")).unwrap();
        assert_eq!((n.kind.as_str(), n.status.as_str()), ("bridge", "Pending"));
        let n: Network =
            serde_json::from_value(metadata("lxd-5.0.2-network-created.json")).unwrap();
        assert_eq!(n.status, "Created");
        assert_eq!(n.config["ipv4.address"], "10.231.252.1/24");
    }

    #[test]
    fn profile_round_trip() {
        let p: Profile =
            serde_json::from_value(metadata("lxd-5.0.2-profile-default.json")).unwrap();
        assert_eq!(p.name, "default");
        let put = p.to_put();
        assert_eq!(
            serde_json::to_value(&put).unwrap(),
            serde_json::json!({"description": "Default LXD profile", "config": {}, "devices": {}})
        );
    }

    #[test]
    fn request_bodies() {
        assert_eq!(
            serde_json::to_value(ClusterPut::bootstrap("m1")).unwrap(),
            serde_json::json!({"server_name": "m1", "enabled": true})
        );
        assert_eq!(
            serde_json::to_value(InstancesPost::empty_container("c1")).unwrap(),
            serde_json::json!({"name": "c1", "type": "container", "source": {"type": "none"},
                               "config": {}, "devices": {}})
        );
        let net = NetworksPost {
            name: "lxdbr0".into(),
            kind: "bridge".into(),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(net).unwrap(),
            serde_json::json!({"name": "lxdbr0", "type": "bridge", "config": {}})
        );
    }
}
