//! One execution of a [`Machine`]: a pure state machine over simulated time.
//!
//! An execution is a set of *threads* (the top level, each Parallel branch, each Map
//! iteration), each in a [`Phase`]: about to enter a state, about to attempt a Task /
//! Parallel / Map, sleeping until an instant (Wait, retry back-off), waiting for a callback
//! token, waiting for child threads, or done. Inputs are events — "run what is runnable"
//! ([`Execution::run`]), "time is now T" ([`Execution::advance_clock`]), "this token
//! succeeded/failed/sent a heartbeat" — and the outputs are the history, the set of open
//! tokens and the next timer ([`Progress`]). Nothing reads the wall clock; a 7-day Wait is
//! one timer that the driver jumps to.
//!
//! Threads run one at a time, in a fixed order (each runnable thread until it blocks), so
//! every run of the same definition, input, handler and seed produces the same history.
//! Parallel branches and Map iterations therefore run in index order; `MaxConcurrency`
//! changes nothing but is validated, as AWS does.

use std::collections::VecDeque;
use std::sync::Arc;

use approvalc_asl::eval::{IntrinsicEnv, Roots, Variables};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::clock::{Millis, format_timestamp, parse_timestamp};
use crate::dataflow::{Path, Template};
use crate::definition::{
    FailField, GraphId, Kind, Machine, MapSpec, Retrier, Seconds, State, StateId, TaskSpec,
    Tolerance, Transition, WaitSpec,
};
use crate::error::{EngineError, Failure, names};
use crate::history::{EventKind, HistoryEvent, StateRef};
use crate::task::{TaskHandler, TaskOutcome, TaskRequest};

/// Who and when: the identity of an execution and where its simulated time starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionConfig {
    pub state_machine_name: String,
    pub execution_name: String,
    pub account: String,
    pub region: String,
    pub role_arn: String,
    /// Simulated start time, ms since the epoch (the caller decides; the engine never
    /// reads the wall clock).
    pub start_time_ms: Millis,
    /// Seed for `States.UUID`, `States.MathRandom`, retry jitter and task tokens.
    pub seed: u64,
    /// Keep the history (on by default; off makes long simulations leaner).
    pub record_history: bool,
    /// EXPRESS executions have `express:` ARNs and no `RedriveCount` in `$$.Execution`.
    pub express: bool,
    /// AWS fails an execution whose history would exceed 25,000 events; the same guard
    /// stops a runaway loop here.
    pub max_events: u64,
}

impl Default for ExecutionConfig {
    fn default() -> Self {
        Self {
            state_machine_name: "StateMachine".into(),
            execution_name: "execution".into(),
            account: "123456789012".into(),
            region: "us-east-1".into(),
            role_arn: "arn:aws:iam::123456789012:role/StepFunctionsRole".into(),
            // 2024-01-01T00:00:00Z
            start_time_ms: 1_704_067_200_000,
            seed: 0,
            record_history: true,
            express: false,
            max_events: 25_000,
        }
    }
}

impl ExecutionConfig {
    pub fn state_machine_arn(&self) -> String {
        format!(
            "arn:aws:states:{}:{}:stateMachine:{}",
            self.region, self.account, self.state_machine_name
        )
    }

    pub fn execution_arn(&self) -> String {
        if self.express {
            // Express ARNs carry a third part AWS generates; derive it from the seed.
            return format!(
                "arn:aws:states:{}:{}:express:{}:{}:{:032x}",
                self.region, self.account, self.state_machine_name, self.execution_name, self.seed
            );
        }
        format!(
            "arn:aws:states:{}:{}:execution:{}:{}",
            self.region, self.account, self.state_machine_name, self.execution_name
        )
    }
}

/// Where an execution stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Status {
    Running,
    Succeeded {
        output: Value,
    },
    Failed {
        error: String,
        cause: Option<String>,
    },
    TimedOut {
        error: String,
        cause: Option<String>,
    },
    Aborted,
}

impl Status {
    /// AWS's name for it: `RUNNING`, `SUCCEEDED`, `FAILED`, `TIMED_OUT`, `ABORTED`.
    pub fn name(&self) -> &'static str {
        match self {
            Status::Running => "RUNNING",
            Status::Succeeded { .. } => "SUCCEEDED",
            Status::Failed { .. } => "FAILED",
            Status::TimedOut { .. } => "TIMED_OUT",
            Status::Aborted => "ABORTED",
        }
    }

    pub fn is_finished(&self) -> bool {
        !matches!(self, Status::Running)
    }
}

/// What the driver needs to know after feeding an event.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    Finished,
    /// Nothing can run until a callback arrives for one of `tokens` or the clock reaches
    /// `next_timer_ms`.
    Waiting {
        tokens: Vec<String>,
        next_timer_ms: Option<Millis>,
    },
}

type ThreadId = usize;

