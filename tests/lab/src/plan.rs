//! The lab's naming and address plan, and other pure pieces (no I/O here).

use std::fmt;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Every lab takes a /24 out of 10.231.0.0/16; the host blackholes it while
/// the lab lives, so nothing the host sends there can leave the machine.
pub const SUBNET_OCTETS: [u8; 2] = [10, 231];
/// Host part of the client's address; servers follow from [`FIRST_SERVER_HOST`].
pub const CLIENT_HOST: u8 = 10;
pub const FIRST_SERVER_HOST: u8 = 11;
pub const MAX_SERVERS: usize = 99;
/// Keeps `<prefix>-s99` (and anything a test derives from the prefix) within
/// the kernel's 15-character interface-name limit.
pub const MAX_PREFIX_LEN: usize = 11;
/// Name of the bridge inside the switch namespace.
pub const BRIDGE: &str = "br0";
/// Name of each server's (and the client's) lab interface in its namespace.
pub const LAB_IFACE: &str = "eth0";
/// Port the agents listen on for HTTPS (muster_proto::DEFAULT_PORT).
pub const AGENT_PORT: u16 = 9443;
/// `ip netns exec NS` bind-mounts each entry of `ETC_NETNS/NS/` over the
/// same name in /etc, for the command it runs.
pub const ETC_NETNS: &str = "/etc/netns";
/// The /etc entry a Ceph lab gives each server: `ceph` and `rbd` (run by the
/// agent and by LXD's ceph driver) read /etc/ceph/ceph.conf.
pub const CEPH_ETC_ENTRY: &str = "ceph";
/// Free space (%) of a monitor's disk below which Ceph's health warns; its
/// default, 30, is more than a build machine may have.
pub const CEPH_MON_DATA_AVAIL_WARN: u8 = 5;
/// Ceph's smallest `osd_memory_target` (896 MiB), to keep a lab small.
pub const CEPH_OSD_MEMORY_TARGET: u64 = 896 << 20;

/// Checks a lab name given by the user: it becomes part of namespace names,
/// file names and the state file name.
pub fn validate_prefix(prefix: &str) -> Result<(), String> {
    let ok_chars = prefix
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let starts_with_letter = prefix
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase());
    if prefix.is_empty() || prefix.len() > MAX_PREFIX_LEN || !ok_chars || !starts_with_letter {
        return Err(format!(
            "lab name {prefix:?} must be 1 to {MAX_PREFIX_LEN} characters of a-z, 0-9 and '-', starting with a letter"
        ));
    }
    Ok(())
}

/// "mlab" and four hex digits from `random`.
pub fn generated_prefix(random: u16) -> String {
    format!("mlab{random:04x}")
}

/// FNV-1a: a stable hash so the same lab name tends to get the same subnet.
fn stable_hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Picks the third octet K of the lab subnet 10.231.K.0/24: derived from the
/// prefix, moving on past every K for which `taken` says yes.
pub fn choose_subnet(prefix: &str, taken: impl Fn(u8) -> bool) -> Option<u8> {
    let start = (stable_hash(prefix) % 254) as u8 + 1;
    (0..254u16)
        .map(|step| ((u16::from(start) - 1 + step) % 254) as u8 + 1)
        .find(|k| !taken(*k))
}

/// The /24 with third octet `k`, as `ip` writes it.
pub fn subnet_cidr(k: u8) -> String {
    let [a, b] = SUBNET_OCTETS;
    format!("{a}.{b}.{k}.0/24")
}

/// Parses `a.b.c.d` or `a.b.c.d/len` as `ip route` prints destinations.
pub fn parse_cidr4(s: &str) -> Option<(Ipv4Addr, u8)> {
    let (addr, len) = match s.split_once('/') {
        Some((a, l)) => (a, l.parse().ok()?),
        None => (s, 32),
    };
    if len > 32 {
        return None;
    }
    Some((addr.parse().ok()?, len))
}

