//! The initiator's trust session as this agent keeps it; the local
//! operator opens, reads and closes it ([`crate::trust::initiator`]) and
//! joiners run the handshake against it ([`crate::trust::pairing`]).
//!
//! One session at a time. The session itself (`muster_trust`'s
//! `InitiatorSession`) is pure; this module keeps it behind a lock with the
//! bookkeeping the operator sees: who joined and which attempts failed.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use muster_proto::trust::{
    FailedAttempt, OpenSession, PeerSummary, SessionOpened, SessionPhase, SessionStatus,
    DEFAULT_SESSION_SECS, MAX_SESSION_SECS, MIN_SESSION_SECS,
};
use muster_trust::passphrase::DEFAULT_WORDS;

use crate::trust_store::check_name;
use muster_trust::{
    AttemptId, Fingerprint, Finish, Hello, InitiatorSession, Joined, Limits, Passphrase,
    PeerIdentity, Reply, SessionConfig, SessionInfo, SessionState, TrustError,
};

/// Bounds on what the operator may ask for.
pub const MIN_TIMEOUT: Duration = Duration::from_secs(MIN_SESSION_SECS);
pub const MAX_TIMEOUT: Duration = Duration::from_secs(MAX_SESSION_SECS);
pub const MAX_FAILURES_LIMIT: u32 = 1000;
/// Failed attempts listed in the status (the count covers all of them).
const LISTED_FAILURES: usize = 50;

/// Checks an open request and turns it into the session's passphrase and
/// configuration. Pure.
pub fn validate(req: &OpenSession) -> Result<(Passphrase, SessionConfig), String> {
    if let Some(bad) = req.replace.iter().find_map(|n| check_name(n).err()) {
        return Err(format!("--replace: {bad}"));
    }
    let passphrase = match &req.passphrase {
        Some(p) => Passphrase::for_session(p).map_err(|e| e.to_string())?,
        None => Passphrase::generate(DEFAULT_WORDS).map_err(|e| e.to_string())?,
    };
    let lifetime = Duration::from_secs(req.timeout_secs.unwrap_or(DEFAULT_SESSION_SECS));
    if !(MIN_TIMEOUT..=MAX_TIMEOUT).contains(&lifetime) {
        return Err(format!(
            "a session lasts from {} to {} seconds, not {}",
            MIN_TIMEOUT.as_secs(),
            MAX_TIMEOUT.as_secs(),
            lifetime.as_secs()
        ));
    }
    let defaults = Limits::default();
    let max_failures = req
        .max_failures
        .unwrap_or(defaults.max_failures_per_session);
    if !(1..=MAX_FAILURES_LIMIT).contains(&max_failures) {
        return Err(format!(
            "the bound on wrong passphrases is 1 to {MAX_FAILURES_LIMIT}, not {max_failures}"
        ));
    }
    let config = SessionConfig {
        lifetime,
        limits: Limits {
            max_failures_per_session: max_failures,
            max_failures_per_address: defaults.max_failures_per_address.min(max_failures),
            ..defaults
        },
        ..SessionConfig::default()
    };
    Ok((passphrase, config))
}

/// A failed (wrong passphrase) attempt.
#[derive(Debug, Clone)]
struct Failure {
    address: IpAddr,
    claimed_name: Option<String>,
    at: Instant,
}

struct Current {
    session: InitiatorSession,
    /// Names the operator allowed a new certificate to take over.
    replace: Vec<String>,
    failures: Vec<Failure>,
    /// Names claimed in pending Hellos, to show with a failure.
    claims: HashMap<AttemptId, String>,
}

/// The session, if one was opened since the agent started.
#[derive(Default)]
pub(crate) struct Sessions {
    current: Mutex<Option<Current>>,
}

/// Why a session cannot be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OpenError {
    Invalid(String),
    AlreadyOpen { expires_in: Duration },
}

impl Sessions {
    fn lock(&self) -> MutexGuard<'_, Option<Current>> {
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn open(
        &self,
        me: &PeerIdentity,
        req: &OpenSession,
        now: Instant,
    ) -> Result<SessionOpened, OpenError> {
        let (passphrase, config) = validate(req).map_err(OpenError::Invalid)?;
        let mut current = self.lock();
        if let Some(c) = current.as_ref() {
            if c.session.state(now) == SessionState::Open {
                return Err(OpenError::AlreadyOpen {
                    expires_in: c.session.expires_at().saturating_duration_since(now),
                });
            }
        }
        let max_failures = config.limits.max_failures_per_session;
        let lifetime = config.lifetime;
        let session = InitiatorSession::new(passphrase, me.clone(), config, now)
            .map_err(|e| OpenError::Invalid(e.to_string()))?;
        let opened = SessionOpened {
            initiator: summary(me),
            passphrase: session.passphrase().as_str().to_owned(),
            expires_in_secs: lifetime.as_secs(),
            max_failures,
        };
        *current = Some(Current {
            session,
            replace: req.replace.clone(),
            failures: Vec::new(),
            claims: HashMap::new(),
        });
        Ok(opened)
    }

