//! JSONPath paths (`$…` over the state input, `$$…` over the context object) and
//! reference paths (`ResultPath`).
//!
//! Step Functions evaluates paths with Jayway JsonPath: dotted names may hold any
//! character but `.` and `[`, a path made only of names and indices is *definite* (it
//! names one node or fails), and every other path is *indefinite* (it yields the array of
//! its matches, possibly empty). Definite paths are walked here directly, which is fast
//! and lets the error text follow Jayway's; indefinite ones are rewritten to RFC 9535
//! syntax and handed to `serde_json_path`.

use std::borrow::Cow;
use std::fmt::Write as _;

use serde_json::{Map, Value};

use super::error::{DefinitionError, RuntimeError};
use super::roots::Roots;

/// A parsed path: `$`, `$.a.b[0]`, `$.items[?(@.x > 1)]`, `$$.Execution.Input`, …
#[derive(Debug, Clone)]
pub struct Path {
    text: String,
    root: Root,
    kind: Kind,
}

/// What a path starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Root {
    /// `$`: the effective input of the state.
    Input,
    /// `$$`: the context object.
    Context,
    /// `$name`: a variable set by `Assign`.
    Variable(String),
}

#[derive(Debug, Clone)]
enum Kind {
    /// Only names and indices: one node or nothing.
    Definite(Vec<Step>),
    /// Wildcards, slices, filters, descendants, unions: an array of matches, computed
    /// stage by stage.
    Indefinite(Vec<Stage>),
}

/// One stage of an indefinite path.
#[derive(Debug, Clone)]
enum Stage {
    /// Segments RFC 9535 evaluates as Jayway does, run from each current node.
    Query(serde_json_path::JsonPath),
    /// A filter `[?(…)]`, compiled as `$[?(…)]`. Jayway applies a filter on an array to
    /// its elements (as RFC 9535 does) but a filter on an *object* to the object
    /// itself, which RFC 9535 would apply to the object's member values.
    Filter(serde_json_path::JsonPath),
}

/// One step of a definite path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Field(String),
    Index(i64),
}

/// Why a definite path selected nothing, in Jayway's words (the part after
/// `Invalid path '…' : `).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Miss(String);

impl Path {
    /// Parses a path once, at load time.
    pub fn parse(text: &str) -> Result<Path, DefinitionError> {
        let (root, rest) = split_root(text)?;
        let segments = tokenize(text, rest)?;
        let kind = if let Some(steps) = as_definite(&segments) {
            Kind::Definite(steps)
        } else {
            Kind::Indefinite(stages(text, &segments)?)
        };
        Ok(Path {
            text: text.to_owned(),
            root,
            kind,
        })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the path reads the context object (`$$…`).
    pub fn is_context(&self) -> bool {
        self.root == Root::Context
    }

    /// Whether the path names at most one node (only names and indices).
    pub fn is_definite(&self) -> bool {
        matches!(self.kind, Kind::Definite(_))
    }

    /// The variable the path starts from (`$name…`), if any.
    pub fn variable(&self) -> Option<&str> {
        match &self.root {
            Root::Variable(name) => Some(name),
            _ => None,
        }
    }

    /// Selects the value as `InputPath`, `OutputPath` and `ItemsPath` do.
    ///
    /// A definite path that names nothing fails with `States.Runtime` and the cause
    /// `Invalid path '$.x' : No results for path: $['x']`; an indefinite path yields an
    /// array of its matches, empty when nothing matches.
    pub fn select(&self, input: &Value, context: &Value) -> Result<Value, RuntimeError> {
        self.select_in(Roots::new(input, context))
    }

    /// [`select`](Self::select) with variables in scope.
    pub fn select_in(&self, roots: Roots<'_>) -> Result<Value, RuntimeError> {
        self.select_ref(roots)
            .map(Cow::into_owned)
            .map_err(|Miss(why)| {
                RuntimeError::runtime(format!("Invalid path '{}' : {why}", self.text))
            })
    }

    /// Selects the value for a named field (`Parameters` `x.$`, `ErrorPath`, …), whose
    /// failure AWS words differently: `The JSONPath '$.x' specified for the field 'x.$'
    /// could not be found in the input '{"a":1}'`.
    pub fn select_for_field(
        &self,
        input: &Value,
        context: &Value,
        field: &str,
    ) -> Result<Value, RuntimeError> {
        self.select_for_field_in(Roots::new(input, context), field)
    }

    /// [`select_for_field`](Self::select_for_field) with variables in scope.
    pub fn select_for_field_in(
        &self,
        roots: Roots<'_>,
        field: &str,
    ) -> Result<Value, RuntimeError> {
        self.select_ref(roots).map(Cow::into_owned).map_err(|_| {
            // AWS quotes the state input even for a `$$` path (recorded in LocalStack's
            // snapshot `test_invalid_jsonpath[INVALID_JSONPATH_IN_STRING_EXPR_CONTEXTPATH]`).
            RuntimeError::runtime(format!(
                "The JSONPath '{}' specified for the field '{field}' could not be found in the input '{}'",
                self.text,
                compact(roots.input)
            ))
        })
    }

    /// Looks the path up without failing: `None` when a definite path names nothing
    /// (what a Choice `IsPresent` asks); indefinite paths always find an array.
    pub fn find<'a>(&self, input: &'a Value, context: &'a Value) -> Option<Cow<'a, Value>> {
        self.find_in(Roots::new(input, context))
    }

    /// [`find`](Self::find) with variables in scope.
    pub fn find_in<'a>(&self, roots: Roots<'a>) -> Option<Cow<'a, Value>> {
        self.select_ref(roots).ok()
    }

    fn select_ref<'a>(&self, roots: Roots<'a>) -> Result<Cow<'a, Value>, Miss> {
        let root = match &self.root {
            Root::Input => roots.input,
            Root::Context => roots.context,
            Root::Variable(name) => roots
                .variables
                .variable(name)
                .ok_or_else(|| Miss(format!("The variable '${name}' is not defined")))?,
        };
        match &self.kind {
            Kind::Definite(steps) => walk(root, steps).map(Cow::Borrowed),
            Kind::Indefinite(stages) => Ok(Cow::Owned(Value::Array(
                run_stages(root, stages).into_iter().cloned().collect(),
            ))),
        }
    }
}

