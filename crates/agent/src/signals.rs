//! SIGTERM (systemd stopping the unit) and SIGINT (Ctrl-C in a terminal)
//! both mean "shut down cleanly".

use std::future::Future;
use std::io;

use tokio::signal::unix::{signal, SignalKind};

/// Installs the handlers now, so a signal that arrives while the agent is
/// still starting is not lost; the future resolves with the signal's name.
pub(crate) fn shutdown_signal() -> io::Result<impl Future<Output = &'static str>> {
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => "SIGTERM",
            _ = interrupt.recv() => "SIGINT",
        }
    })
}
