//! The simulated SSM Automation, CodePipeline and DynamoDB token tables: plain data with the
//! operations their APIs offer, each state change queued as the EventBridge event AWS would
//! publish. All of it is serde so a run can be persisted between commands.

use std::collections::BTreeMap;

use approvalc_engine::clock::format_timestamp;
use approvalc_runtime::item::StoredItem;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// What an approver does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Approve,
    Reject,
}

/// One approver's signal on an `aws:approve` step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signal {
    pub approver: String,
    pub verdict: Verdict,
    pub comment: Option<String>,
    pub at_ms: i64,
}

/// `AutomationExecutionStatus` values the simulation uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AutomationState {
    InProgress,
    Waiting,
    Success,
    Failed,
    TimedOut,
    Cancelled,
}

impl AutomationState {
    pub fn name(self) -> &'static str {
        match self {
            Self::InProgress => "InProgress",
            Self::Waiting => "Waiting",
            Self::Success => "Success",
            Self::Failed => "Failed",
            Self::TimedOut => "TimedOut",
            Self::Cancelled => "Cancelled",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Success | Self::Failed | Self::TimedOut | Self::Cancelled
        )
    }
}

/// One automation execution: an approval (`aws:approve`) or a user's action document.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Automation {
    pub id: String,
    pub account_id: String,
    pub document: String,
    pub client_token: Option<String>,
    pub parameters: BTreeMap<String, Vec<String>>,
    pub state: AutomationState,
    /// `true` for the approval document: decided by signals; else an action document.
    pub approval: bool,
    pub approvers: Vec<String>,
    pub min_approvals: usize,
    pub signals: Vec<Signal>,
    pub started_ms: i64,
    pub ended_ms: Option<i64>,
    /// When the `aws:approve` step gives up.
    pub timeout_at_ms: Option<i64>,
    pub failure_message: Option<String>,
}

/// The manual approval action of one pipeline execution.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PipelineRun {
    pub pipeline: String,
    pub execution_id: String,
    pub account_id: String,
    pub client_token: Option<String>,
    pub variables: BTreeMap<String, String>,
    /// `InProgress`, `Succeeded`, `Failed`, `Abandoned`.
    pub action_status: String,
    pub approval_token: String,
    pub updated_by: Option<String>,
    pub summary: Option<String>,
    pub error_message: Option<String>,
    pub started_ms: i64,
    pub updated_ms: i64,
    pub expires_at_ms: i64,
}

/// An event on an account's default bus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BusEvent {
    pub account_id: String,
    pub body: Value,
}

/// All simulated service state of one run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Services {
    pub region: String,
    pub automations: BTreeMap<String, Automation>,
    pub pipelines: BTreeMap<String, PipelineRun>,
    /// Account id → correlation id → item.
    pub tables: BTreeMap<String, BTreeMap<String, StoredItem>>,
    /// Events not yet delivered.
    pub outbox: Vec<BusEvent>,
    /// Every event ever published (for replay tests and `status --events`).
    pub published: Vec<BusEvent>,
    pub counter: u64,
    pub seed: u64,
    /// Why a stage's child could not be started (STS, missing machines): the parent only
    /// records the error name, people need the cause.
    #[serde(default)]
    pub start_failures: BTreeMap<String, String>,
}

impl Services {
    pub fn new(region: &str, seed: u64) -> Self {
        Self {
            region: region.to_owned(),
            seed,
            ..Self::default()
        }
    }

    /// A deterministic UUID-shaped id (AWS ids look like this; tests need them stable).
    pub fn next_id(&mut self) -> String {
        self.counter += 1;
        let a = splitmix(self.seed ^ self.counter.wrapping_mul(0x9E37_79B9));
        let b = splitmix(a);
        format!(
            "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            (b >> 48) & 0xfff,
            b & 0xffff_ffff_ffff
        )
    }

    fn publish(
        &mut self,
        account_id: &str,
        source: &str,
        detail_type: &str,
        detail: Value,
        now_ms: i64,
        resources: Vec<String>,
    ) {
        let id = self.next_id();
        let body = json!({
            "version": "0",
            "id": id,
            "detail-type": detail_type,
            "source": source,
            "account": account_id,
            "time": format_timestamp(now_ms - now_ms.rem_euclid(1000)).replace(".000Z", "Z"),
            "region": self.region,
            "resources": resources,
            "detail": detail,
        });
        let event = BusEvent {
            account_id: account_id.to_owned(),
            body,
        };
        self.published.push(event.clone());
        self.outbox.push(event);
    }

    /// Publishes `EC2 Automation Execution Status-change Notification` for an automation.
    pub fn automation_changed(&mut self, id: &str, now_ms: i64) {
        let Some(a) = self.automations.get(id) else {
            return;
        };
        let account = a.account_id.clone();
        let arn = format!(
            "arn:aws:ssm:{}:{}:automation-execution/{}",
            self.region, a.account_id, a.id
        );
        let detail = json!({
            "ExecutionId": a.id,
            "Definition": a.document,
            "DefinitionVersion": 1.0,
            "Status": a.state.name(),
            "StartTime": format_timestamp(a.started_ms),
            "EndTime": a.ended_ms.map(format_timestamp),
            "Time": now_ms as f64,
            "ExecutedBy": format!("arn:aws:sts::{}:assumed-role/approvalc-ssm-approval-machine/local", a.account_id),
        });
        self.publish(
            &account,
            "aws.ssm",
            "EC2 Automation Execution Status-change Notification",
            detail,
            now_ms,
            vec![arn],
        );
    }

