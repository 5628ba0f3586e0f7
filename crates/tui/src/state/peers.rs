//! The peers screen: peers found over mDNS or added by address, filtered
//! and chosen.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};

use muster_discovery::record::is_usable_address;
use muster_discovery::{Peer, PeerEvent};
use muster_proto::DEFAULT_PORT;

use super::{moved, Level, Notice, PeerRow, Screen, Wizard};
use crate::model::{Effect, Key};

impl Wizard {
    /// Indexes into `peers` of the rows the filter lets through.
    pub fn visible_peers(&self) -> Vec<usize> {
        let needle = self.filter.to_lowercase();
        self.peers
            .iter()
            .enumerate()
            .filter(|(_, row)| needle.is_empty() || peer_matches(&row.peer, &needle))
            .map(|(i, _)| i)
            .collect()
    }

    pub fn chosen_peers(&self) -> Vec<&PeerRow> {
        self.peers.iter().filter(|r| r.chosen).collect()
    }

    pub fn filter(&self) -> &str {
        &self.filter
    }

    pub fn is_filtering(&self) -> bool {
        self.filtering
    }

    pub(super) fn on_peers_key(&mut self, key: Key) -> Vec<Effect> {
        let visible = self.visible_peers();
        if let Some(cursor) = moved(self.peer_cursor, visible.len(), key) {
            self.peer_cursor = cursor;
            return Vec::new();
        }
        match key {
            Key::Space => self.toggle_peer(&visible),
            Key::Char('a') => self.toggle_all_peers(&visible),
            Key::Char('/') => self.filtering = true,
            Key::Char('+') => self.address_input = Some(String::new()),
            Key::Enter => return self.leave_peers(),
            _ => {}
        }
        Vec::new()
    }

    pub(super) fn on_filter_key(&mut self, key: Key) -> Vec<Effect> {
        match key {
            Key::Char(c) if !c.is_control() => self.filter.push(c),
            Key::Backspace => {
                self.filter.pop();
            }
            Key::Space => self.toggle_peer(&self.visible_peers()),
            Key::Enter | Key::Tab => self.filtering = false,
            Key::Esc => {
                self.filter.clear();
                self.filtering = false;
            }
            other => {
                let len = self.visible_peers().len();
                if let Some(cursor) = moved(self.peer_cursor, len, other) {
                    self.peer_cursor = cursor;
                }
                return Vec::new();
            }
        }
        self.clamp_peer_cursor();
        Vec::new()
    }

    /// What is typed at the "add by address" prompt, while it is open.
    pub fn address_input(&self) -> Option<&str> {
        self.address_input.as_deref()
    }

    /// Addresses asked who they are, not answered yet.
    pub fn asking(&self) -> &[SocketAddr] {
        &self.asking
    }

    pub(super) fn on_address_key(&mut self, key: Key) -> Vec<Effect> {
        let Some(input) = self.address_input.as_mut() else {
            return Vec::new();
        };
        match key {
            Key::Char(c) if !c.is_control() && input.len() < MAX_ADDRESS_LEN => input.push(c),
            Key::Backspace => {
                input.pop();
            }
            Key::Esc => self.address_input = None,
            Key::Enter => match parse_peer_address(input) {
                Ok(address) => {
                    self.address_input = None;
                    if !self.asking.contains(&address) {
                        self.asking.push(address);
                    }
                    return vec![Effect::LookUpPeer(address)];
                }
                // The prompt stays, with what was typed, to be corrected.
                Err(why) => self.say(Level::Error, why),
            },
            _ => {}
        }
        Vec::new()
    }

    pub(super) fn on_looked_up(&mut self, address: SocketAddr, peer: Result<Peer, String>) {
        self.asking.retain(|a| *a != address);
        let peer = match peer {
            Ok(peer) => peer,
            Err(why) => {
                self.say(Level::Error, format!("Not added: {why}"));
                return;
            }
        };
        if peer.name == self.local {
            let text = format!("Not added: {address} is this server ({}).", peer.name);
            self.say(Level::Error, text);
            return;
        }
        let name = peer.name.clone();
        if let Some(row) = self
            .peers
            .iter_mut()
            .find(|r| r.peer.instance == peer.instance)
        {
            // Already listed (found over mDNS, or added before): one row.
            row.by_address.get_or_insert(address);
            self.say(Level::Info, format!("{name} is already listed."));
            return;
        }
        let text = match peer.compat.reason() {
            None => format!("{name} at {address} added: space picks it."),
            Some(why) => format!("{name} at {address} is listed but cannot be chosen: {why}"),
        };
        let level = if peer.is_compatible() {
            Level::Info
        } else {
            Level::Warning
        };
        self.push_peer(PeerRow {
            peer,
            chosen: false,
            gone: false,
            by_address: Some(address),
        });
        self.say(level, text);
        self.clamp_peer_cursor();
    }

    fn push_peer(&mut self, row: PeerRow) {
        self.peers.push(row);
        self.peers.sort_by(|a, b| {
            (&a.peer.name, &a.peer.instance).cmp(&(&b.peer.name, &b.peer.instance))
        });
    }

    pub(super) fn clamp_peer_cursor(&mut self) {
        let len = self.visible_peers().len();
        self.peer_cursor = self.peer_cursor.min(len.saturating_sub(1));
    }

