//! `muster init`'s wizard end to end: the real `muster init` runs on s1 in
//! a tmux pane (tmux on the host, the command inside s1's namespace), is
//! driven with send-keys and read with capture-pane, while s2 and s3 join
//! with the passphrase read off the screen. It goes through discovery,
//! trust, a disk choice (local storage and Ceph disks, which show in the
//! plan) and the plan; with LXD installed it applies the plan (without the
//! disks) and checks the formed cluster through `muster status`. The same
//! runs on a lab with Incus, where each member shows it runs Incus.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{on_path, path_str};
use muster_lab::{Daemon, Lab, LabSpec, Target};
use muster_proto::formation::ClusterStatus;

#[test]
fn the_wizard_forms_a_cluster_from_a_terminal() {
    let lxd = on_path("lxd");
    if !lxd {
        eprintln!("LXD is not installed: the wizard is driven to the plan screen only");
    }
    wizard(Daemon::Lxd, lxd);
}

/// The same on the second daemon: the wizard names it beside each member.
#[test]
fn the_wizard_forms_an_incus_cluster_from_a_terminal() {
    assert!(
        on_path(Daemon::Incus.program()),
        "this test did not run: Incus is not installed (tests/setup installs it)"
    );
    wizard(Daemon::Incus, true);
}

/// A lab of three servers with `daemon` when `installed`, the wizard
/// driven on s1.
fn wizard(daemon: Daemon, installed: bool) {
    if let Err(e) = muster_lab::require_root() {
        panic!("this test did not run: {e}");
    }
    assert!(
        on_path("tmux"),
        "this test did not run: tmux is not installed (apt-get install tmux)"
    );
    let lab = Lab::up(LabSpec {
        servers: 3,
        disks_per_server: 1,
        disk_size_bytes: 64 << 20,
        lxd: installed,
        daemon,
        ..LabSpec::default()
    })
    .expect("bring the lab up");
    let pane = Pane::start(&lab);
    let build = match daemon {
        Daemon::Lxd => "LXD 5.",
        Daemon::Incus => "Incus 6.",
    };
    drive(&lab, &pane, installed.then_some(build));
    drop(pane);
    lab.down().expect("tear the lab down");
}

