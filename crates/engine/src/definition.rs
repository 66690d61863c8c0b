//! Loading a definition: `serde_json::Value` → [`Machine`], an executable form where state
//! names are indices, paths and templates are compiled once, and every field has been
//! checked. Anything the engine does not support (JSONata, distributed-map item
//! readers…) is refused here with the state and field named, so nothing runs approximately.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::choice::{self, Rule};
use crate::dataflow::{Computed, Path, ResultPath, Template};
use crate::error::{LoadError, Location};

/// Index of a graph (the top-level machine, a Parallel branch or a Map processor) in
/// [`Machine::graphs`].
pub type GraphId = usize;
/// Index of a state inside its graph.
pub type StateId = usize;

/// A loaded, checked definition. Graphs live in one arena so a running thread can name its
/// graph with a number (and so be serialised).
#[derive(Debug)]
pub struct Machine {
    pub(crate) graphs: Vec<Graph>,
    /// Top-level `TimeoutSeconds`, in milliseconds.
    pub(crate) timeout_ms: Option<i64>,
    /// The definition's own text, kept for snapshots.
    pub(crate) source: Value,
}

#[derive(Debug)]
pub(crate) struct Graph {
    pub start: StateId,
    pub states: Vec<State>,
}

#[derive(Debug)]
pub(crate) struct State {
    pub name: String,
    pub kind: Kind,
    /// `None` means the JSON `null` (discard input: `{}`); absent fields default to `$`.
    pub input_path: Option<Path>,
    pub output_path: Option<Path>,
    pub result_path: Option<ResultPath>,
    pub next: Transition,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
    /// `Assign`: variables set when the state completes (for Choice, when the `Default`
    /// is taken).
    pub assign: Option<Template>,
    /// Whether anything in this state reads `$$`, so the context object is built only then.
    pub uses_context: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transition {
    Next(StateId),
    End,
}

#[derive(Debug)]
pub(crate) enum Kind {
    Pass {
        result: Option<Value>,
        parameters: Option<Template>,
    },
    Task(Box<TaskSpec>),
    Choice {
        rules: Vec<ChoiceBranch>,
        default: Option<StateId>,
    },
    Wait(WaitSpec),
    Succeed,
    Fail {
        error: Option<FailField>,
        cause: Option<FailField>,
    },
    Parallel {
        branches: Vec<GraphId>,
        parameters: Option<Template>,
        result_selector: Option<Template>,
    },
    Map(Box<MapSpec>),
}

#[derive(Debug)]
pub(crate) struct ChoiceBranch {
    pub rule: Rule,
    pub next: StateId,
    pub assign: Option<Template>,
}

#[derive(Debug)]
pub(crate) struct TaskSpec {
    pub resource: String,
    pub parameters: Option<Template>,
    pub result_selector: Option<Template>,
    pub timeout: Option<Seconds>,
    pub heartbeat: Option<Seconds>,
    pub credentials: Option<Value>,
}

/// A number of seconds, given literally or through a path.
#[derive(Debug)]
pub(crate) enum Seconds {
    Literal(i64),
    Path(Path),
}

#[derive(Debug)]
pub(crate) enum WaitSpec {
    Seconds(Seconds),
    Timestamp(i64),
    TimestampPath(Path),
}

#[derive(Debug)]
pub(crate) enum FailField {
    Literal(String),
    Computed(Computed),
}

#[derive(Debug)]
pub(crate) struct MapSpec {
    pub processor: GraphId,
    pub items_path: Option<Path>,
    pub item_selector: Option<Template>,
    pub result_selector: Option<Template>,
    pub max_concurrency: Option<Seconds>,
    pub tolerated_count: Option<Tolerance>,
    pub tolerated_percentage: Option<Tolerance>,
}

#[derive(Debug)]
pub(crate) enum Tolerance {
    Literal(f64),
    Path(Path),
}

#[derive(Debug)]
pub(crate) struct Retrier {
    pub errors: Vec<String>,
    pub interval_ms: i64,
    pub max_attempts: u32,
    pub backoff: f64,
    pub max_delay_ms: Option<i64>,
    pub full_jitter: bool,
}

#[derive(Debug)]
pub(crate) struct Catcher {
    pub errors: Vec<String>,
    pub next: StateId,
    pub result_path: Option<ResultPath>,
    /// Evaluated against the error output (`{Error, Cause}`).
    pub assign: Option<Template>,
}

impl Machine {
    /// Checks and compiles a definition.
    pub fn load(definition: &Value) -> Result<Machine, LoadError> {
        let root = Location::default();
        let obj = as_object(&root, "definition", definition)?;
        check_fields(
            &root,
            obj,
            &[
                "StartAt",
                "States",
                "Comment",
                "Version",
                "TimeoutSeconds",
                "QueryLanguage",
            ],
        )?;
        check_query_language(&root, obj)?;
        let timeout_ms = match obj.get("TimeoutSeconds") {
            None => None,
            Some(v) => Some(positive_int(&root, "TimeoutSeconds", v)? * 1000),
        };
        let mut loader = Loader { graphs: Vec::new() };
        loader.graph(&root, obj)?;
        Ok(Machine {
            graphs: loader.graphs,
            timeout_ms,
            source: definition.clone(),
        })
    }