/// Whether a host route to `dst` (as `ip route` prints it) touches the lab
/// subnet with third octet `k`. "default" does not count: the lab's blackhole
/// is more specific than it, which is the point.
pub fn route_overlaps_subnet(dst: &str, k: u8) -> bool {
    let Some((addr, len)) = parse_cidr4(dst) else {
        return false;
    };
    if len == 0 {
        return false;
    }
    let [a, b] = SUBNET_OCTETS;
    let lab = u32::from(Ipv4Addr::new(a, b, k, 0));
    let common = u32::from(len.min(24));
    let mask = u32::MAX << (32 - common);
    u32::from(addr) & mask == lab & mask
}

/// One machine of the lab: a server or the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// "s1", "s2"... or "client".
    pub name: String,
    /// The network namespace it lives in.
    pub netns: String,
    /// Its address on the lab bridge.
    pub ip: Ipv4Addr,
    /// The far end of its veth pair, in the switch namespace.
    pub switch_port: String,
}

/// Names and addresses of a lab, from its prefix, subnet and size alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub prefix: String,
    pub subnet: u8,
    pub switch_netns: String,
    pub client: Node,
    pub servers: Vec<Node>,
}

impl Layout {
    pub fn new(prefix: &str, subnet: u8, servers: usize) -> Layout {
        let [a, b] = SUBNET_OCTETS;
        let node = |name: String, host: u8, port: String| Node {
            netns: format!("{prefix}-{port}"),
            ip: Ipv4Addr::new(a, b, subnet, host),
            name,
            switch_port: port,
        };
        Layout {
            prefix: prefix.to_string(),
            subnet,
            switch_netns: format!("{prefix}-sw"),
            client: node("client".into(), CLIENT_HOST, "cl".into()),
            servers: (1..=servers)
                .map(|i| {
                    let name = format!("s{i}");
                    node(name.clone(), FIRST_SERVER_HOST + (i - 1) as u8, name)
                })
                .collect(),
        }
    }

    pub fn cidr(&self) -> String {
        subnet_cidr(self.subnet)
    }

    /// Every namespace, the switch first (it must exist before the veth
    /// peers are moved into it).
    pub fn namespaces(&self) -> Vec<String> {
        std::iter::once(self.switch_netns.clone())
            .chain(self.machines().map(|n| n.netns.clone()))
            .collect()
    }

    /// The client, then the servers.
    pub fn machines(&self) -> impl Iterator<Item = &Node> {
        std::iter::once(&self.client).chain(&self.servers)
    }
}

/// Which machine of a lab a command runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Server number, from 1.
    Server(usize),
    Client,
}

impl FromStr for Target {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if matches!(s, "client" | "cl" | "c") {
            return Ok(Target::Client);
        }
        let number = s.strip_prefix('s').unwrap_or(s);
        match number.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(Target::Server(n)),
            _ => Err(format!(
                "{s:?} is not a lab machine: give a server number (1, 2...), a server name (s1, s2...) or `client`"
            )),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Server(n) => write!(f, "s{n}"),
            Target::Client => f.write_str("client"),
        }
    }
}

/// The start time (field 22, in clock ticks since boot) of a process, from
/// the text of `/proc/PID/stat`. With the pid it names one process for good:
/// a pid reused later has another start time.
pub fn parse_stat_start_time(stat: &str) -> Option<u64> {
    // The command name (field 2) may hold spaces and parentheses: fields are
    // counted from its closing parenthesis.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// The state letter (field 3) from the text of `/proc/PID/stat`.
pub fn parse_stat_state(stat: &str) -> Option<char> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().next()?.chars().next()
}

/// The interface names in the output of `ip -o link show` ("5: lxdbr0:
/// <...>", a veth as "eth0@if12").
pub fn link_names(output: &str) -> Vec<String> {
    output
        .lines()
        .filter_map(|line| line.split(": ").nth(1))
        .map(|name| name.split('@').next().unwrap_or(name).to_owned())
        .collect()
}

/// Whether the NUL-separated text of `/proc/PID/environ` holds `entry`.
pub fn environ_has(environ: &[u8], entry: &str) -> bool {
    environ.split(|b| *b == 0).any(|e| e == entry.as_bytes())
}

/// `ETC_NETNS/NETNS/ENTRY`: what `ip netns exec NETNS` shows as /etc/ENTRY.
pub fn etc_netns_link(netns: &str, entry: &str) -> PathBuf {
    Path::new(ETC_NETNS).join(netns).join(entry)
}

