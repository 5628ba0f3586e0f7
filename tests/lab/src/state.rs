//! The record of what a lab created, kept on disk so that `muster-lab down`
//! can clean up after a process that died without doing it.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::error::{IoContext, LabError};

/// Where state files live: tmpfs, so a reboot (which also ends every lab)
/// forgets them.
pub const STATE_DIR: &str = "/run/muster-lab";
/// Where labs keep their files: disk images, agent configs, logs, state.
pub const LAB_BASE_DIR: &str = "/var/tmp/muster-lab";

const FORMAT_VERSION: u32 = 1;

/// A process, named so that a reused pid is not mistaken for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessId {
    pub pid: u32,
    /// Field 22 of /proc/PID/stat.
    pub start_time: u64,
}

/// A process the lab started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Process {
    #[serde(flatten)]
    pub id: ProcessId,
    /// What it is, for messages ("musterd of s1").
    pub what: String,
}

/// A disk image and the loop device it is attached to (`None` until
/// `losetup` has answered).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskFile {
    /// Server number, from 1.
    pub server: usize,
    pub file: PathBuf,
    pub device: Option<PathBuf>,
}

/// A link `ip netns exec` binds over /etc inside a lab namespace:
/// `/etc/netns/NETNS/ENTRY` -> `target`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EtcLink {
    pub link: PathBuf,
    pub target: PathBuf,
    /// The lab made the directory `/etc/netns/NETNS`, so it removes it
    /// again once empty.
    pub made_dir: bool,
}

/// Everything a lab is and has created. Each resource is recorded before it
/// is created, so a crash can leave records of things that do not exist (the
/// teardown skips those) but never things that exist without a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabState {
    pub version: u32,
    pub prefix: String,
    /// Third octet K of the lab subnet 10.231.K.0/24.
    pub subnet: u8,
    pub dir: PathBuf,
    /// Seconds since the epoch when the lab was made; the newest lab is the
    /// default for `muster-lab exec`.
    #[serde(default)]
    pub created: u64,
    pub servers: usize,
    pub disks_per_server: usize,
    pub disk_size_bytes: u64,
    pub agents: bool,
    /// One LXD (or Incus) per server, its directory `DIR/sN/lxd`.
    #[serde(default)]
    pub lxd: bool,
    /// Which of the two, when `lxd`.
    #[serde(default)]
    pub daemon: crate::plan::Daemon,
    /// Each server has a Ceph directory, `DIR/sN/ceph`, seen as /etc/ceph
    /// in its namespace.
    #[serde(default)]
    pub ceph: bool,
    /// The process that tears the lab down when it ends; `None` for a lab
    /// left running by `muster-lab up`.
    pub owner: Option<ProcessId>,
    /// The host's blackhole route for the lab subnet.
    pub route: Option<String>,
    pub namespaces: Vec<String>,
    pub disk_files: Vec<DiskFile>,
    pub processes: Vec<Process>,
    #[serde(default)]
    pub etc_links: Vec<EtcLink>,
}

impl LabState {
    pub fn new(prefix: &str, subnet: u8, dir: PathBuf) -> LabState {
        LabState {
            version: FORMAT_VERSION,
            prefix: prefix.to_string(),
            subnet,
            dir,
            created: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            servers: 0,
            disks_per_server: 0,
            disk_size_bytes: 0,
            agents: false,
            lxd: false,
            daemon: crate::plan::Daemon::Lxd,
            ceph: false,
            owner: None,
            route: None,
            namespaces: Vec::new(),
            disk_files: Vec::new(),
            processes: Vec::new(),
            etc_links: Vec::new(),
        }
    }

    pub fn path_in(state_dir: &Path, prefix: &str) -> PathBuf {
        state_dir.join(format!("{prefix}.json"))
    }

    /// Writes the state atomically (temporary file, then rename), so a
    /// reader never sees half a record.
    pub fn save(&self, state_dir: &Path) -> Result<(), LabError> {
        let path = Self::path_in(state_dir, &self.prefix);
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(self).expect("the lab state serializes");
        fs::write(&tmp, text).ctx(|| format!("writing {}", tmp.display()))?;
        fs::rename(&tmp, &path).ctx(|| format!("renaming {} to {}", tmp.display(), path.display()))
    }

    pub fn load(path: &Path) -> Result<LabState, LabError> {
        let text = fs::read_to_string(path).ctx(|| format!("reading {}", path.display()))?;
        let state: LabState = serde_json::from_str(&text).map_err(|e| LabError::State {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        if path.file_stem().and_then(|s| s.to_str()) != Some(state.prefix.as_str()) {
            return Err(LabError::State {
                path: path.to_path_buf(),
                reason: format!("it records lab {:?}, not the lab of its name", state.prefix),
            });
        }
        if state.version != FORMAT_VERSION {
            return Err(LabError::State {
                path: path.to_path_buf(),
                reason: format!(
                    "format version {} (this muster-lab reads {FORMAT_VERSION})",
                    state.version
                ),
            });
        }
        Ok(state)
    }

    pub fn remove(&self, state_dir: &Path) -> Result<(), LabError> {
        let path = Self::path_in(state_dir, &self.prefix);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(LabError::io(format!("removing {}", path.display()), e))
            }
            _ => Ok(()),
        }
    }
}

