use std::net::IpAddr;

use muster_preseed::{CephDisks, LocalDisk};
use muster_proto::trust::{FailedAttempt, PeerSummary};
use muster_tui::{ChosenDisk, MemberSelection};

use std::path::PathBuf;

use muster_proto::formation::InitEvent;
use muster_proto::trust::SessionPhase;
use muster_tui::{InstanceNetwork, PlanLine, Selection};

use super::events::{plan_lines, progress};
use super::*;

fn disk(path: &str, wipe: bool) -> ChosenDisk {
    ChosenDisk {
        name: path.trim_start_matches("/dev/").into(),
        path: path.into(),
        by_id: None,
        size_bytes: 4 << 30,
        wipe,
    }
}

fn member(
    name: &str,
    octet: u8,
    local: Option<ChosenDisk>,
    ceph: Vec<ChosenDisk>,
) -> MemberSelection {
    MemberSelection {
        name: name.into(),
        initiator: name == "s1",
        cluster_address: IpAddr::from([10, 0, 0, octet]),
        cluster_prefix: 24,
        local_storage: local,
        ceph_disks: ceph,
    }
}

fn selection(members: Vec<MemberSelection>) -> Selection {
    Selection {
        members,
        instance_network: InstanceNetwork::Bridge,
    }
}

#[test]
fn choices_become_a_preseed_that_parses() {
    let sel = selection(vec![
        member(
            "s1",
            1,
            Some(disk("/dev/loop3", true)),
            vec![disk("/dev/loop4", false)],
        ),
        member(
            "s2",
            2,
            None,
            vec![disk("/dev/sdc", true), disk("/dev/sdd", false)],
        ),
        member("s3", 3, Some(disk("/dev/nvme0n1", false)), vec![]),
    ]);
    let text = preseed_yaml(&sel);
    let p = muster_preseed::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(p.initiator.as_deref(), Some("s1"));
    let names: Vec<_> = p.members.iter().map(|m| m.name.clone().unwrap()).collect();
    assert_eq!(names, ["s1", "s2", "s3"]);
    let s1 = &p.members[0];
    assert_eq!(s1.disks.local, Some(LocalDisk::Path("/dev/loop3".into())));
    assert_eq!(
        s1.disks.ceph,
        Some(CephDisks::Paths(vec!["/dev/loop4".into()]))
    );
    assert_eq!(s1.disks.wipe, ["/dev/loop3"]);
    assert_eq!(
        s1.network.cluster_address,
        Some(IpAddr::from([10, 0, 0, 1]))
    );
    // Another member gives a disk for `local`: this one's part stays on
    // its OS disk rather than making the pool `dir`.
    let s2 = &p.members[1];
    assert_eq!(s2.disks.local, None);
    assert_eq!(s2.disks.wipe, ["/dev/sdc"]);
    assert_eq!(p.members[2].disks.ceph, None);
    assert!(p.members[2].disks.wipe.is_empty());
    // Every member is trusted before the plan: no session, no passphrase.
    let session = p.session();
    assert_eq!(session.passphrase, None);
    assert!(!session.enrollment);
    assert_eq!(p.network.instances.name, "lxdbr0");
}

#[test]
fn no_disk_anywhere_is_a_dir_pool() {
    let sel = selection(vec![
        member("s1", 1, None, vec![]),
        member("s2", 2, None, vec![]),
    ]);
    let text = preseed_yaml(&sel);
    let p = muster_preseed::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert!(p
        .members
        .iter()
        .all(|m| m.disks.local == Some(LocalDisk::Dir)));
}

#[test]
fn odd_names_are_quoted() {
    let mut odd = member(
        "s1",
        1,
        Some(disk("/dev/disk/by-id/a: b #c", false)),
        vec![],
    );
    odd.name = "yes".into();
    let text = preseed_yaml(&selection(vec![odd]));
    let p = muster_preseed::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(p.members[0].name.as_deref(), Some("yes"));
    assert_eq!(
        p.members[0].disks.local,
        Some(LocalDisk::Path("/dev/disk/by-id/a: b #c".into()))
    );
}

const PLAN: &str = "Plan: 4 steps on 2 members (initiator s1)

s1 (10.0.0.1, initiator)
  1. Bootstrap the LXD cluster with s1
  3. Create the storage pool local

s2 (10.0.0.2)
  2. Join s2 to the LXD cluster
  4. Create the network lxdbr0. Then more

s3 (10.0.0.3)
     nothing to do

warning: only 1 member gives Ceph disks
";

fn line(member: &str, step: &str) -> PlanLine {
    PlanLine::new(member, step)
}

