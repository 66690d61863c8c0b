//! The generic child state machines (one definition per binding kind, deployed in every
//! bootstrapped account). They follow docs/token-handling.md: start the automation or
//! pipeline with the correlation id (the child's execution name), store the task token in
//! the token table with `putItem.waitForTaskToken`, and turn the callback's result into the
//! stage record the parent collects.

use approvalc_asl::model::{
    Catcher, ChoiceRule, ChoiceState, Comparison, Condition, Element, Field, PassState, Payload,
    Retrier, State, StateMachine, TaskState, Timeout, Transition,
};
use indexmap::IndexMap;
use serde_json::json;

use super::names::{CALLBACK_GRACE_SECONDS, ChildKind};

const PUT_ITEM_WAIT: &str = "arn:aws:states:::aws-sdk:dynamodb:putItem.waitForTaskToken";
const START_AUTOMATION: &str = "arn:aws:states:::aws-sdk:ssm:startAutomationExecution";
const STOP_AUTOMATION: &str = "arn:aws:states:::aws-sdk:ssm:stopAutomationExecution";
const START_PIPELINE: &str = "arn:aws:states:::aws-sdk:codepipeline:startPipelineExecution";

/// The child machine of `kind`, writing tokens to `table` (a literal name, or
/// `${TokenTable}` inside a template with `DefinitionSubstitutions`).
pub fn machine(kind: ChildKind, table: &str) -> StateMachine {
    let mut states = IndexMap::new();
    match kind {
        ChildKind::Ssm => {
            states.insert("Prepare".to_owned(), prepare(None, "HasTopic"));
            states.insert(
                "HasTopic".to_owned(),
                State::Choice(ChoiceState::new(
                    vec![ChoiceRule {
                        condition: Condition::test(
                            "$.approval.notification_arn",
                            Comparison::IsPresent(true),
                        ),
                        next: "StartAutomationWithTopic".to_owned(),
                    }],
                    Some("StartAutomation".to_owned()),
                )),
            );
            states.insert(
                "StartAutomationWithTopic".to_owned(),
                start_approval_automation(true),
            );
            states.insert(
                "StartAutomation".to_owned(),
                start_approval_automation(false),
            );
        }
        ChildKind::Codepipeline => {
            states.insert("Prepare".to_owned(), prepare(None, "StartPipeline"));
            states.insert("StartPipeline".to_owned(), start_pipeline());
        }
        ChildKind::Action => {
            states.insert(
                "Correlate".to_owned(),
                State::Pass(PassState {
                    parameters: Some(
                        Payload::new()
                            .with_intrinsic("CorrelationId", "States.Array($$.Execution.Name)"),
                    ),
                    result_path: Some(Some("$.correlation".to_owned())),
                    transition: Transition::next("Prepare"),
                    ..PassState::default()
                }),
            );
            states.insert(
                "Prepare".to_owned(),
                prepare(
                    Some("States.JsonMerge($.approval.parameters, $.correlation, false)"),
                    "StartAutomation",
                ),
            );
            states.insert("StartAutomation".to_owned(), start_action_automation());
        }
    }
    states.insert("WaitForDecision".to_owned(), wait_for_decision(kind, table));
    if kind == ChildKind::Action {
        states.insert("Decided".to_owned(), action_succeeded());
        states.insert("ActionFailed".to_owned(), action_failed());
    } else {
        states.insert("Decided".to_owned(), decided());
    }
    if kind != ChildKind::Codepipeline {
        states.insert("StopAutomation".to_owned(), stop_automation());
    }
    states.insert("TimedOut".to_owned(), timed_out());
    let start = if kind == ChildKind::Action {
        "Correlate"
    } else {
        "Prepare"
    };
    let mut machine = StateMachine::new(start, states);
    machine.comment = Some(format!(
        "approvalc generic {} child: starts the request, stores the task token under the correlation id and waits for the callback (docs/token-handling.md)",
        kind.as_str()
    ));
    machine
}

/// Computes the wait (approval timeout plus grace) and, for actions, the document
/// parameters with `CorrelationId` added.
fn prepare(parameters: Option<&str>, next: &str) -> State {
    let mut payload = Payload::new().with_intrinsic(
        "wait_seconds",
        format!("States.MathAdd($.approval.timeout_seconds, {CALLBACK_GRACE_SECONDS})"),
    );
    if let Some(call) = parameters {
        payload = payload.with_intrinsic("parameters", call);
    }
    State::Pass(PassState {
        parameters: Some(payload),
        result_path: Some(Some("$.child".to_owned())),
        transition: Transition::next(next),
        ..PassState::default()
    })
}

/// Retries for the start calls: safe because `ClientToken` / `ClientRequestToken` is the
/// correlation id, so a retried call cannot start a second automation or pipeline run.
fn start_retry() -> Vec<Retrier> {
    vec![Retrier {
        error_equals: vec!["States.TaskFailed".to_owned()],
        interval_seconds: Some(2),
        max_attempts: Some(3),
        backoff_rate: Some(2.into()),
        max_delay_seconds: None,
        jitter_strategy: None,
    }]
}

