//! The state machine, its states and their shared pieces.

use indexmap::IndexMap;
use serde::de::{self, Deserializer};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ChoiceRule, Payload};

/// A whole definition: `StartAt` and the top-level `States`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateMachine {
    #[serde(rename = "Comment", default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(rename = "StartAt")]
    pub start_at: String,
    #[serde(rename = "States")]
    pub states: IndexMap<String, State>,
    #[serde(
        rename = "TimeoutSeconds",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub timeout_seconds: Option<u64>,
    #[serde(rename = "Version", default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Read so that a JSONata definition can be told apart; approvalc never emits it.
    #[serde(
        rename = "QueryLanguage",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub query_language: Option<String>,
}

impl StateMachine {
    pub fn new(start_at: impl Into<String>, states: IndexMap<String, State>) -> Self {
        Self {
            comment: None,
            start_at: start_at.into(),
            states,
            timeout_seconds: None,
            version: None,
            query_language: None,
        }
    }
}

/// A `Parallel` branch or a `Map` item processor: its own `StartAt` and `States`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Branch {
    #[serde(rename = "Comment", default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Only for `Map` item processors (`{"Mode": "INLINE"}`).
    #[serde(
        rename = "ProcessorConfig",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub processor_config: Option<Value>,
    #[serde(rename = "StartAt")]
    pub start_at: String,
    #[serde(rename = "States")]
    pub states: IndexMap<String, State>,
}

impl Branch {
    pub fn new(start_at: impl Into<String>, states: IndexMap<String, State>) -> Self {
        Self {
            comment: None,
            processor_config: None,
            start_at: start_at.into(),
            states,
        }
    }
}

/// Every state type, tagged by `Type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "Type")]
pub enum State {
    Pass(PassState),
    Task(Box<TaskState>),
    Choice(ChoiceState),
    Wait(WaitState),
    Succeed(SucceedState),
    Fail(FailState),
    Parallel(Box<ParallelState>),
    Map(Box<MapState>),
}

impl State {
    /// The states this state can move to (`Next`, `Default`, choice and catch targets).
    pub fn targets(&self) -> Vec<&str> {
        fn push_transition<'a>(out: &mut Vec<&'a str>, t: &'a Transition) {
            if let Transition::Next(next) = t {
                out.push(next.as_str());
            }
        }
        let mut out = Vec::new();
        match self {
            State::Pass(s) => push_transition(&mut out, &s.transition),
            State::Wait(s) => push_transition(&mut out, &s.transition),
            State::Task(s) => {
                push_transition(&mut out, &s.transition);
                out.extend(s.catch.iter().map(|c| c.next.as_str()));
            }
            State::Parallel(s) => {
                push_transition(&mut out, &s.transition);
                out.extend(s.catch.iter().map(|c| c.next.as_str()));
            }
            State::Map(s) => {
                push_transition(&mut out, &s.transition);
                out.extend(s.catch.iter().map(|c| c.next.as_str()));
            }
            State::Choice(s) => {
                out.extend(s.choices.iter().map(|c| c.next.as_str()));
                out.extend(s.default.as_deref());
            }
            State::Succeed(_) | State::Fail(_) => {}
        }
        out
    }

    /// Nested branches (`Parallel` branches, the `Map` item processor).
    pub fn branches(&self) -> Vec<&Branch> {
        match self {
            State::Parallel(s) => s.branches.iter().collect(),
            State::Map(s) => vec![&s.item_processor],
            _ => Vec::new(),
        }
    }
}

/// Where a state goes next: a named state or the end of its scope.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Transition {
    Next(String),
    #[default]
    End,
}

impl Transition {
    pub fn next(name: impl Into<String>) -> Self {
        Transition::Next(name.into())
    }
}

