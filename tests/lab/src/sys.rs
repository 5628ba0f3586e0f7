//! Thin wrappers over the system: `ip`, `losetup`, /proc and signals.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::thread;
use std::time::{Duration, Instant};

use nix::sched::{setns, CloneFlags};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::error::{IoContext, LabError};
use crate::plan;
use crate::state::ProcessId;

/// Where `ip netns add` puts its namespace handles.
const NETNS_DIR: &str = "/run/netns";

pub fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(OsStr::to_string_lossy)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs a command to completion; its stdout on success, else an error with
/// its stderr.
pub fn run(cmd: &mut Command) -> Result<String, LabError> {
    let output = cmd
        .output()
        .ctx(|| format!("running `{}`", describe(cmd)))?;
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
    Err(LabError::Command {
        command: describe(cmd),
        detail: if stderr.is_empty() {
            output.status.to_string()
        } else {
            stderr
        },
    })
}

/// Runs `program` with `args` on the host (outside any lab namespace),
/// e.g. to partition or format a lab disk from a test; its stdout.
pub fn run_host(program: &str, args: &[&str]) -> Result<String, LabError> {
    run(Command::new(program).args(args))
}

pub fn ip<I, S>(args: I) -> Result<String, LabError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run(Command::new("ip").args(args))
}

pub fn netns_path(ns: &str) -> PathBuf {
    Path::new(NETNS_DIR).join(ns)
}

pub fn netns_exists(ns: &str) -> bool {
    netns_path(ns).exists()
}

/// Moves the calling thread (only it) into a named network namespace.
pub fn enter_netns(ns: &str) -> Result<(), LabError> {
    let path = netns_path(ns);
    let file = File::open(&path).ctx(|| format!("opening network namespace {}", path.display()))?;
    setns(&file, CloneFlags::CLONE_NEWNET)
        .map_err(|e| LabError::io(format!("entering network namespace {ns}"), e.into()))
}

/// Pids of every process whose network namespace is `ns`, the way
/// `ip netns pids` finds them (without the caller itself).
pub fn netns_pids(ns: &str) -> Result<Vec<u32>, LabError> {
    let path = netns_path(ns);
    let target = fs::metadata(&path).ctx(|| format!("reading {}", path.display()))?;
    let me = std::process::id();
    let mut pids = Vec::new();
    for entry in fs::read_dir("/proc").ctx(|| "listing /proc".to_string())? {
        let Ok(entry) = entry else { continue };
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        // Processes come and go while we look: a vanished one is skipped.
        let Ok(meta) = fs::metadata(entry.path().join("ns/net")) else {
            continue;
        };
        if pid != me && meta.dev() == target.dev() && meta.ino() == target.ino() {
            pids.push(pid);
        }
    }
    Ok(pids)
}

fn stat(pid: u32) -> Option<String> {
    fs::read_to_string(format!("/proc/{pid}/stat")).ok()
}

/// Whether process `pid`'s environment holds `entry` ("NAME=value"); false
/// for a process that is gone.
pub fn environ_has(pid: u32, entry: &str) -> bool {
    fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| plan::environ_has(&env, entry))
}

pub fn start_time(pid: u32) -> Option<u64> {
    stat(pid).as_deref().and_then(plan::parse_stat_start_time)
}

/// The process still runs (a zombie has ended: it only waits to be reaped).
pub fn running(id: ProcessId) -> bool {
    let Some(stat) = stat(id.pid) else {
        return false;
    };
    plan::parse_stat_start_time(&stat) == Some(id.start_time)
        && plan::parse_stat_state(&stat) != Some('Z')
}

pub fn process_id(pid: u32) -> Option<ProcessId> {
    Some(ProcessId {
        pid,
        start_time: start_time(pid)?,
    })
}

pub fn signal(id: ProcessId, sig: Signal) -> Result<(), nix::Error> {
    if !running(id) {
        return Err(nix::Error::ESRCH);
    }
    kill(Pid::from_raw(id.pid as i32), sig)
}

