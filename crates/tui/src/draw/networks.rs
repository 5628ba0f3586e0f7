//! The networks screen.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, TableState, Wrap};
use ratatui::Frame;

use super::{cursor_table, header, member_label, CURSOR, CURSOR_SPACE};
use crate::model::InstanceNetwork;
use crate::state::{Loading, Wizard};
use crate::theme::Theme;

pub(super) fn networks(frame: &mut Frame, area: Rect, wizard: &Wizard, theme: Theme) {
    let members = wizard.members();
    let networks = wizard.cluster_networks();
    let [address_area, note_area, instances_area, _] = Layout::vertical([
        Constraint::Max(members.len() as u16 + 3),
        Constraint::Length(2),
        Constraint::Length(3),
        Constraint::Fill(1),
    ])
    .areas(area);

    let rows = members.iter().map(|m| {
        let value = match wizard.inventory(&m.name).map(|i| &i.interfaces) {
            Some(Loading::Ready(_)) => {
                let candidates = wizard.address_candidates(&m.name);
                let chosen = wizard.choices(&m.name).and_then(|c| c.address);
                match candidates.iter().find(|(_, c)| Some(*c) == chosen) {
                    Some((iface, c)) => {
                        let more = if candidates.len() > 1 {
                            format!("   ({} choices)", candidates.len())
                        } else {
                            String::new()
                        };
                        Line::from(vec![
                            Span::styled(format!("‹ {c} on {iface} ›"), theme.chosen()),
                            Span::styled(more, theme.dim()),
                        ])
                    }
                    None => Line::styled("✗ no interface with an address is up", theme.error()),
                }
            }
            Some(Loading::Failed(message)) => Line::styled(
                format!("✗ could not read its interfaces: {message}"),
                theme.error(),
            ),
            _ => Line::styled("reading its interfaces…", theme.dim()),
        };
        Row::new(vec![
            Cell::from(member_label(&m.name, wizard)),
            Cell::from(value),
        ])
    });
    let table = Table::new(rows, [Constraint::Length(22), Constraint::Fill(1)])
        .header(header(
            &["MEMBER", "ADDRESS FOR CLUSTER TRAFFIC (LXD, Ceph)"],
            theme,
        ))
        .block(Block::bordered().title(" Cluster traffic "));
    let table = cursor_table(table, theme);
    let selected = (wizard.net_cursor < members.len()).then_some(wizard.net_cursor);
    let mut state = TableState::default().with_selected(selected);
    frame.render_stateful_widget(table, address_area, &mut state);

    let note = match networks.as_slice() {
        [] => Line::raw(""),
        [one] => Line::from(vec![
            Span::raw(" Ceph's public network and LXD's cluster network: "),
            Span::styled(one.clone(), theme.chosen()),
        ]),
        many => Line::styled(
            format!(
                " ⚠ The members are on different networks ({}): they need routes between them.",
                many.join(", ")
            ),
            theme.warning(),
        ),
    };
    frame.render_widget(Paragraph::new(note).wrap(Wrap { trim: false }), note_area);

    let (mark, style) = if wizard.net_cursor == members.len() {
        (CURSOR, theme.cursor())
    } else {
        (CURSOR_SPACE, Style::new())
    };
    let choice = wizard.instance_network();
    let position = InstanceNetwork::ALL
        .iter()
        .position(|n| *n == choice)
        .unwrap_or(0);
    // Arrows only where there is something to choose between.
    let line = match InstanceNetwork::ALL.len() {
        1 => Line::from(vec![
            Span::raw(mark),
            Span::styled(choice.describe(), theme.chosen()),
        ]),
        n => Line::from(vec![
            Span::raw(mark),
            Span::styled(format!("‹ {} ›", choice.describe()), theme.chosen()),
            Span::styled(format!("   ({} of {n})", position + 1), theme.dim()),
        ]),
    }
    .style(style);
    frame.render_widget(
        Paragraph::new(line).block(Block::bordered().title(" Network for instances ")),
        instances_area,
    );
}
