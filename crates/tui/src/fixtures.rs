//! Wizards driven to each screen through `update`, shared by the state
//! machine's tests and the snapshots.

use muster_discovery::PeerEvent;

use crate::model::{Effect, Input, Key, PlanLine, Progress, StepStatus, World};
pub(crate) use crate::sample::*;
use crate::state::Wizard;

pub(crate) const LOCAL: &str = "s1";

/// Feeds inputs, collecting the effects.
pub(crate) fn feed(wizard: &mut Wizard, inputs: impl IntoIterator<Item = Input>) -> Vec<Effect> {
    inputs
        .into_iter()
        .flat_map(|input| wizard.update(input))
        .collect()
}

pub(crate) fn keys(wizard: &mut Wizard, keys: &[Key]) -> Vec<Effect> {
    feed(wizard, keys.iter().copied().map(Input::Key))
}

/// Types `text` a character at a time.
pub(crate) fn type_text(wizard: &mut Wizard, text: &str) -> Vec<Effect> {
    let keys: Vec<Key> = text.chars().map(Key::Char).collect();
    self::keys(wizard, &keys)
}

pub(crate) fn world(wizard: &mut Wizard, event: World) {
    assert_eq!(wizard.update(Input::World(event)), Vec::new());
}

/// Four peers found: three compatible, one not.
pub(crate) fn at_peers() -> Wizard {
    let mut w = Wizard::new(LOCAL);
    for p in [
        peer("s3", 3),
        peer("s2", 2),
        incompatible("old1", 9, "protocol 0, this muster speaks 1"),
        peer("s4", 4),
        // The local agent advertises itself too.
        peer(LOCAL, 1),
    ] {
        world(&mut w, World::Peer(PeerEvent::Found(p)));
    }
    w
}

/// s2 and s3 chosen, the session open, s2 trusted, one wrong passphrase.
pub(crate) fn at_session() -> Wizard {
    let mut w = at_peers();
    // Rows: old1, s2, s3, s4.
    keys(
        &mut w,
        &[Key::Down, Key::Space, Key::Down, Key::Space, Key::Enter],
    );
    world(
        &mut w,
        World::SessionOpened {
            passphrase: "coral-tiger-maple-echo".into(),
            fingerprint: "3f9a1c0b7e2d4a6f".repeat(4),
        },
    );
    world(
        &mut w,
        World::PeerTrusted {
            name: "s2".into(),
            fingerprint: "a1b2c3d4e5f60718".repeat(4),
        },
    );
    world(
        &mut w,
        World::FailedAttempt {
            address: "10.0.0.66".into(),
            claimed_name: Some("s3".into()),
        },
    );
    w
}

/// Every member trusted, disks read; nothing chosen yet.
pub(crate) fn at_disks() -> Wizard {
    let mut w = at_session();
    world(
        &mut w,
        World::PeerTrusted {
            name: "s3".into(),
            fingerprint: "0badc0ffee15900d".repeat(4),
        },
    );
    keys(&mut w, &[Key::Enter]);
    let mut nvme = disk("nvme0n1", 500);
    nvme.transport = Some("nvme".into());
    nvme.model = Some("Samsung SSD 980 PRO 500GB".into());
    for (member, disks) in [
        (
            LOCAL,
            vec![os_disk("sda", 32), disk("sdb", 100), ext4_disk("sdc", 200)],
        ),
        (
            "s2",
            vec![os_disk("sda", 32), disk("sdb", 100), disk("sdc", 200)],
        ),
        ("s3", vec![os_disk("sda", 32), nvme]),
    ] {
        world(
            &mut w,
            World::DisksOf {
                peer: member.into(),
                disks,
            },
        );
    }
    for (member, octet) in [(LOCAL, 1), ("s2", 2), ("s3", 3)] {
        world(
            &mut w,
            World::InterfacesOf {
                peer: member.into(),
                interfaces: interfaces(octet),
            },
        );
    }
    w
}

