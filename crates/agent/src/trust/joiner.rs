//! The joiner's side: run the handshake with an initiator's agent over
//! HTTPS and, once both sides have confirmed the key, pin it.
//!
//! First contact has no pin yet: the TLS client accepts any certificate
//! and records its fingerprint ([`muster_trust::FirstContactVerifier`]);
//! the handshake then authenticates the initiator's fingerprint, and the
//! two must be equal, or the party at the other end of the TLS connection
//! is not the one that knows the passphrase.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use muster_proto::trust::{Initiator, JoinRequest, Joined, LISTEN_PORT_HEADER};
use muster_proto::{paths, DEFAULT_PORT};
use muster_trust::pake::PROTOCOL as PROTOCOL_NAME;
use muster_trust::{
    Fingerprint, Finish, FirstContactVerifier, Hello, JoinerAttempt, Passphrase, PeerIdentity,
    Reply, SessionInfo, Welcome,
};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::answer::{self, Answer};
use crate::error::{Error, ErrorChain, Kind};
use crate::guess_budget::BudgetError;
use crate::session::summary;
use crate::shared::Shared;
use crate::tls;
use crate::trust_store::{check_name, Member, Role, TrustStoreError};

/// An initiator holds a failed Finish for up to 30 s (the penalty), so a
/// Finish may take that long to answer.
const PAIRING_TIMEOUT: Duration = Duration::from_secs(45);
/// How long `GET /v1/initiators` may wait for one to appear, at most.
const MAX_DISCOVERY_WAIT: Duration = Duration::from_secs(60);

/// Why a join failed. Each says what happened at which address.
#[derive(Debug, thiserror::Error)]
pub(crate) enum JoinError {
    #[error("cannot reach {endpoint}: {reason}")]
    Unreachable {
        endpoint: SocketAddr,
        reason: String,
    },
    #[error("{endpoint} has no trust session open; open one there with `muster session open`")]
    NoSession { endpoint: SocketAddr },
    #[error("{endpoint} refused: {message}")]
    Refused {
        endpoint: SocketAddr,
        status: StatusCode,
        message: String,
    },
    #[error("{endpoint} says the passphrase did not match; check it and try again")]
    WrongPassphrase { endpoint: SocketAddr },
    #[error(
        "{endpoint} received this server's confirmation but did not welcome it ({reason}); \
         this server trusted nothing. The initiator may trust this server already: join again \
         (with the same certificate that is no conflict) to finish"
    )]
    NoWelcome {
        endpoint: SocketAddr,
        reason: String,
    },
    #[error(
        "{endpoint} could not prove that it knows the passphrase: it may be an impostor, or the \
         passphrase is wrong; nothing was trusted"
    )]
    NotConfirmed { endpoint: SocketAddr },
    #[error(
        "{endpoint}'s TLS certificate is not the one its handshake named ({reason}): the \
         connection may be intercepted; nothing was trusted"
    )]
    Intercepted {
        endpoint: SocketAddr,
        reason: String,
    },
    #[error("{endpoint} answered something that is not muster's handshake: {reason}")]
    Protocol {
        endpoint: SocketAddr,
        reason: String,
    },
    #[error(
        "{endpoint} presents certificate {fingerprint}, not the one \
         enrollment_initiator_fingerprint names; nothing was sent"
    )]
    NotChosen {
        endpoint: SocketAddr,
        fingerprint: String,
    },
    #[error("not joining {endpoint}: {source}")]
    Budget {
        endpoint: SocketAddr,
        source: BudgetError,
    },
    #[error("no initiator address to try")]
    NoEndpoint,
    #[error("{0}")]
    Local(String),
    #[error("the handshake succeeded but this server could not store the trust: {0}")]
    Store(#[from] TrustStoreError),
}

