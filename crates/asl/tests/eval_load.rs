//! Every path, reference path, payload template and intrinsic call in the conformance
//! corpus's JSONPath definitions was accepted by AWS, so each must load here too.
//!
//! Corpus: derived from the LocalStack Step Functions test suite
//! (github:localstack/localstack at 8b9a79f05846835cf4dff63ab7eefdde9df83783,
//! Apache-2.0), recorded against AWS; see `eval_conformance.rs` for how it is found.

use std::path::PathBuf;

use approvalc_asl::eval::{Intrinsic, Path, PayloadTemplate, ReferencePath};
use serde_json::Value;

fn corpus_dir() -> PathBuf {
    let dir = std::env::var_os("APPROVALC_CONFORMANCE_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance"),
        PathBuf::from,
    );
    assert!(
        dir.join("cases").is_dir(),
        "conformance corpus not found at {}: set APPROVALC_CONFORMANCE_DIR to the folder holding cases/",
        dir.display()
    );
    dir
}

/// Fields holding a JSONPath (when a string).
const PATH_FIELDS: &[&str] = &[
    "InputPath",
    "OutputPath",
    "ItemsPath",
    "Variable",
    "SecondsPath",
    "TimestampPath",
    "TimeoutSecondsPath",
    "HeartbeatSecondsPath",
    "MaxConcurrencyPath",
    "ToleratedFailureCountPath",
    "ToleratedFailurePercentagePath",
];
/// Fields holding a path or an intrinsic call.
const COMPUTED_FIELDS: &[&str] = &["ErrorPath", "CausePath"];
/// Payload templates; `Assign` follows the same `.$` rules.
const TEMPLATE_FIELDS: &[&str] = &["Parameters", "ResultSelector", "ItemSelector", "Assign"];

#[derive(Default)]
struct Tally {
    loaded: usize,
    failures: Vec<String>,
}

impl Tally {
    fn record(&mut self, what: &str, result: Result<(), String>) {
        match result {
            Ok(()) => self.loaded += 1,
            Err(e) => self.failures.push(format!("{what}: {e}")),
        }
    }
}

/// Walks every state (including Parallel branches and Map processors) and Choice rule.
fn visit(case: &str, v: &Value, tally: &mut Tally) {
    let Some(map) = v.as_object() else {
        if let Some(items) = v.as_array() {
            items.iter().for_each(|i| visit(case, i, tally));
        }
        return;
    };
    if map.get("QueryLanguage").and_then(Value::as_str) == Some("JSONata") {
        return;
    }
    for (key, value) in map {
        let what = format!("{case} {key}={value}");
        match (key.as_str(), value) {
            (k, Value::String(s)) if PATH_FIELDS.contains(&k) => {
                tally.record(&what, Path::parse(s).map(drop).map_err(|e| e.message));
            }
            // Choice comparisons against another path: `StringEqualsPath`, …
            (k, Value::String(s))
                if k.ends_with("Path") && k != "ResultPath" && !COMPUTED_FIELDS.contains(&k) =>
            {
                tally.record(&what, Path::parse(s).map(drop).map_err(|e| e.message));
            }
            ("ResultPath", Value::String(s)) => {
                tally.record(
                    &what,
                    ReferencePath::parse(s).map(drop).map_err(|e| e.message),
                );
            }
            (k, Value::String(s)) if COMPUTED_FIELDS.contains(&k) => {
                let r = if Intrinsic::looks_like_call(s) {
                    Intrinsic::parse(s).map(drop)
                } else {
                    Path::parse(s).map(drop)
                };
                tally.record(&what, r.map_err(|e| e.message));
            }
            (k, t) if TEMPLATE_FIELDS.contains(&k) => {
                tally.record(
                    &what,
                    PayloadTemplate::compile(t).map(drop).map_err(|e| e.message),
                );
            }
            // `Result` is a literal: its `.$` keys are not evaluated.
            ("Result", _) => {}
            _ => visit(case, value, tally),
        }
    }
}

#[test]
fn every_jsonpath_expression_aws_accepted_loads() {
    let root = corpus_dir();
    let mut tally = Tally::default();
    let mut files = 0;
    for folder in ["cases", "cases-task"] {
        for entry in std::fs::read_dir(root.join(folder)).unwrap() {
            let path = entry.unwrap().path();
            let case: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            files += 1;
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            visit(&name, &case["definition"], &mut tally);
        }
    }
    eprintln!(
        "load: {} expressions from {files} definitions loaded, {} failed",
        tally.loaded,
        tally.failures.len()
    );
    assert!(
        tally.loaded >= 500,
        "only {} expressions found: the walk is broken",
        tally.loaded
    );
    assert!(
        tally.failures.is_empty(),
        "rejected:\n{}",
        tally.failures.join("\n")
    );
}
