//! The operator's long runs, `POST /v1/init`, `/v1/add`, `/v1/remove` and
//! `/v1/maintenance`: the answer streams the run's progress as
//! newline-delimited JSON.

use std::convert::Infallible;
use std::future::Future;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use muster_proto::formation::{InitEvent, InitRequest};
use muster_proto::maintenance::MaintenanceRequest;
use muster_proto::removal::RemoveRequest;
use tokio::sync::mpsc;

use super::error::JsonBody;
use crate::shared::State as AppState;

pub(super) async fn init(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<InitRequest>,
) -> Response {
    streamed(|events| crate::formation::init(state, req, events))
}

pub(super) async fn add(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<InitRequest>,
) -> Response {
    streamed(|events| crate::formation::add(state, req, events))
}

pub(super) async fn remove(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<RemoveRequest>,
) -> Response {
    streamed(|events| crate::removal::remove(state, req, events))
}

pub(super) async fn maintenance(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<MaintenanceRequest>,
) -> Response {
    streamed(|events| crate::maintenance::maintenance(state, req, events))
}

/// Starts `run` and answers with its [`InitEvent`]s, one JSON a line; a
/// run ends with `Done` or `Failed`. The run goes on if the caller leaves.
fn streamed<F>(run: impl FnOnce(mpsc::Sender<InitEvent>) -> F) -> Response
where
    F: Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel::<InitEvent>(64);
    tokio::spawn(run(tx));
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        let event = rx.recv().await?;
        let mut line = serde_json::to_vec(&event).unwrap_or_default();
        line.push(b'\n');
        Some((Ok::<_, Infallible>(Bytes::from(line)), rx))
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(stream),
    )
        .into_response()
}
