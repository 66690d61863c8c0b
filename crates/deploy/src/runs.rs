//! Runs on AWS: start one (input checked against the workflow's contract first, requester
//! recorded from `sts:GetCallerIdentity`), show one, list them.
//!
//! The contract check reads the parent's own `ValidateInput` Choice state (required fields
//! and types, as the compiler emitted them) plus the manifest's `input_patterns`, which
//! Step Functions cannot check. [`status`] folds the parent's history into a stage tree;
//! [`decide`] approves or rejects as the caller through the service the stage waits on.

use std::collections::BTreeMap;

use approvalc_compiler::lower::Manifest;
use approvalc_compiler::lower::artifacts::StageEntry;
use approvalc_compiler::lower::names::{ChildKind, PIPELINE_ACTION, PIPELINE_STAGE, stage_key};
use aws_sdk_codepipeline::operation::get_pipeline_state::GetPipelineStateOutput;
use aws_sdk_codepipeline::types::{
    ActionExecutionFilter, ActionExecutionStatus, ApprovalResult, ApprovalStatus,
};
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEvent, HistoryEventType};
use aws_sdk_ssm::types::SignalType;
use serde::Serialize;
use serde_json::{Value, json};

use crate::error::{CallError, CallErrorKind, DeployError, call_error};
use crate::model::DesiredState;
use crate::session::{AccountClients, Session, external_id};

/// Why an input does not satisfy the contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputProblem(pub String);

/// Checks `input` (the workflow's input object) before a run is started.
pub fn check_input(
    manifest: &approvalc_compiler::lower::Manifest,
    parent_definition: &str,
    input: &Value,
) -> Result<(), InputProblem> {
    if !input.is_object() {
        return Err(InputProblem("the input must be a JSON object".to_owned()));
    }
    let run_input = json!({"input": input, "requester": "check"});
    if let Ok(definition) = serde_json::from_str::<Value>(parent_definition)
        && let Some(cause) = failing_choice(&definition, &run_input)
    {
        return Err(InputProblem(cause));
    }
    for p in &manifest.input_patterns {
        let Some(value) = input.get(&p.field) else {
            continue;
        };
        let Ok(re) = regex::Regex::new(&p.pattern) else {
            continue;
        };
        match value.as_str() {
            Some(s) if re.is_match(s) => {}
            _ => {
                return Err(InputProblem(format!(
                    "input.{} must match {}",
                    p.field, p.pattern
                )));
            }
        }
    }
    Ok(())
}

/// Runs the start state when it is a Choice leading to a Fail: returns the Fail's cause.
fn failing_choice(definition: &Value, input: &Value) -> Option<String> {
    let start = definition.get("StartAt")?.as_str()?;
    let state = definition.get("States")?.get(start)?;
    if state.get("Type")?.as_str()? != "Choice" {
        return None;
    }
    for choice in state.get("Choices")?.as_array()? {
        if rule(choice, input) == Some(true) {
            let next = choice.get("Next")?.as_str()?;
            let target = definition.get("States")?.get(next)?;
            if target.get("Type")?.as_str()? == "Fail" {
                return Some(
                    target
                        .get("Cause")
                        .and_then(Value::as_str)
                        .unwrap_or("invalid input")
                        .to_owned(),
                );
            }
            return None;
        }
    }
    None
}

/// The subset of Choice rules the compiler emits for input checks; `None` = unknown.
fn rule(r: &Value, input: &Value) -> Option<bool> {
    if let Some(inner) = r.get("Not") {
        return rule(inner, input).map(|b| !b);
    }
    if let Some(all) = r.get("And").and_then(Value::as_array) {
        let mut out = true;
        for x in all {
            out &= rule(x, input)?;
        }
        return Some(out);
    }
    if let Some(any) = r.get("Or").and_then(Value::as_array) {
        let mut out = false;
        for x in any {
            out |= rule(x, input)?;
        }
        return Some(out);
    }
    let path = r.get("Variable")?.as_str()?;
    let value = lookup(input, path);
    let expect = |key: &str| r.get(key).and_then(Value::as_bool);
    if let Some(b) = expect("IsPresent") {
        return Some(value.is_some() == b);
    }
    let value = value?;
    if let Some(b) = expect("IsString") {
        return Some(value.is_string() == b);
    }
    if let Some(b) = expect("IsNumeric") {
        return Some(value.is_number() == b);
    }
    if let Some(b) = expect("IsBoolean") {
        return Some(value.is_boolean() == b);
    }
    if let Some(b) = expect("IsNull") {
        return Some(value.is_null() == b);
    }
    None
}

fn lookup<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
    let rest = path.strip_prefix('$')?;
    let mut current = root;
    for part in rest.split('.').skip(1) {
        current = current.get(part)?;
    }
    Some(current)
}

/// A started run.
#[derive(Debug, Clone, Serialize)]
pub struct Started {
    pub run: String,
    pub execution_arn: String,
    pub requester: String,
}

/// Starts a run as the caller, who is recorded as the requester.
pub async fn start(
    session: &Session,
    home: &AccountClients,
    desired: &DesiredState,
    input: &Value,
    name: Option<&str>,
) -> Result<Started, DeployError> {
    let requester = session.caller.arn.clone();
    let body = json!({"input": input, "requester": requester});
    let mut request = home
        .sfn
        .start_execution()
        .state_machine_arn(&desired.parent_arn)
        .input(body.to_string());
    if let Some(name) = name {
        request = request.name(name);
    }
    let out = request
        .send()
        .await
        .map_err(|e| call_error("states:StartExecution", e))
        .map_err(|e| not_deployed(e, desired, &home.account.to_string()))?;
    let arn = out.execution_arn().to_owned();
    Ok(Started {
        run: arn.rsplit(':').next().unwrap_or_default().to_owned(),
        execution_arn: arn,
        requester,
    })
}

