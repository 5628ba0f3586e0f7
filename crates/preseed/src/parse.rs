//! Stage one: the file alone. Syntax, types and unknown keys, then what the
//! file says against itself (duplicates, a wipe of a disk not chosen...).
//! Nothing here looks at any server.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use muster_proto::trust::{MAX_SESSION_SECS, MIN_SESSION_SECS};
use serde::de::DeserializeOwned;
use serde_norway::Value;

use crate::bounds::{self, InputError};
use crate::error::{Errors, PreseedError, PreseedErrors};
use crate::schema::{
    CephDisks, DiskFilter, LocalDisk, MemberSpec, NetworkSpec, Preseed, Secret, SessionSpec,
    StorageSpec,
};

/// Reads and checks a preseed file (with [`read`](crate::read), the only
/// I/O in this crate).
pub fn load(path: &Path) -> Result<Preseed, PreseedErrors> {
    parse(&bounds::read(path).map_err(refused)?)
}

pub(crate) fn refused(e: InputError) -> PreseedErrors {
    // The message with its cause (why the file cannot be read).
    let message = match std::error::Error::source(&e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    };
    PreseedErrors(vec![PreseedError::new("", message)])
}

/// Checks a preseed file's text on its own: every error found, or the file.
/// Text beyond the [bounds](crate::bounds) is refused before it is parsed.
pub fn parse(text: &str) -> Result<Preseed, PreseedErrors> {
    bounds::check(text).map_err(refused)?;
    let value: Value = serde_norway::from_str(text).map_err(|e| {
        // libyaml's message already says where.
        PreseedErrors(vec![PreseedError::new("", format!("not valid YAML: {e}"))])
    })?;
    let strict = serde_path_to_error::deserialize(serde_norway::Deserializer::from_str(text));
    let preseed: Preseed = match strict {
        Ok(p) => p,
        Err(e) => return Err(PreseedErrors(structural(e, &value))),
    };
    check(&preseed).finish(preseed)
}

/// The first type error comes from the parser, with its line. A parser
/// stops there, so each section and each member is then checked again on
/// its own (without lines) to report the errors in the others as well.
fn structural(
    first: serde_path_to_error::Error<serde_norway::Error>,
    value: &Value,
) -> Vec<PreseedError> {
    let key = first.path().to_string();
    let inner = first.into_inner();
    let line = inner.location().map(|l| l.line());
    let mut message = inner.to_string();
    if let Some(loc) = inner.location() {
        let suffix = format!(" at line {} column {}", loc.line(), loc.column());
        if let Some(stripped) = message.strip_suffix(&suffix) {
            message = stripped.to_owned();
        }
    }
    // The parser's message starts with its own path: of the key, or of the
    // map holding an unknown key.
    let parent = key.rfind(['.', '[']).map_or("", |i| &key[..i]);
    for prefix in [&key[..], parent] {
        if let Some(stripped) = message.strip_prefix(&format!("{prefix}: ")) {
            message = stripped.to_owned();
            break;
        }
    }
    let key = if key == "." { String::new() } else { key };
    let first = PreseedError {
        member: member_label(value, &key),
        line,
        message: wording(&message),
        key,
    };
    let mut all = vec![first.clone()];
    all.extend(sections(value).into_iter().filter(|e| e.key != first.key));
    all
}

/// Each top-level section, and each member, checked on its own.
fn sections(value: &Value) -> Vec<PreseedError> {
    let mut errors = Vec::new();
    let Value::Mapping(top) = value else {
        return errors;
    };
    let mut has_members = false;
    for (k, v) in top {
        let Some(k) = k.as_str() else { continue };
        let found = match k {
            "session" => check_section::<SessionSpec>(v, k),
            "initiator" => check_section::<Option<String>>(v, k),
            "storage" => check_section::<StorageSpec>(v, k),
            "network" => check_section::<NetworkSpec>(v, k),
            "members" => {
                has_members = true;
                match v {
                    Value::Sequence(items) => {
                        for (i, item) in items.iter().enumerate() {
                            let key = format!("members[{i}]");
                            if let Some(e) = check_section::<MemberSpec>(item, &key) {
                                errors.push(e.member(member_label(value, &key)));
                            }
                        }
                        None
                    }
                    _ => check_section::<Vec<MemberSpec>>(v, k),
                }
            }
            other => Some(PreseedError::new(
                other,
                format!(
                    "unknown key `{other}`, expected one of `session`, `initiator`, \
                     `members`, `storage`, `network`"
                ),
            )),
        };
        errors.extend(found);
    }
    if !has_members {
        errors.push(PreseedError::new("", "missing key `members`"));
    }
    errors
}

