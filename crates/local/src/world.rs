//! [`World`]: one run of a deployed workflow in the simulated AWS. It owns the parent
//! execution, every child execution, the simulated services and the event bus, and drives
//! them with a thin loop ([`World::settle`]) until nothing can move without a decision or a
//! timer ([`World::next_timer_ms`], [`World::advance_to`]). Decisions come in through
//! [`World::decide`]; they change the simulated SSM / CodePipeline state, whose events reach
//! the runtime handlers through the bus, exactly as on AWS.

use std::collections::BTreeSet;
use std::sync::Arc;

use approvalc_engine::{Execution, ExecutionConfig, Machine, Snapshot, Status};
use approvalc_runtime::item::AttrValue;
use approvalc_runtime::{Config, Ctx};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::deployment::Deployment;
use crate::error::LocalError;
use crate::iam;
use crate::ports::{Delivery, Ports, block_on};
use crate::services::{AutomationState, BusEvent, Services, Signal, Verdict};
use crate::tasks::{StartRequest, Tasks};

/// How a run starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunConfig {
    /// The parent execution's name.
    pub run_id: String,
    /// Who started the run (`$.requester` of the parent input).
    pub requester: String,
    /// Seeds `States.UUID` and every simulated id: the same seed gives the same run.
    pub seed: u64,
    /// Simulated start, ms since the epoch (the caller decides; nothing here reads a clock).
    pub start_ms: i64,
    /// Keep execution histories (off for benchmarks).
    pub record_history: bool,
    /// Action automations succeed by themselves (interactive runs); when off, a decision
    /// completes them (simulations).
    pub auto_actions: bool,
}

/// What we know about one execution besides the engine's own state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecMeta {
    pub account_id: String,
    pub machine_name: String,
    pub name: String,
    pub role_arn: String,
    /// `(parent index, task token)` of the `.sync:2` task waiting on this child.
    pub parent: Option<(usize, String)>,
    /// The stage and attempt a child runs (from its input).
    pub stage: Option<String>,
    pub attempt: Option<String>,
    /// The end was reported (event published, parent told).
    pub ended: bool,
    /// Start time and input, for `DescribeExecution`.
    #[serde(default)]
    pub start_ms: i64,
    #[serde(default)]
    pub input: Value,
}

struct Entry {
    meta: ExecMeta,
    exec: Execution,
}

/// One handler invocation, for `status --events` and the idempotency tests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandlerCall {
    pub at_ms: i64,
    pub function: String,
    pub account_id: String,
    pub report: Value,
}

/// The persistent form of a [`World`] (the deployment is rebuilt from the artifacts).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorldState {
    pub config: RunConfig,
    pub now_ms: i64,
    pub execs: Vec<(ExecMeta, Snapshot)>,
    pub svc: Services,
    pub calls: Vec<HandlerCall>,
}

/// A running (or finished) local run.
pub struct World {
    deployment: Arc<Deployment>,
    config: RunConfig,
    now_ms: i64,
    execs: Vec<Entry>,
    svc: Services,
    starts: Vec<StartRequest>,
    calls: Vec<HandlerCall>,
}

/// A decision someone can take now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pending {
    pub stage: String,
    pub attempt: String,
    pub account: String,
    /// `ssm`, `codepipeline` or `action`.
    pub kind: String,
    /// Principals who may still act.
    pub may_act: Vec<String>,
    /// Signals already given (SSM approvals short of `min_approvals`).
    pub decided_by: Vec<String>,
    pub min_approvals: usize,
    pub since_ms: i64,
    pub expires_ms: Option<i64>,
    /// Automation execution id or pipeline execution id.
    pub request_id: String,
    pub message: Option<String>,
}

const SKIP_SUFFIX: &str = "_Skip";

