//! The joiner's guess budget: every `Finish` this server has sent to an
//! initiator it did not yet trust, kept in `<state dir>/guess-budget.json`.
//!
//! A `Finish` carries a confirmation keyed by the passphrase: whoever
//! receives it can test one guess of the passphrase offline, whatever it
//! answers (a 403, a 500, a reset or nothing). So a guess is spent when a
//! `Finish` leaves, not when an answer says so, and it is written down
//! before it leaves. The counts are keyed by what an initiator cannot shed
//! by announcing itself again under another mDNS name: the fingerprint its
//! TLS presented and its address; a total bounds them all, however many
//! certificates and addresses a rogue uses. The budget is for the life of
//! the state directory: a restart gives no fresh one, and a file that
//! cannot be read counts as spent, never as new.
//!
//! Written atomically (temporary file, fsync, rename, fsync of the
//! directory), like the trust store.

use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use muster_trust::Fingerprint;
use serde::{Deserialize, Serialize};

/// The file, in the state directory.
pub(crate) const FILE: &str = "guess-budget.json";
/// Bumped on an incompatible change of the file's layout.
const FORMAT_VERSION: u32 = 1;

/// Guesses one initiator (one certificate) may test: an initiator that
/// knows the passphrase needs one; three allow for a session opened with a
/// typo and opened again.
pub(crate) const PER_INITIATOR: usize = 3;
/// Guesses tested from one address, whatever certificates it shows.
pub(crate) const PER_ADDRESS: usize = 3;
/// Guesses in all: with a 48-bit passphrase, a chance below 10^-13 that
/// any of them is right.
pub(crate) const TOTAL: usize = 10;
/// Addresses one initiator may receive `Finish`es at: a server has one or
/// two on the LAN; more means it is collecting budget per address.
pub(crate) const ADDRESSES_PER_INITIATOR: usize = 2;

/// One `Finish` sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Guess {
    /// The fingerprint the initiator's TLS certificate showed.
    initiator: Fingerprint,
    address: IpAddr,
    /// Seconds since the Unix epoch.
    sent_unix: u64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BudgetFile {
    version: u32,
    guesses: Vec<Guess>,
}

/// Why no `Finish` may go to an initiator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refusal {
    #[error(
        "this server has already sent {TOTAL} passphrase confirmations to initiators that did \
         not welcome it, its bound for good"
    )]
    Spent,
    #[error("the initiator with certificate {0} has already had {PER_INITIATOR} confirmations")]
    Initiator(String),
    #[error("{0} has already had {PER_ADDRESS} confirmations")]
    Address(IpAddr),
    #[error(
        "the initiator with certificate {0} already had confirmations at \
         {ADDRESSES_PER_INITIATOR} other addresses"
    )]
    TooManyAddresses(String),
    #[error("the guess budget {} is damaged ({reason}), so it counts as spent", path.display())]
    Damaged { path: PathBuf, reason: String },
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum BudgetError {
    #[error(
        "{0}; nothing was sent (if those attempts were your own, remove the guess budget file \
         and restart musterd)"
    )]
    Refused(#[from] Refusal),
    #[error("cannot write the guess budget {} ({error}), so nothing was sent", path.display())]
    Write { path: PathBuf, error: io::Error },
}

/// Parses the text of a budget file. Pure; `Err` is the reason.
fn parse(text: &str) -> Result<Vec<Guess>, String> {
    let file: BudgetFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if file.version != FORMAT_VERSION {
        return Err(format!(
            "format version {} is not {FORMAT_VERSION}: it was written by another muster",
            file.version
        ));
    }
    Ok(file.guesses)
}

fn render(guesses: &[Guess]) -> String {
    let file = BudgetFile {
        version: FORMAT_VERSION,
        guesses: guesses.to_vec(),
    };
    // Strings and numbers always serialize.
    serde_json::to_string_pretty(&file).unwrap_or_default() + "\n"
}

/// The guesses spent and the file they are kept in.
#[derive(Debug)]
pub(crate) struct GuessBudget {
    dir: PathBuf,
    guesses: Vec<Guess>,
    /// Why the file could not be read: then nothing is left.
    damaged: Option<String>,
}

