//! Errors of the discovery crate. Messages say what muster was trying to do,
//! so that "error: ..." lines are actionable on their own.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum DiscoveryError {
    #[error("cannot start the mDNS daemon")]
    Daemon(#[source] mdns_sd::Error),

    #[error("cannot browse for {service_type}")]
    Browse {
        service_type: String,
        #[source]
        source: mdns_sd::Error,
    },

    #[error("no network interface named {0:?} (see `ip link`)")]
    UnknownInterface(String),

    #[error("cannot restrict mDNS to the chosen interfaces")]
    Interfaces(#[source] mdns_sd::Error),

    #[error("cannot stop the mDNS daemon")]
    Shutdown(#[source] mdns_sd::Error),

    #[error("cannot advertise {instance} over mDNS")]
    Advertise {
        instance: String,
        #[source]
        source: mdns_sd::Error,
    },

    #[error("cannot withdraw the mDNS advertisement {instance}")]
    Withdraw {
        instance: String,
        #[source]
        source: mdns_sd::Error,
    },

    #[error("the mDNS daemon did not answer in time while {0}")]
    Timeout(&'static str),
}
