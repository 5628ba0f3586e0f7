//! `musterd.toml`. Every key is optional; the defaults suit a production
//! server. Unknown keys are errors, so a typo never silently means "default".
//!
//! ```toml
//! name = "s1"                          # default: the host name's first label
//! state_dir = "/var/lib/muster"        # identity (and later trust and cluster state)
//! socket = "/run/muster/musterd.sock"  # unix socket for the local CLI, mode 0660
//! listen = "[::]:9443"                 # HTTPS member API
//! enrollment_passphrase_file = "/etc/muster/enrollment"
//!                                      # zero-touch: join the first initiator whose
//!                                      # session uses this passphrase (root-owned,
//!                                      # mode 0600), then stop enrolling
//! enrollment_initiator_fingerprint = "3f1c...e2"
//!                                      # zero-touch joins only the initiator with this
//!                                      # certificate fingerprint; default: any
//!
//! [discovery]
//! enabled = true                       # advertise over mDNS
//! interfaces = []                      # advertise only on these; empty = all
//!
//! [disks]
//! allow_loop = false                   # report loop devices (the lab sets true)
//! only = []                            # report only these devices, e.g. "/dev/loop3"
//! min_size_bytes = 1073741824          # smaller disks are reported as too small
//!
//! [lxd]
//! socket = "/var/lib/lxd/unix.socket"  # default: Incus's, LXD's deb's, LXD's snap's
//!
//! [ceph]
//! root = "system"                      # where Ceph's files go: the packages' places
//!                                      # (/etc/ceph, /var/lib/ceph...), or one directory
//! daemons = "systemd"                  # who runs the daemons: the packages' units, or
//!                                      # "agent" (musterd itself, for hosts without systemd)
//! mon_data_avail_warn = 30             # % free space below which Ceph's health warns
//! osd_memory_target = 4294967296       # bytes of memory each OSD aims for
//! ```

use std::fmt;
use std::io;
use std::net::{Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use muster_disks::ScanOptions;
use muster_proto::{DEFAULT_CONFIG_PATH, DEFAULT_PORT, DEFAULT_SOCKET_PATH, DEFAULT_STATE_DIR};
use muster_trust::Fingerprint;
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(
    deny_unknown_fields,
    default,
    expecting = "a table of musterd settings"
)]
pub struct Config {
    /// `None` means the host name's first label; see [`Config::server_name`].
    pub name: Option<ServerName>,
    pub state_dir: PathBuf,
    pub socket: PathBuf,
    pub listen: SocketAddr,
    /// Zero-touch enrollment: the agent joins, by itself, the first
    /// initiator whose open session uses the passphrase in this file, then
    /// stops. `None`: only `muster join` joins.
    pub enrollment_passphrase_file: Option<PathBuf>,
    /// Zero-touch enrollment joins only the initiator whose certificate has
    /// this fingerprint (`muster session open` shows it); others get no
    /// confirmation to test a guess against. `None`: any initiator.
    pub enrollment_initiator_fingerprint: Option<Fingerprint>,
    pub discovery: DiscoveryConfig,
    pub disks: DisksConfig,
    pub lxd: LxdConfig,
    pub ceph: CephConfig,
}

/// The LXD this agent drives.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "a table of LXD settings")]
pub struct LxdConfig {
    /// LXD's (or Incus's) unix socket; `None`: the first of Incus's, LXD's
    /// deb's and LXD's snap's that answers.
    pub socket: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            name: None,
            state_dir: PathBuf::from(DEFAULT_STATE_DIR),
            socket: PathBuf::from(DEFAULT_SOCKET_PATH),
            listen: SocketAddr::from((Ipv6Addr::UNSPECIFIED, DEFAULT_PORT)),
            enrollment_passphrase_file: None,
            enrollment_initiator_fingerprint: None,
            discovery: DiscoveryConfig::default(),
            disks: DisksConfig::default(),
            lxd: LxdConfig::default(),
            ceph: CephConfig::default(),
        }
    }
}

/// This member's part of Ceph, when `muster init` gives it one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "a table of Ceph settings")]
pub struct CephConfig {
    pub root: CephRoot,
    pub daemons: CephDaemons,
    /// `None`: Ceph's default (30).
    pub mon_data_avail_warn: Option<u8>,
    /// `None`: Ceph's default (4 GiB); Ceph refuses less than 896 MiB.
    pub osd_memory_target: Option<u64>,
}

