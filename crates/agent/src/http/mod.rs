//! The HTTP edge of the agent: the only part that knows axum. Routes,
//! extractors and the mapping of domain errors to status codes live here;
//! each handler calls a capability module with plain domain types.
//!
//! The unix socket (root and the socket's group only) gets the local
//! operator's routes. Over HTTPS an unauthenticated party reaches only
//! `/v1/info` and the pairing endpoints; everything else, unknown paths
//! included, needs a pinned client certificate ([`members`]).

mod accept;
mod error;
mod init;
mod local;
mod members;
mod trust;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{Method, StatusCode, Uri};
use axum::middleware;
use axum::routing::{get, post};
use axum::{Json, Router};
use muster_proto::formation::paths as fpaths;
use muster_proto::{paths, AgentInfo};

use crate::shared::State as AppState;
pub(crate) use accept::CallerAcceptor;
use error::ApiError;

/// Every request body muster sends is a few hundred bytes.
const BODY_LIMIT: usize = 64 * 1024;

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
        .route(paths::JOIN, post(trust::join))
        .route(paths::MEMBERS, get(trust::members))
        .route(fpaths::LXD, get(local::lxd))
        .route(fpaths::INIT, post(init::init))
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
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
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
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            members::require_member,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
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
