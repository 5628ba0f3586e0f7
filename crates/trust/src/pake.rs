//! The trust handshake: SPAKE2 plus a key-confirmation round, carrying both
//! sides' certificate fingerprints. `docs/protocol.md` is the reviewer's
//! description; this is the implementation.
//!
//! ```text
//! joiner (SPAKE2 side A)                        initiator (side B)
//!   Hello   {session_id, joiner_name, joiner_fingerprint, X}  ->
//!        <-  Reply   {attempt_id, initiator_name, initiator_fingerprint, Y}
//!   Finish  {attempt_id, confirm_j}                           ->
//!        <-  Welcome {attempt_id, confirm_i}
//! ```
//!
//! T = SHA-256 of every field above but the confirmations, length-prefixed.
//! k_j, k_i = HKDF-SHA256(salt = T, ikm = SPAKE2 key, info = role label).
//! confirm_j = HMAC(k_j, T), confirm_i = HMAC(k_i, T).
//!
//! The joiner confirms first, so the initiator never says whether a guess was
//! right before the guesser has committed to it with a Finish, which the
//! initiator counts; an attacker who stops after the Reply has learnt
//! nothing. Identities travel in the clear (fingerprints are not secret) and
//! are authenticated because they are in T.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::IpAddr;

use crate::source::Source;
use std::time::{Duration, Instant};

use curve25519_dalek::edwards::CompressedEdwardsY;
use curve25519_dalek::traits::IsIdentity;
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use spake2::{Ed25519Group, Identity, Password, Spake2};
use zeroize::Zeroizing;

use crate::fingerprint::Fingerprint;
use crate::limits::{Limiter, Limits, Penalty, Refusal};
use crate::passphrase::Passphrase;

/// Names this protocol in every derivation: a change to the messages or the
/// transcript must change it.
pub const PROTOCOL: &str = "muster-trust/1";
const SPAKE_ID_JOINER: &[u8] = b"muster-trust/1 joiner";
const SPAKE_ID_INITIATOR: &[u8] = b"muster-trust/1 initiator";
const LABEL_TRANSCRIPT: &[u8] = b"muster-trust/1 transcript";
const LABEL_CONFIRM_JOINER: &[u8] = b"muster-trust/1 confirm joiner";
const LABEL_CONFIRM_INITIATOR: &[u8] = b"muster-trust/1 confirm initiator";
/// The side byte spake2 prefixes to its messages.
const SIDE_A: u8 = b'A';
const SIDE_B: u8 = b'B';

/// Longest server name accepted (a DNS name's limit).
pub const MAX_NAME_LEN: usize = 253;

type HmacSha256 = Hmac<Sha256>;

macro_rules! hex_bytes {
    ($(#[$meta:meta])* $name:ident, $len:expr) => {
        $(#[$meta])*
        #[derive(Clone, Copy)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }

            pub fn from_hex(s: &str) -> Result<Self, hex::FromHexError> {
                let mut b = [0u8; $len];
                hex::decode_to_slice(s, &mut b)?;
                Ok($name(b))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_hex())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_hex())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $name::from_hex(&s).map_err(|e| {
                    serde::de::Error::custom(format_args!(
                        "{}: expected {} hex characters: {e}",
                        stringify!($name),
                        2 * $len
                    ))
                })
            }
        }
    };
}

hex_bytes!(
    /// Names one session; public (joiners learn it before they hold any secret).
    #[derive(PartialEq, Eq, Hash)]
    SessionId,
    16
);
hex_bytes!(
    /// Names one handshake within a session, chosen by the initiator.
    #[derive(PartialEq, Eq, Hash)]
    AttemptId,
    16
);
hex_bytes!(
    /// A SPAKE2 message: a side byte and a compressed Edwards25519 point.
    #[derive(PartialEq, Eq, Hash)]
    SpakeMessage,
    33
);
hex_bytes!(
    /// An HMAC-SHA256 key confirmation. Deliberately without `PartialEq`:
    /// it is only ever checked in constant time.
    Confirmation,
    32
);

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Display for AttemptId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    OsRng.fill_bytes(&mut b);
    b
}

/// Who a side says it is: its server name and its TLS certificate fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PeerIdentity {
    pub name: String,
    pub fingerprint: Fingerprint,
}

