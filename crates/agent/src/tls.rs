//! TLS for the member API. Peers are known by the fingerprint of their
//! self-signed certificate, not by a CA: the configurations and verifiers
//! are `muster-trust`'s; this module makes them into the HTTPS server's
//! configuration and the HTTP clients ([`crate::http`] accepts the
//! connections).

use std::io;
use std::sync::Arc;
use std::time::Duration;

use muster_identity::Identity;
use muster_trust::pin::{self, FirstContactVerifier, PinnedClientVerifier};
use muster_trust::{Fingerprint, PinSet};
use rustls::ServerConfig;

/// Both ends are muster: HTTP/1.1 is all either speaks.
const ALPN_HTTP1: &[u8] = b"http/1.1";

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
        // An agent never redirects: one that does is not muster, and
        // following would carry a request (a POST body on 307) to wherever
        // it points, `http://` included. The 3xx is the answer
        // ([`crate::answer`] says so).
        .redirect(reqwest::redirect::Policy::none())
        .https_only(true)
        .connect_timeout(Duration::from_secs(5))
        .timeout(timeout)
        .build()?)
}

/// Whether a failed call failed because the server's certificate is not
/// the pinned one.
pub fn is_pin_mismatch(error: &(dyn std::error::Error + 'static)) -> bool {
    rustls_error(error).is_some_and(|e| matches!(e, rustls::Error::InvalidCertificate(_)))
}

/// Whether a failed call failed because the server refused this server's
/// client certificate: it does not pin it (rustls answers a verifier's
/// refusal with one of these alerts).
pub fn is_refused_by_peer(error: &(dyn std::error::Error + 'static)) -> bool {
    use rustls::AlertDescription::{AccessDenied, BadCertificate, CertificateUnknown, UnknownCA};
    rustls_error(error).is_some_and(|e| {
        matches!(
            e,
            rustls::Error::AlertReceived(
                AccessDenied | BadCertificate | CertificateUnknown | UnknownCA
            )
        )
    })
}

fn rustls_error<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<rustls::Error>() {
            return Some(found);
        }
        current = inner(e);
    }
    None
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