    pub(crate) fn graph(&self, id: GraphId) -> &Graph {
        &self.graphs[id]
    }

    pub(crate) fn state(&self, graph: GraphId, state: StateId) -> &State {
        &self.graphs[graph].states[state]
    }

    /// The definition this machine was loaded from.
    pub fn source(&self) -> &Value {
        &self.source
    }
}

struct Loader {
    graphs: Vec<Graph>,
}

impl Loader {
    /// Loads `{StartAt, States}` (the top level, a branch or an item processor) and returns
    /// its id. Ids are allocated before nested graphs so the root is always 0.
    fn graph(&mut self, at: &Location, obj: &Map<String, Value>) -> Result<GraphId, LoadError> {
        let id = self.graphs.len();
        self.graphs.push(Graph {
            start: 0,
            states: Vec::new(),
        });
        let states = obj
            .get("States")
            .ok_or_else(|| LoadError::new(at, "States", "missing required field"))?;
        let states = as_object(at, "States", states)?;
        if states.is_empty() {
            return Err(LoadError::new(
                at,
                "States",
                "must contain at least one state",
            ));
        }
        let index: HashMap<&str, StateId> = states
            .keys()
            .enumerate()
            .map(|(i, name)| (name.as_str(), i))
            .collect();
        let start = match obj.get("StartAt") {
            Some(Value::String(s)) => *index
                .get(s.as_str())
                .ok_or_else(|| LoadError::new(at, "StartAt", format!("no state is named `{s}`")))?,
            Some(_) => return Err(LoadError::new(at, "StartAt", "must be a string")),
            None => return Err(LoadError::new(at, "StartAt", "missing required field")),
        };
        let mut compiled = Vec::with_capacity(states.len());
        for (name, body) in states {
            let loc = at.state(name);
            compiled.push(self.state(&loc, name, body, &index)?);
        }
        let graph = &mut self.graphs[id];
        graph.start = start;
        graph.states = compiled;
        Ok(id)
    }

