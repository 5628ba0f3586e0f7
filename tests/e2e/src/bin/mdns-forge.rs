//! mdns-forge: announces one crafted `_muster._tcp.local.` instance, so that
//! the e2e tests can show muster hostile or broken records (wrong protocol,
//! no TXT, bad names, unusable addresses, port 0, non-UTF-8 values...).
//!
//! TEST-ONLY. It multicasts on every IPv4 interface it is given (or all but
//! loopback), so it must only ever run inside a lab network namespace.
//!
//! It writes the DNS packets itself: mdns-sd announces only addresses on the
//! sending interface's subnet and only well-formed records, which is right
//! for an agent and useless for forging. It announces every `--interval-ms`
//! (browsers need no query answered), prints `ready` once the first
//! announcement is out, and on SIGTERM, SIGINT, SIGHUP or when its standard
//! input (if a pipe or socket) closes, sends goodbyes (TTL 0) and exits 0.
//!
//!     mdns-forge --instance s9 --addr 10.231.250.9               # a genuine-looking agent
//!     mdns-forge --instance s9 --addr 10.231.250.9 --txt proto=7 # another protocol
//!     mdns-forge --instance s9 --addr 127.0.0.1 --no-txt

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddrV4};
use std::os::unix::fs::FileTypeExt;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use muster_discovery::txt;
use muster_proto::{DEFAULT_PORT, PROTOCOL_VERSION, SERVICE_TYPE, VERSION};
use simple_dns::rdata::{RData, A, AAAA, PTR, SRV, TXT};
use simple_dns::{CharacterString, Label, Name, Packet, PacketFlag, ResourceRecord, CLASS};
use socket2::{Domain, Protocol, Socket, Type};

const MDNS_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 251);
const MDNS_PORT: u16 = 5353;

/// Announce a crafted _muster._tcp.local. instance (test-only: lab namespaces
/// only). Without TXT options the record looks like a genuine agent's
/// (proto, version, name = the instance, state = unclustered); each option
/// then bends one thing.
#[derive(Debug, Parser)]
#[command(name = "mdns-forge")]
struct Args {
    /// Instance label. RFC 1035 escapes give any byte: `\.`, `\\`, `\255`.
    #[arg(long)]
    instance: String,

    /// Host name the SRV record points at [default: INSTANCE.local.]
    #[arg(long)]
    host: Option<String>,

    #[arg(long, default_value_t = DEFAULT_PORT)]
    port: u16,

    /// An address of the host (A or AAAA record); repeat for several. None
    /// at all leaves the instance unresolvable.
    #[arg(long = "addr", value_name = "IP")]
    addrs: Vec<IpAddr>,

    /// Set a TXT entry (replacing the default of that key); repeatable.
    #[arg(long = "txt", value_name = "KEY=VALUE", value_parser = key_value)]
    txt: Vec<(String, String)>,

    /// Set a TXT entry whose value is given in hex (for non-UTF-8 bytes).
    #[arg(long = "txt-hex", value_name = "KEY=HEX", value_parser = key_value)]
    txt_hex: Vec<(String, String)>,

    /// Set a TXT entry that is a bare key, without `=`.
    #[arg(long = "txt-flag", value_name = "KEY")]
    txt_flag: Vec<String>,

    /// Leave out a default TXT key (proto, version, name, state).
    #[arg(long = "omit", value_name = "KEY")]
    omit: Vec<String>,

    /// Send a TXT record with no entries at all.
    #[arg(long, conflicts_with_all = ["txt", "txt_hex", "txt_flag", "omit"])]
    no_txt: bool,

    #[arg(long, default_value = SERVICE_TYPE)]
    service_type: String,

    /// TTL of the records, in seconds.
    #[arg(long, default_value_t = 120)]
    ttl: u32,

    /// Time between announcements.
    #[arg(long, default_value_t = 1000)]
    interval_ms: u64,

    /// Announce on this interface only; repeatable [default: all IPv4
    /// interfaces but loopback].
    #[arg(long = "interface", value_name = "IF")]
    interfaces: Vec<String>,
}

fn key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("{s:?} is not KEY=VALUE"))
}

