//! Trust end to end, in one lab of four real servers (network namespaces,
//! one real musterd each, real mDNS) and the client machine: sessions and
//! `muster join`, wrong passphrases and the session's bound, replayed
//! handshake messages, unauthenticated callers, zero-touch enrollment,
//! pins across restarts, and an impostor answering mDNS for a member.
//!
//! The cases share one lab to keep the run short; each is a function named
//! for what it shows, run in order by the single test below (later cases
//! build on the trust earlier ones established). Everything that talks over
//! the network runs inside the lab: the CLI in a server's namespace, the
//! hand-made TLS clients on a thread in the client's namespace.

mod common;

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Output};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{case, path_str, Case};
use muster_identity::Identity;
use muster_lab::{Lab, Signal, Target};
use muster_proto::formation::paths as fpaths;
use muster_proto::removal::paths as rpaths;
use muster_proto::trust::{Joined, Member, SessionOpened, SessionPhase, SessionStatus};
use muster_proto::{paths, DEFAULT_PORT};
use muster_trust::pin::{client_config_der, first_contact_client_config};
use muster_trust::{
    Fingerprint, Finish, FirstContactVerifier, Hello, JoinerAttempt, Passphrase, PeerIdentity,
    PinSet, Reply, SessionInfo, Welcome,
};
use serde::de::DeserializeOwned;

/// Bounds a wait for something the lab does in about a second (mDNS,
/// a handshake); only a broken run waits this long.
const WAIT: Duration = Duration::from_secs(30);

const PASSPHRASE: &str = "violet harbour lantern gravel orchid";
const WRONG: &str = "not the passphrase anybody chose";
const ENROLLMENT: &str = "zero touch enrollment passphrase one";
const OTHER_ENROLLMENT: &str = "another enrollment passphrase entirely";

#[test]
fn trust_in_a_lab_of_four_servers() {
    let lab = common::agents_lab(4);
    let t = Trial::new(&lab);

    let cases: [Case<Trial>; 10] = [
        case!(an_expired_session_is_refused),
        case!(a_wrong_passphrase_is_refused_stores_nothing_and_the_session_ends_at_its_bound),
        case!(the_right_passphrase_gives_trust_both_ways_and_disks_over_mtls),
        case!(replayed_handshake_messages_are_refused),
        case!(unauthenticated_callers_get_401_and_nothing_is_done),
        case!(only_a_servers_controller_may_change_it),
        case!(a_trusted_name_is_not_taken_over_and_a_forgotten_member_is_refused),
        case!(zero_touch_enrollment_joins_only_with_the_right_passphrase),
        case!(pins_survive_a_restart_of_either_agent),
        case!(an_impostor_answering_mdns_for_a_member_is_refused),
    ];
    common::run_cases(&t, &cases);

    lab.down().expect("tear the lab down");
}

/// The lab and the files the cases share.
struct Trial<'a> {
    lab: &'a Lab,
    /// Passphrase and enrollment files, inside the lab's directory.
    files: PathBuf,
}

