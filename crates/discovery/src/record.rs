//! What one resolved `_muster._tcp` instance tells us, judged.
//!
//! Anyone on the LAN can answer mDNS queries with anything, so every field is
//! checked here and a record that fails a check is still shown (an operator
//! wants to see the stray server) but marked incompatible with the reason.
//! Nothing in this module does I/O; it never panics on any input.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use muster_proto::{AgentInfo, ClusterState, PROTOCOL_VERSION, SERVICE_TYPE};
use serde::{Deserialize, Serialize};

use crate::txt;

/// A DNS label's limit, and so a server name's: the name is also the
/// instance label and the first label of the host name.
pub const MAX_NAME_LEN: usize = 63;

/// Longest version string taken from a record; real ones are a few bytes.
const MAX_VERSION_LEN: usize = 64;

/// How much of an invalid value is echoed back in names and reasons.
const MAX_ECHO_CHARS: usize = 64;

/// A resolved instance as mDNS gave it, before any judgement. Kept apart from
/// `mdns_sd::ResolvedService` so that tests (and fuzzing) can build any input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawService {
    /// e.g. `s1._muster._tcp.local.`
    pub fullname: String,
    /// e.g. `s1.local.`
    pub host: String,
    pub port: u16,
    pub addresses: Vec<IpAddr>,
    /// TXT entries in record order. Keys compare case-insensitively and the
    /// first of repeated keys wins (RFC 6763 §6.4).
    pub txt: Vec<TxtEntry>,
}

/// One `key[=value]` string of a TXT record. `value: None` is a key without
/// `=`, which RFC 6763 allows (a boolean attribute).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxtEntry {
    pub key: String,
    pub value: Option<Vec<u8>>,
}

impl TxtEntry {
    pub fn new(key: impl Into<String>, value: impl AsRef<[u8]>) -> Self {
        TxtEntry {
            key: key.into(),
            value: Some(value.as_ref().to_vec()),
        }
    }
}

impl From<&mdns_sd::ResolvedService> for RawService {
    fn from(s: &mdns_sd::ResolvedService) -> Self {
        RawService {
            fullname: s.fullname.clone(),
            host: s.host.clone(),
            port: s.port,
            addresses: s.addresses.iter().map(|a| a.to_ip_addr()).collect(),
            txt: s
                .txt_properties
                .iter()
                .map(|p| TxtEntry {
                    key: p.key().to_string(),
                    value: p.val().map(<[u8]>::to_vec),
                })
                .collect(),
        }
    }
}

/// Whether muster can work with a peer, and if not, why not (one reason, the
/// first check that failed, in words an operator can act on).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "verdict", content = "reason")]
pub enum Compat {
    Compatible,
    Incompatible(String),
}

impl Compat {
    pub fn is_compatible(&self) -> bool {
        matches!(self, Compat::Compatible)
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            Compat::Compatible => None,
            Compat::Incompatible(reason) => Some(reason),
        }
    }
}

/// An agent seen on the LAN. Unauthenticated: a claim, not a fact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peer {
    /// The DNS-SD instance label exactly as received (what `Gone` refers
    /// to). May hold anything; pass it through [`printable`] before showing.
    pub instance: String,
    /// The server name it claims (TXT `name`, else the instance label), made
    /// safe to print: non-printable characters escaped, cut at 64 chars.
    pub name: String,
    /// Usable addresses only, sorted (IPv4 first).
    pub addresses: Vec<IpAddr>,
    pub port: u16,
    /// Only set when it looks like a version string.
    pub version: Option<String>,
    pub protocol: Option<u32>,
    pub state: Option<ClusterState>,
    /// TXT `session=open`: it says it has a trust session open. A claim
    /// like the rest; the handshake is what authenticates.
    pub session_open: bool,
    pub compat: Compat,
}

impl Peer {
    pub fn is_compatible(&self) -> bool {
        self.compat.is_compatible()
    }
}

