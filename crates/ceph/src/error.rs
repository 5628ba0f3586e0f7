use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong driving Ceph. A failed command carries the
/// command line and Ceph's own words (its stderr), so the user sees what
/// Ceph objected to.
#[derive(Debug, thiserror::Error)]
pub enum CephError {
    #[error("cannot run `{command}`: {source}. Are the Ceph packages installed (ceph-mon ceph-mgr ceph-osd ceph-common)?")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot hand `{command}` the files it reads: {source} (they are memfds: Linux 3.17 or later, and a free descriptor or two)")]
    Handing {
        command: String,
        #[source]
        source: std::io::Error,
    },

    #[error("`{command}` failed ({status}): {stderr}")]
    Failed {
        command: String,
        status: String,
        stderr: String,
    },

    #[error("`{command}` did not finish within {}s and was killed", waited.as_secs())]
    CommandTimeout { command: String, waited: Duration },

    #[error("unexpected answer from `{command}`: {detail}")]
    Protocol { command: String, detail: String },

    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The device carries something muster did not put there for this
    /// cluster; it is used only when the caller asks for a wipe.
    #[error("{} is not free: {reason}; choose another device or ask for it to be wiped", device.display())]
    DeviceInUse { device: PathBuf, reason: String },

    /// An OSD goes on a disk or a partition, nothing else: a regular file,
    /// `/dev/null` or a directory given as the device (or a link to one)
    /// is refused before anything reads, wipes or chowns it.
    #[error("{} is not a block device ({what}): an OSD needs a disk or a partition of this server", device.display())]
    NotABlockDevice { device: PathBuf, what: String },

    #[error(transparent)]
    Wipe(#[from] muster_disks::WipeError),

    #[error("{} holds osd.{id} of this cluster, but its data directory {} is missing; restore it or remove the OSD first", device.display(), dir.display())]
    OsdDirMissing {
        device: PathBuf,
        id: u32,
        dir: PathBuf,
    },

    #[error("{what} did not happen within {}s (last seen: {last})", waited.as_secs())]
    WaitTimeout {
        what: String,
        waited: Duration,
        last: String,
    },

    #[error("{daemon} exited right after it was started ({status}); see {}", log.display())]
    DaemonExited {
        daemon: String,
        status: String,
        log: PathBuf,
    },

    /// A setting that would not read back as itself from `ceph.conf`: it
    /// would end its line, open a section, add a key, or mean something
    /// else to Ceph's parser.
    #[error("cannot write {key} {value:?} into ceph.conf: {reason}")]
    ConfValue {
        key: &'static str,
        value: String,
        reason: &'static str,
    },

    #[error("{0}")]
    Invalid(String),
}

pub(crate) trait IoContext<T> {
    fn io(self, action: &'static str, path: impl Into<PathBuf>) -> Result<T, CephError>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn io(self, action: &'static str, path: impl Into<PathBuf>) -> Result<T, CephError> {
        self.map_err(|source| CephError::Io {
            action,
            path: path.into(),
            source,
        })
    }
}
