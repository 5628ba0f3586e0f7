//! A member's Ceph as its own files and daemons show it, read without a
//! word to the cluster: what the initiator plans from, and what still
//! answers when the cluster is down.

use std::fs;
use std::io::ErrorKind;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::conf::{parse_conf, ConfSummary};
use crate::error::{CephError, IoContext};
use crate::member::CephMember;
use crate::supervisor::Daemon;

/// Whether a daemon of this member exists and runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DaemonState {
    /// Never made, or its making was interrupted: no finished data
    /// directory (a mon's store finished by `--mkfs`, a mgr's keyring).
    Absent,
    /// Made, but the supervisor says it is not running.
    Stopped,
    Running,
}

/// A finished OSD of this member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalOsd {
    pub id: u32,
    /// Its device as a canonical `/dev` path ([`crate::OsdDevice::shown`]:
    /// the name found when the device is gone or unknown).
    pub device: PathBuf,
    pub running: bool,
}

/// What [`CephMember::local_state`] finds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalState {
    /// The cluster settings of the member's config; `None` without a
    /// config or with one missing them.
    pub conf: Option<ConfSummary>,
    /// The cluster's admin keyring is installed.
    pub admin_keyring: bool,
    pub mon: DaemonState,
    pub mgr: DaemonState,
    /// Sorted by id.
    pub osds: Vec<LocalOsd>,
}

impl CephMember {
    /// This member's config, keyring and daemons, from its files and its
    /// supervisor only (no cluster command), so it works with the cluster
    /// down.
    pub fn local_state(&self) -> Result<LocalState, CephError> {
        let paths = self.paths();
        let conf = self.read_conf()?;
        let name = self.name();
        let mon = self.daemon_state(self.mon_initialized(), &Daemon::mon(name))?;
        let mgr = self.daemon_state(self.mgr_initialized(), &Daemon::mgr(name))?;
        let osds = self
            .local_osds()?
            .into_iter()
            .map(|(id, found)| {
                Ok(LocalOsd {
                    id,
                    device: found.shown(),
                    running: self.supervisor().is_running(&Daemon::osd(id))?,
                })
            })
            .collect::<Result<_, CephError>>()?;
        Ok(LocalState {
            conf,
            admin_keyring: paths.admin_keyring.is_file(),
            mon,
            mgr,
            osds,
        })
    }

    /// What this member's config file says; `None` when there is none.
    pub fn read_conf(&self) -> Result<Option<ConfSummary>, CephError> {
        let path = &self.paths().conf;
        match fs::read_to_string(path) {
            Ok(text) => Ok(parse_conf(&text)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).io("reading", path),
        }
    }

    fn daemon_state(&self, made: bool, daemon: &Daemon) -> Result<DaemonState, CephError> {
        Ok(if !made {
            DaemonState::Absent
        } else if self.supervisor().is_running(daemon)? {
            DaemonState::Running
        } else {
            DaemonState::Stopped
        })
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;
    use crate::conf::CephConf;
    use crate::member::{Outcome, MKFS_DONE};
    use crate::supervisor::Supervisor;
    use crate::testkit::bare;

    #[test]
    fn a_member_with_nothing_has_nothing_and_asks_nobody() {
        let f = bare("local-nothing");
        let state = f.member.local_state().unwrap();
        assert_eq!(
            state,
            LocalState {
                conf: None,
                admin_keyring: false,
                mon: DaemonState::Absent,
                mgr: DaemonState::Absent,
                osds: vec![],
            }
        );
        assert!(f.rec.lines().is_empty());
    }

    #[test]
    fn made_daemons_are_stopped_or_running_as_the_supervisor_says() {
        let f = bare("local-made");
        let p = f.member.paths().clone();
        let conf = CephConf {
            fsid: "F".into(),
            host: "s1".into(),
            mon_hosts: vec!["10.0.0.1".parse().unwrap()],
            public_network: "10.0.0.0/24".into(),
            cluster_network: Some("10.0.1.0/24".into()),
            paths: p.clone(),
            osd_memory_target: None,
            mon_data_avail_warn: None,
        };
        assert_eq!(
            f.member
                .ensure_configured(&conf, b"[client.admin]\n")
                .unwrap(),
            Outcome::Done
        );
        assert_eq!(
            f.member
                .ensure_configured(&conf, b"[client.admin]\n")
                .unwrap(),
            Outcome::AlreadyDone
        );
        // A mon store whose mkfs finished; a mgr whose key was never
        // fetched (its directory only).
        fs::create_dir_all(p.mon_data("s1")).unwrap();
        fs::write(p.mon_data("s1").join(MKFS_DONE), "").unwrap();
        fs::create_dir_all(p.mgr_data("s1")).unwrap();
        // osd.2 on a device reached through a link, as by-id paths are.
        let device = f.dir.join("sdb");
        fs::write(&device, "").unwrap();
        let by_id = f.dir.join("by-id-sdb");
        symlink(&device, &by_id).unwrap();
        fs::create_dir_all(p.osd_data(2)).unwrap();
        fs::write(p.osd_data(2).join(MKFS_DONE), "").unwrap();
        symlink(&by_id, p.osd_data(2).join("block")).unwrap();
        // musterd's record names the device, not the link.
        fs::create_dir_all(&p.work_dir).unwrap();
        fs::write(
            p.work_dir.join("osd-2.device"),
            format!("{}\n", by_id.display()),
        )
        .unwrap();
        // An OSD directory of an interrupted creation does not count.
        fs::create_dir_all(p.osd_data(3)).unwrap();

        let state = f.member.local_state().unwrap();
        assert_eq!(state.conf.as_ref().unwrap().fsid, "F");
        assert_eq!(
            state.conf.as_ref().unwrap().cluster_network.as_deref(),
            Some("10.0.1.0/24")
        );
        assert!(state.admin_keyring);
        assert_eq!(
            (state.mon, state.mgr),
            (DaemonState::Stopped, DaemonState::Absent)
        );
        assert_eq!(
            state.osds,
            [LocalOsd {
                id: 2,
                device: fs::canonicalize(&device).unwrap(),
                running: false
            }]
        );

        fs::write(p.mgr_data("s1").join("keyring"), "").unwrap();
        f.sup.start(&Daemon::mon("s1")).unwrap();
        f.sup.start(&Daemon::osd(2)).unwrap();
        let state = f.member.local_state().unwrap();
        assert_eq!(
            (state.mon, state.mgr),
            (DaemonState::Running, DaemonState::Stopped)
        );
        assert!(state.osds[0].running);
        assert!(f.rec.lines().is_empty(), "no command: {:?}", f.rec.lines());

        let json = serde_json::to_value(&state).unwrap();
        assert_eq!(json["mon"], "running");
        assert_eq!(
            json["osds"][0]["device"],
            device.canonicalize().unwrap().to_str().unwrap()
        );
        assert_eq!(serde_json::from_value::<LocalState>(json).unwrap(), state);
    }
}