/// Disks chosen: local storage on s1 and s2, Ceph on s1 (after a wipe) and
/// s2; then on to the networks.
pub(crate) fn at_networks() -> Wizard {
    let mut w = at_disks();
    // Rows: s1 sda, sdb, sdc; s2 sda, sdb, sdc; s3 sda, nvme0n1.
    keys(
        &mut w,
        &[
            Key::Down,
            Key::Char('l'),
            Key::Down,
            Key::Space,
            Key::Char('y'),
            Key::Down,
            Key::Down,
            Key::Char('l'),
            Key::Down,
            Key::Space,
            Key::Enter,
        ],
    );
    w
}

pub(crate) fn plan_lines() -> Vec<PlanLine> {
    vec![
        PlanLine::new("s1", "Set LXD's cluster address to 10.0.0.1:8443"),
        PlanLine::new("s1", "Create storage pool local on /dev/sdb"),
        PlanLine::new("s1", "Wipe /dev/sdc (ext4 filesystem)"),
        PlanLine::new("s1", "Bootstrap the Ceph monitor and manager"),
        PlanLine::new("s1", "Create a Ceph OSD on /dev/sdc"),
        PlanLine::new("s1", "Enable clustering as s1"),
        PlanLine::new("s2", "Join the LXD cluster at 10.0.0.1:8443"),
        PlanLine::new("s2", "Create storage pool local on /dev/sdb"),
        PlanLine::new("s2", "Join Ceph: monitor and manager"),
        PlanLine::new("s2", "Create a Ceph OSD on /dev/sdc"),
        PlanLine::new("s3", "Join the LXD cluster at 10.0.0.1:8443"),
        PlanLine::new("s3", "Use a dir pool on the OS disk for local storage"),
        PlanLine::new("s1", "Create the Ceph pool and the remote storage pool"),
        PlanLine::new("s1", "Create network lxdbr0 and the default profile"),
    ]
}

pub(crate) fn at_plan() -> Wizard {
    let mut w = at_networks();
    keys(&mut w, &[Key::Enter]);
    // As the CLI sends them: what each member runs, then the plan.
    let builds = ["s1", "s2", "s3"].map(|m| (m.to_owned(), "LXD 5.0.2".to_owned()));
    world(&mut w, World::Builds(builds.into_iter().collect()));
    world(&mut w, World::PlanReady(plan_lines()));
    w
}

pub(crate) fn progress(member: &str, step: &str, status: StepStatus) -> World {
    World::Progress(Progress {
        member: member.into(),
        step: step.into(),
        status,
    })
}

/// Applying: s1's first steps done, s2 running.
pub(crate) fn at_progress() -> Wizard {
    let mut w = at_plan();
    keys(&mut w, &[Key::Enter]);
    for line in &plan_lines()[..6] {
        world(
            &mut w,
            progress(&line.member, &line.step, StepStatus::Running),
        );
        world(&mut w, progress(&line.member, &line.step, StepStatus::Done));
    }
    world(
        &mut w,
        progress(
            "s2",
            "Join the LXD cluster at 10.0.0.1:8443",
            StepStatus::Running,
        ),
    );
    w
}

pub(crate) const CEPH_ERROR: &str = "ceph-osd --mkfs failed: bluestore(/var/lib/ceph/osd/ceph-1) \
    _read_fsid unparsable uuid; (22) Invalid argument: block device /dev/sdc is busy";

/// Applying: s2's OSD failed with Ceph's message.
pub(crate) fn at_progress_failed() -> Wizard {
    let mut w = at_progress();
    for line in &plan_lines()[6..9] {
        world(&mut w, progress(&line.member, &line.step, StepStatus::Done));
    }
    world(
        &mut w,
        progress(
            "s2",
            "Create a Ceph OSD on /dev/sdc",
            StepStatus::Failed(CEPH_ERROR.into()),
        ),
    );
    w
}