impl Serialize for Transition {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        match self {
            Transition::Next(next) => map.serialize_entry("Next", next)?,
            Transition::End => map.serialize_entry("End", &true)?,
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Transition {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(rename = "Next")]
            next: Option<String>,
            #[serde(rename = "End")]
            end: Option<bool>,
        }
        let raw = Raw::deserialize(deserializer)?;
        match (raw.next, raw.end) {
            (Some(next), None | Some(false)) => Ok(Transition::Next(next)),
            (None, Some(true)) => Ok(Transition::End),
            (Some(_), Some(true)) => {
                Err(de::Error::custom("a state cannot have both Next and End"))
            }
            (None, _) => Err(de::Error::custom("a state needs Next or \"End\": true")),
        }
    }
}

/// `ResultPath`/`InputPath`/`OutputPath` distinguish "absent" (default `$`) from `null`
/// (discard); `Option<Option<String>>` keeps both.
mod nullable {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        value: &Option<Option<String>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(Some(path)) => serializer.serialize_str(path),
            _ => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Ok(Some(Option::<String>::deserialize(deserializer)?))
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PassState {
    #[serde(rename = "Comment", default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(
        rename = "InputPath",
        default,
        skip_serializing_if = "Option::is_none",
        with = "nullable"
    )]
    pub input_path: Option<Option<String>>,
    #[serde(
        rename = "Parameters",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub parameters: Option<Payload>,
    #[serde(rename = "Result", default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(
        rename = "ResultPath",
        default,
        skip_serializing_if = "Option::is_none",
        with = "nullable"
    )]
    pub result_path: Option<Option<String>>,
    #[serde(
        rename = "OutputPath",
        default,
        skip_serializing_if = "Option::is_none",
        with = "nullable"
    )]
    pub output_path: Option<Option<String>>,
    #[serde(flatten)]
    pub transition: Transition,
}

/// How long a Task may run: a fixed number of seconds or a path to one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Timeout {
    #[serde(rename = "TimeoutSeconds")]
    Seconds(u64),
    #[serde(rename = "TimeoutSecondsPath")]
    Path(String),
}

/// Heartbeat interval of a Task: fixed or from a path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Heartbeat {
    #[serde(rename = "HeartbeatSeconds")]
    Seconds(u64),
    #[serde(rename = "HeartbeatSecondsPath")]
    Path(String),
}

/// `Credentials` of a Task: the role to assume, fixed or computed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Credentials {
    #[serde(rename = "RoleArn")]
    RoleArn(String),
    #[serde(rename = "RoleArn.$")]
    RoleArnPath(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskState {
    #[serde(rename = "Comment", default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(rename = "Resource")]
    pub resource: String,
    #[serde(
        rename = "Credentials",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub credentials: Option<Credentials>,
    #[serde(
        rename = "InputPath",
        default,
        skip_serializing_if = "Option::is_none",
        with = "nullable"
    )]
    pub input_path: Option<Option<String>>,
    #[serde(
        rename = "Parameters",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub parameters: Option<Payload>,
    #[serde(
        rename = "ResultSelector",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub result_selector: Option<Payload>,
    #[serde(
        rename = "ResultPath",
        default,
        skip_serializing_if = "Option::is_none",
        with = "nullable"
    )]
    pub result_path: Option<Option<String>>,
    #[serde(
        rename = "OutputPath",
        default,
        skip_serializing_if = "Option::is_none",
        with = "nullable"
    )]
    pub output_path: Option<Option<String>>,
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Timeout>,
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub heartbeat: Option<Heartbeat>,
    #[serde(rename = "Retry", default, skip_serializing_if = "Vec::is_empty")]
    pub retry: Vec<Retrier>,
    #[serde(rename = "Catch", default, skip_serializing_if = "Vec::is_empty")]
    pub catch: Vec<Catcher>,
    #[serde(flatten)]
    pub transition: Transition,
}