/// The state files in `state_dir`, sorted by name. A missing directory means
/// no labs.
pub fn state_files(state_dir: &Path) -> Result<Vec<PathBuf>, LabError> {
    let entries = match fs::read_dir(state_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(LabError::io(format!("listing {}", state_dir.display()), e)),
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    Ok(files)
}

/// Serializes the choice of prefix and subnet between labs being created at
/// the same time (by this process or another): held until the new lab's
/// state file is written.
pub fn lock(state_dir: &Path) -> Result<Flock<File>, LabError> {
    fs::create_dir_all(state_dir).ctx(|| format!("creating {}", state_dir.display()))?;
    let path = state_dir.join(".lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .ctx(|| format!("opening {}", path.display()))?;
    Flock::lock(file, FlockArg::LockExclusive)
        .map_err(|(_, errno)| LabError::io(format!("locking {}", path.display()), errno.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_through_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = LabState::new(
            "mlab00ff",
            17,
            PathBuf::from("/var/tmp/muster-lab/mlab00ff"),
        );
        state.servers = 2;
        state.disks_per_server = 1;
        state.disk_size_bytes = 4 << 30;
        state.agents = true;
        state.owner = Some(ProcessId {
            pid: 42,
            start_time: 4242,
        });
        state.route = Some("10.231.17.0/24".into());
        state.namespaces = vec!["mlab00ff-sw".into(), "mlab00ff-s1".into()];
        state.disk_files.push(DiskFile {
            server: 1,
            file: "/var/tmp/muster-lab/mlab00ff/s1/disk1.img".into(),
            device: Some("/dev/loop7".into()),
        });
        state.processes.push(Process {
            id: ProcessId {
                pid: 99,
                start_time: 12,
            },
            what: "musterd of s1".into(),
        });
        state.ceph = true;
        state.etc_links.push(EtcLink {
            link: "/etc/netns/mlab00ff-s1/ceph".into(),
            target: "/var/tmp/muster-lab/mlab00ff/s1/ceph".into(),
            made_dir: true,
        });
        state.save(dir.path()).unwrap();

        let files = state_files(dir.path()).unwrap();
        assert_eq!(files, [LabState::path_in(dir.path(), "mlab00ff")]);
        assert_eq!(LabState::load(&files[0]).unwrap(), state);

        state.remove(dir.path()).unwrap();
        state.remove(dir.path()).unwrap();
        assert!(state_files(dir.path()).unwrap().is_empty());
        assert!(state_files(&dir.path().join("missing")).unwrap().is_empty());
    }

    #[test]
    fn state_files_from_before_ceph_still_load() {
        let dir = tempfile::tempdir().unwrap();
        let state = LabState::new("mlab0abc", 3, PathBuf::from("/var/tmp/muster-lab/mlab0abc"));
        let mut json = serde_json::to_value(&state).unwrap();
        let fields = json.as_object_mut().unwrap();
        for added in ["ceph", "etc_links"] {
            assert!(fields.remove(added).is_some(), "{added}");
        }
        let path = LabState::path_in(dir.path(), "mlab0abc");
        fs::write(&path, json.to_string()).unwrap();
        assert_eq!(LabState::load(&path).unwrap(), state);
    }

    #[test]
    fn bad_state_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.json");
        fs::write(&path, "{ not json").unwrap();
        let err = LabState::load(&path).unwrap_err().to_string();
        assert!(err.contains("x.json"), "{err}");

        let mut state = LabState::new("x", 1, PathBuf::from("/tmp/x"));
        state.version = 99;
        fs::write(&path, serde_json::to_string(&state).unwrap()).unwrap();
        let err = LabState::load(&path).unwrap_err().to_string();
        assert!(err.contains("format version 99"), "{err}");

        state.version = FORMAT_VERSION;
        state.prefix = "y".into();
        fs::write(&path, serde_json::to_string(&state).unwrap()).unwrap();
        let err = LabState::load(&path).unwrap_err().to_string();
        assert!(err.contains("records lab \"y\""), "{err}");
    }

    #[test]
    fn the_lock_can_be_taken_again_once_released() {
        let dir = tempfile::tempdir().unwrap();
        drop(lock(dir.path()).unwrap());
        drop(lock(dir.path()).unwrap());
    }
}
