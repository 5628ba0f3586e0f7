//! The `muster` command line, as a library so that its clap definition
//! ([`command`]) can feed man-page and completion generators.

pub mod agent;
pub mod args;
mod formation;
mod init_tui;
mod output;
mod removal;
pub mod render;
pub mod render_trust;
pub mod run;
mod trust;

pub use args::{command, Cli, Command};
pub use run::run;

/// reqwest is built without a TLS provider of its own; muster uses ring
/// everywhere. Must run before the first HTTP client is built.
pub fn install_crypto_provider() {
    // Fails only when a provider is already installed, which is as good.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
