//! Records for the unit tests: what a genuine agent announces.

use muster_proto::{PROTOCOL_VERSION, SERVICE_TYPE};

use crate::record::{RawService, TxtEntry};
use crate::txt;

/// A genuine agent's record, resolved; `name` is its TXT name.
pub fn genuine(instance: &str, name: &str, addr: &str) -> RawService {
    RawService {
        fullname: format!("{instance}.{SERVICE_TYPE}"),
        host: format!("{instance}.local."),
        port: 9443,
        addresses: vec![addr.parse().unwrap()],
        txt: vec![
            TxtEntry::new(txt::PROTOCOL, PROTOCOL_VERSION.to_string()),
            TxtEntry::new(txt::VERSION, "0.1.0"),
            TxtEntry::new(txt::NAME, name),
            TxtEntry::new(txt::STATE, "unclustered"),
        ],
    }
}

/// The same as mdns-sd hands it over, for agent `s1` in cluster `state`.
pub fn resolved_s1(state: &str) -> mdns_sd::ResolvedService {
    let protocol = PROTOCOL_VERSION.to_string();
    let properties = [
        (txt::PROTOCOL, protocol.as_str()),
        (txt::VERSION, "0.1.0"),
        (txt::NAME, "s1"),
        (txt::STATE, state),
    ];
    mdns_sd::ServiceInfo::new(
        SERVICE_TYPE,
        "s1",
        "s1.local.",
        "10.231.250.2",
        9443,
        &properties[..],
    )
    .unwrap()
    .as_resolved_service()
}
