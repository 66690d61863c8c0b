//! `approvalc plan FILE`: per account and resource, what `approvalc deploy` would do —
//! create, update (with a diff live → desired), unchanged, delete (owned by this workflow
//! but no longer in it) or conflict (the name is taken by something approvalc did not
//! create) — read from the live state. Changes nothing.

use std::path::PathBuf;

use approvalc_deploy::plan::{Action, Plan};

use crate::Exit;
use crate::commands::aws::{self, ConnectArgs, Format};

const AFTER_HELP: &str = "\
Exit status: 0 the plan was read (changes or not), 1 a problem to fix (credentials, missing
bootstrap, a conflict is shown but is only an error for deploy), 2 an internal error.

Examples:
  approvalc plan workflows/multi-level-cross-account.yaml --profile operator
  approvalc plan out/release-prod --format json | jq '.changes[] | select(.action != \"unchanged\")'";

#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP, before_long_help = aws::CONNECT_HELP)]
pub struct Args {
    /// Workflow file, or a directory written by `approvalc compile`.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Print how many SDK calls each operation took (stderr).
    #[arg(long)]
    pub stats: bool,
}

pub fn run(args: Args) -> miette::Result<Exit> {
    let loaded = match aws::load(&args.file) {
        Ok(l) => l,
        Err(exit) => return Ok(exit),
    };
    let plan = match aws::with_deployer(&loaded, &args.connect, args.stats, async |deployer| {
        deployer.plan(true).await
    }) {
        Ok(p) => p,
        Err(exit) => return Ok(exit),
    };
    match args.format {
        Format::Json => aws::print_json(&plan),
        Format::Text => print_plan(&plan),
    }
    Ok(Exit::Success)
}

/// The plan as a table, diffs indented under their update.
pub fn print_plan(plan: &Plan) {
    println!("workflow {}", plan.workflow);
    for change in &plan.changes {
        let symbol = match change.action {
            Action::Create => "+",
            Action::Update { .. } => "~",
            Action::Unchanged => " ",
            Action::Delete => "-",
            Action::Conflict { .. } => "!",
        };
        println!(
            "{symbol} {:<10} {:<28} {:<14} {}",
            change.action.label(),
            change.account.to_string(),
            change.kind.label(),
            change.name
        );
        match &change.action {
            Action::Update { diff } => {
                for line in diff.lines() {
                    println!("      {line}");
                }
            }
            Action::Conflict { owner } => println!(
                "      the name is taken by {}; deploy will refuse",
                owner.as_deref().map_or_else(
                    || "something approvalc did not create".to_owned(),
                    |o| format!("workflow `{o}`")
                )
            ),
            _ => {}
        }
    }
    println!("{}", plan.counts());
}
