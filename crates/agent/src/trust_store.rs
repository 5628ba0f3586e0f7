//! The trust store: the members this server trusts, by name, certificate
//! fingerprint and the addresses of their HTTPS API, in
//! `<state dir>/trust.json`.
//!
//! Written atomically (temporary file, fsync, rename, fsync of the
//! directory), so an agent killed at any moment leaves the old store or the
//! new one, never a mix. A store that cannot be read is reported and left
//! as it is: silently starting empty would forget every member. One entry
//! that cannot be used (a name no handshake may give, a duplicate) is
//! reported and left out, the others are kept; a copy of the file as it
//! was is kept beside it.
//!
//! Trust has a direction ([`Role`]): the server this one joined is its
//! controller, the servers that joined it are members. Only a controller
//! may make this server change anything.

use std::fs;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use muster_trust::{Fingerprint, PinSet};
pub use muster_trust_file::{check_name, parse, render, Member, Parsed, Role};

/// The file, in the state directory.
pub const TRUST_FILE: &str = "trust.json";
/// Addresses kept per member: enough for a few interfaces and a move.
const MAX_ADDRESSES: usize = 8;
/// Where the file is copied, as it was, when an entry had to be left out.
const DAMAGED_COPY: &str = "trust.json.damaged";

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
    #[error(
        "the trust store {} can be changed by others than its owner ({reason}): an attacker \
         could pin their own certificate in it; make it root's with mode 0600 (chown root:root, \
         chmod 600), then start musterd again",
        path.display()
    )]
    Unsafe { path: PathBuf, reason: String },
    #[error(
        "{name} is already trusted with another certificate ({old}): a server that proved the \
         passphrase does not replace it silently. If {name} was reinstalled, run `muster members \
         forget {name}` (or open the session with `--replace {name}`) on this server, then join \
         again"
    )]
    NameTaken { name: String, old: String },
}

/// The members, the file they live in and the pin set the TLS verifiers
/// read. Pins follow the file: a member is pinned once it is on disk.
#[derive(Debug)]
pub struct TrustStore {
    dir: PathBuf,
    members: Vec<Member>,
    pins: PinSet,
    left_out: Vec<String>,
}

/// Only its owner may change the file: anyone else could pin a key.
pub fn check_owner_and_mode(uid: u32, mode: u32, my_uid: u32) -> Result<(), String> {
    if uid != my_uid {
        return Err(format!("it belongs to uid {uid}, not {my_uid}"));
    }
    if mode & 0o022 != 0 {
        return Err(format!("its mode is {:o}", mode & 0o7777));
    }
    Ok(())
}