/// What to announce, checked and decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Spec {
    instance: Vec<u8>,
    service_type: String,
    host: String,
    port: u16,
    addrs: Vec<IpAddr>,
    /// `key[=value]` entries in order; an empty list is sent as the one
    /// empty string RFC 6763 prescribes.
    txt: Vec<(String, Option<Vec<u8>>)>,
}

impl Spec {
    fn from_args(args: &Args) -> anyhow::Result<Spec> {
        let label = Label::new(args.instance.as_bytes())
            .with_context(|| format!("invalid instance label {:?}", args.instance))?;
        let instance = label.as_ref().to_vec();
        let host = args
            .host
            .clone()
            .unwrap_or_else(|| format!("{}.local.", args.instance));
        let mut txt: Vec<(String, Option<Vec<u8>>)> = if args.no_txt {
            Vec::new()
        } else {
            vec![
                (
                    txt::PROTOCOL.into(),
                    Some(PROTOCOL_VERSION.to_string().into()),
                ),
                (txt::VERSION.into(), Some(VERSION.into())),
                (txt::NAME.into(), Some(instance.clone())),
                (txt::STATE.into(), Some(b"unclustered".to_vec())),
            ]
        };
        txt.retain(|(k, _)| !args.omit.iter().any(|o| o.eq_ignore_ascii_case(k)));
        for (key, value) in &args.txt {
            set(&mut txt, key, Some(value.clone().into_bytes()));
        }
        for (key, value) in &args.txt_hex {
            let bytes = hex::decode(value).with_context(|| format!("--txt-hex {key}: not hex"))?;
            set(&mut txt, key, Some(bytes));
        }
        for key in &args.txt_flag {
            set(&mut txt, key, None);
        }
        Ok(Spec {
            instance,
            service_type: args.service_type.clone(),
            host,
            port: args.port,
            addrs: args.addrs.clone(),
            txt,
        })
    }
}

fn set(txt: &mut Vec<(String, Option<Vec<u8>>)>, key: &str, value: Option<Vec<u8>>) {
    match txt.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(key)) {
        Some(entry) => entry.1 = value,
        None => txt.push((key.to_string(), value)),
    }
}

/// The announcement (or, with `ttl` 0, the goodbye) as one mDNS response.
fn packet(spec: &Spec, ttl: u32) -> anyhow::Result<Vec<u8>> {
    let service = Name::new(&spec.service_type).context("invalid service type")?;
    let mut labels = vec![Label::new_unchecked(&spec.instance[..])];
    labels.extend(service.get_labels().iter().cloned());
    let instance = Name::new_with_labels(&labels);
    let host = Name::new(&spec.host).with_context(|| format!("invalid host {:?}", spec.host))?;

    let entries: Vec<Vec<u8>> = spec
        .txt
        .iter()
        .map(|(key, value)| {
            let mut entry = key.clone().into_bytes();
            if let Some(value) = value {
                entry.push(b'=');
                entry.extend_from_slice(value);
            }
            entry
        })
        .collect();
    // With no entries simple-dns writes the single empty string RFC 6763
    // prescribes.
    let mut txt = TXT::new();
    for entry in &entries {
        let string = CharacterString::new(entry)
            .with_context(|| format!("TXT entry of {} bytes (255 at most)", entry.len()))?;
        txt.add_char_string(string);
    }

    let mut reply = Packet::new_reply(0);
    reply.set_flags(PacketFlag::AUTHORITATIVE_ANSWER);
    // PTR is a shared record; the others belong to this instance alone and
    // carry the cache-flush bit, as a real responder's do.
    reply.answers.push(ResourceRecord::new(
        service.clone(),
        CLASS::IN,
        ttl,
        RData::PTR(PTR(instance.clone())),
    ));
    let srv = SRV {
        priority: 0,
        weight: 0,
        port: spec.port,
        target: host.clone(),
    };
    let unique = |name: &Name<'static>, data| {
        ResourceRecord::new(name.clone(), CLASS::IN, ttl, data).with_cache_flush(true)
    };
    let instance = instance.into_owned();
    let host = host.into_owned();
    reply
        .answers
        .push(unique(&instance, RData::SRV(srv.into_owned())));
    reply
        .answers
        .push(unique(&instance, RData::TXT(txt.into_owned())));
    for addr in &spec.addrs {
        let data = match addr {
            IpAddr::V4(a) => RData::A(A::from(*a)),
            IpAddr::V6(a) => RData::AAAA(AAAA::from(*a)),
        };
        reply.answers.push(unique(&host, data));
    }
    reply
        .build_bytes_vec_compressed()
        .context("cannot encode the mDNS packet")
}

