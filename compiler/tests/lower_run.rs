//! Compiled examples run end to end in the engine: the parent starts each stage's generic
//! child machine (`startExecution.sync:2`), the child starts its automation or pipeline and
//! waits on the token store, and the test answers that wait the way the runtime does
//! (docs/runtime.md): `decided` for approvals, `{"status": "succeeded", ...}` or an
//! `Approval.*` failure for actions. The run's output must hold each stage's real record,
//! across `Parallel` branches and part machines.

use std::collections::BTreeMap;
use std::sync::Arc;

use approvalc_compiler::lower::{Artifacts, child, names::ChildKind};
use approvalc_engine::{
    Execution, ExecutionConfig, Failure, Machine, Status, TaskHandler, TaskOutcome, TaskRequest,
};
use serde_json::{Value, json};

mod common;
use common::{START_SYNC, compile_clean, json_of};

fn example(name: &str) -> Artifacts {
    let path = format!("{}/../workflows/{name}.yaml", env!("CARGO_MANIFEST_DIR"));
    compile_clean(&std::fs::read_to_string(path).expect("example"))
}

/// How the test's runtime answers a stage.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Answer {
    Approve,
    Reject,
    /// An action automation that failed (`Approval.AutomationFailed`).
    Fail,
}

/// Runs child machines (the compiler's generic definitions) and part machines for the
/// parent's `startExecution.sync:2` tasks, and answers the children's SDK calls.
struct World {
    children: BTreeMap<&'static str, Arc<Machine>>,
    parts: BTreeMap<String, (String, Arc<Machine>)>,
    answers: BTreeMap<String, Answer>,
    started: Vec<String>,
}

impl World {
    fn new(artifacts: &Artifacts, answers: &[(&str, Answer)]) -> Self {
        let children = ChildKind::ALL
            .iter()
            .map(|&kind| {
                let definition =
                    serde_json::to_value(child::machine(kind, "approvalc-tokens")).expect("json");
                let machine = Machine::load(&definition).expect("child loads");
                (kind.machine_name(), Arc::new(machine))
            })
            .collect();
        let mut parts = BTreeMap::new();
        for part in &artifacts.manifest.parts {
            let machine = Machine::load(&json_of(artifacts, &part.definition)).expect("loads");
            parts.insert(part.arn.clone(), (part.name.clone(), Arc::new(machine)));
        }
        Self {
            children,
            parts,
            answers: answers.iter().map(|(s, a)| ((*s).to_owned(), *a)).collect(),
            started: Vec::new(),
        }
    }

    fn answer(&self, stage: &str) -> Answer {
        self.answers.get(stage).copied().unwrap_or(Answer::Approve)
    }

    /// What the runtime sends for the token item the child stored.
    fn callback(&self, item: &Value) -> TaskOutcome {
        let stage = item["stage_id"]["S"].as_str().unwrap_or_default();
        let kind = item["kind"]["S"].as_str().unwrap_or_default();
        match (kind, self.answer(stage)) {
            ("action", Answer::Approve) => TaskOutcome::Success(json!({
                "status": "succeeded",
                "automation_execution_id": "auto-1",
                "outputs": {"Grant.Output": ["ok"]},
                "finished_at": "2024-01-01T00:00:00Z",
            })),
            ("action", _) => TaskOutcome::Failure(Failure::new(
                "Approval.AutomationFailed",
                "automation auto-1 (document Grant) failed: Step fails",
            )),
            (_, answer) => TaskOutcome::Success(json!({
                "decision": if answer == Answer::Approve { "approved" } else { "rejected" },
                "approvers": ["arn:aws:iam::111111111111:role/A"],
                "comment": null,
                "decided_at": "2024-01-01T00:00:00Z",
                "rule": null,
            })),
        }
    }

    fn run_machine(&mut self, name: &str, machine: Arc<Machine>, input: Value) -> Status {
        let config = ExecutionConfig {
            state_machine_name: name.to_owned(),
            execution_name: format!("exec-{}", self.started.len()),
            account: "111111111111".into(),
            ..ExecutionConfig::default()
        };
        let mut execution = Execution::start(machine, input, config);
        execution.run_to_completion(self);
        execution.status().clone()
    }
}

