//! Splitting into part machines (docs/compiler.md "Splitting into part machines"):
//! generated workflows too large for one state machine compile without errors into a
//! parent and parts that each fit the quotas with room to spare, keep every `needs` order
//! across machines (checked by walking the emitted definitions), and run end to end in the
//! engine: a `startExecution.sync:2` of a part runs that part's definition, a stage's child
//! answers with a decision; all approvals approve the run, one rejection in a late part
//! rejects it and cancels what had not run.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use approvalc_compiler::lower::{self, ArtifactKind, Artifacts, quotas};
use approvalc_engine::{
    Execution, ExecutionConfig, Failure, Machine, Status, TaskHandler, TaskOutcome, TaskRequest,
};
use serde_json::{Value, json};

mod common;
use common::{START_SYNC, compile_clean, json_of};

const HEADER: &str = "apiVersion: approvalc/v1\nname: gen\nregion: us-east-1\nhome: main\naccounts:\n  main: { id: \"111111111111\" }\n  other: { id: \"222222222222\" }\nstages:\n";

fn stage(id: &str, needs: &[String], extra: &str) -> String {
    let needs = if needs.is_empty() {
        String::new()
    } else {
        format!("    needs: [{}]\n", needs.join(", "))
    };
    format!(
        "  {id}:\n{needs}    ssm:\n      approvers: [arn:aws:iam::111111111111:role/A]\n    timeout: 2h\n{extra}"
    )
}

/// `s0 → s1 → … → s(n-1)`; every 500th stage runs in the other account, and stage `s2990`
/// reads the decision of `s5` (so a record crosses machines).
fn chain(n: usize) -> String {
    let stages: String = (0..n)
        .map(|i| {
            let needs = if i == 0 {
                Vec::new()
            } else {
                vec![format!("s{}", i - 1)]
            };
            let mut extra = String::new();
            if i % 500 == 250 {
                extra.push_str("    account: other\n");
            }
            if i == n - 10 {
                extra.push_str("    when: stage.s5.decision == \"approved\"\n");
            }
            stage(&format!("s{i}"), &needs, &extra)
        })
        .collect();
    format!("{HEADER}{stages}")
}

/// `root → s0 … s(n-1)` (all in parallel) `→ sink`.
fn fan(n: usize) -> String {
    let mut stages = stage("root", &[], "");
    for i in 0..n {
        stages.push_str(&stage(&format!("s{i}"), &["root".to_owned()], ""));
    }
    let all: Vec<String> = (0..n).map(|i| format!("s{i}")).collect();
    stages.push_str(&stage("sink", &all, ""));
    format!("{HEADER}{stages}")
}

/// An upper bound of history events that does not use the compiler's formula: every state
/// runs at most once (the machines have no loops), a Task with `.sync:2` writes 6 events,
/// a Parallel 4, any other state 2; plus ExecutionStarted and the end event.
fn all_states_bound(states: &serde_json::Map<String, Value>) -> u64 {
    states
        .values()
        .map(|s| {
            let own = match s["Type"].as_str() {
                Some("Task") => 6,
                Some("Parallel") => 4,
                _ => 2,
            };
            let inner: u64 = s["Branches"]
                .as_array()
                .map(|bs| {
                    bs.iter()
                        .filter_map(|b| b["States"].as_object())
                        .map(all_states_bound)
                        .sum()
                })
                .unwrap_or(0);
            own + inner
        })
        .sum()
}

fn assert_parts_fit(artifacts: &Artifacts, min_parts: usize) {
    let m = &artifacts.manifest;
    assert!(
        m.parts.len() >= min_parts,
        "{} parts, expected at least {min_parts}",
        m.parts.len()
    );
    let mut figures = vec![(
        m.parent.definition.clone(),
        m.parent.definition_bytes,
        m.parent.worst_case_history_events,
    )];
    figures.extend(m.parts.iter().map(|p| {
        (
            p.definition.clone(),
            p.definition_bytes,
            p.worst_case_history_events,
        )
    }));
    for (path, bytes, events) in figures {
        let file = artifacts.file(&path).expect("listed definition exists");
        assert_eq!(file.contents.len(), bytes, "{path}: manifest size");
        assert!(
            bytes <= lower::split::DEFINITION_BUDGET,
            "{path}: {bytes} bytes, over the split margin"
        );
        assert!(
            events <= lower::split::HISTORY_BUDGET,
            "{path}: {events} events, over the split margin"
        );
        let definition: Value = serde_json::from_str(&file.contents).expect("JSON");
        let bound = all_states_bound(definition["States"].as_object().expect("States")) + 2;
        assert!(
            events <= bound,
            "{path}: formula {events} above the all-states bound {bound}"
        );
        assert!(
            bound <= quotas::HISTORY_EVENTS,
            "{path}: even running every state ({bound} events) must fit"
        );
        Machine::load(&definition).unwrap_or_else(|e| panic!("{path}: engine refuses it: {e}"));
    }
    let kinds = artifacts
        .files
        .iter()
        .filter(|f| f.kind == ArtifactKind::PartDefinition)
        .count();
    assert_eq!(kinds, m.parts.len());
}

