//! The plan of `muster remove NAME`: from what the cluster looks like now,
//! the steps that take one member out of LXD, Ceph and every trust store,
//! or the reasons it cannot be done safely. Pure: no I/O.
//!
//! Resuming is re-planning, as for formation: a step whose work is found
//! done (the OSDs already purged, the member already gone from LXD) is
//! not planned again.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// Ceph's default `mon_osd_full_ratio`: an OSD fuller than this stops
/// taking writes, so the data must fit in this share of what is left.
pub const CEPH_FULL_RATIO: f64 = 0.95;

/// What removing one member needs to know, read just before planning.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RemovalObserved {
    /// The member to remove.
    pub target: String,
    /// The server running `muster remove`.
    pub here: String,
    /// The LXD cluster's members and their status ("Online", "Offline"...),
    /// as this server's LXD lists them.
    pub lxd_members: BTreeMap<String, String>,
    /// The target's instances.
    pub instances: Vec<InstanceObserved>,
    /// LXD storage pools every member reaches (Ceph-backed): an instance
    /// on one of these can move to another member.
    pub remote_pools: BTreeSet<String>,
    /// Whether the target's agent answered.
    pub agent_reachable: bool,
    /// Whether this server trusts the target.
    pub trusted: bool,
    /// The server this one joined, if any: then this server is not the
    /// members' controller and cannot tell them to leave.
    #[serde(default)]
    pub controller: Option<String>,
    /// The other servers this one trusts: each is asked to forget the
    /// target too.
    pub others_trusted: Vec<String>,
    /// `None` when there is no Ceph cluster.
    pub ceph: Option<CephRemovalObserved>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceObserved {
    pub project: String,
    pub name: String,
    /// The pool of its root disk.
    pub root_pool: Option<String>,
}

impl fmt::Display for InstanceObserved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.project == "default" || self.project.is_empty() {
            write!(f, "{}", self.name)
        } else {
            write!(f, "{}/{}", self.project, self.name)
        }
    }
}

