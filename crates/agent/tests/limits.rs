//! What a caller may hold of the agent: a request's head and body and an
//! idle connection are bounded in time, connections without a certificate
//! in number (docs/protocol.md, "Connections"). The agent runs in-process,
//! on loopback.

mod common;

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use muster_agent::Agent;
use muster_proto::paths;

use common::{call_https, socket_path, state_dir, tls_stream};

/// Far above the agent's 10 s timeouts: only a broken agent waits this
/// long (the clients' read timeout is the same).
const BOUND: Duration = Duration::from_secs(30);

async fn agent(dir: &Path) -> Agent {
    let config = common::agent_config("t1", state_dir(dir), socket_path(dir));
    Agent::start(config).await.unwrap()
}

/// What the agent sent until it closed the connection, and when it
/// closed it (`None`: not within [`BOUND`]).
fn until_closed(mut stream: impl Read) -> (Vec<u8>, Option<Duration>) {
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return (answer, Some(started.elapsed())),
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return (answer, None)
            }
            Err(_) => return (answer, Some(started.elapsed())),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_heads_slow_bodies_and_idle_connections_are_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let agent = agent(dir.path()).await;
    let (addr, fingerprint) = (agent.https_addr(), agent.fingerprint().to_owned());
    let connect = move || tls_stream(addr, None, &fingerprint).unwrap();
    let (idle, slow_head, slow_body) = tokio::task::spawn_blocking(move || {
        std::thread::scope(|s| {
            // Reading makes the TLS handshake, then waits.
            let idle = s.spawn(|| until_closed(connect()));
            let slow_head = s.spawn(|| {
                let mut tls = connect();
                let head = b"GET /v1/info HTTP/1.1\r\nHost: t1\r\nX-Slow: ";
                let started = Instant::now();
                // A byte every half second until the agent hangs up (a
                // write fails at the latest the one after).
                for i in 0..(2 * BOUND.as_secs() as usize) {
                    let byte = head.get(i).copied().unwrap_or(b'a');
                    if tls.write_all(&[byte]).and_then(|()| tls.flush()).is_err() {
                        return Some(started.elapsed());
                    }
                    std::thread::sleep(Duration::from_millis(500));
                }
                None
            });
            let slow_body = s.spawn(|| {
                let mut tls = connect();
                tls.write_all(
                    b"POST /v1/pair/hello HTTP/1.1\r\nHost: t1\r\n\
                      Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
                )
                .unwrap();
                until_closed(tls)
            });
            (
                idle.join().unwrap(),
                slow_head.join().unwrap(),
                slow_body.join().unwrap(),
            )
        })
    })
    .await
    .unwrap();
    eprintln!(
        "idle closed after {:?}, slow head after {slow_head:?}, slow body answered after {:?}",
        idle.1, slow_body.1
    );
    assert!(idle.1.is_some(), "an idle connection stayed open");
    assert!(
        slow_head.is_some(),
        "a head sent a byte at a time stayed open"
    );
    let answer = String::from_utf8_lossy(&slow_body.0);
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    assert!(answer.contains("did not arrive within 10 s"), "{answer}");
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn one_address_holds_16_connections_without_a_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let agent = agent(dir.path()).await;
    let (addr, fingerprint) = (agent.https_addr(), agent.fingerprint().to_owned());
    let (extra, answered) = tokio::task::spawn_blocking(move || {
        let call = || call_https(addr, None, &fingerprint, "GET", paths::INFO, None);
        // Idle, they hold their places until the TLS handshake's 10 s
        // timeout.
        let mut held: Vec<TcpStream> = (0..16).map(|_| TcpStream::connect(addr).unwrap()).collect();
        // The agent admits each as it accepts it.
        std::thread::sleep(Duration::from_millis(500));
        let extra = call();
        held.pop();
        std::thread::sleep(Duration::from_millis(200));
        (extra, call())
    })
    .await
    .unwrap();
    // Closed at once: the TLS handshake did not happen.
    assert!(extra.is_err(), "a 17th connection was answered: {extra:?}");
    let (status, body) = answered.expect("a place came free");
    assert_eq!(status, 200, "{body}");
    agent.shutdown().await;
}