// ---- stage order, read from the definitions ----------------------------------------

/// The order a machine imposes, read back from its states: a sequence of stage runs and
/// parallel groups; a part's task expands to the part's own order.
#[derive(Debug)]
enum Order {
    Stage(String),
    Seq(Vec<Order>),
    Par(Vec<Order>),
}

struct Reader {
    by_arn: BTreeMap<String, Value>,
    seen_parts: BTreeSet<String>,
}

impl Reader {
    fn machine(&mut self, definition: &Value) -> Order {
        self.branch(definition)
    }

    /// Follows the approving path from `StartAt`: a Choice's first rule (`_When` → the
    /// stage, `_Decide` → go on), a Task's or Pass's `Next`.
    fn branch(&mut self, branch: &Value) -> Order {
        let states = branch["States"].as_object().expect("States");
        let mut at = branch["StartAt"].as_str().map(ToOwned::to_owned);
        let mut seq = Vec::new();
        let mut last_stage: Option<String> = None;
        while let Some(name) = at {
            let state = &states[&name];
            at = match state["Type"].as_str() {
                Some("Task") => {
                    assert_eq!(state["Resource"], START_SYNC);
                    let target = state["Parameters"]["StateMachineArn"]
                        .as_str()
                        .expect("StateMachineArn")
                        .to_owned();
                    if let Some(part) = self.by_arn.get(&target).cloned() {
                        assert!(self.seen_parts.insert(target), "part started twice");
                        seq.push(self.machine(&part));
                    } else {
                        let id = state["Parameters"]["Input"]["stage"]["id"]
                            .as_str()
                            .expect("stage id")
                            .to_owned();
                        // The escalation task is the same stage again.
                        if last_stage.as_deref() != Some(id.as_str()) {
                            seq.push(Order::Stage(id.clone()));
                            last_stage = Some(id);
                        }
                    }
                    state["Next"].as_str().map(ToOwned::to_owned)
                }
                Some("Choice") => state["Choices"][0]["Next"].as_str().map(ToOwned::to_owned),
                Some("Parallel") => {
                    let branches = state["Branches"].as_array().expect("Branches");
                    let inner: Vec<Order> = branches.iter().map(|b| self.branch(b)).collect();
                    seq.push(Order::Par(inner));
                    state["Next"].as_str().map(ToOwned::to_owned)
                }
                Some("Pass") => state["Next"].as_str().map(ToOwned::to_owned),
                _ => None,
            };
        }
        Order::Seq(seq)
    }
}

/// For every stage, the path of (node, child position, is-series) from the root.
fn paths(
    order: &Order,
    prefix: &mut Vec<(usize, usize, bool)>,
    next_id: &mut usize,
    out: &mut BTreeMap<String, Vec<(usize, usize, bool)>>,
) {
    let id = *next_id;
    *next_id += 1;
    match order {
        Order::Stage(s) => {
            assert!(
                out.insert(s.clone(), prefix.clone()).is_none(),
                "stage {s} runs twice"
            );
        }
        Order::Seq(items) | Order::Par(items) => {
            let series = matches!(order, Order::Seq(_));
            for (k, item) in items.iter().enumerate() {
                prefix.push((id, k, series));
                paths(item, prefix, next_id, out);
                prefix.pop();
            }
        }
    }
}

/// `a` always ends before `b` starts: where their paths part, a sequence puts `a` first.
fn before(paths: &BTreeMap<String, Vec<(usize, usize, bool)>>, a: &str, b: &str) -> bool {
    let (pa, pb) = (&paths[a], &paths[b]);
    for (x, y) in pa.iter().zip(pb) {
        if x != y {
            return x.0 == y.0 && x.2 && x.1 < y.1;
        }
    }
    false
}

