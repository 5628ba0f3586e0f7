use std::path::PathBuf;

/// Everything that can go wrong while building, using or tearing down a lab.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("the lab needs root: {0}")]
    NotRoot(String),

    #[error("invalid lab: {0}")]
    Spec(String),

    #[error("`{command}` failed: {detail}")]
    Command { command: String, detail: String },

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    #[error("{name} not found at {}: run `cargo build --workspace` first, or set MUSTER_BIN_DIR to the directory that holds it", path.display())]
    BinaryMissing { name: String, path: PathBuf },

    #[error("a lab with Ceph needs the directory {} on the host, for `ip netns exec` to show each server's Ceph directory there: install ceph-common (apt-get install ceph-common), which makes it", path.display())]
    NoEtcCeph { path: PathBuf },

    #[error("agent of {server} did not become ready: {reason}\n--- last lines of {} ---\n{tail}", log.display())]
    AgentNotReady {
        server: String,
        reason: String,
        log: PathBuf,
        tail: String,
    },

    #[error("the agent of {0} is not running")]
    AgentNotRunning(String),

    #[error("the agent of {0} is already running")]
    AgentRunning(String),

    #[error("no server {index} in this lab (servers are 1..={count})")]
    NoSuchServer { index: usize, count: usize },

    #[error("no lab {0} (see `muster-lab status`)")]
    NoSuchLab(String),

    #[error("state file {}: {reason}", path.display())]
    State { path: PathBuf, reason: String },

    #[error("the lab {0} has already been torn down")]
    TornDown(String),

    #[error("teardown of lab {prefix} left things behind (run `muster-lab down --name {prefix}` to retry):\n  {}", problems.join("\n  "))]
    Teardown {
        prefix: String,
        problems: Vec<String>,
    },
}

impl LabError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        LabError::Io {
            context: context.into(),
            source,
        }
    }
}

/// Attaches a human context to io errors, the way `anyhow::Context` would.
pub(crate) trait IoContext<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T, LabError>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T, LabError> {
        self.map_err(|e| LabError::io(context(), e))
    }
}
