//! The engine's [`TaskHandler`] for local runs: the service integrations the compiled
//! machines call, answered by the simulated services. A `.sync:2` child start is only
//! recorded here ([`StartRequest`]); the world starts the child after the current step,
//! because one execution cannot run inside another's step.

use std::collections::BTreeMap;

use approvalc_engine::{Failure, TaskHandler, TaskOutcome, TaskRequest};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::deployment::Deployment;
use crate::iam;
use crate::services::{Automation, AutomationState, PipelineRun, Services};

pub const START_SYNC2: &str = "arn:aws:states:::states:startExecution.sync:2";
const START_AUTOMATION: &str = "arn:aws:states:::aws-sdk:ssm:startAutomationExecution";
const STOP_AUTOMATION: &str = "arn:aws:states:::aws-sdk:ssm:stopAutomationExecution";
const START_PIPELINE: &str = "arn:aws:states:::aws-sdk:codepipeline:startPipelineExecution";
const PUT_ITEM_WAIT: &str = "arn:aws:states:::aws-sdk:dynamodb:putItem.waitForTaskToken";

/// A child execution a `.sync:2` task asked for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StartRequest {
    /// Index of the parent execution in the world.
    pub parent: usize,
    pub token: String,
    pub account_id: String,
    pub machine_name: String,
    pub name: String,
    pub input: Value,
}

/// One execution's view of the world while the engine runs it.
pub struct Tasks<'a> {
    pub deployment: &'a Deployment,
    pub svc: &'a mut Services,
    pub starts: &'a mut Vec<StartRequest>,
    pub exec_index: usize,
    pub account_id: &'a str,
    pub role_arn: &'a str,
    pub machine_arn: &'a str,
    pub execution_name: &'a str,
}

fn fail(error: &str, cause: impl Into<String>) -> TaskOutcome {
    TaskOutcome::Failure(Failure::new(error, cause))
}

fn text<'v>(input: &'v Value, key: &str) -> Option<&'v str> {
    input.get(key).and_then(Value::as_str)
}

impl TaskHandler for Tasks<'_> {
    fn invoke(&mut self, request: &TaskRequest<'_>) -> TaskOutcome {
        match request.resource {
            START_SYNC2 => self.start_execution(request),
            START_AUTOMATION => self.start_automation(request),
            STOP_AUTOMATION => self.stop_automation(request),
            START_PIPELINE => self.start_pipeline(request),
            PUT_ITEM_WAIT => self.put_item(request),
            other => fail(
                "States.TaskFailed",
                format!("approvalc local runs do not simulate the resource {other}"),
            ),
        }
    }
}