fn start_approval_automation(with_topic: bool) -> State {
    let mut parameters = Payload::new()
        .with_intrinsic("CorrelationId", "States.Array($$.Execution.Name)")
        .with_path("Approvers", "$.approval.approvers")
        .with_intrinsic(
            "MinRequiredApprovals",
            "States.Array(States.Format('{}', $.approval.min_approvals))",
        )
        .with_intrinsic("Message", "States.Array($.approval.message)");
    if with_topic {
        parameters = parameters.with_intrinsic(
            "NotificationArn",
            "States.Array($.approval.notification_arn)",
        );
    }
    parameters = parameters.with_intrinsic(
        "TimeoutSeconds",
        "States.Array(States.Format('{}', $.approval.timeout_seconds))",
    );
    start_automation_task(Field::Object(parameters))
}

fn start_action_automation() -> State {
    start_automation_task(Field::Dynamic(approvalc_asl::model::Expr::Path(
        "$.child.parameters".to_owned(),
    )))
}

fn start_automation_task(parameters: Field) -> State {
    let mut task = TaskState::new(START_AUTOMATION, Transition::next("WaitForDecision"));
    task.parameters = Some(
        Payload::new()
            .with_path("DocumentName", "$.approval.document")
            .with_path("ClientToken", "$$.Execution.Name")
            .with("Parameters", parameters),
    );
    task.result_selector =
        Some(Payload::new().with_path("AutomationExecutionId", "$.AutomationExecutionId"));
    task.result_path = Some(Some("$.automation".to_owned()));
    task.retry = start_retry();
    State::Task(Box::new(task))
}

fn start_pipeline() -> State {
    let variable = |name: &str, path: &str| {
        Element::Object(
            Payload::new()
                .with_str("Name", name)
                .with_path("Value", path),
        )
    };
    let mut task = TaskState::new(START_PIPELINE, Transition::next("WaitForDecision"));
    task.parameters = Some(
        Payload::new()
            .with_path("Name", "$.approval.pipeline")
            .with_path("ClientRequestToken", "$$.Execution.Name")
            .with(
                "Variables",
                Field::List(vec![
                    variable(
                        super::names::PIPELINE_CORRELATION_VARIABLE,
                        "$$.Execution.Name",
                    ),
                    variable("custom_data", "$.approval.custom_data"),
                    variable("external_link", "$.approval.external_link"),
                ]),
            ),
    );
    task.result_selector =
        Some(Payload::new().with_path("PipelineExecutionId", "$.PipelineExecutionId"));
    task.result_path = Some(Some("$.pipeline".to_owned()));
    task.retry = start_retry();
    State::Task(Box::new(task))
}

fn attr(ty: &str, path: &str) -> Field {
    Field::Object(Payload::new().with_path(ty, path))
}

fn attr_call(ty: &str, call: &str) -> Field {
    Field::Object(Payload::new().with_intrinsic(ty, call))
}

/// Writes the token item (docs/token-handling.md "Token store item") and waits for the
/// callback. The condition makes a second write under the same correlation id fail instead
/// of replacing a token.
fn wait_for_decision(kind: ChildKind, table: &str) -> State {
    let mut item = Payload::new()
        .with("correlation_id", attr("S", "$$.Execution.Name"))
        .with("task_token", attr("S", "$$.Task.Token"))
        .with(
            "kind",
            Field::Object(Payload::new().with_str("S", kind.as_str())),
        )
        .with("run_id", attr("S", "$.run.id"))
        .with("workflow", attr("S", "$.run.workflow"))
        .with("stage_id", attr("S", "$.stage.id"))
        .with("account", attr("S", "$.stage.account"))
        .with("account_id", attr("S", "$.stage.account_id"))
        .with("attempt", attr("S", "$.stage.attempt"))
        .with(
            "parent_execution_arn",
            attr("S", "$.AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"),
        )
        .with("child_execution_arn", attr("S", "$$.Execution.Id"))
        .with("requester", attr("S", "$.run.requester"))
        .with(
            "distinct_approvers",
            attr("BOOL", "$.rules.distinct_approvers"),
        )
        .with(
            "requester_cannot_approve",
            attr("BOOL", "$.rules.requester_cannot_approve"),
        )
        .with(
            "prior_approvers",
            attr_call("S", "States.JsonToString($.prior_approvers)"),
        )
        .with("created_at", attr("S", "$$.State.EnteredTime"))
        .with(
            "timeout_seconds",
            attr_call("N", "States.Format('{}', $.approval.timeout_seconds)"),
        );
    item = match kind {
        ChildKind::Ssm | ChildKind::Action => item.with(
            "automation_execution_id",
            attr("S", "$.automation.AutomationExecutionId"),
        ),
        ChildKind::Codepipeline => item
            .with("pipeline_name", attr("S", "$.approval.pipeline"))
            .with(
                "pipeline_execution_id",
                attr("S", "$.pipeline.PipelineExecutionId"),
            ),
    };
    let mut task = TaskState::new(PUT_ITEM_WAIT, Transition::next("Decided"));
    task.parameters = Some(
        Payload::new()
            .with_str("TableName", table)
            .with("Item", Field::Object(item))
            .with_str(
                "ConditionExpression",
                "attribute_not_exists(correlation_id)",
            ),
    );
    task.result_path = Some(Some("$.decision".to_owned()));
    task.timeout = Some(Timeout::Path("$.child.wait_seconds".to_owned()));
    // SSM and action automations run until their own (longer) step timeout, so a child that
    // gives up stops its automation; a pipeline's approval action has the stage's timeout.
    let on_timeout = if kind == ChildKind::Codepipeline {
        "TimedOut"
    } else {
        "StopAutomation"
    };
    task.catch = vec![Catcher {
        error_equals: vec!["States.Timeout".to_owned(), "Approval.TimedOut".to_owned()],
        result_path: Some(Some("$.failure".to_owned())),
        next: on_timeout.to_owned(),
    }];
    if kind == ChildKind::Action {
        // An automation that failed or was cancelled rejects the stage; the record keeps
        // the runtime's cause (automation id, document, failure message; no token).
        task.catch.push(Catcher {
            error_equals: ACTION_FAILURES.iter().map(|&e| e.to_owned()).collect(),
            result_path: Some(Some("$.failure".to_owned())),
            next: "ActionFailed".to_owned(),
        });
    }
    State::Task(Box::new(task))
}