impl std::fmt::Display for Path {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// A `ResultPath`: a definite path over the state input naming where a result goes.
/// (`ResultPath: null`, which discards the result, is the caller's to handle.)
#[derive(Debug, Clone)]
pub struct ReferencePath {
    text: String,
    steps: Vec<Step>,
}

impl ReferencePath {
    /// Parses a reference path: `$`, or `$` followed by names and indices only.
    pub fn parse(text: &str) -> Result<Self, DefinitionError> {
        let (root, rest) = split_root(text)?;
        if root != Root::Input {
            return Err(DefinitionError::new(format!(
                "The value for the field '{text}' must be a valid ReferencePath: it must start with '$' and cannot refer to the context object ($$) or a variable"
            )));
        }
        let segments = tokenize(text, rest)?;
        let steps = as_definite(&segments).ok_or_else(|| {
            DefinitionError::new(format!(
                "The value for the field '{text}' must be a valid ReferencePath: only names and indices are allowed, no wildcards, slices, filters or descendants"
            ))
        })?;
        Ok(Self {
            text: text.to_owned(),
            steps,
        })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Puts `value` at this path inside `target` and returns the new document.
    ///
    /// `$` replaces the whole target. Missing objects on the way are created; an
    /// existing array element is replaced. A step into something that is not an object
    /// (or, for an index, not an array long enough) fails with
    /// `States.ReferencePathConflict`.
    pub fn insert(&self, target: Value, value: Value) -> Result<Value, RuntimeError> {
        let Some((last, init)) = self.steps.split_last() else {
            return Ok(value);
        };
        // Check first, on a shared borrow, so the error can quote the untouched input
        // without cloning it on the (common) successful path.
        if let Some(step) = blocked_step(&target, &self.steps) {
            return Err(conflict(step, &target));
        }
        let mut target = target;
        let mut cursor = &mut target;
        for step in init {
            cursor = step_mut(cursor, step).ok_or_else(|| conflict(step, &Value::Null))?;
        }
        place(cursor, last, value).ok_or_else(|| conflict(last, &Value::Null))?;
        Ok(target)
    }
}

impl std::fmt::Display for ReferencePath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// AWS's error for a `ResultPath` that cannot be applied to the input.
fn conflict(step: &Step, input: &Value) -> RuntimeError {
    let name = match step {
        Step::Field(name) => name.clone(),
        Step::Index(i) => i.to_string(),
    };
    RuntimeError {
        error: "States.ReferencePathConflict".to_owned(),
        cause: format!(
            "Unable to apply step \"{name}\" to input {}",
            compact(input)
        ),
    }
}

/// The first step that cannot be applied to `target`, if any.
fn blocked_step<'s>(target: &Value, steps: &'s [Step]) -> Option<&'s Step> {
    let mut cursor = target;
    for (n, step) in steps.iter().enumerate() {
        let next = match (cursor, step) {
            (Value::Object(map), Step::Field(name)) => match map.get(name) {
                Some(v) => v,
                // Below a missing member only objects are created, so an index fails.
                None => {
                    let below = steps.get(n + 1..).unwrap_or_default();
                    return below.iter().find(|s| matches!(s, Step::Index(_)));
                }
            },
            (Value::Array(items), Step::Index(i)) => {
                match resolve_index(*i, items.len()).and_then(|at| items.get(at)) {
                    Some(v) => v,
                    None => return Some(step),
                }
            }
            _ => return Some(step),
        };
        cursor = next;
    }
    None
}