impl TrustStore {
    /// Loads `<state_dir>/trust.json`; no file means no members yet.
    pub fn load(state_dir: &Path) -> Result<TrustStore, TrustStoreError> {
        use std::os::unix::fs::MetadataExt;
        let path = state_dir.join(TRUST_FILE);
        let text = match fs::read_to_string(&path) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(source) => return Err(TrustStoreError::Read { path, source }),
        };
        let parsed = match &text {
            Some(text) => {
                let meta = fs::metadata(&path).map_err(|source| TrustStoreError::Read {
                    path: path.clone(),
                    source,
                })?;
                check_owner_and_mode(meta.uid(), meta.mode(), nix::unistd::geteuid().as_raw())
                    .map_err(|reason| TrustStoreError::Unsafe {
                        path: path.clone(),
                        reason,
                    })?;
                parse(text).map_err(|reason| TrustStoreError::Corrupt {
                    path: path.clone(),
                    reason,
                })?
            }
            None => Parsed::default(),
        };
        if let (Some(text), false) = (&text, parsed.left_out.is_empty()) {
            // What was left out is gone at the next save: keep the file as
            // it was for the operator (the first copy only).
            let copy = state_dir.join(DAMAGED_COPY);
            if !copy.exists() {
                muster_durable_file::write(&copy, text.as_bytes(), 0o600).map_err(|source| {
                    TrustStoreError::Write {
                        path: copy.clone(),
                        source,
                    }
                })?;
            }
        }
        let pins = parsed
            .members
            .iter()
            .map(|m| m.fingerprint.clone())
            .collect();
        Ok(TrustStore {
            dir: state_dir.to_owned(),
            members: parsed.members,
            pins,
            left_out: parsed.left_out,
        })
    }

    /// Why entries of the file were left out when it was loaded (and that
    /// a copy of it is [`DAMAGED_COPY`]).
    pub fn left_out(&self) -> &[String] {
        &self.left_out
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

    /// Trusts `member`, replacing any member with its certificate (a
    /// renamed server that proved the passphrase again) and, only when
    /// `replace_name` allows it, a member with its name and another
    /// certificate (a reinstalled server). Returns the members it replaced.
    pub fn add(
        &mut self,
        member: Member,
        replace_name: bool,
    ) -> Result<Vec<Member>, TrustStoreError> {
        let (name, fingerprint) = (member.name.clone(), member.fingerprint.clone());
        if let Some(old) = self.get(&name).filter(|o| o.fingerprint != fingerprint) {
            if !replace_name {
                return Err(TrustStoreError::NameTaken {
                    name,
                    old: old.fingerprint.short(),
                });
            }
        }
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
            // Trust in the other direction is not given up by this one.
            merged.role = merged.role.max(old.role);
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

    /// Forgets `name` and unpins its certificate; what was forgotten.
    pub fn remove(&mut self, name: &str) -> Result<Option<Member>, TrustStoreError> {
        let Some(old) = self.get(name).cloned() else {
            return Ok(None);
        };
        let kept: Vec<Member> = self
            .members
            .iter()
            .filter(|m| m.name != name)
            .cloned()
            .collect();
        self.save(kept)?;
        self.pins.remove(&old.fingerprint);
        Ok(Some(old))
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
        muster_durable_file::write(&self.path(), render(&members).as_bytes(), 0o600).map_err(
            |source| TrustStoreError::Write {
                path: self.path(),
                source,
            },
        )?;
        self.members = members;
        Ok(())
    }
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
            role: Role::Member,
        }
    }

    fn addresses(store: &TrustStore, name: &str) -> Vec<String> {
        let member = store.get(name).expect("a member");
        member.addresses.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_store_with_a_bad_entry_loads_and_keeps_a_copy() {
        let dir = tempfile::tempdir().unwrap();
        let text = render(&[
            member("bad name", "b", "10.0.0.2:1"),
            member("s3", "c", "10.0.0.3:1"),
        ]);
        muster_durable_file::write(&dir.path().join(TRUST_FILE), text.as_bytes(), 0o600).unwrap();
        let store = TrustStore::load(dir.path()).unwrap();
        assert_eq!(store.members().len(), 1);
        assert_eq!(store.left_out().len(), 1);
        assert_eq!(
            fs::read_to_string(dir.path().join(DAMAGED_COPY)).unwrap(),
            text
        );
    }

    #[test]
    fn a_store_others_may_write_is_refused() {
        assert!(check_owner_and_mode(0, 0o100600, 0).is_ok());
        assert!(check_owner_and_mode(0, 0o100644, 0).is_ok());
        assert!(check_owner_and_mode(0, 0o100620, 0)
            .unwrap_err()
            .contains("mode"));
        assert!(check_owner_and_mode(0, 0o100602, 0).is_err());
        assert!(check_owner_and_mode(1000, 0o100600, 0)
            .unwrap_err()
            .contains("uid 1000"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(TRUST_FILE);
        fs::write(&path, render(&[])).unwrap();
        fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
        let err = TrustStore::load(dir.path()).unwrap_err();
        assert!(matches!(err, TrustStoreError::Unsafe { .. }), "{err}");
    }

    #[test]
    fn roles_survive_and_trust_in_the_other_direction_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = TrustStore::load(dir.path()).unwrap();
        let mut controller = member("s1", "a", "10.0.0.1:9443");
        controller.role = Role::Controller;
        store.add(controller, false).unwrap();
        // s1 later joins this server's session: it stays the controller.
        store
            .add(member("s1", "a", "10.0.0.1:9443"), false)
            .unwrap();
        let again = TrustStore::load(dir.path()).unwrap();
        assert_eq!(again.get("s1").unwrap().role, Role::Controller);
        assert!(again.get("s1").unwrap().to_wire().controller);
        // A store from before roles: members only.
        let old = "{\"version\":1,\"members\":[{\"name\":\"s2\",\"fingerprint\":\"FP\",\"addresses\":[\"10.0.0.2:9443\"],\"added_unix\":1}]}"
            .replace("FP", fp("b").as_str());
        assert_eq!(parse(&old).unwrap().members[0].role, Role::Member);
    }

    #[test]
    fn a_forgotten_member_is_unpinned_and_gone_after_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = TrustStore::load(dir.path()).unwrap();
        store
            .add(member("s2", "b", "10.0.0.2:9443"), false)
            .unwrap();
        assert_eq!(store.remove("s2").unwrap().unwrap().name, "s2");
        assert_eq!(store.remove("s2").unwrap(), None);
        assert!(!store.pins().contains(&fp("b")));
        assert!(TrustStore::load(dir.path()).unwrap().members().is_empty());
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
            store
                .add(member("s2", "b", "10.0.0.2:9443"), false)
                .unwrap(),
            vec![]
        );
        store
            .add(member("s3", "c", "10.0.0.3:9443"), false)
            .unwrap();
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
    fn a_new_certificate_for_a_name_is_refused_unless_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = TrustStore::load(dir.path()).unwrap();
        store
            .add(member("s2", "old", "10.0.0.2:9443"), false)
            .unwrap();
        let err = store
            .add(member("s2", "new", "10.0.0.9:9443"), false)
            .unwrap_err();
        assert!(matches!(err, TrustStoreError::NameTaken { .. }), "{err}");
        assert!(
            err.to_string().contains("muster members forget s2"),
            "{err}"
        );
        assert_eq!(store.pins().to_vec(), vec![fp("old")]);
        let replaced = store
            .add(member("s2", "new", "10.0.0.9:9443"), true)
            .unwrap();
        assert_eq!(replaced.len(), 1);
        assert_eq!(replaced[0].fingerprint, fp("old"));
        assert_eq!(store.pins().to_vec(), vec![fp("new")]);
        assert_eq!(store.members().len(), 1);
    }

    #[test]
    fn joining_again_keeps_known_addresses() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = TrustStore::load(dir.path()).unwrap();
        store
            .add(member("s2", "b", "10.0.0.2:9443"), false)
            .unwrap();
        let replaced = store
            .add(member("s2", "b", "10.0.0.7:9443"), false)
            .unwrap();
        assert_eq!(replaced, vec![]);
        assert_eq!(addresses(&store, "s2"), ["10.0.0.7:9443", "10.0.0.2:9443"]);
        assert_eq!(store.get("s2").unwrap().added_unix, 1_700_000_000);
    }

    #[test]
    fn a_working_address_moves_first() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = TrustStore::load(dir.path()).unwrap();
        store
            .add(member("s2", "b", "10.0.0.2:9443"), false)
            .unwrap();
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
