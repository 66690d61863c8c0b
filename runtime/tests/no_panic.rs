//! Property tests: no input makes a handler panic, and nothing but a well-formed event from
//! the expected source, detail type and account ever reaches a service.

mod common;

use approvalc_runtime::{Report, cleanup, codepipeline_callback, ssm_callback};
use common::*;
use proptest::prelude::*;
use serde_json::{Value, json};

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[ -~\\n\\u{e9}\\u{1F600}]{0,24}".prop_map(Value::String),
        Just(json!("aws.ssm")),
        Just(json!(ACCOUNT)),
        Just(json!(AUTOMATION_ID)),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z-]{1,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A documented fixture with one field (top level or in `detail`) replaced by anything.
fn mutated_fixture() -> impl Strategy<Value = Value> {
    let names = prop_oneof![
        Just("ssm-execution-success.json"),
        Just("codepipeline-approval-succeeded.json"),
        Just("states-ssm-child-aborted.json"),
    ];
    let keys = prop_oneof![
        Just("source"),
        Just("detail-type"),
        Just("account"),
        Just("detail"),
        Just("ExecutionId"),
        Just("Definition"),
        Just("Status"),
        Just("pipeline"),
        Just("execution-id"),
        Just("state"),
        Just("type"),
        Just("executionArn"),
        Just("stateMachineArn"),
        Just("name"),
        Just("status"),
    ];
    (names, keys, arb_json()).prop_map(|(name, key, value)| {
        let mut event = fixture(name);
        if event.get(key).is_some() {
            event[key] = value;
        } else if event["detail"].get(key).is_some() {
            event["detail"][key] = value;
        }
        event
    })
}

fn run_all(event: &Value) -> Vec<Report> {
    let w = World::new();
    w.with_ssm_approved_by_bob("");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let reports = rt.block_on(async {
        let mut out = Vec::new();
        out.extend(ssm_callback(w.ctx(), &w.ssm, event).await.ok());
        out.extend(
            codepipeline_callback(w.ctx(), &w.codepipeline, event)
                .await
                .ok(),
        );
        out.extend(cleanup(w.ctx(), &w.ssm, &w.codepipeline, event).await.ok());
        out
    });
    let source = event.get("source").and_then(Value::as_str);
    let account = event.get("account").and_then(Value::as_str);
    if account != Some(ACCOUNT)
        || !matches!(source, Some("aws.ssm" | "aws.codepipeline" | "aws.states"))
    {
        w.assert_untouched();
    }
    for r in &reports {
        serde_json::to_value(r).unwrap();
    }
    w.logs.assert_clean(&[]);
    reports
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_never_panics_or_reaches_a_service(event in arb_json()) {
        let reports = run_all(&event);
        prop_assert!(reports.iter().all(|r| matches!(r, Report::Ignored { .. })), "{reports:?}");
    }

    #[test]
    fn mutated_fixtures_never_panic(event in mutated_fixture()) {
        run_all(&event);
    }
}
