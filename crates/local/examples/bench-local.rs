//! Benchmark of local runs (issue 8): wall time to simulate a compiled 1,000-stage workflow
//! end to end (parent + 1,000 child executions + EventBridge events + callback handlers),
//! and runs per second for each example workflow; plus the latency of a stored decision
//! (sqlite) for the multi-account example.
//!
//! `cargo run --release -p approvalc-local --example bench-local [-- SIZES [SECONDS]]`
//! (defaults `100,200,300,400,500,1000` stages and 2 s per example; SECONDS 0 runs only the
//! big workflows, for profiling): prints a Markdown report for `docs/bench-local.md`. A size
//! the compiler refuses (AWS quotas: 1 MB definition, 256 KiB state) is reported as such.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use approvalc_engine::{Execution, ExecutionConfig, Status, TaskHandler, TaskOutcome, TaskRequest};
use approvalc_local::store::{NewRun, Store};
use approvalc_local::{Deployment, Faults, RunConfig, Verdict, World, simulate};
use serde_json::{Value, json};

const START_MS: i64 = 1_704_067_200_000;

const ACCOUNTS: [(&str, &str); 3] = [
    ("operator", "111111111111"),
    ("staging", "222222222222"),
    ("prod", "333333333333"),
];

/// A workflow of `stages` stages in layers of ten parallel stages; each stage needs every
/// stage of the layer before. Stages rotate over three accounts; the first of each layer is
/// a CodePipeline approval, the rest SSM `aws:approve`.
fn layered_workflow(stages: usize) -> String {
    let mut y = String::from(
        "apiVersion: approvalc/v1\nname: bench-layers\nregion: ap-northeast-1\nhome: operator\naccounts:\n",
    );
    for (name, id) in ACCOUNTS {
        let _ = writeln!(y, "  {name}: {{ id: \"{id}\" }}");
    }
    y.push_str("input:\n  v: { type: string }\ndefaults:\n  timeout: 1d\nstages:\n");
    let width = 10;
    for i in 0..stages {
        let (layer, slot) = (i / width, i % width);
        let (account, id) = ACCOUNTS[slot % ACCOUNTS.len()];
        let _ = writeln!(y, "  s{i}:");
        if layer > 0 {
            let needs: Vec<String> = (0..width)
                .map(|k| (layer - 1) * width + k)
                .filter(|k| *k < stages)
                .map(|k| format!("s{k}"))
                .collect();
            let _ = writeln!(y, "    needs: [{}]", needs.join(", "));
        }
        if account != "operator" {
            let _ = writeln!(y, "    account: {account}");
        }
        let kind = if slot == 0 { "codepipeline" } else { "ssm" };
        let _ = writeln!(
            y,
            "    {kind}:\n      approvers: [arn:aws:iam::{id}:role/Approver{i}]"
        );
        if kind == "ssm" {
            let _ = writeln!(y, "      message: \"stage {i} of {{{{ input.v }}}}\"");
        }
    }
    y
}

/// Answers every `.sync:2` stage task at once with an approved child result, so the parent
/// machine runs alone in the engine: what the parent costs without children, services,
/// events and handlers. A split workflow's part tasks run the part machine (recursively,
/// with the same answers), since parts are the parent cut into pieces.
struct InstantChildren<'a> {
    deployment: &'a Deployment,
}

