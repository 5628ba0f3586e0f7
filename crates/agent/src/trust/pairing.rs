//! The initiator's side of pairing, which anyone may call (no client
//! certificate): the handshake of `muster-trust` in two requests, Hello →
//! Reply and Finish → Welcome. The session ([`crate::session`]) does the
//! checking and counting; this module adds the network's facts (the
//! caller's address, the joiner's port), holds failed answers for the
//! penalty delay and stores the joiners the handshake proves.

use std::net::SocketAddr;
use std::time::Instant;

use muster_proto::trust::SessionPhase;
use muster_trust::{Finish, Hello, Refusal, Reply, SessionInfo, TrustError, Welcome};

use crate::error::{Error, ErrorChain, Kind};
use crate::shared::Shared;
use crate::trust_store::{check_name, Member, Role, TrustStoreError};

/// Fails unless a session was opened (it may have ended since: the
/// handshake says how).
pub(crate) fn ensure_session(state: &Shared) -> Result<(), Error> {
    if state.sessions.exists() {
        Ok(())
    } else {
        Err(no_session(state))
    }
}

fn no_session(state: &Shared) -> Error {
    Error::new(
        Kind::NotFound,
        format!(
            "no trust session is open on {}; open one there with `muster session open`",
            state.me.name
        ),
    )
}

/// The open session's public id.
pub(crate) fn session(state: &Shared) -> Result<SessionInfo, Error> {
    let now = Instant::now();
    if let Some(info) = state.sessions.info(now) {
        return Ok(info);
    }
    let ended = match state.sessions.status(&state.me, now).phase {
        SessionPhase::None | SessionPhase::Open => return Err(no_session(state)),
        SessionPhase::Expired => TrustError::Expired,
        SessionPhase::Ended | SessionPhase::Closed => TrustError::Ended,
    };
    Err(Error::new(Kind::Gone, ended.to_string()))
}

/// A joiner's Hello, from `caller`.
pub(crate) fn hello(state: &Shared, caller: SocketAddr, hello: &Hello) -> Result<Reply, Error> {
    ensure_session(state)?;
    let result = state.sessions.hello(caller.ip(), hello, Instant::now());
    // A Hello can end the session (too many of them).
    state.sync_advertisement();
    result.map_err(|e| refusal(caller, e))
}

/// A joiner's Finish, from `caller`, whose own HTTPS port is `port`.
pub(crate) async fn finish(
    state: &Shared,
    caller: SocketAddr,
    port: u16,
    finish: &Finish,
) -> Result<Welcome, Error> {
    ensure_session(state)?;
    let result = state.sessions.finish(caller.ip(), finish, Instant::now());
    let joined = match result {
        Ok(joined) => joined,
        Err(TrustError::WrongPassphrase { penalty }) => {
            tracing::warn!(
                from = %caller,
                delay_ms = penalty.delay.as_millis() as u64,
                address_locked = penalty.address_locked,
                session_ended = penalty.session_locked,
                "a joiner gave a wrong passphrase"
            );
            if penalty.session_locked {
                tracing::warn!("too many wrong passphrases: the trust session has ended");
                state.sync_advertisement();
            }
            // Held so that guesses cannot come faster than the penalty.
            tokio::time::sleep(penalty.delay).await;
            return Err(Error::new(
                Kind::Refused,
                "the passphrase did not match (or the exchange was tampered with)",
            ));
        }
        Err(e) => return Err(refusal(caller, e)),
    };
    let address = SocketAddr::new(caller.ip(), port);
    let name = joined.joiner.name.clone();
    // The same rule the trust store is read with: a name it could not load
    // again is never stored.
    check_name(&name).map_err(|why| {
        tracing::warn!(from = %caller, "refused a joiner's name: {why}");
        Error::new(Kind::Invalid, format!("the joiner's name: {why}"))
    })?;
    let member = Member::new(
        name.clone(),
        joined.joiner.fingerprint.clone(),
        address,
        Role::Member,
    );
    let replace = state.sessions.may_replace(&name);
    state.trust_member(member, replace).map_err(|e| match e {
        TrustStoreError::NameTaken { .. } => {
            tracing::warn!(from = %caller, name = %name, "refused a joiner claiming a trusted name with another certificate");
            Error::new(Kind::Conflict, e.to_string())
        }
        e => {
            tracing::error!(error = %ErrorChain(&e), "cannot store a new member");
            Error::new(
                Kind::Internal,
                format!(
                    "{} could not store the trust it just established ({e}); try again once its \
                     state directory is writable",
                    state.me.name
                ),
            )
        }
    })?;
    tracing::info!(name = %joined.joiner.name, "a new member joined this server's session");
    Ok(joined.welcome)
}

/// A refused handshake message as an answer. The messages are
/// `muster-trust`'s, written for the joiner's operator.
fn refusal(caller: SocketAddr, error: TrustError) -> Error {
    let kind = match &error {
        TrustError::Expired | TrustError::Ended | TrustError::Refused(Refusal::SessionLocked) => {
            Kind::Gone
        }
        TrustError::Refused(_) => Kind::TooMany,
        TrustError::Busy => Kind::Unavailable,
        TrustError::Replay | TrustError::IdentityConflict { .. } => Kind::Conflict,
        TrustError::UnknownAttempt | TrustError::AttemptExpired => Kind::NotFound,
        TrustError::Invalid(muster_trust::PakeError::WrongSession) => Kind::Gone,
        TrustError::Invalid(_) => Kind::Invalid,
        TrustError::WrongPassphrase { .. } => Kind::Refused,
    };
    tracing::info!(from = %caller, error = %error, "refused a handshake message");
    Error::new(kind, error.to_string())
}
