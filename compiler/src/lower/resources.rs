//! Per-workflow IAM roles, policies, pipelines and rules (applied by `approvalc deploy`
//! through the SDK, in the shapes of the API calls that create them).

use serde::Serialize;
use serde_json::json;

use super::iam::{
    InlinePolicy, PolicyDocument, Principal, Resource, Role, Statement, service_trust,
};
use super::names::{ArnBuilder, ChildKind, Lambda, PIPELINE_ACTION, PIPELINE_STAGE};
use super::parent::{StageTarget, stage_target};
use super::rules::{RuleDeclaration, RuleTarget, ssm_pattern};
use crate::model::{self, Binding, Model, PipelineTarget, Stage};

/// The event rule Step Functions manages for `.sync` integrations in each account.
const SYNC_RULE: &str = "StepFunctionsGetEventsForStepFunctionsExecutionRule";

/// A standalone policy and the principals deploy attaches it to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttachedPolicy {
    #[serde(rename = "PolicyName")]
    pub name: String,
    #[serde(rename = "PolicyDocument")]
    pub document: PolicyDocument,
    /// Role names (in the policy's account) or principal ARNs / IAM user names.
    #[serde(rename = "AttachTo")]
    pub attach_to: Vec<String>,
}

pub fn parent_arn(model: &Model) -> String {
    ArnBuilder::literal(model.region.as_str(), model.home.id.as_str())
        .state_machine(&model::names::state_machine(&model.name))
}

pub fn parent_role_arn(model: &Model) -> String {
    ArnBuilder::literal(model.region.as_str(), model.home.id.as_str())
        .role(&model::names::workflow_role(&model.name))
}

fn sync_statements(arns: &ArnBuilder, targets: &[&StageTarget]) -> Vec<Statement> {
    let mut machines: Vec<String> = targets.iter().map(|t| t.child_arn.clone()).collect();
    machines.sort();
    machines.dedup();
    let mut executions: Vec<String> = targets
        .iter()
        .map(|t| arns.executions(t.kind.machine_name()))
        .collect();
    executions.sort();
    executions.dedup();
    vec![
        Statement::allow("StartChild", &["states:StartExecution"], machines),
        Statement::allow(
            "WatchChild",
            &["states:DescribeExecution", "states:StopExecution"],
            executions,
        ),
        Statement::allow(
            "SyncRule",
            &["events:PutTargets", "events:PutRule", "events:DescribeRule"],
            vec![arns.rule(SYNC_RULE)],
        ),
    ]
}

/// A part machine the parent's role runs and starts (docs/compiler.md "Splitting").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartMachine {
    pub name: String,
    pub arn: String,
}

/// The parent's execution role in the home account. Part machines run with it too, so it
/// may also start, watch and stop exactly those parts, and Step Functions may assume it
/// for the parent and for each part.
pub fn parent_role(model: &Model, parts: &[PartMachine]) -> Role {
    let home = ArnBuilder::literal(model.region.as_str(), model.home.id.as_str());
    let targets: Vec<(&Stage, StageTarget)> = model
        .stages
        .iter()
        .map(|s| (s, stage_target(model, s)))
        .collect();
    let local: Vec<&StageTarget> = targets
        .iter()
        .filter(|(_, t)| t.execute_role_arn.is_none())
        .map(|(_, t)| t)
        .collect();
    let mut statements = if local.is_empty() {
        Vec::new()
    } else {
        sync_statements(&home, &local)
    };
    if !parts.is_empty() {
        statements.extend(part_statements(&home, parts, local.is_empty()));
    }
    let mut assume: Vec<String> = targets
        .iter()
        .filter_map(|(_, t)| t.execute_role_arn.clone())
        .collect();
    assume.sort();
    assume.dedup();
    if !assume.is_empty() {
        statements.push(Statement::allow(
            "AssumeStageRoles",
            &["sts:AssumeRole"],
            assume,
        ));
    }
    let name = model::names::workflow_role(&model.name);
    let source_arn = if parts.is_empty() {
        json!(parent_arn(model))
    } else {
        let mut arns = vec![parent_arn(model)];
        arns.extend(parts.iter().map(|p| p.arn.clone()));
        json!(arns)
    };
    Role {
        name: name.clone(),
        description: format!(
            "approvalc parent state machine of workflow {}",
            model.name.as_str()
        ),
        trust: service_trust(
            "states.amazonaws.com",
            json!(model.home.id.as_str()),
            Some(source_arn),
        ),
        policies: vec![InlinePolicy {
            name,
            document: PolicyDocument::new(statements),
        }],
    }
}

/// Start, watch and stop the part machines (`.sync:2`), and the managed rule when no
/// stage statement has added it already.
fn part_statements(arns: &ArnBuilder, parts: &[PartMachine], needs_rule: bool) -> Vec<Statement> {
    let mut statements = vec![
        Statement::allow(
            "StartParts",
            &["states:StartExecution"],
            parts.iter().map(|p| p.arn.clone()).collect(),
        ),
        Statement::allow(
            "WatchParts",
            &["states:DescribeExecution", "states:StopExecution"],
            parts.iter().map(|p| arns.executions(&p.name)).collect(),
        ),
    ];
    if needs_rule {
        statements.push(Statement::allow(
            "SyncRule",
            &["events:PutTargets", "events:PutRule", "events:DescribeRule"],
            vec![arns.rule(SYNC_RULE)],
        ));
    }
    statements
}

