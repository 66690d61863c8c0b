//! `approvalc asl …`: work with Amazon States Language definitions directly.
//!
//! `asl exec DEFINITION.json --input JSON [--task-results FILE] [--history]` runs a
//! definition in the embedded engine (virtual clock: Waits and timeouts cost nothing) and
//! prints `{status, output, error, cause}` as JSON. Exit 0 when the execution ran, whatever
//! its status; 1 for a bad definition, input or task-results file (a diagnostic); 2 internal.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use approvalc_engine::{
    Execution, ExecutionConfig, LoadError, Machine, Progress, ScriptedTaskHandler, outcome_json,
};
use miette::MietteDiagnostic;
use serde_json::Value;

use crate::Exit;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Execute a state machine definition locally (JSONPath ASL, simulated time).
    #[command(after_help = "\
Examples:
  approvalc asl exec machine.asl.json --input '{\"n\": 1}'
  approvalc asl exec machine.asl.json --input @input.json --task-results tasks.json --history

--task-results is a JSON array answered in order, one entry per Task attempt:
  {\"state\": \"Name\"?, \"result\": …} or {\"state\"?, \"error\": \"Name\", \"cause\": …}
An entry with \"error\": \"States.Timeout\" makes the task wait until its TimeoutSeconds.")]
    Exec(ExecArgs),
}

#[derive(Debug, clap::Args)]
pub struct ExecArgs {
    /// The ASL definition (JSON file).
    definition: PathBuf,
    /// Execution input: JSON text, or @FILE to read it from a file.
    #[arg(long, default_value = "{}")]
    input: String,
    /// Scripted task results (JSON array), consumed in order by Task states.
    #[arg(long, value_name = "FILE")]
    task_results: Option<PathBuf>,
    /// Also print the execution history (AWS GetExecutionHistory events).
    #[arg(long)]
    history: bool,
    /// Simulated start time (RFC 3339); defaults to the current time.
    #[arg(long, value_name = "TIMESTAMP")]
    start_time: Option<String>,
    /// Execution name (used in `$$.Execution` and task tokens).
    #[arg(long, default_value = "local")]
    name: String,
    /// Seed for States.UUID, States.MathRandom and retry jitter.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// A user error of `asl exec`: what to print, its stable code and a hint. Boxed: a
/// diagnostic is large and the error path is cold, so `Result`s stay small.
#[derive(Debug)]
struct ExecError(Box<MietteDiagnostic>);

impl ExecError {
    fn new(code: &str, message: String, help: Option<&str>) -> Self {
        let mut d = MietteDiagnostic::new(message).with_code(code);
        if let Some(help) = help {
            d = d.with_help(help);
        }
        Self(Box::new(d))
    }

    fn read(path: &Path, err: &std::io::Error) -> Self {
        Self::new(
            "approvalc::asl::read",
            format!("cannot read {}: {err}", path.display()),
            None,
        )
    }

    fn json(what: &str, err: &serde_json::Error) -> Self {
        Self::new(
            "approvalc::asl::json",
            format!("{what} is not valid JSON: {err}"),
            Some("check quoting: the shell may eat double quotes"),
        )
    }
}

pub fn run(command: Command) -> miette::Result<Exit> {
    match command {
        Command::Exec(args) => match exec(&args) {
            Ok(()) => Ok(Exit::Success),
            Err(err) => {
                eprintln!("{:?}", miette::Report::new(*err.0));
                Ok(Exit::UserError)
            }
        },
    }
}

fn exec(args: &ExecArgs) -> Result<(), ExecError> {
    let definition = read_json(&args.definition, "the definition")?;
    let input = match args.input.strip_prefix('@') {
        Some(path) => read_json(Path::new(path), "the input")?,
        None => serde_json::from_str(&args.input).map_err(|e| ExecError::json("--input", &e))?,
    };
    let mut handler = match &args.task_results {
        Some(path) => {
            let list = read_json(path, "the task results")?;
            ScriptedTaskHandler::from_json(&list).map_err(|e| {
                ExecError::new(
                    "approvalc::asl::task_results",
                    format!("--task-results must be a JSON array of {{state?, result | error, cause?}}: {e}"),
                    None,
                )
            })?
        }
        None => ScriptedTaskHandler::default(),
    };
    let start_time_ms = match &args.start_time {
        Some(text) => approvalc_engine::clock::parse_timestamp(text).ok_or_else(|| {
            ExecError::new(
                "approvalc::asl::start_time",
                format!("--start-time `{text}` is not an RFC 3339 timestamp"),
                Some("for example 2024-01-01T00:00:00Z"),
            )
        })?,
        // The CLI, not the engine, decides what "now" is.
        None => wall_clock_ms(),
    };
    let machine = Arc::new(Machine::load(&definition).map_err(|e| definition_error(&e))?);
    let config = ExecutionConfig {
        state_machine_name: state_machine_name(&args.definition),
        execution_name: args.name.clone(),
        start_time_ms,
        seed: args.seed,
        ..ExecutionConfig::default()
    };
    let mut execution = Execution::start(machine, input, config);
    let progress = execution.run_to_completion(&mut handler);
    let mut out = outcome_json(execution.status());
    if let (Progress::Waiting { tokens, .. }, Some(obj)) = (&progress, out.as_object_mut()) {
        obj.insert("waiting_for_tokens".into(), tokens.clone().into());
    }
    if let (true, Some(obj)) = (args.history, out.as_object_mut()) {
        obj.insert("history".into(), execution.history_json());
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&out).unwrap_or_else(|_| out.to_string())
    );
    Ok(())
}

fn read_json(path: &Path, what: &str) -> Result<Value, ExecError> {
    let text = std::fs::read_to_string(path).map_err(|e| ExecError::read(path, &e))?;
    serde_json::from_str(&text)
        .map_err(|e| ExecError::json(&format!("{what} ({})", path.display()), &e))
}

fn definition_error(err: &LoadError) -> ExecError {
    ExecError::new(
        "approvalc::asl::definition",
        format!("the definition cannot be run: {err}"),
        Some(
            "the engine runs JSONPath ASL; it refuses what it cannot run exactly \
             (JSONata, S3-backed maps) rather than approximate it",
        ),
    )
}

fn wall_clock_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// `out/ssm-single/parent.asl.json` → `parent`.
fn state_machine_name(path: &Path) -> String {
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| "StateMachine".into());
    let stem = file
        .strip_suffix(".asl.json")
        .or_else(|| file.strip_suffix(".json"))
        .unwrap_or(&file);
    if stem.is_empty() {
        "StateMachine".into()
    } else {
        stem.to_owned()
    }
}
