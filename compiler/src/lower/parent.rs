//! The per-workflow parent state machine.
//!
//! Shape (docs/compiler.md "Parent machine"):
//!
//! ```text
//! ValidateInput (Choice) ─bad─▶ InputInvalid_N (Fail, Approval.InvalidInput)
//!   └▶ Prepare (Pass: defaults + a `cancelled` record per stage)
//!   └▶ Init (Pass: {input with defaults, run, stages})
//!   └▶ Stages (Parallel, one branch = the series-parallel stage tree)
//!        ├─ok──────────────────▶ Approved (Pass: decision approved)
//!        └─Catch Approval.Rejected ▶ Rejected (Pass: decision rejected)
//! ```
//!
//! A stage is `[ID_When (Choice) → ID_Skip (Pass)] → ID (Task startExecution.sync:2) →
//! ID_Decide (Choice) → [ID_Escalate (Task) → ID_EscalationDecide (Choice)]`; anything but
//! `approved` goes to `ID_Rejected`, a Fail state whose error `Approval.Rejected` stops every
//! other branch (fail fast) and whose cause carries the branch's stage records.

use approvalc_asl::model::{
    Branch, Catcher, ChoiceRule, ChoiceState, Comparison, Condition, Credentials, ErrorSource,
    Expr, FailState, Field, ParallelState, PassState, Payload, State, StateMachine, SucceedState,
    TaskState, Timeout, Transition, quote_intrinsic_string,
};
use indexmap::IndexMap;
use serde_json::{Value as Json, json};

use super::names::{ArnBuilder, ChildKind, PARENT_GRACE_SECONDS, stage_key};
use super::sp::Sp;
use crate::model::{
    self, Binding, CmpOp, InputType, Model, OnTimeout, Operand, PipelineTarget, Reference, Stage,
    Template, TemplatePart,
};

/// JSON merges nest one intrinsic per extra branch and Step Functions allows 10 nested
/// intrinsics per field, so a `Parallel` gets at most this many branches; wider fan-outs
/// become a `Parallel` of `Parallel`s.
pub const MAX_BRANCHES: usize = 10;

/// History events of the fixed part of a run: ExecutionStarted, ValidateInput (2),
/// Prepare (2), Init (2), Stages (4), Approved (2), ExecutionSucceeded.
const FIXED_EVENTS: u64 = 14;
/// Task state with `startExecution.sync:2`: Entered, Scheduled, Started, Submitted,
/// Succeeded, Exited.
const TASK_EVENTS: u64 = 6;
const CHOICE_EVENTS: u64 = 2;
const PASS_EVENTS: u64 = 2;
/// Parallel: Entered, Started, Succeeded, Exited.
const PARALLEL_EVENTS: u64 = 4;

/// The parent machine and the figures the quota checks need.
#[derive(Debug, Clone)]
pub struct Parent {
    pub machine: StateMachine,
    /// Upper bound of history events of one run (every stage runs, every timeout escalates).
    pub worst_case_events: u64,
    /// Longest possible run in seconds (every stage waits its full timeouts).
    pub worst_case_seconds: u64,
}

/// Where a stage's child runs and how the parent reaches it.
#[derive(Debug, Clone)]
pub struct StageTarget {
    pub kind: ChildKind,
    pub child_arn: String,
    pub execute_role_arn: Option<String>,
}

/// How the parent reaches each stage's child machine.
pub fn stage_target(model: &Model, stage: &Stage) -> StageTarget {
    let kind = match stage.binding {
        Binding::Ssm(_) => ChildKind::Ssm,
        Binding::CodePipeline(_) => ChildKind::Codepipeline,
        Binding::Action(_) => ChildKind::Action,
    };
    let arns = ArnBuilder::literal(model.region.as_str(), stage.account.id.as_str());
    let execute_role_arn = model
        .is_cross_account(stage)
        .then(|| arns.role(&model::names::stage_role(&model.name, &stage.id)));
    StageTarget {
        kind,
        child_arn: arns.state_machine(kind.machine_name()),
        execute_role_arn,
    }
}

