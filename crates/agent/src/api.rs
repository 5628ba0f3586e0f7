//! The HTTP API. The unix socket (root and the socket's group only) gets the
//! local routes; the network gets only what an unauthenticated peer may see.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use muster_disks::Disk;
use muster_proto::{paths, AgentInfo, ErrorBody};

use crate::config::DisksConfig;

#[derive(Clone)]
pub(crate) struct ApiState {
    pub info: Arc<AgentInfo>,
    pub disks: Arc<DisksConfig>,
}

/// Routes served on the unix socket.
pub(crate) fn local_router(state: ApiState) -> Router {
    Router::new()
        .route(paths::INFO, get(info))
        .route(paths::DISKS, get(disks))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// Routes served over HTTPS to anyone on the network. Member APIs join
/// them once peers are authenticated by pinned mutual TLS.
pub(crate) fn member_router(state: ApiState) -> Router {
    Router::new()
        .route(paths::INFO, get(info))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

async fn info(State(state): State<ApiState>) -> Json<AgentInfo> {
    Json(AgentInfo::clone(&state.info))
}

async fn disks(State(state): State<ApiState>) -> Result<Json<Vec<Disk>>, ApiError> {
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

/// Every error leaves as a `muster_proto::ErrorBody`.
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.message,
        };
        (self.status, Json(body)).into_response()
    }
}
