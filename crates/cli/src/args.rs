//! The command line, as clap sees it. Kept in the library so that man pages
//! and shell completions can be generated from the same definition.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use muster_proto::DEFAULT_SOCKET_PATH;

/// Form an LXD + Ceph cluster from the servers on this LAN.
///
/// Every server runs the agent, musterd. This command talks to the local
/// agent over its unix socket, and finds the other agents over mDNS.
#[derive(Debug, Parser)]
#[command(name = "muster", version, propagate_version = true)]
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

    /// Show this server's disks and whether muster may use them.
    ///
    /// Asks the local agent (musterd) over its unix socket, which needs
    /// root. Lists each disk with its size, type, model and stable path
    /// (/dev/disk/by-id when there is one), its partitions indented below it,
    /// and either "eligible" or every reason it is not (mounted, has a
    /// filesystem, is an LVM physical volume...). A disk with something on it
    /// is only ever used after an explicit wipe.
    Disks(DisksArgs),
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
            Command::Disks(DisksArgs { json: false })
        ));
    }
}
