//! Checking incoming EventBridge events. An event is only a hint of *which* run changed: it
//! must come from the expected source, detail type and account and name plausible ids, or it
//! is ignored. Decisions are never read from it.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::secret::{CorrelationId, is_plain_id};

pub const SSM_SOURCE: &str = "aws.ssm";
pub const SSM_DETAIL_TYPE: &str = "EC2 Automation Execution Status-change Notification";
pub const CODEPIPELINE_SOURCE: &str = "aws.codepipeline";
pub const CODEPIPELINE_DETAIL_TYPE: &str = "CodePipeline Action Execution State Change";
pub const STATES_SOURCE: &str = "aws.states";
pub const STATES_DETAIL_TYPE: &str = "Step Functions Execution Status Change";

/// Why an event was not acted on. Serialised in handler reports and logs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "reason", content = "detail")]
pub enum Ignored {
    /// Not an EventBridge event, or its detail lacks required fields.
    Malformed(String),
    WrongSource,
    WrongDetailType,
    OtherAccount,
    /// A pipeline, stage, action, document or state machine that approvalc does not own.
    NotOurs(String),
    /// A state the handler has nothing to do for.
    IrrelevantState(String),
    /// The service does not know the execution the event names.
    UnknownExecution,
    /// The execution carries no correlation id.
    NoCorrelationId,
    /// The token item and the execution disagree (a forged or replayed event).
    Mismatch(String),
    /// The token item cannot be read and holds no usable token.
    CorruptItem(String),
    /// No token item for the correlation id (nothing waits, or it expired).
    NoTokenItem,
}

fn envelope<T: DeserializeOwned + Serialize>(
    raw: &serde_json::Value,
    cfg: &Config,
    source: &str,
    detail_type: &str,
) -> Result<EventBridgeEvent<T>, Ignored> {
    let head: EventBridgeEvent<serde_json::Value> = serde_json::from_value(raw.clone())
        .map_err(|e| Ignored::Malformed(format!("not an EventBridge event: {e}")))?;
    if head.source != source {
        return Err(Ignored::WrongSource);
    }
    if head.detail_type != detail_type {
        return Err(Ignored::WrongDetailType);
    }
    if head.account.as_deref() != Some(cfg.account.as_str()) {
        return Err(Ignored::OtherAccount);
    }
    serde_json::from_value(raw.clone()).map_err(|e| Ignored::Malformed(format!("detail: {e}")))
}

