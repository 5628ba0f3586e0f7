//! The server's identity: a private key and a self-signed certificate kept in
//! `<state dir>/identity/`. Peers pin the certificate's fingerprint, so the
//! identity is made once and never replaced behind the operator's back: a
//! damaged file is reported, never overwritten.

use std::fmt;
use std::fs::{self, DirBuilder, File};
use std::io::{self, Read};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use muster_trust::Fingerprint;
use rustls::crypto::ring::sign::any_supported_type;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Directory under the state directory that holds the identity.
pub const IDENTITY_DIR: &str = "identity";
/// The certificate, PEM.
pub const CERT_FILE: &str = "cert.pem";
/// The private key, PEM (PKCS#8), mode 0600.
pub const KEY_FILE: &str = "key.pem";

/// Where a new identity is assembled before it is renamed into place, so a
/// crash while creating leaves either a complete identity or none.
const STAGING_DIR: &str = ".identity.new";

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("cannot create directory {}", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot read {} (check its owner and permissions)", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot generate a key and certificate")]
    Generate(#[source] rcgen::Error),
    #[error(
        "{} is not a valid {what} ({reason}); {}",
        path.display(),
        replace_advice(dir)
    )]
    Corrupt {
        path: PathBuf,
        what: &'static str,
        reason: String,
        dir: PathBuf,
    },
    #[error(
        "{} does not belong to the key in {}; {}",
        cert.display(),
        key.display(),
        replace_advice(dir)
    )]
    Mismatch {
        cert: PathBuf,
        key: PathBuf,
        dir: PathBuf,
    },
    #[error(
        "{} is missing while {} exists; restore it, or {}",
        missing.display(),
        present.display(),
        replace_advice(dir)
    )]
    Incomplete {
        missing: PathBuf,
        present: PathBuf,
        dir: PathBuf,
    },
    #[error(
        "{} can be read by other users (mode {mode:04o}); run `chmod 600 {}`; if someone may \
         have copied it, {}",
        path.display(),
        path.display(),
        replace_advice(dir)
    )]
    InsecureKey {
        path: PathBuf,
        mode: u32,
        dir: PathBuf,
    },
}

fn replace_advice(dir: &Path) -> String {
    format!(
        "move {} away (for example to {}.old) and start again to create a new identity; peers \
         that trusted the old certificate will then have to trust this server anew",
        dir.display(),
        dir.display()
    )
}

/// The key and certificate this server presents to its peers.
pub struct Identity {
    dir: PathBuf,
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
    fingerprint: Fingerprint,
    created: bool,
}

// Written by hand so the private key never reaches a log.
impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("dir", &self.dir)
            .field("fingerprint", &self.fingerprint)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

/// Loads the identity from `<state_dir>/identity/`, or creates one for the
/// server `name` when neither file exists yet.
pub fn load_or_create(state_dir: &Path, name: &str) -> Result<Identity, IdentityError> {
    Identity::load_or_create(state_dir, name)
}

impl Identity {
    /// See [`load_or_create`].
    pub fn load_or_create(state_dir: &Path, name: &str) -> Result<Self, IdentityError> {
        let dir = state_dir.join(IDENTITY_DIR);
        let cert_path = dir.join(CERT_FILE);
        let key_path = dir.join(KEY_FILE);
        match (exists(&cert_path)?, exists(&key_path)?) {
            (true, true) => Self::load_from(&dir),
            (false, false) => {
                create(state_dir, &dir, name)?;
                let mut identity = Self::load_from(&dir)?;
                identity.created = true;
                Ok(identity)
            }
            (true, false) => Err(IdentityError::Incomplete {
                missing: key_path,
                present: cert_path,
                dir,
            }),
            (false, true) => Err(IdentityError::Incomplete {
                missing: cert_path,
                present: key_path,
                dir,
            }),
        }
    }

    /// Loads an existing identity; a missing file is an error.
    pub fn load(state_dir: &Path) -> Result<Self, IdentityError> {
        Self::load_from(&state_dir.join(IDENTITY_DIR))
    }

