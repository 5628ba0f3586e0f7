//! The muster agent (`musterd`): one per server. It keeps the server's
//! identity, serves the local CLI on a unix socket and peers over HTTPS, and
//! advertises the server over mDNS.

mod api;
pub mod cli;
pub mod config;
mod logging;
mod server;
mod signals;
mod socket;
mod state;
pub mod tls;

pub use cli::{command, Args};
pub use config::{Config, ConfigError, DiscoveryConfig, DisksConfig, ServerName};
pub use server::{run, Agent};
