//! The command line, as clap sees it. Kept in the library so that man pages
//! and shell completions can be generated from the same definition.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use muster_proto::DEFAULT_SOCKET_PATH;

/// Form an LXD + Ceph cluster from the servers on this LAN.
///
/// Every server runs the agent, musterd. This command talks to the local
/// agent over its unix socket, and finds the other agents over mDNS.
#[derive(Debug, Parser)]
#[command(name = "muster", version = muster_proto::VERSION_LINE, propagate_version = true)]
pub struct Cli {
    /// The local agent's unix socket.
    #[arg(
        long,
        global = true,
        env = "MUSTER_SOCKET",
        hide_env_values = true,
        value_name = "PATH",
        default_value = DEFAULT_SOCKET_PATH
    )]
    pub socket: PathBuf,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the muster agents announcing themselves on the LAN, live.
    ///
    /// Browses mDNS for `_muster._tcp.local.` and prints a line each time an
    /// agent appears, changes (address, cluster state) or goes away: its
    /// name, addresses, version, cluster state, and whether this muster can
    /// work with it or why not (another protocol version, a malformed record,
    /// a name claimed by two agents...). mDNS is unauthenticated: what is
    /// listed is what the agents claim, nothing more. Runs until --timeout
    /// or Ctrl-C.
    Peers(PeersArgs),

    /// Show this server's disks, or a member's, and whether muster may use
    /// them.
    ///
    /// Asks the local agent (musterd) over its unix socket, which needs
    /// root. Lists each disk with its size, type, model and stable path
    /// (/dev/disk/by-id when there is one), its partitions indented below it,
    /// and either "eligible" or every reason it is not (mounted, has a
    /// filesystem, is an LVM physical volume...). A disk with something on it
    /// is only ever used after an explicit wipe. With --peer, the local agent
    /// asks that trusted member over mutual TLS with pinned certificates.
    Disks(DisksArgs),

    /// Show this server's network interfaces, or a member's.
    ///
    /// Name, addresses, MAC address, MTU and whether each is up. With
    /// --peer, the local agent asks that trusted member over mutual TLS with
    /// pinned certificates.
    Interfaces(InterfacesArgs),

    /// Open, show or close this server's trust session (the initiator's
    /// side of forming trust).
    #[command(subcommand)]
    Session(SessionCommand),

    /// Join the trust session open on another server (the initiator).
    ///
    /// Finds the server announcing an open session over mDNS (or takes
    /// --initiator), asks for the passphrase shown there, and has the local
    /// agent run the handshake with the initiator's agent. Both agents then
    /// trust each other's certificate. This prints the initiator's name and
    /// short fingerprint, and `muster session open --watch` on the
    /// initiator prints this server's: compare each with the other screen.
    Join(JoinArgs),

    /// List the members this server trusts: name, role, certificate
    /// fingerprint and the addresses where their agent answered; or forget
    /// one (`muster members forget NAME`).
    ///
    /// Trust has a direction: the server this one joined is its
    /// controller (it may make this server join LXD, run Ceph steps, wipe
    /// disks); servers that joined this one are members (they may only
    /// read).
    Members(MembersArgs),

    /// Form the cluster described by a preseed file, with this server as
    /// the initiator.
    ///
    /// The local agent opens a trust session with the preseed's passphrase
    /// and waits for the other members to join it (by themselves, with an
    /// enrollment passphrase, or through `muster join`), reads every
    /// member's LXD and disks over mutual TLS, checks the preseed against
    /// them and prints the plan. Then (unless --dry-run) it carries the plan
    /// out step by step, printing each step as it runs: LXD's HTTPS
    /// address, the cluster's bootstrap, each member's join (one at a
    /// time), the `local` storage pool, the instance network and the
    /// default profile. Before each step it looks at the real state again,
    /// so running the same command after a failure finishes the job.
    Init(InitArgs),

    /// Add servers to the cluster this server formed.
    ///
    /// FILE lists only the new members, as `members:` of a preseed file
    /// (their disks for the `local` pool and Ceph, their network), and
    /// optionally the `session` that pairs them; the cluster-wide settings
    /// are those it was formed with. The agent adds them to the preseed it
    /// kept from `muster init` and carries out the plan as `init` does:
    /// trust, each new member's Ceph client config, its LXD join with the
    /// pools' member config, its OSDs on the chosen disks, and monitors up
    /// to three (five from five members on). Run it on the server that
    /// formed the cluster; a server `muster remove` took out can be added
    /// again under its name (a replacement for a dead one).
    Add(AddArgs),

    /// Show the cluster as this server's LXD sees it: members (online or
    /// not), storage pools and networks.
    Status(JsonArgs),

    /// Take a member out of the cluster: LXD, Ceph and every trust store.
    ///
    /// Run it on the server that formed the cluster (the members' controller).
    /// The local agent reads what LXD, Ceph and the trust stores know of the
    /// member and prints the plan, or every reason it cannot be done safely
    /// (the member's monitor is needed for quorum, the other OSDs cannot hold
    /// the data's copies, it has instances that cannot move, it does not
    /// answer). After you confirm (type its name, or pass --yes) it carries
    /// the plan out, step by step: the member's instances are evacuated to
    /// other members, its OSDs taken out and Ceph's copying of their data
    /// waited for (with progress), it leaves the LXD cluster (its LXD
    /// becomes standalone), its Ceph daemons are stopped and their data,
    /// labels and config removed, its OSDs purged, its monitor and manager
    /// removed, and it and the other members forget each other. Running the
    /// same command again after a failure finishes the job. To replace a
    /// dead server, remove it with --force, then `muster add` the new one
    /// under its name.
    Remove(RemoveArgs),

    /// Put a member in maintenance, or take it out: `muster maintenance
    /// NAME on|off`.
    ///
    /// On: Ceph is told to keep the member's OSDs in while they are down
    /// (`noout` on its CRUSH host, so that it does not start copying their
    /// data elsewhere), then LXD evacuates it: its instances move to other
    /// members (LXD 5.0 copies those on local storage) or stop, as each
    /// one's `cluster.evacuate` says. Off: LXD
    /// restores it (instances come back and start), then `noout` is
    /// cleared. `muster status` shows a member in maintenance as Evacuated
    /// and its Ceph host with noout. Runs on any member holding the Ceph
    /// admin key (every member muster configured); the plan is printed
    /// first.
    Maintenance(MaintenanceArgs),
}