fn execution_arn(desired: &DesiredState, run: &str) -> String {
    if run.starts_with("arn:") {
        return run.to_owned();
    }
    let machine = desired
        .parent_arn
        .replacen(":stateMachine:", ":execution:", 1);
    format!("{machine}:{run}")
}

fn not_deployed(e: CallError, desired: &DesiredState, account: &str) -> DeployError {
    if e.is(CallErrorKind::NotFound) {
        return DeployError::new(format!(
            "workflow {} is not deployed in account {account}",
            desired.workflow
        ))
        .with_help("run `approvalc deploy FILE` first");
    }
    DeployError::from_call(e, account)
}

/// Whether `text` is a Step Functions execution ARN (`arn:PARTITION:states:…:execution:…`):
/// how the CLI tells an AWS run from a local one.
pub fn is_execution_arn(text: &str) -> bool {
    let parts: Vec<&str> = text.splitn(7, ':').collect();
    matches!(parts.as_slice(), ["arn", _, "states", _, _, "execution", _])
}

/// The account id inside an ARN.
fn arn_account(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

/// Where one stage of a run stands.
#[derive(Debug, Clone, Serialize)]
pub struct StageStatus {
    pub id: String,
    pub account: String,
    pub kind: &'static str,
    /// `approved`, `rejected`, `skipped`, `timed_out`, `cancelled`, `waiting` or
    /// `not started`.
    pub state: String,
    pub approvers: Vec<String>,
    pub comment: Option<String>,
    pub decided_at: Option<String>,
    /// The child execution of a stage that has started (ARN only; never a token).
    pub child_execution: Option<String>,
    /// The SSM automation a waiting stage waits on, when it could be read.
    pub automation_execution_id: Option<String>,
    /// The pipeline execution a waiting CodePipeline stage waits on, when it could be read.
    pub pipeline_execution_id: Option<String>,
    /// How to act on a waiting stage: commands and console links.
    pub act: Vec<String>,
}

/// What `approvalc status ARN` shows.
#[derive(Debug, Clone, Serialize)]
pub struct RunStatus {
    pub run: String,
    pub execution_arn: String,
    pub workflow: String,
    pub status: String,
    pub started: String,
    pub stopped: Option<String>,
    pub requester: Option<String>,
    pub decision: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub stages: Vec<StageStatus>,
    /// Said when a running run has no stage waiting or decided: what that means.
    pub note: Option<String>,
}

/// What the parent's history says about one stage.
#[derive(Debug, Clone, Default, PartialEq)]
struct Seen {
    entered: bool,
    child: Option<String>,
    record: Option<Value>,
}

/// Reads the stage records out of a state's output (`$.stages.<key>`).
fn records(
    output: &Value,
    manifest: &Manifest,
    seen: &mut BTreeMap<String, Seen>,
    final_output: bool,
) {
    let Some(stages) = output.get("stages") else {
        return;
    };
    for stage in &manifest.stages {
        let Some(record) = stages.get(stage_key(&stage.id)) else {
            continue;
        };
        let decision = record.get("decision").and_then(Value::as_str);
        // `Prepare` seeds every stage as cancelled; only the end result may say so.
        if decision.is_none() || (decision == Some("cancelled") && !final_output) {
            continue;
        }
        seen.entry(stage.id.clone()).or_default().record = Some(record.clone());
    }
}

/// Folds the parent's history into what each stage did.
fn fold_history(events: &[HistoryEvent], manifest: &Manifest) -> BTreeMap<String, Seen> {
    let mut seen: BTreeMap<String, Seen> = BTreeMap::new();
    let by_id: BTreeMap<i64, &HistoryEvent> = events.iter().map(|e| (e.id(), e)).collect();
    let stage_ids: Vec<&str> = manifest.stages.iter().map(|s| s.id.as_str()).collect();
    for event in events {
        match event.r#type() {
            HistoryEventType::TaskStateEntered => {
                if let Some(name) = event.state_entered_event_details().map(|d| d.name())
                    && stage_ids.contains(&name)
                {
                    seen.entry(name.to_owned()).or_default().entered = true;
                }
            }
            HistoryEventType::TaskSubmitted => {
                let arn = started_execution_arn(
                    event
                        .task_submitted_event_details()
                        .and_then(|d| d.output()),
                );
                if let (Some(arn), Some(stage)) = (arn, entered_state(&by_id, event))
                    && stage_ids.contains(&stage.as_str())
                {
                    seen.entry(stage).or_default().child = Some(arn);
                }
            }
            _ => {
                if let Some(output) = event
                    .state_exited_event_details()
                    .and_then(|d| d.output())
                    .and_then(|o| serde_json::from_str::<Value>(o).ok())
                {
                    records(&output, manifest, &mut seen, false);
                }
            }
        }
    }
    seen
}

/// The `ExecutionArn` in a `startExecution` task's output (the `StartExecution` answer).
fn started_execution_arn(output: Option<&str>) -> Option<String> {
    let output = serde_json::from_str::<Value>(output?).ok()?;
    output
        .get("ExecutionArn")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// The state a task event belongs to: follow `previousEventId` back to its
/// `TaskStateEntered` (a few steps: Submitted → Started → Scheduled → Entered).
fn entered_state(by_id: &BTreeMap<i64, &HistoryEvent>, event: &HistoryEvent) -> Option<String> {
    let mut current = event;
    for _ in 0..8 {
        let previous = by_id.get(&current.previous_event_id())?;
        if previous.r#type() == &HistoryEventType::TaskStateEntered {
            return previous
                .state_entered_event_details()
                .map(|d| d.name().to_owned());
        }
        current = previous;
    }
    None
}

