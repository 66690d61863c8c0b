//! Local runs with no AWS account: the compiled artifacts "deployed" into a simulated AWS
//! (Step Functions through `approvalc-engine`, STS with trust policies and `sts:ExternalId`,
//! SSM Automation `aws:approve`, CodePipeline manual approvals, the DynamoDB token table,
//! EventBridge rules from the bootstrap templates) whose events run the very handler code of
//! the callback Lambdas (`approvalc-runtime`).
//!
//! * [`Deployment`]: what the artifacts deploy, per account ([`Faults`] deploy less, to see
//!   AWS fail).
//! * [`World`]: one run — parent and child executions, services, bus — driven by
//!   [`World::settle`] / [`World::advance_to`]; decisions through [`World::decide`].
//! * [`simulate()`]: one run to the end with scripted [`Decision`]s; [`RunReport`] is what
//!   it looks like from outside.
//! * [`scenario`]: `workflows/*.test.yaml` files; [`store`]: runs persisted in sqlite.
//!
//! Nothing here reads the wall clock: callers pass the time. Left out: the reconciler runs
//! only when asked ([`World::reconcile`]), not every 5 minutes; SNS notifications are not
//! sent; action documents are not executed (their automation succeeds or fails as told).
//! Tests: unit tests beside the code, end-to-end tests in `tests/` and through the CLI in
//! `crates/cli/tests/local.rs`; see `docs/local.md`.

pub mod deployment;
pub mod error;
pub mod iam;
pub mod ports;
pub mod report;
pub mod scenario;
pub mod services;
pub mod simulate;
pub mod store;
pub mod tasks;
pub mod world;

pub use deployment::{Deployment, Faults};
pub use error::LocalError;
pub use report::{RunReport, StageReport};
pub use services::Verdict;
pub use simulate::{Action, Decision, simulate};
pub use world::{Pending, RunConfig, World};

use std::sync::Arc;

/// Rendered artifact files, `(path, contents)`, `manifest.json` first.
pub type Files = Vec<(String, String)>;

/// Compiles a workflow source and deploys the artifacts into the simulation. Compile errors
/// come back as their rendered messages (the CLI shows the full diagnostics itself).
pub fn deploy_source(source: &str, faults: Faults) -> Result<(Files, Arc<Deployment>), LocalError> {
    let compiled = approvalc_compiler::lower::compile(source);
    if compiled.has_errors() {
        let messages: Vec<String> = compiled
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| d.message.clone())
            .collect();
        return Err(LocalError::Artifacts(format!(
            "the workflow does not compile: {}",
            messages.join("; ")
        )));
    }
    let artifacts = compiled
        .artifacts
        .ok_or_else(|| LocalError::Artifacts("the compiler produced no artifacts".into()))?;
    let files = artifacts
        .render()
        .map_err(|e| LocalError::Artifacts(format!("cannot render the artifacts: {e}")))?;
    let deployment = Deployment::from_files(&files, faults)?;
    Ok((files, Arc::new(deployment)))
}