#[derive(Debug, Args)]
pub struct MaintenanceArgs {
    /// The member's name, as `muster status` lists it.
    pub name: String,

    /// `on` or `off`.
    pub state: Switch,

    /// Print the plan and stop: nothing is changed.
    #[arg(long)]
    pub dry_run: bool,

    /// Print the agent's progress events as JSON lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    On,
    Off,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// The member's name, as `muster status` lists it.
    pub name: String,

    /// The member is dead: do from the cluster's side what cannot be done
    /// on it (LXD removes it by force, its OSDs are purged without it), and
    /// delete its instances that cannot move to another member.
    #[arg(long)]
    pub force: bool,

    /// Carry out the plan without asking (the plan is still printed).
    #[arg(long, short = 'y')]
    pub yes: bool,

    /// Print the plan and stop: nothing is changed.
    #[arg(long)]
    pub dry_run: bool,

    /// Print the agent's progress events as JSON lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The preseed file (YAML; see the example shipped with muster).
    /// Left out: a wizard on the terminal asks for the choices instead.
    // Empty when left out, rather than an Option, so that `formation`
    // keeps its path as it is (clap's own path parser refuses "").
    #[arg(
        long,
        value_name = "FILE",
        value_parser = clap::builder::TypedValueParser::map(clap::builder::OsStringValueParser::new(), PathBuf::from),
        default_value = "",
        hide_default_value = true
    )]
    pub preseed: PathBuf,

    /// Print the plan and stop: nothing is changed.
    #[arg(long)]
    pub dry_run: bool,

    /// Print the agent's progress events as JSON lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The new members (YAML: `members:` and optionally `session:`).
    #[arg(long, value_name = "FILE")]
    pub preseed: PathBuf,

    /// Print the plan and stop: nothing is changed.
    #[arg(long)]
    pub dry_run: bool,

    /// Print the agent's progress events as JSON lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// Open a trust session and show its passphrase.
    ///
    /// Servers that type the passphrase (`muster join`), or hold it as their
    /// enrollment passphrase, become trusted members. The passphrase is
    /// generated (5 words, about 52 bits) unless --passphrase-file gives
    /// one. Wrong passphrases are delayed and counted; the session ends
    /// after --max-failures of them, or after --timeout. One session at a
    /// time.
    Open(SessionOpenArgs),

    /// Show the session: open or not, for how long, who joined (with
    /// fingerprints) and the failed attempts.
    Status(JsonArgs),

    /// Close the open session: no one else can join with its passphrase.
    Close,
}

#[derive(Debug, Args)]
pub struct SessionOpenArgs {
    /// Use the passphrase in this file (its first line) instead of a
    /// generated one: 5 different words from muster's list, or at least 20
    /// characters hard to guess (refused when estimated under 48 bits).
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,

    /// Let a joiner with a new certificate take over this trusted name (a
    /// reinstalled server); without it such a joiner is refused. Repeat for
    /// several names.
    #[arg(long, value_name = "NAME")]
    pub replace: Vec<String>,

    /// How long the session accepts joiners, e.g. 10m, 90s, 1h.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
    pub timeout: Duration,

