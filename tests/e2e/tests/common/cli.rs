//! The `muster` CLI on a lab server, run there as its operator would, and
//! what the tests read from it.

use std::process::Output;

use muster_lab::{Lab, Target};
use muster_proto::trust::{Member, SessionStatus};
use serde::de::DeserializeOwned;

/// `muster ARGS` on server `server`, talking to its agent.
pub fn run(lab: &Lab, server: usize, args: &[&str]) -> Output {
    let argv = std::iter::once("muster").chain(args.iter().copied());
    lab.exec(Target::Server(server), argv)
        .expect("run muster in the lab")
}

/// Runs `muster ARGS` on a server; its standard output.
pub fn ok(lab: &Lab, server: usize, args: &[&str]) -> String {
    let out = run(lab, server, args);
    assert!(
        out.status.success(),
        "s{server}: muster {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Runs `muster ARGS` on a server and parses what it prints.
pub fn json<T: DeserializeOwned>(lab: &Lab, server: usize, args: &[&str]) -> T {
    let text = ok(lab, server, args);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

pub fn session_status(lab: &Lab, server: usize) -> SessionStatus {
    json(lab, server, &["session", "status", "--json"])
}

pub fn members(lab: &Lab, server: usize) -> Vec<Member> {
    json(lab, server, &["members", "--json"])
}
