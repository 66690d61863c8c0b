//! Typed model of an Amazon States Language definition (JSONPath query language).
//!
//! Every state type and field of the JSONPath dialect that approvalc emits or the engine must
//! read: `Pass`, `Task`, `Choice`, `Wait`, `Succeed`, `Fail`, `Parallel` and `Map` (inline
//! `ItemProcessor`), paths, payload templates (`Parameters`, `ResultSelector`,
//! `ItemSelector`), `Retry`/`Catch`, `Credentials`, timeouts and heartbeats. Intrinsic
//! functions are kept as strings ([`Expr::Intrinsic`]); parsing and evaluating them is the job
//! of [`crate::eval`].
//!
//! Values serialise to canonical JSON ([`to_canonical_json`]): fields in the order the ASL
//! specification lists them, maps in insertion order, two-space indentation, a final newline.
//! Building the same model twice therefore gives the same bytes.
//!
//! Left out on purpose: JSONata (`Arguments`, `Output`, `Assign`, `QueryLanguage: JSONata`
//! states), distributed Map (`ItemReader`, `ResultWriter`, `ItemBatcher`), and activity ARNs
//! beyond their `Resource` string. Unknown fields are ignored when reading.
//!
//! Tests: `crates/asl/tests/model_*.rs` (round trips, canonical output, graph checks).

mod choice;
mod graph;
mod payload;
mod states;

pub use choice::{ChoiceRule, Comparison, Condition};
pub use graph::GraphError;
pub use payload::{Element, Expr, Field, Payload, quote_intrinsic_string};
pub use states::{
    Branch, Catcher, ChoiceState, Credentials, ErrorSource, FailState, Heartbeat, MapState,
    ParallelState, PassState, Retrier, State, StateMachine, SucceedState, TaskState, Timeout,
    Transition, WaitFor, WaitState,
};

/// Serialises any ASL value to canonical JSON: pretty-printed with two spaces and a final
/// newline, keys in model order. Serialising these types cannot fail (all map keys are
/// strings and all numbers finite), so an error here is a bug and is reported as such.
pub fn to_canonical_json<T: serde::Serialize>(value: &T) -> Result<String, serde_json::Error> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    Ok(text)
}
