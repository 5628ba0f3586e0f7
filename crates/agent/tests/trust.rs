//! Trust between agents run in-process on loopback (discovery off: mDNS
//! from the host would reach the real LAN). The lab test
//! (tests/e2e/tests/trust.rs) covers the same across network namespaces
//! with the real programs and mDNS.

mod common;

use std::path::Path;

use muster_agent::{Agent, Config};
use muster_proto::trust::{
    Joined, Member, NetInterface, SessionOpened, SessionPhase, SessionStatus,
};
use muster_proto::{paths, ErrorBody};

use common::{get, json, post};

const PASS: &str = "correct horse battery staple anew";

fn config(dir: &Path, name: &str) -> Config {
    let dir = dir.join(name);
    common::agent_config(name, dir.join("state"), dir.join("musterd.sock"))
}

fn join_body(initiator: &Agent, passphrase: &str) -> String {
    serde_json::json!({
        "initiator": [initiator.https_addr().to_string()],
        "passphrase": passphrase,
    })
    .to_string()
}

fn members(agent: &Agent) -> Vec<Member> {
    let (status, body) = get(agent, paths::MEMBERS);
    assert_eq!(status, 200, "{body}");
    json(&body)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_joiner_and_its_initiator_trust_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let t1 = Agent::start(config(dir.path(), "t1")).await.unwrap();
    let t2 = Agent::start(config(dir.path(), "t2")).await.unwrap();
    let t3 = Agent::start(config(dir.path(), "t3")).await.unwrap();

    let (status, body) = get(&t2, paths::INITIATORS);
    assert_eq!(status, 503, "{body}");
    assert!(json::<ErrorBody>(&body).error.contains("--initiator"));

    let open = serde_json::json!({"passphrase": PASS, "max_failures": 3}).to_string();
    let (status, body) = post(&t1, paths::SESSION, &open);
    assert_eq!(status, 201, "{body}");
    let opened: SessionOpened = json(&body);
    assert_eq!(opened.passphrase, "correct-horse-battery-staple-anew");
    assert_eq!(opened.initiator.fingerprint, t1.fingerprint());
    let (status, body) = post(&t1, paths::SESSION, "{}");
    assert_eq!(status, 409, "{body}");

    // A wrong passphrase: refused, and neither side stores anything.
    let (status, body) = post(
        &t3,
        paths::JOIN,
        &join_body(&t1, "not the passphrase at all"),
    );
    assert_eq!(status, 403, "{body}");
    assert!(json::<ErrorBody>(&body)
        .error
        .contains("passphrase did not match"));
    assert!(members(&t3).is_empty());
    assert!(members(&t1).is_empty());

    // The right one: both sides learn each other.
    let (status, body) = post(&t2, paths::JOIN, &join_body(&t1, PASS));
    assert_eq!(status, 200, "{body}");
    let joined: Joined = json(&body);
    assert_eq!(joined.initiator.name, "t1");
    assert_eq!(joined.initiator.fingerprint, t1.fingerprint());
    assert_eq!(joined.me.fingerprint, t2.fingerprint());

    let (_, body) = get(&t1, paths::SESSION);
    let status: SessionStatus = json(&body);
    assert_eq!(status.phase, SessionPhase::Open);
    assert_eq!(status.joined.len(), 1);
    assert_eq!(status.joined[0].name, "t2");
    assert_eq!(status.joined[0].fingerprint, t2.fingerprint());
    assert_eq!(status.failed_attempts, 1);
    assert_eq!(status.failures[0].claimed_name.as_deref(), Some("t3"));

    let on_t1 = members(&t1);
    assert_eq!(on_t1.len(), 1);
    assert_eq!(on_t1[0].fingerprint, t2.fingerprint());
    assert_eq!(on_t1[0].addresses, [t2.https_addr().to_string()]);
    assert_eq!(members(&t2)[0].fingerprint, t1.fingerprint());

    // Pinned mutual TLS both ways, through the local agents.
    let (status, body) = get(&t1, &paths::member("t2", paths::DISKS));
    assert_eq!(status, 200, "{body}");
    assert_eq!(json::<Vec<muster_disks::Disk>>(&body), vec![]);
    let (status, body) = get(&t2, &paths::member("t1", paths::INTERFACES));
    assert_eq!(status, 200, "{body}");
    assert!(json::<Vec<NetInterface>>(&body)
        .iter()
        .any(|i| i.name == "lo"));
    let (status, body) = get(&t1, &paths::member("t3", paths::DISKS));
    assert_eq!(status, 404, "{body}");
    assert!(json::<ErrorBody>(&body)
        .error
        .contains("not a trusted member"));

    // Pins survive a restart.
    t2.shutdown().await;
    let t2 = Agent::start(config(dir.path(), "t2")).await.unwrap();
    let (status, body) = get(&t2, &paths::member("t1", paths::DISKS));
    assert_eq!(status, 200, "{body}");

    // The session ends after its bound on wrong passphrases.
    // (Each 403 is held for the address's delay, so the next attempt is
    // never too soon.)
    for _ in 0..2 {
        let (status, body) = post(
            &t3,
            paths::JOIN,
            &join_body(&t1, "still not the passphrase"),
        );
        assert_eq!(status, 403, "{body}");
    }
    let (_, body) = get(&t1, paths::SESSION);
    let status: SessionStatus = json(&body);
    assert_eq!(status.phase, SessionPhase::Ended, "{body}");
    let (status, body) = post(&t3, paths::JOIN, &join_body(&t1, PASS));
    assert_eq!(status, 409, "{body}");
    assert!(json::<ErrorBody>(&body).error.contains("ended"), "{body}");
    assert!(members(&t3).is_empty());

    for agent in [t1, t2, t3] {
        agent.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_with_another_certificate_is_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    let t1 = Agent::start(config(dir.path(), "t1")).await.unwrap();
    let me = muster_identity::load_or_create(&dir.path().join("me"), "me").unwrap();
    let someone_else = muster_trust::Fingerprint::of_der(b"not t1's certificate");
    let client =
        muster_agent::tls::member_client(&me, &someone_else, std::time::Duration::from_secs(10))
            .unwrap();
    let err = client
        .get(format!("https://{}{}", t1.https_addr(), paths::INFO))
        .send()
        .await
        .unwrap_err();
    assert!(muster_agent::tls::is_pin_mismatch(&err), "{err:?}");
    t1.shutdown().await;
}

fn look_up(agent: &Agent, address: std::net::SocketAddr) -> (u16, String) {
    let body = serde_json::json!({ "address": address.to_string() }).to_string();
    post(agent, paths::LOOK_UP, &body)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_looked_up_by_address_gives_its_name_before_any_trust() {
    let dir = tempfile::tempdir().unwrap();
    let t1 = Agent::start(config(dir.path(), "t1")).await.unwrap();
    let t2 = Agent::start(config(dir.path(), "t2")).await.unwrap();

    let (status, body) = look_up(&t1, t2.https_addr());
    assert_eq!(status, 200, "{body}");
    let info: muster_proto::AgentInfo = json(&body);
    assert_eq!(info.name, "t2");
    assert_eq!(info.fingerprint, t2.fingerprint());
    assert_eq!(info.state, muster_proto::ClusterState::Unclustered);
    // Asking is not trusting, on either side.
    assert!(members(&t1).is_empty());
    assert!(members(&t2).is_empty());

    let (status, body) = post(&t1, paths::LOOK_UP, r#"{"address":"t2.lan"}"#);
    assert_eq!(status, 400, "{body}");

    for agent in [t1, t2] {
        agent.shutdown().await;
    }
}

/// A plain TCP listener on loopback that answers every connection with
/// garbage, as much as the client takes, until it hangs up.
fn garbage_listener() -> std::net::SocketAddr {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let garbage = b"SSH-2.0-OpenSSH_9.2 not TLS at all\r\n".repeat(1024);
            while stream.write_all(&garbage).is_ok() {}
        }
    });
    address
}

