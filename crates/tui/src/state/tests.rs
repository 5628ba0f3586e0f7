use std::net::IpAddr;

use muster_discovery::{Compat, PeerEvent};

use super::*;
use crate::fixtures::*;
use crate::model::{
    ChosenDisk, Effect, InstanceNetwork, Key, MemberSelection, Selection, StepStatus, World,
};
use crate::state::peers::parse_peer_address;

fn names(w: &Wizard) -> Vec<String> {
    w.visible_peers()
        .into_iter()
        .map(|i| w.peers[i].peer.name.clone())
        .collect()
}

fn chosen(w: &Wizard) -> Vec<String> {
    w.chosen_peers()
        .iter()
        .map(|r| r.peer.name.clone())
        .collect()
}

fn notice_text(w: &Wizard) -> String {
    w.notice().map(|n| n.text.clone()).unwrap_or_default()
}

#[test]
fn peers_appear_sorted_without_the_local_server() {
    let w = at_peers();
    assert_eq!(names(&w), ["old1", "s2", "s3", "s4"]);
    assert!(!w.is_dirty());
}

#[test]
fn space_picks_compatible_peers_only() {
    let mut w = at_peers();
    keys(&mut w, &[Key::Space]);
    assert!(chosen(&w).is_empty());
    assert_eq!(
        notice_text(&w),
        "old1 cannot be chosen: protocol 0, this muster speaks 1"
    );
    assert!(!w.is_dirty());

    keys(&mut w, &[Key::Char('j'), Key::Space, Key::Down, Key::Space]);
    assert_eq!(chosen(&w), ["s2", "s3"]);
    assert!(w.is_dirty());
    keys(&mut w, &[Key::Up, Key::Space]);
    assert_eq!(chosen(&w), ["s3"]);
}

#[test]
fn cursor_stays_in_the_list() {
    let mut w = at_peers();
    keys(&mut w, &[Key::Up, Key::Char('k')]);
    assert_eq!(w.peer_cursor, 0);
    keys(&mut w, &[Key::PageDown]);
    assert_eq!(w.peer_cursor, 3);
    keys(&mut w, &[Key::Home]);
    assert_eq!(w.peer_cursor, 0);
    keys(&mut w, &[Key::End]);
    assert_eq!(w.peer_cursor, 3);
}

#[test]
fn slash_filters_by_typing_even_command_letters() {
    let mut w = at_peers();
    keys(&mut w, &[Key::End, Key::Char('/'), Key::Char('s')]);
    assert!(w.is_filtering());
    assert_eq!(names(&w), ["s2", "s3", "s4"]);
    // The cursor followed the list as it shrank.
    assert_eq!(w.peer_cursor, 2);
    // q, j and k are text while filtering, not quit and moves.
    let effects = keys(&mut w, &[Key::Char('q')]);
    assert!(effects.is_empty());
    assert_eq!(w.filter(), "sq");
    assert!(names(&w).is_empty());
    keys(&mut w, &[Key::Backspace, Key::Char('3')]);
    assert_eq!(names(&w), ["s3"]);
    assert_eq!(w.peer_cursor, 0);
    // Space picks while filtering; enter keeps the filter.
    keys(&mut w, &[Key::Space, Key::Enter]);
    assert!(!w.is_filtering());
    assert_eq!(w.filter(), "s3");
    assert_eq!(chosen(&w), ["s3"]);
    // Esc clears the filter and stays on the screen.
    keys(&mut w, &[Key::Esc]);
    assert_eq!(w.filter(), "");
    assert_eq!(w.screen(), Screen::Peers);
    assert_eq!(names(&w).len(), 4);
}

#[test]
fn filter_matches_addresses_and_versions() {
    let mut w = at_peers();
    keys(&mut w, &[Key::Char('/'), Key::Char('.'), Key::Char('9')]);
    assert_eq!(names(&w), ["old1"]);
    keys(&mut w, &[Key::Esc, Key::Char('/')]);
    for c in "0.1.0".chars() {
        keys(&mut w, &[Key::Char(c)]);
    }
    assert_eq!(names(&w), ["s2", "s3", "s4"]);
}

