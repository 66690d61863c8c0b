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
use aws_sdk_codepipeline::types::{ActionExecutionStatus, ApprovalResult, ApprovalStatus};
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
                let arn = event
                    .task_submitted_event_details()
                    .and_then(|d| d.output())
                    .and_then(|o| serde_json::from_str::<Value>(o).ok())
                    .and_then(|o| {
                        o.get("ExecutionArn")
                            .and_then(Value::as_str)
                            .map(str::to_owned)
                    });
                if let (Some(arn), Some(stage)) = (arn, entered_state(&by_id, event)) {
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

/// The automation a child execution started (`AutomationExecutionId` in its
/// `StartAutomation` task result).
async fn automation_of(
    sfn: &aws_sdk_sfn::Client,
    child: &str,
) -> Result<Option<String>, CallError> {
    let events = history(sfn, child).await?;
    Ok(events.iter().find_map(|e| {
        let output = e.task_succeeded_event_details()?.output()?;
        let value: Value = serde_json::from_str(output).ok()?;
        value
            .get("AutomationExecutionId")
            .and_then(Value::as_str)
            .map(str::to_owned)
    }))
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
        let events = history(&home.sfn, &arn)
            .await
            .map_err(|e| DeployError::from_call(e, &account))?;
        fold_history(&events, manifest)
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
            act: Vec::new(),
            state,
        };
        if status.state == "waiting" {
            act_on(session, desired, stage, &arn, &mut status).await;
        }
        stages.push(status);
    }
    Ok(RunStatus {
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
    match stage.kind {
        ChildKind::Ssm | ChildKind::Action => {
            if let Some(child) = &status.child_execution
                && let Some(account_id) = arn_account(child)
                && let Some(account) = desired.accounts.iter().find(|a| a.id == account_id)
                && let Ok(clients) = session
                    .account(account, &external_id(&desired.home.id))
                    .await
                && let Ok(Some(id)) = automation_of(&clients.sfn, child).await
            {
                status.automation_execution_id = Some(id);
            }
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
            status.act.push(format!(
                "approvalc approve {run_arn} {} --file FILE   (with credentials of account {})",
                stage.id, stage.account
            ));
            if let Some(pipeline) = &stage.pipeline {
                status.act.push(format!(
                    "https://{region}.console.aws.amazon.com/codesuite/codepipeline/pipelines/{pipeline}/view?region={region}"
                ));
            }
        }
    }
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
                None => find_automation(session, desired, manifest, &run_arn, stage).await?,
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
            let token = pending_approval(&clients, pipeline).await.map_err(fail)?;
            let Some(token) = token else {
                return Err(DeployError::new(format!(
                    "pipeline {pipeline} has no approval waiting for a decision"
                ))
                .with_help("`approvalc status RUN` shows what is pending"));
            };
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

/// The approval token of the pipeline's waiting `Approve` action (a pipeline token, not a
/// task token; it is passed straight to `PutApprovalResult` and never shown).
async fn pending_approval(
    clients: &AccountClients,
    pipeline: &str,
) -> Result<Option<String>, CallError> {
    let state = clients
        .codepipeline
        .get_pipeline_state()
        .name(pipeline)
        .send()
        .await
        .map_err(|e| call_error("codepipeline:GetPipelineState", e))?;
    Ok(state
        .stage_states()
        .iter()
        .filter(|s| s.stage_name() == Some(PIPELINE_STAGE))
        .flat_map(|s| s.action_states())
        .filter(|a| a.action_name() == Some(PIPELINE_ACTION))
        .filter_map(|a| a.latest_execution())
        .filter(|e| e.status() == Some(&ActionExecutionStatus::InProgress))
        .find_map(|e| e.token().map(str::to_owned)))
}

async fn find_automation(
    session: &Session,
    desired: &DesiredState,
    manifest: &Manifest,
    run_arn: &str,
    stage: &StageEntry,
) -> Result<String, DeployError> {
    let cannot = |why: String| {
        DeployError::new(format!(
            "cannot find the automation stage {} waits on: {why}",
            stage.id
        ))
        .with_help(
            "ask whoever started the run for `approvalc status RUN`, which prints the command \
             with --automation-execution-id, or find the automation in the Systems Manager \
             console and pass its id",
        )
    };
    let home = session
        .account(&desired.home, &external_id(&desired.home.id))
        .await?;
    let events = history(&home.sfn, run_arn)
        .await
        .map_err(|e| cannot(e.to_string()))?;
    let seen = fold_history(&events, manifest);
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
        .await?;
    automation_of(&clients.sfn, &child)
        .await
        .map_err(|e| cannot(e.to_string()))?
        .ok_or_else(|| cannot("its automation has not started yet".to_owned()))
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
        let entered = |id, name: &str| {
            event(id, HistoryEventType::TaskStateEntered)
                .state_entered_event_details(
                    StateEnteredEventDetails::builder()
                        .name(name)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap()
        };
        let child =
            "arn:aws:states:ap-northeast-1:222222222222:execution:approvalc-ssm-approval:c1";
        let record = json!({"stages": {
            "team_lead": {"stage": "team-lead", "decision": "approved", "approvers": ["arn:aws:iam::111111111111:role/TeamLead"], "decided_at": "2026-01-01T00:00:00Z"},
            "qa": {"stage": "qa", "decision": "cancelled"}}});
        let events = vec![
            entered(1, "team-lead"),
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
            entered(3, "qa"),
            event(4, HistoryEventType::TaskScheduled).build().unwrap(),
            event(5, HistoryEventType::TaskStarted).build().unwrap(),
            event(6, HistoryEventType::TaskSubmitted)
                .task_submitted_event_details(
                    TaskSubmittedEventDetails::builder()
                        .resource_type("states")
                        .resource("startExecution.sync:2")
                        .output(json!({"ExecutionArn": child}).to_string())
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
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
