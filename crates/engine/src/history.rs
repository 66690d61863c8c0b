//! The execution history, as AWS records it: numbered events, each pointing at the event
//! that led to it (`previousEventId`), with simulated timestamps. Events are stored compactly
//! (state ids, JSON values) and rendered to AWS's `GetExecutionHistory` shape on demand.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::clock::{Millis, format_timestamp};
use crate::definition::{GraphId, Kind, Machine, StateId};

/// One history event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEvent {
    pub id: u64,
    pub previous_event_id: u64,
    pub timestamp_ms: Millis,
    pub kind: EventKind,
}

/// A state, named by position so events stay small; [`Machine`] resolves the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateRef {
    pub graph: GraphId,
    pub state: StateId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum EventKind {
    ExecutionStarted {
        input: Value,
        role_arn: String,
    },
    ExecutionSucceeded {
        output: Value,
    },
    ExecutionFailed {
        error: String,
        cause: Option<String>,
    },
    ExecutionTimedOut {
        error: String,
        cause: Option<String>,
    },
    ExecutionAborted,
    StateEntered {
        state: StateRef,
        input: Value,
    },
    StateExited {
        state: StateRef,
        output: Value,
    },
    /// `FailStateEntered` has no exit; other states that fail simply stop.
    TaskScheduled {
        resource: String,
        parameters: Value,
        timeout_seconds: Option<i64>,
        heartbeat_seconds: Option<i64>,
    },
    TaskStarted {
        resource: String,
    },
    TaskSubmitted {
        resource: String,
    },
    TaskSucceeded {
        resource: String,
        output: Value,
    },
    TaskFailed {
        resource: String,
        error: String,
        cause: Option<String>,
    },
    TaskTimedOut {
        resource: String,
        error: String,
        cause: Option<String>,
    },
    ParallelStateStarted,
    ParallelStateSucceeded,
    ParallelStateFailed,
    ParallelStateAborted,
    MapStateStarted {
        length: usize,
    },
    MapIterationStarted {
        state: StateRef,
        index: usize,
    },
    MapIterationSucceeded {
        state: StateRef,
        index: usize,
    },
    MapIterationFailed {
        state: StateRef,
        index: usize,
    },
    MapIterationAborted {
        state: StateRef,
        index: usize,
    },
    MapStateSucceeded,
    MapStateFailed,
    MapStateAborted,
}

impl HistoryEvent {
    /// Whether this event is a state transition (a `…StateEntered`), the unit the
    /// benchmarks count.
    pub fn is_state_entered(&self) -> bool {
        matches!(self.kind, EventKind::StateEntered { .. })
    }

    /// The event in the JSON shape of `GetExecutionHistory`.
    pub fn to_aws_json(&self, machine: &Machine) -> Value {
        let (ty, details_key, details) = self.render(machine);
        let mut out = Map::new();
        out.insert("id".into(), self.id.into());
        out.insert("previousEventId".into(), self.previous_event_id.into());
        out.insert(
            "timestamp".into(),
            format_timestamp(self.timestamp_ms).into(),
        );
        out.insert("type".into(), ty.into());
        if let Some(key) = details_key {
            out.insert(key, details);
        }
        Value::Object(out)
    }

