//! This server's part in Ceph: its own files and daemons as the initiator's
//! plan needs them, the Ceph steps the initiator asks of it, and Ceph's
//! health for `muster status`.
//!
//! Ceph's daemons run on the member that owns the disks, so every step runs
//! on its member; the initiator only sends the cluster's settings (fsid,
//! monitors, networks) and the admin key along, over pinned mutual TLS.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use muster_ceph::{
    ceph_user, CephConf, CephError, CephMember, CommandRunner, ConfSummary, DaemonState,
    HostRunner, LocalState, MemberPaths, MemberSpec, OsdSpec, Outcome, ProcessSupervisor,
    Supervisor, SystemdSupervisor,
};
use muster_plan::{
    CephConfigObserved, CephMaintenanceObserved, CephObserved, CephRemovalObserved, Observed,
    OsdObserved, StepKind,
};
use muster_proto::formation::{CephHostStatus, CephOsdStatus, CephStatus};
use serde::{Deserialize, Serialize};

use crate::config::{CephConfig, CephDaemons, CephRoot, DisksConfig};
use crate::error::{Error, ErrorChain, Kind};

/// A monitor joining the quorum or an OSD coming up: Ceph's own waits are
/// bounded below this.
pub(crate) const STEP_TIMEOUT: Duration = Duration::from_secs(240);
/// How long an OSD may take to be reported up after its daemon started.
const OSD_UP_TIMEOUT: Duration = Duration::from_secs(120);

/// What this agent needs to drive its member's Ceph.
pub(crate) struct CephLocal {
    name: String,
    paths: MemberPaths,
    runner: Arc<dyn CommandRunner>,
    supervisor: Arc<dyn Supervisor>,
    /// Who owns the daemons' files: the packages' `ceph` user when systemd
    /// runs them; whoever runs musterd when it runs them itself.
    daemons: CephDaemons,
    mon_data_avail_warn: Option<u8>,
    osd_memory_target: Option<u64>,
    /// How this server's disks are scanned: an OSD goes only on a device
    /// the scan lists ([`crate::disks::check_osd_device`]).
    disks: DisksConfig,
    /// One step at a time on this member: two OSD creations must not race
    /// for the same id, a mon must not be made twice.
    busy: tokio::sync::Mutex<()>,
}

impl CephLocal {
    pub(crate) fn new(name: &str, config: &CephConfig, disks: &DisksConfig) -> CephLocal {
        let paths = match &config.root {
            CephRoot::System => MemberPaths::system(),
            CephRoot::Dir(dir) => MemberPaths::under(dir),
        };
        let runner: Arc<dyn CommandRunner> = Arc::new(HostRunner::new());
        let supervisor: Arc<dyn Supervisor> = match config.daemons {
            CephDaemons::Systemd => Arc::new(SystemdSupervisor::new(runner.clone())),
            // musterd runs in the member's namespace already.
            CephDaemons::Agent => Arc::new(ProcessSupervisor::new(&paths, None)),
        };
        CephLocal {
            name: name.to_owned(),
            paths,
            runner,
            supervisor,
            daemons: config.daemons,
            mon_data_avail_warn: config.mon_data_avail_warn,
            osd_memory_target: config.osd_memory_target,
            disks: disks.clone(),
            busy: tokio::sync::Mutex::new(()),
        }
    }

    /// The driver for this member, its address on Ceph's public network
    /// being `addr` (only monitors use it).
    fn member(&self, addr: IpAddr) -> Result<CephMember, CephError> {
        let spec = MemberSpec::new(&self.name, addr, self.paths.clone());
        let owner = match self.daemons {
            CephDaemons::Systemd => ceph_user()?,
            CephDaemons::Agent => None,
        };
        Ok(CephMember::new(spec, self.runner.clone(), self.supervisor.clone()).with_owner(owner))
    }

    /// The driver when no address is needed (observing, OSDs, managers).
    fn any_member(&self) -> Result<CephMember, CephError> {
        self.member(IpAddr::from([0, 0, 0, 0]))
    }

    fn conf(&self, settings: &ConfSummary) -> CephConf {
        CephConf {
            fsid: settings.fsid.clone(),
            host: self.name.clone(),
            mon_hosts: settings.mon_hosts.clone(),
            public_network: settings.public_network.clone(),
            cluster_network: settings.cluster_network.clone(),
            paths: self.paths.clone(),
            osd_memory_target: self.osd_memory_target,
            mon_data_avail_warn: self.mon_data_avail_warn,
        }
    }
}

