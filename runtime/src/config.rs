//! Names the handlers check events against (defaults from `docs/token-handling.md`).

use std::time::Duration;

/// Per-account handler configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The account the handler runs in; events from any other account are ignored.
    pub account: String,
    /// SSM approval document (`approvalc-Approve`).
    pub approval_document: String,
    /// Its `aws:approve` step (`Approve`).
    pub approve_step: String,
    /// Automation parameter carrying the correlation id (`CorrelationId`).
    pub automation_parameter: String,
    /// Prefix of approval pipelines (`approvalc-`).
    pub pipeline_prefix: String,
    /// Stage and action of the manual approval (`Approval` / `Approve`).
    pub pipeline_stage: String,
    pub pipeline_action: String,
    /// Pipeline variable carrying the correlation id (`correlation_id`).
    pub pipeline_variable: String,
    /// Names of the child state machines whose end triggers cleanup.
    pub child_machines: Vec<String>,
    /// Waits between token-store lookups when the decision beats the token (≈ 2 s in all).
    pub lookup_backoff: Vec<Duration>,
}

impl Config {
    pub fn for_account(account: impl Into<String>) -> Self {
        Self {
            account: account.into(),
            approval_document: "approvalc-Approve".into(),
            approve_step: "Approve".into(),
            automation_parameter: "CorrelationId".into(),
            pipeline_prefix: "approvalc-".into(),
            pipeline_stage: "Approval".into(),
            pipeline_action: "Approve".into(),
            pipeline_variable: "correlation_id".into(),
            child_machines: vec![
                "approvalc-ssm-approval".into(),
                "approvalc-codepipeline-approval".into(),
                "approvalc-ssm-action".into(),
            ],
            lookup_backoff: [200, 400, 600, 800]
                .into_iter()
                .map(Duration::from_millis)
                .collect(),
        }
    }
}
