//! From choices and observed state to the ordered steps.
//!
//! Order: wipes first (a disk that cannot be wiped stops the run before
//! anything else changed), then the initiator's bootstrap, then the joiners
//! one at a time (LXD 5.0 was seen to hang on parallel joins), then the
//! cluster-wide objects (the `local` pool, the instance network, Ceph and
//! its LXD pools) and last the default profile, which needs them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::choices::{
    Choices, DiskRef, Driver, MemberChoice, CEPH_FS, CEPH_RBD_POOL, LOCAL_POOL, REMOTE_FS_POOL,
    REMOTE_POOL,
};
use crate::observed::{membership, LxdObserved, MemberObserved, Membership, Observed, Status};
use crate::step::{Step, StepKind};
use crate::tools::missing_tools;

/// The steps still to do, in order. Empty when everything is done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub initiator: String,
    /// Every member in plan order (the initiator first), with its address.
    pub members: Vec<(String, IpAddr)>,
    /// What each member runs ("LXD 5.0.2"), where it reported it.
    pub builds: BTreeMap<String, String>,
    pub steps: Vec<Step>,
    /// Things the operator should know that do not stop the plan.
    pub warnings: Vec<String>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

/// Why no plan can be made. Each names the member concerned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("no members were chosen")]
    NoMembers,
    #[error("member {0} is chosen twice")]
    DuplicateMember(String),
    #[error("the initiator {0} is not among the chosen members")]
    UnknownInitiator(String),
    #[error("{0}: its state could not be observed (is its agent reachable?)")]
    NotObserved(String),
    #[error("{member}: {reason}; remove it from that cluster or leave it out")]
    ForeignCluster { member: String, reason: String },
    #[error(
        "{member}: its LXD does not support the {driver} storage driver (it has: {available})"
    )]
    DriverUnavailable {
        member: String,
        driver: Driver,
        available: String,
    },
    #[error("the local pool cannot use the {0} driver (zfs, lvm, btrfs or dir)")]
    NotALocalDriver(Driver),
    #[error("{member}: disk {disk} was chosen for the local pool, but its driver is dir, which does not use disks")]
    DiskWithDir { member: String, disk: String },
    #[error("{member}: no disk or partition {disk} (it may have been removed or renamed)")]
    DiskMissing { member: String, disk: String },
    #[error("{member}: {disk} is chosen more than once")]
    DiskChosenTwice { member: String, disk: String },
    #[error("{member}: {disk} is to be wiped but is not chosen for the local pool or Ceph")]
    WipeNotChosen { member: String, disk: String },
    #[error("{member}: {disk} is not empty ({reasons}) and was not chosen to be wiped")]
    DiskNotEmpty {
        member: String,
        disk: String,
        reasons: String,
    },
    #[error(
        "{member}: it has the config of another Ceph cluster ({fsid}); remove that cluster \
         from it or leave it out"
    )]
    ForeignCeph { member: String, fsid: String },
    #[error("Ceph was chosen but no member has Ceph disks")]
    CephWithoutDisks,
    #[error("{0}: Ceph disks were chosen but Ceph was not")]
    CephDisksWithoutCeph(String),
    #[error(
        "{member}: storage pool {pool} exists with driver {existing}, not {wanted}, and may hold \
         instances: muster never deletes it; choose {existing}, or move what is on it and delete \
         it first (`lxc storage delete {pool}`)"
    )]
    PoolConflict {
        member: String,
        pool: String,
        existing: String,
        wanted: Driver,
    },
    #[error("{member}: network {network} exists with type {existing}, not bridge")]
    NetworkConflict {
        member: String,
        network: String,
        existing: String,
    },
    #[error(
        "the members run different daemons ({which}): one cluster is LXD on every member or \
         Incus on every member; install the same one on all of them"
    )]
    MixedDaemons { which: String },
    #[error(
        "the members run different builds ({which}): LXD and Incus refuse a join when the \
         joiner's build differs (database schema, API extensions); install the same version on \
         every member"
    )]
    DifferentBuilds { which: String },
    #[error(
        "{member}: its clock is {:.1} s {} the initiator's: a new cluster certificate can \
         be not yet valid there, and Ceph's monitors warn; set the time on {member} (NTP) and \
         run muster init again",
        .skew_ms.unsigned_abs() as f64 / 1000.0,
        if *.skew_ms > 0 { "ahead of" } else { "behind" }
    )]
    ClockSkew { member: String, skew_ms: i64 },
    #[error(
        "{member}: {program} is not installed (not on musterd's PATH) and the step \"{step}\" \
         needs it: install the Debian package {package} on {member} (`apt-get install \
         {package}`) and run muster init again"
    )]
    ToolMissing {
        member: String,
        program: String,
        package: String,
        step: String,
    },
}

