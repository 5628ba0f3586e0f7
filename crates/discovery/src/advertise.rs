//! The agent's side of discovery: announce `<name>._muster._tcp.local.` with
//! the TXT schema of [`crate::txt`], and withdraw it with goodbye packets on
//! the way out so browsers drop the server at once instead of after the TTL.

use std::sync::Mutex;
use std::time::Duration;

use mdns_sd::{DaemonEvent, ServiceDaemon, ServiceInfo, UnregisterStatus};
use muster_proto::{ClusterState, PROTOCOL_VERSION, SERVICE_TYPE, VERSION};

use crate::{interfaces, txt, DiscoveryError};

/// How long to wait for the mDNS daemon to answer a command.
const REPLY_TIMEOUT: Duration = Duration::from_secs(2);

/// mdns-sd sends the goodbye once when unregistering and repeats it 120 ms
/// later; shutting the daemon down before then would drop the repeat.
const GOODBYE_REPEAT_WAIT: Duration = Duration::from_millis(200);

/// What the agent announces about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advertisement {
    /// The server's name: the instance name and the host name's first label.
    pub name: String,
    /// Port of the HTTPS member API.
    pub port: u16,
    pub state: ClusterState,
    /// Whether a trust session is open (TXT `session=open`).
    pub session_open: bool,
    /// Interfaces to advertise on; empty means all.
    pub interfaces: Vec<String>,
}

impl Advertisement {
    /// The record as announced for the `revision`th time (from 0).
    fn service_info(&self, revision: u32) -> Result<ServiceInfo, DiscoveryError> {
        let protocol = PROTOCOL_VERSION.to_string();
        let revision = revision.to_string();
        let mut properties = vec![
            (txt::PROTOCOL, protocol.as_str()),
            (txt::VERSION, VERSION),
            (txt::NAME, self.name.as_str()),
            (txt::STATE, self.state.as_str()),
            (txt::REVISION, revision.as_str()),
        ];
        if self.session_open {
            properties.push((txt::SESSION, txt::SESSION_OPEN));
        }
        let host = format!("{}.local.", self.name);
        ServiceInfo::new(
            SERVICE_TYPE,
            &self.name,
            &host,
            (),
            self.port,
            &properties[..],
        )
        .map(ServiceInfo::enable_addr_auto)
        .map_err(|source| DiscoveryError::Advertise {
            instance: self.name.clone(),
            source,
        })
    }
}

/// A running advertisement. Call [`Advertiser::shutdown`] to withdraw it; a
/// dropped advertiser stops its daemon without waiting for the goodbye.
pub struct Advertiser {
    daemon: ServiceDaemon,
    fullname: String,
    /// What is announced, and how many times it changed.
    ad: Mutex<(Advertisement, u32)>,
    stopped: bool,
}

impl Advertiser {
    pub fn start(ad: Advertisement) -> Result<Advertiser, DiscoveryError> {
        let info = ad.service_info(0)?;
        let daemon = ServiceDaemon::new().map_err(DiscoveryError::Daemon)?;
        let advertiser = Advertiser {
            fullname: info.get_fullname().to_owned(),
            daemon,
            ad: Mutex::new((ad.clone(), 0)),
            stopped: false,
        };
        advertiser.log_daemon_events();

        for name in &ad.interfaces {
            if !interfaces::exists(name) {
                tracing::warn!(
                    interface = %name,
                    "no such network interface (yet); mDNS will use it once it appears"
                );
            }
        }
        interfaces::restrict(&advertiser.daemon, &ad.interfaces)?;

        advertiser
            .daemon
            .register(info)
            .map_err(|source| DiscoveryError::Advertise {
                instance: ad.name.clone(),
                source,
            })?;
        tracing::info!(
            instance = %advertiser.fullname,
            port = ad.port,
            state = %ad.state,
            interfaces = ?ad.interfaces,
            "advertising over mDNS"
        );
        Ok(advertiser)
    }

    /// Announces a new cluster state.
    pub fn set_state(&self, state: ClusterState) -> Result<(), DiscoveryError> {
        self.update(|ad| ad.state = state)
    }

    /// Announces that a trust session opened or ended.
    pub fn set_session_open(&self, open: bool) -> Result<(), DiscoveryError> {
        self.update(|ad| ad.session_open = open)
    }

    /// Registering again replaces the records and sends them out; nothing
    /// is sent when nothing changed. Each change bumps the revision, so the
    /// new TXT record never equals one still in a browser's cache: mdns-sd
    /// keeps a replaced record for a second after a cache flush, and a
    /// record coming back to that exact content within the second would
    /// only refresh it, so the browser would go on showing the other one.
    fn update(&self, change: impl FnOnce(&mut Advertisement)) -> Result<(), DiscoveryError> {
        let mut guard = self
            .ad
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (ad, revision) = &mut *guard;
        let mut updated = ad.clone();
        change(&mut updated);
        if *ad == updated {
            return Ok(());
        }
        let next = revision.wrapping_add(1);
        self.daemon
            .register(updated.service_info(next)?)
            .map_err(|source| DiscoveryError::Advertise {
                instance: updated.name.clone(),
                source,
            })?;
        *ad = updated;
        *revision = next;
        Ok(())
    }

