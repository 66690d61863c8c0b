//! Behaviour of the engine beyond what the recorded corpus covers: the virtual clock,
//! callbacks and heartbeats, retries and their back-off, snapshots and replay, refusals.
//! Time and tasks are inputs; nothing sleeps.

use std::sync::Arc;

use approvalc_engine::{
    Execution, ExecutionConfig, Machine, Progress, ScriptedResult, ScriptedTaskHandler, Snapshot,
    Status, TaskHandler, TaskOutcome, TaskRequest, outcome_json,
};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

const START: i64 = 1_704_067_200_000; // 2024-01-01T00:00:00Z
const DAY_MS: i64 = 86_400_000;

fn machine(def: Value) -> Arc<Machine> {
    Arc::new(Machine::load(&def).unwrap())
}

fn start(def: Value, input: Value) -> Execution {
    Execution::start(machine(def), input, ExecutionConfig::default())
}

/// Runs `def` on `input` with scripted task answers; returns `{status, output, error, cause}`.
fn check(def: Value, input: Value, answers: Value) -> Value {
    let mut handler = ScriptedTaskHandler::from_json(&answers).unwrap();
    let mut exec = start(def, input);
    exec.run_to_completion(&mut handler);
    outcome_json(exec.status())
}

fn types(exec: &Execution) -> Vec<String> {
    exec.history_json()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

/// Answers every task by waiting for a callback.
struct Callbacks;
impl TaskHandler for Callbacks {
    fn invoke(&mut self, _: &TaskRequest<'_>) -> TaskOutcome {
        TaskOutcome::WaitForCallback
    }
}

fn callback_task(extra: Value) -> Value {
    let mut task = json!({
        "Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": "q", "MessageBody": {"token.$": "$$.Task.Token"}},
        "End": true
    });
    for (k, v) in extra.as_object().unwrap() {
        task[k] = v.clone();
    }
    json!({"StartAt": "Ask", "States": {"Ask": task}})
}

#[test]
fn seven_day_wait_finishes_at_once_with_simulated_timestamps() {
    let def =
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 604_800, "End": true}}});
    let mut exec = start(def, json!({"a": 1}));
    assert_eq!(exec.run_to_completion(&mut Callbacks), Progress::Finished);
    assert_eq!(exec.now_ms(), START + 7 * DAY_MS);
    let history = exec.history_json();
    assert_eq!(history[2]["type"], "WaitStateExited");
    assert_eq!(history[2]["timestamp"], "2024-01-08T00:00:00.000Z");
    assert_eq!(outcome_json(exec.status())["output"], json!({"a": 1}));
}

#[test]
fn wait_until_timestamp_in_the_past_does_not_wait() {
    let def = json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Timestamp": "2020-01-01T00:00:00Z", "End": true}}});
    let mut exec = start(def, json!({}));
    exec.run_to_completion(&mut Callbacks);
    assert_eq!(exec.now_ms(), START);
    assert_eq!(exec.status().name(), "SUCCEEDED");
}

#[test]
fn callback_success_resumes_the_execution() {
    let mut exec = start(
        callback_task(json!({"ResultPath": "$.answer"})),
        json!({"q": 1}),
    );
    let Progress::Waiting {
        tokens,
        next_timer_ms,
    } = exec.run(&mut Callbacks)
    else {
        panic!("should wait for the callback");
    };
    assert_eq!((tokens.len(), next_timer_ms), (1, None));
    exec.send_task_success(&tokens[0], json!({"approved": true}), &mut Callbacks)
        .unwrap();
    assert_eq!(
        outcome_json(exec.status())["output"],
        json!({"q": 1, "answer": {"approved": true}})
    );
    assert!(
        exec.send_task_success(&tokens[0], json!(1), &mut Callbacks)
            .is_err()
    );
}

#[test]
fn callback_failure_is_caught_by_name() {
    let def = json!({"StartAt": "Ask", "States": {
        "Ask": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Catch": [{"ErrorEquals": ["Approval.Rejected"], "ResultPath": "$.err", "Next": "Rejected"}],
                "End": true},
        "Rejected": {"Type": "Pass", "End": true}}});
    let mut exec = start(def, json!({}));
    exec.run(&mut Callbacks);
    let token = exec.open_tokens().remove(0);
    exec.send_task_failure(
        &token,
        Some("Approval.Rejected".into()),
        Some("no".into()),
        &mut Callbacks,
    )
    .unwrap();
    assert_eq!(
        outcome_json(exec.status())["output"],
        json!({"err": {"Error": "Approval.Rejected", "Cause": "no"}})
    );
}

