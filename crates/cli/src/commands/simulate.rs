//! `approvalc simulate FILE --input JSON --decide STAGE=approve|reject|timeout[@PRINCIPAL]`:
//! one local run to its end in simulated time, with scripted decisions. Also the shared
//! pieces of the local-run commands: loading a workflow or an artifacts directory into the
//! simulated deployment, and drawing a run as a stage tree.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use approvalc_local::{Decision, Deployment, Faults, Files, RunConfig, RunReport, StageReport};
use serde_json::Value;

use crate::Exit;
use crate::render::{self, Style};

const AFTER_HELP: &str = "\
FILE is a workflow (compiled in memory) or a directory written by `approvalc compile`.
Each request of a stage takes the next --decide entry for it (an escalation is a second
request); a stage without one is approved by its approvers. Nothing reads the wall clock:
a 3-day timeout passes at once.

Exit status: 0 the run ended (approved or rejected), 1 a bad workflow, input or decision,
2 an unreadable file or an internal error.

Examples:
  approvalc simulate workflows/ssm-single.yaml --input '{\"ticket\": \"OPS-1\"}'
  approvalc simulate workflows/multi-level-cross-account.yaml --input @run.json \\
      --decide qa=reject@arn:aws:iam::222222222222:user/qa-oncall --format json
  approvalc simulate workflows/conditional-escalation.yaml --input @in.json \\
      --decide service-owner=timeout --decide service-owner=approve";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The stage tree.
    Human,
    /// `{decision, stages: {id: {decision, approvers, comment, decided_at, account}}, transitions}`.
    Json,
}

/// Options shared by `simulate`, `run` and `test`: who starts the run and what is deployed.
#[derive(Debug, Clone, clap::Args)]
pub struct RunOptions {
    /// The principal that starts the run (`requester_cannot_approve` compares with it).
    #[arg(long, value_name = "ARN")]
    pub requester: Option<String>,
    /// Seed of every generated id (the same seed gives the same run).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Simulate an account whose bootstrap stack was never deployed.
    #[arg(long = "not-bootstrapped", value_name = "ACCOUNT")]
    pub not_bootstrapped: Vec<String>,
    /// Simulate a role (by name) that was never created.
    #[arg(long = "missing-role", value_name = "ROLE")]
    pub missing_roles: Vec<String>,
    /// Simulate a trust policy demanding another sts:ExternalId: ROLE=VALUE.
    #[arg(long = "external-id", value_name = "ROLE=VALUE")]
    pub external_ids: Vec<String>,
}

impl RunOptions {
    pub fn faults(&self) -> Result<Faults, String> {
        let mut faults = Faults {
            not_bootstrapped: self.not_bootstrapped.clone(),
            missing_roles: self.missing_roles.clone(),
            ..Faults::default()
        };
        for entry in &self.external_ids {
            let (role, value) = entry
                .split_once('=')
                .ok_or_else(|| format!("--external-id {entry}: expected ROLE=VALUE"))?;
            faults
                .external_id_overrides
                .insert(role.to_owned(), value.to_owned());
        }
        Ok(faults)
    }
}

#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// Workflow file, or a directory of compiled artifacts.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Run input: JSON text, or @FILE.
    #[arg(long, default_value = "{}")]
    input: String,
    /// STAGE=approve|reject|timeout[@PRINCIPAL]; repeat for several stages or attempts.
    #[arg(long = "decide", value_name = "STAGE=DECISION")]
    decide: Vec<String>,
    #[command(flatten)]
    options: RunOptions,
    /// Simulated start time (RFC 3339); default 2024-01-01T00:00:00Z.
    #[arg(long = "start-time", value_name = "TIME")]
    start_time: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

/// 2024-01-01T00:00:00Z: simulations start here unless told otherwise, so they repeat.
pub const DEFAULT_START_MS: i64 = 1_704_067_200_000;

