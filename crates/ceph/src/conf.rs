//! A member's Ceph configuration: where its files live and the `ceph.conf`
//! rendered from typed settings (pure).

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::CephError;

/// Where one member keeps its Ceph files. In production the packages'
/// places ([`MemberPaths::system`]); in the lab everything under the
/// member's own directory ([`MemberPaths::under`]), since the members share
/// one file system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberPaths {
    pub conf: PathBuf,
    pub admin_keyring: PathBuf,
    pub run_dir: PathBuf,
    pub log_dir: PathBuf,
    pub crash_dir: PathBuf,
    /// Holds `ceph-ID` data directories, one per daemon of the kind.
    pub mon_root: PathBuf,
    pub mgr_root: PathBuf,
    pub osd_root: PathBuf,
    pub mds_root: PathBuf,
    /// Scratch files of the steps (monmap, keyrings in the making), the
    /// records that let an interrupted OSD creation resume and the OSDs'
    /// device records: root's own, mode 0700.
    pub work_dir: PathBuf,
}

impl MemberPaths {
    pub fn under(dir: &Path) -> MemberPaths {
        MemberPaths {
            conf: dir.join("ceph.conf"),
            admin_keyring: dir.join("ceph.client.admin.keyring"),
            run_dir: dir.join("run"),
            log_dir: dir.join("log"),
            crash_dir: dir.join("crash"),
            mon_root: dir.join("mon"),
            mgr_root: dir.join("mgr"),
            osd_root: dir.join("osd"),
            mds_root: dir.join("mds"),
            work_dir: dir.join("muster"),
        }
    }

    /// The Debian/Ubuntu packages' layout, which their systemd units expect.
    pub fn system() -> MemberPaths {
        MemberPaths {
            conf: "/etc/ceph/ceph.conf".into(),
            admin_keyring: "/etc/ceph/ceph.client.admin.keyring".into(),
            run_dir: "/var/run/ceph".into(),
            log_dir: "/var/log/ceph".into(),
            crash_dir: "/var/lib/ceph/crash".into(),
            mon_root: "/var/lib/ceph/mon".into(),
            mgr_root: "/var/lib/ceph/mgr".into(),
            osd_root: "/var/lib/ceph/osd".into(),
            mds_root: "/var/lib/ceph/mds".into(),
            // Root's, not under /var/lib/ceph (the ceph user's: it could
            // swap anything there for a link). The ceph-osd@ drop-in reads
            // the OSDs' device records from here.
            work_dir: "/var/lib/muster/ceph".into(),
        }
    }

    pub fn mon_data(&self, id: &str) -> PathBuf {
        self.mon_root.join(format!("ceph-{id}"))
    }

    pub fn mgr_data(&self, id: &str) -> PathBuf {
        self.mgr_root.join(format!("ceph-{id}"))
    }

    pub fn osd_data(&self, id: u32) -> PathBuf {
        self.osd_root.join(format!("ceph-{id}"))
    }

    pub fn mds_data(&self, id: &str) -> PathBuf {
        self.mds_root.join(format!("ceph-{id}"))
    }
}

/// What goes into one member's `ceph.conf`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CephConf {
    pub fsid: String,
    /// The member's name: its mon and mgr ids and its CRUSH host bucket.
    pub host: String,
    /// The monitors' addresses (v2 on 3300 and v1 on 6789 are implied).
    pub mon_hosts: Vec<IpAddr>,
    /// CIDR, e.g. "10.0.0.0/24": daemons bind to their address in it.
    pub public_network: String,
    /// CIDR of a separate network for the OSDs' replication and recovery
    /// traffic; without it they use the public network.
    pub cluster_network: Option<String>,
    pub paths: MemberPaths,
    /// `osd memory target` in bytes; Ceph's minimum is 939524096 (the lab's
    /// value), its default 4 GiB.
    pub osd_memory_target: Option<u64>,
    /// `mon data avail warn`, the percentage of free space in the mons'
    /// file system below which health warns (Ceph's default 30). The lab
    /// lowers it: its mons share the build machine's disk.
    pub mon_data_avail_warn: Option<u8>,
}

