//! The bootstrapped SSM Automation approval document (`approvalc-Approve`).
//!
//! `aws:approve` has an optional `NotificationArn`, and an empty value is not a valid topic,
//! so the document branches: `Approve` notifies the topic, `ApproveQuiet` does not. Both are
//! `aws:approve` steps; callbacks look for the `aws:approve` step that ran. The step timeout
//! is the `aws:approve` maximum (30 days): the child machine enforces the stage's own timeout
//! and stops the automation when it gives up.

use serde::Serialize;
use serde_json::json;

use super::names::APPROVE_STEP;

/// Document content in the shape `AWS::SSM::Document.Content` and `ssm:CreateDocument` take.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AutomationDocument {
    pub description: String,
    #[serde(rename = "schemaVersion")]
    pub schema_version: String,
    pub parameters: serde_json::Value,
    #[serde(rename = "mainSteps")]
    pub main_steps: Vec<serde_json::Value>,
}

/// 30 days, the `aws:approve` maximum.
pub const APPROVE_MAX_SECONDS: u64 = 30 * 86_400;

pub fn approval_document() -> AutomationDocument {
    let approve = |name: &str, with_topic: bool| {
        let mut inputs = json!({
            "Approvers": "{{ Approvers }}",
            "MinRequiredApprovals": "{{ MinRequiredApprovals }}",
            "Message": "{{ Message }}",
        });
        if with_topic {
            inputs["NotificationArn"] = json!("{{ NotificationArn }}");
        }
        json!({
            "name": name,
            "action": "aws:approve",
            "timeoutSeconds": APPROVE_MAX_SECONDS,
            "onFailure": "Abort",
            "inputs": inputs,
            "isEnd": true,
        })
    };
    AutomationDocument {
        description: "approvalc approval request. Started by an approvalc child state machine; \
                      CorrelationId links it to the stored task token (docs/token-handling.md)."
            .to_owned(),
        schema_version: "0.3".to_owned(),
        parameters: json!({
            "CorrelationId": {"type": "String", "description": "approvalc correlation id (the child execution name)", "allowedPattern": "^[A-Za-z0-9-]{1,80}$"},
            "Approvers": {"type": "StringList", "description": "IAM users or user/role/assumed-role ARNs who may decide"},
            "MinRequiredApprovals": {"type": "Integer", "description": "approvals needed", "default": 1},
            "Message": {"type": "String", "description": "what the approvers are asked"},
            "NotificationArn": {"type": "String", "description": "SNS topic (name starts with Automation); empty for none", "default": ""},
            "TimeoutSeconds": {"type": "Integer", "description": "the stage timeout the child machine enforces (informational)", "default": 604800},
        }),
        main_steps: vec![
            json!({
                "name": "Route",
                "action": "aws:branch",
                "inputs": {
                    "Choices": [{"NextStep": "ApproveQuiet", "Variable": "{{ NotificationArn }}", "StringEquals": ""}],
                    "Default": APPROVE_STEP,
                },
            }),
            approve(APPROVE_STEP, true),
            approve("ApproveQuiet", false),
        ],
    }
}