impl TaskHandler for World {
    fn invoke(&mut self, request: &TaskRequest<'_>) -> TaskOutcome {
        let input = request.input;
        match request.resource {
            START_SYNC => {}
            "arn:aws:states:::aws-sdk:ssm:startAutomationExecution" => {
                return TaskOutcome::Success(json!({"AutomationExecutionId": "auto-1"}));
            }
            "arn:aws:states:::aws-sdk:codepipeline:startPipelineExecution" => {
                return TaskOutcome::Success(json!({"PipelineExecutionId": "pipe-1"}));
            }
            "arn:aws:states:::aws-sdk:dynamodb:putItem.waitForTaskToken" => {
                return self.callback(&input["Item"]);
            }
            other => panic!("unexpected task {other}"),
        }
        let arn = input["StateMachineArn"].as_str().unwrap_or_default();
        let (name, machine) = match self.parts.get(arn).cloned() {
            Some(part) => part,
            None => {
                let name = arn.rsplit(':').next().unwrap_or_default();
                let machine = self
                    .children
                    .get(name)
                    .unwrap_or_else(|| panic!("no machine {arn}"))
                    .clone();
                let stage = input["Input"]["stage"]["id"].as_str().unwrap_or_default();
                self.started.push(stage.to_owned());
                (name.to_owned(), machine)
            }
        };
        match self.run_machine(&name, machine, input["Input"].clone()) {
            Status::Succeeded { output } => TaskOutcome::Success(json!({
                "ExecutionArn": format!("arn:aws:states:us-east-1:111111111111:execution:{name}:x"),
                "Output": output,
                "Status": "SUCCEEDED",
            })),
            other => TaskOutcome::Failure(Failure::new(
                "States.TaskFailed",
                format!("{name} ended {}", other.name()),
            )),
        }
    }
}

fn run(artifacts: &Artifacts, input: Value, answers: &[(&str, Answer)]) -> (Value, Vec<String>) {
    let parent = Machine::load(&json_of(artifacts, "parent.asl.json")).expect("loads");
    let mut world = World::new(artifacts, answers);
    let run_input = json!({"input": input, "requester": "arn:aws:iam::111111111111:user/req"});
    let name = artifacts.manifest.parent.name.clone();
    match world.run_machine(&name, Arc::new(parent), run_input) {
        Status::Succeeded { output } => (output, world.started),
        other => panic!("the run did not succeed: {other:?}"),
    }
}

fn decisions(output: &Value) -> BTreeMap<String, String> {
    output["stages"]
        .as_object()
        .expect("stages")
        .iter()
        .map(|(k, v)| (k.clone(), v["decision"].as_str().unwrap_or("?").to_owned()))
        .collect()
}

