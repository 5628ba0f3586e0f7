//! LXD's response envelope, parsed without I/O.

use serde::Deserialize;

use crate::error::LxdError;

/// Whether LXD did the work before answering or started an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseKind {
    Sync,
    /// A background operation; `metadata` holds the operation and
    /// `operation` its URL.
    Async,
}

/// A successful LXD answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub kind: ResponseKind,
    pub status_code: u16,
    /// The operation URL of an async answer ("/1.0/operations/ID"), else "".
    pub operation: String,
    pub metadata: serde_json::Value,
}

impl Response {
    /// The operation's id of an async answer.
    pub fn operation_id(&self) -> Option<String> {
        if let Some(id) = self.metadata.get("id").and_then(|v| v.as_str()) {
            if !id.is_empty() {
                return Some(id.to_owned());
            }
        }
        operation_id_from_url(&self.operation).map(str::to_owned)
    }
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    status_code: u16,
    #[serde(default)]
    operation: String,
    #[serde(default)]
    error_code: u16,
    #[serde(default)]
    error: String,
    #[serde(default)]
    metadata: serde_json::Value,
}

/// Longest piece of a non-JSON body quoted in an error.
const QUOTE_LIMIT: usize = 200;

/// Parses an LXD answer to `method path` with HTTP status `http_status`.
/// LXD's own refusals become [`LxdError::Refused`] with its message.
pub fn parse_response(
    method: &str,
    path: &str,
    http_status: u16,
    body: &[u8],
) -> Result<Response, LxdError> {
    let http_ok = (200..300).contains(&http_status);
    let envelope: Envelope = match serde_json::from_slice(body) {
        Ok(e) => e,
        Err(e) => {
            if !http_ok {
                return Err(refused(method, path, http_status, quote(body)));
            }
            return Err(LxdError::Protocol {
                method: method.to_owned(),
                path: path.to_owned(),
                detail: format!("not an LXD response ({e}): {}", quote(body)),
            });
        }
    };
    if envelope.kind == "error" || !http_ok {
        let status = if envelope.error_code != 0 {
            envelope.error_code
        } else {
            http_status
        };
        let message = if envelope.error.is_empty() {
            format!("HTTP status {http_status}")
        } else {
            envelope.error
        };
        return Err(refused(method, path, status, message));
    }
    let kind = match envelope.kind.as_str() {
        "sync" => ResponseKind::Sync,
        "async" => ResponseKind::Async,
        other => {
            return Err(LxdError::Protocol {
                method: method.to_owned(),
                path: path.to_owned(),
                detail: format!("unknown response type {other:?}"),
            })
        }
    };
    Ok(Response {
        kind,
        status_code: envelope.status_code,
        operation: envelope.operation,
        metadata: envelope.metadata,
    })
}

fn refused(method: &str, path: &str, status: u16, message: String) -> LxdError {
    LxdError::Refused {
        method: method.to_owned(),
        path: path.to_owned(),
        status,
        message,
    }
}

fn quote(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "empty body".to_owned();
    }
    match text.char_indices().nth(QUOTE_LIMIT) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

/// The id in an operation URL such as "/1.0/operations/ID?project=default".
pub fn operation_id_from_url(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("/1.0/operations/")?;
    let id = rest.split(['?', '/']).next()?;
    (!id.is_empty()).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::bytes as fixture;

    #[test]
    fn sync_answer() {
        let r = parse_response(
            "GET",
            "/1.0",
            200,
            &fixture("lxd-5.0.2-server-standalone.json"),
        )
        .unwrap();
        assert_eq!(r.kind, ResponseKind::Sync);
        assert_eq!(r.status_code, 200);
        assert!(r.metadata.get("api_extensions").is_some());
    }

    #[test]
    fn async_answer_gives_operation_id() {
        let body = fixture("lxd-5.0.2-cluster-bootstrap-async.json");
        let r = parse_response("PUT", "/1.0/cluster", 202, &body).unwrap();
        assert_eq!(r.kind, ResponseKind::Async);
        assert_eq!(
            r.operation_id().as_deref(),
            Some("d6c23e76-af76-4c27-bea0-0a09505d0b8b")
        );
    }

    #[test]
    fn lxd_error_carries_its_message_status_and_request() {
        let body = fixture("lxd-5.0.2-error-pool-exists.json");
        let err = parse_response("POST", "/1.0/storage-pools", 409, &body).unwrap_err();
        assert!(err.is_conflict());
        assert_eq!(
            err.to_string(),
            "LXD refused POST /1.0/storage-pools: \
             The storage pool already exists: The record already exists"
        );
        let body = fixture("lxd-5.0.2-error-pool-source.json");
        let err = parse_response("POST", "/1.0/storage-pools", 500, &body).unwrap_err();
        assert_eq!(err.status(), Some(500));
        assert!(err.to_string().contains("is within the LXD directory"));
    }

    #[test]
    fn http_error_without_json() {
        let err = parse_response("GET", "/1.0", 502, b"<html>bad gateway</html>").unwrap_err();
        assert_eq!(err.status(), Some(502));
        assert_eq!(
            err.to_string(),
            "LXD refused GET /1.0: <html>bad gateway</html>"
        );
        let err = parse_response("GET", "/1.0", 500, b"").unwrap_err();
        assert!(err.to_string().ends_with("empty body"));
    }

    #[test]
    fn http_error_with_empty_lxd_message() {
        let err =
            parse_response("GET", "/1.0/x", 404, br#"{"type":"error","error":""}"#).unwrap_err();
        assert!(err.is_not_found());
        assert_eq!(err.to_string(), "LXD refused GET /1.0/x: HTTP status 404");
    }

    #[test]
    fn garbage_is_a_protocol_error_not_a_panic() {
        let long = vec![b'x'; 10_000];
        for body in [
            &b"not json"[..],
            b"[]",
            b"{\"type\":\"weird\"}",
            &long,
            &[0xff, 0xfe],
        ] {
            let err = parse_response("GET", "/1.0", 200, body).unwrap_err();
            assert!(matches!(err, LxdError::Protocol { .. }), "{err}");
            assert!(err.to_string().len() < 600);
        }
    }

    #[test]
    fn operation_ids_from_urls() {
        assert_eq!(
            operation_id_from_url("/1.0/operations/ae0b694d?project=default"),
            Some("ae0b694d")
        );
        assert_eq!(operation_id_from_url("/1.0/operations/abc"), Some("abc"));
        assert_eq!(
            operation_id_from_url("/1.0/operations/abc/wait"),
            Some("abc")
        );
        assert_eq!(operation_id_from_url("/1.0/operations/"), None);
        assert_eq!(operation_id_from_url(""), None);
        assert_eq!(operation_id_from_url("/1.0/instances/c1"), None);
    }
}
