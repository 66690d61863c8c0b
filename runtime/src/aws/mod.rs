//! The ports on the AWS SDK for Rust (feature `aws`), and the Lambda glue the binaries share.
//!
//! SDK error messages are turned into [`ServiceError`] / [`SfnError`] text with
//! `DisplayErrorContext`; none of the requests here echo the task token back, and the token
//! itself is only ever placed in the `taskToken` field of the two Step Functions calls.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use crate::item::{AttrValue, StoredItem};
use crate::ports::{
    ActionExecution, ActionStatus, ApprovalAction, AutomationExecution, AutomationStatus, Claim,
    CodePipeline, PipelineExecution, ServiceError, Sfn, SfnError, Ssm, StepExecution, TokenGone,
    TokenStore,
};
use crate::secret::{CorrelationId, TaskToken};

pub mod lambda;

fn service_error<E: std::error::Error>(what: &str, e: E) -> ServiceError {
    ServiceError(format!(
        "{what}: {}",
        aws_sdk_sfn::error::DisplayErrorContext(e)
    ))
}

/// Step Functions on `aws_sdk_sfn`.
#[derive(Clone, Debug)]
pub struct AwsSfn(pub aws_sdk_sfn::Client);

macro_rules! token_gone {
    ($err:expr) => {{
        let err = $err;
        match err.as_service_error() {
            Some(e) if e.is_task_timed_out() => SfnError::TokenGone(TokenGone::TaskTimedOut),
            Some(e) if e.is_invalid_token() => SfnError::TokenGone(TokenGone::InvalidToken),
            Some(e) if e.is_task_does_not_exist() => {
                SfnError::TokenGone(TokenGone::TaskDoesNotExist)
            }
            _ => SfnError::Other(format!("{}", aws_sdk_sfn::error::DisplayErrorContext(&err))),
        }
    }};
}

#[async_trait]
impl Sfn for AwsSfn {
    async fn send_task_success(&self, token: &TaskToken, output: &str) -> Result<(), SfnError> {
        self.0
            .send_task_success()
            .task_token(token.expose())
            .output(output)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| token_gone!(e))
    }

    async fn send_task_failure(
        &self,
        token: &TaskToken,
        error: &str,
        cause: &str,
    ) -> Result<(), SfnError> {
        self.0
            .send_task_failure()
            .task_token(token.expose())
            .error(error)
            .cause(cause)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| token_gone!(e))
    }
}

/// SSM on `aws_sdk_ssm`.
#[derive(Clone, Debug)]
pub struct AwsSsm(pub aws_sdk_ssm::Client);

fn to_btree(map: Option<&HashMap<String, Vec<String>>>) -> BTreeMap<String, Vec<String>> {
    map.map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

fn step(s: &aws_sdk_ssm::types::StepExecution) -> StepExecution {
    StepExecution {
        name: s.step_name().unwrap_or_default().to_owned(),
        action: s.action().unwrap_or_default().to_owned(),
        status: s
            .step_status()
            .map(|st| st.as_str().to_owned())
            .unwrap_or_default(),
        outputs: to_btree(s.outputs()),
        failure_message: s.failure_message().map(str::to_owned),
    }
}

impl AwsSsm {
    /// All steps, when `GetAutomationExecution` truncated them.
    async fn all_steps(&self, id: &str) -> Result<Vec<StepExecution>, ServiceError> {
        let mut steps = Vec::new();
        let mut pages = self
            .0
            .describe_automation_step_executions()
            .automation_execution_id(id)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| service_error("DescribeAutomationStepExecutions", e))?;
            steps.extend(page.step_executions().iter().map(step));
        }
        Ok(steps)
    }
}

#[async_trait]
impl Ssm for AwsSsm {
    async fn get_automation_execution(
        &self,
        execution_id: &str,
    ) -> Result<Option<AutomationExecution>, ServiceError> {
        let out = match self
            .0
            .get_automation_execution()
            .automation_execution_id(execution_id)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_automation_execution_not_found_exception()) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(service_error("GetAutomationExecution", e)),
        };
        let Some(a) = out.automation_execution() else {
            return Ok(None);
        };
        let steps = if a.step_executions_truncated() {
            self.all_steps(execution_id).await?
        } else {
            a.step_executions().iter().map(step).collect()
        };
        Ok(Some(AutomationExecution {
            id: a.automation_execution_id().unwrap_or_default().to_owned(),
            document_name: a.document_name().unwrap_or_default().to_owned(),
            status: AutomationStatus::parse(
                a.automation_execution_status()
                    .map(|s| s.as_str())
                    .unwrap_or_default(),
            ),
            parameters: to_btree(a.parameters()),
            steps,
            failure_message: a.failure_message().map(str::to_owned),
        }))
    }

    async fn stop_automation_execution(&self, execution_id: &str) -> Result<(), ServiceError> {
        self.0
            .stop_automation_execution()
            .automation_execution_id(execution_id)
            .r#type(aws_sdk_ssm::types::StopType::Cancel)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| service_error("StopAutomationExecution", e))
    }
}