/// Judges one resolved record.
pub fn classify(raw: &RawService) -> Peer {
    let instance = instance_label(&raw.fullname);
    let name_value = txt_value(&raw.txt, txt::NAME);
    let protocol_value = txt_value(&raw.txt, txt::PROTOCOL);
    let version_value = txt_value(&raw.txt, txt::VERSION);
    let state_value = txt_value(&raw.txt, txt::STATE);
    let session_open = txt_value(&raw.txt, txt::SESSION) == Some(txt::SESSION_OPEN.as_bytes());

    let protocol = protocol_value.and_then(parse_protocol);
    let version = version_value.and_then(parse_version);
    let state = state_value
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(ClusterState::parse);
    let addresses = usable_addresses(&raw.addresses);
    let name = match name_value {
        Some(v) => printable(&String::from_utf8_lossy(v)),
        None => printable(instance),
    };

    let compat = judge(&Judged {
        instance,
        name_value,
        protocol_value,
        protocol,
        version_value,
        version: version.as_deref(),
        state_value,
        state,
        port: raw.port,
        addresses: &addresses,
    });

    Peer {
        instance: instance.to_string(),
        name,
        addresses,
        port: raw.port,
        version,
        protocol,
        state,
        session_open,
        compat,
    }
}

/// Judges what the agent at `endpoint` said about itself at `/v1/info`
/// (asked by address where mDNS does not reach) as its record would be:
/// the same claims, the same checks.
pub fn classify_info(info: &AgentInfo, endpoint: SocketAddr) -> Peer {
    let raw = RawService {
        fullname: format!("{}.{SERVICE_TYPE}", info.name),
        host: String::new(),
        port: endpoint.port(),
        addresses: vec![endpoint.ip()],
        txt: vec![
            TxtEntry::new(txt::NAME, &info.name),
            TxtEntry::new(txt::VERSION, &info.version),
            TxtEntry::new(txt::PROTOCOL, info.protocol.to_string()),
            TxtEntry::new(txt::STATE, info.state.as_str()),
        ],
    };
    classify(&raw)
}

struct Judged<'a> {
    instance: &'a str,
    name_value: Option<&'a [u8]>,
    protocol_value: Option<&'a [u8]>,
    protocol: Option<u32>,
    version_value: Option<&'a [u8]>,
    version: Option<&'a str>,
    state_value: Option<&'a [u8]>,
    state: Option<ClusterState>,
    port: u16,
    addresses: &'a [IpAddr],
}

/// The checks in the order an operator should hear about them: a peer of
/// another protocol is explained by that alone, whatever else differs.
fn judge(j: &Judged) -> Compat {
    let bad = |reason: String| Compat::Incompatible(reason);
    let keys = [
        (txt::PROTOCOL, j.protocol_value),
        (txt::VERSION, j.version_value),
        (txt::NAME, j.name_value),
        (txt::STATE, j.state_value),
    ];
    if keys.iter().all(|(_, v)| v.is_none()) {
        return bad("no muster TXT record".into());
    }
    if let Some(value) = j.protocol_value {
        match j.protocol {
            None => return bad(format!("invalid protocol version {}", echo(value))),
            Some(p) if p != PROTOCOL_VERSION => {
                return bad(format!(
                    "speaks protocol {p}, this muster speaks {PROTOCOL_VERSION}"
                ))
            }
            Some(_) => {}
        }
    }
    let missing: Vec<&str> = keys
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(k, _)| *k)
        .collect();
    if !missing.is_empty() {
        return bad(format!(
            "no muster TXT record (missing {})",
            missing.join(", ")
        ));
    }
    let txt_name = j.name_value.unwrap_or_default();
    if !is_valid_server_name(j.instance.as_bytes()) || !is_valid_server_name(txt_name) {
        return bad("invalid server name".into());
    }
    if txt_name != j.instance.as_bytes() {
        return bad(format!(
            "TXT name {} differs from instance name {}",
            echo(txt_name),
            echo(j.instance.as_bytes())
        ));
    }
    if j.port == 0 {
        return bad("invalid port 0".into());
    }
    if j.addresses.is_empty() {
        return bad("no usable address".into());
    }
    if j.state.is_none() {
        let value = j.state_value.unwrap_or_default();
        return bad(format!("unknown cluster state {}", echo(value)));
    }
    if j.version.is_none() {
        let value = j.version_value.unwrap_or_default();
        return bad(format!("invalid version {}", echo(value)));
    }
    Compat::Compatible
}

