//! Zero-touch enrollment: an agent provisioned with an enrollment
//! passphrase (`enrollment_passphrase_file`) watches mDNS for servers
//! announcing an open trust session and joins the first that proves it
//! knows the passphrase, then stops for good.
//!
//! A passphrase kept in a file is worth protecting from two sides: the file
//! must be root's alone and the passphrase strong, and the agent bounds
//! what it gives away, because anyone on the LAN can announce a session and
//! each confirmation the agent sends lets the other side test one guess of
//! the passphrase. Those are counted in the guess budget
//! ([`crate::guess_budget`]), which survives restarts and mDNS churn;
//! enrollment ends once this server trusts anyone (it joined, or was
//! joined, or was told by hand), once the budget is spent, or once the file
//! is deleted, and the passphrase goes with it.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use muster_trust::{Fingerprint, Passphrase, PassphraseError};
use tokio::sync::watch;

use crate::guess_budget::ADDRESSES_PER_INITIATOR;
use crate::shared::{Shared, State as AppState};
use crate::trust::joiner as join;

/// Backoff between attempts at one address: 2 s, doubling, at most 60 s.
/// It paces; the guess budget is what bounds.
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
    #[error(
        "the enrollment passphrase file {} holds a passphrase that cannot protect enrollment: \
         {source}",
        path.display()
    )]
    Weak {
        path: PathBuf,
        source: PassphraseError,
    },
}