/// CodePipeline on `aws_sdk_codepipeline`.
#[derive(Clone, Debug)]
pub struct AwsCodePipeline(pub aws_sdk_codepipeline::Client);

fn chrono_time(t: &aws_smithy_types_compat::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

/// `aws_smithy_types` as re-exported by the CodePipeline SDK.
mod aws_smithy_types_compat {
    pub use aws_sdk_codepipeline::primitives::DateTime;
}

fn action(d: &aws_sdk_codepipeline::types::ActionExecutionDetail) -> ActionExecution {
    let result = d.output().and_then(|o| o.execution_result());
    ActionExecution {
        pipeline_execution_id: d.pipeline_execution_id().unwrap_or_default().to_owned(),
        stage_name: d.stage_name().unwrap_or_default().to_owned(),
        action_name: d.action_name().unwrap_or_default().to_owned(),
        status: ActionStatus::parse(d.status().map(|s| s.as_str()).unwrap_or_default()),
        updated_by: d.updated_by().map(str::to_owned),
        summary: result
            .and_then(|r| r.external_execution_summary())
            .map(str::to_owned),
        error_message: result
            .and_then(|r| r.error_details())
            .and_then(|e| e.message())
            .map(str::to_owned),
        last_update_time: d.last_update_time().and_then(chrono_time),
    }
}

#[async_trait]
impl CodePipeline for AwsCodePipeline {
    async fn get_pipeline_execution(
        &self,
        pipeline: &str,
        execution_id: &str,
    ) -> Result<Option<PipelineExecution>, ServiceError> {
        let out = match self
            .0
            .get_pipeline_execution()
            .pipeline_name(pipeline)
            .pipeline_execution_id(execution_id)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e)
                if e.as_service_error().is_some_and(|s| {
                    s.is_pipeline_execution_not_found_exception()
                        || s.is_pipeline_not_found_exception()
                }) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(service_error("GetPipelineExecution", e)),
        };
        let Some(p) = out.pipeline_execution() else {
            return Ok(None);
        };
        Ok(Some(PipelineExecution {
            pipeline_name: p.pipeline_name().unwrap_or(pipeline).to_owned(),
            execution_id: p.pipeline_execution_id().unwrap_or(execution_id).to_owned(),
            status: p
                .status()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            variables: p
                .variables()
                .iter()
                .filter_map(|v| Some((v.name()?.to_owned(), v.resolved_value()?.to_owned())))
                .collect(),
        }))
    }

    async fn list_action_executions(
        &self,
        pipeline: &str,
        execution_id: &str,
    ) -> Result<Vec<ActionExecution>, ServiceError> {
        let filter = aws_sdk_codepipeline::types::ActionExecutionFilter::builder()
            .pipeline_execution_id(execution_id)
            .build();
        let mut pages = self
            .0
            .list_action_executions()
            .pipeline_name(pipeline)
            .filter(filter)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| service_error("ListActionExecutions", e))?;
            out.extend(page.action_execution_details().iter().map(action));
        }
        Ok(out)
    }

    async fn pending_approval_token(
        &self,
        at: &ApprovalAction<'_>,
    ) -> Result<Option<String>, ServiceError> {
        let state = self
            .0
            .get_pipeline_state()
            .name(at.pipeline)
            .send()
            .await
            .map_err(|e| service_error("GetPipelineState", e))?;
        let token = state
            .stage_states()
            .iter()
            .filter(|s| s.stage_name() == Some(at.stage))
            .filter(|s| {
                s.latest_execution()
                    .is_some_and(|e| e.pipeline_execution_id() == at.execution_id)
            })
            .flat_map(|s| s.action_states())
            .filter(|a| a.action_name() == Some(at.action))
            .filter_map(|a| a.latest_execution())
            .find(|e| {
                e.status() == Some(&aws_sdk_codepipeline::types::ActionExecutionStatus::InProgress)
            })
            .and_then(|e| e.token())
            .map(str::to_owned);
        Ok(token)
    }

    async fn reject_approval(
        &self,
        at: &ApprovalAction<'_>,
        approval_token: &str,
        summary: &str,
    ) -> Result<(), ServiceError> {
        let result = aws_sdk_codepipeline::types::ApprovalResult::builder()
            .status(aws_sdk_codepipeline::types::ApprovalStatus::Rejected)
            .summary(summary)
            .build()
            .map_err(|e| service_error("ApprovalResult", e))?;
        self.0
            .put_approval_result()
            .pipeline_name(at.pipeline)
            .stage_name(at.stage)
            .action_name(at.action)
            .result(result)
            .token(approval_token)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| service_error("PutApprovalResult", e))
    }
}

