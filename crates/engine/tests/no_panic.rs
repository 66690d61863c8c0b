//! Property tests: loading and running arbitrary definitions never panics. Definitions are
//! drawn from the ASL vocabulary (state types, fields, paths, intrinsics, odd values) so most
//! of them load and run, not just fail to parse; task answers are drawn too.

use std::sync::Arc;

use approvalc_engine::{Execution, ExecutionConfig, Machine, ScriptedResult, ScriptedTaskHandler};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const NAMES: &[&str] = &["A", "B", "C", "D"];

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!(null)),
        Just(json!(0)),
        Just(json!(-1)),
        Just(json!(1.5)),
        Just(json!(3)),
        Just(json!(true)),
        Just(json!("$")),
        Just(json!("$.a")),
        Just(json!("$.a[0]")),
        Just(json!("$.xs[*]")),
        Just(json!("$$.Execution.Input")),
        Just(json!("$x")),
        Just(json!("States.MathAdd($.a, 1)")),
        Just(json!("States.Array($.a, 'x')")),
        Just(json!("2016-03-14T01:59:00Z")),
        Just(json!("not a path")),
        Just(json!({"k.$": "$.a"})),
        Just(json!({"x": 1})),
        Just(json!([1, 2])),
        Just(json!("A")),
        Just(json!(["States.ALL"])),
    ]
}

fn field() -> impl Strategy<Value = (String, Value)> {
    let names = prop::sample::select(vec![
        "Result",
        "ResultPath",
        "InputPath",
        "OutputPath",
        "Parameters",
        "ResultSelector",
        "Seconds",
        "SecondsPath",
        "Timestamp",
        "TimestampPath",
        "Error",
        "Cause",
        "ErrorPath",
        "CausePath",
        "ItemsPath",
        "ItemSelector",
        "MaxConcurrency",
        "TimeoutSeconds",
        "HeartbeatSeconds",
        "Assign",
        "Default",
        "ToleratedFailureCount",
    ]);
    (names, scalar()).prop_map(|(n, v)| (n.to_owned(), v))
}

fn inner_graph() -> Value {
    json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"v.$": "$"}, "End": true}}})
}

fn state() -> impl Strategy<Value = Value> {
    let ty = prop::sample::select(vec![
        "Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map",
    ]);
    let next = prop::option::of(prop::sample::select(NAMES.to_vec()));
    let choice_op = prop::sample::select(vec![
        "NumericEquals",
        "StringEquals",
        "IsPresent",
        "BooleanEquals",
        "TimestampLessThan",
        "StringMatches",
        "NumericLessThanPath",
        "IsNull",
    ]);
    (
        ty,
        next,
        prop::collection::vec(field(), 0..4),
        choice_op,
        scalar(),
        any::<bool>(),
    )
        .prop_map(|(ty, next, fields, op, operand, retry)| {
            let mut s = Map::new();
            s.insert("Type".into(), ty.into());
            match ty {
                "Choice" => {
                    s.insert(
                        "Choices".into(),
                        json!([{"Variable": "$.a", op: operand, "Next": next.unwrap_or("A")}]),
                    );
                }
                "Succeed" | "Fail" => {}
                _ => match next {
                    Some(n) => {
                        s.insert("Next".into(), n.into());
                    }
                    None => {
                        s.insert("End".into(), true.into());
                    }
                },
            }
            match ty {
                "Task" => {
                    s.insert("Resource".into(), "arn:aws:states:::lambda:invoke".into());
                }
                "Wait" => {
                    s.insert("Seconds".into(), 5.into());
                }
                "Parallel" => {
                    s.insert("Branches".into(), json!([inner_graph(), inner_graph()]));
                }
                "Map" => {
                    s.insert("ItemProcessor".into(), inner_graph());
                    s.insert("ItemsPath".into(), "$.xs".into());
                }
                _ => {}
            }
            if retry && matches!(ty, "Task" | "Parallel" | "Map") {
                s.insert(
                    "Retry".into(),
                    json!([{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2}]),
                );
                s.insert(
                    "Catch".into(),
                    json!([{"ErrorEquals": ["States.ALL"], "Next": "A", "ResultPath": "$.err"}]),
                );
            }
            for (k, v) in fields {
                s.insert(k, v);
            }
            Value::Object(s)
        })
}

fn definition() -> impl Strategy<Value = Value> {
    prop::collection::vec(state(), 1..=4).prop_map(|states| {
        let mut m = Map::new();
        for (name, st) in NAMES.iter().zip(states) {
            m.insert((*name).to_owned(), st);
        }
        json!({"StartAt": "A", "States": m})
    })
}

fn answer() -> impl Strategy<Value = ScriptedResult> {
    prop_oneof![
        scalar().prop_map(|v| ScriptedResult {
            state: None,
            result: Some(v),
            error: None,
            cause: None,
            event: None
        }),
        Just(ScriptedResult {
            state: None,
            result: None,
            error: Some("Boom".into()),
            cause: None,
            event: None
        }),
        Just(ScriptedResult {
            state: None,
            result: None,
            error: Some("States.Timeout".into()),
            cause: None,
            event: None
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_definitions_load_and_run_without_panicking(
        def in definition(),
        input in prop_oneof![Just(json!({"a": 1, "xs": [1, 2]})), Just(json!({})), Just(json!([]))],
        answers in prop::collection::vec(answer(), 0..4),
    ) {
        if let Ok(machine) = Machine::load(&def) {
            let config = ExecutionConfig { max_events: 2_000, ..ExecutionConfig::default() };
            let mut exec = Execution::start(Arc::new(machine), input, config);
            let mut handler = ScriptedTaskHandler::new(answers);
            exec.run_to_completion(&mut handler);
            let _ = exec.history_json();
            let snapshot = serde_json::to_value(exec.snapshot()).unwrap();
            prop_assert!(snapshot.is_object());
        }
    }

    #[test]
    fn arbitrary_json_never_panics_the_loader(v in scalar(), w in scalar()) {
        let _ = Machine::load(&json!({"StartAt": v, "States": {"A": w}}));
        let _ = Machine::load(&v);
    }
}
