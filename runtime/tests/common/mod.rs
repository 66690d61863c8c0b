//! Shared test world: recording in-memory ports, fixtures, and a tracing capture that lets
//! every test assert the token never reaches a log line.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use approvalc_runtime::item::{AttrValue, StoredItem};
use approvalc_runtime::memory::{
    ManualClock, MemoryCodePipeline, MemorySfn, MemorySsm, MemoryTokenStore,
};
use approvalc_runtime::ports::{
    ActionExecution, ActionStatus, AutomationExecution, AutomationStatus, PipelineExecution,
    StepExecution,
};
use approvalc_runtime::{Config, Ctx};
use chrono::TimeZone;

pub const ACCOUNT: &str = "123456789012";
pub const AUTOMATION_ID: &str = "333ba70b-2333-48db-b17e-a5e69c6f4d1c";
pub const CID: &str = "7d8c3f4e-9a1b-4c2d-8e5f-0a1b2c3d4e5f";
pub const PIPELINE: &str = "approvalc-deploy-prod";
pub const PIPELINE_EXECUTION: &str = "01234567-0123-0123-0123-012345678901";
pub const REQUESTER: &str = "arn:aws:iam::123456789012:user/alice";
pub const BOB: &str = "arn:aws:iam::123456789012:user/bob";
/// Looks like a real task token; any log line containing a piece of it fails the test.
pub const TOKEN: &str =
    "AQCEAAAAKgAAAAMAAAAAAAAAAU2Vjcm0tdG9rZW4tdGhhdC1tdXN0LW5ldmVyLWJlLWxvZ2dlZA==SECRETTOKENTAIL";
pub const DECIDED_AT: &str = "2026-11-25T12:00:00Z";

pub fn fixture(name: &str) -> serde_json::Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn child_arn(machine: &str) -> String {
    format!("arn:aws:states:us-east-1:{ACCOUNT}:execution:{machine}:{CID}")
}

/// The item the child's `putItem.waitForTaskToken` writes (contract: docs/token-handling.md).
pub fn item(kind: &str) -> StoredItem {
    let s = |v: &str| AttrValue::S(v.to_owned());
    let mut m = BTreeMap::new();
    m.insert("correlation_id".into(), s(CID));
    m.insert("task_token".into(), s(TOKEN));
    m.insert("kind".into(), s(kind));
    m.insert("run_id".into(), s("run-42"));
    m.insert("workflow".into(), s("deploy"));
    m.insert("stage_id".into(), s("prod-owner"));
    m.insert("account".into(), s(ACCOUNT));
    m.insert(
        "parent_execution_arn".into(),
        s("arn:aws:states:us-east-1:123456789012:execution:approvalc-deploy:run-42"),
    );
    let machine = match kind {
        "codepipeline" => "approvalc-codepipeline-approval",
        "action" => "approvalc-ssm-action",
        _ => "approvalc-ssm-approval",
    };
    m.insert("child_execution_arn".into(), s(&child_arn(machine)));
    m.insert("requester".into(), s(REQUESTER));
    m.insert("distinct_approvers".into(), AttrValue::Bool(true));
    m.insert("requester_cannot_approve".into(), AttrValue::Bool(true));
    m.insert(
        "prior_approvers".into(),
        AttrValue::L(vec![s("arn:aws:iam::123456789012:user/carol")]),
    );
    if kind == "codepipeline" {
        m.insert("pipeline_name".into(), s(PIPELINE));
        m.insert("pipeline_execution_id".into(), s(PIPELINE_EXECUTION));
    } else {
        m.insert("automation_execution_id".into(), s(AUTOMATION_ID));
    }
    m.insert("expires_at".into(), AttrValue::N("1790000000".into()));
    StoredItem(m)
}

pub fn decision_json(approver: &str, decision: &str, comment: &str) -> String {
    serde_json::json!({
        "Approver": approver,
        "Decision": decision,
        "ApprovalDecisionTime": "2026-11-25T11:59:00.000000Z",
        "Comment": comment
    })
    .to_string()
}