fn stage_paths(artifacts: &Artifacts) -> BTreeMap<String, Vec<(usize, usize, bool)>> {
    let mut by_arn = BTreeMap::new();
    for part in &artifacts.manifest.parts {
        by_arn.insert(part.arn.clone(), json_of(artifacts, &part.definition));
    }
    let mut reader = Reader {
        by_arn,
        seen_parts: BTreeSet::new(),
    };
    let parent = json_of(artifacts, "parent.asl.json");
    let stages = &parent["States"]["Stages"]["Branches"][0];
    let order = reader.machine(stages);
    assert_eq!(
        reader.seen_parts.len(),
        artifacts.manifest.parts.len(),
        "every part is started exactly once"
    );
    let mut out = BTreeMap::new();
    paths(&order, &mut Vec::new(), &mut 0, &mut out);
    out
}

fn assert_needs_kept(source: &str, artifacts: &Artifacts) {
    let checked = approvalc_compiler::check(source);
    let model = checked.model.expect("model");
    let paths = stage_paths(artifacts);
    assert_eq!(paths.len(), model.stages.len(), "every stage runs once");
    let mut pairs = 0;
    for stage in &model.stages {
        for need in &stage.needs {
            let need = model.stage(*need).expect("need").id.as_str();
            assert!(
                before(&paths, need, stage.id.as_str()),
                "`{need}` must end before `{}`",
                stage.id.as_str()
            );
            pairs += 1;
        }
    }
    assert!(pairs > 0);
}

// ---- running parent + parts in the engine --------------------------------------------

/// Answers the stage children with a decision and runs a part's definition for a part's
/// `startExecution.sync:2`, recursively.
struct World {
    parts: BTreeMap<String, (String, Arc<Machine>)>,
    reject: Option<String>,
    /// A part machine (by name) whose start fails, as if it were not deployed.
    broken_part: Option<String>,
    decided: Vec<String>,
    /// (part name, events in its history, its worst case from the manifest).
    part_runs: Vec<(String, usize)>,
}

impl TaskHandler for World {
    fn invoke(&mut self, request: &TaskRequest<'_>) -> TaskOutcome {
        assert_eq!(request.resource, START_SYNC);
        let input = request.input;
        let arn = input["StateMachineArn"].as_str().unwrap_or_default();
        if let Some((name, machine)) = self.parts.get(arn).cloned() {
            if self.broken_part.as_deref() == Some(name.as_str()) {
                return TaskOutcome::Failure(Failure::new(
                    "StepFunctions.StateMachineDoesNotExistException",
                    format!("State Machine Does Not Exist: '{arn}'"),
                ));
            }
            let run_name = input["Name"].as_str().unwrap_or("missing").to_owned();
            let config = ExecutionConfig {
                state_machine_name: name.clone(),
                execution_name: run_name.clone(),
                account: "111111111111".into(),
                ..ExecutionConfig::default()
            };
            let mut child = Execution::start(machine, input["Input"].clone(), config);
            child.run_to_completion(self);
            self.part_runs.push((name.clone(), child.history().len()));
            let execution_arn =
                format!("arn:aws:states:us-east-1:111111111111:execution:{name}:{run_name}");
            return match child.status() {
                Status::Succeeded { output } => TaskOutcome::Success(json!({
                    "ExecutionArn": execution_arn,
                    "Output": output,
                    "Status": "SUCCEEDED",
                })),
                other => TaskOutcome::Failure(Failure::new(
                    "States.TaskFailed",
                    format!("part {name} ended {}", other.name()),
                )),
            };
        }
        let child = &input["Input"];
        let stage = child["stage"]["id"].as_str().unwrap_or_default().to_owned();
        self.decided.push(stage.clone());
        let decision = if self.reject.as_deref() == Some(stage.as_str()) {
            "rejected"
        } else {
            "approved"
        };
        TaskOutcome::Success(json!({
            "ExecutionArn": format!("arn:aws:states:us-east-1:111111111111:execution:child:{}", self.decided.len()),
            "Output": {
                "stage": stage,
                "decision": decision,
                "approvers": ["arn:aws:iam::111111111111:role/A"],
                "comment": null,
                "decided_at": "2024-01-01T00:00:00Z",
                "account": child["stage"]["account"],
                "rule": null,
            },
        }))
    }
}

