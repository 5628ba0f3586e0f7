//! The terminal side: raw mode and the alternate screen, keys and resizes
//! from the terminal, world events from a channel, each fed to
//! [`Wizard::update`]; the effects go to the caller's handler. Nothing here
//! carries out an effect.
//!
//! The terminal is restored when [`run`] returns, on an error, and on a
//! panic (through a panic hook), so a crash never leaves the operator's
//! shell in raw mode.

use std::fmt;
use std::io::{self, IsTerminal, Stdout};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once};
use std::thread;
use std::time::Duration;

use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::cursor::{Hide, Show};
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::Terminal;
use tokio::sync::mpsc;

use crate::draw::draw;
use crate::model::{Effect, Input, Key, World};
use crate::state::Wizard;
use crate::theme::Theme;

/// Whether `muster init` can be interactive: both standard input and
/// standard output are terminals.
pub fn is_tty() -> bool {
    io::stdin().is_terminal() && io::stdout().is_terminal()
}

/// Why the wizard cannot run here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoTty;

impl fmt::Display for NoTty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "muster init is interactive and needs a terminal; without one, \
             run `muster init --preseed FILE`",
        )
    }
}

impl std::error::Error for NoTty {}

/// `Err(NoTty)` when [`is_tty`] is false; its message points to
/// `--preseed`.
pub fn require_tty() -> Result<(), NoTty> {
    if is_tty() {
        Ok(())
    } else {
        Err(NoTty)
    }
}

/// The wizard's key for a terminal key event, if it has one.
pub fn key_from(event: &KeyEvent) -> Option<Key> {
    if event.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = event.modifiers.contains(KeyModifiers::CONTROL);
    let alt = event.modifiers.contains(KeyModifiers::ALT);
    Some(match event.code {
        KeyCode::Char('c') if ctrl => Key::Interrupt,
        KeyCode::Char(_) if ctrl || alt => return None,
        KeyCode::Char(' ') => Key::Space,
        KeyCode::Char(c) => Key::Char(c),
        KeyCode::Up => Key::Up,
        KeyCode::Down => Key::Down,
        KeyCode::Left => Key::Left,
        KeyCode::Right => Key::Right,
        KeyCode::PageUp => Key::PageUp,
        KeyCode::PageDown => Key::PageDown,
        KeyCode::Home => Key::Home,
        KeyCode::End => Key::End,
        KeyCode::Enter => Key::Enter,
        KeyCode::Esc => Key::Esc,
        KeyCode::Backspace => Key::Backspace,
        KeyCode::Tab => Key::Tab,
        _ => return None,
    })
}

/// Runs the wizard until it quits and gives it back, to be looked at
/// (e.g. [`Wizard::apply_state`]).
///
/// `world` brings what the caller learns (discovery, trust, inventory,
/// plan, progress); `handle` receives every effect, [`Effect::Quit`]
/// included (after which the loop ends), and must not block: it starts the
/// work and reports the outcome on `world`.
pub async fn run(
    mut wizard: Wizard,
    mut world: mpsc::Receiver<World>,
    theme: Theme,
    mut handle: impl FnMut(Effect),
) -> io::Result<Wizard> {
    let guard = TerminalGuard::enter()?;
    let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    terminal.clear()?;
    let (tx, mut terminal_events) = mpsc::unbounded_channel();
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let stop = Arc::clone(&stop);
        thread::Builder::new()
            .name("muster-tui-keys".into())
            .spawn(move || read_terminal(&tx, &stop))?
    };
    let result = event_loop(
        &mut wizard,
        &mut terminal,
        &mut terminal_events,
        &mut world,
        theme,
        &mut handle,
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    // The reader wakes up within one poll interval.
    let _ = reader.join();
    drop(terminal);
    guard.restore()?;
    result.map(|()| wizard)
}