/// The serialisable state of an execution: persist it, and resume with
/// [`Execution::restore`] and the same definition.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    config: ExecutionConfig,
    input: Value,
    now: Millis,
    status: Status,
    threads: Vec<Thread>,
    ready: VecDeque<ThreadId>,
    history: Vec<HistoryEvent>,
    next_event_id: u64,
    rng: u64,
    tokens_issued: u64,
    deadline: Option<Millis>,
    transitions: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Thread {
    graph: GraphId,
    parent: Option<ThreadId>,
    /// Branch or item index within the parent.
    index: usize,
    last_event: u64,
    phase: Phase,
    /// Variables this thread assigned (`Assign`). A branch or iteration also reads its
    /// ancestors' variables, and its own vanish with it.
    #[serde(default)]
    vars: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Phase {
    Enter {
        state: StateId,
        input: Value,
    },
    Attempt(Frame),
    Sleep {
        frame: Frame,
        until: Millis,
        wake: Wake,
    },
    Callback {
        frame: Frame,
        token: String,
        resource: String,
        timeout_at: Option<Millis>,
        heartbeat_at: Option<Millis>,
        heartbeat_ms: Option<Millis>,
    },
    Children {
        frame: Frame,
        children: Vec<ThreadId>,
        pending: usize,
        failures: usize,
        tolerated: Option<usize>,
    },
    Done(End),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Wake {
    /// A Wait state's time is up: exit with this output.
    Exit { output: Value },
    /// A retry back-off is over: attempt again.
    Retry,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
enum End {
    Succeeded(Value),
    Failed(Failure),
    Aborted,
}

/// A state in progress (Task, Parallel, Map, Wait): what it was entered with and how often
/// it has been retried.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Frame {
    state: StateId,
    /// The raw state input (before `InputPath`): `ResultPath` and `Catch` insert into it.
    input: Value,
    /// After `InputPath`.
    effective: Value,
    entered_at: Millis,
    entered_event: u64,
    retry_counts: Vec<u32>,
    retry_total: u32,
}

/// A running (or finished) execution of a machine.
#[derive(Debug)]
pub struct Execution {
    machine: Arc<Machine>,
    s: Snapshot,
    /// `$$.Execution` and `$$.StateMachine`, built once on first use.
    context_base: Option<Map<String, Value>>,
}

/// Longest Wait AWS accepts (its delay is a 32-bit number of seconds).
const MAX_WAIT_MS: i64 = i32::MAX as i64 * 1000;
/// AWS's payload limit (256 KiB), beyond which a task result is `States.DataLimitExceeded`.
const PAYLOAD_LIMIT: usize = 256 * 1024;

impl Execution {
    /// Starts an execution: records `ExecutionStarted` and makes the first state runnable.
    /// Call [`Execution::run`] (or [`Execution::run_to_completion`]) to make progress.
    pub fn start(machine: Arc<Machine>, input: Value, config: ExecutionConfig) -> Self {
        let now = config.start_time_ms;
        let deadline = machine.timeout_ms.map(|t| now + t);
        let rng = config.seed ^ 0x9E37_79B9_7F4A_7C15;
        let start = machine.graph(0).start;
        let mut exec = Execution {
            machine,
            s: Snapshot {
                config,
                input: input.clone(),
                now,
                status: Status::Running,
                threads: Vec::new(),
                ready: VecDeque::new(),
                history: Vec::new(),
                next_event_id: 1,
                rng,
                tokens_issued: 0,
                deadline,
                transitions: 0,
            },
            context_base: None,
        };
        let role_arn = exec.s.config.role_arn.clone();
        exec.record(
            None,
            EventKind::ExecutionStarted {
                input: input.clone(),
                role_arn,
            },
        );
        exec.s.threads.push(Thread {
            graph: 0,
            parent: None,
            index: 0,
            // AWS's first state event points at no previous event (0), not at
            // ExecutionStarted.
            last_event: 0,
            phase: Phase::Enter {
                state: start,
                input,
            },
            vars: Map::new(),
        });
        exec.s.ready.push_back(0);
        exec
    }

    /// Rebuilds an execution from a snapshot and the machine it was started with.
    pub fn restore(machine: Arc<Machine>, snapshot: Snapshot) -> Result<Self, EngineError> {
        if let Some(problem) = snapshot_problem(&machine, &snapshot) {
            return Err(EngineError::BadSnapshot(problem));
        }
        Ok(Self {
            machine,
            s: snapshot,
            context_base: None,
        })
    }

    pub fn snapshot(&self) -> &Snapshot {
        &self.s
    }

    pub fn machine(&self) -> &Arc<Machine> {
        &self.machine
    }

    pub fn status(&self) -> &Status {
        &self.s.status
    }

    pub fn now_ms(&self) -> Millis {
        self.s.now
    }

    pub fn history(&self) -> &[HistoryEvent] {
        &self.s.history
    }

    /// Number of states entered so far (the benchmarks' unit).
    pub fn transitions(&self) -> u64 {
        self.s.transitions
    }

    /// The history rendered as AWS's `GetExecutionHistory` `events` array.
    pub fn history_json(&self) -> Value {
        Value::Array(
            self.s
                .history
                .iter()
                .map(|e| e.to_aws_json(&self.machine))
                .collect(),
        )
    }

    /// Tokens of tasks waiting for a callback.
    pub fn open_tokens(&self) -> Vec<String> {
        self.s
            .threads
            .iter()
            .filter_map(|t| match &t.phase {
                Phase::Callback { token, .. } => Some(token.clone()),
                _ => None,
            })
            .collect()
    }

    /// The earliest pending timer (Wait, retry back-off, task timeout or heartbeat,
    /// execution timeout).
    pub fn next_timer_ms(&self) -> Option<Millis> {
        self.next_timer().map(|(t, _)| t)
    }

    /// Runs every runnable thread until each blocks or finishes.
    pub fn run(&mut self, handler: &mut dyn TaskHandler) -> Progress {
        while let Some(tid) = self.s.ready.pop_front() {
            if self.s.status.is_finished() {
                self.s.ready.clear();
                break;
            }
            self.step(tid, handler);
        }
        self.progress()
    }

    /// Moves simulated time forward to `to_ms`, firing every timer due on the way in order
    /// and running what each releases before the next fires.
    pub fn advance_clock(
        &mut self,
        to_ms: Millis,
        handler: &mut dyn TaskHandler,
    ) -> Result<Progress, EngineError> {
        if to_ms < self.s.now {
            return Err(EngineError::ClockBackwards {
                now_ms: self.s.now,
                to_ms,
            });
        }
        self.run(handler);
        while !self.s.status.is_finished() {
            match self.next_timer() {
                Some((at, target)) if at <= to_ms => {
                    self.s.now = self.s.now.max(at);
                    self.fire(target);
                    self.run(handler);
                }
                _ => break,
            }
        }
        if !self.s.status.is_finished() {
            self.s.now = to_ms;
        }
        Ok(self.progress())
    }

    /// Runs until the execution finishes or waits for a callback, jumping the clock from
    /// timer to timer.
    pub fn run_to_completion(&mut self, handler: &mut dyn TaskHandler) -> Progress {
        loop {
            if let Progress::Finished = self.run(handler) {
                return Progress::Finished;
            }
            match self.next_timer() {
                Some((at, target)) => {
                    self.s.now = self.s.now.max(at);
                    self.fire(target);
                }
                None => return self.progress(),
            }
        }
    }

    /// `SendTaskSuccess`: completes the task waiting on `token` with `output`.
    pub fn send_task_success(
        &mut self,
        token: &str,
        output: Value,
        handler: &mut dyn TaskHandler,
    ) -> Result<Progress, EngineError> {
        let tid = self.waiting_on(token)?;
        let Phase::Callback {
            frame, resource, ..
        } = self.take_phase(tid)
        else {
            return Err(EngineError::UnknownToken(token.to_owned()));
        };
        self.task_succeeded(tid, frame, &resource, output);
        self.after_change(tid);
        Ok(self.run(handler))
    }

    /// `SendTaskFailure`: fails the task waiting on `token`.
    pub fn send_task_failure(
        &mut self,
        token: &str,
        error: Option<String>,
        cause: Option<String>,
        handler: &mut dyn TaskHandler,
    ) -> Result<Progress, EngineError> {
        let tid = self.waiting_on(token)?;
        let Phase::Callback {
            frame, resource, ..
        } = self.take_phase(tid)
        else {
            return Err(EngineError::UnknownToken(token.to_owned()));
        };
        let failure = Failure {
            error: error.unwrap_or_default(),
            cause,
        };
        self.record(
            Some(tid),
            EventKind::TaskFailed {
                resource,
                error: failure.error.clone(),
                cause: failure.cause.clone(),
            },
        );
        self.state_failed(tid, frame, failure);
        self.after_change(tid);
        Ok(self.run(handler))
    }

    /// `SendTaskHeartbeat`: restarts the heartbeat timer of the task waiting on `token`.
    pub fn send_task_heartbeat(&mut self, token: &str) -> Result<(), EngineError> {
        let tid = self.waiting_on(token)?;
        let now = self.s.now;
        if let Phase::Callback {
            heartbeat_at,
            heartbeat_ms: Some(ms),
            ..
        } = &mut self.s.threads[tid].phase
        {
            *heartbeat_at = Some(now + *ms);
        }
        Ok(())
    }

    /// `StopExecution`: aborts every thread.
    pub fn stop(&mut self) -> Result<(), EngineError> {
        if self.s.status.is_finished() {
            return Err(EngineError::Finished);
        }
        self.abort(0);
        self.record(Some(0), EventKind::ExecutionAborted);
        self.s.status = Status::Aborted;
        self.s.ready.clear();
        Ok(())
    }

    fn waiting_on(&self, token: &str) -> Result<ThreadId, EngineError> {
        if self.s.status.is_finished() {
            return Err(EngineError::Finished);
        }
        self.s
            .threads
            .iter()
            .position(|t| matches!(&t.phase, Phase::Callback { token: t2, .. } if t2 == token))
            .ok_or_else(|| EngineError::UnknownToken(token.to_owned()))
    }

    fn progress(&self) -> Progress {
        if self.s.status.is_finished() {
            return Progress::Finished;
        }
        Progress::Waiting {
            tokens: self.open_tokens(),
            next_timer_ms: self.next_timer_ms(),
        }
    }

    // ----- events -----

    fn record(&mut self, tid: Option<ThreadId>, kind: EventKind) -> u64 {
        let id = self.s.next_event_id;
        self.s.next_event_id += 1;
        let previous = tid
            .and_then(|t| self.s.threads.get(t))
            .map_or(0, |t| t.last_event);
        if let Some(t) = tid.and_then(|t| self.s.threads.get_mut(t)) {
            t.last_event = id;
        }
        if self.s.config.record_history {
            self.s.history.push(HistoryEvent {
                id,
                previous_event_id: previous,
                timestamp_ms: self.s.now,
                kind,
            });
        }
        id
    }

    fn history_value(&self, v: &Value) -> Value {
        if self.s.config.record_history {
            v.clone()
        } else {
            Value::Null
        }
    }

    // ----- thread plumbing -----

    fn take_phase(&mut self, tid: ThreadId) -> Phase {
        std::mem::replace(&mut self.s.threads[tid].phase, Phase::Done(End::Aborted))
    }

    fn set_phase(&mut self, tid: ThreadId, phase: Phase) {
        self.s.threads[tid].phase = phase;
    }

    /// After a phase change made outside the run loop: queue the thread if it can run,
    /// or report its end to its parent.
    fn after_change(&mut self, tid: ThreadId) {
        match self.s.threads[tid].phase {
            Phase::Enter { .. } | Phase::Attempt(_) => self.s.ready.push_back(tid),
            Phase::Done(_) => self.thread_done(tid),
            _ => {}
        }
    }

    /// Runs one thread until it blocks or ends.
    fn step(&mut self, tid: ThreadId, handler: &mut dyn TaskHandler) {
        loop {
            if self.s.status.is_finished() {
                return;
            }
            if self.s.next_event_id > self.s.config.max_events {
                return self.too_many_events();
            }
            match self.take_phase(tid) {
                Phase::Enter { state, input } => self.enter(tid, state, input),
                Phase::Attempt(frame) => self.attempt(tid, frame, handler),
                Phase::Done(end) => {
                    // Reached only for a thread queued twice; nothing left to do.
                    self.set_phase(tid, Phase::Done(end));
                    return;
                }
                other => {
                    self.set_phase(tid, other);
                    return;
                }
            }
            match self.s.threads[tid].phase {
                Phase::Enter { .. } | Phase::Attempt(_) => continue,
                Phase::Done(_) => {
                    self.thread_done(tid);
                    return;
                }
                _ => return,
            }
        }
    }

    fn spawn(
        &mut self,
        parent: ThreadId,
        graph: GraphId,
        index: usize,
        input: Value,
        after: u64,
    ) -> ThreadId {
        let start = self.machine.graph(graph).start;
        let tid = self.s.threads.len();
        self.s.threads.push(Thread {
            graph,
            parent: Some(parent),
            index,
            last_event: after,
            phase: Phase::Enter {
                state: start,
                input,
            },
            vars: Map::new(),
        });
        self.s.ready.push_back(tid);
        tid
    }

    fn state_ref(&self, tid: ThreadId, state: StateId) -> StateRef {
        StateRef {
            graph: self.s.threads[tid].graph,
            state,
        }
    }

    // ----- evaluation -----

    /// Runs `f` with the roots a state of thread `tid` sees (`$` = `input`, `$$` = `ctx`,
    /// `$name` = its variables and its ancestors') and the execution's randomness.
    fn eval<T>(
        &mut self,
        tid: ThreadId,
        input: &Value,
        ctx: &Value,
        f: impl FnOnce(Roots<'_>, &mut dyn IntrinsicEnv) -> Result<T, Failure>,
    ) -> Result<T, Failure> {
        let view = VarView {
            threads: &self.s.threads,
            tid,
        };
        let roots = Roots::new(input, ctx).with_variables(&view);
        let mut env = Env {
            rng: &mut self.s.rng,
        };
        f(roots, &mut env)
    }

    /// Evaluates an `Assign` block with `$` = `dollar` and stores the variables (all
    /// values are computed before any is set, as AWS does).
    fn assign(
        &mut self,
        tid: ThreadId,
        block: &Template,
        dollar: &Value,
        ctx: &Value,
    ) -> Result<(), Failure> {
        let values = self.eval(tid, dollar, ctx, |r, env| block.evaluate(r, env))?;
        if let Value::Object(values) = values {
            let vars = &mut self.s.threads[tid].vars;
            for (k, v) in values {
                vars.insert(k, v);
            }
        }
        Ok(())
    }

    // ----- context object -----

    fn context(
        &mut self,
        tid: ThreadId,
        state: &State,
        frame_entered: Millis,
        retry_count: Option<u32>,
        token: Option<&str>,
        item: Option<(usize, &Value)>,
    ) -> Value {
        if !state.uses_context {
            return Value::Null;
        }
        let _ = tid;
        let mut ctx = self.context_base().clone();
        let mut st = Map::new();
        st.insert("EnteredTime".into(), format_timestamp(frame_entered).into());
        st.insert("Name".into(), state.name.clone().into());
        if let Some(n) = retry_count {
            st.insert("RetryCount".into(), n.into());
        }
        ctx.insert("State".into(), Value::Object(st));
        if let Some(token) = token {
            ctx.insert("Task".into(), json!({ "Token": token }));
        }
        if let Some((index, value)) = item {
            ctx.insert(
                "Map".into(),
                json!({"Item": {"Index": index, "Value": value}}),
            );
        }
        Value::Object(ctx)
    }

    fn context_base(&mut self) -> &Map<String, Value> {
        let c = &self.s.config;
        let input = &self.s.input;
        self.context_base.get_or_insert_with(|| {
            let mut m = Map::new();
            let mut e = json!({
                "Id": c.execution_arn(),
                "Input": input,
                "StartTime": format_timestamp(c.start_time_ms),
                "Name": c.execution_name,
                "RoleArn": c.role_arn,
            });
            if let (false, Some(obj)) = (c.express, e.as_object_mut()) {
                obj.insert("RedriveCount".into(), 0.into());
            }
            m.insert("Execution".into(), e);
            m.insert(
                "StateMachine".into(),
                json!({"Id": c.state_machine_arn(), "Name": c.state_machine_name}),
            );
            m
        })
    }

    // ----- states -----

    fn enter(&mut self, tid: ThreadId, sid: StateId, input: Value) {
        let machine = Arc::clone(&self.machine);
        let graph = self.s.threads[tid].graph;
        let state = machine.state(graph, sid);
        self.s.transitions += 1;
        let hv = self.history_value(&input);
        let entered_event = self.record(
            Some(tid),
            EventKind::StateEntered {
                state: self.state_ref(tid, sid),
                input: hv,
            },
        );
        let now = self.s.now;
        let ctx = self.context(tid, state, now, None, None, None);
        let fail = |exec: &mut Self, f: Failure| {
            let f = runtime_prefix(state, entered_event, f);
            exec.set_phase(tid, Phase::Done(End::Failed(f)));
        };
        if let Kind::Fail { error, cause } = &state.kind {
            let error = match self.eval(tid, &input, &ctx, |r, env| fail_text(error, r, env)) {
                Ok(e) => e,
                Err(f) => return fail(self, f),
            };
            let cause = match self.eval(tid, &input, &ctx, |r, env| fail_text(cause, r, env)) {
                Ok(c) => c,
                Err(f) => return fail(self, f),
            };
            let failure = Failure {
                error: error.unwrap_or_default(),
                cause,
            };
            return self.set_phase(tid, Phase::Done(End::Failed(failure)));
        }
        let effective = match self.eval(tid, &input, &ctx, |r, _| {
            select_opt(state.input_path.as_ref(), r)
        }) {
            Ok(v) => v,
            Err(f) => return fail(self, f),
        };
        let frame = Frame {
            state: sid,
            input,
            effective,
            entered_at: now,
            entered_event,
            retry_counts: vec![0; state.retry.len()],
            retry_total: 0,
        };
        match &state.kind {
            Kind::Pass { result, parameters } => {
                let value = match (result, parameters) {
                    (Some(r), _) => Ok(r.clone()),
                    (None, Some(p)) => {
                        self.eval(tid, &frame.effective, &ctx, |r, env| p.evaluate(r, env))
                    }
                    (None, None) => Ok(frame.effective.clone()),
                };
                match value {
                    Ok(v) => self.finish(tid, frame, v, &ctx),
                    Err(f) => fail(self, f),
                }
            }
            Kind::Choice { rules, default } => {
                let matched = self.eval(tid, &frame.effective, &ctx, |r, _| {
                    Ok(rules.iter().find(|b| b.rule.evaluate(r)))
                });
                let matched = matched.ok().flatten();
                // A matching rule assigns its own variables; the state's `Assign` goes
                // with the Default.
                let (chosen, assign) = match matched {
                    Some(b) => (Some(b.next), b.assign.as_ref()),
                    None => (*default, state.assign.as_ref()),
                };
                if let (Some(_), Some(block)) = (chosen, assign)
                    && let Err(f) = self.assign(tid, block, &frame.effective, &ctx)
                {
                    return fail(self, f);
                }
                let Some(next) = chosen else {
                    return fail(
                        self,
                        Failure::new(
                            "States.NoChoiceMatched",
                            format!(
                                "No Choice Rules matched and no Default was specified in state '{}'",
                                state.name
                            ),
                        ),
                    );
                };
                match self.eval(tid, &frame.effective, &ctx, |r, _| {
                    select_opt(state.output_path.as_ref(), r)
                }) {
                    Ok(out) => {
                        self.exit_event(tid, sid, &out);
                        self.set_phase(
                            tid,
                            Phase::Enter {
                                state: next,
                                input: out,
                            },
                        );
                    }
                    Err(f) => fail(self, f),
                }
            }
            Kind::Succeed => match self.eval(tid, &frame.effective, &ctx, |r, _| {
                select_opt(state.output_path.as_ref(), r)
            }) {
                Ok(out) => {
                    self.exit_event(tid, sid, &out);
                    self.set_phase(tid, Phase::Done(End::Succeeded(out)));
                }
                Err(f) => fail(self, f),
            },
            Kind::Wait(spec) => {
                let until =
                    match self.eval(tid, &frame.effective, &ctx, |r, _| wait_until(spec, r, now)) {
                        Ok(u) => u,
                        Err(f) => return fail(self, f),
                    };
                if let Some(block) = &state.assign
                    && let Err(f) = self.assign(tid, block, &frame.effective, &ctx)
                {
                    return fail(self, f);
                }
                let output = match self.eval(tid, &frame.effective, &ctx, |r, _| {
                    select_opt(state.output_path.as_ref(), r)
                }) {
                    Ok(out) => out,
                    Err(f) => return fail(self, f),
                };
                if until <= now {
                    self.exit_event(tid, sid, &output);
                    self.transition(tid, state, output);
                } else {
                    self.set_phase(
                        tid,
                        Phase::Sleep {
                            frame,
                            until,
                            wake: Wake::Exit { output },
                        },
                    );
                }
            }
            Kind::Task(_) | Kind::Parallel { .. } | Kind::Map(_) => {
                self.set_phase(tid, Phase::Attempt(frame));
            }
            Kind::Fail { .. } => {}
        }
    }

    fn exit_event(&mut self, tid: ThreadId, sid: StateId, output: &Value) {
        let hv = self.history_value(output);
        let state = self.state_ref(tid, sid);
        self.record(Some(tid), EventKind::StateExited { state, output: hv });
    }

    fn transition(&mut self, tid: ThreadId, state: &State, output: Value) {
        match state.next {
            Transition::Next(next) => self.set_phase(
                tid,
                Phase::Enter {
                    state: next,
                    input: output,
                },
            ),
            Transition::End => self.set_phase(tid, Phase::Done(End::Succeeded(output))),
        }
    }

    /// `ResultPath` and `OutputPath`, the exit event and the transition: the common tail
    /// of Pass, Task, Parallel and Map.
    fn finish(&mut self, tid: ThreadId, frame: Frame, result: Value, ctx: &Value) {
        let machine = Arc::clone(&self.machine);
        let state = machine.state(self.s.threads[tid].graph, frame.state);
        let entered_event = frame.entered_event;
        if let Some(block) = &state.assign
            && let Err(f) = self.assign(tid, block, &result, ctx)
        {
            let f = runtime_prefix(state, entered_event, f);
            return self.set_phase(tid, Phase::Done(End::Failed(f)));
        }
        let combined = match &state.result_path {
            Some(rp) => rp.insert(frame.input, result),
            None => Ok(frame.input),
        };
        let output = combined.and_then(|c| {
            self.eval(tid, &c, ctx, |r, _| {
                select_opt(state.output_path.as_ref(), r)
            })
        });
        match output {
            // AWS refuses state outputs over 256 KiB; checking here also stops loops whose
            // data doubles at each turn long before memory runs out.
            Ok(out) if exceeds_payload_limit(&out) => {
                let f = Failure::new(
                    names::DATA_LIMIT,
                    format!(
                        "The state/task '{}' returned a result with a size exceeding the maximum number of bytes service limit.",
                        state.name
                    ),
                );
                self.set_phase(tid, Phase::Done(End::Failed(f)));
            }
            Ok(out) => {
                self.exit_event(tid, frame.state, &out);
                self.transition(tid, state, out);
            }
            Err(f) => {
                let f = runtime_prefix(state, entered_event, f);
                self.set_phase(tid, Phase::Done(End::Failed(f)));
            }
        }
    }

    fn attempt(&mut self, tid: ThreadId, frame: Frame, handler: &mut dyn TaskHandler) {
        let machine = Arc::clone(&self.machine);
        let state = machine.state(self.s.threads[tid].graph, frame.state);
        match &state.kind {
            Kind::Task(spec) => self.attempt_task(tid, state, spec, frame, handler),
            Kind::Parallel {
                branches,
                parameters,
                ..
            } => {
                let ctx = self.context(tid, state, frame.entered_at, None, None, None);
                let input = match parameters {
                    Some(p) => self.eval(tid, &frame.effective, &ctx, |r, env| p.evaluate(r, env)),
                    None => Ok(frame.effective.clone()),
                };
                let input = match input {
                    Ok(v) => v,
                    Err(f) => return self.eval_failed(tid, state, frame, f),
                };
                let started = self.record(Some(tid), EventKind::ParallelStateStarted);
                let children: Vec<ThreadId> = branches
                    .iter()
                    .enumerate()
                    .map(|(i, g)| self.spawn(tid, *g, i, input.clone(), started))
                    .collect();
                let pending = children.len();
                self.set_phase(
                    tid,
                    Phase::Children {
                        frame,
                        children,
                        pending,
                        failures: 0,
                        tolerated: None,
                    },
                );
            }
            Kind::Map(spec) => self.attempt_map(tid, state, spec, frame),
            _ => {}
        }
    }

    fn attempt_task(
        &mut self,
        tid: ThreadId,
        state: &State,
        spec: &TaskSpec,
        frame: Frame,
        handler: &mut dyn TaskHandler,
    ) {
        self.s.tokens_issued += 1;
        let salt = self.next_random();
        let token = format!(
            "approvalc-token-{}-{}-{salt:016x}",
            self.s.config.execution_name, self.s.tokens_issued,
        );
        let ctx = self.context(
            tid,
            state,
            frame.entered_at,
            Some(frame.retry_total),
            Some(token.as_str()),
            None,
        );
        let params = match &spec.parameters {
            Some(p) => self.eval(tid, &frame.effective, &ctx, |r, env| p.evaluate(r, env)),
            None => Ok(frame.effective.clone()),
        };
        let timeout = self.eval(tid, &frame.effective, &ctx, |r, _| {
            spec.timeout
                .as_ref()
                .map(|t| seconds_value(t, r, "TimeoutSecondsPath"))
                .transpose()
        });
        let heartbeat = self.eval(tid, &frame.effective, &ctx, |r, _| {
            spec.heartbeat
                .as_ref()
                .map(|t| seconds_value(t, r, "HeartbeatSecondsPath"))
                .transpose()
        });
        let (params, timeout, heartbeat) = match (params, timeout, heartbeat) {
            (Ok(p), Ok(t), Ok(h)) => (p, t, h),
            (Err(f), _, _) | (_, Err(f), _) | (_, _, Err(f)) => {
                return self.eval_failed(tid, state, frame, f);
            }
        };
        let hv = self.history_value(&params);
        self.record(
            Some(tid),
            EventKind::TaskScheduled {
                resource: spec.resource.clone(),
                parameters: hv,
                timeout_seconds: timeout,
                heartbeat_seconds: heartbeat,
            },
        );
        self.record(
            Some(tid),
            EventKind::TaskStarted {
                resource: spec.resource.clone(),
            },
        );
        let outcome = handler.invoke(&TaskRequest {
            state: &state.name,
            resource: &spec.resource,
            input: &params,
            token: &token,
            credentials: spec.credentials.as_ref(),
            retry_count: frame.retry_total,
            now_ms: self.s.now,
        });
        match outcome {
            TaskOutcome::Success(result) => self.task_succeeded(tid, frame, &spec.resource, result),
            TaskOutcome::Failure(failure) => {
                self.record(
                    Some(tid),
                    EventKind::TaskFailed {
                        resource: spec.resource.clone(),
                        error: failure.error.clone(),
                        cause: failure.cause.clone(),
                    },
                );
                self.state_failed(tid, frame, failure);
            }
            TaskOutcome::WaitForCallback => {
                let now = self.s.now;
                let heartbeat_ms = heartbeat.map(|h| h * 1000);
                self.set_phase(
                    tid,
                    Phase::Callback {
                        frame,
                        token,
                        resource: spec.resource.clone(),
                        timeout_at: timeout.map(|t| now + t * 1000),
                        heartbeat_at: heartbeat_ms.map(|h| now + h),
                        heartbeat_ms,
                    },
                );
            }
        }
    }

    fn task_succeeded(&mut self, tid: ThreadId, frame: Frame, resource: &str, result: Value) {
        let machine = Arc::clone(&self.machine);
        let state = machine.state(self.s.threads[tid].graph, frame.state);
        let hv = self.history_value(&result);
        self.record(
            Some(tid),
            EventKind::TaskSucceeded {
                resource: resource.to_owned(),
                output: hv,
            },
        );
        if exceeds_payload_limit(&result) {
            let f = Failure::new(
                names::DATA_LIMIT,
                format!(
                    "The state/task '{}' returned a result with a size exceeding the maximum number of bytes service limit.",
                    state.name
                ),
            );
            return self.state_failed(tid, frame, f);
        }
        let ctx = self.context(
            tid,
            state,
            frame.entered_at,
            Some(frame.retry_total),
            None,
            None,
        );
        let selected = match &state.kind {
            Kind::Task(spec) => match &spec.result_selector {
                Some(sel) => self.eval(tid, &result, &ctx, |r, env| sel.evaluate(r, env)),
                None => Ok(result),
            },
            _ => Ok(result),
        };
        match selected {
            Ok(v) => self.finish(tid, frame, v, &ctx),
            Err(f) => self.eval_failed(tid, state, frame, f),
        }
    }

    fn attempt_map(&mut self, tid: ThreadId, state: &State, spec: &MapSpec, frame: Frame) {
        let ctx = self.context(tid, state, frame.entered_at, None, None, None);
        let items = match &spec.items_path {
            Some(p) => self.eval(tid, &frame.effective, &ctx, |r, _| p.select(r)),
            None => Ok(frame.effective.clone()),
        };
        let items = match items {
            Ok(Value::Array(items)) => items,
            Ok(other) => {
                let path = spec.items_path.as_ref().map_or("$", Path::as_str);
                let f = Failure::runtime(format!("Item path {path} was not an array: {other}"));
                return self.eval_failed(tid, state, frame, f);
            }
            Err(f) => return self.eval_failed(tid, state, frame, f),
        };
        let count = items.len();
        let tolerated = match self.eval(tid, &frame.effective, &ctx, |r, _| {
            map_settings(spec, r, count)
        }) {
            Ok(t) => t,
            Err(f) => return self.eval_failed(tid, state, frame, f),
        };
        let mut inputs = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            let input = match &spec.item_selector {
                Some(sel) => {
                    let ctx =
                        self.context(tid, state, frame.entered_at, None, None, Some((i, &item)));
                    match self.eval(tid, &frame.effective, &ctx, |r, env| sel.evaluate(r, env)) {
                        Ok(v) => v,
                        Err(f) => return self.eval_failed(tid, state, frame, f),
                    }
                }
                None => item,
            };
            inputs.push(input);
        }
        let started = self.record(
            Some(tid),
            EventKind::MapStateStarted {
                length: inputs.len(),
            },
        );
        if inputs.is_empty() {
            self.record(Some(tid), EventKind::MapStateSucceeded);
            return self.children_succeeded(tid, state, frame, Vec::new());
        }
        let sref = self.state_ref(tid, frame.state);
        let mut children = Vec::with_capacity(inputs.len());
        for (i, input) in inputs.into_iter().enumerate() {
            let ev = self.record(
                None,
                EventKind::MapIterationStarted {
                    state: sref,
                    index: i,
                },
            );
            let _ = started;
            children.push(self.spawn(tid, spec.processor, i, input, ev));
        }
        let pending = children.len();
        self.set_phase(
            tid,
            Phase::Children {
                frame,
                children,
                pending,
                failures: 0,
                tolerated,
            },
        );
    }

    /// A child thread ended: account for it in its parent, and finish the parent's state
    /// when all children are done (or one failed beyond tolerance).
    fn thread_done(&mut self, tid: ThreadId) {
        let Some(parent) = self.s.threads[tid].parent else {
            return self.execution_done();
        };
        let end = match &self.s.threads[tid].phase {
            Phase::Done(end) => end.clone(),
            _ => return,
        };
        let machine = Arc::clone(&self.machine);
        let parent_graph = self.s.threads[parent].graph;
        let Phase::Children { frame, .. } = &self.s.threads[parent].phase else {
            // The parent already moved on (it failed and aborted this child).
            return;
        };
        let state = machine.state(parent_graph, frame.state);
        let is_map = matches!(state.kind, Kind::Map(_));
        let sref = StateRef {
            graph: parent_graph,
            state: frame.state,
        };
        let index = self.s.threads[tid].index;
        let (mut failed_now, mut all_done) = (None, false);
        if let Phase::Children {
            pending,
            failures,
            tolerated,
            ..
        } = &mut self.s.threads[parent].phase
        {
            *pending = pending.saturating_sub(1);
            if let End::Failed(f) = &end {
                *failures += 1;
                let within = tolerated.is_some_and(|t| *failures <= t);
                if !within {
                    failed_now = Some(if tolerated.is_some() {
                        Failure::new(
                            names::EXCEED_TOLERATED_FAILURE,
                            "The specified tolerated failure threshold was exceeded",
                        )
                    } else {
                        f.clone()
                    });
                }
            }
            all_done = *pending == 0;
        }
        if is_map {
            let kind = match end {
                End::Succeeded(_) => EventKind::MapIterationSucceeded { state: sref, index },
                End::Failed(_) => EventKind::MapIterationFailed { state: sref, index },
                End::Aborted => EventKind::MapIterationAborted { state: sref, index },
            };
            self.record(None, kind);
        }
        if let Some(failure) = failed_now {
            let Phase::Children {
                frame, children, ..
            } = self.take_phase(parent)
            else {
                return;
            };
            for child in children {
                if !matches!(self.s.threads[child].phase, Phase::Done(_)) {
                    self.abort(child);
                }
            }
            self.record(
                Some(parent),
                if is_map {
                    EventKind::MapStateFailed
                } else {
                    EventKind::ParallelStateFailed
                },
            );
            self.state_failed(parent, frame, failure);
            return self.after_change(parent);
        }
        if !all_done {
            return;
        }
        let Phase::Children {
            frame, children, ..
        } = self.take_phase(parent)
        else {
            return;
        };
        let results: Vec<Value> = children
            .iter()
            .map(|c| match &self.s.threads[*c].phase {
                Phase::Done(End::Succeeded(v)) => v.clone(),
                Phase::Done(End::Failed(f)) => f.to_catch_output(),
                _ => Value::Null,
            })
            .collect();
        self.record(
            Some(parent),
            if is_map {
                EventKind::MapStateSucceeded
            } else {
                EventKind::ParallelStateSucceeded
            },
        );
        self.children_succeeded(parent, state, frame, results);
        self.after_change(parent);
    }

    fn children_succeeded(
        &mut self,
        tid: ThreadId,
        state: &State,
        frame: Frame,
        results: Vec<Value>,
    ) {
        let ctx = self.context(tid, state, frame.entered_at, None, None, None);
        let selector = match &state.kind {
            Kind::Parallel {
                result_selector, ..
            } => result_selector.as_ref(),
            Kind::Map(spec) => spec.result_selector.as_ref(),
            _ => None,
        };
        let result = Value::Array(results);
        let selected = match selector {
            Some(sel) => self.eval(tid, &result, &ctx, |r, env| sel.evaluate(r, env)),
            None => Ok(result),
        };
        match selected {
            Ok(v) => self.finish(tid, frame, v, &ctx),
            Err(f) => self.eval_failed(tid, state, frame, f),
        }
    }

    fn abort(&mut self, tid: ThreadId) {
        if let Phase::Children { children, .. } = &self.s.threads[tid].phase {
            for child in children.clone() {
                if !matches!(self.s.threads[child].phase, Phase::Done(_)) {
                    self.abort(child);
                }
            }
        }
        self.set_phase(tid, Phase::Done(End::Aborted));
    }

    /// An error while evaluating a state's paths or templates: named after AWS's runtime
    /// errors, prefixed as AWS prefixes them, then retried/caught like any other.
    fn eval_failed(&mut self, tid: ThreadId, state: &State, frame: Frame, f: Failure) {
        let f = runtime_prefix(state, frame.entered_event, f);
        self.state_failed(tid, frame, f);
    }

    /// Retry, then Catch, then fail the thread.
    fn state_failed(&mut self, tid: ThreadId, mut frame: Frame, failure: Failure) {
        let machine = Arc::clone(&self.machine);
        let state = machine.state(self.s.threads[tid].graph, frame.state);
        if failure.error != names::RUNTIME {
            if let Some((i, retrier)) = state
                .retry
                .iter()
                .enumerate()
                .find(|(_, r)| error_matches(&r.errors, &failure.error))
            {
                let count = frame.retry_counts.get(i).copied().unwrap_or(0);
                if count < retrier.max_attempts {
                    let delay = self.retry_delay(retrier, count);
                    if let Some(c) = frame.retry_counts.get_mut(i) {
                        *c += 1;
                    }
                    frame.retry_total += 1;
                    let until = self.s.now + delay;
                    return self.set_phase(
                        tid,
                        Phase::Sleep {
                            frame,
                            until,
                            wake: Wake::Retry,
                        },
                    );
                }
            }
            if let Some(catcher) = state
                .catch
                .iter()
                .find(|c| error_matches(&c.errors, &failure.error))
            {
                let caught = failure.to_catch_output();
                if let Some(block) = &catcher.assign {
                    let ctx = self.context(tid, state, frame.entered_at, None, None, None);
                    if let Err(f) = self.assign(tid, block, &caught, &ctx) {
                        let f = runtime_prefix(state, frame.entered_event, f);
                        return self.set_phase(tid, Phase::Done(End::Failed(f)));
                    }
                }
                let output = match &catcher.result_path {
                    Some(rp) => rp.insert(frame.input, caught),
                    None => Ok(frame.input),
                };
                return match output {
                    Ok(out) => {
                        self.exit_event(tid, frame.state, &out);
                        self.set_phase(
                            tid,
                            Phase::Enter {
                                state: catcher.next,
                                input: out,
                            },
                        );
                    }
                    Err(f) => {
                        let f = runtime_prefix(state, frame.entered_event, f);
                        self.set_phase(tid, Phase::Done(End::Failed(f)));
                    }
                };
            }
        }
        self.set_phase(tid, Phase::Done(End::Failed(failure)));
    }

    fn retry_delay(&mut self, r: &Retrier, count: u32) -> Millis {
        let exp = i32::try_from(count).unwrap_or(i32::MAX);
        let mut delay = r.interval_ms as f64 * r.backoff.powi(exp);
        if let Some(max) = r.max_delay_ms {
            delay = delay.min(max as f64);
        }
        // Executions last at most a year; keep the arithmetic far from overflow.
        delay = delay.min(365.0 * 86_400_000.0);
        if r.full_jitter {
            let unit = (self.next_random() >> 11) as f64 / (1u64 << 53) as f64;
            delay *= unit;
        }
        delay.round() as Millis
    }

    fn execution_done(&mut self) {
        let end = match &self.s.threads[0].phase {
            Phase::Done(end) => end.clone(),
            _ => return,
        };
        match end {
            End::Succeeded(output) => {
                let hv = self.history_value(&output);
                self.record(Some(0), EventKind::ExecutionSucceeded { output: hv });
                self.s.status = Status::Succeeded { output };
            }
            End::Failed(f) => {
                self.record(
                    Some(0),
                    EventKind::ExecutionFailed {
                        error: f.error.clone(),
                        cause: f.cause.clone(),
                    },
                );
                self.s.status = Status::Failed {
                    error: f.error,
                    cause: f.cause,
                };
            }
            End::Aborted => self.s.status = Status::Aborted,
        }
        self.s.ready.clear();
    }

    // ----- timers -----

    fn next_timer(&self) -> Option<(Millis, Option<ThreadId>)> {
        if self.s.status.is_finished() {
            return None;
        }
        let mut best: Option<(Millis, Option<ThreadId>)> = self.s.deadline.map(|d| (d, None));
        for (tid, t) in self.s.threads.iter().enumerate() {
            let at = match &t.phase {
                Phase::Sleep { until, .. } => Some(*until),
                Phase::Callback {
                    timeout_at,
                    heartbeat_at,
                    ..
                } => match (timeout_at, heartbeat_at) {
                    (Some(a), Some(b)) => Some((*a).min(*b)),
                    (a, b) => a.or(*b),
                },
                _ => None,
            };
            if let Some(at) = at
                && best.is_none_or(|(b, _)| at < b)
            {
                best = Some((at, Some(tid)));
            }
        }
        best
    }

    fn fire(&mut self, target: Option<ThreadId>) {
        let Some(tid) = target else {
            return self.execution_timed_out();
        };
        match self.take_phase(tid) {
            Phase::Sleep {
                frame,
                wake: Wake::Exit { output },
                ..
            } => {
                let machine = Arc::clone(&self.machine);
                let state = machine.state(self.s.threads[tid].graph, frame.state);
                self.exit_event(tid, frame.state, &output);
                self.transition(tid, state, output);
            }
            Phase::Sleep {
                frame,
                wake: Wake::Retry,
                ..
            } => self.set_phase(tid, Phase::Attempt(frame)),
            Phase::Callback {
                frame, resource, ..
            } => {
                self.record(
                    Some(tid),
                    EventKind::TaskTimedOut {
                        resource,
                        error: names::TIMEOUT.into(),
                        cause: None,
                    },
                );
                self.state_failed(
                    tid,
                    frame,
                    Failure {
                        error: names::TIMEOUT.into(),
                        cause: None,
                    },
                );
            }
            other => self.set_phase(tid, other),
        }
        self.after_change(tid);
    }

    fn too_many_events(&mut self) {
        self.abort(0);
        let error = names::RUNTIME.to_owned();
        let cause = Some(format!(
            "The execution reached the maximum number of history events ({}).",
            self.s.config.max_events
        ));
        self.record(
            Some(0),
            EventKind::ExecutionFailed {
                error: error.clone(),
                cause: cause.clone(),
            },
        );
        self.s.status = Status::Failed { error, cause };
        self.s.ready.clear();
    }

    fn execution_timed_out(&mut self) {
        self.abort(0);
        self.record(
            Some(0),
            EventKind::ExecutionTimedOut {
                error: names::TIMEOUT.into(),
                cause: None,
            },
        );
        self.s.status = Status::TimedOut {
            error: names::TIMEOUT.into(),
            cause: None,
        };
        self.s.ready.clear();
    }

    // ----- randomness -----

    fn next_random(&mut self) -> u64 {
        splitmix(&mut self.s.rng)
    }
}

/// Whether `v` serialises to more than [`PAYLOAD_LIMIT`] bytes, computed without
/// serialising and stopping as soon as the limit is passed.
fn exceeds_payload_limit(v: &Value) -> bool {
    fn spend(v: &Value, budget: &mut usize) -> bool {
        let own = match v {
            Value::Null | Value::Bool(_) => 5,
            Value::Number(n) => match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => u.checked_ilog10().unwrap_or(0) as usize + 1,
                (None, Some(i)) => i.unsigned_abs().checked_ilog10().unwrap_or(0) as usize + 2,
                // Floats print at most 24 characters.
                _ => 24,
            },
            Value::String(s) => s.len() + 2,
            Value::Array(items) => {
                if items.iter().any(|item| spend(item, budget)) {
                    return true;
                }
                items.len() + 2
            }
            Value::Object(map) => {
                for (k, item) in map {
                    *budget = budget.saturating_sub(k.len() + 4);
                    if spend(item, budget) {
                        return true;
                    }
                }
                2
            }
        };
        *budget = budget.saturating_sub(own);
        *budget == 0
    }
    let mut budget = PAYLOAD_LIMIT;
    spend(v, &mut budget)
}

/// Checks that every index in a snapshot points into the machine and the thread list, so a
/// corrupted or foreign snapshot is refused instead of panicking later.
fn snapshot_problem(machine: &Machine, s: &Snapshot) -> Option<String> {
    let threads = s.threads.len();
    if threads == 0 {
        return Some("no threads".into());
    }
    for (i, t) in s.threads.iter().enumerate() {
        let Some(graph) = machine.graphs.get(t.graph) else {
            return Some(format!(
                "thread {i} runs graph {} the definition does not have",
                t.graph
            ));
        };
        let states = graph.states.len();
        let state = match &t.phase {
            Phase::Enter { state, .. } => Some(*state),
            Phase::Attempt(f)
            | Phase::Sleep { frame: f, .. }
            | Phase::Callback { frame: f, .. }
            | Phase::Children { frame: f, .. } => {
                if f.retry_counts.len() != graph.states.get(f.state).map_or(0, |st| st.retry.len())
                {
                    return Some(format!("thread {i} has retry counters for another state"));
                }
                Some(f.state)
            }
            Phase::Done(_) => None,
        };
        if state.is_some_and(|st| st >= states) {
            return Some(format!(
                "thread {i} is in a state the definition does not have"
            ));
        }
        if t.parent.is_some_and(|p| p >= i) {
            return Some(format!("thread {i} has an invalid parent"));
        }
        if let Phase::Children { children, .. } = &t.phase
            && children.iter().any(|c| *c <= i || *c >= threads)
        {
            return Some(format!("thread {i} has invalid children"));
        }
    }
    if s.ready.iter().any(|r| *r >= threads) {
        return Some("a queued thread does not exist".into());
    }
    None
}

/// The variables a thread sees: its own, then its ancestors' (innermost first).
struct VarView<'a> {
    threads: &'a [Thread],
    tid: ThreadId,
}

