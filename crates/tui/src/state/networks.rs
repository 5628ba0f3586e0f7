//! The networks screen: cluster addresses and the instances network.

use std::collections::BTreeSet;

use muster_disks::Disk;

use super::{cycle, moved, Level, Loading, PlanState, Screen, Wizard};
use crate::model::{ChosenDisk, Effect, InstanceNetwork, Key, MemberSelection, Selection};
use crate::net::{self, Candidate};

impl Wizard {
    pub fn instance_network(&self) -> InstanceNetwork {
        self.instance_network
    }

    /// Addresses a member could use for cluster traffic, with their
    /// interface.
    pub fn address_candidates(&self, member: &str) -> Vec<(String, Candidate)> {
        match self.inventory.get(member).map(|i| &i.interfaces) {
            Some(Loading::Ready(interfaces)) => net::candidates(interfaces),
            _ => Vec::new(),
        }
    }

    /// Picks an address for every member that has none: the one it was
    /// discovered on where that is a candidate, else the first.
    pub(super) fn default_addresses(&mut self) {
        for member in self.members() {
            let candidates = self.address_candidates(&member.name);
            let discovered: Vec<_> = self
                .peers
                .iter()
                .filter(|r| r.peer.name == member.name)
                .flat_map(|r| r.peer.addresses.clone())
                .collect();
            let choices = self.choices.entry(member.name.clone()).or_default();
            let still_valid = choices
                .address
                .is_some_and(|a| candidates.iter().any(|(_, c)| *c == a));
            if !still_valid {
                choices.address = candidates
                    .iter()
                    .find(|(_, c)| discovered.contains(&c.ip))
                    .or(candidates.first())
                    .map(|(_, c)| *c);
            }
        }
    }

    /// The network the cluster addresses share, or every one of them when
    /// they differ.
    pub fn cluster_networks(&self) -> Vec<String> {
        let networks: BTreeSet<String> = self
            .members()
            .iter()
            .filter_map(|m| self.choices.get(&m.name).and_then(|c| c.address))
            .map(|a| a.network())
            .collect();
        networks.into_iter().collect()
    }

    pub(super) fn on_networks_key(&mut self, key: Key) -> Vec<Effect> {
        let members = self.members();
        // One row a member, then the instance network.
        let rows = members.len() + 1;
        if let Some(cursor) = moved(self.net_cursor, rows, key) {
            self.net_cursor = cursor;
            return Vec::new();
        }
        let step: isize = match key {
            Key::Space | Key::Right | Key::Char('l') => 1,
            Key::Left | Key::Char('h') => -1,
            Key::Char('r') => return self.refetch(),
            Key::Enter => return self.leave_networks(),
            _ => return Vec::new(),
        };
        match members.get(self.net_cursor) {
            Some(member) => {
                let candidates = self.address_candidates(&member.name);
                if candidates.is_empty() {
                    return Vec::new();
                }
                let choices = self.choices.entry(member.name.clone()).or_default();
                let at = choices
                    .address
                    .and_then(|a| candidates.iter().position(|(_, c)| *c == a))
                    .unwrap_or(0);
                choices.address = Some(candidates[cycle(at, candidates.len(), step)].1);
            }
            None => {
                let all = InstanceNetwork::ALL;
                let at = all
                    .iter()
                    .position(|n| *n == self.instance_network)
                    .unwrap_or(0);
                self.instance_network = all[cycle(at, all.len(), step)];
            }
        }
        self.dirty = true;
        Vec::new()
    }

    pub(super) fn leave_networks(&mut self) -> Vec<Effect> {
        if !self.all_loaded("interfaces", |i| &i.interfaces) {
            return Vec::new();
        }
        self.default_addresses();
        match self.selection() {
            Ok(selection) => {
                self.plan = PlanState::Building;
                self.plan_cursor = 0;
                self.screen = Screen::Plan;
                self.dirty = true;
                vec![Effect::BuildPlan(selection)]
            }
            Err(why) => {
                self.say(Level::Error, why);
                Vec::new()
            }
        }
    }

    /// What the operator chose, for the planner; an error names what is
    /// still missing.
    pub fn selection(&self) -> Result<Selection, String> {
        let mut members = Vec::new();
        for member in self.members() {
            let choices = self.choices.get(&member.name).cloned().unwrap_or_default();
            let address = choices.address.ok_or_else(|| {
                format!(
                    "{} has no address for cluster traffic: it needs an interface that is up.",
                    member.name
                )
            })?;
            let disks: &[Disk] = match self.inventory.get(&member.name).map(|i| &i.disks) {
                Some(Loading::Ready(disks)) => disks,
                _ => &[],
            };
            let chosen = |name: &String| {
                disks.iter().find(|d| &d.name == name).map(|d| ChosenDisk {
                    name: d.name.clone(),
                    path: d.path.clone(),
                    by_id: d.by_id.first().cloned(),
                    size_bytes: d.size_bytes,
                    wipe: choices.wipe.contains(&d.name),
                })
            };
            members.push(MemberSelection {
                name: member.name.clone(),
                initiator: member.initiator,
                cluster_address: address.ip,
                cluster_prefix: address.prefix,
                local_storage: choices.local.as_ref().and_then(chosen),
                ceph_disks: choices.ceph.iter().filter_map(chosen).collect(),
            });
        }
        Ok(Selection {
            members,
            instance_network: self.instance_network,
        })
    }
}
