//! `approvalc runs`: the local runs in the store, newest first.

use crate::Exit;
use crate::commands::run::StateArgs;
use crate::commands::simulate::local_error;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    state: StateArgs,
    /// Print the list as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> miette::Result<Exit> {
    let store = match args.state.open() {
        Ok(s) => s,
        Err(exit) => return Ok(exit),
    };
    let rows = match store.list() {
        Ok(rows) => rows,
        Err(e) => return Ok(local_error(&e)),
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        );
        return Ok(Exit::Success);
    }
    if rows.is_empty() {
        eprintln!("no runs in {}", store.path().display());
    }
    for r in rows {
        let created = chrono::DateTime::from_timestamp_millis(r.created_ms)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default();
        println!(
            "{:<45} {:<20} {:<10} {:<9} {created}",
            r.id,
            r.workflow,
            r.status,
            r.decision.as_deref().unwrap_or("-")
        );
    }
    Ok(Exit::Success)
}
