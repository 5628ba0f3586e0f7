//! Crash consistency of `muster init`: killed at the moment a step
//! starts, the same command run again finishes the job and nothing exists
//! twice. In one lab of three servers with LXD (no Ceph), reset between
//! runs (every server's LXD reinstalled; trust is kept):
//!
//! - for step k of the plan, SIGKILL, as step k starts, (a) the initiator's
//!   agent, (b) the agent of the member step k changes, or (c) that
//!   member's LXD; start it again; run the same `muster init` again; then
//!   check LXD's own view: the three members once each and online, the
//!   pool `local` and the network once, created, the default profile on
//!   them, no join token left pending;
//! - power loss at steps drawn at random: every agent and every LXD killed
//!   at once; every state file the agents wrote (identity, trust store,
//!   cluster record) holds a whole version; all started again, the rerun
//!   completes and the same check holds;
//! - link faults: a joiner's (s2's) lab link taken down as its LXD join is
//!   delivered, once its own LXD is joining, and as its pool is defined,
//!   then up again 20 s later: the run waits and completes, or fails naming
//!   s2; once LXD has healed, the same `muster init` completes, and the
//!   same check holds.
//!
//! `kill_matrix_sample` (in the test suite) runs a sample: the bootstrap,
//! a join, the cluster-wide network and the last step, each with (a), (b)
//! and (c), then the three link faults. The whole matrix, every step with each of (a), (b) and (c) and
//! power lost at five random steps (`MUSTER_POWER_LOSSES=N`; the seed is
//! printed, `MUSTER_POWER_SEED=N` replays it), is
//! `kill_matrix_every_step` (ignored; it prints the matrix and its time;
//! `MUSTER_KILL_STEPS=3,14` runs only those steps):
//!
//! `sudo cargo test -p muster-e2e --test kill_matrix -- --ignored --nocapture`

mod common;

use std::time::{Duration, Instant};

use common::trial::{judge_link_fault, member, Moment, Trial};
use muster_lab::{Lab, LabSpec, Signal};
use muster_proto::formation::InitEvent;