/// One Ceph step for a member other than the initiator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub(crate) enum CephAction {
    /// Write the config, install the admin key, make and start a monitor.
    AddMon {
        address: IpAddr,
    },
    /// Write the config and install the admin key.
    Configure,
    AddMgr,
    AddMds,
    /// `device`: the path the plan chose (by-id where there is one).
    CreateOsd {
        device: String,
    },
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CephStepRequest {
    pub action: CephAction,
    /// The cluster-wide settings the member's config is written from.
    pub settings: ConfSummary,
    /// The admin keyring file's text.
    pub admin_keyring: String,
}

impl std::fmt::Debug for CephStepRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let CephStepRequest {
            action,
            settings,
            admin_keyring: _,
        } = self;
        f.debug_struct("CephStepRequest")
            .field("action", action)
            .field("settings", settings)
            .field("admin_keyring", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CephStepResponse {
    /// False when the step found its work done already.
    pub changed: bool,
}

fn ceph_error(name: &str, e: &CephError) -> Error {
    let error = Error::new(Kind::Upstream, format!("{name}: {}", ErrorChain(e)));
    let program = match e {
        CephError::Failed { command, .. } | CephError::Protocol { command, .. } => {
            command.split(' ').next().unwrap_or_default()
        }
        _ => return error,
    };
    // Root ran it: what it printed (paths, key names, the machine's state)
    // is for this server's operator, not for whoever asked over the network.
    tracing::warn!(error = %error.message, "a Ceph command failed");
    error.told_remotely(format!(
        "{name}: `{program}` failed; what it said is in musterd's log on {name}"
    ))
}

/// Runs blocking Ceph work off the async threads.
async fn blocking<T: Send + 'static>(
    name: &str,
    work: impl FnOnce() -> Result<T, CephError> + Send + 'static,
) -> Result<T, Error> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result.map_err(|e| ceph_error(name, &e)),
        Err(e) => Err(Error::new(
            Kind::Internal,
            format!("{name}: a Ceph step did not finish: {e}"),
        )),
    }
}

/// Runs `work` with this member's Ceph driver (no address: not for a
/// monitor of its own) off the async threads.
pub(crate) async fn on_member<T: Send + 'static>(
    ceph: &CephLocal,
    work: impl FnOnce(CephMember) -> Result<T, CephError> + Send + 'static,
) -> Result<T, Error> {
    let member = ceph.any_member().map_err(|e| ceph_error(&ceph.name, &e))?;
    blocking(&ceph.name, move || work(member)).await
}

/// This member's Ceph files and daemons, read now.
pub(crate) async fn local_state(ceph: &CephLocal) -> Result<LocalState, Error> {
    on_member(ceph, |member| member.local_state()).await
}

/// Records the devices of this server's OSDs made by builds that kept no
/// record ([`CephMember::record_old_osds`]), so that the ceph-osd@ drop-in
/// gives each its device at the next boot. At start: nothing else writes
/// them until `muster init` runs again.
pub(crate) async fn record_old_osds(ceph: &CephLocal) {
    // Not beside a step that makes an OSD and writes its record.
    let _busy = ceph.busy.lock().await;
    let done = match on_member(ceph, |member| member.record_old_osds()).await {
        Ok(done) => done,
        Err(e) => {
            tracing::warn!(error = %e.message, "cannot record the devices of OSDs made by an earlier build");
            return;
        }
    };
    for (id, name) in done {
        match name {
            Some(name) => tracing::info!(
                osd = id,
                device = %name.display(),
                "recorded the device of an OSD made by an earlier build: its block link points at a block device under /dev whose BlueStore label names it"
            ),
            None => tracing::warn!(
                osd = id,
                "an OSD made by an earlier build has no device record, and its block link does not point at a block device under /dev whose BlueStore label names it: its device is not given to ceph at boot until the device is back and `muster init` runs again"
            ),
        }
    }
}

