//! How Task states reach the outside world: the [`TaskHandler`] trait (resource ARN and
//! effective input in; result, error, or "wait for a callback" out) and
//! [`ScriptedTaskHandler`], which answers from a recorded list (the conformance corpus'
//! task tier, tests, scenarios). AWS-facing simulations implement the same trait.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Failure, names};

/// What the engine tells a handler about one attempt of one Task state.
#[derive(Debug)]
pub struct TaskRequest<'a> {
    pub state: &'a str,
    pub resource: &'a str,
    /// The effective input: after `InputPath` and `Parameters`.
    pub input: &'a Value,
    /// The token this attempt answers to. For `.waitForTaskToken` resources it is also
    /// `$$.Task.Token`; any handler may return [`TaskOutcome::WaitForCallback`] and later
    /// complete the task through [`crate::Execution::send_task_success`] with it (that is
    /// how `.sync` jobs finish too).
    pub token: &'a str,
    pub credentials: Option<&'a Value>,
    /// 0 for the first attempt, then 1, 2… for retries.
    pub retry_count: u32,
    /// Simulated time of the attempt, ms since the epoch.
    pub now_ms: i64,
}

/// A handler's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskOutcome {
    Success(Value),
    Failure(Failure),
    /// The task stays open until a callback with the request's token arrives, its
    /// `TimeoutSeconds` or `HeartbeatSeconds` elapse, or the execution ends.
    WaitForCallback,
}

/// Executes Task states. Implementations must be deterministic for replay to hold.
pub trait TaskHandler {
    fn invoke(&mut self, request: &TaskRequest<'_>) -> TaskOutcome;
}

/// One scripted answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ScriptedResult {
    /// When set, the answer is only used for this state; otherwise for the next task.
    #[serde(default)]
    pub state: Option<String>,
    /// The task's result (absent when this answer is an error).
    #[serde(default)]
    pub result: Option<Value>,
    #[serde(default)]
    pub error: Option<String>,
    /// A string, or any JSON (serialised as AWS would print it).
    #[serde(default)]
    pub cause: Option<Value>,
    /// The history event AWS recorded (`TaskTimedOut` makes a callback task wait for its
    /// timeout on the virtual clock instead of failing at once).
    #[serde(default)]
    pub event: Option<String>,
}

/// Answers tasks from a list, in order; an answer naming a state is kept for that state, so
/// scripts stay valid whatever order parallel branches run in.
#[derive(Debug, Clone, Default)]
pub struct ScriptedTaskHandler {
    answers: VecDeque<ScriptedResult>,
}

/// Error name used when the script has no answer left for a task.
pub const SCRIPT_EXHAUSTED: &str = "Approvalc.ScriptExhausted";

impl ScriptedTaskHandler {
    pub fn new(answers: impl IntoIterator<Item = ScriptedResult>) -> Self {
        Self {
            answers: answers.into_iter().collect(),
        }
    }

    /// Reads a JSON array of [`ScriptedResult`]s.
    pub fn from_json(value: &Value) -> Result<Self, serde_json::Error> {
        let answers: Vec<ScriptedResult> = serde_json::from_value(value.clone())?;
        Ok(Self::new(answers))
    }

    /// Answers not used yet.
    pub fn remaining(&self) -> usize {
        self.answers.len()
    }

    fn take(&mut self, state: &str) -> Option<ScriptedResult> {
        let pos = self
            .answers
            .iter()
            .position(|a| a.state.as_deref().is_none_or(|s| s == state))?;
        self.answers.remove(pos)
    }
}

impl TaskHandler for ScriptedTaskHandler {
    fn invoke(&mut self, request: &TaskRequest<'_>) -> TaskOutcome {
        let Some(answer) = self.take(request.state) else {
            return TaskOutcome::Failure(Failure::new(
                SCRIPT_EXHAUSTED,
                format!("no scripted result left for state `{}`", request.state),
            ));
        };
        let failed = answer.event.as_deref() == Some("TaskFailed");
        if answer.error.is_some() || failed {
            let error = answer.error.unwrap_or_default();
            let timed_out =
                error == names::TIMEOUT || answer.event.as_deref() == Some("TaskTimedOut");
            if timed_out {
                // Let the engine's own timers produce the timeout, as AWS would.
                return TaskOutcome::WaitForCallback;
            }
            let cause = answer.cause.map(|c| match c {
                Value::String(s) => s,
                other => other.to_string(),
            });
            return TaskOutcome::Failure(Failure { error, cause });
        }
        TaskOutcome::Success(answer.result.unwrap_or(Value::Null))
    }
}