/// Descends one step for writing, creating a missing object member.
fn step_mut<'a>(cursor: &'a mut Value, step: &Step) -> Option<&'a mut Value> {
    match (cursor, step) {
        (Value::Object(map), Step::Field(name)) => Some(
            map.entry(name.clone())
                .or_insert_with(|| Value::Object(Map::new())),
        ),
        (Value::Array(items), Step::Index(i)) => {
            let at = resolve_index(*i, items.len())?;
            items.get_mut(at)
        }
        _ => None,
    }
}

/// Writes the value at the final step.
fn place(cursor: &mut Value, step: &Step, value: Value) -> Option<()> {
    match (cursor, step) {
        (Value::Object(map), Step::Field(name)) => {
            map.insert(name.clone(), value);
            Some(())
        }
        (Value::Array(items), Step::Index(i)) => {
            let at = resolve_index(*i, items.len())?;
            *items.get_mut(at)? = value;
            Some(())
        }
        _ => None,
    }
}

/// Jayway allows negative indices counted from the end.
fn resolve_index(i: i64, len: usize) -> Option<usize> {
    if i >= 0 {
        usize::try_from(i).ok().filter(|&at| at < len)
    } else {
        let back = usize::try_from(i.unsigned_abs()).ok()?;
        len.checked_sub(back)
    }
}

/// Walks a definite path, failing as Jayway does.
fn walk<'a>(root: &'a Value, steps: &[Step]) -> Result<&'a Value, Miss> {
    let mut current = root;
    for (n, step) in steps.iter().enumerate() {
        let next = match (current, step) {
            (Value::Object(map), Step::Field(name)) => map.get(name),
            (Value::Array(items), Step::Index(i)) => {
                resolve_index(*i, items.len()).and_then(|at| items.get(at))
            }
            _ => None,
        };
        // The error text is built only on a miss: the successful walk allocates nothing.
        current = next.ok_or_else(|| miss(current, steps, n))?;
    }
    Ok(current)
}

/// Jayway's explanation of why step `n` found nothing in `at`.
fn miss(at: &Value, steps: &[Step], n: usize) -> Miss {
    let before = normalised(steps.get(..n).unwrap_or_default());
    let through = normalised(steps.get(..=n).unwrap_or_default());
    let is_leaf = n + 1 == steps.len();
    Miss(match (at, steps.get(n)) {
        (Value::Object(_), _) if is_leaf => format!("No results for path: {through}"),
        (Value::Object(_), _) => format!("Missing property in path {through}"),
        (other, Some(Step::Field(name))) => format!(
            "Expected to find an object with property ['{name}'] in path {before} but found '{}'. This is not a json object according to the JsonProvider: 'com.jayway.jsonpath.spi.json.JsonSmartJsonProvider'.",
            java_class(other)
        ),
        (Value::Array(_), _) => format!("No results for path: {}", normalised(steps)),
        (Value::Null, _) => format!("The path {before} is null"),
        (other, Some(Step::Index(i))) => format!(
            "Filter: [{i}] can only be applied to arrays. Current context is: {}",
            compact(other)
        ),
        (_, None) => format!("No results for path: {}", normalised(steps)),
    })
}

