//! Helpers shared by the agent's integration tests: a minimal HTTP/1.1
//! client over the unix socket and over pinned TLS, and test configs.
//! Each test crate uses a subset of them.
#![allow(dead_code)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// A config for a test agent: no mDNS (it would reach the real LAN),
/// loopback only, everything else inside `dir`.
pub fn config_text(dir: &Path) -> String {
    format!(
        r#"name = "t1"
state_dir = "{state}"
socket = "{socket}"
listen = "127.0.0.1:0"

[discovery]
enabled = false

[disks]
only = ["/dev/muster-test-absent"]
"#,
        state = dir.join("state").display(),
        socket = socket_path(dir).display(),
    )
}

/// The same as a `Config`, for in-process agents: server `name`, its state
/// and socket where the test says.
pub fn agent_config(name: &str, state_dir: PathBuf, socket: PathBuf) -> muster_agent::Config {
    muster_agent::Config {
        name: Some(muster_agent::ServerName::try_from(name.to_owned()).unwrap()),
        state_dir,
        socket,
        listen: (std::net::Ipv4Addr::LOCALHOST, 0).into(),
        enrollment_passphrase_file: None,
        enrollment_initiator_fingerprint: None,
        discovery: muster_agent::DiscoveryConfig {
            enabled: false,
            interfaces: vec![],
        },
        disks: muster_agent::DisksConfig {
            only: vec!["/dev/muster-test-absent".into()],
            ..muster_agent::DisksConfig::default()
        },
        lxd: muster_agent::LxdConfig::default(),
        ceph: Default::default(),
    }
}

pub fn socket_path(dir: &Path) -> PathBuf {
    dir.join("musterd.sock")
}

pub fn state_dir(dir: &Path) -> PathBuf {
    dir.join("state")
}

/// `METHOD path` over the agent's unix socket: (status, body).
pub fn get_unix(socket: &Path, method: &str, path: &str) -> io::Result<(u16, String)> {
    call_unix(socket, method, path, None)
}

/// `GET path` on `agent`'s unix socket.
pub fn get(agent: &muster_agent::Agent, path: &str) -> (u16, String) {
    get_unix(agent.socket_path(), "GET", path).unwrap()
}

/// `POST path` with a JSON body on `agent`'s unix socket.
pub fn post(agent: &muster_agent::Agent, path: &str, body: &str) -> (u16, String) {
    call_unix(agent.socket_path(), "POST", path, Some(body)).unwrap()
}

pub fn json<T: serde::de::DeserializeOwned>(body: &str) -> T {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// `METHOD path` with an optional JSON body over the unix socket.
pub fn call_unix(
    socket: &Path,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> io::Result<(u16, String)> {
    let stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    request(stream, method, path, &[], body)
}

/// `GET path` over HTTPS as a member would call: presenting `client`'s
/// certificate, trusting only the server certificate `fingerprint`.
pub fn get_https(
    addr: SocketAddr,
    client: &muster_identity::Identity,
    fingerprint: &str,
    path: &str,
) -> io::Result<(u16, String)> {
    call_https(addr, Some(client), fingerprint, "GET", path, None)
}

/// `METHOD path` over HTTPS, with `client`'s certificate or none, trusting
/// only the server certificate `fingerprint`.
pub fn call_https(
    addr: SocketAddr,
    client: Option<&muster_identity::Identity>,
    fingerprint: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> io::Result<(u16, String)> {
    request(
        tls_stream(addr, client, fingerprint)?,
        method,
        path,
        &[],
        body,
    )
}

/// A TLS connection to `addr`, with `client`'s certificate or none,
/// trusting only the server certificate `fingerprint` (the handshake
/// happens at the first read or write).
pub fn tls_stream(
    addr: SocketAddr,
    client: Option<&muster_identity::Identity>,
    fingerprint: &str,
) -> io::Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>> {
    let pin = muster_trust::Fingerprint::parse(fingerprint).map_err(io::Error::other)?;
    let pins = muster_trust::PinSet::from_iter([pin]);
    let config = match client {
        Some(client) => muster_trust::pin::client_config_der(
            vec![client.cert_der().clone()],
            client.key_der(),
            pins,
        )
        .map_err(io::Error::other)?,
        None => rustls::ClientConfig::builder_with_provider(muster_trust::pin::provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(io::Error::other)?
            .dangerous()
            .with_custom_certificate_verifier(muster_trust::PinnedServerVerifier::new(pins))
            .with_no_client_auth(),
    };
    let server_name = rustls::pki_types::ServerName::from(addr.ip());
    let conn =
        rustls::ClientConnection::new(Arc::new(config), server_name).map_err(io::Error::other)?;
    let tcp = TcpStream::connect(addr)?;
    tcp.set_read_timeout(Some(IO_TIMEOUT))?;
    Ok(rustls::StreamOwned::new(conn, tcp))
}

/// `METHOD path` with extra `headers` and an optional JSON body on a
/// connection already made: (status, body).
pub fn request(
    mut stream: impl Read + Write,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: Option<&str>,
) -> io::Result<(u16, String)> {
    let body = body.unwrap_or("");
    let extra: String = headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: musterd\r\nConnection: close\r\n{extra}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()?;
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line)?;
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other(format!("bad status line {status_line:?}")))?;
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().map_err(io::Error::other)?;
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}
