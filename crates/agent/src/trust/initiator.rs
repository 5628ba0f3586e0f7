//! The initiator's trust session as the local operator (or `muster init`)
//! opens, reads and closes it, with the mDNS announcement kept in step.

use std::time::{Duration, Instant};

use muster_proto::trust::{OpenSession, SessionOpened, SessionStatus};

use crate::error::{Error, Kind};
use crate::session::OpenError;
use crate::shared::{Shared, State};

/// Opens a session, announces it and withdraws the announcement when it
/// runs out.
pub(crate) fn open(state: &State, req: &OpenSession) -> Result<SessionOpened, Error> {
    let now = Instant::now();
    let opened = state
        .sessions
        .open(&state.me, req, now)
        .map_err(|e| match e {
            OpenError::Invalid(message) => Error::new(Kind::Invalid, message),
            OpenError::AlreadyOpen { expires_in } => Error::new(
                Kind::Conflict,
                format!(
                    "a trust session is already open (for {} more seconds); `muster session \
                     close` ends it",
                    expires_in.as_secs()
                ),
            ),
        })?;
    tracing::info!(
        fingerprint = %opened.initiator.short_fingerprint,
        expires_in_secs = opened.expires_in_secs,
        max_failures = opened.max_failures,
        "trust session open"
    );
    state.sync_advertisement();
    // Withdraw the announcement when the session runs out. A timer of an
    // earlier session only re-checks, which is harmless.
    let expires = now + Duration::from_secs(opened.expires_in_secs);
    let watcher = state.clone();
    tokio::spawn(async move {
        tokio::time::sleep_until(tokio::time::Instant::from_std(expires)).await;
        if !watcher.sessions.is_open(Instant::now()) {
            tracing::info!("the trust session has expired");
        }
        watcher.sync_advertisement();
    });
    Ok(opened)
}

pub(crate) fn status(state: &Shared) -> SessionStatus {
    state.sessions.status(&state.me, Instant::now())
}

/// Closes the open session, on the operator's word.
pub(crate) fn close(state: &Shared) -> Result<SessionStatus, Error> {
    let now = Instant::now();
    if !state.sessions.close(now) {
        return Err(Error::new(Kind::NotFound, "no trust session is open"));
    }
    tracing::info!("trust session closed by the operator");
    state.sync_advertisement();
    Ok(state.sessions.status(&state.me, now))
}