    fn render(&self, machine: &Machine) -> (String, Option<String>, Value) {
        let name = |s: &StateRef| machine.state(s.graph, s.state).name.clone();
        let type_of = |s: &StateRef| state_type(&machine.state(s.graph, s.state).kind);
        let plain = |t: &str| (t.to_owned(), None, Value::Null);
        match &self.kind {
            EventKind::ExecutionStarted { input, role_arn } => (
                "ExecutionStarted".into(),
                Some("executionStartedEventDetails".into()),
                json!({"input": input.to_string(), "inputDetails": {"truncated": false}, "roleArn": role_arn}),
            ),
            EventKind::ExecutionSucceeded { output } => (
                "ExecutionSucceeded".into(),
                Some("executionSucceededEventDetails".into()),
                json!({"output": output.to_string(), "outputDetails": {"truncated": false}}),
            ),
            EventKind::ExecutionFailed { error, cause } => (
                "ExecutionFailed".into(),
                Some("executionFailedEventDetails".into()),
                error_details(error, cause),
            ),
            EventKind::ExecutionTimedOut { error, cause } => (
                "ExecutionTimedOut".into(),
                Some("executionTimedOutEventDetails".into()),
                error_details(error, cause),
            ),
            EventKind::ExecutionAborted => plain("ExecutionAborted"),
            EventKind::StateEntered { state, input } => (
                format!("{}StateEntered", type_of(state)),
                Some("stateEnteredEventDetails".into()),
                json!({"name": name(state), "input": input.to_string(), "inputDetails": {"truncated": false}}),
            ),
            EventKind::StateExited { state, output } => (
                format!("{}StateExited", type_of(state)),
                Some("stateExitedEventDetails".into()),
                json!({"name": name(state), "output": output.to_string(), "outputDetails": {"truncated": false}}),
            ),
            EventKind::TaskScheduled {
                resource,
                parameters,
                timeout_seconds,
                heartbeat_seconds,
            } => {
                let (rtype, res) = split_resource(resource);
                let mut d = json!({"resourceType": rtype, "resource": res, "region": "us-east-1", "parameters": parameters.to_string()});
                if let (Some(t), Some(obj)) = (timeout_seconds, d.as_object_mut()) {
                    obj.insert("timeoutInSeconds".into(), (*t).into());
                }
                if let (Some(h), Some(obj)) = (heartbeat_seconds, d.as_object_mut()) {
                    obj.insert("heartbeatInSeconds".into(), (*h).into());
                }
                (
                    "TaskScheduled".into(),
                    Some("taskScheduledEventDetails".into()),
                    d,
                )
            }
            EventKind::TaskStarted { resource } => {
                task_plain("TaskStarted", "taskStartedEventDetails", resource)
            }
            EventKind::TaskSubmitted { resource } => {
                task_plain("TaskSubmitted", "taskSubmittedEventDetails", resource)
            }
            EventKind::TaskSucceeded { resource, output } => {
                let (rtype, res) = split_resource(resource);
                (
                    "TaskSucceeded".into(),
                    Some("taskSucceededEventDetails".into()),
                    json!({"resourceType": rtype, "resource": res, "output": output.to_string(), "outputDetails": {"truncated": false}}),
                )
            }
            EventKind::TaskFailed {
                resource,
                error,
                cause,
            } => task_error(
                "TaskFailed",
                "taskFailedEventDetails",
                resource,
                error,
                cause,
            ),
            EventKind::TaskTimedOut {
                resource,
                error,
                cause,
            } => task_error(
                "TaskTimedOut",
                "taskTimedOutEventDetails",
                resource,
                error,
                cause,
            ),
            EventKind::ParallelStateStarted => plain("ParallelStateStarted"),
            EventKind::ParallelStateSucceeded => plain("ParallelStateSucceeded"),
            EventKind::ParallelStateFailed => plain("ParallelStateFailed"),
            EventKind::ParallelStateAborted => plain("ParallelStateAborted"),
            EventKind::MapStateStarted { length } => (
                "MapStateStarted".into(),
                Some("mapStateStartedEventDetails".into()),
                json!({"length": length}),
            ),
            EventKind::MapIterationStarted { state, index } => iteration(
                "MapIterationStarted",
                "mapIterationStartedEventDetails",
                name(state),
                *index,
            ),
            EventKind::MapIterationSucceeded { state, index } => iteration(
                "MapIterationSucceeded",
                "mapIterationSucceededEventDetails",
                name(state),
                *index,
            ),
            EventKind::MapIterationFailed { state, index } => iteration(
                "MapIterationFailed",
                "mapIterationFailedEventDetails",
                name(state),
                *index,
            ),
            EventKind::MapIterationAborted { state, index } => iteration(
                "MapIterationAborted",
                "mapIterationAbortedEventDetails",
                name(state),
                *index,
            ),
            EventKind::MapStateSucceeded => plain("MapStateSucceeded"),
            EventKind::MapStateFailed => plain("MapStateFailed"),
            EventKind::MapStateAborted => plain("MapStateAborted"),
        }
    }
}

fn error_details(error: &str, cause: &Option<String>) -> Value {
    let mut d = Map::new();
    d.insert("error".into(), error.into());
    if let Some(c) = cause {
        d.insert("cause".into(), c.clone().into());
    }
    Value::Object(d)
}

fn task_plain(ty: &str, key: &str, resource: &str) -> (String, Option<String>, Value) {
    let (rtype, res) = split_resource(resource);
    (
        ty.into(),
        Some(key.into()),
        json!({"resourceType": rtype, "resource": res}),
    )
}

fn task_error(
    ty: &str,
    key: &str,
    resource: &str,
    error: &str,
    cause: &Option<String>,
) -> (String, Option<String>, Value) {
    let (rtype, res) = split_resource(resource);
    let mut d = error_details(error, cause);
    if let Some(obj) = d.as_object_mut() {
        obj.insert("resourceType".into(), rtype.into());
        obj.insert("resource".into(), res.into());
    }
    (ty.into(), Some(key.into()), d)
}

fn iteration(ty: &str, key: &str, name: String, index: usize) -> (String, Option<String>, Value) {
    (
        ty.into(),
        Some(key.into()),
        json!({"name": name, "index": index}),
    )
}

/// `arn:aws:states:::sqs:sendMessage.waitForTaskToken` → (`sqs`, `sendMessage.waitForTaskToken`),
/// `arn:aws:states:::aws-sdk:s3:getObject` → (`aws-sdk:s3`, `getObject`), as AWS splits them.
/// Other ARNs (a Lambda function, an activity) are reported whole under their service.
pub fn split_resource(resource: &str) -> (String, String) {
    if let Some(rest) = resource.strip_prefix("arn:aws:states:::") {
        if let Some(sdk) = rest.strip_prefix("aws-sdk:")
            && let Some((service, action)) = sdk.split_once(':')
        {
            return (format!("aws-sdk:{service}"), action.to_owned());
        }
        if let Some((service, action)) = rest.split_once(':') {
            return (service.to_owned(), action.to_owned());
        }
    }
    let service = resource.split(':').nth(2).unwrap_or("unknown").to_owned();
    (service, resource.to_owned())
}

pub(crate) fn state_type(kind: &Kind) -> &'static str {
    match kind {
        Kind::Pass { .. } => "Pass",
        Kind::Task(_) => "Task",
        Kind::Choice { .. } => "Choice",
        Kind::Wait(_) => "Wait",
        Kind::Succeed => "Succeed",
        Kind::Fail { .. } => "Fail",
        Kind::Parallel { .. } => "Parallel",
        Kind::Map(_) => "Map",
    }
}
