//! `muster init`, `muster add` and `muster status`: the local agent does the work; this
//! reads the preseed, shows the agent's progress as it streams, and prints
//! the cluster's state.

use std::path::Path;

use anyhow::{anyhow, bail, Context};
use muster_preseed::{PassphraseSource, Preseed, PreseedErrors};
use muster_proto::formation::{paths, CephStatus, ClusterStatus, InitEvent, InitRequest};

use crate::agent::AgentClient;
use crate::args::{AddArgs, InitArgs};
use crate::output::Output;

pub(crate) async fn init(socket: &Path, args: InitArgs) -> anyhow::Result<()> {
    let request = read_preseed(&args.preseed, args.dry_run, muster_preseed::parse)?;
    let client = AgentClient::new(socket)?;
    let response = client.post_stream(paths::INIT, &request).await?;
    follow(response, args.json, "muster init", &mut |_| ()).await
}

pub(crate) async fn add(socket: &Path, args: AddArgs) -> anyhow::Result<()> {
    let request = read_preseed(
        &args.preseed,
        args.dry_run,
        muster_preseed::merge::parse_addition,
    )?;
    let client = AgentClient::new(socket)?;
    let response = client.post_stream(paths::ADD, &request).await?;
    follow(response, args.json, "muster add", &mut |_| ()).await
}

/// The request for the preseed file at `path`, checked here with `parse`
/// so that a bad file is reported before anything starts (the agent checks
/// it again), with the session passphrase its `passphrase_file` names.
fn read_preseed(
    path: &Path,
    dry_run: bool,
    parse: fn(&str) -> Result<Preseed, PreseedErrors>,
) -> anyhow::Result<InitRequest> {
    // At most the size a preseed may be, plus a byte to tell it is more.
    let text = muster_preseed::read(path)?;
    let preseed = parse(&text).map_err(|e| {
        anyhow!(
            "{} is not a valid preseed file, nothing was changed:\n{e}",
            path.display()
        )
    })?;
    let passphrase = match preseed.session().passphrase {
        Some(PassphraseSource::File(file)) => {
            // Relative to the preseed file, like every path written in it.
            let file = match path.parent() {
                Some(dir) if file.is_relative() => dir.join(file),
                _ => file,
            };
            let passphrase = crate::trust::read_passphrase_file(&file)?;
            // The agent would refuse it when it opens the session.
            muster_preseed::check_passphrase(&passphrase).map_err(|e| {
                anyhow!(
                    "session.passphrase_file ({}): {e}. Nothing was changed.",
                    file.display()
                )
            })?;
            Some(passphrase)
        }
        _ => None,
    };
    Ok(InitRequest {
        preseed: text,
        passphrase,
        dry_run,
    })
}

/// Prints a run's progress as the agent streams it ([`InitEvent`] lines),
/// each event also handed to `seen`, until it ends: `Done` is success,
/// `Failed` the error. `again` names the command to run again to resume.
pub(crate) async fn follow(
    mut response: reqwest::Response,
    json: bool,
    again: &str,
    seen: &mut dyn FnMut(&InitEvent),
) -> anyhow::Result<()> {
    let mut out = Output::stdout();
    let mut pending: Vec<u8> = Vec::new();
    loop {
        let chunk = response.chunk().await.map_err(|e| {
            anyhow!(
                "the connection to musterd broke during the run ({e}); run the same {again} \
                 again to resume"
            )
        })?;
        let Some(chunk) = chunk else {
            bail!(
                "musterd stopped answering before the run finished (did it exit? see its log); \
                 run the same {again} again to resume"
            );
        };
        pending.extend_from_slice(&chunk);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let event: InitEvent = serde_json::from_slice(&line)
                .with_context(|| "unexpected progress line from musterd".to_string())?;
            seen(&event);
            if json {
                out.line(String::from_utf8_lossy(&line).trim_end())?;
            }
            match event {
                InitEvent::Done { message } => {
                    if !json {
                        out.line(&message)?;
                    }
                    return Ok(());
                }
                InitEvent::Failed { message, .. } => bail!("{message}"),
                other if !json => out.line(&render(&other))?,
                _ => {}
            }
        }
    }
}

/// One progress event as a line for people.
fn render(event: &InitEvent) -> String {
    match event {
        InitEvent::Info { message } => format!("-- {message}"),
        InitEvent::Plan { text, .. } => text.trim_end().to_owned(),
        InitEvent::Step {
            index,
            member,
            description,
        } => format!("[{index}] {member}: {description} ..."),
        InitEvent::StepDone { index } => format!("[{index}] done"),
        InitEvent::StepSkipped {
            index,
            member,
            description,
        } => format!("[{index}] {member}: {description}: found done already"),
        InitEvent::Done { message } => message.clone(),
        InitEvent::Failed { message, .. } => format!("error: {message}"),
    }
}

pub(crate) async fn status(socket: &Path, json: bool) -> anyhow::Result<()> {
    let client = AgentClient::new(socket)?;
    let status: ClusterStatus = client.get(paths::STATUS).await?;
    let text = if json {
        serde_json::to_string_pretty(&status).context("cannot encode the answer as JSON")?
    } else {
        status_text(&status)
    };
    Output::stdout().line(text.trim_end())
}

