//! TLS for the member API. Peers are known by the fingerprint of their
//! self-signed certificate, not by a CA; the pinning verifiers live in
//! `muster-trust`.

use std::sync::Arc;

use muster_identity::Identity;
use rustls::crypto::CryptoProvider;
use rustls::server::danger::ClientCertVerifier;
use rustls::{Error, ServerConfig};

/// ring only: one crypto provider for the whole project.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The server side, presenting this server's certificate. `client_verifier`
/// is where pinned mutual TLS plugs in; `None` asks no client certificate.
pub fn server_config(
    identity: &Identity,
    client_verifier: Option<Arc<dyn ClientCertVerifier>>,
) -> Result<ServerConfig, Error> {
    // Both ends are muster, so there is no old client to keep TLS 1.2 for.
    let builder = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?;
    let builder = match client_verifier {
        Some(verifier) => builder.with_client_cert_verifier(verifier),
        None => builder.with_no_client_auth(),
    };
    let mut config =
        builder.with_single_cert(vec![identity.cert_der().clone()], identity.key_der())?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}