#[test]
fn a_selects_all_visible_compatible_then_none() {
    let mut w = at_peers();
    keys(&mut w, &[Key::Char('a')]);
    assert_eq!(chosen(&w), ["s2", "s3", "s4"]);
    keys(&mut w, &[Key::Char('a')]);
    assert!(chosen(&w).is_empty());
    // Only what the filter shows.
    keys(
        &mut w,
        &[Key::Char('/'), Key::Char('4'), Key::Enter, Key::Char('a')],
    );
    assert_eq!(chosen(&w), ["s4"]);
}

#[test]
fn enter_needs_a_peer_and_opens_the_session_once() {
    let mut w = at_peers();
    assert!(keys(&mut w, &[Key::Enter]).is_empty());
    assert_eq!(w.screen(), Screen::Peers);
    assert!(notice_text(&w).contains("at least one peer"));

    let effects = keys(&mut w, &[Key::Down, Key::Space, Key::Enter]);
    assert_eq!(
        effects,
        [Effect::OpenSession, Effect::TrustPeers(vec!["s2".into()])]
    );
    assert_eq!(w.screen(), Screen::Session);

    // Back, choose one more: the session stays, the list is sent again.
    let effects = keys(&mut w, &[Key::Esc, Key::Down, Key::Space, Key::Enter]);
    assert_eq!(
        effects,
        [Effect::TrustPeers(vec!["s2".into(), "s3".into()])]
    );
}

#[test]
fn session_shows_trust_and_wrong_passphrases() {
    let mut w = at_session();
    let s = w.session();
    assert_eq!(s.passphrase.as_deref(), Some("coral-tiger-maple-echo"));
    assert_eq!(s.fingerprint.as_deref(), Some("3f9a:1c0b:7e2d:4a6f"));
    assert_eq!(
        s.trusted.get("s2").map(String::as_str),
        Some("a1b2:c3d4:e5f6:0718")
    );
    assert_eq!(w.waiting_for(), ["s3"]);

    for _ in 0..2 {
        world(
            &mut w,
            World::FailedAttempt {
                address: "10.0.0.77".into(),
                claimed_name: None,
            },
        );
    }
    let s = w.session();
    assert_eq!(s.failed_total, 3);
    let rows: Vec<(&str, u32)> = s
        .failures
        .iter()
        .map(|f| (f.address.as_str(), f.count))
        .collect();
    assert_eq!(rows, [("10.0.0.77", 2), ("10.0.0.66", 1)]);
}

#[test]
fn session_waits_for_every_chosen_peer() {
    let mut w = at_session();
    assert!(keys(&mut w, &[Key::Enter]).is_empty());
    assert_eq!(w.screen(), Screen::Session);
    assert!(notice_text(&w).contains("Waiting for s3"));

    world(
        &mut w,
        World::PeerTrusted {
            name: "s3".into(),
            fingerprint: "ab".repeat(32),
        },
    );
    let effects = keys(&mut w, &[Key::Enter]);
    assert_eq!(w.screen(), Screen::Disks);
    let expected: Vec<Effect> = ["s1", "s2", "s3"]
        .into_iter()
        .flat_map(|m| {
            [
                Effect::FetchDisks(m.into()),
                Effect::FetchInterfaces(m.into()),
            ]
        })
        .collect();
    assert_eq!(effects, expected);
    // Back and forth does not read everything again.
    assert!(keys(&mut w, &[Key::Esc, Key::Enter]).is_empty());
    assert_eq!(w.screen(), Screen::Disks);
}

