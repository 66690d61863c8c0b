//! In-memory ports that record every call: for this crate's tests, and usable by anyone who
//! wants the handlers without AWS. Tokens are single-use as in Step Functions.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::item::{AttrValue, StoredItem};
use crate::ports::{
    ActionExecution, ApprovalAction, AutomationExecution, AutomationStatus, Claim, Clock,
    CodePipeline, PipelineExecution, ServiceError, Sfn, SfnError, Ssm, TokenGone, TokenStore,
};
use crate::secret::{CorrelationId, TaskToken};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A recorded Step Functions call (the token is kept so tests can check which task it hit).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SfnCall {
    Success {
        token: String,
        output: serde_json::Value,
    },
    Failure {
        token: String,
        error: String,
        cause: String,
    },
}

/// Step Functions: records calls; a token answers once, then `TaskTimedOut`.
#[derive(Debug, Default)]
pub struct MemorySfn {
    pub calls: Mutex<Vec<SfnCall>>,
    used: Mutex<BTreeSet<String>>,
    /// Tokens Step Functions does not know (`TaskDoesNotExist`).
    pub unknown: Mutex<BTreeSet<String>>,
    /// When set, every call fails with this transient error.
    pub outage: Mutex<Option<String>>,
}

impl MemorySfn {
    pub fn calls(&self) -> Vec<SfnCall> {
        lock(&self.calls).clone()
    }

    fn answer(&self, token: &TaskToken, call: SfnCall) -> Result<(), SfnError> {
        if let Some(message) = lock(&self.outage).clone() {
            return Err(SfnError::Other(message));
        }
        let t = token.expose().to_owned();
        if lock(&self.unknown).contains(&t) {
            return Err(SfnError::TokenGone(TokenGone::TaskDoesNotExist));
        }
        if !lock(&self.used).insert(t) {
            return Err(SfnError::TokenGone(TokenGone::TaskTimedOut));
        }
        lock(&self.calls).push(call);
        Ok(())
    }
}

#[async_trait]
impl Sfn for MemorySfn {
    async fn send_task_success(&self, token: &TaskToken, output: &str) -> Result<(), SfnError> {
        let output = serde_json::from_str(output).map_err(|e| SfnError::Other(e.to_string()))?;
        let call = SfnCall::Success {
            token: token.expose().to_owned(),
            output,
        };
        self.answer(token, call)
    }

    async fn send_task_failure(
        &self,
        token: &TaskToken,
        error: &str,
        cause: &str,
    ) -> Result<(), SfnError> {
        let call = SfnCall::Failure {
            token: token.expose().to_owned(),
            error: error.to_owned(),
            cause: cause.to_owned(),
        };
        self.answer(token, call)
    }
}

/// A recorded SSM or CodePipeline call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServiceCall {
    GetAutomation(String),
    StopAutomation(String),
    GetPipelineExecution(String, String),
    ListActionExecutions(String, String),
    PendingApprovalToken(String, String),
    RejectApproval {
        pipeline: String,
        approval_token: String,
        summary: String,
    },
}

/// SSM Automation executions by id.
#[derive(Debug, Default)]
pub struct MemorySsm {
    pub executions: Mutex<BTreeMap<String, AutomationExecution>>,
    pub calls: Mutex<Vec<ServiceCall>>,
    pub outage: Mutex<Option<String>>,
}

impl MemorySsm {
    pub fn insert(&self, execution: AutomationExecution) {
        lock(&self.executions).insert(execution.id.clone(), execution);
    }

    pub fn calls(&self) -> Vec<ServiceCall> {
        lock(&self.calls).clone()
    }

    fn check(&self) -> Result<(), ServiceError> {
        lock(&self.outage)
            .clone()
            .map_or(Ok(()), |m| Err(ServiceError(m)))
    }
}

#[async_trait]
impl Ssm for MemorySsm {
    async fn get_automation_execution(
        &self,
        execution_id: &str,
    ) -> Result<Option<AutomationExecution>, ServiceError> {
        lock(&self.calls).push(ServiceCall::GetAutomation(execution_id.to_owned()));
        self.check()?;
        Ok(lock(&self.executions).get(execution_id).cloned())
    }

    async fn stop_automation_execution(&self, execution_id: &str) -> Result<(), ServiceError> {
        lock(&self.calls).push(ServiceCall::StopAutomation(execution_id.to_owned()));
        self.check()?;
        match lock(&self.executions).get_mut(execution_id) {
            Some(e) => {
                e.status = AutomationStatus::Cancelled;
                Ok(())
            }
            None => Err(ServiceError(format!(
                "AutomationExecutionNotFoundException: {execution_id}"
            ))),
        }
    }
}

/// CodePipeline executions, action executions and pending approval tokens.
#[derive(Debug, Default)]
pub struct MemoryCodePipeline {
    pub executions: Mutex<BTreeMap<(String, String), PipelineExecution>>,
    pub actions: Mutex<BTreeMap<(String, String), Vec<ActionExecution>>>,
    pub pending: Mutex<BTreeMap<(String, String), String>>,
    pub calls: Mutex<Vec<ServiceCall>>,
    /// When set, `ListActionExecutions` fails with this error.
    pub list_outage: Mutex<Option<String>>,
}

impl MemoryCodePipeline {
    pub fn insert(&self, execution: PipelineExecution, actions: Vec<ActionExecution>) {
        let key = (
            execution.pipeline_name.clone(),
            execution.execution_id.clone(),
        );
        lock(&self.actions).insert(key.clone(), actions);
        lock(&self.executions).insert(key, execution);
    }

