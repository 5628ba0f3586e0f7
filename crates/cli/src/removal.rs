//! `muster remove NAME` and `muster maintenance NAME on|off`: the local
//! agent plans and does the work; this shows the plan, asks before a
//! removal changes anything (unless --yes) and follows the agent's
//! progress.

use std::io::{self, BufRead, IsTerminal, Write};
use std::path::Path;

use anyhow::{bail, Context};
use muster_proto::formation::InitEvent;
use muster_proto::maintenance::{MaintenanceRequest, MAINTENANCE_PATH};
use muster_proto::removal::{paths, RemoveRequest};

use crate::agent::AgentClient;
use crate::args::{MaintenanceArgs, RemoveArgs, Switch};
use crate::formation::follow;

pub(crate) async fn remove(socket: &Path, args: RemoveArgs) -> anyhow::Result<()> {
    let client = AgentClient::new(socket)?;
    let request = |dry_run| RemoveRequest {
        name: args.name.clone(),
        force: args.force,
        dry_run,
    };
    let again = format!(
        "muster remove {}{}",
        args.name,
        if args.force { " --force" } else { "" }
    );
    if args.dry_run || !args.yes {
        let mut steps = 0;
        let response = client.post_stream(paths::REMOVE, &request(true)).await?;
        follow(response, args.json, &again, &mut |event| {
            if let InitEvent::Plan { steps: n, .. } = event {
                steps = *n;
            }
        })
        .await?;
        if args.dry_run || steps == 0 {
            return Ok(());
        }
        confirm(&args.name)?;
    }
    let response = client.post_stream(paths::REMOVE, &request(false)).await?;
    follow(response, args.json, &again, &mut |_| ()).await
}

pub(crate) async fn maintenance(socket: &Path, args: MaintenanceArgs) -> anyhow::Result<()> {
    let client = AgentClient::new(socket)?;
    let on = args.state == Switch::On;
    let request = MaintenanceRequest {
        name: args.name.clone(),
        on,
        dry_run: args.dry_run,
    };
    let again = format!(
        "muster maintenance {} {}",
        args.name,
        if on { "on" } else { "off" }
    );
    let response = client.post_stream(MAINTENANCE_PATH, &request).await?;
    follow(response, args.json, &again, &mut |_| ()).await
}

/// The operator types the member's name to go on, as the plan above
/// removes it for good.
fn confirm(name: &str) -> anyhow::Result<()> {
    if !io::stdin().is_terminal() {
        bail!(
            "nothing was changed: muster remove asks before it changes anything, and there is \
             no terminal to ask on; pass --yes to carry out the plan above"
        );
    }
    eprint!("Type {name} to remove it as planned above (anything else stops): ");
    io::stderr().flush().ok();
    let mut typed = String::new();
    io::stdin()
        .lock()
        .read_line(&mut typed)
        .context("cannot read the answer from the terminal")?;
    if !confirmed(&typed, name) {
        bail!("nothing was changed: {name} was not typed");
    }
    Ok(())
}

/// Pure.
fn confirmed(typed: &str, name: &str) -> bool {
    typed.trim() == name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_members_name_confirms() {
        assert!(confirmed("s3\n", "s3"));
        assert!(confirmed("  s3 \n", "s3"));
        for typed in ["", "\n", "y\n", "yes\n", "s", "s33\n", "S3\n"] {
            assert!(!confirmed(typed, "s3"), "{typed:?}");
        }
    }
}
