//! Accepting HTTPS connections: each request carries who is at the other
//! end of its connection.

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
use muster_trust::pin;
use muster_trust::Fingerprint;
use rustls::ServerConfig;
use tokio::net::TcpStream;
use tower::Layer;

/// How long a peer has to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

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
