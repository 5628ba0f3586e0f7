//! The plan under review and the apply's progress, errors where they happened.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, ListItem, ListState, Paragraph, Wrap};
use ratatui::Frame;

use super::{cursor_list, member_label};
use crate::model::StepStatus;
use crate::state::{ApplyState, PlanState, Wizard};
use crate::theme::Theme;

pub(super) fn plan(frame: &mut Frame, area: Rect, wizard: &Wizard, theme: Theme) {
    let warning = wizard.ceph_warning();
    let [list_area, warning_area] = Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(u16::from(warning.is_some())),
    ])
    .areas(area);
    match wizard.plan() {
        PlanState::Ready(lines) => {
            let members: std::collections::BTreeSet<&str> =
                lines.iter().map(|l| l.member.as_str()).collect();
            let title = format!(
                " The plan: {} steps on {} members; review, then enter applies it ",
                lines.len(),
                members.len()
            );
            let mut items = Vec::new();
            let mut selected = None;
            let mut current: Option<&str> = None;
            // Numbered across members: the numbers are the order of the
            // apply, and a member's heading repeats when its turn comes
            // again.
            for (i, line) in lines.iter().enumerate() {
                if current != Some(line.member.as_str()) {
                    current = Some(&line.member);
                    items.push(ListItem::new(Line::styled(
                        member_label(&line.member, wizard),
                        theme.title(),
                    )));
                }
                if i == wizard.plan_cursor {
                    selected = Some(items.len());
                }
                items.push(ListItem::new(format!("  {:>2}. {}", i + 1, line.step)));
            }
            let list = cursor_list(items, theme).block(Block::bordered().title(title));
            let mut state = ListState::default().with_selected(selected);
            frame.render_stateful_widget(list, list_area, &mut state);
        }
        PlanState::Failed(message) => {
            let text = Text::from(vec![
                Line::styled("The plan could not be made:", theme.error()),
                Line::styled(format!("  {message}"), theme.error()),
                Line::raw(""),
                Line::raw("enter tries again; esc goes back to change the choices."),
            ]);
            frame.render_widget(
                Paragraph::new(text)
                    .wrap(Wrap { trim: false })
                    .block(Block::bordered().title(" The plan ")),
                list_area,
            );
        }
        PlanState::Building | PlanState::NotBuilt => {
            frame.render_widget(
                Paragraph::new(Line::styled(
                    "Making the plan from what each member has now…",
                    theme.dim(),
                ))
                .block(Block::bordered().title(" The plan ")),
                list_area,
            );
        }
    }
    if let Some(warning) = warning {
        frame.render_widget(
            Line::styled(format!(" ⚠ {warning}"), theme.warning()),
            warning_area,
        );
    }
}

pub(super) fn progress(frame: &mut Frame, area: Rect, wizard: &Wizard, theme: Theme) {
    let [list_area, status_area] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(1)]).areas(area);
    // Error messages wrap under their step, indented past the symbol.
    let wrap_width = usize::from(list_area.width.saturating_sub(8)).max(20);
    let mut items = Vec::new();
    let mut selected = None;
    let mut index = 0;
    let mut failed_at = None;
    for member in wizard.progress() {
        items.push(ListItem::new(Line::styled(
            member_label(&member.member, wizard),
            theme.title(),
        )));
        for step in &member.steps {
            if index == wizard.progress_cursor {
                selected = Some(items.len());
            }
            index += 1;
            let (symbol, style, note) = match &step.status {
                None => ("·", theme.dim(), ""),
                Some(StepStatus::Running) => ("▸", theme.chosen(), "  running"),
                Some(StepStatus::Done) => ("✓", theme.good(), ""),
                Some(StepStatus::Skipped) => ("✓", theme.dim(), "  found done already"),
                Some(StepStatus::Failed(_)) => ("✗", theme.error(), "  failed"),
            };
            let mut lines = vec![Line::from(vec![
                Span::styled(format!("  {symbol} "), style),
                Span::styled(step.step.clone(), style),
                Span::styled(note, style),
            ])];
            if let Some(StepStatus::Failed(message)) = &step.status {
                failed_at = Some(member.member.clone());
                lines.extend(
                    wrap(message, wrap_width)
                        .into_iter()
                        .map(|l| Line::styled(format!("      {l}"), theme.error())),
                );
            }
            items.push(ListItem::new(Text::from(lines)));
        }
    }
    let done = wizard
        .progress()
        .iter()
        .flat_map(|m| &m.steps)
        .filter(|s| matches!(s.status, Some(StepStatus::Done | StepStatus::Skipped)))
        .count();
    let title = format!(" Applying the plan: {done} of {index} steps done ");
    let list = cursor_list(items, theme).block(Block::bordered().title(title));
    let mut state = ListState::default().with_selected(selected);
    frame.render_stateful_widget(list, list_area, &mut state);

    let status = match (wizard.apply_state(), failed_at) {
        (ApplyState::Failed, Some(member)) => Line::styled(
            format!(" ✗ Failed on {member}, as shown above. Fix the cause, then r resumes."),
            theme.error(),
        ),
        (ApplyState::Failed, None) => {
            Line::styled(" ✗ The apply failed. r resumes it.", theme.error())
        }
        (ApplyState::Finished, _) => Line::styled(
            " ✓ The cluster is formed. `muster status` shows it.",
            theme.good(),
        ),
        _ => Line::styled(
            " Applying… every step first checks what is already done.",
            theme.dim(),
        ),
    };
    frame.render_widget(status, status_area);
}

/// Cuts `text` into lines of at most `width` characters, at spaces where
/// it can.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.lines() {
        let mut line = String::new();
        for word in paragraph.split(' ') {
            let mut word = word.to_string();
            loop {
                let len = line.chars().count();
                let sep = usize::from(len > 0);
                if len + sep + word.chars().count() <= width {
                    if sep == 1 {
                        line.push(' ');
                    }
                    line.push_str(&word);
                    break;
                }
                if len > 0 {
                    lines.push(std::mem::take(&mut line));
                    continue;
                }
                // A word longer than a line: cut it.
                let head: String = word.chars().take(width).collect();
                word = word.chars().skip(width).collect();
                lines.push(head);
                if word.is_empty() {
                    break;
                }
            }
        }
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_spaces_and_cuts_long_words() {
        assert_eq!(wrap("a bb ccc", 4), ["a bb", "ccc"]);
        assert_eq!(wrap("abcdefghij x", 4), ["abcd", "efgh", "ij x"]);
        assert_eq!(wrap("one\ntwo", 10), ["one", "two"]);
    }
}