pub fn run(args: Args) -> miette::Result<Exit> {
    let faults = match args.options.faults() {
        Ok(f) => f,
        Err(e) => return Ok(user_error(&e)),
    };
    let (_, deployment) = match load(&args.file, faults) {
        Ok(loaded) => loaded,
        Err(exit) => return Ok(exit),
    };
    let input = match parse_input(&args.input) {
        Ok(v) => v,
        Err(e) => return Ok(user_error(&e)),
    };
    let mut decisions = Vec::new();
    for d in &args.decide {
        match d.parse::<Decision>() {
            Ok(d) => decisions.push(d),
            Err(e) => return Ok(user_error(&format!("--decide {e}"))),
        }
    }
    let start_ms = match args.start_time.as_deref().map(parse_time) {
        None => DEFAULT_START_MS,
        Some(Ok(ms)) => ms,
        Some(Err(e)) => return Ok(user_error(&e)),
    };
    let config = RunConfig {
        run_id: "simulation".into(),
        requester: requester(&args.options, &deployment),
        seed: args.options.seed,
        start_ms,
        record_history: true,
        auto_actions: false,
    };
    match approvalc_local::simulate(deployment.clone(), input, config, &decisions) {
        Ok((_, report)) => {
            if args.format == Format::Json {
                // Exactly the documented shape (RunReport::to_json), nothing more.
                let text = serde_json::to_string_pretty(&report.to_json()).unwrap_or_default();
                println!("{text}");
            } else {
                print!("{}", tree(&report, &deployment));
            }
            Ok(Exit::Success)
        }
        Err(e) => Ok(local_error(&e)),
    }
}

/// Prints a stored run's report as detailed JSON or as the stage tree.
pub fn print_report(report: &RunReport, deployment: &Deployment, json: bool) {
    if json {
        let text = serde_json::to_string_pretty(&report.to_detailed_json()).unwrap_or_default();
        println!("{text}");
    } else {
        print!("{}", tree(report, deployment));
    }
}

/// The default requester: a user in the home account that approves nothing.
pub fn requester(options: &RunOptions, deployment: &Deployment) -> String {
    options.requester.clone().unwrap_or_else(|| {
        format!(
            "arn:aws:iam::{}:user/approvalc-local-requester",
            deployment.manifest.home.id
        )
    })
}

pub fn user_error(message: &str) -> Exit {
    eprintln!("error: {message}");
    Exit::UserError
}

/// A local-run error: the user's (1) unless the artifacts or the store are broken (2).
pub fn local_error(e: &approvalc_local::LocalError) -> Exit {
    use approvalc_local::LocalError as E;
    eprintln!("error: {e}");
    match e {
        E::Artifacts(_) | E::Store(_) | E::Internal(_) => Exit::Internal,
        _ => Exit::UserError,
    }
}

pub fn parse_time(text: &str) -> Result<i64, String> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_millis())
        .map_err(|e| format!("{text:?} is not an RFC 3339 time: {e}"))
}

/// `--input`: JSON text or `@FILE`.
pub fn parse_input(text: &str) -> Result<Value, String> {
    let owned;
    let json = match text.strip_prefix('@') {
        Some(path) => {
            owned =
                std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
            owned.as_str()
        }
        None => text,
    };
    let value: Value =
        serde_json::from_str(json).map_err(|e| format!("--input is not JSON: {e}"))?;
    if !value.is_object() {
        return Err("--input must be a JSON object".into());
    }
    Ok(value)
}

/// Compiles a workflow file (diagnostics printed) or reads a compiled directory, and
/// deploys it into the simulation.
pub fn load(path: &Path, faults: Faults) -> Result<(Files, Arc<Deployment>), Exit> {
    let files = if path.is_dir() {
        read_dir(path)?
    } else {
        compile(path)?
    };
    match Deployment::from_files(&files, faults) {
        Ok(d) => Ok((files, Arc::new(d))),
        Err(e) => Err(local_error(&e)),
    }
}

