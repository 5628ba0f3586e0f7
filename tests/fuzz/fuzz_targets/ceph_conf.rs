//! `ceph.conf` rendered from fuzzed settings and read back. What comes back
//! must be exactly what went in: the same sections and keys as a config
//! whose values are harmless stand-ins, each value the one given, and the
//! cluster-wide settings as `parse_conf` reads them. A value that opens a
//! section, adds a key or reads differently to Ceph breaks this.
//!
//! Input: NUL-separated fields `fsid, host, public network, directory, mon
//! hosts (comma-separated addresses)`, then optionally `cluster network,
//! osd memory target, mon data avail warn`.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use muster_ceph::{parse_conf, render_conf, CephConf, ConfSummary, MemberPaths};
use muster_fuzz::{fields, text};

/// Each `(section, key, value)` of a config as Ceph's parser splits its
/// lines: a comment runs from `#` or `;`, a line in brackets opens a
/// section, a setting is cut at its first `=`, and all is trimmed. Any other
/// non-empty line is kept too, as a key without a value.
fn settings(config: &str) -> Vec<(String, String, String)> {
    let mut section = String::new();
    let mut out = Vec::new();
    for line in config.lines() {
        let line = line.split(['#', ';']).next().unwrap_or_default().trim();
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim().to_owned();
        } else if !line.is_empty() {
            let (key, value) = line.split_once('=').unwrap_or((line, ""));
            out.push((
                section.clone(),
                key.trim().to_owned(),
                value.trim().to_owned(),
            ));
        }
    }
    out
}

/// Where Ceph would read a value differently from its text: metavariables
/// (`$name`), quotes and escapes.
fn literal_for_ceph(value: &str) -> bool {
    !value.contains(['$', '"', '\'', '\\'])
}

const DIR: &str = "/DIR";

fuzz_target!(|data: &[u8]| {
    let fields: Vec<String> = fields(data).into_iter().map(text).collect();
    let [fsid, host, public, dir, mons, optional @ ..] = &fields[..] else {
        return;
    };
    let cluster = optional.first();
    let given = CephConf {
        fsid: fsid.clone(),
        host: host.clone(),
        mon_hosts: mons.split(',').filter_map(|a| a.parse().ok()).collect(),
        public_network: public.clone(),
        cluster_network: cluster.cloned(),
        paths: MemberPaths::under(Path::new(dir)),
        osd_memory_target: optional.get(1).and_then(|v| v.parse().ok()),
        mon_data_avail_warn: optional.get(2).and_then(|v| v.parse().ok()),
    };
    // A setting it refuses cannot go wrong; what it accepts must hold.
    let Ok(rendered) = render_conf(&given) else {
        return;
    };

    // The same config with stand-ins, each value then swapped for the one
    // given: the settings the rendered config must hold, no more.
    let stand_ins = CephConf {
        fsid: "FSID".into(),
        host: "HOST".into(),
        public_network: "PUBLIC".into(),
        cluster_network: cluster.map(|_| "CLUSTER".into()),
        paths: MemberPaths::under(Path::new(DIR)),
        ..given.clone()
    };
    // `Path::join` adds a separator only where the directory lacks one.
    let joined = Path::new(dir).join("x").display().to_string();
    let dir_prefix = &joined[..joined.len() - 1];
    let swaps = [
        ("FSID", fsid.as_str()),
        ("HOST", host.as_str()),
        ("PUBLIC", public.as_str()),
        ("CLUSTER", cluster.map_or("", String::as_str)),
        ("/DIR/", dir_prefix),
    ];
    let expected: Vec<(String, String, String)> =
        settings(&render_conf(&stand_ins).expect("the stand-ins are valid"))
            .into_iter()
            .map(|(section, key, value)| {
                let value = match swaps.iter().find(|(from, _)| value.contains(from)) {
                    Some((from, to)) => value.replacen(from, to, 1),
                    None => value,
                };
                (section, key, value)
            })
            .collect();
    assert_eq!(settings(&rendered), expected, "{rendered}");

    for value in [fsid, host, public, dir].into_iter().chain(cluster) {
        assert!(literal_for_ceph(value), "{value:?} in {rendered}");
    }
    // `crush location` is `key=value` pairs cut at white space.
    assert!(!host.contains(char::is_whitespace), "{rendered}");
    assert_eq!(
        parse_conf(&rendered),
        Some(ConfSummary {
            fsid: fsid.clone(),
            mon_hosts: given.mon_hosts.clone(),
            public_network: public.clone(),
            cluster_network: cluster.cloned(),
        }),
        "{rendered}"
    );
});
