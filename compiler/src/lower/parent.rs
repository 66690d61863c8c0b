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
//!
//! A parent too large for the quotas is split ([`super::split`]): a [`Node::Part`] becomes
//! `Part_N` (Task `startExecution.sync:2` of the part machine) → `Part_N_Decide` →
//! `Part_N_Merge`, or `Part_N_Rejected` (the same fail fast); [`build_part`] builds the part
//! machine itself. Without parts the output is what it always was.

use std::collections::HashMap;

use approvalc_asl::model::{
    Branch, Catcher, ChoiceRule, ChoiceState, Comparison, Condition, Credentials, ErrorSource,
    Expr, FailState, Field, ParallelState, PassState, Payload, State, StateMachine, SucceedState,
    TaskState, Timeout, Transition, quote_intrinsic_string,
};
use indexmap::IndexMap;
use serde_json::{Value as Json, json};

use super::names::{ArnBuilder, ChildKind, PARENT_GRACE_SECONDS, stage_key};
use super::sp::Sp;
use super::split::{PartPlan, Plan};
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
pub(super) const FIXED_EVENTS: u64 = 14;
/// Task state with `startExecution.sync:2`: Entered, Scheduled, Started, Submitted,
/// Succeeded, Exited.
const TASK_EVENTS: u64 = 6;
const CHOICE_EVENTS: u64 = 2;
const PASS_EVENTS: u64 = 2;
/// Parallel: Entered, Started, Succeeded, Exited.
const PARALLEL_EVENTS: u64 = 4;
/// A part machine's own fixed events: ExecutionStarted, Prepare (2), Init (2), Stages (4),
/// Rejected (2) and RejectedOutput (2) (the approved path has one Pass less),
/// ExecutionSucceeded.
pub(super) const PART_FIXED_EVENTS: u64 = 14;
/// Starting a part, in the enclosing machine: the task (6), `_Decide` (2), `_Merge` (2).
pub(super) const PART_TASK_EVENTS: u64 = TASK_EVENTS + CHOICE_EVENTS + PASS_EVENTS;
/// The enclosing machine's records with a part's exports merged in.
const PART_MERGE: &str = "States.JsonMerge($.stages, $.part.stages, false)";

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

/// Builds the parent machine over the decomposition `tree` of the stage graph, as one
/// machine (no parts).
pub fn build(model: &Model, tree: &Sp) -> Parent {
    let body = layout(model, tree);
    let seeds = Seeds::all_stages(model);
    build_parent(
        model,
        &body,
        &seeds,
        &Plan::default(),
        worst_seconds(model, tree),
    )
}

/// The records a machine's `Prepare` state starts with: a `cancelled` record for every
/// stage it runs itself (and every referenced stage its parts export), then a summary
/// record per part it starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seeds {
    /// Stage indices in model order.
    pub stages: Vec<usize>,
    /// Indices into [`Plan::parts`].
    pub parts: Vec<usize>,
}

impl Seeds {
    pub fn all_stages(model: &Model) -> Self {
        Self {
            stages: (0..model.stages.len()).collect(),
            parts: Vec::new(),
        }
    }
}

/// The parent machine over an already laid-out (and possibly split) body.
pub(super) fn build_parent(
    model: &Model,
    body: &[Node],
    seeds: &Seeds,
    plan: &Plan,
    worst_case_seconds: u64,
) -> Parent {
    let mut builder = Builder::new(model, plan, StageMode::Emit);
    parent_machine(&mut builder, body, seeds, worst_case_seconds)
}

/// [`build_parent`] with the stage states measured before taken from `cache`.
pub(super) fn build_parent_from(
    model: &Model,
    body: &[Node],
    seeds: &Seeds,
    plan: &Plan,
    worst_case_seconds: u64,
    cache: &mut StageCache,
) -> Parent {
    let mut builder = Builder::new(model, plan, StageMode::Reuse(cache));
    parent_machine(&mut builder, body, seeds, worst_case_seconds)
}