/// Where the member's Ceph files live.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CephRoot {
    /// The packages' places, which their systemd units expect.
    #[default]
    System,
    /// Everything in one directory (several lab members share a machine).
    Dir(PathBuf),
}

impl<'de> Deserialize<'de> for CephRoot {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<CephRoot, D::Error> {
        let text = String::deserialize(d)?;
        match text.as_str() {
            "system" => Ok(CephRoot::System),
            dir if Path::new(dir).is_absolute() => Ok(CephRoot::Dir(PathBuf::from(dir))),
            other => Err(serde::de::Error::custom(format!(
                "expected \"system\" or an absolute directory, found {other:?}"
            ))),
        }
    }
}

/// Who starts and stops the member's Ceph daemons.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CephDaemons {
    /// The packages' units (`ceph-mon@NAME` and so on).
    #[default]
    Systemd,
    /// musterd itself, as its children: for hosts without systemd.
    Agent,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(
    deny_unknown_fields,
    default,
    expecting = "a table of discovery settings"
)]
pub struct DiscoveryConfig {
    pub enabled: bool,
    /// Interface names; empty means all.
    pub interfaces: Vec<String>,
}

impl Default for DiscoveryConfig {
    fn default() -> Self {
        DiscoveryConfig {
            enabled: true,
            interfaces: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "a table of disk settings")]
pub struct DisksConfig {
    pub allow_loop: bool,
    pub only: Vec<PathBuf>,
    pub min_size_bytes: u64,
    /// Devices this server's controller may wipe although they carry data
    /// (this server's operator's consent); a blank one needs none.
    pub wipe_allowed: Vec<String>,
}

impl Default for DisksConfig {
    fn default() -> Self {
        let scan = ScanOptions::default();
        DisksConfig {
            allow_loop: scan.allow_loop,
            only: scan.only,
            min_size_bytes: scan.min_size_bytes,
            wipe_allowed: Vec::new(),
        }
    }
}

impl DisksConfig {
    pub fn scan_options(&self) -> ScanOptions {
        ScanOptions {
            allow_loop: self.allow_loop,
            only: self.only.clone(),
            min_size_bytes: self.min_size_bytes,
            ..ScanOptions::default()
        }
    }
}

/// A server's name: the mDNS instance name, the first label of its `.local`
/// host name and its certificate's name, so it must be a DNS label.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct ServerName(String);

impl ServerName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ServerName {
    type Error = String;

    fn try_from(name: String) -> Result<Self, String> {
        // The browser's own rule, so that no agent advertises a name that
        // `muster peers` would reject.
        if muster_discovery::record::is_valid_server_name(name.as_bytes()) {
            Ok(ServerName(name))
        } else {
            Err(format!(
                "{name:?} is not a valid server name (1 to {} letters, digits or '-')",
                muster_discovery::record::MAX_NAME_LEN
            ))
        }
    }
}

impl fmt::Display for ServerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {} does not exist", path.display())]
    Missing { path: PathBuf },
    #[error("cannot read configuration file {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Invalid {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
    #[error(
        "cannot use the host name as the server name: {reason}; set `name` in the configuration \
         file ({DEFAULT_CONFIG_PATH} by default)"
    )]
    HostName { reason: String },
}