/// What the initiator publishes so a joiner can start (unauthenticated).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub protocol: String,
    pub session_id: SessionId,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hello {
    pub session_id: SessionId,
    pub joiner_name: String,
    pub joiner_fingerprint: Fingerprint,
    pub spake_msg: SpakeMessage,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reply {
    pub attempt_id: AttemptId,
    pub initiator_name: String,
    pub initiator_fingerprint: Fingerprint,
    pub spake_msg: SpakeMessage,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finish {
    pub attempt_id: AttemptId,
    pub confirm: Confirmation,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Welcome {
    pub attempt_id: AttemptId,
    pub confirm: Confirmation,
}

/// Failures of one handshake, on either side.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PakeError {
    #[error(
        "this handshake is for another trust session (the initiator may have started a new one)"
    )]
    WrongSession,
    #[error("this message belongs to another handshake")]
    WrongAttempt,
    #[error("malformed handshake message: {0}")]
    BadMessage(&'static str),
    #[error("a server name must be 1 to {MAX_NAME_LEN} bytes without control characters")]
    BadName,
    #[error("both sides presented the same certificate")]
    SameIdentity,
    #[error("the passphrase did not match (or the exchange was tampered with)")]
    ConfirmationFailed,
}

fn check_name(name: &str) -> Result<(), PakeError> {
    if name.is_empty() || name.len() > MAX_NAME_LEN || name.chars().any(char::is_control) {
        return Err(PakeError::BadName);
    }
    Ok(())
}

/// Refuses anything but a canonical encoding of a point of the prime-order
/// subgroup other than the identity: a small-order or mixed point would let a
/// peer force part of the shared secret.
fn check_spake_msg(msg: &SpakeMessage, side: u8) -> Result<(), PakeError> {
    if msg.0[0] != side {
        return Err(PakeError::BadMessage("SPAKE2 message from the wrong side"));
    }
    let mut y = [0u8; 32];
    y.copy_from_slice(&msg.0[1..]);
    let compressed = CompressedEdwardsY(y);
    let point = compressed
        .decompress()
        .ok_or(PakeError::BadMessage("SPAKE2 message is not a curve point"))?;
    if point.compress() != compressed || point.is_identity() || !point.is_torsion_free() {
        return Err(PakeError::BadMessage(
            "SPAKE2 message is not a valid group element",
        ));
    }
    Ok(())
}

fn password(p: &Passphrase) -> Password {
    Password::new(p.as_str().as_bytes())
}

fn spake_message(msg: &[u8]) -> SpakeMessage {
    SpakeMessage(
        msg.try_into()
            .expect("spake2 Ed25519 messages are 33 bytes"),
    )
}

fn spake_finish(
    spake: Spake2<Ed25519Group>,
    theirs: &SpakeMessage,
) -> Result<Zeroizing<Vec<u8>>, PakeError> {
    spake
        .finish(&theirs.0)
        .map(Zeroizing::new)
        .map_err(|_| PakeError::BadMessage("SPAKE2 message refused"))
}

fn spake_ids() -> (Identity, Identity) {
    (
        Identity::new(SPAKE_ID_JOINER),
        Identity::new(SPAKE_ID_INITIATOR),
    )
}

fn transcript(
    session_id: &SessionId,
    joiner: &PeerIdentity,
    x: &SpakeMessage,
    attempt_id: &AttemptId,
    initiator: &PeerIdentity,
    y: &SpakeMessage,
) -> [u8; 32] {
    let mut h = Sha256::new();
    let fields: [&[u8]; 9] = [
        LABEL_TRANSCRIPT,
        &session_id.0,
        joiner.name.as_bytes(),
        joiner.fingerprint.as_str().as_bytes(),
        &x.0,
        &attempt_id.0,
        initiator.name.as_bytes(),
        initiator.fingerprint.as_str().as_bytes(),
        &y.0,
    ];
    for f in fields {
        // Length prefixes keep field boundaries unambiguous.
        h.update((f.len() as u64).to_be_bytes());
        h.update(f);
    }
    h.finalize().into()
}

/// Both confirmation keys and the transcript they confirm.
struct Confirmer {
    transcript: [u8; 32],
    joiner_key: Zeroizing<[u8; 32]>,
    initiator_key: Zeroizing<[u8; 32]>,
}

impl Confirmer {
    fn new(spake_key: &[u8], transcript: [u8; 32]) -> Confirmer {
        let hk = Hkdf::<Sha256>::new(Some(&transcript), spake_key);
        let mut joiner_key = Zeroizing::new([0u8; 32]);
        let mut initiator_key = Zeroizing::new([0u8; 32]);
        // 32 bytes is far below HKDF-SHA256's output limit.
        hk.expand(LABEL_CONFIRM_JOINER, joiner_key.as_mut())
            .expect("32-byte HKDF output");
        hk.expand(LABEL_CONFIRM_INITIATOR, initiator_key.as_mut())
            .expect("32-byte HKDF output");
        Confirmer {
            transcript,
            joiner_key,
            initiator_key,
        }
    }

    fn mac(&self, key: &[u8; 32]) -> HmacSha256 {
        let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
        m.update(&self.transcript);
        m
    }

    fn confirm_joiner(&self) -> Confirmation {
        Confirmation(self.mac(&self.joiner_key).finalize().into_bytes().into())
    }

    fn confirm_initiator(&self) -> Confirmation {
        Confirmation(self.mac(&self.initiator_key).finalize().into_bytes().into())
    }

    /// Constant-time (hmac's `verify_slice` compares with `subtle`).
    fn verify_joiner(&self, c: &Confirmation) -> bool {
        self.mac(&self.joiner_key).verify_slice(&c.0).is_ok()
    }

    fn verify_initiator(&self, c: &Confirmation) -> bool {
        self.mac(&self.initiator_key).verify_slice(&c.0).is_ok()
    }
}

// ---------------------------------------------------------------- joiner

/// A joiner's handshake before the initiator's Reply. Each step consumes the
/// state, so no message can be fed twice to the same handshake.
pub struct JoinerAttempt {
    spake: Spake2<Ed25519Group>,
    session_id: SessionId,
    me: PeerIdentity,
    spake_msg: SpakeMessage,
}

/// A joiner that has sent its Finish and waits for the initiator's Welcome.
pub struct JoinerAwaitingWelcome {
    confirmer: Confirmer,
    attempt_id: AttemptId,
    initiator: PeerIdentity,
}

impl JoinerAttempt {
    pub fn start(
        passphrase: &Passphrase,
        session_id: SessionId,
        me: PeerIdentity,
    ) -> Result<(JoinerAttempt, Hello), PakeError> {
        check_name(&me.name)?;
        let (id_a, id_b) = spake_ids();
        let (spake, msg) = Spake2::<Ed25519Group>::start_a(&password(passphrase), &id_a, &id_b);
        let spake_msg = spake_message(&msg);
        let hello = Hello {
            session_id,
            joiner_name: me.name.clone(),
            joiner_fingerprint: me.fingerprint.clone(),
            spake_msg,
        };
        Ok((
            JoinerAttempt {
                spake,
                session_id,
                me,
                spake_msg,
            },
            hello,
        ))
    }

    /// Derives the keys from the Reply and answers with the joiner's
    /// confirmation. Nothing in the Reply is trusted yet.
    pub fn reply(self, reply: &Reply) -> Result<(JoinerAwaitingWelcome, Finish), PakeError> {
        check_name(&reply.initiator_name)?;
        check_spake_msg(&reply.spake_msg, SIDE_B)?;
        if reply.initiator_fingerprint == self.me.fingerprint {
            return Err(PakeError::SameIdentity);
        }
        let key = spake_finish(self.spake, &reply.spake_msg)?;
        let initiator = PeerIdentity {
            name: reply.initiator_name.clone(),
            fingerprint: reply.initiator_fingerprint.clone(),
        };
        let t = transcript(
            &self.session_id,
            &self.me,
            &self.spake_msg,
            &reply.attempt_id,
            &initiator,
            &reply.spake_msg,
        );
        let confirmer = Confirmer::new(&key, t);
        let finish = Finish {
            attempt_id: reply.attempt_id,
            confirm: confirmer.confirm_joiner(),
        };
        Ok((
            JoinerAwaitingWelcome {
                confirmer,
                attempt_id: reply.attempt_id,
                initiator,
            },
            finish,
        ))
    }
}

impl JoinerAwaitingWelcome {
    /// The initiator's identity, once its confirmation proves it holds the
    /// same key: only then may the caller pin it.
    pub fn welcome(self, welcome: &Welcome) -> Result<PeerIdentity, PakeError> {
        if welcome.attempt_id != self.attempt_id {
            return Err(PakeError::WrongAttempt);
        }
        if !self.confirmer.verify_initiator(&welcome.confirm) {
            return Err(PakeError::ConfirmationFailed);
        }
        Ok(self.initiator)
    }
}

// ------------------------------------------------------------- initiator

/// The initiator's side of one handshake, between its Reply and the
/// joiner's Finish. It holds derived keys only, not the passphrase.
pub struct InitiatorAttempt {
    id: AttemptId,
    joiner: PeerIdentity,
    confirmer: Confirmer,
}

impl InitiatorAttempt {
    /// Answers a Hello. Usually called through [`InitiatorSession::hello`],
    /// which adds the session's checks and bookkeeping.
    pub fn start(
        passphrase: &Passphrase,
        session_id: SessionId,
        me: &PeerIdentity,
        hello: &Hello,
    ) -> Result<(InitiatorAttempt, Reply), PakeError> {
        if hello.session_id != session_id {
            return Err(PakeError::WrongSession);
        }
        check_name(&hello.joiner_name)?;
        check_spake_msg(&hello.spake_msg, SIDE_A)?;
        if hello.joiner_fingerprint == me.fingerprint {
            return Err(PakeError::SameIdentity);
        }
        let (id_a, id_b) = spake_ids();
        let (spake, msg) = Spake2::<Ed25519Group>::start_b(&password(passphrase), &id_a, &id_b);
        let spake_msg = spake_message(&msg);
        let key = spake_finish(spake, &hello.spake_msg)?;
        let id = AttemptId(random_bytes());
        let joiner = PeerIdentity {
            name: hello.joiner_name.clone(),
            fingerprint: hello.joiner_fingerprint.clone(),
        };
        let t = transcript(&session_id, &joiner, &hello.spake_msg, &id, me, &spake_msg);
        let reply = Reply {
            attempt_id: id,
            initiator_name: me.name.clone(),
            initiator_fingerprint: me.fingerprint.clone(),
            spake_msg,
        };
        Ok((
            InitiatorAttempt {
                id,
                joiner,
                confirmer: Confirmer::new(&key, t),
            },
            reply,
        ))
    }

    pub fn id(&self) -> AttemptId {
        self.id
    }

    /// Who the joiner claims to be; not authenticated until [`Self::finish`].
    pub fn claimed_joiner(&self) -> &PeerIdentity {
        &self.joiner
    }

    /// Checks the joiner's confirmation; on success returns the joiner's
    /// authenticated identity and the Welcome to send back.
    pub fn finish(self, finish: &Finish) -> Result<(PeerIdentity, Welcome), PakeError> {
        if finish.attempt_id != self.id {
            return Err(PakeError::WrongAttempt);
        }
        if !self.confirmer.verify_joiner(&finish.confirm) {
            return Err(PakeError::ConfirmationFailed);
        }
        let welcome = Welcome {
            attempt_id: self.id,
            confirm: self.confirmer.confirm_initiator(),
        };
        Ok((self.joiner, welcome))
    }
}

/// Tunables of an initiator's session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// How long the session accepts joiners.
    pub lifetime: Duration,
    /// How long a joiner has between its Hello and its Finish.
    pub attempt_lifetime: Duration,
    /// Handshakes between Hello and Finish, in all and per [`Source`] (an
    /// IPv4 address, an IPv6 /64): the memory an unauthenticated party can
    /// make the initiator hold.
    pub max_pending: usize,
    pub max_pending_per_source: usize,
    /// Hellos after which the session ends; bounds the replay memory.
    pub max_hellos: usize,
    pub limits: Limits,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            lifetime: Duration::from_secs(30 * 60),
            attempt_lifetime: Duration::from_secs(60),
            max_pending: 64,
            max_pending_per_source: 4,
            max_hellos: 1000,
            limits: Limits::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    Open,
    Expired,
    /// Ended by the failure bound.
    Locked,
    /// Ended by the initiator, or by too many handshakes.
    Closed,
}

