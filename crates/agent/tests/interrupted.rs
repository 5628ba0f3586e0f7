//! Pairing cut short: the joiner gone between its Finish and the Welcome
//! (the initiator has stored it, the joiner has not stored the initiator),
//! and the initiator stopped while a joiner's handshake is pending. The
//! rerun must resolve either without hand work. Agents run in-process on
//! loopback (discovery off); a relay in front of the initiator, holding
//! the initiator's own key as a test may, sees each request and cuts the
//! exchange where the test says.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use muster_agent::{Agent, Config};
use muster_proto::trust::{Member, SessionPhase, SessionStatus, LISTEN_PORT_HEADER};
use muster_proto::{paths, ErrorBody};

use common::{call_unix, get, json, post};

const PASS: &str = "correct horse battery staple anew";

fn config(dir: &Path, name: &str, listen: Option<SocketAddr>) -> Config {
    let dir = dir.join(name);
    let mut config = common::agent_config(name, dir.join("state"), dir.join("musterd.sock"));
    // Restarted on its own port, as a server is: its peers stored it.
    if let Some(listen) = listen {
        config.listen = listen;
    }
    // No LXD of the host's is ever reached.
    config.lxd.socket = Some(dir.join("no-lxd.socket"));
    config
}

/// Stops `agent` and starts it again from its state, on the same port.
async fn restart(agent: Agent, dir: &Path, name: &str) -> Agent {
    let listen = agent.https_addr();
    agent.shutdown().await;
    Agent::start(config(dir, name, Some(listen))).await.unwrap()
}

/// t1 with a session open, and t2, which has not joined it yet.
async fn two_agents(dir: &Path) -> (Agent, Agent) {
    let t1 = Agent::start(config(dir, "t1", None)).await.unwrap();
    let t2 = Agent::start(config(dir, "t2", None)).await.unwrap();
    open_session(&t1);
    (t1, t2)
}

/// The rerun: t2 joins t1 directly; then both trust each other.
async fn join_and_check(t1: Agent, t2: Agent) {
    let (status, body) = post(&t2, paths::JOIN, &join_body(t1.https_addr()));
    assert_eq!(status, 200, "{body}");
    assert_trusted_both_ways(&t1, &t2);
    for agent in [t1, t2] {
        agent.shutdown().await;
    }
}

fn open_session(agent: &Agent) {
    let open = serde_json::json!({"passphrase": PASS}).to_string();
    let (status, body) = post(agent, paths::SESSION, &open);
    assert_eq!(status, 201, "{body}");
}

fn join_body(initiator: SocketAddr) -> String {
    serde_json::json!({"initiator": [initiator.to_string()], "passphrase": PASS}).to_string()
}

fn members(agent: &Agent) -> Vec<Member> {
    let (status, body) = get(agent, paths::MEMBERS);
    assert_eq!(status, 200, "{body}");
    json(&body)
}

/// Each side pins the other, once, and pinned mutual TLS works both ways.
fn assert_trusted_both_ways(initiator: &Agent, joiner: &Agent) {
    let (i, j) = (&initiator.info().name, &joiner.info().name);
    let on_initiator = members(initiator);
    assert_eq!(on_initiator.len(), 1, "{on_initiator:?}");
    assert_eq!(on_initiator[0].name, *j);
    assert_eq!(on_initiator[0].fingerprint, joiner.fingerprint());
    let on_joiner = members(joiner);
    assert_eq!(on_joiner.len(), 1, "{on_joiner:?}");
    assert_eq!(on_joiner[0].name, *i);
    assert_eq!(on_joiner[0].fingerprint, initiator.fingerprint());
    assert!(on_joiner[0].controller);
    let (status, body) = get(initiator, &paths::member(j, paths::DISKS));
    assert_eq!(status, 200, "{body}");
    let (status, body) = get(joiner, &paths::member(i, paths::INTERFACES));
    assert_eq!(status, 200, "{body}");
}

/// Where the relay cuts the exchange.
#[derive(Clone, Copy)]
enum Cut {
    /// The Finish reaches the initiator, its Welcome never reaches the
    /// joiner: the joiner gone between the two.
    Welcome,
    /// The Finish is held until the test has stopped the initiator.
    Finish,
}