/// Ceph as its monitors report it, and the members' client configs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CephRemovalObserved {
    /// Every monitor of the monitor map, by name.
    pub mons: BTreeSet<String>,
    /// Each monitor's address on the public network, from the monitor map.
    #[serde(default)]
    pub mon_addrs: BTreeMap<String, IpAddr>,
    /// The monitors each member's `ceph.conf` names (`mon host`), for the
    /// members with a config; `None` for one whose agent did not answer.
    #[serde(default)]
    pub configs: BTreeMap<String, Option<BTreeSet<IpAddr>>>,
    /// The monitors in quorum now.
    pub quorum: BTreeSet<String>,
    /// Managers the cluster knows (active and standbys).
    pub mgrs: BTreeSet<String>,
    pub osds: Vec<OsdObserved>,
    /// Host buckets of the CRUSH map (OSDs or not).
    pub crush_hosts: BTreeSet<String>,
    /// Replicated pools and their number of copies.
    pub pools: BTreeMap<String, u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsdObserved {
    pub id: u32,
    /// Its CRUSH host (the member's name).
    pub host: String,
    /// Weighted in (holds data) rather than out.
    pub is_in: bool,
    pub kb: u64,
    pub kb_used: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovalChoices {
    /// The member is dead: what cannot be done on it is done from the
    /// cluster's side, and its instances' records go with it.
    pub force: bool,
}

/// One thing to do. Where it runs is said on each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "step")]
pub enum RemovalStep {
    /// This server's LXD: evacuate the target (its instances move).
    Evacuate { instances: Vec<String> },
    /// Cluster side: `ceph osd out`.
    CephOsdsOut { ids: Vec<u32> },
    /// Cluster side: wait until `ceph osd safe-to-destroy` says the data
    /// of these OSDs has other copies (bounded, progress shown).
    CephWaitRebalanced { ids: Vec<u32> },
    /// The target's agent: stop its Ceph daemons and remove their data
    /// and its Ceph config.
    CephStopDaemons,
    /// Cluster side: `ceph osd purge` each, then the empty CRUSH host.
    CephPurgeOsds { ids: Vec<u32>, host: bool },
    /// Cluster side: `ceph mon remove`.
    CephRemoveMon,
    /// Cluster side: `ceph mgr fail` and `ceph auth del mgr.NAME`.
    CephRemoveMgr,
    /// Member `on` (this server or another) rewrites its `ceph.conf` to
    /// name these monitors: the ones left.
    CephReconfigure { on: String, mon_hosts: Vec<IpAddr> },
    /// This server's LXD: `DELETE /1.0/cluster/members/NAME` (`force=1`
    /// for a dead member).
    LxdRemove { force: bool },
    /// The target's agent forgets this server (its controller), so it can
    /// join another cluster.
    Release,
    /// Member `on` forgets the target.
    ForgetOn { on: String },
    /// This server forgets the target.
    ForgetHere,
}

impl RemovalStep {
    pub fn describe(&self, target: &str) -> String {
        let list = |ids: &[u32]| {
            ids.iter()
                .map(|i| format!("osd.{i}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            RemovalStep::Evacuate { instances } => format!(
                "Evacuate {target}: move {} to other members",
                instances.join(", ")
            ),
            RemovalStep::CephOsdsOut { ids } => format!("Take {} out of Ceph", list(ids)),
            RemovalStep::CephWaitRebalanced { ids } => format!(
                "Wait until Ceph has copied the data of {} to the other OSDs",
                list(ids)
            ),
            RemovalStep::CephStopDaemons => {
                format!("Stop {target}'s Ceph daemons and remove their data and its Ceph config")
            }
            RemovalStep::CephPurgeOsds { ids, .. } if ids.is_empty() => {
                format!("Remove the CRUSH host {target}")
            }
            RemovalStep::CephPurgeOsds { ids, .. } => {
                format!("Purge {} and the CRUSH host {target}", list(ids))
            }
            RemovalStep::CephRemoveMon => format!("Remove {target}'s Ceph monitor"),
            RemovalStep::CephRemoveMgr => format!("Remove {target}'s Ceph manager"),
            RemovalStep::CephReconfigure { on, mon_hosts } => {
                let hosts: Vec<String> = mon_hosts.iter().map(IpAddr::to_string).collect();
                format!(
                    "Point {on}'s Ceph config at the monitors left: {}",
                    hosts.join(", ")
                )
            }
            RemovalStep::LxdRemove { force: false } => {
                format!("Remove {target} from the LXD cluster (its LXD becomes standalone)")
            }
            RemovalStep::LxdRemove { force: true } => {
                format!("Remove {target} from the LXD cluster from the cluster's side (force)")
            }
            RemovalStep::Release => format!("{target} forgets this server"),
            RemovalStep::ForgetOn { on } => format!("{on} forgets {target}"),
            RemovalStep::ForgetHere => format!("Forget {target} here"),
        }
    }

    /// Whether it runs on the target's agent.
    pub fn on_target(&self) -> bool {
        matches!(self, RemovalStep::CephStopDaemons | RemovalStep::Release)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovalPlan {
    pub target: String,
    pub steps: Vec<RemovalStep>,
    pub warnings: Vec<String>,
}

impl RemovalPlan {
    pub fn render(&self) -> String {
        let mut out = format!(
            "Plan: remove {} ({} step{})\n",
            self.target,
            self.steps.len(),
            if self.steps.len() == 1 { "" } else { "s" }
        );
        for (i, step) in self.steps.iter().enumerate() {
            out.push_str(&format!(
                "  {:>2}. {}\n",
                i + 1,
                step.describe(&self.target)
            ));
        }
        for w in &self.warnings {
            out.push_str(&format!("  warning: {w}\n"));
        }
        out
    }
}

/// Why a member cannot be removed now. Each says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RemovalRefusal {
    #[error(
        "{0} is the server running muster remove: run it on the server that formed the cluster \
         (this server's controller role cannot be handed over)"
    )]
    RemovingSelf(String),
    #[error(
        "this server joined {0}, which controls the members (only it may make them leave): run \
         muster remove on {0}"
    )]
    NotTheController(String),
    #[error("{0} is not a member: LXD, Ceph and this server's trust store do not know it")]
    NotAMember(String),
    #[error(
        "{0} does not answer ({1}): start it again, or pass --force if \
         it is dead (what cannot be done on it is then done from the cluster's side)"
    )]
    Unreachable(String, String),
    #[error(
        "{member} has instances that cannot move to another member (their root disk is on a \
         pool only {member} has): {instances}. Move or delete them first (`lxc move NAME \
         --target MEMBER`, `lxc delete NAME`), or pass --force to delete them with the member"
    )]
    InstancesCannotMove { member: String, instances: String },
    #[error(
        "removing {member}'s monitor would leave {up} of {left} monitors in quorum, fewer than a \
         majority: bring the other monitors up first (`ceph mon stat`)"
    )]
    QuorumLost {
        member: String,
        up: usize,
        left: usize,
    },
    #[error(
        "{0} runs the only Ceph monitor: the cluster cannot lose it (add a member first: muster \
         add)"
    )]
    LastMonitor(String),
    #[error(
        "Ceph pool {pool} keeps {size} copies on different members, but only {hosts} member{s} \
         would hold OSDs without {member}: add a member with a disk first (muster add), or lower \
         the copies (`ceph osd pool set {pool} size {hosts}`)",
        s = if *hosts == 1 { "" } else { "s" }
    )]
    NotEnoughHosts {
        member: String,
        pool: String,
        size: u32,
        hosts: usize,
    },
    #[error(
        "the Ceph data ({used_mib} MiB stored, counting every copy) would not fit on the \
         OSDs left without {member} ({left_mib} MiB, of which a share of {CEPH_FULL_RATIO} may \
         be filled): add a disk or a member first, or delete data"
    )]
    NotEnoughSpace {
        member: String,
        used_mib: u64,
        left_mib: u64,
    },
}