impl JoinError {
    pub fn endpoint(&self) -> Option<SocketAddr> {
        match self {
            JoinError::Unreachable { endpoint, .. }
            | JoinError::NoSession { endpoint }
            | JoinError::Refused { endpoint, .. }
            | JoinError::WrongPassphrase { endpoint }
            | JoinError::NoWelcome { endpoint, .. }
            | JoinError::NotConfirmed { endpoint }
            | JoinError::Intercepted { endpoint, .. }
            | JoinError::Protocol { endpoint, .. }
            | JoinError::NotChosen { endpoint, .. }
            | JoinError::Budget { endpoint, .. } => Some(*endpoint),
            JoinError::NoEndpoint | JoinError::Local(_) | JoinError::Store(_) => None,
        }
    }

    /// Whether to try the initiator's next address: only when nothing
    /// that tests a guess went to this one (mDNS may list a rogue's address
    /// beside the real one).
    fn try_next(&self) -> bool {
        matches!(
            self,
            JoinError::Unreachable { .. }
                | JoinError::NotChosen { .. }
                | JoinError::Budget {
                    source: BudgetError::Refused(_),
                    ..
                }
        )
    }

    fn kind(&self) -> Kind {
        match self {
            JoinError::WrongPassphrase { .. }
            | JoinError::NotConfirmed { .. }
            | JoinError::NotChosen { .. } => Kind::Refused,
            JoinError::NoSession { .. } => Kind::NotFound,
            JoinError::Refused { .. } => Kind::Conflict,
            JoinError::NoEndpoint => Kind::Invalid,
            JoinError::Budget {
                source: BudgetError::Refused(_),
                ..
            } => Kind::TooMany,
            JoinError::Local(_) | JoinError::Store(_) | JoinError::Budget { .. } => Kind::Internal,
            _ => Kind::Upstream,
        }
    }
}

/// An `ADDRESS[:PORT]` as the operator typed it: `10.0.0.1`,
/// `10.0.0.1:9443`, `fd00::1`, `[fd00::1]:9443`, `s1.lan:9443`. Pure.
pub fn parse_endpoint(text: &str) -> Result<(String, u16), String> {
    let text = text.trim();
    let bad = || {
        format!(
            "{text:?} is not an address: give ADDRESS or ADDRESS:PORT, e.g. 10.0.0.1:{DEFAULT_PORT} \
             or [fd00::1]:{DEFAULT_PORT}"
        )
    };
    let port = |p: &str| p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(bad);
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(bad)?;
        host.parse::<std::net::Ipv6Addr>().map_err(|_| bad())?;
        return match after {
            "" => Ok((host.to_owned(), DEFAULT_PORT)),
            p => Ok((host.to_owned(), port(p.strip_prefix(':').ok_or_else(bad)?)?)),
        };
    }
    if text.parse::<std::net::Ipv6Addr>().is_ok() {
        return Ok((text.to_owned(), DEFAULT_PORT));
    }
    let (host, p) = match text.rsplit_once(':') {
        Some((host, p)) => (host, port(p)?),
        None => (text, DEFAULT_PORT),
    };
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if !host_ok {
        return Err(bad());
    }
    Ok((host.to_owned(), p))
}

/// Resolves each `ADDRESS[:PORT]` in order.
async fn resolve(texts: &[String]) -> Result<Vec<SocketAddr>, Error> {
    let mut out = Vec::new();
    for text in texts {
        let (host, port) = parse_endpoint(text).map_err(|m| Error::new(Kind::Invalid, m))?;
        let found = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|e| Error::new(Kind::Invalid, format!("cannot resolve {host}: {e}")))?;
        for a in found {
            if !out.contains(&a) {
                out.push(a);
            }
        }
    }
    Ok(out)
}

/// Joins the session of the initiator at the first of `endpoints` that
/// answers, and trusts it; with `only`, no initiator but the one with that
/// certificate gets a confirmation.
pub(crate) async fn join(
    state: &Shared,
    endpoints: &[SocketAddr],
    passphrase: &Passphrase,
    only: Option<&Fingerprint>,
) -> Result<(PeerIdentity, SocketAddr), JoinError> {
    let _one_at_a_time = state.joining.lock().await;
    let mut skipped = Vec::new();
    for &endpoint in endpoints {
        match handshake(state, endpoint, passphrase, only).await {
            Ok(initiator) => {
                check_name(&initiator.name)
                    .map_err(|why| JoinError::Local(format!("the initiator's name: {why}")))?;
                // The server this one joined drives it; a trusted name with
                // another certificate is never taken over from this side.
                let member = Member::new(
                    initiator.name.clone(),
                    initiator.fingerprint.clone(),
                    endpoint,
                    Role::Controller,
                );
                state.trust_member(member, false)?;
                tracing::info!(initiator = %initiator.name, "joined the initiator's session");
                return Ok((initiator, endpoint));
            }
            Err(e) if e.try_next() => {
                tracing::info!(error = %e, "trying the initiator's next address");
                skipped.push(e);
            }
            Err(e) => return Err(e),
        }
    }
    Err(skipped.pop().unwrap_or(JoinError::NoEndpoint))
}

