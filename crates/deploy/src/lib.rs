//! `approvalc-deploy`: puts compiled [`Artifacts`] on AWS with the AWS SDK for Rust.
//!
//! * [`model`]: the desired per-workflow resources of each account (roles, managed
//!   policies, pipelines, rules, the parent state machine), built from `Artifacts` only.
//! * [`provider`] / [`providers`]: one `Provider` per resource kind (list, read tags,
//!   describe, create, update, delete); the rules that make a killed deploy converge.
//! * [`plan`]: [`plan::Deployer`] compares desired and live state (ownership by the
//!   `approvalc:workflow` tag, freshness by `approvalc:hash`), concurrently per account
//!   and kind, and applies in dependency order; `plan_destroy` for `approvalc destroy`.
//! * [`session`]: credentials (standard chain, `--profile`), the workflow's region,
//!   `--endpoint-url`, STS `AssumeRole` with `ExternalId` into other accounts.
//! * [`calls`]: the interceptor on every client that counts SDK calls and injects faults.
//! * [`bootstrap`]: the per-account CloudFormation stack; [`code`]: its Lambda zips,
//!   uploaded content-addressed to a code bucket. [`runs`]: start (input checked first),
//!   status (stage tree from the execution history), approve/reject, list.
//!
//! Left out: drift detection beyond the hash tag and the trust check. Unit tests sit next to the
//! code; integration tests against moto are in `tests/moto_deploy.rs` (what moto cannot
//! do, and what covers it instead: docs/deploy.md); the benchmark is
//! `examples/bench-deploy.rs` (docs/bench-deploy.md).

pub mod bootstrap;
pub mod calls;
pub mod code;
pub mod error;
pub mod model;
pub mod plan;
pub mod provider;
pub mod providers;
pub mod runs;
pub mod session;

use std::path::Path;

use approvalc_compiler::lower::{ArtifactFile, Artifacts, Manifest};

pub use calls::{CallStats, Calls, Fault};
pub use error::DeployError;
pub use model::{DesiredState, desired};
pub use plan::{Action, Change, Deployer, Event, Plan};
pub use session::{Session, SessionOptions};

/// Reads the artifacts written by `approvalc compile -o DIR`: `manifest.json` and the
/// files it lists (nothing else).
pub fn load_dir(dir: &Path) -> Result<Artifacts, DeployError> {
    let read = |path: &Path| {
        std::fs::read_to_string(path)
            .map_err(|e| DeployError::new(format!("cannot read {}: {e}", path.display())))
    };
    let manifest_text = read(&dir.join("manifest.json"))?;
    let manifest: Manifest = serde_json::from_str(&manifest_text).map_err(|e| {
        DeployError::new(format!(
            "{}/manifest.json is not a manifest: {e}",
            dir.display()
        ))
        .with_help("compile the workflow again with this version of approvalc")
    })?;
    let mut files = Vec::new();
    for entry in &manifest.files {
        if entry
            .path
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
        {
            return Err(DeployError::new(format!(
                "manifest.json lists a bad path {}",
                entry.path
            )));
        }
        files.push(ArtifactFile {
            path: entry.path.clone(),
            kind: entry.kind,
            account: entry.account.clone(),
            contents: read(&dir.join(&entry.path))?,
        });
    }
    Ok(Artifacts { manifest, files })
}
