//! The muster agent (`musterd`): one per server. It keeps the server's
//! identity and trust store, serves the local CLI on a unix socket and
//! peers over HTTPS (pairing for anyone, the member API over pinned mutual
//! TLS), advertises the server over mDNS and watches for its peers.

mod api;
mod ceph;
pub mod cli;
mod cluster_state;
pub mod config;
mod disks;
mod enroll;
mod formation;
mod interfaces;
mod join;
mod logging;
mod lxd;
mod member_api;
mod pairing;
mod seen;
mod server;
mod session;
mod shared;
mod signals;
mod socket;
mod state;
pub mod tls;
mod trust_store;

pub use cli::{command, Args};
pub use config::{Config, ConfigError, DiscoveryConfig, DisksConfig, LxdConfig, ServerName};
pub use server::{run, Agent};