#[test]
fn a_failed_session_can_be_reopened() {
    let mut w = at_session();
    world(
        &mut w,
        World::SessionFailed("ended after 20 wrong passphrases".into()),
    );
    assert!(w.session().failed.is_some());
    let effects = keys(&mut w, &[Key::Char('r')]);
    assert_eq!(
        effects,
        [
            Effect::OpenSession,
            Effect::TrustPeers(vec!["s2".into(), "s3".into()])
        ]
    );
    assert!(w.session().failed.is_none());
    assert!(w.session().passphrase.is_none());
    // Who was trusted stays trusted.
    assert!(w.session().trusted.contains_key("s2"));
}

#[test]
fn esc_goes_back_one_screen_at_a_time() {
    let mut w = at_plan();
    let mut seen = vec![w.screen()];
    for _ in 0..5 {
        keys(&mut w, &[Key::Esc]);
        seen.push(w.screen());
    }
    assert_eq!(
        seen,
        [
            Screen::Plan,
            Screen::Networks,
            Screen::Disks,
            Screen::Session,
            Screen::Peers,
            Screen::Peers
        ]
    );
    // Choices survive going back.
    assert_eq!(chosen(&w), ["s2", "s3"]);
    assert_eq!(w.choices("s1").unwrap().local.as_deref(), Some("sdb"));
}

#[test]
fn quit_asks_only_once_something_changed() {
    let mut w = at_peers();
    assert_eq!(keys(&mut w, &[Key::Char('q')]), [Effect::Quit]);
    assert_eq!(keys(&mut w, &[Key::Interrupt]), [Effect::Quit]);

    keys(&mut w, &[Key::Down, Key::Space]);
    assert!(keys(&mut w, &[Key::Char('q')]).is_empty());
    assert_eq!(w.modal(), Some(&Modal::Quit));
    // A stray key is not an answer.
    assert!(keys(&mut w, &[Key::Enter]).is_empty());
    assert_eq!(w.modal(), Some(&Modal::Quit));
    assert!(keys(&mut w, &[Key::Char('n')]).is_empty());
    assert_eq!(w.modal(), None);
    assert!(keys(&mut w, &[Key::Char('q'), Key::Esc]).is_empty());
    assert_eq!(w.modal(), None);
    assert_eq!(
        keys(&mut w, &[Key::Char('q'), Key::Char('y')]),
        [Effect::Quit]
    );
    // Ctrl-C twice quits too.
    let mut w = at_disks();
    assert_eq!(
        keys(&mut w, &[Key::Interrupt, Key::Interrupt]),
        [Effect::Quit]
    );
}

#[test]
fn moving_and_filtering_do_not_make_quitting_ask() {
    let mut w = at_peers();
    keys(
        &mut w,
        &[Key::Down, Key::Char('/'), Key::Char('s'), Key::Esc],
    );
    assert_eq!(keys(&mut w, &[Key::Char('q')]), [Effect::Quit]);
}

/// The disks screen's rows, for the cursor.
fn goto_disk(w: &mut Wizard, member: &str, disk: &str) {
    let at = w
        .disk_rows()
        .iter()
        .position(|(m, d)| m == member && d.name == disk)
        .expect("no such disk row");
    keys(w, &[Key::Home]);
    for _ in 0..at {
        keys(w, &[Key::Down]);
    }
}

#[test]
fn a_disk_with_data_needs_a_confirmation_naming_it() {
    let mut w = at_disks();
    goto_disk(&mut w, "s1", "sdc");
    keys(&mut w, &[Key::Space]);
    let Some(Modal::Wipe(request)) = w.modal().cloned() else {
        panic!("no wipe question: {:?}", w.modal());
    };
    assert_eq!(request.member, "s1");
    assert_eq!(request.path, "/dev/sdc");
    assert_eq!(request.role, Role::Ceph);
    assert_eq!(request.contents, ["ext4 filesystem"]);
    // Not chosen until confirmed; stray keys are no answer.
    assert!(w.choices("s1").is_none_or(|c| c.ceph.is_empty()));
    keys(&mut w, &[Key::Enter, Key::Space, Key::Char('q')]);
    assert!(matches!(w.modal(), Some(Modal::Wipe(_))));

    keys(&mut w, &[Key::Char('n')]);
    assert_eq!(w.modal(), None);
    assert!(w.choices("s1").is_none_or(|c| c.ceph.is_empty()));

    keys(&mut w, &[Key::Space, Key::Char('y')]);
    let c = w.choices("s1").unwrap();
    assert!(c.ceph.contains("sdc") && c.wipe.contains("sdc"));

    // Unchoosing forgets the confirmation: choosing again asks again.
    keys(&mut w, &[Key::Space]);
    assert!(w.choices("s1").unwrap().wipe.is_empty());
    keys(&mut w, &[Key::Char('l')]);
    let Some(Modal::Wipe(request)) = w.modal() else {
        panic!("no wipe question");
    };
    assert_eq!(request.role, Role::Local);
}

