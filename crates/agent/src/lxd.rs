//! This server's LXD: reaching it, observing it (for the initiator's
//! plan), joining it to a cluster on the initiator's word and
//! `muster status`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use std::path::{Path, PathBuf};

use muster_lxd::{JoinInputs, JoinToken, LxdClient, LxdError, MemberConfigKey};
use muster_plan::{InstanceObserved, LxdObserved, NetworkObserved, PoolObserved, Status};
use muster_proto::formation::{
    ClusterStatus, LxdJoinRequest, LxdJoinResponse, MemberStatus, ObjectStatus,
};

use crate::error::{Error, ErrorChain, Kind};

/// A join or a pool creation takes seconds; LXD's database may be slow
/// while members come and go.
const LXD_TIMEOUT: Duration = Duration::from_secs(120);
/// A join takes a second or two; on a loaded machine LXD 5.0 was seen to
/// take about 90 s now and then (direct LXD calls too, without muster);
/// one still running after this is stuck.
const JOIN_WAIT: Duration = Duration::from_secs(150);

/// What this agent needs to drive its server's LXD.
pub(crate) struct LxdLocal {
    name: String,
    /// LXD's unix socket from the config; `None`: look in the usual places.
    socket: Option<PathBuf>,
    /// One LXD join at a time on this member.
    joining: tokio::sync::Mutex<()>,
}

impl LxdLocal {
    pub(crate) fn new(name: &str, socket: Option<PathBuf>) -> LxdLocal {
        LxdLocal {
            name: name.to_owned(),
            socket,
            joining: tokio::sync::Mutex::new(()),
        }
    }

    /// A client of this server's LXD: the configured socket, else the
    /// first of the deb's and the snap's that answers.
    pub(crate) async fn client(&self) -> Result<LxdClient, Error> {
        let client = match &self.socket {
            Some(socket) => LxdClient::new(socket.clone()),
            None => LxdClient::discover().await,
        };
        client
            .map(|c| {
                c.with_request_timeout(LXD_TIMEOUT)
                    .with_operation_timeout(LXD_TIMEOUT)
            })
            .map_err(|e| {
                Error::new(
                    Kind::Unavailable,
                    format!(
                        "{}: cannot reach LXD: {} (is LXD installed and running? `[lxd] socket` \
                         in musterd.toml names its socket)",
                        self.name,
                        ErrorChain(&e)
                    ),
                )
            })
    }
}

/// An LXD error as the operator reads it, naming the server.
pub(crate) fn lxd_error(server: &str, e: &LxdError) -> Error {
    Error::new(Kind::Upstream, format!("{server}: {}", ErrorChain(e)))
}

/// Reads everything the plan needs from one LXD.
/// Present when the kernel has device-mapper.
const DEVICE_MAPPER_CONTROL: &str = "/dev/mapper/control";

/// This server's clock, for the initiator's pre-flight of clocks.
pub(crate) fn now_unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

pub(crate) async fn observe(client: &LxdClient) -> Result<LxdObserved, LxdError> {
    // All at once: one after another, these reads were most of the time an
    // observation takes, and every step waits for one. The member list is
    // asked for before it is known whether there is a cluster; its answer
    // counts only in one.
    let (server, pools, networks, profile, members) = tokio::join!(
        client.server(),
        client.storage_pools(),
        client.networks(),
        client.profile("default"),
        client.cluster_members(),
    );
    let server = server?;
    let env = &server.environment;
    let me = env.server_name.clone();
    let clustered = env.server_clustered;
    let mut observed = LxdObserved {
        server_name: me.clone(),
        clustered,
        https_address: server
            .config_str("core.https_address")
            .filter(|a| !a.is_empty())
            .map(str::to_owned),
        cluster_fingerprint: clustered.then(|| env.certificate_fingerprint.clone()),
        storage_drivers: env
            .storage_supported_drivers
            .iter()
            .map(|d| d.name.clone())
            .collect(),
        daemon: server.daemon().as_str().to_owned(),
        server_version: env.server_version.clone(),
        api_extensions: server.api_extensions.len(),
        // LXD's lvm driver needs the kernel's device-mapper (thin pools);
        // its tools being installed says nothing about the kernel.
        device_mapper: Some(Path::new(DEVICE_MAPPER_CONTROL).exists()),
        clock_unix_ms: Some(now_unix_ms()),
        programs: Some(crate::programs::installed()),
        ..LxdObserved::default()
    };
    if clustered {
        observed.cluster_members = members?.into_iter().map(|m| m.server_name).collect();
    }
    // In a cluster, a pool or network is listed cluster-wide; it is this
    // member's only where its locations name it (a pending definition
    // lists the members it was defined on).
    let mine = |locations: &[String]| !clustered || locations.is_empty() || locations.contains(&me);
    for pool in pools? {
        if mine(&pool.locations) {
            observed.pools.insert(
                pool.name,
                PoolObserved {
                    driver: pool.driver,
                    status: Status::from_lxd(&pool.status),
                },
            );
        }
    }
    for net in networks? {
        if net.managed && mine(&net.locations) {
            observed.networks.insert(
                net.name,
                NetworkObserved {
                    kind: net.kind,
                    status: Status::from_lxd(&net.status),
                },
            );
        }
    }
    observed.default_profile = profile?.devices;
    Ok(observed)
}

