//! Errors as HTTP answers: every one leaves as a `muster_proto::ErrorBody`,
//! with the status code its kind maps to.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use muster_proto::ErrorBody;
use serde::de::DeserializeOwned;

use crate::error::{Error, Kind};

#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
    /// The message for a caller over the network, when it differs.
    remote: Option<String>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            remote: None,
        }
    }
}

/// The status code of each kind of domain error.
pub(crate) fn status(kind: Kind) -> StatusCode {
    match kind {
        Kind::Invalid => StatusCode::BAD_REQUEST,
        Kind::Refused => StatusCode::FORBIDDEN,
        Kind::NotFound => StatusCode::NOT_FOUND,
        Kind::Conflict => StatusCode::CONFLICT,
        Kind::Gone => StatusCode::GONE,
        Kind::TooMany => StatusCode::TOO_MANY_REQUESTS,
        Kind::Upstream => StatusCode::BAD_GATEWAY,
        Kind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Kind::Timeout => StatusCode::GATEWAY_TIMEOUT,
        Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        ApiError {
            status: status(e.kind),
            message: e.message,
            remote: e.remote,
        }
    }
}

/// The whole message of an error answer, which only [`for_the_operator`]
/// puts in the body.
#[derive(Clone)]
struct OperatorMessage(String);

impl IntoResponse for ApiError {
    /// The body is what anyone may read; whatever else the operator may is
    /// left aside for [`for_the_operator`]: forgetting that layer tells too
    /// little, never too much.
    fn into_response(self) -> Response {
        let Some(remote) = self.remote else {
            return (
                self.status,
                Json(ErrorBody {
                    error: self.message,
                }),
            )
                .into_response();
        };
        let mut response = (self.status, Json(ErrorBody { error: remote })).into_response();
        response
            .extensions_mut()
            .insert(OperatorMessage(self.message));
        response
    }
}

/// On the unix socket, every error answer with its whole message.
pub(crate) async fn for_the_operator(mut response: Response) -> Response {
    match response.extensions_mut().remove::<OperatorMessage>() {
        Some(OperatorMessage(error)) => {
            (response.status(), Json(ErrorBody { error })).into_response()
        }
        None => response,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    async fn said(response: Response) -> String {
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        serde_json::from_slice::<ErrorBody>(&body).unwrap().error
    }

    #[tokio::test]
    async fn a_remote_caller_reads_the_remote_message_and_the_operator_the_whole() {
        let error = || {
            ApiError::from(
                Error::new(Kind::Upstream, "s2: `ceph` failed: no keyring at /x")
                    .told_remotely("s2: `ceph` failed"),
            )
        };
        assert_eq!(said(error().into_response()).await, "s2: `ceph` failed");
        let operator = for_the_operator(error().into_response()).await;
        assert_eq!(operator.status(), StatusCode::BAD_GATEWAY);
        assert_eq!(said(operator).await, "s2: `ceph` failed: no keyring at /x");
        // An error with one message is the same for both.
        let plain = || ApiError::new(StatusCode::CONFLICT, "already open");
        assert_eq!(said(plain().into_response()).await, "already open");
        assert_eq!(
            said(for_the_operator(plain().into_response()).await).await,
            "already open"
        );
    }
}
