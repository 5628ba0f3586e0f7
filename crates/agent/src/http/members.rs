//! The member API's door, and the local operator's window on members.
//!
//! Every HTTPS request but `/v1/info` and the pairing endpoints must come
//! over a connection whose client certificate is pinned now; otherwise it
//! is answered 401 (no certificate) or 403 (a certificate no longer
//! trusted) before any handler runs. (A certificate that was never pinned
//! does not get that far: the TLS handshake refuses it.)
//!
//! The local operator asks this agent (`/v1/members/NAME/...` on the unix
//! socket), which calls member NAME ([`crate::member`]).

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use muster_disks::Disk;
use muster_proto::paths;
use muster_proto::trust::NetInterface;

use super::accept::Caller;
use super::error::ApiError;
use crate::member::call_member;
use crate::shared::State as AppState;

/// HTTPS paths anyone may call: the agent's public description and the
/// handshake, which authenticates by itself.
pub(super) const PUBLIC_PATHS: [&str; 4] = [
    paths::INFO,
    paths::PAIR_SESSION,
    paths::PAIR_HELLO,
    paths::PAIR_FINISH,
];

/// The member check in front of every HTTPS route.
pub(super) async fn require_member(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    request: Request,
    next: Next,
) -> Response {
    if PUBLIC_PATHS.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let Some(Extension(caller)) = caller else {
        // Only a misconfigured server gets here: every connection has one.
        return ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "no TLS connection")
            .into_response();
    };
    let Some(fingerprint) = caller.fingerprint else {
        tracing::info!(from = %caller.address, path = request.uri().path(), "refused a request without a client certificate");
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            format!(
                "{} answers this only to members of its cluster: call with the certificate it \
                 trusts (servers become members with `muster join`)",
                state.me.name
            ),
        )
        .into_response();
    };
    let name = match state.trust().by_fingerprint(&fingerprint) {
        Some(member) => member.name.clone(),
        None => {
            tracing::warn!(from = %caller.address, fingerprint = %fingerprint.short(), "refused a certificate that is no longer trusted");
            return ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "the certificate {} is not trusted by {}",
                    fingerprint.short(),
                    state.me.name
                ),
            )
            .into_response();
        }
    };
    tracing::debug!(member = %name, path = request.uri().path(), "member request");
    next.run(request).await
}

/// `GET /v1/members/{name}/disks` on the unix socket.
pub(super) async fn disks(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Vec<Disk>>, ApiError> {
    Ok(Json(call_member(&state, &name, paths::DISKS).await?))
}

/// `GET /v1/members/{name}/interfaces` on the unix socket.
pub(super) async fn interfaces(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Vec<NetInterface>>, ApiError> {
    Ok(Json(call_member(&state, &name, paths::INTERFACES).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_handshake_and_info_are_public() {
        for path in [
            paths::DISKS,
            paths::INTERFACES,
            paths::SESSION,
            paths::JOIN,
            paths::MEMBERS,
        ] {
            assert!(!PUBLIC_PATHS.contains(&path), "{path}");
        }
    }
}
