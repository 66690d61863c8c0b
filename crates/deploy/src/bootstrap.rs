//! `approvalc bootstrap ACCOUNT`: the per-account CloudFormation stack (token table, approval
//! document, child machines, callback Lambdas, rules) plus the deploy role that lets
//! `approvalc deploy` from the workflow's home account manage the per-workflow resources.
//! The Lambda code is uploaded first ([`crate::code`]); its keys are stack parameters.
//!
//! The compiler's template does not (yet) contain the deploy role; [`template`] adds it when
//! it is missing, so the stack is complete either way.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_cloudformation::types::{Capability, Parameter, StackStatus};
use serde_json::{Value, json};

use crate::code::{self, Architecture, LambdaZip, Uploaded};
use crate::error::{CallErrorKind, DeployError, call_error};
use crate::session::{AccountClients, DEPLOY_ROLE};

/// The stack name in every account.
pub const STACK_NAME: &str = "approvalc-bootstrap";

/// The bootstrap template for `account_name` with the deploy role, as pretty JSON.
pub fn template(
    artifacts: &approvalc_compiler::lower::Artifacts,
    account_name: &str,
) -> Result<String, DeployError> {
    let Some(entry) = artifacts
        .manifest
        .accounts
        .iter()
        .find(|a| a.name == account_name)
    else {
        let names: Vec<&str> = artifacts
            .manifest
            .accounts
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        return Err(DeployError::new(format!(
            "workflow {} has no account `{account_name}`",
            artifacts.manifest.workflow
        ))
        .with_help(format!("accounts it uses: {}", names.join(", "))));
    };
    let file = artifacts
        .file(&entry.bootstrap)
        .ok_or_else(|| DeployError::new(format!("the artifacts have no {}", entry.bootstrap)))?;
    let mut value: Value = serde_json::from_str(&file.contents)
        .map_err(|e| DeployError::new(format!("{} is not JSON: {e}", entry.bootstrap)))?;
    add_deploy_role(&mut value, &artifacts.manifest.home.id);
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    text.push('\n');
    Ok(text)
}

/// What `approvalc deploy` needs in an account, as one role trusting the deployer account
/// with an `ExternalId` (docs/deploy.md "Permissions").
pub fn deploy_role_policy() -> Value {
    let own = |service: &str, resource: &str| json!({"Fn::Sub": format!("arn:${{AWS::Partition}}:{service}:{resource}")});
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Roles", "Effect": "Allow", "Action": [
                "iam:GetRole", "iam:CreateRole", "iam:UpdateRole", "iam:DeleteRole", "iam:TagRole",
                "iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy", "iam:GetRolePolicy",
                "iam:DeleteRolePolicy", "iam:ListRolePolicies", "iam:PassRole"],
             "Resource": [own("iam", ":${AWS::AccountId}:role/approvalc-*")]},
            {"Sid": "Policies", "Effect": "Allow", "Action": [
                "iam:GetPolicy", "iam:CreatePolicy", "iam:DeletePolicy", "iam:TagPolicy",
                "iam:GetPolicyVersion", "iam:CreatePolicyVersion", "iam:DeletePolicyVersion",
                "iam:ListPolicyVersions", "iam:ListEntitiesForPolicy"],
             "Resource": [own("iam", ":${AWS::AccountId}:policy/approvalc-*")]},
            {"Sid": "AttachApprovalcPolicies", "Effect": "Allow", "Action": [
                "iam:AttachRolePolicy", "iam:DetachRolePolicy", "iam:AttachUserPolicy", "iam:DetachUserPolicy"],
             "Resource": [own("iam", ":${AWS::AccountId}:role/*"), own("iam", ":${AWS::AccountId}:user/*")],
             "Condition": {"ArnLike": {"iam:PolicyARN": own("iam", ":${AWS::AccountId}:policy/approvalc-*")}}},
            {"Sid": "List", "Effect": "Allow", "Action": [
                "iam:ListRoles", "iam:ListPolicies", "states:ListStateMachines",
                "codepipeline:ListPipelines", "events:ListRules"],
             "Resource": ["*"]},
            {"Sid": "StateMachines", "Effect": "Allow", "Action": [
                "states:DescribeStateMachine", "states:CreateStateMachine", "states:UpdateStateMachine",
                "states:DeleteStateMachine", "states:TagResource", "states:ListTagsForResource"],
             "Resource": [own("states", "${AWS::Region}:${AWS::AccountId}:stateMachine:approvalc-*")]},
            {"Sid": "ReadRuns", "Effect": "Allow", "Action": [
                "states:DescribeExecution", "states:GetExecutionHistory"],
             "Resource": [own("states", "${AWS::Region}:${AWS::AccountId}:execution:approvalc-*:*")]},
            {"Sid": "Pipelines", "Effect": "Allow", "Action": [
                "codepipeline:GetPipeline", "codepipeline:CreatePipeline", "codepipeline:UpdatePipeline",
                "codepipeline:DeletePipeline", "codepipeline:TagResource", "codepipeline:ListTagsForResource"],
             "Resource": [own("codepipeline", "${AWS::Region}:${AWS::AccountId}:approvalc-*")]},
            {"Sid": "Rules", "Effect": "Allow", "Action": [
                "events:DescribeRule", "events:PutRule", "events:DeleteRule", "events:PutTargets",
                "events:RemoveTargets", "events:ListTargetsByRule", "events:TagResource",
                "events:ListTagsForResource"],
             "Resource": [own("events", "${AWS::Region}:${AWS::AccountId}:rule/approvalc-*")]}
        ]
    })
}