    /// Withdraws the advertisement (goodbye packets), waits a bounded time
    /// for them to go out, then stops the daemon.
    pub fn shutdown(mut self) -> Result<(), DiscoveryError> {
        self.stopped = true;
        let withdrawn = self.withdraw();
        let stopped = self.stop_daemon();
        withdrawn.and(stopped)
    }

    fn withdraw(&self) -> Result<(), DiscoveryError> {
        let reply =
            self.daemon
                .unregister(&self.fullname)
                .map_err(|source| DiscoveryError::Withdraw {
                    instance: self.fullname.clone(),
                    source,
                })?;
        match reply.recv_timeout(REPLY_TIMEOUT) {
            Ok(UnregisterStatus::OK) => {
                std::thread::sleep(GOODBYE_REPEAT_WAIT);
                tracing::info!(instance = %self.fullname, "withdrew the mDNS advertisement");
                Ok(())
            }
            Ok(UnregisterStatus::NotFound) => {
                tracing::warn!(instance = %self.fullname, "the mDNS daemon had no such advertisement");
                Ok(())
            }
            Err(_) => Err(DiscoveryError::Timeout("sending the mDNS goodbye")),
        }
    }

    fn stop_daemon(&self) -> Result<(), DiscoveryError> {
        let reply = self.daemon.shutdown().map_err(DiscoveryError::Shutdown)?;
        reply
            .recv_timeout(REPLY_TIMEOUT)
            .map(drop)
            .map_err(|_| DiscoveryError::Timeout("stopping the mDNS daemon"))
    }

    /// The daemon reports trouble (no multicast, renamed after a conflict)
    /// only on its monitor channel; without this it would go unseen.
    fn log_daemon_events(&self) {
        let events = match self.daemon.monitor() {
            Ok(events) => events,
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch the mDNS daemon's events");
                return;
            }
        };
        let spawned = std::thread::Builder::new()
            .name("mdns-events".into())
            .spawn(move || {
                // Ends when the daemon stops and drops its end of the channel.
                while let Ok(event) = events.recv() {
                    match event {
                        DaemonEvent::Error(e) => tracing::warn!(error = %e, "mDNS daemon"),
                        DaemonEvent::NameChange(change) => tracing::warn!(
                            from = %change.original,
                            to = %change.new_name,
                            "another host on the LAN uses this name; mDNS renamed ours"
                        ),
                        other => tracing::debug!(event = ?other, "mDNS daemon"),
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot watch the mDNS daemon's events");
        }
    }
}

impl Drop for Advertiser {
    fn drop(&mut self) {
        if !self.stopped {
            let _ = self.daemon.shutdown();
        }
    }
}

impl std::fmt::Debug for Advertiser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Advertiser")
            .field("fullname", &self.fullname)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ad() -> Advertisement {
        Advertisement {
            name: "s1".into(),
            port: 9443,
            state: ClusterState::Unclustered,
            session_open: false,
            interfaces: vec![],
        }
    }

    // Builds the record only: starting a daemon here would send multicast
    // to the real LAN (see DESIGN.md); the lab tests that part in namespaces.
    #[test]
    fn the_record_carries_the_txt_schema() {
        let info = ad().service_info(0).unwrap();
        assert_eq!(info.get_fullname(), "s1._muster._tcp.local.");
        assert_eq!(info.get_hostname(), "s1.local.");
        assert_eq!(info.get_port(), 9443);
        assert!(info.is_addr_auto());
        let expected_protocol = PROTOCOL_VERSION.to_string();
        assert_eq!(
            info.get_property_val_str(txt::PROTOCOL),
            Some(expected_protocol.as_str())
        );
        assert_eq!(info.get_property_val_str(txt::VERSION), Some(VERSION));
        assert_eq!(info.get_property_val_str(txt::NAME), Some("s1"));
        assert_eq!(info.get_property_val_str(txt::STATE), Some("unclustered"));
        assert_eq!(info.get_property_val_str(txt::SESSION), None);
    }

    #[test]
    fn an_open_session_is_announced() {
        let open = Advertisement {
            session_open: true,
            ..ad()
        };
        let info = open.service_info(3).unwrap();
        assert_eq!(
            info.get_property_val_str(txt::SESSION),
            Some(txt::SESSION_OPEN)
        );
        assert_eq!(info.get_property_val_str(txt::REVISION), Some("3"));
    }
}