/// Builds the parent machine over the decomposition `tree` of the stage graph.
pub fn build(model: &Model, tree: &Sp) -> Parent {
    let mut builder = Builder {
        model,
        parallel_count: 0,
        events: FIXED_EVENTS,
    };
    let body = builder.sequence(tree);
    let worst_case_seconds = worst_seconds(model, tree);
    let mut states = IndexMap::new();
    let (validate, fails) = validate_input(model);
    states.insert("ValidateInput".to_owned(), validate);
    states.extend(fails);
    states.insert("Prepare".to_owned(), prepare(model));
    let after_init = if body.is_empty() {
        "Approved"
    } else {
        "Stages"
    };
    states.insert("Init".to_owned(), init(model, after_init));
    if !body.is_empty() {
        let mut branch_states = IndexMap::new();
        let entry = builder.entry(&body[0]);
        builder.emit_sequence(&body, Transition::End, &mut branch_states);
        let mut stages = ParallelState::new(
            vec![Branch::new(entry, branch_states)],
            Transition::next("Approved"),
        );
        stages.comment = Some("the stage graph; a rejection anywhere fails it fast".to_owned());
        stages.result_selector = Some(
            Payload::new()
                .with_path("input", "$[0].input")
                .with_path("run", "$[0].run")
                .with_path("stages", "$[0].stages"),
        );
        stages.result_path = Some(Some("$".to_owned()));
        stages.catch = vec![Catcher {
            error_equals: vec!["Approval.Rejected".to_owned()],
            result_path: Some(Some("$.rejection".to_owned())),
            next: "Rejected".to_owned(),
        }];
        states.insert("Stages".to_owned(), State::Parallel(Box::new(stages)));
    }
    states.insert(
        "Approved".to_owned(),
        outcome(model, "approved", "$.stages"),
    );
    states.insert(
        "Rejected".to_owned(),
        outcome(
            model,
            "rejected",
            "States.JsonMerge($.stages, States.StringToJson($.rejection.Cause), false)",
        ),
    );
    let mut machine = StateMachine::new("ValidateInput", states);
    machine.comment = Some(format!(
        "approvalc parent of workflow {} (generated; do not edit)",
        model.name.as_str()
    ));
    Parent {
        machine,
        worst_case_events: builder.events,
        worst_case_seconds,
    }
}

/// A node of the emitted sequence: a stage, or a `Parallel` of sequences.
enum Node {
    Stage(usize),
    Parallel {
        name: String,
        branches: Vec<Vec<Node>>,
    },
}

struct Builder<'m> {
    model: &'m Model,
    parallel_count: usize,
    events: u64,
}