/// The compact JSON length of the definition [`build_parent`] would give (without the
/// final newline), from a skeleton and the stage lengths in `cache`.
pub(super) fn measure_parent(
    model: &Model,
    body: &[Node],
    seeds: &Seeds,
    plan: &Plan,
    cache: &mut StageCache,
) -> usize {
    let mut builder = Builder::new(model, plan, StageMode::Measure(cache));
    let skeleton = parent_machine(&mut builder, body, seeds, 0);
    compact_len(&skeleton.machine) + builder.measured
}

fn parent_machine(
    builder: &mut Builder<'_>,
    body: &[Node],
    seeds: &Seeds,
    worst_case_seconds: u64,
) -> Parent {
    let model = builder.model;
    let mut states = IndexMap::new();
    let (validate, fails) = validate_input(model);
    states.insert("ValidateInput".to_owned(), validate);
    states.extend(fails);
    states.insert("Prepare".to_owned(), builder.prepare(seeds, true));
    let after_init = if body.is_empty() {
        "Approved"
    } else {
        "Stages"
    };
    states.insert("Init".to_owned(), init(model, after_init));
    if !body.is_empty() {
        states.insert("Stages".to_owned(), builder.stages_state(body));
    }
    states.insert(
        "Approved".to_owned(),
        outcome(model, "approved", "$.stages"),
    );
    states.insert(
        "Rejected".to_owned(),
        outcome(model, "rejected", REJECTED_MERGE),
    );
    let mut machine = StateMachine::new("ValidateInput", states);
    machine.comment = Some(format!(
        "approvalc parent of workflow {} (generated; do not edit)",
        model.name.as_str()
    ));
    Parent {
        machine,
        worst_case_events: FIXED_EVENTS + sequence_events(model, body),
        worst_case_seconds,
    }
}

/// The stage records of the branch that failed, over the records before `Stages`.
const REJECTED_MERGE: &str =
    "States.JsonMerge($.stages, States.StringToJson($.rejection.Cause), false)";

/// A part machine (docs/compiler.md "Splitting"): it starts from the enclosing machine's
/// `{input, run, stages}` (only the records its stages read), runs its body like the
/// parent's `Stages`, and ends with `{decision, part, run_id, stages, exports}`: `stages`
/// are its own records (read them from the part execution's output), `exports` what the
/// enclosing machine merges (its summary record and the records other stages read).
pub(super) fn build_part(model: &Model, plan: &Plan, index: usize) -> Option<Parent> {
    part_machine(&mut Builder::new(model, plan, StageMode::Emit), index)
}

/// [`build_part`] with the stage states measured before taken from `cache`.
pub(super) fn build_part_from(
    model: &Model,
    plan: &Plan,
    index: usize,
    cache: &mut StageCache,
) -> Option<Parent> {
    part_machine(
        &mut Builder::new(model, plan, StageMode::Reuse(cache)),
        index,
    )
}

/// Like [`measure_parent`], for part `index`.
pub(super) fn measure_part(
    model: &Model,
    plan: &Plan,
    index: usize,
    cache: &mut StageCache,
) -> Option<usize> {
    let mut builder = Builder::new(model, plan, StageMode::Measure(cache));
    let skeleton = part_machine(&mut builder, index)?;
    Some(compact_len(&skeleton.machine) + builder.measured)
}

fn part_machine(builder: &mut Builder<'_>, index: usize) -> Option<Parent> {
    let (model, plan) = (builder.model, builder.plan);
    let part = plan.parts.get(index)?;
    let mut states = IndexMap::new();
    states.insert("Prepare".to_owned(), builder.prepare(&part.seeds, false));
    states.insert(
        "Init".to_owned(),
        State::Pass(PassState {
            parameters: Some(
                Payload::new()
                    .with_path("input", "$.input")
                    .with_path("run", "$.run")
                    .with_intrinsic(
                        "stages",
                        "States.JsonMerge($.static.stages, $.stages, false)",
                    ),
            ),
            transition: Transition::next("Stages"),
            ..PassState::default()
        }),
    );
    states.insert("Stages".to_owned(), builder.stages_state(&part.body));
    states.insert("Approved".to_owned(), part_outcome(model, part, "approved"));
    states.insert(
        "Rejected".to_owned(),
        State::Pass(PassState {
            parameters: Some(
                Payload::new()
                    .with_path("input", "$.input")
                    .with_path("run", "$.run")
                    .with_intrinsic("stages", REJECTED_MERGE),
            ),
            transition: Transition::next("RejectedOutput"),
            ..PassState::default()
        }),
    );
    states.insert(
        "RejectedOutput".to_owned(),
        part_outcome(model, part, "rejected"),
    );
    let mut machine = StateMachine::new("Prepare", states);
    machine.comment = Some(format!(
        "approvalc part {} of workflow {} (generated; do not edit)",
        part.number,
        model.name.as_str()
    ));
    Some(Parent {
        machine,
        worst_case_events: PART_FIXED_EVENTS + sequence_events(model, &part.body),
        worst_case_seconds: part.worst_seconds,
    })
}