#[test]
fn task_timeout_fires_on_the_virtual_clock() {
    let mut exec = start(callback_task(json!({"TimeoutSeconds": 86_400})), json!({}));
    exec.run(&mut Callbacks);
    assert_eq!(exec.next_timer_ms(), Some(START + DAY_MS));
    exec.advance_clock(START + DAY_MS - 1, &mut Callbacks)
        .unwrap();
    assert_eq!(exec.status().name(), "RUNNING");
    exec.advance_clock(START + DAY_MS, &mut Callbacks).unwrap();
    assert_eq!(
        exec.status(),
        &Status::Failed {
            error: "States.Timeout".into(),
            cause: None
        }
    );
    assert!(types(&exec).contains(&"TaskTimedOut".to_owned()));
}

#[test]
fn heartbeats_keep_a_task_alive_until_they_stop() {
    let mut exec = start(
        callback_task(json!({"TimeoutSeconds": 600, "HeartbeatSeconds": 60})),
        json!({}),
    );
    exec.run(&mut Callbacks);
    let token = exec.open_tokens().remove(0);
    exec.advance_clock(START + 50_000, &mut Callbacks).unwrap();
    exec.send_task_heartbeat(&token).unwrap();
    exec.advance_clock(START + 100_000, &mut Callbacks).unwrap();
    assert_eq!(exec.status().name(), "RUNNING");
    exec.advance_clock(START + 110_000, &mut Callbacks).unwrap();
    assert_eq!(exec.status().name(), "FAILED");
    assert_eq!(exec.now_ms(), START + 110_000);
}

#[test]
fn retry_backs_off_exponentially_up_to_max_delay() {
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f",
        "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 2, "BackoffRate": 3, "MaxAttempts": 3, "MaxDelaySeconds": 10}],
        "End": true}}});
    let answers =
        json!([{"error": "Flaky"}, {"error": "Flaky"}, {"error": "Flaky"}, {"result": "ok"}]);
    let mut handler = ScriptedTaskHandler::from_json(&answers).unwrap();
    let mut exec = start(def, json!({}));
    exec.run_to_completion(&mut handler);
    // Delays 2 s, 6 s, then 18 s capped at 10 s.
    assert_eq!(exec.now_ms(), START + 18_000);
    assert_eq!(outcome_json(exec.status())["output"], json!("ok"));
}

#[test]
fn retry_gives_up_after_max_attempts_and_catch_takes_over() {
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "r",
              "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 1}],
              "Catch": [{"ErrorEquals": ["States.TaskFailed"], "Next": "C"}], "End": true},
        "C": {"Type": "Pass", "End": true}}});
    let out = check(
        def,
        json!({}),
        json!([{"error": "E", "cause": "c1"}, {"error": "E", "cause": "c2"}]),
    );
    assert_eq!(out["output"], json!({"Error": "E", "Cause": "c2"}));
}

#[test]
fn full_jitter_is_repeatable_for_a_seed() {
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "r",
        "Retry": [{"ErrorEquals": ["E"], "IntervalSeconds": 100, "JitterStrategy": "FULL"}], "End": true}}});
    let run = || {
        let mut h =
            ScriptedTaskHandler::from_json(&json!([{"error": "E"}, {"result": 1}])).unwrap();
        let mut exec = start(def.clone(), json!({}));
        exec.run_to_completion(&mut h);
        exec.now_ms() - START
    };
    let (a, b) = (run(), run());
    assert_eq!(a, b);
    assert!(a <= 100_000);
}

#[test]
fn states_runtime_is_never_caught() {
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "r", "InputPath": "$.missing",
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "C"}], "End": true},
        "C": {"Type": "Pass", "End": true}}});
    let out = check(def, json!({}), json!([]));
    assert_eq!(out["error"], "States.Runtime");
}

