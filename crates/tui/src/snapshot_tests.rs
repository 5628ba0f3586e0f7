//! Every screen at 80x24 on ratatui's TestBackend, compared with the
//! snapshots in `snapshots/` (`cargo insta review` after a deliberate
//! change), and the colour-free rendering checked cell by cell and byte by
//! byte.

use std::cell::RefCell;
use std::io::{self, Write};
use std::rc::Rc;

use muster_discovery::PeerEvent;
use ratatui::backend::{CrosstermBackend, TestBackend};
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::{Terminal, TerminalOptions, Viewport};

use crate::draw::{draw, hint_line, key_hints};
use crate::fixtures::*;
use crate::model::{Key, World};
use crate::state::Wizard;
use crate::theme::Theme;

fn render(w: &Wizard, theme: Theme, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| draw(f, w, theme)).unwrap();
    terminal
}

fn screen(w: &Wizard) -> String {
    render(w, Theme::COLOR, 80, 24).backend().to_string()
}

fn disks_chosen() -> Wizard {
    let mut w = at_networks();
    // Back to the disks, the cursor on the disk to be wiped.
    keys(&mut w, &[Key::Esc, Key::Home, Key::Down, Key::Down]);
    w
}

fn wipe_question() -> Wizard {
    let mut w = at_disks();
    keys(&mut w, &[Key::Down, Key::Down, Key::Space]);
    w
}

fn progress_finished() -> Wizard {
    let mut w = at_progress_failed();
    keys(&mut w, &[Key::Char('r')]);
    for line in plan_lines() {
        world(
            &mut w,
            progress(&line.member, &line.step, crate::StepStatus::Done),
        );
    }
    world(&mut w, World::ApplyFinished);
    w
}

/// A formed cluster whose every step is counted: ticked, or found done
/// when its turn came (here the local pool on s2, which s1's made).
fn progress_formed_with_a_step_found_done() -> Wizard {
    let mut w = at_plan();
    keys(&mut w, &[Key::Enter]);
    for (i, line) in plan_lines().iter().enumerate() {
        let status = if i == 7 {
            crate::StepStatus::Skipped
        } else {
            world(
                &mut w,
                progress(&line.member, &line.step, crate::StepStatus::Running),
            );
            crate::StepStatus::Done
        };
        world(&mut w, progress(&line.member, &line.step, status));
    }
    world(&mut w, World::ApplyFinished);
    w
}

/// Every screen and question, by name.
fn scenarios() -> Vec<(&'static str, Wizard)> {
    let mut peers_none = Wizard::new(LOCAL);
    peers_none.update(crate::Input::Key(Key::Down));

    let mut peers = at_peers();
    keys(&mut peers, &[Key::Down, Key::Space, Key::Down]);

    let mut filtering = at_peers();
    keys(&mut filtering, &[Key::Char('/'), Key::Char('s')]);

    let mut many = Wizard::new(LOCAL);
    for i in 0..30u8 {
        world(
            &mut many,
            World::Peer(PeerEvent::Found(peer(&format!("node{i:02}"), 10 + i))),
        );
    }
    keys(
        &mut many,
        &[Key::End, Key::Space, Key::Char('k'), Key::Space],
    );

    let mut address_prompt = at_peers();
    keys(&mut address_prompt, &[Key::Char('+')]);
    type_text(&mut address_prompt, "10.0.0.7");

    let mut asking = address_prompt.clone();
    keys(&mut asking, &[Key::Enter]);

    let mut added_by_address = asking.clone();
    world(
        &mut added_by_address,
        World::LookedUp {
            address: "10.0.0.7:9443".parse().unwrap(),
            peer: Ok(peer("s7", 7)),
        },
    );

    let mut session_by_address = added_by_address.clone();
    keys(&mut session_by_address, &[Key::End, Key::Space, Key::Enter]);
    world(
        &mut session_by_address,
        World::SessionOpened {
            passphrase: "coral-tiger-maple-echo".into(),
            fingerprint: "3f9a1c0b7e2d4a6f".repeat(4),
        },
    );

    let mut session_opening = at_peers();
    keys(&mut session_opening, &[Key::Char('a'), Key::Enter]);

    let mut session_failed = at_session();
    world(
        &mut session_failed,
        World::SessionFailed("ended after 20 wrong passphrases".into()),
    );

    let mut disks_reading = at_session();
    world(
        &mut disks_reading,
        World::PeerTrusted {
            name: "s3".into(),
            fingerprint: "0badc0ffee15900d".repeat(4),
        },
    );
    keys(&mut disks_reading, &[Key::Enter]);
    world(
        &mut disks_reading,
        World::DisksOf {
            peer: LOCAL.into(),
            disks: vec![os_disk("sda", 32), disk("sdb", 100)],
        },
    );
    world(
        &mut disks_reading,
        World::DisksFailed {
            peer: "s3".into(),
            message: "connection refused (10.0.0.3:9443)".into(),
        },
    );

    let mut disks_blocked = at_disks();
    keys(&mut disks_blocked, &[Key::Space]);

    let mut plan_building = at_networks();
    keys(&mut plan_building, &[Key::Enter]);

    let mut plan_failed = plan_building.clone();
    world(
        &mut plan_failed,
        World::PlanFailed("s3: LXD 5.0.2 lacks the clustering API extension".into()),
    );

    let mut quit = at_disks();
    keys(&mut quit, &[Key::Down, Key::Char('l'), Key::Char('q')]);

    let mut quit_applying = at_progress();
    keys(&mut quit_applying, &[Key::Char('q')]);

    vec![
        ("peers_searching", peers_none),
        ("peers", peers),
        ("peers_filtering", filtering),
        ("peers_address_prompt", address_prompt),
        ("peers_asking_an_address", asking),
        ("peers_added_by_address", added_by_address),
        ("peers_scrolled", many),
        ("session_opening", session_opening),
        ("session", at_session()),
        ("session_failed", session_failed),
        ("session_with_a_peer_added_by_address", session_by_address),
        ("disks", at_disks()),
        ("disks_reading_and_failed", disks_reading),
        ("disks_chosen", disks_chosen()),
        ("disks_blocked", disks_blocked),
        ("wipe_confirmation", wipe_question()),
        ("networks", at_networks()),
        ("plan_building", plan_building),
        ("plan_failed", plan_failed),
        ("plan", at_plan()),
        ("progress", at_progress()),
        ("progress_failed", at_progress_failed()),
        ("progress_finished", progress_finished()),
        (
            "progress_formed_with_a_step_found_done",
            progress_formed_with_a_step_found_done(),
        ),
        ("quit_confirmation", quit),
        ("quit_while_applying", quit_applying),
    ]
}