/// A part's output: its records, and the exports the enclosing machine merges.
fn part_outcome(model: &Model, part: &PartPlan, decision: &str) -> State {
    let mut exports = Payload::new();
    for &index in &part.exports {
        if let Some(stage) = model.stages.get(index) {
            let key = stage_key(stage.id.as_str());
            exports.insert(
                key.clone(),
                Field::Dynamic(Expr::Path(format!("$.stages.{key}"))),
            );
        }
    }
    exports.insert(
        part.key(),
        Field::Object(
            Payload::new()
                .with_str("part", part.name.clone())
                .with_str("decision", decision)
                .with("approvers", Field::Static(json!([])))
                .with_path("execution_arn", "$$.Execution.Id"),
        ),
    );
    State::Pass(PassState {
        parameters: Some(
            Payload::new()
                .with_str("decision", decision)
                .with_str("workflow", model.name.as_str())
                .with_str("part", part.name.clone())
                .with_path("run_id", "$.run.id")
                .with_path("stages", "$.stages")
                .with("exports", Field::Object(exports)),
        ),
        transition: Transition::End,
        ..PassState::default()
    })
}

/// Lays the decomposition out as the sequence the machine runs: `Parallel`s of at most
/// [`MAX_BRANCHES`] branches, named `Parallel_<n>` in creation order.
pub(super) fn layout(model: &Model, tree: &Sp) -> Vec<Node> {
    let plan = Plan::default();
    let mut builder = Builder::new(model, &plan, StageMode::Emit);
    builder.sequence(tree)
}

/// History events of a body sequence (see [`FIXED_EVENTS`]): per stage its `when`, task,
/// decision and escalation, a `_Done` state when it ends a branch; 4 per `Parallel`;
/// [`PART_TASK_EVENTS`] per part it starts (the part's own events are in its own history).
pub(super) fn sequence_events(model: &Model, nodes: &[Node]) -> u64 {
    let done = match nodes.last() {
        Some(Node::Stage(_)) => PASS_EVENTS,
        _ => 0,
    };
    nodes.iter().map(|n| node_events(model, n)).sum::<u64>() + done
}

/// Branch `k` of a `Parallel`: branches after the first end with an `_Out` Pass instead
/// of a stage's `_Done`.
fn branch_events(model: &Model, k: usize, branch: &[Node]) -> u64 {
    if k == 0 {
        return sequence_events(model, branch);
    }
    branch.iter().map(|n| node_events(model, n)).sum::<u64>() + PASS_EVENTS
}

fn node_events(model: &Model, node: &Node) -> u64 {
    match node {
        Node::Stage(i) => model.stages.get(*i).map_or(0, stage_events),
        Node::Parallel { branches, .. } => {
            PARALLEL_EVENTS
                + branches
                    .iter()
                    .enumerate()
                    .map(|(k, b)| branch_events(model, k, b))
                    .sum::<u64>()
        }
        Node::Part(_) => PART_TASK_EVENTS,
    }
}

/// A stage's events without its `_Done` state.
pub(super) fn stage_events(stage: &Stage) -> u64 {
    let when = if stage.when.is_some() {
        CHOICE_EVENTS
    } else {
        0
    };
    let escalation = match stage.on_timeout {
        OnTimeout::Escalate(_) => TASK_EVENTS + CHOICE_EVENTS,
        OnTimeout::Reject => 0,
    };
    when + TASK_EVENTS + CHOICE_EVENTS + escalation
}