impl Variables for VarView<'_> {
    fn variable(&self, name: &str) -> Option<&Value> {
        let mut at = Some(self.tid);
        while let Some(t) = at {
            let thread = self.threads.get(t)?;
            if let Some(v) = thread.vars.get(name) {
                return Some(v);
            }
            at = thread.parent;
        }
        None
    }
}

/// Deterministic randomness for intrinsic functions, from the execution's seed.
struct Env<'a> {
    rng: &'a mut u64,
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl IntrinsicEnv for Env<'_> {
    fn uuid(&mut self) -> String {
        let a = splitmix(self.rng);
        let b = splitmix(self.rng);
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0x0fff,
            ((b >> 48) & 0x3fff) | 0x8000,
            b & 0xffff_ffff_ffff
        )
    }

    fn random(&mut self, start: i64, end: i64, seed: Option<i64>) -> i64 {
        let r = match seed {
            Some(s) => {
                let mut st = s as u64;
                splitmix(&mut st)
            }
            None => splitmix(self.rng),
        };
        let span = end.saturating_sub(start).max(1).unsigned_abs();
        start.saturating_add(i64::try_from(r % span).unwrap_or(0))
    }
}

/// Matches an error name against an `ErrorEquals` list, with AWS's wildcards:
/// `States.ALL` matches everything (`States.Runtime` never reaches here),
/// `States.TaskFailed` everything but `States.Timeout`.
fn error_matches(list: &[String], error: &str) -> bool {
    list.iter().any(|name| {
        name == error
            || name == names::ALL
            || (name == names::TASK_FAILED && error != names::TIMEOUT)
    })
}

