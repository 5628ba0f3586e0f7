//! How muster servers come to trust each other, as pure logic.
//!
//! The initiator shows a passphrase ([`passphrase`]); each joiner proves it
//! knows it through a SPAKE2 handshake with key confirmation ([`pake`]), which
//! also exchanges both sides' certificate fingerprints under the confirmed key.
//! Wrong guesses are slowed down and bounded ([`limits`]). From then on every
//! member-to-member call is mutual TLS with both certificates pinned ([`pin`]).
//!
//! Nothing here touches the network or reads a clock: callers pass the time
//! in, so the agent owns the I/O and tests own the time.
//! `docs/protocol.md` at the repository root describes the protocol for review.

pub mod fingerprint;
pub mod limits;
pub mod pake;
pub mod passphrase;
pub mod pin;
pub mod source;
mod wordlist;

pub use fingerprint::{Fingerprint, FingerprintError};
pub use limits::{Limiter, Limits, Penalty, Refusal};
pub use pake::{
    AttemptId, Confirmation, Finish, Hello, InitiatorAttempt, InitiatorSession, Joined,
    JoinerAttempt, JoinerAwaitingWelcome, PakeError, PeerIdentity, Reply, SessionConfig, SessionId,
    SessionInfo, SessionState, SpakeMessage, TrustError, Welcome,
};
pub use passphrase::{Passphrase, PassphraseError};
pub use pin::{FirstContactVerifier, PinError, PinSet, PinnedClientVerifier, PinnedServerVerifier};
pub use source::Source;
pub use wordlist::WORDS;
