//! Calling other members: this agent calls member NAME over mutual TLS,
//! presenting its own certificate and accepting only NAME's pinned one, at
//! the addresses mDNS currently announces for NAME and then those stored
//! when it joined. (Serving the member API is [`crate::http`]'s.)

use std::net::SocketAddr;
use std::time::Duration;

use muster_plan::StepKind;
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::answer::{self, Answer};
use crate::error::{Error, ErrorChain, Kind};
use crate::shared::Shared;
use crate::tls;

/// A disk scan over the network: a few seconds at most.
const MEMBER_CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// `GET path` on member `name` over pinned mutual TLS.
pub(crate) async fn call_member<T: DeserializeOwned>(
    state: &Shared,
    name: &str,
    path: &str,
) -> Result<T, Error> {
    request_member(state, name, path, None, MEMBER_CALL_TIMEOUT).await
}

/// `POST path` on member `name` with `body` as JSON ([`request_member`]).
pub(crate) async fn post_member<T: DeserializeOwned>(
    state: &Shared,
    name: &str,
    path: &str,
    body: &impl Serialize,
    timeout: Duration,
) -> Result<T, Error> {
    let body = serde_json::to_value(body).map_err(|e| {
        Error::new(
            Kind::Internal,
            format!("cannot encode the request to {name}: {e}"),
        )
    })?;
    request_member(state, name, path, Some(&body), timeout).await
}

/// `GET path` (no body) or `POST path` with a JSON body on member `name`
/// over pinned mutual TLS, waiting up to `timeout` for its answer.
pub(crate) async fn request_member<T: DeserializeOwned>(
    state: &Shared,
    name: &str,
    path: &str,
    body: Option<&serde_json::Value>,
    timeout: Duration,
) -> Result<T, Error> {
    let Some(member) = state.trust().get(name).cloned() else {
        return Err(Error::new(
            Kind::NotFound,
            format!(
                "{name} is not a trusted member of {} (`muster members` lists them)",
                state.me.name
            ),
        ));
    };
    let client = tls::member_client(&state.identity, &member.fingerprint, timeout)
        .map_err(|e| Error::new(Kind::Internal, ErrorChain(&e).to_string()))?;
    let mut problems = Vec::new();
    for endpoint in candidates(&state.seen.endpoints_of(name), &member.addresses) {
        match try_endpoint(&client, endpoint, path, body).await {
            Ok(Attempt::Answered(value)) => {
                if let Err(e) = state.trust().note_address(name, endpoint) {
                    tracing::warn!(error = %ErrorChain(&e), "cannot record a member's address");
                }
                return Ok(value);
            }
            Ok(Attempt::Refused(status, message)) => {
                return Err(Error::new(
                    Kind::Upstream,
                    format!("{name} ({endpoint}) answered {status}: {message}"),
                ));
            }
            // The server there holds the pinned certificate: it is the
            // member, and other addresses would say the same.
            Ok(Attempt::DistrustsUs) => {
                return Err(distrusts_us(&state.me.name, name, endpoint));
            }
            Err(problem) => {
                tracing::info!(member = name, %endpoint, problem = %problem, "member address failed");
                problems.push(format!("{endpoint}: {problem}"));
            }
        }
    }
    Err(Error::new(
        Kind::Upstream,
        format!(
            "cannot reach {name} at any of its addresses: {}",
            problems.join("; ")
        ),
    ))
}

/// Carries out a Ceph step of a plan on `member`: here, or through its
/// agent.
pub(crate) async fn ceph_step(state: &Shared, member: &str, kind: &StepKind) -> Result<(), Error> {
    let Some(req) = crate::ceph::apply(&state.ceph, member, kind).await? else {
        return Ok(());
    };
    let path = muster_proto::formation::paths::CEPH_STEP;
    post_member::<crate::ceph::CephStepResponse>(
        state,
        member,
        path,
        &req,
        crate::ceph::STEP_TIMEOUT,
    )
    .await?;
    Ok(())
}

/// Where to look for a member: what mDNS says now first (addresses change),
/// then what was stored. Pure.
pub(crate) fn candidates(announced: &[SocketAddr], stored: &[SocketAddr]) -> Vec<SocketAddr> {
    let mut out: Vec<SocketAddr> = Vec::new();
    for a in announced.iter().chain(stored) {
        if !out.contains(a) {
            out.push(*a);
        }
    }
    out
}

/// A member this server pins refused this server's certificate: half of
/// a pairing whose Welcome never reached the member (it died, or the
/// connection broke, after this server stored it). Joining again, with the
/// same certificate, completes it; [`Kind::Refused`] tells callers that
/// this is the case (see `formation::establish_trust`).
fn distrusts_us(me: &str, name: &str, endpoint: SocketAddr) -> Error {
    Error::new(
        Kind::Refused,
        format!(
            "{name} ({endpoint}) does not trust {me}'s certificate, though {me} trusts {name}'s: \
             its join did not finish (or {name} forgot {me}). Join again: `muster init` opens a \
             session and waits for it (zero-touch enrollment retries by itself), or run \
             `muster session open` here and `muster join` on {name}"
        ),
    )
}

enum Attempt<T> {
    Answered(T),
    /// The member itself answered with an error.
    Refused(StatusCode, String),
    /// The member refused this server's certificate in the TLS handshake.
    DistrustsUs,
}

async fn try_endpoint<T: DeserializeOwned>(
    client: &reqwest::Client,
    endpoint: SocketAddr,
    path: &str,
    body: Option<&serde_json::Value>,
) -> Result<Attempt<T>, String> {
    let url = format!("https://{endpoint}{path}");
    let request = match body {
        Some(body) => client.post(url).json(body),
        None => client.get(url),
    };
    let response = match request.send().await {
        Err(e) if tls::is_refused_by_peer(&e) => return Ok(Attempt::DistrustsUs),
        sent => sent,
    };
    let response = response.map_err(|e| {
        if tls::is_pin_mismatch(&e) {
            "the server there presented a certificate that is not the one pinned for this member; \
             refused (is another server using its name or address?)"
                .to_owned()
        } else {
            ErrorChain(&e).to_string()
        }
    })?;
    match answer::read(response, answer::MEMBER_LIMIT).await {
        Ok(Answer::Body(body)) => serde_json::from_slice(&body)
            .map(Attempt::Answered)
            .map_err(|e| format!("unexpected answer: {e}")),
        Ok(Answer::Refused { status, message }) => Ok(Attempt::Refused(status, message)),
        Err(e) => Err(ErrorChain(&e).to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announced_addresses_come_first_without_repeats() {
        let a: SocketAddr = "10.0.0.9:9443".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:9443".parse().unwrap();
        let c: SocketAddr = "10.0.0.3:9443".parse().unwrap();
        assert_eq!(candidates(&[a, b], &[b, c]), vec![a, b, c]);
        assert_eq!(candidates(&[], &[b]), vec![b]);
    }
}
