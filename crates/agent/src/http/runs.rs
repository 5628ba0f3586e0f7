//! `POST /v1/init`: `muster init`'s progress as newline-delimited JSON.

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use muster_proto::formation::{InitEvent, InitRequest};
use tokio::sync::mpsc;

use super::error::JsonBody;
use crate::shared::State as AppState;

/// The answer streams [`InitEvent`]s, one JSON a line, and ends with
/// `Done` or `Failed`.
pub(super) async fn init(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<InitRequest>,
) -> Response {
    let (tx, rx) = mpsc::channel::<InitEvent>(64);
    tokio::spawn(crate::formation::init(state, req, tx));
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
