//! Forming a whole cluster from members: the order of the steps, each of
//! which is idempotent, so [`CephCluster::form`] can simply be run again.

use std::time::Duration;

use crate::conf::CephConf;
use crate::error::CephError;
use crate::member::{wait_for, CephMember, OsdOutcome, Outcome};
use crate::status::Status;

/// The cluster-wide settings and the members, the first of which
/// bootstraps.
pub struct CephCluster {
    pub fsid: String,
    /// CIDR of the network the daemons and clients use.
    pub public_network: String,
    /// See [`CephConf::cluster_network`].
    pub cluster_network: Option<String>,
    /// See [`CephConf::osd_memory_target`].
    pub osd_memory_target: Option<u64>,
    /// See [`CephConf::mon_data_avail_warn`].
    pub mon_data_avail_warn: Option<u8>,
    pub members: Vec<CephMember>,
    /// An RBD pool to create once the OSDs are up.
    pub rbd_pool: Option<String>,
    /// A CephFS file system to create once the OSDs are up, served by the
    /// MDSs of the members that run one ([`MemberSpec::mds`]).
    ///
    /// [`MemberSpec::mds`]: crate::MemberSpec::mds
    pub cephfs: Option<String>,
    /// Bound on waiting for all OSDs to come up.
    pub osd_up_timeout: Duration,
}

/// What [`CephCluster::form`] did, step by step.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormReport {
    /// (member, step, outcome), in the order run.
    pub steps: Vec<(String, &'static str, Outcome)>,
    pub osds: Vec<(String, OsdOutcome)>,
}

impl FormReport {
    fn record(&mut self, member: &str, step: &'static str, outcome: Outcome) {
        self.steps.push((member.to_owned(), step, outcome));
    }

    /// Steps that changed something; empty when the cluster was complete.
    pub fn changed(&self) -> Vec<String> {
        let steps = self
            .steps
            .iter()
            .filter(|(_, _, o)| *o == Outcome::Done)
            .map(|(m, s, _)| format!("{m}: {s}"));
        let osds = self
            .osds
            .iter()
            .filter(|(_, o)| o.outcome == Outcome::Done)
            .map(|(m, o)| format!("{m}: osd.{} on {}", o.id, o.device.display()));
        steps.chain(osds).collect()
    }
}

impl CephCluster {
    /// `member`'s config with these monitors.
    pub fn conf_for(&self, member: &CephMember, mons: &[&CephMember]) -> CephConf {
        CephConf {
            fsid: self.fsid.clone(),
            host: member.name().to_owned(),
            mon_hosts: mons.iter().map(|m| m.spec.addr).collect(),
            public_network: self.public_network.clone(),
            cluster_network: self.cluster_network.clone(),
            paths: member.paths().clone(),
            osd_memory_target: self.osd_memory_target,
            mon_data_avail_warn: self.mon_data_avail_warn,
        }
    }

