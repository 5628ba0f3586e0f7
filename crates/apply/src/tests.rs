//! The executor against a world held in memory: each step changes the
//! observed state the way LXD would, and the real planner plans from it.

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use muster_disks::Disk;
use muster_plan::{
    CephChoices, CephConfigObserved, Choices, DiskRef, Driver, InstanceNetwork, LxdObserved,
    MemberChoice, MemberObserved, NetworkObserved, Observed, PoolObserved, Status, Step, StepKind,
};
use tokio::sync::mpsc;

use crate::*;

type Effect = Box<dyn Fn(&mut Observed) + Send>;

#[derive(Default)]
struct Memory {
    observed: Mutex<Observed>,
    /// The calls made, in order ("observe", "token s2", "join s2", ...).
    calls: Mutex<Vec<String>>,
    /// Tokens issued and not used yet.
    pending: Mutex<Vec<String>>,
    /// The step (by description) that fails, once.
    fail: Mutex<Option<String>>,
    /// Changes made alongside a step (by description), as another part of
    /// the world would.
    also: Mutex<Vec<(String, Effect)>>,
    joining: AtomicUsize,
    most_joining: AtomicUsize,
    /// The members with a Ceph step under way.
    in_ceph: Mutex<Vec<String>>,
    most_in_ceph: AtomicUsize,
    /// A member was seen running two Ceph steps at once.
    member_overlapped: std::sync::atomic::AtomicBool,
    observations: AtomicUsize,
    /// From the observation with this number (the first is 1), this many
    /// observations in a row cannot read s2.
    unreadable: Mutex<Option<(usize, usize)>>,
}

fn ip(i: usize) -> IpAddr {
    IpAddr::from([10, 0, 0, i as u8])
}

/// `n` fresh servers s1..sN with a `dir` local pool and the default bridge.
fn fresh(n: usize) -> (Memory, Choices) {
    let memory = Memory::default();
    let mut members = Vec::new();
    {
        let mut observed = memory.observed.lock().unwrap();
        for i in 1..=n {
            let name = format!("s{i}");
            members.push(MemberChoice::new(&name, ip(i)));
            let lxd = LxdObserved {
                server_name: "none".into(),
                storage_drivers: vec!["dir".into()],
                ..LxdObserved::default()
            };
            observed.members.insert(
                name,
                MemberObserved {
                    lxd,
                    ..MemberObserved::default()
                },
            );
        }
    }
    let choices = Choices {
        initiator: "s1".into(),
        members,
        local_driver: Driver::Dir,
        network: InstanceNetwork::default(),
        ceph: None,
    };
    (memory, choices)
}

/// `n` fresh servers with Ceph chosen: `disks[i]` Ceph disks on s(i+1),
/// named apart across members (sdb, sdc, ...) so that each OSD step's
/// description is its own.
fn fresh_with_ceph(disks: &[usize]) -> (Memory, Choices) {
    let (memory, mut choices) = fresh(disks.len());
    choices.ceph = Some(CephChoices {
        cephfs: false,
        public_network: None,
        cluster_network: None,
    });
    let mut observed = memory.observed.lock().unwrap();
    let mut letters = b'b'..;
    for (m, &count) in choices.members.iter_mut().zip(disks) {
        let member = observed.members.get_mut(&m.name).unwrap();
        member.lxd.storage_drivers.push("ceph".into());
        for _ in 0..count {
            let name = format!("sd{}", letters.next().unwrap() as char);
            m.ceph_disks.push(DiskRef::new(format!("/dev/{name}")));
            member.disks.push(Disk::blank(&name, 100 << 30));
        }
    }
    drop(observed);
    (memory, choices)
}

fn lxd<'o>(observed: &'o mut Observed, name: &str) -> &'o mut LxdObserved {
    &mut observed.members.get_mut(name).unwrap().lxd
}

