//! A joiner fed what a fake initiator may answer: a Reply, then a Welcome,
//! as JSON. An honest initiator runs beside it, so the input may borrow its
//! values through stand-ins: `$ATTEMPT`, `$Y` (its SPAKE2 message) and
//! `$FINGERPRINT` in the Reply, `$ATTEMPT` and `$CONFIRM` (its confirmation,
//! when it accepted the joiner's Finish) in the Welcome.
//!
//! Input: the Reply's JSON, a NUL, the Welcome's JSON.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use muster_fuzz::{fields, identity, passphrase, substitute};
use muster_trust::{InitiatorSession, JoinerAttempt, Reply, SessionConfig, Welcome};

const JOINER_ADDR: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));

fuzz_target!(|data: &[u8]| {
    let fields = fields(data);
    let [reply_json, welcome_json] = fields[..] else {
        return;
    };
    let now = Instant::now();
    let mut initiator =
        InitiatorSession::new(passphrase(), identity("s1"), SessionConfig::default(), now)
            .expect("a valid name");
    let (joiner, hello) =
        JoinerAttempt::start(&passphrase(), initiator.id(), identity("s2")).expect("a valid name");
    let honest = initiator
        .hello(JOINER_ADDR, &hello, now)
        .expect("a fresh session answers an honest Hello");

    let reply_json = substitute(reply_json, |name| match name {
        "ATTEMPT" => Some(honest.attempt_id.to_hex()),
        "Y" => Some(honest.spake_msg.to_hex()),
        "FINGERPRINT" => Some(honest.initiator_fingerprint.to_string()),
        _ => None,
    });
    let Ok(reply) = serde_json::from_slice::<Reply>(&reply_json) else {
        return;
    };
    let Ok((awaiting, finish)) = joiner.reply(&reply) else {
        return;
    };
    let accepted = initiator.finish(JOINER_ADDR, &finish, now).ok();
    let welcome_json = substitute(welcome_json, |name| match name {
        "ATTEMPT" => Some(honest.attempt_id.to_hex()),
        "CONFIRM" => Some(accepted.as_ref()?.welcome.confirm.to_hex()),
        _ => None,
    });
    let Ok(welcome) = serde_json::from_slice::<Welcome>(&welcome_json) else {
        return;
    };
    if let Ok(trusted) = awaiting.welcome(&welcome) {
        // The joiner pins only the real initiator, and only once the
        // initiator has let it in: no Reply or Welcome a fake initiator
        // can make gets another identity pinned.
        assert_eq!(trusted, *initiator.me());
        assert!(accepted.is_some());
    }
});
