//! The trust store's file, `trust.json`: the members a server trusts, each
//! with its name, certificate fingerprint, HTTPS addresses and [`Role`],
//! parsed (one unusable entry is left out with the reason, the others
//! kept) and rendered. Pure: the agent reads and writes the file; the fuzz
//! target feeds [`parse`] what it likes.

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use muster_trust::Fingerprint;
use serde::{Deserialize, Serialize};

/// Bumped on an incompatible change of the file's layout.
const FORMAT_VERSION: u32 = 1;

/// What a trusted peer may ask of this server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// It joined this server's session: it may read, never change.
    #[default]
    Member,
    /// This server joined its session: it drives this server (LXD join,
    /// Ceph steps, wipes).
    Controller,
}

/// One trusted member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    pub name: String,
    pub fingerprint: Fingerprint,
    /// Its HTTPS API, most recently working first.
    pub addresses: Vec<SocketAddr>,
    /// Seconds since the Unix epoch.
    pub added_unix: u64,
    /// Stores written before roles existed read as members: the least power.
    #[serde(default)]
    pub role: Role,
}

impl Member {
    pub fn new(name: String, fingerprint: Fingerprint, address: SocketAddr, role: Role) -> Member {
        let added_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Member {
            name,
            fingerprint,
            addresses: vec![address],
            added_unix,
            role,
        }
    }

    pub fn to_wire(&self) -> muster_proto::trust::Member {
        muster_proto::trust::Member {
            name: self.name.clone(),
            fingerprint: self.fingerprint.to_string(),
            addresses: self.addresses.iter().map(ToString::to_string).collect(),
            added_unix: self.added_unix,
            controller: self.role == Role::Controller,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrustFile {
    version: u32,
    members: Vec<Member>,
}

/// The rule for every name muster trusts: a server name (a DNS label), the
/// same rule mDNS records and the trust store's file are read with.
pub fn check_name(name: &str) -> Result<(), String> {
    if muster_discovery::record::is_valid_server_name(name.as_bytes()) {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a server name (letters, digits and '-', at most 63)"
        ))
    }
}

/// A parsed store: the usable members, and why each other entry was left
/// out.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    pub members: Vec<Member>,
    pub left_out: Vec<String>,
}

/// Parses the text of a trust store. Pure; `Err` (a file that is not a
/// trust store at all) is the reason, for [`TrustStoreError::Corrupt`].
pub fn parse(text: &str) -> Result<Parsed, String> {
    let file: TrustFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if file.version != FORMAT_VERSION {
        return Err(format!(
            "format version {} is not {FORMAT_VERSION}: it was written by another muster",
            file.version
        ));
    }
    let mut parsed = Parsed::default();
    for (i, m) in file.members.into_iter().enumerate() {
        let problem = if let Err(why) = check_name(&m.name) {
            Some(format!("member {} left out: {why}", i + 1))
        } else if parsed.members.iter().any(|o| o.name == m.name) {
            Some(format!(
                "member {} left out: {} appears twice",
                i + 1,
                m.name
            ))
        } else if parsed
            .members
            .iter()
            .any(|o| o.fingerprint == m.fingerprint)
        {
            Some(format!(
                "member {} ({}) left out: another member has its certificate",
                i + 1,
                m.name
            ))
        } else {
            None
        };
        match problem {
            Some(p) => parsed.left_out.push(p),
            None => parsed.members.push(m),
        }
    }
    Ok(parsed)
}

/// The text of a trust store. Pure.
pub fn render(members: &[Member]) -> String {
    let file = TrustFile {
        version: FORMAT_VERSION,
        members: members.to_vec(),
    };
    // Strings, numbers and addresses always serialize.
    serde_json::to_string_pretty(&file).unwrap_or_default() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(seed: &str) -> Fingerprint {
        Fingerprint::of_der(seed.as_bytes())
    }

    fn member(name: &str, seed: &str, addr: &str) -> Member {
        Member::new(name.into(), fp(seed), addr.parse().unwrap(), Role::Member)
    }

    #[test]
    fn text_round_trip() {
        let members = vec![
            member("s2", "b", "10.0.0.2:9443"),
            member("s3", "c", "[fd00::3]:9443"),
        ];
        assert_eq!(parse(&render(&members)).unwrap().members, members);
        assert_eq!(parse(&render(&[])).unwrap(), Parsed::default());
    }

    #[test]
    fn damaged_text_is_refused_with_a_reason() {
        let good = render(&[member("s2", "b", "10.0.0.2:9443")]);
        let cases = [
            ("", "EOF"),
            (&good[..good.len() / 2], "EOF"),
            ("{\"version\":2,\"members\":[]}", "format version 2"),
            ("{\"version\":1}", "missing field `members`"),
            ("{\"version\":1,\"members\":[],\"x\":1}", "unknown field"),
        ];
        for (text, reason) in cases {
            let err = parse(text).unwrap_err();
            assert!(err.contains(reason), "{text:?}: {err}");
        }
        let bad_fp = good.replace(fp("b").as_str(), "zz");
        assert!(parse(&bad_fp).unwrap_err().contains("fingerprint"));
        let bad_addr = good.replace("10.0.0.2:9443", "10.0.0.2");
        assert!(parse(&bad_addr).unwrap_err().contains("socket address"));
    }

    #[test]
    fn an_unusable_entry_is_left_out_and_the_others_kept() {
        let twice = render(&[
            member("s2", "b", "10.0.0.2:1"),
            member("s2", "c", "10.0.0.3:1"),
            member("s4", "d", "10.0.0.4:1"),
        ]);
        let parsed = parse(&twice).unwrap();
        assert_eq!(parsed.left_out, ["member 2 left out: s2 appears twice"]);
        let names: Vec<&str> = parsed.members.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["s2", "s4"]);
        let shared = render(&[
            member("s2", "b", "10.0.0.2:1"),
            member("s3", "b", "10.0.0.3:1"),
        ]);
        assert_eq!(
            parse(&shared).unwrap().left_out,
            ["member 2 (s3) left out: another member has its certificate"]
        );
        // The name a hostile joiner once got through the handshake.
        let bad_name = render(&[
            member("evil/../x y", "b", "10.0.0.2:1"),
            member("s3", "c", "10.0.0.3:1"),
        ]);
        let parsed = parse(&bad_name).unwrap();
        assert!(
            parsed.left_out[0].contains("not a server name"),
            "{parsed:?}"
        );
        assert_eq!(parsed.members.len(), 1);
    }
}