    pub fn calls(&self) -> Vec<ServiceCall> {
        lock(&self.calls).clone()
    }
}

#[async_trait]
impl CodePipeline for MemoryCodePipeline {
    async fn get_pipeline_execution(
        &self,
        pipeline: &str,
        execution_id: &str,
    ) -> Result<Option<PipelineExecution>, ServiceError> {
        lock(&self.calls).push(ServiceCall::GetPipelineExecution(
            pipeline.into(),
            execution_id.into(),
        ));
        Ok(lock(&self.executions)
            .get(&(pipeline.to_owned(), execution_id.to_owned()))
            .cloned())
    }

    async fn list_action_executions(
        &self,
        pipeline: &str,
        execution_id: &str,
    ) -> Result<Vec<ActionExecution>, ServiceError> {
        lock(&self.calls).push(ServiceCall::ListActionExecutions(
            pipeline.into(),
            execution_id.into(),
        ));
        if let Some(m) = lock(&self.list_outage).clone() {
            return Err(ServiceError(m));
        }
        Ok(lock(&self.actions)
            .get(&(pipeline.to_owned(), execution_id.to_owned()))
            .cloned()
            .unwrap_or_default())
    }

    async fn pending_approval_token(
        &self,
        at: &ApprovalAction<'_>,
    ) -> Result<Option<String>, ServiceError> {
        lock(&self.calls).push(ServiceCall::PendingApprovalToken(
            at.pipeline.into(),
            at.execution_id.into(),
        ));
        Ok(lock(&self.pending)
            .get(&(at.pipeline.to_owned(), at.execution_id.to_owned()))
            .cloned())
    }

    async fn reject_approval(
        &self,
        at: &ApprovalAction<'_>,
        approval_token: &str,
        summary: &str,
    ) -> Result<(), ServiceError> {
        lock(&self.calls).push(ServiceCall::RejectApproval {
            pipeline: at.pipeline.into(),
            approval_token: approval_token.into(),
            summary: summary.into(),
        });
        lock(&self.pending).remove(&(at.pipeline.to_owned(), at.execution_id.to_owned()));
        Ok(())
    }
}

/// A recorded token-store call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreCall {
    Get(String),
    Claim(String),
    Release(String),
    ListUndecided,
}

/// The token table.
#[derive(Debug, Default)]
pub struct MemoryTokenStore {
    pub items: Mutex<BTreeMap<String, StoredItem>>,
    pub calls: Mutex<Vec<StoreCall>>,
}

impl MemoryTokenStore {
    /// Stores an item under its `correlation_id` attribute (as the child's `putItem` does).
    pub fn put(&self, item: StoredItem) {
        let key = match item.0.get("correlation_id") {
            Some(AttrValue::S(s)) => s.clone(),
            _ => String::new(),
        };
        lock(&self.items).insert(key, item);
    }

    pub fn item(&self, id: &str) -> Option<StoredItem> {
        lock(&self.items).get(id).cloned()
    }

    pub fn calls(&self) -> Vec<StoreCall> {
        lock(&self.calls).clone()
    }
}

#[async_trait]
impl TokenStore for MemoryTokenStore {
    async fn get(&self, id: &CorrelationId) -> Result<Option<StoredItem>, ServiceError> {
        lock(&self.calls).push(StoreCall::Get(id.to_string()));
        Ok(lock(&self.items).get(id.as_str()).cloned())
    }

    async fn claim(
        &self,
        id: &CorrelationId,
        decided_at: &str,
        approvers: &[String],
    ) -> Result<Claim, ServiceError> {
        lock(&self.calls).push(StoreCall::Claim(id.to_string()));
        let mut items = lock(&self.items);
        let Some(item) = items.get_mut(id.as_str()) else {
            return Ok(Claim::Missing);
        };
        if item.is_decided() {
            return Ok(Claim::AlreadyDecided);
        }
        item.0
            .insert("decided_at".into(), AttrValue::S(decided_at.into()));
        let list = approvers.iter().cloned().map(AttrValue::S).collect();
        item.0.insert("approvers".into(), AttrValue::L(list));
        Ok(Claim::Claimed)
    }

    async fn release(&self, id: &CorrelationId) -> Result<(), ServiceError> {
        lock(&self.calls).push(StoreCall::Release(id.to_string()));
        if let Some(item) = lock(&self.items).get_mut(id.as_str()) {
            item.0.remove("decided_at");
            item.0.remove("approvers");
        }
        Ok(())
    }

    async fn list_undecided(&self) -> Result<Vec<StoredItem>, ServiceError> {
        lock(&self.calls).push(StoreCall::ListUndecided);
        Ok(lock(&self.items)
            .values()
            .filter(|i| !i.is_decided())
            .cloned()
            .collect())
    }
}

/// A clock that stands still and records the sleeps asked of it.
#[derive(Debug)]
pub struct ManualClock {
    pub now: DateTime<Utc>,
    pub sleeps: Mutex<Vec<Duration>>,
}

impl ManualClock {
    pub fn at(now: DateTime<Utc>) -> Self {
        Self {
            now,
            sleeps: Mutex::new(Vec::new()),
        }
    }

    pub fn sleeps(&self) -> Vec<Duration> {
        lock(&self.sleeps).clone()
    }
}

#[async_trait]
impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.now
    }

    async fn sleep(&self, duration: Duration) {
        lock(&self.sleeps).push(duration);
    }
}
