//! `approvalc deploy FILE`: plan, check that every account is bootstrapped, apply (roles,
//! then policies, pipelines, rules, the parent state machine; deletes last), verify that
//! every cross-account execute role trusts the parent with its ExternalId. Idempotent: a
//! second run changes nothing, and a run killed at any point converges when run again.

use std::path::PathBuf;

use approvalc_deploy::plan::{Action, Event};
use serde::Serialize;

use crate::Exit;
use crate::commands::aws::{self, ConnectArgs, Format};

const AFTER_HELP: &str = "\
Every resource is tagged approvalc:workflow (ownership) and approvalc:hash (what was last
applied); deploy never changes or deletes anything without its workflow's tag, and stops on
a name that someone else's resource already has.

Exit status: 0 deployed (or nothing to do), 1 a problem to fix (the message says how), 2 an
internal error.

Examples:
  approvalc bootstrap operator workflows/multi-level-cross-account.yaml
  approvalc deploy workflows/multi-level-cross-account.yaml
  approvalc deploy out/release-prod --endpoint-url http://127.0.0.1:5000 --stats";

#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP, before_long_help = aws::CONNECT_HELP)]
pub struct Args {
    /// Workflow file, or a directory written by `approvalc compile`.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Output format (json: the applied plan on stdout when done).
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Print how many SDK calls each operation took (stderr).
    #[arg(long)]
    pub stats: bool,
}

#[derive(Serialize)]
struct Summary<'a> {
    workflow: &'a str,
    counts: approvalc_deploy::plan::Counts,
    trust_verified: usize,
    changes: &'a [approvalc_deploy::Change],
}

pub fn run(args: Args) -> miette::Result<Exit> {
    let loaded = match aws::load(&args.file) {
        Ok(l) => l,
        Err(exit) => return Ok(exit),
    };
    let format = args.format;
    let done = aws::with_deployer(&loaded, &args.connect, args.stats, async |deployer| {
        let plan = deployer.plan(false).await?;
        if !plan.is_noop() {
            deployer.check_bootstrap().await?;
        }
        deployer.apply(&plan, &progress).await?;
        let verified = deployer.verify_trust(&plan).await?;
        Ok((plan, verified))
    });
    let (plan, verified) = match done {
        Ok(done) => done,
        Err(exit) => return Ok(exit),
    };
    match format {
        Format::Json => aws::print_json(&Summary {
            workflow: &plan.workflow,
            counts: plan.counts(),
            trust_verified: verified,
            changes: &plan.changes,
        }),
        Format::Text => {
            if plan.is_noop() {
                eprintln!(
                    "{}: up to date ({} resources unchanged)",
                    plan.workflow,
                    plan.changes.len()
                );
            } else {
                eprintln!("{}: deployed: {}", plan.workflow, plan.counts());
            }
            if verified > 0 {
                eprintln!("trust verified for {verified} cross-account execute role(s)");
            }
        }
    }
    Ok(Exit::Success)
}

/// One line per resource on stderr as it starts and finishes.
pub fn progress(event: Event<'_>) {
    match event {
        Event::Start(change) => eprintln!(
            "  {:<9} {} {} in {} ...",
            verb(&change.action),
            change.kind,
            change.name,
            change.account
        ),
        Event::Done(change, took) => eprintln!(
            "  {:<9} {} {} in {} ({} ms)",
            "done",
            change.kind,
            change.name,
            change.account,
            took.as_millis()
        ),
    }
}

fn verb(action: &Action) -> &'static str {
    match action {
        Action::Create => "creating",
        Action::Update { .. } => "updating",
        Action::Delete => "deleting",
        _ => "checking",
    }
}
