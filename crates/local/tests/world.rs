//! Behaviour of the simulated AWS around the engine: idempotency under duplicate and late
//! events, who may decide, stopping, persistence and concurrent deciders.

use std::path::Path;
use std::sync::Arc;

use approvalc_local::store::{NewRun, Store};
use approvalc_local::{Deployment, Faults, LocalError, RunConfig, RunReport, Verdict, World};
use serde_json::{Value, json};

const START: i64 = 1_704_067_200_000;
const TEAM_LEAD: &str = "arn:aws:iam::111111111111:role/TeamLead";
const QA: &str = "arn:aws:iam::222222222222:user/qa-oncall";
const OWNER: &str = "arn:aws:iam::333333333333:role/ProdOwner";
const DEPUTY: &str = "arn:aws:iam::333333333333:role/ProdDeputy";
const RELEASE: &str = "arn:aws:iam::111111111111:role/ReleaseManager";

fn deploy(workflow: &str, faults: Faults) -> (Vec<(String, String)>, Arc<Deployment>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../workflows")
        .join(workflow);
    let source = std::fs::read_to_string(path).unwrap();
    approvalc_local::deploy_source(&source, faults).unwrap()
}

fn config() -> RunConfig {
    RunConfig {
        run_id: "run-1".into(),
        requester: "arn:aws:iam::111111111111:user/dev".into(),
        seed: 7,
        start_ms: START,
        record_history: true,
        auto_actions: false,
    }
}

fn release() -> World {
    let (_, d) = deploy("multi-level-cross-account.yaml", Faults::default());
    World::start(d, json!({"version": "v1.0.0", "ticket": "REL-1"}), config()).unwrap()
}

fn decision(world: &World, stage: &str) -> String {
    let report = RunReport::of(world);
    report
        .stages
        .iter()
        .find(|s| s.id == stage)
        .unwrap()
        .decision
        .clone()
}