/// A relay in front of `initiator` that presents the initiator's own
/// certificate, forwards each request as it is and cuts at `cut`. With
/// [`Cut::Finish`] it sends on `held` and waits on `go`.
struct Relay {
    addr: SocketAddr,
}

impl Relay {
    fn start(
        initiator: &Agent,
        state_dir: &Path,
        cut: Cut,
        held: mpsc::Sender<()>,
        go: mpsc::Receiver<()>,
    ) -> Relay {
        let identity = muster_identity::Identity::load(state_dir).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(muster_trust::pin::provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![identity.cert_der().clone()], identity.key_der())
            .unwrap();
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let upstream = initiator.https_addr();
        let fingerprint = initiator.fingerprint().to_owned();
        thread::spawn(move || {
            for tcp in listener.incoming() {
                let Ok(tcp) = tcp else { return };
                let conn = rustls::ServerConnection::new(config.clone()).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                while let Some(request) = read_request(&mut tls) {
                    let Request {
                        method,
                        path,
                        headers,
                        body,
                    } = request;
                    if path == paths::PAIR_FINISH {
                        if let Cut::Finish = cut {
                            held.send(()).unwrap();
                            go.recv().unwrap();
                        }
                    }
                    let forwarded =
                        common::tls_stream(upstream, None, &fingerprint).and_then(|stream| {
                            common::request(stream, &method, &path, &headers, Some(&body))
                        });
                    let Ok((status, answer)) = forwarded else {
                        break;
                    };
                    if path == paths::PAIR_FINISH {
                        break;
                    }
                    let written = write!(
                        tls,
                        "HTTP/1.1 {status} relayed\r\nContent-Type: application/json\r\n\
                         Content-Length: {}\r\n\r\n{answer}",
                        answer.len()
                    );
                    if written.and_then(|()| tls.flush()).is_err() {
                        break;
                    }
                }
            }
        });
        Relay { addr }
    }
}

/// One request from the joiner, with the only header the initiator needs.
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: String,
}

/// `None` when the joiner closed the connection.
fn read_request(stream: &mut impl Read) -> Option<Request> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok().filter(|n| *n > 0)?;
    let mut words = line.split_whitespace();
    let (method, path) = (words.next()?.to_owned(), words.next()?.to_owned());
    let (mut length, mut headers) = (0, Vec::new());
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        if name.eq_ignore_ascii_case("content-length") {
            length = value.trim().parse().ok()?;
        } else if name.eq_ignore_ascii_case(LISTEN_PORT_HEADER) {
            headers.push((name.to_owned(), value.trim().to_owned()));
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    // Every request is read whole and answered before the next one: nothing
    // is left in the reader's buffer.
    Some(Request {
        method,
        path,
        headers,
        body: String::from_utf8(body).ok()?,
    })
}

/// Runs the joiner's `muster join` through `relay`, cut where it was told.
fn join_through(joiner: &Agent, relay: &Relay) -> thread::JoinHandle<(u16, String)> {
    let socket = joiner.socket_path().to_owned();
    let body = join_body(relay.addr);
    thread::spawn(move || call_unix(&socket, "POST", paths::JOIN, Some(&body)).unwrap())
}

fn relay(initiator: &Agent, dir: &Path, cut: Cut) -> (Relay, mpsc::Receiver<()>, mpsc::Sender<()>) {
    let (held, on_hold) = mpsc::channel();
    let (go, wait) = mpsc::channel();
    let state = dir.join(&initiator.info().name).join("state");
    (
        Relay::start(initiator, &state, cut, held, wait),
        on_hold,
        go,
    )
}

