//! How long the wizard takes from a key press to a drawn screen, with 50
//! peers of 20 disks each: every screen, a key handled by the state
//! machine and the frame drawn on ratatui's TestBackend (120x40), many
//! times; prints the median, the 99th percentile and the slowest (which
//! also shows the machine's other load). Asserts nothing.
//!
//! `cargo bench -p muster-tui --bench screens`

use std::time::{Duration, Instant};

use muster_discovery::PeerEvent;
use muster_tui::sample::{disk, interfaces, os_disk, peer};
use muster_tui::{draw, Input, Key, PlanLine, Progress, StepStatus, Theme, Wizard, World};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

const PEERS: usize = 50;
const DISKS: usize = 20;
const PRESSES: usize = 200;

fn main() {
    let mut w = Wizard::new("s1");
    let names: Vec<String> = (1..=PEERS).map(|i| format!("s{i}")).collect();
    for (i, name) in names.iter().enumerate() {
        world(&mut w, World::Peer(PeerEvent::Found(peer(name, octet(i)))));
    }
    measure("peers", &mut w, Key::Down);

    // Every peer chosen, on to the trust session.
    keys(&mut w, &[Key::Char('a'), Key::Enter]);
    world(
        &mut w,
        World::SessionOpened {
            passphrase: "coral-tiger-maple-echo-lunar".into(),
            fingerprint: "3f9a1c0b7e2d4a6f".repeat(4),
        },
    );
    for name in names.iter().skip(1) {
        world(
            &mut w,
            World::PeerTrusted {
                name: name.clone(),
                fingerprint: "a1b2c3d4e5f60718".repeat(4),
            },
        );
    }
    measure("trust", &mut w, Key::Down);

    keys(&mut w, &[Key::Enter]);
    for (i, name) in names.iter().enumerate() {
        let mut disks = vec![os_disk("sda", 32)];
        disks.extend((1..DISKS).map(|d| disk(&format!("sd{}", letter(d)), 100 + d as u64)));
        world(
            &mut w,
            World::DisksOf {
                peer: name.clone(),
                disks,
            },
        );
        world(
            &mut w,
            World::InterfacesOf {
                peer: name.clone(),
                interfaces: interfaces(octet(i)),
            },
        );
    }
    measure("disks", &mut w, Key::Down);

    keys(&mut w, &[Key::Enter]);
    measure("networks", &mut w, Key::Down);

    keys(&mut w, &[Key::Enter]);
    let plan: Vec<PlanLine> = names
        .iter()
        .flat_map(|n| {
            [
                PlanLine::new(n, "Join the LXD cluster"),
                PlanLine::new(n, "Define storage pool local"),
                PlanLine::new(n, "Add a Ceph manager"),
                PlanLine::new(n, "Create a Ceph OSD on /dev/sdb"),
            ]
        })
        .collect();
    world(&mut w, World::PlanReady(plan.clone()));
    measure("plan", &mut w, Key::Down);

    keys(&mut w, &[Key::Enter]);
    for line in &plan[..plan.len() / 2] {
        world(
            &mut w,
            World::Progress(Progress {
                member: line.member.clone(),
                step: line.step.clone(),
                status: StepStatus::Done,
            }),
        );
    }
    measure("progress", &mut w, Key::Down);
}

fn octet(i: usize) -> u8 {
    (i % 250 + 2) as u8
}

fn letter(d: usize) -> char {
    (b'a' + d as u8) as char
}

fn world(w: &mut Wizard, event: World) {
    w.update(Input::World(event));
}

fn keys(w: &mut Wizard, keys: &[Key]) {
    for key in keys {
        w.update(Input::Key(*key));
    }
}

/// Presses `key` many times on the wizard's current screen, drawing after
/// each, and prints the median and slowest press-to-frame time.
fn measure(screen: &str, w: &mut Wizard, key: Key) {
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).expect("a test terminal");
    let mut times: Vec<Duration> = (0..PRESSES)
        .map(|_| {
            let start = Instant::now();
            w.update(Input::Key(key));
            terminal
                .draw(|f| draw::draw(f, w, Theme::COLOR))
                .expect("draw");
            start.elapsed()
        })
        .collect();
    times.sort();
    println!(
        "{screen:<9} ({:?} screen): key to frame, median {:.2} ms, 99th percentile {:.2} ms, \
         slowest {:.2} ms ({PRESSES} presses, {PEERS} peers x {DISKS} disks)",
        w.screen(),
        ms(times[times.len() / 2]),
        ms(times[times.len() * 99 / 100]),
        ms(times[times.len() - 1]),
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