impl Memory {
    fn call(&self, what: String) {
        self.calls.lock().unwrap().push(what);
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    fn fail_once(&self, step: &Step) -> Result<(), Cause> {
        let mut fail = self.fail.lock().unwrap();
        if fail.as_deref() == Some(step.description.as_str()) {
            *fail = None;
            return Err("the disk is on fire".into());
        }
        Ok(())
    }

    /// The step's effect, as LXD would make it.
    fn change(&self, step: &Step) -> Result<(), Cause> {
        self.fail_once(step)?;
        let mut observed = self.observed.lock().unwrap();
        let me = step.member.clone();
        match &step.kind {
            StepKind::SetHttpsAddress { address } => {
                lxd(&mut observed, &me).https_address = Some(address.clone())
            }
            StepKind::BootstrapCluster => {
                let l = lxd(&mut observed, &me);
                l.clustered = true;
                l.server_name = me.clone();
                l.cluster_fingerprint = Some("cafe".into());
                l.cluster_members = vec![me.clone()];
            }
            StepKind::JoinCluster { joiner, .. } => {
                let mut members = lxd(&mut observed, "s1").cluster_members.clone();
                members.push(joiner.clone());
                for name in &members {
                    lxd(&mut observed, name).cluster_members = members.clone();
                }
                let l = lxd(&mut observed, joiner);
                l.clustered = true;
                l.server_name = joiner.clone();
                l.cluster_fingerprint = Some("cafe".into());
            }
            StepKind::CreatePoolPending { pool, driver, .. } => {
                let pool_observed = PoolObserved {
                    driver: driver.as_str().into(),
                    status: Status::Pending,
                };
                lxd(&mut observed, &me)
                    .pools
                    .insert(pool.clone(), pool_observed);
            }
            StepKind::CreatePool { pool, .. } => {
                for m in observed.members.values_mut() {
                    if let Some(p) = m.lxd.pools.get_mut(pool) {
                        p.status = Status::Created;
                    }
                }
            }
            StepKind::CreateNetworkPending { network } => {
                let net = NetworkObserved {
                    kind: "bridge".into(),
                    status: Status::Pending,
                };
                lxd(&mut observed, &me)
                    .networks
                    .insert(network.clone(), net);
            }
            StepKind::CreateNetwork { network, .. } => {
                for m in observed.members.values_mut() {
                    if let Some(n) = m.lxd.networks.get_mut(network) {
                        n.status = Status::Created;
                    }
                }
            }
            StepKind::UpdateDefaultProfile { root_pool, network } => {
                let device = |pairs: &[(&str, &str)]| {
                    pairs
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect()
                };
                let profile = &mut lxd(&mut observed, &me).default_profile;
                profile.insert(
                    "root".into(),
                    device(&[("type", "disk"), ("path", "/"), ("pool", root_pool)]),
                );
                profile.insert(
                    "eth0".into(),
                    device(&[("type", "nic"), ("name", "eth0"), ("network", network)]),
                );
            }
            StepKind::CephBootstrapMon { .. } => {
                observed.ceph.fsid = Some("f00d".into());
                observed.ceph.mons.insert(me);
            }
            StepKind::CephAddMon { .. } => {
                observed.ceph.mons.insert(me);
            }
            StepKind::CephConfigure { mon_hosts } => {
                let config = CephConfigObserved {
                    fsid: "f00d".into(),
                    mon_hosts: mon_hosts.clone(),
                    admin_keyring: true,
                };
                observed.ceph.configs.insert(me, config);
            }
            StepKind::CephAddMgr => {
                observed.ceph.mgrs.insert(me);
            }
            StepKind::CephCreateOsd { disk } => {
                let osds = observed.ceph.osds.entry(me).or_default();
                osds.insert(disk.path.clone());
            }
            StepKind::CephCreatePool { pool, .. } => {
                observed.ceph.pools.insert(pool.clone());
            }
            other => return Err(format!("not in this world: {other:?}").into()),
        }
        for (description, effect) in self.also.lock().unwrap().iter() {
            if *description == step.description {
                effect(&mut observed);
            }
        }
        Ok(())
    }
}

impl World for Memory {
    type Token = String;