/// The part executions a history started: every `ExecutionArn` in a task's submitted or
/// succeeded output whose state machine is one of the manifest's parts (the compiler's
/// `Part_<n>` tasks, `startExecution.sync:2`).
fn part_executions(events: &[HistoryEvent], manifest: &Manifest) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for event in events {
        let output = event
            .task_submitted_event_details()
            .and_then(|d| d.output())
            .or_else(|| {
                event
                    .task_succeeded_event_details()
                    .and_then(|d| d.output())
            });
        let Some(arn) = started_execution_arn(output) else {
            continue;
        };
        // arn:aws:states:REGION:ACCOUNT:execution:MACHINE:NAME
        let machine = arn.split(':').nth(6).unwrap_or_default();
        if manifest.parts.iter().any(|p| p.name == machine) && !out.contains(&arn) {
            out.push(arn);
        }
    }
    out
}

/// Folds a run whose parent the compiler split into part machines: the parent's history,
/// then each part's (`parts`: part execution ARN → its history). A stage is reported
/// from the machine that runs it; what one history lacks another may have.
fn fold_run(
    parent: &[HistoryEvent],
    parts: &[(String, Vec<HistoryEvent>)],
    manifest: &Manifest,
) -> BTreeMap<String, Seen> {
    let mut seen = fold_history(parent, manifest);
    for (_, events) in parts {
        for (stage, part_seen) in fold_history(events, manifest) {
            let entry = seen.entry(stage).or_default();
            entry.entered |= part_seen.entered;
            if part_seen.child.is_some() {
                entry.child = part_seen.child;
            }
            if part_seen.record.is_some() {
                entry.record = part_seen.record;
            }
        }
    }
    seen
}

/// Part executions the histories read so far started that are not read yet.
fn unread_parts(
    parent: &[HistoryEvent],
    parts: &[(String, Vec<HistoryEvent>)],
    manifest: &Manifest,
) -> Vec<String> {
    let mut out = part_executions(parent, manifest);
    for (_, events) in parts {
        for arn in part_executions(events, manifest) {
            if !out.contains(&arn) {
                out.push(arn);
            }
        }
    }
    out.retain(|arn| !parts.iter().any(|(read, _)| read == arn));
    out
}

/// The parent's history and, when it was split, the history of every part execution it
/// (or a part) started so far, level by level. At most one execution per part machine is
/// read (a run starts each part once).
async fn run_histories(
    sfn: &aws_sdk_sfn::Client,
    arn: &str,
    manifest: &Manifest,
) -> Result<(Vec<HistoryEvent>, Vec<(String, Vec<HistoryEvent>)>), CallError> {
    let parent = history(sfn, arn).await?;
    let mut parts: Vec<(String, Vec<HistoryEvent>)> = Vec::new();
    loop {
        let next = unread_parts(&parent, &parts, manifest);
        if next.is_empty() {
            return Ok((parent, parts));
        }
        for part in next {
            if parts.len() >= manifest.parts.len() {
                return Ok((parent, parts));
            }
            let events = history(sfn, &part).await?;
            parts.push((part, events));
        }
    }
}

async fn history(sfn: &aws_sdk_sfn::Client, arn: &str) -> Result<Vec<HistoryEvent>, CallError> {
    let mut events = Vec::new();
    let mut token = None;
    loop {
        let page = sfn
            .get_execution_history()
            .execution_arn(arn)
            .max_results(1000)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| call_error("states:GetExecutionHistory", e))?;
        events.extend(page.events().iter().cloned());
        match page.next_token() {
            // 25,000 events is the Step Functions maximum; stop well past it.
            Some(t) if events.len() < 30_000 => token = Some(t.to_owned()),
            _ => return Ok(events),
        }
    }
}

/// What a child execution started, from its start task's result: `AutomationExecutionId`
/// (SSM, actions) or `PipelineExecutionId` (CodePipeline).
async fn child_result(
    sfn: &aws_sdk_sfn::Client,
    child: &str,
    field: &str,
) -> Result<Option<String>, CallError> {
    let events = history(sfn, child).await?;
    Ok(events.iter().find_map(|e| {
        let output = e.task_succeeded_event_details()?.output()?;
        let value: Value = serde_json::from_str(output).ok()?;
        value.get(field).and_then(Value::as_str).map(str::to_owned)
    }))
}

/// The start task result field of a stage's child kind.
fn started_field(kind: ChildKind) -> &'static str {
    match kind {
        ChildKind::Ssm | ChildKind::Action => "AutomationExecutionId",
        ChildKind::Codepipeline => "PipelineExecutionId",
    }
}

fn kind_label(kind: ChildKind) -> &'static str {
    kind.as_str()
}