    /// Mons first (the first member bootstraps, the others join one at a
    /// time), then the mgrs, the OSDs, and the pool.
    pub fn form(&self) -> Result<FormReport, CephError> {
        let first = match self.members.first() {
            Some(m) if m.spec.mon => m,
            Some(m) => {
                return Err(CephError::Invalid(format!(
                    "the first member ({}) bootstraps the cluster and must run a mon",
                    m.name()
                )))
            }
            None => return Err(CephError::Invalid("a Ceph cluster needs a member".into())),
        };
        let mut report = FormReport::default();
        let all_mons: Vec<&CephMember> = self.members.iter().filter(|m| m.spec.mon).collect();
        // A new cluster's configs list the mons that exist so far, so that
        // clients do not hunt for mons that are not there yet; once the
        // first mon exists every config may list them all.
        let rerun = first.mon_initialized();
        let mut mons: Vec<&CephMember> = Vec::new();
        for (i, m) in self.members.iter().enumerate() {
            if m.spec.mon {
                mons.push(m);
            }
            let listed = if rerun { &all_mons } else { &mons };
            report.record(
                m.name(),
                "config",
                m.write_config(&self.conf_for(m, listed))?,
            );
            if i == 0 {
                report.record(m.name(), "bootstrap mon", m.bootstrap_mon(&self.fsid)?);
                continue;
            }
            let admin = first.admin_keyring()?;
            report.record(m.name(), "admin keyring", m.install_admin_keyring(&admin)?);
            if m.spec.mon {
                report.record(m.name(), "join mon", m.join_mon()?);
            }
        }
        for m in &self.members {
            report.record(
                m.name(),
                "config",
                m.write_config(&self.conf_for(m, &all_mons))?,
            );
            if m.spec.mgr {
                report.record(m.name(), "mgr", m.ensure_mgr()?);
            }
        }
        for m in &self.members {
            for o in m.ensure_osds()? {
                report.osds.push((m.name().to_owned(), o));
            }
        }
        let ids: Vec<u32> = report.osds.iter().map(|(_, o)| o.id).collect();
        if !ids.is_empty() {
            first.wait_osds_up(&ids, self.osd_up_timeout)?;
        }
        if self.rbd_pool.is_none() && self.cephfs.is_none() {
            return Ok(report);
        }
        let osds = first.osd_dump()?.osds.len();
        if let Some(pool) = &self.rbd_pool {
            report.record(first.name(), "rbd pool", first.ensure_pool(pool, osds)?);
        }
        if let Some(fs) = &self.cephfs {
            report.record(first.name(), "file system", first.ensure_fs(fs, osds)?);
            for m in self.members.iter().filter(|m| m.spec.mds) {
                report.record(m.name(), "mds", m.ensure_mds()?);
            }
        }
        Ok(report)
    }

    /// Waits for HEALTH_OK, as seen from the first member.
    pub fn wait_healthy(&self, timeout: Duration) -> Result<Status, CephError> {
        let first = self
            .members
            .first()
            .ok_or_else(|| CephError::Invalid("a Ceph cluster needs a member".into()))?;
        wait_for("HEALTH_OK", timeout, || match first.status() {
            Ok(s) if s.health.is_ok() => Ok(s),
            Ok(s) => Err(s.health.summary()),
            Err(e) => Err(e.to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::Arc;

    use super::*;
    use crate::command::recording::Recorder;
    use crate::conf::MemberPaths;
    use crate::member::MemberSpec;
    use crate::supervisor::SystemdSupervisor;

    fn cluster(members: Vec<MemberSpec>, rec: &Arc<Recorder>) -> CephCluster {
        CephCluster {
            fsid: "f".into(),
            public_network: "10.0.0.0/24".into(),
            cluster_network: None,
            osd_memory_target: None,
            mon_data_avail_warn: None,
            members: members
                .into_iter()
                .map(|s| {
                    let sup = Arc::new(SystemdSupervisor::new(rec.clone()));
                    CephMember::new(s, rec.clone(), sup)
                })
                .collect(),
            rbd_pool: None,
            cephfs: None,
            osd_up_timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn the_bootstrapping_member_must_run_a_mon() {
        let rec = Arc::new(Recorder::default());
        let paths = MemberPaths::under(&PathBuf::from("/nonexistent/s1"));
        let mut s1 = MemberSpec::new("s1", "10.0.0.1".parse().unwrap(), paths);
        s1.mon = false;
        let e = cluster(vec![s1], &rec).form().unwrap_err();
        assert!(e.to_string().contains("must run a mon"), "{e}");
        assert!(cluster(vec![], &rec).form().is_err());
        assert!(rec.lines().is_empty());
    }

    #[test]
    fn a_report_lists_what_changed() {
        let mut r = FormReport::default();
        r.record("s1", "mgr", Outcome::AlreadyDone);
        r.record("s2", "join mon", Outcome::Done);
        r.osds.push((
            "s2".into(),
            OsdOutcome {
                id: 1,
                device: "/dev/sdb".into(),
                outcome: Outcome::Done,
            },
        ));
        assert_eq!(r.changed(), ["s2: join mon", "s2: osd.1 on /dev/sdb"]);
    }
}
