//! What the fuzz targets share: how a structured input is cut into fields,
//! the stand-ins that let a fuzzed message name values the program chose at
//! random, and the trust targets' cast.

use muster_trust::{Fingerprint, Passphrase, PeerIdentity};

/// The fields of a structured input, cut at NUL bytes. NUL rather than a
/// newline so that a value can hold a newline and every other character a
/// hostile peer or a careless caller could put in it (NUL itself is one of
/// the control characters the parsers refuse anyway).
pub fn fields(data: &[u8]) -> Vec<&[u8]> {
    data.split(|b| *b == 0).collect()
}

pub fn text(field: &[u8]) -> String {
    String::from_utf8_lossy(field).into_owned()
}

/// `json` with each stand-in `$NAME` (letters and digits) replaced by
/// `lookup(NAME)`, where that gives a value. Session and attempt ids, SPAKE2
/// messages and confirmations are random or derived from random values, so
/// a fuzzer could never guess them; with stand-ins such as `"$SESSION"` in
/// the seeds it gets past the id checks to what comes after them. Values
/// are made only when named: some cost a scalar multiplication.
pub fn substitute(json: &[u8], lookup: impl Fn(&str) -> Option<String>) -> Vec<u8> {
    let text = text(json);
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let len = after
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(after.len());
        match lookup(&after[..len]) {
            Some(value) => out.push_str(&value),
            None => out.push_str(&rest[at..=at + len]),
        }
        rest = &after[len..];
    }
    out.push_str(rest);
    out.into_bytes()
}

/// The session passphrase the initiator shows and honest joiners type.
pub fn passphrase() -> Passphrase {
    Passphrase::parse("apple bread cloud dance eagle").expect("a valid passphrase")
}

pub fn wrong_passphrase() -> Passphrase {
    Passphrase::parse("apple bread cloud dance eager").expect("a valid passphrase")
}

/// A server called `name`, with a certificate fingerprint of its own.
pub fn identity(name: &str) -> PeerIdentity {
    PeerIdentity {
        name: name.to_owned(),
        fingerprint: Fingerprint::of_der(name.as_bytes()),
    }
}