/// Compact JSON size of a stage's states as the last state of a branch (with `_Done`) and
/// of its `cancelled` record in `Prepare`: what splitting weighs a stage by.
pub(super) fn stage_bytes(model: &Model, index: usize, cache: &mut StageCache) -> usize {
    let seed = model.stages.get(index).map_or(0, |stage| {
        let key = stage_key(stage.id.as_str()).len();
        // `"key":{record},` in the machine's `Prepare`, and `"key.$":"$.stages.key",` in
        // the `_Out` state when the stage is in a branch after the first.
        key + 4 + compact_len(&stage_record(stage, "cancelled")) + 2 * key + 17
    });
    cache.entry(model, index).end_len + seed
}

/// A node of the emitted sequence: a stage, a `Parallel` of sequences, or a part machine
/// started with `startExecution.sync:2`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Stage(usize),
    Parallel {
        name: String,
        branches: Vec<Vec<Node>>,
    },
    /// An index into [`Plan::parts`].
    Part(usize),
}

struct Builder<'m> {
    model: &'m Model,
    plan: &'m Plan,
    parallel_count: usize,
    /// What [`Builder::emit_stage`] does with a stage's states.
    stages: StageMode<'m>,
    /// In [`StageMode::Measure`], the compact JSON bytes of the stage states left out.
    measured: usize,
}

/// How a [`Builder`] treats stages: build them, or measure them and leave them out (the
/// machine is then a skeleton whose length plus [`Builder::measured`] is the length of the
/// real one), or take the states measured earlier from the cache.
enum StageMode<'m> {
    Emit,
    Measure(&'m mut StageCache),
    Reuse(&'m mut StageCache),
}

/// Stage states built ahead of the machine that holds them (for the stage weights, as the
/// last states of a branch), with the length of their compact JSON (`{"name":{…},…}`) and
/// what changes with the state they go on to: planning a split measures every candidate
/// plan from these lengths instead of building and serialising whole machines, and the
/// final build takes the states from here, retargeted ([`retarget`]).
#[derive(Debug, Default)]
pub(super) struct StageCache {
    stages: HashMap<usize, CachedStage>,
}

#[derive(Debug)]
struct CachedStage {
    /// `None` once a build took them.
    states: Option<IndexMap<String, State>>,
    /// Length when the stage ends its branch (with `_Done`).
    end_len: usize,
    /// Whether it has a `_Skip` state (whose transition is the next state).
    skip: bool,
    /// How many choice rules go on to the next state (`_Decide`, `_EscalationDecide`).
    go_on: usize,
    /// Its `"key":{cancelled record}` entry in a `Prepare` state.
    record_len: usize,
}

impl StageCache {
    fn entry(&mut self, model: &Model, index: usize) -> &mut CachedStage {
        self.stages.entry(index).or_insert_with(|| {
            let states = stage_states(model, index, Transition::End);
            let id = model.stages.get(index).map_or("", |s| s.id.as_str());
            let choice = |name: String| matches!(states.get(&name), Some(State::Choice(_)));
            let record_len = model.stages.get(index).map_or(0, |stage| {
                compact_len(&stage_key(stage.id.as_str()))
                    + 1
                    + compact_len(&stage_record(stage, "cancelled"))
            });
            CachedStage {
                record_len,
                end_len: compact_len(&states),
                skip: states.contains_key(&format!("{id}_Skip")),
                go_on: usize::from(choice(format!("{id}_Decide")))
                    + usize::from(choice(format!("{id}_EscalationDecide"))),
                states: Some(states),
            }
        })
    }

    /// The compact JSON length of stage `index`'s states ending with `next`: the states
    /// [`retarget`] gives differ from the branch-ending ones by the `_Done` entry, the
    /// next state's name in place of `_Done` in `go_on` rules, and the `_Skip` transition.
    fn len(&mut self, model: &Model, index: usize, next: &Transition) -> usize {
        let cached = self.entry(model, index);
        let Transition::Next(name) = next else {
            return cached.end_len;
        };
        let (end_len, skip, go_on) = (cached.end_len, usize::from(cached.skip), cached.go_on);
        let id = model.stages.get(index).map_or("", |s| s.id.as_str());
        let done = format!("{id}_Done");
        // `,"<id>_Done":{"Type":"Succeed"}`
        let done_entry =
            1 + compact_len(&done) + 1 + compact_len(&State::Succeed(SucceedState::default()));
        let pass = |transition: Transition| {
            compact_len(&State::Pass(PassState {
                transition,
                ..PassState::default()
            }))
        };
        let gained = go_on * compact_len(name) + skip * pass(next.clone());
        let lost = done_entry + go_on * compact_len(&done) + skip * pass(Transition::End);
        (end_len + gained).saturating_sub(lost)
    }

    /// The states of stage `index` ending with `next`, once.
    fn take(
        &mut self,
        model: &Model,
        index: usize,
        next: &Transition,
    ) -> Option<IndexMap<String, State>> {
        let mut states = self.stages.get_mut(&index)?.states.take()?;
        let id = model.stages.get(index).map_or("", |s| s.id.as_str());
        retarget(&mut states, id, next);
        Some(states)
    }
}

/// Makes a stage's states (from [`Builder::emit_stage_states`]) end with `next` instead:
/// the `_Skip` state's transition, the approved rule of `_Decide` and
/// `_EscalationDecide` (`next`, or `_Done` when the stage ends the branch), and the
/// `_Done` state itself, which only a stage that ends its branch has (inserted last).
fn retarget(states: &mut IndexMap<String, State>, id: &str, next: &Transition) {
    let done = format!("{id}_Done");
    let go_on = match next {
        Transition::Next(name) => name.clone(),
        Transition::End => done.clone(),
    };
    if let Some(State::Pass(skip)) = states.get_mut(&format!("{id}_Skip")) {
        skip.transition = next.clone();
    }
    for decide in [format!("{id}_Decide"), format!("{id}_EscalationDecide")] {
        if let Some(State::Choice(choice)) = states.get_mut(&decide)
            && let Some(approved) = choice.choices.first_mut()
        {
            approved.next.clone_from(&go_on);
        }
    }
    match next {
        Transition::End => {
            if !states.contains_key(&done) {
                states.insert(done, State::Succeed(SucceedState::default()));
            }
        }
        Transition::Next(_) => {
            states.shift_remove(&done);
        }
    }
}

/// A stage's states on their own, ending with `next`.
fn stage_states(model: &Model, index: usize, next: Transition) -> IndexMap<String, State> {
    let plan = Plan::default();
    let mut builder = Builder::new(model, &plan, StageMode::Emit);
    let mut states = IndexMap::new();
    builder.emit_stage(index, next, &mut states);
    states
}

/// Bytes of `value` as compact JSON, counted without keeping the text.
pub(super) fn compact_len<T: serde::Serialize>(value: &T) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    match serde_json::to_writer(&mut count, value) {
        Ok(()) => count.0,
        Err(_) => 0,
    }
}

