//! Pieces the lab tests share.
#![allow(dead_code)] // Each test file uses its own part.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use muster_lab::{Lab, Signal, Target};

pub mod cli;
pub mod trial;

/// A case's name and body, run by [`run_cases`] on a fixture `T`.
pub type Case<T> = (&'static str, fn(&T));

/// `case!(f)`: the case that runs the function `f`, named after it.
#[allow(unused_macros)] // Not every user of this module runs cases.
macro_rules! case {
    ($f:ident) => {
        (stringify!($f), $f as fn(&_))
    };
}
#[allow(unused_imports)] // Not every user of this module runs cases.
pub(crate) use case;

/// Whether `program` is found on `PATH`.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
}

/// A lab of `servers` servers with an agent each and one small disk, no
/// LXD (panics, saying why, when not run as root).
pub fn agents_lab(servers: usize) -> Lab {
    if let Err(e) = muster_lab::require_root() {
        panic!("this test did not run: {e}");
    }
    Lab::up(muster_lab::LabSpec {
        servers,
        disks_per_server: 1,
        disk_size_bytes: 64 << 20,
        ..muster_lab::LabSpec::default()
    })
    .expect("bring the lab up")
}

/// A directory of the test's own, `name`, in the lab's directory.
pub fn test_dir(lab: &Lab, name: &str) -> PathBuf {
    let dir = lab.dir().join(name);
    fs::create_dir_all(&dir).expect("create the test's directory");
    dir
}

/// Runs `f` with a current-thread runtime on a thread inside `target`'s
/// network namespace, so every socket it opens is that machine's.
pub fn on<T: Send>(lab: &Lab, target: Target, f: impl AsyncFnOnce() -> T + Send) -> T {
    lab.in_netns(target, || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(f())
    })
    .expect("enter the lab machine's namespace")
}

/// A lab path as the `&str` a command line takes.
pub fn path_str(path: &Path) -> &str {
    path.to_str().expect("lab paths are UTF-8")
}

/// Runs named cases in order on one shared fixture, saying which runs and
/// how long each took (a failing case panics with its own message).
pub fn run_cases<T, F: Fn(&T)>(t: &T, cases: &[(&'static str, F)]) {
    for (name, case) in cases {
        let started = Instant::now();
        eprintln!("case {name}");
        case(t);
        eprintln!("case {name}: passed in {:.1?}", started.elapsed());
    }
}

/// A root-only file `dir/name` holding `text` and a newline.
pub fn secret(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, format!("{text}\n")).expect("write a passphrase file");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod 600");
    path
}

/// Adds `device` to `[disks] wipe_allowed` in a server's musterd.toml: the
/// server's own consent to a wipe its controller asks for (it takes effect
/// when the agent next starts).
pub fn allow_wipe(lab: &Lab, server: usize, device: &Path) {
    let config = &lab.server(server).config;
    let text = fs::read_to_string(config).expect("read musterd.toml");
    assert!(text.contains("\n[disks]\n"), "no [disks] table in {text}");
    let text = text.replacen(
        "\n[disks]\n",
        &format!(
            "\n[disks]\nwipe_allowed = [{:?}]\n",
            device.display().to_string()
        ),
        1,
    );
    fs::write(config, text).expect("write musterd.toml");
}

/// Prepends `enrollment_passphrase_file` to a server's musterd.toml (it
/// takes effect when the agent next starts).
pub fn enroll_with(lab: &Lab, server: usize, file: &Path) {
    let config = &lab.server(server).config;
    let text = fs::read_to_string(config).expect("read musterd.toml");
    let text = format!(
        "enrollment_passphrase_file = \"{}\"\n{text}",
        file.display()
    );
    fs::write(config, text).expect("write musterd.toml");
}

/// Stops server `server`'s agent (SIGTERM) and starts it again with its
/// configuration as it is now.
pub fn restart_agent(lab: &Lab, server: usize) {
    lab.stop_agent(server, Signal::SIGTERM)
        .expect("stop the agent");
    lab.start_agent(server).expect("start the agent");
}

/// A workload on every member: a busybox container (the lab's image, made
/// from Debian's busybox-static and imported once through s1) launched on
/// each of `servers` with its root on `pool`, each RUNNING on that member
/// with an IPv4 address on eth0 that starts with `subnet_prefix` (from its
/// member's instance network), and `lxc exec` into each answering with its
/// own name. The containers are deleted afterwards.
pub fn containers_run_on(lab: &Lab, servers: &[usize], pool: &str, subnet_prefix: &str) {
    let client = lab.daemon().client();
    let lxc = |args: &[&str]| {
        let out = lab
            .exec(
                muster_lab::Target::Server(1),
                std::iter::once(client).chain(args.iter().copied()),
            )
            .unwrap_or_else(|e| panic!("{client} {args:?}: {e}"));
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let ok = |args: &[&str]| {
        let (success, stdout, stderr) = lxc(args);
        assert!(success, "{client} {args:?} failed: {stdout}{stderr}");
        stdout
    };
    let alias = muster_lab::image::IMAGE_ALIAS;
    if !lxc(&["image", "info", alias]).0 {
        let image = muster_lab::image::busybox_image(lab.dir()).expect("make the busybox image");
        ok(&["image", "import", path_str(&image), "--alias", alias]);
    }
    let names: Vec<String> = servers.iter().map(|n| format!("workload-s{n}")).collect();
    for (n, name) in servers.iter().zip(&names) {
        let target = format!("s{n}");
        ok(&[
            "launch",
            "-q",
            alias,
            name,
            "--target",
            &target,
            "--storage",
            pool,
        ]);
    }
    // DHCP from each member's dnsmasq takes a few seconds.
    let deadline = Instant::now() + std::time::Duration::from_secs(90);
    loop {
        let list: serde_json::Value =
            serde_json::from_str(&ok(&["list", "--format", "json"])).expect("lxc list JSON");
        let missing: Vec<String> = servers
            .iter()
            .zip(&names)
            .filter(|(n, name)| {
                let Some(c) = list
                    .as_array()
                    .and_then(|l| l.iter().find(|c| c["name"] == **name))
                else {
                    return true;
                };
                let addresses = c["state"]["network"]["eth0"]["addresses"].as_array();
                let has_address = addresses.is_some_and(|a| {
                    a.iter().any(|a| {
                        a["family"] == "inet"
                            && a["address"]
                                .as_str()
                                .is_some_and(|ip| ip.starts_with(subnet_prefix))
                    })
                });
                !(c["status"] == "Running" && c["location"] == format!("s{n}") && has_address)
            })
            .map(|(_, name)| name.clone())
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not running on their member with an address in {subnet_prefix}*: {missing:?}\n{list:#}"
        );
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
    for name in &names {
        assert_eq!(ok(&["exec", name, "--", "hostname"]).trim(), name);
    }
    for name in &names {
        ok(&["delete", "--force", name]);
    }
}
