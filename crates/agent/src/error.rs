//! The agent's errors as its capabilities report them: a kind, which the
//! HTTP layer turns into a status code, and a message for the operator.

use std::fmt;

/// What went wrong, as the caller can act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The request is wrong; nothing was done.
    Invalid,
    /// The caller is known and may not do this (a wrong passphrase, a
    /// certificate no longer trusted).
    Refused,
    NotFound,
    /// The state of things forbids it (already open, already a member).
    Conflict,
    /// It has ended (an expired or locked session).
    Gone,
    /// Too many attempts from where the caller is.
    TooMany,
    /// A part this agent drives (LXD, Ceph, another member) failed.
    Upstream,
    /// A part this agent needs is not there or not ready.
    Unavailable,
    /// A part this agent drives did not answer in time.
    Timeout,
    /// This agent's own fault.
    Internal,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub(crate) struct Error {
    pub kind: Kind,
    /// For this server's operator (the log, the unix socket).
    pub message: String,
    /// What a caller over the network is told instead, when `message`
    /// holds what only this server's operator may read.
    pub remote: Option<String>,
}

impl Error {
    pub(crate) fn new(kind: Kind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            remote: None,
        }
    }

    pub(crate) fn told_remotely(mut self, message: impl Into<String>) -> Error {
        self.remote = Some(message.into());
        self
    }
}

/// Formats an error with its causes on one line, for log fields.
pub(crate) struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}