/// Carries out `req` on this member.
pub(crate) async fn run_step(
    ceph: &CephLocal,
    req: CephStepRequest,
) -> Result<CephStepResponse, Error> {
    let _busy = ceph.busy.lock().await;
    if let CephAction::CreateOsd { device } = &req.action {
        // Whatever the caller names: only a disk or partition of this
        // server that a wipe would not refuse, looked at now.
        crate::disks::check_osd_device(&ceph.name, &ceph.disks, device).await?;
    }
    let conf = ceph.conf(&req.settings);
    let keyring = req.admin_keyring.into_bytes();
    let member = match &req.action {
        CephAction::AddMon { address } => ceph.member(*address),
        _ => ceph.any_member(),
    }
    .map_err(|e| ceph_error(&ceph.name, &e))?;
    let outcome = blocking(&ceph.name, move || match req.action {
        CephAction::Configure => member.ensure_configured(&conf, &keyring),
        CephAction::AddMon { .. } => {
            let configured = member.ensure_configured(&conf, &keyring)?;
            Ok(configured.or(member.join_mon()?))
        }
        CephAction::AddMgr => member.ensure_mgr(),
        CephAction::AddMds => member.ensure_mds(),
        CephAction::CreateOsd { device } => {
            let osd = member.ensure_osd(&OsdSpec::new(device))?;
            member.wait_osds_up(&[osd.id], OSD_UP_TIMEOUT)?;
            Ok(osd.outcome)
        }
    })
    .await?;
    Ok(CephStepResponse {
        changed: outcome == Outcome::Done,
    })
}

/// This member leaves Ceph for good ([`CephMember::leave`]), on its
/// controller's word during `muster remove`.
pub(crate) async fn leave(ceph: &CephLocal) -> Result<(), Error> {
    let _busy = ceph.busy.lock().await;
    tracing::warn!(
        "leaving the Ceph cluster: every Ceph daemon here is stopped and its data removed"
    );
    on_member(ceph, |member| member.leave()).await
}

/// Whether this server holds a Ceph config and the admin key, and so may
/// run cluster-wide commands.
async fn administers(ceph: &CephLocal) -> Result<bool, Error> {
    let local = local_state(ceph).await?;
    Ok(local.conf.is_some() && local.admin_keyring)
}

/// Whether `target` is a CRUSH host and has `noout` set, for planning
/// maintenance; `None` when this server holds no Ceph config and admin
/// key.
pub(crate) async fn maintenance_view(
    ceph: &CephLocal,
    target: &str,
) -> Result<Option<CephMaintenanceObserved>, Error> {
    if !administers(ceph).await? {
        return Ok(None);
    }
    let (tree, dump) =
        on_member(ceph, |member| Ok((member.osd_tree()?, member.osd_dump()?))).await?;
    Ok(Some(CephMaintenanceObserved {
        host: tree.hosts().iter().any(|(name, _)| name == target),
        noout: dump.host_noout(target),
    }))
}

/// The cluster's members as its monitors know them, for planning a
/// removal; `None` when this server holds no Ceph config and admin key
/// (no Ceph cluster, or not one this server may administer).
pub(crate) async fn removal_view(ceph: &CephLocal) -> Result<Option<CephRemovalObserved>, Error> {
    if !administers(ceph).await? {
        return Ok(None);
    }
    let m = on_member(ceph, |member| member.membership()).await?;
    Ok(Some(CephRemovalObserved {
        mons: m.mons,
        mon_addrs: m.mon_addrs,
        // The members' own files: read through their agents by the caller.
        configs: BTreeMap::new(),
        quorum: m.quorum,
        mgrs: m.mgrs,
        osds: m
            .osds
            .into_iter()
            .map(|o| OsdObserved {
                id: o.id,
                host: o.host,
                is_in: o.is_in,
                kb: o.kb,
                kb_used: o.kb_used,
            })
            .collect(),
        crush_hosts: m.crush_hosts,
        pools: m.pools,
    }))
}

/// The initiator makes the cluster: a new fsid (or the one an interrupted
/// run wrote), its config, the admin key, the first monitor.
async fn bootstrap(
    ceph: &CephLocal,
    address: IpAddr,
    public_network: Option<IpNet>,
    cluster_network: Option<IpNet>,
) -> Result<(), Error> {
    let _busy = ceph.busy.lock().await;
    let name = ceph.name.clone();
    let public_network = match public_network {
        Some(net) => net,
        None => network_of(address).ok_or_else(|| {
            Error::new(
                Kind::Invalid,
                format!(
                    "{name}: no interface has the address {address}, so Ceph's public network \
                     cannot be told; set storage.ceph.public_network in the preseed"
                ),
            )
        })?,
    };
    let member = ceph.member(address).map_err(|e| ceph_error(&name, &e))?;
    // The fsid is filled in from the config an interrupted run wrote, or
    // anew.
    let mut conf = ceph.conf(&ConfSummary {
        fsid: String::new(),
        mon_hosts: vec![address],
        public_network: public_network.trunc().to_string(),
        cluster_network: cluster_network.map(|n| n.trunc().to_string()),
    });
    blocking(&name, move || {
        conf.fsid = match member.read_conf()? {
            Some(earlier) => earlier.fsid,
            None => muster_ceph::new_uuid()?,
        };
        member.write_config(&conf)?;
        member.bootstrap_mon(&conf.fsid)
    })
    .await?;
    Ok(())
}

