//! Text output of trust sessions, joins, members and network interfaces,
//! as pure functions of the agent's answers. Names and reasons came over
//! the network at some point: they go through [`printable`].

use muster_discovery::printable;
use muster_proto::trust::{
    Joined, Member, NetInterface, PeerSummary, SessionOpened, SessionPhase, SessionStatus,
};

use crate::render::table;

/// `90 s`, `10 min`, `1 h 5 min`: how long, for people.
pub fn duration(secs: u64) -> String {
    match secs {
        0..=119 => format!("{secs} s"),
        120..=7199 => format!("{} min", (secs + 30) / 60),
        _ => format!("{} h {} min", secs / 3600, (secs % 3600) / 60),
    }
}

fn who(peer: &PeerSummary) -> String {
    format!(
        "{} ({})",
        printable(&peer.name),
        printable(&peer.short_fingerprint)
    )
}

pub fn session_opened(opened: &SessionOpened) -> String {
    format!(
        "\
Trust session open on {name} for {time}.

  Passphrase:   {pass}
  Fingerprint:  {fp}

On each server to join, run `muster join` and type the passphrase; it
checks that it reached this server by its fingerprint. The session ends
after {max} wrong passphrases. `muster session status` shows who joined.
",
        name = printable(&opened.initiator.name),
        time = duration(opened.expires_in_secs),
        pass = opened.passphrase,
        fp = printable(&opened.initiator.short_fingerprint),
        max = opened.max_failures,
    )
}

pub fn session_status(status: &SessionStatus) -> String {
    let mut out = match status.phase {
        SessionPhase::None => "No trust session has been opened (`muster session open`).\n".into(),
        SessionPhase::Open => format!(
            "Trust session open on {} for {} more.\n",
            who(&status.initiator),
            duration(status.expires_in_secs)
        ),
        phase => format!(
            "The last trust session on {} is {}.\n",
            who(&status.initiator),
            match phase {
                SessionPhase::Expired => "over: it expired",
                SessionPhase::Ended => "over: too many wrong passphrases",
                _ => "closed",
            }
        ),
    };
    if status.phase == SessionPhase::None {
        return out;
    }
    if status.joined.is_empty() {
        out.push_str("No server has joined.\n");
    } else {
        out.push_str("Joined:\n");
        for peer in &status.joined {
            out.push_str(&format!(
                "  {}  {}\n",
                printable(&peer.name),
                printable(&peer.fingerprint)
            ));
        }
    }
    if !status.replace.is_empty() {
        let names: Vec<String> = status.replace.iter().map(|n| printable(n)).collect();
        out.push_str(&format!(
            "A joiner with a new certificate may take over: {}.\n",
            names.join(", ")
        ));
    }
    out.push_str(&format!(
        "Failed attempts: {} (the session ends at {}).\n",
        status.failed_attempts, status.max_failures
    ));
    for f in &status.failures {
        let claimed = f
            .claimed_name
            .as_deref()
            .map(|n| format!(" claiming to be {}", printable(n)))
            .unwrap_or_default();
        out.push_str(&format!(
            "  {}{claimed}, {} ago: wrong passphrase\n",
            printable(&f.address),
            duration(f.secs_ago)
        ));
    }
    out
}

/// What changed between two looks at a session, one line each: servers
/// that joined, wrong passphrases, and the end of the session.
pub fn session_changes(before: &SessionStatus, now: &SessionStatus) -> Vec<String> {
    let mut lines = Vec::new();
    for peer in now.joined.iter().skip(before.joined.len()) {
        lines.push(format!(
            "{} joined; its fingerprint: {}",
            printable(&peer.name),
            printable(&peer.short_fingerprint)
        ));
    }
    let new_failures = now.failed_attempts.saturating_sub(before.failed_attempts) as usize;
    // Newest first in the status; printed oldest first.
    for f in now.failures.iter().take(new_failures).rev() {
        let claimed = f
            .claimed_name
            .as_deref()
            .map(|n| format!(" (claiming to be {})", printable(n)))
            .unwrap_or_default();
        lines.push(format!(
            "wrong passphrase from {}{claimed}: {} of {} allowed",
            printable(&f.address),
            now.failed_attempts,
            now.max_failures
        ));
    }
    if before.phase == SessionPhase::Open && now.phase != SessionPhase::Open {
        lines.push(
            match now.phase {
                SessionPhase::Expired => "The session has expired.",
                SessionPhase::Ended => "The session has ended: too many wrong passphrases.",
                _ => "The session was closed.",
            }
            .to_owned(),
        );
    }
    lines
}

