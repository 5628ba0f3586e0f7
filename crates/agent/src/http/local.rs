//! This server's own inventory and services: disks, interfaces, LXD, Ceph,
//! and the wipe the initiator may ask for.

use axum::extract::State;
use axum::Json;
use muster_ceph::LocalState;
use muster_disks::Disk;
use muster_plan::LxdObserved;
use muster_proto::formation::{ClusterStatus, LxdJoinRequest, LxdJoinResponse, WipeRequest};
use muster_proto::removal::CephLeaveRequest;
use muster_proto::trust::NetInterface;

use super::error::{ApiError, JsonBody};
use crate::ceph::{CephStepRequest, CephStepResponse};
use crate::error::{Error, Kind};
use crate::shared::State as AppState;

/// `GET /v1/disks`.
pub(super) async fn disks(State(state): State<AppState>) -> Result<Json<Vec<Disk>>, ApiError> {
    Ok(Json(
        crate::disks::scan(&state.me.name, &state.disks).await?,
    ))
}

/// `GET /v1/interfaces`.
pub(super) async fn interfaces() -> Result<Json<Vec<NetInterface>>, ApiError> {
    let listed = tokio::task::spawn_blocking(|| {
        crate::interfaces::list(std::path::Path::new("/sys/class/net"))
    })
    .await;
    match listed {
        Ok(Ok(list)) => Ok(Json(list)),
        Ok(Err(e)) => Err(Error::new(
            Kind::Internal,
            format!("cannot list the network interfaces: {e}"),
        )
        .into()),
        Err(e) => Err(Error::new(
            Kind::Internal,
            format!("listing the network interfaces did not finish: {e}"),
        )
        .into()),
    }
}

/// `GET /v1/lxd`, on the unix socket and for members over HTTPS.
pub(super) async fn lxd(State(state): State<AppState>) -> Result<Json<LxdObserved>, ApiError> {
    Ok(Json(crate::lxd::observe_local(&state.lxd).await?))
}

/// `POST /v1/lxd/join` (member API).
pub(super) async fn lxd_join(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<LxdJoinRequest>,
) -> Result<Json<LxdJoinResponse>, ApiError> {
    Ok(Json(crate::lxd::join(&state.lxd, req).await?))
}

/// `GET /v1/status` on the unix socket: LXD's view, and Ceph's health
/// when this server has a part in it.
pub(super) async fn status(State(state): State<AppState>) -> Result<Json<ClusterStatus>, ApiError> {
    let mut status = crate::lxd::status(&state.lxd).await?;
    status.ceph = crate::ceph::status(&state.ceph).await;
    Ok(Json(status))
}

/// `GET /v1/ceph`.
pub(super) async fn ceph(State(state): State<AppState>) -> Result<Json<LocalState>, ApiError> {
    Ok(Json(crate::ceph::local_state(&state.ceph).await?))
}

/// `POST /v1/ceph/step` (member API).
pub(super) async fn ceph_step(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<CephStepRequest>,
) -> Result<Json<CephStepResponse>, ApiError> {
    Ok(Json(crate::ceph::run_step(&state.ceph, req).await?))
}

/// `POST /v1/disks/wipe` (member API).
pub(super) async fn wipe(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<WipeRequest>,
) -> Result<Json<()>, ApiError> {
    crate::disks::wipe_device(
        &state.me.name,
        &state.disks,
        &req.device,
        crate::disks::WipeAsker::Controller,
    )
    .await?;
    Ok(Json(()))
}

/// `POST /v1/ceph/leave` (member API, controller only): this server
/// leaves Ceph during its removal.
pub(super) async fn ceph_leave(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<CephLeaveRequest>,
) -> Result<Json<()>, ApiError> {
    if req.name != state.me.name {
        return Err(Error::new(
            Kind::Invalid,
            format!(
                "this is {}, not {}: nothing was changed",
                state.me.name, req.name
            ),
        )
        .into());
    }
    crate::ceph::leave(&state.ceph).await?;
    Ok(Json(()))
}