    fn state(
        &mut self,
        at: &Location,
        name: &str,
        body: &Value,
        index: &HashMap<&str, StateId>,
    ) -> Result<State, LoadError> {
        let obj = as_object(at, "state", body)?;
        let ty = match obj.get("Type") {
            Some(Value::String(t)) => t.as_str(),
            Some(_) => return Err(LoadError::new(at, "Type", "must be a string")),
            None => return Err(LoadError::new(at, "Type", "missing required field")),
        };
        check_unsupported(at, obj)?;
        let allowed: &[&str] = match ty {
            "Pass" => &["Result", "ResultPath", "Parameters", "Assign"],
            "Task" => &[
                "Resource",
                "Parameters",
                "ResultPath",
                "ResultSelector",
                "Retry",
                "Catch",
                "TimeoutSeconds",
                "TimeoutSecondsPath",
                "HeartbeatSeconds",
                "HeartbeatSecondsPath",
                "Credentials",
                "Assign",
            ],
            "Choice" => &["Choices", "Default", "Assign"],
            "Wait" => &[
                "Seconds",
                "Timestamp",
                "SecondsPath",
                "TimestampPath",
                "Assign",
            ],
            "Succeed" => &[],
            "Fail" => &["Error", "Cause", "ErrorPath", "CausePath"],
            "Parallel" => &[
                "Branches",
                "Parameters",
                "ResultPath",
                "ResultSelector",
                "Retry",
                "Catch",
                "Assign",
            ],
            "Map" => &[
                "Iterator",
                "ItemProcessor",
                "ItemsPath",
                "ItemSelector",
                "Parameters",
                "MaxConcurrency",
                "MaxConcurrencyPath",
                "ResultPath",
                "ResultSelector",
                "Retry",
                "Catch",
                "ToleratedFailureCount",
                "ToleratedFailureCountPath",
                "ToleratedFailurePercentage",
                "ToleratedFailurePercentagePath",
                "Label",
                "Assign",
            ],
            other => {
                return Err(LoadError::new(
                    at,
                    "Type",
                    format!("unknown state type `{other}`"),
                ));
            }
        };
        let has_flow = !matches!(ty, "Choice" | "Succeed" | "Fail");
        let has_io = ty != "Fail";
        let mut common: Vec<&str> = vec!["Type", "Comment", "QueryLanguage"];
        if has_flow {
            common.extend(["Next", "End"]);
        }
        if has_io {
            common.extend(["InputPath", "OutputPath"]);
        }
        let all: Vec<&str> = common.iter().chain(allowed.iter()).copied().collect();
        check_fields(at, obj, &all)?;

        let next = if has_flow {
            transition(at, obj, index)?
        } else {
            Transition::End
        };
        let input_path = io_path(at, obj, "InputPath")?;
        let output_path = io_path(at, obj, "OutputPath")?;
        let result_path = result_path(at, obj, "ResultPath")?;
        let retry = match obj.get("Retry") {
            Some(v) => retriers(&at.child("Retry"), v)?,
            None => Vec::new(),
        };
        let catch = match obj.get("Catch") {
            Some(v) => catchers(&at.child("Catch"), v, index)?,
            None => Vec::new(),
        };
        let kind = match ty {
            "Pass" => Kind::Pass {
                result: obj.get("Result").cloned(),
                parameters: template(at, obj, "Parameters")?,
            },
            "Task" => Kind::Task(Box::new(task(at, obj)?)),
            "Choice" => choice_state(at, obj, index)?,
            "Wait" => Kind::Wait(wait(at, obj)?),
            "Succeed" => Kind::Succeed,
            "Fail" => Kind::Fail {
                error: fail_field(at, obj, "Error", "ErrorPath")?,
                cause: fail_field(at, obj, "Cause", "CausePath")?,
            },
            "Parallel" => self.parallel(at, obj)?,
            _ => Kind::Map(Box::new(self.map(at, obj)?)),
        };
        let uses_context = crate::dataflow::mentions_context(body);
        Ok(State {
            name: name.to_owned(),
            kind,
            input_path,
            output_path,
            result_path,
            next,
            retry,
            catch,
            assign: template(at, obj, "Assign")?,
            uses_context,
        })
    }

    fn parallel(&mut self, at: &Location, obj: &Map<String, Value>) -> Result<Kind, LoadError> {
        let branches = match obj.get("Branches") {
            Some(Value::Array(b)) if !b.is_empty() => b,
            Some(_) => {
                return Err(LoadError::new(at, "Branches", "must be a non-empty array"));
            }
            None => return Err(LoadError::new(at, "Branches", "missing required field")),
        };
        let mut ids = Vec::with_capacity(branches.len());
        for (i, branch) in branches.iter().enumerate() {
            let loc = at.child(&format!("Branches[{i}]"));
            let b = as_object(&loc, "branch", branch)?;
            check_fields(&loc, b, &["StartAt", "States", "Comment", "QueryLanguage"])?;
            check_query_language(&loc, b)?;
            ids.push(self.graph(&loc, b)?);
        }
        Ok(Kind::Parallel {
            branches: ids,
            parameters: template(at, obj, "Parameters")?,
            result_selector: template(at, obj, "ResultSelector")?,
        })
    }

