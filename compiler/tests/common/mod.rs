//! Helpers shared by the compiler's integration tests.

// Each test binary includes this module and uses a subset of it.
#![allow(dead_code)]

use std::path::Path;

use approvalc_compiler::lower::{self, Artifacts};
use serde_json::Value;

/// The Task resource that starts a child or part machine and waits for it.
pub const START_SYNC: &str = "arn:aws:states:::states:startExecution.sync:2";

/// A workflow file in `workflows/`: `*.yaml`, but not the scenario files (`*.test.yaml`)
/// that `approvalc test` reads.
pub fn is_workflow(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".yaml") && !n.ends_with(".test.yaml"))
}

/// Compiles `source`, failing the test on any error diagnostic (warnings are fine).
pub fn compile_clean(source: &str) -> Artifacts {
    let compiled = lower::compile(source);
    let errors: Vec<String> = compiled
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| format!("{}: {}", d.code, d.message))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    compiled.artifacts.expect("artifacts")
}

/// One emitted JSON artifact, parsed.
pub fn json_of(artifacts: &Artifacts, path: &str) -> Value {
    let file = artifacts
        .file(path)
        .unwrap_or_else(|| panic!("{path} missing"));
    serde_json::from_str(&file.contents).expect("JSON")
}