/// Whether `link` is an entry of a lab namespace's /etc/netns directory
/// (`ETC_NETNS/PREFIX-X/ENTRY`): the only links a teardown may remove,
/// whatever a damaged state file says.
pub fn is_lab_etc_netns_link(prefix: &str, link: &Path) -> bool {
    use std::path::Component::Normal;
    let Ok(rest) = link.strip_prefix(ETC_NETNS) else {
        return false;
    };
    let parts: Vec<_> = rest.components().collect();
    match parts.as_slice() {
        [Normal(netns), Normal(_)] => netns
            .to_str()
            .and_then(|n| n.strip_prefix(prefix)?.strip_prefix('-'))
            .is_some_and(|rest| !rest.is_empty()),
        _ => false,
    }
}

/// The daemon a lab server runs when the lab has one: Debian 12's LXD, or
/// Incus (Debian's `incus-base`, from bookworm-backports). The two share
/// the `/1.0` API; they differ in programs and environment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Daemon {
    #[default]
    Lxd,
    Incus,
}

impl Daemon {
    /// The variable that points the daemon and its client at its directory.
    pub fn dir_env(self) -> &'static str {
        match self {
            Daemon::Lxd => "LXD_DIR",
            Daemon::Incus => "INCUS_DIR",
        }
    }

    /// The daemon's program.
    pub fn program(self) -> &'static str {
        match self {
            Daemon::Lxd => "lxd",
            // Debian keeps it off PATH.
            Daemon::Incus => "/usr/libexec/incus/incusd",
        }
    }

    /// The command-line client.
    pub fn client(self) -> &'static str {
        match self {
            Daemon::Lxd => "lxc",
            Daemon::Incus => "incus",
        }
    }

    /// What waits for the daemon to answer (add `--timeout SECS`).
    pub fn waitready(self) -> &'static [&'static str] {
        match self {
            Daemon::Lxd => &["lxd", "waitready"],
            Daemon::Incus => &["incus", "admin", "waitready"],
        }
    }

    /// What asks the daemon to stop its instances and exit (add
    /// `--timeout SECS`).
    pub fn shutdown(self) -> &'static [&'static str] {
        match self {
            Daemon::Lxd => &["lxd", "shutdown"],
            Daemon::Incus => &["incus", "admin", "shutdown"],
        }
    }
}

/// `musterd.toml` of one lab server (see crates/agent for the format).
#[derive(Debug, Serialize)]
struct AgentConfig<'a> {
    name: &'a str,
    state_dir: &'a Path,
    socket: &'a Path,
    listen: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    enrollment_passphrase_file: Option<&'a Path>,
    discovery: Discovery,
    disks: Disks<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lxd: Option<Lxd<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ceph: Option<Ceph<'a>>,
}

#[derive(Debug, Serialize)]
struct Ceph<'a> {
    root: &'a Path,
    /// The lab has no systemd: the agent starts the Ceph daemons itself.
    daemons: &'static str,
    mon_data_avail_warn: u8,
    osd_memory_target: u64,
}

#[derive(Debug, Serialize)]
struct Lxd<'a> {
    socket: &'a Path,
}

#[derive(Debug, Serialize)]
struct Discovery {
    enabled: bool,
    interfaces: Vec<&'static str>,
}

#[derive(Debug, Serialize)]
struct Disks<'a> {
    allow_loop: bool,
    only: &'a [PathBuf],
    min_size_bytes: u64,
}

/// Smallest disk the agent's default configuration reports.
const AGENT_DEFAULT_MIN_DISK: u64 = 1 << 30;

/// What a lab server's agent is given beyond its name, paths and disks.
#[derive(Debug, Clone, Copy, Default)]
pub struct AgentExtras<'a> {
    /// Its LXD's socket, when the lab runs LXD.
    pub lxd_socket: Option<&'a Path>,
    /// Its Ceph directory, when the lab has Ceph.
    pub ceph_root: Option<&'a Path>,
    /// Its zero-touch enrollment passphrase file.
    pub enrollment: Option<&'a Path>,
}

