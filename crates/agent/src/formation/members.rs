//! The members as the initiator reaches them, for the executor: its own
//! LXD, disks and Ceph directly, the others' through their agents over
//! pinned mutual TLS ([`crate::member`]).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use muster_apply::{Cause, Issued, ObserveError, World};
use muster_ceph::LocalState;
use muster_disks::Disk;
use muster_lxd::{JoinToken, LxdClient, NetworksPost, StoragePoolsPost};
use muster_plan::{DiskRef, LxdObserved, MemberObserved, Observed, Step, StepKind};
use muster_proto::formation::{paths as fpaths, LxdJoinRequest, LxdJoinResponse, WipeRequest};
use muster_proto::paths;

use crate::error::ErrorChain;
use crate::lxd::{fill_member_config, lxd_error, observe};
use crate::member::{post_member, request_member};
use crate::shared::Shared;

use super::OBSERVE_TIMEOUT;

/// A join, with LXD's database replicating to the new member.
const JOIN_TIMEOUT: Duration = Duration::from_secs(200);
/// How long to wait for the cluster to be at rest before a join.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(30);

/// A cluster-wide create refused because the object is created after all:
/// the create of a run that was killed had reached LXD, which finished it
/// after the run's observation (it answers "already created"). Done, then;
/// any other refusal stands.
fn created_meanwhile(
    refused: muster_lxd::LxdError,
    status_now: Option<String>,
    name: &str,
) -> Result<(), muster_lxd::LxdError> {
    if status_now.as_deref() == Some("Created") {
        tracing::info!(%name, "created by an earlier run's request that LXD finished after it ended");
        Ok(())
    } else {
        Err(refused)
    }
}

/// The members as this initiator reaches them: its own LXD, disks and Ceph
/// directly, the others' through their agents over pinned mutual TLS.
pub(super) struct Members<'a> {
    state: &'a Shared,
    names: &'a [String],
    /// Each member's clock against ours (ms, theirs minus ours), as last
    /// observed.
    skews: Mutex<BTreeMap<String, i64>>,
}

/// Below this, a member's clock reads as behind ours only by the answer's
/// travel, which the skew's reading cannot tell apart.
const CLOCK_NOISE_MS: u64 = 100;
/// Added to a lag waited for: the reading's own error.
const CLOCK_MARGIN_MS: u64 = 250;

/// How long a member whose clock lags ours waits before it joins. The
/// cluster's certificate is made by the bootstrap, on our clock, and a
/// member that finds it "not yet valid" refuses to join; the pre-flight
/// only bounds the lag (5 s). Its lag counted from now is enough, the
/// bootstrap having come before.
fn wait_for_clock(clock_skew_ms: Option<i64>) -> Duration {
    match clock_skew_ms {
        Some(skew) if skew < 0 && skew.unsigned_abs() > CLOCK_NOISE_MS => {
            Duration::from_millis(skew.unsigned_abs() + CLOCK_MARGIN_MS)
        }
        _ => Duration::ZERO,
    }
}

impl<'a> Members<'a> {
    pub(super) fn new(state: &'a Shared, names: &'a [String]) -> Members<'a> {
        Members {
            state,
            names,
            skews: Mutex::default(),
        }
    }

    /// One member's LXD, disks and part in Ceph, read now.
    async fn observe_member(&self, name: &str) -> Result<(MemberObserved, LocalState), Cause> {
        let state = self.state;
        if name != state.me.name {
            let (lxd, disks, ceph) = tokio::try_join!(
                request_member::<LxdObserved>(state, name, fpaths::LXD, None, OBSERVE_TIMEOUT),
                request_member::<Vec<Disk>>(state, name, paths::DISKS, None, OBSERVE_TIMEOUT),
                request_member::<LocalState>(state, name, fpaths::CEPH, None, OBSERVE_TIMEOUT),
            )?;
            // Its clock as read against ours when the answer arrived: off by
            // less than the answer's travel, far below what is refused.
            let clock_skew_ms = lxd
                .clock_unix_ms
                .map(|theirs| theirs as i64 - crate::lxd::now_unix_ms() as i64);
            let member = MemberObserved {
                lxd,
                disks,
                clock_skew_ms,
            };
            return Ok((member, ceph));
        }
        let client = state.lxd.client().await?;
        let (lxd, disks, ceph) = tokio::try_join!(
            async { observe(&client).await.map_err(|e| lxd_error(name, &e)) },
            crate::disks::scan(name, &state.disks),
            crate::ceph::local_state(&state.ceph),
        )?;
        let member = MemberObserved {
            lxd,
            disks,
            clock_skew_ms: Some(0),
        };
        Ok((member, ceph))
    }
}