    /// Publishes `CodePipeline Action Execution State Change` for the approval action.
    pub fn approval_changed(&mut self, execution_id: &str, now_ms: i64) {
        let Some(p) = self.pipelines.get(execution_id) else {
            return;
        };
        let state = match p.action_status.as_str() {
            "Succeeded" => "SUCCEEDED",
            "Failed" => "FAILED",
            "Abandoned" => "ABANDONED",
            _ => "STARTED",
        };
        let account = p.account_id.clone();
        let arn = format!(
            "arn:aws:codepipeline:{}:{}:{}",
            self.region, p.account_id, p.pipeline
        );
        let detail = json!({
            "pipeline": p.pipeline,
            "execution-id": p.execution_id,
            "stage": "Approval",
            "action": "Approve",
            "state": state,
            "region": self.region,
            "type": {"owner": "AWS", "provider": "Manual", "category": "Approval", "version": "1"},
            "version": 1.0,
        });
        self.publish(
            &account,
            "aws.codepipeline",
            "CodePipeline Action Execution State Change",
            detail,
            now_ms,
            vec![arn],
        );
    }

    /// Publishes `Step Functions Execution Status Change`.
    pub fn execution_changed(&mut self, account_id: &str, detail: Value, now_ms: i64) {
        let arn = detail
            .get("executionArn")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        self.publish(
            account_id,
            "aws.states",
            "Step Functions Execution Status Change",
            detail,
            now_ms,
            vec![arn],
        );
    }

    /// Ends an automation (no-op when it already ended) and publishes the change.
    pub fn end_automation(
        &mut self,
        id: &str,
        state: AutomationState,
        message: Option<String>,
        now_ms: i64,
    ) -> bool {
        let Some(a) = self.automations.get_mut(id) else {
            return false;
        };
        if a.state.is_terminal() {
            return false;
        }
        a.state = state;
        a.ended_ms = Some(now_ms);
        a.failure_message = message;
        self.automation_changed(id, now_ms);
        true
    }

    /// Ends the approval action of a pipeline execution and publishes the change.
    pub fn end_approval(
        &mut self,
        execution_id: &str,
        status: &str,
        by: Option<String>,
        summary: Option<String>,
        error: Option<String>,
        now_ms: i64,
    ) -> bool {
        let Some(p) = self.pipelines.get_mut(execution_id) else {
            return false;
        };
        if p.action_status != "InProgress" {
            return false;
        }
        p.action_status = status.to_owned();
        p.updated_by = by;
        p.summary = summary;
        p.error_message = error;
        p.updated_ms = now_ms;
        self.approval_changed(execution_id, now_ms);
        true
    }

    /// Applies one approver's signal to an `aws:approve` step: a rejection ends it at once,
    /// `min_approvals` approvals end it approved.
    pub fn signal(&mut self, id: &str, signal: Signal) {
        let now = signal.at_ms;
        let Some(a) = self.automations.get_mut(id) else {
            return;
        };
        let verdict = signal.verdict;
        a.signals.push(signal);
        let approvals = a
            .signals
            .iter()
            .filter(|s| s.verdict == Verdict::Approve)
            .count();
        let end = match verdict {
            Verdict::Reject => Some((
                AutomationState::Failed,
                Some("Step fails when it is cancelled or rejected by an approver".to_owned()),
            )),
            Verdict::Approve if approvals >= a.min_approvals => {
                Some((AutomationState::Success, None))
            }
            Verdict::Approve => None,
        };
        if let Some((state, message)) = end {
            self.end_automation(id, state, message, now);
        }
    }

    /// Earliest service timer: an approval step or a manual approval that expires.
    pub fn next_timer_ms(&self) -> Option<i64> {
        let automations = self
            .automations
            .values()
            .filter(|a| !a.state.is_terminal())
            .filter_map(|a| a.timeout_at_ms);
        let approvals = self
            .pipelines
            .values()
            .filter(|p| p.action_status == "InProgress")
            .map(|p| p.expires_at_ms);
        automations.chain(approvals).min()
    }

    /// Fires every service timer due at `now_ms`.
    pub fn fire_timers(&mut self, now_ms: i64) {
        let due: Vec<String> = self
            .automations
            .values()
            .filter(|a| !a.state.is_terminal() && a.timeout_at_ms.is_some_and(|t| t <= now_ms))
            .map(|a| a.id.clone())
            .collect();
        for id in due {
            self.end_automation(
                &id,
                AutomationState::TimedOut,
                Some("Step timed out".into()),
                now_ms,
            );
        }
        let expired: Vec<String> = self
            .pipelines
            .values()
            .filter(|p| p.action_status == "InProgress" && p.expires_at_ms <= now_ms)
            .map(|p| p.execution_id.clone())
            .collect();
        for id in expired {
            self.end_approval(
                &id,
                "Failed",
                None,
                None,
                Some("The manual approval action timed out: the approval request expired".into()),
                now_ms,
            );
        }
    }
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// `ApproverDecisions` / `ApprovalStatus` outputs of an `aws:approve` step.
pub fn approve_outputs(a: &Automation) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    let status = match a.state {
        AutomationState::Success => Some("Approved"),
        AutomationState::Failed if a.signals.iter().any(|s| s.verdict == Verdict::Reject) => {
            Some("Rejected")
        }
        _ => None,
    };
    if let Some(status) = status {
        out.insert("ApprovalStatus".to_owned(), vec![status.to_owned()]);
    }
    let decisions = a
        .signals
        .iter()
        .map(|s| {
            json!({
                "Approver": s.approver,
                "Decision": match s.verdict { Verdict::Approve => "Approve", Verdict::Reject => "Reject" },
                "Comment": s.comment,
                "DecisionTime": format_timestamp(s.at_ms),
            })
            .to_string()
        })
        .collect::<Vec<_>>();
    if !decisions.is_empty() {
        out.insert("ApproverDecisions".to_owned(), decisions);
    }
    out
}