#[test]
fn free_disks_are_chosen_at_once_and_blocked_ones_never() {
    let mut w = at_disks();
    goto_disk(&mut w, "s2", "sdc");
    keys(&mut w, &[Key::Space]);
    assert_eq!(w.modal(), None);
    assert!(w.choices("s2").unwrap().ceph.contains("sdc"));
    assert!(w.is_dirty());

    goto_disk(&mut w, "s2", "sda");
    keys(&mut w, &[Key::Space]);
    assert_eq!(w.modal(), None);
    assert_eq!(
        notice_text(&w),
        "sda on s2 cannot be used: sda1 mounted at /"
    );
    assert!(!w.choices("s2").unwrap().ceph.contains("sda"));
}

#[test]
fn one_local_disk_a_member_and_one_role_a_disk() {
    let mut w = at_disks();
    goto_disk(&mut w, "s2", "sdb");
    keys(&mut w, &[Key::Char('l')]);
    goto_disk(&mut w, "s2", "sdc");
    keys(&mut w, &[Key::Char('l')]);
    let c = w.choices("s2").unwrap();
    assert_eq!(c.local.as_deref(), Some("sdc"));
    // The same disk moves from local storage to Ceph.
    keys(&mut w, &[Key::Char('c')]);
    let c = w.choices("s2").unwrap();
    assert_eq!(c.local, None);
    assert!(c.ceph.contains("sdc"));
    // l twice: chosen, then not.
    goto_disk(&mut w, "s2", "sdb");
    keys(&mut w, &[Key::Char('l'), Key::Char('l')]);
    assert_eq!(w.choices("s2").unwrap().local, None);
}

#[test]
fn warns_when_fewer_than_three_members_give_ceph_disks() {
    let mut w = at_disks();
    assert_eq!(
        w.ceph_warning().as_deref(),
        Some("No Ceph disks chosen: the cluster will have no distributed storage.")
    );
    goto_disk(&mut w, "s2", "sdb");
    keys(&mut w, &[Key::Space]);
    assert_eq!(
        w.ceph_warning().as_deref(),
        Some("Only 1 member gives Ceph disks: 3 are needed for 3 replicas.")
    );
    // A second disk on the same member does not count twice.
    goto_disk(&mut w, "s2", "sdc");
    keys(&mut w, &[Key::Space]);
    assert_eq!(w.ceph_members(), 1);
    goto_disk(&mut w, "s3", "nvme0n1");
    keys(&mut w, &[Key::Space]);
    assert_eq!(
        w.ceph_warning().as_deref(),
        Some("Only 2 members give Ceph disks: 3 are needed for 3 replicas.")
    );
    goto_disk(&mut w, "s1", "sdb");
    keys(&mut w, &[Key::Space]);
    assert_eq!(w.ceph_warning(), None);
    // A warning, not a stop.
    let mut w = at_disks();
    keys(&mut w, &[Key::Enter]);
    assert_eq!(w.screen(), Screen::Networks);
}