/// The stage tree of a run: decisions from the parent's output when it has ended, else
/// from its history; for each waiting stage the command (or console link) to act.
pub async fn status(
    session: &Session,
    home: &AccountClients,
    desired: &DesiredState,
    manifest: &Manifest,
    run: &str,
) -> Result<RunStatus, DeployError> {
    let arn = execution_arn(desired, run);
    let account = home.account.to_string();
    let out = home
        .sfn
        .describe_execution()
        .execution_arn(&arn)
        .send()
        .await
        .map_err(|e| call_error("states:DescribeExecution", e))
        .map_err(|e| {
            if e.is(CallErrorKind::NotFound) {
                DeployError::new(format!("no run {run} of workflow {}", desired.workflow))
                    .with_help("`approvalc runs --aws FILE` lists the runs")
            } else {
                DeployError::from_call(e, &account)
            }
        })?;
    let running = out.status() == &ExecutionStatus::Running;
    let output: Option<Value> = out.output().and_then(|o| serde_json::from_str(o).ok());
    let input: Option<Value> = out.input().and_then(|o| serde_json::from_str(o).ok());
    let mut seen = if running {
        let (parent, parts) = run_histories(&home.sfn, &arn, manifest)
            .await
            .map_err(|e| DeployError::from_call(e, &account))?;
        fold_run(&parent, &parts, manifest)
    } else {
        BTreeMap::new()
    };
    if let Some(output) = &output {
        records(output, manifest, &mut seen, true);
    }
    let mut stages = Vec::new();
    for stage in &manifest.stages {
        let s = seen.get(&stage.id).cloned().unwrap_or_default();
        let record = s.record.as_ref();
        let text = |key: &str| {
            record
                .and_then(|r| r.get(key))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let state = match (text("decision"), s.entered && running) {
            (Some(d), _) => d,
            (None, true) => "waiting".to_owned(),
            (None, false) => "not started".to_owned(),
        };
        let mut status = StageStatus {
            id: stage.id.clone(),
            account: stage.account.clone(),
            kind: kind_label(stage.kind),
            approvers: record
                .and_then(|r| r.get("approvers"))
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            comment: text("comment"),
            decided_at: text("decided_at"),
            child_execution: s.child.clone().or_else(|| text("execution_arn")),
            automation_execution_id: None,
            pipeline_execution_id: None,
            act: Vec::new(),
            state,
        };
        if status.state == "waiting" {
            act_on(session, desired, stage, &arn, &mut status).await;
        }
        stages.push(status);
    }
    let note = (running && stages.iter().all(|s| s.state == "not started")).then(|| {
        format!(
            "no stage has started yet: on AWS a run passes this point within seconds; if it \
             stays here, look at the execution (https://{r}.console.aws.amazon.com/states/home?region={r}#/v2/executions/details/{arn}). \
             An emulator such as moto cannot run the stages (startExecution.sync:2), so there a run stays like this",
            r = desired.region
        )
    });
    Ok(RunStatus {
        note,
        run: out.name().unwrap_or(run).to_owned(),
        execution_arn: arn.clone(),
        workflow: desired.workflow.clone(),
        status: out.status().as_str().to_owned(),
        started: out.start_date().to_string(),
        stopped: out.stop_date().map(ToString::to_string),
        requester: input
            .as_ref()
            .and_then(|i| i.get("requester"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        decision: output
            .as_ref()
            .and_then(|o| o.get("decision"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        error: out.error().map(ToOwned::to_owned),
        cause: out.cause().map(ToOwned::to_owned),
        stages,
    })
}

/// Fills in how to act on a waiting stage. Best effort: reading the child's history in
/// another account needs the bootstrap deploy role there; without it the command still
/// works, it just has to look the automation up itself.
async fn act_on(
    session: &Session,
    desired: &DesiredState,
    stage: &StageEntry,
    run_arn: &str,
    status: &mut StageStatus,
) {
    let region = &desired.region;
    let started = match &status.child_execution {
        Some(child) => started_by_child(session, desired, child, stage.kind).await,
        None => None,
    };
    match stage.kind {
        ChildKind::Ssm | ChildKind::Action => {
            status.automation_execution_id = started;
            if stage.kind == ChildKind::Action {
                status
                    .act
                    .push("an action runs after approval; nothing to decide".to_owned());
                return;
            }
            let mut command = format!("approvalc approve {run_arn} {} --file FILE", stage.id);
            if let Some(id) = &status.automation_execution_id {
                command.push_str(&format!(" --automation-execution-id {id}"));
                status.act.push(format!(
                    "https://{region}.console.aws.amazon.com/systems-manager/automation/execution/{id}?region={region}"
                ));
            }
            status.act.insert(
                0,
                format!(
                    "{command}   (as an approver, with credentials of account {})",
                    stage.account
                ),
            );
        }
        ChildKind::Codepipeline => {
            status.pipeline_execution_id = started;
            let mut command = format!("approvalc approve {run_arn} {} --file FILE", stage.id);
            if let Some(id) = &status.pipeline_execution_id {
                command.push_str(&format!(" --pipeline-execution-id {id}"));
            }
            status.act.push(format!(
                "{command}   (as an approver, with credentials of account {})",
                stage.account
            ));
            if let Some(pipeline) = &stage.pipeline {
                status.act.push(match &status.pipeline_execution_id {
                    Some(id) => format!(
                        "https://{region}.console.aws.amazon.com/codesuite/codepipeline/pipelines/{pipeline}/executions/{id}/timeline?region={region}"
                    ),
                    None => format!(
                        "https://{region}.console.aws.amazon.com/codesuite/codepipeline/pipelines/{pipeline}/view?region={region}"
                    ),
                });
            }
        }
    }
}

/// The automation or pipeline execution a child started. Best effort: reading the
/// child's history in another account needs the bootstrap deploy role there; without it
/// the command still works, it just has to look it up itself.
async fn started_by_child(
    session: &Session,
    desired: &DesiredState,
    child: &str,
    kind: ChildKind,
) -> Option<String> {
    let account_id = arn_account(child)?;
    let account = desired.accounts.iter().find(|a| a.id == account_id)?;
    let clients = session
        .account(account, &external_id(&desired.home.id))
        .await
        .ok()?;
    child_result(&clients.sfn, child, started_field(kind))
        .await
        .ok()
        .flatten()
}

/// Approve or reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Approve,
    Reject,
}

/// What [`decide`] did.
#[derive(Debug, Clone, Serialize)]
pub struct Decided {
    pub run: String,
    pub stage: String,
    pub verdict: Verdict,
    pub by: String,
    /// `ssm:SendAutomationSignal` or `codepipeline:PutApprovalResult`.
    pub via: &'static str,
    pub target: String,
}

/// Decides a waiting stage as the caller: `SendAutomationSignal` for SSM stages (the
/// automation is looked up through the run's history unless given), `PutApprovalResult`
/// for CodePipeline stages. The callbacks then turn it into the stage's decision, with the
/// workflow's rules applied; nothing here sees a task token.
/// One decision asked for by `approvalc approve|reject`.
#[derive(Debug, Clone, Copy)]
pub struct DecideRequest<'a> {
    /// Execution ARN (or name) of the parent run.
    pub run: &'a str,
    pub stage: &'a str,
    /// The SSM automation of the stage, when the caller knows it (from `status`).
    pub automation_execution_id: Option<&'a str>,
    /// The pipeline execution of a CodePipeline stage, when the caller knows it.
    pub pipeline_execution_id: Option<&'a str>,
    pub verdict: Verdict,
    pub comment: Option<&'a str>,
}

pub async fn decide(
    session: &Session,
    desired: &DesiredState,
    manifest: &Manifest,
    request: DecideRequest<'_>,
) -> Result<Decided, DeployError> {
    let DecideRequest {
        run,
        stage: stage_id,
        automation_execution_id,
        pipeline_execution_id,
        verdict,
        comment,
    } = request;
    let Some(stage) = manifest.stages.iter().find(|s| s.id == stage_id) else {
        let names: Vec<&str> = manifest.stages.iter().map(|s| s.id.as_str()).collect();
        return Err(DeployError::new(format!(
            "workflow {} has no stage `{stage_id}`",
            desired.workflow
        ))
        .with_help(format!("its stages: {}", names.join(", "))));
    };
    let Some(account) = desired.accounts.iter().find(|a| a.name == stage.account) else {
        return Err(DeployError::new(format!(
            "stage {stage_id} names account {}, which the workflow does not list",
            stage.account
        )));
    };
    if session.caller.account != account.id {
        return Err(DeployError::new(format!(
            "stage {stage_id} is decided in account {account}, but you are signed in to account {} ({})",
            session.caller.account, session.caller.arn
        ))
        .with_help(format!(
            "use the credentials of one of the stage's approvers in account {} (--profile NAME)",
            account.id
        )));
    }
    let clients = session.account(account, "").await?;
    let fail = |e: CallError| DeployError::from_call(e, &account.to_string());
    let run_arn = execution_arn(desired, run);
    let by = session.caller.arn.clone();
    match stage.kind {
        ChildKind::Action => Err(DeployError::new(format!(
            "stage {stage_id} is an action, not an approval: it runs by itself once approved"
        ))),
        ChildKind::Ssm => {
            let id = match automation_execution_id {
                Some(id) => id.to_owned(),
                None => find_started(session, desired, manifest, &run_arn, stage).await?,
            };
            let mut payload = std::collections::HashMap::new();
            if let Some(c) = comment {
                payload.insert("Comment".to_owned(), vec![c.to_owned()]);
            }
            clients
                .ssm
                .send_automation_signal()
                .automation_execution_id(&id)
                .signal_type(match verdict {
                    Verdict::Approve => SignalType::Approve,
                    Verdict::Reject => SignalType::Reject,
                })
                .set_payload((!payload.is_empty()).then_some(payload))
                .send()
                .await
                .map_err(|e| call_error("ssm:SendAutomationSignal", e))
                .map_err(|e| {
                    if e.is(CallErrorKind::NotFound) {
                        DeployError::new(format!(
                            "automation {id} of stage {stage_id} is not waiting for a decision"
                        ))
                        .with_help("`approvalc status RUN` shows what is pending")
                    } else {
                        fail(e)
                    }
                })?;
            Ok(Decided {
                run: run_arn,
                stage: stage_id.to_owned(),
                verdict,
                by,
                via: "ssm:SendAutomationSignal",
                target: id,
            })
        }
        ChildKind::Codepipeline => {
            let Some(pipeline) = &stage.pipeline else {
                return Err(DeployError::new(format!(
                    "stage {stage_id} has no pipeline in the manifest"
                )));
            };
            let execution = match pipeline_execution_id {
                Some(id) => id.to_owned(),
                None => find_started(session, desired, manifest, &run_arn, stage).await?,
            };
            let token = approval_token(&clients, pipeline, &execution, stage_id).await?;
            let summary = comment.map_or_else(
                || {
                    format!(
                        "{} via approvalc",
                        match verdict {
                            Verdict::Approve => "approved",
                            Verdict::Reject => "rejected",
                        }
                    )
                },
                |c| c.chars().take(512).collect(),
            );
            let result = ApprovalResult::builder()
                .summary(summary)
                .status(match verdict {
                    Verdict::Approve => ApprovalStatus::Approved,
                    Verdict::Reject => ApprovalStatus::Rejected,
                })
                .build()
                .map_err(|e| DeployError::new(format!("internal: {e}")))?;
            clients
                .codepipeline
                .put_approval_result()
                .pipeline_name(pipeline)
                .stage_name(PIPELINE_STAGE)
                .action_name(PIPELINE_ACTION)
                .result(result)
                .token(token)
                .send()
                .await
                .map_err(|e| fail(call_error("codepipeline:PutApprovalResult", e)))?;
            Ok(Decided {
                run: run_arn,
                stage: stage_id.to_owned(),
                verdict,
                by,
                via: "codepipeline:PutApprovalResult",
                target: pipeline.clone(),
            })
        }
    }
}

/// What `GetPipelineState` offers to decide: the pipeline execution in the approval
/// stage and, when its `Approve` action waits, the action's token.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Offered {
    pipeline_execution_id: Option<String>,
    token: Option<String>,
}

fn offered(state: &GetPipelineStateOutput) -> Offered {
    let stage = state
        .stage_states()
        .iter()
        .find(|s| s.stage_name() == Some(PIPELINE_STAGE));
    Offered {
        pipeline_execution_id: stage
            .and_then(|s| s.latest_execution())
            .map(|e| e.pipeline_execution_id().to_owned()),
        token: stage
            .into_iter()
            .flat_map(|s| s.action_states())
            .filter(|a| a.action_name() == Some(PIPELINE_ACTION))
            .filter_map(|a| a.latest_execution())
            .filter(|e| e.status() == Some(&ActionExecutionStatus::InProgress))
            .find_map(|e| e.token().map(str::to_owned)),
    }
}

/// The approval token of this run's waiting `Approve` action (a pipeline token, not a task
/// token; it goes straight to `PutApprovalResult` and is never shown). The pipelines run in
/// PARALLEL mode, so the approval `GetPipelineState` offers may be another run's: then
/// nothing is decided, and `ListActionExecutions` of this run's pipeline execution says
/// where this run's approval stands.
async fn approval_token(
    clients: &AccountClients,
    pipeline: &str,
    execution: &str,
    stage_id: &str,
) -> Result<String, DeployError> {
    let account = clients.account.to_string();
    let fail = |e: CallError| DeployError::from_call(e, &account);
    let state = clients
        .codepipeline
        .get_pipeline_state()
        .name(pipeline)
        .send()
        .await
        .map_err(|e| fail(call_error("codepipeline:GetPipelineState", e)))?;
    let offer = offered(&state);
    if offer.pipeline_execution_id.as_deref() == Some(execution)
        && let Some(token) = offer.token
    {
        return Ok(token);
    }
    let ours = clients
        .codepipeline
        .list_action_executions()
        .pipeline_name(pipeline)
        .filter(
            ActionExecutionFilter::builder()
                .pipeline_execution_id(execution)
                .build(),
        )
        .send()
        .await
        .map_err(|e| fail(call_error("codepipeline:ListActionExecutions", e)))?;
    let status = ours
        .action_execution_details()
        .iter()
        .find(|d| {
            d.stage_name() == Some(PIPELINE_STAGE) && d.action_name() == Some(PIPELINE_ACTION)
        })
        .and_then(|d| d.status().cloned());
    Err(not_offered(pipeline, execution, stage_id, &offer, status))
}

/// Why this run's approval cannot be decided now.
fn not_offered(
    pipeline: &str,
    execution: &str,
    stage_id: &str,
    offer: &Offered,
    ours: Option<ActionExecutionStatus>,
) -> DeployError {
    let status_help = "`approvalc status RUN --file FILE` shows what is pending";
    match ours {
        None => DeployError::new(format!(
            "stage {stage_id}: pipeline {pipeline} execution {execution} has not reached its approval"
        ))
        .with_help(status_help),
        Some(ActionExecutionStatus::InProgress) => DeployError::new(format!(
            "stage {stage_id}: pipeline {pipeline} offers the approval of another run (pipeline execution {}), \
             not this run's ({execution}); nothing was decided",
            offer.pipeline_execution_id.as_deref().unwrap_or("unknown")
        ))
        .with_help(
            "the pipeline runs in PARALLEL mode and GetPipelineState shows only the latest approval: \
             decide this run's approval in the CodePipeline console (execution timeline), \
             or run the command again once the other run's approval is decided",
        ),
        Some(other) => DeployError::new(format!(
            "stage {stage_id}: the approval of pipeline {pipeline} execution {execution} is no longer \
             waiting ({})",
            other.as_str()
        ))
        .with_help(status_help),
    }
}

/// The automation (SSM) or pipeline execution (CodePipeline) a stage's child started,
/// through the run's histories: the parent's (and its parts') for the child, the child's
/// for what it started.
async fn find_started(
    session: &Session,
    desired: &DesiredState,
    manifest: &Manifest,
    run_arn: &str,
    stage: &StageEntry,
) -> Result<String, DeployError> {
    let (what, flag) = match stage.kind {
        ChildKind::Codepipeline => ("pipeline execution", "--pipeline-execution-id"),
        ChildKind::Ssm | ChildKind::Action => ("automation", "--automation-execution-id"),
    };
    let cannot = |why: String| {
        DeployError::new(format!(
            "cannot find the {what} stage {} waits on: {why}",
            stage.id
        ))
        .with_help(format!(
            "ask whoever started the run for `approvalc status RUN`, which prints the command \
             with {flag}, or find it in the console and pass its id"
        ))
    };
    // Approvers usually may not assume the deploy role: then they need the id from
    // `status`, which the help says.
    let home = session
        .account(&desired.home, &external_id(&desired.home.id))
        .await
        .map_err(|e| {
            cannot(format!(
                "the run's history is not readable here ({})",
                e.message
            ))
        })?;
    let (parent, parts) = run_histories(&home.sfn, run_arn, manifest)
        .await
        .map_err(|e| cannot(e.to_string()))?;
    let seen = fold_run(&parent, &parts, manifest);
    let Some(child) = seen.get(&stage.id).and_then(|s| s.child.clone()) else {
        return Err(cannot("the stage has not started".to_owned()));
    };
    let Some(account_id) = arn_account(&child) else {
        return Err(cannot(format!("unexpected child ARN {child}")));
    };
    let Some(account) = desired.accounts.iter().find(|a| a.id == account_id) else {
        return Err(cannot(format!("child {child} is in an unknown account")));
    };
    let clients = session
        .account(account, &external_id(&desired.home.id))
        .await
        .map_err(|e| {
            cannot(format!(
                "the child's history is not readable here ({})",
                e.message
            ))
        })?;
    child_result(&clients.sfn, &child, started_field(stage.kind))
        .await
        .map_err(|e| cannot(e.to_string()))?
        .ok_or_else(|| cannot(format!("its {what} has not started yet")))
}

/// One line of `approvalc runs --aws FILE`.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub run: String,
    pub execution_arn: String,
    pub status: String,
    pub started: String,
}

pub async fn list(
    home: &AccountClients,
    desired: &DesiredState,
) -> Result<Vec<RunSummary>, DeployError> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = home
            .sfn
            .list_executions()
            .state_machine_arn(&desired.parent_arn)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| call_error("states:ListExecutions", e))
            .map_err(|e| not_deployed(e, desired, &home.account.to_string()))?;
        out.extend(page.executions().iter().map(|e| RunSummary {
            run: e.name().to_owned(),
            execution_arn: e.execution_arn().to_owned(),
            status: e.status().as_str().to_owned(),
            started: e.start_date().to_string(),
        }));
        match page.next_token() {
            Some(t) if out.len() < 1000 => token = Some(t.to_owned()),
            _ => return Ok(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sfn::primitives::DateTime;
    use aws_sdk_sfn::types::{
        StateEnteredEventDetails, StateExitedEventDetails, TaskSubmittedEventDetails,
    };

    fn manifest() -> Manifest {
        let source = include_str!("../../../workflows/multi-level-cross-account.yaml");
        approvalc_compiler::lower::compile(source)
            .artifacts
            .unwrap()
            .manifest
    }

    fn event(id: i64, kind: HistoryEventType) -> aws_sdk_sfn::types::builders::HistoryEventBuilder {
        HistoryEvent::builder()
            .id(id)
            .previous_event_id(id - 1)
            .timestamp(DateTime::from_secs(0))
            .r#type(kind)
    }

    #[test]
    fn history_shows_which_stage_waits_on_which_child_and_what_was_decided() {
        let child =
            "arn:aws:states:ap-northeast-1:222222222222:execution:approvalc-ssm-approval:c1";
        let record = json!({"stages": {
            "team_lead": {"stage": "team-lead", "decision": "approved", "approvers": ["arn:aws:iam::111111111111:role/TeamLead"], "decided_at": "2026-01-01T00:00:00Z"},
            "qa": {"stage": "qa", "decision": "cancelled"}}});
        let events = vec![
            entered_event(1, "team-lead"),
            event(2, HistoryEventType::TaskStateExited)
                .state_exited_event_details(
                    StateExitedEventDetails::builder()
                        .name("team-lead")
                        .output(record.to_string())
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
            entered_event(3, "qa"),
            event(4, HistoryEventType::TaskScheduled).build().unwrap(),
            event(5, HistoryEventType::TaskStarted).build().unwrap(),
            submitted(6, child),
        ];
        let seen = fold_history(&events, &manifest());
        let lead = &seen["team-lead"];
        assert_eq!(lead.record.as_ref().unwrap()["decision"], "approved");
        let qa = &seen["qa"];
        assert!(qa.entered);
        assert_eq!(qa.child.as_deref(), Some(child));
        // Prepare's `cancelled` seed is not a decision while the run goes on.
        assert_eq!(qa.record, None);
        assert!(!seen.contains_key("prod-owner"));
    }

    fn submitted(id: i64, arn: &str) -> HistoryEvent {
        event(id, HistoryEventType::TaskSubmitted)
            .task_submitted_event_details(
                TaskSubmittedEventDetails::builder()
                    .resource_type("states")
                    .resource("startExecution.sync:2")
                    .output(json!({"ExecutionArn": arn, "StartDate": 1}).to_string())
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    }

    fn entered_event(id: i64, name: &str) -> HistoryEvent {
        event(id, HistoryEventType::TaskStateEntered)
            .state_entered_event_details(
                StateEnteredEventDetails::builder()
                    .name(name)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    }

    /// A task state that started an execution: Entered → Scheduled → Started → Submitted,
    /// as Step Functions writes them for `startExecution.sync:2`.
    fn started(first_id: i64, state: &str, arn: &str) -> Vec<HistoryEvent> {
        vec![
            entered_event(first_id, state),
            event(first_id + 1, HistoryEventType::TaskScheduled)
                .build()
                .unwrap(),
            event(first_id + 2, HistoryEventType::TaskStarted)
                .build()
                .unwrap(),
            submitted(first_id + 3, arn),
        ]
    }

    fn exited(id: i64, state: &str, stage: &str) -> HistoryEvent {
        let record = json!({"stages": {stage_key(stage): {
            "stage": stage, "decision": "approved",
            "approvers": ["arn:aws:iam::111111111111:role/A"], "decided_at": "2026-12-02T00:00:00Z"}}});
        event(id, HistoryEventType::TaskStateExited)
            .state_exited_event_details(
                StateExitedEventDetails::builder()
                    .name(state)
                    .output(record.to_string())
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    }

    /// A chain of 1,100 SSM stages: too many for one state machine, so the compiler
    /// splits it into part machines (like compiler/tests/lower_split.rs).
    fn split_manifest() -> Manifest {
        let mut source = "apiVersion: approvalc/v1\nname: gen\nregion: us-east-1\nhome: main\naccounts:\n  main: { id: \"111111111111\" }\nstages:\n".to_owned();
        for i in 0..1100 {
            let needs = if i == 0 {
                String::new()
            } else {
                format!("    needs: [s{}]\n", i - 1)
            };
            source.push_str(&format!(
                "  s{i}:\n{needs}    ssm:\n      approvers: [arn:aws:iam::111111111111:role/A]\n    timeout: 2h\n"
            ));
        }
        let manifest = approvalc_compiler::lower::compile(&source)
            .artifacts
            .unwrap()
            .manifest;
        assert!(
            manifest.parts.len() >= 2,
            "not split: {}",
            manifest.parts.len()
        );
        manifest
    }

    fn part_arn(part: &str) -> String {
        format!("arn:aws:states:us-east-1:111111111111:execution:{part}:run-1")
    }

    #[test]
    fn status_follows_part_executions_and_merges_their_stages() {
        let manifest = split_manifest();
        let parent_name = manifest.parent.name.clone();
        // Every part is started by its starter (the parent or another part); in each part
        // its first stage was approved, and in the last part the first stage waits.
        let mut parent: Vec<HistoryEvent> = Vec::new();
        let mut histories: BTreeMap<String, Vec<HistoryEvent>> = BTreeMap::new();
        let last = manifest.parts.len() - 1;
        let child = "arn:aws:states:us-east-1:111111111111:execution:approvalc-ssm-approval:c9";
        for (i, part) in manifest.parts.iter().enumerate() {
            let starter = if part.started_by == parent_name {
                &mut parent
            } else {
                histories.entry(part_arn(&part.started_by)).or_default()
            };
            let next = starter.len() as i64 + 1;
            starter.extend(started(
                next,
                &format!("Part_{}", i + 1),
                &part_arn(&part.name),
            ));
            let own = histories.entry(part_arn(&part.name)).or_default();
            let first = part.stages[0].clone();
            let next = own.len() as i64 + 1;
            if i == last {
                own.extend(started(next, &first, child));
            } else {
                own.push(entered_event(next, &first));
                own.push(exited(next + 1, &first, &first));
            }
        }

        // Only the parent: the stages inside parts are unknown.
        let alone = fold_history(&parent, &manifest);
        assert!(
            manifest
                .parts
                .iter()
                .all(|p| !alone.contains_key(&p.stages[0])),
            "{alone:?}"
        );
        assert!(!alone.contains_key("Part_1"), "a part task is not a stage");

        // Walk as run_histories does: read what is unread until nothing is.
        let mut read: Vec<(String, Vec<HistoryEvent>)> = Vec::new();
        let mut rounds = 0;
        loop {
            let next = unread_parts(&parent, &read, &manifest);
            if next.is_empty() {
                break;
            }
            rounds += 1;
            for arn in next {
                let events = histories.get(&arn).cloned().unwrap_or_default();
                read.push((arn, events));
            }
        }
        assert_eq!(read.len(), manifest.parts.len(), "every part read once");
        let nested = manifest.parts.iter().any(|p| p.started_by != parent_name);
        assert_eq!(rounds > 1, nested, "rounds {rounds}");

        let seen = fold_run(&parent, &read, &manifest);
        for (i, part) in manifest.parts.iter().enumerate() {
            let s = &seen[&part.stages[0]];
            assert!(s.entered, "{}", part.stages[0]);
            if i == last {
                assert_eq!(s.child.as_deref(), Some(child));
                assert_eq!(s.record, None);
            } else {
                assert_eq!(s.record.as_ref().unwrap()["decision"], "approved");
            }
        }
        // A stage no history reached stays out (reported "not started").
        let untouched = manifest.parts[0].stages.last().unwrap();
        assert!(!seen.contains_key(untouched), "{untouched}");
    }

    fn pipeline_state(execution: &str, token: Option<&str>) -> GetPipelineStateOutput {
        use aws_sdk_codepipeline::types::{
            ActionExecution, ActionState, StageExecution, StageExecutionStatus, StageState,
        };
        let mut action = ActionExecution::builder().status(ActionExecutionStatus::InProgress);
        if let Some(t) = token {
            action = action.token(t);
        }
        GetPipelineStateOutput::builder()
            .pipeline_name("approvalc-x-deploy")
            .stage_states(
                StageState::builder()
                    .stage_name(PIPELINE_STAGE)
                    .latest_execution(
                        StageExecution::builder()
                            .pipeline_execution_id(execution)
                            .status(StageExecutionStatus::InProgress)
                            .build()
                            .unwrap(),
                    )
                    .action_states(
                        ActionState::builder()
                            .action_name(PIPELINE_ACTION)
                            .latest_execution(action.build())
                            .build(),
                    )
                    .build(),
            )
            .build()
    }

    #[test]
    fn a_pipeline_approval_is_decided_only_for_its_own_pipeline_execution() {
        let offer = offered(&pipeline_state("e-other", Some("tok")));
        assert_eq!(offer.pipeline_execution_id.as_deref(), Some("e-other"));
        assert_eq!(offer.token.as_deref(), Some("tok"));
        // This run's execution is e-mine: the offered token is another run's.
        let err = not_offered(
            "approvalc-x-deploy",
            "e-mine",
            "prod-owner",
            &offer,
            Some(ActionExecutionStatus::InProgress),
        );
        assert!(
            err.message
                .contains("another run (pipeline execution e-other)")
                && err.message.contains("e-mine")
                && err.message.contains("nothing was decided"),
            "{err}"
        );
        assert!(err.help.unwrap().contains("PARALLEL"));
        let err = not_offered(
            "p",
            "e-mine",
            "s",
            &offer,
            Some(ActionExecutionStatus::Succeeded),
        );
        assert!(
            err.message.contains("no longer waiting (Succeeded)"),
            "{err}"
        );
        let err = not_offered("p", "e-mine", "s", &offer, None);
        assert!(
            err.message.contains("has not reached its approval"),
            "{err}"
        );
        // No token (not waiting): nothing offered.
        assert_eq!(offered(&pipeline_state("e-mine", None)).token, None);
    }

    #[test]
    fn only_execution_arns_are_aws_runs() {
        assert!(is_execution_arn(
            "arn:aws:states:ap-northeast-1:111111111111:execution:approvalc-x:run-1"
        ));
        assert!(!is_execution_arn("release-prod-20260101-120000-1a2b"));
        assert!(!is_execution_arn(
            "arn:aws:states:ap-northeast-1:111111111111:stateMachine:approvalc-x"
        ));
        assert!(!is_execution_arn("arn:aws:states"));
    }

    const DEFINITION: &str = r#"{"StartAt": "ValidateInput", "States": {
      "ValidateInput": {"Type": "Choice", "Choices": [
        {"Not": {"Variable": "$.input.change", "IsPresent": true}, "Next": "Missing"},
        {"And": [{"Variable": "$.input.change", "IsPresent": true},
                 {"Not": {"Variable": "$.input.change", "IsString": true}}], "Next": "Type"}],
        "Default": "Go"},
      "Missing": {"Type": "Fail", "Cause": "input.change is required (string)"},
      "Type": {"Type": "Fail", "Cause": "input.change must be a string"},
      "Go": {"Type": "Succeed"}}}"#;

    #[test]
    fn the_parents_own_checks_run_before_start() {
        assert_eq!(
            failing_choice(
                &serde_json::from_str(DEFINITION).unwrap(),
                &json!({"input": {}})
            ),
            Some("input.change is required (string)".to_owned())
        );
        assert_eq!(
            failing_choice(
                &serde_json::from_str(DEFINITION).unwrap(),
                &json!({"input": {"change": 3}})
            ),
            Some("input.change must be a string".to_owned())
        );
        assert_eq!(
            failing_choice(
                &serde_json::from_str(DEFINITION).unwrap(),
                &json!({"input": {"change": "x"}})
            ),
            None
        );
    }
}