fn check_section<T: DeserializeOwned>(value: &Value, prefix: &str) -> Option<PreseedError> {
    let e = serde_path_to_error::deserialize::<_, T>(value.clone()).err()?;
    let path = e.path().to_string();
    let key = if path == "." {
        prefix.to_owned()
    } else if path.starts_with('[') {
        format!("{prefix}{path}")
    } else {
        format!("{prefix}.{path}")
    };
    Some(PreseedError::new(key, wording(&e.into_inner().to_string())))
}

/// YAML has keys, not fields.
fn wording(message: &str) -> String {
    message
        .replacen("unknown field", "unknown key", 1)
        .replacen("missing field", "missing key", 1)
}

/// The name (or address) of the member a key such as `members[2].disks`
/// is about, read from the raw document.
fn member_label(value: &Value, key: &str) -> Option<String> {
    let rest = key.strip_prefix("members[")?;
    let index: usize = rest[..rest.find(']')?].parse().ok()?;
    let member = value.get("members")?.get(index)?;
    ["name", "address"]
        .iter()
        .find_map(|k| member.get(*k)?.as_str().map(str::to_owned))
}

/// The session, with defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub passphrase: Option<PassphraseSource>,
    pub enrollment: bool,
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PassphraseSource {
    Inline(Secret),
    /// Read its first line when the session opens.
    File(PathBuf),
}

impl Preseed {
    pub fn session(&self) -> Session {
        let s = &self.session;
        Session {
            passphrase: s
                .passphrase
                .clone()
                .map(PassphraseSource::Inline)
                .or_else(|| s.passphrase_file.clone().map(PassphraseSource::File)),
            enrollment: s.enrollment,
            timeout: s.timeout.map_or(
                Duration::from_secs(muster_proto::trust::DEFAULT_SESSION_SECS),
                |t| t.0,
            ),
        }
    }
}

/// What the file says against itself.
fn check(p: &Preseed) -> Errors {
    let mut errors = Errors::default();
    check_session(&p.session, &mut errors);
    check_network(&p.network, &mut errors);
    if p.members.is_empty() {
        errors.add("members", None, "list at least one member");
    }
    let mut names: BTreeMap<&str, usize> = BTreeMap::new();
    let mut addresses = BTreeMap::new();
    for (i, m) in p.members.iter().enumerate() {
        let key = format!("members[{i}]");
        let label = m.label();
        let label = label.as_deref();
        if m.name.is_none() && m.address.is_none() {
            errors.add(&key, None, "give the member's name, or its address");
        }
        if let Some(name) = &m.name {
            if let Some(problem) = name_problem(name) {
                errors.add(format!("{key}.name"), label, problem);
            } else if let Some(j) = names.insert(name, i) {
                errors.add(
                    format!("{key}.name"),
                    label,
                    format!("{name} is already members[{j}]"),
                );
            }
        }
        if let Some(address) = m.address {
            if let Some(j) = addresses.insert(address, i) {
                errors.add(
                    format!("{key}.address"),
                    label,
                    format!("{address} is already the address of members[{j}]"),
                );
            }
        }
        check_disks(m, &key, &mut errors);
        let net = &m.network;
        not_both(
            &mut errors,
            &format!("{key}.network"),
            label,
            ("cluster_interface", net.cluster_interface.is_some()),
            ("cluster_address", net.cluster_address.is_some()),
        );
        if let Some(problem) = net.cluster_interface.as_deref().and_then(interface_problem) {
            errors.add(format!("{key}.network.cluster_interface"), label, problem);
        }
    }
    if let Some(initiator) = &p.initiator {
        if !p.members.iter().any(|m| m.name.as_ref() == Some(initiator)) {
            errors.add(
                "initiator",
                None,
                format!("{initiator} is not the name of one of the members"),
            );
        }
    }
    check_dir_mix(p, &mut errors);
    let any_ceph = p.members.iter().any(|m| m.disks.ceph.is_some());
    if p.storage.ceph.is_some() && !any_ceph {
        errors.add(
            "storage.ceph",
            None,
            "Ceph settings are given but no member lists Ceph disks (members[N].disks.ceph)",
        );
    }
    errors
}