/// `muster status` for people. Pure.
pub fn status_text(s: &ClusterStatus) -> String {
    let mut out = String::new();
    let daemon = if s.daemon.is_empty() {
        "LXD"
    } else {
        &s.daemon
    };
    if !s.clustered {
        out.push_str(&format!(
            "{}: {daemon} is not clustered (muster init forms the cluster)\n",
            s.server
        ));
    } else {
        out.push_str(&format!(
            "Members ({}, {daemon} on every member):\n",
            s.members.len()
        ));
        for m in &s.members {
            let message = if m.message.is_empty() || m.message == "Fully operational" {
                String::new()
            } else {
                format!("  ({})", m.message)
            };
            out.push_str(&format!(
                "  {:<16} {:<10} {}{message}\n",
                m.name, m.status, m.url
            ));
        }
    }
    for (title, list) in [
        ("Storage pools", &s.storage_pools),
        ("Networks", &s.networks),
    ] {
        out.push_str(&format!("{title} ({}):\n", list.len()));
        for o in list {
            let on = if o.locations.is_empty() {
                String::new()
            } else {
                format!("  on {}", o.locations.join(", "))
            };
            out.push_str(&format!(
                "  {:<16} {:<8} {:<8}{on}\n",
                o.name, o.kind, o.status
            ));
        }
    }
    if let Some(ceph) = &s.ceph {
        out.push_str(&ceph_text(ceph));
    }
    out
}

fn ceph_text(c: &CephStatus) -> String {
    let mut out = format!("Ceph: {}\n", c.health);
    for check in &c.checks {
        out.push_str(&format!("  {check}\n"));
    }
    if !c.mons.is_empty() {
        out.push_str(&format!(
            "  monitors: {} ({} in quorum: {})\n",
            c.mons.join(", "),
            c.quorum.len(),
            c.quorum.join(", ")
        ));
    }
    for host in &c.hosts {
        let osds: Vec<String> = host
            .osds
            .iter()
            .map(|o| {
                format!(
                    "osd.{} {} {}",
                    o.id,
                    if o.up { "up" } else { "down" },
                    if o.is_in { "in" } else { "out" }
                )
            })
            .collect();
        let noout = if host.noout {
            "  (noout: in maintenance)"
        } else {
            ""
        };
        out.push_str(&format!("  {:<16} {}{noout}\n", host.name, osds.join(", ")));
    }
    for warning in &c.warnings {
        out.push_str(&format!("  warning: {warning}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use muster_proto::formation::{CephHostStatus, CephOsdStatus, MemberStatus, ObjectStatus};

    #[test]
    fn status_lists_members_pools_and_networks() {
        let s = ClusterStatus {
            server: "s1".into(),
            daemon: "Incus 6.0.4".into(),
            clustered: true,
            members: vec![MemberStatus {
                name: "s1".into(),
                url: "https://10.0.0.1:8443".into(),
                status: "Online".into(),
                message: "Fully operational".into(),
                roles: vec![],
            }],
            storage_pools: vec![ObjectStatus {
                name: "local".into(),
                kind: "dir".into(),
                status: "Created".into(),
                locations: vec!["s1".into()],
            }],
            networks: vec![],
            ceph: None,
        };
        let text = status_text(&s);
        assert!(
            text.contains("s1               Online     https://10.0.0.1:8443\n"),
            "{text}"
        );
        assert!(
            text.contains("local            dir      Created   on s1"),
            "{text}"
        );
        assert!(text.contains("Networks (0):"), "{text}");
        assert!(
            text.contains("Members (1, Incus 6.0.4 on every member):"),
            "{text}"
        );
    }

    #[test]
    fn status_shows_ceph_health_quorum_and_osds_per_member() {
        let s = ClusterStatus {
            server: "s1".into(),
            ceph: Some(CephStatus {
                health: "HEALTH_WARN".into(),
                checks: vec!["MON_DOWN: 1/3 mons down".into()],
                mons: vec!["s1".into(), "s2".into(), "s3".into()],
                quorum: vec!["s1".into(), "s2".into()],
                hosts: vec![CephHostStatus {
                    name: "s2".into(),
                    osds: vec![
                        CephOsdStatus {
                            id: 1,
                            up: true,
                            is_in: true,
                        },
                        CephOsdStatus {
                            id: 4,
                            up: false,
                            is_in: false,
                        },
                    ],
                    noout: true,
                }],
                warnings: vec!["only 1 member has OSDs".into()],
            }),
            ..ClusterStatus::default()
        };
        let text = status_text(&s);
        assert!(
            text.ends_with(
                "Ceph: HEALTH_WARN\n  MON_DOWN: 1/3 mons down\n  monitors: s1, s2, s3 (2 in \
                 quorum: s1, s2)\n  s2               osd.1 up in, osd.4 down out  (noout: in \
                 maintenance)\n  warning: only 1 member has OSDs\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn progress_lines_name_the_member_and_step() {
        let line = render(&InitEvent::Step {
            index: 2,
            member: "s2".into(),
            description: "Join".into(),
        });
        assert_eq!(line, "[2] s2: Join ...");
    }
}
