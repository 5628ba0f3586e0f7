//! The disks screen: every member's disks, what is on them, what is chosen.

use muster_disks::{human_size, Disk};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, ListItem, ListState, Padding, Paragraph, Wrap};
use ratatui::Frame;

use super::{cursor_list, member_label, CURSOR_SPACE};
use crate::disk_info::{self, Usability};
use crate::state::{Loading, Wizard};
use crate::theme::Theme;

/// Widths of the disk list's columns: use, then path, size, type, model;
/// what is on the disk takes the rest.
const ROLE_WIDTH: usize = 6;
const DISK_COLUMNS: [usize; 4] = [13, 10, 8, 15];

/// `text` cut or padded to `width` characters; a cut ends with `…`.
fn fixed(text: &str, width: usize) -> String {
    let count = text.chars().count();
    if count <= width {
        format!("{text:width$}")
    } else {
        let mut cut: String = text.chars().take(width.saturating_sub(2)).collect();
        cut.push_str("… ");
        cut
    }
}

fn disk_columns(cells: [&str; 4]) -> String {
    cells
        .iter()
        .zip(DISK_COLUMNS)
        .map(|(text, width)| fixed(text, width))
        .collect()
}

pub(super) fn disks(frame: &mut Frame, area: Rect, wizard: &Wizard, theme: Theme) {
    let warning = wizard.ceph_warning();
    let [table_area, details_area, warning_area] = Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(3),
        Constraint::Length(u16::from(warning.is_some())),
    ])
    .areas(area);

    let mut items = Vec::new();
    let mut selected = None;
    let mut index = 0;
    let mut cursor_disk: Option<(String, &Disk)> = None;
    for member in wizard.members() {
        let choices = wizard.choices(&member.name).cloned().unwrap_or_default();
        let mut summary = format!(
            "{} · local storage: {}",
            member_label(&member.name, wizard),
            choices
                .local
                .as_deref()
                .unwrap_or("dir pool on the OS disk")
        );
        if !choices.ceph.is_empty() {
            let ceph: Vec<&str> = choices.ceph.iter().map(String::as_str).collect();
            summary.push_str(&format!(" · Ceph: {}", ceph.join(", ")));
        }
        items.push(ListItem::new(Line::styled(summary, theme.title())));
        let disks = match wizard.inventory(&member.name).map(|i| &i.disks) {
            Some(Loading::Ready(disks)) => disks,
            Some(Loading::Failed(message)) => {
                let text = format!("  ✗ could not read its disks: {message}");
                items.push(ListItem::new(Line::styled(text, theme.error())));
                continue;
            }
            _ => {
                let text = "  reading its disks…";
                items.push(ListItem::new(Line::styled(text, theme.dim())));
                continue;
            }
        };
        if disks.is_empty() {
            let text = "  no disks besides what the system uses";
            items.push(ListItem::new(Line::styled(text, theme.dim())));
        }
        for disk in disks {
            if index == wizard.disk_cursor {
                selected = Some(items.len());
                cursor_disk = Some((member.name.clone(), disk));
            }
            index += 1;
            let (role, role_style) = if choices.local.as_deref() == Some(&disk.name) {
                ("local", theme.chosen())
            } else if choices.ceph.contains(&disk.name) {
                ("ceph", theme.chosen())
            } else {
                ("-", theme.dim())
            };
            let status = match disk_info::usability(disk) {
                Usability::Free => Span::styled("free", theme.good()),
                Usability::NeedsWipe(contents) if choices.wipe.contains(&disk.name) => {
                    Span::styled(format!("WIPE: {}", contents.join(", ")), theme.warning())
                }
                Usability::NeedsWipe(contents) => {
                    Span::styled(format!("has {}", contents.join(", ")), theme.warning())
                }
                Usability::Blocked(why) => Span::styled(format!("✗ {}", why[0]), theme.error()),
            };
            let size = human_size(disk.size_bytes);
            let kind = disk_info::kind_label(disk);
            let model = disk.model.as_deref().unwrap_or("-");
            items.push(ListItem::new(Line::from(vec![
                Span::raw("  "),
                Span::styled(fixed(role, ROLE_WIDTH), role_style),
                Span::raw(disk_columns([&disk.path, &size, &kind, model])),
                status,
            ])));
        }
    }
    let block =
        Block::bordered().title(" Disks: l local storage (one a member), space Ceph (any) ");
    let inner = block.inner(table_area);
    frame.render_widget(block, table_area);
    let [header_area, list_area] =
        Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(inner);
    let header = format!(
        "{CURSOR_SPACE}  {}{}ON IT",
        fixed("USE", ROLE_WIDTH),
        disk_columns(["PATH", "SIZE", "TYPE", "MODEL"])
    );
    frame.render_widget(Line::styled(header, theme.dim()), header_area);
    let list = cursor_list(items, theme);
    let mut state = ListState::default().with_selected(selected);
    frame.render_stateful_widget(list, list_area, &mut state);

    if let Some((member, disk)) = cursor_disk {
        frame.render_widget(disk_details(&member, disk, wizard, theme), details_area);
    }
    if let Some(warning) = warning {
        frame.render_widget(
            Line::styled(format!(" ⚠ {warning}"), theme.warning()),
            warning_area,
        );
    }
}

fn disk_details<'a>(member: &str, disk: &'a Disk, wizard: &Wizard, theme: Theme) -> Paragraph<'a> {
    let mut first = vec![disk_info::stable_path(disk).to_string()];
    if let Some(serial) = &disk.serial {
        first.push(format!("serial {serial}"));
    }
    if let Some(transport) = &disk.transport {
        first.push(transport.clone());
    }
    let usability = disk_info::usability(disk);
    let on_it = match &usability {
        Usability::Free => Line::styled("Nothing on it: usable as it is.", theme.good()),
        Usability::NeedsWipe(contents) => {
            Line::styled(format!("On it: {}.", contents.join("; ")), theme.warning())
        }
        Usability::Blocked(why) => {
            Line::styled(format!("Not usable: {}.", why.join("; ")), theme.error())
        }
    };
    let wiped = wizard
        .choices(member)
        .is_some_and(|c| c.wipe.contains(&disk.name));
    let role = wizard.choices(member).and_then(|c| {
        if c.local.as_deref() == Some(&disk.name) {
            Some("local storage")
        } else if c.ceph.contains(&disk.name) {
            Some("Ceph")
        } else {
            None
        }
    });
    let third = match (role, wiped) {
        (Some(role), true) => Line::styled(
            format!("Chosen for {role}; it will be wiped."),
            theme.warning(),
        ),
        (Some(role), false) => Line::styled(format!("Chosen for {role}."), theme.chosen()),
        (None, _) => Line::raw(""),
    };
    Paragraph::new(vec![
        Line::styled(first.join(" · "), theme.dim()),
        on_it,
        third,
    ])
    .wrap(Wrap { trim: false })
    .block(Block::new().padding(Padding::horizontal(1)))
}
