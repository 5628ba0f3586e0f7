//! `trust.json` as the agent loads it at start: whatever the file holds,
//! parsing never panics, keeps only usable members (a valid name, each
//! name and certificate once) and says why it left each other entry out;
//! what it keeps renders to a file that parses back to the same members.
//!
//! Input: the file's bytes (text; invalid UTF-8 is replaced, as a damaged
//! file would read after a lossy repair).
#![no_main]

use std::collections::BTreeSet;

use libfuzzer_sys::fuzz_target;
use muster_trust_file::{check_name, parse, render};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(parsed) = parse(&text) else {
        return;
    };
    let mut names = BTreeSet::new();
    let mut pins = BTreeSet::new();
    for m in &parsed.members {
        assert!(check_name(&m.name).is_ok(), "{:?} kept", m.name);
        assert!(names.insert(m.name.clone()), "{} twice", m.name);
        assert!(pins.insert(m.fingerprint.to_string()), "a pin twice");
    }
    let again = parse(&render(&parsed.members)).expect("a rendered store parses");
    assert_eq!(again.members, parsed.members);
    assert!(again.left_out.is_empty(), "{:?}", again.left_out);
});
