//! Browsing for agents: mdns-sd's events in, [`PeerEvent`]s out.
//!
//! The bookkeeping (who is here, who changed, who claims a name someone else
//! claims too) lives in [`PeerTable`], which is pure; [`Browser`] only pumps
//! the daemon's events through it.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use mdns_sd::{ServiceDaemon, ServiceEvent};
use muster_proto::SERVICE_TYPE;
use serde::{Deserialize, Serialize};

use crate::error::DiscoveryError;
use crate::interfaces;
use crate::record::{classify, Compat, Peer, RawService};

/// Reason given to every instance claiming a name another instance claims:
/// mDNS cannot tell which one is the real server, so neither is trusted.
pub const DUPLICATE_NAME: &str = "name claimed by two agents";

/// How long `shutdown` waits for the daemon thread to confirm it stopped.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(2);

/// A change in the set of agents seen. As JSON: `{"event":"found", ...peer}`,
/// `{"event":"updated", ...peer}`, `{"event":"gone","instance":"s1"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum PeerEvent {
    Found(Peer),
    Updated(Peer),
    Gone { instance: String },
}

/// The agents currently seen, keyed by DNS-SD full name.
#[derive(Debug, Default)]
pub struct PeerTable {
    entries: BTreeMap<String, Entry>,
}

#[derive(Debug)]
struct Entry {
    /// The record judged on its own.
    own: Peer,
    /// What was last reported, after the checks across records.
    shown: Peer,
}

impl PeerTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one daemon event; returns what changed, the event's own
    /// instance first. Events for other service types are ignored.
    pub fn apply(&mut self, event: &ServiceEvent) -> Vec<PeerEvent> {
        match event {
            ServiceEvent::ServiceResolved(service)
                if service.ty_domain.eq_ignore_ascii_case(SERVICE_TYPE) =>
            {
                self.resolved(RawService::from(service.as_ref()))
            }
            ServiceEvent::ServiceRemoved(ty_domain, fullname)
                if ty_domain.eq_ignore_ascii_case(SERVICE_TYPE) =>
            {
                self.removed(fullname)
            }
            _ => Vec::new(),
        }
    }

    /// An instance was resolved (for the first time or again).
    pub fn resolved(&mut self, raw: RawService) -> Vec<PeerEvent> {
        let own = classify(&raw);
        let fullname = raw.fullname;
        let before = self.entries.get(&fullname).map(|e| e.shown.clone());
        self.entries.insert(
            fullname.clone(),
            Entry {
                shown: own.clone(),
                own,
            },
        );
        let mut events = self.refresh(Some(&fullname));
        let now = &self.entries[&fullname].shown;
        let first = match before {
            None => Some(PeerEvent::Found(now.clone())),
            Some(before) if before != *now => Some(PeerEvent::Updated(now.clone())),
            Some(_) => None,
        };
        // The event that caused the refresh comes before its side effects.
        events.splice(0..0, first);
        events
    }

    /// An instance said goodbye or its records expired.
    pub fn removed(&mut self, fullname: &str) -> Vec<PeerEvent> {
        let Some(entry) = self.entries.remove(fullname) else {
            return Vec::new();
        };
        let mut events = vec![PeerEvent::Gone {
            instance: entry.shown.instance,
        }];
        events.extend(self.refresh(None));
        events
    }

    /// The agents seen now, in full-name order.
    pub fn peers(&self) -> impl Iterator<Item = &Peer> {
        self.entries.values().map(|e| &e.shown)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Applies the checks that span records and reports every shown peer
    /// that changed, except `skip` (the caller reports that one).
    fn refresh(&mut self, skip: Option<&str>) -> Vec<PeerEvent> {
        let mut claims: BTreeMap<String, usize> = BTreeMap::new();
        for entry in self.entries.values() {
            *claims.entry(claim_key(&entry.own)).or_default() += 1;
        }
        let mut events = Vec::new();
        for (fullname, entry) in &mut self.entries {
            let mut peer = entry.own.clone();
            if claims[&claim_key(&peer)] > 1 {
                peer.compat = Compat::Incompatible(DUPLICATE_NAME.into());
            }
            if peer != entry.shown {
                entry.shown = peer.clone();
                if skip != Some(fullname.as_str()) {
                    events.push(PeerEvent::Updated(peer));
                }
            }
        }
        events
    }
}

/// Names are DNS labels, so `S1` and `s1` are the same claim.
fn claim_key(peer: &Peer) -> String {
    peer.name.to_ascii_lowercase()
}