impl Builder<'_> {
    fn sequence(&mut self, tree: &Sp) -> Vec<Node> {
        match tree {
            Sp::Leaf(i) => vec![Node::Stage(*i)],
            Sp::Series(children) => children.iter().flat_map(|c| self.sequence(c)).collect(),
            Sp::Parallel(children) => {
                let branches: Vec<Vec<Node>> = children.iter().map(|c| self.sequence(c)).collect();
                vec![self.parallel(branches)]
            }
        }
    }

    /// A `Parallel` node, nesting groups of at most [`MAX_BRANCHES`].
    fn parallel(&mut self, mut branches: Vec<Vec<Node>>) -> Node {
        while branches.len() > MAX_BRANCHES {
            let mut grouped = Vec::new();
            let mut rest = branches.into_iter().peekable();
            while rest.peek().is_some() {
                let chunk: Vec<Vec<Node>> = rest.by_ref().take(MAX_BRANCHES).collect();
                grouped.push(if chunk.len() == 1 {
                    chunk.into_iter().flatten().collect()
                } else {
                    vec![self.parallel(chunk)]
                });
            }
            branches = grouped;
        }
        self.parallel_count += 1;
        self.events += PARALLEL_EVENTS;
        Node::Parallel {
            name: format!("Parallel_{}", self.parallel_count),
            branches,
        }
    }

    fn entry(&self, node: &Node) -> String {
        match node {
            Node::Stage(i) => {
                let stage = &self.model.stages[*i];
                if stage.when.is_some() {
                    format!("{}_When", stage.id.as_str())
                } else {
                    stage.id.as_str().to_owned()
                }
            }
            Node::Parallel { name, .. } => name.clone(),
        }
    }

    fn emit_sequence(
        &mut self,
        nodes: &[Node],
        last: Transition,
        states: &mut IndexMap<String, State>,
    ) {
        for (k, node) in nodes.iter().enumerate() {
            let next = match nodes.get(k + 1) {
                Some(following) => Transition::Next(self.entry(following)),
                None => last.clone(),
            };
            match node {
                Node::Stage(i) => self.emit_stage(*i, next, states),
                Node::Parallel { name, branches } => {
                    let parallel = self.emit_parallel(branches, next);
                    states.insert(name.clone(), parallel);
                }
            }
        }
    }

    fn emit_parallel(&mut self, branches: &[Vec<Node>], next: Transition) -> State {
        let mut asl_branches = Vec::new();
        for branch in branches {
            let mut states = IndexMap::new();
            let entry = branch.first().map(|n| self.entry(n)).unwrap_or_default();
            self.emit_sequence(branch, Transition::End, &mut states);
            asl_branches.push(Branch::new(entry, states));
        }
        // Every branch starts from the same records and adds its own, so a shallow merge
        // of all branch outputs holds every record.
        let mut merge = "$[0].stages".to_owned();
        for i in 1..asl_branches.len() {
            merge = format!("States.JsonMerge({merge}, $[{i}].stages, false)");
        }
        let mut parallel = ParallelState::new(asl_branches, next);
        parallel.result_selector = Some(
            Payload::new()
                .with_path("input", "$[0].input")
                .with_path("run", "$[0].run")
                .with("stages", Field::Dynamic(Expr::parse(&merge))),
        );
        parallel.result_path = Some(Some("$".to_owned()));
        State::Parallel(Box::new(parallel))
    }

    fn emit_stage(&mut self, index: usize, next: Transition, states: &mut IndexMap<String, State>) {
        let model = self.model;
        let stage = &model.stages[index];
        let id = stage.id.as_str();
        let key = stage_key(id);
        let record = format!("$.stages.{key}");
        let target = stage_target(model, stage);
        let rejected = format!("{id}_Rejected");
        // A Choice cannot end a branch, so "go on" from a Choice needs a named target.
        let mut done_needed = false;
        let go_on = match &next {
            Transition::Next(name) => name.clone(),
            Transition::End => {
                done_needed = true;
                format!("{id}_Done")
            }
        };

        if let Some(when) = &stage.when {
            let rule = ChoiceRule {
                condition: condition(model, &when.condition),
                next: id.to_owned(),
            };
            let mut choice = ChoiceState::new(vec![rule], Some(format!("{id}_Skip")));
            choice.comment = Some(format!("when: {}", when.text));
            states.insert(format!("{id}_When"), State::Choice(choice));
            states.insert(
                format!("{id}_Skip"),
                State::Pass(PassState {
                    result: Some(stage_record(stage, "skipped")),
                    result_path: Some(Some(record.clone())),
                    transition: next.clone(),
                    ..PassState::default()
                }),
            );
            self.events += CHOICE_EVENTS;
        }

        let escalation = match &stage.on_timeout {
            OnTimeout::Escalate(escalation) => Some(escalation),
            OnTimeout::Reject => None,
        };
        let decide = format!("{id}_Decide");
        states.insert(
            id.to_owned(),
            self.stage_task(stage, &target, Attempt::Primary, &decide),
        );
        let mut rules = vec![approved_rule(&record, &go_on)];
        if escalation.is_some() {
            rules.push(ChoiceRule {
                condition: Condition::test(
                    format!("{record}.decision"),
                    Comparison::StringEquals("timed_out".to_owned()),
                ),
                next: format!("{id}_Escalate"),
            });
        }
        states.insert(
            decide,
            State::Choice(ChoiceState::new(rules, Some(rejected.clone()))),
        );
        self.events += TASK_EVENTS + CHOICE_EVENTS;

        if let Some(escalation) = escalation {
            let decide_again = format!("{id}_EscalationDecide");
            states.insert(
                format!("{id}_Escalate"),
                self.stage_task(
                    stage,
                    &target,
                    Attempt::Escalation(escalation),
                    &decide_again,
                ),
            );
            states.insert(
                decide_again,
                State::Choice(ChoiceState::new(
                    vec![approved_rule(&record, &go_on)],
                    Some(rejected.clone()),
                )),
            );
            self.events += TASK_EVENTS + CHOICE_EVENTS;
        }

        states.insert(
            format!("{id}_Failed"),
            State::Pass(PassState {
                parameters: Some(failed_record(stage)),
                result_path: Some(Some(record)),
                transition: Transition::next(rejected.clone()),
                ..PassState::default()
            }),
        );
        states.insert(
            rejected,
            State::Fail(FailState {
                comment: Some(format!("stage {id} did not approve: stop the run")),
                error: Some(ErrorSource::Text("Approval.Rejected".to_owned())),
                cause: Some(ErrorSource::Path(
                    "States.JsonToString($.stages)".to_owned(),
                )),
            }),
        );
        if done_needed {
            states.insert(go_on, State::Succeed(SucceedState::default()));
            self.events += PASS_EVENTS;
        }
    }

    fn stage_task(
        &self,
        stage: &Stage,
        target: &StageTarget,
        attempt: Attempt<'_>,
        next: &str,
    ) -> State {
        let model = self.model;
        let id = stage.id.as_str();
        let timeout = attempt.timeout_seconds(stage);
        let rules = Payload::new()
            .with(
                "distinct_approvers",
                Field::Static(json!(model.rules.distinct_approvers)),
            )
            .with(
                "requester_cannot_approve",
                Field::Static(json!(model.rules.requester_cannot_approve)),
            );
        let input = Payload::new()
            .with_path(
                "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID",
                "$$.Execution.Id",
            )
            .with_path("run", "$.run")
            .with(
                "stage",
                Field::Object(
                    Payload::new()
                        .with_str("id", id)
                        .with_str("account", stage.account.name.as_str())
                        .with_str("account_id", stage.account.id.as_str())
                        .with_str("attempt", attempt.word()),
                ),
            )
            .with("rules", Field::Object(rules))
            .with_path("prior_approvers", "$.stages.*.approvers")
            .with(
                "approval",
                Field::Object(approval(model, stage, &attempt, timeout)),
            );
        let mut task = TaskState::new(
            "arn:aws:states:::states:startExecution.sync:2",
            Transition::next(next),
        );
        task.comment = Some(format!(
            "stage {id} ({}) in account {}",
            stage.binding.keyword(),
            stage.account.name.as_str()
        ));
        task.credentials = target.execute_role_arn.clone().map(Credentials::RoleArn);
        task.parameters = Some(
            Payload::new()
                .with_str("StateMachineArn", target.child_arn.clone())
                .with_intrinsic("Name", "States.UUID()")
                .with("Input", Field::Object(input)),
        );
        task.result_selector = Some(
            Payload::new()
                .with_path("stage", "$.Output.stage")
                .with_path("decision", "$.Output.decision")
                .with_path("approvers", "$.Output.approvers")
                .with_path("comment", "$.Output.comment")
                .with_path("decided_at", "$.Output.decided_at")
                .with_path("account", "$.Output.account")
                .with_path("rule", "$.Output.rule")
                .with_str("attempt", attempt.word())
                .with_path("execution_arn", "$.ExecutionArn"),
        );
        task.result_path = Some(Some(format!("$.stages.{}", stage_key(id))));
        task.timeout = Some(Timeout::Seconds(
            timeout + super::names::CALLBACK_GRACE_SECONDS + PARENT_GRACE_SECONDS,
        ));
        task.catch = vec![Catcher {
            error_equals: vec!["States.ALL".to_owned()],
            result_path: Some(Some("$.failure".to_owned())),
            next: format!("{id}_Failed"),
        }];
        State::Task(Box::new(task))
    }
}