/// A session-level refusal or failure, for the agent to turn into an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustError {
    #[error("the trust session has expired; start a new one on the initiator")]
    Expired,
    #[error("the trust session has ended; start a new one on the initiator")]
    Ended,
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("too many handshakes in progress; try again in a minute")]
    Busy,
    #[error("this handshake message was already used")]
    Replay,
    #[error("no handshake in progress with this id (it finished, failed or expired)")]
    UnknownAttempt,
    #[error("the handshake took too long; start again")]
    AttemptExpired,
    #[error(
        "a server named {name:?} or with its certificate already joined with a different identity"
    )]
    IdentityConflict { name: String },
    #[error(transparent)]
    Invalid(PakeError),
    /// A wrong guess, counted. The agent should hold its answer for
    /// `penalty.delay` before sending it.
    #[error("the passphrase did not match")]
    WrongPassphrase { penalty: Penalty },
}

/// A joiner the initiator now trusts, and the Welcome to send it.
#[derive(Debug, Clone)]
pub struct Joined {
    pub joiner: PeerIdentity,
    pub welcome: Welcome,
}

struct Pending {
    attempt: InitiatorAttempt,
    from: IpAddr,
    started: Instant,
}

/// The initiator's trust session: its passphrase, expiry, failure bounds,
/// handshakes in progress and the joiners accepted so far. Pure: the agent
/// passes each message with its source address and the time.
pub struct InitiatorSession {
    passphrase: Passphrase,
    id: SessionId,
    me: PeerIdentity,
    config: SessionConfig,
    expires_at: Instant,
    limiter: Limiter,
    pending: HashMap<AttemptId, Pending>,
    seen: HashSet<SpakeMessage>,
    closed: bool,
    joined: Vec<PeerIdentity>,
}

