//! The peers screen: peers found over mDNS, filtered and chosen.

use std::collections::BTreeSet;

use muster_discovery::{Peer, PeerEvent};

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
                    None => self.peers.push(PeerRow {
                        peer,
                        chosen: false,
                        gone: false,
                    }),
                }
                self.peers.sort_by(|a, b| {
                    (&a.peer.name, &a.peer.instance).cmp(&(&b.peer.name, &b.peer.instance))
                });
            }
            PeerEvent::Gone { instance } => {
                if let Some(i) = self.peers.iter().position(|r| r.peer.instance == instance) {
                    if self.peers[i].chosen {
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