/// What to browse on.
#[derive(Debug, Clone, Default)]
pub struct BrowseOptions {
    /// Network interface names to use; empty means all.
    pub interfaces: Vec<String>,
}

/// A running browse. Dropping it stops the daemon too, without waiting.
pub struct Browser {
    daemon: Option<ServiceDaemon>,
    events: mdns_sd::Receiver<ServiceEvent>,
    table: PeerTable,
    pending: VecDeque<PeerEvent>,
}

/// Starts browsing for `_muster._tcp.local.` with its own mDNS daemon.
pub fn browse(opts: &BrowseOptions) -> Result<Browser, DiscoveryError> {
    for name in &opts.interfaces {
        if !interfaces::exists(name) {
            return Err(DiscoveryError::UnknownInterface(name.clone()));
        }
    }
    let daemon = ServiceDaemon::new().map_err(DiscoveryError::Daemon)?;
    // From here on the daemon thread runs: stop it on every error path.
    let started = interfaces::restrict(&daemon, &opts.interfaces).and_then(|()| {
        daemon
            .browse(SERVICE_TYPE)
            .map_err(|source| DiscoveryError::Browse {
                service_type: SERVICE_TYPE.into(),
                source,
            })
    });
    match started {
        Ok(events) => Ok(Browser {
            daemon: Some(daemon),
            events,
            table: PeerTable::new(),
            pending: VecDeque::new(),
        }),
        Err(e) => {
            let _ = daemon.shutdown();
            Err(e)
        }
    }
}

impl Browser {
    /// The next change, waiting as long as it takes. `None` once the daemon
    /// has stopped. Cancel-safe: usable in `tokio::select!`.
    pub async fn recv(&mut self) -> Option<PeerEvent> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            let event = self.events.recv_async().await.ok()?;
            self.feed(&event);
        }
    }

    /// The next change, blocking for at most `timeout`. `None` on timeout or
    /// once the daemon has stopped.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Option<PeerEvent> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            let event = self.events.recv_deadline(deadline).ok()?;
            self.feed(&event);
        }
    }

    /// The next change if one is ready, without blocking (for UI loops).
    pub fn try_recv(&mut self) -> Option<PeerEvent> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            let event = self.events.try_recv().ok()?;
            self.feed(&event);
        }
    }

    /// The agents seen as of the events received so far, and of those
    /// already read from the daemon but still queued here.
    pub fn peers(&self) -> impl Iterator<Item = &Peer> {
        self.table.peers()
    }

    /// Stops browsing and the daemon thread, waiting briefly for it.
    pub fn shutdown(mut self) -> Result<(), DiscoveryError> {
        match self.daemon.take() {
            Some(daemon) => stop(&daemon, true),
            None => Ok(()),
        }
    }

    fn feed(&mut self, event: &ServiceEvent) {
        self.pending.extend(self.table.apply(event));
    }
}