fn run(artifacts: &Artifacts, reject: Option<&str>) -> (Status, World) {
    run_with(artifacts, reject, None)
}

fn run_with(
    artifacts: &Artifacts,
    reject: Option<&str>,
    broken_part: Option<&str>,
) -> (Status, World) {
    let mut parts = BTreeMap::new();
    for part in &artifacts.manifest.parts {
        let machine = Machine::load(&json_of(artifacts, &part.definition)).expect("loads");
        parts.insert(part.arn.clone(), (part.name.clone(), Arc::new(machine)));
    }
    let parent = Machine::load(&json_of(artifacts, "parent.asl.json")).expect("loads");
    let mut world = World {
        parts,
        reject: reject.map(ToOwned::to_owned),
        broken_part: broken_part.map(ToOwned::to_owned),
        decided: Vec::new(),
        part_runs: Vec::new(),
    };
    let config = ExecutionConfig {
        state_machine_name: artifacts.manifest.parent.name.clone(),
        execution_name: "run-1".into(),
        account: "111111111111".into(),
        ..ExecutionConfig::default()
    };
    let input = json!({"input": {}, "requester": "arn:aws:iam::111111111111:role/Requester"});
    let mut exec = Execution::start(Arc::new(parent), input, config);
    exec.run_to_completion(&mut world);
    let parent_events = exec.history().len() as u64;
    assert!(
        parent_events <= artifacts.manifest.parent.worst_case_history_events,
        "parent history {parent_events} above its worst case"
    );
    for (name, events) in &world.part_runs {
        let entry = artifacts
            .manifest
            .parts
            .iter()
            .find(|p| &p.name == name)
            .expect("a listed part");
        assert!(
            *events as u64 <= entry.worst_case_history_events,
            "{name}: history {events} above its worst case {}",
            entry.worst_case_history_events
        );
    }
    (exec.status().clone(), world)
}

fn output(status: &Status) -> &Value {
    match status {
        Status::Succeeded { output } => output,
        other => panic!("the run did not succeed: {other:?}"),
    }
}

#[test]
fn a_3000_stage_chain_splits_into_parts_that_fit_and_keep_the_order() {
    let source = chain(3000);
    let started = std::time::Instant::now();
    let artifacts = compile_clean(&source);
    eprintln!("chain 3000: compiled in {:?}", started.elapsed());
    assert_parts_fit(&artifacts, 2);
    assert_needs_kept(&source, &artifacts);
    let stages = &artifacts.manifest.stages;
    assert_eq!(stages.len(), 3000);
    assert!(stages.iter().any(|s| s.part.is_some()));
}

#[test]
fn a_wide_fan_splits_into_nested_parts_that_fit_and_keep_the_order() {
    let source = fan(3000);
    let artifacts = compile_clean(&source);
    assert_parts_fit(&artifacts, 2);
    assert_needs_kept(&source, &artifacts);
    let nested = artifacts
        .manifest
        .parts
        .iter()
        .any(|p| p.started_by != artifacts.manifest.parent.name);
    assert!(nested, "a fan this wide nests parts");
}

#[test]
fn a_split_chain_approves_end_to_end_and_a_late_rejection_rejects_the_run() {
    // Long enough for several parts, short enough for a debug-build engine run.
    let artifacts = compile_clean(&chain(1100));
    assert!(artifacts.manifest.parts.len() >= 2);
    let (status, world) = run(&artifacts, None);
    let out = output(&status);
    assert_eq!(out["decision"], "approved", "{out}");
    assert_eq!(world.decided.len(), 1100, "every stage decided once");
    let order: Vec<usize> = world
        .decided
        .iter()
        .map(|s| s.trim_start_matches('s').parse().expect("sN"))
        .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "the chain runs in order"
    );
    assert_eq!(world.part_runs.len(), artifacts.manifest.parts.len());
    // The parent's output holds a summary per part it started, approved.
    for part in artifacts
        .manifest
        .parts
        .iter()
        .filter(|p| p.started_by == artifacts.manifest.parent.name)
    {
        let key = part
            .name
            .rsplit('-')
            .next()
            .map(|n| format!("Part_{n}"))
            .expect("number");
        assert_eq!(out["stages"][&key]["decision"], "approved", "{key}");
    }

    // The last stage of the last part rejects: the run is rejected, later stages never run.
    let last_part = artifacts.manifest.parts.last().expect("parts");
    let victim = last_part.stages.last().expect("stages").clone();
    let (status, world) = run(&artifacts, Some(&victim));
    let out = output(&status);
    assert_eq!(out["decision"], "rejected", "{out}");
    assert_eq!(
        world.decided.last(),
        Some(&victim),
        "nothing runs after the rejection"
    );
    let key = last_part
        .name
        .rsplit('-')
        .next()
        .map(|n| format!("Part_{n}"))
        .expect("number");
    assert_eq!(out["stages"][&key]["decision"], "rejected");
}