impl EnrollmentFileError {
    /// The file is not there: deleted once enrollment was done, as the
    /// README advises.
    pub fn is_missing(&self) -> bool {
        matches!(self, EnrollmentFileError::Read { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }
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

/// Reads the passphrase, refusing a file that is not root's alone and a
/// passphrase a session would refuse as too weak.
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
    let mut text = zeroize::Zeroizing::new(String::new());
    file.take(4096)
        .read_to_string(&mut text)
        .map_err(read_error)?;
    let first_line = text.lines().next().unwrap_or_default();
    Passphrase::for_session(first_line).map_err(|source| EnrollmentFileError::Weak {
        path: path.to_owned(),
        source,
    })
}

/// What zero-touch enrollment holds while it runs.
pub(crate) struct Enrollment {
    pub passphrase: Passphrase,
    /// Where the passphrase came from: enrollment ends when it is deleted.
    pub file: PathBuf,
    /// The only initiator to join, if configured.
    pub only: Option<Fingerprint>,
}

/// Whether enrollment is over, saying why in the log when it is.
fn over(state: &Shared, file: &Path) -> bool {
    let Some(why) = ended(state, file) else {
        return false;
    };
    tracing::warn!("zero-touch enrollment ended: {why}; the passphrase is forgotten");
    true
}

/// Why enrollment is over, if it is.
fn ended(state: &Shared, file: &Path) -> Option<String> {
    let trusted: Vec<String> = state
        .trust()
        .members()
        .iter()
        .map(|m| m.name.clone())
        .collect();
    if !trusted.is_empty() {
        return Some(format!(
            "this server trusts {} already (it joined or was joined)",
            trusted.join(", ")
        ));
    }
    if let Some(budget) = &state.guesses {
        let budget = budget.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(damage) = budget.damage() {
            return Some(damage.to_string());
        }
        if budget.is_spent() {
            return Some(format!(
                "its guess budget is spent ({} confirmations sent to initiators that did not \
                 welcome it; see {})",
                budget.spent(),
                budget.path().display()
            ));
        }
    }
    match std::fs::symlink_metadata(file) {
        Ok(_) => None,
        Err(e) => Some(format!(
            "the enrollment passphrase file {} is gone ({e})",
            file.display()
        )),
    }
}

/// When each address may be tried again, after failed attempts. Pacing
/// only: the guess budget bounds the confirmations.
#[derive(Debug, Default)]
struct Pacing(HashMap<SocketAddr, Tries>);

#[derive(Debug)]
struct Tries {
    count: u32,
    not_before: Instant,
}

impl Pacing {
    fn ready(&self, endpoint: SocketAddr, now: Instant) -> Result<(), Instant> {
        match self.0.get(&endpoint) {
            Some(t) if t.not_before > now => Err(t.not_before),
            _ => Ok(()),
        }
    }

    fn failed(&mut self, endpoint: SocketAddr, now: Instant) -> Instant {
        let t = self.0.entry(endpoint).or_insert(Tries {
            count: 0,
            not_before: now,
        });
        t.count += 1;
        t.not_before = now + backoff(t.count);
        t.not_before
    }

    /// Forgets addresses left alone for longer than the longest backoff,
    /// so that announcing ever new addresses cannot grow the map.
    fn forget_stale(&mut self, now: Instant) {
        self.0.retain(|_, t| t.not_before + MAX_BACKOFF > now);
    }
}

/// Watches for initiators and joins the first that proves the passphrase,
/// until enrollment ends or `stop`. The passphrase is dropped (and wiped)
/// when this returns.
pub(crate) async fn run(state: AppState, enrollment: Enrollment, mut stop: watch::Receiver<bool>) {
    let mut seen = state.seen.clone();
    let mut pacing = Pacing::default();
    tracing::info!("zero-touch enrollment: watching for an initiator with an open trust session");
    loop {
        if over(&state, &enrollment.file) {
            return;
        }
        let now = Instant::now();
        pacing.forget_stale(now);
        let mut next_wake = now + IDLE_CHECK;
        for peer in seen.initiators(&state.me.name) {
            // Whatever a record lists, an initiator gets two addresses tried.
            let mut endpoints = crate::seen::endpoints(std::iter::once(&peer));
            endpoints.truncate(ADDRESSES_PER_INITIATOR);
            let now = Instant::now();
            endpoints.retain(|e| match pacing.ready(*e, now) {
                Ok(()) => true,
                Err(at) => {
                    next_wake = next_wake.min(at);
                    false
                }
            });
            if endpoints.is_empty() {
                continue;
            }
            // Again before each attempt: the file may have been deleted, or
            // a join by hand done, during the last one.
            if over(&state, &enrollment.file) {
                return;
            }
            tracing::info!(initiator = %peer.name, "zero-touch enrollment: joining");
            let only = enrollment.only.as_ref();
            let joining = join::join(&state, &endpoints, &enrollment.passphrase, only);
            let outcome = tokio::select! {
                outcome = joining => outcome,
                _ = stop.changed() => return,
            };
            match outcome {
                Ok((initiator, _)) => {
                    tracing::info!(
                        initiator = %initiator.name,
                        fingerprint = %initiator.fingerprint.short(),
                        "zero-touch enrollment: joined; enrollment is over and the passphrase \
                         forgotten"
                    );
                    return;
                }
                Err(e) => {
                    let now = Instant::now();
                    let failed = e.endpoint().map_or(endpoints.clone(), |e| vec![e]);
                    for endpoint in failed {
                        next_wake = next_wake.min(pacing.failed(endpoint, now));
                    }
                    tracing::warn!(
                        initiator = %peer.name,
                        error = %e,
                        "zero-touch enrollment: attempt failed"
                    );
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
    fn a_weak_passphrase_is_refused_like_a_sessions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("enroll");
        for (weak, says) in [
            ("aaaaaaaaaaaaaaaaaaaa\n", "too weak"),
            ("able able able able able\n", "comes more than once"),
            ("\n", "empty"),
        ] {
            fs::write(&path, weak).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
            let err = read_passphrase(&path).unwrap_err();
            if err.to_string().contains("not root") {
                return; // The owner check comes first and only root passes it.
            }
            assert!(!err.is_missing());
            let err = err.to_string();
            assert!(err.contains("cannot protect enrollment"), "{weak:?}: {err}");
            assert!(err.contains(says), "{weak:?}: {err}");
        }
        let gone = read_passphrase(&dir.path().join("deleted")).unwrap_err();
        assert!(gone.is_missing(), "{gone}");
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
    fn pacing_is_per_address_and_forgets_only_the_long_quiet() {
        let t = Instant::now();
        let a: SocketAddr = "10.0.0.1:9443".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:9443".parse().unwrap();
        let mut pacing = Pacing::default();
        assert_eq!(pacing.ready(a, t), Ok(()));
        assert_eq!(pacing.failed(a, t), t + Duration::from_secs(2));
        assert_eq!(pacing.ready(a, t), Err(t + Duration::from_secs(2)));
        assert_eq!(pacing.ready(b, t), Ok(()));
        let t2 = t + Duration::from_secs(2);
        assert_eq!(pacing.ready(a, t2), Ok(()));
        assert_eq!(pacing.failed(a, t2), t2 + Duration::from_secs(4));
        pacing.forget_stale(t2 + Duration::from_secs(5));
        assert_eq!(pacing.0[&a].count, 2);
        pacing.forget_stale(t2 + Duration::from_secs(4) + MAX_BACKOFF);
        assert!(pacing.0.is_empty());
    }
}
