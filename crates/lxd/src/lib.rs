//! A small async client for LXD's REST API, spoken over LXD's unix socket,
//! covering what forming a cluster needs: server settings, bootstrap, join
//! tokens, joining, cluster members, storage pools, networks, profiles,
//! instance records and operations.
//!
//! Pure parts (the join token, the choice of join fields by API extension,
//! response parsing) are free of I/O and tested against responses recorded
//! from a real LXD 5.0.2 (`tests/fixtures/`).
//!
//! Only the unix socket is used: LXD's HTTPS listener is for members and
//! remote clients, and muster always runs next to the LXD it drives.

mod client;
mod error;
mod join;
mod response;
mod token;
mod types;

#[cfg(test)]
mod fixtures;

pub use client::{
    default_socket_candidates, LxdClient, DEB_SOCKET, DEFAULT_OPERATION_TIMEOUT,
    DEFAULT_REQUEST_TIMEOUT, INCUS_SOCKET, SNAP_SOCKET,
};
pub use error::{LxdError, SocketAttempt};
pub use join::{
    join_request, token_field, JoinInputs, JoinPlanError, TokenField, EXT_CLUSTERING_JOIN,
    EXT_CLUSTERING_JOIN_TOKEN, EXT_EXPLICIT_TRUST_TOKEN,
};
pub use response::{operation_id_from_url, parse_response, Response, ResponseKind};
pub use token::{certificate_fingerprint, JoinToken, TokenError};
pub use types::{
    cluster_unsettled, Cluster, ClusterMember, ClusterPut, Daemon, Instance, InstanceSource,
    InstancesPost, JoinTokenOperation, MemberConfigKey, Network, NetworksPost, Operation,
    OperationStatus, Profile, ProfilePut, Server, ServerEnvironment, StorageDriverInfo,
    StoragePool, StoragePoolsPost,
};
