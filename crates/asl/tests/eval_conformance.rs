//! Replays the conformance corpus (state machines with inputs and the results AWS
//! recorded for them) through `approvalc_asl::eval`, for every case that only uses what
//! this crate computes: chains of `Pass` states with `InputPath`, `Parameters`,
//! `Result`, `ResultPath`, `OutputPath` and `Assign` (variables), in the JSONPath query
//! language.
//!
//! The corpus is derived from the LocalStack Step Functions test suite
//! (github:localstack/localstack at 8b9a79f05846835cf4dff63ab7eefdde9df83783,
//! Apache-2.0), whose snapshots were recorded against AWS; each case file keeps its
//! `source` attribution. A copy lives in this repository; set
//! `APPROVALC_CONFORMANCE_DIR`, to use another copy than `tests/conformance` in the
//! workspace. A missing corpus fails the test; it is never skipped.

use std::path::PathBuf;

use approvalc_asl::eval::{FixedEnv, Path, PayloadTemplate, ReferencePath, Roots, RuntimeError};
use serde_json::{Value, json};

/// What AWS writes before the cause of a state failure; the engine adds it, so it is
/// removed from the expected cause before comparing.
const CAUSE_PREFIX_END: &str = "). ";

fn corpus_dir() -> PathBuf {
    let dir = std::env::var_os("APPROVALC_CONFORMANCE_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/conformance"),
        PathBuf::from,
    );
    assert!(
        dir.join("cases").is_dir(),
        "conformance corpus not found at {}: set APPROVALC_CONFORMANCE_DIR to the folder holding cases/",
        dir.display()
    );
    dir
}

struct Case {
    name: String,
    /// Express executions (started synchronously) have a smaller context object.
    express: bool,
    reliability: String,
    definition: Value,
    input: Value,
    expected: Value,
}

fn load_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let dir = corpus_dir().join("cases");
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    entries.sort();
    for path in entries {
        let text = std::fs::read_to_string(&path).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        cases.push(Case {
            name: path.file_stem().unwrap().to_string_lossy().into_owned(),
            express: v["category"] == "express",
            reliability: v["reliability"].as_str().unwrap_or("").to_owned(),
            definition: v["definition"].clone(),
            input: v["input"].clone(),
            expected: v["expected"].clone(),
        });
    }
    cases
}

/// Fields of a `Pass` state that the simulation below understands.
const PASS_FIELDS: &[&str] = &[
    "Type",
    "Next",
    "End",
    "Comment",
    "InputPath",
    "Parameters",
    "Result",
    "ResultPath",
    "OutputPath",
    "Assign",
];

/// Why a case is out of this crate's reach, or `None` when it is in.
fn out_of_scope(case: &Case) -> Option<&'static str> {
    let def = &case.definition;
    if def.to_string().contains("JSONata") {
        return Some("JSONata");
    }
    let states = def["States"].as_object()?;
    for state in states.values() {
        if state["Type"] != "Pass" {
            return Some("not only Pass states");
        }
        let fields = state.as_object()?;
        if fields.keys().any(|k| !PASS_FIELDS.contains(&k.as_str())) {
            return Some("Pass fields beyond paths, templates and Assign");
        }
    }
    None
}

/// The context object of the recorded executions, with values the normalised
/// snapshots treat as placeholders.
fn context(input: &Value, state: &str, express: bool) -> Value {
    if express {
        return json!({
            "Execution": {
                "Id": "arn:aws:states:us-east-1:111111111111:express:machine-name:exec-name:run-id",
                "Input": input,
                "Name": "exec-name",
                "RoleArn": "sfn_role_arn",
                "StartTime": "2024-01-01T00:00:00.000Z"
            },
            "StateMachine": {
                "Id": "arn:aws:states:us-east-1:111111111111:stateMachine:machine-name",
                "Name": "machine-name"
            },
            "State": { "Name": state, "EnteredTime": "2024-01-01T00:00:00.000Z" }
        });
    }
    json!({
        "Execution": {
            "Id": "arn:aws:states:us-east-1:111111111111:execution:machine-name:exec-name",
            "Input": input,
            "StartTime": "2024-01-01T00:00:00.000Z",
            "Name": "exec-name",
            "RoleArn": "snf_role_arn",
            "RedriveCount": 0
        },
        "StateMachine": {
            "Id": "arn:aws:states:us-east-1:111111111111:stateMachine:machine-name",
            "Name": "machine-name"
        },
        "State": { "Name": state, "EnteredTime": "2024-01-01T00:00:00.000Z" }
    })
}

