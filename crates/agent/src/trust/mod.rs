//! Trust between servers: the initiator's session as the operator opens
//! and closes it, the pairing handshake it answers, and the joiner's side,
//! by hand (`muster join`) or zero-touch (enrollment).

pub(crate) mod enroll;
pub(crate) mod initiator;
pub(crate) mod joiner;
pub(crate) mod look_up;
pub(crate) mod pairing;

use crate::error::{Error, ErrorChain, Kind};
use crate::shared::Shared;
use crate::trust_store::Member;

/// The operator stops trusting `name`: it is forgotten and unpinned, so
/// its next connection is refused in the TLS handshake. Logged at WARN.
pub(crate) fn forget(state: &Shared, name: &str) -> Result<Member, Error> {
    let removed = state.trust().remove(name).map_err(|e| {
        tracing::error!(error = %ErrorChain(&e), "cannot change the trust store");
        Error::new(Kind::Internal, e.to_string())
    })?;
    let Some(member) = removed else {
        return Err(Error::new(
            Kind::NotFound,
            format!(
                "{name} is not trusted by {} (see `muster members`)",
                state.me.name
            ),
        ));
    };
    tracing::warn!(
        name = %member.name,
        fingerprint = %member.fingerprint.short(),
        "the operator forgot a trusted member"
    );
    Ok(member)
}
