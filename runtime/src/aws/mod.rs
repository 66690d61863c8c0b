//! The ports on AWS (feature `aws`): Step Functions, SSM, CodePipeline and the DynamoDB token
//! table through one signed JSON-protocol client ([`client::JsonClient`]), and the Lambda glue
//! the binaries share ([`lambda`]).
//!
//! The wire types below hold exactly the fields the handlers read; every field is optional so
//! an answer missing one reads as empty (and the handler core fails closed on it). Error codes
//! map to the ports' errors: `TaskTimedOut` / `InvalidToken` / `TaskDoesNotExist` →
//! [`TokenGone`], `…NotFoundException` → `Ok(None)`, `ConditionalCheckFailedException` → an
//! already-decided claim. The task token is only ever placed in the `taskToken` field of the
//! two Step Functions calls and is scrubbed from their error text.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::item::{AttrValue, StoredItem};
use crate::ports::{
    ActionExecution, ActionStatus, ApprovalAction, AutomationExecution, AutomationStatus, Claim,
    CodePipeline, PipelineExecution, ServiceError, Sfn, SfnError, Ssm, StepExecution, TokenGone,
    TokenStore,
};
use crate::secret::{CorrelationId, TaskToken};

pub mod client;
pub mod lambda;

pub use client::{ApiError, ApiErrorKind, JsonClient, Service, Settings};

fn service_error(e: ApiError) -> ServiceError {
    ServiceError(e.to_string())
}

/// What `SendTaskSuccess` / `SendTaskFailure` errors mean to a callback.
pub fn sfn_error(e: &ApiError, token: &TaskToken) -> SfnError {
    match e.code() {
        Some("TaskTimedOut") => SfnError::TokenGone(TokenGone::TaskTimedOut),
        Some("InvalidToken") => SfnError::TokenGone(TokenGone::InvalidToken),
        Some("TaskDoesNotExist") => SfnError::TokenGone(TokenGone::TaskDoesNotExist),
        // Validation messages quote the refused value.
        _ => SfnError::Other(e.to_string().replace(token.expose(), "<redacted>")),
    }
}

/// Step Functions.
#[derive(Clone, Debug)]
pub struct AwsSfn(pub JsonClient);

#[async_trait]
impl Sfn for AwsSfn {
    async fn send_task_success(&self, token: &TaskToken, output: &str) -> Result<(), SfnError> {
        let request = json!({"taskToken": token.expose(), "output": output});
        self.0
            .call::<_, Value>(Service::StepFunctions, "SendTaskSuccess", &request)
            .await
            .map(drop)
            .map_err(|e| sfn_error(&e, token))
    }

    async fn send_task_failure(
        &self,
        token: &TaskToken,
        error: &str,
        cause: &str,
    ) -> Result<(), SfnError> {
        let request = json!({"taskToken": token.expose(), "error": error, "cause": cause});
        self.0
            .call::<_, Value>(Service::StepFunctions, "SendTaskFailure", &request)
            .await
            .map(drop)
            .map_err(|e| sfn_error(&e, token))
    }
}

