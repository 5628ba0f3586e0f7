//! Discovery over mDNS / DNS-SD: the agent advertises itself, the CLI browses.

pub mod txt;
