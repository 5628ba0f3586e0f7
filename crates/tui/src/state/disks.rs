//! The disks screen: local storage and Ceph disks per member, and wipes.

use muster_disks::Disk;

use super::{
    moved, Choices, Inventory, Level, Loading, Modal, Notice, Role, Screen, WipeRequest, Wizard,
    CEPH_MIN_MEMBERS,
};
use crate::disk_info::{self, Usability};
use crate::model::{Effect, Key};

impl Wizard {
    pub fn inventory(&self, member: &str) -> Option<&Inventory> {
        self.inventory.get(member)
    }

    pub fn choices(&self, member: &str) -> Option<&Choices> {
        self.choices.get(member)
    }

    /// Every disk shown on the disks screen, as (member, disk), in order.
    pub fn disk_rows(&self) -> Vec<(String, &Disk)> {
        let mut rows = Vec::new();
        for member in self.members() {
            if let Some(Loading::Ready(disks)) = self.inventory.get(&member.name).map(|i| &i.disks)
            {
                rows.extend(disks.iter().map(|d| (member.name.clone(), d)));
            }
        }
        rows
    }

    /// Members giving Ceph at least one disk.
    pub fn ceph_members(&self) -> usize {
        self.members()
            .iter()
            .filter(|m| {
                self.choices
                    .get(&m.name)
                    .is_some_and(|c| !c.ceph.is_empty())
            })
            .count()
    }

    /// The warning about Ceph's redundancy, when it applies.
    pub fn ceph_warning(&self) -> Option<String> {
        match self.ceph_members() {
            0 => Some("No Ceph disks chosen: the cluster will have no distributed storage.".into()),
            n if n < CEPH_MIN_MEMBERS => Some(format!(
                "Only {n} member{} give{} Ceph disks: {CEPH_MIN_MEMBERS} are needed for 3 replicas.",
                if n == 1 { "" } else { "s" },
                if n == 1 { "s" } else { "" },
            )),
            _ => None,
        }
    }

    pub(super) fn clamp_disk_cursor(&mut self) {
        let len = self.disk_rows().len();
        self.disk_cursor = self.disk_cursor.min(len.saturating_sub(1));
    }

    pub(super) fn on_disks_key(&mut self, key: Key) -> Vec<Effect> {
        let len = self.disk_rows().len();
        if let Some(cursor) = moved(self.disk_cursor, len, key) {
            self.disk_cursor = cursor;
            return Vec::new();
        }
        match key {
            Key::Space | Key::Char('c') => self.choose_disk(Role::Ceph),
            Key::Char('l') => self.choose_disk(Role::Local),
            Key::Char('r') => return self.refetch(),
            Key::Enter => self.leave_disks(),
            _ => {}
        }
        Vec::new()
    }

    pub(super) fn choose_disk(&mut self, role: Role) {
        let Some((member, disk)) = self
            .disk_rows()
            .get(self.disk_cursor)
            .map(|(m, d)| (m.clone(), (*d).clone()))
        else {
            return;
        };
        let choices = self.choices.entry(member.clone()).or_default();
        let taken = match role {
            Role::Local => choices.local.as_deref() == Some(disk.name.as_str()),
            Role::Ceph => choices.ceph.contains(&disk.name),
        };
        if taken {
            match role {
                Role::Local => choices.local = None,
                Role::Ceph => {
                    choices.ceph.remove(&disk.name);
                }
            }
            choices.wipe.remove(&disk.name);
            self.dirty = true;
            return;
        }
        match disk_info::usability(&disk) {
            Usability::Blocked(why) => {
                let text = format!(
                    "{} on {member} cannot be used: {}",
                    disk.name,
                    why.join("; ")
                );
                self.say(Level::Error, text);
            }
            Usability::NeedsWipe(contents) if !choices.wipe.contains(&disk.name) => {
                self.modal = Some(Modal::Wipe(WipeRequest {
                    member,
                    disk: disk.name.clone(),
                    path: disk.path.clone(),
                    role,
                    contents,
                }));
            }
            _ => {
                assign(choices, &disk.name, role);
                self.dirty = true;
            }
        }
    }