#[test]
fn parallel_branch_failure_fails_the_state_and_aborts_siblings() {
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true,
        "Catch": [{"ErrorEquals": ["Bad"], "Next": "Caught"}],
        "Branches": [
            {"StartAt": "Wait", "States": {"Wait": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken", "End": true}}},
            {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Bad", "Cause": "why"}}}
        ]}, "Caught": {"Type": "Pass", "End": true}}});
    let mut exec = start(def, json!({}));
    exec.run_to_completion(&mut Callbacks);
    assert_eq!(
        outcome_json(exec.status())["output"],
        json!({"Error": "Bad", "Cause": "why"})
    );
    assert!(exec.open_tokens().is_empty());
}

#[test]
fn map_keeps_item_order_and_sees_map_item_context() {
    let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.xs", "MaxConcurrency": 2,
        "ItemSelector": {"i.$": "$$.Map.Item.Index", "v.$": "$$.Map.Item.Value"},
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
        "End": true}}});
    let out = check(def, json!({"xs": ["a", "b"]}), json!([]));
    assert_eq!(
        out["output"],
        json!([{"i": 0, "v": "a"}, {"i": 1, "v": "b"}])
    );
}

#[test]
fn execution_timeout_ends_a_waiting_execution() {
    let mut def = callback_task(json!({}));
    def["TimeoutSeconds"] = json!(3600);
    let mut exec = start(def, json!({}));
    exec.run_to_completion(&mut Callbacks);
    assert_eq!(exec.status().name(), "TIMED_OUT");
    assert_eq!(exec.now_ms(), START + 3_600_000);
}

#[test]
fn runaway_loop_stops_at_the_history_limit() {
    let def = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "A"}}});
    let out = check(def, json!({}), json!([]));
    assert_eq!(out["error"], "States.Runtime");
}

#[test]
fn snapshot_and_restore_resume_a_waiting_execution_with_the_same_history() {
    let def = json!({"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 10, "Next": "Ask"},
        "Ask": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"t.$": "$$.Task.Token"}, "Next": "Done"},
        "Done": {"Type": "Succeed"}}});
    let m = machine(def);
    // Straight through.
    let mut direct = Execution::start(Arc::clone(&m), json!({}), ExecutionConfig::default());
    direct.run_to_completion(&mut Callbacks);
    let token = direct.open_tokens().remove(0);
    direct
        .send_task_success(&token, json!("yes"), &mut Callbacks)
        .unwrap();
    // Persisted as JSON while waiting, restored, then answered.
    let mut first = Execution::start(Arc::clone(&m), json!({}), ExecutionConfig::default());
    first.run_to_completion(&mut Callbacks);
    let saved = serde_json::to_string(first.snapshot()).unwrap();
    drop(first);
    let snapshot: Snapshot = serde_json::from_str(&saved).unwrap();
    let mut resumed = Execution::restore(Arc::clone(&m), snapshot).unwrap();
    resumed
        .send_task_success(&token, json!("yes"), &mut Callbacks)
        .unwrap();
    assert_eq!(resumed.history(), direct.history());
    assert_eq!(resumed.status(), direct.status());
}

#[test]
fn history_events_chain_through_previous_event_ids() {
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}},
        {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": true}}}]}}});
    let mut exec = start(def, json!({}));
    exec.run_to_completion(&mut Callbacks);
    let h = exec.history_json();
    // As on AWS: the first state event follows no event.
    assert_eq!(h[1]["previousEventId"], 0);
    let started = h
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "ParallelStateStarted")
        .unwrap();
    let branch_entries: Vec<&Value> = h
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "PassStateEntered")
        .collect();
    assert_eq!(branch_entries.len(), 2);
    for e in branch_entries {
        assert_eq!(e["previousEventId"], started["id"]);
    }
    assert_eq!(
        types(&exec),
        [
            "ExecutionStarted",
            "ParallelStateEntered",
            "ParallelStateStarted",
            "PassStateEntered",
            "PassStateExited",
            "PassStateEntered",
            "PassStateExited",
            "ParallelStateSucceeded",
            "ParallelStateExited",
            "ExecutionSucceeded"
        ]
    );
}