/// The token table on `aws_sdk_dynamodb`.
#[derive(Clone, Debug)]
pub struct DynamoTokenStore {
    pub client: aws_sdk_dynamodb::Client,
    pub table: String,
}

fn from_attr(a: &AttributeValue) -> AttrValue {
    match a {
        AttributeValue::S(s) => AttrValue::S(s.clone()),
        AttributeValue::N(n) => AttrValue::N(n.clone()),
        AttributeValue::Bool(b) => AttrValue::Bool(*b),
        AttributeValue::L(l) => AttrValue::L(l.iter().map(from_attr).collect()),
        AttributeValue::M(m) => {
            AttrValue::M(m.iter().map(|(k, v)| (k.clone(), from_attr(v))).collect())
        }
        AttributeValue::Ss(ss) => AttrValue::Ss(ss.clone()),
        // Binary and number sets never appear in token items.
        _ => AttrValue::Null(true),
    }
}

fn from_item(item: &HashMap<String, AttributeValue>) -> StoredItem {
    StoredItem(
        item.iter()
            .map(|(k, v)| (k.clone(), from_attr(v)))
            .collect(),
    )
}

impl DynamoTokenStore {
    fn key(id: &CorrelationId) -> AttributeValue {
        AttributeValue::S(id.as_str().to_owned())
    }
}

#[async_trait]
impl TokenStore for DynamoTokenStore {
    async fn get(&self, id: &CorrelationId) -> Result<Option<StoredItem>, ServiceError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("correlation_id", Self::key(id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| service_error("GetItem", e))?;
        Ok(out.item().map(from_item))
    }

    async fn claim(
        &self,
        id: &CorrelationId,
        decided_at: &str,
        approvers: &[String],
    ) -> Result<Claim, ServiceError> {
        let list = approvers.iter().cloned().map(AttributeValue::S).collect();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("correlation_id", Self::key(id))
            .update_expression("SET decided_at = :d, approvers = :a")
            .condition_expression(
                "attribute_exists(correlation_id) AND attribute_not_exists(decided_at)",
            )
            .expression_attribute_values(":d", AttributeValue::S(decided_at.to_owned()))
            .expression_attribute_values(":a", AttributeValue::L(list))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Claim::Claimed),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(match self.get(id).await? {
                    Some(_) => Claim::AlreadyDecided,
                    None => Claim::Missing,
                })
            }
            Err(e) => Err(service_error("UpdateItem (claim)", e)),
        }
    }

    async fn release(&self, id: &CorrelationId) -> Result<(), ServiceError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("correlation_id", Self::key(id))
            .update_expression("REMOVE decided_at, approvers")
            .condition_expression("attribute_exists(correlation_id)")
            .send()
            .await
            .map(|_| ())
            .map_err(|e| service_error("UpdateItem (release)", e))
    }

    async fn list_undecided(&self) -> Result<Vec<StoredItem>, ServiceError> {
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("attribute_not_exists(decided_at)")
            .consistent_read(true)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| service_error("Scan", e))?;
            out.extend(page.items().iter().map(from_item));
        }
        Ok(out)
    }
}

/// All SDK clients, built once per Lambda container from the standard config chain
/// (`AWS_ENDPOINT_URL` points them at an emulator).
#[derive(Clone, Debug)]
pub struct Clients {
    pub sfn: AwsSfn,
    pub ssm: AwsSsm,
    pub codepipeline: AwsCodePipeline,
    pub tokens: DynamoTokenStore,
}

impl Clients {
    pub fn new(config: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self {
            sfn: AwsSfn(aws_sdk_sfn::Client::new(config)),
            ssm: AwsSsm(aws_sdk_ssm::Client::new(config)),
            codepipeline: AwsCodePipeline(aws_sdk_codepipeline::Client::new(config)),
            tokens: DynamoTokenStore {
                client: aws_sdk_dynamodb::Client::new(config),
                table: table.into(),
            },
        }
    }
}
