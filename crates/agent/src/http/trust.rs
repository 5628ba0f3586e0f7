//! Trust over HTTP: the operator's session (unix socket), the pairing
//! handshake anyone may run against it (HTTPS), the joiner's side
//! (`muster join`, unix socket) and the trusted members.

use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Json};
use muster_proto::removal::{ForgetRequest, ForgetResponse};
use muster_proto::trust::{
    Initiator, JoinRequest, Joined, LookUp, Member as WireMember, OpenSession, SessionOpened,
    SessionStatus, LISTEN_PORT_HEADER,
};
use muster_proto::{AgentInfo, DEFAULT_PORT};
use muster_trust::{Finish, Hello, Reply, SessionInfo, Welcome};
use serde::Deserialize;

use super::accept::Caller;
use super::error::{ApiError, JsonBody};
use crate::error::Kind;
use crate::shared::State as AppState;
use crate::trust::{initiator, joiner, look_up, pairing};

/// `POST /v1/session`.
pub(super) async fn open(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<OpenSession>,
) -> Result<(StatusCode, Json<SessionOpened>), ApiError> {
    let opened = initiator::open(&state, &req)?;
    Ok((StatusCode::CREATED, Json(opened)))
}

/// `GET /v1/session`.
pub(super) async fn status(State(state): State<AppState>) -> Json<SessionStatus> {
    Json(initiator::status(&state))
}

/// `DELETE /v1/session`.
pub(super) async fn close(State(state): State<AppState>) -> Result<Json<SessionStatus>, ApiError> {
    Ok(Json(initiator::close(&state)?))
}

/// `GET /v1/pair/session`: the open session's public id.
pub(super) async fn pair_session(
    State(state): State<AppState>,
) -> Result<Json<SessionInfo>, ApiError> {
    Ok(Json(pairing::session(&state)?))
}

/// `POST /v1/pair/hello`.
pub(super) async fn pair_hello(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    JsonBody(hello): JsonBody<Hello>,
) -> Result<Json<Reply>, ApiError> {
    Ok(Json(pairing::hello(&state, caller.address, &hello)?))
}

/// `POST /v1/pair/finish`, with the joiner's HTTPS port in the
/// `muster-port` header.
pub(super) async fn pair_finish(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    JsonBody(finish): JsonBody<Finish>,
) -> Result<Json<Welcome>, ApiError> {
    // No session is the news before a bad header.
    pairing::ensure_session(&state)?;
    let port = listen_port(&headers).map_err(|m| ApiError::new(StatusCode::BAD_REQUEST, m))?;
    Ok(Json(
        pairing::finish(&state, caller.address, port, &finish).await?,
    ))
}

/// `POST /v1/join`.
pub(super) async fn join(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<JoinRequest>,
) -> Result<Json<Joined>, ApiError> {
    Ok(Json(joiner::join_request(&state, &req).await?))
}

/// `POST /v1/look-up`: who the agent at an address says it is.
pub(super) async fn look_up(JsonBody(req): JsonBody<LookUp>) -> Result<Json<AgentInfo>, ApiError> {
    Ok(Json(look_up::look_up(req.address).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WaitQuery {
    #[serde(default)]
    wait_secs: Option<u64>,
}

/// `GET /v1/initiators[?wait_secs=N]`: the servers announcing an open
/// session, waiting up to N seconds for at least one.
pub(super) async fn initiators(
    State(state): State<AppState>,
    Query(query): Query<WaitQuery>,
) -> Result<Json<Vec<Initiator>>, ApiError> {
    let wait = Duration::from_secs(query.wait_secs.unwrap_or(0));
    Ok(Json(joiner::initiators(&state, wait).await?))
}

/// `GET /v1/members` on the unix socket.
pub(super) async fn members(State(state): State<AppState>) -> Json<Vec<WireMember>> {
    Json(
        state
            .trust()
            .members()
            .iter()
            .map(|m| m.to_wire())
            .collect(),
    )
}

/// `DELETE /v1/members/{name}` on the unix socket: the operator stops
/// trusting a member (its certificate is unpinned at once).
pub(super) async fn forget(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<WireMember>, ApiError> {
    Ok(Json(crate::trust::forget(&state, &name)?.to_wire()))
}

/// `POST /v1/trust/forget` (member API, controller only): the controller
/// removed a member, or this server (naming itself: this server is then
/// free to join another cluster).
pub(super) async fn forget_asked(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<ForgetRequest>,
) -> Result<Json<ForgetResponse>, ApiError> {
    let forgotten = match crate::trust::forget(&state, &req.name) {
        Ok(_) => true,
        Err(e) if e.kind == Kind::NotFound => false,
        Err(e) => return Err(e.into()),
    };
    Ok(Json(ForgetResponse { forgotten }))
}

/// The joiner's own HTTPS port; without the header, the default.
fn listen_port(headers: &HeaderMap) -> Result<u16, String> {
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