impl InitiatorSession {
    pub fn new(
        passphrase: Passphrase,
        me: PeerIdentity,
        config: SessionConfig,
        now: Instant,
    ) -> Result<InitiatorSession, PakeError> {
        check_name(&me.name)?;
        Ok(InitiatorSession {
            passphrase,
            id: SessionId(random_bytes()),
            me,
            expires_at: now + config.lifetime,
            limiter: Limiter::new(config.limits.clone()),
            config,
            pending: HashMap::new(),
            seen: HashSet::new(),
            closed: false,
            joined: Vec::new(),
        })
    }

    pub fn id(&self) -> SessionId {
        self.id
    }

    pub fn info(&self) -> SessionInfo {
        SessionInfo {
            protocol: PROTOCOL.to_string(),
            session_id: self.id,
        }
    }

    /// For the operator's screen, with `me().fingerprint.short()`.
    pub fn passphrase(&self) -> &Passphrase {
        &self.passphrase
    }

    pub fn me(&self) -> &PeerIdentity {
        &self.me
    }

    pub fn expires_at(&self) -> Instant {
        self.expires_at
    }

    pub fn limiter(&self) -> &Limiter {
        &self.limiter
    }

    /// Joiners accepted in this session, in order.
    pub fn joined(&self) -> &[PeerIdentity] {
        &self.joined
    }

