//! The initiator's pairing endpoints, served over HTTPS to anyone (no
//! client certificate): the handshake of `muster-trust` in two requests,
//! Hello → Reply and Finish → Welcome. The session ([`crate::session`])
//! does the checking and counting; this module adds the network's facts
//! (the caller's address, the joiner's port), holds failed answers for the
//! penalty delay and stores the joiners the handshake proves.

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Json};
use muster_proto::trust::{SessionPhase, LISTEN_PORT_HEADER};
use muster_proto::DEFAULT_PORT;
use muster_trust::{Finish, Hello, Refusal, Reply, SessionInfo, TrustError, Welcome};

use crate::api::{ApiError, JsonBody};
use crate::shared::State as AppState;
use crate::tls::Caller;
use crate::trust_store::Member;

fn no_session(state: &AppState) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!(
            "no trust session is open on {}; open one there with `muster session open`",
            state.me.name
        ),
    )
}

/// `GET /v1/pair/session`: the open session's public id.
pub(crate) async fn session(State(state): State<AppState>) -> Result<Json<SessionInfo>, ApiError> {
    let now = Instant::now();
    if let Some(info) = state.sessions.info(now) {
        return Ok(Json(info));
    }
    let ended = match state.sessions.status(&state.me, now).phase {
        SessionPhase::None | SessionPhase::Open => return Err(no_session(&state)),
        SessionPhase::Expired => TrustError::Expired,
        SessionPhase::Ended | SessionPhase::Closed => TrustError::Ended,
    };
    Err(ApiError::new(StatusCode::GONE, ended.to_string()))
}

/// `POST /v1/pair/hello`.
pub(crate) async fn hello(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    JsonBody(hello): JsonBody<Hello>,
) -> Result<Json<Reply>, ApiError> {
    if !state.sessions.exists() {
        return Err(no_session(&state));
    }
    let result = state
        .sessions
        .hello(caller.address.ip(), &hello, Instant::now());
    // A Hello can end the session (too many of them).
    state.sync_advertisement();
    result.map(Json).map_err(|e| refusal(&caller, e))
}

/// `POST /v1/pair/finish`, with the joiner's HTTPS port in the
/// `muster-port` header.
pub(crate) async fn finish(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    JsonBody(finish): JsonBody<Finish>,
) -> Result<Json<Welcome>, ApiError> {
    if !state.sessions.exists() {
        return Err(no_session(&state));
    }
    let port = listen_port(&headers).map_err(|m| ApiError::new(StatusCode::BAD_REQUEST, m))?;
    let result = state
        .sessions
        .finish(caller.address.ip(), &finish, Instant::now());
    let joined = match result {
        Ok(joined) => joined,
        Err(TrustError::WrongPassphrase { penalty }) => {
            tracing::warn!(
                from = %caller.address,
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
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "the passphrase did not match (or the exchange was tampered with)",
            ));
        }
        Err(e) => return Err(refusal(&caller, e)),
    };
    let address = SocketAddr::new(caller.address.ip(), port);
    let member = Member::new(
        joined.joiner.name.clone(),
        joined.joiner.fingerprint.clone(),
        address,
    );
    state.trust_member(member).map_err(|e| {
        tracing::error!(error = %crate::server::ErrorChain(&e), "cannot store a new member");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!(
                "{} could not store the trust it just established ({e}); try again once its \
                 state directory is writable",
                state.me.name
            ),
        )
    })?;
    tracing::info!(name = %joined.joiner.name, "a new member joined this server's session");
    Ok(Json(joined.welcome))
}

/// The joiner's own HTTPS port; without the header, the default.
pub(crate) fn listen_port(headers: &HeaderMap) -> Result<u16, String> {
    let Some(value) = headers.get(LISTEN_PORT_HEADER) else {
        return Ok(DEFAULT_PORT);
    };
    value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse::<u16>().ok())
        .filter(|p| *p != 0)
        .ok_or_else(|| {
            format!("the {LISTEN_PORT_HEADER} header must be a port number from 1 to 65535")
        })
}

/// A refused handshake message as an answer. The messages are
/// `muster-trust`'s, written for the joiner's operator.
fn refusal(caller: &Caller, error: TrustError) -> ApiError {
    let status = match &error {
        TrustError::Expired | TrustError::Ended | TrustError::Refused(Refusal::SessionLocked) => {
            StatusCode::GONE
        }
        TrustError::Refused(_) => StatusCode::TOO_MANY_REQUESTS,
        TrustError::Busy => StatusCode::SERVICE_UNAVAILABLE,
        TrustError::Replay | TrustError::IdentityConflict { .. } => StatusCode::CONFLICT,
        TrustError::UnknownAttempt | TrustError::AttemptExpired => StatusCode::NOT_FOUND,
        TrustError::Invalid(muster_trust::PakeError::WrongSession) => StatusCode::GONE,
        TrustError::Invalid(_) => StatusCode::BAD_REQUEST,
        TrustError::WrongPassphrase { .. } => StatusCode::FORBIDDEN,
    };
    tracing::info!(from = %caller.address, error = %error, "refused a handshake message");
    ApiError::new(status, error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn the_port_header_is_checked() {
        let mut headers = HeaderMap::new();
        assert_eq!(listen_port(&headers), Ok(DEFAULT_PORT));
        headers.insert(LISTEN_PORT_HEADER, HeaderValue::from_static("40123"));
        assert_eq!(listen_port(&headers), Ok(40123));
        for bad in ["0", "65536", "x", "-1", ""] {
            headers.insert(LISTEN_PORT_HEADER, HeaderValue::from_static(bad));
            assert!(listen_port(&headers).is_err(), "{bad:?}");
        }
    }
}