    pub(super) fn toggle_peer(&mut self, visible: &[usize]) {
        let Some(&index) = visible.get(self.peer_cursor) else {
            return;
        };
        let row = &mut self.peers[index];
        if !row.chosen {
            if let Some(why) = unchoosable(row) {
                let text = format!("{} cannot be chosen: {why}", row.peer.name);
                self.say(Level::Error, text);
                return;
            }
        }
        row.chosen = !row.chosen;
        if !row.chosen && row.gone {
            self.peers.remove(index);
            self.clamp_peer_cursor();
        }
        self.dirty = true;
    }

    pub(super) fn toggle_all_peers(&mut self, visible: &[usize]) {
        let choosable: Vec<usize> = visible
            .iter()
            .copied()
            .filter(|&i| unchoosable(&self.peers[i]).is_none())
            .collect();
        if choosable.is_empty() {
            self.say(Level::Info, "No peer here can be chosen.");
            return;
        }
        let choose = choosable.iter().any(|&i| !self.peers[i].chosen);
        for i in choosable {
            self.peers[i].chosen = choose;
        }
        self.dirty = true;
    }

    pub(super) fn leave_peers(&mut self) -> Vec<Effect> {
        let names = self.chosen_names();
        if names.is_empty() {
            self.say(
                Level::Warning,
                "Choose at least one peer with space (a chooses all).",
            );
            return Vec::new();
        }
        let mut effects = Vec::new();
        if !self.session.requested {
            self.session.requested = true;
            effects.push(Effect::OpenSession);
        }
        effects.push(Effect::TrustPeers(names));
        self.dirty = true;
        self.screen = Screen::Session;
        effects
    }

    pub(super) fn chosen_names(&self) -> Vec<String> {
        let names: BTreeSet<String> = self
            .peers
            .iter()
            .filter(|r| r.chosen)
            .map(|r| r.peer.name.clone())
            .collect();
        names.into_iter().collect()
    }

    pub(super) fn on_peer_event(&mut self, event: PeerEvent) {
        match event {
            PeerEvent::Found(peer) | PeerEvent::Updated(peer) => {
                // The local agent advertises itself too; it is a member
                // anyway, never a peer to pick.
                if peer.name == self.local {
                    return;
                }
                match self
                    .peers
                    .iter_mut()
                    .find(|r| r.peer.instance == peer.instance)
                {
                    Some(row) => {
                        row.gone = false;
                        if row.chosen && !peer.is_compatible() {
                            row.chosen = false;
                            let why = peer.compat.reason().unwrap_or_default();
                            self.notice = Some(Notice {
                                level: Level::Warning,
                                text: format!("{} is no longer chosen: {why}", peer.name),
                            });
                        }
                        row.peer = peer;
                    }
                    None => self.push_peer(PeerRow {
                        peer,
                        chosen: false,
                        gone: false,
                        by_address: None,
                    }),
                }
            }
            PeerEvent::Gone { instance } => {
                if let Some(i) = self.peers.iter().position(|r| r.peer.instance == instance) {
                    if self.peers[i].by_address.is_some() {
                        // Reached by address, not through mDNS.
                    } else if self.peers[i].chosen {
                        self.peers[i].gone = true;
                    } else {
                        self.peers.remove(i);
                    }
                }
            }
        }
        self.clamp_peer_cursor();
    }
}

/// The longest thing typed at the address prompt: `[IPv6]:PORT` at most.
const MAX_ADDRESS_LEN: usize = 64;

/// A peer's address as typed: an IP address, with a port where its agent
/// does not listen on the default one (`10.0.0.2`, `10.0.0.2:9444`,
/// `fd00::2`, `[fd00::2]:9444`). Host names are refused: where mDNS does
/// not reach, the address is what the operator knows.
pub fn parse_peer_address(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    let address = if let Ok(ip) = text.parse::<IpAddr>() {
        SocketAddr::new(ip, DEFAULT_PORT)
    } else if let Some(ip) = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .and_then(|t| t.parse::<IpAddr>().ok())
    {
        SocketAddr::new(ip, DEFAULT_PORT)
    } else {
        text.parse::<SocketAddr>().map_err(|_| {
            format!(
                "{:?} is not an IP address: give one, e.g. 10.0.0.2, or with its port, \
                 10.0.0.2:{DEFAULT_PORT} or [fd00::2]:{DEFAULT_PORT}",
                muster_discovery::printable(text)
            )
        })?
    };
    if address.port() == 0 {
        return Err("port 0 is no agent's port".into());
    }
    if !is_usable_address(&address.ip()) {
        return Err(format!(
            "{} cannot be another server's address (loopback, link-local, multicast and \
             documentation addresses cannot)",
            address.ip()
        ));
    }
    Ok(address)
}

fn unchoosable(row: &PeerRow) -> Option<String> {
    if row.gone {
        return Some("it is gone from the network".into());
    }
    row.peer.compat.reason().map(str::to_string)
}

fn peer_matches(peer: &Peer, needle: &str) -> bool {
    peer.name.to_lowercase().contains(needle)
        || peer
            .addresses
            .iter()
            .any(|a| a.to_string().contains(needle))
        || peer
            .version
            .as_deref()
            .is_some_and(|v| v.to_lowercase().contains(needle))
}