    fn load_from(dir: &Path) -> Result<Self, IdentityError> {
        let cert_path = dir.join(CERT_FILE);
        let key_path = dir.join(KEY_FILE);
        let key_pem = read_private(&key_path, dir)?;
        let cert_pem = read(&cert_path)?;
        let corrupt = |path: &Path, what, reason: String| IdentityError::Corrupt {
            path: path.to_owned(),
            what,
            reason,
            dir: dir.to_owned(),
        };

        let cert = CertificateDer::from_pem_slice(&cert_pem)
            .map_err(|e| corrupt(&cert_path, "PEM certificate", e.to_string()))?;
        let key = PrivateKeyDer::from_pem_slice(&key_pem)
            .map_err(|e| corrupt(&key_path, "PEM private key", e.to_string()))?;
        let signing_key = any_supported_type(&key)
            .map_err(|e| corrupt(&key_path, "private key", e.to_string()))?;
        match CertifiedKey::new(vec![cert.clone()], signing_key).keys_match() {
            Ok(()) => {}
            Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
                return Err(IdentityError::Mismatch {
                    cert: cert_path,
                    key: key_path,
                    dir: dir.to_owned(),
                })
            }
            Err(e) => return Err(corrupt(&cert_path, "certificate", e.to_string())),
        }

        Ok(Identity {
            dir: dir.to_owned(),
            fingerprint: Fingerprint::of_der(&cert),
            cert,
            key,
            created: false,
        })
    }

    /// SHA-256 of the certificate (DER), lowercase hex.
    pub fn fingerprint(&self) -> String {
        self.fingerprint.as_str().to_owned()
    }

    /// The first 16 hex digits of the fingerprint in groups of four, for
    /// people to compare by eye.
    pub fn short_fingerprint(&self) -> String {
        self.fingerprint.short()
    }

    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert
    }

    pub fn key_der(&self) -> PrivateKeyDer<'static> {
        self.key.clone_key()
    }

    /// The directory holding the two files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn cert_path(&self) -> PathBuf {
        self.dir.join(CERT_FILE)
    }

    pub fn key_path(&self) -> PathBuf {
        self.dir.join(KEY_FILE)
    }

    /// True when this call made the identity rather than loading it.
    pub fn was_created(&self) -> bool {
        self.created
    }
}

