//! TLS for the member API. Peers are known by the fingerprint of their
//! self-signed certificate, not by a CA: the configurations and verifiers
//! are `muster-trust`'s; this module plugs them into the HTTPS server and
//! the HTTP clients, and hands each request the certificate its
//! connection authenticated.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::middleware::AddExtension;
use axum::Extension;
use axum_server::accept::Accept;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use muster_identity::Identity;
use muster_trust::pin::{self, FirstContactVerifier, PinnedClientVerifier};
use muster_trust::{Fingerprint, PinSet};
use rustls::ServerConfig;
use tokio::net::TcpStream;
use tower::Layer;

/// Both ends are muster: HTTP/1.1 is all either speaks.
const ALPN_HTTP1: &[u8] = b"http/1.1";

/// How long a peer has to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The server side: presents this server's certificate and asks for a
/// client certificate without requiring one. A client with no certificate
/// reaches only the pairing endpoints; one with a certificate that is not in
/// `pins` is refused during the handshake.
pub fn server_config(identity: &Identity, pins: &PinSet) -> Result<ServerConfig, pin::PinError> {
    let mut config = pin::server_config_der(
        vec![identity.cert_der().clone()],
        identity.key_der(),
        PinnedClientVerifier::new(pins.clone(), false),
    )?;
    config.alpn_protocols = vec![ALPN_HTTP1.to_vec()];
    Ok(config)
}

/// Who is at the other end of a TLS connection, as every request on it
/// carries in its extensions.
#[derive(Debug, Clone)]
pub struct Caller {
    pub address: SocketAddr,
    /// The client certificate's fingerprint. Pinned at the handshake;
    /// `None` for a client without one.
    pub fingerprint: Option<Fingerprint>,
}

/// A TLS acceptor that adds a [`Caller`] to every request of a connection.
#[derive(Clone)]
pub(crate) struct CallerAcceptor {
    tls: RustlsAcceptor,
}

impl CallerAcceptor {
    pub(crate) fn new(config: ServerConfig) -> CallerAcceptor {
        let tls = RustlsAcceptor::new(RustlsConfig::from_config(Arc::new(config)))
            .handshake_timeout(HANDSHAKE_TIMEOUT);
        CallerAcceptor { tls }
    }
}

type Accepted<S> = io::Result<(
    <RustlsAcceptor as Accept<TcpStream, S>>::Stream,
    AddExtension<S, Caller>,
)>;

impl<S: Send + 'static> Accept<TcpStream, S> for CallerAcceptor {
    type Stream = <RustlsAcceptor as Accept<TcpStream, S>>::Stream;
    type Service = AddExtension<S, Caller>;
    type Future = Pin<Box<dyn Future<Output = Accepted<S>> + Send>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let tls = self.tls.clone();
        Box::pin(async move {
            let address = stream.peer_addr()?;
            let (stream, service) = tls.accept(stream, service).await?;
            let fingerprint = pin::peer_fingerprint(stream.get_ref().1.peer_certificates());
            let caller = Caller {
                address: canonical(address),
                fingerprint,
            };
            Ok((stream, Extension(caller).layer(service)))
        })
    }
}

/// An IPv4 peer on a dual-stack socket shows as ::ffff:a.b.c.d.
fn canonical(address: SocketAddr) -> SocketAddr {
    SocketAddr::new(address.ip().to_canonical(), address.port())
}

/// A client for one member: presents this server's certificate and accepts
/// only the server whose fingerprint is `member`.
pub fn member_client(
    identity: &Identity,
    member: &Fingerprint,
    timeout: Duration,
) -> Result<reqwest::Client, ClientError> {
    let mut config = pin::client_config_der(
        vec![identity.cert_der().clone()],
        identity.key_der(),
        PinSet::from_iter([member.clone()]),
    )?;
    config.alpn_protocols = vec![ALPN_HTTP1.to_vec()];
    http_client(config, timeout)
}

/// A client for the first contact with an initiator: no client certificate,
/// any server certificate, whose fingerprint `verifier` records.
pub fn first_contact_client(
    verifier: Arc<FirstContactVerifier>,
    timeout: Duration,
) -> Result<reqwest::Client, ClientError> {
    let mut config = pin::first_contact_client_config(verifier)?;
    config.alpn_protocols = vec![ALPN_HTTP1.to_vec()];
    http_client(config, timeout)
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot set up TLS")]
    Tls(#[from] pin::PinError),
    #[error("cannot set up the HTTP client")]
    Http(#[from] reqwest::Error),
}

fn http_client(
    config: rustls::ClientConfig,
    timeout: Duration,
) -> Result<reqwest::Client, ClientError> {
    Ok(reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .http1_only()
        // Members are on the LAN: a proxy from the environment must not
        // see (or break) the handshake.
        .no_proxy()
        .connect_timeout(Duration::from_secs(5))
        .timeout(timeout)
        .build()?)
}

/// Whether a failed call failed because the server's certificate is not
/// the pinned one.
pub fn is_pin_mismatch(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(rustls::Error::InvalidCertificate(_)) = e.downcast_ref::<rustls::Error>() {
            return true;
        }
        current = inner(e);
    }
    false
}

/// The next error down. An `io::Error` wrapping another error reports that
/// error's source, skipping the error itself: descend into it instead
/// (rustls' error sits inside two of them under reqwest).
fn inner<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a (dyn std::error::Error + 'static)> {
    match e.downcast_ref::<io::Error>().and_then(io::Error::get_ref) {
        Some(wrapped) => Some(wrapped),
        None => e.source(),
    }
}