/// This member's Ceph config as written; `None` when it has none.
async fn local_conf(ceph: &CephLocal) -> Result<Option<ConfSummary>, Error> {
    on_member(ceph, |member| member.read_conf()).await
}

/// The network of the local interface that has `address`.
fn network_of(address: IpAddr) -> Option<IpNet> {
    let interfaces = crate::interfaces::list(std::path::Path::new("/sys/class/net")).ok()?;
    interfaces
        .iter()
        .flat_map(|i| &i.addresses)
        .filter_map(|a| a.parse::<IpNet>().ok())
        .find(|net| net.addr() == address)
}

/// The settings and admin key the initiator hands out: its own, written
/// when it bootstrapped the cluster.
async fn cluster_settings(ceph: &CephLocal) -> Result<(ConfSummary, String), Error> {
    let name = &ceph.name;
    let Some(conf) = local_conf(ceph).await? else {
        return Err(Error::new(
            Kind::Conflict,
            format!(
                "{name} has no Ceph config: the Ceph cluster is made by the initiator, which \
                 must be the member that made it"
            ),
        ));
    };
    let path = &ceph.paths.admin_keyring;
    let keyring = std::fs::read_to_string(path).map_err(|e| {
        Error::new(
            Kind::Internal,
            format!("{name}: cannot read {}: {e}", path.display()),
        )
    })?;
    Ok((conf, keyring))
}

/// Carries out a Ceph step of the plan on the initiator: the cluster-wide
/// ones and its own here; for another member, the request its agent is to
/// carry out (`None` when done here).
pub(crate) async fn apply(
    ceph: &CephLocal,
    member: &str,
    kind: &StepKind,
) -> Result<Option<CephStepRequest>, Error> {
    match kind {
        StepKind::CephBootstrapMon {
            address,
            public_network,
            cluster_network,
        } => {
            if member != ceph.name {
                return Err(Error::new(
                    Kind::Invalid,
                    format!("the first Ceph monitor is made by the initiator, not {member}"),
                ));
            }
            bootstrap(ceph, *address, *public_network, *cluster_network).await?;
            return Ok(None);
        }
        StepKind::CephCreatePool { pool, size } => {
            let (pool, size) = (pool.clone(), *size as usize);
            on_member(ceph, move |c| c.ensure_pool(&pool, size)).await?;
            return Ok(None);
        }
        StepKind::CephCreateFs { fs } => {
            let fs = fs.clone();
            on_member(ceph, move |c| {
                let osds = c.osd_dump()?.osds.len();
                c.ensure_fs(&fs, osds)
            })
            .await?;
            return Ok(None);
        }
        _ => {}
    }
    let (mut settings, admin_keyring) = cluster_settings(ceph).await?;
    let action = match kind {
        StepKind::CephAddMon { address } => {
            if !settings.mon_hosts.contains(address) {
                settings.mon_hosts.push(*address);
            }
            CephAction::AddMon { address: *address }
        }
        StepKind::CephConfigure { mon_hosts } => {
            settings.mon_hosts = mon_hosts.clone();
            CephAction::Configure
        }
        StepKind::CephAddMgr => CephAction::AddMgr,
        StepKind::CephAddMds => CephAction::AddMds,
        StepKind::CephCreateOsd { disk } => CephAction::CreateOsd {
            device: disk.source().to_owned(),
        },
        other => {
            return Err(Error::new(
                Kind::Internal,
                format!("this version of muster cannot carry out this step yet: {other:?}"),
            ))
        }
    };
    let req = CephStepRequest {
        action,
        settings,
        admin_keyring,
    };
    if member == ceph.name {
        run_step(ceph, req).await?;
        return Ok(None);
    }
    Ok(Some(req))
}

