//! The trust session screen: who is trusted, who is still awaited.

use super::{Level, Member, Screen, Session, Wizard};
use crate::model::{Effect, Key};

impl Wizard {
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Chosen peers not trusted yet.
    pub fn waiting_for(&self) -> Vec<String> {
        self.chosen_names()
            .into_iter()
            .filter(|n| !self.session.trusted.contains_key(n))
            .collect()
    }

    pub(super) fn on_session_key(&mut self, key: Key) -> Vec<Effect> {
        match key {
            Key::Enter => return self.leave_session(),
            Key::Char('r') if self.session.failed.is_some() => {
                self.session = Session {
                    requested: true,
                    trusted: std::mem::take(&mut self.session.trusted),
                    ..Session::default()
                };
                return vec![Effect::OpenSession, Effect::TrustPeers(self.chosen_names())];
            }
            _ => {}
        }
        Vec::new()
    }

    pub(super) fn leave_session(&mut self) -> Vec<Effect> {
        let waiting = self.waiting_for();
        if !waiting.is_empty() {
            let text = format!(
                "Waiting for {} to join: run `muster join` there.",
                waiting.join(", ")
            );
            self.say(Level::Warning, text);
            return Vec::new();
        }
        self.screen = Screen::Disks;
        let effects = self.fetch_missing();
        self.clamp_disk_cursor();
        effects
    }

    /// The members: this server, then the chosen peers by name.
    pub fn members(&self) -> Vec<Member> {
        let mut members = vec![Member {
            name: self.local.clone(),
            initiator: true,
        }];
        members.extend(self.chosen_names().into_iter().map(|name| Member {
            name,
            initiator: false,
        }));
        members
    }
}

/// The first 16 hex digits in groups of four, as muster shows fingerprints
/// to eyes; anything that is not a long hex string is shown as given.
pub fn short_fingerprint(fingerprint: &str) -> String {
    let hex: String = fingerprint.chars().filter(|c| *c != ':').collect();
    if hex.len() <= 16 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return fingerprint.to_string();
    }
    hex.as_bytes()[..16]
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(":")
}
