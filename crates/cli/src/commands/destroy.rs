//! `approvalc destroy FILE`: deletes what `approvalc deploy` created for this workflow —
//! exactly the resources carrying its `approvalc:workflow` tag — and nothing else. The
//! bootstrap stack stays (other workflows use it).

use std::path::PathBuf;

use crate::Exit;
use crate::commands::aws::{self, ConnectArgs, Format};
use crate::commands::deploy::progress;
use crate::commands::plan::print_plan;

const AFTER_HELP: &str = "\
Runs still waiting on a deleted parent cannot finish; stop them first (`approvalc runs --aws
FILE`). The per-account bootstrap stack is left alone; delete it with CloudFormation when no
workflow uses the account any more.

Examples:
  approvalc destroy workflows/multi-level-cross-account.yaml --dry-run
  approvalc destroy workflows/multi-level-cross-account.yaml";

#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP, before_long_help = aws::CONNECT_HELP)]
pub struct Args {
    /// Workflow file, or a directory written by `approvalc compile`.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Only show what would be deleted.
    #[arg(long)]
    pub dry_run: bool,
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
    let dry_run = args.dry_run;
    let plan = match aws::with_deployer(&loaded, &args.connect, args.stats, async |deployer| {
        let plan = deployer.plan_destroy().await?;
        if !dry_run {
            deployer.apply(&plan, &progress).await?;
        }
        Ok(plan)
    }) {
        Ok(p) => p,
        Err(exit) => return Ok(exit),
    };
    match args.format {
        Format::Json => aws::print_json(&plan),
        Format::Text if args.dry_run => print_plan(&plan),
        Format::Text => eprintln!(
            "{}: destroyed {} resource(s)",
            plan.workflow,
            plan.changes.len()
        ),
    }
    Ok(Exit::Success)
}