#[derive(Clone, Copy)]
enum Attempt<'a> {
    Primary,
    Escalation(&'a model::Escalation),
}

impl Attempt<'_> {
    fn word(self) -> &'static str {
        match self {
            Attempt::Primary => "primary",
            Attempt::Escalation(_) => "escalation",
        }
    }

    fn timeout_seconds(self, stage: &Stage) -> u64 {
        match self {
            Attempt::Primary => stage.timeout.duration.as_secs(),
            Attempt::Escalation(e) => e.timeout.duration.as_secs(),
        }
    }
}

fn approved_rule(record: &str, next: &str) -> ChoiceRule {
    ChoiceRule {
        condition: Condition::test(
            format!("{record}.decision"),
            Comparison::StringEquals("approved".to_owned()),
        ),
        next: next.to_owned(),
    }
}

/// The kind-specific `approval` object of the child input (docs/token-handling.md).
fn approval(model: &Model, stage: &Stage, attempt: &Attempt<'_>, timeout: u64) -> Payload {
    let id = stage.id.as_str();
    match &stage.binding {
        Binding::Ssm(ssm) => {
            let approvers = match attempt {
                Attempt::Primary => &ssm.approvers,
                Attempt::Escalation(e) => &e.approvers,
            };
            let mut payload = Payload::new()
                .with_str(
                    "document",
                    ssm.document
                        .clone()
                        .unwrap_or_else(|| super::names::APPROVE_DOCUMENT.to_owned()),
                )
                .with(
                    "approvers",
                    Field::Static(Json::Array(
                        approvers
                            .iter()
                            .map(|p| Json::String(p.to_string()))
                            .collect(),
                    )),
                )
                .with(
                    "min_approvals",
                    Field::Static(json!(min_approvals(ssm, approvers.len()))),
                )
                .with("message", template_field(model, &ssm.message));
            if let Some(topic) = &ssm.notify {
                payload = payload.with_str("notification_arn", topic.to_string());
            }
            payload.with("timeout_seconds", Field::Static(json!(timeout)))
        }
        Binding::CodePipeline(cp) => {
            let pipeline = match &cp.pipeline {
                PipelineTarget::Dedicated { name } | PipelineTarget::Existing { name, .. } => name,
            };
            let custom_data = cp.custom_data.as_ref().map_or_else(
                || {
                    Field::Static(json!(format!(
                        "approvalc: approve stage {id} of workflow {}",
                        model.name.as_str()
                    )))
                },
                |t| template_field(model, t),
            );
            let link = cp.external_link.as_ref().map_or_else(
                || Field::Static(json!("none")),
                |t| template_field(model, t),
            );
            Payload::new()
                .with_str("pipeline", pipeline.clone())
                .with("timeout_seconds", Field::Static(json!(timeout)))
                .with("custom_data", custom_data)
                .with("external_link", link)
        }
        Binding::Action(action) => {
            let mut parameters = Payload::new();
            for (name, values) in &action.parameters {
                let literal: Option<Vec<Json>> = values
                    .iter()
                    .map(|t| t.as_literal().map(Json::String))
                    .collect();
                let field = match literal {
                    Some(list) => Field::Static(Json::Array(list)),
                    None => {
                        let args: Vec<String> =
                            values.iter().map(|t| template_arg(model, t)).collect();
                        Field::Dynamic(Expr::Intrinsic(format!(
                            "States.Array({})",
                            args.join(", ")
                        )))
                    }
                };
                parameters.insert(name.clone(), field);
            }
            Payload::new()
                .with_str("document", action.document.clone())
                .with("parameters", Field::Object(parameters))
                .with("timeout_seconds", Field::Static(json!(timeout)))
        }
    }
}

