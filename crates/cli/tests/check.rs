//! `approvalc check` and `approvalc graph` end to end: exit codes, summary, JSON shape, and
//! insta snapshots of rendered diagnostics (no colour, 80 columns, paths relative to the
//! repository root).

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn approvalc() -> Command {
    let mut cmd = Command::cargo_bin("approvalc").expect("binary built");
    cmd.current_dir(root())
        .env("NO_COLOR", "1")
        .env("COLUMNS", "80");
    cmd
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str]) -> Out {
    let out = approvalc().args(args).output().expect("runs");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn clean_workflow_exits_zero_with_a_summary() {
    let out = run(&["check", "workflows/ssm-single.yaml"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stderr, "checked 1 file: no problems\n");
}

#[test]
fn errors_exit_one_and_count_every_file() {
    let out = run(&[
        "check",
        "workflows/ssm-single.yaml",
        "tests/broken/check-cycle.yaml",
        "tests/broken/check-redundant-need.yaml",
    ]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .ends_with("checked 3 files: 1 error, 1 warning\n"),
        "{}",
        out.stderr
    );
}

#[test]
fn warnings_pass_unless_denied() {
    let file = "tests/broken/check-redundant-need.yaml";
    assert_eq!(run(&["check", file]).code, 0);
    assert_eq!(run(&["check", "--deny-warnings", file]).code, 1);
}

#[test]
fn unreadable_file_and_usage_errors_exit_two() {
    assert_eq!(run(&["check", "no/such/file.yaml"]).code, 2);
    assert_eq!(run(&["check"]).code, 2);
    assert_eq!(
        run(&["check", "--format", "xml", "workflows/ssm-single.yaml"]).code,
        2
    );
}

#[test]
fn json_is_one_array_with_stable_fields() {
    let out = run(&[
        "check",
        "--format",
        "json",
        "tests/broken/check-cycle.yaml",
        "workflows/ssm-single.yaml",
    ]);
    assert_eq!(out.code, 1);
    let value: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON on stdout");
    let items = value.as_array().expect("an array");
    assert_eq!(items.len(), 1);
    let d = &items[0];
    for key in [
        "code",
        "severity",
        "message",
        "file",
        "line",
        "column",
        "end_line",
        "end_column",
        "label",
        "help",
        "related",
    ] {
        assert!(d.get(key).is_some(), "missing {key} in {d}");
    }
    assert_eq!(d["code"], "approvalc::E032");
    assert_eq!(d["severity"], "error");
    assert_eq!(d["file"], "tests/broken/check-cycle.yaml");
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(17), Some(13))
    );
    assert_eq!(d["related"].as_array().map(Vec::len), Some(2));
    // Clean input gives an empty array, still valid JSON.
    let clean = run(&["check", "--format", "json", "workflows/ssm-single.yaml"]);
    assert_eq!(clean.stdout.trim(), "[]");
}

#[test]
fn help_teaches_with_examples() {
    let out = run(&["check", "--help"]);
    assert_eq!(out.code, 0);
    assert!(
        out.stdout.contains("Examples:") && out.stdout.contains("--deny-warnings"),
        "{}",
        out.stdout
    );
    let out = run(&["graph", "--help"]);
    assert!(
        out.stdout.contains("--format dot | dot -Tsvg"),
        "{}",
        out.stdout
    );
}

#[test]
fn graph_prints_mermaid_and_dot() {
    let out = run(&["graph", "workflows/conditional-escalation.yaml"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .starts_with("%% approvalc workflow change-approval\nflowchart TD\n"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains(":::conditional"));
    let out = run(&[
        "graph",
        "--format",
        "dot",
        "workflows/conditional-escalation.yaml",
    ]);
    assert_eq!(out.code, 0);
    assert!(
        out.stdout.contains("\"service-owner\" -> \"security\";"),
        "{}",
        out.stdout
    );
}

#[test]
fn graph_of_a_broken_workflow_reports_and_exits_one() {
    let out = run(&["graph", "tests/broken/check-cycle.yaml"]);
    assert_eq!(out.code, 1);
    assert!(out.stdout.is_empty());
    assert!(out.stderr.contains("approvalc::E032"));
}

/// Rendered human diagnostics for a few representative files.
#[test]
fn rendered_diagnostics() {
    for name in [
        "check-cycle",
        "check-unknown-need",
        "check-template-unknown-input",
        "check-when-type",
        "check-duplicate-approver",
        "check-default-timeout",
    ] {
        let out = run(&["check", &format!("tests/broken/{name}.yaml")]);
        insta::assert_snapshot!(name, out.stderr);
    }
}