impl<'a> Trial<'a> {
    fn new(lab: &'a Lab) -> Trial<'a> {
        let files = lab.dir().join("trust-test");
        fs::create_dir_all(&files).expect("create the test's directory");
        Trial { lab, files }
    }

    /// A root-only file holding `text`.
    fn secret(&self, name: &str, text: &str) -> PathBuf {
        common::secret(&self.files, name, text)
    }

    fn muster(&self, server: usize, args: &[&str]) -> Output {
        common::cli::run(self.lab, server, args)
    }

    /// Runs `muster ARGS` on a server; its standard output.
    fn ok(&self, server: usize, args: &[&str]) -> String {
        common::cli::ok(self.lab, server, args)
    }

    /// Runs `muster ARGS` expecting it to fail; its standard error.
    fn fails(&self, server: usize, args: &[&str]) -> String {
        let out = self.muster(server, args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            !out.status.success(),
            "s{server}: muster {args:?} succeeded: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(stderr.lines().any(|l| l.starts_with("error: ")), "{stderr}");
        stderr
    }

    fn json<T: DeserializeOwned>(&self, server: usize, args: &[&str]) -> T {
        common::cli::json(self.lab, server, args)
    }

    fn status(&self, server: usize) -> SessionStatus {
        common::cli::session_status(self.lab, server)
    }

    fn members(&self, server: usize) -> Vec<Member> {
        common::cli::members(self.lab, server)
    }

    fn member_names(&self, server: usize) -> Vec<String> {
        self.members(server).into_iter().map(|m| m.name).collect()
    }

    fn fingerprint(&self, server: usize) -> String {
        Identity::load(&self.lab.server(server).state_dir)
            .expect("read the server's identity")
            .fingerprint()
    }

    fn endpoint(&self, server: usize) -> String {
        format!("{}:{DEFAULT_PORT}", self.lab.server(server).ip)
    }

    /// `muster join` on `server` to s1 by address, expected to fail; the
    /// error.
    fn join_s1_fails(&self, server: usize, passphrase_file: &Path) -> String {
        let initiator = self.endpoint(1);
        let file = path_str(passphrase_file);
        self.fails(
            server,
            &["join", "--initiator", &initiator, "--passphrase-file", file],
        )
    }

    fn open_session(&self, args: &[&str]) -> SessionOpened {
        let mut argv = vec!["session", "open", "--json"];
        argv.extend_from_slice(args);
        self.json(1, &argv)
    }

    fn restart(&self, server: usize) {
        common::restart_agent(self.lab, server);
    }
}

/// The output of a command left running in the lab, line by line.
struct Lines {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Lines {
    fn spawn(lab: &Lab, target: Target, argv: &[&str]) -> Lines {
        let mut child = lab.spawn(target, argv).expect("start a command in the lab");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Lines {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The first line (from now on) that contains `wanted`.
    fn wait_for(&mut self, wanted: &str) -> String {
        loop {
            match self.lines.recv_timeout(WAIT) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(wanted) {
                        return line;
                    }
                }
                Err(e) => panic!("no line with {wanted:?} ({e}); got {:#?}", self.seen),
            }
        }
    }

    /// The text after `label` on the line that starts with it.
    fn value_of(&mut self, label: &str) -> String {
        let line = self.wait_for(label);
        line.trim_start()
            .strip_prefix(label.trim_start())
            .unwrap_or_default()
            .trim()
            .to_owned()
    }

    /// SIGTERM, as Ctrl-C would; it must exit cleanly.
    fn stop(mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, Signal::SIGTERM).expect("signal the command");
        let status = self.child.wait().expect("wait for the command");
        assert!(status.success(), "{status}; output {:#?}", self.seen);
    }
}

/// Polls `done` every 200 ms until it holds; fails naming `what` after
/// [`WAIT`].
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn an_expired_session_is_refused(t: &Trial) {
    let pass = t.secret("passphrase", PASSPHRASE);
    let opened = t.open_session(&["--passphrase-file", path_str(&pass), "--timeout", "2s"]);
    assert_eq!(opened.expires_in_secs, 2);
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(t.status(1).phase, SessionPhase::Expired);

    let err = t.join_s1_fails(2, &pass);
    assert!(err.contains("the trust session has expired"), "{err}");
    assert!(t.members(1).is_empty());
    assert!(t.members(2).is_empty());
}

fn a_wrong_passphrase_is_refused_stores_nothing_and_the_session_ends_at_its_bound(t: &Trial) {
    let pass = t.secret("passphrase", PASSPHRASE);
    let wrong = t.secret("wrong", WRONG);
    t.open_session(&["--passphrase-file", path_str(&pass), "--max-failures", "2"]);
    let err = t.join_s1_fails(4, &wrong);
    assert!(err.contains("the passphrase did not match"), "{err}");
    let status = t.status(1);
    assert_eq!(status.phase, SessionPhase::Open);
    assert_eq!(status.failed_attempts, 1);
    assert_eq!(status.failures[0].address, t.lab.server(4).ip.to_string());
    assert_eq!(status.failures[0].claimed_name.as_deref(), Some("s4"));
    assert!(status.joined.is_empty());
    assert!(
        t.members(1).is_empty(),
        "the initiator stored a failed joiner"
    );
    assert!(
        t.members(4).is_empty(),
        "the joiner stored a failed initiator"
    );

    t.join_s1_fails(3, &wrong);
    let status = t.status(1);
    assert_eq!(status.phase, SessionPhase::Ended);
    assert_eq!(status.failed_attempts, 2);

    // Ended: even the right passphrase is refused now.
    let err = t.join_s1_fails(2, &pass);
    assert!(err.contains("the trust session has ended"), "{err}");
    for server in 1..=4 {
        assert!(t.members(server).is_empty(), "s{server} stored a member");
    }
}

fn the_right_passphrase_gives_trust_both_ways_and_disks_over_mtls(t: &Trial) {
    // The operator's screen on s1: a generated passphrase, then each joiner.
    let mut screen = Lines::spawn(
        t.lab,
        Target::Server(1),
        &["muster", "session", "open", "--watch"],
    );
    let passphrase = screen.value_of("  Passphrase:");
    let short = screen.value_of("  Fingerprint:");
    let s1 = Fingerprint::parse(&t.fingerprint(1)).expect("fingerprint");
    assert_eq!(short, s1.short());
    let words = Passphrase::parse(&passphrase).expect("a passphrase");
    assert!(words.estimated_bits().expect("list words") >= 48.0);
    let text = t.ok(1, &["session", "status"]);
    assert!(text.contains("Trust session open on s1"), "{text}");
    // Kept for the replay case, which plays a joiner itself.
    let pass = t.secret("generated", &passphrase);

    // No --initiator: s2's agent finds s1's open session over mDNS.
    let joined: Joined = t.json(2, &["join", "--passphrase-file", path_str(&pass), "--json"]);
    assert_eq!(joined.initiator.name, "s1");
    assert_eq!(joined.initiator.fingerprint, t.fingerprint(1));
    assert_eq!(joined.initiator.short_fingerprint, short);
    assert_eq!(joined.endpoint, t.endpoint(1));
    assert_eq!(joined.me.fingerprint, t.fingerprint(2));
    let s2 = Fingerprint::parse(&t.fingerprint(2)).expect("fingerprint");
    screen.wait_for(&format!("s2 joined; its fingerprint: {}", s2.short()));
    // Leaving the watch leaves the session open.
    screen.stop();
    assert_eq!(t.status(1).phase, SessionPhase::Open);

    let status = t.status(1);
    assert_eq!(status.joined.len(), 1);
    assert_eq!(status.joined[0].name, "s2");
    assert_eq!(status.joined[0].fingerprint, t.fingerprint(2));
    let text = t.ok(1, &["session", "status"]);
    assert!(text.contains(&t.fingerprint(2)), "{text}");

    let on_s1 = t.members(1);
    assert_eq!(on_s1.len(), 1);
    assert_eq!(on_s1[0].fingerprint, t.fingerprint(2));
    assert_eq!(on_s1[0].addresses, [t.endpoint(2)]);
    let on_s2 = t.members(2);
    assert_eq!(on_s2.len(), 1);
    assert_eq!(on_s2[0].fingerprint, t.fingerprint(1));

    // The initiator reads the joiner's disks and interfaces over mTLS...
    let disks: Vec<serde_json::Value> = t.json(1, &["disks", "--peer", "s2", "--json"]);
    let paths: Vec<&str> = disks.iter().filter_map(|d| d["path"].as_str()).collect();
    let expected = t.lab.server(2).disks[0].display().to_string();
    assert_eq!(paths, [expected.as_str()]);
    let interfaces: Vec<serde_json::Value> = t.json(1, &["interfaces", "--peer", "s2", "--json"]);
    let eth0 = interfaces
        .iter()
        .find(|i| i["name"] == "eth0")
        .expect("s2 has eth0");
    assert!(
        eth0["addresses"][0]
            .as_str()
            .is_some_and(|a| a.starts_with(&format!("{}/", t.lab.server(2).ip))),
        "{eth0}"
    );
    assert_eq!(eth0["up"], true);
    assert_eq!(eth0["mtu"], 1500);
    // What s2 says of itself, locally.
    let local: Vec<serde_json::Value> = t.json(2, &["interfaces", "--json"]);
    assert_eq!(local, interfaces);
    // ...and the joiner the initiator's.
    let disks: Vec<serde_json::Value> = t.json(2, &["disks", "--peer", "s1", "--json"]);
    assert_eq!(disks.len(), 1);
    let err = t.fails(1, &["disks", "--peer", "s3"]);
    assert!(err.contains("s3 is not a trusted member of s1"), "{err}");
}

/// Runs `f` with a current-thread runtime on a thread inside the client's
/// network namespace, so every socket it opens is the client machine's.
fn on_client<T: Send>(t: &Trial, f: impl AsyncFnOnce() -> T + Send) -> T {
    common::on(t.lab, Target::Client, f)
}

/// A TLS client as the tests need it: with a certificate or none, and
/// accepting any server certificate or only a pinned one.
fn tls_client(client: Option<&Identity>, server: Option<&str>) -> reqwest::Client {
    let mut config = match (client, server) {
        (Some(id), Some(fp)) => client_config_der(
            vec![id.cert_der().clone()],
            id.key_der(),
            PinSet::from_iter([Fingerprint::parse(fp).expect("a fingerprint")]),
        )
        .expect("client config"),
        (None, None) => {
            first_contact_client_config(FirstContactVerifier::new()).expect("client config")
        }
        _ => unreachable!("the cases pin the server when they present a certificate"),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .no_proxy()
        .timeout(WAIT)
        .build()
        .expect("an HTTP client")
}

/// `METHOD url` with an optional JSON body: (status, body), or the error.
async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<String>,
) -> Result<(u16, String), String> {
    let mut request = client.request(method, url);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body);
    }
    let response = request.send().await.map_err(|e| format!("{e:?}"))?;
    let status = response.status().as_u16();
    Ok((status, response.text().await.unwrap_or_default()))
}