#[test]
fn a_rejection_inside_a_nested_part_of_a_fan_rejects_the_run() {
    let artifacts = compile_clean(&fan(1500));
    let nested = artifacts
        .manifest
        .parts
        .iter()
        .find(|p| p.started_by != artifacts.manifest.parent.name)
        .expect("a nested part");
    let victim = nested.stages.first().expect("stages").clone();
    let (status, world) = run(&artifacts, Some(&victim));
    assert_eq!(output(&status)["decision"], "rejected");
    assert!(
        !world.decided.iter().any(|s| s == "sink"),
        "sink never runs"
    );
    let (status, world) = run(&artifacts, None);
    assert_eq!(output(&status)["decision"], "approved");
    assert_eq!(world.decided.len(), 1502);

    // A part that cannot start (not deployed) fails closed: the run is rejected and the
    // part's record names the error.
    let (status, world) = run_with(&artifacts, None, Some(nested.name.as_str()));
    let out = output(&status);
    assert_eq!(out["decision"], "rejected", "{out}");
    assert!(
        !world.decided.iter().any(|s| s == "sink"),
        "sink never runs"
    );
    assert!(
        !world.decided.contains(&victim),
        "the broken part's stages never run"
    );
}

#[test]
fn cross_account_stages_in_parts_trust_the_part_as_external_id() {
    let artifacts = compile_clean(&chain(3000));
    let m = &artifacts.manifest;
    let mut checked = 0;
    for stage in m.stages.iter().filter(|s| s.execute_role_arn.is_some()) {
        let role_name = stage
            .execute_role_arn
            .as_deref()
            .and_then(|a| a.rsplit('/').next())
            .expect("role name");
        let role = json_of(&artifacts, &format!("iam/other/{role_name}.role.json"));
        let external = &role["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]["StringEquals"]
            ["sts:ExternalId"];
        let expected = match &stage.part {
            Some(part) => m
                .parts
                .iter()
                .find(|p| &p.name == part)
                .expect("part")
                .arn
                .clone(),
            None => m.parent.arn.clone(),
        };
        assert_eq!(external, &json!(expected), "{}", stage.id);
        checked += 1;
    }
    assert!(checked >= 2);
    // The parent's role starts, watches and stops exactly the parts, and Step Functions
    // may assume it for the parent and each part.
    let role = json_of(&artifacts, &format!("iam/main/{}.role.json", m.parent.name));
    let statements = role["Policies"][0]["PolicyDocument"]["Statement"]
        .as_array()
        .expect("statements");
    let start = statements
        .iter()
        .find(|s| s["Sid"] == "StartParts")
        .expect("StartParts");
    let arns: Vec<&str> = m.parts.iter().map(|p| p.arn.as_str()).collect();
    assert_eq!(start["Resource"], json!(arns));
    let watch = statements
        .iter()
        .find(|s| s["Sid"] == "WatchParts")
        .expect("WatchParts");
    assert_eq!(
        watch["Resource"].as_array().map(Vec::len),
        Some(m.parts.len())
    );
    let source =
        &role["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]["ArnLike"]["aws:SourceArn"];
    assert_eq!(source.as_array().map(Vec::len), Some(m.parts.len() + 1));
}

#[test]
fn split_output_is_deterministic_and_manifest_round_trips() {
    let source = fan(1500);
    let a = compile_clean(&source).render().expect("renders");
    let b = compile_clean(&source).render().expect("renders");
    assert!(a == b, "compiling twice gives the same bytes");
    let manifest: lower::Manifest = serde_json::from_str(&a[0].1).expect("manifest reads back");
    assert!(!manifest.parts.is_empty());
    // An older manifest without `parts` still reads, with no parts.
    let mut old: Value = serde_json::from_str(&a[0].1).expect("JSON");
    old.as_object_mut().expect("object").remove("parts");
    let read: lower::Manifest = serde_json::from_value(old).expect("reads without parts");
    assert!(read.parts.is_empty());
}