fn exists(path: &Path) -> Result<bool, IdentityError> {
    match fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(IdentityError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, IdentityError> {
    fs::read(path).map_err(|source| IdentityError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Reads the key, refusing one that others could have read: a key that has
/// been exposed should not keep vouching for this server unnoticed.
fn read_private(path: &Path, dir: &Path) -> Result<Vec<u8>, IdentityError> {
    let read_error = |source| IdentityError::Read {
        path: path.to_owned(),
        source,
    };
    let mut file = File::open(path).map_err(read_error)?;
    let mode = file.metadata().map_err(read_error)?.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(IdentityError::InsecureKey {
            path: path.to_owned(),
            mode,
            dir: dir.to_owned(),
        });
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(read_error)?;
    Ok(bytes)
}

fn create(state_dir: &Path, dir: &Path, name: &str) -> Result<(), IdentityError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(state_dir)
        .map_err(|source| IdentityError::CreateDir {
            path: state_dir.to_owned(),
            source,
        })?;

    let staging = state_dir.join(STAGING_DIR);
    // Only an interrupted creation leaves this behind; nothing ever used it.
    match fs::remove_dir_all(&staging) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(IdentityError::Write {
                path: staging,
                source,
            })
        }
    }
    DirBuilder::new()
        .mode(0o700)
        .create(&staging)
        .map_err(|source| IdentityError::CreateDir {
            path: staging.clone(),
            source,
        })?;

    let (cert_pem, key_pem) = generate(name)?;
    let write_error = |path: PathBuf| move |source| IdentityError::Write { path, source };
    let files = muster_durable_file::Dir::open(&staging).map_err(write_error(staging.clone()))?;
    // The key's mode is given at creation: it is never readable by others,
    // not even for a moment.
    for (file, pem, mode) in [(KEY_FILE, key_pem, 0o600), (CERT_FILE, cert_pem, 0o644)] {
        files
            .write(file.as_ref(), pem.as_bytes(), mode)
            .map_err(write_error(staging.join(file)))?;
    }
    fs::rename(&staging, dir).map_err(write_error(dir.to_owned()))?;
    muster_durable_file::Dir::open(state_dir)
        .and_then(|d| d.sync())
        .map_err(write_error(state_dir.to_owned()))
}

fn generate(name: &str) -> Result<(String, String), IdentityError> {
    let mut params = rcgen::CertificateParams::new(vec![name.to_owned(), format!("{name}.local")])
        .map_err(IdentityError::Generate)?;
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, name);
    params.distinguished_name = dn;
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(IdentityError::Generate)?;
    let cert = params.self_signed(&key).map_err(IdentityError::Generate)?;
    Ok((cert.pem(), key.serialize_pem()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn mode_of(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn creates_a_private_identity_and_reloads_the_same_one() {
        let state = tempfile::tempdir().unwrap();
        let created = load_or_create(state.path(), "s1").unwrap();
        assert!(created.was_created());
        assert_eq!(created.fingerprint().len(), 64);
        assert_eq!(mode_of(&created.key_path()), 0o600);
        assert_eq!(mode_of(created.dir()), 0o700);
        assert!(!state.path().join(STAGING_DIR).exists());

        let loaded = load_or_create(state.path(), "s1").unwrap();
        assert!(!loaded.was_created());
        assert_eq!(loaded.fingerprint(), created.fingerprint());
        assert_eq!(
            Identity::load(state.path()).unwrap().fingerprint(),
            created.fingerprint()
        );
    }

    #[test]
    fn fingerprint_is_sha256_of_the_der() {
        let state = tempfile::tempdir().unwrap();
        let identity = load_or_create(state.path(), "s1").unwrap();
        let expected = hex::encode(Sha256::digest(identity.cert_der().as_ref()));
        assert_eq!(identity.fingerprint(), expected);
    }

    #[test]
    fn a_leftover_staging_directory_does_not_block_creation() {
        let state = tempfile::tempdir().unwrap();
        fs::create_dir(state.path().join(STAGING_DIR)).unwrap();
        fs::write(state.path().join(STAGING_DIR).join(KEY_FILE), "half").unwrap();
        let identity = load_or_create(state.path(), "s1").unwrap();
        assert!(identity.was_created());
    }

    /// Damages one file and checks the error names it and the file is kept.
    fn assert_refused(file: &str, damage: impl FnOnce(&Path), expect: &str) {
        let state = tempfile::tempdir().unwrap();
        let identity = load_or_create(state.path(), "s1").unwrap();
        let path = identity.dir().join(file);
        damage(&path);
        let before = fs::read(&path).unwrap();

        let err = load_or_create(state.path(), "s1").unwrap_err().to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(err.contains(expect), "{err}");
        assert!(err.contains("move"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), before);
    }

    #[test]
    fn a_corrupt_certificate_is_reported_and_kept() {
        assert_refused(
            CERT_FILE,
            |p| fs::write(p, "not a certificate").unwrap(),
            "not a valid PEM certificate",
        );
    }

    #[test]
    fn a_certificate_with_garbage_inside_is_reported_and_kept() {
        let garbage = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert_refused(
            CERT_FILE,
            |p| fs::write(p, garbage).unwrap(),
            "not a valid certificate",
        );
    }

    #[test]
    fn a_corrupt_key_is_reported_and_kept() {
        assert_refused(
            KEY_FILE,
            |p| fs::write(p, "not a key").unwrap(),
            "not a valid PEM private key",
        );
    }

    #[test]
    fn a_certificate_of_another_key_is_reported_and_kept() {
        let other = tempfile::tempdir().unwrap();
        let other_cert = load_or_create(other.path(), "s2").unwrap().cert_path();
        assert_refused(
            CERT_FILE,
            |p| {
                fs::copy(&other_cert, p).unwrap();
            },
            "does not belong to the key",
        );
    }

    #[test]
    fn a_key_readable_by_others_is_refused() {
        assert_refused(
            KEY_FILE,
            |p| fs::set_permissions(p, fs::Permissions::from_mode(0o644)).unwrap(),
            "chmod 600",
        );
    }

    #[test]
    fn a_missing_half_is_reported_not_recreated() {
        let state = tempfile::tempdir().unwrap();
        let identity = load_or_create(state.path(), "s1").unwrap();
        fs::remove_file(identity.cert_path()).unwrap();
        let err = load_or_create(state.path(), "s1").unwrap_err().to_string();
        assert!(err.contains("cert.pem is missing"), "{err}");
        assert!(identity.key_path().exists());
        assert!(!identity.cert_path().exists());
    }
}