#[test]
fn changed_disks_drop_choices_and_confirmations_made_on_them() {
    let mut w = at_disks();
    goto_disk(&mut w, "s1", "sdc");
    keys(&mut w, &[Key::Space, Key::Char('y')]);
    goto_disk(&mut w, "s1", "sdb");
    keys(&mut w, &[Key::Char('l')]);
    // sdc now also has a partition table: what was confirmed is not what
    // is there. sdb is the same.
    let mut sdc = ext4_disk("sdc", 200);
    sdc.signatures.push(muster_disks::Signature::Gpt);
    world(
        &mut w,
        World::DisksOf {
            peer: "s1".into(),
            disks: vec![os_disk("sda", 32), disk("sdb", 100), sdc],
        },
    );
    let c = w.choices("s1").unwrap();
    assert!(c.ceph.is_empty() && c.wipe.is_empty());
    assert_eq!(c.local.as_deref(), Some("sdb"));
    assert!(notice_text(&w).contains("disks of s1 changed"));
}

#[test]
fn disks_must_all_be_read_before_going_on() {
    let mut w = at_session();
    world(
        &mut w,
        World::PeerTrusted {
            name: "s3".into(),
            fingerprint: "cd".repeat(32),
        },
    );
    keys(&mut w, &[Key::Enter]);
    keys(&mut w, &[Key::Enter]);
    assert_eq!(w.screen(), Screen::Disks);
    assert_eq!(notice_text(&w), "Still reading the disks of s1.");

    world(
        &mut w,
        World::DisksFailed {
            peer: "s1".into(),
            message: "permission denied".into(),
        },
    );
    keys(&mut w, &[Key::Enter]);
    assert!(notice_text(&w).contains("could not be read: r reads them again"));
    // r asks only for what failed or never came.
    assert_eq!(
        keys(&mut w, &[Key::Char('r')]),
        [Effect::FetchDisks("s1".into())]
    );
}

#[test]
fn networks_default_to_the_discovered_address_and_cycle() {
    let mut w = at_networks();
    assert_eq!(w.screen(), Screen::Networks);
    let address = |w: &Wizard, m: &str| w.choices(m).unwrap().address.unwrap().to_string();
    assert_eq!(address(&w, "s1"), "10.0.0.1/24");
    assert_eq!(address(&w, "s2"), "10.0.0.2/24");
    assert_eq!(w.cluster_networks(), ["10.0.0.0/24"]);

    keys(&mut w, &[Key::Down, Key::Right]);
    assert_eq!(address(&w, "s2"), "192.168.50.2/24");
    assert_eq!(w.cluster_networks().len(), 2);
    keys(&mut w, &[Key::Left]);
    assert_eq!(address(&w, "s2"), "10.0.0.2/24");
    keys(&mut w, &[Key::Char('h')]);
    assert_eq!(address(&w, "s2"), "192.168.50.2/24");

    // The bridge is the one network muster makes: cycling keeps it.
    keys(&mut w, &[Key::End, Key::Space]);
    assert_eq!(w.instance_network(), InstanceNetwork::Bridge);
    assert_eq!(InstanceNetwork::ALL, [InstanceNetwork::Bridge]);
}

#[test]
fn enter_on_networks_builds_the_plan_from_the_selection() {
    let mut w = at_networks();
    let effects = keys(&mut w, &[Key::Enter]);
    assert_eq!(w.screen(), Screen::Plan);
    assert_eq!(w.plan(), &PlanState::Building);
    let chosen_disk = |name: &str, size_gib: u64, wipe| ChosenDisk {
        name: name.into(),
        path: format!("/dev/{name}"),
        by_id: Some(format!("/dev/disk/by-id/ata-QEMU_HARDDISK_QM000{name}")),
        size_bytes: size_gib << 30,
        wipe,
    };
    let member = |name: &str, octet: u8, local, ceph| MemberSelection {
        name: name.into(),
        initiator: name == LOCAL,
        cluster_address: IpAddr::from([10, 0, 0, octet]),
        cluster_prefix: 24,
        local_storage: local,
        ceph_disks: ceph,
    };
    let expected = Selection {
        members: vec![
            member(
                "s1",
                1,
                Some(chosen_disk("sdb", 100, false)),
                vec![chosen_disk("sdc", 200, true)],
            ),
            member(
                "s2",
                2,
                Some(chosen_disk("sdb", 100, false)),
                vec![chosen_disk("sdc", 200, false)],
            ),
            member("s3", 3, None, vec![]),
        ],
        instance_network: InstanceNetwork::Bridge,
    };
    assert_eq!(effects, [Effect::BuildPlan(expected)]);
}