/// The class name Jayway (on json-smart) reports for a value it cannot step into.
fn java_class(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "java.lang.Boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "java.lang.Integer",
        Value::Number(_) => "java.lang.Double",
        Value::String(_) => "java.lang.String",
        Value::Array(_) => "net.minidev.json.JSONArray",
        Value::Object(_) => "net.minidev.json.JSONObject",
    }
}

fn normalised(steps: &[Step]) -> String {
    let mut s = String::from("$");
    for step in steps {
        push_normalised(&mut s, step);
    }
    s
}

/// Appends a step in Jayway's normalised notation: `['name']` or `[0]`.
fn push_normalised(out: &mut String, step: &Step) {
    // Writing to a String cannot fail.
    let _ = match step {
        Step::Field(name) => write!(out, "['{name}']"),
        Step::Index(i) => write!(out, "[{i}]"),
    };
}

/// Serialises a value the way AWS quotes inputs in causes: compact JSON.
pub(crate) fn compact(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn split_root(text: &str) -> Result<(Root, &str), DefinitionError> {
    if let Some(rest) = text.strip_prefix("$$") {
        Ok((Root::Context, rest))
    } else if let Some(rest) = text.strip_prefix('$') {
        // `$name`: a variable; its name runs to the first character that cannot be in one.
        let name_len = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        match rest.split_at(name_len) {
            ("", _) => Ok((Root::Input, rest)),
            (name, _) if name.starts_with(|c: char| c.is_ascii_digit()) => {
                Err(DefinitionError::new(format!(
                    "The value for the field '{text}' must be a valid JSONPath: a variable name cannot start with a digit"
                )))
            }
            (name, tail) => Ok((Root::Variable(name.to_owned()), tail)),
        }
    } else {
        Err(DefinitionError::new(format!(
            "The value for the field '{text}' must be a valid JSONPath: a path starts with '$' (state input), '$$' (context object) or '$name' (a variable)"
        )))
    }
}

/// A lexical segment of a Jayway path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Name(String),
    Index(i64),
    /// `.*`
    Wildcard,
    /// `..` (applies to the next segment)
    Descendant,
    /// Any other bracket selector, kept verbatim including the brackets.
    Bracket(String),
}

fn tokenize(text: &str, rest: &str) -> Result<Vec<Segment>, DefinitionError> {
    let bad = |why: &str| {
        DefinitionError::new(format!(
            "The value for the field '{text}' must be a valid JSONPath: {why}"
        ))
    };
    let mut out = Vec::new();
    let mut s = rest;
    while !s.is_empty() {
        if let Some(after) = s.strip_prefix("..") {
            out.push(Segment::Descendant);
            // `..name` and `..*`: the name follows without its own dot.
            if after.starts_with('[') {
                s = after;
            } else {
                let (name, tail) = take_name(after);
                if name.is_empty() {
                    return Err(bad("'..' must be followed by a name, '*' or a bracket"));
                }
                out.push(name_segment(name));
                s = tail;
            }
        } else if let Some(after) = s.strip_prefix('.') {
            let (name, tail) = take_name(after);
            if name.is_empty() {
                return Err(bad("empty name after '.'"));
            }
            out.push(name_segment(name));
            s = tail;
        } else if s.starts_with('[') {
            let end = bracket_end(s).ok_or_else(|| bad("unclosed '['"))?;
            let (inner, tail) = (s.get(1..end).unwrap_or(""), s.get(end + 1..).unwrap_or(""));
            out.push(bracket_segment(inner).map_err(|why| bad(&why))?);
            s = tail;
        } else {
            return Err(bad("expected '.' or '[' after the root or a step"));
        }
    }
    Ok(out)
}

fn name_segment(name: &str) -> Segment {
    if name == "*" {
        Segment::Wildcard
    } else {
        Segment::Name(name.to_owned())
    }
}

/// A dotted name runs to the next `.` or `[` (Jayway accepts any other character).
fn take_name(s: &str) -> (&str, &str) {
    let end = s.find(['.', '[']).unwrap_or(s.len());
    s.split_at(end)
}