/// The joiner gone between Finish and Welcome: the initiator pins it, it
/// pins nothing. The initiator's calls to it say so, and joining again
/// (same certificate, no `--replace`, no `forget`) completes the pairing.
#[tokio::test(flavor = "multi_thread")]
async fn a_joiner_gone_before_the_welcome_joins_again() {
    let dir = tempfile::tempdir().unwrap();
    let (t1, t2) = two_agents(dir.path()).await;
    let (relay, _, _) = relay(&t1, dir.path(), Cut::Welcome);

    let (status, body) = join_through(&t2, &relay).join().unwrap();
    assert_eq!(status, 502, "{body}");
    let error = json::<ErrorBody>(&body).error;
    assert!(error.contains("this server trusted nothing"), "{error}");
    assert!(error.contains("join again"), "{error}");
    assert_eq!(members(&t1).len(), 1);
    assert!(members(&t2).is_empty());

    // Half-trusted: t2 refuses t1, and t1 says so, with the way out.
    let (status, body) = get(&t1, &paths::member("t2", paths::DISKS));
    assert_eq!(status, 403, "{body}");
    let error = json::<ErrorBody>(&body).error;
    assert!(error.contains("t2"), "{error}");
    assert!(error.contains("does not trust t1's certificate"), "{error}");
    assert!(error.contains("muster join"), "{error}");

    let t2 = restart(t2, dir.path(), "t2").await;
    join_and_check(t1, t2).await;
}

/// The initiator stopped while a joiner's Hello is pending: nothing is
/// pinned on either side, and a new session after its restart pairs them.
#[tokio::test(flavor = "multi_thread")]
async fn an_initiator_stopped_mid_handshake_pairs_in_its_next_session() {
    let dir = tempfile::tempdir().unwrap();
    let (t1, t2) = two_agents(dir.path()).await;
    let (relay, on_hold, go) = relay(&t1, dir.path(), Cut::Finish);

    let joining = join_through(&t2, &relay);
    on_hold.recv().unwrap();
    let t1 = restart(t1, dir.path(), "t1").await;
    go.send(()).unwrap();
    let (status, body) = joining.join().unwrap();
    assert_ne!(status, 200, "{body}");
    assert!(members(&t1).is_empty());
    assert!(members(&t2).is_empty());

    let (status, body) = post(&t2, paths::JOIN, &join_body(t1.https_addr()));
    assert_eq!(status, 404, "{body}");
    assert!(json::<ErrorBody>(&body)
        .error
        .contains("muster session open"));
    open_session(&t1);
    join_and_check(t1, t2).await;
}

/// The initiator stopped after storing the joiner, before its Welcome
/// left: after the restart `muster init` finds the member that refuses it,
/// opens the session, waits for it to join again and goes on.
#[tokio::test(flavor = "multi_thread")]
async fn init_waits_for_a_member_that_does_not_trust_it_yet() {
    let dir = tempfile::tempdir().unwrap();
    let (t1, t2) = two_agents(dir.path()).await;
    let (relay, _, _) = relay(&t1, dir.path(), Cut::Welcome);
    let (status, body) = join_through(&t2, &relay).join().unwrap();
    assert_eq!(status, 502, "{body}");
    let t1 = restart(t1, dir.path(), "t1").await;
    assert_eq!(members(&t1).len(), 1);
    assert!(members(&t2).is_empty());

    let preseed = format!(
        "session:\n  passphrase: {PASS}\n  timeout: 60s\ninitiator: t1\nmembers:\n  - name: t1\n  - name: t2\n"
    );
    let init = serde_json::json!({"preseed": preseed, "dry_run": true}).to_string();
    let socket = t1.socket_path().to_owned();
    let running = thread::spawn(move || init_events(&socket, &init));
    wait_for_session(&t1).await;
    let (status, body) = post(&t2, paths::JOIN, &join_body(t1.https_addr()));
    assert_eq!(status, 200, "{body}");
    let events = running.join().unwrap();
    assert!(
        events.contains("t2 is trusted by this server but not the other way round"),
        "{events}"
    );
    assert!(events.contains("every member is trusted"), "{events}");
    assert_trusted_both_ways(&t1, &t2);

    for agent in [t1, t2] {
        agent.shutdown().await;
    }
}

/// The whole answer to `POST /v1/init`, chunks and all: the events are
/// looked for in it as text.
fn init_events(socket: &Path, body: &str) -> String {
    let mut stream = std::os::unix::net::UnixStream::connect(socket).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    write!(
        stream,
        "POST {} HTTP/1.1\r\nHost: musterd\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        muster_proto::formation::paths::INIT,
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

async fn wait_for_session(agent: &Agent) {
    for _ in 0..200 {
        let (_, body) = get(agent, paths::SESSION);
        if json::<SessionStatus>(&body).phase == SessionPhase::Open {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no session was opened");
}
