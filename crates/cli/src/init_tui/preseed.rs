//! The wizard's choices as a preseed file. Pure, apart from saving it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use muster_tui::{InstanceNetwork, Selection};

/// Where the generated preseed is saved, in the working directory.
const SAVED_PRESEED: &str = "muster-preseed";

/// The wizard's choices as a preseed file's text, for `POST /v1/init` and
/// for `muster init --preseed` later. Every member is already trusted when
/// the plan is asked for, so the file needs no session. Pure.
pub(super) fn preseed_yaml(selection: &Selection) -> String {
    // Written out below for the one kind the wizard offers: another kind
    // stops this from compiling until it is written too.
    let InstanceNetwork::Bridge = selection.instance_network;
    // JSON strings are YAML's double-quoted scalars: any name or path is
    // written safely.
    let q = |s: &str| serde_json::Value::from(s).to_string();
    let any_local_disk = selection.members.iter().any(|m| m.local_storage.is_some());
    let mut out = String::from(
        "# Written by `muster init` from the choices made in its wizard.\n\
         # `muster init --preseed FILE` forms the same cluster without questions.\n",
    );
    if let Some(initiator) = selection.members.iter().find(|m| m.initiator) {
        let _ = writeln!(out, "initiator: {}", q(&initiator.name));
    }
    out.push_str("members:\n");
    for m in &selection.members {
        let _ = writeln!(out, "  - name: {}", q(&m.name));
        out.push_str("    disks:\n");
        match &m.local_storage {
            Some(disk) => {
                let _ = writeln!(out, "      local: {}", q(&disk.path));
            }
            // A dir pool is one driver for the whole pool: only when no
            // member gives a disk. Otherwise this member's part of the pool
            // goes on its OS disk.
            None if !any_local_disk => out.push_str("      local: dir\n"),
            None => {}
        }
        if !m.ceph_disks.is_empty() {
            out.push_str("      ceph:\n");
            for disk in &m.ceph_disks {
                let _ = writeln!(out, "        - {}", q(&disk.path));
            }
        }
        let wipe: Vec<&str> = m
            .local_storage
            .iter()
            .chain(&m.ceph_disks)
            .filter(|d| d.wipe)
            .map(|d| d.path.as_str())
            .collect();
        if !wipe.is_empty() {
            out.push_str("      wipe:\n");
            for path in wipe {
                let _ = writeln!(out, "        - {}", q(path));
            }
        }
        out.push_str("    network:\n");
        let _ = writeln!(
            out,
            "      cluster_address: {}",
            q(&m.cluster_address.to_string())
        );
    }
    out.push_str("network:\n  instances:\n    name: lxdbr0\n    ipv4: auto\n    ipv6: none\n");
    out
}

/// Writes the preseed next to the operator, never over a file: the first
/// free name of `muster-preseed.yaml`, `muster-preseed-2.yaml`...
pub(super) fn save_preseed(dir: &Path, text: &str) -> anyhow::Result<PathBuf> {
    for n in 1..100 {
        let name = if n == 1 {
            format!("{SAVED_PRESEED}.yaml")
        } else {
            format!("{SAVED_PRESEED}-{n}.yaml")
        };
        let path = dir.join(name);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut file) => {
                use std::io::Write;
                file.write_all(text.as_bytes())
                    .with_context(|| format!("cannot write {}", path.display()))?;
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", path.display())),
        }
    }
    anyhow::bail!("{SAVED_PRESEED}.yaml and 98 more names are taken in the working directory")
}
