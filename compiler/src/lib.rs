//! approvalc compiler: turns a parsed workflow into a checked [`model::Model`] ([`check`])
//! and lowers the model to AWS artifacts ([`lower`]).
//!
//! Main items: [`check()`] (parse + every check of the language, returning the model and all
//! diagnostics), [`model`] (the resolved workflow lowering consumes: stages in topological
//! order, typed `when` conditions, templates, effective timeouts, resource names and AWS
//! limits), [`codes`] (stable check codes `approvalc::E030`..`E079`).
//!
//! Left out on purpose: YAML and syntax (in `approvalc-dsl`), I/O of any kind (the CLI reads
//! files and writes artifacts), terminal rendering (diagnostics are plain data).
//!
//! Tests: unit tests per check in `src/check/tests.rs` (one line each), `tests/broken.rs`
//! runs every `tests/broken/*.yaml` against the code and position in its first line,
//! `tests/workflows.rs` checks every example in `workflows/`, `tests/props.rs` feeds random
//! graphs and mutated workflows; `benches/scaling.rs` times parse + check (+ lower + render) up to 10,000 stages against a YAML-load baseline (docs/bench-compile.md); `benches/check.rs` and `benches/lower.rs` are criterion regression benches.

mod check;
pub mod codes;
pub mod lower;
pub mod model;
mod suggest;

pub use check::{Checked, check, check_workflow};