#[test]
fn every_screen_at_80x24() {
    for (name, w) in scenarios() {
        insta::assert_snapshot!(name, screen(&w));
    }
}

#[test]
fn too_small_a_terminal_says_so() {
    let terminal = render(&at_peers(), Theme::COLOR, 50, 12);
    insta::assert_snapshot!("too_small", terminal.backend().to_string());
}

#[test]
fn resizing_redraws_cleanly() {
    let w = at_disks();
    let mut terminal = render(&w, Theme::COLOR, 120, 40);
    terminal.backend_mut().resize(80, 24);
    terminal.autoresize().unwrap();
    terminal.draw(|f| draw(f, &w, Theme::COLOR)).unwrap();
    let fresh = render(&w, Theme::COLOR, 80, 24);
    assert_eq!(terminal.backend().buffer(), fresh.backend().buffer());
}

#[test]
fn hints_fit_80_columns_on_every_screen() {
    for (name, w) in scenarios() {
        let width = hint_line(&key_hints(&w), Theme::NO_COLOR).width();
        assert!(width <= 80, "{name}: hints are {width} wide");
    }
}

#[test]
fn without_colour_no_cell_has_one() {
    for (name, w) in scenarios() {
        let terminal = render(&w, Theme::NO_COLOR, 80, 24);
        for cell in terminal.backend().buffer().content() {
            assert_eq!(
                (cell.fg, cell.bg),
                (Color::Reset, Color::Reset),
                "{name}: {cell:?}"
            );
        }
        // The text is the same with and without colour.
        assert_eq!(terminal.backend().to_string(), screen(&w), "{name}");
    }
}

/// A writer whose bytes can be read after the backend that owns it wrote
/// them.
#[derive(Clone, Default)]
struct Shared(Rc<RefCell<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The bytes a real terminal would get for `w`.
fn terminal_bytes(w: &Wizard, theme: Theme) -> String {
    let out = Shared::default();
    let backend = CrosstermBackend::new(out.clone());
    let options = TerminalOptions {
        viewport: Viewport::Fixed(Rect::new(0, 0, 80, 24)),
    };
    let mut terminal = Terminal::with_options(backend, options).unwrap();
    terminal.draw(|f| draw(f, w, theme)).unwrap();
    drop(terminal);
    let bytes = out.0.borrow().clone();
    String::from_utf8(bytes).unwrap()
}

/// SGR sequences that set a foreground, background or underline colour
/// (resets to the default, 39/49/59, are not colours).
fn colour_sequences(bytes: &str) -> Vec<String> {
    let mut found = Vec::new();
    for chunk in bytes.split("\x1b[").skip(1) {
        let Some(end) = chunk.find(|c: char| c.is_ascii_alphabetic()) else {
            continue;
        };
        if !chunk[end..].starts_with('m') {
            continue;
        }
        let first: u32 = chunk[..end]
            .split(';')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        if matches!(first, 30..=38 | 40..=48 | 58 | 90..=97 | 100..=107) {
            found.push(chunk[..=end].to_string());
        }
    }
    found
}

#[test]
fn without_colour_no_colour_reaches_the_terminal() {
    // The check finds colours where there are some.
    assert!(!colour_sequences(&terminal_bytes(&at_peers(), Theme::COLOR)).is_empty());
    for (name, w) in scenarios() {
        let bytes = terminal_bytes(&w, Theme::NO_COLOR);
        assert_eq!(colour_sequences(&bytes), Vec::<String>::new(), "{name}");
    }
}

#[test]
fn snapshots_hold_no_escape_codes() {
    for (name, w) in scenarios() {
        assert!(!screen(&w).contains('\x1b'), "{name}");
    }
}