/// Fills `observed.ceph` from every member's local state (`states`) and,
/// once the initiator runs a monitor, from the cluster itself.
pub(crate) async fn observe(
    here: &CephLocal,
    states: &[(String, LocalState)],
    observed: &mut Observed,
) {
    let mut ceph = CephObserved::default();
    for (name, local) in states {
        if let Some(conf) = &local.conf {
            ceph.configs.insert(
                name.clone(),
                CephConfigObserved {
                    fsid: conf.fsid.clone(),
                    mon_hosts: conf.mon_hosts.clone(),
                    admin_keyring: local.admin_keyring,
                },
            );
            // The cluster exists once a monitor was made.
            if local.mon != DaemonState::Absent && ceph.fsid.is_none() {
                ceph.fsid = Some(conf.fsid.clone());
            }
        }
        if local.mon == DaemonState::Running {
            ceph.mons.insert(name.clone());
        }
        if local.mgr == DaemonState::Running {
            ceph.mgrs.insert(name.clone());
        }
        for osd in &local.osds {
            let device = osd.device.display().to_string();
            ceph.osds
                .entry(name.clone())
                .or_default()
                .insert(device.clone());
            if !osd.running {
                ceph.stopped_osds
                    .entry(name.clone())
                    .or_default()
                    .insert(device);
            }
        }
    }
    if ceph.mons.contains(&here.name) {
        if let Ok(member) = here.any_member() {
            // What cannot be read is planned again: those steps are
            // idempotent.
            let read = tokio::task::spawn_blocking(move || {
                // Two `ceph` commands before every step, each mostly the
                // CLI's start: side by side.
                std::thread::scope(|s| {
                    let fs_map = s.spawn(|| member.fs_dump().ok());
                    let pools = member.pools().ok();
                    (pools, fs_map.join().ok().flatten())
                })
            })
            .await;
            if let Ok((pools, fs_map)) = read {
                ceph.pools = pools.into_iter().flatten().map(|p| p.pool_name).collect();
                if let Some(map) = fs_map {
                    ceph.filesystems = map
                        .filesystems
                        .iter()
                        .map(|f| f.mdsmap.fs_name.clone())
                        .collect();
                    let ranked = map.filesystems.iter().flat_map(|f| f.mdsmap.info.values());
                    ceph.mdss = ranked
                        .chain(&map.standbys)
                        .map(|i| i.name.clone())
                        .collect();
                }
            }
        }
    }
    observed.ceph = ceph;
}

/// Ceph's health for `muster status`, when this server has a part in it.
pub(crate) async fn status(ceph: &CephLocal) -> Option<CephStatus> {
    local_conf(ceph).await.ok().flatten()?;
    let member = ceph.any_member().ok()?;
    let read = tokio::task::spawn_blocking(move || {
        Ok::<_, CephError>((
            member.status()?,
            member.quorum_status()?,
            member.osd_tree()?,
            member.osd_dump()?,
        ))
    })
    .await
    .ok()?;
    Some(match read {
        Ok((status, quorum, tree, dump)) => summarize(&status, &quorum, &tree, &dump),
        Err(e) => CephStatus {
            health: format!("unknown: {}", ErrorChain(&e)),
            ..CephStatus::default()
        },
    })
}