/// One handshake with one address.
async fn handshake(
    state: &Shared,
    endpoint: SocketAddr,
    passphrase: &Passphrase,
    only: Option<&Fingerprint>,
) -> Result<PeerIdentity, JoinError> {
    check_budget(state, endpoint, None)?;
    let verifier = FirstContactVerifier::new();
    let client = tls::first_contact_client(verifier.clone(), PAIRING_TIMEOUT)
        .map_err(|e| JoinError::Local(ErrorChain(&e).to_string()))?;
    let call = Call {
        client,
        endpoint,
        port: state.https_port,
    };

    let info: SessionInfo = call.get(paths::PAIR_SESSION).await?;
    // The certificate is known from the first answer: an initiator that
    // may not have a confirmation is not even sent a Hello.
    if let Some(seen) = verifier.seen() {
        check_chosen(endpoint, &seen, only)?;
        check_budget(state, endpoint, Some(&seen))?;
    }
    if info.protocol != PROTOCOL_NAME {
        return Err(JoinError::Protocol {
            endpoint,
            reason: format!("it speaks {:?}, not {PROTOCOL_NAME}", info.protocol),
        });
    }
    let (attempt, hello) = JoinerAttempt::start(passphrase, info.session_id, state.me.clone())
        .map_err(|e| JoinError::Local(e.to_string()))?;
    let reply: Reply = call.post::<Hello, Reply>(paths::PAIR_HELLO, &hello).await?;
    // Before any confirmation leaves: a relay with another certificate
    // gets no Finish, and so no guess to test.
    check_tls_peer(&verifier, &reply.initiator_fingerprint, endpoint)?;
    let (awaiting, finish) = attempt.reply(&reply).map_err(|e| JoinError::Protocol {
        endpoint,
        reason: e.to_string(),
    })?;
    // Checked again on the certificate the handshake names: the first
    // answer may have come over another connection.
    let initiator_fingerprint = &reply.initiator_fingerprint;
    check_chosen(endpoint, initiator_fingerprint, only)?;
    // The Finish lets whoever receives it test one guess, whatever it then
    // answers: spent (on disk) before it leaves.
    if let Some(budget) = &state.guesses {
        budget
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .spend(initiator_fingerprint, endpoint.ip())
            .map_err(|source| JoinError::Budget { endpoint, source })?;
    }
    let welcome: Welcome = call
        .post::<Finish, Welcome>(paths::PAIR_FINISH, &finish)
        .await
        .map_err(|e| match e {
            JoinError::Refused {
                endpoint,
                status: StatusCode::FORBIDDEN,
                ..
            } => JoinError::WrongPassphrase { endpoint },
            other => JoinError::NoWelcome {
                endpoint,
                reason: other.to_string(),
            },
        })?;
    let initiator = awaiting
        .welcome(&welcome)
        .map_err(|_| JoinError::NotConfirmed { endpoint })?;
    check_tls_peer(&verifier, &initiator.fingerprint, endpoint)?;
    Ok(initiator)
}

/// Whether the initiator at `endpoint` whose certificate is `fingerprint`
/// is the one enrollment was told to join, if it was told.
fn check_chosen(
    endpoint: SocketAddr,
    fingerprint: &Fingerprint,
    only: Option<&Fingerprint>,
) -> Result<(), JoinError> {
    match only {
        Some(only) if only != fingerprint => Err(JoinError::NotChosen {
            endpoint,
            fingerprint: fingerprint.short(),
        }),
        _ => Ok(()),
    }
}

