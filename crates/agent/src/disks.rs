//! Erasing a disk on the initiator's word (`POST /v1/disks/wipe`, member
//! API). The initiator's plan only asks for disks the operator chose and
//! allowed to be wiped; this side looks again, just before, and refuses a
//! device that is mounted or in use whatever the plan says.

use std::path::PathBuf;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use muster_proto::formation::WipeRequest;

use crate::api::{ApiError, JsonBody};
use crate::shared::{Shared, State as AppState};

/// `POST /v1/disks/wipe`.
pub(crate) async fn wipe(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<WipeRequest>,
) -> Result<Json<()>, ApiError> {
    wipe_device(&state, &req.device).await.map(Json)
}

/// Rescans, checks `device` may be wiped, and wipes it.
pub(crate) async fn wipe_device(state: &Shared, device: &str) -> Result<(), ApiError> {
    let name = state.me.name.clone();
    let options = state.disks.scan_options();
    let path = device.to_owned();
    let done = tokio::task::spawn_blocking(move || {
        let disks = muster_disks::scan(&options).map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("{name}: cannot scan the disks: {e}"),
            )
        })?;
        muster_disks::wipe_refusal(&disks, &path).map_err(|why| {
            ApiError::new(
                StatusCode::CONFLICT,
                format!("{name}: {path} is not wiped: {why}"),
            )
        })?;
        tracing::warn!(device = %path, "wiping on the initiator's plan (the operator allowed it)");
        muster_disks::wipe(&PathBuf::from(&path))
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("{name}: {e}")))
    })
    .await;
    match done {
        Ok(result) => result,
        Err(e) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{}: the wipe did not finish: {e}", state.me.name),
        )),
    }
}
