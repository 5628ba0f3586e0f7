//! What the unit tests of a member's steps share: a member in a temporary
//! directory whose commands are recorded and whose daemons are pretended.

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::command::recording::Recorder;
use crate::command::CmdOutput;
use crate::conf::MemberPaths;
use crate::error::CephError;
use crate::member::{CephMember, MemberSpec};
use crate::supervisor::{Daemon, Supervisor};

/// Knows what runs because it started it.
#[derive(Default)]
pub(crate) struct FakeSupervisor {
    pub running: Mutex<BTreeSet<Daemon>>,
    pub log: Mutex<Vec<String>>,
}

impl Supervisor for FakeSupervisor {
    fn start(&self, d: &Daemon) -> Result<(), CephError> {
        self.log.lock().unwrap().push(format!("start {d}"));
        self.running.lock().unwrap().insert(d.clone());
        Ok(())
    }
    fn stop(&self, d: &Daemon) -> Result<(), CephError> {
        self.log.lock().unwrap().push(format!("stop {d}"));
        self.running.lock().unwrap().remove(d);
        Ok(())
    }
    fn is_running(&self, d: &Daemon) -> Result<bool, CephError> {
        Ok(self.running.lock().unwrap().contains(d))
    }
}

pub(crate) struct Fixture {
    pub dir: PathBuf,
    pub rec: Arc<Recorder>,
    pub sup: Arc<FakeSupervisor>,
    /// Member s1, at 10.0.0.1, its files under `dir/s1`.
    pub member: CephMember,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A member whose directory does not exist yet.
pub(crate) fn bare(test: &str) -> Fixture {
    let dir =
        std::env::temp_dir().join(format!("muster-ceph-member-{test}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let paths = MemberPaths::under(&dir.join("s1"));
    let rec = Arc::new(Recorder::default());
    let sup = Arc::new(FakeSupervisor::default());
    let spec = MemberSpec::new("s1", "10.0.0.1".parse().unwrap(), paths);
    let mut member = CephMember::new(spec, rec.clone(), sup.clone());
    // The tests' devices are files.
    member.files_as_devices = true;
    Fixture {
        dir,
        rec,
        sup,
        member,
    }
}

/// A member with the directories its steps write into.
pub(crate) fn fixture(test: &str) -> Fixture {
    let f = bare(test);
    let paths = f.member.paths();
    for d in [&paths.osd_root, &paths.work_dir, &paths.mon_root] {
        fs::create_dir_all(d).unwrap();
    }
    f
}

/// Queues `stdout` as the answer of the next command.
pub(crate) fn answer(rec: &Recorder, stdout: &[u8]) {
    rec.answers.lock().unwrap().push(CmdOutput {
        code: Some(0),
        stdout: stdout.to_vec(),
        stderr: vec![],
    });
}

/// An answer recorded from a real cluster (`tests/fixtures`).
pub(crate) fn recorded(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The start of a BlueStore device: its label, as Ceph encodes it, for
/// the OSD `whoami` (uuid `uuid`) of the cluster `fsid`.
pub(crate) fn bluestore_label(uuid: &str, whoami: u32, fsid: &str) -> Vec<u8> {
    let string = |s: &str| [&(s.len() as u32).to_le_bytes()[..], s.as_bytes()].concat();
    let mut body = vec![0u8; 16 + 8 + 8];
    body.extend(string("main"));
    body.extend(2u32.to_le_bytes());
    for (k, v) in [("ceph_fsid", fsid), ("whoami", &whoami.to_string())] {
        body.extend(string(k));
        body.extend(string(v));
    }
    let mut head = crate::device::BLUESTORE_MAGIC.to_vec();
    head.extend(format!("{uuid}\n").as_bytes());
    head.extend([2, 1]);
    head.extend((body.len() as u32).to_le_bytes());
    head.extend(body);
    head
}
