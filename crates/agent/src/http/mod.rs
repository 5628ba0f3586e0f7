//! The HTTP edge of the agent: the only part that knows axum. Routes,
//! extractors and the mapping of domain errors to status codes live here;
//! each handler calls a capability module with plain domain types.
//!
//! The unix socket (root and the socket's group only) gets the local
//! operator's routes. Over HTTPS an unauthenticated party reaches only
//! `/v1/info` and the pairing endpoints; everything else, unknown paths
//! included, needs a pinned client certificate ([`members`]).

mod accept;
mod budget;
mod error;
mod local;
mod members;
mod runs;
mod trust;

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use axum_server::Server;
use hyper_util::rt::TokioTimer;
use muster_proto::formation::paths as fpaths;
use muster_proto::maintenance::MAINTENANCE_PATH;
use muster_proto::removal::paths as rpaths;
use muster_proto::{paths, AgentInfo};

use crate::shared::State as AppState;
pub(crate) use accept::{CallerAcceptor, LocalAcceptor};
use error::ApiError;

/// Every request body muster sends is a few hundred bytes.
const BODY_LIMIT: usize = 64 * 1024;
/// How long a request's headers may take to arrive, counted from when the
/// connection waits for a request: so also how long a connection may stay
/// idle between requests.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request's body may take to arrive, whole.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Hyper's buffer for a connection's reads, and so the largest request
/// head; muster's are a few hundred bytes.
const READ_BUFFER: usize = 16 * 1024;

/// `server` speaking HTTP/1.1 only, whatever the client tries (HTTP/2
/// prior knowledge included), with its timeouts set.
pub(crate) fn hardened<A, Acc>(server: Server<A, Acc>) -> Server<A, Acc>
where
    A: axum_server::Address,
{
    let mut server = server.http1_only();
    server
        .http_builder()
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(READ_BUFFER);
    server
}

/// Routes served on the unix socket.
pub(crate) fn local_router(state: AppState) -> Router {
    Router::new()
        .route(paths::INFO, get(info))
        .route(paths::DISKS, get(local::disks))
        .route(paths::INTERFACES, get(local::interfaces))
        .route(
            paths::SESSION,
            post(trust::open).get(trust::status).delete(trust::close),
        )
        .route(paths::INITIATORS, get(trust::initiators))
        .route(paths::LOOK_UP, post(trust::look_up))
        .route(paths::JOIN, post(trust::join))
        .route(paths::MEMBERS, get(trust::members))
        .route(&paths::trusted_member("{name}"), delete(trust::forget))
        .route(fpaths::LXD, get(local::lxd))
        .route(fpaths::INIT, post(runs::init))
        .route(fpaths::ADD, post(runs::add))
        .route(rpaths::REMOVE, post(runs::remove))
        .route(MAINTENANCE_PATH, post(runs::maintenance))
        .route(fpaths::STATUS, get(local::status))
        .route(fpaths::CEPH, get(local::ceph))
        .route(&paths::member("{name}", paths::DISKS), get(members::disks))
        .route(
            &paths::member("{name}", paths::INTERFACES),
            get(members::interfaces),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::map_response(error::for_the_operator))
        .layer(middleware::from_fn(whole_body))
        .with_state(state)
}

/// Routes served over HTTPS. The member check wraps the whole router, the
/// fallback included, and lets only [`members::PUBLIC_PATHS`] through
/// without a pinned certificate.
pub(crate) fn https_router(state: AppState) -> Router {
    Router::new()
        .route(paths::INFO, get(info))
        .route(paths::PAIR_SESSION, get(trust::pair_session))
        .route(paths::PAIR_HELLO, post(trust::pair_hello))
        .route(paths::PAIR_FINISH, post(trust::pair_finish))
        .route(paths::DISKS, get(local::disks))
        .route(paths::INTERFACES, get(local::interfaces))
        .route(fpaths::LXD, get(local::lxd))
        .route(fpaths::LXD_JOIN, post(local::lxd_join))
        .route(fpaths::CEPH, get(local::ceph))
        .route(fpaths::CEPH_STEP, post(local::ceph_step))
        .route(fpaths::WIPE, post(local::wipe))
        .route(rpaths::CEPH_LEAVE, post(local::ceph_leave))
        .route(rpaths::TRUST_FORGET, post(trust::forget_asked))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Inside the member check: a caller it refuses sends no body.
        .layer(middleware::from_fn(whole_body))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            members::require_member,
        ))
        .with_state(state)
}

/// Reads the request's body whole, within [`BODY_LIMIT`] and
/// [`BODY_TIMEOUT`], before any handler sees it: a body sent a byte at a
/// time holds no handler and no lock.
async fn whole_body(request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let body =
        match tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, BODY_LIMIT)).await {
            Ok(Ok(body)) => body,
            Ok(Err(_)) => {
                return ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "the request body is larger than {} KiB or was cut off",
                        BODY_LIMIT / 1024
                    ),
                )
                .into_response()
            }
            Err(_) => {
                return ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    format!(
                        "the request body did not arrive within {} s",
                        BODY_TIMEOUT.as_secs()
                    ),
                )
                .into_response()
            }
        };
    next.run(Request::from_parts(parts, Body::from(body))).await
}

async fn info(State(state): State<AppState>) -> Json<AgentInfo> {
    Json(state.info.clone())
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no such endpoint: {method} {}", uri.path()),
    )
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{method} is not allowed on {}", uri.path()),
    )
}
