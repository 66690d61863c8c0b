//! Errors: [`LoadError`] for definitions the engine refuses, [`Failure`] for the named
//! runtime errors ASL states raise (what `Retry`/`Catch` match), and [`EngineError`] for
//! misuse of the driving API (unknown task token, resuming a finished execution).

use serde::{Deserialize, Serialize};

/// A definition the engine will not run: invalid ASL, or valid ASL it does not support.
/// Always names where the problem is, so a user can find the field in their document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct LoadError {
    /// JSON location of the state, e.g. `States.Check` or `States.Fan.Branches[1].States.A`;
    /// empty for top-level fields.
    pub location: String,
    /// The state's name, when the problem is inside a state.
    pub state: Option<String>,
    /// The offending field (`ResultPath`, `Choices[2].Variable`, …).
    pub field: Option<String>,
    pub message: String,
}

impl LoadError {
    pub(crate) fn new(at: &Location, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            location: at.path.clone(),
            state: at.state.clone(),
            field: Some(field.into()),
            message: message.into(),
        }
    }

    fn render(&self) -> String {
        let mut out = String::new();
        if let Some(state) = &self.state {
            out.push_str(&format!("state `{state}`"));
        } else {
            out.push_str("definition");
        }
        if let Some(field) = &self.field {
            out.push_str(&format!(", field `{field}`"));
        }
        if !self.location.is_empty() {
            out.push_str(&format!(" (at {})", self.location));
        }
        out.push_str(": ");
        out.push_str(&self.message);
        out
    }
}

/// Where the loader is in the definition; carried down so every error can name its state.
#[derive(Debug, Clone, Default)]
pub(crate) struct Location {
    pub path: String,
    pub state: Option<String>,
}

impl Location {
    pub fn state(&self, name: &str) -> Location {
        let path = if self.path.is_empty() {
            format!("States.{name}")
        } else {
            format!("{}.States.{name}", self.path)
        };
        Location {
            path,
            state: Some(name.to_owned()),
        }
    }

    pub fn child(&self, suffix: &str) -> Location {
        Location {
            path: format!("{}.{suffix}", self.path),
            state: self.state.clone(),
        }
    }
}

/// A runtime error with the name AWS gives it (`States.Runtime`, `States.Timeout`, a Lambda's
/// exception name…) and its cause. This is the value `Retry` and `Catch` match on.
/// An empty `error` stands for "no name given" (`SendTaskFailure` without `error`), which
/// AWS passes on as `"Error": null`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub error: String,
    pub cause: Option<String>,
}

impl Failure {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            cause: Some(cause.into()),
        }
    }

    pub fn runtime(cause: impl Into<String>) -> Self {
        Self::new(names::RUNTIME, cause)
    }

    /// The JSON a `Catch` passes on: `{"Error": …, "Cause": …}` (no `Cause` key when AWS
    /// has none).
    pub fn to_catch_output(&self) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        if self.error.is_empty() {
            // What AWS passes on for a failure sent with neither error nor cause.
            map.insert("Error".into(), serde_json::Value::Null);
            map.insert(
                "Cause".into(),
                self.cause
                    .clone()
                    .map_or(serde_json::Value::Null, Into::into),
            );
            return serde_json::Value::Object(map);
        }
        map.insert("Error".into(), self.error.clone().into());
        if let Some(cause) = &self.cause {
            map.insert("Cause".into(), cause.clone().into());
        }
        serde_json::Value::Object(map)
    }
}

/// Error names defined by the States language.
pub mod names {
    pub const ALL: &str = "States.ALL";
    pub const RUNTIME: &str = "States.Runtime";
    pub const TIMEOUT: &str = "States.Timeout";
    pub const HEARTBEAT_TIMEOUT: &str = "States.HeartbeatTimeout";
    pub const TASK_FAILED: &str = "States.TaskFailed";
    pub const DATA_LIMIT: &str = "States.DataLimitExceeded";
    pub const BRANCH_FAILED: &str = "States.BranchFailed";
    pub const RESULT_PATH_MATCH_FAILURE: &str = "States.ResultPathMatchFailure";
    pub const PARAMETER_PATH_FAILURE: &str = "States.ParameterPathFailure";
    pub const INTRINSIC_FAILURE: &str = "States.IntrinsicFailure";
    pub const EXCEED_TOLERATED_FAILURE: &str = "States.ExceedToleratedFailureThreshold";
    pub const ITEM_READER_FAILED: &str = "States.ItemReaderFailed";
}

/// Misuse of the driving API, as opposed to a failure inside the execution.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    #[error("no task is waiting for token `{0}` (unknown, already answered, or timed out)")]
    UnknownToken(String),
    #[error("the execution has already finished")]
    Finished,
    #[error("the clock cannot go back: now {now_ms} ms, asked for {to_ms} ms")]
    ClockBackwards { now_ms: i64, to_ms: i64 },
    #[error("snapshot does not match the definition: {0}")]
    BadSnapshot(String),
}
