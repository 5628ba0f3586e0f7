//! mDNS answers as the browser receives them: a sequence of resolved
//! instances (and removals) judged one by one and kept in a `PeerTable`.
//!
//! Input: NUL-separated fields; an empty field ends a record. A record is
//! `fullname, host, port, addresses (comma-separated), TXT entry...`, each
//! TXT entry `key=value` or a bare `key`; a record whose full name starts
//! with `-` removes that instance instead.
#![no_main]

use std::collections::{BTreeMap, BTreeSet};

use libfuzzer_sys::fuzz_target;
use muster_discovery::record::{is_usable_address, is_valid_server_name};
use muster_discovery::{classify, Peer, PeerTable, RawService, TxtEntry, DUPLICATE_NAME};
use muster_fuzz::{fields, text};
use muster_proto::PROTOCOL_VERSION;

const MAX_RECORDS: usize = 32;

fn raw_service(record: &[&[u8]]) -> RawService {
    let field = |i: usize| record.get(i).map(|f| text(f)).unwrap_or_default();
    RawService {
        fullname: field(0),
        host: field(1),
        port: field(2).parse().unwrap_or(0),
        addresses: field(3).split(',').filter_map(|a| a.parse().ok()).collect(),
        txt: record
            .iter()
            .skip(4)
            .map(|entry| match entry.iter().position(|b| *b == b'=') {
                Some(eq) => TxtEntry::new(text(&entry[..eq]), &entry[eq + 1..]),
                None => TxtEntry {
                    key: text(entry),
                    value: None,
                },
            })
            .collect(),
    }
}

/// What an operator is shown must be safe for a terminal and short.
fn printable_and_bounded(s: &str) {
    assert!(s
        .chars()
        .all(|c| c == ' ' || c == '…' || c.is_ascii_graphic()));
    // 64 characters, each escaped to at most `\u{10ffff}`, and the ellipsis.
    assert!(s.len() <= 64 * 10 + '…'.len_utf8(), "{} bytes", s.len());
}

fn check_peer(peer: &Peer) {
    printable_and_bounded(&peer.name);
    if let Some(reason) = peer.compat.reason() {
        // Reasons quote record values, through `printable`.
        assert!(reason
            .chars()
            .all(|c| c == ' ' || c == '…' || c.is_ascii_graphic()));
    }
    assert!(peer.addresses.iter().all(is_usable_address));
    if peer.is_compatible() {
        assert_eq!(peer.protocol, Some(PROTOCOL_VERSION));
        assert!(peer.state.is_some() && peer.version.is_some());
        assert!(peer.port != 0 && !peer.addresses.is_empty());
        assert!(is_valid_server_name(peer.instance.as_bytes()));
        assert_eq!(peer.name, peer.instance);
    }
}

fuzz_target!(|data: &[u8]| {
    let fields = fields(data);
    let mut table = PeerTable::new();
    let mut present = BTreeSet::new();
    // The table's work per record grows with its size; past a few dozen
    // instances an input only runs slower, it reaches nothing new.
    for record in fields.split(|f| f.is_empty()).take(MAX_RECORDS) {
        let raw = raw_service(record);
        if let Some(gone) = raw.fullname.strip_prefix('-') {
            table.removed(gone);
            present.remove(gone);
        } else {
            check_peer(&classify(&raw));
            present.insert(raw.fullname.clone());
            table.resolved(raw);
        }
        assert_eq!(table.len(), present.len());
    }
    // Two instances claiming a name (ignoring case) are both flagged, and
    // a name claimed once is not, even after its rival left.
    let mut claims: BTreeMap<String, usize> = BTreeMap::new();
    for peer in table.peers() {
        *claims.entry(peer.name.to_ascii_lowercase()).or_default() += 1;
    }
    for peer in table.peers() {
        check_peer(peer);
        let clash = claims[&peer.name.to_ascii_lowercase()] > 1;
        assert_eq!(clash, peer.compat.reason() == Some(DUPLICATE_NAME));
    }
});
