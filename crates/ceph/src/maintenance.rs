//! A member in maintenance: Ceph must not take its OSDs out (and start
//! copying their data elsewhere) while they are down for a while.

use crate::error::CephError;
use crate::member::CephMember;
use crate::status::OsdDump;

/// The flag set on the member's CRUSH host: it covers every OSD of that
/// host, also one made while the flag is set.
const NOOUT: &str = "noout";

impl CephMember {
    /// Sets (or clears) `noout` on the CRUSH host `host`. Setting a flag
    /// that is set, or clearing one that is not, changes nothing.
    pub fn set_host_noout(&self, host: &str, on: bool) -> Result<(), CephError> {
        let verb = if on { "set-group" } else { "unset-group" };
        self.ceph(&["osd", verb, NOOUT, host])?;
        Ok(())
    }
}

impl OsdDump {
    /// Whether `noout` is set on the CRUSH host `host`.
    pub fn host_noout(&self, host: &str) -> bool {
        self.crush_node_flags
            .get(host)
            .is_some_and(|flags| flags.iter().any(|f| f == NOOUT))
    }
}

#[cfg(test)]
mod tests {
    use crate::status::parse_osd_dump;
    use crate::testkit::recorded;

    #[test]
    fn the_hosts_with_noout_are_read_from_the_osd_dump() {
        let dump = parse_osd_dump(&recorded("pacific-16.2.15-osd-dump.json")).unwrap();
        assert!(!dump.host_noout("s1"));
        let flagged =
            br#"{"fsid":"f","osds":[],"crush_node_flags":{"s3":["noout"],"s2":["noin"]}}"#;
        let dump = parse_osd_dump(flagged).unwrap();
        assert!(dump.host_noout("s3"));
        assert!(!dump.host_noout("s2"));
        assert!(!dump.host_noout("s1"));
    }
}