/// Clocks further apart than this are refused before anything changes.
pub const MAX_CLOCK_SKEW_MS: i64 = 5_000;

/// Every reason at once, so that one pass fixes them all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanErrors(pub Vec<PlanError>);

impl fmt::Display for PlanErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PlanErrors {}

/// Computes the steps still needed to form the cluster in `choices`, given
/// what `observed` found. Pure: the same inputs give the same plan.
pub fn plan(choices: &Choices, observed: &Observed) -> Result<Plan, PlanErrors> {
    let errors = validate(choices, observed);
    if !errors.is_empty() {
        return Err(PlanErrors(errors));
    }
    let order = choices.ordered();
    let mut p = Planner::new(choices, observed, &order);
    p.wipes();
    p.lxd_cluster();
    p.local_pool();
    p.network();
    p.ceph();
    p.default_profile();
    let missing = missing_tools(&p.steps, observed);
    if !missing.is_empty() {
        return Err(PlanErrors(missing));
    }
    Ok(Plan {
        initiator: choices.initiator.clone(),
        members: p
            .order
            .iter()
            .map(|m| (m.name.clone(), m.address))
            .collect(),
        builds: choices
            .members
            .iter()
            .filter_map(|m| {
                let build = observed.members.get(&m.name)?.lxd.build()?;
                Some((m.name.clone(), build))
            })
            .collect(),
        steps: p.steps,
        warnings: p.warnings,
    })
}

fn validate(choices: &Choices, observed: &Observed) -> Vec<PlanError> {
    let mut errors = Vec::new();
    if choices.members.is_empty() {
        errors.push(PlanError::NoMembers);
    }
    let mut seen = BTreeSet::new();
    for m in &choices.members {
        if !seen.insert(m.name.as_str()) {
            errors.push(PlanError::DuplicateMember(m.name.clone()));
        }
    }
    if !choices.members.is_empty() && choices.member(&choices.initiator).is_none() {
        errors.push(PlanError::UnknownInitiator(choices.initiator.clone()));
    }
    if !matches!(
        choices.local_driver,
        Driver::Zfs | Driver::Lvm | Driver::Btrfs | Driver::Dir
    ) {
        errors.push(PlanError::NotALocalDriver(choices.local_driver));
    }
    validate_builds(choices, observed, &mut errors);
    let names: Vec<&str> = choices.members.iter().map(|m| m.name.as_str()).collect();
    for m in choices.ordered() {
        let Some(obs) = observed.members.get(&m.name) else {
            errors.push(PlanError::NotObserved(m.name.clone()));
            continue;
        };
        if let Membership::Foreign(reason) =
            membership(observed, &choices.initiator, &names, &m.name)
        {
            errors.push(PlanError::ForeignCluster {
                member: m.name.clone(),
                reason,
            });
        }
        validate_storage(choices, observed, m, obs, &mut errors);
    }
    if choices.ceph.is_some() {
        if choices.ceph_hosts().is_empty() {
            errors.push(PlanError::CephWithoutDisks);
        }
        if let Some(fsid) = &observed.ceph.fsid {
            for m in &choices.members {
                match observed.ceph.configs.get(&m.name) {
                    Some(c) if c.fsid != *fsid => errors.push(PlanError::ForeignCeph {
                        member: m.name.clone(),
                        fsid: c.fsid.clone(),
                    }),
                    _ => {}
                }
            }
        }
    } else {
        for m in choices.members.iter().filter(|m| !m.ceph_disks.is_empty()) {
            errors.push(PlanError::CephDisksWithoutCeph(m.name.clone()));
        }
    }
    errors
}