    async fn observe(&self) -> Result<Observed, ObserveError> {
        self.call("observe".into());
        let n = self.observations.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some((from, count)) = *self.unreadable.lock().unwrap() {
            if (from..from + count).contains(&n) {
                return Err(ObserveError {
                    member: "s2".into(),
                    cause: "context deadline exceeded".into(),
                });
            }
        }
        Ok(self.observed.lock().unwrap().clone())
    }

    async fn lxd(&self, step: &Step) -> Result<(), Cause> {
        self.call(format!("lxd {}", step.description));
        self.change(step)
    }

    async fn issue_token(&self, joiner: &str) -> Result<Issued<String>, Cause> {
        self.call(format!("token {joiner}"));
        let token = format!("token for {joiner}");
        let mut pending = self.pending.lock().unwrap();
        let earlier = pending.contains(&token);
        if !earlier {
            pending.push(token.clone());
        }
        Ok(Issued { token, earlier })
    }

    async fn join(&self, step: &Step, token: &String) -> Result<(), Cause> {
        self.call(format!("join {}", step.member));
        let now = self.joining.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_joining.fetch_max(now, Ordering::SeqCst);
        // Let anything else that could run, run.
        tokio::task::yield_now().await;
        let result = self.change(step);
        self.joining.fetch_sub(1, Ordering::SeqCst);
        result?;
        self.pending.lock().unwrap().retain(|t| t != token);
        Ok(())
    }

    async fn ceph(&self, step: &Step) -> Result<(), Cause> {
        self.call(format!("ceph {} {}", step.member, step.description));
        {
            let mut in_ceph = self.in_ceph.lock().unwrap();
            if in_ceph.contains(&step.member) {
                self.member_overlapped.store(true, Ordering::SeqCst);
            }
            in_ceph.push(step.member.clone());
            self.most_in_ceph.fetch_max(in_ceph.len(), Ordering::SeqCst);
        }
        // Let the other members' steps start meanwhile, if they may.
        for _ in 0..3 {
            tokio::task::yield_now().await;
        }
        let result = self.change(step);
        let mut in_ceph = self.in_ceph.lock().unwrap();
        let mine = in_ceph.iter().position(|m| *m == step.member).unwrap();
        in_ceph.remove(mine);
        result
    }