fn parse<T: DeserializeOwned>(what: &str, (status, body): (u16, String)) -> T {
    assert_eq!(status, 200, "{what}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{what}: {e}: {body}"))
}

/// The joiner's first half of a handshake with the session at `base`, by
/// hand: the attempt, the Hello as sent, and the initiator's Reply.
async fn hello_to(
    http: &reqwest::Client,
    base: &str,
    passphrase: &Passphrase,
    me: PeerIdentity,
) -> (JoinerAttempt, String, Reply) {
    let url = |path: &str| format!("{base}{path}");
    let info: SessionInfo = parse(
        "session",
        call(http, reqwest::Method::GET, &url(paths::PAIR_SESSION), None)
            .await
            .expect("reach the initiator"),
    );
    let (attempt, hello) = JoinerAttempt::start(passphrase, info.session_id, me).expect("hello");
    let hello = serde_json::to_string::<Hello>(&hello).expect("json");
    let reply: Reply = parse(
        "hello",
        call(
            http,
            reqwest::Method::POST,
            &url(paths::PAIR_HELLO),
            Some(hello.clone()),
        )
        .await
        .expect("reach the initiator"),
    );
    (attempt, hello, reply)
}

/// An identity of the test's own, as a machine that is no member would have.
fn outsider(t: &Trial, name: &str) -> Identity {
    muster_identity::load_or_create(&t.files.join(name), name).expect("make an identity")
}

