//! Talking to the local agent over its unix socket.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use muster_proto::ErrorBody;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A disk scan reads sysfs and a few device headers: seconds at most. A
/// join may wait for mDNS and for an initiator holding a wrong guess's
/// answer (up to 30 s), hence the margin.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
const POOL_IDLE: Duration = Duration::from_secs(5);

/// An agent's error message is shown whole unless it is absurdly long.
const MAX_MESSAGE_CHARS: usize = 2000;

/// Errors a user can act on; the display text is the whole story.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("cannot reach musterd at {0}: is it running? (systemctl status musterd)")]
    Unreachable(PathBuf),

    #[error("permission denied on {0}: talking to musterd needs root (try sudo)")]
    PermissionDenied(PathBuf),

    #[error("musterd at {path} answered {status}: {message}")]
    Status {
        path: PathBuf,
        status: u16,
        message: String,
    },

    #[error("unexpected answer from musterd at {path}")]
    BadAnswer {
        path: PathBuf,
        #[source]
        source: reqwest::Error,
    },

    #[error("request to musterd at {path} failed")]
    Request {
        path: PathBuf,
        #[source]
        source: reqwest::Error,
    },
}

/// A client of the agent's local API.
pub struct AgentClient {
    socket: PathBuf,
    http: reqwest::Client,
}

impl AgentClient {
    pub fn new(socket: &Path) -> Result<Self, AgentError> {
        let http = reqwest::Client::builder()
            .unix_socket(socket)
            .timeout(REQUEST_TIMEOUT)
            // The agent closes a connection idle for 10 s: never reuse one
            // it may be closing.
            .pool_idle_timeout(POOL_IDLE)
            .build()
            .map_err(|source| AgentError::Request {
                path: socket.to_path_buf(),
                source,
            })?;
        Ok(AgentClient {
            socket: socket.to_path_buf(),
            http,
        })
    }

    /// `GET path` and decode the JSON answer.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, AgentError> {
        self.call(Method::GET, path, None::<&()>).await
    }

    /// `POST path` with a JSON body and decode the JSON answer.
    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, AgentError> {
        self.call(Method::POST, path, Some(body)).await
    }

    /// `POST path` with a JSON body; the answer's body is left to the caller
    /// to read as it streams (no overall time limit: `muster init` takes
    /// as long as forming the cluster takes).
    pub async fn post_stream<B: Serialize>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<reqwest::Response, AgentError> {
        let http = reqwest::Client::builder()
            .unix_socket(self.socket.as_path())
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|source| AgentError::Request {
                path: self.socket.clone(),
                source,
            })?;
        let response = http
            .post(format!("http://musterd{path}"))
            .json(body)
            .send()
            .await
            .map_err(|e| self.classify(e))?;
        self.check_status(response).await
    }

    /// `DELETE path` and decode the JSON answer.
    pub async fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T, AgentError> {
        self.call(Method::DELETE, path, None::<&()>).await
    }

    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, AgentError> {
        // The host is ignored on a unix socket; it only names the peer in logs.
        let url = format!("http://musterd{path}");
        let mut request = self.http.request(method, url);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| self.classify(e))?;
        let response = self.check_status(response).await?;
        response
            .json()
            .await
            .map_err(|source| AgentError::BadAnswer {
                path: self.socket.clone(),
                source,
            })
    }

    /// The response when it is a success, else the agent's error.
    async fn check_status(
        &self,
        response: reqwest::Response,
    ) -> Result<reqwest::Response, AgentError> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = response.text().await.unwrap_or_default();
        Err(AgentError::Status {
            path: self.socket.clone(),
            status: status.as_u16(),
            message: error_message(&body, status.canonical_reason()),
        })
    }

    fn classify(&self, error: reqwest::Error) -> AgentError {
        let path = self.socket.clone();
        match io_error_kind(&error) {
            Some(io::ErrorKind::PermissionDenied) => AgentError::PermissionDenied(path),
            // A missing socket, or a file left behind by an agent that died.
            Some(io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused) => {
                AgentError::Unreachable(path)
            }
            _ => AgentError::Request {
                path,
                source: error,
            },
        }
    }
}