impl World for Members<'_> {
    type Token = JoinToken;

    async fn observe(&self) -> Result<Observed, ObserveError> {
        // Every member at once: observing before each step is most of what
        // a formation spends between steps. The first member in order that
        // cannot be read is the one reported.
        let reads = self.names.iter().map(|name| self.observe_member(name));
        let reads = futures_util::future::join_all(reads).await;
        let mut observed = Observed::default();
        let mut ceph_states = Vec::new();
        for (name, read) in self.names.iter().zip(reads) {
            let (member, ceph) = read.map_err(|cause| ObserveError {
                member: name.clone(),
                cause,
            })?;
            observed.members.insert(name.clone(), member);
            ceph_states.push((name.clone(), ceph));
        }
        crate::ceph::observe(&self.state.ceph, &ceph_states, &mut observed).await;
        let mut skews = self.skews.lock().unwrap_or_else(|e| e.into_inner());
        for (name, member) in &observed.members {
            if let Some(skew) = member.clock_skew_ms {
                skews.insert(name.clone(), skew);
            }
        }
        Ok(observed)
    }

    async fn lxd(&self, step: &Step) -> Result<(), Cause> {
        let state = self.state;
        let lxd = state.lxd.client().await?;
        match &step.kind {
            StepKind::SetHttpsAddress { address } => lxd.set_https_address(address).await?,
            StepKind::BootstrapCluster => lxd.bootstrap_cluster(&state.me.name).await?,
            StepKind::DeletePendingPool { pool, .. } => {
                if let Err(e) = lxd.delete_storage_pool(pool).await {
                    // A killed run's delete may have gone through.
                    if lxd.storage_pool(pool, None).await?.is_some() {
                        return Err(e.into());
                    }
                }
            }
            StepKind::CreatePoolPending {
                pool,
                driver,
                source,
            } => {
                let mut config = BTreeMap::new();
                if let Some(source) = source {
                    config.insert("source".to_owned(), source.clone());
                }
                let post = StoragePoolsPost {
                    name: pool.clone(),
                    driver: driver.as_str().to_owned(),
                    config,
                    description: String::new(),
                };
                lxd.create_storage_pool(&post, Some(&step.member)).await?
            }
            StepKind::CreatePool {
                pool,
                driver,
                config,
            } => {
                let post = StoragePoolsPost {
                    name: pool.clone(),
                    driver: driver.as_str().to_owned(),
                    config: config.clone(),
                    description: String::new(),
                };
                if let Err(e) = lxd.create_storage_pool(&post, None).await {
                    let now = lxd.storage_pool(pool, None).await?.map(|p| p.status);
                    created_meanwhile(e, now, pool)?;
                }
            }
            StepKind::CreateNetworkPending { network } => {
                let post = NetworksPost {
                    name: network.clone(),
                    kind: "bridge".into(),
                    ..NetworksPost::default()
                };
                lxd.create_network(&post, Some(&step.member)).await?
            }
            StepKind::CreateNetwork { network, config } => {
                let post = NetworksPost {
                    name: network.clone(),
                    kind: "bridge".into(),
                    config: config.clone(),
                    description: String::new(),
                };
                if let Err(e) = lxd.create_network(&post, None).await {
                    let now = lxd.network(network, None).await?.map(|n| n.status);
                    created_meanwhile(e, now, network)?;
                }
            }
            StepKind::UpdateDefaultProfile { root_pool, network } => {
                let mut profile = lxd.profile("default").await?.to_put();
                profile.set_root_disk(root_pool);
                profile.set_eth0(network);
                lxd.update_profile("default", &profile).await?
            }
            StepKind::RemoveStaleMember { joiner } => {
                // It cannot come online: it is there to be removed.
                settle(&lxd, Some(joiner)).await;
                lxd.force_remove_member(joiner).await?
            }
            other => {
                return Err(format!("not a step of the initiator's LXD: {other:?}").into());
            }
        }
        Ok(())
    }

    async fn issue_token(&self, joiner: &str) -> Result<Issued<JoinToken>, Cause> {
        let lxd = self.state.lxd.client().await?;
        settle(&lxd, None).await;
        // A token issued by an earlier run and never used is used now.
        Ok(match lxd.pending_join_token(joiner).await? {
            Some(issued) => Issued {
                token: issued.token,
                earlier: true,
            },
            None => Issued {
                token: lxd.create_join_token(joiner).await?.token,
                earlier: false,
            },
        })
    }

    /// Delivers the token to the joiner's agent, which joins its LXD.
    async fn join(&self, step: &Step, token: &JoinToken) -> Result<(), Cause> {
        let StepKind::JoinCluster {
            joiner,
            cluster_address,
            server_address,
            pool_sources,
        } = &step.kind
        else {
            return Err(format!("not a join: {:?}", step.kind).into());
        };
        let skew = self
            .skews
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(joiner)
            .copied();
        let lag = wait_for_clock(skew);
        if !lag.is_zero() {
            tracing::info!(
                member = joiner,
                wait_ms = lag.as_millis() as u64,
                "the member's clock lags ours: waiting until the cluster's new certificate is valid there"
            );
            tokio::time::sleep(lag).await;
        }
        let state = self.state;
        let lxd = state.lxd.client().await?;
        let certificate = lxd.server().await?.environment.certificate;
        let keys = lxd.cluster().await?.member_config;
        let req = LxdJoinRequest {
            token: token.encode(),
            cluster_certificate: certificate,
            cluster_address: cluster_address.clone(),
            server_address: server_address.clone(),
            member_config: fill_member_config(keys, pool_sources),
        };
        let answer: LxdJoinResponse =
            post_member(state, joiner, fpaths::LXD_JOIN, &req, JOIN_TIMEOUT).await?;
        tracing::info!(
            member = joiner,
            joined = answer.joined,
            "member's LXD in the cluster"
        );
        Ok(())
    }

    async fn ceph(&self, step: &Step) -> Result<(), Cause> {
        Ok(crate::member::ceph_step(self.state, &step.member, &step.kind).await?)
    }

    async fn wipe(&self, member: &str, disk: &DiskRef) -> Result<(), Cause> {
        let state = self.state;
        let device = disk.source();
        if member == state.me.name {
            crate::disks::wipe_device(
                &state.me.name,
                &state.disks,
                device,
                crate::disks::WipeAsker::Operator,
            )
            .await?;
        } else {
            let req = WipeRequest {
                device: device.to_owned(),
            };
            post_member::<()>(state, member, fpaths::WIPE, &req, OBSERVE_TIMEOUT).await?;
        }
        Ok(())
    }
}

/// Waits (bounded) until the cluster is at rest, `except` left out of the
/// count: the next join is better not started before.
async fn settle(lxd: &LxdClient, except: Option<&str>) {
    match lxd.wait_settled(except, SETTLE_TIMEOUT).await {
        Ok(unsettled) if unsettled.is_empty() => {}
        Ok(unsettled) => tracing::info!(
            unsettled = unsettled.join(", "),
            "the cluster did not settle in time; going on"
        ),
        Err(e) => {
            tracing::info!(error = %ErrorChain(&e), "cannot list the cluster members")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_whose_clock_lags_waits_its_lag_before_it_joins() {
        assert_eq!(
            wait_for_clock(Some(-3_000)),
            Duration::from_millis(3_000 + CLOCK_MARGIN_MS)
        );
        // Ahead of ours, in step, within the reading's error, or unknown:
        // the certificate is valid there already, or nothing is known.
        for skew in [Some(4_000), Some(0), Some(-(CLOCK_NOISE_MS as i64)), None] {
            assert_eq!(wait_for_clock(skew), Duration::ZERO, "{skew:?}");
        }
    }
}