/// The instance part of `INSTANCE._muster._tcp.local.`; a name that does not
/// end in our service type (it should never reach us) is kept whole.
pub fn instance_label(fullname: &str) -> &str {
    let suffix_len = SERVICE_TYPE.len() + 1;
    if fullname.len() > suffix_len {
        let split = fullname.len() - suffix_len;
        if let (Some(head), Some(tail)) = (fullname.get(..split), fullname.get(split..)) {
            if tail.starts_with('.') && tail[1..].eq_ignore_ascii_case(SERVICE_TYPE) {
                return head;
            }
        }
    }
    fullname
}

fn txt_value<'a>(entries: &'a [TxtEntry], key: &str) -> Option<&'a [u8]> {
    entries
        .iter()
        .find(|e| e.key.eq_ignore_ascii_case(key))
        .map(|e| e.value.as_deref().unwrap_or_default())
}

/// Decimal digits only: `+1`, ` 1` or `01x` are not what an agent sends.
fn parse_protocol(value: &[u8]) -> Option<u32> {
    if value.is_empty() || value.len() > 10 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// Semver-ish characters only, so a version is always safe to print as is.
fn parse_version(value: &[u8]) -> Option<String> {
    let ok = !value.is_empty()
        && value.len() <= MAX_VERSION_LEN
        && value
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b".-+_~".contains(b));
    ok.then(|| String::from_utf8_lossy(value).into_owned())
}

/// A server name: 1 to 63 of `[A-Za-z0-9-]`.
pub fn is_valid_server_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
}

/// The addresses worth connecting to, deduplicated and sorted.
pub fn usable_addresses(addresses: &[IpAddr]) -> Vec<IpAddr> {
    let mut usable: Vec<IpAddr> = addresses
        .iter()
        .copied()
        .filter(is_usable_address)
        .collect();
    usable.sort();
    usable.dedup();
    usable
}

/// Whether an advertised address could be a LAN peer. IPv6 link-local is
/// dropped too: without the interface it was seen on it cannot be dialled.
pub fn is_usable_address(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => is_usable_v4(a),
        IpAddr::V6(a) => is_usable_v6(a),
    }
}

fn is_usable_v4(a: &Ipv4Addr) -> bool {
    let first = a.octets()[0];
    // 0.0.0.0/8 is "this network"; 240.0.0.0/4 is reserved (and holds the
    // broadcast address).
    !(first == 0 || first >= 240 || a.is_loopback() || a.is_multicast() || a.is_documentation())
}

fn is_usable_v6(a: &Ipv6Addr) -> bool {
    let s = a.segments();
    let documentation = (s[0] == 0x2001 && s[1] == 0x0db8) || (s[0] & 0xfff0) == 0x3ff0;
    // IPv4-mapped and IPv4-compatible forms would smuggle v4 loopback and
    // the like past the v4 checks; a real peer advertises an A record.
    let embeds_v4 = s[..5] == [0; 5] && (s[5] == 0 || s[5] == 0xffff);
    !(a.is_unspecified()
        || a.is_loopback()
        || a.is_multicast()
        || a.is_unicast_link_local()
        || documentation
        || embeds_v4)
}

/// Text from the network made safe for a terminal and bounded in length:
/// anything but printable ASCII is escaped (`\u{1b}`), and the result is cut
/// at 64 characters with a trailing `…`.
pub fn printable(text: &str) -> String {
    printable_up_to(text, MAX_ECHO_CHARS)
}

/// [`printable`] with another bound, for longer text such as an agent's
/// error message.
pub fn printable_up_to(text: &str, max_chars: usize) -> String {
    let mut out = String::new();
    for (count, c) in text.chars().enumerate() {
        if count == max_chars {
            out.push('…');
            break;
        }
        if c == ' ' || c.is_ascii_graphic() {
            out.push(c);
        } else {
            out.extend(c.escape_default());
        }
    }
    out
}

