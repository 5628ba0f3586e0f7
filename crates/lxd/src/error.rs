use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::join::JoinPlanError;
use crate::token::TokenError;

/// One socket [`crate::LxdClient::discover`] tried, and why it did not do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketAttempt {
    pub path: PathBuf,
    pub reason: String,
}

impl fmt::Display for SocketAttempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.path.display(), self.reason)
    }
}

struct Attempts<'a>(&'a [SocketAttempt]);

impl fmt::Display for Attempts<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{a}")?;
        }
        Ok(())
    }
}

/// Everything that can go wrong talking to LXD. Errors that come from LXD
/// itself carry its own message, the HTTP status and the request, so the
/// user sees what LXD objected to and to what.
#[derive(Debug, thiserror::Error)]
pub enum LxdError {
    #[error(
        "no working LXD unix socket found; tried: {}. Is LXD installed and running? \
         Set LXD_DIR or give the socket path explicitly",
        Attempts(tried)
    )]
    NoSocket { tried: Vec<SocketAttempt> },

    #[error("cannot set up the HTTP client for {}", socket.display())]
    Client {
        socket: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    #[error("cannot talk to LXD on {} ({method} {path})", socket.display())]
    Transport {
        socket: PathBuf,
        method: String,
        path: String,
        #[source]
        source: reqwest::Error,
    },

    /// LXD answered with an error (or an HTTP error status).
    #[error("LXD refused {method} {path}: {message}")]
    Refused {
        method: String,
        path: String,
        status: u16,
        message: String,
    },

    /// The request was accepted as a background operation, which then failed
    /// or was cancelled.
    #[error("LXD refused {method} {path}: {message} (operation {operation}, {status})")]
    OperationFailed {
        method: String,
        path: String,
        operation: String,
        /// LXD's operation status: "Failure" or "Cancelled".
        status: String,
        message: String,
    },

    #[error(
        "LXD did not finish {method} {path} within {}s (operation {operation} is still {status})",
        waited.as_secs()
    )]
    OperationTimeout {
        method: String,
        path: String,
        operation: String,
        status: String,
        waited: Duration,
    },

    /// LXD's answer did not have the expected shape.
    #[error("unexpected answer from LXD to {method} {path}: {detail}")]
    Protocol {
        method: String,
        path: String,
        detail: String,
    },

    #[error(transparent)]
    Token(#[from] TokenError),

    #[error(transparent)]
    JoinPlan(#[from] JoinPlanError),
}

impl LxdError {
    /// The HTTP status LXD answered with, when the error is LXD's refusal.
    pub fn status(&self) -> Option<u16> {
        match self {
            LxdError::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// LXD said the thing does not exist (404).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// LXD said the thing already exists (409), which a step that is re-run
    /// after a partial failure may treat as done.
    pub fn is_conflict(&self) -> bool {
        self.status() == Some(409)
    }
}