/// The escalation list may be shorter than `min_approvals`; ask for no more approvals than
/// there are approvers.
fn min_approvals(ssm: &model::SsmApproval, approvers: usize) -> u32 {
    let cap = u32::try_from(approvers.max(1)).unwrap_or(u32::MAX);
    ssm.min_approvals.min(cap).max(1)
}

fn stage_record(stage: &Stage, decision: &str) -> Json {
    json!({
        "stage": stage.id.as_str(),
        "decision": decision,
        "approvers": [],
        "comment": null,
        "decided_at": null,
        "account": stage.account.name.as_str(),
        "rule": null,
    })
}

/// The record of a stage whose child failed (or whose task timed out): rejected, with the
/// error name. Fail closed.
fn failed_record(stage: &Stage) -> Payload {
    Payload::new()
        .with_str("stage", stage.id.as_str())
        .with_str("decision", "rejected")
        .with("approvers", Field::Static(json!([])))
        .with("comment", Field::Static(Json::Null))
        .with_path("decided_at", "$$.State.EnteredTime")
        .with_str("account", stage.account.name.as_str())
        .with("rule", Field::Static(Json::Null))
        .with_path("error", "$.failure.Error")
}

fn outcome(model: &Model, decision: &str, stages: &str) -> State {
    State::Pass(PassState {
        parameters: Some(
            Payload::new()
                .with_str("decision", decision)
                .with_str("workflow", model.name.as_str())
                .with_path("run_id", "$.run.id")
                .with_path("requester", "$.run.requester")
                .with("stages", Field::Dynamic(Expr::parse(stages))),
        ),
        transition: Transition::End,
        ..PassState::default()
    })
}

/// Static data: input defaults and a `cancelled` record for every stage, so the run's
/// output lists every stage even when a rejection stopped some of them.
fn prepare(model: &Model) -> State {
    let defaults: serde_json::Map<String, Json> = model
        .input
        .iter()
        .filter_map(|f| f.default.as_ref().map(|d| (f.name.clone(), value_json(d))))
        .collect();
    let stages: serde_json::Map<String, Json> = model
        .stages
        .iter()
        .map(|s| (stage_key(s.id.as_str()), stage_record(s, "cancelled")))
        .collect();
    State::Pass(PassState {
        result: Some(json!({"defaults": defaults, "stages": stages})),
        result_path: Some(Some("$.static".to_owned())),
        transition: Transition::next("Init"),
        ..PassState::default()
    })
}

fn init(model: &Model, next: &str) -> State {
    State::Pass(PassState {
        parameters: Some(
            Payload::new()
                .with_intrinsic(
                    "input",
                    "States.JsonMerge($.static.defaults, $.input, false)",
                )
                .with(
                    "run",
                    Field::Object(
                        Payload::new()
                            .with_path("id", "$$.Execution.Name")
                            .with_str("workflow", model.name.as_str())
                            .with_path("requester", "$.requester"),
                    ),
                )
                .with_path("stages", "$.static.stages"),
        ),
        transition: Transition::next(next),
        ..PassState::default()
    })
}

