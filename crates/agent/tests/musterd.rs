//! The `musterd` binary as systemd runs it: readiness, SIGTERM, exit codes
//! and error output. Discovery stays off: mDNS from the host would reach
//! the real LAN.

mod common;

use std::fs;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use muster_proto::{paths, AgentInfo};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use common::{config_text, get_unix, socket_path, state_dir};

const TIMEOUT: Duration = Duration::from_secs(30);

fn musterd(config: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_musterd"));
    command
        .arg("--config")
        .arg(config)
        .env_remove("NOTIFY_SOCKET")
        .env_remove("JOURNAL_STREAM")
        .stdin(Stdio::null());
    command
}

fn write_config(dir: &Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("musterd.toml");
    fs::write(&path, text).unwrap();
    path
}

/// Runs musterd expecting it to fail at startup.
fn run_to_failure(config: &Path) -> (Output, String) {
    let output = musterd(config).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("stack backtrace"), "{stderr}");
    (output, stderr)
}

/// Kills the agent if a test fails before stopping it.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Running {
    fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.0.id() as i32), signal).unwrap();
    }

    fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "musterd did not exit");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn notifies_readiness_serves_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &config_text(dir.path()));
    let notify_path = dir.path().join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify.set_read_timeout(Some(TIMEOUT)).unwrap();
    let stderr_path = dir.path().join("stderr.log");

    let mut agent = Running(
        musterd(&config)
            .env("NOTIFY_SOCKET", &notify_path)
            .stderr(fs::File::create(&stderr_path).unwrap())
            .spawn()
            .unwrap(),
    );
    let mut message = [0; 4096];
    let len = notify
        .recv(&mut message)
        .expect("no readiness notification");
    let message = String::from_utf8_lossy(&message[..len]).into_owned();
    assert!(message.lines().any(|l| l == "READY=1"), "{message}");

    let socket = socket_path(dir.path());
    let (status, body) = get_unix(&socket, "GET", paths::INFO).unwrap();
    assert_eq!(status, 200, "{body}");
    let info: AgentInfo = serde_json::from_str(&body).unwrap();
    let identity = muster_identity::Identity::load(&state_dir(dir.path())).unwrap();
    assert_eq!(info.name, "t1");
    assert_eq!(info.fingerprint, identity.fingerprint());

    agent.signal(Signal::SIGTERM);
    let status = agent.wait();
    let stderr = fs::read_to_string(&stderr_path).unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(!socket.exists(), "{stderr}");
    assert!(stderr.contains("SIGTERM"), "{stderr}");
}

#[test]
fn sigint_stops_it_too() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &config_text(dir.path()));
    let mut agent = Running(musterd(&config).stderr(Stdio::null()).spawn().unwrap());
    let socket = socket_path(dir.path());
    let deadline = Instant::now() + TIMEOUT;
    while get_unix(&socket, "GET", paths::INFO).is_err() {
        assert!(Instant::now() < deadline, "musterd did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    agent.signal(Signal::SIGINT);
    assert_eq!(agent.wait().code(), Some(0));
    assert!(!socket.exists());
}

#[test]
fn an_unknown_key_fails_with_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let text = config_text(dir.path()) + "colour = \"blue\"\n";
    let line = text.lines().count();
    let config = write_config(dir.path(), &text);

    let (_, stderr) = run_to_failure(&config);
    let expected = format!(
        "error: {}:{line}: unknown key `colour` in [disks] (expected one of",
        config.display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
}

#[test]
fn a_missing_explicit_config_fails() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("absent.toml");
    let (_, stderr) = run_to_failure(&config);
    assert!(
        stderr.contains(&format!("error: configuration file {}", config.display())),
        "{stderr}"
    );
}

#[test]
fn a_corrupt_identity_fails_naming_the_file_and_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &config_text(dir.path()));
    let identity = muster_identity::load_or_create(&state_dir(dir.path()), "t1").unwrap();
    let cert = identity.cert_path();
    fs::write(
        &cert,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let before = fs::read(&cert).unwrap();

    let (_, stderr) = run_to_failure(&config);
    assert!(
        stderr.starts_with(&format!("error: {} is not a valid", cert.display()))
            || stderr.contains(&format!("\nerror: {} is not a valid", cert.display())),
        "{stderr}"
    );
    assert_eq!(fs::read(&cert).unwrap(), before);
    assert!(!socket_path(dir.path()).exists());
}

/// A config whose enrollment passphrase file `dir/enrollment` holds
/// `passphrase` with `mode`; the config's path and the file's.
fn enrolling_config(
    dir: &Path,
    passphrase: &str,
    mode: u32,
) -> (std::path::PathBuf, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let secret = dir.join("enrollment");
    fs::write(&secret, format!("{passphrase}\n")).unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(mode)).unwrap();
    let text = format!(
        "enrollment_passphrase_file = \"{}\"\n{}",
        secret.display(),
        config_text(dir)
    );
    (write_config(dir, &text), secret)
}

#[test]
fn an_enrollment_passphrase_file_others_can_read_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (config, secret) = enrolling_config(dir.path(), "correct horse battery staple anew", 0o644);

    let (_, stderr) = run_to_failure(&config);
    assert!(
        stderr.contains(&format!(
            "error: the enrollment passphrase file {}",
            secret.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("must be owned by root and readable by root only"),
        "{stderr}"
    );
    assert!(!socket_path(dir.path()).exists());
}

#[test]
fn a_weak_enrollment_passphrase_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let (config, secret) = enrolling_config(dir.path(), "able able able able able", 0o600);
    let (_, stderr) = run_to_failure(&config);
    if stderr.contains("not root") {
        return; // Only root passes the owner check that comes first.
    }
    assert!(
        stderr.contains(&format!(
            "error: the enrollment passphrase file {} holds a passphrase that cannot protect \
             enrollment",
            secret.display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("comes more than once"), "{stderr}");
    assert!(!socket_path(dir.path()).exists());
}

#[test]
fn an_initiator_fingerprint_without_an_enrollment_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "enrollment_initiator_fingerprint = \"{}\"\n{}",
        "ab".repeat(32),
        config_text(dir.path())
    );
    let (_, stderr) = run_to_failure(&write_config(dir.path(), &text));
    assert!(
        stderr.contains(
            "error: enrollment_initiator_fingerprint is set but enrollment_passphrase_file is not"
        ),
        "{stderr}"
    );
}

/// Deleting the file is how enrollment is ended: the configuration may
/// still name it.
#[test]
fn a_deleted_enrollment_file_leaves_enrollment_off() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "enrollment_passphrase_file = \"{}\"\n{}",
        dir.path().join("deleted").display(),
        config_text(dir.path())
    );
    let config = write_config(dir.path(), &text);
    let stderr_path = dir.path().join("stderr.log");
    let mut agent = Running(
        musterd(&config)
            .stderr(fs::File::create(&stderr_path).unwrap())
            .spawn()
            .unwrap(),
    );
    let socket = socket_path(dir.path());
    let deadline = Instant::now() + TIMEOUT;
    while get_unix(&socket, "GET", paths::INFO).is_err() {
        let stderr = fs::read_to_string(&stderr_path).unwrap();
        assert!(Instant::now() < deadline, "musterd did not start: {stderr}");
        std::thread::sleep(Duration::from_millis(50));
    }
    agent.signal(Signal::SIGTERM);
    assert_eq!(agent.wait().code(), Some(0));
    let stderr = fs::read_to_string(&stderr_path).unwrap();
    assert!(
        stderr.contains(
            "zero-touch enrollment is off: the enrollment passphrase file does not exist"
        ),
        "{stderr}"
    );
}
