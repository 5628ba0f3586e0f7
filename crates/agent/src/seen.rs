//! The agent's view of the LAN: the agents it sees over mDNS, kept current
//! by a browse that runs as long as the agent does (when discovery is on).
//!
//! Unauthenticated, like everything mDNS says: it only suggests where to
//! look (initiators with an open session, a member's new address); the
//! handshake or the pinned certificate decides.

use std::net::SocketAddr;
use std::time::Duration;

use muster_discovery::{BrowseOptions, Peer};
use tokio::sync::watch;

/// The agents seen now, shared with whoever reads them.
#[derive(Clone)]
pub(crate) struct Seen {
    peers: Option<watch::Receiver<Vec<Peer>>>,
}

impl Seen {
    /// Discovery is off: nothing is ever seen.
    pub fn disabled() -> Seen {
        Seen { peers: None }
    }

    pub fn enabled(&self) -> bool {
        self.peers.is_some()
    }

    pub fn peers(&self) -> Vec<Peer> {
        self.peers
            .as_ref()
            .map(|rx| rx.borrow().clone())
            .unwrap_or_default()
    }

    /// Where agents claiming `name` are announced, whoever they are.
    pub fn endpoints_of(&self, name: &str) -> Vec<SocketAddr> {
        endpoints(self.peers().iter().filter(|p| p.name == name))
    }

    /// Compatible agents other than `me` announcing an open session.
    pub fn initiators(&self, me: &str) -> Vec<Peer> {
        self.peers()
            .into_iter()
            .filter(|p| p.session_open && p.is_compatible() && p.name != me)
            .collect()
    }

    /// Waits until the view changes, or `timeout`; false when it cannot
    /// change any more (discovery off or stopped).
    pub async fn changed(&mut self, timeout: Duration) -> bool {
        let Some(rx) = self.peers.as_mut() else {
            return false;
        };
        match tokio::time::timeout(timeout, rx.changed()).await {
            Ok(Ok(())) => true,
            Ok(Err(_)) => false,
            Err(_) => true,
        }
    }
}

pub(crate) fn endpoints<'a>(peers: impl Iterator<Item = &'a Peer>) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    for p in peers {
        for ip in &p.addresses {
            let endpoint = SocketAddr::new(*ip, p.port);
            if !out.contains(&endpoint) {
                out.push(endpoint);
            }
        }
    }
    out
}

/// Starts browsing on `interfaces` (empty: all); the task ends when `stop`
/// turns true.
pub(crate) fn start(
    interfaces: Vec<String>,
    mut stop: watch::Receiver<bool>,
) -> Result<(Seen, tokio::task::JoinHandle<()>), muster_discovery::DiscoveryError> {
    let mut browser = muster_discovery::browse(&BrowseOptions { interfaces })?;
    let (tx, rx) = watch::channel(Vec::new());
    let task = tokio::spawn(async move {
        loop {
            tokio::select! {
                event = browser.recv() => {
                    if event.is_none() {
                        tracing::warn!("the mDNS browser stopped; peers are no longer watched");
                        break;
                    }
                    let peers: Vec<Peer> = browser.peers().cloned().collect();
                    tx.send_replace(peers);
                }
                _ = stop.changed() => break,
            }
        }
        let _ = tokio::task::spawn_blocking(move || browser.shutdown()).await;
    });
    Ok((Seen { peers: Some(rx) }, task))
}
