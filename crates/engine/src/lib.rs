//! The embedded Step Functions interpreter: runs Amazon States Language definitions
//! (JSONPath query language) locally, with AWS's semantics and a virtual clock.
//!
//! * [`Machine::load`] checks a definition and compiles it once (state names become indices,
//!   paths and templates are parsed); a definition the engine cannot run faithfully (JSONata,
//!   S3-backed distributed maps) is refused with a [`LoadError`] that names the
//!   state and field.
//! * [`Execution`] is a pure state machine over simulated time: events in ([`Execution::run`],
//!   [`Execution::advance_clock`], [`Execution::send_task_success`] /
//!   [`send_task_failure`](Execution::send_task_failure) / [`send_task_heartbeat`](Execution::send_task_heartbeat)),
//!   history and [`Progress`] (open tokens, next timer) out. It never reads the wall clock;
//!   [`Execution::run_to_completion`] jumps from timer to timer, so a 7-day Wait costs
//!   nothing. Its state is a serialisable [`Snapshot`] (persist it, [`Execution::restore`]
//!   it when a callback arrives).
//! * Task states go through [`TaskHandler`]; [`ScriptedTaskHandler`] answers from a list.
//! * [`HistoryEvent`]s follow AWS's event types, ids and previous-event ids, with simulated
//!   timestamps.
//!
//! Paths, payload templates and intrinsic functions come from `approvalc_asl::eval`.
//!
//! Left out: JSONata, distributed Map item readers/writers and batching,
//! activities as such (they are Tasks to the handler), real concurrency (branches and
//! iterations run one after another in index order; see `docs/engine.md`).
//!
//! Tests: unit tests next to the code; `tests/engine.rs` (behaviour, one line per case),
//! `tests/conformance.rs` (the corpus recorded on AWS, with a pass-rate floor in
//! `tests/conformance-floor.json`), `tests/no_panic.rs` (proptest); benchmarks in
//! `benches/workloads.rs` and `examples/throughput.rs`.

mod choice;
pub mod clock;
mod dataflow;
mod definition;
mod error;
mod execution;
mod history;
mod task;

pub use definition::Machine;
pub use error::{EngineError, Failure, LoadError, names};
pub use execution::{Execution, ExecutionConfig, Progress, Snapshot, Status};
pub use history::{EventKind, HistoryEvent, StateRef, split_resource};
pub use task::{
    SCRIPT_EXHAUSTED, ScriptedResult, ScriptedTaskHandler, TaskHandler, TaskOutcome, TaskRequest,
};

use std::sync::Arc;

use serde_json::Value;

/// The outcome of an execution in the shape `approvalc asl exec` prints:
/// `{status, output, error, cause}`.
pub fn outcome_json(status: &Status) -> Value {
    let mut out = serde_json::Map::new();
    out.insert("status".into(), status.name().into());
    let (output, error, cause) = match status {
        Status::Succeeded { output } => (output.clone(), Value::Null, Value::Null),
        Status::Failed { error, cause } | Status::TimedOut { error, cause } => (
            Value::Null,
            Value::String(error.clone()),
            cause.clone().map_or(Value::Null, Value::String),
        ),
        Status::Running | Status::Aborted => (Value::Null, Value::Null, Value::Null),
    };
    out.insert("output".into(), output);
    out.insert("error".into(), error);
    out.insert("cause".into(), cause);
    Value::Object(out)
}

/// Loads `definition`, runs it on `input` to completion (or until it waits for a callback
/// nobody will send) and returns the execution.
pub fn execute(
    definition: &Value,
    input: Value,
    config: ExecutionConfig,
    handler: &mut dyn TaskHandler,
) -> Result<Execution, LoadError> {
    let machine = Arc::new(Machine::load(definition)?);
    let mut exec = Execution::start(machine, input, config);
    exec.run_to_completion(handler);
    Ok(exec)
}