#[test]
fn a_member_without_an_address_stops_the_plan() {
    let mut w = at_disks();
    world(
        &mut w,
        World::InterfacesOf {
            peer: "s3".into(),
            interfaces: vec![],
        },
    );
    keys(&mut w, &[Key::Enter]);
    assert!(keys(&mut w, &[Key::Enter]).is_empty());
    assert_eq!(w.screen(), Screen::Networks);
    assert!(notice_text(&w).starts_with("s3 has no address for cluster traffic"));
}

#[test]
fn plan_failure_and_retry() {
    let mut w = at_networks();
    keys(&mut w, &[Key::Enter]);
    // Enter while building does nothing.
    assert!(keys(&mut w, &[Key::Enter]).is_empty());
    world(&mut w, World::PlanFailed("s3: LXD is not installed".into()));
    let effects = keys(&mut w, &[Key::Enter]);
    assert!(matches!(effects.as_slice(), [Effect::BuildPlan(_)]));
    assert_eq!(w.plan(), &PlanState::Building);
    assert_eq!(w.screen(), Screen::Plan);
}

#[test]
fn confirming_the_plan_applies_it() {
    let mut w = at_plan();
    keys(&mut w, &[Key::PageDown]);
    assert_eq!(w.plan_cursor, 10);
    assert_eq!(keys(&mut w, &[Key::Enter]), [Effect::Apply]);
    assert_eq!(w.screen(), Screen::Progress);
    assert_eq!(w.apply_state(), ApplyState::Running);
    let members: Vec<(&str, usize)> = w
        .progress()
        .iter()
        .map(|m| (m.member.as_str(), m.steps.len()))
        .collect();
    assert_eq!(members, [("s1", 8), ("s2", 4), ("s3", 2)]);
    assert!(w
        .progress()
        .iter()
        .flat_map(|m| &m.steps)
        .all(|s| s.status.is_none()));
    // No going back once applying.
    keys(&mut w, &[Key::Esc]);
    assert_eq!(w.screen(), Screen::Progress);
}

#[test]
fn a_failure_is_shown_where_it_happened_and_r_resumes() {
    let mut w = at_progress();
    assert_eq!(w.apply_state(), ApplyState::Running);
    // r does nothing while nothing failed.
    assert!(keys(&mut w, &[Key::Char('r')]).is_empty());

    let mut w = at_progress_failed();
    assert_eq!(w.apply_state(), ApplyState::Failed);
    // s1 has 8 steps; the failed one is s2's fourth.
    assert_eq!(w.progress_cursor, 11);
    let s2 = &w.progress()[1];
    assert_eq!(
        s2.steps[3].status,
        Some(StepStatus::Failed(CEPH_ERROR.into()))
    );

    assert_eq!(keys(&mut w, &[Key::Char('r')]), [Effect::Retry]);
    assert_eq!(w.apply_state(), ApplyState::Running);
    assert_eq!(w.progress()[1].steps[3].status, None);
    // Done steps stay done.
    assert_eq!(w.progress()[1].steps[0].status, Some(StepStatus::Done));

    // Quitting while applying asks first.
    assert!(keys(&mut w, &[Key::Char('q')]).is_empty());
    assert_eq!(w.modal(), Some(&Modal::Quit));
    keys(&mut w, &[Key::Esc]);

    world(&mut w, World::ApplyFinished);
    assert_eq!(w.apply_state(), ApplyState::Finished);
    assert!(!w.is_dirty());
    assert_eq!(keys(&mut w, &[Key::Enter]), [Effect::Quit]);
    assert_eq!(keys(&mut w, &[Key::Char('q')]), [Effect::Quit]);
}