fn not_both(
    errors: &mut Errors,
    key: &str,
    label: Option<&str>,
    (a, has_a): (&str, bool),
    (b, has_b): (&str, bool),
) {
    if has_a && has_b {
        errors.add(key, label, format!("give {a} or {b}, not both"));
    }
}

/// Whether the agent will open a session with this passphrase (for one
/// read from `session.passphrase_file`, which only the CLI reads).
pub fn check_passphrase(passphrase: &str) -> Result<(), String> {
    muster_trust::Passphrase::for_session(passphrase)
        .map(drop)
        .map_err(|e| e.to_string())
}

fn check_session(s: &SessionSpec, errors: &mut Errors) {
    not_both(
        errors,
        "session",
        None,
        ("passphrase", s.passphrase.is_some()),
        ("passphrase_file", s.passphrase_file.is_some()),
    );
    match &s.passphrase {
        Some(p) if p.0.trim().is_empty() => {
            errors.add("session.passphrase", None, "the passphrase is empty")
        }
        // The agent opens the session with it: refused here, not half way.
        Some(p) if s.passphrase_file.is_none() => {
            if let Err(e) = check_passphrase(&p.0) {
                errors.add("session.passphrase", None, e);
            }
        }
        _ => {}
    }
    if s.enrollment && s.passphrase.is_none() && s.passphrase_file.is_none() {
        errors.add(
            "session.enrollment",
            None,
            "enrolled joiners already hold the passphrase: give it too (passphrase or passphrase_file)",
        );
    }
    let bounds = Duration::from_secs(MIN_SESSION_SECS)..=Duration::from_secs(MAX_SESSION_SECS);
    if let Some(t) = s.timeout.filter(|t| !bounds.contains(&t.0)) {
        errors.add(
            "session.timeout",
            None,
            format!(
                "a session lasts from {}s to {}h, not {}s",
                MIN_SESSION_SECS,
                MAX_SESSION_SECS / 3600,
                t.0.as_secs_f64()
            ),
        );
    }
}

fn check_network(n: &NetworkSpec, errors: &mut Errors) {
    not_both(
        errors,
        "network",
        None,
        ("cluster_interface", n.cluster_interface.is_some()),
        ("cluster_subnet", n.cluster_subnet.is_some()),
    );
    if let Some(problem) = n.cluster_interface.as_deref().and_then(interface_problem) {
        errors.add("network.cluster_interface", None, problem);
    }
    let inst = &n.instances;
    if let Some(problem) = interface_problem(&inst.name) {
        errors.add("network.instances.name", None, problem);
    }
    for (key, setting, v4) in [
        ("network.instances.ipv4", &inst.ipv4, true),
        ("network.instances.ipv6", &inst.ipv6, false),
    ] {
        if let muster_plan::BridgeAddress::Cidr(net) = &setting.0 {
            if net.addr().is_ipv4() != v4 {
                errors.add(
                    key,
                    None,
                    format!("{net} is not an IPv{} address", if v4 { 4 } else { 6 }),
                );
            }
        }
    }
}