/// Whether the guess budget, if there is one, leaves a confirmation for the
/// initiator at `endpoint` (whose certificate is `fingerprint`, once known).
fn check_budget(
    state: &Shared,
    endpoint: SocketAddr,
    fingerprint: Option<&Fingerprint>,
) -> Result<(), JoinError> {
    let Some(budget) = &state.guesses else {
        return Ok(());
    };
    let budget = budget.lock().unwrap_or_else(|e| e.into_inner());
    match fingerprint {
        Some(fingerprint) => budget.check(fingerprint, endpoint.ip()),
        None => budget.check_address(endpoint.ip()),
    }
    .map_err(|refusal| JoinError::Budget {
        endpoint,
        source: refusal.into(),
    })
}

fn check_tls_peer(
    verifier: &FirstContactVerifier,
    authenticated: &muster_trust::Fingerprint,
    endpoint: SocketAddr,
) -> Result<(), JoinError> {
    match verifier.seen() {
        Some(seen) if &seen == authenticated => Ok(()),
        Some(seen) => Err(JoinError::Intercepted {
            endpoint,
            reason: format!(
                "TLS presented {}, the handshake named {}",
                seen.short(),
                authenticated.short()
            ),
        }),
        None => Err(JoinError::Intercepted {
            endpoint,
            reason: "no TLS certificate was seen".into(),
        }),
    }
}

/// Requests to one initiator address over one first-contact client.
struct Call {
    client: reqwest::Client,
    endpoint: SocketAddr,
    port: u16,
}

impl Call {
    fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.endpoint)
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, JoinError> {
        let sent = self.client.get(self.url(path)).send().await;
        self.answer(path, sent).await
    }

    async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, JoinError> {
        let sent = self
            .client
            .post(self.url(path))
            .header(LISTEN_PORT_HEADER, self.port.to_string())
            .json(body)
            .send()
            .await;
        self.answer(path, sent).await
    }

    async fn answer<T: DeserializeOwned>(
        &self,
        path: &str,
        sent: reqwest::Result<reqwest::Response>,
    ) -> Result<T, JoinError> {
        let endpoint = self.endpoint;
        let response = sent.map_err(|e| JoinError::Unreachable {
            endpoint,
            reason: ErrorChain(&e).to_string(),
        })?;
        let status = response.status();
        if status == StatusCode::NOT_FOUND && path == paths::PAIR_SESSION {
            return Err(JoinError::NoSession { endpoint });
        }
        let protocol = |reason| JoinError::Protocol { endpoint, reason };
        match answer::read(response, answer::PAIRING_LIMIT).await {
            Ok(Answer::Body(body)) => {
                serde_json::from_slice(&body).map_err(|e| protocol(e.to_string()))
            }
            Ok(Answer::Refused { status, message }) => Err(JoinError::Refused {
                endpoint,
                status,
                message,
            }),
            Err(e) => Err(protocol(ErrorChain(&e).to_string())),
        }
    }
}

/// `POST /v1/join`: the local operator's `muster join`.
/// `muster join`: joins the initiator the operator named, with the
/// passphrase they typed.
pub(crate) async fn join_request(state: &Shared, req: &JoinRequest) -> Result<Joined, Error> {
    let passphrase =
        Passphrase::parse(&req.passphrase).map_err(|e| Error::new(Kind::Invalid, e.to_string()))?;
    if req.initiator.is_empty() {
        return Err(Error::new(Kind::Invalid, "no initiator address given"));
    }
    let endpoints = resolve(&req.initiator).await?;
    match join(state, &endpoints, &passphrase, None).await {
        Ok((initiator, endpoint)) => Ok(Joined {
            initiator: summary(&initiator),
            endpoint: endpoint.to_string(),
            me: summary(&state.me),
        }),
        Err(e) => {
            tracing::warn!(error = %e, "joining failed");
            Err(Error::new(e.kind(), e.to_string()))
        }
    }
}

