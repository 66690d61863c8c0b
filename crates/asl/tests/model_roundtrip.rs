//! The typed ASL model reads every JSONPath construct approvalc uses and writes it back
//! unchanged; canonical output is deterministic.

use approvalc_asl::model::{
    ChoiceRule, ChoiceState, Comparison, Condition, Credentials, Element, ErrorSource, Expr,
    FailState, Field, Payload, State, StateMachine, TaskState, Timeout, Transition,
    quote_intrinsic_string, to_canonical_json,
};
use serde_json::{Value, json};

fn round_trip(definition: &Value) -> Value {
    let machine: StateMachine = serde_json::from_value(definition.clone()).expect("parses");
    assert!(
        machine.check_graph().is_empty(),
        "{:?}",
        machine.check_graph()
    );
    let text = to_canonical_json(&machine).expect("serialises");
    serde_json::from_str(&text).expect("valid JSON")
}

#[test]
fn every_state_type_round_trips() {
    let definition = json!({
        "Comment": "all states",
        "StartAt": "Check",
        "States": {
            "Check": {
                "Type": "Choice",
                "Choices": [
                    {"And": [
                        {"Variable": "$.input.risk", "IsPresent": true},
                        {"Variable": "$.input.risk", "StringEquals": "high"}
                    ], "Next": "Run"},
                    {"Not": {"Variable": "$.n", "NumericGreaterThanEquals": 3}, "Next": "Wait"},
                    {"Or": [{"Variable": "$.b", "BooleanEquals": true},
                            {"Variable": "$.s", "StringEqualsPath": "$.t"}], "Next": "Run"}
                ],
                "Default": "Nope"
            },
            "Wait": {"Type": "Wait", "SecondsPath": "$.delay", "Next": "Run"},
            "Run": {
                "Type": "Task",
                "Resource": "arn:aws:states:::states:startExecution.sync:2",
                "Credentials": {"RoleArn": "arn:aws:iam::222222222222:role/x"},
                "Parameters": {
                    "StateMachineArn": "arn:aws:states:us-east-1:222222222222:stateMachine:c",
                    "Name.$": "States.UUID()",
                    "Input": {
                        "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id",
                        "list": [1, {"a.$": "$.a"}, "x"],
                        "static": {"k": "v"}
                    }
                },
                "ResultSelector": {"out.$": "$.Output"},
                "ResultPath": "$.result",
                "TimeoutSeconds": 600,
                "HeartbeatSecondsPath": "$.hb",
                "Retry": [{"ErrorEquals": ["States.Timeout"], "IntervalSeconds": 2, "MaxAttempts": 3, "BackoffRate": 2}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Nope"}],
                "Next": "Fan"
            },
            "Fan": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": {"x": 1}, "ResultPath": null, "End": true}}},
                    {"StartAt": "B", "States": {"B": {"Type": "Succeed"}}}
                ],
                "ResultSelector": {"merged.$": "States.JsonMerge($[0], $[1], false)"},
                "Next": "Each"
            },
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemSelector": {"item.$": "$$.Map.Item.Value"},
                "MaxConcurrency": 2,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "I",
                    "States": {"I": {"Type": "Pass", "End": true}}
                },
                "End": true
            },
            "Nope": {"Type": "Fail", "Error": "Approval.Rejected", "CausePath": "States.JsonToString($.stages)"}
        },
        "TimeoutSeconds": 3600
    });
    assert_eq!(round_trip(&definition), definition);
}

#[test]
fn built_machine_serialises_canonically() {
    let mut states = indexmap::IndexMap::new();
    let mut task = TaskState::new(
        "arn:aws:states:::states:startExecution.sync:2",
        Transition::next("Decide"),
    );
    task.credentials = Some(Credentials::RoleArn("arn:aws:iam::1:role/r".into()));
    task.parameters = Some(
        Payload::new()
            .with_str("StateMachineArn", "arn")
            .with_intrinsic("Name", "States.UUID()")
            .with(
                "Input",
                Field::Object(
                    Payload::new()
                        .with_path("run", "$.run")
                        .with("list", Field::List(vec![Element::Static(json!(1))])),
                ),
            ),
    );
    task.timeout = Some(Timeout::Seconds(60));
    states.insert("Run".to_owned(), State::Task(Box::new(task)));
    states.insert(
        "Decide".to_owned(),
        State::Choice(ChoiceState::new(
            vec![ChoiceRule {
                condition: Condition::test("$.d", Comparison::StringEquals("approved".into())),
                next: "Done".into(),
            }],
            Some("Rejected".into()),
        )),
    );
    states.insert(
        "Rejected".to_owned(),
        State::Fail(FailState {
            comment: None,
            error: Some(ErrorSource::Text("Approval.Rejected".into())),
            cause: Some(ErrorSource::Path("$.why".into())),
        }),
    );
    states.insert("Done".to_owned(), State::Succeed(Default::default()));
    let machine = StateMachine::new("Run", states);
    let first = to_canonical_json(&machine).unwrap();
    let second = to_canonical_json(&machine.clone()).unwrap();
    assert_eq!(first, second);
    assert!(first.ends_with("}\n"));
    let value: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(
        value["States"]["Run"]["Parameters"]["Name.$"],
        "States.UUID()"
    );
    assert_eq!(
        value["States"]["Run"]["Parameters"]["Input"]["run.$"],
        "$.run"
    );
    assert_eq!(value["States"]["Run"]["TimeoutSeconds"], 60);
    assert_eq!(value["States"]["Rejected"]["CausePath"], "$.why");
    // Keys come out in model order: Type first.
    assert!(first.find("\"Type\": \"Task\"").unwrap() < first.find("\"Resource\"").unwrap());
    assert_eq!(round_trip(&value), value);
}

#[test]
fn payload_rejects_key_with_and_without_dollar() {
    let bad = json!({"StartAt": "P", "States": {"P": {"Type": "Pass",
        "Parameters": {"a": 1, "a.$": "$.x"}, "End": true}}});
    assert!(serde_json::from_value::<StateMachine>(bad).is_err());
}

#[test]
fn transition_needs_next_or_end() {
    let bad = json!({"StartAt": "P", "States": {"P": {"Type": "Pass"}}});
    assert!(serde_json::from_value::<StateMachine>(bad).is_err());
    let both = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Next": "P", "End": true}}});
    assert!(serde_json::from_value::<StateMachine>(both).is_err());
}

#[test]
fn graph_check_finds_unknown_targets_and_unreachable_states() {
    let bad = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "Missing"},
        "B": {"Type": "Succeed"}
    }});
    let machine: StateMachine = serde_json::from_value(bad).unwrap();
    let errors: Vec<String> = machine
        .check_graph()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(errors.iter().any(|e| e.contains("`Missing`")), "{errors:?}");
    assert!(
        errors.iter().any(|e| e.contains("`B` cannot be reached")),
        "{errors:?}"
    );
}

#[test]
fn intrinsic_strings_are_escaped() {
    assert_eq!(
        quote_intrinsic_string("it's {x} \\"),
        "'it\\'s \\{x\\} \\\\'"
    );
    assert_eq!(
        Expr::parse("States.UUID()"),
        Expr::Intrinsic("States.UUID()".into())
    );
    assert_eq!(Expr::parse("$.a"), Expr::Path("$.a".into()));
}
