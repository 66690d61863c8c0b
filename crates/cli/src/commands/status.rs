//! `approvalc status RUN`: the stage tree of a local run with each stage's decision, who took
//! it and when, what is pending and who may act. Brings the run's clock to now first, so
//! timeouts that fell due meanwhile have fired.

use serde_json::json;

use crate::Exit;
use crate::commands::run::{StateArgs, now_ms};
use crate::commands::simulate::{local_error, print_report};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run id (`approvalc runs` lists them).
    #[arg(value_name = "RUN")]
    run: String,
    #[command(flatten)]
    state: StateArgs,
    /// Print the run as JSON (with the pending requests).
    #[arg(long)]
    json: bool,
    /// Also print the handler invocations (callbacks, cleanup) and their reports.
    #[arg(long)]
    events: bool,
}

pub fn run(args: Args) -> miette::Result<Exit> {
    let mut store = match args.state.open() {
        Ok(s) => s,
        Err(exit) => return Ok(exit),
    };
    let result = store.update(&args.run, now_ms(), |world| {
        Ok((
            world.deployment().clone(),
            world.pending(),
            world.handler_calls().to_vec(),
        ))
    });
    let ((deployment, pending, calls), report) = match result {
        Ok(done) => done,
        Err(e) => return Ok(local_error(&e)),
    };
    if args.json {
        let mut value = report.to_json();
        value["pending"] = serde_json::to_value(&pending).unwrap_or_default();
        if args.events {
            value["handler_calls"] = serde_json::to_value(&calls).unwrap_or_default();
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
        return Ok(Exit::Success);
    }
    print_report(&report, &deployment, false);
    for p in &pending {
        let expires = p
            .expires_ms
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|t| t.to_rfc3339())
            .unwrap_or_default();
        println!(
            "pending: {} ({} {}, {} attempt) until {expires}: {} of {}",
            p.stage,
            p.kind,
            p.account,
            p.attempt,
            p.min_approvals.saturating_sub(p.decided_by.len()).max(1),
            p.may_act.join(", ")
        );
    }
    if args.events {
        for c in &calls {
            println!(
                "{} {} {}: {}",
                c.at_ms,
                c.account_id,
                c.function,
                json!(c.report)
            );
        }
    }
    Ok(Exit::Success)
}
