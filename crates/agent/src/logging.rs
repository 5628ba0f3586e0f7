//! Logs go to stderr; under systemd that is the journal.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// `RUST_LOG` overrides the default level (info).
pub(crate) fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // systemd sets JOURNAL_STREAM for a unit whose stderr is the journal,
    // which stamps every line itself.
    let journal = std::env::var_os("JOURNAL_STREAM").is_some();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(!journal && std::io::stderr().is_terminal());
    // `try_init`: a second call (tests) keeps the first subscriber.
    let _ = if journal {
        builder.without_time().try_init()
    } else {
        builder.try_init()
    };
}
