//! The initiator's trust session fed what the network may send it: Hellos
//! and Finishes as JSON from anyone, mixed with honest joiners (who know the
//! passphrase) and guessers (who do not), over a clock the input moves.
//!
//! Input: NUL-separated operations, each a letter and its argument:
//! - `h` ADDR JSON: a Hello from address ADDR (one byte); `$SESSION` stands
//!   for the session id, `$X` for a valid SPAKE2 message.
//! - `f` ADDR JSON: a Finish; `$ATTEMPT0`, `$ATTEMPT1`... stand for the
//!   ids of the Replies the session sent, in order.
//! - `j` ADDR NAME / `g` ADDR NAME: a joiner called NAME who knows the
//!   passphrase / who guesses wrong sends its Hello.
//! - `F` N: joiner number N (in order of `j` and `g`) sends its Finish.
//! - `t` N: N × 10 seconds pass.
//! - `c`: the operator closes the session.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use muster_fuzz::{fields, identity, passphrase, substitute, text, wrong_passphrase};
use muster_trust::{
    AttemptId, Finish, Hello, InitiatorSession, JoinerAttempt, JoinerAwaitingWelcome, PeerIdentity,
    SessionConfig,
};

/// A joiner between its Hello and its Finish.
struct Joiner {
    me: PeerIdentity,
    from: IpAddr,
    knows_passphrase: bool,
    next: Option<(JoinerAwaitingWelcome, Finish)>,
}

struct Run {
    session: InitiatorSession,
    now: Instant,
    attempts: Vec<AttemptId>,
    joiners: Vec<Joiner>,
}

fn address(byte: Option<&u8>) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, byte.copied().unwrap_or(0) % 4))
}

impl Run {
    fn lookup(&self, name: &str) -> Option<String> {
        match name {
            "SESSION" => Some(self.session.id().to_hex()),
            "X" => {
                let (_, hello) =
                    JoinerAttempt::start(&passphrase(), self.session.id(), identity("x")).ok()?;
                Some(hello.spake_msg.to_hex())
            }
            _ => {
                let i: usize = name.strip_prefix("ATTEMPT")?.parse().ok()?;
                Some(self.attempts.get(i)?.to_hex())
            }
        }
    }

    fn hello(&mut self, from: IpAddr, json: &[u8]) {
        let json = substitute(json, |name| self.lookup(name));
        if let Ok(hello) = serde_json::from_slice::<Hello>(&json) {
            if let Ok(reply) = self.session.hello(from, &hello, self.now) {
                self.attempts.push(reply.attempt_id);
            }
        }
    }

    fn finish(&mut self, from: IpAddr, json: &[u8]) {
        let json = substitute(json, |name| self.lookup(name));
        if let Ok(finish) = serde_json::from_slice::<Finish>(&json) {
            // Only a joiner who knows the passphrase can confirm.
            assert!(self.session.finish(from, &finish, self.now).is_err());
        }
    }

    fn join(&mut self, from: IpAddr, name: &str, knows_passphrase: bool) {
        let typed = if knows_passphrase {
            passphrase()
        } else {
            wrong_passphrase()
        };
        let me = identity(name);
        let Ok((attempt, hello)) = JoinerAttempt::start(&typed, self.session.id(), me.clone())
        else {
            return;
        };
        let next = match self.session.hello(from, &hello, self.now) {
            Ok(reply) => {
                self.attempts.push(reply.attempt_id);
                let next = attempt.reply(&reply).ok();
                // An honest initiator's Reply is always accepted.
                assert!(next.is_some());
                next
            }
            Err(_) => None,
        };
        self.joiners.push(Joiner {
            me,
            from,
            knows_passphrase,
            next,
        });
    }

    fn joiner_finishes(&mut self, n: usize) {
        let initiator = self.session.me().clone();
        let Some(joiner) = self.joiners.get_mut(n) else {
            return;
        };
        let Some((awaiting, finish)) = joiner.next.take() else {
            return;
        };
        if let Ok(joined) = self.session.finish(joiner.from, &finish, self.now) {
            assert!(joiner.knows_passphrase, "a wrong guess was let in");
            assert_eq!(joined.joiner, joiner.me);
            assert_eq!(awaiting.welcome(&joined.welcome), Ok(initiator));
        }
    }

    /// Whoever joined knew the passphrase, and no two joined share a name or
    /// a certificate.
    fn check_joined(&self) {
        let joined = self.session.joined();
        for (i, peer) in joined.iter().enumerate() {
            assert!(self
                .joiners
                .iter()
                .any(|j| j.knows_passphrase && j.me == *peer));
            assert!(joined[..i]
                .iter()
                .all(|other| other.name != peer.name && other.fingerprint != peer.fingerprint));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let now = Instant::now();
    let session =
        InitiatorSession::new(passphrase(), identity("s1"), SessionConfig::default(), now)
            .expect("a valid name");
    let mut run = Run {
        session,
        now,
        attempts: Vec::new(),
        joiners: Vec::new(),
    };
    for op in fields(data) {
        let Some((&letter, arg)) = op.split_first() else {
            continue;
        };
        let from = address(arg.first());
        let rest = arg.get(1..).unwrap_or_default();
        match letter {
            b'h' => run.hello(from, rest),
            b'f' => run.finish(from, rest),
            b'j' => run.join(from, &text(rest), true),
            b'g' => run.join(from, &text(rest), false),
            b'F' => run.joiner_finishes(arg.first().copied().unwrap_or(0).into()),
            b't' => {
                run.now += Duration::from_secs(10 * u64::from(arg.first().copied().unwrap_or(0)))
            }
            b'c' => run.session.close(),
            _ => {}
        }
        run.check_joined();
    }
});