/// `arn:aws:states:REGION:ACCOUNT:stateMachine:NAME` → (region, account, name).
fn parse_machine_arn(arn: &str) -> Option<(&str, &str, &str)> {
    let mut parts = arn.split(':');
    let (Some("arn"), Some("aws"), Some("states")) = (parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let (region, account, kind, name) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    (kind == "stateMachine" && parts.next().is_none()).then_some((region, account, name))
}

fn valid_name(name: &str) -> bool {
    (1..=80).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl Tasks<'_> {
    fn start_execution(&mut self, request: &TaskRequest<'_>) -> TaskOutcome {
        let outcome = self.try_start_execution(request);
        if let TaskOutcome::Failure(f) = &outcome
            && let Some(stage) = request
                .input
                .pointer("/Input/stage/id")
                .and_then(Value::as_str)
        {
            let cause = f.cause.clone().unwrap_or_default();
            self.svc
                .start_failures
                .insert(stage.to_owned(), format!("{}: {cause}", f.error));
        }
        outcome
    }

    fn try_start_execution(&mut self, request: &TaskRequest<'_>) -> TaskOutcome {
        let input = request.input;
        let Some(target) = text(input, "StateMachineArn") else {
            return fail(
                "States.Runtime",
                "startExecution needs a StateMachineArn string",
            );
        };
        // Who calls StartExecution: the execution's role, or the role in `Credentials`.
        let (caller_account, policies) = match request
            .credentials
            .and_then(|c| c.get("RoleArn"))
            .and_then(Value::as_str)
        {
            Some(role_arn) => match iam::assume_role(
                self.deployment,
                self.role_arn,
                self.execution_name,
                role_arn,
                self.machine_arn,
            ) {
                Ok(assumed) => (assumed.account_id, assumed.role.policies.clone()),
                Err(denied) => return fail("States.TaskFailed", denied),
            },
            None => {
                let own = iam::parse_role_arn(self.role_arn)
                    .and_then(|(a, n)| self.deployment.account(a)?.roles.get(n))
                    .map(|r| r.policies.clone())
                    .unwrap_or_default();
                (self.account_id.to_owned(), own)
            }
        };
        let Some((region, account, machine_name)) = parse_machine_arn(target) else {
            return fail(
                "StepFunctions.InvalidArnException",
                format!("Invalid Arn: '{target}'"),
            );
        };
        if region != self.deployment.manifest.region || account != caller_account {
            return fail(
                "StepFunctions.AccessDeniedException",
                format!(
                    "{target} is in another region or account than the caller ({caller_account})"
                ),
            );
        }
        if !policies.is_empty() && !iam::allows(policies.iter(), "states:StartExecution", target) {
            return fail(
                "StepFunctions.AccessDeniedException",
                format!(
                    "User is not authorized to perform: states:StartExecution on resource: {target}"
                ),
            );
        }
        let exists = self
            .deployment
            .account(account)
            .is_some_and(|a| a.machines.contains_key(machine_name));
        if !exists {
            return fail(
                "StepFunctions.StateMachineDoesNotExistException",
                format!("State Machine Does Not Exist: '{target}'"),
            );
        }
        let name = text(input, "Name").map_or_else(|| self.svc.next_id(), ToOwned::to_owned);
        if !valid_name(&name) {
            return fail(
                "StepFunctions.InvalidNameException",
                format!("Invalid Name: '{name}'"),
            );
        }
        let child_input = match input.get("Input") {
            Some(Value::String(s)) => match serde_json::from_str(s) {
                Ok(v) => v,
                Err(_) => {
                    return fail(
                        "StepFunctions.InvalidExecutionInputException",
                        "Input is not JSON",
                    );
                }
            },
            Some(v) => v.clone(),
            None => json!({}),
        };
        self.starts.push(StartRequest {
            parent: self.exec_index,
            token: request.token.to_owned(),
            account_id: account.to_owned(),
            machine_name: machine_name.to_owned(),
            name,
            input: child_input,
        });
        TaskOutcome::WaitForCallback
    }

    fn start_automation(&mut self, request: &TaskRequest<'_>) -> TaskOutcome {
        let input = request.input;
        let Some(document) = text(input, "DocumentName") else {
            return fail("Ssm.ValidationException", "DocumentName is required");
        };
        let client_token = text(input, "ClientToken").map(ToOwned::to_owned);
        if let Some(token) = &client_token
            && let Some(existing) =
                self.svc.automations.values().find(|a| {
                    a.account_id == self.account_id && a.client_token.as_ref() == Some(token)
                })
        {
            return TaskOutcome::Success(json!({"AutomationExecutionId": existing.id}));
        }
        let parameters = match parameters(input.get("Parameters")) {
            Ok(p) => p,
            Err(why) => return fail("Ssm.InvalidAutomationExecutionParametersException", why),
        };
        let Some(account) = self.deployment.account(self.account_id) else {
            return fail(
                "Ssm.AutomationDefinitionNotFoundException",
                format!("Document {document} does not exist"),
            );
        };
        let approval_timeout = account.approval_documents.get(document).copied();
        let approvers = parameters.get("Approvers").cloned().unwrap_or_default();
        let min_approvals = parameters
            .get("MinRequiredApprovals")
            .and_then(|v| v.first())
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(1);
        if approval_timeout.is_some()
            && (approvers.is_empty()
                || approvers.len() > 10
                || min_approvals == 0
                || min_approvals > approvers.len())
        {
            return fail(
                "Ssm.InvalidAutomationExecutionParametersException",
                "aws:approve needs 1 to 10 Approvers and 1 <= MinRequiredApprovals <= their number",
            );
        }
        let id = self.svc.next_id();
        let automation = Automation {
            id: id.clone(),
            account_id: self.account_id.to_owned(),
            document: document.to_owned(),
            client_token,
            parameters,
            state: if approval_timeout.is_some() {
                AutomationState::Waiting
            } else {
                AutomationState::InProgress
            },
            approval: approval_timeout.is_some(),
            approvers,
            min_approvals,
            signals: Vec::new(),
            started_ms: request.now_ms,
            ended_ms: None,
            timeout_at_ms: approval_timeout.map(|s| request.now_ms + s * 1000),
            failure_message: None,
        };
        self.svc.automations.insert(id.clone(), automation);
        TaskOutcome::Success(json!({"AutomationExecutionId": id}))
    }

    fn stop_automation(&mut self, request: &TaskRequest<'_>) -> TaskOutcome {
        let id = text(request.input, "AutomationExecutionId").unwrap_or_default();
        let Some(automation) = self
            .svc
            .automations
            .get(id)
            .filter(|a| a.account_id == self.account_id)
        else {
            return fail(
                "Ssm.AutomationExecutionNotFoundException",
                format!("Automation execution {id} not found"),
            );
        };
        if automation.state.is_terminal() {
            return fail(
                "Ssm.InvalidAutomationStatusUpdateException",
                format!("Automation execution {id} has already ended"),
            );
        }
        self.svc
            .end_automation(id, AutomationState::Cancelled, None, request.now_ms);
        TaskOutcome::Success(json!({}))
    }

    fn start_pipeline(&mut self, request: &TaskRequest<'_>) -> TaskOutcome {
        let input = request.input;
        let name = text(input, "Name").unwrap_or_default();
        let Some(timeout) = self
            .deployment
            .account(self.account_id)
            .and_then(|a| a.pipelines.get(name))
            .copied()
        else {
            return fail(
                "CodePipeline.PipelineNotFoundException",
                format!(
                    "Account '{}' does not have a pipeline with name '{name}'",
                    self.account_id
                ),
            );
        };
        let client_token = text(input, "ClientRequestToken").map(ToOwned::to_owned);
        if let Some(token) = &client_token
            && let Some(existing) = self
                .svc
                .pipelines
                .values()
                .find(|p| p.pipeline == name && p.client_token.as_ref() == Some(token))
        {
            return TaskOutcome::Success(json!({"PipelineExecutionId": existing.execution_id}));
        }
        let mut variables = BTreeMap::new();
        for v in input
            .get("Variables")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let (Some(k), Some(val)) = (text(v, "Name"), text(v, "Value")) else {
                return fail(
                    "CodePipeline.ValidationException",
                    "every variable needs a Name and a string Value",
                );
            };
            if val.len() > 1000 {
                return fail(
                    "CodePipeline.ValidationException",
                    format!("variable {k} is longer than 1000 characters"),
                );
            }
            variables.insert(k.to_owned(), val.to_owned());
        }
        let execution_id = self.svc.next_id();
        let approval_token = self.svc.next_id();
        self.svc.pipelines.insert(
            execution_id.clone(),
            PipelineRun {
                pipeline: name.to_owned(),
                execution_id: execution_id.clone(),
                account_id: self.account_id.to_owned(),
                client_token,
                variables,
                action_status: "InProgress".into(),
                approval_token,
                updated_by: None,
                summary: None,
                error_message: None,
                started_ms: request.now_ms,
                updated_ms: request.now_ms,
                expires_at_ms: request.now_ms + timeout * 1000,
            },
        );
        TaskOutcome::Success(json!({"PipelineExecutionId": execution_id}))
    }

    fn put_item(&mut self, request: &TaskRequest<'_>) -> TaskOutcome {
        let input = request.input;
        let bootstrapped = self
            .deployment
            .account(self.account_id)
            .is_some_and(|a| a.bootstrapped);
        if !bootstrapped {
            return fail(
                "DynamoDb.ResourceNotFoundException",
                "Requested resource not found",
            );
        }
        let item = match input
            .get("Item")
            .map(|i| serde_json::from_value::<approvalc_runtime::item::StoredItem>(i.clone()))
        {
            Some(Ok(item)) => item,
            _ => {
                return fail(
                    "DynamoDb.ValidationException",
                    "Item is not a DynamoDB-JSON map",
                );
            }
        };
        let Some(approvalc_runtime::item::AttrValue::S(id)) = item.0.get("correlation_id").cloned()
        else {
            return fail(
                "DynamoDb.ValidationException",
                "One or more parameter values were invalid: Missing the key correlation_id in the item",
            );
        };
        let table = self
            .svc
            .tables
            .entry(self.account_id.to_owned())
            .or_default();
        let conditional =
            text(input, "ConditionExpression").is_some_and(|c| c.contains("attribute_not_exists"));
        if conditional && table.contains_key(&id) {
            return fail(
                "DynamoDb.ConditionalCheckFailedException",
                "The conditional request failed",
            );
        }
        table.insert(id, item);
        TaskOutcome::WaitForCallback
    }
}

/// SSM `Parameters`: a map of string lists.
fn parameters(value: Option<&Value>) -> Result<BTreeMap<String, Vec<String>>, String> {
    let mut out = BTreeMap::new();
    let Some(map) = value.and_then(Value::as_object) else {
        return Ok(out);
    };
    for (k, v) in map {
        let list = v
            .as_array()
            .ok_or_else(|| format!("parameter {k} is not a list of strings"))?
            .iter()
            .map(|s| {
                s.as_str()
                    .map(ToOwned::to_owned)
                    .ok_or_else(|| format!("parameter {k} holds a non-string"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        out.insert(k.clone(), list);
    }
    Ok(out)
}