impl GuessBudget {
    /// Reads `<state_dir>/guess-budget.json`; no file means nothing spent
    /// yet. A file that cannot be read or parsed leaves no budget at all
    /// ([`GuessBudget::damage`] says why) and is left as it is.
    pub fn load(state_dir: &Path) -> GuessBudget {
        let path = state_dir.join(FILE);
        let (guesses, damaged) = match std::fs::read_to_string(&path) {
            Ok(text) => match parse(&text) {
                Ok(guesses) => (guesses, None),
                Err(reason) => (Vec::new(), Some(reason)),
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => (Vec::new(), None),
            Err(e) => (Vec::new(), Some(format!("cannot read it: {e}"))),
        };
        GuessBudget {
            dir: state_dir.to_owned(),
            guesses,
            damaged,
        }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE)
    }

    /// The refusal every attempt gets when the file could not be read.
    pub fn damage(&self) -> Option<Refusal> {
        self.damaged.as_ref().map(|reason| Refusal::Damaged {
            path: self.path(),
            reason: reason.clone(),
        })
    }

    /// Nothing may be sent to anyone any more.
    pub fn is_spent(&self) -> bool {
        self.damaged.is_some() || self.guesses.len() >= TOTAL
    }

    pub fn spent(&self) -> usize {
        self.guesses.len()
    }

    /// Whether an initiator at `address` may be asked at all, before its
    /// certificate is known.
    pub fn check_address(&self, address: IpAddr) -> Result<(), Refusal> {
        if let Some(damage) = self.damage() {
            return Err(damage);
        }
        if self.guesses.len() >= TOTAL {
            return Err(Refusal::Spent);
        }
        let address = address.to_canonical();
        if self.at(address).count() >= PER_ADDRESS {
            return Err(Refusal::Address(address));
        }
        Ok(())
    }

    /// Whether a `Finish` may go to the initiator whose certificate is
    /// `initiator`, at `address`.
    pub fn check(&self, initiator: &Fingerprint, address: IpAddr) -> Result<(), Refusal> {
        self.check_address(address)?;
        let address = address.to_canonical();
        let mine: Vec<&Guess> = self
            .guesses
            .iter()
            .filter(|g| &g.initiator == initiator)
            .collect();
        if mine.len() >= PER_INITIATOR {
            return Err(Refusal::Initiator(initiator.short()));
        }
        let mut addresses: Vec<IpAddr> = mine.iter().map(|g| g.address).collect();
        addresses.sort_unstable();
        addresses.dedup();
        if !addresses.contains(&address) && addresses.len() >= ADDRESSES_PER_INITIATOR {
            return Err(Refusal::TooManyAddresses(initiator.short()));
        }
        Ok(())
    }

    /// Spends one guess on `initiator` at `address`, on disk first: the
    /// `Finish` may leave once this returns.
    pub fn spend(&mut self, initiator: &Fingerprint, address: IpAddr) -> Result<(), BudgetError> {
        self.check(initiator, address)?;
        let mut guesses = self.guesses.clone();
        guesses.push(Guess {
            initiator: initiator.clone(),
            address: address.to_canonical(),
            sent_unix: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        });
        muster_durable_file::write(&self.path(), render(&guesses).as_bytes(), 0o600).map_err(
            |error| BudgetError::Write {
                path: self.path(),
                error,
            },
        )?;
        self.guesses = guesses;
        Ok(())
    }

