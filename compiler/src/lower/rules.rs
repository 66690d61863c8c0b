//! EventBridge rule patterns for the callbacks (docs/token-handling.md "EventBridge rule
//! patterns"). Patterns are typed so a test can match them against sample events.

use serde::Serialize;
use serde_json::json;

use super::names::ChildKind;

/// SSM Automation executions of `documents` that ended.
pub fn ssm_pattern(documents: &[String]) -> serde_json::Value {
    json!({
        "source": ["aws.ssm"],
        "detail-type": ["EC2 Automation Execution Status-change Notification"],
        "detail": {
            "Definition": documents,
            "Status": ["Success", "Failed", "TimedOut", "Cancelled"],
        },
    })
}

/// Manual approval actions of approvalc pipelines that ended.
pub fn codepipeline_pattern() -> serde_json::Value {
    json!({
        "source": ["aws.codepipeline"],
        "detail-type": ["CodePipeline Action Execution State Change"],
        "detail": {
            "pipeline": [{"prefix": "approvalc-"}],
            "type": {"category": ["Approval"], "provider": ["Manual"]},
            "state": ["SUCCEEDED", "FAILED", "CANCELED", "ABANDONED"],
        },
    })
}

/// Child executions that ended without a result, so that their pending request is
/// withdrawn. `machine_arns` may be `Fn::Sub` objects inside templates.
pub fn cleanup_pattern(machine_arns: Vec<serde_json::Value>) -> serde_json::Value {
    json!({
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {
            "status": ["ABORTED", "TIMED_OUT", "FAILED"],
            "stateMachineArn": machine_arns,
        },
    })
}

/// A per-workflow rule in the `PutRule` + `PutTargets` shape.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleDeclaration {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Description")]
    pub description: String,
    #[serde(rename = "EventBusName")]
    pub event_bus: String,
    #[serde(rename = "State")]
    pub state: String,
    /// `PutRule` takes the pattern as a JSON string; deploy serialises this object.
    #[serde(rename = "EventPattern")]
    pub pattern: serde_json::Value,
    #[serde(rename = "Targets")]
    pub targets: Vec<RuleTarget>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleTarget {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "Arn")]
    pub arn: String,
}

/// Which child kinds a callback serves (for documentation in the manifest).
pub const fn callback_for(kind: ChildKind) -> &'static str {
    match kind {
        ChildKind::Ssm | ChildKind::Action => "approvalc-ssm-callback",
        ChildKind::Codepipeline => "approvalc-codepipeline-callback",
    }
}