/// The servers announcing an open session, waiting up to `wait` (bounded)
/// for at least one.
pub(crate) async fn initiators(state: &Shared, wait: Duration) -> Result<Vec<Initiator>, Error> {
    let mut seen = state.seen.clone();
    if !seen.enabled() {
        return Err(Error::new(
            Kind::Unavailable,
            "discovery is disabled in musterd's configuration; give the initiator's address \
             (muster join --initiator ADDRESS)",
        ));
    }
    let wait = wait.min(MAX_DISCOVERY_WAIT);
    let deadline = Instant::now() + wait;
    loop {
        let found = seen.initiators(&state.me.name);
        let now = Instant::now();
        if !found.is_empty() || now >= deadline {
            let list = found
                .iter()
                .map(|p| Initiator {
                    name: p.name.clone(),
                    endpoints: crate::seen::endpoints(std::iter::once(p))
                        .iter()
                        .map(ToString::to_string)
                        .collect(),
                })
                .collect();
            return Ok(list);
        }
        if !seen.changed(deadline - now).await {
            return Ok(Vec::new());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse() {
        let ok = |s: &str, host: &str, port: u16| {
            assert_eq!(parse_endpoint(s), Ok((host.to_owned(), port)), "{s}");
        };
        ok("10.0.0.1", "10.0.0.1", DEFAULT_PORT);
        ok(" 10.0.0.1:8443 ", "10.0.0.1", 8443);
        ok("fd00::1", "fd00::1", DEFAULT_PORT);
        ok("[fd00::1]", "fd00::1", DEFAULT_PORT);
        ok("[fd00::1]:1", "fd00::1", 1);
        ok("s1.lan", "s1.lan", DEFAULT_PORT);
        ok("s1:9", "s1", 9);
        for bad in [
            "",
            ":9443",
            "10.0.0.1:",
            "10.0.0.1:0",
            "10.0.0.1:65536",
            "[fd00::1",
            "[x]:1",
            "[fd00::1]9",
            "a b",
            "s1/x",
            "http://s1",
        ] {
            let err = parse_endpoint(bad).unwrap_err();
            assert!(err.contains("is not an address"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn join_requests_refuse_unknown_fields() {
        let err = serde_json::from_str::<JoinRequest>(
            r#"{"initiator":["10.0.0.1"],"passphrase":"x","pin":"y"}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }

    #[test]
    fn only_the_chosen_initiator_may_be_confirmed() {
        let endpoint: SocketAddr = "10.0.0.1:9443".parse().unwrap();
        let chosen = Fingerprint::of_der(b"chosen");
        let other = Fingerprint::of_der(b"other");
        assert!(check_chosen(endpoint, &other, None).is_ok());
        assert!(check_chosen(endpoint, &chosen, Some(&chosen)).is_ok());
        let err = check_chosen(endpoint, &other, Some(&chosen)).unwrap_err();
        assert!(matches!(err, JoinError::NotChosen { .. }), "{err}");
        assert!(err.to_string().contains(&other.short()), "{err}");
        assert!(err.to_string().contains("nothing was sent"), "{err}");
    }

    #[test]
    fn only_failures_before_any_confirmation_try_the_next_address() {
        let endpoint: SocketAddr = "10.0.0.1:9443".parse().unwrap();
        let unreachable = JoinError::Unreachable {
            endpoint,
            reason: "connection refused".into(),
        };
        assert!(unreachable.try_next());
        let other = JoinError::NotChosen {
            endpoint,
            fingerprint: "abcd:abcd:abcd:abcd".into(),
        };
        assert!(other.try_next());
        let over = JoinError::Budget {
            endpoint,
            source: crate::guess_budget::Refusal::Spent.into(),
        };
        assert!(over.try_next());
        assert_eq!(over.kind(), Kind::TooMany);
        // A confirmation went: another address would get another.
        let reset = JoinError::NoWelcome {
            endpoint,
            reason: "connection reset".into(),
        };
        assert!(!reset.try_next());
        assert!(!JoinError::WrongPassphrase { endpoint }.try_next());
        assert!(!JoinError::NotConfirmed { endpoint }.try_next());
        let refused = JoinError::Refused {
            endpoint,
            status: StatusCode::GONE,
            message: "the trust session has expired".into(),
        };
        assert_eq!(refused.kind(), Kind::Conflict);
    }
}