    fn map(&mut self, at: &Location, obj: &Map<String, Value>) -> Result<MapSpec, LoadError> {
        let (field, processor) = match (obj.get("ItemProcessor"), obj.get("Iterator")) {
            (Some(p), None) => ("ItemProcessor", p),
            (None, Some(p)) => ("Iterator", p),
            (Some(_), Some(_)) => {
                return Err(LoadError::new(
                    at,
                    "ItemProcessor",
                    "give either `ItemProcessor` or `Iterator`, not both",
                ));
            }
            (None, None) => {
                return Err(LoadError::new(
                    at,
                    "ItemProcessor",
                    "missing required field",
                ));
            }
        };
        let loc = at.child(field);
        let p = as_object(&loc, field, processor)?;
        check_fields(
            &loc,
            p,
            &[
                "StartAt",
                "States",
                "Comment",
                "ProcessorConfig",
                "QueryLanguage",
            ],
        )?;
        check_query_language(&loc, p)?;
        // DISTRIBUTED without an item reader runs like INLINE (same results, child
        // executions are not modelled).
        processor_mode(&loc, p)?;
        let processor = self.graph(&loc, p)?;
        let item_selector = match (obj.get("ItemSelector"), obj.get("Parameters")) {
            (Some(_), Some(_)) => {
                return Err(LoadError::new(
                    at,
                    "ItemSelector",
                    "give either `ItemSelector` or `Parameters`, not both",
                ));
            }
            (Some(v), None) => Some(Template::compile(at, "ItemSelector", v)?),
            (None, Some(v)) => Some(Template::compile(at, "Parameters", v)?),
            (None, None) => None,
        };
        let items_path = match obj.get("ItemsPath") {
            None => None,
            Some(Value::String(s)) => Some(Path::parse(at, "ItemsPath", s)?),
            Some(_) => return Err(LoadError::new(at, "ItemsPath", "must be a string")),
        };
        Ok(MapSpec {
            processor,
            items_path,
            item_selector,
            result_selector: template(at, obj, "ResultSelector")?,
            max_concurrency: seconds(at, obj, "MaxConcurrency", "MaxConcurrencyPath", true)?,
            tolerated_count: tolerance(
                at,
                obj,
                "ToleratedFailureCount",
                "ToleratedFailureCountPath",
            )?,
            tolerated_percentage: tolerance(
                at,
                obj,
                "ToleratedFailurePercentage",
                "ToleratedFailurePercentagePath",
            )?,
        })
    }
}

/// Fields that are valid ASL but need features this engine refuses rather than
/// approximates.
fn check_unsupported(at: &Location, obj: &Map<String, Value>) -> Result<(), LoadError> {
    check_query_language(at, obj)?;
    for field in ["Arguments", "Output"] {
        if obj.contains_key(field) {
            return Err(LoadError::new(
                at,
                field,
                "JSONata fields are not supported by this engine",
            ));
        }
    }
    for field in ["ItemReader", "ItemBatcher", "ResultWriter"] {
        if obj.contains_key(field) {
            return Err(LoadError::new(
                at,
                field,
                "distributed Map with external items or results (S3) is not supported",
            ));
        }
    }
    Ok(())
}

fn check_query_language(at: &Location, obj: &Map<String, Value>) -> Result<(), LoadError> {
    match obj.get("QueryLanguage") {
        None => Ok(()),
        Some(Value::String(s)) if s == "JSONPath" => Ok(()),
        Some(Value::String(s)) if s == "JSONata" => Err(LoadError::new(
            at,
            "QueryLanguage",
            "JSONata is not supported by this engine (only JSONPath)",
        )),
        Some(other) => Err(LoadError::new(
            at,
            "QueryLanguage",
            format!("must be \"JSONPath\" or \"JSONata\", got {other}"),
        )),
    }
}

fn check_fields(
    at: &Location,
    obj: &Map<String, Value>,
    allowed: &[&str],
) -> Result<(), LoadError> {
    for key in obj.keys() {
        if !allowed.contains(&key.as_str()) {
            return Err(LoadError::new(
                at,
                key.clone(),
                "field not allowed here (or not supported by this engine)",
            ));
        }
    }
    Ok(())
}

fn as_object<'v>(
    at: &Location,
    field: &str,
    value: &'v Value,
) -> Result<&'v Map<String, Value>, LoadError> {
    value
        .as_object()
        .ok_or_else(|| LoadError::new(at, field, "must be a JSON object"))
}

fn transition(
    at: &Location,
    obj: &Map<String, Value>,
    index: &HashMap<&str, StateId>,
) -> Result<Transition, LoadError> {
    match (obj.get("Next"), obj.get("End")) {
        (Some(next), None) => Ok(Transition::Next(target(at, "Next", next, index)?)),
        (None, Some(Value::Bool(true))) => Ok(Transition::End),
        (None, Some(_)) => Err(LoadError::new(at, "End", "must be `true` when present")),
        (Some(_), Some(_)) => Err(LoadError::new(at, "Next", "give either `Next` or `End`")),
        (None, None) => Err(LoadError::new(
            at,
            "Next",
            "a non-terminal state needs `Next` or `\"End\": true`",
        )),
    }
}

