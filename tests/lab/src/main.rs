//! `muster-lab`: build, inspect, use and tear down labs by hand.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Parser, Subcommand};
use muster_lab::{plan, Lab, LabRecord, LabSpec, Owner, Target, DEFAULT_DISK_SIZE};

/// A LAN of virtual servers on this machine, for trying muster out.
///
/// A lab is a set of network namespaces joined by a bridge: servers s1..sN,
/// each with its own loop disks and (unless --no-agents) its own musterd,
/// and a client machine to run the `muster` CLI from. It needs root. The
/// host gets a blackhole route for the lab subnet, so nothing sent from the
/// host to a lab address can leave the machine: reach the lab with
/// `muster-lab exec`.
#[derive(Debug, Parser)]
#[command(
    name = "muster-lab",
    version,
    after_help = "Examples:\n  muster-lab up --servers 3 --disks 2\n  muster-lab up --lxd --ceph --disks 2 --enroll /root/passphrase\n  muster-lab image --out /tmp\n  muster-lab exec 1 -- muster disks\n  muster-lab exec client -- muster peers --timeout 5\n  muster-lab status\n  muster-lab down --all"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Build a lab, print its layout and leave it running (or, with
    /// --foreground, tear it down on Ctrl-C).
    Up {
        /// Number of servers.
        #[arg(long, default_value_t = 3)]
        servers: usize,
        /// Loop disks per server.
        #[arg(long, default_value_t = 1)]
        disks: usize,
        /// Size of each disk: sparse, so it costs only what is written (K, M, G, T).
        #[arg(long, value_name = "SIZE", value_parser = plan::parse_size, default_value = "4G")]
        disk_size: u64,
        /// Lab name (prefix of everything it creates); default mlab + 4 random hex digits.
        #[arg(long, value_name = "P")]
        name: Option<String>,
        /// Do not start musterd on the servers.
        #[arg(long)]
        no_agents: bool,
        /// Also run one LXD daemon per server (its own LXD_DIR, inside its namespace).
        #[arg(long)]
        lxd: bool,
        /// Run Incus (Debian's incus-base, from bookworm-backports) instead
        /// of LXD: implies --lxd.
        #[arg(long)]
        incus: bool,
        /// Prepare the servers for Ceph: each gets a directory DIR/sN/ceph,
        /// named in the [ceph] table of its musterd.toml (the agent starts
        /// the Ceph daemons itself; small-lab limits), and seen as /etc/ceph
        /// by everything run in its namespace (musterd, LXD, `muster-lab
        /// exec`). Needs /etc/ceph on the host: install ceph-common.
        #[arg(long)]
        ceph: bool,
        /// Give every server but s1 this passphrase file (root's, mode 0600)
        /// as its zero-touch enrollment passphrase: a `muster init` on s1
        /// whose session uses the same passphrase needs no `muster join`.
        #[arg(long, value_name = "FILE")]
        enroll: Option<PathBuf>,
        /// Stay in the foreground and tear the lab down on Ctrl-C or SIGTERM.
        #[arg(long)]
        foreground: bool,
        /// Seconds an agent may take to accept connections on its socket.
        #[arg(long, value_name = "SECS", default_value_t = 30)]
        agent_timeout: u64,
    },
    /// Tear a lab down: its processes, namespaces, loop devices, files and route.
    Down {
        /// The lab to tear down (default: the only one).
        #[arg(long, value_name = "P", conflicts_with = "all")]
        name: Option<String>,
        /// Tear down every recorded lab.
        #[arg(long)]
        all: bool,
        /// Also labs whose owning process (a test, `up --foreground`) still runs.
        #[arg(long)]
        force: bool,
    },
    /// List the recorded labs and their layout.
    Status,
    /// Make the lab's container image (busybox, from Debian's
    /// busybox-static; no network needed) and print its path, for
    /// `lxc image import PATH --alias muster-busybox`.
    Image {
        /// The directory to write busybox.tar.gz into.
        #[arg(long, value_name = "DIR", default_value = ".")]
        out: PathBuf,
    },
    /// Run a command on a lab machine: `muster-lab exec 1 -- muster disks`.
    ///
    /// The workspace's programs (muster, musterd) come first in PATH, and on
    /// a server MUSTER_SOCKET points at that server's agent and LXD_DIR at
    /// its LXD (so `lxc` works there).
    Exec {
        /// The lab (default: the newest).
        #[arg(long, value_name = "P")]
        name: Option<String>,
        /// A server number (1, 2...), a server name (s1, s2...) or `client`.
        target: Target,
        /// The command and its arguments, after `--`.
        #[arg(last = true, required = true, value_name = "CMD")]
        command: Vec<OsString>,
    },
}