fn check_disks(m: &MemberSpec, key: &str, errors: &mut Errors) {
    let label = m.label();
    let label = label.as_deref();
    let d = &m.disks;
    let mut chosen: Vec<(&str, String)> = Vec::new();
    let mut filtered = false;
    match &d.local {
        Some(LocalDisk::Path(p)) => {
            let k = format!("{key}.disks.local");
            if let Some(problem) = path_problem(p) {
                errors.add(&k, label, problem);
            }
            chosen.push((p, k));
        }
        Some(LocalDisk::Filter(f)) => {
            filtered = true;
            let k = format!("{key}.disks.local");
            check_filter(f, &k, label, errors);
            if f.limit.is_some_and(|l| l != 1) {
                errors.add(
                    format!("{k}.limit"),
                    label,
                    "the local pool uses one disk: leave limit out",
                );
            }
        }
        Some(LocalDisk::Dir) | None => {}
    }
    match &d.ceph {
        Some(CephDisks::Paths(paths)) => {
            if paths.is_empty() {
                errors.add(
                    format!("{key}.disks.ceph"),
                    label,
                    "the list is empty: leave ceph out, or list disks",
                );
            }
            for (i, p) in paths.iter().enumerate() {
                let k = format!("{key}.disks.ceph[{i}]");
                if let Some(problem) = path_problem(p) {
                    errors.add(&k, label, problem);
                } else if let Some((_, other)) = chosen.iter().find(|(c, _)| *c == p) {
                    errors.add(&k, label, format!("{p} is already chosen as {other}"));
                }
                chosen.push((p, k));
            }
        }
        Some(CephDisks::Filter(f)) => {
            filtered = true;
            check_filter(f, &format!("{key}.disks.ceph"), label, errors);
        }
        None => {}
    }
    let mut wiped: Vec<&str> = Vec::new();
    for (i, p) in d.wipe.iter().enumerate() {
        let k = format!("{key}.disks.wipe[{i}]");
        if let Some(problem) = path_problem(p) {
            errors.add(&k, label, problem);
            continue;
        }
        if wiped.contains(&p.as_str()) {
            errors.add(&k, label, format!("{p} is listed twice"));
            continue;
        }
        wiped.push(p);
        // Another spelling of a chosen disk (a by-id link) or a disk a
        // filter will pick can only be told against the inventory.
        let decidable = !filtered && !is_link(p) && !chosen.iter().any(|(c, _)| is_link(c));
        if decidable && !chosen.iter().any(|(c, _)| *c == p) {
            errors.add(
                &k,
                label,
                format!(
                    "{p} is not chosen (disks.local or disks.ceph): muster only wipes chosen disks"
                ),
            );
        }
    }
}

fn check_filter(f: &DiskFilter, key: &str, label: Option<&str>, errors: &mut Errors) {
    if let (Some(min), Some(max)) = (f.min_size, f.max_size) {
        if min > max {
            errors.add(
                format!("{key}.max_size"),
                label,
                format!("max_size ({max}) is below min_size ({min})"),
            );
        }
    }
    if f.limit == Some(0) {
        errors.add(format!("{key}.limit"), label, "a limit of 0 picks no disk");
    }
}

/// `local: dir` makes the whole `local` pool a `dir` pool (one pool, one
/// driver): it cannot stand beside members that give a disk for it.
fn check_dir_mix(p: &Preseed, errors: &mut Errors) {
    let with_disk: Vec<String> = p
        .members
        .iter()
        .filter(|m| {
            matches!(
                m.disks.local,
                Some(LocalDisk::Path(_) | LocalDisk::Filter(_))
            )
        })
        .filter_map(MemberSpec::label)
        .collect();
    if with_disk.is_empty() {
        return;
    }
    for (i, m) in p.members.iter().enumerate() {
        if m.disks.local == Some(LocalDisk::Dir) {
            errors.add(
                format!("members[{i}].disks.local"),
                m.label().as_deref(),
                format!(
                    "`dir` makes the local pool a dir pool on every member, but {} give{} a disk \
                     for it; leave local out instead to put this member's pool on its OS disk",
                    with_disk.join(", "),
                    if with_disk.len() == 1 { "s" } else { "" }
                ),
            );
        }
    }
}

fn is_link(path: &str) -> bool {
    path.starts_with("/dev/disk/")
}

fn path_problem(path: &str) -> Option<String> {
    if path == crate::schema::DIR {
        return Some("`dir` is only for disks.local".into());
    }
    match path.strip_prefix("/dev/") {
        Some(rest) if !rest.is_empty() && !rest.ends_with('/') => None,
        _ => Some(format!("{path:?} is not a device path (/dev/...)")),
    }
}

fn name_problem(name: &str) -> Option<String> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    (!ok).then(|| format!("{name:?} is not a server name (letters, digits, '-', '_', '.')"))
}

fn interface_problem(name: &str) -> Option<String> {
    let ok = !name.is_empty()
        && name.len() <= 15
        && name != "."
        && name != ".."
        && !name.contains(|c: char| c == '/' || c == ':' || c.is_whitespace());
    (!ok).then(|| {
        format!("{name:?} is not an interface name (at most 15 characters, no '/', ':' or spaces)")
    })
}
