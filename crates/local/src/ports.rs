//! The runtime crate's ports ([`Sfn`], [`Ssm`], [`CodePipeline`], [`TokenStore`], [`Clock`])
//! on the simulated services, so the Lambda handler code decides local runs. Step Functions
//! calls are not applied while the handler runs (the engine is not re-entrant); they are
//! checked against the tokens open at dispatch time and queued as [`Delivery`]s.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use approvalc_runtime::item::{AttrValue, StoredItem};
use approvalc_runtime::ports::{
    ActionExecution, ActionStatus, ApprovalAction, AutomationExecution, AutomationStatus, Claim,
    Clock, CodePipeline, PipelineExecution, ServiceError, Sfn, SfnError, StepExecution, TokenGone,
    TokenStore,
};
use approvalc_runtime::secret::{CorrelationId, TaskToken};
use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

use crate::services::{AutomationState, Services, approve_outputs};

/// A `SendTaskSuccess` / `SendTaskFailure` a handler made.
#[derive(Debug, Clone)]
pub enum Delivery {
    Success {
        token: String,
        output: Value,
    },
    Failure {
        token: String,
        error: String,
        cause: String,
    },
}

struct State<'a> {
    svc: &'a mut Services,
    open: BTreeSet<String>,
    deliveries: Vec<Delivery>,
}

/// All ports of one Lambda invocation in one account.
pub struct Ports<'a> {
    state: Mutex<State<'a>>,
    account_id: String,
    now_ms: i64,
}

impl<'a> Ports<'a> {
    pub fn new(
        svc: &'a mut Services,
        open: BTreeSet<String>,
        account_id: &str,
        now_ms: i64,
    ) -> Self {
        Self {
            state: Mutex::new(State {
                svc,
                open,
                deliveries: Vec::new(),
            }),
            account_id: account_id.to_owned(),
            now_ms,
        }
    }

    pub fn into_deliveries(self) -> Vec<Delivery> {
        match self.state.into_inner() {
            Ok(s) => s.deliveries,
            Err(poisoned) => poisoned.into_inner().deliveries,
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut State<'a>) -> R) -> R {
        match self.state.lock() {
            Ok(mut guard) => f(&mut guard),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }
}

/// Polls a future that never waits on I/O (every port answers at once) to completion.
pub fn block_on<F: Future>(future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    // The ports never return Pending; the bound only guards against a future that would.
    for _ in 0..1_000 {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return Some(out);
        }
    }
    None
}

#[async_trait]
impl Sfn for Ports<'_> {
    async fn send_task_success(&self, token: &TaskToken, output: &str) -> Result<(), SfnError> {
        let output: Value = serde_json::from_str(output)
            .map_err(|_| SfnError::Other("InvalidOutput: the output is not JSON".into()))?;
        self.with(|s| {
            if !s.open.remove(token.expose()) {
                return Err(SfnError::TokenGone(TokenGone::TaskDoesNotExist));
            }
            s.deliveries.push(Delivery::Success {
                token: token.expose().to_owned(),
                output,
            });
            Ok(())
        })
    }

    async fn send_task_failure(
        &self,
        token: &TaskToken,
        error: &str,
        cause: &str,
    ) -> Result<(), SfnError> {
        self.with(|s| {
            if !s.open.remove(token.expose()) {
                return Err(SfnError::TokenGone(TokenGone::TaskDoesNotExist));
            }
            s.deliveries.push(Delivery::Failure {
                token: token.expose().to_owned(),
                error: error.to_owned(),
                cause: cause.to_owned(),
            });
            Ok(())
        })
    }
}

fn time(ms: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms).single()
}