fn replayed_handshake_messages_are_refused(t: &Trial) {
    let generated =
        fs::read_to_string(t.files.join("generated")).expect("the open session's passphrase");
    let passphrase = Passphrase::parse(&generated).expect("a passphrase");
    let probe = outsider(t, "probe");
    let me = PeerIdentity {
        name: "probe".into(),
        fingerprint: Fingerprint::parse(&probe.fingerprint()).expect("fingerprint"),
    };
    let base = format!("https://{}", t.endpoint(1));
    let outcome = on_client(t, async || {
        let http = tls_client(None, None);
        let url = |path: &str| format!("{base}{path}");
        let post = async |path: &str, body: String| {
            call(&http, reqwest::Method::POST, &url(path), Some(body))
                .await
                .expect("reach s1")
        };
        let (attempt, hello_json, reply) = hello_to(&http, &base, &passphrase, me).await;
        let replayed_hello = post(paths::PAIR_HELLO, hello_json).await;

        let (awaiting, finish) = attempt.reply(&reply).expect("finish");
        let finish_json = serde_json::to_string::<Finish>(&finish).expect("json");
        let welcome: Welcome = parse(
            "finish",
            post(paths::PAIR_FINISH, finish_json.clone()).await,
        );
        let replayed_finish = post(paths::PAIR_FINISH, finish_json).await;
        let initiator = awaiting.welcome(&welcome).expect("the initiator confirms");
        (replayed_hello, replayed_finish, initiator)
    });
    let (replayed_hello, replayed_finish, initiator) = outcome;
    assert_eq!(replayed_hello.0, 409, "{}", replayed_hello.1);
    assert!(
        replayed_hello.1.contains("already used"),
        "{}",
        replayed_hello.1
    );
    assert_eq!(replayed_finish.0, 404, "{}", replayed_finish.1);
    assert!(
        replayed_finish.1.contains("no handshake in progress"),
        "{}",
        replayed_finish.1
    );
    assert_eq!(initiator.fingerprint.as_str(), t.fingerprint(1));
    // The one genuine handshake made the probe a member; the replays added
    // nothing.
    assert_eq!(t.member_names(1), ["s2", "probe"]);
    assert_eq!(t.status(1).joined.len(), 2);
}

