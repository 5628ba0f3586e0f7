//! Trust between servers: the initiator's session as the operator opens
//! and closes it, the pairing handshake it answers, and the joiner's side,
//! by hand (`muster join`) or zero-touch (enrollment).

pub(crate) mod enroll;
pub(crate) mod initiator;
pub(crate) mod joiner;
pub(crate) mod pairing;