    /// End the session after this many wrong passphrases, from all
    /// joiners together [default: 20].
    #[arg(long, value_name = "N")]
    pub max_failures: Option<u32>,

    /// Print the session as JSON (passphrase included).
    #[arg(long)]
    pub json: bool,

    /// Stay and print each server that joins, and each wrong passphrase,
    /// until the session ends (or Ctrl-C, which leaves it open).
    #[arg(long)]
    pub watch: bool,
}

#[derive(Debug, Args)]
pub struct JoinArgs {
    /// The initiator's address, ADDRESS or ADDRESS:PORT (default port
    /// 9443); repeat for several addresses of the same server. Without it,
    /// the server announcing an open session over mDNS is used.
    #[arg(long = "initiator", value_name = "ADDRESS[:PORT]")]
    pub initiators: Vec<String>,

    /// Read the passphrase from this file (its first line) instead of
    /// asking for it.
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,

    /// How long to look for an initiator over mDNS.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub discover_timeout: Duration,

    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct JsonArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct MembersArgs {
    #[command(subcommand)]
    pub command: Option<MembersCommand>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum MembersCommand {
    /// Stop trusting a member: its certificate is unpinned at once, and
    /// its calls are refused from then on. Use it for a server that was
    /// removed or reinstalled (a reinstalled one joins again afterwards).
    Forget {
        /// The member's name, as `muster members` lists it.
        name: String,
    },
}

#[derive(Debug, Args)]
pub struct InterfacesArgs {
    /// Print the agent's answer as a JSON array instead of a table.
    #[arg(long)]
    pub json: bool,

    /// Show the interfaces of this trusted member instead.
    #[arg(long, value_name = "NAME")]
    pub peer: Option<String>,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|e| format!("{e}: give a duration such as 90s, 10m or 1h"))
}

#[derive(Debug, Args)]
pub struct PeersArgs {
    /// Print one JSON object per line, with an "event" field of "found",
    /// "updated" or "gone".
    #[arg(long)]
    pub json: bool,

    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,

    /// Browse on this network interface only; repeat for several
    /// (default: all interfaces).
    #[arg(long = "interface", value_name = "IF")]
    pub interfaces: Vec<String>,
}

#[derive(Debug, Args)]
pub struct DisksArgs {
    /// Print the agent's answer as a JSON array instead of a table.
    #[arg(long)]
    pub json: bool,

    /// Show the disks of this trusted member instead.
    #[arg(long, value_name = "NAME")]
    pub peer: Option<String>,
}

/// The clap command, for generating man pages and completions.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_definition_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn peers_takes_repeated_interfaces_and_a_timeout() {
        let cli = Cli::try_parse_from([
            "muster",
            "peers",
            "--json",
            "--timeout",
            "5",
            "--interface",
            "eth0",
            "--interface",
            "eth1",
        ])
        .unwrap();
        let Command::Peers(args) = cli.command else {
            panic!("not peers");
        };
        assert!(args.json);
        assert_eq!(args.timeout, Some(5));
        assert_eq!(args.interfaces, ["eth0", "eth1"]);
    }

    #[test]
    fn socket_is_global() {
        let cli = Cli::try_parse_from(["muster", "disks", "--socket", "/tmp/s.sock"]).unwrap();
        assert_eq!(cli.socket, PathBuf::from("/tmp/s.sock"));
        assert!(matches!(
            cli.command,
            Command::Disks(DisksArgs {
                json: false,
                peer: None
            })
        ));
    }

    #[test]
    fn session_open_takes_a_duration() {
        let cli = Cli::try_parse_from(["muster", "session", "open", "--timeout", "90s"]).unwrap();
        let Command::Session(SessionCommand::Open(args)) = cli.command else {
            panic!("not session open");
        };
        assert_eq!(args.timeout, Duration::from_secs(90));
        let cli = Cli::try_parse_from(["muster", "session", "open"]).unwrap();
        let Command::Session(SessionCommand::Open(args)) = cli.command else {
            panic!("not session open");
        };
        assert_eq!(args.timeout, Duration::from_secs(600));
        let err = Cli::try_parse_from(["muster", "session", "open", "--timeout", "soon"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("such as 90s"), "{err}");
    }

    #[test]
    fn join_takes_several_initiator_addresses() {
        let cli = Cli::try_parse_from([
            "muster",
            "join",
            "--initiator",
            "10.0.0.1",
            "--initiator",
            "[fd00::1]:9443",
            "--passphrase-file",
            "/root/p",
        ])
        .unwrap();
        let Command::Join(args) = cli.command else {
            panic!("not join");
        };
        assert_eq!(args.initiators, ["10.0.0.1", "[fd00::1]:9443"]);
        assert_eq!(args.passphrase_file, Some(PathBuf::from("/root/p")));
        assert_eq!(args.discover_timeout, Duration::from_secs(10));
    }
}