    pub(super) fn confirm_wipe(&mut self, request: WipeRequest) {
        let choices = self.choices.entry(request.member).or_default();
        choices.wipe.insert(request.disk.clone());
        assign(choices, &request.disk, request.role);
        self.dirty = true;
    }

    /// Asks for the inventories not asked for yet or that could not be
    /// read. What arrived is kept: a member's choices stay valid as long as
    /// its disks are the ones they were made on.
    pub(super) fn fetch_missing(&mut self) -> Vec<Effect> {
        let mut effects = Vec::new();
        for member in self.members() {
            let inv = self.inventory_mut(&member.name);
            let ask_disks = !matches!(inv.disks, Loading::Ready(_) | Loading::Waiting);
            let ask_interfaces = !matches!(inv.interfaces, Loading::Ready(_) | Loading::Waiting);
            if ask_disks {
                inv.disks = Loading::Waiting;
                effects.push(Effect::FetchDisks(member.name.clone()));
            }
            if ask_interfaces {
                inv.interfaces = Loading::Waiting;
                effects.push(Effect::FetchInterfaces(member.name.clone()));
            }
        }
        effects
    }

    pub(super) fn refetch(&mut self) -> Vec<Effect> {
        let effects = self.fetch_missing();
        if effects.is_empty() {
            self.say(Level::Info, "Nothing to read again.");
        }
        effects
    }

    /// Whether every member's `what` arrived; if not, says which did not.
    pub(super) fn all_loaded<T>(
        &mut self,
        what: &str,
        get: impl Fn(&Inventory) -> &Loading<T>,
    ) -> bool {
        for member in self.members() {
            match self.inventory.get(&member.name).map(&get) {
                Some(Loading::Ready(_)) => {}
                Some(Loading::Failed(_)) => {
                    let text = format!(
                        "The {what} of {} could not be read: r reads them again.",
                        member.name
                    );
                    self.say(Level::Error, text);
                    return false;
                }
                _ => {
                    let text = format!("Still reading the {what} of {}.", member.name);
                    self.say(Level::Info, text);
                    return false;
                }
            }
        }
        true
    }

    pub(super) fn leave_disks(&mut self) {
        if !self.all_loaded("disks", |i| &i.disks) {
            return;
        }
        self.screen = Screen::Networks;
        self.default_addresses();
    }

    pub(super) fn on_disks(&mut self, peer: String, disks: Vec<Disk>) {
        let old = self.inventory.get(&peer).and_then(|i| match &i.disks {
            Loading::Ready(d) => Some(d.clone()),
            _ => None,
        });
        if let Some(choices) = self.choices.get_mut(&peer) {
            // A choice, and above all a wipe confirmation, was made on what
            // the disk held then: if the disk changed, it must be made again.
            let unchanged = |name: &String| {
                let before = old
                    .as_ref()
                    .and_then(|d| d.iter().find(|x| &x.name == name));
                let now = disks.iter().find(|x| &x.name == name);
                before.is_some() && before == now
            };
            let before = (
                choices.local.clone(),
                choices.ceph.len(),
                choices.wipe.len(),
            );
            choices.local = choices.local.take().filter(&unchanged);
            choices.ceph.retain(&unchanged);
            choices.wipe.retain(&unchanged);
            if before
                != (
                    choices.local.clone(),
                    choices.ceph.len(),
                    choices.wipe.len(),
                )
            {
                self.notice = Some(Notice {
                    level: Level::Warning,
                    text: format!("The disks of {peer} changed: choose them again."),
                });
            }
        }
        self.inventory_mut(&peer).disks = Loading::Ready(disks);
        self.clamp_disk_cursor();
    }

    pub(super) fn inventory_mut(&mut self, member: &str) -> &mut Inventory {
        self.inventory
            .entry(member.to_string())
            .or_insert(Inventory {
                disks: Loading::NotAsked,
                interfaces: Loading::NotAsked,
            })
    }
}

fn assign(choices: &mut Choices, disk: &str, role: Role) {
    // A disk serves one purpose; a member has one local-storage disk.
    choices.ceph.remove(disk);
    if choices.local.as_deref() == Some(disk) {
        choices.local = None;
    }
    match role {
        Role::Local => choices.local = Some(disk.to_string()),
        Role::Ceph => {
            choices.ceph.insert(disk.to_string());
        }
    }
}