/// A socket on port 5353 (responders must send from it) and the IPv4
/// addresses of the interfaces to send through.
struct Sender {
    socket: Socket,
    sources: Vec<(String, Ipv4Addr)>,
}

impl Sender {
    fn open(interfaces: &[String]) -> anyhow::Result<Sender> {
        let all = if_addrs::get_if_addrs().context("cannot list network interfaces")?;
        for wanted in interfaces {
            if !all.iter().any(|i| &i.name == wanted) {
                bail!("no network interface named {wanted:?}");
            }
        }
        let sources: Vec<(String, Ipv4Addr)> = all
            .iter()
            .filter(|i| !i.is_loopback() || interfaces.contains(&i.name))
            .filter(|i| interfaces.is_empty() || interfaces.contains(&i.name))
            .filter_map(|i| match i.ip() {
                IpAddr::V4(ip) => Some((i.name.clone(), ip)),
                IpAddr::V6(_) => None,
            })
            .collect();
        if sources.is_empty() {
            bail!("no interface with an IPv4 address to announce on");
        }
        let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))
            .context("cannot open a UDP socket")?;
        // Share the port with an mDNS daemon in the same namespace.
        socket.set_reuse_address(true)?;
        socket.set_reuse_port(true)?;
        socket.set_multicast_ttl_v4(255)?;
        socket.set_multicast_loop_v4(true)?;
        let bind = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, MDNS_PORT);
        socket
            .bind(&bind.into())
            .context("cannot bind UDP port 5353")?;
        Ok(Sender { socket, sources })
    }

    /// Sends through every interface; fails only if none took it.
    fn send(&self, bytes: &[u8]) -> anyhow::Result<()> {
        let group = SocketAddrV4::new(MDNS_GROUP, MDNS_PORT).into();
        let mut last_error = None;
        let mut sent = false;
        for (name, ip) in &self.sources {
            let result = self
                .socket
                .set_multicast_if_v4(ip)
                .and_then(|()| self.socket.send_to(bytes, &group));
            match result {
                Ok(_) => sent = true,
                Err(e) => {
                    last_error = Some(anyhow::Error::new(e).context(format!("sending on {name}")))
                }
            }
        }
        match (sent, last_error) {
            (false, Some(e)) => Err(e),
            _ => Ok(()),
        }
    }
}

/// Sets `stop` when standard input reaches its end, if it is a pipe or a
/// socket; a terminal or /dev/null (as for a shell's background job) is
/// not a signal to stop.
fn watch_stdin(stop: Arc<AtomicBool>) {
    let is_channel = std::fs::metadata("/proc/self/fd/0")
        .map(|m| m.file_type().is_fifo() || m.file_type().is_socket())
        .unwrap_or(false);
    if !is_channel {
        return;
    }
    std::thread::spawn(move || {
        let mut sink = [0u8; 512];
        let mut stdin = io::stdin();
        while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
        stop.store(true, Ordering::SeqCst);
    });
}