/// Index of the `]` closing the `[` at the start of `s`, skipping quoted strings and
/// nested brackets (filters may contain both).
fn bracket_end(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => quote = Some(c),
            '[' => depth += 1,
            ']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

fn bracket_segment(inner: &str) -> Result<Segment, String> {
    let trimmed = inner.trim();
    if trimmed.is_empty() {
        return Err("empty '[]'".to_owned());
    }
    if let Ok(i) = trimmed.parse::<i64>() {
        return Ok(Segment::Index(i));
    }
    if let Some(name) = single_quoted_name(trimmed) {
        return Ok(Segment::Name(name));
    }
    Ok(Segment::Bracket(format!("[{inner}]")))
}

/// `'name'` or `"name"` (with `\` escapes), and nothing after it.
fn single_quoted_name(s: &str) -> Option<String> {
    let mut chars = s.chars();
    let q = chars.next().filter(|c| *c == '\'' || *c == '"')?;
    let mut name = String::new();
    let mut escaped = false;
    for (i, c) in chars.by_ref().enumerate() {
        if escaped {
            name.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == q {
            // Closing quote must be the last character.
            return (i + 2 == s.chars().count()).then_some(name);
        } else {
            name.push(c);
        }
    }
    None
}

fn as_definite(segments: &[Segment]) -> Option<Vec<Step>> {
    segments
        .iter()
        .map(|seg| match seg {
            Segment::Name(n) => Some(Step::Field(n.clone())),
            Segment::Index(i) => Some(Step::Index(*i)),
            _ => None,
        })
        .collect()
}

/// Splits an indefinite path into stages at its filters (those not under `..`, where
/// RFC 9535 and Jayway agree) and compiles each stage once.
fn stages(text: &str, segments: &[Segment]) -> Result<Vec<Stage>, DefinitionError> {
    let compile = |segments: &[Segment]| {
        serde_json_path::JsonPath::parse(&to_rfc9535(segments)).map_err(|e| {
            DefinitionError::new(format!(
                "The value for the field '{text}' must be a valid JSONPath: {e}"
            ))
        })
    };
    let mut stages = Vec::new();
    let mut start = 0;
    for (i, seg) in segments.iter().enumerate() {
        let is_filter = matches!(seg, Segment::Bracket(raw) if raw.trim_start_matches('[').trim_start().starts_with('?'));
        let under_descendant = i > 0 && segments.get(i - 1) == Some(&Segment::Descendant);
        if is_filter && !under_descendant {
            if start < i {
                stages.push(Stage::Query(compile(
                    segments.get(start..i).unwrap_or_default(),
                )?));
            }
            stages.push(Stage::Filter(compile(std::slice::from_ref(seg))?));
            start = i + 1;
        }
    }
    if start < segments.len() || stages.is_empty() {
        stages.push(Stage::Query(compile(
            segments.get(start..).unwrap_or_default(),
        )?));
    }
    Ok(stages)
}

/// Runs the stages from `root`, returning the matched nodes in document order.
fn run_stages<'a>(root: &'a Value, stages: &[Stage]) -> Vec<&'a Value> {
    let mut nodes = vec![root];
    for stage in stages {
        let mut next = Vec::new();
        for node in nodes {
            match (stage, node) {
                (Stage::Query(q), _) | (Stage::Filter(q), Value::Array(_)) => {
                    next.extend(q.query(node).all());
                }
                (Stage::Filter(q), Value::Object(_)) => {
                    // Test the object itself: wrap it so the filter sees it as an element.
                    let wrapped = Value::Array(vec![node.clone()]);
                    if !q.query(&wrapped).is_empty() {
                        next.push(node);
                    }
                }
                // A filter on a scalar matches nothing.
                (Stage::Filter(_), _) => {}
            }
        }
        nodes = next;
    }
    nodes
}