/// Waits until none of `ids` runs, at most `limit`; those still running.
fn wait_gone(ids: &[ProcessId], limit: Duration) -> Vec<ProcessId> {
    let deadline = Instant::now() + limit;
    loop {
        let left: Vec<ProcessId> = ids.iter().copied().filter(|id| running(*id)).collect();
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// SIGTERM, then after `grace` SIGKILL, to every process of `ids`; the ones
/// that survived both.
pub fn terminate(ids: &[ProcessId], grace: Duration) -> Vec<ProcessId> {
    for id in ids {
        let _ = signal(*id, Signal::SIGTERM);
    }
    let left = wait_gone(ids, grace);
    for id in &left {
        let _ = signal(*id, Signal::SIGKILL);
    }
    wait_gone(&left, Duration::from_secs(3))
}

/// Reaps a child, waiting at most `limit`: its exit status if it ended.
/// (A multi-threaded program shows as a zombie while its other threads
/// still exit, before it can be reaped.)
pub fn wait_child(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
            _ => return None,
        }
    }
}

/// Whether a loop device is attached to `file` (which the kernel shows
/// with " (deleted)" appended once the file is removed).
pub fn loop_backed_by(device: &Path, file: &Path) -> bool {
    let Some(name) = device.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let Ok(text) = fs::read_to_string(format!("/sys/block/{name}/loop/backing_file")) else {
        return false;
    };
    let backing = text.trim_end_matches('\n');
    let backing = backing.strip_suffix(" (deleted)").unwrap_or(backing);
    Path::new(backing) == file
}

/// Detaches a loop device from `file` and waits until it is: while anyone
/// has the device open (another `losetup` scanning devices, a test), the
/// kernel only marks it to be detached at the last close.
pub fn detach_loop(device: &Path, file: &Path) -> Result<(), LabError> {
    run(Command::new("losetup").arg("--detach").arg(device))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while loop_backed_by(device, file) {
        if Instant::now() >= deadline {
            return Err(LabError::Command {
                command: format!("losetup --detach {}", device.display()),
                detail: "the device is still attached after 10 s: something holds it open".into(),
            });
        }
        thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Loop devices attached to `file`.
pub fn loops_of(file: &Path) -> Result<Vec<PathBuf>, LabError> {
    let out = run(Command::new("losetup")
        .args(["--noheadings", "--output", "NAME", "--associated"])
        .arg(file))?;
    Ok(out.lines().map(|l| PathBuf::from(l.trim())).collect())
}

/// Destinations of the host's IPv4 routes in every table.
pub fn host_route_destinations() -> Result<Vec<String>, LabError> {
    let out = ip(["-json", "-4", "route", "show", "table", "all"])?;
    let routes: Vec<serde_json::Value> =
        serde_json::from_str(&out).map_err(|e| LabError::Command {
            command: "ip -json -4 route show table all".into(),
            detail: format!("unreadable output: {e}"),
        })?;
    Ok(routes
        .iter()
        .filter_map(|r| r.get("dst")?.as_str().map(str::to_string))
        .collect())
}

/// Whether the host has a blackhole route for exactly `cidr`.
pub fn blackhole_exists(cidr: &str) -> Result<bool, LabError> {
    Ok(
        !ip(["-4", "route", "show", "exact", cidr, "type", "blackhole"])?
            .trim()
            .is_empty(),
    )
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The last `lines` lines of a log file, for error messages.
pub fn tail(path: &Path, lines: usize) -> String {
    match fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let all: Vec<&str> = text.lines().collect();
            let tail = all[all.len().saturating_sub(lines)..].join("\n");
            if tail.is_empty() {
                "(empty)".into()
            } else {
                tail
            }
        }
        Err(e) => format!("(cannot read it: {e})"),
    }
}

/// Random bits for lab names, without a dependency.
pub fn random_u16() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    h.finish() as u16
}
