//! Runs every case under `tests/cases/` (format and sources in `tests/cases/README.md`).
//!
//! `EVENT_PATTERN_CASE=<substring>` runs only the cases whose path contains it.

use std::path::{Path, PathBuf};

use approvalc_event_pattern::Pattern;
use serde_json::Value;

fn case_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|err| panic!("{}: {err}", dir.display()));
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            case_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "json") {
            out.push(path);
        }
    }
}

/// `Ok(())` when the case holds, else what went wrong.
fn run(case: &Value) -> Result<(), String> {
    let parsed = match &case["pattern"] {
        // Text keeps what a JSON value cannot, such as duplicate keys.
        Value::String(text) => Pattern::parse_str(text),
        pattern => Pattern::parse(pattern),
    };
    let event = &case["event"];
    match (&case["expect"], parsed) {
        (Value::String(expect), Ok(pattern)) => {
            let want = match expect.as_str() {
                "match" => true,
                "no-match" => false,
                other => return Err(format!("bad expect {other:?}")),
            };
            let got = pattern.matches(event);
            if got == want {
                Ok(())
            } else {
                Err(format!("expected {expect}, got the opposite"))
            }
        }
        (Value::String(expect), Err(err)) => Err(format!("expected {expect}, got error: {err}")),
        (Value::Object(expect), Err(err)) => match expect.get("error").and_then(Value::as_str) {
            Some(reason) if reason == err.reason() => Ok(()),
            Some(reason) => Err(format!("expected error {reason:?}, got {:?}", err.reason())),
            None => Err("bad expect object".into()),
        },
        (Value::Object(expect), Ok(_)) => Err(format!(
            "expected error {:?}, got a pattern",
            expect.get("error")
        )),
        (other, _) => Err(format!("bad expect {other}")),
    }
}

#[test]
fn all_cases() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut files = Vec::new();
    case_files(&root, &mut files);
    files.sort();
    let filter = std::env::var("EVENT_PATTERN_CASE").unwrap_or_default();
    let mut passed = 0;
    let mut failures = Vec::new();
    for file in files {
        let name = file
            .strip_prefix(&root)
            .unwrap_or(&file)
            .display()
            .to_string();
        if !name.contains(&filter) {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let case: Value = serde_json::from_str(&text).unwrap_or_else(|err| panic!("{name}: {err}"));
        match run(&case) {
            Ok(()) => passed += 1,
            Err(why) => failures.push(format!("{name}: {why}")),
        }
    }
    println!(
        "event-pattern cases: {passed} passed, {} failed",
        failures.len()
    );
    assert!(passed + failures.len() > 0, "no case matched {filter:?}");
    assert!(
        failures.is_empty(),
        "failing cases:\n{}",
        failures.join("\n")
    );
}