fn compile(path: &Path) -> Result<Files, Exit> {
    let file = path.display().to_string();
    let source = std::fs::read_to_string(path).map_err(|e| {
        eprintln!("error: cannot read {file}: {e}");
        Exit::Internal
    })?;
    let compiled = approvalc_compiler::lower::compile(&source);
    let style = Style::for_stderr();
    for d in compiled.diagnostics.iter().filter(|d| d.is_error()) {
        eprint!("{}", render::human(&file, &source, d, style));
    }
    let artifacts = compiled
        .artifacts
        .as_ref()
        .filter(|_| !compiled.has_errors())
        .ok_or_else(|| {
            eprintln!(
                "error: {file} does not compile; `approvalc check {file}` shows every problem"
            );
            Exit::UserError
        })?;
    artifacts.render().map_err(|e| {
        eprintln!("error: cannot render the artifacts: {e}");
        Exit::Internal
    })
}

fn read_dir(dir: &Path) -> Result<Files, Exit> {
    let read = |rel: &str| {
        std::fs::read_to_string(dir.join(rel)).map_err(|e| {
            eprintln!("error: cannot read {}: {e}", dir.join(rel).display());
            Exit::Internal
        })
    };
    let manifest_text = read("manifest.json")?;
    let manifest: approvalc_compiler::lower::Manifest = serde_json::from_str(&manifest_text)
        .map_err(|e| {
            eprintln!("error: {}/manifest.json: {e}", dir.display());
            Exit::Internal
        })?;
    let mut files = vec![("manifest.json".to_owned(), manifest_text)];
    for entry in &manifest.files {
        if entry.path.split('/').any(|part| part == "..") {
            eprintln!(
                "error: manifest.json lists a path outside the directory: {}",
                entry.path
            );
            return Err(Exit::Internal);
        }
        files.push((entry.path.clone(), read(&entry.path)?));
    }
    Ok(files)
}

/// The stage tree: the parent's series-parallel shape with each stage's record.
pub fn tree(report: &RunReport, deployment: &Deployment) -> String {
    let mut out = format!(
        "{} {}: {} ({}, {} transitions)\n",
        report.workflow,
        report.run_id,
        report.decision.as_deref().unwrap_or("running"),
        report.status,
        report.transitions
    );
    if let Some(error) = &report.error {
        out.push_str(&format!("  error: {error}\n"));
    }
    // A split workflow's part tasks are drawn as the part's own stages, in place.
    let parts: std::collections::BTreeMap<String, &Value> = deployment
        .manifest
        .parts
        .iter()
        .filter_map(|p| {
            let machine = deployment.home()?.machines.get(&p.name)?;
            Some((p.arn.clone(), machine.source()))
        })
        .collect();
    let shape = shape(
        deployment.parent.source(),
        &parts,
        &deployment
            .manifest
            .stages
            .iter()
            .map(|s| s.id.clone())
            .collect::<Vec<_>>(),
    );
    draw(&shape, report, 1, &mut out);
    out
}

/// A node of the stage tree.
#[derive(Debug, Clone)]
pub enum Node {
    Stage(String),
    Parallel(Vec<Vec<Node>>),
}

/// Reads the series-parallel shape back from the parent definition (stage tasks write
/// `$.stages.<key>`; `Parallel` states hold branches).
fn shape(
    definition: &Value,
    parts: &std::collections::BTreeMap<String, &Value>,
    ids: &[String],
) -> Vec<Node> {
    let mut seen = std::collections::BTreeSet::new();
    let mut nodes = walk(definition, parts, ids, &mut seen);
    // Anything the walk missed is still shown.
    for id in ids {
        if !seen.contains(id) {
            nodes.push(Node::Stage(id.clone()));
        }
    }
    nodes
}