/// The input contract as Choice rules, each leading to a Fail state with a clear cause.
/// `pattern` cannot be checked here (JSONPath has no regular expressions); the manifest
/// lists those fields for `approvalc start` and the engine.
fn validate_input(model: &Model) -> (State, Vec<(String, State)>) {
    let mut rules = Vec::new();
    let mut fails = Vec::new();
    let mut add = |condition: Condition, cause: String| {
        let name = format!("InputInvalid_{}", fails.len() + 1);
        rules.push(ChoiceRule {
            condition,
            next: name.clone(),
        });
        fails.push((
            name,
            State::Fail(FailState {
                comment: None,
                error: Some(ErrorSource::Text("Approval.InvalidInput".to_owned())),
                cause: Some(ErrorSource::Text(cause)),
            }),
        ));
    };
    let present = |path: &str| Condition::test(path, Comparison::IsPresent(true));
    add(
        Condition::negate(present("$.input")),
        "the run input must be an object {\"input\": {...}, \"requester\": \"<principal ARN>\"}"
            .to_owned(),
    );
    add(
        Condition::negate(present("$.requester")),
        "the run input has no `requester` (the principal ARN that starts the run)".to_owned(),
    );
    add(
        Condition::and(vec![
            present("$.requester"),
            Condition::negate(Condition::test("$.requester", Comparison::IsString(true))),
        ]),
        "`requester` must be a string (a principal ARN)".to_owned(),
    );
    for field in &model.input {
        let path = format!("$.input.{}", field.name);
        if field.required && field.default.is_none() {
            add(
                Condition::negate(present(&path)),
                format!("input.{} is required ({})", field.name, field.ty.as_str()),
            );
        }
        let type_test = match field.ty {
            InputType::String => Comparison::IsString(true),
            InputType::Number => Comparison::IsNumeric(true),
            InputType::Boolean => Comparison::IsBoolean(true),
        };
        add(
            Condition::and(vec![
                present(&path),
                Condition::negate(Condition::test(&path, type_test)),
            ]),
            format!("input.{} must be a {}", field.name, field.ty.as_str()),
        );
        if !field.allowed.is_empty() {
            let any = field
                .allowed
                .iter()
                .map(|v| equals(&path, v))
                .collect::<Vec<_>>();
            let listed: Vec<String> = field.allowed.iter().map(value_text).collect();
            add(
                Condition::and(vec![present(&path), Condition::negate(Condition::or(any))]),
                format!("input.{} must be one of {}", field.name, listed.join(", ")),
            );
        }
    }
    let choice = ChoiceState::new(rules, Some("Prepare".to_owned()));
    (State::Choice(choice), fails)
}

fn value_json(value: &model::Value) -> Json {
    match value {
        model::Value::String(s) => Json::String(s.clone()),
        model::Value::Number(n) => number_json(*n),
        model::Value::Boolean(b) => Json::Bool(*b),
    }
}

fn number_json(n: f64) -> Json {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        // Whole numbers print without a fraction, as users wrote them.
        #[allow(clippy::cast_possible_truncation)]
        return json!(n as i64);
    }
    serde_json::Number::from_f64(n).map_or(Json::Null, Json::Number)
}

fn number(n: f64) -> serde_json::Number {
    match number_json(n) {
        Json::Number(num) => num,
        _ => serde_json::Number::from(0),
    }
}

fn value_text(value: &model::Value) -> String {
    match value {
        model::Value::String(s) => format!("\"{s}\""),
        other => value_json(other).to_string(),
    }
}

/// `path == value`, typed by the value.
fn equals(path: &str, value: &model::Value) -> Condition {
    let test = match value {
        model::Value::String(s) => Comparison::StringEquals(s.clone()),
        model::Value::Number(n) => Comparison::NumericEquals(number(*n)),
        model::Value::Boolean(b) => Comparison::BooleanEquals(*b),
    };
    Condition::test(path, test)
}

/// A condition that is always `value` (Choice rules need a variable; the execution id is
/// always present).
fn constant(value: bool) -> Condition {
    let always = Condition::test("$$.Execution.Id", Comparison::IsPresent(true));
    if value {
        always
    } else {
        Condition::negate(always)
    }
}

fn operand_path(model: &Model, operand: &Operand) -> Option<String> {
    match operand {
        Operand::Input(name) => Some(format!("$.input.{name}")),
        Operand::StageDecision(index) => model
            .stage(*index)
            .map(|s| format!("$.stages.{}.decision", stage_key(s.id.as_str()))),
        Operand::Literal(_) => None,
    }
}