#[test]
fn steps_outside_the_plan_are_added() {
    let mut w = at_plan();
    keys(&mut w, &[Key::Enter]);
    world(
        &mut w,
        progress("s4", "Something extra", StepStatus::Running),
    );
    let last = w.progress().last().unwrap();
    assert_eq!(last.member, "s4");
    assert_eq!(last.steps[0].status, Some(StepStatus::Running));
}

#[test]
fn peers_that_leave_or_turn_incompatible() {
    let mut w = at_peers();
    keys(&mut w, &[Key::Down, Key::Space]);
    world(
        &mut w,
        World::Peer(PeerEvent::Gone {
            instance: "s2".into(),
        }),
    );
    world(
        &mut w,
        World::Peer(PeerEvent::Gone {
            instance: "s4".into(),
        }),
    );
    // The chosen one stays, marked; the other goes.
    assert_eq!(names(&w), ["old1", "s2", "s3"]);
    assert!(w.peers[1].gone && w.peers[1].chosen);
    // It can be let go, but not chosen again while gone.
    keys(&mut w, &[Key::Space]);
    assert_eq!(names(&w), ["old1", "s3"]);

    keys(&mut w, &[Key::Down, Key::Space]);
    assert_eq!(w.peers[w.visible_peers()[w.peer_cursor]].peer.name, "s3");
    assert_eq!(chosen(&w), ["s3"]);
    let mut s3 = peer("s3", 3);
    s3.compat = Compat::Incompatible("already in a cluster".into());
    world(&mut w, World::Peer(PeerEvent::Updated(s3)));
    assert!(chosen(&w).is_empty());
    assert_eq!(
        notice_text(&w),
        "s3 is no longer chosen: already in a cluster"
    );
}

#[test]
fn fingerprints_are_shortened_for_eyes() {
    assert_eq!(
        short_fingerprint(&"0123456789abcdef".repeat(4)),
        "0123:4567:89ab:cdef"
    );
    assert_eq!(
        short_fingerprint("0123:4567:89ab:cdef"),
        "0123:4567:89ab:cdef"
    );
    assert_eq!(
        short_fingerprint("not hex at all, long"),
        "not hex at all, long"
    );
}

fn looked_up(w: &mut Wizard, address: &str, peer: Result<muster_discovery::Peer, String>) {
    world(
        w,
        World::LookedUp {
            address: address.parse().unwrap(),
            peer,
        },
    );
}

#[test]
fn plus_asks_an_address_and_refuses_what_is_not_one() {
    let mut w = at_peers();
    assert!(keys(&mut w, &[Key::Char('+')]).is_empty());
    assert_eq!(w.address_input(), Some(""));
    // Every letter is text at the prompt, q and / included.
    assert!(type_text(&mut w, "s2.lan/q").is_empty());
    assert_eq!(w.address_input(), Some("s2.lan/q"));
    assert!(keys(&mut w, &[Key::Enter]).is_empty());
    assert!(
        notice_text(&w).starts_with("\"s2.lan/q\" is not an IP address"),
        "{}",
        notice_text(&w)
    );
    // The prompt stays, to be corrected.
    assert_eq!(w.address_input(), Some("s2.lan/q"));
    for _ in 0.."s2.lan/q".len() {
        keys(&mut w, &[Key::Backspace]);
    }
    type_text(&mut w, "127.0.0.1");
    keys(&mut w, &[Key::Enter]);
    assert!(notice_text(&w).contains("cannot be another server's address"));
    keys(&mut w, &[Key::Esc]);
    assert_eq!(w.address_input(), None);
    assert_eq!(w.screen(), Screen::Peers);
    assert!(!w.is_dirty());

    let cases = [
        ("10.0.0.7", "10.0.0.7:9443"),
        (" 10.0.0.7:9444 ", "10.0.0.7:9444"),
        ("fd00::7", "[fd00::7]:9443"),
        ("[fd00::7]", "[fd00::7]:9443"),
        ("[fd00::7]:1", "[fd00::7]:1"),
    ];
    for (typed, address) in cases {
        keys(&mut w, &[Key::Char('+')]);
        type_text(&mut w, typed);
        let effects = keys(&mut w, &[Key::Enter]);
        assert_eq!(
            effects,
            [Effect::LookUpPeer(address.parse().unwrap())],
            "{typed}"
        );
        assert_eq!(w.address_input(), None);
    }
    assert_eq!(w.asking().len(), 4);
    for bad in [
        "10.0.0.7:0",
        "10.0.0.7:65536",
        "s7:9443",
        "10.0.0",
        "224.0.0.251",
    ] {
        assert!(parse_peer_address(bad).is_err(), "{bad}");
    }
}