#[async_trait]
impl approvalc_runtime::ports::Ssm for Ports<'_> {
    async fn get_automation_execution(
        &self,
        execution_id: &str,
    ) -> Result<Option<AutomationExecution>, ServiceError> {
        Ok(self.with(|s| {
            let a = s.svc.automations.get(execution_id)?;
            if a.account_id != self.account_id {
                return None;
            }
            let step = if a.approval {
                StepExecution {
                    name: "Approve".into(),
                    action: "aws:approve".into(),
                    status: a.state.name().into(),
                    outputs: approve_outputs(a),
                    failure_message: a.failure_message.clone(),
                }
            } else {
                StepExecution {
                    name: "Run".into(),
                    action: "aws:executeScript".into(),
                    status: a.state.name().into(),
                    outputs: Default::default(),
                    failure_message: a.failure_message.clone(),
                }
            };
            Some(AutomationExecution {
                id: a.id.clone(),
                document_name: a.document.clone(),
                status: AutomationStatus::parse(a.state.name()),
                parameters: a.parameters.clone(),
                steps: vec![step],
                failure_message: a.failure_message.clone(),
            })
        }))
    }

    async fn stop_automation_execution(&self, execution_id: &str) -> Result<(), ServiceError> {
        let now = self.now_ms;
        self.with(|s| match s.svc.automations.get(execution_id) {
            Some(a) if a.account_id == self.account_id && !a.state.is_terminal() => {
                s.svc
                    .end_automation(execution_id, AutomationState::Cancelled, None, now);
                Ok(())
            }
            Some(a) if a.account_id == self.account_id => Err(ServiceError(format!(
                "InvalidAutomationStatusUpdateException: {execution_id} has already ended"
            ))),
            _ => Err(ServiceError(format!(
                "AutomationExecutionNotFoundException: {execution_id}"
            ))),
        })
    }
}

#[async_trait]
impl CodePipeline for Ports<'_> {
    async fn get_pipeline_execution(
        &self,
        pipeline: &str,
        execution_id: &str,
    ) -> Result<Option<PipelineExecution>, ServiceError> {
        Ok(self.with(|s| {
            let p = s.svc.pipelines.get(execution_id)?;
            if p.pipeline != pipeline || p.account_id != self.account_id {
                return None;
            }
            Some(PipelineExecution {
                pipeline_name: p.pipeline.clone(),
                execution_id: p.execution_id.clone(),
                status: match p.action_status.as_str() {
                    "InProgress" => "InProgress".into(),
                    "Succeeded" => "Succeeded".into(),
                    "Abandoned" => "Stopped".into(),
                    _ => "Failed".into(),
                },
                variables: p.variables.clone(),
            })
        }))
    }

    async fn list_action_executions(
        &self,
        pipeline: &str,
        execution_id: &str,
    ) -> Result<Vec<ActionExecution>, ServiceError> {
        Ok(self.with(|s| {
            s.svc
                .pipelines
                .get(execution_id)
                .filter(|p| p.pipeline == pipeline && p.account_id == self.account_id)
                .map(|p| ActionExecution {
                    pipeline_execution_id: p.execution_id.clone(),
                    stage_name: "Approval".into(),
                    action_name: "Approve".into(),
                    status: ActionStatus::parse(&p.action_status),
                    updated_by: p.updated_by.clone(),
                    summary: p.summary.clone(),
                    error_message: p.error_message.clone(),
                    last_update_time: time(p.updated_ms),
                })
                .into_iter()
                .collect()
        }))
    }

    async fn pending_approval_token(
        &self,
        at: &ApprovalAction<'_>,
    ) -> Result<Option<String>, ServiceError> {
        Ok(self.with(|s| {
            s.svc
                .pipelines
                .get(at.execution_id)
                .filter(|p| {
                    p.pipeline == at.pipeline
                        && p.action_status == "InProgress"
                        && at.stage == "Approval"
                        && at.action == "Approve"
                })
                .map(|p| p.approval_token.clone())
        }))
    }

    async fn reject_approval(
        &self,
        at: &ApprovalAction<'_>,
        approval_token: &str,
        summary: &str,
    ) -> Result<(), ServiceError> {
        let now = self.now_ms;
        let by = format!(
            "arn:aws:sts::{}:assumed-role/approvalc-cleanup/approvalc-cleanup",
            self.account_id
        );
        self.with(|s| {
            let valid = s.svc.pipelines.get(at.execution_id).is_some_and(|p| {
                p.pipeline == at.pipeline
                    && p.approval_token == approval_token
                    && p.action_status == "InProgress"
            });
            if !valid {
                return Err(ServiceError("InvalidApprovalTokenException".into()));
            }
            s.svc.end_approval(
                at.execution_id,
                "Failed",
                Some(by),
                Some(summary.to_owned()),
                None,
                now,
            );
            Ok(())
        })
    }
}