fn mix(seed: u64, text: &str) -> u64 {
    text.bytes().fold(seed ^ 0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl World {
    /// Starts a run: checks the input against the manifest's patterns, starts the parent
    /// and settles.
    pub fn start(
        deployment: Arc<Deployment>,
        input: Value,
        config: RunConfig,
    ) -> Result<Self, LocalError> {
        check_input(&deployment, &input)?;
        let manifest = &deployment.manifest;
        let exec_config = ExecutionConfig {
            state_machine_name: manifest.parent.name.clone(),
            execution_name: config.run_id.clone(),
            account: manifest.home.id.clone(),
            region: manifest.region.clone(),
            role_arn: manifest.parent.role_arn.clone(),
            start_time_ms: config.start_ms,
            seed: config.seed,
            record_history: config.record_history,
            ..ExecutionConfig::default()
        };
        let parent_input = json!({"input": input, "requester": config.requester});
        let exec = Execution::start(deployment.parent.clone(), parent_input.clone(), exec_config);
        let meta = ExecMeta {
            account_id: manifest.home.id.clone(),
            machine_name: manifest.parent.name.clone(),
            name: config.run_id.clone(),
            role_arn: manifest.parent.role_arn.clone(),
            parent: None,
            stage: None,
            attempt: None,
            ended: false,
            start_ms: config.start_ms,
            input: parent_input,
        };
        let mut world = World {
            svc: Services::new(&manifest.region, config.seed),
            now_ms: config.start_ms,
            config,
            execs: vec![Entry { meta, exec }],
            starts: Vec::new(),
            calls: Vec::new(),
            deployment,
        };
        world.settle();
        Ok(world)
    }

    /// Rebuilds a world from its persisted state and the same deployment.
    pub fn restore(deployment: Arc<Deployment>, state: WorldState) -> Result<Self, LocalError> {
        let mut execs = Vec::with_capacity(state.execs.len());
        for (meta, snapshot) in state.execs {
            let machine = machine_for(&deployment, &meta)?;
            let exec = Execution::restore(machine, snapshot)
                .map_err(|e| LocalError::Store(format!("execution {}: {e}", meta.name)))?;
            execs.push(Entry { meta, exec });
        }
        Ok(World {
            deployment,
            config: state.config,
            now_ms: state.now_ms,
            execs,
            svc: state.svc,
            starts: Vec::new(),
            calls: state.calls,
        })
    }

    /// The persistent form.
    pub fn state(&self) -> WorldState {
        WorldState {
            config: self.config.clone(),
            now_ms: self.now_ms,
            execs: self
                .execs
                .iter()
                .map(|e| (e.meta.clone(), e.exec.snapshot().clone()))
                .collect(),
            svc: self.svc.clone(),
            calls: self.calls.clone(),
        }
    }

    pub fn deployment(&self) -> &Arc<Deployment> {
        &self.deployment
    }

    pub fn config(&self) -> &RunConfig {
        &self.config
    }

    pub fn now_ms(&self) -> i64 {
        self.now_ms
    }

    pub fn services(&self) -> &Services {
        &self.svc
    }

    pub fn handler_calls(&self) -> &[HandlerCall] {
        &self.calls
    }

    /// The parent execution's status.
    pub fn status(&self) -> &Status {
        self.execs
            .first()
            .map_or(&Status::Aborted, |e| e.exec.status())
    }

    pub fn is_finished(&self) -> bool {
        self.status().is_finished()
    }

    /// States entered over the parent and every child.
    pub fn transitions(&self) -> u64 {
        self.execs.iter().map(|e| e.exec.transitions()).sum()
    }

    /// `(meta, execution)` of every execution, parent first.
    pub fn executions(&self) -> impl Iterator<Item = (&ExecMeta, &Execution)> {
        self.execs.iter().map(|e| (&e.meta, &e.exec))
    }

    /// Runs everything that can run, starts requested children, reports ended children to
    /// their parents, stops orphans and delivers events, until nothing moves.
    pub fn settle(&mut self) {
        loop {
            let mut moved = false;
            for i in 0..self.execs.len() {
                self.run_exec(i);
            }
            for request in std::mem::take(&mut self.starts) {
                self.start_child(request);
                moved = true;
            }
            moved |= self.report_ends();
            moved |= self.stop_orphans();
            moved |= self.auto_complete_actions();
            moved |= self.deliver_events();
            if !moved {
                break;
            }
        }
    }

    /// The earliest timer of any execution or service.
    pub fn next_timer_ms(&self) -> Option<i64> {
        let execs = self
            .execs
            .iter()
            .filter(|e| !e.exec.status().is_finished())
            .filter_map(|e| e.exec.next_timer_ms());
        execs.chain(self.svc.next_timer_ms()).min()
    }

    /// Moves simulated time to `to_ms` (never backwards), firing what is due, and settles.
    /// Timers fire in order: the clock stops at each one on the way.
    pub fn advance_to(&mut self, to_ms: i64) {
        while let Some(at) = self.next_timer_ms().filter(|t| *t <= to_ms) {
            self.step_clock(at.max(self.now_ms));
            if self.is_finished() {
                break;
            }
        }
        if to_ms > self.now_ms {
            self.step_clock(to_ms);
        }
    }

    fn step_clock(&mut self, at: i64) {
        self.now_ms = at;
        self.svc.fire_timers(at);
        for i in 0..self.execs.len() {
            self.with_tasks(i, |exec, tasks| {
                if !exec.status().is_finished() && exec.now_ms() <= at {
                    let _ = exec.advance_clock(at, tasks);
                }
            });
        }
        self.settle();
    }

    fn with_tasks<R>(
        &mut self,
        i: usize,
        f: impl FnOnce(&mut Execution, &mut Tasks<'_>) -> R,
    ) -> Option<R> {
        let World {
            deployment,
            execs,
            svc,
            starts,
            ..
        } = self;
        let entry = execs.get_mut(i)?;
        // A part's own ARN (the `sts:ExternalId` its cross-account stages' roles trust).
        let machine_arn = match deployment.part(&entry.meta.machine_name) {
            Some(part) if entry.meta.account_id == deployment.manifest.home.id => part.arn.clone(),
            _ => format!(
                "arn:aws:states:{}:{}:stateMachine:{}",
                deployment.manifest.region, entry.meta.account_id, entry.meta.machine_name
            ),
        };
        let mut tasks = Tasks {
            deployment,
            svc,
            starts,
            exec_index: i,
            account_id: &entry.meta.account_id,
            role_arn: &entry.meta.role_arn,
            machine_arn: &machine_arn,
            execution_name: &entry.meta.name,
        };
        Some(f(&mut entry.exec, &mut tasks))
    }

    fn run_exec(&mut self, i: usize) {
        // Most executions of a big run have ended; skip them before building a handler.
        if self
            .execs
            .get(i)
            .is_none_or(|e| e.exec.status().is_finished())
        {
            return;
        }
        self.with_tasks(i, |exec, tasks| {
            exec.run(tasks);
        });
    }

    fn start_child(&mut self, request: StartRequest) {
        let duplicate = self.execs.iter().any(|e| {
            e.meta.account_id == request.account_id
                && e.meta.machine_name == request.machine_name
                && e.meta.name == request.name
        });
        let machine = self
            .deployment
            .account(&request.account_id)
            .and_then(|a| a.machines.get(&request.machine_name))
            .cloned();
        let Some(machine) = machine.filter(|_| !duplicate) else {
            let (error, cause) = if duplicate {
                (
                    "StepFunctions.ExecutionAlreadyExistsException",
                    format!("Execution Already Exists: '{}'", request.name),
                )
            } else {
                (
                    "StepFunctions.StateMachineDoesNotExistException",
                    format!("State Machine Does Not Exist: '{}'", request.machine_name),
                )
            };
            self.deliver(
                request.parent,
                &request.token,
                Err((error.to_owned(), cause)),
            );
            return;
        };
        let role_arn = self
            .deployment
            .execution_role(&request.account_id, &request.machine_name);
        let config = ExecutionConfig {
            state_machine_name: request.machine_name.clone(),
            execution_name: request.name.clone(),
            account: request.account_id.clone(),
            region: self.deployment.manifest.region.clone(),
            role_arn: role_arn.clone(),
            start_time_ms: self.now_ms,
            // Every execution of the run gets its own seed: the parts all share the run id
            // as their name, so the name alone would give them the same `States.UUID`s.
            seed: mix(
                self.config.seed,
                &format!(
                    "{}:{}:{}",
                    request.account_id, request.machine_name, request.name
                ),
            ),
            record_history: self.config.record_history,
            ..ExecutionConfig::default()
        };
        let text = |key: &str| {
            request
                .input
                .pointer(key)
                .and_then(Value::as_str)
                .map(ToOwned::to_owned)
        };
        let meta = ExecMeta {
            account_id: request.account_id.clone(),
            machine_name: request.machine_name.clone(),
            name: request.name.clone(),
            role_arn,
            parent: Some((request.parent, request.token.clone())),
            stage: text("/stage/id"),
            attempt: text("/stage/attempt"),
            ended: false,
            start_ms: self.now_ms,
            input: request.input.clone(),
        };
        let exec = Execution::start(machine, request.input, config);
        self.execs.push(Entry { meta, exec });
    }

    /// Tells parents about children that ended and publishes their status change.
    fn report_ends(&mut self) -> bool {
        let mut moved = false;
        for i in 0..self.execs.len() {
            let Some(entry) = self.execs.get_mut(i) else {
                continue;
            };
            if entry.meta.ended || !entry.exec.status().is_finished() {
                continue;
            }
            entry.meta.ended = true;
            moved = true;
            let Some((p, token)) = entry.meta.parent.clone() else {
                continue;
            };
            let detail = status_detail(&self.deployment, &entry.meta, &entry.exec);
            let result = sync_result(&self.deployment, &entry.meta, &entry.exec);
            let result = match entry.exec.status() {
                Status::Succeeded { .. } => Ok(result),
                _ => Err(("States.TaskFailed".to_owned(), result.to_string())),
            };
            let account = entry.meta.account_id.clone();
            self.svc.execution_changed(&account, detail, self.now_ms);
            self.deliver(p, &token, result);
        }
        moved
    }

    /// Stops children whose parent task no longer waits (the parent was stopped, a sibling
    /// branch failed, or the task timed out): Step Functions stops `.sync` children then.
    fn stop_orphans(&mut self) -> bool {
        let orphans: Vec<usize> = self
            .execs
            .iter()
            .enumerate()
            .filter(|(_, e)| !e.exec.status().is_finished())
            .filter(|(_, e)| {
                e.meta.parent.as_ref().is_some_and(|(p, token)| {
                    self.execs
                        .get(*p)
                        .is_none_or(|parent| !parent.exec.open_tokens().contains(token))
                })
            })
            .map(|(i, _)| i)
            .collect();
        for &i in &orphans {
            if let Some(entry) = self.execs.get_mut(i) {
                let _ = entry.exec.stop();
            }
        }
        !orphans.is_empty()
    }

    fn auto_complete_actions(&mut self) -> bool {
        if !self.config.auto_actions {
            return false;
        }
        let running: Vec<String> = self
            .svc
            .automations
            .values()
            .filter(|a| !a.approval && !a.state.is_terminal())
            .map(|a| a.id.clone())
            .collect();
        for id in &running {
            self.svc
                .end_automation(id, AutomationState::Success, None, self.now_ms);
        }
        !running.is_empty()
    }

    fn open_tokens(&self) -> BTreeSet<String> {
        self.execs
            .iter()
            .filter(|e| !e.exec.status().is_finished())
            .flat_map(|e| e.exec.open_tokens())
            .collect()
    }

    fn deliver(&mut self, target: usize, token: &str, result: Result<Value, (String, String)>) {
        self.with_tasks(target, |exec, tasks| {
            // A late answer (the task timed out or the run ended) is dropped, as AWS does.
            let _ = match result {
                Ok(output) => exec.send_task_success(token, output, tasks),
                Err((error, cause)) => {
                    exec.send_task_failure(token, Some(error), Some(cause), tasks)
                }
            };
        });
    }

    fn deliver_token(&mut self, token: &str, result: Result<Value, (String, String)>) {
        let target = self.execs.iter().position(|e| {
            !e.exec.status().is_finished() && e.exec.open_tokens().iter().any(|t| t == token)
        });
        if let Some(i) = target {
            self.deliver(i, token, result);
        }
    }

    /// Delivers queued bus events to the rules that match them.
    fn deliver_events(&mut self) -> bool {
        let events = std::mem::take(&mut self.svc.outbox);
        let moved = !events.is_empty();
        for event in events {
            self.publish(&event);
        }
        moved
    }

    /// Runs the Lambdas of every rule in the event's account that matches it.
    pub fn publish(&mut self, event: &BusEvent) {
        let functions: Vec<String> = self
            .deployment
            .account(&event.account_id)
            .map(|a| {
                a.rules
                    .iter()
                    .filter(|r| r.pattern.matches(&event.body))
                    .map(|r| r.function.clone())
                    .collect()
            })
            .unwrap_or_default();
        for function in functions {
            self.invoke(&function, &event.account_id, Some(&event.body));
        }
    }

    /// Re-delivers every event published so far (duplicate delivery, as EventBridge may do).
    pub fn redeliver_all(&mut self) {
        let events = self.svc.published.clone();
        for event in &events {
            self.publish(event);
        }
        self.settle();
    }

    /// Runs the scheduled reconciler in every bootstrapped account.
    pub fn reconcile(&mut self) {
        let accounts: Vec<String> = self
            .deployment
            .accounts
            .values()
            .filter(|a| a.bootstrapped)
            .map(|a| a.id.clone())
            .collect();
        for account in accounts {
            self.invoke("approvalc-reconciler", &account, None);
        }
        self.settle();
    }

    fn invoke(&mut self, function: &str, account_id: &str, event: Option<&Value>) {
        let open = self.open_tokens();
        let config = Config::for_account(account_id);
        let now = self.now_ms;
        let ports = Ports::new(&mut self.svc, open, account_id, now);
        let ctx = Ctx {
            config: &config,
            sfn: &ports,
            tokens: &ports,
            clock: &ports,
        };
        let empty = Value::Null;
        let event = event.unwrap_or(&empty);
        let report = match function {
            "approvalc-ssm-callback" => {
                block_on(approvalc_runtime::ssm_callback(ctx, &ports, event))
                    .map(|r| r.map(|r| serde_json::to_value(r).unwrap_or(Value::Null)))
            }
            "approvalc-codepipeline-callback" => {
                block_on(approvalc_runtime::codepipeline_callback(ctx, &ports, event))
                    .map(|r| r.map(|r| serde_json::to_value(r).unwrap_or(Value::Null)))
            }
            "approvalc-cleanup" => block_on(approvalc_runtime::cleanup(ctx, &ports, &ports, event))
                .map(|r| r.map(|r| serde_json::to_value(r).unwrap_or(Value::Null))),
            "approvalc-reconciler" => block_on(approvalc_runtime::reconcile(ctx, &ports, &ports))
                .map(|r| r.map(|r| serde_json::to_value(r).unwrap_or(Value::Null))),
            other => Some(Ok(json!({"result": "no_such_function", "function": other}))),
        };
        let report = match report {
            Some(Ok(value)) => value,
            Some(Err(e)) => json!({"result": "error", "error": e.to_string()}),
            None => json!({"result": "error", "error": "the handler did not finish"}),
        };
        let deliveries = ports.into_deliveries();
        self.calls.push(HandlerCall {
            at_ms: now,
            function: function.to_owned(),
            account_id: account_id.to_owned(),
            report,
        });
        for delivery in deliveries {
            match delivery {
                Delivery::Success { token, output } => self.deliver_token(&token, Ok(output)),
                Delivery::Failure {
                    token,
                    error,
                    cause,
                } => self.deliver_token(&token, Err((error, cause))),
            }
        }
    }

    /// `StopExecution` of the parent; its children stop with it.
    pub fn stop(&mut self) -> bool {
        let stopped = self
            .execs
            .first_mut()
            .is_some_and(|e| e.exec.stop().is_ok());
        self.settle();
        stopped
    }

    /// Every decision that can be taken now.
    pub fn pending(&self) -> Vec<Pending> {
        let mut out = Vec::new();
        for (account_id, table) in &self.svc.tables {
            let account_name = self
                .deployment
                .account(account_id)
                .map_or_else(|| account_id.clone(), |a| a.name.clone());
            for item in table.values().filter(|i| !i.is_decided()) {
                let s = |k: &str| match item.0.get(k) {
                    Some(AttrValue::S(v)) => v.clone(),
                    _ => String::new(),
                };
                let base = Pending {
                    stage: s("stage_id"),
                    attempt: s("attempt"),
                    account: account_name.clone(),
                    kind: s("kind"),
                    may_act: Vec::new(),
                    decided_by: Vec::new(),
                    min_approvals: 1,
                    since_ms: 0,
                    expires_ms: None,
                    request_id: String::new(),
                    message: None,
                };
                if let Some(p) = self.pending_item(base, &s) {
                    out.push(p);
                }
            }
        }
        out.sort_by(|a, b| (a.since_ms, &a.stage).cmp(&(b.since_ms, &b.stage)));
        out
    }

    fn pending_item(&self, mut p: Pending, s: &dyn Fn(&str) -> String) -> Option<Pending> {
        if p.kind == "codepipeline" {
            let run = self.svc.pipelines.get(&s("pipeline_execution_id"))?;
            if run.action_status != "InProgress" {
                return None;
            }
            p.may_act = self.pipeline_approvers(&run.account_id, &run.pipeline);
            p.since_ms = run.started_ms;
            p.expires_ms = Some(run.expires_at_ms);
            p.request_id = run.execution_id.clone();
            p.message = run.variables.get("custom_data").cloned();
            return Some(p);
        }
        let a = self.svc.automations.get(&s("automation_execution_id"))?;
        if a.state.is_terminal() {
            return None;
        }
        p.decided_by = a.signals.iter().map(|x| x.approver.clone()).collect();
        p.may_act = a
            .approvers
            .iter()
            .filter(|x| !p.decided_by.contains(x))
            .cloned()
            .collect();
        p.min_approvals = a.min_approvals;
        p.since_ms = a.started_ms;
        // The stage's own timeout (the child enforces it), else the step's.
        let stage_timeout = a
            .parameters
            .get("TimeoutSeconds")
            .and_then(|t| t.first())
            .and_then(|t| t.parse::<i64>().ok());
        p.expires_ms = stage_timeout
            .map(|s| a.started_ms + s * 1000)
            .or(a.timeout_at_ms);
        p.request_id = a.id.clone();
        p.message = a.parameters.get("Message").and_then(|m| m.first()).cloned();
        Some(p)
    }

    /// Principals whose attached policies allow `PutApprovalResult` on the approval action.
    fn pipeline_approvers(&self, account_id: &str, pipeline: &str) -> Vec<String> {
        let action_arn = format!(
            "arn:aws:codepipeline:{}:{account_id}:{pipeline}/Approval/Approve",
            self.deployment.manifest.region
        );
        let Some(account) = self.deployment.account(account_id) else {
            return Vec::new();
        };
        let mut out: Vec<String> = account
            .policies
            .iter()
            .filter(|p| iam::allows([&p.document], "codepipeline:PutApprovalResult", &action_arn))
            .flat_map(|p| p.attach_to.iter().cloned())
            .collect();
        out.dedup();
        out
    }

    /// `principal` approves or rejects the pending request of `stage`: `SendAutomationSignal`
    /// for SSM, `PutApprovalResult` for CodePipeline. Only listed principals may act.
    pub fn decide(
        &mut self,
        stage: &str,
        verdict: Verdict,
        principal: &str,
        comment: Option<String>,
    ) -> Result<(), LocalError> {
        let pending = self.pending();
        let Some(p) = pending.iter().find(|p| p.stage == stage) else {
            return Err(LocalError::NothingPending {
                stage: stage.to_owned(),
                known: pending.iter().map(|p| p.stage.clone()).collect(),
            });
        };
        if p.kind == "action" {
            return Err(LocalError::ActionStage {
                stage: stage.to_owned(),
            });
        }
        if p.decided_by.iter().any(|d| d == principal) {
            return Err(LocalError::AlreadyDecided {
                stage: stage.to_owned(),
                principal: principal.to_owned(),
            });
        }
        if !p.may_act.iter().any(|m| m == principal) {
            return Err(LocalError::NotAnApprover {
                stage: stage.to_owned(),
                principal: principal.to_owned(),
                may: p.may_act.clone(),
            });
        }
        let now = self.now_ms;
        if p.kind == "codepipeline" {
            let status = match verdict {
                Verdict::Approve => "Succeeded",
                Verdict::Reject => "Failed",
            };
            self.svc.end_approval(
                &p.request_id,
                status,
                Some(principal.to_owned()),
                comment,
                None,
                now,
            );
        } else {
            let signal = Signal {
                approver: principal.to_owned(),
                verdict,
                comment,
                at_ms: now,
            };
            self.svc.signal(&p.request_id, signal);
        }
        self.settle();
        Ok(())
    }

    /// Ends the automation of an action stage (simulations decide what it does).
    pub fn complete_action(
        &mut self,
        stage: &str,
        success: bool,
        message: Option<String>,
    ) -> Result<(), LocalError> {
        let pending = self.pending();
        let Some(p) = pending
            .iter()
            .find(|p| p.stage == stage && p.kind == "action")
        else {
            return Err(LocalError::NothingPending {
                stage: stage.to_owned(),
                known: pending.iter().map(|p| p.stage.clone()).collect(),
            });
        };
        let (state, message) = if success {
            (AutomationState::Success, None)
        } else {
            (
                AutomationState::Failed,
                Some(message.unwrap_or_else(|| "the automation failed".into())),
            )
        };
        let now = self.now_ms;
        self.svc.end_automation(&p.request_id, state, message, now);
        self.settle();
        Ok(())
    }

    /// Stage ids that the parent or a part skipped (`when` was false), from their histories.
    pub fn skipped_stages(&self) -> BTreeSet<String> {
        self.execs
            .iter()
            .filter(|e| e.meta.parent.is_none() || self.is_part(&e.meta))
            .flat_map(|e| {
                let history = e.exec.history_json();
                history
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|e| {
                        e.pointer("/stateEnteredEventDetails/name")
                            .and_then(Value::as_str)
                    })
                    .filter_map(|name| name.strip_suffix(SKIP_SUFFIX))
                    .map(ToOwned::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// The execution is one of the run's part machines (home account, a name in
    /// `manifest.parts`).
    fn is_part(&self, meta: &ExecMeta) -> bool {
        meta.account_id == self.deployment.manifest.home.id
            && self.deployment.part(&meta.machine_name).is_some()
    }

    /// The stage records of a machine of the run (`None`: the parent, else a part name) once
    /// it succeeded: `$.stages` of its output. `Part_<n>` summaries are in there too; callers
    /// look up stage keys only.
    pub fn machine_records(&self, part: Option<&str>) -> Option<&serde_json::Map<String, Value>> {
        let entry = match part {
            None => self.execs.first(),
            Some(name) => self
                .execs
                .iter()
                .rev()
                .find(|e| e.meta.machine_name == name && self.is_part(&e.meta)),
        }?;
        match entry.exec.status() {
            Status::Succeeded { output } => output.get("stages").and_then(Value::as_object),
            _ => None,
        }
    }
}

fn machine_for(deployment: &Deployment, meta: &ExecMeta) -> Result<Arc<Machine>, LocalError> {
    if meta.parent.is_none() {
        return Ok(deployment.parent.clone());
    }
    deployment
        .account(&meta.account_id)
        .and_then(|a| a.machines.get(&meta.machine_name))
        .cloned()
        .ok_or_else(|| {
            LocalError::Store(format!(
                "machine {} is not deployed in {}",
                meta.machine_name, meta.account_id
            ))
        })
}

/// The ARNs of an execution: `(state machine, execution)`.
fn arns(deployment: &Deployment, meta: &ExecMeta) -> (String, String) {
    let region = &deployment.manifest.region;
    (
        format!(
            "arn:aws:states:{region}:{}:stateMachine:{}",
            meta.account_id, meta.machine_name
        ),
        format!(
            "arn:aws:states:{region}:{}:execution:{}:{}",
            meta.account_id, meta.machine_name, meta.name
        ),
    )
}

/// `DescribeExecution` as a `.sync:2` task returns it: PascalCase, `Input` and `Output` as
/// JSON (`.sync` would give strings).
fn sync_result(deployment: &Deployment, meta: &ExecMeta, exec: &Execution) -> Value {
    let (machine_arn, execution_arn) = arns(deployment, meta);
    let mut out = json!({
        "ExecutionArn": execution_arn,
        "StateMachineArn": machine_arn,
        "Name": meta.name,
        "Status": exec.status().name(),
        "StartDate": meta.start_ms,
        "StopDate": exec.now_ms(),
        "Input": meta.input,
        "InputDetails": {"Included": true},
    });
    match exec.status() {
        Status::Succeeded { output } => {
            out["Output"] = output.clone();
            out["OutputDetails"] = json!({"Included": true});
        }
        Status::Failed { error, cause } | Status::TimedOut { error, cause } => {
            out["Error"] = json!(error);
            out["Cause"] = json!(cause);
        }
        _ => {}
    }
    out
}

/// The detail of `Step Functions Execution Status Change`: camelCase, `input` and `output`
/// as JSON text, as EventBridge delivers it.
fn status_detail(deployment: &Deployment, meta: &ExecMeta, exec: &Execution) -> Value {
    let (machine_arn, execution_arn) = arns(deployment, meta);
    let (output, error, cause) = match exec.status() {
        Status::Succeeded { output } => (Some(output.to_string()), None, None),
        Status::Failed { error, cause } | Status::TimedOut { error, cause } => {
            (None, Some(error.clone()), cause.clone())
        }
        _ => (None, None, None),
    };
    json!({
        "executionArn": execution_arn,
        "stateMachineArn": machine_arn,
        "name": meta.name,
        "status": exec.status().name(),
        "startDate": meta.start_ms,
        "stopDate": exec.now_ms(),
        "input": meta.input.to_string(),
        "output": output,
        "inputDetails": {"included": true},
        "outputDetails": output.as_ref().map(|_| json!({"included": true})),
        "error": error,
        "cause": cause,
    })
}

/// The manifest's `input_patterns` (Step Functions cannot check them; the engine does,
/// before the run starts, as `approvalc start` does).
fn check_input(deployment: &Deployment, input: &Value) -> Result<(), LocalError> {
    if !input.is_object() {
        return Err(LocalError::Input(
            "the run input must be a JSON object".into(),
        ));
    }
    for p in &deployment.manifest.input_patterns {
        let Some(value) = input.get(&p.field).and_then(Value::as_str) else {
            continue;
        };
        let re = regex::Regex::new(&p.pattern)
            .map_err(|e| LocalError::Artifacts(format!("pattern of `{}`: {e}", p.field)))?;
        if !re.is_match(value) {
            return Err(LocalError::Input(format!(
                "`{}` = {value:?} does not match the pattern {}",
                p.field, p.pattern
            )));
        }
    }
    Ok(())
}
