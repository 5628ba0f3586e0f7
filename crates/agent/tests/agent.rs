//! The agent run in-process: its APIs, its identity and its socket file.
//! Discovery stays off: mDNS from the host would reach the real LAN.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::Path;

use muster_agent::{Agent, Config};
use muster_proto::{paths, AgentInfo, ClusterState, ErrorBody, PROTOCOL_VERSION, VERSION};

use common::{call_https, get_https, get_unix, socket_path, state_dir};

fn config(dir: &Path) -> Config {
    common::agent_config("t1", state_dir(dir), socket_path(dir))
}

/// The identity of a member calling the agent over HTTPS.
fn client_identity(dir: &Path) -> muster_identity::Identity {
    muster_identity::load_or_create(&dir.join("client"), "c1").unwrap()
}

fn json<T: serde::de::DeserializeOwned>(body: &str) -> T {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn info_is_served_on_the_socket_and_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(config(dir.path())).await.unwrap();
    let identity = muster_identity::Identity::load(&state_dir(dir.path())).unwrap();

    let (status, body) = get_unix(agent.socket_path(), "GET", paths::INFO).unwrap();
    assert_eq!(status, 200, "{body}");
    let info: AgentInfo = json(&body);
    assert_eq!(
        info,
        AgentInfo {
            name: "t1".into(),
            version: VERSION.into(),
            protocol: PROTOCOL_VERSION,
            state: ClusterState::Unclustered,
            fingerprint: identity.fingerprint(),
        }
    );

    // Anyone may ask, without a client certificate.
    let (status, body) = call_https(
        agent.https_addr(),
        None,
        &info.fingerprint,
        "GET",
        paths::INFO,
        None,
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(json::<AgentInfo>(&body), info);

    let wrong_pin = "00".repeat(32);
    let refused = call_https(
        agent.https_addr(),
        None,
        &wrong_pin,
        "GET",
        paths::INFO,
        None,
    );
    assert!(refused.is_err());

    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn disks_are_served_on_the_socket_and_to_members_only() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(config(dir.path())).await.unwrap();

    let (status, body) = get_unix(agent.socket_path(), "GET", paths::DISKS).unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(json::<Vec<muster_disks::Disk>>(&body), vec![]);

    // No client certificate: unauthenticated, whatever the path.
    for path in [
        paths::DISKS,
        paths::INTERFACES,
        paths::SESSION,
        "/v1/nothing",
    ] {
        let (status, body) = call_https(
            agent.https_addr(),
            None,
            agent.fingerprint(),
            "GET",
            path,
            None,
        )
        .unwrap();
        assert_eq!(status, 401, "{path}: {body}");
        json::<ErrorBody>(&body);
    }
    // A certificate this agent never pinned: the handshake refuses it.
    let client = client_identity(dir.path());
    let refused = get_https(
        agent.https_addr(),
        &client,
        agent.fingerprint(),
        paths::DISKS,
    );
    assert!(refused.is_err(), "{refused:?}");

    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_are_json_error_bodies() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(config(dir.path())).await.unwrap();

    let (status, body) = get_unix(agent.socket_path(), "GET", "/v1/nothing").unwrap();
    assert_eq!(status, 404);
    assert_eq!(
        json::<ErrorBody>(&body).error,
        "no such endpoint: GET /v1/nothing"
    );

    let (status, body) = get_unix(agent.socket_path(), "POST", paths::INFO).unwrap();
    assert_eq!(status, 405);
    json::<ErrorBody>(&body);

    let (status, body) = common::call_unix(
        agent.socket_path(),
        "POST",
        paths::SESSION,
        Some(r#"{"timeout_secs":"soon"}"#),
    )
    .unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(
        json::<ErrorBody>(&body)
            .error
            .starts_with("invalid request: "),
        "{body}"
    );

    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_keeps_the_identity_and_shutdown_removes_the_socket() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(config(dir.path())).await.unwrap();
    let first = agent.fingerprint().to_owned();
    let socket = agent.socket_path().to_owned();
    assert_eq!(
        std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777,
        0o660
    );
    agent.shutdown().await;
    assert!(!socket.exists());

    let agent = Agent::start(config(dir.path())).await.unwrap();
    assert_eq!(agent.fingerprint(), first);
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stale_socket_file_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    // Dropping a listener leaves its file behind, as a crashed agent would.
    drop(UnixListener::bind(socket_path(dir.path())).unwrap());

    let agent = Agent::start(config(dir.path())).await.unwrap();
    let (status, _) = get_unix(agent.socket_path(), "GET", paths::INFO).unwrap();
    assert_eq!(status, 200);
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_live_socket_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let _other = UnixListener::bind(socket_path(dir.path())).unwrap();

    let err = Agent::start(config(dir.path())).await.err().unwrap();
    assert!(err.to_string().contains("already listening"), "{err:#}");
    assert!(socket_path(dir.path()).exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_in_the_socket_place_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(socket_path(dir.path()), "precious").unwrap();

    let err = Agent::start(config(dir.path())).await.err().unwrap();
    assert!(err.to_string().contains("is not a socket"), "{err:#}");
    assert_eq!(
        std::fs::read_to_string(socket_path(dir.path())).unwrap(),
        "precious"
    );
}