/// `build`: what every member runs ("Incus 6."), `None` when the lab has
/// no daemon (the wizard then stops at the plan).
fn drive(lab: &Lab, pane: &Pane, build: Option<&str>) {
    // Peers: s2 and s3, never s1 itself.
    let screen = pane.wait_for("s2 and s3 found", |s| {
        s.contains(" s2 ") && s.contains(" s3 ") && s.matches("compatible").count() >= 2
    });
    assert!(!screen.contains("[ ] s1 "), "s1 lists itself:\n{screen}");
    pane.keys(&["a", "Enter"]);

    // Trust: the passphrase is on the screen; s2 and s3 join with it.
    let screen = pane.wait_for("the passphrase", |s| {
        passphrase(s).is_some_and(|p| p.contains('-'))
    });
    let file = lab.dir().join("tui-passphrase");
    fs::write(&file, format!("{}\n", passphrase(&screen).unwrap())).unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
    for server in [2, 3] {
        let out = lab
            .exec(
                Target::Server(server),
                ["muster", "join", "--passphrase-file", path_str(&file)],
            )
            .expect("run muster join");
        assert!(
            out.status.success(),
            "s{server}: muster join failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            pane.screen()
        );
    }
    pane.wait_for("both trusted", |s| s.contains("2 of 2 trusted"));
    pane.keys(&["Enter"]);

    // Disks: every member's loop disk; s1's is chosen for local storage.
    let disks: Vec<String> = lab
        .servers()
        .iter()
        .map(|s| s.disks[0].display().to_string())
        .collect();
    pane.wait_for("every member's disks", |s| {
        disks.iter().all(|d| s.contains(d.as_str()))
    });
    let short: Vec<String> = disks
        .iter()
        .map(|d| d.trim_start_matches("/dev/").to_owned())
        .collect();
    let s1_disk = short[0].clone();
    let ceph_chosen = |s: &str| {
        s.contains(&format!("Ceph: {}", short[1])) && s.contains(&format!("Ceph: {}", short[2]))
    };
    // s1's disk for local storage, s2's and s3's for Ceph.
    pane.keys(&["Home", "l", "Down", "space", "Down", "space"]);
    pane.wait_for("s1's disk local, s2's and s3's Ceph", |s| {
        s.contains(&format!("local storage: {s1_disk}")) && ceph_chosen(s)
    });

    // Networks, then the plan with those disks: the wizard's choices reach
    // the agent's planner.
    pane.keys(&["Enter"]);
    pane.wait_for("the networks", |s| s.contains("Cluster traffic"));
    pane.keys(&["Enter"]);
    let screen = pane.wait_for("a plan with the chosen disks", |s| {
        s.contains(" The plan: ") || s.contains("The plan could not be made")
    });
    // Its end: the OSDs, the Ceph pool and LXD's pool on it.
    let osd = |n: usize| format!("Create a Ceph OSD on {}", disks[n]);
    pane.keys(&["End"]);
    let end = pane.wait_for("the end of the plan", |s| {
        s.contains(&osd(1)) && s.contains(&osd(2))
    });
    let seen = format!("{screen}\n{end}");
    eprintln!("the plan with the chosen disks:\n{seen}");
    for wanted in [
        "Create the Ceph cluster: first monitor on s1",
        "Create Ceph pool lxd_remote (2 copies)",
        "Create storage pool remote (ceph)",
    ] {
        assert!(seen.contains(wanted), "no {wanted:?} in the plan:\n{seen}");
    }

    // Back to the disks: none chosen, every member's pool a dir pool.
    // Observed by the plan, each member shows what it runs.
    pane.keys(&["Escape", "Escape"]);
    let screen = pane.wait_for("the disks again", |s| {
        s.contains(&format!("local storage: {s1_disk}")) && ceph_chosen(s)
    });
    if let Some(build) = build {
        for label in ["s1 (this server, ", "s2 (", "s3 ("] {
            assert!(
                screen.contains(&format!("{label}{build}")),
                "no {label}{build}...) on the screen:\n{screen}"
            );
        }
    }
    pane.keys(&["Home", "l", "Down", "space", "Down", "space"]);
    pane.wait_for("every disk given back", |s| {
        !s.contains(&format!("local storage: {s1_disk}")) && !s.contains("Ceph: ")
    });
    pane.keys(&["Enter"]);
    pane.wait_for("the networks", |s| s.contains("Cluster traffic"));
    pane.keys(&["Enter"]);
    if build.is_none() {
        let screen = pane.wait_for("the plan screen", |s| {
            s.contains(" The plan: ") || s.contains("The plan could not be made")
        });
        eprintln!("the plan without LXD:\n{screen}");
        pane.keys(&["q", "y"]);
        pane.wait_for("muster init to exit", |s| {
            s.contains("muster init exited with 0")
        });
        return;
    }
    let screen = pane.wait_for("the plan", |s| {
        s.contains(" The plan: ") || s.contains("The plan could not be made")
    });
    for wanted in [
        "Bootstrap the LXD cluster with s1",
        "storage pool local (dir)",
    ] {
        assert!(
            screen.contains(wanted),
            "no {wanted:?} in the plan:\n{screen}"
        );
    }
    let planned = number_after(&screen, " The plan: ").expect("the plan's step count");

    // Apply.
    pane.keys(&["Enter"]);
    let screen = pane.wait_long("the apply", Duration::from_secs(600), |s| {
        s.contains("The cluster is formed")
            || s.contains("Failed on")
            || s.contains("The apply failed")
    });
    assert!(
        screen.contains("The cluster is formed"),
        "the apply failed:\n{screen}"
    );
    // Every step of the plan is counted, the joins too.
    let done = number_after(&screen, "Applying the plan: ");
    let of = done.and_then(|d| number_after(&screen, &format!("Applying the plan: {d} of ")));
    assert_eq!(
        (done, of),
        (Some(planned), Some(planned)),
        "not every step of the plan ended done:\n{screen}"
    );
    pane.keys(&["Enter"]);
    let screen = pane.wait_for("muster init to exit", |s| {
        s.contains("muster init exited with")
    });
    eprintln!("after the apply:\n{screen}");
    assert!(screen.contains("muster init exited with 0"), "{screen}");
    assert!(screen.contains("muster-preseed.yaml"), "{screen}");
    let saved =
        fs::read_to_string(pane.dir.join("muster-preseed.yaml")).expect("the saved preseed");
    assert!(saved.contains("name: \"s3\""), "{saved}");
    // The saved choices are a preseed, and the cluster they ask for is the
    // one formed.
    let saved = pane.dir.join("muster-preseed.yaml");
    let out = lab
        .exec(
            Target::Server(1),
            ["muster", "init", "--preseed", path_str(&saved), "--dry-run"],
        )
        .expect("run muster init --preseed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("Nothing to do"),
        "muster init --preseed {}: {stdout}\n{}",
        saved.display(),
        String::from_utf8_lossy(&out.stderr)
    );

    // The cluster, as s2's agent reads it from its LXD.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = lab
            .exec(Target::Server(2), ["muster", "status", "--json"])
            .expect("run muster status");
        assert!(out.status.success(), "{out:?}");
        let status: ClusterStatus = serde_json::from_slice(&out.stdout).unwrap();
        let names: BTreeSet<&str> = status.members.iter().map(|m| m.name.as_str()).collect();
        let online = status.members.iter().all(|m| m.status == "Online");
        if status.clustered && online && names == BTreeSet::from(["s1", "s2", "s3"]) {
            assert!(status.storage_pools.iter().any(|p| p.name == "local"));
            assert!(status.networks.iter().any(|n| n.name == "lxdbr0"));
            break;
        }
        assert!(Instant::now() < deadline, "members: {:?}", status.members);
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The number right after the first `prefix` on the screen.
fn number_after(screen: &str, prefix: &str) -> Option<usize> {
    let rest = &screen[screen.find(prefix)? + prefix.len()..];
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// The passphrase under "type this passphrase:", its letters spread out.
fn passphrase(screen: &str) -> Option<String> {
    let mut lines = screen.lines();
    lines.find(|l| l.contains("type this passphrase"))?;
    let line: String = lines
        .next()?
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '│')
        .collect();
    (!line.is_empty()).then_some(line)
}

/// `muster init` on s1 in a tmux pane of a private tmux server, killed on
/// drop.
struct Pane {
    server: String,
    /// The working directory of `muster init`.
    dir: PathBuf,
}

impl Pane {
    fn start(lab: &Lab) -> Pane {
        let dir = lab.dir().join("tui-test");
        fs::create_dir_all(&dir).expect("create the test's directory");
        let pane = Pane {
            server: format!("muster-tui-{}", lab.prefix()),
            dir,
        };
        let init = lab
            .command(Target::Server(1), ["muster", "init"])
            .expect("the command for muster init");
        // `ip netns exec NS` first; then the lab's environment, given
        // explicitly since tmux starts the command with its own.
        let mut argv: Vec<String> = vec![init.get_program().to_string_lossy().into_owned()];
        let mut args = init.get_args().map(|a| a.to_string_lossy().into_owned());
        argv.extend(args.by_ref().take(3));
        argv.push("env".into());
        for (key, value) in init.get_envs() {
            if let Some(value) = value {
                argv.push(format!(
                    "{}={}",
                    key.to_string_lossy(),
                    value.to_string_lossy()
                ));
            }
        }
        let rest: Vec<String> = args.collect();
        // The pane stays after muster init exits so that its last words and
        // exit status can be read.
        argv.extend([
            "sh".into(),
            "-c".into(),
            "\"$@\"; echo \"muster init exited with $?\"; sleep 3600".into(),
            "sh".into(),
        ]);
        argv.extend(rest);
        let mut tmux = pane.tmux();
        tmux.args([
            "new-session",
            "-d",
            "-s",
            "init",
            "-x",
            "160",
            "-y",
            "48",
            "-c",
        ])
        .arg(&pane.dir)
        .arg("--")
        .args(&argv);
        let out = tmux.output().expect("run tmux");
        assert!(out.status.success(), "tmux new-session: {out:?}");
        pane
    }

    fn tmux(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.args(["-L", &self.server]);
        cmd
    }

    fn keys(&self, keys: &[&str]) {
        for key in keys {
            let out = self
                .tmux()
                .args(["send-keys", "-t", "init", key])
                .output()
                .expect("run tmux send-keys");
            assert!(out.status.success(), "tmux send-keys {key}: {out:?}");
            // One key at a time, as a person types: each is drawn first.
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    fn screen(&self) -> String {
        let out = self
            .tmux()
            .args(["capture-pane", "-p", "-t", "init"])
            .output()
            .expect("run tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn wait_for(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        self.wait_long(what, Duration::from_secs(60), done)
    }

    fn wait_long(&self, what: &str, limit: Duration, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let screen = self.screen();
            if done(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "waited {limit:?} for {what}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Pane {
    fn drop(&mut self) {
        // Only this test's own tmux server, by its socket name.
        let _ = self.tmux().arg("kill-server").output();
        // tmux leaves the socket file behind.
        let dir = std::env::var_os("TMUX_TMPDIR").unwrap_or_else(|| "/tmp".into());
        let uid = nix::unistd::getuid();
        let _ = fs::remove_file(
            Path::new(&dir)
                .join(format!("tmux-{uid}"))
                .join(&self.server),
        );
    }
}
