//! `approvalc status RUN`: the stage tree of a local run with each stage's decision, who took
//! it and when, what is pending, who may act and the exact command to act with. Timeouts
//! that fell due since the last command fire first; otherwise nothing is written.

use approvalc_local::Pending;
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
    /// Print the run as JSON (with the pending requests and the audit lines).
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
    let result = store.observe(&args.run, now_ms(), |world| {
        (
            world.deployment().clone(),
            world.pending(),
            world.handler_calls().to_vec(),
        )
    });
    let ((deployment, pending, calls), report) = match result {
        Ok(done) => done,
        Err(e) => return Ok(local_error(&e)),
    };
    let audit = match store.decisions(&args.run) {
        Ok(rows) => rows,
        Err(e) => return Ok(local_error(&e)),
    };
    if args.json {
        let mut value = report.to_detailed_json();
        value["pending"] = serde_json::to_value(&pending).unwrap_or_default();
        value["decisions"] = serde_json::to_value(&audit).unwrap_or_default();
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
        print!("{}", pending_text(p, &args.run, &args.state));
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

/// What a pending request waits for, and the commands that answer it.
fn pending_text(p: &Pending, run: &str, state: &StateArgs) -> String {
    let expires = p
        .expires_ms
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| format!(" until {}", t.to_rfc3339()))
        .unwrap_or_default();
    let mut out = format!(
        "pending: {} ({} in {}, {} attempt){expires}\n",
        p.stage, p.kind, p.account, p.attempt
    );
    if p.kind == "action" {
        out.push_str("  its automation is running; it completes by itself\n");
        return out;
    }
    let still = p.min_approvals.saturating_sub(p.decided_by.len()).max(1);
    out.push_str(&format!(
        "  needs {still} more approval(s); decide with one of:\n"
    ));
    let dir = state
        .state_dir
        .as_ref()
        .map(|d| format!(" --state-dir {}", shell_word(&d.display().to_string())))
        .unwrap_or_default();
    for who in &p.may_act {
        out.push_str(&format!(
            "    approvalc approve {run} {} --as {}{dir}\n",
            p.stage,
            shell_word(who)
        ));
    }
    if let Some(who) = p.may_act.first() {
        out.push_str(&format!(
            "    approvalc reject {run} {} --as {} --comment \"why\"{dir}\n",
            p.stage,
            shell_word(who)
        ));
    }
    out
}

/// Quotes a word for a POSIX shell when it holds anything but safe characters.
fn shell_word(word: &str) -> String {
    let safe = word
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./:@=+,".contains(c));
    if safe && !word.is_empty() {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}