/// Runs a chain of Pass states the way Step Functions processes a state's data:
/// InputPath, Parameters (or Result), Assign (over the result, seeing the variables as
/// they were before the state), ResultPath, OutputPath.
fn run(case: &Case) -> Result<Value, RuntimeError> {
    let def = &case.definition;
    let mut name = def["StartAt"].as_str().unwrap().to_owned();
    let mut data = case.input.clone();
    let mut vars = serde_json::Map::new();
    let mut env = FixedEnv::default();
    loop {
        let state = &def["States"][&name];
        let ctx = context(&case.input, &name, case.express);
        let path = |field: &str| {
            state
                .get(field)
                .map(|p| p.as_str().map(|p| Path::parse(p).unwrap()))
        };
        let effective = match path("InputPath") {
            None => data.clone(),
            Some(None) => json!({}),
            Some(Some(p)) => p.select_in(Roots::new(&data, &ctx).with_variables(&vars))?,
        };
        let result = match (state.get("Parameters"), state.get("Result")) {
            (Some(t), _) => PayloadTemplate::compile(t)
                .unwrap()
                .evaluate_in(Roots::new(&effective, &ctx).with_variables(&vars), &mut env)?,
            (None, Some(r)) => r.clone(),
            (None, None) => effective.clone(),
        };
        if let Some(assign) = state.get("Assign") {
            let assigned = PayloadTemplate::compile(assign)
                .unwrap()
                .evaluate_in(Roots::new(&result, &ctx).with_variables(&vars), &mut env)?;
            if let Value::Object(assigned) = assigned {
                vars.extend(assigned);
            }
        }
        let combined = match state.get("ResultPath") {
            None => result,
            Some(Value::Null) => data.clone(),
            Some(p) => ReferencePath::parse(p.as_str().unwrap())
                .unwrap()
                .insert(data.clone(), result)?,
        };
        data = match path("OutputPath") {
            None => combined,
            Some(None) => json!({}),
            Some(Some(p)) => p.select_in(Roots::new(&combined, &ctx).with_variables(&vars))?,
        };
        match state.get("Next").and_then(Value::as_str) {
            Some(next) => name = next.to_owned(),
            None => return Ok(data),
        }
    }
}

/// Whether `actual` matches `expected`, where expected strings may carry the snapshot
/// placeholders (`<ArnPart_0idx>`, `<json-input:1>`, `date`, …) as wildcards.
fn matches(expected: &Value, actual: &Value, loose: bool) -> bool {
    match (expected, actual) {
        (Value::String(e), Value::String(a)) if loose => wildcard_match(e, a),
        (Value::Object(e), Value::Object(a)) => {
            e.len() == a.len()
                && e.iter()
                    .all(|(k, v)| a.get(k).is_some_and(|w| matches(v, w, loose)))
        }
        (Value::Array(e), Value::Array(a)) => {
            e.len() == a.len() && e.iter().zip(a).all(|(x, y)| matches(x, y, loose))
        }
        (Value::Number(e), Value::Number(a)) => {
            e.as_f64() == a.as_f64() && e.is_f64() == a.is_f64()
        }
        _ => expected == actual,
    }
}

