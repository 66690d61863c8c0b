//! Dedicated CodePipeline V2 approval pipelines (one per `codepipeline` stage that names no
//! existing pipeline), in the `CreatePipeline` request shape.
//!
//! CodePipeline needs a source stage first, so the pipeline reads a fixed object from the
//! bootstrap bucket (`approvalc deploy` uploads it), then waits in the Manual approval
//! action. Per-run text reaches the action through pipeline variables, which the child
//! machine sets when it starts the execution; the task token never does.

use serde::Serialize;
use serde_json::json;

use super::names::{PIPELINE_ACTION, PIPELINE_CORRELATION_VARIABLE, PIPELINE_STAGE};

/// The bucket `approvalc bootstrap` creates for pipeline sources, per account and region.
pub fn source_bucket(account_id: &str, region: &str) -> String {
    format!("approvalc-pipeline-{account_id}-{region}")
}

/// The object the approval pipelines use as their (unused) source.
pub const SOURCE_KEY: &str = "approvalc/source.zip";
/// The shared pipeline service role (bootstrap).
pub const PIPELINE_ROLE: &str = "approvalc-codepipeline";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PipelineDeclaration {
    pub pipeline: serde_json::Value,
}

pub struct PipelineSpec<'a> {
    pub name: &'a str,
    pub account_id: &'a str,
    pub region: &'a str,
    pub timeout_minutes: u64,
    pub notification_arn: Option<String>,
    pub has_external_link: bool,
}

pub fn declaration(spec: &PipelineSpec<'_>) -> PipelineDeclaration {
    let bucket = source_bucket(spec.account_id, spec.region);
    let mut configuration = json!({"CustomData": "#{variables.custom_data}"});
    if spec.has_external_link {
        configuration["ExternalEntityLink"] = json!("#{variables.external_link}");
    }
    if let Some(topic) = &spec.notification_arn {
        configuration["NotificationArn"] = json!(topic);
    }
    let variable = |name: &str, default: &str, description: &str| json!({"name": name, "defaultValue": default, "description": description});
    PipelineDeclaration {
        pipeline: json!({
            "name": spec.name,
            "roleArn": format!("arn:aws:iam::{}:role/{PIPELINE_ROLE}", spec.account_id),
            "artifactStore": {"type": "S3", "location": bucket},
            "pipelineType": "V2",
            "executionMode": "PARALLEL",
            "variables": [
                variable(PIPELINE_CORRELATION_VARIABLE, "none", "approvalc correlation id of the waiting child execution"),
                variable("custom_data", "approvalc approval", "text shown to approvers"),
                variable("external_link", "none", "link shown to approvers"),
            ],
            "stages": [
                {
                    "name": "Source",
                    "actions": [{
                        "name": "Source",
                        "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "S3", "version": "1"},
                        "configuration": {"S3Bucket": bucket, "S3ObjectKey": super::pipeline::SOURCE_KEY, "PollForSourceChanges": "false"},
                        "outputArtifacts": [{"name": "Source"}],
                        "runOrder": 1,
                    }],
                },
                {
                    "name": PIPELINE_STAGE,
                    "actions": [{
                        "name": PIPELINE_ACTION,
                        "actionTypeId": {"category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1"},
                        "configuration": configuration,
                        "timeoutInMinutes": spec.timeout_minutes,
                        "runOrder": 1,
                    }],
                },
            ],
        }),
    }
}
