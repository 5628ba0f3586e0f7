//! Zero-touch enrollment: an agent provisioned with an enrollment
//! passphrase (`enrollment_passphrase_file`) watches mDNS for servers
//! announcing an open trust session and joins them by itself.
//!
//! A passphrase kept in a file is worth protecting from two sides: the file
//! must be root's alone, and the agent bounds its own attempts, because
//! anyone on the LAN can announce a session and each attempt lets the other
//! side test one guess of the passphrase against the joiner's confirmation.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use muster_trust::{Limiter, Limits, Passphrase};
use tokio::sync::watch;

use crate::shared::State as AppState;
use crate::trust::joiner as join;

/// The joiner's own bound on guesses it lets initiators test: after 3
/// failures against one address it stops trying that address, after 10 in
/// all it stops enrolling until restarted.
pub fn joiner_limits() -> Limits {
    Limits {
        base_delay: Duration::from_secs(5),
        max_delay: Duration::from_secs(60),
        max_failures_per_address: 3,
        max_failures_per_session: 10,
    }
}

/// Attempts on one announced session, whatever their outcome.
const MAX_TRIES_PER_SESSION: u32 = 5;
/// Backoff between attempts on one initiator: 2 s, doubling, at most 60 s.
const FIRST_BACKOFF: Duration = Duration::from_secs(2);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How often the loop looks again when nothing changes.
const IDLE_CHECK: Duration = Duration::from_secs(30);

/// The backoff after `tries` failed attempts (tries ≥ 1). Pure.
pub fn backoff(tries: u32) -> Duration {
    FIRST_BACKOFF
        .saturating_mul(1u32 << tries.saturating_sub(1).min(16))
        .min(MAX_BACKOFF)
}

#[derive(Debug, thiserror::Error)]
pub enum EnrollmentFileError {
    #[error("cannot read the enrollment passphrase file {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "the enrollment passphrase file {} {problem}; it must be owned by root and readable by \
         root only: run `chown root:root {} && chmod 600 {}`",
        path.display(),
        path.display(),
        path.display()
    )]
    Insecure { path: PathBuf, problem: String },
    #[error("the enrollment passphrase file {} is empty", path.display())]
    Empty { path: PathBuf },
}

/// Whether a file with this owner and mode may hold a passphrase: root's,
/// and nobody else may read or write it. Pure.
pub fn check_owner_and_mode(uid: u32, mode: u32) -> Result<(), String> {
    if uid != 0 {
        return Err(format!("is owned by uid {uid}, not root"));
    }
    let mode = mode & 0o7777;
    if mode & 0o077 != 0 {
        return Err(format!("has mode {mode:04o}, not 0600"));
    }
    Ok(())
}

