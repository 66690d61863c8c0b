//! The example workflows and the committed JSON Schema.
//!
//! * every `workflows/*.yaml` parses without a diagnostic, names the schema on its first
//!   line, and validates against `approvalc_dsl::schema()` with an independent YAML reader
//!   (serde-saphyr) and JSON Schema validator (jsonschema);
//! * `approvalc.schema.json` at the repository root is exactly what `schema()` generates
//!   (run with `UPDATE_SCHEMA=1` to rewrite it after changing the language);
//! * the schema rejects what the parser rejects for the shapes it can express.

use std::fs;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn examples() -> Vec<(PathBuf, String)> {
    let mut files: Vec<PathBuf> = fs::read_dir(repo().join("workflows"))
        .expect("workflows/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| is_workflow(p))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = fs::read_to_string(&p).expect("readable");
            (p, text)
        })
        .collect()
}

fn schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&approvalc_dsl::schema()).expect("serialises");
    text.push('\n');
    text
}

fn validator() -> jsonschema::Validator {
    jsonschema::validator_for(&approvalc_dsl::schema()).expect("the schema is a valid JSON Schema")
}

/// Schema errors for a YAML text, read by serde-saphyr (not by the crate under test).
fn schema_errors(yaml: &str) -> Vec<String> {
    let value: serde_json::Value = serde_saphyr::from_str(yaml).expect("valid YAML");
    validator()
        .iter_errors(&value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn there_are_at_least_five_examples() {
    assert!(
        examples().len() >= 5,
        "{:?}",
        examples().iter().map(|e| &e.0).collect::<Vec<_>>()
    );
}

#[test]
fn every_example_parses_cleanly() {
    for (path, text) in examples() {
        let parsed = approvalc_dsl::parse(&text);
        assert!(
            parsed.diagnostics.is_empty(),
            "{}: {:#?}",
            path.display(),
            parsed.diagnostics
        );
        assert!(parsed.workflow.is_some(), "{}", path.display());
    }
}

#[test]
fn every_example_names_the_schema_on_its_first_line() {
    for (path, text) in examples() {
        assert_eq!(
            text.lines().next(),
            Some("# yaml-language-server: $schema=../approvalc.schema.json"),
            "{}",
            path.display()
        );
    }
}

#[test]
fn every_example_validates_against_the_schema() {
    for (path, text) in examples() {
        let errors = schema_errors(&text);
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
    }
}

#[test]
fn the_committed_schema_is_the_generated_one() {
    let path = repo().join("approvalc.schema.json");
    let generated = schema_text();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        fs::write(&path, &generated).expect("writable");
    }
    let committed = fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "approvalc.schema.json is stale; run `UPDATE_SCHEMA=1 cargo test -p approvalc-dsl --test workflows` (or `approvalc schema -o approvalc.schema.json`)"
    );
}

#[test]
fn the_schema_rejects_what_the_parser_rejects() {
    let base = fs::read_to_string(repo().join("workflows/ssm-single.yaml")).expect("example");
    for (from, to) in [
        ("timeout: 1d", "timeout: 1w"),
        ("\"111111111111\"", "\"1111\""),
        ("region: ap-northeast-1", "region: tokyo"),
        ("    ssm:", "    nedds: [x]\n    ssm:"),
        ("min_approvals: 1", "min_approvals: 0"),
        ("on_timeout: reject", "on_timeout: approve"),
        ("apiVersion: approvalc/v1", "apiVersion: approvalc/v2"),
        (
            "    ssm:",
            "    action: { ssm_automation: { document: X-Doc } }\n    ssm:",
        ),
    ] {
        assert!(base.contains(from), "{from}");
        let broken = base.replacen(from, to, 1);
        assert!(
            approvalc_dsl::parse(&broken).has_errors(),
            "parser accepted {to}"
        );
        assert!(!schema_errors(&broken).is_empty(), "schema accepted {to}");
    }
}

#[test]
fn the_schema_accepts_what_the_parser_accepts() {
    let base = fs::read_to_string(repo().join("workflows/ssm-single.yaml")).expect("example");
    for (from, to) in [
        ("defaults:\n", "rules:\n  # later\ndefaults:\n"),
        ("    ssm:", "    when: true\n    ssm:"),
        (
            "  approve:",
            "  grant:\n    action:\n      ssm_automation:\n        document: Grant-Role\n        parameters: { Hours: 4, On: true, Tags: [a, 2] }\n  approve:",
        ),
        (
            "approvers:\n        - arn:aws:iam::111111111111:role/ChangeApprover",
            "approvers: [alice, \"arn:aws:sts::111111111111:assumed-role/Admin/bob\"]",
        ),
    ] {
        assert!(base.contains(from), "{from}");
        let variant = base.replacen(from, to, 1);
        let parsed = approvalc_dsl::parse(&variant);
        assert!(
            parsed.diagnostics.is_empty(),
            "{to}: {:#?}",
            parsed.diagnostics
        );
        let errors = schema_errors(&variant);
        assert!(errors.is_empty(), "{to}: {errors:#?}");
    }
}

/// A workflow file in `workflows/`: `*.yaml`, but not the scenario files (`*.test.yaml`)
/// that `approvalc test` reads.
fn is_workflow(path: &std::path::Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".yaml") && !n.ends_with(".test.yaml"))
}