/// One daemon, one build, one clock (within [`MAX_CLOCK_SKEW_MS`]) on
/// every member that reported them.
fn validate_builds(choices: &Choices, observed: &Observed, errors: &mut Vec<PlanError>) {
    let reported: Vec<(&str, &LxdObserved)> = choices
        .members
        .iter()
        .filter_map(|m| Some((m.name.as_str(), &observed.members.get(&m.name)?.lxd)))
        .filter(|(_, lxd)| lxd.daemon_name().is_some())
        .collect();
    let group = |key: &dyn Fn(&LxdObserved) -> String| {
        let mut groups: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for (name, lxd) in &reported {
            groups.entry(key(lxd)).or_default().push(name);
        }
        groups
    };
    let daemons = group(&|l: &LxdObserved| l.daemon_name().unwrap_or_default().to_owned());
    let describe = |groups: &BTreeMap<String, Vec<&str>>| {
        groups
            .iter()
            .map(|(what, names)| format!("{}: {what}", names.join(", ")))
            .collect::<Vec<_>>()
            .join("; ")
    };
    if daemons.len() > 1 {
        errors.push(PlanError::MixedDaemons {
            which: describe(&daemons),
        });
    } else {
        let builds = group(&|l: &LxdObserved| {
            format!(
                "{} with {} API extensions",
                l.build().unwrap_or_default(),
                l.api_extensions
            )
        });
        if builds.len() > 1 {
            errors.push(PlanError::DifferentBuilds {
                which: describe(&builds),
            });
        }
    }
    for m in &choices.members {
        let Some(skew) = observed.members.get(&m.name).and_then(|o| o.clock_skew_ms) else {
            continue;
        };
        if skew.abs() > MAX_CLOCK_SKEW_MS {
            errors.push(PlanError::ClockSkew {
                member: m.name.clone(),
                skew_ms: skew,
            });
        }
    }
}

fn validate_storage(
    choices: &Choices,
    observed: &Observed,
    m: &MemberChoice,
    obs: &MemberObserved,
    errors: &mut Vec<PlanError>,
) {
    let driver = choices.local_driver;
    if !obs.lxd.supports(driver) {
        errors.push(PlanError::DriverUnavailable {
            member: m.name.clone(),
            driver,
            available: if obs.lxd.storage_drivers.is_empty() {
                "none reported".into()
            } else {
                obs.lxd.storage_drivers.join(", ")
            },
        });
    }
    if let (Driver::Dir, Some(disk)) = (driver, &m.local_disk) {
        errors.push(PlanError::DiskWithDir {
            member: m.name.clone(),
            disk: disk.to_string(),
        });
    }
    let conflicts = [
        (LOCAL_POOL, Some(driver)),
        (REMOTE_POOL, choices.ceph.as_ref().map(|_| Driver::Ceph)),
        (
            REMOTE_FS_POOL,
            choices
                .ceph
                .as_ref()
                .filter(|c| c.cephfs)
                .map(|_| Driver::CephFs),
        ),
    ];
    for (pool, wanted) in conflicts {
        let (Some(wanted), Some(existing)) = (wanted, obs.lxd.pools.get(pool)) else {
            continue;
        };
        // Pending definitions of the local pool (a stopped run's) are
        // replaced; only a created pool may hold anything.
        let replaced = pool == LOCAL_POOL && existing.status != Status::Created;
        if existing.driver != wanted.as_str() && !replaced {
            errors.push(PlanError::PoolConflict {
                member: m.name.clone(),
                pool: pool.into(),
                existing: existing.driver.clone(),
                wanted,
            });
        }
    }
    if let Some(net) = obs.lxd.networks.get(&choices.network.name) {
        if net.kind != "bridge" {
            errors.push(PlanError::NetworkConflict {
                member: m.name.clone(),
                network: choices.network.name.clone(),
                existing: net.kind.clone(),
            });
        }
    }
    let chosen: Vec<&DiskRef> = m.local_disk.iter().chain(&m.ceph_disks).collect();
    let mut seen = BTreeSet::new();
    for disk in &chosen {
        if !seen.insert(disk.path.as_str()) {
            errors.push(PlanError::DiskChosenTwice {
                member: m.name.clone(),
                disk: disk.to_string(),
            });
        }
    }
    for disk in &m.wipe {
        if !chosen.iter().any(|c| c.path == disk.path) {
            errors.push(PlanError::WipeNotChosen {
                member: m.name.clone(),
                disk: disk.to_string(),
            });
        }
    }
    for disk in chosen {
        let Some(reasons) = reasons_of(obs, disk) else {
            errors.push(PlanError::DiskMissing {
                member: m.name.clone(),
                disk: disk.to_string(),
            });
            continue;
        };
        if !reasons.is_empty() && !m.wipes(disk) && !in_use_by_us(choices, observed, m, disk) {
            errors.push(PlanError::DiskNotEmpty {
                member: m.name.clone(),
                disk: disk.to_string(),
                reasons: reasons.join(", "),
            });
        }
    }
}