/// Pure: the parts of Ceph's answers `muster status` shows.
fn summarize(
    status: &muster_ceph::status::Status,
    quorum: &muster_ceph::status::QuorumStatus,
    tree: &muster_ceph::status::OsdTree,
    dump: &muster_ceph::status::OsdDump,
) -> CephStatus {
    let hosts: Vec<CephHostStatus> = tree
        .hosts()
        .into_iter()
        .map(|(name, ids)| CephHostStatus {
            noout: dump.host_noout(&name),
            name,
            osds: ids
                .into_iter()
                .map(|id| {
                    let entry = dump.osds.iter().find(|o| o.osd == id);
                    CephOsdStatus {
                        id,
                        up: entry.is_some_and(|o| o.up == 1),
                        is_in: entry.is_some_and(|o| o.is_in == 1),
                    }
                })
                .collect(),
        })
        .collect();
    let with_osds = hosts.iter().filter(|h| !h.osds.is_empty()).count();
    let mut warnings = Vec::new();
    if with_osds < 3 {
        warnings.push(format!(
            "only {with_osds} member{} OSDs: Ceph cannot keep 3 copies of the data on \
             different members",
            if with_osds == 1 { " has" } else { "s have" }
        ));
    }
    CephStatus {
        health: status.health.status.clone(),
        checks: status
            .health
            .checks
            .iter()
            .map(|(name, c)| format!("{name}: {}", c.summary.message))
            .collect(),
        mons: quorum.mon_names().into_iter().map(str::to_owned).collect(),
        quorum: quorum.quorum_names.clone(),
        hosts,
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use muster_ceph::status;

    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/../ceph/tests/fixtures/pacific-16.2.15-{name}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn status_shows_health_checks_quorum_and_osds_per_member() {
        let s = status::parse_status(&fixture("status-one-member-down")).unwrap();
        let q = status::parse_quorum_status(&fixture("quorum-status")).unwrap();
        let tree = status::parse_osd_tree(&fixture("osd-tree")).unwrap();
        let mut dump = status::parse_osd_dump(&fixture("osd-dump")).unwrap();
        dump.osds[2].up = 0;
        let c = summarize(&s, &q, &tree, &dump);
        assert_eq!(c.health, "HEALTH_WARN");
        assert_eq!(c.checks.len(), 3, "{:?}", c.checks);
        assert!(c.checks[0].starts_with("MON_DOWN: "), "{:?}", c.checks);
        assert_eq!(c.mons, ["s1", "s2", "s3"]);
        let hosts: Vec<(&str, Vec<(u32, bool)>)> = c
            .hosts
            .iter()
            .map(|h| {
                (
                    h.name.as_str(),
                    h.osds.iter().map(|o| (o.id, o.up)).collect(),
                )
            })
            .collect();
        assert_eq!(
            hosts,
            [
                ("s1", vec![(0, true)]),
                ("s2", vec![(1, true)]),
                ("s3", vec![(2, false)])
            ]
        );
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    }

    #[test]
    fn fewer_than_three_members_with_osds_is_a_warning() {
        let s = status::parse_status(&fixture("status-health-ok")).unwrap();
        let q = status::parse_quorum_status(&fixture("quorum-status")).unwrap();
        let mut tree = status::parse_osd_tree(&fixture("osd-tree")).unwrap();
        tree.nodes.retain(|n| n.name != "s3");
        let dump = status::parse_osd_dump(&fixture("osd-dump")).unwrap();
        let c = summarize(&s, &q, &tree, &dump);
        assert_eq!(
            c.warnings,
            ["only 2 members have OSDs: Ceph cannot keep 3 copies of the data on different members"]
        );
    }

    #[test]
    fn what_a_failed_command_printed_is_kept_from_remote_callers() {
        let failed = CephError::Failed {
            command: "ceph-mon --mkfs -i s2 --keyring /var/lib/ceph/tmp/k".into(),
            status: "exit code 1".into(),
            stderr: "cannot open /var/lib/ceph/mon/ceph-s2/keyring".into(),
        };
        let e = ceph_error("s2", &failed);
        assert!(e.message.contains("cannot open /var/lib/ceph"), "{e}");
        assert_eq!(
            e.remote.as_deref(),
            Some("s2: `ceph-mon` failed; what it said is in musterd's log on s2")
        );
        // What muster words itself is told as it is.
        let own = ceph_error("s2", &CephError::Invalid("no such pool".into()));
        assert_eq!(own.remote, None);
    }

    #[test]
    fn a_step_request_keeps_the_admin_key_out_of_debug_output() {
        let req = CephStepRequest {
            action: CephAction::Configure,
            settings: ConfSummary {
                fsid: "f".into(),
                mon_hosts: vec![],
                public_network: "10.0.0.0/24".into(),
                cluster_network: None,
            },
            admin_keyring: "[client.admin]\nkey = AQBsecret==\n".into(),
        };
        let shown = format!("{req:?}");
        assert!(!shown.contains("AQBsecret"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }

    #[test]
    fn a_step_request_names_its_action() {
        let req = CephStepRequest {
            action: CephAction::CreateOsd {
                device: "/dev/disk/by-id/x".into(),
            },
            settings: ConfSummary {
                fsid: "f".into(),
                mon_hosts: vec!["10.0.0.1".parse().unwrap()],
                public_network: "10.0.0.0/24".into(),
                cluster_network: None,
            },
            admin_keyring: "[client.admin]\n".into(),
        };
        let json = serde_json::to_value(&req).unwrap();
        assert_eq!(json["action"]["action"], "create_osd");
        let back: CephStepRequest = serde_json::from_value(json).unwrap();
        assert_eq!(back, req);
    }
}
