//! Helpers shared by the compiler's integration tests.

use std::path::Path;

/// A workflow file in `workflows/`: `*.yaml`, but not the scenario files (`*.test.yaml`)
/// that `approvalc test` reads.
pub fn is_workflow(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".yaml") && !n.ends_with(".test.yaml"))
}