/// An `approvalc-Approve` automation whose `Approve` step reports `approval_status`.
pub fn automation(
    status: AutomationStatus,
    approval_status: Option<&str>,
    decisions: Vec<String>,
) -> AutomationExecution {
    let mut outputs = BTreeMap::new();
    if let Some(a) = approval_status {
        outputs.insert("ApprovalStatus".to_owned(), vec![a.to_owned()]);
    }
    if !decisions.is_empty() {
        outputs.insert("ApproverDecisions".to_owned(), decisions);
    }
    AutomationExecution {
        id: AUTOMATION_ID.into(),
        document_name: "approvalc-Approve".into(),
        status,
        parameters: BTreeMap::from([
            ("CorrelationId".to_owned(), vec![CID.to_owned()]),
            ("Approvers".to_owned(), vec![BOB.to_owned()]),
        ]),
        steps: vec![StepExecution {
            name: "Approve".into(),
            action: "aws:approve".into(),
            status: "Success".into(),
            outputs,
            failure_message: None,
        }],
        failure_message: None,
    }
}

pub fn pipeline_execution() -> PipelineExecution {
    PipelineExecution {
        pipeline_name: PIPELINE.into(),
        execution_id: PIPELINE_EXECUTION.into(),
        status: "InProgress".into(),
        variables: BTreeMap::from([("correlation_id".to_owned(), CID.to_owned())]),
    }
}

pub fn approval_action(
    status: ActionStatus,
    by: Option<&str>,
    summary: Option<&str>,
) -> ActionExecution {
    ActionExecution {
        pipeline_execution_id: PIPELINE_EXECUTION.into(),
        stage_name: "Approval".into(),
        action_name: "Approve".into(),
        status,
        updated_by: by.map(str::to_owned),
        summary: summary.map(str::to_owned),
        error_message: None,
        last_update_time: None,
    }
}

/// Captured JSON log output of everything a test ran.
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// Fails if any piece of the token (or `extra` secrets) shows up in the log output.
    pub fn assert_clean(&self, extra: &[&str]) {
        let text = self.text();
        assert!(!text.is_empty(), "expected some log output");
        for secret in [TOKEN, "SECRETTOKENTAIL", &TOKEN[..24]].iter().chain(extra) {
            assert!(
                !text.contains(secret),
                "secret {secret:?} leaked into logs:\n{text}"
            );
        }
        for line in text.lines() {
            serde_json::from_str::<serde_json::Value>(line)
                .unwrap_or_else(|e| panic!("log line is not JSON ({e}): {line}"));
        }
    }
}

pub struct World {
    pub config: Config,
    pub sfn: MemorySfn,
    pub ssm: MemorySsm,
    pub codepipeline: MemoryCodePipeline,
    pub tokens: MemoryTokenStore,
    pub clock: ManualClock,
    pub logs: Logs,
    _guard: tracing::subscriber::DefaultGuard,
}

impl World {
    pub fn new() -> Self {
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::TRACE)
            .with_current_span(true)
            .with_span_list(true)
            .with_writer(move || writer.clone())
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        Self {
            config: Config::for_account(ACCOUNT),
            sfn: MemorySfn::default(),
            ssm: MemorySsm::default(),
            codepipeline: MemoryCodePipeline::default(),
            tokens: MemoryTokenStore::default(),
            clock: ManualClock::at(
                chrono::Utc
                    .with_ymd_and_hms(2026, 11, 25, 12, 0, 0)
                    .unwrap(),
            ),
            logs,
            _guard: guard,
        }
    }

    /// The common case: the SSM item is stored and its automation ended with Bob approving.
    pub fn with_ssm_approved_by_bob(&self, comment: &str) {
        self.tokens.put(item("ssm"));
        self.ssm.insert(automation(
            AutomationStatus::Success,
            Some("Approved"),
            vec![decision_json(BOB, "Approve", comment)],
        ));
    }

    pub fn ctx(&self) -> Ctx<'_> {
        Ctx {
            config: &self.config,
            sfn: &self.sfn,
            tokens: &self.tokens,
            clock: &self.clock,
        }
    }

    /// Nothing at all was asked of any service.
    pub fn assert_untouched(&self) {
        assert!(self.sfn.calls().is_empty(), "sfn: {:?}", self.sfn.calls());
        assert!(self.ssm.calls().is_empty(), "ssm: {:?}", self.ssm.calls());
        assert!(
            self.codepipeline.calls().is_empty(),
            "codepipeline: {:?}",
            self.codepipeline.calls()
        );
        assert!(
            self.tokens.calls().is_empty(),
            "tokens: {:?}",
            self.tokens.calls()
        );
    }
}