impl<'m> Builder<'m> {
    fn new(model: &'m Model, plan: &'m Plan, stages: StageMode<'m>) -> Self {
        Builder {
            model,
            plan,
            parallel_count: 0,
            stages,
            measured: 0,
        }
    }

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
        Node::Parallel {
            name: format!("Parallel_{}", self.parallel_count),
            branches,
        }
    }

    /// The top-level `Parallel` holding the body: the one place `Approval.Rejected` is
    /// caught.
    fn stages_state(&mut self, body: &[Node]) -> State {
        let mut branch_states = IndexMap::new();
        let entry = body.first().map(|n| self.entry(n)).unwrap_or_default();
        self.emit_sequence(body, Transition::End, &mut branch_states);
        self.measured_empty(body, &branch_states);
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
        State::Parallel(Box::new(stages))
    }

    fn entry(&self, node: &Node) -> String {
        match node {
            Node::Stage(i) => match self.model.stages.get(*i) {
                Some(stage) if stage.when.is_some() => format!("{}_When", stage.id.as_str()),
                Some(stage) => stage.id.as_str().to_owned(),
                None => String::new(),
            },
            Node::Parallel { name, .. } => name.clone(),
            Node::Part(index) => self
                .plan
                .parts
                .get(*index)
                .map(PartPlan::key)
                .unwrap_or_default(),
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
                    let parallel = self.emit_parallel(name, branches, next);
                    states.insert(name.clone(), parallel);
                }
                Node::Part(index) => self.emit_part(*index, next, states),
            }
        }
    }

    /// A `Parallel` whose result merges the branches' records. Every branch starts from the
    /// same records, which hold a `cancelled` placeholder for every stage not run yet, so a
    /// later branch's placeholders would overwrite an earlier branch's real records: the
    /// first branch returns all its records, every other branch ends with `<name>_Out<i>`,
    /// which keeps only the records of its own stages (all present when it succeeds).
    fn emit_parallel(&mut self, name: &str, branches: &[Vec<Node>], next: Transition) -> State {
        let mut asl_branches = Vec::new();
        for (k, branch) in branches.iter().enumerate() {
            let mut states = IndexMap::new();
            let entry = branch.first().map(|n| self.entry(n)).unwrap_or_default();
            if k == 0 {
                self.emit_sequence(branch, Transition::End, &mut states);
                self.measured_empty(branch, &states);
            } else {
                let out = format!("{name}_Out{k}");
                self.emit_sequence(branch, Transition::Next(out.clone()), &mut states);
                states.insert(out, self.branch_out(branch));
            }
            asl_branches.push(Branch::new(entry, states));
        }
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

    /// The last state of a branch after the first: its own records only.
    fn branch_out(&self, branch: &[Node]) -> State {
        let mut own = Payload::new();
        for key in self.own_keys(branch) {
            own.insert(
                key.clone(),
                Field::Dynamic(Expr::Path(format!("$.stages.{key}"))),
            );
        }
        State::Pass(PassState {
            parameters: Some(
                Payload::new()
                    .with_path("input", "$.input")
                    .with_path("run", "$.run")
                    .with("stages", Field::Object(own)),
            ),
            transition: Transition::End,
            ..PassState::default()
        })
    }

    /// The record keys a sequence writes: its stages', and per part it starts the part's
    /// summary and exports.
    fn own_keys(&self, nodes: &[Node]) -> Vec<String> {
        let mut keys = Vec::new();
        for node in nodes {
            match node {
                Node::Stage(i) => {
                    if let Some(stage) = self.model.stages.get(*i) {
                        keys.push(stage_key(stage.id.as_str()));
                    }
                }
                Node::Parallel { branches, .. } => {
                    for branch in branches {
                        keys.extend(self.own_keys(branch));
                    }
                }
                Node::Part(index) => {
                    if let Some(part) = self.plan.parts.get(*index) {
                        keys.extend(
                            part.exports
                                .iter()
                                .filter_map(|&e| self.model.stages.get(e))
                                .map(|s| stage_key(s.id.as_str())),
                        );
                        keys.push(part.key());
                    }
                }
            }
        }
        keys
    }

    /// Starts a part machine and waits for it (`startExecution.sync:2`): `Part_<n>` →
    /// `Part_<n>_Decide` → `Part_<n>_Merge` (its exports into `$.stages`), or
    /// `Part_<n>_Rejected` (fail fast, like a stage's); a part that fails or times out is
    /// recorded as rejected with the error (fail closed).
    fn emit_part(&mut self, index: usize, next: Transition, states: &mut IndexMap<String, State>) {
        let Some(part) = self.plan.parts.get(index) else {
            return;
        };
        let key = part.key();
        let (decide, merge, failed, rejected) = (
            format!("{key}_Decide"),
            format!("{key}_Merge"),
            format!("{key}_Failed"),
            format!("{key}_Rejected"),
        );
        let mut wanted = Payload::new();
        for &i in &part.ext_refs {
            if let Some(stage) = self.model.stages.get(i) {
                let stage_key = stage_key(stage.id.as_str());
                wanted.insert(
                    stage_key.clone(),
                    Field::Dynamic(Expr::Path(format!("$.stages.{stage_key}"))),
                );
            }
        }
        let input = Payload::new()
            .with_path(
                "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID",
                "$$.Execution.Id",
            )
            .with_path("input", "$.input")
            .with_path("run", "$.run")
            .with("stages", Field::Object(wanted));
        let mut task = TaskState::new(
            "arn:aws:states:::states:startExecution.sync:2",
            Transition::next(decide.clone()),
        );
        task.comment = Some(format!(
            "part {} of the stage graph ({} stages), split off for the quotas",
            part.number, part.scope_len
        ));
        task.parameters = Some(
            Payload::new()
                .with_str("StateMachineArn", part.arn.clone())
                // One execution of each part per run: the run id is a unique name.
                .with_path("Name", "$.run.id")
                .with("Input", Field::Object(input)),
        );
        task.result_selector = Some(
            Payload::new()
                .with_path("decision", "$.Output.decision")
                .with_path("stages", "$.Output.exports"),
        );
        task.result_path = Some(Some("$.part".to_owned()));
        task.timeout = Some(Timeout::Seconds(part.worst_seconds + PARENT_GRACE_SECONDS));
        task.catch = vec![Catcher {
            error_equals: vec!["States.ALL".to_owned()],
            result_path: Some(Some("$.failure".to_owned())),
            next: failed.clone(),
        }];
        states.insert(key.clone(), State::Task(Box::new(task)));
        states.insert(
            decide,
            State::Choice(ChoiceState::new(
                vec![approved_rule("$.part", &merge)],
                Some(rejected.clone()),
            )),
        );
        states.insert(
            merge,
            State::Pass(PassState {
                parameters: Some(
                    Payload::new()
                        .with_path("input", "$.input")
                        .with_path("run", "$.run")
                        .with_intrinsic("stages", PART_MERGE),
                ),
                transition: next,
                ..PassState::default()
            }),
        );
        states.insert(
            failed,
            State::Pass(PassState {
                parameters: Some(
                    Payload::new().with_str("decision", "rejected").with(
                        "stages",
                        Field::Object(
                            Payload::new().with(
                                key.clone(),
                                Field::Object(
                                    Payload::new()
                                        .with_str("part", part.name.clone())
                                        .with_str("decision", "rejected")
                                        .with("approvers", Field::Static(json!([])))
                                        .with("execution_arn", Field::Static(Json::Null))
                                        .with_path("error", "$.failure.Error"),
                                ),
                            ),
                        ),
                    ),
                ),
                result_path: Some(Some("$.part".to_owned())),
                transition: Transition::next(rejected.clone()),
                ..PassState::default()
            }),
        );
        states.insert(
            rejected,
            State::Fail(FailState {
                comment: Some(format!(
                    "part {} did not approve: stop the run",
                    part.number
                )),
                error: Some(ErrorSource::Text("Approval.Rejected".to_owned())),
                cause: Some(ErrorSource::Path(format!(
                    "States.JsonToString({PART_MERGE})"
                ))),
            }),
        );
    }

    fn emit_stage(&mut self, index: usize, next: Transition, states: &mut IndexMap<String, State>) {
        let reused = match &mut self.stages {
            StageMode::Emit => None,
            StageMode::Measure(cache) => {
                // `{…}` of the stage's own states, less one brace, plus the comma before.
                let len = cache.len(self.model, index, &next);
                self.measured += len.saturating_sub(1);
                return;
            }
            StageMode::Reuse(cache) => cache.take(self.model, index, &next),
        };
        match reused {
            Some(own) => states.extend(own),
            None => self.emit_stage_states(index, next, states),
        }
    }

    /// The `Prepare` state; when measuring, without the stage records, whose lengths
    /// (and commas) go to [`Builder::measured`].
    fn prepare(&mut self, seeds: &Seeds, with_defaults: bool) -> State {
        let StageMode::Measure(cache) = &mut self.stages else {
            return prepare(self.model, seeds, self.plan, with_defaults);
        };
        let mut records = 0;
        for &index in &seeds.stages {
            if self.model.stages.get(index).is_some() {
                records += cache.entry(self.model, index).record_len + 1;
            }
        }
        // Without parts, the records are the map's only entries: one comma fewer.
        if seeds.parts.is_empty() {
            records = records.saturating_sub(1);
        }
        self.measured += records;
        let parts_only = Seeds {
            stages: Vec::new(),
            parts: seeds.parts.clone(),
        };
        prepare(self.model, &parts_only, self.plan, with_defaults)
    }

    /// A map whose every entry was measured, not built, is `{}` in the skeleton: its
    /// entries need one comma fewer than [`Builder::emit_stage`] counted.
    fn measured_empty(&mut self, nodes: &[Node], states: &IndexMap<String, State>) {
        if matches!(self.stages, StageMode::Measure(_)) && states.is_empty() && !nodes.is_empty() {
            self.measured = self.measured.saturating_sub(1);
        }
    }

    fn emit_stage_states(
        &mut self,
        index: usize,
        next: Transition,
        states: &mut IndexMap<String, State>,
    ) {
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
fn prepare(model: &Model, seeds: &Seeds, plan: &Plan, with_defaults: bool) -> State {
    let mut stages: serde_json::Map<String, Json> = seeds
        .stages
        .iter()
        .filter_map(|&i| model.stages.get(i))
        .map(|s| (stage_key(s.id.as_str()), stage_record(s, "cancelled")))
        .collect();
    for part in seeds.parts.iter().filter_map(|&i| plan.parts.get(i)) {
        stages.insert(
            part.key(),
            json!({"part": part.name, "decision": "cancelled", "approvers": [], "execution_arn": null}),
        );
    }
    let result = if with_defaults {
        let defaults: serde_json::Map<String, Json> = model
            .input
            .iter()
            .filter_map(|f| f.default.as_ref().map(|d| (f.name.clone(), value_json(d))))
            .collect();
        json!({"defaults": defaults, "stages": stages})
    } else {
        json!({"stages": stages})
    };
    State::Pass(PassState {
        result: Some(result),
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
        Sp::Leaf(i) => model.stages.get(*i).map_or(0, stage_seconds),
        Sp::Series(children) => children.iter().map(|c| worst_seconds(model, c)).sum(),
        Sp::Parallel(children) => children
            .iter()
            .map(|c| worst_seconds(model, c))
            .max()
            .unwrap_or(0),
    }
}

/// Longest time one stage can take: its timeout (and its escalation's) plus the grace
/// periods.
pub(super) fn stage_seconds(stage: &Stage) -> u64 {
    let grace = super::names::CALLBACK_GRACE_SECONDS + PARENT_GRACE_SECONDS;
    let first = stage.timeout.duration.as_secs() + grace;
    match &stage.on_timeout {
        OnTimeout::Escalate(e) => first + e.timeout.duration.as_secs() + grace,
        OnTimeout::Reject => first,
    }
}

#[cfg(test)]
mod tests {
    use super::{Transition, retarget, stage_states};

    /// Every state a stage can have: `when` (`_When`, `_Skip`), escalation
    /// (`_Escalate`, `_EscalationDecide`), another account, a CodePipeline binding.
    const WORKFLOW: &str = "apiVersion: approvalc/v1\nname: retarget\nregion: ap-northeast-1\nhome: ops\naccounts:\n  ops: { id: \"111111111111\" }\n  prod: { id: \"222222222222\" }\ninput:\n  risk: { type: string, enum: [low, high] }\nstages:\n  a-1:\n    on_timeout: escalate\n    escalate: { approvers: [bob] }\n    ssm: { approvers: [alice] }\n  b:\n    when: input.risk == \"high\"\n    account: prod\n    on_timeout: escalate\n    escalate: { approvers: [bob] }\n    ssm: { approvers: [carol], message: \"say \\\"ok\\\"\" }\n  c:\n    needs: [a-1]\n    when: input.risk == \"low\"\n    codepipeline: { approvers: [dave] }\n";

    #[test]
    fn retargeted_states_are_the_states_built_for_that_next_state() {
        let checked = crate::check(WORKFLOW);
        let model = checked
            .model
            .unwrap_or_else(|| panic!("{:#?}", checked.diagnostics));
        let json = |states: &indexmap::IndexMap<String, approvalc_asl::model::State>| {
            serde_json::to_string(states).unwrap_or_default()
        };
        let nexts = [
            Transition::next("x"),
            Transition::End,
            Transition::next("Parallel_12"),
            Transition::next("c_When"),
            Transition::End,
        ];
        for index in 0..model.stages.len() {
            let id = model.stages[index].id.as_str();
            let mut states = stage_states(&model, index, Transition::End);
            for next in &nexts {
                retarget(&mut states, id, next);
                let built = stage_states(&model, index, next.clone());
                assert_eq!(json(&states), json(&built), "{id} -> {next:?}");
            }
        }
    }
}