fn target(
    at: &Location,
    field: &str,
    value: &Value,
    index: &HashMap<&str, StateId>,
) -> Result<StateId, LoadError> {
    let name = value
        .as_str()
        .ok_or_else(|| LoadError::new(at, field, "must be a state name"))?;
    index
        .get(name)
        .copied()
        .ok_or_else(|| LoadError::new(at, field, format!("no state is named `{name}`")))
}

fn io_path(
    at: &Location,
    obj: &Map<String, Value>,
    field: &str,
) -> Result<Option<Path>, LoadError> {
    match obj.get(field) {
        None => Ok(Some(Path::parse(at, field, "$")?)),
        Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(Path::parse(at, field, s)?)),
        Some(_) => Err(LoadError::new(at, field, "must be a path string or null")),
    }
}

fn result_path(
    at: &Location,
    obj: &Map<String, Value>,
    field: &str,
) -> Result<Option<ResultPath>, LoadError> {
    match obj.get(field) {
        None => Ok(Some(ResultPath::parse(at, field, "$")?)),
        Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(ResultPath::parse(at, field, s)?)),
        Some(_) => Err(LoadError::new(
            at,
            field,
            "must be a reference path or null",
        )),
    }
}

fn template(
    at: &Location,
    obj: &Map<String, Value>,
    field: &str,
) -> Result<Option<Template>, LoadError> {
    obj.get(field)
        .map(|v| Template::compile(at, field, v))
        .transpose()
}

fn positive_int(at: &Location, field: &str, value: &Value) -> Result<i64, LoadError> {
    match value.as_i64() {
        Some(n) if n > 0 => Ok(n),
        _ => Err(LoadError::new(at, field, "must be a positive integer")),
    }
}

fn seconds(
    at: &Location,
    obj: &Map<String, Value>,
    field: &str,
    path_field: &str,
    allow_zero: bool,
) -> Result<Option<Seconds>, LoadError> {
    match (obj.get(field), obj.get(path_field)) {
        (Some(_), Some(_)) => Err(LoadError::new(
            at,
            field,
            format!("give either `{field}` or `{path_field}`, not both"),
        )),
        (Some(v), None) => match v.as_i64() {
            Some(n) if n > 0 || (allow_zero && n == 0) => Ok(Some(Seconds::Literal(n))),
            _ => Err(LoadError::new(
                at,
                field,
                if allow_zero {
                    "must be a non-negative integer"
                } else {
                    "must be a positive integer"
                },
            )),
        },
        (None, Some(Value::String(p))) => Ok(Some(Seconds::Path(Path::parse(at, path_field, p)?))),
        (None, Some(_)) => Err(LoadError::new(at, path_field, "must be a path string")),
        (None, None) => Ok(None),
    }
}

fn tolerance(
    at: &Location,
    obj: &Map<String, Value>,
    field: &str,
    path_field: &str,
) -> Result<Option<Tolerance>, LoadError> {
    match (obj.get(field), obj.get(path_field)) {
        (Some(_), Some(_)) => Err(LoadError::new(
            at,
            field,
            format!("give either `{field}` or `{path_field}`, not both"),
        )),
        (Some(v), None) => v
            .as_f64()
            .filter(|n| *n >= 0.0)
            .map(|n| Some(Tolerance::Literal(n)))
            .ok_or_else(|| LoadError::new(at, field, "must be a non-negative number")),
        (None, Some(Value::String(p))) => {
            Ok(Some(Tolerance::Path(Path::parse(at, path_field, p)?)))
        }
        (None, Some(_)) => Err(LoadError::new(at, path_field, "must be a path string")),
        (None, None) => Ok(None),
    }
}

fn processor_mode(at: &Location, p: &Map<String, Value>) -> Result<bool, LoadError> {
    let Some(config) = p.get("ProcessorConfig") else {
        return Ok(false);
    };
    let loc = at.child("ProcessorConfig");
    let config = as_object(&loc, "ProcessorConfig", config)?;
    check_fields(&loc, config, &["Mode", "ExecutionType"])?;
    match config.get("Mode").and_then(Value::as_str) {
        None | Some("INLINE") => Ok(false),
        Some("DISTRIBUTED") => Ok(true),
        Some(other) => Err(LoadError::new(
            &loc,
            "Mode",
            format!("must be INLINE or DISTRIBUTED, got `{other}`"),
        )),
    }
}