    async fn wipe(&self, member: &str, disk: &DiskRef) -> Result<(), Cause> {
        Err(format!("no disks in this world: {member} {disk}").into())
    }
}

/// Runs the executor; its result and every event it sent.
async fn run(memory: &Memory, choices: &Choices) -> (Result<Outcome, ApplyError>, Vec<Event>) {
    let (tx, mut rx) = mpsc::channel(1024);
    let planner = |observed: &Observed| {
        muster_plan::plan(choices, observed)
            .map(|plan| Planned {
                plan,
                warnings: Vec::new(),
            })
            .map_err(|e| Refusal {
                reason: "the cluster cannot be formed".into(),
                detail: e.to_string(),
            })
    };
    let result = apply(memory, planner, false, &tx).await;
    drop(tx);
    let mut events = Vec::new();
    while let Some(event) = rx.recv().await {
        events.push(event);
    }
    (result, events)
}

fn announced(events: &[Event]) -> usize {
    events
        .iter()
        .find_map(|e| match e {
            Event::Planned { plan, .. } => Some(plan.steps.len()),
            _ => None,
        })
        .expect("a plan is announced first")
}

/// Ticked and skipped indexes, in the order reported.
fn counted(events: &[Event]) -> (Vec<usize>, Vec<usize>) {
    let mut ticked = Vec::new();
    let mut skipped = Vec::new();
    for e in events {
        match e {
            Event::Ticked { index } => ticked.push(*index),
            Event::Skipped { index, .. } => skipped.push(*index),
            _ => {}
        }
    }
    (ticked, skipped)
}

#[tokio::test]
async fn every_announced_step_is_ticked_and_joins_are_their_own_steps() {
    let (memory, choices) = fresh(3);
    let (result, events) = run(&memory, &choices).await;
    let steps = announced(&events);
    assert_eq!(
        result.unwrap(),
        Outcome::Formed {
            members: vec!["s1".into(), "s2".into(), "s3".into()],
            steps,
            ticked: steps,
            skipped: 0,
        }
    );
    let (ticked, skipped) = counted(&events);
    assert_eq!(ticked, (1..=steps).collect::<Vec<_>>());
    assert!(skipped.is_empty());
    let joins: Vec<&Step> = events
        .iter()
        .filter_map(|e| match e {
            Event::Started { step, .. } => Some(step),
            _ => None,
        })
        .filter(|s| matches!(s.kind, StepKind::JoinCluster { .. }))
        .collect();
    assert_eq!(joins.len(), 2, "{events:#?}");
}

#[tokio::test]
async fn a_failing_step_stops_the_run_and_names_it() {
    let (memory, choices) = fresh(3);
    let pool = "Create storage pool local (dir) on every member";
    *memory.fail.lock().unwrap() = Some(pool.into());
    let (result, events) = run(&memory, &choices).await;
    let err = result.unwrap_err();
    let ApplyError::Step {
        index,
        member,
        step,
        cause,
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!((member.as_str(), step.as_str()), ("s1", pool));
    assert_eq!(cause.to_string(), "the disk is on fire");
    assert_eq!(err.step(), Some(("s1", pool)));
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("s1: {pool} failed: the disk is on fire\n")),
        "{message}"
    );
    assert!(
        message.contains("run the same `muster init` again"),
        "{message}"
    );
    // Nothing ran after it; everything before it was ticked.
    let (ticked, _) = counted(&events);
    assert_eq!(ticked, (1..*index).collect::<Vec<_>>());
    assert!(matches!(
        events.last(),
        Some(Event::Started { index: i, .. }) if i == index
    ));
    assert_eq!(memory.calls().last().unwrap(), &format!("lxd {pool}"));
}

