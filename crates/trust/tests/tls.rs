//! Real TLS handshakes, in memory, between configurations built by
//! `muster_trust::pin` from rcgen certificates.

use std::sync::Arc;

use muster_trust::pin::{
    client_config, fingerprint_of_pem, first_contact_client_config, peer_fingerprint,
    server_config, FirstContactVerifier, PinSet, PinnedClientVerifier,
};
use muster_trust::Fingerprint;
use rcgen::{CertificateParams, KeyPair};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection};

struct Ident {
    cert: String,
    key: String,
}

impl Ident {
    fn new(name: &str) -> Ident {
        let ck = rcgen::generate_simple_self_signed(vec![name.to_string()]).unwrap();
        Ident {
            cert: ck.cert.pem(),
            key: ck.signing_key.serialize_pem(),
        }
    }

    fn ed25519(name: &str) -> Ident {
        let key = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let cert = CertificateParams::new(vec![name.to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        Ident {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }

    fn fp(&self) -> Fingerprint {
        fingerprint_of_pem(self.cert.as_bytes()).unwrap()
    }

    fn server(&self, client_pins: &PinSet, mandatory: bool) -> ServerConfig {
        server_config(
            self.cert.as_bytes(),
            self.key.as_bytes(),
            PinnedClientVerifier::new(client_pins.clone(), mandatory),
        )
        .unwrap()
    }

    fn client(&self, server_pins: PinSet) -> ClientConfig {
        client_config(self.cert.as_bytes(), self.key.as_bytes(), server_pins).unwrap()
    }
}

fn pins(fps: &[Fingerprint]) -> PinSet {
    fps.iter().cloned().collect()
}

#[derive(Debug)]
enum Failed {
    Client(rustls::Error),
    Server(rustls::Error),
}

/// Pumps records between the two ends until both finish the handshake or
/// one fails. The name deliberately matches neither certificate.
fn connect(
    client: ClientConfig,
    server: ServerConfig,
) -> Result<(ClientConnection, ServerConnection), Failed> {
    let name = ServerName::try_from("not-the-cert-name.invalid").unwrap();
    let mut c = ClientConnection::new(Arc::new(client), name).unwrap();
    let mut s = ServerConnection::new(Arc::new(server)).unwrap();
    for _ in 0..20 {
        let mut buf = Vec::new();
        while c.wants_write() {
            c.write_tls(&mut buf).unwrap();
        }
        let mut rd = &buf[..];
        while !rd.is_empty() {
            s.read_tls(&mut rd).unwrap();
            s.process_new_packets().map_err(Failed::Server)?;
        }
        let mut buf = Vec::new();
        while s.wants_write() {
            s.write_tls(&mut buf).unwrap();
        }
        let mut rd = &buf[..];
        while !rd.is_empty() {
            c.read_tls(&mut rd).unwrap();
            c.process_new_packets().map_err(Failed::Client)?;
        }
        if !c.is_handshaking() && !s.is_handshaking() {
            return Ok((c, s));
        }
    }
    panic!("handshake did not finish");
}

#[test]
fn pinned_certificates_are_accepted_both_ways() {
    let (a, b) = (Ident::new("a"), Ident::new("b"));
    let (c, s) = connect(a.client(pins(&[b.fp()])), b.server(&pins(&[a.fp()]), true)).unwrap();
    assert_eq!(peer_fingerprint(s.peer_certificates()), Some(a.fp()));
    assert_eq!(peer_fingerprint(c.peer_certificates()), Some(b.fp()));
    assert_eq!(c.protocol_version(), Some(rustls::ProtocolVersion::TLSv1_3));
}

#[test]
fn ed25519_certificates_work_too() {
    let (a, b) = (Ident::ed25519("a"), Ident::ed25519("b"));
    connect(a.client(pins(&[b.fp()])), b.server(&pins(&[a.fp()]), true)).unwrap();
}

#[test]
fn client_refuses_an_unpinned_server() {
    let (a, b, other) = (Ident::new("a"), Ident::new("b"), Ident::new("other"));
    let err = connect(
        a.client(pins(&[other.fp()])),
        b.server(&pins(&[a.fp()]), true),
    )
    .unwrap_err();
    assert!(
        matches!(err, Failed::Client(rustls::Error::InvalidCertificate(_))),
        "{err:?}"
    );
}

#[test]
fn server_refuses_an_unpinned_client() {
    let (a, b, other) = (Ident::new("a"), Ident::new("b"), Ident::new("other"));
    let err = connect(
        a.client(pins(&[b.fp()])),
        b.server(&pins(&[other.fp()]), true),
    )
    .unwrap_err();
    assert!(
        matches!(err, Failed::Server(rustls::Error::InvalidCertificate(_))),
        "{err:?}"
    );
    // Optional client authentication does not let an unknown certificate in.
    let err = connect(
        a.client(pins(&[b.fp()])),
        b.server(&pins(&[other.fp()]), false),
    )
    .unwrap_err();
    assert!(
        matches!(err, Failed::Server(rustls::Error::InvalidCertificate(_))),
        "{err:?}"
    );
}

#[test]
fn client_without_certificate_refused_when_mandatory() {
    let b = Ident::new("b");
    let v = FirstContactVerifier::new();
    let err = connect(
        first_contact_client_config(v).unwrap(),
        b.server(&PinSet::new(), true),
    )
    .unwrap_err();
    assert!(
        matches!(err, Failed::Server(rustls::Error::NoCertificatesPresented)),
        "{err:?}"
    );
}

#[test]
fn client_without_certificate_is_told_apart_when_optional() {
    let (a, b) = (Ident::new("a"), Ident::new("b"));
    let members = pins(&[a.fp()]);
    let v = FirstContactVerifier::new();
    let (_, s) = connect(
        first_contact_client_config(v.clone()).unwrap(),
        b.server(&members, false),
    )
    .unwrap();
    assert_eq!(peer_fingerprint(s.peer_certificates()), None);
    // The joiner can later bind the PAKE's result to this connection.
    assert_eq!(v.seen(), Some(b.fp()));

    let (_, s) = connect(a.client(pins(&[b.fp()])), b.server(&members, false)).unwrap();
    assert_eq!(peer_fingerprint(s.peer_certificates()), Some(a.fp()));
}

#[test]
fn pins_can_change_at_runtime() {
    let (a, b) = (Ident::new("a"), Ident::new("b"));
    let members = PinSet::new();
    let server = b.server(&members, true);
    let client = a.client(pins(&[b.fp()]));
    assert!(connect(client.clone(), server.clone()).is_err());
    members.insert(a.fp());
    connect(client.clone(), server.clone()).unwrap();
    members.remove(&a.fp());
    assert!(matches!(
        connect(client, server),
        Err(Failed::Server(rustls::Error::InvalidCertificate(_)))
    ));
}

#[test]
fn a_pinned_certificate_without_its_key_is_refused() {
    // The server presents b's pinned certificate but signs with another key:
    // pinning must not stand in for proof of possession.
    let (a, b, thief) = (Ident::new("a"), Ident::new("b"), Ident::new("thief"));
    let provider = muster_trust::pin::provider();
    let key = provider
        .key_provider
        .load_private_key(muster_trust::pin::key_from_pem(thief.key.as_bytes()).unwrap())
        .unwrap();
    let stolen = rustls::sign::CertifiedKey::new(
        muster_trust::pin::certs_from_pem(b.cert.as_bytes()).unwrap(),
        key,
    );
    let mut server = b.server(&pins(&[a.fp()]), true);
    server.cert_resolver = Arc::new(Always(Arc::new(stolen)));
    let err = connect(a.client(pins(&[b.fp()])), server).unwrap_err();
    assert!(
        matches!(
            err,
            Failed::Client(rustls::Error::InvalidCertificate(
                rustls::CertificateError::BadSignature
            ))
        ),
        "{err:?}"
    );
}

#[derive(Debug)]
struct Always(Arc<rustls::sign::CertifiedKey>);

impl rustls::server::ResolvesServerCert for Always {
    fn resolve(
        &self,
        _: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }
}

#[test]
fn bad_pem_is_an_error() {
    assert!(fingerprint_of_pem(b"").is_err());
    assert!(
        fingerprint_of_pem(b"-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n")
            .is_err()
    );
    let a = Ident::new("a");
    assert!(client_config(a.cert.as_bytes(), b"not a key", PinSet::new()).is_err());
}