fn task(at: &Location, obj: &Map<String, Value>) -> Result<TaskSpec, LoadError> {
    let resource = match obj.get("Resource") {
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(LoadError::new(at, "Resource", "must be a string")),
        None => return Err(LoadError::new(at, "Resource", "missing required field")),
    };
    Ok(TaskSpec {
        parameters: template(at, obj, "Parameters")?,
        result_selector: template(at, obj, "ResultSelector")?,
        timeout: seconds(at, obj, "TimeoutSeconds", "TimeoutSecondsPath", false)?,
        heartbeat: seconds(at, obj, "HeartbeatSeconds", "HeartbeatSecondsPath", false)?,
        credentials: obj.get("Credentials").cloned(),
        resource,
    })
}

fn wait(at: &Location, obj: &Map<String, Value>) -> Result<WaitSpec, LoadError> {
    let given: Vec<&str> = ["Seconds", "Timestamp", "SecondsPath", "TimestampPath"]
        .into_iter()
        .filter(|f| obj.contains_key(*f))
        .collect();
    if given.len() != 1 {
        return Err(LoadError::new(
            at,
            "Seconds",
            "a Wait state needs exactly one of Seconds, Timestamp, SecondsPath, TimestampPath",
        ));
    }
    if obj.contains_key("Timestamp") {
        let text = obj.get("Timestamp").and_then(Value::as_str).unwrap_or("");
        let ms = crate::clock::parse_timestamp(text).ok_or_else(|| {
            LoadError::new(
                at,
                "Timestamp",
                "must be an RFC 3339 timestamp like 2016-03-14T01:59:00Z",
            )
        })?;
        return Ok(WaitSpec::Timestamp(ms));
    }
    if let Some(p) = obj.get("TimestampPath") {
        let p = p
            .as_str()
            .ok_or_else(|| LoadError::new(at, "TimestampPath", "must be a path string"))?;
        return Ok(WaitSpec::TimestampPath(Path::parse(
            at,
            "TimestampPath",
            p,
        )?));
    }
    let secs = seconds(at, obj, "Seconds", "SecondsPath", true)?;
    secs.map(WaitSpec::Seconds)
        .ok_or_else(|| LoadError::new(at, "Seconds", "missing"))
}

fn fail_field(
    at: &Location,
    obj: &Map<String, Value>,
    field: &str,
    path_field: &str,
) -> Result<Option<FailField>, LoadError> {
    match (obj.get(field), obj.get(path_field)) {
        (Some(_), Some(_)) => Err(LoadError::new(
            at,
            field,
            format!("give either `{field}` or `{path_field}`, not both"),
        )),
        (Some(Value::String(s)), None) => Ok(Some(FailField::Literal(s.clone()))),
        (Some(_), None) => Err(LoadError::new(at, field, "must be a string")),
        (None, Some(Value::String(p))) => Ok(Some(FailField::Computed(Computed::parse(
            at, path_field, p,
        )?))),
        (None, Some(_)) => Err(LoadError::new(at, path_field, "must be a path string")),
        (None, None) => Ok(None),
    }
}

fn choice_state(
    at: &Location,
    obj: &Map<String, Value>,
    index: &HashMap<&str, StateId>,
) -> Result<Kind, LoadError> {
    let choices = match obj.get("Choices") {
        Some(Value::Array(c)) if !c.is_empty() => c,
        _ => return Err(LoadError::new(at, "Choices", "must be a non-empty array")),
    };
    let mut rules = Vec::with_capacity(choices.len());
    for (i, c) in choices.iter().enumerate() {
        let field = format!("Choices[{i}]");
        let rule_obj = as_object(at, &field, c)?;
        let next = rule_obj
            .get("Next")
            .ok_or_else(|| LoadError::new(at, format!("{field}.Next"), "missing required field"))?;
        let next = target(at, &format!("{field}.Next"), next, index)?;
        let rule = choice::compile(at, &field, rule_obj, true)?;
        let assign = rule_obj
            .get("Assign")
            .map(|v| Template::compile(at, &format!("{field}.Assign"), v))
            .transpose()?;
        rules.push(ChoiceBranch { rule, next, assign });
    }
    let default = obj
        .get("Default")
        .map(|d| target(at, "Default", d, index))
        .transpose()?;
    Ok(Kind::Choice { rules, default })
}

