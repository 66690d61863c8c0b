//! End to end through the CLI for local runs: `simulate` on every example workflow and on
//! compiled artifacts, `test` on scenario files, and `run` / `approve` / `reject` /
//! `status` / `runs` across invocations sharing one store, including a process killed in
//! the middle of a decision.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn workflow(name: &str) -> String {
    root().join("workflows").join(name).display().to_string()
}

fn approvalc() -> Command {
    let mut cmd = Command::cargo_bin("approvalc").unwrap();
    cmd.env_remove("APPROVALC_STATE_DIR")
        .env_remove("APPROVALC_TEST_ABORT_BEFORE_COMMIT");
    cmd
}

fn json_of(output: &std::process::Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn simulate(file: &str, input: &str, extra: &[&str]) -> Value {
    let out = approvalc()
        .args(["simulate", file, "--input", input, "--format", "json"])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json_of(&out)
}

const EXAMPLES: [(&str, &str); 5] = [
    ("ssm-single.yaml", r#"{"change": "raise limits"}"#),
    ("codepipeline-single.yaml", r#"{"page": "news/a.html"}"#),
    (
        "multi-level-cross-account.yaml",
        r#"{"version": "v1.0.0", "ticket": "REL-1"}"#,
    ),
    (
        "conditional-escalation.yaml",
        r#"{"change_id": "CHG-1234", "summary": "x", "risk": "high"}"#,
    ),
    (
        "temporary-privilege.yaml",
        r#"{"requester": "bob", "reason": "debug"}"#,
    ),
];

#[test]
fn simulate_runs_every_example_to_its_end() {
    for (file, input) in EXAMPLES {
        let out = simulate(&workflow(file), input, &[]);
        let decision = out["decision"].as_str().unwrap_or_default();
        assert!(
            ["approved", "rejected"].contains(&decision),
            "{file}: {out}"
        );
        assert!(
            out["transitions"].as_u64().unwrap_or(0) > 10,
            "{file}: {out}"
        );
        let stages = out["stages"].as_object().unwrap();
        assert!(!stages.is_empty());
        for (id, stage) in stages {
            let d = stage["decision"].as_str().unwrap_or_default();
            assert!(
                ["approved", "rejected", "timed_out", "skipped", "cancelled"].contains(&d),
                "{file} {id}: {stage}"
            );
            assert!(stage["account"].is_string(), "{file} {id}: {stage}");
        }
    }
}

#[test]
fn single_stage_examples_are_approved_by_default_and_rejected_on_request() {
    let out = simulate(&workflow("ssm-single.yaml"), EXAMPLES[0].1, &[]);
    assert_eq!(out["decision"], "approved");
    assert_eq!(
        out["stages"]["approve"]["approvers"][0],
        "arn:aws:iam::111111111111:role/ChangeApprover"
    );
    let out = simulate(
        &workflow("codepipeline-single.yaml"),
        EXAMPLES[1].1,
        &["--decide", "review=reject@editor-in-chief"],
    );
    assert_eq!(out["decision"], "rejected");
    assert_eq!(out["stages"]["review"]["approvers"][0], "editor-in-chief");
}

#[test]
fn simulate_compiled_artifacts_gives_the_same_run() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    approvalc()
        .args(["compile", &workflow("multi-level-cross-account.yaml"), "-o"])
        .arg(&out_dir)
        .assert()
        .success();
    let (file, input) = EXAMPLES[2];
    let from_yaml = simulate(&workflow(file), input, &["--decide", "qa=reject"]);
    let from_dir = simulate(
        &out_dir.display().to_string(),
        input,
        &["--decide", "qa=reject"],
    );
    assert_eq!(from_yaml, from_dir);
}

#[test]
fn simulate_json_has_exactly_the_documented_shape() {
    for (file, input) in EXAMPLES {
        let out = simulate(&workflow(file), input, &[]);
        let mut keys: Vec<&str> = out
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(keys, ["decision", "stages", "transitions"], "{file}");
        for (id, stage) in out["stages"].as_object().unwrap() {
            let mut keys: Vec<&str> = stage
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            keys.sort_unstable();
            assert_eq!(
                keys,
                ["account", "approvers", "comment", "decided_at", "decision"],
                "{file} {id}"
            );
            assert!(stage["approvers"].is_array());
            assert!(stage["comment"].is_string() || stage["comment"].is_null());
        }
    }
}

/// The STS refusal as the stage tree and `status --json` show it.
const STS_DENIED: &str = "User: arn:aws:sts::111111111111:assumed-role/approvalc-release-prod/";

#[test]
fn a_wrong_external_id_or_a_missing_bootstrap_fails_like_aws() {
    let (file, input) = EXAMPLES[2];
    let human = |extra: &[&str]| {
        let out = approvalc()
            .args(["simulate", &workflow(file), "--input", input])
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let tree = human(&["--external-id", "approvalc-release-prod-prod-owner=wrong"]);
    assert!(tree.contains("release-prod simulation: rejected"), "{tree}");
    assert!(tree.contains(STS_DENIED), "{tree}");
    assert!(tree.contains("is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::333333333333:role/approvalc-release-prod-prod-owner (Service: Sts, Status Code: 403, Error Code: AccessDenied)"), "{tree}");
    let tree = human(&["--missing-role", "approvalc-release-prod-qa"]);
    assert!(
        tree.contains("on resource: arn:aws:iam::222222222222:role/approvalc-release-prod-qa (Service: Sts, Status Code: 403, Error Code: AccessDenied)"),
        "{tree}"
    );
    let tree = human(&["--not-bootstrapped", "prod"]);
    assert!(
        tree.contains("StepFunctions.StateMachineDoesNotExistException: State Machine Does Not Exist: 'arn:aws:states:ap-northeast-1:333333333333:stateMachine:approvalc-ssm-approval'"),
        "{tree}"
    );
}

#[test]
fn a_stored_run_shows_the_sts_refusal_after_the_first_level() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (file, input) = EXAMPLES[2];
    let out = stored(
        d,
        &[
            "run",
            &workflow(file),
            "--input",
            input,
            "--name",
            "sts",
            "--external-id",
            "approvalc-release-prod-qa=arn:aws:states:ap-northeast-1:111111111111:stateMachine:other",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = stored(d, &["approve", "sts", "team-lead"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = json_of(&stored(d, &["status", "sts", "--json"]));
    assert_eq!(status["decision"], "rejected");
    let error = status["stages"]["qa"]["error"].as_str().unwrap_or_default();
    assert!(error.contains(STS_DENIED), "{error}");
    assert!(
        error.contains(
            "sts:AssumeRole on resource: arn:aws:iam::222222222222:role/approvalc-release-prod-qa"
        ),
        "{error}"
    );
    assert_eq!(
        status["stages"]["prod-owner"]["decision"], "cancelled",
        "{status}"
    );
    assert!(status["pending"].as_array().unwrap().is_empty(), "{status}");
}

#[test]
fn a_decision_for_an_unknown_principal_is_a_user_error() {
    let out = approvalc()
        .args([
            "simulate",
            &workflow("ssm-single.yaml"),
            "--input",
            EXAMPLES[0].1,
        ])
        .args([
            "--decide",
            "approve=approve@arn:aws:iam::111111111111:user/mallory",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("may not decide stage `approve`"));
}

#[test]
fn test_passes_every_scenario_of_every_example() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../workflows");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".test.yaml"))
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert!(files.len() >= 5, "{files:?}");
    let out = approvalc().arg("test").args(&files).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains(" 0 failed"), "{stdout}");
    assert!(!stdout.contains("FAILED"), "{stdout}");
}

#[test]
fn test_fails_on_a_wrong_expectation() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wrong.test.yaml");
    let text = format!(
        "workflow: {}\nscenarios:\n  - name: expects the wrong thing\n    input: {{change: x}}\n    expect:\n      decision: rejected\n      stages:\n        approve: rejected\n",
        workflow("ssm-single.yaml")
    );
    std::fs::write(&file, text).unwrap();
    let out = approvalc().arg("test").arg(&file).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("scenario expects the wrong thing ... FAILED"),
        "{stdout}"
    );
    assert!(
        stdout.contains("stage approve: expected rejected, got approved"),
        "{stdout}"
    );
}

fn stored(dir: &Path, args: &[&str]) -> std::process::Output {
    approvalc()
        .args(args)
        .arg("--state-dir")
        .arg(dir)
        .output()
        .unwrap()
}

#[test]
fn run_approve_reject_status_runs_across_invocations() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (file, input) = EXAMPLES[2];
    let out = stored(
        d,
        &["run", &workflow(file), "--input", input, "--name", "r1"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = stored(
        d,
        &[
            "approve",
            "r1",
            "team-lead",
            "--as",
            "arn:aws:iam::222222222222:user/qa-oncall",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let out = stored(
        d,
        &[
            "approve",
            "r1",
            "team-lead",
            "--as",
            "arn:aws:iam::111111111111:role/TeamLead",
            "--comment",
            "lgtm",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = json_of(&stored(d, &["status", "r1", "--json"]));
    assert_eq!(status["stages"]["team-lead"]["decision"], "approved");
    assert_eq!(status["stages"]["team-lead"]["comment"], "lgtm");
    let pending: Vec<&str> = status["pending"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["stage"].as_str().unwrap())
        .collect();
    assert_eq!(pending, vec!["prod-owner", "qa"]);
    let out = stored(
        d,
        &[
            "reject",
            "r1",
            "qa",
            "--as",
            "arn:aws:iam::222222222222:role/QaLead",
        ],
    );
    assert!(out.status.success());
    let status = json_of(&stored(d, &["status", "r1", "--json"]));
    assert_eq!(status["decision"], "rejected");
    assert_eq!(status["stages"]["prod-owner"]["decision"], "cancelled");
    assert!(status["pending"].as_array().unwrap().is_empty());
    let runs = json_of(&stored(d, &["runs", "--json"]));
    assert_eq!(runs[0]["id"], "r1");
    assert_eq!(runs[0]["decision"], "rejected");
    let again = stored(
        d,
        &[
            "approve",
            "r1",
            "prod-owner",
            "--as",
            "arn:aws:iam::333333333333:role/ProdOwner",
        ],
    );
    assert_eq!(
        again.status.code(),
        Some(1),
        "a finished run takes no decisions"
    );
}

#[test]
fn a_process_killed_in_the_middle_of_a_decision_leaves_the_store_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (file, input) = EXAMPLES[0];
    assert!(
        stored(
            d,
            &["run", &workflow(file), "--input", input, "--name", "k"]
        )
        .status
        .success()
    );
    let killed = approvalc()
        .args([
            "approve",
            "k",
            "approve",
            "--as",
            "arn:aws:iam::111111111111:role/ChangeApprover",
            "--state-dir",
        ])
        .arg(d)
        .env("APPROVALC_TEST_ABORT_BEFORE_COMMIT", "1")
        .output()
        .unwrap();
    assert!(!killed.status.success(), "the hook must kill the process");
    let status = json_of(&stored(d, &["status", "k", "--json"]));
    assert_eq!(
        status["stages"]["approve"]["decision"], "pending",
        "{status}"
    );
    let runs = json_of(&stored(d, &["runs", "--json"]));
    assert_eq!(runs[0]["decision"], Value::Null);
    let out = stored(
        d,
        &[
            "approve",
            "k",
            "approve",
            "--as",
            "arn:aws:iam::111111111111:role/ChangeApprover",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = json_of(&stored(d, &["status", "k", "--json"]));
    assert_eq!(status["decision"], "approved");
    let store = approvalc_local::store::Store::open(d).unwrap();
    assert!(store.integrity_ok().unwrap());
}

const TEAM_LEAD: &str = "arn:aws:iam::111111111111:role/TeamLead";
const APPROVER: &str = "arn:aws:iam::111111111111:role/ChangeApprover";

/// A stored run of `EXAMPLES[index]` named `name` in `dir`.
fn start_run(dir: &Path, index: usize, name: &str) {
    let (file, input) = EXAMPLES[index];
    let out = stored(
        dir,
        &["run", &workflow(file), "--input", input, "--name", name],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The `approvalc` binary as a plain process (spawned, not waited for).
fn process(dir: &Path, args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("approvalc"));
    cmd.args(args)
        .arg("--state-dir")
        .arg(dir)
        .env_remove("APPROVALC_STATE_DIR")
        .env_remove("APPROVALC_TEST_ABORT_BEFORE_COMMIT")
        .env_remove("APPROVALC_TEST_HOLD_BEFORE_COMMIT_MS")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    cmd
}

/// Waits for a child at most `limit`; kills it and fails the test after that.
fn wait_at_most(
    child: &mut std::process::Child,
    limit: std::time::Duration,
) -> std::process::ExitStatus {
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("the process did not end within {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Reads stderr lines until one contains `text` (the child keeps running).
fn await_stderr(
    child: &mut std::process::Child,
    text: &str,
) -> std::io::BufReader<std::process::ChildStderr> {
    use std::io::BufRead as _;
    let mut reader = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader.read_line(&mut line).unwrap();
        assert!(n > 0, "stderr ended before {text:?}");
        if line.contains(text) {
            return reader;
        }
    }
}

#[test]
fn approve_without_as_acts_as_the_only_approver_and_asks_when_there_are_several() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    start_run(d, 2, "who");
    let out = stored(d, &["approve", "who", "team-lead", "--comment", "ok"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("acting as {TEAM_LEAD}")));
    let out = stored(d, &["approve", "who", "prod-owner"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("several principals may decide `prod-owner`; say which with --as: arn:aws:iam::333333333333:role/ProdOwner, arn:aws:iam::333333333333:role/ProdDeputy"),
        "{stderr}"
    );
    let out = stored(d, &["approve", "who", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("stage `nope` has no pending approval (pending: "),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn only_listed_principals_may_decide_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    start_run(d, 2, "listed");
    let out = stored(
        d,
        &[
            "approve",
            "listed",
            "team-lead",
            "--as",
            "arn:aws:iam::111111111111:role/ReleaseManager",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("arn:aws:iam::111111111111:role/ReleaseManager may not decide stage `team-lead`; it may be decided by: {TEAM_LEAD}")),
        "{stderr}"
    );
    let status = json_of(&stored(d, &["status", "listed", "--json"]));
    assert_eq!(status["stages"]["team-lead"]["decision"], "pending");
    assert!(status["decisions"].as_array().unwrap().is_empty());
}

#[test]
fn status_prints_the_commands_that_decide_and_they_work() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    start_run(d, 2, "cmds");
    let out = stored(d, &["status", "cmds"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let dir_arg = d.display().to_string();
    let expected =
        format!("    approvalc approve cmds team-lead --as {TEAM_LEAD} --state-dir {dir_arg}");
    let line = text
        .lines()
        .find(|l| l.starts_with("    approvalc approve"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        dir_arg.contains(' ') || line == expected,
        "{line}\n{expected}"
    );
    assert!(
        text.contains("pending: team-lead (ssm in operator, primary attempt) until "),
        "{text}"
    );
    // Run the printed command as printed (minus the program name).
    let words: Vec<&str> = line.split_whitespace().skip(1).collect();
    let out = approvalc().args(&words).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = json_of(&stored(d, &["status", "cmds", "--json"]));
    assert_eq!(status["stages"]["team-lead"]["decision"], "approved");
}

#[test]
fn run_wait_follows_decisions_taken_by_other_processes() {
    use std::io::Read as _;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (file, input) = EXAMPLES[2];
    let mut watcher = process(
        d,
        &[
            "run",
            &workflow(file),
            "--input",
            input,
            "--name",
            "live",
            "--wait",
            "--poll-ms",
            "50",
        ],
    )
    .spawn()
    .unwrap();
    let _stderr = await_stderr(&mut watcher, "started run live");
    let steps = [
        ("team-lead", TEAM_LEAD),
        ("qa", "arn:aws:iam::222222222222:role/QaLead"),
        ("prod-owner", "arn:aws:iam::333333333333:role/ProdOwner"),
        ("prod-owner", "arn:aws:iam::333333333333:role/ProdDeputy"),
        (
            "release-manager",
            "arn:aws:iam::111111111111:role/ReleaseManager",
        ),
    ];
    for (stage, who) in steps {
        // Give the watcher time to see each state on its own.
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(
            watcher.try_wait().unwrap().is_none(),
            "the watcher ended before {stage}"
        );
        let out = stored(d, &["approve", "live", stage, "--as", who]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let status = wait_at_most(&mut watcher, std::time::Duration::from_secs(30));
    let mut stdout = String::new();
    watcher
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert!(status.success(), "{stdout}");
    // The first tree (started), then one per decision the watcher saw, the last approved.
    let trees: Vec<&str> = stdout.split("release-prod live: ").skip(1).collect();
    assert!(trees.len() >= 5, "{stdout}");
    assert!(trees[0].starts_with("running"), "{stdout}");
    assert!(trees.last().unwrap().starts_with("approved"), "{stdout}");
    assert!(
        trees
            .iter()
            .any(|t| t.contains("approved so far by: arn:aws:iam::333333333333:role/ProdOwner")),
        "the second terminal's partial approval shows up: {stdout}"
    );
}

#[test]
fn concurrent_processes_deciding_the_same_request_decide_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    start_run(d, 0, "race");
    // Every process holds the write lock for a while after writing, so they overlap for sure.
    let mut children: Vec<std::process::Child> = (0..6)
        .map(|i| {
            process(
                d,
                &[
                    "approve",
                    "race",
                    "approve",
                    "--as",
                    APPROVER,
                    "--comment",
                    &format!("decider {i}"),
                ],
            )
            .env("APPROVALC_TEST_HOLD_BEFORE_COMMIT_MS", "200")
            .spawn()
            .unwrap()
        })
        .collect();
    let codes: Vec<Option<i32>> = children
        .iter_mut()
        .map(|c| wait_at_most(c, std::time::Duration::from_secs(60)).code())
        .collect();
    assert_eq!(
        codes.iter().filter(|c| **c == Some(0)).count(),
        1,
        "{codes:?}"
    );
    assert_eq!(
        codes.iter().filter(|c| **c == Some(1)).count(),
        5,
        "{codes:?}"
    );
    let status = json_of(&stored(d, &["status", "race", "--json"]));
    assert_eq!(status["decision"], "approved");
    assert_eq!(status["decisions"].as_array().unwrap().len(), 1, "{status}");
    let world = approvalc_local::store::Store::open(d)
        .unwrap()
        .load("race")
        .unwrap();
    let signals: usize = world
        .services()
        .automations
        .values()
        .map(|a| a.signals.len())
        .sum();
    assert_eq!(signals, 1);
    let sends = world
        .handler_calls()
        .iter()
        .filter(|c| c.report["result"] == "decided")
        .count();
    assert_eq!(sends, 1, "one SendTaskSuccess: {:?}", world.handler_calls());
}

#[test]
fn concurrent_processes_deciding_different_things_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    start_run(d, 2, "both");
    assert!(
        stored(d, &["approve", "both", "team-lead"])
            .status
            .success()
    );
    // Both production owners and the QA lead act at once.
    let deciders = [
        ("prod-owner", "arn:aws:iam::333333333333:role/ProdOwner"),
        ("prod-owner", "arn:aws:iam::333333333333:role/ProdDeputy"),
        ("qa", "arn:aws:iam::222222222222:role/QaLead"),
    ];
    let mut children: Vec<std::process::Child> = deciders
        .iter()
        .map(|(stage, who)| {
            process(d, &["approve", "both", stage, "--as", who])
                .env("APPROVALC_TEST_HOLD_BEFORE_COMMIT_MS", "200")
                .spawn()
                .unwrap()
        })
        .collect();
    for c in &mut children {
        assert!(wait_at_most(c, std::time::Duration::from_secs(60)).success());
    }
    let status = json_of(&stored(d, &["status", "both", "--json"]));
    assert_eq!(status["stages"]["qa"]["decision"], "approved", "{status}");
    assert_eq!(
        status["stages"]["prod-owner"]["decision"], "approved",
        "{status}"
    );
    let mut owners: Vec<&str> = status["stages"]["prod-owner"]["approvers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    owners.sort_unstable();
    assert_eq!(owners, [deciders[1].1, deciders[0].1]);
    assert_eq!(status["decisions"].as_array().unwrap().len(), 4);
    let pending: Vec<&str> = status["pending"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["stage"].as_str().unwrap())
        .collect();
    assert_eq!(pending, ["release-manager"]);
}

#[test]
fn a_process_killed_with_sigkill_while_committing_leaves_the_store_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    start_run(d, 0, "sigkill");
    let mut child = process(d, &["approve", "sigkill", "approve", "--as", APPROVER])
        .env("APPROVALC_TEST_HOLD_BEFORE_COMMIT_MS", "30000")
        .spawn()
        .unwrap();
    // The new state and the audit line are written; the commit has not happened.
    let _stderr = await_stderr(&mut child, "test hook: holding the write lock");
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(!status.success());
    let status = json_of(&stored(d, &["status", "sigkill", "--json"]));
    assert_eq!(
        status["stages"]["approve"]["decision"], "pending",
        "{status}"
    );
    assert!(
        status["decisions"].as_array().unwrap().is_empty(),
        "{status}"
    );
    let store = approvalc_local::store::Store::open(d).unwrap();
    assert!(store.integrity_ok().unwrap());
    assert_eq!(store.list().unwrap()[0].version, 1);
    drop(store);
    let out = stored(d, &["approve", "sigkill", "approve", "--as", APPROVER]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = json_of(&stored(d, &["status", "sigkill", "--json"]));
    assert_eq!(status["decision"], "approved");
    assert_eq!(status["decisions"].as_array().unwrap().len(), 1);
}

#[test]
fn the_store_defaults_to_xdg_data_home_then_home() {
    let dir = tempfile::tempdir().unwrap();
    let (xdg, home) = (dir.path().join("xdg"), dir.path().join("home"));
    let (file, input) = EXAMPLES[0];
    let run = |env_xdg: Option<&Path>, name: &str| {
        let mut cmd = approvalc();
        cmd.args(["run", &workflow(file), "--input", input, "--name", name])
            .env("HOME", &home);
        match env_xdg {
            Some(x) => cmd.env("XDG_DATA_HOME", x),
            None => cmd.env_remove("XDG_DATA_HOME"),
        };
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let said = run(Some(&xdg), "in-xdg");
    assert!(xdg.join("approvalc/runs.sqlite3").is_file(), "{said}");
    assert!(
        said.contains(&xdg.join("approvalc").display().to_string()),
        "{said}"
    );
    run(None, "in-home");
    assert!(home.join(".local/share/approvalc/runs.sqlite3").is_file());
    let listed = approvalc()
        .args(["runs", "--json"])
        .env("XDG_DATA_HOME", &xdg)
        .output()
        .unwrap();
    let ids: Vec<String> = json_of(&listed)
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["in-xdg"]);
    let explicit = dir.path().join("explicit");
    let out = stored(&explicit, &["runs", "--json"]);
    assert_eq!(json_of(&out), serde_json::json!([]));
}