    pub fn state(&self, now: Instant) -> SessionState {
        if self.closed {
            SessionState::Closed
        } else if self.limiter.session_locked() {
            SessionState::Locked
        } else if now >= self.expires_at {
            SessionState::Expired
        } else {
            SessionState::Open
        }
    }

    /// Stops accepting joiners (the operator moves on, or cancels).
    pub fn close(&mut self) {
        self.closed = true;
        self.pending.clear();
    }

    fn check_open(&mut self, now: Instant) -> Result<(), TrustError> {
        match self.state(now) {
            SessionState::Open => Ok(()),
            SessionState::Expired => {
                self.pending.clear();
                Err(TrustError::Expired)
            }
            SessionState::Locked | SessionState::Closed => {
                self.pending.clear();
                Err(TrustError::Ended)
            }
        }
    }

    /// One server, one name, one certificate: a name or certificate already
    /// accepted may only come back as the same pair (a joiner retrying after
    /// a lost Welcome).
    fn check_identity_free(&self, peer: &PeerIdentity) -> Result<(), TrustError> {
        let conflict = |other: &PeerIdentity| {
            (other.name == peer.name) != (other.fingerprint == peer.fingerprint)
        };
        if peer.name == self.me.name
            || peer.fingerprint == self.me.fingerprint
            || self.joined.iter().any(conflict)
        {
            return Err(TrustError::IdentityConflict {
                name: peer.name.clone(),
            });
        }
        Ok(())
    }

