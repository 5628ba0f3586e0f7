//! Which addresses can carry cluster traffic, and the networks they are on.

use std::net::IpAddr;

use crate::model::Interface;

/// An address a member could use for cluster traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    pub ip: IpAddr,
    pub prefix: u8,
}

impl Candidate {
    /// The network the address is on, as `NETWORK/PREFIX`.
    pub fn network(&self) -> String {
        let network = match self.ip {
            IpAddr::V4(v4) => {
                let bits = u32::from(v4);
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix.min(32)));
                IpAddr::from((bits & mask.unwrap_or(0)).to_be_bytes())
            }
            IpAddr::V6(v6) => {
                let bits = u128::from(v6);
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix.min(128)));
                IpAddr::from((bits & mask.unwrap_or(0)).to_be_bytes())
            }
        };
        format!("{network}/{}", self.prefix)
    }
}

impl std::fmt::Display for Candidate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.ip, self.prefix)
    }
}

/// The addresses of interfaces that are up, IPv4 first, without loopback
/// and IPv6 link-local ones (other servers cannot reach those by address
/// alone), each with the interface it is on.
pub fn candidates(interfaces: &[Interface]) -> Vec<(String, Candidate)> {
    let mut found: Vec<(String, Candidate)> = interfaces
        .iter()
        .filter(|i| i.up)
        .flat_map(|i| {
            i.addresses
                .iter()
                .filter_map(|a| parse(a))
                .filter(|c| usable(c.ip))
                .map(|c| (i.name.clone(), c))
        })
        .collect();
    found.sort_by_key(|(_, c)| c.ip.is_ipv6());
    found
}

fn parse(text: &str) -> Option<Candidate> {
    let (ip, prefix) = text.split_once('/')?;
    let ip: IpAddr = ip.parse().ok()?;
    let prefix: u8 = prefix.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (prefix <= max).then_some(Candidate { ip, prefix })
}

fn usable(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => !v4.is_loopback() && !v4.is_unspecified(),
        IpAddr::V6(v6) => {
            !v6.is_loopback() && !v6.is_unspecified() && (v6.segments()[0] & 0xffc0) != 0xfe80
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iface(name: &str, up: bool, addresses: &[&str]) -> Interface {
        Interface {
            name: name.into(),
            addresses: addresses.iter().map(|a| a.to_string()).collect(),
            up,
        }
    }

    #[test]
    fn keeps_reachable_addresses_ipv4_first() {
        let found = candidates(&[
            iface("lo", true, &["127.0.0.1/8", "::1/128"]),
            iface(
                "eth0",
                true,
                &["fe80::1/64", "2001:db8::5/64", "10.0.0.5/24"],
            ),
            iface("eth1", false, &["10.9.0.5/24"]),
            iface("eth2", true, &["junk", "10.1.0.5/33", "10.2.0.5/16"]),
        ]);
        let shown: Vec<String> = found.iter().map(|(i, c)| format!("{i} {c}")).collect();
        assert_eq!(
            shown,
            [
                "eth0 10.0.0.5/24",
                "eth2 10.2.0.5/16",
                "eth0 2001:db8::5/64"
            ]
        );
    }

    #[test]
    fn networks() {
        let c = parse("10.1.2.3/24").unwrap();
        assert_eq!(c.network(), "10.1.2.0/24");
        assert_eq!(parse("10.1.2.3/0").unwrap().network(), "0.0.0.0/0");
        assert_eq!(parse("2001:db8::5/64").unwrap().network(), "2001:db8::/64");
    }
}