fn wildcard_match(expected: &str, actual: &str) -> bool {
    const WORD_PLACEHOLDERS: &[&str] = &["date", "start-time", "entered-time"];
    if WORD_PLACEHOLDERS.contains(&expected) {
        return true;
    }
    let mut pattern = String::from("^");
    let mut rest = expected;
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>') else {
            break;
        };
        pattern.push_str(&regex::escape(&rest[..open]));
        pattern.push_str("(?s:.*)");
        rest = &rest[open + close + 1..];
    }
    pattern.push_str(&regex::escape(rest));
    pattern.push('$');
    regex::Regex::new(&pattern).is_ok_and(|re| re.is_match(actual))
}

/// Nondeterministic cases (UUID, MathRandom) are compared by shape: same keys, and a
/// value of the same JSON kind where the snapshot kept one.
fn same_shape(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            e.len() == a.len()
                && e.iter()
                    .all(|(k, v)| a.get(k).is_some_and(|w| same_shape(v, w)))
        }
        // The recorder replaced generated values with marker strings.
        (Value::String(_), _) => !actual.is_null(),
        _ => matches(expected, actual, false),
    }
}

fn check(case: &Case) -> Result<(), String> {
    let exp = &case.expected;
    let outcome = run(case);
    match (exp["status"].as_str(), outcome) {
        (Some("SUCCEEDED"), Ok(out)) => {
            let ok = match case.reliability.as_str() {
                "exact" => matches(&exp["output"], &out, false),
                "normalised" => matches(&exp["output"], &out, true),
                _ => same_shape(&exp["output"], &out),
            };
            if ok {
                Ok(())
            } else {
                Err(format!(
                    "output differs\n  expected {}\n  actual   {out}",
                    exp["output"]
                ))
            }
        }
        (Some("FAILED"), Err(e)) => {
            let want_cause = exp["cause"].as_str().unwrap_or("");
            let want_cause = want_cause
                .find(CAUSE_PREFIX_END)
                .map_or(want_cause, |at| &want_cause[at + CAUSE_PREFIX_END.len()..]);
            if exp["error"] != e.error.as_str() {
                Err(format!("error {} instead of {}", e.error, exp["error"]))
            } else if !wildcard_match(want_cause, &e.cause) {
                Err(format!(
                    "cause differs\n  expected {want_cause}\n  actual   {}",
                    e.cause
                ))
            } else {
                Ok(())
            }
        }
        (status, Ok(out)) => Err(format!("expected {status:?}, got success with {out}")),
        (status, Err(e)) => Err(format!("expected {status:?}, got {e}")),
    }
}

#[test]
fn pass_chains_match_what_aws_recorded() {
    let cases = load_cases();
    let mut in_scope = 0;
    let mut failures = Vec::new();
    let mut excluded = std::collections::BTreeMap::<&str, usize>::new();
    for case in &cases {
        if let Some(why) = out_of_scope(case) {
            *excluded.entry(why).or_default() += 1;
            continue;
        }
        in_scope += 1;
        if let Err(diff) = check(case) {
            failures.push(format!("{}: {diff}", case.name));
        }
    }
    eprintln!(
        "conformance: {} of {in_scope} in-scope cases pass; {} cases excluded: {excluded:?}",
        in_scope - failures.len(),
        cases.len() - in_scope
    );
    // The corpus had 111 such cases when this test was written; far fewer means the
    // selection or the loader broke, not that the code got better.
    assert!(
        in_scope >= 105,
        "only {in_scope} cases selected from {} files",
        cases.len()
    );
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn placeholders_match_as_wildcards() {
    assert!(wildcard_match(
        "arn:<partition>:states:<region>:1:x",
        "arn:aws:states:us-east-1:1:x"
    ));
    assert!(wildcard_match("date", "2024-01-01"));
    assert!(!wildcard_match("arn:<partition>:states", "arn:aws:lambda"));
    assert!(!matches(&json!({"a": 1}), &json!({"a": 1.0}), false));
}
