//! Split workflows (the compiler cuts a parent that breaks a quota into nested part
//! machines): the simulation deploys the parts in the home account, runs each as a
//! `.sync:2` execution under the parent's role and the part's own ARN, and reports stage
//! records from the part executions' outputs.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};

use approvalc_engine::Status;
use approvalc_local::simulate::{Action, Decision, simulate};
use approvalc_local::{Deployment, Faults, RunConfig, RunReport, World};
use serde_json::{Value, json};

const START: i64 = 1_704_067_200_000;
const ACCOUNTS: [(&str, &str); 2] = [("ops", "111111111111"), ("prod", "222222222222")];
const STAGES: usize = 1000;
const WIDTH: usize = 10;

/// `STAGES` stages in layers of `WIDTH` parallel stages, each needing the whole layer
/// before; every third stage runs in the prod account (cross-account, through an execute
/// role that trusts the running machine's ARN as `sts:ExternalId`).
fn layered() -> String {
    let mut y = String::from(
        "apiVersion: approvalc/v1\nname: big\nregion: us-east-1\nhome: ops\naccounts:\n",
    );
    for (name, id) in ACCOUNTS {
        let _ = writeln!(y, "  {name}: {{ id: \"{id}\" }}");
    }
    y.push_str("defaults:\n  timeout: 2h\nstages:\n");
    for i in 0..STAGES {
        let layer = i / WIDTH;
        let _ = writeln!(y, "  s{i}:");
        if layer > 0 {
            let needs: Vec<String> = (0..WIDTH)
                .map(|k| format!("s{}", (layer - 1) * WIDTH + k))
                .collect();
            let _ = writeln!(y, "    needs: [{}]", needs.join(", "));
        }
        let (account, id) = if i % 3 == 1 { ACCOUNTS[1] } else { ACCOUNTS[0] };
        if account != "ops" {
            let _ = writeln!(y, "    account: {account}");
        }
        let _ = writeln!(
            y,
            "    ssm:\n      approvers: [arn:aws:iam::{id}:role/A{i}]"
        );
    }
    y
}

fn source() -> &'static str {
    static SOURCE: OnceLock<String> = OnceLock::new();
    SOURCE.get_or_init(layered)
}

fn deploy(faults: Faults) -> Arc<Deployment> {
    approvalc_local::deploy_source(source(), faults).unwrap().1
}

fn config() -> RunConfig {
    RunConfig {
        run_id: "run-1".into(),
        requester: "arn:aws:iam::111111111111:user/dev".into(),
        seed: 3,
        start_ms: START,
        record_history: false,
        auto_actions: false,
    }
}

fn decisions(report: &RunReport) -> Vec<(&str, &str)> {
    report
        .stages
        .iter()
        .map(|s| (s.id.as_str(), s.decision.as_str()))
        .collect()
}

/// The last cross-account stage that a part (nested as deep as any) runs.
fn cross_account_stage_in_a_part(d: &Deployment) -> (String, String, String) {
    let stage = d
        .manifest
        .stages
        .iter()
        .rev()
        .find(|s| s.part.is_some() && s.execute_role_arn.is_some())
        .expect("a cross-account stage in a part");
    let role = stage
        .execute_role_arn
        .as_deref()
        .and_then(|a| a.rsplit('/').next())
        .unwrap()
        .to_owned();
    (stage.id.clone(), stage.part.clone().unwrap(), role)
}

#[test]
fn a_1000_stage_split_workflow_runs_end_to_end_approved() {
    let d = deploy(Faults::default());
    let parts = &d.manifest.parts;
    assert!(parts.len() >= 2, "the workflow is split: {}", parts.len());
    let (world, report) = simulate(d.clone(), json!({}), config(), &[]).unwrap();
    let not_approved: Vec<_> = report
        .stages
        .iter()
        .filter(|s| s.decision != "approved")
        .map(|s| (&s.id, &s.decision, &s.error))
        .collect();
    let parts_out: Vec<String> = world
        .executions()
        .filter(|(m, _)| m.stage.is_none())
        .map(|(m, e)| match e.status() {
            Status::Succeeded { output } => format!("{}: {}", m.machine_name, json!({"decision": output["decision"], "part": output["stages"].as_object().map(|o| o.iter().filter(|(k, _)| k.starts_with("Part")).map(|(k, v)| (k.clone(), v.clone())).collect::<serde_json::Map<_, _>>())})),
            other => format!("{}: {}", m.machine_name, other.name()),
        })
        .collect();
    assert!(not_approved.is_empty(), "{not_approved:?}\n{parts_out:#?}");
    assert_eq!(
        report.decision.as_deref(),
        Some("approved"),
        "{:?}",
        report.error
    );
    assert_eq!(report.stages.len(), STAGES);
    // Every part ran once, as its own machine in the home account, under the parent's
    // role, named after the run.
    let home = &d.manifest.home.id;
    for part in parts {
        let runs: Vec<_> = world
            .executions()
            .filter(|(m, _)| m.machine_name == part.name)
            .collect();
        assert_eq!(runs.len(), 1, "{}", part.name);
        let (meta, exec) = runs[0];
        assert_eq!(&meta.account_id, home);
        assert_eq!(meta.role_arn, part.role_arn);
        assert_eq!(meta.name, "run-1");
        assert!(matches!(exec.status(), Status::Succeeded { .. }));
    }
    // One child per stage besides the parent and the parts.
    assert_eq!(world.executions().count(), 1 + parts.len() + STAGES);
    // The JSON report names stages only, never a `Part_<n>` summary.
    let out = report.to_json();
    let keys: BTreeSet<&String> = out["stages"].as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), STAGES);
    assert!(keys.iter().all(|k| k.starts_with('s')), "{keys:?}");
}