    fn at(&self, address: IpAddr) -> impl Iterator<Item = &Guess> {
        self.guesses.iter().filter(move |g| g.address == address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(seed: &str) -> Fingerprint {
        Fingerprint::of_der(seed.as_bytes())
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn budget() -> (tempfile::TempDir, GuessBudget) {
        let dir = tempfile::tempdir().unwrap();
        let budget = GuessBudget::load(dir.path());
        (dir, budget)
    }

    #[test]
    fn one_initiator_gets_its_bound_whatever_its_names() {
        let (_dir, mut b) = budget();
        let rogue = fp("rogue");
        // mDNS names play no part: only the certificate and the address.
        b.spend(&rogue, ip("10.0.0.9")).unwrap();
        b.spend(&rogue, ip("10.0.0.10")).unwrap();
        b.spend(&rogue, ip("10.0.0.9")).unwrap();
        for address in ["10.0.0.9", "10.0.0.10"] {
            assert_eq!(
                b.check(&rogue, ip(address)),
                Err(Refusal::Initiator(rogue.short()))
            );
        }
        // Another certificate at those addresses has what is left of theirs.
        assert_eq!(b.check(&fp("another"), ip("10.0.0.9")), Ok(()));
        assert_eq!(b.check(&fp("another"), ip("10.0.0.10")), Ok(()));
        assert!(!b.is_spent());
    }

    #[test]
    fn one_address_gets_its_bound_whatever_its_certificates() {
        let (_dir, mut b) = budget();
        for i in 0..PER_ADDRESS {
            b.spend(&fp(&format!("cert {i}")), ip("10.0.0.9")).unwrap();
        }
        assert_eq!(
            b.check_address(ip("10.0.0.9")),
            Err(Refusal::Address(ip("10.0.0.9")))
        );
        // An IPv4 address reached as IPv4-mapped IPv6 is the same address.
        assert_eq!(
            b.check_address(ip("::ffff:10.0.0.9")),
            Err(Refusal::Address(ip("10.0.0.9")))
        );
        assert_eq!(b.check_address(ip("10.0.0.8")), Ok(()));
    }

    #[test]
    fn an_initiator_gets_confirmations_at_two_addresses_at_most() {
        let (_dir, mut b) = budget();
        let peer = fp("peer");
        b.spend(&peer, ip("10.0.0.1")).unwrap();
        b.spend(&peer, ip("fd00::1")).unwrap();
        assert_eq!(
            b.check(&peer, ip("10.0.0.3")),
            Err(Refusal::TooManyAddresses(peer.short()))
        );
        // Its two addresses may still have the rest of its bound.
        assert_eq!(b.check(&peer, ip("10.0.0.1")), Ok(()));
        assert_eq!(b.check(&peer, ip("fd00::1")), Ok(()));
    }

    #[test]
    fn the_total_bounds_every_certificate_and_address() {
        let (_dir, mut b) = budget();
        for i in 0..TOTAL {
            let address = IpAddr::from([10, 0, 1, i as u8]);
            b.spend(&fp(&format!("cert {i}")), address).unwrap();
        }
        assert!(b.is_spent());
        assert_eq!(b.check_address(ip("10.0.2.1")), Err(Refusal::Spent));
        let err = b.spend(&fp("fresh"), ip("10.0.2.1")).unwrap_err();
        assert!(matches!(err, BudgetError::Refused(Refusal::Spent)), "{err}");
        assert!(err.to_string().contains("nothing was sent"), "{err}");
    }

    #[test]
    fn the_budget_survives_a_restart() {
        let (dir, mut b) = budget();
        assert_eq!(b.spent(), 0);
        assert!(!b.path().exists(), "nothing written before a guess");
        let rogue = fp("rogue");
        b.spend(&rogue, ip("10.0.0.9")).unwrap();
        b.spend(&rogue, ip("::ffff:10.0.0.9")).unwrap();
        b.spend(&fp("other"), ip("10.0.0.7")).unwrap();

        let again = GuessBudget::load(dir.path());
        assert_eq!(again.damage(), None);
        assert_eq!(again.guesses, b.guesses);
        assert_eq!(again.spent(), 3);
        assert_eq!(again.at(ip("10.0.0.9")).count(), 2);
        let text = std::fs::read_to_string(again.path()).unwrap();
        assert_eq!(parse(&text).unwrap(), b.guesses);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(again.path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_guess_that_cannot_be_written_is_not_sent() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = GuessBudget::load(&dir.path().join("no such directory"));
        let err = b.spend(&fp("any"), ip("10.0.0.1")).unwrap_err();
        assert!(matches!(err, BudgetError::Write { .. }), "{err}");
        assert!(err.to_string().contains("nothing was sent"), "{err}");
        assert_eq!(b.spent(), 0);
    }

    #[test]
    fn a_damaged_file_counts_as_spent_and_is_left_alone() {
        let (dir, _) = budget();
        let path = dir.path().join(FILE);
        for text in [
            "",
            "{",
            "{\"version\": 1}",
            "{\"version\": 2, \"guesses\": []}",
            "{\"version\": 1, \"guesses\": [], \"fresh\": true}",
            "{\"version\": 1, \"guesses\": [{\"initiator\": \"ab\", \"address\": \"10.0.0.1\", \
             \"sent_unix\": 1}]}",
        ] {
            std::fs::write(&path, text).unwrap();
            let mut b = GuessBudget::load(dir.path());
            assert!(b.is_spent(), "{text:?}");
            let damage = b
                .damage()
                .unwrap_or_else(|| panic!("{text:?} read as fine"));
            assert!(damage.to_string().contains("is damaged"), "{damage}");
            assert_eq!(b.check_address(ip("10.0.0.2")), Err(damage.clone()));
            assert!(b.spend(&fp("any"), ip("10.0.0.2")).is_err());
            assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        }
    }
}