/// The role a cross-account stage's task assumes in the stage's account. It trusts only the
/// parent's role, and only with `sts:ExternalId` = the ARN of the state machine that runs
/// the stage's task (the parent, or the part the stage was split into): Step Functions
/// passes that machine's ARN.
pub fn execute_role(model: &Model, stage: &Stage, machine_arn: &str) -> Role {
    let arns = ArnBuilder::literal(model.region.as_str(), stage.account.id.as_str());
    let target = stage_target(model, stage);
    let name = model::names::stage_role(&model.name, &stage.id);
    let trust = Statement::trust(
        "TrustParent",
        Principal::Aws(Resource::Arn(parent_role_arn(model))),
    )
    .with_condition("StringEquals", "sts:ExternalId", json!(machine_arn));
    Role {
        name: name.clone(),
        description: format!(
            "approvalc: lets workflow {} start stage {} in this account",
            model.name.as_str(),
            stage.id.as_str()
        ),
        trust: PolicyDocument::new(vec![trust]),
        policies: vec![InlinePolicy {
            name,
            document: PolicyDocument::new(sync_statements(&arns, &[&target])),
        }],
    }
}

/// The principals allowed to decide a stage, and the grant they need: `PutApprovalResult`
/// on the stage's one pipeline action, or `SendAutomationSignal` for SSM approvals.
pub fn approver_policy(model: &Model, stage: &Stage) -> Option<AttachedPolicy> {
    let arns = ArnBuilder::literal(model.region.as_str(), stage.account.id.as_str());
    let mut approvers: Vec<String> = match &stage.binding {
        Binding::Ssm(ssm) => ssm.approvers.iter().map(ToString::to_string).collect(),
        Binding::CodePipeline(cp) => cp.approvers.iter().map(ToString::to_string).collect(),
        Binding::Action(_) => return None,
    };
    if let model::OnTimeout::Escalate(e) = &stage.on_timeout {
        approvers.extend(e.approvers.iter().map(ToString::to_string));
    }
    approvers.sort();
    approvers.dedup();
    let statements = match &stage.binding {
        Binding::CodePipeline(cp) => {
            let (pipeline, stage_name, action) = match &cp.pipeline {
                PipelineTarget::Dedicated { name } => {
                    (name.as_str(), PIPELINE_STAGE, PIPELINE_ACTION)
                }
                PipelineTarget::Existing {
                    name,
                    stage,
                    action,
                } => (name.as_str(), stage.as_str(), action.as_str()),
            };
            vec![
                Statement::allow(
                    "Decide",
                    &["codepipeline:PutApprovalResult"],
                    vec![arns.pipeline(&format!("{pipeline}/{stage_name}/{action}"))],
                ),
                // `approvalc approve` reads the offered approval (GetPipelineState) and,
                // when it is not this run's, where this run's stands (ListActionExecutions
                // filtered by its pipeline execution); GetPipelineExecution is the
                // console's execution view the status link opens.
                Statement::allow(
                    "See",
                    &[
                        "codepipeline:GetPipelineState",
                        "codepipeline:GetPipelineExecution",
                        "codepipeline:ListActionExecutions",
                    ],
                    vec![arns.pipeline(pipeline)],
                ),
            ]
        }
        _ => vec![Statement::allow(
            "Decide",
            &["ssm:SendAutomationSignal", "ssm:GetAutomationExecution"],
            vec![arns.automation_executions()],
        )],
    };
    Some(AttachedPolicy {
        name: format!(
            "{}-approvers",
            model::names::stage_role(&model.name, &stage.id)
        ),
        document: PolicyDocument::new(statements),
        attach_to: approvers,
    })
}

/// Documents of `account` the workflow starts that bootstrap does not know: action
/// documents and custom SSM approval documents, with the child roles that start them.
pub fn documents_in(model: &Model, account: &model::Account) -> (Vec<String>, Vec<ChildKind>) {
    let mut documents = Vec::new();
    let mut kinds = Vec::new();
    for stage in model.stages.iter().filter(|s| s.account.id == account.id) {
        match &stage.binding {
            Binding::Action(action) => {
                documents.push(action.document.clone());
                kinds.push(ChildKind::Action);
            }
            Binding::Ssm(model::SsmApproval {
                document: Some(doc),
                ..
            }) => {
                documents.push(doc.clone());
                kinds.push(ChildKind::Ssm);
            }
            _ => {}
        }
    }
    documents.sort();
    documents.dedup();
    kinds.sort();
    kinds.dedup();
    (documents, kinds)
}

pub fn documents_policy(model: &Model, account: &model::Account) -> Option<AttachedPolicy> {
    let (documents, kinds) = documents_in(model, account);
    if documents.is_empty() {
        return None;
    }
    let arns = ArnBuilder::literal(model.region.as_str(), account.id.as_str());
    Some(AttachedPolicy {
        name: format!("{}-documents", model::names::workflow_role(&model.name)),
        document: PolicyDocument::new(vec![Statement::allow(
            "StartDocuments",
            &["ssm:StartAutomationExecution"],
            documents
                .iter()
                .map(|d| arns.automation_definition(d))
                .collect(),
        )]),
        attach_to: kinds.iter().map(|k| k.role_name().to_owned()).collect(),
    })
}

pub fn documents_rule(model: &Model, account: &model::Account) -> Option<RuleDeclaration> {
    let (documents, _) = documents_in(model, account);
    if documents.is_empty() {
        return None;
    }
    let arns = ArnBuilder::literal(model.region.as_str(), account.id.as_str());
    Some(RuleDeclaration {
        name: format!("{}-documents", model::names::workflow_role(&model.name)),
        description: format!(
            "approvalc workflow {}: automations of its own documents ended",
            model.name.as_str()
        ),
        event_bus: "default".to_owned(),
        state: "ENABLED".to_owned(),
        pattern: ssm_pattern(&documents),
        targets: vec![RuleTarget {
            id: Lambda::SsmCallback.function_name().to_owned(),
            arn: arns.lambda(Lambda::SsmCallback.function_name()),
        }],
    })
}
