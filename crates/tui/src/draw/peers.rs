//! The peers screen.

use std::net::SocketAddr;

use muster_discovery::Peer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Padding, Paragraph, Row, Table, TableState, Wrap};
use ratatui::Frame;

use super::{cursor_table, header};
use crate::state::Wizard;
use crate::theme::Theme;

pub(super) fn peers(frame: &mut Frame, area: Rect, wizard: &Wizard, theme: Theme) {
    let [filter_area, list_area, details_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(2),
    ])
    .areas(area);
    let filter = if let Some(input) = wizard.address_input() {
        Line::from(vec![
            Span::raw(" Add by address: "),
            Span::styled(format!("{input}▏"), theme.chosen()),
            Span::styled("  (IP or IP:PORT)", theme.dim()),
        ])
    } else if let Some(asking) = wizard.asking().first() {
        Line::styled(format!(" Asking {asking} who it is…"), theme.dim())
    } else if wizard.is_filtering() {
        Line::from(vec![
            Span::raw(" Filter: "),
            Span::styled(format!("{}▏", wizard.filter()), theme.chosen()),
        ])
    } else if !wizard.filter().is_empty() {
        Line::from(vec![
            Span::raw(" Filter: "),
            Span::styled(wizard.filter().to_string(), theme.chosen()),
            Span::styled("  (/ to change, esc to clear)", theme.dim()),
        ])
    } else {
        Line::styled(
            " Servers running musterd on this network, found over mDNS (unauthenticated).",
            theme.dim(),
        )
    };
    frame.render_widget(filter, filter_area);

    let visible = wizard.visible_peers();
    let chosen = wizard.chosen_peers().len();
    let title = format!(
        " Peers: {} found, {} shown, {chosen} chosen ",
        wizard.peers.len(),
        visible.len()
    );
    let block = Block::bordered().title(title);
    if visible.is_empty() {
        let text = if wizard.peers.is_empty() {
            "Looking for servers… they appear here as they answer (+ adds one by address)."
        } else {
            "No peer matches the filter."
        };
        let para = Paragraph::new(Line::styled(text, theme.dim())).block(block);
        frame.render_widget(para, list_area);
        return;
    }
    let rows = visible.iter().map(|&i| {
        let row = &wizard.peers[i];
        let peer = &row.peer;
        let mark = if row.chosen { "[x]" } else { "[ ]" };
        let address = peer
            .addresses
            .first()
            .map(|a| a.to_string())
            .unwrap_or_else(|| "-".into());
        let how = if row.by_address.is_some() {
            " (added by address)"
        } else if peer.session_open {
            " (has a session open)"
        } else {
            ""
        };
        let status = if row.gone {
            Cell::from(Span::styled("gone from the network", theme.warning()))
        } else {
            match peer.compat.reason() {
                None => Cell::from(Span::styled(format!("compatible{how}"), theme.good())),
                Some(why) => Cell::from(Span::styled(format!("✗ {why}"), theme.error())),
            }
        };
        let style = if row.chosen {
            theme.chosen()
        } else {
            Style::new()
        };
        Row::new(vec![
            Cell::from(mark),
            Cell::from(peer.name.clone()),
            Cell::from(address),
            Cell::from(peer.version.clone().unwrap_or_else(|| "?".into())),
            status,
        ])
        .style(style)
    });
    let table = Table::new(
        rows,
        [
            Constraint::Length(3),
            Constraint::Length(14),
            Constraint::Length(16),
            Constraint::Length(8),
            Constraint::Fill(1),
        ],
    )
    .header(header(&["", "NAME", "ADDRESS", "VERSION", "STATUS"], theme))
    .block(block);
    let table = cursor_table(table, theme);
    let mut state = TableState::default().with_selected(Some(wizard.peer_cursor));
    frame.render_stateful_widget(table, list_area, &mut state);

    if let Some(&i) = visible.get(wizard.peer_cursor) {
        let row = &wizard.peers[i];
        frame.render_widget(peer_details(&row.peer, row.by_address, theme), details_area);
    }
}

/// All the cursor's peer says about itself, and in full why it cannot be
/// chosen: the table cuts both.
fn peer_details(peer: &Peer, by_address: Option<SocketAddr>, theme: Theme) -> Paragraph<'static> {
    let addresses: Vec<String> = peer.addresses.iter().map(|a| a.to_string()).collect();
    let mut line = vec![Span::raw(format!(
        "{} at {} port {}",
        peer.name,
        if addresses.is_empty() {
            "no usable address".to_string()
        } else {
            addresses.join(", ")
        },
        peer.port
    ))];
    if let Some(address) = by_address {
        line.push(Span::raw(format!(" · added by address {address}")));
    }
    if let Some(why) = peer.compat.reason() {
        line.push(Span::styled(
            format!(" · cannot be used: {why}"),
            theme.error(),
        ));
    }
    Paragraph::new(Line::from(line))
        .wrap(Wrap { trim: true })
        .block(Block::new().padding(Padding::horizontal(1)))
}
