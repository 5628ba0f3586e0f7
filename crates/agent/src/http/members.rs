//! The member API's door, and the local operator's window on members.
//!
//! Every HTTPS request but `/v1/info` and the pairing endpoints must come
//! over a connection whose client certificate is pinned now; otherwise it
//! is answered 401 (no certificate) or 403 (a certificate no longer
//! trusted) before any handler runs. (A certificate that was never pinned
//! does not get that far: the TLS handshake refuses it.)
//!
//! Reading (GET) is for every trusted member; anything else changes this
//! server (an LXD join, a Ceph step, a wipe) and is only for its
//! controller, the server it joined: a server that merely joined this one
//! is answered 403. Every such call is logged at WARN with its caller.
//!
//! The local operator asks this agent (`/v1/members/NAME/...` on the unix
//! socket), which calls member NAME ([`crate::member`]).

use axum::extract::{Path, Request, State};
use axum::http::{Method, StatusCode};
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
use crate::trust_store::Role;

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
    let (name, role) = match state.trust().by_fingerprint(&fingerprint) {
        Some(member) => (member.name.clone(), member.role),
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
    if !reads_only(request.method()) {
        if role != Role::Controller {
            tracing::warn!(member = %name, fingerprint = %fingerprint.short(), method = %request.method(), path = request.uri().path(), "refused a change asked by a member that is not this server's controller");
            return ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "{name} may read from {me} but not change it: only the server {me} joined \
                     (its controller) may",
                    me = state.me.name
                ),
            )
            .into_response();
        }
        tracing::warn!(controller = %name, fingerprint = %fingerprint.short(), method = %request.method(), path = request.uri().path(), "a change asked by this server's controller");
    }
    tracing::debug!(member = %name, path = request.uri().path(), "member request");
    next.run(request).await
}

/// Requests that change nothing on this server.
fn reads_only(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD)
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
    fn only_reads_are_open_to_every_member() {
        assert!(reads_only(&Method::GET));
        assert!(reads_only(&Method::HEAD));
        for m in [Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
            assert!(!reads_only(&m), "{m}");
        }
    }

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