fn mon_host_entry(ip: &IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

/// What Ceph's config parser reads as syntax inside a value: sections,
/// settings, comments, metavariables (`$cluster`), quotes and escapes.
const CONF_SYNTAX: &[char] = &['[', ']', '=', '#', ';', '$', '"', '\'', '\\'];

/// Refuses a value that would not read back from `ceph.conf` as itself.
/// `spaces`: whether white space may stand inside it (in paths; not in an
/// fsid, a network or a host name, where it would split `crush location`'s
/// `key=value` pairs).
fn check_value(key: &'static str, value: &str, spaces: bool) -> Result<(), CephError> {
    let reason = if value.is_empty() {
        "it is empty"
    } else if value.contains(char::is_control) {
        "it holds a control character (a line break would start a new setting)"
    } else if value.trim() != value {
        "it starts or ends with white space, which Ceph drops"
    } else if !spaces && value.contains(char::is_whitespace) {
        "it holds white space"
    } else if value.contains(CONF_SYNTAX) {
        "it holds one of [ ] = # ; $ \" ' \\, which Ceph's parser reads as syntax"
    } else {
        return Ok(());
    };
    Err(CephError::ConfValue {
        key,
        value: value.to_owned(),
        reason,
    })
}

fn check_path(key: &'static str, path: &Path) -> Result<(), CephError> {
    match path.to_str() {
        Some(text) => check_value(key, text, true),
        None => Err(CephError::ConfValue {
            key,
            value: path.display().to_string(),
            reason: "it is not UTF-8",
        }),
    }
}

/// Every setting the caller gives goes into the file verbatim, so each is
/// checked first: an fsid or a network from elsewhere must not be able to
/// add settings or sections of its own.
fn check_conf(c: &CephConf) -> Result<(), CephError> {
    check_value("fsid", &c.fsid, false)?;
    check_value("host", &c.host, false)?;
    check_value("public network", &c.public_network, false)?;
    if let Some(net) = &c.cluster_network {
        check_value("cluster network", net, false)?;
    }
    if c.mon_hosts.is_empty() {
        return Err(CephError::ConfValue {
            key: "mon host",
            value: String::new(),
            reason: "a config needs at least one monitor address",
        });
    }
    let p = &c.paths;
    for (key, path) in [
        ("run dir", &p.run_dir),
        ("log file", &p.log_dir),
        ("crash dir", &p.crash_dir),
        ("mon data", &p.mon_root),
        ("mgr data", &p.mgr_root),
        ("osd data", &p.osd_root),
        ("mds data", &p.mds_root),
        ("keyring", &p.admin_keyring),
    ] {
        check_path(key, path)?;
    }
    Ok(())
}

/// The config file for a member. Every path is spelled out: in the lab
/// several members share one file system and must not meet in
/// `/var/lib/ceph` or `/var/log/ceph`. Refuses settings that would not read
/// back as themselves ([`CephError::ConfValue`]).
pub fn render_conf(c: &CephConf) -> Result<String, CephError> {
    check_conf(c)?;
    let p = &c.paths;
    let mut s = String::new();
    let hosts: Vec<String> = c.mon_hosts.iter().map(mon_host_entry).collect();
    // `write!` into a String cannot fail.
    let _ = write!(
        s,
        "# Written by muster; changes are overwritten.\n\
         [global]\n\
         fsid = {fsid}\n\
         mon host = {hosts}\n\
         public network = {net}\n\
         {cluster_net}\
         auth cluster required = cephx\n\
         auth service required = cephx\n\
         auth client required = cephx\n\
         auth allow insecure global id reclaim = false\n\
         run dir = {run}\n\
         admin socket = $run_dir/$cluster-$name.asok\n\
         pid file = $run_dir/$cluster-$name.pid\n\
         log file = {log}/$cluster-$name.log\n\
         mon cluster log file = {log}/$cluster.$channel.log\n\
         crash dir = {crash}\n\
         mon data = {mon}/$cluster-$id\n\
         mgr data = {mgr}/$cluster-$id\n\
         osd data = {osd}/$cluster-$id\n\
         mds data = {mds}/$cluster-$id\n\
         {avail}\
         \n\
         [client]\n\
         keyring = {keyring}\n\
         \n\
         [osd]\n\
         crush location = root=default host={host}\n",
        fsid = c.fsid,
        hosts = hosts.join(","),
        net = c.public_network,
        cluster_net = match &c.cluster_network {
            Some(net) => format!("cluster network = {net}\n"),
            None => String::new(),
        },
        run = p.run_dir.display(),
        log = p.log_dir.display(),
        crash = p.crash_dir.display(),
        mon = p.mon_root.display(),
        mgr = p.mgr_root.display(),
        osd = p.osd_root.display(),
        mds = p.mds_root.display(),
        keyring = p.admin_keyring.display(),
        host = c.host,
        avail = match c.mon_data_avail_warn {
            Some(p) => format!("mon data avail warn = {p}\n"),
            None => String::new(),
        },
    );
    if let Some(target) = c.osd_memory_target {
        let _ = writeln!(s, "osd memory target = {target}");
    }
    Ok(s)
}

/// What [`parse_conf`] reads back from a config [`render_conf`] wrote:
/// the cluster-wide settings, the same on every member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfSummary {
    pub fsid: String,
    pub mon_hosts: Vec<IpAddr>,
    pub public_network: String,
    pub cluster_network: Option<String>,
}

