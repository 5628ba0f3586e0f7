//! Accepting connections. Over HTTPS each request carries who is at the
//! other end of its connection, and connections are held to the
//! [`Budget`]; on the unix socket only root, the socket's owner and its
//! group get in, a bounded number at a time.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::middleware::AddExtension;
use axum::Extension;
use axum_server::accept::Accept;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use muster_trust::pin;
use muster_trust::Fingerprint;
use nix::unistd::{Gid, Uid, User};
use rustls::ServerConfig;
use tokio::net::unix::UCred;
use tokio::net::{TcpStream, UnixStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::Layer;

use super::budget::{Budget, Held, Slot, LIMITS};

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

/// A TLS acceptor that holds each connection to the budget and adds a
/// [`Caller`] to every request of a connection.
#[derive(Clone)]
pub(crate) struct CallerAcceptor {
    tls: RustlsAcceptor,
    budget: Budget,
}

impl CallerAcceptor {
    pub(crate) fn new(config: ServerConfig) -> CallerAcceptor {
        let tls = RustlsAcceptor::new(RustlsConfig::from_config(Arc::new(config)))
            .handshake_timeout(HANDSHAKE_TIMEOUT);
        CallerAcceptor {
            tls,
            budget: Budget::new(LIMITS),
        }
    }
}

type HttpsStream<S> = <RustlsAcceptor as Accept<Held<TcpStream, Slot>, S>>::Stream;
type Accepted<S> = io::Result<(HttpsStream<S>, AddExtension<S, Caller>)>;

impl<S: Send + 'static> Accept<TcpStream, S> for CallerAcceptor {
    type Stream = HttpsStream<S>;
    type Service = AddExtension<S, Caller>;
    type Future = Pin<Box<dyn Future<Output = Accepted<S>> + Send>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let tls = self.tls.clone();
        let budget = self.budget.clone();
        Box::pin(async move {
            let address = canonical(stream.peer_addr()?);
            // Before the handshake, which is the first thing an idle
            // connection would hold on to.
            let slot = budget.admit(address.ip()).map_err(io::Error::other)?;
            let (mut stream, service) = tls.accept(Held::new(stream, slot), service).await?;
            let fingerprint = pin::peer_fingerprint(stream.get_ref().1.peer_certificates());
            // The verifier let only a pinned certificate through.
            if fingerprint.is_some() {
                stream.get_mut().0.hold_mut().certify();
            }
            let caller = Caller {
                address,
                fingerprint,
            };
            Ok((stream, Extension(caller).layer(service)))
        })
    }
}

/// The local CLI's connections at a time: a few in practice; the bound
/// keeps a runaway script from taking the agent's file descriptors.
const LOCAL_CONNECTIONS: usize = 64;

/// The unix socket's acceptor: lets in root, the socket's owner and its
/// group (as `SO_PEERCRED` tells, against the socket file as it is now:
/// the operator may change its group), the people its mode lets in, so
/// that a loosened mode lets nobody else in; [`LOCAL_CONNECTIONS`] at a
/// time, apart from the HTTPS connections.
#[derive(Clone)]
pub(crate) struct LocalAcceptor {
    socket: Arc<PathBuf>,
    open: Arc<Semaphore>,
}

impl LocalAcceptor {
    pub(crate) fn new(socket: &Path) -> LocalAcceptor {
        LocalAcceptor {
            socket: Arc::new(socket.to_owned()),
            open: Arc::new(Semaphore::new(LOCAL_CONNECTIONS)),
        }
    }
}

type LocalStream = Held<UnixStream, OwnedSemaphorePermit>;

impl<S: Send + 'static> Accept<UnixStream, S> for LocalAcceptor {
    type Stream = LocalStream;
    type Service = S;
    type Future = Pin<Box<dyn Future<Output = io::Result<(LocalStream, S)>> + Send>>;

    fn accept(&self, stream: UnixStream, service: S) -> Self::Future {
        let (socket, open) = (self.socket.clone(), self.open.clone());
        Box::pin(async move {
            let peer = stream.peer_cred()?;
            if !allowed(peer, &socket).await {
                tracing::warn!(
                    uid = peer.uid(),
                    gid = peer.gid(),
                    pid = peer.pid(),
                    "refused a connection on the unix socket: neither root nor in its group"
                );
                return Err(io::ErrorKind::PermissionDenied.into());
            }
            let Ok(permit) = open.try_acquire_owned() else {
                tracing::warn!(
                    uid = peer.uid(),
                    pid = peer.pid(),
                    open = LOCAL_CONNECTIONS,
                    "refused a connection on the unix socket: too many are open"
                );
                return Err(io::Error::other("too many connections on the unix socket"));
            };
            Ok((Held::new(stream, permit), service))
        })
    }
}

async fn allowed(peer: UCred, socket: &Path) -> bool {
    let uid = Uid::from_raw(peer.uid());
    if uid.is_root() {
        return true;
    }
    let Ok(file) = std::fs::metadata(socket) else {
        return false;
    };
    let (owner, group) = (Uid::from_raw(file.uid()), Gid::from_raw(file.gid()));
    if let_in_at_once(uid, Gid::from_raw(peer.gid()), owner, group) {
        return true;
    }
    // The group may be one of the user's supplementary groups; looking
    // them up may block (NSS).
    tokio::task::spawn_blocking(move || in_group(uid, group))
        .await
        .unwrap_or(false)
}

/// Root, the socket's owner, or a process whose group is the socket's.
fn let_in_at_once(uid: Uid, gid: Gid, owner: Uid, group: Gid) -> bool {
    uid.is_root() || uid == owner || gid == group
}

fn in_group(uid: Uid, group: Gid) -> bool {
    let Ok(Some(user)) = User::from_uid(uid) else {
        return false;
    };
    let Ok(name) = std::ffi::CString::new(user.name) else {
        return false;
    };
    nix::unistd::getgrouplist(&name, user.gid).is_ok_and(|groups| groups.contains(&group))
}

/// An IPv4 peer on a dual-stack socket shows as ::ffff:a.b.c.d.
fn canonical(address: SocketAddr) -> SocketAddr {
    SocketAddr::new(address.ip().to_canonical(), address.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_the_owner_and_the_group_are_let_in_at_once() {
        let (owner, group) = (Uid::from_raw(1000), Gid::from_raw(990));
        let at_once =
            |uid, gid| let_in_at_once(Uid::from_raw(uid), Gid::from_raw(gid), owner, group);
        assert!(at_once(0, 0));
        assert!(at_once(1000, 1000));
        assert!(at_once(1001, 990));
        assert!(!at_once(1001, 1001));
        assert!(!at_once(65534, 65534));
    }
}