#[tokio::test(flavor = "multi_thread")]
async fn an_address_that_is_not_a_muster_agent_is_refused_saying_why() {
    let dir = tempfile::tempdir().unwrap();
    let t1 = Agent::start(config(dir.path(), "t1")).await.unwrap();
    let error = |(status, body): (u16, String)| (status, json::<ErrorBody>(&body).error);

    // Endless garbage: refused on what it sent, not on a timeout (the
    // client reads one TLS record header, not the stream).
    let garbage = garbage_listener();
    let (status, message) = error(look_up(&t1, garbage));
    assert_eq!(status, 502, "{message}");
    assert!(
        message.starts_with(&format!("{garbage} does not answer as a muster agent: ")),
        "{message}"
    );

    // Nothing listening.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (status, message) = error(look_up(&t1, closed));
    assert_eq!(status, 502, "{message}");
    assert!(
        message.starts_with(&format!("nothing listens on {closed}")),
        "{message}"
    );

    // Accepts and says nothing: given up on after the lookup's bound.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let quiet = silent.local_addr().unwrap();
    let (status, message) = error(look_up(&t1, quiet));
    assert_eq!(status, 504, "{message}");
    assert!(
        message.starts_with(&format!("{quiet} did not answer within 5 s")),
        "{message}"
    );
    drop(silent);

    t1.shutdown().await;
}