/// This server's LXD, read now.
pub(crate) async fn observe_local(lxd: &LxdLocal) -> Result<LxdObserved, Error> {
    let client = lxd.client().await?;
    observe(&client).await.map_err(|e| lxd_error(&lxd.name, &e))
}

/// Joins this server's LXD to the cluster that issued the token (the
/// initiator asks). Idempotent: already a member of that cluster under the
/// token's name, it does nothing; a member of any other cluster, it
/// refuses.
pub(crate) async fn join(lxd: &LxdLocal, req: LxdJoinRequest) -> Result<LxdJoinResponse, Error> {
    let me = lxd.name.clone();
    let bad = |m: String| Error::new(Kind::Invalid, format!("{me}: {m}"));
    let token = JoinToken::decode(&req.token).map_err(|e| bad(format!("bad join token: {e}")))?;
    let client = lxd.client().await?;
    let _one = lxd.joining.lock().await;
    let server = client.server().await.map_err(|e| lxd_error(&me, &e))?;
    let env = &server.environment;
    if env.server_clustered {
        let ours = env
            .certificate_fingerprint
            .eq_ignore_ascii_case(&token.fingerprint);
        if ours && env.server_name == token.server_name {
            tracing::info!(cluster = %token.fingerprint, "already a member of this LXD cluster");
            return Ok(LxdJoinResponse {
                joined: false,
                server_name: env.server_name.clone(),
            });
        }
        return Err(Error::new(
            Kind::Conflict,
            format!(
                "{me}: its LXD is already a member ({:?}) of {} cluster; muster does not move a \
                 server between clusters: remove it from that cluster first, or leave it out",
                env.server_name,
                if ours { "this" } else { "another" },
            ),
        ));
    }
    let member_config = req
        .member_config
        .iter()
        .map(|c| MemberConfigKey {
            entity: c.entity.clone(),
            name: c.name.clone(),
            key: c.key.clone(),
            value: c.value.clone(),
            description: String::new(),
        })
        .collect();
    tracing::info!(cluster = %req.cluster_address, name = %token.server_name, "joining the LXD cluster");
    let joined = client
        .with_operation_timeout(JOIN_WAIT)
        .join_cluster(JoinInputs {
            token: &token,
            cluster_certificate: &req.cluster_certificate,
            server_address: &req.server_address,
            member_config,
            cluster_address: Some(&req.cluster_address),
        })
        .await;
    match joined {
        Ok(()) => {}
        Err(e @ LxdError::OperationTimeout { .. }) => {
            tracing::error!(error = %ErrorChain(&e), "the LXD join hangs");
            return Err(Error::new(
                Kind::Timeout,
                format!(
                    "{me}: its LXD did not finish joining the cluster within {}s ({}): look at \
                     LXD's log on {me}, restart LXD there (systemctl restart lxd, or snap \
                     restart lxd), check `lxc cluster list` on the initiator, then run muster \
                     init again",
                    JOIN_WAIT.as_secs(),
                    ErrorChain(&e)
                ),
            ));
        }
        Err(e) => return Err(lxd_error(&me, &e)),
    }
    tracing::info!(name = %token.server_name, "joined the LXD cluster");
    Ok(LxdJoinResponse {
        joined: true,
        server_name: token.server_name,
    })
}

/// The cluster as this server's LXD sees it, for `muster status` (without
/// Ceph, which is not LXD's to tell).
pub(crate) async fn status(lxd: &LxdLocal) -> Result<ClusterStatus, Error> {
    let me = &lxd.name;
    let client = lxd.client().await?;
    let err = |e: LxdError| lxd_error(me, &e);
    let server = client.server().await.map_err(err)?;
    let clustered = server.environment.server_clustered;
    let members = if clustered {
        client
            .cluster_members()
            .await
            .map_err(err)?
            .into_iter()
            .map(|m| MemberStatus {
                name: m.server_name,
                url: m.url,
                status: m.status,
                message: m.message,
                roles: m.roles,
            })
            .collect()
    } else {
        Vec::new()
    };
    let storage_pools = client
        .storage_pools()
        .await
        .map_err(err)?
        .into_iter()
        .map(|p| ObjectStatus {
            name: p.name,
            kind: p.driver,
            status: p.status,
            locations: p.locations,
        })
        .collect();
    let networks = client
        .networks()
        .await
        .map_err(err)?
        .into_iter()
        .filter(|n| n.managed)
        .map(|n| ObjectStatus {
            name: n.name,
            kind: n.kind,
            status: n.status,
            locations: n.locations,
        })
        .collect();
    let daemon = format!("{} {}", server.daemon(), server.environment.server_version);
    Ok(ClusterStatus {
        server: me.clone(),
        daemon,
        clustered,
        members,
        storage_pools,
        networks,
        ceph: None,
    })
}