    /// Handles a Hello from `from`; returns the Reply to send.
    pub fn hello(
        &mut self,
        from: IpAddr,
        hello: &Hello,
        now: Instant,
    ) -> Result<Reply, TrustError> {
        self.check_open(now)?;
        if hello.session_id != self.id {
            return Err(TrustError::Invalid(PakeError::WrongSession));
        }
        self.limiter.check(from, now)?;
        if self.seen.contains(&hello.spake_msg) {
            return Err(TrustError::Replay);
        }
        if self.seen.len() >= self.config.max_hellos {
            self.close();
            return Err(TrustError::Ended);
        }
        self.pending
            .retain(|_, p| now < p.started + self.config.attempt_lifetime);
        let from = from.to_canonical();
        let source = Source::of(from);
        let from_here = self
            .pending
            .values()
            .filter(|p| Source::of(p.from) == source)
            .count();
        if self.pending.len() >= self.config.max_pending
            || from_here >= self.config.max_pending_per_source
        {
            return Err(TrustError::Busy);
        }
        self.check_identity_free(&PeerIdentity {
            name: hello.joiner_name.clone(),
            fingerprint: hello.joiner_fingerprint.clone(),
        })?;
        let (attempt, reply) = InitiatorAttempt::start(&self.passphrase, self.id, &self.me, hello)
            .map_err(TrustError::Invalid)?;
        self.seen.insert(hello.spake_msg);
        self.pending.insert(
            attempt.id(),
            Pending {
                attempt,
                from,
                started: now,
            },
        );
        Ok(reply)
    }

    /// Handles a Finish from `from`. Every outcome but a Finish from another
    /// address ends the handshake it names: a second Finish finds nothing.
    pub fn finish(
        &mut self,
        from: IpAddr,
        finish: &Finish,
        now: Instant,
    ) -> Result<Joined, TrustError> {
        self.check_open(now)?;
        let from = from.to_canonical();
        // Another host may not spend (and fail) someone else's handshake.
        match self.pending.get(&finish.attempt_id) {
            Some(p) if p.from == from => {}
            _ => return Err(TrustError::UnknownAttempt),
        }
        let Some(pending) = self.pending.remove(&finish.attempt_id) else {
            return Err(TrustError::UnknownAttempt);
        };
        if now >= pending.started + self.config.attempt_lifetime {
            return Err(TrustError::AttemptExpired);
        }
        // Parallel handshakes from one address must not buy extra guesses
        // during the delay that follows a failure.
        self.limiter.check(from, now)?;
        match pending.attempt.finish(finish) {
            Ok((joiner, welcome)) => {
                self.limiter.record_success(from);
                // Another joiner may have taken the name since the Hello.
                self.check_identity_free(&joiner)?;
                if !self.joined.contains(&joiner) {
                    self.joined.push(joiner.clone());
                }
                Ok(Joined { joiner, welcome })
            }
            Err(PakeError::ConfirmationFailed) => {
                let penalty = self.limiter.record_failure(from, now);
                if penalty.session_locked {
                    self.pending.clear();
                }
                Err(TrustError::WrongPassphrase { penalty })
            }
            Err(e) => Err(TrustError::Invalid(e)),
        }
    }
}

// Key material stays out of debug output.
impl fmt::Debug for JoinerAttempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinerAttempt")
            .field("session_id", &self.session_id)
            .field("me", &self.me)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for JoinerAwaitingWelcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinerAwaitingWelcome")
            .field("attempt_id", &self.attempt_id)
            .field("initiator", &self.initiator)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for InitiatorAttempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InitiatorAttempt")
            .field("id", &self.id)
            .field("joiner", &self.joiner)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for InitiatorSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InitiatorSession")
            .field("id", &self.id)
            .field("me", &self.me)
            .field("pending", &self.pending.len())
            .field("joined", &self.joined)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