#[test]
fn kill_matrix_sample() {
    let (lab, steps) = lab_and_plan();
    let t = Trial::new(&lab);
    let pick = |prefix: &str| {
        steps
            .iter()
            .position(|(_, d)| d.starts_with(prefix))
            .unwrap_or_else(|| panic!("no step {prefix:?} in {steps:?}"))
            + 1
    };
    // The cluster-wide network create is where the full matrix once found
    // a rerun refused ("already created": LXD finished the killed run's
    // request after the rerun looked).
    let sample = [
        pick("Bootstrap the LXD cluster"),
        pick("Join the LXD cluster"),
        pick("Create bridge network"),
        steps.len(),
    ];
    // No power loss here: a loss during the bootstrap or the cluster-wide
    // network create leaves LXD in a state a rerun does not yet resume
    // (see the note), and where it lands varies; the whole matrix
    // draws its power losses at random.
    let points = every_point(&steps, &sample);
    let mut failures = run_matrix(&t, &steps, &points);
    // s2's link pulled as the initiator delivers its join, once s2's own
    // LXD is joining, and as its pool is defined (s1's LXD writes that for
    // s2, then the run goes on reading s2).
    for (prefix, once_logged) in [
        ("Join the LXD cluster", None),
        ("Join the LXD cluster", Some("joining the LXD cluster")),
        ("Define storage pool local", None),
    ] {
        let k = steps
            .iter()
            .position(|(m, d)| m == "s2" && d.starts_with(prefix))
            .unwrap_or_else(|| panic!("no step {prefix:?} of s2 in {steps:?}"))
            + 1;
        let when = once_logged.map_or(String::new(), |l| format!(" once s2 logs {l:?}"));
        let started = Instant::now();
        let outcome = link_down_at(&t, k, 2, once_logged);
        eprintln!(
            "step {k:>2} {}, s2's link down{when}: {} in {:.1?}",
            steps[k - 1].1,
            match &outcome {
                Ok(said) => said.clone(),
                Err(_) => "FAILED".to_owned(),
            },
            started.elapsed()
        );
        if let Err(why) = outcome {
            failures.push(format!(
                "step {k} ({}), s2's link down{when}: {why}",
                steps[k - 1].1
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    lab.down().expect("tear the lab down");
}

#[test]
#[ignore = "the whole kill matrix takes minutes; the sample runs in the suite"]
fn kill_matrix_every_step() {
    let (lab, steps) = lab_and_plan();
    let t = Trial::new(&lab);
    // MUSTER_KILL_STEPS=3,14 runs only those steps.
    let every: Vec<usize> = match std::env::var("MUSTER_KILL_STEPS") {
        Ok(list) => list
            .split(',')
            .filter_map(|k| k.trim().parse().ok())
            .collect(),
        Err(_) => (1..=steps.len()).collect(),
    };
    // MUSTER_POWER_LOSSES=N: power lost at N steps drawn at random.
    let losses = std::env::var("MUSTER_POWER_LOSSES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(5);
    let mut points = every_point(&steps, &every);
    points.extend(
        random_steps(power_loss_seed(), steps.len(), losses)
            .into_iter()
            .map(|k| (k, Victim::Everything)),
    );
    let started = Instant::now();
    let failures = run_matrix(&t, &steps, &points);
    eprintln!(
        "kill matrix: {} steps, {} of {} runs completed, in {:.0?}",
        steps.len(),
        points.len() - failures.len(),
        points.len(),
        started.elapsed()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    lab.down().expect("tear the lab down");
}

/// The lab, its agents enrolled, and the plan of a fresh formation as
/// (member, description) per step, from a dry run.
fn lab_and_plan() -> (Lab, Vec<(String, String)>) {
    if let Err(e) = muster_lab::require_root() {
        panic!("this test did not run: {e}");
    }
    assert!(
        common::on_path("lxd"),
        "this test did not run: LXD is not installed (tests/setup installs it)"
    );
    let lab = Lab::up(LabSpec {
        servers: 3,
        disks_per_server: 1,
        disk_size_bytes: 64 << 20,
        lxd: true,
        ..LabSpec::default()
    })
    .expect("bring the lab up");
    let steps = {
        let t = Trial::new(&lab);
        t.enroll_all();
        let out = t.init(1, &preseed(&t), &["--dry-run"]);
        assert!(out.status.success(), "{out:?}");
        plan_steps(&String::from_utf8_lossy(&out.stdout))
    };
    assert!(steps.len() > 5, "{steps:?}");
    (lab, steps)
}

fn preseed(t: &Trial) -> std::path::PathBuf {
    let members: String = (1..=3).map(member).collect();
    t.preseed("kill-matrix.yaml", 1, &members)
}

/// The steps of a rendered plan, in the order they run.
fn plan_steps(text: &str) -> Vec<(String, String)> {
    let mut steps = Vec::new();
    let mut member = String::new();
    for line in text.lines() {
        if !line.starts_with(' ') {
            if let Some((name, _)) = line.split_once(" (") {
                member = name.to_owned();
            }
            continue;
        }
        if let Some((n, description)) = line.trim().split_once(". ") {
            if let Ok(n) = n.parse::<usize>() {
                steps.push((n, (member.clone(), description.to_owned())));
            }
        }
    }
    steps.sort_by_key(|(n, _)| *n);
    steps.into_iter().map(|(_, s)| s).collect()
}

/// What is killed as step k starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Victim {
    /// (a) the initiator's agent, or (b) that of the member step k changes.
    Agent(usize),
    /// (c) the LXD of the member step k changes, killed outright as on a
    /// machine that died.
    Lxd(usize),
    /// Power lost on every server: every agent and every LXD at once.
    Everything,
}

impl std::fmt::Display for Victim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Victim::Agent(n) => write!(f, "s{n}'s agent"),
            Victim::Lxd(n) => write!(f, "s{n}'s LXD"),
            Victim::Everything => write!(f, "every agent and LXD (power loss)"),
        }
    }
}

/// Who is killed at step `k`, whose steps `member` carries out: the
/// initiator's agent, the member's agent (when it is another), the
/// member's LXD.
fn victims(member: &str) -> Vec<Victim> {
    let executing: usize = member[1..].parse().expect("a lab server name");
    let mut victims = vec![Victim::Agent(1)];
    if executing != 1 {
        victims.push(Victim::Agent(executing));
    }
    victims.push(Victim::Lxd(executing));
    victims
}

/// Runs each (step, victim) of `points`; prints a line per run; the
/// failures.
fn run_matrix(t: &Trial, steps: &[(String, String)], points: &[(usize, Victim)]) -> Vec<String> {
    let mut failures = Vec::new();
    for &(k, victim) in points {
        let description = &steps[k - 1].1;
        let started = Instant::now();
        let outcome = kill_at(t, k, victim);
        eprintln!(
            "step {k:>2} {description:<70} kill {victim}: {} in {:.1?}",
            match &outcome {
                Ok(()) => "completed".to_owned(),
                Err(_) => "FAILED".to_owned(),
            },
            started.elapsed()
        );
        if let Err(why) = outcome {
            failures.push(format!("step {k} ({description}), {victim} killed: {why}"));
        }
    }
    failures
}

/// Every step with each of its [`victims`].
fn every_point(steps: &[(String, String)], only: &[usize]) -> Vec<(usize, Victim)> {
    only.iter()
        .flat_map(|&k| victims(&steps[k - 1].0).into_iter().map(move |v| (k, v)))
        .collect()
}

/// `count` steps out of `steps`, drawn from `seed` (printed, so that a
/// failure can be replayed with MUSTER_POWER_SEED).
fn random_steps(seed: u64, steps: usize, count: usize) -> Vec<usize> {
    let mut state = seed | 1;
    (0..count)
        .map(|_| {
            // xorshift64: enough to spread the points, no dependency.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % steps as u64) as usize + 1
        })
        .collect()
}

fn power_loss_seed() -> u64 {
    let seed = std::env::var("MUSTER_POWER_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    eprintln!("power loss at steps drawn from MUSTER_POWER_SEED={seed}");
    seed
}

/// From a fresh cluster: kill `victim` as step `k` starts, start it
/// again, rerun, check. After a power loss, every state file muster wrote
/// is checked whole before the agents start again.
fn kill_at(t: &Trial, k: usize, victim: Victim) -> Result<(), String> {
    reset(t)?;
    let preseed = preseed(t);
    let run = t.init_acting(1, &preseed, step_k_starts(k), || kill(t, victim));
    match run.acted {
        None => return Err(format!("step {k} never started; {}", run.said)),
        Some(Err(e)) => return Err(format!("kill {victim}: {e}")),
        Some(Ok(())) => {}
    }
    if victim == Victim::Everything {
        state_files_whole(t)?;
    }
    restart(t, victim)?;
    if !matches!(victim, Victim::Agent(_)) {
        // A member's LXD started again takes a while to be back in touch
        // with the cluster's database (see `link_down_at`).
        t.healed(3)?;
    }
    let again = t.init(1, &preseed, &[]);
    if !again.status.success() {
        let lxd = t.lxd(1);
        let seen: Vec<String> = ["s1", "s2", "s3"]
            .iter()
            .map(|m| format!("{m}: {:?}", t.rt.block_on(lxd.network("lxdbr0", Some(m)))))
            .collect();
        return Err(format!(
            "the rerun failed:\n{}\n{}\nlxdbr0 as each member has it:\n{}\n{}",
            String::from_utf8_lossy(&again.stdout),
            String::from_utf8_lossy(&again.stderr),
            seen.join("\n"),
            t.logs()
        ));
    }
    complete_and_once(t)
}

/// Kills `victim`, everything at the same moment for a power loss.
fn kill(t: &Trial, victim: Victim) -> Result<(), String> {
    let agent = |n: usize| {
        t.lab
            .stop_agent(n, Signal::SIGKILL)
            .map(drop)
            .map_err(|e| format!("s{n}'s agent: {e}"))
    };
    let lxd = |n: usize| {
        t.lab
            .kill_lxd(n, false)
            .map_err(|e| format!("s{n}'s LXD: {e}"))
    };
    match victim {
        Victim::Agent(n) => agent(n),
        Victim::Lxd(n) => lxd(n),
        Victim::Everything => on_every_server(|n| agent(n).and(lxd(n))),
    }
}

/// Starts what was killed again: after a power loss every LXD first, at
/// once (a clustered LXD is ready only once it reaches the others), then
/// the agents.
fn restart(t: &Trial, victim: Victim) -> Result<(), String> {
    let agent = |n: usize| {
        t.lab
            .start_agent(n)
            .map_err(|e| format!("restart s{n}'s agent: {e}"))
    };
    let lxd = |n: usize| {
        t.lab
            .start_lxd(n)
            .map_err(|e| format!("restart s{n}'s LXD: {e}"))
    };
    match victim {
        Victim::Agent(n) => agent(n),
        Victim::Lxd(n) => lxd(n),
        Victim::Everything => on_every_server(lxd).and_then(|()| on_every_server(agent)),
    }
}

/// `act` on servers 1 to 3 at the same time; the first failure.
fn on_every_server(act: impl Fn(usize) -> Result<(), String> + Sync) -> Result<(), String> {
    std::thread::scope(|scope| {
        let act = &act;
        let running: Vec<_> = (1..=3).map(|n| scope.spawn(move || act(n))).collect();
        running
            .into_iter()
            .try_for_each(|r| r.join().expect("a server's thread"))
    })
}

/// Every state file the agents write holds a whole version after a power
/// loss: the identity loads, the trust store and the cluster record parse.
/// (Killed processes cannot tear what the kernel already holds: this shows
/// that no file is written in place, not what a disk loses unflushed.)
fn state_files_whole(t: &Trial) -> Result<(), String> {
    for n in 1..=3 {
        let dir = &t.lab.server(n).state_dir;
        muster_identity::Identity::load(dir).map_err(|e| format!("s{n}'s identity: {e}"))?;
        let read = |name: &str| match std::fs::read_to_string(dir.join(name)) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("s{n}'s {name}: {e}")),
        };
        if let Some(text) = read("trust.json")? {
            muster_trust_file::parse(&text).map_err(|e| format!("s{n}'s trust.json: {e}"))?;
        }
        if let Some(text) = read("cluster.json")? {
            serde_json::from_str::<serde_json::Value>(&text)
                .map_err(|e| format!("s{n}'s cluster.json: {e}: {text:?}"))?;
        }
    }
    Ok(())
}

/// The moment step `k` of the run starts.
fn step_k_starts(k: usize) -> Moment {
    Box::new(move |e: &InitEvent| matches!(e, InitEvent::Step { index, .. } if *index == k))
}

/// From a fresh cluster: take server `victim`'s lab link down as step `k`
/// starts (or, with `once_logged`, once the victim's agent then logs that
/// line: a moment inside the step), and up again `LINK_OUT` later while
/// the run goes on. The run either waits and completes, or fails naming
/// the victim; either way the same `muster init` run again completes, and
/// the check finds the cluster whole. What the first run did, in a line.
fn link_down_at(
    t: &Trial,
    k: usize,
    victim: usize,
    once_logged: Option<&str>,
) -> Result<String, String> {
    reset(t)?;
    let preseed = preseed(t);
    let log = &t.lab.server(victim).log;
    let logged = |line: &str| {
        std::fs::read_to_string(log)
            .unwrap_or_default()
            .matches(line)
            .count()
    };
    let before = once_logged.map_or(0, logged);
    let run = t.init_with_link_out(1, &preseed, step_k_starts(k), victim, || {
        if let Some(line) = once_logged {
            // The step's request reaches the agent within moments.
            let deadline = Instant::now() + Duration::from_secs(10);
            while logged(line) == before && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    })?;
    if once_logged.is_some_and(|line| logged(line) == before) {
        return Err(format!("s{victim} never logged {once_logged:?}"));
    }
    let first = judge_link_fault(&run, victim)?;
    // Rerun only once LXD has healed: a rerun at once after the link came
    // back was refused ("s2: cannot read its state: ... LXD refused GET
    // /1.0/cluster/members: context deadline exceeded"), s2's LXD not yet
    // back in touch with the cluster's database. A run tries a failed read
    // again only once it has changed something, so the rerun's first does
    // not wait.
    t.healed(3)?;
    let again = t.init(1, &preseed, &[]);
    if !again.status.success() {
        return Err(format!(
            "the rerun failed:\n{}\n{}\n{}",
            String::from_utf8_lossy(&again.stdout),
            String::from_utf8_lossy(&again.stderr),
            t.logs()
        ));
    }
    complete_and_once(t)?;
    Ok(first)
}

/// Every server's LXD fresh again; the agents keep their trust.
fn reset(t: &Trial) -> Result<(), String> {
    for n in 1..=3 {
        t.lab
            .reinstall_lxd(n)
            .map_err(|e| format!("reset s{n}'s LXD: {e}"))?;
    }
    Ok(())
}

/// LXD's own view after the rerun: the cluster is complete and nothing
/// exists twice.
fn complete_and_once(t: &Trial) -> Result<(), String> {
    let want = ["s1", "s2", "s3"];
    let lxd = t.lxd(1);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let members =
            t.rt.block_on(lxd.cluster_members())
                .map_err(|e| e.to_string())?;
        let mut names: Vec<&str> = members.iter().map(|m| m.server_name.as_str()).collect();
        names.sort();
        if names != want {
            return Err(format!("cluster members {names:?}"));
        }
        if members.iter().all(|m| m.is_online()) {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("not all online: {members:?}"));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let pools =
        t.rt.block_on(lxd.storage_pools())
            .map_err(|e| e.to_string())?;
    let local: Vec<_> = pools.iter().filter(|p| p.name == "local").collect();
    if local.len() != 1 || local[0].status != "Created" || pools.len() != 1 {
        return Err(format!("storage pools: {pools:?}"));
    }
    let networks = t.rt.block_on(lxd.networks()).map_err(|e| e.to_string())?;
    let managed: Vec<_> = networks.iter().filter(|n| n.managed).collect();
    if managed.len() != 1 || managed[0].name != "lxdbr0" || managed[0].status != "Created" {
        return Err(format!("managed networks: {managed:?}"));
    }
    let profile =
        t.rt.block_on(lxd.profile("default"))
            .map_err(|e| e.to_string())?;
    if profile.devices["root"]["pool"] != "local" || profile.devices["eth0"]["network"] != "lxdbr0"
    {
        return Err(format!("default profile: {:?}", profile.devices));
    }
    for joiner in ["s2", "s3"] {
        let pending =
            t.rt.block_on(lxd.pending_join_token(joiner))
                .map_err(|e| e.to_string())?;
        if pending.is_some() {
            return Err(format!("a join token for {joiner} is still pending"));
        }
    }
    Ok(())
}
