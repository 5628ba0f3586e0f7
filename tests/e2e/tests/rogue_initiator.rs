//! Zero-touch enrollment against a hostile LAN and to its end, in one lab
//! of four real servers (network namespaces, one real musterd each, real
//! mDNS): a rogue initiator that takes every confirmation it can and never
//! welcomes anyone, an enrolled agent that must join one initiator and no
//! second, and an enrollment file deleted to end enrollment.
//!
//! The rogue is this test's own: it announces `_muster._tcp.local.` with
//! `session=open` (mdns-forge), serves first-contact TLS with a self-signed
//! certificate and the pairing endpoints, as a genuine initiator would, up
//! to the joiner's `Finish` (one passphrase guess to test offline), then
//! answers it with an error status or a reset connection. It lives in the
//! client's namespace, on addresses added there for it; every socket it
//! opens is that namespace's. Cases share the lab and run in order.

mod common;

use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{case, path_str, Case};
use muster_lab::{Lab, Signal, Target};
use muster_proto::trust::{SessionPhase, SessionStatus};
use muster_proto::{paths, DEFAULT_PORT};
use muster_trust::pin::server_config_der;
use muster_trust::{
    Fingerprint, Finish, Hello, InitiatorSession, Passphrase, PeerIdentity, PinSet,
    PinnedClientVerifier, SessionConfig,
};

/// Bounds a wait for what the lab does in seconds (mDNS, a handshake, a
/// few backoffs); only a broken run waits this long.
const WAIT: Duration = Duration::from_secs(90);
/// How long to watch for something that must not happen: several times
/// what the agents take to react to mDNS and retry.
const QUIET: Duration = Duration::from_secs(8);

const ENROLLMENT: &str = "zero touch enrollment passphrase one";
/// What the rogue's own session uses: a guess, wrong.
const ROGUE_GUESS: &str = "rogue guess of the enrollment passphrase";

/// What the joiner logs when the budget ends enrollment.
const BUDGET_SPENT: &str = "zero-touch enrollment ended: its guess budget is spent";

/// The joiner's bounds (`crates/agent/src/guess_budget.rs`).
const TOTAL: usize = 10;
const PER_INITIATOR: usize = 3;
const PER_ADDRESS: usize = 3;
const ADDRESSES_PER_INITIATOR: usize = 2;

#[test]
fn zero_touch_enrollment_against_rogues_and_to_its_end() {
    let lab = common::agents_lab(4);
    let t = Trial {
        lab: &lab,
        files: common::test_dir(&lab, "rogue-test"),
    };

    let cases: [Case<Trial>; 3] = [
        case!(a_rogue_initiator_gets_no_more_guesses_than_the_budget_even_across_restarts),
        case!(an_enrolled_agent_joins_one_initiator_and_no_second),
        case!(deleting_the_enrollment_file_ends_enrollment),
    ];
    common::run_cases(&t, &cases);

    lab.down().expect("tear the lab down");
}

/// The lab, and where the test keeps its passphrases and identities.
struct Trial<'a> {
    lab: &'a Lab,
    files: PathBuf,
}