pub fn joined(joined: &Joined) -> String {
    format!(
        "\
Joined the trust session of {initiator} at {endpoint}.
  {iname}'s fingerprint: {ifp}   (compare with the one shown on {iname})
  This server, {mname}:  {mfp}
",
        initiator = printable(&joined.initiator.name),
        endpoint = printable(&joined.endpoint),
        iname = printable(&joined.initiator.name),
        ifp = printable(&joined.initiator.short_fingerprint),
        mname = printable(&joined.me.name),
        mfp = printable(&joined.me.short_fingerprint),
    )
}

pub fn members_table(members: &[Member]) -> String {
    if members.is_empty() {
        return "no trusted members yet (`muster session open` on one server, `muster join` on the \
                others)\n"
            .into();
    }
    let mut rows = vec![header(["NAME", "ROLE", "FINGERPRINT", "ADDRESSES"])];
    for m in members {
        rows.push([
            printable(&m.name),
            if m.controller { "controller" } else { "member" }.to_string(),
            printable(&m.fingerprint),
            list(&m.addresses),
        ]);
    }
    table(&rows)
}

pub fn forgotten(member: &Member) -> String {
    format!(
        "{} is no longer trusted (certificate {} unpinned); a server with that name must join \
         again to be trusted",
        printable(&member.name),
        printable(&member.fingerprint)
    )
}

pub fn interfaces_table(interfaces: &[NetInterface]) -> String {
    if interfaces.is_empty() {
        return "no network interfaces found\n".into();
    }
    let mut rows = vec![header(["NAME", "STATE", "MTU", "MAC", "ADDRESSES"])];
    for i in interfaces {
        rows.push([
            printable(&i.name),
            if i.up { "up" } else { "down" }.to_string(),
            i.mtu.map_or("-".into(), |m| m.to_string()),
            i.mac.as_deref().map_or("-".into(), printable),
            list(&i.addresses),
        ]);
    }
    table(&rows)
}

fn header<const N: usize>(names: [&str; N]) -> [String; N] {
    names.map(str::to_owned)
}

