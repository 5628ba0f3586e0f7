//! Forms a Ceph cluster the way MicroCeph does, without LVM: one config
//! file per member, a mon and a mgr on each member, BlueStore OSDs on raw
//! devices or free partitions, an RBD pool, and optionally a CephFS file
//! system with its MDSs.
//!
//! Every step looks at the real state first (a data directory finished by
//! `--mkfs`, a BlueStore label on the device, the cluster's own answers),
//! so rerunning after a failure resumes instead of doing things twice.
//! The cluster is read only through `ceph ... --format json`, parsed into
//! the types of [`status`] (tested on answers recorded from Ceph 16.2).
//!
//! Two seams keep the machine out of the logic: [`CommandRunner`] runs
//! Ceph's tools (in the lab: inside a member's network namespace), and
//! [`Supervisor`] starts and stops daemons ([`SystemdSupervisor`] with the
//! packages' units in production, [`ProcessSupervisor`] in the lab).
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//! use muster_ceph::*;
//!
//! # fn main() -> Result<(), CephError> {
//! let runner: Arc<dyn CommandRunner> = Arc::new(HostRunner::new());
//! let systemd = Arc::new(SystemdSupervisor::new(runner.clone()));
//! let mut spec = MemberSpec::new("s1", "10.0.0.1".parse().unwrap(), MemberPaths::system());
//! spec.osds.push(OsdSpec::new("/dev/disk/by-id/nvme-example"));
//! let member = CephMember::new(spec, runner, systemd).with_owner(ceph_user()?);
//! let cluster = CephCluster {
//!     fsid: new_uuid()?,
//!     public_network: "10.0.0.0/24".into(),
//!     cluster_network: None,
//!     osd_memory_target: None,
//!     mon_data_avail_warn: None,
//!     members: vec![member],
//!     rbd_pool: Some("rbd".into()),
//!     cephfs: None,
//!     osd_up_timeout: Duration::from_secs(90),
//! };
//! // Safe to run again after a failure: it resumes.
//! let report = cluster.form()?;
//! println!("{:?}", report.changed());
//! cluster.wait_healthy(Duration::from_secs(180))?;
//! # Ok(())
//! # }
//! ```

mod cluster;
mod command;
mod conf;
pub mod device;
mod error;
mod local;
mod maintenance;
mod member;
mod removal;
pub mod status;
mod supervisor;
#[cfg(test)]
mod testkit;

pub use cluster::{CephCluster, FormReport};
pub use command::{handed_path, Cmd, CmdOutput, CommandRunner, HostRunner};
pub use conf::{parse_conf, render_conf, CephConf, ConfSummary, MemberPaths};
pub use error::CephError;
pub use local::{DaemonState, LocalOsd, LocalState};
pub use member::{
    ceph_user, mon_addrvec, new_uuid, wait_for, CephMember, Encryption, MemberSpec, OsdDevice,
    OsdOutcome, OsdSpec, Outcome, MIN_MON_RELEASE,
};
pub use removal::{Membership, OsdUsage, PgProgress};
pub use supervisor::{Daemon, DaemonKind, ProcessSupervisor, Supervisor, SystemdSupervisor};