/// The agent's `{"error": ...}` body if there is one, else the status text.
fn error_message(body: &str, reason: Option<&str>) -> String {
    match serde_json::from_str::<ErrorBody>(body) {
        Ok(ErrorBody { error }) => muster_discovery::printable_up_to(&error, MAX_MESSAGE_CHARS),
        Err(_) => reason.unwrap_or("error").to_string(),
    }
}

/// The OS error under reqwest's and hyper's wrappers, if any.
fn io_error_kind(error: &(dyn std::error::Error + 'static)) -> Option<io::ErrorKind> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            return Some(io.kind());
        }
        current = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_are_shown_when_present() {
        assert_eq!(
            error_message(
                r#"{"error":"scan failed: /sys not mounted"}"#,
                Some("Internal")
            ),
            "scan failed: /sys not mounted"
        );
        assert_eq!(
            error_message("<html>", Some("Internal Server Error")),
            "Internal Server Error"
        );
    }

    #[test]
    fn io_errors_are_found_under_wrappers() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] io::Error);
        let e = Outer(io::Error::from(io::ErrorKind::PermissionDenied));
        assert_eq!(io_error_kind(&e), Some(io::ErrorKind::PermissionDenied));
        let plain = std::fmt::Error;
        assert_eq!(io_error_kind(&plain), None);
    }

    /// What stands at the socket path in a test.
    enum Fake {
        Nothing,
        /// A socket file nobody listens on, as a killed agent leaves.
        Stale,
        /// Answers one request with this status line and JSON body.
        Answers(&'static str, &'static str),
    }

    /// Asks a fake agent for `/v1/disks`; returns the outcome and the
    /// socket path as errors print it.
    async fn ask<T: DeserializeOwned>(fake: Fake) -> (Result<T, AgentError>, String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("musterd.sock");
        let server = match fake {
            Fake::Nothing => None,
            Fake::Stale => {
                drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
                None
            }
            Fake::Answers(status, body) => {
                let listener = tokio::net::UnixListener::bind(&socket).unwrap();
                let response = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                Some(tokio::spawn(async move {
                    let (mut stream, _) = listener.accept().await.unwrap();
                    let mut request = vec![0; 4096];
                    let _ = stream.read(&mut request).await.unwrap();
                    stream.write_all(response.as_bytes()).await.unwrap();
                    stream.shutdown().await.unwrap();
                }))
            }
        };
        crate::install_crypto_provider();
        let client = AgentClient::new(&socket).unwrap();
        let result = client.get(muster_proto::paths::DISKS).await;
        if let Some(server) = server {
            server.await.unwrap();
        }
        (result, socket.display().to_string())
    }

    #[tokio::test]
    async fn a_missing_socket_says_is_it_running() {
        let (result, socket) = ask::<serde_json::Value>(Fake::Nothing).await;
        assert_eq!(
            result.unwrap_err().to_string(),
            format!("cannot reach musterd at {socket}: is it running? (systemctl status musterd)")
        );
    }

    #[tokio::test]
    async fn a_stale_socket_file_says_is_it_running() {
        let (result, _) = ask::<serde_json::Value>(Fake::Stale).await;
        let err = result.unwrap_err();
        assert!(matches!(err, AgentError::Unreachable(_)), "{err:?}");
    }

    #[tokio::test]
    async fn decodes_a_json_answer() {
        let (result, _) = ask::<Vec<muster_disks::Disk>>(Fake::Answers("200 OK", "[]")).await;
        assert!(result.unwrap().is_empty());
    }

    #[tokio::test]
    async fn shows_the_agents_error_body() {
        let fake = Fake::Answers("500 Internal Server Error", r#"{"error":"scan failed"}"#);
        let (result, socket) = ask::<serde_json::Value>(fake).await;
        assert_eq!(
            result.unwrap_err().to_string(),
            format!("musterd at {socket} answered 500: scan failed")
        );
    }

    #[tokio::test]
    async fn a_body_that_is_not_the_expected_json_is_a_bad_answer() {
        let (result, _) = ask::<Vec<muster_disks::Disk>>(Fake::Answers("200 OK", "{}")).await;
        let err = result.unwrap_err();
        assert!(matches!(err, AgentError::BadAnswer { .. }), "{err:?}");
    }
}