fn add_deploy_role(template: &mut Value, home_account: &str) {
    let Some(resources) = template.get_mut("Resources").and_then(Value::as_object_mut) else {
        return;
    };
    if resources.contains_key("DeployRole") {
        return;
    }
    resources.insert(
        "DeployRole".to_owned(),
        json!({
            "Type": "AWS::IAM::Role",
            "Properties": {
                "RoleName": DEPLOY_ROLE,
                "Description": "approvalc deploy from the workflow's home account (approvalc bootstrap)",
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Sid": "TrustDeployer",
                        "Effect": "Allow",
                        "Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${DeployerAccount}:root"}},
                        "Action": ["sts:AssumeRole"],
                        "Condition": {"StringEquals": {"sts:ExternalId": {"Fn::Sub": "approvalc-deploy-${DeployerAccount}"}}}
                    }]
                },
                "Policies": [{"PolicyName": DEPLOY_ROLE, "PolicyDocument": deploy_role_policy()}]
            }
        }),
    );
    if let Some(parameters) = template
        .get_mut("Parameters")
        .and_then(Value::as_object_mut)
    {
        parameters.insert(
            "DeployerAccount".to_owned(),
            json!({"Type": "String", "Default": home_account,
                   "Description": "the account approvalc deploy runs from (the workflow's home)"}),
        );
    }
}

/// How a bootstrap ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
}

/// What `approvalc bootstrap` did in one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bootstrapped {
    pub code: Uploaded,
    pub stack: Outcome,
}

/// Uploads the Lambda zips (to `bucket`, or the account's default code bucket, created
/// when missing), then creates or updates the stack with their keys.
pub async fn apply(
    clients: &AccountClients,
    template: &str,
    zips: &[LambdaZip],
    bucket: Option<&str>,
    architecture: Architecture,
) -> Result<Bootstrapped, DeployError> {
    let bucket = bucket.map_or_else(
        || code::default_bucket(&clients.account.id, &clients.region),
        str::to_owned,
    );
    let code = code::upload(&clients.s3, &bucket, &clients.region, zips).await?;
    let stack = deploy(clients, template, &parameters(&code, architecture)).await?;
    Ok(Bootstrapped { code, stack })
}

/// The stack's parameters: where the Lambda code is, and its architecture.
pub fn parameters(uploaded: &Uploaded, architecture: Architecture) -> BTreeMap<String, String> {
    let mut out = uploaded.keys.clone();
    out.insert("CodeBucket".to_owned(), uploaded.bucket.clone());
    out.insert(
        "LambdaArchitecture".to_owned(),
        architecture.as_str().to_owned(),
    );
    out
}

/// Creates or updates the bootstrap stack with `parameters` (see [`parameters`]) and
/// waits for it.
pub async fn deploy(
    clients: &AccountClients,
    template: &str,
    parameters: &BTreeMap<String, String>,
) -> Result<Outcome, DeployError> {
    let cfn = &clients.cloudformation;
    let account = clients.account.to_string();
    let fail = |e| DeployError::from_call(e, &account);
    let wanted = parameters;
    let parameters: Vec<Parameter> = wanted
        .iter()
        .map(|(k, v)| {
            Parameter::builder()
                .parameter_key(k)
                .parameter_value(v)
                .build()
        })
        .collect();
    let existing = match status(clients).await {
        Ok(s) => s,
        Err(e) => return Err(fail(e)),
    };
    let outcome = match existing {
        None => {
            cfn.create_stack()
                .stack_name(STACK_NAME)
                .template_body(template)
                .set_parameters(Some(parameters))
                .capabilities(Capability::CapabilityNamedIam)
                .send()
                .await
                .map_err(|e| fail(call_error("cloudformation:CreateStack", e)))?;
            Outcome::Created
        }
        Some(StackStatus::RollbackComplete) => {
            return Err(DeployError::new(format!(
                "stack {STACK_NAME} in account {account} failed to create earlier (ROLLBACK_COMPLETE)"
            ))
            .with_help(format!(
                "delete it (`aws cloudformation delete-stack --stack-name {STACK_NAME}`), then bootstrap again"
            )));
        }
        Some(_) if same_stack(clients, template, wanted).await.map_err(fail)? => {
            return Ok(Outcome::Unchanged);
        }
        Some(_) => {
            let result = cfn
                .update_stack()
                .stack_name(STACK_NAME)
                .template_body(template)
                .set_parameters(Some(parameters))
                .capabilities(Capability::CapabilityNamedIam)
                .send()
                .await
                .map_err(|e| call_error("cloudformation:UpdateStack", e));
            match result {
                Ok(_) => Outcome::Updated,
                Err(e) if e.message.contains("No updates are to be performed") => {
                    return Ok(Outcome::Unchanged);
                }
                Err(e) => return Err(fail(e)),
            }
        }
    };
    wait(clients).await?;
    Ok(outcome)
}