/// `a,b,c`, or `-` for none.
fn list(items: &[String]) -> String {
    if items.is_empty() {
        return "-".into();
    }
    items
        .iter()
        .map(|i| printable(i))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use muster_proto::trust::FailedAttempt;

    fn peer(name: &str, fp: &str) -> PeerSummary {
        PeerSummary {
            name: name.into(),
            fingerprint: fp.repeat(64 / fp.len()),
            short_fingerprint: format!("{0}{0}{0}{0}:{0}{0}{0}{0}:{0}{0}{0}{0}:{0}{0}{0}{0}", fp),
        }
    }

    #[test]
    fn durations_for_people() {
        assert_eq!(duration(5), "5 s");
        assert_eq!(duration(119), "119 s");
        assert_eq!(duration(600), "10 min");
        assert_eq!(duration(3900), "65 min");
        assert_eq!(duration(7200), "2 h 0 min");
    }

    #[test]
    fn an_opened_session_shows_passphrase_and_fingerprint() {
        let text = session_opened(&SessionOpened {
            initiator: peer("s1", "a"),
            passphrase: "apple-tree-river-stone-cloud".into(),
            expires_in_secs: 600,
            max_failures: 20,
        });
        assert!(
            text.starts_with("Trust session open on s1 for 10 min.\n"),
            "{text}"
        );
        assert!(text.contains("  Passphrase:   apple-tree-river-stone-cloud\n"));
        assert!(text.contains("  Fingerprint:  aaaa:aaaa:aaaa:aaaa\n"));
        assert!(text.contains("after 20 wrong passphrases"));
    }

    #[test]
    fn status_lists_joiners_and_failures() {
        let status = SessionStatus {
            phase: SessionPhase::Open,
            initiator: peer("s1", "a"),
            expires_in_secs: 300,
            joined: vec![peer("s2", "b")],
            failed_attempts: 1,
            max_failures: 20,
            failures: vec![FailedAttempt {
                address: "10.0.0.4".into(),
                claimed_name: Some("s4\u{1b}[2J".into()),
                secs_ago: 7,
            }],
            replace: vec!["s3".into()],
        };
        assert_eq!(
            session_status(&status),
            format!(
                "\
Trust session open on s1 (aaaa:aaaa:aaaa:aaaa) for 5 min more.
Joined:
  s2  {}
A joiner with a new certificate may take over: s3.
Failed attempts: 1 (the session ends at 20).
  10.0.0.4 claiming to be s4\\u{{1b}}[2J, 7 s ago: wrong passphrase
",
                "b".repeat(64)
            )
        );
        let ended = SessionStatus {
            phase: SessionPhase::Ended,
            joined: vec![],
            failures: vec![],
            ..status
        };
        let text = session_status(&ended);
        assert!(
            text.contains("is over: too many wrong passphrases"),
            "{text}"
        );
        assert!(text.contains("No server has joined."), "{text}");
    }

    #[test]
    fn changes_are_printed_as_they_happen() {
        let before = SessionStatus {
            phase: SessionPhase::Open,
            initiator: peer("s1", "a"),
            expires_in_secs: 300,
            joined: vec![],
            failed_attempts: 0,
            max_failures: 20,
            failures: vec![],
            replace: vec![],
        };
        let failure = |address: &str| FailedAttempt {
            address: address.into(),
            claimed_name: None,
            secs_ago: 1,
        };
        let now = SessionStatus {
            joined: vec![peer("s2", "b")],
            failed_attempts: 2,
            failures: vec![failure("10.0.0.4"), failure("10.0.0.3")],
            ..before.clone()
        };
        assert_eq!(
            session_changes(&before, &now),
            [
                "s2 joined; its fingerprint: bbbb:bbbb:bbbb:bbbb",
                "wrong passphrase from 10.0.0.3: 2 of 20 allowed",
                "wrong passphrase from 10.0.0.4: 2 of 20 allowed",
            ]
        );
        let closed = SessionStatus {
            phase: SessionPhase::Closed,
            ..now.clone()
        };
        assert_eq!(session_changes(&now, &closed), ["The session was closed."]);
        assert!(session_changes(&closed, &closed).is_empty());
    }

    #[test]
    fn tables() {
        let members = [Member {
            name: "s2".into(),
            fingerprint: "b".repeat(64),
            addresses: vec!["10.0.0.2:9443".into(), "10.0.1.2:9443".into()],
            added_unix: 0,
            controller: true,
        }];
        assert_eq!(
            members_table(&members),
            format!(
                "NAME  ROLE        FINGERPRINT{}  ADDRESSES\ns2    controller  {}  10.0.0.2:9443,10.0.1.2:9443\n",
                " ".repeat(53),
                "b".repeat(64)
            )
        );
        let interfaces = [
            NetInterface {
                name: "eth0".into(),
                addresses: vec!["10.0.0.2/24".into()],
                mac: Some("52:54:00:00:00:02".into()),
                mtu: Some(1500),
                up: true,
            },
            NetInterface {
                name: "eth1".into(),
                addresses: vec![],
                mac: None,
                mtu: None,
                up: false,
            },
        ];
        assert_eq!(
            interfaces_table(&interfaces),
            "\
NAME  STATE  MTU   MAC                ADDRESSES
eth0  up     1500  52:54:00:00:00:02  10.0.0.2/24
eth1  down   -     -                  -
"
        );
    }
}