/// The child machine writes `prior_approvers` as one JSON string (`States.JsonToString`);
/// the runtime reads a list. Until the two agree (reported to their owners), the local token
/// table shows the handlers the list the string holds.
fn as_runtime_item(item: &StoredItem) -> StoredItem {
    let mut item = item.clone();
    if let Some(AttrValue::S(text)) = item.0.get("prior_approvers")
        && let Ok(value) = serde_json::from_str::<Value>(text)
        && let Some(list) = flat_strings(&value)
    {
        item.0.insert(
            "prior_approvers".into(),
            AttrValue::L(list.into_iter().map(AttrValue::S).collect()),
        );
    }
    item
}

/// The strings of a JSON array, nested arrays flattened (`$.stages.*.approvers[*]` may
/// arrive as a list of lists); `None` when anything else is inside.
fn flat_strings(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(items) => {
            let mut out = Vec::new();
            for item in items {
                out.extend(flat_strings(item)?);
            }
            Some(out)
        }
        _ => None,
    }
}

#[async_trait]
impl TokenStore for Ports<'_> {
    async fn get(&self, id: &CorrelationId) -> Result<Option<StoredItem>, ServiceError> {
        Ok(self.with(|s| {
            s.svc
                .tables
                .get(&self.account_id)
                .and_then(|t| t.get(id.as_str()))
                .map(as_runtime_item)
        }))
    }

    async fn claim(
        &self,
        id: &CorrelationId,
        decided_at: &str,
        approvers: &[String],
    ) -> Result<Claim, ServiceError> {
        Ok(self.with(|s| {
            let Some(item) = s
                .svc
                .tables
                .get_mut(&self.account_id)
                .and_then(|t| t.get_mut(id.as_str()))
            else {
                return Claim::Missing;
            };
            if item.is_decided() {
                return Claim::AlreadyDecided;
            }
            item.0
                .insert("decided_at".into(), AttrValue::S(decided_at.to_owned()));
            item.0.insert(
                "approvers".into(),
                AttrValue::L(approvers.iter().cloned().map(AttrValue::S).collect()),
            );
            Claim::Claimed
        }))
    }

    async fn release(&self, id: &CorrelationId) -> Result<(), ServiceError> {
        self.with(|s| {
            if let Some(item) = s
                .svc
                .tables
                .get_mut(&self.account_id)
                .and_then(|t| t.get_mut(id.as_str()))
            {
                item.0.remove("decided_at");
                item.0.remove("approvers");
            }
        });
        Ok(())
    }

    async fn list_undecided(&self) -> Result<Vec<StoredItem>, ServiceError> {
        Ok(self.with(|s| {
            s.svc
                .tables
                .get(&self.account_id)
                .map(|t| {
                    t.values()
                        .filter(|i| !i.is_decided())
                        .map(as_runtime_item)
                        .collect()
                })
                .unwrap_or_default()
        }))
    }
}

#[async_trait]
impl Clock for Ports<'_> {
    fn now(&self) -> DateTime<Utc> {
        time(self.now_ms).unwrap_or_default()
    }

    /// Virtual time does not pass inside a handler: the simulated world is stopped while
    /// it runs, so a retry finds what the first look found.
    async fn sleep(&self, _duration: Duration) {}
}