fn run() -> anyhow::Result<()> {
    let args = Args::parse();
    let spec = Spec::from_args(&args)?;
    let announcement = packet(&spec, args.ttl)?;
    let goodbye = packet(&spec, 0)?;
    let interval = Duration::from_millis(args.interval_ms.max(10));

    let stop = Arc::new(AtomicBool::new(false));
    for signal in [
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .context("cannot install signal handlers")?;
    }
    watch_stdin(Arc::clone(&stop));

    let sender = Sender::open(&args.interfaces)?;
    sender.send(&announcement)?;
    println!("ready");
    io::stdout().flush()?;

    let mut next = Instant::now() + interval;
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(20));
        if Instant::now() >= next {
            if let Err(e) = sender.send(&announcement) {
                eprintln!("mdns-forge: {e:#}");
            }
            next += interval;
        }
    }
    // Sent twice, as responders do, in case one is lost.
    sender.send(&goodbye)?;
    std::thread::sleep(Duration::from_millis(100));
    sender.send(&goodbye)
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use simple_dns::rdata::RData;

    fn spec(extra: &[&str]) -> Spec {
        spec_of("s9", extra)
    }

    fn spec_of(instance: &str, extra: &[&str]) -> Spec {
        let mut argv = vec![
            "mdns-forge",
            "--instance",
            instance,
            "--addr",
            "10.231.250.9",
        ];
        argv.extend_from_slice(extra);
        Spec::from_args(&Args::try_parse_from(argv).unwrap()).unwrap()
    }

    fn txt_of(spec: &Spec) -> Vec<(&str, Option<&[u8]>)> {
        spec.txt
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_deref()))
            .collect()
    }

    #[test]
    fn defaults_look_like_a_genuine_agent() {
        let s = spec(&[]);
        let proto = PROTOCOL_VERSION.to_string();
        assert_eq!(
            txt_of(&s),
            vec![
                ("proto", Some(proto.as_bytes())),
                ("version", Some(VERSION.as_bytes())),
                ("name", Some(&b"s9"[..])),
                ("state", Some(&b"unclustered"[..])),
            ]
        );
        assert_eq!(s.host, "s9.local.");
        assert_eq!(s.port, DEFAULT_PORT);
    }

    #[test]
    fn txt_options_bend_the_defaults() {
        let s = spec(&[
            "--txt",
            "proto=7",
            "--txt-hex",
            "name=ff00",
            "--txt-flag",
            "state",
            "--omit",
            "version",
            "--txt",
            "extra=x",
        ]);
        assert_eq!(
            txt_of(&s),
            vec![
                ("proto", Some(&b"7"[..])),
                ("name", Some(&[0xff, 0x00][..])),
                ("state", None),
                ("extra", Some(&b"x"[..])),
            ]
        );
        assert!(spec(&["--no-txt"]).txt.is_empty());
    }

    #[test]
    fn instance_escapes_give_any_byte() {
        let s = spec_of(r"a\.b\255", &[]);
        assert_eq!(s.instance, b"a.b\xff");
    }

    #[test]
    fn the_packet_carries_every_record() {
        let s = spec(&["--addr", "127.0.0.1", "--addr", "fe80::1", "--port", "0"]);
        let bytes = packet(&s, 120).unwrap();
        let parsed = Packet::parse(&bytes).unwrap();
        assert!(parsed.has_flags(PacketFlag::RESPONSE | PacketFlag::AUTHORITATIVE_ANSWER));
        let kinds: Vec<&str> = parsed
            .answers
            .iter()
            .map(|rr| match &rr.rdata {
                RData::PTR(_) => "ptr",
                RData::SRV(srv) if srv.port == 0 => "srv",
                RData::TXT(_) => "txt",
                RData::A(_) => "a",
                RData::AAAA(_) => "aaaa",
                _ => "other",
            })
            .collect();
        assert_eq!(kinds, ["ptr", "srv", "txt", "a", "a", "aaaa"]);
        assert!(parsed.answers.iter().all(|rr| rr.ttl == 120));
        assert_eq!(
            parsed.answers[1].name.to_string(),
            format!("s9.{}", SERVICE_TYPE.trim_end_matches('.'))
        );
    }

    #[test]
    fn goodbyes_have_ttl_zero_and_no_txt_means_no_entries() {
        let bytes = packet(&spec(&["--no-txt"]), 0).unwrap();
        let parsed = Packet::parse(&bytes).unwrap();
        assert!(parsed.answers.iter().all(|rr| rr.ttl == 0));
        let RData::TXT(txt) = &parsed.answers[2].rdata else {
            panic!("no TXT");
        };
        assert_eq!(txt.iter_raw().count(), 0);
    }

    #[test]
    fn oversized_entries_are_refused() {
        let long = format!("name={}", "x".repeat(300));
        let s = spec(&["--txt", &long]);
        assert!(packet(&s, 120).is_err());
    }
}