    /// Closes an open session; false when none was open.
    pub fn close(&self, now: Instant) -> bool {
        match self.lock().as_mut() {
            Some(c) if c.session.state(now) == SessionState::Open => {
                c.session.close();
                c.claims.clear();
                true
            }
            _ => false,
        }
    }

    /// Whether a session was opened since the agent started.
    pub fn exists(&self) -> bool {
        self.lock().is_some()
    }

    pub fn is_open(&self, now: Instant) -> bool {
        self.lock()
            .as_ref()
            .is_some_and(|c| c.session.state(now) == SessionState::Open)
    }

    /// What a joiner needs to start, while a session is open.
    pub fn info(&self, now: Instant) -> Option<SessionInfo> {
        self.lock()
            .as_ref()
            .filter(|c| c.session.state(now) == SessionState::Open)
            .map(|c| c.session.info())
    }

    pub fn status(&self, me: &PeerIdentity, now: Instant) -> SessionStatus {
        let current = self.lock();
        let Some(c) = current.as_ref() else {
            return SessionStatus {
                phase: SessionPhase::None,
                initiator: summary(me),
                expires_in_secs: 0,
                joined: Vec::new(),
                failed_attempts: 0,
                max_failures: Limits::default().max_failures_per_session,
                failures: Vec::new(),
                replace: Vec::new(),
            };
        };
        let phase = match c.session.state(now) {
            SessionState::Open => SessionPhase::Open,
            SessionState::Expired => SessionPhase::Expired,
            SessionState::Locked => SessionPhase::Ended,
            SessionState::Closed => SessionPhase::Closed,
        };
        let expires_in_secs = match phase {
            SessionPhase::Open => c
                .session
                .expires_at()
                .saturating_duration_since(now)
                .as_secs(),
            _ => 0,
        };
        let limiter = c.session.limiter();
        SessionStatus {
            phase,
            initiator: summary(c.session.me()),
            expires_in_secs,
            joined: c.session.joined().iter().map(summary).collect(),
            failed_attempts: limiter.session_failures(),
            max_failures: limiter.limits().max_failures_per_session,
            failures: c
                .failures
                .iter()
                .rev()
                .take(LISTED_FAILURES)
                .map(|f| FailedAttempt {
                    address: f.address.to_string(),
                    claimed_name: f.claimed_name.clone(),
                    secs_ago: now.saturating_duration_since(f.at).as_secs(),
                })
                .collect(),
            replace: c.replace.clone(),
        }
    }

    /// Whether a server named `name` joined the current session.
    pub fn has_joined(&self, name: &str) -> bool {
        self.lock()
            .as_ref()
            .is_some_and(|c| c.session.joined().iter().any(|j| j.name == name))
    }

    /// Whether a joiner of the open session may take over `name`, trusted
    /// now with another certificate.
    pub fn may_replace(&self, name: &str) -> bool {
        self.lock()
            .as_ref()
            .is_some_and(|c| c.replace.iter().any(|r| r == name))
    }

    pub fn hello(&self, from: IpAddr, hello: &Hello, now: Instant) -> Result<Reply, TrustError> {
        let mut current = self.lock();
        let c = current.as_mut().ok_or(TrustError::Ended)?;
        let reply = c.session.hello(from, hello, now)?;
        // Bounded like the session's own pending handshakes.
        if c.claims.len() >= SessionConfig::default().max_pending * 4 {
            c.claims.clear();
        }
        c.claims.insert(reply.attempt_id, hello.joiner_name.clone());
        Ok(reply)
    }

    pub fn finish(
        &self,
        from: IpAddr,
        finish: &Finish,
        now: Instant,
    ) -> Result<Joined, TrustError> {
        let mut current = self.lock();
        let c = current.as_mut().ok_or(TrustError::Ended)?;
        let result = c.session.finish(from, finish, now);
        let claimed_name = match &result {
            Err(TrustError::UnknownAttempt) => None,
            _ => c.claims.remove(&finish.attempt_id),
        };
        if let Err(TrustError::WrongPassphrase { .. }) = &result {
            c.failures.push(Failure {
                address: from.to_canonical(),
                claimed_name,
                at: now,
            });
        }
        result
    }
}

/// A peer as the operator is shown it.
pub(crate) fn summary(peer: &PeerIdentity) -> PeerSummary {
    summarize(&peer.name, &peer.fingerprint)
}