fn expect(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn release_input() -> Value {
    json!({"version": "v1.2.3", "ticket": "REL-1"})
}

#[test]
fn parallel_branches_keep_every_approved_record() {
    let artifacts = example("multi-level-cross-account");
    let (out, started) = run(&artifacts, release_input(), &[]);
    assert_eq!(out["decision"], "approved", "{out}");
    assert_eq!(started.len(), 4);
    assert_eq!(
        decisions(&out),
        expect(&[
            ("team_lead", "approved"),
            ("qa", "approved"),
            ("prod_owner", "approved"),
            ("release_manager", "approved"),
        ]),
        "{out}"
    );
}

#[test]
fn a_rejection_in_one_branch_records_it_and_cancels_what_is_pending() {
    let artifacts = example("multi-level-cross-account");
    for (victim, other) in [("prod-owner", "qa"), ("qa", "prod_owner")] {
        let (out, started) = run(&artifacts, release_input(), &[(victim, Answer::Reject)]);
        assert_eq!(out["decision"], "rejected", "{out}");
        assert!(!started.iter().any(|s| s == "release-manager"));
        let records = decisions(&out);
        assert_eq!(records[&victim.replace('-', "_")], "rejected", "{out}");
        assert_eq!(records["team_lead"], "approved", "{out}");
        assert_eq!(records["release_manager"], "cancelled", "{out}");
        // The sibling branch ran or was stopped; it never shows a decision it did not get.
        assert!(
            ["approved", "cancelled"].contains(&records[other].as_str()),
            "{out}"
        );
    }
}

fn change_input(risk: &str) -> Value {
    json!({"change_id": "CHG-1234", "summary": "resize", "risk": risk})
}

#[test]
fn a_high_risk_change_keeps_security_and_applies_the_action() {
    let artifacts = example("conditional-escalation");
    let (out, started) = run(&artifacts, change_input("high"), &[]);
    assert_eq!(out["decision"], "approved", "{out}");
    assert_eq!(started.len(), 4);
    assert_eq!(
        decisions(&out),
        expect(&[
            ("service_owner", "approved"),
            ("security", "approved"),
            ("change_board", "approved"),
            ("apply", "approved"),
        ]),
        "{out}"
    );
    // The action's record carries the automation and its outputs, no approvers.
    let apply = &out["stages"]["apply"];
    assert_eq!(apply["approvers"], json!([]), "{out}");
    assert_eq!(apply["decided_at"], "2024-01-01T00:00:00Z", "{out}");

    // A low-risk change skips both reviews and still runs the action.
    let (out, started) = run(&artifacts, change_input("low"), &[]);
    assert_eq!(out["decision"], "approved", "{out}");
    assert_eq!(started, ["service-owner", "apply"]);
    assert_eq!(
        decisions(&out),
        expect(&[
            ("service_owner", "approved"),
            ("security", "skipped"),
            ("change_board", "skipped"),
            ("apply", "approved"),
        ]),
        "{out}"
    );
}

#[test]
fn action_stages_approve_on_success_and_reject_on_a_failed_automation() {
    let artifacts = example("temporary-privilege");
    let input = json!({"requester": "alice", "reason": "incident"});
    let (out, started) = run(&artifacts, input.clone(), &[]);
    assert_eq!(out["decision"], "approved", "{out}");
    let all_approved = decisions(&out).values().all(|d| d == "approved");
    assert!(all_approved, "{out}");
    assert_eq!(started.len(), decisions(&out).len());

    let (out, started) = run(&artifacts, input, &[("grant", Answer::Fail)]);
    assert_eq!(out["decision"], "rejected", "{out}");
    assert_eq!(started.last().map(String::as_str), Some("grant"));
    let grant = &out["stages"]["grant"];
    assert_eq!(grant["decision"], "rejected", "{out}");
    assert!(
        grant["comment"]
            .as_str()
            .is_some_and(|c| c.contains("failed")),
        "the record keeps the runtime's cause: {out}"
    );
}

/// `root → s0 … s(n-1)` (all in parallel) `→ sink`, too big for one machine.
fn fan(n: usize) -> String {
    let stage = |id: &str, needs: &str| {
        format!(
            "  {id}:\n{needs}    ssm:\n      approvers: [arn:aws:iam::111111111111:role/A]\n    timeout: 2h\n"
        )
    };
    let mut source = "apiVersion: approvalc/v1\nname: gen\nregion: us-east-1\nhome: main\naccounts:\n  main: { id: \"111111111111\" }\nstages:\n".to_owned();
    source.push_str(&stage("root", ""));
    for i in 0..n {
        source.push_str(&stage(&format!("s{i}"), "    needs: [root]\n"));
    }
    let all: Vec<String> = (0..n).map(|i| format!("s{i}")).collect();
    source.push_str(&stage(
        "sink",
        &format!("    needs: [{}]\n", all.join(", ")),
    ));
    source
}

#[test]
fn parts_in_parallel_branches_keep_every_approved_summary() {
    let artifacts = compile_clean(&fan(1500));
    assert!(artifacts.manifest.parts.len() >= 2, "the fan is split");
    let (out, started) = run(&artifacts, json!({}), &[]);
    assert_eq!(out["decision"], "approved", "{out}");
    assert_eq!(started.len(), 1502);
    let records = decisions(&out);
    let parts = records.keys().filter(|k| k.starts_with("Part_")).count();
    assert!(parts >= 1, "{out}");
    assert!(
        records.values().all(|d| d == "approved"),
        "every record and part summary approved: {records:?}"
    );
}
