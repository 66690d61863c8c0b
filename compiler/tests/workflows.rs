//! Every example in `workflows/` checks without errors and yields a model.

mod common;
use common::is_workflow;

use std::path::Path;

#[test]
fn every_example_workflow_checks_clean() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../workflows");
    let mut count = 0;
    let mut failures = Vec::new();
    for entry in std::fs::read_dir(&dir)
        .expect("workflows/ exists")
        .flatten()
    {
        let path = entry.path();
        if !is_workflow(&path) {
            continue;
        }
        count += 1;
        let source = std::fs::read_to_string(&path).unwrap_or_default();
        let checked = approvalc_compiler::check(&source);
        let errors: Vec<String> = checked
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| format!("{} {}", d.code, d.message))
            .collect();
        if !errors.is_empty() || checked.model.is_none() {
            failures.push(format!("{}: {errors:?}", path.display()));
        }
    }
    assert!(count >= 1, "no workflows found in {}", dir.display());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