fn plain(field: &str, value: &str, max: usize) -> Result<(), Ignored> {
    if is_plain_id(value, max) {
        Ok(())
    } else {
        Err(Ignored::Malformed(format!("`{field}` is not a plain id")))
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct SsmDetail {
    #[serde(rename = "ExecutionId")]
    execution_id: String,
    #[serde(rename = "Definition")]
    definition: String,
    #[serde(rename = "Status")]
    status: String,
}

/// An automation that ended, per its status-change event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AutomationEnded {
    pub event_id: String,
    pub execution_id: String,
    pub document: String,
}

/// `EC2 Automation Execution Status-change Notification` with a terminal status.
pub fn automation_ended(raw: &serde_json::Value, cfg: &Config) -> Result<AutomationEnded, Ignored> {
    let event: EventBridgeEvent<SsmDetail> = envelope(raw, cfg, SSM_SOURCE, SSM_DETAIL_TYPE)?;
    let d = event.detail;
    plain("ExecutionId", &d.execution_id, 64)?;
    plain("Definition", &d.definition, 128)?;
    if !matches!(
        d.status.as_str(),
        "Success" | "Failed" | "TimedOut" | "Cancelled"
    ) {
        return Err(Ignored::IrrelevantState(d.status));
    }
    Ok(AutomationEnded {
        event_id: event.id.unwrap_or_default(),
        execution_id: d.execution_id,
        document: d.definition,
    })
}

#[derive(Debug, Serialize, Deserialize)]
struct ActionType {
    category: String,
    provider: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct CodePipelineDetail {
    pipeline: String,
    #[serde(rename = "execution-id")]
    execution_id: String,
    stage: String,
    action: String,
    state: String,
    #[serde(rename = "type")]
    action_type: ActionType,
}

/// A manual approval action that ended, per its state-change event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApprovalEnded {
    pub event_id: String,
    pub pipeline: String,
    pub execution_id: String,
}

/// `CodePipeline Action Execution State Change` of approvalc's manual approval action.
pub fn approval_ended(raw: &serde_json::Value, cfg: &Config) -> Result<ApprovalEnded, Ignored> {
    let event: EventBridgeEvent<CodePipelineDetail> =
        envelope(raw, cfg, CODEPIPELINE_SOURCE, CODEPIPELINE_DETAIL_TYPE)?;
    let d = event.detail;
    plain("pipeline", &d.pipeline, 100)?;
    plain("execution-id", &d.execution_id, 64)?;
    if d.action_type.category != "Approval" || d.action_type.provider != "Manual" {
        return Err(Ignored::NotOurs("not a manual approval action".into()));
    }
    if !d.pipeline.starts_with(&cfg.pipeline_prefix)
        || d.stage != cfg.pipeline_stage
        || d.action != cfg.pipeline_action
    {
        return Err(Ignored::NotOurs(format!("pipeline {}", d.pipeline)));
    }
    if !matches!(
        d.state.as_str(),
        "SUCCEEDED" | "FAILED" | "CANCELED" | "ABANDONED"
    ) {
        return Err(Ignored::IrrelevantState(d.state));
    }
    Ok(ApprovalEnded {
        event_id: event.id.unwrap_or_default(),
        pipeline: d.pipeline,
        execution_id: d.execution_id,
    })
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StatesDetail {
    execution_arn: String,
    state_machine_arn: String,
    name: String,
    status: String,
}

/// A child execution that ended without delivering a decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChildEnded {
    pub event_id: String,
    pub execution_arn: String,
    pub correlation_id: CorrelationId,
    pub status: String,
}

/// `Step Functions Execution Status Change` of a child machine: ABORTED, TIMED_OUT or FAILED.
pub fn child_ended(raw: &serde_json::Value, cfg: &Config) -> Result<ChildEnded, Ignored> {
    let event: EventBridgeEvent<StatesDetail> =
        envelope(raw, cfg, STATES_SOURCE, STATES_DETAIL_TYPE)?;
    let d = event.detail;
    let machine = arn_name(&d.state_machine_arn, "stateMachine")
        .ok_or_else(|| Ignored::Malformed("`stateMachineArn` is not a state machine ARN".into()))?;
    if !cfg.child_machines.iter().any(|m| m == machine) {
        return Err(Ignored::NotOurs(format!("state machine {machine}")));
    }
    let exec_name = arn_name(&d.execution_arn, "execution")
        .ok_or_else(|| Ignored::Malformed("`executionArn` is not an execution ARN".into()))?;
    if exec_name != d.name || arn_account(&d.execution_arn) != Some(cfg.account.as_str()) {
        return Err(Ignored::Malformed(
            "`executionArn` disagrees with the event".into(),
        ));
    }
    let correlation_id = CorrelationId::parse(&d.name)
        .map_err(|e| Ignored::Malformed(format!("execution name: {e}")))?;
    if !matches!(d.status.as_str(), "ABORTED" | "TIMED_OUT" | "FAILED") {
        return Err(Ignored::IrrelevantState(d.status));
    }
    Ok(ChildEnded {
        event_id: event.id.unwrap_or_default(),
        execution_arn: d.execution_arn,
        correlation_id,
        status: d.status,
    })
}

/// `arn:aws:states:REGION:ACCOUNT:stateMachine:NAME` → `NAME`;
/// `…:execution:MACHINE:NAME` → `NAME`.
fn arn_name<'a>(arn: &'a str, resource: &str) -> Option<&'a str> {
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.first() != Some(&"arn") || parts.get(2) != Some(&"states") {
        return None;
    }
    match (resource, parts.get(5), parts.len()) {
        ("stateMachine", Some(&"stateMachine"), 7) => parts.get(6).copied(),
        ("execution", Some(&"execution"), 8) => parts.get(7).copied(),
        _ => None,
    }
}

fn arn_account(arn: &str) -> Option<&str> {
    arn.split(':').nth(4)
}