async fn event_loop(
    wizard: &mut Wizard,
    terminal: &mut Terminal<CrosstermBackend<Stdout>>,
    terminal_events: &mut mpsc::UnboundedReceiver<TerminalEvent>,
    world: &mut mpsc::Receiver<World>,
    theme: Theme,
    handle: &mut impl FnMut(Effect),
) -> io::Result<()> {
    loop {
        terminal.draw(|frame| draw(frame, wizard, theme))?;
        let input = tokio::select! {
            event = terminal_events.recv() => match event {
                Some(TerminalEvent::Key(key)) => Input::Key(key),
                Some(TerminalEvent::Resize) => {
                    // Start from a blank screen: whatever the terminal made
                    // of the old frame while resizing is gone.
                    terminal.autoresize()?;
                    terminal.clear()?;
                    continue;
                }
                Some(TerminalEvent::Failed(e)) => return Err(e),
                None => return Err(io::Error::other("the terminal reader stopped")),
            },
            Some(event) = world.recv() => Input::World(event),
        };
        let mut quit = false;
        for effect in wizard.update(input) {
            quit |= effect == Effect::Quit;
            handle(effect);
        }
        if quit {
            return Ok(());
        }
    }
}

enum TerminalEvent {
    Key(Key),
    Resize,
    Failed(io::Error),
}

/// How long the reader waits for an event before looking whether it
/// should stop: crossterm's `read` cannot be interrupted.
const POLL: Duration = Duration::from_millis(100);

fn read_terminal(tx: &mpsc::UnboundedSender<TerminalEvent>, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        let event = match event::poll(POLL) {
            Ok(false) => continue,
            Ok(true) => match event::read() {
                Ok(Event::Key(key)) => match key_from(&key) {
                    Some(key) => TerminalEvent::Key(key),
                    None => continue,
                },
                Ok(Event::Resize(..)) => TerminalEvent::Resize,
                Ok(_) => continue,
                Err(e) => TerminalEvent::Failed(e),
            },
            Err(e) => TerminalEvent::Failed(e),
        };
        let failed = matches!(event, TerminalEvent::Failed(_));
        if tx.send(event).is_err() || failed {
            return;
        }
    }
}

/// Set while the terminal is in raw mode on the alternate screen.
static ACTIVE: AtomicBool = AtomicBool::new(false);

struct TerminalGuard;

impl TerminalGuard {
    fn enter() -> io::Result<TerminalGuard> {
        install_panic_hook();
        enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        // From here on, dropping the guard restores whatever was changed.
        let guard = TerminalGuard;
        execute!(io::stdout(), EnterAlternateScreen, Hide)?;
        Ok(guard)
    }

    fn restore(self) -> io::Result<()> {
        std::mem::forget(self);
        restore_terminal()
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        let _ = restore_terminal();
    }
}

fn restore_terminal() -> io::Result<()> {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return Ok(());
    }
    // Raw mode first: leaving it matters most if the rest fails.
    let raw = disable_raw_mode();
    execute!(io::stdout(), LeaveAlternateScreen, Show)?;
    raw
}

fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // The message must land on the normal screen, readable.
            let _ = restore_terminal();
            previous(info);
        }));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn maps_keys() {
        let none = KeyModifiers::NONE;
        assert_eq!(
            key_from(&press(KeyCode::Char('j'), none)),
            Some(Key::Char('j'))
        );
        assert_eq!(
            key_from(&press(KeyCode::Char('J'), KeyModifiers::SHIFT)),
            Some(Key::Char('J'))
        );
        assert_eq!(key_from(&press(KeyCode::Char(' '), none)), Some(Key::Space));
        assert_eq!(
            key_from(&press(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Key::Interrupt)
        );
        assert_eq!(
            key_from(&press(KeyCode::Char('a'), KeyModifiers::CONTROL)),
            None
        );
        assert_eq!(key_from(&press(KeyCode::Esc, none)), Some(Key::Esc));
        assert_eq!(key_from(&press(KeyCode::F(1), none)), None);
        let mut release = press(KeyCode::Enter, none);
        release.kind = KeyEventKind::Release;
        assert_eq!(key_from(&release), None);
    }

    #[test]
    fn no_tty_points_to_preseed() {
        assert!(NoTty.to_string().contains("--preseed"));
    }
}
