//! What a step needs from the world.

use std::future::Future;

use muster_plan::{DiskRef, Observed, Step};

/// Why the world could not do what a step asked, in its own words.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// A member whose state could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{member}: {cause}")]
pub struct ObserveError {
    pub member: String,
    #[source]
    pub cause: Cause,
}

/// A join token from the initiator's LXD.
#[derive(Debug, Clone)]
pub struct Issued<T> {
    pub token: T,
    /// Issued by an earlier run and never used: LXD would cancel it for a
    /// new one, and a join right after such a cancel was seen to hang LXD
    /// 5.0 for good.
    pub earlier: bool,
}

/// The members as the initiator reaches them. Each call is one step's
/// effect; the executor decides which call a step needs and when.
pub trait World: Sync {
    /// What a joiner needs to join; only the world reads it.
    type Token: Send + Sync;

    /// Every member's LXD, disks and part in Ceph, read now.
    fn observe(&self) -> impl Future<Output = Result<Observed, ObserveError>> + Send;

    /// The initiator's LXD carries out `step`: its address, the bootstrap,
    /// pools, networks, the default profile, a stale member's removal.
    fn lxd(&self, step: &Step) -> impl Future<Output = Result<(), Cause>> + Send;

    /// The initiator's LXD issues a join token for `joiner` (or hands back
    /// the one it issued earlier).
    fn issue_token(
        &self,
        joiner: &str,
    ) -> impl Future<Output = Result<Issued<Self::Token>, Cause>> + Send;

    /// The joiner's agent joins its LXD with `token`; `step` is the plan's
    /// `JoinCluster`.
    fn join(
        &self,
        step: &Step,
        token: &Self::Token,
    ) -> impl Future<Output = Result<(), Cause>> + Send;

    /// The Ceph step `step` on its member (through its agent when it is not
    /// the initiator).
    fn ceph(&self, step: &Step) -> impl Future<Output = Result<(), Cause>> + Send;

    /// `member`'s agent erases `disk`, looking again first.
    fn wipe(&self, member: &str, disk: &DiskRef) -> impl Future<Output = Result<(), Cause>> + Send;
}
