//! The member API: what trusted members ask each other over mutual TLS with
//! pinned certificates, on both ends of the call.
//!
//! Serving: every HTTPS request but `/v1/info` and the pairing endpoints
//! must come over a connection whose client certificate is pinned now;
//! otherwise it is answered 401 (no certificate) or 403 (a certificate no
//! longer trusted) before any handler runs. (A certificate that was never
//! pinned does not get that far: the TLS handshake refuses it.)
//!
//! Calling: the local operator asks this agent (`/v1/members/NAME/...` on
//! the unix socket), which calls member NAME presenting its own certificate
//! and accepting only NAME's pinned one, at the addresses mDNS currently
//! announces for NAME and then those stored when it joined.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use muster_disks::Disk;
use muster_proto::trust::{Member as WireMember, NetInterface};
use muster_proto::{paths, ErrorBody};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::api::ApiError;
use crate::shared::{Shared, State as AppState};
use crate::tls::{self, Caller};

/// HTTPS paths anyone may call: the agent's public description and the
/// handshake, which authenticates by itself.
pub(crate) const PUBLIC_PATHS: [&str; 4] = [
    paths::INFO,
    paths::PAIR_SESSION,
    paths::PAIR_HELLO,
    paths::PAIR_FINISH,
];

/// A disk scan over the network: a few seconds at most.
const MEMBER_CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The member check in front of every HTTPS route.
pub(crate) async fn require_member(
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

/// `GET /v1/members` on the unix socket.
pub(crate) async fn members(State(state): State<AppState>) -> Json<Vec<WireMember>> {
    Json(
        state
            .trust()
            .members()
            .iter()
            .map(|m| m.to_wire())
            .collect(),
    )
}

/// `GET /v1/members/{name}/disks` on the unix socket.
pub(crate) async fn member_disks(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Vec<Disk>>, ApiError> {
    call_member(&state, &name, paths::DISKS).await.map(Json)
}

/// `GET /v1/members/{name}/interfaces` on the unix socket.
pub(crate) async fn member_interfaces(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Vec<NetInterface>>, ApiError> {
    call_member(&state, &name, paths::INTERFACES)
        .await
        .map(Json)
}

/// `GET path` on member `name` over pinned mutual TLS.
pub(crate) async fn call_member<T: DeserializeOwned>(
    state: &Shared,
    name: &str,
    path: &str,
) -> Result<T, ApiError> {
    request_member(state, name, path, None, MEMBER_CALL_TIMEOUT).await
}

/// `POST path` on member `name` with `body` as JSON ([`request_member`]).
pub(crate) async fn post_member<T: DeserializeOwned>(
    state: &Shared,
    name: &str,
    path: &str,
    body: &impl Serialize,
    timeout: Duration,
) -> Result<T, ApiError> {
    let body = serde_json::to_value(body).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot encode the request to {name}: {e}"),
        )
    })?;
    request_member(state, name, path, Some(&body), timeout).await
}

/// `GET path` (no body) or `POST path` with a JSON body on member `name`
/// over pinned mutual TLS, waiting up to `timeout` for its answer.
pub(crate) async fn request_member<T: DeserializeOwned>(
    state: &Shared,
    name: &str,
    path: &str,
    body: Option<&serde_json::Value>,
    timeout: Duration,
) -> Result<T, ApiError> {
    let Some(member) = state.trust().get(name).cloned() else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "{name} is not a trusted member of {} (`muster members` lists them)",
                state.me.name
            ),
        ));
    };
    let client =
        tls::member_client(&state.identity, &member.fingerprint, timeout).map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                crate::server::ErrorChain(&e).to_string(),
            )
        })?;
    let mut problems = Vec::new();
    for endpoint in candidates(&state.seen.endpoints_of(name), &member.addresses) {
        match try_endpoint(&client, endpoint, path, body).await {
            Ok(Attempt::Answered(value)) => {
                if let Err(e) = state.trust().note_address(name, endpoint) {
                    tracing::warn!(error = %crate::server::ErrorChain(&e), "cannot record a member's address");
                }
                return Ok(value);
            }
            Ok(Attempt::Refused(status, message)) => {
                return Err(ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    format!("{name} ({endpoint}) answered {status}: {message}"),
                ));
            }
            Err(problem) => {
                tracing::info!(member = name, %endpoint, problem = %problem, "member address failed");
                problems.push(format!("{endpoint}: {problem}"));
            }
        }
    }
    Err(ApiError::new(
        StatusCode::BAD_GATEWAY,
        format!(
            "cannot reach {name} at any of its addresses: {}",
            problems.join("; ")
        ),
    ))
}

/// Where to look for a member: what mDNS says now first (addresses change),
/// then what was stored. Pure.
pub(crate) fn candidates(announced: &[SocketAddr], stored: &[SocketAddr]) -> Vec<SocketAddr> {
    let mut out: Vec<SocketAddr> = Vec::new();
    for a in announced.iter().chain(stored) {
        if !out.contains(a) {
            out.push(*a);
        }
    }
    out
}

enum Attempt<T> {
    Answered(T),
    /// The member itself answered with an error.
    Refused(StatusCode, String),
}

async fn try_endpoint<T: DeserializeOwned>(
    client: &reqwest::Client,
    endpoint: SocketAddr,
    path: &str,
    body: Option<&serde_json::Value>,
) -> Result<Attempt<T>, String> {
    let url = format!("https://{endpoint}{path}");
    let request = match body {
        Some(body) => client.post(url).json(body),
        None => client.get(url),
    };
    let response = request.send().await.map_err(|e| {
        if tls::is_pin_mismatch(&e) {
            "the server there presented a certificate that is not the one pinned for this member; \
             refused (is another server using its name or address?)"
                .to_owned()
        } else {
            crate::server::ErrorChain(&e).to_string()
        }
    })?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        let message = serde_json::from_str::<ErrorBody>(&body)
            .map(|b| muster_discovery::printable_up_to(&b.error, 500))
            .unwrap_or_else(|_| status.to_string());
        return Ok(Attempt::Refused(status, message));
    }
    response
        .json()
        .await
        .map(Attempt::Answered)
        .map_err(|e| format!("unexpected answer: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announced_addresses_come_first_without_repeats() {
        let a: SocketAddr = "10.0.0.9:9443".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:9443".parse().unwrap();
        let c: SocketAddr = "10.0.0.3:9443".parse().unwrap();
        assert_eq!(candidates(&[a, b], &[b, c]), vec![a, b, c]);
        assert_eq!(candidates(&[], &[b]), vec![b]);
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