/// A value quoted for a reason string.
fn echo(value: &[u8]) -> String {
    format!("\"{}\"", printable(&String::from_utf8_lossy(value)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{genuine, resolved_s1};

    fn good(name: &str) -> RawService {
        genuine(name, name, "10.231.250.2")
    }

    fn with_txt(mut raw: RawService, key: &str, value: impl AsRef<[u8]>) -> RawService {
        raw.txt.retain(|e| e.key != key);
        raw.txt.push(TxtEntry::new(key, value));
        raw
    }

    fn without_txt(mut raw: RawService, key: &str) -> RawService {
        raw.txt.retain(|e| e.key != key);
        raw
    }

    fn reason(raw: &RawService) -> String {
        match classify(raw).compat {
            Compat::Compatible => panic!("expected incompatible: {raw:?}"),
            Compat::Incompatible(r) => r,
        }
    }

    #[test]
    fn an_agents_info_is_judged_as_its_record_would_be() {
        let info = AgentInfo {
            name: "s2".into(),
            version: "0.1.0".into(),
            protocol: PROTOCOL_VERSION,
            state: ClusterState::Unclustered,
            fingerprint: "ab".repeat(32),
        };
        let at = "10.0.0.2:9443".parse().unwrap();
        let peer = classify_info(&info, at);
        assert_eq!(peer.instance, "s2");
        assert_eq!(peer.name, "s2");
        assert_eq!(peer.addresses, [at.ip()]);
        assert_eq!(peer.port, 9443);
        assert_eq!(peer.compat, Compat::Compatible);

        let clustered = AgentInfo {
            state: ClusterState::Clustered,
            ..info.clone()
        };
        assert!(classify_info(&clustered, at).is_compatible());
        let bad_name = AgentInfo {
            name: "s2\u{1b}[2J".into(),
            ..info.clone()
        };
        let peer = classify_info(&bad_name, at);
        assert_eq!(peer.compat.reason(), Some("invalid server name"));
        assert_eq!(peer.name, "s2\\u{1b}[2J");
        let other = AgentInfo {
            protocol: PROTOCOL_VERSION + 1,
            ..info
        };
        assert!(classify_info(&other, at)
            .compat
            .reason()
            .unwrap()
            .starts_with("speaks protocol"));
    }

    #[test]
    fn a_genuine_agent_is_compatible() {
        let peer = classify(&good("s1"));
        assert_eq!(
            peer,
            Peer {
                instance: "s1".into(),
                name: "s1".into(),
                addresses: vec!["10.231.250.2".parse().unwrap()],
                port: 9443,
                version: Some("0.1.0".into()),
                protocol: Some(PROTOCOL_VERSION),
                state: Some(ClusterState::Unclustered),
                session_open: false,
                compat: Compat::Compatible,
            }
        );
    }

    #[test]
    fn only_session_open_means_an_open_session() {
        assert!(classify(&with_txt(good("s1"), txt::SESSION, "open")).session_open);
        for other in ["", "Open", "closed", "open "] {
            let peer = classify(&with_txt(good("s1"), txt::SESSION, other));
            assert!(!peer.session_open, "{other:?}");
            assert!(peer.is_compatible());
        }
    }

    #[test]
    fn txt_keys_are_case_insensitive_and_the_first_repeat_wins() {
        let mut raw = good("s1");
        raw.txt[3] = TxtEntry::new("STATE", "clustered");
        raw.txt.push(TxtEntry::new("state", "unclustered"));
        let peer = classify(&raw);
        assert_eq!(peer.state, Some(ClusterState::Clustered));
        assert!(peer.is_compatible());
    }

    #[test]
    fn no_txt_at_all() {
        let mut raw = good("s1");
        raw.txt.clear();
        assert_eq!(reason(&raw), "no muster TXT record");
        let peer = classify(&raw);
        assert_eq!(peer.name, "s1");
        assert_eq!(
            (peer.protocol, peer.state, peer.version),
            (None, None, None)
        );
    }

    #[test]
    fn unrelated_txt_only_is_no_muster_record() {
        let mut raw = good("s1");
        raw.txt = vec![TxtEntry::new("path", "/printer")];
        assert_eq!(reason(&raw), "no muster TXT record");
    }

    #[test]
    fn missing_keys_are_named() {
        let raw = without_txt(without_txt(good("s1"), txt::STATE), txt::VERSION);
        assert_eq!(
            reason(&raw),
            "no muster TXT record (missing version, state)"
        );
    }

    #[test]
    fn a_key_without_value_counts_as_present_but_invalid() {
        let mut raw = good("s1");
        raw.txt[0] = TxtEntry {
            key: txt::PROTOCOL.into(),
            value: None,
        };
        assert_eq!(reason(&raw), "invalid protocol version \"\"");
    }

    #[test]
    fn another_protocol_is_explained_first() {
        let raw = without_txt(with_txt(good("s1"), txt::PROTOCOL, "7"), txt::STATE);
        assert_eq!(
            reason(&raw),
            format!("speaks protocol 7, this muster speaks {PROTOCOL_VERSION}")
        );
        assert_eq!(classify(&raw).protocol, Some(7));
    }

    #[test]
    fn unparseable_protocols() {
        for bad in ["", "+1", " 1", "1.0", "one", "99999999999", "4294967296"] {
            let raw = with_txt(good("s1"), txt::PROTOCOL, bad);
            assert!(
                reason(&raw).starts_with("invalid protocol version"),
                "{bad:?}"
            );
            assert_eq!(classify(&raw).protocol, None);
        }
        let raw = with_txt(good("s1"), txt::PROTOCOL, [0xff, 0xfe]);
        assert_eq!(
            reason(&raw),
            "invalid protocol version \"\\u{fffd}\\u{fffd}\""
        );
    }

    #[test]
    fn invalid_server_names() {
        let long = "a".repeat(MAX_NAME_LEN + 1);
        for bad in ["", "s_1", "s.1", "s 1", "s1\u{1b}[2J", "ünï", long.as_str()] {
            let raw = with_txt(good("s1"), txt::NAME, bad);
            assert_eq!(reason(&raw), "invalid server name", "{bad:?}");
        }
        let ok = "a".repeat(MAX_NAME_LEN);
        assert!(classify(&good(&ok)).is_compatible());
    }

    #[test]
    fn an_invalid_instance_label_is_an_invalid_name() {
        let mut raw = good("s1");
        raw.fullname = format!("s1 (2).{SERVICE_TYPE}");
        assert_eq!(reason(&raw), "invalid server name");
        assert_eq!(classify(&raw).instance, "s1 (2)");
        assert_eq!(classify(&raw).name, "s1");
    }

    #[test]
    fn non_utf8_name_is_invalid_and_printed_escaped() {
        let raw = with_txt(good("s1"), txt::NAME, b"s\xff1");
        assert_eq!(reason(&raw), "invalid server name");
        assert_eq!(classify(&raw).name, "s\\u{fffd}1");
    }

    #[test]
    fn txt_name_must_match_the_instance() {
        let raw = with_txt(good("s1"), txt::NAME, "s2");
        assert_eq!(
            reason(&raw),
            "TXT name \"s2\" differs from instance name \"s1\""
        );
        assert_eq!(classify(&raw).name, "s2");
    }

    #[test]
    fn port_zero() {
        let mut raw = good("s1");
        raw.port = 0;
        assert_eq!(reason(&raw), "invalid port 0");
    }

    #[test]
    fn unusable_addresses_are_dropped() {
        let mut raw = good("s1");
        raw.addresses = [
            "fd00::2",
            "0.0.0.0",
            "127.0.0.1",
            "224.0.0.251",
            "255.255.255.255",
            "240.1.2.3",
            "0.1.2.3",
            "192.0.2.1",
            "198.51.100.1",
            "203.0.113.1",
            "::",
            "::1",
            "ff02::fb",
            "fe80::1",
            "2001:db8::1",
            "3fff::1",
            "::ffff:127.0.0.1",
            "::127.0.0.1",
            "10.231.250.2",
            "10.231.250.2",
            "192.168.1.9",
        ]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
        let peer = classify(&raw);
        let expected: Vec<IpAddr> = ["10.231.250.2", "192.168.1.9", "fd00::2"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        assert_eq!(peer.addresses, expected);
        assert!(peer.is_compatible());
    }

    #[test]
    fn no_usable_address() {
        let mut raw = good("s1");
        raw.addresses = vec!["127.0.0.1".parse().unwrap(), "fe80::1".parse().unwrap()];
        assert_eq!(reason(&raw), "no usable address");
        raw.addresses.clear();
        assert_eq!(reason(&raw), "no usable address");
    }

    #[test]
    fn unknown_state() {
        let raw = with_txt(good("s1"), txt::STATE, "Clustered");
        assert_eq!(reason(&raw), "unknown cluster state \"Clustered\"");
        assert_eq!(classify(&raw).state, None);
    }

    #[test]
    fn odd_versions_are_not_kept() {
        for bad in [&b""[..], b"1.0\x1b[31m", b"\xc3\x28", &[b'1'; 65][..]] {
            let raw = with_txt(good("s1"), txt::VERSION, bad);
            assert!(reason(&raw).starts_with("invalid version"), "{bad:?}");
            assert_eq!(classify(&raw).version, None);
        }
        let raw = with_txt(good("s1"), txt::VERSION, "1.2.3-rc.1+git~abc_d");
        assert!(classify(&raw).is_compatible());
    }

    #[test]
    fn huge_values_are_cut_when_echoed() {
        let huge = "x".repeat(10_000);
        let raw = with_txt(good("s1"), txt::NAME, &huge);
        let peer = classify(&raw);
        assert_eq!(peer.name.chars().count(), MAX_ECHO_CHARS + 1);
        assert!(peer.name.ends_with('…'));
        let raw = with_txt(good("s1"), txt::STATE, &huge);
        assert!(reason(&raw).len() < 200);
    }

    #[test]
    fn instance_label_strips_only_our_service_type() {
        assert_eq!(instance_label("s1._muster._tcp.local."), "s1");
        assert_eq!(instance_label("s1._MUSTER._tcp.local."), "s1");
        assert_eq!(instance_label("a\\.b._muster._tcp.local."), "a\\.b");
        assert_eq!(
            instance_label("s1._http._tcp.local."),
            "s1._http._tcp.local."
        );
        assert_eq!(
            instance_label("._muster._tcp.local."),
            "._muster._tcp.local."
        );
        assert_eq!(instance_label(""), "");
        // A multi-byte character right at the split point must not panic.
        assert_eq!(
            instance_label("é_muster._tcp.local."),
            "é_muster._tcp.local."
        );
    }

    #[test]
    fn printable_escapes_control_and_non_ascii() {
        assert_eq!(printable("s1"), "s1");
        assert_eq!(printable("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(printable("a\u{202e}b"), "a\\u{202e}b");
        assert_eq!(printable("tab\there"), "tab\\there");
        assert_eq!(printable_up_to("abc\u{7}", 2), "ab…");
        assert_eq!(printable_up_to(&"x".repeat(100), 1000).len(), 100);
    }

    #[test]
    fn compat_serializes_with_a_verdict() {
        let json = serde_json::to_value(Compat::Incompatible("no usable address".into())).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"verdict": "incompatible", "reason": "no usable address"})
        );
        let json = serde_json::to_value(Compat::Compatible).unwrap();
        assert_eq!(json, serde_json::json!({"verdict": "compatible"}));
    }

    #[test]
    fn converts_from_an_mdns_sd_resolved_service() {
        let raw = RawService::from(&resolved_s1("clustered"));
        assert_eq!(raw.fullname, format!("s1.{SERVICE_TYPE}"));
        assert_eq!(raw.host, "s1.local.");
        let peer = classify(&raw);
        assert!(peer.is_compatible(), "{peer:?}");
        assert_eq!(peer.state, Some(ClusterState::Clustered));
    }
}