/// Reads the passphrase, refusing a file that is not root's alone.
pub fn read_passphrase(path: &Path) -> Result<Passphrase, EnrollmentFileError> {
    let read_error = |source| EnrollmentFileError::Read {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(read_error)?;
    // Checked on the open file: what is read is what was checked.
    let meta = file.metadata().map_err(read_error)?;
    check_owner_and_mode(meta.uid(), meta.mode()).map_err(|problem| {
        EnrollmentFileError::Insecure {
            path: path.to_owned(),
            problem,
        }
    })?;
    let mut text = String::new();
    file.take(4096)
        .read_to_string(&mut text)
        .map_err(read_error)?;
    let first_line = text.lines().next().unwrap_or_default();
    Passphrase::parse(first_line).map_err(|_| EnrollmentFileError::Empty {
        path: path.to_owned(),
    })
}

#[derive(Debug, Default)]
struct Tries {
    count: u32,
    not_before: Option<Instant>,
}

/// Watches for initiators and joins them, until `stop`.
pub(crate) async fn run(state: AppState, passphrase: Passphrase, mut stop: watch::Receiver<bool>) {
    let mut seen = state.seen.clone();
    let mut limiter = Limiter::new(joiner_limits());
    let mut tries: HashMap<String, Tries> = HashMap::new();
    tracing::info!("zero-touch enrollment: watching for an initiator with an open trust session");
    loop {
        let initiators = seen.initiators(&state.me.name);
        // A session no longer announced is over: a new one may be tried
        // afresh (the limiter still bounds the guesses overall).
        tries.retain(|name, _| initiators.iter().any(|p| &p.name == name));
        let mut next_wake = Instant::now() + IDLE_CHECK;
        for peer in &initiators {
            if state.trust().get(&peer.name).is_some() {
                continue;
            }
            if limiter.session_locked() {
                tracing::error!(
                    "zero-touch enrollment stopped: {} wrong passphrases; check \
                     enrollment_passphrase_file, then restart musterd",
                    limiter.session_failures()
                );
                return;
            }
            let now = Instant::now();
            let t = tries.entry(peer.name.clone()).or_default();
            if t.count >= MAX_TRIES_PER_SESSION {
                continue;
            }
            if let Some(at) = t.not_before.filter(|at| *at > now) {
                next_wake = next_wake.min(at);
                continue;
            }
            let endpoints: Vec<SocketAddr> = crate::seen::endpoints(std::iter::once(peer))
                .into_iter()
                .filter(|e| limiter.check(e.ip(), now).is_ok())
                .collect();
            if endpoints.is_empty() {
                continue;
            }
            tracing::info!(initiator = %peer.name, "zero-touch enrollment: joining");
            let outcome = tokio::select! {
                outcome = join::join(&state, &endpoints, &passphrase) => outcome,
                _ = stop.changed() => return,
            };
            let t = tries.entry(peer.name.clone()).or_default();
            match outcome {
                Ok((initiator, _)) => {
                    tracing::info!(
                        initiator = %initiator.name,
                        fingerprint = %initiator.fingerprint.short(),
                        "zero-touch enrollment: joined"
                    );
                    t.count = MAX_TRIES_PER_SESSION;
                }
                Err(e) => {
                    let now = Instant::now();
                    if e.spent_a_guess() {
                        if let Some(endpoint) = e.endpoint() {
                            limiter.record_failure(endpoint.ip(), now);
                        }
                    }
                    t.count += 1;
                    let at = now + backoff(t.count);
                    t.not_before = Some(at);
                    next_wake = next_wake.min(at);
                    if t.count >= MAX_TRIES_PER_SESSION {
                        tracing::warn!(initiator = %peer.name, error = %e, "zero-touch enrollment: giving up on this session after {} attempts", t.count);
                    } else {
                        tracing::warn!(initiator = %peer.name, error = %e, "zero-touch enrollment: attempt failed");
                    }
                }
            }
        }
        let wait = next_wake.saturating_duration_since(Instant::now());
        tokio::select! {
            more = seen.changed(wait) => if !more { return },
            _ = stop.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn only_a_root_only_file_is_accepted() {
        assert_eq!(check_owner_and_mode(0, 0o100600), Ok(()));
        assert_eq!(check_owner_and_mode(0, 0o400), Ok(()));
        assert_eq!(
            check_owner_and_mode(0, 0o644),
            Err("has mode 0644, not 0600".into())
        );
        assert_eq!(
            check_owner_and_mode(0, 0o620),
            Err("has mode 0620, not 0600".into())
        );
        assert_eq!(
            check_owner_and_mode(1000, 0o600),
            Err("is owned by uid 1000, not root".into())
        );
    }

    #[test]
    fn an_open_file_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("enroll");
        fs::write(&path, "correct horse battery staple anew\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = read_passphrase(&path).unwrap_err().to_string();
        assert!(
            err.contains("must be owned by root and readable by root only"),
            "{err}"
        );
        assert!(
            err.contains(&format!("chmod 600 {}", path.display())),
            "{err}"
        );

        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        match read_passphrase(&path) {
            Ok(p) => assert_eq!(p.as_str(), "correct-horse-battery-staple-anew"),
            // Not root: the owner check is what refuses it.
            Err(e) => assert!(e.to_string().contains("not root"), "{e}"),
        }
    }

    #[test]
    fn backoff_doubles_to_a_minute() {
        assert_eq!(backoff(1), Duration::from_secs(2));
        assert_eq!(backoff(2), Duration::from_secs(4));
        assert_eq!(backoff(5), Duration::from_secs(32));
        assert_eq!(backoff(6), MAX_BACKOFF);
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
    }

    #[test]
    fn the_joiner_bounds_guesses() {
        let limits = joiner_limits();
        let mut limiter = Limiter::new(limits.clone());
        let t = Instant::now();
        let a = "10.0.0.1".parse().unwrap();
        for _ in 0..limits.max_failures_per_address {
            limiter.record_failure(a, t);
        }
        assert!(limiter.check(a, t + Duration::from_secs(3600)).is_err());
        assert!(!limiter.session_locked());
    }
}