fn unauthenticated_callers_get_401_and_nothing_is_done(t: &Trial) {
    let before = t.status(1);
    assert_eq!(before.phase, SessionPhase::Open);
    let base = format!("https://{}", t.endpoint(1));
    let s1 = t.fingerprint(1);
    let stranger = outsider(t, "stranger");
    let probe = outsider(t, "probe");
    let (anonymous, unpinned, pinned) = on_client(t, async || {
        let http = tls_client(None, None);
        let mut anonymous = Vec::new();
        for (method, path, body) in [
            (reqwest::Method::GET, paths::DISKS, None),
            (reqwest::Method::GET, paths::INTERFACES, None),
            (reqwest::Method::DELETE, paths::SESSION, None),
            (reqwest::Method::POST, paths::SESSION, Some("{}".to_owned())),
            (reqwest::Method::POST, paths::JOIN, Some("{}".to_owned())),
            (reqwest::Method::GET, paths::MEMBERS, None),
            (reqwest::Method::GET, "/v1/no-such-thing", None),
        ] {
            let answer = call(&http, method.clone(), &format!("{base}{path}"), body).await;
            anonymous.push((format!("{method} {path}"), answer));
        }
        let disks_as = async |who: &Identity| {
            let client = tls_client(Some(who), Some(&s1));
            let url = format!("{base}{}", paths::DISKS);
            call(&client, reqwest::Method::GET, &url, None).await
        };
        (anonymous, disks_as(&stranger).await, disks_as(&probe).await)
    });
    for (what, answer) in anonymous {
        let (status, body) = answer.unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(status, 401, "{what}: {body}");
        assert!(body.contains("only to members"), "{what}: {body}");
    }
    // A certificate s1 never pinned does not get through the handshake.
    assert!(unpinned.is_err(), "{unpinned:?}");
    // The probe, which proved the passphrase, is a member: control case.
    let (status, body) = pinned.expect("the probe is a member");
    assert_eq!(status, 200, "{body}");

    // Nothing was done: the session is as it was, nobody new is trusted.
    let after = t.status(1);
    assert_eq!(after.phase, SessionPhase::Open);
    assert_eq!(after.joined, before.joined);
    assert_eq!(after.failed_attempts, before.failed_attempts);
    assert_eq!(t.member_names(1), ["s2", "probe"]);
}

