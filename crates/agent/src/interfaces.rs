//! This server's network interfaces, for the initiator to choose the
//! networks of Ceph and LXD: name, addresses, MAC, MTU and whether it is up.

use std::collections::BTreeMap;
use std::fs;
use std::net::IpAddr;
use std::path::Path;

use muster_proto::trust::NetInterface;
use nix::ifaddrs::getifaddrs;
use nix::net::if_::InterfaceFlags;

/// One entry of getifaddrs(3), reduced to what is reported. Kept apart so
/// that the grouping can be tested without the system's interfaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawEntry {
    pub name: String,
    pub up: bool,
    pub ip: Option<(IpAddr, u8)>,
    pub mac: Option<[u8; 6]>,
}

/// The interfaces of the network namespace the agent runs in.
pub(crate) fn list(sysfs_net: &Path) -> std::io::Result<Vec<NetInterface>> {
    let entries: Vec<RawEntry> = getifaddrs()?.map(raw_entry).collect();
    Ok(assemble(&entries, |name| read_mtu(sysfs_net, name)))
}

fn raw_entry(e: nix::ifaddrs::InterfaceAddress) -> RawEntry {
    let up = e.flags.contains(InterfaceFlags::IFF_UP);
    let mut ip = None;
    let mut mac = None;
    if let Some(addr) = &e.address {
        if let Some(v4) = addr.as_sockaddr_in() {
            let prefix = e
                .netmask
                .as_ref()
                .and_then(|m| m.as_sockaddr_in())
                .map_or(32, |m| m.ip().to_bits().count_ones() as u8);
            ip = Some((IpAddr::V4(v4.ip()), prefix));
        } else if let Some(v6) = addr.as_sockaddr_in6() {
            let prefix = e
                .netmask
                .as_ref()
                .and_then(|m| m.as_sockaddr_in6())
                .map_or(128, |m| m.ip().to_bits().count_ones() as u8);
            ip = Some((IpAddr::V6(v6.ip()), prefix));
        } else if let Some(link) = addr.as_link_addr() {
            mac = link.addr().filter(|_| link.halen() == 6);
        }
    }
    RawEntry {
        name: e.interface_name,
        up,
        ip,
        mac,
    }
}

fn read_mtu(sysfs_net: &Path, name: &str) -> Option<u32> {
    // The name comes from the kernel, but never walk out of the directory.
    if name.contains('/') || name.starts_with('.') {
        return None;
    }
    fs::read_to_string(sysfs_net.join(name).join("mtu"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// What the entries of one interface add up to.
#[derive(Default)]
struct Gathered {
    up: bool,
    ips: Vec<(IpAddr, u8)>,
    mac: Option<[u8; 6]>,
}

/// Groups getifaddrs entries by interface, in name order, IPv4 addresses
/// first. Pure but for `mtu`.
pub(crate) fn assemble(
    entries: &[RawEntry],
    mtu: impl Fn(&str) -> Option<u32>,
) -> Vec<NetInterface> {
    let mut by_name: BTreeMap<&str, Gathered> = BTreeMap::new();
    for e in entries {
        let slot = by_name.entry(&e.name).or_default();
        slot.up |= e.up;
        if let Some(ip) = e.ip {
            if !slot.ips.contains(&ip) {
                slot.ips.push(ip);
            }
        }
        if e.mac.is_some() {
            slot.mac = e.mac;
        }
    }
    by_name
        .into_iter()
        .map(|(name, Gathered { up, mut ips, mac })| {
            ips.sort_by_key(|(ip, _)| (ip.is_ipv6(), *ip));
            NetInterface {
                name: name.to_owned(),
                addresses: ips.iter().map(|(ip, p)| format!("{ip}/{p}")).collect(),
                mac: mac.map(|m| {
                    m.iter()
                        .map(|b| format!("{b:02x}"))
                        .collect::<Vec<_>>()
                        .join(":")
                }),
                mtu: mtu(name),
                up,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, up: bool, ip: Option<&str>, mac: Option<[u8; 6]>) -> RawEntry {
        RawEntry {
            name: name.into(),
            up,
            ip: ip.map(|s| {
                let (a, p) = s.split_once('/').unwrap();
                (a.parse().unwrap(), p.parse().unwrap())
            }),
            mac,
        }
    }

    #[test]
    fn entries_are_grouped_by_interface() {
        let mac = [0x52, 0x54, 0x00, 0xab, 0x0c, 0x01];
        let entries = [
            entry("eth0", true, None, Some(mac)),
            entry("lo", true, Some("127.0.0.1/8"), None),
            entry("eth0", true, Some("fd00::2/64"), None),
            entry("eth0", true, Some("10.0.0.2/24"), None),
            entry("eth0", true, Some("10.0.0.2/24"), None),
            entry("eth1", false, None, Some([0; 6])),
        ];
        let got = assemble(&entries, |n| (n == "eth0").then_some(1500));
        assert_eq!(
            got,
            vec![
                NetInterface {
                    name: "eth0".into(),
                    addresses: vec!["10.0.0.2/24".into(), "fd00::2/64".into()],
                    mac: Some("52:54:00:ab:0c:01".into()),
                    mtu: Some(1500),
                    up: true,
                },
                NetInterface {
                    name: "eth1".into(),
                    addresses: vec![],
                    mac: Some("00:00:00:00:00:00".into()),
                    mtu: None,
                    up: false,
                },
                NetInterface {
                    name: "lo".into(),
                    addresses: vec!["127.0.0.1/8".into()],
                    mac: None,
                    mtu: None,
                    up: true,
                },
            ]
        );
    }

    #[test]
    fn mtu_is_read_from_sysfs_and_names_cannot_escape() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("eth0")).unwrap();
        fs::write(dir.path().join("eth0/mtu"), "9000\n").unwrap();
        fs::write(dir.path().join("mtu"), "1\n").unwrap();
        assert_eq!(read_mtu(dir.path(), "eth0"), Some(9000));
        assert_eq!(read_mtu(dir.path(), "eth1"), None);
        assert_eq!(read_mtu(dir.path(), "."), None);
        assert_eq!(read_mtu(dir.path(), "../x"), None);
    }

    #[test]
    fn this_machine_has_loopback() {
        let all = list(Path::new("/sys/class/net")).unwrap();
        let lo = all.iter().find(|i| i.name == "lo").expect("lo");
        assert!(lo.up);
        assert_eq!(lo.mtu.is_some(), Path::new("/sys/class/net/lo").exists());
    }
}
