//! Drawing: pure functions from a [`Wizard`] to a frame. Nothing here
//! changes the state; scrolling follows the cursors the state keeps.
//!
//! The layout is made for 80x24: a breadcrumb line, the screen, a line for
//! the last notice and a line of key hints. Lists scroll; long cells are
//! cut by the tables.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, Clear, HighlightSpacing, List, ListItem, Paragraph, Row, Table, Wrap,
};
use ratatui::Frame;

use crate::state::{ApplyState, Level, Modal, PlanState, Role, Screen, WipeRequest, Wizard};
use crate::theme::Theme;

mod apply;
mod disks;
mod networks;
mod peers;
mod session;

/// Below this the screens cannot be read; the operator is asked for more.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 16;

pub fn draw(frame: &mut Frame, wizard: &Wizard, theme: Theme) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let text = format!(
            "muster init needs a terminal of at least {MIN_WIDTH}x{MIN_HEIGHT}; this one is {}x{}.",
            area.width, area.height
        );
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
        return;
    }
    let [top, body, notice, hints] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    frame.render_widget(breadcrumb(wizard.screen(), theme), top);
    match wizard.screen() {
        Screen::Peers => peers::peers(frame, body, wizard, theme),
        Screen::Session => session::session(frame, body, wizard, theme),
        Screen::Disks => disks::disks(frame, body, wizard, theme),
        Screen::Networks => networks::networks(frame, body, wizard, theme),
        Screen::Plan => apply::plan(frame, body, wizard, theme),
        Screen::Progress => apply::progress(frame, body, wizard, theme),
    }
    if let Some(n) = wizard.notice() {
        let style = level_style(n.level, theme);
        frame.render_widget(Line::styled(format!(" {}", n.text), style), notice);
    }
    match wizard.modal() {
        Some(Modal::Wipe(request)) => wipe_modal(frame, body, request, theme),
        Some(Modal::Quit) => quit_modal(frame, body, wizard, theme),
        None => {}
    }
    frame.render_widget(hint_line(&key_hints(wizard), theme), hints);
}

fn level_style(level: Level, theme: Theme) -> Style {
    match level {
        Level::Info => Style::new(),
        Level::Warning => theme.warning(),
        Level::Error => theme.error(),
    }
}

fn breadcrumb(current: Screen, theme: Theme) -> Line<'static> {
    let mut spans = vec![Span::styled(" muster init  ", theme.title())];
    for (i, screen) in Screen::ALL.into_iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" › ", theme.dim()));
        }
        let style = match screen.cmp(&current) {
            std::cmp::Ordering::Less => Style::new(),
            std::cmp::Ordering::Equal => theme.current(),
            std::cmp::Ordering::Greater => theme.dim(),
        };
        spans.push(Span::styled(screen.title(), style));
    }
    Line::from(spans)
}

/// The keys that do something now, as (keys, what they do).
pub fn key_hints(wizard: &Wizard) -> Vec<(&'static str, &'static str)> {
    const MOVE: (&str, &str) = ("↑↓/jk", "move");
    const BACK: (&str, &str) = ("esc", "back");
    const QUIT: (&str, &str) = ("q", "quit");
    match wizard.modal() {
        Some(Modal::Wipe(_)) => return vec![("y", "wipe it"), ("n/esc", "keep it")],
        Some(Modal::Quit) => return vec![("y", "quit"), ("n/esc", "stay")],
        None => {}
    }
    match wizard.screen() {
        Screen::Peers if wizard.is_filtering() => vec![
            ("type", "to filter"),
            ("↑↓", "move"),
            ("space", "pick"),
            ("enter", "done"),
            ("esc", "clear"),
        ],
        Screen::Peers if wizard.address_input().is_some() => vec![
            ("type", "an address"),
            ("enter", "ask it"),
            ("esc", "cancel"),
        ],
        Screen::Peers => vec![
            MOVE,
            ("space", "pick"),
            ("a", "all"),
            ("/", "filter"),
            ("+", "by address"),
            ("enter", "next"),
            QUIT,
        ],
        Screen::Session if wizard.session().failed.is_some() => {
            vec![("r", "new session"), BACK, QUIT]
        }
        Screen::Session => vec![("enter", "next"), BACK, QUIT],
        Screen::Disks => vec![
            MOVE,
            ("space", "Ceph"),
            ("l", "local"),
            ("r", "read again"),
            ("enter", "next"),
            BACK,
            QUIT,
        ],
        Screen::Networks => vec![
            MOVE,
            ("←→/space", "change"),
            ("enter", "make the plan"),
            BACK,
            QUIT,
        ],
        Screen::Plan => match wizard.plan() {
            PlanState::Ready(_) => vec![("↑↓/jk", "scroll"), ("enter", "apply"), BACK, QUIT],
            PlanState::Failed(_) => vec![("enter", "try again"), BACK, QUIT],
            _ => vec![BACK, QUIT],
        },
        Screen::Progress => match wizard.apply_state() {
            ApplyState::Failed => vec![("r", "retry (resume)"), ("↑↓/jk", "scroll"), QUIT],
            ApplyState::Finished => vec![("enter/q", "leave")],
            _ => vec![("↑↓/jk", "scroll"), QUIT],
        },
    }
}