/// SSM Automation.
#[derive(Clone, Debug)]
pub struct AwsSsm(pub JsonClient);

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetAutomationExecutionOutput {
    automation_execution: Option<WireAutomation>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireAutomation {
    automation_execution_id: Option<String>,
    document_name: Option<String>,
    automation_execution_status: Option<String>,
    parameters: Option<BTreeMap<String, Vec<String>>>,
    step_executions: Option<Vec<WireStep>>,
    step_executions_truncated: Option<bool>,
    failure_message: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireStep {
    step_name: Option<String>,
    action: Option<String>,
    step_status: Option<String>,
    outputs: Option<BTreeMap<String, Vec<String>>>,
    failure_message: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeAutomationStepExecutionsOutput {
    step_executions: Option<Vec<WireStep>>,
    next_token: Option<String>,
}

impl From<WireStep> for StepExecution {
    fn from(s: WireStep) -> Self {
        StepExecution {
            name: s.step_name.unwrap_or_default(),
            action: s.action.unwrap_or_default(),
            status: s.step_status.unwrap_or_default(),
            outputs: s.outputs.unwrap_or_default(),
            failure_message: s.failure_message,
        }
    }
}

impl AwsSsm {
    /// All steps, when `GetAutomationExecution` truncated them.
    async fn all_steps(&self, id: &str) -> Result<Vec<StepExecution>, ServiceError> {
        let mut steps = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let mut request = json!({"AutomationExecutionId": id});
            if let Some(token) = &next {
                request["NextToken"] = json!(token);
            }
            let page: DescribeAutomationStepExecutionsOutput = self
                .0
                .call(Service::Ssm, "DescribeAutomationStepExecutions", &request)
                .await
                .map_err(service_error)?;
            steps.extend(page.step_executions.into_iter().flatten().map(Into::into));
            match page.next_token {
                Some(token) if !token.is_empty() && Some(&token) != next.as_ref() => {
                    next = Some(token);
                }
                _ => return Ok(steps),
            }
        }
    }
}

#[async_trait]
impl Ssm for AwsSsm {
    async fn get_automation_execution(
        &self,
        execution_id: &str,
    ) -> Result<Option<AutomationExecution>, ServiceError> {
        let request = json!({"AutomationExecutionId": execution_id});
        let out: GetAutomationExecutionOutput = match self
            .0
            .call(Service::Ssm, "GetAutomationExecution", &request)
            .await
        {
            Ok(out) => out,
            Err(e) if e.code() == Some("AutomationExecutionNotFoundException") => return Ok(None),
            Err(e) => return Err(service_error(e)),
        };
        let Some(a) = out.automation_execution else {
            return Ok(None);
        };
        let steps = if a.step_executions_truncated.unwrap_or(false) {
            self.all_steps(execution_id).await?
        } else {
            a.step_executions
                .into_iter()
                .flatten()
                .map(Into::into)
                .collect()
        };
        Ok(Some(AutomationExecution {
            id: a.automation_execution_id.unwrap_or_default(),
            document_name: a.document_name.unwrap_or_default(),
            status: AutomationStatus::parse(
                a.automation_execution_status.as_deref().unwrap_or_default(),
            ),
            parameters: a.parameters.unwrap_or_default(),
            steps,
            failure_message: a.failure_message,
        }))
    }

    async fn stop_automation_execution(&self, execution_id: &str) -> Result<(), ServiceError> {
        let request = json!({"AutomationExecutionId": execution_id, "Type": "Cancel"});
        self.0
            .call::<_, Value>(Service::Ssm, "StopAutomationExecution", &request)
            .await
            .map(drop)
            .map_err(service_error)
    }
}

/// CodePipeline.
#[derive(Clone, Debug)]
pub struct AwsCodePipeline(pub JsonClient);

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetPipelineExecutionOutput {
    pipeline_execution: Option<WirePipelineExecution>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WirePipelineExecution {
    pipeline_name: Option<String>,
    pipeline_execution_id: Option<String>,
    status: Option<String>,
    variables: Option<Vec<WireVariable>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireVariable {
    name: Option<String>,
    resolved_value: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListActionExecutionsOutput {
    action_execution_details: Option<Vec<WireActionDetail>>,
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireActionDetail {
    pipeline_execution_id: Option<String>,
    stage_name: Option<String>,
    action_name: Option<String>,
    status: Option<String>,
    updated_by: Option<String>,
    output: Option<WireActionOutput>,
    /// Epoch seconds (a JSON number, possibly fractional).
    last_update_time: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireActionOutput {
    execution_result: Option<WireExecutionResult>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireExecutionResult {
    external_execution_summary: Option<String>,
    error_details: Option<WireErrorDetails>,
}

#[derive(Deserialize)]
struct WireErrorDetails {
    message: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetPipelineStateOutput {
    stage_states: Option<Vec<WireStageState>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireStageState {
    stage_name: Option<String>,
    latest_execution: Option<WireStageExecution>,
    action_states: Option<Vec<WireActionState>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireStageExecution {
    pipeline_execution_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireActionState {
    action_name: Option<String>,
    latest_execution: Option<WireActionLatest>,
}

#[derive(Deserialize)]
struct WireActionLatest {
    status: Option<String>,
    token: Option<String>,
}

/// Epoch seconds → time; anything else (or out of range) → `None`.
fn epoch_seconds(v: &Value) -> Option<DateTime<Utc>> {
    let t = v.as_f64().filter(|t| t.is_finite())?;
    let secs = t.floor();
    let nanos = ((t - secs) * 1e9) as u32;
    DateTime::from_timestamp(secs as i64, nanos.min(999_999_999))
}

impl From<WireActionDetail> for ActionExecution {
    fn from(d: WireActionDetail) -> Self {
        let result = d.output.and_then(|o| o.execution_result);
        let (summary, error_message) = match result {
            Some(r) => (
                r.external_execution_summary,
                r.error_details.and_then(|e| e.message),
            ),
            None => (None, None),
        };
        ActionExecution {
            pipeline_execution_id: d.pipeline_execution_id.unwrap_or_default(),
            stage_name: d.stage_name.unwrap_or_default(),
            action_name: d.action_name.unwrap_or_default(),
            status: ActionStatus::parse(d.status.as_deref().unwrap_or_default()),
            updated_by: d.updated_by,
            summary,
            error_message,
            last_update_time: d.last_update_time.as_ref().and_then(epoch_seconds),
        }
    }
}

fn is_not_found(e: &ApiError) -> bool {
    matches!(
        e.code(),
        Some("PipelineExecutionNotFoundException" | "PipelineNotFoundException")
    )
}

/// The approval token of the in-progress action at `at`, if the pipeline state shows one.
fn pending_token(state: GetPipelineStateOutput, at: &ApprovalAction<'_>) -> Option<String> {
    state
        .stage_states
        .into_iter()
        .flatten()
        .filter(|s| s.stage_name.as_deref() == Some(at.stage))
        .filter(|s| {
            s.latest_execution.as_ref().is_some_and(|e| {
                e.pipeline_execution_id.as_deref().unwrap_or_default() == at.execution_id
            })
        })
        .flat_map(|s| s.action_states.into_iter().flatten())
        .filter(|a| a.action_name.as_deref() == Some(at.action))
        .filter_map(|a| a.latest_execution)
        .find(|e| e.status.as_deref() == Some("InProgress"))
        .and_then(|e| e.token)
}

#[async_trait]
impl CodePipeline for AwsCodePipeline {
    async fn get_pipeline_execution(
        &self,
        pipeline: &str,
        execution_id: &str,
    ) -> Result<Option<PipelineExecution>, ServiceError> {
        let request = json!({"pipelineName": pipeline, "pipelineExecutionId": execution_id});
        let out: GetPipelineExecutionOutput = match self
            .0
            .call(Service::CodePipeline, "GetPipelineExecution", &request)
            .await
        {
            Ok(out) => out,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(service_error(e)),
        };
        let Some(p) = out.pipeline_execution else {
            return Ok(None);
        };
        Ok(Some(PipelineExecution {
            pipeline_name: p.pipeline_name.unwrap_or_else(|| pipeline.to_owned()),
            execution_id: p
                .pipeline_execution_id
                .unwrap_or_else(|| execution_id.to_owned()),
            status: p.status.unwrap_or_default(),
            variables: p
                .variables
                .into_iter()
                .flatten()
                .filter_map(|v| Some((v.name?, v.resolved_value?)))
                .collect(),
        }))
    }

    async fn list_action_executions(
        &self,
        pipeline: &str,
        execution_id: &str,
    ) -> Result<Vec<ActionExecution>, ServiceError> {
        let mut out = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let mut request = json!({
                "pipelineName": pipeline,
                "filter": {"pipelineExecutionId": execution_id},
            });
            if let Some(token) = &next {
                request["nextToken"] = json!(token);
            }
            let page: ListActionExecutionsOutput = self
                .0
                .call(Service::CodePipeline, "ListActionExecutions", &request)
                .await
                .map_err(service_error)?;
            out.extend(
                page.action_execution_details
                    .into_iter()
                    .flatten()
                    .map(Into::into),
            );
            match page.next_token {
                Some(token) if !token.is_empty() && Some(&token) != next.as_ref() => {
                    next = Some(token);
                }
                _ => return Ok(out),
            }
        }
    }

    async fn pending_approval_token(
        &self,
        at: &ApprovalAction<'_>,
    ) -> Result<Option<String>, ServiceError> {
        let state: GetPipelineStateOutput = self
            .0
            .call(
                Service::CodePipeline,
                "GetPipelineState",
                &json!({"name": at.pipeline}),
            )
            .await
            .map_err(service_error)?;
        Ok(pending_token(state, at))
    }

    async fn reject_approval(
        &self,
        at: &ApprovalAction<'_>,
        approval_token: &str,
        summary: &str,
    ) -> Result<(), ServiceError> {
        let request = json!({
            "pipelineName": at.pipeline,
            "stageName": at.stage,
            "actionName": at.action,
            "result": {"summary": summary, "status": "Rejected"},
            "token": approval_token,
        });
        self.0
            .call::<_, Value>(Service::CodePipeline, "PutApprovalResult", &request)
            .await
            .map(drop)
            .map_err(service_error)
    }
}

/// The token table on DynamoDB.
#[derive(Clone, Debug)]
pub struct DynamoTokenStore {
    pub client: JsonClient,
    pub table: String,
}

/// DynamoDB JSON as it comes: values the runtime does not model (binary, number sets) read as
/// `NULL` instead of failing the whole item.
type WireItem = BTreeMap<String, Value>;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetItemOutput {
    item: Option<WireItem>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ScanOutput {
    items: Option<Vec<WireItem>>,
    last_evaluated_key: Option<Value>,
}

fn from_wire(item: WireItem) -> StoredItem {
    StoredItem(
        item.into_iter()
            .map(|(k, v)| {
                let value = serde_json::from_value(v).unwrap_or(AttrValue::Null(true));
                (k, value)
            })
            .collect(),
    )
}

impl DynamoTokenStore {
    fn key(id: &CorrelationId) -> Value {
        json!({"correlation_id": {"S": id.as_str()}})
    }
}

#[async_trait]
impl TokenStore for DynamoTokenStore {
    async fn get(&self, id: &CorrelationId) -> Result<Option<StoredItem>, ServiceError> {
        let request = json!({
            "TableName": self.table,
            "Key": Self::key(id),
            "ConsistentRead": true,
        });
        let out: GetItemOutput = self
            .client
            .call(Service::DynamoDb, "GetItem", &request)
            .await
            .map_err(service_error)?;
        Ok(out.item.map(from_wire))
    }

    async fn claim(
        &self,
        id: &CorrelationId,
        decided_at: &str,
        approvers: &[String],
    ) -> Result<Claim, ServiceError> {
        let list = AttrValue::L(approvers.iter().cloned().map(AttrValue::S).collect());
        let request = json!({
            "TableName": self.table,
            "Key": Self::key(id),
            "UpdateExpression": "SET decided_at = :d, approvers = :a",
            "ConditionExpression":
                "attribute_exists(correlation_id) AND attribute_not_exists(decided_at)",
            "ExpressionAttributeValues": {":d": {"S": decided_at}, ":a": list},
        });
        match self
            .client
            .call::<_, Value>(Service::DynamoDb, "UpdateItem", &request)
            .await
        {
            Ok(_) => Ok(Claim::Claimed),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => {
                Ok(match self.get(id).await? {
                    Some(_) => Claim::AlreadyDecided,
                    None => Claim::Missing,
                })
            }
            Err(e) => Err(service_error(e)),
        }
    }

    async fn release(&self, id: &CorrelationId) -> Result<(), ServiceError> {
        let request = json!({
            "TableName": self.table,
            "Key": Self::key(id),
            "UpdateExpression": "REMOVE decided_at, approvers",
            "ConditionExpression": "attribute_exists(correlation_id)",
        });
        self.client
            .call::<_, Value>(Service::DynamoDb, "UpdateItem", &request)
            .await
            .map(drop)
            .map_err(service_error)
    }

    async fn list_undecided(&self) -> Result<Vec<StoredItem>, ServiceError> {
        let mut out = Vec::new();
        let mut start: Option<Value> = None;
        loop {
            let mut request = json!({
                "TableName": self.table,
                "FilterExpression": "attribute_not_exists(decided_at)",
                "ConsistentRead": true,
            });
            if let Some(key) = start.take() {
                request["ExclusiveStartKey"] = key;
            }
            let page: ScanOutput = self
                .client
                .call(Service::DynamoDb, "Scan", &request)
                .await
                .map_err(service_error)?;
            out.extend(page.items.into_iter().flatten().map(from_wire));
            match page.last_evaluated_key {
                Some(key) if key.as_object().is_some_and(|m| !m.is_empty()) => start = Some(key),
                _ => return Ok(out),
            }
        }
    }
}

/// The four ports on one client (one connection pool), built once per Lambda container.
#[derive(Clone, Debug)]
pub struct Clients {
    pub sfn: AwsSfn,
    pub ssm: AwsSsm,
    pub codepipeline: AwsCodePipeline,
    pub tokens: DynamoTokenStore,
}

impl Clients {
    pub fn new(client: JsonClient, table: impl Into<String>) -> Self {
        Self {
            sfn: AwsSfn(client.clone()),
            ssm: AwsSsm(client.clone()),
            codepipeline: AwsCodePipeline(client.clone()),
            tokens: DynamoTokenStore {
                client,
                table: table.into(),
            },
        }
    }
}

#[cfg(test)]
mod tests;
