//! The trust store: the members this server trusts, by name, certificate
//! fingerprint and the addresses of their HTTPS API, in
//! `<state dir>/trust.json`.
//!
//! Written atomically (temporary file, fsync, rename, fsync of the
//! directory), so an agent killed at any moment leaves the old store or the
//! new one, never a mix. A store that cannot be read is reported and left
//! as it is: silently starting empty would forget every member.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use muster_trust::{Fingerprint, PinSet};
use serde::{Deserialize, Serialize};

/// The file, in the state directory.
pub const TRUST_FILE: &str = "trust.json";
/// Bumped on an incompatible change of the file's layout.
const FORMAT_VERSION: u32 = 1;
/// Addresses kept per member: enough for a few interfaces and a move.
const MAX_ADDRESSES: usize = 8;

/// One trusted member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    pub name: String,
    pub fingerprint: Fingerprint,
    /// Its HTTPS API, most recently working first.
    pub addresses: Vec<SocketAddr>,
    /// Seconds since the Unix epoch.
    pub added_unix: u64,
}

impl Member {
    pub fn new(name: String, fingerprint: Fingerprint, address: SocketAddr) -> Member {
        let added_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Member {
            name,
            fingerprint,
            addresses: vec![address],
            added_unix,
        }
    }

    pub fn to_wire(&self) -> muster_proto::trust::Member {
        muster_proto::trust::Member {
            name: self.name.clone(),
            fingerprint: self.fingerprint.to_string(),
            addresses: self.addresses.iter().map(ToString::to_string).collect(),
            added_unix: self.added_unix,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrustFile {
    version: u32,
    members: Vec<Member>,
}

#[derive(Debug, thiserror::Error)]
pub enum TrustStoreError {
    #[error("cannot read the trust store {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "the trust store {} is damaged ({reason}); it was left as it is: restore it from a \
         backup, or move it away to start with no trusted members (every member will then have \
         to join again)",
        path.display()
    )]
    Corrupt { path: PathBuf, reason: String },
    #[error("cannot write the trust store {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Parses the text of a trust store. Pure; `Err` is the reason, for
/// [`TrustStoreError::Corrupt`].
pub fn parse(text: &str) -> Result<Vec<Member>, String> {
    let file: TrustFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if file.version != FORMAT_VERSION {
        return Err(format!(
            "format version {} is not {FORMAT_VERSION}: it was written by another muster",
            file.version
        ));
    }
    for (i, m) in file.members.iter().enumerate() {
        if !muster_discovery::record::is_valid_server_name(m.name.as_bytes()) {
            return Err(format!("member {} has an invalid name {:?}", i + 1, m.name));
        }
        let earlier = &file.members[..i];
        if earlier.iter().any(|o| o.name == m.name) {
            return Err(format!("member {} appears twice", m.name));
        }
        if earlier.iter().any(|o| o.fingerprint == m.fingerprint) {
            return Err(format!("two members share the certificate of {}", m.name));
        }
    }
    Ok(file.members)
}

/// The text of a trust store. Pure.
pub fn render(members: &[Member]) -> String {
    let file = TrustFile {
        version: FORMAT_VERSION,
        members: members.to_vec(),
    };
    // Strings, numbers and addresses always serialize.
    serde_json::to_string_pretty(&file).unwrap_or_default() + "\n"
}

/// The members, the file they live in and the pin set the TLS verifiers
/// read. Pins follow the file: a member is pinned once it is on disk.
#[derive(Debug)]
pub struct TrustStore {
    dir: PathBuf,
    members: Vec<Member>,
    pins: PinSet,
}

impl TrustStore {
    /// Loads `<state_dir>/trust.json`; no file means no members yet.
    pub fn load(state_dir: &Path) -> Result<TrustStore, TrustStoreError> {
        let path = state_dir.join(TRUST_FILE);
        let members = match fs::read_to_string(&path) {
            Ok(text) => parse(&text).map_err(|reason| TrustStoreError::Corrupt {
                path: path.clone(),
                reason,
            })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(source) => return Err(TrustStoreError::Read { path, source }),
        };
        let pins = members.iter().map(|m| m.fingerprint.clone()).collect();
        Ok(TrustStore {
            dir: state_dir.to_owned(),
            members,
            pins,
        })
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(TRUST_FILE)
    }

    /// Shared with the TLS verifiers.
    pub fn pins(&self) -> &PinSet {
        &self.pins
    }

    pub fn members(&self) -> &[Member] {
        &self.members
    }

    pub fn get(&self, name: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.name == name)
    }

    pub fn by_fingerprint(&self, fp: &Fingerprint) -> Option<&Member> {
        self.members.iter().find(|m| &m.fingerprint == fp)
    }

    /// Trusts `member`, replacing any member with its name or certificate
    /// (a reinstalled or renamed server that proved the passphrase again).
    /// Returns the members it replaced.
    pub fn add(&mut self, member: Member) -> Result<Vec<Member>, TrustStoreError> {
        let (name, fingerprint) = (member.name.clone(), member.fingerprint.clone());
        let mut members = self.members.clone();
        let (replaced, mut kept): (Vec<_>, Vec<_>) = members
            .drain(..)
            .partition(|m| m.name == member.name || m.fingerprint == member.fingerprint);
        let mut merged = member;
        // The same server joining again keeps the addresses it had.
        for old in replaced
            .iter()
            .filter(|o| o.fingerprint == merged.fingerprint)
        {
            merged.added_unix = old.added_unix;
            for a in &old.addresses {
                if !merged.addresses.contains(a) {
                    merged.addresses.push(*a);
                }
            }
        }
        merged.addresses.truncate(MAX_ADDRESSES);
        let pin = merged.fingerprint.clone();
        kept.push(merged);
        self.save(kept)?;
        for old in &replaced {
            if old.fingerprint != pin {
                self.pins.remove(&old.fingerprint);
            }
        }
        self.pins.insert(pin);
        Ok(replaced
            .into_iter()
            .filter(|o| o.name != name || o.fingerprint != fingerprint)
            .collect())
    }

    /// Records that `name` answered at `address`: it goes first in its list.
    pub fn note_address(&mut self, name: &str, address: SocketAddr) -> Result<(), TrustStoreError> {
        let Some(i) = self.members.iter().position(|m| m.name == name) else {
            return Ok(());
        };
        if self.members[i].addresses.first() == Some(&address) {
            return Ok(());
        }
        let mut members = self.members.clone();
        let addresses = &mut members[i].addresses;
        addresses.retain(|a| *a != address);
        addresses.insert(0, address);
        addresses.truncate(MAX_ADDRESSES);
        self.save(members)
    }

    fn save(&mut self, members: Vec<Member>) -> Result<(), TrustStoreError> {
        write_atomic(&self.dir, TRUST_FILE, render(&members).as_bytes()).map_err(|source| {
            TrustStoreError::Write {
                path: self.path(),
                source,
            }
        })?;
        self.members = members;
        Ok(())
    }
}

/// Replaces `dir/name` with `bytes` so that a crash leaves either the old
/// file or the new one: write a temporary file, fsync it, rename it over
/// the old one, fsync the directory (which makes the rename durable).
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    // A leftover from a crash is simply overwritten.
    let temp = dir.join(format!(".{name}.new"));
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&temp, dir.join(name))?;
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(seed: &str) -> Fingerprint {
        Fingerprint::of_der(seed.as_bytes())
    }

    fn member(name: &str, seed: &str, addr: &str) -> Member {
        Member {
            name: name.into(),
            fingerprint: fp(seed),
            addresses: vec![addr.parse().unwrap()],
            added_unix: 1_700_000_000,
        }
    }

    fn addresses(store: &TrustStore, name: &str) -> Vec<String> {
        let member = store.get(name).expect("a member");
        member.addresses.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn text_round_trip() {
        let members = vec![
            member("s2", "b", "10.0.0.2:9443"),
            member("s3", "c", "[fd00::3]:9443"),
        ];
        assert_eq!(parse(&render(&members)).unwrap(), members);
        assert_eq!(parse(&render(&[])).unwrap(), vec![]);
    }

    #[test]
    fn damaged_text_is_refused_with_a_reason() {
        let good = render(&[member("s2", "b", "10.0.0.2:9443")]);
        let cases = [
            ("", "EOF"),
            (&good[..good.len() / 2], "EOF"),
            ("{\"version\":2,\"members\":[]}", "format version 2"),
            ("{\"version\":1}", "missing field `members`"),
            ("{\"version\":1,\"members\":[],\"x\":1}", "unknown field"),
        ];
        for (text, reason) in cases {
            let err = parse(text).unwrap_err();
            assert!(err.contains(reason), "{text:?}: {err}");
        }
        let bad_fp = good.replace(fp("b").as_str(), "zz");
        assert!(parse(&bad_fp).unwrap_err().contains("fingerprint"));
        let bad_addr = good.replace("10.0.0.2:9443", "10.0.0.2");
        assert!(parse(&bad_addr).unwrap_err().contains("socket address"));
    }

    #[test]
    fn inconsistent_members_are_refused() {
        let twice = render(&[
            member("s2", "b", "10.0.0.2:1"),
            member("s2", "c", "10.0.0.3:1"),
        ]);
        assert_eq!(parse(&twice).unwrap_err(), "member s2 appears twice");
        let shared = render(&[
            member("s2", "b", "10.0.0.2:1"),
            member("s3", "b", "10.0.0.3:1"),
        ]);
        assert_eq!(
            parse(&shared).unwrap_err(),
            "two members share the certificate of s3"
        );
        let bad_name = render(&[member("s 2", "b", "10.0.0.2:1")]);
        assert!(parse(&bad_name).unwrap_err().contains("invalid name"));
    }

    #[test]
    fn a_missing_store_is_empty_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let store = TrustStore::load(dir.path()).unwrap();
        assert!(store.members().is_empty());
        assert!(store.pins().is_empty());
        assert!(!dir.path().join(TRUST_FILE).exists());
    }

    #[test]
    fn members_survive_a_reload_and_are_pinned() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = TrustStore::load(dir.path()).unwrap();
        assert_eq!(
            store.add(member("s2", "b", "10.0.0.2:9443")).unwrap(),
            vec![]
        );
        store.add(member("s3", "c", "10.0.0.3:9443")).unwrap();
        assert!(store.pins().contains(&fp("b")));

        let again = TrustStore::load(dir.path()).unwrap();
        assert_eq!(again.members(), store.members());
        assert_eq!(again.pins().to_vec(), store.pins().to_vec());
        assert_eq!(again.get("s3").unwrap().fingerprint, fp("c"));
        assert_eq!(again.by_fingerprint(&fp("b")).unwrap().name, "s2");
        // No temporary file is left behind.
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [TRUST_FILE]);
    }

    #[test]
    fn a_damaged_store_is_reported_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(TRUST_FILE);
        fs::write(&path, "{\"version\":1,\"members\":[").unwrap();
        let err = TrustStore::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(err.contains("left as it is"), "{err}");
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "{\"version\":1,\"members\":["
        );
    }

    #[test]
    fn a_new_certificate_for_a_name_replaces_the_old_pin() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = TrustStore::load(dir.path()).unwrap();
        store.add(member("s2", "old", "10.0.0.2:9443")).unwrap();
        let replaced = store.add(member("s2", "new", "10.0.0.9:9443")).unwrap();
        assert_eq!(replaced.len(), 1);
        assert_eq!(replaced[0].fingerprint, fp("old"));
        assert_eq!(store.pins().to_vec(), vec![fp("new")]);
        assert_eq!(store.members().len(), 1);
    }

    #[test]
    fn joining_again_keeps_known_addresses() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = TrustStore::load(dir.path()).unwrap();
        store.add(member("s2", "b", "10.0.0.2:9443")).unwrap();
        let replaced = store.add(member("s2", "b", "10.0.0.7:9443")).unwrap();
        assert_eq!(replaced, vec![]);
        assert_eq!(addresses(&store, "s2"), ["10.0.0.7:9443", "10.0.0.2:9443"]);
        assert_eq!(store.get("s2").unwrap().added_unix, 1_700_000_000);
    }

    #[test]
    fn a_working_address_moves_first() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = TrustStore::load(dir.path()).unwrap();
        store.add(member("s2", "b", "10.0.0.2:9443")).unwrap();
        store
            .note_address("s2", "10.0.0.5:9443".parse().unwrap())
            .unwrap();
        store
            .note_address("nobody", "10.0.0.6:9443".parse().unwrap())
            .unwrap();
        let again = TrustStore::load(dir.path()).unwrap();
        assert_eq!(addresses(&again, "s2"), ["10.0.0.5:9443", "10.0.0.2:9443"]);
    }
}