fn main() -> ExitCode {
    // Like other command-line tools, end quietly when the reader of our
    // output goes away (`muster-lab status | head`) instead of panicking.
    // SAFETY: no other thread exists yet, and SIG_DFL installs no handler code.
    unsafe {
        let _ = nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGPIPE,
            nix::sys::signal::SigHandler::SigDfl,
        );
    }
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Cmd::Up {
            servers,
            disks,
            disk_size,
            name,
            no_agents,
            lxd,
            incus,
            ceph,
            enroll,
            foreground,
            agent_timeout,
        } => {
            let spec = LabSpec {
                servers,
                disks_per_server: disks,
                disk_size_bytes: disk_size,
                name,
                agents: !no_agents,
                agent_ready_timeout: Duration::from_secs(agent_timeout),
                agent_bin: None,
                lxd: lxd || incus,
                daemon: if incus {
                    plan::Daemon::Incus
                } else {
                    plan::Daemon::Lxd
                },
                ceph,
                enrollment: enroll.map(absolute).transpose()?,
                ..LabSpec::default()
            };
            up(spec, foreground)
        }
        Cmd::Image { out } => {
            println!("{}", muster_lab::image::busybox_image(&out)?.display());
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Down { name, all, force } => down(name, all, force),
        Cmd::Status => status(),
        Cmd::Exec {
            name,
            target,
            command,
        } => exec(name, target, command),
    }
}

/// The agents run in their own directories: a relative path would not
/// name the same file there.
fn absolute(path: PathBuf) -> Result<PathBuf> {
    std::path::absolute(&path).with_context(|| format!("cannot resolve {}", path.display()))
}

fn up(spec: LabSpec, foreground: bool) -> Result<ExitCode> {
    if spec.disk_size_bytes < DEFAULT_DISK_SIZE {
        eprintln!("note: Ceph needs disks of about 4 GiB to be useful");
    }
    let lab = Lab::up(spec)?;
    let prefix = lab.prefix().to_string();
    if foreground {
        print_lab(&LabRecord::load(&prefix)?);
        println!("\ntear it down: Ctrl-C");
        // The signal thread tears the lab down and exits.
        loop {
            std::thread::park();
        }
    }
    lab.detach()?;
    let record = LabRecord::load(&prefix)?;
    print_lab(&record);
    println!();
    println!("run a command in it:  muster-lab exec --name {prefix} 1 -- ip -brief addr");
    println!("tear it down:         muster-lab down --name {prefix}");
    Ok(ExitCode::SUCCESS)
}

fn labs() -> Result<Vec<LabRecord>> {
    let (labs, bad) = LabRecord::all()?;
    for e in bad {
        eprintln!("warning: {e}");
    }
    Ok(labs)
}

fn down(name: Option<String>, all: bool, force: bool) -> Result<ExitCode> {
    let targets = match name {
        Some(name) => vec![LabRecord::load(&name)?],
        None => {
            let labs = labs()?;
            if !all && labs.len() > 1 {
                let names: Vec<&str> = labs.iter().map(LabRecord::prefix).collect();
                bail!(
                    "there are {} labs ({}): pick one with --name, or --all",
                    labs.len(),
                    names.join(", ")
                );
            }
            labs
        }
    };
    if targets.is_empty() {
        println!("no labs");
        return Ok(ExitCode::SUCCESS);
    }
    let mut failed = false;
    for record in targets {
        let prefix = record.prefix().to_string();
        match record.down(force) {
            Ok(()) => println!("lab {prefix} torn down"),
            Err(e) => {
                eprintln!("error: {e}");
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn status() -> Result<ExitCode> {
    let labs = labs()?;
    if labs.is_empty() {
        println!("no labs");
    }
    for (i, record) in labs.iter().enumerate() {
        if i > 0 {
            println!();
        }
        print_lab(record);
    }
    Ok(ExitCode::SUCCESS)
}

fn exec(name: Option<String>, target: Target, command: Vec<OsString>) -> Result<ExitCode> {
    muster_lab::require_root()?;
    let record = match name {
        Some(name) => LabRecord::load(&name)?,
        None => labs()?
            .into_iter()
            .max_by_key(|r| (r.state.created, r.prefix().to_string()))
            .ok_or_else(|| anyhow!("no labs: make one with `muster-lab up`"))?,
    };
    let mut cmd = record.command(target, &command)?;
    let err = cmd.exec();
    Err(err).with_context(|| format!("running `ip netns exec` for lab {}", record.prefix()))
}

fn print_lab(record: &LabRecord) {
    let state = &record.state;
    let owner = match record.owner() {
        Owner::Detached => "left running by `muster-lab up`".to_string(),
        Owner::Running(pid) => format!("owned by process {pid}"),
        Owner::Dead(pid) => format!(
            "its process {pid} is gone: `muster-lab down --name {}` cleans it up",
            record.prefix()
        ),
    };
    println!(
        "lab {}  subnet {}  ({owner})",
        record.prefix(),
        record.subnet()
    );
    println!("  files   {}", state.dir.display());
    println!("  state   {}", record.path.display());
    println!("  switch  {}  bridge {}", record.switch_netns, plan::BRIDGE);
    println!("  client  {}  {}", record.client.netns, record.client.ip);
    for server in &record.servers {
        let disks: Vec<String> = server
            .disks
            .iter()
            .map(|d| d.display().to_string())
            .collect();
        let agent = if !state.agents {
            "no agent".to_string()
        } else {
            match record.agent_pid(server.number) {
                Some(pid) => format!("musterd pid {pid}"),
                None => "musterd not running".to_string(),
            }
        };
        println!(
            "  {:<6}  {}  {}  disks [{}]  {agent}",
            server.name,
            server.netns,
            server.ip,
            disks.join(" ")
        );
        if state.agents {
            println!(
                "          socket {}  log {}",
                server.socket.display(),
                server.log.display()
            );
        }
        if state.ceph {
            println!(
                "          ceph   {}  (its /etc/ceph)",
                server.ceph_dir.display()
            );
        }
    }
}