impl Trial<'_> {
    fn ok(&self, server: usize, args: &[&str]) -> String {
        common::cli::ok(self.lab, server, args)
    }

    fn status(&self, server: usize) -> SessionStatus {
        common::cli::session_status(self.lab, server)
    }

    fn member_names(&self, server: usize) -> Vec<String> {
        let members = common::cli::members(self.lab, server);
        members.into_iter().map(|m| m.name).collect()
    }

    /// A server's enrollment passphrase file (its own, so that deleting
    /// one leaves the others).
    fn enroll(&self, server: usize) -> PathBuf {
        let file = common::secret(&self.files, &format!("enrollment-s{server}"), ENROLLMENT);
        self.lab
            .stop_agent(server, Signal::SIGTERM)
            .expect("stop the agent");
        common::enroll_with(self.lab, server, &file);
        self.lab.start_agent(server).expect("start the agent");
        file
    }

    fn restart(&self, server: usize) {
        common::restart_agent(self.lab, server);
    }

    fn open_session(&self, server: usize) {
        let pass = common::secret(&self.files, "session", ENROLLMENT);
        self.ok(
            server,
            &[
                "session",
                "open",
                "--json",
                "--passphrase-file",
                path_str(&pass),
            ],
        );
    }

    /// `muster join` on `server` to the initiator at `initiator` with
    /// `passphrase`, expected to fail; its standard error.
    fn join_fails(&self, server: usize, initiator: Ipv4Addr, passphrase: &str) -> String {
        let file = common::secret(&self.files, "typed", passphrase);
        let initiator = format!("{initiator}:{DEFAULT_PORT}");
        let typed = [
            "join",
            "--initiator",
            &initiator,
            "--passphrase-file",
            path_str(&file),
        ];
        let out = common::cli::run(self.lab, server, &typed);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            !out.status.success(),
            "s{server} joined {initiator}: {stderr}"
        );
        stderr
    }

    fn trust_file(&self, server: usize) -> Option<Vec<u8>> {
        fs::read(self.lab.server(server).state_dir.join("trust.json")).ok()
    }

    /// Where a server's log ends now: what it says from then on is
    /// [`Trial::log_since`].
    fn log_mark(&self, server: usize) -> usize {
        fs::read(&self.lab.server(server).log).map_or(0, |l| l.len())
    }

    fn log_since(&self, server: usize, mark: usize) -> String {
        let log = fs::read(&self.lab.server(server).log).unwrap_or_default();
        String::from_utf8_lossy(log.get(mark..).unwrap_or_default()).into_owned()
    }

    /// Waits until the server's log says `wanted` after `mark`; fails with
    /// what it did say.
    fn wait_for_log(&self, server: usize, mark: usize, wanted: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let said = self.log_since(server, mark);
            if said.contains(wanted) {
                return said;
            }
            assert!(
                Instant::now() < deadline,
                "s{server} never logged {wanted:?}; it logged:\n{said}"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// An address on the lab's LAN that no server uses, for the rogue.
    fn spare_address(&self, n: u8) -> Ipv4Addr {
        let [a, b, c, _] = self.lab.client().ip.octets();
        Ipv4Addr::new(a, b, c, 200 + n)
    }
}

/// Polls `done` every 250 ms until it holds; fails naming `what` after
/// [`WAIT`].
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Ends a process this test started, by its pid: SIGTERM, then SIGKILL
/// after 5 s.
fn end(mut child: Child) {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let _ = nix::sys::signal::kill(pid, Signal::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if !matches!(child.try_wait(), Ok(None)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// How the rogue answers a Finish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Status(u16),
    /// Closes the connection with a TCP reset, answering nothing.
    Reset,
}

/// One Finish the rogue received.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Received {
    /// The rogue's address it came to.
    at: Ipv4Addr,
    from: IpAddr,
    answer: Answer,
}

/// What a rogue's listeners share.
struct Shared {
    name: String,
    fingerprint: Fingerprint,
    tls: Arc<rustls::ServerConfig>,
    /// The session of the last `GET /v1/pair/session`: the joiner's next
    /// Hello is for it.
    session: Mutex<Option<InitiatorSession>>,
    answers: Vec<Answer>,
    received: Mutex<Vec<Received>>,
    stop: AtomicBool,
}

/// A rogue initiator: a certificate of its own, listening at `addresses`
/// (port 9443) in the client's namespace, announced as `name` with an open
/// session.
struct Rogue {
    shared: Arc<Shared>,
    addresses: Vec<Ipv4Addr>,
    accepters: Vec<JoinHandle<()>>,
    forge: Child,
}

impl Rogue {
    /// `identity` names its certificate: the same identity is the same
    /// certificate, under whatever name it is announced.
    fn start(
        t: &Trial,
        name: &str,
        identity: &str,
        addresses: &[Ipv4Addr],
        answers: &[Answer],
    ) -> Rogue {
        let id = muster_identity::load_or_create(&t.files.join(identity), identity)
            .expect("make the rogue's identity");
        let fingerprint = Fingerprint::parse(&id.fingerprint()).expect("a fingerprint");
        let mut tls = server_config_der(
            vec![id.cert_der().clone()],
            id.key_der(),
            PinnedClientVerifier::new(PinSet::default(), false),
        )
        .expect("the rogue's TLS");
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let shared = Arc::new(Shared {
            name: name.to_owned(),
            fingerprint,
            tls: Arc::new(tls),
            session: Mutex::new(None),
            answers: answers.to_vec(),
            received: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
        });
        let mut accepters = Vec::new();
        for &address in addresses {
            let listener = t
                .lab
                .in_netns(Target::Client, || {
                    TcpListener::bind(SocketAddr::from((address, DEFAULT_PORT)))
                })
                .expect("enter the client's namespace")
                .unwrap_or_else(|e| panic!("the rogue cannot listen on {address}: {e}"));
            let shared = shared.clone();
            accepters.push(std::thread::spawn(move || {
                accept(&shared, listener, address)
            }));
        }
        let mut argv = vec![
            "mdns-forge".to_owned(),
            "--instance".into(),
            name.into(),
            "--txt".into(),
            "session=open".into(),
            "--interface".into(),
            "eth0".into(),
        ];
        for address in addresses {
            argv.extend(["--addr".to_owned(), address.to_string()]);
        }
        let forge = t
            .lab
            .spawn(Target::Client, &argv)
            .expect("start mdns-forge");
        Rogue {
            shared,
            addresses: addresses.to_vec(),
            accepters,
            forge,
        }
    }

    fn received(&self) -> Vec<Received> {
        self.shared
            .received
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Withdraws the announcement (goodbye) and closes the listeners.
    fn stop(self) -> Vec<Received> {
        end(self.forge);
        self.shared.stop.store(true, Ordering::SeqCst);
        for accepter in self.accepters {
            let _ = accepter.join();
        }
        self.shared
            .received
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Accepts connections until the rogue stops (or an hour passes: a bound
/// for a run that lost track of it), each on its own thread.
fn accept(shared: &Arc<Shared>, listener: TcpListener, at: Ipv4Addr) {
    listener
        .set_nonblocking(true)
        .expect("a non-blocking listener");
    let deadline = Instant::now() + Duration::from_secs(3600);
    while !shared.stop.load(Ordering::SeqCst) && Instant::now() < deadline {
        match listener.accept() {
            Ok((stream, from)) => {
                let shared = shared.clone();
                std::thread::spawn(move || {
                    let _ = serve(&shared, stream, at, from.ip());
                });
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(_) => break,
        }
    }
}

/// Serves one TLS connection: the pairing endpoints, as many requests as
/// the joiner sends on it (at most 16), until a Finish.
fn serve(shared: &Shared, stream: TcpStream, at: Ipv4Addr, from: IpAddr) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let tls = rustls::ServerConnection::new(shared.tls.clone()).map_err(io::Error::other)?;
    let mut tls = BufReader::new(rustls::StreamOwned::new(tls, stream));
    for _ in 0..16 {
        let Some((method, path, body)) = read_request(&mut tls)? else {
            return Ok(());
        };
        let answer = match (method.as_str(), path.as_str()) {
            ("GET", paths::PAIR_SESSION) => {
                let me = PeerIdentity {
                    name: shared.name.clone(),
                    fingerprint: shared.fingerprint.clone(),
                };
                let guess = Passphrase::parse(ROGUE_GUESS).expect("a passphrase");
                let session =
                    InitiatorSession::new(guess, me, SessionConfig::default(), Instant::now())
                        .expect("a session");
                let info = serde_json::to_string(&session.info()).expect("json");
                *shared.session.lock().unwrap_or_else(|e| e.into_inner()) = Some(session);
                (200, info)
            }
            ("POST", paths::PAIR_HELLO) => {
                let hello: Hello = serde_json::from_slice(&body).map_err(io::Error::other)?;
                let mut session = shared.session.lock().unwrap_or_else(|e| e.into_inner());
                let reply = session
                    .as_mut()
                    .ok_or_else(|| io::Error::other("a Hello before any session"))?
                    .hello(from, &hello, Instant::now())
                    .map_err(io::Error::other)?;
                (200, serde_json::to_string(&reply).expect("json"))
            }
            ("POST", paths::PAIR_FINISH) => {
                // The guess is the rogue's now, to test at leisure.
                let _finish: Finish = serde_json::from_slice(&body).map_err(io::Error::other)?;
                let answer = {
                    let mut received = shared.received.lock().unwrap_or_else(|e| e.into_inner());
                    let answer = shared.answers[received.len() % shared.answers.len()];
                    received.push(Received { at, from, answer });
                    answer
                };
                match answer {
                    Answer::Status(code) => {
                        respond(&mut tls, code, r#"{"error":"try again later"}"#)?;
                    }
                    Answer::Reset => {
                        let tcp = &tls.get_ref().sock;
                        socket2::SockRef::from(tcp).set_linger(Some(Duration::ZERO))?;
                    }
                }
                return Ok(());
            }
            _ => (404, r#"{"error":"not found"}"#.to_owned()),
        };
        respond(&mut tls, answer.0, &answer.1)?;
    }
    Ok(())
}

type Tls = BufReader<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>;

/// The next HTTP/1.1 request: method, path and body; `None` when the
/// joiner closed the connection.
fn read_request(tls: &mut Tls) -> io::Result<Option<(String, String, Vec<u8>)>> {
    let mut line = String::new();
    if tls.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let mut length = 0usize;
    for _ in 0..64 {
        let mut header = String::new();
        tls.read_line(&mut header)?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().map_err(io::Error::other)?;
            }
        }
    }
    let mut body = vec![0; length.min(1 << 16)];
    tls.read_exact(&mut body)?;
    Ok(Some((method, path, body)))
}

fn respond(tls: &mut Tls, code: u16, body: &str) -> io::Result<()> {
    let stream = tls.get_mut();
    write!(
        stream,
        "HTTP/1.1 {code} Rogue\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

/// The guess budget a server keeps, as the number of confirmations in it.
fn budget_entries(t: &Trial, server: usize) -> usize {
    let path = t.lab.server(server).state_dir.join("guess-budget.json");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let budget: serde_json::Value = serde_json::from_str(&text).expect("budget JSON");
    budget["guesses"]
        .as_array()
        .expect("a list of guesses")
        .len()
}

fn a_rogue_initiator_gets_no_more_guesses_than_the_budget_even_across_restarts(t: &Trial) {
    let s4 = IpAddr::V4(t.lab.server(4).ip);
    let spare: Vec<Ipv4Addr> = (1..=8).map(|n| t.spare_address(n)).collect();
    for address in &spare {
        let cidr = format!("{address}/24");
        let out = t
            .lab
            .exec(Target::Client, ["ip", "addr", "add", &cidr, "dev", "eth0"])
            .expect("run ip");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    t.enroll(4);
    let trust_before = t.trust_file(4);
    let mark = t.log_mark(4);

    // One rogue, one certificate, one address: 500, a reset, then 404.
    let first = Rogue::start(
        t,
        "r1",
        "rogue-c1",
        &spare[..1],
        &[Answer::Status(500), Answer::Reset, Answer::Status(404)],
    );
    let c1 = first.shared.fingerprint.clone();
    wait_until("s4 sent the rogue its bound of confirmations", || {
        first.received().len() >= PER_INITIATOR
    });
    std::thread::sleep(QUIET);
    let by_first = first.stop();
    assert_eq!(by_first.len(), PER_INITIATOR, "{by_first:?}");
    assert!(by_first.iter().all(|r| r.from == s4), "{by_first:?}");
    assert_eq!(
        by_first.iter().map(|r| r.answer).collect::<Vec<_>>(),
        [Answer::Status(500), Answer::Reset, Answer::Status(404)]
    );

    // It re-announces under new names: its certificate at a new address,
    // a new certificate at its old address, and new ones with new
    // addresses, one of them announcing three.
    let churn = [Answer::Status(409), Answer::Reset, Answer::Status(500)];
    let rogues = [
        Rogue::start(t, "r2", "rogue-c2", &spare[1..4], &churn),
        Rogue::start(t, "r3", "rogue-c1", &spare[4..5], &churn),
        Rogue::start(t, "r4", "rogue-c3", &spare[0..1], &churn),
        Rogue::start(t, "r5", "rogue-c4", &spare[5..6], &churn),
        Rogue::start(t, "r6", "rogue-c5", &spare[6..7], &churn),
        Rogue::start(t, "r7", "rogue-c6", &spare[7..8], &churn),
    ];
    assert_eq!(rogues[1].shared.fingerprint, c1);
    let everything = || {
        let mut all = by_first.clone();
        for rogue in &rogues {
            all.extend(rogue.received());
        }
        all
    };
    wait_until(
        "s4 stopped enrolling, or gave away more than its budget",
        || everything().len() > TOTAL || t.log_since(4, mark).contains(BUDGET_SPENT),
    );
    std::thread::sleep(QUIET);
    let all = everything();
    assert_eq!(all.len(), TOTAL, "{all:#?}");
    assert!(all.iter().all(|r| r.from == s4), "{all:?}");
    assert_eq!(
        rogues[1].received(),
        [],
        "its certificate was spent under r1"
    );
    assert_eq!(rogues[2].received(), [], "its address was spent under r1");
    for address in &spare {
        let here = all.iter().filter(|r| r.at == *address).count();
        assert!(here <= PER_ADDRESS, "{address}: {here}");
    }
    for rogue in &rogues {
        let got = rogue.received();
        assert!(got.len() <= PER_INITIATOR, "{}: {got:?}", rogue.shared.name);
        let mut at: Vec<Ipv4Addr> = got.iter().map(|r| r.at).collect();
        at.sort_unstable();
        at.dedup();
        assert!(
            at.len() <= ADDRESSES_PER_INITIATOR,
            "{}: {at:?}",
            rogue.shared.name
        );
    }
    assert!(
        !rogues[0]
            .received()
            .iter()
            .any(|r| r.at == rogues[0].addresses[2]),
        "r2's third address was tried"
    );
    // Nothing was trusted, and the spending is on disk.
    assert_eq!(t.trust_file(4), trust_before);
    assert!(t.member_names(4).is_empty());
    assert_eq!(budget_entries(t, 4), TOTAL);

    // A restart gives no fresh budget, with the rogues still announcing.
    let mark = t.log_mark(4);
    t.restart(4);
    t.wait_for_log(4, mark, BUDGET_SPENT);
    // `muster join` by hand is bound by the same budget.
    let err = t.join_fails(4, spare[5], ENROLLMENT);
    assert!(err.contains("nothing was sent"), "{err}");
    std::thread::sleep(QUIET);
    let mut after = 0;
    for rogue in rogues {
        after += rogue.stop().len();
    }
    assert_eq!(
        after + by_first.len(),
        TOTAL,
        "more confirmations after a restart"
    );
    assert_eq!(t.trust_file(4), trust_before);
    assert_eq!(budget_entries(t, 4), TOTAL);
}

fn an_enrolled_agent_joins_one_initiator_and_no_second(t: &Trial) {
    t.enroll(3);
    let mark = t.log_mark(3);
    t.open_session(1);
    wait_until("s3 joined s1 by itself", || {
        t.status(1).joined.iter().any(|p| p.name == "s3")
    });
    assert_eq!(t.member_names(3), ["s1"]);
    // s4 spent its budget on the rogues: not even the real initiator gets
    // a confirmation from it.
    let s1 = t.status(1);
    assert!(!s1.joined.iter().any(|p| p.name == "s4"), "{s1:?}");
    assert_eq!(s1.failed_attempts, 0, "{s1:?}");
    t.ok(1, &["session", "close"]);

    // A second initiator, with the same passphrase, in s3's plain sight.
    t.open_session(2);
    wait_until("s3 sees s2's open session", || {
        t.ok(
            3,
            &["peers", "--json", "--timeout", "2", "--interface", "eth0"],
        )
        .lines()
        .any(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .is_ok_and(|e| e["name"] == "s2" && e["session_open"] == true)
        })
    });
    std::thread::sleep(QUIET);
    let s2 = t.status(2);
    assert_eq!(s2.phase, SessionPhase::Open);
    assert!(s2.joined.is_empty(), "s3 joined a second initiator: {s2:?}");
    assert_eq!(s2.failed_attempts, 0, "{s2:?}");
    assert_eq!(t.member_names(3), ["s1"]);
    assert!(t.member_names(2).is_empty());
    t.wait_for_log(3, mark, "enrollment is over");
    t.ok(2, &["session", "close"]);
}

fn deleting_the_enrollment_file_ends_enrollment(t: &Trial) {
    // s2 trusts nobody (nobody joined its session): it may enroll.
    let file = t.enroll(2);
    let mark = t.log_mark(2);
    fs::remove_file(&file).expect("delete the enrollment file");
    t.open_session(1);
    let gone = format!("the enrollment passphrase file {} is gone", file.display());
    let deadline = Instant::now() + WAIT;
    while !t.log_since(2, mark).contains(&gone) {
        let s1 = t.status(1);
        assert!(
            !s1.joined.iter().any(|p| p.name == "s2"),
            "s2 joined with a deleted enrollment file"
        );
        assert!(
            Instant::now() < deadline,
            "s2 never noticed: {}",
            t.log_since(2, mark)
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    std::thread::sleep(QUIET);
    let s1 = t.status(1);
    assert!(!s1.joined.iter().any(|p| p.name == "s2"), "{s1:?}");
    let s2_ip = t.lab.server(2).ip.to_string();
    assert!(!s1.failures.iter().any(|f| f.address == s2_ip), "{s1:?}");
    assert!(t.member_names(2).is_empty());

    // The configuration still names the file: the agent starts without it.
    let mark = t.log_mark(2);
    t.restart(2);
    t.wait_for_log(2, mark, "zero-touch enrollment is off");
    std::thread::sleep(QUIET);
    assert!(!t.status(1).joined.iter().any(|p| p.name == "s2"));

    // Its budget still counts what it sends by hand.
    let err = t.join_fails(
        2,
        t.lab.server(1).ip,
        "not the enrollment passphrase at all",
    );
    assert!(err.contains("the passphrase did not match"), "{err}");
    assert_eq!(budget_entries(t, 2), 1);
    t.ok(1, &["session", "close"]);
}