/// Cancels the automation of a timed-out stage; an automation that already ended makes the
/// call fail, which is fine.
fn stop_automation() -> State {
    let mut task = TaskState::new(STOP_AUTOMATION, Transition::next("TimedOut"));
    task.parameters = Some(
        Payload::new()
            .with_path(
                "AutomationExecutionId",
                "$.automation.AutomationExecutionId",
            )
            .with_str("Type", "Cancel"),
    );
    task.result_path = Some(None);
    task.catch = vec![Catcher {
        error_equals: vec!["States.ALL".to_owned()],
        result_path: Some(None),
        next: "TimedOut".to_owned(),
    }];
    State::Task(Box::new(task))
}

/// The stage record from the callback's task result.
fn decided() -> State {
    State::Pass(PassState {
        parameters: Some(
            Payload::new()
                .with_path("stage", "$.stage.id")
                .with_path("decision", "$.decision.decision")
                .with_path("approvers", "$.decision.approvers")
                .with_path("comment", "$.decision.comment")
                .with_path("decided_at", "$.decision.decided_at")
                .with_path("account", "$.stage.account")
                .with_path("rule", "$.decision.rule"),
        ),
        transition: Transition::End,
        ..PassState::default()
    })
}

/// What the runtime sends with `SendTaskFailure` for an action automation that ended
/// other than Success (docs/token-handling.md "Action result"); `Approval.TimedOut` is
/// handled like a timed-out approval.
const ACTION_FAILURES: [&str; 3] = [
    "Approval.AutomationFailed",
    "Approval.Cancelled",
    "Approval.Malformed",
];

/// An action's automation succeeded: the runtime sent `{"status": "succeeded",
/// "automation_execution_id", "outputs", "finished_at"}`, and the stage is approved (no
/// approvers: nobody decided, the automation ran).
fn action_succeeded() -> State {
    State::Pass(PassState {
        parameters: Some(
            Payload::new()
                .with_path("stage", "$.stage.id")
                .with_str("decision", "approved")
                .with("approvers", Field::Static(json!([])))
                .with("comment", Field::Static(json!(null)))
                .with_path("decided_at", "$.decision.finished_at")
                .with_path("account", "$.stage.account")
                .with("rule", Field::Static(json!(null)))
                .with_path(
                    "automation_execution_id",
                    "$.decision.automation_execution_id",
                )
                .with_path("outputs", "$.decision.outputs"),
        ),
        transition: Transition::End,
        ..PassState::default()
    })
}

/// An action's automation failed or was cancelled: the stage is rejected, the comment
/// holds the runtime's cause.
fn action_failed() -> State {
    State::Pass(PassState {
        parameters: Some(
            Payload::new()
                .with_path("stage", "$.stage.id")
                .with_str("decision", "rejected")
                .with("approvers", Field::Static(json!([])))
                .with_path("comment", "$.failure.Cause")
                .with_path("decided_at", "$$.State.EnteredTime")
                .with_path("account", "$.stage.account")
                .with("rule", Field::Static(json!(null)))
                .with_path("error", "$.failure.Error"),
        ),
        transition: Transition::End,
        ..PassState::default()
    })
}

fn timed_out() -> State {
    State::Pass(PassState {
        parameters: Some(
            Payload::new()
                .with_path("stage", "$.stage.id")
                .with_str("decision", "timed_out")
                .with("approvers", Field::Static(json!([])))
                .with("comment", Field::Static(json!(null)))
                .with_path("decided_at", "$$.State.EnteredTime")
                .with_path("account", "$.stage.account")
                .with("rule", Field::Static(json!(null))),
        ),
        transition: Transition::End,
        ..PassState::default()
    })
}
