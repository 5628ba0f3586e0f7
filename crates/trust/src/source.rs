//! Where an unauthenticated party comes from, for the bounds that count
//! per party.

use std::net::{IpAddr, Ipv4Addr};

/// An IPv4 address, or the /64 an IPv6 address is in: one host easily
/// holds a whole /64, so counting IPv6 addresses one by one would let one
/// host pass for thousands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    V4(Ipv4Addr),
    V6Net(u64),
}

impl Source {
    pub fn of(ip: IpAddr) -> Source {
        match ip.to_canonical() {
            IpAddr::V4(v4) => Source::V4(v4),
            IpAddr::V6(v6) => Source::V6Net((v6.to_bits() >> 64) as u64),
        }
    }
}