/// Compiles a checked `when` condition to a Choice condition. Reads of input fields are
/// guarded by `IsPresent`, because Step Functions fails a comparison on a missing
/// variable; a missing optional field compares unequal to everything.
pub fn condition(model: &Model, cond: &model::Condition) -> Condition {
    match cond {
        model::Condition::Operand(Operand::Literal(model::Value::Boolean(b))) => constant(*b),
        model::Condition::Operand(operand) => match operand_path(model, operand) {
            Some(path) => Condition::and(vec![
                Condition::test(&path, Comparison::IsPresent(true)),
                Condition::test(&path, Comparison::BooleanEquals(true)),
            ]),
            None => constant(false),
        },
        model::Condition::Not(inner) => Condition::negate(condition(model, inner)),
        model::Condition::And(a, b) => {
            Condition::and(vec![condition(model, a), condition(model, b)])
        }
        model::Condition::Or(a, b) => Condition::or(vec![condition(model, a), condition(model, b)]),
        model::Condition::Compare { op, lhs, rhs } => compare(model, *op, lhs, rhs),
        model::Condition::In { operand, values } => match operand_path(model, operand) {
            Some(path) => Condition::and(vec![
                Condition::test(&path, Comparison::IsPresent(true)),
                Condition::or(values.iter().map(|v| equals(&path, v)).collect()),
            ]),
            None => match operand {
                Operand::Literal(v) => constant(values.contains(v)),
                _ => constant(false),
            },
        },
    }
}

fn flip(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::Le => CmpOp::Ge,
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::Ge => CmpOp::Le,
        other => other,
    }
}

fn compare(model: &Model, op: CmpOp, lhs: &Operand, rhs: &Operand) -> Condition {
    let (lhs_path, rhs_path) = (operand_path(model, lhs), operand_path(model, rhs));
    let positive = |test: Comparison, path: &str, guards: Vec<&str>| {
        let mut all: Vec<Condition> = guards
            .into_iter()
            .map(|p| Condition::test(p, Comparison::IsPresent(true)))
            .collect();
        all.push(Condition::test(path, test));
        Condition::and(all)
    };
    match (lhs_path, rhs_path, lhs, rhs) {
        (Some(path), None, _, Operand::Literal(value)) => {
            literal_test(op, value, |t| positive(t, &path, vec![path.as_str()]))
        }
        (None, Some(path), Operand::Literal(value), _) => {
            literal_test(flip(op), value, |t| positive(t, &path, vec![path.as_str()]))
        }
        (Some(a), Some(b), _, _) => {
            let ty = operand_type(model, lhs);
            let (test, negate) = path_test(op, ty, b.clone());
            let cond = positive(test, &a, vec![a.as_str(), b.as_str()]);
            if negate {
                Condition::negate(cond)
            } else {
                cond
            }
        }
        (None, None, Operand::Literal(a), Operand::Literal(b)) => constant(eval_literals(op, a, b)),
        _ => constant(false),
    }
}

fn operand_type(model: &Model, operand: &Operand) -> InputType {
    match operand {
        Operand::Input(name) => model
            .input
            .iter()
            .find(|f| &f.name == name)
            .map_or(InputType::String, |f| f.ty),
        Operand::StageDecision(_) => InputType::String,
        Operand::Literal(v) => v.ty(),
    }
}

/// Comparison of a variable with a literal. `!=` is `Not(==)` (a missing field is unequal).
fn literal_test(
    op: CmpOp,
    value: &model::Value,
    wrap: impl Fn(Comparison) -> Condition,
) -> Condition {
    use model::Value as V;
    let test = match (op, value) {
        (CmpOp::Eq | CmpOp::Ne, V::String(s)) => Comparison::StringEquals(s.clone()),
        (CmpOp::Eq | CmpOp::Ne, V::Number(n)) => Comparison::NumericEquals(number(*n)),
        (CmpOp::Eq | CmpOp::Ne, V::Boolean(b)) => Comparison::BooleanEquals(*b),
        (CmpOp::Lt, V::Number(n)) => Comparison::NumericLessThan(number(*n)),
        (CmpOp::Le, V::Number(n)) => Comparison::NumericLessThanEquals(number(*n)),
        (CmpOp::Gt, V::Number(n)) => Comparison::NumericGreaterThan(number(*n)),
        (CmpOp::Ge, V::Number(n)) => Comparison::NumericGreaterThanEquals(number(*n)),
        (CmpOp::Lt, V::String(s)) => Comparison::StringLessThan(s.clone()),
        (CmpOp::Le, V::String(s)) => Comparison::StringLessThanEquals(s.clone()),
        (CmpOp::Gt, V::String(s)) => Comparison::StringGreaterThan(s.clone()),
        (CmpOp::Ge, V::String(s)) => Comparison::StringGreaterThanEquals(s.clone()),
        // The checks reject ordering booleans; never true.
        (_, V::Boolean(_)) => return constant(false),
    };
    let cond = wrap(test);
    if op == CmpOp::Ne {
        Condition::negate(cond)
    } else {
        cond
    }
}

