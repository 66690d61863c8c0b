//! The small traits the handler core talks through, and the plain data they return.
//!
//! One implementation sits on AWS (`aws` feature, [`crate::aws`], its own signed client), one in memory
//! for tests ([`crate::memory`]); the embedded engine implements them on its simulated
//! services. Every method says only what the handlers need; none of them sees a raw event.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::item::StoredItem;
use crate::secret::{CorrelationId, TaskToken};

/// Why Step Functions refused a token: it was used, timed out, or never existed. All three end
/// a callback cleanly (idempotency), none of them is retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum TokenGone {
    TaskTimedOut,
    InvalidToken,
    TaskDoesNotExist,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SfnError {
    #[error("the task token is no longer valid ({0:?})")]
    TokenGone(TokenGone),
    /// Anything else (throttling, network, permissions); the message must not contain the token.
    #[error("Step Functions call failed: {0}")]
    Other(String),
}

/// Step Functions: the two callback calls.
#[async_trait]
pub trait Sfn: Send + Sync {
    async fn send_task_success(&self, token: &TaskToken, output: &str) -> Result<(), SfnError>;
    async fn send_task_failure(
        &self,
        token: &TaskToken,
        error: &str,
        cause: &str,
    ) -> Result<(), SfnError>;
}

/// A failed lookup or command on SSM, CodePipeline or the token store.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ServiceError(pub String);

/// `AutomationExecutionStatus` as SSM reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AutomationStatus {
    Pending,
    InProgress,
    Waiting,
    Success,
    TimedOut,
    Cancelling,
    Cancelled,
    Failed,
    /// Any status this crate does not know (e.g. `PendingApproval`, `Scheduled`): not terminal.
    Other(String),
}

impl AutomationStatus {
    pub fn parse(s: &str) -> Self {
        match s {
            "Pending" => Self::Pending,
            "InProgress" => Self::InProgress,
            "Waiting" => Self::Waiting,
            "Success" => Self::Success,
            "TimedOut" => Self::TimedOut,
            "Cancelling" => Self::Cancelling,
            "Cancelled" => Self::Cancelled,
            "Failed" => Self::Failed,
            other => Self::Other(other.to_owned()),
        }
    }

    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Self::Success | Self::TimedOut | Self::Cancelled | Self::Failed
        )
    }
}

/// One step of an automation with its outputs (`ApprovalStatus`, `ApproverDecisions`, …).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepExecution {
    pub name: String,
    pub action: String,
    pub status: String,
    pub outputs: BTreeMap<String, Vec<String>>,
    pub failure_message: Option<String>,
}

/// What `GetAutomationExecution` says about one run (steps included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AutomationExecution {
    pub id: String,
    pub document_name: String,
    pub status: AutomationStatus,
    pub parameters: BTreeMap<String, Vec<String>>,
    pub steps: Vec<StepExecution>,
    pub failure_message: Option<String>,
}

/// SSM Automation.
#[async_trait]
pub trait Ssm: Send + Sync {
    /// `Ok(None)` when SSM does not know the execution.
    async fn get_automation_execution(
        &self,
        execution_id: &str,
    ) -> Result<Option<AutomationExecution>, ServiceError>;
    /// `StopAutomationExecution` with type `Cancel`.
    async fn stop_automation_execution(&self, execution_id: &str) -> Result<(), ServiceError>;
}

/// `GetPipelineExecution`: status and the V2 variables the run was started with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PipelineExecution {
    pub pipeline_name: String,
    pub execution_id: String,
    pub status: String,
    pub variables: BTreeMap<String, String>,
}

/// `ActionExecutionDetail.status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActionStatus {
    InProgress,
    Succeeded,
    Failed,
    Abandoned,
    Other(String),
}

impl ActionStatus {
    pub fn parse(s: &str) -> Self {
        match s {
            "InProgress" => Self::InProgress,
            "Succeeded" => Self::Succeeded,
            "Failed" => Self::Failed,
            "Abandoned" => Self::Abandoned,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// One row of `ListActionExecutions`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionExecution {
    pub pipeline_execution_id: String,
    pub stage_name: String,
    pub action_name: String,
    pub status: ActionStatus,
    /// `updatedBy`: who approved or rejected.
    pub updated_by: Option<String>,
    /// `output.executionResult.externalExecutionSummary`: the reviewer's summary.
    pub summary: Option<String>,
    /// `output.executionResult.errorDetails.message`, when the action failed without a reviewer.
    pub error_message: Option<String>,
    pub last_update_time: Option<DateTime<Utc>>,
}

/// Where a pending manual approval sits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApprovalAction<'a> {
    pub pipeline: &'a str,
    pub stage: &'a str,
    pub action: &'a str,
    pub execution_id: &'a str,
}

/// CodePipeline.
#[async_trait]
pub trait CodePipeline: Send + Sync {
    /// `Ok(None)` when the pipeline or execution does not exist.
    async fn get_pipeline_execution(
        &self,
        pipeline: &str,
        execution_id: &str,
    ) -> Result<Option<PipelineExecution>, ServiceError>;
    /// Action executions of one pipeline execution.
    async fn list_action_executions(
        &self,
        pipeline: &str,
        execution_id: &str,
    ) -> Result<Vec<ActionExecution>, ServiceError>;
    /// The approval token of the action when it is still pending in that execution
    /// (`GetPipelineState`), else `None`.
    async fn pending_approval_token(
        &self,
        at: &ApprovalAction<'_>,
    ) -> Result<Option<String>, ServiceError>;
    /// `PutApprovalResult` with status `Rejected`.
    async fn reject_approval(
        &self,
        at: &ApprovalAction<'_>,
        approval_token: &str,
        summary: &str,
    ) -> Result<(), ServiceError>;
}

/// What a conditional claim of a token item found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// This call set `decided_at`: it alone may talk to Step Functions.
    Claimed,
    /// Someone decided before (duplicate event, reconciler, cleanup).
    AlreadyDecided,
    /// No item under that id (expired or never written).
    Missing,
}

/// The token table (`approvalc-tokens`). Items are DynamoDB-JSON maps ([`StoredItem`]) so the
/// engine can keep exactly what the child's `putItem` wrote; the core parses them.
#[async_trait]
pub trait TokenStore: Send + Sync {
    async fn get(&self, id: &CorrelationId) -> Result<Option<StoredItem>, ServiceError>;
    /// Sets `decided_at` and `approvers` only if `decided_at` is absent.
    async fn claim(
        &self,
        id: &CorrelationId,
        decided_at: &str,
        approvers: &[String],
    ) -> Result<Claim, ServiceError>;
    /// Undoes a claim whose Step Functions call failed transiently, so a retry can deliver.
    async fn release(&self, id: &CorrelationId) -> Result<(), ServiceError>;
    /// Every item without `decided_at` (the reconciler's scan).
    async fn list_undecided(&self) -> Result<Vec<StoredItem>, ServiceError>;
}

/// Time, so the engine's virtual clock drives the lookup backoff and `decided_at`.
#[async_trait]
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
    async fn sleep(&self, duration: Duration);
}

/// The real clock (tokio timers).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

#[async_trait]
impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}