/// Whether the live stack already has this template and these parameters (the code
/// keys among them): then nothing is sent (moto would re-create the state machines on a
/// no-op update; AWS would refuse it with "No updates are to be performed").
async fn same_stack(
    clients: &AccountClients,
    template: &str,
    wanted: &BTreeMap<String, String>,
) -> Result<bool, crate::error::CallError> {
    let cfn = &clients.cloudformation;
    let live = cfn
        .get_template()
        .stack_name(STACK_NAME)
        .send()
        .await
        .map_err(|e| call_error("cloudformation:GetTemplate", e))?;
    let same_template = match (
        live.template_body().map(serde_json::from_str::<Value>),
        serde_json::from_str::<Value>(template),
    ) {
        (Some(Ok(a)), Ok(b)) => a == b,
        _ => false,
    };
    if !same_template {
        return Ok(false);
    }
    let stacks = cfn
        .describe_stacks()
        .stack_name(STACK_NAME)
        .send()
        .await
        .map_err(|e| call_error("cloudformation:DescribeStacks", e))?;
    let live: BTreeMap<String, String> = stacks
        .stacks()
        .first()
        .map(|s| {
            s.parameters()
                .iter()
                .filter_map(|p| {
                    Some((
                        p.parameter_key()?.to_owned(),
                        p.parameter_value()?.to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(wanted.iter().all(|(k, v)| live.get(k) == Some(v)))
}

async fn status(clients: &AccountClients) -> Result<Option<StackStatus>, crate::error::CallError> {
    match clients
        .cloudformation
        .describe_stacks()
        .stack_name(STACK_NAME)
        .send()
        .await
        .map_err(|e| call_error("cloudformation:DescribeStacks", e))
    {
        Ok(out) => Ok(out.stacks().first().and_then(|s| s.stack_status().cloned())),
        Err(e) if e.is(CallErrorKind::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn wait(clients: &AccountClients) -> Result<(), DeployError> {
    let account = clients.account.to_string();
    let mut delay = Duration::from_millis(200);
    for _ in 0..400 {
        let status = status(clients)
            .await
            .map_err(|e| DeployError::from_call(e, &account))?;
        let text = status
            .as_ref()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default();
        if text.ends_with("_IN_PROGRESS") {
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
            continue;
        }
        if text == "CREATE_COMPLETE" || text == "UPDATE_COMPLETE" {
            return Ok(());
        }
        return Err(DeployError::new(format!(
            "stack {STACK_NAME} in account {account} ended as {text}: {}",
            first_failure(clients).await
        ))
        .with_help("fix the cause above (often a Lambda zip built for another architecture, or a missing permission), then bootstrap again"));
    }
    Err(DeployError::new(format!(
        "stack {STACK_NAME} in account {account} is still in progress after a long wait"
    ))
    .with_help("watch it in the CloudFormation console, then run bootstrap again"))
}

async fn first_failure(clients: &AccountClients) -> String {
    let Ok(out) = clients
        .cloudformation
        .describe_stack_events()
        .stack_name(STACK_NAME)
        .send()
        .await
    else {
        return "no events".to_owned();
    };
    out.stack_events()
        .iter()
        .rev()
        .find(|e| {
            e.resource_status()
                .is_some_and(|s| s.as_str().ends_with("_FAILED"))
        })
        .map_or_else(
            || "no failed resource reported".to_owned(),
            |e| {
                format!(
                    "{}: {}",
                    e.logical_resource_id().unwrap_or("?"),
                    e.resource_status_reason().unwrap_or("failed")
                )
            },
        )
}