fn reasons_of<'a>(obs: &'a MemberObserved, disk: &DiskRef) -> Option<&'a [String]> {
    obs.device_reasons(&disk.path)
        .or_else(|| disk.by_id.as_deref().and_then(|p| obs.device_reasons(p)))
}

/// Whether a chosen disk carries what muster itself put there: the created
/// `local` pool, or one of our OSDs. Such a disk is never wiped again.
fn in_use_by_us(choices: &Choices, observed: &Observed, m: &MemberChoice, disk: &DiskRef) -> bool {
    let local = m.local_disk.as_ref() == Some(disk)
        && choices.local_driver != Driver::Dir
        && observed.local_pool_created(&m.name);
    local || (m.ceph_disks.contains(disk) && observed.is_osd(&m.name, disk))
}

struct Planner<'a> {
    choices: &'a Choices,
    observed: &'a Observed,
    /// The members, the initiator first.
    order: &'a [&'a MemberChoice],
    steps: Vec<Step>,
    warnings: Vec<String>,
    /// Members whose join is part of this plan.
    joining: BTreeSet<String>,
    /// Members made Ceph clients earlier in this plan.
    ceph_configured: BTreeSet<String>,
}

impl<'a> Planner<'a> {
    fn new(
        choices: &'a Choices,
        observed: &'a Observed,
        order: &'a [&'a MemberChoice],
    ) -> Planner<'a> {
        Planner {
            choices,
            observed,
            order,
            steps: Vec::new(),
            warnings: Vec::new(),
            joining: BTreeSet::new(),
            ceph_configured: BTreeSet::new(),
        }
    }

    fn lxd(&self, member: &str) -> &'a LxdObserved {
        // validate() made sure every chosen member was observed.
        &self.observed.members[member].lxd
    }

    fn initiator(&self) -> &'a MemberChoice {
        self.order[0]
    }

    fn push(&mut self, member: &str, kind: StepKind) {
        self.steps.push(Step::new(member, kind));
    }

    fn wipes(&mut self) {
        for m in self.order {
            let obs = &self.observed.members[&m.name];
            for disk in &m.wipe {
                let found = reasons_of(obs, disk).unwrap_or_default();
                if found.is_empty() || in_use_by_us(self.choices, self.observed, m, disk) {
                    continue;
                }
                self.push(
                    &m.name,
                    StepKind::WipeDisk {
                        disk: disk.clone(),
                        found: found.to_vec(),
                    },
                );
            }
        }
    }

    fn lxd_cluster(&mut self) {
        let names: Vec<&str> = self.order.iter().map(|m| m.name.as_str()).collect();
        let init = self.initiator();
        let init_lxd = self.lxd(&init.name);
        if !init_lxd.clustered {
            let address = init.lxd_address();
            if init_lxd.https_address.as_deref() != Some(address.as_str()) {
                self.push(&init.name, StepKind::SetHttpsAddress { address });
            }
            self.push(&init.name, StepKind::BootstrapCluster);
        }
        for joiner in &self.order[1..] {
            if membership(self.observed, &init.name, &names, &joiner.name) == Membership::Ours {
                continue;
            }
            if init_lxd.cluster_members.contains(&joiner.name) {
                self.push(
                    &init.name,
                    StepKind::RemoveStaleMember {
                        joiner: joiner.name.clone(),
                    },
                );
            }
            let mut pool_sources = BTreeMap::new();
            if self.carried_by_join(Self::pool_status(LOCAL_POOL)) {
                let source = joiner.local_disk.as_ref().map(DiskRef::source);
                pool_sources.insert(LOCAL_POOL.to_owned(), source.unwrap_or("").to_owned());
            }
            // LXD makes the cluster's Ceph pools on the new member as it
            // joins: the member must be a Ceph client by then.
            let mut needs_ceph = false;
            for (pool, source) in self.remote_pools() {
                if self.carried_by_join(Self::pool_status(pool)) {
                    pool_sources.insert(pool.to_owned(), source.to_owned());
                    needs_ceph = true;
                }
            }
            // Before the token: issuing it delivers it, and the join follows.
            if needs_ceph {
                self.ceph_configure(joiner);
            }
            self.push(
                &init.name,
                StepKind::IssueToken {
                    joiner: joiner.name.clone(),
                },
            );
            self.push(
                &joiner.name,
                StepKind::JoinCluster {
                    joiner: joiner.name.clone(),
                    cluster_address: init.lxd_address(),
                    server_address: joiner.lxd_address(),
                    pool_sources,
                },
            );
            self.joining.insert(joiner.name.clone());
        }
    }

    /// Whether a joiner gets an object by joining: LXD creates on a new
    /// member what the cluster has created, from the join's member config.
    fn carried_by_join(&self, status: impl Fn(&LxdObserved) -> Option<Status>) -> bool {
        status(self.lxd(&self.initiator().name)) == Some(Status::Created)
    }

    /// The per-member-then-create dance LXD asks for pools and networks in
    /// a cluster: define the object on each member that lacks it, then one
    /// create without a target, unless it is created everywhere already.
    fn spread(
        &mut self,
        status: impl Fn(&LxdObserved) -> Option<Status>,
        pending: impl Fn(&MemberChoice) -> StepKind,
        create: StepKind,
    ) {
        let carried = self.carried_by_join(&status);
        let mut all_created = true;
        for m in self.order {
            if self.joining.contains(&m.name) && carried {
                continue;
            }
            match status(self.lxd(&m.name)) {
                Some(Status::Created) => {}
                Some(_) => all_created = false,
                None => {
                    all_created = false;
                    self.push(&m.name, pending(m));
                }
            }
        }
        if !all_created {
            let init = self.initiator().name.clone();
            self.push(&init, create);
        }
    }

    fn pool_status(pool: &'static str) -> impl Fn(&LxdObserved) -> Option<Status> {
        move |l| l.pools.get(pool).map(|p| p.status)
    }

    fn local_pool(&mut self) {
        let driver = self.choices.local_driver;
        let loop_backed: Vec<&str> = self
            .order
            .iter()
            .filter(|m| m.local_disk.is_none())
            .map(|m| m.name.as_str())
            .collect();
        if driver.uses_block_device() && !loop_backed.is_empty() {
            self.warnings.push(format!(
                "{} {} no disk for the local pool: {} pool is a {driver} loop file on the OS disk",
                loop_backed.join(", "),
                if loop_backed.len() == 1 {
                    "has"
                } else {
                    "have"
                },
                if loop_backed.len() == 1 {
                    "its"
                } else {
                    "their"
                },
            ));
        }
        // Definitions a stopped run left with another driver would make
        // LXD refuse the new ones: they go first, and the pool is then
        // planned as if nothing were there.
        let stale = self.order.iter().find_map(|m| {
            let pool = self.observed.local_pool(&m.name)?;
            (pool.status != Status::Created && pool.driver != driver.as_str())
                .then(|| pool.driver.clone())
        });
        if let Some(was) = &stale {
            let init = self.initiator().name.clone();
            self.push(
                &init,
                StepKind::DeletePendingPool {
                    pool: LOCAL_POOL.into(),
                    was: was.clone(),
                    now: driver,
                },
            );
        }
        let forget = stale.is_some();
        let known = Self::pool_status(LOCAL_POOL);
        let status = move |l: &LxdObserved| if forget { None } else { known(l) };
        self.spread(
            status,
            |m| StepKind::CreatePoolPending {
                pool: LOCAL_POOL.into(),
                driver,
                source: m.local_disk.as_ref().map(|d| d.source().to_owned()),
            },
            StepKind::CreatePool {
                pool: LOCAL_POOL.into(),
                driver,
                config: BTreeMap::new(),
            },
        );
    }

    fn network(&mut self) {
        let net = &self.choices.network;
        let mut config = BTreeMap::new();
        for (family, setting) in [("ipv4", &net.ipv4), ("ipv6", &net.ipv6)] {
            config.insert(format!("{family}.address"), setting.lxd_value());
            if setting.lxd_value() != "none" {
                config.insert(format!("{family}.nat"), "true".into());
            }
        }
        let name = net.name.clone();
        let status = {
            let name = name.clone();
            move |l: &LxdObserved| l.networks.get(&name).map(|n| n.status)
        };
        self.spread(
            status,
            |_| StepKind::CreateNetworkPending {
                network: name.clone(),
            },
            StepKind::CreateNetwork {
                network: name.clone(),
                config,
            },
        );
    }

    fn ceph(&mut self) {
        let Some(choice) = self.choices.ceph.clone() else {
            return;
        };
        let observed = self.observed;
        let obs = &observed.ceph;
        let hosts = self.choices.ceph_hosts();
        if hosts.len() < 3 {
            self.warnings.push(format!(
                "only {} member{} Ceph disks ({}): Ceph keeps {} of the data, and needs \
                 disks on 3 members to keep 3 copies and survive losing one",
                hosts.len(),
                if hosts.len() == 1 { " has" } else { "s have" },
                hosts.join(", "),
                if hosts.len() == 1 {
                    "a single copy".to_string()
                } else {
                    format!("{} copies", hosts.len())
                },
            ));
        }
        let mons = self.ceph_mons();
        for (i, m) in mons.iter().enumerate() {
            let kind = if i == 0 && obs.fsid.is_none() {
                StepKind::CephBootstrapMon {
                    address: m.ceph_address(),
                    public_network: choice.public_network,
                    cluster_network: choice.cluster_network,
                }
            } else if !obs.mons.contains(&m.name) {
                StepKind::CephAddMon {
                    address: m.ceph_address(),
                }
            } else {
                continue;
            };
            self.push(&m.name, kind);
        }
        // Every member is a client: its daemons, and LXD's Ceph driver on
        // each member, find the cluster through its config.
        for m in self.order {
            self.ceph_configure(m);
        }
        for m in &mons {
            if !obs.mgrs.contains(&m.name) {
                self.push(&m.name, StepKind::CephAddMgr);
            }
        }
        for m in self.order {
            for disk in &m.ceph_disks {
                if observed.is_running_osd(&m.name, disk) {
                    continue;
                }
                self.push(&m.name, StepKind::CephCreateOsd { disk: disk.clone() });
            }
        }
        let init = self.initiator().name.clone();
        if !obs.pools.contains(CEPH_RBD_POOL) {
            let size = hosts.len().min(3) as u32;
            self.push(
                &init,
                StepKind::CephCreatePool {
                    pool: CEPH_RBD_POOL.into(),
                    size,
                },
            );
        }
        self.remote_pool(REMOTE_POOL, Driver::Ceph, CEPH_RBD_POOL);
        if choice.cephfs {
            for m in &mons {
                if !obs.mdss.contains(&m.name) {
                    self.push(&m.name, StepKind::CephAddMds);
                }
            }
            if !obs.filesystems.contains(CEPH_FS) {
                self.push(&init, StepKind::CephCreateFs { fs: CEPH_FS.into() });
            }
            self.remote_pool(REMOTE_FS_POOL, Driver::CephFs, CEPH_FS);
        }
    }

    /// The members with a monitor once the plan is done: those that have
    /// one, then others in plan order up to three (five from five members).
    fn ceph_mons(&self) -> Vec<&'a MemberChoice> {
        let obs = &self.observed.ceph;
        let wanted = if self.order.len() >= 5 {
            5
        } else {
            self.order.len().min(3)
        };
        let mut mons: Vec<&MemberChoice> = self
            .order
            .iter()
            .copied()
            .filter(|m| obs.mons.contains(&m.name))
            .collect();
        for m in self.order {
            if mons.len() >= wanted {
                break;
            }
            if !mons.iter().any(|x| x.name == m.name) {
                mons.push(m);
            }
        }
        if obs.fsid.is_none() {
            // The first monitor makes the cluster; the initiator when it is
            // one, since it drives everything else.
            mons.sort_by_key(|m| m.name != self.choices.initiator);
        }
        mons
    }

    /// Makes `m` a client of the cluster's monitors, once per plan, unless
    /// its config already names them all and it has the admin key.
    fn ceph_configure(&mut self, m: &MemberChoice) {
        if self.ceph_configured.contains(&m.name) {
            return;
        }
        let mon_hosts: Vec<IpAddr> = self.ceph_mons().iter().map(|m| m.ceph_address()).collect();
        let done = self.observed.ceph.configs.get(&m.name).is_some_and(|c| {
            c.admin_keyring
                && c.mon_hosts.len() == mon_hosts.len()
                && mon_hosts.iter().all(|a| c.mon_hosts.contains(a))
        });
        if !done {
            self.push(&m.name, StepKind::CephConfigure { mon_hosts });
        }
        self.ceph_configured.insert(m.name.clone());
    }

    /// The LXD pools on Ceph that the choices ask for, with the Ceph pool or
    /// file system each stands on.
    fn remote_pools(&self) -> Vec<(&'static str, &'static str)> {
        let Some(ceph) = &self.choices.ceph else {
            return Vec::new();
        };
        let mut pools = vec![(REMOTE_POOL, CEPH_RBD_POOL)];
        if ceph.cephfs {
            pools.push((REMOTE_FS_POOL, CEPH_FS));
        }
        pools
    }

    /// LXD 5.0 takes `source` (the Ceph pool or file system) as member
    /// specific even for remote drivers: it goes with each member's
    /// definition, the same on every member.
    fn remote_pool(&mut self, pool: &'static str, driver: Driver, source: &str) {
        self.spread(
            Self::pool_status(pool),
            |_| StepKind::CreatePoolPending {
                pool: pool.into(),
                driver,
                source: Some(source.to_owned()),
            },
            StepKind::CreatePool {
                pool: pool.into(),
                driver,
                config: BTreeMap::new(),
            },
        );
    }

    fn default_profile(&mut self) {
        let root_pool = if self.choices.ceph.is_some() {
            REMOTE_POOL
        } else {
            LOCAL_POOL
        };
        let network = self.choices.network.name.as_str();
        let devices = &self.lxd(&self.initiator().name).default_profile;
        let has = |device: &str, want: &[(&str, &str)]| {
            devices.get(device).is_some_and(|d| {
                want.iter()
                    .all(|(k, v)| d.get(*k).map(String::as_str) == Some(v))
            })
        };
        let done = has(
            "root",
            &[("type", "disk"), ("path", "/"), ("pool", root_pool)],
        ) && has(
            "eth0",
            &[("type", "nic"), ("name", "eth0"), ("network", network)],
        );
        if !done {
            let init = self.initiator().name.clone();
            self.push(
                &init,
                StepKind::UpdateDefaultProfile {
                    root_pool: root_pool.into(),
                    network: network.into(),
                },
            );
        }
    }
}