pub(crate) fn hint_line(hints: &[(&str, &str)], theme: Theme) -> Line<'static> {
    let mut spans = vec![Span::raw(" ")];
    for (i, (keys, what)) in hints.iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw("  "));
        }
        spans.push(Span::styled(keys.to_string(), theme.key()));
        spans.push(Span::raw(format!(" {what}")));
    }
    Line::from(spans)
}

/// The member's name, and in brackets whether it is this server and what
/// it runs (LXD or Incus, and the build), as far as known.
fn member_label(name: &str, wizard: &Wizard) -> String {
    let this = (name == wizard.local_name()).then_some("this server");
    let notes: Vec<&str> = this.into_iter().chain(wizard.build_of(name)).collect();
    if notes.is_empty() {
        name.to_string()
    } else {
        format!("{name} ({})", notes.join(", "))
    }
}

fn header(titles: &[&'static str], theme: Theme) -> Row<'static> {
    Row::new(titles.iter().copied()).style(theme.dim())
}

/// Marks the cursor's row in text too, so it shows without colour and
/// in snapshots; every row keeps the room for it so that nothing shifts.
const CURSOR: &str = "> ";
const CURSOR_SPACE: &str = "  ";

fn cursor_table<'a>(table: Table<'a>, theme: Theme) -> Table<'a> {
    table
        .row_highlight_style(theme.cursor())
        .highlight_symbol(CURSOR)
        .highlight_spacing(HighlightSpacing::Always)
}

fn cursor_list<'a>(items: Vec<ListItem<'a>>, theme: Theme) -> List<'a> {
    List::new(items)
        .highlight_style(theme.cursor())
        .highlight_symbol(CURSOR)
        .highlight_spacing(HighlightSpacing::Always)
}

// ---- modals ----

fn popup(frame: &mut Frame, area: Rect, width: u16, height: u16) -> Rect {
    let popup = area.centered(
        Constraint::Length(width.min(area.width)),
        Constraint::Length(height.min(area.height)),
    );
    frame.render_widget(Clear, popup);
    popup
}

fn wipe_modal(frame: &mut Frame, area: Rect, request: &WipeRequest, theme: Theme) {
    let role = match request.role {
        Role::Local => "local storage",
        Role::Ceph => "Ceph",
    };
    let mut lines = vec![Line::raw(format!(
        "{} on {} holds data:",
        request.path, request.member
    ))];
    lines.extend(
        request
            .contents
            .iter()
            .map(|c| Line::styled(format!("  • {c}"), theme.warning())),
    );
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "All of it is destroyed when the plan is applied.",
        theme.error(),
    ));
    lines.push(Line::raw(format!(
        "Press y to wipe it and use it for {role}, n to keep it."
    )));
    let height = lines.len() as u16 + 2;
    let rect = popup(frame, area, 64, height);
    let title = format!(" Wipe {} on {}? ", request.disk, request.member);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(title).border_style(theme.error())),
        rect,
    );
}

fn quit_modal(frame: &mut Frame, area: Rect, wizard: &Wizard, theme: Theme) {
    let text = match wizard.apply_state() {
        ApplyState::Running => vec![
            Line::styled("The plan is being applied.", theme.warning()),
            Line::raw("Quitting leaves it half done; running"),
            Line::raw("`muster init` again finishes the job."),
        ],
        ApplyState::Failed => vec![
            Line::raw("The apply stopped at a failure."),
            Line::raw("`muster init` run again resumes it."),
        ],
        _ => vec![
            Line::raw("Leave muster init?"),
            Line::raw("What you chose so far is lost."),
        ],
    };
    let mut lines = text;
    lines.push(Line::raw(""));
    lines.push(Line::from(vec![
        Span::styled("y", theme.key()),
        Span::raw(" quit   "),
        Span::styled("n", theme.key()),
        Span::raw(" stay"),
    ]));
    let rect = popup(frame, area, 52, lines.len() as u16 + 2);
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" Quit? ")),
        rect,
    );
}
