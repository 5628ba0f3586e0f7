//! Mutual TLS between members with both certificates pinned by fingerprint.
//!
//! No CA and no names: a certificate is accepted exactly when the SHA-256 of
//! its DER is pinned, and the peer must still prove it holds the matching key
//! (the handshake signature is checked with the ring provider's algorithms).
//! Configurations are TLS 1.3 only and never resume sessions, so every
//! connection goes through the verifiers and a fingerprint removed from a
//! [`PinSet`] is refused from the next connection on.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex, RwLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::Resumption;
use rustls::crypto::{
    verify_tls12_signature, verify_tls13_signature, CryptoProvider, WebPkiSupportedAlgorithms,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::NoServerSessionStorage;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, DistinguishedName, ServerConfig,
    SignatureScheme,
};

use crate::fingerprint::Fingerprint;

#[derive(Debug, thiserror::Error)]
pub enum PinError {
    #[error("no certificate found in the PEM data")]
    NoCertificate,
    #[error("reading PEM: {0}")]
    Pem(#[from] rustls::pki_types::pem::Error),
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
}

/// The ring provider: the only crypto provider muster uses.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A shared, updatable set of pinned fingerprints. Clones share the set, so
/// the agent can add a member at runtime and every verifier built from the
/// set sees it at the next handshake.
#[derive(Clone, Default)]
pub struct PinSet(Arc<RwLock<HashSet<Fingerprint>>>);

impl PinSet {
    pub fn new() -> PinSet {
        PinSet::default()
    }

    pub fn insert(&self, fp: Fingerprint) -> bool {
        self.write().insert(fp)
    }

    pub fn remove(&self, fp: &Fingerprint) -> bool {
        self.write().remove(fp)
    }

    /// Replaces the whole set at once (e.g. after loading the trust store).
    pub fn replace(&self, fps: impl IntoIterator<Item = Fingerprint>) {
        *self.write() = fps.into_iter().collect();
    }

    pub fn contains(&self, fp: &Fingerprint) -> bool {
        self.read().contains(fp)
    }

    pub fn len(&self) -> usize {
        self.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// The fingerprints, sorted.
    pub fn to_vec(&self) -> Vec<Fingerprint> {
        let mut v: Vec<_> = self.read().iter().cloned().collect();
        v.sort();
        v
    }

    /// The verifiers' decision: is this certificate (DER) pinned?
    fn require(&self, cert_der: &[u8]) -> Result<(), rustls::Error> {
        if self.contains(&Fingerprint::of_der(cert_der)) {
            Ok(())
        } else {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    // A panic while holding the lock cannot leave a HashSet half-updated in a
    // way that matters here, so a poisoned lock is still used.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashSet<Fingerprint>> {
        self.0.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashSet<Fingerprint>> {
        self.0.write().unwrap_or_else(|e| e.into_inner())
    }
}

impl FromIterator<Fingerprint> for PinSet {
    fn from_iter<I: IntoIterator<Item = Fingerprint>>(iter: I) -> Self {
        PinSet(Arc::new(RwLock::new(iter.into_iter().collect())))
    }
}

impl fmt::Debug for PinSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.to_vec()).finish()
    }
}

/// The ring provider's signature algorithms, which every verifier uses to
/// check the handshake signature: possession of the certificate's key is
/// proven however the certificate itself was accepted.
fn signature_algorithms() -> WebPkiSupportedAlgorithms {
    provider().signature_verification_algorithms
}

/// The three signature methods, identical in every verifier here; expects a
/// `signatures: WebPkiSupportedAlgorithms` field.
macro_rules! signature_methods {
    () => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls12_signature(message, cert, dss, &self.signatures)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls13_signature(message, cert, dss, &self.signatures)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.signatures.supported_schemes()
        }
    };
}

/// For a client: accepts a server whose certificate is pinned, whatever
/// name it was reached by.
#[derive(Debug)]
pub struct PinnedServerVerifier {
    pins: PinSet,
    signatures: WebPkiSupportedAlgorithms,
}

impl PinnedServerVerifier {
    /// Usually a set of one: the member being called.
    pub fn new(pins: PinSet) -> Arc<PinnedServerVerifier> {
        Arc::new(PinnedServerVerifier {
            pins,
            signatures: signature_algorithms(),
        })
    }
}

impl ServerCertVerifier for PinnedServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.pins.require(end_entity)?;
        Ok(ServerCertVerified::assertion())
    }

    signature_methods!();
}

/// For a joiner's first contact with an initiator, before any pin exists:
/// accepts any certificate (the PAKE, not TLS, authenticates this exchange)
/// and remembers its fingerprint, so that after the handshake the joiner can
/// check the TLS peer was the party it just authenticated. Use one verifier
/// (and one `ClientConfig`) per connection.
#[derive(Debug)]
pub struct FirstContactVerifier {
    seen: Mutex<Option<Fingerprint>>,
    signatures: WebPkiSupportedAlgorithms,
}