#[test]
fn the_plan_text_becomes_lines_in_the_order_they_run() {
    assert_eq!(
        plan_lines(PLAN),
        [
            line("s1", "Bootstrap the LXD cluster with s1"),
            line("s2", "Join s2 to the LXD cluster"),
            line("s1", "Create the storage pool local"),
            line("s2", "Create the network lxdbr0. Then more"),
        ]
    );
    assert!(plan_lines("Nothing to do: the cluster is formed as chosen.\n").is_empty());
}

#[test]
fn the_plan_is_read_as_muster_plan_renders_it() {
    use muster_plan::{Plan, Step, StepKind};
    let step = |member: &str, description: &str| Step {
        member: member.into(),
        kind: StepKind::BootstrapCluster,
        description: description.into(),
    };
    let plan = Plan {
        initiator: "s1".into(),
        members: vec![
            ("s1".into(), IpAddr::from([10, 0, 0, 1])),
            ("s2".into(), IpAddr::from([10, 0, 0, 2])),
            ("s3".into(), IpAddr::from([10, 0, 0, 3])),
        ],
        builds: [("s2".to_owned(), "LXD 5.0.2".to_owned())].into(),
        steps: (1..=11)
            .map(|i| {
                step(
                    if i % 2 == 0 { "s2" } else { "s1" },
                    &format!("step {i}. of it"),
                )
            })
            .collect(),
        warnings: vec!["only 1 member gives Ceph disks".into()],
    };
    let want: Vec<PlanLine> = plan
        .steps
        .iter()
        .map(|s| PlanLine::new(&s.member, &s.description))
        .collect();
    assert_eq!(plan_lines(&plan.render()), want);
}

fn step(index: usize, member: &str, description: &str) -> InitEvent {
    InitEvent::Step {
        index,
        member: member.into(),
        description: description.into(),
    }
}

fn at(member: &str, step: &str, status: StepStatus) -> World {
    progress(member.into(), step.into(), status)
}

#[test]
fn a_dry_run_gives_the_plan_or_why_not() {
    let mut events = InitEvents::new("s1", true);
    let info = InitEvent::Info {
        message: "every member is trusted".into(),
    };
    assert!(events.on(info).is_empty());
    let builds: std::collections::BTreeMap<String, String> =
        [("s1".into(), "Incus 6.0.4".into())].into();
    let plan = InitEvent::Plan {
        text: PLAN.into(),
        steps: 4,
        builds: builds.clone(),
    };
    assert_eq!(
        events.on(plan),
        [World::Builds(builds), World::PlanReady(plan_lines(PLAN))]
    );
    let done = InitEvent::Done {
        message: "dry run: nothing was changed".into(),
    };
    assert!(events.on(done).is_empty());
    assert!(events.end(None).is_empty());

    let mut events = InitEvents::new("s1", true);
    let failed = InitEvent::Failed {
        message: "the preseed does not fit".into(),
        member: None,
        step: None,
    };
    assert_eq!(
        events.on(failed),
        [World::PlanFailed("the preseed does not fit".into())]
    );
    let mut events = InitEvents::new("s1", true);
    let broken = events.end(Some("the connection to musterd broke".into()));
    assert!(matches!(&broken[..], [World::PlanFailed(m)] if m.contains("broke")));
}

#[test]
fn an_apply_reports_each_step_and_the_end() {
    let mut events = InitEvents::new("s1", false);
    let plan = InitEvent::Plan {
        text: PLAN.into(),
        steps: 4,
        builds: Default::default(),
    };
    assert!(events.on(plan).is_empty());
    assert_eq!(
        events.on(step(1, "s1", "Bootstrap")),
        [at("s1", "Bootstrap", StepStatus::Running)]
    );
    assert_eq!(
        events.on(InitEvent::StepDone { index: 1 }),
        [at("s1", "Bootstrap", StepStatus::Done)]
    );
    assert!(events.on(InitEvent::StepDone { index: 7 }).is_empty());
    let done = InitEvent::Done {
        message: "the cluster is formed".into(),
    };
    assert_eq!(events.on(done), [World::ApplyFinished]);
    assert!(events.end(None).is_empty());
}

#[test]
fn a_step_found_done_is_shown_as_such() {
    let mut events = InitEvents::new("s1", false);
    let skipped = InitEvent::StepSkipped {
        index: 3,
        member: "s2".into(),
        description: "Define storage pool local (dir) on s2".into(),
    };
    assert_eq!(
        events.on(skipped),
        [at(
            "s2",
            "Define storage pool local (dir) on s2",
            StepStatus::Skipped
        )]
    );
}

