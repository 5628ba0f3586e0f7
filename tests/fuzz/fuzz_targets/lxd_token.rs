//! The LXD join token a joiner is handed (pasted by an operator, or sent by
//! the initiator), the token operation's metadata LXD answers with, and the
//! cluster certificate the token must match.
#![no_main]

use libfuzzer_sys::fuzz_target;
use muster_lxd::{certificate_fingerprint, JoinToken};

fn round_trips(token: &JoinToken) {
    assert_eq!(JoinToken::decode(&token.encode()).as_ref(), Ok(token));
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(token) = JoinToken::decode(text) {
        round_trips(&token);
        let _ = token.matches_certificate(text);
    }
    if let Ok(metadata) = serde_json::from_str::<serde_json::Value>(text) {
        if let Ok(token) = JoinToken::from_operation_metadata(&metadata) {
            round_trips(&token);
        }
    }
    if let Ok(fingerprint) = certificate_fingerprint(text) {
        assert!(fingerprint.len() == 64 && fingerprint.bytes().all(|b| b.is_ascii_hexdigit()));
    }
});