#[test]
fn scripted_answers_naming_a_state_wait_for_that_state() {
    let def = json!({"StartAt": "A", "States": {
        "A": {"Type": "Task", "Resource": "r", "ResultPath": "$.a", "Next": "B"},
        "B": {"Type": "Task", "Resource": "r", "ResultPath": "$.b", "End": true}}});
    let answers = vec![
        ScriptedResult {
            state: Some("B".into()),
            result: Some(json!(2)),
            error: None,
            cause: None,
            event: None,
        },
        ScriptedResult {
            state: Some("A".into()),
            result: Some(json!(1)),
            error: None,
            cause: None,
            event: None,
        },
    ];
    let mut h = ScriptedTaskHandler::new(answers);
    let mut exec = start(def, json!({}));
    exec.run_to_completion(&mut h);
    assert_eq!(
        outcome_json(exec.status())["output"],
        json!({"a": 1, "b": 2})
    );
}

#[test]
fn variables_are_scoped_to_their_iteration_and_read_from_outside() {
    let def = json!({"StartAt": "Set", "States": {
        "Set": {"Type": "Pass", "Assign": {"x": 1, "seen.$": "$.in"}, "Next": "M"},
        "M": {"Type": "Map", "ItemsPath": "$.xs", "Next": "Read",
              "ItemProcessor": {"StartAt": "Inner", "States": {
                  "Inner": {"Type": "Pass", "Assign": {"x": 99},
                            "Parameters": {"outer.$": "$x", "seen.$": "$seen"}, "Next": "After"},
                  "After": {"Type": "Pass", "Parameters": {"inner.$": "$x", "was.$": "$"}, "End": true}}}},
        "Read": {"Type": "Pass", "Parameters": {"x.$": "$x", "items.$": "$"}, "End": true}}});
    let out = check(def, json!({"in": "a", "xs": [0]}), json!([]));
    // Inside, Parameters saw the outer x (Assign takes effect after them); the iteration's
    // own x did not leak out.
    assert_eq!(
        out["output"],
        json!({"x": 1, "items": [{"inner": 99, "was": {"outer": 1, "seen": "a"}}]})
    );
}

#[test]
fn choice_rule_assign_wins_and_state_assign_goes_with_default() {
    let run = |v: Value| {
        let def = json!({"StartAt": "C", "States": {
            "C": {"Type": "Choice", "Assign": {"s": "default"}, "Default": "R",
                  "Choices": [{"Variable": "$.v", "NumericEquals": 1, "Assign": {"s": "one"}, "Next": "R"}]},
            "R": {"Type": "Pass", "Parameters": {"s.$": "$s"}, "End": true}}});
        check(def, json!({"v": v}), json!([]))["output"].clone()
    };
    assert_eq!(run(json!(1)), json!({"s": "one"}));
    assert_eq!(run(json!(2)), json!({"s": "default"}));
}

fn refused(def: Value) -> String {
    Machine::load(&def).unwrap_err().to_string()
}

#[test]
fn unsupported_definitions_are_refused_naming_state_and_field() {
    let jsonata = refused(
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "QueryLanguage": "JSONata", "End": true}}}),
    );
    assert!(
        jsonata.contains("state `A`") && jsonata.contains("`QueryLanguage`"),
        "{jsonata}"
    );
    let arguments = refused(json!({"StartAt": "A", "States": {"A": {
        "Type": "Task", "Resource": "r", "Arguments": {}, "End": true}}}));
    assert!(arguments.contains("`Arguments`"), "{arguments}");
    let reader = refused(
        json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemReader": {}, "End": true,
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}}}),
    );
    assert!(reader.contains("`ItemReader`"), "{reader}");
    let nested = refused(
        json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "X", "States": {"X": {"Type": "Pass", "Next": "Nowhere"}}}]}}}),
    );
    assert!(
        nested.contains("state `X`") && nested.contains("Branches[0]"),
        "{nested}"
    );
    let typo = refused(
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Reslt": 1, "End": true}}}),
    );
    assert!(typo.contains("`Reslt`"), "{typo}");
    let choice = refused(
        json!({"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [
        {"Variable": "$.a", "NumericEquals": "1", "Next": "C"}]}}}),
    );
    assert!(choice.contains("Choices[0].NumericEquals"), "{choice}");
}