impl TaskHandler for InstantChildren<'_> {
    fn invoke(&mut self, request: &TaskRequest<'_>) -> TaskOutcome {
        let arn = request.input["StateMachineArn"]
            .as_str()
            .unwrap_or_default();
        let part = self.deployment.manifest.parts.iter().find(|p| p.arn == arn);
        if let Some(part) = part {
            let d = self.deployment;
            let Some(machine) = d.home().and_then(|a| a.machines.get(&part.name)).cloned() else {
                return TaskOutcome::Failure(approvalc_engine::Failure::new(
                    "States.TaskFailed",
                    "part not deployed",
                ));
            };
            let config = ExecutionConfig {
                state_machine_name: part.name.clone(),
                execution_name: "bench".into(),
                account: d.manifest.home.id.clone(),
                region: d.manifest.region.clone(),
                role_arn: part.role_arn.clone(),
                record_history: false,
                ..ExecutionConfig::default()
            };
            let mut exec = Execution::start(machine, request.input["Input"].clone(), config);
            exec.run_to_completion(self);
            return match exec.status() {
                Status::Succeeded { output } => TaskOutcome::Success(json!({
                    "ExecutionArn": format!("arn:aws:states:{}:{}:execution:{}:bench", d.manifest.region, d.manifest.home.id, part.name),
                    "Output": output,
                    "Status": "SUCCEEDED",
                })),
                other => TaskOutcome::Failure(approvalc_engine::Failure::new(
                    "States.TaskFailed",
                    other.name().to_owned(),
                )),
            };
        }
        let stage = request.input.pointer("/Input/stage/id").cloned();
        TaskOutcome::Success(json!({
            "ExecutionArn": "arn:aws:states:ap-northeast-1:111111111111:execution:child:x",
            "Output": {"stage": stage, "decision": "approved", "approvers": ["arn:aws:iam::111111111111:role/A"],
                "comment": null, "decided_at": "2024-01-01T00:00:00Z", "account": "operator", "rule": null},
        }))
    }
}

/// CPU time of the parent alone, and whether it approved.
fn parent_alone(deployment: &Deployment, history: bool) -> (Duration, bool) {
    let config = ExecutionConfig {
        state_machine_name: deployment.manifest.parent.name.clone(),
        execution_name: "bench".into(),
        account: deployment.manifest.home.id.clone(),
        region: deployment.manifest.region.clone(),
        role_arn: deployment.manifest.parent.role_arn.clone(),
        record_history: history,
        ..ExecutionConfig::default()
    };
    let input = json!({"input": {"v": "1.0"}, "requester": "arn:aws:iam::111111111111:user/bench"});
    let t = Instant::now();
    let mut exec = Execution::start(deployment.parent.clone(), input, config);
    exec.run_to_completion(&mut InstantChildren { deployment });
    let approved =
        matches!(exec.status(), Status::Succeeded { output } if output["decision"] == "approved");
    (t.elapsed(), approved)
}

struct Timed {
    compile: Duration,
    deploy: Duration,
    run: Duration,
    cpu: Duration,
    parent_alone: Duration,
    transitions: u64,
    executions: usize,
    /// Part machines of a split workflow (0: the parent is one machine).
    parts: usize,
    events: usize,
    handler_calls: usize,
    decision: String,
}

fn config(record_history: bool) -> RunConfig {
    RunConfig {
        run_id: "bench".into(),
        requester: "arn:aws:iam::111111111111:user/bench".into(),
        seed: 1,
        start_ms: START_MS,
        record_history,
        auto_actions: false,
    }
}

fn compile(source: &str) -> Result<Vec<(String, String)>, String> {
    let compiled = approvalc_compiler::lower::compile(source);
    if compiled.has_errors() {
        let messages: Vec<String> = compiled
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| format!("{}: {}", d.code, d.message))
            .collect();
        return Err(messages.join("; "));
    }
    let artifacts = compiled.artifacts.ok_or("no artifacts")?;
    artifacts.render().map_err(|e| e.to_string())
}