fn walk(
    graph: &Value,
    parts: &std::collections::BTreeMap<String, &Value>,
    ids: &[String],
    seen: &mut std::collections::BTreeSet<String>,
) -> Vec<Node> {
    let mut out = Vec::new();
    let Some(states) = graph.get("States").and_then(Value::as_object) else {
        return out;
    };
    let mut stack: Vec<String> = graph
        .get("StartAt")
        .and_then(Value::as_str)
        .map(ToOwned::to_owned)
        .into_iter()
        .collect();
    let mut visited = std::collections::BTreeSet::new();
    while let Some(name) = stack.pop() {
        if !visited.insert(name.clone()) {
            continue;
        }
        let Some(state) = states.get(&name) else {
            continue;
        };
        let result_path = state
            .get("ResultPath")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if state.get("Type").and_then(Value::as_str) == Some("Task")
            && let Some(key) = result_path.strip_prefix("$.stages.")
            && let Some(id) = ids.iter().find(|id| id.replace('-', "_") == key)
            && seen.insert(id.clone())
        {
            out.push(Node::Stage(id.clone()));
        }
        if let Some(part) = state
            .pointer("/Parameters/StateMachineArn")
            .and_then(Value::as_str)
            .and_then(|arn| parts.get(arn))
        {
            out.extend(walk(part, parts, ids, seen));
        }
        if let Some(branches) = state.get("Branches").and_then(Value::as_array) {
            let inner: Vec<Vec<Node>> = branches
                .iter()
                .map(|b| walk(b, parts, ids, seen))
                .filter(|b| !b.is_empty())
                .collect();
            match inner.len() {
                0 => {}
                1 => out.extend(inner.into_iter().flatten()),
                _ => out.push(Node::Parallel(inner)),
            }
        }
        let mut next: Vec<String> = Vec::new();
        if let Some(n) = state.get("Next").and_then(Value::as_str) {
            next.push(n.to_owned());
        }
        for choice in state
            .get("Choices")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(n) = choice.get("Next").and_then(Value::as_str) {
                next.push(n.to_owned());
            }
        }
        if let Some(n) = state.get("Default").and_then(Value::as_str) {
            next.push(n.to_owned());
        }
        // Depth first in written order.
        stack.extend(next.into_iter().rev());
    }
    out
}

fn draw(nodes: &[Node], report: &RunReport, depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    for node in nodes {
        match node {
            Node::Stage(id) => {
                if let Some(stage) = report.stages.iter().find(|s| &s.id == id) {
                    out.push_str(&format!("{pad}{}\n", stage_line(stage)));
                    if let Some(p) = &stage.pending {
                        out.push_str(&format!(
                            "{pad}    waiting for {} of: {}\n",
                            p.min_approvals.saturating_sub(p.decided_by.len()).max(1),
                            p.may_act.join(", ")
                        ));
                        if !p.decided_by.is_empty() {
                            out.push_str(&format!(
                                "{pad}    approved so far by: {}\n",
                                p.decided_by.join(", ")
                            ));
                        }
                    }
                }
            }
            Node::Parallel(branches) => {
                out.push_str(&format!("{pad}in parallel:\n"));
                for (i, branch) in branches.iter().enumerate() {
                    out.push_str(&format!("{pad}  branch {}:\n", i + 1));
                    draw(branch, report, depth + 2, out);
                }
            }
        }
    }
}

fn stage_line(s: &StageReport) -> String {
    let mut line = format!("{:<10} {} ({}, {})", s.decision, s.id, s.kind, s.account);
    if !s.approvers.is_empty() {
        line.push_str(&format!(" by {}", s.approvers.join(", ")));
    }
    if let Some(at) = &s.decided_at {
        line.push_str(&format!(" at {at}"));
    }
    if let Some(attempt) = s.attempt.as_deref().filter(|a| *a == "escalation") {
        line.push_str(&format!(" [{attempt}]"));
    }
    if let Some(rule) = &s.rule {
        line.push_str(&format!(" — breaks {rule}"));
    }
    if let Some(error) = &s.error {
        line.push_str(&format!(" — error {error}"));
    }
    if let Some(comment) = &s.comment {
        line.push_str(&format!(" — \"{comment}\""));
    }
    line
}