#[test]
fn a_failure_lands_on_its_step() {
    let failed = |member: Option<&str>, step: Option<&str>| InitEvent::Failed {
        message: "LXD said no".into(),
        member: member.map(Into::into),
        step: step.map(Into::into),
    };
    let no = || StepStatus::Failed("LXD said no".into());

    let mut events = InitEvents::new("s1", false);
    events.on(step(1, "s2", "Join"));
    assert_eq!(
        events.on(failed(Some("s2"), Some("Join"))),
        [at("s2", "Join", no())]
    );
    // The end is reported once.
    assert!(events.on(failed(None, None)).is_empty());
    assert!(events.end(None).is_empty());

    // Not named: the step that was running.
    let mut events = InitEvents::new("s1", false);
    events.on(step(1, "s2", "Join"));
    assert_eq!(events.on(failed(None, None)), [at("s2", "Join", no())]);

    // Several running side by side, one of them done: the one still
    // running.
    let mut events = InitEvents::new("s1", false);
    events.on(step(7, "s2", "Create a Ceph OSD on /dev/sdb"));
    events.on(step(8, "s3", "Create a Ceph OSD on /dev/sdc"));
    events.on(InitEvent::StepDone { index: 8 });
    assert_eq!(
        events.on(failed(None, None)),
        [at("s2", "Create a Ceph OSD on /dev/sdb", no())]
    );

    // Nothing running: shown under init itself.
    let mut events = InitEvents::new("s1", false);
    assert_eq!(events.on(failed(None, None)), [at("s1", INIT_STEP, no())]);

    // The answer ends without an end.
    let mut events = InitEvents::new("s1", false);
    events.on(step(1, "s1", "Bootstrap"));
    events.on(InitEvent::StepDone { index: 1 });
    let end = events.end(None);
    assert!(
        matches!(&end[..], [World::Progress(p)] if p.member == "s1" && p.step == INIT_STEP),
        "{end:?}"
    );
}

fn summary(name: &str) -> PeerSummary {
    PeerSummary {
        name: name.into(),
        fingerprint: format!("{name}-fingerprint"),
        short_fingerprint: String::new(),
    }
}

fn status(phase: SessionPhase, joined: &[&str], failures: &[&str]) -> SessionStatus {
    SessionStatus {
        phase,
        initiator: summary("s1"),
        expires_in_secs: 0,
        joined: joined.iter().map(|n| summary(n)).collect(),
        failed_attempts: failures.len() as u32,
        max_failures: 20,
        // Most recent first, as the agent lists them.
        failures: failures
            .iter()
            .rev()
            .map(|a| FailedAttempt {
                address: (*a).into(),
                claimed_name: None,
                secs_ago: 0,
            })
            .collect(),
        replace: Vec::new(),
    }
}

fn trusted(name: &str) -> World {
    World::PeerTrusted {
        name: name.into(),
        fingerprint: format!("{name}-fingerprint"),
    }
}

fn attempt(address: &str) -> World {
    World::FailedAttempt {
        address: address.into(),
        claimed_name: None,
    }
}

#[test]
fn the_trust_watch_reports_joiners_members_and_wrong_guesses_once() {
    let chosen = vec!["s2".to_string(), "s3".to_string(), "s4".to_string()];
    let old = vec![Member {
        name: "s4".into(),
        fingerprint: "s4-fingerprint".into(),
        addresses: vec![],
        added_unix: 0,
        controller: false,
    }];
    let mut seen = TrustSeen::default();
    // An earlier session's wrong guesses are not news.
    let earlier = status(SessionPhase::Closed, &[], &["10.0.0.66"]);
    assert_eq!(seen.news(&earlier, &old, &chosen), [trusted("s4")]);
    let open = status(SessionPhase::Open, &["s2"], &["10.0.0.9"]);
    assert_eq!(
        seen.news(&open, &old, &chosen),
        [trusted("s2"), attempt("10.0.0.9")]
    );
    assert!(seen.news(&open, &old, &chosen).is_empty());
    let more = status(
        SessionPhase::Open,
        &["s2", "s3"],
        &["10.0.0.9", "10.0.0.7", "10.0.0.8"],
    );
    assert_eq!(
        seen.news(&more, &old, &chosen),
        [trusted("s3"), attempt("10.0.0.7"), attempt("10.0.0.8")]
    );
    // Everyone chosen is in: the session's end is no news.
    let expired = status(SessionPhase::Expired, &["s2", "s3"], &[]);
    assert!(seen.news(&expired, &old, &chosen).is_empty());
}

