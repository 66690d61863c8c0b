//! `approvalc approve RUN STAGE --as PRINCIPAL [--comment TEXT]` and `approvalc reject …`:
//! the approver's side of a local run — `SendAutomationSignal` for SSM stages,
//! `PutApprovalResult` for CodePipeline stages. Only the principals the stage lists may
//! decide; the runtime's callback handlers then decide what the decision means (separation
//! of duties included), as on AWS.

use approvalc_local::Verdict;

use crate::Exit;
use crate::commands::run::{StateArgs, now_ms};
use crate::commands::simulate::{local_error, print_report};

const AFTER_HELP: &str = "\
`approvalc status RUN` shows what is pending and who may act. Two commands deciding the same
run at once take turns; the second sees the first's decision.

Exit status: 0 the decision was taken, 1 it was refused (nothing pending, not an approver,
already decided), 2 a store error.

Examples:
  approvalc approve release-prod-20260101-120000-1a2b team-lead --as arn:aws:iam::111111111111:role/TeamLead
  approvalc reject RUN qa --as arn:aws:iam::222222222222:user/qa-oncall --comment \"tests fail\"";

#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// The run id (`approvalc runs` lists them).
    #[arg(value_name = "RUN")]
    run: String,
    /// The stage to decide.
    #[arg(value_name = "STAGE")]
    stage: String,
    /// Who decides: one of the stage's approvers.
    #[arg(long = "as", value_name = "PRINCIPAL")]
    principal: String,
    /// Comment recorded with the decision.
    #[arg(long)]
    comment: Option<String>,
    #[command(flatten)]
    state: StateArgs,
    /// Print the run as JSON afterwards.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args, verdict: Verdict) -> miette::Result<Exit> {
    let mut store = match args.state.open() {
        Ok(s) => s,
        Err(exit) => return Ok(exit),
    };
    let now = now_ms();
    let (stage, principal, comment) = (
        args.stage.clone(),
        args.principal.clone(),
        args.comment.clone(),
    );
    let result = store.update(&args.run, now, |world| {
        world.decide(&stage, verdict, &principal, comment.clone())?;
        Ok(world.deployment().clone())
    });
    let (deployment, report) = match result {
        Ok(done) => done,
        Err(e) => return Ok(local_error(&e)),
    };
    let word = match verdict {
        Verdict::Approve => "approve",
        Verdict::Reject => "reject",
    };
    if let Err(e) = store.log_decision(
        &args.run,
        now,
        &args.stage,
        &args.principal,
        word,
        args.comment.as_deref(),
    ) {
        eprintln!("warning: the decision was taken but not written to the audit table: {e}");
    }
    eprintln!(
        "{word}: {} of run {} by {}",
        args.stage, args.run, args.principal
    );
    print_report(&report, &deployment, args.json);
    Ok(Exit::Success)
}