fn results_since(world: &World, from: usize) -> Vec<String> {
    world.handler_calls()[from..]
        .iter()
        .map(|c| c.report["result"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn a_run_waits_for_the_first_stage_and_names_who_may_act() {
    let world = release();
    let pending = world.pending();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].stage, "team-lead");
    assert_eq!(pending[0].may_act, vec![TEAM_LEAD.to_string()]);
    assert!(!world.is_finished());
}

#[test]
fn only_listed_principals_may_decide() {
    let mut world = release();
    let err = world
        .decide("team-lead", Verdict::Approve, QA, None)
        .unwrap_err();
    assert!(matches!(err, LocalError::NotAnApprover { .. }), "{err}");
    let err = world.decide("qa", Verdict::Approve, QA, None).unwrap_err();
    assert!(matches!(err, LocalError::NothingPending { .. }), "{err}");
    assert_eq!(decision(&world, "team-lead"), "pending");
}

#[test]
fn min_approvals_waits_for_the_second_owner_and_refuses_a_second_vote() {
    let mut world = release();
    world
        .decide("team-lead", Verdict::Approve, TEAM_LEAD, None)
        .unwrap();
    world
        .decide("prod-owner", Verdict::Approve, OWNER, None)
        .unwrap();
    assert_eq!(decision(&world, "prod-owner"), "pending");
    let err = world
        .decide("prod-owner", Verdict::Approve, OWNER, None)
        .unwrap_err();
    assert!(matches!(err, LocalError::AlreadyDecided { .. }), "{err}");
    world
        .decide("prod-owner", Verdict::Approve, DEPUTY, None)
        .unwrap();
    assert_eq!(decision(&world, "prod-owner"), "approved");
}

#[test]
fn duplicate_events_while_running_change_nothing() {
    let mut world = release();
    world
        .decide("team-lead", Verdict::Approve, TEAM_LEAD, None)
        .unwrap();
    let before = RunReport::of(&world);
    let calls = world.handler_calls().len();
    world.redeliver_all();
    let after = RunReport::of(&world);
    assert_eq!(before, after);
    let results = results_since(&world, calls);
    assert!(!results.is_empty());
    assert!(
        results
            .iter()
            .all(|r| r == "duplicate" || r == "ignored" || r == "not_finished"),
        "{results:?}"
    );
}

#[test]
fn late_events_after_the_run_ended_change_nothing() {
    let mut world = release();
    world
        .decide("team-lead", Verdict::Approve, TEAM_LEAD, None)
        .unwrap();
    world
        .decide("qa", Verdict::Reject, QA, Some("broken".into()))
        .unwrap();
    assert!(world.is_finished());
    let before = RunReport::of(&world);
    let calls = world.handler_calls().len();
    world.redeliver_all();
    world.reconcile();
    assert_eq!(RunReport::of(&world), before);
    let results = results_since(&world, calls);
    assert!(
        results.iter().all(|r| r != "decided" && r != "failed"),
        "{results:?}"
    );
}

#[test]
fn the_reconciler_resolves_a_decision_whose_event_was_lost() {
    let mut world = release();
    // The approval happens, but its event never reaches the callback.
    let id = world.pending()[0].request_id.clone();
    let mut lost = world.services().clone();
    lost.signal(
        &id,
        approvalc_local::services::Signal {
            approver: TEAM_LEAD.into(),
            verdict: Verdict::Approve,
            comment: None,
            at_ms: START,
        },
    );
    lost.outbox.clear();
    let mut state = world.state();
    state.svc = lost;
    world = World::restore(world.deployment().clone(), state).unwrap();
    world.settle();
    assert_eq!(
        decision(&world, "team-lead"),
        "waiting",
        "no event, no decision"
    );
    assert!(world.pending().is_empty(), "the automation has ended");
    world.reconcile();
    assert_eq!(decision(&world, "team-lead"), "approved");
}

#[test]
fn stopping_the_parent_stops_children_and_cancels_their_requests() {
    let mut world = release();
    world
        .decide("team-lead", Verdict::Approve, TEAM_LEAD, None)
        .unwrap();
    assert!(world.stop());
    for (meta, exec) in world.executions() {
        assert!(exec.status().is_finished(), "{} still runs", meta.name);
    }
    assert!(world.pending().is_empty());
    let states: Vec<&str> = world
        .services()
        .automations
        .values()
        .map(|a| a.state.name())
        .collect();
    assert_eq!(
        states.iter().filter(|s| **s == "Cancelled").count(),
        2,
        "{states:?}"
    );
}

#[test]
fn a_run_persisted_mid_way_ends_as_an_uninterrupted_one() {
    let mut straight = release();
    let mut resumed = release();
    for world in [&mut straight, &mut resumed] {
        world
            .decide("team-lead", Verdict::Approve, TEAM_LEAD, None)
            .unwrap();
    }
    let text = serde_json::to_string(&resumed.state()).unwrap();
    let state = serde_json::from_str(&text).unwrap();
    resumed = World::restore(resumed.deployment().clone(), state).unwrap();
    for world in [&mut straight, &mut resumed] {
        world.decide("qa", Verdict::Approve, QA, None).unwrap();
        world
            .decide("prod-owner", Verdict::Approve, OWNER, None)
            .unwrap();
        world
            .decide("prod-owner", Verdict::Approve, DEPUTY, None)
            .unwrap();
        world
            .decide("release-manager", Verdict::Approve, RELEASE, None)
            .unwrap();
    }
    assert!(straight.is_finished());
    assert_eq!(RunReport::of(&straight), RunReport::of(&resumed));
}

#[test]
fn a_wrong_external_id_is_refused_by_sts_with_its_message() {
    let mut faults = Faults::default();
    faults
        .external_id_overrides
        .insert("approvalc-release-prod-qa".into(), "something-else".into());
    let (_, d) = deploy("multi-level-cross-account.yaml", faults);
    let mut world =
        World::start(d, json!({"version": "v1.0.0", "ticket": "REL-1"}), config()).unwrap();
    world
        .decide("team-lead", Verdict::Approve, TEAM_LEAD, None)
        .unwrap();
    let report = RunReport::of(&world);
    let qa = report.stages.iter().find(|s| s.id == "qa").unwrap();
    let error = qa.error.clone().unwrap_or_default();
    assert!(error.starts_with("States.TaskFailed: User: arn:aws:sts::111111111111:assumed-role/approvalc-release-prod/run-1 is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::222222222222:role/approvalc-release-prod-qa"), "{error}");
    assert_eq!(report.decision.as_deref(), Some("rejected"));
    // The production branch was stopped with the run and its request cancelled.
    assert!(world.pending().is_empty());
}

#[test]
fn the_right_external_id_lets_the_parent_into_the_target_account() {
    let mut world = release();
    world
        .decide("team-lead", Verdict::Approve, TEAM_LEAD, None)
        .unwrap();
    let accounts: Vec<&str> = world
        .executions()
        .skip(1)
        .map(|(m, _)| m.account_id.as_str())
        .collect();
    assert_eq!(
        accounts,
        vec!["111111111111", "222222222222", "333333333333"]
    );
}

fn store_with_run(dir: &Path) -> String {
    let (files, d) = deploy("multi-level-cross-account.yaml", Faults::default());
    let world = World::start(d, json!({"version": "v1.0.0", "ticket": "REL-1"}), config()).unwrap();
    let mut store = Store::open(dir).unwrap();
    store
        .create(
            &NewRun {
                source: "test",
                files: &files,
                faults: &Faults::default(),
            },
            &world,
        )
        .unwrap();
    world.config().run_id.clone()
}

#[test]
fn two_deciders_at_once_decide_once() {
    let dir = tempfile::tempdir().unwrap();
    let id = store_with_run(dir.path());
    let outcomes: Vec<Result<(), String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let (dir, id) = (dir.path(), id.clone());
                s.spawn(move || {
                    let mut store = Store::open(dir).unwrap();
                    store
                        .update(&id, START, |w| {
                            w.decide("team-lead", Verdict::Approve, TEAM_LEAD, None)
                        })
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        outcomes.iter().filter(|o| o.is_ok()).count(),
        1,
        "{outcomes:?}"
    );
    let store = Store::open(dir.path()).unwrap();
    let world = store.load(&id).unwrap();
    let signals: usize = world
        .services()
        .automations
        .values()
        .map(|a| a.signals.len())
        .sum();
    assert_eq!(signals, 1);
    assert_eq!(decision(&world, "team-lead"), "approved");
    assert_eq!(store.list().unwrap()[0].version, 2);
}

#[test]
fn a_refused_change_leaves_the_stored_run_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let id = store_with_run(dir.path());
    let mut store = Store::open(dir.path()).unwrap();
    let err = store
        .update(&id, START, |w| {
            w.decide("team-lead", Verdict::Approve, QA, None)
        })
        .unwrap_err();
    assert!(matches!(err, LocalError::NotAnApprover { .. }));
    assert_eq!(store.list().unwrap()[0].version, 1);
    assert!(store.integrity_ok().unwrap());
}

#[test]
fn time_passes_between_commands() {
    let dir = tempfile::tempdir().unwrap();
    let id = store_with_run(dir.path());
    let mut store = Store::open(dir.path()).unwrap();
    // Three days and the grace period later the team lead's request has timed out.
    let later = START + (3 * 86_400 + 301) * 1000;
    let ((), report) = store.update(&id, later, |_| Ok(())).unwrap();
    assert_eq!(report.decision.as_deref(), Some("rejected"));
    let team_lead: &Value = &report.to_json()["stages"]["team-lead"];
    assert_eq!(team_lead["decision"], "timed_out");
}

#[test]
fn a_codepipeline_approval_expires_when_a_look_finds_its_time_passed() {
    let (files, d) = deploy("codepipeline-single.yaml", Faults::default());
    let world = World::start(d, json!({"page": "news/a.html"}), config()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    store
        .create(
            &NewRun {
                source: "test",
                files: &files,
                faults: &Faults::default(),
            },
            &world,
        )
        .unwrap();
    let expires = world.pending()[0].expires_ms.unwrap();
    assert_eq!(expires, START + 2 * 86_400 * 1000, "the stage's 2d timeout");
    // A look before the expiry writes nothing.
    let ((), report) = store.observe("run-1", expires - 1, |_| ()).unwrap();
    assert_eq!(report.decision, None);
    assert_eq!(store.list().unwrap()[0].version, 1);
    // A look after it fires the expiry, stores the result and shows it.
    let ((), report) = store.observe("run-1", expires + 60_000, |_| ()).unwrap();
    assert_eq!(report.decision.as_deref(), Some("rejected"));
    assert_eq!(
        report.to_json()["stages"]["review"]["decision"],
        "timed_out"
    );
    assert_eq!(store.list().unwrap()[0].version, 2);
    let world = store.load("run-1").unwrap();
    let run = world.services().pipelines.values().next().unwrap();
    assert_eq!(run.action_status, "Failed");
    let err = store
        .update("run-1", expires + 120_000, |w| {
            w.decide("review", Verdict::Approve, "editor-in-chief", None)
        })
        .unwrap_err();
    assert!(matches!(err, LocalError::NothingPending { .. }), "{err}");
}

#[test]
fn stopping_the_parent_during_a_codepipeline_approval_closes_the_approval() {
    let mut world = release();
    world
        .decide("team-lead", Verdict::Approve, TEAM_LEAD, None)
        .unwrap();
    world.decide("qa", Verdict::Approve, QA, None).unwrap();
    world
        .decide("prod-owner", Verdict::Approve, OWNER, None)
        .unwrap();
    world
        .decide("prod-owner", Verdict::Approve, DEPUTY, None)
        .unwrap();
    assert_eq!(world.pending()[0].kind, "codepipeline");
    assert!(world.stop());
    for (meta, exec) in world.executions() {
        assert_eq!(
            exec.status().name(),
            if meta.parent.is_none() || meta.stage.as_deref() == Some("release-manager") {
                "ABORTED"
            } else {
                "SUCCEEDED"
            },
            "{}",
            meta.name
        );
    }
    assert!(world.pending().is_empty());
    let run = world.services().pipelines.values().next().unwrap();
    assert_ne!(
        run.action_status, "InProgress",
        "the cleanup handler answered it"
    );
    let report = RunReport::of(&world);
    assert_eq!(report.decision.as_deref(), Some("rejected"));
    assert_eq!(decision(&world, "release-manager"), "cancelled");
}
