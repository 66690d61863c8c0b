//! Rough per-operation timings of `approvalc_asl::eval`, the figures quoted in
//! `docs/asl-eval.md`. Run with `cargo run --release -p approvalc-asl --example eval_timing`.
//! Wall-clock loops, not a statistical benchmark: compare runs on the same machine only.

use std::hint::black_box;
use std::time::Instant;

use approvalc_asl::eval::{FixedEnv, Intrinsic, Path, PayloadTemplate, ReferencePath};
use serde_json::{Value, json};

fn time(label: &str, n: u32, mut f: impl FnMut()) {
    let start = Instant::now();
    for _ in 0..n {
        f();
    }
    let per = start.elapsed().as_secs_f64() * 1e9 / f64::from(n);
    println!("{label:55} {per:9.0} ns/op");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A state input of the size approvalc's machines pass around, plus some bulk.
    let input = json!({
        "request": {"id": "r-1", "approvers": ["a", "b", "c"],
                    "stage": {"name": "prod", "account": "111111111111"}},
        "results": [{"decision": "approve", "by": "a"}, {"decision": "reject", "by": "b"}],
        "bulk": (0..50).map(|i| json!({"k": i})).collect::<Vec<Value>>()
    });
    let context = json!({
        "Execution": {"Id": "arn:aws:states:us-east-1:111111111111:execution:m:e", "Name": "e"},
        "State": {"Name": "S"}, "Task": {"Token": "token"}
    });
    let mut env = FixedEnv::default();

    let definite = Path::parse("$.request.stage.account")?;
    time(
        "definite path select (clones the result)",
        1_000_000,
        || {
            black_box(definite.select(&input, &context).ok());
        },
    );
    time("definite path find (borrows)", 1_000_000, || {
        black_box(definite.find(&input, &context));
    });
    let filter = Path::parse("$.results[?(@.decision == 'approve')].by")?;
    time("filter path select", 200_000, || {
        black_box(filter.select(&input, &context).ok());
    });
    let result_path = ReferencePath::parse("$.taskresult.decision")?;
    time(
        "ResultPath insert, including cloning the input",
        100_000,
        || {
            black_box(result_path.insert(input.clone(), json!("x")).ok());
        },
    );
    time(
        "  cloning the input alone (for comparison)",
        100_000,
        || {
            black_box(input.clone());
        },
    );
    let template = PayloadTemplate::compile(&json!({
        "StateMachineArn": "arn:aws:states:us-east-1:111111111111:stateMachine:child",
        "Input": {
            "token.$": "$$.Task.Token",
            "id.$": "$.request.id",
            "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id",
            "message.$": "States.Format('Approve {} in {}', $.request.id, $.request.stage.name)",
            "approvers.$": "$.request.approvers"
        }
    }))?;
    time(
        "payload template: 5 dynamic keys, one States.Format",
        500_000,
        || {
            black_box(template.evaluate(&input, &context, &mut env).ok());
        },
    );
    let nested =
        Intrinsic::parse("States.ArrayGetItem(States.StringSplit($$.Execution.Id, ':'), 0)")?;
    time("nested intrinsic call", 500_000, || {
        black_box(nested.evaluate(&input, &context, &mut env).ok());
    });
    time(
        "Path::parse of a definite path (load time only)",
        200_000,
        || {
            black_box(Path::parse("$.request.stage.account").ok());
        },
    );
    Ok(())
}