/// Every reason at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovalRefusals(pub Vec<RemovalRefusal>);

impl fmt::Display for RemovalRefusals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&lines.join("\n"))
    }
}

impl std::error::Error for RemovalRefusals {}

/// The steps that remove `obs.target`, or every reason not to.
pub fn plan_removal(
    obs: &RemovalObserved,
    choices: RemovalChoices,
) -> Result<RemovalPlan, RemovalRefusals> {
    let target = obs.target.as_str();
    let mut refusals = Vec::new();
    if target == obs.here {
        return Err(RemovalRefusals(vec![RemovalRefusal::RemovingSelf(
            target.to_owned(),
        )]));
    }
    if let Some(controller) = &obs.controller {
        return Err(RemovalRefusals(vec![RemovalRefusal::NotTheController(
            controller.clone(),
        )]));
    }
    let lxd_status = obs.lxd_members.get(target);
    let ceph_knows = obs.ceph.as_ref().is_some_and(|c| c.knows(target));
    if lxd_status.is_none() && !ceph_knows && !obs.trusted {
        return Err(RemovalRefusals(vec![RemovalRefusal::NotAMember(
            target.to_owned(),
        )]));
    }
    let lxd_online = lxd_status.is_some_and(|s| s == "Online" || s == "Evacuated");
    let alive = obs.agent_reachable && (lxd_status.is_none() || lxd_online);
    // Once out of LXD and Ceph (a run stopped after those steps), only
    // trust is left, which needs nothing of the target.
    if !alive && !choices.force && (lxd_status.is_some() || ceph_knows) {
        let why = match (obs.agent_reachable, lxd_status) {
            (false, _) => "its agent does not answer".to_owned(),
            (true, Some(status)) => format!("its LXD is {}", status.to_lowercase()),
            (true, None) => "its state is unknown".to_owned(),
        };
        refusals.push(RemovalRefusal::Unreachable(target.to_owned(), why));
    }
    let (movable, stuck): (Vec<&InstanceObserved>, Vec<&InstanceObserved>) =
        obs.instances.iter().partition(|i| {
            i.root_pool
                .as_ref()
                .is_some_and(|p| obs.remote_pools.contains(p))
        });
    if !stuck.is_empty() && !choices.force {
        refusals.push(RemovalRefusal::InstancesCannotMove {
            member: target.to_owned(),
            instances: join(&stuck),
        });
    }
    if let Some(ceph) = &obs.ceph {
        ceph.refusals(target, &mut refusals);
    }
    if !refusals.is_empty() {
        return Err(RemovalRefusals(refusals));
    }

    let mut steps = Vec::new();
    let mut warnings = Vec::new();
    if !stuck.is_empty() {
        warnings.push(format!(
            "{} will be deleted with {target} (--force)",
            join(&stuck)
        ));
    }
    // A dead member's LXD cannot move anything: its instances go with it.
    if !movable.is_empty() && alive {
        steps.push(RemovalStep::Evacuate {
            instances: movable.iter().map(ToString::to_string).collect(),
        });
    }
    // The member leaves LXD once Ceph holds its data elsewhere but before
    // its Ceph config goes: LXD may still reach Ceph from it as it leaves.
    if let Some(ceph) = &obs.ceph {
        ceph.drain_steps(target, &mut steps);
    }
    if lxd_status.is_some() {
        // LXD may not have noticed yet that a member whose agent is gone is
        // dead: only a forced removal does not wait on it.
        steps.push(RemovalStep::LxdRemove { force: !alive });
    }
    if let Some(ceph) = &obs.ceph {
        ceph.retire_steps(target, alive, &mut steps);
        // Before trust goes: a rerun finds the configs left to rewrite
        // only while the target is still someone's member.
        ceph.client_steps(target, &mut steps);
    }
    if obs.trusted {
        if obs.agent_reachable {
            steps.push(RemovalStep::Release);
        } else {
            warnings.push(format!(
                "{target} cannot be told to forget this server (its agent does not answer): \
                 before it joins another cluster, run `muster members forget {}` on it",
                obs.here
            ));
        }
    }
    for other in &obs.others_trusted {
        if other != target {
            steps.push(RemovalStep::ForgetOn { on: other.clone() });
        }
    }
    if obs.trusted {
        steps.push(RemovalStep::ForgetHere);
    }
    Ok(RemovalPlan {
        target: target.to_owned(),
        steps,
        warnings,
    })
}