/// The cluster-wide settings of a `ceph.conf` (pure). Keys count in
/// `[global]` (or before any section) and are spelled with spaces or
/// underscores, as Ceph accepts; `mon host` lists `IP` or `[IPv6]`
/// entries. `None` when the fsid, the monitors or the public network are
/// missing, or a monitor entry is not an address.
pub fn parse_conf(text: &str) -> Option<ConfSummary> {
    let mut section = "global".to_owned();
    let (mut fsid, mut mon_host, mut public_network, mut cluster_network) =
        (None, None, None, None);
    for line in text.lines() {
        let line = line.split(['#', ';']).next().unwrap_or_default().trim();
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim().to_owned();
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if section != "global" {
            continue;
        }
        let key = key.trim().replace('_', " ");
        let value = Some(value.trim().to_owned()).filter(|v| !v.is_empty());
        match key.as_str() {
            "fsid" => fsid = value,
            "mon host" => mon_host = value,
            "public network" => public_network = value,
            "cluster network" => cluster_network = value,
            _ => {}
        }
    }
    let mon_hosts = mon_host?
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|e| {
            let bare = e.strip_prefix('[').and_then(|e| e.strip_suffix(']'));
            bare.unwrap_or(e).parse().ok()
        })
        .collect::<Option<Vec<IpAddr>>>()?;
    if mon_hosts.is_empty() {
        return None;
    }
    Some(ConfSummary {
        fsid: fsid?,
        mon_hosts,
        public_network: public_network?,
        cluster_network,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lab_member_config_keeps_every_path_in_its_directory() {
        let c = CephConf {
            fsid: "0b1c6b7e-6d7c-4a8e-9a57-6c1f3d2b9e10".into(),
            host: "s2".into(),
            mon_hosts: vec!["10.231.249.1".parse().unwrap(), "fd00::2".parse().unwrap()],
            public_network: "10.231.249.0/24".into(),
            cluster_network: Some("10.231.250.0/24".into()),
            paths: MemberPaths::under(Path::new("/lab/s2")),
            osd_memory_target: Some(939524096),
            mon_data_avail_warn: Some(5),
        };
        let text = render_conf(&c).unwrap();
        assert_eq!(
            text,
            "# Written by muster; changes are overwritten.
[global]
fsid = 0b1c6b7e-6d7c-4a8e-9a57-6c1f3d2b9e10
mon host = 10.231.249.1,[fd00::2]
public network = 10.231.249.0/24
cluster network = 10.231.250.0/24
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
run dir = /lab/s2/run
admin socket = $run_dir/$cluster-$name.asok
pid file = $run_dir/$cluster-$name.pid
log file = /lab/s2/log/$cluster-$name.log
mon cluster log file = /lab/s2/log/$cluster.$channel.log
crash dir = /lab/s2/crash
mon data = /lab/s2/mon/$cluster-$id
mgr data = /lab/s2/mgr/$cluster-$id
osd data = /lab/s2/osd/$cluster-$id
mds data = /lab/s2/mds/$cluster-$id
mon data avail warn = 5

[client]
keyring = /lab/s2/ceph.client.admin.keyring

[osd]
crush location = root=default host=s2
osd memory target = 939524096
"
        );
    }

    #[test]
    fn production_uses_the_packages_places() {
        let c = CephConf {
            fsid: "f".into(),
            host: "h".into(),
            mon_hosts: vec!["10.0.0.1".parse().unwrap()],
            public_network: "10.0.0.0/24".into(),
            cluster_network: None,
            paths: MemberPaths::system(),
            osd_memory_target: None,
            mon_data_avail_warn: None,
        };
        let text = render_conf(&c).unwrap();
        assert!(text.contains("mon data = /var/lib/ceph/mon/$cluster-$id\n"));
        assert!(text.contains("keyring = /etc/ceph/ceph.client.admin.keyring\n"));
        assert!(!text.contains("osd memory target"));
        assert!(!text.contains("avail warn"));
        assert!(!text.contains("cluster network"));
        assert_eq!(
            MemberPaths::system().osd_data(3),
            Path::new("/var/lib/ceph/osd/ceph-3")
        );
        assert_eq!(
            MemberPaths::system().mds_data("h"),
            Path::new("/var/lib/ceph/mds/ceph-h")
        );
    }

    fn lab_conf() -> CephConf {
        CephConf {
            fsid: "0b1c6b7e-6d7c-4a8e-9a57-6c1f3d2b9e10".into(),
            host: "s1".into(),
            mon_hosts: vec!["10.0.0.1".parse().unwrap(), "fd00::2".parse().unwrap()],
            public_network: "10.0.0.0/24".into(),
            cluster_network: None,
            paths: MemberPaths::under(Path::new("/lab/s1")),
            osd_memory_target: Some(939524096),
            mon_data_avail_warn: Some(5),
        }
    }

    fn summary(c: &CephConf) -> ConfSummary {
        ConfSummary {
            fsid: c.fsid.clone(),
            mon_hosts: c.mon_hosts.clone(),
            public_network: c.public_network.clone(),
            cluster_network: c.cluster_network.clone(),
        }
    }

    #[test]
    fn a_rendered_config_reads_back() {
        let mut c = lab_conf();
        assert_eq!(parse_conf(&render_conf(&c).unwrap()), Some(summary(&c)));
        c.cluster_network = Some("10.0.1.0/24".into());
        c.mon_hosts = vec!["fd00::1".parse().unwrap()];
        c.paths = MemberPaths::system();
        assert_eq!(parse_conf(&render_conf(&c).unwrap()), Some(summary(&c)));
    }

    #[test]
    fn only_global_settings_count_in_either_spelling() {
        let text = "[global]\n\
                    fsid = F  # the cluster\n\
                    mon_host = [fd00::1], 10.0.0.2\n\
                    public_network=fd00::/64\n\
                    [osd]\n\
                    cluster network = 10.9.9.0/24\n";
        assert_eq!(
            parse_conf(text),
            Some(ConfSummary {
                fsid: "F".into(),
                mon_hosts: vec!["fd00::1".parse().unwrap(), "10.0.0.2".parse().unwrap()],
                public_network: "fd00::/64".into(),
                cluster_network: None,
            })
        );
    }

    fn refused(c: &CephConf) -> (&'static str, String) {
        match render_conf(c) {
            Err(CephError::ConfValue { key, value, .. }) => (key, value),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn settings_that_would_add_settings_or_sections_are_refused() {
        let injection = "10.0.0.0/24\n[mon]\nmon host = 6.6.6.6";
        let mut c = lab_conf();
        c.public_network = injection.into();
        assert_eq!(refused(&c), ("public network", injection.to_owned()));
        let err = render_conf(&c).unwrap_err().to_string();
        assert!(err.starts_with("cannot write public network "), "{err}");
        assert!(err.contains("control character"), "{err}");

        for (fsid, why) in [
            ("f = g", "white space"),
            ("f=g", "syntax"),
            ("f#g", "syntax"),
            ("$run_dir", "syntax"),
            ("", "empty"),
            ("f\r", "control character"),
        ] {
            let c = CephConf {
                fsid: fsid.into(),
                ..lab_conf()
            };
            assert_eq!(refused(&c), ("fsid", fsid.to_owned()));
            let err = render_conf(&c).unwrap_err().to_string();
            assert!(err.contains(why), "{fsid:?}: {err}");
        }
        let c = CephConf {
            host: "s1 rack=evil".into(),
            ..lab_conf()
        };
        assert_eq!(refused(&c), ("host", "s1 rack=evil".to_owned()));
        let c = CephConf {
            cluster_network: Some("10.0.1.0/24;".into()),
            ..lab_conf()
        };
        assert_eq!(refused(&c).0, "cluster network");
        let c = CephConf {
            mon_hosts: Vec::new(),
            ..lab_conf()
        };
        assert_eq!(refused(&c).0, "mon host");
        // Spaces are fine inside a path, not at its ends or as a new line.
        let c = CephConf {
            paths: MemberPaths::under(Path::new("/lab/my s1")),
            ..lab_conf()
        };
        assert!(render_conf(&c)
            .unwrap()
            .contains("run dir = /lab/my s1/run\n"));
        let c = CephConf {
            paths: MemberPaths::under(Path::new("/lab/s1\nfsid = other")),
            ..lab_conf()
        };
        assert_eq!(refused(&c).0, "run dir");
    }

    /// Any character in any setting: refused, or read back as given with
    /// no line of its own.
    #[test]
    fn every_character_is_refused_or_reads_back_as_itself() {
        let clean = CephConf {
            cluster_network: Some("10.0.1.0/24".into()),
            ..lab_conf()
        };
        let lines = render_conf(&clean).unwrap().lines().count();
        let chars = (0..=0x7f_u8)
            .map(char::from)
            .chain(['\u{85}', '\u{a0}', '\u{2028}', '\u{feff}', 'é']);
        for ch in chars {
            let value = format!("a{ch}b");
            let mut c = clean.clone();
            c.fsid = value.clone();
            c.public_network = value.clone();
            c.cluster_network = Some(value.clone());
            let Ok(text) = render_conf(&c) else {
                continue;
            };
            assert_eq!(text.lines().count(), lines, "{ch:?}");
            assert_eq!(parse_conf(&text), Some(summary(&c)), "{ch:?}");
        }
    }

    #[test]
    fn an_incomplete_config_reads_as_none() {
        let text = render_conf(&lab_conf()).unwrap();
        let without = |key: &str| -> String {
            text.lines()
                .filter(|l| !l.starts_with(key))
                .map(|l| format!("{l}\n"))
                .collect()
        };
        assert_eq!(parse_conf(&without("fsid")), None);
        assert_eq!(parse_conf(&without("mon host")), None);
        assert_eq!(parse_conf(&without("public network")), None);
        assert_eq!(parse_conf(&text.replace("10.0.0.1", "s1.lab")), None);
        assert_eq!(parse_conf(&text.replace("fsid = ", "fsid =\n#")), None);
        assert_eq!(parse_conf(""), None);
    }
}
