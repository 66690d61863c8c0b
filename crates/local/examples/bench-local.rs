//! Benchmark of local runs (issue 8): wall time to simulate a compiled 1,000-stage workflow
//! end to end (parent + 1,000 child executions + EventBridge events + callback handlers),
//! and runs per second for each example workflow; plus the latency of a stored decision
//! (sqlite) for the multi-account example.
//!
//! `cargo run --release -p approvalc-local --example bench-local [-- STAGES [SECONDS]]`
//! (defaults 1000 and 2): prints a Markdown report for `docs/bench-local.md`.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

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

struct Timed {
    compile: Duration,
    deploy: Duration,
    run: Duration,
    transitions: u64,
    executions: usize,
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
    let t = Instant::now();
    let (world, report) = simulate(deployment, input.clone(), config(record_history), &[])
        .map_err(|e| e.to_string())?;
    let run = t.elapsed();
    Ok(Timed {
        compile,
        deploy,
        run,
        transitions: world.transitions(),
        executions: world.executions().count(),
        events: world.services().published.len(),
        handler_calls: world.handler_calls().len(),
        decision: report.decision.unwrap_or_default(),
    })
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
    let stages: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let seconds: f64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(2.0);
    let budget = Duration::from_secs_f64(seconds);
    let source = layered_workflow(stages);
    let input = json!({"v": "1.0"});
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### {stages}-stage workflow end to end ({} layers of 10 parallel stages, 3 accounts, every stage approved)\n",
        stages.div_ceil(10)
    );
    let _ = writeln!(
        out,
        "| history | compile | deploy (load artifacts) | simulate | transitions | executions | bus events | handler calls | decision |\n|---|---|---|---|---|---|---|---|---|"
    );
    for history in [true, false] {
        let mut runs = Vec::new();
        for _ in 0..3 {
            runs.push(end_to_end(&source, &input, history)?);
        }
        let last = runs.last().ok_or("no run")?;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            if history { "on" } else { "off" },
            ms(median(runs.iter().map(|r| r.compile).collect())),
            ms(median(runs.iter().map(|r| r.deploy).collect())),
            ms(median(runs.iter().map(|r| r.run).collect())),
            last.transitions,
            last.executions,
            last.events,
            last.handler_calls,
            last.decision,
        );
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