fn stop(daemon: &ServiceDaemon, wait: bool) -> Result<(), DiscoveryError> {
    let _ = daemon.stop_browse(SERVICE_TYPE);
    let status = daemon.shutdown().map_err(DiscoveryError::Shutdown)?;
    if wait {
        // A daemon that does not confirm in time is left to exit on its own.
        let _ = status.recv_timeout(SHUTDOWN_WAIT);
    }
    Ok(())
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(daemon) = self.daemon.take() {
            let _ = stop(&daemon, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{genuine, resolved_s1};
    use muster_proto::PROTOCOL_VERSION;

    fn fullname(instance: &str) -> String {
        format!("{instance}.{SERVICE_TYPE}")
    }

    /// (instance, "ok" or the reason) of each event, "gone" for Gone.
    fn summary(events: &[PeerEvent]) -> Vec<(&str, &str)> {
        events
            .iter()
            .map(|e| match e {
                PeerEvent::Found(p) => (p.instance.as_str(), p.compat.reason().unwrap_or("ok")),
                PeerEvent::Updated(p) => (p.instance.as_str(), p.compat.reason().unwrap_or("ok")),
                PeerEvent::Gone { instance } => (instance.as_str(), "gone"),
            })
            .collect()
    }

    #[test]
    fn found_then_unchanged_then_updated_then_gone() {
        let mut table = PeerTable::new();
        let events = table.resolved(genuine("s1", "s1", "10.231.250.2"));
        assert!(matches!(&events[..], [PeerEvent::Found(p)] if p.is_compatible()));

        assert_eq!(table.resolved(genuine("s1", "s1", "10.231.250.2")), vec![]);

        let mut moved = genuine("s1", "s1", "10.231.250.2");
        moved.addresses.push("10.231.250.9".parse().unwrap());
        let events = table.resolved(moved);
        assert!(matches!(&events[..], [PeerEvent::Updated(p)] if p.addresses.len() == 2));

        assert_eq!(
            table.removed(&fullname("s1")),
            vec![PeerEvent::Gone {
                instance: "s1".into()
            }]
        );
        assert!(table.is_empty());
    }

    #[test]
    fn removing_an_unknown_instance_says_nothing() {
        let mut table = PeerTable::new();
        assert_eq!(table.removed(&fullname("ghost")), vec![]);
    }

    #[test]
    fn two_agents_claiming_one_name_are_both_flagged_until_one_leaves() {
        let mut table = PeerTable::new();
        table.resolved(genuine("s1", "s1", "10.231.250.2"));
        // What mdns-sd's conflict renaming makes of a second "s1".
        let events = table.resolved(genuine("s1 (2)", "s1", "10.231.250.3"));
        assert_eq!(
            summary(&events),
            vec![("s1 (2)", DUPLICATE_NAME), ("s1", DUPLICATE_NAME)]
        );
        assert!(matches!(events[0], PeerEvent::Found(_)));
        assert!(matches!(events[1], PeerEvent::Updated(_)));

        let events = table.removed(&fullname("s1 (2)"));
        assert_eq!(summary(&events), vec![("s1 (2)", "gone"), ("s1", "ok")]);
        assert_eq!(table.len(), 1);
        assert!(table.peers().all(Peer::is_compatible));
    }

    #[test]
    fn name_claims_compare_case_insensitively() {
        let mut table = PeerTable::new();
        table.resolved(genuine("s1", "s1", "10.231.250.2"));
        let events = table.resolved(genuine("S1", "S1", "10.231.250.3"));
        assert_eq!(
            summary(&events),
            vec![("S1", DUPLICATE_NAME), ("s1", DUPLICATE_NAME)]
        );
    }

    #[test]
    fn a_peer_renaming_itself_away_from_a_clash_clears_both() {
        let mut table = PeerTable::new();
        table.resolved(genuine("s1", "s1", "10.231.250.2"));
        table.resolved(genuine("s2", "s1", "10.231.250.3"));
        // s2's record is fixed: its TXT name now matches its instance.
        let events = table.resolved(genuine("s2", "s2", "10.231.250.3"));
        assert_eq!(summary(&events), vec![("s2", "ok"), ("s1", "ok")]);
    }

    #[test]
    fn daemon_events_of_other_types_are_ignored() {
        let mut table = PeerTable::new();
        let other = ServiceEvent::ServiceRemoved("_http._tcp.local.".into(), fullname("s1"));
        assert_eq!(table.apply(&other), vec![]);
        let started = ServiceEvent::SearchStarted(SERVICE_TYPE.into());
        assert_eq!(table.apply(&started), vec![]);
    }

    #[test]
    fn daemon_events_drive_the_table() {
        let mut table = PeerTable::new();
        let resolved = ServiceEvent::ServiceResolved(Box::new(resolved_s1("unclustered")));
        assert_eq!(summary(&table.apply(&resolved)), vec![("s1", "ok")]);
        let removed = ServiceEvent::ServiceRemoved(SERVICE_TYPE.into(), fullname("s1"));
        assert_eq!(summary(&table.apply(&removed)), vec![("s1", "gone")]);
    }

    #[test]
    fn events_serialize_with_an_event_field() {
        let mut table = PeerTable::new();
        let events = table.resolved(genuine("s1", "s1", "10.231.250.2"));
        let json = serde_json::to_value(&events[0]).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "event": "found",
                "instance": "s1",
                "name": "s1",
                "addresses": ["10.231.250.2"],
                "port": 9443,
                "version": "0.1.0",
                "protocol": PROTOCOL_VERSION,
                "state": "unclustered",
                "session_open": false,
                "compat": {"verdict": "compatible"},
            })
        );
        let gone = PeerEvent::Gone {
            instance: "s1".into(),
        };
        let json = serde_json::to_string(&gone).unwrap();
        assert_eq!(json, r#"{"event":"gone","instance":"s1"}"#);
        assert_eq!(serde_json::from_str::<PeerEvent>(&json).unwrap(), gone);
    }

    #[test]
    fn unknown_interfaces_are_refused_before_any_network_use() {
        for name in ["", "..", "a/b", "muster-no-such-if0"] {
            let opts = BrowseOptions {
                interfaces: vec![name.into()],
            };
            assert!(matches!(
                browse(&opts),
                Err(DiscoveryError::UnknownInterface(_))
            ));
        }
    }
}