impl TaskState {
    /// A Task with only `Resource` and a transition; set the other fields directly.
    pub fn new(resource: impl Into<String>, transition: Transition) -> Self {
        Self {
            comment: None,
            resource: resource.into(),
            credentials: None,
            input_path: None,
            parameters: None,
            result_selector: None,
            result_path: None,
            output_path: None,
            timeout: None,
            heartbeat: None,
            retry: Vec::new(),
            catch: Vec::new(),
            transition,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChoiceState {
    #[serde(rename = "Comment", default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(
        rename = "InputPath",
        default,
        skip_serializing_if = "Option::is_none",
        with = "nullable"
    )]
    pub input_path: Option<Option<String>>,
    #[serde(
        rename = "OutputPath",
        default,
        skip_serializing_if = "Option::is_none",
        with = "nullable"
    )]
    pub output_path: Option<Option<String>>,
    #[serde(rename = "Choices")]
    pub choices: Vec<ChoiceRule>,
    #[serde(rename = "Default", default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

impl ChoiceState {
    pub fn new(choices: Vec<ChoiceRule>, default: Option<String>) -> Self {
        Self {
            comment: None,
            input_path: None,
            output_path: None,
            choices,
            default,
        }
    }
}

/// What a Wait state waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum WaitFor {
    Seconds(u64),
    SecondsPath(String),
    Timestamp(String),
    TimestampPath(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WaitState {
    #[serde(rename = "Comment", default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(
        rename = "InputPath",
        default,
        skip_serializing_if = "Option::is_none",
        with = "nullable"
    )]
    pub input_path: Option<Option<String>>,
    #[serde(flatten)]
    pub wait: WaitFor,
    #[serde(
        rename = "OutputPath",
        default,
        skip_serializing_if = "Option::is_none",
        with = "nullable"
    )]
    pub output_path: Option<Option<String>>,
    #[serde(flatten)]
    pub transition: Transition,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SucceedState {
    #[serde(rename = "Comment", default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(
        rename = "InputPath",
        default,
        skip_serializing_if = "Option::is_none",
        with = "nullable"
    )]
    pub input_path: Option<Option<String>>,
    #[serde(
        rename = "OutputPath",
        default,
        skip_serializing_if = "Option::is_none",
        with = "nullable"
    )]
    pub output_path: Option<Option<String>>,
}

/// The `Error` or `Cause` of a Fail state: fixed text or a path/intrinsic (`ErrorPath`,
/// `CausePath`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorSource {
    Text(String),
    Path(String),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct FailState {
    pub comment: Option<String>,
    pub error: Option<ErrorSource>,
    pub cause: Option<ErrorSource>,
}

impl Serialize for FailState {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        if let Some(comment) = &self.comment {
            map.serialize_entry("Comment", comment)?;
        }
        for (field, source) in [("Error", &self.error), ("Cause", &self.cause)] {
            match source {
                Some(ErrorSource::Text(text)) => map.serialize_entry(field, text)?,
                Some(ErrorSource::Path(path)) => {
                    map.serialize_entry(&format!("{field}Path"), path)?
                }
                None => {}
            }
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for FailState {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(rename = "Comment")]
            comment: Option<String>,
            #[serde(rename = "Error")]
            error: Option<String>,
            #[serde(rename = "ErrorPath")]
            error_path: Option<String>,
            #[serde(rename = "Cause")]
            cause: Option<String>,
            #[serde(rename = "CausePath")]
            cause_path: Option<String>,
        }
        let raw = Raw::deserialize(deserializer)?;
        let pick = |text: Option<String>, path: Option<String>, name: &str| match (text, path) {
            (Some(_), Some(_)) => Err(de::Error::custom(format!(
                "a Fail state cannot have both {name} and {name}Path"
            ))),
            (Some(text), None) => Ok(Some(ErrorSource::Text(text))),
            (None, Some(path)) => Ok(Some(ErrorSource::Path(path))),
            (None, None) => Ok(None),
        };
        Ok(FailState {
            comment: raw.comment,
            error: pick(raw.error, raw.error_path, "Error")?,
            cause: pick(raw.cause, raw.cause_path, "Cause")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParallelState {
    #[serde(rename = "Comment", default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(
        rename = "InputPath",
        default,
        skip_serializing_if = "Option::is_none",
        with = "nullable"
    )]
    pub input_path: Option<Option<String>>,
    #[serde(
        rename = "Parameters",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub parameters: Option<Payload>,
    #[serde(rename = "Branches")]
    pub branches: Vec<Branch>,
    #[serde(
        rename = "ResultSelector",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub result_selector: Option<Payload>,
    #[serde(
        rename = "ResultPath",
        default,
        skip_serializing_if = "Option::is_none",
        with = "nullable"
    )]
    pub result_path: Option<Option<String>>,
    #[serde(
        rename = "OutputPath",
        default,
        skip_serializing_if = "Option::is_none",
        with = "nullable"
    )]
    pub output_path: Option<Option<String>>,
    #[serde(rename = "Retry", default, skip_serializing_if = "Vec::is_empty")]
    pub retry: Vec<Retrier>,
    #[serde(rename = "Catch", default, skip_serializing_if = "Vec::is_empty")]
    pub catch: Vec<Catcher>,
    #[serde(flatten)]
    pub transition: Transition,
}