fn runtime_prefix(state: &State, entered_event: u64, mut f: Failure) -> Failure {
    if let Some(cause) = &f.cause {
        f.cause = Some(format!(
            "An error occurred while executing the state '{}' (entered at the event id #{}). {}",
            state.name, entered_event, cause
        ));
    }
    f
}

/// `InputPath`/`OutputPath` with `null` meaning `{}`.
fn select_opt(path: Option<&Path>, roots: Roots<'_>) -> Result<Value, Failure> {
    match path {
        Some(p) => p.select(roots),
        None => Ok(Value::Object(Map::new())),
    }
}

fn fail_text(
    field: &Option<FailField>,
    roots: Roots<'_>,
    env: &mut dyn IntrinsicEnv,
) -> Result<Option<String>, Failure> {
    match field {
        None => Ok(None),
        Some(FailField::Literal(s)) => Ok(Some(s.clone())),
        Some(FailField::Computed(c)) => match c.evaluate(roots, env)? {
            Value::String(s) => Ok(Some(s)),
            other => Ok(Some(other.to_string())),
        },
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn wait_until(spec: &WaitSpec, roots: Roots<'_>, now: Millis) -> Result<Millis, Failure> {
    let until = match spec {
        WaitSpec::Seconds(Seconds::Literal(n)) => now + n * 1000,
        WaitSpec::Seconds(Seconds::Path(p)) => {
            let v = p.select(roots)?;
            let Some(n) = v.as_i64() else {
                return Err(Failure::runtime(format!(
                    "The SecondsPath parameter cannot be parsed as a long value: {} == {}",
                    p.as_str(),
                    describe(&v)
                )));
            };
            if n < 0 {
                return Err(Failure::runtime(format!(
                    "The SecondsPath parameter references a negative value: {} == {}",
                    p.as_str(),
                    n
                )));
            }
            now.saturating_add(n.saturating_mul(1000))
        }
        WaitSpec::Timestamp(t) => *t,
        WaitSpec::TimestampPath(p) => {
            let v = p.select(roots)?;
            match v.as_str().and_then(parse_timestamp) {
                Some(t) => t,
                None => {
                    return Err(Failure::runtime(format!(
                        "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {} == {}",
                        p.as_str(),
                        describe(&v)
                    )));
                }
            }
        }
    };
    if until.saturating_sub(now) > MAX_WAIT_MS {
        return Err(Failure::runtime("Wait state delay is too long."));
    }
    Ok(until)
}

/// A `…Seconds` / `…SecondsPath` value, which must be a positive integer.
fn seconds_value(s: &Seconds, roots: Roots<'_>, field: &str) -> Result<i64, Failure> {
    match s {
        Seconds::Literal(n) => Ok(*n),
        Seconds::Path(p) => {
            let v = p.select(roots)?;
            match v.as_i64() {
                Some(n) if n > 0 => Ok(n),
                _ => Err(Failure::runtime(format!(
                    "The {field} field refers to value \"{}\" which is not a valid positive integer: {}",
                    describe(&v),
                    p.as_str()
                ))),
            }
        }
    }
}

/// Checks `MaxConcurrency` (which does not change how items run here) and computes the
/// number of failed items tolerated, if any.
fn map_settings(spec: &MapSpec, roots: Roots<'_>, items: usize) -> Result<Option<usize>, Failure> {
    if let Some(Seconds::Path(p)) = &spec.max_concurrency {
        let v = p.select(roots)?;
        // AWS also takes an integer written as a string ("1").
        let parsed = v
            .as_u64()
            .or_else(|| v.as_str().and_then(|t| t.parse::<u64>().ok()));
        if parsed.is_none() {
            return Err(Failure::runtime(format!(
                "The MaxConcurrencyPath field refers to value \"{}\" which is not a valid integer: {}",
                describe(&v),
                p.as_str()
            )));
        }
    }
    let count = match &spec.tolerated_count {
        None => None,
        Some(Tolerance::Literal(n)) => Some(*n),
        Some(Tolerance::Path(p)) => {
            let v = p.select(roots)?;
            if !v.is_i64() && !v.is_u64() {
                return Err(Failure::runtime(format!(
                    "The ToleratedFailureCountPath field refers to value \"{}\" which is not a valid integer: {}",
                    describe(&v),
                    p.as_str()
                )));
            }
            let n = v.as_f64().unwrap_or(0.0);
            if n < 0.0 {
                return Err(Failure::runtime(
                    "ToleratedFailureCount cannot be negative.",
                ));
            }
            Some(n)
        }
    };
    let pct = match &spec.tolerated_percentage {
        None => None,
        Some(Tolerance::Literal(n)) => Some(*n),
        Some(Tolerance::Path(p)) => {
            let v = p.select(roots)?;
            let Some(n) = v.as_f64() else {
                return Err(Failure::runtime(format!(
                    "The ToleratedFailurePercentagePath field refers to value \"{}\" which is not a valid float: {}",
                    describe(&v),
                    p.as_str()
                )));
            };
            if !(0.0..=100.0).contains(&n) {
                return Err(Failure::runtime(
                    "ToleratedFailurePercentage must be between 0 and 100.",
                ));
            }
            Some(n)
        }
    };
    let by_pct = pct.map(|p| ((p / 100.0) * items as f64).floor() as usize);
    let by_count = count.map(|c| c as usize);
    Ok(match (by_count, by_pct) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    })
}
