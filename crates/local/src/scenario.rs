//! Scenario files (`workflows/<name>.test.yaml`): runs of a workflow with an input, scripted
//! decisions and the expected outcome, checked by `approvalc test`. Tests are data: one file
//! per workflow, one entry per behaviour.
//!
//! ```yaml
//! workflow: ssm-single.yaml        # default: the file next to this one without `.test`
//! scenarios:
//!   - name: a rejection ends the run
//!     input: { change: CHG-1 }
//!     requester: arn:aws:iam::111111111111:user/dev   # optional
//!     faults: { not_bootstrapped: [prod] }            # optional, see `Faults`
//!     decisions:
//!       - { stage: approve, decision: reject, as: "arn:…", comment: "not now" }
//!     expect:
//!       decision: rejected
//!       stages:
//!         approve: rejected                          # or {decision, approvers, rule, error}
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use crate::deployment::{Deployment, Faults};
use crate::error::LocalError;
use crate::report::RunReport;
use crate::simulate::{Action, Decision, simulate};
use crate::world::RunConfig;

/// A scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    #[serde(default)]
    pub workflow: Option<String>,
    pub scenarios: Vec<Scenario>,
}

/// One run and what it must end with.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default = "empty_object")]
    pub input: Value,
    #[serde(default)]
    pub requester: Option<String>,
    #[serde(default)]
    pub faults: Faults,
    #[serde(default)]
    pub decisions: Vec<ScenarioDecision>,
    pub expect: Expect,
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

/// One scripted answer to a request of a stage.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioDecision {
    pub stage: String,
    pub decision: Action,
    #[serde(default, rename = "as")]
    pub principal: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
}

/// The expected outcome.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// `approved` or `rejected`.
    pub decision: String,
    #[serde(default)]
    pub stages: BTreeMap<String, StageExpect>,
    /// A text the run's error must contain (a failed run).
    #[serde(default)]
    pub error: Option<String>,
}

/// A stage's expected record: its decision, or the fields to check.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum StageExpect {
    Decision(String),
    Fields(StageFields),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageFields {
    pub decision: String,
    #[serde(default)]
    pub approvers: Option<Vec<String>>,
    #[serde(default)]
    pub rule: Option<String>,
    /// A text the stage's error must contain.
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
}

/// The outcome of one scenario.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub name: String,
    /// Empty when the scenario passed.
    pub failures: Vec<String>,
    pub report: Option<RunReport>,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Reads a scenario file.
pub fn load(path: &Path) -> Result<ScenarioFile, LocalError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| LocalError::Scenario {
        file: file.clone(),
        message: format!("cannot read: {e}"),
    })?;
    serde_saphyr::from_str(&text).map_err(|e| LocalError::Scenario {
        file,
        message: e.to_string(),
    })
}

/// The workflow a scenario file tests: `workflow:` relative to the file, else the sibling
/// named like it without `.test`.
pub fn workflow_path(path: &Path, file: &ScenarioFile) -> PathBuf {
    let dir = path.parent().unwrap_or(Path::new("."));
    match &file.workflow {
        Some(w) => dir.join(w),
        None => {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            dir.join(
                name.replace(".test.yaml", ".yaml")
                    .replace(".test.yml", ".yml"),
            )
        }
    }
}

/// Runs one scenario against compiled artifact files.
pub fn run(files: &[(String, String)], scenario: &Scenario, start_ms: i64) -> Outcome {
    let failed = |message: String| Outcome {
        name: scenario.name.clone(),
        failures: vec![message],
        report: None,
    };
    let deployment = match Deployment::from_files(files, scenario.faults.clone()) {
        Ok(d) => Arc::new(d),
        Err(e) => return failed(e.to_string()),
    };
    let requester = scenario.requester.clone().unwrap_or_else(|| {
        format!(
            "arn:aws:iam::{}:user/approvalc-local-requester",
            deployment.manifest.home.id
        )
    });
    let config = RunConfig {
        run_id: "scenario".into(),
        requester,
        seed: 0,
        start_ms,
        record_history: true,
        auto_actions: false,
    };
    let decisions: Vec<Decision> = scenario
        .decisions
        .iter()
        .map(|d| Decision {
            stage: d.stage.clone(),
            action: d.decision.clone(),
            principal: d.principal.clone(),
            comment: d.comment.clone(),
        })
        .collect();
    match simulate(deployment, scenario.input.clone(), config, &decisions) {
        Ok((_, report)) => Outcome {
            name: scenario.name.clone(),
            failures: check(&scenario.expect, &report),
            report: Some(report),
        },
        // A refused input is a run that never started: rejected, with the reason.
        Err(LocalError::Input(why)) => Outcome {
            name: scenario.name.clone(),
            failures: check_refused(&scenario.expect, &why),
            report: None,
        },
        Err(e) => failed(format!("the run could not be simulated: {e}")),
    }
}

fn check_refused(expect: &Expect, why: &str) -> Vec<String> {
    let mut out = Vec::new();
    if expect.decision != "rejected" {
        out.push(format!(
            "run: expected {}, but the input was refused: {why}",
            expect.decision
        ));
    }
    if let Some(text) = &expect.error
        && !why.contains(text.as_str())
    {
        out.push(format!(
            "run error: expected it to contain {text:?}, got {why:?}"
        ));
    }
    out
}

/// Every difference between the expectation and the report.
pub fn check(expect: &Expect, report: &RunReport) -> Vec<String> {
    let mut out = Vec::new();
    let got = report.decision.as_deref().unwrap_or("running");
    if got != expect.decision {
        out.push(format!("run: expected {}, got {got}", expect.decision));
    }
    if let Some(text) = &expect.error {
        let error = report.error.as_deref().unwrap_or_default();
        if !error.contains(text.as_str()) {
            out.push(format!(
                "run error: expected it to contain {text:?}, got {error:?}"
            ));
        }
    }
    for (id, want) in &expect.stages {
        let Some(stage) = report.stages.iter().find(|s| &s.id == id) else {
            out.push(format!("stage {id}: no such stage in the workflow"));
            continue;
        };
        let fields = match want {
            StageExpect::Decision(d) => StageFields {
                decision: d.clone(),
                approvers: None,
                rule: None,
                error: None,
                comment: None,
            },
            StageExpect::Fields(f) => f.clone(),
        };
        if stage.decision != fields.decision {
            let why = stage
                .error
                .as_deref()
                .map(|e| format!(" (error {e})"))
                .unwrap_or_default();
            out.push(format!(
                "stage {id}: expected {}, got {}{why}",
                fields.decision, stage.decision
            ));
        }
        if let Some(approvers) = &fields.approvers
            && approvers != &stage.approvers
        {
            out.push(format!(
                "stage {id}: expected approvers {approvers:?}, got {:?}",
                stage.approvers
            ));
        }
        if fields.rule.is_some() && fields.rule != stage.rule {
            out.push(format!(
                "stage {id}: expected rule {:?}, got {:?}",
                fields.rule, stage.rule
            ));
        }
        if fields.comment.is_some() && fields.comment != stage.comment {
            out.push(format!(
                "stage {id}: expected comment {:?}, got {:?}",
                fields.comment, stage.comment
            ));
        }
        if let Some(text) = &fields.error {
            let error = stage.error.as_deref().unwrap_or_default();
            if !error.contains(text.as_str()) {
                out.push(format!(
                    "stage {id}: expected an error containing {text:?}, got {error:?}"
                ));
            }
        }
    }
    out
}