/// The authorization matrix of the endpoints that change a server: s2
/// joined s1, so s1 is s2's controller; s2 and the probe joined s1, so
/// they are s1's members. Only a controller's change gets past the door
/// (its malformed bodies then reach the handler and are answered 400); a
/// member's is answered 403, an anonymous caller's 401, and a certificate
/// never pinned fails the TLS handshake.
fn only_a_servers_controller_may_change_it(t: &Trial) {
    let roles: Vec<(String, bool)> = t
        .members(2)
        .into_iter()
        .map(|m| (m.name, m.controller))
        .collect();
    assert_eq!(roles, [("s1".to_owned(), true)]);
    assert!(
        t.members(1).iter().all(|m| !m.controller),
        "{:?}",
        t.members(1)
    );

    let s1 = Identity::load(&t.lab.server(1).state_dir).expect("s1's identity");
    let s2 = Identity::load(&t.lab.server(2).state_dir).expect("s2's identity");
    let probe = outsider(t, "probe");
    let stranger = outsider(t, "stranger");
    let (fp1, fp2) = (t.fingerprint(1), t.fingerprint(2));
    let (at1, at2) = (
        format!("https://{}", t.endpoint(1)),
        format!("https://{}", t.endpoint(2)),
    );
    let disk = t.lab.server(2).disks[0].display().to_string();
    let wipe = serde_json::json!({ "device": disk }).to_string();
    let changes = [
        (fpaths::WIPE, "{}".to_owned()),
        (fpaths::CEPH_STEP, "{}".to_owned()),
        (fpaths::LXD_JOIN, "{}".to_owned()),
        (rpaths::CEPH_LEAVE, "{}".to_owned()),
        (rpaths::TRUST_FORGET, "{}".to_owned()),
    ];
    let outcome = on_client(t, async || {
        let post = async |who: Option<(&Identity, &str)>, url: String, body: String| {
            let client = match who {
                Some((id, fp)) => tls_client(Some(id), Some(fp)),
                None => tls_client(None, None),
            };
            call(&client, reqwest::Method::POST, &url, Some(body)).await
        };
        let mut answers = Vec::new();
        for (path, body) in &changes {
            for (who, caller) in [
                ("the probe (s1's member)", Some((&probe, fp1.as_str()))),
                ("s2 (s1's member)", Some((&s2, fp1.as_str()))),
                ("anyone", None),
                ("a stranger", Some((&stranger, fp1.as_str()))),
            ] {
                let answer = post(caller, format!("{at1}{path}"), body.clone()).await;
                answers.push((format!("{who}: POST {path} on s1"), answer));
            }
            let answer = post(Some((&s1, &fp2)), format!("{at2}{path}"), body.clone()).await;
            answers.push((format!("s1 (s2's controller): POST {path} on s2"), answer));
        }
        // A blank disk needs no consent from s2.
        let wiped = post(
            Some((&s1, &fp2)),
            format!("{at2}{}", fpaths::WIPE),
            wipe.clone(),
        )
        .await;
        (answers, wiped)
    });
    let (answers, wiped) = outcome;
    for (what, answer) in answers {
        match what.split(':').next().unwrap_or_default() {
            "anyone" => assert_eq!(answer.expect(&what).0, 401, "{what}"),
            "a stranger" => assert!(answer.is_err(), "{what}: {answer:?}"),
            w if w.starts_with("s1 (s2's controller)") => {
                let (status, body) = answer.expect(&what);
                assert_eq!(
                    status, 400,
                    "{what}: the door let it through to the handler: {body}"
                );
            }
            _ => {
                let (status, body) = answer.expect(&what);
                assert_eq!(status, 403, "{what}: {body}");
                assert!(
                    body.contains("may read from s1 but not change it"),
                    "{what}: {body}"
                );
            }
        }
    }
    let (status, body) = wiped.expect("s1 wipes s2's blank disk");
    assert_eq!(status, 200, "{body}");

    // A disk carrying data needs s2's own consent, whoever asks.
    let made = t
        .lab
        .exec(Target::Server(2), ["mkfs.ext4", "-q", "-F", disk.as_str()])
        .expect("mkfs");
    assert!(made.status.success(), "{made:?}");
    let refused = on_client(t, async || {
        let client = tls_client(Some(&s1), Some(&fp2));
        call(
            &client,
            reqwest::Method::POST,
            &format!("{at2}{}", fpaths::WIPE),
            Some(wipe),
        )
        .await
    });
    let (status, body) = refused.expect("reach s2");
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("wipe_allowed"), "{body}");
    let blkid = t
        .lab
        .exec(Target::Server(2), ["blkid", "-p", disk.as_str()])
        .expect("blkid");
    assert!(
        String::from_utf8_lossy(&blkid.stdout).contains("ext4"),
        "{blkid:?}"
    );
}