fn join(instances: &[&InstanceObserved]) -> String {
    instances
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl CephRemovalObserved {
    fn knows(&self, target: &str) -> bool {
        self.mons.contains(target)
            || self.mgrs.contains(target)
            || self.crush_hosts.contains(target)
            || self.osds.iter().any(|o| o.host == target)
    }

    fn osds_of(&self, target: &str) -> Vec<u32> {
        self.osds
            .iter()
            .filter(|o| o.host == target)
            .map(|o| o.id)
            .collect()
    }

    fn refusals(&self, target: &str, refusals: &mut Vec<RemovalRefusal>) {
        if self.mons.contains(target) {
            let left: BTreeSet<&String> = self.mons.iter().filter(|m| *m != target).collect();
            let up = left.iter().filter(|m| self.quorum.contains(**m)).count();
            if left.is_empty() {
                refusals.push(RemovalRefusal::LastMonitor(target.to_owned()));
            } else if up * 2 <= left.len() {
                refusals.push(RemovalRefusal::QuorumLost {
                    member: target.to_owned(),
                    up,
                    left: left.len(),
                });
            }
        }
        let mine = self.osds_of(target);
        if mine.is_empty() {
            return;
        }
        let remaining: Vec<&OsdObserved> = self.osds.iter().filter(|o| o.host != target).collect();
        let hosts: BTreeSet<&str> = remaining.iter().map(|o| o.host.as_str()).collect();
        for (pool, size) in &self.pools {
            if (*size as usize) > hosts.len() {
                refusals.push(RemovalRefusal::NotEnoughHosts {
                    member: target.to_owned(),
                    pool: pool.clone(),
                    size: *size,
                    hosts: hosts.len(),
                });
            }
        }
        let used: u64 = self.osds.iter().map(|o| o.kb_used).sum();
        let left: u64 = remaining.iter().map(|o| o.kb).sum();
        if used as f64 > left as f64 * CEPH_FULL_RATIO {
            refusals.push(RemovalRefusal::NotEnoughSpace {
                member: target.to_owned(),
                used_mib: used / 1024,
                left_mib: left / 1024,
            });
        }
    }

    /// Its OSDs out, and their data copied to the others.
    fn drain_steps(&self, target: &str, steps: &mut Vec<RemovalStep>) {
        let mine = self.osds_of(target);
        let still_in: Vec<u32> = self
            .osds
            .iter()
            .filter(|o| o.host == target && o.is_in)
            .map(|o| o.id)
            .collect();
        if !still_in.is_empty() {
            steps.push(RemovalStep::CephOsdsOut { ids: still_in });
        }
        if !mine.is_empty() {
            steps.push(RemovalStep::CephWaitRebalanced { ids: mine });
        }
    }

    /// Its daemons gone, from the member and from the cluster's maps.
    fn retire_steps(&self, target: &str, alive: bool, steps: &mut Vec<RemovalStep>) {
        let mine = self.osds_of(target);
        if alive {
            steps.push(RemovalStep::CephStopDaemons);
        }
        let host = self.crush_hosts.contains(target);
        if !mine.is_empty() || host {
            steps.push(RemovalStep::CephPurgeOsds { ids: mine, host });
        }
        if self.mons.contains(target) {
            steps.push(RemovalStep::CephRemoveMon);
        }
        if self.mgrs.contains(target) {
            steps.push(RemovalStep::CephRemoveMgr);
        }
    }

    /// Every other member's config that names other monitors than those
    /// left (the target's among them) is rewritten: a client tries each
    /// address of `mon host`, and LXD's Ceph driver reads that config.
    /// Planned from what the configs say, not from whether the target had
    /// a monitor, so a rerun after the monitor went still rewrites them.
    fn client_steps(&self, target: &str, steps: &mut Vec<RemovalStep>) {
        let left: BTreeSet<IpAddr> = self
            .mon_addrs
            .iter()
            .filter(|(name, _)| *name != target)
            .map(|(_, ip)| *ip)
            .collect();
        // A monitor map without addresses gives nothing to write: the
        // configs keep what they name.
        if left.is_empty() {
            return;
        }
        for (member, named) in &self.configs {
            // A config that could not be read is rewritten all the same:
            // every member is a client, and if it still does not answer,
            // the step fails and the same command resumes.
            if member != target && named.as_ref() != Some(&left) {
                steps.push(RemovalStep::CephReconfigure {
                    on: member.clone(),
                    mon_hosts: left.iter().copied().collect(),
                });
            }
        }
    }
}

/// Two instances of the tests: `web` with its root on `local`, `db` on
/// `remote`.
#[cfg(test)]
pub(crate) fn web_on_local_and_db_on_remote() -> Vec<InstanceObserved> {
    ["web", "db"]
        .iter()
        .zip(["local", "remote"])
        .map(|(name, pool)| InstanceObserved {
            project: "default".into(),
            name: name.to_string(),
            root_pool: Some(pool.into()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn osd(id: u32, host: &str) -> OsdObserved {
        OsdObserved {
            id,
            host: host.into(),
            is_in: true,
            kb: 4 << 20,
            kb_used: 100 << 10,
        }
    }

    /// s1 (here), s2, s3, s4, all online and trusted, no instances, no Ceph.
    fn lxd_cluster(target: &str) -> RemovalObserved {
        RemovalObserved {
            target: target.into(),
            here: "s1".into(),
            lxd_members: ["s1", "s2", "s3", "s4"]
                .iter()
                .map(|n| (n.to_string(), "Online".to_string()))
                .collect(),
            agent_reachable: true,
            trusted: true,
            others_trusted: vec!["s2".into(), "s3".into(), "s4".into()],
            ..RemovalObserved::default()
        }
    }

    /// Member `sN`'s address on Ceph's public network.
    fn ip(name: &str) -> IpAddr {
        format!("10.0.0.{}", &name[1..]).parse().unwrap()
    }

    fn ips(list: &[&str]) -> BTreeSet<IpAddr> {
        list.iter().map(|n| ip(n)).collect()
    }

    /// Four members with a mon on s1-s3, an OSD each, a pool of 3 copies;
    /// every member's config names the three monitors.
    fn ceph_cluster(target: &str) -> RemovalObserved {
        let mut obs = lxd_cluster(target);
        let mons = ["s1", "s2", "s3"];
        obs.ceph = Some(CephRemovalObserved {
            mons: names(&mons),
            mon_addrs: mons.iter().map(|m| (m.to_string(), ip(m))).collect(),
            configs: ["s1", "s2", "s3", "s4"]
                .iter()
                .map(|m| (m.to_string(), Some(ips(&mons))))
                .collect(),
            quorum: names(&["s1", "s2", "s3"]),
            mgrs: names(&["s1", "s2", "s3"]),
            osds: vec![osd(0, "s1"), osd(1, "s2"), osd(2, "s3"), osd(3, "s4")],
            crush_hosts: names(&["s1", "s2", "s3", "s4"]),
            pools: [("lxd_remote".to_string(), 3)].into(),
        });
        obs
    }

    fn refusals(obs: &RemovalObserved, force: bool) -> Vec<RemovalRefusal> {
        plan_removal(obs, RemovalChoices { force })
            .expect_err("the removal should be refused")
            .0
    }

    fn steps(obs: &RemovalObserved, force: bool) -> Vec<RemovalStep> {
        plan_removal(obs, RemovalChoices { force })
            .unwrap_or_else(|e| panic!("refused: {e}"))
            .steps
    }

    #[test]
    fn a_live_member_leaves_lxd_and_every_trust_store() {
        let got = steps(&lxd_cluster("s3"), false);
        assert_eq!(
            got,
            vec![
                RemovalStep::LxdRemove { force: false },
                RemovalStep::Release,
                RemovalStep::ForgetOn { on: "s2".into() },
                RemovalStep::ForgetOn { on: "s4".into() },
                RemovalStep::ForgetHere,
            ]
        );
    }

    #[test]
    fn the_server_running_it_and_strangers_are_refused() {
        assert!(matches!(
            refusals(&lxd_cluster("s1"), true)[..],
            [RemovalRefusal::RemovingSelf(_)]
        ));
        let mut obs = lxd_cluster("s9");
        obs.trusted = false;
        assert!(matches!(
            refusals(&obs, true)[..],
            [RemovalRefusal::NotAMember(_)]
        ));
    }

    #[test]
    fn a_dead_member_needs_force_and_is_removed_from_the_clusters_side() {
        let mut obs = lxd_cluster("s3");
        obs.agent_reachable = false;
        obs.lxd_members.insert("s3".into(), "Offline".into());
        let r = refusals(&obs, false);
        assert!(matches!(r[..], [RemovalRefusal::Unreachable(..)]), "{r:?}");
        assert!(r[0].to_string().contains("--force"));
        let plan = plan_removal(&obs, RemovalChoices { force: true }).unwrap();
        assert_eq!(plan.steps[0], RemovalStep::LxdRemove { force: true });
        assert!(!plan.steps.contains(&RemovalStep::Release));
        assert!(plan.steps.contains(&RemovalStep::ForgetHere));
        assert!(plan.warnings[0].contains("muster members forget s1"));
    }

    #[test]
    fn only_the_members_controller_removes() {
        let mut obs = lxd_cluster("s3");
        obs.here = "s2".into();
        obs.controller = Some("s1".into());
        let r = refusals(&obs, true);
        assert_eq!(r, [RemovalRefusal::NotTheController("s1".into())]);
        assert!(r[0].to_string().contains("run muster remove on s1"));
    }

    #[test]
    fn a_rerun_after_the_target_released_this_server_only_forgets() {
        // Out of LXD and Ceph, and it no longer answers this server (it
        // forgot it): nothing needs the target, so no --force either.
        let mut obs = lxd_cluster("s3");
        obs.lxd_members.remove("s3");
        obs.agent_reachable = false;
        let plan = plan_removal(&obs, RemovalChoices::default()).unwrap();
        assert_eq!(
            plan.steps,
            [
                RemovalStep::ForgetOn { on: "s2".into() },
                RemovalStep::ForgetOn { on: "s4".into() },
                RemovalStep::ForgetHere
            ]
        );
    }

    #[test]
    fn a_member_lxd_still_calls_online_is_removed_by_force_once_its_agent_is_gone() {
        let mut obs = lxd_cluster("s3");
        obs.agent_reachable = false;
        let plan = plan_removal(&obs, RemovalChoices { force: true }).unwrap();
        assert_eq!(plan.steps[0], RemovalStep::LxdRemove { force: true });
    }

    #[test]
    fn instances_on_local_storage_are_refused_unless_forced() {
        let mut obs = lxd_cluster("s3");
        obs.remote_pools = names(&["remote"]);
        obs.instances = web_on_local_and_db_on_remote();
        let r = refusals(&obs, false);
        assert!(
            matches!(&r[..], [RemovalRefusal::InstancesCannotMove { instances, .. }] if instances == "web"),
            "{r:?}"
        );
        let plan = plan_removal(&obs, RemovalChoices { force: true }).unwrap();
        assert_eq!(
            plan.steps[0],
            RemovalStep::Evacuate {
                instances: vec!["db".into()]
            }
        );
        assert!(plan.warnings[0].contains("web will be deleted"));
        // Only movable ones: evacuated, no refusal.
        obs.instances.remove(0);
        assert!(matches!(
            steps(&obs, false)[0],
            RemovalStep::Evacuate { .. }
        ));
    }

    #[test]
    fn a_ceph_member_is_drained_then_leaves_lxd_before_its_daemons_go() {
        let got = steps(&ceph_cluster("s3"), false);
        assert_eq!(
            got[..7],
            [
                RemovalStep::CephOsdsOut { ids: vec![2] },
                RemovalStep::CephWaitRebalanced { ids: vec![2] },
                RemovalStep::LxdRemove { force: false },
                RemovalStep::CephStopDaemons,
                RemovalStep::CephPurgeOsds {
                    ids: vec![2],
                    host: true
                },
                RemovalStep::CephRemoveMon,
                RemovalStep::CephRemoveMgr,
            ]
        );
        assert_eq!(got[10], RemovalStep::Release);
    }

    fn reconfigured(steps: &[RemovalStep]) -> Vec<(&str, &[IpAddr])> {
        steps
            .iter()
            .filter_map(|s| match s {
                RemovalStep::CephReconfigure { on, mon_hosts } => {
                    Some((on.as_str(), mon_hosts.as_slice()))
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn the_others_configs_name_the_monitors_left_once_the_targets_is_gone() {
        let got = steps(&ceph_cluster("s3"), false);
        let left = [ip("s1"), ip("s2")];
        assert_eq!(
            reconfigured(&got),
            [("s1", &left[..]), ("s2", &left[..]), ("s4", &left[..])]
        );
        // After the monitor leaves the map, before any member forgets s3.
        let first = got
            .iter()
            .position(|s| matches!(s, RemovalStep::CephReconfigure { .. }))
            .unwrap();
        assert_eq!(got[first - 1], RemovalStep::CephRemoveMgr);
        assert_eq!(got[first + 3], RemovalStep::Release);
        let text = got[first].describe("s3");
        assert_eq!(
            text,
            "Point s1's Ceph config at the monitors left: 10.0.0.1, 10.0.0.2"
        );
        // A member without a monitor changes no config.
        assert_eq!(reconfigured(&steps(&ceph_cluster("s4"), false)), []);
    }

    /// s3 as a run that stopped after its Ceph steps leaves it: gone from
    /// LXD and Ceph, released, still trusted here.
    fn s3_out_of_ceph(configs: &[(&str, Option<&[&str]>)]) -> RemovalObserved {
        let mut obs = ceph_cluster("s3");
        obs.lxd_members.remove("s3");
        obs.agent_reachable = false;
        let ceph = obs.ceph.as_mut().unwrap();
        for set in [&mut ceph.mons, &mut ceph.quorum, &mut ceph.mgrs] {
            set.remove("s3");
        }
        ceph.mon_addrs.remove("s3");
        ceph.osds.retain(|o| o.host != "s3");
        ceph.crush_hosts.remove("s3");
        ceph.configs = configs
            .iter()
            .map(|(m, named)| (m.to_string(), named.map(ips)))
            .collect();
        obs
    }

    #[test]
    fn a_rerun_rewrites_only_the_configs_still_naming_the_removed_monitor() {
        let left: &[&str] = &["s1", "s2"];
        let all: &[&str] = &["s1", "s2", "s3"];
        let obs = s3_out_of_ceph(&[("s1", Some(left)), ("s2", Some(all)), ("s4", None)]);
        let got = steps(&obs, false);
        let want = [ip("s1"), ip("s2")];
        assert_eq!(reconfigured(&got), [("s2", &want[..]), ("s4", &want[..])]);

        let done = s3_out_of_ceph(&[("s1", Some(left)), ("s2", Some(left)), ("s4", Some(left))]);
        assert_eq!(
            steps(&done, false),
            [
                RemovalStep::ForgetOn { on: "s2".into() },
                RemovalStep::ForgetOn { on: "s4".into() },
                RemovalStep::ForgetHere
            ]
        );
        // Once trust is gone too, s3 is a stranger: nothing is planned.
        let mut gone = done;
        gone.trusted = false;
        assert!(matches!(
            refusals(&gone, false)[..],
            [RemovalRefusal::NotAMember(_)]
        ));
    }

    #[test]
    fn a_rerun_after_the_osds_were_taken_out_does_not_take_them_out_again() {
        let mut obs = ceph_cluster("s4");
        obs.ceph.as_mut().unwrap().osds[3].is_in = false;
        let got = steps(&obs, false);
        assert_eq!(got[0], RemovalStep::CephWaitRebalanced { ids: vec![3] });
    }

    #[test]
    fn too_few_hosts_for_the_pools_copies_is_refused_even_forced() {
        let mut obs = ceph_cluster("s4");
        obs.ceph.as_mut().unwrap().osds.remove(2);
        let r = refusals(&obs, true);
        assert!(
            matches!(&r[..], [RemovalRefusal::NotEnoughHosts { pool, size: 3, hosts: 2, .. }] if pool == "lxd_remote"),
            "{r:?}"
        );
        assert!(r[0]
            .to_string()
            .contains("ceph osd pool set lxd_remote size 2"));
    }

    #[test]
    fn data_that_does_not_fit_on_the_other_osds_is_refused() {
        let mut obs = ceph_cluster("s4");
        for o in &mut obs.ceph.as_mut().unwrap().osds {
            o.kb_used = 3 << 20;
        }
        let r = refusals(&obs, false);
        assert!(
            matches!(&r[..], [RemovalRefusal::NotEnoughSpace { .. }]),
            "{r:?}"
        );
    }

    #[test]
    fn losing_the_monitors_quorum_is_refused() {
        let mut obs = ceph_cluster("s3");
        // s2's monitor is down: without s3, 1 of 2 would be up.
        obs.ceph.as_mut().unwrap().quorum = names(&["s1", "s3"]);
        let r = refusals(&obs, true);
        assert!(
            matches!(r[..], [RemovalRefusal::QuorumLost { up: 1, left: 2, .. }]),
            "{r:?}"
        );
        // A member with no monitor can go whatever the quorum.
        obs.target = "s4".into();
        assert!(plan_removal(&obs, RemovalChoices::default()).is_ok());
    }

    #[test]
    fn the_last_monitor_is_refused() {
        let mut obs = ceph_cluster("s2");
        let ceph = obs.ceph.as_mut().unwrap();
        ceph.mons = names(&["s2"]);
        ceph.quorum = names(&["s2"]);
        ceph.pools.clear();
        let r = refusals(&obs, true);
        assert!(matches!(r[..], [RemovalRefusal::LastMonitor(_)]), "{r:?}");
    }

    #[test]
    fn a_dead_ceph_member_is_purged_from_the_clusters_side() {
        let mut obs = ceph_cluster("s3");
        obs.agent_reachable = false;
        obs.lxd_members.insert("s3".into(), "Offline".into());
        let ceph = obs.ceph.as_mut().unwrap();
        ceph.quorum.remove("s3");
        let got = steps(&obs, true);
        assert!(!got.contains(&RemovalStep::CephStopDaemons), "{got:?}");
        assert!(got.contains(&RemovalStep::CephRemoveMon));
        assert!(got.contains(&RemovalStep::LxdRemove { force: true }));
    }

    #[test]
    fn every_refusal_is_reported_at_once() {
        let mut obs = ceph_cluster("s3");
        obs.agent_reachable = false;
        obs.instances = vec![InstanceObserved {
            project: "p".into(),
            name: "web".into(),
            root_pool: Some("local".into()),
        }];
        obs.ceph.as_mut().unwrap().quorum = names(&["s1"]);
        let r = refusals(&obs, false);
        assert_eq!(r.len(), 3, "{r:?}");
        assert!(r[1].to_string().contains("p/web"));
    }

    #[test]
    fn the_plan_reads_as_numbered_steps() {
        let plan = plan_removal(&ceph_cluster("s4"), RemovalChoices::default()).unwrap();
        let text = plan.render();
        assert!(text.starts_with("Plan: remove s4 ("), "{text}");
        assert!(text.contains("1. Take osd.3 out of Ceph"), "{text}");
        assert!(text.contains("Purge osd.3 and the CRUSH host s4"), "{text}");
    }
}
