//! What goes into the wizard and what comes out of it. These types are the
//! wizard's own, kept small on purpose: the caller maps the trust session's,
//! the inventory's and the plan's types onto them, so that the wizard does
//! not wait for those crates to settle.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use muster_discovery::{Peer, PeerEvent};
use muster_disks::Disk;

/// A key, as the wizard understands it. The event loop maps the terminal's
/// key events onto these; tests build them directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Home,
    End,
    Space,
    Enter,
    Esc,
    Backspace,
    Tab,
    Char(char),
    /// Ctrl-C: raw mode turns it into a key instead of a signal.
    Interrupt,
}

/// Everything that can change the wizard.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    Key(Key),
    World(World),
}

impl From<Key> for Input {
    fn from(key: Key) -> Self {
        Input::Key(key)
    }
}

impl From<World> for Input {
    fn from(event: World) -> Self {
        Input::World(event)
    }
}

/// What happened outside: discovery, the trust session, the inventory, the
/// planner and the apply, each reported by the caller as it learns it.
#[derive(Debug, Clone, PartialEq)]
pub enum World {
    Peer(PeerEvent),
    /// The answer to [`Effect::LookUpPeer`]: the peer as the agent at
    /// `address` describes itself, judged as a discovered one is, or why
    /// no muster agent answered there.
    LookedUp {
        address: SocketAddr,
        peer: Result<Peer, String>,
    },
    /// The session asked for by [`Effect::OpenSession`] is open.
    SessionOpened {
        passphrase: String,
        /// The initiator's certificate fingerprint; shortened for display
        /// when given in full.
        fingerprint: String,
    },
    /// The session could not be opened, or ended (expired, too many wrong
    /// passphrases). The message is shown as is.
    SessionFailed(String),
    /// A joiner proved the passphrase; `name` is the name it is trusted as.
    PeerTrusted {
        name: String,
        fingerprint: String,
    },
    /// A wrong passphrase was tried.
    FailedAttempt {
        address: String,
        claimed_name: Option<String>,
    },
    DisksOf {
        peer: String,
        disks: Vec<Disk>,
    },
    DisksFailed {
        peer: String,
        message: String,
    },
    InterfacesOf {
        peer: String,
        interfaces: Vec<Interface>,
    },
    InterfacesFailed {
        peer: String,
        message: String,
    },
    PlanReady(Vec<PlanLine>),
    /// What each member runs ("LXD 5.0.2", "Incus 6.0.4"), by name: shown
    /// beside its name from then on.
    Builds(BTreeMap<String, String>),
    PlanFailed(String),
    Progress(Progress),
    /// Every step of the plan is done.
    ApplyFinished,
}

/// What the caller must do for the wizard; the wizard itself does no I/O.
/// Results come back as [`World`] events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Open the trust session on the local agent (answer with
    /// [`World::SessionOpened`] or [`World::SessionFailed`]).
    OpenSession,
    /// Ask the agent at this address who it is (answer with
    /// [`World::LookedUp`]).
    LookUpPeer(SocketAddr),
    /// The peers (by name) the operator chose: expect them to join, and
    /// report each with [`World::PeerTrusted`]. Sent again whenever the
    /// choice changes; the last one counts.
    TrustPeers(Vec<String>),
    FetchDisks(String),
    FetchInterfaces(String),
    BuildPlan(Selection),
    /// Carry out the plan last reported with [`World::PlanReady`].
    Apply,
    /// Carry out the plan again after a failure: steps already done find
    /// themselves done.
    Retry,
    Quit,
}

/// One network interface of a member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    /// `ADDRESS/PREFIX` forms.
    pub addresses: Vec<String>,
    pub up: bool,
}

/// One line of the plan: a step a member will carry out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanLine {
    pub member: String,
    pub step: String,
}

impl PlanLine {
    pub fn new(member: impl Into<String>, step: impl Into<String>) -> Self {
        PlanLine {
            member: member.into(),
            step: step.into(),
        }
    }
}

/// A step changed state during the apply. Steps are matched to plan lines
/// by member and text; a step not in the plan is shown after the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub member: String,
    pub step: String,
    pub status: StepStatus,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepStatus {
    Running,
    Done,
    /// Found done when its turn came: nothing was run for it.
    Skipped,
    /// With LXD's or Ceph's own message.
    Failed(String),
}

/// How instances reach each other and the outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InstanceNetwork {
    /// A managed bridge on every member, NAT to the outside, subnet chosen
    /// by LXD.
    #[default]
    Bridge,
}

impl InstanceNetwork {
    /// Only what muster makes is offered (the Ubuntu fan needs an Ubuntu
    /// kernel, so it is not among them).
    pub const ALL: [InstanceNetwork; 1] = [InstanceNetwork::Bridge];

    pub fn describe(self) -> &'static str {
        match self {
            InstanceNetwork::Bridge => "bridge lxdbr0 on each member, NAT to the outside",
        }
    }
}

/// What the operator chose: the planner's input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// The initiator first, then the other members by name.
    pub members: Vec<MemberSelection>,
    pub instance_network: InstanceNetwork,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSelection {
    pub name: String,
    /// The server `muster init` runs on.
    pub initiator: bool,
    /// Where LXD and Ceph of this member talk to the others.
    pub cluster_address: IpAddr,
    pub cluster_prefix: u8,
    /// `None`: a `dir` pool on the OS disk.
    pub local_storage: Option<ChosenDisk>,
    pub ceph_disks: Vec<ChosenDisk>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChosenDisk {
    /// Kernel name, e.g. `sdb`.
    pub name: String,
    pub path: String,
    /// The first `/dev/disk/by-id` path, stable across reboots.
    pub by_id: Option<String>,
    pub size_bytes: u64,
    /// The operator confirmed that what is on it may be destroyed.
    pub wipe: bool,
}