/// In a later session, whoever holds its passphrase proves it under a
/// trusted name with another certificate: refused (it would receive that
/// member's secrets), unless the operator opened the session with
/// `--replace`. The operator's `muster members forget` unpins a member at
/// once.
fn a_trusted_name_is_not_taken_over_and_a_forgotten_member_is_refused(t: &Trial) {
    t.ok(1, &["session", "close"]);
    let text = "a later session's passphrase, leaked";
    let file = t.secret("later-session", text);
    t.open_session(&["--passphrase-file", path_str(&file)]);
    let passphrase = Passphrase::parse(text).expect("a passphrase");
    let impostor = outsider(t, "impostor-of-s2");
    let me = PeerIdentity {
        name: "s2".into(),
        fingerprint: Fingerprint::parse(&impostor.fingerprint()).expect("fingerprint"),
    };
    let before = t.members(1);
    let base = format!("https://{}", t.endpoint(1));
    let finish = on_client(t, async || {
        let http = tls_client(None, None);
        let url = |path: &str| format!("{base}{path}");
        let (attempt, _, reply) = hello_to(&http, &base, &passphrase, me).await;
        let (_, finish) = attempt.reply(&reply).expect("finish");
        let finish = serde_json::to_string::<Finish>(&finish).expect("json");
        call(
            &http,
            reqwest::Method::POST,
            &url(paths::PAIR_FINISH),
            Some(finish),
        )
        .await
    });
    let (status, body) = finish.expect("reach s1");
    assert_eq!(status, 409, "{body}");
    assert!(
        body.contains("already trusted with another certificate"),
        "{body}"
    );
    assert!(body.contains("muster members forget s2"), "{body}");
    assert_eq!(t.members(1), before, "the trust store changed");

    // The probe is forgotten: its next call fails the TLS handshake.
    let out = t.ok(1, &["members", "forget", "probe"]);
    assert!(out.contains("probe is no longer trusted"), "{out}");
    assert!(!t.member_names(1).contains(&"probe".to_owned()));
    let probe = outsider(t, "probe");
    let fp1 = t.fingerprint(1);
    let after = on_client(t, async || {
        let client = tls_client(Some(&probe), Some(&fp1));
        call(
            &client,
            reqwest::Method::GET,
            &format!("{base}{}", paths::DISKS),
            None,
        )
        .await
    });
    assert!(after.is_err(), "a forgotten member was answered: {after:?}");
    let err = t.fails(1, &["members", "forget", "probe"]);
    assert!(err.contains("probe is not trusted by s1"), "{err}");
}

/// Prepends `enrollment_passphrase_file` to a server's musterd.toml.
fn enroll_with(t: &Trial, server: usize, file: &Path) {
    common::enroll_with(t.lab, server, file);
}

