//! The wizard against a make-believe LAN, to try the keys by hand or drive
//! it from tmux: `cargo run -p muster-tui --example demo`. Every effect is
//! answered after a short delay; the first apply fails at s2's OSD and a
//! retry finishes.

use std::time::Duration;

use muster_discovery::PeerEvent;
use muster_tui::sample::{disk, ext4_disk, incompatible, interfaces, os_disk, peer};
use muster_tui::{Effect, PlanLine, Progress, StepStatus, Theme, Wizard, World};
use tokio::sync::mpsc;

fn plan(selection: &muster_tui::Selection) -> Vec<PlanLine> {
    let mut lines = Vec::new();
    for m in &selection.members {
        let what = if m.initiator {
            "Bootstrap the LXD cluster"
        } else {
            "Join the LXD cluster"
        };
        lines.push(PlanLine::new(&m.name, what));
        if let Some(d) = &m.local_storage {
            lines.push(PlanLine::new(
                &m.name,
                format!("Create pool local on {}", d.path),
            ));
        }
        for d in &m.ceph_disks {
            lines.push(PlanLine::new(
                &m.name,
                format!("Create a Ceph OSD on {}", d.path),
            ));
        }
    }
    lines
}

/// Sends `event` to the wizard after `ms` milliseconds.
fn later(tx: &mpsc::Sender<World>, ms: u64, event: World) {
    let tx = tx.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        let _ = tx.send(event).await;
    });
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    if let Err(e) = muster_tui::require_tty() {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
    let (tx, rx) = mpsc::channel(64);
    for (i, p) in [
        peer("s2", 2),
        peer("s3", 3),
        peer("s4", 4),
        incompatible("old", 9, "protocol 0; this muster speaks 1"),
    ]
    .into_iter()
    .enumerate()
    {
        later(&tx, 300 * (i as u64 + 1), World::Peer(PeerEvent::Found(p)));
    }
    let mut lines = Vec::new();
    let mut applied = 0;
    let world = tx.clone();
    let handle = move |effect: Effect| match effect {
        Effect::OpenSession => later(
            &world,
            200,
            World::SessionOpened {
                passphrase: "coral-tiger-maple-echo".into(),
                fingerprint: "3f9a1c0b7e2d4a6f".repeat(4),
            },
        ),
        Effect::TrustPeers(names) => {
            later(
                &world,
                500,
                World::FailedAttempt {
                    address: "10.0.0.66".into(),
                    claimed_name: None,
                },
            );
            for (i, name) in names.into_iter().enumerate() {
                let fingerprint = format!("{:016x}", 0xabcdef0123 * (i as u64 + 7)).repeat(4);
                later(
                    &world,
                    1000 * (i as u64 + 1),
                    World::PeerTrusted { name, fingerprint },
                );
            }
        }
        // Any address answers, as a server named after its last octet.
        Effect::LookUpPeer(address) => {
            let octet = match address.ip() {
                std::net::IpAddr::V4(v4) => v4.octets()[3],
                std::net::IpAddr::V6(v6) => v6.octets()[15],
            };
            let found = peer(&format!("s{octet}"), octet);
            later(
                &world,
                300,
                World::LookedUp {
                    address,
                    peer: Ok(found),
                },
            );
        }
        Effect::FetchDisks(peer) => {
            let disks = vec![os_disk("sda", 32), disk("sdb", 100), ext4_disk("sdc", 200)];
            later(&world, 400, World::DisksOf { peer, disks });
        }
        Effect::FetchInterfaces(peer) => {
            let octet = peer.trim_start_matches('s').parse().unwrap_or(1);
            let interfaces = interfaces(octet);
            later(&world, 300, World::InterfacesOf { peer, interfaces });
        }
        Effect::BuildPlan(selection) => {
            lines = plan(&selection);
            later(&world, 500, World::PlanReady(lines.clone()));
        }
        Effect::Apply | Effect::Retry => {
            applied += 1;
            let mut at = 0;
            for line in &lines {
                at += 400;
                let progress = |status| {
                    World::Progress(Progress {
                        member: line.member.clone(),
                        step: line.step.clone(),
                        status,
                    })
                };
                later(&world, at, progress(StepStatus::Running));
                if applied == 1 && line.member == "s2" && line.step.contains("OSD") {
                    let message = "ceph-osd --mkfs: (16) Device or resource busy".to_string();
                    later(&world, at + 300, progress(StepStatus::Failed(message)));
                    return;
                }
                later(&world, at + 300, progress(StepStatus::Done));
            }
            later(&world, at + 400, World::ApplyFinished);
        }
        Effect::Quit => {}
    };
    let wizard = muster_tui::run(Wizard::new("s1"), rx, Theme::from_env(), handle).await?;
    println!("left the wizard on the {:?} screen", wizard.screen());
    Ok(())
}
