//! What a handler tells Step Functions: the task result (contract in `docs/token-handling.md`)
//! or a failure with one of the `Approval.*` error codes.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::duties::Rule;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approved,
    Rejected,
}

/// `SendTaskSuccess` output of an approval stage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TaskResult {
    pub decision: Decision,
    pub approvers: Vec<String>,
    pub comment: Option<String>,
    pub decided_at: String,
    pub rule: Option<Rule>,
}

/// `SendTaskSuccess` output of an action stage (not fixed by the contract; see docs/runtime.md).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ActionResult {
    pub status: &'static str,
    pub automation_execution_id: String,
    /// Step outputs, keyed `Step.Output` as SSM writes them in documents.
    pub outputs: BTreeMap<String, Vec<String>>,
    pub finished_at: String,
}

/// `SendTaskFailure` error codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum FailureCode {
    #[serde(rename = "Approval.TimedOut")]
    TimedOut,
    #[serde(rename = "Approval.AutomationFailed")]
    AutomationFailed,
    #[serde(rename = "Approval.Cancelled")]
    Cancelled,
    #[serde(rename = "Approval.Malformed")]
    Malformed,
    #[serde(rename = "Approval.LookupFailed")]
    LookupFailed,
}

impl FailureCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TimedOut => "Approval.TimedOut",
            Self::AutomationFailed => "Approval.AutomationFailed",
            Self::Cancelled => "Approval.Cancelled",
            Self::Malformed => "Approval.Malformed",
            Self::LookupFailed => "Approval.LookupFailed",
        }
    }
}

/// What one waiting task resolves to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Decision(TaskResult),
    ActionSucceeded(ActionResult),
    Failure { code: FailureCode, cause: String },
}

/// Longest cause kept; Step Functions accepts 32,768 but a person reads it.
const MAX_CAUSE: usize = 1024;

impl Outcome {
    pub fn failure(code: FailureCode, cause: impl Into<String>) -> Self {
        let mut cause: String = cause.into();
        if cause.len() > MAX_CAUSE {
            let mut end = MAX_CAUSE;
            while !cause.is_char_boundary(end) {
                end -= 1;
            }
            cause.truncate(end);
        }
        Self::Failure { code, cause }
    }

    /// Who decided, recorded in the token item by the claim.
    pub fn approvers(&self) -> &[String] {
        match self {
            Self::Decision(r) => &r.approvers,
            _ => &[],
        }
    }
}
