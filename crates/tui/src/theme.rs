//! Styles, with and without colour. Without colour (NO_COLOR, see
//! <https://no-color.org>) the same distinctions are made with bold,
//! reverse video and underline, which NO_COLOR leaves alone.

use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    pub const COLOR: Theme = Theme { color: true };
    pub const NO_COLOR: Theme = Theme { color: false };

    /// Colour unless `NO_COLOR` is set to anything but the empty string.
    pub fn from_env() -> Theme {
        Theme::from_no_color(std::env::var_os("NO_COLOR"))
    }

    pub fn from_no_color(value: Option<std::ffi::OsString>) -> Theme {
        Theme {
            color: value.is_none_or(|v| v.is_empty()),
        }
    }

    fn paint(self, color: Color, fallback: Modifier) -> Style {
        if self.color {
            Style::new().fg(color)
        } else {
            Style::new().add_modifier(fallback)
        }
    }

    pub fn title(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    /// The screen the operator is on, in the breadcrumb.
    pub fn current(self) -> Style {
        self.paint(Color::Cyan, Modifier::UNDERLINED)
            .add_modifier(Modifier::BOLD)
    }

    pub fn dim(self) -> Style {
        self.paint(Color::DarkGray, Modifier::empty())
    }

    pub fn cursor(self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    pub fn good(self) -> Style {
        self.paint(Color::Green, Modifier::empty())
    }

    pub fn warning(self) -> Style {
        self.paint(Color::Yellow, Modifier::BOLD)
    }

    pub fn error(self) -> Style {
        self.paint(Color::Red, Modifier::BOLD)
    }

    pub fn chosen(self) -> Style {
        self.paint(Color::Cyan, Modifier::BOLD)
    }

    pub fn key(self) -> Style {
        self.paint(Color::Cyan, Modifier::BOLD)
    }

    /// The passphrase and the fingerprint the joiners compare.
    pub fn big(self) -> Style {
        self.paint(Color::Yellow, Modifier::empty())
            .add_modifier(Modifier::BOLD)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_is_any_non_empty_value() {
        assert!(Theme::from_no_color(None).color);
        assert!(Theme::from_no_color(Some("".into())).color);
        assert!(!Theme::from_no_color(Some("1".into())).color);
        assert!(!Theme::from_no_color(Some("0".into())).color);
    }
}