fn end_to_end(source: &str, input: &Value, record_history: bool) -> Result<Timed, String> {
    let t = Instant::now();
    let files = compile(source)?;
    let compile = t.elapsed();
    let t = Instant::now();
    let deployment =
        Arc::new(Deployment::from_files(&files, Faults::default()).map_err(|e| e.to_string())?);
    let deploy = t.elapsed();
    let (parent_alone, parent_approved) = parent_alone(&deployment, record_history);
    if !parent_approved {
        return Err("the parent alone did not approve".into());
    }
    let t = Instant::now();
    let cpu_before = thread_cpu();
    let (world, report) = simulate(deployment, input.clone(), config(record_history), &[])
        .map_err(|e| e.to_string())?;
    let run = t.elapsed();
    let cpu = thread_cpu().saturating_sub(cpu_before);
    Ok(Timed {
        compile,
        deploy,
        run,
        cpu,
        parent_alone,
        transitions: world.transitions(),
        executions: world.executions().count(),
        parts: world.deployment().manifest.parts.len(),
        events: world.services().published.len(),
        handler_calls: world.handler_calls().len(),
        decision: report.decision.unwrap_or_default(),
    })
}

/// CPU time of this thread (`/proc/thread-self/schedstat`, ns on CPU): the machine these
/// figures come from is shared, so wall time alone overstates the cost.
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs.get(xs.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

const EXAMPLES: [(&str, &str); 5] = [
    ("ssm-single", r#"{"change": "raise limits"}"#),
    ("codepipeline-single", r#"{"page": "news/a.html"}"#),
    (
        "multi-level-cross-account",
        r#"{"version": "v1.0.0", "ticket": "REL-1"}"#,
    ),
    (
        "conditional-escalation",
        r#"{"change_id": "CHG-1234", "summary": "x", "risk": "high"}"#,
    ),
    (
        "temporary-privilege",
        r#"{"requester": "bob", "reason": "debug"}"#,
    ),
];

/// Runs per second of one example: simulate (all stages approved) repeatedly for `budget`
/// on one deployment, as `approvalc test` does per scenario.
fn throughput(name: &str, input: &str, budget: Duration) -> Result<String, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../workflows")
        .join(format!("{name}.yaml"));
    let source = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let files = compile(&source)?;
    let deployment =
        Arc::new(Deployment::from_files(&files, Faults::default()).map_err(|e| e.to_string())?);
    let input: Value = serde_json::from_str(input).map_err(|e| e.to_string())?;
    let mut row = String::new();
    for history in [true, false] {
        let started = Instant::now();
        let (mut runs, mut transitions) = (0u64, 0u64);
        while started.elapsed() < budget {
            let (world, _) = simulate(deployment.clone(), input.clone(), config(history), &[])
                .map_err(|e| e.to_string())?;
            transitions = world.transitions();
            runs += 1;
        }
        let per_s = runs as f64 / started.elapsed().as_secs_f64();
        let _ = write!(row, " {per_s:.0} |");
        if !history {
            let _ = write!(row, " {transitions} |");
        }
    }
    Ok(format!("| {name} |{row}"))
}

/// A stored run of the multi-account example decided stage by stage through the sqlite
/// store, as `approvalc approve` does (one transaction per decision).
fn stored_decisions() -> Result<String, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../workflows/multi-level-cross-account.yaml");
    let source = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
    let files = compile(&source)?;
    let deployment =
        Arc::new(Deployment::from_files(&files, Faults::default()).map_err(|e| e.to_string())?);
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut store = Store::open(dir.path()).map_err(|e| e.to_string())?;
    let steps = [
        ("team-lead", "arn:aws:iam::111111111111:role/TeamLead"),
        ("qa", "arn:aws:iam::222222222222:role/QaLead"),
        ("prod-owner", "arn:aws:iam::333333333333:role/ProdOwner"),
        ("prod-owner", "arn:aws:iam::333333333333:role/ProdDeputy"),
        (
            "release-manager",
            "arn:aws:iam::111111111111:role/ReleaseManager",
        ),
    ];
    let mut creates = Vec::new();
    let mut decides = Vec::new();
    let mut looks = Vec::new();
    for round in 0..20 {
        let mut cfg = config(true);
        cfg.run_id = format!("bench-{round}");
        let t = Instant::now();
        let world = World::start(
            deployment.clone(),
            json!({"version": "v1.0.0", "ticket": "REL-1"}),
            cfg.clone(),
        )
        .map_err(|e| e.to_string())?;
        store
            .create(
                &NewRun {
                    source: "bench",
                    files: &files,
                    faults: &Faults::default(),
                },
                &world,
            )
            .map_err(|e| e.to_string())?;
        creates.push(t.elapsed());
        for (stage, who) in steps {
            let t = Instant::now();
            store
                .update(&cfg.run_id, START_MS, |w| {
                    w.decide(stage, Verdict::Approve, who, None)
                })
                .map_err(|e| e.to_string())?;
            decides.push(t.elapsed());
            let t = Instant::now();
            store
                .observe(&cfg.run_id, START_MS, |_| ())
                .map_err(|e| e.to_string())?;
            looks.push(t.elapsed());
        }
    }
    Ok(format!(
        "| start + store a run | {} |\n| one decision (read, restore, decide, write, commit) | {} |\n| one look (`status`: read, restore, report) | {} |\n",
        ms(median(creates)),
        ms(median(decides)),
        ms(median(looks)),
    ))
}

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sizes: Vec<usize> = match args.first() {
        Some(list) => list.split(',').filter_map(|n| n.parse().ok()).collect(),
        None => vec![100, 200, 300, 400, 500, 1000],
    };
    let seconds: f64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(2.0);
    let budget = Duration::from_secs_f64(seconds);
    let input = json!({"v": "1.0"});
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### Big workflows end to end (layers of 10 parallel stages, each needing the whole layer before; 3 accounts; every stage approved; medians of 3)\n"
    );
    let _ = writeln!(
        out,
        "| stages | history | compile | deploy (load artifacts) | simulate (wall) | simulate (CPU) | per stage (CPU) | parent alone (CPU) | parts | transitions | executions | bus events | handler calls | decision |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for &stages in &sizes {
        let source = layered_workflow(stages);
        for history in [true, false] {
            let mut runs = Vec::new();
            for _ in 0..3 {
                match end_to_end(&source, &input, history) {
                    Ok(run) => runs.push(run),
                    Err(why) => {
                        let _ = writeln!(
                            out,
                            "| {stages} | | does not compile: {why} | | | | | | | | |"
                        );
                        break;
                    }
                }
            }
            let Some(last) = runs.last() else {
                break;
            };
            let cpu = median(runs.iter().map(|r| r.cpu).collect());
            let per_stage = cpu / u32::try_from(stages).unwrap_or(1).max(1);
            let _ = writeln!(
                out,
                "| {stages} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                if history { "on" } else { "off" },
                ms(median(runs.iter().map(|r| r.compile).collect())),
                ms(median(runs.iter().map(|r| r.deploy).collect())),
                ms(median(runs.iter().map(|r| r.run).collect())),
                ms(cpu),
                ms(per_stage),
                ms(median(runs.iter().map(|r| r.parent_alone).collect())),
                last.parts,
                last.transitions,
                last.executions,
                last.events,
                last.handler_calls,
                last.decision,
            );
        }
    }
    if budget.is_zero() {
        // `bench-local SIZES 0`: only the big workflows (for profiling).
        print!("{out}");
        return Ok(());
    }
    let _ = writeln!(
        out,
        "\n### Runs per second of the example workflows (one deployment, `simulate`, every stage approved, {seconds} s each)\n"
    );
    let _ = writeln!(
        out,
        "| workflow | runs/s, history on | runs/s, history off | transitions per run |\n|---|---|---|---|"
    );
    for (name, input) in EXAMPLES {
        let _ = writeln!(out, "{}", throughput(name, input, budget)?);
    }
    let _ = writeln!(
        out,
        "\n### Stored runs (sqlite, WAL, synchronous=FULL), multi-level-cross-account, medians of 20 runs\n\n| operation | time |\n|---|---|"
    );
    out.push_str(&stored_decisions()?);
    print!("{out}");
    Ok(())
}
