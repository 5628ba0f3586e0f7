//! A member's Ceph configuration: where its files live and the `ceph.conf`
//! rendered from typed settings (pure).

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

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
    /// Scratch files of the steps (monmap, keyrings in the making) and the
    /// records that let an interrupted OSD creation resume.
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
            work_dir: "/var/lib/ceph/muster".into(),
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

/// The config file for a member. Every path is spelled out: in the lab
/// several members share one file system and must not meet in
/// `/var/lib/ceph` or `/var/log/ceph`.
pub fn render_conf(c: &CephConf) -> String {
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
        run = p.run_dir.display(),
        log = p.log_dir.display(),
        crash = p.crash_dir.display(),
        mon = p.mon_root.display(),
        mgr = p.mgr_root.display(),
        osd = p.osd_root.display(),
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
    s
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
            paths: MemberPaths::under(Path::new("/lab/s2")),
            osd_memory_target: Some(939524096),
            mon_data_avail_warn: Some(5),
        };
        let text = render_conf(&c);
        assert_eq!(
            text,
            "# Written by muster; changes are overwritten.
[global]
fsid = 0b1c6b7e-6d7c-4a8e-9a57-6c1f3d2b9e10
mon host = 10.231.249.1,[fd00::2]
public network = 10.231.249.0/24
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
            paths: MemberPaths::system(),
            osd_memory_target: None,
            mon_data_avail_warn: None,
        };
        let text = render_conf(&c);
        assert!(text.contains("mon data = /var/lib/ceph/mon/$cluster-$id\n"));
        assert!(text.contains("keyring = /etc/ceph/ceph.client.admin.keyring\n"));
        assert!(!text.contains("osd memory target"));
        assert!(!text.contains("avail warn"));
        assert_eq!(
            MemberPaths::system().osd_data(3),
            Path::new("/var/lib/ceph/osd/ceph-3")
        );
    }
}