#[test]
fn a_rejection_in_the_last_part_rejects_the_run_and_cancels_the_rest() {
    let d = deploy(Faults::default());
    let last = d.manifest.parts.last().unwrap();
    // A stage of the last part that is not in the last layer, so some stages come after.
    let victim = last
        .stages
        .iter()
        .find(|s| {
            s.trim_start_matches('s')
                .parse::<usize>()
                .is_ok_and(|n| n < STAGES - WIDTH)
        })
        .expect("a stage before the last layer")
        .clone();
    let reject = Decision {
        stage: victim.clone(),
        action: Action::Reject,
        principal: None,
        comment: Some("not now".into()),
    };
    let (world, report) = simulate(d.clone(), json!({}), config(), &[reject]).unwrap();
    assert_eq!(report.decision.as_deref(), Some("rejected"));
    let by_id: std::collections::BTreeMap<&str, &str> = decisions(&report).into_iter().collect();
    assert_eq!(by_id[victim.as_str()], "rejected");
    let comment = report
        .stages
        .iter()
        .find(|s| s.id == victim)
        .unwrap()
        .comment
        .clone();
    assert_eq!(comment.as_deref(), Some("not now"));
    // Every stage of the first layers (earlier parts or the parent) was approved; the last
    // layer never started, so it is cancelled; nothing is left running or pending.
    assert_eq!(by_id["s0"], "approved");
    for k in 0..WIDTH {
        let id = format!("s{}", STAGES - WIDTH + k);
        assert_eq!(by_id[id.as_str()], "cancelled", "{id}");
    }
    for (meta, exec) in world.executions() {
        assert!(
            exec.status().is_finished(),
            "{} still runs",
            meta.machine_name
        );
    }
    assert!(world.pending().is_empty());
    let started: BTreeSet<String> = world
        .executions()
        .filter_map(|(m, _)| m.stage.clone())
        .collect();
    assert!(!started.contains(&format!("s{}", STAGES - 1)));
}

#[test]
fn a_wrong_trust_inside_a_part_is_refused_by_sts_naming_the_part() {
    let probe = deploy(Faults::default());
    let (stage, part, role) = cross_account_stage_in_a_part(&probe);
    // The role trusts the parent's ARN instead of the part's: STS refuses, as on AWS.
    let mut faults = Faults::default();
    faults
        .external_id_overrides
        .insert(role.clone(), probe.manifest.parent.arn.clone());
    let d = deploy(faults);
    let (world, report) = simulate(d.clone(), json!({}), config(), &[]).unwrap();
    assert_eq!(report.decision.as_deref(), Some("rejected"));
    let record = report.stages.iter().find(|s| s.id == stage).unwrap();
    let error = record.error.clone().unwrap_or_default();
    let caller = format!(
        "User: arn:aws:sts::{}:assumed-role/{}/run-1 is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::222222222222:role/{role}",
        d.manifest.home.id,
        d.manifest.parent.role_arn.rsplit('/').next().unwrap()
    );
    assert!(error.contains(&caller), "{error}");
    assert!(
        !world
            .executions()
            .any(|(m, _)| m.stage.as_deref() == Some(stage.as_str())),
        "the stage never started in {part}"
    );
}

#[test]
fn stopping_the_run_stops_the_parts_and_their_children() {
    let d = deploy(Faults::default());
    let mut world = World::start(d.clone(), json!({}), config()).unwrap();
    // Approve everything pending until a part runs, then stop.
    let part_names: BTreeSet<&str> = d.manifest.parts.iter().map(|p| p.name.as_str()).collect();
    let running_part = |w: &World| {
        w.executions()
            .any(|(m, e)| part_names.contains(m.machine_name.as_str()) && !e.status().is_finished())
    };
    for _ in 0..STAGES {
        if running_part(&world) {
            break;
        }
        let Some(p) = world.pending().into_iter().next() else {
            break;
        };
        let who = p.may_act.first().cloned().unwrap();
        world
            .decide(&p.stage, approvalc_local::Verdict::Approve, &who, None)
            .unwrap();
    }
    assert!(running_part(&world), "a part is running");
    assert!(!world.pending().is_empty());
    assert!(world.stop());
    for (meta, exec) in world.executions() {
        assert!(
            exec.status().is_finished(),
            "{} still runs",
            meta.machine_name
        );
        if part_names.contains(meta.machine_name.as_str()) {
            assert!(
                matches!(exec.status(), Status::Aborted | Status::Succeeded { .. }),
                "{}: {:?}",
                meta.machine_name,
                exec.status().name()
            );
        }
    }
    assert!(world.pending().is_empty());
    let report = RunReport::of(&world);
    assert_eq!(report.decision.as_deref(), Some("rejected"));
    let _: &Value = &report.to_json();
}
