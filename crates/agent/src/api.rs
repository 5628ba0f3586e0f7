//! The HTTP API. The unix socket (root and the socket's group only) gets the
//! local operator's routes. Over HTTPS an unauthenticated party reaches only
//! `/v1/info` and the pairing endpoints; everything else, unknown paths
//! included, needs a pinned client certificate ([`crate::member_api`]).

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{Method, StatusCode, Uri};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use muster_disks::Disk;
use muster_proto::trust::NetInterface;
use muster_proto::{paths, AgentInfo, ErrorBody};
use serde::de::DeserializeOwned;

use crate::shared::State as AppState;
use crate::{
    ceph, disks as disk_api, formation, interfaces, join, lxd, member_api, pairing, session,
};
use muster_proto::formation::paths as fpaths;

/// Every request body muster sends is a few hundred bytes.
const BODY_LIMIT: usize = 64 * 1024;

/// Routes served on the unix socket.
pub(crate) fn local_router(state: AppState) -> Router {
    Router::new()
        .route(paths::INFO, get(info))
        .route(paths::DISKS, get(disks))
        .route(paths::INTERFACES, get(net_interfaces))
        .route(
            paths::SESSION,
            post(session::open)
                .get(session::status)
                .delete(session::close),
        )
        .route(paths::INITIATORS, get(join::initiators))
        .route(paths::JOIN, post(join::join_request))
        .route(paths::MEMBERS, get(member_api::members))
        .route(fpaths::LXD, get(lxd::get))
        .route(fpaths::INIT, post(formation::init))
        .route(fpaths::STATUS, get(lxd::status))
        .route(fpaths::CEPH, get(ceph::get))
        .route(
            &paths::member("{name}", paths::DISKS),
            get(member_api::member_disks),
        )
        .route(
            &paths::member("{name}", paths::INTERFACES),
            get(member_api::member_interfaces),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

/// Routes served over HTTPS. The member check wraps the whole router, the
/// fallback included, and lets only [`member_api::PUBLIC_PATHS`] through
/// without a pinned certificate.
pub(crate) fn https_router(state: AppState) -> Router {
    Router::new()
        .route(paths::INFO, get(info))
        .route(paths::PAIR_SESSION, get(pairing::session))
        .route(paths::PAIR_HELLO, post(pairing::hello))
        .route(paths::PAIR_FINISH, post(pairing::finish))
        .route(paths::DISKS, get(disks))
        .route(paths::INTERFACES, get(net_interfaces))
        .route(fpaths::LXD, get(lxd::get))
        .route(fpaths::LXD_JOIN, post(lxd::join))
        .route(fpaths::CEPH, get(ceph::get))
        .route(fpaths::CEPH_STEP, post(ceph::step))
        .route(fpaths::WIPE, post(disk_api::wipe))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            member_api::require_member,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

async fn info(State(state): State<AppState>) -> Json<AgentInfo> {
    Json(state.info.clone())
}

pub(crate) async fn disks(State(state): State<AppState>) -> Result<Json<Vec<Disk>>, ApiError> {
    let options = state.disks.scan_options();
    // Reading sysfs and the devices' first bytes blocks.
    match tokio::task::spawn_blocking(move || muster_disks::scan(&options)).await {
        Ok(Ok(disks)) => Ok(Json(disks)),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "disk scan failed");
            Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                e.to_string(),
            ))
        }
        Err(e) => {
            tracing::error!(error = %e, "disk scan did not finish");
            Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the disk scan did not finish; see musterd's log",
            ))
        }
    }
}

pub(crate) async fn net_interfaces() -> Result<Json<Vec<NetInterface>>, ApiError> {
    let listed =
        tokio::task::spawn_blocking(|| interfaces::list(std::path::Path::new("/sys/class/net")))
            .await;
    match listed {
        Ok(Ok(list)) => Ok(Json(list)),
        Ok(Err(e)) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot list the network interfaces: {e}"),
        )),
        Err(e) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("listing the network interfaces did not finish: {e}"),
        )),
    }
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

/// A JSON body whose rejection is an [`ApiError`] like every other error.
pub(crate) struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(JsonBody(value)),
            Err(rejection) => Err(ApiError::new(
                rejection_status(&rejection),
                format!("invalid request: {}", rejection.body_text()),
            )),
        }
    }
}

fn rejection_status(rejection: &JsonRejection) -> StatusCode {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// Every error leaves as a `muster_proto::ErrorBody`.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.message,
        };
        (self.status, Json(body)).into_response()
    }
}
