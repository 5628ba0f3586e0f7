//! The muster agent (`musterd`): one per server. It keeps the server's
//! identity and trust store, serves the local CLI on a unix socket and
//! peers over HTTPS (pairing for anyone, the member API over pinned mutual
//! TLS), advertises the server over mDNS and watches for its peers.

mod answer;
mod ceph;
pub mod cli;
mod cluster_state;
pub mod config;
mod disks;
mod error;
mod formation;
mod guess_budget;
mod http;
mod interfaces;
mod logging;
mod lxd;
mod maintenance;
mod member;
mod programs;
mod removal;
mod seen;
mod server;
mod session;
mod shared;
mod signals;
mod socket;
mod state;
mod steps;
pub mod tls;
mod trust;
mod trust_store;

pub use cli::{command, Args};
pub use config::{Config, ConfigError, DiscoveryConfig, DisksConfig, LxdConfig, ServerName};
pub use server::{run, Agent};