/// Rewrites Jayway syntax as RFC 9535: names in brackets (so any character is allowed),
/// the rest verbatim.
fn to_rfc9535(segments: &[Segment]) -> String {
    let mut out = String::from("$");
    for seg in segments {
        match seg {
            Segment::Name(n) => {
                out.push_str("['");
                for c in n.chars() {
                    match c {
                        '\'' => out.push_str("\\'"),
                        '\\' => out.push_str("\\\\"),
                        c if (c as u32) < 0x20 => {
                            let _ = write!(out, "\\u{:04x}", c as u32);
                        }
                        c => out.push(c),
                    }
                }
                out.push_str("']");
            }
            Segment::Index(i) => {
                let _ = write!(out, "[{i}]");
            }
            Segment::Wildcard => out.push_str("[*]"),
            Segment::Descendant => out.push_str(".."),
            Segment::Bracket(raw) => out.push_str(raw),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sel(path: &str, input: Value) -> Result<Value, String> {
        Path::parse(path)
            .map_err(|e| e.message)?
            .select(&input, &json!({"Execution": {"Name": "x"}}))
            .map_err(|e| e.cause)
    }

    #[test]
    fn definite_paths_walk_names_and_indices() {
        let input = json!({"a": {"b-c": [10, 20, {"d": true}]}});
        assert_eq!(sel("$", input.clone()), Ok(input.clone()));
        assert_eq!(sel("$.a.b-c[1]", input.clone()), Ok(json!(20)));
        assert_eq!(sel("$['a']['b-c'][-1].d", input.clone()), Ok(json!(true)));
        assert_eq!(sel("$$.Execution.Name", input), Ok(json!("x")));
    }

    #[test]
    fn misses_use_jayway_wording() {
        let input = json!({"a": {"b": 1}, "n": null, "s": "str"});
        assert_eq!(
            sel("$.x", input.clone()),
            Err("Invalid path '$.x' : No results for path: $['x']".into())
        );
        assert_eq!(
            sel("$.no.such.path", input.clone()),
            Err("Invalid path '$.no.such.path' : Missing property in path $['no']".into())
        );
        assert_eq!(
            sel("$.a.c", input.clone()),
            Err("Invalid path '$.a.c' : No results for path: $['a']['c']".into())
        );
        assert_eq!(
            sel("$.n[0]", input),
            Err("Invalid path '$.n[0]' : The path $['n'] is null".into())
        );
    }

    #[test]
    fn jayway_functions_are_plain_names_on_aws() {
        // AWS fails `$.Jobs.sum()` with the not-found cause (re:Post question
        // "AWS StepFunctions: sum() function returns error about not finding path").
        let p = Path::parse("$.Jobs.sum()").unwrap();
        let e = p
            .select_for_field(&json!({"Jobs": [0, 1]}), &json!({}), "Jobs.$")
            .unwrap_err();
        assert_eq!(
            e.cause,
            "The JSONPath '$.Jobs.sum()' specified for the field 'Jobs.$' could not be found in the input '{\"Jobs\":[0,1]}'"
        );
    }

    #[test]
    fn index_and_type_misses() {
        let input = json!({"a": [1], "s": "x"});
        assert_eq!(
            sel("$.a[5]", input.clone()),
            Err("Invalid path '$.a[5]' : No results for path: $['a'][5]".into())
        );
        assert_eq!(
            sel("$.s[0]", input.clone()),
            Err("Invalid path '$.s[0]' : Filter: [0] can only be applied to arrays. Current context is: \"x\"".into())
        );
        assert!(sel("$.s.b", input).unwrap_err().contains(
            "Expected to find an object with property ['b'] in path $['s'] but found 'java.lang.String'"
        ));
    }

    #[test]
    fn indefinite_paths_yield_arrays() {
        let input = json!({"users": [{"s": 0, "y": 1}, {"s": 1, "y": 2}]});
        assert_eq!(sel("$.users[*].y", input.clone()), Ok(json!([1, 2])));
        assert_eq!(
            sel("$.users[?(@.s == 0)]", input.clone()),
            Ok(json!([{"s": 0, "y": 1}]))
        );
        assert_eq!(sel("$..y", input.clone()), Ok(json!([1, 2])));
        assert_eq!(sel("$.users[1:]", input), Ok(json!([{"s": 1, "y": 2}])));
        assert_eq!(sel("$.item.items[*]", json!({})), Ok(json!([])));
    }

    #[test]
    fn filters_on_objects_test_the_object_as_jayway_does() {
        let input = json!({"detail": {"status": "ok", "n": 1}, "list": [{"status": "ok"}, {"status": "no"}]});
        assert_eq!(
            sel("$.detail[?(@.status == 'ok')]", input.clone()),
            Ok(json!([{"status": "ok", "n": 1}]))
        );
        assert_eq!(
            sel("$.detail[?(@.status == 'no')]", input.clone()),
            Ok(json!([]))
        );
        assert_eq!(
            sel("$.detail[?(@.status == 'ok')].n", input.clone()),
            Ok(json!([1]))
        );
        assert_eq!(
            sel("$.list[?(@.status == 'ok')].status", input.clone()),
            Ok(json!(["ok"]))
        );
        assert_eq!(
            sel("$.list[*][?(@.status == 'no')]", input.clone()),
            Ok(json!([{"status": "no"}]))
        );
        assert_eq!(
            sel("$..[?(@.status == 'no')]", input.clone()),
            Ok(json!([{"status": "no"}]))
        );
        assert_eq!(sel("$.detail.status[?(@ == 'ok')]", input), Ok(json!([])));
    }

    #[test]
    fn field_misses_quote_the_input() {
        let p = Path::parse("$.no_such").unwrap();
        let e = p
            .select_for_field(&json!({"a": 1}), &json!({}), "value.$")
            .unwrap_err();
        assert_eq!(e.error, "States.Runtime");
        assert_eq!(
            e.cause,
            "The JSONPath '$.no_such' specified for the field 'value.$' could not be found in the input '{\"a\":1}'"
        );
    }

    #[test]
    fn context_misses_quote_the_state_input() {
        let p = Path::parse("$$.Execution.Input.no_such_jsonpath").unwrap();
        let ctx = json!({"Execution": {"Input": {"int-literal": 0}}});
        let e = p
            .select_for_field(&json!({"int-literal": 0}), &ctx, "value.$")
            .unwrap_err();
        assert_eq!(
            e.cause,
            "The JSONPath '$$.Execution.Input.no_such_jsonpath' specified for the field 'value.$' could not be found in the input '{\"int-literal\":0}'"
        );
    }

    #[test]
    fn bad_paths_are_rejected_at_load() {
        for bad in [
            "",
            "a.b",
            "$.",
            "$[",
            "$.a[?(@.x =~ /y/)]",
            "$..",
            "$a!",
            "$.a b[",
        ] {
            assert!(Path::parse(bad).is_err(), "{bad} should not parse");
        }
        for bad in ["$.a[*]", "$..a", "$$.Execution", "$.a[0:1]"] {
            assert!(
                ReferencePath::parse(bad).is_err(),
                "{bad} is not a reference path"
            );
        }
    }

    #[test]
    fn variables_are_a_third_root() {
        let vars: Map<String, Value> =
            serde_json::from_value(json!({"x": {"a": [5, 6]}, "items": [1, 2]})).unwrap();
        let input = json!({"x": "not me"});
        let roots = Roots::new(&input, &Value::Null).with_variables(&vars);
        let sel = |p: &str| Path::parse(p).unwrap().select_in(roots);
        assert_eq!(sel("$x.a[1]"), Ok(json!(6)));
        assert_eq!(sel("$items"), Ok(json!([1, 2])));
        assert_eq!(sel("$items[*]"), Ok(json!([1, 2])));
        assert_eq!(sel("$.x"), Ok(json!("not me")));
        assert_eq!(Path::parse("$x").unwrap().variable(), Some("x"));
        let missing = sel("$nope").unwrap_err();
        assert_eq!(
            missing.cause,
            "Invalid path '$nope' : The variable '$nope' is not defined"
        );
        // Without variables in scope a variable path simply names nothing.
        assert!(
            Path::parse("$x")
                .unwrap()
                .select(&input, &Value::Null)
                .is_err()
        );
        assert!(Path::parse("$1x").is_err());
        assert!(ReferencePath::parse("$x").is_err());
    }

    #[test]
    fn reference_paths_insert() {
        let rp = |p: &str| ReferencePath::parse(p).unwrap();
        assert_eq!(rp("$").insert(json!({"a": 1}), json!(2)), Ok(json!(2)));
        assert_eq!(
            rp("$.x.y").insert(json!({"a": 1}), json!(2)),
            Ok(json!({"a": 1, "x": {"y": 2}}))
        );
        assert_eq!(
            rp("$.a[1]").insert(json!({"a": [0, 0]}), json!(5)),
            Ok(json!({"a": [0, 5]}))
        );
        let err = rp("$.a.b").insert(json!({"a": "s"}), json!(1)).unwrap_err();
        assert_eq!(err.error, "States.ReferencePathConflict");
        assert_eq!(
            err.cause,
            "Unable to apply step \"b\" to input {\"a\":\"s\"}"
        );
        assert!(rp("$.x").insert(json!("str"), json!(1)).is_err());
    }
}
