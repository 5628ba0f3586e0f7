//! The wizard's state machine: pure, no terminal, no I/O. Keys and world
//! events go in through [`Wizard::update`]; what the outside must do comes
//! out as [`Effect`]s. Drawing reads the state and never changes it.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use muster_discovery::Peer;
use muster_disks::Disk;

use crate::model::{Effect, Input, InstanceNetwork, Interface, Key, PlanLine, StepStatus, World};
use crate::net::Candidate;

mod apply;
mod disks;
mod networks;
mod peers;
mod session;
#[cfg(test)]
mod tests;

pub use session::short_fingerprint;

/// The screens, in the order the operator goes through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Screen {
    Peers,
    Session,
    Disks,
    Networks,
    Plan,
    Progress,
}

impl Screen {
    pub const ALL: [Screen; 6] = [
        Screen::Peers,
        Screen::Session,
        Screen::Disks,
        Screen::Networks,
        Screen::Plan,
        Screen::Progress,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Screen::Peers => "Peers",
            Screen::Session => "Trust",
            Screen::Disks => "Disks",
            Screen::Networks => "Networks",
            Screen::Plan => "Plan",
            Screen::Progress => "Apply",
        }
    }
}

/// A question that takes over the keys until it is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modal {
    Wipe(WipeRequest),
    Quit,
}

/// A disk with data on it that the operator chose: it is only taken once
/// they confirm, having been told what is on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WipeRequest {
    pub member: String,
    pub disk: String,
    pub path: String,
    pub role: Role,
    pub contents: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The member's local storage pool.
    Local,
    Ceph,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warning,
    Error,
}

/// A line for the operator about their last key, cleared by the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub level: Level,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerRow {
    pub peer: Peer,
    pub chosen: bool,
    /// Said goodbye over mDNS while chosen; kept so the choice stays visible.
    pub gone: bool,
    /// The operator added it by this address: mDNS saying goodbye does not
    /// take it away.
    pub by_address: Option<SocketAddr>,
}

/// Something the wizard needs from the outside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loading<T> {
    NotAsked,
    /// Asked for, not here yet.
    Waiting,
    Ready(T),
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inventory {
    pub disks: Loading<Vec<Disk>>,
    pub interfaces: Loading<Vec<Interface>>,
}