pub fn agent_config_toml(
    name: &str,
    state_dir: &Path,
    socket: &Path,
    disks: &[PathBuf],
    disk_size_bytes: u64,
    extras: AgentExtras<'_>,
) -> String {
    let config = AgentConfig {
        name,
        state_dir,
        socket,
        listen: format!("[::]:{AGENT_PORT}"),
        enrollment_passphrase_file: extras.enrollment,
        discovery: Discovery {
            enabled: true,
            interfaces: vec![LAB_IFACE],
        },
        disks: Disks {
            allow_loop: true,
            only: disks,
            min_size_bytes: disk_size_bytes.min(AGENT_DEFAULT_MIN_DISK),
        },
        lxd: extras.lxd_socket.map(|socket| Lxd { socket }),
        ceph: extras.ceph_root.map(|root| Ceph {
            root,
            daemons: "agent",
            mon_data_avail_warn: CEPH_MON_DATA_AVAIL_WARN,
            osd_memory_target: CEPH_OSD_MEMORY_TARGET,
        }),
    };
    toml::to_string(&config).expect("the agent config is plain strings and numbers")
}

/// Parses sizes such as `4G`, `512M`, `4GiB`, `1073741824` (powers of 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a size (try 4G, 512M or a number of bytes)"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" | "kb" => 10,
        "m" | "mib" | "mb" => 20,
        "g" | "gib" | "gb" => 30,
        "t" | "tib" | "tb" => 40,
        _ => return Err(format!("{s:?}: unknown unit (use K, M, G or T)")),
    };
    number
        .checked_mul(1u64 << shift)
        .ok_or_else(|| format!("{s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_names_from_ip_o_link() {
        let out = "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN\n\
                   2: eth0@if12: <BROADCAST,MULTICAST,UP> mtu 1500 qdisc noqueue\n\
                   5: lxdbr0: <NO-CARRIER,BROADCAST> mtu 1500\n";
        assert_eq!(link_names(out), ["lo", "eth0", "lxdbr0"]);
        assert!(link_names("").is_empty());
    }

    #[test]
    fn environ_entries_match_whole() {
        let env = b"PATH=/bin\0LXD_DIR=/var/lib/muster-lab/x/s3/lxd\0";
        assert!(environ_has(env, "LXD_DIR=/var/lib/muster-lab/x/s3/lxd"));
        assert!(!environ_has(env, "LXD_DIR=/var/lib/muster-lab/x/s3"));
        assert!(!environ_has(b"", "PATH=/bin"));
    }

    #[test]
    fn prefixes_are_checked() {
        assert!(validate_prefix("mlab1a2b").is_ok());
        assert!(validate_prefix("demo-1").is_ok());
        assert!(validate_prefix("abcdefghijk").is_ok());
        for bad in [
            "",
            "abcdefghijkl",
            "1lab",
            "Lab",
            "la b",
            "la/b",
            "-lab",
            "lab.x",
        ] {
            assert!(validate_prefix(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(generated_prefix(0x1a2b), "mlab1a2b");
        assert_eq!(generated_prefix(7), "mlab0007");
        assert!(validate_prefix(&generated_prefix(u16::MAX)).is_ok());
    }

    #[test]
    fn names_fit_interface_limits() {
        let layout = Layout::new("abcdefghijk", 9, MAX_SERVERS);
        for name in layout.namespaces() {
            assert!(name.len() <= 15, "{name}");
        }
        for node in layout.machines() {
            assert!(node.switch_port.len() <= 15);
        }
    }

    #[test]
    fn address_plan() {
        let layout = Layout::new("mlab0001", 42, 3);
        assert_eq!(layout.cidr(), "10.231.42.0/24");
        assert_eq!(layout.switch_netns, "mlab0001-sw");
        assert_eq!(layout.client.netns, "mlab0001-cl");
        assert_eq!(layout.client.ip, Ipv4Addr::new(10, 231, 42, 10));
        let servers: Vec<_> = layout
            .servers
            .iter()
            .map(|n| {
                (
                    n.name.as_str(),
                    n.netns.as_str(),
                    n.ip.to_string(),
                    n.switch_port.as_str(),
                )
            })
            .collect();
        assert_eq!(
            servers,
            [
                ("s1", "mlab0001-s1", "10.231.42.11".to_string(), "s1"),
                ("s2", "mlab0001-s2", "10.231.42.12".to_string(), "s2"),
                ("s3", "mlab0001-s3", "10.231.42.13".to_string(), "s3"),
            ]
        );
        assert_eq!(
            layout.namespaces(),
            [
                "mlab0001-sw",
                "mlab0001-cl",
                "mlab0001-s1",
                "mlab0001-s2",
                "mlab0001-s3"
            ]
        );
        let last = Layout::new("x", 1, MAX_SERVERS);
        assert_eq!(
            last.servers.last().unwrap().ip,
            Ipv4Addr::new(10, 231, 1, 109)
        );
    }

    #[test]
    fn subnet_choice_is_stable_and_skips_taken() {
        let k = choose_subnet("mlab1a2b", |_| false).unwrap();
        assert!((1..=254).contains(&k));
        assert_eq!(choose_subnet("mlab1a2b", |_| false), Some(k));
        let next = choose_subnet("mlab1a2b", |t| t == k).unwrap();
        assert_ne!(next, k);
        assert_eq!(next, if k == 254 { 1 } else { k + 1 });
        assert_eq!(choose_subnet("mlab1a2b", |_| true), None);
        assert_eq!(choose_subnet("x", |t| t != 200), Some(200));
    }

    #[test]
    fn host_routes_that_touch_a_lab_subnet() {
        assert!(route_overlaps_subnet("10.231.7.0/24", 7));
        assert!(route_overlaps_subnet("10.231.7.5", 7));
        assert!(route_overlaps_subnet("10.0.0.0/8", 7));
        assert!(route_overlaps_subnet("10.231.7.128/25", 7));
        assert!(!route_overlaps_subnet("10.231.8.0/24", 7));
        assert!(!route_overlaps_subnet("192.0.2.0/24", 7));
        assert!(!route_overlaps_subnet("default", 7));
        assert!(!route_overlaps_subnet("0.0.0.0/0", 7));
        assert!(!route_overlaps_subnet("fe80::/64", 7));
        assert!(!route_overlaps_subnet("10.231.7.0/33", 7));
    }

    #[test]
    fn targets_parse() {
        assert_eq!("1".parse(), Ok(Target::Server(1)));
        assert_eq!("s12".parse(), Ok(Target::Server(12)));
        assert_eq!("client".parse(), Ok(Target::Client));
        assert_eq!("cl".parse(), Ok(Target::Client));
        for bad in ["0", "s0", "", "s", "x1", "-1", "server"] {
            assert!(bad.parse::<Target>().is_err(), "{bad:?}");
        }
        assert_eq!(Target::Server(3).to_string(), "s3");
        assert_eq!(Target::Client.to_string(), "client");
    }

    #[test]
    fn proc_stat_fields() {
        let stat = "4242 (my (odd) cmd) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 200";
        assert_eq!(parse_stat_start_time(stat), Some(987654));
        assert_eq!(parse_stat_state(stat), Some('S'));
        assert_eq!(parse_stat_start_time("1 (x) Z 1"), None);
        assert_eq!(parse_stat_state("garbage"), None);
    }

    #[test]
    fn each_daemon_has_its_own_programs_and_directory_variable() {
        assert_eq!(Daemon::default(), Daemon::Lxd);
        assert_eq!(Daemon::Lxd.waitready(), ["lxd", "waitready"]);
        assert_eq!(Daemon::Incus.waitready(), ["incus", "admin", "waitready"]);
        assert_eq!(Daemon::Incus.shutdown(), ["incus", "admin", "shutdown"]);
        assert_eq!(Daemon::Incus.dir_env(), "INCUS_DIR");
        assert_eq!(Daemon::Incus.client(), "incus");
        // The state file records it by name.
        let d: Daemon = serde_json::from_str("\"incus\"").unwrap();
        assert_eq!(d, Daemon::Incus);
    }

    #[test]
    fn agent_config_has_the_contract_keys() {
        let text = agent_config_toml(
            "s1",
            Path::new("/var/tmp/muster-lab/p/s1/state"),
            Path::new("/var/tmp/muster-lab/p/s1/musterd.sock"),
            &[PathBuf::from("/dev/loop3"), PathBuf::from("/dev/loop4")],
            4 << 30,
            AgentExtras::default(),
        );
        assert!(!text.contains("[ceph]"), "{text}");
        assert!(!text.contains("enrollment"), "{text}");
        let v: toml::Value = toml::from_str(&text).unwrap();
        assert_eq!(v["name"].as_str(), Some("s1"));
        assert_eq!(
            v["state_dir"].as_str(),
            Some("/var/tmp/muster-lab/p/s1/state")
        );
        assert_eq!(
            v["socket"].as_str(),
            Some("/var/tmp/muster-lab/p/s1/musterd.sock")
        );
        assert_eq!(v["listen"].as_str(), Some("[::]:9443"));
        assert_eq!(v["discovery"]["enabled"].as_bool(), Some(true));
        assert_eq!(v["discovery"]["interfaces"][0].as_str(), Some("eth0"));
        assert_eq!(v["disks"]["allow_loop"].as_bool(), Some(true));
        assert_eq!(v["disks"]["only"][1].as_str(), Some("/dev/loop4"));
        assert_eq!(v["disks"]["min_size_bytes"].as_integer(), Some(1 << 30));

        let small = agent_config_toml(
            "s2",
            Path::new("/s"),
            Path::new("/k"),
            &[],
            64 << 20,
            AgentExtras {
                enrollment: Some(Path::new("/l/enrollment")),
                ..AgentExtras::default()
            },
        );
        let v: toml::Value = toml::from_str(&small).unwrap();
        assert_eq!(v["disks"]["min_size_bytes"].as_integer(), Some(64 << 20));
        assert_eq!(
            v["enrollment_passphrase_file"].as_str(),
            Some("/l/enrollment")
        );
    }

    #[test]
    fn agent_config_of_a_ceph_lab_names_its_ceph_directory() {
        let text = agent_config_toml(
            "s1",
            Path::new("/l/s1/state"),
            Path::new("/l/s1/musterd.sock"),
            &[],
            4 << 30,
            AgentExtras {
                lxd_socket: Some(Path::new("/l/s1/lxd/unix.socket")),
                ceph_root: Some(Path::new("/var/tmp/muster-lab/p/s1/ceph")),
                enrollment: None,
            },
        );
        let section = "\n[ceph]\n\
            root = \"/var/tmp/muster-lab/p/s1/ceph\"\n\
            daemons = \"agent\"\n\
            mon_data_avail_warn = 5\n\
            osd_memory_target = 939524096\n";
        assert!(text.ends_with(section), "{text}");
        let v: toml::Value = toml::from_str(&text).unwrap();
        assert_eq!(v["lxd"]["socket"].as_str(), Some("/l/s1/lxd/unix.socket"));
        assert_eq!(v["ceph"].as_table().map(|t| t.len()), Some(4));
    }

    #[test]
    fn etc_netns_links_of_a_lab() {
        let link = etc_netns_link("mlab0001-s1", CEPH_ETC_ENTRY);
        assert_eq!(link, Path::new("/etc/netns/mlab0001-s1/ceph"));
        assert!(is_lab_etc_netns_link("mlab0001", &link));
        for (prefix, other) in [
            ("mlab0001", "/etc/netns/mlab0002-s1/ceph"),
            ("mlab0001", "/etc/netns/mlab0001/ceph"),
            ("mlab0001", "/etc/netns/mlab0001-/ceph"),
            ("mlab", "/etc/netns/mlab0001-s1/ceph"),
            ("mlab0001", "/etc/netns/mlab0001-s1"),
            ("mlab0001", "/etc/netns/mlab0001-s1/ceph/x"),
            ("mlab0001", "/etc/netns/mlab0001-s1/../../passwd"),
            ("mlab0001", "/etc/netns/mlab0001-s1/.."),
            ("mlab0001", "/etc/ceph"),
            ("mlab0001", "etc/netns/mlab0001-s1/ceph"),
        ] {
            assert!(!is_lab_etc_netns_link(prefix, Path::new(other)), "{other}");
        }
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("4G"), Ok(4 << 30));
        assert_eq!(parse_size("4GiB"), Ok(4 << 30));
        assert_eq!(parse_size("512m"), Ok(512 << 20));
        assert_eq!(parse_size("1024"), Ok(1024));
        assert!(parse_size("G").is_err());
        assert!(parse_size("4X").is_err());
        assert!(parse_size("99999999999T").is_err());
    }
}