impl FirstContactVerifier {
    pub fn new() -> Arc<FirstContactVerifier> {
        Arc::new(FirstContactVerifier {
            seen: Mutex::new(None),
            signatures: signature_algorithms(),
        })
    }

    /// The fingerprint of the certificate the server presented, once a
    /// handshake has happened.
    pub fn seen(&self) -> Option<Fingerprint> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl ServerCertVerifier for FirstContactVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(Fingerprint::of_der(end_entity));
        Ok(ServerCertVerified::assertion())
    }

    signature_methods!();
}

/// For a server: accepts clients whose certificate is pinned in a shared
/// [`PinSet`]. With client authentication optional (one listener for the
/// member API and the PAKE endpoints), a client may present no certificate
/// and is then unauthenticated; a client presenting an unpinned certificate
/// is still refused, so "has a peer certificate" always means "is a member"
/// (see [`peer_fingerprint`]).
#[derive(Debug)]
pub struct PinnedClientVerifier {
    pins: PinSet,
    mandatory: bool,
    signatures: WebPkiSupportedAlgorithms,
}

impl PinnedClientVerifier {
    pub fn new(pins: PinSet, mandatory: bool) -> Arc<PinnedClientVerifier> {
        Arc::new(PinnedClientVerifier {
            pins,
            mandatory,
            signatures: signature_algorithms(),
        })
    }

    pub fn pins(&self) -> &PinSet {
        &self.pins
    }
}

impl ClientCertVerifier for PinnedClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.pins.require(end_entity)?;
        Ok(ClientCertVerified::assertion())
    }

    signature_methods!();
}

/// The authenticated member behind a connection: the fingerprint of the
/// peer's certificate as rustls reports it (`peer_certificates()`), `None`
/// for an unauthenticated client.
pub fn peer_fingerprint(peer_certificates: Option<&[CertificateDer<'_>]>) -> Option<Fingerprint> {
    peer_certificates?.first().map(|c| Fingerprint::of_der(c))
}

/// Certificates from PEM, end entity first.
pub fn certs_from_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, PinError> {
    let certs = CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>()?;
    if certs.is_empty() {
        return Err(PinError::NoCertificate);
    }
    Ok(certs)
}

pub fn key_from_pem(pem: &[u8]) -> Result<PrivateKeyDer<'static>, PinError> {
    Ok(PrivateKeyDer::from_pem_slice(pem)?)
}

/// The fingerprint of the first certificate in `cert_pem`.
pub fn fingerprint_of_pem(cert_pem: &[u8]) -> Result<Fingerprint, PinError> {
    Ok(Fingerprint::of_der(&certs_from_pem(cert_pem)?[0]))
}

/// A server configuration presenting `cert_pem`/`key_pem` and checking
/// clients with `clients`. Set `alpn_protocols` as the HTTP server needs.
pub fn server_config(
    cert_pem: &[u8],
    key_pem: &[u8],
    clients: Arc<PinnedClientVerifier>,
) -> Result<ServerConfig, PinError> {
    server_config_der(certs_from_pem(cert_pem)?, key_from_pem(key_pem)?, clients)
}

/// [`server_config`] from DER, as `muster-identity` holds them.
pub fn server_config_der(
    cert_chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    clients: Arc<PinnedClientVerifier>,
) -> Result<ServerConfig, PinError> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(clients)
        .with_single_cert(cert_chain, key)?;
    // A resumed session skips the verifier: no resumption, so unpinning
    // takes effect at once.
    config.session_storage = Arc::new(NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    Ok(config)
}

/// A member-to-member client configuration: presents our certificate and
/// accepts only a server whose fingerprint is in `server_pins`.
pub fn client_config(
    cert_pem: &[u8],
    key_pem: &[u8],
    server_pins: PinSet,
) -> Result<ClientConfig, PinError> {
    client_config_der(
        certs_from_pem(cert_pem)?,
        key_from_pem(key_pem)?,
        server_pins,
    )
}

/// [`client_config`] from DER, as `muster-identity` holds them.
pub fn client_config_der(
    cert_chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    server_pins: PinSet,
) -> Result<ClientConfig, PinError> {
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(PinnedServerVerifier::new(server_pins))
        .with_client_auth_cert(cert_chain, key)?;
    config.resumption = Resumption::disabled();
    Ok(config)
}

/// A client configuration for the PAKE endpoints: no client certificate (the
/// server would refuse an unpinned one) and `verifier` for the server.
pub fn first_contact_client_config(
    verifier: Arc<FirstContactVerifier>,
) -> Result<ClientConfig, PinError> {
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.resumption = Resumption::disabled();
    Ok(config)
}