/// One member's choices, kept by name so that going back and forth does
/// not lose them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Choices {
    pub local: Option<String>,
    pub ceph: BTreeSet<String>,
    /// Disks whose wipe the operator confirmed.
    pub wipe: BTreeSet<String>,
    pub address: Option<Candidate>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedAttemptRow {
    pub address: String,
    pub claimed_name: Option<String>,
    pub count: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Session {
    pub requested: bool,
    pub passphrase: Option<String>,
    pub fingerprint: Option<String>,
    pub failed: Option<String>,
    /// Name to short fingerprint.
    pub trusted: BTreeMap<String, String>,
    /// Most recent first.
    pub failures: Vec<FailedAttemptRow>,
    pub failed_total: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanState {
    NotBuilt,
    Building,
    Ready(Vec<PlanLine>),
    Failed(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyState {
    NotStarted,
    Running,
    Failed,
    Finished,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRow {
    pub step: String,
    /// `None` until the step starts.
    pub status: Option<StepStatus>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberProgress {
    pub member: String,
    pub steps: Vec<StepRow>,
}

/// A member of the cluster to be: the initiator or a chosen peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub initiator: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wizard {
    pub(crate) screen: Screen,
    pub(crate) modal: Option<Modal>,
    pub(crate) notice: Option<Notice>,
    pub(crate) dirty: bool,
    pub(crate) local: String,

    pub(crate) peers: Vec<PeerRow>,
    pub(crate) filter: String,
    pub(crate) filtering: bool,
    pub(crate) peer_cursor: usize,
    /// What the operator is typing at the "add by address" prompt, while
    /// it is open.
    pub(crate) address_input: Option<String>,
    /// Addresses asked who they are, not answered yet.
    pub(crate) asking: Vec<SocketAddr>,

    pub(crate) session: Session,

    pub(crate) inventory: BTreeMap<String, Inventory>,
    pub(crate) choices: BTreeMap<String, Choices>,
    pub(crate) disk_cursor: usize,
    pub(crate) net_cursor: usize,
    pub(crate) instance_network: InstanceNetwork,

    pub(crate) plan: PlanState,
    pub(crate) plan_cursor: usize,
    /// What each member runs, as the planner observed it.
    pub(crate) builds: BTreeMap<String, String>,

    pub(crate) apply: ApplyState,
    pub(crate) progress: Vec<MemberProgress>,
    pub(crate) progress_cursor: usize,
}

const PAGE: usize = 10;

/// Ceph's default pools keep three replicas on three hosts.
pub const CEPH_MIN_MEMBERS: usize = 3;

impl Wizard {
    /// A wizard run on the server named `local`, which is always a member.
    pub fn new(local: impl Into<String>) -> Wizard {
        Wizard {
            screen: Screen::Peers,
            modal: None,
            notice: None,
            dirty: false,
            local: local.into(),
            peers: Vec::new(),
            filter: String::new(),
            filtering: false,
            peer_cursor: 0,
            address_input: None,
            asking: Vec::new(),
            session: Session::default(),
            inventory: BTreeMap::new(),
            choices: BTreeMap::new(),
            disk_cursor: 0,
            net_cursor: 0,
            instance_network: InstanceNetwork::default(),
            plan: PlanState::NotBuilt,
            plan_cursor: 0,
            builds: BTreeMap::new(),
            apply: ApplyState::NotStarted,
            progress: Vec::new(),
            progress_cursor: 0,
        }
    }

    pub fn screen(&self) -> Screen {
        self.screen
    }

    pub fn modal(&self) -> Option<&Modal> {
        self.modal.as_ref()
    }

    pub fn notice(&self) -> Option<&Notice> {
        self.notice.as_ref()
    }

    /// Whether quitting now would lose something the operator did.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    pub fn apply_state(&self) -> ApplyState {
        self.apply
    }

    pub fn local_name(&self) -> &str {
        &self.local
    }

    /// "LXD 5.0.2" or "Incus 6.0.4" once a plan has observed the member.
    pub fn build_of(&self, member: &str) -> Option<&str> {
        self.builds.get(member).map(String::as_str)
    }

    pub fn update(&mut self, input: Input) -> Vec<Effect> {
        match input {
            Input::Key(key) => {
                self.notice = None;
                self.on_key(key)
            }
            Input::World(event) => {
                self.on_world(event);
                Vec::new()
            }
        }
    }

    fn on_key(&mut self, key: Key) -> Vec<Effect> {
        if self.modal.is_some() {
            return self.on_modal_key(key);
        }
        if key == Key::Interrupt {
            return self.request_quit();
        }
        if self.screen == Screen::Peers && self.filtering {
            return self.on_filter_key(key);
        }
        if self.screen == Screen::Peers && self.address_input.is_some() {
            return self.on_address_key(key);
        }
        match key {
            Key::Char('q') => return self.request_quit(),
            Key::Esc => {
                self.back();
                return Vec::new();
            }
            _ => {}
        }
        match self.screen {
            Screen::Peers => self.on_peers_key(key),
            Screen::Session => self.on_session_key(key),
            Screen::Disks => self.on_disks_key(key),
            Screen::Networks => self.on_networks_key(key),
            Screen::Plan => self.on_plan_key(key),
            Screen::Progress => self.on_progress_key(key),
        }
    }

    fn request_quit(&mut self) -> Vec<Effect> {
        if self.dirty {
            self.modal = Some(Modal::Quit);
            Vec::new()
        } else {
            vec![Effect::Quit]
        }
    }

    fn on_modal_key(&mut self, key: Key) -> Vec<Effect> {
        let Some(modal) = self.modal.take() else {
            return Vec::new();
        };
        match (modal, key) {
            (Modal::Quit, Key::Char('y' | 'Y') | Key::Interrupt) => return vec![Effect::Quit],
            (Modal::Wipe(request), Key::Char('y' | 'Y')) => self.confirm_wipe(request),
            (Modal::Wipe(_), Key::Interrupt) => return self.request_quit(),
            (_, Key::Char('n' | 'N') | Key::Esc) => {}
            // Anything else leaves the question standing: a stray key must
            // not count as an answer.
            (modal, _) => self.modal = Some(modal),
        }
        Vec::new()
    }

    fn back(&mut self) {
        self.screen = match self.screen {
            Screen::Peers => {
                self.filter.clear();
                self.peer_cursor = 0;
                Screen::Peers
            }
            Screen::Session => Screen::Peers,
            Screen::Disks => Screen::Session,
            Screen::Networks => Screen::Disks,
            Screen::Plan => Screen::Networks,
            Screen::Progress => {
                self.say(
                    Level::Info,
                    "The plan is being applied: there is no going back from here.",
                );
                Screen::Progress
            }
        };
    }

    fn say(&mut self, level: Level, text: impl Into<String>) {
        self.notice = Some(Notice {
            level,
            text: text.into(),
        });
    }

    fn on_world(&mut self, event: World) {
        match event {
            World::Peer(event) => self.on_peer_event(event),
            World::LookedUp { address, peer } => self.on_looked_up(address, peer),
            World::SessionOpened {
                passphrase,
                fingerprint,
            } => {
                self.session.passphrase = Some(passphrase);
                self.session.fingerprint = Some(short_fingerprint(&fingerprint));
                self.session.failed = None;
            }
            World::SessionFailed(message) => self.session.failed = Some(message),
            World::PeerTrusted { name, fingerprint } => {
                self.session
                    .trusted
                    .insert(name, short_fingerprint(&fingerprint));
            }
            World::FailedAttempt {
                address,
                claimed_name,
            } => {
                self.session.failed_total += 1;
                let failures = &mut self.session.failures;
                let count = match failures.iter().position(|f| f.address == address) {
                    Some(i) => failures.remove(i).count + 1,
                    None => 1,
                };
                failures.insert(
                    0,
                    FailedAttemptRow {
                        address,
                        claimed_name,
                        count,
                    },
                );
            }
            World::DisksOf { peer, disks } => self.on_disks(peer, disks),
            World::DisksFailed { peer, message } => {
                self.inventory_mut(&peer).disks = Loading::Failed(message);
                self.clamp_disk_cursor();
            }
            World::InterfacesOf { peer, interfaces } => {
                self.inventory_mut(&peer).interfaces = Loading::Ready(interfaces);
                if self.screen >= Screen::Networks {
                    self.default_addresses();
                }
            }
            World::InterfacesFailed { peer, message } => {
                self.inventory_mut(&peer).interfaces = Loading::Failed(message);
            }
            World::PlanReady(lines) => {
                self.plan = PlanState::Ready(lines);
                self.plan_cursor = 0;
            }
            World::Builds(builds) => self.builds = builds,
            World::PlanFailed(message) => self.plan = PlanState::Failed(message),
            World::Progress(progress) => self.on_progress(progress),
            World::ApplyFinished => {
                self.apply = ApplyState::Finished;
                // Nothing is lost by quitting now.
                self.dirty = false;
            }
        }
    }
}

/// The cursor after a movement key, or `None` when `key` does not move.
fn moved(cursor: usize, len: usize, key: Key) -> Option<usize> {
    let last = len.saturating_sub(1);
    let to = match key {
        Key::Up | Key::Char('k') => cursor.saturating_sub(1),
        Key::Down | Key::Char('j') => cursor + 1,
        Key::PageUp => cursor.saturating_sub(PAGE),
        Key::PageDown => cursor + PAGE,
        Key::Home | Key::Char('g') => 0,
        Key::End | Key::Char('G') => last,
        _ => return None,
    };
    Some(to.min(last))
}

fn cycle(at: usize, len: usize, step: isize) -> usize {
    (at as isize + step).rem_euclid(len as isize) as usize
}