fn retriers(at: &Location, value: &Value) -> Result<Vec<Retrier>, LoadError> {
    let list = value
        .as_array()
        .ok_or_else(|| LoadError::new(at, "Retry", "must be an array"))?;
    let mut out = Vec::with_capacity(list.len());
    for (i, r) in list.iter().enumerate() {
        let loc = at.child(&format!("[{i}]"));
        let obj = as_object(&loc, "Retry", r)?;
        check_fields(
            &loc,
            obj,
            &[
                "ErrorEquals",
                "IntervalSeconds",
                "MaxAttempts",
                "BackoffRate",
                "MaxDelaySeconds",
                "JitterStrategy",
                "Comment",
            ],
        )?;
        let errors = error_equals(&loc, obj)?;
        let interval = match obj.get("IntervalSeconds") {
            None => 1,
            Some(v) => positive_int(&loc, "IntervalSeconds", v)?,
        };
        let max_attempts = match obj.get("MaxAttempts") {
            None => 3,
            Some(v) => v
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| {
                    LoadError::new(&loc, "MaxAttempts", "must be a non-negative integer")
                })?,
        };
        let backoff = match obj.get("BackoffRate") {
            None => 2.0,
            Some(v) => v
                .as_f64()
                .filter(|b| *b >= 1.0)
                .ok_or_else(|| LoadError::new(&loc, "BackoffRate", "must be a number ≥ 1.0"))?,
        };
        let max_delay_ms = obj
            .get("MaxDelaySeconds")
            .map(|v| positive_int(&loc, "MaxDelaySeconds", v).map(|s| s * 1000))
            .transpose()?;
        let full_jitter = match obj.get("JitterStrategy").map(|v| v.as_str()) {
            None | Some(Some("NONE")) => false,
            Some(Some("FULL")) => true,
            Some(_) => {
                return Err(LoadError::new(
                    &loc,
                    "JitterStrategy",
                    "must be FULL or NONE",
                ));
            }
        };
        out.push(Retrier {
            errors,
            interval_ms: interval * 1000,
            max_attempts,
            backoff,
            max_delay_ms,
            full_jitter,
        });
    }
    Ok(out)
}

fn catchers(
    at: &Location,
    value: &Value,
    index: &HashMap<&str, StateId>,
) -> Result<Vec<Catcher>, LoadError> {
    let list = value
        .as_array()
        .ok_or_else(|| LoadError::new(at, "Catch", "must be an array"))?;
    let mut out = Vec::with_capacity(list.len());
    for (i, c) in list.iter().enumerate() {
        let loc = at.child(&format!("[{i}]"));
        let obj = as_object(&loc, "Catch", c)?;
        check_fields(
            &loc,
            obj,
            &["ErrorEquals", "Next", "ResultPath", "Comment", "Assign"],
        )?;
        let errors = error_equals(&loc, obj)?;
        let next = obj
            .get("Next")
            .ok_or_else(|| LoadError::new(&loc, "Next", "missing required field"))?;
        out.push(Catcher {
            errors,
            next: target(&loc, "Next", next, index)?,
            result_path: result_path(&loc, obj, "ResultPath")?,
            assign: template(&loc, obj, "Assign")?,
        });
    }
    Ok(out)
}

fn error_equals(at: &Location, obj: &Map<String, Value>) -> Result<Vec<String>, LoadError> {
    let list = obj
        .get("ErrorEquals")
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
        .ok_or_else(|| LoadError::new(at, "ErrorEquals", "must be a non-empty array of names"))?;
    let names: Vec<String> = list
        .iter()
        .map(|v| v.as_str().map(str::to_owned))
        .collect::<Option<_>>()
        .ok_or_else(|| LoadError::new(at, "ErrorEquals", "must contain only strings"))?;
    if names.len() > 1 && names.iter().any(|n| n == crate::error::names::ALL) {
        return Err(LoadError::new(
            at,
            "ErrorEquals",
            "States.ALL must appear alone in its ErrorEquals",
        ));
    }
    Ok(names)
}
