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

/// Peer suite: the asl-validator and statelint fixtures in `cases-validator/` (those
/// tools' verdicts, not AWS's; sources and licences in its `index.json`). Every
/// expression of a *valid* JSONPath fixture must load.
#[test]
fn validator_fixtures_judged_valid_load() {
    let dir = corpus_dir().join("cases-validator/valid");
    let mut tally = Tally::default();
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        // JSONata fixtures and CloudFormation-substituted ones are outside JSONPath.
        let Ok(definition) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        if text.contains("JSONata") {
            continue;
        }
        files += 1;
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        visit(&name, &definition, &mut tally);
    }
    eprintln!(
        "validator fixtures: {} expressions from {files} valid definitions loaded, {} rejected",
        tally.loaded,
        tally.failures.len()
    );
    assert!(
        tally.loaded >= 50,
        "only {} expressions found",
        tally.loaded
    );
    // asl-validator (jsonpath-plus) accepts two filter forms that Jayway JsonPath, which
    // Step Functions runs, does not parse either: a script index `[(@.length-1)]` and an
    // unquoted string `== FooBar`. We side with Jayway; these two are the only
    // disagreements, and any other rejection fails the test.
    let known = [
        "asl-validator__path-array-context",
        "asl-validator__current-value-predicate",
    ];
    let (expected, unexpected): (Vec<_>, Vec<_>) = tally
        .failures
        .iter()
        .partition(|f| known.iter().any(|k| f.starts_with(k)));
    assert_eq!(
        expected.len(),
        2,
        "the known disagreements changed: {expected:?}"
    );
    assert!(
        unexpected.is_empty(),
        "rejected:\n{}",
        unexpected
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The *invalid* fixtures whose fault is a path, template or intrinsic call: each must
/// have at least one expression rejected here.
#[test]
fn validator_fixtures_with_bad_expressions_are_rejected() {
    let dir = corpus_dir().join("cases-validator/invalid");
    for file in [
        "asl-validator__json-path.json",
        "asl-validator__math-add.json",
        "asl-validator__payload-template.asl.json",
        "asl-validator__variable-result-path.json",
        "statelint__invalid-function-invocation.json",
        "statelint__parameter-path-problems.json",
        "statelint__pass-with-intrinsic-function-inputpath.json",
        "statelint__states-array-invocation-leftpad.json",
    ] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let definition: Value = serde_json::from_str(&text).unwrap();
        let mut tally = Tally::default();
        visit(file, &definition, &mut tally);
        assert!(
            !tally.failures.is_empty(),
            "{file}: every expression loaded, but the fixture is invalid"
        );
    }
    // statelint finds exactly five problems here (bad1 … bad5); check each `.$` entry
    // on its own so all five, and only those, are rejected.
    let text =
        std::fs::read_to_string(dir.join("statelint__parameter-path-problems.json")).unwrap();
    let definition: Value = serde_json::from_str(&text).unwrap();
    let mut rejected = Vec::new();
    collect_dollar_entries(
        &definition["States"]["FNORD"]["Parameters"],
        &mut |key, value| {
            let single = serde_json::json!({ key: value });
            if PayloadTemplate::compile(&single).is_err() {
                rejected.push(key.to_owned());
            }
        },
    );
    rejected.sort();
    assert_eq!(rejected, ["bad1.$", "bad2.$", "bad3.$", "bad4.$", "bad5.$"]);
}

/// Calls `f` for every `key.$` entry at any depth.
fn collect_dollar_entries(v: &Value, f: &mut dyn FnMut(&str, &Value)) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                if k.ends_with(".$") {
                    f(k, v);
                } else {
                    collect_dollar_entries(v, f);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_dollar_entries(i, f)),
        _ => {}
    }
}
