//! Where the commands print: standard output, read by people and pipes.

use std::io::{self, Write};

use anyhow::Context;

/// Standard output that treats a closed pipe (`muster peers | head`) as the
/// reader being done rather than as an error.
pub(crate) struct Output {
    closed: bool,
}

impl Output {
    pub(crate) fn stdout() -> Self {
        Output { closed: false }
    }

    pub(crate) fn line(&mut self, text: &str) -> anyhow::Result<()> {
        if self.closed {
            return Ok(());
        }
        // Stdout is line-buffered, so each event shows as it happens.
        match writeln!(io::stdout(), "{text}") {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            other => other.context("cannot write to standard output"),
        }
    }
}
