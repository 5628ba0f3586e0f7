//! Who is at an address: where multicast does not carry mDNS, the operator
//! types a server's address, and this asks the agent there what mDNS would
//! have told: its `/v1/info`. Unauthenticated like mDNS, so the answer is
//! a claim, and trust still comes from the session; what is checked here is
//! only that a muster agent answers.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use muster_proto::{paths, AgentInfo};
use muster_trust::FirstContactVerifier;

use crate::answer::{self, Answer};
use crate::error::{Error, ErrorChain, Kind};
use crate::tls;

/// An agent answers `/v1/info` at once; a LAN adds milliseconds.
const LOOK_UP_TIMEOUT: Duration = Duration::from_secs(5);

/// The info the agent at `address` serves, once it is sure a muster agent
/// served it over TLS with the certificate it names.
pub(crate) async fn look_up(address: SocketAddr) -> Result<AgentInfo, Error> {
    let verifier = FirstContactVerifier::new();
    let client = tls::first_contact_client(verifier.clone(), LOOK_UP_TIMEOUT)
        .map_err(|e| Error::new(Kind::Internal, ErrorChain(&e).to_string()))?;
    let response = client
        .get(format!("https://{address}{}", paths::INFO))
        .send()
        .await
        .map_err(|e| unreachable(address, &e))?;
    let not_muster = |why: String| {
        Error::new(
            Kind::Upstream,
            format!("{address} is not a muster agent: {why}"),
        )
    };
    let body = match answer::read(response, answer::PAIRING_LIMIT).await {
        Ok(Answer::Body(body)) => body,
        Ok(Answer::Refused { status, message }) => {
            return Err(not_muster(format!(
                "it answered {status} to GET {} ({message})",
                paths::INFO
            )))
        }
        Err(e) => return Err(not_muster(ErrorChain(&e).to_string())),
    };
    let info: AgentInfo = serde_json::from_slice(&body).map_err(|e| {
        not_muster(format!(
            "its answer to GET {} is not an agent's info ({e})",
            paths::INFO
        ))
    })?;
    // A relay could serve another agent's info: the certificate that
    // carried it must be the one it names.
    match verifier.seen() {
        Some(seen) if seen.as_str() == info.fingerprint => Ok(info),
        _ => Err(not_muster(
            "its TLS certificate is not the one its info names".into(),
        )),
    }
}

fn unreachable(address: SocketAddr, error: &reqwest::Error) -> Error {
    if error.is_timeout() {
        return Error::new(
            Kind::Timeout,
            format!(
                "{address} did not answer within {} s: is musterd running there, and TCP {} \
                 open between the servers?",
                LOOK_UP_TIMEOUT.as_secs(),
                address.port()
            ),
        );
    }
    if refused(error) {
        return Error::new(
            Kind::Upstream,
            format!(
                "nothing listens on {address}: is musterd running there, on port {}?",
                address.port()
            ),
        );
    }
    Error::new(
        Kind::Upstream,
        format!(
            "{address} does not answer as a muster agent: {}",
            ErrorChain(error)
        ),
    )
}

fn refused(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            return io.kind() == io::ErrorKind::ConnectionRefused;
        }
        current = e.source();
    }
    false
}