/// The Info events of a run.
fn infos(events: &[Event]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Info(message) => Some(message.as_str()),
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_read_that_fails_midway_is_tried_again_and_the_run_completes() {
    let (memory, choices) = fresh(3);
    *memory.unreadable.lock().unwrap() = Some((3, 2));
    let (result, events) = run(&memory, &choices).await;
    let steps = announced(&events);
    assert!(
        matches!(result, Ok(Outcome::Formed { ticked, .. }) if ticked == steps),
        "{result:?}"
    );
    let tried = infos(&events);
    assert_eq!(
        tried,
        [
            "s2: cannot read its state (context deadline exceeded); trying again in 5 s (1 of 6)",
            "s2: cannot read its state (context deadline exceeded); trying again in 5 s (2 of 6)",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_read_that_keeps_failing_midway_stops_the_run_naming_the_member() {
    let (memory, choices) = fresh(3);
    *memory.unreadable.lock().unwrap() = Some((3, usize::MAX / 2));
    let (result, events) = run(&memory, &choices).await;
    let err = result.unwrap_err();
    assert!(
        matches!(&err, ApplyError::Observe { member, changed: true, .. } if member == "s2"),
        "{err:?}"
    );
    assert_eq!(err.member(), Some("s2"));
    assert_eq!(err.step(), None);
    assert!(
        err.to_string().contains("resumes where this run stopped"),
        "{err}"
    );
    // Bounded: the first try and six more.
    assert_eq!(infos(&events).len(), 6, "{events:#?}");
    assert_eq!(memory.observations.load(Ordering::SeqCst), 2 + 7);
}

#[tokio::test(start_paused = true)]
async fn a_read_that_fails_before_any_change_is_not_tried_again() {
    let (memory, choices) = fresh(3);
    *memory.unreadable.lock().unwrap() = Some((1, 1));
    let (result, events) = run(&memory, &choices).await;
    let err = result.unwrap_err();
    assert!(
        matches!(&err, ApplyError::Observe { changed: false, .. }),
        "{err:?}"
    );
    assert!(err.to_string().ends_with("Nothing was changed."), "{err}");
    assert!(infos(&events).is_empty(), "{events:#?}");
    assert_eq!(memory.calls(), ["observe"]);
}

#[tokio::test]
async fn a_rerun_after_a_failure_plans_only_what_is_left() {
    let (memory, choices) = fresh(3);
    let join_s3 = "Join the LXD cluster at 10.0.0.1:8443 as s3 (10.0.0.3:8443)";
    *memory.fail.lock().unwrap() = Some(join_s3.into());
    let (first, first_events) = run(&memory, &choices).await;
    let err = first.unwrap_err();
    assert_eq!(err.step(), Some(("s3", join_s3)));
    let all = announced(&first_events);
    let (done_before, _) = counted(&first_events);

    memory.calls.lock().unwrap().clear();
    let (second, events) = run(&memory, &choices).await;
    let left = announced(&events);
    // What is left, and the token again: a token is not seen by observing.
    assert_eq!(left, all - done_before.len() + 1);
    assert!(matches!(
        &events[1],
        Event::Started { step, .. } if step.description == "Issue a join token for s3"
    ));
    let Outcome::Formed { ticked, .. } = second.unwrap() else {
        panic!("not formed");
    };
    assert_eq!(ticked, left);
    // The token the failed run issued is used again, and nothing done
    // before runs again.
    assert!(events.contains(&Event::Info(
        "s3: using the join token issued earlier".into()
    )));
    let calls = memory.calls();
    assert!(
        !calls.iter().any(|c| c == "token s2" || c == "join s2"),
        "{calls:?}"
    );
    assert!(!calls.iter().any(|c| c.contains("Bootstrap")), "{calls:?}");

    let (third, events) = run(&memory, &choices).await;
    assert_eq!(announced(&events), 0);
    assert!(matches!(third.unwrap(), Outcome::Formed { ticked: 0, .. }));
}

#[tokio::test]
async fn a_step_found_done_when_its_turn_comes_is_skipped_and_counted() {
    let (memory, choices) = fresh(2);
    // Something else defines the network on s2 while the pool is created.
    memory.also.lock().unwrap().push((
        "Create storage pool local (dir) on every member".into(),
        Box::new(|o: &mut Observed| {
            let network = NetworkObserved {
                kind: "bridge".into(),
                status: Status::Pending,
            };
            let s2 = &mut o.members.get_mut("s2").unwrap().lxd;
            s2.networks.insert("lxdbr0".into(), network);
        }),
    ));
    let (result, events) = run(&memory, &choices).await;
    let steps = announced(&events);
    let Outcome::Formed {
        steps: counted_steps,
        ticked,
        skipped,
        ..
    } = result.unwrap()
    else {
        panic!("not formed");
    };
    assert_eq!(
        (counted_steps, ticked + skipped, skipped),
        (steps, steps, 1)
    );
    let (mut ticks, skips) = counted(&events);
    assert_eq!(skips.len(), 1);
    ticks.extend(skips);
    ticks.sort();
    assert_eq!(ticks, (1..=steps).collect::<Vec<_>>());
    let skipped_step = events.iter().find_map(|e| match e {
        Event::Skipped { step, .. } => Some(step),
        _ => None,
    });
    assert_eq!(skipped_step.unwrap().member, "s2");
}

/// The calls from the first definition on `object` to the last.
fn definitions<'c>(calls: &'c [String], object: &str) -> &'c [String] {
    let is_def = |c: &String| c.starts_with(&format!("lxd Define {object}"));
    let first = calls.iter().position(is_def).expect("a definition");
    let last = calls.iter().rposition(is_def).expect("a definition");
    &calls[first..=last]
}

#[tokio::test]
async fn an_objects_definitions_on_every_member_follow_one_another_unobserved() {
    let (memory, choices) = fresh(3);
    let (result, _) = run(&memory, &choices).await;
    result.unwrap();
    let calls = memory.calls();
    for object in ["storage pool local", "bridge network lxdbr0"] {
        let run = definitions(&calls, object);
        assert_eq!(run.len(), 3, "{object}: {calls:#?}");
        assert!(!run.iter().any(|c| c == "observe"), "{calls:#?}");
    }
    // The create that follows each run is planned from a fresh look.
    let create = calls
        .iter()
        .position(|c| c.starts_with("lxd Create storage pool local"))
        .unwrap();
    assert_eq!(calls[create - 1], "observe", "{calls:#?}");
}

#[tokio::test]
async fn a_failed_definition_stops_the_run_before_the_next_members_and_a_rerun_finishes() {
    let (memory, choices) = fresh(3);
    *memory.fail.lock().unwrap() = Some("Define storage pool local (dir) on s2".into());
    let (result, _) = run(&memory, &choices).await;
    let err = result.unwrap_err();
    assert!(
        matches!(&err, ApplyError::Step { member, .. } if member == "s2"),
        "{err:?}"
    );
    assert!(
        !memory
            .calls()
            .iter()
            .any(|c| c == "lxd Define storage pool local (dir) on s3"),
        "s3's definition went on after s2's failed: {:#?}",
        memory.calls()
    );
    let (result, _) = run(&memory, &choices).await;
    result.unwrap();
    let calls = memory.calls();
    for member in ["s1", "s3"] {
        let made = format!("lxd Define storage pool local (dir) on {member}");
        assert_eq!(
            calls.iter().filter(|c| **c == made).count(),
            1,
            "{member}'s definition is made once: {calls:#?}"
        );
    }
}

#[tokio::test]
async fn joins_are_one_at_a_time_each_right_after_its_token() {
    let (memory, choices) = fresh(4);
    let (result, _) = run(&memory, &choices).await;
    result.unwrap();
    assert_eq!(memory.most_joining.load(Ordering::SeqCst), 1);
    let calls: Vec<String> = memory
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("token") || c.starts_with("join") || c == "observe")
        .collect();
    let joins: Vec<&String> = calls.iter().filter(|c| !c.starts_with("observe")).collect();
    assert_eq!(
        joins,
        ["token s2", "join s2", "token s3", "join s3", "token s4", "join s4"]
    );
    // The token is not seen by observing: its join follows at once.
    for (i, call) in calls.iter().enumerate() {
        if let Some(joiner) = call.strip_prefix("token ") {
            assert_eq!(calls[i + 1], format!("join {joiner}"), "{calls:?}");
        }
    }
}

#[tokio::test]
async fn a_step_that_changes_nothing_is_reported() {
    let (memory, choices) = fresh(1);
    // The address does not stick.
    memory.also.lock().unwrap().push((
        "Set LXD's core.https_address to 10.0.0.1:8443".into(),
        Box::new(|o: &mut Observed| o.members.get_mut("s1").unwrap().lxd.https_address = None),
    ));
    let (result, _) = run(&memory, &choices).await;
    let err = result.unwrap_err();
    assert!(
        matches!(err, ApplyError::NoEffect { index: 1, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("did not take effect"), "{err}");
}

#[tokio::test]
async fn a_dry_run_only_announces_the_plan() {
    let (memory, choices) = fresh(2);
    let (tx, mut rx) = mpsc::channel(16);
    let planner = |observed: &Observed| {
        Ok(Planned {
            plan: muster_plan::plan(&choices, observed).unwrap(),
            warnings: vec!["careful".into()],
        })
    };
    assert_eq!(
        apply(&memory, planner, true, &tx).await.unwrap(),
        Outcome::DryRun
    );
    assert!(
        matches!(rx.recv().await, Some(Event::Planned { warnings, .. }) if warnings == ["careful"])
    );
    assert_eq!(memory.calls(), ["observe"]);
}

/// The Ceph steps started, by member, in the order they started.
fn ceph_started(events: &[Event]) -> Vec<(String, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Started { step, .. } if step.description.contains("Ceph") => {
                Some((step.member.clone(), step.description.clone()))
            }
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn osds_of_different_members_are_made_side_by_side_each_members_in_order() {
    let (memory, choices) = fresh_with_ceph(&[1, 2, 1]);
    let (result, events) = run(&memory, &choices).await;
    let steps = announced(&events);
    assert!(
        matches!(result.unwrap(), Outcome::Formed { ticked, .. } if ticked == steps),
        "{events:#?}"
    );
    assert_eq!(memory.most_in_ceph.load(Ordering::SeqCst), 3);
    assert!(!memory.member_overlapped.load(Ordering::SeqCst));
    // Every member's steps in the plan's order: client, manager, OSDs.
    let plan_order: Vec<(String, String)> = events
        .iter()
        .find_map(|e| match e {
            Event::Planned { plan, .. } => Some(plan.steps.clone()),
            _ => None,
        })
        .unwrap()
        .into_iter()
        .map(|s| (s.member, s.description))
        .filter(|(_, d)| d.contains("Ceph"))
        .collect();
    let started = ceph_started(&events);
    for member in ["s1", "s2", "s3"] {
        let of = |steps: &[(String, String)]| -> Vec<String> {
            steps
                .iter()
                .filter(|(m, _)| m == member)
                .map(|(_, d)| d.clone())
                .collect()
        };
        assert_eq!(of(&started), of(&plan_order), "{member}");
    }
    // The monitors one at a time, before anything else of Ceph; the pool
    // after every OSD.
    let position = |what: &str| started.iter().rposition(|(_, d)| d.contains(what));
    let last_mon = position("monitor on").unwrap();
    let first_other = started
        .iter()
        .position(|(_, d)| !d.contains("monitor on"))
        .unwrap();
    assert!(last_mon < first_other, "{started:#?}");
    assert!(position("OSD").unwrap() < position("Ceph pool").unwrap());
    let mons = memory
        .calls()
        .into_iter()
        .filter(|c| c.contains("monitor on"))
        .count();
    assert_eq!(mons, 3);
}

#[tokio::test]
async fn a_failure_beside_other_steps_stops_the_run_names_it_and_a_rerun_finishes() {
    let (memory, choices) = fresh_with_ceph(&[1, 2, 1]);
    // s2's first OSD fails: its second is not started, and nothing after
    // the OSDs is.
    let failing = "Create a Ceph OSD on /dev/sdc";
    *memory.fail.lock().unwrap() = Some(failing.into());
    let (first, events) = run(&memory, &choices).await;
    let err = first.unwrap_err();
    assert_eq!(err.step(), Some(("s2", failing)), "{err}");
    let started = ceph_started(&events);
    assert!(
        !started.iter().any(|(_, d)| d.contains("/dev/sdd")),
        "{started:#?}"
    );
    assert!(!started.iter().any(|(_, d)| d.contains("Ceph pool")));
    // What was under way beside it was finished and counted.
    let (ticked, _) = counted(&events);
    let started_count = events
        .iter()
        .filter(|e| matches!(e, Event::Started { .. }))
        .count();
    assert_eq!(ticked.len(), started_count - 1);

    let (second, events) = run(&memory, &choices).await;
    let left = announced(&events);
    assert!(matches!(second.unwrap(), Outcome::Formed { ticked, .. } if ticked == left));
    let osds = &memory.observed.lock().unwrap().ceph.osds;
    let made: usize = osds.values().map(|d| d.len()).sum();
    assert_eq!(made, 4, "{osds:?}");
}