#[test]
fn the_trust_watch_says_when_the_session_ends_with_joiners_missing() {
    let chosen = vec!["s2".to_string()];
    let mut seen = TrustSeen::default();
    assert!(seen
        .news(&status(SessionPhase::Open, &[], &[]), &[], &chosen)
        .is_empty());
    let ended = status(SessionPhase::Ended, &[], &[]);
    let news = seen.news(&ended, &[], &chosen);
    assert!(
        matches!(&news[..], [World::SessionFailed(m)] if m.contains("too many wrong")),
        "{news:?}"
    );
    assert!(seen.news(&ended, &[], &chosen).is_empty());
    // Only a run of failed look-ups is news, once.
    assert!(seen.unreachable("down".into()).is_empty());
    assert!(seen.unreachable("down".into()).is_empty());
    assert_eq!(
        seen.unreachable("down".into()),
        [World::SessionFailed("down".into())]
    );
    assert!(seen.unreachable("down".into()).is_empty());
}

#[test]
fn the_preseed_is_saved_under_a_free_name() {
    let dir = tempfile::tempdir().unwrap();
    let first = save_preseed(dir.path(), "a").unwrap();
    let second = save_preseed(dir.path(), "b").unwrap();
    assert_eq!(first, dir.path().join("muster-preseed.yaml"));
    assert_eq!(second, dir.path().join("muster-preseed-2.yaml"));
    assert_eq!(std::fs::read_to_string(first).unwrap(), "a");
}

/// A fake agent answers `POST /v1/init` with `body`, cut into `pieces`
/// (a line may straddle two); what the wizard hears.
async fn heard(body: &str, pieces: &[usize]) -> Vec<World> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("musterd.sock");
    let listener = tokio::net::UnixListener::bind(&socket).unwrap();
    let mut chunks = Vec::new();
    let mut rest = body.as_bytes().to_vec();
    for &n in pieces {
        let tail = rest.split_off(n.min(rest.len()));
        chunks.push(std::mem::replace(&mut rest, tail));
    }
    chunks.push(rest);
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = vec![0; 8192];
        let _ = stream.read(&mut request).await.unwrap();
        let head =
            "HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\nconnection: close\r\n\r\n";
        stream.write_all(head.as_bytes()).await.unwrap();
        for chunk in chunks {
            stream.write_all(&chunk).await.unwrap();
            stream.flush().await.unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        stream.shutdown().await.unwrap();
    });
    crate::install_crypto_provider();
    let client = AgentClient::new(&socket).unwrap();
    let (tx, mut rx) = mpsc::channel(64);
    let mut events = InitEvents::new("s1", false);
    let request = InitRequest {
        preseed: "members: []\n".into(),
        passphrase: None,
        dry_run: false,
    };
    let ended = stream_init(&client, &request, &mut events, &tx).await;
    let last = events.end(ended.err().map(|e| format!("{e:#}")));
    server.await.unwrap();
    drop(tx);
    let mut out = Vec::new();
    while let Some(event) = rx.recv().await {
        out.push(event);
    }
    out.extend(last);
    out
}

#[tokio::test]
async fn the_agents_answer_is_read_a_line_at_a_time() {
    let body = concat!(
        r#"{"event":"info","message":"every member is trusted"}"#,
        "\n",
        r#"{"event":"plan","text":"Plan: 1 step","steps":1}"#,
        "\n",
        r#"{"event":"step","index":1,"member":"s1","description":"Bootstrap"}"#,
        "\n",
        r#"{"event":"step_done","index":1}"#,
        "\n",
        r#"{"event":"done","message":"the cluster is formed"}"#,
        "\n",
    );
    let want = [
        at("s1", "Bootstrap", StepStatus::Running),
        at("s1", "Bootstrap", StepStatus::Done),
        World::ApplyFinished,
    ];
    assert_eq!(heard(body, &[]).await, want);
    assert_eq!(heard(body, &[30, 100, 150]).await, want);

    // Cut off after the step started: a failure there.
    let cut = &body[..body.find("{\"event\":\"step_done").unwrap()];
    let end = heard(cut, &[]).await;
    assert!(
        matches!(&end[..], [_, World::Progress(p)]
            if p.step == "Bootstrap" && matches!(&p.status, StepStatus::Failed(m) if m.contains("stopped answering"))),
        "{end:?}"
    );
}

#[test]
fn init_without_a_preseed_is_the_wizard() {
    use clap::Parser;
    let preseed = |argv: &[&str]| match crate::Cli::try_parse_from(argv).unwrap().command {
        crate::Command::Init(args) => args.preseed,
        other => panic!("{other:?}"),
    };
    assert_eq!(preseed(&["muster", "init"]), PathBuf::new());
    assert_eq!(
        preseed(&["muster", "init", "--preseed", "p.yaml"]),
        PathBuf::from("p.yaml")
    );
}