pub(crate) fn summarize(name: &str, fingerprint: &Fingerprint) -> PeerSummary {
    PeerSummary {
        name: name.to_owned(),
        fingerprint: fingerprint.to_string(),
        short_fingerprint: fingerprint.short(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use muster_trust::{Fingerprint, JoinerAttempt};

    fn me() -> PeerIdentity {
        PeerIdentity {
            name: "s1".into(),
            fingerprint: Fingerprint::of_der(b"s1"),
        }
    }

    fn joiner(name: &str) -> PeerIdentity {
        PeerIdentity {
            name: name.into(),
            fingerprint: Fingerprint::of_der(name.as_bytes()),
        }
    }

    const PASS: &str = "correct horse battery staple anew";

    fn open_with(req: OpenSession) -> (Sessions, Instant) {
        let sessions = Sessions::default();
        let now = Instant::now();
        sessions.open(&me(), &req, now).unwrap();
        (sessions, now)
    }

    #[test]
    fn defaults_are_ten_minutes_and_the_trust_limits() {
        let (p, config) = validate(&OpenSession::default()).unwrap();
        assert!(p.estimated_bits().unwrap() >= 48.0);
        assert_eq!(config.lifetime, Duration::from_secs(600));
        assert_eq!(config.limits, Limits::default());
    }

    #[test]
    fn requests_are_validated() {
        let bad = |req: OpenSession, needle: &str| {
            let err = validate(&req).unwrap_err();
            assert!(err.contains(needle), "{err}");
        };
        bad(
            OpenSession {
                passphrase: Some("short".into()),
                ..OpenSession::default()
            },
            "too weak",
        );
        bad(
            OpenSession {
                passphrase: Some("  ".into()),
                ..OpenSession::default()
            },
            "empty",
        );
        bad(
            OpenSession {
                timeout_secs: Some(0),
                ..OpenSession::default()
            },
            "from 1 to 86400 seconds, not 0",
        );
        bad(
            OpenSession {
                timeout_secs: Some(86_401),
                ..OpenSession::default()
            },
            "not 86401",
        );
        bad(
            OpenSession {
                max_failures: Some(0),
                ..OpenSession::default()
            },
            "1 to 1000, not 0",
        );
        bad(
            OpenSession {
                replace: vec!["evil/../x y".into()],
                ..OpenSession::default()
            },
            "--replace: \"evil/../x y\" is not a server name",
        );
        let (p, config) = validate(&OpenSession {
            passphrase: Some(PASS.into()),
            timeout_secs: Some(5),
            max_failures: Some(2),
            replace: vec!["s2".into()],
        })
        .unwrap();
        assert_eq!(p.as_str(), "correct-horse-battery-staple-anew");
        assert_eq!(config.lifetime, Duration::from_secs(5));
        assert_eq!(config.limits.max_failures_per_session, 2);
        assert_eq!(config.limits.max_failures_per_address, 2);
    }

    #[test]
    fn the_wire_form_refuses_unknown_fields() {
        let err = serde_json::from_str::<OpenSession>(r#"{"timeout":5}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
        let req: OpenSession = serde_json::from_str("{}").unwrap();
        assert_eq!(req, OpenSession::default());
    }

    #[test]
    fn one_session_at_a_time_until_it_ends() {
        let (sessions, now) = open_with(OpenSession::default());
        assert!(sessions.is_open(now));
        let again = sessions.open(&me(), &OpenSession::default(), now);
        assert!(matches!(again, Err(OpenError::AlreadyOpen { .. })));
        assert!(sessions.close(now));
        assert!(!sessions.close(now));
        assert_eq!(sessions.status(&me(), now).phase, SessionPhase::Closed);
        sessions.open(&me(), &OpenSession::default(), now).unwrap();
        let later = now + Duration::from_secs(601);
        assert_eq!(sessions.status(&me(), later).phase, SessionPhase::Expired);
        assert!(sessions.info(later).is_none());
        sessions
            .open(&me(), &OpenSession::default(), later)
            .unwrap();
    }

    #[test]
    fn status_shows_joiners_and_failures() {
        let (sessions, now) = open_with(OpenSession {
            passphrase: Some(PASS.into()),
            max_failures: Some(2),
            ..OpenSession::default()
        });
        let id = sessions.info(now).unwrap().session_id;
        let run = |name: &str, pass: &str, from: &str| {
            let pass = Passphrase::parse(pass).unwrap();
            let (attempt, hello) = JoinerAttempt::start(&pass, id, joiner(name)).unwrap();
            let reply = sessions.hello(from.parse().unwrap(), &hello, now)?;
            let (_, finish) = attempt.reply(&reply).unwrap();
            sessions.finish(from.parse().unwrap(), &finish, now)
        };
        run("s2", PASS, "10.0.0.2").unwrap();
        let err = run("s3", "wrong guess of a passphrase", "10.0.0.3").unwrap_err();
        assert!(matches!(err, TrustError::WrongPassphrase { .. }), "{err:?}");

        let status = sessions.status(&me(), now);
        assert_eq!(status.phase, SessionPhase::Open);
        assert_eq!(status.joined.len(), 1);
        assert_eq!(status.joined[0].name, "s2");
        assert_eq!(
            status.joined[0].fingerprint,
            joiner("s2").fingerprint.to_string()
        );
        assert_eq!(status.failed_attempts, 1);
        assert_eq!(status.max_failures, 2);
        assert_eq!(
            status.failures,
            vec![FailedAttempt {
                address: "10.0.0.3".into(),
                claimed_name: Some("s3".into()),
                secs_ago: 0
            }]
        );

        run("s4", "another wrong passphrase", "10.0.0.4").unwrap_err();
        assert_eq!(sessions.status(&me(), now).phase, SessionPhase::Ended);
        assert!(!sessions.is_open(now));
        assert!(matches!(
            run("s5", PASS, "10.0.0.5"),
            Err(TrustError::Ended)
        ));
    }
}
