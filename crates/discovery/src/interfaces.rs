//! Restricting an mDNS daemon to chosen network interfaces, shared by the
//! browsing and advertising sides.

use std::path::Path;

use mdns_sd::{IfKind, ServiceDaemon};

use crate::DiscoveryError;

/// Whether `name` is an existing network interface. Names that could walk
/// out of `/sys/class/net` are rejected before touching the file system.
pub(crate) fn exists(name: &str) -> bool {
    let plausible = !name.is_empty() && name != "." && name != ".." && !name.contains('/');
    plausible && Path::new("/sys/class/net").join(name).exists()
}

/// Limits `daemon` to `names` (no-op when empty). The daemon applies
/// commands in order, so this is in force before any later browse or
/// registration sends a packet.
pub(crate) fn restrict(daemon: &ServiceDaemon, names: &[String]) -> Result<(), DiscoveryError> {
    if names.is_empty() {
        return Ok(());
    }
    daemon
        .disable_interface(IfKind::All)
        .map_err(DiscoveryError::Interfaces)?;
    let wanted: Vec<IfKind> = names.iter().map(IfKind::from).collect();
    daemon
        .enable_interface(wanted)
        .map_err(DiscoveryError::Interfaces)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_escape_sysfs() {
        for name in ["", ".", "..", "../../etc", "a/b"] {
            assert!(!exists(name), "{name:?}");
        }
    }
}