impl Config {
    /// Reads `explicit`, or the default file. A missing default file means
    /// every default; a missing explicit file is an error.
    pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        let path = explicit.unwrap_or(Path::new(DEFAULT_CONFIG_PATH));
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let config = Config::parse(&text, path)?;
                tracing::info!(path = %path.display(), "read the configuration");
                Ok(config)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound && explicit.is_none() => {
                tracing::info!(path = %path.display(), "no configuration file; using the defaults");
                Ok(Config::default())
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(ConfigError::Missing {
                path: path.to_owned(),
            }),
            Err(source) => Err(ConfigError::Read {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Parses the text of the file at `path` (named in errors only).
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let invalid = |line, message| ConfigError::Invalid {
            path: path.to_owned(),
            line,
            message,
        };
        let document = toml::Deserializer::parse(text)
            .map_err(|e| invalid(line_of(text, &e), e.message().trim().to_owned()))?;
        serde_path_to_error::deserialize(document).map_err(|e| {
            let key_path = key_path(e.path());
            let inner = e.into_inner();
            invalid(line_of(text, &inner), describe(&key_path, inner.message()))
        })
    }

    /// The configured name, or else the host name's first label.
    pub fn server_name(&self) -> Result<ServerName, ConfigError> {
        if let Some(name) = &self.name {
            return Ok(name.clone());
        }
        let host = nix::unistd::gethostname().map_err(|e| ConfigError::HostName {
            reason: format!("cannot read it ({e})"),
        })?;
        let host = host.to_string_lossy();
        let label = host.split('.').next().unwrap_or_default().to_owned();
        ServerName::try_from(label).map_err(|reason| ConfigError::HostName { reason })
    }
}

fn line_of(text: &str, error: &toml::de::Error) -> Option<usize> {
    let start = error.span()?.start.min(text.len());
    Some(
        text.as_bytes()[..start]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1,
    )
}

/// The map keys leading to the error, array positions left out: the
/// interesting part for a person is which key, not which element.
fn key_path(path: &serde_path_to_error::Path) -> Vec<String> {
    path.iter()
        .filter_map(|segment| match segment {
            serde_path_to_error::Segment::Map { key } => Some(key.clone()),
            _ => None,
        })
        .collect()
}

/// Rewrites serde's wording into musterd's: which key, in which table.
fn describe(key_path: &[String], message: &str) -> String {
    let table = |keys: &[String]| {
        if keys.is_empty() {
            String::new()
        } else {
            format!(" in [{}]", keys.join("."))
        }
    };
    if let Some(rest) = message.strip_prefix("unknown field ") {
        // "unknown field `foo`, expected one of `a`, `b`" (or "expected `a`")
        let (key, expected) = rest.split_once(", ").unwrap_or((rest, ""));
        let expected = if expected.is_empty() {
            String::new()
        } else {
            format!(" ({expected})")
        };
        // The path ends with the unknown key itself.
        let parents = match key_path.split_last() {
            Some((last, parents)) if key.trim_matches('`') == last => parents,
            _ => key_path,
        };
        return format!("unknown key {key}{}{expected}", table(parents));
    }
    match key_path.split_last() {
        Some((key, parents)) => format!("key `{key}`{}: {message}", table(parents)),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, Path::new("/etc/muster/musterd.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn an_empty_file_means_every_default() {
        assert_eq!(parse("").unwrap(), Config::default());
        let defaults = Config::default();
        assert_eq!(defaults.listen.to_string(), "[::]:9443");
        assert!(defaults.discovery.enabled);
        assert!(!defaults.disks.allow_loop);
        assert_eq!(defaults.disks.min_size_bytes, 1 << 30);
    }

    #[test]
    fn a_full_file_is_read() {
        let config = parse(
            r#"
name = "s1"
state_dir = "/tmp/s1"
socket = "/tmp/s1.sock"
listen = "127.0.0.1:0"
enrollment_passphrase_file = "/etc/muster/enroll"
enrollment_initiator_fingerprint = "AB:CD:ef01:2345:6789:abcd:ef01:2345:6789:abcd:ef01:2345:6789:abcd:ef01:2345:6789"

[discovery]
enabled = false
interfaces = ["eth0", "eth1"]

[disks]
allow_loop = true
only = ["/dev/loop3"]
min_size_bytes = 4096
"#,
        )
        .unwrap();
        assert_eq!(config.name.as_ref().map(ServerName::as_str), Some("s1"));
        assert_eq!(config.state_dir, Path::new("/tmp/s1"));
        assert_eq!(config.socket, Path::new("/tmp/s1.sock"));
        assert_eq!(config.listen.to_string(), "127.0.0.1:0");
        assert_eq!(
            config.enrollment_passphrase_file.as_deref(),
            Some(Path::new("/etc/muster/enroll"))
        );
        assert_eq!(
            config
                .enrollment_initiator_fingerprint
                .as_ref()
                .map(Fingerprint::as_str),
            Some("abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789")
        );
        assert!(!config.discovery.enabled);
        assert_eq!(config.discovery.interfaces, ["eth0", "eth1"]);
        let scan = config.disks.scan_options();
        assert!(scan.allow_loop);
        assert_eq!(scan.only, [PathBuf::from("/dev/loop3")]);
        assert_eq!(scan.min_size_bytes, 4096);
        assert_eq!(scan.sysfs_root, Path::new("/sys"));
    }

    #[test]
    fn the_ceph_table_names_a_directory_or_the_system_places() {
        assert_eq!(Config::default().ceph.root, CephRoot::System);
        assert_eq!(Config::default().ceph.daemons, CephDaemons::Systemd);
        let lab = parse(
            "[ceph]\nroot = \"/lab/s1/ceph\"\ndaemons = \"agent\"\nmon_data_avail_warn = 5\nosd_memory_target = 939524096\n",
        )
        .unwrap();
        assert_eq!(lab.ceph.root, CephRoot::Dir(PathBuf::from("/lab/s1/ceph")));
        assert_eq!(lab.ceph.daemons, CephDaemons::Agent);
        assert_eq!(lab.ceph.mon_data_avail_warn, Some(5));
        assert_eq!(lab.ceph.osd_memory_target, Some(939524096));
        let err = parse("[ceph]\nroot = \"ceph\"\n").unwrap_err();
        assert!(err.contains("root") && err.contains("absolute"), "{err}");
        let err = parse("[ceph]\ndaemons = \"cron\"\n").unwrap_err();
        assert!(err.contains("daemons"), "{err}");
    }

    #[test]
    fn an_unknown_key_names_file_line_table_and_choices() {
        let err = parse("[disks]\nallow_loop = true\nfoo = 1\n").unwrap_err();
        assert_eq!(
            err,
            "/etc/muster/musterd.toml:3: unknown key `foo` in [disks] \
             (expected one of `allow_loop`, `only`, `min_size_bytes`, `wipe_allowed`)"
        );
    }

    /// Checks that `text` is refused with a message starting with
    /// `file:prefix` and mentioning `detail`.
    fn assert_refused(text: &str, prefix: &str, detail: &str) {
        let err = parse(text).unwrap_err();
        let expected = format!("/etc/muster/musterd.toml:{prefix}");
        assert!(err.starts_with(&expected), "{err}");
        assert!(err.contains(detail), "{err}");
    }

    #[test]
    fn an_unknown_top_level_key_is_reported() {
        assert_refused(
            "name = \"s1\"\n\nlisten_addr = \"x\"\n",
            "3: unknown key `listen_addr` (expected",
            "`listen`",
        );
    }

    #[test]
    fn a_wrong_type_names_the_key() {
        assert_refused(
            "\n[disks]\nallow_loop = \"yes\"\n",
            "3: key `allow_loop` in [disks]: ",
            "boolean",
        );
        assert_refused(
            "[discovery]\ninterfaces = [\"eth0\", 3]\n",
            "2: key `interfaces` in [discovery]: ",
            "string",
        );
        assert_refused(
            "disks = 5\n",
            "1: key `disks`: ",
            "a table of disk settings",
        );
    }

    #[test]
    fn a_bad_value_names_the_key() {
        assert_refused("listen = \"everywhere\"\n", "1: key `listen`: ", "address");
        assert_refused(
            "name = \"s 1\"\n",
            "1: key `name`: ",
            "not a valid server name",
        );
    }

    #[test]
    fn a_bad_fingerprint_names_the_key() {
        assert_refused(
            "enrollment_initiator_fingerprint = \"abc\"\n",
            "1: key `enrollment_initiator_fingerprint`: ",
            "64 hex characters",
        );
    }

    #[test]
    fn a_syntax_error_names_the_line() {
        assert_refused("name = \"s1\"\n[disks\n", "2: ", "");
    }

    #[test]
    fn a_missing_explicit_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("musterd.toml");
        let err = Config::load(Some(&path)).unwrap_err().to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(err.contains("does not exist"), "{err}");
    }

    #[test]
    fn an_explicit_file_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("musterd.toml");
        std::fs::write(&path, "name = \"s9\"\n").unwrap();
        let config = Config::load(Some(&path)).unwrap();
        assert_eq!(config.server_name().unwrap().as_str(), "s9");
    }

    #[test]
    fn a_missing_default_file_means_defaults() {
        // Only meaningful where the production file is absent (CI, dev boxes).
        if !Path::new(DEFAULT_CONFIG_PATH).exists() {
            assert_eq!(Config::load(None).unwrap(), Config::default());
        }
    }

    #[test]
    fn the_default_name_comes_from_the_host_name() {
        let host = nix::unistd::gethostname().unwrap();
        let host = host.to_string_lossy();
        let label = host.split('.').next().unwrap();
        match Config::default().server_name() {
            Ok(name) => assert_eq!(name.as_str(), label),
            Err(e) => assert!(e.to_string().contains("set `name`"), "{e}"),
        }
    }
}
