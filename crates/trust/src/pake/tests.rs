use super::*;
use std::net::{Ipv4Addr, Ipv6Addr};

const RIGHT: &str = "apple bread cloud dance eagle";
const WRONG: &str = "apple bread cloud dance eager";
const JOINER_ADDR: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));

fn ident(name: &str) -> PeerIdentity {
    PeerIdentity {
        name: name.to_string(),
        fingerprint: Fingerprint::of_der(name.as_bytes()),
    }
}

fn pass(s: &str) -> Passphrase {
    Passphrase::parse(s).unwrap()
}

fn session_with(config: SessionConfig, t0: Instant) -> InitiatorSession {
    InitiatorSession::new(pass(RIGHT), ident("s1"), config, t0).unwrap()
}

fn session(t0: Instant) -> InitiatorSession {
    session_with(SessionConfig::default(), t0)
}

/// A message in flight, for tests that change it.
enum Msg<'a> {
    Hello(&'a mut Hello),
    Reply(&'a mut Reply),
    Finish(&'a mut Finish),
    Welcome(&'a mut Welcome),
}

#[derive(Debug)]
enum Outcome {
    /// Both sides finished: what each learnt about the other.
    Trusted {
        initiator_learnt: PeerIdentity,
        joiner_learnt: PeerIdentity,
    },
    InitiatorRefused(TrustError),
    JoinerRefusedReply(PakeError),
    /// The initiator accepted but the joiner refused the Welcome.
    JoinerRefusedWelcome(PakeError),
}

/// One full handshake between `s` and a joiner named `name` typing `typed`,
/// all messages through JSON (as on the wire) and through `tamper`.
fn run(
    s: &mut InitiatorSession,
    typed: &str,
    name: &str,
    now: Instant,
    tamper: &dyn Fn(Msg<'_>),
) -> Outcome {
    let (joiner, mut hello) = JoinerAttempt::start(&pass(typed), s.id(), ident(name)).unwrap();
    hello = wire(&hello);
    tamper(Msg::Hello(&mut hello));
    let mut reply = match s.hello(JOINER_ADDR, &hello, now) {
        Ok(r) => wire(&r),
        Err(e) => return Outcome::InitiatorRefused(e),
    };
    tamper(Msg::Reply(&mut reply));
    let (joiner, mut finish) = match joiner.reply(&reply) {
        Ok((j, f)) => (j, wire(&f)),
        Err(e) => return Outcome::JoinerRefusedReply(e),
    };
    tamper(Msg::Finish(&mut finish));
    let joined = match s.finish(JOINER_ADDR, &finish, now) {
        Ok(j) => j,
        Err(e) => return Outcome::InitiatorRefused(e),
    };
    let mut welcome = wire(&joined.welcome);
    tamper(Msg::Welcome(&mut welcome));
    match joiner.welcome(&welcome) {
        Ok(initiator) => Outcome::Trusted {
            initiator_learnt: joined.joiner,
            joiner_learnt: initiator,
        },
        Err(e) => Outcome::JoinerRefusedWelcome(e),
    }
}

fn wire<T: Serialize + serde::de::DeserializeOwned>(m: &T) -> T {
    serde_json::from_str(&serde_json::to_string(m).unwrap()).unwrap()
}

fn no_tamper(_: Msg<'_>) {}

#[test]
fn right_passphrase_exchanges_identities() {
    let t0 = Instant::now();
    let mut s = session(t0);
    // Typed differently, normalized the same.
    match run(
        &mut s,
        "  Apple Bread-CLOUD  dance eagle",
        "s2",
        t0,
        &no_tamper,
    ) {
        Outcome::Trusted {
            initiator_learnt,
            joiner_learnt,
        } => {
            assert_eq!(initiator_learnt, ident("s2"));
            assert_eq!(joiner_learnt, ident("s1"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.joined(), &[ident("s2")]);
}

#[test]
fn many_joiners_and_many_runs() {
    // Also exercises the group-element checks on many honest messages.
    let t0 = Instant::now();
    let mut s = session(t0);
    for i in 0..8 {
        let name = format!("node{i}");
        let addr = IpAddr::V4(Ipv4Addr::new(10, 0, 1, i));
        let (j, hello) = JoinerAttempt::start(&pass(RIGHT), s.id(), ident(&name)).unwrap();
        let reply = s.hello(addr, &hello, t0).unwrap();
        let (j, finish) = j.reply(&reply).unwrap();
        let joined = s.finish(addr, &finish, t0).unwrap();
        assert_eq!(j.welcome(&joined.welcome).unwrap(), ident("s1"));
    }
    assert_eq!(s.joined().len(), 8);
}

#[test]
fn wrong_passphrase_fails_on_both_sides_and_teaches_nothing() {
    let t0 = Instant::now();
    let mut s = session(t0);
    match run(&mut s, WRONG, "s2", t0, &no_tamper) {
        Outcome::InitiatorRefused(TrustError::WrongPassphrase { penalty }) => {
            assert_eq!(penalty.delay, Duration::from_secs(1));
        }
        other => panic!("{other:?}"),
    }
    assert!(s.joined().is_empty());
    assert_eq!(s.limiter().failures(JOINER_ADDR), 1);

    // A rogue initiator with the wrong passphrase (say, an mDNS spoofer)
    // cannot check the joiner's confirmation, nor forge its own.
    let session_id = SessionId([7; 16]);
    let (joiner, hello) = JoinerAttempt::start(&pass(RIGHT), session_id, ident("s2")).unwrap();
    let (rogue, reply) =
        InitiatorAttempt::start(&pass(WRONG), session_id, &ident("evil"), &hello).unwrap();
    let forged = Welcome {
        attempt_id: rogue.id(),
        confirm: rogue.confirmer.confirm_initiator(),
    };
    let (joiner, finish) = joiner.reply(&reply).unwrap();
    assert_eq!(
        rogue.finish(&finish).unwrap_err(),
        PakeError::ConfirmationFailed
    );
    assert_eq!(
        joiner.welcome(&forged).unwrap_err(),
        PakeError::ConfirmationFailed
    );
}

fn flip_str(s: &mut String) {
    let mut c: Vec<char> = s.chars().collect();
    c[0] = if c[0] == 'x' { 'y' } else { 'x' };
    *s = c.into_iter().collect();
}

fn flip_fp(fp: &mut Fingerprint) {
    let mut s = fp.as_str().to_string();
    let first = if s.starts_with('0') { "1" } else { "0" };
    s.replace_range(0..1, first);
    *fp = Fingerprint::parse(&s).unwrap();
}

/// A well-formed Hello from an unrelated handshake.
fn other_hello() -> Hello {
    JoinerAttempt::start(&pass(RIGHT), SessionId([9; 16]), ident("z"))
        .unwrap()
        .1
}

#[test]
fn tampering_with_any_field_fails() {
    type Tamper = fn(Msg<'_>);
    let cases: &[(&str, Tamper)] = &[
        ("hello.session_id", |m| {
            if let Msg::Hello(h) = m {
                h.session_id.0[3] ^= 1
            }
        }),
        ("hello.joiner_name", |m| {
            if let Msg::Hello(h) = m {
                flip_str(&mut h.joiner_name)
            }
        }),
        ("hello.joiner_fingerprint", |m| {
            if let Msg::Hello(h) = m {
                flip_fp(&mut h.joiner_fingerprint)
            }
        }),
        ("hello.spake_msg", |m| {
            if let Msg::Hello(h) = m {
                h.spake_msg.0[5] ^= 0x10
            }
        }),
        ("hello.spake_msg (another valid element)", |m| {
            if let Msg::Hello(h) = m {
                h.spake_msg = other_hello().spake_msg
            }
        }),
        ("reply.attempt_id", |m| {
            if let Msg::Reply(r) = m {
                r.attempt_id.0[0] ^= 1
            }
        }),
        ("reply.initiator_name", |m| {
            if let Msg::Reply(r) = m {
                flip_str(&mut r.initiator_name)
            }
        }),
        ("reply.initiator_fingerprint", |m| {
            if let Msg::Reply(r) = m {
                flip_fp(&mut r.initiator_fingerprint)
            }
        }),
        ("reply.spake_msg", |m| {
            if let Msg::Reply(r) = m {
                r.spake_msg.0[9] ^= 0x01
            }
        }),
        ("reply.spake_msg (another valid element)", |m| {
            if let Msg::Reply(r) = m {
                let h = other_hello();
                let me = ident("q");
                r.spake_msg = InitiatorAttempt::start(&pass(RIGHT), h.session_id, &me, &h)
                    .unwrap()
                    .1
                    .spake_msg
            }
        }),
        ("finish.attempt_id", |m| {
            if let Msg::Finish(f) = m {
                f.attempt_id.0[15] ^= 0x80
            }
        }),
        ("finish.confirm", |m| {
            if let Msg::Finish(f) = m {
                f.confirm.0[31] ^= 1
            }
        }),
        ("welcome.attempt_id", |m| {
            if let Msg::Welcome(w) = m {
                w.attempt_id.0[2] ^= 4
            }
        }),
        ("welcome.confirm", |m| {
            if let Msg::Welcome(w) = m {
                w.confirm.0[0] ^= 1
            }
        }),
    ];
    for (field, tamper) in cases {
        let t0 = Instant::now();
        let mut s = session(t0);
        let outcome = run(&mut s, RIGHT, "s2", t0, tamper);
        match (&outcome, field.starts_with("welcome")) {
            (
                Outcome::JoinerRefusedWelcome(
                    PakeError::WrongAttempt | PakeError::ConfirmationFailed,
                ),
                true,
            ) => {}
            (
                Outcome::InitiatorRefused(_)
                | Outcome::JoinerRefusedReply(PakeError::BadMessage(_)),
                false,
            ) => {
                assert!(
                    s.joined().is_empty(),
                    "{field}: initiator trusted the joiner"
                );
            }
            _ => panic!("{field}: {outcome:?}"),
        }
        if field.ends_with("(another valid element)") {
            assert!(
                matches!(
                    outcome,
                    Outcome::InitiatorRefused(TrustError::WrongPassphrase { .. })
                ),
                "{field}: {outcome:?}"
            );
        }
    }
}

#[test]
fn replayed_messages_are_refused() {
    let t0 = Instant::now();
    let mut s = session(t0);
    let (j, hello) = JoinerAttempt::start(&pass(RIGHT), s.id(), ident("s2")).unwrap();
    let reply = s.hello(JOINER_ADDR, &hello, t0).unwrap();
    // The same Hello again, even while the first is in progress.
    assert_eq!(
        s.hello(JOINER_ADDR, &hello, t0).unwrap_err(),
        TrustError::Replay
    );
    let (j, finish) = j.reply(&reply).unwrap();
    let joined = s.finish(JOINER_ADDR, &finish, t0).unwrap();
    j.welcome(&joined.welcome).unwrap();

    // After success: the Hello cannot open a new handshake, and the Finish
    // reaches a handshake that no longer exists.
    assert_eq!(
        s.hello(JOINER_ADDR, &hello, t0).unwrap_err(),
        TrustError::Replay
    );
    let other = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9));
    assert_eq!(s.hello(other, &hello, t0).unwrap_err(), TrustError::Replay);
    assert_eq!(
        s.finish(JOINER_ADDR, &finish, t0).unwrap_err(),
        TrustError::UnknownAttempt
    );

    // A Hello from this session means nothing to the next one.
    let mut next = session(t0);
    assert_eq!(
        next.hello(JOINER_ADDR, &hello, t0).unwrap_err(),
        TrustError::Invalid(PakeError::WrongSession)
    );

    // An old Welcome does not confirm a new handshake.
    let (j2, hello2) = JoinerAttempt::start(&pass(RIGHT), s.id(), ident("s2")).unwrap();
    let reply2 = s.hello(JOINER_ADDR, &hello2, t0).unwrap();
    let (j2, _finish2) = j2.reply(&reply2).unwrap();
    let stale = Welcome {
        attempt_id: reply2.attempt_id,
        confirm: joined.welcome.confirm,
    };
    assert_eq!(
        j2.welcome(&stale).unwrap_err(),
        PakeError::ConfirmationFailed
    );
}

#[test]
fn finish_after_failure_finds_nothing() {
    let t0 = Instant::now();
    let mut s = session(t0);
    let (j, hello) = JoinerAttempt::start(&pass(WRONG), s.id(), ident("s2")).unwrap();
    let reply = s.hello(JOINER_ADDR, &hello, t0).unwrap();
    let (_, finish) = j.reply(&reply).unwrap();
    assert!(matches!(
        s.finish(JOINER_ADDR, &finish, t0),
        Err(TrustError::WrongPassphrase { .. })
    ));
    let later = t0 + Duration::from_secs(5);
    assert_eq!(
        s.finish(JOINER_ADDR, &finish, later).unwrap_err(),
        TrustError::UnknownAttempt
    );
    assert_eq!(s.limiter().session_failures(), 1);
}

#[test]
fn a_stale_reply_does_not_complete_a_new_handshake() {
    let t0 = Instant::now();
    let mut s = session(t0);
    let (_, hello) = JoinerAttempt::start(&pass(RIGHT), s.id(), ident("s2")).unwrap();
    let old_reply = s.hello(JOINER_ADDR, &hello, t0).unwrap();
    let (j2, _) = JoinerAttempt::start(&pass(RIGHT), s.id(), ident("s2")).unwrap();
    let (_, finish) = j2.reply(&old_reply).unwrap();
    assert!(matches!(
        s.finish(JOINER_ADDR, &finish, t0),
        Err(TrustError::WrongPassphrase { .. })
    ));
    assert!(s.joined().is_empty());
}

#[test]
fn expired_session_is_refused() {
    let t0 = Instant::now();
    let config = SessionConfig {
        lifetime: Duration::from_secs(600),
        ..SessionConfig::default()
    };
    let mut s = session_with(config, t0);
    // A handshake started in time but finished after expiry.
    let (j, hello) = JoinerAttempt::start(&pass(RIGHT), s.id(), ident("s2")).unwrap();
    let reply = s
        .hello(JOINER_ADDR, &hello, t0 + Duration::from_secs(599))
        .unwrap();
    let (_, finish) = j.reply(&reply).unwrap();
    let t_end = t0 + Duration::from_secs(600);
    assert_eq!(s.state(t_end), SessionState::Expired);
    assert_eq!(
        s.finish(JOINER_ADDR, &finish, t_end).unwrap_err(),
        TrustError::Expired
    );
    assert!(matches!(
        run(&mut s, RIGHT, "s3", t_end, &no_tamper),
        Outcome::InitiatorRefused(TrustError::Expired)
    ));
    assert!(s.joined().is_empty());
}

#[test]
fn slow_handshake_is_refused_and_not_counted() {
    let t0 = Instant::now();
    let mut s = session(t0);
    let (j, hello) = JoinerAttempt::start(&pass(RIGHT), s.id(), ident("s2")).unwrap();
    let reply = s.hello(JOINER_ADDR, &hello, t0).unwrap();
    let (_, finish) = j.reply(&reply).unwrap();
    let late = t0 + SessionConfig::default().attempt_lifetime;
    assert_eq!(
        s.finish(JOINER_ADDR, &finish, late).unwrap_err(),
        TrustError::AttemptExpired
    );
    assert_eq!(s.limiter().session_failures(), 0);
}

fn fast_limits(per_address: u32, per_session: u32) -> SessionConfig {
    SessionConfig {
        limits: Limits {
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(1),
            max_failures_per_address: per_address,
            max_failures_per_session: per_session,
        },
        ..SessionConfig::default()
    }
}

#[test]
fn limiter_ends_the_session_after_the_bound() {
    let t0 = Instant::now();
    let mut s = session_with(fast_limits(5, 3), t0);
    for i in 0..3u8 {
        let addr = IpAddr::V4(Ipv4Addr::new(10, 0, 3, i));
        let (j, hello) = JoinerAttempt::start(&pass(WRONG), s.id(), ident("s2")).unwrap();
        let reply = s.hello(addr, &hello, t0).unwrap();
        let (_, finish) = j.reply(&reply).unwrap();
        match s.finish(addr, &finish, t0) {
            Err(TrustError::WrongPassphrase { penalty }) => {
                assert_eq!(penalty.session_locked, i == 2)
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(s.state(t0), SessionState::Locked);
    // Even the right passphrase from a fresh address is now refused.
    assert!(matches!(
        run(&mut s, RIGHT, "s9", t0, &no_tamper),
        Outcome::InitiatorRefused(TrustError::Ended)
    ));
}

#[test]
fn limiter_locks_an_address_and_delays_retries() {
    let t0 = Instant::now();
    let mut s = session_with(fast_limits(2, 20), t0);
    assert!(matches!(
        run(&mut s, WRONG, "s2", t0, &no_tamper),
        Outcome::InitiatorRefused(TrustError::WrongPassphrase { .. })
    ));
    // Too soon after the failure.
    assert!(matches!(
        run(&mut s, RIGHT, "s2", t0, &no_tamper),
        Outcome::InitiatorRefused(TrustError::Refused(Refusal::TooSoon { .. }))
    ));
    let t1 = t0 + Duration::from_secs(1);
    assert!(matches!(
        run(&mut s, WRONG, "s2", t1, &no_tamper),
        Outcome::InitiatorRefused(TrustError::WrongPassphrase { penalty }) if penalty.address_locked
    ));
    let t2 = t0 + Duration::from_secs(100);
    assert!(matches!(
        run(&mut s, RIGHT, "s2", t2, &no_tamper),
        Outcome::InitiatorRefused(TrustError::Refused(Refusal::AddressLocked))
    ));
    assert_eq!(s.state(t2), SessionState::Open);
}

#[test]
fn parallel_handshakes_do_not_buy_extra_guesses() {
    let t0 = Instant::now();
    let mut s = session(t0);
    let mut finishes = Vec::new();
    for _ in 0..3 {
        let (j, hello) = JoinerAttempt::start(&pass(WRONG), s.id(), ident("s2")).unwrap();
        let reply = s.hello(JOINER_ADDR, &hello, t0).unwrap();
        finishes.push(j.reply(&reply).unwrap().1);
    }
    assert!(matches!(
        s.finish(JOINER_ADDR, &finishes[0], t0),
        Err(TrustError::WrongPassphrase { .. })
    ));
    for f in &finishes[1..] {
        assert!(matches!(
            s.finish(JOINER_ADDR, f, t0),
            Err(TrustError::Refused(Refusal::TooSoon { .. }))
        ));
    }
    assert_eq!(s.limiter().session_failures(), 1);
}

#[test]
fn finish_from_another_address_neither_consumes_nor_counts() {
    let t0 = Instant::now();
    let mut s = session(t0);
    let (j, hello) = JoinerAttempt::start(&pass(RIGHT), s.id(), ident("s2")).unwrap();
    let reply = s.hello(JOINER_ADDR, &hello, t0).unwrap();
    let (j, finish) = j.reply(&reply).unwrap();
    let garbage = Finish {
        attempt_id: finish.attempt_id,
        confirm: Confirmation([0; 32]),
    };
    let elsewhere = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 66));
    assert_eq!(
        s.finish(elsewhere, &garbage, t0).unwrap_err(),
        TrustError::UnknownAttempt
    );
    let joined = s.finish(JOINER_ADDR, &finish, t0).unwrap();
    j.welcome(&joined.welcome).unwrap();
    assert_eq!(s.limiter().session_failures(), 0);
}

#[test]
fn too_many_pending_handshakes_are_refused() {
    let t0 = Instant::now();
    let mut s = session(t0);
    let per_address = SessionConfig::default().max_pending_per_source;
    for _ in 0..per_address {
        let (_, hello) = JoinerAttempt::start(&pass(RIGHT), s.id(), ident("s2")).unwrap();
        s.hello(JOINER_ADDR, &hello, t0).unwrap();
    }
    let (_, hello) = JoinerAttempt::start(&pass(RIGHT), s.id(), ident("s2")).unwrap();
    assert_eq!(
        s.hello(JOINER_ADDR, &hello, t0).unwrap_err(),
        TrustError::Busy
    );
    // Abandoned handshakes lapse and free their slots.
    let later = t0 + SessionConfig::default().attempt_lifetime;
    let (_, hello) = JoinerAttempt::start(&pass(RIGHT), s.id(), ident("s2")).unwrap();
    assert!(s.hello(JOINER_ADDR, &hello, later).is_ok());
}

#[test]
fn an_ipv6_64_counts_as_one_source_of_pending_handshakes() {
    let t0 = Instant::now();
    let mut s = session(t0);
    let per_source = SessionConfig::default().max_pending_per_source;
    let in_net = |net: u16, host: u16| IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, net, 0, 0, 0, host));
    let mut hello_from = |from: IpAddr| {
        let (_, hello) = JoinerAttempt::start(&pass(RIGHT), s.id(), ident("s2")).unwrap();
        s.hello(from, &hello, t0)
    };
    let admitted = (1..=16)
        .filter(|host| hello_from(in_net(1, *host)).is_ok())
        .count();
    assert_eq!(admitted, per_source, "16 addresses of one /64");
    // Other /64s, even of the same /48, have slots of their own.
    for net in 2..=4 {
        hello_from(in_net(net, 1)).unwrap();
    }
    assert_eq!(hello_from(in_net(1, 99)).unwrap_err(), TrustError::Busy);
}

#[test]
fn hello_bound_ends_the_session() {
    let t0 = Instant::now();
    let mut s = session_with(
        SessionConfig {
            max_hellos: 2,
            max_pending_per_source: 10,
            ..SessionConfig::default()
        },
        t0,
    );
    for _ in 0..2 {
        let (_, hello) = JoinerAttempt::start(&pass(RIGHT), s.id(), ident("s2")).unwrap();
        s.hello(JOINER_ADDR, &hello, t0).unwrap();
    }
    let (_, hello) = JoinerAttempt::start(&pass(RIGHT), s.id(), ident("s2")).unwrap();
    assert_eq!(
        s.hello(JOINER_ADDR, &hello, t0).unwrap_err(),
        TrustError::Ended
    );
    assert_eq!(s.state(t0), SessionState::Closed);
}

#[test]
fn closed_session_refuses_everything() {
    let t0 = Instant::now();
    let mut s = session(t0);
    let (j, hello) = JoinerAttempt::start(&pass(RIGHT), s.id(), ident("s2")).unwrap();
    let reply = s.hello(JOINER_ADDR, &hello, t0).unwrap();
    let (_, finish) = j.reply(&reply).unwrap();
    s.close();
    assert_eq!(
        s.finish(JOINER_ADDR, &finish, t0).unwrap_err(),
        TrustError::Ended
    );
}

#[test]
fn identities_must_stay_consistent() {
    let t0 = Instant::now();
    let mut s = session(t0);
    assert!(matches!(
        run(&mut s, RIGHT, "s2", t0, &no_tamper),
        Outcome::Trusted { .. }
    ));
    // The same server again (a lost Welcome) is fine and listed once.
    assert!(matches!(
        run(&mut s, RIGHT, "s2", t0, &no_tamper),
        Outcome::Trusted { .. }
    ));
    assert_eq!(s.joined().len(), 1);
    // Another certificate under a taken name is not.
    let (_, mut hello) = JoinerAttempt::start(&pass(RIGHT), s.id(), ident("s2")).unwrap();
    hello.joiner_fingerprint = Fingerprint::of_der(b"other");
    assert!(matches!(
        s.hello(JOINER_ADDR, &hello, t0),
        Err(TrustError::IdentityConflict { .. })
    ));
    // Nor the initiator's own name.
    assert!(matches!(
        run(&mut s, RIGHT, "s1", t0, &no_tamper),
        Outcome::InitiatorRefused(TrustError::IdentityConflict { .. })
    ));
}

#[test]
fn bad_names_are_refused() {
    let pp = pass(RIGHT);
    for name in ["", "a\nb", &"x".repeat(MAX_NAME_LEN + 1)] {
        assert!(matches!(
            JoinerAttempt::start(&pp, SessionId([0; 16]), ident_raw(name)),
            Err(PakeError::BadName)
        ));
    }
}

fn ident_raw(name: &str) -> PeerIdentity {
    PeerIdentity {
        name: name.to_string(),
        fingerprint: Fingerprint::of_der(b"raw"),
    }
}

#[test]
fn weak_group_elements_are_refused() {
    use curve25519_dalek::edwards::EdwardsPoint;
    let t0 = Instant::now();
    let mut s = session(t0);
    let (_, hello) = JoinerAttempt::start(&pass(RIGHT), s.id(), ident("s2")).unwrap();

    let identity = {
        let mut b = [0u8; 32];
        b[0] = 1;
        b
    };
    // (0, -1), the point of order 2.
    let order_two = {
        let mut b = [0xffu8; 32];
        b[0] = 0xec;
        b[31] = 0x7f;
        b
    };
    let t2: EdwardsPoint = CompressedEdwardsY(order_two).decompress().unwrap();
    let x: EdwardsPoint = CompressedEdwardsY(hello.spake_msg.0[1..].try_into().unwrap())
        .decompress()
        .unwrap();
    let mixed = (x + t2).compress().to_bytes();

    for point in [identity, order_two, mixed] {
        let mut bad = hello.clone();
        bad.spake_msg.0[1..].copy_from_slice(&point);
        assert!(
            matches!(
                s.hello(JOINER_ADDR, &bad, t0),
                Err(TrustError::Invalid(PakeError::BadMessage(_)))
            ),
            "{point:02x?}"
        );
    }
    let mut wrong_side = hello.clone();
    wrong_side.spake_msg.0[0] = b'B';
    assert!(matches!(
        s.hello(JOINER_ADDR, &wrong_side, t0),
        Err(TrustError::Invalid(PakeError::BadMessage(_)))
    ));
    // None of that was counted as a guess.
    assert_eq!(s.limiter().session_failures(), 0);
    assert!(s.hello(JOINER_ADDR, &hello, t0).is_ok());
}

#[test]
fn messages_are_json_with_hex_bytes() {
    let t0 = Instant::now();
    let s = session(t0);
    let (_, hello) = JoinerAttempt::start(&pass(RIGHT), s.id(), ident("s2")).unwrap();
    let v: serde_json::Value = serde_json::to_value(&hello).unwrap();
    assert_eq!(v["joiner_name"], "s2");
    assert_eq!(v["session_id"].as_str().unwrap().len(), 32);
    assert_eq!(v["spake_msg"].as_str().unwrap().len(), 66);
    assert_eq!(
        v["joiner_fingerprint"].as_str().unwrap(),
        ident("s2").fingerprint.as_str()
    );

    let mut short = v.clone();
    short["spake_msg"] = "abcd".into();
    assert!(serde_json::from_value::<Hello>(short).is_err());
    let mut extra = v.clone();
    extra["admin"] = true.into();
    assert!(serde_json::from_value::<Hello>(extra).is_err());
    let mut not_hex = v;
    not_hex["session_id"] = "zz".repeat(16).into();
    assert!(serde_json::from_value::<Hello>(not_hex).is_err());

    let info = wire(&s.info());
    assert_eq!(info.session_id, s.id());
    assert_eq!(info.protocol, PROTOCOL);
}

#[test]
fn debug_output_hides_the_passphrase() {
    let s = session(Instant::now());
    assert!(!format!("{s:?}").contains("apple"));
}