/// What this server's LXD says about a member to remove or maintain:
/// every member's status, the member's instances and the pools every
/// member reaches.
pub(crate) async fn member_view(
    lxd: &LxdLocal,
    target: &str,
) -> Result<
    (
        BTreeMap<String, String>,
        Vec<InstanceObserved>,
        BTreeSet<String>,
    ),
    Error,
> {
    let me = &lxd.name;
    let client = lxd.client().await?;
    let err = |e: LxdError| lxd_error(me, &e);
    if !client
        .server()
        .await
        .map_err(err)?
        .environment
        .server_clustered
    {
        return Ok(Default::default());
    }
    let members = client
        .cluster_members()
        .await
        .map_err(err)?
        .into_iter()
        .map(|m| (m.server_name, m.status))
        .collect();
    let instances = client
        .instances()
        .await
        .map_err(err)?
        .into_iter()
        .filter(|i| i.location == target)
        .map(|i| InstanceObserved {
            root_pool: i.root_pool().map(str::to_owned),
            project: i.project,
            name: i.name,
        })
        .collect();
    let remote = client
        .storage_pools()
        .await
        .map_err(err)?
        .into_iter()
        .filter(|p| REMOTE_DRIVERS.contains(&p.driver.as_str()))
        .map(|p| p.name)
        .collect();
    Ok((members, instances, remote))
}

/// Pool drivers whose volumes every member reaches, so an instance on
/// them can move to another member.
const REMOTE_DRIVERS: [&str; 3] = ["ceph", "cephfs", "cephobject"];

/// Moves `name`'s instances to other members, or stops those that
/// cannot move (LXD's evacuation).
pub(crate) async fn evacuate(lxd: &LxdLocal, name: &str) -> Result<(), Error> {
    let client = lxd.client().await?;
    client
        .evacuate_member(name)
        .await
        .map_err(|e| lxd_error(&lxd.name, &e))
}

/// Undoes [`evacuate`].
pub(crate) async fn restore(lxd: &LxdLocal, name: &str) -> Result<(), Error> {
    let client = lxd.client().await?;
    client
        .restore_member(name)
        .await
        .map_err(|e| lxd_error(&lxd.name, &e))
}

/// Takes `name` out of the LXD cluster; `force` for a member that cannot
/// take part (dead).
pub(crate) async fn remove_member(lxd: &LxdLocal, name: &str, force: bool) -> Result<(), Error> {
    let client = lxd.client().await?;
    client
        .remove_member(name, force)
        .await
        .map_err(|e| lxd_error(&lxd.name, &e))
}

/// The member config a joiner gives: the keys the cluster asks for, with
/// the values the plan chose (pool sources); others stay empty, which LXD
/// takes as its default.
pub(crate) fn fill_member_config(
    keys: Vec<MemberConfigKey>,
    pool_sources: &BTreeMap<String, String>,
) -> Vec<muster_proto::formation::MemberConfigEntry> {
    keys.into_iter()
        .map(|k| {
            let value = if k.entity == "storage-pool" && k.key == "source" {
                pool_sources.get(&k.name).cloned().unwrap_or_default()
            } else {
                k.value
            };
            muster_proto::formation::MemberConfigEntry {
                entity: k.entity,
                name: k.name,
                key: k.key,
                value,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_config_gets_the_chosen_pool_sources() {
        let keys = vec![
            MemberConfigKey {
                entity: "storage-pool".into(),
                name: "local".into(),
                key: "source".into(),
                ..MemberConfigKey::default()
            },
            MemberConfigKey {
                entity: "storage-pool".into(),
                name: "local".into(),
                key: "size".into(),
                ..MemberConfigKey::default()
            },
        ];
        let sources = BTreeMap::from([("local".to_owned(), "/dev/sdb".to_owned())]);
        let filled = fill_member_config(keys, &sources);
        assert_eq!(filled[0].value, "/dev/sdb");
        assert_eq!(filled[1].value, "");
    }
}