fn zero_touch_enrollment_joins_only_with_the_right_passphrase(t: &Trial) {
    t.ok(1, &["session", "close"]);
    assert_eq!(t.status(1).phase, SessionPhase::Closed);
    // The announcement is withdrawn: s4 no longer finds an initiator.
    let pass = t.files.join("generated");
    let look = [
        "join",
        "--discover-timeout",
        "0s",
        "--passphrase-file",
        path_str(&pass),
    ];
    wait_until("s1 stopped announcing a session", || {
        t.fails(4, &look)
            .contains("no server with an open trust session")
    });

    // A passphrase file others can read is refused at start, saying why.
    let right = t.secret("enrollment", ENROLLMENT);
    let other = t.secret("other-enrollment", OTHER_ENROLLMENT);
    fs::set_permissions(&other, fs::Permissions::from_mode(0o644)).expect("chmod");
    t.lab.stop_agent(4, Signal::SIGTERM).expect("stop s4");
    enroll_with(t, 4, &other);
    let err = t
        .lab
        .start_agent(4)
        .expect_err("s4 started with a readable passphrase file")
        .to_string();
    assert!(
        err.contains("must be owned by root and readable by root only"),
        "{err}"
    );
    assert!(err.contains("has mode 0644"), "{err}");
    fs::set_permissions(&other, fs::Permissions::from_mode(0o600)).expect("chmod");
    t.lab.start_agent(4).expect("start s4");

    t.lab.stop_agent(3, Signal::SIGTERM).expect("stop s3");
    enroll_with(t, 3, &right);
    t.lab.start_agent(3).expect("start s3");

    t.open_session(&["--passphrase-file", path_str(&right)]);
    wait_until("s3 joined by itself", || {
        t.status(1).joined.iter().any(|p| p.name == "s3")
    });
    let s4 = t.lab.server(4).ip.to_string();
    wait_until("s4's wrong enrollment passphrase was counted", || {
        t.status(1).failures.iter().any(|f| f.address == s4)
    });

    let status = t.status(1);
    let s3 = status.joined.iter().find(|p| p.name == "s3").expect("s3");
    assert_eq!(s3.fingerprint, t.fingerprint(3));
    assert!(!status.joined.iter().any(|p| p.name == "s4"), "{status:?}");
    assert_eq!(t.member_names(3), ["s1"]);
    assert!(t.members(4).is_empty(), "s4 trusted someone");
    assert!(!t.member_names(1).contains(&"s4".to_owned()));
    t.json::<Vec<serde_json::Value>>(1, &["disks", "--peer", "s3", "--json"]);
}

fn pins_survive_a_restart_of_either_agent(t: &Trial) {
    let before = t.members(1);
    t.restart(1);
    assert_eq!(t.members(1), before);
    let disks: Vec<serde_json::Value> = t.json(1, &["disks", "--peer", "s2", "--json"]);
    assert_eq!(disks.len(), 1);
    t.restart(2);
    let disks: Vec<serde_json::Value> = t.json(2, &["disks", "--peer", "s1", "--json"]);
    assert_eq!(disks.len(), 1);
    let disks: Vec<serde_json::Value> = t.json(1, &["disks", "--peer", "s2", "--json"]);
    assert_eq!(disks.len(), 1);
    assert_eq!(t.member_names(2), ["s1"]);
}

fn an_impostor_answering_mdns_for_a_member_is_refused(t: &Trial) {
    let pinned_s2 = t
        .members(1)
        .into_iter()
        .find(|m| m.name == "s2")
        .expect("s1 trusts s2");
    // The real s2 goes away; s4 (another certificate) is announced as s2.
    t.lab.stop_agent(2, Signal::SIGTERM).expect("stop s2");
    let s4 = t.lab.server(4).ip.to_string();
    let mut forge: Child = t
        .lab
        .spawn(
            Target::Server(4),
            [
                "mdns-forge",
                "--instance",
                "s2",
                "--addr",
                &s4,
                "--interface",
                "eth0",
            ],
        )
        .expect("start mdns-forge");

    let deadline = Instant::now() + WAIT;
    let last = loop {
        let out = t.muster(1, &["disks", "--peer", "s2", "--json"]);
        assert!(
            !out.status.success(),
            "s1 read disks from whatever answered as s2: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        if stderr.contains("not the one pinned") || Instant::now() >= deadline {
            break stderr;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    let refused = last.contains("not the one pinned");
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(forge.id() as i32),
        Signal::SIGTERM,
    );
    let _ = forge.wait();
    assert!(refused, "s1 never tried the impostor: {last}");
    assert!(last.contains(&format!("{s4}:{DEFAULT_PORT}")), "{last}");

    // The pin and the known addresses are unchanged.
    let after = t
        .members(1)
        .into_iter()
        .find(|m| m.name == "s2")
        .expect("s1 still trusts s2");
    assert_eq!(after, pinned_s2);
    t.lab.start_agent(2).expect("start s2");
}