#[test]
fn a_peer_looked_up_is_listed_marked_and_chosen_like_any() {
    let mut w = at_peers();
    keys(&mut w, &[Key::Char('+')]);
    type_text(&mut w, "10.0.0.7");
    keys(&mut w, &[Key::Enter]);
    assert_eq!(w.asking(), ["10.0.0.7:9443".parse().unwrap()]);
    looked_up(&mut w, "10.0.0.7:9443", Ok(peer("s7", 7)));
    assert!(w.asking().is_empty());
    assert_eq!(names(&w), ["old1", "s2", "s3", "s4", "s7"]);
    assert_eq!(
        notice_text(&w),
        "s7 at 10.0.0.7:9443 added: space picks it."
    );
    let row = w.peers.iter().find(|r| r.peer.name == "s7").unwrap();
    assert_eq!(row.by_address, Some("10.0.0.7:9443".parse().unwrap()));

    let effects = keys(&mut w, &[Key::End, Key::Space, Key::Enter]);
    assert_eq!(
        effects,
        [Effect::OpenSession, Effect::TrustPeers(vec!["s7".into()])]
    );

    // mDNS finds it later: still one row, still chosen; its goodbye does
    // not take away a peer reached by address.
    world(&mut w, World::Peer(PeerEvent::Found(peer("s7", 7))));
    world(
        &mut w,
        World::Peer(PeerEvent::Gone {
            instance: "s7".into(),
        }),
    );
    assert_eq!(names(&w), ["old1", "s2", "s3", "s4", "s7"]);
    assert_eq!(chosen(&w), ["s7"]);
    assert!(!w.peers.iter().any(|r| r.gone));
}

#[test]
fn an_address_already_listed_this_server_or_no_agent_adds_no_row() {
    let mut w = at_peers();
    looked_up(&mut w, "10.0.0.2:9443", Ok(peer("s2", 2)));
    assert_eq!(names(&w), ["old1", "s2", "s3", "s4"]);
    assert_eq!(notice_text(&w), "s2 is already listed.");

    looked_up(&mut w, "10.0.0.1:9443", Ok(peer(LOCAL, 1)));
    assert_eq!(names(&w).len(), 4);
    assert_eq!(
        notice_text(&w),
        "Not added: 10.0.0.1:9443 is this server (s1)."
    );

    let why = "10.0.0.9:9443 is not a muster agent: it answered 404 Not Found to GET /v1/info";
    looked_up(&mut w, "10.0.0.9:9443", Err(why.into()));
    assert_eq!(names(&w).len(), 4);
    assert_eq!(notice_text(&w), format!("Not added: {why}"));

    // A muster agent that cannot be used is listed with the reason, as
    // over mDNS, and cannot be picked.
    let old = incompatible("old2", 8, "speaks protocol 2, this muster speaks 1");
    looked_up(&mut w, "10.0.0.8:9443", Ok(old));
    assert!(notice_text(&w).contains("cannot be chosen: speaks protocol 2"));
    keys(&mut w, &[Key::Home, Key::Down, Key::Space]);
    assert_eq!(names(&w)[1], "old2");
    assert!(chosen(&w).is_empty());
}
