//! The agent run in-process: its APIs, its identity and its socket file.
//! Discovery stays off: mDNS from the host would reach the real LAN.

mod common;

use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::Path;

use muster_agent::{Agent, Config, DiscoveryConfig, DisksConfig, ServerName};
use muster_proto::{paths, AgentInfo, ClusterState, ErrorBody, PROTOCOL_VERSION, VERSION};

use common::{get_https, get_unix, socket_path, state_dir};

fn config(dir: &Path) -> Config {
    Config {
        name: Some(ServerName::try_from("t1".to_owned()).unwrap()),
        state_dir: state_dir(dir),
        socket: socket_path(dir),
        listen: (Ipv4Addr::LOCALHOST, 0).into(),
        discovery: DiscoveryConfig {
            enabled: false,
            interfaces: vec![],
        },
        disks: DisksConfig {
            only: vec!["/dev/muster-test-absent".into()],
            ..DisksConfig::default()
        },
    }
}

/// The identity of a member calling the agent over HTTPS.
fn client_identity(dir: &Path) -> muster_identity::Identity {
    muster_identity::load_or_create(&dir.join("client"), "c1").unwrap()
}

fn json<T: serde::de::DeserializeOwned>(body: &str) -> T {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn info_is_served_on_the_socket_and_over_pinned_https() {
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

    let client = client_identity(dir.path());
    let (status, body) =
        get_https(agent.https_addr(), &client, &info.fingerprint, paths::INFO).unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(json::<AgentInfo>(&body), info);

    let wrong_pin = "00".repeat(32);
    assert!(get_https(agent.https_addr(), &client, &wrong_pin, paths::INFO).is_err());

    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn disks_are_served_on_the_socket_only() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(config(dir.path())).await.unwrap();

    let (status, body) = get_unix(agent.socket_path(), "GET", paths::DISKS).unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(json::<Vec<muster_disks::Disk>>(&body), vec![]);

    let client = client_identity(dir.path());
    let (status, body) = get_https(
        agent.https_addr(),
        &client,
        agent.fingerprint(),
        paths::DISKS,
    )
    .unwrap();
    assert_eq!(status, 404, "{body}");
    json::<ErrorBody>(&body);

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
