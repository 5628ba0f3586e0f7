//! Reading another agent's answer over HTTPS, bounded in size. The other
//! side decides how much it sends: an initiator that is not trusted yet
//! (pairing) or a member; read whole before looking, one answer of 800 MB
//! took musterd to 1.66 GB. A redirect is an answer too: the clients follow
//! none ([`crate::tls`]), and one says so here.

use std::fmt;

use muster_proto::ErrorBody;
use reqwest::header::LOCATION;
use reqwest::{Response, StatusCode};

/// Pairing messages are a few hundred bytes.
pub(crate) const PAIRING_LIMIT: Limit = Limit(64 * 1024);
/// A member's disk scan or Ceph state: tens of KiB on a server with many
/// disks.
pub(crate) const MEMBER_LIMIT: Limit = Limit(4 * 1024 * 1024);

/// The most bytes of a body this agent reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limit(usize);

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MIB: usize = 1024 * 1024;
        match self.0 {
            n if n % MIB == 0 => write!(f, "{} MiB", n / MIB),
            n => write!(f, "{} KiB", n / 1024),
        }
    }
}

/// What the other agent answered.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// A 2xx status: the body.
    Body(Vec<u8>),
    /// An error status, with the message of its [`ErrorBody`] (the status
    /// itself when the body is not one).
    Refused { status: StatusCode, message: String },
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum AnswerError {
    #[error(
        "it answered {status} to {location}, a redirect: muster agents never redirect, and it \
         was not followed"
    )]
    Redirect {
        status: StatusCode,
        location: String,
    },
    #[error("its answer is larger than {limit}; stopped reading it there")]
    TooLarge { limit: Limit },
    #[error("cannot read its answer")]
    Read(#[source] reqwest::Error),
}

/// Reads `response`, at most `limit` bytes of its body, as it arrives.
pub(crate) async fn read(mut response: Response, limit: Limit) -> Result<Answer, AnswerError> {
    let status = response.status();
    if status.is_redirection() {
        let location = response
            .headers()
            .get(LOCATION)
            .map(|l| muster_discovery::printable_up_to(&String::from_utf8_lossy(l.as_bytes()), 200))
            .unwrap_or_else(|| "nowhere".into());
        return Err(AnswerError::Redirect { status, location });
    }
    let body = read_body(&mut response, limit).await?;
    if status.is_success() {
        return Ok(Answer::Body(body));
    }
    let message = serde_json::from_slice::<ErrorBody>(&body)
        .map(|b| muster_discovery::printable_up_to(&b.error, 500))
        .unwrap_or_else(|_| status.to_string());
    Ok(Answer::Refused { status, message })
}

async fn read_body(response: &mut Response, limit: Limit) -> Result<Vec<u8>, AnswerError> {
    let too_large = AnswerError::TooLarge { limit };
    // A declared length says it all before anything is read.
    if response
        .content_length()
        .is_some_and(|n| n > limit.0 as u64)
    {
        return Err(too_large);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(AnswerError::Read)? {
        if body.len() + chunk.len() > limit.0 {
            return Err(too_large);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, location: Option<&str>, body: impl Into<reqwest::Body>) -> Response {
        let mut answer = http::Response::builder().status(status);
        if let Some(location) = location {
            answer = answer.header("location", location);
        }
        Response::from(answer.body(body).unwrap())
    }

    #[test]
    fn limits_read_in_the_largest_whole_unit() {
        assert_eq!(PAIRING_LIMIT.to_string(), "64 KiB");
        assert_eq!(MEMBER_LIMIT.to_string(), "4 MiB");
    }

    #[tokio::test]
    async fn a_body_within_the_limit_is_read_and_a_larger_one_refused() {
        let small = read(response(200, None, vec![b'x'; 1000]), PAIRING_LIMIT).await;
        assert_eq!(small.unwrap(), Answer::Body(vec![b'x'; 1000]));
        let large = read(
            response(200, None, vec![b' '; 64 * 1024 + 1]),
            PAIRING_LIMIT,
        )
        .await;
        assert_eq!(
            large.unwrap_err().to_string(),
            "its answer is larger than 64 KiB; stopped reading it there"
        );
        // An error's body is bounded the same.
        let large = read(
            response(500, None, vec![b' '; 64 * 1024 + 1]),
            PAIRING_LIMIT,
        )
        .await;
        assert!(
            matches!(large, Err(AnswerError::TooLarge { .. })),
            "{large:?}"
        );
    }

    #[tokio::test]
    async fn an_error_status_gives_the_agent_s_message_or_the_status() {
        let refused = read(
            response(409, None, r#"{"error":"already used"}"#),
            PAIRING_LIMIT,
        );
        assert_eq!(
            refused.await.unwrap(),
            Answer::Refused {
                status: StatusCode::CONFLICT,
                message: "already used".into()
            }
        );
        let other = read(response(500, None, "<html>"), PAIRING_LIMIT).await;
        assert_eq!(
            other.unwrap(),
            Answer::Refused {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                message: "500 Internal Server Error".into()
            }
        );
    }

    #[tokio::test]
    async fn a_redirect_is_an_error_that_says_where_it_pointed() {
        let moved = read(response(307, Some("http://10.0.0.9/x"), ""), PAIRING_LIMIT).await;
        assert_eq!(
            moved.unwrap_err().to_string(),
            "it answered 307 Temporary Redirect to http://10.0.0.9/x, a redirect: muster \
             agents never redirect, and it was not followed"
        );
        let nowhere = read(response(301, None, ""), MEMBER_LIMIT)
            .await
            .unwrap_err();
        assert!(nowhere.to_string().contains("to nowhere"), "{nowhere}");
    }
}