fn path_test(op: CmpOp, ty: InputType, other: String) -> (Comparison, bool) {
    let test = match (ty, op) {
        (InputType::Number, CmpOp::Eq | CmpOp::Ne) => Comparison::NumericEqualsPath(other),
        (InputType::Number, CmpOp::Lt) => Comparison::NumericLessThanPath(other),
        (InputType::Number, CmpOp::Le) => Comparison::NumericLessThanEqualsPath(other),
        (InputType::Number, CmpOp::Gt) => Comparison::NumericGreaterThanPath(other),
        (InputType::Number, CmpOp::Ge) => Comparison::NumericGreaterThanEqualsPath(other),
        (InputType::Boolean, _) => Comparison::BooleanEqualsPath(other),
        (InputType::String, CmpOp::Lt) => Comparison::StringLessThanPath(other),
        (InputType::String, CmpOp::Le) => Comparison::StringLessThanEqualsPath(other),
        (InputType::String, CmpOp::Gt) => Comparison::StringGreaterThanPath(other),
        (InputType::String, CmpOp::Ge) => Comparison::StringGreaterThanEqualsPath(other),
        (InputType::String, CmpOp::Eq | CmpOp::Ne) => Comparison::StringEqualsPath(other),
    };
    (test, op == CmpOp::Ne)
}

fn eval_literals(op: CmpOp, a: &model::Value, b: &model::Value) -> bool {
    use model::Value as V;
    let ordering = match (a, b) {
        (V::String(x), V::String(y)) => x.partial_cmp(y),
        (V::Number(x), V::Number(y)) => x.partial_cmp(y),
        (V::Boolean(x), V::Boolean(y)) => x.partial_cmp(y),
        _ => None,
    };
    let Some(ord) = ordering else {
        return op == CmpOp::Ne;
    };
    match op {
        CmpOp::Eq => ord.is_eq(),
        CmpOp::Ne => ord.is_ne(),
        CmpOp::Lt => ord.is_lt(),
        CmpOp::Le => ord.is_le(),
        CmpOp::Gt => ord.is_gt(),
        CmpOp::Ge => ord.is_ge(),
    }
}

fn reference_path(model: &Model, reference: Reference) -> String {
    match reference {
        Reference::Input(index) => model
            .input
            .get(index)
            .map_or_else(|| "$.input".to_owned(), |f| format!("$.input.{}", f.name)),
        Reference::RunId => "$.run.id".to_owned(),
        Reference::StageDecision(index) => model.stage(index).map_or_else(
            || "$.run.id".to_owned(),
            |s| format!("$.stages.{}.decision", stage_key(s.id.as_str())),
        ),
    }
}

/// A template as a payload field: a static string, or `States.Format(…)`.
pub fn template_field(model: &Model, template: &Template) -> Field {
    match template.as_literal() {
        Some(text) => Field::Static(Json::String(text)),
        None => Field::Dynamic(Expr::Intrinsic(format_call(model, template))),
    }
}

/// A template as an intrinsic function argument.
fn template_arg(model: &Model, template: &Template) -> String {
    match template.as_literal() {
        Some(text) => quote_intrinsic_string(&text),
        None => format_call(model, template),
    }
}

fn format_call(model: &Model, template: &Template) -> String {
    let mut format = String::from("'");
    let mut args = Vec::new();
    for part in &template.parts {
        match part {
            TemplatePart::Text(text) => {
                let quoted = quote_intrinsic_string(text);
                format.push_str(quoted.get(1..quoted.len() - 1).unwrap_or_default());
            }
            TemplatePart::Ref(reference) => {
                format.push_str("{}");
                args.push(reference_path(model, *reference));
            }
        }
    }
    format.push('\'');
    format!("States.Format({format}, {})", args.join(", "))
}

/// Longest run: series add up, parallel branches take the longest; a stage waits its
/// timeout (and its escalation's) plus the grace periods.
fn worst_seconds(model: &Model, tree: &Sp) -> u64 {
    match tree {
        Sp::Leaf(i) => model.stages.get(*i).map_or(0, |stage| {
            let grace = super::names::CALLBACK_GRACE_SECONDS + PARENT_GRACE_SECONDS;
            let first = stage.timeout.duration.as_secs() + grace;
            match &stage.on_timeout {
                OnTimeout::Escalate(e) => first + e.timeout.duration.as_secs() + grace,
                OnTimeout::Reject => first,
            }
        }),
        Sp::Series(children) => children.iter().map(|c| worst_seconds(model, c)).sum(),
        Sp::Parallel(children) => children
            .iter()
            .map(|c| worst_seconds(model, c))
            .max()
            .unwrap_or(0),
    }
}
