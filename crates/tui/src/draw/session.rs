//! The trust session screen: the passphrase and fingerprint shown large.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Cell, List, ListItem, Paragraph, Row, Table, Wrap};
use ratatui::Frame;

use crate::state::Wizard;
use crate::theme::Theme;

/// Text spread out for the eyes (`c o r a l`), if it fits `width`.
fn spread(text: &str, width: u16) -> String {
    let spread: String = text
        .chars()
        .flat_map(|c| [c, ' '])
        .collect::<String>()
        .trim_end()
        .to_string();
    if spread.chars().count() <= usize::from(width) {
        spread
    } else {
        text.to_string()
    }
}

pub(super) fn session(frame: &mut Frame, area: Rect, wizard: &Wizard, theme: Theme) {
    let s = wizard.session();
    let failures = s.failures.len().min(4) as u16;
    let [big_area, members_area, failures_area] = Layout::vertical([
        Constraint::Length(8),
        Constraint::Fill(1),
        Constraint::Length(if failures == 0 { 0 } else { failures + 2 }),
    ])
    .areas(area);

    let inner_width = big_area.width.saturating_sub(4);
    let text = match (&s.failed, &s.passphrase, &s.fingerprint) {
        (Some(message), _, _) => Text::from(vec![
            Line::styled("The trust session is not open:", theme.error()),
            Line::styled(format!("  {message}"), theme.error()),
            Line::raw(""),
            Line::raw("r opens a new session (with a new passphrase)."),
        ]),
        (None, Some(passphrase), fingerprint) => {
            let mut lines = vec![
                Line::raw("On each chosen server, run `muster join` and type this passphrase:"),
                Line::styled(spread(passphrase, inner_width), theme.big()).centered(),
                Line::raw(""),
                Line::raw("This server's fingerprint; `muster join` shows it, compare the two:"),
                Line::styled(
                    spread(fingerprint.as_deref().unwrap_or("?"), inner_width),
                    theme.big(),
                )
                .centered(),
            ];
            // mDNS does not reach them, so neither would `muster join`'s
            // search for this server.
            if wizard.chosen_peers().iter().any(|r| r.by_address.is_some()) {
                lines.push(Line::styled(
                    "On those added by address: muster join --initiator THIS-SERVER'S-ADDRESS",
                    theme.warning(),
                ));
            }
            Text::from(lines)
        }
        (None, None, _) => Text::styled("Opening the trust session…", theme.dim()),
    };
    let block = Block::bordered().title(" Trust session ");
    frame.render_widget(
        Paragraph::new(text).block(block).wrap(Wrap { trim: false }),
        big_area,
    );

    let chosen = wizard.chosen_peers();
    let trusted = chosen
        .iter()
        .filter(|r| s.trusted.contains_key(&r.peer.name))
        .count();
    let mut rows: Vec<Row> = chosen
        .iter()
        .map(|r| {
            let name = &r.peer.name;
            match s.trusted.get(name) {
                Some(fp) => Row::new(vec![
                    Cell::from(name.clone()),
                    Cell::from(Span::styled("trusted", theme.good())),
                    Cell::from(fp.clone()),
                ]),
                None => Row::new(vec![
                    Cell::from(name.clone()),
                    Cell::from(Span::styled("waiting", theme.warning())),
                    Cell::from(Span::styled(
                        "for `muster join` with the passphrase",
                        theme.dim(),
                    )),
                ]),
            }
        })
        .collect();
    // Someone who knew the passphrase but was not chosen: shown, so that
    // the operator notices, but not made a member.
    for (name, fp) in &s.trusted {
        if !chosen.iter().any(|r| &r.peer.name == name) {
            rows.push(Row::new(vec![
                Cell::from(name.clone()),
                Cell::from(Span::styled("joined", theme.warning())),
                Cell::from(format!("{fp}  (not chosen: not a member)")),
            ]));
        }
    }
    let title = format!(" Chosen peers: {trusted} of {} trusted ", chosen.len());
    let table = Table::new(
        rows,
        [
            Constraint::Length(16),
            Constraint::Length(8),
            Constraint::Fill(1),
        ],
    )
    .block(Block::bordered().title(title));
    frame.render_widget(table, members_area);

    if failures > 0 {
        let items: Vec<ListItem> = s
            .failures
            .iter()
            .take(usize::from(failures))
            .map(|f| {
                let claim = f
                    .claimed_name
                    .as_deref()
                    .map(|n| format!(" claiming to be {n}"))
                    .unwrap_or_default();
                let times = if f.count > 1 {
                    format!(" ({} times)", f.count)
                } else {
                    String::new()
                };
                ListItem::new(Line::styled(
                    format!("from {}{claim}{times}", f.address),
                    theme.error(),
                ))
            })
            .collect();
        let title = format!(" Wrong passphrases: {} ", s.failed_total);
        frame.render_widget(
            List::new(items).block(Block::bordered().title(title)),
            failures_area,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_only_what_fits() {
        assert_eq!(spread("ab-cd", 20), "a b - c d");
        assert_eq!(spread("ab-cd", 6), "ab-cd");
    }
}