impl ParallelState {
    pub fn new(branches: Vec<Branch>, transition: Transition) -> Self {
        Self {
            comment: None,
            input_path: None,
            parameters: None,
            branches,
            result_selector: None,
            result_path: None,
            output_path: None,
            retry: Vec::new(),
            catch: Vec::new(),
            transition,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapState {
    #[serde(rename = "Comment", default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(
        rename = "InputPath",
        default,
        skip_serializing_if = "Option::is_none",
        with = "nullable"
    )]
    pub input_path: Option<Option<String>>,
    #[serde(rename = "ItemsPath", default, skip_serializing_if = "Option::is_none")]
    pub items_path: Option<String>,
    /// `ItemSelector` (`Parameters` is its legacy name and is read as well).
    #[serde(
        rename = "ItemSelector",
        alias = "Parameters",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub item_selector: Option<Payload>,
    #[serde(
        rename = "MaxConcurrency",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub max_concurrency: Option<u64>,
    /// `ItemProcessor` (`Iterator` is its legacy name and is read as well).
    #[serde(rename = "ItemProcessor", alias = "Iterator")]
    pub item_processor: Branch,
    #[serde(
        rename = "ResultSelector",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub result_selector: Option<Payload>,
    #[serde(
        rename = "ResultPath",
        default,
        skip_serializing_if = "Option::is_none",
        with = "nullable"
    )]
    pub result_path: Option<Option<String>>,
    #[serde(
        rename = "OutputPath",
        default,
        skip_serializing_if = "Option::is_none",
        with = "nullable"
    )]
    pub output_path: Option<Option<String>>,
    #[serde(rename = "Retry", default, skip_serializing_if = "Vec::is_empty")]
    pub retry: Vec<Retrier>,
    #[serde(rename = "Catch", default, skip_serializing_if = "Vec::is_empty")]
    pub catch: Vec<Catcher>,
    #[serde(flatten)]
    pub transition: Transition,
}

/// One `Retry` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Retrier {
    #[serde(rename = "ErrorEquals")]
    pub error_equals: Vec<String>,
    #[serde(
        rename = "IntervalSeconds",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub interval_seconds: Option<u64>,
    #[serde(
        rename = "MaxAttempts",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub max_attempts: Option<u64>,
    /// Kept as an integer: AWS accepts `2`, and integers avoid float formatting questions.
    #[serde(
        rename = "BackoffRate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub backoff_rate: Option<serde_json::Number>,
    #[serde(
        rename = "MaxDelaySeconds",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub max_delay_seconds: Option<u64>,
    #[serde(
        rename = "JitterStrategy",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub jitter_strategy: Option<String>,
}

/// One `Catch` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Catcher {
    #[serde(rename = "ErrorEquals")]
    pub error_equals: Vec<String>,
    #[serde(
        rename = "ResultPath",
        default,
        skip_serializing_if = "Option::is_none",
        with = "nullable"
    )]
    pub result_path: Option<Option<String>>,
    #[serde(rename = "Next")]
    pub next: String,
}
